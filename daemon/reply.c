/*
 * reply.c - the submit command's reply as JSON text (see reply.h).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "queue.h"
#include "reply.h"
#include "url.h"

/* The results grow with the request (at most proto's 1 MiB of URLs); the
 * connection's daemon.max_reply_buffer bounds the line they go into. */
#define REPLY_RESULTS_MAX	((size_t)256 << 20)

void
submit_reply_init(struct submit_reply *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->results, REPLY_RESULTS_MAX);
}

void
submit_reply_reset(struct submit_reply *r)
{
	buf_reset(&r->results);
	r->queued = r->duplicates = r->rejected = r->forwarded = 0;
}

void
submit_reply_free(struct submit_reply *r)
{
	buf_free(&r->results);
}

/* True if s can stand between quotes as it is: printable ASCII with no
 * quote or backslash, as every canonical URL is (url.h). */
static bool
plain_string(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
			return false;
	return true;
}

/* Appends s as a JSON string. */
static int
put_string(struct buf *b, const char *s)
{
	json_t *v;
	int rc;

	if (plain_string(s))
		return buf_append(b, "\"", 1) == -1 ||
		    buf_append(b, s, strlen(s)) == -1 ||
		    buf_append(b, "\"", 1) == -1 ? -1 : 0;
	if ((v = json_string(s)) == NULL)
		return -1;
	rc = proto_write(b, v);
	json_decref(v);
	return rc;
}

static int
add_rejected(struct submit_reply *r, const char *given,
    enum url_status status)
{
	json_t *v = json_pack("{s:s, s:s, s:{s:s, s:s}}", "url", given,
	    "status", "rejected", "error", "code", url_status_name(status),
	    "message", url_status_message(status));
	int rc;

	if (v == NULL)
		return -1;
	rc = proto_write(&r->results, v);
	json_decref(v);
	r->rejected++;
	return rc;
}

/* {"url":...,"status":"queued","id":N[,"requeued":true]}, or for a
 * duplicate "status":"duplicate",...,"duplicate":"url","state":S. */
static int
add_accepted(struct submit_reply *r, const char *url,
    const struct submit_result *res)
{
	struct buf *b = &r->results;
	bool dup = res->status == SUBMIT_DUPLICATE;

	if (buf_append(b, "{\"url\":", 7) == -1 || put_string(b, url) == -1 ||
	    buf_appendf(b, ",\"status\":\"%s\",\"id\":%" PRIu64,
	    dup ? "duplicate" : "queued", res->id) == -1)
		return -1;
	if (dup && buf_appendf(b, ",\"duplicate\":\"url\",\"state\":\"%s\"",
	    job_state_name(res->state)) == -1)
		return -1;
	if (res->status == SUBMIT_REQUEUED &&
	    buf_append(b, ",\"requeued\":true", 16) == -1)
		return -1;
	if (dup)
		r->duplicates++;
	else
		r->queued++;
	return buf_append(b, "}", 1);
}

int
submit_reply_add(struct submit_reply *r, const char *given, const char *url,
    enum url_status status, const struct submit_result *res)
{
	size_t mark = r->results.len;
	int rc;

	if (mark > 0 && buf_append(&r->results, ",", 1) == -1)
		return -1;
	rc = url == NULL ? add_rejected(r, given, status) :
	    add_accepted(r, url, res);
	if (rc == -1)
		r->results.len = mark;
	return rc;
}

int
submit_reply_add_forwarded(struct submit_reply *r, const char *url,
    uint32_t part)
{
	size_t mark = r->results.len;

	if ((mark > 0 && buf_append(&r->results, ",", 1) == -1) ||
	    buf_append(&r->results, "{\"url\":", 7) == -1 ||
	    put_string(&r->results, url) == -1 ||
	    buf_appendf(&r->results, ",\"status\":\"forwarded\","
	    "\"partition\":%" PRIu32 "}", part) == -1) {
		r->results.len = mark;
		return -1;
	}
	r->forwarded++;
	r->cluster = true;
	return 0;
}

int
submit_reply_write(const struct submit_reply *r, json_t *tag,
    struct buf *out)
{
	if (buf_appendf(out, "{\"ok\":true,\"queued\":%" PRIu64
	    ",\"duplicates\":%" PRIu64 ",\"rejected\":%" PRIu64 ",", r->queued,
	    r->duplicates, r->rejected) == -1)
		return -1;
	if (r->cluster && buf_appendf(out, "\"forwarded\":%" PRIu64 ",",
	    r->forwarded) == -1)
		return -1;
	if (tag != NULL && (buf_append(out, "\"tag\":", 6) == -1 ||
	    proto_write(out, tag) == -1 || buf_append(out, ",", 1) == -1))
		return -1;
	return buf_append(out, "\"results\":[", 11) == -1 ||
	    buf_append(out, r->results.data ? r->results.data : "",
	    r->results.len) == -1 || buf_append(out, "]}", 2) == -1 ? -1 : 0;
}
