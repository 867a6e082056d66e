/*
 * robots.c - robots.txt per RFC 9309: the line parser that builds groups of
 * rules, the percent-encoding normaliser shared by patterns and paths, the
 * bounded wildcard matcher, and the cache policy for robots.txt fetches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "robots.h"
#include "util.h"

struct rule {
	uint32_t	off;		/* pattern bytes in r->arena */
	uint32_t	len;		/* without the anchoring '$' */
	uint32_t	prio;		/* octets of the normalised pattern */
	uint32_t	line;
	bool		allow;
	bool		anchored;	/* ended in '$': must match all the path */
};

struct agent {
	uint32_t	group;
	uint32_t	off;		/* product token in r->arena */
	uint32_t	len;
	bool		star;
};

/* A group's rules are contiguous: rules only ever join the newest group. */
struct group {
	uint32_t	first;
	uint32_t	nrules;
	int64_t		delay_ms;
};

struct robots {
	struct robots_limits	 lim;
	struct robots_stats	 stats;
	struct buf		 arena;		/* patterns and tokens */
	struct rule		*rules;
	size_t			 nrules, caprules;
	struct agent		*agents;
	size_t			 nagents, capagents;
	struct group		*groups;
	size_t			 ngroups, capgroups;
	char			**sitemaps;
	size_t			 nsitemaps, capsitemaps;
};

struct parser {
	struct robots	*r;
	char		*scratch;	/* 3 * max_line + 2: one normalised value */
	long		 group;		/* -1: before any user-agent line */
	bool		 rules_since_agent;
	bool		 nomem;
};

enum field {
	F_UNKNOWN,
	F_AGENT,
	F_ALLOW,
	F_DISALLOW,
	F_DELAY,
	F_SITEMAP,
};

/* Field names, with the misspellings common enough in the wild that
 * ignoring them would ignore the site owner's evident intent. */
static const struct {
	const char	*name;
	enum field	 field;
} fields[] = {
	{ "user-agent",		F_AGENT },
	{ "useragent",		F_AGENT },
	{ "user agent",		F_AGENT },
	{ "user_agent",		F_AGENT },
	{ "allow",		F_ALLOW },
	{ "disallow",		F_DISALLOW },
	{ "dissallow",		F_DISALLOW },
	{ "dissalow",		F_DISALLOW },
	{ "disalow",		F_DISALLOW },
	{ "diasllow",		F_DISALLOW },
	{ "disallaw",		F_DISALLOW },
	{ "crawl-delay",	F_DELAY },
	{ "crawldelay",		F_DELAY },
	{ "crawl delay",	F_DELAY },
	{ "crawl_delay",	F_DELAY },
	{ "sitemap",		F_SITEMAP },
	{ "site-map",		F_SITEMAP },
};

static const char HEX[] = "0123456789ABCDEF";

void
robots_limits_default(struct robots_limits *lim)
{
	*lim = (struct robots_limits){
		.max_bytes = ROBOTS_MAX_BYTES,
		.max_line = ROBOTS_MAX_LINE,
		.max_rules = ROBOTS_MAX_RULES,
		.max_agents = ROBOTS_MAX_AGENTS,
		.max_sitemaps = ROBOTS_MAX_SITEMAPS,
		.max_path = ROBOTS_MAX_PATH,
		.max_match_steps = ROBOTS_MAX_MATCH_STEPS,
		.max_crawl_delay_ms = ROBOTS_MAX_CRAWL_DELAY_MS,
	};
}

#define FILL(f)	do { if (src->f != 0) dst->f = src->f; } while (0)

static void
limits_fill(struct robots_limits *dst, const struct robots_limits *src)
{
	robots_limits_default(dst);
	if (src == NULL)
		return;
	FILL(max_bytes);
	FILL(max_line);
	FILL(max_rules);
	FILL(max_agents);
	FILL(max_sitemaps);
	FILL(max_path);
	FILL(max_match_steps);
	FILL(max_crawl_delay_ms);
}

#undef FILL

/* Doubles *cap until it holds need elements. */
static int
grow(void *arrp, size_t *cap, size_t need, size_t size)
{
	void **arr = arrp;
	size_t ncap = *cap ? *cap : 16;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = reallocarray(*arr, ncap, size);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_space((*s)[*n - 1]))
		(*n)--;
}

