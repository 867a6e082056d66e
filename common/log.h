/*
 * log.h - one line per event on stderr, with sd-daemon <N> priority prefixes.
 *
 * log_warn() appends strerror(errno); log_warnx() does not (err(3)/errx(3)).
 * Every call formats into a local buffer and does a single write(2), so lines
 * from different threads never interleave.  errno is preserved.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

/* syslog(3) priorities, as sd-daemon(3) prefixes use them. */
enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Sets the most verbose level that is printed (default: info). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "err", "warning", "notice", "info" or "debug"; -1 if unknown. */
int log_level_parse(const char *name);
const char *log_level_name(enum log_level level);

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_errx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_notice(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
/* Startup-time only: log at err level and exit(1). */
void fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

#endif
