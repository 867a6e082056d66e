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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <xxhash.h>

#include "store.h"

/*
 * LMDB's meta pages (pages 0 and 1 of data.mdb) as mdb.c lays them out on
 * a 64-bit host: the page header, then MDB_meta.  Only the fields the size
 * check needs; mdb_stat -e shows the same values.
 */
#define LMDB_PAGEHDR		16
#define LMDB_MAGIC		0xBEEFC0DEU
#define LMDB_DATA_VERSION	1
#define LMDB_META_MAGIC		(LMDB_PAGEHDR + 0)	/* mm_magic */
#define LMDB_META_VERSION	(LMDB_PAGEHDR + 4)	/* mm_version */
#define LMDB_META_PSIZE		(LMDB_PAGEHDR + 24)	/* mm_dbs[0].md_pad */
#define LMDB_META_LAST_PG	(LMDB_PAGEHDR + 120)	/* mm_last_pg */
#define LMDB_META_TXNID		(LMDB_PAGEHDR + 128)	/* mm_txnid */
#define LMDB_META_LEN		(LMDB_PAGEHDR + 136)
#define LMDB_PSIZE_MIN		512
#define LMDB_PSIZE_MAX		65536
#define LMDB_MAX_PAGES		(1ULL << 40)	/* 4 PiB of 4 KiB pages */
_Static_assert(sizeof(size_t) == 8, "the meta page layout is LMDB's on "
    "64-bit hosts");

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

struct store_meta {
	uint32_t	 psize;
	uint64_t	 last_pg;
	uint64_t	 txnid;
};

/* Reads the meta page at offset off: -1 with err if it is not LMDB's
 * (or names a size no file has). */
static int
store_read_meta(int fd, off_t off, struct store_meta *m, char *err,
    size_t errlen)
{
	unsigned char b[LMDB_META_LEN];
	uint32_t magic, version;

	if (pread(fd, b, sizeof(b), off) != (ssize_t)sizeof(b)) {
		snprintf(err, errlen, "cannot read its meta page at %lld",
		    (long long)off);
		return -1;
	}
	memcpy(&magic, b + LMDB_META_MAGIC, sizeof(magic));
	memcpy(&version, b + LMDB_META_VERSION, sizeof(version));
	memcpy(&m->psize, b + LMDB_META_PSIZE, sizeof(m->psize));
	memcpy(&m->last_pg, b + LMDB_META_LAST_PG, sizeof(m->last_pg));
	memcpy(&m->txnid, b + LMDB_META_TXNID, sizeof(m->txnid));
	if (magic != LMDB_MAGIC || version != LMDB_DATA_VERSION ||
	    m->psize < LMDB_PSIZE_MIN || m->psize > LMDB_PSIZE_MAX ||
	    (m->psize & (m->psize - 1)) != 0 ||
	    m->last_pg >= LMDB_MAX_PAGES) {
		snprintf(err, errlen, "its meta page at %lld is damaged (not "
		    "an LMDB %d data file)", (long long)off, LMDB_DATA_VERSION);
		return -1;
	}
	return 0;
}

/*
 * Checks data.mdb's size against its newest meta page before LMDB maps
 * it: LMDB trusts the file, and a read of a page past the end of a
 * truncated file is a SIGBUS, with no log line.  Reads with pread only.
 */
static int
store_check_size(const char *path, off_t size, char *err, size_t errlen)
{
	struct store_meta m0, m1, *m;
	char why[160];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = -1;

	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (store_read_meta(fd, 0, &m0, why, sizeof(why)) == 0 &&
	    store_read_meta(fd, m0.psize, &m1, why, sizeof(why)) == 0) {
		m = m1.txnid > m0.txnid ? &m1 : &m0;
		if ((uint64_t)size >= (m->last_pg + 1) * m->psize)
			rc = 0;
		else
			snprintf(why, sizeof(why), "it is truncated: %lld "
			    "bytes, but its last transaction uses %llu",
			    (long long)size,
			    (unsigned long long)((m->last_pg + 1) * m->psize));
	}
	close(fd);
	if (rc == -1)
		snprintf(err, errlen, "%s: %s; restore the state directory "
		    "from a backup", path, why);
	return rc;
}

