/*
 * proto.c - the control protocol's grammar (see proto.h, docs/protocol.md).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "util.h"

enum arg_type {
	ARG_END = 0,
	ARG_UINT,	/* non-negative integer within min..max */
	ARG_INT,	/* integer within min..max */
	ARG_BOOL,
	ARG_STRING,	/* non-empty string */
	ARG_TIME,	/* RFC 3339 string or epoch seconds */
	ARG_STATE,	/* a job state name */
	ARG_URLS,	/* array of 1..max_batch strings */
	ARG_ANY,	/* "tag": echoed back */
};

struct arg_spec {
	const char	*name;
	enum arg_type	 type;
	long long	 min, max;
};

#define PROTO_MAX_ARGS	8
#define TAG		{ "tag", ARG_ANY, 0, 0 }
#define ID		{ "id", ARG_UINT, 1, (long long)9007199254740991LL }
#define TIMEOUT		{ "timeout", ARG_UINT, 0, 30LL * 86400 }

struct cmd_spec {
	const char	*name;
	struct arg_spec	 args[PROTO_MAX_ARGS + 1];
};

/* The whole protocol: command names and their arguments. */
static const struct cmd_spec cmd_specs[CMD_COUNT] = {
	[CMD_SUBMIT] = { "submit", { TAG, { "urls", ARG_URLS, 0, 0 },
	    { "url", ARG_STRING, 0, 0 },
	    { "priority", ARG_INT, PROTO_PRIORITY_MIN, PROTO_PRIORITY_MAX },
	    { "force", ARG_BOOL, 0, 0 }, { "not_before", ARG_TIME, 0, 0 } } },
	[CMD_STATUS] = { "status", { TAG, { "cluster", ARG_BOOL, 0, 0 } } },
	[CMD_JOB] = { "job", { TAG, ID } },
	[CMD_JOBS] = { "jobs", { TAG, { "state", ARG_STATE, 0, 0 },
	    { "limit", ARG_UINT, 1, PROTO_JOBS_LIMIT_MAX },
	    { "after", ARG_UINT, 0, (long long)9007199254740991LL } } },
	[CMD_DOC] = { "doc", { TAG, ID, { "url", ARG_STRING, 0, 0 },
	    { "raw", ARG_BOOL, 0, 0 } } },
	[CMD_EXPORT] = { "export", { TAG, { "since", ARG_TIME, 0, 0 },
	    { "include_duplicates", ARG_BOOL, 0, 0 },
	    { "duplicates", ARG_STRING, 0, 0 }, { "host", ARG_STRING, 0, 0 },
	    { "min_words", ARG_UINT, 0, 1000000000 },
	    { "format", ARG_STRING, 0, 0 }, { "cluster", ARG_BOOL, 0, 0 } } },
	[CMD_PAUSE] = { "pause", { TAG } },
	[CMD_RESUME] = { "resume", { TAG } },
	[CMD_CANCEL] = { "cancel", { TAG, ID } },
	[CMD_RETRY] = { "retry", { TAG, ID, { "failed", ARG_BOOL, 0, 0 } } },
	[CMD_DRAIN] = { "drain", { TAG, TIMEOUT } },
	[CMD_WAIT] = { "wait", { TAG, TIMEOUT } },
	[CMD_RELOAD] = { "reload", { TAG } },
	[CMD_CONFIG] = { "config", { TAG } },
	[CMD_DUPS] = { "dups", { TAG, ID } },
	[CMD_HOSTS] = { "hosts", { TAG,
	    { "limit", ARG_UINT, 1, PROTO_JOBS_LIMIT_MAX },
	    { "after", ARG_UINT, 0, (long long)9007199254740991LL } } },
	[CMD_STATS] = { "stats", { TAG,
	    { "hosts", ARG_UINT, 0, PROTO_STATS_HOSTS_MAX } } },
	[CMD_FEED_ADD] = { "feed_add", { TAG, { "url", ARG_STRING, 0, 0 },
	    { "priority", ARG_INT, PROTO_PRIORITY_MIN, PROTO_PRIORITY_MAX },
	    { "interval", ARG_UINT, 1, PROTO_FEED_INTERVAL_MAX } } },
	[CMD_SITE_ADD] = { "site_add", { TAG, { "url", ARG_STRING, 0, 0 },
	    { "priority", ARG_INT, PROTO_PRIORITY_MIN, PROTO_PRIORITY_MAX } } },
	[CMD_FEED_RM] = { "feed_rm", { TAG, ID, { "url", ARG_STRING, 0, 0 } } },
	[CMD_FEEDS] = { "feeds", { TAG } },
	[CMD_FEED] = { "feed", { TAG, ID } },
	[CMD_SITE] = { "site", { TAG, { "site", ARG_STRING, 0, 0 } } },
	[CMD_RECLEAN] = { "reclean", { TAG, { "host", ARG_STRING, 0, 0 },
	    { "since", ARG_TIME, 0, 0 }, { "all", ARG_BOOL, 0, 0 } } },
	[CMD_NODES] = { "nodes", { TAG } },
};

