/*
 * cluster_docs.c - stored documents out of a cluster node (see
 * cluster_int.h): their keys to SLUICE_KEYS, the cluster's verdict from
 * that stream's order, the documents to SLUICE_DOCS, all through an outbox
 * in the store; and SLUICE_DOCS read back for export --cluster.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>
#include <xxhash.h>

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
	char subj[CL_NODE_MAX + 32], id[CL_NODE_MAX + 32];

	snprintf(subj, sizeof(subj), "sluice.%s.%s", stream, c->node);
	snprintf(id, sizeof(id), "%c:%" PRIu64 ":%s", what, doc, c->node);
	return cl_publish_async(c, subj, id, data, len) == NATS_OK ? 0 : -1;
}

/* The SLUICE_DOCS line of document o (its "node" set): o as it is, or
 * past the servers' max_payload (1 MiB by default) without its text,
 * which the node's store keeps.  malloc'd, NULL when memory is short. */
static char *
cl_doc_line(struct cluster *c, json_t *o, const char *whole)
{
	char *line = whole != NULL ? strdup(whole) :
	    json_dumps(o, JSON_COMPACT);

	if (line != NULL && (int64_t)strlen(line) + 512 >
	    natsConnection_GetMaxPayload(c->nc)) {
		json_t *cut = json_copy(o);

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
	if (what == 'k')
		rc = cl_publish(c, 'k', doc, "keys", (const char *)v.mv_data +
		    1, v.mv_size - 1);
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

/* JetStream's answer to a document's keys or line. */
void
cl_out_acked(struct cluster *c, char what, uint64_t doc, bool ok,
    const char *err)
{
	if (!ok) {
		log_warnx("cluster: %s of document %" PRIu64 " not stored "
		    "(%s); retrying", what == 'k' ? "keys" : "the line", doc,
		    err);
		(void)cl_push_id(&c->retry, &c->nretry, &c->capretry,
		    what == 'd' ? doc | CL_RETRY_DOC : doc);
	} else if (what == 'd' &&
	    cl_push_id(&c->sent, &c->nsent, &c->capsent, doc) != 0)
		log_warnx("cluster: document %" PRIu64 " will be published "
		    "again at the next start", doc);
}

/* A SLUICE_KEYS message, in stream order: the index's verdict, and for
 * this node's own documents, a verdict to record. */
void
cl_keys_apply(struct cluster *c, natsMsg *msg)
{
	struct cluster_keys k;
	struct cluster_verdict v;
	jsMsgMetaData *meta = NULL;
	char err[160];
	uint64_t seq;
	json_t *j;
	int rc;

	if (natsMsg_GetMetaData(&meta, msg) != NATS_OK)
		return;
	seq = meta->Sequence.Stream;
	jsMsgMetaData_Destroy(meta);
	if (cluster_keys_decode(natsMsg_GetData(msg), (size_t)
	    natsMsg_GetDataLength(msg), &k, err, sizeof(err)) != 0) {
		log_warnx("cluster: SLUICE_KEYS message %" PRIu64 " skipped: "
		    "%s", seq, err);
		return;
	}
	rc = cluster_index_apply(c->index, seq, k.node, k.doc_id, &k.sig,
	    k.url, &v);
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
			    (json_int_t)v.seq);
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
		if (j != NULL)
			c->verdicts[c->nverdicts++] = (struct cl_verdict){
			    .doc = k.doc_id, .v = j };
	}
	cluster_keys_free(&k);
}

int
cluster_doc_stored(void *arg, MDB_txn *txn, uint64_t doc, const char *url,
    const struct dedup_sig *sig)
{
	struct cluster *c = arg;
	char *body = cluster_keys_encode(c->node, doc, url, sig);
	MDB_val k = { sizeof(doc), &doc }, v;
	int rc;

	if (body == NULL)
		return ENOMEM;
	v.mv_size = strlen(body) + 1;
	rc = mdb_put(txn, c->outbox, &k, &v, MDB_RESERVE);
	if (rc == 0) {
		((char *)v.mv_data)[0] = OUT_KEYS;
		memcpy((char *)v.mv_data + 1, body, v.mv_size - 1);
		if (cl_push_id(&c->stored, &c->nstored, &c->capstored,
		    doc) != 0)
			rc = ENOMEM;
	}
	free(body);
	return rc;
}

/* Turn work: the verdicts come into their documents, whose entries move
 * on to OUT_DOC; the entries of documents JetStream stored go. */
