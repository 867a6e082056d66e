/*
 * command.c - what each control request does, and every reply
 * (docs/protocol.md; see command.h).
 *
 * proto.c has already checked the request's shape.  Read-only commands
 * answer at once from a short read transaction; commands that change the
 * queue become an op (op.c) that the turn applies in its write
 * transaction, answered here after the commit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "command.h"
#include "config.h"
#include "control.h"
#include "dedup.h"
#include "feeds.h"
#include "doc.h"
#include "export.h"
#include "fetch.h"
#include "lease.h"
#include "metrics.h"
#include "op.h"
#include "outcome.h"
#include "proto.h"
#include "queue.h"
#include "reclean.h"
#include "robots.h"
#include "sched.h"
#include "sitemem.h"
#include "store.h"
#include "url.h"
#include "util.h"
#include "warc.h"
#include "warcbody.h"
#include "work.h"

/* A client waiting for a condition: `wait` or `drain`. */
struct waiter {
	uint64_t	 conn_id;
	json_t		*tag;
	bool		 drain;
	uint64_t	 deadline_ms;	/* mono_ms(); 0 = none */
	struct waiter	*next;
};


typedef void (*command_fn)(struct command *cmd, struct ctl_conn *c,
    json_t *req);

static void
command_tag_value(json_t *tag, json_t *reply)
{
	if (tag != NULL && reply != NULL)
		json_object_set(reply, "tag", tag);
}

static void
command_tag(json_t *req, json_t *reply)
{
	proto_tag(req, reply);
}

static void
command_reply(struct ctl_conn *c, json_t *req, json_t *rep)
{
	command_tag(req, rep);
	control_reply(c, rep);
}

static void
command_reply_error(struct ctl_conn *c, json_t *req, enum proto_err e,
    const char *msg)
{
	command_reply(c, req, proto_error(e, msg));
}

/* True on a cluster node; else c hears `unsupported`. */
static bool
command_clustered(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	if (cmd->cluster == NULL)
		command_reply_error(c, req, PROTO_UNSUPPORTED, "this node is "
		    "not in a cluster (no cluster.nats)");
	return cmd->cluster != NULL;
}

static json_t *
command_time_or_null(uint64_t ms)
{
	char ts[40];

	return ms ? json_string(fmt_time_ms(ms, ts, sizeof(ts))) : json_null();
}

static json_t *
command_job_json(const struct job *j)
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
	    "created_at", command_time_or_null(j->created_ms), "updated_at",
	    command_time_or_null(j->updated_ms), "not_before",
	    command_time_or_null(j->not_before_ms), "finished_at",
	    command_time_or_null(j->finished_ms), "doc_id", j->doc_id ?
	    json_integer((json_int_t)j->doc_id) : json_null());
}

static json_t *
command_job_reply(struct command *cmd, MDB_txn *txn, uint64_t id)
{
	struct job j;
	json_t *r;
	int rc = queue_get(cmd->queue, txn, id, &j);

	if (rc == MDB_NOTFOUND)
		return proto_error(PROTO_NOT_FOUND, "no such job");
	if (rc == MDB_CORRUPTED)
		return proto_error(PROTO_DAMAGED, "the stored job record is "
		    "damaged (its checksum does not match); see sluiced --check");
	if (rc != 0)
		return proto_error(PROTO_INTERNAL, mdb_strerror(rc));
	r = json_pack("{s:b, s:o}", "ok", 1, "job", command_job_json(&j));
	queue_job_free(&j);
	return r;
}

/* --- queue-changing commands --------------------------------------- */

