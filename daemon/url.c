/*
 * url.c - which URLs sluice accepts and their canonical form (the rules
 * are listed in url.h).  libcurl's URL API parses, converts IDN hosts and
 * removes dot segments; this file checks scheme, userinfo, host and port,
 * and normalises percent-encoding and the query, which curl leaves alone.
 */
#include <curl/curl.h>
#include <xxhash.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"
#include "util.h"

/* Tracking parameters every canonical form drops (url.h lists them). */
static const char *const url_trackers[] = {
	"utm_*", "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid",
	"msclkid", "mc_cid", "mc_eid", "yclid", "twclid", "ttclid", "igshid",
	"_hsenc", "_hsmi", "mkt_tok", NULL
};

/* DNS limits: longer names cannot resolve, so they are not URLs we fetch. */
#define URL_HOST_MAX	253
#define URL_LABEL_MAX	63

/* A parsed URL that passed the checks; strings are curl_free()d. */
struct url_parts {
	CURLU	*h;
	char	*scheme;	/* "http" or "https" */
	char	*host;		/* ASCII, lowercase, validated */
	char	*port;		/* NULL when absent or the default */
	char	*path;		/* as curl holds it, at least "/" */
	char	*query;		/* NULL when absent */
};

/* One query parameter of the normalised query, for sorting. */
struct url_param {
	const char	*s;
	size_t		 len;
	size_t		 klen;	/* bytes before the first '=' */
	size_t		 idx;	/* original position: makes the sort stable */
};

void
url_opts_default(struct url_opts *o)
{
	o->max_length = URL_MAX_LENGTH_DEFAULT;
	o->strip_params = NULL;
}

const char *
url_status_name(enum url_status s)
{
	switch (s) {
	case URL_OK:		return "ok";
	case URL_MALFORMED:	return "malformed";
	case URL_BAD_SCHEME:	return "bad_scheme";
	case URL_TOO_LONG:	return "too_long";
	case URL_NOMEM:		return "nomem";
	case URL_USERINFO:	return "userinfo";
	}
	return "unknown";
}

const char *
url_status_message(enum url_status s)
{
	switch (s) {
	case URL_OK:
		return "URL accepted";
	case URL_MALFORMED:
		return "not a valid absolute URL (bad host, port or characters)";
	case URL_BAD_SCHEME:
		return "only http:// and https:// URLs are accepted";
	case URL_TOO_LONG:
		return "URL is longer than the configured maximum";
	case URL_NOMEM:
		return "out of memory";
	case URL_USERINFO:
		return "URL carries credentials (user@ or user:password@), "
		    "which sluice refuses to store";
	}
	return "unknown URL status";
}

/* ASCII only: the C library's versions follow the locale. */
static int
url_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
url_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = url_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool
url_is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* Bytes RFC 3986 allows raw in a path or query, besides escapes. */
static bool
url_is_raw_ok(unsigned char c)
{
	return url_is_unreserved(c) || (c != '\0' &&
	    strchr("!$&'()*+,;=:@/?", c) != NULL);
}

static enum url_status
url_from_curl(CURLUcode rc)
{
	switch (rc) {
	case CURLUE_OK:
		return URL_OK;
	case CURLUE_OUT_OF_MEMORY:
		return URL_NOMEM;
	case CURLUE_UNSUPPORTED_SCHEME:
	case CURLUE_BAD_SCHEME:
	case CURLUE_NO_SCHEME:
		return URL_BAD_SCHEME;
	default:
		return URL_MALFORMED;
	}
}

static void
url_parts_free(struct url_parts *p)
{
	curl_free(p->scheme);
	curl_free(p->host);
	curl_free(p->port);
	curl_free(p->path);
	curl_free(p->query);
	curl_url_cleanup(p->h);
	memset(p, 0, sizeof(*p));
}

static bool
url_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/*
 * libidn2, behind CURLU_PUNYCODE, reads the host in the locale's charset;
 * in the daemon's "C" locale every non-ASCII byte fails.  The UTF-8 locale
 * is switched for this thread only, around the one call.  A host idn2
 * refuses comes back as CURLUE_OUT_OF_MEMORY in libcurl 7.88: it is
 * reported as malformed, as a real ENOMEM there cannot be told apart.
 */
static enum url_status
url_host_punycode(CURLU *h, char **host)
{
	locale_t utf8, old;
	CURLUcode rc;

	utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (utf8 == (locale_t)0)
		return URL_MALFORMED;
	old = uselocale(utf8);
	rc = curl_url_get(h, CURLUPART_HOST, host, CURLU_PUNYCODE);
	uselocale(old);
	freelocale(utf8);
	if (rc == CURLUE_OUT_OF_MEMORY)
		return URL_MALFORMED;
	return url_from_curl(rc);
}

