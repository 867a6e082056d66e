/*
 * test_queue.c - the durable queue: ordering, leases, retries and backoff,
 * crash recovery, state counts and map growth, on a real LMDB environment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <xxhash.h>

#include "queue.h"
#include "sched.h"
#include "store.h"
#include "tstore.h"
#include "util.h"

struct fx {
	char		 dir[64];
	struct store	 store;
	struct queue	 q;
	MDB_txn		*txn;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	tstore_mkdir(f->dir, sizeof(f->dir), "queue");
	assert_int_equal(store_open(&f->store, f->dir, 1 << 20, 1 << 30, err,
	    sizeof(err)), 0);
	assert_int_equal(queue_open(&f->q, &f->store), 0);
	queue_set_policy(&f->q, 3, 1000, 8000);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	if (f->txn != NULL)
		mdb_txn_abort(f->txn);
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

static uint64_t
submit(struct fx *f, const char *url, uint64_t host, int32_t prio,
    enum submit_status want)
{
	struct submit_result r;

	assert_int_equal(queue_submit(&f->q, f->txn, url, host, "http://h:80", prio, 0, false,
	    1000, &r), 0);
	assert_int_equal(r.status, want);
	return r.id;
}

static uint64_t
lease_next(struct fx *f, uint64_t host, uint64_t now)
{
	struct job j;
	int32_t prio;
	uint64_t id;

	if (queue_peek(&f->q, f->txn, host, &prio, &id) == MDB_NOTFOUND)
		return 0;
	assert_int_equal(queue_lease(&f->q, f->txn, id, now, &j), 0);
	assert_int_equal(j.state, JOB_ACTIVE);
	queue_job_free(&j);
	return id;
}

static void
test_submit_and_duplicates(void **state)
{
	struct fx *f = *state;
	struct submit_result r;
	uint64_t a, b;

	begin(f);
	a = submit(f, "http://a.example/1", 1, 0, SUBMIT_QUEUED);
	b = submit(f, "http://a.example/2", 1, 0, SUBMIT_QUEUED);
	assert_int_not_equal(a, b);
	assert_int_equal(submit(f, "http://a.example/1", 1, 0,
	    SUBMIT_DUPLICATE), a);
	commit(f);
	assert_int_equal(f->q.counts.state[JOB_QUEUED], 2);
	assert_int_equal(f->q.counts.submitted, 2);
	/* --force on a queued job changes nothing. */
	begin(f);
	assert_int_equal(queue_submit(&f->q, f->txn, "http://a.example/1", 1, "http://h:80", 0,
	    0, true, 2000, &r), 0);
	assert_int_equal(r.status, SUBMIT_DUPLICATE);
	assert_int_equal(r.state, JOB_QUEUED);
	commit(f);
}

static void
test_priority_then_fifo(void **state)
{
	struct fx *f = *state;
	uint64_t low, mid1, mid2, high;

	begin(f);
	low = submit(f, "http://h/low", 7, -5, SUBMIT_QUEUED);
	mid1 = submit(f, "http://h/mid1", 7, 0, SUBMIT_QUEUED);
	high = submit(f, "http://h/high", 7, 900, SUBMIT_QUEUED);
	mid2 = submit(f, "http://h/mid2", 7, 0, SUBMIT_QUEUED);
	assert_int_equal(lease_next(f, 7, 1000), high);
	assert_int_equal(lease_next(f, 7, 1000), mid1);
	assert_int_equal(lease_next(f, 7, 1000), mid2);
	assert_int_equal(lease_next(f, 7, 1000), low);
	assert_int_equal(lease_next(f, 7, 1000), 0);
	commit(f);
	assert_int_equal(f->q.counts.state[JOB_ACTIVE], 4);
	assert_int_equal(f->q.counts.state[JOB_QUEUED], 0);
}

static void
test_hosts_are_separate(void **state)
{
	struct fx *f = *state;
	uint64_t a, b;

	begin(f);
	a = submit(f, "http://one/x", 1, 0, SUBMIT_QUEUED);
	b = submit(f, "http://two/x", 2, 0, SUBMIT_QUEUED);
	assert_int_equal(lease_next(f, 2, 1000), b);
	assert_int_equal(lease_next(f, 2, 1000), 0);
	assert_int_equal(lease_next(f, 1, 1000), a);
	commit(f);
}

static void
test_not_before_delays(void **state)
{
	struct fx *f = *state;
	struct submit_result r;
	uint64_t next = 0;

	begin(f);
	assert_int_equal(queue_submit(&f->q, f->txn, "http://h/later", 3, "http://h:80", 0,
	    5000, false, 1000, &r), 0);
	assert_int_equal(lease_next(f, 3, 1000), 0);
	assert_int_equal(queue_promote(&f->q, f->txn, 4999, NULL, NULL, &next),
	    0);
	assert_int_equal(next, 5000);
	assert_int_equal(lease_next(f, 3, 4999), 0);
	assert_int_equal(queue_promote(&f->q, f->txn, 5000, NULL, NULL, &next),
	    0);
	assert_int_equal(next, 0);
	assert_int_equal(lease_next(f, 3, 5000), r.id);
	commit(f);
}

static void
test_retry_backoff_then_fail(void **state)
{
	struct fx *f = *state;
	struct job_failure fail = { "http_status", "HTTP 503", 503, true, -1 };
	uint64_t id, now = 10000, next, prev_delay = 0;
	bool requeued;
	struct job j;

	begin(f);
	id = submit(f, "http://h/flaky", 4, 0, SUBMIT_QUEUED);
	for (int attempt = 1; attempt <= 3; attempt++) {
		assert_int_equal(lease_next(f, 4, now), id);
		assert_int_equal(queue_fail(&f->q, f->txn, id, &fail, now,
		    &requeued), 0);
		assert_int_equal(queue_get(&f->q, f->txn, id, &j), 0);
		assert_int_equal(j.attempts, attempt);
		assert_string_equal(j.error_code, "http_status");
		if (attempt < 3) {
			/* base 1000 ms doubled per attempt, +-20% */
			uint64_t delay = j.not_before_ms - now;
			uint64_t want = 1000ULL << (attempt - 1);
			assert_true(requeued);
			assert_int_equal(j.state, JOB_QUEUED);
			assert_in_range(delay, want * 8 / 10, want * 12 / 10);
			assert_true(delay > prev_delay);
			prev_delay = delay;
			assert_int_equal(lease_next(f, 4, now), 0);
			now = j.not_before_ms;
			assert_int_equal(queue_promote(&f->q, f->txn, now, NULL,
			    NULL, &next), 0);
		} else {
			assert_false(requeued);
			assert_int_equal(j.state, JOB_FAILED);
		}
		queue_job_free(&j);
	}
	commit(f);
	assert_int_equal(f->q.counts.state[JOB_FAILED], 1);
	assert_int_equal(f->q.counts.failed, 1);
}

