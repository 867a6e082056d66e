/*
 * cluster.c - cluster mode on NATS JetStream (see cluster.h and
 * docs/cluster.md): the connection, the streams, the partition leases,
 * the frontier's messages from the submit to their acknowledgement.
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
#include "cluster_plan.h"
#include "config.h"
#include "doc.h"
#include "log.h"
#include "metrics.h"
#include "op.h"
#include "proto.h"
#include "queue.h"
#include "reply.h"
#include "sched.h"
#include "store.h"
#include "url.h"
#include "util.h"

#define CL_VERSION	"sluice cluster v1"
#define CL_FETCH	"SLUICE_FETCH"
#define CL_KEYS		"SLUICE_KEYS"
#define CL_DOCS		"SLUICE_DOCS"
#define CL_KEYS_BATCH	1024		/* keys messages a pass applies */
#define CL_BUCKET	"sluice_cluster"
#define CL_MAX_ACK_PENDING 10000	/* per partition consumer */
#define CL_PULL_BATCH	128		/* messages per pull request */
#define CL_IDLE_MS	50		/* pull pause when nothing came */
#define CL_PUB_WAIT_MS	10000		/* a publish not stored by then
					   fails the submit */
#define CL_CONNECT_MS	3000		/* first connection attempt */
#define CL_NODE_MAX	64
#define CL_NODES_MAX	1024		/* heartbeats read per tick */
#define CL_RETRY_MS	10000		/* a document not published */
#define CL_LATER_MS	30000		/* redelivery of a message the full
					   store could not take */

/* A partition as this node sees it.  The thread takes, renews and gives
 * leases up; the loop reads the state on every scheduling decision. */
enum cl_own {
	OWN_NONE = 0,
	OWN_OWNED,		/* fetching its hosts */
	OWN_DRAINING,		/* over our share: no new transfer */
	OWN_RELEASABLE,		/* drained and its messages naked */
};

enum cl_ev_kind {
	EV_MSG,			/* a frontier message */
	EV_PUBACK,		/* a forwarded URL stored (or not) */
	EV_LOST,		/* a partition's lease was lost */
	EV_KEYS,		/* a SLUICE_KEYS message, in stream order */
};

struct cl_ev {
	enum cl_ev_kind	 kind;
	natsMsg		*msg;
	uint32_t	 part;
	uint64_t	 seq;
	char		 what;		/* EV_PUBACK: 's'ubmit, 'k'eys, 'd'oc */
	bool		 ok;
	char		 err[128];
	struct cl_ev	*next;
};

/* A frontier message between the inbox and its acknowledgement. */
struct cl_msg {
	natsMsg		*msg;
	uint32_t	 part;
	uint64_t	 job;		/* its job, once applied */
	enum { CM_WAIT, CM_HOLD, CM_ACK, CM_TERM, CM_LATER } verdict;
};

/* The messages of one job, held until its outcome is committed. */
struct cl_held {
	uint64_t	 job;
	uint32_t	 part;
	natsMsg		*msgs[4];	/* the same URL submitted again */
	uint32_t	 n;
	struct cl_held	*next;
};

/*
 * A stored document's way out, in the "cluster_outbox" database (doc id
 * -> state byte + its SLUICE_KEYS body), written in the transaction that
 * stores it: its keys are published; once they come back through
 * SLUICE_KEYS in stream order, the verdict is written into the document
 * and the document published to SLUICE_DOCS; its entry goes once
 * JetStream has stored that.  A crash anywhere replays from the entry.
 */
#define OUT_KEYS	'K'		/* keys to publish */
#define OUT_DOC		'D'		/* verdict recorded, doc to publish */

struct cl_verdict {
	uint64_t	 doc;
	json_t		*v;		/* the document's "cluster" member */
};

/* A submit being forwarded: its URLs' publications, seq first..first+n. */
struct cl_fwd {
	struct op	*op;
	uint64_t	 first, n;
	uint64_t	 acked, failed;
	char		 err[128];
	struct cl_fwd	*next;
};

struct cl_node {
	json_t		*hb;		/* its last heartbeat */
	uint64_t	 seen_ms;
};

struct cluster {
	const struct config *cfg;
	struct queue	*queue;
	struct sched	*sched;
	const struct url_opts *uo;
	char		 node[CL_NODE_MAX + 1];
	uint32_t	 parts;
	uint64_t	 boot;

	natsOptions	*opts;
	natsConnection	*nc;
	jsCtx		*js;
	kvStore		*kv;
	_Atomic bool	 connected;
	_Atomic bool	 ready;		/* streams checked */
	char		 fatal[256];	/* under mu: why the streams were
					   refused */
	_Atomic bool	 refused;	/* fatal is set */

