/*
 * test_feed.c - feeds and sitemaps: each format's fixture in
 * tests/data/feeds/ parsed field by field; dates and URL resolution;
 * hostile documents (XXE, billion laughs, a gzip bomb, 10^6 sitemap
 * entries, malformed XML and JSON) and the limits; feed discovery from a
 * page and robots.txt; the adaptive polling rule.
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
#include <libxml/parser.h>
#include <zlib.h>

#include "buf.h"
#include "feed.h"
#include "feed_find.h"
#include "feed_poll.h"
#include "robots.h"

#define BASE	"http://127.0.0.1/feeds/main.xml"

static char *
load(const char *name, size_t *len)
{
	const char *dir = getenv("SLUICE_TEST_DATA");
	char path[1024];
	FILE *f;
	char *data;
	long n;

	snprintf(path, sizeof(path), "%s/feeds/%s", dir ? dir : "tests/data",
	    name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return data;
}

static struct feed_doc *
parse_file(const char *name, enum feed_format want)
{
	struct feed_doc *d;
	size_t len;
	char *data = load(name, &len);

	assert_int_equal(feed_parse(data, len, BASE, NULL, &d), FEED_OK);
	free(data);
	assert_int_equal(d->format, want);
	return d;
}

/* gzip of in, one member per call, appended to out. */
static void
gzip_append(struct buf *out, const void *in, size_t len)
{
	unsigned char chunk[65536];
	z_stream zs = { 0 };
	int rc;

	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (unsigned char *)in;
	zs.avail_in = (uInt)len;
	do {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		rc = deflate(&zs, Z_FINISH);
		assert_true(rc == Z_OK || rc == Z_STREAM_END);
		assert_int_equal(buf_append(out, chunk,
		    sizeof(chunk) - zs.avail_out), 0);
	} while (rc != Z_STREAM_END);
	deflateEnd(&zs);
}

static double
cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* No string of d contains needle. */
static void
assert_nowhere(const struct feed_doc *d, const char *needle)
{
	size_t i;

	if (d->title != NULL)
		assert_null(strstr(d->title, needle));
	for (i = 0; i < d->nentries; i++) {
		assert_null(strstr(d->entries[i].url, needle));
		if (d->entries[i].title != NULL)
			assert_null(strstr(d->entries[i].title, needle));
		if (d->entries[i].author != NULL)
			assert_null(strstr(d->entries[i].author, needle));
	}
	for (i = 0; i < d->nchildren; i++)
		assert_null(strstr(d->children[i].url, needle));
}

static void
test_rss2(void **state)
{
	struct feed_doc *d = parse_file("rss2.xml", FEED_RSS2);

	assert_string_equal(d->title, "Example News");
	assert_int_equal(d->nentries, 3);
	assert_string_equal(d->entries[0].url,
	    "http://127.0.0.1/2026/12/first.html");
	assert_string_equal(d->entries[0].title, "First & <b>best</b>");
	assert_string_equal(d->entries[0].author,
	    "editor@example.com (The Editor)");
	assert_int_equal(d->entries[0].date_ms, 1796589005000LL);
	assert_int_equal(d->entries[0].lastmod_ms, FEED_NO_TIME);
	/* A permalink guid stands in for a missing link. */
	assert_string_equal(d->entries[1].url,
	    "http://127.0.0.1/2026/12/second.html");
	assert_string_equal(d->entries[1].title, "Second & last");
	assert_string_equal(d->entries[1].author, "Jane Doe");
	assert_int_equal(d->entries[1].date_ms, 1796589005000LL);
	assert_string_equal(d->entries[2].url,
	    "http://127.0.0.1/atom-linked.html");
	assert_int_equal(d->entries[2].date_ms, FEED_NO_TIME);
	assert_int_equal(d->stats.no_url, 1);	/* isPermaLink="false" */
	assert_int_equal(d->stats.bad_dates, 1);
	assert_int_equal(d->hints.ttl_ms, 30 * 60000);
	assert_int_equal(d->hints.update_ms, FEED_NO_TIME);
	assert_false(d->stats.malformed);
	feed_doc_free(d);
}

