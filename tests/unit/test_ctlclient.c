/*
 * test_ctlclient.c - the control client's pieces: command-name matching,
 * the bounded line reader and sender over a real socketpair (split lines,
 * oversize lines, end of stream inside a line, timeouts, large requests),
 * connecting, socket path choice, submit batching, reading URLs from
 * stdin, argument parsing, and the text formatters.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "ctlclient.h"

/* The daemon end of a socketpair, fed by a thread so the reader really
 * sees the bytes arrive in separate pieces. */
struct feeder {
	int		 fd;
	const char	*const *pieces;
	size_t		 npieces;
	unsigned	 pause_ms;
	int		 close_after;
};

static void *
feeder_run(void *arg)
{
	struct feeder *f = arg;

	for (size_t i = 0; i < f->npieces; i++) {
		const char *p = f->pieces[i];
		size_t len = strlen(p);

		while (len > 0) {
			ssize_t n = write(f->fd, p, len);
			if (n <= 0)
				return NULL;
			p += n;
			len -= (size_t)n;
		}
		usleep(f->pause_ms * 1000);
	}
	if (f->close_after)
		close(f->fd);
	return NULL;
}

/* A client reading from a feeder thread, and what it read last. */
struct pair {
	struct ctlclient c;
	struct feeder	 f;
	pthread_t	 t;
	const char	*line;
	size_t		 len;
	char		 err[256];
};

/* Runs pieces through a feeder into a client with the given max_line. */
static void
pair_start(struct pair *p, const char *const *pieces, size_t n,
    size_t max_line, int close_after)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ctlclient_init(&p->c, max_line);
	ctlclient_attach(&p->c, sv[0]);
	ctlclient_set_timeout(&p->c, 5000);
	p->f.fd = sv[1];
	p->f.pieces = pieces;
	p->f.npieces = n;
	p->f.pause_ms = 20;
	p->f.close_after = close_after;
	p->err[0] = '\0';
	assert_int_equal(pthread_create(&p->t, NULL, feeder_run, &p->f), 0);
}

static void
pair_stop(struct pair *p)
{
	pthread_join(p->t, NULL);
	if (!p->f.close_after)
		close(p->f.fd);
	ctlclient_close(&p->c);
}

static int
pair_read(struct pair *p)
{
	return ctlclient_read_line(&p->c, &p->line, &p->len, p->err,
	    sizeof(p->err));
}

static int
pair_reply(struct pair *p, json_t **reply)
{
	return ctlclient_read_reply(&p->c, reply, &p->line, &p->len, p->err,
	    sizeof(p->err));
}

static void
expect_line(struct pair *p, const char *want)
{
	assert_int_equal(pair_read(p), 1);
	assert_int_equal(p->len, strlen(want));
	assert_string_equal(p->line, want);
}

/* Captures what a formatter prints. */
struct capture {
	char	*data;
	size_t	 len;
	FILE	*fp;
};

static FILE *
capture_open(struct capture *cap)
{
	cap->data = NULL;
	cap->fp = open_memstream(&cap->data, &cap->len);
	assert_non_null(cap->fp);
	return cap->fp;
}

static char *
capture_close(struct capture *cap)
{
	fclose(cap->fp);
	return cap->data;
}

static json_t *
parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (j == NULL)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

/* Runs a reply formatter on the JSON text reply and compares its output. */
static void
expect_print(void (*print)(FILE *, const json_t *), const char *reply,
    const char *want)
{
	json_t *r = parse(reply);
	struct capture cap;
	char *out;

	print(capture_open(&cap), r);
	out = capture_close(&cap);
	assert_string_equal(out, want);
	free(out);
	json_decref(r);
}

static const char *const names[] = {
	"submit", "status", "job", "jobs", "doc", "drain", "reload", "retry",
};

