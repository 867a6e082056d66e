/*
 * ctlclient.c - the client end of the control socket: a bounded,
 * deadline-aware line transport for JSON requests and replies, command-name
 * matching, and the text formatters sluicectl shows replies with.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ctlclient.h"

/* Pause between connect attempts while the daemon's backlog is full. */
#define CONNECT_RETRY_MS	10
/* Width of the progress bar, in cells. */
#define PROGRESS_BAR_CELLS	20
/* The url column of `jobs` is padded to at most this width, never cut. */
#define JOBS_URL_COLUMN_MAX	60

void
ctlclient_init(struct ctlclient *c, size_t max_line)
{
	c->fd = -1;
	c->max_line = max_line ? max_line : CTLCLIENT_MAX_LINE_DEFAULT;
	c->deadline = 0;
	/* A pending partial line is at most max_line bytes when fill() reads
	 * again, so one more chunk (and the '\n') always fits. */
	buf_init(&c->in, c->max_line + CTLCLIENT_READ_CHUNK + 1);
	c->off = 0;
	c->scan = 0;
}

void
ctlclient_attach(struct ctlclient *c, int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl != -1)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	c->fd = fd;
}

void
ctlclient_close(struct ctlclient *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	c->off = 0;
	c->scan = 0;
}

void
ctlclient_set_timeout(struct ctlclient *c, uint64_t timeout_ms)
{
	c->deadline = timeout_ms ? mono_ms() + timeout_ms : 0;
}

/* Milliseconds left before the deadline, for poll(2): -1 = no deadline. */
static int
remaining_ms(const struct ctlclient *c)
{
	uint64_t now;

	if (c->deadline == 0)
		return -1;
	now = mono_ms();
	if (now >= c->deadline)
		return 0;
	if (c->deadline - now > INT_MAX)
		return INT_MAX;
	return (int)(c->deadline - now);
}

/*
 * Waits until fd is ready for events (or reports an error or hangup, which
 * the following read/write then names).  Returns 0, or -1 with errno set:
 * ETIMEDOUT when the deadline passed.
 */
