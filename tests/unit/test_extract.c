/*
 * test_extract.c - the cleaner end to end on small hand-written pages:
 * main text kept, boilerplate dropped, metadata, content-type routing and
 * hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <libxml/parser.h>

#include "sluice/extract.h"

static char *
load(const char *name, size_t *len)
{
	const char *dir = getenv("SLUICE_TEST_DATA");
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/extract/%s", dir ? dir : "tests/data",
	    name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static enum sluice_extract_status
run(const char *bytes, size_t len, const char *url, const char *ct,
    struct sluice_extract_doc *d)
{
	char err[256] = "";

	return sluice_extract_page(bytes, len, url, ct, NULL, d, err,
	    sizeof(err));
}

/* A list of strings for expect_text(). */
#define LIST(...)	((const char *const []){ __VA_ARGS__, NULL })

/*
 * Cleans html as text/html and checks its text: it starts with starts
 * (unless NULL), holds every string of keep and none of drop.
 */
static void
expect_text(const char *html, size_t len, const char *starts,
    const char *const *keep, const char *const *drop)
{
	struct sluice_extract_doc d;
	const char *wrong = NULL, *why = "";

	assert_int_equal(run(html, len, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	if (starts != NULL && strncmp(d.text, starts, strlen(starts)) != 0)
		wrong = starts, why = "does not start with";
	for (; wrong == NULL && *keep != NULL; keep++)
		if (strstr(d.text, *keep) == NULL)
			wrong = *keep, why = "lost";
	for (; wrong == NULL && *drop != NULL; drop++)
		if (strstr(d.text, *drop) != NULL)
			wrong = *drop, why = "kept";
	if (wrong != NULL)
		print_error("text %s \"%s\":\n%s\n", why, wrong, d.text);
	sluice_extract_doc_free(&d);
	assert_null(wrong);
}

/* Runs a fixture file of tests/data/extract as text/html. */
static enum sluice_extract_status
run_file(const char *name, const char *url, struct sluice_extract_doc *d)
{
	enum sluice_extract_status st;
	size_t len;
	char *html = load(name, &len);

	st = run(html, len, url, "text/html", d);
	free(html);
	return st;
}

static void
test_article_text(void **state)
{
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run_file("article.html",
	    "https://www.example.com/news/x", &d), SLUICE_EXTRACT_OK);
	assert_non_null(d.text);
	assert_non_null(strstr(d.text, "Salmon have returned"));
	assert_non_null(strstr(d.text, "What changed"));
	assert_non_null(strstr(d.text, "Weirs removed: eleven"));
	assert_non_null(strstr(d.text, "We did not expect"));
	assert_non_null(strstr(d.text, "single dry summer"));
	/* one paragraph per line */
	assert_non_null(strstr(d.text, "according to the report.\n"));
	assert_null(strstr(d.text, "Politics"));
	assert_null(strstr(d.text, "Share on Facebook"));
	assert_null(strstr(d.text, "newsletter"));
	assert_null(strstr(d.text, "Most read"));
	assert_null(strstr(d.text, "comments"));
	assert_null(strstr(d.text, "All rights reserved"));
	assert_null(strstr(d.text, "Rivers of the North"));
	assert_true(d.word_count > 100 && d.word_count < 200);
	sluice_extract_doc_free(&d);
}

static void
test_article_meta(void **state)
{
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run_file("article.html",
	    "https://www.example.com/news/x", &d), SLUICE_EXTRACT_OK);
	assert_string_equal(d.title, "Rivers of the North: a slow recovery");
	assert_string_equal(d.author, "Jane Doe, Sam Roe");
	assert_string_equal(d.date, "2023-05-17T08:30:00+01:00");
	assert_string_equal(d.sitename, "The Example Gazette");
	assert_string_equal(d.description,
	    "Salmon are back in three northern rivers.");
	assert_string_equal(d.language, "en-GB");
	assert_string_equal(d.canonical_url,
	    "https://www.example.com/news/2023/05/17/rivers-recovery");
	assert_string_equal(d.charset, "UTF-8");
	sluice_extract_doc_free(&d);
	/* A canonical URL on another site is refused. */
	assert_int_equal(run_file("article.html", "https://elsewhere.org/x",
	    &d), SLUICE_EXTRACT_OK);
	assert_null(d.canonical_url);
	sluice_extract_doc_free(&d);
}

static void
test_canonical_rules(void **state)
{
	static const char rel[] = "<head><link rel=canonical href=\"../a?b=1\">"
	    "</head><body><p>x</p></body>";
	static const char og[] = "<head><meta property=og:url content="
	    "\"https://m.example.co.uk/story\"></head><body><p>x</p></body>";
	struct sluice_extract_doc d;

	(void)state;
	run(rel, sizeof(rel) - 1, "https://example.com/news/x/y", "text/html",
	    &d);
	assert_string_equal(d.canonical_url, "https://example.com/news/a?b=1");
	sluice_extract_doc_free(&d);
	run(og, sizeof(og) - 1, "https://www.example.co.uk/s", "text/html",
	    &d);
	assert_string_equal(d.canonical_url, "https://m.example.co.uk/story");
	sluice_extract_doc_free(&d);
	run(og, sizeof(og) - 1, "https://other.co.uk/s", "text/html", &d);
	assert_null(d.canonical_url);
	sluice_extract_doc_free(&d);
}

static void
test_plain_text(void **state)
{
	static const char t[] = "  first   line \r\n\n\n\tsecond\t line\n   \n";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(t, sizeof(t) - 1, NULL,
	    "text/plain; charset=utf-8", &d), SLUICE_EXTRACT_OK);
	assert_string_equal(d.text, "first line\nsecond line");
	assert_int_equal(d.word_count, 4);
	sluice_extract_doc_free(&d);
}

static void
test_unsupported(void **state)
{
	static const char pdf[] = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(pdf, sizeof(pdf) - 1, NULL, "application/pdf",
	    &d), SLUICE_EXTRACT_UNSUPPORTED);
	assert_null(d.text);
	sluice_extract_doc_free(&d);
	/* sniffed: no content type, binary bytes */
	assert_int_equal(run(pdf, sizeof(pdf) - 1, NULL, NULL, &d),
	    SLUICE_EXTRACT_UNSUPPORTED);
	sluice_extract_doc_free(&d);
	assert_int_equal(run("<p>hi</p>", 9, NULL, "image/png", &d),
	    SLUICE_EXTRACT_UNSUPPORTED);
	sluice_extract_doc_free(&d);
	assert_string_equal(
	    sluice_extract_status_name(SLUICE_EXTRACT_UNSUPPORTED),
	    "unsupported_content_type");
}

static size_t utf16(const char *s, bool be, char *out, size_t cap);

/* A body labelled HTML or text that is NULs or a binary format is refused,
 * not stored as U+FFFD; a stray control byte or labelled UTF-16 is not. */
