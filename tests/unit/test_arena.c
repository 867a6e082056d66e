/*
 * test_arena.c - the per-thread region that libxml2 builds a page's tree in
 * (extract/arena.h): what it hands out, gives back and keeps, that memory
 * from outside a region still goes to the C library, and that pages
 * cleaned in regions on several threads at once come out as they do one
 * at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/xmlmemory.h>

#include "arena.h"
#include "sluice/extract.h"

static void
test_installed(void **state)
{
	(void)state;
	/* main() called sluice_extract_init(). */
	assert_true(arena_install());
	assert_true(xmlMalloc != malloc);
	assert_true(xmlFree != free);
	assert_int_equal(arena_used(), 0);
}

static void
test_outside_a_region(void **state)
{
	char *p, *q;

	(void)state;
	/* No region open: the C library's memory, which free() takes. */
	p = xmlMalloc(100);
	assert_non_null(p);
	memset(p, 'a', 100);
	assert_int_equal(arena_used(), 0);
	q = xmlRealloc(p, 5000);
	assert_non_null(q);
	assert_int_equal(q[99], 'a');
	free(q);
	p = (char *)xmlStrdup((const xmlChar *)"kept");
	assert_string_equal(p, "kept");
	free(p);
}

static void
test_region(void **state)
{
	char *a, *b, *c, *big, *outside;
	size_t used;

	(void)state;
	outside = xmlMalloc(64);	/* before the region: the C library's */
	assert_true(arena_begin());
	assert_false(arena_begin());	/* one per thread */
	a = xmlMalloc(10);
	assert_non_null(a);
	memcpy(a, "123456789", 10);
	used = arena_used();
	assert_true(used >= 10 && used <= 10 + 32);
	/* The last block is given back: the next takes its room. */
	b = xmlMalloc(40);
	xmlFree(b);
	assert_int_equal(arena_used(), used);
	assert_ptr_equal(xmlMalloc(40), b);
	/* A small block freed behind others is handed out again. */
	c = xmlMalloc(24);
	(void)xmlMalloc(8);
	xmlFree(c);
	used = arena_used();
	assert_ptr_equal(xmlMalloc(20), c);
	assert_int_equal(arena_used(), used);
	b = xmlMalloc(40);
	/* The last block grows where it is... */
	c = xmlRealloc(b, 4000);
	assert_ptr_equal(c, b);
	/* ...another is copied, its bytes kept. */
	a = xmlRealloc(a, 20);
	assert_ptr_not_equal(a, b);
	assert_string_equal(a, "123456789");
	/* Past a chunk: a new one, as large as asked. */
	big = xmlMalloc(40u << 20);
	assert_non_null(big);
	memset(big, 1, 40u << 20);
	assert_true(arena_used() > (40u << 20));
	/* Memory from outside the region goes back to the C library. */
	xmlFree(outside);
	arena_end();
	assert_int_equal(arena_used(), 0);
	/* The next region starts afresh. */
	assert_true(arena_begin());
	a = xmlMalloc(10);
	assert_non_null(a);
	assert_true(arena_used() <= 10 + 32);
	arena_end();
}

static const char page[] =
    "<!DOCTYPE html><html lang=en><head><title>Region test</title>"
    "<meta property=\"og:title\" content=\"Region test\"></head><body>"
    "<nav><a href=/>Home</a> <a href=/x>Section</a></nav>"
    "<article id=main><h1>Region test</h1>"
    "<p id=p1>The first paragraph of the story, long enough to be kept by "
    "the cleaner as the main text of this page and not as its furniture.</p>"
    "<p id=p2>A second paragraph &amp; an entity, with <b>bold</b> and "
    "<a href=/y>a link</a> inside its text, again long enough to count.</p>"
    "</article><footer>Copyright nobody</footer></body></html>";

static char *
clean(const char *html, size_t len)
{
	struct sluice_extract_opts o;
	struct sluice_extract_doc d;
	char err[256], *t;

	sluice_extract_opts_default(&o);
	if (sluice_extract_page(html, len, "http://127.0.0.1/a", "text/html",
	    &o, &d, err, sizeof(err)) != 0)
		return NULL;
	t = d.text != NULL ? strdup(d.text) : NULL;
	sluice_extract_doc_free(&d);
	return t;
}

struct worker {
	const char *want;
	int bad;
};

static void *
worker(void *arg)
{
	struct worker *w = arg;
	char *t;
	int i;

	for (i = 0; i < 200; i++) {
		t = clean(page, sizeof(page) - 1);
		if (t == NULL || strcmp(t, w->want) != 0)
			w->bad++;
		free(t);
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct worker w[4];
	pthread_t th[4];
	char *want;
	int i;

	(void)state;
	want = clean(page, sizeof(page) - 1);
	assert_non_null(want);
	assert_non_null(strstr(want, "second paragraph & an entity"));
	assert_null(strstr(want, "Copyright"));
	/* A page leaves no region open behind it. */
	assert_int_equal(arena_used(), 0);
	assert_true(arena_begin());
	arena_end();
	for (i = 0; i < 4; i++) {
		w[i].want = want;
		w[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].bad, 0);
	}
	free(want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_installed),
		cmocka_unit_test(test_outside_a_region),
		cmocka_unit_test(test_region),
		cmocka_unit_test(test_threads),
	};

	sluice_extract_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