	/* the thread */
	pthread_t	 thread;
	bool		 started;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	bool		 stop;
	struct cl_ev	*inbox, **inbox_tail;
	struct event	*inbox_ev;
	int		 efd;		/* eventfd: the inbox has something */
	_Atomic uint8_t	*own;		/* [parts] enum cl_own */
	uint64_t	*rev;		/* [parts] lease revisions (thread) */
	_Atomic uint64_t *renewed;	/* [parts] last renewal sent, mono ms */
	_Atomic uint64_t *start_after;	/* [parts] taken: no start before */
	natsSubscription **subs;	/* [parts], bound once, kept */
	_Atomic uint64_t held_total;	/* messages in flight to the loop or
					   held by it */
	_Atomic uint64_t lag;		/* pending in the owned consumers */
	uint32_t	 pull_next;
	/* under mu: what the heartbeat says, and the others' heartbeats */
	char		*status_json;
	json_t		*nodes;		/* object: name -> struct cl_node */

	/* the loop's */
	struct cl_msg	*intake;
	size_t		 nintake, capintake;
	uint64_t	*finished;
	size_t		 nfinished, capfinished;
	struct cl_held	**held;
	size_t		 nbuckets;
	uint64_t	 nheld;		/* jobs with messages held */
	_Atomic uint32_t *busy;		/* [parts] transfers in flight */
	uint64_t	 last_wpi;	/* mono ms of the last "in progress" */
	uint64_t	 pub_seq;
	struct cl_fwd	*fwds;
	struct op	*answers, **answers_tail;

	/* the documents' way out (OUT_*) */
	struct store	*store;
	struct docs	*docs;
	MDB_dbi		 outbox;
	struct cluster_index *index;
	natsSubscription *keys_sub;	/* the thread's, ordered */
	uint64_t	*stored;	/* this turn: keys to publish */
	size_t		 nstored, capstored;
	struct cl_verdict *verdicts;	/* for the next turn to record */
	size_t		 nverdicts, capverdicts, applied_verdicts;
	uint64_t	*sent;		/* docs JetStream stored: entries to
					   delete in the next turn */
	size_t		 nsent, capsent, applied_sent;
	bool		 replayed;	/* the outbox was published again
					   after the start */
	uint64_t	 keys_applied;	/* SLUICE_KEYS messages applied */
	uint64_t	*retry;		/* doc ids to publish again, with
					   CL_RETRY_DOC for the line */
	size_t		 nretry, capretry;
	uint64_t	 last_retry;	/* mono ms */
	uint64_t	*adopted;	/* cl_adopted() */
	size_t		 nadopted, capadopted;
	bool		 adopted_full;
};

#define CL_RETRY_DOC	((uint64_t)1 << 63)

/* Appends v to a growing array of uint64_t; -1 when memory is short. */
static int
cl_push_id(uint64_t **arr, size_t *n, size_t *cap, uint64_t v)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		uint64_t *a = realloc(*arr, ncap * sizeof(*a));

		if (a == NULL)
			return -1;
		*arr = a;
		*cap = ncap;
	}
	(*arr)[(*n)++] = v;
	return 0;
}

/* --- small helpers --------------------------------------------------- */

static void
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

static uint32_t
cl_part(const struct cluster *c, uint64_t host)
{
	return (uint32_t)(host % c->parts);
}

/* Hands ev to the loop (any thread): the eventfd wakes it when the inbox
 * was empty; it takes everything there at once. */
static void
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
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
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

/* --- connection ------------------------------------------------------ */

static void
cl_on_disconnected(natsConnection *nc, void *arg)
{
	struct cluster *c = arg;

	(void)nc;
	if (atomic_exchange(&c->connected, false))
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
	if (ev == NULL)
		return;		/* the submit times out instead */
	ev->kind = EV_PUBACK;
	/* "s:<boot>:<seq>:<node>", "k:<doc>:<node>" or "d:<doc>:<node>" */
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK &&
	    id != NULL && id[0] != '\0' && id[1] == ':') {
		ev->what = id[0];
		dash = id + 2;
		if (ev->what == 's' && (dash = strchr(dash, ':')) != NULL)
			dash++;
		if (dash != NULL)
			ev->seq = strtoull(dash, NULL, 10);
	}
	ev->ok = pa != NULL && pae == NULL;
	if (!ev->ok)
		snprintf(ev->err, sizeof(ev->err), "%s", pae != NULL &&
		    pae->ErrText != NULL ? pae->ErrText : "not stored");
	cl_post(c, ev);
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
 * of that name was made otherwise. */
