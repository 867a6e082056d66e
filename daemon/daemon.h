/*
 * daemon.h - sluiced's state and its loop turn.
 *
 * One libevent loop thread owns everything here: the network (fetch.c,
 * control.c), the timers and every LMDB write.  Whatever a turn of the loop
 * changes in the queue - submissions, cancels, fetch results, worker
 * results, new leases - is collected as pending work and applied in ONE
 * write transaction at the end of the turn (daemon_turn).  Only after that
 * transaction commits are clients answered and transfers started, so an
 * acknowledged submission is on disk, and many concurrent clients share one
 * sync (group commit).
 *
 * If the commit hits MDB_MAP_FULL the turn is rolled back, the map grows,
 * and the same pending work is applied again.  At store.map_size_max new
 * submissions are refused with store_full; nothing acknowledged is lost.
 */
#ifndef SLUICE_DAEMON_H
#define SLUICE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "dedup.h"
#include "doc.h"
#include "hosts.h"
#include "robots.h"
#include "page.h"
#include "queue.h"
#include "reply.h"
#include "sched.h"
#include "store.h"
#include "url.h"

struct event;
struct event_base;
struct fetch;
struct work;
struct control;
struct ctl_conn;

/* A client request that changes the queue; answered after the commit. */
enum op_kind {
	OP_SUBMIT,
	OP_CANCEL,
	OP_RETRY,
	OP_RETRY_FAILED,
};

struct op_url {
	const char	*given;		/* as submitted (points into req) */
	char		*url;		/* canonical, NULL if rejected */
	char		*origin;	/* scheme://host:port */
	enum url_status	 status;
	uint64_t	 host;
};

/* Robots redirects followed by libcurl itself (RFC 9309: at least 5). */
#define ROBOTS_MAX_REDIRECTS	5

struct op {
	enum op_kind	 kind;
	uint64_t	 conn_id;
	json_t		*req;		/* the parsed request (owned) */
	/* submit */
	struct op_url	*urls;
	size_t		 nurls;
	int32_t		 priority;
	uint64_t	 not_before_ms;
	bool		 force;
	/* cancel, retry */
	uint64_t	 id;
	json_t		*reply;		/* built while applying; for a submit,
					 * only an error */
	struct submit_reply sub;	/* a submit's reply */
	struct op	*next;
};

/* A finished fetch (failed) or worker result, to be recorded. */
struct completion {
	uint64_t	 job_id;
	uint64_t	 host;
	struct page	*page;		/* a document to store, or NULL */
	bool		 not_modified;	/* 304: keep the stored document */
	char		*redirect;	/* a 3xx's target, to requeue for */
	char		 code[JOB_ERROR_CODE_MAX];	/* failure, if no page */
	char		 msg[256];
	uint32_t	 http_status;
	bool		 retryable;
	bool		 host_backoff;	/* 429, 503, connection failure */
	int64_t		 retry_after_ms;
	uint64_t	 bytes;
	bool		 slot_freed;	/* sched_finished() already done */
	struct completion *next;
};

/* A lease planned in this turn: started after the commit.  A robots
 * lease fetches a host's robots.txt instead of a job. */
struct lease {
	bool		 robots;
	uint64_t	 job_id;
	uint64_t	 host;
	char		*url;		/* the job's URL (or robots.txt's) */
	char		*fetch_url;	/* the current hop, NULL = url */
	char		*etag;
	char		*last_modified;
	struct lease	*next;
};

/* A client waiting for a condition: `wait` or `drain`. */
struct waiter {
	uint64_t	 conn_id;
	json_t		*tag;
	bool		 drain;
	uint64_t	 deadline_ms;	/* mono_ms(); 0 = none */
	struct waiter	*next;
};

/* A robots.txt fetched, to be cached in the next turn's transaction. */
struct robots_result {
	uint64_t	 host;
	struct hosts_robots r;
	char		*body;
	struct robots_result *next;
};

#define RATE_WINDOW	60	/* seconds in rate_1m */

struct daemon {
	struct config	 cfg;
	char		*config_path;	/* NULL: defaults only */
	char	       **sets;		/* --set arguments, for reload */
	int		 nsets;
	char		 cwd[4096];	/* at startup: relative paths' base */

	struct event_base *base;
	struct store	 store;
	struct queue	 queue;
	struct docs	 docs;
	struct hosts	 hosts;
	struct guard	*guard;
	struct robots_limits robots_limits;
	struct robots_cache_ttl robots_ttl;
	struct dedup_dbs dedup;
	struct sched	 sched;
	struct fetch	*fetch;
	struct work	*work;
	struct control	*control;
	struct page_opts page_opts;
	struct url_opts	 url_opts;
	char	       **strip_params;	/* url_opts.strip_params storage */

	/* this turn's pending work */
	struct op	*ops, **ops_tail;
	struct completion *comps, **comps_tail;
	uint32_t	 ncomps;
	uint64_t	 last_commit_mono;	/* mono_ms() of the last commit */
	uint64_t	 last_client_mono;	/* ... of the last turn with ops */
	bool		 commit_wait;	/* work waits for commit_interval */
	struct lease	*leases;
	struct robots_result *robots_results;
	struct waiter	*waiters;

	struct event	*wake;		/* next due job / host slot */
	struct event	*cron;		/* 1 s housekeeping */
	struct event	*watchdog;
	struct event	*sig_term, *sig_int, *sig_hup;

	bool		 paused;
	bool		 stopping;	/* SIGTERM: finishing in-flight work */
	bool		 done;		/* leave the loop */
	bool		 store_full;	/* refusing submissions */
	bool		 dedup_full;	/* at dedup.index_memory_max */
	bool		 store_stuck;	/* cannot commit at all: retry in cron */
	uint64_t	 stop_deadline;	/* mono_ms() */
	uint64_t	 started_mono;
	uint64_t	 next_due_ms;	/* earliest delayed job, 0 = none */
	uint64_t	 rate[RATE_WINDOW];	/* finished jobs per second */
	uint64_t	 rate_sec;
	char		 last_status[256];
	uint64_t	 cron_ticks;
};

/* Opens the store, recovers, listens; fatal() on startup errors. */
void daemon_start(struct daemon *d, int listen_fd);
/* Runs the loop until stopped; returns the exit status. */
int daemon_run(struct daemon *d);
void daemon_stop(struct daemon *d);

/* Loads defaults, then the file, then the --set arguments into c, and
 * validates, as at startup.  0, or -1 with err. */
int daemon_load_config(struct daemon *d, struct config *c, char *err,
    size_t errlen);
/* Re-reads the config file; fills applied / restart (arrays of names).
 * Returns 0, or -1 with err (nothing changed). */
int daemon_reload(struct daemon *d, json_t *applied, json_t *restart,
    char *err, size_t errlen);


#endif