static int
wait_fd(const struct ctlclient *c, int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n, ms;

	for (;;) {
		ms = remaining_ms(c);
		if (ms == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

/* Words an errno from the socket for someone who ran a command. */
static int
io_error(char *err, size_t errlen, const char *what, int e)
{
	if (e == ETIMEDOUT)
		snprintf(err, errlen, "timed out waiting for the daemon");
	else if (e == EPIPE || e == ECONNRESET)
		snprintf(err, errlen, "the daemon closed the connection");
	else
		snprintf(err, errlen, "%s: %s", what, strerror(e));
	return -1;
}

/* Finishes a non-blocking connect that is in progress. */
static int
connect_wait(const struct ctlclient *c, int fd)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (wait_fd(c, fd, POLLOUT) == -1)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

/*
 * A Unix socket whose listen backlog is full answers EAGAIN instead of
 * queueing the connect, so keep trying until the deadline.
 */
static int
connect_retry(const struct ctlclient *c, int fd, const struct sockaddr_un *sa)
{
	for (;;) {
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			return 0;
		if (errno == EINPROGRESS || errno == EINTR)
			return connect_wait(c, fd);
		if (errno != EAGAIN)
			return -1;
		if (remaining_ms(c) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		(void)poll(NULL, 0, CONNECT_RETRY_MS);
	}
}

int
ctlclient_connect(struct ctlclient *c, const char *path, char *err,
    size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t plen = strlen(path);
	int fd;

	if (plen == 0 || plen >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path is empty or longer than %zu "
		    "bytes", sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, plen + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect_retry(c, fd, &sa) == -1) {
		snprintf(err, errlen, "%s", errno == ETIMEDOUT ?
		    "timed out" : strerror(errno));
		close(fd);
		return -1;
	}
	c->fd = fd;
	return 0;
}

/* Writes all of p, waiting for room as needed.  MSG_NOSIGNAL turns a
 * daemon that went away into EPIPE instead of killing us. */
static int
write_all(const struct ctlclient *c, const char *p, size_t len, char *err,
    size_t errlen)
{
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(c, c->fd, POLLOUT) == 0)
			continue;
		return io_error(err, errlen, "send", errno);
	}
	return 0;
}

int
ctlclient_send(struct ctlclient *c, const json_t *req, char *err,
    size_t errlen)
{
	size_t len;
	char *line;
	int rc;

	len = json_dumpb(req, NULL, 0, JSON_COMPACT);
	if (len == 0) {
		snprintf(err, errlen, "cannot encode the request");
		return -1;
	}
	line = malloc(len + 1);
	if (line == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* JSON escapes control characters in strings, so this is one line. */
	json_dumpb(req, line, len, JSON_COMPACT);
	line[len] = '\n';
	rc = write_all(c, line, len + 1, err, errlen);
	free(line);
	return rc;
}

/*
 * Reads what the socket has into the buffer, first dropping the lines
 * already handed out.  Returns 1, 0 at end of stream, or -1.
 */
static int
fill(struct ctlclient *c, char *err, size_t errlen)
{
	char chunk[CTLCLIENT_READ_CHUNK];
	ssize_t n;

	if (c->off > 0) {
		buf_consume(&c->in, c->off);
		c->off = 0;
	}
	for (;;) {
		n = read(c->fd, chunk, sizeof(chunk));
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
		    wait_fd(c, c->fd, POLLIN) == 0)
			continue;
		return io_error(err, errlen, "read", errno);
	}
	if (n == 0)
		return 0;
	if (buf_append(&c->in, chunk, (size_t)n) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 1;
}

/* Hands out the line that ends at nl and marks it consumed. */
static int
take_line(struct ctlclient *c, char *nl, const char **line, size_t *len,
    char *err, size_t errlen)
{
	char *start = c->in.data + c->off;
	size_t n = (size_t)(nl - start);

	if (n > c->max_line) {
		snprintf(err, errlen, "reply line longer than %zu bytes",
		    c->max_line);
		return -1;
	}
	c->off += n + 1;
	c->scan = 0;
	*nl = '\0';
	if (n > 0 && start[n - 1] == '\r')
		start[--n] = '\0';
	*line = start;
	*len = n;
	return 1;
}

int
ctlclient_read_line(struct ctlclient *c, const char **line, size_t *len,
    char *err, size_t errlen)
{
	size_t pending;
	char *nl;
	int rc;

	for (;;) {
		pending = c->in.len - c->off;
		nl = NULL;
		if (pending > c->scan)
			nl = memchr(c->in.data + c->off + c->scan, '\n',
			    pending - c->scan);
		if (nl != NULL)
			return take_line(c, nl, line, len, err, errlen);
		c->scan = pending;
		if (pending > c->max_line) {
			snprintf(err, errlen, "reply line longer than %zu "
			    "bytes", c->max_line);
			return -1;
		}
		rc = fill(c, err, errlen);
		if (rc == 1)
			continue;
		if (rc == 0 && pending > 0) {
			snprintf(err, errlen, "the daemon closed the "
			    "connection in the middle of a reply");
			return -1;
		}
		return rc;
	}
}

int
ctlclient_read_bytes(struct ctlclient *c, size_t n, FILE *out, char *err,
    size_t errlen)
{
	while (n > 0) {
		size_t have = c->in.len - c->off, take = have < n ? have : n;
		int rc;

		if (take > 0) {
			if (out != NULL &&
			    fwrite(c->in.data + c->off, 1, take, out) != take) {
				snprintf(err, errlen, "write: %s",
				    strerror(errno));
				return -1;
			}
			c->off += take;
			c->scan = 0;
			n -= take;
			continue;
		}
		rc = fill(c, err, errlen);
		if (rc == 0)
			snprintf(err, errlen, "the daemon closed the "
			    "connection in the middle of a reply");
		if (rc != 1)
			return -1;
	}
	return 0;
}

int
ctlclient_read_reply(struct ctlclient *c, json_t **reply,
    const char **line, size_t *len, char *err, size_t errlen)
{
	json_error_t jerr;
	const char *l;
	size_t n;
	json_t *j;
	int rc;

	rc = ctlclient_read_line(c, &l, &n, err, errlen);
	if (rc != 1)
		return rc;
	j = json_loadb(l, n, 0, &jerr);
	if (j == NULL) {
		snprintf(err, errlen, "invalid reply from the daemon: %s",
		    jerr.text);
		return -1;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "invalid reply from the daemon: not an "
		    "object");
		return -1;
	}
	*reply = j;
	if (line != NULL) {
		*line = l;
		*len = n;
	}
	return 1;
}

enum ctlclient_match
ctlclient_match(const char *word, const char *const *names, size_t n,
    size_t *idx)
{
	size_t wlen = strlen(word), hits = 0, hit = 0;

	if (wlen == 0)
		return CTLCLIENT_MATCH_NONE;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(word, names[i]) == 0) {
			*idx = i;
			return CTLCLIENT_MATCH_FOUND;
		}
		if (strncmp(word, names[i], wlen) == 0) {
			hits++;
			hit = i;
		}
	}
	if (hits == 0)
		return CTLCLIENT_MATCH_NONE;
	if (hits > 1)
		return CTLCLIENT_MATCH_AMBIGUOUS;
	*idx = hit;
	return CTLCLIENT_MATCH_FOUND;
}

void
ctlclient_possibilities(FILE *out, const char *word, const char *const *names,
    size_t n)
{
	size_t wlen = strlen(word), hits = 0;

	for (size_t i = 0; i < n; i++)
		if (wlen > 0 && strncmp(word, names[i], wlen) == 0)
			hits++;
	fprintf(out, "possibilities are:\n");
	for (size_t i = 0; i < n; i++)
		if (hits == 0 || strncmp(word, names[i], wlen) == 0)
			fprintf(out, "\t%s\n", names[i]);
}

