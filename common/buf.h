/*
 * buf.h - a bounded growable byte buffer, shared by the daemon, the client
 * and the cleaner library.
 */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stddef.h>

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

/* The largest max a buffer takes: a larger one (SIZE_MAX for "no cap") is
 * lowered to it, so that max + 1 and the doubling of the capacity cannot
 * wrap around. */
#define BUF_MAX		(((size_t)-1) / 2)

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
char *buf_steal(struct buf *b, size_t *len)
    __attribute__((warn_unused_result));

#endif