static const char *const err_codes[] = {
	[PROTO_OK] = "ok",
	[PROTO_BAD_REQUEST] = "bad_request",
	[PROTO_TOO_LARGE] = "too_large",
	[PROTO_UNKNOWN_COMMAND] = "unknown_command",
	[PROTO_NOT_FOUND] = "not_found",
	[PROTO_CONFLICT] = "conflict",
	[PROTO_STORE_FULL] = "store_full",
	[PROTO_DISK_FULL] = "disk_full",
	[PROTO_DAMAGED] = "damaged",
	[PROTO_BUSY] = "busy",
	[PROTO_SHUTTING_DOWN] = "shutting_down",
	[PROTO_TIMEOUT] = "timeout",
	[PROTO_INTERNAL] = "internal",
	[PROTO_CLUSTER_UNAVAILABLE] = "cluster_unavailable",
	[PROTO_UNSUPPORTED] = "unsupported",
};

const char *
proto_err_code(enum proto_err e)
{
	return e < ARRAY_LEN(err_codes) ? err_codes[e] : "internal";
}

const char *
proto_cmd_name(enum proto_cmd c)
{
	return c < CMD_COUNT ? cmd_specs[c].name : "?";
}

json_t *
proto_error(enum proto_err e, const char *message)
{
	return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code",
	    proto_err_code(e), "message", message ? message : "");
}

json_t *
proto_ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

/* json_dump_callback_t: appends to a struct buf. */
static int
dump_to_buf(const char *s, size_t n, void *arg)
{
	return buf_append(arg, s, n);
}

int
proto_write(struct buf *out, json_t *v)
{
	return json_dump_callback(v, dump_to_buf, out, JSON_COMPACT |
	    JSON_ENCODE_ANY) == 0 ? 0 : -1;
}

static const char *const state_names[] = {
	"queued", "active", "done", "failed", "cancelled",
};

static int
check_urls(const json_t *v, size_t max_batch, char *err, size_t errlen)
{
	size_t i, n = json_array_size(v);
	json_t *u;

	if (!json_is_array(v) || n == 0) {
		snprintf(err, errlen, "\"urls\" must be a non-empty array of "
		    "strings");
		return PROTO_BAD_REQUEST;
	}
	if (n > max_batch) {
		snprintf(err, errlen, "%zu URLs in one request; the limit "
		    "(queue.max_batch) is %zu", n, max_batch);
		return PROTO_TOO_LARGE;
	}
	json_array_foreach(v, i, u) {
		if (!json_is_string(u)) {
			snprintf(err, errlen, "\"urls\"[%zu] is not a string",
			    i);
			return PROTO_BAD_REQUEST;
		}
	}
	return PROTO_OK;
}

static int
check_number(const struct arg_spec *a, const json_t *v, char *err,
    size_t errlen)
{
	json_int_t n;

	if (!json_is_integer(v)) {
		snprintf(err, errlen, "\"%s\" must be an integer", a->name);
		return PROTO_BAD_REQUEST;
	}
	n = json_integer_value(v);
	if (n < a->min || n > a->max) {
		snprintf(err, errlen, "\"%s\" must be within %lld..%lld",
		    a->name, a->min, a->max);
		return PROTO_BAD_REQUEST;
	}
	return PROTO_OK;
}

