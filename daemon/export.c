/*
 * export.c - the export command (docs/protocol.md): every stored document
 * since a time, filtered, streamed to one client as fast as it reads.
 *
 * An export never copies a document: each is queued from the read
 * transaction's map in pieces, at most EXPORT_QUEUE bytes queued at a time,
 * and a document cut off by a full queue is found again by its position
 * when the socket drains (control_on_drain()).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cluster.h"
#include "control.h"
#include "doc.h"
#include "docformat.h"
#include "export.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "url.h"

#define EXPORT_CHUNK	256		/* documents per read transaction */
/* Bytes an export keeps queued beyond the socket buffer (docs/protocol.md):
 * a document is queued in pieces as the socket drains, whatever its size.
 * No more than the smallest daemon.max_reply_buffer. */
#define EXPORT_QUEUE	(64 * 1024)

static void
export_reply(struct ctl_conn *c, json_t *req, json_t *rep)
{
	proto_tag(req, rep);
	control_reply(c, rep);
}

static void
export_error(struct ctl_conn *c, json_t *req, enum proto_err e,
    const char *msg)
{
	export_reply(c, req, proto_error(e, msg));
}

/* What each line carries of the request's tag: ,"tag":… or "" (malloc'd),
 * NULL when memory is short. */
static char *
export_tag(json_t *req)
{
	json_t *tag = json_object_get(req, "tag");
	char *t, *out = NULL;

	if (tag == NULL)
		return strdup("");
	t = json_dumps(tag, JSON_COMPACT | JSON_ENCODE_ANY);
	if (t != NULL && asprintf(&out, ",\"tag\":%s", t) == -1)
		out = NULL;
	free(t);
	return out;
}

struct export {
	struct store	*store;
	struct docs	*docs;
	struct ctl_conn	*c;		/* valid during export_fill() */
	json_t		*req;
	struct doc_cursor done;		/* last document queued or skipped */
	struct doc_cursor at;		/* doc_walk()'s position */
	enum { EXPORT_FIRSTS, EXPORT_ALL, EXPORT_COPIES } dups;
	char		*host;		/* "http://HOST/" to match, or NULL */
	enum doc_format	 format;
	uint64_t	 min_words;
	bool		 paused;	/* stopped inside a document */
	bool		 changed;	/* that document was replaced */
	bool		 gone;		/* the connection could not take it */
	uint64_t	 count;
	uint64_t	 damaged;	/* error lines sent */
	char		*tag;		/* ,"tag":… for each line, or "" */
	size_t		 taglen;
	/* The document being queued: its position, size and bytes of its
	 * line queued so far (0: none in progress). */
	struct doc_cursor cur;
	size_t		 cur_len;
	size_t		 off;
};

static void
export_free(struct export *e)
{
	free(e->host);
	free(e->tag);
	json_decref(e->req);
	free(e);
}

#define EXPORT_HEAD	"{\"doc\":"
#define EXPORT_TAIL	"}\n"

/* Queues as much of the current document's line as the queue takes: 0 when
 * all of it is queued, 1 when paused, -1 when the connection closed. */
static int
export_put(struct export *e, const char *json, size_t len)
{
	const size_t head = sizeof(EXPORT_HEAD) - 1;
	const size_t tail = sizeof(EXPORT_TAIL) - 1;
	size_t total = head + len + e->taglen + tail;

	while (e->off < total) {
		size_t pending = control_pending(e->c), n;
		const char *p;

		if (pending >= EXPORT_QUEUE)
			return 1;
		if (e->off < head) {
			p = &EXPORT_HEAD[e->off];
			n = head - e->off;
		} else if (e->off < head + len) {
			p = json + (e->off - head);
			n = head + len - e->off;
		} else if (e->off < head + len + e->taglen) {
			p = e->tag + (e->off - head - len);
			n = head + len + e->taglen - e->off;
		} else {
			p = &EXPORT_TAIL[e->off - head - len - e->taglen];
			n = total - e->off;
		}
		if (n > EXPORT_QUEUE - pending)
			n = EXPORT_QUEUE - pending;
		if (control_send_raw(e->c, p, n) == -1)
			return -1;
		e->off += n;
	}
	e->off = 0;
	e->count++;
	return 0;
}

