/*
 * op.c - requests that change the queue, applied in the turn's write
 * transaction, their results kept as data (see op.h).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feeds.h"
#include "metrics.h"
#include "op.h"
#include "sched.h"
#include "store.h"
#include "util.h"

void
ops_init(struct ops *o, struct queue *q, struct sched *s,
    const struct store *store)
{
	*o = (struct ops){ .head = NULL, .tail = &o->head, .queue = q,
	    .sched = s, .store = store };
}

struct op *
op_new(enum op_kind kind, uint64_t conn_id, json_t *req)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->kind = kind;
	op->conn_id = conn_id;
	op->req = json_incref(req);
	submit_reply_init(&op->sub);
	return op;
}

int
op_prepare_urls(struct op *op, const struct url_opts *uo)
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
		u->status = url_canonicalize_n(given[i], lens[i], uo, &u->url);
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

/* Forgets op's result. */
static void
op_reset(struct op *op)
{
	op->err = PROTO_OK;
	op->errmsg[0] = '\0';
	submit_reply_reset(&op->sub);
	if (op->has_job)
		queue_job_free(&op->job);
	op->has_job = false;
	op->retried = 0;
	if (op->feed != NULL)
		json_decref(op->feed);
	op->feed = NULL;
}

void
op_free(struct op *op)
{
	if (op == NULL)
		return;
	op_reset(op);
	for (size_t i = 0; i < op->nurls; i++) {
		free(op->urls[i].url);
		free(op->urls[i].origin);
	}
	free(op->urls);
	submit_reply_free(&op->sub);
	if (op->req != NULL)
		json_decref(op->req);
	free(op);
}

static void
op_refuse(struct op *op, enum proto_err e, const char *msg)
{
	op->err = e;
	snprintf(op->errmsg, sizeof(op->errmsg), "%s", msg);
}

void
ops_add(struct ops *o, struct op *op)
{
	op->next = NULL;
	*o->tail = op;
	o->tail = &op->next;
}

bool
ops_pending(const struct ops *o)
{
	return o->head != NULL;
}

enum proto_err
op_store_refusal(const struct store *s, const char **msg)
{
	if (s->condition == STORE_DISK_FULL) {
		*msg = "the disk of the state directory is full; nothing was "
		    "queued";
		return PROTO_DISK_FULL;
	}
	*msg = "the store reached store.map_size_max; nothing was queued";
	return PROTO_STORE_FULL;
}

static int
op_apply_submit(struct ops *o, MDB_txn *txn, struct op *op, uint64_t now)
{
	int rc = 0;

	if (o->store->full) {
		const char *msg;
		enum proto_err e = op_store_refusal(o->store, &msg);

		op_refuse(op, e, msg);
		return 0;
	}
	for (size_t i = 0; i < op->nurls && rc == 0; i++) {
		struct op_url *u = &op->urls[i];
		struct submit_result r = { 0 };

		if (u->url != NULL) {
			rc = queue_submit(o->queue, txn, u->url, u->host,
			    u->origin, op->priority, op->not_before_ms,
			    op->force, now, &r);
			if (rc != 0)
				break;
			/* New jobs reach the scheduler when they are indexed
			 * (queue_set_notify); a requeued one is ready now. */
			if (r.status == SUBMIT_REQUEUED)
				sched_ready(o->sched, u->host, op->priority);
		}
		if (submit_reply_add(&op->sub, u->given, u->url, u->status,
		    &r) == -1)
			rc = ENOMEM;
	}
	return rc;
}

