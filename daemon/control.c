/*
 * control.c - the control socket transport (see control.h).
 *
 * Input is read into a per-connection buffer bounded by daemon.max_request;
 * a longer line is answered with too_large and skipped up to its newline,
 * and the connection stays usable.  A `\r` before the newline is not part of
 * the request and does not count toward the limit.  A line cut short by the
 * end of the stream is never run: it is answered bad_request if it parses
 * as JSON, else dropped, and the connection is closed once the answer is
 * written.  Output is appended to a per-connection buffer and written when
 * the socket allows; a client that lets more than daemon.max_reply_buffer
 * pile up is closed, and the log names it.  The bytes queued to every client
 * together are bounded by daemon.max_reply_memory: past it, the client with
 * the most queued that does not read is cut off (see control_enforce()).
 *
 * A client that goes away entirely (close, not a half-close: the socket
 * reports POLLHUP) is closed at once, even with a request pending, so that
 * its slot is free for the next client; a half-closed client still gets
 * every answer.  At daemon.max_clients, the connections are checked for
 * vanished peers before a new client is refused.
 *
 * A connection is never freed while code that holds it may still run: a
 * close marks it dead, takes it off the list, closes its descriptor and
 * puts it in the graveyard, which the reaper event frees on the next loop
 * iteration (as Redis's freeClientAsync does).  Every entry point checks
 * `dead`, so a reply for a client that left is simply dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/event.h>

#include "control.h"
#include "log.h"
#include "proto.h"
#include "util.h"

#define CTL_READ_CHUNK	65536
/* A client reads if, within CTL_READ_GRACE_MS, its socket took all that was
 * queued or at least CTL_READ_PROGRESS bytes: such a client is never cut
 * off for daemon.max_reply_memory. */
#define CTL_READ_GRACE_MS	2000
#define CTL_READ_PROGRESS	(64 * 1024)
/* A drained output buffer bigger than this is handed back. */
#define CTL_OUT_KEEP		(256 * 1024)

struct ctl_conn {
	struct control	*ctl;
	uint64_t	 id;
	int		 fd;
	struct event	*rev, *wev;
	struct buf	 in, out;
	uid_t		 uid;
	pid_t		 pid;
	bool		 busy;		/* a request awaits its reply */
	bool		 eof;		/* client closed its side */
	bool		 discarding;	/* skipping an over-long line */
	bool		 processing;	/* inside conn_process() */
	bool		 dead;		/* closed; freed by the reaper */
	bool		 wev_armed;	/* wev is added (output waits) */
	bool		 hup;		/* the peer closed entirely */
	uint64_t	 drained_ms;	/* mono_ms() of the last read progress */
	size_t		 sent_acc;	/* bytes taken since drained_ms */
	size_t		 drain_low;
	control_drain_fn drain_fn;
	void		*drain_arg;
	struct ctl_conn	*next, *prev;
};

struct control {
	struct event_base *base;
	int		 fd;
	struct event	*lev;
	char		*path;		/* unlinked at exit if we made it */
	struct control_limits lim;
	control_request_fn on_request;
	void		*arg;
	struct ctl_conn	*conns;
	struct ctl_conn	*graveyard;	/* closed, to be freed by reaper */
	struct event	*reaper;
	struct event	*memcheck;	/* re-checks max_reply_memory */
	unsigned	 nconns;
	uint64_t	 next_id;
	size_t		 out_total;	/* bytes queued to every client */
};

static void conn_close(struct ctl_conn *c, const char *why);
static void conn_process(struct ctl_conn *c);
static void control_enforce(struct control *ctl);

/* True when the peer has closed its socket entirely (not just its sending
 * side): nothing sent to it can be read any more. */
static bool
conn_hung_up(struct ctl_conn *c)
{
	struct pollfd p = { .fd = c->fd, .events = 0 };

	if (c->hup)
		return true;
	if (c->fd >= 0 && poll(&p, 1, 0) == 1 &&
	    (p.revents & (POLLHUP | POLLERR)))
		c->hup = true;
	return c->hup;
}

