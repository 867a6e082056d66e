/*
 * cluster.c - cluster mode on NATS JetStream (see cluster.h, cluster_int.h
 * and docs/cluster.md): the connection, the streams, the thread that takes
 * and renews the partition leases and pulls their messages, the node's
 * status, opening and closing.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <event2/event.h>
#include <nats/nats.h>
#include <xxhash.h>

#include "cluster.h"
#include "cluster_index.h"
#include "cluster_int.h"
#include "cluster_plan.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "op.h"
#include "queue.h"
#include "store.h"
#include "util.h"

/* qsort() order of uint64_t ids. */
int
cl_cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* arr, with room for element n (of elem bytes): *cap doubled when it is
 * full.  NULL when memory is short (arr is then as it was). */
void *
cl_grow(void *arr, size_t n, size_t *cap, size_t elem)
{
	size_t ncap;
	void *na;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 64;
	if ((na = realloc(arr, ncap * elem)) == NULL)
		return NULL;
	*cap = ncap;
	return na;
}

/* Appends v to a growing array of uint64_t; -1 when memory is short. */
int
cl_push_id(uint64_t **arr, size_t *n, size_t *cap, uint64_t v)
{
	uint64_t *a = cl_grow(*arr, *n, cap, sizeof(**arr));

	if (a == NULL)
		return -1;
	*arr = a;
	a[(*n)++] = v;
	return 0;
}

/* --- small helpers --------------------------------------------------- */

void
cl_errf(char *err, size_t errlen, const char *what, natsStatus s,
    jsErrCode jerr)
{
	const char *last = nats_GetLastError(NULL);

	if (jerr != 0)
		snprintf(err, errlen, "%s: %s (JetStream error %d)", what,
		    last ? last : natsStatus_GetText(s), (int)jerr);
	else
		snprintf(err, errlen, "%s: %s", what,
		    last ? last : natsStatus_GetText(s));
}

/* Hands ev to the loop (any thread): the eventfd wakes it when the inbox
 * was empty; it takes everything there at once. */
void
cl_post(struct cluster *c, struct cl_ev *ev)
{
	static const uint64_t one = 1;
	bool wake;

	pthread_mutex_lock(&c->mu);
	ev->next = NULL;
	wake = c->inbox == NULL;
	*c->inbox_tail = ev;
	c->inbox_tail = &ev->next;
	pthread_mutex_unlock(&c->mu);
	/* A full counter still wakes the loop: the write may fail. */
	if (wake && write(c->efd, &one, sizeof(one)) == -1 &&
	    errno != EAGAIN)
		log_warn("cluster: waking the loop");
}

static void
cl_sleep(struct cluster *c, uint64_t ms)
{
	struct timespec ts = realtime_after_ms(ms);

	pthread_mutex_lock(&c->mu);
	if (!c->stop)
		(void)pthread_cond_timedwait(&c->cv, &c->mu, &ts);
	pthread_mutex_unlock(&c->mu);
}

static bool
cl_stopping(struct cluster *c)
{
	bool stop;

	pthread_mutex_lock(&c->mu);
	stop = c->stop;
	pthread_mutex_unlock(&c->mu);
	return stop;
}

/* Publishes len bytes of data to subj with Nats-Msg-Id id (a retried
 * publish is stored once); cl_on_puback() hears JetStream's answer. */
natsStatus
cl_publish_async(struct cluster *c, const char *subj, const char *id,
    const char *data, size_t len, uint32_t nurls)
{
	natsMsg *m = NULL;
	jsPubOptions po;
	natsStatus s = natsMsg_Create(&m, subj, NULL, data, (int)len);

	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
	if (s == NATS_OK && nurls > 1) {
		char n[16];

		snprintf(n, sizeof(n), "%" PRIu32, nurls);
		s = natsMsgHeader_Set(m, CL_URLS_HEADER, n);
	}
	jsPubOptions_Init(&po);
	po.MaxWait = CL_PUB_WAIT_MS;
	if (s == NATS_OK)
		s = js_PublishMsgAsync(c->js, &m, &po);
	natsMsg_Destroy(m);	/* NULL once the library took it */
	return s;
}

/* --- connection ------------------------------------------------------ */

static void
cl_on_disconnected(natsConnection *nc, void *arg)
{
	struct cluster *c = arg;

	(void)nc;
	if (atomic_exchange(&c->connected, false) &&
	    !atomic_load(&c->closing))
		log_warnx("cluster: lost NATS; fetching nothing new until it "
		    "is back");
}

static void
cl_on_connected(natsConnection *nc, void *arg)
{
	struct cluster *c = arg;
	char url[256] = "";

	(void)natsConnection_GetConnectedUrl(nc, url, sizeof(url));
	if (!atomic_exchange(&c->connected, true))
		log_notice("cluster: connected to %s", url);
}

/* jsPubAckHandler: a forwarded URL was stored, or not.  cnats thread. */
static void
cl_on_puback(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
    void *arg)
{
	struct cluster *c = arg;
	struct cl_ev *ev = calloc(1, sizeof(*ev));
	const char *id = NULL, *dash;

	(void)js;
	if (ev == NULL) {
		natsMsg_Destroy(msg);
		return;		/* the submit times out instead (cron) */
	}
	ev->kind = EV_PUBACK;
	/* "s:<boot>:<seq>:<node>"; with T = "<node>:<epoch>" (cluster_docs.c):
	 * "k:<doc>:T", "k:<doc>-<last>:T" (resent: "...:T:<boot>.<n>"),
	 * "d:<doc>:T" or "D:<n>:T" */
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK &&
	    id != NULL && id[0] != '\0' && id[1] == ':') {
		char *end = NULL;

		ev->what = id[0];
		dash = id + 2;
		if (ev->what == 's' && (dash = strchr(dash, ':')) != NULL)
			dash++;
		if (dash != NULL) {
			ev->seq = ev->last = strtoull(dash, &end, 10);
			if (end != NULL && *end == '-')
				ev->last = strtoull(end + 1, NULL, 10);
		}
	}
	ev->ok = pa != NULL && pae == NULL;
	if (!ev->ok)
		snprintf(ev->err, sizeof(ev->err), "%s", pae != NULL &&
		    pae->ErrText != NULL ? pae->ErrText : "not stored");
	natsMsg_Destroy(msg);	/* the handler's to destroy (nats.h) */
	cl_post(c, ev);
}

/* The store's epoch, from the outbox's key 0 (made at the first start
 * in cluster mode: this boot's time), into c->epoch and c->idtag. */
static int
cl_epoch(struct cluster *c, MDB_txn *txn)
{
	uint64_t zero = 0;
	MDB_val k = { sizeof(zero), &zero }, v;
	int rc = mdb_get(txn, c->outbox, &k, &v);

	c->epoch = c->boot;
	if (rc == 0 && v.mv_size == CL_OUT_NEXT_LEN)
		c->epoch = store_get_be64((const unsigned char *)v.mv_data + 9);
	else if (rc == 0 || rc == MDB_NOTFOUND) {
		/* Made now, or by a version before the epoch: the last
		 * batch number kept. */
		rc = cl_out_next_put(c, txn, rc == 0 && v.mv_size >= 9 ?
		    store_get_be64((const unsigned char *)v.mv_data + 1) : 0);
		if (rc != 0)
			return rc;
	} else
		return rc;
	snprintf(c->idtag, sizeof(c->idtag), "%s:%" PRIx64, c->node,
	    c->epoch);
	return 0;
}

