/*
 * watch.c - `sluicectl watch`'s screen and its one-line form, from a
 * `stats` reply (see watch.h).  Lines are built whole, then cut to the
 * terminal's width (counting UTF-8 characters, not bytes) and dropped from
 * the bottom sections first when the terminal is short.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctlclient.h"
#include "watch.h"

#define WATCH_LINE	512
#define WATCH_LINES	64

struct screen {
	char	 lines[WATCH_LINES][WATCH_LINE];
	int	 n;
};

static void
screen_add(struct screen *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
screen_add(struct screen *s, const char *fmt, ...)
{
	va_list ap;

	if (s->n >= WATCH_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(s->lines[s->n++], WATCH_LINE, fmt, ap);
	va_end(ap);
}

static long long
num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static double
real(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static const char *
str(const json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : def;
}

long
watch_eta(const json_t *st)
{
	const json_t *jobs = json_object_get(st, "jobs");
	const json_t *rates = json_object_get(st, "rates");
	double rate = real(json_object_get(rates, "1m"), "pages_per_s");
	long long left = num(jobs, "queued") + num(jobs, "active");

	if (left == 0)
		return 0;
	if (rate <= 0)
		rate = real(json_object_get(rates, "10s"), "pages_per_s");
	return rate > 0 ? (long)((double)left / rate + 0.5) : -1;
}

static const char *
eta_text(const json_t *st, char *out, size_t outlen)
{
	long eta = watch_eta(st);

	if (eta < 0)
		return "-";
	return ctlclient_fmt_duration((uint64_t)eta, out, outlen);
}

static const char *
rate_text(const json_t *r, char *out, size_t outlen)
{
	char b[32];

	ctlclient_fmt_bytes((uint64_t)real(r, "bytes_per_s"), b, sizeof(b));
	snprintf(out, outlen, "%.1f pages/s %s/s", real(r, "pages_per_s"), b);
	return out;
}

/* "12:34:56" of an RFC 3339 time (the daemon's are UTC), or "-". */
static const char *
clock_of(const char *ts)
{
	static char out[16];
	const char *t = ts ? strchr(ts, 'T') : NULL;

	if (t == NULL || strlen(t) < 9)
		return "-";
	snprintf(out, sizeof(out), "%.8s", t + 1);
	return out;
}

static void
watch_jobs(struct screen *s, const json_t *st)
{
	const json_t *j = json_object_get(st, "jobs");

	screen_add(s, "jobs      queued %lld  active %lld  done %lld  "
	    "failed %lld  cancelled %lld  (in flight %lld, cleaning %lld)",
	    num(j, "queued"), num(j, "active"), num(j, "done"),
	    num(j, "failed"), num(j, "cancelled"), num(st, "inflight"),
	    num(st, "work_backlog"));
}

static void
watch_rates(struct screen *s, const json_t *st)
{
	const json_t *r = json_object_get(st, "rates");
	char a[64], b[64], eta[32];

	screen_add(s, "rate      ETA %s   10s: %s   1m: %s",
	    eta_text(st, eta, sizeof(eta)),
	    rate_text(json_object_get(r, "10s"), a, sizeof(a)),
	    rate_text(json_object_get(r, "1m"), b, sizeof(b)));
}

static void
watch_fetches(struct screen *s, const json_t *st)
{
	const json_t *f = json_object_get(st, "fetches_1m");
	const char *k;
	json_t *v;
	char line[WATCH_LINE];
	size_t n = 0;

	n += (size_t)snprintf(line, sizeof(line), "fetches   last 1m:");
	json_object_foreach((json_t *)f, k, v) {
		if (n < sizeof(line))
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			    "  %s %lld", k, (long long)json_integer_value(v));
	}
	screen_add(s, "%s", line);
}

static int
watch_hosts(struct screen *s, const json_t *st, int room)
{
	const json_t *hosts = json_object_get(st, "hosts");
	size_t i;
	json_t *h;
	int used = 0;

	if (room < 2 || json_array_size(hosts) == 0)
		return 0;
	screen_add(s, "%s", "");
	screen_add(s, "%-40s %8s %8s  %s", "HOST", "INFLIGHT", "QUEUED",
	    "BACKOFF UNTIL");
	used = 2;
	json_array_foreach((json_t *)hosts, i, h) {
		if (used >= room)
			break;
		screen_add(s, "%-40s %8lld %8lld  %s", str(h, "host", "?"),
		    num(h, "inflight"), num(h, "queued"),
		    clock_of(str(h, "backoff_until", NULL)));
		used++;
	}
	return used;
}