/* Submits url under host, leases it, fails it once with status and
 * Retry-After ra at now; returns the delay before its next attempt. */
static uint64_t
retry_in(struct fx *f, const char *url, uint64_t host, uint32_t status,
    int64_t ra, uint64_t now)
{
	struct job_failure fail = { "http_status", "HTTP", status, true, ra };
	bool requeued;
	uint64_t id;
	struct job j;

	id = submit(f, url, host, 0, SUBMIT_QUEUED);
	assert_int_equal(lease_next(f, host, now), id);
	assert_int_equal(queue_fail(&f->q, f->txn, id, &fail, now, &requeued),
	    0);
	assert_true(requeued);
	assert_int_equal(queue_get(&f->q, f->txn, id, &j), 0);
	assert_int_equal(j.state, JOB_QUEUED);
	assert_true(j.not_before_ms >= now);
	now = j.not_before_ms - now;
	queue_job_free(&j);
	return now;
}

/* A 429 or 503 with Retry-After: exactly the server's delay, no jitter,
 * although it is far below queue.retry_base (1000 ms here). */
static void
test_retry_after_is_the_retry_delay(void **state)
{
	struct fx *f = *state;

	queue_set_retry_after_bounds(&f->q, 100, 60000);
	begin(f);
	assert_int_equal(retry_in(f, "http://h/a", 5, 503, 300, 1000), 300);
	assert_int_equal(retry_in(f, "http://h/b", 5, 429, 2000, 1000), 2000);
	assert_int_equal(retry_in(f, "http://h/c", 5, 503, 100, 7000), 100);
	/* Longer than queue.retry_max (8 s): still the server's word. */
	assert_int_equal(retry_in(f, "http://h/d", 5, 429, 45000, 1000),
	    45000);
	commit(f);
}

/* The Retry-After delay is clamped to [host_delay, host_backoff_max]. */
static void
test_retry_after_is_clamped(void **state)
{
	struct fx *f = *state;

	/* Before any bounds are set: the config defaults, 1 s and 24 h. */
	begin(f);
	assert_int_equal(retry_in(f, "http://h/d0", 6, 503, 0, 1000), 1000);
	assert_int_equal(retry_in(f, "http://h/d1", 6, 429,
	    30LL * 24 * 3600 * 1000, 1000), 24ULL * 3600 * 1000);
	commit(f);

	queue_set_retry_after_bounds(&f->q, 250, 60000);
	begin(f);
	assert_int_equal(retry_in(f, "http://h/lo0", 6, 503, 0, 1000), 250);
	assert_int_equal(retry_in(f, "http://h/lo1", 6, 429, 249, 1000), 250);
	assert_int_equal(retry_in(f, "http://h/lo2", 6, 429, 251, 1000), 251);
	assert_int_equal(retry_in(f, "http://h/hi0", 6, 503, 60000, 1000),
	    60000);
	assert_int_equal(retry_in(f, "http://h/hi1", 6, 503, 60001, 1000),
	    60000);
	assert_int_equal(retry_in(f, "http://h/hi2", 6, 429,
	    7LL * 24 * 3600 * 1000, 1000), 60000);
	commit(f);

	/* host_delay above host_backoff_max: the maximum wins. */
	queue_set_retry_after_bounds(&f->q, 5000, 2000);
	begin(f);
	assert_int_equal(retry_in(f, "http://h/x0", 6, 503, 0, 1000), 2000);
	assert_int_equal(retry_in(f, "http://h/x1", 6, 503, 9000, 1000), 2000);
	commit(f);
}

/* Without Retry-After, or with one on another status, the exponential
 * backoff applies (base 1000 ms +-20% at the first attempt); a longer
 * Retry-After on another status still wins. */
static void
test_retry_without_retry_after_is_exponential(void **state)
{
	struct fx *f = *state;

	queue_set_retry_after_bounds(&f->q, 100, 60000);
	begin(f);
	assert_in_range(retry_in(f, "http://h/n0", 7, 503, -1, 1000), 800,
	    1200);
	assert_in_range(retry_in(f, "http://h/n1", 7, 429, -1, 1000), 800,
	    1200);
	assert_in_range(retry_in(f, "http://h/n2", 7, 0, -1, 1000), 800, 1200);
	assert_in_range(retry_in(f, "http://h/o0", 7, 500, 300, 1000), 800,
	    1200);
	assert_int_equal(retry_in(f, "http://h/o1", 7, 502, 120000, 1000),
	    120000);
	commit(f);
}

static void
test_not_retryable_fails_at_once(void **state)
{
	struct fx *f = *state;
	struct job_failure fail = { "http_status", "HTTP 404", 404, false, -1 };
	bool requeued;
	uint64_t id;

	begin(f);
	id = submit(f, "http://h/404", 5, 0, SUBMIT_QUEUED);
	assert_int_equal(lease_next(f, 5, 1000), id);
	assert_int_equal(queue_fail(&f->q, f->txn, id, &fail, 1000, &requeued),
	    0);
	assert_false(requeued);
	commit(f);
	assert_int_equal(f->q.counts.state[JOB_FAILED], 1);
}

