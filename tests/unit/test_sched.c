/*
 * test_sched.c - the scheduler (sched.c): per-host and total limits, the
 * delay between starts, priority order across hosts, backoff with and
 * without Retry-After, aborted and finished turns, and the robots.txt
 * states, planned over a real queue in a scratch LMDB environment with
 * stub sched_calls that record what they are asked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue.h"
#include "robots.h"
#include "sched.h"
#include "store.h"
#include "tstore.h"

#define MAX_LEASES	64

/* What the stub calls saw. */
struct seen {
	uint64_t	 job[MAX_LEASES];	/* leased job ids, in order */
	uint64_t	 host[MAX_LEASES];
	int		 nleases;
	uint64_t	 robots_host[MAX_LEASES];
	int		 nrobots;
	/* how robots() answers: */
	enum sched_robots robots_to;	/* FETCHING, or KNOWN (cache hit) */
	int		 robots_policy;
	int		 robots_rc;	/* an LMDB error to report */
	uint64_t	 robots_expires_ms;
};

struct fx {
	char		 dir[64];
	struct store	 store;
	struct queue	 q;
	struct sched	 s;
	MDB_txn		*txn;
	struct seen	 seen;
	struct sched_calls calls;
	uint64_t	 now;	/* for the lease stub's queue_fail */
};

static void
stub_robots(struct sched_host *h, void *arg)
{
	struct fx *f = arg;
	struct seen *sn = &f->seen;

	assert_true(sn->nrobots < MAX_LEASES);
	sn->robots_host[sn->nrobots++] = h->key;
	if (sn->robots_rc != 0) {
		f->calls.rc = sn->robots_rc;
		return;
	}
	if (sn->robots_to == SCHED_ROBOTS_KNOWN)
		sched_set_robots(h, sn->robots_policy, NULL,
		    sn->robots_expires_ms, 0);
	else
		h->robots_state = SCHED_ROBOTS_FETCHING;
}

/* As the daemon's plan_lease: an unreachable robots.txt (disallow-all)
 * fails the job as a retryable attempt and gives the slot back. */
static bool
stub_lease(struct sched_host *h, struct job *j, void *arg)
{
	struct fx *f = arg;
	struct seen *sn = &f->seen;

	assert_true(sn->nleases < MAX_LEASES);
	assert_int_equal(j->state, JOB_ACTIVE);
	assert_int_equal(j->host, h->key);
	sn->job[sn->nleases] = j->id;
	sn->host[sn->nleases++] = h->key;
	if (f->s.respect_robots && h->robots_policy == ROBOTS_DISALLOW_ALL) {
		struct job_failure fail = { "network", "robots.txt "
		    "unreachable", 0, true, -1 };
		bool requeued;

		f->calls.rc = queue_fail(&f->q, f->txn, j->id, &fail, f->now,
		    &requeued);
		assert_true(requeued);
		queue_job_free(j);
		return false;
	}
	queue_job_free(j);
	return true;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	tstore_mkdir(f->dir, sizeof(f->dir), "sched");
	assert_int_equal(store_open(&f->store, f->dir, 1 << 20, 1 << 30, err,
	    sizeof(err)), 0);
	assert_int_equal(queue_open(&f->q, &f->store), 0);
	queue_set_policy(&f->q, 5, 1000, 8000);
	assert_int_equal(sched_init(&f->s), 0);
	/* Submissions tell the scheduler, as in the daemon. */
	queue_set_notify(&f->q, sched_ready_cb, &f->s);
	f->calls.robots = stub_robots;
	f->calls.lease = stub_lease;
	f->calls.arg = f;
	f->seen.robots_to = SCHED_ROBOTS_FETCHING;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	if (f->txn != NULL)
		mdb_txn_abort(f->txn);
	sched_free(&f->s);
	queue_close(&f->q);
	store_close(&f->store);
	tstore_rmdir(f->dir);
	free(f);
	return 0;
}

static void
begin(struct fx *f)
{
	tstore_begin(&f->q, &f->store, &f->txn);
}

static void
commit(struct fx *f)
{
	tstore_commit(&f->q, &f->txn);
}