static void
test_labelled_binary(void **state)
{
	static const char png[] = "\x89PNG\r\n\x1A\n\0\0\0\rIHDR";
	static const char stray[] = "<p>Some words here that make a "
	    "paragraph\x01 with a stray byte in it.</p>";
	char nuls[4096], u16[256];
	struct sluice_extract_doc d;
	char err[256];
	struct sluice_extract_opts o;
	size_t n;

	(void)state;
	memset(nuls, 0, sizeof(nuls));
	sluice_extract_opts_default(&o);
	assert_int_equal(sluice_extract_page(nuls, sizeof(nuls),
	    "http://e.org/", "text/html; charset=utf-8", &o, &d, err,
	    sizeof(err)), SLUICE_EXTRACT_UNSUPPORTED);
	assert_non_null(strstr(err, "binary body"));
	sluice_extract_doc_free(&d);
	assert_int_equal(run(nuls, sizeof(nuls), NULL, "text/plain", &d),
	    SLUICE_EXTRACT_UNSUPPORTED);
	sluice_extract_doc_free(&d);
	assert_int_equal(run(png, sizeof(png) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_UNSUPPORTED);
	sluice_extract_doc_free(&d);
	assert_int_equal(run(stray, sizeof(stray) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	sluice_extract_doc_free(&d);
	/* UTF-16 with its BOM: NULs beside ASCII, decoded as before. */
	n = utf16("<p>Some words here that make a paragraph, with a comma.</p>",
	    false, u16, sizeof(u16));
	assert_int_equal(run(u16, n, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	sluice_extract_doc_free(&d);
}

static void
test_sniffed_html(void **state)
{
	static const char h[] = "<!doctype html><title>T</title><body><p>Some"
	    " words here that make a paragraph, with a comma.</p></body>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, NULL, &d),
	    SLUICE_EXTRACT_OK);
	assert_string_equal(d.text, "Some words here that make a paragraph, "
	    "with a comma.");
	assert_string_equal(d.title, "T");
	sluice_extract_doc_free(&d);
}

/* Widens ASCII s to UTF-16 (little or big endian) after a BOM. */
static size_t
utf16(const char *s, bool be, char *out, size_t cap)
{
	size_t n = 0;

	out[n++] = be ? '\xFE' : '\xFF';
	out[n++] = be ? '\xFF' : '\xFE';
	for (; *s != '\0' && n + 2 <= cap; s++) {
		out[n++] = be ? '\0' : *s;
		out[n++] = be ? *s : '\0';
	}
	return n;
}

/* A UTF-16 body with a BOM and no Content-Type is sniffed as what it
 * decodes to, not refused as binary for the NULs beside its ASCII. */
static void
test_sniffed_utf16(void **state)
{
	static const char h[] = "<!doctype html><title>T</title><body><p>Some"
	    " words here that make a paragraph, with a comma.</p></body>";
	struct sluice_extract_doc d;
	char b[512];
	size_t n;

	(void)state;
	n = utf16(h, false, b, sizeof(b));
	assert_int_equal(run(b, n, NULL, NULL, &d), SLUICE_EXTRACT_OK);
	assert_string_equal(d.text, "Some words here that make a paragraph, "
	    "with a comma.");
	assert_string_equal(d.title, "T");
	assert_string_equal(d.charset, "UTF-16LE");
	sluice_extract_doc_free(&d);

	n = utf16("Plain words,\nover two lines.", true, b, sizeof(b));
	assert_int_equal(run(b, n, NULL, NULL, &d), SLUICE_EXTRACT_OK);
	assert_string_equal(d.text, "Plain words,\nover two lines.");
	assert_string_equal(d.charset, "UTF-16BE");
	sluice_extract_doc_free(&d);

	/* Still binary: control characters once decoded. */
	n = utf16("\x01\x02\x03\x04 binary", false, b, sizeof(b));
	assert_int_equal(run(b, n, NULL, NULL, &d),
	    SLUICE_EXTRACT_UNSUPPORTED);
	sluice_extract_doc_free(&d);
}

static void
test_too_large(void **state)
{
	struct sluice_extract_opts o;
	struct sluice_extract_doc d;
	char err[128];

	(void)state;
	sluice_extract_opts_default(&o);
	o.max_input = 4;
	assert_int_equal(sluice_extract_page("<p>hello</p>", 12, NULL,
	    "text/html", &o, &d, err, sizeof(err)), SLUICE_EXTRACT_TOO_LARGE);
	sluice_extract_doc_free(&d);
}

static void
test_empty_and_bodyless(void **state)
{
	struct sluice_extract_doc d;
	static const char h[] = "<html><head><title>Only a title</title>"
	    "</head></html>";

	(void)state;
	assert_int_equal(run("", 0, NULL, "text/html", &d),
	    SLUICE_EXTRACT_EMPTY);
	sluice_extract_doc_free(&d);
	assert_int_equal(run(NULL, 0, NULL, "text/plain", &d),
	    SLUICE_EXTRACT_EMPTY);
	sluice_extract_doc_free(&d);
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_EMPTY);
	assert_string_equal(d.title, "Only a title");
	assert_null(d.text);
	sluice_extract_doc_free(&d);
}

/* 100k nested divs and a 10 MB line: bounded time and memory. */
static void
test_hostile(void **state)
{
	size_t n = 100000, i, len;
	char *h = malloc(n * 11 + 64), *p;
	struct sluice_extract_doc d;

	(void)state;
	assert_non_null(h);
	p = h;
	for (i = 0; i < n; i++)
		p += sprintf(p, "<div>");
	p += sprintf(p, "deep text");
	for (i = 0; i < n; i++)
		p += sprintf(p, "</div>");
	len = (size_t)(p - h);
	(void)run(h, len, NULL, "text/html", &d);
	sluice_extract_doc_free(&d);
	free(h);

	len = 10 * 1024 * 1024;
	h = malloc(len);
	assert_non_null(h);
	memcpy(h, "<p>", 3);
	for (i = 3; i < len; i++)
		h[i] = (char)('a' + i % 7 + (i % 13 == 0 ? -0x41 : 0));
	assert_int_equal(run(h, len, NULL, "text/html", &d), SLUICE_EXTRACT_OK);
	assert_non_null(d.text);
	sluice_extract_doc_free(&d);
	free(h);
}

/* A page of n copies of unit between head and tail, malloc'd. */
static char *
repeat_page(const char *head, const char *unit, size_t n, const char *tail,
    size_t *len)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char *h = malloc(hl + ul * n + tl + 1), *p;

	assert_non_null(h);
	memcpy(h, head, hl);
	p = h + hl;
	for (i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	*len = hl + ul * n + tl;
	return h;
}

/* Attributes "a0 a1 ... a<n-1>" in one <div>. */
static char *
attr_page(size_t n, size_t *len)
{
	char *h = malloc(n * 12 + 128), *p;

	assert_non_null(h);
	p = h + sprintf(h, "<html><body><div");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, " a%zu=1", i);
	p += sprintf(p, ">bomb</div><p>%s</p></body></html>",
	    "A healthy paragraph after the bomb, long enough to be text.");
	*len = (size_t)(p - h);
	return h;
}

static int
interrupt_now(void *arg)
{
	return ++*(int *)arg >= 2;
}

static void
test_budget(void **state)
{
	struct sluice_extract_budget b;
	struct sluice_extract_report r;
	struct sluice_extract_doc d;
	char err[256], *h;
	size_t len;
	int calls = 0;

	(void)state;
	/* Attributes: at the limit parsed, over it refused before parsing. */
	sluice_extract_budget_default(&b);
	assert_int_equal(b.max_attributes, 1000);
	assert_true(b.max_seconds > 0);
	h = attr_page(1000, &len);
	assert_int_equal(sluice_extract_page_budget(h, len, NULL, "text/html",
	    NULL, &b, &r, &d, err, sizeof(err)), SLUICE_EXTRACT_OK);
	assert_int_equal(r.max_attributes, 1000);
	assert_int_equal(r.attributes, 1000);
	sluice_extract_doc_free(&d);
	free(h);
	h = attr_page(40000, &len);
	assert_int_equal(sluice_extract_page_budget(h, len, NULL, "text/html",
	    NULL, &b, &r, &d, err, sizeof(err)), SLUICE_EXTRACT_TOO_COMPLEX);
	assert_non_null(strstr(err, "attributes"));
	assert_true(r.cpu_seconds < 1.0);
	assert_string_equal(sluice_extract_status_name(
	    SLUICE_EXTRACT_TOO_COMPLEX), "too_complex");
	sluice_extract_doc_free(&d);
	/* The same through sluice_extract_page(), the defaults. */
	assert_int_equal(sluice_extract_page(h, len, NULL, "text/html", NULL,
	    &d, err, sizeof(err)), SLUICE_EXTRACT_TOO_COMPLEX);
	sluice_extract_doc_free(&d);
	free(h);

	/* End tags matched against 100,000 open elements. */
	{
		char *a = repeat_page("<html><body>", "<b>", 100000, "", &len);
		char *c = repeat_page(a, "</i>x", 100000, "</body></html>",
		    &len);

		free(a);
		assert_int_equal(sluice_extract_page_budget(c, len, NULL,
		    "text/html", NULL, &b, &r, &d, err, sizeof(err)),
		    SLUICE_EXTRACT_TOO_COMPLEX);
		assert_non_null(strstr(err, "open"));
		sluice_extract_doc_free(&d);
		/* Without that check, the clock stops it. */
		b.max_tag_work = 0;
		b.max_seconds = 0.2;
		assert_int_equal(sluice_extract_page_budget(c, len, NULL,
		    "text/html", NULL, &b, &r, &d, err, sizeof(err)),
		    SLUICE_EXTRACT_TOO_COMPLEX);
		assert_non_null(strstr(err, "CPU time"));
		/* all of it takes some 20 s (more under sanitizers) */
		if (r.cpu_seconds >= 5.0)
			fail_msg("stopped after %.2f s", r.cpu_seconds);
		sluice_extract_doc_free(&d);
		/* ...or the interrupt callback. */
		b.max_seconds = 0;
		b.interrupt = interrupt_now;
		b.interrupt_arg = &calls;
		assert_int_equal(sluice_extract_page_budget(c, len, NULL,
		    "text/html", NULL, &b, &r, &d, err, sizeof(err)),
		    SLUICE_EXTRACT_CANCELLED);
		assert_string_equal(sluice_extract_status_name(
		    SLUICE_EXTRACT_CANCELLED), "cancelled");
		assert_true(calls >= 2);
		sluice_extract_doc_free(&d);
		free(c);
	}

	/* Elements (and attributes) stop parsing at max_elements; the page
	 * is still cleaned. */
	sluice_extract_budget_default(&b);
	b.max_elements = 5000;
	h = repeat_page("<html><body>", "<p>Some words here.</p>", 100000,
	    "</body></html>", &len);
	assert_int_equal(sluice_extract_page_budget(h, len, NULL, "text/html",
	    NULL, &b, &r, &d, err, sizeof(err)), SLUICE_EXTRACT_OK);
	assert_true(r.truncated);
	assert_true(r.elements <= 5000);
	sluice_extract_doc_free(&d);
	free(h);

	/* Elements that cost the tree far more than the page (a node each
	 * for 4 bytes) stop at the tree's bytes, here where no element
	 * bound would: 12 times the page plus 8 MiB holds about 80,000 of
	 * the 300,000 paragraphs. */
	sluice_extract_budget_default(&b);
	b.max_elements = 0;
	b.bytes_per_element = 1;
	h = repeat_page("<html><body>", "<p>x", 300000, "</body></html>",
	    &len);
	assert_int_equal(sluice_extract_page_budget(h, len, NULL, "text/html",
	    NULL, &b, &r, &d, err, sizeof(err)), SLUICE_EXTRACT_OK);
	assert_true(r.truncated);
	if (r.elements < 20000 || r.elements > 200000)
		fail_msg("stopped at %zu elements", r.elements);
	sluice_extract_doc_free(&d);
	free(h);
}

/* Text nested deeper than libxml2's limit (256) is kept: flattened. */
static void
test_depth_flattened(void **state)
{
	static const char *const P = "<p>The paragraph deep inside, with "
	    "enough words to count as text of its own.</p>";
	struct sluice_extract_budget b;
	struct sluice_extract_report r;
	struct sluice_extract_doc d;
	char err[256], *a, *c;
	size_t len;

	(void)state;
	a = repeat_page("<html><body>", "<div>", 300, P, &len);
	c = repeat_page(a, "</div>", 300, "<p>And the paragraph after all "
	    "of it, which libxml2 alone would lose.</p></body></html>", &len);
	free(a);
	sluice_extract_budget_default(&b);
	assert_int_equal(sluice_extract_page_budget(c, len, NULL, "text/html",
	    NULL, &b, &r, &d, err, sizeof(err)), SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "deep inside"));
	assert_non_null(strstr(d.text, "paragraph after all"));
	/* html and body are two levels: the 249th div on are left out */
	assert_int_equal(r.flattened, 300 - 249 + 1 + 1);
	sluice_extract_doc_free(&d);
	/* Deeper than libxml2's own limit is clamped to it. */
	b.max_depth = 100000;
	assert_int_equal(sluice_extract_page_budget(c, len, NULL, "text/html",
	    NULL, &b, &r, &d, err, sizeof(err)), SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "paragraph after all"));
	sluice_extract_doc_free(&d);
	free(c);
}

