/*
 * test_guard.c - the address guard: guard_allows() over tables of IPv4,
 * IPv6, mapped and embedded addresses; allow-list parsing and its errors;
 * and real libcurl transfers through guard_opensocket() against listeners
 * on 127.0.0.1 and [::1], counting the connections they accept.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "guard.h"
#include "util.h"

struct addr_row {
	const char	*addr;
	bool		 allowed;
};

static socklen_t
make_sockaddr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(80);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(443);
		return sizeof(*sin6);
	}
	fail_msg("bad test address %s", s);
	return 0;
}

static void
run_addr_rows(const struct guard *g, const struct addr_row *rows, size_t n,
    const char *what)
{
	struct sockaddr_storage ss;
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		socklen_t len = make_sockaddr(rows[i].addr, &ss);
		const char *why = guard_reason(g, (struct sockaddr *)&ss, len);
		bool got = guard_allows(g, (struct sockaddr *)&ss, len);

		if (got != (why == NULL))
			fail_msg("%s: guard_allows and guard_reason disagree "
			    "on %s", what, rows[i].addr);
		if (got != rows[i].allowed) {
			print_error("%s: %s: expected %s, got %s (%s)\n", what,
			    rows[i].addr, rows[i].allowed ? "allow" : "block",
			    got ? "allow" : "block", why ? why : "-");
			bad++;
		}
	}
	if (bad > 0)
		fail_msg("%s: %zu of %zu rows wrong", what, bad, n);
}

static struct guard *
guard_or_fail(bool allow_private, const char *cidrs)
{
	char err[256] = "";
	struct guard *g = guard_new(allow_private, cidrs, err, sizeof(err));

	if (g == NULL)
		fail_msg("guard_new(\"%s\"): %s", cidrs ? cidrs : "", err);
	return g;
}

/* Builds a guard, checks every row against it, frees it. */
#define RUN_ADDRS(priv, cidrs, rows) do {				\
	struct guard *g_ = guard_or_fail(priv, cidrs);			\
	run_addr_rows(g_, rows, ARRAY_LEN(rows), __func__);		\
	guard_free(g_);							\
} while (0)

/* The default IPv4 block list, and its edges. */
static void
test_ipv4_defaults(void **state)
{
	static const struct addr_row rows[] = {
		{ "0.0.0.0", false }, { "0.1.2.3", false },
		{ "10.0.0.1", false }, { "10.255.255.255", false },
		{ "100.64.0.1", false }, { "100.127.255.255", false },
		{ "127.0.0.1", false }, { "127.255.255.254", false },
		{ "169.254.169.254", false }, { "172.16.0.1", false },
		{ "172.31.255.255", false }, { "192.0.0.1", false },
		{ "192.0.2.5", false }, { "192.88.99.1", false },
		{ "192.168.1.1", false }, { "198.18.0.1", false },
		{ "198.19.255.255", false }, { "198.51.100.7", false },
		{ "203.0.113.9", false }, { "224.0.0.1", false },
		{ "239.255.255.250", false }, { "240.0.0.1", false },
		{ "255.255.255.255", false },
		{ "1.1.1.1", true }, { "8.8.8.8", true },
		{ "9.255.255.255", true }, { "11.0.0.0", true },
		{ "100.63.255.255", true }, { "100.128.0.0", true },
		{ "126.255.255.255", true }, { "128.0.0.0", true },
		{ "169.253.255.255", true }, { "169.255.0.0", true },
		{ "172.15.255.255", true }, { "172.32.0.0", true },
		{ "192.0.1.0", true }, { "192.0.3.0", true },
		{ "192.167.255.255", true }, { "192.169.0.0", true },
		{ "198.17.255.255", true }, { "198.20.0.0", true },
		{ "223.255.255.255", true }, { "93.184.216.34", true },
	};

	(void)state;
	RUN_ADDRS(false, NULL, rows);
}