/* Checks one argument's value against its spec. */
static int
check_arg(const struct arg_spec *a, const json_t *v, size_t max_batch,
    char *err, size_t errlen)
{
	uint64_t ms;

	switch (a->type) {
	case ARG_UINT:
	case ARG_INT:
		return check_number(a, v, err, errlen);
	case ARG_BOOL:
		if (json_is_boolean(v))
			return PROTO_OK;
		snprintf(err, errlen, "\"%s\" must be true or false", a->name);
		return PROTO_BAD_REQUEST;
	case ARG_STRING:
		if (json_is_string(v) && json_string_length(v) > 0)
			return PROTO_OK;
		snprintf(err, errlen, "\"%s\" must be a non-empty string",
		    a->name);
		return PROTO_BAD_REQUEST;
	case ARG_TIME:
		/* Epoch seconds up to 9999-12-31T23:59:59Z, so that the
		 * time in ms cannot overflow. */
		if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    (uint64_t)json_integer_value(v) <= TIME_MAX_S)
			return PROTO_OK;
		if (json_is_string(v) &&
		    parse_time_ms(json_string_value(v), &ms) == 0)
			return PROTO_OK;
		snprintf(err, errlen, "\"%s\" must be an RFC 3339 time or "
		    "epoch seconds, from 1970 to 9999-12-31T23:59:59Z",
		    a->name);
		return PROTO_BAD_REQUEST;
	case ARG_STATE:
		for (size_t i = 0; i < ARRAY_LEN(state_names); i++)
			if (json_is_string(v) &&
			    strcmp(json_string_value(v), state_names[i]) == 0)
				return PROTO_OK;
		snprintf(err, errlen, "\"%s\" must be one of queued, active, "
		    "done, failed, cancelled", a->name);
		return PROTO_BAD_REQUEST;
	case ARG_URLS:
		return check_urls(v, max_batch, err, errlen);
	default:
		return PROTO_OK;
	}
}

/* Cross-argument rules that the table cannot say. */
static int
check_cmd(enum proto_cmd cmd, json_t *req, char *err, size_t errlen)
{
	bool has_id = json_object_get(req, "id") != NULL;

	switch (cmd) {
	case CMD_SUBMIT:
		if ((json_object_get(req, "urls") == NULL) ==
		    (json_object_get(req, "url") == NULL)) {
			snprintf(err, errlen, "submit takes \"urls\" or "
			    "\"url\"");
			return PROTO_BAD_REQUEST;
		}
		return PROTO_OK;
	case CMD_DOC:
		if (has_id == (json_object_get(req, "url") != NULL)) {
			snprintf(err, errlen, "doc takes \"id\" or \"url\"");
			return PROTO_BAD_REQUEST;
		}
		return PROTO_OK;
	case CMD_FEED_ADD:
	case CMD_SITE_ADD:
		if (json_object_get(req, "url") != NULL)
			return PROTO_OK;
		snprintf(err, errlen, "%s takes \"url\"", proto_cmd_name(cmd));
		return PROTO_BAD_REQUEST;
	case CMD_FEED_RM:
		if (has_id != (json_object_get(req, "url") != NULL))
			return PROTO_OK;
		snprintf(err, errlen, "feed_rm takes \"id\" or \"url\"");
		return PROTO_BAD_REQUEST;
	case CMD_JOB:
	case CMD_CANCEL:
	case CMD_DUPS:
	case CMD_FEED:
		if (has_id)
			return PROTO_OK;
		snprintf(err, errlen, "%s takes \"id\"", proto_cmd_name(cmd));
		return PROTO_BAD_REQUEST;
	case CMD_RETRY:
		if (has_id != json_is_true(json_object_get(req, "failed")))
			return PROTO_OK;
		snprintf(err, errlen, "retry takes \"id\" or \"failed\":true");
		return PROTO_BAD_REQUEST;
	default:
		return PROTO_OK;
	}
}

