/*
 * test_store.c - store.c's format check: a new store is written in the
 * current format, an older one that the modules convert is opened and
 * marked current, and any other is refused with a message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "tstore.h"

struct fx {
	char		 dir[64];
	struct store	 store;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	tstore_mkdir(f->dir, sizeof(f->dir), "store");
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

static int
open_store(struct fx *f, char *err, size_t errlen)
{
	return store_open(&f->store, f->dir, 1 << 20, 1 << 30, err, errlen);
}

static uint64_t
format_of(struct fx *f)
{
	MDB_txn *txn;
	uint64_t fmt;

	assert_int_equal(store_txn_read(&f->store, &txn), 0);
	fmt = store_counter_get(&f->store, txn, "format");
	mdb_txn_abort(txn);
	return fmt;
}

/* Rewrites the format counter, as a store of that format would hold it. */
static void
set_format(struct fx *f, uint64_t fmt)
{
	MDB_txn *txn;

	assert_int_equal(store_txn_write(&f->store, &txn), 0);
	assert_int_equal(store_counter_add(&f->store, txn, "format",
	    (int64_t)(fmt - store_counter_get(&f->store, txn, "format"))), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	store_close(&f->store);
}

static void
test_new_store_is_current(void **state)
{
	struct fx *f = *state;
	char err[256] = "";

	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	assert_int_equal(format_of(f), STORE_FORMAT);
	store_close(&f->store);
	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	assert_int_equal(format_of(f), STORE_FORMAT);
}

static void
test_older_format_is_converted(void **state)
{
	struct fx *f = *state;
	char err[256] = "";

	assert_true(STORE_FORMAT_MIN < STORE_FORMAT);
	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	set_format(f, STORE_FORMAT_MIN);
	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	assert_int_equal(format_of(f), STORE_FORMAT);
}

static void
test_unknown_format_is_refused(void **state)
{
	struct fx *f = *state;
	char err[256] = "", want[64];

	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	set_format(f, STORE_FORMAT + 1);
	assert_int_equal(open_store(f, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "store format %d,", STORE_FORMAT + 1);
	assert_non_null(strstr(err, want));
	assert_null(f->store.env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_store_is_current,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_format_is_converted,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_format_is_refused,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