/* Aborts the turn the way the daemon does: LMDB, queue mirror, sched. */
static void
abort_turn(struct fx *f)
{
	mdb_txn_abort(f->txn);
	f->txn = NULL;
	queue_turn_abort(&f->q);
	sched_abort(&f->s);
}

static uint64_t
submit(struct fx *f, uint64_t host, int k, int32_t prio)
{
	struct submit_result r;
	char url[64];

	snprintf(url, sizeof(url), "http://h%llu.example/%d",
	    (unsigned long long)host, k);
	assert_int_equal(queue_submit(&f->q, f->txn, url, host,
	    "http://h.example:80", prio, 0, false, 1000, &r), 0);
	assert_int_equal(r.status, SUBMIT_QUEUED);
	return r.id;
}

/* Plans at now with room; returns how many leases the stub kept. */
static uint32_t
plan(struct fx *f, uint64_t now, uint32_t room)
{
	uint32_t before = f->s.planned;

	f->now = now;
	f->calls.rc = 0;
	assert_int_equal(sched_plan(&f->s, &f->q, f->txn, now, room,
	    &f->calls), 0);
	return f->s.planned - before;
}

static uint32_t
planned_for(struct fx *f, uint64_t host)
{
	struct sched_host *h = sched_find_host(&f->s, host);

	assert_non_null(h);
	return h->planned;
}

static uint32_t
inflight_of(struct fx *f, uint64_t host)
{
	struct sched_host *h = sched_find_host(&f->s, host);

	assert_non_null(h);
	return h->inflight;
}

/* --- limits ------------------------------------------------------------ */

static void
test_max_total_and_max_per_host(void **state)
{
	struct fx *f = *state;

	sched_configure(&f->s, 3, 2, 0);
	begin(f);
	for (uint64_t h = 1; h <= 3; h++)
		for (int k = 0; k < 4; k++)
			submit(f, h, k, 0);
	/* fetch.max_total: 3 of 12, no host over 2. */
	assert_int_equal(plan(f, 1000, 100), 3);
	assert_int_equal(f->s.planned, 3);
	for (uint64_t h = 1; h <= 3; h++)
		assert_true(planned_for(f, h) <= 2);
	sched_commit(&f->s, 1000);
	assert_int_equal(f->s.inflight, 3);
	assert_int_equal(f->s.planned, 0);
	/* Full: nothing more, and no wakeup is worth having. */
	assert_int_equal(plan(f, 1000, 100), 0);
	assert_int_equal(sched_next_wakeup(&f->s, 1000), -1);
	/* More room: fetch.max_per_host caps each host at 2, so 6 in all. */
	sched_configure(&f->s, 100, 2, 0);
	assert_int_equal(plan(f, 1000, 100), 3);
	sched_commit(&f->s, 1000);
	assert_int_equal(f->s.inflight, 6);
	for (uint64_t h = 1; h <= 3; h++)
		assert_int_equal(inflight_of(f, h), 2);
	assert_int_equal(plan(f, 1000, 100), 0);
	assert_int_equal(f->seen.nleases, 6);
	commit(f);
}

static void
test_room_limits_one_plan(void **state)
{
	struct fx *f = *state;

	sched_configure(&f->s, 100, 10, 0);
	begin(f);
	for (int k = 0; k < 5; k++)
		submit(f, 1, k, 0);
	assert_int_equal(plan(f, 1000, 2), 2);
	assert_int_equal(plan(f, 1000, 0), 0);
	assert_int_equal(plan(f, 1000, 10), 3);
	assert_int_equal(plan(f, 1000, 10), 0);	/* the host ran dry */
	assert_int_equal(planned_for(f, 1), 5);
	assert_false(sched_find_host(&f->s, 1)->ready);
	commit(f);
}

/* --- politeness -------------------------------------------------------- */

