/*
 * test_warcbody.c - reading a page's body back from its WARC record: what
 * the reader accepts (a response record written by warcrec, whose payload
 * matches its digest), what it refuses and why, places as stored, and
 * records read from a file at their offset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "warcbody.h"
#include "warcrec.h"

static const char HTTP[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
    "Content-Length: 41\r\n\r\n";
static const char BODY[] = "<html><body><p>Hello, world.</p></body>\n";

/* One record as the capture writes it, into out (appended).  digest: the
 * payload digest to claim, or NULL for the true one. */
static void
record(struct buf *out, const char *type, const char *body,
    const char *digest)
{
	struct warcrec_coder k;
	char id[WARCREC_ID_LEN], date[WARCREC_DATE_LEN];
	char b32[WARCREC_B32_LEN + 1];
	struct warcrec r;

	assert_int_equal(warcrec_coder_init(&k, 1), 0);
	warcrec_new_id(id);
	warcrec_date(1700000000000ULL, date);
	assert_int_equal(warcrec_sha1_b32(&k, body, strlen(body), "", 0, b32),
	    0);
	r = (struct warcrec){ .type = type, .id = id, .date = date,
	    .uri = "http://127.0.0.1/a", .ip = "127.0.0.1",
	    .payload = digest != NULL ? digest : b32,
	    .content_type = "application/http;msgtype=response" };
	assert_int_equal(warcrec_write(&k, out, &r, HTTP, strlen(HTTP), body,
	    strlen(body)), 0);
	warcrec_coder_free(&k);
}

static int
parse(const struct buf *b, size_t len, size_t max, void **out, size_t *olen,
    char *err, size_t errlen)
{
	return warcbody_parse((const unsigned char *)b->data, len, max, out,
	    olen, err, errlen);
}

static void
test_reads_the_payload(void **state)
{
	struct buf b;
	char err[200] = "";
	void *out;
	size_t len;

	(void)state;
	buf_init(&b, SIZE_MAX / 2);
	record(&b, "response", BODY, NULL);
	assert_int_equal(parse(&b, b.len, 1 << 20, &out, &len, err,
	    sizeof(err)), 0);
	assert_int_equal(len, strlen(BODY));
	assert_memory_equal(out, BODY, len);
	free(out);
	/* An empty payload is a payload. */
	buf_reset(&b);
	record(&b, "response", "", NULL);
	assert_int_equal(parse(&b, b.len, 10, &out, &len, err, sizeof(err)),
	    0);
	assert_int_equal(len, 0);
	free(out);
	buf_free(&b);
}

static void
test_refuses_and_says_why(void **state)
{
	struct buf b;
	char err[200];
	void *out = NULL;
	size_t len;

	(void)state;
	buf_init(&b, SIZE_MAX / 2);
	/* Over the caller's limit. */
	record(&b, "response", BODY, NULL);
	assert_int_equal(parse(&b, b.len, strlen(BODY) - 1, &out, &len, err,
	    sizeof(err)), EFBIG);
	assert_null(out);
	/* Cut short, or followed by more. */
	assert_int_equal(parse(&b, b.len - 1, 1 << 20, &out, &len, err,
	    sizeof(err)), EBADMSG);
	assert_non_null(strstr(err, "gzip member"));
	assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(parse(&b, b.len, 1 << 20, &out, &len, err,
	    sizeof(err)), EBADMSG);
	/* The payload changed since its digest was taken. */
	buf_reset(&b);
	record(&b, "response", BODY, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	err[0] = '\0';
	assert_int_equal(parse(&b, b.len, 1 << 20, &out, &len, err,
	    sizeof(err)), EBADMSG);
	assert_non_null(strstr(err, "does not match its digest"));
	/* Not a response (a revisit's place is its first capture's). */
	buf_reset(&b);
	record(&b, "request", BODY, NULL);
	assert_int_equal(parse(&b, b.len, 1 << 20, &out, &len, err,
	    sizeof(err)), EBADMSG);
	assert_non_null(strstr(err, "not a response record"));
	/* Not gzip at all. */
	buf_reset(&b);
	assert_int_equal(buf_append(&b, "WARC/1.1\r\n\r\n", 12), 0);
	assert_int_equal(parse(&b, b.len, 1 << 20, &out, &len, err,
	    sizeof(err)), EBADMSG);
	assert_null(out);
	buf_free(&b);
}

static void
test_places_round_trip(void **state)
{
	struct warcbody_loc a = { .offset = 1234567890123ULL, .len = 42 }, b;
	unsigned char v[WARCBODY_LOC_MAX];
	size_t n;

	(void)state;
	snprintf(a.path, sizeof(a.path), "/var/lib/sluice/warc/x.warc.gz");
	n = warcbody_loc_encode(&a, v);
	assert_int_equal(n, 16 + strlen(a.path));
	assert_int_equal(warcbody_loc_decode(v, n, &b), 0);
	assert_int_equal(b.offset, a.offset);
	assert_int_equal(b.len, a.len);
	assert_string_equal(b.path, a.path);
	/* No path, a NUL in it, or an empty member: no place. */
	assert_int_equal(warcbody_loc_decode(v, 16, &b), -1);
	v[20] = '\0';
	assert_int_equal(warcbody_loc_decode(v, n, &b), -1);
	a.len = 0;
	n = warcbody_loc_encode(&a, v);
	assert_int_equal(warcbody_loc_decode(v, n, &b), -1);
}

static void
test_loads_from_a_file(void **state)
{
	char path[] = "/tmp/sluice-test-warcbody-XXXXXX", err[PATH_MAX + 256];
	struct warcbody_loc loc = { 0 };
	struct buf b;
	size_t first, len;
	void *out;
	int fd;

	(void)state;
	buf_init(&b, SIZE_MAX / 2);
	record(&b, "response", "<p>first</p>", NULL);
	first = b.len;
	record(&b, "response", BODY, NULL);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
	close(fd);
	snprintf(loc.path, sizeof(loc.path), "%s", path);
	loc.offset = first;
	loc.len = b.len - first;
	assert_int_equal(warcbody_load(&loc, 1 << 20, &out, &len, err,
	    sizeof(err)), 0);
	assert_int_equal(len, strlen(BODY));
	assert_memory_equal(out, BODY, len);
	free(out);
	/* The wrong place: named, with the offset. */
	loc.offset = first + 1;
	loc.len--;
	assert_int_equal(warcbody_load(&loc, 1 << 20, &out, &len, err,
	    sizeof(err)), EBADMSG);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "at offset"));
	/* Past the file's end: cut. */
	loc.offset = first;
	loc.len = b.len - first + 10;
	assert_int_equal(warcbody_load(&loc, 1 << 20, &out, &len, err,
	    sizeof(err)), EBADMSG);
	assert_non_null(strstr(err, "ends before the record"));
	/* Gone. */
	unlink(path);
	loc.len = b.len - first;
	assert_int_equal(warcbody_load(&loc, 1 << 20, &out, &len, err,
	    sizeof(err)), ENOENT);
	assert_non_null(strstr(err, "No such file"));
	/* A member far larger than the limit is not even read. */
	loc.len = (uint64_t)4 << 30;
	assert_int_equal(warcbody_load(&loc, 1 << 20, &out, &len, err,
	    sizeof(err)), EFBIG);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_the_payload),
		cmocka_unit_test(test_refuses_and_says_why),
		cmocka_unit_test(test_places_round_trip),
		cmocka_unit_test(test_loads_from_a_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
