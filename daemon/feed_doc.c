/*
 * feed_doc.c - a parsed feed's entries and children, bounded appends, feed
 * dates and relative URLs (see feed_doc.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "feed_doc.h"
#include "util.h"

static char *feed_doc_resolve(struct feed_doc *, const char *);
static char *feed_resolve_in(CURLU *, const char *);

void
feed_limits_default(struct feed_limits *lim)
{
	*lim = (struct feed_limits){
		.max_bytes = FEED_MAX_BYTES,
		.max_entries = FEED_MAX_ENTRIES,
		.max_children = FEED_MAX_CHILDREN,
		.max_string = FEED_MAX_STRING,
		.max_tree = FEED_MAX_TREE,
	};
}

struct feed_doc *
feed_doc_new(const struct feed_limits *lim, const char *base)
{
	struct feed_doc *d;
	struct feed_limits def;

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	feed_limits_default(&def);
	d->lim = def;
	if (lim != NULL) {
#define FILL(f) if (lim->f != 0) d->lim.f = lim->f
		FILL(max_bytes);
		FILL(max_entries);
		FILL(max_children);
		FILL(max_string);
		FILL(max_tree);
#undef FILL
	}
	d->base = base;
	feed_doc_clear(d);
	return d;
}

void
feed_doc_clear(struct feed_doc *d)
{
	struct feed_stats keep = {
		.bytes = d->stats.bytes, .gzip = d->stats.gzip,
		.truncated = d->stats.truncated,
		.malformed = d->stats.malformed,
	};
	size_t i;

	for (i = 0; i < d->nentries; i++) {
		free(d->entries[i].url);
		free(d->entries[i].title);
		free(d->entries[i].author);
	}
	for (i = 0; i < d->nchildren; i++)
		free(d->children[i].url);
	SAFE_FREE(d->entries);
	SAFE_FREE(d->children);
	SAFE_FREE(d->title);
	curl_url_cleanup(d->base_u);
	d->base_u = NULL;
	d->base_parsed = false;
	d->nentries = d->capentries = 0;
	d->nchildren = d->capchildren = 0;
	d->format = FEED_UNKNOWN;
	d->stats = keep;
	d->hints = (struct feed_hints){
		.ttl_ms = FEED_NO_TIME,
		.update_ms = FEED_NO_TIME,
		.max_age_ms = FEED_NO_TIME,
	};
}

void
feed_doc_free(struct feed_doc *d)
{
	if (d == NULL)
		return;
	feed_doc_clear(d);
	free(d);
}

bool
feed_doc_full(const struct feed_doc *d)
{
	if (d->format == FEED_SITEMAP_INDEX)
		return d->nchildren >= d->lim.max_children;
	return d->nentries >= d->lim.max_entries;
}

/* Grows *arr (of elements of size sz) to hold one more; -1 on ENOMEM. */
static int
feed_doc_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 64 : *cap * 2;
	p = reallocarray(*arr, ncap, sz);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* strdup of an optional string: 0, or -1 on ENOMEM. */
static int
feed_doc_dup(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL || *s == '\0')
		return 0;
	*out = strdup(s);
	return *out == NULL ? -1 : 0;
}

int
feed_doc_add_entry(struct feed_doc *d, const char *url, const char *title,
    const char *author, int64_t date_ms, int64_t lastmod_ms)
{
	struct feed_entry e = {
		.date_ms = date_ms, .lastmod_ms = lastmod_ms,
	};

	if (d->nentries >= d->lim.max_entries) {
		d->stats.capped = true;
		return 0;
	}
	e.url = feed_doc_resolve(d, url);
	if (e.url == NULL) {
		d->stats.no_url++;
		return 0;
	}
	if (feed_doc_dup(title, &e.title) == -1 ||
	    feed_doc_dup(author, &e.author) == -1 ||
	    feed_doc_grow((void **)&d->entries, &d->capentries, d->nentries,
	    sizeof(e)) == -1) {
		free(e.url);
		free(e.title);
		free(e.author);
		return -1;
	}
	d->entries[d->nentries++] = e;
	return 1;
}

int
feed_doc_add_child(struct feed_doc *d, const char *url, int64_t lastmod_ms)
{
	struct feed_child c = { .lastmod_ms = lastmod_ms };

	if (d->nchildren >= d->lim.max_children) {
		d->stats.capped = true;
		return 0;
	}
	c.url = feed_doc_resolve(d, url);
	if (c.url == NULL) {
		d->stats.no_url++;
		return 0;
	}
	if (feed_doc_grow((void **)&d->children, &d->capchildren,
	    d->nchildren, sizeof(c)) == -1) {
		free(c.url);
		return -1;
	}
	d->children[d->nchildren++] = c;
	return 1;
}

/*
 * ref against the document's base, parsed once per document rather than
 * once per entry: libcurl's parsing was a third of a 50,000-entry
 * sitemap's CPU time.
 */
static char *
feed_doc_resolve(struct feed_doc *d, const char *ref)
{
	if (!d->base_parsed) {
		d->base_parsed = true;
		if (d->base != NULL && (d->base_u = curl_url()) != NULL &&
		    curl_url_set(d->base_u, CURLUPART_URL, d->base,
		    CURLU_URLENCODE) != CURLUE_OK) {
			curl_url_cleanup(d->base_u);
			d->base_u = NULL;
		}
	}
	return feed_resolve_in(d->base_u != NULL ? curl_url_dup(d->base_u) :
	    curl_url(), ref);
}