static void
test_host_delay_between_starts(void **state)
{
	struct fx *f = *state;
	struct sched_host *h;

	sched_configure(&f->s, 10, 2, 500);
	begin(f);
	for (int k = 0; k < 4; k++)
		submit(f, 7, k, 0);
	/* One start per delay window, although max_per_host is 2. */
	assert_int_equal(plan(f, 1000, 10), 1);
	assert_int_equal(plan(f, 1000, 10), 0);
	sched_commit(&f->s, 1000);
	h = sched_find_host(&f->s, 7);
	assert_int_equal(h->next_start_ms, 1500);
	assert_int_equal(sched_next_wakeup(&f->s, 1000), 500);
	assert_int_equal(sched_next_wakeup(&f->s, 1200), 300);
	assert_int_equal(plan(f, 1499, 10), 0);
	assert_int_equal(plan(f, 1500, 10), 1);
	sched_commit(&f->s, 1500);
	assert_int_equal(h->next_start_ms, 2000);
	/* Two in flight = max_per_host: the delay is over, the slots not. */
	assert_int_equal(plan(f, 2000, 10), 0);
	assert_int_equal(sched_next_wakeup(&f->s, 2000), -1);
	sched_finished(&f->s, 7);
	assert_int_equal(sched_next_wakeup(&f->s, 2000), 0);
	assert_int_equal(plan(f, 2000, 10), 1);
	sched_commit(&f->s, 2000);
	/* A longer Crawl-delay of the host wins over fetch.host_delay. */
	sched_set_robots(h, ROBOTS_ALLOW_ALL, NULL, UINT64_MAX, 3000);
	sched_finished(&f->s, 7);
	assert_int_equal(plan(f, 2500, 10), 1);
	sched_commit(&f->s, 2500);
	assert_int_equal(h->next_start_ms, 5500);
	commit(f);
}

/* At equal priority the host that has waited longest goes first, whatever
 * its place in the table: with room for one start at a time (the
 * cleaning buffer full), no host is left behind hosts starting again. */
#define NHOSTS	(MAX_LEASES / 2)

static void
test_longest_waiting_host_first(void **state)
{
	struct fx *f = *state;

	sched_configure(&f->s, 10, 1, 1000);
	begin(f);
	/* Hosts come one by one, in an order of their own, and each starts
	 * as it comes. */
	for (int i = 0; i < NHOSTS; i++) {
		uint64_t h = (uint64_t)(7919 * (i + 1)) % 1009;

		for (int k = 0; k < 3; k++)
			submit(f, h, k, 0);
		assert_int_equal(plan(f, 10000 + (uint64_t)i, 1), 1);
		assert_int_equal(f->seen.host[i], h);
		sched_commit(&f->s, 10000 + (uint64_t)i);
		sched_finished(&f->s, h);
	}
	/* All due again, one start a turn (the cleaning buffer full): they
	 * start again in the order they became due, not the table's. */
	for (int i = 0; i < NHOSTS; i++) {
		assert_int_equal(plan(f, 20000 + (uint64_t)i, 1), 1);
		sched_commit(&f->s, 20000 + (uint64_t)i);
		assert_int_equal(f->seen.host[NHOSTS + i], f->seen.host[i]);
		sched_finished(&f->s, f->seen.host[NHOSTS + i]);
	}
	commit(f);
}

static void
test_priority_order_across_and_within_hosts(void **state)
{
	struct fx *f = *state;
	uint64_t a0, a900, b50, c_10;

	sched_configure(&f->s, 10, 1, 0);
	begin(f);
	a0 = submit(f, 1, 0, 0);
	a900 = submit(f, 1, 1, 900);
	b50 = submit(f, 2, 0, 50);
	c_10 = submit(f, 3, 0, -10);
	/* One per host: each host's best job, best host first. */
	assert_int_equal(plan(f, 1000, 10), 3);
	assert_int_equal(f->seen.nleases, 3);
	assert_int_equal(f->seen.job[0], a900);
	assert_int_equal(f->seen.job[1], b50);
	assert_int_equal(f->seen.job[2], c_10);
	sched_commit(&f->s, 1000);
	sched_finished(&f->s, 1);
	assert_int_equal(plan(f, 1000, 10), 1);
	assert_int_equal(f->seen.job[3], a0);
	sched_commit(&f->s, 1000);
	/* A submission of higher priority moves its host to the front. */
	for (uint64_t h = 1; h <= 3; h++) {
		sched_finished(&f->s, h);
		submit(f, h, 10, (int32_t)(h * 10));
	}
	submit(f, 1, 11, 500);
	assert_int_equal(plan(f, 1000, 1), 1);
	assert_int_equal(f->seen.host[4], 1);
	/* That plan cached the heads of hosts 2 (20) and 3 (30); a better
	 * job of host 2 must still put it ahead of host 3. */
	assert_int_equal(sched_find_host(&f->s, 3)->head_prio, 30);
	submit(f, 2, 11, 40);
	assert_int_equal(sched_find_host(&f->s, 2)->head_prio, 40);
	assert_int_equal(plan(f, 1000, 10), 2);
	assert_int_equal(f->seen.host[5], 2);
	assert_int_equal(f->seen.host[6], 3);
	commit(f);
}