static bool
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * RFC 3986 normalisation so that "/%7Efoo", "/~foo" and "/%7efoo" compare
 * equal, and raw UTF-8 in a pattern matches the escaped form curl sends.
 * Writes at most 3n bytes to out; returns the length written.
 */
static size_t
normalise(const char *s, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int hi = -1, lo = -1;

		if (c == '%' && i + 2 < n) {
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
		}
		if (hi >= 0 && lo >= 0) {
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
			if (is_unreserved(c)) {
				out[o++] = (char)c;
				continue;
			}
		} else if (c > 0x20 && c < 0x7f) {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '%';
		out[o++] = HEX[c >> 4];
		out[o++] = HEX[c & 0xf];
	}
	return o;
}

/*
 * Does the pattern match the start of s (all of s when anchored)?  '*'
 * matches any run of bytes.  Greedy with one backtrack point, the last
 * '*': a later star subsumes the earlier ones, so this is exact, and it
 * costs O(m * n) steps at worst, never exponential.  Returns 1, 0, or -1
 * when *budget runs out.
 */
static int
match(const char *p, size_t m, bool anchored, const char *s, size_t n,
    uint64_t *budget)
{
	size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;

	for (;;) {
		if (*budget == 0)
			return -1;
		(*budget)--;
		if (j < m && p[j] == '*') {
			star = j++;
			mark = i;
			continue;
		}
		if (j == m && (!anchored || i == n))
			return 1;
		if (j < m && i < n && p[j] == s[i]) {
			i++;
			j++;
			continue;
		}
		if (star == SIZE_MAX || mark >= n)
			return 0;
		i = ++mark;
		j = star + 1;
	}
}

/* How many bytes of a body start with (a prefix of) the UTF-8 BOM. */
static size_t
bom_len(const char *s, size_t n)
{
	static const char bom[] = "\xEF\xBB\xBF";
	size_t i;

	for (i = 0; i < 3 && i < n && s[i] == bom[i]; i++)
		;
	return i;
}

static enum field
field_of(const char *s, size_t n)
{
	size_t i;

	trim(&s, &n);
	for (i = 0; i < ARRAY_LEN(fields); i++) {
		if (strlen(fields[i].name) == n &&
		    strncasecmp(fields[i].name, s, n) == 0)
			return fields[i].field;
	}
	return F_UNKNOWN;
}

/*
 * Splits "name: value"; failing that, "name value" (a forgotten colon),
 * so "Sitemap http://x/y" works although its first colon is in the URL.
 */
static enum field
split_line(const char *s, size_t n, const char **val, size_t *vlen)
{
	const char *colon = memchr(s, ':', n);
	enum field f = F_UNKNOWN;
	size_t k;

	if (colon != NULL)
		f = field_of(s, (size_t)(colon - s));
	if (f != F_UNKNOWN) {
		*val = colon + 1;
		*vlen = n - (size_t)(colon + 1 - s);
	} else {
		for (k = 0; k < n && !is_space(s[k]); k++)
			;
		f = field_of(s, k);
		*val = s + k;
		*vlen = n - k;
	}
	trim(val, vlen);
	return f;
}

static int
arena_add(struct robots *r, const char *s, size_t n, uint32_t *off)
{
	if (r->arena.len > UINT32_MAX - n)
		return -1;
	*off = (uint32_t)r->arena.len;
	return buf_append(&r->arena, s, n);
}

static int
new_group(struct parser *p)
{
	struct robots *r = p->r;
	struct group *g;

	if (grow(&r->groups, &r->capgroups, r->ngroups + 1,
	    sizeof(*r->groups)) == -1)
		return -1;
	g = &r->groups[r->ngroups];
	g->first = (uint32_t)r->nrules;
	g->nrules = 0;
	g->delay_ms = ROBOTS_NO_DELAY;
	p->group = (long)r->ngroups++;
	return 0;
}

/* RFC 9309 2.2.1 product token: the leading run of [A-Za-z_-]; digits are
 * allowed too since real crawler names carry them ("360Spider"). */
static size_t
token_len(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = v[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_'))
			break;
	}
	return i;
}

