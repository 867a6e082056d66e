/*
 * reclean.c - re-cleaning stored documents in the background (see
 * reclean.h for what changes and how dedup stays consistent).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "doc.h"
#include "log.h"
#include "page.h"
#include "queue.h"
#include "reclean.h"
#include "sitemem.h"
#include "store.h"
#include "util.h"
#include "warcbody.h"
#include "work.h"

#define RECLEAN_SCAN_MAX	1000	/* documents looked at per feed */

struct reclean_item {
	struct work_item	 item;		/* must stay first */
	struct reclean		*rc;
	uint64_t		 id;
	json_t			*doc;		/* as stored */
	void			*raw;
	size_t			 raw_len;
	bool			 in_warc;	/* raw is read from loc */
	struct warcbody_loc	 loc;
	size_t			 max_raw;
	const char		*url;		/* in doc */
	const char		*ctype;		/* in doc, or NULL */
	struct page_opts	 opts;		/* a copy: reload-safe */
	char			 site[SITEMEM_NAME_MAX + 1];
	/* the worker's */
	enum sluice_extract_status status;
	char			*text;
	size_t			 words;
	struct dedup_sig	 sig;
	char			 hash[2 * sizeof(((struct dedup_sig *)0)->exact)
				     + 1];
	bool			 changed;	/* its text is not the stored */
	bool			 unreadable;	/* the WARC record: why says */
	char			 why[PATH_MAX + 160];
	bool			 applied;	/* in this turn */
	struct reclean_item	*next;
};

static void
reclean_item_free(struct reclean_item *ri)
{
	if (ri->doc != NULL)
		json_decref(ri->doc);
	free(ri->raw);
	free(ri->text);
	free(ri);
}

int
reclean_start(struct reclean *rc, const char *site, uint64_t since_ms,
    uint64_t now)
{
	char *s = NULL;

	if (rc->running)
		return -1;
	if (site != NULL && (s = strdup(site)) == NULL)
		return -1;
	free(rc->site);
	rc->site = s;
	rc->since_ms = since_ms;
	rc->next_after = 0;
	rc->scanned = false;
	rc->running = true;
	rc->started_ms = now;
	rc->read = rc->cleaned = rc->changed = rc->failed = rc->skipped = 0;
	rc->unreadable = 0;
	rc->relinked = 0;
	log_notice("reclean: started (%s%s, since %llu ms)", s ? "site " :
	    "every site", s ? s : "", (unsigned long long)since_ms);
	return 0;
}

/* --- the worker's part --------------------------------------------- */

static int
reclean_interrupted(void *arg)
{
	const struct reclean_item *ri = arg;

	return ri->item.stop != NULL && atomic_load(ri->item.stop);
}

/* Cleans the stored body as a fetched page would be, and signs it. */
static void
reclean_run(struct work_item *it)
{
	struct reclean_item *ri = (struct reclean_item *)it;
	const char *old_text = json_string_value(json_object_get(ri->doc,
	    "text")), *old_hash = json_string_value(json_object_get(ri->doc,
	    "content_hash"));
	struct sluice_extract_report rep;
	struct sluice_extract_doc d;
	char err[256];

	memset(&d, 0, sizeof(d));
	if (ri->in_warc && warcbody_load(&ri->loc, ri->max_raw, &ri->raw,
	    &ri->raw_len, ri->why, sizeof(ri->why)) != 0) {
		ri->unreadable = true;
		ri->status = SLUICE_EXTRACT_ERROR;
		return;
	}
	ri->opts.budget.interrupt = reclean_interrupted;
	ri->opts.budget.interrupt_arg = ri;
	if (ri->opts.extract.site_memory != NULL) {
		if (sitemem_site_of(ri->url, ri->site, sizeof(ri->site)))
			ri->opts.extract.site = ri->site;
		else
			ri->opts.extract.site_memory = NULL;
	}
	ri->status = sluice_extract_page_budget(ri->raw, ri->raw_len, ri->url,
	    ri->ctype, &ri->opts.extract, &ri->opts.budget, &rep, &d, err,
	    sizeof(err));
	if (ri->status == SLUICE_EXTRACT_OK ||
	    ri->status == SLUICE_EXTRACT_EMPTY) {
		ri->text = d.text != NULL ? d.text : strdup("");
		d.text = NULL;
		ri->words = d.word_count;
		if (ri->text != NULL) {
			dedup_signature(ri->text, strlen(ri->text),
			    &ri->opts.dedup, &ri->sig);
			for (size_t i = 0; i < sizeof(ri->sig.exact); i++)
				snprintf(ri->hash + 2 * i, 3, "%02x",
				    ri->sig.exact[i]);
			ri->changed = old_hash == NULL ||
			    strcmp(old_hash, ri->hash) != 0 ||
			    (old_text != NULL && strcmp(old_text, ri->text) != 0);
		} else
			ri->status = SLUICE_EXTRACT_ERROR;
	}
	sluice_extract_doc_free(&d);
	SAFE_FREE(ri->raw);
}