/* --- backoff ----------------------------------------------------------- */

static void
test_backoff_without_retry_after_doubles(void **state)
{
	struct fx *f = *state;
	uint64_t want[] = { 1000, 2000, 4000, 8000, 8000 }, now = 10000;
	struct sched_host *h;

	sched_configure(&f->s, 10, 1, 100);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		sched_backoff(&f->s, 4, -1, 1000, 8000, now);
		h = sched_find_host(&f->s, 4);
		assert_non_null(h);
		assert_int_equal(h->backoff_ms, want[i]);
		/* +-10% jitter */
		assert_in_range(h->backoff_until_ms, now + want[i] * 9 / 10,
		    now + want[i] * 11 / 10);
		now += 100000;
	}
	/* A success resets the step. */
	sched_host_ok(&f->s, 4);
	assert_int_equal(h->backoff_ms, 0);
	sched_backoff(&f->s, 4, -1, 1000, 8000, now);
	assert_int_equal(h->backoff_ms, 1000);
	assert_in_range(h->backoff_until_ms, now + 900, now + 1100);
}

static void
test_backoff_follows_retry_after(void **state)
{
	struct fx *f = *state;
	struct sched_host *h;

	sched_configure(&f->s, 10, 1, 100);
	/* Shorter than host_backoff_min: the server's word, exactly. */
	sched_backoff(&f->s, 5, 2000, 60000, 3600000, 10000);
	h = sched_find_host(&f->s, 5);
	assert_non_null(h);
	assert_int_equal(h->backoff_until_ms, 12000);
	/* Longer than the current step: exactly too. */
	sched_backoff(&f->s, 5, 250000, 60000, 3600000, 10000);
	assert_int_equal(h->backoff_until_ms, 260000);
	/* The step advanced meanwhile, for failures without Retry-After. */
	assert_int_equal(h->backoff_ms, 120000);
	sched_backoff(&f->s, 5, -1, 60000, 3600000, 10000);
	assert_in_range(h->backoff_until_ms, 10000 + 216000, 10000 + 264000);
}

static void
test_backoff_retry_after_is_clamped(void **state)
{
	struct fx *f = *state;
	struct sched_host *h;

	sched_configure(&f->s, 10, 1, 300);
	/* Below fetch.host_delay: raised to it. */
	sched_backoff(&f->s, 6, 0, 60000, 3600000, 10000);
	h = sched_find_host(&f->s, 6);
	assert_int_equal(h->backoff_until_ms, 10300);
	sched_backoff(&f->s, 6, 299, 60000, 3600000, 10000);
	assert_int_equal(h->backoff_until_ms, 10300);
	sched_backoff(&f->s, 6, 301, 60000, 3600000, 10000);
	assert_int_equal(h->backoff_until_ms, 10301);
	/* Above fetch.host_backoff_max: lowered to it. */
	sched_backoff(&f->s, 6, 3600000, 60000, 3600000, 10000);
	assert_int_equal(h->backoff_until_ms, 3610000);
	sched_backoff(&f->s, 6, 3600001, 60000, 3600000, 10000);
	assert_int_equal(h->backoff_until_ms, 3610000);
	sched_backoff(&f->s, 6, 7LL * 24 * 3600 * 1000, 60000, 3600000, 10000);
	assert_int_equal(h->backoff_until_ms, 3610000);
	/* host_delay above host_backoff_max: the maximum wins. */
	sched_configure(&f->s, 10, 1, 5000);
	sched_backoff(&f->s, 6, 0, 60000, 2000, 10000);
	assert_int_equal(h->backoff_until_ms, 12000);
}

