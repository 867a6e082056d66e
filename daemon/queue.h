/*
 * queue.h - the durable job queue, stored in LMDB.
 *
 * Every function that changes the queue works inside the caller's write
 * transaction (the loop turn's), and reports LMDB errors as their codes so
 * that MDB_MAP_FULL reaches the turn, which grows the map and replays the
 * turn.  Nothing here keeps state that an aborted transaction would leave
 * wrong, except the counts snapshot that queue_turn_begin/abort restore.
 *
 * Databases:
 *   jobs     id (be64)                          -> job record
 *   urls     the canonical URL (long ones: a     -> id (be64)
 *            prefix plus a hash, see queue.c)
 *   ready    host (be64) ~prio (be32) id (be64)  -> ""   queued, due now
 *   delayed  due_ms (be64) id (be64)            -> ""   queued, due later
 *   active   id (be64)                          -> ""   leased
 *   failed   id (be64)                          -> ""   for retry --failed
 *   hosts    host (be64)                        -> jobs per state + origin
 *
 * The intake.  With an index backlog (queue_set_backlog), a new submission
 * writes only its job record, appended to jobs, and stays "unindexed": its
 * URL is found through an in-memory table (intake.h), and it joins
 * urls, ready or delayed and its host's record when queue_index() runs, in
 * a later turn and in bulk.  A commit that answers clients then touches a
 * few appended pages instead of a B-tree leaf per URL in three trees.  The
 * ids of unindexed jobs are the range [index_from, next_id); the counter
 * "unindexed" keeps its length across restarts, and queue_index() at start
 * finishes what a crash left.  Every change other than a submission indexes
 * the whole backlog first, so only the intake knows unindexed jobs.  A
 * large intake is indexed as a generation, its URLs put in key order over
 * several turns and then its jobs indexed host by host (queue.c).
 *
 * Job lifecycle: queued -> active -> done | failed | cancelled; a retryable
 * failure goes back to queued with a due time, until queue.max_attempts.
 * A cluster mode would put another store behind this same interface; the
 * policy (retries, backoff, dedup by URL) stays here.
 */
#ifndef SLUICE_QUEUE_H
#define SLUICE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "intake.h"

struct store;
struct queue_gen_url;

enum job_state {
	JOB_QUEUED = 0,
	JOB_ACTIVE,
	JOB_DONE,
	JOB_FAILED,
	JOB_CANCELLED,
	JOB_NSTATES
};

#define JOB_ERROR_CODE_MAX	32
#define JOB_ERROR_MSG_MAX	512
#define QUEUE_PRIORITY_MIN	(-1000)
#define QUEUE_PRIORITY_MAX	1000
#define QUEUE_MAX_HOPS		64	/* redirects remembered per job */

struct job {
	uint64_t	 id;
	enum job_state	 state;
	int32_t		 priority;
	uint32_t	 attempts;	/* leases so far */
	uint32_t	 http_status;	/* last response's, 0 if none */
	uint64_t	 host;		/* per-host key of the current hop */
	uint64_t	 url_host;	/* per-host key of url itself */
	uint64_t	 created_ms;
	uint64_t	 updated_ms;
	uint64_t	 not_before_ms;	/* 0 = any time */
	uint64_t	 finished_ms;	/* done/failed/cancelled, else 0 */
	uint64_t	 doc_id;	/* 0 = none */
	char		 error_code[JOB_ERROR_CODE_MAX]; /* "" = none */
	char		*error_msg;	/* NULL = none */
	char		*url;		/* canonical, as submitted */
	char		*fetch_url;	/* after redirects; NULL = url */
	uint32_t	 hops;		/* redirects taken */
	uint64_t	 visited[QUEUE_MAX_HOPS]; /* hashes of hop URLs */
};