static void
test_rss1(void **state)
{
	struct feed_doc *d = parse_file("rss1.rdf", FEED_RSS1);

	assert_string_equal(d->title, "RDF Site");
	assert_int_equal(d->nentries, 2);
	assert_string_equal(d->entries[0].url, "http://127.0.0.1/a");
	assert_string_equal(d->entries[0].title, "Item A");
	assert_string_equal(d->entries[0].author, "Alice");
	assert_int_equal(d->entries[0].date_ms, 1796540400000LL);
	/* rdf:about stands in for a missing link. */
	assert_string_equal(d->entries[1].url, "http://127.0.0.1/b");
	/* daily, twice: every 12 hours */
	assert_int_equal(d->hints.update_ms, 12 * 3600000LL);
	assert_int_equal(d->hints.ttl_ms, FEED_NO_TIME);
	feed_doc_free(d);
}

static void
test_atom(void **state)
{
	struct feed_doc *d = parse_file("atom.xml", FEED_ATOM);

	assert_string_equal(d->title, "Atom Example");
	assert_int_equal(d->nentries, 2);
	/* rel="alternate" wins over self and enclosure, and resolves. */
	assert_string_equal(d->entries[0].url,
	    "http://127.0.0.1/feeds/posts/one");
	assert_string_equal(d->entries[0].title, "Atom one");
	assert_string_equal(d->entries[0].author, "Bob");
	assert_int_equal(d->entries[0].date_ms, 1796581802500LL);
	assert_int_equal(d->entries[0].lastmod_ms, 1796601600000LL);
	assert_string_equal(d->entries[1].url, "http://127.0.0.1/posts/two");
	assert_string_equal(d->entries[1].title, "Atom two");
	assert_null(d->entries[1].author);
	assert_int_equal(d->entries[1].date_ms, FEED_NO_TIME);
	assert_int_equal(d->entries[1].lastmod_ms, 1796428800000LL);
	feed_doc_free(d);
}

static void
test_json(void **state)
{
	struct feed_doc *d = parse_file("feed11.json", FEED_JSON);

	assert_string_equal(d->title, "JSON Example");
	assert_int_equal(d->nentries, 2);
	assert_string_equal(d->entries[0].url, "http://127.0.0.1/j/one");
	assert_string_equal(d->entries[0].title, "JSON one");
	assert_string_equal(d->entries[0].author, "Carol");
	assert_int_equal(d->entries[0].date_ms, 1796551200000LL);
	assert_int_equal(d->entries[0].lastmod_ms, 1796551200000LL);
	assert_string_equal(d->entries[1].url, "http://127.0.0.1/j/two");
	/* "id": "3" is no permalink; "not an object" no item */
	assert_int_equal(d->stats.no_url, 2);
	feed_doc_free(d);

	d = parse_file("feed10.json", FEED_JSON);
	assert_int_equal(d->nentries, 1);
	assert_string_equal(d->entries[0].author, "Dave");
	assert_int_equal(d->entries[0].date_ms, 1796083200000LL);
	feed_doc_free(d);
}

static void
test_sitemaps(void **state)
{
	struct feed_doc *d = parse_file("sitemap.xml", FEED_SITEMAP);

	assert_int_equal(d->nentries, 3);
	assert_string_equal(d->entries[0].url, "http://127.0.0.1/page1");
	assert_int_equal(d->entries[0].lastmod_ms, 1796515200000LL);
	/* image:loc is not the page's loc */
	assert_string_equal(d->entries[1].url, "http://127.0.0.1/page2");
	assert_int_equal(d->entries[1].lastmod_ms, 1796545200000LL);
	assert_string_equal(d->entries[2].url, "http://127.0.0.1/page3");
	assert_int_equal(d->entries[2].lastmod_ms, 1767225600000LL);
	assert_int_equal(d->stats.no_url, 1);	/* ftp: */
	feed_doc_free(d);

	d = parse_file("news_sitemap.xml", FEED_NEWS_SITEMAP);
	assert_int_equal(d->nentries, 2);
	assert_string_equal(d->entries[0].url, "http://127.0.0.1/news/1");
	assert_string_equal(d->entries[0].title, "Breaking: something");
	assert_int_equal(d->entries[0].date_ms, 1796541300000LL);
	assert_string_equal(d->entries[1].title, "Second story");
	assert_int_equal(d->entries[1].date_ms, 1796515200000LL);
	feed_doc_free(d);

	d = parse_file("sitemap_index.xml", FEED_SITEMAP_INDEX);
	assert_int_equal(d->nentries, 0);
	assert_int_equal(d->nchildren, 2);
	assert_string_equal(d->children[0].url,
	    "http://127.0.0.1/sitemap-1.xml.gz");
	assert_int_equal(d->children[0].lastmod_ms, 1796558400000LL);
	assert_string_equal(d->children[1].url,
	    "http://127.0.0.1/sitemap-2.xml");
	assert_int_equal(d->children[1].lastmod_ms, FEED_NO_TIME);
	feed_doc_free(d);
}