static void
cmd_submit(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	json_t *prio = json_object_get(req, "priority");
	struct op *op;

	if (cmd->stopping) {
		command_reply_error(c, req, PROTO_SHUTTING_DOWN, "sluiced is stopping");
		return;
	}
	if (cmd->store->full) {
		const char *msg;
		enum proto_err e = op_store_refusal(cmd->store, &msg);

		command_reply_error(c, req, e, msg);
		return;
	}
	op = op_new(OP_SUBMIT, control_conn_id(c), req);
	if (op == NULL || op_prepare_urls(op, cmd->url_opts) == -1) {
		op_free(op);
		command_reply_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	op->priority = prio ? (int32_t)json_integer_value(prio) : 0;
	op->force = json_is_true(json_object_get(req, "force"));
	op->not_before_ms = proto_req_time(req, "not_before");
	if (cmd->cluster != NULL)
		cluster_forward(cmd->cluster, op);	/* answered later */
	else
		ops_add(cmd->ops, op);
}

static void
command_queue_op(struct command *cmd, struct ctl_conn *c, json_t *req,
    enum op_kind kind)
{
	struct op *op = op_new(kind, control_conn_id(c), req);

	if (op == NULL) {
		command_reply_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	op->id = proto_req_uint(req, "id", 0);
	ops_add(cmd->ops, op);
}

static void
cmd_cancel(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_queue_op(cmd, c, req, OP_CANCEL);
}

static void
cmd_retry(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_queue_op(cmd, c, req, json_object_get(req, "id") ? OP_RETRY :
	    OP_RETRY_FAILED);
}

/* control_write_fn of a submit's reply: its results, already text. */
static int
command_write_submit(struct buf *out, void *arg)
{
	struct op *op = arg;

	return submit_reply_write(&op->sub, json_object_get(op->req, "tag"),
	    out);
}

/* The reply to an applied op, from its result. */
static json_t *
command_op_reply(const struct op *op)
{
	if (op->err != PROTO_OK)
		return proto_error(op->err, op->errmsg);
	if (op->feed != NULL)
		return json_pack("{s:b, s:O}", "ok", 1, "feed", op->feed);
	if (op->kind == OP_CANCEL && op->has_job)
		return json_pack("{s:b, s:o}", "ok", 1, "job",
		    command_job_json(&op->job));
	return json_pack("{s:b, s:I}", "ok", 1, "retried",
	    (json_int_t)op->retried);
}

void
command_answer(struct command *cmd, struct op *list)
{
	struct op *op, *next;

	for (op = list; op != NULL; op = next) {
		struct ctl_conn *c = control_find(cmd->control, op->conn_id);

		next = op->next;
		if (c != NULL && op->kind == OP_SUBMIT && op->err == PROTO_OK)
			control_reply_with(c, command_write_submit, op);
		else if (c != NULL)
			command_reply(c, op->req, command_op_reply(op));
		op_free(op);
	}
}

/* --- read-only commands -------------------------------------------- */

static json_t *
command_store_json(struct command *cmd)
{
	uint64_t used, map;

	store_usage(cmd->store, &used, &map);
	return json_pack("{s:I, s:I, s:I, s:b, s:s}", "used_bytes",
	    (json_int_t)used, "map_size", (json_int_t)map, "map_size_max",
	    (json_int_t)cmd->store->map_size_max, "full", cmd->store->full,
	    "condition", store_condition_name(cmd->store->condition));
}

static json_t *
command_dups_json(struct command *cmd)
{
	const struct queue_counts *q = &cmd->queue->counts;

	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "submit",
	    (json_int_t)q->dup_submit, "url", (json_int_t)q->dup_url, "exact",
	    (json_int_t)q->dup_exact, "near", (json_int_t)q->dup_near,
	    "index_docs", (json_int_t)dedup_indexed(cmd->dedup), "index_bytes",
	    (json_int_t)dedup_memory(cmd->dedup), "index_full",
	    dedup_index_full(cmd->dedup));
}

/* WARC capture since start, or null when warc.dir is empty. */
static json_t *
command_warc_json(const struct warc *w)
{
	struct warc_stats st;
	const char *path = warc_path(w);

	if (w == NULL)
		return json_null();
	warc_get_stats(w, &st);
	return json_pack("{s:s?, s:I, s:I, s:I, s:I, s:I}", "file", path,
	    "records", (json_int_t)st.records, "revisits",
	    (json_int_t)st.revisits, "bytes", (json_int_t)st.bytes, "files",
	    (json_int_t)st.files, "busy_transfers", (json_int_t)st.busy);
}

/* The running totals, kept in the store since it was created. */
static json_t *
command_totals_json(const struct queue_counts *q)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "submitted",
	    (json_int_t)q->submitted, "fetched", (json_int_t)q->fetched,
	    "failed", (json_int_t)q->failed, "retried", (json_int_t)q->retried,
	    "bytes", (json_int_t)q->bytes, "not_modified",
	    (json_int_t)q->not_modified);
}

/* {"queued":N,...}: the jobs by state, as status and stats give them. */
static json_t *
command_jobs_json(const struct queue_counts *q)
{
	json_t *jobs = json_object();

	for (int i = 0; i < JOB_NSTATES; i++)
		json_object_set_new(jobs, job_state_name(i),
		    json_integer((json_int_t)q->state[i]));
	return jobs;
}

json_t *
command_summary_json(struct command *cmd)
{
	const struct queue_counts *q = &cmd->queue->counts;

	return json_pack("{s:o, s:o}", "jobs", command_jobs_json(q),
	    "totals", command_totals_json(q));
}

static void
cmd_status(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	const struct queue_counts *q = &cmd->queue->counts;
	json_t *jobs, *r;

	if (json_is_true(json_object_get(req, "cluster"))) {
		if (!command_clustered(cmd, c, req))
			return;
		command_reply(c, req, json_pack("{s:b, s:o}", "ok", 1,
		    "cluster", cluster_totals(cmd->cluster)));
		return;
	}
	jobs = command_jobs_json(q);
	r = json_pack("{s:b, s:s, s:I, s:b, s:b, s:o, s:o, "
	    "s:o, s:f, s:i, s:i, s:i, s:i, s:i, s:I, s:o, s:o, s:o, s:o}",
	    "ok", 1, "version", SLUICE_VERSION, "uptime_s",
	    (json_int_t)((mono_ms() - cmd->started_mono) / 1000), "paused",
	    cmd->paused, "draining", cmd->stopping, "jobs", jobs, "totals",
	    command_totals_json(q), "duplicates", command_dups_json(cmd),
	    "rate_1m", outcome_rate(cmd->outcomes), "inflight",
	    (int)fetch_inflight(cmd->fetch), "robots_inflight",
	    (int)cmd->leases->robots_inflight, "to_commit",
	    (int)cmd->outcomes->count,
	    "workers", (int)work_threads(cmd->work), "work_backlog",
	    (int)work_backlog(cmd->work), "unindexed",
	    (json_int_t)queue_unindexed(cmd->queue), "store",
	    command_store_json(cmd), "feeds", feeds_counts_json(cmd->feeds),
	    "site_memory", sitemem_status_json(cmd->sitemem), "reclean",
	    reclean_status_json(cmd->reclean));
	if (r != NULL)
		json_object_set_new(r, "warc", command_warc_json(cmd->warc));
	if (r != NULL && cmd->cluster != NULL)
		json_object_set_new(r, "cluster", cluster_status(cmd->cluster));
	command_reply(c, req, r);
}