static int
cl_stream(struct cluster *c, jsStreamConfig *sc, char *err, size_t errlen)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetStreamInfo(&si, c->js, sc->Name, NULL, &jerr);
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
	const char *fetch_subj[] = { "sluice.fetch.>" };
	const char *keys_subj[] = { "sluice.keys.>" };
	const char *docs_subj[] = { "sluice.docs.>" };
	char desc[128];
	jsStreamConfig sc;
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
	snprintf(desc, sizeof(desc), "%s; partitions=%" PRIu32, CL_VERSION,
	    c->parts);
	jsStreamConfig_Init(&sc);
	sc.Name = CL_FETCH;
	sc.Description = desc;
	sc.Subjects = fetch_subj;
	sc.SubjectsLen = 1;
	sc.Retention = js_WorkQueuePolicy;
	sc.Storage = js_FileStorage;
	sc.Replicas = c->cfg->cluster_replicas;
	if ((rc = cl_stream(c, &sc, err, errlen)) != 0)
		return rc;
	jsStreamConfig_Init(&sc);
	sc.Name = CL_KEYS;
	sc.Description = CL_VERSION;
	sc.Subjects = keys_subj;
	sc.SubjectsLen = 1;
	sc.Retention = js_LimitsPolicy;
	sc.Storage = js_FileStorage;
	sc.Replicas = c->cfg->cluster_replicas;
	/* 0: no limit.  A limit drops the oldest keys, and a node that
	 * starts after that builds another index (docs/cluster.md). */
	sc.MaxBytes = c->cfg->cluster_keys_max_bytes > 0 ?
	    (int64_t)c->cfg->cluster_keys_max_bytes : -1;
	if ((rc = cl_stream(c, &sc, err, errlen)) != 0)
		return rc;
	jsStreamConfig_Init(&sc);
	sc.Name = CL_DOCS;
	sc.Description = CL_VERSION;
	sc.Subjects = docs_subj;
	sc.SubjectsLen = 1;
	sc.Retention = js_LimitsPolicy;
	sc.Storage = js_FileStorage;
	sc.Replicas = c->cfg->cluster_replicas;
	sc.MaxBytes = (int64_t)c->cfg->cluster_docs_max_bytes;
	sc.MaxAge = (int64_t)c->cfg->cluster_docs_max_age_ms * 1000000;
	if ((rc = cl_stream(c, &sc, err, errlen)) != 0)
		return rc;
	for (uint32_t p = 0; p < c->parts; p++)
		if ((rc = cl_consumer(c, p, err, errlen)) != 0)
			return rc;
	if (c->kv == NULL) {
		kvConfig_Init(&kc);
		kc.Bucket = CL_BUCKET;
		kc.Description = CL_VERSION;
		kc.History = 1;
		kc.TTL = (int64_t)c->cfg->cluster_lease_ttl_ms * 1000000;
		kc.Replicas = (int)c->cfg->cluster_replicas;
		kc.StorageType = js_FileStorage;
		s = js_KeyValue(&c->kv, c->js, CL_BUCKET);
		if (s == NATS_NOT_FOUND)
			s = js_CreateKeyValue(&c->kv, c->js, &kc);
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
	char name[16], filter[64];
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	if (c->subs[p] != NULL)
		return 0;
	snprintf(name, sizeof(name), "p%" PRIu32, p);
	snprintf(filter, sizeof(filter), "sluice.fetch.p%" PRIu32 ".>", p);
	jsSubOptions_Init(&so);
	so.Stream = CL_FETCH;
	so.Consumer = name;
	s = js_PullSubscribe(&c->subs[p], c->js, filter, name, NULL, &so,
	    &jerr);
	if (s != NATS_OK) {
		char err[256];

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
	kvKeysList keys = { 0 };
	json_t *nodes = json_object();
	natsStatus s = kvStore_Keys(&keys, c->kv, NULL);

	*live = NULL;
	*nlive = 0;
	if (nodes == NULL || (s != NATS_OK && s != NATS_NOT_FOUND)) {
		json_decref(nodes);
		kvKeysList_Destroy(&keys);
		return -1;
	}
	*live = calloc((size_t)keys.Count + 1, sizeof(**live));
	for (int i = 0; *live != NULL && i < keys.Count &&
	    i < CL_NODES_MAX + (int)c->parts; i++) {
		const char *k = keys.Keys[i];
		kvEntry *e = NULL;

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
	kvKeysList_Destroy(&keys);
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
	struct cluster_view v;
	char **live = NULL, key[80];
	size_t nlive = 0, n;

	if (parts == NULL || acts == NULL ||
	    cl_read_bucket(c, parts, &live, &nlive) != 0)
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
			c->rev[p] = rev;
			atomic_store(&c->renewed[p], sent);
			/* The last owner's last request may be that recent. */
			atomic_store(&c->start_after[p], sent +
			    c->cfg->host_delay_ms);
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

/* Pulls from the owned partitions while the window has room.  Returns
 * the messages taken. */
static size_t
cl_pull(struct cluster *c)
{
	size_t got = 0;

	for (uint32_t i = 0; i < c->parts; i++) {
		uint32_t p = (c->pull_next + i) % c->parts;
		uint64_t held = atomic_load(&c->held_total);
		jsFetchRequest fr;
		natsMsgList list = { 0 };

		if (held >= c->cfg->cluster_window)
			break;
		if (atomic_load(&c->own[p]) != OWN_OWNED || c->subs[p] == NULL)
			continue;
		jsFetchRequest_Init(&fr);
		fr.Batch = (int)(c->cfg->cluster_window - held);
		if (fr.Batch > CL_PULL_BATCH)
			fr.Batch = CL_PULL_BATCH;
		fr.NoWait = true;
		if (natsSubscription_FetchRequest(&list, c->subs[p], &fr) !=
		    NATS_OK)
			continue;
		for (int m = 0; m < list.Count; m++) {
			struct cl_ev *ev = calloc(1, sizeof(*ev));

			if (ev == NULL)
				continue;	/* redelivered after AckWait */
			ev->kind = EV_MSG;
			ev->msg = list.Msgs[m];
			ev->part = p;
			list.Msgs[m] = NULL;
			atomic_fetch_add(&c->held_total, 1);
			cl_post(c, ev);
			got++;
		}
		natsMsgList_Destroy(&list);
	}
	c->pull_next = (c->pull_next + 1) % c->parts;
	return got;
}

/* Passes SLUICE_KEYS on to the loop, in stream order, from the first
 * message at every start: the index is in memory (cluster_index.h). */
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
		struct cl_ev *ev;
		natsMsg *m = NULL;

		if (natsSubscription_NextMsg(&m, c->keys_sub, 0) != NATS_OK)
			break;
		if ((ev = calloc(1, sizeof(*ev))) == NULL) {
			natsMsg_Destroy(m);
			break;
		}
		ev->kind = EV_KEYS;
		ev->msg = m;
		cl_post(c, ev);
		got++;
	}
	return got;
}

static void *
cl_main(void *arg)
{
	struct cluster *c = arg;
	uint64_t next_tick = 0, period = c->cfg->cluster_lease_ttl_ms / 3;
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
			if (next_tick == 0)
				cl_heartbeat(c);
			cl_tick(c);
			cl_measure_lag(c);
			cl_heartbeat(c);
			next_tick = mono_ms() + period;
		}
		if (cl_pull(c) + cl_keys_take(c) == 0)
			cl_sleep(c, CL_IDLE_MS);
	}
	return NULL;
}

