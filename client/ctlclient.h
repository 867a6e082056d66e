/*
 * ctlclient.h - the client side of the control protocol (docs/protocol.md),
 * kept apart from sluicectl's main() so tests can reach it: connecting to
 * sluiced's socket, sending one JSON request per line, reading replies line
 * by line under a size cap and a deadline, unique-prefix command matching,
 * and the formatters that turn replies into text for people.
 *
 * Nothing here logs or exits: errors come back as -1 plus a message in the
 * caller's err buffer, and the caller decides the exit status.
 */
#ifndef SLUICE_CTLCLIENT_H
#define SLUICE_CTLCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "util.h"

/* Longest reply line accepted; a document's text can be large. */
#define CTLCLIENT_MAX_LINE_DEFAULT	((size_t)64 << 20)
/* Bytes asked of read(2) at once. */
#define CTLCLIENT_READ_CHUNK		65536

/*
 * One connection to the daemon.  Replies arrive in request order, one per
 * line (export: several data lines, then the final one).
 */
struct ctlclient {
	int		 fd;		/* -1 when not connected */
	size_t		 max_line;	/* bytes in one reply line, '\n' excluded */
	uint64_t	 deadline;	/* mono_ms() limit for I/O; 0 = none */
	struct buf	 in;		/* received bytes not yet handed out */
	size_t		 off;		/* start of the unread bytes in `in` */
	size_t		 scan;		/* bytes after off known to hold no '\n' */
};

/* Prepares c (not connected); max_line 0 means the default. */
void ctlclient_init(struct ctlclient *c, size_t max_line);
/*
 * Connects to the Unix socket at path, within the current deadline.
 * Returns 0, or -1 with the reason (strerror-like, without the path) in err.
 */
int ctlclient_connect(struct ctlclient *c, const char *path, char *err,
    size_t errlen);
/* Uses an already connected stream socket (tests: one end of a socketpair).
 * c takes ownership of fd and makes it non-blocking. */
void ctlclient_attach(struct ctlclient *c, int fd);
/* Closes the socket and frees the buffer; c may be initialised again. */
void ctlclient_close(struct ctlclient *c);
/* Every following send/read must finish within timeout_ms from now
 * (0 = wait forever).  Call it again before each request. */
void ctlclient_set_timeout(struct ctlclient *c, uint64_t timeout_ms);

/*
 * Sends req as one compact JSON line, handling partial writes and EINTR.
 * Returns 0, or -1 with a message in err.  req stays the caller's.
 */
int ctlclient_send(struct ctlclient *c, const json_t *req, char *err,
    size_t errlen);
/*
 * Reads the next line.  Returns 1 and sets *line (NUL-terminated, without
 * "\n" or "\r\n") and *len; the line stays valid until the next read.
 * Returns 0 at end of stream when no partial line is pending, and -1 with a
 * message in err on a line longer than max_line, end of stream inside a
 * line, a timeout or an I/O error.
 */
int ctlclient_read_line(struct ctlclient *c, const char **line, size_t *len,
    char *err, size_t errlen);
/*
 * Reads the next line and parses it as a JSON object.  Returns 1 and sets
 * *reply (the caller's to json_decref) and, if line is not NULL, *line and
 * *len as ctlclient_read_line does; 0 at a clean end of stream; -1 with a
 * message in err, including for a line that is not a JSON object.
 */
int ctlclient_read_reply(struct ctlclient *c, json_t **reply,
    const char **line, size_t *len, char *err, size_t errlen);

/*
 * Copies the next n bytes of the stream (a payload after its reply line,
 * as doc's raw body) to out, or skips them when out is NULL.  Returns 0, or
 * -1 with a message in err on end
 * of stream, a timeout, or an I/O or write error.
 */
int ctlclient_read_bytes(struct ctlclient *c, size_t n, FILE *out,
    char *err, size_t errlen);

enum ctlclient_match {
	CTLCLIENT_MATCH_NONE,
	CTLCLIENT_MATCH_FOUND,
	CTLCLIENT_MATCH_AMBIGUOUS,
};
/*
 * Looks word up among names[0..n): an exact name wins ("job" beside
 * "jobs"), else a prefix of exactly one name.  Sets *idx when FOUND.
 */