static void
cmd_nodes(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	if (!command_clustered(cmd, c, req))
		return;
	command_reply(c, req, json_pack("{s:b, s:o}", "ok", 1, "nodes",
	    cluster_nodes(cmd->cluster)));
}

/* --- stats: status with the recent counters (sluicectl watch) ------ */

#define STATS_HOSTS_DEFAULT	10
#define STATS_CANDIDATES	64	/* hosts looked up in LMDB, at most */

struct stats_host {
	const struct sched_host *h;
	uint64_t	 queued;
	char		*origin;
};

struct stats_pick {
	struct stats_host c[STATS_CANDIDATES];
	size_t		 n;
	uint64_t	 now;
};

/* Busier first: in flight, then with ready jobs, then backed off. */
static int
stats_busier(const struct sched_host *a, const struct sched_host *b,
    uint64_t now)
{
	if (a->inflight != b->inflight)
		return a->inflight > b->inflight ? 1 : -1;
	if (a->ready != b->ready)
		return a->ready ? 1 : -1;
	return (a->backoff_until_ms > now) - (b->backoff_until_ms > now);
}

/* sched_walk: keeps the STATS_CANDIDATES busiest hosts. */
static void
stats_pick_host(struct sched_host *h, void *arg)
{
	struct stats_pick *p = arg;
	size_t worst = 0;

	if (h->inflight == 0 && !h->ready && h->backoff_until_ms <= p->now)
		return;
	if (p->n < STATS_CANDIDATES) {
		p->c[p->n++].h = h;
		return;
	}
	for (size_t i = 1; i < p->n; i++)
		if (stats_busier(p->c[worst].h, p->c[i].h, p->now) > 0)
			worst = i;
	if (stats_busier(h, p->c[worst].h, p->now) > 0)
		p->c[worst].h = h;
}

static int
stats_host_record(const struct host_record *r, void *arg)
{
	struct stats_host *sh = arg;

	if (r->host == sh->h->key) {
		sh->queued = r->jobs[JOB_QUEUED];
		sh->origin = strdup(r->origin);
	}
	return 1;
}

static int
stats_host_cmp(const void *a, const void *b)
{
	const struct stats_host *x = a, *y = b;

	if (x->h->inflight != y->h->inflight)
		return x->h->inflight > y->h->inflight ? -1 : 1;
	if (x->queued != y->queued)
		return x->queued > y->queued ? -1 : 1;
	return x->h->key < y->h->key ? -1 : x->h->key > y->h->key;
}

static json_t *
stats_hosts(struct command *cmd, MDB_txn *txn, size_t want)
{
	struct stats_pick *p = calloc(1, sizeof(*p));
	json_t *list = json_array();

	if (p == NULL || want == 0) {
		free(p);
		return list;
	}
	p->now = now_ms();
	sched_walk(cmd->sched, stats_pick_host, p);
	for (size_t i = 0; i < p->n; i++)
		(void)queue_walk_hosts(cmd->queue, txn, p->c[i].h->key - 1,
		    stats_host_record, &p->c[i]);
	qsort(p->c, p->n, sizeof(p->c[0]), stats_host_cmp);
	for (size_t i = 0; i < p->n; i++) {
		const struct sched_host *h = p->c[i].h;
		if (i < want && p->c[i].origin != NULL)
			json_array_append_new(list, json_pack("{s:s, s:i, s:I, "
			    "s:o}", "host", p->c[i].origin, "inflight",
			    (int)h->inflight, "queued",
			    (json_int_t)p->c[i].queued, "backoff_until",
			    h->backoff_until_ms > p->now ?
			    command_time_or_null(h->backoff_until_ms) :
			    json_null()));
		free(p->c[i].origin);
	}
	free(p);
	return list;
}

/* Pages and bytes per second over the last `secs` seconds (or since the
 * first sample). */
static json_t *
stats_rate(const struct metrics *m, uint64_t secs)
{
	const struct metrics_sample *last = metrics_sample_latest(m),
	    *old = metrics_sample_ago(m, secs);
	double dt = last && old && last->sec > old->sec ?
	    (double)(last->sec - old->sec) : 0;

	return json_pack("{s:f, s:f, s:i}", "pages_per_s", dt > 0 ?
	    (double)(last->pages - old->pages) / dt : 0.0, "bytes_per_s",
	    dt > 0 ? (double)(last->bytes - old->bytes) / dt : 0.0,
	    "seconds", (int)dt);
}

