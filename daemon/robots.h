/*
 * robots.h - robots.txt (RFC 9309): parse a fetched body once, then ask it
 * whether a product token may fetch a path, for the crawl-delay of the
 * token's group and for the Sitemap: lines; plus the pure policy that turns
 * the outcome of a robots.txt fetch into "parse / allow all / disallow all"
 * and a cache lifetime.
 *
 * A parsed struct robots is immutable: any number of threads may query it
 * at once.  Nothing here logs or touches the network.
 */
#ifndef SLUICE_ROBOTS_H
#define SLUICE_ROBOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch.h"

struct robots;

/* Defaults of struct robots_limits. */
#define ROBOTS_MAX_BYTES	(512 * 1024)	/* RFC 9309 2.5: at least 500 KiB */
#define ROBOTS_MAX_LINE		16384		/* longer lines are cut here */
#define ROBOTS_MAX_RULES	65536		/* allow/disallow lines kept */
#define ROBOTS_MAX_AGENTS	4096		/* user-agent lines kept */
#define ROBOTS_MAX_SITEMAPS	512
#define ROBOTS_MAX_PATH		16384		/* queried path, bytes */
#define ROBOTS_MAX_MATCH_STEPS	4000000		/* matcher work, one query */
#define ROBOTS_MAX_CRAWL_DELAY_MS (24ULL * 3600 * 1000)

/* Crawl-delay of a group that has none. */
#define ROBOTS_NO_DELAY		(-1)

/*
 * Every bound the parser and the matcher obey.  Fill it with
 * robots_limits_default() and change what you need; a zero field means
 * "use the default", so a partly filled struct is safe.
 */
struct robots_limits {
	size_t		max_bytes;	/* body bytes read; the rest ignored */
	size_t		max_line;	/* bytes of one line kept (rest ignored) */
	size_t		max_rules;	/* rules beyond are dropped */
	size_t		max_agents;	/* user-agent entries beyond are dropped */
	size_t		max_sitemaps;	/* Sitemap: values beyond are dropped */
	size_t		max_path;	/* longer queried paths are disallowed */
	uint64_t	max_match_steps;/* a query over budget is disallowed */
	uint64_t	max_crawl_delay_ms; /* larger Crawl-delay values clamp */
};

/* What the parser saw; for tests, debugging and `sluicectl` output. */
struct robots_stats {
	size_t		bytes;		/* bytes parsed (after max_bytes) */
	bool		truncated;	/* the body was longer than max_bytes */
	unsigned	lines;		/* lines read, blank ones included */
	unsigned	directives;	/* user-agent, allow, disallow,
					 * crawl-delay and sitemap lines */
	unsigned	unknown;	/* lines with an unknown field name */
	unsigned	groups;
	unsigned	rules;		/* rules kept (non-empty patterns) */
	unsigned	outside;	/* rules before any user-agent line */
	unsigned	dropped;	/* entries over a max_* limit */
	unsigned	long_lines;	/* lines cut at max_line */
};

/* Why robots_explain() decided as it did. */
enum robots_why {
	ROBOTS_WHY_NO_RULE,	/* no rule of the chosen group matched: allowed */
	ROBOTS_WHY_RULE,	/* the longest matching rule decided */
	ROBOTS_WHY_ROBOTS_TXT,	/* "/robots.txt" itself is always allowed */
	ROBOTS_WHY_LIMIT,	/* path over max_path or match over budget */
	ROBOTS_WHY_NOMEM,	/* could not normalise the path */
};

struct robots_verdict {
	bool		 allowed;
	enum robots_why	 why;
	unsigned	 line;		/* line of the deciding rule, else 0 */
	size_t		 match_len;	/* its pattern length, else 0 */
};

/* Fills lim with the ROBOTS_MAX_* defaults above. */
void robots_limits_default(struct robots_limits *lim);

/*
 * Parses a robots.txt body (any bytes: garbage lines are skipped, never an
 * error).  Reads at most lim->max_bytes of it (an incomplete last line cut
 * by that limit is dropped); lim may be NULL for the defaults.  The body
 * need not be NUL-terminated and is not kept.
 *
 * Leniency beyond RFC 9309, as major crawlers do: a UTF-8 BOM (or a prefix
 * of one) is skipped; lines end in LF, CR or CRLF; field names are
 * case-insensitive and a few common misspellings ("dissallow",
 * "useragent", ...) are accepted; a missing colon ("disallow /") is
 * tolerated; the product token of a user-agent line is its leading run of
 * [A-Za-z0-9_-] ("Foo Bar", "Foo/1.0" both name "foo"); a pattern that
 * does not start with '/' or '*' gets a leading '/'; "Allow: .../index.html"
 * also allows ".../$".
 *
 * Returns the parsed object (free with robots_free()), or NULL with err
 * set when out of memory.
 */
