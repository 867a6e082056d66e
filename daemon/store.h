/*
 * store.h - the LMDB environment in the state directory.
 *
 * One environment holds every database: jobs and the queue's indexes
 * (queue.c), per-host state, documents and raw bodies (doc.c), dedup state
 * (dedup.c) and counters.  Only the loop thread writes, one transaction per
 * loop turn; see sluiced.c for the turn.
 *
 * Record formats carry a version byte (STORE_FORMAT below, kept in the meta
 * database).  To change a format: bump STORE_FORMAT, keep a reader for the
 * old version, and convert on open.  A store of a format from
 * STORE_FORMAT_MIN on is opened and marked STORE_FORMAT, and the module
 * whose records changed converts them when it opens its databases (it
 * must recognise its old records by itself: a crash can come between the
 * two); an older or newer store is refused.  An older sluiced refuses a
 * store this one has opened.
 *
 *   1  the first.
 *   2  dedup.c's index: one-permutation sketches, 14x5 bands with 32-bit
 *	keys; dedup_open() converts format 1's (see dedup.h).
 *   3  dedup.c's band keys filed by document (dedup_bandlog) and looked up
 *	in memory; dedup_open() converts formats 1 and 2.
 */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#define STORE_FORMAT	3
#define STORE_FORMAT_MIN 1
#define STORE_MAX_DBS	32

struct store {
	MDB_env		*env;
	MDB_dbi		 meta;		/* "meta": format, counters */
	int		 lock_fd;	/* flock on <dir>/sluiced.lock */
	uint64_t	 map_size;	/* current */
	uint64_t	 map_size_max;	/* store.map_size_max */
	char		*dir;
	/* set by the loop turn (turn.c), read by every module: */
	bool		 full;		/* at map_size_max: submissions are
					   refused, the rest still commits */
	bool		 stuck;		/* cannot commit at all: retried */
};

/*
 * Opens (creating if needed) the environment in dir, taking an exclusive
 * lock so that only one daemon uses it.  Returns 0, or -1 with err.
 */
int store_open(struct store *s, const char *dir, uint64_t map_size,
    uint64_t map_size_max, char *err, size_t errlen);
void store_close(struct store *s);

/*
 * Grows the map (doubling, up to map_size_max) after MDB_MAP_FULL.  No
 * transaction may be open in this process.  Returns 0 if the map grew, -1
 * if it is at the cap (or the resize failed: err says why).
 */
int store_grow(struct store *s, char *err, size_t errlen);
/* Changes the cap (reload).  The map itself never shrinks. */
void store_set_max(struct store *s, uint64_t map_size_max);

int store_txn_write(struct store *s, MDB_txn **txn)
    __attribute__((warn_unused_result));
int store_txn_read(struct store *s, MDB_txn **txn)
    __attribute__((warn_unused_result));
/* Opens (creating) a named database inside txn. */
int store_dbi(MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *dbi);

/*
 * Reads LMDB leave the pages they touched mapped into this process, and
 * they count as its resident memory although they are only page cache.
 * When more than max_mapped bytes of the map are resident, hand them back
 * with MADV_DONTNEED: the map is read-only and shared (no MDB_WRITEMAP),
 * so nothing is lost and a later read faults the page in again.  Returns
 * the resident bytes of the map before trimming.
 */
size_t store_trim(struct store *s, size_t max_mapped);

/* Bytes in use (last page number * page size) and the map size. */
void store_usage(struct store *s, uint64_t *used, uint64_t *map_size);

/* Counters in the meta database, updated inside the caller's txn. */
int store_counter_add(struct store *s, MDB_txn *txn, const char *name,
    int64_t delta);
uint64_t store_counter_get(struct store *s, MDB_txn *txn, const char *name);

/* Big-endian key helpers: LMDB compares keys bytewise. */
void store_put_be64(unsigned char *p, uint64_t v);
uint64_t store_get_be64(const unsigned char *p);
void store_put_be32(unsigned char *p, uint32_t v);
uint32_t store_get_be32(const unsigned char *p);

#endif