static void
test_match(void **state)
{
	size_t idx = 99;

	assert_int_equal(ctlclient_match("sta", names, ARRAY_LEN(names), &idx),
	    CTLCLIENT_MATCH_FOUND);
	assert_string_equal(names[idx], "status");
	/* An exact name wins over the longer name it prefixes. */
	assert_int_equal(ctlclient_match("job", names, ARRAY_LEN(names), &idx),
	    CTLCLIENT_MATCH_FOUND);
	assert_string_equal(names[idx], "job");
	assert_int_equal(ctlclient_match("jobs", names, ARRAY_LEN(names),
	    &idx), CTLCLIENT_MATCH_FOUND);
	assert_string_equal(names[idx], "jobs");
	assert_int_equal(ctlclient_match("do", names, ARRAY_LEN(names), &idx),
	    CTLCLIENT_MATCH_FOUND);
	assert_string_equal(names[idx], "doc");
	assert_int_equal(ctlclient_match("s", names, ARRAY_LEN(names), &idx),
	    CTLCLIENT_MATCH_AMBIGUOUS);
	assert_int_equal(ctlclient_match("jo", names, ARRAY_LEN(names), &idx),
	    CTLCLIENT_MATCH_AMBIGUOUS);
	assert_int_equal(ctlclient_match("re", names, ARRAY_LEN(names), &idx),
	    CTLCLIENT_MATCH_AMBIGUOUS);
	assert_int_equal(ctlclient_match("x", names, ARRAY_LEN(names), &idx),
	    CTLCLIENT_MATCH_NONE);
	assert_int_equal(ctlclient_match("statusx", names, ARRAY_LEN(names),
	    &idx), CTLCLIENT_MATCH_NONE);
	assert_int_equal(ctlclient_match("", names, ARRAY_LEN(names), &idx),
	    CTLCLIENT_MATCH_NONE);
}

static void
test_possibilities(void **state)
{
	struct capture cap;
	char *out;

	ctlclient_possibilities(capture_open(&cap), "re", names,
	    ARRAY_LEN(names));
	out = capture_close(&cap);
	assert_string_equal(out, "possibilities are:\n\treload\n\tretry\n");
	free(out);
	ctlclient_possibilities(capture_open(&cap), "zzz", names, 3);
	out = capture_close(&cap);
	assert_string_equal(out,
	    "possibilities are:\n\tsubmit\n\tstatus\n\tjob\n");
	free(out);
}

static void
test_read_split_lines(void **state)
{
	static const char *const pieces[] = {
		"{\"a\":1}\n{\"b\"", ":2}\r", "\n", "{\"c\":3}\n{\"d\"", ":4}\n",
	};
	struct pair p;

	pair_start(&p, pieces, ARRAY_LEN(pieces), 0, 1);
	expect_line(&p, "{\"a\":1}");
	expect_line(&p, "{\"b\":2}");
	expect_line(&p, "{\"c\":3}");
	expect_line(&p, "{\"d\":4}");
	assert_int_equal(pair_read(&p), 0);
	pair_stop(&p);
}

/* Many lines of varying length, straddling every read-chunk boundary. */
static void
test_read_many_lines(void **state)
{
	struct buf all;
	const char *pieces[1];
	struct pair p;
	char fill[600], want[700];

	buf_init(&all, 1 << 24);
	for (int i = 0; i < 3000; i++) {
		memset(fill, 'a' + i % 26, sizeof(fill));
		assert_int_equal(buf_appendf(&all, "%d:%.*s\n", i, i % 500,
		    fill), 0);
	}
	pieces[0] = all.data;
	pair_start(&p, pieces, 1, 1024, 1);
	for (int i = 0; i < 3000; i++) {
		memset(fill, 'a' + i % 26, sizeof(fill));
		snprintf(want, sizeof(want), "%d:%.*s", i, i % 500, fill);
		expect_line(&p, want);
	}
	pair_stop(&p);
	buf_free(&all);
}

static void
test_read_max_line(void **state)
{
	static const char *const pieces[] = {
		"0123456789abcdef\n", "0123456789abcdefX\n",
	};
	struct pair p;

	pair_start(&p, pieces, ARRAY_LEN(pieces), 16, 0);
	expect_line(&p, "0123456789abcdef");
	assert_int_equal(pair_read(&p), -1);
	assert_non_null(strstr(p.err, "longer than 16 bytes"));
	pair_stop(&p);
}

/* A line that never ends must fail once it passes the cap, not wait for
 * the newline or the end of stream. */
static void
test_read_oversize_unterminated(void **state)
{
	static const char *const pieces[] = { "aaaaaaaaaa", "bbbbbbbbbb",
	    "cccccccccc" };
	struct pair p;

	pair_start(&p, pieces, ARRAY_LEN(pieces), 15, 0);
	assert_int_equal(pair_read(&p), -1);
	assert_non_null(strstr(p.err, "longer than 15 bytes"));
	pair_stop(&p);
}

