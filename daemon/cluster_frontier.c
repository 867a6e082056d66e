/*
 * cluster_frontier.c - the loop's side of cluster mode's frontier (see
 * cluster_int.h): a submit published to SLUICE_FETCH and answered once
 * stored; a frontier message turned into a job in the turn, held, and
 * acknowledged after the commit that records its job's outcome; which
 * hosts the scheduler may start.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <nats/nats.h>
#include <xxhash.h>

#include "cluster.h"
#include "cluster_int.h"
#include "cluster_plan.h"
#include "config.h"
#include "log.h"
#include "op.h"
#include "proto.h"
#include "queue.h"
#include "reply.h"
#include "sched.h"
#include "store.h"
#include "url.h"
#include "util.h"

/* --- the loop: held messages ------------------------------------------ */

static struct cl_held **
cl_held_slot(struct cluster *c, uint64_t job)
{
	struct cl_held **hp = &c->held[XXH3_64bits(&job, sizeof(job)) &
	    (c->nbuckets - 1)];

	while (*hp != NULL && (*hp)->job != job)
		hp = &(*hp)->next;
	return hp;
}

void
cl_msg_done(struct cluster *c, natsMsg *m, uint32_t part, uint32_t nurls,
    enum cl_verdict_kind how)
{
	/* While it reconnects cnats keeps what is published in its
	 * reconnect buffer, acknowledgements included: send them anyway. */
	if (!atomic_load(&c->closing)) {
		if (how == CM_ACK)
			(void)natsMsg_Ack(m, NULL);
		else if (how == CM_TERM)
			(void)natsMsg_Term(m, NULL);
		else if (how == CM_LATER)
			(void)natsMsg_NakWithDelay(m, CL_LATER_MS, NULL);
		else
			(void)natsMsg_Nak(m, NULL);
	}
	natsMsg_Destroy(m);
	atomic_fetch_sub(&c->held_total, nurls);
	atomic_fetch_sub(&c->held_part[part], nurls);
}

/* fm gets how if it is stronger than what it has (HOLD is no answer). */
static void
cl_fmsg_raise(struct cl_fmsg *fm, enum cl_verdict_kind how)
{
	if (how > fm->how && how != CM_HOLD)
		fm->how = how;
}

/* One of fm's holders lets it go, with how; the last one answers it. */
static void
cl_fmsg_put(struct cluster *c, struct cl_fmsg *fm, enum cl_verdict_kind how)
{
	cl_fmsg_raise(fm, how);
	if (--fm->refs > 0)
		return;
	cl_msg_done(c, fm->msg, fm->part, fm->nurls, fm->how);
	free(fm);
}

/* Job r->job holds fm until its outcome is committed; false if memory
 * ran out (the caller gives the message back). */
static bool
cl_hold(struct cluster *c, struct cl_fmsg *fm, uint32_t part,
    const struct cl_res *r)
{
	struct cl_held **hp = cl_held_slot(c, r->job), *h = *hp;

	if (h == NULL) {
		if ((h = calloc(1, sizeof(*h))) == NULL)
			return false;
		h->job = r->job;
		h->host = r->host;
		h->part = part;
		h->hop_part = CL_NO_PART;
		*hp = h;
		c->nheld++;
	}
	if (h->n == sizeof(h->msgs) / sizeof(h->msgs[0])) {
		/* A URL submitted over and over: one message per job is
		 * enough to refetch it, the rest are answered now. */
		cl_fmsg_raise(fm, CM_ACK);
		return true;
	}
	fm->refs++;
	h->msgs[h->n++] = fm;
	return true;
}

static void
cl_release(struct cluster *c, uint64_t job, enum cl_verdict_kind how)
{
	struct cl_held **hp = cl_held_slot(c, job), *h = *hp;

	if (h == NULL)
		return;
	*hp = h->next;
	for (uint32_t i = 0; i < h->n; i++)
		cl_fmsg_put(c, h->msgs[i], how);
	free(h);
	c->nheld--;
}

/* h's job, at a hop to a partition that left, is to be handed over in the
 * next turn (cl_rehand()). */
static void
cl_rehand_later(struct cluster *c, struct cl_held *h)
{
	if (cl_push_id(&c->rehand, &c->nrehand, &c->caprehand, h->job) != 0)
		log_warnx("cluster: job %" PRIu64 " waits here for partition %"
		    PRIu32 ", its redirect's, to come back", h->job,
		    h->hop_part);
	h->hop_part = CL_NO_PART;
}

/*
 * Partition p is no longer this node's: its messages go back to JetStream
 * for the next owner, and its jobs here are cancelled as "moved" in the
 * next turn (a message for one later queues it again), so that this node
 * never fetches what the next owner fetched.  A job of another partition
 * that a redirect brought to one of p's hosts is handed over to p in the
 * next turn, as a redirect to another node's host is.  A lost lease
 * (abort) also ends their transfers now (the daemon's lost hook), before
 * another node may take it, which cannot be sooner than a third of
 * lease_ttl from now.
 */