enum ctlclient_match ctlclient_match(const char *word,
    const char *const *names, size_t n, size_t *idx);
/* Prints "possibilities are:" and the names word is a prefix of (all of
 * them when it is a prefix of none), one per line, tab-indented. */
void ctlclient_possibilities(FILE *out, const char *word,
    const char *const *names, size_t n);

/* The socket path used when -s is not given. */
#define CTLCLIENT_SOCKET_DEFAULT	"/run/sluice/control.sock"
/*
 * Chooses the control socket: opt (-s) if not NULL, else $SLUICE_SOCKET,
 * else the first entry of $RUNTIME_DIRECTORY (systemd may list several,
 * colon-separated) plus "/control.sock", else CTLCLIENT_SOCKET_DEFAULT.
 * Returns 0, or -1 when the path does not fit in out.
 */
int ctlclient_socket_path(const char *opt, char *out, size_t outlen);
/* Where ctlclient_socket_path() takes the path from, for messages: "-s",
 * "$SLUICE_SOCKET", "$RUNTIME_DIRECTORY" or "the default". */
const char *ctlclient_socket_origin(const char *opt);
/* Parses a decimal number in [0, max].  Returns 0, or -1. */
int ctlclient_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* Parses seconds, fractions allowed, up to 10^7, into ms.  Returns 0, or
 * -1. */
int ctlclient_parse_seconds(const char *s, uint64_t *ms);
/*
 * Parses a time for --not-before/--since: what parse_time_ms() accepts, or
 * "+N" / "-N" with a unit s, m, h or d (default s) relative to now_ms.
 * Returns 0 and sets *ms, or -1.
 */
int ctlclient_parse_time(const char *s, uint64_t now, uint64_t *ms);
/* "512 B", "10.0 MiB", "16.0 GiB".  Returns out. */
char *ctlclient_fmt_bytes(uint64_t n, char *out, size_t outlen);
/* "45s", "12m05s", "3h02m", "2d04h".  Returns out. */
char *ctlclient_fmt_duration(uint64_t secs, char *out, size_t outlen);
/*
 * A value of the config reply (sizes as "NB", durations as "Nms") in the
 * unit the config file would use: the largest that divides it exactly
 * ("10MiB", "100ms", "1s", "24h"); other values are copied.  Returns out.
 */
char *ctlclient_fmt_config_value(const char *v, char *out, size_t outlen);
/* The config reply as a config file: [section] headers, "key = value"
 * lines, values in units and quoted where the file needs quotes. */
void ctlclient_print_config(FILE *out, const json_t *reply);
/* "code: message" from a failed reply's "error"; "unknown error" if it has
 * none.  Returns out. */
char *ctlclient_error_text(const json_t *reply, char *out, size_t outlen);

/*
 * Groups URLs into submit requests: at most max_urls URLs (the daemon's
 * queue.max_batch caps it) in at most max_request bytes of request line
 * (the daemon's daemon.max_request), so no request is refused as too_large.
 */
#define CTLCLIENT_BATCH_URLS_DEFAULT	1000
#define CTLCLIENT_MAX_REQUEST_DEFAULT	((size_t)1 << 20)
/* Bytes of a submit request kept for everything but its URLs. */
#define CTLCLIENT_REQUEST_OVERHEAD	256

struct ctlclient_batch {
	json_t		*urls;		/* the batch being filled */
	size_t		 bytes;		/* JSON size of its elements */
	size_t		 max_urls;
	size_t		 room;		/* bytes left for the elements */
};

enum ctlclient_add {
	CTLCLIENT_ADD_OK,
	CTLCLIENT_ADD_FULL,		/* not added: send the batch first */
	CTLCLIENT_ADD_TOO_LONG,		/* fits in no request */
	CTLCLIENT_ADD_BAD_UTF8,		/* not valid UTF-8, so not JSON */
	CTLCLIENT_ADD_NOMEM,
};

/* Returns 0, or -1 when max_request leaves no room for URLs or memory is
 * short.  Release with ctlclient_batch_free(). */