/* --- the loop: held messages ------------------------------------------ */

static struct cl_held **
cl_held_slot(struct cluster *c, uint64_t job)
{
	struct cl_held **hp = &c->held[XXH3_64bits(&job, sizeof(job)) &
	    (c->nbuckets - 1)];

	while (*hp != NULL && (*hp)->job != job)
		hp = &(*hp)->next;
	return hp;
}

static void
cl_msg_done(struct cluster *c, natsMsg *m, int how)
{
	if (atomic_load(&c->connected)) {
		if (how == CM_ACK)
			(void)natsMsg_Ack(m, NULL);
		else if (how == CM_TERM)
			(void)natsMsg_Term(m, NULL);
		else if (how == CM_LATER)
			(void)natsMsg_NakWithDelay(m, CL_LATER_MS, NULL);
		else
			(void)natsMsg_Nak(m, NULL);
	}
	natsMsg_Destroy(m);
	atomic_fetch_sub(&c->held_total, 1);
}

static void
cl_hold(struct cluster *c, struct cl_msg *cm)
{
	struct cl_held **hp = cl_held_slot(c, cm->job), *h = *hp;

	if (h == NULL) {
		if ((h = calloc(1, sizeof(*h))) == NULL) {
			/* Nak: redelivered, and held next time. */
			cl_msg_done(c, cm->msg, CM_WAIT);
			return;
		}
		h->job = cm->job;
		h->part = cm->part;
		*hp = h;
		c->nheld++;
	}
	if (h->n == sizeof(h->msgs) / sizeof(h->msgs[0])) {
		/* A URL submitted over and over: one message per job is
		 * enough to refetch it, the rest are answered now. */
		cl_msg_done(c, cm->msg, CM_ACK);
		return;
	}
	h->msgs[h->n++] = cm->msg;
}

static void
cl_release(struct cluster *c, uint64_t job, int how)
{
	struct cl_held **hp = cl_held_slot(c, job), *h = *hp;

	if (h == NULL)
		return;
	*hp = h->next;
	for (uint32_t i = 0; i < h->n; i++)
		cl_msg_done(c, h->msgs[i], how);
	free(h);
	c->nheld--;
}

/* Naks every held message of partition p: the next owner takes them. */
static void
cl_release_part(struct cluster *c, uint32_t p)
{
	for (size_t b = 0; b < c->nbuckets; b++) {
		struct cl_held **hp = &c->held[b];

		while (*hp != NULL) {
			struct cl_held *h = *hp;

			if (h->part != p) {
				hp = &h->next;
				continue;
			}
			*hp = h->next;
			for (uint32_t i = 0; i < h->n; i++)
				cl_msg_done(c, h->msgs[i], CM_WAIT);
			free(h);
			c->nheld--;
		}
	}
}

/* --- the loop: documents out ----------------------------------------- */

