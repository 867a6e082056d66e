/*
 * turn.c - the loop turn: pending work in, one write transaction, then
 * replies and new transfers out (see daemon.h for the contract).
 *
 * A URL's path through this file:
 *   command.c queues an OP_SUBMIT -> turn_apply() adds the job -> commit ->
 *   the client hears "queued" -> sched_plan() leases it in a later turn ->
 *   commit -> fetch_start() -> turn_fetched() -> work_submit(page) ->
 *   turn_page_done() queues a completion -> turn_apply() stores the
 *   document and marks the job done in one transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "command.h"
#include "control.h"
#include "daemon.h"
#include "fetch.h"
#include "log.h"
#include "proto.h"
#include "turn.h"
#include "util.h"
#include "work.h"

#define LEASE_BATCH	256	/* leases planned per turn, at most */
#define INDEX_BATCH	1024	/* unindexed jobs indexed per idle turn */
#define INDEX_IDLE_MS	5	/* client silence before turns index */

static void robots_failed(struct daemon *d, struct lease *l,
    const char *why);
static void classify_fetch(struct completion *c,
    const struct fetch_result *r);

/* --- pending work -------------------------------------------------- */

void
turn_add_op(struct daemon *d, struct op *op)
{
	op->next = NULL;
	*d->ops_tail = op;
	d->ops_tail = &op->next;
}

void
turn_op_free(struct op *op)
{
	for (size_t i = 0; i < op->nurls; i++) {
		free(op->urls[i].url);
		free(op->urls[i].origin);
	}
	free(op->urls);
	submit_reply_free(&op->sub);
	if (op->req != NULL)
		json_decref(op->req);
	if (op->reply != NULL)
		json_decref(op->reply);
	free(op);
}

static void
add_completion(struct daemon *d, struct completion *c)
{
	d->ncomps++;
	c->next = NULL;
	*d->comps_tail = c;
	d->comps_tail = &c->next;
}

void
turn_add_waiter(struct daemon *d, struct waiter *w)
{
	w->next = d->waiters;
	d->waiters = w;
}

static void
lease_free(struct lease *l)
{
	free(l->url);
	free(l->fetch_url);
	free(l->etag);
	free(l->last_modified);
	free(l);
}


/* --- applying a turn ----------------------------------------------- */

static int
apply_submit(struct daemon *d, MDB_txn *txn, struct op *op, uint64_t now)
{
	int rc = 0;

	if (d->store_full) {
		op->reply = proto_error(PROTO_STORE_FULL, "the store reached "
		    "store.map_size_max; nothing was queued");
		return 0;
	}
	for (size_t i = 0; i < op->nurls && rc == 0; i++) {
		struct op_url *u = &op->urls[i];
		struct submit_result r = { 0 };

		if (u->url != NULL) {
			rc = queue_submit(&d->queue, txn, u->url, u->host,
			    u->origin, op->priority, op->not_before_ms,
			    op->force, now, &r);
			if (rc != 0)
				break;
			/* New jobs reach the scheduler when they are indexed
			 * (queue_set_notify); a requeued one is ready now. */
			if (r.status == SUBMIT_REQUEUED)
				sched_ready(&d->sched, u->host, op->priority);
		}
		if (submit_reply_add(&op->sub, u, &r) == -1)
			rc = ENOMEM;
	}
	return rc;
}

static int
apply_op(struct daemon *d, MDB_txn *txn, struct op *op, uint64_t now)
{
	uint64_t n = 0;
	int rc;

	switch (op->kind) {
	case OP_SUBMIT:
		return apply_submit(d, txn, op, now);
	case OP_CANCEL:
		rc = queue_cancel(&d->queue, txn, op->id, now);
		break;
	case OP_RETRY:
		rc = queue_retry(&d->queue, txn, op->id, now);
		n = rc == 0;
		break;
	default:
		rc = queue_retry_failed(&d->queue, txn, now, &n);
		break;
	}
	/* Retried jobs are ready again: tell the scheduler which hosts. */
	if (rc == 0 && n > 0)
		rc = queue_ready_hosts(&d->queue, txn, sched_host_ready_cb,
		    &d->sched);
	if (rc == MDB_NOTFOUND || rc == MDB_KEYEXIST) {
		op->reply = proto_error(rc == MDB_NOTFOUND ? PROTO_NOT_FOUND :
		    PROTO_CONFLICT, rc == MDB_NOTFOUND ? "no such job" :
		    "the job's state does not allow this");
		return 0;
	}
	if (rc == 0 && op->kind == OP_CANCEL)
		op->reply = command_job_reply(d, txn, op->id);
	else if (rc == 0)
		op->reply = json_pack("{s:b, s:I}", "ok", 1, "retried",
		    (json_int_t)n);
	return rc;
}

/*
 * URL-level duplicate: the page names a same-site canonical URL (the
 * cleaner checked the site) that another job has fetched already.  A
 * canonical URL nobody has yet becomes another name of this job, so a
 * later submission of it is recognised.
 */
static int
canonical_dup(struct daemon *d, MDB_txn *txn, struct completion *c,
    struct dedup_match *m)
{
	const char *cu = json_string_value(json_object_get(c->page->doc,
	    "canonical_url"));
	char *canon = NULL;
	uint64_t id;
	struct job j;
	int rc;