static bool
url_ipv6_ok(const char *h, size_t n)
{
	if (n < 3 || h[n - 1] != ']')
		return false;
	for (size_t i = 1; i < n - 1; i++)
		if (url_hexval(h[i]) < 0 && h[i] != ':' && h[i] != '.')
			return false;
	return true;
}

/* LDH labels (plus '_', seen in the wild), no empty label except one
 * trailing dot, DNS length limits. */
static bool
url_hostname_ok(const char *h, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > URL_HOST_MAX + 1 || h[0] == '.')
		return false;
	if (n > URL_HOST_MAX && h[n - 1] != '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!url_is_unreserved(c) || c == '~' || ++label > URL_LABEL_MAX)
			return false;
	}
	return true;
}

static enum url_status
url_get_host(struct url_parts *p)
{
	enum url_status st;
	char *zone = NULL;
	CURLUcode rc;
	size_t n;

	rc = curl_url_get(p->h, CURLUPART_ZONEID, &zone, 0);
	curl_free(zone);
	if (rc == CURLUE_OK)
		return URL_MALFORMED;
	rc = curl_url_get(p->h, CURLUPART_HOST, &p->host, 0);
	if (rc != CURLUE_OK)
		return rc == CURLUE_NO_HOST ? URL_MALFORMED : url_from_curl(rc);
	if (!url_is_ascii(p->host)) {
		curl_free(p->host);
		p->host = NULL;
		st = url_host_punycode(p->h, &p->host);
		if (st != URL_OK)
			return st;
	}
	for (char *c = p->host; *c != '\0'; c++)
		*c = (char)url_lower((unsigned char)*c);
	n = strlen(p->host);
	if (p->host[0] == '[')
		return url_ipv6_ok(p->host, n) ? URL_OK : URL_MALFORMED;
	return url_hostname_ok(p->host, n) ? URL_OK : URL_MALFORMED;
}

static enum url_status
url_get_authority(struct url_parts *p)
{
	char *user = NULL, *pass = NULL;
	CURLUcode ru, rp, rc;

	ru = curl_url_get(p->h, CURLUPART_USER, &user, 0);
	rp = curl_url_get(p->h, CURLUPART_PASSWORD, &pass, 0);
	curl_free(user);
	curl_free(pass);
	if (ru == CURLUE_OK || rp == CURLUE_OK)
		return URL_USERINFO;
	if (ru == CURLUE_OUT_OF_MEMORY || rp == CURLUE_OUT_OF_MEMORY)
		return URL_NOMEM;
	rc = curl_url_get(p->h, CURLUPART_PORT, &p->port,
	    CURLU_NO_DEFAULT_PORT);
	if (rc == CURLUE_NO_PORT)
		p->port = NULL;
	else if (rc != CURLUE_OK)
		return url_from_curl(rc);
	else if (strcmp(p->port, "0") == 0)
		return URL_MALFORMED;
	return url_get_host(p);
}

/*
 * Parses the NUL-terminated s into p and applies the acceptance rules.
 * On any status p holds nothing to free beyond what url_parts_free frees.
 */
static enum url_status
url_parse(const char *s, struct url_parts *p)
{
	enum url_status st;
	CURLUcode rc;

	memset(p, 0, sizeof(*p));
	p->h = curl_url();
	if (p->h == NULL)
		return URL_NOMEM;
	rc = curl_url_set(p->h, CURLUPART_URL, s, CURLU_ALLOW_SPACE);
	if (rc != CURLUE_OK)
		return url_from_curl(rc);
	rc = curl_url_get(p->h, CURLUPART_SCHEME, &p->scheme, 0);
	if (rc != CURLUE_OK)
		return url_from_curl(rc);
	if (strcmp(p->scheme, "http") != 0 && strcmp(p->scheme, "https") != 0)
		return URL_BAD_SCHEME;
	st = url_get_authority(p);
	if (st != URL_OK)
		return st;
	rc = curl_url_get(p->h, CURLUPART_PATH, &p->path, 0);
	if (rc != CURLUE_OK)
		return url_from_curl(rc);
	rc = curl_url_get(p->h, CURLUPART_QUERY, &p->query, 0);
	if (rc == CURLUE_NO_QUERY)
		p->query = NULL;
	else if (rc != CURLUE_OK)
		return url_from_curl(rc);
	return URL_OK;
}