/* The default IPv6 block list, mapped and embedded IPv4 forms. */
static void
test_ipv6_defaults(void **state)
{
	static const struct addr_row rows[] = {
		{ "::", false }, { "::1", false },
		{ "::ffff:127.0.0.1", false }, { "::ffff:7f00:1", false },
		{ "::ffff:10.0.0.1", false }, { "::ffff:0.0.0.0", false },
		{ "::ffff:169.254.169.254", false },
		{ "::127.0.0.1", false }, { "::8.8.8.8", false },
		{ "::ffff:0:127.0.0.1", false }, { "::ffff:0:8.8.8.8", true },
		{ "64:ff9b::127.0.0.1", false }, { "64:ff9b::a00:1", false },
		{ "64:ff9b::8.8.8.8", true }, { "64:ff9b:1::1", false },
		{ "2002:7f00:1::1", false }, { "2002:a00:1::", false },
		{ "2002:c0a8:101::1", false }, { "2002:808:808::1", true },
		/* Teredo, RFC 4380's example: client 192.0.2.45 inverted. */
		{ "2001:0:4136:e378:8000:63bf:3fff:fdd2", false },
		{ "2001:0:4136:e378:8000:63bf:80ff:fffe", false },
		{ "2001:0:4136:e378:8000:63bf:f7f7:f7f7", true },
		{ "2001:0:7f00:1::f7f7:f7f7", false },
		{ "fe80::1", false }, { "febf:ffff::1", false },
		{ "fc00::1", false }, { "fd12:3456::1", false },
		{ "fec0::1", false }, { "ff02::1", false }, { "ff0e::1", false },
		{ "2001:db8::1", false }, { "100::1", false },
		{ "2001:2::1", false }, { "2001:10::1", false },
		{ "3fff::1", false },
		{ "2606:4700:4700::1111", true }, { "2001:4860:4860::8888", true },
		{ "::ffff:8.8.8.8", true }, { "2a00:1450:4001::1", true },
		{ "2001:db9::1", true }, { "fe7f::1", true }, { "fbff::1", true },
		{ "101::1", true }, { "::2:0:0:1", true },
	};

	(void)state;
	RUN_ADDRS(false, "", rows);
}

/* Allow-list entries override the block, also through mapped and
 * embedded forms. */
static void
test_allow_list(void **state)
{
	static const struct addr_row rows[] = {
		{ "10.1.2.3", true }, { "11.0.0.1", true },
		{ "127.0.0.1", true }, { "127.0.0.2", false },
		{ "::1", true }, { "::ffff:127.0.0.1", true },
		{ "::ffff:10.9.9.9", true }, { "192.168.0.1", false },
		{ "64:ff9b::a01:203", true }, { "2002:7f00:2::", false },
		{ "fd12::1", true }, { "fc00::1", false },
		{ "192.168.7.7", true }, { "192.168.8.1", false },
		{ "::ffff:192.168.7.1", true },
	};

	(void)state;
	RUN_ADDRS(false, "10.0.0.0/8, ::1/128, 127.0.0.1\tfd00::/8,"
	    "::ffff:192.168.7.0/120", rows);
}

/* allow_private turns the block list off. */
static void
test_allow_private(void **state)
{
	static const struct addr_row rows[] = {
		{ "127.0.0.1", true }, { "10.0.0.1", true }, { "0.0.0.0", true },
		{ "::1", true }, { "fe80::1", true }, { "::ffff:127.0.0.1", true },
		{ "224.0.0.1", true }, { "8.8.8.8", true },
	};

	(void)state;
	RUN_ADDRS(true, NULL, rows);
}

