/*
 * test_html.c - the parsing wrapper and DOM helpers: tag table, class
 * vocabulary, text collection and whitespace folding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>

#include "html.h"

static void
test_tags(void **state)
{
	static const char *const NAMES[] = { "a", "article", "blockquote",
	    "br", "div", "figcaption", "h1", "h6", "header", "li", "main",
	    "nav", "noscript", "p", "pre", "script", "section", "span",
	    "table", "td", "th", "tr", "ul", "video", "wbr" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(NAMES) / sizeof(NAMES[0]); i++)
		assert_int_not_equal(html_tag_lookup(NAMES[i]), HTML_OTHER);
	assert_int_equal(html_tag_lookup("x-custom"), HTML_OTHER);
	assert_int_equal(html_tag_lookup(""), HTML_OTHER);
	assert_true(html_tag_flags(HTML_P) & HTML_F_BLOCK);
	assert_true(html_tag_flags(HTML_SCRIPT) & HTML_F_SKIP);
	assert_true(html_tag_flags(HTML_H3) & HTML_F_HEADING);
	assert_false(html_tag_flags(HTML_SPAN) & HTML_F_BLOCK);
}

static void
test_class_bits(void **state)
{
	(void)state;
	assert_true(html_class_bits("commentary__intro-wrapper") &
	    HTML_K_LEAD);
	assert_true(html_class_bits("sidebar") & HTML_K_UNLIKELY);
	assert_true(html_class_bits("leftSidebar") & HTML_K_UNLIKELY);
	assert_true(html_class_bits("postContent") & HTML_K_POS);
	assert_true(html_class_bits("x hidden") & HTML_K_NEG);
	assert_true(html_class_bits("share-bar") & HTML_K_SHARE);
	assert_false(html_class_bits("shared-history") & HTML_K_SHARE);
	/* script hooks and feature flags do not describe the box */
	assert_int_equal(html_class_bits("js-social-anchor"), 0);
	assert_int_equal(html_class_bits("showCommentsIcon"), 0);
	assert_true(html_class_bits("cookie-banner") & HTML_K_COOKIE);
	assert_false(html_class_bits("cookie-recipe") & HTML_K_COOKIE);
	/* a box word in the same class word outweighs a maybe word; a
	 * maybe word in a word of its own still rescues the box */
	assert_false(html_class_bits("ArticleRelatedLink") & HTML_K_MAYBE);
	assert_true(html_class_bits("ArticleRelatedLink") & HTML_K_BOX);
	assert_true(html_class_bits("related article-body") & HTML_K_MAYBE);
	assert_int_equal(html_class_bits(""), 0);
	assert_int_equal(html_class_bits("row col-sm-6"), 0);
}

static void
test_node_text(void **state)
{
	static const char h[] = "<div id=x>  Hello <b>big</b>\n\n world"
	    "<script>var no = 1;</script><p>next&nbsp;para</p></div>";
	char err[64], *t;
	htmlDocPtr doc = html_parse(h, sizeof(h) - 1, NULL, err, sizeof(err));
	xmlNode *body;

	(void)state;
	assert_non_null(doc);
	body = xmlDocGetRootElement(doc)->children;
	t = html_node_text(body, 1000);
	assert_string_equal(t, "Hello big world next para");
	free(t);
	t = html_node_text(body, 8);
	assert_string_equal(t, "Hello bi");
	free(t);
	xmlFreeDoc(doc);
}

static void
test_fold_and_collapse(void **state)
{
	char out[64];
	int ws = HTML_WS_START;
	size_t n;

	(void)state;
	assert_int_equal(html_fold("The Title: Part 2!", 18, out,
	    sizeof(out)), 13);
	assert_string_equal(out, "thetitlepart2");
	n = html_collapse(out, sizeof(out), "  a \t b  ", 9, &ws);
	n += html_collapse(out + n, sizeof(out) - n, " c", 2, &ws);
	out[n] = '\0';
	assert_string_equal(out, "a b c");
	/* a cut inside a character is trimmed back */
	assert_int_equal(html_utf8_trim("ab\xC3", 3), 2);
	assert_int_equal(html_utf8_trim("ab\xC3\xA9", 4), 4);
}

/* A script ends where HTML5 ends it: "</script>" written by a script
 * inside <!-- --> is script text, a plain one ends the script. */
