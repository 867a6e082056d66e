/*
 * outcome.c - from the end of a job's transfer to the transaction that
 * records what it brought (see outcome.h).
 *
 * A URL's path through this file: lease.c hands a finished transfer to
 * outcome_fetched() -> a 2xx page goes to work_submit() ->
 * outcome_page_done() queues a completion -> outcome_apply() stores the
 * document and marks the job done in the turn's transaction ->
 * outcome_finish() after the commit.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dedup.h"
#include "doc.h"
#include "feeds.h"
#include "fetch.h"
#include "log.h"
#include "metrics.h"
#include "outcome.h"
#include "page.h"
#include "sched.h"
#include "sitemem.h"
#include "store.h"
#include "url.h"
#include "util.h"
#include "warc.h"
#include "work.h"

void
outcome_init(struct outcomes *o)
{
	o->head = NULL;
	o->tail = &o->head;
	o->count = 0;
	o->at_workers = 0;
	o->started_mono = mono_ms();
	o->busy = NULL;
	o->slots = NULL;
	o->crashed = o->counted = NULL;
	o->ncrashed = o->ncounted = 0;
}

static void
outcome_add(struct outcomes *o, struct completion *c)
{
	o->count++;
	c->next = NULL;
	*o->tail = c;
	o->tail = &c->next;
}

bool
outcome_room(const struct outcomes *o)
{
	return o->at_workers < o->max_at_workers;
}

bool
outcome_pending(const struct outcomes *o)
{
	return o->head != NULL;
}

/* --- classifying a transfer ---------------------------------------- */

static bool
outcome_status_retryable(long status)
{
	static const long codes[] = { 408, 429, 500, 502, 503, 504, 522, 524 };

	for (size_t i = 0; i < ARRAY_LEN(codes); i++)
		if (codes[i] == status)
			return true;
	return false;
}

void
outcome_classify(struct completion *c, const struct fetch_result *r)
{
	static const char *const codes[] = {
		[FETCH_ERR_DNS] = "dns", [FETCH_ERR_CONNECT] = "connect",
		[FETCH_ERR_TIMEOUT] = "timeout", [FETCH_ERR_NETWORK] = "network",
		[FETCH_ERR_TOO_LARGE] = "too_large",
		[FETCH_ERR_REDIRECTS] = "redirects",
		[FETCH_ERR_SCHEME] = "bad_scheme",
		[FETCH_ERR_BLOCKED] = "address_blocked",
		[FETCH_ERR_DECODING] = "decoding",
		[FETCH_ERR_ABORTED] = "internal",
		[FETCH_ERR_INTERNAL] = "internal",
		[FETCH_ERR_HEADERS] = "header_too_large",
	};

	c->http_status = (uint32_t)r->http_status;
	c->retry_after_ms = r->retry_after_ms;
	if (r->error == FETCH_OK) {
		snprintf(c->code, sizeof(c->code), "http_status");
		snprintf(c->msg, sizeof(c->msg), "HTTP %ld", r->http_status);
		c->retryable = outcome_status_retryable(r->http_status);
		c->host_backoff = r->http_status == 429 ||
		    r->http_status == 503;
		return;
	}
	snprintf(c->code, sizeof(c->code), "%s", codes[r->error] ?
	    codes[r->error] : "internal");
	snprintf(c->msg, sizeof(c->msg), "%s", r->errmsg);
	/* Aborted (not at shutdown, which lease.c handles): a cluster
	 * partition passed to another node; tried again if it comes back. */
	c->retryable = r->error <= FETCH_ERR_NETWORK ||
	    r->error == FETCH_ERR_INTERNAL || r->error == FETCH_ERR_ABORTED;
	c->host_backoff = r->error == FETCH_ERR_CONNECT;
}

/*
 * The transfer is over: its slots are free now, not at the commit that
 * records it.  Held until that commit, a host's slot sat idle for up to
 * store.commit_interval after every page, and one host at max_per_host=16
 * reached 0.18 of the cleaner's CPU limit.  The host's backoff is put in
 * place here too, before any later lease of the host can be planned.
 */