/* Job counts per state plus running totals, as kept in the meta db. */
struct queue_counts {
	uint64_t	 state[JOB_NSTATES];
	uint64_t	 submitted;
	uint64_t	 fetched;	/* responses stored (done) */
	uint64_t	 failed;	/* jobs that ended failed */
	uint64_t	 bytes;		/* body bytes fetched */
	uint64_t	 not_modified;
	uint64_t	 dup_url, dup_exact, dup_near;
	uint64_t	 retried;	/* failed attempts sent back to queued */
	uint64_t	 dup_submit;	/* URLs answered duplicate at submit */
};

typedef void (*queue_ready_fn)(uint64_t host, int32_t prio, void *arg);

struct queue {
	struct store	*store;
	MDB_dbi		 jobs, urls, ready, delayed, active, failed, hosts;
	uint64_t	 next_id;
	struct queue_counts counts;	/* mirrors the meta db */
	struct queue_counts saved;	/* at queue_turn_begin */
	uint64_t	 saved_next_id;
	uint64_t	 index_from;	/* first unindexed id */
	uint64_t	 saved_index_from;
	struct intake	 intake;
	/* The generation being indexed (queue.c): the unindexed jobs below
	 * gen.to, whose URLs enter urls in key order over several turns,
	 * and which then join their other indexes host by host. */
	struct {
		uint64_t	 to;		/* 0: none */
		uint64_t	 n, pos;	/* URL keys, and those put */
		uint64_t	 done;		/* jobs indexed */
		bool		 by_host;	/* url sorted for the jobs */
		bool		 finished;	/* freed by the next turn */
		struct queue_gen_url *url;	/* by key, then by host */
		unsigned char	*keys;		/* the keys, end to end */
	}		 gen;
	uint64_t	 saved_gen_to, saved_gen_pos, saved_gen_done;
	uint64_t	 damaged;	/* damaged job records passed by (a
					   rolled-back turn may count one
					   twice): the daemon logs it */
	queue_ready_fn	 on_ready;	/* a job became ready to lease */
	void		*on_ready_arg;
	/* A job ended (done, failed, cancelled) in the open transaction:
	 * cluster mode acknowledges its message after the commit. */
	void		(*on_finished)(uint64_t id, void *arg);
	void		*on_finished_arg;
	/* policy, from the config */
	uint64_t	 backlog;	/* unindexed jobs allowed; 0 = none */
	uint32_t	 max_attempts;
	uint64_t	 retry_base_ms;
	uint64_t	 retry_max_ms;
	uint64_t	 retry_after_min_ms;	/* fetch.host_delay */
	uint64_t	 retry_after_max_ms;	/* fetch.host_backoff_max */
};

/* Opens the databases and loads the counters.  0 or an LMDB error. */
int queue_open(struct queue *q, struct store *s);
void queue_set_policy(struct queue *q, uint32_t max_attempts,
    uint64_t retry_base_ms, uint64_t retry_max_ms);
/* The bounds of a Retry-After that sets a job's next attempt (see
 * queue_fail): fetch.host_delay and fetch.host_backoff_max, the same that
 * clamp the host's pause in sched_backoff().  When min_ms > max_ms, max_ms
 * wins.  Until called: 1 s and 24 h, the defaults of those two keys. */
void queue_set_retry_after_bounds(struct queue *q, uint64_t min_ms,
    uint64_t max_ms);

/* Frees the intake's memory. */
void queue_close(struct queue *q);
/* fn(host, prio, arg) hears of every job that becomes ready through a
 * submission or queue_index() (other transitions are the caller's). */
void queue_set_notify(struct queue *q, queue_ready_fn fn, void *arg);
/* Submissions that may wait unindexed (queue.index_backlog); 0 indexes
 * each submission in its own transaction. */
void queue_set_backlog(struct queue *q, uint64_t backlog);

/* Snapshot the in-memory mirror before a turn; restore it on abort. */
void queue_turn_begin(struct queue *q);
void queue_turn_abort(struct queue *q);
/* Writes the counters into txn (call last in the turn). */
int queue_turn_flush(struct queue *q, MDB_txn *txn);

