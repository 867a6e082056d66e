/*
 * site.c - site memory: the lines a site repeats on page after page are
 * its boilerplate (see sluice/extract.h for the rules and bounds).
 *
 * A site is a name, a hash table of line fingerprints (open addressing,
 * linear probing, fingerprint 0 marks a free slot) and a ring of the last
 * pages recorded.  Sites sit in a flat array searched by name hash: a
 * lookup is one pass over at most max_sites names, negligible next to
 * the parse of a page.  One rwlock guards everything: extraction reads,
 * recording writes.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include "sluice/extract.h"
#include "docpriv.h"
#include "site.h"

#define RECENT		64	/* pages remembered per site (re-records) */
#define REPEATED_SHARE	0.8	/* over this share repeated: flag, keep */
#define MIN_CAP		64
#define DROPPED_KEEP	32	/* dropped lines a doc shows (more) */
#define DROPPED_MAX	255	/* bytes of each */

struct sm_entry {
	uint64_t	fp;
	uint32_t	pages;
	uint32_t	last;		/* the site's page clock when last seen */
};

struct sm_site {
	char		*name;
	uint64_t	 name_h;
	struct sm_entry	*tab;
	size_t		 cap, n;
	uint64_t	 recent[RECENT];
	unsigned	 nrecent, rpos;
	uint32_t	 clock;
	uint64_t	 used;		/* memory tick of the last record */
};

struct sluice_site_memory {
	struct sluice_site_memory_opts o;
	pthread_rwlock_t lock;
	struct sm_site	*sites;
	size_t		 nsites;
	uint64_t	 tick;
};

/* What extraction leaves in the doc for sluice_site_memory_record(). */
struct sm_page {
	uint64_t	page_fp;
	size_t		n;
	uint64_t	fps[];
};

void
sluice_site_memory_opts_default(struct sluice_site_memory_opts *o)
{
	o->max_sites = 1024;
	o->max_lines = 4096;
	o->site_min_pages = 3;
	o->short_words = 5;
}

