/*
 * util.c - allocation, clocks, time formatting, bounded buffers, jitter.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("malloc(%zu)", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("calloc(%zu, %zu)", n, size);
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("strdup");
	return p;
}

static uint64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct timespec
realtime_after_ms(uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

uint64_t
now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

uint64_t
mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

char *
fmt_time_ms(uint64_t ms, char *out, size_t outlen)
{
	time_t t;
	struct tm tm;

	/* Past year 9999 is not RFC 3339 (and overflows time_t and the
	 * four-digit year): such a time is the last one there is. */
	if (ms > TIME_MAX_MS)
		ms = TIME_MAX_MS;
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, outlen, "9999-12-31T23:59:59.999Z");
		return out;
	}
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
	return out;
}

/* Parses the "+hh:mm" / "-hhmm" / "Z" suffix into seconds east of UTC. */
static int
parse_offset(const char *p, long *off)
{
	int hh = 0, mm = 0, sign;

	if (*p == '\0' || ((*p == 'Z' || *p == 'z') && p[1] == '\0')) {
		*off = 0;
		return 0;
	}
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p == '-' ? -1 : 1;
	if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 &&
	    sscanf(p + 1, "%2d%2d", &hh, &mm) != 2)
		return -1;
	if (hh > 23 || mm > 59)
		return -1;
	*off = sign * (hh * 3600L + mm * 60L);
	return 0;
}

int
parse_time_ms(const char *s, uint64_t *ms)
{
	struct tm tm = { 0 };
	const char *p;
	char *end;
	long off = 0;
	unsigned long frac = 0;
	time_t t;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	unsigned long long secs = strtoull(s, &end, 10);
	if (*end == '\0' && s[0] != '-') {
		/* Checked before the multiplication: no wrap-around. */
		if (errno != 0 || secs > TIME_MAX_S)
			return -1;
		*ms = (uint64_t)secs * 1000;
		return 0;
	}
	p = strptime(s, "%Y-%m-%d", &tm);
	if (p == NULL)
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (p == NULL)
			return -1;
		if (*p == '.') {
			int digits = 0;
			for (p++; *p >= '0' && *p <= '9'; p++, digits++)
				if (digits < 3)
					frac = frac * 10 + (unsigned long)(*p - '0');
			for (; digits < 3; digits++)
				frac *= 10;
		}
	}
	if (parse_offset(p, &off) == -1)
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1 || t - off < 0 ||
	    (uint64_t)(t - off) > TIME_MAX_S)
		return -1;
	*ms = (uint64_t)(t - off) * 1000 + frac;
	return 0;
}

/* splitmix64 over an atomic counter seeded from getrandom(2). */
uint64_t
rand64(void)
{
	static _Atomic uint64_t state;
	uint64_t z;

	if (atomic_load(&state) == 0) {
		uint64_t seed = 0;
		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
			seed = now_ms();
		uint64_t zero = 0;
		atomic_compare_exchange_strong(&state, &zero, seed | 1);
	}
	z = atomic_fetch_add(&state, 0x9e3779b97f4a7c15ULL) +
	    0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t
jitter_ms(uint64_t ms, double frac)
{
	double u = (double)(rand64() >> 11) / (double)(1ULL << 53);
	double f = 1.0 - frac + 2.0 * frac * u;

	return (uint64_t)((double)ms * f);
}
