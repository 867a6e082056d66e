/*
 * outcome.h - what became of a job's fetch, from the end of its transfer
 * to the transaction that records it.
 *
 * A transfer that ends frees its slots at once (sched_finished) and puts
 * the host's backoff in place, so the scheduler may start another request
 * in the same turn; what it brought back is then one of:
 *   - a page (2xx), handed to the workers (page.c); outcome_page_done()
 *     takes it back as a completion with a document to store;
 *   - a 304, a redirect to follow, or a failure: a completion at once.
 * Completions wait for the next write transaction (outcome_apply, a turn
 * step), which stores the document (with the dedup verdict), requeues a
 * redirect, or records the failure; outcome_finish() frees them after the
 * commit.
 *
 * Pages waiting for or being cleaned are bounded by extract.max_pending:
 * past it the scheduler starts no transfer (outcome_room), rather than
 * holding fetch slots while pages queue for a worker.
 */
#ifndef SLUICE_OUTCOME_H
#define SLUICE_OUTCOME_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "queue.h"

struct config;
struct dedup_dbs;
struct dedup_sig;
struct docs;
struct feeds;
struct fetch_result;
struct metrics;
struct page;
struct page_opts;
struct sched;
struct sitemem;
struct url_opts;
struct warc;
struct warc_capture;
struct work;
struct work_item;

#define OUTCOME_RATE_WINDOW	60	/* seconds in outcome_rate() */
#define OUTCOME_SLOTS		256	/* daemon.workers at most */
#define OUTCOME_SLOTS_FILE	"cleaning.slots"

/* A finished fetch or worker result, to be recorded. */
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
	char		*url;		/* the job's URL, or NULL */
	struct warc_capture *warc;	/* its WARC records, or NULL */
	bool		 cleaned;	/* back from a worker: forget its
					   cleaning count */
	bool		 forget;	/* interrupted at shutdown: record
					   nothing else, the job stays active */
	bool		 failed;	/* failed for good (set by apply) */
	struct completion *next;
};

struct outcomes {
	struct completion *head, **tail;
	uint32_t	 count;		/* completions waiting */
	uint32_t	 at_workers;	/* pages and captures at the workers */
	uint32_t	 max_at_workers; /* extract.max_pending */
	struct queue	*queue;
	struct docs	*docs;
	struct dedup_dbs *dedup;
	struct sched	*sched;
	struct work	*work;
	const struct config *cfg;
	const struct url_opts *url_opts;
	const struct page_opts *page_opts;
	struct metrics	*metrics;	/* or NULL */
	struct warc	*warc;		/* NULL: capture off */
	struct feeds	*feeds;		/* polls go there, not to docs */
	struct sitemem	*sitemem;	/* records each stored page */
	/* Cluster mode: told of each document stored, in its transaction
	 * (cluster_doc_stored); NULL otherwise. */
	int		(*stored)(void *arg, MDB_txn *txn, uint64_t doc,
			    const char *url, const struct dedup_sig *sig);
	/* Cluster mode: job was requeued for target (host), its
	 * redirect's, in the transaction; *handed when another node takes
	 * it over (cluster_redirected); NULL otherwise.  Same arg. */
	int		(*redirected)(void *arg, MDB_txn *txn, uint64_t job,
			    const char *target, uint64_t host, uint64_t now,
			    bool *handed);
	void		*stored_arg;
	struct page	*busy;		/* pages at the workers */
	/* What a crash interrupted.  Each worker keeps the id of the job it
	 * is cleaning in its slot of a small file in the state directory,
	 * mapped shared (a store, no syscall: the page cache outlives the
	 * process).  At start the ids found there count one interrupted
	 * cleaning more in the "cleaning" database (job id -> count), and
	 * a job at extract.max_interrupted fails instead of being fetched
	 * again.  Counts are deleted when the job's page is recorded. */
	_Atomic uint64_t *slots;	/* OUTCOME_SLOTS, or NULL */
	uint64_t	*crashed;	/* ids found in the slots at start */
	size_t		 ncrashed;
	MDB_dbi		 cleaning;
	uint64_t	*counted;	/* ids with a count in "cleaning" */
	size_t		 ncounted;
	uint64_t	 rate[OUTCOME_RATE_WINDOW];	/* jobs finished */
	uint64_t	 rate_sec;
	uint64_t	 started_mono;
};

void outcome_init(struct outcomes *o);

/*
 * A job's transfer ended with r (taken), for the job's canonical url
 * (taken).  spare is a completion allocated with the lease (taken), so
 * that recording a result never needs memory the loop may not have.
 */
void outcome_fetched(struct outcomes *o, uint64_t job_id, uint64_t host,
    char *url, struct fetch_result *r, struct completion *spare);
/* A job's transfer could not start (err): record a retryable failure. */
void outcome_not_started(struct outcomes *o, uint64_t job_id, uint64_t host,
    const char *err, struct completion *spare);
/* work_done_fn: a worker finished a page. */
void outcome_page_done(struct work_item *it, void *arg);
/* Fills c's failure from a fetch result that will not reach a worker. */
void outcome_classify(struct completion *c, const struct fetch_result *r);

/* True while pages (and large captures) at the workers are below
 * extract.max_pending. */
bool outcome_room(const struct outcomes *o);
bool outcome_pending(const struct outcomes *o);

/* The cancel of a job: a page of it being cleaned stops. */
void outcome_cancel(void *outcomes, uint64_t job_id);
/*
 * At start, before the recovery: maps dir/OUTCOME_SLOTS_FILE (made if
 * missing) and notes the jobs whose cleaning a crash interrupted.  0, or
 * -1 with err.
 */
int outcome_slots_open(struct outcomes *o, const char *dir, char *err,
    size_t errlen);
/*
 * In the recovery transaction, before queue_recover(): opens the
 * "cleaning" database, counts one more interrupted cleaning for each job
 * the slots named, and fails (too_complex, not retried) every job counted
 * max times rather than fetching it again; *failed counts them.  0 or an
 * LMDB error (the transaction may then be replayed).
 */
int outcome_recover(struct outcomes *o, MDB_txn *txn, uint32_t max,
    uint64_t *failed);
/* After the recovery's commit: the slots are empty again. */
void outcome_slots_clear(struct outcomes *o);
/* At exit: frees the counts' list.  The slots stay mapped: a worker left
 * behind (work_free()) may still write its own. */
void outcome_close(struct outcomes *o);

/* Turn step: records every completion in txn.  0 or an LMDB error. */
int outcome_apply(void *outcomes, MDB_txn *txn, uint64_t now);
/* Turn step abort: forgets the dedup index entries the turn added. */
void outcome_abort(void *outcomes);
/* After the commit: frees the completions and counts them. */
void outcome_finish(struct outcomes *o);
/* At shutdown: drops completions that could not be committed (their jobs
 * stay active on disk and are requeued at the next start). */
void outcome_free_pending(struct outcomes *o);
/* Jobs finished per second over the last minute. */
double outcome_rate(struct outcomes *o);

#endif