static int
cl_publish(struct cluster *c, char what, uint64_t doc, const char *stream,
    const char *data, size_t len)
{
	char subj[CL_NODE_MAX + 32], id[CL_NODE_MAX + 32];
	natsMsg *m = NULL;
	jsPubOptions po;
	natsStatus s;

	snprintf(subj, sizeof(subj), "sluice.%s.%s", stream, c->node);
	snprintf(id, sizeof(id), "%c:%" PRIu64 ":%s", what, doc, c->node);
	s = natsMsg_Create(&m, subj, NULL, data, (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
	jsPubOptions_Init(&po);
	po.MaxWait = CL_PUB_WAIT_MS;
	if (s == NATS_OK)
		s = js_PublishMsgAsync(c->js, &m, &po);
	natsMsg_Destroy(m);
	return s == NATS_OK ? 0 : -1;
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
		line = json_dumps(o, JSON_COMPACT);
		/* Past the servers' max_payload (1 MiB by default) the line
		 * goes without its text, which the node's store keeps. */
		if (line != NULL && (int64_t)strlen(line) + 512 >
		    natsConnection_GetMaxPayload(c->nc)) {
			free(line);
			json_object_set_new(o, "text", json_null());
			json_object_set_new(o, "text_omitted", json_string(
			    "over the NATS servers' max_payload: export it "
			    "from its node"));
			line = json_dumps(o, JSON_COMPACT);
		}
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
static void
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
static void
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
			    k.doc_id, j };
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
static int
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
		json = json_dumps(o, JSON_COMPACT);
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
static void
cl_out_commit(struct cluster *c)
{
	MDB_txn *txn;

	if ((c->nstored > 0 || c->applied_verdicts > 0) &&
	    store_txn_read(c->store, &txn) == 0) {
		for (size_t i = 0; i < c->nstored; i++)
			cl_out_publish(c, txn, 'k', c->stored[i]);
		for (size_t i = 0; i < c->applied_verdicts; i++)
			cl_out_publish(c, txn, 'd', c->verdicts[i].doc);
		mdb_txn_abort(txn);
	}
	c->nstored = 0;
	for (size_t i = 0; i < c->applied_verdicts; i++)
		json_decref(c->verdicts[i].v);
	memmove(c->verdicts, c->verdicts + c->applied_verdicts,
	    (c->nverdicts - c->applied_verdicts) * sizeof(*c->verdicts));
	c->nverdicts -= c->applied_verdicts;
	c->applied_verdicts = 0;
	memmove(c->sent, c->sent + c->applied_sent,
	    (c->nsent - c->applied_sent) * sizeof(*c->sent));
	c->nsent -= c->applied_sent;
	c->applied_sent = 0;
}

/* Once JetStream is there after the start, and every 10 s after a
 * failure: what the outbox holds (or failed) is published again. */
static void
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

/* --- the loop: the inbox ------------------------------------------- */

static struct cl_fwd *
cl_fwd_find(struct cluster *c, uint64_t seq)
{
	for (struct cl_fwd *f = c->fwds; f != NULL; f = f->next)
		if (seq >= f->first && seq < f->first + f->n)
			return f;
	return NULL;
}

static void
cl_fwd_finish(struct cluster *c, struct cl_fwd *f)
{
	struct cl_fwd **fp = &c->fwds;

	while (*fp != f)
		fp = &(*fp)->next;
	*fp = f->next;
	if (f->failed > 0) {
		f->op->err = PROTO_CLUSTER_UNAVAILABLE;
		snprintf(f->op->errmsg, sizeof(f->op->errmsg), "%" PRIu64
		    " of %" PRIu64 " URLs were not stored by the cluster "
		    "(%.60s); resubmitting is safe", f->failed, f->n, f->err);
	}
	f->op->next = NULL;
	*c->answers_tail = f->op;
	c->answers_tail = &f->op->next;
	free(f);
}

static bool
cl_intake_room(struct cluster *c)
{
	if (c->nintake < c->capintake)
		return true;
	size_t cap = c->capintake ? c->capintake * 2 : 256;
	struct cl_msg *n = realloc(c->intake, cap * sizeof(*n));

	if (n == NULL)
		return false;
	c->intake = n;
	c->capintake = cap;
	return true;
}

static void
cl_on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct cluster *c = arg;
	struct cl_ev *list, *ev, *next;

	uint64_t n;

	(void)what;
	(void)read(fd, &n, sizeof(n));
	pthread_mutex_lock(&c->mu);
	list = c->inbox;
	c->inbox = NULL;
	c->inbox_tail = &c->inbox;
	pthread_mutex_unlock(&c->mu);
	for (ev = list; ev != NULL; ev = next) {
		struct cl_fwd *f;

		next = ev->next;
		switch (ev->kind) {
		case EV_MSG:
			if (!cl_intake_room(c)) {
				cl_msg_done(c, ev->msg, CM_WAIT);
				break;
			}
			c->intake[c->nintake++] = (struct cl_msg){
			    .msg = ev->msg, .part = ev->part };
			break;
		case EV_PUBACK:
			if (ev->what != 's') {
				cl_out_acked(c, ev->what, ev->seq, ev->ok,
				    ev->err);
				break;
			}
			if ((f = cl_fwd_find(c, ev->seq)) == NULL)
				break;
			if (ev->ok)
				f->acked++;
			else {
				f->failed++;
				snprintf(f->err, sizeof(f->err), "%s",
				    ev->err);
			}
			if (f->acked + f->failed == f->n)
				cl_fwd_finish(c, f);
			break;
		case EV_LOST:
			cl_release_part(c, ev->part);
			break;
		case EV_KEYS:
			cl_keys_apply(c, ev->msg);
			natsMsg_Destroy(ev->msg);
			ev->msg = NULL;
			break;
		}
		free(ev);
	}
}

/* --- the loop: the public side ------------------------------------- */

#define CL_ADOPTED_MAX	65536		/* redirect targets remembered */

/* The hosts of other partitions this node fetches: redirect targets of
 * its own jobs (a set, open addressing; 0 marks a free slot). */
static bool
cl_adopted(const struct cluster *c, uint64_t host)
{
	if (c->nadopted == 0)
		return false;
	for (size_t i = host & (c->capadopted - 1);; i = (i + 1) &
	    (c->capadopted - 1)) {
		if (c->adopted[i] == host)
			return true;
		if (c->adopted[i] == 0)
			return false;
	}
}

void
cluster_redirected(void *arg, uint64_t host)
{
	struct cluster *c = arg;

	/* Its own partitions' too: the job stays this node's whoever owns
	 * the target's partition later. */
	if (cl_adopted(c, host))
		return;
	if ((c->nadopted + 1) * 2 > c->capadopted) {
		size_t cap = c->capadopted ? c->capadopted * 2 : 64;
		uint64_t *old = c->adopted, *n;

		if (cap > 2 * CL_ADOPTED_MAX ||
		    (n = calloc(cap, sizeof(*n))) == NULL) {
			if (!c->adopted_full)
				log_warnx("cluster: %d redirect targets in "
				    "other partitions; jobs redirected to more "
				    "wait for their partition",
				    CL_ADOPTED_MAX);
			c->adopted_full = true;
			return;
		}
		c->adopted = n;
		c->nadopted = 0;
		for (size_t i = 0; i < c->capadopted; i++)
			if (old[i] != 0) {
				size_t j = old[i] & (cap - 1);

				while (n[j] != 0)
					j = (j + 1) & (cap - 1);
				n[j] = old[i];
				c->nadopted++;
			}
		c->capadopted = cap;
		free(old);
	}
	for (size_t i = host & (c->capadopted - 1);; i = (i + 1) &
	    (c->capadopted - 1))
		if (c->adopted[i] == 0) {
			c->adopted[i] = host;
			c->nadopted++;
			return;
		}
}

/* Partition p is this node's to fetch now: owned, its lease fresh by
 * this node's clock. */
static bool
cl_usable(struct cluster *c, uint32_t p, uint64_t mono)
{
	return atomic_load(&c->own[p]) == OWN_OWNED &&
	    mono < atomic_load(&c->renewed[p]) +
	    c->cfg->cluster_lease_ttl_ms * 2 / 3;
}

bool
cluster_allows(uint64_t host, void *arg)
{
	struct cluster *c = arg;

	uint32_t p = cl_part(c, host);
	uint64_t mono;

	if (!atomic_load(&c->connected))
		return false;
	if (cl_adopted(c, host))
		return true;
	/*
	 * By this node's own clock, too: a lease not renewed for two thirds
	 * of its TTL may be about to pass to another node, whatever the
	 * thread has heard (a cut network is noticed late: NATS pings), and
	 * a partition just taken waits fetch.host_delay, the spacing its
	 * last owner kept.
	 */
	mono = mono_ms();
	return cl_usable(c, p, mono) &&
	    mono >= atomic_load(&c->start_after[p]);
}

/* Why submissions are refused: the streams (refused for good), or NATS. */
static void
cl_why_unavailable(struct cluster *c, char *buf, size_t len)
{
	pthread_mutex_lock(&c->mu);
	snprintf(buf, len, "%.150s", c->fatal[0] != '\0' ? c->fatal :
	    "NATS is unreachable: nothing was submitted");
	pthread_mutex_unlock(&c->mu);
}

void
cluster_forward(struct cluster *c, struct op *op)
{
	struct cl_fwd *f = calloc(1, sizeof(*f));
	uint64_t published = 0;

	if (f == NULL || !atomic_load(&c->ready) ||
	    !atomic_load(&c->connected)) {
		free(f);
		op->err = PROTO_CLUSTER_UNAVAILABLE;
		cl_why_unavailable(c, op->errmsg, sizeof(op->errmsg));
		op->next = NULL;
		*c->answers_tail = op;
		c->answers_tail = &op->next;
		return;
	}
	f->op = op;
	op->sub.cluster = true;
	f->first = c->pub_seq + 1;
	for (size_t i = 0; i < op->nurls; i++)
		if (op->urls[i].url != NULL)
			f->n++;
	c->pub_seq += f->n;
	f->next = c->fwds;
	c->fwds = f;
	for (size_t i = 0; i < op->nurls; i++) {
		struct op_url *u = &op->urls[i];
		char subj[64], id[CL_NODE_MAX + 48];
		natsMsg *m = NULL;
		jsPubOptions po;
		json_t *body;
		char *text;
		natsStatus s;

		if (u->url == NULL) {
			(void)submit_reply_add(&op->sub, u->given, NULL,
			    u->status, NULL);
			continue;
		}
		(void)submit_reply_add_forwarded(&op->sub, u->url,
		    cl_part(c, u->host));
		snprintf(subj, sizeof(subj), "sluice.fetch.p%" PRIu32
		    ".%016" PRIx64, cl_part(c, u->host), u->host);
		snprintf(id, sizeof(id), "s:%" PRIu64 ":%" PRIu64 ":%s",
		    c->boot, f->first + published, c->node);
		published++;
		body = json_pack("{s:s, s:i, s:I, s:b, s:s}", "url", u->url,
		    "priority", (int)op->priority, "not_before",
		    (json_int_t)op->not_before_ms, "force", op->force, "from",
		    c->node);
		text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		s = text ? natsMsg_Create(&m, subj, NULL, text,
		    (int)strlen(text)) : NATS_NO_MEMORY;
		free(text);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
		jsPubOptions_Init(&po);
		po.MaxWait = CL_PUB_WAIT_MS;
		if (s == NATS_OK)
			s = js_PublishMsgAsync(c->js, &m, &po);
		natsMsg_Destroy(m);	/* NULL once the library took it */
		if (s != NATS_OK) {
			f->failed++;
			snprintf(f->err, sizeof(f->err), "%s",
			    natsStatus_GetText(s));
		}
	}
	if (f->n == 0 || f->acked + f->failed == f->n)
		cl_fwd_finish(c, f);
}

void
cluster_fail_forwards(struct cluster *c)
{
	if (c == NULL)
		return;
	while (c->fwds != NULL) {
		c->fwds->failed = c->fwds->n - c->fwds->acked;
		snprintf(c->fwds->err, sizeof(c->fwds->err), "sluiced is "
		    "stopping");
		cl_fwd_finish(c, c->fwds);
	}
}

struct op *
cluster_take_answers(struct cluster *c)
{
	struct op *list;

	if (c == NULL)
		return NULL;
	list = c->answers;
	c->answers = NULL;
	c->answers_tail = &c->answers;
	return list;
}

bool
cluster_pending(const struct cluster *c)
{
	return c != NULL && (c->nintake > 0 || c->nverdicts > 0 ||
	    c->nsent > 0);
}

/* One frontier message becomes a job, or finds its job. */
static int
cl_apply_one(struct cluster *c, MDB_txn *txn, struct cl_msg *cm,
    uint64_t now)
{
	const char *data = natsMsg_GetData(cm->msg);
	json_t *o = json_loadb(data ? data : "", (size_t)natsMsg_GetDataLength(
	    cm->msg), 0, NULL);
	const char *url = json_string_value(json_object_get(o, "url"));
	char *canon = NULL, *origin = NULL;
	struct submit_result r = { 0 };
	uint64_t host = 0;
	int rc = 0;

	if (c->store->full) {
		cm->verdict = CM_LATER;	/* back to JetStream for a while */
		goto out;
	}
	if (url != NULL && url_canonicalize(url, c->uo, &canon) == URL_OK)
		host = url_host_key(canon, &origin);
	if (host == 0 || cl_part(c, host) != cm->part) {
		log_warnx("cluster: dropping a frontier message that is not "
		    "a URL of partition %" PRIu32, cm->part);
		cm->verdict = CM_TERM;
		goto out;
	}
	rc = queue_submit(c->queue, txn, canon, host, origin,
	    (int32_t)json_integer_value(json_object_get(o, "priority")),
	    (uint64_t)json_integer_value(json_object_get(o, "not_before")),
	    json_is_true(json_object_get(o, "force")), now, &r);
	if (rc != 0)
		goto out;
	if (r.status == SUBMIT_REQUEUED)
		sched_ready(c->sched, host, 0);
	cm->job = r.id;
	cm->verdict = r.status == SUBMIT_DUPLICATE && (r.state == JOB_DONE ||
	    r.state == JOB_FAILED || r.state == JOB_CANCELLED) ? CM_ACK :
	    CM_HOLD;
out:
	free(canon);
	free(origin);
	json_decref(o);
	return rc;
}

int
cluster_apply(void *arg, MDB_txn *txn, uint64_t now)
{
	struct cluster *c = arg;
	int rc = 0;

	if (c == NULL)
		return 0;
	for (size_t i = 0; i < c->nintake && rc == 0; i++)
		rc = cl_apply_one(c, txn, &c->intake[i], now);
	if (rc == 0)
		rc = cl_out_apply(c, txn);
	return rc;
}

void
cluster_abort(void *arg)
{
	struct cluster *c = arg;

	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nintake; i++)
		c->intake[i].verdict = CM_WAIT;
	c->nfinished = 0;
	c->nstored = 0;
	c->applied_verdicts = c->applied_sent = 0;
}

