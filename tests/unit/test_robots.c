/*
 * test_robots.c - robots.txt parsing and matching.  The cases follow the
 * RFC 9309 conformance cases of the public google/robotstxt suite (test
 * names kept in the comments), rewritten as rows: body, product token,
 * path, expected verdict.  Rows marked "sluice:" differ from Google on
 * purpose (we normalise percent-encoding on both sides, as RFC 3986 6.2.2
 * and the brief ask).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "robots.h"
#include "util.h"

struct row {
	const char	*body;
	const char	*agent;
	const char	*path;
	bool		 allowed;
};

static struct robots *
parse_with(const char *body, size_t len, const struct robots_limits *lim)
{
	char err[128] = "";
	struct robots *r = robots_parse(body, len, lim, err, sizeof(err));

	if (r == NULL)
		fail_msg("robots_parse: %s", err);
	return r;
}

static struct robots *
parse(const char *body)
{
	return parse_with(body, strlen(body), NULL);
}

static void
run_rows(const struct row *rows, size_t n, const char *what)
{
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		struct robots *r = parse(rows[i].body);
		bool got = robots_allows(r, rows[i].agent, rows[i].path);

		if (got != rows[i].allowed) {
			print_error("%s row %zu: agent \"%s\" path \"%s\": "
			    "expected %s, got %s\n", what, i, rows[i].agent,
			    rows[i].path, rows[i].allowed ? "allow" : "disallow",
			    got ? "allow" : "disallow");
			bad++;
		}
		robots_free(r);
	}
	if (bad > 0)
		fail_msg("%s: %zu of %zu rows wrong", what, bad, n);
}

#define RUN(rows) run_rows(rows, ARRAY_LEN(rows), __func__)

#define FOO_DISALLOW_ALL "user-agent: FooBot\ndisallow: /\n"

/* GoogleOnly_SystemTest: empty inputs. */
static void
test_system(void **state)
{
	static const struct row rows[] = {
		{ "", "FooBot", "", true },
		{ FOO_DISALLOW_ALL, "", "", true },
		{ FOO_DISALLOW_ALL, "FooBot", "", false },	/* "" is "/" */
		{ "", "", "", true },
		{ FOO_DISALLOW_ALL, NULL, NULL, true },
		{ FOO_DISALLOW_ALL, "FooBot", NULL, false },
	};

	(void)state;
	RUN(rows);
}

/* ID_LineSyntax_Line: colon-separated lines; a missing colon tolerated. */
static void
test_line_syntax_line(void **state)
{
	static const struct row rows[] = {
		{ "user-agent: FooBot\ndisallow: /\n", "FooBot", "/x/y", false },
		{ "foo: FooBot\nbar: /\n", "FooBot", "/x/y", true },
		{ "user-agent FooBot\ndisallow /\n", "FooBot", "/x/y", false },
		{ "user-agent\tFooBot\ndisallow\t/\n", "FooBot", "/x/y", false },
	};

	(void)state;
	RUN(rows);
}

#define GROUPS_BODY \
	"allow: /foo/bar/\n" \
	"\n" \
	"user-agent: FooBot\n" \
	"disallow: /\n" \
	"allow: /x/\n" \
	"user-agent: BarBot\n" \
	"disallow: /\n" \
	"allow: /y/\n" \
	"\n" \
	"\n" \
	"allow: /w/\n" \
	"user-agent: BazBot\n" \
	"\n" \
	"user-agent: FooBot\n" \
	"allow: /z/\n" \
	"disallow: /\n"

/* ID_LineSyntax_Groups: groups, merging, rules outside groups ignored. */
static void
test_line_syntax_groups(void **state)
{
	static const struct row rows[] = {
		{ GROUPS_BODY, "FooBot", "/x/b", true },
		{ GROUPS_BODY, "FooBot", "/z/d", true },
		{ GROUPS_BODY, "FooBot", "/y/c", false },
		{ GROUPS_BODY, "BarBot", "/y/c", true },
		{ GROUPS_BODY, "BarBot", "/w/a", true },
		{ GROUPS_BODY, "BarBot", "/z/d", false },
		{ GROUPS_BODY, "BazBot", "/z/d", true },
		{ GROUPS_BODY, "FooBot", "/foo/bar/", false },
		{ GROUPS_BODY, "BarBot", "/foo/bar/", false },
		{ GROUPS_BODY, "BazBot", "/foo/bar/", false },
	};
	struct robots *r;

	(void)state;
	RUN(rows);
	r = parse(GROUPS_BODY);
	assert_int_equal(robots_stats(r)->outside, 1);
	assert_int_equal(robots_stats(r)->groups, 3);
	robots_free(r);
}

#define OTHER_SITEMAP \
	"User-agent: BarBot\n" \
	"Sitemap: https://foo.bar/sitemap\n" \
	"User-agent: *\n" \
	"Disallow: /\n"
#define OTHER_UNKNOWN \
	"User-agent: FooBot\n" \
	"Invalid-Unknown-Line: unknown\n" \
	"User-agent: *\n" \
	"Disallow: /\n"

/* ID_LineSyntax_Groups_OtherRules: sitemap and unknown lines do not end
 * the user-agent run of a group. */
static void
test_groups_other_rules(void **state)
{
	static const struct row rows[] = {
		{ OTHER_SITEMAP, "FooBot", "/", false },
		{ OTHER_SITEMAP, "BarBot", "/", false },
		{ OTHER_UNKNOWN, "FooBot", "/", false },
		{ OTHER_UNKNOWN, "BarBot", "/", false },
	};

	(void)state;
	RUN(rows);
}

#define NAMES_UPPER "USER-AGENT: FooBot\nALLOW: /x/\nDISALLOW: /\n"
#define NAMES_LOWER "user-agent: FooBot\nallow: /x/\ndisallow: /\n"
#define NAMES_CAMEL "uSeR-aGeNt: FooBot\nAlLoW: /x/\ndIsAlLoW: /\n"

/* ID_REPLineNamesCaseInsensitive. */
static void
test_field_names_case_insensitive(void **state)
{
	static const struct row rows[] = {
		{ NAMES_UPPER, "FooBot", "/x/y", true },
		{ NAMES_LOWER, "FooBot", "/x/y", true },
		{ NAMES_CAMEL, "FooBot", "/x/y", true },
		{ NAMES_UPPER, "FooBot", "/a/b", false },
		{ NAMES_LOWER, "FooBot", "/a/b", false },
		{ NAMES_CAMEL, "FooBot", "/a/b", false },
	};

	(void)state;
	RUN(rows);
}

#define UA_UPPER "User-Agent: FOO BAR\nAllow: /x/\nDisallow: /\n"
#define UA_LOWER "User-Agent: foo bar\nAllow: /x/\nDisallow: /\n"
#define UA_CAMEL "User-Agent: FoO bAr\nAllow: /x/\nDisallow: /\n"