static void
test_gzip(void **state)
{
	struct feed_doc *d;
	struct buf gz;
	size_t len;
	char *xml = load("sitemap.xml", &len);

	buf_init(&gz, 1 << 20);
	gzip_append(&gz, xml, len);
	assert_int_equal(feed_parse(gz.data, gz.len, BASE, NULL, &d), FEED_OK);
	assert_int_equal(d->format, FEED_SITEMAP);
	assert_true(d->stats.gzip);
	assert_false(d->stats.malformed);
	assert_int_equal(d->stats.bytes, len);
	assert_int_equal(d->nentries, 3);
	feed_doc_free(d);

	/* Cut short: what inflated is parsed, and the cut is noticed. */
	assert_int_equal(feed_parse(gz.data, gz.len / 2, BASE, NULL, &d),
	    FEED_OK);
	assert_true(d->stats.malformed);
	feed_doc_free(d);

	/* Only the magic: nothing to parse. */
	assert_int_equal(feed_parse("\x1f\x8b\x08\x00", 4, BASE, NULL, &d),
	    FEED_ERR_GZIP);
	assert_null(d);
	buf_free(&gz);
	free(xml);
}

static void
test_dates(void **state)
{
	static const struct { const char *s; int64_t ms; } rows[] = {
		{ "Sun, 06 Dec 2026 20:30:05 GMT", 1796589005000LL },
		{ "Sun, 06 Dec 2026 21:30:05 +0100", 1796589005000LL },
		{ "06 Dec 2026 20:30:05 UT", 1796589005000LL },
		{ "Sunday, 06-Dec-26 20:30:05 GMT", 1796589005000LL },
		{ "  2026-12-06T20:30:05Z \n", 1796589005000LL },
		{ "2026-12-06T21:30:05+01:00", 1796589005000LL },
		{ "2026-12-06T21:30:05+0100", 1796589005000LL },
		{ "2026-12-06T18:30:02.5Z", 1796581802500LL },
		{ "2026-12-06T18:30:02.500123Z", 1796581802500LL },
		{ "2026-12-06T12:20+02:00", 1796552400000LL },
		{ "2026-12-06", 1796515200000LL },
		{ "2026-12", 1796083200000LL },
		{ "2026", 1767225600000LL },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", 784111777000LL },
		{ "", FEED_NO_TIME },
		{ "yesterday", FEED_NO_TIME },
		{ "5", FEED_NO_TIME },
		{ "1796589005", FEED_NO_TIME },
		{ "2026-13-01", FEED_NO_TIME },
		{ "2026-12-06T25:00Z", FEED_NO_TIME },
		{ "2026-12-06T20:30:05 junk", FEED_NO_TIME },
		{ "2026-1-6", FEED_NO_TIME },
		{ "99999-01-01", FEED_NO_TIME },
		{ "1969-12-31T23:59:59Z", FEED_NO_TIME },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t got = feed_parse_date(rows[i].s);

		if (got != rows[i].ms)
			fail_msg("date \"%s\": %lld, want %lld", rows[i].s,
			    (long long)got, (long long)rows[i].ms);
	}
	assert_int_equal(feed_parse_date(NULL), FEED_NO_TIME);
}

