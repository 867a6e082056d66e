/*
 * turn.c - the loop turn's write transaction: begin, apply the steps in
 * order, commit; grow the map and replay on MDB_MAP_FULL; roll back; pace
 * (see turn.h for the contract).
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "turn.h"
#include "util.h"

void
turn_init(struct turn *t, struct store *store, const struct turn_step *steps,
    size_t nsteps)
{
	*t = (struct turn){ .store = store, .steps = steps, .nsteps = nsteps,
	    .last_commit_mono = mono_ms() };
}

/* Forgets what an aborted transaction did, last step first. */
static void
turn_rollback(struct turn *t)
{
	for (size_t i = t->nsteps; i-- > 0;)
		if (t->steps[i].abort != NULL)
			t->steps[i].abort(t->steps[i].arg);
}

/* One attempt: 0 if committed, else the error (rolled back). */
static int
turn_try(struct turn *t, uint64_t now)
{
	uint64_t t0 = mono_us(), t1;
	MDB_txn *txn = NULL;
	int rc = store_txn_write(t->store, &txn);
	bool began = rc == 0;

	for (size_t i = 0; i < t->nsteps && rc == 0; i++) {
		rc = t->steps[i].apply(t->steps[i].arg, txn, now);
		if (rc != 0)
			log_debug("turn: step %s: %s", t->steps[i].name,
			    mdb_strerror(rc));
	}
	t1 = mono_us();
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else if (began)
		mdb_txn_abort(txn);
	if (rc != 0) {
		turn_rollback(t);
		return rc;
	}
	t->last_apply_us = t1 - t0;
	t->last_commit_us = mono_us() - t1;
	return 0;
}

/* Logs a change of the store's condition: once when it starts. */
static void
turn_note_condition(struct store *s, enum store_condition c,
    const char *err)
{
	if (c == s->condition)
		return;
	s->condition = c;
	switch (c) {
	case STORE_FULL:
		log_warnx("store: %s; refusing submissions", err);
		break;
	case STORE_DISK_FULL:
		log_warnx("store: the disk is full (%llu bytes free in %s); "
		    "refusing submissions", (unsigned long long)s->disk_free,
		    s->dir);
		break;
	default:
		log_errx("store: cannot commit: %s; will retry", err);
		break;
	}
}

/*
 * After a failed attempt: true to replay the turn, false to give up.  At
 * the cap or on a full disk the turn is replayed once without the
 * submissions (results may still fit in the pages the store has); a
 * failing disk, or a turn that fails even so, leaves the store stuck.
 */
static bool
turn_recover(struct turn *t, int rc)
{
	struct store *s = t->store;
	enum store_condition c;
	char err[256];

	snprintf(err, sizeof(err), "%s", mdb_strerror(rc));
	if (rc == MDB_MAP_FULL) {
		if (store_grow(s, err, sizeof(err)) == 0) {
			log_notice("store: map grown to %llu bytes",
			    (unsigned long long)s->map_size);
			return true;
		}
	}
	c = store_classify(s, rc);
	turn_note_condition(s, c, err);
	if (c != STORE_FAILING && !s->full) {
		s->full = true;
		return true;
	}
	if (!s->stuck && c != STORE_FAILING)
		log_errx("store: cannot commit even without submissions: "
		    "%s; will retry", c == STORE_FULL ? "map full" : err);
	s->stuck = true;
	return false;
}

enum turn_result
turn_run(struct turn *t, enum turn_need need, uint64_t now)
{
	uint64_t mono = mono_ms();
	int rc;

	if (need == TURN_IDLE)
		return TURN_NONE;
	if (need == TURN_GATHER &&
	    mono < t->last_commit_mono + t->commit_interval_ms) {
		t->waiting = true;
		return TURN_WAITING;
	}
	t->waiting = false;
	while ((rc = turn_try(t, now)) != 0) {
		if (!turn_recover(t, rc)) {
			t->last_error = rc;
			return TURN_FAILED;
		}
	}
	t->store->stuck = false;
	/* A commit open to submissions ends a full store's condition; any
	 * commit ends a failing disk's (daemon.c logs that one). */
	if (t->store->condition != STORE_OK && !t->store->full) {
		if (t->store->condition != STORE_FAILING)
			log_notice("store: no longer %s: taking submissions "
			    "again", t->store->condition == STORE_FULL ?
			    "full" : "out of disk space");
		t->store->condition = STORE_OK;
	} else if (t->store->condition == STORE_FAILING)
		t->store->condition = STORE_OK;
	t->last_commit_mono = mono_ms();
	log_debug("turn: apply %llu us, commit %llu us",
	    (unsigned long long)t->last_apply_us,
	    (unsigned long long)t->last_commit_us);
	return TURN_COMMITTED;
}

int64_t
turn_wait_ms(const struct turn *t, uint64_t mono)
{
	uint64_t due = t->last_commit_mono + t->commit_interval_ms;

	if (!t->waiting)
		return -1;
	return due > mono ? (int64_t)(due - mono) : 0;
}
