/*
 * test_reply.c - the submit reply written as text: what jansson reads back
 * from it, for every kind of result, strings that need escaping, and tags.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "op.h"
#include "reply.h"

/* One URL of an op, as the op module adds it. */
static int
add_url(struct submit_reply *r, const struct op_url *u,
    const struct submit_result *res)
{
	return submit_reply_add(r, u->given, u->url, u->status, res);
}

/* Writes r's reply and parses it back. */
static json_t *
read_back(const struct submit_reply *r, json_t *tag)
{
	struct buf out;
	json_error_t e;
	json_t *v;

	buf_init(&out, 1 << 20);
	assert_int_equal(submit_reply_write(r, tag, &out), 0);
	v = json_loadb(out.data, out.len, 0, &e);
	if (v == NULL)
		fail_msg("not JSON: %s: %s", e.text, out.data);
	buf_free(&out);
	return v;
}

static const char *
str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t
num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static void
test_every_kind(void **state)
{
	struct submit_reply r;
	struct op_url ok = { .url = "https://e.org/a?b=c&d='x'" };
	struct op_url odd = { .url = "https://e.org/\"q\"\\" };
	struct op_url bad = { .given = "ftp://\xc3\xa9t\xc3\xa9 \"x\"",
	    .status = URL_BAD_SCHEME };
	struct submit_result queued = { SUBMIT_QUEUED, 41, JOB_QUEUED };
	struct submit_result dup = { SUBMIT_DUPLICATE, 7, JOB_DONE };
	struct submit_result req = { SUBMIT_REQUEUED, 9, JOB_QUEUED };
	json_t *v, *res, *x;

	(void)state;
	submit_reply_init(&r);
	assert_int_equal(add_url(&r, &ok, &queued), 0);
	assert_int_equal(add_url(&r, &odd, &dup), 0);
	assert_int_equal(add_url(&r, &bad, NULL), 0);
	assert_int_equal(add_url(&r, &ok, &req), 0);
	v = read_back(&r, NULL);
	assert_true(json_is_true(json_object_get(v, "ok")));
	assert_int_equal(num(v, "queued"), 2);
	assert_int_equal(num(v, "duplicates"), 1);
	assert_int_equal(num(v, "rejected"), 1);
	assert_null(json_object_get(v, "tag"));
	res = json_object_get(v, "results");
	assert_int_equal(json_array_size(res), 4);
	x = json_array_get(res, 0);
	assert_string_equal(str(x, "url"), ok.url);
	assert_string_equal(str(x, "status"), "queued");
	assert_int_equal(num(x, "id"), 41);
	assert_null(json_object_get(x, "requeued"));
	x = json_array_get(res, 1);
	assert_string_equal(str(x, "url"), odd.url);
	assert_string_equal(str(x, "status"), "duplicate");
	assert_string_equal(str(x, "duplicate"), "url");
	assert_string_equal(str(x, "state"), "done");
	assert_int_equal(num(x, "id"), 7);
	x = json_array_get(res, 2);
	assert_string_equal(str(x, "url"), bad.given);
	assert_string_equal(str(x, "status"), "rejected");
	assert_string_equal(str(json_object_get(x, "error"), "code"),
	    url_status_name(URL_BAD_SCHEME));
	x = json_array_get(res, 3);
	assert_true(json_is_true(json_object_get(x, "requeued")));
	json_decref(v);
	submit_reply_free(&r);
}

static void
test_tags_and_reset(void **state)
{
	struct submit_reply r;
	struct op_url ok = { .url = "http://e.org/" };
	struct submit_result queued = { SUBMIT_QUEUED, 1, JOB_QUEUED };
	const char *tags[] = { "7", "\"t\\\"\"", "{\"i\":[1,null]}", "1.5",
	    "null", "true" };
	json_t *v, *tag;

	(void)state;
	submit_reply_init(&r);
	/* No result at all: an empty array. */
	v = read_back(&r, NULL);
	assert_int_equal(json_array_size(json_object_get(v, "results")), 0);
	json_decref(v);
	assert_int_equal(add_url(&r, &ok, &queued), 0);
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		tag = json_loads(tags[i], JSON_DECODE_ANY, NULL);
		assert_non_null(tag);
		v = read_back(&r, tag);
		assert_true(json_equal(json_object_get(v, "tag"), tag));
		assert_int_equal(json_array_size(json_object_get(v,
		    "results")), 1);
		json_decref(v);
		json_decref(tag);
	}
	/* A replayed turn starts over. */
	submit_reply_reset(&r);
	assert_int_equal(add_url(&r, &ok, &queued), 0);
	v = read_back(&r, NULL);
	assert_int_equal(num(v, "queued"), 1);
	assert_int_equal(json_array_size(json_object_get(v, "results")), 1);
	json_decref(v);
	submit_reply_free(&r);
}

/* An output buffer too small takes nothing half-written: it fails. */
static void
test_full_output(void **state)
{
	struct submit_reply r;
	struct op_url ok = { .url = "http://e.org/" };
	struct submit_result queued = { SUBMIT_QUEUED, 1, JOB_QUEUED };
	struct buf out;

	(void)state;
	submit_reply_init(&r);
	for (int i = 0; i < 100; i++)
		assert_int_equal(add_url(&r, &ok, &queued), 0);
	buf_init(&out, 1000);
	assert_int_equal(submit_reply_write(&r, NULL, &out), -1);
	buf_free(&out);
	submit_reply_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind),
		cmocka_unit_test(test_tags_and_reset),
		cmocka_unit_test(test_full_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