/* ID_UserAgentValueCaseInsensitive. */
static void
test_user_agent_value_case_insensitive(void **state)
{
	static const struct row rows[] = {
		{ UA_UPPER, "Foo", "/x/y", true },
		{ UA_LOWER, "Foo", "/x/y", true },
		{ UA_CAMEL, "Foo", "/x/y", true },
		{ UA_UPPER, "Foo", "/a/b", false },
		{ UA_LOWER, "Foo", "/a/b", false },
		{ UA_CAMEL, "Foo", "/a/b", false },
		{ UA_UPPER, "foo", "/x/y", true },
		{ UA_LOWER, "foo", "/x/y", true },
		{ UA_CAMEL, "foo", "/x/y", true },
		{ UA_UPPER, "foo", "/a/b", false },
		{ UA_LOWER, "foo", "/a/b", false },
		{ UA_CAMEL, "foo", "/a/b", false },
		{ UA_CAMEL, "FOO", "/a/b", false },
		/* A different token falls through to (absent) "*". */
		{ UA_CAMEL, "Foobar", "/a/b", true },
	};

	(void)state;
	RUN(rows);
}

#define FIRST_SPACE \
	"User-Agent: *\n" \
	"Disallow: /\n" \
	"User-Agent: Foo Bar\n" \
	"Allow: /x/\n" \
	"Disallow: /\n"

/* GoogleOnly_AcceptUserAgentUpToFirstSpace, and "name/version" lines. */
static void
test_agent_token_prefix(void **state)
{
	static const struct row rows[] = {
		{ FIRST_SPACE, "Foo", "/x/y", true },
		{ FIRST_SPACE, "Foo Bar", "/x/y", false },
		{ "User-agent: FooBot/2.1\nDisallow: /\n", "foobot", "/", false },
		{ "User-agent: FooBot*\nDisallow: /\n", "FooBot", "/", false },
		{ "User-agent: 360Spider\nDisallow: /\n", "360spider", "/", false },
		{ "User-agent: Foo_Bot-2\nDisallow: /\n", "foo_bot-2", "/", false },
		/* A prefix of the token is not the token. */
		{ "User-agent: Foo\nDisallow: /\n", "FooBot", "/", true },
		{ "User-agent: FooBot\nDisallow: /\n", "Foo", "/", true },
		/* "*" only alone; "*bot" names nothing. */
		{ "User-agent: *bot\nDisallow: /\n", "xbot", "/", true },
		{ "User-agent: * \nDisallow: /\n", "xbot", "/", false },
		/* A user-agent line naming no token still opens a group. */
		{ "User-agent: ???\nDisallow: /\n", "FooBot", "/", true },
		{ "User-agent: ???\nDisallow: /\n", "", "/", true },
	};

	(void)state;
	RUN(rows);
}

#define GLOBAL_BODY "user-agent: *\nallow: /\nuser-agent: FooBot\ndisallow: /\n"
#define SPECIFIC_BODY \
	"user-agent: FooBot\n" \
	"allow: /\n" \
	"user-agent: BarBot\n" \
	"disallow: /\n" \
	"user-agent: BazBot\n" \
	"disallow: /\n"

/* ID_GlobalGroups_Secondary: "*" only when no group names the token. */
static void
test_global_groups_secondary(void **state)
{
	static const struct row rows[] = {
		{ "", "FooBot", "/x/y", true },
		{ GLOBAL_BODY, "FooBot", "/x/y", false },
		{ GLOBAL_BODY, "BarBot", "/x/y", true },
		{ SPECIFIC_BODY, "QuxBot", "/x/y", true },
	};

	(void)state;
	RUN(rows);
}

/* ID_AllowDisallow_Value_CaseSensitive. */
static void
test_allow_disallow_case_sensitive(void **state)
{
	static const struct row rows[] = {
		{ "user-agent: FooBot\ndisallow: /x/\n", "FooBot", "/x/y", false },
		{ "user-agent: FooBot\ndisallow: /X/\n", "FooBot", "/x/y", true },
	};

	(void)state;
	RUN(rows);
}

/* ID_LongestMatch: the most octets win; Allow wins a tie. */
static void
test_longest_match(void **state)
{
	static const struct row rows[] = {
		{ "user-agent: FooBot\ndisallow: /x/page.html\nallow: /x/\n",
		    "FooBot", "/x/page.html", false },
		{ "user-agent: FooBot\nallow: /x/page.html\ndisallow: /x/\n",
		    "FooBot", "/x/page.html", true },
		{ "user-agent: FooBot\nallow: /x/page.html\ndisallow: /x/\n",
		    "FooBot", "/x/", false },
		{ "user-agent: FooBot\ndisallow: \nallow: \n",
		    "FooBot", "/x/page.html", true },
		{ "user-agent: FooBot\ndisallow: /\nallow: /\n",
		    "FooBot", "/x/page.html", true },
		{ "user-agent: FooBot\nallow: /\ndisallow: /\n",
		    "FooBot", "/x/page.html", true },
		{ "user-agent: FooBot\ndisallow: /x\nallow: /x/\n",
		    "FooBot", "/x", false },
		{ "user-agent: FooBot\ndisallow: /x\nallow: /x/\n",
		    "FooBot", "/x/", true },
		{ "user-agent: FooBot\ndisallow: /x/page.html\n"
		    "allow: /x/page.html\n", "FooBot", "/x/page.html", true },
		{ "user-agent: FooBot\nallow: /page\ndisallow: /*.html\n",
		    "FooBot", "/page.html", false },
		{ "user-agent: FooBot\nallow: /page\ndisallow: /*.html\n",
		    "FooBot", "/page", true },
		{ "user-agent: FooBot\nallow: /x/page.\ndisallow: /*.html\n",
		    "FooBot", "/x/page.html", true },
		{ "user-agent: FooBot\nallow: /x/page.\ndisallow: /*.html\n",
		    "FooBot", "/x/y.html", false },
		{ "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\n"
		    "Disallow: /y/\n", "FooBot", "/x/page", true },
		{ "User-agent: *\nDisallow: /x/\nUser-agent: FooBot\n"
		    "Disallow: /y/\n", "FooBot", "/y/page", false },
		/* Length is measured on the pattern, wildcards included. */
		{ "user-agent: FooBot\nallow: /a*\ndisallow: /ab\n",
		    "FooBot", "/abc", true },
		{ "user-agent: FooBot\nallow: /$\ndisallow: /\n",
		    "FooBot", "/", true },
	};

	(void)state;
	RUN(rows);
}

#define ENC_QUERY \
	"User-agent: FooBot\nDisallow: /\n" \
	"Allow: /foo/bar?qux=taz&baz=http://foo.bar?tar&par\n"
