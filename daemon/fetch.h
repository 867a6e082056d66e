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
#include <sys/socket.h>

#include "util.h"

struct event_base;
struct config;
struct fetch;

/* What went wrong, coarse enough for retry policy (queue.c decides). */
enum fetch_error {
	FETCH_OK = 0,		/* a complete HTTP response (any status) */
	FETCH_ERR_DNS,		/* name did not resolve */
	FETCH_ERR_CONNECT,	/* refused, unreachable */
	FETCH_ERR_TIMEOUT,	/* connect or total timeout, or too slow */
	FETCH_ERR_NETWORK,	/* reset/EOF (even before a reply), TLS,
				 * bad framing, unusable Location */
	FETCH_ERR_TOO_LARGE,	/* body over fetch.max_body (decoded) */
	FETCH_ERR_REDIRECTS,	/* over fetch.max_redirects, or a loop */
	FETCH_ERR_SCHEME,	/* URL or redirect not http(s) */
	FETCH_ERR_BLOCKED,	/* address guard refused the connection */
	FETCH_ERR_DECODING,	/* bad gzip/br/zstd content encoding */
	FETCH_ERR_ABORTED,	/* fetch_abort_all(), shutdown */
	FETCH_ERR_INTERNAL,	/* out of memory, libcurl misuse */
	FETCH_ERR_HEADERS,	/* a response header over libcurl's limit */
};

struct fetch_req {
	uint64_t	 job_id;
	const char	*url;
	const char	*etag;		/* If-None-Match, or NULL */
	const char	*last_modified;	/* If-Modified-Since, or NULL */
	void		*arg;		/* returned in the result */
	/* Redirects libcurl follows by itself: FETCH_FOLLOW_CONFIG (0) for
	 * fetch.max_redirects, N > 0 for N, or FETCH_FOLLOW_NONE: a 3xx then
	 * comes back with redirect_url set, so the caller can check the hop
	 * (scheme, robots.txt, politeness) before taking it. */
	long		 follow;
};

#define FETCH_FOLLOW_CONFIG	0L
#define FETCH_FOLLOW_NONE	(-1L)

/*
 * One HTTP exchange of a transfer, as it went over the wire, kept only when
 * fetch.capture is on (warc.dir is set): each redirect libcurl follows is a
 * hop of its own.  The body is not here: the last hop's is the result's.
 */
struct fetch_hop {
	char		*url;		/* the request's URL */
	char		 ip[46];	/* the peer's address, or "" */
	uint64_t	 date_ms;	/* now_ms() when the request went out */
	struct buf	 request;	/* request line and headers as sent */
	struct buf	 response;	/* status line and headers as received
					   (the last block, after any 1xx);
					   empty when no reply came */
	struct fetch_hop *next;
};

/*
 * The headers are those of the final response (not of redirects or 1xx).
 * On an error, http_status and the headers are whatever arrived (useful in
 * logs) and body is empty; final_url is set when libcurl knew one.
 */
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
	char		*cache_control;	/* Cache-Control header, or NULL */
	int64_t		 retry_after_ms;/* Retry-After as a delay, -1 if absent */
	uint32_t	 redirects;	/* hops followed */
	char		*redirect_url;	/* absolute Location of a 3xx not
					   followed, or NULL */
	uint64_t	 started_ms;	/* now_ms() at start */
	uint64_t	 sent_ms;	/* now_ms() when the (last) request was
					   sent: politeness counts from it */
	uint64_t	 elapsed_ms;
	struct buf	 body;		/* decoded body, at most fetch.max_body;
					 * data is NULL when len is 0 */
	/* Capture only (struct config's warc_dir set), else NULL and empty: */
	struct fetch_hop *hops;		/* in order; the last is the final */
	struct buf	 cut_body;	/* on an error, the body received so
					   far (up to max_body), for a
					   truncated record */
};

/*
 * Called once per started transfer, on the loop thread from inside a
 * libevent callback (or from fetch_abort_all()/fetch_free()).  res belongs to
 * the callee (fetch_result_free()).  It may call fetch_start(),
 * fetch_abort_all() and fetch_free(), and must not block.
 */
typedef void (*fetch_done_fn)(struct fetch_result *res, void *cbarg);

