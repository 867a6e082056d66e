/*
 * feeds.h - the daemon's sources (feeds, sitemaps, sites) and their state
 * in LMDB, polled on the adaptive schedule of feed_poll.h (issue 14,
 * docs/feeds.md).
 *
 * A poll is an ordinary job: when a source is due, its URL is submitted
 * (forced, so a finished job goes back to the queue) and the scheduler
 * fetches it like any page - robots.txt, politeness, the address guard,
 * retries - conditionally, with the validators kept here (lease.c asks
 * feeds_validators()).  The job's body is parsed on a worker (page.c,
 * feed_parse()) instead of cleaned, and outcome.c hands the result to
 * feeds_polled() (or feeds_failed()) in the turn's transaction, which
 * submits the new entries and sets the next poll.  A job id stays the
 * same from poll to poll (the queue dedups by URL), so "which jobs are
 * polls" is a small table, kept in LMDB and mirrored in memory.
 *
 * Databases:
 *   feeds       id (be64)                   -> source record (JSON)
 *   feed_jobs   job id (be64)               -> {feed, child, lastmod,
 *                                               validators} (JSON)
 *   feed_seen   feed id (be64) hash (be64)  -> last listed, ms (be64)
 *   feed_meta   job id (be64)               -> an entry's feed, title,
 *                                               date, author (JSON)
 *
 * Everything changes in the caller's write transaction; an aborted turn
 * reloads the in-memory mirror from the store at the next step.
 */
#ifndef SLUICE_FEEDS_H
#define SLUICE_FEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

struct config;
struct feed_doc;
struct fetch_result;
struct hosts;
struct queue;
struct sched;
struct url_opts;

/* Polls submitted per turn, at most. */
#define FEEDS_BATCH		256

enum feeds_status {
	FEEDS_OK,
	FEEDS_BAD_URL,		/* not a URL sluice may fetch */
	FEEDS_EXISTS,		/* the URL is a source already */
	FEEDS_FULL,		/* feeds.max_sources */
	FEEDS_NOT_FOUND,
};

/* What the loop keeps of a source between turns. */
struct feeds_src {
	uint64_t	 id;
	uint64_t	 next_ms;	/* next poll, epoch ms; 0 = never */
	bool		 polling;	/* its job is in the queue */
	uint64_t	 check_ms;	/* polling: when to look whether its
					   job ended unheard (a cancel) */
};

/* A job that is a poll, and whose source it is. */
struct feeds_job {
	uint64_t	 job_id;
	uint64_t	 feed_id;
};

/* Counters since start, for status and the metrics. */
struct feeds_counts {
	uint64_t	 polls;		/* polls recorded, children included */
	uint64_t	 changed;	/* 2xx parsed */
	uint64_t	 not_modified;	/* 304 */
	uint64_t	 errors;	/* failed, or not a feed */
	uint64_t	 entries_new;	/* submitted as new jobs */
	uint64_t	 entries_known;	/* remembered, or a known URL */
	uint64_t	 entries_old;	/* older than feeds.max_age */
	uint64_t	 children_fetched;
	uint64_t	 children_unchanged;
};

struct feeds {
	MDB_dbi		 db, jobs, seen, meta;
	/* Cluster mode: sources are kept but not polled (their entries
	 * would bypass the cluster's frontier; docs/cluster.md). */
	bool		 off;
	struct feeds_src *src;		/* by id */
	size_t		 nsrc, capsrc;
	struct feeds_job *map;		/* by job id */
	size_t		 nmap, capmap;
	uint64_t	 next_id;
	bool		 reload;	/* a turn was aborted */
	struct feeds_counts counts, saved;
	struct queue	*queue;
	struct sched	*sched;
	struct hosts	*hosts;
	const struct config *cfg;
	const struct url_opts *url_opts;
};

/* Opens the databases and loads the mirror.  0 or an LMDB error. */
int feeds_open(struct feeds *f, MDB_txn *txn);
void feeds_close(struct feeds *f);

/* Turn step: reloads after an abort, then submits the due polls. */
int feeds_step(void *feeds, MDB_txn *txn, uint64_t now);
/* Turn step abort: the mirror is reloaded at the next step. */
void feeds_abort(void *feeds);
/* The earliest poll due (epoch ms), or 0 when none is waiting. */
uint64_t feeds_next_due(const struct feeds *f);

/* True if job_id is a source's poll (or a child sitemap's). */
bool feeds_owns(const struct feeds *f, uint64_t job_id);
/* The validators of a poll's last answer (malloc'd, NULL if none). */
int feeds_validators(struct feeds *f, MDB_txn *txn, uint64_t job_id,
    char **etag, char **last_modified);

/*
 * A poll's answer: r is the fetch (a 2xx or a 304), doc its parse (NULL
 * for a 304 or when perr is not FEED_OK).  Submits the new entries, or
 * the changed child sitemaps of an index, and sets the next poll.  0 or
 * an LMDB error.
 */
int feeds_polled(struct feeds *f, MDB_txn *txn, uint64_t job_id,
    const struct fetch_result *r, const struct feed_doc *doc, int perr,
    uint64_t now);
/* A poll that failed for good (code: the job's error). */
int feeds_failed(struct feeds *f, MDB_txn *txn, uint64_t job_id,
    const char *code, uint64_t now);
/* Adds to a document the feed_id of the entry it came from, and the
 * entry's title, date and author where the cleaner found none. */
int feeds_doc_meta(struct feeds *f, MDB_txn *txn, uint64_t job_id,
    json_t *doc);

/*
 * Adds a source: kind "feed" (feed add: any feed or sitemap) or "site"
 * (site add: discovery first).  interval_ms 0 adapts; else it is fixed.
 * *out is the new record (a new reference).
 */
enum feeds_status feeds_add(struct feeds *f, MDB_txn *txn, const char *url,
    const char *kind, int32_t priority, uint64_t interval_ms, uint64_t now,
    json_t **out, int *rc);
/* Removes a source by id (url NULL) or by URL; *out the removed record. */
enum feeds_status feeds_rm(struct feeds *f, MDB_txn *txn, uint64_t id,
    const char *url, json_t **out, int *rc);
/* Every source's record, in id order (a new array), or one's. */
int feeds_list(struct feeds *f, MDB_txn *txn, uint64_t now, json_t **out);
int feeds_get(struct feeds *f, MDB_txn *txn, uint64_t id, uint64_t now,
    json_t **out);
/* The counters as status gives them (a new object). */
json_t *feeds_counts_json(const struct feeds *f);

#endif