/* feed_add, site_add and feed_rm: the source's record is the result. */
static int
op_apply_feed(struct ops *o, MDB_txn *txn, struct op *op, uint64_t now)
{
	static const char *const why[] = {
		[FEEDS_OK] = "", [FEEDS_BAD_URL] = "not a URL sluice may fetch",
		[FEEDS_EXISTS] = "the URL is a source already",
		[FEEDS_FULL] = "feeds.max_sources reached",
		[FEEDS_NOT_FOUND] = "no such source",
	};
	static const enum proto_err codes[] = {
		[FEEDS_OK] = PROTO_OK, [FEEDS_BAD_URL] = PROTO_BAD_REQUEST,
		[FEEDS_EXISTS] = PROTO_CONFLICT, [FEEDS_FULL] = PROTO_TOO_LARGE,
		[FEEDS_NOT_FOUND] = PROTO_NOT_FOUND,
	};
	enum feeds_status st;
	int rc = 0;

	if (o->store->full) {
		const char *msg;
		enum proto_err e = op_store_refusal(o->store, &msg);

		op_refuse(op, e, msg);
		return 0;
	}
	if (op->kind == OP_FEED_ADD)
		st = feeds_add(o->feeds, txn, op->feed_url, op->feed_kind,
		    op->priority, op->interval_ms, now, &op->feed, &rc);
	else
		st = feeds_rm(o->feeds, txn, op->id, op->feed_url, &op->feed,
		    &rc);
	if (rc == 0 && st != FEEDS_OK)
		op_refuse(op, codes[st], why[st]);
	return rc;
}

static int
op_apply(struct ops *o, MDB_txn *txn, struct op *op, uint64_t now)
{
	uint64_t n = 0;
	int rc;

	switch (op->kind) {
	case OP_SUBMIT:
		return op_apply_submit(o, txn, op, now);
	case OP_FEED_ADD:
	case OP_FEED_RM:
		return op_apply_feed(o, txn, op, now);
	case OP_CANCEL:
		rc = queue_cancel(o->queue, txn, op->id, now);
		break;
	case OP_RETRY:
		rc = queue_retry(o->queue, txn, op->id, now);
		n = rc == 0;
		break;
	default:
		rc = queue_retry_failed(o->queue, txn, now, &n);
		break;
	}
	/* Retried jobs are ready again: tell the scheduler which hosts. */
	if (rc == 0 && n > 0)
		rc = queue_ready_hosts(o->queue, txn, sched_host_ready_cb,
		    o->sched);
	if (rc == MDB_NOTFOUND || rc == MDB_KEYEXIST) {
		op_refuse(op, rc == MDB_NOTFOUND ? PROTO_NOT_FOUND :
		    PROTO_CONFLICT, rc == MDB_NOTFOUND ? "no such job" :
		    "the job's state does not allow this");
		return 0;
	}
	if (rc == 0 && op->kind == OP_CANCEL) {
		if (o->cancelled != NULL)
			o->cancelled(o->cancelled_arg, op->id);
		rc = queue_get(o->queue, txn, op->id, &op->job);
		op->has_job = rc == 0;
	}
	op->retried = n;
	return rc;
}

int
ops_apply(void *arg, MDB_txn *txn, uint64_t now)
{
	struct ops *o = arg;
	int rc = 0;

	assert(txn != NULL);
	for (struct op *op = o->head; op != NULL && rc == 0; op = op->next)
		rc = op_apply(o, txn, op, now);
	return rc;
}

void
ops_abort(void *arg)
{
	struct ops *o = arg;

	for (struct op *op = o->head; op != NULL; op = op->next)
		op_reset(op);
}

void
ops_fail(struct ops *o, enum proto_err e, const char *msg)
{
	for (struct op *op = o->head; op != NULL; op = op->next) {
		op_reset(op);
		op_refuse(op, e, msg);
	}
}

struct op *
ops_take(struct ops *o)
{
	struct op *list = o->head;

	for (const struct op *op = list; op != NULL && o->metrics != NULL;
	    op = op->next) {
		uint64_t *n = o->metrics->submitted;
		if (op->kind != OP_SUBMIT || op->err != PROTO_OK)
			continue;
		n[METRICS_SUBMIT_QUEUED] += op->sub.queued;
		n[METRICS_SUBMIT_DUPLICATE] += op->sub.duplicates;
		n[METRICS_SUBMIT_REJECTED] += op->sub.rejected;
	}
	o->head = NULL;
	o->tail = &o->head;
	return list;
}
