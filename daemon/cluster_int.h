/*
 * cluster_int.h - what the files of cluster mode share (cluster.h is the
 * daemon's view of it; docs/cluster.md the design):
 *   cluster.c           the connection, the streams, the thread that
 *                       leases partitions and pulls their messages, status;
 *   cluster_frontier.c  the loop's side of the frontier: submits forwarded,
 *                       messages turned into jobs, held, acknowledged;
 *   cluster_docs.c      stored documents out: their keys, the cluster's
 *                       verdict, SLUICE_DOCS, and reading it back.
 * Only those three include it.
 */
#ifndef SLUICE_CLUSTER_INT_H
#define SLUICE_CLUSTER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/util.h>
#include <jansson.h>
#include <lmdb.h>
#include <nats/nats.h>

#include "cluster_plan.h"

struct cluster_index;
struct docs;
struct event;
struct sched_host;
struct store;

#define CL_VERSION	"sluice cluster v1"
/* SLUICE_FETCH's: v2 messages may carry several URLs ("urls").  A v1
 * stream is read as it is and described v2 from then on. */
#define CL_FETCH_VERSION "sluice cluster v2"
#define CL_FRONTIER	2		/* the heartbeat's "frontier" */
#define CL_FETCH	"SLUICE_FETCH"
#define CL_KEYS		"SLUICE_KEYS"
#define CL_DOCS		"SLUICE_DOCS"
#define CL_KEYS_BATCH	1024		/* keys messages a pass applies */
#define CL_BUCKET	"sluice_cluster"
#define CL_MAX_ACK_PENDING 10000	/* per partition consumer */
#define CL_PULL_BATCH	128		/* messages per pull request */
#define CL_MSG_URLS	32		/* URLs in one frontier message */
#define CL_MSG_URLS_MAX	1024		/* and in one this node reads */
#define CL_URLS_HEADER	"Sluice-Urls"	/* their count, if more than one */
#define CL_MSG_BYTES	65536		/* and their bytes, at most (a longer
					   URL goes alone) */
#define CL_IDLE_MS	50		/* pull pause when nothing came */
#define CL_EMPTY_MS	200		/* an empty partition's next pull, */
#define CL_EMPTY_MAX_MS	1600		/* doubled while it stays empty, up to
					   this, unless a submit lands in it or
					   it was taken within ack_wait (the
					   last owner's messages come back) */
#define CL_AUDIT_MS	10000		/* cl_audit() */
#define CL_PUB_WAIT_MS	10000		/* a publish not stored by then
					   fails the submit */
#define CL_CONNECT_MS	3000		/* first connection attempt */
#define CL_NODE_MAX	64
#define CL_NODES_MAX	1024		/* heartbeats read per tick */
#define CL_RETRY_MS	10000		/* a document not published */
#define CL_LATER_MS	30000		/* redelivery of a message the full
					   store could not take */
#define CL_FLUSH_MS	100		/* keys and lines gathered this long
					   into one message */
#define CL_FLUSH_MAX	1024		/* or this many */

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
	uint64_t	 pulled;	/* EV_MSG: mono ms */
	uint32_t	 nurls;		/* EV_MSG: its Sluice-Urls header */
	uint64_t	 seq;
	uint64_t	 last;		/* EV_PUBACK 'k': the batch's last doc */
	char		 what;		/* EV_PUBACK: 's'ubmit, 'k'eys, 'd'oc,
					   'D': a message of documents */
	bool		 ok;
	char		 err[128];
	struct cl_ev	*next;
};

/* A set of 64-bit keys (cluster_frontier.c). */
struct cl_set {
	uint64_t	*slot;
	size_t		 n, cap;
};

/*
 * What becomes of a frontier message, or of one of its URLs.  A message
 * of several URLs gets the strongest of its URLs' verdicts, in this order
 * of strength: TERM (bad), ACK (ended), LATER (nak with a delay: the
 * store is full), WAIT (nak: its partition left).  HOLD is a URL whose
 * job runs here: the message waits for it.
 */
enum cl_verdict_kind { CM_TERM, CM_ACK, CM_LATER, CM_WAIT, CM_HOLD };

/* A frontier message in the inbox, until the commit after its turn. */
struct cl_msg {
	natsMsg		*msg;
	uint32_t	 part;
	uint32_t	 nurls;		/* counted in held_total */
	uint64_t	 pulled;	/* mono ms */
	size_t		 res0, nres;	/* its URLs' results in c->res */
};

/* One URL of a frontier message, as the turn left it. */
struct cl_res {
	uint64_t	 job;		/* its job, if HOLD */
	uint64_t	 host;
	enum cl_verdict_kind verdict;
};

/* A frontier message held for the jobs of its URLs: acknowledged (or
 * given back) once the last of them lets it go. */
struct cl_fmsg {
	natsMsg		*msg;
	uint32_t	 refs;		/* held jobs, + 1 while committed */
	uint32_t	 part;
	uint32_t	 nurls;
	enum cl_verdict_kind how;	/* the strongest so far */
	uint64_t	 touched;	/* mono ms: pulled, or the last "in
					   progress" sent */
};