int
ctlclient_batch_init(struct ctlclient_batch *b, size_t max_urls,
    size_t max_request)
{
	b->bytes = 0;
	b->max_urls = max_urls ? max_urls : 1;
	/* The elements are counted with a comma each: the array's brackets
	 * cost one byte more than that. */
	b->room = max_request > CTLCLIENT_REQUEST_OVERHEAD + 2 ?
	    max_request - CTLCLIENT_REQUEST_OVERHEAD - 2 : 0;
	b->urls = json_array();
	return b->urls == NULL || b->room == 0 ? -1 : 0;
}

/* Bytes a string takes as a JSON array element, quotes and comma
 * included; control characters are counted at their longest escape. */
static size_t
json_element_len(const char *s)
{
	size_t n = 3;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			n += 2;
		else if (ch < 0x20)
			n += 6;
		else
			n++;
	}
	return n;
}

enum ctlclient_add
ctlclient_batch_add(struct ctlclient_batch *b, const char *url)
{
	size_t need = json_element_len(url);
	json_t *s;

	if (need > b->room)
		return CTLCLIENT_ADD_TOO_LONG;
	if (json_array_size(b->urls) > 0 && (b->bytes + need > b->room ||
	    json_array_size(b->urls) >= b->max_urls))
		return CTLCLIENT_ADD_FULL;
	s = json_string(url);
	if (s == NULL)
		return CTLCLIENT_ADD_BAD_UTF8;
	if (json_array_append_new(b->urls, s) == -1)
		return CTLCLIENT_ADD_NOMEM;
	b->bytes += need;
	return CTLCLIENT_ADD_OK;
}

size_t
ctlclient_batch_count(const struct ctlclient_batch *b)
{
	return json_array_size(b->urls);
}

int
ctlclient_batch_full(const struct ctlclient_batch *b)
{
	return json_array_size(b->urls) >= b->max_urls;
}

json_t *
ctlclient_batch_take(struct ctlclient_batch *b)
{
	json_t *urls = b->urls;

	b->urls = json_array();
	b->bytes = 0;
	if (b->urls == NULL) {
		json_decref(urls);
		return NULL;
	}
	return urls;
}

void
ctlclient_batch_free(struct ctlclient_batch *b)
{
	json_decref(b->urls);
	b->urls = NULL;
	b->bytes = 0;
}

/* Strips surrounding white space in place. */
static char *
trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* One line into buf without its newline: 1, 0 at the end, or -1 for a
 * line that does not fit, whose rest is read and dropped. */
static int
read_line_bounded(FILE *in, char *buf, size_t len)
{
	size_t n;
	int ch;

	if (len < 3 || len > INT_MAX || fgets(buf, (int)len, in) == NULL)
		return 0;
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n') {
		buf[n - 1] = '\0';
		return 1;
	}
	if (n < len - 2 || feof(in))
		return 1;
	do
		ch = getc(in);
	while (ch != EOF && ch != '\n');
	return -1;
}

int
ctlclient_read_url(FILE *in, char *buf, size_t len, char **url,
    uint64_t *lineno)
{
	int rc;

	*url = NULL;
	for (;;) {
		rc = read_line_bounded(in, buf, len);
		if (rc == 0)
			return 0;
		(*lineno)++;
		if (rc == -1)
			return -1;
		*url = trim(buf);
		if (**url != '\0' && **url != '#')
			return 1;
	}
}

int
ctlclient_socket_path(const char *opt, char *out, size_t outlen)
{
	const char *env = getenv("SLUICE_SOCKET");
	const char *rt = getenv("RUNTIME_DIRECTORY");
	int n;

	if (opt != NULL)
		n = snprintf(out, outlen, "%s", opt);
	else if (env != NULL && *env != '\0')
		n = snprintf(out, outlen, "%s", env);
	else if (rt != NULL && *rt != '\0')
		n = snprintf(out, outlen, "%.*s/control.sock",
		    (int)strcspn(rt, ":"), rt);
	else
		n = snprintf(out, outlen, "%s", CTLCLIENT_SOCKET_DEFAULT);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

const char *
ctlclient_socket_origin(const char *opt)
{
	const char *env = getenv("SLUICE_SOCKET");
	const char *rt = getenv("RUNTIME_DIRECTORY");

	if (opt != NULL)
		return "-s";
	if (env != NULL && *env != '\0')
		return "$SLUICE_SOCKET";
	if (rt != NULL && *rt != '\0')
		return "$RUNTIME_DIRECTORY";
	return "the default";
}

int
ctlclient_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

int
ctlclient_parse_seconds(const char *s, uint64_t *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < 0 || v > 1e7)
		return -1;
	*ms = (uint64_t)llround(v * 1000);
	return 0;
}