static int
cl_options(struct cluster *c, char *err, size_t errlen)
{
	const struct config *cfg = c->cfg;
	char *list = strdup(cfg->cluster_nats), *save = NULL, *tok;
	const char *urls[64];
	int n = 0;
	bool tls = false;
	natsStatus s;

	if (list == NULL)
		return -1;
	for (tok = strtok_r(list, ", ", &save); tok != NULL && n < 64;
	    tok = strtok_r(NULL, ", ", &save)) {
		urls[n++] = tok;
		if (strncmp(tok, "tls://", 6) == 0)
			tls = true;
	}
	if (n == 0) {
		free(list);
		snprintf(err, errlen, "cluster.nats names no server");
		return -1;
	}
	s = natsOptions_Create(&c->opts);
	if (s == NATS_OK)
		s = natsOptions_SetServers(c->opts, urls, n);
	free(list);
	if (s == NATS_OK)
		s = natsOptions_SetName(c->opts, c->node);
	if (s == NATS_OK && (tls || cfg->cluster_tls_ca[0] != '\0'))
		s = natsOptions_SetSecure(c->opts, true);
	if (s == NATS_OK && cfg->cluster_tls_ca[0] != '\0')
		s = natsOptions_LoadCATrustedCertificates(c->opts,
		    cfg->cluster_tls_ca);
	if (s == NATS_OK && cfg->cluster_tls_cert[0] != '\0')
		s = natsOptions_LoadCertificatesChain(c->opts,
		    cfg->cluster_tls_cert, cfg->cluster_tls_key);
	if (s == NATS_OK && cfg->cluster_creds[0] != '\0')
		s = natsOptions_SetUserCredentialsFromFiles(c->opts,
		    cfg->cluster_creds, NULL);
	if (s == NATS_OK && cfg->cluster_user[0] != '\0')
		s = natsOptions_SetUserInfo(c->opts, cfg->cluster_user,
		    cfg->cluster_password);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(c->opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(c->opts, 500);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(c->opts, CL_CONNECT_MS);
	/* A silent server (a cut network) is noticed within a lease's
	 * TTL, not cnats' default two minutes. */
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(c->opts, (int64_t)
		    cfg->cluster_lease_ttl_ms / 3);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(c->opts, 2);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(c->opts, cl_on_disconnected,
		    c);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(c->opts, cl_on_connected, c);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(c->opts, true,
		    cl_on_connected, c);
	if (s != NATS_OK) {
		cl_errf(err, errlen, "cluster: NATS options", s, 0);
		return -1;
	}
	return 0;
}

/* --- the streams ----------------------------------------------------- */

/* The stream `name` as this version makes it, or refused with err if one
 * of that name was made otherwise.  One described as `older` (NULL: none)
 * was made by an earlier version whose messages this one reads: its
 * description is brought up to desc, so that nodes of that version refuse
 * it from then on. */
static int
cl_stream(struct cluster *c, const char *name, const char *desc,
    const char *older, const char *subject, jsRetentionPolicy retention,
    uint64_t max_bytes, uint64_t max_age_ms, char *err, size_t errlen)
{
	jsStreamConfig cfg, *sc = &cfg;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	jsStreamConfig_Init(sc);
	sc->Name = name;
	sc->Description = desc;
	sc->Subjects = &subject;
	sc->SubjectsLen = 1;
	sc->Retention = retention;
	sc->Storage = js_FileStorage;
	sc->Replicas = c->cfg->cluster_replicas;
	sc->MaxBytes = max_bytes > 0 ? (int64_t)max_bytes : -1;
	if (max_age_ms > 0)
		sc->MaxAge = (int64_t)max_age_ms * 1000000;

	s = js_GetStreamInfo(&si, c->js, sc->Name, NULL, &jerr);
	if (s == NATS_OK && older != NULL && si->Config->Description != NULL &&
	    strcmp(si->Config->Description, older) == 0 &&
	    si->Config->Retention == sc->Retention) {
		const char *was = si->Config->Description;
		jsStreamInfo *ui = NULL;

		si->Config->Description = desc;
		jerr = 0;
		s = js_UpdateStream(&ui, c->js, si->Config, NULL, &jerr);
		si->Config->Description = was;	/* the library's to free */
		jsStreamInfo_Destroy(si);
		si = ui;
		if (s != NATS_OK) {
			cl_errf(err, errlen, sc->Name, s, jerr);
			return -2;
		}
		log_notice("cluster: stream %s was described \"%s\": now "
		    "\"%s\" (nodes of the earlier version refuse it)",
		    sc->Name, older, desc);
	}
	if (s == NATS_OK) {
		const char *d = si->Config->Description;
		int bad = d == NULL || strcmp(d, sc->Description) != 0 ||
		    si->Config->Retention != sc->Retention;

		if (bad)
			snprintf(err, errlen, "cluster: stream %s was made by "
			    "another version or layout (its description is "
			    "\"%s\", this node expects \"%s\"); refusing to "
			    "use it", sc->Name, d ? d : "", sc->Description);
		else if (si->Config->Replicas != sc->Replicas) {
			snprintf(err, errlen, "cluster: stream %s has %lld "
			    "replicas, cluster.replicas says %lld; refusing to "
			    "use it", sc->Name, (long long)si->Config->Replicas,
			    (long long)sc->Replicas);
			bad = 1;
		}
		jsStreamInfo_Destroy(si);
		return bad ? -1 : 0;
	}
	if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
		cl_errf(err, errlen, sc->Name, s, jerr);
		return -2;
	}
	jerr = 0;
	s = js_AddStream(&si, c->js, sc, NULL, &jerr);
	if (s != NATS_OK) {
		cl_errf(err, errlen, sc->Name, s, jerr);
		return -2;
	}
	jsStreamInfo_Destroy(si);
	log_notice("cluster: made stream %s (%lld replicas)", sc->Name,
	    (long long)sc->Replicas);
	return 0;
}

static int
cl_consumer(struct cluster *c, uint32_t p, char *err, size_t errlen)
{
	char name[16], filter[64];
	jsConsumerInfo *ci = NULL;
	jsConsumerConfig cc;
	jsErrCode jerr = 0;
	natsStatus s;

	snprintf(name, sizeof(name), "p%" PRIu32, p);
	snprintf(filter, sizeof(filter), "sluice.fetch.p%" PRIu32 ".>", p);
	s = js_GetConsumerInfo(&ci, c->js, CL_FETCH, name, NULL, &jerr);
	if (s == NATS_OK) {
		int64_t wait = (int64_t)c->cfg->cluster_ack_wait_ms * 1000000;
		int bad = ci->Config->FilterSubject == NULL ||
		    strcmp(ci->Config->FilterSubject, filter) != 0;

		if (bad)
			snprintf(err, errlen, "cluster: consumer %s of %s "
			    "filters %s, not %s; refusing to use it", name,
			    CL_FETCH, ci->Config->FilterSubject ?
			    ci->Config->FilterSubject : "nothing", filter);
		else if (ci->Config->AckWait != wait) {
			/* Every node must see the same redelivery delay. */
			snprintf(err, errlen, "cluster: consumer %s of %s "
			    "was made with an AckWait of %lld ms, this "
			    "node's cluster.ack_wait is %llu ms; set the same "
			    "on every node", name, CL_FETCH,
			    (long long)(ci->Config->AckWait / 1000000),
			    (unsigned long long)c->cfg->cluster_ack_wait_ms);
			bad = 1;
		}
		jsConsumerInfo_Destroy(ci);
		return bad ? -1 : 0;
	}
	jsConsumerConfig_Init(&cc);
	cc.Durable = name;
	cc.Description = CL_VERSION;
	cc.FilterSubject = filter;
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = (int64_t)c->cfg->cluster_ack_wait_ms * 1000000;
	cc.MaxAckPending = CL_MAX_ACK_PENDING;
	cc.DeliverPolicy = js_DeliverAll;
	jerr = 0;
	s = js_AddConsumer(&ci, c->js, CL_FETCH, &cc, NULL, &jerr);
	if (s != NATS_OK) {
		cl_errf(err, errlen, name, s, jerr);
		return -2;
	}
	jsConsumerInfo_Destroy(ci);
	return 0;
}

