/*
 * cluster_docs.c - stored documents out of a cluster node (see
 * cluster_int.h): their keys to SLUICE_KEYS, the cluster's verdict from
 * that stream's order, the documents to SLUICE_DOCS, all through an outbox
 * in the store; and SLUICE_DOCS read back for export --cluster.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <nats/nats.h>
#include <xxhash.h>

#include "buf.h"
#include "cluster.h"
#include "cluster_index.h"
#include "cluster_int.h"
#include "config.h"
#include "doc.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* --- the loop: documents out ----------------------------------------- */

static int
cl_publish(struct cluster *c, char what, uint64_t doc, const char *stream,
    const char *data, size_t len)
{
	char subj[CL_NODE_MAX + 32], id[CL_NODE_MAX + 64];

	snprintf(subj, sizeof(subj), "sluice.%s.%s", stream, c->node);
	snprintf(id, sizeof(id), "%c:%" PRIu64 ":%s", what, doc, c->idtag);
	return cl_publish_async(c, subj, id, data, len, 0) == NATS_OK ? 0 : -1;
}

/* The SLUICE_DOCS line of document o (its "node" set), or of its compact
 * JSON whole when o is NULL: as it is, or past the servers' max_payload
 * (1 MiB by default) without its text, which the node's store keeps.
 * malloc'd, NULL when memory is short. */
static char *
cl_doc_line(struct cluster *c, json_t *o, const char *whole)
{
	char *line = whole != NULL ? strdup(whole) :
	    json_dumps(o, JSON_COMPACT);

	if (line != NULL && (int64_t)strlen(line) + 512 >
	    natsConnection_GetMaxPayload(c->nc)) {
		json_t *cut = o != NULL ? json_copy(o) :
		    json_loads(whole, 0, NULL);

		free(line);
		line = NULL;
		if (cut != NULL) {
			json_object_set_new(cut, "text", json_null());
			json_object_set_new(cut, "text_omitted", json_string(
			    "over the NATS servers' max_payload: export it "
			    "from its node"));
			line = json_dumps(cut, JSON_COMPACT);
			json_decref(cut);
		}
	}
	return line;
}

/*
 * The stored document text (compact JSON of an object, as doc.c keeps it)
 * with its "cluster" verdict and "node" added, without parsing the
 * document: both go before its closing brace.  A document that already
 * has either (never, as the outbox records a verdict once) is parsed and
 * set instead.  malloc'd, NULL when memory is short.
 */
static char *
cl_doc_splice(struct cluster *c, const char *text, size_t len,
    json_t *verdict)
{
	char *v = json_dumps(verdict, JSON_COMPACT), *out = NULL;
	struct buf b;

	if (v == NULL)
		return NULL;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		len--;
	if (len < 2 || text[0] != '{' || text[len - 1] != '}' ||
	    memmem(text, len, "\"cluster\":", 10) != NULL ||
	    memmem(text, len, "\"node\":", 7) != NULL) {
		/* Not as stored, or the members may be there: the slow,
		 * sure way. */
		json_t *o = json_loadb(text, len, 0, NULL);

		if (o != NULL && json_is_object(o)) {
			json_object_set(o, "cluster", verdict);
			json_object_set_new(o, "node", json_string(c->node));
			out = json_dumps(o, JSON_COMPACT);
		}
		json_decref(o);
		free(v);
		return out;
	}
	buf_init(&b, BUF_MAX);
	if (buf_append(&b, text, len - 1) == 0 &&
	    buf_appendf(&b, "%s\"cluster\":%s,\"node\":\"%s\"}",
	    len > 2 ? "," : "", v, c->node) == 0 &&
	    buf_append(&b, "", 1) == 0)
		out = buf_steal(&b, NULL);
	buf_free(&b);
	free(v);
	return out;
}

/* The keys of doc alone, from its outbox entry: body is a framed v2
 * entry, or a v1 JSON line that a version before v2 left, sent as it is
 * (a v1 message).  0, or -1 if not sent. */
static int
cl_publish_keys_one(struct cluster *c, uint64_t doc, const char *body,
    size_t len)
{
	struct buf b;
	int rc = -1;

	if (len > 0 && body[0] == '{')
		return cl_publish(c, 'k', doc, "keys", body, len);
	buf_init(&b, BUF_MAX);
	if (buf_append(&b, CLUSTER_KEYS_V2, CLUSTER_KEYS_V2_LEN) == 0 &&
	    buf_append(&b, body, len) == 0)
		rc = cl_publish(c, 'k', doc, "keys", b.data, b.len);
	buf_free(&b);
	return rc;
}

/* Publishes doc's keys ('k') or the document itself ('d') from its
 * outbox entry; a failure is retried from the cron. */