/* --- output -------------------------------------------------------- */

/* Arms or disarms the write event, only when that changes anything: each
 * change is an epoll_ctl(2), and most replies are written at once. */
static void
conn_want_write(struct ctl_conn *c, bool on)
{
	if (on == c->wev_armed)
		return;
	c->wev_armed = on;
	if (on)
		event_add(c->wev, NULL);
	else
		event_del(c->wev);
}

static void
conn_flush(struct ctl_conn *c)
{
	while (c->out.len > 0) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&c->out, (size_t)n);
			c->ctl->out_total -= (size_t)n;
			c->sent_acc += (size_t)n;
			if (c->sent_acc >= CTL_READ_PROGRESS) {
				c->sent_acc = 0;
				c->drained_ms = mono_ms();
			}
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_want_write(c, true);
			return;
		}
		conn_close(c, n == 0 ? "peer closed" : strerror(errno));
		return;
	}
	c->drained_ms = mono_ms();
	c->sent_acc = 0;
	if (c->out.cap > CTL_OUT_KEEP)
		buf_free(&c->out);	/* a big reply's buffer is handed back */
	/* A paused stream is resumed by the next writable event, whoever
	 * wrote the output: keep the event while it waits. */
	conn_want_write(c, c->drain_fn != NULL);
}

static void
conn_writable(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *c = arg;
	control_drain_fn fn;

	conn_flush(c);
	if (c->dead)
		return;
	if (c->drain_fn != NULL && c->out.len < c->drain_low) {
		fn = c->drain_fn;
		c->drain_fn = NULL;
		fn(c, c->drain_arg, false);
		if (c->dead)
			return;
	}
	/* A half-closed client is closed once all its answers are out. */
	if (c->eof && !c->busy && !c->processing && c->in.len == 0 &&
	    c->out.len == 0)
		conn_close(c, NULL);
}

/* Queues what write() appends (and a newline unless raw), straight into
 * the output buffer: no string to allocate and copy.  -1 (and the
 * connection is closed) if it would pass daemon.max_reply_buffer or memory
 * is short, or if daemon.max_reply_memory made it the one cut off. */
static int
conn_queue_with(struct ctl_conn *c, control_write_fn write, void *arg,
    bool raw)
{
	struct control *ctl = c->ctl;
	size_t mark = c->out.len;

	if (c->dead)
		return -1;
	if (mark == 0) {		/* the client has read everything */
		c->drained_ms = mono_ms();
		c->sent_acc = 0;
	}
	if (write(&c->out, arg) == -1 ||
	    (!raw && buf_append(&c->out, "\n", 1) == -1)) {
		c->out.len = mark;	/* no half line stays */
		conn_close(c, "reply buffer over daemon.max_reply_buffer");
		return -1;
	}
	ctl->out_total += c->out.len - mark;
	/* Inside conn_process() the reply is written when it ends. */
	if (!c->processing)
		conn_want_write(c, true);
	if (ctl->out_total > ctl->lim.max_reply_memory)
		control_enforce(ctl);
	return c->dead ? -1 : 0;
}

/*
 * Keeps the bytes queued to all clients within daemon.max_reply_memory:
 * while over it, closes the client holding the most that does not read
 * (see CTL_READ_GRACE_MS), logging it.  Clients that read are never cut
 * off: if only they are left, the check is made again a second later.
 */