/* The leases' bucket must expire keys after this node's lease_ttl: a
 * node that counted on another TTL could lose or keep a lease unseen. */
static int
cl_check_bucket(struct cluster *c, int64_t ttl, char *err, size_t errlen)
{
	jsStreamInfo *si = NULL;
	natsStatus s;
	int bad;

	s = js_GetStreamInfo(&si, c->js, "KV_" CL_BUCKET, NULL, NULL);
	if (s != NATS_OK) {
		cl_errf(err, errlen, "cluster: KV " CL_BUCKET, s, 0);
		return -2;
	}
	bad = si->Config->MaxAge != ttl;
	if (bad)
		snprintf(err, errlen, "cluster: the KV bucket " CL_BUCKET
		    " expires keys after %lld ms, this node's "
		    "cluster.lease_ttl is %llu ms; set the same on every node",
		    (long long)(si->Config->MaxAge / 1000000),
		    (unsigned long long)c->cfg->cluster_lease_ttl_ms);
	jsStreamInfo_Destroy(si);
	return bad ? -1 : 0;
}

/*
 * Makes or checks every JetStream object.  0; -1 with err when one was
 * made otherwise (refused for good); -2 with err when NATS failed (try
 * again later).
 */
static int
cl_setup(struct cluster *c, char *err, size_t errlen)
{
	char desc[128], older[128];
	kvConfig kc;
	natsStatus s;
	int rc;

	if (c->js == NULL) {
		jsOptions jo;

		jsOptions_Init(&jo);
		jo.Wait = CL_PUB_WAIT_MS;
		jo.PublishAsync.AckHandler = cl_on_puback;
		jo.PublishAsync.AckHandlerClosure = c;
		jo.PublishAsync.MaxPending = 65536;
		jo.PublishAsync.StallWait = 50;
		if ((s = natsConnection_JetStream(&c->js, c->nc, &jo)) !=
		    NATS_OK) {
			cl_errf(err, errlen, "cluster: JetStream", s, 0);
			return -2;
		}
	}
	snprintf(desc, sizeof(desc), "%s; partitions=%" PRIu32,
	    CL_FETCH_VERSION, c->parts);
	snprintf(older, sizeof(older), "%s; partitions=%" PRIu32, CL_VERSION,
	    c->parts);
	/* Limits: 0 for none (-1 to JetStream).  A limit on the keys drops
	 * the oldest, and a node that starts after that builds another index
	 * (docs/cluster.md). */
	if ((rc = cl_stream(c, CL_FETCH, desc, older, "sluice.fetch.>",
	    js_WorkQueuePolicy, 0, 0, err, errlen)) != 0 ||
	    (rc = cl_stream(c, CL_KEYS, CL_VERSION, NULL, "sluice.keys.>",
	    js_LimitsPolicy, c->cfg->cluster_keys_max_bytes, 0, err,
	    errlen)) != 0 ||
	    (rc = cl_stream(c, CL_DOCS, CL_VERSION, NULL, "sluice.docs.>",
	    js_LimitsPolicy, c->cfg->cluster_docs_max_bytes,
	    c->cfg->cluster_docs_max_age_ms, err, errlen)) != 0)
		return rc;
	if (c->kv == NULL) {
		kvConfig_Init(&kc);
		kc.Bucket = CL_BUCKET;
		kc.Description = CL_VERSION;
		kc.History = 1;
		kc.TTL = (int64_t)c->cfg->cluster_lease_ttl_ms * 1000000;
		kc.Replicas = (int)c->cfg->cluster_replicas;
		kc.StorageType = js_FileStorage;
		/* Its own context: a lease operation waits at most a
		 * quarter of the TTL, so that a tick stuck in an election
		 * cannot outlast the leases it renews. */
		if (c->kjs == NULL) {
			jsOptions jo;

			jsOptions_Init(&jo);
			jo.Wait = (int64_t)c->cfg->cluster_lease_ttl_ms / 4;
			if ((s = natsConnection_JetStream(&c->kjs, c->nc,
			    &jo)) != NATS_OK) {
				cl_errf(err, errlen, "cluster: JetStream", s,
				    0);
				return -2;
			}
		}
		s = js_KeyValue(&c->kv, c->kjs, CL_BUCKET);
		if (s == NATS_NOT_FOUND) {
			/* Made with the long wait, then used with the short. */
			s = js_CreateKeyValue(&c->kv, c->js, &kc);
			if (s == NATS_OK) {
				kvStore_Destroy(c->kv);
				c->kv = NULL;
				s = js_KeyValue(&c->kv, c->kjs, CL_BUCKET);
			}
		}
		if (s != NATS_OK) {
			cl_errf(err, errlen, "cluster: KV " CL_BUCKET, s, 0);
			return -2;
		}
		if ((rc = cl_check_bucket(c, kc.TTL, err, errlen)) != 0)
			return rc;
	}
	return 0;
}

/* --- leases (the thread) ------------------------------------------- */

static uint32_t
cl_owned(struct cluster *c)
{
	uint32_t n = 0;

	for (uint32_t p = 0; p < c->parts; p++)
		if (atomic_load(&c->own[p]) != OWN_NONE)
			n++;
	return n;
}

static void
cl_lose(struct cluster *c, uint32_t p, const char *why)
{
	struct cl_ev *ev;

	atomic_store(&c->own[p], OWN_NONE);
	c->rev[p] = 0;
	log_debug("cluster: lost partition %" PRIu32 " (%s)", p, why);
	if ((ev = calloc(1, sizeof(*ev))) != NULL) {
		ev->kind = EV_LOST;
		ev->part = p;
		cl_post(c, ev);
	}
}

static int
cl_bind(struct cluster *c, uint32_t p)
{
	char name[16], filter[64], err[512];
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc;

	if (c->subs[p] != NULL)
		return 0;
	/* Made when first taken: a node's start waits for no consumer, and
	 * a partition nobody took costs the servers nothing. */
	if ((rc = cl_consumer(c, p, err, sizeof(err))) != 0) {
		log_warnx("%s", err);
		if (rc == -1) {
			pthread_mutex_lock(&c->mu);
			snprintf(c->fatal, sizeof(c->fatal), "%.255s", err);
			pthread_mutex_unlock(&c->mu);
			atomic_store(&c->refused, true);
		}
		return -1;
	}
	snprintf(name, sizeof(name), "p%" PRIu32, p);
	snprintf(filter, sizeof(filter), "sluice.fetch.p%" PRIu32 ".>", p);
	jsSubOptions_Init(&so);
	so.Stream = CL_FETCH;
	so.Consumer = name;
	s = js_PullSubscribe(&c->subs[p], c->js, filter, name, NULL, &so,
	    &jerr);
	if (s != NATS_OK) {
		cl_errf(err, sizeof(err), "cluster: binding", s, jerr);
		log_warnx("%s %s", err, name);
		return -1;
	}
	return 0;
}