/* Loop thread: a worker finished ri. */
static void
reclean_done(struct work_item *it, void *arg)
{
	struct reclean_item *ri = (struct reclean_item *)it, **p;
	struct reclean *rc = arg;

	rc->inflight--;
	/* Kept in id order: a first copy is written before its copies. */
	for (p = &rc->results; *p != NULL && (*p)->id < ri->id; p = &(*p)->next)
		;
	ri->next = *p;
	*p = ri;
}

/* --- feeding ------------------------------------------------------- */

/* An item for document id if it is one to re-clean: 1 submitted, 0 not
 * wanted (or skipped), else an LMDB error. */
static int
reclean_one(struct reclean *rc, MDB_txn *txn, uint64_t id)
{
	struct reclean_item *ri;
	char site[SITEMEM_NAME_MAX + 1];
	const char *url;
	json_t *doc;
	int r;

	if ((r = doc_get(rc->docs, txn, id, &doc)) != 0)
		return r == MDB_CORRUPTED ? 0 : r;
	url = json_string_value(json_object_get(doc, "final_url"));
	if (url == NULL)
		url = json_string_value(json_object_get(doc, "url"));
	if (url == NULL || (rc->site != NULL &&
	    (!sitemem_site_of(url, site, sizeof(site)) ||
	    strcmp(site, rc->site) != 0))) {
		json_decref(doc);
		return 0;
	}
	rc->read++;
	if ((ri = calloc(1, sizeof(*ri))) == NULL) {
		json_decref(doc);
		return ENOMEM;
	}
	ri->doc = doc;
	r = doc_get_raw(rc->docs, txn, id, rc->max_raw, &ri->raw,
	    &ri->raw_len);
	/* Not in LMDB: the WARC record that holds it, read by the worker. */
	if (r == MDB_NOTFOUND && warcbody_find_doc(txn, rc->warc_bodies, doc,
	    &ri->loc) == 0) {
		ri->in_warc = true;
		ri->max_raw = rc->max_raw;
		r = 0;
	}
	if (r != 0) {
		rc->skipped++;
		reclean_item_free(ri);
		return r == ENOMEM ? r : 0;
	}
	ri->rc = rc;
	ri->id = id;
	ri->url = url;
	ri->ctype = json_string_value(json_object_get(doc, "content_type"));
	ri->opts = *rc->page_opts;
	ri->item.run = reclean_run;
	ri->item.done = reclean_done;
	ri->item.done_arg = rc;
	rc->inflight++;
	work_submit(rc->work, &ri->item);
	return 1;
}

/* Ends a pass that has nothing left anywhere. */
static void
reclean_maybe_end(struct reclean *rc)
{
	if (!rc->running || !rc->scanned || rc->inflight > 0 ||
	    rc->results != NULL)
		return;
	rc->running = false;
	log_notice("reclean: done: %llu documents re-cleaned, %llu changed, "
	    "%llu duplicate links changed, %llu failed, %llu without a "
	    "stored body (%llu of them in WARC records that could not be "
	    "read back)", (unsigned long long)rc->cleaned,
	    (unsigned long long)rc->changed, (unsigned long long)rc->relinked,
	    (unsigned long long)rc->failed, (unsigned long long)rc->skipped,
	    (unsigned long long)rc->unreadable);
}