static void
test_legacy_charset(void **state)
{
	static const char h[] = "<html><head><meta charset=iso-8859-1></head>"
	    "<body><p>Die Stra\xDF" "e war sch\xF6n, und die Leute waren "
	    "freundlich, als wir ankamen.</p></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "Stra\xC3\x9F" "e war sch\xC3\xB6n"));
	assert_string_equal(d.charset, "WINDOWS-1252");
	assert_string_equal(d.language, "de");
	sluice_extract_doc_free(&d);
}

/* Paragraphs long enough to score, for the pages built below. */
#define PARA(n) "<p>Paragraph " #n " of the story goes on, with commas, " \
	"clauses and enough words to read as prose to the cleaner.</p>"

static void
test_structure(void **state)
{
	static const char h[] = "<html><head><meta name=description content="
	    "\"A short dek that sums the story up for readers.\"></head><body>"
	    "<div class=hdr><p class=standfirst>A short dek that sums the "
	    "story up for readers.</p></div><div class=body>"
	    "<p>Advertisement</p>" PARA(1) PARA(2)
	    "<p style=\"display: none\">Hidden text never shown.</p>"
	    "<p>RELATED: Another story you may like</p>" PARA(3)
	    "<table><tr><th>Year</th><th>Count</th></tr><tr><td>2021</td>"
	    "<td>12</td></tr></table>" PARA(4) "<p>Line one<br>line two</p>"
	    "<div class=share-tools><a href=#>Share</a></div></div>"
	    "</body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "A short dek", 11) == 0);
	assert_non_null(strstr(d.text, "Paragraph 4 of"));
	assert_non_null(strstr(d.text, "Year\tCount\n2021\t12"));
	assert_non_null(strstr(d.text, "Line one\nline two"));
	assert_null(strstr(d.text, "Advertisement"));
	assert_null(strstr(d.text, "Hidden"));
	assert_null(strstr(d.text, "RELATED"));
	assert_null(strstr(d.text, "Share"));
	sluice_extract_doc_free(&d);
}

static void
test_article_body_rescue(void **state)
{
	static const char h[] = "<html><head><script type=application/ld+json>"
	    "{\"@type\":\"NewsArticle\",\"headline\":\"H\",\"articleBody\":"
	    "\"First paragraph of the body that the page renders with script, "
	    "long enough to count.\\nSecond paragraph, also rendered later, "
	    "also long enough to count as real text for the rescue rule here."
	    "\\nThird paragraph: the page's HTML shows none of this text, so "
	    "the JSON-LD copy is all there is to go on, and it is long."
	    "\\nFourth paragraph, because the rescue wants 500 bytes at least "
	    "before it trusts structured data over the page itself."
	    "\\nFifth paragraph, to be safe: structured data is a copy the "
	    "publisher made, and copies are sometimes cut short.\"}"
	    "</script></head><body><div id=app>Loading</div></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "First paragraph", 15) == 0);
	assert_non_null(strstr(d.text, "count.\nSecond"));
	sluice_extract_doc_free(&d);
}

static void
test_loose_pass(void **state)
{
	/* Everything sits in a "sidebar": the strict pass finds nothing,
	 * the loose one keeps the text. */
	static const char h[] = "<body><div class=sidebar-layout>" PARA(1)
	    PARA(2) PARA(3) PARA(4) PARA(5) "</div></body>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "Paragraph 5"));
	sluice_extract_doc_free(&d);
}

/* Scripts hidden in <!-- --> that write "<script></script>" stay scripts
 * (HTML5's escaped states), and text after a pasted-in </html> counts. */
static void
test_escaped_script(void **state)
{
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run_file("script-escaped.html", NULL, &d),
	    SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "The harbour commission voted"));
	assert_non_null(strstr(d.text, "answer by spring"));
	assert_non_null(strstr(d.text, "last crossing is set"));
	assert_null(strstr(d.text, "LEAKED"));
	assert_null(strstr(d.text, "document.write"));
	assert_null(strstr(d.text, "partner"));
	sluice_extract_doc_free(&d);
}

/* Notes around a story inside its container: editorial badges, a "Read
 * more:" label over links, citation and copyright lines, disclaimers, the
 * reporter's contact line and a call for readers' photos go; a paragraph
 * that gives an address stays. */
static void
test_tail_notes(void **state)
{
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run_file("tail-notes.html", NULL, &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "The wool mill on the river", 26) == 0);
	assert_non_null(strstr(d.text, "parts made in the town"));
	assert_non_null(strstr(d.text, "tours@woolmill.example.org."));
	assert_null(strstr(d.text, "editorial process"));
	assert_null(strstr(d.text, "fact-checked"));
	assert_null(strstr(d.text, "proofread"));
	assert_null(strstr(d.text, "Read more"));
	assert_null(strstr(d.text, "loom makers"));
	assert_null(strstr(d.text, "Citation:"));
	assert_null(strstr(d.text, "subject to copyright"));
	assert_null(strstr(d.text, "Contact reporter"));
	assert_null(strstr(d.text, "Reach out"));
	assert_null(strstr(d.text, "User Agreement"));
	sluice_extract_doc_free(&d);
}

/* The stamp line above a story ("date / time / station"), an advertising
 * disclaimer, and after the story a pointer elsewhere ("For more ...,
 * visit"), an app pitch and the writer's bio go; a
 * last paragraph opening "For more than" and a sentence with "is" and
 * "writers" in it stay. */
static void
test_staff_tail(void **state)
{
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run_file("staff-tail.html", NULL, &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "Repairs to the ferry pier", 25) == 0);
	assert_non_null(strstr(d.text, "Residents' patience is a bit thin"));
	assert_non_null(strstr(d.text, "For more than a decade"));
	assert_null(strstr(d.text, "1:54 PM"));
	assert_null(strstr(d.text, "visit our ferry page"));
	assert_null(strstr(d.text, "advertising disclaimer"));
	assert_null(strstr(d.text, "Gazette app"));
	assert_null(strstr(d.text, "harbour reporter"));
	sluice_extract_doc_free(&d);
}

