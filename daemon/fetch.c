/*
 * fetch.c - HTTP transfers on libcurl's multi-socket API, driven by the
 * libevent loop the way curl's docs/examples/hiperfifo.c drives it.  Owns
 * the multi handle, one easy handle per transfer, the events that watch
 * libcurl's sockets and its timer, and each result until the done callback
 * takes it.
 *
 * Re-entrancy: the done callback may start, abort or free.  Every entry
 * point that can reach the callback brackets itself with fetch_enter() /
 * fetch_leave(), so a fetch_free() from inside a callback only marks the
 * fetcher dying and the outermost frame releases the memory.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "config.h"
#include "fetch.h"
#include "log.h"
#include "util.h"

/* The limits of struct config in libcurl's units, plus ready header lines. */
struct fetch_opts {
	long		 connect_timeout_ms;
	long		 timeout_ms;
	long		 low_speed_limit;	/* bytes/s, 0 = off */
	long		 low_speed_time;	/* seconds, 0 = off */
	long		 max_redirects;
	long		 max_connects;		/* idle connections kept */
	size_t		 max_body;
	char		*user_agent;		/* NULL = none */
	char		*accept_language;	/* "Accept-Language: ..." or NULL */
	bool		 capture;		/* keep each hop's raw headers */
};

/* One socket libcurl asked us to watch (curl_multi_assign()'s pointer). */
struct sock {
	LIST_ENTRY(sock) entry;
	struct fetch	*f;
	curl_socket_t	 fd;
	struct event	*ev;
};

/* One transfer (CURLOPT_PRIVATE's pointer). */
struct xfer {
	TAILQ_ENTRY(xfer) entry;
	struct fetch	*f;
	CURL		*easy;
	struct curl_slist *headers;
	struct fetch_result *res;
	char		*retry_after;	/* raw header of the current response */
	uint64_t	 seq;		/* start order, for fetch_abort_all() */
	uint64_t	 t0;		/* mono_ms() at start */
	size_t		 max_body;
	fetch_guard_fn	 guard;
	void		*guard_arg;
	long		 follow;	/* fetch_req.follow */
	bool		 in_body;	/* later header lines are trailers */
	bool		 capture;	/* fetch_opts.capture when started */
	struct fetch_hop *hop;		/* the last of res->hops */
	bool		 blocked;	/* the guard refused an address */
	char		 blocked_addr[INET6_ADDRSTRLEN]; /* the last one */
	bool		 reap;		/* end it from the reap event */
	enum fetch_error fail;		/* our own verdict; beats the CURLcode */
	char		 failmsg[128];
	char		 errbuf[CURL_ERROR_SIZE];
};

TAILQ_HEAD(xfer_list, xfer);
LIST_HEAD(sock_list, sock);

struct fetch {
	struct event_base *base;
	CURLM		*multi;
	struct event	*timer;		/* libcurl's one timeout */
	struct event	*reap;		/* ends transfers failed in callbacks */
	fetch_done_fn	 done;
	void		*cbarg;
	struct fetch_opts opts;
	char		 accept_encoding[32];
	fetch_guard_fn	 guard;
	void		*guard_arg;
	struct xfer_list xfers;		/* in start order */
	struct sock_list socks;
	unsigned	 inflight;
	uint64_t	 seq;
	unsigned	 depth;		/* nesting of entry points on the stack */
	bool		 global_init;
	bool		 closing;	/* fetch_free() began: no new starts */
	bool		 dying;		/* free once depth drops to 0 */
};

/*
 * libcurl's receive buffer, per transfer (its default is 16 KiB).  Each
 * fill costs a recv(), a poll() and a write callback, so a 150 KB page took
 * about ten of each; 64 KiB takes three, for 3 MiB of buffers at the
 * default fetch.max_total.
 */
#define FETCH_RECV_BUFFER	(64L * 1024)

/* Applies one option unless an earlier one failed: a run is checked once. */
#define SETOPT(e, rc, opt, val) do {					\
	if ((rc) == CURLE_OK)						\
		(rc) = curl_easy_setopt((e), (opt), (val));		\
} while (0)

static void fetch_destroy(struct fetch *);

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static long
clamp_long(uint64_t v)
{
	return v > LONG_MAX ? LONG_MAX : (long)v;
}

/*
 * Idle connections each hold a descriptor.  When the descriptor limit
 * leaves less than fetch.idle_connections beside the transfers, the control
 * clients and FETCH_FD_RESERVE (the store, logs, WARC files, the workers'
 * wake-up pipe), fewer are kept, at least fetch.max_total, and a line says
 * so: a new transfer failing with "too many open files" would be worse.
 */
#define FETCH_FD_RESERVE	64

static long
idle_connections_fit(const struct config *cfg)
{
	uint64_t want = cfg->idle_connections, room;
	uint64_t used = (uint64_t)cfg->max_total + cfg->max_clients +
	    FETCH_FD_RESERVE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
	    rl.rlim_cur == RLIM_INFINITY)
		return clamp_long(want);
	room = rl.rlim_cur > used ? rl.rlim_cur - used : 0;
	if (room < cfg->max_total)
		room = cfg->max_total;
	if (want <= room)
		return clamp_long(want);
	log_warnx("fetch: fetch.idle_connections %llu does not fit the "
	    "descriptor limit %llu beside fetch.max_total and "
	    "daemon.max_clients; keeping %llu", (unsigned long long)want,
	    (unsigned long long)rl.rlim_cur, (unsigned long long)room);
	return clamp_long(room);
}

