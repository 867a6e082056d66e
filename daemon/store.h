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
 *   4  job records (queue.c) and documents (doc.c) carry a checksum
 *	(store_sum), checked on every read; their own version byte tells
 *	the old records, which are still read, and queue_open() and
 *	doc_open() rewrite them.
 *
 * What LMDB does not check, sluice does: data.mdb's size against its meta
 * page before it is mapped (a truncated file would fault at the first read
 * past its end), a marker file that says the directory held a store (so a
 * lost data.mdb is not taken for a new one), and the checksums above.
 */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#define STORE_FORMAT	4
#define STORE_FORMAT_MIN 1
#define STORE_MAX_DBS	32

/* Why commits fail, for status, metrics and the clients' error code. */
enum store_condition {
	STORE_OK = 0,
	STORE_FULL,		/* the map is at store.map_size_max */
	STORE_DISK_FULL,	/* the file system has no room left */
	STORE_FAILING,		/* any other error, e.g. a failing disk */
};

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
	enum store_condition condition;	/* the last failure's, until a
					   commit with submissions */
	uint64_t	 disk_free;	/* bytes, when condition was set */
	uint64_t	 disk_full_below; /* store.disk_full_below */
};

/* store.disk_full_below's default. */
#define STORE_DISK_FULL_BELOW	(64ULL << 20)

/* store_open() flags. */
#define STORE_NEW	0x1	/* a directory that held a store may start
				   empty (sluiced --new-store) */
/* The marker that says the directory held a store (see store_open). */
#define STORE_MARKER	"sluiced.store"

/*
 * Opens (creating if needed) the environment in dir, taking an exclusive
 * lock so that only one daemon uses it.  Returns 0, or -1 with err.
 * Refused: a data.mdb shorter than its last transaction needs, or one
 * whose meta pages are not LMDB's; a missing or empty data.mdb in a
 * directory whose marker (STORE_MARKER) says it held a store, unless
 * flags has STORE_NEW.
 */
int store_open(struct store *s, const char *dir, uint64_t map_size,
    uint64_t map_size_max, char *err, size_t errlen);
int store_open_flags(struct store *s, const char *dir, uint64_t map_size,
    uint64_t map_size_max, unsigned flags, char *err, size_t errlen);

/*
 * Why a commit failed with rc: MDB_MAP_FULL at the cap is STORE_FULL;
 * ENOSPC, or EIO (LMDB's word for a short write) while the state
 * directory's file system has less than disk_full_below bytes free, is
 * STORE_DISK_FULL (s->disk_free says how much); anything else is
 * STORE_FAILING.
 */
enum store_condition store_classify(struct store *s, int rc);
const char *store_condition_name(enum store_condition c);
/* Whether a full store should try submissions again: a full disk only
 * once it has disk_full_below bytes free again. */
bool store_may_retry(struct store *s);

/*
 * The checksum of a record: xxh3 of its fixed header (with the checksum
 * field zeroed) seeding xxh3 of its variable body, cut to 32 bits.  A
 * record's readers check it; a mismatch is MDB_CORRUPTED.
 */
uint32_t store_sum(const void *head, size_t head_len, const void *body,
    size_t body_len);
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

/* sluiced --check: where a module's check reports, one line a problem. */
struct store_report {
	void	(*fn)(const char *problem, void *arg);
	void	*arg;
};

void store_problem(const struct store_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Walks every entry of dbi in key order: fn(key, value, arg) for each key
 * of keylen bytes (0: any length); any other key is reported as "name: a
 * key of N bytes".  Returns 0 or an LMDB error.
 */
int store_check_walk(MDB_txn *txn, MDB_dbi dbi, const char *name,
    size_t keylen, const struct store_report *r,
    void (*fn)(const MDB_val *k, const MDB_val *v, void *arg), void *arg);

/* Big-endian key helpers: LMDB compares keys bytewise. */
void store_put_be64(unsigned char *p, uint64_t v);
uint64_t store_get_be64(const unsigned char *p);
void store_put_be32(unsigned char *p, uint32_t v);
uint32_t store_get_be32(const unsigned char *p);

#endif