/* n digits at s as a number, or -1. */
static int
feed_digits(const char *s, int n)
{
	int v = 0;

	for (; n > 0; n--, s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* "Z", "+hh:mm", "-hhmm", or nothing (UTC, as W3C allows for dates):
 * seconds east of UTC in *off; -1 on anything else. */
static int
feed_zone(const char *p, long *off)
{
	int h, m;

	*off = 0;
	if (*p == '\0' || ((*p == 'Z' || *p == 'z') && p[1] == '\0'))
		return 0;
	if (*p != '+' && *p != '-')
		return -1;
	h = feed_digits(p + 1, 2);
	m = feed_digits(p + (p[3] == ':' ? 4 : 3), 2);
	if (h < 0 || m < 0 || h > 23 || m > 59 ||
	    p[(p[3] == ':' ? 6 : 5)] != '\0')
		return -1;
	*off = (h * 3600L + m * 60L) * (*p == '-' ? -1 : 1);
	return 0;
}

/*
 * W3C datetime (a profile of ISO 8601, which RFC 3339 narrows further):
 * YYYY, YYYY-MM, YYYY-MM-DD, then optionally Thh:mm[:ss[.s+]] and a zone.
 * strptime() would accept one-digit fields and skip spaces, so the fields
 * are read by position.
 */
static int64_t
feed_w3c_date(const char *s)
{
	struct tm tm = { .tm_mday = 1 };
	const char *p = s + 4;
	long off = 0, frac = 0;
	int v, digits;
	time_t t;

	if ((v = feed_digits(s, 4)) < 0)
		return FEED_NO_TIME;
	tm.tm_year = v - 1900;
	if (*p == '-') {
		if ((v = feed_digits(p + 1, 2)) < 1 || v > 12)
			return FEED_NO_TIME;
		tm.tm_mon = v - 1;
		p += 3;
		if (*p == '-') {
			if ((v = feed_digits(p + 1, 2)) < 1 || v > 31)
				return FEED_NO_TIME;
			tm.tm_mday = v;
			p += 3;
		}
	}
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if ((tm.tm_hour = feed_digits(p + 1, 2)) < 0 || p[3] != ':' ||
		    (tm.tm_min = feed_digits(p + 4, 2)) < 0 ||
		    tm.tm_hour > 24 || tm.tm_min > 59)
			return FEED_NO_TIME;
		p += 6;
		if (*p == ':') {
			if ((tm.tm_sec = feed_digits(p + 1, 2)) < 0 ||
			    tm.tm_sec > 60)
				return FEED_NO_TIME;
			p += 3;
			if (*p == '.') {
				for (p++, digits = 0; isdigit((unsigned char)*p);
				    p++, digits++)
					if (digits < 3)
						frac = frac * 10 + (*p - '0');
				for (; digits < 3; digits++)
					frac *= 10;
			}
		}
	}
	if (feed_zone(p, &off) == -1)
		return FEED_NO_TIME;
	t = timegm(&tm);
	if (t == (time_t)-1 || t - off < 0 || (uint64_t)(t - off) > TIME_MAX_S)
		return FEED_NO_TIME;
	return (int64_t)(t - off) * 1000 + frac;
}

int64_t
feed_parse_date(const char *s)
{
	char tmp[128];
	size_t n;
	time_t t;

	if (s == NULL)
		return FEED_NO_TIME;
	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0 || n >= sizeof(tmp))
		return FEED_NO_TIME;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (n >= 4 && feed_digits(tmp, 4) >= 0 &&
	    (n == 4 || tmp[4] == '-'))
		return feed_w3c_date(tmp);
	/* RFC 822 must name a day and a month: a bare number is no date
	 * (curl_getdate() would take "5" as a day of this month). */
	if (strspn(tmp, "0123456789 +-.") == n)
		return FEED_NO_TIME;
	t = curl_getdate(tmp, NULL);
	if (t == (time_t)-1 || t < 0 || (uint64_t)t > TIME_MAX_S)
		return FEED_NO_TIME;
	return (int64_t)t * 1000;
}

/*
 * Sets ref (trimmed) on u, which holds the base or nothing, and returns
 * the absolute http(s) URL as a malloc'd string, or NULL.  Frees u.
 */
static char *
feed_resolve_in(CURLU *u, const char *ref)
{
	char *trim = NULL, *scheme = NULL, *out = NULL, *res = NULL;
	size_t n;

	if (u == NULL || ref == NULL)
		goto out;
	while (isspace((unsigned char)*ref))
		ref++;
	n = strlen(ref);
	while (n > 0 && isspace((unsigned char)ref[n - 1]))
		n--;
	if (n == 0 || (trim = strndup(ref, n)) == NULL)
		goto out;
	/* Setting a relative URL on a handle that holds base resolves it
	 * (RFC 3986 5.2); an absolute one replaces it. */
	if (curl_url_set(u, CURLUPART_URL, trim, CURLU_URLENCODE) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		goto out;
	if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
		goto out;
	res = strdup(out);
out:
	curl_free(out);
	curl_free(scheme);
	curl_url_cleanup(u);
	free(trim);
	return res;
}

char *
feed_resolve_url(const char *base, const char *ref)
{
	CURLU *u = curl_url();

	/* A base that is no URL leaves u empty: absolute refs still work. */
	if (u != NULL && base != NULL &&
	    curl_url_set(u, CURLUPART_URL, base, CURLU_URLENCODE) != CURLUE_OK) {
		curl_url_cleanup(u);
		u = curl_url();
	}
	return feed_resolve_in(u, ref);
}
