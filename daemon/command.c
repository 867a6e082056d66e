/*
 * command.c - what each control request does (docs/protocol.md).
 *
 * proto.c has already checked the request's shape.  Read-only commands
 * answer at once from a short read transaction; commands that change the
 * queue become an op that daemon.c applies in the turn's write transaction
 * and answers after the commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "control.h"
#include "daemon.h"
#include "fetch.h"
#include "proto.h"
#include "robots.h"
#include "turn.h"
#include "util.h"
#include "work.h"

#define EXPORT_CHUNK	256		/* documents per read transaction */
#define EXPORT_HIGH	(1024 * 1024)	/* stop filling above this */
#define EXPORT_LOW	(256 * 1024)	/* resume below this */

typedef void (*command_fn)(struct daemon *d, struct ctl_conn *c,
    json_t *req);

void
command_tag_value(json_t *tag, json_t *reply)
{
	if (tag != NULL && reply != NULL)
		json_object_set(reply, "tag", tag);
}

void
command_tag(json_t *req, json_t *reply)
{
	command_tag_value(json_object_get(req, "tag"), reply);
}

static void
reply(struct ctl_conn *c, json_t *req, json_t *rep)
{
	command_tag(req, rep);
	control_reply(c, rep);
}

static void
reply_error(struct ctl_conn *c, json_t *req, enum proto_err e,
    const char *msg)
{
	reply(c, req, proto_error(e, msg));
}

static uint64_t
req_uint(json_t *req, const char *key, uint64_t def)
{
	json_t *v = json_object_get(req, key);

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : def;
}

/* A time argument (validated by proto.c) in epoch ms, 0 if absent. */
static uint64_t
req_time(json_t *req, const char *key)
{
	json_t *v = json_object_get(req, key);
	uint64_t ms = 0;

	if (json_is_integer(v))
		return (uint64_t)json_integer_value(v) * 1000;
	if (json_is_string(v))
		(void)parse_time_ms(json_string_value(v), &ms);
	return ms;
}

static json_t *
time_or_null(uint64_t ms)
{
	char ts[40];

	return ms ? json_string(fmt_time_ms(ms, ts, sizeof(ts))) : json_null();
}

static json_t *
job_json(const struct job *j)
{
	json_t *err = json_null();

	if (j->error_code[0] != '\0')
		err = json_pack("{s:s, s:s}", "code", j->error_code, "message",
		    j->error_msg ? j->error_msg : "");
	return json_pack("{s:I, s:s, s:s, s:i, s:i, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:o}", "id", (json_int_t)j->id, "url", j->url, "state",
	    job_state_name(j->state), "priority", j->priority, "attempts",
	    (int)j->attempts, "http_status", j->http_status ?
	    json_integer(j->http_status) : json_null(), "error", err,
	    "created_at", time_or_null(j->created_ms), "updated_at",
	    time_or_null(j->updated_ms), "not_before",
	    time_or_null(j->not_before_ms), "finished_at",
	    time_or_null(j->finished_ms), "doc_id", j->doc_id ?
	    json_integer((json_int_t)j->doc_id) : json_null());
}

json_t *
command_job_reply(struct daemon *d, MDB_txn *txn, uint64_t id)
{
	struct job j;
	json_t *r;
	int rc = queue_get(&d->queue, txn, id, &j);

	if (rc == MDB_NOTFOUND)
		return proto_error(PROTO_NOT_FOUND, "no such job");
	if (rc != 0)
		return proto_error(PROTO_INTERNAL, mdb_strerror(rc));
	r = json_pack("{s:b, s:o}", "ok", 1, "job", job_json(&j));
	queue_job_free(&j);
	return r;
}

/* --- queue-changing commands --------------------------------------- */

static struct op *
op_new(enum op_kind kind, struct ctl_conn *c, json_t *req)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->kind = kind;
	submit_reply_init(&op->sub);
	op->conn_id = control_conn_id(c);
	op->req = json_incref(req);
	return op;
}

