/*
 * test_fetch.c - fetch.c against a small HTTP/1.1 server in a thread of
 * this process (127.0.0.1, port 0, canned responses chosen by path), driven
 * by a real event_base.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>

#include "config.h"
#include "fetch.h"
#include "util.h"

#define BOMB_BYTES	(50 * 1024 * 1024)	/* zeros behind the gzip bomb */
#define MAX_BODY	(1024 * 1024)
#define LAST_MODIFIED	"Wed, 21 Oct 2015 07:28:00 GMT"
/* Every redirect carries headers the final response must not inherit. */
#define REDIRECT(to)	"Location: " to "\r\nContent-Type: text/plain\r\n" \
			"ETag: \"redirect\"\r\nRetry-After: 5\r\n"

/* ---- the test server ---------------------------------------------------- */

struct server {
	int		 lfd;
	int		 port;
	int		 wake[2];
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 active;	/* connection threads running */
	char		*bomb;		/* gzip of BOMB_BYTES zeros */
	size_t		 bomb_len;
	char		*gz;		/* gzip of "hello gzip world\n" */
	size_t		 gz_len;
};

struct conn {
	struct server	*s;
	int		 fd;
};

static struct server *srv;

static int
send_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A complete response; hdrs is zero or more "Name: value\r\n" lines. */
static void
reply(int fd, const char *status, const char *hdrs, const void *body,
    size_t len)
{
	char head[2048];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Length: %zu"
	    "\r\nConnection: close\r\n%s\r\n", status, len, hdrs);
	if (send_all(fd, head, (size_t)n) == 0 && len > 0)
		send_all(fd, body, len);
}

static void
reply_redirect(int fd, const char *status, const char *location)
{
	char hdrs[512];

	snprintf(hdrs, sizeof(hdrs), REDIRECT("%s"), location);
	reply(fd, status, hdrs, "moved", 5);
}

/* Sends a promised body ten bytes at a time until the client goes away. */
static void
serve_slow(int fd)
{
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
	    "Connection: close\r\n\r\n";
	int i;

	if (send_all(fd, head, strlen(head)) == -1)
		return;
	for (i = 0; i < 100; i++) {
		if (send_all(fd, "0123456789", 10) == -1)
			return;
		usleep(50 * 1000);
	}
}

