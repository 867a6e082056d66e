/*
 * feeds.c - sources and their state in LMDB, polls submitted as ordinary
 * jobs, their answers turned into entries and the next poll (see feeds.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <xxhash.h>

#include "config.h"
#include "feed.h"
#include "feed_find.h"
#include "feed_poll.h"
#include "feeds.h"
#include "fetch.h"
#include "hosts.h"
#include "log.h"
#include "queue.h"
#include "robots.h"
#include "sched.h"
#include "store.h"
#include "url.h"
#include "util.h"

#define DAY_MS		(24 * 3600 * 1000ULL)

/* --- the mirror ---------------------------------------------------- */

static struct feeds_src *
feeds_src_find(struct feeds *f, uint64_t id)
{
	for (size_t i = 0; i < f->nsrc; i++)
		if (f->src[i].id == id)
			return &f->src[i];
	return NULL;
}

static int
feeds_src_set(struct feeds *f, uint64_t id, uint64_t next_ms, bool polling)
{
	struct feeds_src *s = feeds_src_find(f, id);

	if (s == NULL) {
		if (f->nsrc == f->capsrc) {
			size_t cap = f->capsrc ? f->capsrc * 2 : 16;
			void *p = realloc(f->src, cap * sizeof(*f->src));
			if (p == NULL)
				return ENOMEM;
			f->src = p;
			f->capsrc = cap;
		}
		s = &f->src[f->nsrc++];
		s->id = id;
	}
	s->next_ms = next_ms;
	s->polling = polling;
	s->check_ms = next_ms + f->cfg->feed_max_interval_ms;
	return 0;
}

static void
feeds_src_del(struct feeds *f, uint64_t id)
{
	struct feeds_src *s = feeds_src_find(f, id);

	if (s != NULL)
		*s = f->src[--f->nsrc];
}