/* A story whose first paragraphs sit in a page section of their own,
 * written as the same <p class> as the body: they join; a paragraph of
 * that class after the body (another story) does not. */
static void
test_split_body(void **state)
{
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run_file("split-body.html", NULL, &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "The central bank held rates", 27) == 0);
	assert_non_null(strstr(d.text, "Markets rose on the news"));
	assert_non_null(strstr(d.text, "The next meeting is in late January"));
	assert_null(strstr(d.text, "Another story entirely"));
	assert_null(strstr(d.text, "Most read"));
	sluice_extract_doc_free(&d);
}

/* A blog post's comment thread never goes into the text; with
 * include_comments it comes separately, comments only, one per line. */
static void
test_comments(void **state)
{
	struct sluice_extract_opts o;
	struct sluice_extract_doc d;
	size_t len;
	char err[256], *h = load("blog-comments.html", &len);

	(void)state;
	sluice_extract_opts_default(&o);
	assert_int_equal(sluice_extract_page(h, len, NULL, "text/html", &o,
	    &d, err, sizeof(err)), SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "The broad beans went in late"));
	assert_non_null(strstr(d.text, "when it is ready."));
	assert_null(strstr(d.text, "Mine were late too"));
	assert_null(d.comments);
	sluice_extract_doc_free(&d);

	o.include_comments = true;
	assert_int_equal(sluice_extract_page(h, len, NULL, "text/html", &o,
	    &d, err, sizeof(err)), SLUICE_EXTRACT_OK);
	assert_null(strstr(d.text, "Mine were late too"));
	assert_non_null(d.comments);
	assert_string_equal(d.comments, "Mine were late too, and they did "
	    "just as well. I now wait for the soil to crumble in my hand "
	    "before sowing anything.\nDid you soak the seeds first? Ours "
	    "rotted in the cold last year, so this spring I started them in "
	    "pots indoors.");
	sluice_extract_doc_free(&d);
	free(h);
}

/* One page of a made-up site: a story of its own (n) with the site's
 * appeal box inside the article, a short "Weekend Reads" label mid-story and
 * a short sign-off line at the end. */
static char *
site_page(int n)
{
	char *h = NULL;
	int rc;

	rc = asprintf(&h, "<html><head><title>Story %d</title></head><body>"
	    "<div class=story><p>Story %d opens on the harbour, with commas, "
	    "clauses and enough words of its own to read as prose.</p>"
	    "<div class=box-%d><h4>Become a member</h4>"
	    "<p>Support the Harbour Gazette: become a member "
	    "today and keep local reporting free for everyone.</p></div>"
	    "<p>The second paragraph of story %d goes on about the tides, the "
	    "boats and the people who work on them every day.</p>"
	    "<h3>Weekend Reads</h3>"
	    "<p>A third paragraph of story %d, again long enough, closes the "
	    "account with a quote from the harbour master, who was pleased.</p>"
	    "<p>Harbour Gazette staff</p></div></body></html>", n, n, n, n, n);
	assert_true(rc > 0);
	return h;
}

static enum sluice_extract_status
run_site(struct sluice_site_memory *m, int n, struct sluice_extract_doc *d)
{
	struct sluice_extract_opts o;
	enum sluice_extract_status st;
	char err[256], *h = site_page(n), url[64];

	sluice_extract_opts_default(&o);
	o.site_memory = m;
	snprintf(url, sizeof(url), "https://www.gazette.example/%d", n);
	st = sluice_extract_page(h, strlen(h), url, "text/html", &o, d, err,
	    sizeof(err));
	free(h);
	return st;
}

/* Lines kept on 3 other pages of a site go from the 4th on, with the
 * short label of their box; a short label alone inside the story needs 6;
 * the story stays whole. */
static void
test_site_memory(void **state)
{
	struct sluice_site_memory *m = sluice_site_memory_new(NULL);
	struct sluice_extract_doc d;
	int n;

	(void)state;
	assert_non_null(m);
	for (n = 1; n <= 8; n++) {
		assert_int_equal(run_site(m, n, &d), SLUICE_EXTRACT_OK);
		assert_string_equal(d.site, "gazette.example");
		assert_false(d.site_repeated);
		assert_non_null(strstr(d.text, "opens on the harbour"));
		assert_non_null(strstr(d.text, "about the tides"));
		assert_non_null(strstr(d.text, "closes the account"));
		if (n <= 3) {
			assert_non_null(strstr(d.text, "Support the Harbour"));
			assert_int_equal(d.site_dropped, 0);
			assert_non_null(strstr(d.text, "Become a member"));
		} else {
			assert_null(strstr(d.text, "Support the Harbour"));
			/* the box's short label goes with it */
			assert_null(strstr(d.text, "Become a member"));
		}
		/* the short sign-off, after the story: from the 4th page */
		assert_true((strstr(d.text, "Harbour Gazette staff") == NULL) ==
		    (n > 3));
		/* the short label inside the story: from the 7th */
		assert_true((strstr(d.text, "Weekend Reads") == NULL) == (n > 6));
		assert_int_equal(sluice_site_memory_record(m, &d), 0);
		/* the same page twice counts once */
		assert_int_equal(sluice_site_memory_record(m, &d), 1);
		sluice_extract_doc_free(&d);
	}
	sluice_site_memory_free(m);
}

/* A dumped memory restored into a new one judges the next page the same
 * way; a truncated or foreign buffer is refused. */
static void
test_site_dump(void **state)
{
	struct sluice_site_memory *a = sluice_site_memory_new(NULL), *b;
	struct sluice_extract_doc d;
	void *buf;
	size_t len;
	int n;

	(void)state;
	assert_non_null(a);
	for (n = 1; n <= 3; n++) {
		assert_int_equal(run_site(a, n, &d), SLUICE_EXTRACT_OK);
		assert_int_equal(sluice_site_memory_record(a, &d), 0);
		sluice_extract_doc_free(&d);
	}
	assert_int_equal(sluice_site_memory_dump(a, &buf, &len), 0);
	sluice_site_memory_free(a);
	b = sluice_site_memory_new(NULL);
	assert_non_null(b);
	assert_int_equal(sluice_site_memory_restore(b, buf, len - 1), -1);
	assert_int_equal(sluice_site_memory_restore(b, "XXXX", 4), -1);
	assert_int_equal(sluice_site_memory_restore(b, buf, len), 0);
	free(buf);
	assert_int_equal(run_site(b, 4, &d), SLUICE_EXTRACT_OK);
	assert_null(strstr(d.text, "Support the Harbour"));
	assert_non_null(strstr(d.text, "about the tides"));
	/* page 3 again: already recorded before the dump */
	sluice_extract_doc_free(&d);
	assert_int_equal(run_site(b, 3, &d), SLUICE_EXTRACT_OK);
	assert_int_equal(sluice_site_memory_record(b, &d), 1);
	sluice_extract_doc_free(&d);
	sluice_site_memory_free(b);
}

/* One site's dump restores that site alone, replacing it, and judges as
 * the whole memory did; lines() counts it; the dropped lines are shown. */
static void
test_site_dump_site(void **state)
{
	struct sluice_site_memory *a = sluice_site_memory_new(NULL), *b;
	const struct sluice_extract_more *more;
	struct sluice_extract_doc d;
	size_t rep = 99, lines, i;
	void *buf;
	size_t len;
	int n;

	(void)state;
	assert_non_null(a);
	for (n = 1; n <= 3; n++) {
		assert_int_equal(run_site(a, n, &d), SLUICE_EXTRACT_OK);
		assert_int_equal(sluice_site_memory_record(a, &d), 0);
		sluice_extract_doc_free(&d);
	}
	assert_int_equal(sluice_site_memory_dump_site(a, "other.example",
	    &buf, &len), 1);
	assert_null(buf);
	assert_int_equal(sluice_site_memory_lines(a, "other.example", &rep),
	    0);
	assert_int_equal(rep, 0);
	lines = sluice_site_memory_lines(a, "gazette.example", &rep);
	assert_true(lines > 0 && rep > 0 && rep <= lines);
	assert_int_equal(sluice_site_memory_dump_site(a, "gazette.example",
	    &buf, &len), 0);
	b = sluice_site_memory_new(NULL);
	assert_non_null(b);
	/* Twice: the second replaces the first, counts do not add up. */
	assert_int_equal(sluice_site_memory_restore(b, buf, len), 0);
	assert_int_equal(sluice_site_memory_restore(b, buf, len), 0);
	free(buf);
	assert_int_equal(sluice_site_memory_lines(b, "gazette.example", &i),
	    lines);
	assert_int_equal(i, rep);
	assert_int_equal(run_site(b, 4, &d), SLUICE_EXTRACT_OK);
	assert_null(strstr(d.text, "Support the Harbour"));
	more = sluice_extract_doc_more(&d);
	assert_int_equal(more->nsite_dropped, d.site_dropped);
	for (i = 0; i < more->nsite_dropped; i++)
		if (strstr(more->site_dropped[i], "Support the Harbour"))
			break;
	assert_true(i < more->nsite_dropped);
	sluice_extract_doc_free(&d);
	sluice_site_memory_free(a);
	sluice_site_memory_free(b);
}