/* Promises 100000 bytes, sends 1000, then resets the connection. */
static void
serve_reset(int fd)
{
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
	    "Connection: close\r\n\r\n";
	struct linger lg = { 1, 0 };
	char chunk[1000];

	memset(chunk, 'x', sizeof(chunk));
	send_all(fd, head, strlen(head));
	send_all(fd, chunk, sizeof(chunk));
	usleep(100 * 1000);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void
serve_sized(int fd, const char *query)
{
	size_t n = strtoul(query, NULL, 10);
	char *body = malloc(n + 1);

	if (body == NULL)
		return;
	memset(body, 'a', n);
	reply(fd, "200 OK", "Content-Type: text/plain\r\n", body, n);
	free(body);
}

static void
serve_cond(int fd, const char *head)
{
	if (strstr(head, "\r\nIf-None-Match: \"v1\"\r\n") != NULL &&
	    strstr(head, "\r\nIf-Modified-Since: " LAST_MODIFIED "\r\n") !=
	    NULL) {
		const char *r = "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n"
		    "Connection: close\r\n\r\n";
		send_all(fd, r, strlen(r));
		return;
	}
	reply(fd, "200 OK", "ETag: \"v1\"\r\n", "fresh", 5);
}

/* Responses that depend on nothing but the path. */
static const struct canned {
	const char	*path;
	const char	*status;
	const char	*hdrs;
	const char	*body;
} canned[] = {
	{ "/ok", "200 OK", "Content-Type: text/html; charset=utf-8\r\n"
	    "ETag: \"v1\"\r\nLast-Modified: " LAST_MODIFIED "\r\n",
	    "<html>hello</html>" },
	{ "/plain", "200 OK", "Content-Type: text/plain\r\n", "plain" },
	{ "/404", "404 Not Found", "", "nope" },
	{ "/503", "503 Service Unavailable", "Retry-After: 120\r\n", "busy" },
	{ "/r1", "302 Found", REDIRECT("/r2"), "moved" },
	{ "/r2", "301 Moved Permanently", REDIRECT("/r3"), "moved" },
	{ "/r3", "307 Temporary Redirect", REDIRECT("/plain"), "moved" },
	{ "/loop", "302 Found", REDIRECT("/loop"), "moved" },
	{ "/tofile", "302 Found", REDIRECT("file:///etc/passwd"), "moved" },
	{ "/badgz", "200 OK", "Content-Encoding: gzip\r\n",
	    "this is not gzip at all" },
};

/* Writes raw bytes: responses reply() cannot express. */
static void
send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Routes by path.  Returns true when the connection must not linger. */
static bool
route(struct server *s, int fd, const char *path, const char *head)
{
	char loc[256];
	size_t i;

	for (i = 0; i < ARRAY_LEN(canned); i++)
		if (strcmp(path, canned[i].path) == 0) {
			reply(fd, canned[i].status, canned[i].hdrs,
			    canned[i].body, strlen(canned[i].body));
			return false;
		}
	if (strcmp(path, "/echo") == 0)
		reply(fd, "200 OK", "Content-Type: text/plain\r\n", head,
		    strlen(head));
	else if (strcmp(path, "/cond") == 0)
		serve_cond(fd, head);
	else if (strcmp(path, "/early") == 0) {
		send_str(fd, "HTTP/1.1 100 Continue\r\nETag: \"early\"\r\n\r\n");
		reply(fd, "200 OK", "Content-Type: text/plain\r\n", "late", 4);
	} else if (strcmp(path, "/trailer") == 0)
		send_str(fd, "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\n"
		    "Transfer-Encoding: chunked\r\nTrailer: ETag\r\n"
		    "Connection: close\r\n\r\n4\r\nbody\r\n0\r\n"
		    "ETag: \"trailer\"\r\n\r\n");
	else if (strcmp(path, "/bighdr") == 0) {
		/* One header line of 1 MiB: over libcurl's 100 KiB. */
		static char big[1 << 20];

		memset(big, 'a', sizeof(big));
		send_str(fd, "HTTP/1.1 200 OK\r\nX-Big: ");
		if (send_all(fd, big, sizeof(big)) == 0)
			send_str(fd, "\r\nContent-Length: 2\r\n\r\nok");
		return true;
	} else if (strcmp(path, "/toftp") == 0) {
		snprintf(loc, sizeof(loc), "ftp://127.0.0.1:%d/x", s->port);
		reply_redirect(fd, "302 Found", loc);
	} else if (strncmp(path, "/sized?", 7) == 0)
		serve_sized(fd, path + 7);
	else if (strcmp(path, "/gz") == 0)
		reply(fd, "200 OK", "Content-Encoding: gzip\r\n", s->gz,
		    s->gz_len);
	else if (strcmp(path, "/bomb") == 0)
		reply(fd, "200 OK", "Content-Encoding: gzip\r\n", s->bomb,
		    s->bomb_len);
	else if (strcmp(path, "/slow") == 0)
		serve_slow(fd);
	else if (strcmp(path, "/reset") == 0) {
		serve_reset(fd);
		return true;
	} else
		reply(fd, "404 Not Found", "", "", 0);
	return false;
}

/* Reads the request head; returns its length or -1. */
static ssize_t
read_head(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1) {
		n = recv(fd, buf + len, size - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			return (ssize_t)len;
	}
	return -1;
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct timeval tv = { 5, 0 };
	char head[16384], path[1024], junk[256];
	bool abrupt = false;

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_head(c->fd, head, sizeof(head)) > 0 &&
	    sscanf(head, "GET %1023s HTTP/1.1", path) == 1)
		abrupt = route(c->s, c->fd, path, head);
	if (!abrupt) {
		/* Graceful close: wait for the client to finish reading. */
		shutdown(c->fd, SHUT_WR);
		while (recv(c->fd, junk, sizeof(junk), 0) > 0)
			;
	}
	close(c->fd);
	pthread_mutex_lock(&c->s->mu);
	c->s->active--;
	pthread_cond_broadcast(&c->s->cv);
	pthread_mutex_unlock(&c->s->mu);
	free(c);
	return NULL;
}

static void
accept_one(struct server *s)
{
	struct conn *c;
	pthread_t t;
	int fd;

	fd = accept(s->lfd, NULL, NULL);
	if (fd == -1)
		return;
	c = malloc(sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->s = s;
	c->fd = fd;
	pthread_mutex_lock(&s->mu);
	s->active++;
	pthread_mutex_unlock(&s->mu);
	if (pthread_create(&t, NULL, conn_main, c) != 0) {
		pthread_mutex_lock(&s->mu);
		s->active--;
		pthread_mutex_unlock(&s->mu);
		close(fd);
		free(c);
		return;
	}
	pthread_detach(t);
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	struct pollfd pfd[2];

	pfd[0].fd = s->lfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = s->wake[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			break;
		if (pfd[1].revents != 0)
			break;
		if (pfd[0].revents & POLLIN)
			accept_one(s);
	}
	return NULL;
}

/* Runs cmd and returns all it wrote (malloc'd), or NULL. */
static char *
slurp_cmd(const char *cmd, size_t *lenp)
{
	FILE *p = popen(cmd, "r");
	char *data = NULL, *nd;
	size_t len = 0, cap = 0, n;

	if (p == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			nd = realloc(data, cap);
			if (nd == NULL)
				break;
			data = nd;
		}
		n = fread(data + len, 1, cap - len, p);
		if (n == 0)
			break;
		len += n;
	}
	if (pclose(p) != 0 || len == 0) {
		free(data);
		return NULL;
	}
	*lenp = len;
	return data;
}