/* Anything but a whole IPv4/IPv6 sockaddr is refused. */
static void
test_bad_sockaddr(void **state)
{
	struct guard *g = guard_or_fail(true, NULL);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	assert_false(guard_allows(g, (struct sockaddr *)&sun, sizeof(sun)));
	assert_false(guard_allows(g, NULL, 0));
	len = make_sockaddr("8.8.8.8", &ss);
	assert_true(guard_allows(g, (struct sockaddr *)&ss, len));
	assert_false(guard_allows(g, (struct sockaddr *)&ss, len - 1));
	assert_false(guard_allows(g, (struct sockaddr *)&ss, 1));
	len = make_sockaddr("2606:4700::1", &ss);
	assert_false(guard_allows(g, (struct sockaddr *)&ss,
	    sizeof(struct sockaddr_in)));
	assert_non_null(guard_reason(g, (struct sockaddr *)&sun, sizeof(sun)));
	guard_free(g);
}

/* The reason names the range. */
static void
test_reason(void **state)
{
	struct guard *g = guard_or_fail(false, NULL);
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	len = make_sockaddr("127.0.0.1", &ss);
	assert_string_equal(guard_reason(g, (struct sockaddr *)&ss, len),
	    "127.0.0.0/8 loopback");
	len = make_sockaddr("255.255.255.255", &ss);
	assert_string_equal(guard_reason(g, (struct sockaddr *)&ss, len),
	    "255.255.255.255 broadcast");
	len = make_sockaddr("2002:a00:1::", &ss);
	assert_non_null(strstr(guard_reason(g, (struct sockaddr *)&ss, len),
	    "6to4"));
	len = make_sockaddr("8.8.8.8", &ss);
	assert_null(guard_reason(g, (struct sockaddr *)&ss, len));
	guard_free(g);
}

struct cidr_row {
	const char	*list;
	const char	*error;		/* substring of err, NULL when valid */
};

/* Allow-list syntax and its error messages. */
static void
test_cidr_parsing(void **state)
{
	static const struct cidr_row rows[] = {
		{ "", NULL }, { " , ,\t", NULL },
		{ "10.0.0.0/8", NULL }, { " 10.0.0.0/8 ,, ::1/128 ", NULL },
		{ "0.0.0.0/0", NULL }, { "::/0", NULL }, { "1.2.3.4/32", NULL },
		{ "10.0.0.0/08", NULL }, { "2001:db8::/32\n192.0.2.1", NULL },
		{ "10.0.0.0/33", "\"10.0.0.0/33\": bad prefix length" },
		{ "10.0.0.0/", "bad prefix length" },
		{ "10.0.0.0/-1", "bad prefix length" },
		{ "10.0.0.0/+8", "bad prefix length" },
		{ "10.0.0.0/8x", "bad prefix length" },
		{ "10.0.0.0/0008", "bad prefix length" },
		{ "10.0.0.0/8/8", "bad prefix length" },
		{ "::1/129", "bad prefix length" },
		{ "10.0.0.1/8", "\"10.0.0.1/8\": host bits set" },
		{ "fe80::1/10", "host bits set" },
		{ "10.0.0", "not an IPv4 or IPv6 address" },
		{ "127.1", "not an IPv4 or IPv6 address" },
		{ "0x7f.0.0.1", "not an IPv4 or IPv6 address" },
		{ "1.2.3.4.5", "not an IPv4 or IPv6 address" },
		{ "fe80::1%eth0", "not an IPv4 or IPv6 address" },
		{ "example.com", "not an IPv4 or IPv6 address" },
		{ "10.0.0.0/8, bogus", "\"bogus\"" },
		{ "1111:2222:3333:4444:5555:6666:7777:8888/12800000000000000000000",
		    "too long" },
		{ "/8", "not an IPv4 or IPv6 address" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_LEN(rows); i++) {
		char err[256] = "";
		struct guard *g = guard_new(false, rows[i].list, err,
		    sizeof(err));

		if (rows[i].error == NULL && g == NULL)
			fail_msg("\"%s\": unexpected error %s", rows[i].list, err);
		if (rows[i].error != NULL && g != NULL)
			fail_msg("\"%s\": accepted", rows[i].list);
		if (rows[i].error != NULL && strstr(err, rows[i].error) == NULL)
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"",
			    rows[i].list, err, rows[i].error);
		if (g != NULL && strncmp(err, "", 1) != 0)
			fail_msg("\"%s\": err set on success", rows[i].list);
		guard_free(g);
	}
}

