/*
 * lsh.h - the duplicate index's keys, in memory (see dedup.h).
 *
 * Every first copy is filed under 32-bit keys (dedup.c: its exact hash's
 * first bits and its DEDUP_BANDS band keys), and a lookup asks which
 * documents share a key.  In LMDB B-trees each of those keys sat in a
 * random leaf: a lookup cost a descent per key and an insert a copied leaf
 * per key, both dearer the more documents were stored.  Here one
 * open-addressing table (linear probing, the key's own bits as the hash:
 * the keys are hashes already) answers each with one or two cache lines,
 * at any size.  LMDB keeps the keys too, appended per document, and
 * dedup_open() loads them back at start.
 *
 * A slot holds key << 32 | (ordinal + 1), 0 when empty; ordinals index
 * the documents in the order they were added.  Between 8 / LSH_LOAD_MAX
 * and 1.5 times that a key, plus 8 a document: with dedup.c's 15 keys,
 * 160 to 240 bytes a document.
 *
 * Changes follow the caller's write transaction: lsh_commit() keeps them,
 * lsh_rollback() undoes everything added since the last commit.
 */
#ifndef SLUICE_LSH_H
#define SLUICE_LSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Documents filed under one key at most: the rest would be stray
 * candidates past any lookup's budget, and would lengthen every probe
 * that crosses their cluster. */
#define LSH_KEY_MAX	256
/* Highest share of slots in use before the table grows by half. */
#define LSH_LOAD_MAX	0.8

struct lsh {
	uint64_t	*slot;
	size_t		 size;		/* slots */
	size_t		 used;
	/* While the table grows: the one whose entries are being moved,
	 * the next slot to move and how many are left. */
	uint64_t	*old;
	size_t		 oldsize;
	size_t		 oldused;
	size_t		 pos;
	size_t		 left;
	uint64_t	*doc;		/* ordinal -> document id */
	size_t		 ndoc;
	size_t		 capdoc;
	uint64_t	*undo;		/* slot values added since the commit */
	size_t		 nundo;
	size_t		 capundo;
	size_t		 commit_ndoc;
	/* Heap bytes the table may reach, 0 for no bound; once an add
	 * would pass it, full is set and the add refused. */
	size_t		 max_bytes;
	bool		 full;
};

/* An empty index with room for docs documents of nkeys keys each, or as
 * many as max_bytes (0: no bound) holds.  Returns 0 or ENOMEM. */
int lsh_init(struct lsh *t, size_t docs, size_t nkeys, size_t max_bytes);
void lsh_free(struct lsh *t);

/* Files doc_id under each of its n keys.  Returns 0, ENOSPC when that
 * would take the table past max_bytes, or ENOMEM; nothing of the document
 * is kept then. */
int lsh_add(struct lsh *t, uint64_t doc_id, const uint32_t *keys, size_t n);

/* Up to max documents filed under key, in no set order (a growing table
 * moves entries), into ids.  Returns how many. */
size_t lsh_find(const struct lsh *t, uint32_t key, size_t max,
    uint64_t *ids);

/* Starts loading the slots where keys are looked up: one lookup of a
 * large table is a cache miss, and n of them overlap when asked for
 * together rather than one after the other. */
void lsh_prefetch(const struct lsh *t, const uint32_t *keys, size_t n);

/* Keeps, or drops, what was added since the last commit. */
void lsh_commit(struct lsh *t);
void lsh_rollback(struct lsh *t);

/* Heap bytes held. */
size_t lsh_bytes(const struct lsh *t);

#endif
