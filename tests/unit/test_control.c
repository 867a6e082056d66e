/*
 * test_control.c - the control socket's framing (daemon/control.c), over a
 * real socket and event loop: "\r\n" framing against daemon.max_request, a
 * raw NUL in a line, and a line cut short by the end of the stream.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/event.h>

#include "control.h"
#include "proto.h"

#define MAX_REQUEST	1024

struct fx {
	struct event_base *base;
	struct control	*ctl;
	char		 dir[64];
	char		 path[128];
	int		 requests;	/* lines handed to the callback */
};

/* Answers each line as the daemon would: its parse result. */
static void
on_request(struct ctl_conn *c, const char *line, size_t len, void *arg)
{
	struct fx *fx = arg;
	enum proto_cmd cmd;
	json_t *req;
	char err[256];

	fx->requests++;
	if (proto_parse(line, len, 10, &req, &cmd, err, sizeof(err)) !=
	    PROTO_OK) {
		control_reply(c, proto_error(PROTO_BAD_REQUEST, err));
		return;
	}
	json_decref(req);
	control_reply(c, proto_ok());
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct control_limits lim = { 4, MAX_REQUEST, 1 << 20, 1 << 30 };
	char err[256];

	strcpy(fx->dir, "/tmp/sluice-test-control-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/ctl.sock", fx->dir);
	fx->base = event_base_new();
	fx->ctl = control_new(fx->base, fx->path, 0600, -1, &lim, on_request,
	    fx, err, sizeof(err));
	assert_non_null(fx->ctl);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	control_free(fx->ctl);
	event_base_free(fx->base);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static int
client(struct fx *fx)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sun.sun_path, fx->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void
spin(struct fx *fx)
{
	for (int i = 0; i < 20; i++)
		event_base_loop(fx->base, EVLOOP_NONBLOCK);
}

/* Everything the daemon sent so far (and whether it closed). */
static size_t
drain(struct fx *fx, int fd, char *out, size_t outlen, int *closed)
{
	size_t len = 0;

	*closed = 0;
	spin(fx);
	for (;;) {
		ssize_t n = recv(fd, out + len, outlen - 1 - len, MSG_DONTWAIT);

		if (n > 0) {
			len += (size_t)n;
			spin(fx);
			continue;
		}
		if (n == 0)
			*closed = 1;
		break;
	}
	out[len] = '\0';
	return len;
}

static void
send_all(int fd, const char *s, size_t len)
{
	assert_int_equal(send(fd, s, len, 0), (ssize_t)len);
}

/* A line of exactly daemon.max_request bytes is accepted with "\r\n" as
 * with "\n": the \r is part of the line ending, not of the request. */
static void
test_crlf_at_limit(void **state)
{
	struct fx *fx = *state;
	char line[MAX_REQUEST + 3], out[4096];
	const char *head = "{\"cmd\":\"status\",\"tag\":\"";
	size_t h = strlen(head);
	int fd = client(fx), closed;

	memcpy(line, head, h);
	memset(line + h, 'p', MAX_REQUEST - h - 2);
	memcpy(line + MAX_REQUEST - 2, "\"}", 2);
	memcpy(line + MAX_REQUEST, "\r\n", 3);
	send_all(fd, line, MAX_REQUEST + 2);
	drain(fx, fd, out, sizeof(out), &closed);
	assert_string_equal(out, "{\"ok\":true}\n");
	/* Sent in two pieces, the \r alone in the buffer at the limit. */
	send_all(fd, line, MAX_REQUEST + 1);
	drain(fx, fd, out, sizeof(out), &closed);
	assert_string_equal(out, "");
	send_all(fd, "\n", 1);
	drain(fx, fd, out, sizeof(out), &closed);
	assert_string_equal(out, "{\"ok\":true}\n");
	/* One byte more is too large, with either ending. */
	line[MAX_REQUEST] = ' ';
	memcpy(line + MAX_REQUEST + 1, "\r\n", 2);
	send_all(fd, line, MAX_REQUEST + 3);
	drain(fx, fd, out, sizeof(out), &closed);
	assert_non_null(strstr(out, "too_large"));
	assert_int_equal(closed, 0);
	close(fd);
}

/* A raw NUL does not cut the line into a shorter request that runs. */
static void
test_nul_is_bad_request(void **state)
{
	struct fx *fx = *state;
	static const char line[] = "{\"cmd\":\"status\"}\0{\"cmd\":\"x\"}\n";
	char out[4096];
	int fd = client(fx), closed;

	send_all(fd, line, sizeof(line) - 1);
	drain(fx, fd, out, sizeof(out), &closed);
	assert_non_null(strstr(out, "\"bad_request\""));
	assert_non_null(strstr(out, "NUL"));
	close(fd);
}

/* A line cut short by the end of the stream is never run: bad_request if
 * it parses, nothing if not; then the connection is closed. */
static void
test_unterminated_line(void **state)
{
	struct fx *fx = *state;
	char out[4096];
	int fd = client(fx), closed;

	send_all(fd, "{\"cmd\":\"status\",\"tag\":5}\n{\"cmd\":\"status\","
	    "\"tag\":6}", 49);
	shutdown(fd, SHUT_WR);
	drain(fx, fd, out, sizeof(out), &closed);
	assert_int_equal(fx->requests, 1);
	assert_non_null(strstr(out, "{\"ok\":true}\n{\"ok\":false"));
	assert_non_null(strstr(out, "\"bad_request\""));
	assert_non_null(strstr(out, "\"tag\":6"));
	assert_int_equal(closed, 1);
	close(fd);

	fd = client(fx);
	send_all(fd, "{\"cmd\":\"sta", 11);
	shutdown(fd, SHUT_WR);
	drain(fx, fd, out, sizeof(out), &closed);
	assert_string_equal(out, "");
	assert_int_equal(closed, 1);
	close(fd);
	spin(fx);
	assert_int_equal(control_nconns(fx->ctl), 0);
	assert_int_equal(fx->requests, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crlf_at_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nul_is_bad_request, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unterminated_line, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
