/*
 * doc.c - documents in LMDB (see doc.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "doc.h"
#include "store.h"
#include "util.h"

/*
 * A document's value: this header, then its JSON text.  Version 1's
 * header was fetched_ms and a 64-bit flags word whose first byte (0 or 1:
 * the one flag) is where version sits now, so the two are told apart.
 * The checksum is store_sum() of the header with sum zeroed, then the
 * text.
 */
#define DOC_RECORD_V1		1	/* no checksum: still read */
#define DOC_RECORD_VERSION	2
#define DOC_UPGRADE_BATCH	1000	/* documents per transaction */

struct doc_disk {
	uint64_t	 fetched_ms;
	uint8_t		 version;
	uint8_t		 reserved;
	uint16_t	 flags;
	uint32_t	 sum;
};
_Static_assert(sizeof(struct doc_disk) == 16, "doc_disk has no padding");

#define DOC_HEADER	sizeof(struct doc_disk)

/* A document as read, checked. */
struct doc_rec {
	uint64_t	 fetched_ms;
	uint64_t	 flags;
	unsigned	 version;
	const char	*json;		/* in the map: valid until txn ends */
	size_t		 len;
};

/*
 * Reads a version 1 record.  It has no checksum: its text must at least
 * be JSON (and so UTF-8).  Once doc_upgrade() has run, only a record that
 * failed this check is left at version 1.
 */
static int
doc_decode_v1(const MDB_val *v, struct doc_rec *r)
{
	const unsigned char *p = v->mv_data;
	uint64_t flags;
	json_t *j;

	memcpy(&r->fetched_ms, p, sizeof(r->fetched_ms));
	memcpy(&flags, p + 8, sizeof(flags));
	if (flags > DOC_DUPLICATE)
		return MDB_CORRUPTED;
	r->flags = flags;
	r->version = DOC_RECORD_V1;
	r->json = (const char *)p + DOC_HEADER;
	r->len = v->mv_size - DOC_HEADER;
	j = json_loadb(r->json, r->len, 0, NULL);
	if (j == NULL)
		return MDB_CORRUPTED;
	json_decref(j);
	return 0;
}

/* 0, or MDB_CORRUPTED for a record that fails its checksum. */
static int
doc_decode(const MDB_val *v, struct doc_rec *r)
{
	const unsigned char *p = v->mv_data;
	struct doc_disk h;
	uint32_t sum;

	if (v->mv_size < DOC_HEADER)
		return MDB_CORRUPTED;
	if (p[8] != DOC_RECORD_VERSION)
		return doc_decode_v1(v, r);
	memcpy(&h, p, sizeof(h));
	sum = h.sum;
	h.sum = 0;
	if (h.version != DOC_RECORD_VERSION || sum != store_sum(&h,
	    sizeof(h), p + DOC_HEADER, v->mv_size - DOC_HEADER))
		return MDB_CORRUPTED;
	r->fetched_ms = h.fetched_ms;
	r->flags = h.flags;
	r->version = DOC_RECORD_VERSION;
	r->json = (const char *)p + DOC_HEADER;
	r->len = v->mv_size - DOC_HEADER;
	return 0;
}

