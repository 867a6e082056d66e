/*
 * test_store.c - store.c's format check: a new store is written in the
 * current format, an older one that the modules convert is opened and
 * marked current, and any other is refused with a message.  Its own
 * checks of what LMDB trusts: a truncated data.mdb is refused before it is
 * mapped, a lost one where the marker says a store was is refused unless
 * STORE_NEW; the record checksum; and why a commit failed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

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

/* Fills the store with n 1 KiB values, so data.mdb has many pages. */
static void
fill(struct fx *f, int n)
{
	char val[1024];
	MDB_txn *txn;
	MDB_dbi dbi;

	memset(val, 'v', sizeof(val));
	assert_int_equal(store_txn_write(&f->store, &txn), 0);
	assert_int_equal(store_dbi(txn, "fill", MDB_INTEGERKEY, &dbi), 0);
	for (uint64_t i = 0; i < (uint64_t)n; i++)
		assert_int_equal(mdb_put(txn, dbi, &(MDB_val){ sizeof(i), &i },
		    &(MDB_val){ sizeof(val), val }, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static void
data_path(struct fx *f, char *path, size_t len)
{
	snprintf(path, len, "%s/data.mdb", f->dir);
}

static void
test_truncated_file_is_refused(void **state)
{
	struct fx *f = *state;
	char err[512] = "", path[128];
	struct stat st;

	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	fill(f, 200);
	store_close(&f->store);
	data_path(f, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	/* Before the check, LMDB mapped it and the first read past the end
	 * was a SIGBUS. */
	assert_int_equal(open_store(f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "truncated"));
	assert_null(f->store.env);
	/* Shorter than its meta pages: refused too. */
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(open_store(f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "meta page"));
}

static void
test_damaged_meta_is_refused(void **state)
{
	struct fx *f = *state;
	char err[512] = "", path[128];
	int fd;

	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	store_close(&f->store);
	data_path(f, path, sizeof(path));
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\0\0\0\0", 4, 16), 4);	/* the magic */
	close(fd);
	assert_int_equal(open_store(f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "damaged"));
}

static void
test_lost_store_is_refused(void **state)
{
	struct fx *f = *state;
	char err[512] = "", path[128];

	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	store_close(&f->store);
	data_path(f, path, sizeof(path));
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(open_store(f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is empty"));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(open_store(f, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is missing"));
	assert_non_null(strstr(err, "--new-store"));
	assert_int_equal(store_open_flags(&f->store, f->dir, 1 << 20, 1 << 30,
	    STORE_NEW, err, sizeof(err)), 0);
	assert_int_equal(format_of(f), STORE_FORMAT);
}

static void
test_sum_sees_every_byte(void **state)
{
	unsigned char head[16] = { 1, 2, 3 }, body[300];
	uint32_t sum;

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (unsigned char)(i * 7);
	sum = store_sum(head, sizeof(head), body, sizeof(body));
	assert_int_equal(sum, store_sum(head, sizeof(head), body,
	    sizeof(body)));
	for (size_t i = 0; i < sizeof(head) * 8; i++) {
		head[i / 8] ^= (unsigned char)(1 << (i % 8));
		assert_int_not_equal(sum, store_sum(head, sizeof(head), body,
		    sizeof(body)));
		head[i / 8] ^= (unsigned char)(1 << (i % 8));
	}
	for (size_t i = 0; i < sizeof(body) * 8; i++) {
		body[i / 8] ^= (unsigned char)(1 << (i % 8));
		assert_int_not_equal(sum, store_sum(head, sizeof(head), body,
		    sizeof(body)));
		body[i / 8] ^= (unsigned char)(1 << (i % 8));
	}
	/* A byte moved from the body to the header is not the same. */
	assert_int_not_equal(store_sum(head, 15, body, 10),
	    store_sum(head, 16, body + 1, 9));
}

static void
test_classify(void **state)
{
	struct fx *f = *state;
	char err[256];

	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	assert_int_equal(store_classify(&f->store, MDB_MAP_FULL), STORE_FULL);
	assert_int_equal(store_classify(&f->store, ENOSPC), STORE_DISK_FULL);
	assert_int_equal(store_classify(&f->store, EDQUOT), STORE_DISK_FULL);
	/* EIO is LMDB's word for a short write: a full disk when little
	 * is free, a failing one otherwise. */
	f->store.disk_full_below = 0;
	assert_int_equal(store_classify(&f->store, EIO), STORE_FAILING);
	f->store.disk_full_below = UINT64_MAX;
	assert_int_equal(store_classify(&f->store, EIO), STORE_DISK_FULL);
	assert_int_equal(store_classify(&f->store, MDB_CORRUPTED),
	    STORE_FAILING);
	assert_string_equal(store_condition_name(STORE_DISK_FULL),
	    "disk_full");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_truncated_file_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_meta_is_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_store_is_refused,
		    setup, teardown),
		cmocka_unit_test(test_sum_sees_every_byte),
		cmocka_unit_test_setup_teardown(test_classify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_store_is_current,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_format_is_converted,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_format_is_refused,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