static void
cl_give_back(struct cluster *c, uint32_t p, bool abort)
{
	size_t from = c->nmoved, rfrom = c->nrehand;

	for (size_t b = 0; b < c->nbuckets; b++)
		for (struct cl_held *h = c->held[b]; h != NULL; h = h->next) {
			if (h->part == p && cl_push_id(&c->moved, &c->nmoved,
			    &c->capmoved, h->job) != 0)
				log_warnx("cluster: job %" PRIu64 " stays "
				    "queued here though its partition "
				    "moved", h->job);
			if (h->part != p && h->hop_part == p)
				cl_rehand_later(c, h);
		}
	if (abort && c->lost != NULL &&
	    c->nmoved - from + c->nrehand - rfrom > 0) {
		size_t n = c->nmoved - from, r = c->nrehand - rfrom;
		uint64_t *ids = malloc((n + r) * sizeof(*ids));

		if (ids != NULL) {
			/* Either array may be NULL, with nothing to copy. */
			if (n > 0)
				memcpy(ids, c->moved + from, n * sizeof(*ids));
			if (r > 0)
				memcpy(ids + n, c->rehand + rfrom,
				    r * sizeof(*ids));
			qsort(ids, n + r, sizeof(*ids), cl_cmp_id);
			c->lost(c->lost_arg, ids, n + r);
			free(ids);
		}
	}
	cl_release_part(c, p);
}

/* Naks every held message of partition p: the next owner takes them. */
void
cl_release_part(struct cluster *c, uint32_t p)
{
	for (size_t b = 0; b < c->nbuckets; b++) {
		struct cl_held **hp = &c->held[b];

		while (*hp != NULL) {
			struct cl_held *h = *hp;

			if (h->part != p) {
				hp = &h->next;
				continue;
			}
			*hp = h->next;
			for (uint32_t i = 0; i < h->n; i++)
				cl_fmsg_put(c, h->msgs[i], CM_WAIT);
			free(h);
			c->nheld--;
		}
	}
}

/* --- the loop: the inbox ------------------------------------------- */

/* op is answered, after the commit (cluster_take_answers()). */
static void
cl_answer(struct cluster *c, struct op *op)
{
	op->next = NULL;
	*c->answers_tail = op;
	c->answers_tail = &op->next;
}

static struct cl_fwd *
cl_fwd_find(struct cluster *c, uint64_t seq)
{
	for (struct cl_fwd *f = c->fwds; f != NULL; f = f->next)
		if (seq >= f->first && seq < f->first + f->n)
			return f;
	return NULL;
}

static void
cl_fwd_finish(struct cluster *c, struct cl_fwd *f)
{
	struct cl_fwd **fp = &c->fwds;

	while (*fp != f)
		fp = &(*fp)->next;
	*fp = f->next;
	if (f->failed > 0) {
		f->op->err = PROTO_CLUSTER_UNAVAILABLE;
		snprintf(f->op->errmsg, sizeof(f->op->errmsg), "%" PRIu64
		    " of %" PRIu64 " URLs were not stored by the cluster "
		    "(%.60s); resubmitting is safe", f->urls_failed, f->urls,
		    f->err);
	}
	cl_answer(c, f->op);
	free(f->msgs);
	free(f);
}

/* The messages JetStream has not answered count as not stored. */
static void
cl_fwd_fail_rest(struct cl_fwd *f)
{
	for (uint64_t m = 0; m < f->n; m++)
		if (f->msgs[m].state == FWD_SENT) {
			f->msgs[m].state = FWD_FAILED;
			f->failed++;
			f->urls_failed += f->msgs[m].urls;
		}
}

static bool
cl_intake_room(struct cluster *c)
{
	struct cl_msg *n = cl_grow(c->intake, c->nintake, &c->capintake,
	    sizeof(*n));

	if (n == NULL)
		return false;
	c->intake = n;
	return true;
}

void
cl_on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	struct cl_ev *list, *ev, *next;

	uint64_t n;

	(void)what;
	(void)read(fd, &n, sizeof(n));
	pthread_mutex_lock(&c->mu);
	list = c->inbox;
	c->inbox = NULL;
	c->inbox_tail = &c->inbox;
	pthread_mutex_unlock(&c->mu);
	for (ev = list; ev != NULL; ev = next) {
		struct cl_fwd_msg *fm;
		struct cl_fwd *f;

		next = ev->next;
		switch (ev->kind) {
		case EV_MSG:
			if (!cl_intake_room(c)) {
				cl_msg_done(c, ev->msg, ev->part, ev->nurls,
				    CM_WAIT);
				break;
			}
			c->intake[c->nintake++] = (struct cl_msg){
			    .msg = ev->msg, .part = ev->part,
			    .nurls = ev->nurls, .pulled = ev->pulled };
			break;
		case EV_PUBACK:
			if (ev->what == 'h') {
				cl_handoff_acked(c, ev->seq, ev->ok);
				break;
			}
			if (ev->what != 's') {
				cl_out_acked(c, ev->what, ev->seq, ev->last,
				    ev->ok, ev->err);
				break;
			}
			if ((f = cl_fwd_find(c, ev->seq)) == NULL)
				break;
			fm = &f->msgs[ev->seq - f->first];
			if (fm->state != FWD_SENT)
				break;
			if (ev->ok) {
				fm->state = FWD_STORED;
				f->acked++;
				/* Pulled at once if it is this node's,
				 * whatever an empty partition's backoff
				 * said. */
				atomic_store(&c->pull_after[fm->part], 0);
			} else {
				fm->state = FWD_FAILED;
				f->failed++;
				f->urls_failed += fm->urls;
				snprintf(f->err, sizeof(f->err), "%s",
				    ev->err);
			}
			if (f->acked + f->failed == f->n)
				cl_fwd_finish(c, f);
			break;
		case EV_LOST:
			/* Unless the loop found the lease stale already. */
			if (c->stale[ev->part] == 0)
				cl_give_back(c, ev->part, true);
			c->stale[ev->part] = 0;
			break;
		case EV_KEYS:
			cl_keys_apply(c, ev->msg);
			natsMsg_Destroy(ev->msg);
			ev->msg = NULL;
			break;
		}
		free(ev);
	}
}

