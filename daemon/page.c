/*
 * page.c - the worker stage (see page.h).  Runs on worker threads only.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "docjson.h"
#include "fetch.h"
#include "feed.h"
#include "page.h"
#include "util.h"
#include "warc.h"

struct page *
page_new(uint64_t job_id, uint64_t host, char *url, struct fetch_result *res,
    const struct page_opts *opts)
{
	struct page *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->item.run = page_run;
	p->job_id = job_id;
	p->host = host;
	p->url = url;
	p->res = res;
	p->opts = *opts;
	return p;
}

void
page_free(struct page *p)
{
	if (p == NULL)
		return;
	free(p->url);
	if (p->res != NULL)
		fetch_result_free(p->res);
	if (p->doc != NULL)
		json_decref(p->doc);
	free(p->raw);
	feed_doc_free(p->feed);
	sluice_extract_doc_free(&p->site_doc);
	warc_capture_free(p->warc);
	free(p->spare);		/* a completion with nothing to free inside */
	free(p);
}

/*
 * One zstd context per worker thread, made on first use and freed when the
 * thread ends: creating one per page cost more than compressing a small
 * page.  The key is created once for the process.
 */
static pthread_key_t cctx_key;
static pthread_once_t cctx_once = PTHREAD_ONCE_INIT;

static void
cctx_free(void *cctx)
{
	ZSTD_freeCCtx(cctx);
}

static void
cctx_key_init(void)
{
	(void)pthread_key_create(&cctx_key, cctx_free);
}

static ZSTD_CCtx *
thread_cctx(void)
{
	ZSTD_CCtx *c;

	pthread_once(&cctx_once, cctx_key_init);
	c = pthread_getspecific(cctx_key);
	if (c == NULL) {
		c = ZSTD_createCCtx();
		if (c != NULL && pthread_setspecific(cctx_key, c) != 0) {
			ZSTD_freeCCtx(c);
			c = NULL;
		}
	}
	return c;
}

/* Compresses the raw body; on failure the document is kept without it. */
static void
page_compress(struct page *p)
{
	const struct buf *b = &p->res->body;
	size_t cap = ZSTD_compressBound(b->len);
	ZSTD_CCtx *cctx = thread_cctx();
	size_t n;

	if (cctx == NULL)
		return;
	p->raw = malloc(cap);
	if (p->raw == NULL)
		return;
	n = ZSTD_compressCCtx(cctx, p->raw, cap, b->data ? b->data : "",
	    b->len, p->opts.zstd_level);
	if (ZSTD_isError(n)) {
		SAFE_FREE(p->raw);
		return;
	}
	p->raw_len = n;
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

/* Builds the document's fields; the loop adds id and the dedup fields. */
static json_t *
page_doc(struct page *p, const struct sluice_extract_doc *d)
{
	const struct fetch_result *r = p->res;
	char ts[40], hash[2 * sizeof(p->sig.exact) + 1];
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(p->sig.exact); i++)
		snprintf(hash + 2 * i, 3, "%02x", p->sig.exact[i]);
	json_object_set_new(o, "url", json_string(p->url));
	json_object_set_new(o, "final_url", str_or_null(r->final_url));
	json_object_set_new(o, "http_status", json_integer(r->http_status));
	json_object_set_new(o, "content_type", str_or_null(r->content_type));
	json_object_set_new(o, "fetched_at",
	    json_string(fmt_time_ms(p->fetched_ms, ts, sizeof(ts))));
	json_object_set_new(o, "title", str_or_null(d->title));
	json_object_set_new(o, "text", json_string(d->text ? d->text : ""));
	json_object_set_new(o, "language", str_or_null(d->language));
	json_object_set_new(o, "author", str_or_null(d->author));
	json_object_set_new(o, "date", str_or_null(d->date));
	docjson_more(o, sluice_extract_doc_more(d));
	json_object_set_new(o, "sitename", str_or_null(d->sitename));
	json_object_set_new(o, "description", str_or_null(d->description));
	json_object_set_new(o, "canonical_url", str_or_null(d->canonical_url));
	json_object_set_new(o, "word_count", json_integer((json_int_t)
	    d->word_count));
	/* The page parsed but the cleaner found no main text in it. */
	json_object_set_new(o, "empty", json_boolean(p->status ==
	    SLUICE_EXTRACT_EMPTY || d->word_count == 0));
	json_object_set_new(o, "charset", str_or_null(d->charset));
	json_object_set_new(o, "content_hash", json_string(hash));
	json_object_set_new(o, "etag", str_or_null(r->etag));
	json_object_set_new(o, "last_modified", str_or_null(r->last_modified));
	return o;
}

