/*
 * control.h - the control socket: accepting clients, framing lines,
 * queueing replies.  What a request means is command.c's business.
 *
 * A connection handles one request at a time: after handing a line to the
 * request callback it reads no further request until control_reply() ends
 * that one (maybe several turns later, after a commit).  Replies therefore
 * come in request order, and a client may pipeline.
 */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "util.h"

struct event_base;
struct control;
struct ctl_conn;

struct control_limits {
	uint32_t	 max_clients;
	size_t		 max_request;
	size_t		 max_reply_buffer;
	size_t		 max_reply_memory;	/* all clients together */
};

/* Called with each complete request line (len bytes, which may hold a NUL,
 * then a NUL; without the newline or the \r before it). */
typedef void (*control_request_fn)(struct ctl_conn *c, const char *line,
    size_t len, void *arg);
/* Called when a streaming connection's reply buffer has room again, or
 * with closing set when the connection goes away first (free arg then). */
typedef void (*control_drain_fn)(struct ctl_conn *c, void *arg,
    bool closing);

/*
 * Listens on path (unlinking a stale socket; refusing if a live daemon
 * answers there) with the given mode, or adopts fd when fd >= 0 (systemd
 * socket activation).  Returns NULL with err on failure.
 */
struct control *control_new(struct event_base *base, const char *path,
    unsigned mode, int fd, const struct control_limits *lim,
    control_request_fn on_request, void *arg, char *err, size_t errlen)
    __attribute__((warn_unused_result));
void control_set_limits(struct control *ctl, const struct control_limits *l);
/* Closes every connection and the listener (unlinking the socket it made). */
void control_free(struct control *ctl);

/* Ends the connection's current request with reply (stolen). */
void control_reply(struct ctl_conn *c, json_t *reply);
/* Ends it with the line write(out, arg) appends to out (no newline; 0, or
 * -1 when out refuses it, which closes the connection). */
typedef int (*control_write_fn)(struct buf *out, void *arg);
void control_reply_with(struct ctl_conn *c, control_write_fn write,
    void *arg);
/* Sends one line of a streamed reply (stolen) without ending the request. */
int control_send(struct ctl_conn *c, json_t *line);
/* Sends one line of text (without its newline) as control_send does. */
int control_send_text(struct ctl_conn *c, const char *text, size_t len);
/* Sends len bytes of a streamed reply as they are: a piece of a line, which
 * the caller ends with its own "\n".  0, or -1 as control_send. */
int control_send_raw(struct ctl_conn *c, const char *data, size_t len);
/* Closes the connection now (why is logged with the peer). */
void control_close(struct ctl_conn *c, const char *why);
/* True once the client has gone (or was closed): replies are dropped. */
bool control_conn_dead(const struct ctl_conn *c);
/* Bytes queued to the client, not yet written. */
size_t control_pending(const struct ctl_conn *c);
/* Asks for fn once the queued output falls below low bytes (on the next
 * writable event, whoever wrote the output meanwhile). */
void control_on_drain(struct ctl_conn *c, size_t low, control_drain_fn fn,
    void *arg);

uint64_t control_conn_id(const struct ctl_conn *c);
/* Finds a live connection by id: NULL if it has gone away meanwhile. */
struct ctl_conn *control_find(struct control *ctl, uint64_t id);
uid_t control_conn_uid(const struct ctl_conn *c);
unsigned control_nconns(const struct control *ctl);

#endif