static void
test_done_cancel_retry_force(void **state)
{
	struct fx *f = *state;
	struct submit_result r;
	uint64_t a, b, n;
	struct job j;

	begin(f);
	a = submit(f, "http://h/a", 6, 0, SUBMIT_QUEUED);
	b = submit(f, "http://h/b", 6, 0, SUBMIT_QUEUED);
	assert_int_equal(lease_next(f, 6, 1000), a);
	assert_int_equal(queue_done(&f->q, f->txn, a, a, 200, 1001), 0);
	/* A result for a job that is no longer active is refused. */
	assert_int_equal(queue_done(&f->q, f->txn, a, a, 200, 1001),
	    MDB_KEYEXIST);
	assert_int_equal(queue_cancel(&f->q, f->txn, b, 1002), 0);
	assert_int_equal(queue_cancel(&f->q, f->txn, a, 1002), MDB_KEYEXIST);
	assert_int_equal(lease_next(f, 6, 1003), 0);
	assert_int_equal(queue_retry(&f->q, f->txn, b, 1004), 0);
	assert_int_equal(queue_retry(&f->q, f->txn, a, 1004), MDB_KEYEXIST);
	assert_int_equal(lease_next(f, 6, 1005), b);
	/* --force puts a done job back, keeping its id and document. */
	assert_int_equal(queue_submit(&f->q, f->txn, "http://h/a", 6, "http://h:80", 0, 0,
	    true, 1006, &r), 0);
	assert_int_equal(r.status, SUBMIT_REQUEUED);
	assert_int_equal(r.id, a);
	assert_int_equal(queue_get(&f->q, f->txn, a, &j), 0);
	assert_int_equal(j.doc_id, a);
	assert_int_equal(j.attempts, 0);
	queue_job_free(&j);
	assert_int_equal(queue_retry_failed(&f->q, f->txn, 1007, &n), 0);
	assert_int_equal(n, 0);
	commit(f);
	assert_int_equal(f->q.counts.state[JOB_QUEUED], 1);
	assert_int_equal(f->q.counts.state[JOB_ACTIVE], 1);
	assert_int_equal(f->q.counts.state[JOB_DONE], 0);
}