void
cluster_job_finished(uint64_t id, void *arg)
{
	struct cluster *c = arg;

	if (c->nfinished == c->capfinished) {
		size_t cap = c->capfinished ? c->capfinished * 2 : 256;
		uint64_t *n = realloc(c->finished, cap * sizeof(*n));

		if (n == NULL)
			return;	/* held until redelivered, then acked */
		c->finished = n;
		c->capfinished = cap;
	}
	c->finished[c->nfinished++] = id;
}

void
cluster_commit(struct cluster *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nintake; i++) {
		struct cl_msg *cm = &c->intake[i];

		if (cm->verdict == CM_HOLD)
			cl_hold(c, cm);
		else
			cl_msg_done(c, cm->msg, cm->verdict);
	}
	c->nintake = 0;
	for (size_t i = 0; i < c->nfinished; i++)
		cl_release(c, c->finished[i], CM_ACK);
	c->nfinished = 0;
	cl_out_commit(c);
}

static void
cl_count_busy(struct sched_host *h, void *arg)
{
	struct cluster *c = arg;

	atomic_fetch_add(&c->busy[cl_part(c, h->key)], h->inflight +
	    h->planned);
}

void
cluster_cron(struct cluster *c, json_t *status)
{
	uint64_t mono = mono_ms();
	char *text = status ? json_dumps(status, JSON_COMPACT) : NULL;

	if (c == NULL) {
		free(text);
		return;
	}
	pthread_mutex_lock(&c->mu);
	free(c->status_json);
	c->status_json = text;
	pthread_mutex_unlock(&c->mu);

	/* A partition over our share is given up once its transfers are
	 * over: until then its host may not see a second node. */
	for (uint32_t p = 0; p < c->parts; p++)
		atomic_store(&c->busy[p], 0);
	sched_walk(c->sched, cl_count_busy, c);
	for (uint32_t p = 0; p < c->parts; p++)
		if (atomic_load(&c->own[p]) == OWN_DRAINING &&
		    atomic_load(&c->busy[p]) == 0) {
			cl_release_part(c, p);
			atomic_store(&c->own[p], OWN_RELEASABLE);
		}

	if (!c->replayed || (c->nretry > 0 && mono - c->last_retry >=
	    CL_RETRY_MS)) {
		c->last_retry = mono;
		cl_out_retry(c);
	}

	/* Held messages stay ours while their jobs wait. */
	if (atomic_load(&c->connected) &&
	    mono - c->last_wpi >= c->cfg->cluster_ack_wait_ms / 3) {
		c->last_wpi = mono;
		for (size_t b = 0; b < c->nbuckets; b++)
			for (struct cl_held *h = c->held[b]; h; h = h->next)
				for (uint32_t i = 0; i < h->n; i++)
					(void)natsMsg_InProgress(h->msgs[i],
					    NULL);
	}
}