static void
test_resolve(void **state)
{
	static const struct { const char *base, *ref, *want; } rows[] = {
		{ BASE, "/a", "http://127.0.0.1/a" },
		{ BASE, "b?c=d", "http://127.0.0.1/feeds/b?c=d" },
		{ BASE, "../x", "http://127.0.0.1/x" },
		{ BASE, "//127.0.0.2/y", "http://127.0.0.2/y" },
		{ BASE, "https://127.0.0.1/s", "https://127.0.0.1/s" },
		{ BASE, " \n/trim\t", "http://127.0.0.1/trim" },
		{ BASE, "/with space", "http://127.0.0.1/with%20space" },
		{ NULL, "http://127.0.0.1/abs", "http://127.0.0.1/abs" },
		{ NULL, "/rel", NULL },
		{ BASE, "javascript:alert(1)", NULL },
		{ BASE, "mailto:a@b", NULL },
		{ BASE, "ftp://127.0.0.1/f", NULL },
		{ BASE, "", NULL },
		{ BASE, "http://", NULL },
	};
	size_t i;
	char *got;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		got = feed_resolve_url(rows[i].base, rows[i].ref);
		if (rows[i].want == NULL && got != NULL)
			fail_msg("\"%s\" resolved to %s", rows[i].ref, got);
		if (rows[i].want != NULL &&
		    (got == NULL || strcmp(got, rows[i].want) != 0))
			fail_msg("\"%s\": %s, want %s", rows[i].ref,
			    got ? got : "NULL", rows[i].want);
		free(got);
	}
}

/* An external entity naming /etc/passwd expands nowhere, and no DTD is
 * loaded: the documents still parse. */
static void
test_xxe(void **state)
{
	struct feed_doc *d = parse_file("xxe.xml", FEED_RSS2);

	assert_nowhere(d, "root:");
	assert_int_equal(d->nentries, 2);
	assert_string_equal(d->entries[0].title, "Leak:");
	assert_string_equal(d->entries[0].url, "http://127.0.0.1/");
	assert_null(d->entries[0].author);
	assert_string_equal(d->entries[1].url, "http://127.0.0.1/after");
	feed_doc_free(d);

	/* Through a parameter entity in the internal subset. */
	d = parse_file("xxe_param.xml", FEED_RSS2);
	assert_nowhere(d, "root:");
	feed_doc_free(d);

	d = parse_file("xxe_dtd.xml", FEED_SITEMAP);
	assert_int_equal(d->nentries, 1);
	assert_nowhere(d, "root:");
	feed_doc_free(d);
}

static void
test_billion_laughs(void **state)
{
	struct feed_doc *d;
	size_t i, len;
	char *data = load("billion_laughs.xml", &len);
	double t0 = cpu_seconds(), cpu;
	enum feed_error err;

	/* libxml2 stops at the entity declarations' amplification, or keeps
	 * the references unexpanded: either way no 3 GB of "lol"s, no
	 * minutes of CPU. */
	err = feed_parse(data, len, BASE, NULL, &d);
	cpu = cpu_seconds() - t0;
	print_message("billion laughs: %s, %.3f s CPU\n", feed_error_name(err),
	    cpu);
	assert_true(err == FEED_OK || err == FEED_ERR_FORMAT);
	assert_true(cpu < 2.0);
	if (d != NULL) {
		assert_true(d->stats.malformed);
		assert_true(d->title == NULL || strlen(d->title) < 100);
		for (i = 0; i < d->nentries; i++)
			assert_true(d->entries[i].title == NULL ||
			    strlen(d->entries[i].title) < 100);
	}
	feed_doc_free(d);
	free(data);
}

/* 1 GiB of white space inside a sitemap, as 16 gzip members of 64 MiB,
 * from about 1 MiB: inflating stops at max_bytes. */
static void
test_gzip_bomb(void **state)
{
	static const char head[] = "<urlset xmlns=\"http://www.sitemaps.org/"
	    "schemas/sitemap/0.9\"><url><loc>http://127.0.0.1/bomb</loc></url>";
	const size_t member = 64 << 20;
	struct feed_limits lim = { .max_bytes = 8 << 20 };
	struct feed_doc *d;
	struct buf gz, one;
	char *blank;
	double t0, cpu;
	int i;

	blank = malloc(member);
	assert_non_null(blank);
	memset(blank, ' ', member);
	memcpy(blank, head, sizeof(head) - 1);
	buf_init(&one, 1 << 20);
	gzip_append(&one, blank, member);
	free(blank);
	buf_init(&gz, 32 << 20);
	for (i = 0; i < 16; i++)
		assert_int_equal(buf_append(&gz, one.data, one.len), 0);
	print_message("gzip bomb: %zu bytes for 1 GiB\n", gz.len);

	for (i = 0; i < 2; i++) {
		t0 = cpu_seconds();
		assert_int_equal(feed_parse(gz.data, gz.len, BASE,
		    i == 0 ? &lim : NULL, &d), FEED_OK);
		cpu = cpu_seconds() - t0;
		assert_true(d->stats.truncated);
		assert_int_equal(d->stats.bytes,
		    i == 0 ? lim.max_bytes : FEED_MAX_BYTES);
		assert_int_equal(d->nentries, 1);
		print_message("gzip bomb, cap %zu MiB: %.3f s CPU\n",
		    d->stats.bytes >> 20, cpu);
		assert_true(cpu < 10.0);
		feed_doc_free(d);
	}
	buf_free(&one);
	buf_free(&gz);
}

