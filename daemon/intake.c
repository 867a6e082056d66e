/*
 * intake.c - the queue's table of unindexed submissions (see intake.h).
 */
#include <stdlib.h>
#include <string.h>

#include "intake.h"

#define NIL		UINT32_MAX
#define DONE		UINT32_MAX	/* find cursor: no more matches */
#define CAP_MIN		1024u
#define CAP_MAX		(1u << 30)

static uint32_t
slot_of(const struct intake *in, uint64_t id)
{
	return (uint32_t)(id & (in->cap - 1));
}

/* The id held in slot: the one in [base, base + count) that maps there. */
static uint64_t
id_of(const struct intake *in, uint32_t slot)
{
	return in->base + ((slot - slot_of(in, in->base)) & (in->cap - 1));
}

static void
link_slot(struct intake *in, uint32_t slot)
{
	uint32_t b = (uint32_t)(in->hash[slot] & (in->cap - 1));

	in->next[slot] = in->head[b];
	in->head[b] = slot;
}

/* Doubles the table, keeping every entry. */
static int
grow(struct intake *in)
{
	struct intake big = { 0 };
	uint32_t cap = in->cap ? in->cap * 2 : CAP_MIN;

	if (cap > CAP_MAX)
		return -1;
	big.hash = malloc(cap * sizeof(*big.hash));
	big.next = malloc(cap * sizeof(*big.next));
	big.head = malloc(cap * sizeof(*big.head));
	if (big.hash == NULL || big.next == NULL || big.head == NULL) {
		intake_free(&big);
		return -1;
	}
	memset(big.head, 0xff, cap * sizeof(*big.head));	/* NIL */
	big.cap = cap;
	big.base = in->base;
	big.count = in->count;
	for (uint64_t id = in->base; id < in->base + in->count; id++) {
		uint32_t slot = slot_of(&big, id);

		big.hash[slot] = in->hash[slot_of(in, id)];
		link_slot(&big, slot);
	}
	intake_free(in);
	*in = big;
	return 0;
}

int
intake_add(struct intake *in, uint64_t id, uint64_t hash)
{
	uint32_t slot;

	if (in->count == 0)
		in->base = id;
	else if (id != in->base + in->count)
		return -1;
	if (in->count == in->cap && grow(in) == -1)
		return -1;
	slot = slot_of(in, id);
	in->hash[slot] = hash;
	link_slot(in, slot);
	in->count++;
	return 0;
}

bool
intake_find(const struct intake *in, uint64_t hash, uint32_t *cursor,
    uint64_t *id)
{
	uint32_t slot;

	if (in->count == 0 || *cursor == DONE)
		return false;
	slot = *cursor == 0 ? in->head[hash & (in->cap - 1)] : *cursor - 1;
	for (; slot != NIL; slot = in->next[slot])
		if (in->hash[slot] == hash) {
			*id = id_of(in, slot);
			*cursor = in->next[slot] == NIL ? DONE :
			    in->next[slot] + 1;
			return true;
		}
	*cursor = DONE;
	return false;
}

/* Unlinks slot from its bucket's chain. */
static void
unlink_slot(struct intake *in, uint32_t slot)
{
	uint32_t *p = &in->head[in->hash[slot] & (in->cap - 1)];

	while (*p != NIL && *p != slot)
		p = &in->next[*p];
	if (*p == slot)
		*p = in->next[slot];
}

void
intake_pop_oldest(struct intake *in)
{
	if (in->count == 0)
		return;
	unlink_slot(in, slot_of(in, in->base));
	in->base++;
	if (--in->count == 0 && in->cap > CAP_MIN)
		intake_free(in);	/* a burst is over: give it back */
}

void
intake_pop_newest(struct intake *in)
{
	if (in->count == 0)
		return;
	unlink_slot(in, slot_of(in, in->base + in->count - 1));
	in->count--;
}

void
intake_free(struct intake *in)
{
	free(in->hash);
	free(in->next);
	free(in->head);
	memset(in, 0, sizeof(*in));
}