/* A page made only of lines the site repeats is flagged, not emptied. */
static void
test_site_repeated(void **state)
{
	static const char h[] = "<html><body><div class=main>"
	    "<p>Welcome to the Harbour Gazette, the paper of the island and "
	    "its people since eighteen ninety, printed every week.</p>"
	    "<p>Our newsroom is open to readers on weekdays; bring your "
	    "stories, photographs and letters to the editor.</p>"
	    "<p>Issue %d</p></div></body></html>";
	struct sluice_site_memory_opts mo;
	struct sluice_site_memory *m;
	struct sluice_extract_opts o;
	struct sluice_extract_doc d;
	char err[256];
	int n;

	(void)state;
	sluice_site_memory_opts_default(&mo);
	mo.max_sites = 1;
	mo.max_lines = 16;
	m = sluice_site_memory_new(&mo);
	assert_non_null(m);
	sluice_extract_opts_default(&o);
	o.site_memory = m;
	o.site = "gazette";
	for (n = 0; n < 5; n++) {
		/* the same text but for an issue number: a new page */
		char page[sizeof(h) + 32];
		snprintf(page, sizeof(page), h, n);
		assert_int_equal(sluice_extract_page(page, strlen(page), NULL,
		    "text/html", &o, &d, err, sizeof(err)), SLUICE_EXTRACT_OK);
		assert_non_null(strstr(d.text, "Welcome to the Harbour"));
		assert_non_null(strstr(d.text, "Our newsroom is open"));
		assert_true(d.site_repeated == (n >= 3));
		assert_int_equal(d.site_dropped, 0);
		assert_int_equal(sluice_site_memory_record(m, &d), 0);
		/* the same page again: "already recorded" */
		assert_int_equal(sluice_site_memory_record(m, &d), 1);
		sluice_extract_doc_free(&d);
	}
	sluice_site_memory_free(m);
}

/* Small bounds: full tables evict, sites beyond max_sites evict the least
 * recently recorded, and nothing breaks. */
static void
test_site_bounds(void **state)
{
	struct sluice_site_memory_opts mo;
	struct sluice_site_memory *m;
	struct sluice_extract_opts o;
	struct sluice_extract_doc d;
	char err[256], *h, site[16];
	int n;

	(void)state;
	sluice_site_memory_opts_default(&mo);
	mo.max_sites = 2;
	mo.max_lines = 16;
	m = sluice_site_memory_new(&mo);
	assert_non_null(m);
	sluice_extract_opts_default(&o);
	o.site_memory = m;
	for (n = 1; n <= 40; n++) {
		snprintf(site, sizeof(site), "s%d", n % 3);
		o.site = site;
		h = site_page(n);
		assert_int_equal(sluice_extract_page(h, strlen(h), NULL,
		    "text/html", &o, &d, err, sizeof(err)), SLUICE_EXTRACT_OK);
		free(h);
		assert_non_null(strstr(d.text, "about the tides"));
		assert_int_equal(sluice_site_memory_record(m, &d), 0);
		sluice_extract_doc_free(&d);
	}
	sluice_site_memory_free(m);
}

/* A sponsor pitch opening the page, and a "Don't miss out" call, a
 * production credit and the writer's initials closing it go; the story
 * stays whole. */
static void
test_page_ends(void **state)
{
	static const char h[] = "<html><body><article>"
	    "<p>Are you ready to bring more awareness to your brand? Consider "
	    "becoming a sponsor of our tour.</p>"
	    PARA(1) PARA(2) PARA(3) PARA(4)
	    "<p>Don\xE2\x80\x99t miss out \xE2\x80\x93 start your season by "
	    "signing up for a free account today!</p>"
	    "<p>Interview produced by Jane Roe.</p>"
	    "<p>MA</p></article></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "Paragraph 1 of", 14) == 0);
	assert_non_null(strstr(d.text, "Paragraph 4 of"));
	assert_null(strstr(d.text, "sponsor"));
	assert_null(strstr(d.text, "miss out"));
	assert_null(strstr(d.text, "produced by"));
	assert_null(strstr(d.text, "\nMA"));
	sluice_extract_doc_free(&d);
}

/* Notes around a story's text: the paper it reports on ("More
 * information: ... et al ... DOI"), a citation line without the label, a
 * reading time and a bare "Published:", a syndication note, a pitch to
 * follow the site on social media and a cookie notice go; a paragraph
 * naming a study and its authors in prose stays. */
static void
test_cited_notes(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1) "<p>Published:</p><p>4 Minute Read</p>" PARA(2)
	    "<p>The study, led by Jane Roe and her colleagues at the "
	    "institute, was published in a journal last week.</p>"
	    PARA(3) PARA(4)
	    "<p>More information: Jane Roe et al, Knitted fibres for warm "
	    "coats, Journal of Cloth (2023). DOI: 10.1000/cloth.123</p>"
	    "<p>John Doe et al, Hollow hairs of bears, Journal of Cloth "
	    "(2023). DOI: 10.1000/cloth.456</p>"
	    "<p>Read the original article on Cloth Weekly.</p>"
	    "<p>This article was initially published on Cloth Weekly: "
	    "Knitted fibres keep you warm</p>"
	    "<p>Want the latest cloth news? Just hit 'Like' on our Cloth "
	    "Weekly Facebook page.</p>"
	    "<p>We use cookies to enhance your visit to our site. Read our "
	    "Cookie Policy.</p>"
	    "</article></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "Paragraph 1 of", 14) == 0);
	assert_non_null(strstr(d.text, "Paragraph 4 of"));
	assert_non_null(strstr(d.text, "led by Jane Roe"));
	assert_null(strstr(d.text, "Minute Read"));
	assert_null(strstr(d.text, "Published"));
	assert_null(strstr(d.text, "More information"));
	assert_null(strstr(d.text, "Hollow hairs"));
	assert_null(strstr(d.text, "original article"));
	assert_null(strstr(d.text, "initially published"));
	assert_null(strstr(d.text, "Facebook"));
	assert_null(strstr(d.text, "cookies"));
	sluice_extract_doc_free(&d);
}

/* The dek under the headline, a subheading <h2> that repeats the meta
 * description, deep in a header box far above the body: it joins the
 * text, once, before the body; a page whose first paragraph is the
 * description does not get it twice. */
