/*
 * queue.c - job records and the queue's indexes in LMDB (see queue.h).
 *
 * A job is in exactly one index that matches its state: ready or delayed
 * (queued), active, failed; done and cancelled jobs are only in "jobs".
 * Every transition goes through queue_job_move() so the indexes and the state
 * counts cannot drift apart.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "buf.h"
#include "queue.h"
#include "store.h"
#include "url.h"
#include "util.h"

#define JOB_RECORD_V1		1	/* no checksum: still read */
#define JOB_RECORD_VERSION	2
/* Job records rewritten per transaction when a store is upgraded. */
#define JOB_UPGRADE_BATCH	10000

/* On-disk job record: this header, then url_len bytes of URL, code_len
 * bytes of error code, msg_len bytes of error message, fetch_len bytes of
 * the current hop's URL, and hops 64-bit hashes of the hop URLs.  Host
 * byte order, like LMDB itself.  Variable parts keep the common record
 * (no error, no redirect) small: every byte is paid once per job.  The
 * checksum (store_sum: the header with sum zeroed, then the rest) sits
 * where version 1 had padding, so the record did not grow. */
struct job_disk {
	uint8_t		 version;
	uint8_t		 state;
	uint8_t		 code_len;
	uint8_t		 reserved;
	uint32_t	 sum;
	uint16_t	 url_len;
	uint16_t	 msg_len;
	uint16_t	 fetch_len;
	uint16_t	 reserved2;
	int32_t		 priority;
	uint32_t	 attempts;
	uint32_t	 http_status;
	uint32_t	 hops;
	uint64_t	 host;
	uint64_t	 url_host;
	uint64_t	 created_ms;
	uint64_t	 updated_ms;
	uint64_t	 not_before_ms;
	uint64_t	 finished_ms;
	uint64_t	 doc_id;
};
_Static_assert(sizeof(struct job_disk) == 88, "job_disk has no padding");

/* Version 1, read until the store's records are rewritten (queue_open). */
struct job_disk1 {
	uint8_t		 version;
	uint8_t		 state;
	uint8_t		 code_len;
	uint8_t		 reserved;
	uint16_t	 url_len;
	uint16_t	 msg_len;
	uint16_t	 fetch_len;
	int32_t		 priority;
	uint32_t	 attempts;
	uint32_t	 http_status;
	uint32_t	 hops;
	uint64_t	 host;
	uint64_t	 url_host;
	uint64_t	 created_ms;
	uint64_t	 updated_ms;
	uint64_t	 not_before_ms;
	uint64_t	 finished_ms;
	uint64_t	 doc_id;
};
_Static_assert(sizeof(struct job_disk1) == sizeof(struct job_disk),
    "both versions' headers are 88 bytes");

#define READY_KEY_LEN	20
#define DELAYED_KEY_LEN	16

static const char *const state_names[JOB_NSTATES] = {
	"queued", "active", "done", "failed", "cancelled",
};

const char *
job_state_name(enum job_state s)
{
	return s < JOB_NSTATES ? state_names[s] : "?";
}

