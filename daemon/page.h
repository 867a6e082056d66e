/*
 * page.h - the worker stage: one fetched response in, one document out.
 *
 * This is the seam between fetching and storing.  page_run() executes on a
 * worker thread and must touch nothing shared: it decodes and cleans the
 * body (extract.c), hashes the text for dedup, compresses the raw body, and
 * builds the document's JSON fields.  The loop thread then stores the
 * result (doc.c) in the transaction that marks the job done.
 */
#ifndef SLUICE_PAGE_H
#define SLUICE_PAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dedup.h"
#include "feed_doc.h"
#include "sitemem.h"
#include "sluice/extract.h"
#include "work.h"

struct fetch_result;
struct warc;
struct warc_capture;

struct page_opts {
	struct sluice_extract_opts	 extract;
	struct sluice_extract_budget	 budget;	/* interrupt set by page */
	struct dedup_opts	 dedup;
	struct feed_limits	 feed;		/* a poll's parse (feeds.c) */
	bool			 keep_raw;
	bool			 serves_raw;	/* warc.serves_raw */
	int			 zstd_level;
	const struct warc	*warc;		/* capture, or NULL */
};

struct page {
	struct work_item	 item;		/* must stay first */
	/* input, set by the loop thread */
	uint64_t		 job_id;
	uint64_t		 host;
	char			*url;		/* the job's canonical URL */
	struct fetch_result	*res;		/* owned */
	struct page_opts	 opts;		/* a copy: reload-safe */
	bool			 poll;		/* a feed's poll: parsed with
						   feed_parse(), not cleaned */
	/* set by the loop thread when the job is cancelled: the cleaning
	 * stops (SLUICE_EXTRACT_CANCELLED) */
	atomic_bool		 cancel;
	/* the crash slots (outcome.h): the worker's holds job_id while it
	 * cleans the page */
	_Atomic uint64_t	*slots;
	size_t			 nslots;
	struct page		*prev_busy, *next_busy;	/* outcomes' list */
	/* output, set by page_run() */
	enum sluice_extract_status	 status;
	char			 err[256];
	json_t			*doc;		/* document fields, no id */
	void			*raw;		/* zstd frame, or NULL */
	size_t			 raw_len;
	struct dedup_sig	 sig;
	struct warc_capture	*warc;		/* its WARC records, or NULL */
	uint64_t		 fetched_ms;
	uint64_t		 clean_us;	/* page_run()'s time */
	struct sluice_extract_report report;	/* the budget's findings */
	struct feed_doc		*feed;		/* a poll's document, or NULL */
	int			 feed_err;	/* enum feed_error */
	/* With the site memory: the site's part of the extraction (site,
	 * fingerprints, dropped lines) for sitemem_record(); no text. */
	struct sluice_extract_doc site_doc;
	char			 site[SITEMEM_NAME_MAX + 1];
	/* the completion that will carry the page back (outcome.c), owned
	 * by the page until then */
	struct completion	*spare;
};

/* Allocates a page for res (ownership of res and url moves to the page). */
struct page *page_new(uint64_t job_id, uint64_t host, char *url,
    struct fetch_result *res, const struct page_opts *opts)
    __attribute__((warn_unused_result));
void page_free(struct page *p);
/* The work_item entry point. */
void page_run(struct work_item *it);

#endif
