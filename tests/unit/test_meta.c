/*
 * test_meta.c - metadata sources and their precedence, date
 * normalisation, site matching and the language guess.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <libxml/parser.h>

#include "html.h"
#include "meta.h"

static void
read_meta(const char *html, const char *url, struct meta *m)
{
	char err[128];
	htmlDocPtr doc = html_parse(html, strlen(html), NULL, err,
	    sizeof(err));

	assert_non_null(doc);
	assert_int_equal(meta_read(doc, url, NULL, m, err, sizeof(err)), 0);
	xmlFreeDoc(doc);
}

static void
test_dates(void **state)
{
	static const struct {
		const char *in, *out;
	} OK[] = {
		{ "2023-05-17", "2023-05-17" },
		{ "2023-05-17T08:30:00Z", "2023-05-17T08:30:00Z" },
		{ "2023-05-17T08:30:00.123+0200", "2023-05-17T08:30:00+02:00" },
		/* No offset: no known zone, so only the date is sure. */
		{ "2023-05-17 08:30", "2023-05-17" },
		{ "2024-02-11T06:42:00Z", "2024-02-11T06:42:00Z" },
		{ "2024-03-05T09:15:00+01:00", "2024-03-05T09:15:00+01:00" },
		{ "2024-03-05T09:15:00.123-0500", "2024-03-05T09:15:00-05:00" },
		{ "2023/05/17", "2023-05-17" },
		{ "Wed, 17 May 2023 10:00:00 GMT", "2023-05-17T10:00:00Z" },
		{ "May 17, 2023", "2023-05-17" },
		{ "17. Mai 2023", "2023-05-17" },
		{ "17.05.2023", "2023-05-17" },
		{ "martes, 16 de mayo de 2023", "2023-05-16" },
		{ "20230517", "2023-05-17" },
	};
	static const char *const BAD[] = { "", "yesterday", "2023-13-01",
	    "1850-01-01", "May 2023", "12:30" };
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(OK) / sizeof(OK[0]); i++) {
		assert_int_equal(meta_date_normalize(OK[i].in, out,
		    sizeof(out)), 0);
		assert_string_equal(out, OK[i].out);
	}
	for (i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++)
		assert_int_equal(meta_date_normalize(BAD[i], out,
		    sizeof(out)), -1);
}

static void
test_same_site(void **state)
{
	(void)state;
	assert_true(meta_same_site("https://www.example.com/a",
	    "http://example.com/b"));
	assert_true(meta_same_site("https://news.bbc.co.uk/a",
	    "https://www.bbc.co.uk/b"));
	assert_false(meta_same_site("https://evil.co.uk/a",
	    "https://www.bbc.co.uk/b"));
	assert_false(meta_same_site("https://example.com.evil.org/",
	    "https://example.com/"));
	assert_false(meta_same_site("ftp://example.com/", "https://example.com/"));
	assert_false(meta_same_site("not a url", "https://example.com/"));
}

static void
test_sources_and_precedence(void **state)
{
	struct meta m;

	(void)state;
	read_meta("<html lang=fr><head><title>Le titre complet | Le Site</title>"
	    "<meta property=og:site_name content=\"Le Site\">"
	    "<meta name=author content=\"By Marie Curie\">"
	    "<meta property=article:published_time content=\"2021-03-04\">"
	    "<meta name=description content=\"Caf&amp;#233; &amp; cr&egrave;me\">"
	    "</head><body><h1>Le titre complet</h1><p>x</p></body></html>",
	    NULL, &m);
	assert_string_equal(m.title, "Le titre complet");
	assert_string_equal(m.sitename, "Le Site");
	assert_string_equal(m.author, "Marie Curie");
	assert_string_equal(m.date, "2021-03-04");
	assert_string_equal(m.description, "Caf\xC3\xA9 & cr\xC3\xA8me");
	assert_string_equal(m.language, "fr");
	assert_string_equal(m.h1, "Le titre complet");
	assert_int_equal(m.h1_count, 1);
	meta_free(&m);

	/* JSON-LD beats meta tags; broken JSON is ignored, not fatal. */
	read_meta("<head><meta property=og:title content=\"OG title here\">"
	    "<script type=application/ld+json>{broken</script>"
	    "<script type=\"application/ld+json\">[{\"@type\":\"WebSite\","
	    "\"name\":\"Site\"},{\"@type\":[\"NewsArticle\"],\"headline\":"
	    "\"OG title here, longer\",\"author\":{\"@type\":\"Person\","
	    "\"givenName\":\"Ada\",\"familyName\":\"Lovelace\"},"
	    "\"datePublished\":\"May 5, 2020\",\"articleBody\":\"Line one.\\n"
	    "Line two.\"}]</script><title>OG title here, longer</title></head>",
	    NULL, &m);
	assert_string_equal(m.title, "OG title here, longer");
	assert_string_equal(m.author, "Ada Lovelace");
	assert_string_equal(m.date, "2020-05-05");
	assert_string_equal(m.sitename, "Site");
	assert_string_equal(m.article_body, "Line one.\nLine two.");
	meta_free(&m);
}

/* The fields trafilatura exports that the first version left out: image,
 * page type, categories, tags, license, the raw date and each author. */