int ctlclient_batch_init(struct ctlclient_batch *b, size_t max_urls,
    size_t max_request);
/* Adds a copy of url, unless the result says why not. */
enum ctlclient_add ctlclient_batch_add(struct ctlclient_batch *b,
    const char *url);
/* The number of URLs waiting to be sent. */
size_t ctlclient_batch_count(const struct ctlclient_batch *b);
/* Non-zero when the batch holds max_urls URLs: send it now. */
int ctlclient_batch_full(const struct ctlclient_batch *b);
/* Hands out the URLs as a JSON array (the caller's) and starts an empty
 * batch.  NULL when memory is short (the URLs are then lost). */
json_t *ctlclient_batch_take(struct ctlclient_batch *b)
    __attribute__((warn_unused_result));
/* Frees the URLs still waiting; b may be initialised again. */
void ctlclient_batch_free(struct ctlclient_batch *b);

/*
 * Reads the next URL of a `submit -` input into buf (len bytes): white
 * space around it is dropped, blank lines and lines starting with "#" are
 * skipped.  Returns 1 and sets *url (inside buf); 0 at end of input (or a
 * read error: see ferror(in)); -1 for a line longer than len - 2 bytes,
 * whose rest is skipped.  *url is NULL unless 1 is returned.  *lineno
 * counts every input line read.
 */
int ctlclient_read_url(FILE *in, char *buf, size_t len, char **url,
    uint64_t *lineno);

/* Counters of a `submit -` run, for the progress line. */
struct ctlclient_progress {
	uint64_t	 start_ms;	/* mono_ms() when reading began */
	uint64_t	 sent;		/* URLs answered by the daemon */
	uint64_t	 queued;
	uint64_t	 duplicates;
	uint64_t	 rejected;	/* by the daemon or locally */
	uint64_t	 forwarded;	/* to a cluster's frontier */
	uint64_t	 read_bytes;	/* of the input consumed so far */
	uint64_t	 total_bytes;	/* input size; 0 when unknown (a pipe) */
};
/* One progress line (no newline), with a bar when total_bytes is known.
 * now is mono_ms().  Returns out. */
char *ctlclient_fmt_progress(const struct ctlclient_progress *p, uint64_t now,
    char *out, size_t outlen);

/* One line per submit result: "queued    41 URL", "duplicate 7 URL (done)",
 * "requeued  41 URL", "rejected  - URL (code: message)". */
void ctlclient_print_submit_result(FILE *out, const json_t *result);
/* The status reply as a compact multi-line summary. */
void ctlclient_print_status(FILE *out, const json_t *reply);
/* status --cluster's totals, and nodes' table. */
void ctlclient_print_cluster(FILE *out, const json_t *reply);
void ctlclient_print_nodes(FILE *out, const json_t *reply);
/* An object as aligned "key: value" lines, in the daemon's key order;
 * null is "-", an error object is "code: message". */
void ctlclient_print_object(FILE *out, const json_t *obj);
/* A page of jobs as aligned columns id, state, attempts, http, url, error;
 * the header line only when header is non-zero. */
/* Prints a `dups` reply: the first document and one line per copy. */
void ctlclient_print_dups(FILE *out, const json_t *reply);
/* Prints the hosts of a `hosts` reply as aligned columns (with a header
 * line when header is set). */
void ctlclient_print_hosts(FILE *out, const json_t *hosts, int header);
void ctlclient_print_jobs(FILE *out, const json_t *jobs, int header);
/* The reload reply: the applied keys and those needing a restart. */
void ctlclient_print_reload(FILE *out, const json_t *reply);
/* The "job" of a job or cancel reply, as ctlclient_print_object does. */
void ctlclient_print_job(FILE *out, const json_t *reply);
/* The "doc" of a doc reply as indented JSON. */
void ctlclient_print_doc(FILE *out, const json_t *reply);
/* One line each for the replies of pause/resume, retry, drain and wait. */
void ctlclient_print_paused(FILE *out, const json_t *reply);
void ctlclient_print_retried(FILE *out, const json_t *reply);
void ctlclient_print_drained(FILE *out, const json_t *reply);
void ctlclient_print_idle(FILE *out, const json_t *reply);

#endif