static int
server_start(void **state)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct server *s;
	char cmd[128];

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "head -c %d /dev/zero | gzip -9 -c",
	    BOMB_BYTES);
	s->bomb = slurp_cmd(cmd, &s->bomb_len);
	s->gz = slurp_cmd("printf 'hello gzip world\\n' | gzip -c", &s->gz_len);
	if (s->bomb == NULL || s->gz == NULL)
		return -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s->lfd == -1 || bind(s->lfd, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1 || listen(s->lfd, 128) == -1 ||
	    getsockname(s->lfd, (struct sockaddr *)&sin, &slen) == -1 ||
	    pipe(s->wake) == -1)
		return -1;
	s->port = ntohs(sin.sin_port);
	if (pthread_create(&s->thread, NULL, server_main, s) != 0)
		return -1;
	srv = s;
	*state = s;
	return 0;
}

static int
server_stop(void **state)
{
	struct server *s = srv;

	if (s == NULL)
		return 0;
	if (write(s->wake[1], "x", 1) != 1)
		return -1;
	pthread_join(s->thread, NULL);
	pthread_mutex_lock(&s->mu);
	while (s->active > 0)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	close(s->lfd);
	close(s->wake[0]);
	close(s->wake[1]);
	free(s->bomb);
	free(s->gz);
	free(s);
	srv = NULL;
	return 0;
}

static const char *
url(const char *path)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", srv->port, path);
	return buf;
}

/* ---- the harness: an event_base, a fetcher and the results ------------- */

struct harness;
typedef void (*hook_fn)(struct harness *, struct fetch_result *);

struct harness {
	struct event_base	*base;
	struct fetch		*f;
	struct config		 cfg;
	struct fetch_result	*res[64];
	unsigned		 nres;
	unsigned		 want;
	bool			 timed_out;
	hook_fn			 hook;		/* runs inside the done callback */
	unsigned		 hook_calls;
	unsigned		 guard_calls;
};

static char ua[] = "sluice-test/1.0";
static char lang[] = "en";

static void
on_done(struct fetch_result *res, void *arg)
{
	struct harness *h = arg;

	assert_true(h->nres < ARRAY_LEN(h->res));
	h->res[h->nres++] = res;
	if (h->hook != NULL)
		h->hook(h, res);
	if (h->nres >= h->want)
		event_base_loopbreak(h->base);
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct harness *h = arg;

	h->timed_out = true;
	event_base_loopbreak(h->base);
}

static void
harness_config(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->connect_timeout_ms = 2000;
	c->timeout_ms = 10000;
	c->max_body = MAX_BODY;
	c->max_redirects = 5;
	c->user_agent = ua;
	c->accept_language = lang;
}

static void
harness_open(struct harness *h)
{
	char err[256] = "";

	memset(h, 0, sizeof(*h));
	h->base = event_base_new();
	assert_non_null(h->base);
	harness_config(&h->cfg);
	h->f = fetch_new(h->base, &h->cfg, on_done, h, err, sizeof(err));
	assert_non_null(h->f);
}

static void
harness_close(struct harness *h)
{
	unsigned i;

	fetch_free(h->f);
	for (i = 0; i < h->nres; i++)
		fetch_result_free(h->res[i]);
	event_base_free(h->base);
}

/* Runs the loop until want results in total have arrived (20 s at most). */
static void
run(struct harness *h, unsigned want)
{
	struct timeval tv = { 20, 0 };
	struct event *ev;

	h->want = want;
	if (h->nres < want) {
		ev = evtimer_new(h->base, on_watchdog, h);
		assert_non_null(ev);
		evtimer_add(ev, &tv);
		event_base_dispatch(h->base);
		event_free(ev);
	}
	assert_false(h->timed_out);
	assert_int_equal(h->nres, want);
}

static void
start(struct harness *h, const char *u, uint64_t job_id)
{
	struct fetch_req req = { .job_id = job_id, .url = u };
	char err[256] = "";

	if (fetch_start(h->f, &req, err, sizeof(err)) != 0)
		fail_msg("fetch_start(%s): %s", u, err);
}