/*
 * A tiny HTTP server on 127.0.0.1:port and, when the machine has IPv6
 * loopback, [::1]:port, on a thread.  It counts what it accepts and
 * answers 204, or 302 to redirect6 on the IPv6 listener.
 */
struct server {
	int		 fd4, fd6, stop[2];
	unsigned short	 port;
	atomic_uint	 accepted4, accepted6;
	char		 redirect6[128];
	pthread_t	 thread;
};

static void
answer(int fd, const char *location)
{
	char req[4096], resp[256];
	struct timeval tv = { .tv_sec = 2 };
	size_t got = 0;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got < sizeof(req) - 1) {
		n = read(fd, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	if (location[0] != '\0')
		snprintf(resp, sizeof(resp), "HTTP/1.1 302 Found\r\nLocation: "
		    "%s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		    location);
	else
		snprintf(resp, sizeof(resp), "HTTP/1.1 204 No Content\r\n"
		    "Connection: close\r\n\r\n");
	if (write(fd, resp, strlen(resp)) < 0)
		print_error("server write: %s\n", strerror(errno));
	close(fd);
}

static void *
serve(void *arg)
{
	struct server *s = arg;
	struct pollfd pfd[3] = {
		{ .fd = s->stop[0], .events = POLLIN },
		{ .fd = s->fd4, .events = POLLIN },
		{ .fd = s->fd6, .events = POLLIN },
	};
	int i, fd;

	for (;;) {
		if (poll(pfd, 3, 10000) <= 0 || pfd[0].revents != 0)
			return NULL;
		for (i = 1; i < 3; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents & POLLIN))
				continue;
			fd = accept(pfd[i].fd, NULL, NULL);
			if (fd < 0)
				continue;
			atomic_fetch_add(i == 1 ? &s->accepted4 : &s->accepted6,
			    1);
			answer(fd, i == 1 ? "" : s->redirect6);
		}
	}
}

static int
listen_on(int family, const char *addr, unsigned short port,
    unsigned short *bound)
{
	struct sockaddr_storage ss;
	socklen_t len = make_sockaddr(addr, &ss);
	int fd, one = 1;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	((struct sockaddr_in *)&ss)->sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		close(fd);
		return -1;
	}
	*bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static int
server_setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	unsigned short port6;

	assert_non_null(s);
	s->fd4 = listen_on(AF_INET, "127.0.0.1", 0, &s->port);
	assert_true(s->fd4 >= 0);
	s->fd6 = listen_on(AF_INET6, "::1", s->port, &port6);
	if (s->fd6 < 0)
		print_message("no [::1]:%u listener: IPv6 cases skipped\n",
		    s->port);
	assert_int_equal(pipe(s->stop), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
	*state = s;
	return 0;
}

static int
server_teardown(void **state)
{
	struct server *s = *state;

	if (write(s->stop[1], "x", 1) != 1)
		return -1;
	pthread_join(s->thread, NULL);
	close(s->fd4);
	if (s->fd6 >= 0)
		close(s->fd6);
	close(s->stop[0]);
	close(s->stop[1]);
	free(s);
	return 0;
}

/* One real transfer through the guard; returns curl's code, fills *chk
 * and *status. */
static CURLcode
transfer(const char *url, const struct guard *g, struct guard_check *chk,
    long *status, const char *resolve)
{
	struct curl_slist *res = NULL;
	char err[128];
	CURLcode rc;
	CURL *h = curl_easy_init();

	assert_non_null(h);
	guard_check_init(chk, g);
	assert_int_equal(guard_install(h, chk, err, sizeof(err)), 0);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 8000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (resolve != NULL) {
		res = curl_slist_append(NULL, resolve);
		curl_easy_setopt(h, CURLOPT_RESOLVE, res);
	}
	rc = curl_easy_perform(h);
	*status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(h);
	curl_slist_free_all(res);
	return rc;
}

