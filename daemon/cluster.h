/*
 * cluster.h - cluster mode: many sluiced nodes sharing one frontier on NATS
 * JetStream (docs/cluster.md).
 *
 * Without cluster.nats none of this exists: d->cluster is NULL and every
 * call below that takes one is a no-op or answers "not clustered".
 *
 * Threads.  cnats runs its own I/O threads.  One thread of ours makes the
 * blocking JetStream calls: it sets the streams up, takes and renews the
 * partition leases, writes the heartbeat and pulls frontier messages from
 * the partitions it owns, never more than cluster.window held at once.
 * What it learns reaches the loop through an inbox and an event.  The loop
 * thread does everything else:
 *   - a submit is published to SLUICE_FETCH (asynchronously) and answered
 *     once JetStream has stored every URL (cluster_forward,
 *     cluster_take_answers);
 *   - a frontier message becomes a job in the turn's transaction
 *     (cluster_apply, a turn step), like a submit;
 *   - the message is acknowledged only after the commit that records its
 *     job's outcome (cluster_job_finished, during the transaction, and
 *     cluster_commit after it); until then it is held, and kept from
 *     redelivery with "in progress" every cluster.ack_wait / 3;
 *   - the scheduler starts transfers only to hosts of partitions this node
 *     owns, and none while NATS is unreachable (cluster_allows).
 */
#ifndef SLUICE_CLUSTER_H
#define SLUICE_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

struct config;
struct dedup_sig;
struct docs;
struct event_base;
struct op;
struct queue;
struct sched;
struct store;
struct url_opts;

struct cluster;

/* What of the daemon a cluster node reaches. */
struct cluster_env {
	struct store	*store;
	struct queue	*queue;
	struct sched	*sched;
	struct docs	*docs;
	const struct url_opts *url_opts;
	/* The n jobs (ids sorted) of a partition whose lease was lost:
	 * their transfers must end now (fetch_abort_jobs()). */
	void		(*lost)(void *arg, const uint64_t *ids, size_t n);
	void		*lost_arg;
};

/*
 * Connects to cluster.nats and makes or checks the streams, the consumers
 * and the KV bucket.  NATS unreachable at start is not an error: the node
 * starts, says so in status, and joins once a server answers.  Streams
 * made by another version or with another cluster.partitions are: -1 with
 * err.  0 and *out otherwise.
 */
int cluster_open(struct cluster **out, struct event_base *base,
    const struct config *cfg, const struct cluster_env *env, char *err,
    size_t errlen);
/* Stops the thread, naks what is held (redelivered at once to the next
 * owner), gives the leases up and closes the connection. */
void cluster_close(struct cluster *c);

/* The scheduler's filter: may host start a transfer on this node? */
bool cluster_allows(uint64_t host, void *cluster);

/* Publishes op's valid URLs to the frontier; the op is answered through
 * cluster_take_answers() once all are stored, or failed. */
void cluster_forward(struct cluster *c, struct op *op);
/* At shutdown: submits still waiting for JetStream fail (answered through
 * cluster_take_answers: resubmitting them is safe). */
void cluster_fail_forwards(struct cluster *c);
/* Submit ops whose forwarding ended, for command_answer(). */
struct op *cluster_take_answers(struct cluster *c);

/* Frontier messages wait for the turn. */
bool cluster_pending(const struct cluster *c);
/* Turn step: each waiting message becomes a job (or finds its job). */
int cluster_apply(void *cluster, MDB_txn *txn, uint64_t now);
void cluster_abort(void *cluster);
/* queue.c's hook: job id ended (done, failed, cancelled) in this turn. */
void cluster_job_finished(uint64_t id, void *cluster);
/*
 * outcome.c's hook, in the transaction that stores document doc (url, its
 * dedup signature sig): its way out to SLUICE_KEYS, then SLUICE_DOCS once
 * the stream's order gave it its verdict, starts in the outbox.  0 or an
 * LMDB error.
 */
int cluster_doc_stored(void *cluster, MDB_txn *txn, uint64_t doc,
    const char *url, const struct dedup_sig *sig);
/*
 * outcome.c's hook, in the transaction that requeued job for target
 * (host), its redirect's.  A target in a partition this node fetches is
 * followed here.  One in another node's partition is handed over, so that
 * only its owner ever fetches a host (docs/cluster.md, "Redirects"): the
 * job is cancelled here ("moved"), and after the commit a frontier
 * message for target, naming the job's URL and hops, is published to the
 * target's partition; the job's own message is acknowledged once
 * JetStream stored that one (else given back, and the job fetched
 * again).  *handed says which.  0 or an LMDB error.
 */
int cluster_redirected(void *cluster, MDB_txn *txn, uint64_t job,
    const char *target, uint64_t host, uint64_t now, bool *handed);
/* After the commit: acknowledges the messages of the jobs that ended,
 * holds the new ones. */
void cluster_commit(struct cluster *c);
/* Every second: keeps held messages from redelivery, notes in-flight
 * transfers per partition, hands the heartbeat its status. */
void cluster_cron(struct cluster *c, json_t *status_totals);

/* The metrics' cluster gauges (metrics.h). */
struct metrics_gauges;
void cluster_gauges(struct cluster *c, struct metrics_gauges *g);
/* status's "cluster" object. */
json_t *cluster_status(struct cluster *c);
/* `nodes`: every live node, from the heartbeats. */
json_t *cluster_nodes(struct cluster *c);
/* `status --cluster`: the heartbeats' totals summed. */
json_t *cluster_totals(struct cluster *c);

/*
 * export --cluster: the lines of SLUICE_DOCS from since_ms (0: the first)
 * up to the stream's last message when the reader opened.  Opening asks
 * JetStream (a round trip on the loop).  0, or -1 with err.
 */
struct cluster_reader;
int cluster_reader_open(struct cluster *c, uint64_t since_ms,
    struct cluster_reader **out, char *err, size_t errlen);
/* 1 and the next line (valid until the next call; a message holds one or
 * more), 0 when none has arrived yet, -1 past the last. */
int cluster_reader_next(struct cluster_reader *r, const char **data,
    size_t *len);
void cluster_reader_close(struct cluster_reader *r);

#endif