	if (cu == NULL || url_canonicalize(cu, &d->url_opts, &canon) != URL_OK)
		return 0;
	rc = strcmp(canon, c->page->url) == 0 ? MDB_KEYEXIST :
	    queue_find_url(&d->queue, txn, canon, &id);
	if (rc == MDB_NOTFOUND)
		rc = queue_alias_url(&d->queue, txn, canon, c->job_id);
	else if (rc == 0 && id != c->job_id &&
	    (rc = queue_get(&d->queue, txn, id, &j)) == 0) {
		if (j.doc_id != 0 && j.doc_id != c->job_id) {
			m->doc_id = j.doc_id;
			m->similarity = 1.0;
		}
		queue_job_free(&j);
	}
	free(canon);
	return rc == MDB_KEYEXIST || rc == MDB_NOTFOUND ? 0 : rc;
}

/* Marks doc as a copy of m's document and counts it. */
static int
mark_dup(struct daemon *d, MDB_txn *txn, uint64_t id, json_t *doc,
    enum doc_dup_kind kind, const struct dedup_match *m)
{
	uint64_t *counter = kind == DOC_DUP_URL ? &d->queue.counts.dup_url :
	    kind == DOC_DUP_EXACT ? &d->queue.counts.dup_exact :
	    &d->queue.counts.dup_near;

	json_object_set_new(doc, "duplicate_of",
	    json_integer((json_int_t)m->doc_id));
	json_object_set_new(doc, "duplicate_kind",
	    json_string(doc_dup_kind_name(kind)));
	json_object_set_new(doc, "similarity", json_real(m->similarity));
	/* The text is stored once, with the first document. */
	json_object_set_new(doc, "text", json_null());
	(*counter)++;
	return doc_add_dup(&d->docs, txn, m->doc_id, id, kind, m->similarity);
}

void
turn_note_dedup_full(struct daemon *d)
{
	bool full = dedup_index_full(&d->dedup);

	if (full == d->dedup_full)
		return;
	d->dedup_full = full;
	if (full)
		log_warnx("dedup: the index reached dedup.index_memory_max "
		    "(%zu bytes in use): new documents are checked but not "
		    "indexed", dedup_memory(&d->dedup));
	else
		log_notice("dedup: the index is below dedup.index_memory_max "
		    "again");
}

/* Adds id and the dedup verdict to the document: URL level first, then
 * exact and near content, looked up and recorded in this transaction. */
static int
finish_doc(struct daemon *d, MDB_txn *txn, struct completion *c,
    char **json, uint64_t *flags)
{
	struct page *p = c->page;
	struct dedup_match m = { 0 };
	enum doc_dup_kind kind = DOC_DUP_URL;
	json_t *doc;
	int rc = canonical_dup(d, txn, c, &m);

	if (rc == 0 && m.doc_id == 0) {
		rc = dedup_check_insert(txn, &d->dedup, c->job_id, &p->sig,
		    &d->page_opts.dedup, &m);
		kind = m.kind == DEDUP_EXACT ? DOC_DUP_EXACT : DOC_DUP_NEAR;
		turn_note_dedup_full(d);
	}
	if (rc != 0)
		return rc;
	/* A shallow copy: the fields below are set on the copy only, and the
	 * page's document stays as it was should the turn be replayed. */
	doc = json_copy(p->doc);
	if (doc == NULL)
		return ENOMEM;
	json_object_set_new(doc, "id", json_integer((json_int_t)c->job_id));
	json_object_set_new(doc, "duplicate_of", json_null());
	json_object_set_new(doc, "duplicate_kind", json_null());
	json_object_set_new(doc, "similarity", json_null());
	*flags = 0;
	if (m.doc_id != 0 && m.doc_id != c->job_id) {
		rc = mark_dup(d, txn, c->job_id, doc, kind, &m);
		*flags = DOC_DUPLICATE;
	}
	*json = rc == 0 ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return rc != 0 ? rc : *json ? 0 : ENOMEM;
}

static int
apply_done(struct daemon *d, MDB_txn *txn, struct completion *c,
    uint64_t now)
{
	struct page *p = c->page;
	uint64_t flags = 0;
	char *json = NULL;
	int rc;

	rc = queue_done(&d->queue, txn, c->job_id, c->job_id,
	    (uint32_t)p->res->http_status, now);
	if (rc == MDB_KEYEXIST)
		return 0;	/* cancelled meanwhile: drop the result */
	if (rc == 0)
		rc = finish_doc(d, txn, c, &json, &flags);
	if (rc == 0)
		rc = doc_put(&d->docs, txn, c->job_id, json, strlen(json),
		    p->fetched_ms, flags, p->raw, p->raw_len);
	free(json);
	if (rc == 0) {
		d->queue.counts.fetched++;
		d->queue.counts.bytes += c->bytes;
	}
	return rc;
}

/* Takes a redirect: the job is requeued for the target's host, or fails
 * (a scheme other than http/https, a loop, too many hops). */