#define CL_NO_PART	UINT32_MAX

/* The messages of one job, held until its outcome is committed. */
struct cl_held {
	uint64_t	 job;
	uint64_t	 host;
	uint32_t	 part;		/* its messages' */
	uint32_t	 hop_part;	/* a redirect followed here to a host
					   of this other partition, or
					   CL_NO_PART */
	struct cl_fmsg	*msgs[4];	/* the same URL submitted again */
	uint32_t	 n;
	struct cl_held	*next;
};

/*
 * A stored document's way out, in the "cluster_outbox" database (doc id
 * -> state byte + its SLUICE_KEYS entry: framed v2, or a v1 JSON line
 * that a version before v2 wrote), written in the transaction that
 * stores it: its keys are published; once they come back through
 * SLUICE_KEYS in stream order, the verdict is written into the document
 * and the document published to SLUICE_DOCS; its entry goes once
 * JetStream has stored that.  A crash anywhere replays from the entry.
 */
#define OUT_KEYS	'K'		/* keys to publish */
#define OUT_DOC		'D'		/* verdict recorded, doc to publish:
					   'D' + batch number (be64) */
#define OUT_NEXT	'N'		/* key 0: 'N' + the last batch number
					   (be64) + the store's epoch (be64) */
#define CL_OUT_NEXT_LEN	17

struct cl_verdict {
	uint64_t	 doc;
	uint64_t	 ord;		/* the order it came back in */
	json_t		*v;		/* the document's "cluster" member */
	char		*line;		/* its SLUICE_DOCS line, once recorded */
};

/* A SLUICE_DOCS message in flight: the documents whose lines it holds,
 * whose outbox entries go once JetStream has stored it. */
struct cl_batch {
	uint64_t	 n;		/* "D:<n>:<node>" */
	uint64_t	*ids;
	size_t		 count;
	struct cl_batch	*next;
};

/* A submit being forwarded: its messages, seq first..first+n, each with
 * its URLs' count and partition. */
struct cl_fwd {
	struct op	*op;
	uint64_t	 first, n;
	uint64_t	 acked, failed;	/* messages */
	uint64_t	 urls, urls_failed;
	struct cl_fwd_msg {
		uint32_t urls, part;
		enum { FWD_SENT, FWD_STORED, FWD_FAILED } state;
	}		*msgs;
	uint64_t	 started;	/* mono ms */
	char		 err[128];
	struct cl_fwd	*next;
};

/* A redirect handed over to its target's partition (cluster_redirected):
 * recorded in the turn, published after the commit, and the job's own
 * messages acknowledged once JetStream stored it. */
struct cl_handoff {
	uint64_t	 job;
	char		 subj[CLUSTER_SUBJECT_MAX];
	char		 id[CL_NODE_MAX + 80];
	char		*body;
	struct cl_handoff *next;
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
	jsCtx		*kjs;		/* the leases' (shorter waits) */
	kvStore		*kv;
	_Atomic bool	 connected;
	_Atomic bool	 ready;		/* streams checked */
	char		 fatal[256];	/* under mu: why the streams were
					   refused */
	_Atomic bool	 refused;	/* fatal is set */
	_Atomic bool	 closing;	/* cluster_close() has begun */
	_Atomic bool	 multi_urls;	/* every live node reads messages of
					   several URLs */

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
	_Atomic uint64_t held_total;	/* URLs of the messages in flight to
					   the loop or held by it */
	_Atomic uint64_t *held_part;	/* [parts] the same, by partition */
	_Atomic uint64_t lag;		/* pending in the owned consumers */
	uint32_t	 pull_next;
	_Atomic uint64_t *pull_after;	/* [parts] mono ms: found empty; 0
					   once a submit is stored in it */
	uint32_t	*empty_ms;	/* [parts] its backoff (thread) */
	uint64_t	*taken_at;	/* [parts] mono ms it was taken (thread) */
	/* under mu: what the heartbeat says, and the others' heartbeats */
	char		*status_json;
	json_t		*nodes;		/* object: name -> struct cl_node */

	/* the loop's */
	struct cl_msg	*intake;
	size_t		 nintake, capintake;
	struct cl_res	*res;		/* this turn's, of the intake's URLs */
	size_t		 nres, capres;
	uint64_t	 fwd_msgs, fwd_urls; /* frontier messages published */
	uint64_t	*finished;
	size_t		 nfinished, capfinished;
	struct cl_held	**held;
	size_t		 nbuckets;
	uint64_t	 nheld;		/* jobs with messages held */
	_Atomic uint32_t *busy;		/* [parts] transfers in flight */
	uint64_t	 last_wpi;	/* mono ms of the last "in progress" */
	uint64_t	 last_audit;	/* mono ms of cl_audit() */
	uint64_t	 pub_seq;
	uint64_t	*moved;		/* jobs to cancel as moved, next turn */
	size_t		 nmoved, capmoved, applied_moved;
	bool		 moving;	/* cancelling them: not "finished" */
	uint64_t	*stale;		/* [parts] the renewal found stale */
	struct cl_fwd	*fwds;
	struct op	*answers, **answers_tail;

