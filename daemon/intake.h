/*
 * intake.h - the queue's table of unindexed submissions (see queue.h).
 *
 * Jobs get consecutive ids, and the unindexed ones are always a range
 * [base, base + count): new ids join at the end, indexing takes them from
 * the front, and an aborted turn drops its own from the end.  So the table
 * is a ring of 64-bit URL hashes addressed by id, with one chain per hash
 * bucket for lookups.  A hash match only names a candidate: the caller
 * compares the job's URL.
 */
#ifndef SLUICE_INTAKE_H
#define SLUICE_INTAKE_H

#include <stdbool.h>
#include <stdint.h>

struct intake {
	uint64_t	*hash;		/* [id & (cap - 1)] */
	uint32_t	*next;		/* chain link of each slot */
	uint32_t	*head;		/* first slot of each bucket */
	uint32_t	 cap;		/* slots and buckets, a power of 2 */
	uint64_t	 base;		/* oldest id held */
	uint64_t	 count;		/* ids base .. base + count - 1 */
};

/* Adds id, which must be base + count (any id when empty).  -1: ENOMEM. */
int intake_add(struct intake *in, uint64_t id, uint64_t hash);
/*
 * Ids whose hash equals hash, newest first: start with *cursor = 0 and
 * call until it returns false.
 */
bool intake_find(const struct intake *in, uint64_t hash, uint32_t *cursor,
    uint64_t *id);
/* Drops the oldest id, or the newest. */
void intake_pop_oldest(struct intake *in);
void intake_pop_newest(struct intake *in);
/* Drops everything and frees the memory. */
void intake_free(struct intake *in);

#endif