static void
cl_out_publish(struct cluster *c, MDB_txn *txn, char what, uint64_t doc)
{
	MDB_val k = { sizeof(doc), &doc }, v;
	const char *text;
	size_t len;
	uint64_t flags;
	json_t *o;
	char *line;
	int rc = -1;

	if (mdb_get(txn, c->outbox, &k, &v) != 0 || v.mv_size < 1)
		return;		/* sent already */
	if (what == 'k' && ((const char *)v.mv_data)[0] != OUT_KEYS)
		return;		/* its verdict came back already */
	if (what == 'k')
		rc = cl_publish_keys_one(c, doc, (const char *)v.mv_data + 1,
		    v.mv_size - 1);
	else if (doc_get_text(c->docs, txn, doc, &text, &len, &flags) == 0 &&
	    (o = json_loadb(text, len, 0, NULL)) != NULL) {
		json_object_set_new(o, "node", json_string(c->node));
		line = cl_doc_line(c, o, NULL);
		json_decref(o);
		if (line != NULL)
			rc = cl_publish(c, 'd', doc, "docs", line,
			    strlen(line));
		free(line);
	}
	if (rc != 0 && cl_push_id(&c->retry, &c->nretry, &c->capretry,
	    what == 'd' ? doc | CL_RETRY_DOC : doc) != 0)
		log_warnx("cluster: document %" PRIu64 " waits for the next "
		    "start to be published", doc);
}

/* One SLUICE_KEYS message of the documents first..last, whose entries
 * b holds; if it cannot be sent, they are retried each alone.  A first
 * send's id, "k:<first>-<last>:<node>", names its documents: flushes take
 * ever higher ids.  A batch sent again (a retry, the replay after a
 * start) may hold other documents under the same first and last, so its
 * id is made unique: JetStream would drop it as a duplicate. */
static void
cl_keys_flush(struct cluster *c, struct buf *b, const uint64_t *docs,
    size_t n, bool fresh)
{
	char subj[CL_NODE_MAX + 32], id[CL_NODE_MAX + 96];

	if (n == 0)
		return;
	snprintf(subj, sizeof(subj), "sluice.keys.%s", c->node);
	if (fresh)
		snprintf(id, sizeof(id), "k:%" PRIu64 "-%" PRIu64 ":%s",
		    docs[0], docs[n - 1], c->idtag);
	else
		snprintf(id, sizeof(id), "k:%" PRIu64 "-%" PRIu64 ":%s:%"
		    PRIu64 ".%" PRIu64, docs[0], docs[n - 1], c->idtag,
		    c->boot, ++c->keys_resent);
	if (cl_publish_async(c, subj, id, (const char *)b->data, b->len,
	    0) != NATS_OK)
		for (size_t i = 0; i < n; i++)
			if (cl_push_id(&c->retry, &c->nretry, &c->capretry,
			    docs[i]) != 0)
				log_warnx("cluster: document %" PRIu64 " waits "
				    "for the next start to be published",
				    docs[i]);
	buf_reset(b);
}

/* The keys of the documents one commit stored (ascending ids), in as few
 * SLUICE_KEYS messages as the servers' max_payload allows: one message
 * each costs the servers far more than its bytes.  The message is a v2
 * body; an entry that a version before v2 left (a JSON line) goes alone,
 * as a v1 message, since a body has one format. */
static void
cl_out_publish_keys(struct cluster *c, MDB_txn *txn, const uint64_t *docs,
    size_t n, bool fresh)
{
	int64_t maxp = natsConnection_GetMaxPayload(c->nc) - 1024;
	size_t max = maxp > 4096 ? (size_t)maxp : 4096, from = 0, in = 0;
	struct buf b;

	buf_init(&b, BUF_MAX);
	for (size_t i = 0; i < n; i++) {
		uint64_t doc = docs[i];
		MDB_val k = { sizeof(doc), &doc }, v;
		const char *body;
		size_t len;

		if (mdb_get(txn, c->outbox, &k, &v) != 0 || v.mv_size < 2 ||
		    ((const char *)v.mv_data)[0] != OUT_KEYS)
			continue;	/* sent already */
		body = (const char *)v.mv_data + 1;
		len = v.mv_size - 1;
		if (body[0] == '{') {
			if (in > 0)
				cl_keys_flush(c, &b, docs + from, i - from,
				    fresh);
			in = 0;
			cl_out_publish(c, txn, 'k', doc);
			continue;
		}
		if (in > 0 && (b.len + len > max ||
		    in == CLUSTER_KEYS_PER_MSG)) {
			cl_keys_flush(c, &b, docs + from, i - from,
			    fresh);
			in = 0;
		}
		if (in == 0) {
			from = i;
			buf_reset(&b);
		}
		if ((in == 0 && buf_append(&b, CLUSTER_KEYS_V2,
		    CLUSTER_KEYS_V2_LEN) != 0) ||
		    buf_append(&b, body, len) != 0) {
			if (in > 0)
				cl_keys_flush(c, &b, docs + from, i - from,
				    fresh);
			in = 0;
			(void)cl_push_id(&c->retry, &c->nretry, &c->capretry,
			    doc);
			continue;
		}
		in++;
	}
	if (in > 0)
		cl_keys_flush(c, &b, docs + from, n - from, fresh);
	buf_free(&b);
}