static void
test_backed_off_host_waits_others_go(void **state)
{
	struct fx *f = *state;
	uint64_t low, high;

	sched_configure(&f->s, 10, 1, 0);
	begin(f);
	low = submit(f, 11, 0, 0);
	high = submit(f, 12, 0, 50);
	sched_backoff(&f->s, 12, 2000, 60000, 3600000, 1000);
	assert_int_equal(plan(f, 1000, 10), 1);
	assert_int_equal(f->seen.job[0], low);
	sched_commit(&f->s, 1000);
	/* The backed-off host is the next wakeup, to the millisecond. */
	assert_int_equal(sched_next_wakeup(&f->s, 1000), 2000);
	assert_int_equal(sched_next_wakeup(&f->s, 2500), 500);
	assert_int_equal(plan(f, 2999, 10), 0);
	assert_int_equal(plan(f, 3000, 10), 1);
	assert_int_equal(f->seen.job[1], high);
	sched_commit(&f->s, 3000);
	commit(f);
}

/* --- turns ------------------------------------------------------------- */

static void
test_abort_rolls_back_a_planned_turn(void **state)
{
	struct fx *f = *state;
	uint64_t first[2];

	sched_configure(&f->s, 10, 2, 0);
	begin(f);
	submit(f, 1, 0, 0);
	submit(f, 1, 1, 0);
	submit(f, 2, 0, 0);
	commit(f);

	sched_configure(&f->s, 2, 2, 500);
	begin(f);
	assert_int_equal(plan(f, 1000, 10), 2);
	first[0] = f->seen.job[0];
	first[1] = f->seen.job[1];
	abort_turn(f);
	assert_int_equal(f->s.planned, 0);
	assert_int_equal(f->s.inflight, 0);
	assert_int_equal(planned_for(f, 1), 0);
	assert_int_equal(planned_for(f, 2), 0);
	/* No host_delay window was opened. */
	assert_int_equal(sched_find_host(&f->s, 1)->next_start_ms, 0);
	assert_int_equal(sched_find_host(&f->s, 2)->next_start_ms, 0);
	/* The replayed turn leases the same jobs again. */
	begin(f);
	assert_int_equal(plan(f, 1000, 10), 2);
	assert_int_equal(f->seen.job[2], first[0]);
	assert_int_equal(f->seen.job[3], first[1]);
	sched_commit(&f->s, 1000);
	commit(f);
	assert_int_equal(f->s.inflight, 2);
	assert_int_equal(f->q.counts.state[JOB_ACTIVE], 2);
	assert_int_equal(f->q.counts.state[JOB_QUEUED], 1);
}

/*
 * A plan that leases a host's last ready job finds the host empty and
 * marks it so.  When the turn aborts, the job is ready again in LMDB: the
 * replayed turn must still find it.
 */
static void
test_abort_keeps_emptied_hosts_ready(void **state)
{
	struct fx *f = *state;
	uint64_t id;

	sched_configure(&f->s, 10, 2, 0);
	begin(f);
	id = submit(f, 4, 0, 0);
	commit(f);
	begin(f);
	assert_int_equal(plan(f, 1000, 10), 1);
	assert_false(sched_find_host(&f->s, 4)->ready);
	abort_turn(f);
	assert_int_equal(f->q.counts.state[JOB_QUEUED], 1);
	begin(f);
	assert_int_equal(plan(f, 1000, 10), 1);
	assert_int_equal(f->seen.nleases, 2);
	assert_int_equal(f->seen.job[1], id);
	sched_commit(&f->s, 1000);
	commit(f);
	assert_int_equal(f->q.counts.state[JOB_ACTIVE], 1);
}

/* The same for jobs that the lease call refused (robots.txt unreachable):
 * their failure is rolled back with the turn. */