static int
apply_redirect(struct daemon *d, MDB_txn *txn, struct completion *c,
    uint64_t now)
{
	enum url_status st;
	enum redirect_outcome out = REDIRECT_QUEUED;
	char *target = NULL, *origin = NULL;
	uint64_t host = 0;
	int rc = 0;

	st = url_canonicalize(c->redirect, &d->url_opts, &target);
	if (st == URL_OK)
		host = url_host_key(target, &origin);
	if (st == URL_OK && host != 0)
		rc = queue_redirect(&d->queue, txn, c->job_id, target, host,
		    origin, d->cfg.max_redirects, now, &out);
	if (rc == 0 && out == REDIRECT_QUEUED && st == URL_OK && host != 0)
		sched_ready(&d->sched, host, 0);
	else if (rc == 0) {
		snprintf(c->code, sizeof(c->code), "%s",
		    st == URL_BAD_SCHEME ? "bad_scheme" : "redirects");
		snprintf(c->msg, sizeof(c->msg), "redirect to %.200s: %s",
		    c->redirect, st != URL_OK ? url_status_message(st) :
		    out == REDIRECT_LOOP ? "a loop" : "too many redirects");
		c->retryable = false;
		SAFE_FREE(c->redirect);
	}
	free(target);
	free(origin);
	return rc == MDB_KEYEXIST || rc == MDB_NOTFOUND ? 0 : rc;
}

static int
apply_completion(struct daemon *d, MDB_txn *txn, struct completion *c,
    uint64_t now)
{
	struct job_failure f;
	bool requeued;
	struct job j;
	int rc;

	if (c->page != NULL)
		return apply_done(d, txn, c, now);
	if (c->redirect != NULL) {
		rc = apply_redirect(d, txn, c, now);
		if (rc != 0 || c->redirect != NULL)
			return rc;
		/* else: record the failure apply_redirect described */
	}
	if (c->not_modified) {
		rc = queue_get(&d->queue, txn, c->job_id, &j);
		if (rc == 0) {
			rc = queue_done(&d->queue, txn, c->job_id, j.doc_id,
			    304, now);
			queue_job_free(&j);
		}
		if (rc == 0)
			d->queue.counts.not_modified++;
		return rc == MDB_KEYEXIST || rc == MDB_NOTFOUND ? 0 : rc;
	}
	f.code = c->code;
	f.message = c->msg;
	f.http_status = c->http_status;
	f.retryable = c->retryable;
	f.retry_after_ms = c->retry_after_ms;
	rc = queue_fail(&d->queue, txn, c->job_id, &f, now, &requeued);
	if (rc == MDB_KEYEXIST || rc == MDB_NOTFOUND)
		return 0;
	if (rc == 0 && !requeued)
		log_debug("job %llu failed: %s %s",
		    (unsigned long long)c->job_id, c->code, c->msg);
	return rc;
}

struct plan_ctx {
	struct sched_calls calls;	/* first: calls.arg points here */
	struct daemon	*d;
	MDB_txn		*txn;
	uint64_t	 now;
};

static char *
doc_field(json_t *doc, const char *name)
{
	const char *s = json_string_value(json_object_get(doc, name));

	return s ? strdup(s) : NULL;
}

/*
 * Sets h's robots.txt from a fetched or cached copy: parses it, clamps its
 * Crawl-delay to fetch.max_crawl_delay (logging the clamp when name is
 * given), and pauses the host while robots.txt is unreachable.
 */
static void
robots_apply(struct daemon *d, struct sched_host *h,
    const struct hosts_robots *r, const char *name)
{
	struct robots *rules = NULL;
	uint64_t delay = d->cfg.host_delay_ms;
	int64_t cd;
	char err[256];

	if (r->policy == ROBOTS_PARSE_BODY)
		rules = robots_parse(r->body ? r->body : "", r->len,
		    &d->robots_limits, err, sizeof(err));
	cd = rules ? robots_crawl_delay_ms(rules, d->cfg.robots_token) :
	    ROBOTS_NO_DELAY;
	if (cd > (int64_t)d->cfg.max_crawl_delay_ms) {
		if (name != NULL)
			log_notice("%s: Crawl-delay of %lld ms clamped to "
			    "fetch.max_crawl_delay (%llu ms)", name,
			    (long long)cd,
			    (unsigned long long)d->cfg.max_crawl_delay_ms);
		cd = (int64_t)d->cfg.max_crawl_delay_ms;
	}
	if (cd > (int64_t)delay)
		delay = (uint64_t)cd;
	sched_set_robots(h, r->policy, rules, r->expires_ms, delay);
}

/* sched_calls.robots: h's rules from the cache, or plan fetching them. */
static void
plan_robots(struct sched_host *h, void *arg)
{
	struct plan_ctx *pc = arg;
	struct daemon *d = pc->d;
	struct hosts_robots r;
	struct lease *l;
	char *origin = NULL;
	int rc = hosts_robots_get(&d->hosts, pc->txn, h->key, &r);

	if (rc == 0 && r.expires_ms > pc->now) {
		robots_apply(d, h, &r, NULL);
		return;
	}
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = queue_host_origin(&d->queue, pc->txn, h->key, &origin);
	l = rc == 0 ? calloc(1, sizeof(*l)) : NULL;
	if (l != NULL)
		l->url = malloc(strlen(origin) + sizeof("/robots.txt"));
	if (l == NULL || l->url == NULL) {
		free(l);
		free(origin);
		pc->calls.rc = rc ? rc : ENOMEM;
		return;
	}
	sprintf(l->url, "%s/robots.txt", origin);
	free(origin);
	l->robots = true;
	l->host = h->key;
	l->next = d->leases;
	d->leases = l;
	h->robots_state = SCHED_ROBOTS_FETCHING;
}

