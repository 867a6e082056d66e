/*
 * test_proto.c - the control protocol's grammar: every command's arguments
 * and the fixed error vocabulary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "proto.h"

struct row {
	const char	*line;
	enum proto_err	 want;
	const char	*msg;	/* substring of the message, or NULL */
};

static const struct row rows[] = {
	{ "{\"cmd\":\"status\"}", PROTO_OK, NULL },
	{ "{\"cmd\":\"status\",\"tag\":[1,{\"a\":2}]}", PROTO_OK, NULL },
	{ "{\"cmd\":\"submit\",\"urls\":[\"http://a/\",\"http://b/\"]}", PROTO_OK, NULL },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"priority\":-1000,\"force\":true}", PROTO_OK, NULL },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"not_before\":\"2026-11-28T10:00:00Z\"}", PROTO_OK, NULL },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"not_before\":1790000000}", PROTO_OK, NULL },
	{ "{\"cmd\":\"job\",\"id\":7}", PROTO_OK, NULL },
	{ "{\"cmd\":\"jobs\",\"state\":\"failed\",\"limit\":1000,\"after\":3}", PROTO_OK, NULL },
	{ "{\"cmd\":\"doc\",\"url\":\"http://a/\"}", PROTO_OK, NULL },
	{ "{\"cmd\":\"export\",\"since\":\"2026-11-28\",\"include_duplicates\":false}", PROTO_OK, NULL },
	{ "{\"cmd\":\"retry\",\"failed\":true}", PROTO_OK, NULL },
	{ "{\"cmd\":\"wait\",\"timeout\":30}", PROTO_OK, NULL },
	{ "{\"cmd\":\"drain\"}", PROTO_OK, NULL },
	{ "{\"cmd\":\"reload\"}", PROTO_OK, NULL },

	{ "", PROTO_BAD_REQUEST, "invalid JSON" },
	{ "{", PROTO_BAD_REQUEST, "invalid JSON" },
	{ "[1,2]", PROTO_BAD_REQUEST, "JSON object" },
	{ "\"status\"", PROTO_BAD_REQUEST, "invalid JSON" },
	{ "{\"cmd\":5}", PROTO_BAD_REQUEST, "string \"cmd\"" },
	{ "{\"cmd\":\"status\",\"cmd\":\"pause\"}", PROTO_BAD_REQUEST, "invalid JSON" },
	{ "{\"cmd\":\"explode\"}", PROTO_UNKNOWN_COMMAND, "explode" },
	{ "{\"cmd\":\"status\",\"verbose\":true}", PROTO_BAD_REQUEST, "does not take \"verbose\"" },
	{ "{\"cmd\":\"submit\"}", PROTO_BAD_REQUEST, "\"urls\" or \"url\"" },
	{ "{\"cmd\":\"submit\",\"urls\":[]}", PROTO_BAD_REQUEST, "non-empty array" },
	{ "{\"cmd\":\"submit\",\"urls\":\"http://a/\"}", PROTO_BAD_REQUEST, "non-empty array" },
	{ "{\"cmd\":\"submit\",\"urls\":[\"http://a/\",3]}", PROTO_BAD_REQUEST, "[1] is not a string" },
	{ "{\"cmd\":\"submit\",\"urls\":[\"a\",\"b\",\"c\",\"d\"]}", PROTO_TOO_LARGE, "queue.max_batch" },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"urls\":[\"http://b/\"]}", PROTO_BAD_REQUEST, "\"urls\" or \"url\"" },
	{ "{\"cmd\":\"submit\",\"url\":\"\"}", PROTO_BAD_REQUEST, "non-empty string" },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"priority\":1001}", PROTO_BAD_REQUEST, "-1000..1000" },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"priority\":1.5}", PROTO_BAD_REQUEST, "integer" },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"force\":\"yes\"}", PROTO_BAD_REQUEST, "true or false" },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"not_before\":\"soon\"}", PROTO_BAD_REQUEST, "RFC 3339" },
	{ "{\"cmd\":\"job\"}", PROTO_BAD_REQUEST, "takes \"id\"" },
	{ "{\"cmd\":\"job\",\"id\":0}", PROTO_BAD_REQUEST, "within" },
	{ "{\"cmd\":\"job\",\"id\":-4}", PROTO_BAD_REQUEST, "within" },
	{ "{\"cmd\":\"job\",\"id\":\"7\"}", PROTO_BAD_REQUEST, "integer" },
	{ "{\"cmd\":\"jobs\",\"state\":\"sleeping\"}", PROTO_BAD_REQUEST, "one of queued" },
	{ "{\"cmd\":\"jobs\",\"limit\":1001}", PROTO_BAD_REQUEST, "within" },
	{ "{\"cmd\":\"doc\"}", PROTO_BAD_REQUEST, "\"id\" or \"url\"" },
	{ "{\"cmd\":\"doc\",\"id\":1,\"url\":\"http://a/\"}", PROTO_BAD_REQUEST, "\"id\" or \"url\"" },
	{ "{\"cmd\":\"retry\"}", PROTO_BAD_REQUEST, "\"failed\":true" },
	{ "{\"cmd\":\"retry\",\"id\":3,\"failed\":true}", PROTO_BAD_REQUEST, "\"failed\":true" },
	{ "{\"cmd\":\"wait\",\"timeout\":-1}", PROTO_BAD_REQUEST, "within" },
	/* Epoch seconds whose ms would overflow 64 bits (x 1000 wraps to a
	 * time in the past: "due now"), and any time past 9999. */
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"not_before\":18446744073709552}", PROTO_BAD_REQUEST, "9999-12-31" },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"not_before\":253402300800}", PROTO_BAD_REQUEST, "9999-12-31" },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"not_before\":253402300799}", PROTO_OK, NULL },
	{ "{\"cmd\":\"submit\",\"url\":\"http://a/\",\"not_before\":\"18446744073709552\"}", PROTO_BAD_REQUEST, "RFC 3339" },
	{ "{\"cmd\":\"export\",\"since\":\"10000-01-01T00:00:00Z\"}", PROTO_BAD_REQUEST, "RFC 3339" },
	{ "{\"cmd\":\"export\",\"since\":9223372036854775807}", PROTO_BAD_REQUEST, "RFC 3339" },
	{ "{\"cmd\":\"export\",\"since\":\"9999-12-31T23:59:59Z\"}", PROTO_OK, NULL },
};