static int
check_args(enum proto_cmd cmd, json_t *req, size_t max_batch, char *err,
    size_t errlen)
{
	const struct cmd_spec *spec = &cmd_specs[cmd];
	const char *key;
	json_t *v;
	int rc;

	json_object_foreach(req, key, v) {
		const struct arg_spec *a = NULL;

		if (strcmp(key, "cmd") == 0)
			continue;
		for (size_t i = 0; spec->args[i].type != ARG_END; i++)
			if (strcmp(spec->args[i].name, key) == 0)
				a = &spec->args[i];
		if (a == NULL) {
			snprintf(err, errlen, "%s does not take \"%.64s\"",
			    spec->name, key);
			return PROTO_BAD_REQUEST;
		}
		rc = check_arg(a, v, max_batch, err, errlen);
		if (rc != PROTO_OK)
			return rc;
	}
	return check_cmd(cmd, req, err, errlen);
}

enum proto_err
proto_parse(const char *line, size_t len, size_t max_batch, json_t **req,
    enum proto_cmd *cmd, char *err, size_t errlen)
{
	json_error_t jerr;
	const char *name;
	const char *nul = memchr(line, '\0', len);
	int rc;

	if (nul != NULL) {
		/* JSON text never holds a raw NUL; a line cut at one must not
		 * run as a shorter request. */
		*req = NULL;
		snprintf(err, errlen, "the request line holds a NUL byte "
		    "(column %zu)", (size_t)(nul - line) + 1);
		return PROTO_BAD_REQUEST;
	}
	*req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*req == NULL) {
		snprintf(err, errlen, "invalid JSON: %s (column %d)", jerr.text,
		    jerr.column);
		return PROTO_BAD_REQUEST;
	}
	name = json_string_value(json_object_get(*req, "cmd"));
	if (!json_is_object(*req) || name == NULL) {
		snprintf(err, errlen, "a request is a JSON object with a "
		    "string \"cmd\"");
		rc = PROTO_BAD_REQUEST;
		goto fail;
	}
	for (*cmd = 0; *cmd < CMD_COUNT; (*cmd)++)
		if (strcmp(cmd_specs[*cmd].name, name) == 0)
			break;
	if (*cmd == CMD_COUNT) {
		snprintf(err, errlen, "unknown command \"%.64s\"", name);
		rc = PROTO_UNKNOWN_COMMAND;
		goto fail;
	}
	rc = check_args(*cmd, *req, max_batch, err, errlen);
	if (rc == PROTO_OK)
		return PROTO_OK;
fail:
	json_decref(*req);
	*req = NULL;
	return rc;
}

size_t
proto_urls(json_t *req, const char **urls, size_t *lens, size_t max)
{
	json_t *one = json_object_get(req, "url"), *v;
	json_t *all = json_object_get(req, "urls");
	size_t i, n = 0;

	if (one != NULL && max > 0) {
		urls[0] = json_string_value(one);
		lens[0] = json_string_length(one);
		return 1;
	}
	json_array_foreach(all, i, v) {
		if (n < max) {
			urls[n] = json_string_value(v);
			lens[n++] = json_string_length(v);
		}
	}
	return n;
}

void
proto_tag(json_t *req, json_t *reply)
{
	json_t *tag = json_object_get(req, "tag");

	if (tag != NULL && reply != NULL)
		json_object_set(reply, "tag", tag);
}

uint64_t
proto_req_uint(json_t *req, const char *key, uint64_t def)
{
	json_t *v = json_object_get(req, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : def;
}

uint64_t
proto_req_time(json_t *req, const char *key)
{
	json_t *v = json_object_get(req, key);
	uint64_t ms = 0;

	/* proto_parse() bounds it: no overflow. */
	if (json_is_integer(v))
		return (uint64_t)json_integer_value(v) * 1000;
	if (json_is_string(v))
		(void)parse_time_ms(json_string_value(v), &ms);
	return ms;
}