static void
test_million_entries(void **state)
{
	struct feed_doc *d;
	struct buf xml;
	double t0, cpu;
	int i;

	buf_init(&xml, 128 << 20);
	assert_int_equal(buf_appendf(&xml, "<?xml version=\"1.0\"?>\n<urlset "
	    "xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"), 0);
	for (i = 0; i < 1000000; i++)
		assert_int_equal(buf_appendf(&xml, "<url><loc>http://127.0.0.1/"
		    "p/%d</loc><lastmod>2026-12-06</lastmod></url>\n", i), 0);
	assert_int_equal(buf_appendf(&xml, "</urlset>\n"), 0);

	t0 = cpu_seconds();
	assert_int_equal(feed_parse(xml.data, xml.len, BASE, NULL, &d),
	    FEED_OK);
	cpu = cpu_seconds() - t0;
	print_message("10^6-entry sitemap (%zu MB): %zu kept in %.3f s CPU\n",
	    xml.len >> 20, d->nentries, cpu);
	assert_true(d->stats.truncated);	/* over 50 MiB too */
	assert_true(d->stats.capped);
	assert_int_equal(d->nentries, FEED_MAX_ENTRIES);
	assert_string_equal(d->entries[FEED_MAX_ENTRIES - 1].url,
	    "http://127.0.0.1/p/49999");
	assert_true(cpu < 10.0);
	feed_doc_free(d);
	buf_free(&xml);
}

static void
test_limits(void **state)
{
	struct feed_limits lim = { .max_entries = 1, .max_string = 20 };
	struct feed_doc *d;
	size_t len;
	char *data = load("rss2.xml", &len);

	assert_int_equal(feed_parse(data, len, BASE, &lim, &d), FEED_OK);
	assert_int_equal(d->nentries, 1);
	assert_true(d->stats.capped);
	assert_string_equal(d->entries[0].title, "First & <b>best</b>");
	assert_null(d->entries[0].author);	/* 31 bytes: dropped */
	assert_int_equal(d->entries[0].date_ms, FEED_NO_TIME);
	assert_int_equal(d->stats.long_strings, 2);	/* and pubDate */
	assert_string_equal(d->title, "Example News");
	feed_doc_free(d);
	free(data);

	/* A sitemap index obeys max_children, not max_entries. */
	lim = (struct feed_limits){ .max_children = 1, .max_entries = 1000 };
	data = load("sitemap_index.xml", &len);
	assert_int_equal(feed_parse(data, len, BASE, &lim, &d), FEED_OK);
	assert_int_equal(d->nchildren, 1);
	assert_true(d->stats.capped);
	feed_doc_free(d);
	free(data);

	/* A plain body over max_bytes: only the prefix is read. */
	lim = (struct feed_limits){ .max_bytes = 300 };
	data = load("sitemap.xml", &len);
	assert_int_equal(feed_parse(data, len, BASE, &lim, &d), FEED_OK);
	assert_true(d->stats.truncated);
	assert_true(d->stats.malformed);
	assert_int_equal(d->stats.bytes, 300);
	assert_true(d->nentries >= 1 && d->nentries < 3);
	feed_doc_free(d);
	free(data);
}

