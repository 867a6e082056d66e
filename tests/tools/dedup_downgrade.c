/*
 * dedup-downgrade STATE_DIR - rewrites the duplicate index of a stopped
 * sluiced's state directory the way store format 2 kept it, so that the
 * integration tests can check what an upgrade does to a real store:
 *   - exact hashes in dedup_exact (16-byte hash -> doc id),
 *   - band keys in dedup_bands (MDB_INTEGERKEY|MDB_DUPSORT|MDB_DUPFIXED|
 *     MDB_INTEGERDUP, band key -> doc ids),
 *   - the index format record 2, the store's format counter 2,
 *   - and no dedup_keys.
 * The signature records are the same in both formats and stay.
 * Test-only: never installed.
 */
#include <stdio.h>
#include <string.h>

#include <lmdb.h>

#include "dedup.h"
#include "store.h"

/* Files one dedup_keys record under format 2's two B-trees. */
static int
put_old(MDB_txn *txn, MDB_dbi exact, MDB_dbi bands, MDB_val *k, MDB_val *v)
{
	const unsigned char *r = v->mv_data;
	MDB_val hk = { DEDUP_KEYS_EXACT, (void *)r };
	int rc = mdb_put(txn, exact, &hk, k, 0);

	for (size_t j = 0; rc == 0 && v->mv_size == DEDUP_KEYS_NEAR &&
	    j < DEDUP_BANDS; j++) {
		uint32_t band;
		MDB_val bk = { sizeof(band), &band };

		memcpy(&band, r + DEDUP_KEYS_EXACT + 4 * j, sizeof(band));
		rc = mdb_put(txn, bands, &bk, k, 0);
	}
	return rc;
}

static int
downgrade(struct store *s)
{
	MDB_dbi keys, exact, bands, sigs;
	uint8_t fmt[8] = { 2 };
	uint64_t zero = 0;
	MDB_val k = { sizeof(zero), &zero }, v = { sizeof(fmt), fmt };
	MDB_cursor *cur;
	MDB_txn *txn;
	int rc;

	rc = store_txn_write(s, &txn);
	if (rc != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, "dedup_keys", MDB_INTEGERKEY, &keys)) ||
	    (rc = mdb_dbi_open(txn, "dedup_sigs", MDB_INTEGERKEY, &sigs)) ||
	    (rc = mdb_dbi_open(txn, "dedup_exact", MDB_CREATE, &exact)) ||
	    (rc = mdb_dbi_open(txn, "dedup_bands", MDB_CREATE |
	    MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP,
	    &bands)) || (rc = mdb_cursor_open(txn, keys, &cur))) {
		mdb_txn_abort(txn);
		return rc;
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
		if ((rc = put_old(txn, exact, bands, &k, &v)) != 0)
			break;
	mdb_cursor_close(cur);
	k = (MDB_val){ sizeof(zero), &zero };
	v = (MDB_val){ sizeof(fmt), fmt };
	if (rc == MDB_NOTFOUND)
		rc = mdb_drop(txn, keys, 1);
	if (rc == 0)
		rc = mdb_put(txn, sigs, &k, &v, 0);
	if (rc == 0)
		rc = store_counter_add(s, txn, "format",
		    2 - (int64_t)store_counter_get(s, txn, "format"));
	if (rc == 0)
		return mdb_txn_commit(txn);
	mdb_txn_abort(txn);
	return rc;
}

int
main(int argc, char **argv)
{
	struct store s;
	char err[256] = "";
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: dedup-downgrade STATE_DIR\n");
		return 2;
	}
	if (store_open(&s, argv[1], 64 << 20, (uint64_t)1 << 34, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "dedup-downgrade: %s\n", err);
		return 1;
	}
	rc = downgrade(&s);
	store_close(&s);
	if (rc != 0) {
		fprintf(stderr, "dedup-downgrade: %s\n", mdb_strerror(rc));
		return 1;
	}
	return 0;
}