int
job_state_parse(const char *name)
{
	for (int i = 0; i < JOB_NSTATES; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

static const char *const counter_names[] = {
	"jobs.queued", "jobs.active", "jobs.done", "jobs.failed",
	"jobs.cancelled", "total.submitted", "total.fetched", "total.failed",
	"total.bytes", "total.not_modified", "dup.url", "dup.exact",
	"dup.near", "total.retried", "dup.submit",
};

/* The counters in the order of counter_names[]. */
static uint64_t *
counter_field(struct queue_counts *c, size_t i)
{
	uint64_t *rest[] = { &c->submitted, &c->fetched, &c->failed,
	    &c->bytes, &c->not_modified, &c->dup_url, &c->dup_exact,
	    &c->dup_near, &c->retried, &c->dup_submit };

	return i < JOB_NSTATES ? &c->state[i] : rest[i - JOB_NSTATES];
}

static int queue_intake_load(struct queue *q);
static void gen_free(struct queue *q);
static int gen_load(struct queue *q, MDB_txn *txn);
static int index_job_entries(struct queue *q, MDB_txn *txn,
    const struct job *j, uint64_t now);
static int index_at_open(struct queue *q);
static int queue_upgrade(struct queue *q);

int
queue_open(struct queue *q, struct store *s)
{
	MDB_txn *txn;
	int rc;

	memset(q, 0, sizeof(*q));
	q->store = s;
	q->max_attempts = 5;
	q->retry_base_ms = 30000;
	q->retry_max_ms = 6 * 3600 * 1000ULL;
	q->retry_after_min_ms = 1000;
	q->retry_after_max_ms = 24 * 3600 * 1000ULL;
	rc = store_txn_write(s, &txn);
	if (rc != 0)
		return rc;
	if ((rc = store_dbi(txn, "jobs", MDB_INTEGERKEY, &q->jobs)) != 0 ||
	    (rc = store_dbi(txn, "urls", 0, &q->urls)) != 0 ||
	    (rc = store_dbi(txn, "ready", 0, &q->ready)) != 0 ||
	    (rc = store_dbi(txn, "delayed", 0, &q->delayed)) != 0 ||
	    (rc = store_dbi(txn, "active", 0, &q->active)) != 0 ||
	    (rc = store_dbi(txn, "failed", 0, &q->failed)) != 0 ||
	    (rc = store_dbi(txn, "hosts", 0, &q->hosts)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	for (size_t i = 0; i < ARRAY_LEN(counter_names); i++)
		*counter_field(&q->counts, i) =
		    store_counter_get(s, txn, counter_names[i]);
	q->next_id = store_counter_get(s, txn, "next_id");
	if (q->next_id == 0)
		q->next_id = 1;
	/* Stored as a length so that a store from before the intake (no
	 * counter, 0) has everything indexed. */
	q->index_from = q->next_id - store_counter_get(s, txn, "unindexed");
	if ((rc = mdb_txn_commit(txn)) != 0)
		return rc;
	if ((rc = queue_upgrade(q)) != 0)
		return rc;
	return q->index_from < q->next_id ? index_at_open(q) : 0;
}

static int queue_job_put(struct queue *q, MDB_txn *txn, const struct job *j,
    unsigned flags);

/* Rewrites the version 1 records among up to JOB_UPGRADE_BATCH jobs after
 * *after; *end once none is left. */
static int
queue_upgrade_batch(struct queue *q, MDB_txn *txn, uint64_t *after,
    bool *end)
{
	uint64_t ids[256], start = *after + 1;
	MDB_val k = { sizeof(start), &start }, v;
	size_t n = 0, seen = 0;
	MDB_cursor *cur;
	int rc;

	if ((rc = mdb_cursor_open(txn, q->jobs, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 &&
	    n < ARRAY_LEN(ids) && seen < JOB_UPGRADE_BATCH;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), seen++) {
		if (k.mv_size != sizeof(uint64_t))
			continue;
		memcpy(after, k.mv_data, sizeof(*after));
		if (v.mv_size > 0 && *(unsigned char *)v.mv_data ==
		    JOB_RECORD_V1)
			ids[n++] = *after;
	}
	mdb_cursor_close(cur);
	*end = rc == MDB_NOTFOUND;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct job j;

		/* A damaged record stays as it is, for sluiced --check. */
		if (queue_get(q, txn, ids[i], &j) != 0)
			continue;
		rc = queue_job_put(q, txn, &j, 0);
		queue_job_free(&j);
	}
	return rc;
}

/*
 * Store format 4 gave job records a checksum.  Rewrites the version 1
 * records once per store, in batches, until the counter "format.jobs"
 * says it is done; a crash midway starts over, and records already
 * rewritten are passed by.
 */
static int
queue_upgrade(struct queue *q)
{
	uint64_t after = 0, start, fmt;
	bool end = false;
	char err[256];
	MDB_txn *txn;
	int rc;

	while (!end) {
		start = after;
		if ((rc = store_txn_write(q->store, &txn)) != 0)
			return rc;
		fmt = store_counter_get(q->store, txn, "format.jobs");
		if (fmt >= JOB_RECORD_VERSION) {
			mdb_txn_abort(txn);
			return 0;
		}
		rc = queue_upgrade_batch(q, txn, &after, &end);
		if (rc == 0 && end)
			rc = store_counter_add(q->store, txn, "format.jobs",
			    (int64_t)(JOB_RECORD_VERSION - fmt));
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc == MDB_MAP_FULL && store_grow(q->store, err,
		    sizeof(err)) == 0) {
			after = start;
			end = false;
			continue;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Indexes what a crash left unindexed, before anyone looks. */
static int
index_at_open(struct queue *q)
{
	uint64_t from = q->index_from;
	char err[256];
	MDB_txn *txn;
	int rc;

	do {
		q->index_from = from;
		gen_free(q);
		if ((rc = store_txn_write(q->store, &txn)) != 0)
			return rc;
		if ((rc = store_counter_add(q->store, txn, "unindexed",
		    -(int64_t)queue_unindexed(q))) == 0 &&
		    (rc = gen_load(q, txn)) == 0 &&
		    (rc = queue_index(q, txn, UINT64_MAX, now_ms(),
		    NULL)) == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	} while (rc == MDB_MAP_FULL &&
	    store_grow(q->store, err, sizeof(err)) == 0);
	gen_free(q);
	if (rc == MDB_MAP_FULL) {
		/* A store at its cap has no room for the indexes: the jobs
		 * wait in the intake until a restart with a higher cap, and
		 * a generation goes on from where it stopped. */
		q->index_from = from;
		if ((rc = store_txn_read(q->store, &txn)) != 0)
			return rc;
		rc = gen_load(q, txn);
		mdb_txn_abort(txn);
		return rc != 0 ? rc : queue_intake_load(q);
	}
	return rc;
}

void
queue_close(struct queue *q)
{
	intake_free(&q->intake);
	gen_free(q);
}

void
queue_set_notify(struct queue *q, queue_ready_fn fn, void *arg)
{
	q->on_ready = fn;
	q->on_ready_arg = arg;
}

void
queue_set_backlog(struct queue *q, uint64_t backlog)
{
	q->backlog = backlog;
}

uint64_t
queue_unindexed(const struct queue *q)
{
	return q->next_id - q->index_from;
}

void
queue_set_policy(struct queue *q, uint32_t max_attempts,
    uint64_t retry_base_ms, uint64_t retry_max_ms)
{
	q->max_attempts = max_attempts;
	q->retry_base_ms = retry_base_ms;
	q->retry_max_ms = retry_max_ms;
}

void
queue_set_retry_after_bounds(struct queue *q, uint64_t min_ms,
    uint64_t max_ms)
{
	q->retry_after_min_ms = min_ms;
	q->retry_after_max_ms = max_ms;
}

void
queue_turn_begin(struct queue *q)
{
	/* The last turn committed: forget what it indexed. */
	while (q->intake.count > 0 && q->intake.base < q->index_from)
		intake_pop_oldest(&q->intake);
	q->saved = q->counts;
	q->saved_next_id = q->next_id;
	q->saved_index_from = q->index_from;
	if (q->gen.finished)
		gen_free(q);	/* its last step committed */
	q->saved_gen_to = q->gen.to;
	q->saved_gen_pos = q->gen.pos;
	q->saved_gen_done = q->gen.done;
}

void
queue_turn_abort(struct queue *q)
{
	q->counts = q->saved;
	q->next_id = q->saved_next_id;
	q->index_from = q->saved_index_from;
	/* A generation begun in the aborted turn may hold its submissions;
	 * an older one puts again the URLs the turn put. */
	if (q->gen.to != q->saved_gen_to) {
		gen_free(q);
	} else if (q->gen.to != 0) {
		q->gen.done = q->saved_gen_done;
		q->gen.finished = false;
		/* Sorted by host since: all its URLs are put again. */
		q->gen.pos = q->gen.by_host && q->saved_gen_pos < q->gen.n ?
		    0 : q->saved_gen_pos;
	}
	/* Submissions of the aborted turn were never stored. */
	while (q->intake.count > 0 &&
	    q->intake.base + q->intake.count > q->next_id)
		intake_pop_newest(&q->intake);
}

int
queue_turn_flush(struct queue *q, MDB_txn *txn)
{
	struct queue_counts *c = &q->counts, *o = &q->saved;
	int rc = 0;

	for (size_t i = 0; i < ARRAY_LEN(counter_names) && rc == 0; i++) {
		int64_t d = (int64_t)(*counter_field(c, i) -
		    *counter_field(o, i));
		if (d != 0)
			rc = store_counter_add(q->store, txn,
			    counter_names[i], d);
	}
	/* No new snapshot here: the commit may still fail, and the replay
	 * must start from the counts before this turn. */
	if (rc == 0 && q->next_id != q->saved_next_id)
		rc = store_counter_add(q->store, txn, "next_id",
		    (int64_t)(q->next_id - store_counter_get(q->store, txn,
		    "next_id")));
	if (rc == 0 && (q->next_id != q->saved_next_id ||
	    q->index_from != q->saved_index_from))
		rc = store_counter_add(q->store, txn, "unindexed",
		    (int64_t)(queue_unindexed(q) - store_counter_get(q->store,
		    txn, "unindexed")));
	return rc;
}

static uint64_t queue_intake_hash(const char *url);
static int queue_intake_lookup(struct queue *q, MDB_txn *txn, const char *url,
    uint64_t hash, uint64_t *id);
static int settle(struct queue *q, MDB_txn *txn, uint64_t now);

/* --- records ------------------------------------------------------- */

/* Reads a version 1 header as version 2's. */
static void
queue_job_header_v1(const void *data, struct job_disk *d)
{
	struct job_disk1 o;

	memcpy(&o, data, sizeof(o));
	*d = (struct job_disk){ .version = o.version, .state = o.state,
	    .code_len = o.code_len, .url_len = o.url_len,
	    .msg_len = o.msg_len, .fetch_len = o.fetch_len,
	    .priority = o.priority, .attempts = o.attempts,
	    .http_status = o.http_status, .hops = o.hops, .host = o.host,
	    .url_host = o.url_host, .created_ms = o.created_ms,
	    .updated_ms = o.updated_ms, .not_before_ms = o.not_before_ms,
	    .finished_ms = o.finished_ms, .doc_id = o.doc_id };
}

/* Checks a record's version and checksum and reads its header: 0, or
 * MDB_CORRUPTED for a damaged record. */
static int
queue_job_header(const MDB_val *v, struct job_disk *d)
{
	const unsigned char *data = v->mv_data;
	uint32_t sum;

	if (v->mv_size < sizeof(*d))
		return MDB_CORRUPTED;
	if (data[0] == JOB_RECORD_V1) {
		queue_job_header_v1(data, d);
		return 0;
	}
	memcpy(d, data, sizeof(*d));
	sum = d->sum;
	d->sum = 0;
	if (d->version != JOB_RECORD_VERSION || sum != store_sum(d,
	    sizeof(*d), data + sizeof(*d), v->mv_size - sizeof(*d)))
		return MDB_CORRUPTED;
	return 0;
}

static int
queue_job_decode(const MDB_val *v, struct job *j)
{
	struct job_disk d;
	const char *p = (const char *)v->mv_data + sizeof(d);

	if (queue_job_header(v, &d) != 0)
		return MDB_CORRUPTED;
	if (d.state >= JOB_NSTATES ||
	    d.hops > QUEUE_MAX_HOPS || d.code_len >= JOB_ERROR_CODE_MAX ||
	    v->mv_size != sizeof(d) + d.url_len + d.code_len + d.msg_len +
	    d.fetch_len + d.hops * sizeof(uint64_t))
		return MDB_CORRUPTED;
	memset(j, 0, sizeof(*j));
	j->state = d.state;
	j->priority = d.priority;
	j->attempts = d.attempts;
	j->http_status = d.http_status;
	j->host = d.host;
	j->url_host = d.url_host;
	j->created_ms = d.created_ms;
	j->updated_ms = d.updated_ms;
	j->not_before_ms = d.not_before_ms;
	j->finished_ms = d.finished_ms;
	j->doc_id = d.doc_id;
	j->hops = d.hops;
	j->url = strndup(p, d.url_len);
	p += d.url_len;
	memcpy(j->error_code, p, d.code_len);
	j->error_code[d.code_len] = '\0';
	p += d.code_len;
	if (d.msg_len > 0)
		j->error_msg = strndup(p, d.msg_len);
	p += d.msg_len;
	if (d.fetch_len > 0)
		j->fetch_url = strndup(p, d.fetch_len);
	p += d.fetch_len;
	memcpy(j->visited, p, d.hops * sizeof(uint64_t));
	if (j->url == NULL || (d.msg_len > 0 && j->error_msg == NULL) ||
	    (d.fetch_len > 0 && j->fetch_url == NULL)) {
		queue_job_free(j);
		return ENOMEM;
	}
	return 0;
}

static int
queue_job_put(struct queue *q, MDB_txn *txn, const struct job *j, unsigned flags)
{
	size_t ul = strlen(j->url);
	size_t ml = j->error_msg ? strnlen(j->error_msg, JOB_ERROR_MSG_MAX) : 0;
	size_t fl = j->fetch_url ? strlen(j->fetch_url) : 0;
	size_t vl = j->hops * sizeof(uint64_t);
	size_t cl = strnlen(j->error_code, JOB_ERROR_CODE_MAX - 1);
	struct job_disk d = {
		.version = JOB_RECORD_VERSION, .state = (uint8_t)j->state,
		.sum = 0, .reserved = 0, .reserved2 = 0,
		.code_len = (uint8_t)cl,
		.url_len = (uint16_t)ul, .msg_len = (uint16_t)ml,
		.fetch_len = (uint16_t)fl, .hops = j->hops,
		.priority = j->priority, .attempts = j->attempts,
		.http_status = j->http_status, .host = j->host,
		.url_host = j->url_host,
		.created_ms = j->created_ms, .updated_ms = j->updated_ms,
		.not_before_ms = j->not_before_ms,
		.finished_ms = j->finished_ms, .doc_id = j->doc_id,
	};
	MDB_val k = { sizeof(j->id), (void *)&j->id }, v;
	int rc;

	char *p;
	if (ul > UINT16_MAX || fl > UINT16_MAX || j->hops > QUEUE_MAX_HOPS)
		return EINVAL;
	v.mv_size = sizeof(d) + ul + cl + ml + fl + vl;
	rc = mdb_put(txn, q->jobs, &k, &v, flags | MDB_RESERVE);
	if (rc != 0)
		return rc;
	p = v.mv_data;
	memcpy(p, &d, sizeof(d));
	memcpy(p += sizeof(d), j->url, ul);
	memcpy(p += ul, j->error_code, cl);
	if (ml > 0)
		memcpy(p + cl, j->error_msg, ml);
	if (fl > 0)
		memcpy(p + cl + ml, j->fetch_url, fl);
	if (vl > 0)
		memcpy(p + cl + ml + fl, j->visited, vl);
	/* d has no padding: its bytes are those just written. */
	d.sum = store_sum(&d, sizeof(d), (char *)v.mv_data + sizeof(d),
	    v.mv_size - sizeof(d));
	memcpy((char *)v.mv_data + offsetof(struct job_disk, sum), &d.sum,
	    sizeof(d.sum));
	return 0;
}

void
queue_job_free(struct job *j)
{
	SAFE_FREE(j->url);
	SAFE_FREE(j->error_msg);
	SAFE_FREE(j->fetch_url);
}

int
queue_get(struct queue *q, MDB_txn *txn, uint64_t id, struct job *j)
{
	MDB_val k = { sizeof(id), &id }, v;
	int rc = mdb_get(txn, q->jobs, &k, &v);

	if (rc != 0)
		return rc;
	rc = queue_job_decode(&v, j);
	if (rc == 0)
		j->id = id;
	return rc;
}

/*
 * The urls index is keyed by the URL itself, not a hash of it: URLs that
 * are submitted together usually share a prefix (one site, one sitemap), so
 * their index entries share leaf pages and a batch dirties few pages per
 * commit.  LMDB keys are at most 511 bytes: a longer URL is keyed by its
 * first URL_KEY_PREFIX bytes plus a 128-bit hash of the whole.
 */
#define URL_KEY_MAX	(URL_KEY_PREFIX + 16)
#define URL_KEY_PREFIX	480

static size_t
queue_url_key(const char *url, unsigned char out[URL_KEY_MAX])
{
	size_t len = strlen(url);
	XXH128_hash_t h;

	if (len <= URL_KEY_MAX) {
		memcpy(out, url, len);
		return len;
	}
	h = XXH3_128bits(url, len);
	memcpy(out, url, URL_KEY_PREFIX);
	store_put_be64(out + URL_KEY_PREFIX, h.high64);
	store_put_be64(out + URL_KEY_PREFIX + 8, h.low64);
	return URL_KEY_MAX;
}

int
queue_find_url(struct queue *q, MDB_txn *txn, const char *url, uint64_t *id)
{
	unsigned char key[URL_KEY_MAX];
	MDB_val k = { 0, key }, v;
	int rc;

	k.mv_size = queue_url_key(url, key);
	rc = mdb_get(txn, q->urls, &k, &v);
	if (rc == 0 && v.mv_size != 8)
		rc = MDB_CORRUPTED;
	if (rc == 0)
		*id = store_get_be64(v.mv_data);
	if (rc == MDB_NOTFOUND && q->intake.count > 0)
		rc = queue_intake_lookup(q, txn, url, queue_intake_hash(url), id);
	return rc;
}

/*
 * Enters key (len bytes) in urls for job id, unless the URL has an owner
 * already, which keeps it (an alias, or a generation's URL put again).
 */
static int
url_put(struct queue *q, MDB_txn *txn, const unsigned char *key, size_t len,
    uint64_t id)
{
	unsigned char idbuf[8];
	MDB_val k = { len, (void *)key }, v = { sizeof(idbuf), idbuf };
	int rc;

	store_put_be64(idbuf, id);
	rc = mdb_put(txn, q->urls, &k, &v, MDB_NOOVERWRITE);
	return rc == MDB_KEYEXIST ? 0 : rc;
}

int
queue_alias_url(struct queue *q, MDB_txn *txn, const char *url, uint64_t id)
{
	unsigned char key[URL_KEY_MAX];
	uint64_t other;
	int rc;

	/* A URL waiting in the intake is known: it keeps its own job.  A
	 * lookup, not an indexing of the whole intake: nearly every page
	 * with a canonical link comes here, and each would have indexed
	 * the intake job by job. */
	if (q->intake.count > 0 && (rc = queue_intake_lookup(q, txn, url,
	    queue_intake_hash(url), &other)) != MDB_NOTFOUND)
		return rc;
	return url_put(q, txn, key, queue_url_key(url, key), id);
}

/* --- indexes ------------------------------------------------------- */

static void
ready_key(unsigned char *key, uint64_t host, int32_t prio, uint64_t id)
{
	/* Higher priority sorts first: store 2^31 - prio. */
	store_put_be64(key, host);
	store_put_be32(key + 8, (uint32_t)(0x80000000u - (uint32_t)prio));
	store_put_be64(key + 12, id);
}

static int
index_op(MDB_txn *txn, MDB_dbi dbi, void *key, size_t len, bool add)
{
	MDB_val k = { len, key }, v = { 0, NULL };
	int rc;

	if (add)
		return mdb_put(txn, dbi, &k, &v, 0);
	rc = mdb_del(txn, dbi, &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
id_index(MDB_txn *txn, MDB_dbi dbi, uint64_t id, bool add)
{
	unsigned char key[8];

	store_put_be64(key, id);
	return index_op(txn, dbi, key, sizeof(key), add);
}

/* Adds or removes j's entry in the index of its current state. */
static int
queue_job_index(struct queue *q, MDB_txn *txn, const struct job *j, bool add,
    uint64_t now)
{
	unsigned char key[READY_KEY_LEN];

	switch (j->state) {
	case JOB_QUEUED:
		if (j->not_before_ms > now || (!add && j->not_before_ms > 0)) {
			store_put_be64(key, j->not_before_ms);
			store_put_be64(key + 8, j->id);
			if (add || mdb_del(txn, q->delayed, &(MDB_val){
			    DELAYED_KEY_LEN, key }, NULL) == 0)
				return add ? index_op(txn, q->delayed, key,
				    DELAYED_KEY_LEN, true) : 0;
		}
		ready_key(key, j->host, j->priority, j->id);
		return index_op(txn, q->ready, key, READY_KEY_LEN, add);
	case JOB_ACTIVE:
		return id_index(txn, q->active, j->id, add);
	case JOB_FAILED:
		return id_index(txn, q->failed, j->id, add);
	default:
		return 0;
	}
}

/* --- host records ------------------------------------------------- */

/* A host record: jobs per state, then the origin string. */
struct host_disk {
	uint64_t	 jobs[JOB_NSTATES];
};

/*
 * Adds delta to host's count of jobs in state; origin (when not NULL)
 * names a host seen for the first time.
 */
static int
host_add(struct queue *q, MDB_txn *txn, uint64_t host, const char *origin,
    enum job_state state, int delta)
{
	unsigned char key[8];
	MDB_val k = { sizeof(key), key }, v;
	struct host_disk h = { { 0 } };
	const char *name = origin ? origin : "";
	size_t nlen = strlen(name);
	char *old = NULL;
	int rc;

	store_put_be64(key, host);
	rc = mdb_get(txn, q->hosts, &k, &v);
	if (rc == 0 && v.mv_size >= sizeof(h)) {
		memcpy(&h, v.mv_data, sizeof(h));
		nlen = v.mv_size - sizeof(h);
		old = strndup((char *)v.mv_data + sizeof(h), nlen);
		if (old == NULL)
			return ENOMEM;
		name = old;
	} else if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	h.jobs[state] = (uint64_t)((int64_t)h.jobs[state] + delta);
	v.mv_size = sizeof(h) + nlen;
	rc = mdb_put(txn, q->hosts, &k, &v, MDB_RESERVE);
	if (rc == 0) {
		memcpy(v.mv_data, &h, sizeof(h));
		memcpy((char *)v.mv_data + sizeof(h), name, nlen);
	}
	free(old);
	return rc;
}

int
queue_host_origin(struct queue *q, MDB_txn *txn, uint64_t host,
    char **origin)
{
	unsigned char key[8];
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	store_put_be64(key, host);
	rc = mdb_get(txn, q->hosts, &k, &v);
	if (rc != 0)
		return rc;
	if (v.mv_size <= sizeof(struct host_disk))
		return MDB_NOTFOUND;
	*origin = strndup((char *)v.mv_data + sizeof(struct host_disk),
	    v.mv_size - sizeof(struct host_disk));
	return *origin ? 0 : ENOMEM;
}

int
queue_walk_hosts(struct queue *q, MDB_txn *txn, uint64_t after,
    int (*fn)(const struct host_record *h, void *arg), void *arg)
{
	unsigned char key[8];
	MDB_cursor *cur;
	MDB_val k = { sizeof(key), key }, v;
	int rc, stop = 0;

	store_put_be64(key, after + 1);
	if ((rc = mdb_cursor_open(txn, q->hosts, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, after ? MDB_SET_RANGE :
	    MDB_FIRST); rc == 0 && !stop;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct host_record r;
		char *origin;

		if (k.mv_size != 8 || v.mv_size < sizeof(struct host_disk))
			continue;
		r.host = store_get_be64(k.mv_data);
		memcpy(r.jobs, v.mv_data, sizeof(r.jobs));
		origin = strndup((char *)v.mv_data + sizeof(struct host_disk),
		    v.mv_size - sizeof(struct host_disk));
		r.origin = origin ? origin : "";
		stop = fn(&r, arg);
		free(origin);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/*
 * Moves j to state `to`: leaves the old index, updates the counts, writes
 * the record, joins the new index.  j->state is updated.
 */
static int
queue_job_move(struct queue *q, MDB_txn *txn, struct job *j, enum job_state to,
    uint64_t now)
{
	int rc = queue_job_index(q, txn, j, false, now);

	if (rc == 0)
		rc = host_add(q, txn, j->host, NULL, j->state, -1);
	if (rc == 0)
		rc = host_add(q, txn, j->host, NULL, to, 1);
	if (rc != 0)
		return rc;
	q->counts.state[j->state]--;
	q->counts.state[to]++;
	j->state = to;
	j->updated_ms = now;
	if (to == JOB_DONE || to == JOB_FAILED || to == JOB_CANCELLED) {
		j->finished_ms = now;
		if (q->on_finished != NULL)
			q->on_finished(j->id, q->on_finished_arg);
	} else
		j->finished_ms = 0;
	rc = queue_job_put(q, txn, j, 0);
	if (rc == 0)
		rc = queue_job_index(q, txn, j, true, now);
	return rc;
}

static void
queue_job_set_error(struct job *j, const char *code, const char *msg)
{
	snprintf(j->error_code, sizeof(j->error_code), "%s", code ? code : "");
	SAFE_FREE(j->error_msg);
	if (msg != NULL && *msg != '\0')
		j->error_msg = strndup(msg, JOB_ERROR_MSG_MAX);
}

/* --- transitions --------------------------------------------------- */

/*
 * Moves j to a new host (a redirect, or back to its own URL's host when
 * it restarts), as queued.  The old index entry and host count go first.
 */
static int
queue_job_rehost(struct queue *q, MDB_txn *txn, struct job *j, uint64_t host,
    const char *origin, uint64_t now)
{
	int rc = queue_job_index(q, txn, j, false, now);

	if (rc == 0)
		rc = host_add(q, txn, j->host, NULL, j->state, -1);
	if (rc == 0)
		rc = host_add(q, txn, host, origin, JOB_QUEUED, 1);
	if (rc != 0)
		return rc;
	q->counts.state[j->state]--;
	q->counts.state[JOB_QUEUED]++;
	j->state = JOB_QUEUED;
	j->host = host;
	j->updated_ms = now;
	j->finished_ms = 0;
	rc = queue_job_put(q, txn, j, 0);
	if (rc == 0)
		rc = queue_job_index(q, txn, j, true, now);
	return rc;
}

/* Back to queued from the submitted URL: a forced or manual retry
 * forgets the redirects a previous run followed. */
static int
queue_job_restart(struct queue *q, MDB_txn *txn, struct job *j, uint64_t now)
{
	if (j->fetch_url == NULL)
		return queue_job_move(q, txn, j, JOB_QUEUED, now);
	SAFE_FREE(j->fetch_url);
	j->hops = 0;
	return queue_job_rehost(q, txn, j, j->url_host, NULL, now);
}

static int
submit_existing(struct queue *q, MDB_txn *txn, uint64_t id, bool force,
    int32_t prio, uint64_t now, struct submit_result *r)
{
	struct job j;
	int rc = queue_get(q, txn, id, &j);

	if (rc != 0)
		return rc;
	r->id = id;
	r->state = j.state;
	r->status = SUBMIT_DUPLICATE;
	if (force && j.state != JOB_QUEUED && j.state != JOB_ACTIVE) {
		j.attempts = 0;
		j.priority = prio;
		j.not_before_ms = 0;
		queue_job_set_error(&j, "", NULL);
		rc = queue_job_restart(q, txn, &j, now);
		r->status = SUBMIT_REQUEUED;
		r->state = JOB_QUEUED;
	}
	if (rc == 0 && r->status == SUBMIT_DUPLICATE)
		q->counts.dup_submit++;
	queue_job_free(&j);
	return rc;
}

/* --- the intake ---------------------------------------------------- */

static uint64_t
queue_intake_hash(const char *url)
{
	return XXH3_64bits(url, strlen(url));
}

/* The unindexed job whose URL is url (hash: its queue_intake_hash()): 0,
 * MDB_NOTFOUND or an error. */
static int
queue_intake_lookup(struct queue *q, MDB_txn *txn, const char *url, uint64_t hash,
    uint64_t *id)
{
	size_t len = strlen(url);
	uint32_t cursor = 0;
	uint64_t cand;

	while (intake_find(&q->intake, hash, &cursor, &cand)) {
		MDB_val k = { sizeof(cand), &cand }, v;
		struct job_disk d;
		int rc;

		if (cand < q->index_from || cand >= q->next_id)
			continue;	/* indexed: urls has it */
		if ((rc = mdb_get(txn, q->jobs, &k, &v)) != 0)
			return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
		if (queue_job_header(&v, &d) != 0) {
			q->damaged++;
			continue;	/* damaged: a new job is made */
		}
		if (d.url_len == len && v.mv_size >= sizeof(d) + len &&
		    memcmp((char *)v.mv_data + sizeof(d), url, len) == 0) {
			*id = cand;
			return 0;
		}
	}
	return MDB_NOTFOUND;
}

/*
 * Enters j into urls, its state's index and its host's counts, as a
 * submission did before the intake.  origin names j's host if known.
 */
static int
index_job(struct queue *q, MDB_txn *txn, const struct job *j,
    const char *origin, uint64_t now)
{
	char *made = NULL;
	int rc = index_job_entries(q, txn, j, now);

	if (rc == 0 && origin == NULL)
		(void)url_host_key(j->url, &made);	/* no URL parse */
	if (rc == 0)
		rc = host_add(q, txn, j->host, origin ? origin : made, j->state,
		    1);
	free(made);
	return rc;
}

/* index_job but for the host's counts, which the caller adds. */
static int
index_job_entries(struct queue *q, MDB_txn *txn, const struct job *j,
    uint64_t now)
{
	unsigned char key[URL_KEY_MAX];
	int rc = 0;

	/* The intake kept a second job for a known URL out; a URL that is
	 * known anyway (an alias) keeps its first owner.  A generation's
	 * URLs are in urls already. */
	if (j->id >= q->gen.to)
		rc = url_put(q, txn, key, queue_url_key(j->url, key), j->id);
	if (rc == 0)
		rc = queue_job_index(q, txn, j, true, now);
	if (rc == 0 && j->state == JOB_QUEUED && j->not_before_ms <= now &&
	    q->on_ready != NULL)
		q->on_ready(j->host, j->priority, q->on_ready_arg);
	return rc;
}

/* What a walk over the unindexed jobs carries. */
struct unindexed_walk {
	struct queue	*q;
	MDB_txn		*txn;
	uint64_t	 now;
	uint64_t	 limit;
	uint64_t	 done;
	int		 rc;
};

/* queue_walk callback of queue_index: indexes j, in id order. */
static int
index_walked(const struct job *j, void *arg)
{
	struct unindexed_walk *w = arg;

	if (j->id >= w->q->next_id)
		return 1;
	if ((w->rc = index_job(w->q, w->txn, j, NULL, w->now)) != 0)
		return 1;
	w->q->index_from = j->id + 1;
	return ++w->done >= w->limit;	/* stop before decoding another */
}

/*
 * Generations.  Indexing unindexed jobs one by one in id order costs a
 * random leaf of urls and one of ready per job: past a few hundred
 * thousand jobs each is a page written, and batch intake slowed 15x
 * between an empty queue and 1,000,000 queued.  So a large intake is
 * indexed as a generation: its URL keys are sorted in memory and put into
 * urls in key order, QUEUE_GEN_STEP with each submission and the caller's
 * batch each idle turn, so that a leaf takes all its new keys in one
 * commit.
 * Then its jobs join ready or delayed and their hosts' counts in the
 * order of their hosts (ready is keyed by host: a few thousand leaves,
 * each written once), at the same pace, and index_from passes them once
 * the last is in.
 *
 * Until its URLs are all in, the generation's jobs are unindexed like any
 * other: the intake finds them, no lease sees them, and a crash leaves
 * them to index_at_open().  Putting a URL twice is harmless
 * (MDB_NOOVERWRITE: the first owner stays), so a rolled-back turn only
 * repeats work.  Indexing a job twice is not (its host's counts), so the
 * second step keeps its progress in the same transactions: the counters
 * "gen.to" and "gen.done", the jobs below gen.to taken in the order of
 * (url_host, id), which nothing changes.  Jobs indexed by it may be leased
 * and change like any other; index_at_open() passes over them.  Any other
 * change than a submission or a lease finishes the generation first.
 *
 * The intake becomes a generation from QUEUE_GEN_MIN jobs, or a quarter of
 * the jobs indexed if more (a generation's cost per job is about the leaves
 * of urls over its size, and urls grows with the store), but from half the
 * backlog at most.  Each submission advances it by QUEUE_GEN_STEP steps (a
 * URL put, or a job indexed): two steps a job, so a generation is done
 * about when as many jobs joined the intake behind it, and the intake is
 * full at the latest then.  Spread so, its work costs every submission
 * alike; at 4 steps, a generation's work fell in half of the submissions,
 * and the slowest 100,000 of a stream were 2.1-2.3x slower than the first
 * (bench/submit --sustained) against 1.5-1.7x; at 1,000,000 queued
 * intake runs at about 6x the rate of indexing job by job.
 */
#define QUEUE_GEN_MIN	16384
#define QUEUE_GEN_STEP	2

struct queue_gen_url {
	const unsigned char *key;
	uint64_t	 id;
	uint64_t	 url_host;
	size_t		 len;
};

static void
gen_free(struct queue *q)
{
	bool large = q->gen.n >= QUEUE_GEN_MIN;

	free(q->gen.url);
	free(q->gen.keys);
	memset(&q->gen, 0, sizeof(q->gen));
#ifdef __GLIBC__
	/* glibc raises its mmap threshold to the size of each large block
	 * freed, so the next generation's blocks come from the heap, and
	 * the heap kept their 30 MB after the intake was indexed. */
	if (large)
		malloc_trim(0);
#endif
}

/* The order of urls (LMDB's default: bytes, then the shorter first). */
static int
gen_url_cmp(const void *a, const void *b)
{
	const struct queue_gen_url *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/* The order of the second step: by the URL's host, then by id. */
static int
gen_host_cmp(const void *a, const void *b)
{
	const struct queue_gen_url *x = a, *y = b;

	if (x->url_host != y->url_host)
		return x->url_host < y->url_host ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

struct gen_walk {
	struct queue	*q;
	struct buf	 keys;
	size_t		*off;		/* of each key, until keys stops moving */
	int		 rc;
};

/* queue_walk callback of gen_start: adds j's URL key. */
static int
gen_walked(const struct job *j, void *arg)
{
	struct gen_walk *w = arg;
	struct queue *q = w->q;
	unsigned char key[URL_KEY_MAX];
	size_t len;

	if (j->id >= q->gen.to || q->gen.n == q->gen.to - q->index_from)
		return 1;
	len = queue_url_key(j->url, key);
	w->off[q->gen.n] = w->keys.len;
	if (buf_append(&w->keys, key, len) == -1) {
		w->rc = ENOMEM;
		return 1;
	}
	q->gen.url[q->gen.n].id = j->id;
	q->gen.url[q->gen.n].url_host = j->url_host;
	q->gen.url[q->gen.n].len = len;
	q->gen.n++;
	return 0;
}

/*
 * Makes the unindexed jobs below to a generation: reads their records
 * (appended together, so a few pages) and sorts them by URL key, or by
 * host for one whose URLs are in (by_host).  Without the memory it leaves
 * no generation, and the jobs are indexed in id order.
 */
static int
gen_start(struct queue *q, MDB_txn *txn, uint64_t to, bool by_host)
{
	uint64_t count = to - q->index_from;
	struct gen_walk w = { .q = q };
	size_t len;
	int rc;

	q->gen.to = to;
	q->gen.url = calloc(count, sizeof(*q->gen.url));
	w.off = calloc(count, sizeof(*w.off));
	buf_init(&w.keys, BUF_MAX);
	if (q->gen.url == NULL || w.off == NULL) {
		free(w.off);
		gen_free(q);
		return 0;
	}
	rc = queue_walk(q, txn, q->index_from - 1, -1, gen_walked, &w);
	if (rc == 0 && w.rc == 0) {
		q->gen.keys = (unsigned char *)buf_steal(&w.keys, &len);
		for (uint64_t i = 0; i < q->gen.n; i++)
			q->gen.url[i].key = q->gen.keys + w.off[i];
		qsort(q->gen.url, q->gen.n, sizeof(*q->gen.url),
		    by_host ? gen_host_cmp : gen_url_cmp);
		q->gen.by_host = by_host;
	}
	free(w.off);
	buf_free(&w.keys);
	if (rc != 0 || w.rc != 0)
		gen_free(q);
	return w.rc == ENOMEM ? 0 : rc;
}

/* Puts up to limit of the generation's URLs into urls; *done counts. */
static int
gen_put_urls(struct queue *q, MDB_txn *txn, uint64_t limit, uint64_t *done)
{
	while (q->gen.pos < q->gen.n && *done < limit) {
		const struct queue_gen_url *u = &q->gen.url[q->gen.pos];
		int rc = url_put(q, txn, u->key, u->len, u->id);

		if (rc != 0)
			return rc;
		q->gen.pos++;
		(*done)++;
	}
	return 0;
}

static bool
gen_due(const struct queue *q)
{
	uint64_t t = (q->index_from - 1) / 4;

	if (t < QUEUE_GEN_MIN)
		t = QUEUE_GEN_MIN;
	if (t > q->backlog / 2)
		t = q->backlog / 2;
	return q->backlog > 0 && q->gen.to == 0 && q->index_from < q->next_id &&
	    queue_unindexed(q) >= t;
}

static int index_oldest(struct queue *q, MDB_txn *txn, uint64_t limit,
    uint64_t now, uint64_t *n);

static int
set_counter(struct queue *q, MDB_txn *txn, const char *name, uint64_t value)
{
	uint64_t now = store_counter_get(q->store, txn, name);

	return now == value ? 0 : store_counter_add(q->store, txn, name,
	    (int64_t)(value - now));
}

/* Jobs of one host in one state, counted into its record at once. */
struct gen_run {
	uint64_t	 host;
	enum job_state	 state;
	int		 n;
	char		*origin;	/* the host's, from the first URL */
};

static int
gen_count_run(struct queue *q, MDB_txn *txn, struct gen_run *run)
{
	int rc = host_add(q, txn, run->host, run->origin, run->state, run->n);

	free(run->origin);
	run->origin = NULL;
	run->n = 0;
	return rc;
}

/* Indexes up to limit more jobs of the generation, in the order of
 * gen_host_cmp; *n counts them. */
static int
gen_index_jobs(struct queue *q, MDB_txn *txn, uint64_t limit, uint64_t now,
    uint64_t *n)
{
	struct gen_run run = { 0 };
	uint64_t from = q->gen.done;
	int rc = 0;

	if (!q->gen.by_host) {
		qsort(q->gen.url, q->gen.n, sizeof(*q->gen.url),
		    gen_host_cmp);
		q->gen.by_host = true;
	}
	if (from == 0 && q->gen.n > 0)
		rc = set_counter(q, txn, "gen.to", q->gen.to);
	/* The jobs come host by host: each run of a host's jobs in one
	 * state is added to its record at once. */
	while (rc == 0 && q->gen.done < q->gen.n && q->gen.done - from < limit) {
		struct job j;

		rc = queue_get(q, txn, q->gen.url[q->gen.done].id, &j);
		if (rc == MDB_CORRUPTED) {
			q->damaged++;	/* sluiced --check names it */
			rc = 0;
		} else if (rc == 0) {
			if (run.n > 0 && (j.host != run.host ||
			    j.state != run.state))
				rc = gen_count_run(q, txn, &run);
			if (rc == 0 && run.n == 0) {
				run.host = j.host;
				run.state = j.state;
				(void)url_host_key(j.url, &run.origin);
			}
			if (rc == 0 && (rc = index_job_entries(q, txn, &j,
			    now)) == 0)
				run.n++;
			queue_job_free(&j);
		}
		if (rc == 0)
			q->gen.done++;
	}
	if (rc == 0 && run.n > 0)
		rc = gen_count_run(q, txn, &run);
	free(run.origin);
	if (rc == 0 && q->gen.done > from)
		rc = store_counter_add(q->store, txn, "gen.done",
		    (int64_t)(q->gen.done - from));
	if (n != NULL)
		*n += q->gen.done - from;
	return rc;
}

/* The generation's jobs are all indexed: they leave the intake. */
static int
gen_finish(struct queue *q, MDB_txn *txn)
{
	int rc = set_counter(q, txn, "gen.to", 0);

	if (rc == 0)
		rc = set_counter(q, txn, "gen.done", 0);
	if (rc == 0) {
		q->index_from = q->gen.to;
		q->gen.finished = true;
	}
	return rc;
}

static bool
gen_running(const struct queue *q)
{
	return q->gen.to != 0 && !q->gen.finished;
}

/*
 * Advances the generation by up to limit steps (UINT64_MAX: to its end): a
 * step puts a URL, or, once all are in, indexes a job.  *n counts the jobs
 * indexed.
 */
static int
gen_advance(struct queue *q, MDB_txn *txn, uint64_t limit, uint64_t now,
    uint64_t *n)
{
	uint64_t done = 0;
	int rc;

	if (!gen_running(q))
		return 0;
	if ((rc = gen_put_urls(q, txn, limit, &done)) != 0 ||
	    q->gen.pos < q->gen.n)
		return rc;
	if (done < limit && (rc = gen_index_jobs(q, txn, limit == UINT64_MAX ?
	    UINT64_MAX : limit - done, now, n)) != 0)
		return rc;
	return q->gen.done == q->gen.n ? gen_finish(q, txn) : 0;
}

/*
 * At start: the generation whose second step a crash cut off (the
 * counters "gen.to" and "gen.done") is made again from its records, in
 * the same order, to go on from where it stopped.
 */
static int
gen_load(struct queue *q, MDB_txn *txn)
{
	uint64_t to = store_counter_get(q->store, txn, "gen.to"),
	    done = store_counter_get(q->store, txn, "gen.done");
	int rc;

	if (to == 0)
		return 0;
	if (to <= q->index_from || to > q->next_id)
		return MDB_CORRUPTED;
	if ((rc = gen_start(q, txn, to, true)) != 0)
		return rc;
	if (q->gen.to == 0)
		return ENOMEM;
	if (done > q->gen.n) {
		gen_free(q);
		return MDB_CORRUPTED;
	}
	q->gen.pos = q->gen.n;		/* its URLs are in */
	q->gen.done = done;
	return 0;
}

int
queue_index(struct queue *q, MDB_txn *txn, uint64_t limit, uint64_t now,
    uint64_t *n)
{
	uint64_t done = 0, more = 0;
	int rc = 0;

	if (limit == 0)
		goto out;
	if (limit != UINT64_MAX && gen_due(q) &&
	    (rc = gen_start(q, txn, q->next_id, false)) != 0)
		return rc;
	if (gen_running(q)) {
		rc = gen_advance(q, txn, limit, now, &more);
		if (rc != 0 || limit != UINT64_MAX)
			goto out;
	}
	rc = index_oldest(q, txn, limit, now, &done);
out:
	if (n != NULL)
		*n = done + more;
	return rc;
}

/* Indexes up to limit unindexed jobs in id order. */
static int
index_oldest(struct queue *q, MDB_txn *txn, uint64_t limit, uint64_t now,
    uint64_t *n)
{
	struct unindexed_walk w = { q, txn, now, limit, 0, 0 };
	int rc = 0;

	if (limit > 0 && q->index_from < q->next_id) {
		rc = queue_walk(q, txn, q->index_from - 1, -1, index_walked,
		    &w);
		if (rc == 0)
			rc = w.rc;
		if (rc == 0 && w.done < limit)
			q->index_from = q->next_id;	/* no records left */
	}
	if (n != NULL)
		*n = w.done;
	return rc;
}

/* queue_walk callback of queue_intake_load: adds j to the intake. */
static int
load_walked(const struct job *j, void *arg)
{
	struct unindexed_walk *w = arg;
	struct intake *in = &w->q->intake;

	if (j->id >= w->q->next_id)
		return 1;
	if (in->count > 0 && j->id != in->base + in->count)
		w->rc = MDB_CORRUPTED;	/* ids follow on */
	else if (intake_add(in, j->id, queue_intake_hash(j->url)) == -1)
		w->rc = ENOMEM;
	return w->rc != 0;
}

/* Fills the intake with the unindexed jobs of the store. */
static int
queue_intake_load(struct queue *q)
{
	struct unindexed_walk w = { .q = q };
	MDB_txn *txn;
	int rc = store_txn_read(q->store, &txn);

	if (rc != 0)
		return rc;
	rc = queue_walk(q, txn, q->index_from - 1, -1, load_walked, &w);
	mdb_txn_abort(txn);
	return rc != 0 ? rc : w.rc;
}

/* Indexes the whole intake: before any change but a submission. */
static int
settle(struct queue *q, MDB_txn *txn, uint64_t now)
{
	return queue_index(q, txn, UINT64_MAX, now, NULL);
}

int
queue_submit(struct queue *q, MDB_txn *txn, const char *url, uint64_t host,
    const char *origin, int32_t priority, uint64_t not_before_ms, bool force,
    uint64_t now, struct submit_result *r)
{
	unsigned char key[URL_KEY_MAX];
	MDB_val k = { 0, key }, v;
	struct job j = { 0 };
	uint64_t id, hash = queue_intake_hash(url);
	int rc;

	k.mv_size = queue_url_key(url, key);
	rc = mdb_get(txn, q->urls, &k, &v);
	if (rc == 0 && v.mv_size == 8) {
		rc = submit_existing(q, txn, store_get_be64(v.mv_data),
		    force, priority, now, r);
		if (rc != MDB_CORRUPTED)
			return rc;
		/* Its job is damaged: the URL gets a new one. */
		q->damaged++;
		if ((rc = mdb_del(txn, q->urls, &k, NULL)) != 0)
			return rc;
		rc = MDB_NOTFOUND;
	}
	if (rc != MDB_NOTFOUND)
		return rc ? rc : MDB_CORRUPTED;
	/* An unindexed job is queued, which --force leaves as it is. */
	if (q->intake.count > 0 &&
	    (rc = queue_intake_lookup(q, txn, url, hash, &id)) != MDB_NOTFOUND)
		return rc ? rc : submit_existing(q, txn, id, force, priority,
		    now, r);
	j.id = q->next_id;
	j.state = JOB_QUEUED;
	j.priority = priority;
	j.host = host;
	j.url_host = host;
	j.created_ms = j.updated_ms = now;
	j.not_before_ms = not_before_ms > now ? not_before_ms : 0;
	j.url = (char *)url;
	if ((rc = queue_job_put(q, txn, &j, MDB_APPEND)) != 0)
		return rc;
	/* A full backlog makes room at once: the generation is finished,
	 * or the oldest waiting jobs are indexed.  Otherwise the generation
	 * takes a step, or begins. */
	if (q->backlog > 0 && queue_unindexed(q) >= q->backlog)
		rc = gen_running(q) ? gen_advance(q, txn, UINT64_MAX, now,
		    NULL) : index_oldest(q, txn, queue_unindexed(q) -
		    q->backlog + 1, now, NULL);
	else if (gen_due(q))
		rc = gen_start(q, txn, q->next_id, false);
	if (rc == 0 && gen_running(q) && queue_unindexed(q) < q->backlog)
		rc = gen_advance(q, txn, QUEUE_GEN_STEP, now, NULL);
	if (rc != 0)
		return rc;
	if (q->backlog == 0 ||
	    intake_add(&q->intake, j.id, hash) == -1) {
		/* Indexed now, after any older unindexed job. */
		if ((rc = settle(q, txn, now)) != 0 ||
		    (rc = index_job(q, txn, &j, origin, now)) != 0)
			return rc;
		q->index_from = j.id + 1;
	}
	q->next_id++;
	q->counts.state[JOB_QUEUED]++;
	q->counts.submitted++;
	r->status = SUBMIT_QUEUED;
	r->id = j.id;
	r->state = JOB_QUEUED;
	return 0;
}

int
queue_promote(struct queue *q, MDB_txn *txn, uint64_t now,
    void (*fn)(uint64_t host, int32_t prio, void *arg), void *arg,
    uint64_t *next_due)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*next_due = 0;
	rc = mdb_cursor_open(txn, q->delayed, &cur);
	if (rc != 0)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
		uint64_t due = store_get_be64(k.mv_data);
		uint64_t id = store_get_be64((unsigned char *)k.mv_data + 8);
		unsigned char key[READY_KEY_LEN];
		struct job j;

		if (due > now) {
			*next_due = due;
			break;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		/* A damaged job leaves the queue (sluiced --check names
		 * it): one bad record must not stop every turn. */
		if ((rc = queue_get(q, txn, id, &j)) == MDB_CORRUPTED) {
			q->damaged++;
			rc = 0;
			continue;
		}
		if (rc != 0)
			break;
		ready_key(key, j.host, j.priority, j.id);
		rc = index_op(txn, q->ready, key, sizeof(key), true);
		if (rc == 0 && fn != NULL)
			fn(j.host, j.priority, arg);
		queue_job_free(&j);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
queue_peek(struct queue *q, MDB_txn *txn, uint64_t host, int32_t *priority,
    uint64_t *id)
{
	unsigned char key[8];
	MDB_cursor *cur;
	MDB_val k = { sizeof(key), key }, v;
	int rc;

	store_put_be64(key, host);
	rc = mdb_cursor_open(txn, q->ready, &cur);
	if (rc != 0)
		return rc;
	for (;;) {
		MDB_val jk = { 8, NULL }, jv;
		struct job_disk d;
		uint64_t jid;

		k.mv_size = sizeof(key);
		k.mv_data = key;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && (k.mv_size != READY_KEY_LEN ||
		    store_get_be64(k.mv_data) != host))
			rc = MDB_NOTFOUND;
		if (rc != 0)
			break;
		/* A damaged job leaves the queue (sluiced --check names
		 * it), or every turn would fail on it. */
		jid = store_get_be64((unsigned char *)k.mv_data + 12);
		jk.mv_data = &jid;
		rc = mdb_get(txn, q->jobs, &jk, &jv);
		if (rc == 0 && queue_job_header(&jv, &d) == 0)
			break;
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		q->damaged++;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	if (rc == 0) {
		const unsigned char *p = k.mv_data;
		*priority = (int32_t)(0x80000000u - store_get_be32(p + 8));
		*id = store_get_be64(p + 12);
	}
	mdb_cursor_close(cur);
	return rc;
}

int
queue_lease(struct queue *q, MDB_txn *txn, uint64_t id, uint64_t now,
    struct job *j)
{
	int rc = queue_get(q, txn, id, j);

	if (rc != 0)
		return rc;
	if (j->state != JOB_QUEUED) {
		queue_job_free(j);
		return MDB_KEYEXIST;
	}
	j->attempts++;
	rc = queue_job_move(q, txn, j, JOB_ACTIVE, now);
	if (rc != 0)
		queue_job_free(j);
	return rc;
}

/* Reads job id and checks it is active: MDB_KEYEXIST if not (it was
 * cancelled while in flight, and the result is to be dropped). */
static int
get_active(struct queue *q, MDB_txn *txn, uint64_t id, struct job *j)
{
	int rc = queue_get(q, txn, id, j);

	if (rc == 0 && j->state != JOB_ACTIVE) {
		queue_job_free(j);
		rc = MDB_KEYEXIST;
	}
	return rc;
}

int
queue_done(struct queue *q, MDB_txn *txn, uint64_t id, uint64_t doc_id,
    uint32_t http_status, uint64_t now)
{
	struct job j;
	int rc = get_active(q, txn, id, &j);

	if (rc != 0)
		return rc;
	j.doc_id = doc_id;
	j.http_status = http_status;
	queue_job_set_error(&j, "", NULL);
	rc = queue_job_move(q, txn, &j, JOB_DONE, now);
	queue_job_free(&j);
	return rc;
}

/*
 * The delay before attempt n+1 (see queue_fail in queue.h).  A 429 or 503
 * with Retry-After: that value within [retry_after_min, retry_after_max]
 * (the upper bound wins a conflict).  Otherwise base * 2^(n-1), capped,
 * +-20% jitter, and a longer Retry-After on another status wins.
 */
static uint64_t
retry_delay(const struct queue *q, uint32_t attempts,
    const struct job_failure *f)
{
	uint64_t d = q->retry_base_ms;

	if (f->retry_after_ms >= 0 &&
	    (f->http_status == 429 || f->http_status == 503)) {
		d = (uint64_t)f->retry_after_ms;
		if (d < q->retry_after_min_ms)
			d = q->retry_after_min_ms;
		if (d > q->retry_after_max_ms)
			d = q->retry_after_max_ms;
		return d;
	}
	for (uint32_t i = 1; i < attempts && d < q->retry_max_ms; i++)
		d *= 2;
	if (d > q->retry_max_ms)
		d = q->retry_max_ms;
	d = jitter_ms(d, 0.2);
	if (f->retry_after_ms >= 0 && (uint64_t)f->retry_after_ms > d)
		d = (uint64_t)f->retry_after_ms;
	return d;
}

int
queue_fail(struct queue *q, MDB_txn *txn, uint64_t id,
    const struct job_failure *f, uint64_t now, bool *requeued)
{
	struct job j;
	int rc = get_active(q, txn, id, &j);

	if (rc != 0)
		return rc;
	queue_job_set_error(&j, f->code, f->message);
	j.http_status = f->http_status;
	*requeued = f->retryable && j.attempts < q->max_attempts;
	if (*requeued) {
		j.not_before_ms = now + retry_delay(q, j.attempts, f);
		rc = queue_job_move(q, txn, &j, JOB_QUEUED, now);
		if (rc == 0)
			q->counts.retried++;
	} else {
		rc = queue_job_move(q, txn, &j, JOB_FAILED, now);
		if (rc == 0)
			q->counts.failed++;
	}
	queue_job_free(&j);
	return rc;
}

int
queue_redirect(struct queue *q, MDB_txn *txn, uint64_t id,
    const char *target, uint64_t host, const char *origin, uint32_t max_hops,
    uint64_t now, enum redirect_outcome *outcome)
{
	uint64_t h = XXH3_64bits(target, strlen(target));
	struct job j;
	int rc = get_active(q, txn, id, &j);
	char *copy;

	if (rc != 0)
		return rc;
	*outcome = REDIRECT_QUEUED;
	if (h == XXH3_64bits(j.url, strlen(j.url)))
		*outcome = REDIRECT_LOOP;
	for (uint32_t i = 0; i < j.hops; i++)
		if (j.visited[i] == h)
			*outcome = REDIRECT_LOOP;
	if (*outcome == REDIRECT_QUEUED && (j.hops >= max_hops ||
	    j.hops >= QUEUE_MAX_HOPS))
		*outcome = REDIRECT_TOO_MANY;
	if (*outcome != REDIRECT_QUEUED) {
		queue_job_free(&j);
		return 0;
	}
	copy = strdup(target);
	if (copy == NULL) {
		queue_job_free(&j);
		return ENOMEM;
	}
	free(j.fetch_url);
	j.fetch_url = copy;
	j.visited[j.hops++] = h;
	/* The next lease counts an attempt; a hop is not a new one. */
	if (j.attempts > 0)
		j.attempts--;
	j.not_before_ms = 0;
	rc = queue_job_rehost(q, txn, &j, host, origin, now);
	queue_job_free(&j);
	return rc;
}

#define STATE_BIT(s)	(1u << (s))

/*
 * Reads job id and, when its state is one of the `from` bits, applies
 * change() to it, passing arg on; MDB_KEYEXIST when its state forbids
 * the change.
 */
static int
queue_job_update(struct queue *q, MDB_txn *txn, uint64_t id, unsigned from,
    int (*change)(struct queue *, MDB_txn *, struct job *, const void *,
    uint64_t), const void *arg, uint64_t now)
{
	struct job j;
	int rc = settle(q, txn, now);

	if (rc == 0)
		rc = queue_get(q, txn, id, &j);
	if (rc != 0)
		return rc;
	rc = (from & STATE_BIT(j.state)) ? change(q, txn, &j, arg, now) :
	    MDB_KEYEXIST;
	queue_job_free(&j);
	return rc;
}

static int
cancel_job(struct queue *q, MDB_txn *txn, struct job *j, const void *arg,
    uint64_t now)
{
	(void)arg;
	queue_job_set_error(j, "cancelled", NULL);
	return queue_job_move(q, txn, j, JOB_CANCELLED, now);
}

static int
retry_job(struct queue *q, MDB_txn *txn, struct job *j, const void *arg,
    uint64_t now)
{
	(void)arg;
	j->attempts = 0;
	j->not_before_ms = 0;
	queue_job_set_error(j, "", NULL);
	return queue_job_restart(q, txn, j, now);
}

/* arg: the redirect's target, or NULL (queue_cancel_moved()). */
static int
move_job(struct queue *q, MDB_txn *txn, struct job *j, const void *arg,
    uint64_t now)
{
	char msg[JOB_ERROR_MSG_MAX];

	if (arg != NULL)
		snprintf(msg, sizeof(msg), "redirected to %.400s, in another "
		    "node's partition: that node fetches it",
		    (const char *)arg);
	else
		snprintf(msg, sizeof(msg), "its cluster partition passed to "
		    "another node, which fetches it");
	queue_job_set_error(j, "moved", msg);
	return queue_job_move(q, txn, j, JOB_CANCELLED, now);
}

int
queue_cancel_moved(struct queue *q, MDB_txn *txn, uint64_t id,
    const char *target, uint64_t now)
{
	return queue_job_update(q, txn, id, STATE_BIT(JOB_QUEUED) |
	    STATE_BIT(JOB_ACTIVE), move_job, target, now);
}

int
queue_hop(struct queue *q, MDB_txn *txn, uint64_t id, const char *target,
    uint64_t host, const char *origin, const uint64_t *visited,
    uint32_t nvisited, uint64_t now)
{
	struct job j;
	char *copy;
	int rc = settle(q, txn, now);

	if (nvisited == 0 || nvisited > QUEUE_MAX_HOPS)
		return EINVAL;
	if (rc == 0)
		rc = queue_get(q, txn, id, &j);
	if (rc != 0)
		return rc;
	if (j.state != JOB_QUEUED || j.hops != 0 || j.fetch_url != NULL) {
		queue_job_free(&j);
		return MDB_KEYEXIST;
	}
	if ((copy = strdup(target)) == NULL) {
		queue_job_free(&j);
		return ENOMEM;
	}
	j.fetch_url = copy;
	memcpy(j.visited, visited, nvisited * sizeof(*visited));
	j.hops = nvisited;
	rc = queue_job_rehost(q, txn, &j, host, origin, now);
	queue_job_free(&j);
	return rc;
}

int
queue_cancel(struct queue *q, MDB_txn *txn, uint64_t id, uint64_t now)
{
	return queue_job_update(q, txn, id, STATE_BIT(JOB_QUEUED) |
	    STATE_BIT(JOB_ACTIVE), cancel_job, NULL, now);
}

int
queue_retry(struct queue *q, MDB_txn *txn, uint64_t id, uint64_t now)
{
	return queue_job_update(q, txn, id, STATE_BIT(JOB_FAILED) |
	    STATE_BIT(JOB_CANCELLED), retry_job, NULL, now);
}

/* Collects the ids in an id index (active, failed) before changing it. */
static int
index_ids(MDB_txn *txn, MDB_dbi dbi, uint64_t **ids, size_t *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_stat st;
	int rc;

	*ids = NULL;
	*n = 0;
	if ((rc = mdb_stat(txn, dbi, &st)) != 0)
		return rc;
	if (st.ms_entries == 0)
		return 0;
	*ids = malloc(st.ms_entries * sizeof(**ids));
	if (*ids == NULL)
		return ENOMEM;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (k.mv_size == 8 && *n < st.ms_entries)
			(*ids)[(*n)++] = store_get_be64(k.mv_data);
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
queue_retry_failed(struct queue *q, MDB_txn *txn, uint64_t now, uint64_t *n)
{
	uint64_t *ids;
	size_t count;
	int rc = index_ids(txn, q->failed, &ids, &count);

	*n = 0;
	for (size_t i = 0; rc == 0 && i < count; i++) {
		rc = queue_retry(q, txn, ids[i], now);
		if (rc == 0)
			(*n)++;
		else if (rc == MDB_KEYEXIST || rc == MDB_CORRUPTED) {
			q->damaged += rc == MDB_CORRUPTED;
			rc = 0;		/* damaged: for sluiced --check */
		}
	}
	free(ids);
	return rc;
}

int
queue_recover(struct queue *q, MDB_txn *txn, uint64_t *n)
{
	uint64_t *ids, now = now_ms();
	size_t count;
	int rc = index_ids(txn, q->active, &ids, &count);

	*n = 0;
	for (size_t i = 0; rc == 0 && i < count; i++) {
		struct job j;

		rc = queue_get(q, txn, ids[i], &j);
		if (rc == MDB_CORRUPTED) {
			/* Left as it is, for sluiced --check to name. */
			q->damaged++;
			rc = 0;
			continue;
		}
		if (rc != 0)
			break;
		j.not_before_ms = 0;
		rc = queue_job_move(q, txn, &j, JOB_QUEUED, now);
		queue_job_free(&j);
		(*n)++;
	}
	free(ids);
	return rc;
}

int
queue_walk(struct queue *q, MDB_txn *txn, uint64_t after_id, int state,
    int (*fn)(const struct job *j, void *arg), void *arg)
{
	uint64_t start = after_id + 1;
	MDB_cursor *cur;
	MDB_val k = { sizeof(start), &start }, v;
	int rc, stop = 0;

	if ((rc = mdb_cursor_open(txn, q->jobs, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	    rc == 0 && !stop; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct job j;

		if (k.mv_size != sizeof(uint64_t))
			continue;
		rc = queue_job_decode(&v, &j);
		if (rc == MDB_CORRUPTED) {
			q->damaged++;
			rc = 0;		/* sluiced --check names it */
			continue;
		}
		if (rc != 0)
			break;
		memcpy(&j.id, k.mv_data, sizeof(j.id));
		if (state < 0 || (int)j.state == state)
			stop = fn(&j, arg);
		queue_job_free(&j);
		/* Not a step further: fn may have left txn unusable. */
		if (stop)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
queue_ready_hosts(struct queue *q, MDB_txn *txn,
    void (*fn)(uint64_t host, void *arg), void *arg)
{
	unsigned char key[8];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(txn, q->ready, &cur)) != 0)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		uint64_t host = store_get_be64(k.mv_data);

		fn(host, arg);
		if (host == UINT64_MAX)
			break;
		/* Skip to the first key of the next host. */
		store_put_be64(key, host + 1);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* --- sluiced --check ----------------------------------------------- */

struct queue_checker {
	struct queue	*q;
	MDB_txn		*txn;
	struct store_report rep;
	uint64_t	 states[JOB_NSTATES];
	uint64_t	 jobs;
	/* The index being walked: its name, where ids sit in its keys,
	 * and the state its jobs must be in. */
	const char	*name;
	size_t		 idoff;
	enum job_state	 state;
	/* Each indexed job's host and state, for the hosts' counts; NULL
	 * when a damaged record (or the memory) leaves them unknown. */
	struct queue_check_host *hosts;
	size_t		 nhosts, caphosts;
	bool		 hosts_unknown;
};

struct queue_check_host {
	uint64_t	 host;
	uint64_t	 state;
};

static bool
queue_has_key(MDB_txn *txn, MDB_dbi dbi, const unsigned char *key,
    size_t len)
{
	MDB_val v;

	return mdb_get(txn, dbi, &(MDB_val){ len, (void *)key }, &v) == 0;
}

/* Is j in the index its state says, and its URL in urls? */
static void
queue_check_job(struct queue_checker *c, const struct job *j)
{
	unsigned char key[URL_KEY_MAX];
	bool in = true;

	c->states[j->state]++;
	if (j->id >= c->q->index_from)
		return;		/* unindexed: only the intake knows it */
	if (!c->hosts_unknown && c->nhosts == c->caphosts) {
		size_t cap = c->caphosts ? c->caphosts * 2 : 4096;
		struct queue_check_host *h = reallocarray(c->hosts, cap,
		    sizeof(*h));

		if (h == NULL)
			c->hosts_unknown = true;
		else {
			c->hosts = h;
			c->caphosts = cap;
		}
	}
	if (!c->hosts_unknown)
		c->hosts[c->nhosts++] = (struct queue_check_host){ j->host,
		    j->state };
	switch (j->state) {
	case JOB_QUEUED:
		ready_key(key, j->host, j->priority, j->id);
		in = queue_has_key(c->txn, c->q->ready, key, READY_KEY_LEN);
		store_put_be64(key, j->not_before_ms);
		store_put_be64(key + 8, j->id);
		in = in || queue_has_key(c->txn, c->q->delayed, key,
		    DELAYED_KEY_LEN);
		break;
	case JOB_ACTIVE:
	case JOB_FAILED:
		store_put_be64(key, j->id);
		in = queue_has_key(c->txn, j->state == JOB_ACTIVE ?
		    c->q->active : c->q->failed, key, 8);
		break;
	default:
		break;
	}
	if (!in)
		store_problem(&c->rep, "job %llu: %s, but not in that state's index",
		    (unsigned long long)j->id, job_state_name(j->state));
	if (!queue_has_key(c->txn, c->q->urls, key, queue_url_key(j->url,
	    key)))
		store_problem(&c->rep, "job %llu: its URL is not in the URL "
		    "index", (unsigned long long)j->id);
}

static void
queue_check_record(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct queue_checker *c = arg;
	struct job j;
	uint64_t id;

	c->jobs++;
	memcpy(&id, k->mv_data, sizeof(id));
	if (queue_job_decode(v, &j) != 0) {
		store_problem(&c->rep, "job %llu: damaged (its checksum does "
		    "not match)", (unsigned long long)id);
		c->hosts_unknown = true;	/* its host is unknown */
		return;
	}
	j.id = id;
	queue_check_job(c, &j);
	queue_job_free(&j);
}

/* An entry of the index being walked names a job in its state. */
static void
queue_check_entry(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct queue_checker *c = arg;
	uint64_t id = store_get_be64((unsigned char *)k->mv_data + c->idoff);
	struct job j;
	int got = queue_get(c->q, c->txn, id, &j);

	(void)v;
	if (got == MDB_NOTFOUND)
		store_problem(&c->rep, "%s: names job %llu, which does not "
		    "exist", c->name, (unsigned long long)id);
	if (got != 0)
		return;
	if (j.state != c->state)
		store_problem(&c->rep, "%s: names job %llu, which is %s",
		    c->name, (unsigned long long)id, job_state_name(j.state));
	queue_job_free(&j);
}

/* Every entry of an index names a job in the index's state; idoff is
 * where the id sits in the key. */
static int
queue_check_index(struct queue_checker *c, MDB_dbi dbi, const char *name,
    size_t keylen, size_t idoff, enum job_state state)
{
	c->name = name;
	c->idoff = idoff;
	c->state = state;
	return store_check_walk(c->txn, dbi, name, keylen, &c->rep,
	    queue_check_entry, c);
}

static int
check_host_cmp(const void *a, const void *b)
{
	const struct queue_check_host *x = a, *y = b;

	return (x->host > y->host) - (x->host < y->host);
}

/* Names a host whose record's counts are not its jobs'. */
static void
queue_check_host_counts(struct queue_checker *c, uint64_t host,
    const uint64_t *want, const uint64_t *got, bool recorded)
{
	for (int s = 0; s < JOB_NSTATES; s++)
		if (want[s] != got[s]) {
			store_problem(&c->rep, "hosts: host %016llx has %llu "
			    "jobs %s, %s %llu", (unsigned long long)host,
			    (unsigned long long)want[s], job_state_name(s),
			    recorded ? "its record says" : "and no record,",
			    (unsigned long long)got[s]);
			return;
		}
}

/*
 * The hosts' records count their indexed jobs in each state: walks the
 * records in key order (the host) beside the jobs sorted by host.
 */
static int
queue_check_hosts(struct queue_checker *c)
{
	static const uint64_t none[JOB_NSTATES];
	MDB_cursor *cur;
	MDB_val k, v;
	size_t i = 0;
	int rc;

	qsort(c->hosts, c->nhosts, sizeof(*c->hosts), check_host_cmp);
	if ((rc = mdb_cursor_open(c->txn, c->q->hosts, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); ;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint64_t host = UINT64_MAX, want[JOB_NSTATES] = { 0 };
		struct host_disk h = { { 0 } };
		bool rec = rc == 0 && k.mv_size == 8 &&
		    v.mv_size >= sizeof(h);

		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		if (rc == 0 && !rec)
			continue;	/* store_check_walk's to name */
		if (rec) {
			host = store_get_be64(k.mv_data);
			memcpy(&h, v.mv_data, sizeof(h));
		}
		/* Jobs of hosts with no record, before this one. */
		while (i < c->nhosts && c->hosts[i].host < host) {
			uint64_t at = c->hosts[i].host, n[JOB_NSTATES] = { 0 };

			for (; i < c->nhosts && c->hosts[i].host == at; i++)
				n[c->hosts[i].state]++;
			queue_check_host_counts(c, at, n, none, false);
		}
		if (!rec) {
			rc = 0;
			break;
		}
		for (; i < c->nhosts && c->hosts[i].host == host; i++)
			want[c->hosts[i].state]++;
		queue_check_host_counts(c, host, want, h.jobs, true);
	}
	mdb_cursor_close(cur);
	return rc;
}

int
queue_check(struct queue *q, MDB_txn *txn,
    void (*fn)(const char *problem, void *arg), void *arg, uint64_t *jobs)
{
	struct queue_checker c = { .q = q, .txn = txn, .rep = { fn, arg } };
	int rc;

	rc = store_check_walk(txn, q->jobs, "jobs", sizeof(uint64_t), &c.rep,
	    queue_check_record, &c);
	*jobs = c.jobs;
	if (rc != 0 ||
	    (rc = queue_check_index(&c, q->ready, "ready", READY_KEY_LEN, 12,
	    JOB_QUEUED)) != 0 ||
	    (rc = queue_check_index(&c, q->delayed, "delayed",
	    DELAYED_KEY_LEN, 8, JOB_QUEUED)) != 0 ||
	    (rc = queue_check_index(&c, q->active, "active", 8, 0,
	    JOB_ACTIVE)) != 0 ||
	    (rc = queue_check_index(&c, q->failed, "failed", 8, 0,
	    JOB_FAILED)) != 0 ||
	    (!c.hosts_unknown && (rc = queue_check_hosts(&c)) != 0)) {
		free(c.hosts);
		return rc;
	}
	free(c.hosts);
	for (int s = 0; s < JOB_NSTATES; s++)
		if (c.states[s] != q->counts.state[s])
			store_problem(&c.rep, "counts: %llu jobs %s, the counter "
			    "says %llu", (unsigned long long)c.states[s],
			    job_state_name(s),
			    (unsigned long long)q->counts.state[s]);
	return 0;
}