#define ENC_RAW "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/\xE3\x83\x84\n"
#define ENC_PCT "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%E3%83%84\n"
#define ENC_UNRES "User-agent: FooBot\nDisallow: /\nAllow: /foo/bar/%62%61%7A\n"
#define ENC_SLASH "User-agent: FooBot\nDisallow: /a%2fb\n"

/* ID_Encoding: patterns and paths compare after RFC 3986 normalisation. */
static void
test_encoding(void **state)
{
	static const struct row rows[] = {
		{ ENC_QUERY, "FooBot",
		    "/foo/bar?qux=taz&baz=http://foo.bar?tar&par", true },
		{ ENC_RAW, "FooBot", "/foo/bar/%E3%83%84", true },
		{ ENC_RAW, "FooBot", "/foo/bar/%e3%83%84", true },
		/* sluice: a raw UTF-8 path is escaped too (Google: false). */
		{ ENC_RAW, "FooBot", "/foo/bar/\xE3\x83\x84", true },
		{ ENC_PCT, "FooBot", "/foo/bar/%E3%83%84", true },
		{ ENC_PCT, "FooBot", "/foo/bar/\xE3\x83\x84", true },
		{ ENC_PCT, "FooBot", "/foo/bar/%E3%83", false },
		/* sluice: %62%61%7A is "baz" once normalised (Google: false). */
		{ ENC_UNRES, "FooBot", "/foo/bar/baz", true },
		{ ENC_UNRES, "FooBot", "/foo/bar/%62%61%7A", true },
		{ ENC_UNRES, "FooBot", "/foo/bar/%62%61%7a", true },
		{ ENC_UNRES, "FooBot", "/foo/bar/bat", false },
		/* Reserved characters stay escaped: %2F is not "/". */
		{ ENC_SLASH, "FooBot", "/a%2Fb", false },
		{ ENC_SLASH, "FooBot", "/a%2fb/c", false },
		{ ENC_SLASH, "FooBot", "/a/b", true },
		{ "User-agent: *\nDisallow: /~joe\n", "x", "/%7Ejoe/", false },
		{ "User-agent: *\nDisallow: /%7ejoe\n", "x", "/~joe/", false },
		{ "User-agent: *\nDisallow: /a b\n", "x", "/a%20b", false },
		{ "User-agent: *\nDisallow: /%zz\n", "x", "/%zz", false },
		{ "User-agent: *\nDisallow: /%zz\n", "x", "/%25zz", true },
		{ "User-agent: *\nDisallow: /a%\n", "x", "/a%", false },
	};

	(void)state;
	RUN(rows);
}

#define SPECIAL_STAR "User-agent: FooBot\nDisallow: /foo/bar/quz\nAllow: /foo/*/qux\n"
#define SPECIAL_DOLLAR "User-agent: FooBot\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n"
#define SPECIAL_HASH \
	"User-agent: FooBot\n# Disallow: /\nDisallow: /foo/quz#qux\nAllow: /\n"

/* ID_SpecialCharacters: '*', '$' and '#'. */
static void
test_special_characters(void **state)
{
	static const struct row rows[] = {
		{ SPECIAL_STAR, "FooBot", "/foo/bar/quz", false },
		{ SPECIAL_STAR, "FooBot", "/foo/quz", true },
		{ SPECIAL_STAR, "FooBot", "/foo//quz", true },
		{ SPECIAL_STAR, "FooBot", "/foo/bax/quz", true },
		{ SPECIAL_DOLLAR, "FooBot", "/foo/bar", false },
		{ SPECIAL_DOLLAR, "FooBot", "/foo/bar/qux", true },
		{ SPECIAL_DOLLAR, "FooBot", "/foo/bar/", true },
		{ SPECIAL_DOLLAR, "FooBot", "/foo/bar/baz", true },
		{ SPECIAL_HASH, "FooBot", "/foo/bar", true },
		{ SPECIAL_HASH, "FooBot", "/foo/quz", false },
		/* '$' inside a pattern is literal; %2A is a literal star. */
		{ "User-agent: *\nDisallow: /a$b\n", "x", "/a$b", false },
		{ "User-agent: *\nDisallow: /a$b\n", "x", "/a", true },
		{ "User-agent: *\nDisallow: /a%2A\n", "x", "/a%2A", false },
		{ "User-agent: *\nDisallow: /a%2A\n", "x", "/ab", true },
		{ "User-agent: *\nDisallow: /*$\n", "x", "/anything", false },
		{ "User-agent: *\nDisallow: /**x**\n", "x", "/ax", false },
		{ "User-agent: *\nDisallow: /**x**\n", "x", "/ay", true },
		{ "User-agent: *\nDisallow: /a*b$\n", "x", "/aXbYb", false },
		{ "User-agent: *\nDisallow: /a*b$\n", "x", "/aXbYc", true },
		/* A pattern without a leading slash gets one. */
		{ "User-agent: *\nDisallow: private\n", "x", "/private/x", false },
		{ "User-agent: *\nDisallow: *.pdf$\n", "x", "/a/b.pdf", false },
	};

	(void)state;
	RUN(rows);
}

#define INDEX_BODY \
	"User-Agent: *\nAllow: /allowed-slash/index.html\nDisallow: /\n"

/* GoogleOnly_IndexHTMLisDirectory. */
static void
test_index_html_is_directory(void **state)
{
	static const struct row rows[] = {
		{ INDEX_BODY, "foobot", "/allowed-slash/", true },
		{ INDEX_BODY, "foobot", "/allowed-slash/index.htm", false },
		{ INDEX_BODY, "foobot", "/allowed-slash/index.html", true },
		{ INDEX_BODY, "foobot", "/anyother-url", false },
		/* Only the directory itself, not what is below it. */
		{ INDEX_BODY, "foobot", "/allowed-slash/other", false },
		/* Only for Allow. */
		{ "User-Agent: *\nDisallow: /d/index.html\n", "x", "/d/", true },
	};

	(void)state;
	RUN(rows);
}

/* Builds "prefix" + '/x/' + fill*k + tail into a malloc'd string. */
static char *
long_line(const char *prefix, char fill, size_t k, const char *tail)
{
	size_t pl = strlen(prefix), tl = strlen(tail);
	char *s = malloc(pl + 3 + k + tl + 1);

	assert_non_null(s);
	memcpy(s, prefix, pl);
	memcpy(s + pl, "/x/", 3);
	memset(s + pl + 3, fill, k);
	memcpy(s + pl + 3 + k, tail, tl + 1);
	return s;
}

/* GoogleOnly_LineTooLong: a line is cut at max_line and the cut pattern
 * still applies.  "disallow: /x/" + a... + "/qux": the cut falls just
 * after the '/' before "qux". */