static json_t *
stats_fetches(const struct metrics *m)
{
	const struct metrics_sample *old = metrics_sample_ago(m,
	    METRICS_WINDOW);
	json_t *o = json_object();

	for (int i = 0; i < METRICS_FETCH_N; i++)
		json_object_set_new(o, metrics_fetch_name(i),
		    json_integer((json_int_t)(m->fetches[i] -
		    (old ? old->fetches[i] : 0))));
	return o;
}

static json_t *
stats_failures(const struct metrics *m)
{
	json_t *list = json_array();
	uint64_t n = m->nfailures < METRICS_FAILURES ? m->nfailures :
	    METRICS_FAILURES;

	for (uint64_t i = 0; i < n; i++) {	/* newest first */
		const struct metrics_failure *f = &m->failures[(m->nfailures -
		    1 - i) % METRICS_FAILURES];
		json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:o, "
		    "s:o}", "id", (json_int_t)f->job_id, "url", f->url, "code",
		    f->code, "http_status", f->http_status ?
		    json_integer(f->http_status) : json_null(), "at",
		    command_time_or_null(f->at_ms)));
	}
	return list;
}

static void
cmd_stats(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	const struct queue_counts *q = &cmd->queue->counts;
	json_t *jobs, *hosts;
	MDB_txn *txn;
	int rc = store_txn_read(cmd->store, &txn);

	if (rc != 0) {
		command_reply_error(c, req, PROTO_INTERNAL, mdb_strerror(rc));
		return;
	}
	hosts = stats_hosts(cmd, txn, proto_req_uint(req, "hosts",
	    STATS_HOSTS_DEFAULT));
	mdb_txn_abort(txn);
	jobs = command_jobs_json(q);
	command_reply(c, req, json_pack("{s:b, s:s, s:I, s:b, s:b, s:o, "
	    "s:o, s:I, s:i, s:i, s:{s:o, s:o}, s:o, s:o, s:o}",
	    "ok", 1, "version", SLUICE_VERSION, "uptime_s",
	    (json_int_t)((mono_ms() - cmd->started_mono) / 1000), "paused",
	    cmd->paused, "draining", cmd->stopping, "jobs", jobs, "totals",
	    command_totals_json(q), "transfer_bytes",
	    (json_int_t)cmd->metrics->fetched_bytes, "inflight",
	    (int)fetch_inflight(cmd->fetch), "work_backlog",
	    (int)work_backlog(cmd->work), "rates", "10s",
	    stats_rate(cmd->metrics, 10), "1m", stats_rate(cmd->metrics, 60),
	    "fetches_1m", stats_fetches(cmd->metrics), "hosts", hosts,
	    "failures", stats_failures(cmd->metrics)));
}

/* Runs fn inside a read transaction; answers internal on LMDB errors. */
static void
command_with_read_txn(struct command *cmd, struct ctl_conn *c, json_t *req,
    json_t *(*fn)(struct command *cmd, MDB_txn *txn, json_t *req))
{
	MDB_txn *txn;
	int rc = store_txn_read(cmd->store, &txn);

	if (rc != 0) {
		command_reply_error(c, req, PROTO_INTERNAL, mdb_strerror(rc));
		return;
	}
	json_t *r = fn(cmd, txn, req);
	mdb_txn_abort(txn);
	command_reply(c, req, r);
}

static json_t *
read_job(struct command *cmd, MDB_txn *txn, json_t *req)
{
	return command_job_reply(cmd, txn, proto_req_uint(req, "id", 0));
}

static void
cmd_job(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_with_read_txn(cmd, c, req, read_job);
}

/*
 * One page of a listing: {"ok":true,<name>:[...],"next":<last>|null}, where
 * next is where the following page starts; internal on an LMDB error (rc).
 * Takes the list.
 */
static json_t *
command_page_reply(const char *name, json_t *list, int rc, bool more, uint64_t last)
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
command_jobs_add(const struct job *j, void *arg)
{
	struct jobs_ctx *jc = arg;

	if (json_array_size(jc->list) >= jc->limit) {
		jc->more = true;
		return 1;
	}
	json_array_append_new(jc->list, command_job_json(j));
	jc->last = j->id;
	return 0;
}

static json_t *
read_jobs(struct command *cmd, MDB_txn *txn, json_t *req)
{
	const char *state = json_string_value(json_object_get(req, "state"));
	struct jobs_ctx jc = { json_array(), proto_req_uint(req, "limit", 100), 0,
	    false };
	int rc = queue_walk(cmd->queue, txn, proto_req_uint(req, "after", 0),
	    state ? job_state_parse(state) : -1, command_jobs_add, &jc);

	return command_page_reply("jobs", jc.list, rc, jc.more, jc.last);
}

static void
cmd_jobs(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_with_read_txn(cmd, c, req, read_jobs);
}

