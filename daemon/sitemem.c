/*
 * sitemem.c - the site memory of the daemon: LMDB records, the staged
 * copy of a turn, and what each site's cleaning dropped (see sitemem.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "sitemem.h"
#include "util.h"

#define STAMP_LEN	8

/* A site the turn changed; dump is its record, once sitemem_apply ran. */
struct sitemem_touched {
	char		*site;
	void		*dump;
	size_t		 len;
};

struct sitemem_line {
	char		*text;
	uint64_t	 pages;
};

/* What one site's cleaning dropped: the SITEMEM_TOP lines seen most
 * (the space-saving count: a newcomer replaces the rarest line and
 * inherits its count, so a frequent line is never missed). */
struct sitemem_drops {
	char		*site;
	uint64_t	 used;		/* sm->stamp when last noted */
	uint64_t	 pages;		/* pages that dropped lines */
	struct sitemem_line top[SITEMEM_TOP];
	size_t		 ntop;
};

int
sitemem_init(struct sitemem *sm, const struct sluice_site_memory_opts *opts)
{
	memset(sm, 0, sizeof(*sm));
	if (opts == NULL)
		return 0;
	sm->opts = *opts;
	sm->live = sluice_site_memory_new(opts);
	return sm->live != NULL ? 0 : -1;
}

static void
sitemem_drops_clear(struct sitemem_drops *d)
{
	free(d->site);
	for (size_t i = 0; i < d->ntop; i++)
		free(d->top[i].text);
	memset(d, 0, sizeof(*d));
}

/* Forgets the turn's stage and lists. */
static void
sitemem_reset(struct sitemem *sm)
{
	for (size_t i = 0; i < sm->ntouched; i++) {
		free(sm->touched[i].site);
		free(sm->touched[i].dump);
	}
	sm->ntouched = 0;
	sm->ndocs = 0;
	sluice_site_memory_free(sm->stage);
	sm->stage = NULL;
}

void
sitemem_free(struct sitemem *sm)
{
	sitemem_reset(sm);
	free(sm->touched);
	free(sm->docs);
	for (size_t i = 0; i < sm->ndrops; i++)
		sitemem_drops_clear(&sm->drops[i]);
	free(sm->drops);
	sluice_site_memory_free(sm->live);
	memset(sm, 0, sizeof(*sm));
}

struct sluice_site_memory *
sitemem_live(const struct sitemem *sm)
{
	return sm->live;
}

bool
sitemem_site_of(const char *url, char *buf, size_t len)
{
	const char *h, *e, *at;
	size_t n;

	if (url == NULL || (h = strstr(url, "://")) == NULL)
		return false;
	h += 3;
	e = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(e - h));
	if (at != NULL)
		h = at + 1;
	if (*h == '[') {		/* an IPv6 literal keeps its colons */
		const char *rb = memchr(h, ']', (size_t)(e - h));
		if (rb != NULL)
			e = rb + 1;
	} else
		e = h + strcspn(h, ":/?#");
	if ((size_t)(e - h) > 4 && strncasecmp(h, "www.", 4) == 0)
		h += 4;
	n = (size_t)(e - h);
	if (n == 0 || n >= len || n > SITEMEM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)h[i]);
	buf[n] = '\0';
	return true;
}

/* --- loading ------------------------------------------------------- */

struct sitemem_rec {
	uint64_t	 stamp;
	MDB_val		 key, val;
};

static uint64_t
sitemem_stamp(const MDB_val *v)
{
	const unsigned char *p = v->mv_data;
	uint64_t s = 0;

	if (v->mv_size < STAMP_LEN)
		return 0;
	for (int i = STAMP_LEN - 1; i >= 0; i--)
		s = s << 8 | p[i];
	return s;
}

static int
sitemem_by_stamp(const void *a, const void *b)
{
	const struct sitemem_rec *x = a, *y = b;

	return x->stamp < y->stamp ? -1 : x->stamp > y->stamp;
}