static void
test_recover_after_crash(void **state)
{
	struct fx *f = *state;
	char err[256];
	uint64_t a, n;
	struct job j;

	begin(f);
	a = submit(f, "http://h/crash", 8, 0, SUBMIT_QUEUED);
	submit(f, "http://h/other", 8, 0, SUBMIT_QUEUED);
	assert_int_equal(lease_next(f, 8, 1000), a);
	commit(f);
	/* "Crash": reopen without any shutdown step. */
	store_close(&f->store);
	assert_int_equal(store_open(&f->store, f->dir, 1 << 20, 1 << 30, err,
	    sizeof(err)), 0);
	assert_int_equal(queue_open(&f->q, &f->store), 0);
	assert_int_equal(f->q.counts.state[JOB_ACTIVE], 1);
	begin(f);
	assert_int_equal(queue_recover(&f->q, f->txn, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(queue_get(&f->q, f->txn, a, &j), 0);
	assert_int_equal(j.state, JOB_QUEUED);
	assert_int_equal(j.attempts, 1);	/* the attempt counts */
	queue_job_free(&j);
	assert_int_equal(lease_next(f, 8, 2000), a);
	commit(f);
	assert_int_equal(f->q.counts.state[JOB_QUEUED], 1);
	assert_int_equal(f->q.counts.state[JOB_ACTIVE], 1);
	assert_int_equal(f->q.next_id, 3);
}

static void
test_abort_restores_counts(void **state)
{
	struct fx *f = *state;

	begin(f);
	submit(f, "http://h/kept", 9, 0, SUBMIT_QUEUED);
	commit(f);
	begin(f);
	submit(f, "http://h/lost", 9, 0, SUBMIT_QUEUED);
	mdb_txn_abort(f->txn);
	f->txn = NULL;
	queue_turn_abort(&f->q);
	assert_int_equal(f->q.counts.state[JOB_QUEUED], 1);
	assert_int_equal(f->q.next_id, 2);
	begin(f);
	assert_int_equal(submit(f, "http://h/lost", 9, 0, SUBMIT_QUEUED), 2);
	commit(f);
}

static void
test_map_full_then_grow(void **state)
{
	struct fx *f = *state;
	char err[256], url[160];
	struct submit_result r;
	int rc = 0, i;

	/* 1 MiB map: fill it until LMDB says MDB_MAP_FULL. */
	begin(f);
	for (i = 0; i < 100000 && rc == 0; i++) {
		snprintf(url, sizeof(url), "http://fill.example/%d/%0100d", i, 0);
		rc = queue_submit(&f->q, f->txn, url, 10, "http://h:80", 0, 0, false, 1000, &r);
	}
	assert_int_equal(rc, MDB_MAP_FULL);
	mdb_txn_abort(f->txn);
	f->txn = NULL;
	queue_turn_abort(&f->q);
	assert_int_equal(store_grow(&f->store, err, sizeof(err)), 0);
	assert_int_equal(f->store.map_size, 2 << 20);
	/* Replaying fewer jobs now fits. */
	begin(f);
	for (int k = 0; k < i / 2; k++) {
		snprintf(url, sizeof(url), "http://fill.example/%d/%0100d", k, 0);
		assert_int_equal(queue_submit(&f->q, f->txn, url, 10, "http://h:80", 0, 0,
		    false, 1000, &r), 0);
	}
	commit(f);
	/* At the cap, growing fails with a clear error. */
	store_set_max(&f->store, 2 << 20);
	assert_int_equal(store_grow(&f->store, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "map_size_max"));
}

static bool
drop_job(struct sched_host *h, struct job *j, void *arg)
{
	queue_job_free(j);
	return true;
}

static void
no_robots(struct sched_host *h, void *arg)
{
	fail_msg("robots.txt asked for with respect_robots off");
}

static struct sched_calls calls = { no_robots, drop_job, NULL, 0 };

static void
test_sched_per_host_limits(void **state)
{
	struct fx *f = *state;
	struct sched s;
	int leased = 0;

	assert_int_equal(sched_init(&s), 0);
	sched_configure(&s, 3, 2, 0);
	begin(f);
	for (int h = 1; h <= 3; h++)
		for (int k = 0; k < 4; k++) {
			char url[64];
			snprintf(url, sizeof(url), "http://h%d/%d", h, k);
			submit(f, url, (uint64_t)h, 0, SUBMIT_QUEUED);
			sched_ready(&s, (uint64_t)h, 0);
		}
	assert_int_equal(sched_plan(&s, &f->q, f->txn, 1000, 100,
	    &calls), 0);
	leased = (int)s.planned;
	assert_int_equal(leased, 3);		/* fetch.max_total */
	sched_commit(&s, 1000);
	sched_configure(&s, 100, 2, 0);
	assert_int_equal(sched_plan(&s, &f->q, f->txn, 1000, 100,
	    &calls), 0);
	assert_int_equal(s.planned, 3);		/* 2 per host, 3 hosts */
	sched_commit(&s, 1000);
	commit(f);
	sched_free(&s);
}

static void
test_sched_priority_across_hosts_and_backoff(void **state)
{
	struct fx *f = *state;
	struct sched s;
	uint64_t a, b;

	assert_int_equal(sched_init(&s), 0);
	sched_configure(&s, 10, 1, 5000);
	begin(f);
	a = submit(f, "http://x/low", 11, 0, SUBMIT_QUEUED);
	b = submit(f, "http://y/high", 12, 50, SUBMIT_QUEUED);
	submit(f, "http://x/low2", 11, 0, SUBMIT_QUEUED);
	sched_ready(&s, 11, 0);
	sched_ready(&s, 12, 50);
	sched_backoff(&s, 12, -1, 60000, 3600000, 1000);
	assert_int_equal(sched_plan(&s, &f->q, f->txn, 1000, 1,
	    &calls), 0);
	sched_commit(&s, 1000);
	/* y is backed off, so x's job goes first although lower. */
	assert_int_equal(lease_next(f, 12, 1000), b);
	(void)a;
	/* x now waits for host_delay; the wakeup says when. */
	assert_int_equal(sched_next_wakeup(&s, 1000) >= 0, 1);
	sched_finished(&s, 11);
	assert_int_equal(sched_next_wakeup(&s, 1000), 5000);
	commit(f);
	sched_free(&s);
}

/* In f's open transaction: http://a/start (host 21) submitted, leased
 * and redirected to https://b/next (host 22).  Its id. */
static uint64_t
redirected_job(struct fx *f)
{
	enum redirect_outcome out;
	struct submit_result r;

	assert_int_equal(queue_submit(&f->q, f->txn, "http://a/start", 21,
	    "http://a:80", 0, 0, false, 1000, &r), 0);
	assert_int_equal(lease_next(f, 21, 1000), r.id);
	assert_int_equal(queue_redirect(&f->q, f->txn, r.id, "https://b/next",
	    22, "https://b:443", 10, 1001, &out), 0);
	assert_int_equal(out, REDIRECT_QUEUED);
	return r.id;
}

static void
test_redirect_requeues_and_detects_loops(void **state)
{
	struct fx *f = *state;
	enum redirect_outcome out;
	struct submit_result r;
	uint64_t id;
	struct job j;

	begin(f);
	id = redirected_job(f);
	assert_int_equal(lease_next(f, 21, 1002), 0);	/* moved to host b */
	assert_int_equal(lease_next(f, 22, 1002), id);
	assert_int_equal(queue_get(&f->q, f->txn, id, &j), 0);
	assert_string_equal(j.url, "http://a/start");
	assert_string_equal(j.fetch_url, "https://b/next");
	assert_int_equal(j.hops, 1);
	assert_int_equal(j.attempts, 1);	/* a hop is not an attempt */
	queue_job_free(&j);
	/* Back to the start: a loop.  The job stays active. */
	assert_int_equal(queue_redirect(&f->q, f->txn, id, "http://a/start", 21,
	    "http://a:80", 10, 1003, &out), 0);
	assert_int_equal(out, REDIRECT_LOOP);
	assert_int_equal(queue_redirect(&f->q, f->txn, id, "https://b/next", 22,
	    "https://b:443", 10, 1003, &out), 0);
	assert_int_equal(out, REDIRECT_LOOP);
	assert_int_equal(queue_redirect(&f->q, f->txn, id, "https://c/", 23,
	    "https://c:443", 1, 1003, &out), 0);
	assert_int_equal(out, REDIRECT_TOO_MANY);
	/* Done from the last hop; a forced resubmission starts over at a. */
	assert_int_equal(queue_done(&f->q, f->txn, id, id, 200, 1004), 0);
	assert_int_equal(queue_submit(&f->q, f->txn, "http://a/start", 21,
	    "http://a:80", 0, 0, true, 1005, &r), 0);
	assert_int_equal(r.status, SUBMIT_REQUEUED);
	assert_int_equal(lease_next(f, 21, 1006), id);
	assert_int_equal(queue_get(&f->q, f->txn, id, &j), 0);
	assert_null(j.fetch_url);
	assert_int_equal(j.hops, 0);
	queue_job_free(&j);
	commit(f);
}

/* Cluster mode's handover of a redirect: cancelled where it was met,
 * started at the hop where it is taken over, loops still seen. */
static void
test_redirect_handed_over(void **state)
{
	struct fx *f = *state;
	enum redirect_outcome out;
	struct submit_result r;
	uint64_t id, visited[2];
	struct job j;

	begin(f);
	/* Met here: the redirect, then the handover cancels it. */
	id = redirected_job(f);
	assert_int_equal(queue_cancel_moved(&f->q, f->txn, id,
	    "https://b/next", 1001), 0);
	assert_int_equal(queue_get(&f->q, f->txn, id, &j), 0);
	assert_int_equal(j.state, JOB_CANCELLED);
	assert_string_equal(j.error_code, "moved");
	assert_non_null(strstr(j.error_msg, "https://b/next"));
	queue_job_free(&j);
	assert_int_equal(lease_next(f, 22, 1002), 0);
	assert_int_equal(queue_cancel_moved(&f->q, f->txn, id,
	    "https://b/next", 1002), MDB_KEYEXIST);
	/* Taken over elsewhere (here a second URL stands for it): queued
	 * under a, it starts at b's hop with the hops taken before. */
	assert_int_equal(queue_submit(&f->q, f->txn, "http://a/other", 21,
	    "http://a:80", 0, 0, false, 1003, &r), 0);
	visited[0] = XXH3_64bits("https://b/next", strlen("https://b/next"));
	assert_int_equal(queue_hop(&f->q, f->txn, r.id, "https://b/next", 22,
	    "https://b:443", visited, 1, 1003), 0);
	assert_int_equal(lease_next(f, 21, 1004), 0);
	assert_int_equal(lease_next(f, 22, 1004), r.id);
	assert_int_equal(queue_get(&f->q, f->txn, r.id, &j), 0);
	assert_string_equal(j.url, "http://a/other");
	assert_string_equal(j.fetch_url, "https://b/next");
	assert_int_equal(j.hops, 1);
	queue_job_free(&j);
	/* Not queued any more, or at a hop already: refused. */
	assert_int_equal(queue_hop(&f->q, f->txn, r.id, "https://b/next", 22,
	    "https://b:443", visited, 1, 1005), MDB_KEYEXIST);
	assert_int_equal(queue_hop(&f->q, f->txn, r.id, "https://b/next", 22,
	    "https://b:443", visited, 0, 1005), EINVAL);
	/* A redirect back to b/next from there is a loop. */
	assert_int_equal(queue_redirect(&f->q, f->txn, r.id, "https://b/next",
	    22, "https://b:443", 10, 1006, &out), 0);
	assert_int_equal(out, REDIRECT_LOOP);
	commit(f);
}

struct hosts_seen {
	int		 n;
	uint64_t	 queued_a, active_a, active_b, done_b;
};

static int
count_host(const struct host_record *h, void *arg)
{
	struct hosts_seen *hs = arg;

	hs->n++;
	if (strcmp(h->origin, "http://a:80") == 0) {
		hs->queued_a = h->jobs[JOB_QUEUED];
		hs->active_a = h->jobs[JOB_ACTIVE];
	}
	if (strcmp(h->origin, "https://b:443") == 0) {
		hs->active_b = h->jobs[JOB_ACTIVE];
		hs->done_b = h->jobs[JOB_DONE];
	}
	return 0;
}

static void
test_host_records_follow_jobs(void **state)
{
	struct fx *f = *state;
	struct hosts_seen hs = { 0 };
	enum redirect_outcome out;
	struct submit_result r;
	char *origin;
	uint64_t a;

	begin(f);
	assert_int_equal(queue_submit(&f->q, f->txn, "http://a/1", 31,
	    "http://a:80", 0, 0, false, 1000, &r), 0);
	a = r.id;
	assert_int_equal(queue_submit(&f->q, f->txn, "http://a/2", 31,
	    "http://a:80", 0, 0, false, 1000, &r), 0);
	assert_int_equal(lease_next(f, 31, 1000), a);
	assert_int_equal(queue_redirect(&f->q, f->txn, a, "https://b/1", 32,
	    "https://b:443", 10, 1001, &out), 0);
	assert_int_equal(lease_next(f, 32, 1002), a);
	assert_int_equal(queue_done(&f->q, f->txn, a, a, 200, 1003), 0);
	assert_int_equal(queue_walk_hosts(&f->q, f->txn, 0, count_host, &hs),
	    0);
	assert_int_equal(hs.n, 2);
	assert_int_equal(hs.queued_a, 1);
	assert_int_equal(hs.active_a, 0);
	assert_int_equal(hs.active_b, 0);
	assert_int_equal(hs.done_b, 1);
	assert_int_equal(queue_host_origin(&f->q, f->txn, 32, &origin), 0);
	assert_string_equal(origin, "https://b:443");
	free(origin);
	commit(f);
}

/* --- the intake (queue.index_backlog) ------------------------------ */

struct ready_seen {
	int		 n;
	uint64_t	 host;
};

static void
saw_ready(uint64_t host, int32_t prio, void *arg)
{
	struct ready_seen *rs = arg;

	(void)prio;
	rs->n++;
	rs->host = host;
}

static void
reopen(struct fx *f)
{
	char err[256];

	queue_close(&f->q);
	store_close(&f->store);
	assert_int_equal(store_open(&f->store, f->dir, 1 << 20, 1 << 30, err,
	    sizeof(err)), 0);
	assert_int_equal(queue_open(&f->q, &f->store), 0);
}

static void
test_intake_defers_indexing(void **state)
{
	struct fx *f = *state;
	struct ready_seen rs = { 0 };
	uint64_t a, b, id, n;
	int32_t prio;
	struct job j;

	queue_set_backlog(&f->q, 100);
	queue_set_notify(&f->q, saw_ready, &rs);
	begin(f);
	a = submit(f, "http://d.example/1", 41, 0, SUBMIT_QUEUED);
	b = submit(f, "http://d.example/2", 41, 0, SUBMIT_QUEUED);
	/* Known by URL and by id, counted, but not ready yet. */
	assert_int_equal(submit(f, "http://d.example/1", 41, 0,
	    SUBMIT_DUPLICATE), a);
	assert_int_equal(queue_find_url(&f->q, f->txn, "http://d.example/2",
	    &id), 0);
	assert_int_equal(id, b);
	assert_int_equal(queue_get(&f->q, f->txn, b, &j), 0);
	assert_int_equal(j.state, JOB_QUEUED);
	queue_job_free(&j);
	assert_int_equal(queue_peek(&f->q, f->txn, 41, &prio, &id),
	    MDB_NOTFOUND);
	assert_int_equal(queue_unindexed(&f->q), 2);
	assert_int_equal(rs.n, 0);
	commit(f);
	assert_int_equal(f->q.counts.state[JOB_QUEUED], 2);

	begin(f);
	assert_int_equal(queue_index(&f->q, f->txn, 1, 2000, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.host, 41);
	assert_int_equal(queue_unindexed(&f->q), 1);
	assert_int_equal(lease_next(f, 41, 2000), a);
	assert_int_equal(lease_next(f, 41, 2000), 0);
	assert_int_equal(queue_index(&f->q, f->txn, 100, 2000, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(lease_next(f, 41, 2000), b);
	commit(f);
	/* Indexed: the URL comes from urls now. */
	begin(f);
	assert_int_equal(submit(f, "http://d.example/2", 41, 0,
	    SUBMIT_DUPLICATE), b);
	commit(f);
	assert_int_equal(f->q.intake.count, 0);
}

static void
test_intake_survives_crash_and_abort(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, c;

	queue_set_backlog(&f->q, 100);
	begin(f);
	a = submit(f, "http://e.example/1", 42, 0, SUBMIT_QUEUED);
	b = submit(f, "http://e.example/2", 42, 0, SUBMIT_QUEUED);
	commit(f);
	/* An aborted turn's submission leaves no trace in the intake. */
	begin(f);
	c = submit(f, "http://e.example/3", 42, 0, SUBMIT_QUEUED);
	mdb_txn_abort(f->txn);
	f->txn = NULL;
	queue_turn_abort(&f->q);
	assert_int_equal(f->q.intake.count, 2);
	begin(f);
	assert_int_equal(submit(f, "http://e.example/4", 42, 0,
	    SUBMIT_QUEUED), c);
	assert_int_equal(submit(f, "http://e.example/3", 42, 0,
	    SUBMIT_QUEUED), c + 1);
	commit(f);
	/* "Crash" with four unindexed: reopening indexes them. */
	reopen(f);
	assert_int_equal(queue_unindexed(&f->q), 0);
	queue_set_backlog(&f->q, 100);
	begin(f);
	assert_int_equal(submit(f, "http://e.example/2", 42, 0,
	    SUBMIT_DUPLICATE), b);
	assert_int_equal(lease_next(f, 42, 2000), a);
	assert_int_equal(lease_next(f, 42, 2000), b);
	assert_int_equal(lease_next(f, 42, 2000), c);
	assert_int_equal(lease_next(f, 42, 2000), c + 1);
	commit(f);
	assert_int_equal(f->q.counts.state[JOB_ACTIVE], 4);
}

static void
test_intake_settles_before_changes(void **state)
{
	struct fx *f = *state;
	struct hosts_seen hs = { 0 };
	uint64_t a, ids[5];

	queue_set_backlog(&f->q, 3);
	begin(f);
	a = submit(f, "http://a/1", 31, 0, SUBMIT_QUEUED);
	submit(f, "http://a/2", 31, 0, SUBMIT_QUEUED);
	/* Cancelling an unindexed job indexes the intake first, so the
	 * host's counts stay right. */
	assert_int_equal(queue_cancel(&f->q, f->txn, a, 1500), 0);
	assert_int_equal(queue_unindexed(&f->q), 0);
	assert_int_equal(queue_walk_hosts(&f->q, f->txn, 0, count_host, &hs),
	    0);
	assert_int_equal(hs.queued_a, 1);
	commit(f);
	/* A full backlog makes room before each submission: never more
	 * than the backlog waits. */
	begin(f);
	for (int i = 0; i < 5; i++) {
		char url[32];

		snprintf(url, sizeof(url), "http://a/x%d", i);
		ids[i] = submit(f, url, 31, 0, SUBMIT_QUEUED);
		assert_true(queue_unindexed(&f->q) <= 3);
	}
	assert_int_equal(submit(f, "http://a/x0", 31, 0, SUBMIT_DUPLICATE),
	    ids[0]);
	assert_int_equal(submit(f, "http://a/x4", 31, 0, SUBMIT_DUPLICATE),
	    ids[4]);
	commit(f);
	/* An alias (a page's canonical URL) of an unindexed URL keeps the
	 * URL's own job. */
	begin(f);
	assert_true(ids[4] >= f->q.index_from);	/* x4 waits */
	assert_int_equal(queue_alias_url(&f->q, f->txn, "http://a/x4", a), 0);
	assert_true(queue_unindexed(&f->q) > 0);	/* found, not indexed */
	assert_int_equal(queue_find_url(&f->q, f->txn, "http://a/x4",
	    &ids[0]), 0);
	assert_int_equal(ids[0], ids[4]);
	commit(f);
}

/* What a walk over one host's records counts. */
static int
sum_queued(const struct host_record *h, void *arg)
{
	*(uint64_t *)arg += h->jobs[JOB_QUEUED];
	return 0;
}

/*
 * A large intake is indexed as a generation over several turns: its URLs
 * are found all along, a rolled-back turn only repeats work, the backlog
 * bounds the intake, and in the end every job is in urls, ready and its
 * host's counts exactly once.
 */
static void
test_intake_generations(void **state)
{
	struct fx *f = *state;
	enum { N = 3000, HOSTS = 7, BACKLOG = 400 };
	uint64_t *ids = calloc(N, sizeof(*ids)), queued = 0, id;
	int seen_gen = 0, got = 0, aborted = -1;
	char url[64];

	assert_non_null(ids);
	for (int i = 0; i < 4; i++)	/* 16 MiB: no turn here grows it */
		assert_int_equal(store_grow(&f->store, url, sizeof(url)), 0);
	queue_set_backlog(&f->q, BACKLOG);
	for (int i = 0; i < N; i += 10) {
		begin(f);
		for (int k = i; k < i + 10; k++) {
			snprintf(url, sizeof(url), "http://h%d/p%05d",
			    (k * 31) % HOSTS, (k * 7919) % N);
			ids[k] = submit(f, url, 100 + (k * 31) % HOSTS, 0,
			    SUBMIT_QUEUED);
			assert_true(queue_unindexed(&f->q) <= BACKLOG);
		}
		if (f->q.gen.to != 0 && f->q.gen.pos > 0 &&
		    f->q.gen.pos < f->q.gen.n) {
			seen_gen++;
			/* Mid-generation, every URL is found: put in urls
			 * already, or only in the intake. */
			for (int k = 0; k <= i + 9; k += 37) {
				snprintf(url, sizeof(url), "http://h%d/p%05d",
				    (k * 31) % HOSTS, (k * 7919) % N);
				assert_int_equal(submit(f, url,
				    100 + (k * 31) % HOSTS, 0,
				    SUBMIT_DUPLICATE), ids[k]);
			}
		}
		if (i % 70 == 0 && aborted != i) {
			/* Rolled back: the generation repeats its puts. */
			aborted = i;
			mdb_txn_abort(f->txn);
			f->txn = NULL;
			queue_turn_abort(&f->q);
			i -= 10;
			continue;
		}
		commit(f);
	}
	assert_true(seen_gen > 0);
	/* A change indexes everything first. */
	begin(f);
	assert_int_equal(queue_index(&f->q, f->txn, UINT64_MAX, 1000, NULL),
	    0);
	assert_int_equal(queue_unindexed(&f->q), 0);
	assert_int_equal(f->q.gen.to, 0);
	assert_int_equal(queue_walk_hosts(&f->q, f->txn, 0, sum_queued,
	    &queued), 0);
	assert_int_equal(queued, N);
	for (int k = 0; k < N; k++) {
		snprintf(url, sizeof(url), "http://h%d/p%05d",
		    (k * 31) % HOSTS, (k * 7919) % N);
		assert_int_equal(queue_find_url(&f->q, f->txn, url, &id), 0);
		assert_int_equal(id, ids[k]);
	}
	commit(f);
	for (int h = 0; h < HOSTS; h++) {
		begin(f);
		while (lease_next(f, 100 + h, 2000) != 0)
			got++;
		commit(f);
	}
	assert_int_equal(got, N);
	free(ids);
}

/* What a walk over the host records adds up. */
static int
sum_states(const struct host_record *h, void *arg)
{
	uint64_t *sum = arg;

	sum[0] += h->jobs[JOB_QUEUED];
	sum[1] += h->jobs[JOB_ACTIVE];
	return 0;
}

/* queue_check's problems, counted; the last kept. */
struct problems {
	int		 n;
	char		 last[256];
};

static void
note_problem(const char *problem, void *arg)
{
	struct problems *p = arg;

	p->n++;
	snprintf(p->last, sizeof(p->last), "%s", problem);
}

static int
check_problems(struct fx *f, struct problems *p)
{
	uint64_t jobs;

	memset(p, 0, sizeof(*p));
	assert_int_equal(queue_check(&f->q, f->txn, note_problem, p, &jobs),
	    0);
	return p->n;
}

/*
 * A crash in the second step of a generation, after some of its jobs were
 * indexed and leased: the restart indexes the others once, and passes over
 * those (their host counts and ready entries are not doubled).
 */
static void
test_intake_generation_crash(void **state)
{
	struct fx *f = *state;
	enum { HOSTS = 5, BACKLOG = 400 };
	uint64_t sum[2] = { 0 }, id, leased = 0, n = 0;
	uint64_t counts[JOB_NSTATES];
	unsigned char key[8], rec[256];
	MDB_val k = { sizeof(key), key }, v;
	struct problems pr;
	int got = 0;
	char url[64];

	for (int i = 0; i < 4; i++)
		assert_int_equal(store_grow(&f->store, url, sizeof(url)), 0);
	queue_set_backlog(&f->q, BACKLOG);
	/* Submit until a generation is half through its jobs. */
	while (!(f->q.gen.to != 0 && f->q.gen.done > 0 &&
	    f->q.gen.done < f->q.gen.n / 2)) {
		begin(f);
		snprintf(url, sizeof(url), "http://h%d/p%llu",
		    (int)(n % HOSTS), (unsigned long long)n);
		submit(f, url, 200 + n % HOSTS, 0, SUBMIT_QUEUED);
		n++;
		commit(f);
		assert_true(n < 100000);
	}
	/* Lease what the scheduler may see already: indexed jobs. */
	begin(f);
	for (int h = 0; h < HOSTS; h++)
		while (lease_next(f, 200 + h, 2000) != 0)
			leased++;
	commit(f);
	assert_true(leased > 0);
	/* Crash: the in-memory generation is gone. */
	reopen(f);
	assert_int_equal(queue_unindexed(&f->q), 0);
	begin(f);
	assert_int_equal(queue_walk_hosts(&f->q, f->txn, 0, sum_states, sum),
	    0);
	assert_int_equal(sum[0], n - leased);
	assert_int_equal(sum[1], leased);
	for (uint64_t u = 0; u < n; u++) {
		snprintf(url, sizeof(url), "http://h%d/p%llu",
		    (int)(u % HOSTS), (unsigned long long)u);
		assert_int_equal(queue_find_url(&f->q, f->txn, url, &id), 0);
	}
	assert_int_equal(check_problems(f, &pr), 0);
	for (int h = 0; h < HOSTS; h++)
		while (lease_next(f, 200 + h, 3000) != 0)
			got++;
	assert_int_equal(got + leased, n);
	commit(f);
	/* sluiced --check sees a host's counts that are not its jobs'. */
	begin(f);
	store_put_be64(key, 203);
	assert_int_equal(mdb_get(f->txn, f->q.hosts, &k, &v), 0);
	assert_true(v.mv_size >= sizeof(counts));
	memcpy(counts, v.mv_data, sizeof(counts));
	counts[JOB_ACTIVE]++;
	memcpy(rec, v.mv_data, v.mv_size < sizeof(rec) ? v.mv_size :
	    sizeof(rec));
	memcpy(rec, counts, sizeof(counts));
	v = (MDB_val){ v.mv_size < sizeof(rec) ? v.mv_size : sizeof(rec),
	    rec };
	assert_int_equal(mdb_put(f->txn, f->q.hosts, &k, &v, 0), 0);
	assert_int_equal(check_problems(f, &pr), 1);
	assert_non_null(strstr(pr.last, "hosts: host 00000000000000cb has "));
	commit(f);
}

/* A crash in a generation's first step (its URLs, kept in memory only),
 * with a large intake: the restart indexes every job once.  (Indexing it
 * sorted at start was tried: 165,000 jobs took 1.5 s either way, as one
 * transaction writes each page once in any order.) */
static void
test_intake_sorted_at_open(void **state)
{
	struct fx *f = *state;
	enum { N = 17000, HOSTS = 9 };
	uint64_t sum[2] = { 0 }, id;
	struct problems pr;
	char url[64];

	for (int i = 0; i < 5; i++)
		assert_int_equal(store_grow(&f->store, url, sizeof(url)), 0);
	queue_set_backlog(&f->q, 100000);
	for (int i = 0; i < N; i += 1000) {
		begin(f);
		for (int k = i; k < i + 1000; k++) {
			snprintf(url, sizeof(url), "http://s%d/q%d", k % HOSTS,
			    k);
			submit(f, url, 300 + k % HOSTS, 0, SUBMIT_QUEUED);
		}
		commit(f);
	}
	assert_int_equal(queue_unindexed(&f->q), N);
	assert_true(f->q.gen.to != 0 && f->q.gen.pos < f->q.gen.n);
	reopen(f);
	assert_int_equal(queue_unindexed(&f->q), 0);
	assert_int_equal(f->q.gen.to, 0);
	begin(f);
	assert_int_equal(queue_walk_hosts(&f->q, f->txn, 0, sum_states, sum),
	    0);
	assert_int_equal(sum[0], N);
	for (int k = 0; k < N; k += 7) {
		snprintf(url, sizeof(url), "http://s%d/q%d", k % HOSTS, k);
		assert_int_equal(queue_find_url(&f->q, f->txn, url, &id), 0);
		assert_int_equal(id, (uint64_t)k + 1);
	}
	assert_int_equal(check_problems(f, &pr), 0);
	commit(f);
}

/* Rewrites job id's stored record through edit(bytes, len). */
static void
edit_record(struct fx *f, uint64_t id, void (*edit)(unsigned char *, size_t))
{
	MDB_val k = { sizeof(id), &id }, v;
	unsigned char buf[1024];
	MDB_txn *txn;

	assert_int_equal(store_txn_write(&f->store, &txn), 0);
	assert_int_equal(mdb_get(txn, f->q.jobs, &k, &v), 0);
	assert_true(v.mv_size <= sizeof(buf));
	memcpy(buf, v.mv_data, v.mv_size);
	edit(buf, v.mv_size);
	v.mv_data = buf;
	assert_int_equal(mdb_put(txn, f->q.jobs, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static unsigned char
first_byte(struct fx *f, uint64_t id)
{
	MDB_val k = { sizeof(id), &id }, v;
	unsigned char b;
	MDB_txn *txn;

	assert_int_equal(store_txn_read(&f->store, &txn), 0);
	assert_int_equal(mdb_get(txn, f->q.jobs, &k, &v), 0);
	b = *(unsigned char *)v.mv_data;
	mdb_txn_abort(txn);
	return b;
}

static int
get_job(struct fx *f, uint64_t id, struct job *j)
{
	MDB_txn *txn;
	int rc;

	assert_int_equal(store_txn_read(&f->store, &txn), 0);
	rc = queue_get(&f->q, txn, id, j);
	mdb_txn_abort(txn);
	return rc;
}

static void flip_url(unsigned char *p, size_t n) { p[88 + 9] ^= 0x20; (void)n; }
static void flip_attempts(unsigned char *p, size_t n) { p[20] ^= 1; (void)n; }
static void flip_version(unsigned char *p, size_t n) { p[0] = 3; (void)n; }

/* Writes a version 2 record back as version 1 had it (no checksum). */
static void
to_v1(unsigned char *p, size_t n)
{
	unsigned char v2[32];

	(void)n;
	memcpy(v2, p, sizeof(v2));
	memset(p, 0, 32);
	memcpy(p, v2, 4);
	p[0] = 1;
	memcpy(p + 4, v2 + 8, 6);	/* url_len, msg_len, fetch_len */
	memcpy(p + 12, v2 + 16, 16);	/* priority, attempts, status, hops */
}

static void
test_record_checksum(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, c;
	struct job j;

	begin(f);
	a = submit(f, "http://a.example/checked", 1, 0, SUBMIT_QUEUED);
	b = submit(f, "http://a.example/counted", 1, 0, SUBMIT_QUEUED);
	c = submit(f, "http://a.example/version", 1, 0, SUBMIT_QUEUED);
	commit(f);
	assert_int_equal(first_byte(f, a), 2);
	assert_int_equal(get_job(f, a, &j), 0);
	assert_string_equal(j.url, "http://a.example/checked");
	queue_job_free(&j);
	edit_record(f, a, flip_url);
	edit_record(f, b, flip_attempts);
	edit_record(f, c, flip_version);
	assert_int_equal(get_job(f, a, &j), MDB_CORRUPTED);
	assert_int_equal(get_job(f, b, &j), MDB_CORRUPTED);
	assert_int_equal(get_job(f, c, &j), MDB_CORRUPTED);
}

static void
test_v1_record_is_read_and_upgraded(void **state)
{
	struct fx *f = *state;
	struct job j;
	MDB_txn *txn;
	uint64_t a;

	begin(f);
	a = submit(f, "http://a.example/old", 7, 5, SUBMIT_QUEUED);
	commit(f);
	edit_record(f, a, to_v1);
	assert_int_equal(first_byte(f, a), 1);
	assert_int_equal(get_job(f, a, &j), 0);
	assert_string_equal(j.url, "http://a.example/old");
	assert_int_equal(j.priority, 5);
	assert_int_equal(j.host, 7);
	queue_job_free(&j);
	/* A store of format 3: queue_open rewrites its records. */
	assert_int_equal(store_txn_write(&f->store, &txn), 0);
	assert_int_equal(store_counter_add(&f->store, txn, "format.jobs", -2),
	    0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	queue_close(&f->q);
	assert_int_equal(queue_open(&f->q, &f->store), 0);
	assert_int_equal(first_byte(f, a), 2);
	assert_int_equal(get_job(f, a, &j), 0);
	assert_string_equal(j.url, "http://a.example/old");
	assert_int_equal(j.priority, 5);
	queue_job_free(&j);
}

/* A damaged job leaves the queue instead of failing every lease. */
static void
test_damaged_job_is_passed_by(void **state)
{
	struct fx *f = *state;
	uint64_t a, b;

	begin(f);
	a = submit(f, "http://a.example/bad", 1, 9, SUBMIT_QUEUED);
	b = submit(f, "http://a.example/good", 1, 0, SUBMIT_QUEUED);
	commit(f);
	edit_record(f, a, flip_url);
	begin(f);
	assert_int_equal(lease_next(f, 1, 2000), b);
	assert_int_equal(lease_next(f, 1, 2000), 0);
	/* Resubmitting its URL makes a new job. */
	assert_int_not_equal(submit(f, "http://a.example/bad", 1, 0,
	    SUBMIT_QUEUED), a);
	commit(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_checksum, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_v1_record_is_read_and_upgraded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_job_is_passed_by,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_and_duplicates,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_then_fifo,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts_are_separate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_before_delays,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_backoff_then_fail,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_retry_after_is_the_retry_delay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_is_clamped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_retry_without_retry_after_is_exponential, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_retryable_fails_at_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_done_cancel_retry_force,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_after_crash,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_restores_counts,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_full_then_grow,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sched_per_host_limits,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sched_priority_across_hosts_and_backoff, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_redirect_requeues_and_detects_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_handed_over,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_records_follow_jobs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_intake_defers_indexing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_intake_survives_crash_and_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_intake_settles_before_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intake_generations,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_intake_generation_crash,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_intake_sorted_at_open,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
