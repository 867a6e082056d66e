/*
 * notify.h - talking to systemd: sd_notify(3) and socket activation.
 *
 * Every call is a no-op when sluiced was not started by systemd (no
 * NOTIFY_SOCKET, no LISTEN_FDS), so the daemon behaves the same by hand.
 */
#ifndef SLUICE_NOTIFY_H
#define SLUICE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/* READY=1: the store is open and the socket listens. */
void notify_ready(void);
/* STOPPING=1: SIGTERM received. */
void notify_stopping(void);
/* STATUS=...: one line for `systemctl status`. */
void notify_status(const char *status);
/* WATCHDOG=1. */
void notify_watchdog(void);
/* EXTEND_TIMEOUT_USEC=usec: long work before READY=1 is still going. */
void notify_extend_timeout(uint64_t usec);
/* The watchdog interval in microseconds, 0 if WatchdogSec is not set. */
uint64_t notify_watchdog_usec(void);
/*
 * The listening socket passed by systemd (sluiced.socket): its fd, -1 if
 * none was passed, or -2 with err if what was passed is unusable.
 */
int notify_listen_fd(char *err, size_t errlen);

#endif