struct sluice_site_memory *
sluice_site_memory_new(const struct sluice_site_memory_opts *opts)
{
	struct sluice_site_memory *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if (opts != NULL)
		m->o = *opts;
	else
		sluice_site_memory_opts_default(&m->o);
	if (m->o.max_sites == 0)
		m->o.max_sites = 1;
	if (m->o.max_lines < 16)
		m->o.max_lines = 16;
	if (m->o.site_min_pages == 0)
		m->o.site_min_pages = 1;
	if (pthread_rwlock_init(&m->lock, NULL) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

static void
site_clear(struct sm_site *s)
{
	free(s->name);
	free(s->tab);
	memset(s, 0, sizeof(*s));
}

void
sluice_site_memory_free(struct sluice_site_memory *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nsites; i++)
		site_clear(&m->sites[i]);
	free(m->sites);
	pthread_rwlock_destroy(&m->lock);
	free(m);
}

void
site_page_free(void *p)
{
	free(p);
}

static struct sm_site *
site_find(struct sluice_site_memory *m, const char *name)
{
	uint64_t h = XXH3_64bits(name, strlen(name));
	size_t i;

	for (i = 0; i < m->nsites; i++)
		if (m->sites[i].name_h == h &&
		    strcmp(m->sites[i].name, name) == 0)
			return &m->sites[i];
	return NULL;
}

static struct sm_entry *
tab_slot(const struct sm_site *s, uint64_t fp)
{
	size_t mask = s->cap - 1, i = (size_t)fp & mask;

	while (s->tab[i].fp != 0 && s->tab[i].fp != fp)
		i = (i + 1) & mask;
	return &s->tab[i];
}

static uint32_t
tab_pages(const struct sm_site *s, uint64_t fp)
{
	const struct sm_entry *e;

	if (s->cap == 0)
		return 0;
	e = tab_slot(s, fp);
	return e->fp == fp ? e->pages : 0;
}

static int
tab_rebuild(struct sm_site *s, size_t cap, const struct sm_entry *from,
    size_t n)
{
	struct sm_entry *old = s->tab, *nt = calloc(cap, sizeof(*nt));
	size_t i;

	if (nt == NULL)
		return -1;
	s->tab = nt;
	s->cap = cap;
	s->n = 0;
	for (i = 0; i < n; i++) {
		if (from[i].fp == 0)
			continue;
		*tab_slot(s, from[i].fp) = from[i];
		s->n++;
	}
	free(old);
	return 0;
}

/* Fewest pages first, then least recently seen. */
static int
by_use(const void *a, const void *b)
{
	const struct sm_entry *x = a, *y = b;

	if (x->pages != y->pages)
		return x->pages < y->pages ? -1 : 1;
	if (x->last != y->last)
		return x->last < y->last ? -1 : 1;
	return 0;
}

/* Evicts the least useful quarter of a full table. */
static int
tab_evict(struct sm_site *s)
{
	struct sm_entry *all = malloc(s->n * sizeof(*all));
	size_t i, k = 0, drop;
	int rc;

	if (all == NULL)
		return -1;
	for (i = 0; i < s->cap; i++)
		if (s->tab[i].fp != 0)
			all[k++] = s->tab[i];
	qsort(all, k, sizeof(*all), by_use);
	drop = k / 4 > 0 ? k / 4 : 1;
	rc = tab_rebuild(s, s->cap, all + drop, k - drop);
	free(all);
	return rc;
}

static int
tab_add(struct sluice_site_memory *m, struct sm_site *s, uint64_t fp)
{
	struct sm_entry *e;
	size_t cap;

	if (s->cap > 0) {
		e = tab_slot(s, fp);
		if (e->fp == fp) {
			if (e->pages < UINT32_MAX)
				e->pages++;
			e->last = s->clock;
			return 0;
		}
	}
	if (s->n >= m->o.max_lines && tab_evict(s) == -1)
		return -1;
	if ((s->n + 1) * 2 > s->cap) {
		cap = s->cap ? s->cap * 2 : MIN_CAP;
		if (tab_rebuild(s, cap, s->tab, s->cap) == -1)
			return -1;
	}
	e = tab_slot(s, fp);
	e->fp = fp;
	e->pages = 1;
	e->last = s->clock;
	s->n++;
	return 0;
}

static bool
recent_has(const struct sm_site *s, uint64_t page_fp)
{
	unsigned i;

	for (i = 0; i < s->nrecent; i++)
		if (s->recent[i] == page_fp)
			return true;
	return false;
}

/* A new site, evicting the least recently recorded one when full. */
static struct sm_site *
site_add(struct sluice_site_memory *m, const char *name)
{
	struct sm_site *s, *ns;
	size_t i, lru = 0;
	char *dup = strdup(name);

	if (dup == NULL)
		return NULL;
	if (m->nsites >= m->o.max_sites) {
		for (i = 1; i < m->nsites; i++)
			if (m->sites[i].used < m->sites[lru].used)
				lru = i;
		s = &m->sites[lru];
		site_clear(s);
	} else {
		ns = realloc(m->sites, (m->nsites + 1) * sizeof(*ns));
		if (ns == NULL) {
			free(dup);
			return NULL;
		}
		m->sites = ns;
		s = &m->sites[m->nsites++];
		memset(s, 0, sizeof(*s));
	}
	s->name = dup;
	s->name_h = XXH3_64bits(name, strlen(name));
	return s;
}

int
sluice_site_memory_record(struct sluice_site_memory *m,
    const struct sluice_extract_doc *d)
{
	const struct sm_page *p = doc_site_page(d);
	struct sm_site *s;
	size_t i;
	int rc = 0;

	if (m == NULL || d->site == NULL || p == NULL || p->n == 0)
		return 1;
	pthread_rwlock_wrlock(&m->lock);
	s = site_find(m, d->site);
	if (s == NULL)
		s = site_add(m, d->site);
	if (s == NULL) {
		rc = -1;
		goto out;
	}
	s->used = ++m->tick;
	if (recent_has(s, p->page_fp)) {
		rc = 1;
		goto out;
	}
	s->clock++;
	for (i = 0; i < p->n && rc == 0; i++)
		rc = tab_add(m, s, p->fps[i]);
	s->recent[s->rpos] = p->page_fp;
	s->rpos = (s->rpos + 1) % RECENT;
	if (s->nrecent < RECENT)
		s->nrecent++;
out:
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

/* ---- extraction side ----------------------------------------------- */

/* The site of a URL: its host, lower-cased, without "www.". */
char *
site_of_url(const char *url)
{
	const char *h, *e;
	char *s;
	size_t n, i;

	if (url == NULL || (h = strstr(url, "://")) == NULL)
		return NULL;
	h += 3;
	e = h + strcspn(h, "/:?#");
	if ((size_t)(e - h) > 4 && strncasecmp(h, "www.", 4) == 0)
		h += 4;
	n = (size_t)(e - h);
	if (n == 0 || (s = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)h[i]);
	s[n] = '\0';
	return s;
}

struct line {
	const char	*t;
	size_t		 len, chars, words;
	uint64_t	 fp;
	uint32_t	 pages;		/* other pages of the site with it */
	bool		 drop;
};

/* Fingerprint of the letters and digits of a line, case-folded (ASCII). */
static uint64_t
line_fp(const char *t, size_t len, size_t *words, size_t *chars)
{
	char buf[256];
	size_t i, k = 0, w = 0, c = 0;
	bool in = false;
	unsigned char ch;
	uint64_t h = 0;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)t[i];
		if ((ch & 0xC0) != 0x80)
			c++;
		if (isalnum(ch) || ch >= 0x80) {
			buf[k++] = (char)tolower(ch);
			if (!in)
				w++;
			in = true;
		} else
			in = false;
		/* Long lines hash chunk by chunk, each seeded by the last. */
		if (k == sizeof(buf)) {
			h = XXH3_64bits_withSeed(buf, k, h);
			k = 0;
		}
	}
	h = XXH3_64bits_withSeed(buf, k, h);
	*words = w;
	*chars = c;
	return h != 0 ? h : 1;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The page's distinct fingerprints, and one for the page itself. */
static struct sm_page *
make_page(const struct line *ln, size_t n)
{
	struct sm_page *p = malloc(sizeof(*p) + (n + 1) * sizeof(uint64_t));
	size_t i, k = 0;

	if (p == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (ln[i].words > 0)
			p->fps[k++] = ln[i].fp;
	qsort(p->fps, k, sizeof(uint64_t), cmp_u64);
	p->n = 0;
	for (i = 0; i < k; i++)
		if (p->n == 0 || p->fps[p->n - 1] != p->fps[i])
			p->fps[p->n++] = p->fps[i];
	p->page_fp = XXH3_64bits(p->fps, p->n * sizeof(uint64_t));
	return p;
}

/* Copies the first DROPPED_KEEP dropped lines into more->site_dropped,
 * each cut to DROPPED_MAX bytes on a character boundary: what an operator
 * is shown of the boilerplate removed.  -1 out of memory. */
static int
site_keep_dropped(const struct line *ln, size_t n,
    struct sluice_extract_more *more)
{
	size_t i, k = 0, len;
	char **v;

	v = calloc(DROPPED_KEEP, sizeof(*v));
	if (v == NULL)
		return -1;
	for (i = 0; i < n && k < DROPPED_KEEP; i++) {
		if (!ln[i].drop)
			continue;
		len = ln[i].len;
		if (len > DROPPED_MAX) {
			len = DROPPED_MAX;
			while (len > 0 &&
			    ((unsigned char)ln[i].t[len] & 0xC0) == 0x80)
				len--;
		}
		if ((v[k] = strndup(ln[i].t, len)) == NULL) {
			while (k > 0)
				free(v[--k]);
			free(v);
			return -1;
		}
		k++;
	}
	more->site_dropped = v;
	more->nsite_dropped = k;
	return 0;
}

int
site_apply(struct sluice_site_memory *m, const char *site, char **text,
    struct sluice_extract_doc *out)
{
	struct line *ln = NULL;
	struct sm_site *s;
	struct sm_page *pg;
	const char *t = *text, *nl;
	size_t n = 0, cap = 0, i, first = SIZE_MAX, last = 0, total = 0,
	    gone = 0, o = 0, ndrop = 0;
	unsigned need, short_need, longw;
	uint32_t pages;
	bool again;
	char *nt;

	if (site == NULL || t == NULL)
		return 0;
	while (*t != '\0') {
		if (n == cap) {
			struct line *np;
			cap = cap ? cap * 2 : 64;
			np = realloc(ln, cap * sizeof(*ln));
			if (np == NULL) {
				free(ln);
				return -1;
			}
			ln = np;
		}
		nl = strchr(t, '\n');
		ln[n].t = t;
		ln[n].len = nl != NULL ? (size_t)(nl - t) : strlen(t);
		ln[n].fp = line_fp(t, ln[n].len, &ln[n].words, &ln[n].chars);
		ln[n].drop = false;
		ln[n].pages = 0;
		total += ln[n].chars;
		n++;
		if (nl == NULL)
			break;
		t = nl + 1;
	}
	if ((out->site = strdup(site)) == NULL || doc_priv(out) == NULL ||
	    (pg = make_page(ln, n)) == NULL) {
		free(ln);
		return -1;
	}
	doc_priv(out)->site_page = pg;
	need = m->o.site_min_pages;
	short_need = 2 * need;
	longw = 4 * m->o.short_words;
	for (i = 0; i < n; i++)
		if (ln[i].words >= longw) {
			if (first == SIZE_MAX)
				first = i;
			last = i;
		}
	pthread_rwlock_rdlock(&m->lock);
	s = site_find(m, site);
	/* This very page recorded before counts as no other page. */
	again = s != NULL && recent_has(s, pg->page_fp);
	for (i = 0; s != NULL && i < n; i++) {
		if (ln[i].words == 0)
			continue;
		pages = tab_pages(s, ln[i].fp);
		if (again && pages > 0)
			pages--;
		ln[i].pages = pages;
		if (ln[i].words >= m->o.short_words)
			ln[i].drop = pages >= need;
		else
			ln[i].drop = pages >= short_need || (pages >= need &&
			    (first == SIZE_MAX || i < first || i > last));
	}
	pthread_rwlock_unlock(&m->lock);
	/* A short line next to a dropped line is that box's label ("Get
	 * the briefing" over the repeated pitch): site_min_pages will do. */
	for (i = 0; i < n; i++)
		if (!ln[i].drop && ln[i].pages >= need && ((i > 0 &&
		    ln[i - 1].drop) || (i + 1 < n && ln[i + 1].drop)))
			ln[i].drop = true;
	for (i = n; i-- > 0;)
		if (!ln[i].drop && ln[i].pages >= need && ((i > 0 &&
		    ln[i - 1].drop) || (i + 1 < n && ln[i + 1].drop)))
			ln[i].drop = true;
	for (i = 0; i < n; i++)
		if (ln[i].drop) {
			gone += ln[i].chars;
			ndrop++;
		}
	if (ndrop == 0) {
		free(ln);
		return 0;
	}
	if ((double)gone > REPEATED_SHARE * (double)total) {
		out->site_repeated = true;
		free(ln);
		return 0;
	}
	nt = malloc(strlen(*text) + 1);
	if (nt == NULL) {
		free(ln);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ln[i].drop)
			continue;
		if (o > 0)
			nt[o++] = '\n';
		memcpy(nt + o, ln[i].t, ln[i].len);
		o += ln[i].len;
	}
	nt[o] = '\0';
	if (site_keep_dropped(ln, n, &doc_priv(out)->more) == -1) {
		free(nt);
		free(ln);
		return -1;
	}
	free(*text);
	*text = nt;
	out->site_dropped = ndrop;
	free(ln);
	return 0;
}

/* ---- dump and restore ---------------------------------------------- */

/*
 * Format (little-endian): "SLSM" u32 version(1) u32 nsites; per site:
 * u32 namelen, name, u32 clock, u32 nrecent, u64 recent[nrecent] (oldest
 * first), u32 n, then n x (u64 fp, u32 pages, u32 last).
 */
#define DUMP_MAGIC	"SLSM"
#define DUMP_VERSION	1

struct wbuf {
	unsigned char	*p;
	size_t		 len, cap;
	bool		 oom;
};

static void
put(struct wbuf *w, const void *d, size_t n)
{
	unsigned char *np;
	size_t cap;

	if (w->oom)
		return;
	if (w->len + n > w->cap) {
		cap = w->cap ? w->cap : 4096;
		while (cap < w->len + n)
			cap *= 2;
		if ((np = realloc(w->p, cap)) == NULL) {
			w->oom = true;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void
put32(struct wbuf *w, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
	    (unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	put(w, b, 4);
}

static void
put64(struct wbuf *w, uint64_t v)
{
	put32(w, (uint32_t)v);
	put32(w, (uint32_t)(v >> 32));
}

static void
dump_one(struct wbuf *w, const struct sm_site *s)
{
	size_t k;
	unsigned r;

	put32(w, (uint32_t)strlen(s->name));
	put(w, s->name, strlen(s->name));
	put32(w, s->clock);
	put32(w, s->nrecent);
	for (r = 0; r < s->nrecent; r++)
		put64(w, s->recent[(s->rpos + RECENT - s->nrecent + r) %
		    RECENT]);
	put32(w, (uint32_t)s->n);
	for (k = 0; k < s->cap; k++) {
		if (s->tab[k].fp == 0)
			continue;
		put64(w, s->tab[k].fp);
		put32(w, s->tab[k].pages);
		put32(w, s->tab[k].last);
	}
}

static int
dump_end(struct wbuf *w, void **buf, size_t *len)
{
	if (w->oom) {
		free(w->p);
		return -1;
	}
	*buf = w->p;
	*len = w->len;
	return 0;
}

int
sluice_site_memory_dump(struct sluice_site_memory *m, void **buf,
    size_t *len)
{
	struct wbuf w = { NULL, 0, 0, false };
	size_t i;

	*buf = NULL;
	*len = 0;
	pthread_rwlock_rdlock(&m->lock);
	put(&w, DUMP_MAGIC, 4);
	put32(&w, DUMP_VERSION);
	put32(&w, (uint32_t)m->nsites);
	for (i = 0; i < m->nsites; i++)
		dump_one(&w, &m->sites[i]);
	pthread_rwlock_unlock(&m->lock);
	return dump_end(&w, buf, len);
}

int
sluice_site_memory_dump_site(struct sluice_site_memory *m, const char *site,
    void **buf, size_t *len)
{
	struct wbuf w = { NULL, 0, 0, false };
	const struct sm_site *s;

	*buf = NULL;
	*len = 0;
	pthread_rwlock_rdlock(&m->lock);
	s = site_find(m, site);
	if (s != NULL) {
		put(&w, DUMP_MAGIC, 4);
		put32(&w, DUMP_VERSION);
		put32(&w, 1);
		dump_one(&w, s);
	}
	pthread_rwlock_unlock(&m->lock);
	if (s == NULL)
		return 1;
	return dump_end(&w, buf, len);
}

size_t
sluice_site_memory_lines(struct sluice_site_memory *m, const char *site,
    size_t *repeated)
{
	const struct sm_site *s;
	size_t n = 0, rep = 0, k;

	pthread_rwlock_rdlock(&m->lock);
	s = site_find(m, site);
	if (s != NULL) {
		n = s->n;
		for (k = 0; k < s->cap; k++)
			rep += s->tab[k].fp != 0 &&
			    s->tab[k].pages >= m->o.site_min_pages;
	}
	pthread_rwlock_unlock(&m->lock);
	if (repeated != NULL)
		*repeated = rep;
	return n;
}

struct rbuf {
	const unsigned char	*p;
	size_t			 len, off;
	bool			 bad;
};

static const void *
get(struct rbuf *r, size_t n)
{
	const void *d;

	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	d = r->p + r->off;
	r->off += n;
	return d;
}

static uint32_t
get32(struct rbuf *r)
{
	const unsigned char *b = get(r, 4);

	return b == NULL ? 0 : (uint32_t)b[0] | (uint32_t)b[1] << 8 |
	    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t
get64(struct rbuf *r)
{
	uint64_t lo = get32(r);

	return lo | (uint64_t)get32(r) << 32;
}

int
sluice_site_memory_restore(struct sluice_site_memory *m, const void *buf,
    size_t len)
{
	struct rbuf r = { buf, len, 0, false };
	const char *magic = get(&r, 4), *name;
	uint32_t nsites, i, nl, nrec, n, k;
	struct sm_site *s;
	char *tmp = NULL;
	int rc = 0;

	if (magic == NULL || memcmp(magic, DUMP_MAGIC, 4) != 0 ||
	    get32(&r) != DUMP_VERSION)
		return -1;
	nsites = get32(&r);
	pthread_rwlock_wrlock(&m->lock);
	for (i = 0; i < nsites && !r.bad && rc == 0; i++) {
		nl = get32(&r);
		name = get(&r, nl);
		if (name == NULL || nl == 0) {
			r.bad = true;
			break;
		}
		free(tmp);
		if ((tmp = malloc((size_t)nl + 1)) == NULL) {
			rc = -1;
			break;
		}
		memcpy(tmp, name, nl);
		tmp[nl] = '\0';
		if ((s = site_find(m, tmp)) != NULL)
			site_clear(s);
		if (s != NULL) {
			s->name = strdup(tmp);
			s->name_h = XXH3_64bits(tmp, nl);
			if (s->name == NULL)
				rc = -1;
		} else if ((s = site_add(m, tmp)) == NULL)
			rc = -1;
		if (rc == -1)
			break;
		s->used = ++m->tick;
		s->clock = get32(&r);
		nrec = get32(&r);
		for (k = 0; k < nrec && !r.bad; k++) {
			uint64_t pf = get64(&r);
			if (nrec - k <= RECENT) {
				s->recent[s->rpos] = pf;
				s->rpos = (s->rpos + 1) % RECENT;
				if (s->nrecent < RECENT)
					s->nrecent++;
			}
		}
		n = get32(&r);
		for (k = 0; k < n && !r.bad && rc == 0; k++) {
			uint64_t fp = get64(&r);
			uint32_t pages = get32(&r), last = get32(&r);
			if (fp == 0 || r.bad)
				continue;
			if ((rc = tab_add(m, s, fp)) == 0) {
				struct sm_entry *e = tab_slot(s, fp);
				e->pages = pages > 0 ? pages : 1;
				e->last = last;
			}
		}
	}
	pthread_rwlock_unlock(&m->lock);
	free(tmp);
	if (rc == -1)
		return -1;
	return r.bad || r.off != r.len ? -1 : 0;
}
