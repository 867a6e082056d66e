/*
 * sched.c - per-host dispatch (see sched.h).
 *
 * Hosts live in a chained hash table keyed by the 64-bit origin hash.
 *
 * XXX: entries are never dropped, so memory grows with every host ever
 * seen (about 300 bytes each), and pick_host() walks the whole table per
 * lease.  Both are fine for thousands of hosts; a crawl over millions needs
 * an idle-host sweep and a heap of startable hosts ordered by priority.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "robots.h"
#include "sched.h"
#include "util.h"

#define SCHED_BUCKETS_MIN	1024

static struct sched_host *sched_find(const struct sched *s, uint64_t key);

int
sched_init(struct sched *s)
{
	memset(s, 0, sizeof(*s));
	s->nbuckets = SCHED_BUCKETS_MIN;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	s->max_total = 64;
	s->max_per_host = 2;
	return s->buckets ? 0 : -1;
}

void
sched_free(struct sched *s)
{
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		struct sched_host *h = s->buckets[i], *n;
		for (; h != NULL; h = n) {
			n = h->next;
			robots_free(h->robots);
			free(h);
		}
	}
	SAFE_FREE(s->buckets);
}

void
sched_configure(struct sched *s, uint32_t max_total, uint32_t max_per_host,
    uint64_t host_delay_ms)
{
	s->max_total = max_total;
	s->max_per_host = max_per_host;
	s->host_delay_ms = host_delay_ms;
}

/* Doubles the table when it averages more than two hosts per bucket. */
static void
sched_rehash(struct sched *s)
{
	uint32_t n = s->nbuckets * 2;
	struct sched_host **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return;		/* keep the longer chains */
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		struct sched_host *h = s->buckets[i], *next;
		for (; h != NULL; h = next) {
			next = h->next;
			h->next = b[h->key % n];
			b[h->key % n] = h;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

struct sched_host *
sched_find_host(struct sched *s, uint64_t key)
{
	return sched_find(s, key);
}

void
sched_walk(struct sched *s, void (*fn)(struct sched_host *h, void *arg),
    void *arg)
{
	for (uint32_t i = 0; i < s->nbuckets; i++)
		for (struct sched_host *h = s->buckets[i]; h; h = h->next)
			fn(h, arg);
}

void
sched_set_robots(struct sched_host *h, int policy, struct robots *rules,
    uint64_t expires_ms, uint64_t delay_ms)
{
	robots_free(h->robots);
	h->robots = rules;
	h->robots_policy = policy;
	h->robots_expires_ms = expires_ms;
	h->robots_state = SCHED_ROBOTS_KNOWN;
	h->delay_ms = delay_ms;
	if (policy != ROBOTS_DISALLOW_ALL) {
		h->robots_error[0] = '\0';
		h->robots_why[0] = '\0';
	}
}

static struct sched_host *
sched_find(const struct sched *s, uint64_t key)
{
	struct sched_host *h = s->buckets[key % s->nbuckets];

	while (h != NULL && h->key != key)
		h = h->next;
	return h;
}

struct sched_host *
sched_host(struct sched *s, uint64_t key)
{
	struct sched_host *h = sched_find(s, key);

	if (h != NULL)
		return h;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->key = key;
	h->next = s->buckets[key % s->nbuckets];
	s->buckets[key % s->nbuckets] = h;
	if (++s->nhosts > 2 * s->nbuckets)
		sched_rehash(s);
	return h;
}

void
sched_ready(struct sched *s, uint64_t host, int32_t prio)
{
	struct sched_host *h = sched_host(s, host);

	if (h == NULL)
		return;	/* XXX: ENOMEM; found again after a restart */
	if (h->head_valid && prio > h->head_prio)
		h->head_prio = prio;
	h->ready = true;
}

void
sched_ready_cb(uint64_t host, int32_t prio, void *sched)
{
	sched_ready(sched, host, prio);
}

void
sched_host_ready_cb(uint64_t host, void *sched)
{
	sched_ready(sched, host, 0);
}

static bool
host_can_start(const struct sched *s, const struct sched_host *h,
    uint64_t now)
{
	if (!h->ready || h->inflight + h->planned >= s->max_per_host)
		return false;
	if (s->allow != NULL && !s->allow(h->key, s->allow_arg))
		return false;
	if (h->planned > 0 && (h->delay_ms || s->host_delay_ms))
		return false;	/* one start per delay window */
	return now >= h->next_start_ms && now >= h->backoff_until_ms;
}

/* True when h's robots.txt must be looked up before it may start. */
static bool
sched_robots_needed(const struct sched *s, const struct sched_host *h,
    uint64_t now)
{
	if (!s->respect_robots)
		return false;
	return h->robots_state != SCHED_ROBOTS_KNOWN ||
	    now >= h->robots_expires_ms;
}

/* Refreshes h's cached head priority; clears ready if it has none. */
static int
host_head(struct queue *q, MDB_txn *txn, struct sched_host *h)
{
	uint64_t id;
	int rc;

	if (h->head_valid)
		return 0;
	rc = queue_peek(q, txn, h->key, &h->head_prio, &id);
	if (rc == MDB_NOTFOUND) {
		h->ready = false;
		return 0;
	}
	h->head_valid = rc == 0;
	return rc;
}

/*
 * Whether h goes before best: the higher priority of its best ready job,
 * and at equal priority the host that may start since the earlier time,
 * which has waited longest.  Without that tie-break, hosts took turns in
 * hash order: while the cleaning buffer was full each freed slot went to
 * the first due host in the table, and a few hosts at its end waited
 * seconds behind hosts starting again and again (500 hosts of 4 pages:
 * a tail of starts at 20-60 a second after the waves).
 */
static uint64_t
host_due(const struct sched_host *h)
{
	return h->next_start_ms > h->backoff_until_ms ? h->next_start_ms :
	    h->backoff_until_ms;
}

static bool
host_before(const struct sched_host *h, const struct sched_host *best)
{
	if (best == NULL || h->head_prio != best->head_prio)
		return best == NULL || h->head_prio > best->head_prio;
	return host_due(h) < host_due(best);
}

/* The startable host whose best ready job has the highest priority, and
 * among those the one that waited longest. */
static int
pick_host(struct sched *s, struct queue *q, MDB_txn *txn, uint64_t now,
    struct sched_calls *calls, struct sched_host **best)
{
	*best = NULL;
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		for (struct sched_host *h = s->buckets[i]; h; h = h->next) {
			int rc;

			if (!host_can_start(s, h, now))
				continue;
			if (sched_robots_needed(s, h, now)) {
				if (h->robots_state != SCHED_ROBOTS_FETCHING)
					calls->robots(h, calls->arg);
				if (calls->rc != 0)
					return calls->rc;
				if (sched_robots_needed(s, h, now))
					continue;
			}
			if ((rc = host_head(q, txn, h)) != 0)
				return rc;
			if (h->ready && host_before(h, *best))
				*best = h;
		}
	}
	return 0;
}

int
sched_plan(struct sched *s, struct queue *q, MDB_txn *txn, uint64_t now,
    uint32_t room, struct sched_calls *calls)
{
	while (room > 0 && s->inflight + s->planned < s->max_total) {
		struct sched_host *h;
		struct job j;
		int32_t prio;
		uint64_t id;
		int rc;

		if ((rc = pick_host(s, q, txn, now, calls, &h)) != 0)
			return rc;
		if (h == NULL)
			return 0;
		rc = queue_peek(q, txn, h->key, &prio, &id);
		if (rc == 0)
			rc = queue_lease(q, txn, id, now, &j);
		if (rc != 0)
			return rc;
		h->head_valid = false;
		if (calls->lease(h, &j, calls->arg)) {
			h->planned++;
			s->planned++;
			room--;
		}
		if (calls->rc != 0)
			return calls->rc;
	}
	return 0;
}

void
sched_commit(struct sched *s, uint64_t now)
{
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		for (struct sched_host *h = s->buckets[i]; h; h = h->next) {
			if (h->planned == 0)
				continue;
			h->inflight += h->planned;
			h->planned = 0;
			h->next_start_ms = now + (h->delay_ms > s->host_delay_ms ?
			    h->delay_ms : s->host_delay_ms);
		}
	}
	s->inflight += s->planned;
	s->planned = 0;
}

