/*
 * util.h - small helpers shared by every module: allocation that may not
 * fail (startup only), clocks and time formats, random jitter; buf.h is the
 * bounded byte buffer.
 */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

#define SAFE_FREE(p) do { free(p); (p) = NULL; } while (0)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that calls fatal() on failure.  For startup and the client only:
 * on the data path, ENOMEM fails the item, not the daemon. */
void *xmalloc(size_t n)
    __attribute__((warn_unused_result));
void *xcalloc(size_t n, size_t size)
    __attribute__((warn_unused_result));
char *xstrdup(const char *s)
    __attribute__((warn_unused_result));

/* Milliseconds since the epoch (CLOCK_REALTIME): stored timestamps. */
uint64_t now_ms(void);
/* Milliseconds from CLOCK_MONOTONIC: timeouts and rates. */
uint64_t mono_ms(void);
/* Microseconds from CLOCK_MONOTONIC: profiling. */
uint64_t mono_us(void);
/* CLOCK_REALTIME ms from now, as the deadline pthread_cond_timedwait()
 * and pthread_timedjoin_np() take. */
struct timespec realtime_after_ms(uint64_t ms);
/* The last time sluice handles: 9999-12-31T23:59:59Z (RFC 3339's last
 * year), in seconds and ms since the epoch; anything later is refused. */
#define TIME_MAX_S	253402300799ULL
#define TIME_MAX_MS	(TIME_MAX_S * 1000 + 999)
/* Formats an epoch-ms timestamp as RFC 3339 UTC ("2026-11-28T02:06:22.123Z")
 * into out (at least 32 bytes; always NUL-terminated).  A time past
 * TIME_MAX_MS is formatted as TIME_MAX_MS.  Returns out. */
char *fmt_time_ms(uint64_t ms, char *out, size_t outlen);
/* Parses RFC 3339 / ISO 8601 ("2026-11-28", "2026-11-28T02:06:22Z", with an
 * optional offset) or a plain number of seconds since the epoch, from 1970
 * to TIME_MAX_S.  Returns 0 and sets *ms, or -1 (out of range too). */
int parse_time_ms(const char *s, uint64_t *ms);

/* Random 64-bit value for jitter (not for secrets); thread-safe. */
uint64_t rand64(void);
/* Returns ms spread uniformly in [ms*(1-frac), ms*(1+frac)]. */
uint64_t jitter_ms(uint64_t ms, double frac);

#endif