/* Writes this node's heartbeat: what it owns and holds, and the status
 * counts the loop last handed over (cluster_cron). */
static void
cl_heartbeat(struct cluster *c)
{
	json_t *o = json_object(), *parts = json_array(), *st = NULL;
	char key[80], *text;

	pthread_mutex_lock(&c->mu);
	if (c->status_json != NULL)
		st = json_loads(c->status_json, 0, NULL);
	pthread_mutex_unlock(&c->mu);
	for (uint32_t p = 0; p < c->parts; p++)
		if (atomic_load(&c->own[p]) != OWN_NONE)
			json_array_append_new(parts, json_integer(p));
	json_object_set_new(o, "node", json_string(c->node));
	json_object_set_new(o, "frontier", json_integer(CL_FRONTIER));
	json_object_set_new(o, "partitions", parts);
	json_object_set_new(o, "held", json_integer((json_int_t)
	    atomic_load(&c->held_total)));
	json_object_set_new(o, "lag", json_integer((json_int_t)
	    atomic_load(&c->lag)));
	json_object_set_new(o, "time", json_integer((json_int_t)now_ms()));
	json_object_set_new(o, "status", st ? st : json_object());
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	snprintf(key, sizeof(key), "node.%s", c->node);
	if (text != NULL)
		(void)kvStore_PutString(NULL, c->kv, key, text);
	free(text);
}

/* Reads the heartbeats and leases into view (parts and the live names,
 * which the caller frees).  0, or -1 when the bucket could not be read. */
static int
cl_read_bucket(struct cluster *c, struct cluster_part *parts,
    char ***live, size_t *nlive)
{
	static const char prefix[] = "$KV." CL_BUCKET ".";
	json_t *nodes = json_object();
	jsStreamStateSubjects *keys;
	jsStreamInfo *si = NULL;
	jsOptions jo;
	natsStatus s;
	int nkeys;

	/*
	 * The keys present, from the bucket's stream info: one request to
	 * its leader.  (kvStore_Keys() makes and deletes a consumer for
	 * each listing, through the cluster's meta group: done every tick
	 * by every node, that cost the servers more than the leases.)
	 */
	jsOptions_Init(&jo);
	jo.Stream.Info.SubjectsFilter = "$KV." CL_BUCKET ".>";
	s = js_GetStreamInfo(&si, c->kjs, "KV_" CL_BUCKET, &jo, NULL);
	*live = NULL;
	*nlive = 0;
	if (nodes == NULL || s != NATS_OK) {
		json_decref(nodes);
		jsStreamInfo_Destroy(si);
		return -1;
	}
	keys = si->State.Subjects;
	nkeys = keys != NULL ? keys->Count : 0;
	*live = calloc((size_t)nkeys + 1, sizeof(**live));
	for (int i = 0; *live != NULL && i < nkeys &&
	    i < CL_NODES_MAX + (int)c->parts; i++) {
		const char *k = keys->List[i].Subject;
		kvEntry *e = NULL;

		if (k == NULL || strncmp(k, prefix, sizeof(prefix) - 1) != 0)
			continue;
		k += sizeof(prefix) - 1;

		if (kvStore_Get(&e, c->kv, k) != NATS_OK || e == NULL)
			continue;
		if (strncmp(k, "node.", 5) == 0 &&
		    cluster_node_valid(k + 5)) {
			json_t *o = json_loads(kvEntry_ValueString(e), 0,
			    NULL);

			if (json_is_object(o)) {
				json_object_set_new(nodes, k + 5, o);
				(*live)[(*nlive)++] = strdup(k + 5);
			} else
				json_decref(o);
		} else if (strncmp(k, "lease.p", 7) == 0) {
			char *end;
			unsigned long p = strtoul(k + 7, &end, 10);

			if (*end == '\0' && p < c->parts) {
				snprintf(parts[p].owner, sizeof(parts[p].owner),
				    "%s", kvEntry_ValueString(e));
				parts[p].rev = kvEntry_Revision(e);
			}
		}
		kvEntry_Destroy(e);
	}
	jsStreamInfo_Destroy(si);
	/* Messages of several URLs only once every live node reads them
	 * (its heartbeat says "frontier": 2): an earlier node would drop
	 * them as malformed.  None until the bucket was read once. */
	{
		const char *name;
		json_t *hb;
		bool all = true;

		json_object_foreach(nodes, name, hb)
			if (json_integer_value(json_object_get(hb,
			    "frontier")) < CL_FRONTIER)
				all = false;
		atomic_store(&c->multi_urls, all);
	}
	pthread_mutex_lock(&c->mu);
	json_decref(c->nodes);
	c->nodes = nodes;
	pthread_mutex_unlock(&c->mu);
	return *live != NULL ? 0 : -1;
}

/* True if a renewal failed because the key changed: it expired and was
 * taken (or deleted).  JetStream says "wrong last sequence" (10071); cnats
 * passes its text on. */
static bool
cl_wrong_revision(natsStatus s)
{
	const char *last = nats_GetLastError(NULL);

	return s == NATS_ERR && last != NULL &&
	    strstr(last, "wrong last sequence") != NULL;
}

/* Renews every lease this node holds.  Returns how many were lost. */
static uint32_t
cl_renew_all(struct cluster *c)
{
	uint32_t lost = 0;
	char key[80];

	for (uint32_t p = 0; p < c->parts; p++) {
		uint64_t rev, sent = mono_ms();
		natsStatus s;

		if (atomic_load(&c->own[p]) == OWN_NONE || c->rev[p] == 0)
			continue;
		snprintf(key, sizeof(key), "lease.p%" PRIu32, p);
		s = kvStore_UpdateString(&rev, c->kv, key, c->node, c->rev[p]);
		if (s == NATS_OK) {
			c->rev[p] = rev;
			atomic_store(&c->renewed[p], sent);
		} else if (cl_wrong_revision(s)) {
			cl_lose(c, p, "another node holds its lease");
			lost++;
		} else
			break;	/* NATS does not answer: the next tick */
	}
	return lost;
}

/* One tick of the leases: the planner (cluster_plan.c) decides from what
 * the bucket shows, this carries it out. */