/* The document a doc request names (by id, or by its job's URL) and its
 * parsed JSON: NULL, or the error reply. */
static json_t *
command_find_doc(struct command *cmd, MDB_txn *txn, json_t *req,
    uint64_t *idp, json_t **doc)
{
	const char *url = json_string_value(json_object_get(req, "url"));
	uint64_t id = proto_req_uint(req, "id", 0);
	char *canon = NULL;
	int rc = 0;

	if (url != NULL) {
		if (url_canonicalize(url, cmd->url_opts, &canon) != URL_OK)
			return proto_error(PROTO_NOT_FOUND, "not a valid URL");
		struct job j;
		rc = queue_find_url(cmd->queue, txn, canon, &id);
		free(canon);
		if (rc == 0 && (rc = queue_get(cmd->queue, txn, id, &j)) == 0) {
			id = j.doc_id;
			queue_job_free(&j);
		}
	}
	if (rc == 0)
		rc = id ? doc_get(cmd->docs, txn, id, doc) : MDB_NOTFOUND;
	if (rc == MDB_NOTFOUND)
		return proto_error(PROTO_NOT_FOUND, "no such document");
	if (rc == MDB_CORRUPTED)
		return proto_error(PROTO_DAMAGED, "the stored record is damaged "
		    "(its checksum does not match); see sluiced --check");
	if (rc != 0)
		return proto_error(PROTO_INTERNAL, mdb_strerror(rc));
	*idp = id;
	return NULL;
}

static json_t *
read_doc(struct command *cmd, MDB_txn *txn, json_t *req)
{
	json_t *doc, *err;
	uint64_t id;

	if ((err = command_find_doc(cmd, txn, req, &id, &doc)) != NULL)
		return err;
	return json_pack("{s:b, s:o}", "ok", 1, "doc", doc);
}

/* A document's field, null when absent. */
static json_t *
command_field(json_t *doc, const char *name)
{
	json_t *v = json_object_get(doc, name);

	return v != NULL ? v : json_null();
}

/* doc with "raw": the reply line, then raw_bytes bytes and a newline. */
struct raw_reply {
	json_t		*head;
	const void	*body;
	size_t		 len;
};

static int
command_write_raw(struct buf *out, void *arg)
{
	struct raw_reply *r = arg;
	char *line = json_dumps(r->head, JSON_COMPACT);
	int rc = -1;

	if (line != NULL && buf_append(out, line, strlen(line)) == 0 &&
	    buf_append(out, "\n", 1) == 0 &&
	    buf_append(out, r->body, r->len) == 0)
		rc = 0;
	free(line);
	return rc;
}

