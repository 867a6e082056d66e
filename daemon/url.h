/*
 * url.h - checks a submitted URL and gives its canonical form, the identity
 * of a job for "already submitted", plus the per-host origin key and the
 * same-site test used to accept a page's rel=canonical.
 *
 * Parsing, IDN and dot-segment removal are libcurl's (curl_url API); this
 * module decides what is accepted and normalises what curl leaves alone.
 *
 * Canonical form (each rule keeps the URL fetching the same resource, or
 * merges only what every server treats alike):
 *   - ASCII whitespace trimmed at both ends; any other control byte (C0,
 *     DEL, NUL, also TAB/CR/LF inside) makes the URL malformed.
 *   - Scheme http or https only (lowercased); a host is required.
 *   - Userinfo ("user:pass@", even "user@" or "@") is REJECTED
 *     (URL_USERINFO): the canonical URL is stored, logged and exported, and
 *     credentials must not end up there; "http://bank.com@evil.example/"
 *     is also a classic disguise.  w3lib and StormCrawler keep userinfo;
 *     sluice deliberately does not.
 *   - Host: percent-escapes decoded, IDN converted to punycode
 *     (bücher.de -> xn--bcher-kva.de), lowercased; must then be LDH
 *     labels (letters, digits, '-', '_') without empty labels, an IPv4
 *     address (curl normalises 0x7f.1 to 127.0.0.1) or a bracketed IPv6
 *     address (curl compresses it).  IPv6 zone ids are rejected.  A
 *     trailing dot is kept ("a.com." may be served differently).
 *   - Port: the scheme's default (80/443) dropped, leading zeros dropped,
 *     an empty port (":") dropped; port 0 is malformed.
 *   - Path: empty becomes "/"; dot segments resolved ("%2E" counts as a
 *     dot); "//" runs are kept (unlike Nutch: servers may differ).
 *   - Percent-encoding (path and query): escapes of unreserved characters
 *     decoded (%7E -> ~, %41 -> A), other escapes kept with upper-case hex
 *     (%2f -> %2F, %c3%a9 -> %C3%A9); space, non-ASCII bytes and the
 *     characters RFC 3986 does not allow raw (" < > \ ^ ` { | } [ ]) are
 *     encoded.  A '%' not followed by two hex digits is encoded as "%25"
 *     (left raw it could pair with a decoded digit, "%4%31" -> "%41", and
 *     the form would not be idempotent).  '+' is never turned into a
 *     space or back: in a query they differ to non-form servers.
 *   - Fragment dropped.
 *   - Query: split on '&'; empty parameters dropped ("a=1&&b=2"); tracking
 *     parameters dropped, matching the key ASCII case-insensitively:
 *     every key starting with "utm_", fbclid, gclid, gclsrc, dclid,
 *     gbraid, wbraid, msclkid, mc_cid, mc_eid, yclid, twclid, ttclid,
 *     igshid, _hsenc, _hsmi, mkt_tok, and url_opts.strip_params (an entry
 *     ending in '*' matches as a prefix).  The rest are sorted by key
 *     (byte order) with a stable sort, so repeated keys keep their order.
 *     "a" and "a=" stay distinct: some servers test for the '=' and we
 *     must never merge two URLs a server could tell apart.  An empty query
 *     ("?") is dropped.
 *   - The canonical form is at most max_length bytes.
 *   - Idempotent: url_canonicalize(url_canonicalize(x)) == url_canonicalize(x).
 *
 * Everything here is reentrant (no global state; the UTF-8 locale IDN
 * needs is switched per thread with uselocale(3) for the conversion only).
 */
#ifndef SLUICE_URL_H
#define SLUICE_URL_H

#include <stdbool.h>
#include <stddef.h>

enum url_status {
	URL_OK = 0,
	URL_MALFORMED,		/* not a URL, bad host/port, control bytes */
	URL_BAD_SCHEME,		/* no scheme, or one other than http/https */
	URL_TOO_LONG,		/* input or canonical form over max_length */
	URL_NOMEM,
	URL_USERINFO,		/* carries user[:password]@ */
};

#define URL_MAX_LENGTH_DEFAULT	2048

struct url_opts {
	/* Bytes, after trimming, of the input and of the canonical form.
	 * Default URL_MAX_LENGTH_DEFAULT (2048). */
	size_t			 max_length;
	/* Extra tracking parameters to drop, NULL-terminated; "name*" is a
	 * prefix match.  May be NULL (default).  Not copied: must outlive the
	 * calls that use these options. */
	const char *const	*strip_params;
};

/* Fills o with the defaults above. */
void url_opts_default(struct url_opts *o);

/*
 * Checks the NUL-terminated URL in and gives its canonical form.  o may be
 * NULL for the defaults.  Returns URL_OK and sets *out to a malloc'd string
 * the caller frees; on any other status *out is NULL.
 */
enum url_status url_canonicalize(const char *in, const struct url_opts *o,
    char **out);

/* The same for len bytes at in; an embedded NUL byte is URL_MALFORMED
 * (JSON strings can carry \u0000). */
enum url_status url_canonicalize_n(const char *in, size_t len,
    const struct url_opts *o, char **out);

/* Short stable names for the protocol: "ok", "malformed", "bad_scheme",
 * "too_long", "nomem", "userinfo"; "unknown" otherwise.  Static strings. */
const char *url_status_name(enum url_status s);
/* One-line human explanation, static string. */
const char *url_status_message(enum url_status s);

/*
 * "scheme://host:port" with the port always explicit (http://a.com:80) -
 * the per-host key for politeness and robots.txt.  Accepts any URL that
 * url_canonicalize accepts (a URL and its canonical form have the same
 * origin); no length limit beyond curl's own.  On URL_OK *out is malloc'd
 * and the caller frees it; otherwise *out is NULL.
 */
enum url_status url_origin(const char *canonical, char **out);

/*
 * True if a and b are on the same site: the same host once lowercased,
 * converted to punycode, stripped of one leading "www." and of a trailing
 * dot.  Scheme and port are ignored (an http page may name its https
 * canonical).  False if either is not a URL url_canonicalize accepts.
 * XXX: the registrable domain (news.bbc.co.uk vs www.bbc.co.uk) needs the
 * Public Suffix List (libpsl), which is not a sluice dependency.
 */
bool url_same_site(const char *a, const char *b);

/* The per-host key of a URL url_canonicalize() made: a hash of its origin,
 * never 0, with the origin itself (malloc'd, as url_origin() writes it).
 * 0 and NULL if url has no origin. */
uint64_t url_host_key(const char *url, char **origin);

#endif