static void
cl_tick(struct cluster *c)
{
	struct cluster_part *parts = calloc(c->parts, sizeof(*parts));
	struct cluster_action *acts = calloc(CLUSTER_ACTIONS_MAX(c->parts),
	    sizeof(*acts));
	uint64_t ttl = c->cfg->cluster_lease_ttl_ms;
	uint32_t took = 0, gave = 0, lost = 0;
	uint64_t tick_start = mono_ms();
	struct cluster_view v;
	char **live = NULL, key[80];
	size_t nlive = 0, n;

	if (parts == NULL || acts == NULL)
		goto out;
	/* Renewals first: reading the bucket takes a round trip per key,
	 * and a tick that renews late loses leases it holds. */
	lost = cl_renew_all(c);
	if (cl_read_bucket(c, parts, &live, &nlive) != 0)
		goto out;
	for (uint32_t p = 0; p < c->parts; p++) {
		enum cl_own st = atomic_load(&c->own[p]);

		parts[p].held = st != OWN_NONE;
		parts[p].renewed_ms = atomic_load(&c->renewed[p]);
		if (parts[p].held)
			parts[p].rev = c->rev[p];
		/* Released only once the loop has handed its messages
		 * back (OWN_RELEASABLE). */
		parts[p].busy = st == OWN_DRAINING ||
		    atomic_load(&c->busy[p]) > 0;
	}
	v = (struct cluster_view){ .partitions = c->parts, .node = c->node,
	    .now_ms = mono_ms(), .lease_ttl_ms = ttl, .tick_ms = ttl / 3,
	    .live = (const char *const *)live, .nlive = nlive,
	    .part = parts };
	n = cluster_plan(&v, acts);
	for (size_t i = 0; i < n; i++) {
		uint32_t p = acts[i].part;
		uint64_t sent = mono_ms(), rev;
		natsStatus s;

		snprintf(key, sizeof(key), "lease.p%" PRIu32, p);
		switch (acts[i].kind) {
		case CLUSTER_LOST:
			cl_lose(c, p, "its lease could not be renewed in time");
			lost++;
			break;
		case CLUSTER_RENEW:
			if (atomic_load(&c->renewed[p]) >= tick_start)
				break;	/* cl_renew_all() did */
			s = kvStore_UpdateString(&rev, c->kv, key, c->node,
			    acts[i].rev);
			if (s == NATS_OK) {
				c->rev[p] = rev;
				atomic_store(&c->renewed[p], sent);
			} else if (cl_wrong_revision(s)) {
				cl_lose(c, p, "another node holds its lease");
				lost++;
			}
			/* Else NATS is busy (an election: writes pause for
			 * seconds): the next tick tries again, and the
			 * planner gives the lease up in time if none gets
			 * through. */
			break;
		case CLUSTER_DRAIN:
			if (atomic_load(&c->own[p]) == OWN_OWNED)
				atomic_store(&c->own[p], OWN_DRAINING);
			break;
		case CLUSTER_RELEASE:
			/* The loop hands its messages back first (cron). */
			if (atomic_load(&c->own[p]) == OWN_OWNED)
				atomic_store(&c->own[p], OWN_DRAINING);
			if (atomic_load(&c->own[p]) != OWN_RELEASABLE)
				break;
			atomic_store(&c->own[p], OWN_NONE);
			c->rev[p] = 0;
			(void)kvStore_Delete(c->kv, key);
			gave++;
			break;
		case CLUSTER_TAKE:
			if (kvStore_CreateString(&rev, c->kv, key, c->node) !=
			    NATS_OK)
				break;
			if (cl_bind(c, p) != 0) {
				(void)kvStore_Delete(c->kv, key);
				break;
			}
			/* A slow bind (its consumer made on a busy cluster)
			 * ate into the lease: renewed now rather than given
			 * up as stale at once. */
			if (mono_ms() - sent > ttl / 3) {
				uint64_t again = mono_ms(), rev2;

				if (kvStore_UpdateString(&rev2, c->kv, key,
				    c->node, rev) == NATS_OK) {
					rev = rev2;
					sent = again;
				}
			}
			c->rev[p] = rev;
			atomic_store(&c->renewed[p], sent);
			/* The last owner's last request may be that recent. */
			atomic_store(&c->start_after[p], sent +
			    c->cfg->host_delay_ms);
			c->taken_at[p] = mono_ms();
			c->empty_ms[p] = 0;
			atomic_store(&c->own[p], OWN_OWNED);
			took++;
			break;
		}
	}
	if (lost > 0)
		log_warnx("cluster: lost %" PRIu32 " partitions: their leases "
		    "could not be renewed in time, or passed to another node",
		    lost);
	if (took > 0 || gave > 0)
		log_info("cluster: took %" PRIu32 " partitions, gave %" PRIu32
		    " up: %" PRIu32 " owned of %" PRIu32 ", %zu nodes live",
		    took, gave, cl_owned(c), c->parts, nlive);
out:
	for (size_t i = 0; i < nlive; i++)
		free(live[i]);
	free(live);
	free(parts);
	free(acts);
}

/* Sums the owned partitions' pending messages, for status and the
 * heartbeat. */
static void
cl_measure_lag(struct cluster *c)
{
	uint64_t lag = 0;

	for (uint32_t p = 0; p < c->parts; p++) {
		jsConsumerInfo *ci = NULL;
		char name[16];

		if (atomic_load(&c->own[p]) != OWN_OWNED)
			continue;
		snprintf(name, sizeof(name), "p%" PRIu32, p);
		if (js_GetConsumerInfo(&ci, c->js, CL_FETCH, name, NULL,
		    NULL) == NATS_OK) {
			lag += ci->NumPending;
			jsConsumerInfo_Destroy(ci);
		}
	}
	atomic_store(&c->lag, lag);
}

/* The URLs a frontier message says it carries (CL_URLS_HEADER), 1 to
 * CL_MSG_URLS_MAX: what it counts in the window. */
static uint32_t
cl_msg_urls(natsMsg *m)
{
	const char *v = NULL;
	unsigned long n;
	char *end = NULL;

	if (natsMsgHeader_Get(m, CL_URLS_HEADER, &v) != NATS_OK || v == NULL)
		return 1;
	n = strtoul(v, &end, 10);
	if (end == v || *end != '\0' || n < 1)
		return 1;
	return n > CL_MSG_URLS_MAX ? CL_MSG_URLS_MAX : (uint32_t)n;
}

/* Pulls from the owned partitions while the window has room.  Returns
 * the messages taken. */