static void
test_line_too_long(void **state)
{
	size_t k = ROBOTS_MAX_LINE - strlen("disallow: /x/") - 1;
	char *rule = long_line("disallow: ", 'a', k, "/qux\n");
	char *body = malloc(strlen(rule) + 64), *url;
	struct robots *r;

	(void)state;
	assert_non_null(body);
	strcpy(body, "user-agent: FooBot\n");
	strcat(body, rule);
	r = parse(body);
	assert_int_equal(robots_stats(r)->long_lines, 1);
	assert_true(robots_allows(r, "FooBot", "/fux"));
	url = long_line("", 'a', k, "/fux");
	assert_false(robots_allows(r, "FooBot", url));
	robots_free(r);
	free(url);
	free(rule);
	free(body);
}

/* GoogleOnly_LineTooLong, second half: two long Allow lines. */
static void
test_line_too_long_allow(void **state)
{
	size_t k = ROBOTS_MAX_LINE - strlen("allow: /x/") - 1;
	char *a = long_line("allow: ", 'a', k, "/qux\n");
	char *b = long_line("allow: ", 'b', k, "/qux\n");
	char *body = malloc(strlen(a) + strlen(b) + 64), *url;
	struct robots *r;

	(void)state;
	assert_non_null(body);
	strcpy(body, "user-agent: FooBot\ndisallow: /\n");
	strcat(body, a);
	strcat(body, b);
	r = parse(body);
	assert_int_equal(robots_stats(r)->long_lines, 2);
	assert_false(robots_allows(r, "FooBot", "/"));
	url = long_line("", 'a', k, "/qux");
	assert_true(robots_allows(r, "FooBot", url));
	free(url);
	url = long_line("", 'b', k, "/fux");
	assert_true(robots_allows(r, "FooBot", url));
	free(url);
	robots_free(r);
	free(a);
	free(b);
	free(body);
}

#define DOC_FISH "user-agent: FooBot\ndisallow: /\nallow: /fish\n"
#define DOC_FISHSTAR "user-agent: FooBot\ndisallow: /\nallow: /fish*\n"
#define DOC_FISHDIR "user-agent: FooBot\ndisallow: /\nallow: /fish/\n"
#define DOC_PHP "user-agent: FooBot\ndisallow: /\nallow: /*.php\n"
#define DOC_PHPEND "user-agent: FooBot\ndisallow: /\nallow: /*.php$\n"
#define DOC_FISHPHP "user-agent: FooBot\ndisallow: /\nallow: /fish*.php\n"

/* GoogleOnly_DocumentationChecks: "URL matching based on path values". */
static void
test_documentation_paths(void **state)
{
	static const struct row rows[] = {
		{ DOC_FISH, "FooBot", "/bar", false },
		{ DOC_FISH, "FooBot", "/fish", true },
		{ DOC_FISH, "FooBot", "/fish.html", true },
		{ DOC_FISH, "FooBot", "/fish/salmon.html", true },
		{ DOC_FISH, "FooBot", "/fishheads", true },
		{ DOC_FISH, "FooBot", "/fishheads/yummy.html", true },
		{ DOC_FISH, "FooBot", "/fish.html?id=anything", true },
		{ DOC_FISH, "FooBot", "/Fish.asp", false },
		{ DOC_FISH, "FooBot", "/catfish", false },
		{ DOC_FISH, "FooBot", "/?id=fish", false },
		{ DOC_FISHSTAR, "FooBot", "/bar", false },
		{ DOC_FISHSTAR, "FooBot", "/fish", true },
		{ DOC_FISHSTAR, "FooBot", "/fish.html", true },
		{ DOC_FISHSTAR, "FooBot", "/fish/salmon.html", true },
		{ DOC_FISHSTAR, "FooBot", "/fishheads", true },
		{ DOC_FISHSTAR, "FooBot", "/fishheads/yummy.html", true },
		{ DOC_FISHSTAR, "FooBot", "/fish.html?id=anything", true },
		{ DOC_FISHSTAR, "FooBot", "/Fish.bar", false },
		{ DOC_FISHSTAR, "FooBot", "/catfish", false },
		{ DOC_FISHSTAR, "FooBot", "/?id=fish", false },
		{ DOC_FISHDIR, "FooBot", "/bar", false },
		{ DOC_FISHDIR, "FooBot", "/fish/", true },
		{ DOC_FISHDIR, "FooBot", "/fish/salmon", true },
		{ DOC_FISHDIR, "FooBot", "/fish/?salmon", true },
		{ DOC_FISHDIR, "FooBot", "/fish/salmon.html", true },
		{ DOC_FISHDIR, "FooBot", "/fish/?id=anything", true },
		{ DOC_FISHDIR, "FooBot", "/fish", false },
		{ DOC_FISHDIR, "FooBot", "/fish.html", false },
		{ DOC_FISHDIR, "FooBot", "/Fish/Salmon.html", false },
	};

	(void)state;
	RUN(rows);
}

/* GoogleOnly_DocumentationChecks: wildcard and end-anchor examples. */
static void
test_documentation_wildcards(void **state)
{
	static const struct row rows[] = {
		{ DOC_PHP, "FooBot", "/bar", false },
		{ DOC_PHP, "FooBot", "/filename.php", true },
		{ DOC_PHP, "FooBot", "/folder/filename.php", true },
		{ DOC_PHP, "FooBot", "/folder/filename.php?parameters", true },
		{ DOC_PHP, "FooBot", "//folder/any.php.file.html", true },
		{ DOC_PHP, "FooBot", "/filename.php/", true },
		{ DOC_PHP, "FooBot", "/index?f=filename.php/", true },
		{ DOC_PHP, "FooBot", "/php/", false },
		{ DOC_PHP, "FooBot", "/index?php", false },
		{ DOC_PHP, "FooBot", "/windows.PHP", false },
		{ DOC_PHPEND, "FooBot", "/bar", false },
		{ DOC_PHPEND, "FooBot", "/filename.php", true },
		{ DOC_PHPEND, "FooBot", "/folder/filename.php", true },
		{ DOC_PHPEND, "FooBot", "/filename.php?parameters", false },
		{ DOC_PHPEND, "FooBot", "/filename.php/", false },
		{ DOC_PHPEND, "FooBot", "/filename.php5", false },
		{ DOC_PHPEND, "FooBot", "/php/", false },
		{ DOC_PHPEND, "FooBot", "/filename?php", false },
		{ DOC_PHPEND, "FooBot", "/aaaphpaaa", false },
		{ DOC_PHPEND, "FooBot", "//windows.PHP", false },
		{ DOC_FISHPHP, "FooBot", "/bar", false },
		{ DOC_FISHPHP, "FooBot", "/fish.php", true },
		{ DOC_FISHPHP, "FooBot", "/fishheads/catfish.php?parameters", true },
		{ DOC_FISHPHP, "FooBot", "/Fish.PHP", false },
	};

	(void)state;
	RUN(rows);
}