/*
 * Refuses a data.mdb that is truncated or not LMDB's, and a missing or
 * empty one where the marker says a store was (unless STORE_NEW).
 */
static int
store_check_file(const char *dir, unsigned flags, char *err, size_t errlen)
{
	char path[4096], marker[4096];
	struct stat st;
	bool missing = false;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	snprintf(marker, sizeof(marker), "%s/%s", dir, STORE_MARKER);
	if (stat(path, &st) == -1) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		missing = true;
	}
	if (!missing && st.st_size > 0)
		return store_check_size(path, st.st_size, err, errlen);
	if (access(marker, F_OK) == 0 && !(flags & STORE_NEW)) {
		snprintf(err, errlen, "%s is %s, but %s says the directory "
		    "held a store: restore data.mdb from a backup, or start "
		    "afresh with sluiced --new-store", path,
		    missing ? "missing" : "empty", marker);
		return -1;
	}
	return 0;
}

/* Writes the marker once the store holds its first commit; synced, with
 * its directory entry, so that a later loss of data.mdb is noticed. */
static int
store_mark(const char *dir, char *err, size_t errlen)
{
	char path[4096], text[128];
	int fd, dfd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, STORE_MARKER);
	if (access(path, F_OK) == 0)
		return 0;
	snprintf(text, sizeof(text), "sluiced keeps its store here: a "
	    "missing data.mdb is an error (see sluiced(8))\n");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, text, strlen(text));
	if (n != (ssize_t)strlen(text) || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", path, n == -1 || n ==
		    (ssize_t)strlen(text) ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	close(fd);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd != -1) {
		(void)fsync(dfd);
		close(dfd);
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
	return store_open_flags(s, dir, map_size, map_size_max, 0, err,
	    errlen);
}

int
store_open_flags(struct store *s, const char *dir, uint64_t map_size,
    uint64_t map_size_max, unsigned flags, char *err, size_t errlen)
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
	/* Under the lock: nobody else may be writing data.mdb. */
	if (store_check_file(dir, flags, err, errlen) == -1) {
		store_close(s);
		return -1;
	}
	s->disk_full_below = STORE_DISK_FULL_BELOW;
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
	if (store_check_format(s, err, errlen) == -1 ||
	    store_mark(dir, err, errlen) == -1) {
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

enum store_condition
store_classify(struct store *s, int rc)
{
	struct statvfs vfs;

	if (rc == MDB_MAP_FULL)
		return STORE_FULL;
	if (rc != ENOSPC && rc != EIO && rc != EDQUOT)
		return STORE_FAILING;
	if (statvfs(s->dir, &vfs) == -1)
		return rc == EIO ? STORE_FAILING : STORE_DISK_FULL;
	s->disk_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (rc != EIO || s->disk_free < s->disk_full_below)
		return STORE_DISK_FULL;
	return STORE_FAILING;
}

bool
store_may_retry(struct store *s)
{
	struct statvfs vfs;

	if (s->condition != STORE_DISK_FULL || statvfs(s->dir, &vfs) == -1)
		return true;
	s->disk_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	return s->disk_free >= s->disk_full_below;
}

const char *
store_condition_name(enum store_condition c)
{
	static const char *const names[] = {
		[STORE_OK] = "ok", [STORE_FULL] = "full",
		[STORE_DISK_FULL] = "disk_full", [STORE_FAILING] = "failing",
	};

	return c <= STORE_FAILING ? names[c] : "?";
}

uint32_t
store_sum(const void *head, size_t head_len, const void *body,
    size_t body_len)
{
	XXH64_hash_t seed = XXH3_64bits(head, head_len);

	return (uint32_t)XXH3_64bits_withSeed(body, body_len, seed);
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

void
store_problem(const struct store_report *r, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	r->fn(line, r->arg);
}

int
store_check_walk(MDB_txn *txn, MDB_dbi dbi, const char *name,
    size_t keylen, const struct store_report *r,
    void (*fn)(const MDB_val *k, const MDB_val *v, void *arg), void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (keylen != 0 && k.mv_size != keylen)
			store_problem(r, "%s: a key of %zu bytes", name,
			    k.mv_size);
		else
			fn(&k, &v, arg);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}