static void
test_read_eof_mid_line(void **state)
{
	static const char *const pieces[] = { "{\"ok\":true}\n{\"ok\":tr" };
	struct pair p;
	json_t *reply;

	pair_start(&p, pieces, 1, 0, 1);
	assert_int_equal(pair_reply(&p, &reply), 1);
	assert_true(json_is_true(json_object_get(reply, "ok")));
	json_decref(reply);
	assert_int_equal(pair_reply(&p, &reply), -1);
	assert_non_null(strstr(p.err, "middle of a reply"));
	pair_stop(&p);
}

static void
test_read_timeout(void **state)
{
	static const char *const pieces[] = { "{\"ok\":" };
	struct pair p;
	uint64_t start;

	pair_start(&p, pieces, 1, 0, 0);
	ctlclient_set_timeout(&p.c, 150);
	start = mono_ms();
	assert_int_equal(pair_read(&p), -1);
	assert_true(mono_ms() - start >= 140);
	assert_non_null(strstr(p.err, "timed out"));
	pair_stop(&p);
}

static void
test_read_reply_invalid(void **state)
{
	static const char *const pieces[] = { "not json\n[1,2]\n{\"ok\":1}\n" };
	struct pair p;
	json_t *reply = NULL;

	pair_start(&p, pieces, 1, 0, 1);
	assert_int_equal(pair_reply(&p, &reply), -1);
	assert_non_null(strstr(p.err, "invalid reply"));
	assert_int_equal(pair_reply(&p, &reply), -1);
	assert_non_null(strstr(p.err, "not an object"));
	assert_int_equal(pair_reply(&p, &reply), 1);
	assert_string_equal(p.line, "{\"ok\":1}");
	json_decref(reply);
	assert_int_equal(pair_reply(&p, &reply), 0);
	pair_stop(&p);
}

/* The daemon end of test_send_large: reads everything until EOF. */
struct drain {
	int		 fd;
	struct buf	 got;
};

static void *
drain_run(void *arg)
{
	struct drain *d = arg;
	char chunk[4096];
	ssize_t n;

	while ((n = read(d->fd, chunk, sizeof(chunk))) > 0) {
		usleep(100);	/* slower than the writer: partial writes */
		if (buf_append(&d->got, chunk, (size_t)n) == -1)
			break;
	}
	return NULL;
}

static void
test_send_large(void **state)
{
	struct ctlclient c;
	struct drain d;
	pthread_t t;
	char err[256] = "", *big;
	json_t *req, *back;
	int sv[2];

	big = malloc(4 << 20);
	assert_non_null(big);
	memset(big, 'u', (4 << 20) - 1);
	big[(4 << 20) - 1] = '\0';
	req = json_pack("{sss[s]}", "cmd", "submit", "urls", big);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ctlclient_init(&c, 0);
	ctlclient_attach(&c, sv[0]);
	ctlclient_set_timeout(&c, 20000);
	d.fd = sv[1];
	buf_init(&d.got, 16 << 20);
	assert_int_equal(pthread_create(&t, NULL, drain_run, &d), 0);
	assert_int_equal(ctlclient_send(&c, req, err, sizeof(err)), 0);
	ctlclient_close(&c);
	pthread_join(t, NULL);
	close(sv[1]);
	/* Exactly one line: the JSON, then one newline at the very end. */
	assert_true(d.got.len > (size_t)(4 << 20));
	assert_int_equal(d.got.data[d.got.len - 1], '\n');
	assert_null(memchr(d.got.data, '\n', d.got.len - 1));
	back = json_loadb(d.got.data, d.got.len - 1, 0, NULL);
	assert_true(json_equal(back, req));
	json_decref(back);
	json_decref(req);
	buf_free(&d.got);
	free(big);
}

static void
test_send_closed_peer(void **state)
{
	struct ctlclient c;
	char err[256] = "";
	json_t *req = json_pack("{ss}", "cmd", "status");
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	ctlclient_init(&c, 0);
	ctlclient_attach(&c, sv[0]);
	/* No SIGPIPE: the test would die here instead of failing. */
	assert_int_equal(ctlclient_send(&c, req, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "closed the connection"));
	ctlclient_close(&c);
	json_decref(req);
}

