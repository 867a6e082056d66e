/*
 * test_turn.c - the loop turn's transaction with stub steps: the steps
 * run in the given order inside one transaction; a full map is grown and
 * the turn replayed after every step's abort (last first); at the cap the
 * store is marked full and the turn replayed once more; an error that
 * growing cannot cure rolls back and reports TURN_FAILED; background work
 * waits for the commit interval; and what a rolled-back attempt wrote is
 * never committed.
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

#include "store.h"
#include "tstore.h"
#include "turn.h"
#include "util.h"

#define MAX_EVENTS	64

/* What the stub steps saw, in order: "a" for an apply, "~a" for an
 * abort. */
struct trace {
	char		 ev[MAX_EVENTS][8];
	int		 n;
};

struct stub {
	const char	*name;
	struct trace	*trace;
	int		 fail_times;	/* return fail_rc this many times */
	int		 fail_rc;
	bool		 until_full;	/* MAP_FULL until the store is full */
	struct store	*store;
	bool		 write;		/* put a key named after the step */
	int		 applied;
};

struct fx {
	char		 dir[64];
	struct store	 store;
	struct trace	 trace;
	struct stub	 stubs[3];
	struct turn_step steps[3];
	struct turn	 turn;
};

static void
trace_add(struct trace *t, const char *prefix, const char *name)
{
	assert_true(t->n < MAX_EVENTS);
	snprintf(t->ev[t->n++], sizeof(t->ev[0]), "%s%s", prefix, name);
}

static int
stub_apply(void *arg, MDB_txn *txn, uint64_t now)
{
	struct stub *s = arg;
	MDB_val k = { strlen(s->name), (void *)s->name }, v = { 1, "1" };

	assert_non_null(txn);
	trace_add(s->trace, "", s->name);
	s->applied++;
	if (s->write)
		assert_int_equal(mdb_put(txn, s->store->meta, &k, &v, 0), 0);
	if (s->until_full && !s->store->full)
		return MDB_MAP_FULL;
	if (s->fail_times > 0) {
		s->fail_times--;
		return s->fail_rc;
	}
	return 0;
}

static void
stub_abort(void *arg)
{
	struct stub *s = arg;

	trace_add(s->trace, "~", s->name);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	static const char *names[] = { "a", "b", "c" };
	char err[256];

	assert_non_null(f);
	tstore_mkdir(f->dir, sizeof(f->dir), "turn");
	assert_int_equal(store_open(&f->store, f->dir, 1 << 20, 1 << 22, err,
	    sizeof(err)), 0);
	for (int i = 0; i < 3; i++) {
		f->stubs[i] = (struct stub){ .name = names[i],
		    .trace = &f->trace, .store = &f->store };
		f->steps[i] = (struct turn_step){ .name = names[i],
		    .apply = stub_apply, .abort = stub_abort,
		    .arg = &f->stubs[i] };
	}
	turn_init(&f->turn, &f->store, f->steps, 3);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	store_close(&f->store);
	tstore_rmdir(f->dir);
	free(f);
	return 0;
}

