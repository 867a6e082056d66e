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

#include "doc.h"
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

/* --- documents: doc.c's records and their checksum ---------------- */

struct walked {
	int		 docs;
	int		 damaged;
	int		 index;
	uint64_t	 last;
	uint64_t	 seen;		/* bit id: documents passed */
};

static int
walk_fn(uint64_t id, const char *json, size_t len, uint64_t flags,
    void *arg)
{
	struct walked *w = arg;

	(void)len;
	w->last = id;
	if (flags & DOC_DAMAGED_INDEX)
		w->index++;
	else if (flags & DOC_DAMAGED)
		w->damaged++;
	else {
		assert_non_null(json);
		assert_true(id < 64 && !(w->seen & (1ULL << id)));
		w->seen |= 1ULL << id;
		w->docs++;
	}
	return 0;
}

static struct walked
walk_all(struct fx *f, struct docs *d)
{
	struct doc_cursor pos = { .ms = 0 };
	struct walked w = { 0 };
	MDB_txn *txn;
	size_t n;

	assert_int_equal(store_txn_read(&f->store, &txn), 0);
	assert_int_equal(doc_walk(d, txn, &pos, 100, walk_fn, &w, &n),
	    MDB_NOTFOUND);
	mdb_txn_abort(txn);
	return w;
}