/* Fetches one path and returns its result (owned by the harness). */
static struct fetch_result *
fetch1(struct harness *h, const char *path)
{
	start(h, url(path), h->nres + 1);
	run(h, h->nres + 1);
	return h->res[h->nres - 1];
}

static void
expect_error(struct harness *h, const char *path, enum fetch_error e)
{
	struct fetch_result *r = fetch1(h, path);

	if (r->error != e)
		fail_msg("%s: got %s (%s), want %s", path,
		    fetch_error_name(r->error), r->errmsg, fetch_error_name(e));
	assert_true(r->errmsg[0] != '\0');
	assert_int_equal(r->body.len, 0);
	assert_int_equal(fetch_inflight(h->f), 0);
}

static void
after_ms(struct harness *h, unsigned ms, event_callback_fn fn)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	assert_int_equal(event_base_once(h->base, -1, EV_TIMEOUT, fn, h, &tv),
	    0);
}

/* ---- Retry-After -------------------------------------------------------- */

static void
test_retry_after_delta(void **state)
{
	const int64_t max = (int64_t)FETCH_RETRY_AFTER_MAX_MS;

	assert_int_equal(fetch_parse_retry_after("120", 0), 120000);
	assert_int_equal(fetch_parse_retry_after("0", 5), 0);
	assert_int_equal(fetch_parse_retry_after(" 7 ", 0), 7000);
	assert_int_equal(fetch_parse_retry_after("604800", 0), max);
	assert_int_equal(fetch_parse_retry_after("604801", 0), max);
	assert_int_equal(fetch_parse_retry_after(
	    "99999999999999999999999999999", 0), max);
	assert_int_equal(fetch_parse_retry_after(NULL, 0), -1);
	assert_int_equal(fetch_parse_retry_after("", 0), -1);
	assert_int_equal(fetch_parse_retry_after("-5", 0), -1);
	assert_int_equal(fetch_parse_retry_after("12x", 0), -1);
	assert_int_equal(fetch_parse_retry_after("1.5", 0), -1);
	assert_int_equal(fetch_parse_retry_after("soon", 0), -1);
	assert_int_equal(fetch_parse_retry_after("+5", 0), -1);
}

static void
test_retry_after_date(void **state)
{
	const uint64_t at = 784111777000ULL;	/* Sun, 06 Nov 1994 08:49:37 */
	const int64_t max = (int64_t)FETCH_RETRY_AFTER_MAX_MS;

	assert_int_equal(fetch_parse_retry_after(
	    "Sun, 06 Nov 1994 08:49:37 GMT", at - 30000), 30000);
	assert_int_equal(fetch_parse_retry_after(
	    "Sunday, 06-Nov-94 08:49:37 GMT", at - 1500), 1500);
	assert_int_equal(fetch_parse_retry_after(
	    "Sun Nov  6 08:49:37 1994", at - 2000), 2000);
	/* In the past: retry now. */
	assert_int_equal(fetch_parse_retry_after(
	    "Sun, 06 Nov 1994 08:49:37 GMT", at + 60000), 0);
	assert_int_equal(fetch_parse_retry_after(
	    "Fri, 31 Dec 9999 23:59:59 GMT", at), max);
	assert_int_equal(fetch_parse_retry_after(
	    "Sun, 99 Nov 1994 08:49:37 GMT", at), -1);
	assert_int_equal(fetch_parse_retry_after("Sunday", at), -1);
}

static void
test_error_names(void **state)
{
	int i, j;

	for (i = FETCH_OK; i <= FETCH_ERR_HEADERS; i++) {
		assert_string_not_equal(fetch_error_name(i), "unknown");
		for (j = FETCH_OK; j < i; j++)
			assert_string_not_equal(fetch_error_name(i),
			    fetch_error_name(j));
	}
	assert_string_equal(fetch_error_name(FETCH_ERR_TOO_LARGE),
	    "too_large");
	assert_string_equal(fetch_error_name(FETCH_ERR_HEADERS + 1),
	    "unknown");
}

/* ---- responses ---------------------------------------------------------- */

static void
test_ok_headers(void **state)
{
	struct harness h;
	struct fetch_result *r;

	harness_open(&h);
	r = fetch1(&h, "/ok");
	assert_int_equal(r->error, FETCH_OK);
	assert_string_equal(r->errmsg, "");
	assert_int_equal(r->http_status, 200);
	assert_int_equal(r->job_id, 1);
	assert_string_equal(r->final_url, url("/ok"));
	assert_int_equal(r->redirects, 0);
	assert_string_equal(r->content_type, "text/html; charset=utf-8");
	assert_string_equal(r->etag, "\"v1\"");
	assert_string_equal(r->last_modified, LAST_MODIFIED);
	assert_int_equal(r->retry_after_ms, -1);
	assert_int_equal(r->body.len, 18);
	assert_string_equal(r->body.data, "<html>hello</html>");
	assert_true(r->started_ms > 0);
	assert_int_equal(fetch_inflight(h.f), 0);
	harness_close(&h);
}