/*
 * A user-agent line joins the current group while no rule has followed
 * its user-agent lines, else it opens a new one (RFC 9309 2.1).  Over
 * max_agents, a line that would open a group leaves its rules groupless.
 */
static void
on_agent(struct parser *p, const char *v, size_t n)
{
	struct robots *r = p->r;
	struct agent *a;
	bool opens = p->group < 0 || p->rules_since_agent;

	p->rules_since_agent = false;
	if (r->nagents >= r->lim.max_agents) {
		r->stats.dropped++;
		if (opens)
			p->group = -1;
		return;
	}
	if ((opens && new_group(p) == -1) || grow(&r->agents, &r->capagents,
	    r->nagents + 1, sizeof(*r->agents)) == -1) {
		p->nomem = true;
		return;
	}
	a = &r->agents[r->nagents];
	a->group = (uint32_t)p->group;
	a->star = n > 0 && v[0] == '*' && (n == 1 || is_space(v[1]));
	a->len = a->star ? 0 : (uint32_t)token_len(v, n);
	if (arena_add(r, v, a->len, &a->off) == -1) {
		p->nomem = true;
		return;
	}
	r->nagents++;
}

/* Stores one pattern; anchor adds the '$' the value lacks. */
static void
add_rule(struct parser *p, bool allow, const char *v, size_t n, bool anchor)
{
	struct robots *r = p->r;
	struct rule *ru;
	size_t len = 0;

	if (r->nrules >= r->lim.max_rules) {
		r->stats.dropped++;
		return;
	}
	if (grow(&r->rules, &r->caprules, r->nrules + 1,
	    sizeof(*r->rules)) == -1) {
		p->nomem = true;
		return;
	}
	if (v[0] != '/' && v[0] != '*')
		p->scratch[len++] = '/';
	len += normalise(v, n, p->scratch + len);
	ru = &r->rules[r->nrules];
	ru->allow = allow;
	ru->line = r->stats.lines;
	ru->anchored = anchor || p->scratch[len - 1] == '$';
	ru->prio = (uint32_t)(anchor ? len + 1 : len);
	if (!anchor && ru->anchored)
		len--;
	ru->len = (uint32_t)len;
	if (arena_add(r, p->scratch, len, &ru->off) == -1) {
		p->nomem = true;
		return;
	}
	r->nrules++;
	r->groups[p->group].nrules++;
}

static void
on_rule(struct parser *p, bool allow, const char *v, size_t n)
{
	static const char index[] = "/index.html";
	size_t ilen = sizeof(index) - 1;

	if (p->group < 0) {
		p->r->stats.outside++;
		return;
	}
	p->rules_since_agent = true;
	/* An empty value matches nothing: "Disallow:" allows everything. */
	if (n == 0)
		return;
	add_rule(p, allow, v, n, false);
	/* Google's reading, widely relied on: allowing a directory's
	 * index.html allows the directory URL itself. */
	if (allow && n >= ilen && memcmp(v + n - ilen, index, ilen) == 0)
		add_rule(p, true, v, n - ilen + 1, true);
}

/*
 * "10", "2.5", "0.75": seconds, to ms, clamped to max.  Trailing text after
 * whitespace is ignored ("10 # slow").  Returns 0, or -1 if not a number.
 */
static int
parse_delay(const char *v, size_t n, uint64_t max, int64_t *ms)
{
	uint64_t sec = 0, frac = 0, scale = 100;
	size_t i = 0, digits = 0;

	if (max > INT64_MAX)
		max = INT64_MAX;

	for (; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
		if (sec <= max / 1000)
			sec = sec * 10 + (uint64_t)(v[i] - '0');
	}
	if (i < n && v[i] == '.')
		i++;
	for (; i < n && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
		frac += (uint64_t)(v[i] - '0') * scale;
		scale /= 10;
	}
	if (digits == 0 || (i < n && !is_space(v[i])))
		return -1;
	if (sec > max / 1000)
		*ms = (int64_t)max;
	else
		*ms = (int64_t)(sec * 1000 + frac > max ? max : sec * 1000 + frac);
	return 0;
}

static void
on_delay(struct parser *p, const char *v, size_t n)
{
	struct group *g;
	int64_t ms;

	if (p->group < 0) {
		p->r->stats.outside++;
		return;
	}
	p->rules_since_agent = true;
	if (parse_delay(v, n, p->r->lim.max_crawl_delay_ms, &ms) == -1)
		return;
	g = &p->r->groups[p->group];
	if (ms > g->delay_ms)
		g->delay_ms = ms;
}