void
reclean_feed(struct reclean *rc)
{
	uint64_t id, ms;
	MDB_txn *txn;
	int r = 0;

	if (!reclean_wants_feed(rc)) {
		reclean_maybe_end(rc);
		return;
	}
	if (store_txn_read(rc->store, &txn) != 0)
		return;		/* the next pass tries again */
	for (int n = 0; n < RECLEAN_SCAN_MAX &&
	    rc->inflight < RECLEAN_BATCH; n++) {
		r = doc_next(rc->docs, txn, rc->next_after, &id, &ms);
		if (r != 0)
			break;
		rc->next_after = id;
		if (ms < rc->since_ms)
			continue;
		r = reclean_one(rc, txn, id);
		if (r != 0 && r != 1)
			break;
		r = 0;
	}
	mdb_txn_abort(txn);
	if (r == MDB_NOTFOUND)
		rc->scanned = true;
	else if (r != 0) {
		log_warnx("reclean: stopped: %s", mdb_strerror(r));
		rc->scanned = true;
	}
	reclean_maybe_end(rc);
}

/* A batch goes out when the last one is written: its results are then
 * written in id order, a first copy before its copies. */
bool
reclean_wants_feed(const struct reclean *rc)
{
	return rc->running && !rc->scanned && rc->work != NULL &&
	    rc->inflight == 0 && rc->results == NULL;
}

/* --- the turn ------------------------------------------------------ */

/* A batch is written whole, once back: in id order. */
static bool
reclean_ready(const struct reclean *rc, const struct reclean_item *ri)
{
	(void)ri;
	return rc->inflight == 0;
}

bool
reclean_pending(const struct reclean *rc)
{
	return rc->results != NULL && reclean_ready(rc, rc->results);
}

static void
reclean_count(struct reclean *rc, const char *kind, int delta)
{
	struct queue_counts *q = &rc->queue->counts;
	uint64_t *c = kind == NULL ? NULL : strcmp(kind, "exact") == 0 ?
	    &q->dup_exact : strcmp(kind, "near") == 0 ? &q->dup_near : NULL;

	if (c != NULL && (delta > 0 || *c > 0))
		*c += (uint64_t)(int64_t)delta;
}

/* Sets doc's duplicate fields: a copy of first (kind, sim), or none. */
static void
reclean_set_dup(json_t *doc, uint64_t first, const char *kind, double sim)
{
	json_object_set_new(doc, "duplicate_of", first ? json_integer(
	    (json_int_t)first) : json_null());
	json_object_set_new(doc, "duplicate_kind", first ? json_string(kind) :
	    json_null());
	json_object_set_new(doc, "similarity", first ? json_real(sim) :
	    json_null());
}

/* A copy (exact or near) of first, judged again; *flags set. */
static int
reclean_rejudge(struct reclean *rc, MDB_txn *txn, struct reclean_item *ri,
    json_t *doc, uint64_t first, const char *old, uint64_t *flags)
{
	const struct dedup_opts *o = &ri->opts.dedup;
	struct dedup_match m;
	enum dedup_kind k;
	double sim;
	int r = dedup_verdict(txn, rc->dedup, first, &ri->sig, o, &k, &sim);

	if (r == 0 && k == DEDUP_NONE) {
		/* No copy of it now: checked like a new document. */
		if ((r = doc_del_dup(rc->docs, txn, first, ri->id)) == 0)
			r = dedup_check_insert(txn, rc->dedup, ri->id, &ri->sig,
			    o, &m);
		if (r != 0)
			return r;
		k = m.doc_id != 0 && m.doc_id != ri->id ? m.kind : DEDUP_NONE;
		first = k != DEDUP_NONE ? m.doc_id : 0;
		sim = m.similarity;
	}
	if (r != 0)
		return r;
	if (k == DEDUP_NONE || strcmp(old, dedup_kind_name(k)) != 0 ||
	    first != (uint64_t)json_integer_value(json_object_get(doc,
	    "duplicate_of")))
		rc->t_relinked++;
	reclean_count(rc, old, -1);
	*flags = 0;
	reclean_set_dup(doc, first, k != DEDUP_NONE ? dedup_kind_name(k) :
	    NULL, sim);
	if (k == DEDUP_NONE)
		return 0;
	reclean_count(rc, dedup_kind_name(k), 1);
	*flags = DOC_DUPLICATE;
	if (k == DEDUP_EXACT)
		json_object_set_new(doc, "text", json_null());
	return doc_add_dup(rc->docs, txn, first, ri->id, k == DEDUP_EXACT ?
	    DOC_DUP_EXACT : DOC_DUP_NEAR, sim);
}