/* A value we send as a header must not smuggle in a line of its own. */
static bool
has_line_break(const char *s)
{
	return s != NULL && strpbrk(s, "\r\n") != NULL;
}

static void
opts_free(struct fetch_opts *o)
{
	SAFE_FREE(o->user_agent);
	SAFE_FREE(o->accept_language);
}

static int
opts_from_config(struct fetch_opts *o, const struct config *cfg, char *err,
    size_t errlen)
{
	memset(o, 0, sizeof(*o));
	if (has_line_break(cfg->user_agent) ||
	    has_line_break(cfg->accept_language)) {
		seterr(err, errlen, "line break in user_agent/accept_language");
		return -1;
	}
	o->connect_timeout_ms = clamp_long(cfg->connect_timeout_ms);
	o->timeout_ms = clamp_long(cfg->timeout_ms);
	if (cfg->low_speed_limit > 0 && cfg->low_speed_time_ms > 0) {
		o->low_speed_limit = clamp_long(cfg->low_speed_limit);
		o->low_speed_time = clamp_long(cfg->low_speed_time_ms / 1000 +
		    (cfg->low_speed_time_ms % 1000 != 0));
	}
	o->max_redirects = clamp_long(cfg->max_redirects);
	o->max_connects = idle_connections_fit(cfg);
	/* The body's struct buf holds at most BUF_MAX; on_body's cap check
	 * must not promise more. */
	o->max_body = cfg->max_body > BUF_MAX ? BUF_MAX :
	    (size_t)cfg->max_body;
	o->capture = cfg->warc_dir != NULL && *cfg->warc_dir != '\0';
	if (cfg->user_agent != NULL && *cfg->user_agent != '\0') {
		o->user_agent = strdup(cfg->user_agent);
		if (o->user_agent == NULL)
			goto oom;
	}
	if (cfg->accept_language != NULL && *cfg->accept_language != '\0' &&
	    asprintf(&o->accept_language, "Accept-Language: %s",
	    cfg->accept_language) == -1) {
		o->accept_language = NULL;
		goto oom;
	}
	return 0;
oom:
	opts_free(o);
	seterr(err, errlen, "out of memory");
	return -1;
}

/* Offers only the codings this libcurl can decode: anything else would
 * reach the cleaner still compressed. */
static void
accept_encoding_init(struct fetch *f)
{
	const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
	struct {
		int		 feature;
		const char	*name;
	} codings[] = {
		{ CURL_VERSION_LIBZ, "gzip" },
		{ CURL_VERSION_BROTLI, "br" },
		{ CURL_VERSION_ZSTD, "zstd" },
	};
	size_t i, len = 0;

	f->accept_encoding[0] = '\0';
	for (i = 0; i < ARRAY_LEN(codings); i++) {
		if (vi == NULL || (vi->features & codings[i].feature) == 0)
			continue;
		len += (size_t)snprintf(f->accept_encoding + len,
		    sizeof(f->accept_encoding) - len, "%s%s",
		    len > 0 ? ", " : "", codings[i].name);
	}
}

const char *
fetch_error_name(enum fetch_error e)
{
	static const char *const names[] = {
		[FETCH_OK] = "ok",
		[FETCH_ERR_DNS] = "dns",
		[FETCH_ERR_CONNECT] = "connect",
		[FETCH_ERR_TIMEOUT] = "timeout",
		[FETCH_ERR_NETWORK] = "network",
		[FETCH_ERR_TOO_LARGE] = "too_large",
		[FETCH_ERR_REDIRECTS] = "redirects",
		[FETCH_ERR_SCHEME] = "scheme",
		[FETCH_ERR_BLOCKED] = "blocked",
		[FETCH_ERR_DECODING] = "decoding",
		[FETCH_ERR_ABORTED] = "aborted",
		[FETCH_ERR_INTERNAL] = "internal",
		[FETCH_ERR_HEADERS] = "headers",
	};

	if ((unsigned)e >= ARRAY_LEN(names) || names[e] == NULL)
		return "unknown";
	return names[e];
}

/*
 * Maps libcurl's verdict to the retry classes.  Our own verdicts (body cap,
 * out of memory in a callback, abort) are in xfer.fail and never get here.
 */