static void
test_dek(void **state)
{
	static const char h[] = "<html><head><title>Mill reopens</title>"
	    "<meta name=description content=\"The wool mill on the river "
	    "reopens after ten years, with forty jobs.\"></head><body>"
	    "<div><div><div><div><h1>Mill reopens</h1>"
	    "<h2>The wool mill on the river reopens after ten years, with "
	    "forty jobs.</h2></div></div></div></div>"
	    "<div><div><div><div><div><article>"
	    PARA(1) PARA(2) PARA(3) PARA(4)
	    "</article></div></div></div></div></div>"
	    "<div><p>The wool mill on the river reopens after ten years, "
	    "with forty jobs.</p></div></body></html>";
	static const char h2[] = "<html><head><title>Mill reopens</title>"
	    "<meta name=description content=\"The wool mill on the river "
	    "reopens after ten years, with forty jobs.\"></head><body>"
	    "<div><div><div><h2>The wool mill on the river reopens after "
	    "ten years, with forty jobs.</h2></div></div></div>"
	    "<article><p>The wool mill on the river reopens after ten "
	    "years, with forty jobs.</p>"
	    PARA(1) PARA(2) PARA(3) PARA(4) "</article></body></html>";
	struct sluice_extract_doc d;
	const char *p;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "The wool mill on the river", 26) == 0);
	assert_non_null(strstr(d.text, "Paragraph 4 of"));
	assert_null(strstr(d.text + 1, "The wool mill"));
	sluice_extract_doc_free(&d);
	assert_int_equal(run(h2, sizeof(h2) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_non_null(p = strstr(d.text, "The wool mill on the river"));
	assert_null(strstr(p + 1, "The wool mill"));
	assert_non_null(strstr(d.text, "Paragraph 4 of"));
	sluice_extract_doc_free(&d);
}

/* A box named "header" is the site's, and is skipped, outside <article>
 * and <main>; inside them it is the story's own header, and its lead
 * (no meta description here to match) joins the text. */
static void
test_story_header(void **state)
{
	static const char h[] = "<html><head><title>Mill reopens</title>"
	    "</head><body><div class=\"site-header\"><p>The Gazette: news "
	    "from the valley and the hills, every day, since 1901.</p></div>"
	    "<main><article><header class=\"entry-header\">"
	    "<h1>Mill reopens</h1><p class=\"entry-subtitle\">Forty jobs "
	    "come back to the valley as the wool mill starts up again.</p>"
	    "</header>" PARA(1) PARA(2) PARA(3) PARA(4) PARA(5) PARA(6)
	    "</article></main></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "Forty jobs come back", 20) == 0);
	assert_non_null(strstr(d.text, "Paragraph 6 of"));
	assert_null(strstr(d.text, "Gazette"));
	assert_null(strstr(d.text, "Mill reopens"));
	sluice_extract_doc_free(&d);
}

/* A changelog's list, each item a bug link then what was fixed, stays;
 * a list of headline links and a list of tool links (short items, most
 * of their text in links) go. */
static void
test_link_lists(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1) PARA(2) PARA(3) PARA(4) PARA(5)
	    "<ul><li><a href=/b/101>Bug 101</a> \xE2\x80\x93 <a href=/b/101>"
	    "The loom stops when the thread runs out</a></li>"
	    "<li><a href=/b/102>Bug 102</a> \xE2\x80\x93 Dyed wool fades in "
	    "the <a href=/b/102>drying room</a> after a week</li>"
	    "<li><a href=/b/103>Bug 103</a> \xE2\x80\x93 The mill gate "
	    "<a href=/b/103>will not shut in the wind</a></li></ul>"
	    PARA(6)
	    "<ul><li><a href=/t/1>Text size</a></li><li><a href=/t/2>Print"
	    "</a> this</li><li>Share <a href=/t/3>it</a></li></ul>"
	    "<ul><li><a href=/s/1>Another mill closes in the north</a></li>"
	    "<li><a href=/s/2>Wool prices fall for a third month</a></li>"
	    "</ul></article></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "will not shut in the wind"));
	assert_non_null(strstr(d.text, "Dyed wool fades"));
	assert_non_null(strstr(d.text, "Paragraph 6 of"));
	assert_null(strstr(d.text, "Text size"));
	assert_null(strstr(d.text, "Another mill"));
	sluice_extract_doc_free(&d);
}

/* A "Story highlights" box above the story, in a page section of its
 * own, joins the text; a box of headline links above it does not, even
 * under a summary-like label. */
static void
test_summary_box(void **state)
{
	static const char h[] = "<html><body><div><div><div>"
	    "<div><h3>Highlights</h3><ul><li><a href=/a>Another mill closes "
	    "in the north</a></li><li><a href=/b>Wool prices fall for a third "
	    "month</a></li></ul></div>"
	    "<div><h3>Story highlights</h3><ul><li>The wool mill reopens "
	    "with forty jobs</li><li>Its looms were rebuilt by the town's "
	    "engineers</li></ul></div></div></div>"
	    "<div><div><div><div><article>"
	    PARA(1) PARA(2) PARA(3) PARA(4) PARA(5) PARA(6)
	    "</article></div></div></div></div></div></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "The wool mill reopens with forty "
	    "jobs\nIts looms were rebuilt"));
	assert_non_null(strstr(d.text, "Paragraph 6 of"));
	assert_true(strstr(d.text, "forty jobs") < strstr(d.text,
	    "Paragraph 1 of"));
	assert_null(strstr(d.text, "Another mill"));
	sluice_extract_doc_free(&d);
}

/* A stamp line under the headline, a date and time then the story's
 * sections, goes; a live-blog line opening with a date and time stays. */
static void
test_stamp_sections(void **state)
{
	static const char h[] = "<html><body><article>"
	    "<p>20 Mar 2017 13:14 GMT Middle East, Valley Mills Report</p>"
	    PARA(1) PARA(2) PARA(3)
	    "<p>21 Mar 2017 09:30 GMT The mill's owners said the looms "
	    "would run again by the spring.</p>"
	    PARA(4) PARA(5) "</article></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "Paragraph 1 of", 14) == 0);
	assert_null(strstr(d.text, "Valley Mills Report"));
	assert_non_null(strstr(d.text, "looms would run again"));
	sluice_extract_doc_free(&d);
}

/* Furniture lines inside a story: photo credits and gallery counters,
 * "ALSO:", "Don't Miss", "On the Net:", reprint pitches; a sentence
 * opening with "Also" and a score "3 of 4" inside a sentence stay. */
static void
test_furniture_lines(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1) "<p>Image copyright EPA</p><p>1 of 12</p>"
	    "<p>View full gallery</p>" PARA(2) "<p>ALSO:</p>"
	    "<p>Don't Miss</p>" PARA(3)
	    "<p>Also, the looms ran 3 of 4 shifts.</p>" PARA(4)
	    "<p>On the Net:</p>"
	    "<p>Purchase this AP story for reprint.</p>" PARA(5)
	    "</article></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "Paragraph 5 of"));
	assert_non_null(strstr(d.text, "Also, the looms ran 3 of 4 shifts."));
	assert_null(strstr(d.text, "copyright"));
	assert_null(strstr(d.text, "1 of 12"));
	assert_null(strstr(d.text, "gallery"));
	assert_null(strstr(d.text, "ALSO"));
	assert_null(strstr(d.text, "Miss"));
	assert_null(strstr(d.text, "On the Net"));
	assert_null(strstr(d.text, "reprint"));
	sluice_extract_doc_free(&d);
}

/* A story that wraps each paragraph in a box of its own keeps the one
 * that cites its source through a long link; a box of one short link
 * line still goes, and so do a note (role="note") and an affiliate
 * disclaimer. */
static void
test_paragraph_boxes(void **state)
{
	static const char h[] = "<html><body><article>"
	    "<div>" PARA(1) "</div><div>" PARA(2) "</div>"
	    "<div role=note>This list may never be complete; you can help "
	    "by adding the mills it lacks, with reliable sources.</div>"
	    "<div><p>Conversely, the owners said little about the looms. But "
	    "on Thursday <a href=/x>the valley's wool board told reporters</a>"
	    " that five buyers were interested.</p></div>"
	    "<div><p><a href=/y>More mill stories</a> here</p></div>"
	    "<div>" PARA(3) "</div><div>" PARA(4) "</div>"
	    "<div><p>If you buy through a link we may receive a small "
	    "commission.</p></div>"
	    "<div>" PARA(5) "</div></article></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "five buyers were interested."));
	assert_non_null(strstr(d.text, "Paragraph 5 of"));
	assert_null(strstr(d.text, "More mill stories"));
	assert_null(strstr(d.text, "reliable sources"));
	assert_null(strstr(d.text, "commission"));
	sluice_extract_doc_free(&d);
}

/* Boxes named for what they hold: a writer's short bio beside the story
 * (which does not join it as a sibling either), a pop-over author card,
 * a site's boilerplate box between paragraphs. */
static void
test_named_boxes(void **state)
{
	static const char h[] = "<html><body><article>"
	    "<div class=\"author-overlay\"><a href=#>Close</a>"
	    "<div>Jane Doe</div><ul>Mill reporter. Covered the looms for the "
	    "Gazette from 2010 to 2016.</ul></div>"
	    "<div class=\"c-short-author-bio\"><div><a href=/a/jd>Jane "
	    "Doe</a> is the Gazette's mill editor. In ten years she has "
	    "covered wool, looms and the valley's weirs.</div></div>"
	    "<div class=entry>" PARA(1) PARA(2)
	    "<div class=\"post-boilerplate\"><h3>Gazette Event</h3><p>The "
	    "Wool Tour: request an invite for the June event.</p></div>"
	    PARA(3) PARA(4) PARA(5) PARA(6) PARA(7)
	    "</div></article></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_true(strncmp(d.text, "Paragraph 1 of", 14) == 0);
	assert_non_null(strstr(d.text, "Paragraph 7 of"));
	assert_null(strstr(d.text, "Covered the looms"));
	assert_null(strstr(d.text, "mill editor"));
	assert_null(strstr(d.text, "Wool Tour"));
	sluice_extract_doc_free(&d);
}

/* A writer's bio closing the story goes even when it runs past the
 * short notes' length, as the last block. */
