/*
 * doc.h - stored documents.
 *
 *   docs     id (native u64)              -> fetched_ms, flags (u64 each)
 *                                             + JSON text
 *   by_time  fetched_ms (be64) id (be64)  -> ""      export order
 *   bodies   id (native u64)              -> zstd frame of the raw body
 *
 * A document's id is the id of the job that fetched it.  doc_put() runs in
 * the same transaction that marks the job done, so a document is never
 * stored twice and never lost; a forced refetch replaces it.
 */
#ifndef SLUICE_DOC_H
#define SLUICE_DOC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

struct docs {
	MDB_dbi		 docs;
	MDB_dbi		 by_time;
	MDB_dbi		 bodies;
};

/* Document flags, kept before the JSON so export can filter unparsed. */
#define DOC_DUPLICATE	0x1

int doc_open(struct docs *d, MDB_txn *txn);
/* Stores (or replaces) document id; raw may be NULL. */
int doc_put(struct docs *d, MDB_txn *txn, uint64_t id, const char *json,
    size_t len, uint64_t fetched_ms, uint64_t flags, const void *raw,
    size_t raw_len);
/* Reads document id as parsed JSON (caller decrefs).  MDB_NOTFOUND. */
int doc_get(struct docs *d, MDB_txn *txn, uint64_t id, json_t **doc);
/* Reads document id's JSON text in place (valid until txn ends). */
int doc_get_text(struct docs *d, MDB_txn *txn, uint64_t id,
    const char **json, size_t *len, uint64_t *flags);

/* Position of an export in fetch order. */
struct doc_cursor {
	uint64_t	 ms;
	uint64_t	 id;
};

/*
 * Calls fn for up to max documents after position *pos (in fetch order),
 * advancing *pos.  fn returns nonzero to stop early.  Returns the number
 * of documents visited via *n, and 0 or an LMDB error (MDB_NOTFOUND when
 * the end is reached).
 */
int doc_walk(struct docs *d, MDB_txn *txn, struct doc_cursor *pos,
    size_t max, int (*fn)(uint64_t id, const char *json, size_t len,
    uint64_t flags, void *arg), void *arg, size_t *n);

#endif