/* --- the loop: the public side ------------------------------------- */

/* Open addressing on the keys' own bits (hashes already); 0 is free, so a
 * key of 0 is kept as 1. */
bool
cl_set_has(const struct cl_set *set, uint64_t key)
{
	key = key ? key : 1;
	if (set->n == 0)
		return false;
	for (size_t i = key & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
		if (set->slot[i] == key)
			return true;
		if (set->slot[i] == 0)
			return false;
	}
}

/* Adds key; -1 when the set holds max keys already or memory is short. */
int
cl_set_add(struct cl_set *set, uint64_t key, size_t max)
{
	key = key ? key : 1;
	if (cl_set_has(set, key))
		return 0;
	if ((set->n + 1) * 2 > set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		uint64_t *old = set->slot, *n;

		if (set->n >= max || (n = calloc(cap, sizeof(*n))) == NULL)
			return -1;
		for (size_t i = 0; i < set->cap; i++)
			if (old[i] != 0) {
				size_t j = old[i] & (cap - 1);

				while (n[j] != 0)
					j = (j + 1) & (cap - 1);
				n[j] = old[i];
			}
		free(old);
		set->slot = n;
		set->cap = cap;
	}
	for (size_t i = key & (set->cap - 1);; i = (i + 1) & (set->cap - 1))
		if (set->slot[i] == 0) {
			set->slot[i] = key;
			set->n++;
			return 0;
		}
}

static void
cl_handoff_destroy(struct cl_handoff *h)
{
	free(h->body);
	free(h);
}

/*
 * Job, at its hop to target (host's), is handed over to the target's
 * partition, another node's: cancelled here as "moved", and a frontier
 * message recorded for the target, published after the commit.
 */