static void
on_sitemap(struct parser *p, const char *v, size_t n)
{
	struct robots *r = p->r;
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < r->nsitemaps; i++) {
		if (strlen(r->sitemaps[i]) == n &&
		    memcmp(r->sitemaps[i], v, n) == 0)
			return;
	}
	if (r->nsitemaps >= r->lim.max_sitemaps) {
		r->stats.dropped++;
		return;
	}
	if (grow(&r->sitemaps, &r->capsitemaps, r->nsitemaps + 1,
	    sizeof(*r->sitemaps)) == -1)
		goto nomem;
	r->sitemaps[r->nsitemaps] = strndup(v, n);
	if (r->sitemaps[r->nsitemaps] == NULL)
		goto nomem;
	r->nsitemaps++;
	return;
nomem:
	p->nomem = true;
}

static void
parse_line(struct parser *p, const char *s, size_t n)
{
	struct robots_stats *st = &p->r->stats;
	const char *hash, *val;
	size_t vlen;
	enum field f;

	if (n > p->r->lim.max_line) {
		n = p->r->lim.max_line;
		st->long_lines++;
	}
	hash = memchr(s, '#', n);
	if (hash != NULL)
		n = (size_t)(hash - s);
	trim(&s, &n);
	if (n == 0)
		return;
	f = split_line(s, n, &val, &vlen);
	if (f == F_UNKNOWN) {
		st->unknown++;
		return;
	}
	st->directives++;
	if (f == F_AGENT)
		on_agent(p, val, vlen);
	else if (f == F_ALLOW || f == F_DISALLOW)
		on_rule(p, f == F_ALLOW, val, vlen);
	else if (f == F_DELAY)
		on_delay(p, val, vlen);
	else
		on_sitemap(p, val, vlen);
}

/* Lines end in LF, CR or CRLF (RFC 9309 2.2). */
static void
parse_body(struct parser *p, const char *s, size_t n)
{
	size_t i = bom_len(s, n), start;

	while (i < n && !p->nomem) {
		start = i;
		while (i < n && s[i] != '\n' && s[i] != '\r')
			i++;
		/* Half a line cut by max_bytes could turn "/private" into a
		 * broader "/priv": drop it. */
		if (i == n && p->r->stats.truncated)
			break;
		p->r->stats.lines++;
		parse_line(p, s + start, i - start);
		if (i < n && s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			i++;
		if (i < n)
			i++;
	}
}

struct robots *
robots_parse(const char *body, size_t len, const struct robots_limits *lim,
    char *err, size_t errlen)
{
	struct parser p = { .group = -1 };
	struct robots *r;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto out;
	limits_fill(&r->lim, lim);
	/* Patterns grow at most threefold when escaped; index.html rules
	 * and tokens add at most as much again. */
	buf_init(&r->arena, r->lim.max_bytes > UINT32_MAX / 8 ?
	    UINT32_MAX : r->lim.max_bytes * 8);
	p.r = r;
	p.scratch = malloc(3 * r->lim.max_line + 2);
	if (p.scratch == NULL)
		goto out;
	if (body == NULL)
		len = 0;
	r->stats.truncated = len > r->lim.max_bytes;
	r->stats.bytes = r->stats.truncated ? r->lim.max_bytes : len;
	parse_body(&p, body, r->stats.bytes);
	r->stats.groups = (unsigned)r->ngroups;
	r->stats.rules = (unsigned)r->nrules;
out:
	free(p.scratch);
	if (r == NULL || p.scratch == NULL || p.nomem) {
		robots_free(r);
		snprintf(err, errlen, "robots.txt: out of memory");
		return NULL;
	}
	return r;
}

void
robots_free(struct robots *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nsitemaps; i++)
		free(r->sitemaps[i]);
	free(r->sitemaps);
	free(r->rules);
	free(r->agents);
	free(r->groups);
	buf_free(&r->arena);
	free(r);
}

typedef void (*group_fn)(const struct robots *r, const struct group *g,
    void *arg);