int
cl_out_apply(struct cluster *c, MDB_txn *txn)
{
	int rc = 0;

	for (size_t i = 0; i < c->nverdicts && rc == 0; i++) {
		uint64_t doc = c->verdicts[i].doc, flags;
		MDB_val k = { sizeof(doc), &doc }, v;
		const char *text;
		size_t len;
		json_t *o;
		char *json;

		if (mdb_get(txn, c->outbox, &k, &v) != 0)
			continue;	/* recorded and sent before */
		if ((rc = doc_get_text(c->docs, txn, doc, &text, &len,
		    &flags)) != 0) {
			rc = rc == MDB_NOTFOUND || rc == MDB_CORRUPTED ? 0 :
			    rc;
			continue;
		}
		if ((o = json_loadb(text, len, 0, NULL)) == NULL)
			continue;
		json_object_set(o, "cluster", c->verdicts[i].v);
		json_object_set_new(o, "node", json_string(c->node));
		json = json_dumps(o, JSON_COMPACT);
		/* The line to publish after the commit, made now: no second
		 * read and parse of the document. */
		free(c->verdicts[i].line);
		c->verdicts[i].line = json != NULL ? cl_doc_line(c, o, json) :
		    NULL;
		json_decref(o);
		if (json == NULL)
			return ENOMEM;
		rc = doc_update(c->docs, txn, doc, json, strlen(json), flags);
		free(json);
		if (rc == 0 && ((const char *)v.mv_data)[0] != OUT_DOC) {
			char *copy = malloc(v.mv_size);

			if (copy == NULL)
				return ENOMEM;
			memcpy(copy, v.mv_data, v.mv_size);
			copy[0] = OUT_DOC;
			v.mv_data = copy;
			rc = mdb_put(txn, c->outbox, &k, &v, 0);
			free(copy);
		}
	}
	c->applied_verdicts = c->nverdicts;
	for (size_t i = 0; i < c->nsent && rc == 0; i++) {
		MDB_val k = { sizeof(c->sent[i]), &c->sent[i] };

		rc = mdb_del(txn, c->outbox, &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	c->applied_sent = c->nsent;
	return rc;
}

/* After the commit: the new documents' keys go out, and the documents
 * whose verdict was recorded. */
void
cl_out_commit(struct cluster *c)
{
	MDB_txn *txn;

	if ((c->nstored > 0 || c->applied_verdicts > 0) &&
	    store_txn_read(c->store, &txn) == 0) {
		for (size_t i = 0; i < c->nstored; i++)
			cl_out_publish(c, txn, 'k', c->stored[i]);
		for (size_t i = 0; i < c->applied_verdicts; i++) {
			struct cl_verdict *v = &c->verdicts[i];

			if (v->line == NULL)
				continue;	/* none recorded: sent before */
			if (cl_publish(c, 'd', v->doc, "docs", v->line,
			    strlen(v->line)) != 0)
				(void)cl_push_id(&c->retry, &c->nretry,
				    &c->capretry, v->doc | CL_RETRY_DOC);
		}
		mdb_txn_abort(txn);
	}
	c->nstored = 0;
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
	if (c->applied_sent > 0)
		memmove(c->sent, c->sent + c->applied_sent,
		    (c->nsent - c->applied_sent) * sizeof(*c->sent));
	c->nsent -= c->applied_sent;
	c->applied_sent = 0;
}

/* Once JetStream is there after the start, and every 10 s after a
 * failure: what the outbox holds (or failed) is published again. */
void
cl_out_retry(struct cluster *c)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t *list = c->retry;
	size_t n = c->nretry;

	if (!atomic_load(&c->ready) || !atomic_load(&c->connected) ||
	    store_txn_read(c->store, &txn) != 0)
		return;
	c->retry = NULL;
	c->nretry = c->capretry = 0;
	if (!c->replayed && mdb_cursor_open(txn, c->outbox, &cur) == 0) {
		size_t count = 0;

		c->replayed = true;
		for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			uint64_t doc;

			if (k.mv_size != sizeof(doc) || v.mv_size < 1)
				continue;
			memcpy(&doc, k.mv_data, sizeof(doc));
			cl_out_publish(c, txn, ((const char *)v.mv_data)[0] ==
			    OUT_DOC ? 'd' : 'k', doc);
			count++;
		}
		mdb_cursor_close(cur);
		if (count > 0)
			log_notice("cluster: publishing %zu documents the "
			    "last run left unpublished", count);
	}
	for (size_t i = 0; i < n; i++)
		cl_out_publish(c, txn, list[i] & CL_RETRY_DOC ? 'd' : 'k',
		    list[i] & ~CL_RETRY_DOC);
	free(list);
	mdb_txn_abort(txn);
}

/* --- reading SLUICE_DOCS (export --cluster) --------------------------- */

struct cluster_reader {
	natsSubscription *sub;
	natsMsg		*msg;		/* the line last returned */
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
	jsMsgMetaData *meta = NULL;
	natsMsg *m = NULL;

	natsMsg_Destroy(r->msg);
	r->msg = NULL;
	if (r->end)
		return -1;
	if (natsSubscription_NextMsg(&m, r->sub, 0) != NATS_OK)
		return 0;
	if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
		if (meta->Sequence.Stream >= r->last || meta->NumPending == 0)
			r->end = true;
		jsMsgMetaData_Destroy(meta);
	}
	r->msg = m;
	*data = natsMsg_GetData(m);
	*len = (size_t)natsMsg_GetDataLength(m);
	return 1;
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