static void
test_connect(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/test_ctlclient.XXXXXX", path[128], err[256] = "";
	char longpath[200];
	struct ctlclient c;
	int lfd, afd;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	ctlclient_init(&c, 0);
	ctlclient_set_timeout(&c, 2000);
	assert_int_equal(ctlclient_connect(&c, path, err, sizeof(err)), 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	ctlclient_close(&c);
	close(afd);
	close(lfd);
	unlink(path);
	ctlclient_init(&c, 0);
	assert_int_equal(ctlclient_connect(&c, path, err, sizeof(err)), -1);
	assert_string_equal(err, strerror(ENOENT));
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(ctlclient_connect(&c, longpath, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "longer than"));
	ctlclient_close(&c);
	rmdir(dir);
}

static void
test_parse_time(void **state)
{
	uint64_t now = 1800000000000ULL, ms = 0;

	assert_int_equal(ctlclient_parse_time("+90", now, &ms), 0);
	assert_int_equal(ms, now + 90000);
	assert_int_equal(ctlclient_parse_time("+2h", now, &ms), 0);
	assert_int_equal(ms, now + 7200000);
	assert_int_equal(ctlclient_parse_time("-1d", now, &ms), 0);
	assert_int_equal(ms, now - 86400000);
	assert_int_equal(ctlclient_parse_time("-30m", now, &ms), 0);
	assert_int_equal(ms, now - 1800000);
	assert_int_equal(ctlclient_parse_time("2026-11-28T00:00:00Z", now,
	    &ms), 0);
	assert_int_equal(ms, 1795824000000ULL);
	assert_int_equal(ctlclient_parse_time("1700000000", now, &ms), 0);
	assert_int_equal(ms, 1700000000000ULL);
	assert_int_equal(ctlclient_parse_time("+", now, &ms), -1);
	assert_int_equal(ctlclient_parse_time("+5x", now, &ms), -1);
	assert_int_equal(ctlclient_parse_time("+5mm", now, &ms), -1);
	assert_int_equal(ctlclient_parse_time("-99999999999d", now, &ms), -1);
	assert_int_equal(ctlclient_parse_time("tomorrow", now, &ms), -1);
}

static void
test_fmt_units(void **state)
{
	char out[32];

	assert_string_equal(ctlclient_fmt_bytes(0, out, sizeof(out)), "0 B");
	assert_string_equal(ctlclient_fmt_bytes(1023, out, sizeof(out)),
	    "1023 B");
	assert_string_equal(ctlclient_fmt_bytes(1536, out, sizeof(out)),
	    "1.5 KiB");
	assert_string_equal(ctlclient_fmt_bytes(10485760, out, sizeof(out)),
	    "10.0 MiB");
	assert_string_equal(ctlclient_fmt_bytes(17179869184ULL, out,
	    sizeof(out)), "16.0 GiB");
	assert_string_equal(ctlclient_fmt_duration(45, out, sizeof(out)),
	    "45s");
	assert_string_equal(ctlclient_fmt_duration(725, out, sizeof(out)),
	    "12m05s");
	assert_string_equal(ctlclient_fmt_duration(3725, out, sizeof(out)),
	    "1h02m");
	assert_string_equal(ctlclient_fmt_duration(187200, out, sizeof(out)),
	    "2d04h");
}

static void
test_error_text(void **state)
{
	json_t *r = parse("{\"ok\":false,\"error\":{\"code\":\"not_found\","
	    "\"message\":\"no job 41\"}}");
	json_t *bare = parse("{\"ok\":false}");
	json_t *code = parse("{\"ok\":false,\"error\":{\"code\":\"busy\"}}");
	char out[128];

	assert_string_equal(ctlclient_error_text(r, out, sizeof(out)),
	    "not_found: no job 41");
	assert_string_equal(ctlclient_error_text(bare, out, sizeof(out)),
	    "unknown error");
	assert_string_equal(ctlclient_error_text(code, out, sizeof(out)),
	    "busy");
	json_decref(r);
	json_decref(bare);
	json_decref(code);
}

static void
test_fmt_progress(void **state)
{
	struct ctlclient_progress p = { .start_ms = 1000, .sent = 5000,
	    .queued = 4000, .duplicates = 900, .rejected = 100 };
	char out[256];

	assert_string_equal(ctlclient_fmt_progress(&p, 3000, out,
	    sizeof(out)), "5000 sent: 4000 queued, 900 duplicate, "
	    "100 rejected, 2500/s");
	p.read_bytes = 250;
	p.total_bytes = 1000;
	assert_string_equal(ctlclient_fmt_progress(&p, 3000, out,
	    sizeof(out)), "[#####...............]  25% 5000 sent: 4000 "
	    "queued, 900 duplicate, 100 rejected, 2500/s");
	p.read_bytes = 2000;	/* buffered reads may run ahead */
	assert_non_null(strstr(ctlclient_fmt_progress(&p, 3000, out,
	    sizeof(out)), "[####################] 100%"));
}

static void
test_print_submit_result(void **state)
{
	json_t *r = parse("{\"results\":["
	    "{\"url\":\"https://e.org/a\",\"status\":\"queued\",\"id\":41},"
	    "{\"url\":\"https://e.org/b\",\"status\":\"duplicate\",\"id\":7,"
	    "\"duplicate\":\"url\",\"state\":\"done\"},"
	    "{\"url\":\"ftp://x\",\"status\":\"rejected\",\"error\":{\"code\":"
	    "\"bad_scheme\",\"message\":\"only http and https\"}},"
	    "{\"url\":\"https://e.org/c\",\"status\":\"queued\",\"id\":3,"
	    "\"requeued\":true}]}");
	struct capture cap;
	size_t i;
	json_t *res;
	char *out;

	capture_open(&cap);
	json_array_foreach(json_object_get(r, "results"), i, res)
		ctlclient_print_submit_result(cap.fp, res);
	out = capture_close(&cap);
	assert_string_equal(out,
	    "queued    41 https://e.org/a\n"
	    "duplicate 7 https://e.org/b (done)\n"
	    "rejected  - ftp://x (bad_scheme: only http and https)\n"
	    "requeued  3 https://e.org/c\n");
	free(out);
	json_decref(r);
}

static void
test_print_status(void **state)
{
	expect_print(ctlclient_print_status,
	    "{\"ok\":true,\"version\":\"0.1.0\",\"uptime_s\":3600,"
	    "\"paused\":true,\"draining\":false,\"jobs\":{\"queued\":10,"
	    "\"active\":2,\"done\":900,\"failed\":3,\"cancelled\":0},"
	    "\"totals\":{\"submitted\":915,\"fetched\":903,\"failed\":3,"
	    "\"retried\":6,\"bytes\":51234567,\"not_modified\":4},"
	    "\"duplicates\":{\"submit\":5,\"url\":12,"
	    "\"exact\":1,\"near\":2,\"index_docs\":880,"
	    "\"index_bytes\":3145728,"
	    "\"index_full\":true},\"rate_1m\":12.5,\"inflight\":2,"
	    "\"robots_inflight\":1,\"to_commit\":1,"
	    "\"workers\":2,\"work_backlog\":5,\"store\":{\"used_bytes\":"
	    "10485760,\"map_size\":67108864,\"map_size_max\":17179869184,"
	    "\"full\":true}}",
	    "sluiced 0.1.0, up 1h00m, paused\n"
	    "jobs      10 queued, 2 active, 900 done, 3 failed, 0 cancelled\n"
	    "totals    915 submitted, 903 fetched, 3 failed, 6 retried, "
	    "4 not modified, 48.9 MiB\n"
	    "dups      5 at submit, 12 url, 1 exact, 2 near; index 880 docs, "
	    "3.0 MiB in memory, FULL: new documents are not indexed\n"
	    "pipeline  2 transfers in flight (1 robots.txt), 5 pages at "
	    "2 workers, 1 results to commit\n"
	    "rate      12.5 jobs/s over 1 min\n"
	    "store     10.0 MiB used of 64.0 MiB map (max 16.0 GiB), FULL: "
	    "submissions refused\n");
	/* Missing fields read as zero rather than crashing. */
	expect_print(ctlclient_print_status, "{\"ok\":true}",
	    "sluiced ?, up 0s, dispatching\n"
	    "jobs      0 queued, 0 active, 0 done, 0 failed, 0 cancelled\n"
	    "totals    0 submitted, 0 fetched, 0 failed, 0 retried, "
	    "0 not modified, 0 B\n"
	    "dups      0 at submit, 0 url, 0 exact, 0 near; index 0 docs, "
	    "0 B in memory\n"
	    "pipeline  0 transfers in flight (0 robots.txt), 0 pages at "
	    "0 workers, 0 results to commit\n"
	    "rate      0.0 jobs/s over 1 min\n"
	    "store     0 B used of 0 B map (max 0 B)\n");
}

static void
test_print_object(void **state)
{
	expect_print(ctlclient_print_object,
	    "{\"id\":41,\"url\":\"https://e.org/a\",\"http_status\":503,"
	    "\"error\":{\"code\":\"http_status\",\"message\":\"HTTP 503\"},"
	    "\"not_before\":null,\"tags\":[1,2]}",
	    "id:          41\n"
	    "url:         https://e.org/a\n"
	    "http_status: 503\n"
	    "error:       http_status: HTTP 503\n"
	    "not_before:  -\n"
	    "tags:        [1,2]\n");
}

static void
test_print_jobs(void **state)
{
	json_t *jobs = parse("["
	    "{\"id\":7,\"url\":\"https://e.org/a\",\"state\":\"done\","
	    "\"attempts\":1,\"http_status\":200,\"error\":null},"
	    "{\"id\":1234,\"url\":\"https://e.org/long\",\"state\":\"failed\","
	    "\"attempts\":3,\"http_status\":503,\"error\":{\"code\":"
	    "\"http_status\",\"message\":\"HTTP 503\"}},"
	    "{\"id\":1235,\"url\":\"https://e.org/q\",\"state\":\"queued\","
	    "\"attempts\":0,\"http_status\":null}]");
	struct capture cap;
	char *out;

	ctlclient_print_jobs(capture_open(&cap), jobs, 1);
	out = capture_close(&cap);
	assert_string_equal(out,
	    "  ID  STATE   ATTEMPTS  HTTP  URL                 ERROR\n"
	    "   7  done           1   200  https://e.org/a     -\n"
	    "1234  failed         3   503  https://e.org/long  "
	    "http_status: HTTP 503\n"
	    "1235  queued         0     -  https://e.org/q     -\n");
	free(out);
	ctlclient_print_jobs(capture_open(&cap), jobs, 0);
	out = capture_close(&cap);
	assert_null(strstr(out, "STATE"));
	free(out);
	json_decref(jobs);
}

static void
test_print_reload(void **state)
{
	expect_print(ctlclient_print_reload, "{\"ok\":true,\"applied\":"
	    "[\"fetch.max_total\",\"fetch.timeout\"],\"restart_required\":[]}",
	    "applied: fetch.max_total, fetch.timeout\n"
	    "restart required: none\n");
	expect_print(ctlclient_print_reload, "{\"ok\":true,\"applied\":[],"
	    "\"restart_required\":[\"daemon.state_dir\"]}",
	    "applied: none\nrestart required: daemon.state_dir\n");
}

static void
test_batch_counts(void **state)
{
	struct ctlclient_batch b;
	json_t *urls;

	assert_int_equal(ctlclient_batch_init(&b, 3, 1 << 20), 0);
	assert_int_equal(ctlclient_batch_add(&b, "https://e.org/1"),
	    CTLCLIENT_ADD_OK);
	assert_int_equal(ctlclient_batch_add(&b, "https://e.org/2"),
	    CTLCLIENT_ADD_OK);
	assert_false(ctlclient_batch_full(&b));
	assert_int_equal(ctlclient_batch_add(&b, "https://e.org/3"),
	    CTLCLIENT_ADD_OK);
	assert_true(ctlclient_batch_full(&b));
	assert_int_equal(ctlclient_batch_add(&b, "https://e.org/4"),
	    CTLCLIENT_ADD_FULL);
	urls = ctlclient_batch_take(&b);
	assert_int_equal(json_array_size(urls), 3);
	assert_string_equal(json_string_value(json_array_get(urls, 2)),
	    "https://e.org/3");
	json_decref(urls);
	assert_int_equal(ctlclient_batch_count(&b), 0);
	assert_int_equal(ctlclient_batch_add(&b, "https://e.org/4"),
	    CTLCLIENT_ADD_OK);
	assert_int_equal(ctlclient_batch_add(&b, "bad \xff utf-8"),
	    CTLCLIENT_ADD_BAD_UTF8);
	assert_int_equal(ctlclient_batch_count(&b), 1);
	ctlclient_batch_free(&b);
	assert_int_equal(ctlclient_batch_init(&b, 3, 100), -1);
	ctlclient_batch_free(&b);
}

/* Every request a batch makes, encoded, stays within max_request, even
 * for URLs full of characters JSON must escape. */
static void
test_batch_bytes(void **state)
{
	const size_t max_request = 2048;
	struct ctlclient_batch b;
	char url[300];
	size_t sent = 0, requests = 0;
	json_t *urls;

	assert_int_equal(ctlclient_batch_init(&b, 1000, max_request), 0);
	for (int i = 0; i < 200; i++) {
		int len = snprintf(url, sizeof(url), "https://e.org/%d/", i);

		memset(url + len, "x\"\x18"[i % 3], (size_t)(i % 150));
		url[len + i % 150] = '\0';
		if (ctlclient_batch_add(&b, url) == CTLCLIENT_ADD_OK)
			continue;
		urls = ctlclient_batch_take(&b);
		char *arr = json_dumps(urls, JSON_COMPACT);

		assert_non_null(arr);
		assert_true(strlen(arr) + CTLCLIENT_REQUEST_OVERHEAD <=
		    max_request);
		free(arr);
		json_t *req = json_pack("{sssIsbssso}", "cmd", "submit",
		    "priority", (json_int_t)-1000, "force", 1, "not_before",
		    "2026-11-28T02:06:22.123Z", "urls", urls);
		char *line = json_dumps(req, JSON_COMPACT);

		assert_non_null(line);
		assert_true(strlen(line) + 1 <= max_request);
		sent += json_array_size(urls);
		requests++;
		free(line);
		json_decref(req);
		assert_int_equal(ctlclient_batch_add(&b, url), CTLCLIENT_ADD_OK);
	}
	sent += ctlclient_batch_count(&b);
	assert_int_equal(sent, 200);
	assert_true(requests > 5);
	/* One URL that fits in no request at all. */
	memset(url, 'a', sizeof(url) - 1);
	url[sizeof(url) - 1] = '\0';
	ctlclient_batch_free(&b);
	assert_int_equal(ctlclient_batch_init(&b, 10, 512), 0);
	assert_int_equal(ctlclient_batch_add(&b, url), CTLCLIENT_ADD_TOO_LONG);
	ctlclient_batch_free(&b);
}

/* A URL just at the limit: whatever is accepted alone still fits. */
static void
test_batch_boundary(void **state)
{
	const size_t max_request = 1024;
	struct ctlclient_batch b;
	char url[900];
	json_t *urls;
	char *arr;

	for (size_t len = 700; len < 800; len++) {
		assert_int_equal(ctlclient_batch_init(&b, 10, max_request), 0);
		memset(url, 'u', len);
		url[len] = '\0';
		if (ctlclient_batch_add(&b, url) == CTLCLIENT_ADD_OK) {
			urls = ctlclient_batch_take(&b);
			arr = json_dumps(urls, JSON_COMPACT);
			assert_true(strlen(arr) + CTLCLIENT_REQUEST_OVERHEAD <=
			    max_request);
			free(arr);
			json_decref(urls);
		}
		ctlclient_batch_free(&b);
	}
}

static void
test_read_url(void **state)
{
	static const char input[] =
	    "# a comment\n"
	    "\n"
	    "  https://e.org/a  \r\n"
	    "\t\n"
	    "https://e.org/toolongtoolong\n"
	    "https://e.org/b\n"
	    "https://e.org/c";
	FILE *in = fmemopen((void *)input, sizeof(input) - 1, "r");
	char buf[24], *url;
	uint64_t lineno = 0;

	assert_non_null(in);
	assert_int_equal(ctlclient_read_url(in, buf, sizeof(buf), &url,
	    &lineno), 1);
	assert_string_equal(url, "https://e.org/a");
	assert_int_equal(lineno, 3);
	assert_int_equal(ctlclient_read_url(in, buf, sizeof(buf), &url,
	    &lineno), -1);
	assert_int_equal(lineno, 5);
	assert_int_equal(ctlclient_read_url(in, buf, sizeof(buf), &url,
	    &lineno), 1);
	assert_string_equal(url, "https://e.org/b");
	assert_int_equal(ctlclient_read_url(in, buf, sizeof(buf), &url,
	    &lineno), 1);
	assert_string_equal(url, "https://e.org/c");
	assert_int_equal(lineno, 7);
	assert_int_equal(ctlclient_read_url(in, buf, sizeof(buf), &url,
	    &lineno), 0);
	fclose(in);
}

static void
test_fmt_config_value(void **state)
{
	static const char *const cases[][2] = {
		{ "10485760B", "10MiB" }, { "100B", "100B" }, { "0B", "0B" },
		{ "1536B", "1536B" }, { "3072B", "3KiB" },
		{ "17179869184B", "16GiB" }, { "100ms", "100ms" },
		{ "1000ms", "1s" }, { "90000ms", "90s" }, { "0ms", "0" },
		{ "86400000ms", "24h" }, { "2592000000ms", "30d" },
		{ "1500ms", "1500ms" }, { "64", "64" }, { "info", "info" },
		{ "/var/lib/items", "/var/lib/items" }, { "ms", "ms" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(ctlclient_fmt_config_value(cases[i][0], out,
		    sizeof(out)), cases[i][1]);
}

static void
test_socket_path(void **state)
{
	char out[64];

	unsetenv("SLUICE_SOCKET");
	unsetenv("RUNTIME_DIRECTORY");
	assert_int_equal(ctlclient_socket_path(NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/run/sluice/control.sock");
	setenv("RUNTIME_DIRECTORY", "/run/a:/run/b", 1);
	assert_int_equal(ctlclient_socket_path(NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/run/a/control.sock");
	setenv("SLUICE_SOCKET", "/tmp/env.sock", 1);
	assert_int_equal(ctlclient_socket_path(NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "/tmp/env.sock");
	assert_int_equal(ctlclient_socket_path("/tmp/opt.sock", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "/tmp/opt.sock");
	assert_int_equal(ctlclient_socket_path("/tmp/opt.sock", out, 8), -1);
	unsetenv("SLUICE_SOCKET");
	unsetenv("RUNTIME_DIRECTORY");
}

static void
test_parse_numbers(void **state)
{
	uint64_t v = 0;

	assert_int_equal(ctlclient_parse_uint("42", 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(ctlclient_parse_uint("101", 100, &v), -1);
	assert_int_equal(ctlclient_parse_uint("-1", 100, &v), -1);
	assert_int_equal(ctlclient_parse_uint(" 1", 100, &v), -1);
	assert_int_equal(ctlclient_parse_uint("1x", 100, &v), -1);
	assert_int_equal(ctlclient_parse_uint("", 100, &v), -1);
	assert_int_equal(ctlclient_parse_seconds("0.25", &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(ctlclient_parse_seconds("30", &v), 0);
	assert_int_equal(v, 30000);
	assert_int_equal(ctlclient_parse_seconds("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ctlclient_parse_seconds("-1", &v), -1);
	assert_int_equal(ctlclient_parse_seconds("nan", &v), -1);
	assert_int_equal(ctlclient_parse_seconds("1e9", &v), -1);
	assert_int_equal(ctlclient_parse_seconds("5s", &v), -1);
}

/* The one-line replies, each from the protocol's example. */
static void
test_print_short_replies(void **state)
{
	static const struct {
		void		(*print)(FILE *, const json_t *);
		const char	*reply;
		const char	*want;
	} cases[] = {
		{ ctlclient_print_paused, "{\"ok\":true,\"paused\":true}",
		    "paused: no new fetches are dispatched\n" },
		{ ctlclient_print_paused, "{\"ok\":true,\"paused\":false}",
		    "resumed: fetches are dispatched\n" },
		{ ctlclient_print_retried, "{\"ok\":true,\"retried\":17}",
		    "retried 17 jobs\n" },
		{ ctlclient_print_retried, "{\"ok\":true,\"retried\":1}",
		    "retried 1 job\n" },
		{ ctlclient_print_drained, "{\"ok\":true,\"paused\":true,"
		    "\"inflight\":0}", "drained: dispatching paused, 0 in "
		    "flight\n" },
		{ ctlclient_print_idle, "{\"ok\":true,\"queued\":0,"
		    "\"active\":0}", "idle: 0 queued, 0 active\n" },
		{ ctlclient_print_job, "{\"ok\":true,\"job\":{\"id\":41,"
		    "\"state\":\"cancelled\"}}", "id:    41\nstate: cancelled\n" },
		{ ctlclient_print_doc, "{\"ok\":true,\"doc\":{\"id\":41,"
		    "\"text\":\"a\\nb\"}}", "{\n  \"id\": 41,\n  \"text\": "
		    "\"a\\nb\"\n}\n" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		expect_print(cases[i].print, cases[i].reply, cases[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_possibilities),
		cmocka_unit_test(test_read_split_lines),
		cmocka_unit_test(test_read_many_lines),
		cmocka_unit_test(test_read_max_line),
		cmocka_unit_test(test_read_oversize_unterminated),
		cmocka_unit_test(test_read_eof_mid_line),
		cmocka_unit_test(test_read_timeout),
		cmocka_unit_test(test_read_reply_invalid),
		cmocka_unit_test(test_send_large),
		cmocka_unit_test(test_send_closed_peer),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_fmt_units),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_fmt_progress),
		cmocka_unit_test(test_print_submit_result),
		cmocka_unit_test(test_print_status),
		cmocka_unit_test(test_print_object),
		cmocka_unit_test(test_print_jobs),
		cmocka_unit_test(test_print_reload),
		cmocka_unit_test(test_batch_counts),
		cmocka_unit_test(test_batch_bytes),
		cmocka_unit_test(test_batch_boundary),
		cmocka_unit_test(test_read_url),
		cmocka_unit_test(test_fmt_config_value),
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_print_short_replies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