static void
outcome_release(struct outcomes *o, const struct completion *c, bool ok,
    uint64_t sent_ms)
{
	const struct config *cfg = o->cfg;

	/* host_delay counts between the requests the server saw: a new
	 * connection can take tens of ms to send its request on a busy
	 * loop, and the next start waits for that too. */
	sched_started(o->sched, c->host, sent_ms);
	sched_finished(o->sched, c->host);
	if (c->host_backoff)
		sched_backoff(o->sched, c->host, c->retry_after_ms,
		    cfg->host_backoff_min_ms, cfg->host_backoff_max_ms,
		    now_ms());
	else if (ok)
		sched_host_ok(o->sched, c->host);
}

/* --- pages at the workers ------------------------------------------ */

static void
outcome_busy_add(struct outcomes *o, struct page *p)
{
	p->prev_busy = NULL;
	p->next_busy = o->busy;
	if (o->busy != NULL)
		o->busy->prev_busy = p;
	o->busy = p;
}

static void
outcome_busy_remove(struct outcomes *o, struct page *p)
{
	if (p->prev_busy != NULL)
		p->prev_busy->next_busy = p->next_busy;
	else
		o->busy = p->next_busy;
	if (p->next_busy != NULL)
		p->next_busy->prev_busy = p->prev_busy;
	p->prev_busy = p->next_busy = NULL;
}

void
outcome_cancel(void *arg, uint64_t job_id)
{
	struct outcomes *o = arg;

	for (struct page *p = o->busy; p != NULL; p = p->next_busy)
		if (p->job_id == job_id)
			atomic_store(&p->cancel, true);
}

/*
 * The WARC records of a transfer that is no page (an error status, a 304,
 * a redirect, a body cut at fetch.max_body) are built on a worker when its
 * body is this large: compressing a 10 MiB body cut at fetch.max_body took
 * the loop thread about 70 ms at level 1, so a hostile host answering
 * such bodies could stall it.  Smaller ones are built right away.
 */
#define OUTCOME_CAPTURE_INLINE	(32 * 1024)

struct outcome_capture {
	struct work_item	 item;		/* first: the pool's link */
	struct outcomes		*o;
	struct fetch_result	*r;
	struct completion	*c;
};

static void
outcome_capture_run(struct work_item *it)
{
	struct outcome_capture *oc = (struct outcome_capture *)it;

	oc->c->warc = warc_capture(oc->o->warc, oc->r, it->behind);
}

static void
outcome_capture_done(struct work_item *it, void *arg)
{
	struct outcome_capture *oc = (struct outcome_capture *)it;
	struct outcomes *o = oc->o;

	(void)arg;
	assert(o->at_workers > 0);
	o->at_workers--;
	fetch_result_free(oc->r);
	outcome_add(o, oc->c);
	free(oc);
}

/* Builds r's records into c, here or on a worker, then frees r and adds
 * c to the completions. */
static void
outcome_capture_add(struct outcomes *o, struct fetch_result *r,
    struct completion *c)
{
	struct outcome_capture *oc;

	if (o->warc != NULL && o->work != NULL &&
	    r->body.len + r->cut_body.len >= OUTCOME_CAPTURE_INLINE &&
	    (oc = calloc(1, sizeof(*oc))) != NULL) {
		oc->o = o;
		oc->r = r;
		oc->c = c;
		oc->item.run = outcome_capture_run;
		oc->item.done = outcome_capture_done;
		o->at_workers++;	/* holds a worker as a page does */
		work_submit(o->work, &oc->item);
		return;
	}
	c->warc = warc_capture(o->warc, r, false);
	fetch_result_free(r);
	outcome_add(o, c);
}