static void
command_doc_raw(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	/* The whole body is queued at once: it must fit the client's reply
	 * buffer, with room for the line before it. */
	size_t max = cmd->cfg->max_reply_buffer - 4096;
	struct raw_reply r = { 0 };
	struct warcbody_loc loc;
	json_t *doc = NULL, *err;
	bool in_warc = false;
	void *body = NULL;
	uint64_t id = 0;
	MDB_txn *txn;
	char msg[PATH_MAX + 512], why[PATH_MAX + 256];
	int rc = store_txn_read(cmd->store, &txn);

	if (rc != 0) {
		command_reply_error(c, req, PROTO_INTERNAL, mdb_strerror(rc));
		return;
	}
	err = command_find_doc(cmd, txn, req, &id, &doc);
	if (err == NULL)
		rc = doc_get_raw(cmd->docs, txn, id, max, &body, &r.len);
	/* Not in LMDB: the WARC record that holds it (warc.serves_raw). */
	if (err == NULL && rc == MDB_NOTFOUND)
		in_warc = warcbody_find_doc(txn, cmd->warc_bodies, doc, &loc) ==
		    0;
	mdb_txn_abort(txn);
	if (in_warc) {
		rc = warcbody_load(&loc, max, &body, &r.len, why, sizeof(why));
		if (rc == ENOMEM || rc == EFBIG)
			;
		else if (rc != 0) {
			snprintf(msg, sizeof(msg), "the raw body of document %"
			    PRIu64 " is in a WARC record that cannot be read "
			    "back: %s", id, why);
			err = proto_error(PROTO_NOT_FOUND, msg);
		}
	}
	if (err == NULL && rc == MDB_NOTFOUND) {
		snprintf(msg, sizeof(msg), "no raw body is stored for document "
		    "%" PRIu64 " (store.keep_raw was off, or the response was "
		    "not a page that was cleaned)", id);
		err = proto_error(PROTO_NOT_FOUND, msg);
	} else if (err == NULL && rc == EFBIG) {
		snprintf(msg, sizeof(msg), "the raw body of document %" PRIu64
		    " is over daemon.max_reply_buffer: raise it to fetch it", id);
		err = proto_error(PROTO_TOO_LARGE, msg);
	} else if (err == NULL && rc != 0) {
		err = proto_error(PROTO_INTERNAL, rc == ENOMEM ? "out of "
		    "memory" : rc == MDB_CORRUPTED ? "the stored raw body is "
		    "damaged" : mdb_strerror(rc));
	}
	if (err != NULL) {
		json_decref(doc);
		command_reply(c, req, err);
		return;
	}
	r.body = body;
	r.head = json_pack("{s:b, s:I, s:O, s:O, s:O, s:I}", "ok", 1, "id",
	    (json_int_t)id, "final_url", command_field(doc, "final_url"),
	    "content_type", command_field(doc, "content_type"), "charset",
	    command_field(doc, "charset"), "raw_bytes", (json_int_t)r.len);
	json_decref(doc);
	if (r.head == NULL) {
		free(body);
		command_reply_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	command_tag(req, r.head);
	control_reply_with(c, command_write_raw, &r);
	json_decref(r.head);
	free(body);
}

static void
cmd_doc(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	if (json_is_true(json_object_get(req, "raw")))
		command_doc_raw(cmd, c, req);
	else
		command_with_read_txn(cmd, c, req, read_doc);
}

/* --- export (export.c) --------------------------------------------- */

static void
cmd_export(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	if (!json_is_true(json_object_get(req, "cluster")))
		export_start(cmd->store, cmd->docs, c, req);
	else if (command_clustered(cmd, c, req))
		export_cluster_start(cmd->cluster, cmd->base, c, req);
}

/* --- control of the daemon ----------------------------------------- */

static void
cmd_pause(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	cmd->paused = true;
	command_reply(c, req, json_pack("{s:b, s:b}", "ok", 1, "paused", 1));
}

static void
cmd_resume(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	cmd->paused = false;
	command_reply(c, req, json_pack("{s:b, s:b}", "ok", 1, "paused", 0));
}

static void
command_add_waiter(struct command *cmd, struct ctl_conn *c, json_t *req,
    bool drain)
{
	struct waiter *w = calloc(1, sizeof(*w));
	uint64_t t = proto_req_uint(req, "timeout", 0);

	if (w == NULL) {
		command_reply_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	w->conn_id = control_conn_id(c);
	w->drain = drain;
	w->deadline_ms = t ? mono_ms() + t * 1000 : 0;
	w->tag = json_object_get(req, "tag");
	if (w->tag != NULL)
		json_incref(w->tag);
	w->next = cmd->waiters;
	cmd->waiters = w;
}

static void
command_free_waiter(struct waiter *w)
{
	if (w->tag != NULL)
		json_decref(w->tag);
	free(w);
}

/* The answer w's condition gives now, or NULL to keep waiting. */
static json_t *
command_waiter_reply(struct command *cmd, const struct waiter *w,
    uint64_t now)
{
	const struct queue_counts *q = &cmd->queue->counts;

	if (w->drain && cmd->sched->inflight == 0 &&
	    !outcome_pending(cmd->outcomes) && cmd->outcomes->at_workers == 0)
		return json_pack("{s:b, s:b, s:i}", "ok", 1, "paused",
		    cmd->paused, "inflight", 0);
	if (!w->drain && q->state[JOB_QUEUED] == 0 &&
	    q->state[JOB_ACTIVE] == 0)
		return json_pack("{s:b, s:i, s:i}", "ok", 1, "queued", 0,
		    "active", 0);
	if (w->deadline_ms != 0 && now >= w->deadline_ms)
		return proto_error(PROTO_TIMEOUT, "timeout reached");
	return NULL;
}

void
command_check_waiters(struct command *cmd)
{
	struct waiter *list = cmd->waiters, **wp = &list, *w;
	uint64_t now = mono_ms();

	/* Replies may run the clients' next requests, which may add
	 * waiters: work on a list of our own, then put the rest back. */
	cmd->waiters = NULL;
	while ((w = *wp) != NULL) {
		struct ctl_conn *c = control_find(cmd->control, w->conn_id);
		json_t *rep = c != NULL ? command_waiter_reply(cmd, w, now) :
		    NULL;

		if (c != NULL && rep == NULL) {
			wp = &w->next;
			continue;
		}
		*wp = w->next;
		if (c != NULL) {	/* else the client has gone */
			command_tag_value(w->tag, rep);
			control_reply(c, rep);
		}
		command_free_waiter(w);
	}
	*wp = cmd->waiters;	/* waiters added meanwhile */
	cmd->waiters = list;
}

void
command_shutdown(struct command *cmd)
{
	struct waiter *w;

	while ((w = cmd->waiters) != NULL) {
		struct ctl_conn *c = control_find(cmd->control, w->conn_id);

		cmd->waiters = w->next;
		if (c != NULL) {
			json_t *rep = proto_error(PROTO_SHUTTING_DOWN,
			    "sluiced is stopping");
			command_tag_value(w->tag, rep);
			control_reply(c, rep);
		}
		command_free_waiter(w);
	}
}

static void
cmd_drain(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	cmd->paused = true;
	command_add_waiter(cmd, c, req, true);
}

static void
cmd_wait(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_add_waiter(cmd, c, req, false);
}

static void
cmd_reload(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	json_t *applied = json_array(), *restart = json_array();
	char err[512];

	if (cmd->calls.reload(cmd->calls.arg, applied, restart, err,
	    sizeof(err)) == -1) {
		json_decref(applied);
		json_decref(restart);
		command_reply_error(c, req, PROTO_BAD_REQUEST, err);
		return;
	}
	command_reply(c, req, json_pack("{s:b, s:o, s:o}", "ok", 1, "applied", applied,
	    "restart_required", restart));
}

static void
command_config_add(const char *key, const char *value, void *arg)
{
	json_object_set_new(arg, key, json_string(value));
}

static void
cmd_config(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	json_t *all = json_object();

	config_walk(cmd->cfg, command_config_add, all);
	command_reply(c, req, json_pack("{s:b, s:o}", "ok", 1, "config", all));
}

struct hosts_ctx {
	struct command	*cmd;
	json_t		*list;
	uint64_t	 limit;
	uint64_t	 last;
	bool		 more;
};

static const char *
command_robots_state(const struct sched_host *h, bool respect)
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
command_hosts_add(const struct host_record *r, void *arg)
{
	struct hosts_ctx *hc = arg;
	struct sched_host *h = sched_find_host(hc->cmd->sched, r->host);
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
	    h && h->next_start_ms > now ? command_time_or_null(h->next_start_ms) :
	    json_null(), "backoff_until", h && h->backoff_until_ms > now ?
	    command_time_or_null(h->backoff_until_ms) : json_null(), "delay_ms",
	    (json_int_t)(h && h->delay_ms > hc->cmd->cfg->host_delay_ms ?
	    h->delay_ms : hc->cmd->cfg->host_delay_ms), "robots",
	    command_robots_state(h, hc->cmd->cfg->respect_robots));
	json_array_append_new(hc->list, o);
	hc->last = r->host;
	return 0;
}

static json_t *
read_hosts(struct command *cmd, MDB_txn *txn, json_t *req)
{
	struct hosts_ctx hc = { cmd, json_array(), proto_req_uint(req, "limit", 100),
	    0, false };
	int rc = queue_walk_hosts(cmd->queue, txn, proto_req_uint(req, "after", 0),
	    command_hosts_add, &hc);

	return command_page_reply("hosts", hc.list, rc, hc.more, hc.last);
}

static void
cmd_hosts(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_with_read_txn(cmd, c, req, read_hosts);
}

struct dups_ctx {
	struct command	*cmd;
	MDB_txn		*txn;
	json_t		*list;
};

static int
command_dups_add(uint64_t copy, enum doc_dup_kind kind, double similarity,
    void *arg)
{
	struct dups_ctx *dc = arg;
	json_t *doc = NULL;

	(void)doc_get(dc->cmd->docs, dc->txn, copy, &doc);
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
read_dups(struct command *cmd, MDB_txn *txn, json_t *req)
{
	struct dups_ctx dc = { cmd, txn, json_array() };
	uint64_t id = proto_req_uint(req, "id", 0), first = id;
	json_t *doc, *of;
	int rc = doc_get(cmd->docs, txn, id, &doc);

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
	rc = doc_walk_dups(cmd->docs, txn, first, command_dups_add, &dc);
	if (rc != 0) {
		json_decref(dc.list);
		return proto_error(PROTO_INTERNAL, mdb_strerror(rc));
	}
	return json_pack("{s:b, s:I, s:I, s:o}", "ok", 1, "id", (json_int_t)id,
	    "first", (json_int_t)first, "duplicates", dc.list);
}

static void
cmd_dups(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_with_read_txn(cmd, c, req, read_dups);
}

/* --- feeds and sites ----------------------------------------------- */

/* feed_add, site_add, feed_rm: ops, since they change the store. */
static void
command_feed_op(struct command *cmd, struct ctl_conn *c, json_t *req,
    enum op_kind kind, const char *feed_kind)
{
	json_t *prio = json_object_get(req, "priority");
	struct op *op;

	if (cmd->stopping) {
		command_reply_error(c, req, PROTO_SHUTTING_DOWN,
		    "sluiced is stopping");
		return;
	}
	if (kind == OP_FEED_ADD && cmd->cluster != NULL) {
		char msg[96];

		snprintf(msg, sizeof(msg), "%ss are not polled in cluster mode "
		    "in this version (docs/cluster.md)", feed_kind);
		command_reply_error(c, req, PROTO_UNSUPPORTED, msg);
		return;
	}
	if ((op = op_new(kind, control_conn_id(c), req)) == NULL) {
		command_reply_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	op->id = proto_req_uint(req, "id", 0);
	op->feed_url = json_string_value(json_object_get(req, "url"));
	op->feed_kind = feed_kind;
	op->priority = prio ? (int32_t)json_integer_value(prio) : 0;
	op->interval_ms = proto_req_uint(req, "interval", 0) * 1000;
	ops_add(cmd->ops, op);
}

static void
cmd_feed_add(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_feed_op(cmd, c, req, OP_FEED_ADD, "feed");
}

static void
cmd_site_add(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_feed_op(cmd, c, req, OP_FEED_ADD, "site");
}

static void
cmd_feed_rm(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_feed_op(cmd, c, req, OP_FEED_RM, NULL);
}

static json_t *
read_feeds(struct command *cmd, MDB_txn *txn, json_t *req)
{
	json_t *list = NULL;
	int rc = feeds_list(cmd->feeds, txn, now_ms(), &list);

	if (rc != 0) {
		if (list != NULL)
			json_decref(list);
		return proto_error(PROTO_INTERNAL, mdb_strerror(rc));
	}
	return json_pack("{s:b, s:o}", "ok", 1, "feeds", list);
}

static json_t *
read_feed(struct command *cmd, MDB_txn *txn, json_t *req)
{
	json_t *feed = NULL;
	int rc = feeds_get(cmd->feeds, txn, proto_req_uint(req, "id", 0),
	    now_ms(), &feed);

	if (rc == MDB_NOTFOUND)
		return proto_error(PROTO_NOT_FOUND, "no such source");
	if (rc != 0)
		return proto_error(PROTO_INTERNAL, mdb_strerror(rc));
	return json_pack("{s:b, s:o}", "ok", 1, "feed", feed);
}

static void
cmd_feeds(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_with_read_txn(cmd, c, req, read_feeds);
}

static void
cmd_feed(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	command_with_read_txn(cmd, c, req, read_feed);
}

/* --- site: what the site memory holds and drops for one site -------- */

static void
cmd_site(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	const char *arg = json_string_value(json_object_get(req, "site"));
	char site[SITEMEM_NAME_MAX + 1], url[SITEMEM_NAME_MAX + 16];
	json_t *rep;

	/* A host or a URL, named as the memory names it. */
	if (arg == NULL || strlen(arg) > SITEMEM_NAME_MAX) {
		command_reply_error(c, req, PROTO_BAD_REQUEST,
		    "site needs a host name or URL");
		return;
	}
	snprintf(url, sizeof(url), "%s%s", strstr(arg, "://") ? "" :
	    "http://", arg);
	if (!sitemem_site_of(url, site, sizeof(site))) {
		command_reply_error(c, req, PROTO_BAD_REQUEST,
		    "site needs a host name or URL");
		return;
	}
	rep = sitemem_site_json(cmd->sitemem, site);
	if (rep == NULL) {
		command_reply_error(c, req, PROTO_INTERNAL, "out of memory");
		return;
	}
	json_object_set_new(rep, "ok", json_true());
	command_reply(c, req, rep);
}

/* --- reclean: re-clean stored documents in the background ----------- */

static void
cmd_reclean(struct command *cmd, struct ctl_conn *c, json_t *req)
{
	const char *host = json_string_value(json_object_get(req, "host"));
	char site[SITEMEM_NAME_MAX + 1], url[SITEMEM_NAME_MAX + 16];
	uint64_t since = proto_req_time(req, "since");

	/* Every document only when asked: a pass costs a cleaning each. */
	if (host == NULL && json_object_get(req, "since") == NULL &&
	    !json_is_true(json_object_get(req, "all"))) {
		command_reply_error(c, req, PROTO_BAD_REQUEST,
		    "reclean needs host, since or all");
		return;
	}
	if (host != NULL && (strlen(host) > SITEMEM_NAME_MAX ||
	    (snprintf(url, sizeof(url), "%s%s", strstr(host, "://") ? "" :
	    "http://", host), !sitemem_site_of(url, site, sizeof(site))))) {
		command_reply_error(c, req, PROTO_BAD_REQUEST,
		    "host needs a host name or URL");
		return;
	}
	if (cmd->work == NULL || cmd->stopping) {
		command_reply_error(c, req, PROTO_SHUTTING_DOWN,
		    "sluiced is stopping");
		return;
	}
	if (reclean_start(cmd->reclean, host ? site : NULL, since,
	    now_ms()) == -1) {
		command_reply_error(c, req, PROTO_CONFLICT,
		    "a reclean is running (see status)");
		return;
	}
	reclean_feed(cmd->reclean);
	command_reply(c, req, json_pack("{s:b, s:b, s:o}", "ok", 1, "started",
	    1, "site", host ? json_string(site) : json_null()));
}

static const command_fn handlers[CMD_COUNT] = {
	[CMD_SUBMIT] = cmd_submit,
	[CMD_STATUS] = cmd_status,
	[CMD_NODES] = cmd_nodes,
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
	[CMD_STATS] = cmd_stats,
	[CMD_FEED_ADD] = cmd_feed_add,
	[CMD_SITE_ADD] = cmd_site_add,
	[CMD_FEED_RM] = cmd_feed_rm,
	[CMD_FEEDS] = cmd_feeds,
	[CMD_FEED] = cmd_feed,
	[CMD_SITE] = cmd_site,
	[CMD_RECLEAN] = cmd_reclean,
};

void
command_dispatch(struct command *cmd, struct ctl_conn *c, const char *line,
    size_t len)
{
	enum proto_cmd which;
	enum proto_err e;
	json_t *req;
	char err[512];

	e = proto_parse(line, len, cmd->cfg->max_batch, &req, &which, err,
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
	handlers[which](cmd, c, req);
	json_decref(req);
}
