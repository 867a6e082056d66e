/*
 * lsh.c - the near-duplicate index's band keys, in memory: one
 * open-addressing table with linear probing (see lsh.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lsh.h"

#define LSH_MIN_SLOTS	1024
#define LSH_HUGE	((size_t)2 << 20)

/* A zeroed table.  A large one asks for transparent huge pages: lookups
 * land on random slots, and with 4 KiB pages each would also miss the
 * TLB. */
static uint64_t *
table_alloc(size_t n)
{
	size_t bytes = n * sizeof(uint64_t);
	void *p;

	if (bytes < LSH_HUGE)
		return calloc(n, sizeof(uint64_t));
	bytes = (bytes + LSH_HUGE - 1) & ~(LSH_HUGE - 1);
	if ((p = aligned_alloc(LSH_HUGE, bytes)) == NULL)
		return NULL;
	(void)madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 0, bytes);
	return p;
}

static uint32_t
slot_key(uint64_t v)
{
	return (uint32_t)(v >> 32);
}

/* Band keys are uniform hashes: their product with the size spreads them
 * over the table, whatever the size, with no modulo. */
static size_t
slot_home(uint32_t key, size_t size)
{
	return (size_t)(((uint64_t)key * size) >> 32);
}

static size_t
slot_next(size_t i, size_t size)
{
	return i + 1 == size ? 0 : i + 1;
}

static int
grow_array(uint64_t **a, size_t *cap, size_t need)
{
	size_t n = *cap > 0 ? *cap : 64;
	uint64_t *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n += n / 2;
	p = realloc(*a, n * sizeof(*p));
	if (p == NULL)
		return ENOMEM;
	*a = p;
	*cap = n;
	return 0;
}

/* Puts v in the first free slot of its key's run, unless the key has
 * LSH_KEY_MAX documents already.  The table has a free slot. */
static bool
slot_put(uint64_t *slot, size_t size, uint64_t v)
{
	size_t i = slot_home(slot_key(v), size), same = 0;

	for (; slot[i] != 0; i = slot_next(i, size))
		if (slot_key(slot[i]) == slot_key(v) && ++same >= LSH_KEY_MAX)
			return false;
	slot[i] = v;
	return true;
}

/*
 * Growing moves the old table's entries into the new one a few clusters
 * at a time, LSH_MOVE_PER_KEY slots scanned per key added, so that no
 * add pays for moving millions (0.4 s at 1M documents).  Meanwhile new
 * keys go to the new table, and lookups read both.  A whole cluster moves
 * at once: the old table's other chains never cross an empty slot, so
 * they stay intact.  With the new table half as large again, the move
 * ends after a sixth of the keys the new table takes before it grows in
 * turn: every key is moved twice per growth, amortised, as by a rehash.
 */
#define LSH_MOVE_PER_KEY	16

/* Moves clusters until budget slots were scanned or the old table is
 * empty, then frees it. */
static void
move_step(struct lsh *t, size_t budget)
{
	while (t->old != NULL && budget > 0) {
		size_t i = t->pos;

		if (t->left == 0) {
			free(t->old);
			t->old = NULL;
			t->oldsize = t->oldused = 0;
			return;
		}
		do {	/* the empty slot or cluster at pos */
			if (t->old[i] != 0) {
				t->used += slot_put(t->slot, t->size,
				    t->old[i]);
				t->old[i] = 0;
				t->oldused--;
			}
			i = slot_next(i, t->oldsize);
			t->left--;
			budget -= budget > 0;
		} while (t->old[i] != 0 && t->left > 0);
		t->pos = i;
	}
}

/*
 * Starts moving into a table half as large again, or larger if need keys
 * would not fit.  The old one has an empty slot (its load is below 1):
 * the move starts there, where no cluster wraps.  A move still under way
 * (LSH_MOVE_PER_KEY leaves a wide margin against that) ends at once.
 */
static int
grow(struct lsh *t, size_t need)
{
	size_t size = t->size + t->size / 2, moved = 0, i = 0;
	uint64_t *slot;

	while ((double)need > (double)size * LSH_LOAD_MAX)
		size += size / 2;
	if ((slot = table_alloc(size)) == NULL)
		return ENOMEM;
	for (size_t j = 0; j < t->oldsize; j++)
		if (t->old[j] != 0)
			moved += slot_put(slot, size, t->old[j]);
	free(t->old);
	while (t->slot[i] != 0)
		i++;
	t->old = t->slot;
	t->oldsize = t->size;
	t->oldused = t->used;
	t->pos = i;
	t->left = t->size;
	t->slot = slot;
	t->size = size;
	t->used = moved;
	return 0;
}

static bool
needs_growth(const struct lsh *t, size_t n)
{
	return (double)(t->used + n) > (double)t->size * LSH_LOAD_MAX;
}

/* Whether adding a document of n keys keeps the table within max_bytes,
 * counting a growth's new table, which lives beside the old one while
 * entries move, and a larger document array. */
static bool
fits(const struct lsh *t, size_t n)
{
	size_t bytes = lsh_bytes(t);

	if (t->max_bytes == 0)
		return true;
	if (needs_growth(t, n))
		bytes += (t->size + t->size / 2) * sizeof(uint64_t);
	if (t->ndoc + 1 > t->capdoc)
		bytes += (t->capdoc / 2 + 64) * sizeof(uint64_t);
	if (t->nundo + n > t->capundo)
		bytes += (t->capundo / 2 + 64 + n) * sizeof(uint64_t);
	return bytes <= t->max_bytes;
}

