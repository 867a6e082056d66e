/*
 * test_work.c - the worker pool: items come back through the loop, in
 * any order but each once; a worker is told whether it is behind (more
 * items waited than there are workers when it took one); work_free hands
 * back what is finished.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "work.h"

#define NITEMS	6

struct item {
	struct work_item it;	/* first */
	int		 n;
	bool		 behind;	/* as run saw it */
	bool		 done;
};

/* Item 0 holds its worker until the test lets it go. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_entered;

static void
item_run(struct work_item *it)
{
	struct item *x = (struct item *)it;

	x->behind = it->behind;
	if (x->n != 0)
		return;
	pthread_mutex_lock(&gate_lock);
	gate_entered = true;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static int ndone;

static void
item_done(struct work_item *it, void *arg)
{
	struct item *x = (struct item *)it;

	assert_ptr_equal(arg, &ndone);
	assert_false(x->done);
	x->done = true;
	ndone++;
}

/* Runs the loop until want items came back, or 30 s (then fails). */
static void
drain_until(struct event_base *base, int want)
{
	struct timeval limit = { 30, 0 };

	event_base_loopexit(base, &limit);
	while (ndone < want && !event_base_got_exit(base))
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(ndone, want);
}

static void
test_behind_when_more_wait_than_workers(void **state)
{
	struct event_base *base = event_base_new();
	struct item items[NITEMS];
	char err[128];
	struct work *w;

	(void)state;
	assert_non_null(base);
	memset(items, 0, sizeof(items));
	ndone = 0;
	gate_open = gate_entered = false;
	w = work_new(base, 1, item_done, &ndone, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(work_threads(w), 1);
	for (int i = 0; i < NITEMS; i++) {
		items[i].n = i;
		items[i].it.run = item_run;
	}
	/* The first is taken by an idle worker: nothing waits. */
	work_submit(w, &items[0].it);
	pthread_mutex_lock(&gate_lock);
	while (!gate_entered)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	/* The rest queue behind it. */
	for (int i = 1; i < NITEMS; i++)
		work_submit(w, &items[i].it);
	assert_int_equal(work_backlog(w), NITEMS);
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	drain_until(base, NITEMS);
	assert_int_equal(work_backlog(w), 0);
	/* One worker: behind while at least one more item waited, so all
	 * but the first and the last. */
	assert_false(items[0].behind);
	for (int i = 1; i < NITEMS - 1; i++)
		assert_true(items[i].behind);
	assert_false(items[NITEMS - 1].behind);
	for (int i = 0; i < NITEMS; i++)
		assert_true(items[i].done);
	assert_int_equal(work_free(w, 1000), 0);
	event_base_free(base);
}

static void
test_free_hands_back_what_is_queued(void **state)
{
	struct event_base *base = event_base_new();
	struct item items[NITEMS];
	char err[128];
	struct work *w;

	(void)state;
	memset(items, 0, sizeof(items));
	ndone = 0;
	gate_open = true;	/* nothing holds a worker */
	w = work_new(base, 2, item_done, &ndone, err, sizeof(err));
	assert_non_null(w);
	for (int i = 0; i < NITEMS; i++) {
		items[i].n = i + 1;
		items[i].it.run = item_run;
		work_submit(w, &items[i].it);
	}
	/* Stopping runs what was queued and hands each item back once. */
	assert_int_equal(work_free(w, 5000), 0);
	assert_int_equal(ndone, NITEMS);
	for (int i = 0; i < NITEMS; i++)
		assert_true(items[i].done);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_behind_when_more_wait_than_workers),
		cmocka_unit_test(test_free_hands_back_what_is_queued),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
