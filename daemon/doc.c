/*
 * doc.c - documents in LMDB (see doc.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "doc.h"
#include "store.h"

#define DOC_HEADER	(2 * sizeof(uint64_t))	/* fetched_ms, flags */

int
doc_open(struct docs *d, MDB_txn *txn)
{
	int rc;

	if ((rc = store_dbi(txn, "docs", MDB_INTEGERKEY, &d->docs)) != 0 ||
	    (rc = store_dbi(txn, "docs_by_time", 0, &d->by_time)) != 0 ||
	    (rc = store_dbi(txn, "bodies", MDB_INTEGERKEY, &d->bodies)) != 0 ||
	    (rc = store_dbi(txn, "dups", 0, &d->dups)) != 0)
		return rc;
	return 0;
}

struct dup_disk {
	uint32_t	 kind;
	uint32_t	 reserved;
	double		 similarity;
};

int
doc_add_dup(struct docs *d, MDB_txn *txn, uint64_t first, uint64_t copy,
    enum doc_dup_kind kind, double similarity)
{
	struct dup_disk v = { (uint32_t)kind, 0, similarity };
	unsigned char key[16];

	store_put_be64(key, first);
	store_put_be64(key + 8, copy);
	return mdb_put(txn, d->dups, &(MDB_val){ sizeof(key), key },
	    &(MDB_val){ sizeof(v), &v }, 0);
}

