/*
 * fetch.h - HTTP transfers: libcurl's multi-socket API driven by the
 * libevent loop (curl's hiperfifo shape).
 *
 * Everything here runs on the loop thread.  fetch_start() never blocks; the
 * done callback fires from inside an event callback, once per started
 * transfer, and hands over ownership of the result.
 */
#ifndef SLUICE_FETCH_H
#define SLUICE_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "sluice/util.h"

struct event_base;
struct config;
struct fetch;

/* What went wrong, coarse enough for retry policy (queue.c decides). */
enum fetch_error {
	FETCH_OK = 0,		/* a complete HTTP response (any status) */
	FETCH_ERR_DNS,		/* name did not resolve */
	FETCH_ERR_CONNECT,	/* refused, unreachable, reset before reply */
	FETCH_ERR_TIMEOUT,	/* connect or total timeout, or too slow */
	FETCH_ERR_NETWORK,	/* reset/EOF mid-transfer, TLS, bad framing */
	FETCH_ERR_TOO_LARGE,	/* body over fetch.max_body (decoded) */
	FETCH_ERR_REDIRECTS,	/* over fetch.max_redirects, or a loop */
	FETCH_ERR_SCHEME,	/* redirect to a scheme other than http(s) */
	FETCH_ERR_BLOCKED,	/* address guard refused the connection */
	FETCH_ERR_DECODING,	/* bad gzip/br/zstd content encoding */
	FETCH_ERR_ABORTED,	/* fetch_abort_all(), shutdown */
	FETCH_ERR_INTERNAL,	/* out of memory, libcurl misuse */
};

struct fetch_req {
	uint64_t	 job_id;
	const char	*url;
	const char	*etag;		/* If-None-Match, or NULL */
	const char	*last_modified;	/* If-Modified-Since, or NULL */
	void		*arg;		/* returned in the result */
};

struct fetch_result {
	uint64_t	 job_id;
	void		*arg;
	enum fetch_error error;
	char		 errmsg[256];	/* human-readable, "" when FETCH_OK */
	long		 http_status;	/* 0 if no response */
	char		*final_url;	/* after redirects; never NULL on OK */
	char		*content_type;	/* Content-Type header, or NULL */
	char		*etag;		/* ETag header, or NULL */
	char		*last_modified;	/* Last-Modified header, or NULL */
	int64_t		 retry_after_ms;/* Retry-After as a delay, -1 if absent */
	uint32_t	 redirects;	/* hops followed */
	uint64_t	 started_ms;	/* now_ms() at start */
	uint64_t	 elapsed_ms;
	struct buf	 body;		/* decoded body, at most fetch.max_body */
};

typedef void (*fetch_done_fn)(struct fetch_result *res, void *cbarg);

/*
 * Creates the fetcher on base with the limits in cfg (copied: call
 * fetch_configure() to change them live).  Returns NULL with err set.
 */
struct fetch *fetch_new(struct event_base *base, const struct config *cfg,
    fetch_done_fn done, void *cbarg, char *err, size_t errlen);
void fetch_configure(struct fetch *f, const struct config *cfg);
/*
 * Starts one transfer.  Returns 0, or -1 if it could not be set up (then no
 * callback will come; err says why).  The caller's scheduler enforces
 * fetch.max_total and per-host limits; fetch_start() does not queue.
 */
int fetch_start(struct fetch *f, const struct fetch_req *req, char *err,
    size_t errlen);
/* Transfers started and not yet reported done. */
unsigned fetch_inflight(const struct fetch *f);
/* Ends every transfer now; each gets its callback with FETCH_ERR_ABORTED. */
void fetch_abort_all(struct fetch *f);
void fetch_free(struct fetch *f);
void fetch_result_free(struct fetch_result *res);
const char *fetch_error_name(enum fetch_error e);

/* Parses a Retry-After value (delta-seconds or HTTP-date) relative to
 * now_ms; returns the delay in ms, or -1 if unparsable. */
int64_t fetch_parse_retry_after(const char *value, uint64_t now);

#endif