/* True if h's robots.txt forbids fetching j (at its current hop). */
static bool
robots_forbid(struct daemon *d, struct sched_host *h, const struct job *j)
{
	char *pq;
	bool ok;

	if (!d->cfg.respect_robots || h->robots == NULL)
		return false;
	pq = hosts_path_query(j->fetch_url ? j->fetch_url : j->url);
	if (pq == NULL)
		return false;
	ok = robots_allows(h->robots, d->cfg.robots_token, pq);
	free(pq);
	return !ok;
}

/* sched_calls.lease: remember the lease (with the validators of a stored
 * response, for a conditional refetch), unless robots.txt forbids it. */
static bool
plan_lease(struct sched_host *h, struct job *j, void *arg)
{
	struct plan_ctx *pc = arg;
	struct job_failure f = { "robots_disallowed", "robots.txt disallows "
	    "this URL", 0, false, -1 };
	struct lease *l;
	json_t *doc;
	bool requeued;

	if (pc->d->cfg.respect_robots &&
	    h->robots_policy == ROBOTS_DISALLOW_ALL) {
		/* robots.txt unreachable: RFC 9309 forbids fetching, and the
		 * job records why, as a retryable attempt. */
		f.code = h->robots_error[0] ? h->robots_error : "network";
		f.message = h->robots_why[0] ? h->robots_why :
		    "robots.txt unreachable";
		f.retryable = true;
	} else if (!robots_forbid(pc->d, h, j))
		f.code = NULL;
	if (f.code != NULL) {
		pc->calls.rc = queue_fail(&pc->d->queue, pc->txn, j->id, &f,
		    pc->now, &requeued);
		queue_job_free(j);
		return false;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		pc->calls.rc = ENOMEM;
		queue_job_free(j);
		return true;
	}
	l->job_id = j->id;
	l->host = j->host;
	l->url = j->url;
	l->fetch_url = j->fetch_url;
	j->url = j->fetch_url = NULL;
	if (j->doc_id != 0 && doc_get(&pc->d->docs, pc->txn, j->doc_id,
	    &doc) == 0) {
		l->etag = doc_field(doc, "etag");
		l->last_modified = doc_field(doc, "last_modified");
		json_decref(doc);
	}
	queue_job_free(j);
	l->next = pc->d->leases;
	pc->d->leases = l;
	return true;
}

/* Caches the robots.txt files fetched since the last turn. */
static int
apply_robots(struct daemon *d, MDB_txn *txn)
{
	int rc = 0;

	for (struct robots_result *r = d->robots_results; r && rc == 0;
	    r = r->next)
		rc = hosts_robots_put(&d->hosts, txn, r->host, &r->r);
	return rc;
}

void
turn_free_robots(struct daemon *d)
{
	struct robots_result *r, *next;

	for (r = d->robots_results; r != NULL; r = next) {
		next = r->next;
		free(r->body);
		free(r);
	}
	d->robots_results = NULL;
}

static bool
may_dispatch(const struct daemon *d)
{
	return !d->paused && !d->stopping && !d->store_stuck;
}

/*
 * Milliseconds until turns may index the intake: 0 now, -1 never (nothing
 * waits, or the store refuses commits).  Indexing waits for clients to
 * fall silent: a burst's commits then stay small, and the indexing of
 * what it left is done in large, cheap batches.
 */
static int64_t
index_wait(const struct daemon *d, uint64_t mono)
{
	uint64_t due = d->last_client_mono + INDEX_IDLE_MS;

	if (queue_unindexed(&d->queue) == 0 || d->store_stuck ||
	    d->store_full)
		return -1;	/* a full store has no room for the indexes */
	return due > mono ? (int64_t)(due - mono) : 0;
}

/* Everything the turn changes, inside txn.  0 or an LMDB error. */
static int
turn_apply(struct daemon *d, MDB_txn *txn, uint64_t now)
{
	struct plan_ctx pc = { { plan_robots, plan_lease, NULL, 0 }, d, txn,
	    now };
	int rc = apply_robots(d, txn);

	pc.calls.arg = &pc;
	for (struct op *op = d->ops; op != NULL && rc == 0; op = op->next)
		rc = apply_op(d, txn, op, now);
	/* Submissions wait in the intake while clients keep the loop busy
	 * (queue_submit bounds them); a turn nobody waits on indexes them. */
	if (rc == 0 && d->ops == NULL && index_wait(d, mono_ms()) == 0)
		rc = queue_index(&d->queue, txn, INDEX_BATCH, now, NULL);
	for (struct completion *c = d->comps; c != NULL && rc == 0;
	    c = c->next)
		rc = apply_completion(d, txn, c, now);
	if (rc == 0)
		rc = queue_promote(&d->queue, txn, now, sched_ready_cb,
		    &d->sched, &d->next_due_ms);
	if (rc == 0 && may_dispatch(d))
		rc = sched_plan(&d->sched, &d->queue, txn, now, LEASE_BATCH,
		    &pc.calls);
	/* Planning may have sent jobs back for a retry (robots.txt
	 * unreachable): look again when the next delayed job is due. */
	if (rc == 0)
		rc = queue_promote(&d->queue, txn, now, sched_ready_cb,
		    &d->sched, &d->next_due_ms);
	if (rc == 0)
		rc = queue_turn_flush(&d->queue, txn);
	return rc;
}

