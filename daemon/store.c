/*
 * store.c - opening, locking and growing the LMDB environment; counters.
 *
 * Durability is LMDB's default: every commit syncs (no MDB_NOSYNC,
 * MDB_NOMETASYNC or MDB_WRITEMAP), so a committed transaction survives a
 * crash or power loss.  The loop groups a whole turn's changes into one
 * transaction, which is what makes that affordable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "store.h"

static int
store_lock(struct store *s, const char *dir, char *err, size_t errlen)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/sluiced.lock", dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "%s: %s", path, errno == EWOULDBLOCK ?
		    "state directory is in use by another sluiced" :
		    strerror(errno));
		close(s->lock_fd);
		s->lock_fd = -1;
		return -1;
	}
	return 0;
}

/* Checks or records the record format version; an older one that the
 * modules convert on open is marked current. */
static int
store_check_format(struct store *s, char *err, size_t errlen)
{
	MDB_txn *txn = NULL;
	uint64_t fmt;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", s->dir, mdb_strerror(rc));
		if (txn != NULL)
			mdb_txn_abort(txn);
		return -1;
	}
	fmt = store_counter_get(s, txn, "format");
	if (fmt != 0 && (fmt < STORE_FORMAT_MIN || fmt > STORE_FORMAT)) {
		snprintf(err, errlen, "%s: store format %llu, this sluiced "
		    "reads formats %d to %d", s->dir, (unsigned long long)fmt,
		    STORE_FORMAT_MIN, STORE_FORMAT);
		mdb_txn_abort(txn);
		return -1;
	}
	if (fmt != STORE_FORMAT)
		rc = store_counter_add(s, txn, "format",
		    (int64_t)(STORE_FORMAT - fmt));
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", s->dir, mdb_strerror(rc));
		return -1;
	}
	return 0;
}

int
store_open(struct store *s, const char *dir, uint64_t map_size,
    uint64_t map_size_max, char *err, size_t errlen)
{
	MDB_envinfo info;
	int rc;

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (store_lock(s, dir, err, errlen) == -1)
		return -1;
	s->dir = strdup(dir);
	s->map_size_max = map_size_max;
	rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, STORE_MAX_DBS);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, map_size);
	/* NOTLS: read txns are not tied to threads; NORDAHEAD: random access
	 * over a large map should not fault in neighbours (keeps RSS low). */
	if (rc == 0)
		rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0640);
	if (rc != 0 || s->dir == NULL) {
		snprintf(err, errlen, "%s: %s", dir,
		    rc ? mdb_strerror(rc) : "out of memory");
		store_close(s);
		return -1;
	}
	/* An existing environment may already be larger than asked. */
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize;
	if (store_check_format(s, err, errlen) == -1) {
		store_close(s);
		return -1;
	}
	return 0;
}

void
store_close(struct store *s)
{
	if (s->env != NULL)
		mdb_env_close(s->env);
	s->env = NULL;
	if (s->lock_fd != -1)
		close(s->lock_fd);
	s->lock_fd = -1;
	free(s->dir);
	s->dir = NULL;
}

int
store_grow(struct store *s, char *err, size_t errlen)
{
	uint64_t next = s->map_size * 2;
	int rc;

	if (s->map_size >= s->map_size_max) {
		snprintf(err, errlen, "store is at store.map_size_max (%llu "
		    "bytes)", (unsigned long long)s->map_size_max);
		return -1;
	}
	if (next > s->map_size_max)
		next = s->map_size_max;
	rc = mdb_env_set_mapsize(s->env, next);
	if (rc != 0) {
		snprintf(err, errlen, "growing the map to %llu bytes: %s",
		    (unsigned long long)next, mdb_strerror(rc));
		return -1;
	}
	s->map_size = next;
	return 0;
}

void
store_set_max(struct store *s, uint64_t map_size_max)
{
	s->map_size_max = map_size_max;
}

int
store_txn_write(struct store *s, MDB_txn **txn)
{
	return mdb_txn_begin(s->env, NULL, 0, txn);
}

int
store_txn_read(struct store *s, MDB_txn **txn)
{
	return mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
}

int
store_dbi(MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *dbi)
{
	return mdb_dbi_open(txn, name, flags | MDB_CREATE, dbi);
}

/* Resident bytes of the map, from /proc/self/statm's shared pages: the
 * daemon maps no other file of any size. */
static size_t
mapped_resident(void)
{
	unsigned long size, res, shared;
	FILE *fp = fopen("/proc/self/statm", "r");
	int n = 0;

	if (fp != NULL) {
		n = fscanf(fp, "%lu %lu %lu", &size, &res, &shared);
		fclose(fp);
	}
	return n == 3 ? shared * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/*
 * LMDB does not publish where it mapped the data file (me_mapaddr is set
 * only with MDB_FIXEDMAP), so the mapping is looked up by name.
 */
static int
map_range(const struct store *s, uintptr_t *start, uintptr_t *end)
{
	char line[4096 + 128], want[4096 + 16];
	FILE *fp = fopen("/proc/self/maps", "r");
	int found = -1;

	snprintf(want, sizeof(want), "%s/data.mdb", s->dir);
	while (fp != NULL && found == -1 && fgets(line, sizeof(line), fp)) {
		char *path = strchr(line, '/');
		unsigned long a, b;

		if (path == NULL)
			continue;
		path[strcspn(path, "\n")] = '\0';
		if (strcmp(path, want) == 0 &&
		    sscanf(line, "%lx-%lx", &a, &b) == 2) {
			*start = a;
			*end = b;
			found = 0;
		}
	}
	if (fp != NULL)
		fclose(fp);
	return found;
}

size_t
store_trim(struct store *s, size_t max_mapped)
{
	size_t resident = mapped_resident();
	uintptr_t start, end;

	if (resident <= max_mapped || map_range(s, &start, &end) == -1)
		return resident;
	(void)madvise((void *)start, end - start, MADV_DONTNEED);
	return resident;
}

void
store_usage(struct store *s, uint64_t *used, uint64_t *map_size)
{
	MDB_envinfo info;
	MDB_stat st;

	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &st);
	*used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	*map_size = info.me_mapsize;
}

int
store_counter_add(struct store *s, MDB_txn *txn, const char *name,
    int64_t delta)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	uint64_t cur = store_counter_get(s, txn, name);

	cur = (uint64_t)((int64_t)cur + delta);
	v.mv_size = sizeof(cur);
	v.mv_data = &cur;
	return mdb_put(txn, s->meta, &k, &v, 0);
}

uint64_t
store_counter_get(struct store *s, MDB_txn *txn, const char *name)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	uint64_t cur = 0;

	if (mdb_get(txn, s->meta, &k, &v) == 0 && v.mv_size == sizeof(cur))
		memcpy(&cur, v.mv_data, sizeof(cur));
	return cur;
}

void
store_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

uint64_t
store_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

void
store_put_be32(unsigned char *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

uint32_t
store_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}