/* The byte a valid escape "%XY" at s[i] stands for, or -1. */
static int
url_escape_at(const char *s, size_t n, size_t i)
{
	int hi, lo;

	if (s[i] != '%' || n - i < 3)
		return -1;
	hi = url_hexval((unsigned char)s[i + 1]);
	lo = url_hexval((unsigned char)s[i + 2]);
	if (hi < 0 || lo < 0)
		return -1;
	return hi << 4 | lo;
}

/* How many bytes from s on pass through unchanged: allowed raw, no '%'. */
static size_t
url_raw_run(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] != '%' && url_is_raw_ok((unsigned char)s[i]))
		i++;
	return i;
}

/*
 * Appends the one byte or escape at s[*i] that does not pass through
 * unchanged and moves *i past it: an unreserved escape decoded, any other
 * escape upper-cased, any other byte encoded.  A stray '%' becomes "%25":
 * left raw, it could pair with a decoded hex digit ("%4%31" -> "%41") and
 * a second pass would decode it again.
 */
static int
url_append_one(struct buf *b, const char *s, size_t n, size_t *i)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c = (unsigned char)s[*i];
	int v = url_escape_at(s, n, *i);
	char esc[3] = { '%', 0, 0 };

	if (v >= 0) {
		*i += 2;
		c = (unsigned char)v;
	}
	(*i)++;
	if ((v >= 0 && url_is_unreserved(c)) ||
	    (v < 0 && url_is_raw_ok(c)))
		return buf_append(b, &c, 1);
	esc[1] = hex[c >> 4];
	esc[2] = hex[c & 0xf];
	return buf_append(b, esc, 3);
}

/*
 * Appends n bytes of a path or query with escapes normalised: unreserved
 * ones decoded, the rest upper-cased, bytes not allowed raw encoded.  Runs
 * that need none of this go in whole: they are most of a typical URL.
 */
static int
url_append_escaped(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, run;

	while (i < n) {
		run = url_raw_run(s + i, n - i);
		if (buf_append(b, s + i, run) == -1)
			return -1;
		i += run;
		if (i < n && url_append_one(b, s, n, &i) == -1)
			return -1;
	}
	return 0;
}

/* True if the query key matches pat ("name", or "prefix*"), ignoring
 * ASCII case. */
static bool
url_key_matches(const char *key, size_t klen, const char *pat)
{
	size_t plen = strlen(pat);
	bool prefix = plen > 0 && pat[plen - 1] == '*';

	if (prefix)
		plen--;
	if (prefix ? klen < plen : klen != plen)
		return false;
	for (size_t i = 0; i < plen; i++)
		if (url_lower((unsigned char)key[i]) !=
		    url_lower((unsigned char)pat[i]))
			return false;
	return true;
}

static bool
url_is_tracker(const char *key, size_t klen, const struct url_opts *o)
{
	for (const char *const *p = url_trackers; *p != NULL; p++)
		if (url_key_matches(key, klen, *p))
			return true;
	if (o->strip_params == NULL)
		return false;
	for (const char *const *p = o->strip_params; *p != NULL; p++)
		if (url_key_matches(key, klen, *p))
			return true;
	return false;
}

/* By key bytes, then by original position: a stable sort with qsort. */
static int
url_param_cmp(const void *va, const void *vb)
{
	const struct url_param *a = va, *b = vb;
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(a->s, b->s, n);

	if (c != 0)
		return c;
	if (a->klen != b->klen)
		return a->klen < b->klen ? -1 : 1;
	return a->idx < b->idx ? -1 : 1;
}

/* Splits the normalised query q on '&' into v (room for every piece),
 * dropping empty and tracking parameters.  Returns how many are kept. */
static size_t
url_split_query(const char *q, size_t len, const struct url_opts *o,
    struct url_param *v)
{
	size_t nv = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && q[i] != '&')
			continue;
		if (i > start) {
			const char *s = q + start;
			const char *eq = memchr(s, '=', i - start);
			size_t klen = eq ? (size_t)(eq - s) : i - start;

			if (!url_is_tracker(s, klen, o)) {
				v[nv] = (struct url_param){ s, i - start,
				    klen, nv };
				nv++;
			}
		}
		start = i + 1;
	}
	return nv;
}

/*
 * Appends "?" and the normalised query (escapes, trackers dropped, sorted),
 * or nothing when no parameter is left.  Returns 0, or -1 on ENOMEM.
 */