/* Forgets what an aborted transaction did, so the turn can be replayed. */
static void
turn_rollback(struct daemon *d)
{
	struct lease *l, *next;

	queue_turn_abort(&d->queue);
	sched_abort(&d->sched);
	dedup_rollback(&d->dedup);
	for (struct op *op = d->ops; op != NULL; op = op->next) {
		if (op->reply != NULL)
			json_decref(op->reply);
		op->reply = NULL;
		submit_reply_reset(&op->sub);
	}
	for (l = d->leases; l != NULL; l = next) {
		struct sched_host *h = sched_find_host(&d->sched, l->host);
		next = l->next;
		if (l->robots && h != NULL)
			h->robots_state = SCHED_ROBOTS_UNKNOWN;
		lease_free(l);
	}
	d->leases = NULL;
}

/* control_write_fn of a submit's reply. */
static int
write_submit_reply(struct buf *out, void *arg)
{
	struct op *op = arg;

	return submit_reply_write(&op->sub, json_object_get(op->req, "tag"),
	    out);
}

/* Answers every pending op with err (the turn could not commit). */
static void
fail_ops(struct daemon *d, enum proto_err e, const char *msg)
{
	for (struct op *op = d->ops; op != NULL; op = op->next) {
		if (op->reply != NULL)
			json_decref(op->reply);
		op->reply = proto_error(e, msg);
	}
}

/* --- after the commit ---------------------------------------------- */

static void
start_leases(struct daemon *d)
{
	struct lease *l, *next;
	char err[256];

	for (l = d->leases; l != NULL; l = next) {
		struct fetch_req req = { l->job_id, l->fetch_url ? l->fetch_url :
		    l->url, l->etag, l->last_modified, l, l->robots ?
		    ROBOTS_MAX_REDIRECTS : FETCH_FOLLOW_NONE };
		next = l->next;
		l->next = NULL;
		if (fetch_start(d->fetch, &req, err, sizeof(err)) == 0)
			continue;
		if (l->robots) {
			robots_failed(d, l, err);
			continue;
		}
		/* The job stays leased; record the failure next turn. */
		struct completion *c = calloc(1, sizeof(*c));
		if (c != NULL) {
			c->job_id = l->job_id;
			c->host = l->host;
			snprintf(c->code, sizeof(c->code), "internal");
			snprintf(c->msg, sizeof(c->msg), "%s", err);
			c->retryable = true;
			c->retry_after_ms = -1;
			add_completion(d, c);
		}
		lease_free(l);
	}
	d->leases = NULL;
}

static void
rate_count(struct daemon *d, uint64_t n)
{
	uint64_t sec = mono_ms() / 1000;

	if (sec != d->rate_sec) {
		for (uint64_t s = d->rate_sec + 1; s <= sec &&
		    s <= d->rate_sec + RATE_WINDOW; s++)
			d->rate[s % RATE_WINDOW] = 0;
		d->rate_sec = sec;
	}
	d->rate[sec % RATE_WINDOW] += n;
}

double
turn_rate(struct daemon *d)
{
	uint64_t sum = 0, up = (mono_ms() - d->started_mono) / 1000 + 1;

	rate_count(d, 0);
	for (int i = 0; i < RATE_WINDOW; i++)
		sum += d->rate[i];
	/* In the first minute, over the time the daemon has been up. */
	return (double)sum / (double)(up < RATE_WINDOW ? up : RATE_WINDOW);
}

static void
finish_completions(struct daemon *d, uint64_t now)
{
	struct completion *c, *next;
	uint64_t n = 0;

	for (c = d->comps; c != NULL; c = next) {
		next = c->next;
		if (!c->slot_freed)
			sched_finished(&d->sched, c->host);
		if (c->host_backoff)
			sched_backoff(&d->sched, c->host, c->retry_after_ms,
			    d->cfg.host_backoff_min_ms,
			    d->cfg.host_backoff_max_ms, now);
		else if (c->page != NULL || c->not_modified)
			sched_host_ok(&d->sched, c->host);
		page_free(c->page);
		free(c->redirect);
		free(c);
		n++;
	}
	d->comps = NULL;
	d->comps_tail = &d->comps;
	d->ncomps = 0;
	rate_count(d, n);
}

/*
 * Answers the turn's ops.  The list is taken off the daemon first: a reply
 * lets the client's next (pipelined) request run, which may queue a new op
 * for the next turn.
 */
static void
answer_ops(struct daemon *d)
{
	struct op *op, *next, *ops = d->ops;

	d->ops = NULL;
	d->ops_tail = &d->ops;
	for (op = ops; op != NULL; op = next) {
		struct ctl_conn *c = control_find(d->control, op->conn_id);

		next = op->next;
		if (c != NULL && op->kind == OP_SUBMIT && op->reply == NULL)
			control_reply_with(c, write_submit_reply, op);
		else if (c != NULL) {
			command_tag(op->req, op->reply);
			control_reply(c, op->reply);
			op->reply = NULL;
		}
		turn_op_free(op);
	}
}