void
cluster_gauges(struct cluster *c, struct metrics_gauges *g)
{
	uint64_t mono = mono_ms();

	g->cluster = true;
	g->cluster_connected = atomic_load(&c->connected);
	g->cluster_held = atomic_load(&c->held_total);
	g->cluster_pending = atomic_load(&c->lag);
	g->cluster_keys_applied = c->keys_applied;
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
	    "s:s, s:s}", "node", c->node, "connected",
	    atomic_load(&c->connected), "ready", atomic_load(&c->ready),
	    "partitions", parts, "owned", (json_int_t)json_array_size(parts),
	    "held", (json_int_t)atomic_load(&c->held_total),
	    "lag", (json_int_t)atomic_load(&c->lag),
	    "jobs_held", (json_int_t)c->nheld, "keys_applied",
	    (json_int_t)c->keys_applied, "index_entries",
	    (json_int_t)cluster_index_entries(c->index), "nats_url", url,
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
	snprintf(c->node, sizeof(c->node), "%s", n);
	return 0;
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
	if (c->held == NULL || c->own == NULL || c->rev == NULL ||
	    c->renewed == NULL || c->start_after == NULL || c->subs == NULL ||
	    c->busy == NULL ||
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
		rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
	}
	if (rc != 0) {
		snprintf(err, errlen, "cluster: the outbox: %s",
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
		cl_msg_done(c, c->intake[i].msg, CM_WAIT);
	c->nintake = 0;
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
	for (struct cl_ev *ev = c->inbox, *next; ev != NULL; ev = next) {
		next = ev->next;
		if (ev->msg != NULL)
			natsMsg_Destroy(ev->msg);
		free(ev);
	}
	cluster_fail_forwards(c);
	for (struct op *op = c->answers, *next; op != NULL; op = next) {
		next = op->next;
		op_free(op);
	}
	for (uint32_t p = 0; c->subs != NULL && p < c->parts; p++)
		natsSubscription_Destroy(c->subs[p]);
	natsSubscription_Destroy(c->keys_sub);
	for (size_t i = 0; i < c->nverdicts; i++)
		json_decref(c->verdicts[i].v);
	free(c->verdicts);
	free(c->stored);
	free(c->sent);
	free(c->retry);
	free(c->adopted);
	cluster_index_free(c->index);
	kvStore_Destroy(c->kv);
	jsCtx_Destroy(c->js);
	if (c->nc != NULL) {
		natsConnection_Close(c->nc);
		natsConnection_Destroy(c->nc);
	}
	natsOptions_Destroy(c->opts);
	if (c->inbox_ev != NULL)
		event_free(c->inbox_ev);
	if (c->efd != -1)
		close(c->efd);
	json_decref(c->nodes);
	free(c->status_json);
	free(c->intake);
	free(c->finished);
	free(c->held);
	free(c->own);
	free(c->rev);
	free(c->renewed);
	free(c->start_after);
	free(c->subs);
	free(c->busy);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
	nats_Close();
}