static void
test_malformed(void **state)
{
	static const char *junk[] = {
		"", "   ", "plain text", "<html><body>hi</body></html>",
		"<notafeed/>", "{}", "[1,2]", "{\"version\": 1}",
		"{\"version\": \"https://example.com/\"}", "\xef\xbb\xbf",
		"<", "{",
	};
	struct feed_doc *d;
	size_t i, len;
	char *data;

	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		assert_int_equal(feed_parse(junk[i], strlen(junk[i]), BASE,
		    NULL, &d), FEED_ERR_FORMAT);
		assert_null(d);
	}
	data = load("truncated.xml", &len);
	assert_int_equal(feed_parse(data, len, BASE, NULL, &d), FEED_OK);
	assert_true(d->stats.malformed);
	assert_true(d->nentries >= 1);
	assert_string_equal(d->entries[0].url, "http://127.0.0.1/whole");
	assert_string_equal(d->entries[0].title, "Whole");
	feed_doc_free(d);
	free(data);

	/* A JSON Feed over max_tree is refused, not parsed. */
	data = load("feed11.json", &len);
	{
		struct feed_limits lim = { .max_tree = 64 };

		assert_int_equal(feed_parse(data, len, BASE, &lim, &d),
		    FEED_ERR_TOO_BIG);
		assert_null(d);
	}
	free(data);

	data = load("malformed.json", &len);
	assert_int_equal(feed_parse(data, len, BASE, NULL, &d),
	    FEED_ERR_FORMAT);
	free(data);

	/* An empty feed is a feed. */
	assert_int_equal(feed_parse("<rss><channel/></rss>", 21, BASE, NULL,
	    &d), FEED_OK);
	assert_int_equal(d->nentries, 0);
	feed_doc_free(d);
}

static void
test_find_links(void **state)
{
	static const char robots_txt[] =
	    "User-agent: *\nDisallow: /private\n"
	    "Sitemap: http://127.0.0.1/sitemap_index.xml\n"
	    "Sitemap: /relative-map.xml\n";
	struct feed_find f;
	struct robots *r;
	char err[128];
	size_t len;
	char *html = load("page.html", &len);

	feed_find_init(&f, 0);
	assert_int_equal(feed_find_links(&f, html, len,
	    "http://127.0.0.1/home"), 4);
	assert_int_equal(f.n, 4);
	assert_string_equal(f.items[0].url, "http://127.0.0.1/news/feed.rss");
	assert_string_equal(f.items[1].url, "http://127.0.0.1/atom.xml");
	assert_string_equal(f.items[2].url, "http://127.0.0.1/feed.json");
	assert_string_equal(f.items[3].url, "http://127.0.0.1/rdf");
	assert_int_equal(f.items[0].origin, FEED_FIND_LINK);
	feed_find_free(&f);

	/* The whole order: robots, links, guesses; no duplicates. */
	r = robots_parse(robots_txt, strlen(robots_txt), NULL, err,
	    sizeof(err));
	assert_non_null(r);
	feed_find_init(&f, 0);
	assert_true(feed_find_sources(&f, r, html, len,
	    "http://127.0.0.1/home") > 6);
	assert_string_equal(f.items[0].url,
	    "http://127.0.0.1/sitemap_index.xml");
	assert_int_equal(f.items[0].origin, FEED_FIND_ROBOTS);
	assert_string_equal(f.items[1].url,
	    "http://127.0.0.1/relative-map.xml");
	assert_string_equal(f.items[2].url, "http://127.0.0.1/news/feed.rss");
	assert_string_equal(f.items[6].url, "http://127.0.0.1/sitemap.xml");
	assert_int_equal(f.items[6].origin, FEED_FIND_GUESS);
	/* /sitemap_index.xml was listed already; /atom.xml and /feed.json
	 * too. */
	assert_string_equal(f.items[7].url, "http://127.0.0.1/sitemap_news.xml");
	feed_find_free(&f);

	/* The cap. */
	feed_find_init(&f, 3);
	assert_int_equal(feed_find_sources(&f, r, html, len,
	    "http://127.0.0.1/home"), 3);
	feed_find_free(&f);
	robots_free(r);

	/* No page, no robots: the guesses only; junk HTML: nothing. */
	feed_find_init(&f, 0);
	assert_int_equal(feed_find_links(&f, "\0\0<<<", 5,
	    "http://127.0.0.1/"), 0);
	assert_int_equal(feed_find_sources(&f, NULL, NULL, 0,
	    "http://127.0.0.1/x/y"), 11);
	assert_string_equal(f.items[4].url, "http://127.0.0.1/feed");
	feed_find_free(&f);
	free(html);
}