/* Rewrites document id's value: byte at off xor x, or a whole value. */
static void
doc_poke(struct fx *f, struct docs *d, uint64_t id, size_t off,
    unsigned char x, const void *whole, size_t whole_len)
{
	MDB_val k = { sizeof(id), &id }, v;
	unsigned char buf[512];
	MDB_txn *txn;

	assert_int_equal(store_txn_write(&f->store, &txn), 0);
	if (whole != NULL) {
		v.mv_data = (void *)whole;
		v.mv_size = whole_len;
	} else {
		assert_int_equal(mdb_get(txn, d->docs, &k, &v), 0);
		memcpy(buf, v.mv_data, v.mv_size);
		buf[off] ^= x;
		v.mv_data = buf;
	}
	assert_int_equal(mdb_put(txn, d->docs, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static int
doc_text(struct fx *f, struct docs *d, uint64_t id, uint64_t *flags)
{
	const char *json;
	MDB_txn *txn;
	size_t len;
	int rc;

	assert_int_equal(store_txn_read(&f->store, &txn), 0);
	rc = doc_get_text(d, txn, id, &json, &len, flags);
	mdb_txn_abort(txn);
	return rc;
}

static void
test_doc_checksum_and_upgrade(void **state)
{
	struct fx *f = *state;
	const char *j = "{\"title\":\"t\"}";
	unsigned char v1[64];
	uint64_t ms = 1000, flags = DOC_DUPLICATE;
	struct docs d;
	struct walked w;
	MDB_txn *txn;
	char err[256];

	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	assert_int_equal(store_txn_write(&f->store, &txn), 0);
	assert_int_equal(doc_open(&d, txn), 0);
	for (uint64_t id = 1; id <= 4; id++)
		assert_int_equal(doc_put(&d, txn, id, j, strlen(j), 1000 + id,
		    id == 2 ? DOC_DUPLICATE : 0, NULL, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_int_equal(doc_text(f, &d, 2, &flags), 0);
	assert_int_equal(flags, DOC_DUPLICATE);
	/* A flipped byte of the text, or of the header. */
	doc_poke(f, &d, 1, 16 + 3, 0x20, NULL, 0);
	doc_poke(f, &d, 2, 10, 0x01, NULL, 0);
	assert_int_equal(doc_text(f, &d, 1, NULL), MDB_CORRUPTED);
	assert_int_equal(doc_text(f, &d, 2, NULL), MDB_CORRUPTED);
	w = walk_all(f, &d);
	assert_int_equal(w.docs, 2);
	assert_int_equal(w.damaged, 2);
	/* Version 1: fetched_ms, a 64-bit flags word, the text; no sum. */
	memcpy(v1, &ms, 8);
	memcpy(v1 + 8, &flags, 8);
	memcpy(v1 + 16, j, strlen(j));
	ms = 1003;
	memcpy(v1, &ms, 8);
	doc_poke(f, &d, 3, 0, 0, v1, 16 + strlen(j));
	assert_int_equal(doc_text(f, &d, 3, &flags), 0);
	assert_int_equal(flags, DOC_DUPLICATE);
	/* ... whose text must at least be JSON. */
	ms = 1004;
	memcpy(v1, &ms, 8);
	v1[16 + 2] = 0xff;
	doc_poke(f, &d, 4, 0, 0, v1, 16 + strlen(j));
	assert_int_equal(doc_text(f, &d, 4, NULL), MDB_CORRUPTED);
	/* The upgrade rewrites the sound one, and leaves the others. */
	assert_int_equal(doc_upgrade(&d, &f->store), 0);
	assert_int_equal(doc_text(f, &d, 3, &flags), 0);
	assert_int_equal(flags, DOC_DUPLICATE);
	doc_poke(f, &d, 3, 16 + 3, 0x20, NULL, 0);
	assert_int_equal(doc_text(f, &d, 3, NULL), MDB_CORRUPTED);
	assert_int_equal(doc_text(f, &d, 4, NULL), MDB_CORRUPTED);
}

/* A damaged time index entry is told, and the documents it lost come
 * at the end, once each. */
static void
test_doc_walk_cross_checks(void **state)
{
	struct fx *f = *state;
	const char *j = "{}";
	unsigned char key[16];
	struct docs d;
	struct walked w;
	MDB_txn *txn;
	char err[256];

	assert_int_equal(open_store(f, err, sizeof(err)), 0);
	assert_int_equal(store_txn_write(&f->store, &txn), 0);
	assert_int_equal(doc_open(&d, txn), 0);
	for (uint64_t id = 1; id <= 3; id++)
		assert_int_equal(doc_put(&d, txn, id, j, 2, 1000 + id, 0, NULL,
		    0), 0);
	/* Document 2's entry, damaged in its id: it names document 9. */
	store_put_be64(key, 1002);
	store_put_be64(key + 8, 2);
	assert_int_equal(mdb_del(txn, d.by_time, &(MDB_val){ 16, key },
	    NULL), 0);
	store_put_be64(key + 8, 9);
	assert_int_equal(mdb_put(txn, d.by_time, &(MDB_val){ 16, key },
	    &(MDB_val){ 0, NULL }, 0), 0);
	/* Document 3's, damaged in its time. */
	store_put_be64(key, 1003);
	store_put_be64(key + 8, 3);
	assert_int_equal(mdb_del(txn, d.by_time, &(MDB_val){ 16, key },
	    NULL), 0);
	store_put_be64(key, 5003);
	assert_int_equal(mdb_put(txn, d.by_time, &(MDB_val){ 16, key },
	    &(MDB_val){ 0, NULL }, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	w = walk_all(f, &d);
	assert_int_equal(w.docs, 3);
	assert_int_equal(w.index, 2);
	assert_int_equal(w.seen, 0xe);
	assert_int_equal(w.last, 3);
	/* The same one at a time, each walk in its own transaction, as an
	 * export resumes. */
	struct doc_cursor pos = { .ms = 0 };
	size_t n;
	int rc;

	w = (struct walked){ 0 };
	do {
		assert_int_equal(store_txn_read(&f->store, &txn), 0);
		rc = doc_walk(&d, txn, &pos, 1, walk_fn, &w, &n);
		mdb_txn_abort(txn);
	} while (rc == 0);
	assert_int_equal(rc, MDB_NOTFOUND);
	assert_int_equal(w.docs, 3);
	assert_int_equal(w.index, 2);
	/* From a later time: only what was fetched since. */
	pos = (struct doc_cursor){ .ms = 1003 };
	w = (struct walked){ 0 };
	assert_int_equal(store_txn_read(&f->store, &txn), 0);
	assert_int_equal(doc_walk(&d, txn, &pos, 100, walk_fn, &w, &n),
	    MDB_NOTFOUND);
	mdb_txn_abort(txn);
	assert_int_equal(w.seen, 0x8);
	assert_int_equal(w.index, 1);
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
		cmocka_unit_test_setup_teardown(test_doc_checksum_and_upgrade,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_doc_walk_cross_checks,
		    setup, teardown),
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
