/*
 * cluster_plan.h - cluster mode's pure logic of partitions and leases
 * (docs: the cluster design; the NATS glue is cluster.c).  No I/O, no
 * clock of its own: the caller passes what it knows and the time, and
 * gets back what to do, so that the rules are unit-tested with a fake
 * clock and a simulated KV bucket (tests/unit/test_cluster_plan.c).
 *
 * Partitions.  A URL's host key (url_host_key()) picks its partition,
 * host_key % P, and its subject in SLUICE_FETCH, sluice.fetch.p<N>.<H>
 * (N decimal, H 16 lowercase hex digits).
 *
 * Leases.  lease.p<N> in the KV bucket names a partition's owner; the
 * bucket's TTL (lease_ttl) expires a key lease_ttl after its last write.
 * Each tick a node, with live = the node.* keys seen (itself included
 * even before its own key shows) and target its fair share
 * (cluster_target(): P / live, the remainder going one each to the
 * first names in bytewise order, so that the targets sum to P):
 *   - gives up at once (LOST) a partition it holds whose key names
 *     another node, or whose last successful take or renewal could be
 *     older than lease_ttl before its next tick: the key may expire, and
 *     another node take it, before this node would look again;
 *   - renews (RENEW) what it holds, once lease_ttl / 3 has passed since
 *     the last success;
 *   - releases the partitions it holds over target, highest numbers
 *     first: RELEASE once no transfer is in flight on one, DRAIN (start
 *     no new transfer on its hosts, keep renewing) until then;
 *   - takes (TAKE) partitions without a key while under target, scanning
 *     upward from xxh3(node name) % P so that nodes start far apart.
 * A partition this process did not take is never adopted, even if its
 * key names this node (a previous run's, or a second process given the
 * same name): it expires within lease_ttl and is taken then.
 *
 * Against two holders at once: a holder stops fetching (LOST) before
 * renewed_ms + lease_ttl, and the server expires the key no sooner, as
 * renewed_ms is when the take or renewal was sent; a taker needs the
 * key gone (create fails on an existing key).  Clocks need only agree
 * on the rate of time, not on the time.
 */
#ifndef SLUICE_CLUSTER_PLAN_H
#define SLUICE_CLUSTER_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A node name: [A-Za-z0-9_-], 1 to CLUSTER_NODE_MAX characters. */
#define CLUSTER_NODE_MAX	64
/* cluster.partitions' bound (config.c). */
#define CLUSTER_PARTITIONS_MAX	1024
/* "sluice.fetch.p1023." + 16 hex digits + NUL, rounded up. */
#define CLUSTER_SUBJECT_MAX	48
/* Room cluster_plan() needs in its action array for P partitions: a
 * draining partition may be renewed too. */
#define CLUSTER_ACTIONS_MAX(p)	(2 * (size_t)(p))

/* host_key % partitions; 0 if partitions is 0. */
uint32_t cluster_partition(uint64_t host_key, uint32_t partitions);

/* Writes the subject of host_key, "sluice.fetch.p<N>.<16 hex>", into
 * buf.  Returns 0, or -1 if partitions is 0 or len too small (buf then
 * holds "" if len > 0). */
int cluster_subject(char *buf, size_t len, uint64_t host_key,
    uint32_t partitions);

/* Parses a subject written by cluster_subject(): N in decimal without
 * leading zeros and below CLUSTER_PARTITIONS_MAX, exactly 16 lowercase
 * hex digits, nothing else.  Returns 0 and fills *part and *host_key, or
 * -1 (they are then left alone).  Whether N is host_key % P is the
 * caller's to check: it knows P. */
int cluster_subject_parse(const char *subj, uint32_t *part,
    uint64_t *host_key);

/* True if name is a valid node name (see CLUSTER_NODE_MAX). */
bool cluster_node_valid(const char *name);
/* A lowercase hex digit's value, or -1: subjects and SLUICE_KEYS bodies
 * write hex in lowercase only. */
int cluster_hexval(char c);

/*
 * node's fair share of partitions among the live nodes: the names in
 * live (NULLs and repeats ignored) plus node itself, N in all, sorted
 * bytewise (strcmp()); the node at rank r gets
 * floor(P / N) + (r < P % N ? 1 : 0), so that the shares sum to P and
 * differ by one at most.  Every node computes the same shares from the
 * same live set.  0 if node is NULL.
 */
uint32_t cluster_target(uint32_t partitions, const char *const *live,
    size_t nlive, const char *node);

/* Where name starts scanning for free partitions: xxh3(name) % P. */
uint32_t cluster_scan_start(const char *name, uint32_t partitions);

/* What a node knows of one partition at a tick. */
struct cluster_part {
	/* The KV bucket as last seen (and as this node's own successful
	 * operations left it): lease.p<N>'s value, "" if there is no
	 * key, and its revision (0 if none). */
	char		 owner[CLUSTER_NODE_MAX + 1];
	uint64_t	 rev;
	/* This node holds the lease: it took it and has not lost or
	 * released it since; it fetches the partition's hosts. */
	bool		 held;
	/* If held: when the last successful take or renewal was *sent*
	 * (not answered), on the caller's clock. */
	uint64_t	 renewed_ms;
	/* This node has transfers in flight on the partition's hosts. */
	bool		 busy;
};

/* A node's view at a tick. */
struct cluster_view {
	uint32_t	 partitions;	/* P, >= 1 */
	const char	*node;		/* this node's name */
	uint64_t	 now_ms;
	uint64_t	 lease_ttl_ms;
	/* The longest the caller may take to tick again: a lease that could
	 * expire before then is given up now.  The glue ticks every
	 * lease_ttl / 3 and passes that; 0 gives up a lease only once
	 * lease_ttl has passed, which leaves a tick's window for two
	 * holders. */
	uint64_t	 tick_ms;
	/* The names of the node.* keys present, each once; this node's
	 * own may be missing (it counts anyway). */
	const char *const *live;
	size_t		 nlive;
	/* partitions entries, by partition number. */
	const struct cluster_part *part;
};

enum cluster_act {
	CLUSTER_LOST,		/* stop fetching its hosts now; held = false */
	CLUSTER_RENEW,		/* update lease.p<N> at revision rev */
	CLUSTER_DRAIN,		/* to be released: start no new transfer */
	CLUSTER_RELEASE,	/* held = false, then delete at revision rev */
	CLUSTER_TAKE,		/* create lease.p<N>; held if that succeeds */
};

struct cluster_action {
	enum cluster_act kind;
	uint32_t	 part;
	uint64_t	 rev;		/* RENEW and RELEASE; else 0 */
};

/*
 * The actions of one tick, in this order: every LOST, then RENEW, DRAIN,
 * RELEASE and TAKE; LOST and RENEW by increasing partition, DRAIN and
 * RELEASE by decreasing, TAKE in scan order.  A partition gets at most
 * one action, but a draining one may be renewed too.  out must have room for
 * CLUSTER_ACTIONS_MAX(v->partitions).  Deterministic: the same view gives
 * the same actions.  Returns how many, 0 for an invalid view (P 0, a
 * NULL node or part).
 *
 * The caller then: on LOST and RELEASE clears held before anything else;
 * after a successful create or update sets held, rev and renewed_ms (the
 * send time) and owner; a renewal refused for a wrong revision or a
 * missing key means the lease is lost (clear held); one that only timed
 * out is retried at the next tick, and LOST comes in time if none gets
 * through.
 */
size_t cluster_plan(const struct cluster_view *v, struct cluster_action *out);

/* "lost", "renew", "drain", "release", "take"; static strings. */
const char *cluster_act_name(enum cluster_act a);

#endif