/*
 * The fields of struct config used here (config.c owns their defaults), and
 * what zero means for each:
 *	connect_timeout_ms	0 = libcurl's default (300 s)
 *	timeout_ms		whole transfer; 0 = none
 *	low_speed_time_ms	rounded up to whole seconds; 0 = off
 *	low_speed_limit		bytes/s; 0 = off
 *	max_body		decoded bytes; 0 = only empty bodies pass
 *	max_redirects		0 = a redirect fails with FETCH_ERR_REDIRECTS
 *	user_agent		NULL or "" = no User-Agent header
 *	accept_language		NULL or "" = no Accept-Language header
 *	warc_dir		NULL or "" = no capture (fetch_result.hops)
 * max_total, max_per_host and host_delay_ms belong to the caller's scheduler.
 */

/*
 * Creates the fetcher on base with the limits in cfg (copied: call
 * fetch_configure() to change them live).  Returns NULL with err set.
 * Calls curl_global_init() (reference-counted by libcurl); fetch_free()
 * balances it.  The process should ignore SIGPIPE: transfers use
 * CURLOPT_NOSIGNAL, so libcurl leaves signal dispositions alone.
 */
struct fetch *fetch_new(struct event_base *base, const struct config *cfg,
    fetch_done_fn done, void *cbarg, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/*
 * Replaces the limits; transfers started afterwards use them, those in
 * flight keep theirs.  Returns 0, or -1 (out of memory, or a line break in
 * user_agent/accept_language) with the previous settings left in place.
 */
int fetch_configure(struct fetch *f, const struct config *cfg);
/*
 * Starts one transfer.  Returns 0, or -1 if it could not be set up (then no
 * callback will come; err says why).  The caller's scheduler enforces
 * fetch.max_total and per-host limits; fetch_start() does not queue.
 * req and its strings are copied; the caller keeps ownership.  Fails once
 * fetch_free() has begun.  Safe to call from the done callback.
 */
int fetch_start(struct fetch *f, const struct fetch_req *req, char *err,
    size_t errlen)
    __attribute__((warn_unused_result));
/* Transfers started and not yet reported done. */
unsigned fetch_inflight(const struct fetch *f);
/*
 * Ends every transfer now; each gets its callback with FETCH_ERR_ABORTED
 * before this returns.  Transfers that those callbacks start are new and
 * keep running.  Safe to call from the done callback.
 */
void fetch_abort_all(struct fetch *f);
/*
 * Ends the transfers of the n jobs in ids (sorted ascending) now, as
 * fetch_abort_all() does.  Cluster mode: a partition's lease was lost.
 */
void fetch_abort_jobs(struct fetch *f, const uint64_t *ids, size_t n);
/*
 * Aborts whatever is in flight (FETCH_ERR_ABORTED callbacks, before this
 * returns), then frees everything; no callback comes after.  Call it before
 * event_base_free().  From inside the done callback the memory is released
 * once that callback returns; f must not be used after the call either way.
 */
void fetch_free(struct fetch *f);
/* Frees a result handed over by the done callback; NULL is fine. */
void fetch_result_free(struct fetch_result *res);
/* A short lower-case name ("too_large") for logs and the control socket. */
const char *fetch_error_name(enum fetch_error e);

/*
 * The address guard's seam.  A guard is asked about every address libcurl
 * is about to connect to (each redirect hop, each happy-eyeballs attempt)
 * and returns 0 to allow it or -1 to refuse it.  A transfer that fails to
 * connect after a refusal reports FETCH_ERR_BLOCKED.  Connections reused
 * from libcurl's cache are not asked again.  fn NULL removes the guard.
 * Applies to transfers started afterwards.  The guard runs inside libcurl
 * (CURLOPT_OPENSOCKETFUNCTION) and must not call back into this module.
 */
typedef int (*fetch_guard_fn)(const struct sockaddr *sa, socklen_t salen,
    void *arg);
void fetch_set_guard(struct fetch *f, fetch_guard_fn fn, void *arg);

/* A Retry-After further away than this is taken as this (7 days): a server
 * must not park a job for months.  For a 429 or 503 the scheduler and the
 * queue clamp it again, to fetch.host_backoff_max. */
#define FETCH_RETRY_AFTER_MAX_MS	(7ULL * 24 * 3600 * 1000)

/*
 * Parses a Retry-After value (delta-seconds or an HTTP-date, RFC 9110
 * 10.2.3) relative to now (epoch ms); returns the delay in ms, 0 for a date
 * in the past, at most FETCH_RETRY_AFTER_MAX_MS, or -1 if value is NULL,
 * negative or unparsable.
 */
int64_t fetch_parse_retry_after(const char *value, uint64_t now);

#endif
