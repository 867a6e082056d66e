/*
 * reclean.h - re-cleaning stored documents from their stored raw bodies
 * (store.keep_raw) with the current cleaner and the site memory, in the
 * background: `sluicectl reclean`.
 *
 * The loop reads documents in id order, in batches of RECLEAN_BATCH,
 * from a read transaction, and hands each raw body to the worker pool:
 * fetched pages wait behind a handful at most (the workers take items in
 * order).  A batch is written in one turn once it is all back, and the
 * next one read after that commit.  A worker cleans it as a
 * fetched page would be (the site memory as committed then) and signs
 * the text.  The turn's "reclean" step writes each document whose text
 * changed, in the loop's write transaction:
 *
 *   - a first copy (no duplicate_of) whose new text copies an earlier
 *     document becomes its copy: out of the dedup index, its own copies
 *     re-pointed to that document (same kind; judged again when they are
 *     re-cleaned themselves); otherwise its dedup records are rewritten
 *     for the new text, so later pages are judged against what it says
 *     now;
 *   - a copy (exact or near) is judged again against its first's records
 *     as they are now (a first re-cleaned in the same pass is, having the
 *     lower id, re-cleaned before it): the same text makes it an exact
 *     copy (text stored once, with the first), a similar one a near copy
 *     (its own text, the new similarity), and otherwise it is no copy of
 *     it any more: the link goes, and the document is checked like a new
 *     one (it may copy another document, or become a first copy, indexed);
 *   - a URL copy keeps its link (the URL decides it) and takes its text.
 *
 * The site memory learns nothing from a re-clean: the pages were counted
 * when they were stored.  A document without a stored body is skipped; a
 * body the cleaner refuses is counted failed, the document unchanged.
 */
#ifndef SLUICE_RECLEAN_H
#define SLUICE_RECLEAN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#define RECLEAN_BATCH	8	/* documents at the workers, at most */

struct dedup_dbs;
struct docs;
struct page_opts;
struct queue;
struct reclean_item;
struct store;
struct work;

struct reclean {
	struct store	*store;
	struct docs	*docs;
	struct dedup_dbs *dedup;
	struct queue	*queue;		/* its duplicate counts */
	struct work	*work;
	const struct page_opts *page_opts;
	uint64_t	 max_raw;	/* extract.max_html */
	MDB_dbi		 warc_bodies;	/* bodies in WARC files */

	bool		 running;
	char		*site;		/* only this site, or NULL */
	uint64_t	 since_ms;	/* only documents fetched since */
	uint64_t	 next_after;	/* the last document id read */
	bool		 scanned;	/* every document read */
	unsigned	 inflight;	/* documents at the workers */
	struct reclean_item *results;	/* back from the workers */
	uint64_t	 started_ms;

	/* progress of the running (or last) pass */
	uint64_t	 read, cleaned, changed, failed, skipped;
	uint64_t	 unreadable;	/* of skipped: WARC records not read */
	uint64_t	 relinked;	/* copies whose duplicate link changed */
	/* this turn's, added at the commit */
	uint64_t	 t_changed, t_relinked;
};

/* Starts a pass over the documents of site (NULL: every site) fetched
 * since since_ms.  -1 if one is running. */
int reclean_start(struct reclean *rc, const char *site, uint64_t since_ms,
    uint64_t now);
/* Hands the next batch to the workers, on the loop thread after a pass,
 * if the last one is written. */
void reclean_feed(struct reclean *rc);
/* True when reclean_feed() would read documents. */
bool reclean_wants_feed(const struct reclean *rc);
/* True when results wait for a turn. */
bool reclean_pending(const struct reclean *rc);
/* Turn step, and its abort. */
int reclean_apply(void *arg, MDB_txn *txn, uint64_t now);
void reclean_abort(void *arg);
/* After the commit: frees what was written; ends a finished pass. */
void reclean_commit(struct reclean *rc);
/* The status's "reclean" object. */
json_t *reclean_status_json(const struct reclean *rc);
void reclean_free(struct reclean *rc);

#endif