static void
test_abort_keeps_refused_hosts_ready(void **state)
{
	struct fx *f = *state;
	struct sched_host *h;

	sched_configure(&f->s, 10, 1, 0);
	f->s.respect_robots = true;
	begin(f);
	submit(f, 5, 0, 0);
	commit(f);
	h = sched_find_host(&f->s, 5);
	sched_set_robots(h, ROBOTS_DISALLOW_ALL, NULL, 60000, 0);
	begin(f);
	assert_int_equal(plan(f, 1000, 10), 0);
	assert_int_equal(f->seen.nleases, 1);
	abort_turn(f);
	begin(f);
	assert_int_equal(plan(f, 1000, 10), 0);
	assert_int_equal(f->seen.nleases, 2);	/* offered again */
	commit(f);
}

static void
test_finished_frees_slots(void **state)
{
	struct fx *f = *state;

	sched_configure(&f->s, 2, 1, 0);
	begin(f);
	for (int k = 0; k < 3; k++) {
		submit(f, 1, k, 0);
		submit(f, 2, k, 0);
		submit(f, 3, k, 0);
	}
	assert_int_equal(plan(f, 1000, 10), 2);
	sched_commit(&f->s, 1000);
	assert_int_equal(plan(f, 1000, 10), 0);
	/* A per-host slot: only that host, and the total, get one back. */
	uint64_t h = f->seen.host[0];
	sched_finished(&f->s, h);
	assert_int_equal(f->s.inflight, 1);
	assert_int_equal(inflight_of(f, h), 0);
	assert_int_equal(plan(f, 1000, 10), 1);
	sched_commit(&f->s, 1000);
	assert_int_equal(f->s.inflight, 2);
#ifdef NDEBUG
	/* Unknown hosts and extra calls never wrap the counts (a debug build
	 * asserts instead: each finish matches one committed lease). */
	sched_finished(&f->s, 99);
	assert_int_equal(f->s.inflight, 1);
	sched_finished(&f->s, 99);
	sched_finished(&f->s, 99);
	assert_int_equal(f->s.inflight, 0);
	for (uint64_t k = 1; k <= 3; k++) {
		sched_finished(&f->s, k);
		sched_finished(&f->s, k);
		assert_int_equal(inflight_of(f, k), 0);
	}
#endif
	commit(f);
}

/* --- robots.txt -------------------------------------------------------- */

static void
test_robots_unknown_then_fetching_then_known(void **state)
{
	struct fx *f = *state;
	struct sched_host *h;
	uint64_t id;

	sched_configure(&f->s, 10, 1, 0);
	f->s.respect_robots = true;
	begin(f);
	id = submit(f, 8, 0, 0);
	h = sched_find_host(&f->s, 8);
	assert_int_equal(h->robots_state, SCHED_ROBOTS_UNKNOWN);
	/* Unknown: the robots call starts a fetch; nothing is leased. */
	assert_int_equal(plan(f, 1000, 10), 0);
	assert_int_equal(f->seen.nrobots, 1);
	assert_int_equal(f->seen.robots_host[0], 8);
	assert_int_equal(h->robots_state, SCHED_ROBOTS_FETCHING);
	assert_int_equal(f->seen.nleases, 0);
	/* Fetching: not asked again, and no wakeup for this host. */
	assert_int_equal(plan(f, 1000, 10), 0);
	assert_int_equal(f->seen.nrobots, 1);
	assert_int_equal(sched_next_wakeup(&f->s, 1000), -1);
	/* Known: the job goes. */
	sched_set_robots(h, ROBOTS_ALLOW_ALL, NULL, 60000, 0);
	assert_int_equal(h->robots_state, SCHED_ROBOTS_KNOWN);
	assert_int_equal(plan(f, 1000, 10), 1);
	assert_int_equal(f->seen.job[0], id);
	sched_commit(&f->s, 1000);
	sched_finished(&f->s, 8);
	/* Expired: asked again before the next lease. */
	submit(f, 8, 1, 0);
	assert_int_equal(plan(f, 59999, 10), 1);
	assert_int_equal(f->seen.nrobots, 1);
	sched_commit(&f->s, 59999);
	sched_finished(&f->s, 8);
	submit(f, 8, 2, 0);
	assert_int_equal(plan(f, 60000, 10), 0);
	assert_int_equal(f->seen.nrobots, 2);
	assert_int_equal(h->robots_state, SCHED_ROBOTS_FETCHING);
	commit(f);
}

