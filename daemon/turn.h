/*
 * turn.h - the loop turn's write transaction.
 *
 * One libevent loop thread owns every LMDB write.  Whatever a turn of the
 * loop changes in the queue - submissions, cancels, fetch results, worker
 * results, new leases - is kept as pending work by its module, and
 * turn_run() applies it all in ONE write transaction: it begins, applies
 * the steps in the fixed order the caller gave (struct turn_step), and
 * commits.  Only after that commit does the caller answer clients and
 * start transfers, so an acknowledged submission is on disk, and many
 * concurrent clients share one sync (group commit).
 *
 * If the commit hits MDB_MAP_FULL, the turn is rolled back (every step's
 * abort, last first, whether the step was applied or not), the map grows, and the same pending work is
 * applied again.  At store.map_size_max the store is marked full (the op
 * step then refuses submissions) and the turn replayed; nothing
 * acknowledged is lost.  A turn that still cannot commit leaves the store
 * stuck and reports TURN_FAILED; the caller answers its clients with the
 * error.
 *
 * Pacing: a client waiting for an answer is served at once; background
 * work (fetched pages, failures, new leases) gathers for up to
 * store.commit_interval, since each commit syncs.
 *
 * This module knows the store and its steps, nothing else.
 */
#ifndef SLUICE_TURN_H
#define SLUICE_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

struct store;

/* One step of the transaction. */
struct turn_step {
	const char	*name;
	/* Applies the step's pending work in txn: 0 or an LMDB error
	 * (or ENOMEM).  now is the turn's wall clock (epoch ms). */
	int		(*apply)(void *arg, MDB_txn *txn, uint64_t now);
	/* Forgets what apply did to memory, so the turn can be replayed;
	 * NULL if there is nothing to forget. */
	void		(*abort)(void *arg);
	void		*arg;
};

/* How urgently the pending work wants a transaction. */
enum turn_need {
	TURN_IDLE,	/* nothing to do */
	TURN_GATHER,	/* background work: may wait for commit_interval */
	TURN_NOW,	/* a client waits, or work must not wait */
};

enum turn_result {
	TURN_NONE,	/* nothing was due */
	TURN_WAITING,	/* work gathers for the commit interval */
	TURN_COMMITTED,
	TURN_FAILED,	/* rolled back; the store is stuck */
};

struct turn {
	struct store	*store;
	const struct turn_step *steps;
	size_t		 nsteps;
	uint64_t	 commit_interval_ms;	/* store.commit_interval */
	uint64_t	 last_commit_mono;	/* mono_ms() */
	uint64_t	 last_apply_us;		/* profiling, last commit */
	uint64_t	 last_commit_us;
	bool		 waiting;	/* background work gathers */
	int		 last_error;	/* of a TURN_FAILED */
};

void turn_init(struct turn *t, struct store *store,
    const struct turn_step *steps, size_t nsteps);

/*
 * Runs one transaction if need calls for it: TURN_NOW at once,
 * TURN_GATHER once commit_interval has passed since the last commit.
 */
enum turn_result turn_run(struct turn *t, enum turn_need need, uint64_t now)
    __attribute__((warn_unused_result));

/* Milliseconds until gathered work is due, or -1 if none gathers. */
int64_t turn_wait_ms(const struct turn *t, uint64_t mono);

#endif
