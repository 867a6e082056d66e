/*
 * warc.h - WARC 1.1 capture (ISO 28500): every HTTP exchange the fetcher
 * makes, written as request and response records to rotating .warc.gz
 * files in warc.dir, each record its own gzip member.
 *
 * The records of a transfer are built when it ends, or by the worker that
 * cleans its page (warc_capture(): SHA-1 digests, the HTTP header fix-up,
 * compression), and travel with the
 * transfer's result: a completion (outcome.c) or a robots.txt result
 * (lease.c).  The turn step that records the result puts them in the turn
 * (warc_put()); the "warc" step, last before the commit, writes them,
 * syncs the file and notes the file and its end in the "meta" database,
 * in the same transaction.  So a job is done only with its records on
 * disk, and a record on disk belongs to a committed turn up to that noted
 * end: at start (warc_open()) whatever lies past it (a turn that never
 * committed) is cut off.
 *
 * Exact duplicates: the first capture of a payload (by SHA-1) is filed in
 * the "warc" database (digest -> date and URI), in the same transaction;
 * a later response with that payload is written as a revisit record
 * (identical-payload-digest) that refers to it, unless that first record
 * is no longer in its file: then it is captured whole again and becomes
 * the first.  A 304 is a revisit (server-not-modified).  The place of
 * every whole response is filed under its record id (warcbody.h).
 *
 * Everything here runs on the loop thread but warc_capture(), which the
 * workers call for pages.  All functions accept a NULL struct warc
 * (capture off) and then do nothing.
 */
#ifndef SLUICE_WARC_H
#define SLUICE_WARC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

struct config;
struct fetch_result;
struct store;
struct warc;
struct warc_capture;

#define WARC_REVISIT_PROFILE_DIGEST \
	"http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
#define WARC_REVISIT_PROFILE_304 \
	"http://netpreserve.org/warc/1.1/revisit/server-not-modified"

/*
 * Opens the writer for cfg's warc.dir (created if missing), at start, in a
 * transaction of its own: cuts back the file the last committed turn wrote
 * to its noted end, and a file begun by a turn that never committed to its
 * warcinfo record; then begins this run's file.  *out is NULL when
 * warc.dir is empty.  Returns 0, or -1 with err.
 */
int warc_open(struct warc **out, const struct config *cfg, struct store *s,
    char *err, size_t errlen);
void warc_close(struct warc *w);

/* What capture wrote since start (committed turns only). */
struct warc_stats {
	uint64_t	 records;	/* every type, revisits included */
	uint64_t	 revisits;
	uint64_t	 bytes;		/* compressed bytes written */
	uint64_t	 files;		/* opened by this process */
	uint64_t	 busy;		/* transfers whose records were built at
					   warc.busy_gzip_level */
};
/* w's counts (all 0 when w is NULL: capture is off). */
void warc_get_stats(const struct warc *w, struct warc_stats *out);
/* The file being written, or NULL. */
const char *warc_path(const struct warc *w);

/* The records of one finished transfer (r is not changed), or NULL when
 * there is nothing to write (no request went out) or memory ran short (a
 * warning says so).  Touches nothing of w but its settings, so workers
 * call it too (page.c): compressing a page's body is the costly part.
 * busy: the caller is behind (pages wait for a worker), and the records
 * are built at warc.busy_gzip_level rather than warc.gzip_level. */
struct warc_capture *warc_capture(const struct warc *w,
    const struct fetch_result *r, bool busy);
void warc_capture_free(struct warc_capture *c);
/* The WARC-Record-ID of c's final response (or of the revisit that may
 * take its place), or NULL (c NULL, or no whole final response). */
const char *warc_capture_id(const struct warc_capture *c);

/* Adds c to this turn's records (c stays the caller's; it must live until
 * the turn commits or aborts).  NULL is ignored. */
void warc_put(struct warc *w, struct warc_capture *c);

/* Turn step: writes the turn's records, syncs, notes the end in txn. */
int warc_apply(void *w, MDB_txn *txn, uint64_t now);
/* Turn step abort: cuts the file back to where the turn began. */
void warc_abort(void *w);
/* After the commit: the turn's records are for good. */
void warc_committed(struct warc *w);


/*
 * The reader used at start: the length of the gzip member at the start of
 * p (at most len bytes) if it holds a whole WARC record header ("WARC/"
 * ... blank line); 0 if it does not.  Exposed for the fuzz target.
 */
size_t warc_member_len(const unsigned char *p, size_t len);

#endif