/* "+90", "-2h", "+1d": seconds relative to now, in ms. */
static int
parse_relative(const char *s, uint64_t now, uint64_t *ms)
{
	unsigned long long n, mult = 1;
	char *end;

	if (s[1] < '0' || s[1] > '9')
		return -1;
	errno = 0;
	n = strtoull(s + 1, &end, 10);
	if (errno != 0)
		return -1;
	if (*end == 'm')
		mult = 60;
	else if (*end == 'h')
		mult = 3600;
	else if (*end == 'd')
		mult = 86400;
	else if (*end != 's' && *end != '\0')
		return -1;
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (n > UINT64_MAX / 1000 / mult)
		return -1;
	n *= mult * 1000;
	if (s[0] == '-')
		return n > now ? -1 : (*ms = now - n, 0);
	if (n > UINT64_MAX - now)
		return -1;
	*ms = now + n;
	return 0;
}

int
ctlclient_parse_time(const char *s, uint64_t now, uint64_t *ms)
{
	if (s[0] == '+' || s[0] == '-')
		return parse_relative(s, now, ms);
	return parse_time_ms(s, ms);
}

char *
ctlclient_fmt_bytes(uint64_t n, char *out, size_t outlen)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	double v = (double)n;
	size_t u = 0;

	if (n < 1024) {
		snprintf(out, outlen, "%llu B", (unsigned long long)n);
		return out;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	snprintf(out, outlen, "%.1f %s", v, units[u]);
	return out;
}

/* Parses digits followed exactly by suffix; 0 and *n, or -1. */
static int
number_with(const char *v, const char *suffix, uint64_t *n)
{
	size_t len = strlen(v), sl = strlen(suffix);
	char digits[32];

	if (len <= sl || len - sl >= sizeof(digits) ||
	    strcmp(v + len - sl, suffix) != 0)
		return -1;
	memcpy(digits, v, len - sl);
	digits[len - sl] = '\0';
	return ctlclient_parse_uint(digits, UINT64_MAX, n);
}

char *
ctlclient_fmt_config_value(const char *v, char *out, size_t outlen)
{
	static const struct { const char *u; uint64_t f; } sz[] = {
		{ "TiB", 1ULL << 40 }, { "GiB", 1ULL << 30 },
		{ "MiB", 1ULL << 20 }, { "KiB", 1ULL << 10 }, { "B", 1 },
	}, du[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	uint64_t n;
	size_t i;

	if (number_with(v, "ms", &n) == 0) {
		if (n == 0) {
			snprintf(out, outlen, "0");
			return out;
		}
		/* Whole days read better as hours below two days ("24h"). */
		for (i = n < 2 * du[0].f ? 1 : 0; n % du[i].f != 0; i++)
			;
		snprintf(out, outlen, "%llu%s",
		    (unsigned long long)(n / du[i].f), du[i].u);
	} else if (number_with(v, "B", &n) == 0) {
		for (i = 0; n != 0 && n % sz[i].f != 0; i++)
			;
		if (n == 0)
			i = ARRAY_LEN(sz) - 1;
		snprintf(out, outlen, "%llu%s",
		    (unsigned long long)(n / sz[i].f), sz[i].u);
	} else
		snprintf(out, outlen, "%s", v);
	return out;
}

void
ctlclient_print_config(FILE *out, const json_t *reply)
{
	const json_t *cfg = json_object_get(reply, "config");
	const char *key, *dot, *v;
	char section[64] = "", val[4096];
	json_t *jv;
	size_t sl;

	json_object_foreach((json_t *)cfg, key, jv) {
		v = json_is_string(jv) ? json_string_value(jv) : "";
		dot = strchr(key, '.');
		sl = dot != NULL ? (size_t)(dot - key) : 0;
		if (sl < sizeof(section) && (strncmp(section, key, sl) != 0 ||
		    section[sl] != '\0')) {
			fprintf(out, "%s[%.*s]\n", *section ? "\n" : "",
			    (int)sl, key);
			memcpy(section, key, sl);
			section[sl] = '\0';
		}
		ctlclient_fmt_config_value(v, val, sizeof(val));
		fprintf(out, "%s =", dot != NULL ? dot + 1 : key);
		if (strpbrk(val, " \t#\"\\") == NULL) {
			/* an empty value is written "key =", as in the file */
			fprintf(out, "%s%s\n", *val != '\0' ? " " : "", val);
			continue;
		}
		fputc(' ', out);
		fputc('"', out);
		for (const char *p = val; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				fputc('\\', out);
			fputc(*p, out);
		}
		fputs("\"\n", out);
	}
}

char *
ctlclient_fmt_duration(uint64_t secs, char *out, size_t outlen)
{
	unsigned long long s = secs;

	if (s < 60)
		snprintf(out, outlen, "%llus", s);
	else if (s < 3600)
		snprintf(out, outlen, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, outlen, "%lluh%02llum", s / 3600, s / 60 % 60);
	else
		snprintf(out, outlen, "%llud%02lluh", s / 86400,
		    s / 3600 % 24);
	return out;
}

/* "code: message" of an error object. */
static char *
error_object_text(const json_t *e, char *out, size_t outlen)
{
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (code != NULL && msg != NULL)
		snprintf(out, outlen, "%s: %s", code, msg);
	else if (code != NULL || msg != NULL)
		snprintf(out, outlen, "%s", code != NULL ? code : msg);
	else
		snprintf(out, outlen, "unknown error");
	return out;
}

char *
ctlclient_error_text(const json_t *reply, char *out, size_t outlen)
{
	return error_object_text(json_object_get(reply, "error"), out, outlen);
}

char *
ctlclient_fmt_progress(const struct ctlclient_progress *p, uint64_t now,
    char *out, size_t outlen)
{
	char bar[PROGRESS_BAR_CELLS + 16] = "";
	uint64_t elapsed = now > p->start_ms ? now - p->start_ms : 0;
	double rate = (double)p->sent * 1000.0 / (double)(elapsed ? elapsed : 1);

	if (p->total_bytes > 0) {
		uint64_t done = p->read_bytes > p->total_bytes ?
		    p->total_bytes : p->read_bytes;
		size_t cells = (size_t)(done * PROGRESS_BAR_CELLS /
		    p->total_bytes);
		size_t i;

		bar[0] = '[';
		for (i = 0; i < PROGRESS_BAR_CELLS; i++)
			bar[i + 1] = i < cells ? '#' : '.';
		snprintf(bar + i + 1, sizeof(bar) - i - 1, "] %3u%% ",
		    (unsigned)(done * 100 / p->total_bytes));
	}
	if (p->forwarded > 0)
		snprintf(out, outlen, "%s%llu sent: %llu forwarded, %llu "
		    "rejected, %.0f/s", bar, (unsigned long long)p->sent,
		    (unsigned long long)p->forwarded,
		    (unsigned long long)p->rejected, rate);
	else
		snprintf(out, outlen, "%s%llu sent: %llu queued, %llu "
		    "duplicate, %llu rejected, %.0f/s", bar,
		    (unsigned long long)p->sent, (unsigned long long)p->queued,
		    (unsigned long long)p->duplicates,
		    (unsigned long long)p->rejected, rate);
	return out;
}

/* An integer field as text, "-" when absent or null. */
static const char *
int_text(const json_t *obj, const char *key, char *out, size_t outlen)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return "-";
	snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return out;
}