/*
 * Planning clears `ready` on a host it finds empty, which may be only
 * because this turn leased (or refused) its last jobs; the aborted
 * transaction puts them back, so every host may have ready jobs again.
 * The next plan's peek clears the flag where it is not so: one LMDB
 * lookup per host after an abort, which is rare (a full map).
 */
void
sched_abort(struct sched *s)
{
	for (uint32_t i = 0; i < s->nbuckets; i++)
		for (struct sched_host *h = s->buckets[i]; h; h = h->next) {
			h->planned = 0;
			h->head_valid = false;
			h->ready = true;
		}
	s->planned = 0;
}

void
sched_started(struct sched *s, uint64_t host, uint64_t now)
{
	struct sched_host *h = sched_find(s, host);
	uint64_t next;

	if (h == NULL)
		return;
	next = now + (h->delay_ms > s->host_delay_ms ? h->delay_ms :
	    s->host_delay_ms);
	if (next > h->next_start_ms)
		h->next_start_ms = next;
}

void
sched_finished(struct sched *s, uint64_t host)
{
	struct sched_host *h = sched_find(s, host);

	/* Every finish matches one committed lease: a slot never goes
	 * below zero (checked in debug builds, clamped otherwise). */
	assert(h != NULL && h->inflight > 0);
	assert(s->inflight > 0);
	if (h != NULL && h->inflight > 0)
		h->inflight--;
	if (s->inflight > 0)
		s->inflight--;
}

void
sched_backoff(struct sched *s, uint64_t host, int64_t retry_after_ms,
    uint64_t min_ms, uint64_t max_ms, uint64_t now)
{
	struct sched_host *h = sched_host(s, host);
	uint64_t d;

	if (h == NULL)
		return;
	h->backoff_ms = h->backoff_ms ? h->backoff_ms * 2 : min_ms;
	if (h->backoff_ms > max_ms)
		h->backoff_ms = max_ms;
	if (retry_after_ms >= 0) {
		/* The server's word, within [host_delay, max_ms]. */
		d = (uint64_t)retry_after_ms;
		if (d < s->host_delay_ms)
			d = s->host_delay_ms;
		if (d > max_ms)
			d = max_ms;
	} else
		d = jitter_ms(h->backoff_ms, 0.1);
	h->backoff_until_ms = now + d;
}

void
sched_host_ok(struct sched *s, uint64_t host)
{
	struct sched_host *h = sched_find(s, host);

	if (h != NULL)
		h->backoff_ms = 0;
}

int64_t
sched_next_wakeup(const struct sched *s, uint64_t now)
{
	int64_t best = -1;

	if (s->inflight >= s->max_total)
		return -1;
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		for (struct sched_host *h = s->buckets[i]; h; h = h->next) {
			uint64_t t = host_due(h);
			int64_t d;

			if (!h->ready || h->inflight >= s->max_per_host ||
			    h->robots_state == SCHED_ROBOTS_FETCHING ||
			    (s->allow != NULL && !s->allow(h->key,
			    s->allow_arg)))
				continue;
			d = t > now ? (int64_t)(t - now) : 0;
			if (best < 0 || d < best)
				best = d;
		}
	}
	return best;
}