/* Canonicalises each URL before the transaction: CPU work, no LMDB. */
static int
prepare_urls(struct daemon *d, struct op *op)
{
	size_t n = json_array_size(json_object_get(op->req, "urls"));
	const char **given;
	size_t *lens;

	if (n == 0)
		n = 1;
	given = calloc(n, sizeof(*given));
	lens = calloc(n, sizeof(*lens));
	op->urls = calloc(n, sizeof(*op->urls));
	if (given == NULL || lens == NULL || op->urls == NULL) {
		free(given);
		free(lens);
		return -1;
	}
	op->nurls = proto_urls(op->req, given, lens, n);
	for (size_t i = 0; i < op->nurls; i++) {
		struct op_url *u = &op->urls[i];

		u->given = given[i];
		u->status = url_canonicalize_n(given[i], lens[i], &d->url_opts,
		    &u->url);
		if (u->status == URL_OK)
			u->host = url_host_key(u->url, &u->origin);
		if (u->status == URL_OK && u->host == 0) {
			u->status = URL_MALFORMED;
			SAFE_FREE(u->url);
		}
	}
	free(given);
	free(lens);
	return 0;
}

static void
cmd_submit(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	json_t *prio = json_object_get(req, "priority");
	struct op *op;

	if (d->stopping) {
		reply_error(c, req, PROTO_SHUTTING_DOWN, "sluiced is stopping");
		return;
	}
	if (d->store_full) {
		reply_error(c, req, PROTO_STORE_FULL, "the store reached "
		    "store.map_size_max; nothing was queued");
		return;
	}
	op = op_new(OP_SUBMIT, c, req);
	if (op == NULL || prepare_urls(d, op) == -1) {
		if (op != NULL)
			turn_op_free(op);
		reply_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	op->priority = prio ? (int32_t)json_integer_value(prio) : 0;
	op->force = json_is_true(json_object_get(req, "force"));
	op->not_before_ms = req_time(req, "not_before");
	turn_add_op(d, op);
}

static void
queue_op(struct daemon *d, struct ctl_conn *c, json_t *req,
    enum op_kind kind)
{
	struct op *op = op_new(kind, c, req);

	if (op == NULL) {
		reply_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	op->id = req_uint(req, "id", 0);
	turn_add_op(d, op);
}

static void
cmd_cancel(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	queue_op(d, c, req, OP_CANCEL);
}

static void
cmd_retry(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	queue_op(d, c, req, json_object_get(req, "id") ? OP_RETRY :
	    OP_RETRY_FAILED);
}

/* --- read-only commands -------------------------------------------- */

static json_t *
store_json(struct daemon *d)
{
	uint64_t used, map;

	store_usage(&d->store, &used, &map);
	return json_pack("{s:I, s:I, s:I, s:b}", "used_bytes",
	    (json_int_t)used, "map_size", (json_int_t)map, "map_size_max",
	    (json_int_t)d->store.map_size_max, "full", d->store_full);
}

static json_t *
dups_json(struct daemon *d)
{
	const struct queue_counts *q = &d->queue.counts;

	return json_pack("{s:I, s:I, s:I, s:I, s:b}", "url",
	    (json_int_t)q->dup_url, "exact", (json_int_t)q->dup_exact, "near",
	    (json_int_t)q->dup_near, "index_bytes",
	    (json_int_t)dedup_memory(&d->dedup), "index_full",
	    dedup_index_full(&d->dedup));
}

static void
cmd_status(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	const struct queue_counts *q = &d->queue.counts;
	json_t *jobs = json_object();

	for (int i = 0; i < JOB_NSTATES; i++)
		json_object_set_new(jobs, job_state_name(i),
		    json_integer((json_int_t)q->state[i]));
	reply(c, req, json_pack("{s:b, s:s, s:I, s:b, s:b, s:o, "
	    "s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:f, s:i, s:i, s:i, s:I, s:o}",
	    "ok", 1, "version", SLUICE_VERSION, "uptime_s",
	    (json_int_t)((mono_ms() - d->started_mono) / 1000), "paused",
	    d->paused, "draining", d->stopping, "jobs", jobs, "totals",
	    "submitted", (json_int_t)q->submitted, "fetched",
	    (json_int_t)q->fetched, "failed", (json_int_t)q->failed, "bytes",
	    (json_int_t)q->bytes, "not_modified", (json_int_t)q->not_modified,
	    "duplicates", dups_json(d), "rate_1m", turn_rate(d), "inflight",
	    (int)fetch_inflight(d->fetch), "workers", (int)work_threads(d->work),
	    "work_backlog", (int)work_backlog(d->work), "unindexed",
	    (json_int_t)queue_unindexed(&d->queue), "store", store_json(d)));
}

/* Runs fn inside a read transaction; answers internal on LMDB errors. */
static void
with_read_txn(struct daemon *d, struct ctl_conn *c, json_t *req,
    json_t *(*fn)(struct daemon *d, MDB_txn *txn, json_t *req))
{
	MDB_txn *txn;
	int rc = store_txn_read(&d->store, &txn);

	if (rc != 0) {
		reply_error(c, req, PROTO_INTERNAL, mdb_strerror(rc));
		return;
	}
	json_t *r = fn(d, txn, req);
	mdb_txn_abort(txn);
	reply(c, req, r);
}

static json_t *
read_job(struct daemon *d, MDB_txn *txn, json_t *req)
{
	return command_job_reply(d, txn, req_uint(req, "id", 0));
}

static void
cmd_job(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	with_read_txn(d, c, req, read_job);
}

/*
 * One page of a listing: {"ok":true,<name>:[...],"next":<last>|null}, where
 * next is where the following page starts; internal on an LMDB error (rc).
 * Takes the list.
 */
static json_t *
page_reply(const char *name, json_t *list, int rc, bool more, uint64_t last)
{
	if (rc != 0) {
		json_decref(list);
		return proto_error(PROTO_INTERNAL, mdb_strerror(rc));
	}
	return json_pack("{s:b, s:o, s:o}", "ok", 1, name, list, "next",
	    more ? json_integer((json_int_t)last) : json_null());
}

struct jobs_ctx {
	json_t		*list;
	uint64_t	 limit;
	uint64_t	 last;
	bool		 more;
};

static int
jobs_add(const struct job *j, void *arg)
{
	struct jobs_ctx *jc = arg;

	if (json_array_size(jc->list) >= jc->limit) {
		jc->more = true;
		return 1;
	}
	json_array_append_new(jc->list, job_json(j));
	jc->last = j->id;
	return 0;
}

static json_t *
read_jobs(struct daemon *d, MDB_txn *txn, json_t *req)
{
	const char *state = json_string_value(json_object_get(req, "state"));
	struct jobs_ctx jc = { json_array(), req_uint(req, "limit", 100), 0,
	    false };
	int rc = queue_walk(&d->queue, txn, req_uint(req, "after", 0),
	    state ? job_state_parse(state) : -1, jobs_add, &jc);

	return page_reply("jobs", jc.list, rc, jc.more, jc.last);
}

static void
cmd_jobs(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	with_read_txn(d, c, req, read_jobs);
}

static json_t *
read_doc(struct daemon *d, MDB_txn *txn, json_t *req)
{
	const char *url = json_string_value(json_object_get(req, "url"));
	uint64_t id = req_uint(req, "id", 0);
	json_t *doc;
	char *canon = NULL;
	int rc = 0;

	if (url != NULL) {
		if (url_canonicalize(url, &d->url_opts, &canon) != URL_OK)
			return proto_error(PROTO_NOT_FOUND, "not a valid URL");
		struct job j;
		rc = queue_find_url(&d->queue, txn, canon, &id);
		free(canon);
		if (rc == 0 && (rc = queue_get(&d->queue, txn, id, &j)) == 0) {
			id = j.doc_id;
			queue_job_free(&j);
		}
	}
	if (rc == 0)
		rc = id ? doc_get(&d->docs, txn, id, &doc) : MDB_NOTFOUND;
	if (rc == MDB_NOTFOUND)
		return proto_error(PROTO_NOT_FOUND, "no such document");
	if (rc != 0)
		return proto_error(PROTO_INTERNAL, mdb_strerror(rc));
	return json_pack("{s:b, s:o}", "ok", 1, "doc", doc);
}

static void
cmd_doc(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	with_read_txn(d, c, req, read_doc);
}

/* --- export: streamed as the client reads -------------------------- */

struct export {
	struct daemon	*d;
	struct ctl_conn	*c;		/* valid during export_fill() */
	json_t		*req;
	struct doc_cursor pos;
	bool		 dups;
	uint64_t	 count;
	char		*tag;		/* ,"tag":… for each line, or NULL */
	struct buf	 line;
};

static void
export_free(struct export *e)
{
	free(e->tag);
	json_decref(e->req);
	buf_free(&e->line);
	free(e);
}

static int
export_doc(uint64_t id, const char *json, size_t len, uint64_t flags,
    void *arg)
{
	struct export *e = arg;

	if ((flags & DOC_DUPLICATE) && !e->dups)
		return 0;
	buf_reset(&e->line);
	if (buf_append(&e->line, "{\"doc\":", 7) == -1 ||
	    buf_append(&e->line, json, len) == -1 ||
	    (e->tag != NULL && buf_append(&e->line, e->tag,
	    strlen(e->tag)) == -1) ||
	    buf_append(&e->line, "}", 1) == -1)
		return 1;
	if (control_send_text(e->c, e->line.data, e->line.len) == -1)
		return -1;
	e->count++;
	return 0;
}

static void export_more(struct ctl_conn *c, void *arg, bool closing);

/* Sends chunks until the client's buffer is full or the end is reached. */
static void
export_fill(struct ctl_conn *c, struct export *e)
{
	int rc = 0;

	e->c = c;
	while (rc == 0 && control_pending(c) < EXPORT_HIGH &&
	    !control_conn_dead(c)) {
		MDB_txn *txn;
		size_t n;

		rc = store_txn_read(&e->d->store, &txn);
		if (rc != 0)
			break;
		rc = doc_walk(&e->d->docs, txn, &e->pos, EXPORT_CHUNK,
		    export_doc, e, &n);
		mdb_txn_abort(txn);
	}
	if (control_conn_dead(c)) {
		/* The client left (or could not take a document). */
		export_free(e);
		return;
	}
	if (rc == 0) {
		control_on_drain(c, EXPORT_LOW, export_more, e);
		return;
	}
	if (rc == MDB_NOTFOUND)
		reply(c, e->req, json_pack("{s:b, s:I}", "ok", 1, "count",
		    (json_int_t)e->count));
	else
		reply_error(c, e->req, PROTO_INTERNAL, mdb_strerror(rc));
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

static void
cmd_export(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	struct export *e = calloc(1, sizeof(*e));

	if (e == NULL) {
		reply_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	e->d = d;
	e->req = json_incref(req);
	e->pos.ms = req_time(req, "since");
	e->dups = json_is_true(json_object_get(req, "include_duplicates"));
	if (json_object_get(req, "tag") != NULL) {
		char *t = json_dumps(json_object_get(req, "tag"),
		    JSON_COMPACT | JSON_ENCODE_ANY);
		if (t != NULL && asprintf(&e->tag, ",\"tag\":%s", t) == -1)
			e->tag = NULL;
		free(t);
	}
	buf_init(&e->line, SIZE_MAX / 2);
	export_fill(c, e);
}

/* --- control of the daemon ----------------------------------------- */

static void
cmd_pause(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	d->paused = true;
	reply(c, req, json_pack("{s:b, s:b}", "ok", 1, "paused", 1));
}

static void
cmd_resume(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	d->paused = false;
	reply(c, req, json_pack("{s:b, s:b}", "ok", 1, "paused", 0));
}

static void
add_waiter(struct daemon *d, struct ctl_conn *c, json_t *req, bool drain)
{
	struct waiter *w = calloc(1, sizeof(*w));
	uint64_t t = req_uint(req, "timeout", 0);

	if (w == NULL) {
		reply_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	w->conn_id = control_conn_id(c);
	w->drain = drain;
	w->deadline_ms = t ? mono_ms() + t * 1000 : 0;
	w->tag = json_object_get(req, "tag");
	if (w->tag != NULL)
		json_incref(w->tag);
	turn_add_waiter(d, w);
}

static void
cmd_drain(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	d->paused = true;
	add_waiter(d, c, req, true);
}

static void
cmd_wait(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	add_waiter(d, c, req, false);
}

static void
cmd_reload(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	json_t *applied = json_array(), *restart = json_array();
	char err[512];

	if (daemon_reload(d, applied, restart, err, sizeof(err)) == -1) {
		json_decref(applied);
		json_decref(restart);
		reply_error(c, req, PROTO_BAD_REQUEST, err);
		return;
	}
	reply(c, req, json_pack("{s:b, s:o, s:o}", "ok", 1, "applied", applied,
	    "restart_required", restart));
}

static void
config_add(const char *key, const char *value, void *arg)
{
	json_object_set_new(arg, key, json_string(value));
}

static void
cmd_config(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	json_t *all = json_object();

	config_walk(&d->cfg, config_add, all);
	reply(c, req, json_pack("{s:b, s:o}", "ok", 1, "config", all));
}

struct hosts_ctx {
	struct daemon	*d;
	json_t		*list;
	uint64_t	 limit;
	uint64_t	 last;
	bool		 more;
};

static const char *
robots_state(const struct sched_host *h, bool respect)
{
	if (!respect)
		return "ignored";
	if (h == NULL || h->robots_state == SCHED_ROBOTS_UNKNOWN)
		return "unknown";
	if (h->robots_state == SCHED_ROBOTS_FETCHING)
		return "fetching";
	return robots_policy_name(h->robots_policy);
}

static int
hosts_add(const struct host_record *r, void *arg)
{
	struct hosts_ctx *hc = arg;
	struct sched_host *h = sched_find_host(&hc->d->sched, r->host);
	uint64_t now = now_ms();
	json_t *o;

	if (json_array_size(hc->list) >= hc->limit) {
		hc->more = true;
		return 1;
	}
	o = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:s}",
	    "host", r->origin, "inflight", h ? (int)h->inflight : 0, "queued",
	    (json_int_t)r->jobs[JOB_QUEUED], "done",
	    (json_int_t)r->jobs[JOB_DONE], "failed",
	    (json_int_t)r->jobs[JOB_FAILED], "cancelled",
	    (json_int_t)r->jobs[JOB_CANCELLED], "next_allowed",
	    h && h->next_start_ms > now ? time_or_null(h->next_start_ms) :
	    json_null(), "backoff_until", h && h->backoff_until_ms > now ?
	    time_or_null(h->backoff_until_ms) : json_null(), "delay_ms",
	    (json_int_t)(h && h->delay_ms > hc->d->cfg.host_delay_ms ?
	    h->delay_ms : hc->d->cfg.host_delay_ms), "robots",
	    robots_state(h, hc->d->cfg.respect_robots));
	json_array_append_new(hc->list, o);
	hc->last = r->host;
	return 0;
}

static json_t *
read_hosts(struct daemon *d, MDB_txn *txn, json_t *req)
{
	struct hosts_ctx hc = { d, json_array(), req_uint(req, "limit", 100),
	    0, false };
	int rc = queue_walk_hosts(&d->queue, txn, req_uint(req, "after", 0),
	    hosts_add, &hc);

	return page_reply("hosts", hc.list, rc, hc.more, hc.last);
}

static void
cmd_hosts(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	with_read_txn(d, c, req, read_hosts);
}

struct dups_ctx {
	struct daemon	*d;
	MDB_txn		*txn;
	json_t		*list;
};

static int
dups_add(uint64_t copy, enum doc_dup_kind kind, double similarity,
    void *arg)
{
	struct dups_ctx *dc = arg;
	json_t *doc = NULL;

	(void)doc_get(&dc->d->docs, dc->txn, copy, &doc);
	json_array_append_new(dc->list, json_pack("{s:I, s:o, s:s, s:f, s:o}",
	    "id", (json_int_t)copy, "url", doc ? json_incref(json_object_get(
	    doc, "url")) : json_null(), "kind", doc_dup_kind_name(kind),
	    "similarity", similarity, "fetched_at", doc ? json_incref(
	    json_object_get(doc, "fetched_at")) : json_null()));
	if (doc != NULL)
		json_decref(doc);
	return 0;
}

/* The copies of a document (or, for a copy, of its first document). */
static json_t *
read_dups(struct daemon *d, MDB_txn *txn, json_t *req)
{
	struct dups_ctx dc = { d, txn, json_array() };
	uint64_t id = req_uint(req, "id", 0), first = id;
	json_t *doc, *of;
	int rc = doc_get(&d->docs, txn, id, &doc);

	if (rc != 0) {
		json_decref(dc.list);
		return rc == MDB_NOTFOUND ? proto_error(PROTO_NOT_FOUND,
		    "no such document") : proto_error(PROTO_INTERNAL,
		    mdb_strerror(rc));
	}
	of = json_object_get(doc, "duplicate_of");
	if (json_is_integer(of))
		first = (uint64_t)json_integer_value(of);
	json_decref(doc);
	rc = doc_walk_dups(&d->docs, txn, first, dups_add, &dc);
	if (rc != 0) {
		json_decref(dc.list);
		return proto_error(PROTO_INTERNAL, mdb_strerror(rc));
	}
	return json_pack("{s:b, s:I, s:I, s:o}", "ok", 1, "id", (json_int_t)id,
	    "first", (json_int_t)first, "duplicates", dc.list);
}

static void
cmd_dups(struct daemon *d, struct ctl_conn *c, json_t *req)
{
	with_read_txn(d, c, req, read_dups);
}

static const command_fn handlers[CMD_COUNT] = {
	[CMD_SUBMIT] = cmd_submit,
	[CMD_STATUS] = cmd_status,
	[CMD_JOB] = cmd_job,
	[CMD_JOBS] = cmd_jobs,
	[CMD_DOC] = cmd_doc,
	[CMD_EXPORT] = cmd_export,
	[CMD_PAUSE] = cmd_pause,
	[CMD_RESUME] = cmd_resume,
	[CMD_CANCEL] = cmd_cancel,
	[CMD_RETRY] = cmd_retry,
	[CMD_DRAIN] = cmd_drain,
	[CMD_WAIT] = cmd_wait,
	[CMD_RELOAD] = cmd_reload,
	[CMD_CONFIG] = cmd_config,
	[CMD_HOSTS] = cmd_hosts,
	[CMD_DUPS] = cmd_dups,
};

void
command_dispatch(struct daemon *d, struct ctl_conn *c, const char *line,
    size_t len)
{
	enum proto_cmd cmd;
	enum proto_err e;
	json_t *req;
	char err[512];

	e = proto_parse(line, len, d->cfg.max_batch, &req, &cmd, err,
	    sizeof(err));
	if (e != PROTO_OK) {
		/* A well-formed object with a bad command still gets its
		 * tag back, so the client can tell which request failed. */
		json_t *obj = json_loadb(line, len, 0, NULL);
		json_t *rep = proto_error(e, err);
		if (json_is_object(obj))
			command_tag(obj, rep);
		if (obj != NULL)
			json_decref(obj);
		control_reply(c, rep);
		return;
	}
	handlers[cmd](d, c, req);
	json_decref(req);
}
