/*
 * doc.h - stored documents.
 *
 *   docs     id (native u64)              -> fetched_ms, flags (u64 each)
 *                                             + JSON text
 *   by_time  fetched_ms (be64) id (be64)  -> ""      export order
 *   bodies   id (native u64)              -> zstd frame of the raw body
 *   dups     first (be64) copy (be64)     -> kind (u32), similarity
 *                                             (double): the copies of a
 *                                             document, for `dups`
 *
 * A document's id is the id of the job that fetched it.  doc_put() runs in
 * the same transaction that marks the job done, so a document is never
 * stored twice and never lost; a forced refetch replaces it.
 */
#ifndef SLUICE_DOC_H
#define SLUICE_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

struct store;

struct docs {
	MDB_dbi		 docs;
	MDB_dbi		 by_time;
	MDB_dbi		 bodies;
	MDB_dbi		 dups;
};

/* How a copy matched its first document. */
enum doc_dup_kind {
	DOC_DUP_URL = 1,	/* its canonical URL was stored already */
	DOC_DUP_EXACT,		/* the same normalised text */
	DOC_DUP_NEAR,		/* nearly the same text */
};

/* Document flags, kept before the JSON so export can filter unparsed. */
#define DOC_DUPLICATE	0x1
/* Never stored: what doc_walk() tells fn of a damaged record (json is
 * NULL).  DOC_DAMAGED: the document fails its checksum (or, stored before
 * checksums, is not JSON).  DOC_DAMAGED_INDEX: a time index entry names
 * no such document, or one of another time (id may be garbage, or 0). */
#define DOC_DAMAGED		0x10000
#define DOC_DAMAGED_INDEX	0x20000

int doc_open(struct docs *d, MDB_txn *txn);
/* Stores (or replaces) document id; raw may be NULL. */
int doc_put(struct docs *d, MDB_txn *txn, uint64_t id, const char *json,
    size_t len, uint64_t fetched_ms, uint64_t flags, const void *raw,
    size_t raw_len);
/*
 * Store format 4 gave documents a checksum: rewrites the older records,
 * in batches of their own transactions, once per store (the counter
 * "format.docs" says it is done).  Before the daemon reads any.
 */
int doc_upgrade(struct docs *d, struct store *s);

/*
 * sluiced --check: every document's checksum and time index entry, every
 * time index entry's document, every copy's first.  Calls fn once per
 * problem with a line that names it; *docs counts the documents.
 */
int doc_check(struct docs *d, MDB_txn *txn,
    void (*fn)(const char *problem, void *arg), void *arg, uint64_t *docs);

/* Reads document id as parsed JSON (caller decrefs).  MDB_NOTFOUND, or
 * MDB_CORRUPTED for a document that fails its checksum. */
int doc_get(struct docs *d, MDB_txn *txn, uint64_t id, json_t **doc);
/*
 * The raw body stored with document id (store.keep_raw), decompressed into
 * *out (the caller frees it), of *len bytes.  0; MDB_NOTFOUND when none is
 * stored; EFBIG when it is over max bytes; MDB_CORRUPTED when the stored
 * frame does not decode; ENOMEM.
 */
int doc_get_raw(struct docs *d, MDB_txn *txn, uint64_t id, size_t max,
    void **out, size_t *len);
/* Reads document id's JSON text in place (valid until txn ends). */
int doc_get_text(struct docs *d, MDB_txn *txn, uint64_t id,
    const char **json, size_t *len, uint64_t *flags);

/* Rewrites document id's JSON and flags, keeping its fetch time (and so
 * its place in the time index) and its raw body.  0, MDB_NOTFOUND or an
 * LMDB error. */
int doc_update(struct docs *d, MDB_txn *txn, uint64_t id, const char *json,
    size_t len, uint64_t flags);
/* The first document id greater than after, and its fetch time: 0, or
 * MDB_NOTFOUND past the last. */
int doc_next(struct docs *d, MDB_txn *txn, uint64_t after, uint64_t *id,
    uint64_t *fetched_ms);
/* Forgets that copy duplicates first: 0 (also when it did not). */
int doc_del_dup(struct docs *d, MDB_txn *txn, uint64_t first, uint64_t copy);

/* Records that document copy duplicates document first. */
int doc_add_dup(struct docs *d, MDB_txn *txn, uint64_t first, uint64_t copy,
    enum doc_dup_kind kind, double similarity);
/* Calls fn for each copy of first, in id order; fn returns nonzero to
 * stop.  0 or an LMDB error. */
int doc_walk_dups(struct docs *d, MDB_txn *txn, uint64_t first,
    int (*fn)(uint64_t copy, enum doc_dup_kind kind, double similarity,
    void *arg), void *arg);
const char *doc_dup_kind_name(enum doc_dup_kind k);

/* Position of an export in fetch order.  Start with ms (the first time
 * wanted) and the rest zero; copies of it resume where it was. */
struct doc_cursor {
	uint64_t	 ms;
	uint64_t	 id;
	/* doc_walk()'s own: */
	uint64_t	 since;		/* the first ms asked for */
	bool		 started;
	bool		 damaged;	/* met a damaged time index entry */
	bool		 sweep;		/* past the time index: the documents
					   it lost, in id order */
};

/*
 * Calls fn for up to max documents after position *pos (in fetch order),
 * advancing *pos.  fn returns nonzero to stop early.  Returns the number
 * of documents visited via *n, and 0 or an LMDB error (MDB_NOTFOUND when
 * the end is reached).  Damaged records reach fn as DOC_DAMAGED or
 * DOC_DAMAGED_INDEX.  If the time index had a damaged entry, or holds
 * fewer entries than there are documents, the walk goes on past its end
 * through the documents by id, and gives fn those at or after since that
 * the time index lost: a damaged index loses no document.
 */
int doc_walk(struct docs *d, MDB_txn *txn, struct doc_cursor *pos,
    size_t max, int (*fn)(uint64_t id, const char *json, size_t len,
    uint64_t flags, void *arg), void *arg, size_t *n);

#endif