/* The index of job_id in the map, or where it would go. */
static size_t
feeds_map_at(const struct feeds *f, uint64_t job_id)
{
	size_t lo = 0, hi = f->nmap;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->map[mid].job_id < job_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
feeds_map_add(struct feeds *f, uint64_t job_id, uint64_t feed_id)
{
	size_t i = feeds_map_at(f, job_id);

	if (i < f->nmap && f->map[i].job_id == job_id) {
		f->map[i].feed_id = feed_id;
		return 0;
	}
	if (f->nmap == f->capmap) {
		size_t cap = f->capmap ? f->capmap * 2 : 64;
		void *p = realloc(f->map, cap * sizeof(*f->map));
		if (p == NULL)
			return ENOMEM;
		f->map = p;
		f->capmap = cap;
	}
	memmove(&f->map[i + 1], &f->map[i], (f->nmap - i) * sizeof(*f->map));
	f->map[i] = (struct feeds_job){ job_id, feed_id };
	f->nmap++;
	return 0;
}

bool
feeds_owns(const struct feeds *f, uint64_t job_id)
{
	size_t i = feeds_map_at(f, job_id);

	return i < f->nmap && f->map[i].job_id == job_id;
}

uint64_t
feeds_next_due(const struct feeds *f)
{
	uint64_t due = 0;

	for (size_t i = 0; !f->off && i < f->nsrc; i++) {
		const struct feeds_src *s = &f->src[i];
		uint64_t t = s->polling ? s->check_ms : s->next_ms;
		if (s->next_ms != 0 && (due == 0 || t < due))
			due = t;
	}
	return due;
}

/* --- records ------------------------------------------------------- */

static int
feeds_json_get(MDB_txn *txn, MDB_dbi dbi, uint64_t id, json_t **out)
{
	unsigned char key[8];
	MDB_val k = { 8, key }, v;
	int rc;

	*out = NULL;
	store_put_be64(key, id);
	if ((rc = mdb_get(txn, dbi, &k, &v)) != 0)
		return rc;
	*out = json_loadb(v.mv_data, v.mv_size, 0, NULL);
	return *out != NULL ? 0 : MDB_CORRUPTED;
}

static int
feeds_json_put(MDB_txn *txn, MDB_dbi dbi, uint64_t id, json_t *o)
{
	unsigned char key[8];
	MDB_val k = { 8, key }, v;
	char *s = json_dumps(o, JSON_COMPACT);
	int rc;

	if (s == NULL)
		return ENOMEM;
	store_put_be64(key, id);
	v.mv_size = strlen(s);
	v.mv_data = s;
	rc = mdb_put(txn, dbi, &k, &v, 0);
	free(s);
	return rc;
}

static uint64_t
jget_u64(json_t *o, const char *name)
{
	json_int_t v = json_integer_value(json_object_get(o, name));

	return v > 0 ? (uint64_t)v : 0;
}

static const char *
jget_str(json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

static void
jset_u64(json_t *o, const char *name, uint64_t v)
{
	json_object_set_new(o, name, json_integer((json_int_t)v));
}

static void
jset_str(json_t *o, const char *name, const char *s)
{
	json_object_set_new(o, name, s != NULL ? json_string(s) : json_null());
}

static int
feeds_load(struct feeds *f, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	f->nsrc = f->nmap = 0;
	f->next_id = 1;
	if ((rc = mdb_cursor_open(txn, f->db, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		json_t *o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
		uint64_t id = store_get_be64(k.mv_data);

		if (id >= f->next_id)
			f->next_id = id + 1;
		if (o == NULL)
			continue;	/* damaged: never polled */
		rc = feeds_src_set(f, id, jget_u64(o, "next_poll"),
		    json_is_true(json_object_get(o, "polling")));
		json_decref(o);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	if ((rc = mdb_cursor_open(txn, f->jobs, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		json_t *o = json_loadb(v.mv_data, v.mv_size, 0, NULL);

		if (o == NULL)
			continue;
		rc = feeds_map_add(f, store_get_be64(k.mv_data),
		    jget_u64(o, "feed"));
		json_decref(o);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	f->reload = false;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
feeds_open(struct feeds *f, MDB_txn *txn)
{
	int rc;

	if ((rc = store_dbi(txn, "feeds", 0, &f->db)) != 0 ||
	    (rc = store_dbi(txn, "feed_jobs", 0, &f->jobs)) != 0 ||
	    (rc = store_dbi(txn, "feed_seen", 0, &f->seen)) != 0 ||
	    (rc = store_dbi(txn, "feed_meta", 0, &f->meta)) != 0)
		return rc;
	return feeds_load(f, txn);
}

void
feeds_close(struct feeds *f)
{
	SAFE_FREE(f->src);
	SAFE_FREE(f->map);
	f->nsrc = f->capsrc = f->nmap = f->capmap = 0;
}

/* --- polls --------------------------------------------------------- */

/*
 * Submits url (canonical) as a poll of feed_id: forced, so that a
 * finished job goes back to the queue.  child: a child sitemap, with the
 * lastmod its index gives (want).  *job gets the job's id.
 */
static int
feeds_submit_poll(struct feeds *f, MDB_txn *txn, const char *url,
    uint64_t feed_id, int32_t prio, bool child, int64_t want, uint64_t now,
    uint64_t *job)
{
	struct submit_result r = { 0 };
	char *origin = NULL;
	uint64_t host = url_host_key(url, &origin);
	json_t *fj = NULL;
	int rc;

	if (host == 0)
		return EINVAL;
	rc = queue_submit(f->queue, txn, url, host, origin, prio, 0, true, now,
	    &r);
	free(origin);
	if (rc != 0)
		return rc;
	if (r.status == SUBMIT_REQUEUED)
		sched_ready(f->sched, host, prio);
	rc = feeds_json_get(txn, f->jobs, r.id, &fj);
	if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED) {
		fj = json_object();
		rc = fj != NULL ? 0 : ENOMEM;
	}
	if (rc != 0)
		return rc;
	jset_u64(fj, "feed", feed_id);
	json_object_set_new(fj, "child", json_boolean(child));
	if (child)
		json_object_set_new(fj, "want", json_integer(want));
	rc = feeds_json_put(txn, f->jobs, r.id, fj);
	json_decref(fj);
	if (rc == 0)
		rc = feeds_map_add(f, r.id, feed_id);
	*job = r.id;
	return rc;
}

/* Submits the poll of source s, due now. */
static int
feeds_poll_one(struct feeds *f, MDB_txn *txn, struct feeds_src *s,
    uint64_t now)
{
	json_t *rec;
	uint64_t job = 0;
	int rc = feeds_json_get(txn, f->db, s->id, &rec);

	if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED) {
		s->next_ms = 0;
		return 0;
	}
	if (rc != 0)
		return rc;
	rc = feeds_submit_poll(f, txn, jget_str(rec, "url"), s->id,
	    (int32_t)json_integer_value(json_object_get(rec, "priority")),
	    false, FEED_NO_TIME, now, &job);
	if (rc == EINVAL) {
		s->next_ms = 0;	/* cannot happen: checked at add */
		rc = 0;
	} else if (rc == 0) {
		jset_u64(rec, "job", job);
		json_object_set_new(rec, "polling", json_true());
		rc = feeds_json_put(txn, f->db, s->id, rec);
		s->polling = true;
		s->check_ms = now + f->cfg->feed_max_interval_ms;
	}
	json_decref(rec);
	return rc;
}

/*
 * A source polling for longer than feeds.max_interval past its due time:
 * if its job ended without an answer reaching feeds_polled() or
 * feeds_failed() (a client cancelled it), it is due again.  A job still
 * queued or active (a host backed off, robots.txt unreachable) waits.
 */
static int
feeds_poll_lost(struct feeds *f, MDB_txn *txn, struct feeds_src *s,
    uint64_t now)
{
	json_t *rec;
	struct job j;
	int rc = feeds_json_get(txn, f->db, s->id, &rec);

	if (rc != 0)
		return rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ? 0 : rc;
	rc = queue_get(f->queue, txn, jget_u64(rec, "job"), &j);
	if (rc == 0 && (j.state == JOB_QUEUED || j.state == JOB_ACTIVE)) {
		s->check_ms = now + f->cfg->feed_max_interval_ms;
		queue_job_free(&j);
		json_decref(rec);
		return 0;
	}
	if (rc == 0)
		queue_job_free(&j);
	if (rc == 0 || rc == MDB_NOTFOUND || rc == MDB_CORRUPTED) {
		json_object_set_new(rec, "polling", json_false());
		rc = feeds_json_put(txn, f->db, s->id, rec);
		s->polling = false;
	}
	json_decref(rec);
	return rc;
}

int
feeds_step(void *arg, MDB_txn *txn, uint64_t now)
{
	struct feeds *f = arg;
	unsigned n = 0;
	int rc = 0;

	f->saved = f->counts;
	if (f->reload && (rc = feeds_load(f, txn)) != 0)
		return rc;
	if (f->queue->store->full || f->off)
		return 0;	/* no room for the entries either */
	for (size_t i = 0; i < f->nsrc && n < FEEDS_BATCH && rc == 0; i++) {
		struct feeds_src *s = &f->src[i];
		if (s->polling && s->next_ms != 0 && s->check_ms <= now)
			rc = feeds_poll_lost(f, txn, s, now);
		if (rc != 0 || s->polling || s->next_ms == 0 ||
		    s->next_ms > now)
			continue;
		rc = feeds_poll_one(f, txn, s, now);
		n++;
	}
	return rc;
}

void
feeds_abort(void *arg)
{
	struct feeds *f = arg;

	f->counts = f->saved;
	f->reload = true;
}

int
feeds_validators(struct feeds *f, MDB_txn *txn, uint64_t job_id,
    char **etag, char **last_modified)
{
	json_t *fj;
	const char *s;
	int rc = feeds_json_get(txn, f->jobs, job_id, &fj);

	*etag = *last_modified = NULL;
	if (rc != 0)
		return rc == MDB_CORRUPTED || rc == MDB_NOTFOUND ? 0 : rc;
	if ((s = jget_str(fj, "etag")) != NULL)
		*etag = strdup(s);
	if ((s = jget_str(fj, "last_modified")) != NULL)
		*last_modified = strdup(s);
	json_decref(fj);
	return 0;
}

/* --- entries ------------------------------------------------------- */

/* What one poll found, as it goes. */
struct feeds_poll {
	json_t		*rec;
	uint64_t	 feed_id;
	int32_t		 prio;
	uint64_t	 now;
	uint64_t	 remembered;
	bool		 baseline;	/* remember, submit nothing */
	unsigned	 new, known, old;
};

static void
feeds_seen_key(unsigned char key[16], uint64_t feed_id, const char *url)
{
	store_put_be64(key, feed_id);
	store_put_be64(key + 8, XXH3_64bits(url, strlen(url)));
}

/* The entry's title, date and author, for the document (feeds_doc_meta). */
static int
feeds_meta_put(struct feeds *f, MDB_txn *txn, uint64_t job_id,
    uint64_t feed_id, const char *title, const char *author, int64_t date)
{
	json_t *m = json_object();
	char ts[40];
	int rc;

	if (m == NULL)
		return ENOMEM;
	jset_u64(m, "feed_id", feed_id);
	if (title != NULL)
		jset_str(m, "title", title);
	if (author != NULL)
		jset_str(m, "author", author);
	if (date != FEED_NO_TIME && date >= 0)
		jset_str(m, "date", fmt_time_ms((uint64_t)date, ts,
		    sizeof(ts)));
	rc = feeds_json_put(txn, f->meta, job_id, m);
	json_decref(m);
	return rc;
}

/*
 * One entry: skipped when older than feeds.max_age, remembered (the
 * source's own memory, then the queue's URL dedup), else submitted the way
 * `submit` does it.
 */
static int
feeds_entry(struct feeds *f, MDB_txn *txn, struct feeds_poll *p,
    const char *given, const char *title, const char *author, int64_t date,
    int64_t lastmod)
{
	unsigned char key[16], val[8];
	MDB_val k = { 16, key }, v = { 8, val }, old;
	struct submit_result r = { 0 };
	int64_t t = date != FEED_NO_TIME ? date : lastmod;
	char *url = NULL, *origin = NULL;
	uint64_t host;
	int rc;

	if (f->cfg->feed_max_age_ms > 0 && t != FEED_NO_TIME &&
	    t < (int64_t)p->now - (int64_t)f->cfg->feed_max_age_ms) {
		p->old++;
		return 0;
	}
	if (url_canonicalize(given, f->url_opts, &url) != URL_OK)
		return 0;
	feeds_seen_key(key, p->feed_id, url);
	store_put_be64(val, p->now);
	rc = mdb_get(txn, f->seen, &k, &old);
	if (rc == 0) {
		p->known++;
		rc = mdb_put(txn, f->seen, &k, &v, 0);
		goto out;
	}
	if (rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	if (p->remembered < f->cfg->feed_max_remembered) {
		if ((rc = mdb_put(txn, f->seen, &k, &v, 0)) != 0)
			goto out;
		p->remembered++;
	}
	if (p->baseline) {
		p->known++;
		goto out;
	}
	host = url_host_key(url, &origin);
	if (host == 0)
		goto out;
	rc = queue_submit(f->queue, txn, url, host, origin, p->prio, 0, false,
	    p->now, &r);
	if (rc != 0)
		goto out;
	if (r.status == SUBMIT_QUEUED) {
		p->new++;
		rc = feeds_meta_put(f, txn, r.id, p->feed_id, title, author,
		    date != FEED_NO_TIME ? date : lastmod);
	} else
		p->known++;
out:
	free(url);
	free(origin);
	return rc;
}

/*
 * Forgets the entries of feed_id not listed for feeds.max_age plus
 * feeds.max_interval (they would be skipped as old, or the queue knows
 * their URLs), or all of them with all, and counts the rest.
 */
static int
feeds_seen_sweep(struct feeds *f, MDB_txn *txn, uint64_t feed_id,
    bool all, uint64_t now, uint64_t *kept)
{
	uint64_t keep = f->cfg->feed_max_age_ms + f->cfg->feed_max_interval_ms;
	unsigned char key[8];
	MDB_val k = { 8, key }, v;
	MDB_cursor *cur;
	int rc;

	*kept = 0;
	store_put_be64(key, feed_id);
	if ((rc = mdb_cursor_open(txn, f->seen, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 16 || store_get_be64(k.mv_data) != feed_id)
			break;
		if (!all && v.mv_size == 8 &&
		    store_get_be64(v.mv_data) + keep >= now) {
			(*kept)++;
			continue;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

static int
feeds_seen_prune(struct feeds *f, MDB_txn *txn, uint64_t feed_id,
    uint64_t now, uint64_t *kept)
{
	return feeds_seen_sweep(f, txn, feed_id, false, now, kept);
}

/* Its polls are ordinary jobs again: a later submit of the URL is a page. */
static int
feeds_jobs_drop(struct feeds *f, MDB_txn *txn, uint64_t feed_id)
{
	MDB_cursor *cur;
	MDB_val k, v;
	size_t keep = 0;
	int rc;

	if ((rc = mdb_cursor_open(txn, f->jobs, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		json_t *o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
		bool mine = o != NULL && jget_u64(o, "feed") == feed_id;

		if (o != NULL)
			json_decref(o);
		if (mine && (rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	for (size_t i = 0; i < f->nmap; i++)
		if (f->map[i].feed_id != feed_id)
			f->map[keep++] = f->map[i];
	f->nmap = keep;
	return 0;
}

/* Forgets every entry of a removed source. */
static int
feeds_seen_drop(struct feeds *f, MDB_txn *txn, uint64_t feed_id)
{
	uint64_t kept;

	return feeds_seen_sweep(f, txn, feed_id, true, 0, &kept);
}

/*
 * The child sitemaps of an index: those whose lastmod changed (or that
 * give none, or are new) are polled; the others are not fetched again.
 */
static int
feeds_children(struct feeds *f, MDB_txn *txn, struct feeds_poll *p,
    const struct feed_doc *doc)
{
	int rc = 0;

	for (size_t i = 0; i < doc->nchildren && rc == 0; i++) {
		const struct feed_child *c = &doc->children[i];
		char *url = NULL;
		uint64_t id, job;
		json_t *fj = NULL;
		bool same = false;

		if (url_canonicalize(c->url, f->url_opts, &url) != URL_OK)
			continue;
		rc = queue_find_url(f->queue, txn, url, &id);
		if (rc == 0 && feeds_json_get(txn, f->jobs, id, &fj) == 0) {
			json_t *lm = json_object_get(fj, "lastmod");
			/* An index that lists a source (itself, say) does
			 * not make it a child: the source polls itself. */
			bool source = !json_is_true(json_object_get(fj,
			    "child"));
			same = source || (c->lastmod_ms != FEED_NO_TIME &&
			    json_is_integer(lm) &&
			    json_integer_value(lm) == c->lastmod_ms);
			json_decref(fj);
		}
		if (rc == 0 || rc == MDB_NOTFOUND)
			rc = 0;
		if (rc == 0 && same)
			f->counts.children_unchanged++;
		else if (rc == 0) {
			rc = feeds_submit_poll(f, txn, url, p->feed_id,
			    p->prio, true, c->lastmod_ms, p->now, &job);
			if (rc == EINVAL)
				rc = 0;
			else if (rc == 0)
				f->counts.children_fetched++;
		}
		free(url);
	}
	return rc;
}

/* Same-site links of an HTML page, for a site without feeds. */
static void
feeds_links_walk(struct feeds *f, MDB_txn *txn, struct feeds_poll *p,
    xmlNode *n, const char *base, int *rc, size_t *count)
{
	for (; n != NULL && *rc == 0 && *count < f->cfg->feed_max_entries;
	    n = n->next) {
		if (n->type == XML_ELEMENT_NODE &&
		    xmlStrcasecmp(n->name, BAD_CAST "a") == 0) {
			xmlChar *href = xmlGetProp(n, BAD_CAST "href");
			char *abs = href ? feed_resolve_url(base,
			    (const char *)href) : NULL;
			if (abs != NULL && url_same_site(base, abs) &&
			    strchr(abs, '#') == NULL) {
				(*count)++;
				*rc = feeds_entry(f, txn, p, abs, NULL, NULL,
				    FEED_NO_TIME, FEED_NO_TIME);
			}
			free(abs);
			xmlFree(href);
		}
		feeds_links_walk(f, txn, p, n->children, base, rc, count);
	}
}

static int
feeds_links(struct feeds *f, MDB_txn *txn, struct feeds_poll *p,
    const struct fetch_result *r, const char *url)
{
	const char *base = r->final_url ? r->final_url : url;
	size_t len = r->body.len, count = 0;
	htmlDocPtr doc;
	int rc = 0;

	if (len > f->cfg->feed_max_bytes)
		len = f->cfg->feed_max_bytes;
	if (len == 0 || len > (size_t)INT32_MAX)
		return 0;
	doc = htmlReadMemory(r->body.data, (int)len, base, NULL,
	    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
	    HTML_PARSE_NONET | HTML_PARSE_COMPACT);
	if (doc == NULL)
		return 0;
	feeds_links_walk(f, txn, p, xmlDocGetRootElement(doc), base, &rc,
	    &count);
	xmlFreeDoc(doc);
	return rc;
}

/* --- sources ------------------------------------------------------- */

static json_t *feeds_public(json_t *rec, uint64_t now);

static json_t *
feeds_record(uint64_t id, const char *url, const char *kind, int32_t prio,
    uint64_t interval_ms, uint64_t min_ms, uint64_t now)
{
	json_t *rec = json_object();

	if (rec == NULL)
		return NULL;
	jset_u64(rec, "id", id);
	jset_str(rec, "url", url);
	jset_str(rec, "kind", kind);
	json_object_set_new(rec, "priority", json_integer(prio));
	jset_u64(rec, "interval_ms", interval_ms ? interval_ms : min_ms);
	json_object_set_new(rec, "fixed", json_boolean(interval_ms != 0));
	jset_u64(rec, "created", now);
	jset_u64(rec, "next_poll", now);
	json_object_set_new(rec, "polling", json_false());
	json_object_set_new(rec, "found", json_array());
	jset_u64(rec, "polls", 0);
	jset_u64(rec, "entries", 0);
	return rec;
}

/* Looks a source up by canonical URL: its id, or 0. */
static int
feeds_find_url(struct feeds *f, MDB_txn *txn, const char *url,
    uint64_t *id)
{
	*id = 0;
	for (size_t i = 0; i < f->nsrc; i++) {
		json_t *rec;
		int rc = feeds_json_get(txn, f->db, f->src[i].id, &rec);
		if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED)
			continue;
		if (rc != 0)
			return rc;
		if (strcmp(jget_str(rec, "url") ? jget_str(rec, "url") : "",
		    url) == 0)
			*id = f->src[i].id;
		json_decref(rec);
		if (*id != 0)
			break;
	}
	return 0;
}

enum feeds_status
feeds_add(struct feeds *f, MDB_txn *txn, const char *given, const char *kind,
    int32_t priority, uint64_t interval_ms, uint64_t now, json_t **out,
    int *rc)
{
	char *url = NULL, *origin = NULL;
	uint64_t id;
	json_t *rec;

	*out = NULL;
	*rc = 0;
	if (url_canonicalize(given, f->url_opts, &url) != URL_OK)
		return FEEDS_BAD_URL;
	if (url_host_key(url, &origin) == 0) {
		free(url);
		return FEEDS_BAD_URL;
	}
	free(origin);
	if ((*rc = feeds_find_url(f, txn, url, &id)) != 0 || id != 0) {
		if (*rc == 0)
			feeds_get(f, txn, id, now, out);
		free(url);
		return FEEDS_EXISTS;
	}
	if (f->nsrc >= f->cfg->feed_max_sources) {
		free(url);
		return FEEDS_FULL;
	}
	if (interval_ms != 0 && interval_ms < f->cfg->feed_min_interval_ms)
		interval_ms = f->cfg->feed_min_interval_ms;
	id = f->next_id;
	rec = feeds_record(id, url, kind, priority, interval_ms,
	    f->cfg->feed_min_interval_ms, now);
	free(url);
	if (rec == NULL) {
		*rc = ENOMEM;
		return FEEDS_OK;
	}
	*rc = feeds_json_put(txn, f->db, id, rec);
	if (*rc == 0)
		*rc = feeds_src_set(f, id, now, false);
	if (*rc == 0) {
		f->next_id++;
		*out = feeds_public(rec, now);
	}
	json_decref(rec);
	return FEEDS_OK;
}

/* Adds a source that discovery found, under parent. */
static int
feeds_add_child(struct feeds *f, MDB_txn *txn, const char *url,
    const char *kind, json_t *parent, uint64_t now, bool *added)
{
	json_t *pub = NULL, *rec = NULL;
	uint64_t id;
	int rc;
	enum feeds_status st = feeds_add(f, txn, url, kind,
	    (int32_t)json_integer_value(json_object_get(parent, "priority")),
	    0, now, &pub, &rc);

	*added = st == FEEDS_OK && rc == 0 && pub != NULL;
	if (*added) {
		id = jget_u64(pub, "id");
		rc = feeds_json_get(txn, f->db, id, &rec);
	}
	if (*added && rc == 0) {
		json_object_set(rec, "parent", json_object_get(parent, "id"));
		rc = feeds_json_put(txn, f->db, id, rec);
		json_decref(rec);
	}
	if (pub != NULL)
		json_decref(pub);
	return rc;
}

/*
 * site add: the page came back.  The sources found in the order:
 * robots.txt's Sitemap: lines and the page's feed links are added; with
 * none, the usual paths are probed (each one a source of kind "probe"
 * until its first answer); with none of those, the page is polled for
 * new links (kind "links").
 */
static int
feeds_discover(struct feeds *f, MDB_txn *txn, json_t *rec,
    const struct fetch_result *r, uint64_t now)
{
	const char *url = r->final_url ? r->final_url : jget_str(rec, "url");
	struct robots *robots = NULL;
	struct robots_limits lim;
	struct hosts_robots hr;
	struct feed_find ff;
	char *origin = NULL, err[128];
	uint64_t host = url_host_key(jget_str(rec, "url"), &origin);
	unsigned found = 0, probes = 0;
	bool added;
	int rc = 0;

	free(origin);
	robots_limits_default(&lim);
	if (host != 0 && hosts_robots_get(f->hosts, txn, host, &hr) == 0 &&
	    hr.policy == ROBOTS_PARSE_BODY)
		robots = robots_parse(hr.body ? hr.body : "", hr.len, &lim, err,
		    sizeof(err));
	feed_find_init(&ff, 0);
	if (feed_find_sources(&ff, robots, r->body.data, r->body.len,
	    url) == -1)
		rc = ENOMEM;
	robots_free(robots);
	for (size_t i = 0; i < ff.n && rc == 0; i++)
		if (ff.items[i].origin != FEED_FIND_GUESS) {
			rc = feeds_add_child(f, txn, ff.items[i].url, "feed",
			    rec, now, &added);
			found += added;
		}
	for (size_t i = 0; i < ff.n && rc == 0 && found == 0; i++)
		if (ff.items[i].origin == FEED_FIND_GUESS) {
			rc = feeds_add_child(f, txn, ff.items[i].url, "probe",
			    rec, now, &added);
			probes += added;
		}
	feed_find_free(&ff);
	jset_u64(rec, "sources", found);
	jset_u64(rec, "probes", probes);
	json_object_set_new(rec, "discovered", json_true());
	log_info("site %s: %u sources found, %u usual paths to probe%s",
	    jget_str(rec, "url"), found, probes, found + probes == 0 ?
	    "; polling the page for links" : "");
	if (found == 0 && probes == 0) {
		jset_str(rec, "kind", "links");
		json_object_set_new(rec, "baseline", json_true());
	}
	return rc;
}

/* A probe ended: found a feed (ok) or not.  Its site learns it; the last
 * probe of a site without any source turns the site into a links source.
 */
static int
feeds_probe_done(struct feeds *f, MDB_txn *txn, json_t *probe, bool ok,
    uint64_t now)
{
	uint64_t pid = jget_u64(probe, "parent"), left;
	json_t *site;
	int rc = feeds_json_get(txn, f->db, pid, &site);

	if (rc != 0)
		return rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ? 0 : rc;
	left = jget_u64(site, "probes");
	jset_u64(site, "probes", left > 0 ? left - 1 : 0);
	if (ok)
		jset_u64(site, "sources", jget_u64(site, "sources") + 1);
	else if (left <= 1 && jget_u64(site, "sources") == 0) {
		jset_str(site, "kind", "links");
		json_object_set_new(site, "baseline", json_true());
		jset_u64(site, "next_poll", now);
		rc = feeds_src_set(f, pid, now, false);
	}
	if (rc == 0)
		rc = feeds_json_put(txn, f->db, pid, site);
	json_decref(site);
	return rc;
}

static int
feeds_drop(struct feeds *f, MDB_txn *txn, uint64_t id)
{
	unsigned char key[8];
	MDB_val k = { 8, key };
	int rc;

	store_put_be64(key, id);
	rc = mdb_del(txn, f->db, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	feeds_src_del(f, id);
	if ((rc = feeds_jobs_drop(f, txn, id)) != 0)
		return rc;
	return feeds_seen_drop(f, txn, id);
}

/* Adds n entries found now to the last day's list, and drops older. */
static void
feeds_found_add(json_t *rec, unsigned n, uint64_t now)
{
	json_t *found = json_object_get(rec, "found"), *keep = json_array();
	size_t i;
	json_t *e;

	json_array_foreach(found, i, e) {
		uint64_t t = (uint64_t)json_integer_value(json_array_get(e, 0));
		if (t + DAY_MS > now)
			json_array_append(keep, e);
	}
	if (n > 0)
		json_array_append_new(keep, json_pack("[I, i]",
		    (json_int_t)now, (int)n));
	json_object_set_new(rec, "found", keep);
	jset_u64(rec, "entries", jget_u64(rec, "entries") + n);
}

static uint64_t
feeds_found_day(json_t *rec, uint64_t now)
{
	json_t *found = json_object_get(rec, "found"), *e;
	uint64_t n = 0;
	size_t i;

	json_array_foreach(found, i, e) {
		uint64_t t = (uint64_t)json_integer_value(json_array_get(e, 0));
		if (t + DAY_MS > now)
			n += (uint64_t)json_integer_value(json_array_get(e, 1));
	}
	return n;
}

/* The hints of the last document parsed, for the 304s that follow. */
static void
feeds_hints_keep(json_t *rec, const struct feed_hints *h)
{
	json_object_set_new(rec, "hints", json_pack("[I, I, I]",
	    (json_int_t)h->ttl_ms, (json_int_t)h->update_ms,
	    (json_int_t)h->max_age_ms));
}

static void
feeds_hints_get(json_t *rec, struct feed_hints *h)
{
	json_t *a = json_object_get(rec, "hints");

	if (json_array_size(a) != 3)
		return;
	h->ttl_ms = json_integer_value(json_array_get(a, 0));
	h->update_ms = json_integer_value(json_array_get(a, 1));
	h->max_age_ms = json_integer_value(json_array_get(a, 2));
}

/* The next poll of rec after one that found n new entries. */
static void
feeds_schedule(struct feeds *f, json_t *rec, unsigned n,
    const struct feed_hints *h, uint64_t now)
{
	struct feed_poll_params pp;
	int64_t iv = (int64_t)jget_u64(rec, "interval_ms");

	feed_poll_params_default(&pp);
	pp.min_ms = (int64_t)f->cfg->feed_min_interval_ms;
	pp.max_ms = (int64_t)f->cfg->feed_max_interval_ms;
	if (pp.max_ms < pp.min_ms)
		pp.max_ms = pp.min_ms;
	if (!json_is_true(json_object_get(rec, "fixed")))
		iv = feed_next_interval(iv, n, &pp, h);
	jset_u64(rec, "interval_ms", (uint64_t)iv);
	jset_u64(rec, "next_poll", now + (uint64_t)iv);
	jset_u64(rec, "last_poll", now);
	jset_u64(rec, "polls", jget_u64(rec, "polls") + 1);
	json_object_set_new(rec, "polling", json_false());
}

/* Ends a poll of the source in rec (not a child's): the record and the
 * mirror take the next poll. */
static int
feeds_poll_end(struct feeds *f, MDB_txn *txn, uint64_t id, json_t *rec,
    const char *result, long status, unsigned n,
    const struct feed_hints *h, uint64_t now)
{
	const char *kind = jget_str(rec, "kind");
	uint64_t next;

	feeds_schedule(f, rec, n, h, now);
	jset_str(rec, "last_result", result);
	json_object_set_new(rec, "last_status", json_integer(status));
	jset_u64(rec, "last_new", n);
	feeds_found_add(rec, n, now);
	next = jget_u64(rec, "next_poll");
	/* A site that discovered its sources is not polled itself; one
	 * whose page could not be fetched yet is. */
	if (kind != NULL && strcmp(kind, "site") == 0 &&
	    json_is_true(json_object_get(rec, "discovered")))
		next = 0;
	jset_u64(rec, "next_poll", next);
	if (feeds_src_set(f, id, next, false) != 0)
		return ENOMEM;
	return feeds_json_put(txn, f->db, id, rec);
}

int
feeds_polled(struct feeds *f, MDB_txn *txn, uint64_t job_id,
    const struct fetch_result *r, const struct feed_doc *doc, int perr,
    uint64_t now)
{
	struct feeds_poll p = { .now = now };
	struct feed_hints h = { FEED_NO_TIME, FEED_NO_TIME, FEED_NO_TIME };
	const char *result = "unchanged";
	char kind[16];		/* a copy: the record's may be replaced */
	json_t *fj = NULL, *rec = NULL;
	bool child, changed = r->http_status != 304;
	uint64_t kept;
	int rc = feeds_json_get(txn, f->jobs, job_id, &fj);

	if (rc != 0)
		return rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ? 0 : rc;
	p.feed_id = jget_u64(fj, "feed");
	child = json_is_true(json_object_get(fj, "child"));
	if ((rc = feeds_json_get(txn, f->db, p.feed_id, &rec)) != 0) {
		json_decref(fj);
		return rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ? 0 : rc;
	}
	snprintf(kind, sizeof(kind), "%s", jget_str(rec, "kind") ?
	    jget_str(rec, "kind") : "feed");
	p.rec = rec;
	p.prio = (int32_t)json_integer_value(json_object_get(rec, "priority"));
	p.remembered = jget_u64(rec, "remembered");
	f->counts.polls++;
	if (changed) {
		/* The validators of this answer, for the next poll. */
		jset_str(fj, "etag", r->etag);
		jset_str(fj, "last_modified", r->last_modified);
	} else
		f->counts.not_modified++;
	if (!changed) {
		result = "not_modified";
		feeds_hints_get(rec, &h);
	}
	else if (!child && strcmp(kind, "site") == 0 && doc == NULL) {
		rc = feeds_discover(f, txn, rec, r, now);
		result = "discovered";
	} else if (!child && strcmp(kind, "links") == 0) {
		/* The first poll's links are the baseline: "new" is new
		 * since then. */
		p.baseline = json_is_true(json_object_get(rec, "baseline"));
		json_object_del(rec, "baseline");
		rc = feeds_links(f, txn, &p, r, jget_str(rec, "url"));
		result = p.new > 0 ? "new" : "unchanged";
	} else if (doc == NULL) {
		f->counts.errors++;
		result = feed_error_name((enum feed_error)perr);
		/* Kept through the 304s that follow, until a good parse. */
		jset_str(rec, "last_error", result);
		if (!child && strcmp(kind, "probe") == 0) {
			/* Not a feed where the usual path was tried. */
			rc = feeds_probe_done(f, txn, rec, false, now);
			if (rc == 0)
				rc = feeds_drop(f, txn, p.feed_id);
			goto out;
		}
	} else {
		f->counts.changed++;
		json_object_del(rec, "last_error");
		/* site add of a feed's own URL: it is the source. */
		if (!child && strcmp(kind, "site") == 0)
			jset_str(rec, "kind", "feed");
		if (!child && strcmp(kind, "probe") == 0) {
			jset_str(rec, "kind", "feed");
			rc = feeds_probe_done(f, txn, rec, true, now);
		}
		if (rc == 0 && doc->format == FEED_SITEMAP_INDEX)
			rc = feeds_children(f, txn, &p, doc);
		for (size_t i = 0; i < doc->nentries && rc == 0; i++) {
			const struct feed_entry *e = &doc->entries[i];
			rc = feeds_entry(f, txn, &p, e->url, e->title,
			    e->author, e->date_ms, e->lastmod_ms);
		}
		if (!child)
			jset_str(rec, "format", feed_format_name(doc->format));
		h = doc->hints;
		h.max_age_ms = feed_max_age_ms(r->cache_control);
		if (!child)
			feeds_hints_keep(rec, &h);
		result = p.new > 0 ? "new" : "unchanged";
	}
	/* A source's own answer listed what it lists now: the rest of its
	 * memory ages (a child lists only its part). */
	if (rc == 0 && changed && !child &&
	    (doc != NULL || strcmp(kind, "links") == 0)) {
		rc = feeds_seen_prune(f, txn, p.feed_id, now, &kept);
		p.remembered = kept;
	}
	if (rc != 0)
		goto out;
	f->counts.entries_new += p.new;
	f->counts.entries_known += p.known;
	f->counts.entries_old += p.old;
	jset_u64(rec, "remembered", p.remembered);
	if (child) {
		/* The lastmod the index gave is the child's once it is
		 * read (or unchanged). */
		if (doc != NULL || !changed)
			json_object_set(fj, "lastmod",
			    json_object_get(fj, "want"));
		feeds_found_add(rec, p.new, now);
		if (p.new > 0)
			jset_u64(rec, "last_new", jget_u64(rec, "last_new") +
			    p.new);
		rc = feeds_json_put(txn, f->db, p.feed_id, rec);
	} else
		rc = feeds_poll_end(f, txn, p.feed_id, rec, result,
		    r->http_status, p.new, &h, now);
	if (rc == 0)
		rc = feeds_json_put(txn, f->jobs, job_id, fj);
out:
	json_decref(fj);
	json_decref(rec);
	return rc;
}

int
feeds_failed(struct feeds *f, MDB_txn *txn, uint64_t job_id,
    const char *code, uint64_t now)
{
	json_t *fj = NULL, *rec = NULL;
	uint64_t id;
	const char *kind;
	char result[64];
	int rc = feeds_json_get(txn, f->jobs, job_id, &fj);

	if (rc != 0)
		return rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ? 0 : rc;
	id = jget_u64(fj, "feed");
	f->counts.polls++;
	f->counts.errors++;
	if (json_is_true(json_object_get(fj, "child")) ||
	    (rc = feeds_json_get(txn, f->db, id, &rec)) != 0) {
		json_decref(fj);
		return rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ? 0 : rc;
	}
	json_decref(fj);
	kind = jget_str(rec, "kind");
	if (kind != NULL && strcmp(kind, "probe") == 0) {
		rc = feeds_probe_done(f, txn, rec, false, now);
		if (rc == 0)
			rc = feeds_drop(f, txn, id);
	} else {
		snprintf(result, sizeof(result), "error: %s", code);
		jset_str(rec, "last_error", code);
		rc = feeds_poll_end(f, txn, id, rec, result, 0, 0, NULL, now);
	}
	json_decref(rec);
	return rc;
}

int
feeds_doc_meta(struct feeds *f, MDB_txn *txn, uint64_t job_id, json_t *doc)
{
	static const char *const fields[] = { "title", "date", "author" };
	json_t *m;
	int rc = feeds_json_get(txn, f->meta, job_id, &m);

	if (rc != 0)
		return rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ? 0 : rc;
	json_object_set(doc, "feed_id", json_object_get(m, "feed_id"));
	for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
		json_t *v = json_object_get(doc, fields[i]);
		json_t *e = json_object_get(m, fields[i]);
		if ((v == NULL || json_is_null(v)) && e != NULL)
			json_object_set(doc, fields[i], e);
	}
	json_decref(m);
	return 0;
}

enum feeds_status
feeds_rm(struct feeds *f, MDB_txn *txn, uint64_t id, const char *given,
    json_t **out, int *rc)
{
	char *url = NULL;

	*out = NULL;
	*rc = 0;
	if (given != NULL) {
		if (url_canonicalize(given, f->url_opts, &url) != URL_OK)
			return FEEDS_NOT_FOUND;
		*rc = feeds_find_url(f, txn, url, &id);
		free(url);
		if (*rc != 0)
			return FEEDS_OK;
	}
	if (id == 0 || feeds_get(f, txn, id, now_ms(), out) != 0 ||
	    *out == NULL)
		return FEEDS_NOT_FOUND;
	*rc = feeds_drop(f, txn, id);
	return FEEDS_OK;
}

/* --- what clients see --------------------------------------------- */

static json_t *
feeds_time(json_t *rec, const char *name)
{
	uint64_t ms = jget_u64(rec, name);
	char ts[40];

	return ms ? json_string(fmt_time_ms(ms, ts, sizeof(ts))) : json_null();
}

/* A record as `feeds` and `feed` give it. */
static json_t *
feeds_public(json_t *rec, uint64_t now)
{
	json_t *o = json_pack("{s:O, s:O, s:O, s:O, s:O*, s:I, s:b, s:o, s:o, "
	    "s:O*, s:O*, s:I, s:I, s:I, s:I, s:b}",
	    "id", json_object_get(rec, "id"),
	    "url", json_object_get(rec, "url"),
	    "kind", json_object_get(rec, "kind"),
	    "priority", json_object_get(rec, "priority"),
	    "format", json_object_get(rec, "format"),
	    "interval_s", (json_int_t)(jget_u64(rec, "interval_ms") / 1000),
	    "fixed_interval", json_is_true(json_object_get(rec, "fixed")),
	    "next_poll", feeds_time(rec, "next_poll"),
	    "last_poll", feeds_time(rec, "last_poll"),
	    "last_result", json_object_get(rec, "last_result"),
	    "last_status", json_object_get(rec, "last_status"),
	    "entries_1d", (json_int_t)feeds_found_day(rec, now),
	    "entries", (json_int_t)jget_u64(rec, "entries"),
	    "polls", (json_int_t)jget_u64(rec, "polls"),
	    "remembered", (json_int_t)jget_u64(rec, "remembered"),
	    "polling", json_is_true(json_object_get(rec, "polling")));

	if (o != NULL)
		json_object_set(o, "last_error",
		    json_object_get(rec, "last_error") ?
		    json_object_get(rec, "last_error") : json_null());
	if (o != NULL && json_object_get(rec, "parent") != NULL)
		json_object_set(o, "parent", json_object_get(rec, "parent"));
	return o;
}

int
feeds_get(struct feeds *f, MDB_txn *txn, uint64_t id, uint64_t now,
    json_t **out)
{
	json_t *rec;
	int rc = feeds_json_get(txn, f->db, id, &rec);

	*out = NULL;
	if (rc != 0)
		return rc;
	*out = feeds_public(rec, now);
	json_decref(rec);
	return *out != NULL ? 0 : ENOMEM;
}

int
feeds_list(struct feeds *f, MDB_txn *txn, uint64_t now, json_t **out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((*out = json_array()) == NULL)
		return ENOMEM;
	if ((rc = mdb_cursor_open(txn, f->db, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		json_t *rec = json_loadb(v.mv_data, v.mv_size, 0, NULL);
		if (rec == NULL)
			continue;
		json_array_append_new(*out, feeds_public(rec, now));
		json_decref(rec);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

json_t *
feeds_counts_json(const struct feeds *f)
{
	const struct feeds_counts *c = &f->counts;

	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "sources", (json_int_t)f->nsrc,
	    "polls", (json_int_t)c->polls,
	    "changed", (json_int_t)c->changed,
	    "not_modified", (json_int_t)c->not_modified,
	    "errors", (json_int_t)c->errors,
	    "entries_new", (json_int_t)c->entries_new,
	    "entries_known", (json_int_t)c->entries_known,
	    "entries_old", (json_int_t)c->entries_old,
	    "children_fetched", (json_int_t)c->children_fetched,
	    "children_unchanged", (json_int_t)c->children_unchanged);
}