static enum fetch_error
map_curl_error(CURLcode rc, bool blocked)
{
	switch (rc) {
	case CURLE_OK:
		return FETCH_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return FETCH_ERR_DNS;
	case CURLE_COULDNT_CONNECT:
		return blocked ? FETCH_ERR_BLOCKED : FETCH_ERR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return FETCH_ERR_TIMEOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return FETCH_ERR_TOO_LARGE;
	case CURLE_TOO_MANY_REDIRECTS:
		return FETCH_ERR_REDIRECTS;
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* Only http(s) is enabled, so this is a URL or a redirect
		 * to another scheme. */
		return FETCH_ERR_SCHEME;
	case CURLE_BAD_CONTENT_ENCODING:
		return FETCH_ERR_DECODING;
	case CURLE_OUT_OF_MEMORY:
	case CURLE_FAILED_INIT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_NOT_BUILT_IN:
	case CURLE_WRITE_ERROR:		/* without our verdict: a bug here */
	case CURLE_ABORTED_BY_CALLBACK:
		return FETCH_ERR_INTERNAL;
	default:
		/* RECV_ERROR, SEND_ERROR, GOT_NOTHING, PARTIAL_FILE,
		 * WEIRD_SERVER_REPLY, HTTP2*, SSL_* and PEER_FAILED_VERIFICATION,
		 * a malformed Location: the peer or the path misbehaved. */
		return FETCH_ERR_NETWORK;
	}
}

/* Records our verdict; the first one wins (an abort after a cap stays a
 * cap). */
static void
xfer_fail(struct xfer *x, enum fetch_error e, const char *fmt, ...)
{
	va_list ap;

	if (x->fail != FETCH_OK)
		return;
	x->fail = e;
	va_start(ap, fmt);
	vsnprintf(x->failmsg, sizeof(x->failmsg), fmt, ap);
	va_end(ap);
}

/* Starts a new header block: redirects and 1xx each bring their own, and
 * only the final response's headers and body count. */
static void
xfer_new_response(struct xfer *x)
{
	SAFE_FREE(x->res->content_type);
	SAFE_FREE(x->res->etag);
	SAFE_FREE(x->res->last_modified);
	SAFE_FREE(x->res->cache_control);
	SAFE_FREE(x->retry_after);
	buf_reset(&x->res->body);
	x->in_body = false;
}

static char **
header_slot(struct xfer *x, const char *name, size_t len)
{
	static const char *const names[] = {
		"content-type", "etag", "last-modified", "retry-after",
		"cache-control",
	};
	char **slots[] = {
		&x->res->content_type, &x->res->etag, &x->res->last_modified,
		&x->retry_after, &x->res->cache_control,
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(names); i++)
		if (strlen(names[i]) == len &&
		    strncasecmp(names[i], name, len) == 0)
			return slots[i];
	return NULL;
}

/* Keeps the headers we report.  Returns 0, or -1 when out of memory. */
static int
xfer_capture(struct xfer *x, const char *line, size_t len)
{
	const char *colon, *v, *end = line + len;
	char **slot, *copy;

	colon = memchr(line, ':', len);
	if (colon == NULL)
		return 0;
	slot = header_slot(x, line, (size_t)(colon - line));
	if (slot == NULL)
		return 0;
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && strchr(" \t\r\n", end[-1]) != NULL)
		end--;
	/* A value we might send back (ETag, Last-Modified) must be one
	 * clean line; anything else is dropped as if absent. */
	if (memchr(v, '\r', (size_t)(end - v)) != NULL ||
	    memchr(v, '\n', (size_t)(end - v)) != NULL ||
	    memchr(v, '\0', (size_t)(end - v)) != NULL)
		return 0;
	copy = strndup(v, (size_t)(end - v));
	if (copy == NULL)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

/*
 * Capture: a hop begins with each request libcurl sends (each redirect it
 * follows sends one).  A request written in several pieces stays one hop.
 */
static struct fetch_hop *
xfer_hop(struct xfer *x, bool request)
{
	struct fetch_hop *h = x->hop;
	char *s = NULL;

	if (h != NULL && (!request || h->response.len == 0))
		return h;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	/* Headers are capped by libcurl (CURL_MAX_HTTP_HEADER). */
	buf_init(&h->request, BUF_MAX);
	buf_init(&h->response, BUF_MAX);
	h->date_ms = now_ms();
	if (curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &s) ==
	    CURLE_OK && s != NULL)
		h->url = strdup(s);
	s = NULL;
	if (curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &s) == CURLE_OK &&
	    s != NULL)
		snprintf(h->ip, sizeof(h->ip), "%s", s);
	if (x->hop != NULL)
		x->hop->next = h;
	else
		x->res->hops = h;
	x->hop = h;
	return h;
}

/* Keeps a response header line as it came, for the WARC record.  A new
 * status line after a 1xx replaces that interim block. */
static int
xfer_capture_line(struct xfer *x, const char *line, size_t len, bool status)
{
	struct fetch_hop *h = xfer_hop(x, false);

	if (h == NULL)
		return -1;
	if (status) {
		buf_reset(&h->response);
		if (h->ip[0] == '\0') {
			char *ip = NULL;
			if (curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP,
			    &ip) == CURLE_OK && ip != NULL)
				snprintf(h->ip, sizeof(h->ip), "%s", ip);
		}
	}
	return buf_append(&h->response, line, len);
}

/* CURLOPT_DEBUGFUNCTION, set only for capture: the request headers as sent
 * (CURLINFO_HEADER_OUT); everything else is ignored. */