/* Whether the filters let a document through.  Host and word count need
 * its fields, so it is parsed only when one of them is asked for. */
static bool
export_wanted(const struct export *e, const char *json, size_t len,
    uint64_t flags)
{
	bool dup = (flags & DOC_DUPLICATE) != 0, ok = true;
	json_t *doc, *wc;

	if ((dup && e->dups == EXPORT_FIRSTS) ||
	    (!dup && e->dups == EXPORT_COPIES))
		return false;
	if (e->host == NULL && e->min_words == 0)
		return true;
	doc = json_loadb(json, len, 0, NULL);
	if (doc == NULL)
		return true;	/* sent as it is: the client sees the fault */
	wc = json_object_get(doc, "word_count");
	if (e->min_words > 0 && (!json_is_integer(wc) ||
	    json_integer_value(wc) < (json_int_t)e->min_words))
		ok = false;
	if (ok && e->host != NULL && !url_same_site(e->host,
	    json_string_value(json_object_get(doc, "url"))))
		ok = false;
	json_decref(doc);
	return ok;
}

/* A damaged record's error line (docs/protocol.md): the export goes on. */
static int
export_damaged(struct export *e, uint64_t id, uint64_t flags)
{
	char line[320];
	int n;

	n = snprintf(line, sizeof(line), "{\"error\":{\"code\":\"damaged\","
	    "\"message\":\"%s; see sluiced --check\"},\"id\":%llu",
	    (flags & DOC_DAMAGED_INDEX) ? "a time index entry is damaged: "
	    "the documents it lost come at the end of the export" :
	    "the document fails its checksum and is not exported",
	    (unsigned long long)id);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    control_send_raw(e->c, line, (size_t)n) == -1 ||
	    control_send_raw(e->c, e->tag, e->taglen) == -1 ||
	    control_send_raw(e->c, EXPORT_TAIL, sizeof(EXPORT_TAIL) - 1) == -1) {
		e->gone = true;
		return 1;
	}
	e->damaged++;
	e->done = e->at;
	return control_pending(e->c) >= EXPORT_QUEUE;
}

static int
export_doc(uint64_t id, const char *json, size_t len, uint64_t flags,
    void *arg)
{
	struct export *e = arg;
	int rc;

	if (e->off > 0 && (id != e->cur.id || e->at.ms != e->cur.ms ||
	    len != e->cur_len)) {
		e->changed = true;	/* a forced refetch replaced it */
		return 1;
	}
	if (flags & (DOC_DAMAGED | DOC_DAMAGED_INDEX))
		return export_damaged(e, id, flags);
	if (e->off == 0) {
		if (!export_wanted(e, json, len, flags)) {
			e->done = e->at;
			return 0;
		}
		e->cur = e->at;
		e->cur_len = len;
	}
	if (e->format == DOC_FORMAT_TRAFILATURA) {
		/* Made again if the line is resumed: the same bytes. */
		size_t tlen = 0;
		char *t = doc_format_trafilatura(json, len, &tlen);

		if (t == NULL) {
			e->gone = true;
			control_close(e->c, "export: out of memory");
			return 1;
		}
		rc = export_put(e, t, tlen);
		free(t);
	} else
		rc = export_put(e, json, len);
	if (rc == -1) {
		e->gone = true;
		return 1;
	}
	if (rc == 1) {
		e->paused = true;
		return 1;
	}
	e->done = e->at;
	return control_pending(e->c) >= EXPORT_QUEUE;
}

static void export_more(struct ctl_conn *c, void *arg, bool closing);