struct robots *robots_parse(const char *body, size_t len,
    const struct robots_limits *lim, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void robots_free(struct robots *r);

/*
 * May product_token (a bare token such as "sluice", compared
 * case-insensitively with each user-agent line's token) fetch
 * path_and_query ("/a/b?c=d", no scheme/host/fragment; NULL or "" means
 * "/")?  The groups naming the token are used (merged), else those of "*",
 * else nothing applies.  Both the path and the patterns are normalised
 * first (percent-escapes of unreserved characters decoded, other escapes
 * upper-cased, raw bytes outside printable ASCII escaped).  The longest
 * matching pattern wins and Allow wins a tie.  Returns false too when the
 * path is over max_path, the match over max_match_steps, or on ENOMEM.
 */
bool robots_allows(const struct robots *r, const char *product_token,
    const char *path_and_query);

/* robots_allows() that also says why, in *v (which must not be NULL).
 * Returns v->allowed. */
bool robots_explain(const struct robots *r, const char *product_token,
    const char *path_and_query, struct robots_verdict *v);

/*
 * Crawl-delay of the group chosen for product_token (as robots_allows()
 * chooses), in milliseconds (fractional seconds accepted, clamped to
 * max_crawl_delay_ms; the largest if merged groups give several), or
 * ROBOTS_NO_DELAY when that group has none.
 */
int64_t robots_crawl_delay_ms(const struct robots *r,
    const char *product_token);

/*
 * The Sitemap: values, in file order without duplicates (they belong to no
 * group).  Returns an array of *count strings owned by r, valid until
 * robots_free(); the values are not checked to be URLs.
 */
const char *const *robots_sitemaps(const struct robots *r, size_t *count);

/* What the parser saw; owned by r. */
const struct robots_stats *robots_stats(const struct robots *r);

/*
 * Cache policy of a robots.txt fetch (RFC 9309 2.3.1 and 2.4).
 */
enum robots_policy {
	ROBOTS_PARSE_BODY,	/* 2xx: robots_parse() the body */
	ROBOTS_ALLOW_ALL,	/* "unavailable" (4xx...): no restrictions */
	ROBOTS_DISALLOW_ALL,	/* "unreachable" (5xx, 429, network): none */
	ROBOTS_KEEP_CACHED,	/* 304: keep the cached copy and renew its
				 * lifetime (nothing cached: as ALLOW_ALL) */
};

/* Defaults of struct robots_cache_ttl. */
#define ROBOTS_TTL_OK_MS		(24ULL * 3600 * 1000)
#define ROBOTS_TTL_UNAVAILABLE_MS	(24ULL * 3600 * 1000)
#define ROBOTS_TTL_UNREACHABLE_MS	(3600ULL * 1000)
#define ROBOTS_TTL_MIN_RETRY_MS		(60ULL * 1000)

struct robots_cache_ttl {
	uint64_t	ok_ms;		/* 2xx and 304 */
	uint64_t	unavailable_ms;	/* 4xx but 429, too many redirects */
	uint64_t	unreachable_ms;	/* 5xx, 429, network: the longest
					 * a disallow-all is kept */
	uint64_t	min_retry_ms;	/* floor when Retry-After shortens it */
};

void robots_cache_ttl_default(struct robots_cache_ttl *ttl);

/*
 * Maps a finished robots.txt fetch to a policy, and sets *ttl_ms to how
 * long to keep it.  http_status is the final status after the fetcher
 * followed redirects (RFC 9309 asks for at least 5), error its outcome,
 * retry_after_ms the Retry-After delay or -1; ttl may be NULL for the
 * defaults.
 *
 *   2xx                          PARSE_BODY    ok_ms
 *   304                          KEEP_CACHED   ok_ms
 *   other 3xx, too many
 *     redirects, bad scheme      ALLOW_ALL     unavailable_ms
 *   4xx but 429                  ALLOW_ALL     unavailable_ms
 *   429, 5xx, 1xx, no status,
 *     DNS, connect, timeout,
 *     network, blocked, decoding DISALLOW_ALL  unreachable_ms, or the
 *                                              Retry-After delay if
 *                                              shorter (min_retry_ms floor)
 *   body over fetch.max_body
 *     with a 2xx status          PARSE_BODY    ok_ms (parse the prefix)
 *   aborted, internal error      DISALLOW_ALL  0: do not cache, ask again
 *
 * Unreachable outcomes are retried rather than trusted for a day; RFC 9309
 * 2.4 lets a caller that still holds an earlier parsed copy keep using it
 * instead of disallowing everything.
 */
enum robots_policy robots_policy_for_status(long http_status,
    enum fetch_error error, int64_t retry_after_ms,
    const struct robots_cache_ttl *ttl, uint64_t *ttl_ms);

const char *robots_policy_name(enum robots_policy p);

#endif