static int
on_debug(CURL *easy, curl_infotype type, char *data, size_t len, void *arg)
{
	struct xfer *x = arg;
	struct fetch_hop *h;

	if (type != CURLINFO_HEADER_OUT)
		return 0;
	h = xfer_hop(x, true);
	if (h == NULL || buf_append(&h->request, data, len) == -1)
		xfer_fail(x, FETCH_ERR_INTERNAL, "out of memory for a capture");
	return 0;
}

static size_t
on_header(char *line, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		xfer_new_response(x);
		if (x->capture && xfer_capture_line(x, line, len, true) == -1)
			goto oom;
		return len;
	}
	if (x->in_body)
		return len;
	if (x->capture && xfer_capture_line(x, line, len, false) == -1)
		goto oom;
	if (xfer_capture(x, line, len) == -1)
		goto oom;
	return len;
oom:
	xfer_fail(x, FETCH_ERR_INTERNAL, "out of memory for a header");
	return 0;
}

/*
 * At a response's first body bytes, sizes the buffer from Content-Length
 * when it is known and within max_body, so the body lands in one
 * allocation instead of being copied at every doubling.  It is only a
 * hint: a compressed body decodes to more, and the buffer grows as usual.
 */
static void
xfer_presize(struct xfer *x, struct buf *b, size_t len)
{
	curl_off_t cl = -1;

	if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
	    &cl) != CURLE_OK || cl <= 0 || (uint64_t)cl > x->max_body ||
	    (size_t)cl <= len)
		return;
	/* Out of memory here is caught by the append that follows. */
	(void)buf_presize(b, (size_t)cl);
}

/* libcurl hands over decoded bytes, so the cap also stops gzip bombs.  A
 * short count makes libcurl end the transfer with CURLE_WRITE_ERROR. */
static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct buf *b = &x->res->body;
	size_t len = size * n;

	x->in_body = true;
	if (b->len == 0)
		xfer_presize(x, b, len);
	if (len > x->max_body - b->len) {
		/* A capture keeps what fits, for a record marked
		 * WARC-Truncated: length. */
		if (x->capture)
			(void)buf_append(b, data, x->max_body - b->len);
		xfer_fail(x, FETCH_ERR_TOO_LARGE,
		    "decoded body exceeds max_body (%zu bytes)", x->max_body);
		return 0;
	}
	if (buf_append(b, data, len) == -1) {
		xfer_fail(x, FETCH_ERR_INTERNAL, "out of memory for the body");
		return 0;
	}
	return len;
}