/* The budget's interrupt: the job was cancelled, or the pool stops. */
static int
page_interrupted(void *arg)
{
	const struct page *p = arg;

	return atomic_load(&p->cancel) ||
	    (p->item.stop != NULL && atomic_load(p->item.stop));
}

/* Moves the site memory's part of d (the site, the line fingerprints
 * and dropped lines behind d->priv) into p->site_doc, for the loop to
 * record once the document is stored; the text is not kept twice. */
static void
page_keep_site(struct page *p, struct sluice_extract_doc *d)
{
	if (d->site == NULL)
		return;
	p->site_doc.site = d->site;
	p->site_doc.priv = d->priv;
	p->site_doc.site_dropped = d->site_dropped;
	p->site_doc.site_repeated = d->site_repeated;
	d->site = NULL;
	d->priv = NULL;
}

void
page_run(struct work_item *it)
{
	struct page *p = (struct page *)it;
	const struct fetch_result *r = p->res;
	struct sluice_extract_doc d;
	uint64_t t0 = mono_us();

	memset(&d, 0, sizeof(d));
	p->fetched_ms = r->started_ms + r->elapsed_ms;
	if (page_interrupted(p)) {
		p->status = SLUICE_EXTRACT_CANCELLED;
		snprintf(p->err, sizeof(p->err), "cancelled before cleaning");
		goto out;
	}
	if (p->poll) {
		/* A feed or sitemap: its entries, not its text (feeds.c). */
		p->feed_err = feed_parse(r->body.data ? r->body.data : "",
		    r->body.len, r->final_url ? r->final_url : p->url,
		    &p->opts.feed, &p->feed);
		p->status = SLUICE_EXTRACT_OK;
		goto out;
	}
	p->opts.budget.interrupt = page_interrupted;
	p->opts.budget.interrupt_arg = p;
	/* The site is the host fetched, never the page's own claim. */
	if (p->opts.extract.site_memory != NULL) {
		if (sitemem_site_of(r->final_url ? r->final_url : p->url,
		    p->site, sizeof(p->site)))
			p->opts.extract.site = p->site;
		else
			p->opts.extract.site_memory = NULL;
	}
	if (it->worker < p->nslots)
		atomic_store(&p->slots[it->worker], p->job_id);
	p->status = sluice_extract_page_budget(r->body.data ? r->body.data : "",
	    r->body.len, r->final_url ? r->final_url : p->url, r->content_type,
	    &p->opts.extract, &p->opts.budget, &p->report, &d, p->err,
	    sizeof(p->err));
	if (p->status != SLUICE_EXTRACT_OK && p->status != SLUICE_EXTRACT_EMPTY)
		goto out;
	dedup_signature(d.text ? d.text : "", d.text ? strlen(d.text) : 0,
	    &p->opts.dedup, &p->sig);
	p->doc = page_doc(p, &d);
	if (p->doc == NULL) {
		p->status = SLUICE_EXTRACT_ERROR;
		snprintf(p->err, sizeof(p->err), "out of memory");
		goto out;
	}
	page_keep_site(p, &d);
out:
	if (it->worker < p->nslots)
		atomic_store(&p->slots[it->worker], 0);
	sluice_extract_doc_free(&d);
	p->clean_us = mono_us() - t0;
	/* Here rather than on the loop thread: compressing the body costs
	 * about as much as cleaning it. */
	p->warc = warc_capture(p->opts.warc, r, it->behind);
	if (p->doc == NULL)
		return;
	/* export --format warc links the clean text to this capture. */
	json_object_set_new(p->doc, "warc_record_id",
	    warc_capture_id(p->warc) != NULL ?
	    json_string(warc_capture_id(p->warc)) : json_null());
	/* A body whose whole response the capture holds is read back from
	 * it (warcbody.h) unless warc.serves_raw is off. */
	if (p->opts.keep_raw && (!p->opts.serves_raw ||
	    warc_capture_id(p->warc) == NULL))
		page_compress(p);
}