static void
control_enforce(struct control *ctl)
{
	uint64_t now = mono_ms();
	char why[256];

	while (ctl->out_total > ctl->lim.max_reply_memory) {
		struct ctl_conn *worst = NULL;

		for (struct ctl_conn *c = ctl->conns; c != NULL; c = c->next)
			if (c->out.len > 0 &&
			    now - c->drained_ms >= CTL_READ_GRACE_MS &&
			    (worst == NULL || c->out.len > worst->out.len))
				worst = c;
		if (worst == NULL) {
			struct timeval again = { 1, 0 };

			if (ctl->memcheck != NULL &&
			    !evtimer_pending(ctl->memcheck, NULL))
				evtimer_add(ctl->memcheck, &again);
			return;
		}
		snprintf(why, sizeof(why), "replies queued to all clients "
		    "(%zu bytes) over daemon.max_reply_memory (%zu); this "
		    "client holds %zu bytes and has not read for %llu ms",
		    ctl->out_total, ctl->lim.max_reply_memory, worst->out.len,
		    (unsigned long long)(now - worst->drained_ms));
		conn_close(worst, why);
	}
}

static void
control_memcheck(evutil_socket_t fd, short what, void *arg)
{
	control_enforce(arg);
}

static int
write_json(struct buf *out, void *v)
{
	return proto_write(out, v);
}

/* Queues one JSON line (stolen), as conn_queue_with does. */
static int
conn_queue(struct ctl_conn *c, json_t *v)
{
	int rc = conn_queue_with(c, write_json, v, false);

	json_decref(v);
	return rc;
}

int
control_send(struct ctl_conn *c, json_t *line)
{
	return conn_queue(c, line);
}

struct text {
	const char	*s;
	size_t		 len;
};

static int
write_text(struct buf *out, void *arg)
{
	const struct text *t = arg;

	return buf_append(out, t->s, t->len);
}

int
control_send_text(struct ctl_conn *c, const char *text, size_t len)
{
	struct text t = { text, len };

	return conn_queue_with(c, write_text, &t, false);
}

int
control_send_raw(struct ctl_conn *c, const char *data, size_t len)
{
	struct text t = { data, len };

	return conn_queue_with(c, write_text, &t, true);
}

void
control_close(struct ctl_conn *c, const char *why)
{
	conn_close(c, why);
}

void
control_reply_with(struct ctl_conn *c, control_write_fn write, void *arg)
{
	bool inside = c->processing;
	int rc;

	c->busy = false;
	/* conn_process() below writes the reply at once: arming the write
	 * event first would cost two epoll_ctl(2) calls per reply. */
	c->processing = true;
	rc = conn_queue_with(c, write, arg, false);
	c->processing = inside;
	if (rc == -1 || inside)
		return;
	conn_process(c);
}

void
control_reply(struct ctl_conn *c, json_t *reply)
{
	control_reply_with(c, write_json, reply);
	json_decref(reply);
}

size_t
control_pending(const struct ctl_conn *c)
{
	return c->out.len;
}

bool
control_conn_dead(const struct ctl_conn *c)
{
	return c->dead;
}

void
control_on_drain(struct ctl_conn *c, size_t low, control_drain_fn fn,
    void *arg)
{
	if (c->dead) {
		fn(c, arg, true);
		return;
	}
	c->drain_low = low;
	c->drain_fn = fn;
	c->drain_arg = arg;
	conn_want_write(c, true);
}

/* --- input --------------------------------------------------------- */

/* Answers an over-long request. */
static void
conn_too_large(struct ctl_conn *c)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "request longer than daemon.max_request "
	    "(%zu bytes)", c->ctl->lim.max_request);
	c->busy = true;
	control_reply(c, proto_error(PROTO_TOO_LARGE, msg));
}

/*
 * The rest of the input when the stream ended inside a line: it is never
 * run.  If it parses as JSON the client hears bad_request (with its tag),
 * else it is dropped; either way the connection closes once that is
 * written.
 */
static void
conn_unterminated(struct ctl_conn *c)
{
	size_t len = c->in.len;
	json_t *obj, *rep;

	if (len > 0 && c->in.data[len - 1] == '\r')
		len--;
	obj = json_loadb(c->in.data, len, 0, NULL);
	buf_reset(&c->in);
	if (obj == NULL) {
		log_debug("control: client %llu left a partial request line",
		    (unsigned long long)c->id);
		return;
	}
	rep = proto_error(PROTO_BAD_REQUEST, "the request line ended without "
	    "a newline; it was not run");
	if (json_is_object(obj) && json_object_get(obj, "tag") != NULL)
		json_object_set(rep, "tag", json_object_get(obj, "tag"));
	json_decref(obj);
	c->busy = true;
	control_reply(c, rep);
}

