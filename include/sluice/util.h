/*
 * util.h - small helpers shared by every module: allocation that may not
 * fail (startup only), clocks, and a bounded growable byte buffer.
 */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define SAFE_FREE(p) do { free(p); (p) = NULL; } while (0)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that calls fatal() on failure.  For startup and the client only:
 * on the data path, ENOMEM fails the item, not the daemon. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);

/* Milliseconds since the epoch (CLOCK_REALTIME): stored timestamps. */
uint64_t now_ms(void);
/* Milliseconds from CLOCK_MONOTONIC: timeouts and rates. */
uint64_t mono_ms(void);
/* Microseconds from CLOCK_MONOTONIC: profiling. */
uint64_t mono_us(void);
/* Formats an epoch-ms timestamp as RFC 3339 UTC ("2026-11-28T02:06:22.123Z")
 * into out (at least 32 bytes).  Returns out. */
char *fmt_time_ms(uint64_t ms, char *out, size_t outlen);
/* Parses RFC 3339 / ISO 8601 ("2026-11-28", "2026-11-28T02:06:22Z", with an
 * optional offset) or a plain number of seconds since the epoch.  Returns 0
 * and sets *ms, or -1. */
int parse_time_ms(const char *s, uint64_t *ms);

/*
 * A growable byte buffer with a hard cap (curl's dynbuf): an append that
 * would pass max fails with -1 and leaves the buffer as it was.  The data is
 * always NUL-terminated, so text can be used in place.
 */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *data, size_t len);
/* Makes room for total bytes in all (plus the NUL) in one allocation, so a
 * body of known length is not copied while it grows.  -1 when total is
 * over the buffer's max or memory is short; the buffer is unchanged. */
int buf_presize(struct buf *b, size_t total);
int buf_appendf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hands the data to the caller (who frees it) and resets the buffer. */
char *buf_steal(struct buf *b, size_t *len);

/* Random 64-bit value for jitter (not for secrets); thread-safe. */
uint64_t rand64(void);
/* Returns ms spread uniformly in [ms*(1-frac), ms*(1+frac)]. */
uint64_t jitter_ms(uint64_t ms, double frac);

#endif