static void
assert_trace(const struct trace *t, const char *const *want, int n)
{
	assert_int_equal(t->n, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(t->ev[i], want[i]);
}

/* True if key is in the store's meta database, committed. */
static bool
committed(struct fx *f, const char *key)
{
	MDB_txn *txn;
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	assert_int_equal(store_txn_read(&f->store, &txn), 0);
	rc = mdb_get(txn, f->store.meta, &k, &v);
	mdb_txn_abort(txn);
	return rc == 0;
}

static void
test_steps_run_in_order(void **state)
{
	struct fx *f = *state;
	const char *want[] = { "a", "b", "c" };

	f->stubs[2].write = true;
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_trace(&f->trace, want, 3);
	assert_true(committed(f, "c"));
	assert_false(f->store.full);
	assert_false(f->store.stuck);
}

static void
test_idle_does_nothing(void **state)
{
	struct fx *f = *state;

	assert_int_equal(turn_run(&f->turn, TURN_IDLE, now_ms()), TURN_NONE);
	assert_int_equal(f->trace.n, 0);
}

static void
test_map_full_grows_and_replays(void **state)
{
	struct fx *f = *state;
	uint64_t before = f->store.map_size;
	const char *want[] = { "a", "b", "~c", "~b", "~a", "a", "b", "c" };

	f->stubs[0].write = true;
	f->stubs[1].fail_times = 1;
	f->stubs[1].fail_rc = MDB_MAP_FULL;
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_trace(&f->trace, want, 8);
	assert_true(f->store.map_size > before);
	assert_false(f->store.full);
	assert_true(committed(f, "a"));
}

static void
test_cap_marks_full_and_replays(void **state)
{
	struct fx *f = *state;
	char err[256];

	/* Grow to the cap first: 1 MiB -> 2 -> 4, the cap. */
	while (store_grow(&f->store, err, sizeof(err)) == 0)
		;
	f->stubs[1].until_full = true;
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_true(f->store.full);
	assert_int_equal(f->stubs[0].applied, 2);
	assert_int_equal(f->stubs[2].applied, 1);
}

static void
test_error_rolls_back_and_fails(void **state)
{
	struct fx *f = *state;
	const char *want[] = { "a", "b", "~c", "~b", "~a" };

	f->stubs[0].write = true;
	f->stubs[1].fail_times = 1;
	f->stubs[1].fail_rc = ENOMEM;
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_FAILED);
	assert_trace(&f->trace, want, 5);
	assert_int_equal(f->turn.last_error, ENOMEM);
	assert_true(f->store.stuck);
	assert_false(committed(f, "a"));
	/* The next turn commits and clears the condition. */
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_false(f->store.stuck);
	assert_true(committed(f, "a"));
}

/* A full disk (the fault a step injects: ENOSPC, as LMDB returns it) is
 * not a failing disk: the turn is replayed without submissions, and the
 * condition stays until submissions commit again. */
static void
test_disk_full_is_told_apart(void **state)
{
	struct fx *f = *state;

	f->stubs[1].fail_times = 1;
	f->stubs[1].fail_rc = ENOSPC;
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_true(f->store.full);
	assert_false(f->store.stuck);
	assert_int_equal(f->store.condition, STORE_DISK_FULL);
	/* Results alone commit: still a full disk. */
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_int_equal(f->store.condition, STORE_DISK_FULL);
	/* Submissions taken again, and they commit: over. */
	f->store.full = false;
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_int_equal(f->store.condition, STORE_OK);
	/* EIO with room to spare: a failing disk, no replay. */
	f->store.disk_full_below = 0;
	f->stubs[1].fail_times = 1;
	f->stubs[1].fail_rc = EIO;
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_FAILED);
	assert_int_equal(f->store.condition, STORE_FAILING);
	assert_true(f->store.stuck);
	assert_false(f->store.full);
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_int_equal(f->store.condition, STORE_OK);
	/* EIO on a nearly full file system: a full disk. */
	f->store.disk_full_below = UINT64_MAX;
	f->stubs[1].fail_times = 1;
	f->stubs[1].fail_rc = EIO;
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_int_equal(f->store.condition, STORE_DISK_FULL);
}

static void
test_background_work_gathers(void **state)
{
	struct fx *f = *state;
	int64_t w;

	f->turn.commit_interval_ms = 200;
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_int_equal(turn_wait_ms(&f->turn, mono_ms()), -1);
	assert_int_equal(turn_run(&f->turn, TURN_GATHER, now_ms()),
	    TURN_WAITING);
	assert_int_equal(f->stubs[0].applied, 1);
	w = turn_wait_ms(&f->turn, mono_ms());
	assert_true(w > 0 && w <= 200);
	/* A client's request does not wait. */
	assert_int_equal(turn_run(&f->turn, TURN_NOW, now_ms()),
	    TURN_COMMITTED);
	assert_int_equal(f->stubs[0].applied, 2);
	f->turn.commit_interval_ms = 0;
	assert_int_equal(turn_run(&f->turn, TURN_GATHER, now_ms()),
	    TURN_COMMITTED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_steps_run_in_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_does_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_is_told_apart,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_full_grows_and_replays,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_marks_full_and_replays,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_rolls_back_and_fails,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_background_work_gathers,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