/* Queues documents until the queue is full or the end is reached. */
static void
export_fill(struct ctl_conn *c, struct export *e)
{
	bool end = false;
	int rc = 0;

	e->c = c;
	while (!control_conn_dead(c) && control_pending(c) < EXPORT_QUEUE) {
		MDB_txn *txn;
		size_t n;

		rc = store_txn_read(e->store, &txn);
		if (rc != 0)
			break;
		e->at = e->done;
		e->paused = false;
		rc = doc_walk(e->docs, txn, &e->at, EXPORT_CHUNK,
		    export_doc, e, &n);
		mdb_txn_abort(txn);
		if (e->gone || e->changed || e->paused)
			break;
		if (rc == MDB_NOTFOUND && e->off > 0)
			e->changed = true;	/* it went away */
		if (rc == MDB_NOTFOUND && e->off == 0)
			end = true;
		if (rc != 0 || e->changed)
			break;
	}
	if (control_conn_dead(c)) {
		/* The client left (or could not take a document). */
		export_free(e);
		return;
	}
	if (e->changed) {
		/* Its line is half sent and cannot be finished. */
		char why[128];

		snprintf(why, sizeof(why), "export: document %llu was "
		    "replaced while it was being sent",
		    (unsigned long long)e->cur.id);
		control_close(c, why);
		export_free(e);
		return;
	}
	if (!end && (rc == 0 || e->paused)) {
		control_on_drain(c, EXPORT_QUEUE, export_more, e);
		return;
	}
	if (end)
		export_reply(c, e->req, json_pack("{s:b, s:I, s:I}", "ok", 1,
		    "count", (json_int_t)e->count, "damaged",
		    (json_int_t)e->damaged));
	else
		export_error(c, e->req, PROTO_INTERNAL, mdb_strerror(rc));
	export_free(e);
}

static void
export_more(struct ctl_conn *c, void *arg, bool closing)
{
	if (closing) {
		export_free(arg);
		return;
	}
	export_fill(c, arg);
}

/* --duplicates, --host, --min-words: 0, or -1 after a bad_request. */
static int
export_filters(struct export *e, json_t *req, struct ctl_conn *c)
{
	const char *d = json_string_value(json_object_get(req, "duplicates"));
	const char *h = json_string_value(json_object_get(req, "host"));
	const char *f = json_string_value(json_object_get(req, "format"));
	char msg[160];

	if (f != NULL && doc_format_parse(f, &e->format) == -1) {
		export_error(c, req, PROTO_BAD_REQUEST, "format is "
		    "jsonl or trafilatura");
		return -1;
	}
	e->dups = json_is_true(json_object_get(req, "include_duplicates")) ?
	    EXPORT_ALL : EXPORT_FIRSTS;
	if (d != NULL && strcmp(d, "include") == 0)
		e->dups = EXPORT_ALL;
	else if (d != NULL && strcmp(d, "only") == 0)
		e->dups = EXPORT_COPIES;
	else if (d != NULL && strcmp(d, "exclude") != 0) {
		export_error(c, req, PROTO_BAD_REQUEST, "duplicates is "
		    "include, exclude or only");
		return -1;
	}
	e->min_words = proto_req_uint(req, "min_words", 0);
	if (h != NULL) {
		if (asprintf(&e->host, "http://%s/", h) == -1) {
			e->host = NULL;
			export_error(c, req, PROTO_INTERNAL,
			    "out of memory");
			return -1;
		}
		/* A host name, not a URL: nothing url_same_site() rejects. */
		if (strpbrk(h, "/?#@ ") != NULL ||
		    !url_same_site(e->host, e->host)) {
			snprintf(msg, sizeof(msg), "host %.80s is not a host "
			    "name", h);
			export_error(c, req, PROTO_BAD_REQUEST, msg);
			return -1;
		}
	}
	return 0;
}