void
outcome_fetched(struct outcomes *o, uint64_t job_id, uint64_t host,
    char *url, struct fetch_result *r, struct completion *c)
{
	struct page *p;
	bool ok = r->error == FETCH_OK && ((r->http_status >= 200 &&
	    r->http_status < 300) || r->http_status == 304);

	assert(c != NULL);
	memset(c, 0, sizeof(*c));
	c->job_id = job_id;
	c->host = host;
	c->bytes = r->body.len;
	c->retry_after_ms = -1;
	c->http_status = (uint32_t)r->http_status;
	if (r->error == FETCH_OK && r->http_status >= 200 &&
	    r->http_status < 300) {
		outcome_release(o, c, true, r->sent_ms);
		p = page_new(job_id, host, url, r, o->page_opts);
		if (p != NULL) {
			p->poll = o->feeds != NULL &&
			    feeds_owns(o->feeds, job_id);
			p->spare = c;
			o->at_workers++;
			outcome_busy_add(o, p);
			p->slots = o->slots;
			p->nslots = o->slots != NULL ? OUTCOME_SLOTS : 0;
			work_submit(o->work, &p->item);
			return;
		}
		/* page_new freed neither: record the failure instead. */
		c->warc = warc_capture(o->warc, r, false);
		free(url);
		snprintf(c->code, sizeof(c->code), "internal");
		snprintf(c->msg, sizeof(c->msg), "out of memory");
		c->retryable = true;
		fetch_result_free(r);
		outcome_add(o, c);
		return;
	}
	c->url = url;		/* named if the job fails for good */
	if (r->error == FETCH_OK && r->http_status == 304)
		c->not_modified = true;
	else if (r->error == FETCH_OK && r->redirect_url != NULL) {
		c->redirect = r->redirect_url;
		r->redirect_url = NULL;
	} else
		outcome_classify(c, r);
	outcome_release(o, c, ok, r->sent_ms);
	/* The records travel with the completion and are written in the
	 * turn that records it (a page's are built by its worker). */
	outcome_capture_add(o, r, c);
}

void
outcome_not_started(struct outcomes *o, uint64_t job_id, uint64_t host,
    const char *err, struct completion *c)
{
	memset(c, 0, sizeof(*c));
	c->job_id = job_id;
	c->host = host;
	snprintf(c->code, sizeof(c->code), "internal");
	snprintf(c->msg, sizeof(c->msg), "%s", err);
	c->retryable = true;
	c->retry_after_ms = -1;
	sched_finished(o->sched, host);
	outcome_add(o, c);
}

/* Counts and logs what the cleaner's budget did to a page (once per
 * page, and only when it did something). */
static void
outcome_budget_note(struct outcomes *o, const struct page *p)
{
	const struct sluice_extract_report *r = &p->report;

	if (p->status == SLUICE_EXTRACT_TOO_COMPLEX && o->metrics != NULL)
		o->metrics->clean_too_complex++;
	if (r->flattened > 0) {
		log_info("job %llu: %zu elements nested deeper than "
		    "extract.max_depth flattened: %s",
		    (unsigned long long)p->job_id, r->flattened, p->url);
		if (o->metrics != NULL) {
			o->metrics->clean_flattened_pages++;
			o->metrics->clean_flattened += r->flattened;
		}
	}
	if (r->truncated) {
		log_info("job %llu: cleaned its first %zu elements and %zu "
		    "attributes only (extract.max_elements): %s",
		    (unsigned long long)p->job_id, r->elements,
		    r->attributes, p->url);
		if (o->metrics != NULL)
			o->metrics->clean_truncated++;
	}
}

