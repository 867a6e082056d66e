/*
 * work.h - the worker pool: CPU work (decoding, cleaning, hashing, compressing)
 * off the loop thread.
 *
 * The loop thread hands an item to work_submit(); a worker runs item->run;
 * the item comes back through one mutex-guarded list plus an eventfd that
 * wakes the loop, which then calls the pool's done callback for it.  Items
 * are owned by the caller the whole time; the pool only links them.
 */
#ifndef SLUICE_WORK_H
#define SLUICE_WORK_H

#include <stdint.h>

struct event_base;
struct work;

struct work_item {
	void		(*run)(struct work_item *it);	/* on a worker */
	struct work_item *next;				/* pool's link */
};

typedef void (*work_done_fn)(struct work_item *it, void *arg);

/* Starts nthreads workers (0 = number of CPUs).  NULL with err on failure. */
struct work *work_new(struct event_base *base, unsigned nthreads,
    work_done_fn done, void *arg, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Queues it; never blocks on workers. */
void work_submit(struct work *w, struct work_item *it);
/* Items submitted and not yet handed back through done. */
unsigned work_backlog(const struct work *w);
unsigned work_threads(const struct work *w);
/* Stops the workers after the items in progress; queued items that never
 * ran and finished ones not yet handed back are passed to done. */
void work_free(struct work *w);

#endif
