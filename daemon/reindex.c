/*
 * reindex.c - converting the duplicate index (see reindex.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "dedup.h"
#include "doc.h"
#include "log.h"
#include "notify.h"
#include "reindex.h"
#include "store.h"
#include "util.h"

/* Stored documents re-indexed per transaction, and how much more time
 * systemd is asked for after each batch. */
#define REINDEX_BATCH		1000
#define REINDEX_EXTEND_USEC	(60ULL * 1000000)

struct reindex {
	struct store	*store;
	struct docs	*docs;
	struct dedup_dbs *dedup;
	const struct dedup_opts *opts;
	MDB_txn		*txn;
	uint64_t	 indexed;	/* documents indexed this batch */
	int		 rc;
};

/* doc_walk callback: indexes one first copy again from its stored text
 * (a duplicate keeps no text and was never indexed). */
static int
reindex_doc(uint64_t id, const char *json, size_t len, uint64_t flags,
    void *arg)
{
	struct reindex *r = arg;
	struct dedup_sig sig;
	json_t *doc, *text;

	if (flags & DOC_DUPLICATE)
		return 0;
	doc = json_loadb(json, len, 0, NULL);
	text = json_object_get(doc, "text");
	if (json_is_string(text)) {
		dedup_signature(json_string_value(text),
		    json_string_length(text), r->opts, &sig);
		r->rc = dedup_reindex(r->txn, r->dedup, id, &sig);
		r->indexed += sig.words > 0;
	}
	json_decref(doc);
	return r->rc != 0;
}

/* One transaction's worth; *end once every document was seen and the
 * index marked complete.  Returns an LMDB error or 0. */
static int
reindex_batch(struct reindex *r0, struct doc_cursor *pos, uint64_t *indexed,
    bool *end)
{
	struct reindex r = *r0;
	size_t n;
	int rc;

	rc = store_txn_write(r.store, &r.txn);
	if (rc != 0)
		return rc;
	rc = doc_walk(r.docs, r.txn, pos, REINDEX_BATCH, reindex_doc, &r,
	    &n);
	if (r.rc != 0)		/* doc_walk may have reached the end too */
		rc = r.rc;
	*end = rc == MDB_NOTFOUND;
	if (*end)
		rc = dedup_reindex_done(r.txn, r.dedup);
	if (rc == 0)
		rc = mdb_txn_commit(r.txn);
	else
		mdb_txn_abort(r.txn);
	if (rc == 0) {
		dedup_commit(r.dedup);
		*indexed += r.indexed;
	} else
		dedup_rollback(r.dedup);
	return rc;
}

int
reindex_dedup(struct store *s, struct docs *docs, struct dedup_dbs *dedup,
    const struct dedup_opts *opts, char *err, size_t errlen)
{
	struct reindex r = { .store = s, .docs = docs, .dedup = dedup,
	    .opts = opts };
	struct doc_cursor pos = { .ms = 0 }, start;
	uint64_t indexed = 0, t0 = mono_ms();
	bool end = false;
	int rc;

	log_notice("dedup: the duplicate index has a new format; indexing "
	    "the stored documents again");
	while (!end) {
		start = pos;
		rc = reindex_batch(&r, &pos, &indexed, &end);
		if (rc == MDB_MAP_FULL && store_grow(s, err, errlen) == 0) {
			pos = start;
			end = false;
			continue;
		}
		if (rc != 0) {
			if (rc != MDB_MAP_FULL)
				snprintf(err, errlen, "%s", mdb_strerror(rc));
			return rc;
		}
		notify_extend_timeout(REINDEX_EXTEND_USEC);
	}
	log_notice("dedup: %llu documents indexed again in %llu ms",
	    (unsigned long long)indexed, (unsigned long long)(mono_ms() - t0));
	return 0;
}