/* Takes the next complete line off the input buffer (malloc'd, without
 * its newline or the \r before it; *lenp bytes, which may hold NULs),
 * answering and skipping over-long ones.  NULL if none. */
static char *
conn_next_line(struct ctl_conn *c, size_t *lenp)
{
	size_t max = c->ctl->lim.max_request;

	while (!c->busy && !c->dead) {
		char *nl = memchr(c->in.data ? c->in.data : "", '\n', c->in.len);
		size_t len, n = c->in.len;
		char *line;

		if (nl == NULL) {
			/* Still room for a line of max bytes and its \r. */
			bool over = n > max + 1 || (n == max + 1 &&
			    c->in.data[max] != '\r');

			if (c->discarding)
				buf_reset(&c->in);
			else if (over) {
				buf_reset(&c->in);
				c->discarding = true;
				conn_too_large(c);
			} else if (c->eof && n > 0) {
				conn_unterminated(c);
				continue;
			}
			return NULL;
		}
		len = (size_t)(nl - c->in.data);
		if (len > 0 && c->in.data[len - 1] == '\r')
			len--;
		if (c->discarding || len > max) {
			buf_consume(&c->in, (size_t)(nl - c->in.data) + 1);
			if (!c->discarding)
				conn_too_large(c);
			c->discarding = false;
			continue;
		}
		line = malloc(len + 1);
		if (line != NULL) {
			memcpy(line, c->in.data, len);
			line[len] = '\0';
		}
		buf_consume(&c->in, (size_t)(nl - c->in.data) + 1);
		if (line != NULL) {
			*lenp = len;
			return line;
		}
		c->busy = true;
		control_reply(c, proto_error(PROTO_INTERNAL, "out of memory"));
	}
	return NULL;
}

/*
 * Hands complete lines to the request callback, one at a time.  The
 * callback may reply at once (control_reply then only queues, since we are
 * processing) or later, after a commit (control_reply then calls back in).
 */
static void
conn_process(struct ctl_conn *c)
{
	char *line;
	size_t len;

	c->processing = true;
	while (!c->dead && (line = conn_next_line(c, &len)) != NULL) {
		c->busy = true;
		c->ctl->on_request(c, line, len, c->ctl->arg);
		free(line);
	}
	c->processing = false;
	/* Write the replies now rather than on the next loop iteration:
	 * clients waiting for them then send their next requests in time
	 * for the same group commit, and a syscall is saved. */
	if (!c->dead && c->out.len > 0)
		conn_flush(c);
	if (c->dead)
		return;
	if (c->eof && c->busy && conn_hung_up(c)) {
		/* Gone for good (Ctrl-C on `sluicectl wait`): its answer
		 * could not be read, and the slot is someone else's. */
		conn_close(c, "client left with a request pending");
		return;
	}
	if (c->eof && !c->busy && c->in.len == 0) {
		/* Half-closed client: everything answered and written? */
		if (c->out.len == 0)
			conn_close(c, NULL);
		return;
	}
	if (!c->eof)
		event_add(c->rev, NULL);
}

static void
conn_readable(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_conn *c = arg;
	char chunk[CTL_READ_CHUNK];
	ssize_t n;

	if (c->dead)
		return;
	/* While a request is pending, read only up to one request ahead. */
	if (c->busy && c->in.len > c->ctl->lim.max_request) {
		event_del(c->rev);
		return;
	}
	n = recv(fd, chunk, sizeof(chunk), 0);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0 && errno != ECONNRESET) {
		conn_close(c, strerror(errno));
		return;
	}
	if (n <= 0) {
		/* EOF or reset: answer what is buffered (a half-closed client
		 * still reads), then close once nothing is pending. */
		c->eof = true;
		event_del(c->rev);
		if (!c->busy && c->out.len == 0 && c->in.len == 0)
			conn_close(c, NULL);
		else if (!c->processing)
			conn_process(c);
		return;
	}
	if (buf_append(&c->in, chunk, (size_t)n) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	conn_process(c);
}

