/*
 * proto.h - the control protocol's grammar: one JSON object per line.
 *
 * Every command, its arguments and their types are declared once, in
 * proto.c's table; proto_parse() checks a request line against it, so the
 * handlers in command.c only ever see well-typed requests.  The error
 * vocabulary is fixed and documented in docs/protocol.md.
 */
#ifndef SLUICE_PROTO_H
#define SLUICE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct buf;

enum proto_err {
	PROTO_OK = 0,
	PROTO_BAD_REQUEST,
	PROTO_TOO_LARGE,
	PROTO_UNKNOWN_COMMAND,
	PROTO_NOT_FOUND,
	PROTO_CONFLICT,
	PROTO_STORE_FULL,
	PROTO_DISK_FULL,
	PROTO_DAMAGED,
	PROTO_BUSY,
	PROTO_SHUTTING_DOWN,
	PROTO_TIMEOUT,
	PROTO_INTERNAL,
	PROTO_CLUSTER_UNAVAILABLE,
	PROTO_UNSUPPORTED,
};

enum proto_cmd {
	CMD_SUBMIT, CMD_STATUS, CMD_JOB, CMD_JOBS, CMD_DOC, CMD_EXPORT,
	CMD_PAUSE, CMD_RESUME, CMD_CANCEL, CMD_RETRY, CMD_DRAIN, CMD_WAIT,
	CMD_RELOAD, CMD_CONFIG, CMD_HOSTS, CMD_DUPS, CMD_STATS,
	CMD_FEED_ADD, CMD_SITE_ADD, CMD_FEED_RM, CMD_FEEDS, CMD_FEED,
	CMD_SITE, CMD_RECLEAN, CMD_NODES,
	CMD_COUNT
};

/* Limits of the protocol itself (the configurable ones are in config.h). */
#define PROTO_PRIORITY_MIN	(-1000)
#define PROTO_PRIORITY_MAX	1000
#define PROTO_JOBS_LIMIT_MAX	1000
#define PROTO_STATS_HOSTS_MAX	100
#define PROTO_FEED_INTERVAL_MAX	(30LL * 86400)	/* seconds */

/*
 * Parses one request line (without its newline).  On success returns
 * PROTO_OK with *req (caller decrefs) and *cmd set.  Otherwise returns the
 * error code with a message in err; *req is NULL.  max_batch bounds the
 * URLs in one submit.
 */
enum proto_err proto_parse(const char *line, size_t len, size_t max_batch,
    json_t **req, enum proto_cmd *cmd, char *err, size_t errlen);

const char *proto_err_code(enum proto_err e);
const char *proto_cmd_name(enum proto_cmd c);

/* {"ok":false,"error":{"code":…,"message":…}} (new reference). */
json_t *proto_error(enum proto_err e, const char *message)
    __attribute__((warn_unused_result));
/* {"ok":true} (new reference). */
json_t *proto_ok(void)
    __attribute__((warn_unused_result));
/* Appends v, any JSON value, to out in the protocol's compact form (no
 * newline).  0, or -1 if out refuses it. */
int proto_write(struct buf *out, json_t *v);

/* Copies the request's "tag", if any, to its reply. */
void proto_tag(json_t *req, json_t *reply);
/* A parsed request's unsigned argument key, or def if absent. */
uint64_t proto_req_uint(json_t *req, const char *key, uint64_t def);
/* A parsed request's time argument (epoch seconds or RFC 3339) in epoch
 * ms, 0 if absent. */
uint64_t proto_req_time(json_t *req, const char *key);

/* The URLs of a parsed submit request ("urls" or "url"), with their
 * lengths: a JSON string may hold a NUL, which must not cut a URL short. */
size_t proto_urls(json_t *req, const char **urls, size_t *lens, size_t max);

#endif
