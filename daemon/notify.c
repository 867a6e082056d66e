/*
 * notify.c - sd_notify and sd_listen_fds (libsystemd).
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

void
notify_ready(void)
{
	sd_notify(0, "READY=1");
}

void
notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
notify_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

void
notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

void
notify_extend_timeout(uint64_t usec)
{
	sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)usec);
}

uint64_t
notify_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}

int
notify_listen_fd(char *err, size_t errlen)
{
	int n = sd_listen_fds(1);

	if (n == 0)
		return -1;
	if (n < 0) {
		snprintf(err, errlen, "sd_listen_fds: %s", strerror(-n));
		return -2;
	}
	if (n > 1) {
		snprintf(err, errlen, "systemd passed %d sockets; expected one",
		    n);
		return -2;
	}
	if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0)
	    <= 0) {
		snprintf(err, errlen, "the passed socket is not a listening "
		    "Unix stream socket");
		return -2;
	}
	return SD_LISTEN_FDS_START;
}