static int
watch_failures(struct screen *s, const json_t *st, int room)
{
	const json_t *fails = json_object_get(st, "failures");
	size_t i;
	json_t *f;
	int used;

	if (room < 3 || json_array_size(fails) == 0)
		return 0;
	screen_add(s, "%s", "");
	screen_add(s, "%-8s %8s %-22s %s", "FAILED", "ID", "ERROR", "URL");
	used = 2;
	json_array_foreach((json_t *)fails, i, f) {
		char code[40];
		if (used >= room)
			break;
		if (num(f, "http_status"))
			snprintf(code, sizeof(code), "%s %lld",
			    str(f, "code", "?"), num(f, "http_status"));
		else
			snprintf(code, sizeof(code), "%s", str(f, "code", "?"));
		screen_add(s, "%-8s %8lld %-22s %s",
		    clock_of(str(f, "at", NULL)), num(f, "id"), code,
		    str(f, "url", ""));
		used++;
	}
	return used;
}

/* Writes line cut to width characters (UTF-8 continuation bytes do not
 * count). */
static void
put_cut(FILE *out, const char *line, int width)
{
	int cols = 0;
	const unsigned char *p = (const unsigned char *)line;

	for (; *p != '\0'; p++) {
		if ((*p & 0xc0) != 0x80 && cols++ >= width)
			break;
		fputc(*p, out);
	}
}

void
watch_draw(FILE *out, const json_t *st, int width, int height,
    unsigned long interval_ms)
{
	static struct screen s;
	char title[160], up[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t nfail = json_array_size(json_object_get(st, "failures"));
	int left, fail_room = 0;

	if (width < 20)
		width = 20;
	if (height < 4)
		height = 4;
	s.n = 0;
	localtime_r(&now, &tm);
	ctlclient_fmt_duration((uint64_t)num(st, "uptime_s"), up, sizeof(up));
	snprintf(title, sizeof(title), "sluiced %s, up %s%s%s  %02d:%02d:%02d"
	    "  every %.1fs, q quits", str(st, "version", "?"), up,
	    json_is_true(json_object_get(st, "paused")) ? ", paused" : "",
	    json_is_true(json_object_get(st, "draining")) ? ", stopping" : "",
	    tm.tm_hour, tm.tm_min, tm.tm_sec, (double)interval_ms / 1000);
	screen_add(&s, "%s", title);
	watch_jobs(&s, st);
	watch_rates(&s, st);
	watch_fetches(&s, st);
	/* What is left goes to the hosts and the failures; the failures
	 * get at most half of it. */
	left = height - s.n;
	if (nfail > 0 && left >= 6) {
		fail_room = (int)nfail + 2;
		if (fail_room > left / 2)
			fail_room = left / 2;
	}
	watch_hosts(&s, st, left - fail_room);
	watch_failures(&s, st, height - s.n);
	fputs("\033[H", out);
	for (int i = 0; i < s.n && i < height; i++) {
		put_cut(out, s.lines[i], width);
		fputs("\033[K", out);
		if (i + 1 < s.n && i + 1 < height)
			fputs("\r\n", out);
	}
	fputs("\033[J", out);
	fflush(out);
}

void
watch_line(FILE *out, const json_t *st)
{
	const json_t *j = json_object_get(st, "jobs");
	const json_t *r = json_object_get(st, "rates");
	const json_t *f = json_object_get(st, "fetches_1m");
	char a[64], b[64], eta[32], ts[16];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	fprintf(out, "%s queued %lld active %lld done %lld failed %lld "
	    "cancelled %lld | 10s %s | 1m %s | eta %s | 1m fetches ok %lld "
	    "errors %lld\n", ts, num(j, "queued"), num(j, "active"),
	    num(j, "done"), num(j, "failed"), num(j, "cancelled"),
	    rate_text(json_object_get(r, "10s"), a, sizeof(a)),
	    rate_text(json_object_get(r, "1m"), b, sizeof(b)),
	    eta_text(st, eta, sizeof(eta)), num(f, "ok"),
	    num(f, "http_error") + num(f, "network") + num(f, "timeout") +
	    num(f, "blocked") + num(f, "too_large"));
	fflush(out);
}