void
outcome_page_done(struct work_item *it, void *arg)
{
	struct outcomes *o = arg;
	struct page *p = (struct page *)it;
	struct completion *c = p->spare;

	assert(o->at_workers > 0);
	o->at_workers--;
	p->spare = NULL;
	c->warc = p->warc;
	p->warc = NULL;
	outcome_busy_remove(o, p);
	c->cleaned = true;
	if (o->metrics != NULL)
		metrics_observe(&o->metrics->clean_duration,
		    (double)p->clean_us / 1e6);
	outcome_budget_note(o, p);
	if (p->status == SLUICE_EXTRACT_OK || p->status == SLUICE_EXTRACT_EMPTY)
		c->page = p;
	else if (p->status == SLUICE_EXTRACT_CANCELLED &&
	    !atomic_load(&p->cancel)) {
		/* The pool stops: the job stays active and is cleaned again
		 * after the restart, which is no crash. */
		c->forget = true;
		page_free(p);
	} else {
		snprintf(c->code, sizeof(c->code), "%s",
		    p->status == SLUICE_EXTRACT_UNSUPPORTED ?
		    "unsupported_content_type" :
		    p->status == SLUICE_EXTRACT_TOO_LARGE ? "too_large" :
		    p->status == SLUICE_EXTRACT_TOO_COMPLEX ? "too_complex" :
		    p->status == SLUICE_EXTRACT_CANCELLED ? "cancelled" :
		    "internal");
		snprintf(c->msg, sizeof(c->msg), "%s", p->err);
		/* A cancelled job drops the failure (queue_fail refuses
		 * it); one whose cancel did not commit is fetched again. */
		c->retryable = p->status == SLUICE_EXTRACT_CANCELLED;
		c->url = p->url;
		p->url = NULL;
		page_free(p);
	}
	outcome_add(o, c);
}

/* --- the cleaning counts ------------------------------------------- */