/* --- documents out, a message per batch ------------------------------
 *
 * The verdicts that came back are recorded together, once CL_FLUSH_MS
 * gathered them (or CL_FLUSH_MAX), in one transaction that gives them
 * batch number B (outbox key 0 keeps the last); after its commit their
 * lines go out as one SLUICE_DOCS message, "D:<B>:<node>".  Whoever sends
 * batch B again (after a failure, or after a crash, from the store) sends
 * the same message id, so JetStream's duplicate window keeps one copy.
 */

static void
cl_batches_free(struct cl_batch *bt)
{
	for (struct cl_batch *next; bt != NULL; bt = next) {
		next = bt->next;
		free(bt->ids);
		free(bt);
	}
}

/* Sends batch n of documents ids[0..count), whose lines body holds, and
 * remembers it until JetStream answers; on failure it is sent again from
 * the store by the cron. */
static void
cl_docs_send(struct cluster *c, uint64_t n, const uint64_t *ids,
    size_t count, const struct buf *body)
{
	char subj[CL_NODE_MAX + 32], id[CL_NODE_MAX + 64];
	struct cl_batch *bt = calloc(1, sizeof(*bt));

	if (bt == NULL || (bt->ids = malloc(count * sizeof(*ids))) == NULL) {
		free(bt);
		log_warnx("cluster: %zu documents wait for the next start to "
		    "be published (out of memory)", count);
		return;
	}
	bt->n = n;
	bt->count = count;
	memcpy(bt->ids, ids, count * sizeof(*ids));
	snprintf(subj, sizeof(subj), "sluice.docs.%s", c->node);
	snprintf(id, sizeof(id), "D:%" PRIu64 ":%s", n, c->idtag);
	if (cl_publish_async(c, subj, id, (const char *)body->data,
	    body->len, 0) == NATS_OK) {
		bt->next = c->batches;
		c->batches = bt;
	} else {
		bt->next = c->rebatch;
		c->rebatch = bt;
	}
}

/* Batch n sent again from the store: the lines of those of ids still
 * waiting in it. */
static void
cl_docs_resend(struct cluster *c, MDB_txn *txn, uint64_t n,
    const uint64_t *ids, size_t count)
{
	uint64_t *left = malloc((count + 1) * sizeof(*left));
	size_t nleft = 0;
	struct buf b;

	if (left == NULL)
		return;		/* the next start sends it */
	buf_init(&b, BUF_MAX);
	for (size_t i = 0; i < count; i++) {
		uint64_t doc = ids[i], flags;
		MDB_val k = { sizeof(doc), &doc }, v;
		const char *text;
		char *whole, *line;
		size_t len;

		if (mdb_get(txn, c->outbox, &k, &v) != 0 || v.mv_size != 9 ||
		    ((const char *)v.mv_data)[0] != OUT_DOC ||
		    store_get_be64((const unsigned char *)v.mv_data + 1) != n)
			continue;	/* sent */
		if (doc_get_text(c->docs, txn, doc, &text, &len, &flags) != 0 ||
		    (whole = strndup(text, len)) == NULL)
			continue;	/* gone: deleted since */
		line = cl_doc_line(c, NULL, whole);
		free(whole);
		if (line != NULL && buf_append(&b, line, strlen(line)) == 0 &&
		    buf_append(&b, "\n", 1) == 0)
			left[nleft++] = doc;
		free(line);
	}
	if (nleft > 0)
		cl_docs_send(c, n, left, nleft, &b);
	buf_free(&b);
	free(left);
}

/* JetStream's answer to batch n: its documents' entries go, or it is
 * sent again. */
static void
cl_docs_acked(struct cluster *c, uint64_t n, bool ok, const char *err)
{
	struct cl_batch **bp = &c->batches, *bt;

	while (*bp != NULL && (*bp)->n != n)
		bp = &(*bp)->next;
	if ((bt = *bp) == NULL)
		return;
	*bp = bt->next;
	if (!ok) {
		log_warnx("cluster: the lines of %zu documents not stored "
		    "(%s); retrying", bt->count, err);
		bt->next = c->rebatch;
		c->rebatch = bt;
		return;
	}
	for (size_t i = 0; i < bt->count; i++)
		if (cl_push_id(&c->sent, &c->nsent, &c->capsent,
		    bt->ids[i]) != 0)
			log_warnx("cluster: document %" PRIu64 " will be "
			    "published again at the next start", bt->ids[i]);
	free(bt->ids);
	free(bt);
}