static bool
agent_matches(const struct robots *r, const struct agent *a,
    const char *token, size_t toklen, bool star)
{
	if (star)
		return a->star;
	return !a->star && a->len > 0 && a->len == toklen &&
	    strncasecmp(r->arena.data + a->off, token, toklen) == 0;
}

/* Calls fn once per group naming the token (or "*"); returns how many. */
static unsigned
visit_groups(const struct robots *r, const char *token, size_t toklen,
    bool star, group_fn fn, void *arg)
{
	uint32_t last = UINT32_MAX;
	unsigned hits = 0;
	size_t i;

	for (i = 0; i < r->nagents; i++) {
		const struct agent *a = &r->agents[i];

		if (a->group == last ||
		    !agent_matches(r, a, token, toklen, star))
			continue;
		last = a->group;
		hits++;
		fn(r, &r->groups[a->group], arg);
	}
	return hits;
}

/* RFC 9309 2.2.1: the groups naming the token, merged; else "*". */
static void
for_each_group(const struct robots *r, const char *token, group_fn fn,
    void *arg)
{
	size_t toklen = token != NULL ? strlen(token) : 0;

	if (visit_groups(r, token, toklen, false, fn, arg) == 0)
		visit_groups(r, NULL, 0, true, fn, arg);
}

struct query {
	const char		*path;
	size_t			 n;
	uint64_t		 budget;
	bool			 over;
	const struct rule	*best;
};

/* Could ru still beat the best match so far?  Longer wins, Allow ties. */
static bool
can_win(const struct rule *ru, const struct rule *best)
{
	if (best == NULL || ru->prio > best->prio)
		return true;
	return ru->prio == best->prio && ru->allow && !best->allow;
}

static void
eval_group(const struct robots *r, const struct group *g, void *arg)
{
	struct query *q = arg;
	uint32_t k;
	int rc;

	for (k = g->first; k < g->first + g->nrules && !q->over; k++) {
		const struct rule *ru = &r->rules[k];

		if (!can_win(ru, q->best))
			continue;
		rc = match(r->arena.data + ru->off, ru->len, ru->anchored,
		    q->path, q->n, &q->budget);
		if (rc == -1)
			q->over = true;
		else if (rc == 1)
			q->best = ru;
	}
}

static void
decide(const struct robots *r, const char *token, struct query *q,
    struct robots_verdict *v)
{
	if (q->n == 11 && memcmp(q->path, "/robots.txt", 11) == 0) {
		v->allowed = true;
		v->why = ROBOTS_WHY_ROBOTS_TXT;
		return;
	}
	q->budget = r->lim.max_match_steps;
	for_each_group(r, token, eval_group, q);
	if (q->over) {
		v->why = ROBOTS_WHY_LIMIT;
	} else if (q->best == NULL) {
		v->allowed = true;
		v->why = ROBOTS_WHY_NO_RULE;
	} else {
		v->allowed = q->best->allow;
		v->why = ROBOTS_WHY_RULE;
		v->line = q->best->line;
		v->match_len = q->best->prio;
	}
}

bool
robots_explain(const struct robots *r, const char *product_token,
    const char *path_and_query, struct robots_verdict *v)
{
	const char *path = path_and_query;
	size_t n = path != NULL ? strlen(path) : 0;
	char stack[1024], *norm = stack;
	struct query q = { 0 };

	memset(v, 0, sizeof(*v));
	if (n == 0) {
		path = "/";
		n = 1;
	}
	if (n > r->lim.max_path) {
		v->why = ROBOTS_WHY_LIMIT;
		return false;
	}
	if (3 * n > sizeof(stack))
		norm = malloc(3 * n);
	if (norm == NULL) {
		v->why = ROBOTS_WHY_NOMEM;
		return false;
	}
	q.path = norm;
	q.n = normalise(path, n, norm);
	decide(r, product_token, &q, v);
	if (norm != stack)
		free(norm);
	return v->allowed;
}

bool
robots_allows(const struct robots *r, const char *product_token,
    const char *path_and_query)
{
	struct robots_verdict v;

	return robots_explain(r, product_token, path_and_query, &v);
}

static void
max_delay(const struct robots *r, const struct group *g, void *arg)
{
	int64_t *ms = arg;

	if (g->delay_ms > *ms)
		*ms = g->delay_ms;
}