static int
outcome_count_get(struct outcomes *o, MDB_txn *txn, uint64_t id,
    uint32_t *n)
{
	MDB_val k = { sizeof(id), &id }, v;
	int rc = mdb_get(txn, o->cleaning, &k, &v);

	*n = 0;
	if (rc == 0 && v.mv_size == sizeof(*n))
		memcpy(n, v.mv_data, sizeof(*n));
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* One more interrupted cleaning of job id; *n is the new count. */
static int
outcome_count_add(struct outcomes *o, MDB_txn *txn, uint64_t id,
    uint32_t *n)
{
	MDB_val k = { sizeof(id), &id }, v;
	int rc = outcome_count_get(o, txn, id, n);

	if (rc != 0)
		return rc;
	(*n)++;
	v.mv_size = sizeof(*n);
	v.mv_data = n;
	return mdb_put(txn, o->cleaning, &k, &v, 0);
}

/* Deletes job id's count, if it has one (most never have: no lookup). */
static int
outcome_count_forget(struct outcomes *o, MDB_txn *txn, uint64_t id)
{
	MDB_val k = { sizeof(id), &id };
	size_t i;
	int rc;

	for (i = 0; i < o->ncounted && o->counted[i] != id; i++)
		;
	if (i == o->ncounted)
		return 0;
	rc = mdb_del(txn, o->cleaning, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	/* Forgotten in memory even if the turn is replayed: the count then
	 * stays on disk, and only makes a later crash count once more. */
	o->counted[i] = o->counted[--o->ncounted];
	return 0;
}

int
outcome_slots_open(struct outcomes *o, const char *dir, char *err,
    size_t errlen)
{
	size_t len = OUTCOME_SLOTS * sizeof(uint64_t);
	char path[4096];
	struct stat st;
	void *m;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, OUTCOME_SLOTS_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1 || fstat(fd, &st) == -1 ||
	    ((size_t)st.st_size != len && ftruncate(fd, (off_t)len) == -1)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	o->slots = m;
	o->crashed = calloc(OUTCOME_SLOTS, sizeof(*o->crashed));
	if (o->crashed == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < OUTCOME_SLOTS; i++) {
		uint64_t id = atomic_load(&o->slots[i]);

		if (id != 0)
			o->crashed[o->ncrashed++] = id;
	}
	return 0;
}

void
outcome_close(struct outcomes *o)
{
	SAFE_FREE(o->counted);
	o->ncounted = 0;
	SAFE_FREE(o->crashed);
	o->ncrashed = 0;
}

void
outcome_slots_clear(struct outcomes *o)
{
	for (size_t i = 0; o->slots != NULL && i < OUTCOME_SLOTS; i++)
		atomic_store(&o->slots[i], 0);
	SAFE_FREE(o->crashed);
	o->ncrashed = 0;
}

int
outcome_recover(struct outcomes *o, MDB_txn *txn, uint32_t max,
    uint64_t *failed)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t *ids = NULL, id;
	uint32_t n;
	size_t nids = 0, cap = 0;
	char msg[128];
	bool requeued;
	int rc;

	*failed = 0;
	SAFE_FREE(o->counted);
	o->ncounted = 0;
	if ((rc = store_dbi(txn, "cleaning", MDB_INTEGERKEY,
	    &o->cleaning)) != 0)
		return rc;
	for (size_t i = 0; i < o->ncrashed; i++) {
		if ((rc = outcome_count_add(o, txn, o->crashed[i], &n)) != 0)
			return rc;
		log_notice("job %llu: a crash interrupted its cleaning (%u of "
		    "extract.max_interrupted %u)",
		    (unsigned long long)o->crashed[i], n, max);
	}
	if ((rc = mdb_cursor_open(txn, o->cleaning, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != sizeof(id) || v.mv_size != sizeof(n))
			continue;
		if (nids == cap) {
			uint64_t *t;

			cap = cap ? cap * 2 : 16;
			if ((t = realloc(ids, cap * sizeof(*t))) == NULL) {
				rc = ENOMEM;
				break;
			}
			ids = t;
		}
		memcpy(&ids[nids++], k.mv_data, sizeof(id));
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	/* Every count is kept in memory: those under max, to be deleted when
	 * their jobs' pages are recorded. */
	o->counted = ids;
	o->ncounted = nids;
	for (size_t i = 0; rc == 0 && i < o->ncounted; i++) {
		if ((rc = outcome_count_get(o, txn, o->counted[i], &n)) != 0 ||
		    n < max)
			continue;
		struct job_failure f = { .code = "too_complex", .message = msg,
		    .retryable = false, .retry_after_ms = -1 };

		snprintf(msg, sizeof(msg), "cleaning interrupted %u times "
		    "(extract.max_interrupted): the daemon stopped or crashed "
		    "while cleaning it", max);
		id = o->counted[i];
		rc = queue_fail(o->queue, txn, id, &f, now_ms(), &requeued);
		if (rc == 0) {
			log_notice("job %llu failed: too_complex: %s",
			    (unsigned long long)id, msg);
			(*failed)++;
		}
		if (rc == MDB_NOTFOUND || rc == MDB_KEYEXIST)
			rc = 0;		/* finished meanwhile */
		if (rc == 0 && (rc = outcome_count_forget(o, txn, id)) == 0)
			i--;	/* the last id moved into slot i */
	}
	return rc;
}

/* --- recording, in the turn's transaction -------------------------- */

/*
 * URL-level duplicate: the page names a same-site canonical URL (the
 * cleaner checked the site) that another job has fetched already.  A
 * canonical URL nobody has yet becomes another name of this job, so a
 * later submission of it is recognised.
 */
static int
outcome_canonical_dup(struct outcomes *o, MDB_txn *txn, struct completion *c,
    struct dedup_match *m)
{
	const char *cu = json_string_value(json_object_get(c->page->doc,
	    "canonical_url"));
	char *canon = NULL;
	uint64_t id;
	struct job j;
	int rc;

	if (cu == NULL || url_canonicalize(cu, o->url_opts, &canon) != URL_OK)
		return 0;
	rc = strcmp(canon, c->page->url) == 0 ? MDB_KEYEXIST :
	    queue_find_url(o->queue, txn, canon, &id);
	if (rc == MDB_NOTFOUND)
		rc = queue_alias_url(o->queue, txn, canon, c->job_id);
	else if (rc == 0 && id != c->job_id &&
	    (rc = queue_get(o->queue, txn, id, &j)) == 0) {
		if (j.doc_id != 0 && j.doc_id != c->job_id) {
			m->doc_id = j.doc_id;
			m->similarity = 1.0;
		}
		queue_job_free(&j);
	}
	free(canon);
	return rc == MDB_KEYEXIST || rc == MDB_NOTFOUND ? 0 : rc;
}

/* Marks doc as a copy of m's document and counts it. */
static int
outcome_mark_dup(struct outcomes *o, MDB_txn *txn, uint64_t id, json_t *doc,
    enum doc_dup_kind kind, const struct dedup_match *m)
{
	uint64_t *counter = kind == DOC_DUP_URL ? &o->queue->counts.dup_url :
	    kind == DOC_DUP_EXACT ? &o->queue->counts.dup_exact :
	    &o->queue->counts.dup_near;

	json_object_set_new(doc, "duplicate_of",
	    json_integer((json_int_t)m->doc_id));
	json_object_set_new(doc, "duplicate_kind",
	    json_string(doc_dup_kind_name(kind)));
	json_object_set_new(doc, "similarity", json_real(m->similarity));
	/* An exact copy's text is the first document's (the same normalised
	 * text): stored once, there.  A near or URL copy keeps its own, which
	 * differs. */
	if (kind == DOC_DUP_EXACT)
		json_object_set_new(doc, "text", json_null());
	(*counter)++;
	return doc_add_dup(o->docs, txn, m->doc_id, id, kind, m->similarity);
}

/* Adds id and the dedup verdict to the document: URL level first, then
 * exact and near content, looked up and recorded in this transaction. */
static int
outcome_finish_doc(struct outcomes *o, MDB_txn *txn, struct completion *c,
    char **json, uint64_t *flags)
{
	struct page *p = c->page;
	struct dedup_match m = { 0 };
	enum doc_dup_kind kind = DOC_DUP_URL;
	json_t *doc;
	int rc = outcome_canonical_dup(o, txn, c, &m);

	if (rc == 0 && m.doc_id == 0) {
		rc = dedup_check_insert(txn, o->dedup, c->job_id, &p->sig,
		    &o->page_opts->dedup, &m);
		kind = m.kind == DEDUP_EXACT ? DOC_DUP_EXACT : DOC_DUP_NEAR;
		dedup_note_full(o->dedup);
	}
	if (rc != 0)
		return rc;
	/* A shallow copy: the fields below are set on the copy only, and the
	 * page's document stays as it was should the turn be replayed. */
	doc = json_copy(p->doc);
	if (doc == NULL)
		return ENOMEM;
	json_object_set_new(doc, "id", json_integer((json_int_t)c->job_id));
	if (o->feeds != NULL &&
	    (rc = feeds_doc_meta(o->feeds, txn, c->job_id, doc)) != 0) {
		json_decref(doc);
		return rc;
	}
	json_object_set_new(doc, "duplicate_of", json_null());
	json_object_set_new(doc, "duplicate_kind", json_null());
	json_object_set_new(doc, "similarity", json_null());
	*flags = 0;
	if (m.doc_id != 0 && m.doc_id != c->job_id) {
		rc = outcome_mark_dup(o, txn, c->job_id, doc, kind, &m);
		*flags = DOC_DUPLICATE;
	}
	*json = rc == 0 ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return rc != 0 ? rc : *json ? 0 : ENOMEM;
}

/* A feed's poll: its entries are submitted (feeds.c); no document. */
static int
outcome_apply_poll(struct outcomes *o, MDB_txn *txn, struct completion *c,
    uint64_t now)
{
	struct page *p = c->page;
	int rc = queue_done(o->queue, txn, c->job_id, 0,
	    (uint32_t)p->res->http_status, now);

	if (rc == MDB_KEYEXIST || rc == MDB_NOTFOUND)
		return 0;	/* cancelled meanwhile */
	if (rc == 0)
		rc = feeds_polled(o->feeds, txn, c->job_id, p->res, p->feed,
		    p->feed_err, now);
	if (rc == 0)
		o->queue->counts.bytes += c->bytes;
	return rc;
}

static int
outcome_apply_done(struct outcomes *o, MDB_txn *txn, struct completion *c,
    uint64_t now)
{
	struct page *p = c->page;
	uint64_t flags = 0;
	char *json = NULL;
	int rc;

	if (p->poll)
		return outcome_apply_poll(o, txn, c, now);
	rc = queue_done(o->queue, txn, c->job_id, c->job_id,
	    (uint32_t)p->res->http_status, now);
	if (rc == MDB_KEYEXIST)
		return 0;	/* cancelled meanwhile: drop the result */
	if (rc == 0)
		rc = outcome_finish_doc(o, txn, c, &json, &flags);
	if (rc == 0)
		rc = doc_put(o->docs, txn, c->job_id, json, strlen(json),
		    p->fetched_ms, flags, p->raw, p->raw_len);
	/* In the same transaction as the document: its lines count for the
	 * site's later pages once this commits.  Not a copy's: the same
	 * story at another URL (an edition, a print view) repeats the
	 * story's lines, not the site's; counted, its paragraphs became
	 * boilerplate by the fourth copy (test_dedup's near copies). */
	if (rc == 0 && o->sitemem != NULL && (flags & DOC_DUPLICATE) == 0)
		rc = sitemem_record(o->sitemem, &p->site_doc);
	if (rc == 0 && o->stored != NULL)
		rc = o->stored(o->stored_arg, txn, c->job_id, p->url, &p->sig);
	free(json);
	if (rc == 0) {
		o->queue->counts.fetched++;
		o->queue->counts.bytes += c->bytes;
	}
	return rc;
}

/* Takes a redirect: the job is requeued for the target's host, or fails
 * (a scheme other than http/https, a loop, too many hops). */
static int
outcome_apply_redirect(struct outcomes *o, MDB_txn *txn,
    struct completion *c, uint64_t now)
{
	enum url_status st;
	enum redirect_outcome out = REDIRECT_QUEUED;
	char *target = NULL, *origin = NULL;
	uint64_t host = 0;
	int rc = 0;

	st = url_canonicalize(c->redirect, o->url_opts, &target);
	if (st == URL_OK)
		host = url_host_key(target, &origin);
	if (st == URL_OK && host != 0)
		rc = queue_redirect(o->queue, txn, c->job_id, target, host,
		    origin, o->cfg->max_redirects, now, &out);
	if (rc == 0 && out == REDIRECT_QUEUED && st == URL_OK && host != 0) {
		bool handed = false;

		if (o->redirected != NULL)
			rc = o->redirected(o->stored_arg, txn, c->job_id,
			    target, host, now, &handed);
		if (rc == 0 && !handed)
			sched_ready(o->sched, host, 0);
	}
	else if (rc == 0) {
		/* redirects is for loops and long chains; a target that is
		 * not a URL we may fetch is the page's error. */
		snprintf(c->code, sizeof(c->code), "%s",
		    st == URL_BAD_SCHEME ? "bad_scheme" : st != URL_OK ||
		    host == 0 ? "bad_redirect" : "redirects");
		snprintf(c->msg, sizeof(c->msg), "redirect to %.200s: %s",
		    c->redirect, st != URL_OK ? url_status_message(st) :
		    host == 0 ? "no host to fetch" : out == REDIRECT_LOOP ?
		    "a loop" : "too many redirects");
		c->retryable = false;
		SAFE_FREE(c->redirect);
	}
	free(target);
	free(origin);
	return rc == MDB_KEYEXIST || rc == MDB_NOTFOUND ? 0 : rc;
}

static int
outcome_apply_not_modified(struct outcomes *o, MDB_txn *txn,
    struct completion *c, uint64_t now)
{
	struct job j;
	int rc = queue_get(o->queue, txn, c->job_id, &j);

	if (rc == 0) {
		rc = queue_done(o->queue, txn, c->job_id, j.doc_id, 304, now);
		queue_job_free(&j);
	}
	if (rc == 0 && o->feeds != NULL && feeds_owns(o->feeds, c->job_id)) {
		struct fetch_result r = { .http_status = 304 };
		rc = feeds_polled(o->feeds, txn, c->job_id, &r, NULL, 0, now);
	}
	if (rc == 0)
		o->queue->counts.not_modified++;
	return rc == MDB_KEYEXIST || rc == MDB_NOTFOUND ? 0 : rc;
}

static int
outcome_apply_one(struct outcomes *o, MDB_txn *txn, struct completion *c,
    uint64_t now)
{
	struct job_failure f;
	bool requeued;
	int rc;

	c->failed = false;
	if (c->cleaned && (rc = outcome_count_forget(o, txn, c->job_id)) != 0)
		return rc;
	/* Interrupted at shutdown: the job is fetched again, and captured
	 * then, once. */
	if (c->forget)
		return 0;
	warc_put(o->warc, c->warc);
	if (c->page != NULL)
		return outcome_apply_done(o, txn, c, now);
	if (c->redirect != NULL) {
		rc = outcome_apply_redirect(o, txn, c, now);
		if (rc != 0 || c->redirect != NULL)
			return rc;
		/* else: record the failure outcome_apply_redirect described */
	}
	if (c->not_modified)
		return outcome_apply_not_modified(o, txn, c, now);
	f.code = c->code;
	f.message = c->msg;
	f.http_status = c->http_status;
	f.retryable = c->retryable;
	f.retry_after_ms = c->retry_after_ms;
	rc = queue_fail(o->queue, txn, c->job_id, &f, now, &requeued);
	if (rc == MDB_KEYEXIST || rc == MDB_NOTFOUND)
		return 0;
	c->failed = rc == 0 && !requeued;
	if (c->failed && o->feeds != NULL && feeds_owns(o->feeds, c->job_id))
		rc = feeds_failed(o->feeds, txn, c->job_id, c->code, now);
	return rc;
}

int
outcome_apply(void *arg, MDB_txn *txn, uint64_t now)
{
	struct outcomes *o = arg;
	int rc = 0;

	assert(txn != NULL);
	for (struct completion *c = o->head; c != NULL && rc == 0;
	    c = c->next)
		rc = outcome_apply_one(o, txn, c, now);
	return rc;
}

void
outcome_abort(void *arg)
{
	struct outcomes *o = arg;

	dedup_rollback(o->dedup);
}

/* --- after the commit ---------------------------------------------- */

static void
outcome_rate_count(struct outcomes *o, uint64_t n)
{
	uint64_t sec = mono_ms() / 1000;

	if (sec != o->rate_sec) {
		for (uint64_t s = o->rate_sec + 1; s <= sec &&
		    s <= o->rate_sec + OUTCOME_RATE_WINDOW; s++)
			o->rate[s % OUTCOME_RATE_WINDOW] = 0;
		o->rate_sec = sec;
	}
	o->rate[sec % OUTCOME_RATE_WINDOW] += n;
}

double
outcome_rate(struct outcomes *o)
{
	uint64_t sum = 0, up = (mono_ms() - o->started_mono) / 1000 + 1;

	outcome_rate_count(o, 0);
	for (int i = 0; i < OUTCOME_RATE_WINDOW; i++)
		sum += o->rate[i];
	/* In the first minute, over the time the daemon has been up. */
	return (double)sum / (double)(up < OUTCOME_RATE_WINDOW ? up :
	    OUTCOME_RATE_WINDOW);
}

static uint64_t
outcome_free_list(struct outcomes *o)
{
	struct completion *c, *next;
	uint64_t n = 0;

	for (c = o->head; c != NULL; c = next) {
		next = c->next;
		page_free(c->page);
		free(c->redirect);
		free(c->url);
		warc_capture_free(c->warc);
		free(c);
		n++;
	}
	o->head = NULL;
	o->tail = &o->head;
	o->count = 0;
	return n;
}

void
outcome_finish(struct outcomes *o)
{
	uint64_t now = now_ms();

	for (const struct completion *c = o->head; c != NULL; c = c->next) {
		const char *url = c->url ? c->url : c->page ? c->page->url :
		    NULL;
		if (!c->failed)
			continue;
		/* Once per job, when it fails for good (retries are not
		 * logged). */
		log_notice("job %llu failed: %s: %s: %s",
		    (unsigned long long)c->job_id, url ? url : "(no URL)",
		    c->code, c->msg);
		if (o->metrics != NULL)
			metrics_failure(o->metrics, c->job_id, url, c->code,
			    c->http_status, now);
	}
	outcome_rate_count(o, outcome_free_list(o));
}

void
outcome_free_pending(struct outcomes *o)
{
	(void)outcome_free_list(o);
}