static void
test_rows(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum proto_cmd cmd;
		json_t *req;
		char err[256] = "";
		enum proto_err e = proto_parse(rows[i].line,
		    strlen(rows[i].line), 3, &req, &cmd, err, sizeof(err));

		if (e != rows[i].want)
			fail_msg("row %zu (%s): got %s (%s), want %s", i,
			    rows[i].line, proto_err_code(e), err,
			    proto_err_code(rows[i].want));
		if (rows[i].msg != NULL && strstr(err, rows[i].msg) == NULL)
			fail_msg("row %zu: message \"%s\" lacks \"%s\"", i, err,
			    rows[i].msg);
		if (e == PROTO_OK)
			json_decref(req);
		else
			assert_null(req);
	}
}

static void
test_error_shape(void **state)
{
	json_t *e = proto_error(PROTO_STORE_FULL, "full");
	char *s = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);

	assert_string_equal(s, "{\"error\":{\"code\":\"store_full\","
	    "\"message\":\"full\"},\"ok\":false}");
	free(s);
	json_decref(e);
	assert_string_equal(proto_err_code(PROTO_BAD_REQUEST), "bad_request");
	assert_string_equal(proto_err_code(PROTO_UNKNOWN_COMMAND),
	    "unknown_command");
	assert_string_equal(proto_err_code(PROTO_SHUTTING_DOWN),
	    "shutting_down");
}

static void
test_urls(void **state)
{
	const char *line = "{\"cmd\":\"submit\",\"urls\":[\"http://a/\",\"http://b/\"]}";
	const char *urls[4];
	size_t lens[4];
	enum proto_cmd cmd;
	json_t *req;
	char err[128];

	assert_int_equal(proto_parse(line, strlen(line), 10, &req, &cmd, err,
	    sizeof(err)), PROTO_OK);
	assert_int_equal(cmd, CMD_SUBMIT);
	assert_int_equal(proto_urls(req, urls, lens, 4), 2);
	assert_string_equal(urls[1], "http://b/");
	json_decref(req);
}

/* A raw NUL inside a request line is bad_request: the line is not cut at
 * it and run as the shorter request before it. */
static void
test_nul_in_line(void **state)
{
	static const char line[] = "{\"cmd\":\"status\"}\0{\"cmd\":\"pause\"}";
	static const char inside[] = "{\"cmd\":\"sta\0tus\"}";
	enum proto_cmd cmd;
	json_t *req = (json_t *)1;
	char err[256] = "";

	assert_int_equal(proto_parse(line, sizeof(line) - 1, 3, &req, &cmd,
	    err, sizeof(err)), PROTO_BAD_REQUEST);
	assert_null(req);
	assert_non_null(strstr(err, "NUL"));
	assert_non_null(strstr(err, "column 17"));
	assert_int_equal(proto_parse(inside, sizeof(inside) - 1, 3, &req,
	    &cmd, err, sizeof(err)), PROTO_BAD_REQUEST);
	assert_null(req);
	/* A trailing NUL too. */
	assert_int_equal(proto_parse(line, 17, 3, &req, &cmd, err,
	    sizeof(err)), PROTO_BAD_REQUEST);
	assert_int_equal(proto_parse(line, 16, 3, &req, &cmd, err,
	    sizeof(err)), PROTO_OK);
	json_decref(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_nul_in_line),
		cmocka_unit_test(test_error_shape),
		cmocka_unit_test(test_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