/* The address guard's hook: only ever installed when a guard is set. */
static curl_socket_t
on_opensocket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = arg;

	if (purpose == CURLSOCKTYPE_IPCXN &&
	    x->guard(&a->addr, (socklen_t)a->addrlen, x->guard_arg) != 0) {
		const struct sockaddr *sa = &a->addr;

		x->blocked = true;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    (const void *)sa)->sin_addr, x->blocked_addr,
			    sizeof(x->blocked_addr));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
			    (const void *)sa)->sin6_addr, x->blocked_addr,
			    sizeof(x->blocked_addr));
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static CURLcode
xfer_setopt_io(struct xfer *x, const char *url)
{
	CURL *e = x->easy;
	CURLcode rc = CURLE_OK;

	SETOPT(e, rc, CURLOPT_URL, url);
	SETOPT(e, rc, CURLOPT_PRIVATE, x);
	SETOPT(e, rc, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(e, rc, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(e, rc, CURLOPT_WRITEDATA, x);
	SETOPT(e, rc, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(e, rc, CURLOPT_HEADERDATA, x);
	SETOPT(e, rc, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, rc, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, rc, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SETOPT(e, rc, CURLOPT_FOLLOWLOCATION,
	    x->follow == FETCH_FOLLOW_NONE ? 0L : 1L);
	/* No proxy from the environment: the address guard must see the
	 * address of the site itself, not a proxy's. */
	SETOPT(e, rc, CURLOPT_PROXY, "");
	if (x->headers != NULL)
		SETOPT(e, rc, CURLOPT_HTTPHEADER, x->headers);
	/* Capture: the request as sent comes only through the debug
	 * callback, which libcurl calls only in verbose mode. */
	if (x->capture) {
		SETOPT(e, rc, CURLOPT_DEBUGFUNCTION, on_debug);
		SETOPT(e, rc, CURLOPT_DEBUGDATA, x);
		SETOPT(e, rc, CURLOPT_VERBOSE, 1L);
	}
	/* The address guard's seam (fetch_set_guard()). */
	if (x->guard != NULL) {
		SETOPT(e, rc, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
		SETOPT(e, rc, CURLOPT_OPENSOCKETDATA, x);
	}
	return rc;
}

static CURLcode
xfer_setopt_limits(struct xfer *x, const struct fetch *f)
{
	const struct fetch_opts *o = &f->opts;
	CURL *e = x->easy;
	CURLcode rc = CURLE_OK;

	SETOPT(e, rc, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	SETOPT(e, rc, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	SETOPT(e, rc, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_limit);
	SETOPT(e, rc, CURLOPT_LOW_SPEED_TIME, o->low_speed_time);
	SETOPT(e, rc, CURLOPT_MAXREDIRS, x->follow > 0 ? x->follow :
	    o->max_redirects);
	SETOPT(e, rc, CURLOPT_BUFFERSIZE, FETCH_RECV_BUFFER);
	if (f->accept_encoding[0] != '\0')
		SETOPT(e, rc, CURLOPT_ACCEPT_ENCODING, f->accept_encoding);
	if (o->user_agent != NULL)
		SETOPT(e, rc, CURLOPT_USERAGENT, o->user_agent);
	return rc;
}

/* Appends "name: value" to the request headers.  Returns 0 or -1. */
static int
xfer_add_header(struct xfer *x, const char *name, const char *value)
{
	struct curl_slist *l;
	char *line;

	if (asprintf(&line, "%s: %s", name, value) == -1)
		return -1;
	l = curl_slist_append(x->headers, line);
	free(line);
	if (l == NULL)
		return -1;
	x->headers = l;
	return 0;
}

static int
xfer_headers(struct xfer *x, const struct fetch *f, const struct fetch_req *req,
    char *err, size_t errlen)
{
	struct curl_slist *l;

	if (has_line_break(req->etag) || has_line_break(req->last_modified)) {
		seterr(err, errlen, "line break in a conditional header");
		return -1;
	}
	if (req->etag != NULL && *req->etag != '\0' &&
	    xfer_add_header(x, "If-None-Match", req->etag) == -1)
		goto oom;
	if (req->last_modified != NULL && *req->last_modified != '\0' &&
	    xfer_add_header(x, "If-Modified-Since", req->last_modified) == -1)
		goto oom;
	if (f->opts.accept_language != NULL) {
		l = curl_slist_append(x->headers, f->opts.accept_language);
		if (l == NULL)
			goto oom;
		x->headers = l;
	}
	return 0;
oom:
	seterr(err, errlen, "out of memory");
	return -1;
}

/* Frees a transfer that is neither in libcurl's multi nor in f->xfers. */
static void
xfer_destroy(struct xfer *x)
{
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->retry_after);
	fetch_result_free(x->res);
	free(x);
}

static struct xfer *
xfer_new(struct fetch *f, const struct fetch_req *req, char *err,
    size_t errlen)
{
	struct xfer *x;
	CURLcode rc;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		goto oom;
	x->res = calloc(1, sizeof(*x->res));
	if (x->res == NULL)
		goto oom;
	x->f = f;
	x->t0 = mono_ms();
	x->max_body = f->opts.max_body;
	x->guard = f->guard;
	x->guard_arg = f->guard_arg;
	x->follow = req->follow;
	x->capture = f->opts.capture;
	x->res->job_id = req->job_id;
	x->res->arg = req->arg;
	x->res->retry_after_ms = -1;
	x->res->started_ms = now_ms();
	buf_init(&x->res->body, x->max_body);
	buf_init(&x->res->cut_body, x->max_body);
	x->easy = curl_easy_init();
	if (x->easy == NULL)
		goto oom;
	if (xfer_headers(x, f, req, err, errlen) == -1)
		goto fail;
	rc = xfer_setopt_io(x, req->url);
	if (rc == CURLE_OK)
		rc = xfer_setopt_limits(x, f);
	if (rc != CURLE_OK) {
		seterr(err, errlen, "curl_easy_setopt: %s",
		    curl_easy_strerror(rc));
		goto fail;
	}
	return x;
oom:
	seterr(err, errlen, "out of memory");
fail:
	if (x != NULL)
		xfer_destroy(x);
	return NULL;
}

static void
result_set_error(struct fetch_result *res, const struct xfer *x,
    CURLcode rc)
{
	const char *msg;
	char guardmsg[192];

	if (x->fail != FETCH_OK) {
		res->error = x->fail;
		msg = x->failmsg;
	} else {
		res->error = map_curl_error(rc, x->blocked);
		msg = x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc);
		/* libcurl (7.88) says "out of memory" when one header line
		 * is over CURL_MAX_HTTP_HEADER (100 KiB): the server's doing,
		 * not ours, and the same at every try. */
		if (rc == CURLE_OUT_OF_MEMORY && !x->in_body) {
			res->error = FETCH_ERR_HEADERS;
			msg = "a response header is over libcurl's limit "
			    "(100 KiB a line)";
		}
		if (res->error == FETCH_ERR_BLOCKED) {
			/* Short enough for a job's error (op.h). */
			snprintf(guardmsg, sizeof(guardmsg), "refused %s; allow "
			    "with fetch.allow_cidrs or "
			    "fetch.allow_private_addresses", x->blocked_addr[0]
			    ? x->blocked_addr : "the address");
			msg = guardmsg;
		}
	}
	if (res->error == FETCH_OK && res->final_url == NULL) {
		res->error = FETCH_ERR_INTERNAL;
		msg = "out of memory for the final URL";
	}
	if (res->error != FETCH_OK)
		snprintf(res->errmsg, sizeof(res->errmsg), "%s", msg);
}

/* Moves the result out of x, completed from libcurl's view of it. */
static struct fetch_result *
xfer_result(struct xfer *x, CURLcode rc)
{
	struct fetch_result *res = x->res;
	long status = 0, redirects = 0;
	curl_off_t pre = 0;
	char *url = NULL;

	x->res = NULL;
	if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) ==
	    CURLE_OK)
		res->http_status = status;
	if (curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_COUNT, &redirects) ==
	    CURLE_OK && redirects > 0)
		res->redirects = (uint32_t)redirects;
	if (curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url) ==
	    CURLE_OK && url != NULL)
		res->final_url = strdup(url);
	url = NULL;
	if (x->follow == FETCH_FOLLOW_NONE && status >= 300 && status < 400 &&
	    curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &url) ==
	    CURLE_OK && url != NULL)
		res->redirect_url = strdup(url);
	result_set_error(res, x, rc);
	if (x->retry_after != NULL)
		res->retry_after_ms = fetch_parse_retry_after(x->retry_after,
		    now_ms());
	if (res->error != FETCH_OK && x->capture) {
		res->cut_body = res->body;
		buf_init(&res->body, x->max_body);
	} else if (res->error != FETCH_OK)
		buf_free(&res->body);
	res->elapsed_ms = mono_ms() - x->t0;
	res->sent_ms = res->started_ms;
	if (curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &pre) ==
	    CURLE_OK && pre > 0)
		res->sent_ms += (uint64_t)pre / 1000;
	return res;
}