/* Every record of the database, oldest first, in *out (free it). */
static int
sitemem_read_all(struct sitemem *sm, MDB_txn *txn, struct sitemem_rec **out,
    size_t *n)
{
	struct sitemem_rec *v = NULL, *nv;
	size_t cap = 0;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = mdb_cursor_open(txn, sm->db, &cur);

	*n = 0;
	if (rc != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = ENOMEM;
				break;
			}
			v = nv;
		}
		v[(*n)++] = (struct sitemem_rec){ sitemem_stamp(&d), k, d };
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		free(v);
		return rc;
	}
	if (*n > 1)
		qsort(v, *n, sizeof(*v), sitemem_by_stamp);
	*out = v;
	return 0;
}

int
sitemem_open(struct sitemem *sm, MDB_txn *txn)
{
	struct sitemem_rec *v = NULL;
	size_t n = 0, i, skip = 0;
	int rc;

	if (sm->live == NULL)
		return 0;
	if ((rc = mdb_dbi_open(txn, "sites", MDB_CREATE, &sm->db)) != 0 ||
	    (rc = sitemem_read_all(sm, txn, &v, &n)) != 0)
		return rc;
	/* extract.site_max_sites lowered: the oldest go. */
	if (n > sm->opts.max_sites)
		skip = n - sm->opts.max_sites;
	for (i = 0; i < n && rc == 0; i++) {
		if (i < skip) {
			rc = mdb_del(txn, sm->db, &v[i].key, NULL);
			continue;
		}
		if (v[i].val.mv_size <= STAMP_LEN ||
		    sluice_site_memory_restore(sm->live, (const char *)
		    v[i].val.mv_data + STAMP_LEN, v[i].val.mv_size -
		    STAMP_LEN) == -1)
			log_warnx("site memory: record of %.*s unreadable, "
			    "ignored", (int)v[i].key.mv_size,
			    (const char *)v[i].key.mv_data);
		if (v[i].stamp > sm->stamp)
			sm->stamp = v[i].stamp;
	}
	sm->nsites = n - skip;
	sm->open = rc == 0;
	if (rc == 0 && n > 0)
		log_info("site memory: %zu sites loaded", n - skip);
	free(v);
	return rc;
}

/* --- the turn ------------------------------------------------------ */

static bool
sitemem_touched_has(const struct sitemem *sm, const char *site)
{
	for (size_t i = 0; i < sm->ntouched; i++)
		if (strcmp(sm->touched[i].site, site) == 0)
			return true;
	return false;
}

/* Adds site to the turn's list, its committed state copied into the
 * stage.  0 or ENOMEM. */
static int
sitemem_touch(struct sitemem *sm, const char *site)
{
	struct sitemem_touched *nt;
	void *buf;
	size_t len, cap;
	int rc;

	if (sitemem_touched_has(sm, site))
		return 0;
	if (sm->ntouched == sm->cap_touched) {
		cap = sm->cap_touched ? sm->cap_touched * 2 : 16;
		if ((nt = realloc(sm->touched, cap * sizeof(*nt))) == NULL)
			return ENOMEM;
		sm->touched = nt;
		sm->cap_touched = cap;
	}
	rc = sluice_site_memory_dump_site(sm->live, site, &buf, &len);
	if (rc == -1)
		return ENOMEM;
	if (rc == 0) {
		rc = sluice_site_memory_restore(sm->stage, buf, len);
		free(buf);
		if (rc == -1)
			return ENOMEM;
	}
	sm->touched[sm->ntouched] = (struct sitemem_touched){
	    .site = strdup(site) };
	if (sm->touched[sm->ntouched].site == NULL)
		return ENOMEM;
	sm->ntouched++;
	return 0;
}

static int
sitemem_keep_doc(struct sitemem *sm, const struct sluice_extract_doc *d)
{
	const struct sluice_extract_doc **nd;
	size_t cap;

	if (sm->ndocs == sm->cap_docs) {
		cap = sm->cap_docs ? sm->cap_docs * 2 : 64;
		if ((nd = realloc(sm->docs, cap * sizeof(*nd))) == NULL)
			return ENOMEM;
		sm->docs = nd;
		sm->cap_docs = cap;
	}
	sm->docs[sm->ndocs++] = d;
	return 0;
}