/* --- connections --------------------------------------------------- */

static void
conn_free(struct ctl_conn *c)
{
	event_free(c->rev);
	event_free(c->wev);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

/* Frees the connections closed since the last loop iteration. */
static void
control_reap(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;
	struct ctl_conn *c, *next;

	for (c = ctl->graveyard; c != NULL; c = next) {
		next = c->next;
		conn_free(c);
	}
	ctl->graveyard = NULL;
}

static void
conn_close(struct ctl_conn *c, const char *why)
{
	struct control *ctl = c->ctl;

	if (c->dead)
		return;
	c->dead = true;
	if (why != NULL)
		log_info("control: closing client %llu (uid %d, pid %d): %s",
		    (unsigned long long)c->id, (int)c->uid, (int)c->pid, why);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ctl->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ctl->nconns--;
	ctl->out_total -= c->out.len;
	event_del(c->rev);
	event_del(c->wev);
	c->wev_armed = false;
	close(c->fd);
	c->fd = -1;
	c->prev = NULL;
	c->next = ctl->graveyard;
	ctl->graveyard = c;
	event_active(ctl->reaper, EV_TIMEOUT, 0);
	if (c->drain_fn != NULL) {
		control_drain_fn fn = c->drain_fn;
		c->drain_fn = NULL;
		fn(c, c->drain_arg, true);
	}
	if (ctl->lev != NULL)
		event_add(ctl->lev, NULL);	/* may accept again */
}

/* Refuses a client over daemon.max_clients with one busy line. */
static void
refuse(int fd)
{
	static const char msg[] = "{\"ok\":false,\"error\":{\"code\":\"busy\","
	    "\"message\":\"too many clients (daemon.max_clients)\"}}\n";

	(void)!send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void
conn_new(struct control *ctl, int fd)
{
	struct ctl_conn *c = calloc(1, sizeof(*c));
	struct ucred cred = { 0 };
	socklen_t len = sizeof(cred);

	if (c == NULL) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->id = ++ctl->next_id;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->uid = cred.uid;
		c->pid = cred.pid;
	}
	buf_init(&c->in, ctl->lim.max_request + CTL_READ_CHUNK + 1);
	buf_init(&c->out, ctl->lim.max_reply_buffer);
	c->rev = event_new(ctl->base, fd, EV_READ | EV_PERSIST,
	    conn_readable, c);
	c->wev = event_new(ctl->base, fd, EV_WRITE | EV_PERSIST,
	    conn_writable, c);
	if (c->rev == NULL || c->wev == NULL) {
		if (c->rev) event_free(c->rev);
		if (c->wev) event_free(c->wev);
		close(fd);
		free(c);
		return;
	}
	c->next = ctl->conns;
	if (ctl->conns != NULL)
		ctl->conns->prev = c;
	ctl->conns = c;
	ctl->nconns++;
	event_add(c->rev, NULL);
	log_debug("control: client %llu connected (uid %d, pid %d)",
	    (unsigned long long)c->id, (int)c->uid, (int)c->pid);
}

/*
 * At daemon.max_clients, before refusing anyone: finds the clients that
 * have gone entirely but whose end of stream was not read yet (a request
 * was pending, or the event has not run), answers what they sent as
 * usual, and closes those still waiting for an answer.
 */
static void
control_sweep(struct control *ctl)
{
	struct ctl_conn *c, *next;

	for (c = ctl->conns; c != NULL; c = next) {
		next = c->next;
		if (c->processing || !conn_hung_up(c))
			continue;
		while (!c->dead && !c->eof && !c->busy)
			conn_readable(c->fd, EV_READ, c);
		if (!c->dead && (c->busy || c->eof))
			conn_close(c, "client left with a request pending");
		/* next may have been closed meanwhile: start over. */
		if (next != NULL && next->dead) {
			control_sweep(ctl);
			return;
		}
	}
}

static void
control_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct control *ctl = arg;

	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: stop accepting until a
				 * client leaves (conn_close re-adds). */
				log_warn("control: accept");
				event_del(ctl->lev);
			}
			return;
		}
		if (ctl->nconns >= ctl->lim.max_clients)
			control_sweep(ctl);
		if (ctl->nconns >= ctl->lim.max_clients)
			refuse(fd);
		else
			conn_new(ctl, fd);
	}
}