/*
 * Ends x and hands its result to the caller.  Everything about x is gone
 * before the callback runs, so the callback may start, abort or free.
 */
static void
xfer_done(struct fetch *f, struct xfer *x, CURLcode rc)
{
	struct fetch_result *res;

	res = xfer_result(x, rc);
	/* Cannot fail for a handle we added; and curl_easy_cleanup() in
	 * xfer_destroy() detaches it from the multi regardless. */
	(void)curl_multi_remove_handle(f->multi, x->easy);
	TAILQ_REMOVE(&f->xfers, x, entry);
	xfer_destroy(x);
	f->inflight--;
	f->done(res, f->cbarg);
}

static void
fetch_enter(struct fetch *f)
{
	f->depth++;
}

/* The last frame out of a dying fetcher frees it: f is gone after this. */
static void
fetch_leave(struct fetch *f)
{
	if (--f->depth == 0 && f->dying)
		fetch_destroy(f);
}

/* Reports every transfer libcurl has finished.  The message is read in
 * full before the callback, which may change the multi under it. */
static void
fetch_drain(struct fetch *f)
{
	CURLMsg *m;
	CURL *easy;
	CURLcode rc;
	char *priv;
	int left;

	while (!f->dying) {
		m = curl_multi_info_read(f->multi, &left);
		if (m == NULL)
			break;
		if (m->msg != CURLMSG_DONE)
			continue;
		easy = m->easy_handle;
		rc = m->data.result;
		priv = NULL;
		if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) !=
		    CURLE_OK || priv == NULL)
			continue;
		xfer_done(f, (struct xfer *)(void *)priv, rc);
	}
}

/* Drives libcurl for one socket or its timeout, then reports what ended. */
static void
fetch_action(struct fetch *f, curl_socket_t s, int action)
{
	int running;

	fetch_enter(f);
	/* An error here concerns the multi as a whole (out of memory): each
	 * transfer still ends through its own timeout, so reading what
	 * finished is all there is to do. */
	(void)curl_multi_socket_action(f->multi, s, action, &running);
	fetch_drain(f);
	fetch_leave(f);
}

static void
on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	int action = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	fetch_action(arg, fd, action);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	fetch_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* Ends the transfers a socket callback could not serve. */
static void
on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	struct xfer *x;

	fetch_enter(f);
	while (!f->dying) {
		TAILQ_FOREACH(x, &f->xfers, entry)
			if (x->reap)
				break;
		if (x == NULL)
			break;
		xfer_done(f, x, CURLE_OK);
	}
	fetch_leave(f);
}

/*
 * libcurl's timer callback: replace the timer; -1 deletes it; 0 means "as
 * soon as possible", which is a zero timer here because libcurl must not
 * be called from inside its own callback.
 */