static int
doc_read(struct docs *d, MDB_txn *txn, uint64_t id, struct doc_rec *r)
{
	MDB_val k = { sizeof(id), &id }, v;
	int rc = mdb_get(txn, d->docs, &k, &v);

	return rc != 0 ? rc : doc_decode(&v, r);
}

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
doc_del_dup(struct docs *d, MDB_txn *txn, uint64_t first, uint64_t copy)
{
	unsigned char key[16];
	int rc;

	store_put_be64(key, first);
	store_put_be64(key + 8, copy);
	rc = mdb_del(txn, d->dups, &(MDB_val){ sizeof(key), key }, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
doc_update(struct docs *d, MDB_txn *txn, uint64_t id, const char *json,
    size_t len, uint64_t flags)
{
	MDB_val k = { sizeof(id), &id }, v = { DOC_HEADER + len, NULL };
	struct doc_disk h = { .version = DOC_RECORD_VERSION, .reserved = 0,
	    .flags = (uint16_t)flags, .sum = 0 };
	struct doc_rec r;
	int rc = doc_read(d, txn, id, &r);

	if (rc != 0)
		return rc;
	h.fetched_ms = r.fetched_ms;
	if ((rc = mdb_put(txn, d->docs, &k, &v, MDB_RESERVE)) != 0)
		return rc;
	h.sum = store_sum(&h, sizeof(h), json, len);
	memcpy(v.mv_data, &h, sizeof(h));
	memcpy((char *)v.mv_data + DOC_HEADER, json, len);
	return 0;
}

int
doc_next(struct docs *d, MDB_txn *txn, uint64_t after, uint64_t *id,
    uint64_t *fetched_ms)
{
	uint64_t from = after + 1;
	MDB_val k = { sizeof(from), &from }, v;
	MDB_cursor *cur;
	int rc;

	if (after == UINT64_MAX)
		return MDB_NOTFOUND;
	if ((rc = mdb_cursor_open(txn, d->docs, &cur)) != 0)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0) {
		memcpy(id, k.mv_data, sizeof(*id));
		*fetched_ms = 0;
		if (v.mv_size >= sizeof(*fetched_ms))
			memcpy(fetched_ms, v.mv_data, sizeof(*fetched_ms));
	}
	mdb_cursor_close(cur);
	return rc;
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
	struct doc_disk h = { .fetched_ms = fetched_ms,
	    .version = DOC_RECORD_VERSION, .reserved = 0,
	    .flags = (uint16_t)flags, .sum = 0 };
	unsigned char key[16];
	int rc = doc_unindex(d, txn, id);

	if (rc == 0)
		rc = mdb_put(txn, d->docs, &k, &v, MDB_RESERVE);
	if (rc != 0)
		return rc;
	h.sum = store_sum(&h, sizeof(h), json, len);
	memcpy(v.mv_data, &h, sizeof(h));
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
	struct doc_rec r;
	int rc = doc_read(d, txn, id, &r);

	if (rc != 0)
		return rc;
	if (flags != NULL)
		*flags = r.flags;
	*json = r.json;
	*len = r.len;
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

/* Entries looked at on each side of where a failed lookup landed: more
 * than a page of the time index holds (4 KiB / 26 bytes a node). */
#define DOC_NEAR	256

/*
 * Whether document id has its own time index entry at ms.  A damaged key
 * is out of order, and can hide its neighbours from LMDB's binary search
 * (a lookup of the next key fails): when the lookup fails, the entries
 * around where it landed are looked at too.
 */
static bool
doc_indexed(struct docs *d, MDB_txn *txn, uint64_t ms, uint64_t id)
{
	unsigned char key[16];
	MDB_val k = { sizeof(key), key }, v;
	MDB_cursor *cur;
	bool found = false;
	int rc;

	time_key(key, ms, id);
	if (mdb_get(txn, d->by_time, &k, &v) == 0)
		return true;
	if (mdb_cursor_open(txn, d->by_time, &cur) != 0)
		return false;
	for (int dir = 0; dir < 2 && !found; dir++) {
		k = (MDB_val){ sizeof(key), key };
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
		for (int i = 0; rc == 0 && i < DOC_NEAR && !found; i++) {
			found = k.mv_size == sizeof(key) &&
			    memcmp(k.mv_data, key, sizeof(key)) == 0;
			rc = mdb_cursor_get(cur, &k, &v, dir ? MDB_PREV :
			    MDB_NEXT);
		}
	}
	mdb_cursor_close(cur);
	return found;
}

typedef int (*doc_walk_fn)(uint64_t id, const char *json, size_t len,
    uint64_t flags, void *arg);

/*
 * One entry of the time index, checked against its document.  A document
 * that fails its checksum is passed to fn as DOC_DAMAGED; an entry that
 * names no document, or one of another time, as DOC_DAMAGED_INDEX: the
 * entry is damaged, and the document it stood for lost its entry, which
 * the sweep finds.  Returns fn's value, or minus an LMDB error.
 */
static int
doc_walk_one(struct docs *d, MDB_txn *txn, struct doc_cursor *pos,
    doc_walk_fn fn, void *arg)
{
	struct doc_rec r;
	int rc = doc_read(d, txn, pos->id, &r);

	if (rc == MDB_CORRUPTED)
		return fn(pos->id, NULL, 0, DOC_DAMAGED, arg);
	if (rc == MDB_NOTFOUND || (rc == 0 && r.fetched_ms != pos->ms)) {
		pos->damaged = true;
		return fn(pos->id, NULL, 0, DOC_DAMAGED_INDEX, arg);
	}
	if (rc != 0)
		return -rc;
	return fn(pos->id, r.json, r.len, r.flags, arg);
}

/* The time index's walk (see doc_walk). */
static int
doc_walk_times(struct docs *d, MDB_txn *txn, struct doc_cursor *pos,
    size_t max, doc_walk_fn fn, void *arg, size_t *n)
{
	unsigned char key[16];
	MDB_val k = { sizeof(key), key }, v;
	MDB_cursor *cur;
	int rc, stop = 0;

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
		(*n)++;
		if (k.mv_size != sizeof(key)) {
			pos->damaged = true;
			stop = fn(0, NULL, 0, DOC_DAMAGED_INDEX, arg);
			continue;
		}
		pos->ms = store_get_be64(k.mv_data);
		pos->id = store_get_be64((unsigned char *)k.mv_data + 8);
		stop = doc_walk_one(d, txn, pos, fn, arg);
	}
	mdb_cursor_close(cur);
	if (stop < 0)
		return -stop;
	if (rc == 0 && (*n >= max || stop))
		return 0;
	return rc;
}

/* Whether the time index may have lost documents: a damaged entry was
 * met, or it has fewer entries than there are documents. */
static bool
doc_index_lost(struct docs *d, MDB_txn *txn, const struct doc_cursor *pos)
{
	MDB_stat a, b;

	if (pos->damaged)
		return true;
	return mdb_stat(txn, d->docs, &a) == 0 &&
	    mdb_stat(txn, d->by_time, &b) == 0 && b.ms_entries < a.ms_entries;
}

/* The sweep: documents by id after pos->id that have no time index entry
 * (and were fetched at or after since). */
static int
doc_walk_sweep(struct docs *d, MDB_txn *txn, struct doc_cursor *pos,
    size_t max, doc_walk_fn fn, void *arg, size_t *n)
{
	uint64_t start = pos->id + 1;
	MDB_val k = { sizeof(start), &start }, v;
	MDB_cursor *cur;
	int rc, stop = 0;

	if ((rc = mdb_cursor_open(txn, d->docs, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    *n < max && !stop; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct doc_rec r;
		uint64_t id, ms;
		int got;

		if (k.mv_size != sizeof(id) || v.mv_size < sizeof(ms))
			continue;
		memcpy(&id, k.mv_data, sizeof(id));
		got = doc_decode(&v, &r);
		/* A damaged one's time is read raw: if its entry is there,
		 * the time walk reported it already. */
		memcpy(&ms, v.mv_data, sizeof(ms));
		if (got == 0)
			ms = r.fetched_ms;
		if (ms < pos->since || doc_indexed(d, txn, ms, id))
			continue;
		(*n)++;
		pos->id = id;
		pos->ms = ms;
		stop = got == 0 ? fn(id, r.json, r.len, r.flags, arg) :
		    fn(id, NULL, 0, DOC_DAMAGED, arg);
	}
	mdb_cursor_close(cur);
	if (rc == 0 && (*n >= max || stop))
		return 0;
	return rc;
}

int
doc_walk(struct docs *d, MDB_txn *txn, struct doc_cursor *pos, size_t max,
    int (*fn)(uint64_t id, const char *json, size_t len, uint64_t flags,
    void *arg), void *arg, size_t *n)
{
	int rc = MDB_NOTFOUND;

	*n = 0;
	if (!pos->started) {
		pos->since = pos->ms;
		pos->started = true;
	}
	if (!pos->sweep) {
		rc = doc_walk_times(d, txn, pos, max, fn, arg, n);
		if (rc != MDB_NOTFOUND || !doc_index_lost(d, txn, pos))
			return rc;
		pos->sweep = true;
		pos->id = 0;
		if (*n >= max)
			return 0;
	}
	return doc_walk_sweep(d, txn, pos, max, fn, arg, n);
}

/* Rewrites the version 1 documents among up to DOC_UPGRADE_BATCH after
 * *after; *end once none is left. */
static int
doc_upgrade_batch(struct docs *d, MDB_txn *txn, uint64_t *after, bool *end)
{
	uint64_t ids[DOC_UPGRADE_BATCH], start = *after + 1;
	MDB_val k = { sizeof(start), &start }, v;
	size_t n = 0;
	MDB_cursor *cur;
	int rc;

	if ((rc = mdb_cursor_open(txn, d->docs, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    n < ARRAY_LEN(ids); rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != sizeof(uint64_t))
			continue;
		memcpy(after, k.mv_data, sizeof(*after));
		if (v.mv_size >= DOC_HEADER &&
		    ((unsigned char *)v.mv_data)[8] != DOC_RECORD_VERSION)
			ids[n++] = *after;
	}
	mdb_cursor_close(cur);
	*end = rc == MDB_NOTFOUND;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		MDB_val key = { sizeof(ids[i]), &ids[i] }, val;
		struct doc_rec r;
		struct doc_disk h;

		/* A damaged record stays as it is: readers refuse it. */
		if (doc_read(d, txn, ids[i], &r) != 0 ||
		    r.version != DOC_RECORD_V1)
			continue;
		h = (struct doc_disk){ .fetched_ms = r.fetched_ms,
		    .version = DOC_RECORD_VERSION, .flags = (uint16_t)r.flags };
		h.sum = store_sum(&h, sizeof(h), r.json, r.len);
		/* Same size: the header is rewritten in place. */
		if ((rc = mdb_get(txn, d->docs, &key, &val)) != 0)
			break;
		char *copy = malloc(val.mv_size);
		if (copy == NULL)
			return ENOMEM;
		memcpy(copy, val.mv_data, val.mv_size);
		memcpy(copy, &h, sizeof(h));
		val.mv_data = copy;
		rc = mdb_put(txn, d->docs, &key, &val, 0);
		free(copy);
	}
	return rc;
}

int
doc_upgrade(struct docs *d, struct store *s)
{
	uint64_t after = 0, start, fmt;
	bool end = false;
	char err[256];
	MDB_txn *txn;
	int rc;

	while (!end) {
		start = after;
		if ((rc = store_txn_write(s, &txn)) != 0)
			return rc;
		fmt = store_counter_get(s, txn, "format.docs");
		if (fmt >= DOC_RECORD_VERSION) {
			mdb_txn_abort(txn);
			return 0;
		}
		rc = doc_upgrade_batch(d, txn, &after, &end);
		if (rc == 0 && end)
			rc = store_counter_add(s, txn, "format.docs",
			    (int64_t)(DOC_RECORD_VERSION - fmt));
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc == MDB_MAP_FULL && store_grow(s, err, sizeof(err)) == 0) {
			after = start;
			end = false;
			continue;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* --- sluiced --check ----------------------------------------------- */

struct doc_checker {
	struct docs	*d;
	MDB_txn		*txn;
	struct store_report rep;
	uint64_t	 docs;
};

/* A document: its checksum, its time index entry. */
static void
doc_check_doc(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct doc_checker *c = arg;
	struct doc_rec r;
	uint64_t id;

	c->docs++;
	memcpy(&id, k->mv_data, sizeof(id));
	if (doc_decode(v, &r) != 0)
		store_problem(&c->rep, "document %llu: damaged (its checksum "
		    "does not match)", (unsigned long long)id);
	else if (!doc_indexed(c->d, c->txn, r.fetched_ms, id))
		store_problem(&c->rep, "document %llu: not in the time index "
		    "(export would not find it)", (unsigned long long)id);
}

/* A time index entry names a document of that time. */
static void
doc_check_time(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct doc_checker *c = arg;
	uint64_t ms = store_get_be64(k->mv_data),
	    id = store_get_be64((unsigned char *)k->mv_data + 8);
	struct doc_rec r;
	int got = doc_read(c->d, c->txn, id, &r);

	(void)v;
	if (got == MDB_NOTFOUND)
		store_problem(&c->rep, "time index: entry %llu/%llu names no "
		    "document", (unsigned long long)ms,
		    (unsigned long long)id);
	else if (got == 0 && r.fetched_ms != ms)
		store_problem(&c->rep, "time index: entry %llu/%llu, but "
		    "document %llu was fetched at %llu",
		    (unsigned long long)ms, (unsigned long long)id,
		    (unsigned long long)id, (unsigned long long)r.fetched_ms);
}

/* A recorded copy and its first are documents. */
static void
doc_check_dup(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct doc_checker *c = arg;
	uint64_t ids[2] = { store_get_be64(k->mv_data),
	    store_get_be64((unsigned char *)k->mv_data + 8) };
	MDB_val dv;

	(void)v;
	for (int i = 0; i < 2; i++)
		if (mdb_get(c->txn, c->d->docs, &(MDB_val){ sizeof(ids[i]),
		    &ids[i] }, &dv) == MDB_NOTFOUND)
			store_problem(&c->rep, "dups: %llu copies %llu, but "
			    "document %llu is missing",
			    (unsigned long long)ids[1],
			    (unsigned long long)ids[0],
			    (unsigned long long)ids[i]);
}

int
doc_check(struct docs *d, MDB_txn *txn,
    void (*fn)(const char *problem, void *arg), void *arg, uint64_t *docs)
{
	struct doc_checker c = { d, txn, { fn, arg }, 0 };
	int rc;

	if ((rc = store_check_walk(txn, d->docs, "docs", sizeof(uint64_t),
	    &c.rep, doc_check_doc, &c)) == 0 &&
	    (rc = store_check_walk(txn, d->by_time, "time index", 16, &c.rep,
	    doc_check_time, &c)) == 0)
		rc = store_check_walk(txn, d->dups, "dups", 16, &c.rep,
		    doc_check_dup, &c);
	*docs = c.docs;
	return rc;
}