enum submit_status {
	SUBMIT_QUEUED,		/* a new job */
	SUBMIT_DUPLICATE,	/* known URL, existing job returned */
	SUBMIT_REQUEUED,	/* known URL, --force put it back in the queue */
};

struct submit_result {
	enum submit_status status;
	uint64_t	 id;
	enum job_state	 state;	/* of the existing job, for duplicates */
};

/*
 * Adds a job for canonical URL url with host key host, or finds the
 * existing one.  With force, a finished job goes back to queued.
 */
int queue_submit(struct queue *q, MDB_txn *txn, const char *url,
    uint64_t host, const char *origin, int32_t priority,
    uint64_t not_before_ms, bool force, uint64_t now,
    struct submit_result *r);

/* Jobs submitted but not indexed yet. */
uint64_t queue_unindexed(const struct queue *q);
/*
 * Indexes unindexed jobs: their URLs, ready or delayed entries and host
 * counts.  Takes up to limit steps of the generation (queue.c), which
 * begins here when the intake is large enough, or else indexes up to limit
 * jobs, oldest first; UINT64_MAX indexes them all.  *n (if not NULL)
 * counts the jobs indexed.
 */
int queue_index(struct queue *q, MDB_txn *txn, uint64_t limit, uint64_t now,
    uint64_t *n);

/* Reads job id.  MDB_NOTFOUND if absent.  Free with queue_job_free. */
int queue_get(struct queue *q, MDB_txn *txn, uint64_t id, struct job *j);
/* Looks a job up by canonical URL. */
int queue_find_url(struct queue *q, MDB_txn *txn, const char *url,
    uint64_t *id);
void queue_job_free(struct job *j);
/* Makes url another name of job id (a page's canonical URL), unless the
 * URL is known already.  0 or an LMDB error. */
int queue_alias_url(struct queue *q, MDB_txn *txn, const char *url,
    uint64_t id);

/*
 * Moves delayed jobs that are due by now to the ready index.  For each
 * moved job calls fn(host, priority, arg).  *next_due is set to the next
 * delayed due time, or 0 if none.
 */
int queue_promote(struct queue *q, MDB_txn *txn, uint64_t now,
    void (*fn)(uint64_t host, int32_t prio, void *arg), void *arg,
    uint64_t *next_due);

/* The highest-priority ready job of host: MDB_NOTFOUND if none. */
int queue_peek(struct queue *q, MDB_txn *txn, uint64_t host,
    int32_t *priority, uint64_t *id);
/* Leases job id (from queue_peek): queued -> active, attempts + 1. */
int queue_lease(struct queue *q, MDB_txn *txn, uint64_t id, uint64_t now,
    struct job *j);

/* active -> done, recording the document id and HTTP status. */
int queue_done(struct queue *q, MDB_txn *txn, uint64_t id, uint64_t doc_id,
    uint32_t http_status, uint64_t now);

struct job_failure {
	const char	*code;		/* job error code ("timeout", ...) */
	const char	*message;
	uint32_t	 http_status;
	bool		 retryable;
	int64_t		 retry_after_ms;	/* server's wish, -1 if none */
};

/*
 * Records a failed attempt of an active job.  A retryable failure with
 * attempts left goes back to queued, due after a delay; otherwise the job
 * ends failed.  *requeued tells.  The delay:
 *   - a 429 or 503 with Retry-After (retry_after_ms >= 0): exactly that
 *     value, clamped to the Retry-After bounds (queue_set_retry_after_
 *     bounds), without jitter: the server's word, the same as the host's
 *     pause, so the job is due when its host may start again;
 *   - otherwise: exponential from queue.retry_base (doubled per attempt,
 *     +-20% jitter, capped at queue.retry_max); a Retry-After on another
 *     status still wins when longer.
 */
int queue_fail(struct queue *q, MDB_txn *txn, uint64_t id,
    const struct job_failure *f, uint64_t now, bool *requeued);