static void
test_request_headers(void **state)
{
	struct harness h;
	struct fetch_req req = { .job_id = 7, .etag = "\"v1\"",
	    .last_modified = LAST_MODIFIED };
	const char *body;
	char err[256];

	harness_open(&h);
	req.url = url("/echo");
	assert_int_equal(fetch_start(h.f, &req, err, sizeof(err)), 0);
	run(&h, 1);
	body = h.res[0]->body.data;
	assert_non_null(strstr(body, "\r\nIf-None-Match: \"v1\"\r\n"));
	assert_non_null(strstr(body, "\r\nIf-Modified-Since: " LAST_MODIFIED
	    "\r\n"));
	assert_non_null(strstr(body, "\r\nUser-Agent: sluice-test/1.0\r\n"));
	assert_non_null(strstr(body, "\r\nAccept-Language: en\r\n"));
	/* The Debian libcurl decodes all three. */
	assert_non_null(strstr(body, "\r\nAccept-Encoding: gzip, br, zstd\r\n"));

	body = fetch1(&h, "/echo")->body.data;
	assert_null(strstr(body, "If-None-Match"));
	assert_null(strstr(body, "If-Modified-Since"));
	harness_close(&h);
}

static void
test_conditional(void **state)
{
	struct harness h;
	struct fetch_req req = { .job_id = 1, .etag = "\"v1\"",
	    .last_modified = LAST_MODIFIED };
	char err[256];

	harness_open(&h);
	req.url = url("/cond");
	assert_int_equal(fetch_start(h.f, &req, err, sizeof(err)), 0);
	run(&h, 1);
	assert_int_equal(h.res[0]->error, FETCH_OK);
	assert_int_equal(h.res[0]->http_status, 304);
	assert_int_equal(h.res[0]->body.len, 0);
	assert_int_equal(fetch1(&h, "/cond")->http_status, 200);
	harness_close(&h);
}

static void
test_status_404(void **state)
{
	struct harness h;
	struct fetch_result *r;

	harness_open(&h);
	r = fetch1(&h, "/404");
	assert_int_equal(r->error, FETCH_OK);
	assert_int_equal(r->http_status, 404);
	assert_string_equal(r->body.data, "nope");
	harness_close(&h);
}

static void
test_status_503_retry_after(void **state)
{
	struct harness h;
	struct fetch_result *r;

	harness_open(&h);
	r = fetch1(&h, "/503");
	assert_int_equal(r->error, FETCH_OK);
	assert_int_equal(r->http_status, 503);
	assert_int_equal(r->retry_after_ms, 120000);
	harness_close(&h);
}

/* A header line over libcurl's limit is the server's fault and the same
 * at every try: its own error, not "internal: Out of memory". */
static void
test_header_too_large(void **state)
{
	struct harness h;
	struct fetch_result *r;

	harness_open(&h);
	r = fetch1(&h, "/bighdr");
	assert_int_equal(r->error, FETCH_ERR_HEADERS);
	assert_string_equal(fetch_error_name(r->error), "headers");
	assert_non_null(strstr(r->errmsg, "header"));
	harness_close(&h);
}

static void
test_informational_headers_dropped(void **state)
{
	struct harness h;
	struct fetch_result *r;

	harness_open(&h);
	r = fetch1(&h, "/early");
	assert_int_equal(r->error, FETCH_OK);
	assert_int_equal(r->http_status, 200);
	assert_null(r->etag);
	assert_string_equal(r->body.data, "late");
	harness_close(&h);
}

static void
test_trailers_ignored(void **state)
{
	struct harness h;
	struct fetch_result *r;

	harness_open(&h);
	r = fetch1(&h, "/trailer");
	assert_int_equal(r->error, FETCH_OK);
	assert_string_equal(r->body.data, "body");
	assert_string_equal(r->etag, "\"v1\"");
	harness_close(&h);
}

/* ---- redirects and schemes ---------------------------------------------- */

static void
test_redirect_chain(void **state)
{
	struct harness h;
	struct fetch_result *r;

	harness_open(&h);
	r = fetch1(&h, "/r1");
	assert_int_equal(r->error, FETCH_OK);
	assert_int_equal(r->http_status, 200);
	assert_string_equal(r->final_url, url("/plain"));
	assert_int_equal(r->redirects, 3);
	/* Only the final response's headers and body. */
	assert_string_equal(r->content_type, "text/plain");
	assert_null(r->etag);
	assert_int_equal(r->retry_after_ms, -1);
	assert_string_equal(r->body.data, "plain");
	harness_close(&h);
}