/* Loopback in every numeric and named spelling; v6 marks the ones that
 * reach the [::1] listener rather than 127.0.0.1. */
static const struct {
	const char	*fmt;
	bool		 v6;
} loopback_urls[] = {
	{ "http://127.0.0.1:%u/", false },
	{ "http://127.1:%u/", false },
	{ "http://2130706433:%u/", false },
	{ "http://0x7f.1:%u/", false },
	{ "http://0x7f000001:%u/", false },
	{ "http://0177.0.0.1:%u/", false },
	{ "http://[::ffff:127.0.0.1]:%u/", false },
	{ "http://[::ffff:7f00:1]:%u/", false },
	{ "http://[::1]:%u/", true },
	{ "http://0:%u/", false },
	{ "http://localhost:%u/", false },
};

static unsigned
accepted(struct server *s)
{
	return atomic_load(&s->accepted4) + atomic_load(&s->accepted6);
}

/* Default guard: no spelling of loopback gets a connection through. */
static void
test_curl_blocks_loopback(void **state)
{
	struct server *s = *state;
	struct guard *g = guard_or_fail(false, NULL);
	struct guard_check chk;
	char url[128];
	long status;
	size_t i;
	CURLcode rc;

	for (i = 0; i < ARRAY_LEN(loopback_urls); i++) {
		snprintf(url, sizeof(url), loopback_urls[i].fmt, s->port);
		rc = transfer(url, g, &chk, &status, NULL);
		if (rc != CURLE_COULDNT_CONNECT || chk.blocked != 1)
			fail_msg("%s: curl %d (%s), blocked %d", url, rc,
			    curl_easy_strerror(rc), chk.blocked);
		assert_non_null(chk.reason);
		assert_true(chk.addr[0] != '\0' && strcmp(chk.addr, "?") != 0);
		print_message("%-36s blocked at %s (%s)\n", url, chk.addr,
		    chk.reason);
	}
	assert_int_equal(accepted(s), 0);
	guard_free(g);
}

/* allow_private: the same transfers do connect (so the test above would
 * have seen a connection had the guard let one through). */
static void
test_curl_allows_private(void **state)
{
	struct server *s = *state;
	struct guard *g = guard_or_fail(true, NULL);
	struct guard_check chk;
	unsigned before;
	char url[128];
	long status;
	size_t i;
	CURLcode rc;

	for (i = 0; i < ARRAY_LEN(loopback_urls); i++) {
		if (loopback_urls[i].v6 && s->fd6 < 0)
			continue;
		snprintf(url, sizeof(url), loopback_urls[i].fmt, s->port);
		before = accepted(s);
		rc = transfer(url, g, &chk, &status, NULL);
		if (rc != CURLE_OK || status != 204 || chk.blocked != 0)
			fail_msg("%s: curl %d (%s), status %ld, blocked %d",
			    url, rc, curl_easy_strerror(rc), status,
			    chk.blocked);
		assert_true(accepted(s) > before);
	}
	guard_free(g);
}

/* An allow-list entry lets exactly that address through. */
static void
test_curl_allow_list(void **state)
{
	struct server *s = *state;
	struct guard *g = guard_or_fail(false, "127.0.0.1/32");
	struct guard_check chk;
	char url[128];
	long status;

	snprintf(url, sizeof(url), "http://127.1:%u/", s->port);
	assert_int_equal(transfer(url, g, &chk, &status, NULL), CURLE_OK);
	assert_int_equal(status, 204);
	assert_int_equal(chk.blocked, 0);
	if (s->fd6 >= 0) {
		snprintf(url, sizeof(url), "http://[::1]:%u/", s->port);
		assert_int_equal(transfer(url, g, &chk, &status, NULL),
		    CURLE_COULDNT_CONNECT);
		assert_int_equal(chk.blocked, 1);
		assert_string_equal(chk.addr, "::1");
	}
	guard_free(g);
}