int
doc_walk_dups(struct docs *d, MDB_txn *txn, uint64_t first,
    int (*fn)(uint64_t copy, enum doc_dup_kind kind, double similarity,
    void *arg), void *arg)
{
	unsigned char key[16];
	MDB_val k = { sizeof(key), key }, v;
	MDB_cursor *cur;
	int rc, stop = 0;

	store_put_be64(key, first);
	store_put_be64(key + 8, 0);
	if ((rc = mdb_cursor_open(txn, d->dups, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && !stop;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct dup_disk dd;

		if (k.mv_size != sizeof(key) || store_get_be64(k.mv_data) != first)
			break;
		if (v.mv_size != sizeof(dd))
			continue;
		memcpy(&dd, v.mv_data, sizeof(dd));
		stop = fn(store_get_be64((unsigned char *)k.mv_data + 8),
		    (enum doc_dup_kind)dd.kind, dd.similarity, arg);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

const char *
doc_dup_kind_name(enum doc_dup_kind k)
{
	switch (k) {
	case DOC_DUP_URL:
		return "url";
	case DOC_DUP_EXACT:
		return "exact";
	case DOC_DUP_NEAR:
		return "near";
	}
	return "?";
}

static void
time_key(unsigned char key[16], uint64_t ms, uint64_t id)
{
	store_put_be64(key, ms);
	store_put_be64(key + 8, id);
}

/* Removes the time index entry of an earlier version of document id. */
static int
doc_unindex(struct docs *d, MDB_txn *txn, uint64_t id)
{
	MDB_val k = { sizeof(id), &id }, v;
	unsigned char key[16];
	uint64_t old;
	int rc = mdb_get(txn, d->docs, &k, &v);

	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if (v.mv_size < DOC_HEADER)
		return MDB_CORRUPTED;
	memcpy(&old, v.mv_data, sizeof(old));
	time_key(key, old, id);
	rc = mdb_del(txn, d->by_time, &(MDB_val){ sizeof(key), key }, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
doc_put(struct docs *d, MDB_txn *txn, uint64_t id, const char *json,
    size_t len, uint64_t fetched_ms, uint64_t flags, const void *raw,
    size_t raw_len)
{
	MDB_val k = { sizeof(id), &id }, v = { DOC_HEADER + len, NULL };
	unsigned char key[16];
	int rc = doc_unindex(d, txn, id);

	if (rc == 0)
		rc = mdb_put(txn, d->docs, &k, &v, MDB_RESERVE);
	if (rc != 0)
		return rc;
	memcpy(v.mv_data, &fetched_ms, sizeof(fetched_ms));
	memcpy((char *)v.mv_data + sizeof(fetched_ms), &flags, sizeof(flags));
	memcpy((char *)v.mv_data + DOC_HEADER, json, len);
	time_key(key, fetched_ms, id);
	v.mv_size = 0;
	v.mv_data = NULL;
	rc = mdb_put(txn, d->by_time, &(MDB_val){ sizeof(key), key }, &v, 0);
	if (rc != 0)
		return rc;
	if (raw == NULL) {
		rc = mdb_del(txn, d->bodies, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	v.mv_size = raw_len;
	v.mv_data = (void *)raw;
	return mdb_put(txn, d->bodies, &k, &v, 0);
}

int
doc_get_raw(struct docs *d, MDB_txn *txn, uint64_t id, size_t max,
    void **out, size_t *len)
{
	MDB_val k = { sizeof(id), &id }, v;
	unsigned long long n;
	size_t got;
	int rc = mdb_get(txn, d->bodies, &k, &v);

	*out = NULL;
	*len = 0;
	if (rc != 0)
		return rc;
	n = ZSTD_getFrameContentSize(v.mv_data, v.mv_size);
	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN)
		return MDB_CORRUPTED;
	if (n > max)
		return EFBIG;
	if ((*out = malloc(n > 0 ? (size_t)n : 1)) == NULL)
		return ENOMEM;
	got = ZSTD_decompress(*out, (size_t)n, v.mv_data, v.mv_size);
	if (ZSTD_isError(got) || got != n) {
		free(*out);
		*out = NULL;
		return MDB_CORRUPTED;
	}
	*len = got;
	return 0;
}

int
doc_get_text(struct docs *d, MDB_txn *txn, uint64_t id, const char **json,
    size_t *len, uint64_t *flags)
{
	MDB_val k = { sizeof(id), &id }, v;
	int rc = mdb_get(txn, d->docs, &k, &v);

	if (rc != 0)
		return rc;
	if (v.mv_size < DOC_HEADER)
		return MDB_CORRUPTED;
	if (flags != NULL)
		memcpy(flags, (char *)v.mv_data + sizeof(uint64_t),
		    sizeof(*flags));
	*json = (const char *)v.mv_data + DOC_HEADER;
	*len = v.mv_size - DOC_HEADER;
	return 0;
}

int
doc_get(struct docs *d, MDB_txn *txn, uint64_t id, json_t **doc)
{
	const char *json;
	size_t len;
	int rc = doc_get_text(d, txn, id, &json, &len, NULL);

	if (rc != 0)
		return rc;
	*doc = json_loadb(json, len, 0, NULL);
	return *doc ? 0 : MDB_CORRUPTED;
}

int
doc_walk(struct docs *d, MDB_txn *txn, struct doc_cursor *pos, size_t max,
    int (*fn)(uint64_t id, const char *json, size_t len, uint64_t flags,
    void *arg), void *arg, size_t *n)
{
	unsigned char key[16];
	MDB_val k = { sizeof(key), key }, v;
	MDB_cursor *cur;
	int rc, stop = 0;

	*n = 0;
	if ((rc = mdb_cursor_open(txn, d->by_time, &cur)) != 0)
		return rc;
	time_key(key, pos->ms, pos->id);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	/* The position is the last one visited: skip it. */
	if (rc == 0 && k.mv_size == sizeof(key) &&
	    memcmp(k.mv_data, key, sizeof(key)) == 0 && pos->id != 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	for (; rc == 0 && *n < max && !stop;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const char *json;
		uint64_t flags;
		size_t len;

		if (k.mv_size != sizeof(key))
			continue;
		pos->ms = store_get_be64(k.mv_data);
		pos->id = store_get_be64((unsigned char *)k.mv_data + 8);
		(*n)++;
		if (doc_get_text(d, txn, pos->id, &json, &len, &flags) == 0)
			stop = fn(pos->id, json, len, flags, arg);
	}
	mdb_cursor_close(cur);
	if (rc == 0 && (*n >= max || stop))
		return 0;
	return rc;
}