int64_t
robots_crawl_delay_ms(const struct robots *r, const char *product_token)
{
	int64_t ms = ROBOTS_NO_DELAY;

	for_each_group(r, product_token, max_delay, &ms);
	return ms;
}

const char *const *
robots_sitemaps(const struct robots *r, size_t *count)
{
	*count = r->nsitemaps;
	return (const char *const *)r->sitemaps;
}

const struct robots_stats *
robots_stats(const struct robots *r)
{
	return &r->stats;
}

void
robots_cache_ttl_default(struct robots_cache_ttl *ttl)
{
	*ttl = (struct robots_cache_ttl){
		.ok_ms = ROBOTS_TTL_OK_MS,
		.unavailable_ms = ROBOTS_TTL_UNAVAILABLE_MS,
		.unreachable_ms = ROBOTS_TTL_UNREACHABLE_MS,
		.min_retry_ms = ROBOTS_TTL_MIN_RETRY_MS,
	};
}

/* Disallow all, retried within the hour, sooner if Retry-After says so. */
static enum robots_policy
unreachable(const struct robots_cache_ttl *ttl, int64_t retry_after_ms,
    uint64_t *ttl_ms)
{
	uint64_t t = ttl->unreachable_ms;

	if (retry_after_ms >= 0 && (uint64_t)retry_after_ms < t)
		t = (uint64_t)retry_after_ms;
	if (t < ttl->min_retry_ms)
		t = ttl->min_retry_ms;
	if (t > ttl->unreachable_ms)
		t = ttl->unreachable_ms;
	*ttl_ms = t;
	return ROBOTS_DISALLOW_ALL;
}

static enum robots_policy
policy_of_status(long status, int64_t retry_after_ms,
    const struct robots_cache_ttl *ttl, uint64_t *ttl_ms)
{
	if (status >= 200 && status < 300) {
		*ttl_ms = ttl->ok_ms;
		return ROBOTS_PARSE_BODY;
	}
	if (status == 304) {
		*ttl_ms = ttl->ok_ms;
		return ROBOTS_KEEP_CACHED;
	}
	/* RFC 9309 2.3.1.3: 4xx means "unavailable", crawl freely; 429 is
	 * the server asking us to slow down, so it counts as unreachable. */
	if (status >= 300 && status < 500 && status != 429) {
		*ttl_ms = ttl->unavailable_ms;
		return ROBOTS_ALLOW_ALL;
	}
	return unreachable(ttl, retry_after_ms, ttl_ms);
}

enum robots_policy
robots_policy_for_status(long http_status, enum fetch_error error,
    int64_t retry_after_ms, const struct robots_cache_ttl *ttl,
    uint64_t *ttl_ms)
{
	struct robots_cache_ttl def;

	if (ttl == NULL) {
		robots_cache_ttl_default(&def);
		ttl = &def;
	}
	switch (error) {
	case FETCH_OK:
		return policy_of_status(http_status, retry_after_ms, ttl,
		    ttl_ms);
	case FETCH_ERR_TOO_LARGE:
		if (http_status >= 200 && http_status < 300) {
			*ttl_ms = ttl->ok_ms;
			return ROBOTS_PARSE_BODY;
		}
		return unreachable(ttl, retry_after_ms, ttl_ms);
	case FETCH_ERR_REDIRECTS:
	case FETCH_ERR_SCHEME:
		/* RFC 9309 2.3.1.2: past 5 hops, treat as unavailable. */
		*ttl_ms = ttl->unavailable_ms;
		return ROBOTS_ALLOW_ALL;
	case FETCH_ERR_ABORTED:
	case FETCH_ERR_INTERNAL:
		*ttl_ms = 0;
		return ROBOTS_DISALLOW_ALL;
	default:
		return unreachable(ttl, retry_after_ms, ttl_ms);
	}
}

const char *
robots_policy_name(enum robots_policy p)
{
	switch (p) {
	case ROBOTS_PARSE_BODY:
		return "parse";
	case ROBOTS_ALLOW_ALL:
		return "allow-all";
	case ROBOTS_DISALLOW_ALL:
		return "disallow-all";
	case ROBOTS_KEEP_CACHED:
		return "keep-cached";
	}
	return "unknown";
}