static void
test_fix_scripts(void **state)
{
	char a[] = "<script><!--\ndocument.write('<script src=x></script>');"
	    "\nvar y;//--></script><p>text</p>";
	char b[] = "<script>var s = '</script>';</script>";
	char c[] = "<!-- <script><!-- <script></script> --><script>x</script>";
	char d[] = "<script>a</scriptx>b</script>";

	(void)state;
	assert_int_equal(html_fix_scripts(a, strlen(a)), 1);
	assert_non_null(strstr(a, "<_script>');"));
	assert_non_null(strstr(a, "//--></script><p>"));
	/* Outside the escaped states HTML5 ends it too: left alone. */
	assert_int_equal(html_fix_scripts(b, strlen(b)), 0);
	/* Comments outside scripts are skipped whole. */
	assert_int_equal(html_fix_scripts(c, strlen(c)), 0);
	/* libxml2 would end at "</scriptx", HTML5 does not. */
	assert_int_equal(html_fix_scripts(d, strlen(d)), 1);
	assert_string_equal(d, "<script>a<_scriptx>b</script>");
}

/* The prescan counts attributes as libxml2 reads them, skips scripts,
 * styles and comments, and bounds the end-tag matching work. */
static void
test_prescan(void **state)
{
	static const struct {
		const char	*html;
		size_t		 attrs, end_work;
	} CASES[] = {
		{ "<p>", 0, 0 },
		{ "<div a b=1 c='x y' d=\"p q r\" e = f>", 5, 0 },
		{ "<div a=1/ b/>", 2, 0 },
		{ "<img src=x alt=\"a > b\" title=c>", 3, 0 },
		{ "<!-- <div a b c d> --><p x>", 1, 0 },
		{ "<script>if (a<b c d e f g) x();</script><p x>", 1, 1 },
		{ "<style>a<b c d e{}</style><i>", 0, 1 },
		{ "a < b c d e > f", 0, 0 },
		/* each end tag matches at the top; p and li are left out */
		{ "<div><span><b></b></span></div>", 0, 3 },
		{ "<ul><li>a<li>b</ul>", 0, 1 },
		/* no match: the whole stack, each time */
		{ "<b><b><b></i></i></i>", 0, 3 + 3 + 3 },
		/* a match 3 down closes all three */
		{ "<u><b><i><s></u><b>", 0, 4 },
	};
	struct html_prescan ps;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
		html_prescan(CASES[i].html, strlen(CASES[i].html), 0, 0, &ps);
		if (ps.attrs != CASES[i].attrs ||
		    ps.end_work != CASES[i].end_work)
			fail_msg("%s: attrs %zu end_work %zu", CASES[i].html,
			    ps.attrs, ps.end_work);
	}
	/* It stops at the first tag over max. */
	html_prescan("<a b c d><e f g h i j>", 22, 2, 0, &ps);
	assert_int_equal(ps.attrs, 3);
}

/* The budget flattens deep elements and stops at max_elements. */
static void
test_parse_budget(void **state)
{
	char h[8192], err[128], *p = h;
	struct html_budget b;
	struct html_opts o = { .budget = &b };
	htmlDocPtr doc;
	int i;

	(void)state;
	p += sprintf(p, "<html><body>");
	for (i = 0; i < 300; i++)
		p += sprintf(p, "<div>");
	p += sprintf(p, "deep");
	for (i = 0; i < 300; i++)
		p += sprintf(p, "</div>");
	p += sprintf(p, "<p>after</p></body></html>");
	memset(&b, 0, sizeof(b));
	b.max_depth = 250;
	html_budget_start(&b);
	doc = html_parse(h, (size_t)(p - h), &o, err, sizeof(err));
	assert_non_null(doc);
	assert_true(b.flattened > 0);
	assert_false(b.truncated);
	xmlFreeDoc(doc);

	memset(&b, 0, sizeof(b));
	b.max_elements = 100;
	html_budget_start(&b);
	doc = html_parse(h, (size_t)(p - h), &o, err, sizeof(err));
	assert_non_null(doc);
	assert_true(b.truncated);
	assert_int_equal(b.elements, 100);
	xmlFreeDoc(doc);

	memset(&b, 0, sizeof(b));
	b.max_attrs = 1;
	html_budget_start(&b);
	assert_null(html_parse("<p a b>x</p>", 12, &o, err, sizeof(err)));
	assert_int_equal(b.stop, HTML_STOP_ATTRS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_prescan),
		cmocka_unit_test(test_parse_budget),
		cmocka_unit_test(test_class_bits),
		cmocka_unit_test(test_node_text),
		cmocka_unit_test(test_fold_and_collapse),
		cmocka_unit_test(test_fix_scripts),
	};

	xmlInitParser();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