int
sitemem_record(struct sitemem *sm, const struct sluice_extract_doc *d)
{
	int rc;

	if (sm->live == NULL || !sm->open || d == NULL || d->site == NULL)
		return 0;
	if (sm->stage == NULL) {
		sm->nsites_saved = sm->nsites;
		sm->stage = sluice_site_memory_new(&sm->opts);
		if (sm->stage == NULL)
			return ENOMEM;
	}
	if ((rc = sitemem_touch(sm, d->site)) != 0 ||
	    (rc = sitemem_keep_doc(sm, d)) != 0)
		return rc;
	return sluice_site_memory_record(sm->stage, d) == -1 ? ENOMEM : 0;
}

/* Deletes the record written longest ago (not one of this turn's). */
static int
sitemem_evict_oldest(struct sitemem *sm, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, d, oldest = { 0, NULL };
	uint64_t best = UINT64_MAX, s;
	int rc = mdb_cursor_open(txn, sm->db, &cur);

	if (rc != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		s = sitemem_stamp(&d);
		if (s <= sm->stamp && s < best) {
			best = s;
			oldest = k;
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	if (oldest.mv_data == NULL)
		return 0;
	if ((rc = mdb_del(txn, sm->db, &oldest, NULL)) == 0)
		sm->nsites--;
	return rc;
}

/* Writes one touched site's record, stamped with the coming commit. */
static int
sitemem_put(struct sitemem *sm, MDB_txn *txn, struct sitemem_touched *t)
{
	MDB_val k = { strlen(t->site), t->site }, v;
	uint64_t stamp = sm->stamp + 1;
	unsigned char *p;
	int rc;

	free(t->dump);
	t->dump = NULL;
	rc = sluice_site_memory_dump_site(sm->stage, t->site, &t->dump,
	    &t->len);
	if (rc == 1)
		return 0;	/* evicted from a stage of over max_sites */
	if (rc == -1)
		return ENOMEM;
	rc = mdb_get(txn, sm->db, &k, &v);
	if (rc == MDB_NOTFOUND && ++sm->nsites > sm->opts.max_sites)
		rc = sitemem_evict_oldest(sm, txn);
	else if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc != 0)
		return rc;
	v.mv_size = STAMP_LEN + t->len;
	if ((rc = mdb_put(txn, sm->db, &k, &v, MDB_RESERVE)) != 0)
		return rc;
	p = v.mv_data;
	for (int i = 0; i < STAMP_LEN; i++)
		p[i] = (unsigned char)(stamp >> (8 * i));
	memcpy(p + STAMP_LEN, t->dump, t->len);
	return 0;
}

int
sitemem_apply(void *arg, MDB_txn *txn, uint64_t now)
{
	struct sitemem *sm = arg;
	int rc = 0;

	(void)now;
	for (size_t i = 0; i < sm->ntouched && rc == 0; i++)
		rc = sitemem_put(sm, txn, &sm->touched[i]);
	return rc;
}

void
sitemem_abort(void *arg)
{
	struct sitemem *sm = arg;

	if (sm->stage != NULL)
		sm->nsites = sm->nsites_saved;
	sitemem_reset(sm);
}

/* --- what was dropped ---------------------------------------------- */

static struct sitemem_drops *
sitemem_drops_get(struct sitemem *sm, const char *site, bool make)
{
	struct sitemem_drops *d, *nd;
	size_t i, lru = 0;
	char *dup;

	for (i = 0; i < sm->ndrops; i++)
		if (strcmp(sm->drops[i].site, site) == 0)
			return &sm->drops[i];
	if (!make || (dup = strdup(site)) == NULL)
		return NULL;
	if (sm->ndrops >= sm->opts.max_sites) {
		for (i = 1; i < sm->ndrops; i++)
			if (sm->drops[i].used < sm->drops[lru].used)
				lru = i;
		d = &sm->drops[lru];
		sitemem_drops_clear(d);
	} else {
		nd = realloc(sm->drops, (sm->ndrops + 1) * sizeof(*nd));
		if (nd == NULL) {
			free(dup);
			return NULL;
		}
		sm->drops = nd;
		d = &sm->drops[sm->ndrops++];
		memset(d, 0, sizeof(*d));
	}
	d->site = dup;
	return d;
}

static void
sitemem_drops_add(struct sitemem_drops *d, const char *text)
{
	size_t i, min = 0;
	char *t;

	for (i = 0; i < d->ntop; i++)
		if (strcmp(d->top[i].text, text) == 0) {
			d->top[i].pages++;
			return;
		}
	if ((t = strdup(text)) == NULL)
		return;
	if (d->ntop < SITEMEM_TOP) {
		d->top[d->ntop++] = (struct sitemem_line){ t, 1 };
		return;
	}
	for (i = 1; i < d->ntop; i++)
		if (d->top[i].pages < d->top[min].pages)
			min = i;
	free(d->top[min].text);
	d->top[min].text = t;
	d->top[min].pages++;
}

static void
sitemem_note(struct sitemem *sm, const struct sluice_extract_doc *doc)
{
	const struct sluice_extract_more *m = sluice_extract_doc_more(doc);
	struct sitemem_drops *d;

	sm->pages_recorded++;
	sm->pages_repeated += doc->site_repeated;
	if (doc->site_dropped == 0)
		return;
	sm->lines_dropped += doc->site_dropped;
	if ((d = sitemem_drops_get(sm, doc->site, true)) == NULL)
		return;
	d->used = sm->stamp;
	d->pages++;
	for (size_t i = 0; i < m->nsite_dropped; i++)
		sitemem_drops_add(d, m->site_dropped[i]);
}

void
sitemem_commit(struct sitemem *sm)
{
	struct sitemem_touched *t;

	if (sm->stage == NULL)
		return;
	sm->stamp++;
	for (size_t i = 0; i < sm->ntouched; i++) {
		t = &sm->touched[i];
		if (t->dump != NULL &&
		    sluice_site_memory_restore(sm->live, t->dump, t->len) == -1)
			log_warnx("site memory: out of memory: %s is read as "
			    "before until its next page", t->site);
	}
	for (size_t i = 0; i < sm->ndocs; i++)
		sitemem_note(sm, sm->docs[i]);
	sitemem_reset(sm);
}

/* --- visibility ---------------------------------------------------- */

static int
sitemem_by_pages(const void *a, const void *b)
{
	const struct sitemem_line *x = a, *y = b;

	if (x->pages != y->pages)
		return x->pages > y->pages ? -1 : 1;
	return strcmp(x->text, y->text);
}

json_t *
sitemem_site_json(struct sitemem *sm, const char *site)
{
	struct sitemem_line top[SITEMEM_TOP];
	struct sitemem_drops *d = NULL;
	size_t lines = 0, rep = 0, n = 0;
	json_t *list = json_array(), *o;

	if (list == NULL)
		return NULL;
	if (sm->live != NULL) {
		lines = sluice_site_memory_lines(sm->live, site, &rep);
		d = sitemem_drops_get(sm, site, false);
	}
	if (d != NULL) {
		n = d->ntop;
		memcpy(top, d->top, n * sizeof(*top));
		qsort(top, n, sizeof(*top), sitemem_by_pages);
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{s:s, s:I}", "text",
		    top[i].text, "pages", (json_int_t)top[i].pages));
	o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:o}", "site", site,
	    "enabled", sm->live != NULL, "lines", (json_int_t)lines,
	    "repeated", (json_int_t)rep, "pages_dropped",
	    (json_int_t)(d != NULL ? d->pages : 0), "dropped", list);
	return o;
}

json_t *
sitemem_status_json(const struct sitemem *sm)
{
	return json_pack("{s:b, s:I, s:I, s:I, s:I}", "enabled",
	    sm->live != NULL, "sites", (json_int_t)sm->nsites,
	    "pages_recorded", (json_int_t)sm->pages_recorded,
	    "lines_dropped", (json_int_t)sm->lines_dropped,
	    "pages_repeated", (json_int_t)sm->pages_repeated);
}
