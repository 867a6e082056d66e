/*
 * tstore.h - what the unit tests of the LMDB modules share: a scratch
 * directory for a store, and a queue turn begun and committed as the
 * daemon does it.  Header-only; include after cmocka.h.
 */
#ifndef SLUICE_TSTORE_H
#define SLUICE_TSTORE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "queue.h"
#include "store.h"

/* Makes /tmp/sluice-test-NAME-XXXXXX into dir (at least 64 bytes). */
static inline void
tstore_mkdir(char *dir, size_t len, const char *name)
{
	snprintf(dir, len, "/tmp/sluice-test-%s-XXXXXX", name);
	assert_non_null(mkdtemp(dir));
}

/* Removes a store's files and its directory. */
static inline void
tstore_rmdir(const char *dir)
{
	const char *files[] = { "data.mdb", "lock.mdb", "sluiced.lock",
	    STORE_MARKER };
	char path[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	assert_int_equal(rmdir(dir), 0);
}

/* Begins a turn of q in a write transaction of s. */
static inline void
tstore_begin(struct queue *q, struct store *s, MDB_txn **txn)
{
	queue_turn_begin(q);
	assert_int_equal(store_txn_write(s, txn), 0);
}

/* Flushes q's turn and commits it. */
static inline void
tstore_commit(struct queue *q, MDB_txn **txn)
{
	assert_int_equal(queue_turn_flush(q, *txn), 0);
	assert_int_equal(mdb_txn_commit(*txn), 0);
	*txn = NULL;
}

#endif