static void
test_more_fields(void **state)
{
	static const char html[] =
	    "<html><head><title>T</title>"
	    "<meta property=\"og:image\" content=\"/img/lead.jpg\">"
	    "<meta name=\"twitter:image\" content=\"https://cdn.x/t.jpg\">"
	    "<meta property=\"og:type\" content=\"article\">"
	    "<meta property=\"article:section\" content=\"World\">"
	    "<meta property=\"article:section\" content=\"Europe\">"
	    "<meta property=\"article:tag\" content=\"rivers\">"
	    "<meta property=\"article:tag\" content=\"Salmon\">"
	    "<meta name=\"keywords\" content=\"salmon, water , farming\">"
	    "<link rel=\"license\" href=\"/licence\">"
	    "<script type=\"application/ld+json\">{\"@type\":\"NewsArticle\","
	    "\"headline\":\"H\",\"datePublished\":\"March 5, 2024 9:15 "
	    "GMT\",\"author\":[{\"@type\":\"Person\",\"name\":\"Ann Lee\"},"
	    "{\"@type\":\"Person\",\"name\":\"Bo Chan\"}],"
	    "\"articleSection\":[\"World\",\"Science\"]}</script>"
	    "</head><body><p>x</p></body></html>";
	struct meta m;

	(void)state;
	read_meta(html, "https://news.example.org/a/b.html", &m);
	assert_string_equal(m.image, "https://news.example.org/img/lead.jpg");
	assert_string_equal(m.pagetype, "article");
	assert_string_equal(m.license, "https://news.example.org/licence");
	assert_string_equal(m.date, "2024-03-05T09:15:00Z");
	assert_string_equal(m.date_raw, "March 5, 2024 9:15 GMT");
	assert_string_equal(m.author, "Ann Lee, Bo Chan");
	assert_int_equal(m.nauthors, 2);
	assert_string_equal(m.authors[0], "Ann Lee");
	assert_string_equal(m.authors[1], "Bo Chan");
	/* Every source, page order, once each (case aside). */
	assert_int_equal(m.ncategories, 3);
	assert_string_equal(m.categories[0], "World");
	assert_string_equal(m.categories[1], "Europe");
	assert_string_equal(m.categories[2], "Science");
	assert_int_equal(m.ntags, 4);
	assert_string_equal(m.tags[0], "rivers");
	assert_string_equal(m.tags[1], "Salmon");
	assert_string_equal(m.tags[2], "water");
	assert_string_equal(m.tags[3], "farming");
	meta_free(&m);
	/* One author from a <meta>: a list of one; none: an empty list. */
	read_meta("<meta name=author content=\"By Cy Dee\"><p>x</p>", NULL,
	    &m);
	assert_int_equal(m.nauthors, 1);
	assert_string_equal(m.authors[0], m.author);
	assert_null(m.image);
	assert_int_equal(m.ntags, 0);
	meta_free(&m);
}

static void
test_title_heuristics(void **state)
{
	struct meta m;

	(void)state;
	/* A headline that does not resemble <title> loses to og:title. */
	read_meta("<head><title>List of films with loops - Wiki</title>"
	    "<meta property=og:title content=\"List of films with loops\">"
	    "<script type=application/ld+json>{\"@type\":\"Article\","
	    "\"headline\":\"Wikimedia list article\"}</script></head>",
	    "https://en.wiki.org/x", &m);
	assert_string_equal(m.title, "List of films with loops");
	meta_free(&m);
	/* The site part goes, found through the host name. */
	read_meta("<head><meta property=og:title content=\"Why the sky is"
	    " blue - ESPN\"></head>", "https://www.espn.com/a", &m);
	assert_string_equal(m.title, "Why the sky is blue");
	meta_free(&m);
	/* A date in the URL is the last resort. */
	read_meta("<p>x</p>", "https://e.com/news/2019/02/21/story", &m);
	assert_string_equal(m.date, "2019-02-21");
	assert_string_equal(m.sitename, "e.com");
	meta_free(&m);
}

static void
test_canonical(void **state)
{
	struct meta m;

	(void)state;
	read_meta("<head><link rel=canonical href=\"javascript:alert(1)\">"
	    "<meta property=og:url content=\"https://www.site.com/a\"></head>",
	    "https://site.com/a?utm=1", &m);
	assert_string_equal(m.canonical_url, "https://www.site.com/a");
	meta_free(&m);
}

static void
test_language_guess(void **state)
{
	static const char DE[] = "Die Regierung hat am Mittwoch beschlossen, "
	    "dass die neuen Regeln f\xC3\xBCr alle gelten, und nicht nur f\xC3"
	    "\xBCr die Unternehmen, die bisher betroffen waren.";
	static const char EN[] = "The government decided on Wednesday that "
	    "the new rules will apply to everyone, and not only to the "
	    "companies that were affected before.";
	static const char JA[] = "\xE6\x97\xA5\xE6\x9C\xAC\xE3\x81\xAE\xE6"
	    "\x94\xBF\xE5\xBA\x9C\xE3\x81\xAF\xE6\xB0\xB4\xE6\x9B\x9C\xE6\x97"
	    "\xA5\xE3\x81\xAB\xE6\x96\xB0\xE3\x81\x97\xE3\x81\x84\xE8\xA6\x8F"
	    "\xE5\x89\x87\xE3\x82\x92\xE6\xB1\xBA\xE3\x82\x81\xE3\x81\xBE\xE3"
	    "\x81\x97\xE3\x81\x9F\xE3\x80\x82\xE6\x97\xA5\xE6\x9C\xAC\xE3\x81"
	    "\xAE\xE6\x94\xBF\xE5\xBA\x9C\xE3\x81\xAF\xE6\xB0\xB4\xE6\x9B\x9C";

	(void)state;
	assert_string_equal(meta_guess_language(DE, strlen(DE)), "de");
	assert_string_equal(meta_guess_language(EN, strlen(EN)), "en");
	assert_string_equal(meta_guess_language(JA, strlen(JA)), "ja");
	assert_null(meta_guess_language("12345 67890", 11));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_same_site),
		cmocka_unit_test(test_sources_and_precedence),
		cmocka_unit_test(test_more_fields),
		cmocka_unit_test(test_title_heuristics),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_language_guess),
	};

	xmlInitParser();
	json_object_seed(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
