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

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct work;

struct work_item {
	void		(*run)(struct work_item *it);	/* on a worker */
	struct work_item *next;				/* pool's link */
	/* Set by the pool when it must stop at once (work_free() past its
	 * grace): run polls it and returns early. */
	const atomic_bool *stop;
	/* The worker running it, 0 to daemon.workers - 1 (set by the pool
	 * before run). */
	unsigned	 worker;
	/* Whether, when a worker took it, more items waited than there are
	 * workers: the pool is behind (set by the pool before run). */
	bool		 behind;
	/* Called on the loop thread when done, instead of the pool's
	 * callback (NULL: the pool's). */
	void		(*done)(struct work_item *it, void *arg);
	void		*done_arg;
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
/*
 * Stops the workers: they finish what they hold and what is queued, for
 * up to timeout_ms less a last WORK_ABORT_MS; then every item's stop flag
 * is raised, and threads that still have not ended by timeout_ms (at
 * least WORK_ABORT_MS) are left behind (logged; the process is about to
 * exit).  Finished items not yet handed back are passed to done.  Returns the threads left
 * behind: with any, w is not freed (they still use it).
 */
unsigned work_free(struct work *w, uint64_t timeout_ms);
/* Whether work_free() left threads behind: while any runs, the libraries
 * it uses (libxml2) must not be cleaned up at exit. */
bool work_left(void);

/* What work_free() leaves items to notice their stop flag and return. */
#define WORK_ABORT_MS	500

#endif