struct reclean_copies {
	uint64_t	*id;
	enum doc_dup_kind *kind;
	double		*sim;
	size_t		 n, cap;
	bool		 oom;
};

static int
reclean_copy_add(uint64_t copy, enum doc_dup_kind kind, double sim,
    void *arg)
{
	struct reclean_copies *cs = arg;
	size_t cap = cs->cap ? cs->cap * 2 : 16;
	void *a, *b, *c;

	if (cs->n == cs->cap) {
		a = realloc(cs->id, cap * sizeof(*cs->id));
		b = a ? realloc(cs->kind, cap * sizeof(*cs->kind)) : NULL;
		c = b ? realloc(cs->sim, cap * sizeof(*cs->sim)) : NULL;
		if (a != NULL)
			cs->id = a;
		if (b != NULL)
			cs->kind = b;
		if (c == NULL) {
			cs->oom = true;
			return 1;
		}
		cs->sim = c;
		cs->cap = cap;
	}
	cs->id[cs->n] = copy;
	cs->kind[cs->n] = kind;
	cs->sim[cs->n++] = sim;
	return 0;
}

/* The copies of from become copies of to, of the same kind: a copy of a
 * copy is a copy of the first (each is judged again when re-cleaned). */
static int
reclean_repoint(struct reclean *rc, MDB_txn *txn, uint64_t from, uint64_t to)
{
	struct reclean_copies cs = { 0 };
	json_t *doc;
	char *json;
	int r = doc_walk_dups(rc->docs, txn, from, reclean_copy_add, &cs);

	if (r == 0 && cs.oom)
		r = ENOMEM;
	for (size_t i = 0; i < cs.n && r == 0; i++) {
		if ((r = doc_del_dup(rc->docs, txn, from, cs.id[i])) != 0 ||
		    (r = doc_add_dup(rc->docs, txn, to, cs.id[i], cs.kind[i],
		    cs.sim[i])) != 0 ||
		    (r = doc_get(rc->docs, txn, cs.id[i], &doc)) != 0)
			break;
		json_object_set_new(doc, "duplicate_of",
		    json_integer((json_int_t)to));
		json = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		if (json == NULL)
			r = ENOMEM;
		else
			r = doc_update(rc->docs, txn, cs.id[i], json,
			    strlen(json), DOC_DUPLICATE);
		free(json);
		rc->t_relinked++;
	}
	free(cs.id);
	free(cs.kind);
	free(cs.sim);
	return r;
}

/*
 * A first copy whose text changed: a copy now of an earlier first (it
 * leaves the index, and its copies follow it to that first), or still a
 * first, indexed under its new text.
 */
static int
reclean_first(struct reclean *rc, MDB_txn *txn, struct reclean_item *ri,
    json_t *doc, uint64_t *flags)
{
	struct dedup_sig none = { 0 };
	struct dedup_match m;
	const char *kind;
	int r = dedup_find_other(txn, rc->dedup, ri->id, &ri->sig,
	    &ri->opts.dedup, &m);

	if (r != 0)
		return r;
	if (m.kind == DEDUP_NONE || m.doc_id > ri->id)
		return dedup_replace(txn, rc->dedup, ri->id, &ri->sig);
	if ((r = dedup_replace(txn, rc->dedup, ri->id, &none)) != 0 ||
	    (r = reclean_repoint(rc, txn, ri->id, m.doc_id)) != 0)
		return r;
	kind = dedup_kind_name(m.kind);
	reclean_set_dup(doc, m.doc_id, kind, m.similarity);
	reclean_count(rc, kind, 1);
	rc->t_relinked++;
	*flags = DOC_DUPLICATE;
	if (m.kind == DEDUP_EXACT)
		json_object_set_new(doc, "text", json_null());
	return doc_add_dup(rc->docs, txn, m.doc_id, ri->id, m.kind ==
	    DEDUP_EXACT ? DOC_DUP_EXACT : DOC_DUP_NEAR, m.similarity);
}