static void
test_redirect_limit(void **state)
{
	struct harness h;

	harness_open(&h);
	h.cfg.max_redirects = 2;
	assert_int_equal(fetch_configure(h.f, &h.cfg), 0);
	expect_error(&h, "/r1", FETCH_ERR_REDIRECTS);
	h.cfg.max_redirects = 3;
	assert_int_equal(fetch_configure(h.f, &h.cfg), 0);
	assert_int_equal(fetch1(&h, "/r1")->error, FETCH_OK);
	harness_close(&h);
}

static void
test_redirect_loop(void **state)
{
	struct harness h;

	harness_open(&h);
	expect_error(&h, "/loop", FETCH_ERR_REDIRECTS);
	harness_close(&h);
}

static void
test_redirect_scheme(void **state)
{
	struct harness h;

	harness_open(&h);
	expect_error(&h, "/toftp", FETCH_ERR_SCHEME);
	expect_error(&h, "/tofile", FETCH_ERR_SCHEME);
	start(&h, "file:///etc/passwd", 99);
	run(&h, h.nres + 1);
	assert_int_equal(h.res[h.nres - 1]->error, FETCH_ERR_SCHEME);
	assert_int_equal(h.res[h.nres - 1]->body.len, 0);
	harness_close(&h);
}

/* ---- limits ------------------------------------------------------------- */

static void
test_body_cap(void **state)
{
	struct harness h;
	struct fetch_result *r;
	char path[64];

	harness_open(&h);
	snprintf(path, sizeof(path), "/sized?%d", MAX_BODY);
	r = fetch1(&h, path);
	assert_int_equal(r->error, FETCH_OK);
	assert_int_equal(r->body.len, MAX_BODY);
	/* Sized from Content-Length in one allocation, not by doubling. */
	assert_int_equal(r->body.cap, MAX_BODY + 1);
	snprintf(path, sizeof(path), "/sized?%d", MAX_BODY + 1);
	expect_error(&h, path, FETCH_ERR_TOO_LARGE);
	assert_int_equal(h.res[h.nres - 1]->http_status, 200);
	snprintf(path, sizeof(path), "/sized?%d", 8 * MAX_BODY);
	expect_error(&h, path, FETCH_ERR_TOO_LARGE);
	harness_close(&h);
}

static void
test_gzip_decoded(void **state)
{
	struct harness h;
	struct fetch_result *r;

	harness_open(&h);
	r = fetch1(&h, "/gz");
	assert_int_equal(r->error, FETCH_OK);
	assert_string_equal(r->body.data, "hello gzip world\n");
	harness_close(&h);
}

static void
test_gzip_bomb(void **state)
{
	struct harness h;

	/* Compressed, the bomb is far under the cap; decoded, far over. */
	assert_true(srv->bomb_len < MAX_BODY);
	harness_open(&h);
	expect_error(&h, "/bomb", FETCH_ERR_TOO_LARGE);
	harness_close(&h);
}

static void
test_bad_encoding(void **state)
{
	struct harness h;

	harness_open(&h);
	expect_error(&h, "/badgz", FETCH_ERR_DECODING);
	harness_close(&h);
}

static void
test_total_timeout(void **state)
{
	struct harness h;
	uint64_t t0 = mono_ms();

	harness_open(&h);
	h.cfg.timeout_ms = 300;
	assert_int_equal(fetch_configure(h.f, &h.cfg), 0);
	expect_error(&h, "/slow", FETCH_ERR_TIMEOUT);
	assert_true(mono_ms() - t0 < 3000);
	harness_close(&h);
}

static void
test_low_speed(void **state)
{
	struct harness h;

	harness_open(&h);
	h.cfg.timeout_ms = 0;
	h.cfg.low_speed_limit = 10000;
	h.cfg.low_speed_time_ms = 500;	/* rounds up to 1 s */
	assert_int_equal(fetch_configure(h.f, &h.cfg), 0);
	expect_error(&h, "/slow", FETCH_ERR_TIMEOUT);
	harness_close(&h);
}

/* ---- network failures --------------------------------------------------- */

static void
test_reset_mid_body(void **state)
{
	struct harness h;

	harness_open(&h);
	expect_error(&h, "/reset", FETCH_ERR_NETWORK);
	harness_close(&h);
}

