/*
 * cluster_plan.c - partitions, subjects and the lease planner of cluster
 * mode (see cluster_plan.h).  Pure: no I/O, no clock, no allocation.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "cluster_plan.h"

#define CLUSTER_SUBJECT_PREFIX	"sluice.fetch.p"

uint32_t
cluster_partition(uint64_t host_key, uint32_t partitions)
{
	if (partitions == 0)
		return 0;
	return (uint32_t)(host_key % partitions);
}

int
cluster_subject(char *buf, size_t len, uint64_t host_key,
    uint32_t partitions)
{
	int n;

	if (len > 0)
		buf[0] = '\0';
	if (partitions == 0)
		return -1;
	n = snprintf(buf, len, CLUSTER_SUBJECT_PREFIX "%" PRIu32 ".%016"
	    PRIx64, cluster_partition(host_key, partitions), host_key);
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		return -1;
	}
	return 0;
}

int
cluster_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
cluster_subject_parse(const char *subj, uint32_t *part, uint64_t *host_key)
{
	const char *s = subj;
	uint32_t n = 0;
	uint64_t h = 0;
	size_t digits = 0;

	if (strncmp(s, CLUSTER_SUBJECT_PREFIX,
	    sizeof(CLUSTER_SUBJECT_PREFIX) - 1) != 0)
		return -1;
	s += sizeof(CLUSTER_SUBJECT_PREFIX) - 1;
	/* Decimal, no sign, no leading zero; the bound keeps n small. */
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (digits > 0 && n == 0)
			return -1;
		n = n * 10 + (uint32_t)(*s - '0');
		if (n >= CLUSTER_PARTITIONS_MAX)
			return -1;
	}
	if (digits == 0 || *s++ != '.')
		return -1;
	for (size_t i = 0; i < 16; i++) {
		int v = cluster_hexval(s[i]);

		if (v < 0)
			return -1;
		h = h << 4 | (uint64_t)v;
	}
	if (s[16] != '\0')
		return -1;
	*part = n;
	*host_key = h;
	return 0;
}

bool
cluster_node_valid(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	for (n = 0; name[n] != '\0'; n++) {
		char c = name[n];

		if (n >= CLUSTER_NODE_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

/* live[i] is a name to count: not NULL, not node, not an earlier entry. */
static bool
cluster_live_counts(const char *const *live, size_t i, const char *node)
{
	if (live[i] == NULL || strcmp(live[i], node) == 0)
		return false;
	for (size_t j = 0; j < i; j++)
		if (live[j] != NULL && strcmp(live[j], live[i]) == 0)
			return false;
	return true;
}

uint32_t
cluster_target(uint32_t partitions, const char *const *live, size_t nlive,
    const char *node)
{
	size_t n = 1, rank = 0;

	if (node == NULL)
		return 0;
	/* strcmp() compares as unsigned char: bytewise, as documented. */
	for (size_t i = 0; i < nlive; i++) {
		if (!cluster_live_counts(live, i, node))
			continue;
		n++;
		if (strcmp(live[i], node) < 0)
			rank++;
	}
	return (uint32_t)(partitions / n + (rank < partitions % n ? 1 : 0));
}

uint32_t
cluster_scan_start(const char *name, uint32_t partitions)
{
	if (partitions == 0)
		return 0;
	return (uint32_t)(XXH3_64bits(name, strlen(name)) % partitions);
}

const char *
cluster_act_name(enum cluster_act a)
{
	switch (a) {
	case CLUSTER_LOST:
		return "lost";
	case CLUSTER_RENEW:
		return "renew";
	case CLUSTER_DRAIN:
		return "drain";
	case CLUSTER_RELEASE:
		return "release";
	case CLUSTER_TAKE:
		return "take";
	}
	return "unknown";
}

static uint64_t
cluster_elapsed(const struct cluster_view *v, const struct cluster_part *p)
{
	return v->now_ms > p->renewed_ms ? v->now_ms - p->renewed_ms : 0;
}

/* A held lease is lost if its key names another node, or if it could
 * expire before the next tick (renewed_ms is a send time, so the
 * server's expiry is no sooner than renewed_ms + lease_ttl). */
static bool
cluster_is_lost(const struct cluster_view *v, const struct cluster_part *p)
{
	if (p->owner[0] != '\0' && strcmp(p->owner, v->node) != 0)
		return true;
	return cluster_elapsed(v, p) + v->tick_ms >= v->lease_ttl_ms;
}

/* Renewal is due every lease_ttl / 3, and in any case in time for one
 * more try before the lease would be given up: a tick that comes a
 * little early must not skip it. */
static bool
cluster_renew_due(const struct cluster_view *v, const struct cluster_part *p)
{
	uint64_t e = cluster_elapsed(v, p);

	return e >= v->lease_ttl_ms / 3 || e + 2 * v->tick_ms >= v->lease_ttl_ms;
}

static size_t
cluster_push(struct cluster_action *out, size_t n, enum cluster_act kind,
    uint32_t part, uint64_t rev)
{
	out[n] = (struct cluster_action){ .kind = kind, .part = part,
	    .rev = rev };
	return n + 1;
}

/* The partitions to give up, the kept ones over target, highest first:
 * those numbered from *first_release on (P if none).  Returns how many
 * are kept afterwards. */
static uint32_t
cluster_over(const struct cluster_view *v, uint32_t kept, uint32_t target,
    uint32_t *first_release)
{
	uint32_t excess = kept > target ? kept - target : 0;
	uint32_t p = v->partitions;

	while (excess > 0 && p > 0) {
		p--;
		if (v->part[p].held && !cluster_is_lost(v, &v->part[p]))
			excess--;
	}
	*first_release = kept > target ? p : v->partitions;
	return kept > target ? target : kept;
}

size_t
cluster_plan(const struct cluster_view *v, struct cluster_action *out)
{
	const struct cluster_part *part = v->part;
	uint32_t P = v->partitions, kept = 0, target, first_release, start;
	size_t n = 0;

	if (P == 0 || v->node == NULL || part == NULL)
		return 0;
	target = cluster_target(P, v->live, v->nlive, v->node);
	for (uint32_t p = 0; p < P; p++) {
		if (!part[p].held)
			continue;
		if (cluster_is_lost(v, &part[p]))
			n = cluster_push(out, n, CLUSTER_LOST, p, 0);
		else
			kept++;
	}
	kept = cluster_over(v, kept, target, &first_release);
	for (uint32_t p = 0; p < P; p++)
		if (part[p].held && !cluster_is_lost(v, &part[p]) &&
		    (p < first_release || part[p].busy) &&
		    cluster_renew_due(v, &part[p]))
			n = cluster_push(out, n, CLUSTER_RENEW, p, part[p].rev);
	for (uint32_t p = P; p-- > first_release; )
		if (part[p].held && !cluster_is_lost(v, &part[p]) &&
		    part[p].busy)
			n = cluster_push(out, n, CLUSTER_DRAIN, p, 0);
	for (uint32_t p = P; p-- > first_release; )
		if (part[p].held && !cluster_is_lost(v, &part[p]) &&
		    !part[p].busy)
			n = cluster_push(out, n, CLUSTER_RELEASE, p,
			    part[p].rev);
	/* A held partition is never free here, lost or not: what is lost
	 * in this tick may be taken again at the next one. */
	start = cluster_scan_start(v->node, P);
	for (uint32_t i = 0; i < P && kept < target; i++) {
		uint32_t p = (start + i) % P;

		if (!part[p].held && part[p].owner[0] == '\0') {
			n = cluster_push(out, n, CLUSTER_TAKE, p, 0);
			kept++;
		}
	}
	return n;
}