/* GoogleOnly_DocumentationChecks: "Order of precedence". */
static void
test_documentation_precedence(void **state)
{
	static const struct row rows[] = {
		{ "user-agent: FooBot\nallow: /p\ndisallow: /\n",
		    "FooBot", "/page", true },
		{ "user-agent: FooBot\nallow: /folder\ndisallow: /folder\n",
		    "FooBot", "/folder/page", true },
		{ "user-agent: FooBot\nallow: /page\ndisallow: /*.htm\n",
		    "FooBot", "/page.htm", false },
		{ "user-agent: FooBot\nallow: /$\ndisallow: /\n",
		    "FooBot", "/", true },
		{ "user-agent: FooBot\nallow: /$\ndisallow: /\n",
		    "FooBot", "/page.html", false },
	};

	(void)state;
	RUN(rows);
}

/* Checks one of the line-ending variants: 4 directives on 6 lines, and
 * the rules really were split where the line ends are. */
static void
check_six_lines(const char *body, size_t len)
{
	struct robots *r = parse_with(body, len, NULL);
	const struct robots_stats *st = robots_stats(r);

	assert_int_equal(st->directives, 4);
	assert_int_equal(st->lines, 6);
	assert_int_equal(st->groups, 2);
	assert_int_equal(st->rules, 2);
	assert_true(robots_allows(r, "foo", "/some/path"));
	assert_false(robots_allows(r, "bar", "/some/path"));
	robots_free(r);
}

/* ID_LinesNumbersAreCountedCorrectly: LF, CRLF, CR, no final newline, mixed. */
static void
test_line_endings(void **state)
{
	static const char *bodies[] = {
		"User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\n"
		    "Disallow: /\n",
		"User-Agent: foo\r\nAllow: /some/path\r\nUser-Agent: bar\r\n"
		    "\r\n\r\nDisallow: /\r\n",
		"User-Agent: foo\rAllow: /some/path\rUser-Agent: bar\r\r\r"
		    "Disallow: /\r",
		"User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\n"
		    "Disallow: /",
		"User-Agent: foo\nAllow: /some/path\r\nUser-Agent: bar\n\r\n"
		    "\nDisallow: /",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(bodies); i++)
		check_six_lines(bodies[i], strlen(bodies[i]));
}

struct bom_case {
	const char	*body;
	unsigned	 directives;
	unsigned	 unknown;
	bool		 foo_allowed_other;	/* "/other" for foo */
};

/* ID_UTF8ByteOrderMarkIsSkipped: whole or partial BOM, only at the start. */
static void
test_bom(void **state)
{
	static const struct bom_case cases[] = {
		{ "\xEF\xBB\xBFUser-Agent: foo\nDisallow: /\n", 2, 0, false },
		{ "\xEF\xBBUser-Agent: foo\nDisallow: /\n", 2, 0, false },
		{ "\xEFUser-Agent: foo\nDisallow: /\n", 2, 0, false },
		{ "\xEF\x11\xBFUser-Agent: foo\nDisallow: /\n", 1, 1, true },
		{ "User-Agent: foo\n\xEF\xBB\xBF" "Disallow: /\n", 1, 1, true },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(cases); i++) {
		struct robots *r = parse(cases[i].body);

		assert_int_equal(robots_stats(r)->directives,
		    cases[i].directives);
		assert_int_equal(robots_stats(r)->unknown, cases[i].unknown);
		assert_int_equal(robots_allows(r, "foo", "/other"),
		    cases[i].foo_allowed_other);
		robots_free(r);
	}
}

static void
expect_sitemaps(const char *body, const char **want, size_t nwant)
{
	struct robots *r = parse(body);
	const char *const *maps;
	size_t n, i;

	maps = robots_sitemaps(r, &n);
	assert_int_equal(n, nwant);
	for (i = 0; i < n; i++)
		assert_string_equal(maps[i], want[i]);
	robots_free(r);
}

/* ID_NonStandardLineExample_Sitemap: anywhere in the file, any group. */
static void
test_sitemaps(void **state)
{
	static const char *one[] = { "http://foo.bar/sitemap.xml" };
	static const char *two[] = { "https://a.example/s1.xml",
	    "https://a.example/s2.xml" };

	(void)state;
	expect_sitemaps("User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n"
	    "\n\nSitemap: http://foo.bar/sitemap.xml\n", one, 1);
	expect_sitemaps("Sitemap: http://foo.bar/sitemap.xml\nUser-Agent: foo\n"
	    "Allow: /some/path\nUser-Agent: bar\n\n\n", one, 1);
	expect_sitemaps("sitemap http://foo.bar/sitemap.xml   # comment\n",
	    one, 1);
	expect_sitemaps("SITEMAP:https://a.example/s1.xml\n"
	    "Sitemap: https://a.example/s2.xml\r\n"
	    "Sitemap: https://a.example/s1.xml\n"
	    "Sitemap:\n", two, 2);
	expect_sitemaps("User-agent: *\nDisallow: /\n", NULL, 0);
}

static void
expect_delay(const char *body, const char *agent, int64_t want)
{
	struct robots *r = parse(body);
	int64_t got = robots_crawl_delay_ms(r, agent);

	if (got != want)
		fail_msg("crawl-delay for %s in \"%s\": want %lld, got %lld",
		    agent, body, (long long)want, (long long)got);
	robots_free(r);
}

#define DELAY_TWO \
	"User-agent: FooBot\nCrawl-delay: 2.5\n\nUser-agent: *\nCrawl-delay: 10\n"

/* Crawl-delay: the chosen group's, fractional seconds, clamped. */
static void
test_crawl_delay(void **state)
{
	(void)state;
	expect_delay("User-agent: *\nCrawl-delay: 5\n", "any", 5000);
	expect_delay(DELAY_TWO, "FooBot", 2500);
	expect_delay(DELAY_TWO, "foobot", 2500);
	expect_delay(DELAY_TWO, "BarBot", 10000);
	/* The chosen group has none: no fallback to "*". */
	expect_delay("User-agent: FooBot\nDisallow: /x\nUser-agent: *\n"
	    "Crawl-delay: 3\n", "FooBot", ROBOTS_NO_DELAY);
	/* Merged groups: the largest. */
	expect_delay("User-agent: FooBot\nCrawl-delay: 1\nUser-agent: Bar\n"
	    "Disallow: /\nUser-agent: FooBot\nCrawl-delay: 3\n", "FooBot", 3000);
	expect_delay("User-agent: *\nCrawl-delay: 0.5\n", "x", 500);
	expect_delay("User-agent: *\nCrawl-delay: .25\n", "x", 250);
	expect_delay("User-agent: *\nCrawl-delay: 1.2345\n", "x", 1234);
	expect_delay("User-agent: *\nCrawl-delay: 0\n", "x", 0);
	expect_delay("User-agent: *\nCrawl-delay: 7 # slow\n", "x", 7000);
	expect_delay("User-agent: *\ncrawldelay 4\n", "x", 4000);
	expect_delay("User-agent: *\nCrawl-delay: 99999999999999999999999\n",
	    "x", (int64_t)ROBOTS_MAX_CRAWL_DELAY_MS);
	expect_delay("User-agent: *\nCrawl-delay: abc\n", "x", ROBOTS_NO_DELAY);
	expect_delay("User-agent: *\nCrawl-delay: -1\n", "x", ROBOTS_NO_DELAY);
	expect_delay("User-agent: *\nCrawl-delay: 10s\n", "x", ROBOTS_NO_DELAY);
	expect_delay("User-agent: *\nCrawl-delay: .\n", "x", ROBOTS_NO_DELAY);
	expect_delay("User-agent: *\nCrawl-delay:\n", "x", ROBOTS_NO_DELAY);
	expect_delay("Crawl-delay: 5\nUser-agent: *\n", "x", ROBOTS_NO_DELAY);
	expect_delay("", "x", ROBOTS_NO_DELAY);
}