static void
test_connect_refused(void **state)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct harness h;
	char u[64];
	int fd;

	/* A port that was free a moment ago and has no listener now. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	close(fd);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", ntohs(sin.sin_port));
	harness_open(&h);
	start(&h, u, 1);
	run(&h, 1);
	assert_int_equal(h.res[0]->error, FETCH_ERR_CONNECT);
	assert_int_equal(h.res[0]->http_status, 0);
	harness_close(&h);
}

static void
test_dns_failure(void **state)
{
	struct harness h;

	harness_open(&h);
	start(&h, "http://sluice-test.invalid/", 1);
	run(&h, 1);
	if (h.res[0]->error != FETCH_ERR_DNS)
		fail_msg("got %s: %s", fetch_error_name(h.res[0]->error),
		    h.res[0]->errmsg);
	harness_close(&h);
}

static int
guard_deny(const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct harness *h = arg;

	h->guard_calls++;
	assert_int_equal(sa->sa_family, AF_INET);
	return -1;
}

static int
guard_allow(const struct sockaddr *sa, socklen_t salen, void *arg)
{
	struct harness *h = arg;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

	h->guard_calls++;
	assert_int_equal(salen, sizeof(*sin));
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	return 0;
}

static void
test_guard(void **state)
{
	struct harness h;

	harness_open(&h);
	fetch_set_guard(h.f, guard_deny, &h);
	expect_error(&h, "/ok", FETCH_ERR_BLOCKED);
	assert_true(h.guard_calls >= 1);
	h.guard_calls = 0;
	fetch_set_guard(h.f, guard_allow, &h);
	assert_int_equal(fetch1(&h, "/r1")->error, FETCH_OK);
	assert_int_equal(h.guard_calls, 4);	/* one per hop */
	fetch_set_guard(h.f, NULL, NULL);
	assert_int_equal(fetch1(&h, "/ok")->error, FETCH_OK);
	assert_int_equal(h.guard_calls, 4);
	harness_close(&h);
}

/* ---- many at once, abort, re-entrancy, teardown ------------------------- */

static void
test_concurrent(void **state)
{
	struct harness h;
	bool seen[51] = { false };
	unsigned i;

	harness_open(&h);
	for (i = 1; i <= 50; i++)
		start(&h, url(i % 2 ? "/ok" : "/r3"), i);
	assert_int_equal(fetch_inflight(h.f), 50);
	run(&h, 50);
	for (i = 0; i < 50; i++) {
		assert_int_equal(h.res[i]->error, FETCH_OK);
		assert_in_range(h.res[i]->job_id, 1, 50);
		assert_false(seen[h.res[i]->job_id]);
		seen[h.res[i]->job_id] = true;
	}
	assert_int_equal(fetch_inflight(h.f), 0);
	harness_close(&h);
}

static void
restart_once(struct harness *h, struct fetch_result *r)
{
	if (r->error == FETCH_ERR_ABORTED && h->hook_calls++ == 0)
		start(h, url("/ok"), 100);
}

static void
abort_now(evutil_socket_t fd, short what, void *arg)
{
	struct harness *h = arg;

	assert_int_equal(fetch_inflight(h->f), 5);
	fetch_abort_all(h->f);
	/* Every callback came before the return; the restarted one runs. */
	assert_int_equal(h->nres, 5);
	assert_int_equal(fetch_inflight(h->f), 1);
}

static void
test_abort_all(void **state)
{
	struct harness h;
	unsigned i;

	harness_open(&h);
	h.hook = restart_once;
	for (i = 1; i <= 5; i++)
		start(&h, url("/slow"), i);
	after_ms(&h, 200, abort_now);
	run(&h, 6);
	for (i = 0; i < 5; i++) {
		assert_int_equal(h.res[i]->error, FETCH_ERR_ABORTED);
		assert_int_equal(h.res[i]->body.len, 0);
		assert_string_equal(fetch_error_name(h.res[i]->error),
		    "aborted");
	}
	assert_int_equal(h.res[5]->error, FETCH_OK);
	assert_int_equal(h.res[5]->job_id, 100);
	assert_int_equal(fetch_inflight(h.f), 0);
	harness_close(&h);
}

static void
chain(struct harness *h, struct fetch_result *r)
{
	if (h->nres < 4)
		start(h, url(h->nres % 2 ? "/r2" : "/ok"), h->nres + 1);
}

static void
test_start_from_callback(void **state)
{
	struct harness h;
	unsigned i;

	harness_open(&h);
	h.hook = chain;
	start(&h, url("/ok"), 1);
	run(&h, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(h.res[i]->error, FETCH_OK);
		assert_int_equal(h.res[i]->job_id, i + 1);
	}
	assert_int_equal(fetch_inflight(h.f), 0);
	harness_close(&h);
}

static void
free_now(evutil_socket_t fd, short what, void *arg)
{
	struct harness *h = arg;

	fetch_free(h->f);
	h->f = NULL;
	assert_int_equal(h->nres, 3);
	event_base_loopbreak(h->base);
}