/* Room for n more keys within LSH_LOAD_MAX. */
static int
reserve_keys(struct lsh *t, size_t n)
{
	if (!needs_growth(t, n))
		return 0;
	return grow(t, t->used + t->oldused + n);
}

int
lsh_init(struct lsh *t, size_t docs, size_t nkeys, size_t max_bytes)
{
	/* A fifth more: a daemon that just started does not grow at once. */
	size_t size = (size_t)((double)docs * (double)nkeys * 1.2 /
	    LSH_LOAD_MAX);

	memset(t, 0, sizeof(*t));
	t->max_bytes = max_bytes;
	if (max_bytes != 0 && size > max_bytes / 10 * 9 / sizeof(uint64_t))
		size = max_bytes / 10 * 9 / sizeof(uint64_t);
	if (size < LSH_MIN_SLOTS)
		size = LSH_MIN_SLOTS;
	/* No more documents than the table holds. */
	if (nkeys > 0 && docs > (size_t)((double)size * LSH_LOAD_MAX) / nkeys)
		docs = (size_t)((double)size * LSH_LOAD_MAX) / nkeys;
	t->slot = table_alloc(size);
	if (t->slot == NULL || grow_array(&t->doc, &t->capdoc, docs) != 0) {
		lsh_free(t);
		return ENOMEM;
	}
	t->size = size;
	return 0;
}

void
lsh_free(struct lsh *t)
{
	free(t->slot);
	free(t->old);
	free(t->doc);
	free(t->undo);
	memset(t, 0, sizeof(*t));
}

int
lsh_add(struct lsh *t, uint64_t doc_id, const uint32_t *keys, size_t n)
{
	uint64_t ord = t->ndoc + 1;	/* 0 marks an empty slot */

	if (ord > UINT32_MAX)
		return ENOMEM;
	t->full = !fits(t, n);
	if (t->full)
		return ENOSPC;
	if (grow_array(&t->doc, &t->capdoc, t->ndoc + 1) != 0 ||
	    grow_array(&t->undo, &t->capundo, t->nundo + n) != 0 ||
	    reserve_keys(t, n) != 0)
		return ENOMEM;
	move_step(t, n * LSH_MOVE_PER_KEY);
	t->doc[t->ndoc++] = doc_id;
	for (size_t j = 0; j < n; j++) {
		uint64_t v = (uint64_t)keys[j] << 32 | ord;

		if (slot_put(t->slot, t->size, v)) {
			t->used++;
			t->undo[t->nundo++] = v;
		}
	}
	return 0;
}

/* Appends to ids, up to max, the documents filed under key in one table. */
static size_t
find_in(const struct lsh *t, const uint64_t *slot, size_t size,
    uint32_t key, size_t max, uint64_t *ids)
{
	size_t n = 0;

	for (size_t i = slot_home(key, size); slot[i] != 0 && n < max;
	    i = slot_next(i, size))
		if (slot_key(slot[i]) == key)
			ids[n++] = t->doc[(uint32_t)slot[i] - 1];
	return n;
}

size_t
lsh_find(const struct lsh *t, uint32_t key, size_t max, uint64_t *ids)
{
	size_t n = 0;

	if (t->old != NULL)	/* older entries first */
		n = find_in(t, t->old, t->oldsize, key, max, ids);
	return n + find_in(t, t->slot, t->size, key, max - n, ids + n);
}

void
lsh_prefetch(const struct lsh *t, const uint32_t *keys, size_t n)
{
#if defined(__GNUC__)
	for (size_t j = 0; j < n; j++) {
		if (t->old != NULL)
			__builtin_prefetch(&t->old[slot_home(keys[j],
			    t->oldsize)]);
		__builtin_prefetch(&t->slot[slot_home(keys[j], t->size)]);
	}
#else
	(void)t;
	(void)keys;
	(void)n;
#endif
}

void
lsh_commit(struct lsh *t)
{
	t->nundo = 0;
	t->commit_ndoc = t->ndoc;
}

/* Empties slot i and moves back the entries after it that can no longer
 * be reached from their home across the gap. */
static void
slot_delete(uint64_t *slot, size_t size, size_t i)
{
	for (size_t j = slot_next(i, size); slot[j] != 0;
	    j = slot_next(j, size)) {
		size_t h = slot_home(slot_key(slot[j]), size);
		bool stays = i <= j ? i < h && h <= j : i < h || h <= j;

		if (stays)
			continue;
		slot[i] = slot[j];
		i = j;
	}
	slot[i] = 0;
}

/* Deletes v from a table; false if it is not there. */
static bool
delete_in(uint64_t *slot, size_t size, uint64_t v)
{
	size_t i = slot_home(slot_key(v), size);

	while (slot[i] != v && slot[i] != 0)
		i = slot_next(i, size);
	if (slot[i] != v)
		return false;
	slot_delete(slot, size, i);
	return true;
}

void
lsh_rollback(struct lsh *t)
{
	while (t->nundo > 0) {
		uint64_t v = t->undo[--t->nundo];

		if (delete_in(t->slot, t->size, v))
			t->used--;
		else if (t->old != NULL && delete_in(t->old, t->oldsize, v))
			t->oldused--;
	}
	t->ndoc = t->commit_ndoc;
}

size_t
lsh_bytes(const struct lsh *t)
{
	return (t->size + t->oldsize + t->capdoc + t->capundo) *
	    sizeof(uint64_t);
}
