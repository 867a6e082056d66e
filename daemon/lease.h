/*
 * lease.h - planning which jobs to fetch, robots.txt decisions, and
 * starting the transfers after the commit.
 *
 * In the turn's transaction, lease_plan() (a turn step) runs the
 * scheduler (sched.c) with this module's calls: a host whose robots.txt is
 * unknown gets it from the cache (hosts.c) or a robots.txt lease; a job
 * that robots.txt forbids is failed; any other becomes a lease.  After the
 * commit, lease_start() starts the planned transfers; lease_fetched()
 * takes each one back: a robots.txt answer is decided here and cached by
 * the next turn (lease_cache_robots, a turn step), a job's goes to
 * outcome.c.
 */
#ifndef SLUICE_LEASE_H
#define SLUICE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "hosts.h"
#include "robots.h"

struct completion;
struct config;
struct docs;
struct feeds;
struct fetch;
struct fetch_result;
struct metrics;
struct outcomes;
struct queue;
struct sched;
struct warc;
struct warc_capture;

/* Robots redirects followed by libcurl itself (RFC 9309: at least 5). */
#define ROBOTS_MAX_REDIRECTS	5
/* Leases planned per turn, at most. */
#define LEASE_BATCH		256

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
	struct completion *spare;	/* a job's result, allocated now */
	struct lease	*next;
};

/* A robots.txt fetched, to be cached in the next turn's transaction. */
struct robots_result {
	uint64_t	 host;
	struct hosts_robots r;
	char		*body;
	struct warc_capture *warc;	/* its WARC records, or NULL */
	struct robots_result *next;
};

struct leases {
	struct lease	*planned;	/* this turn's, started after commit */
	struct robots_result *fetched;	/* robots.txt to cache */
	bool		 dispatch;	/* may plan new leases this turn */
	bool		 stopping;	/* aborted transfers are dropped */
	uint32_t	 started;	/* by the last lease_start() */
	uint32_t	 robots_inflight; /* robots.txt transfers running */
	uint32_t	 refused;	/* robots.txt refusals this turn,
					   counted after the commit */
	struct metrics	*metrics;	/* or NULL */
	struct warc	*warc;		/* NULL: capture off */
	struct sched	*sched;
	struct queue	*queue;
	struct hosts	*hosts;
	struct docs	*docs;
	struct fetch	*fetch;
	struct outcomes	*outcomes;
	struct feeds	*feeds;		/* polls' validators */
	const struct config *cfg;
	struct robots_limits limits;
	struct robots_cache_ttl ttl;
};

/* Turn step: caches the robots.txt files fetched since the last turn. */
int lease_cache_robots(void *leases, MDB_txn *txn, uint64_t now);
/* Turn step abort: nothing to forget (the files are cached again). */
void lease_cache_abort(void *leases);
/* Turn step: plans up to LEASE_BATCH leases when l->dispatch is set. */
int lease_plan(void *leases, MDB_txn *txn, uint64_t now);
/* Turn step abort: drops the planned leases, and the scheduler's plan. */
void lease_plan_abort(void *leases);

/* After the commit: frees the cached robots.txt results and starts the
 * planned transfers. */
void lease_start(struct leases *l);
/* fetch_done_fn: a transfer that a lease started has ended. */
void lease_fetched(struct fetch_result *r, void *arg);
/* At shutdown: frees whatever was planned or fetched and not stored. */
void lease_free_pending(struct leases *l);

#endif