static void
test_free_in_flight(void **state)
{
	struct harness h;
	unsigned i;

	harness_open(&h);
	for (i = 1; i <= 3; i++)
		start(&h, url("/slow"), i);
	h.want = 100;
	after_ms(&h, 200, free_now);
	event_base_dispatch(h.base);
	assert_null(h.f);
	assert_int_equal(h.nres, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(h.res[i]->error, FETCH_ERR_ABORTED);
	harness_close(&h);
}

static void
free_from_callback(struct harness *h, struct fetch_result *r)
{
	if (r->error != FETCH_OK)
		return;
	/* The other transfer's abort is reported before this returns. */
	fetch_free(h->f);
	assert_int_equal(h->nres, 2);
	h->f = NULL;
}

static void
test_free_from_callback(void **state)
{
	struct harness h;

	harness_open(&h);
	h.hook = free_from_callback;
	start(&h, url("/slow"), 1);
	start(&h, url("/ok"), 2);
	run(&h, 2);
	assert_null(h.f);
	assert_int_equal(h.res[0]->error, FETCH_OK);
	assert_int_equal(h.res[0]->job_id, 2);
	assert_int_equal(h.res[1]->error, FETCH_ERR_ABORTED);
	assert_int_equal(h.res[1]->job_id, 1);
	harness_close(&h);
}

static void
refuse_start(struct harness *h, struct fetch_result *r)
{
	struct fetch_req req = { .url = url("/ok") };
	char err[128] = "";

	/* Inside fetch_free()'s abort callbacks, nothing new may start. */
	assert_int_equal(fetch_start(h->f, &req, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
}

static void
test_free_refuses_new_starts(void **state)
{
	struct harness h;

	harness_open(&h);
	h.hook = refuse_start;
	start(&h, url("/slow"), 1);
	fetch_free(h.f);
	h.f = NULL;
	assert_int_equal(h.nres, 1);
	assert_int_equal(h.res[0]->error, FETCH_ERR_ABORTED);
	harness_close(&h);
}

static void
test_start_errors(void **state)
{
	struct harness h;
	struct fetch_req req = { .url = NULL };
	char err[128];

	harness_open(&h);
	err[0] = '\0';
	assert_int_equal(fetch_start(h.f, &req, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	req.url = url("/ok");
	req.etag = "\"v1\"\r\nX-Injected: 1";
	err[0] = '\0';
	assert_int_equal(fetch_start(h.f, &req, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	assert_int_equal(fetch_inflight(h.f), 0);
	harness_close(&h);
	assert_int_equal(h.nres, 0);
}

static void
test_configure(void **state)
{
	static char ua2[] = "other-agent/2";
	static char bad[] = "evil\r\nX-Injected: 1";
	struct harness h;
	const char *body;

	harness_open(&h);
	h.cfg.user_agent = ua2;
	h.cfg.accept_language = NULL;
	assert_int_equal(fetch_configure(h.f, &h.cfg), 0);
	h.cfg.user_agent = bad;
	assert_int_equal(fetch_configure(h.f, &h.cfg), -1);
	body = fetch1(&h, "/echo")->body.data;
	assert_non_null(strstr(body, "\r\nUser-Agent: other-agent/2\r\n"));
	assert_null(strstr(body, "Accept-Language"));
	assert_null(strstr(body, "X-Injected"));
	harness_close(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after_delta),
		cmocka_unit_test(test_retry_after_date),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_ok_headers),
		cmocka_unit_test(test_request_headers),
		cmocka_unit_test(test_conditional),
		cmocka_unit_test(test_status_404),
		cmocka_unit_test(test_status_503_retry_after),
		cmocka_unit_test(test_informational_headers_dropped),
		cmocka_unit_test(test_trailers_ignored),
		cmocka_unit_test(test_redirect_chain),
		cmocka_unit_test(test_redirect_limit),
		cmocka_unit_test(test_redirect_loop),
		cmocka_unit_test(test_redirect_scheme),
		cmocka_unit_test(test_body_cap),
		cmocka_unit_test(test_gzip_decoded),
		cmocka_unit_test(test_gzip_bomb),
		cmocka_unit_test(test_bad_encoding),
		cmocka_unit_test(test_total_timeout),
		cmocka_unit_test(test_low_speed),
		cmocka_unit_test(test_reset_mid_body),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_dns_failure),
		cmocka_unit_test(test_guard),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_abort_all),
		cmocka_unit_test(test_start_from_callback),
		cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_free_from_callback),
		cmocka_unit_test(test_free_refuses_new_starts),
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test(test_header_too_large),
		cmocka_unit_test(test_configure),
	};

	return cmocka_run_group_tests(tests, server_start, server_stop);
}
