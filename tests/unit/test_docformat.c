/*
 * test_docformat.c - a stored document in trafilatura's JSON shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "docformat.h"

static json_t *
convert(const char *doc)
{
	size_t len = 0;
	char *s = doc_format_trafilatura(doc, strlen(doc), &len);
	json_t *j;

	assert_non_null(s);
	assert_int_equal(len, strlen(s));
	j = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(j);
	return j;
}

static const char *
str(json_t *j, const char *k)
{
	return json_string_value(json_object_get(j, k));
}

static void
test_fields(void **state)
{
	json_t *t = convert("{\"id\":41,\"url\":\"https://www.example.org:8443"
	    "/a?b=1\",\"title\":\"T\",\"text\":\"one\\ntwo\",\"author\":"
	    "\"Ann Lee, Bo Chan\",\"authors\":[\"Ann Lee\",\"Bo Chan\"],"
	    "\"date\":\"2024-03-05T09:15:00+01:00\",\"sitename\":\"Example\","
	    "\"description\":\"D\",\"language\":\"en\",\"content_hash\":"
	    "\"00ff\",\"image\":\"https://example.org/i.jpg\",\"pagetype\":"
	    "\"article\",\"license\":\"https://cc.org/by\",\"categories\":"
	    "[\"World\",\"Europe\"],\"tags\":[\"a\"],\"word_count\":2}");

	(void)state;
	assert_string_equal(str(t, "title"), "T");
	assert_string_equal(str(t, "author"), "Ann Lee; Bo Chan");
	assert_string_equal(str(t, "hostname"), "example.org");
	assert_string_equal(str(t, "date"), "2024-03-05");
	assert_string_equal(str(t, "fingerprint"), "00ff");
	assert_string_equal(str(t, "id"), "41");
	assert_string_equal(str(t, "license"), "https://cc.org/by");
	assert_true(json_is_null(json_object_get(t, "comments")));
	assert_string_equal(str(t, "raw_text"), "one\ntwo");
	assert_string_equal(str(t, "text"), "one\ntwo");
	assert_string_equal(str(t, "language"), "en");
	assert_string_equal(str(t, "image"), "https://example.org/i.jpg");
	assert_string_equal(str(t, "pagetype"), "article");
	assert_string_equal(str(t, "source"),
	    "https://www.example.org:8443/a?b=1");
	assert_string_equal(str(t, "source-hostname"), "Example");
	assert_string_equal(str(t, "excerpt"), "D");
	assert_string_equal(str(t, "categories"), "World;Europe");
	assert_string_equal(str(t, "tags"), "a");
	assert_int_equal(json_object_size(t), 18);
	json_decref(t);
}

/* A document stored before the lists existed, or with nothing found. */
static void
test_sparse(void **state)
{
	json_t *t = convert("{\"id\":7,\"url\":\"http://h.example/\","
	    "\"author\":\"Cy\",\"text\":null,\"date\":null}");

	(void)state;
	assert_string_equal(str(t, "author"), "Cy");
	assert_string_equal(str(t, "hostname"), "h.example");
	assert_true(json_is_null(json_object_get(t, "text")));
	assert_true(json_is_null(json_object_get(t, "date")));
	assert_true(json_is_null(json_object_get(t, "categories")));
	assert_true(json_is_null(json_object_get(t, "tags")));
	json_decref(t);
	assert_null(doc_format_trafilatura("[1]", 3, &(size_t){ 0 }));
	assert_null(doc_format_trafilatura("{\"a\":", 5, &(size_t){ 0 }));
}

static void
test_parse(void **state)
{
	enum doc_format f;

	(void)state;
	assert_int_equal(doc_format_parse("jsonl", &f), 0);
	assert_int_equal(f, DOC_FORMAT_JSONL);
	assert_int_equal(doc_format_parse("trafilatura", &f), 0);
	assert_int_equal(f, DOC_FORMAT_TRAFILATURA);
	assert_int_equal(doc_format_parse("xml", &f), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