/* Crawl-delay belongs to its group: it ends the user-agent run. */
static void
test_crawl_delay_groups(void **state)
{
	static const char body[] = "User-agent: a\nCrawl-delay: 1\n"
	    "User-agent: b\nDisallow: /\n";
	struct robots_limits lim;
	struct robots *r;

	(void)state;
	r = parse(body);
	assert_true(robots_allows(r, "a", "/x"));
	assert_false(robots_allows(r, "b", "/x"));
	assert_int_equal(robots_crawl_delay_ms(r, "a"), 1000);
	assert_int_equal(robots_crawl_delay_ms(r, "b"), ROBOTS_NO_DELAY);
	robots_free(r);

	memset(&lim, 0, sizeof(lim));
	lim.max_crawl_delay_ms = 30000;
	r = parse_with("User-agent: *\nCrawl-delay: 60\n", 30, &lim);
	assert_int_equal(robots_crawl_delay_ms(r, "x"), 30000);
	robots_free(r);
}

#define MERGED \
	"User-agent: FooBot\nDisallow: /a\n\n" \
	"User-agent: BarBot\nDisallow: /b\n\n" \
	"User-agent: foobot\nDisallow: /c\n\n" \
	"User-agent: *\nDisallow: /\n"

/* Multiple groups for one token merge; "*" is not mixed in. */
static void
test_multiple_groups(void **state)
{
	static const struct row rows[] = {
		{ MERGED, "FooBot", "/a", false },
		{ MERGED, "FooBot", "/c", false },
		{ MERGED, "FooBot", "/b", true },
		{ MERGED, "FooBot", "/d", true },
		{ MERGED, "BarBot", "/b", false },
		{ MERGED, "BarBot", "/a", true },
		{ MERGED, "Other", "/d", false },
		/* Several user-agent lines share one group. */
		{ "User-agent: a\nUser-agent: b\nDisallow: /x\n", "b", "/x", false },
		{ "User-agent: a\nUser-agent: b\nDisallow: /x\n", "a", "/x", false },
		{ "User-agent: a\nUser-agent: b\nDisallow: /x\n", "c", "/x", true },
		/* "*" named next to a token is one group for both. */
		{ "User-agent: a\nUser-agent: *\nDisallow: /x\n", "c", "/x", false },
	};

	(void)state;
	RUN(rows);
}

/* Lenient field names: misspellings, spaces, no colon. */
static void
test_field_name_typos(void **state)
{
	static const struct row rows[] = {
		{ "User-agent: *\nDissallow: /\n", "x", "/a", false },
		{ "User-agent: *\nDissalow: /\n", "x", "/a", false },
		{ "User-agent: *\nDisalow: /\n", "x", "/a", false },
		{ "Useragent: x\nDisallow: /\n", "x", "/a", false },
		{ "User agent: x\nDisallow: /\n", "x", "/a", false },
		{ "  User-agent  :  x  \n\tDisallow\t:\t/\t\n", "x", "/a", false },
		{ "User-agent: x\nDisallow : /a\n", "x", "/a", false },
		{ "User-agent: x\nNoindex: /\n", "x", "/a", true },
		{ "User-agentx: x\nDisallow: /\n", "x", "/a", true },
	};

	(void)state;
	RUN(rows);
}

/* "/robots.txt" itself is always allowed; empty Disallow allows all. */
static void
test_special_paths(void **state)
{
	static const struct row rows[] = {
		{ "User-agent: *\nDisallow: /\n", "x", "/robots.txt", true },
		{ "User-agent: *\nDisallow: /robots\n", "x", "/robots.txt", true },
		{ "User-agent: *\nDisallow: /\n", "x", "/robots.txt?x=1", false },
		{ "User-agent: *\nDisallow:\n", "x", "/anything", true },
		{ "User-agent: *\nDisallow: # nothing\n", "x", "/anything", true },
		{ "User-agent: FooBot\nDisallow:\nUser-agent: *\nDisallow: /\n",
		    "FooBot", "/anything", true },
		{ "User-agent: FooBot\nDisallow:\nUser-agent: *\nDisallow: /\n",
		    "Other", "/anything", false },
		{ "User-agent: *\nAllow:\nDisallow: /\n", "x", "/anything", false },
	};

	(void)state;
	RUN(rows);
}

/* robots_explain() names the deciding line. */
static void
test_explain(void **state)
{
	static const char body[] = "User-agent: *\n"
	    "Disallow: /a\n"
	    "Allow: /a/b\n";
	struct robots_verdict v;
	struct robots *r = parse(body);

	(void)state;
	assert_false(robots_explain(r, "x", "/a/c", &v));
	assert_int_equal(v.why, ROBOTS_WHY_RULE);
	assert_int_equal(v.line, 2);
	assert_int_equal(v.match_len, 2);
	assert_true(robots_explain(r, "x", "/a/b/c", &v));
	assert_int_equal(v.why, ROBOTS_WHY_RULE);
	assert_int_equal(v.line, 3);
	assert_int_equal(v.match_len, 4);
	assert_true(robots_explain(r, "x", "/z", &v));
	assert_int_equal(v.why, ROBOTS_WHY_NO_RULE);
	assert_int_equal(v.line, 0);
	assert_true(robots_explain(r, "x", "/robots.txt", &v));
	assert_int_equal(v.why, ROBOTS_WHY_ROBOTS_TXT);
	robots_free(r);
}