void
export_start(struct store *store, struct docs *docs, struct ctl_conn *c,
    json_t *req)
{
	struct export *e = calloc(1, sizeof(*e));

	if (e == NULL) {
		export_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	e->store = store;
	e->docs = docs;
	e->req = json_incref(req);
	e->done.ms = proto_req_time(req, "since");
	if (export_filters(e, req, c) == -1) {
		export_free(e);
		return;
	}
	if ((e->tag = export_tag(req)) == NULL) {
		export_free(e);
		export_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	e->taglen = strlen(e->tag);
	export_fill(c, e);
}

/* --- export --cluster: SLUICE_DOCS instead of the store -------------- */

/* How long an export waits for JetStream's next message before it looks
 * again; the loop serves others meanwhile. */
#define EXPORT_CLUSTER_POLL_MS	10

struct cexport {
	struct cluster_reader *r;
	struct event	*poll;
	struct ctl_conn	*c;
	json_t		*req;
	char		*tag;		/* ,"tag":… for each line, or "" */
	uint64_t	 count;
	uint64_t	 damaged;	/* lines that were no JSON object */
};

static void cexport_fill(struct ctl_conn *c, struct cexport *x);

static void
cexport_free(struct cexport *x)
{
	cluster_reader_close(x->r);
	if (x->poll != NULL)
		event_free(x->poll);
	json_decref(x->req);
	free(x->tag);
	free(x);
}

static void
cexport_more(struct ctl_conn *c, void *arg, bool closing)
{
	struct cexport *x = arg;

	if (closing) {
		cexport_free(x);
		return;
	}
	cexport_fill(c, x);
}

static void
cexport_on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct cexport *x = arg;

	(void)fd;
	(void)what;
	if (control_conn_dead(x->c)) {
		cexport_free(x);
		return;
	}
	cexport_fill(x->c, x);
}

static void
cexport_fill(struct ctl_conn *c, struct cexport *x)
{
	const char *data;
	size_t len;
	int rc = 1;

	x->c = c;
	while (!control_conn_dead(c) && control_pending(c) < EXPORT_QUEUE &&
	    (rc = cluster_reader_next(x->r, &data, &len)) == 1) {
		json_t *o;

		/* Other nodes' lines are outside input: each must be one
		 * JSON object to be passed on as a document. */
		if ((o = json_loadb(data, len, 0, NULL)) ==
		    NULL || !json_is_object(o)) {
			json_decref(o);
			if (x->damaged++ == 0)
				log_warnx("export: a SLUICE_DOCS line is no "
				    "JSON object: skipped, counted in "
				    "\"damaged\"");
			continue;
		}
		json_decref(o);
		if (control_send_raw(c, "{\"doc\":", 7) == -1 ||
		    control_send_raw(c, data, len) == -1 ||
		    control_send_raw(c, x->tag, strlen(x->tag)) == -1 ||
		    control_send_raw(c, EXPORT_TAIL, sizeof(EXPORT_TAIL) -
		    1) == -1)
			break;
		x->count++;
	}
	if (control_conn_dead(c)) {
		cexport_free(x);
		return;
	}
	if (rc == -1) {
		export_reply(c, x->req, json_pack("{s:b, s:I, s:I}", "ok", 1,
		    "count", (json_int_t)x->count, "damaged",
		    (json_int_t)x->damaged));
		cexport_free(x);
	} else if (rc == 1)
		control_on_drain(c, EXPORT_QUEUE, cexport_more, x);
	else {
		struct timeval tv = { 0, EXPORT_CLUSTER_POLL_MS * 1000 };

		evtimer_add(x->poll, &tv);
	}
}

void
export_cluster_start(struct cluster *cl, struct event_base *base,
    struct ctl_conn *c, json_t *req)
{
	static const char *const local_only[] = { "duplicates",
	    "include_duplicates", "host", "min_words", "format" };
	struct cexport *x;
	char err[256];

	for (size_t i = 0; i < sizeof(local_only) / sizeof(*local_only); i++)
		if (json_object_get(req, local_only[i]) != NULL) {
			snprintf(err, sizeof(err), "\"%s\" does not apply to "
			    "the cluster's documents: an export with "
			    "\"cluster\" takes \"since\" only",
			    local_only[i]);
			export_error(c, req, PROTO_BAD_REQUEST, err);
			return;
		}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		export_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	x->req = json_incref(req);
	x->tag = export_tag(req);
	x->poll = evtimer_new(base, cexport_on_poll, x);
	if (x->tag == NULL || x->poll == NULL) {
		cexport_free(x);
		export_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	if (cluster_reader_open(cl, proto_req_time(req, "since"), &x->r, err,
	    sizeof(err)) != 0) {
		cexport_free(x);
		export_error(c, req, PROTO_CLUSTER_UNAVAILABLE, err);
		return;
	}
	cexport_fill(c, x);
}