static size_t
cl_pull(struct cluster *c)
{
	size_t got = 0;

	for (uint32_t i = 0; i < c->parts; i++) {
		uint32_t p = (c->pull_next + i) % c->parts;
		uint64_t held = atomic_load(&c->held_total);
		bool full = held >= c->cfg->cluster_window;
		jsFetchRequest fr;
		natsMsgList list = { 0 };

		/* A full window still lets a partition with nothing held
		 * take one message: no partition waits behind another's
		 * backlog (a big host's, or the survivor's own when it takes
		 * a dead node's partitions). */
		if (full && atomic_load(&c->held_part[p]) > 0)
			continue;
		if (atomic_load(&c->own[p]) != OWN_OWNED || c->subs[p] == NULL ||
		    atomic_load(&c->pull_after[p]) > mono_ms())
			continue;
		jsFetchRequest_Init(&fr);
		/* A message carries up to CL_MSG_URLS URLs: the window is
		 * overshot by less than one message (and those of starved
		 * partitions). */
		fr.Batch = full ? 1 : (int)((c->cfg->cluster_window - held +
		    CL_MSG_URLS - 1) / CL_MSG_URLS);
		if (fr.Batch > CL_PULL_BATCH)
			fr.Batch = CL_PULL_BATCH;
		fr.NoWait = true;
		if (natsSubscription_FetchRequest(&list, c->subs[p], &fr) !=
		    NATS_OK || list.Count == 0) {
			/* Empty: a round trip each for nothing; look again a
			 * little later, and later still while it stays empty
			 * (what another node submits meanwhile waits at most
			 * that long; this node's own submits, not at all). */
			c->empty_ms[p] = c->empty_ms[p] == 0 ||
			    mono_ms() - c->taken_at[p] <
			    c->cfg->cluster_ack_wait_ms ? CL_EMPTY_MS :
			    c->empty_ms[p] * 2 > CL_EMPTY_MAX_MS ?
			    CL_EMPTY_MAX_MS : c->empty_ms[p] * 2;
			atomic_store(&c->pull_after[p], mono_ms() +
			    c->empty_ms[p]);
			natsMsgList_Destroy(&list);
			continue;
		}
		c->empty_ms[p] = 0;
		for (int m = 0; m < list.Count; m++) {
			struct cl_ev *ev = calloc(1, sizeof(*ev));

			if (ev == NULL)
				continue;	/* redelivered after AckWait */
			ev->kind = EV_MSG;
			ev->msg = list.Msgs[m];
			ev->part = p;
			ev->pulled = mono_ms();
			ev->nurls = cl_msg_urls(ev->msg);
			list.Msgs[m] = NULL;
			atomic_fetch_add(&c->held_total, ev->nurls);
			atomic_fetch_add(&c->held_part[p], ev->nurls);
			cl_post(c, ev);
			got++;
		}
		natsMsgList_Destroy(&list);
	}
	c->pull_next = (c->pull_next + 1) % c->parts;
	return got;
}

/* Passes SLUICE_KEYS on to the loop, in stream order, from the first
 * message at every start: the index is in memory (cluster_index.h).  The
 * ordered consumer lives on one server: if that one dies the consumer is
 * made again from the message after the last one taken (cl_keys_check). */
static size_t
cl_keys_take(struct cluster *c)
{
	size_t got = 0;

	if (c->keys_sub == NULL) {
		jsSubOptions so;
		jsErrCode jerr = 0;
		natsStatus s;

		jsSubOptions_Init(&so);
		so.Stream = CL_KEYS;
		so.Ordered = true;
		if (c->keys_taken > 0) {
			so.Config.DeliverPolicy = js_DeliverByStartSequence;
			so.Config.OptStartSeq = c->keys_taken + 1;
		}
		s = js_SubscribeSync(&c->keys_sub, c->js, "sluice.keys.>",
		    NULL, &so, &jerr);
		if (s != NATS_OK) {
			char err[256];

			cl_errf(err, sizeof(err), "cluster: reading " CL_KEYS,
			    s, jerr);
			log_warnx("%s", err);
			c->keys_sub = NULL;
			return 0;
		}
	}
	while (got < CL_KEYS_BATCH) {
		jsMsgMetaData *meta = NULL;
		struct cl_ev *ev;
		natsMsg *m = NULL;

		if (natsSubscription_NextMsg(&m, c->keys_sub, 0) != NATS_OK)
			break;
		if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
			if (meta->Sequence.Stream <= c->keys_taken) {
				/* A remade consumer's overlap. */
				jsMsgMetaData_Destroy(meta);
				natsMsg_Destroy(m);
				continue;
			}
			c->keys_taken = meta->Sequence.Stream;
			jsMsgMetaData_Destroy(meta);
		}
		if ((ev = calloc(1, sizeof(*ev))) == NULL) {
			natsMsg_Destroy(m);
			break;
		}
		ev->kind = EV_KEYS;
		ev->msg = m;
		cl_post(c, ev);
		got++;
	}
	if (got > 0)
		c->keys_moved_ms = mono_ms();
	return got;
}

/* At each tick: a keys consumer that took nothing for two ticks while
 * the stream has more is made again. */
static void
cl_keys_check(struct cluster *c)
{
	jsStreamInfo *si = NULL;
	uint64_t last = 0;

	if (c->keys_sub == NULL || mono_ms() - c->keys_moved_ms <
	    c->cfg->cluster_lease_ttl_ms * 2 / 3)
		return;
	if (js_GetStreamInfo(&si, c->js, CL_KEYS, NULL, NULL) == NATS_OK) {
		last = si->State.LastSeq;
		jsStreamInfo_Destroy(si);
	}
	if (last > c->keys_taken) {
		log_info("cluster: reading " CL_KEYS " again from message "
		    "%" PRIu64, c->keys_taken + 1);
		(void)natsSubscription_Unsubscribe(c->keys_sub);
		natsSubscription_Destroy(c->keys_sub);
		c->keys_sub = NULL;
		c->keys_moved_ms = mono_ms();
	}
}

static void *
cl_main(void *arg)
{
	struct cluster *c = arg;
	uint64_t next_tick = 0, period = c->cfg->cluster_lease_ttl_ms / 3;
	uint64_t ticks = 0;
	bool noted = false;

	while (!cl_stopping(c)) {
		char err[512];
		int rc;

		if (!atomic_load(&c->connected) || atomic_load(&c->refused)) {
			cl_sleep(c, 100);
			continue;
		}
		if (!atomic_load(&c->ready)) {
			if ((rc = cl_setup(c, err, sizeof(err))) == -1) {
				pthread_mutex_lock(&c->mu);
				snprintf(c->fatal, sizeof(c->fatal), "%.255s", err);
				pthread_mutex_unlock(&c->mu);
				atomic_store(&c->refused, true);
				log_errx("%s", err);
				continue;
			}
			if (rc != 0) {
				if (!noted)
					log_warnx("%s; retrying", err);
				noted = true;
				cl_sleep(c, 1000);
				continue;
			}
			atomic_store(&c->ready, true);
			log_notice("cluster: node %s joined (%" PRIu32
			    " partitions)", c->node, c->parts);
		}
		if (mono_ms() >= next_tick) {
			/* The first heartbeat makes this node count in the
			 * others' shares before it takes any. */
			if (next_tick == 0) {
				next_tick = mono_ms();
				cl_heartbeat(c);
			}
			cl_tick(c);
			cl_keys_check(c);
			/* A round trip per partition: every third tick. */
			if (ticks++ % 3 == 0)
				cl_measure_lag(c);
			cl_heartbeat(c);
			/* From the tick's start: a slow tick must not stretch
			 * the renewals' spacing. */
			next_tick += period;
			if (next_tick < mono_ms())
				next_tick = mono_ms();
		}
		if (cl_pull(c) + cl_keys_take(c) == 0)
			cl_sleep(c, CL_IDLE_MS);
	}
	return NULL;
}

/* --- status ------------------------------------------------------- */

void
cluster_gauges(struct cluster *c, struct metrics_gauges *g)
{
	uint64_t mono = mono_ms();

	g->cluster = true;
	g->cluster_connected = atomic_load(&c->connected);
	g->cluster_held = atomic_load(&c->held_total);
	g->cluster_pending = atomic_load(&c->lag);
	g->cluster_keys_applied = c->keys_applied;
	g->cluster_redirects_handed = c->handed;
	g->ncluster_parts = 0;
	for (uint32_t p = 0; p < c->parts &&
	    g->ncluster_parts < sizeof(g->cluster_parts) /
	    sizeof(g->cluster_parts[0]); p++)
		if (cl_usable(c, p, mono))
			g->cluster_parts[g->ncluster_parts++] = p;
}