static int
url_append_query(struct buf *b, const char *query, const struct url_opts *o)
{
	struct url_param *v = NULL;
	size_t nv, pieces = 1;
	struct buf q;
	int rc = -1;

	buf_init(&q, b->max);
	if (url_append_escaped(&q, query, strlen(query)) == -1)
		goto out;
	for (size_t i = 0; i < q.len; i++)
		pieces += q.data[i] == '&';
	v = calloc(pieces, sizeof(*v));
	if (v == NULL)
		goto out;
	nv = url_split_query(q.data ? q.data : "", q.len, o, v);
	qsort(v, nv, sizeof(*v), url_param_cmp);
	for (size_t i = 0; i < nv; i++)
		if (buf_append(b, i == 0 ? "?" : "&", 1) == -1 ||
		    buf_append(b, v[i].s, v[i].len) == -1)
			goto out;
	rc = 0;
out:
	free(v);
	buf_free(&q);
	return rc;
}

/* Room for any intermediate form of an input of max bytes: escaping
 * at most triples it.  Only the final form is held to max. */
static size_t
url_work_cap(size_t max)
{
	if (max > (SIZE_MAX - 1024) / 4)
		return SIZE_MAX - 1;
	return max * 4 + 1024;
}

static int
url_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* True if a '/'-separated segment of the n-byte path s is "." or "..". */
static bool
url_has_dot_segment(const char *s, size_t n)
{
	size_t start = 0, len;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		len = i - start;
		if (len >= 1 && len <= 2 && memcmp(s + start, "..", len) == 0)
			return true;
		start = i + 1;
	}
	return false;
}

/*
 * scheme://host[:port]path[?query] with path and query normalised.  Sets
 * *reparse when curl, parsing the result again, could change it:
 *   - decoding "%2E" can reveal a dot segment for curl to resolve;
 *   - curl normalises an IPv4 address before it decodes the host's escapes,
 *     so "%31.2.3" leaves the first parse as "1.2.3" and the second as
 *     "1.2.0.3": a host starting with a digit may change.
 */
static enum url_status
url_compose(const struct url_parts *p, const struct url_opts *o,
    struct buf *b, bool *reparse)
{
	size_t path_at;

	if (url_append_str(b, p->scheme) == -1 ||
	    buf_append(b, "://", 3) == -1 ||
	    url_append_str(b, p->host) == -1 ||
	    (p->port != NULL && (buf_append(b, ":", 1) == -1 ||
	    url_append_str(b, p->port) == -1)))
		return URL_NOMEM;
	path_at = b->len;
	if (url_append_escaped(b, p->path, strlen(p->path)) == -1)
		return URL_NOMEM;
	*reparse = url_has_dot_segment(b->data + path_at, b->len - path_at) ||
	    (p->host[0] >= '0' && p->host[0] <= '9');
	if (p->query != NULL && url_append_query(b, p->query, o) == -1)
		return URL_NOMEM;
	return URL_OK;
}

/*
 * Has curl parse the composed URL again and give it back, for what its
 * first parse left unsettled (url_compose), and checks the final length.
 */
static enum url_status
url_reparse(const char *composed, size_t max, char **out)
{
	CURLU *h = curl_url();
	char *u = NULL;
	CURLUcode rc;

	if (h == NULL)
		return URL_NOMEM;
	rc = curl_url_set(h, CURLUPART_URL, composed, 0);
	if (rc == CURLUE_OK)
		rc = curl_url_get(h, CURLUPART_URL, &u, CURLU_NO_DEFAULT_PORT);
	curl_url_cleanup(h);
	if (rc != CURLUE_OK)
		return url_from_curl(rc);
	if (strlen(u) > max) {
		curl_free(u);
		return URL_TOO_LONG;
	}
	*out = strdup(u);
	curl_free(u);
	return *out != NULL ? URL_OK : URL_NOMEM;
}

/* The longest URL curl's URL API both parses and gives back: it parses
 * up to CURL_MAX_INPUT_LENGTH (8000000) bytes, but its printf fails on a
 * result that long (URL_NOMEM).  Neither limit is in curl's API. */
#define URL_CURL_MAX	7999999

/*
 * Hands over the composed URL in b as the canonical form.  Unless reparse
 * is set, a second parse would give it back unchanged, so it is skipped:
 * scheme, host and port are curl's own, checked and lowercased, and path
 * and query hold only bytes allowed raw and upper-case escapes.  Over max,
 * or over what curl takes, the second parse decides the status.
 */
static enum url_status
url_finish(struct buf *b, bool reparse, size_t max, char **out)
{
	if (reparse || b->len > max || b->len > URL_CURL_MAX)
		return url_reparse(b->data, max, out);
	*out = buf_steal(b, NULL);
	return URL_OK;
}

static bool
url_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