	/* the documents' way out (OUT_*) */
	struct store	*store;
	struct docs	*docs;
	MDB_dbi		 outbox;
	struct cluster_index *index;
	natsSubscription *keys_sub;	/* the thread's, ordered */
	uint64_t	 keys_taken;	/* its last message's sequence */
	uint64_t	 keys_moved_ms;	/* mono ms of the last it took */
	uint64_t	*stored;	/* this turn: keys to publish */
	size_t		 nstored, capstored;
	struct cl_verdict *verdicts;	/* for the next turn to record */
	size_t		 nverdicts, capverdicts, applied_verdicts;
	uint64_t	*sent;		/* docs JetStream stored: entries to
					   delete in the next turn */
	size_t		 nsent, capsent, applied_sent;
	struct cl_batch	*batches;	/* SLUICE_DOCS messages in flight */
	struct cl_batch	*rebatch;	/* to send again from the store */
	uint64_t	 batch_recorded; /* by this turn, sent after it */
	uint64_t	 verdicts_since; /* mono ms: the first gathered */
	uint64_t	 verdict_ord;
	uint64_t	 keys_resent;	/* keys messages sent again */
	/* "<node>:<epoch>", the end of this node's message ids: a store
	 * made anew under the same node name (its ids start again at 1)
	 * must not meet JetStream's duplicate window of the old one's. */
	char		 idtag[CL_NODE_MAX + 24];
	uint64_t	 epoch;		/* the store's, from the outbox */
	/* committed, gathered for the next flush (CL_FLUSH_MS) */
	uint64_t	*keys_due;	/* doc ids whose keys go out */
	size_t		 nkeys_due, capkeys_due;
	struct event	*flush_ev;
	bool		 flush_armed;
	bool		 replayed;	/* the outbox was published again
					   after the start */
	uint64_t	 keys_applied;	/* SLUICE_KEYS messages applied */
	uint64_t	*retry;		/* doc ids to publish again, with
					   CL_RETRY_DOC for the line */
	size_t		 nretry, capretry;
	uint64_t	 last_retry;	/* mono ms */
	/* A lost partition's jobs: their transfers must end now. */
	void		(*lost)(void *arg, const uint64_t *ids, size_t n);
	void		*lost_arg;
	uint64_t	*rehand;	/* jobs at a hop of a partition that
					   left: handed over in the next turn */
	size_t		 nrehand, caprehand, applied_rehand;
	struct cl_handoff *handoffs;	/* recorded in this turn */
	struct cl_handoff *handing;	/* published, not yet stored */
	uint64_t	 handed;	/* redirects handed over, stored */
	/* The URLs (XXH3 of the canonical form) of the cluster's documents,
	 * from SLUICE_KEYS: a frontier message for one is answered without
	 * a fetch, whichever node stored it. */
	struct cl_set	 urls;
};

#define CL_RETRY_DOC	((uint64_t)1 << 63)

/* A host's partition. */
static inline uint32_t
cl_part(const struct cluster *c, uint64_t host)
{
	return (uint32_t)(host % c->parts);
}

/* cluster.c */
void	cl_errf(char *err, size_t errlen, const char *what, natsStatus s,
	    jsErrCode jerr);
void	cl_post(struct cluster *c, struct cl_ev *ev);
void	*cl_grow(void *arr, size_t n, size_t *cap, size_t elem);
int	cl_push_id(uint64_t **arr, size_t *n, size_t *cap, uint64_t v);
int	cl_cmp_id(const void *a, const void *b);
natsStatus cl_publish_async(struct cluster *c, const char *subj,
	    const char *id, const char *data, size_t len, uint32_t nurls);

/* cluster_frontier.c */
void	cl_on_inbox(evutil_socket_t fd, short what, void *arg);
bool	cl_usable(struct cluster *c, uint32_t p, uint64_t mono);
void	cl_msg_done(struct cluster *c, natsMsg *m, uint32_t part,
	    uint32_t nurls, enum cl_verdict_kind how);
void	cl_release_part(struct cluster *c, uint32_t p);
bool	cl_set_has(const struct cl_set *set, uint64_t key);
int	cl_set_add(struct cl_set *set, uint64_t key, size_t max);
void	cl_handoff_acked(struct cluster *c, uint64_t job, bool ok);
void	cl_handoff_free(struct cluster *c);

/* cluster_docs.c */
int	cl_out_next_put(struct cluster *c, MDB_txn *txn, uint64_t last);
void	cl_out_free(struct cluster *c);
void	cl_on_flush(evutil_socket_t fd, short what, void *arg);
void	cl_arm_flush(struct cluster *c);
bool	cl_verdicts_due(const struct cluster *c, uint64_t mono);
void	cl_out_acked(struct cluster *c, char what, uint64_t doc,
	    uint64_t last, bool ok,
	    const char *err);
void	cl_keys_apply(struct cluster *c, natsMsg *msg);
int	cl_out_apply(struct cluster *c, MDB_txn *txn);
void	cl_out_commit(struct cluster *c);
void	cl_out_retry(struct cluster *c);

#endif