/* Answers wait/drain clients whose condition holds or whose time is up. */
static void
check_waiters(struct daemon *d)
{
	struct waiter *list = d->waiters, **wp = &list, *w;
	uint64_t now = mono_ms();

	/* Replies may run the clients' next requests, which may add
	 * waiters: work on a list of our own, then put the rest back. */
	d->waiters = NULL;
	while ((w = *wp) != NULL) {
		struct ctl_conn *c = control_find(d->control, w->conn_id);
		json_t *reply = NULL;

		if (c == NULL)
			reply = json_null();	/* client gone */
		else if (w->drain && d->sched.inflight == 0 &&
		    d->comps == NULL)
			reply = json_pack("{s:b, s:b, s:i}", "ok", 1,
			    "paused", d->paused, "inflight", 0);
		else if (!w->drain && d->queue.counts.state[JOB_QUEUED] == 0 &&
		    d->queue.counts.state[JOB_ACTIVE] == 0)
			reply = json_pack("{s:b, s:i, s:i}", "ok", 1,
			    "queued", 0, "active", 0);
		else if (w->deadline_ms != 0 && now >= w->deadline_ms)
			reply = proto_error(PROTO_TIMEOUT, "timeout reached");
		if (reply == NULL) {
			wp = &w->next;
			continue;
		}
		*wp = w->next;
		if (c != NULL) {
			command_tag_value(w->tag, reply);
			control_reply(c, reply);
		} else
			json_decref(reply);
		if (w->tag != NULL)
			json_decref(w->tag);
		free(w);
	}
	*wp = d->waiters;	/* waiters added meanwhile */
	d->waiters = list;
}


/* Arms the wake timer for the next due job or host slot, or for now when
 * replies let pipelined requests queue work during the turn. */