json_t *
cluster_status(struct cluster *c)
{
	json_t *parts = json_array();
	char url[256] = "", err[sizeof(c->fatal)];

	uint64_t mono = mono_ms();

	for (uint32_t p = 0; p < c->parts; p++)
		if (cl_usable(c, p, mono))
			json_array_append_new(parts, json_integer(p));
	if (c->nc != NULL)
		(void)natsConnection_GetConnectedUrl(c->nc, url, sizeof(url));
	pthread_mutex_lock(&c->mu);
	snprintf(err, sizeof(err), "%s", c->fatal);
	pthread_mutex_unlock(&c->mu);
	return json_pack("{s:s, s:b, s:b, s:o, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:s, s:s}", "node", c->node, "connected",
	    atomic_load(&c->connected), "ready", atomic_load(&c->ready),
	    "partitions", parts, "owned", (json_int_t)json_array_size(parts),
	    "held", (json_int_t)atomic_load(&c->held_total),
	    "lag", (json_int_t)atomic_load(&c->lag),
	    "jobs_held", (json_int_t)c->nheld, "keys_applied",
	    (json_int_t)c->keys_applied, "index_entries",
	    (json_int_t)cluster_index_entries(c->index), "redirects_handed",
	    (json_int_t)c->handed, "forwarded_urls", (json_int_t)c->fwd_urls,
	    "forwarded_messages", (json_int_t)c->fwd_msgs, "nats_url", url,
	    "error", err);
}

json_t *
cluster_nodes(struct cluster *c)
{
	json_t *arr = json_array(), *hb;
	const char *name;
	uint64_t now = now_ms();

	pthread_mutex_lock(&c->mu);
	json_object_foreach(c->nodes, name, hb) {
		json_int_t t = json_integer_value(json_object_get(hb, "time"));
		char when[64];

		fmt_time_ms((uint64_t)t, when, sizeof(when));
		json_array_append_new(arr, json_pack("{s:s, s:O, s:O, s:O, "
		    "s:s, s:I}", "node", name, "partitions",
		    json_object_get(hb, "partitions") ?
		    json_object_get(hb, "partitions") : json_null(),
		    "held", json_object_get(hb, "held") ?
		    json_object_get(hb, "held") : json_null(),
		    "lag", json_object_get(hb, "lag") ?
		    json_object_get(hb, "lag") : json_null(),
		    "heartbeat", when, "age_ms", (json_int_t)(now > (uint64_t)t ?
		    now - (uint64_t)t : 0)));
	}
	pthread_mutex_unlock(&c->mu);
	return arr;
}

/* Adds every number of b into a, recursively. */
static void
cl_sum(json_t *a, json_t *b)
{
	const char *k;
	json_t *v;

	json_object_foreach(b, k, v) {
		json_t *have = json_object_get(a, k);

		if (json_is_integer(v))
			json_object_set_new(a, k, json_integer(
			    json_integer_value(have) + json_integer_value(v)));
		else if (json_is_object(v)) {
			if (!json_is_object(have)) {
				have = json_object();
				json_object_set_new(a, k, have);
			}
			cl_sum(have, v);
		}
	}
}

json_t *
cluster_totals(struct cluster *c)
{
	json_t *sum = json_object(), *hb;
	const char *name;
	size_t n = 0, owned = 0;

	pthread_mutex_lock(&c->mu);
	json_object_foreach(c->nodes, name, hb) {
		json_t *st = json_object_get(hb, "status");

		n++;
		owned += json_array_size(json_object_get(hb, "partitions"));
		if (json_is_object(st))
			cl_sum(sum, st);
	}
	pthread_mutex_unlock(&c->mu);
	json_object_set_new(sum, "nodes", json_integer((json_int_t)n));
	json_object_set_new(sum, "partitions", json_integer(c->parts));
	json_object_set_new(sum, "owned", json_integer((json_int_t)owned));
	return sum;
}

/* --- open and close ------------------------------------------------ */