static void
test_robots_from_cache_leases_at_once(void **state)
{
	struct fx *f = *state;

	sched_configure(&f->s, 10, 1, 0);
	f->s.respect_robots = true;
	f->seen.robots_to = SCHED_ROBOTS_KNOWN;
	f->seen.robots_policy = ROBOTS_ALLOW_ALL;
	f->seen.robots_expires_ms = 100000;
	begin(f);
	submit(f, 9, 0, 0);
	assert_int_equal(plan(f, 1000, 10), 1);
	assert_int_equal(f->seen.nrobots, 1);
	assert_int_equal(f->seen.nleases, 1);
	commit(f);
}

static void
test_robots_call_error_stops_the_plan(void **state)
{
	struct fx *f = *state;

	sched_configure(&f->s, 10, 1, 0);
	f->s.respect_robots = true;
	f->seen.robots_rc = MDB_MAP_FULL;
	begin(f);
	submit(f, 9, 0, 0);
	f->calls.rc = 0;
	assert_int_equal(sched_plan(&f->s, &f->q, f->txn, 1000, 10,
	    &f->calls), MDB_MAP_FULL);
	assert_int_equal(f->seen.nleases, 0);
	abort_turn(f);
}

static void
test_robots_disallow_all_gives_slots_back(void **state)
{
	struct fx *f = *state;
	struct sched_host *h;
	struct job j;
	uint64_t ids[3];

	sched_configure(&f->s, 10, 1, 0);
	f->s.respect_robots = true;
	begin(f);
	for (int k = 0; k < 3; k++)
		ids[k] = submit(f, 10, k, 0);
	h = sched_find_host(&f->s, 10);
	snprintf(h->robots_error, sizeof(h->robots_error), "http_status");
	snprintf(h->robots_why, sizeof(h->robots_why), "robots.txt "
	    "unreachable: HTTP 503");
	sched_set_robots(h, ROBOTS_DISALLOW_ALL, NULL, 60000, 0);
	/* The reason stays for the jobs to report. */
	assert_string_equal(h->robots_error, "http_status");
	/* Every job is offered and refused; no slot stays taken. */
	assert_int_equal(plan(f, 1000, 10), 0);
	assert_int_equal(f->seen.nleases, 3);
	assert_int_equal(f->seen.nrobots, 0);
	assert_int_equal(h->planned, 0);
	assert_int_equal(f->s.planned, 0);
	assert_false(h->ready);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(f->seen.job[k], ids[k]);
		assert_int_equal(queue_get(&f->q, f->txn, ids[k], &j), 0);
		assert_int_equal(j.state, JOB_QUEUED);
		assert_int_equal(j.attempts, 1);
		assert_true(j.not_before_ms > 1000);
		queue_job_free(&j);
	}
	sched_commit(&f->s, 1000);
	assert_int_equal(f->s.inflight, 0);
	/* Rules that allow clear the reason. */
	sched_set_robots(h, ROBOTS_ALLOW_ALL, NULL, 60000, 0);
	assert_string_equal(h->robots_error, "");
	assert_string_equal(h->robots_why, "");
	commit(f);
}

static void
test_robots_not_asked_when_off(void **state)
{
	struct fx *f = *state;

	sched_configure(&f->s, 10, 1, 0);
	f->s.respect_robots = false;
	begin(f);
	submit(f, 3, 0, 0);
	assert_int_equal(plan(f, 1000, 10), 1);
	assert_int_equal(f->seen.nrobots, 0);
	commit(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_max_total_and_max_per_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_room_limits_one_plan,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_host_delay_between_starts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longest_waiting_host_first,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_priority_order_across_and_within_hosts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_backoff_without_retry_after_doubles, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_backoff_follows_retry_after, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_backoff_retry_after_is_clamped, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_backed_off_host_waits_others_go, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_abort_rolls_back_a_planned_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_abort_keeps_emptied_hosts_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_abort_keeps_refused_hosts_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finished_frees_slots,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_robots_unknown_then_fetching_then_known, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_robots_from_cache_leases_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_robots_call_error_stops_the_plan, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_robots_disallow_all_gives_slots_back, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_robots_not_asked_when_off, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