enum url_status
url_canonicalize_n(const char *in, size_t len, const struct url_opts *o,
    char **out)
{
	struct url_parts p = { 0 };
	struct url_opts defaults;
	enum url_status st;
	bool reparse = false;
	struct buf b;

	*out = NULL;
	if (o == NULL) {
		url_opts_default(&defaults);
		o = &defaults;
	}
	while (len > 0 && url_is_space((unsigned char)*in)) {
		in++;
		len--;
	}
	while (len > 0 && url_is_space((unsigned char)in[len - 1]))
		len--;
	if (len > o->max_length)
		return URL_TOO_LONG;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f)
			return URL_MALFORMED;
	/* The input's copy and the composed URL share one buffer: once
	 * parsed, curl holds its own copy of every part. */
	buf_init(&b, url_work_cap(o->max_length));
	if (buf_append(&b, in, len) == -1) {
		buf_free(&b);
		return URL_NOMEM;
	}
	st = url_parse(b.data, &p);
	buf_reset(&b);
	if (st == URL_OK)
		st = url_compose(&p, o, &b, &reparse);
	if (st == URL_OK)
		st = url_finish(&b, reparse, o->max_length, out);
	url_parts_free(&p);
	buf_free(&b);
	return st;
}

enum url_status
url_canonicalize(const char *in, const struct url_opts *o, char **out)
{
	return url_canonicalize_n(in, strlen(in), o, out);
}

enum url_status
url_origin(const char *canonical, char **out)
{
	struct url_parts p;
	enum url_status st;
	char *port = NULL;
	CURLUcode rc;

	*out = NULL;
	st = url_parse(canonical, &p);
	if (st != URL_OK)
		goto out;
	rc = curl_url_get(p.h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	if (rc != CURLUE_OK) {
		st = url_from_curl(rc);
		goto out;
	}
	if (asprintf(out, "%s://%s:%s", p.scheme, p.host, port) == -1) {
		*out = NULL;
		st = URL_NOMEM;
	}
out:
	curl_free(port);
	url_parts_free(&p);
	return st;
}

/* The part of a host that names the site: no "www.", no trailing dot. */
static void
url_site(const char *host, const char **s, size_t *n)
{
	*s = host;
	if (strncmp(host, "www.", 4) == 0 && host[4] != '\0')
		*s = host + 4;
	*n = strlen(*s);
	if (*n > 1 && (*s)[*n - 1] == '.')
		(*n)--;
}

bool
url_same_site(const char *a, const char *b)
{
	struct url_parts pa = { 0 }, pb = { 0 };
	const char *sa, *sb;
	size_t na, nb;
	bool same = false;

	if (url_parse(a, &pa) == URL_OK && url_parse(b, &pb) == URL_OK) {
		url_site(pa.host, &sa, &na);
		url_site(pb.host, &sb, &nb);
		same = na == nb && memcmp(sa, sb, na) == 0;
	}
	url_parts_free(&pa);
	url_parts_free(&pb);
	return same;
}

/*
 * The origin of a URL url_canonicalize() produced, by slicing its text: a
 * canonical URL has a lowercase http(s) scheme, no userinfo, a path, and a
 * port only when it is not the default.  This spares the second libcurl
 * parse that url_origin() would do for every submitted URL.
 */
static enum url_status
canonical_origin(const char *url, char **out, size_t *outlen)
{
	const char *sep = strstr(url, "://"), *host, *end, *from, *port;
	size_t n, plen;
	bool https;

	if (sep == NULL)
		return URL_MALFORMED;
	https = sep - url == 5 && strncmp(url, "https", 5) == 0;
	host = sep + 3;
	end = host + strcspn(host, "/?#");
	from = host;
	if (*host == '[') {	/* an IPv6 literal holds colons of its own */
		from = memchr(host, ']', (size_t)(end - host));
		if (from == NULL)
			return URL_MALFORMED;
	}
	port = "";
	if (memchr(from, ':', (size_t)(end - from)) == NULL)
		port = https ? ":443" : ":80";
	n = (size_t)(end - url);
	plen = strlen(port);
	*out = malloc(n + plen + 1);
	if (*out == NULL)
		return URL_NOMEM;
	memcpy(*out, url, n);
	memcpy(*out + n, port, plen + 1);
	*outlen = n + plen;
	return URL_OK;
}

uint64_t
url_host_key(const char *url, char **origin)
{
	uint64_t key;
	size_t len;

	*origin = NULL;
	if (canonical_origin(url, origin, &len) != URL_OK)
		return 0;
	key = XXH3_64bits(*origin, len);
	return key ? key : 1;	/* 0 means "none" */
}