static void
test_poll_rule(void **state)
{
	struct feed_poll_params p;
	struct feed_hints h = {
		.ttl_ms = FEED_NO_TIME, .update_ms = FEED_NO_TIME,
		.max_age_ms = FEED_NO_TIME,
	};
	const int64_t min = 5 * 60000LL, hour = 3600000LL;

	feed_poll_params_default(&p);
	assert_int_equal(p.min_ms, min);
	assert_int_equal(p.max_ms, 24 * hour);
	/* A new source starts at min. */
	assert_int_equal(feed_next_interval(0, 0, NULL, NULL), min);
	assert_int_equal(feed_next_interval(-1, 3, &p, &h), min);
	/* The defaults: a fifth less per new entry, a tenth more without. */
	assert_int_equal(feed_next_interval(hour, 1, NULL, &h), hour * 4 / 5);
	assert_int_equal(feed_next_interval(hour, 0, NULL, &h),
	    hour * 11 / 10);
	/* With round factors: shrinks per entry, four steps at most. */
	p.shrink = 0.5;
	p.grow = 1.25;
	assert_int_equal(feed_next_interval(hour, 1, &p, &h), hour / 2);
	assert_int_equal(feed_next_interval(hour, 2, &p, &h), hour / 4);
	assert_int_equal(feed_next_interval(16 * hour, 4, &p, &h), hour);
	assert_int_equal(feed_next_interval(16 * hour, 100, &p, &h), hour);
	/* Grows without. */
	assert_int_equal(feed_next_interval(hour, 0, &p, &h), hour * 5 / 4);
	/* Clamped both ways, overflow included. */
	assert_int_equal(feed_next_interval(6 * 60000LL, 5, &p, &h), min);
	assert_int_equal(feed_next_interval(23 * hour, 0, &p, &h), 24 * hour);
	assert_int_equal(feed_next_interval(INT64_MAX, 0, &p, &h), 24 * hour);
	/* The feed's own period, when it asks for less often. */
	h.ttl_ms = 2 * hour;
	assert_int_equal(feed_next_interval(hour, 1, &p, &h), 2 * hour);
	assert_int_equal(feed_next_interval(4 * hour, 0, &p, &h), 5 * hour);
	h.ttl_ms = FEED_NO_TIME;
	h.update_ms = 12 * hour;
	h.max_age_ms = 3 * hour;
	assert_int_equal(feed_next_interval(min, 1, &p, &h), 12 * hour);
	h.update_ms = 365 * 24 * hour;		/* never beyond max */
	assert_int_equal(feed_next_interval(min, 1, &p, &h), 24 * hour);
	h.update_ms = FEED_NO_TIME;
	h.max_age_ms = 60000;			/* asks for more often: no */
	assert_int_equal(feed_next_interval(hour, 0, &p, &h), hour * 5 / 4);

	/* A quiet night with the defaults: from min to hourly polls in
	 * about ten hours. */
	{
		int64_t iv = min, t = 0;
		int polls = 0;

		while (iv < hour) {
			t += iv;
			iv = feed_next_interval(iv, 0, NULL, NULL);
			polls++;
		}
		print_message("min to hourly: %d polls, %.1f h\n", polls,
		    (double)t / hour);
		assert_true(t > 9 * hour && t < 11 * hour);
	}
}

static void
test_max_age(void **state)
{
	assert_int_equal(feed_max_age_ms("max-age=600"), 600000);
	assert_int_equal(feed_max_age_ms("public, MAX-AGE=60, must-revalidate"),
	    60000);
	assert_int_equal(feed_max_age_ms("s-maxage=10, max-age=\"20\""), 20000);
	assert_int_equal(feed_max_age_ms("max-age=99999999999999999999"),
	    365LL * 86400 * 1000);
	assert_int_equal(feed_max_age_ms("no-cache"), FEED_NO_TIME);
	assert_int_equal(feed_max_age_ms("max-age="), FEED_NO_TIME);
	assert_int_equal(feed_max_age_ms("max-age=-5"), FEED_NO_TIME);
	assert_int_equal(feed_max_age_ms(""), FEED_NO_TIME);
	assert_int_equal(feed_max_age_ms(NULL), FEED_NO_TIME);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rss2),
		cmocka_unit_test(test_rss1),
		cmocka_unit_test(test_atom),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_sitemaps),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_xxe),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_gzip_bomb),
		cmocka_unit_test(test_million_entries),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_find_links),
		cmocka_unit_test(test_poll_rule),
		cmocka_unit_test(test_max_age),
	};

	xmlInitParser();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