enum redirect_outcome {
	REDIRECT_QUEUED,	/* requeued for the target (a new host) */
	REDIRECT_LOOP,		/* the target was visited already */
	REDIRECT_TOO_MANY,	/* over max_hops */
};

/*
 * Moves an active job to the target of a redirect: it goes back to the
 * queue under the target's host, so that the target's robots.txt, politeness
 * and backoff apply to the hop like to any fetch.  The attempt is not
 * counted again.  A loop or too many hops leaves the job active and says so
 * in *outcome (the caller then fails it).
 */
int queue_redirect(struct queue *q, MDB_txn *txn, uint64_t id,
    const char *target, uint64_t host, const char *origin, uint32_t max_hops,
    uint64_t now, enum redirect_outcome *outcome);

/* queued/active -> cancelled.  MDB_KEYEXIST if already finished. */
int queue_cancel(struct queue *q, MDB_txn *txn, uint64_t id, uint64_t now);
/* The same in cluster mode, error code "moved": the job's partition went
 * to another node (target NULL), or it was redirected to target, in a
 * partition another node owns, to which the job was handed over
 * (cluster_redirected).  A frontier message for its URL queues it again. */
int queue_cancel_moved(struct queue *q, MDB_txn *txn, uint64_t id,
    const char *target, uint64_t now);
/*
 * A queued job that has taken no redirect yet starts at a hop: fetch_url
 * target under host, with the hashes of the nvisited (1 to
 * QUEUE_MAX_HOPS) hop URLs taken before, target's last.  The cluster's
 * way to take over a redirect another node met.  MDB_KEYEXIST if the
 * job is not such a job.
 */
int queue_hop(struct queue *q, MDB_txn *txn, uint64_t id, const char *target,
    uint64_t host, const char *origin, const uint64_t *visited,
    uint32_t nvisited, uint64_t now);
/* failed/cancelled -> queued, attempts reset.  MDB_KEYEXIST otherwise. */
int queue_retry(struct queue *q, MDB_txn *txn, uint64_t id, uint64_t now);
/* Every failed job -> queued; *n counts them. */
int queue_retry_failed(struct queue *q, MDB_txn *txn, uint64_t now,
    uint64_t *n);

/* After a crash: every active job goes back to queued (attempts kept). */
int queue_recover(struct queue *q, MDB_txn *txn, uint64_t *n);

/*
 * Walks jobs in id order from after_id, calling fn for each one in state
 * (or any state if state < 0) until fn returns nonzero or limit is hit.
 * A damaged record is passed by (sluiced --check names it): one flipped
 * byte must not stop every walk.
 */
int queue_walk(struct queue *q, MDB_txn *txn, uint64_t after_id, int state,
    int (*fn)(const struct job *j, void *arg), void *arg);

struct host_record {
	uint64_t	 host;
	uint64_t	 jobs[JOB_NSTATES];
	const char	*origin;	/* valid during the callback */
};

/* Walks the host records from after host `after` (0 = start). */
int queue_walk_hosts(struct queue *q, MDB_txn *txn, uint64_t after,
    int (*fn)(const struct host_record *h, void *arg), void *arg);
/* Reads one host's origin ("https://example.org:443"); caller frees. */
int queue_host_origin(struct queue *q, MDB_txn *txn, uint64_t host,
    char **origin);

/* Walks the hosts that have ready jobs: fn(host, arg) once per host. */
int queue_ready_hosts(struct queue *q, MDB_txn *txn,
    void (*fn)(uint64_t host, void *arg), void *arg);

/*
 * sluiced --check: every job record's checksum, every job in the index of
 * its state and its URL in urls, every index entry's job in that state,
 * the state counts.  Calls fn once per problem with a line naming it;
 * *jobs counts the records.  0 or an LMDB error.
 */
int queue_check(struct queue *q, MDB_txn *txn,
    void (*fn)(const char *problem, void *arg), void *arg, uint64_t *jobs);

const char *job_state_name(enum job_state s);
int job_state_parse(const char *name);

#endif