static int
on_timer_set(CURLM *multi, long timeout_ms, void *arg)
{
	struct fetch *f = arg;
	struct timeval tv;

	if (timeout_ms < 0) {
		/* Cannot fail for a timer; a stray expiry is harmless. */
		(void)event_del(f->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	/* Returning -1 would poison the whole multi; running libcurl's
	 * timeouts early is only wasteful. */
	if (evtimer_add(f->timer, &tv) == -1)
		event_active(f->timer, EV_TIMEOUT, 0);
	return 0;
}

static void
sock_free(struct sock *sk)
{
	LIST_REMOVE(sk, entry);
	event_free(sk->ev);
	free(sk);
}

static struct sock *
sock_new(struct fetch *f, curl_socket_t s)
{
	struct sock *sk;

	sk = calloc(1, sizeof(*sk));
	if (sk == NULL)
		return NULL;
	sk->f = f;
	sk->fd = s;
	sk->ev = event_new(f->base, s, EV_READ, on_sock_event, f);
	if (sk->ev == NULL) {
		free(sk);
		return NULL;
	}
	LIST_INSERT_HEAD(&f->socks, sk, entry);
	if (curl_multi_assign(f->multi, s, sk) != CURLM_OK) {
		sock_free(sk);
		return NULL;
	}
	return sk;
}

static int
sock_watch(struct sock *sk, int what)
{
	short kind = 0;

	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (event_del(sk->ev) == -1)
		return -1;
	if (kind == 0)
		return 0;
	if (event_assign(sk->ev, sk->f->base, sk->fd, kind | EV_PERSIST,
	    on_sock_event, sk->f) == -1)
		return -1;
	return event_add(sk->ev, NULL);
}

/*
 * A socket we cannot watch would stall its transfer until a timeout (or
 * forever), and returning -1 would poison the whole multi: fail just that
 * transfer, from outside libcurl.
 */
static void
fetch_reap_later(struct fetch *f, CURL *easy)
{
	char *priv = NULL;
	struct xfer *x;

	if (easy == NULL ||
	    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
	    priv == NULL)
		return;		/* libcurl's own handle: nothing of ours */
	x = (struct xfer *)(void *)priv;
	xfer_fail(x, FETCH_ERR_INTERNAL, "cannot watch a socket");
	x->reap = true;
	event_active(f->reap, EV_TIMEOUT, 0);
}

/*
 * libcurl's socket callback.  It may name sockets we never saw (sockp NULL
 * on REMOVE), and may come from curl_multi_cleanup() with libcurl's
 * internal handle as easy.
 */
static int
on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct fetch *f = arg;
	struct sock *sk = sockp;

	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL)
			sock_free(sk);
		return 0;
	}
	if (sk == NULL)
		sk = sock_new(f, s);
	if (sk == NULL || sock_watch(sk, what) == -1)
		fetch_reap_later(f, easy);
	return 0;
}

/*
 * Keeps up to fetch.idle_connections idle connections for reuse, the least
 * recently used closing first.  libcurl's own default is four per transfer
 * in progress at the moment a transfer ends, so a lull between two batches
 * of leases closed most of the connections the next batch needed again
 * (about one request in six opened a new connection in bench/ingest).
 * Politeness makes a host wait fetch.host_delay between two requests, so a
 * crawl of many hosts needs a connection per host, not per slot: with
 * fetch.max_total's 64 kept, 500 hosts at 1 s opened a connection for
 * every page.  Idle connections still close after libcurl's
 * CURLOPT_MAXAGE_CONN (118 s).
 */
static CURLMcode
fetch_set_maxconnects(struct fetch *f)
{
	return curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS,
	    f->opts.max_connects);
}

static int
fetch_multi_init(struct fetch *f, char *err, size_t errlen)
{
	CURLMcode mc;

	f->multi = curl_multi_init();
	if (f->multi == NULL) {
		seterr(err, errlen, "curl_multi_init failed");
		return -1;
	}
	mc = curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION,
		    on_timer_set);
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	if (mc == CURLM_OK)
		mc = fetch_set_maxconnects(f);
	if (mc != CURLM_OK) {
		seterr(err, errlen, "curl_multi_setopt: %s",
		    curl_multi_strerror(mc));
		return -1;
	}
	return 0;
}

struct fetch *
fetch_new(struct event_base *base, const struct config *cfg,
    fetch_done_fn done, void *cbarg, char *err, size_t errlen)
{
	struct fetch *f;

	if (base == NULL || cfg == NULL || done == NULL) {
		seterr(err, errlen, "fetch_new: missing argument");
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	f->base = base;
	f->done = done;
	f->cbarg = cbarg;
	TAILQ_INIT(&f->xfers);
	LIST_INIT(&f->socks);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		seterr(err, errlen, "curl_global_init failed");
		goto fail;
	}
	f->global_init = true;
	if (opts_from_config(&f->opts, cfg, err, errlen) == -1)
		goto fail;
	accept_encoding_init(f);
	f->timer = evtimer_new(base, on_timeout, f);
	f->reap = event_new(base, -1, 0, on_reap, f);
	if (f->timer == NULL || f->reap == NULL) {
		seterr(err, errlen, "cannot create the fetch events");
		goto fail;
	}
	if (fetch_multi_init(f, err, errlen) == -1)
		goto fail;
	return f;
fail:
	fetch_destroy(f);
	return NULL;
}

int
fetch_configure(struct fetch *f, const struct config *cfg)
{
	struct fetch_opts o;

	if (opts_from_config(&o, cfg, NULL, 0) == -1)
		return -1;
	opts_free(&f->opts);
	f->opts = o;
	/* Cannot fail on a valid multi handle with a long value. */
	(void)fetch_set_maxconnects(f);
	return 0;
}

void
fetch_set_guard(struct fetch *f, fetch_guard_fn fn, void *arg)
{
	f->guard = fn;
	f->guard_arg = fn != NULL ? arg : NULL;
}

