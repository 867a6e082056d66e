/*
 * hosts.h - robots.txt per host (scheme, host and port), cached in LMDB.
 *
 *   robots   host (be64) -> expires_ms (u64), policy (u32), length (u32),
 *                           the robots.txt body (at most ROBOTS_MAX_BYTES)
 *
 * The body is kept rather than the parsed rules, so the parser can change
 * without a store upgrade; parsing 500 KiB takes a few milliseconds and
 * happens once per host per daemon run.
 */
#ifndef SLUICE_HOSTS_H
#define SLUICE_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

struct hosts {
	MDB_dbi		 robots;
};

struct hosts_robots {
	uint64_t	 expires_ms;
	int		 policy;	/* enum robots_policy */
	const char	*body;		/* valid until the txn ends */
	size_t		 len;
};

int hosts_open(struct hosts *h, MDB_txn *txn);
/* Reads host's cached robots.txt: 0, MDB_NOTFOUND or an LMDB error. */
int hosts_robots_get(struct hosts *h, MDB_txn *txn, uint64_t host,
    struct hosts_robots *r);
int hosts_robots_put(struct hosts *h, MDB_txn *txn, uint64_t host,
    const struct hosts_robots *r);

/* "/path?query" of url for robots.txt matching (malloc'd), or NULL. */
char *hosts_path_query(const char *url)
    __attribute__((warn_unused_result));

#endif