/* A name that resolves to loopback (DNS rebinding's second answer) is
 * refused at connect time, whatever the name. */
static void
test_curl_name_to_loopback(void **state)
{
	struct server *s = *state;
	struct guard *g = guard_or_fail(false, NULL);
	struct guard_check chk;
	char url[128], resolve[128];
	unsigned before = accepted(s);
	long status;

	snprintf(url, sizeof(url), "http://rebind.example:%u/", s->port);
	snprintf(resolve, sizeof(resolve), "rebind.example:%u:127.0.0.1",
	    s->port);
	assert_int_equal(transfer(url, g, &chk, &status, resolve),
	    CURLE_COULDNT_CONNECT);
	assert_int_equal(chk.blocked, 1);
	assert_string_equal(chk.addr, "127.0.0.1");
	assert_int_equal(accepted(s), before);
	guard_free(g);
}

/* A redirect from an allowed address to a blocked one is refused at the
 * second hop: [::1] (allow-listed) answers 302 to 127.0.0.1. */
static void
test_curl_redirect_to_blocked(void **state)
{
	struct server *s = *state;
	struct guard *g = guard_or_fail(false, "::1");
	struct guard_check chk;
	unsigned before4 = atomic_load(&s->accepted4);
	char url[128];
	long status;

	if (s->fd6 < 0) {
		print_message("skipped: no IPv6 loopback\n");
		guard_free(g);
		return;
	}
	snprintf(s->redirect6, sizeof(s->redirect6),
	    "http://127.0.0.1:%u/next", s->port);
	snprintf(url, sizeof(url), "http://[::1]:%u/", s->port);
	assert_int_equal(transfer(url, g, &chk, &status, NULL),
	    CURLE_COULDNT_CONNECT);
	assert_int_equal(chk.blocked, 1);
	assert_string_equal(chk.addr, "127.0.0.1");
	assert_int_equal(atomic_load(&s->accepted4), before4);
	assert_true(atomic_load(&s->accepted6) > 0);
	s->redirect6[0] = '\0';
	guard_free(g);
}

/* No guard_check, or one without a guard, fails closed. */
static void
test_opensocket_fails_closed(void **state)
{
	struct curl_sockaddr_ex {
		struct curl_sockaddr	 sa;
		char			 room[sizeof(struct sockaddr_in6)];
	} ex;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct guard_check chk;

	(void)state;
	memset(&ex, 0, sizeof(ex));
	ex.sa.family = AF_INET;
	ex.sa.socktype = SOCK_STREAM;
	ex.sa.addrlen = sizeof(sin);
	inet_pton(AF_INET, "8.8.8.8", &sin.sin_addr);
	memcpy(&ex.sa.addr, &sin, sizeof(sin));
	assert_int_equal(guard_opensocket(NULL, CURLSOCKTYPE_IPCXN, &ex.sa),
	    CURL_SOCKET_BAD);
	guard_check_init(&chk, NULL);
	assert_int_equal(guard_opensocket(&chk, CURLSOCKTYPE_IPCXN, &ex.sa),
	    CURL_SOCKET_BAD);
	assert_int_equal(chk.blocked, 1);
	assert_string_equal(chk.addr, "8.8.8.8");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_defaults),
		cmocka_unit_test(test_ipv6_defaults),
		cmocka_unit_test(test_allow_list),
		cmocka_unit_test(test_allow_private),
		cmocka_unit_test(test_bad_sockaddr),
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_cidr_parsing),
		cmocka_unit_test(test_opensocket_fails_closed),
	};
	const struct CMUnitTest curl_tests[] = {
		cmocka_unit_test(test_curl_blocks_loopback),
		cmocka_unit_test(test_curl_allows_private),
		cmocka_unit_test(test_curl_allow_list),
		cmocka_unit_test(test_curl_name_to_loopback),
		cmocka_unit_test(test_curl_redirect_to_blocked),
	};
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("guard_curl", curl_tests,
	    server_setup, server_teardown);
	curl_global_cleanup();
	return failed;
}