static void
arm_wake(struct daemon *d, uint64_t now)
{
	int64_t ms = may_dispatch(d) ? sched_next_wakeup(&d->sched, now) : -1;
	int64_t iw;
	struct timeval tv;

	if (d->ops != NULL)
		ms = 0;
	else if (d->commit_wait) {
		uint64_t due = d->last_commit_mono + d->cfg.commit_interval_ms,
		    mono = mono_ms();
		ms = due > mono ? (int64_t)(due - mono) : 0;
	} else if (d->comps != NULL)
		ms = 0;
	iw = index_wait(d, mono_ms());
	if (iw >= 0 && (ms < 0 || iw < ms))
		ms = iw;
	if (d->next_due_ms != 0) {
		int64_t due = d->next_due_ms > now ?
		    (int64_t)(d->next_due_ms - now) : 0;
		if (ms < 0 || due < ms)
			ms = due;
	}
	if (ms < 0) {
		event_del(d->wake);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(d->wake, &tv);
}

/* --- the turn ------------------------------------------------------ */

static bool
turn_has_work(struct daemon *d, uint64_t now)
{
	if (d->ops != NULL || d->comps != NULL ||
	    index_wait(d, mono_ms()) == 0)
		return true;
	if (d->next_due_ms != 0 && now >= d->next_due_ms)
		return true;
	return may_dispatch(d) && d->sched.inflight < d->sched.max_total &&
	    sched_next_wakeup(&d->sched, now) == 0;
}

/*
 * Whether to commit now or let background work gather.  A client waiting
 * for an answer (an op) is served at once; fetched documents, failures and
 * new leases wait up to store.commit_interval, or until results for half
 * of fetch.max_total are waiting for the commit: each commit syncs, and
 * one sync per handful of pages kept the loop blocked more than it ran.
 * Nothing is at risk meanwhile: a crash before the commit means a refetch.
 */
static bool
turn_due(struct daemon *d, uint64_t mono)
{
	if (d->ops != NULL || d->stopping)
		return true;
	if (d->comps == NULL && index_wait(d, mono) == 0)
		return true;	/* nothing gathers: index now */
	if (mono >= d->last_commit_mono + d->cfg.commit_interval_ms)
		return true;
	return d->ncomps * 2 >= d->sched.max_total;
}

/* Handles a failed commit: 1 to replay the turn, 0 to give up. */
static int
turn_failed(struct daemon *d, int rc)
{
	char err[256];

	turn_rollback(d);
	if (rc == MDB_MAP_FULL) {
		if (store_grow(&d->store, err, sizeof(err)) == 0) {
			log_notice("store: map grown to %llu bytes",
			    (unsigned long long)d->store.map_size);
			return 1;
		}
		if (!d->store_full) {
			/* Replay without the submissions. */
			log_warnx("store: %s; refusing submissions", err);
			d->store_full = true;
			return 1;
		}
	}
	log_errx("store: cannot commit: %s; will retry",
	    rc == MDB_MAP_FULL ? "map full" : mdb_strerror(rc));
	fail_ops(d, rc == MDB_MAP_FULL ? PROTO_STORE_FULL : PROTO_INTERNAL,
	    "the store cannot take this change now");
	d->store_stuck = true;
	return 0;
}

void
turn_run(struct daemon *d)
{
	uint64_t now = now_ms(), t0, t1 = 0;
	MDB_txn *txn;
	int rc;

	if (!turn_has_work(d, now))
		goto out;
	if (!turn_due(d, mono_ms())) {
		d->commit_wait = true;
		goto out;
	}
	d->commit_wait = false;
	for (;;) {
		queue_turn_begin(&d->queue);
		t0 = mono_us();
		rc = store_txn_write(&d->store, &txn);
		if (rc == 0) {
			rc = turn_apply(d, txn, now);
			t1 = mono_us();
			if (rc == 0)
				rc = mdb_txn_commit(txn);
			else
				mdb_txn_abort(txn);
		}
		if (rc == 0)
			break;
		if (!turn_failed(d, rc)) {
			answer_ops(d);	/* with the error */
			goto out;
		}
	}
	dedup_commit(&d->dedup);
	d->store_stuck = false;
	d->last_commit_mono = mono_ms();
	if (d->ops != NULL)
		d->last_client_mono = d->last_commit_mono;
	turn_free_robots(d);
	log_debug("turn: apply %llu us, commit %llu us",
	    (unsigned long long)(t1 - t0),
	    (unsigned long long)(mono_us() - t1));
	sched_commit(&d->sched, now);
	finish_completions(d, now);
	answer_ops(d);
	start_leases(d);
out:
	check_waiters(d);
	arm_wake(d, now_ms());
}

/* --- callbacks from fetch and workers ------------------------------ */

static bool
status_retryable(long status)
{
	static const long codes[] = { 408, 429, 500, 502, 503, 504, 522, 524 };

	for (size_t i = 0; i < ARRAY_LEN(codes); i++)
		if (codes[i] == status)
			return true;
	return false;
}

/* Fills c's failure from a fetch result that will not reach a worker. */
static void
classify_fetch(struct completion *c, const struct fetch_result *r)
{
	static const char *const codes[] = {
		[FETCH_ERR_DNS] = "dns", [FETCH_ERR_CONNECT] = "connect",
		[FETCH_ERR_TIMEOUT] = "timeout", [FETCH_ERR_NETWORK] = "network",
		[FETCH_ERR_TOO_LARGE] = "too_large",
		[FETCH_ERR_REDIRECTS] = "redirects",
		[FETCH_ERR_SCHEME] = "bad_scheme",
		[FETCH_ERR_BLOCKED] = "address_blocked",
		[FETCH_ERR_DECODING] = "decoding",
		[FETCH_ERR_ABORTED] = "internal",
		[FETCH_ERR_INTERNAL] = "internal",
	};

	c->http_status = (uint32_t)r->http_status;
	c->retry_after_ms = r->retry_after_ms;
	if (r->error == FETCH_OK) {
		snprintf(c->code, sizeof(c->code), "http_status");
		snprintf(c->msg, sizeof(c->msg), "HTTP %ld", r->http_status);
		c->retryable = status_retryable(r->http_status);
		c->host_backoff = r->http_status == 429 ||
		    r->http_status == 503;
		return;
	}
	snprintf(c->code, sizeof(c->code), "%s", codes[r->error] ?
	    codes[r->error] : "internal");
	snprintf(c->msg, sizeof(c->msg), "%s", r->errmsg);
	c->retryable = r->error <= FETCH_ERR_NETWORK ||
	    r->error == FETCH_ERR_INTERNAL;
	c->host_backoff = r->error == FETCH_ERR_CONNECT;
}

/* A robots.txt request could not start: try the host again later. */
static void
robots_failed(struct daemon *d, struct lease *l, const char *why)
{
	struct sched_host *h = sched_find_host(&d->sched, l->host);

	log_warnx("%s: %s", l->url, why);
	if (h != NULL) {
		h->robots_state = SCHED_ROBOTS_UNKNOWN;
		h->next_start_ms = now_ms() + d->cfg.host_backoff_min_ms;
	}
	lease_free(l);
}

/*
 * Notes why h's robots.txt is unreachable, and when to ask again: the
 * host's backoff step, doubling while it stays unreachable (at most the
 * cache TTL).  The host itself is not paused: its jobs are failed, without
 * a request, as retryable attempts that carry this reason.
 */
static uint64_t
robots_unreachable(struct daemon *d, struct sched_host *h,
    const struct fetch_result *r, uint64_t now)
{
	struct completion c = { 0 };
	uint64_t until;

	classify_fetch(&c, r);
	snprintf(h->robots_error, sizeof(h->robots_error), "%s", c.code);
	snprintf(h->robots_why, sizeof(h->robots_why), "robots.txt "
	    "unreachable: %.120s", c.msg);
	sched_backoff(&d->sched, h->key, r->retry_after_ms,
	    d->cfg.host_backoff_min_ms, d->cfg.host_backoff_max_ms, now);
	until = h->backoff_until_ms;
	h->backoff_until_ms = 0;
	return until;
}

/* A robots.txt response: decide the policy, apply it, cache it. */
static void
on_robots(struct daemon *d, struct lease *l, struct fetch_result *r)
{
	struct sched_host *h = sched_find_host(&d->sched, l->host);
	struct robots_result *rr = calloc(1, sizeof(*rr));
	uint64_t ttl = 0, now = now_ms();
	enum robots_policy p;

	p = robots_policy_for_status(r->http_status, r->error,
	    r->retry_after_ms, &d->robots_ttl, &ttl);
	if (p == ROBOTS_KEEP_CACHED)
		p = ROBOTS_ALLOW_ALL;	/* we never ask conditionally */
	if (r->error == FETCH_ERR_BLOCKED) {
		/* The guard refuses the host itself: let its jobs run into
		 * the guard and fail with address_blocked rather than wait
		 * for a robots.txt that will never come. */
		p = ROBOTS_ALLOW_ALL;
		ttl = d->robots_ttl.unreachable_ms;
	}
	if (rr == NULL || h == NULL || ttl == 0) {
		free(rr);
		robots_failed(d, l, ttl == 0 ? "robots.txt fetch aborted" :
		    "out of memory");
		return;
	}
	rr->host = l->host;
	rr->r.policy = p;
	rr->r.expires_ms = now + ttl;
	if (p == ROBOTS_PARSE_BODY && r->body.len > 0) {
		size_t n = r->body.len < d->robots_limits.max_bytes ?
		    r->body.len : d->robots_limits.max_bytes;
		rr->body = malloc(n);
		if (rr->body != NULL) {
			memcpy(rr->body, r->body.data, n);
			rr->r.len = n;
		}
	}
	rr->r.body = rr->body;
	if (p == ROBOTS_DISALLOW_ALL) {
		/* Unreachable: retry it on the host's backoff schedule (at
		 * most the cache TTL), so its jobs learn soon why they wait. */
		uint64_t until = robots_unreachable(d, h, r, now);
		if (until < rr->r.expires_ms)
			rr->r.expires_ms = until;
	}
	robots_apply(d, h, &rr->r, l->url);
	h->next_start_ms = now + h->delay_ms;
	/* Unreachable robots.txt holds a site's jobs: worth a line.  A
	 * missing one (404, common) is not. */
	if (p == ROBOTS_DISALLOW_ALL)
		log_info("%s: %s (HTTP %ld), %s for %llu s", l->url,
		    r->error ? fetch_error_name(r->error) : "fetched",
		    r->http_status, robots_policy_name(p),
		    (unsigned long long)ttl / 1000);
	rr->next = d->robots_results;
	d->robots_results = rr;
	lease_free(l);
}

void
turn_fetched(struct fetch_result *r, void *arg)
{
	struct daemon *d = arg;
	struct lease *l = r->arg;
	struct completion *c;
	struct page *p;

	if (r->error == FETCH_ERR_ABORTED && d->stopping) {
		/* Shutdown: the job stays active and is requeued at start. */
		fetch_result_free(r);
		lease_free(l);
		return;
	}
	if (l->robots) {
		on_robots(d, l, r);
		fetch_result_free(r);
		return;
	}
	if (r->error == FETCH_OK && r->http_status >= 200 &&
	    r->http_status < 300) {
		p = page_new(l->job_id, l->host, l->url, r, &d->page_opts);
		if (p != NULL) {
			l->url = NULL;
			lease_free(l);
			work_submit(d->work, &p->item);
			return;
		}
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		/* XXX: the slot stays taken until restart requeues it. */
		log_warnx("job %llu: out of memory recording its result",
		    (unsigned long long)l->job_id);
		fetch_result_free(r);
		lease_free(l);
		return;
	}
	c->job_id = l->job_id;
	c->host = l->host;
	c->bytes = r->body.len;
	if (r->error == FETCH_OK && r->http_status == 304)
		c->not_modified = true;
	else if (r->error == FETCH_OK && r->redirect_url != NULL) {
		c->redirect = r->redirect_url;
		r->redirect_url = NULL;
		c->retry_after_ms = -1;
		c->http_status = (uint32_t)r->http_status;
	} else
		classify_fetch(c, r);
	add_completion(d, c);
	fetch_result_free(r);
	lease_free(l);
}

void
turn_page_done(struct work_item *it, void *arg)
{
	struct daemon *d = arg;
	struct page *p = (struct page *)it;
	struct completion *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		log_warnx("job %llu: out of memory recording its document",
		    (unsigned long long)p->job_id);
		page_free(p);
		return;
	}
	c->job_id = p->job_id;
	c->host = p->host;
	c->bytes = p->res->body.len;
	c->retry_after_ms = -1;
	c->http_status = (uint32_t)p->res->http_status;
	/*
	 * The page's slot is free once a worker is done with it, as
	 * fetch.max_total counts transfers and pages waiting for a worker:
	 * the lease this frees is planned in the same transaction that
	 * stores the page.  Held until that commit, as before, slots sat
	 * idle for a whole commit interval between the commit that freed
	 * them and the one that leased them again, and the workers ran dry
	 * several times a second.  Fetch failures keep theirs until the
	 * commit, so a host's backoff is in place before its next lease.
	 */
	sched_finished(&d->sched, p->host);
	c->slot_freed = true;
	if (p->status == EXTRACT_OK || p->status == EXTRACT_EMPTY)
		c->page = p;
	else {
		snprintf(c->code, sizeof(c->code), "%s",
		    p->status == EXTRACT_UNSUPPORTED ?
		    "unsupported_content_type" :
		    p->status == EXTRACT_TOO_LARGE ? "too_large" : "internal");
		snprintf(c->msg, sizeof(c->msg), "%s", p->err);
		page_free(p);
	}
	add_completion(d, c);
}

void
turn_free_pending(struct daemon *d)
{
	struct completion *c, *cn;
	struct lease *l, *ln;

	/* Uncommitted results: their jobs stay active on disk and are
	 * requeued at the next start. */
	for (c = d->comps; c != NULL; c = cn) {
		cn = c->next;
		page_free(c->page);
		free(c->redirect);
		free(c);
	}
	d->comps = NULL;
	d->comps_tail = &d->comps;
	d->ncomps = 0;
	for (l = d->leases; l != NULL; l = ln) {
		ln = l->next;
		lease_free(l);
	}
	d->leases = NULL;
	fail_ops(d, PROTO_SHUTTING_DOWN, "sluiced is stopping");
	answer_ops(d);
	turn_free_robots(d);
}