/* True when the verdicts that came back are to be recorded now. */
bool
cl_verdicts_due(const struct cluster *c, uint64_t mono)
{
	return c->nverdicts > 0 && (c->nverdicts >= CL_FLUSH_MAX ||
	    mono - c->verdicts_since >= CL_FLUSH_MS ||
	    atomic_load(&c->closing));
}

/* Orders records that begin with two uint64_t keys (struct cl_verdict:
 * the document, then the order it came back in; struct cl_pair). */
static int
cl_cmp_two(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}
_Static_assert(offsetof(struct cl_verdict, doc) == 0 &&
    offsetof(struct cl_verdict, ord) == sizeof(uint64_t),
    "cl_cmp_two orders verdicts by doc, then ord");

/* Keys of documents doc..last not stored: those still waiting for them
 * are published again, each alone. */
static void
cl_out_retry_keys(struct cluster *c, uint64_t doc, uint64_t last)
{
	MDB_val k = { sizeof(doc), &doc }, v;
	MDB_cursor *cur;
	MDB_txn *txn;
	int rc;

	if (store_txn_read(c->store, &txn) != 0)
		return;
	if (mdb_cursor_open(txn, c->outbox, &cur) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			uint64_t id;

			if (k.mv_size != sizeof(id))
				continue;
			memcpy(&id, k.mv_data, sizeof(id));
			if (id > last)
				break;
			if (v.mv_size > 0 &&
			    ((const char *)v.mv_data)[0] == OUT_KEYS)
				(void)cl_push_id(&c->retry, &c->nretry,
				    &c->capretry, id);
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
}

/* JetStream's answer to a document's line, or to the keys of documents
 * doc..last. */
void
cl_out_acked(struct cluster *c, char what, uint64_t doc, uint64_t last,
    bool ok, const char *err)
{
	if (what == 'D')
		cl_docs_acked(c, doc, ok, err);
	else if (!ok && what == 'k') {
		log_warnx("cluster: keys of documents %" PRIu64 "-%" PRIu64
		    " not stored (%s); retrying", doc, last, err);
		cl_out_retry_keys(c, doc, last < doc ? doc : last);
	} else if (!ok) {
		log_warnx("cluster: the line of document %" PRIu64 " not "
		    "stored (%s); retrying", doc, err);
		(void)cl_push_id(&c->retry, &c->nretry, &c->capretry,
		    doc | CL_RETRY_DOC);
	} else if (what == 'd' &&
	    cl_push_id(&c->sent, &c->nsent, &c->capsent, doc) != 0)
		log_warnx("cluster: document %" PRIu64 " will be published "
		    "again at the next start", doc);
}

/* Entry i of SLUICE_KEYS message seq, in stream order: the index's
 * verdict, and for this node's own documents, a verdict to record. */
static void
cl_keys_apply_one(struct cluster *c, uint64_t seq, size_t i,
    enum cluster_keys_format fmt, const char *entry, size_t len)
{
	struct cluster_keys k;
	struct cluster_verdict v;
	char err[160];
	json_t *j;
	int rc;

	if (cluster_keys_decode_any(fmt, entry, len, &k, err,
	    sizeof(err)) != 0) {
		log_warnx("cluster: SLUICE_KEYS message %" PRIu64 ", entry "
		    "%zu skipped: %s", seq, i + 1, err);
		return;
	}
	rc = cluster_index_apply(c->index, seq * CLUSTER_KEYS_PER_MSG + i,
	    k.node, k.doc_id, &k.sig, k.url, &v);
	if (rc == 0)
		c->keys_applied++;
	/* Bounded like the index: past it, a URL fetched elsewhere may be
	 * fetched again after its partition moved. */
	if (rc == 0)
		(void)cl_set_add(&c->urls, XXH3_64bits(k.url, strlen(k.url)),
		    c->cfg->cluster_index_max_entries);
	if (rc == 0 && strcmp(k.node, c->node) == 0) {
		if (v.kind == DEDUP_NONE)
			j = json_pack("{s:I, s:b}", "seq", (json_int_t)seq,
			    "first", 1);
		else
			j = json_pack("{s:I, s:b, s:s, s:f, s:{s:s, s:I, s:s, "
			    "s:I}}", "seq", (json_int_t)seq, "first", 0,
			    "kind", dedup_kind_name(v.kind), "similarity",
			    v.similarity, "duplicate_of", "node", v.node,
			    "doc", (json_int_t)v.doc_id, "url", v.url, "seq",
			    (json_int_t)(v.seq / CLUSTER_KEYS_PER_MSG));
		if (j != NULL && c->nverdicts == c->capverdicts) {
			size_t cap = c->capverdicts ? c->capverdicts * 2 : 64;
			struct cl_verdict *nv = realloc(c->verdicts,
			    cap * sizeof(*nv));

			if (nv == NULL) {
				json_decref(j);
				j = NULL;
			} else {
				c->verdicts = nv;
				c->capverdicts = cap;
			}
		}
		if (j != NULL) {
			if (c->nverdicts == 0) {
				c->verdicts_since = mono_ms();
				cl_arm_flush(c);
			}
			c->verdicts[c->nverdicts++] = (struct cl_verdict){
			    .doc = k.doc_id, .ord = ++c->verdict_ord, .v = j };
		}
	}
	cluster_keys_free(&k);
}

/* A SLUICE_KEYS message, in stream order: its entries, in body order,
 * v2 or v1. */
void
cl_keys_apply(struct cluster *c, natsMsg *msg)
{
	jsMsgMetaData *meta = NULL;
	const char *body = natsMsg_GetData(msg), *entry;
	size_t len = (size_t)natsMsg_GetDataLength(msg), off = 0, elen;
	size_t i = 0;
	enum cluster_keys_format fmt;
	uint64_t seq;
	int rc;

	if (natsMsg_GetMetaData(&meta, msg) != NATS_OK)
		return;
	seq = meta->Sequence.Stream;
	jsMsgMetaData_Destroy(meta);
	if (body == NULL)
		return;
	while ((rc = cluster_keys_next(body, len, &off, &entry, &elen,
	    &fmt)) == 1) {
		if (i == CLUSTER_KEYS_PER_MSG) {
			log_warnx("cluster: SLUICE_KEYS message %" PRIu64
			    ": entries past the %d-th skipped", seq,
			    CLUSTER_KEYS_PER_MSG);
			break;
		}
		cl_keys_apply_one(c, seq, i++, fmt, entry, elen);
	}
	if (rc < 0)
		log_warnx("cluster: SLUICE_KEYS message %" PRIu64 ": entry "
		    "%zu runs past the body; it and the rest skipped", seq,
		    i + 1);
}

int
cluster_doc_stored(void *arg, MDB_txn *txn, uint64_t doc, const char *url,
    const struct dedup_sig *sig)
{
	struct cluster *c = arg;
	MDB_val k = { sizeof(doc), &doc }, v;
	struct buf b;
	int rc;

	/* The framed v2 entry, as a message carries it. */
	buf_init(&b, BUF_MAX);
	if ((rc = cluster_keys_encode_bin(&b, c->node, doc, url, sig)) != 0) {
		buf_free(&b);
		return rc;
	}
	v.mv_size = b.len + 1;
	rc = mdb_put(txn, c->outbox, &k, &v, MDB_RESERVE);
	if (rc == 0) {
		((char *)v.mv_data)[0] = OUT_KEYS;
		memcpy((char *)v.mv_data + 1, b.data, b.len);
		if (cl_push_id(&c->stored, &c->nstored, &c->capstored,
		    doc) != 0)
			rc = ENOMEM;
	}
	buf_free(&b);
	return rc;
}

/* The outbox's key 0: the last batch number and the store's epoch. */
int
cl_out_next_put(struct cluster *c, MDB_txn *txn, uint64_t last)
{
	uint64_t zero = 0;
	unsigned char nb[CL_OUT_NEXT_LEN] = { OUT_NEXT };
	MDB_val k = { sizeof(zero), &zero }, v = { sizeof(nb), nb };

	store_put_be64(nb + 1, last);
	store_put_be64(nb + 9, c->epoch);
	return mdb_put(txn, c->outbox, &k, &v, 0);
}

/* Records the verdicts gathered, in document order, as the next batch,
 * as many as one message can carry (the rest wait for the next turn);
 * their lines are made now for the send after the commit. */
static int
cl_out_record(struct cluster *c, MDB_txn *txn)
{
	int64_t maxp = natsConnection_GetMaxPayload(c->nc) - 1024;
	size_t max = maxp > 4096 ? (size_t)maxp : 4096, total = 0, count = 0;
	uint64_t zero = 0, n = 1;
	MDB_val zk = { sizeof(zero), &zero }, zv;
	unsigned char nb[9];
	size_t i;
	int rc;

	rc = mdb_get(txn, c->outbox, &zk, &zv);
	if (rc == 0 && zv.mv_size >= 9)
		n = store_get_be64((const unsigned char *)zv.mv_data + 1) + 1;
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	rc = 0;
	qsort(c->verdicts, c->nverdicts, sizeof(*c->verdicts), cl_cmp_two);
	for (i = 0; i < c->nverdicts && rc == 0; i++) {
		struct cl_verdict *cv = &c->verdicts[i];
		uint64_t doc = cv->doc, flags;
		MDB_val k = { sizeof(doc), &doc }, v;
		const char *text;
		size_t len;
		char *json;

		free(cv->line);
		cv->line = NULL;
		/* Recorded before (its keys were published twice: the first
		 * copy in the stream decided), or recorded and sent. */
		if (mdb_get(txn, c->outbox, &k, &v) != 0 || v.mv_size < 1 ||
		    ((const char *)v.mv_data)[0] != OUT_KEYS)
			continue;
		if ((rc = doc_get_text(c->docs, txn, doc, &text, &len,
		    &flags)) != 0) {
			rc = rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ? 0 :
			    rc;
			continue;
		}
		if ((json = cl_doc_splice(c, text, len, cv->v)) == NULL)
			return ENOMEM;
		if ((cv->line = cl_doc_line(c, NULL, json)) == NULL) {
			free(json);
			return ENOMEM;
		}
		len = strlen(cv->line) + 1;
		if (count > 0 && (total + len > max ||
		    count == CLUSTER_KEYS_PER_MSG)) {
			/* The next batch's. */
			free(cv->line);
			cv->line = NULL;
			free(json);
			break;
		}
		rc = doc_update(c->docs, txn, doc, json, strlen(json), flags);
		free(json);
		if (rc == 0) {
			nb[0] = OUT_DOC;
			store_put_be64(nb + 1, n);
			v.mv_size = sizeof(nb);
			v.mv_data = nb;
			rc = mdb_put(txn, c->outbox, &k, &v, 0);
		}
		total += len;
		count++;
	}
	if (rc == 0 && count > 0)
		rc = cl_out_next_put(c, txn, n);
	c->applied_verdicts = i;
	c->batch_recorded = rc == 0 && count > 0 ? n : 0;
	return rc;
}

/* Turn work: the verdicts come into their documents, whose entries move
 * on to OUT_DOC; the entries of documents JetStream stored go. */
int
cl_out_apply(struct cluster *c, MDB_txn *txn)
{
	int rc = 0;

	if (cl_verdicts_due(c, mono_ms()))
		rc = cl_out_record(c, txn);
	else
		c->applied_verdicts = 0;
	for (size_t i = 0; i < c->nsent && rc == 0; i++) {
		MDB_val k = { sizeof(c->sent[i]), &c->sent[i] };

		rc = mdb_del(txn, c->outbox, &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	c->applied_sent = c->nsent;
	return rc;
}

/* Arms the flush for CL_FLUSH_MS from now, unless it is armed. */
void
cl_arm_flush(struct cluster *c)
{
	struct timeval tv = { 0, CL_FLUSH_MS * 1000 };

	if (!c->flush_armed && evtimer_add(c->flush_ev, &tv) == 0)
		c->flush_armed = true;
}

/* The flush: the keys that the commits of the last CL_FLUSH_MS stored go
 * out, a few messages for many documents; the verdicts gathered meanwhile
 * are due (cl_verdicts_due: the loop's pass after this records them). */
void
cl_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	MDB_txn *txn;

	(void)fd;
	(void)what;
	if (c->flush_armed)
		(void)evtimer_del(c->flush_ev);
	c->flush_armed = false;
	if (c->nkeys_due > 0) {
		/* Commits end out of id order; a message's id names its
		 * first and last documents, and a refused one is retried by
		 * that range, which must hold all of them. */
		qsort(c->keys_due, c->nkeys_due, sizeof(*c->keys_due),
		    cl_cmp_id);
		if (store_txn_read(c->store, &txn) == 0) {
			cl_out_publish_keys(c, txn, c->keys_due, c->nkeys_due,
			    true);
			mdb_txn_abort(txn);
		} else
			for (size_t i = 0; i < c->nkeys_due; i++)
				(void)cl_push_id(&c->retry, &c->nretry,
				    &c->capretry, c->keys_due[i]);
		c->nkeys_due = 0;
	}
	if (c->nverdicts > 0 && !cl_verdicts_due(c, mono_ms()))
		cl_arm_flush(c);
}

/* After the commit: the new documents' keys are gathered for the flush,
 * and the batch of documents whose verdict was recorded goes out. */
void
cl_out_commit(struct cluster *c)
{
	if (c->batch_recorded != 0) {
		uint64_t *ids = malloc((c->applied_verdicts + 1) *
		    sizeof(*ids));
		size_t n = 0;
		struct buf b;

		buf_init(&b, BUF_MAX);
		for (size_t i = 0; ids != NULL && i < c->applied_verdicts; i++) {
			struct cl_verdict *v = &c->verdicts[i];

			if (v->line == NULL)
				continue;	/* none recorded */
			if (buf_append(&b, v->line, strlen(v->line)) != 0 ||
			    buf_append(&b, "\n", 1) != 0)
				break;
			ids[n++] = v->doc;
		}
		if (ids != NULL && n > 0)
			cl_docs_send(c, c->batch_recorded, ids, n, &b);
		else
			log_warnx("cluster: batch %" PRIu64 " waits for the "
			    "next start to be published (out of memory)",
			    c->batch_recorded);
		buf_free(&b);
		free(ids);
		c->batch_recorded = 0;
	}
	for (size_t i = 0; i < c->applied_verdicts; i++) {
		json_decref(c->verdicts[i].v);
		free(c->verdicts[i].line);
	}
	if (c->applied_verdicts > 0)
		memmove(c->verdicts, c->verdicts + c->applied_verdicts,
		    (c->nverdicts - c->applied_verdicts) *
		    sizeof(*c->verdicts));
	c->nverdicts -= c->applied_verdicts;
	c->applied_verdicts = 0;
	if (c->nverdicts > 0)
		cl_arm_flush(c);

	/* Gathered for the flush, in commit order; what is not kept for
	 * lack of memory waits in the outbox for the retry. */
	for (size_t i = 0; i < c->nstored; i++)
		if (cl_push_id(&c->keys_due, &c->nkeys_due, &c->capkeys_due,
		    c->stored[i]) != 0)
			(void)cl_push_id(&c->retry, &c->nretry, &c->capretry,
			    c->stored[i]);
	c->nstored = 0;
	if (c->nkeys_due >= CL_FLUSH_MAX)
		cl_on_flush(-1, 0, c);
	else if (c->nkeys_due > 0)
		cl_arm_flush(c);
	if (c->applied_sent > 0)
		memmove(c->sent, c->sent + c->applied_sent,
		    (c->nsent - c->applied_sent) * sizeof(*c->sent));
	c->nsent -= c->applied_sent;
	c->applied_sent = 0;
}

/* What the loop's side holds, at cluster_close(): the outbox keeps what
 * was not published. */
void
cl_out_free(struct cluster *c)
{
	for (size_t i = 0; i < c->nverdicts; i++) {
		json_decref(c->verdicts[i].v);
		free(c->verdicts[i].line);
	}
	free(c->verdicts);
	free(c->keys_due);
	cl_batches_free(c->batches);
	cl_batches_free(c->rebatch);
	c->batches = c->rebatch = NULL;
}

struct cl_pair {
	uint64_t	 batch, doc;	/* cl_cmp_two's keys */
};

/* The outbox as the last run left it: keys not yet back, batched anew;
 * batches recorded and not stored, sent again under their numbers. */
static void
cl_out_replay(struct cluster *c, MDB_txn *txn)
{
	uint64_t *keys = NULL, *ids = NULL;
	size_t nkeys = 0, capkeys = 0, npairs = 0, cappairs = 0, count = 0;
	struct cl_pair *pairs = NULL;
	MDB_cursor *cur;
	MDB_val k, v;

	if (mdb_cursor_open(txn, c->outbox, &cur) != 0)
		return;
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const unsigned char *p = v.mv_data;
		uint64_t doc;

		if (k.mv_size != sizeof(doc) || v.mv_size < 1)
			continue;
		memcpy(&doc, k.mv_data, sizeof(doc));
		if (doc == 0)
			continue;	/* OUT_NEXT */
		count++;
		if (p[0] == OUT_KEYS) {
			if (cl_push_id(&keys, &nkeys, &capkeys, doc) != 0)
				(void)cl_push_id(&c->retry, &c->nretry,
				    &c->capretry, doc);
			continue;
		}
		if (p[0] != OUT_DOC || v.mv_size != 9) {
			cl_out_publish(c, txn, 'd', doc);	/* a v1 entry */
			continue;
		}
		if (npairs == cappairs) {
			size_t cap = cappairs ? cappairs * 2 : 256;
			struct cl_pair *np = realloc(pairs, cap *
			    sizeof(*np));

			if (np == NULL)
				continue;	/* the next start sends it */
			pairs = np;
			cappairs = cap;
		}
		pairs[npairs++] = (struct cl_pair){
		    store_get_be64(p + 1), doc };
	}
	mdb_cursor_close(cur);
	if (count > 0)
		log_notice("cluster: publishing %zu documents the last run "
		    "left unpublished", count);
	cl_out_publish_keys(c, txn, keys, nkeys, false);
	free(keys);
	if (npairs > 0 && (ids = malloc(npairs * sizeof(*ids))) != NULL) {
		qsort(pairs, npairs, sizeof(*pairs), cl_cmp_two);
		for (size_t i = 0, j; i < npairs; i = j) {
			for (j = i; j < npairs && pairs[j].batch ==
			    pairs[i].batch; j++)
				ids[j - i] = pairs[j].doc;
			cl_docs_resend(c, txn, pairs[i].batch, ids, j - i);
		}
	}
	free(ids);
	free(pairs);
}

/* Once JetStream is there after the start, and every 10 s after a
 * failure: what the outbox holds (or failed) is published again. */
void
cl_out_retry(struct cluster *c)
{
	struct cl_batch *rebatch = c->rebatch;
	uint64_t *list = c->retry;
	size_t n = c->nretry, nk = 0;
	MDB_txn *txn;

	if (!atomic_load(&c->ready) || !atomic_load(&c->connected) ||
	    store_txn_read(c->store, &txn) != 0)
		return;
	c->retry = NULL;
	c->nretry = c->capretry = 0;
	c->rebatch = NULL;
	if (!c->replayed) {
		c->replayed = true;
		cl_out_replay(c, txn);
	}
	for (struct cl_batch *bt = rebatch; bt != NULL; bt = bt->next)
		cl_docs_resend(c, txn, bt->n, bt->ids, bt->count);
	cl_batches_free(rebatch);
	/* Keys again in one go, in document order; v1 lines alone. */
	for (size_t i = 0; i < n; i++) {
		if (list[i] & CL_RETRY_DOC)
			cl_out_publish(c, txn, 'd', list[i] & ~CL_RETRY_DOC);
		else
			list[nk++] = list[i];
	}
	if (nk > 0) {
		qsort(list, nk, sizeof(*list), cl_cmp_id);
		cl_out_publish_keys(c, txn, list, nk, false);
	}
	free(list);
	mdb_txn_abort(txn);
}

/* --- reading SLUICE_DOCS (export --cluster) --------------------------- */

struct cluster_reader {
	natsSubscription *sub;
	natsMsg		*msg;		/* the message being read */
	size_t		 off;		/* its next line */
	uint64_t	 last;		/* the stream's last sequence at the
					   start: the export stops there */
	bool		 end;
};

int
cluster_reader_open(struct cluster *c, uint64_t since_ms,
    struct cluster_reader **out, char *err, size_t errlen)
{
	struct cluster_reader *r = calloc(1, sizeof(*r));
	jsStreamInfo *si = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	*out = NULL;
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!atomic_load(&c->ready) || !atomic_load(&c->connected)) {
		free(r);
		snprintf(err, errlen, "%s", "NATS is unreachable: the "
		    "cluster's documents cannot be read now");
		return -1;
	}
	s = js_GetStreamInfo(&si, c->js, CL_DOCS, NULL, &jerr);
	if (s == NATS_OK) {
		r->last = si->State.LastSeq;
		/* Nothing published since then: nothing to wait for. */
		if (si->State.Msgs == 0 || (since_ms > 0 &&
		    si->State.LastTime < (int64_t)since_ms * 1000000))
			r->last = 0;
		jsStreamInfo_Destroy(si);
	}
	jsSubOptions_Init(&so);
	so.Stream = CL_DOCS;
	so.Ordered = true;
	if (since_ms > 0) {
		so.Config.DeliverPolicy = js_DeliverByStartTime;
		so.Config.OptStartTime = (int64_t)since_ms * 1000000;
	}
	if (s == NATS_OK && r->last > 0)
		s = js_SubscribeSync(&r->sub, c->js, "sluice.docs.>", NULL,
		    &so, &jerr);
	if (s != NATS_OK) {
		cl_errf(err, errlen, "reading " CL_DOCS, s, jerr);
		cluster_reader_close(r);
		return -1;
	}
	if (r->last == 0)
		r->end = true;
	*out = r;
	return 0;
}

int
cluster_reader_next(struct cluster_reader *r, const char **data,
    size_t *len)
{
	for (;;) {
		jsMsgMetaData *meta = NULL;
		natsMsg *m = NULL;

		if (r->msg != NULL) {
			const char *body = natsMsg_GetData(r->msg);

			if (body != NULL && cluster_body_line(body, (size_t)
			    natsMsg_GetDataLength(r->msg), &r->off, data, len))
				return 1;
			natsMsg_Destroy(r->msg);
			r->msg = NULL;
		}
		if (r->end)
			return -1;
		if (natsSubscription_NextMsg(&m, r->sub, 0) != NATS_OK)
			return 0;
		if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
			if (meta->Sequence.Stream >= r->last ||
			    meta->NumPending == 0)
				r->end = true;
			jsMsgMetaData_Destroy(meta);
		}
		r->msg = m;
		r->off = 0;
	}
}

void
cluster_reader_close(struct cluster_reader *r)
{
	if (r == NULL)
		return;
	natsMsg_Destroy(r->msg);
	if (r->sub != NULL) {
		(void)natsSubscription_Unsubscribe(r->sub);
		natsSubscription_Destroy(r->sub);
	}
	free(r);
}