/* --- listening ----------------------------------------------------- */

/* Refuses to take over a socket a live daemon still answers on. */
static int
socket_in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int live;

	if (fd == -1)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return live;
}

static int
control_listen(struct control *ctl, const char *path, unsigned mode,
    char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (socket_in_use(&sun)) {
		snprintf(err, errlen, "%s: another sluiced is listening", path);
		return -1;
	}
	unlink(path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (ctl->fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Create the socket with the final mode: no window where it is
	 * more open than configured. */
	old = umask(0777 & ~mode);
	if (bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	umask(old);
	if (chmod(path, mode) == -1 || listen(ctl->fd, 128) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ctl->path = strdup(path);
	return 0;
}

struct control *
control_new(struct event_base *base, const char *path, unsigned mode, int fd,
    const struct control_limits *lim, control_request_fn on_request,
    void *arg, char *err, size_t errlen)
{
	struct control *ctl = calloc(1, sizeof(*ctl));

	if (ctl == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->base = base;
	ctl->lim = *lim;
	ctl->on_request = on_request;
	ctl->arg = arg;
	ctl->fd = fd;
	if (fd >= 0) {
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
			snprintf(err, errlen, "inherited socket: %s",
			    strerror(errno));
			goto fail;
		}
	} else if (control_listen(ctl, path, mode, err, errlen) == -1)
		goto fail;
	ctl->reaper = event_new(base, -1, 0, control_reap, ctl);
	ctl->memcheck = evtimer_new(base, control_memcheck, ctl);
	ctl->lev = event_new(base, ctl->fd, EV_READ | EV_PERSIST,
	    control_accept, ctl);
	if (ctl->reaper == NULL || ctl->memcheck == NULL || ctl->lev == NULL ||
	    event_add(ctl->lev, NULL) == -1) {
		snprintf(err, errlen, "cannot watch the control socket");
		goto fail;
	}
	return ctl;
fail:
	control_free(ctl);
	return NULL;
}

void
control_set_limits(struct control *ctl, const struct control_limits *l)
{
	ctl->lim = *l;
	for (struct ctl_conn *c = ctl->conns; c != NULL; c = c->next) {
		c->in.max = l->max_request + CTL_READ_CHUNK + 1;
		c->out.max = l->max_reply_buffer;
	}
	if (ctl->out_total > ctl->lim.max_reply_memory)
		control_enforce(ctl);
}

void
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	if (ctl->lev != NULL)
		event_free(ctl->lev);
	ctl->lev = NULL;
	while (ctl->conns != NULL)
		conn_close(ctl->conns, NULL);
	control_reap(-1, 0, ctl);
	if (ctl->reaper != NULL)
		event_free(ctl->reaper);
	if (ctl->memcheck != NULL)
		event_free(ctl->memcheck);
	if (ctl->fd >= 0)
		close(ctl->fd);
	if (ctl->path != NULL)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

uint64_t
control_conn_id(const struct ctl_conn *c)
{
	return c->id;
}

struct ctl_conn *
control_find(struct control *ctl, uint64_t id)
{
	for (struct ctl_conn *c = ctl->conns; c != NULL; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

uid_t
control_conn_uid(const struct ctl_conn *c)
{
	return c->uid;
}

unsigned
control_nconns(const struct control *ctl)
{
	return ctl->nconns;
}