static void
test_long_tail_bio(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1) PARA(2) PARA(3) PARA(4) PARA(5)
	    "<p>Jane Doe writes about the mills at the crossroads of the "
	    "valley and the coast. Since joining the Gazette in 1999, she has "
	    "covered the wool trade nonstop, from the strike of the weavers "
	    "to the fire at the north mill. She was part of the Gazette team "
	    "that won the county prize for breaking news on the flood, and "
	    "she and three colleagues were finalists for explanatory "
	    "reporting for a series on the dye works along the river "
	    "and what they left in it.</p></article></body></html>";
	struct sluice_extract_doc d;

	(void)state;
	assert_int_equal(run(h, sizeof(h) - 1, NULL, "text/html", &d),
	    SLUICE_EXTRACT_OK);
	assert_non_null(strstr(d.text, "Paragraph 5 of"));
	assert_null(strstr(d.text, "writes about"));
	sluice_extract_doc_free(&d);
}

/* Teasers in the story's container: a run of paragraphs that are each
 * a link to another story, and one such paragraph under "ALSO", go; a
 * single linked line between paragraphs stays. */
static void
test_teaser_links(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1) PARA(2)
	    "<p><a href=/w>Wool prices climb for a third straight week</a></p>"
	    PARA(3) PARA(4) PARA(5)
	    "<p><strong>ALSO</strong></p>"
	    "<p><a href=/a>Weavers strike at the north mill</a></p>"
	    PARA(6)
	    "<p><b><a href=/b>Fire at the dye works closes the river road</a>"
	    "</b></p>"
	    "<p><a href=/c>Mill owner charged in the valley fraud case</a></p>"
	    "<p><a href=/d>The last loom of the county goes to a museum</a></p>"
	    "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("Paragraph 6 of", "Wool prices climb"),
	    LIST("Weavers strike", "Fire at the dye works",
	    "Mill owner charged", "last loom"));
}

/* A wire byline naming the writer's job and the time goes, past the
 * short bylines' length; a sentence opening with "By" stays. */
static void
test_wire_byline(void **state)
{
	static const char h[] = "<html><body><article>"
	    "<p>By JANE ROE and JOHN DOE, Associated Press Writers Jane Roe "
	    "And John Doe, Associated Press Writers \xE2\x80\x93 Fri Apr 3, "
	    "3:21 pm ET</p>"
	    PARA(1) PARA(2) PARA(3)
	    "<p>By Friday, the mill's editor, a writer of long standing, had "
	    "left.</p>" PARA(4) "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, "Paragraph 1 of",
	    LIST("By Friday, the mill's editor"),
	    LIST("Associated Press"));
}

/* A line of social counters under the dek and an "Image via" credit
 * go; a sentence that counts views stays. */
static void
test_counters_credits(void **state)
{
	static const char h[] = "<html><body><article>"
	    "<p>The mills close one by one, and the weavers go.</p>"
	    "<div><span>Jane Roe</span><span>Dec 05, 2023</span>"
	    "<span>2 Shares</span><span>1530 Views</span></div>"
	    PARA(1) PARA(2)
	    "<p>The mill's video drew 1530 views in a day.</p>"
	    PARA(3) PARA(4)
	    "<p>[Image via Valley Photo Agency]</p>"
	    "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("the weavers go.\nParagraph 1 of", "drew 1530 views in a day.",
	    "Paragraph 4 of"),
	    LIST("Shares", "Image via"));
}

/* Notes to readers around the story: that it will be updated, a
 * subscription pitch, a call-out for readers' own stories and its terms.
 * A sentence about updating something else stays. */
static void
test_reader_notes(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1)
	    "<p>Keep up with this story and more by subscribing now</p>"
	    PARA(2)
	    "<p>The owners said the looms will be updated next year.</p>"
	    PARA(3) PARA(4)
	    "<p>This story will be updated as more information becomes "
	    "available.</p>"
	    "<p>Have you been affected by the flood? Are you in the area? If "
	    "you are willing to do so, share with us by emailing "
	    "floods@example.com. Please include a contact number if you are "
	    "willing to speak to a Gazette journalist.</p>"
	    "<p>A selection of your comments may be published, with your name "
	    "and location unless you state otherwise.</p>"
	    "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("Paragraph 4 of", "looms will be updated next year."),
	    LIST("subscribing", "more information", "affected",
	    "selection of your comments"));
}

/* Headings after the last paragraph go, unless written as a lead-in
 * to an embed (a sentence ending with a colon over a post). */
static void
test_tail_lead_ins(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1) PARA(2) PARA(3) PARA(4)
	    "<h3>The weavers' union reacts to the closing of the mill:</h3>"
	    "<blockquote class=twitter-tweet><a href=/t/1>pic.example/1</a>"
	    "</blockquote>"
	    "<h3>Readers share their memories of the looms:</h3>"
	    "<h2>More mill stories</h2>"
	    "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("reacts to the closing of the mill:",
	    "memories of the looms:"),
	    LIST("More mill stories"));
}

/* An old table layout: the lead set in <b> and closing paragraphs as
 * loose text in the cell, beside the <font> box that holds the rest of
 * the body, join it; a short loose line does not. */
static void
test_loose_text(void **state)
{
	static const char h[] = "<html><body><table><tr><td>"
	    "<a href=/>Gazette home</a> | <a href=/news>News</a>"
	    "</td></tr><tr><td>"
	    "<b>The last mill of the valley closed on Friday, ending two "
	    "hundred years of weaving wool along the slow brown river.</b>"
	    "<font>" PARA(1) PARA(2) PARA(3) PARA(4) "</font>"
	    "The owners said they would sell the looms to a museum, and the "
	    "weavers would be paid until the end of the year."
	    "<br><br>Story from the Gazette"
	    "</td></tr></table></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, "The last mill of the valley",
	    LIST("paid until the end of the year."),
	    LIST("Story from", "Gazette home"));
}

/* A caption or credit in an inline box (<span class=...>) goes with
 * its box when it is all of its line's text. */
static void
test_inline_boxes(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1) PARA(2)
	    "<div class=photo><img src=/m.jpg><span class=newsCaption>"
	    "The north mill's weavers leave the building for the last time"
	    "</span></div>"
	    PARA(3)
	    "<p><span class=image-credit>GAZETTE PHOTO DESK</span></p>"
	    PARA(4) PARA(5)
	    "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("Paragraph 5 of"),
	    LIST("for the last time", "PHOTO DESK"));
}

/* Teasers under a label set between paragraphs ("Trending: ...",
 * "Most popular: ...") go; a sentence naming what is popular stays. */
static void
test_teaser_labels(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1) PARA(2)
	    "<p>Trending: <a href=/t>Wool prices climb for a third week</a></p>"
	    PARA(3)
	    "<p>Don't miss: <a href=/m>The weavers' strike, day by day</a></p>"
	    "<p>Most popular: <a href=/p>Ten looms that shaped the valley</a>"
	    "</p>" PARA(4)
	    "<p>Most popular with the weavers was the Friday market.</p>"
	    PARA(5) "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("Paragraph 5 of", "weavers was the Friday market."),
	    LIST("Trending", "strike, day by day", "Ten looms"));
}

/* A picture's box with a short caption line (no <figure>) goes, as a
 * <figcaption> would; a box of an image and a sentence stays. */
static void
test_image_boxes(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1)
	    "<table align=right><tr><td><div><img src=/a.jpg>"
	    "<div class=cap>The north mill, silent since Friday</div></div>"
	    "</td></tr></table>"
	    PARA(2) PARA(3)
	    "<div><img src=/b.jpg>The weavers gathered at the gate on Friday "
	    "morning to say goodbye.</div>"
	    PARA(4) PARA(5) PARA(6) "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("Paragraph 6 of", "to say goodbye."),
	    LIST("silent since Friday"));
}

/* A story split by an ad row: its last paragraphs sit in a later section
 * whose boxes repeat the body's tags and classes; they join (less the
 * note where it first ran), and a box of another kind after the story
 * does not. */
static void
test_split_tail(void **state)
{
	static const char h[] = "<html><body><article><header><h1>Mill "
	    "reopens</h1></header><section class=s1><div class=story-text>"
	    "<div>" PARA(1) PARA(2) PARA(3) PARA(4) PARA(5) "</div></div>"
	    "</section><div class=ad-row>Advertisement</div>"
	    "<section class=s2><div class=story-text><div><p>The looms will "
	    "run again in the spring, and the town hopes the wool trade "
	    "follows them back up the valley.</p><p>Originally published at "
	    "millnews.example on 2 May 2011.</p></div></div></section>"
	    "<section class=s3><div class=next><div><p>Elsewhere in the "
	    "valley, a baker opens a second shop beside the old station, "
	    "with a queue on the first morning.</p></div></div></section>"
	    "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("Paragraph 5 of", "up the valley."),
	    LIST("Advertisement", "a baker opens", "Originally"));
}

/* A link to another story between paragraphs stays, unless its box is
 * named a related link, even with a maybe word ("article") in the same
 * class word. */