static int
cl_node_name(struct cluster *c, char *err, size_t errlen)
{
	const char *n = c->cfg->cluster_node;
	char host[256];

	if (n[0] == '\0') {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "sluice");
		host[sizeof(host) - 1] = '\0';
		/* The host name's first label, as a name NATS keys take. */
		host[strcspn(host, ".")] = '\0';
		for (char *p = host; *p; p++)
			if (!(*p == '-' || *p == '_' ||
			    (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z')))
				*p = '_';
		n = host;
	}
	if (strlen(n) == 0 || strlen(n) > CL_NODE_MAX ||
	    strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-") != strlen(n)) {
		snprintf(err, errlen, "cluster.node \"%s\" must be 1 to %d "
		    "letters, digits, '_' or '-'", n, CL_NODE_MAX);
		return -1;
	}
	snprintf(c->node, sizeof(c->node), "%.*s", CL_NODE_MAX, n);
	return 0;
}

static int
cl_sweep_one(const struct job *j, void *arg)
{
	struct cluster *c = arg;

	return cl_push_id(&c->moved, &c->nmoved, &c->capmoved, j->id) != 0 ?
	    ENOMEM : 0;
}

/*
 * The frontier is the truth of what is to fetch: jobs queued here when the
 * node stopped may have gone to another node since.  The first turn
 * cancels them as moved; their messages, redelivered to whoever owns their
 * partition, queue them again here if that is this node.
 */
static int
cl_sweep(struct cluster *c)
{
	MDB_txn *txn;
	int rc = store_txn_read(c->store, &txn);

	if (rc != 0)
		return rc;
	rc = queue_walk(c->queue, txn, 0, JOB_QUEUED, cl_sweep_one, c);
	mdb_txn_abort(txn);
	if (rc == 0 && c->nmoved > 0)
		log_notice("cluster: %zu jobs queued here wait for their "
		    "frontier messages again", c->nmoved);
	return rc;
}

int
cluster_open(struct cluster **out, struct event_base *base,
    const struct config *cfg, const struct cluster_env *env, char *err,
    size_t errlen)
{
	struct cluster *c = calloc(1, sizeof(*c));
	MDB_txn *txn;
	natsStatus st;
	size_t nb = 64;
	int rc;

	*out = NULL;
	if (c == NULL)
		return -1;
	c->cfg = cfg;
	c->queue = env->queue;
	c->sched = env->sched;
	c->uo = env->url_opts;
	c->store = env->store;
	c->docs = env->docs;
	c->lost = env->lost;
	c->lost_arg = env->lost_arg;
	c->parts = cfg->cluster_partitions;
	c->boot = now_ms();
	c->inbox_tail = &c->inbox;
	c->answers_tail = &c->answers;
	c->efd = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	while (nb < (size_t)cfg->cluster_window)
		nb *= 2;
	c->nbuckets = nb;
	c->held = calloc(nb, sizeof(*c->held));
	c->own = calloc(c->parts, sizeof(*c->own));
	c->rev = calloc(c->parts, sizeof(*c->rev));
	c->renewed = calloc(c->parts, sizeof(*c->renewed));
	c->start_after = calloc(c->parts, sizeof(*c->start_after));
	c->pull_after = calloc(c->parts, sizeof(*c->pull_after));
	c->held_part = calloc(c->parts, sizeof(*c->held_part));
	c->empty_ms = calloc(c->parts, sizeof(*c->empty_ms));
	c->taken_at = calloc(c->parts, sizeof(*c->taken_at));
	c->stale = calloc(c->parts, sizeof(*c->stale));
	c->subs = calloc(c->parts, sizeof(*c->subs));
	c->busy = calloc(c->parts, sizeof(*c->busy));
	c->nodes = json_object();
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->inbox_ev = c->efd == -1 ? NULL : event_new(base, c->efd,
	    EV_READ | EV_PERSIST, cl_on_inbox, c);
	if (c->inbox_ev != NULL && event_add(c->inbox_ev, NULL) == -1) {
		event_free(c->inbox_ev);
		c->inbox_ev = NULL;
	}
	c->flush_ev = evtimer_new(base, cl_on_flush, c);
	if (c->held == NULL || c->own == NULL || c->rev == NULL ||
	    c->renewed == NULL || c->start_after == NULL ||
	    c->pull_after == NULL || c->held_part == NULL ||
	    c->empty_ms == NULL || c->taken_at == NULL ||
	    c->stale == NULL || c->subs == NULL ||
	    c->busy == NULL || c->flush_ev == NULL ||
	    c->nodes == NULL || c->inbox_ev == NULL) {
		snprintf(err, errlen, "cluster: out of memory");
		goto fail;
	}
	if (cl_node_name(c, err, errlen) != 0 ||
	    cl_options(c, err, errlen) != 0)
		goto fail;
	c->index = cluster_index_new(cfg->near_threshold,
	    (size_t)cfg->cluster_index_max_entries);
	if (c->index == NULL) {
		snprintf(err, errlen, "cluster: out of memory");
		goto fail;
	}
	if ((rc = store_txn_write(c->store, &txn)) == 0) {
		rc = mdb_dbi_open(txn, "cluster_outbox", MDB_CREATE |
		    MDB_INTEGERKEY, &c->outbox);
		if (rc == 0)
			rc = cl_epoch(c, txn);
		rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
	}
	if (rc != 0) {
		snprintf(err, errlen, "cluster: the outbox: %s",
		    mdb_strerror(rc));
		goto fail;
	}
	if ((rc = cl_sweep(c)) != 0) {
		snprintf(err, errlen, "cluster: the queue: %s",
		    mdb_strerror(rc));
		goto fail;
	}
	st = natsConnection_Connect(&c->nc, c->opts);
	if (st == NATS_OK &&
	    natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED) {
		atomic_store(&c->connected, true);
		rc = cl_setup(c, err, errlen);
		if (rc == -1)
			goto fail;
		if (rc == 0) {
			atomic_store(&c->ready, true);
			log_notice("cluster: node %s joined (%" PRIu32
			    " partitions)", c->node, c->parts);
		} else
			log_warnx("%s; retrying", err);
	} else if (st == NATS_OK || st == NATS_NOT_YET_CONNECTED) {
		log_warnx("cluster: no NATS server answers yet (%s); the node "
		    "fetches nothing until one does", cfg->cluster_nats);
	} else {
		cl_errf(err, errlen, "cluster: connecting", st, 0);
		goto fail;
	}
	if (pthread_create(&c->thread, NULL, cl_main, c) != 0) {
		snprintf(err, errlen, "cluster: cannot start its thread");
		goto fail;
	}
	c->started = true;
	*out = c;
	return 0;
fail:
	cluster_close(c);
	return -1;
}

/*
 * At close, once the thread has ended: the messages it pulled that the
 * loop never took go back at once (the next owner needs no AckWait), and
 * every message is destroyed while the library is up (natsMsg_Destroy()
 * hands it to the library's collector, gone after nats_CloseAndWait()).
 */
static void
cl_inbox_drain(struct cluster *c)
{
	struct cl_ev *list, *next;

	pthread_mutex_lock(&c->mu);
	list = c->inbox;
	c->inbox = NULL;
	c->inbox_tail = &c->inbox;
	pthread_mutex_unlock(&c->mu);
	for (struct cl_ev *ev = list; ev != NULL; ev = next) {
		next = ev->next;
		if (ev->kind == EV_MSG && ev->msg != NULL)
			cl_msg_done(c, ev->msg, ev->part, ev->nurls,
			    CM_WAIT);
		else if (ev->msg != NULL)
			natsMsg_Destroy(ev->msg);
		free(ev);
	}
}

void
cluster_close(struct cluster *c)
{
	if (c == NULL)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
	}
	/* What is held goes back at once: the next owner needs no
	 * AckWait to take it. */
	for (size_t i = 0; i < c->nintake; i++)
		cl_msg_done(c, c->intake[i].msg, c->intake[i].part,
		    c->intake[i].nurls, CM_WAIT);
	c->nintake = 0;
	cl_inbox_drain(c);
	for (uint32_t p = 0; c->own != NULL && p < c->parts; p++)
		cl_release_part(c, p);
	if (c->kv != NULL && atomic_load(&c->connected)) {
		for (uint32_t p = 0; p < c->parts; p++) {
			char key[64];

			if (atomic_load(&c->own[p]) == OWN_NONE)
				continue;
			snprintf(key, sizeof(key), "lease.p%" PRIu32, p);
			(void)kvStore_Delete(c->kv, key);
		}
	}
	if (c->nc != NULL && atomic_load(&c->connected))
		(void)natsConnection_FlushTimeout(c->nc, CL_CONNECT_MS);
	atomic_store(&c->closing, true);
	cluster_fail_forwards(c);
	for (struct op *op = c->answers, *next; op != NULL; op = next) {
		next = op->next;
		op_free(op);
	}
	for (uint32_t p = 0; c->subs != NULL && p < c->parts; p++)
		natsSubscription_Destroy(c->subs[p]);
	natsSubscription_Destroy(c->keys_sub);
	kvStore_Destroy(c->kv);
	jsCtx_Destroy(c->js);
	jsCtx_Destroy(c->kjs);
	if (c->nc != NULL) {
		natsConnection_Close(c->nc);
		natsConnection_Destroy(c->nc);
	}
	natsOptions_Destroy(c->opts);
	/* cnats' threads may still run our callbacks (an acknowledgement,
	 * the disconnection): c lives until they are gone. */
	(void)nats_CloseAndWait(CL_CONNECT_MS);
	/* Only acknowledgements can have come since cl_inbox_drain(), and
	 * they carry no message: natsMsg_Destroy() needs the library. */
	for (struct cl_ev *ev = c->inbox, *next; ev != NULL; ev = next) {
		next = ev->next;
		free(ev);
	}
	cl_out_free(c);
	cl_handoff_free(c);
	free(c->stored);
	free(c->sent);
	free(c->retry);
	free(c->rehand);
	free(c->urls.slot);
	cluster_index_free(c->index);
	if (c->inbox_ev != NULL)
		event_free(c->inbox_ev);
	if (c->flush_ev != NULL)
		event_free(c->flush_ev);
	if (c->efd != -1)
		close(c->efd);
	json_decref(c->nodes);
	free(c->status_json);
	free(c->intake);
	free(c->res);
	free(c->finished);
	free(c->held);
	free(c->own);
	free(c->rev);
	free(c->renewed);
	free(c->start_after);
	free((void *)c->pull_after);
	free((void *)c->held_part);
	free(c->empty_ms);
	free(c->taken_at);
	free(c->stale);
	free(c->moved);
	free(c->subs);
	free(c->busy);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}