int
fetch_start(struct fetch *f, const struct fetch_req *req, char *err,
    size_t errlen)
{
	struct xfer *x;
	CURLMcode mc;

	if (f->closing) {
		seterr(err, errlen, "the fetcher is shutting down");
		return -1;
	}
	if (req == NULL || req->url == NULL || *req->url == '\0') {
		seterr(err, errlen, "no URL");
		return -1;
	}
	x = xfer_new(f, req, err, errlen);
	if (x == NULL)
		return -1;
	x->seq = ++f->seq;
	TAILQ_INSERT_TAIL(&f->xfers, x, entry);
	mc = curl_multi_add_handle(f->multi, x->easy);
	if (mc != CURLM_OK) {
		seterr(err, errlen, "curl_multi_add_handle: %s",
		    curl_multi_strerror(mc));
		TAILQ_REMOVE(&f->xfers, x, entry);
		xfer_destroy(x);
		return -1;
	}
	f->inflight++;
	return 0;
}

unsigned
fetch_inflight(const struct fetch *f)
{
	return f->inflight;
}

/* Aborts transfers in start order up to sequence number last.  Transfers
 * started by the callbacks get higher numbers and are left alone. */
static void
fetch_abort_upto(struct fetch *f, uint64_t last)
{
	struct xfer *x;

	for (;;) {
		x = TAILQ_FIRST(&f->xfers);
		if (x == NULL || x->seq > last)
			break;
		x->fail = FETCH_OK;	/* an abort beats a pending verdict */
		xfer_fail(x, FETCH_ERR_ABORTED, "transfer aborted");
		xfer_done(f, x, CURLE_OK);
	}
}

void
fetch_abort_all(struct fetch *f)
{
	fetch_enter(f);
	fetch_abort_upto(f, f->seq);
	fetch_leave(f);
}

static int
fetch_cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void
fetch_abort_jobs(struct fetch *f, const uint64_t *ids, size_t n)
{
	struct xfer *x;

	if (n == 0)
		return;
	fetch_enter(f);
	/* From the head each time: a callback may start or end others. */
	for (;;) {
		TAILQ_FOREACH(x, &f->xfers, entry)
			if (bsearch(&x->res->job_id, ids, n, sizeof(*ids),
			    fetch_cmp_id) != NULL)
				break;
		if (x == NULL)
			break;
		x->fail = FETCH_OK;
		xfer_fail(x, FETCH_ERR_ABORTED, "transfer aborted: its "
		    "partition passed to another node");
		xfer_done(f, x, CURLE_OK);
	}
	fetch_leave(f);
}

void
fetch_free(struct fetch *f)
{
	if (f == NULL || f->closing)
		return;
	f->closing = true;
	fetch_enter(f);
	fetch_abort_upto(f, UINT64_MAX);
	f->dying = true;
	fetch_leave(f);
}

/* Frees f and whatever of it was set up; no transfer may be left. */
static void
fetch_destroy(struct fetch *f)
{
	struct sock *sk;

	/* Closing cached connections may call on_socket() and
	 * on_timer_set(), so the events outlive the multi.  Nothing can
	 * make this fail outside a libcurl callback. */
	if (f->multi != NULL)
		(void)curl_multi_cleanup(f->multi);
	/* Sockets libcurl dropped without a REMOVE callback. */
	while ((sk = LIST_FIRST(&f->socks)) != NULL)
		sock_free(sk);
	if (f->timer != NULL)
		event_free(f->timer);
	if (f->reap != NULL)
		event_free(f->reap);
	opts_free(&f->opts);
	if (f->global_init)
		curl_global_cleanup();
	free(f);
}

void
fetch_result_free(struct fetch_result *res)
{
	if (res == NULL)
		return;
	free(res->final_url);
	free(res->redirect_url);
	free(res->content_type);
	free(res->etag);
	free(res->last_modified);
	free(res->cache_control);
	buf_free(&res->body);
	buf_free(&res->cut_body);
	while (res->hops != NULL) {
		struct fetch_hop *h = res->hops;
		res->hops = h->next;
		free(h->url);
		buf_free(&h->request);
		buf_free(&h->response);
		free(h);
	}
	free(res);
}

/* Delta-seconds: digits only, clamped without overflowing. */
static int64_t
retry_after_delta(const char *p)
{
	const uint64_t max_s = FETCH_RETRY_AFTER_MAX_MS / 1000;
	uint64_t secs = 0;

	for (; isdigit((unsigned char)*p); p++)
		if (secs <= max_s)
			secs = secs * 10 + (uint64_t)(*p - '0');
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return -1;
	if (secs > max_s)
		return (int64_t)FETCH_RETRY_AFTER_MAX_MS;
	return (int64_t)(secs * 1000);
}

int64_t
fetch_parse_retry_after(const char *value, uint64_t now)
{
	const int64_t max = (int64_t)FETCH_RETRY_AFTER_MAX_MS;
	int64_t at_ms, delay;
	time_t t;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value))
		return retry_after_delta(value);
	/* Every HTTP-date form starts with a day name; this keeps
	 * curl_getdate()'s leniency away from "-5" and the like. */
	if (!isalpha((unsigned char)*value))
		return -1;
	t = curl_getdate(value, NULL);
	if (t == -1)
		return -1;
	if (t <= 0)
		return 0;
	if ((uint64_t)t > (uint64_t)INT64_MAX / 1000 - 1)
		return max;
	at_ms = (int64_t)t * 1000;
	if (now > (uint64_t)INT64_MAX || at_ms <= (int64_t)now)
		return 0;
	delay = at_ms - (int64_t)now;
	return delay > max ? max : delay;
}