static char *
repeat(const char *head, const char *unit, size_t times, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char *s = malloc(hl + ul * times + tl + 1), *p;

	assert_non_null(s);
	memcpy(s, head, hl);
	p = s + hl;
	for (i = 0; i < times; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

/* "*a*a*a...*b" against "aaaa...": exponential for a naive backtracker,
 * O(n*m) here, and the step budget bounds even that. */
static void
test_pathological_wildcards(void **state)
{
	char *body = repeat("User-agent: *\nDisallow: /", "*a", 40, "*b\n");
	char *path = repeat("/", "a", 10000, "");
	struct robots_limits lim;
	struct robots_verdict v;
	struct robots *r;
	clock_t t0;
	double secs;

	(void)state;
	r = parse(body);
	t0 = clock();
	assert_true(robots_explain(r, "x", path, &v));
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_int_equal(v.why, ROBOTS_WHY_NO_RULE);
	assert_true(secs < 1.0);
	robots_free(r);

	memset(&lim, 0, sizeof(lim));
	lim.max_match_steps = 1000;
	r = parse_with(body, strlen(body), &lim);
	assert_false(robots_explain(r, "x", path, &v));
	assert_int_equal(v.why, ROBOTS_WHY_LIMIT);
	/* A short path still fits the budget. */
	assert_true(robots_allows(r, "x", "/aaa"));
	free(path);
	path = repeat("/", "a", 40, "b");
	assert_false(robots_allows(r, "x", path));
	robots_free(r);
	free(body);
	free(path);
}

/* Many wildcard rules against a long path, all within the default budget. */
static void
test_many_wildcard_rules(void **state)
{
	char *body = repeat("User-agent: *\n", "Disallow: /*x*y*z*q\n", 2000, "");
	char *path = repeat("/", "xyz", 1000, "");
	struct robots_verdict v;
	struct robots *r;

	(void)state;
	r = parse(body);
	assert_int_equal(robots_stats(r)->rules, 2000);
	/* Identical rules: once one fails to match, the rest are tried too,
	 * so this exercises the budget over many rules. */
	robots_explain(r, "x", path, &v);
	assert_true(v.why == ROBOTS_WHY_NO_RULE || v.why == ROBOTS_WHY_LIMIT);
	assert_false(robots_allows(r, "x", "/xyzq"));
	robots_free(r);
	free(body);
	free(path);
}

/* RFC 9309 2.5: at least 500 KiB parsed, the rest ignored. */
static void
test_max_bytes(void **state)
{
	size_t pad = 600 * 1024;
	char *body = malloc(pad + 64);
	struct robots_limits lim;
	struct robots *r;
	size_t n;

	(void)state;
	assert_non_null(body);
	n = (size_t)sprintf(body, "User-agent: *\n");
	memset(body + n, '#', pad);
	body[n + 499 * 1024] = '\n';
	memcpy(body + n + 499 * 1024 + 1, "Disallow: /early\n", 17);
	n += pad;
	body[n - 1] = '\n';
	n += (size_t)sprintf(body + n, "Disallow: /late\n");

	r = parse_with(body, n, NULL);
	assert_true(robots_stats(r)->truncated);
	assert_int_equal(robots_stats(r)->bytes, ROBOTS_MAX_BYTES);
	assert_false(robots_allows(r, "x", "/early"));
	assert_true(robots_allows(r, "x", "/late"));
	robots_free(r);

	memset(&lim, 0, sizeof(lim));
	lim.max_bytes = 1024 * 1024;
	r = parse_with(body, n, &lim);
	assert_false(robots_stats(r)->truncated);
	assert_false(robots_allows(r, "x", "/late"));
	robots_free(r);
	free(body);
}

/* A line cut by max_bytes is dropped rather than read as a shorter,
 * broader pattern. */
static void
test_max_bytes_partial_line(void **state)
{
	static const char body[] = "User-agent: *\nDisallow: /private\n";
	static const char more[] = "User-agent: *\nDisallow: /private\n"
	    "Disallow: /other\n";
	struct robots_limits lim;
	struct robots *r;

	(void)state;
	memset(&lim, 0, sizeof(lim));
	lim.max_bytes = strlen("User-agent: *\nDisallow: /priv");
	r = parse_with(body, strlen(body), &lim);
	assert_true(robots_stats(r)->truncated);
	assert_true(robots_allows(r, "x", "/privacy"));
	assert_int_equal(robots_stats(r)->rules, 0);
	robots_free(r);
	/* Cut right after a line end: that line is whole and counts. */
	lim.max_bytes = strlen(body);
	r = parse_with(more, strlen(more), &lim);
	assert_true(robots_stats(r)->truncated);
	assert_false(robots_allows(r, "x", "/private"));
	assert_true(robots_allows(r, "x", "/other"));
	robots_free(r);
}

/* max_rules, max_agents, max_sitemaps, max_path. */
static void
test_limits(void **state)
{
	static const char body[] = "User-agent: a\nUser-agent: b\n"
	    "User-agent: c\nDisallow: /1\nDisallow: /2\nDisallow: /3\n"
	    "Sitemap: s1\nSitemap: s2\nSitemap: s3\n";
	struct robots_limits lim;
	struct robots_verdict v;
	struct robots *r;
	size_t n;

	(void)state;
	memset(&lim, 0, sizeof(lim));
	lim.max_rules = 2;
	lim.max_agents = 2;
	lim.max_sitemaps = 1;
	lim.max_path = 8;
	r = parse_with(body, strlen(body), &lim);
	assert_int_equal(robots_stats(r)->dropped, 1 + 1 + 2);
	assert_false(robots_allows(r, "a", "/2"));
	assert_true(robots_allows(r, "a", "/3"));
	assert_true(robots_allows(r, "c", "/1"));
	robots_sitemaps(r, &n);
	assert_int_equal(n, 1);
	assert_false(robots_explain(r, "a", "/12345678", &v));
	assert_int_equal(v.why, ROBOTS_WHY_LIMIT);
	assert_true(robots_allows(r, "a", "/9234567"));
	robots_free(r);
}

/* Over max_agents, a user-agent line that would open a group leaves its
 * rules groupless instead of adding them to the previous group. */
static void
test_max_agents_new_group(void **state)
{
	static const char body[] = "User-agent: a\nDisallow: /a\n"
	    "User-agent: b\nDisallow: /b\n";
	struct robots_limits lim;
	struct robots *r;

	(void)state;
	memset(&lim, 0, sizeof(lim));
	lim.max_agents = 1;
	r = parse_with(body, strlen(body), &lim);
	assert_true(robots_allows(r, "a", "/b"));
	assert_false(robots_allows(r, "a", "/a"));
	assert_true(robots_allows(r, "b", "/b"));
	assert_int_equal(robots_stats(r)->outside, 1);
	robots_free(r);
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random bytes and random robots-like lines: never a crash or a leak. */
static void
test_garbage(void **state)
{
	static const char *pieces[] = { "User-agent: ", "Disallow: ",
	    "Allow: ", "*", "$", "/", "a", "%", "%4", "%41", "\n", "\r",
	    "#", ":", " ", "\xEF\xBB\xBF", "\xFF", "Crawl-delay: 1.5",
	    "Sitemap: x", "FooBot", "\0" };
	char buf[8192];
	uint64_t seed = 42;
	int round;

	(void)state;
	for (round = 0; round < 300; round++) {
		size_t n = 0;
		struct robots *r;

		while (n < sizeof(buf) - 32) {
			uint64_t x = xorshift(&seed);
			const char *p = pieces[x % ARRAY_LEN(pieces)];
			size_t pl = p[0] ? strlen(p) : 1;

			if (round % 2 == 0)
				buf[n++] = (char)(x >> 8);
			else {
				memcpy(buf + n, p, pl);
				n += pl;
			}
		}
		r = parse_with(buf, n, NULL);
		robots_allows(r, "FooBot", "/a/b?c");
		robots_allows(r, "x", "/%41*$");
		robots_crawl_delay_ms(r, "FooBot");
		robots_free(r);
	}
}

struct policy_row {
	long		 status;
	enum fetch_error error;
	int64_t		 retry_after_ms;
	enum robots_policy want;
	uint64_t	 ttl_ms;
};

#define DAY	(24ULL * 3600 * 1000)
#define HOUR	(3600ULL * 1000)

/* RFC 9309 2.3.1: fetch outcome to policy and cache lifetime. */
static void
test_policy_for_status(void **state)
{
	static const struct policy_row rows[] = {
		{ 200, FETCH_OK, -1, ROBOTS_PARSE_BODY, DAY },
		{ 204, FETCH_OK, -1, ROBOTS_PARSE_BODY, DAY },
		{ 304, FETCH_OK, -1, ROBOTS_KEEP_CACHED, DAY },
		{ 301, FETCH_OK, -1, ROBOTS_ALLOW_ALL, DAY },
		{ 0, FETCH_ERR_REDIRECTS, -1, ROBOTS_ALLOW_ALL, DAY },
		{ 302, FETCH_ERR_SCHEME, -1, ROBOTS_ALLOW_ALL, DAY },
		{ 400, FETCH_OK, -1, ROBOTS_ALLOW_ALL, DAY },
		{ 401, FETCH_OK, -1, ROBOTS_ALLOW_ALL, DAY },
		{ 403, FETCH_OK, -1, ROBOTS_ALLOW_ALL, DAY },
		{ 404, FETCH_OK, -1, ROBOTS_ALLOW_ALL, DAY },
		{ 410, FETCH_OK, -1, ROBOTS_ALLOW_ALL, DAY },
		{ 429, FETCH_OK, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 429, FETCH_OK, 120000, ROBOTS_DISALLOW_ALL, 120000 },
		{ 429, FETCH_OK, 1000, ROBOTS_DISALLOW_ALL, 60000 },
		{ 429, FETCH_OK, 7 * HOUR, ROBOTS_DISALLOW_ALL, HOUR },
		{ 500, FETCH_OK, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 503, FETCH_OK, 300000, ROBOTS_DISALLOW_ALL, 300000 },
		{ 599, FETCH_OK, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 100, FETCH_OK, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 0, FETCH_OK, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 0, FETCH_ERR_DNS, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 0, FETCH_ERR_CONNECT, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 0, FETCH_ERR_TIMEOUT, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 200, FETCH_ERR_NETWORK, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 0, FETCH_ERR_BLOCKED, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 200, FETCH_ERR_DECODING, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 200, FETCH_ERR_TOO_LARGE, -1, ROBOTS_PARSE_BODY, DAY },
		{ 500, FETCH_ERR_TOO_LARGE, -1, ROBOTS_DISALLOW_ALL, HOUR },
		{ 0, FETCH_ERR_ABORTED, -1, ROBOTS_DISALLOW_ALL, 0 },
		{ 0, FETCH_ERR_INTERNAL, -1, ROBOTS_DISALLOW_ALL, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(rows); i++) {
		uint64_t ttl = 12345;
		enum robots_policy p = robots_policy_for_status(rows[i].status,
		    rows[i].error, rows[i].retry_after_ms, NULL, &ttl);

		if (p != rows[i].want || ttl != rows[i].ttl_ms)
			fail_msg("row %zu (%ld, error %d): got %s/%llu", i,
			    rows[i].status, (int)rows[i].error,
			    robots_policy_name(p), (unsigned long long)ttl);
	}
}

/* TTLs are parameters. */
static void
test_policy_custom_ttl(void **state)
{
	struct robots_cache_ttl t;
	uint64_t ttl;

	(void)state;
	robots_cache_ttl_default(&t);
	t.ok_ms = 1000;
	t.unavailable_ms = 2000;
	t.unreachable_ms = 3000;
	t.min_retry_ms = 500;
	assert_int_equal(robots_policy_for_status(200, FETCH_OK, -1, &t, &ttl),
	    ROBOTS_PARSE_BODY);
	assert_int_equal(ttl, 1000);
	assert_int_equal(robots_policy_for_status(404, FETCH_OK, -1, &t, &ttl),
	    ROBOTS_ALLOW_ALL);
	assert_int_equal(ttl, 2000);
	assert_int_equal(robots_policy_for_status(503, FETCH_OK, -1, &t, &ttl),
	    ROBOTS_DISALLOW_ALL);
	assert_int_equal(ttl, 3000);
	robots_policy_for_status(503, FETCH_OK, 0, &t, &ttl);
	assert_int_equal(ttl, 500);
	assert_string_equal(robots_policy_name(ROBOTS_ALLOW_ALL), "allow-all");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_system),
		cmocka_unit_test(test_line_syntax_line),
		cmocka_unit_test(test_line_syntax_groups),
		cmocka_unit_test(test_groups_other_rules),
		cmocka_unit_test(test_field_names_case_insensitive),
		cmocka_unit_test(test_user_agent_value_case_insensitive),
		cmocka_unit_test(test_agent_token_prefix),
		cmocka_unit_test(test_global_groups_secondary),
		cmocka_unit_test(test_allow_disallow_case_sensitive),
		cmocka_unit_test(test_longest_match),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_special_characters),
		cmocka_unit_test(test_index_html_is_directory),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_line_too_long_allow),
		cmocka_unit_test(test_documentation_paths),
		cmocka_unit_test(test_documentation_wildcards),
		cmocka_unit_test(test_documentation_precedence),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_sitemaps),
		cmocka_unit_test(test_crawl_delay),
		cmocka_unit_test(test_crawl_delay_groups),
		cmocka_unit_test(test_multiple_groups),
		cmocka_unit_test(test_field_name_typos),
		cmocka_unit_test(test_special_paths),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_pathological_wildcards),
		cmocka_unit_test(test_many_wildcard_rules),
		cmocka_unit_test(test_max_bytes),
		cmocka_unit_test(test_max_bytes_partial_line),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_max_agents_new_group),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_policy_for_status),
		cmocka_unit_test(test_policy_custom_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