static void
test_related_link(void **state)
{
	static const char h[] = "<html><body><article class=story>"
	    PARA(1) PARA(2)
	    "<p class=ArticleRelatedLink_root><a href=/a>Jo Weaver: The "
	    "valley's last looms, one by one</a></p>"
	    PARA(3)
	    "<p><a href=/b>The wool mill's owners answer their critics</a></p>"
	    PARA(4) PARA(5) "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("Paragraph 5 of", "answer their critics"),
	    LIST("last looms"));
}

/* A label that ends the text over what the cleaner did not keep (a
 * player, a list of links) goes; a heading that leads in to it with a
 * sentence stays, as does a label before text. */
static void
test_hanging_label(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1) PARA(2) PARA(3)
	    "<p>More from the mill:</p>" PARA(4)
	    "<p><em>Watch the looms run now:</em><iframe src=/v></iframe></p>"
	    "<p>More on the valley:</p><ul><li><a href=/a>Wool</a></li>"
	    "<li><a href=/b>Dyes</a></li><li><a href=/c>Looms</a></li>"
	    "</ul></article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("Paragraph 4 of", "More from the mill:"),
	    LIST("Watch the looms", "More on the valley"));
}

/* A review's verdict box, "Pros" over a list and "Cons" over another,
 * goes; a list of points under a heading of the story stays. */
static void
test_verdict_box(void **state)
{
	static const char h[] = "<html><body><article>"
	    PARA(1) PARA(2)
	    "<div class=chart><h3>The Loom 3000</h3><div><h5>Pros</h5><ul>"
	    "<li>Weaves twice as fast as the old model</li><li>Quiet</li>"
	    "</ul><h5>Cons:</h5><ul><li>Needs a wider room than most</li>"
	    "</ul></div><p>" "Like the mill's old looms, this one runs on "
	    "steam, and the weavers say it is the best they have used.</p>"
	    "</div>" PARA(3)
	    "<h3>What the weavers want</h3><ul><li>Shorter shifts on the "
	    "night looms</li><li>A second dye room</li></ul>"
	    PARA(4) PARA(5) "</article></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, NULL,
	    LIST("Paragraph 5 of", "the best they have used.",
	    "Shorter shifts"),
	    LIST("twice as fast", "Cons", "wider room"));
}

/* The story's first paragraph set straight in a box above the body's
 * (a gallery's intro over its slides) joins; a paragraph deeper in
 * another box before the body does not. */
static void
test_intro(void **state)
{
	static const char h[] = "<html><body><div class=shell>"
	    "<div class=promo><div><p>Our shop sells the mill's blankets, "
	    "scarves and throws, woven on the old looms, with free "
	    "delivery.</p></div></div>"
	    "<div class=col><p>The wool mill on the river reopens after "
	    "ten years, and the weavers who kept its looms oiled are back at "
	    "work.</p><div class=reel><div class=tools>Share</div>"
	    "<div class=slide>" PARA(1) PARA(2) PARA(3) PARA(4) PARA(5)
	    "</div></div></div></div></body></html>";

	(void)state;
	expect_text(h, sizeof(h) - 1, "The wool mill on the river",
	    LIST("Paragraph 5 of"), LIST("blankets"));
}

struct job {
	const char	*html;
	size_t		 len;
	const char	*want;
	int		 mismatches;
};

static void *
worker(void *arg)
{
	struct job *j = arg;
	struct sluice_extract_doc d;
	char err[128];
	int i;

	for (i = 0; i < 25; i++) {
		if (sluice_extract_page(j->html, j->len,
		    "https://www.example.com/x", "text/html", NULL, &d, err,
		    sizeof(err)) != SLUICE_EXTRACT_OK ||
		    strcmp(d.text, j->want) != 0)
			j->mismatches++;
		sluice_extract_doc_free(&d);
	}
	return NULL;
}

/* Worker threads share nothing: the same page gives the same text. */
static void
test_threads(void **state)
{
	struct job jobs[4];
	pthread_t th[4];
	struct sluice_extract_doc d;
	size_t len, i;
	char *html = load("article.html", &len);

	(void)state;
	assert_int_equal(run(html, len, "https://www.example.com/x",
	    "text/html", &d), SLUICE_EXTRACT_OK);
	for (i = 0; i < 4; i++) {
		jobs[i].html = html;
		jobs[i].len = len;
		jobs[i].want = d.text;
		jobs[i].mismatches = 0;
		assert_int_equal(pthread_create(&th[i], NULL, worker,
		    &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].mismatches, 0);
	}
	sluice_extract_doc_free(&d);
	free(html);
}

struct site_job {
	struct sluice_site_memory *m;
	int		 site, bad;
};

/* Pages 1..12 of one site, each extracted then recorded. */
static void *
site_worker(void *arg)
{
	struct site_job *j = arg;
	struct sluice_extract_opts o;
	struct sluice_extract_doc d;
	char err[128], site[16], *h;
	int n;

	sluice_extract_opts_default(&o);
	o.site_memory = j->m;
	snprintf(site, sizeof(site), "site%d", j->site);
	o.site = site;
	for (n = 1; n <= 12; n++) {
		h = site_page(n);
		if (sluice_extract_page(h, strlen(h), NULL, "text/html", &o, &d,
		    err, sizeof(err)) != SLUICE_EXTRACT_OK ||
		    strstr(d.text, "about the tides") == NULL ||
		    (strstr(d.text, "Support the Harbour") == NULL) != (n > 3) ||
		    sluice_site_memory_record(j->m, &d) != 0)
			j->bad++;
		sluice_extract_doc_free(&d);
		free(h);
	}
	return NULL;
}

/* Threads extracting with and recording into one memory at once, each
 * on its own site, see exactly what one thread alone would. */
static void
test_site_threads(void **state)
{
	struct sluice_site_memory_opts mo;
	struct site_job jobs[4];
	pthread_t th[4];
	int i;

	(void)state;
	sluice_site_memory_opts_default(&mo);
	mo.max_sites = 4;
	jobs[0].m = sluice_site_memory_new(&mo);
	assert_non_null(jobs[0].m);
	for (i = 0; i < 4; i++) {
		jobs[i].m = jobs[0].m;
		jobs[i].site = i;
		jobs[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, site_worker,
		    &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].bad, 0);
	}
	sluice_site_memory_free(jobs[0].m);
}

static void
test_word_count(void **state)
{
	(void)state;
	assert_int_equal(sluice_extract_word_count("one two, three-four"), 4);
	assert_int_equal(
	    sluice_extract_word_count("\xE4\xB8\xAD\xE6\x96\x87 ok"), 3);
	assert_int_equal(sluice_extract_word_count(""), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_article_text),
		cmocka_unit_test(test_article_meta),
		cmocka_unit_test(test_canonical_rules),
		cmocka_unit_test(test_plain_text),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_labelled_binary),
		cmocka_unit_test(test_sniffed_html),
		cmocka_unit_test(test_sniffed_utf16),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_empty_and_bodyless),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_depth_flattened),
		cmocka_unit_test(test_legacy_charset),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_article_body_rescue),
		cmocka_unit_test(test_loose_pass),
		cmocka_unit_test(test_page_ends),
		cmocka_unit_test(test_cited_notes),
		cmocka_unit_test(test_dek),
		cmocka_unit_test(test_story_header),
		cmocka_unit_test(test_link_lists),
		cmocka_unit_test(test_summary_box),
		cmocka_unit_test(test_stamp_sections),
		cmocka_unit_test(test_furniture_lines),
		cmocka_unit_test(test_paragraph_boxes),
		cmocka_unit_test(test_named_boxes),
		cmocka_unit_test(test_long_tail_bio),
		cmocka_unit_test(test_teaser_links),
		cmocka_unit_test(test_wire_byline),
		cmocka_unit_test(test_counters_credits),
		cmocka_unit_test(test_reader_notes),
		cmocka_unit_test(test_tail_lead_ins),
		cmocka_unit_test(test_loose_text),
		cmocka_unit_test(test_inline_boxes),
		cmocka_unit_test(test_teaser_labels),
		cmocka_unit_test(test_image_boxes),
		cmocka_unit_test(test_escaped_script),
		cmocka_unit_test(test_tail_notes),
		cmocka_unit_test(test_staff_tail),
		cmocka_unit_test(test_split_body),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_site_memory),
		cmocka_unit_test(test_site_dump),
		cmocka_unit_test(test_site_dump_site),
		cmocka_unit_test(test_site_repeated),
		cmocka_unit_test(test_site_bounds),
		cmocka_unit_test(test_split_tail),
		cmocka_unit_test(test_related_link),
		cmocka_unit_test(test_hanging_label),
		cmocka_unit_test(test_verdict_box),
		cmocka_unit_test(test_intro),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_site_threads),
		cmocka_unit_test(test_word_count),
	};

	sluice_extract_init();
	json_object_seed(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