static const char *
str_or(const json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : dflt;
}

void
ctlclient_print_submit_result(FILE *out, const json_t *r)
{
	const char *status = str_or(r, "status", "?");
	const char *url = str_or(r, "url", "?");
	const char *state = str_or(r, "state", NULL);
	char id[32], etext[512];

	if (strcmp(status, "queued") == 0 &&
	    json_is_true(json_object_get(r, "requeued")))
		status = "requeued";
	if (strcmp(status, "rejected") == 0)
		fprintf(out, "%-9s - %s (%s)\n", status, url,
		    ctlclient_error_text(r, etext, sizeof(etext)));
	else if (strcmp(status, "forwarded") == 0)
		fprintf(out, "%-9s - %s (partition %s)\n", status, url,
		    int_text(r, "partition", id, sizeof(id)));
	else if (strcmp(status, "duplicate") == 0 && state != NULL)
		fprintf(out, "%-9s %s %s (%s)\n", status,
		    int_text(r, "id", id, sizeof(id)), url, state);
	else
		fprintf(out, "%-9s %s %s\n", status,
		    int_text(r, "id", id, sizeof(id)), url);
}

static json_int_t
geti(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

/* The version, uptime and dispatch state line of `status`. */
static void
print_status_head(FILE *out, const json_t *r)
{
	const char *mode = "dispatching";
	char up[32];

	if (json_is_true(json_object_get(r, "draining")))
		mode = "draining";
	else if (json_is_true(json_object_get(r, "paused")))
		mode = "paused";
	ctlclient_fmt_duration((uint64_t)geti(r, "uptime_s"), up, sizeof(up));
	fprintf(out, "sluiced %s, up %s, %s\n", str_or(r, "version", "?"),
	    up, mode);
}

static void
print_status_store(FILE *out, const json_t *r)
{
	const json_t *s = json_object_get(r, "store");
	char used[32], map[32], max[32];

	ctlclient_fmt_bytes((uint64_t)geti(s, "used_bytes"), used,
	    sizeof(used));
	ctlclient_fmt_bytes((uint64_t)geti(s, "map_size"), map, sizeof(map));
	ctlclient_fmt_bytes((uint64_t)geti(s, "map_size_max"), max,
	    sizeof(max));
	fprintf(out, "store     %s used of %s map (max %s)%s\n", used, map,
	    max, json_is_true(json_object_get(s, "full")) ?
	    ", FULL: submissions refused" : "");
}

/* The site memory, and a re-cleaning pass if one ran. */
static void
print_status_sites(FILE *out, const json_t *r)
{
	const json_t *m = json_object_get(r, "site_memory");
	const json_t *c = json_object_get(r, "reclean");

	if (json_is_true(json_object_get(m, "enabled")))
		fprintf(out, "sites     %lld in memory; %lld pages recorded, "
		    "%lld lines dropped, %lld pages mostly repeated\n",
		    (long long)geti(m, "sites"), (long long)geti(m,
		    "pages_recorded"), (long long)geti(m, "lines_dropped"),
		    (long long)geti(m, "pages_repeated"));
	if (json_is_true(json_object_get(c, "running")) ||
	    geti(c, "read") > 0)
		fprintf(out, "reclean   %s: %lld read, %lld cleaned, %lld "
		    "changed, %lld relinked, %lld failed, %lld skipped (%lld "
		    "unreadable)\n",
		    json_is_true(json_object_get(c, "running")) ? "running" :
		    "done", (long long)geti(c, "read"), (long long)geti(c,
		    "cleaned"), (long long)geti(c, "changed"), (long long)geti(c,
		    "relinked"), (long long)geti(c, "failed"), (long long)geti(c,
		    "skipped"), (long long)geti(c, "unreadable"));
}

/* WARC capture, if warc.dir is set. */
static void
print_status_warc(FILE *out, const json_t *r)
{
	const json_t *w = json_object_get(r, "warc");
	char bytes[32];

	if (!json_is_object(w))
		return;
	ctlclient_fmt_bytes((uint64_t)geti(w, "bytes"), bytes, sizeof(bytes));
	fprintf(out, "warc      %lld records (%lld revisits), %s in %lld "
	    "files since start, %lld transfers at busy_gzip_level; "
	    "writing %s\n", (long long)geti(w, "records"), (long long)geti(w,
	    "revisits"), bytes, (long long)geti(w, "files"), (long long)geti(w,
	    "busy_transfers"), str_or(w, "file", "-"));
}

/* A cluster node's line: its partitions, what it holds, its NATS. */
static void
print_status_cluster(FILE *out, const json_t *r)
{
	const json_t *c = json_object_get(r, "cluster");
	const char *err = str_or(c, "error", "");

	if (!json_is_object(c))
		return;
	fprintf(out, "cluster   node %s, %s, %lld partitions owned, %lld "
	    "URLs held, %lld pending, %lld keys read%s%s\n",
	    str_or(c, "node", "?"),
	    !json_is_true(json_object_get(c, "connected")) ?
	    "NATS UNREACHABLE: fetching nothing new" :
	    !json_is_true(json_object_get(c, "ready")) ? "joining" :
	    "connected", (long long)geti(c, "owned"), (long long)geti(c,
	    "held"), (long long)geti(c, "lag"), (long long)geti(c,
	    "keys_applied"), err[0] ? "; " : "", err);
}

void
ctlclient_print_cluster(FILE *out, const json_t *r)
{
	const json_t *c = json_object_get(r, "cluster");
	const json_t *j = json_object_get(c, "jobs");
	const json_t *t = json_object_get(c, "totals");

	fprintf(out, "cluster   %lld nodes, %lld of %lld partitions owned\n",
	    (long long)geti(c, "nodes"), (long long)geti(c, "owned"),
	    (long long)geti(c, "partitions"));
	fprintf(out, "jobs      %lld queued, %lld active, %lld done, "
	    "%lld failed, %lld cancelled\n", (long long)geti(j, "queued"),
	    (long long)geti(j, "active"), (long long)geti(j, "done"),
	    (long long)geti(j, "failed"), (long long)geti(j, "cancelled"));
	fprintf(out, "totals    %lld submitted, %lld fetched, %lld failed, "
	    "%lld retried\n", (long long)geti(t, "submitted"),
	    (long long)geti(t, "fetched"), (long long)geti(t, "failed"),
	    (long long)geti(t, "retried"));
}

void
ctlclient_print_nodes(FILE *out, const json_t *r)
{
	const json_t *nodes = json_object_get(r, "nodes"), *n;
	size_t i;

	fprintf(out, "%-20s %-10s %-8s %-8s %-25s %s\n", "NODE", "AGE",
	    "HELD", "PENDING", "HEARTBEAT", "PARTITIONS");
	json_array_foreach(nodes, i, n) {
		char age[32], *parts = json_dumps(json_object_get(n,
		    "partitions"), JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(age, sizeof(age), "%.1fs", (double)geti(n,
		    "age_ms") / 1000.0);
		fprintf(out, "%-20s %-10s %-8lld %-8lld %-25s %s\n",
		    str_or(n, "node", "?"), age, (long long)geti(n, "held"),
		    (long long)geti(n, "lag"), str_or(n, "heartbeat", "-"),
		    parts ? parts : "[]");
		free(parts);
	}
}

void
ctlclient_print_status(FILE *out, const json_t *r)
{
	const json_t *j = json_object_get(r, "jobs");
	const json_t *t = json_object_get(r, "totals");
	const json_t *d = json_object_get(r, "duplicates");
	char bytes[32];

	print_status_head(out, r);
	fprintf(out, "jobs      %lld queued, %lld active, %lld done, "
	    "%lld failed, %lld cancelled", (long long)geti(j, "queued"),
	    (long long)geti(j, "active"), (long long)geti(j, "done"),
	    (long long)geti(j, "failed"), (long long)geti(j, "cancelled"));
	if (geti(r, "unindexed") > 0)
		fprintf(out, " (%lld queued not indexed yet)",
		    (long long)geti(r, "unindexed"));
	fputc('\n', out);
	ctlclient_fmt_bytes((uint64_t)geti(t, "bytes"), bytes, sizeof(bytes));
	fprintf(out, "totals    %lld submitted, %lld fetched, %lld failed, "
	    "%lld retried, %lld not modified, %s\n",
	    (long long)geti(t, "submitted"), (long long)geti(t, "fetched"),
	    (long long)geti(t, "failed"), (long long)geti(t, "retried"),
	    (long long)geti(t, "not_modified"), bytes);
	ctlclient_fmt_bytes((uint64_t)geti(d, "index_bytes"), bytes,
	    sizeof(bytes));
	fprintf(out, "dups      %lld at submit, %lld url, %lld exact, "
	    "%lld near; index %lld docs, %s in memory%s\n",
	    (long long)geti(d, "submit"), (long long)geti(d, "url"),
	    (long long)geti(d, "exact"), (long long)geti(d, "near"),
	    (long long)geti(d, "index_docs"), bytes,
	    json_is_true(json_object_get(d, "index_full")) ? ", FULL: new "
	    "documents are not indexed" : "");
	fprintf(out, "pipeline  %lld transfers in flight (%lld robots.txt), "
	    "%lld pages at %lld workers, %lld results to commit\n",
	    (long long)geti(r, "inflight"), (long long)geti(r,
	    "robots_inflight"), (long long)geti(r, "work_backlog"),
	    (long long)geti(r, "workers"), (long long)geti(r, "to_commit"));
	fprintf(out, "rate      %.1f jobs/s over 1 min\n",
	    json_number_value(json_object_get(r, "rate_1m")));
	print_status_store(out, r);
	print_status_sites(out, r);
	print_status_warc(out, r);
	print_status_cluster(out, r);
}

/* One value of print_object: scalars as text, errors as "code: message",
 * anything else as compact JSON. */
static void
print_value(FILE *out, const json_t *v)
{
	char etext[512];

	if (json_is_string(v))
		fputs(json_string_value(v), out);
	else if (json_is_null(v))
		fputs("-", out);
	else if (json_is_object(v) && json_is_string(json_object_get(v,
	    "code")))
		fputs(error_object_text(v, etext, sizeof(etext)), out);
	else
		json_dumpf(v, out, JSON_COMPACT | JSON_ENCODE_ANY);
}

void
ctlclient_print_object(FILE *out, const json_t *obj)
{
	const char *key;
	json_t *v;
	int width = 0;

	json_object_foreach((json_t *)obj, key, v) {
		int n = (int)strlen(key);
		if (n > width)
			width = n;
	}
	json_object_foreach((json_t *)obj, key, v) {
		fprintf(out, "%s:%*s ", key, width - (int)strlen(key), "");
		print_value(out, v);
		fputc('\n', out);
	}
}

/* Column widths of one page of jobs. */
struct jobs_widths {
	int	 id;
	int	 state;
	int	 url;
};

static void
jobs_measure(const json_t *jobs, struct jobs_widths *w)
{
	char id[32];
	size_t i;
	json_t *job;

	w->id = 2;
	w->state = 5;
	w->url = 3;
	json_array_foreach(jobs, i, job) {
		int n = (int)strlen(int_text(job, "id", id, sizeof(id)));
		int s = (int)strlen(str_or(job, "state", "?"));
		int u = (int)strlen(str_or(job, "url", "?"));

		w->id = n > w->id ? n : w->id;
		w->state = s > w->state ? s : w->state;
		if (u > w->url)
			w->url = u < JOBS_URL_COLUMN_MAX ? u : JOBS_URL_COLUMN_MAX;
	}
}

static void
jobs_row(FILE *out, const json_t *job, const struct jobs_widths *w)
{
	const json_t *e = json_object_get(job, "error");
	char id[32], att[32], http[32];

	fprintf(out, "%*s  %-*s  %8s  %4s  %-*s  ", w->id,
	    int_text(job, "id", id, sizeof(id)), w->state,
	    str_or(job, "state", "?"), int_text(job, "attempts", att,
	    sizeof(att)), int_text(job, "http_status", http, sizeof(http)),
	    w->url, str_or(job, "url", "?"));
	print_value(out, e != NULL ? e : json_null());
	fputc('\n', out);
}

void
ctlclient_print_jobs(FILE *out, const json_t *jobs, int header)
{
	struct jobs_widths w;
	size_t i;
	json_t *job;

	jobs_measure(jobs, &w);
	if (header)
		fprintf(out, "%*s  %-*s  %8s  %4s  %-*s  %s\n", w.id, "ID",
		    w.state, "STATE", "ATTEMPTS", "HTTP", w.url, "URL",
		    "ERROR");
	json_array_foreach(jobs, i, job)
		jobs_row(out, job, &w);
}

static const char *
str_or_dash(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "-";
}

void
ctlclient_print_dups(FILE *out, const json_t *reply)
{
	const json_t *list = json_object_get(reply, "duplicates");
	size_t i;
	json_t *d;

	fprintf(out, "first document: %lld, %zu cop%s\n",
	    (long long)json_integer_value(json_object_get(reply, "first")),
	    json_array_size(list), json_array_size(list) == 1 ? "y" : "ies");
	json_array_foreach(list, i, d)
		fprintf(out, "%8lld  %-5s  %.3f  %s\n",
		    (long long)json_integer_value(json_object_get(d, "id")),
		    str_or_dash(json_object_get(d, "kind")),
		    json_number_value(json_object_get(d, "similarity")),
		    str_or_dash(json_object_get(d, "url")));
}

void
ctlclient_print_hosts(FILE *out, const json_t *hosts, int header)
{
	int wh = 4;
	size_t i;
	json_t *h;

	json_array_foreach(hosts, i, h) {
		int n = (int)strlen(str_or_dash(json_object_get(h, "host")));
		if (n > wh)
			wh = n;
	}
	if (header)
		fprintf(out, "%-*s  %8s  %8s  %8s  %8s  %-24s  %-24s  %s\n", wh,
		    "HOST", "INFLIGHT", "QUEUED", "DONE", "FAILED",
		    "NEXT ALLOWED", "BACKOFF UNTIL", "ROBOTS");
	json_array_foreach(hosts, i, h)
		fprintf(out, "%-*s  %8lld  %8lld  %8lld  %8lld  %-24s  %-24s  "
		    "%s\n", wh, str_or_dash(json_object_get(h, "host")),
		    (long long)json_integer_value(json_object_get(h,
		    "inflight")),
		    (long long)json_integer_value(json_object_get(h, "queued")),
		    (long long)json_integer_value(json_object_get(h, "done")),
		    (long long)json_integer_value(json_object_get(h, "failed")),
		    str_or_dash(json_object_get(h, "next_allowed")),
		    str_or_dash(json_object_get(h, "backoff_until")),
		    str_or_dash(json_object_get(h, "robots")));
}

/* "a, b, c", or "none" for an empty or missing list. */
static void
print_list(FILE *out, const char *label, const json_t *list)
{
	size_t i;
	json_t *v;

	fprintf(out, "%s:", label);
	if (json_array_size(list) == 0)
		fputs(" none", out);
	json_array_foreach(list, i, v)
		fprintf(out, "%s %s", i ? "," : "", json_string_value(v) ?
		    json_string_value(v) : "?");
	fputc('\n', out);
}

void
ctlclient_print_reload(FILE *out, const json_t *reply)
{
	print_list(out, "applied", json_object_get(reply, "applied"));
	print_list(out, "restart required",
	    json_object_get(reply, "restart_required"));
}

void
ctlclient_print_job(FILE *out, const json_t *reply)
{
	ctlclient_print_object(out, json_object_get(reply, "job"));
}

void
ctlclient_print_doc(FILE *out, const json_t *reply)
{
	json_dumpf(json_object_get(reply, "doc"), out, JSON_INDENT(2));
	fputc('\n', out);
}

void
ctlclient_print_paused(FILE *out, const json_t *reply)
{
	if (json_is_true(json_object_get(reply, "paused")))
		fprintf(out, "paused: no new fetches are dispatched\n");
	else
		fprintf(out, "resumed: fetches are dispatched\n");
}

void
ctlclient_print_retried(FILE *out, const json_t *reply)
{
	json_int_t n = geti(reply, "retried");

	fprintf(out, "retried %lld job%s\n", (long long)n, n == 1 ? "" : "s");
}

void
ctlclient_print_drained(FILE *out, const json_t *reply)
{
	fprintf(out, "drained: dispatching paused, %lld in flight\n",
	    (long long)geti(reply, "inflight"));
}

void
ctlclient_print_idle(FILE *out, const json_t *reply)
{
	fprintf(out, "idle: %lld queued, %lld active\n",
	    (long long)geti(reply, "queued"), (long long)geti(reply, "active"));
}
