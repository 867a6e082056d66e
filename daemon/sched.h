/*
 * sched.h - which queued job to fetch next.
 *
 * The scheduler keeps, in memory, one entry per host that has ready jobs or
 * transfers in flight; the jobs themselves stay in LMDB (queue.c's ready
 * index is ordered by host, then priority).  Each loop turn the daemon asks
 * sched_plan() for leases: among the hosts that may start a request now
 * (under fetch.max_per_host, past fetch.host_delay, not backed off) it
 * takes the one whose best job has the highest priority, until
 * fetch.max_total is reached.  A slow or backed-off host therefore never
 * holds up the others, and no request waits inside libcurl, where waiting
 * would count against its timeout.
 *
 * Leases planned in a turn become real only when the turn commits
 * (sched_commit); an aborted turn forgets them (sched_abort).
 */
#ifndef SLUICE_SCHED_H
#define SLUICE_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

struct queue;
struct job;
struct robots;

/* What the scheduler knows of a host's robots.txt. */
enum sched_robots {
	SCHED_ROBOTS_UNKNOWN = 0,	/* look in the cache, else fetch */
	SCHED_ROBOTS_FETCHING,		/* a robots.txt request is out */
	SCHED_ROBOTS_KNOWN,		/* rules (or a policy) until expiry */
};

struct sched_host {
	uint64_t	 key;
	uint32_t	 inflight;	/* leased and not finished */
	uint32_t	 planned;	/* leased in this (uncommitted) turn */
	uint64_t	 next_start_ms;	/* politeness: no start before */
	uint64_t	 backoff_until_ms;
	uint64_t	 backoff_ms;	/* current backoff step, 0 = none */
	uint64_t	 delay_ms;	/* between starts (host_delay or
					   Crawl-delay) */
	int32_t		 head_prio;	/* cached best ready priority */
	bool		 head_valid;
	bool		 ready;		/* may have ready jobs in LMDB */
	enum sched_robots robots_state;
	int		 robots_policy;	/* enum robots_policy */
	struct robots	*robots;	/* parsed rules, or NULL */
	uint64_t	 robots_expires_ms;
	char		 robots_error[32];	/* why robots.txt is
						   unreachable: a job error
						   code, "" if it is not */
	char		 robots_why[160];
	struct sched_host *next;	/* hash chain */
};

struct sched {
	struct sched_host **buckets;
	uint32_t	 nbuckets;
	uint32_t	 nhosts;
	uint32_t	 inflight;	/* leased jobs not yet finished */
	uint32_t	 planned;
	/* limits, from the config */
	uint32_t	 max_total;
	uint32_t	 max_per_host;
	uint64_t	 host_delay_ms;
	bool		 respect_robots;
	/* Cluster mode: only hosts this returns true for may start. */
	bool		(*allow)(uint64_t host, void *arg);
	void		*allow_arg;
};

int sched_init(struct sched *s)
    __attribute__((warn_unused_result));
void sched_free(struct sched *s);
void sched_configure(struct sched *s, uint32_t max_total,
    uint32_t max_per_host, uint64_t host_delay_ms);

/* Returns the entry for host, creating it; NULL on ENOMEM. */
struct sched_host *sched_host(struct sched *s, uint64_t key);
/* Notes that host has a ready job of priority prio (submit, promote). */
void sched_ready(struct sched *s, uint64_t host, int32_t prio);
/* sched_ready() as the queue's callbacks want it (arg: the struct sched):
 * with the job's priority, and for a host with ready jobs at all. */
void sched_ready_cb(uint64_t host, int32_t prio, void *sched);
void sched_host_ready_cb(uint64_t host, void *sched);

/*
 * What sched_plan() asks of its caller.  robots(h) is called for a host
 * that may start but whose robots.txt is not known: it makes the rules
 * known (from the cache) or starts fetching them.  lease(h, job) receives
 * each leased job (the caller's to free with queue_job_free); it returns
 * false when the job is not to be fetched after all (robots.txt forbids
 * it), which gives the host's slot back.  Both return an LMDB error or 0
 * through *rc.
 */
struct sched_calls {
	void	(*robots)(struct sched_host *h, void *arg);
	bool	(*lease)(struct sched_host *h, struct job *j, void *arg);
	void	*arg;
	int	 rc;
};

/* Plans up to `room` leases in txn.  Returns 0 or an LMDB error. */
int sched_plan(struct sched *s, struct queue *q, MDB_txn *txn, uint64_t now,
    uint32_t room, struct sched_calls *calls);
/* Sets host h's robots.txt state (rules may be NULL; takes ownership). */
void sched_set_robots(struct sched_host *h, int policy, struct robots *rules,
    uint64_t expires_ms, uint64_t delay_ms);
struct sched_host *sched_find_host(struct sched *s, uint64_t key);
/* Walks every host entry. */
void sched_walk(struct sched *s, void (*fn)(struct sched_host *h, void *arg),
    void *arg);
void sched_commit(struct sched *s, uint64_t now);
/* Forgets the planned leases and marks every host as maybe ready: the
 * aborted transaction may have put back jobs the plan had taken. */
void sched_abort(struct sched *s);

/* A leased job of host gave back its slot: its page came back from a
 * worker, or its failure was committed. */
void sched_finished(struct sched *s, uint64_t host);
/* A leased transfer to host has really started: the next start waits for
 * the host's delay from now, whenever its commit let it start. */
void sched_started(struct sched *s, uint64_t host, uint64_t now);

/*
 * Pauses host after a 429/503/connection failure.  With a Retry-After
 * (retry_after_ms >= 0) the pause is exactly that, clamped to
 * [fetch.host_delay, max_ms] (max_ms wins a conflict), so a short one is
 * not stretched to min_ms and a huge one parks the host no longer than
 * max_ms.  Without one it is the backoff step, which doubles from min_ms
 * up to max_ms, +-10% jitter.  The step advances either way, so a host
 * that keeps failing backs off further once it stops sending Retry-After;
 * sched_host_ok() resets it after a success.  queue_fail() gives the
 * failed job the same Retry-After delay (queue_set_retry_after_bounds).
 */
void sched_backoff(struct sched *s, uint64_t host, int64_t retry_after_ms,
    uint64_t min_ms, uint64_t max_ms, uint64_t now);
void sched_host_ok(struct sched *s, uint64_t host);

/* Milliseconds until a host with ready jobs may start (0 = now), or -1 if
 * no host with ready jobs is waiting on time alone. */
int64_t sched_next_wakeup(const struct sched *s, uint64_t now);

#endif