/* Writes one result: the new text, the dedup records and links. */
static int
reclean_write(struct reclean *rc, MDB_txn *txn, struct reclean_item *ri)
{
	json_t *first_v = json_object_get(ri->doc, "duplicate_of"), *doc;
	const char *kind = json_string_value(json_object_get(ri->doc,
	    "duplicate_kind"));
	uint64_t flags = 0;
	char *json;
	int r = 0;

	/* A first copy whose text is the same has nothing to change; a
	 * copy is judged again anyway: its first may have changed. */
	if (!ri->changed && !json_is_integer(first_v))
		return 0;
	if ((doc = json_copy(ri->doc)) == NULL)
		return ENOMEM;
	json_object_set_new(doc, "text", json_string(ri->text));
	json_object_set_new(doc, "word_count", json_integer((json_int_t)
	    ri->words));
	json_object_set_new(doc, "empty", json_boolean(ri->words == 0));
	json_object_set_new(doc, "content_hash", json_string(ri->hash));
	if (!json_is_integer(first_v))
		r = reclean_first(rc, txn, ri, doc, &flags);
	else if (kind != NULL && strcmp(kind, "url") == 0)
		flags = DOC_DUPLICATE;
	else
		r = reclean_rejudge(rc, txn, ri, doc,
		    (uint64_t)json_integer_value(first_v), kind ? kind : "",
		    &flags);
	json = r == 0 ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (r == 0 && json == NULL)
		r = ENOMEM;
	if (r == 0)
		r = doc_update(rc->docs, txn, ri->id, json, strlen(json),
		    flags);
	free(json);
	if (r == 0 && ri->changed)
		rc->t_changed++;
	return r == MDB_NOTFOUND ? 0 : r;
}

int
reclean_apply(void *arg, MDB_txn *txn, uint64_t now)
{
	struct reclean *rc = arg;
	int r = 0;

	(void)now;
	rc->t_changed = rc->t_relinked = 0;
	for (struct reclean_item *ri = rc->results; ri != NULL && r == 0 &&
	    reclean_ready(rc, ri); ri = ri->next) {
		ri->applied = true;
		if (ri->status == SLUICE_EXTRACT_OK ||
		    ri->status == SLUICE_EXTRACT_EMPTY)
			r = reclean_write(rc, txn, ri);
	}
	return r;
}

void
reclean_abort(void *arg)
{
	struct reclean *rc = arg;

	rc->t_changed = rc->t_relinked = 0;
	for (struct reclean_item *ri = rc->results; ri != NULL; ri = ri->next)
		ri->applied = false;
}

void
reclean_commit(struct reclean *rc)
{
	struct reclean_item *ri;

	while ((ri = rc->results) != NULL && ri->applied) {
		rc->results = ri->next;
		if (ri->status == SLUICE_EXTRACT_OK ||
		    ri->status == SLUICE_EXTRACT_EMPTY)
			rc->cleaned++;
		else if (ri->unreadable) {
			/* One line a pass: the rest are likely the same. */
			if (rc->unreadable++ == 0)
				log_warnx("reclean: document %llu: its body's "
				    "WARC record cannot be read back: %s",
				    (unsigned long long)ri->id, ri->why);
			rc->skipped++;
		} else
			rc->failed++;
		reclean_item_free(ri);
	}
	rc->changed += rc->t_changed;
	rc->relinked += rc->t_relinked;
	rc->t_changed = rc->t_relinked = 0;
	reclean_maybe_end(rc);
}

json_t *
reclean_status_json(const struct reclean *rc)
{
	return json_pack("{s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "running", rc->running, "site", rc->site ? json_string(rc->site) :
	    json_null(), "read", (json_int_t)rc->read, "cleaned",
	    (json_int_t)rc->cleaned, "changed", (json_int_t)rc->changed,
	    "relinked", (json_int_t)rc->relinked, "failed",
	    (json_int_t)rc->failed, "skipped", (json_int_t)rc->skipped,
	    "unreadable", (json_int_t)rc->unreadable);
}

void
reclean_free(struct reclean *rc)
{
	struct reclean_item *ri;

	while ((ri = rc->results) != NULL) {
		rc->results = ri->next;
		reclean_item_free(ri);
	}
	SAFE_FREE(rc->site);
	rc->running = false;
}