static int
cl_hand_over(struct cluster *c, MDB_txn *txn, uint64_t job,
    const char *target, uint64_t host, uint64_t now, bool *handed)
{
	struct cl_handoff *h;
	json_t *body, *visited;
	struct job j;
	int rc;

	/* Another node's: only it may fetch the host.  The message names
	 * the job's URL (the document's "url" there, as here) and the hops
	 * taken, so that loops and max_redirects still count. */
	if ((rc = queue_get(c->queue, txn, job, &j)) != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	visited = json_array();
	for (uint32_t i = 0; visited != NULL && i < j.hops; i++) {
		char hex[17];

		snprintf(hex, sizeof(hex), "%016" PRIx64, j.visited[i]);
		(void)json_array_append_new(visited, json_string(hex));
	}
	body = visited == NULL ? NULL : json_pack("{s:s, s:s, s:o, s:i, "
	    "s:b, s:s}", "url", target, "via", j.url, "visited", visited,
	    "priority", (int)j.priority, "force", 0, "from", c->node);
	h = calloc(1, sizeof(*h));
	if (h != NULL && body != NULL)
		h->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (h == NULL || h->body == NULL) {
		free(h);
		queue_job_free(&j);
		return ENOMEM;
	}
	h->job = job;
	(void)cluster_subject(h->subj, sizeof(h->subj), host, c->parts);
	snprintf(h->id, sizeof(h->id), "h:%" PRIu64 ":%" PRIu32 ":%s", job,
	    j.hops, c->idtag);
	queue_job_free(&j);
	/* Its messages stay held until the handoff is stored. */
	c->moving = true;
	rc = queue_cancel_moved(c->queue, txn, job, target, now);
	c->moving = false;
	if (rc != 0) {
		cl_handoff_destroy(h);
		return rc == MDB_KEYEXIST ? 0 : rc;
	}
	h->next = c->handoffs;
	c->handoffs = h;
	*handed = true;
	return 0;
}

int
cluster_redirected(void *arg, MDB_txn *txn, uint64_t job, const char *target,
    uint64_t host, uint64_t now, bool *handed)
{
	struct cluster *c = arg;
	uint32_t p = cl_part(c, host);
	struct cl_held *h;

	*handed = false;
	if (!cl_usable(c, p, mono_ms()))
		return cl_hand_over(c, txn, job, target, host, now, handed);
	/* A partition this node fetches: followed here.  Should it leave
	 * before the job ends, the job is handed over then (cl_give_back). */
	if ((h = *cl_held_slot(c, job)) != NULL)
		h->hop_part = p == h->part ? CL_NO_PART : p;
	return 0;
}

static void
cl_handoff_drop(struct cl_handoff **list)
{
	while (*list != NULL) {
		struct cl_handoff *h = *list;

		*list = h->next;
		cl_handoff_destroy(h);
	}
}

void
cl_handoff_free(struct cluster *c)
{
	cl_handoff_drop(&c->handoffs);
	cl_handoff_drop(&c->handing);
}

/* After the commit that cancelled their jobs here. */
static void
cl_handoff_send(struct cluster *c)
{
	struct cl_handoff *h;

	while ((h = c->handoffs) != NULL) {
		c->handoffs = h->next;
		if (!atomic_load(&c->connected) || cl_publish_async(c,
		    h->subj, h->id, h->body, strlen(h->body), 1) != NATS_OK) {
			/* Redelivered later, fetched again, handed again. */
			cl_release(c, h->job, CM_LATER);
			cl_handoff_destroy(h);
			continue;
		}
		h->next = c->handing;
		c->handing = h;
	}
}

void
cl_handoff_acked(struct cluster *c, uint64_t job, bool ok)
{
	struct cl_handoff **hp = &c->handing, *h;

	while (*hp != NULL && (*hp)->job != job)
		hp = &(*hp)->next;
	if ((h = *hp) == NULL)
		return;
	*hp = h->next;
	if (ok)
		c->handed++;
	cl_release(c, job, ok ? CM_ACK : CM_LATER);
	cl_handoff_destroy(h);
}

/* Partition p is this node's to fetch now: owned, its lease fresh by
 * this node's clock. */
bool
cl_usable(struct cluster *c, uint32_t p, uint64_t mono)
{
	return atomic_load(&c->own[p]) == OWN_OWNED &&
	    mono < atomic_load(&c->renewed[p]) +
	    c->cfg->cluster_lease_ttl_ms * 2 / 3;
}

bool
cluster_allows(uint64_t host, void *arg)
{
	struct cluster *c = arg;

	uint32_t p = cl_part(c, host);
	uint64_t mono;

	if (!atomic_load(&c->connected))
		return false;
	/*
	 * By this node's own clock, too: a lease not renewed for two thirds
	 * of its TTL may be about to pass to another node, whatever the
	 * thread has heard (a cut network is noticed late: NATS pings), and
	 * a partition just taken waits fetch.host_delay, the spacing its
	 * last owner kept.
	 */
	mono = mono_ms();
	return cl_usable(c, p, mono) &&
	    mono >= atomic_load(&c->start_after[p]);
}

/* Why submissions are refused: the streams (refused for good), or NATS. */
static void
cl_why_unavailable(struct cluster *c, char *buf, size_t len)
{
	pthread_mutex_lock(&c->mu);
	snprintf(buf, len, "%.150s", c->fatal[0] != '\0' ? c->fatal :
	    "NATS is unreachable: nothing was submitted");
	pthread_mutex_unlock(&c->mu);
}

/* URL indexes by partition, in submission order within one. */
struct cl_by_part {
	uint32_t	 part;
	uint32_t	 i;
};

static int
cl_by_part_cmp(const void *a, const void *b)
{
	const struct cl_by_part *x = a, *y = b;

	if (x->part != y->part)
		return x->part < y->part ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * One frontier message: the URLs by[0..n) of op, all of one partition.
 * A single URL is {"url":...} (the format of every version), several
 * are {"urls":[...]} with the header CL_URLS_HEADER; the subject names
 * the host when they share one, else sluice.fetch.p<N>.mixed.
 */
static natsStatus
cl_forward_msg(struct cluster *c, const struct op *op,
    const struct cl_by_part *by, size_t n, uint64_t seq)
{
	char subj[CLUSTER_SUBJECT_MAX], id[CL_NODE_MAX + 48];
	uint64_t host = op->urls[by[0].i].host;
	json_t *body, *urls = NULL;
	char *text;
	natsStatus s;

	for (size_t k = 1; k < n && host != 0; k++)
		if (op->urls[by[k].i].host != host)
			host = 0;
	if (host != 0)
		(void)cluster_subject(subj, sizeof(subj), host, c->parts);
	else
		snprintf(subj, sizeof(subj), "sluice.fetch.p%" PRIu32 ".mixed",
		    by[0].part);
	snprintf(id, sizeof(id), "s:%" PRIu64 ":%" PRIu64 ":%s", c->boot, seq,
	    c->node);
	if (n == 1)
		body = json_pack("{s:s, s:i, s:I, s:b, s:s}", "url",
		    op->urls[by[0].i].url, "priority", (int)op->priority,
		    "not_before", (json_int_t)op->not_before_ms, "force",
		    op->force, "from", c->node);
	else {
		urls = json_array();
		for (size_t k = 0; urls != NULL && k < n; k++)
			if (json_array_append_new(urls,
			    json_string(op->urls[by[k].i].url)) != 0) {
				json_decref(urls);
				urls = NULL;
			}
		body = urls == NULL ? NULL : json_pack("{s:o, s:i, s:I, s:b, "
		    "s:s}", "urls", urls, "priority", (int)op->priority,
		    "not_before", (json_int_t)op->not_before_ms, "force",
		    op->force, "from", c->node);
	}
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	s = text ? cl_publish_async(c, subj, id, text, strlen(text),
	    (uint32_t)n) : NATS_NO_MEMORY;
	free(text);
	return s;
}

/*
 * A submit on a cluster node: its URLs published to their partitions,
 * up to CL_MSG_URLS of one partition in a message (JetStream's cost is
 * per message), and answered once JetStream stored every message.
 */
void
cluster_forward(struct cluster *c, struct op *op)
{
	size_t nby = 0, start, max, room = op->nurls > 0 ? op->nurls : 1;
	struct cl_by_part *by;
	struct cl_fwd *f;

	if (!atomic_load(&c->ready) || !atomic_load(&c->connected)) {
		op->err = PROTO_CLUSTER_UNAVAILABLE;
		cl_why_unavailable(c, op->errmsg, sizeof(op->errmsg));
		cl_answer(c, op);
		return;
	}
	/* At most a message per URL; the messages first, so that every
	 * puback finds its count. */
	f = calloc(1, sizeof(*f));
	by = calloc(room, sizeof(*by));
	if (f != NULL)
		f->msgs = calloc(room, sizeof(*f->msgs));
	if (f == NULL || by == NULL || f->msgs == NULL) {
		if (f != NULL)
			free(f->msgs);
		free(f);
		free(by);
		op->err = PROTO_CLUSTER_UNAVAILABLE;
		snprintf(op->errmsg, sizeof(op->errmsg), "out of memory: "
		    "nothing was submitted");
		cl_answer(c, op);
		return;
	}
	f->op = op;
	f->started = mono_ms();
	op->sub.cluster = true;
	for (size_t i = 0; i < op->nurls; i++) {
		struct op_url *u = &op->urls[i];

		if (u->url == NULL) {
			(void)submit_reply_add(&op->sub, u->given, NULL,
			    u->status, NULL);
			continue;
		}
		(void)submit_reply_add_forwarded(&op->sub, u->url,
		    cl_part(c, u->host));
		by[nby++] = (struct cl_by_part){ .part = cl_part(c, u->host),
		    .i = (uint32_t)i };
	}
	if (nby > 1)
		qsort(by, nby, sizeof(*by), cl_by_part_cmp);
	max = atomic_load(&c->multi_urls) ? CL_MSG_URLS : 1;
	for (start = 0; start < nby; ) {
		size_t end = start + 1,
		    bytes = strlen(op->urls[by[start].i].url);

		while (end < nby && end - start < max &&
		    by[end].part == by[start].part &&
		    (bytes += strlen(op->urls[by[end].i].url) + 3) <=
		    CL_MSG_BYTES)
			end++;
		f->msgs[f->n++] = (struct cl_fwd_msg){
		    .urls = (uint32_t)(end - start), .part = by[start].part };
		start = end;
	}
	f->urls = nby;
	f->first = c->pub_seq + 1;
	c->pub_seq += f->n;
	f->next = c->fwds;
	c->fwds = f;
	start = 0;
	for (uint64_t m = 0; m < f->n; m++) {
		natsStatus s = cl_forward_msg(c, op, by + start,
		    f->msgs[m].urls, f->first + m);

		start += f->msgs[m].urls;
		if (s != NATS_OK) {
			f->msgs[m].state = FWD_FAILED;
			f->failed++;
			f->urls_failed += f->msgs[m].urls;
			snprintf(f->err, sizeof(f->err), "%s",
			    natsStatus_GetText(s));
		}
	}
	c->fwd_msgs += f->n;
	c->fwd_urls += nby;
	free(by);
	if (f->n == 0 || f->acked + f->failed == f->n)
		cl_fwd_finish(c, f);
}

void
cluster_fail_forwards(struct cluster *c)
{
	if (c == NULL)
		return;
	while (c->fwds != NULL) {
		cl_fwd_fail_rest(c->fwds);
		snprintf(c->fwds->err, sizeof(c->fwds->err), "sluiced is "
		    "stopping");
		cl_fwd_finish(c, c->fwds);
	}
}

struct op *
cluster_take_answers(struct cluster *c)
{
	struct op *list;

	if (c == NULL)
		return NULL;
	list = c->answers;
	c->answers = NULL;
	c->answers_tail = &c->answers;
	return list;
}

bool
cluster_pending(const struct cluster *c)
{
	return c != NULL && (c->nintake > 0 ||
	    cl_verdicts_due(c, mono_ms()) || c->nsent > 0 || c->nmoved > 0 ||
	    c->nrehand > 0);
}

/*
 * A frontier message's URL queued, or its job found.  One cancelled here
 * (its partition moved away once, it was handed over, or an operator
 * cancelled it) is queued again: the frontier asks for it.
 */
static int
cl_queue_url(struct cluster *c, MDB_txn *txn, const char *canon,
    uint64_t host, const char *origin, int32_t prio, uint64_t not_before,
    bool force, uint64_t now, struct submit_result *r)
{
	int rc = queue_submit(c->queue, txn, canon, host, origin, prio,
	    not_before, force, now, r);

	if (rc == 0 && r->status == SUBMIT_DUPLICATE &&
	    r->state == JOB_CANCELLED)
		rc = queue_submit(c->queue, txn, canon, host, origin, prio, 0,
		    true, now, r);
	return rc;
}

/*
 * A redirect another node handed over (cluster_redirected): the job of
 * its URL, via, starts here at the hop to target, this partition's.
 */
static int
cl_apply_hop(struct cluster *c, MDB_txn *txn, uint32_t part,
    struct cl_res *res, json_t *o, const char *target, uint64_t host,
    const char *origin, uint64_t now)
{
	uint64_t visited[QUEUE_MAX_HOPS], vhost = 0;
	json_t *vs = json_object_get(o, "visited"), *v;
	const char *via = json_string_value(json_object_get(o, "via"));
	int32_t prio = (int32_t)json_integer_value(json_object_get(o,
	    "priority"));
	size_t i, n = json_array_size(vs);
	char *vcanon = NULL, *vorigin = NULL;
	struct submit_result r = { 0 };
	int rc = 0;

	if (n == 0 || n > QUEUE_MAX_HOPS)
		goto bad;
	json_array_foreach(vs, i, v) {
		const char *hex = json_string_value(v);
		char *end = NULL;

		if (hex == NULL || strlen(hex) != 16)
			goto bad;
		visited[i] = strtoull(hex, &end, 16);
		if (end == NULL || *end != '\0')
			goto bad;
	}
	if (visited[n - 1] != XXH3_64bits(target, strlen(target)))
		goto bad;
	if (url_canonicalize(via, c->uo, &vcanon) == URL_OK)
		vhost = url_host_key(vcanon, &vorigin);
	if (vhost == 0)
		goto bad;
	if (prio < QUEUE_PRIORITY_MIN || prio > QUEUE_PRIORITY_MAX)
		prio = 0;
	res->verdict = CM_ACK;
	/* Its document stored by a node already. */
	if (cl_set_has(&c->urls, XXH3_64bits(vcanon, strlen(vcanon))))
		goto out;
	rc = cl_queue_url(c, txn, vcanon, vhost, vorigin, prio, 0, false,
	    now, &r);
	if (rc != 0 || (r.status == SUBMIT_DUPLICATE &&
	    (r.state == JOB_DONE || r.state == JOB_FAILED)))
		goto out;
	rc = queue_hop(c->queue, txn, r.id, target, host, origin, visited,
	    (uint32_t)n, now);
	if (rc == MDB_KEYEXIST)
		rc = 0;		/* at a hop already: the same handoff again */
	if (rc != 0)
		goto out;
	sched_ready(c->sched, host, prio);
	res->job = r.id;
	res->host = host;
	res->verdict = CM_HOLD;
	goto out;
bad:
	log_warnx("cluster: dropping a redirect handed to partition %" PRIu32
	    " whose hops or URL are not valid", part);
	res->verdict = CM_TERM;
out:
	free(vcanon);
	free(vorigin);
	return rc;
}

/* A result for the message being applied; NULL when memory is short. */
static struct cl_res *
cl_res_add(struct cluster *c, enum cl_verdict_kind verdict)
{
	struct cl_res *n = cl_grow(c->res, c->nres, &c->capres, sizeof(*n));

	if (n == NULL)
		return NULL;
	c->res = n;
	c->res[c->nres] = (struct cl_res){ .verdict = verdict };
	return &c->res[c->nres++];
}

/* One URL of a frontier message becomes a job, or finds its job. */
static int
cl_apply_url(struct cluster *c, MDB_txn *txn, uint32_t part, json_t *o,
    const char *url, uint64_t now)
{
	char *canon = NULL, *origin = NULL;
	struct submit_result r = { 0 };
	struct cl_res *res;
	uint64_t host = 0;
	int rc = 0;

	if ((res = cl_res_add(c, CM_TERM)) == NULL)
		return ENOMEM;
	if (url != NULL && url_canonicalize(url, c->uo, &canon) == URL_OK)
		host = url_host_key(canon, &origin);
	if (host == 0 || cl_part(c, host) != part) {
		log_warnx("cluster: dropping a frontier message's URL that is "
		    "not a URL of partition %" PRIu32, part);
		goto out;
	}
	if (json_object_get(o, "via") != NULL) {
		rc = cl_apply_hop(c, txn, part, res, o, canon, host, origin,
		    now);
		goto out;
	}
	/* Stored by a node already (its partition moved since): answered
	 * without a fetch, unless the submit forced one. */
	if (!json_is_true(json_object_get(o, "force")) &&
	    cl_set_has(&c->urls, XXH3_64bits(canon, strlen(canon)))) {
		res->verdict = CM_ACK;
		goto out;
	}
	rc = cl_queue_url(c, txn, canon, host, origin,
	    (int32_t)json_integer_value(json_object_get(o, "priority")),
	    (uint64_t)json_integer_value(json_object_get(o, "not_before")),
	    json_is_true(json_object_get(o, "force")), now, &r);
	if (rc != 0)
		goto out;
	if (r.status == SUBMIT_REQUEUED)
		sched_ready(c->sched, host, 0);
	res->job = r.id;
	res->host = host;
	res->verdict = r.status == SUBMIT_DUPLICATE && (r.state == JOB_DONE ||
	    r.state == JOB_FAILED) ? CM_ACK : CM_HOLD;
out:
	free(canon);
	free(origin);
	return rc;
}

/*
 * One frontier message: {"url":...} or {"urls":[...]} (cl_forward_msg),
 * or a redirect handed over ("via").  Its URLs' results go to c->res,
 * one at least.
 */
static int
cl_apply_one(struct cluster *c, MDB_txn *txn, struct cl_msg *cm,
    uint64_t now)
{
	const char *data = natsMsg_GetData(cm->msg);
	json_t *o = json_loadb(data ? data : "", (size_t)natsMsg_GetDataLength(
	    cm->msg), 0, NULL);
	json_t *urls = json_object_get(o, "urls"), *u;
	size_t i;
	int rc = 0;

	cm->res0 = c->nres;
	if (c->store->full) {
		/* back to JetStream for a while */
		rc = cl_res_add(c, CM_LATER) ? 0 : ENOMEM;
	} else if (atomic_load(&c->own[cm->part]) != OWN_OWNED) {
		/* Pulled just before its partition left this node: the
		 * next owner takes it. */
		rc = cl_res_add(c, CM_WAIT) ? 0 : ENOMEM;
	} else if (json_is_array(urls) && json_array_size(urls) > 0 &&
	    json_array_size(urls) <= CL_MSG_URLS_MAX &&
	    json_object_get(o, "via") == NULL) {
		json_array_foreach(urls, i, u) {
			if ((rc = cl_apply_url(c, txn, cm->part, o,
			    json_string_value(u), now)) != 0)
				break;
		}
	} else
		rc = cl_apply_url(c, txn, cm->part, o, json_string_value(
		    json_object_get(o, "url")), now);
	cm->nres = c->nres - cm->res0;
	json_decref(o);
	return rc;
}

/* A job at a hop to a host of a partition that left this node: handed
 * over to it, unless it ended or the partition came back meanwhile. */
static int
cl_rehand(struct cluster *c, MDB_txn *txn, uint64_t id, uint64_t now)
{
	struct job j;
	bool handed;
	int rc = queue_get(c->queue, txn, id, &j);

	if (rc != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if ((j.state == JOB_QUEUED || j.state == JOB_ACTIVE) && j.hops > 0 &&
	    j.fetch_url != NULL && !cl_usable(c, cl_part(c, j.host),
	    mono_ms()))
		rc = cl_hand_over(c, txn, id, j.fetch_url, j.host, now,
		    &handed);
	queue_job_free(&j);
	return rc;
}

int
cluster_apply(void *arg, MDB_txn *txn, uint64_t now)
{
	struct cluster *c = arg;
	int rc = 0;

	if (c == NULL)
		return 0;
	/* Before the intake: a message in the same turn queues it again. */
	/* Their messages went back already: what comes for them in this
	 * turn must not be acknowledged as if they had ended. */
	c->moving = true;
	for (size_t i = 0; i < c->nmoved && rc == 0; i++) {
		rc = queue_cancel_moved(c->queue, txn, c->moved[i], NULL,
		    now);
		if (rc == MDB_KEYEXIST || rc == MDB_NOTFOUND)
			rc = 0;		/* ended meanwhile */
	}
	c->moving = false;
	c->applied_moved = c->nmoved;
	for (size_t i = 0; i < c->nrehand && rc == 0; i++)
		rc = cl_rehand(c, txn, c->rehand[i], now);
	c->applied_rehand = c->nrehand;
	c->nres = 0;
	for (size_t i = 0; i < c->nintake && rc == 0; i++)
		rc = cl_apply_one(c, txn, &c->intake[i], now);
	if (rc == 0)
		rc = cl_out_apply(c, txn);
	return rc;
}

void
cluster_abort(void *arg)
{
	struct cluster *c = arg;

	if (c == NULL)
		return;
	c->nres = 0;
	c->nfinished = 0;
	cl_handoff_drop(&c->handoffs);
	c->nstored = 0;
	c->applied_verdicts = c->applied_sent = c->applied_moved = 0;
	c->applied_rehand = 0;
	c->batch_recorded = 0;
}

void
cluster_job_finished(uint64_t id, void *arg)
{
	struct cluster *c = arg;

	if (c->moving)
		return;
	/* If memory is short, held until redelivered, then acked. */
	(void)cl_push_id(&c->finished, &c->nfinished, &c->capfinished, id);
}

void
cluster_commit(struct cluster *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nintake; i++) {
		struct cl_msg *cm = &c->intake[i];
		bool owned = atomic_load(&c->own[cm->part]) == OWN_OWNED;
		struct cl_fmsg *fm = calloc(1, sizeof(*fm));

		if (fm == NULL) {
			/* Redelivered: its jobs, queued here, are found
			 * then and held. */
			cl_msg_done(c, cm->msg, cm->part, cm->nurls,
			    CM_WAIT);
			continue;
		}
		*fm = (struct cl_fmsg){ .msg = cm->msg, .refs = 1,
		    .part = cm->part, .nurls = cm->nurls, .how = CM_TERM,
		    .touched = cm->pulled };
		for (size_t k = cm->res0; k < cm->res0 + cm->nres; k++) {
			struct cl_res *r = &c->res[k];

			/* Its partition left during the turn: given back
			 * like the rest of it. */
			if (r->verdict == CM_HOLD && !owned) {
				(void)cl_push_id(&c->moved, &c->nmoved,
				    &c->capmoved, r->job);
				r->verdict = CM_WAIT;
			}
			if (r->verdict != CM_HOLD)
				cl_fmsg_raise(fm, r->verdict);
			else if (!cl_hold(c, fm, cm->part, r))
				cl_fmsg_raise(fm, CM_WAIT);
		}
		cl_fmsg_put(c, fm, CM_TERM);
	}
	c->nres = 0;
	c->nintake = 0;
	for (size_t i = 0; i < c->nfinished; i++)
		cl_release(c, c->finished[i], CM_ACK);
	c->nfinished = 0;
	cl_handoff_send(c);
	if (c->applied_moved > 0)
		memmove(c->moved, c->moved + c->applied_moved,
		    (c->nmoved - c->applied_moved) * sizeof(*c->moved));
	c->nmoved -= c->applied_moved;
	c->applied_moved = 0;
	if (c->applied_rehand > 0)
		memmove(c->rehand, c->rehand + c->applied_rehand,
		    (c->nrehand - c->applied_rehand) * sizeof(*c->rehand));
	c->nrehand -= c->applied_rehand;
	c->applied_rehand = 0;
	cl_out_commit(c);
}

static void
cl_count_busy(struct sched_host *h, void *arg)
{
	struct cluster *c = arg;

	atomic_fetch_add(&c->busy[cl_part(c, h->key)], h->inflight +
	    h->planned);
}

/*
 * A net under the bookkeeping, every CL_AUDIT_MS: a held message whose job
 * has ended is acknowledged (its end was not seen), and the hosts of the
 * others are marked ready for the scheduler again.  Both are cheap: one
 * read per held job.
 */
static void
cl_audit(struct cluster *c)
{
	uint64_t *ended = NULL;
	size_t n = 0, cap = 0;
	MDB_txn *txn;

	if (c->nheld == 0 || store_txn_read(c->store, &txn) != 0)
		return;
	for (size_t b = 0; b < c->nbuckets; b++)
		for (struct cl_held *h = c->held[b]; h != NULL; h = h->next) {
			struct job j;

			if (queue_get(c->queue, txn, h->job, &j) != 0)
				continue;
			if (j.state == JOB_DONE || j.state == JOB_FAILED)
				(void)cl_push_id(&ended, &n, &cap, h->job);
			else if (j.state == JOB_QUEUED)
				sched_ready(c->sched, j.host, j.priority);
			queue_job_free(&j);
		}
	mdb_txn_abort(txn);
	for (size_t i = 0; i < n; i++)
		cl_release(c, ended[i], CM_ACK);
	/* At a hop to a partition this node no longer owns: handed over. */
	for (size_t b = 0; b < c->nbuckets; b++)
		for (struct cl_held *h = c->held[b]; h != NULL; h = h->next)
			if (h->hop_part != CL_NO_PART &&
			    atomic_load(&c->own[h->hop_part]) == OWN_NONE)
				cl_rehand_later(c, h);
	/* Held for a partition this node no longer owns: given back. */
	for (uint32_t p = 0; p < c->parts; p++) {
		bool any = false;

		if (atomic_load(&c->own[p]) != OWN_NONE)
			continue;
		for (size_t b = 0; b < c->nbuckets && !any; b++)
			for (struct cl_held *h = c->held[b]; h != NULL;
			    h = h->next)
				if (h->part == p)
					any = true;
		if (any) {
			log_warnx("cluster: messages of partition %" PRIu32
			    " were held after it left; given back", p);
			cl_give_back(c, p, true);
		}
	}
	if (n > 0)
		log_warnx("cluster: %zu frontier messages of ended jobs were "
		    "still held; acknowledged now", n);
	free(ended);
}

void
cluster_cron(struct cluster *c, json_t *status)
{
	uint64_t mono = mono_ms();
	char *text = status ? json_dumps(status, JSON_COMPACT) : NULL;
	uint32_t stale = 0;

	if (c == NULL) {
		free(text);
		return;
	}
	pthread_mutex_lock(&c->mu);
	free(c->status_json);
	c->status_json = text;
	pthread_mutex_unlock(&c->mu);

	/* A partition over our share is given up once its transfers are
	 * over: until then its host may not see a second node. */
	for (uint32_t p = 0; p < c->parts; p++)
		atomic_store(&c->busy[p], 0);
	sched_walk(c->sched, cl_count_busy, c);
	for (uint32_t p = 0; p < c->parts; p++)
		if (atomic_load(&c->own[p]) == OWN_DRAINING &&
		    atomic_load(&c->busy[p]) == 0) {
			cl_give_back(c, p, false);
			atomic_store(&c->own[p], OWN_RELEASABLE);
		}
	/*
	 * A lease not renewed for two thirds of its TTL may pass to another
	 * node before the thread hears of it (a renewal can hang in an
	 * election): its transfers end and its work goes back now.  If the
	 * thread renews it after all, messages come back with it.
	 */
	for (uint32_t p = 0; p < c->parts; p++) {
		uint64_t r = atomic_load(&c->renewed[p]);

		if (atomic_load(&c->own[p]) == OWN_OWNED && r != 0 &&
		    !cl_usable(c, p, mono) && c->stale[p] != r) {
			c->stale[p] = r;
			cl_give_back(c, p, true);
			stale++;
		} else if (c->stale[p] != 0 && c->stale[p] != r)
			c->stale[p] = 0;	/* renewed since */
	}
	if (stale > 0)
		log_warnx("cluster: lost %" PRIu32 " partitions: their leases "
		    "were not renewed for 2/3 of cluster.lease_ttl; their "
		    "transfers end and their messages go back", stale);

	if (!c->replayed || ((c->nretry > 0 || c->rebatch != NULL) &&
	    mono - c->last_retry >= CL_RETRY_MS)) {
		c->last_retry = mono;
		cl_out_retry(c);
	}

	/* A publish JetStream never answered (an answer lost to memory):
	 * its submit fails rather than wait for ever. */
	for (struct cl_fwd *f = c->fwds, *next; f != NULL; f = next) {
		next = f->next;
		if (mono - f->started > 2 * CL_PUB_WAIT_MS) {
			cl_fwd_fail_rest(f);
			snprintf(f->err, sizeof(f->err), "no answer from "
			    "JetStream");
			cl_fwd_finish(c, f);
		}
	}

	if (mono - c->last_audit >= CL_AUDIT_MS) {
		c->last_audit = mono;
		cl_audit(c);
	}

	/* Held messages stay ours while their jobs wait: those held half
	 * of ack_wait since they were pulled or last touched are touched
	 * again.  Looked at every third of it, a message is touched at most
	 * 5/6 of ack_wait after the last time; most are done long before,
	 * and never cost a message. */
	if (atomic_load(&c->connected) &&
	    mono - c->last_wpi >= c->cfg->cluster_ack_wait_ms / 3) {
		c->last_wpi = mono;
		for (size_t b = 0; b < c->nbuckets; b++)
			for (struct cl_held *h = c->held[b]; h; h = h->next)
				for (uint32_t i = 0; i < h->n; i++) {
					struct cl_fmsg *fm = h->msgs[i];

					/* Shared by the jobs of its URLs:
					 * touched once. */
					if (mono - fm->touched <
					    c->cfg->cluster_ack_wait_ms / 2)
						continue;
					fm->touched = mono;
					(void)natsMsg_InProgress(fm->msg,
					    NULL);
				}
	}
}
