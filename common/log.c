/*
 * log.c - the daemon's only output channel: stderr, which journald reads.
 *
 * The level is the one piece of global state besides the config: it is read
 * by every thread, written only by the loop thread (startup and reload), so a
 * relaxed atomic is enough.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static _Atomic int log_level = LOG_LEVEL_INFO;
/* 1 when stderr is a terminal (a person reads it, not journald: no <N>
 * level prefix), 0 when not, -1 before the first line. */
static _Atomic int log_tty = -1;

static const char *const level_names[] = {
	[LOG_LEVEL_ERR] = "err",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

enum log_level
log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int
log_level_parse(const char *name)
{
	for (int i = LOG_LEVEL_ERR; i <= LOG_LEVEL_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	if (level < LOG_LEVEL_ERR || level > LOG_LEVEL_DEBUG)
		return "?";
	return level_names[level];
}

static int
log_prefixed(void)
{
	int t = atomic_load_explicit(&log_tty, memory_order_relaxed);

	if (t == -1) {
		t = isatty(STDERR_FILENO) ? 1 : 0;
		atomic_store_explicit(&log_tty, t, memory_order_relaxed);
	}
	return !t;
}

/*
 * Formats "<N>message[: strerror]\n" (without "<N>" when stderr is a
 * terminal) and writes it at once.  Newlines inside
 * the message are replaced so one event stays one line.
 */
static void
log_vwrite(int level, int with_errno, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int saved = errno;
	int n = 0, m, start;

	if (level > (int)log_get_level())
		return;
	if (log_prefixed())
		n = snprintf(line, sizeof(line), "<%d>", level);
	start = n;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (with_errno)
		n += snprintf(line + n, sizeof(line) - (size_t)n - 1, ": %s",
		    strerror(saved));
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	for (int i = start; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
	errno = saved;
}

#define LOG_FN(name, level, with_errno)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vwrite(level, with_errno, fmt, ap);			\
	va_end(ap);						\
}

LOG_FN(log_warn, LOG_LEVEL_WARNING, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARNING, 0)
LOG_FN(log_errx, LOG_LEVEL_ERR, 0)
LOG_FN(log_notice, LOG_LEVEL_NOTICE, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
