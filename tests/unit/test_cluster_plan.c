/*
 * test_cluster_plan.c - subjects, node names and the lease planner, the
 * latter against a simulated KV bucket and a fake clock: nodes start,
 * converge, die, come back and lose the bucket for a while, and at every
 * step no two nodes hold a partition and every holder's key names it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cluster_plan.h"

static void
test_subject(void **state)
{
	static const uint64_t keys[] = { 0, 1, 63, 64, 0xdeadbeefcafef00dULL,
	    UINT64_MAX };
	static const uint32_t parts[] = { 1, 7, 64, 1024 };
	char buf[CLUSTER_SUBJECT_MAX];
	uint32_t p;
	uint64_t h;

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		for (size_t j = 0; j < sizeof(parts) / sizeof(parts[0]); j++) {
			assert_int_equal(cluster_subject(buf, sizeof(buf),
			    keys[i], parts[j]), 0);
			assert_int_equal(cluster_subject_parse(buf, &p, &h), 0);
			assert_true(h == keys[i]);
			assert_int_equal(p, keys[i] % parts[j]);
			assert_int_equal(p, cluster_partition(keys[i],
			    parts[j]));
		}
	assert_int_equal(cluster_subject(buf, sizeof(buf),
	    0xdeadbeefcafef00dULL, 64), 0);
	assert_string_equal(buf, "sluice.fetch.p13.deadbeefcafef00d");
	assert_int_equal(cluster_subject(buf, sizeof(buf), 1, 0), -1);
	/* Too small: refused, not cut. */
	assert_int_equal(cluster_subject(buf, 33, 0xdeadbeefcafef00dULL, 64),
	    -1);
	assert_string_equal(buf, "");
	assert_int_equal(cluster_subject(buf, 34, 0xdeadbeefcafef00dULL, 64),
	    0);
}

static void
test_subject_rejects(void **state)
{
	static const char *bad[] = {
		"",
		"sluice.fetch.p",
		"sluice.fetch.p.0123456789abcdef",
		"sluice.fetch.p01.0123456789abcdef",
		"sluice.fetch.p00.0123456789abcdef",
		"sluice.fetch.p1024.0123456789abcdef",
		"sluice.fetch.p99999999999.0123456789abcdef",
		"sluice.fetch.p-1.0123456789abcdef",
		"sluice.fetch.p+1.0123456789abcdef",
		"sluice.fetch.p1.0123456789ABCDEF",
		"sluice.fetch.p1.0123456789abcde",
		"sluice.fetch.p1.0123456789abcdef0",
		"sluice.fetch.p1.0123456789abcdeg",
		"sluice.fetch.p1.0123456789abcdef.",
		"sluice.fetch.p1.0123456789abcdef ",
		"sluice.fetch.p1..0123456789abcdef",
		"sluice.fetch.p1",
		"sluice.fetch.p1.",
		"sluice.fetch.q1.0123456789abcdef",
		"sluice.fetcH.p1.0123456789abcdef",
		" sluice.fetch.p1.0123456789abcdef",
		"sluice.fetch.p1.0x23456789abcdef",
		"sluice.fetch.p1.-123456789abcdef",
	};
	uint32_t p = 77;
	uint64_t h = 77;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cluster_subject_parse(bad[i], &p, &h) != 0)
			continue;
		fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(p, 77);
	assert_true(h == 77);
	assert_int_equal(cluster_subject_parse(
	    "sluice.fetch.p0.0123456789abcdef", &p, &h), 0);
	assert_int_equal(p, 0);
	assert_true(h == 0x0123456789abcdefULL);
	assert_int_equal(cluster_subject_parse(
	    "sluice.fetch.p1023.ffffffffffffffff", &p, &h), 0);
	assert_int_equal(p, 1023);
	assert_true(h == UINT64_MAX);
}

static void
test_node_valid(void **state)
{
	char name[CLUSTER_NODE_MAX + 2];

	(void)state;
	assert_true(cluster_node_valid("n1"));
	assert_true(cluster_node_valid("Node_2-b"));
	assert_false(cluster_node_valid(""));
	assert_false(cluster_node_valid(NULL));
	assert_false(cluster_node_valid("a.b"));
	assert_false(cluster_node_valid("a b"));
	assert_false(cluster_node_valid("a*"));
	assert_false(cluster_node_valid("a>"));
	assert_false(cluster_node_valid("n\xc3\xa9"));
	memset(name, 'x', CLUSTER_NODE_MAX);
	name[CLUSTER_NODE_MAX] = '\0';
	assert_true(cluster_node_valid(name));
	name[CLUSTER_NODE_MAX] = 'x';
	name[CLUSTER_NODE_MAX + 1] = '\0';
	assert_false(cluster_node_valid(name));
}

/* Fair shares by bytewise rank: P / N each, one more for the first
 * P % N names; the shares sum to P. */
static void
test_target(void **state)
{
	static const char *const ten[] = { "node1", "node2", "node3", "node4",
	    "node5", "node6", "node7", "node8", "node9", "node10" };
	static const char *const abc[] = { "a", "b", "c" };
	/* Repeats, NULLs and the node itself count once; "B" < "a" and
	 * "\xc3" > "z" bytewise. */
	static const char *const messy[] = { "b", NULL, "a", "b", "B", "a",
	    "\xc3\xa9", "c" };
	uint32_t sum;

	(void)state;
	assert_int_equal(cluster_target(64, NULL, 0, "solo"), 64);
	assert_int_equal(cluster_target(64, abc, 1, "a"), 64);
	assert_int_equal(cluster_target(64, abc, 2, "a"), 32);
	assert_int_equal(cluster_target(64, abc, 2, "b"), 32);
	assert_int_equal(cluster_target(64, NULL, 0, NULL), 0);
	/* P = 4, N = 3: 2/1/1, not ceil's 2/2/0. */
	assert_int_equal(cluster_target(4, abc, 3, "a"), 2);
	assert_int_equal(cluster_target(4, abc, 3, "b"), 1);
	assert_int_equal(cluster_target(4, abc, 3, "c"), 1);
	/* Not yet in live: counted anyway. */
	assert_int_equal(cluster_target(4, abc + 1, 2, "a"), 2);
	assert_int_equal(cluster_target(4, abc, 2, "c"), 1);
	assert_int_equal(cluster_target(64, abc, 3, "a"), 22);
	assert_int_equal(cluster_target(64, abc, 3, "b"), 21);
	assert_int_equal(cluster_target(64, abc, 3, "c"), 21);
	/* P = 64, N = 10: node1 < node10 < node2 < node3 get 7, the rest
	 * 6 (ceil would give 7 to all, 70 in all). */
	sum = 0;
	for (size_t i = 0; i < 10; i++) {
		uint32_t t = cluster_target(64, ten, 10, ten[i]);

		assert_int_equal(t, i < 3 || i == 9 ? 7 : 6);
		sum += t;
	}
	assert_int_equal(sum, 64);
	/* Fewer partitions than nodes: the last names get none. */
	assert_int_equal(cluster_target(2, abc, 3, "a"), 1);
	assert_int_equal(cluster_target(2, abc, 3, "b"), 1);
	assert_int_equal(cluster_target(2, abc, 3, "c"), 0);
	/* messy: B a b c \xc3\xa9, N = 5 (+ "d" makes 6). */
	assert_int_equal(cluster_target(8, messy, 8, "B"), 2);
	assert_int_equal(cluster_target(8, messy, 8, "a"), 2);
	assert_int_equal(cluster_target(8, messy, 8, "b"), 2);
	assert_int_equal(cluster_target(8, messy, 8, "c"), 1);
	assert_int_equal(cluster_target(8, messy, 8, "\xc3\xa9"), 1);
	assert_int_equal(cluster_target(8, messy, 8, "d"), 1);
	assert_int_equal(cluster_target(8, messy, 8, "A"), 2);
	assert_int_equal(cluster_target(1024, ten, 10, "node10"), 103);
	assert_int_equal(cluster_target(1024, ten, 10, "node9"), 102);
}

/*
 * The simulation.  Time moves in STEPs; each node ticks at its own phase,
 * at most TICK (tick_ms) apart, and often sooner.  The KV bucket: create
 * fails on an existing key, update and delete on a wrong revision, and a
 * key expires TTL after its last write.  P partitions and N nodes (named
 * node1 .. nodeN, so that node10 sorts before node2) up to PMAX and NMAX.
 */
#define PMAX	64
#define NMAX	10
#define TTL	3000
#define TICK	1000
#define STEP	100

struct kv_key {
	bool		 exists;
	char		 val[CLUSTER_NODE_MAX + 1];
	uint64_t	 rev;
	uint64_t	 written;
};

struct sim_node {
	char		 name[24];
	bool		 alive;
	bool		 cut;		/* the bucket unreachable */
	uint64_t	 next_tick;
	struct cluster_part part[PMAX];
	bool		 draining[PMAX];
	uint64_t	 busy_until[PMAX];
	/* What the node saw of the bucket last (kept while cut). */
	bool		 seen_live[NMAX];
	uint64_t	 actions;	/* not counting RENEW */
	uint64_t	 drains;
};

struct sim {
	uint32_t	 p;
	size_t		 nodes;
	uint64_t	 now;
	uint64_t	 rev;
	uint64_t	 rand;
	uint64_t	 tick_ms;
	struct kv_key	 lease[PMAX];
	struct kv_key	 hb[NMAX];
	struct sim_node	 n[NMAX];
};

/*
 * The clusters simulated, and each node's share (by index: node1 ..
 * nodeN) with all up, and once node victim is gone.  The shares sum to
 * P; ceil(P / N) would leave 64 / 10 short (7 * 9 + 1) and 4 / 3 with a
 * node idle (2 / 2 / 0).
 */
struct sim_cfg {
	uint32_t	 p;
	size_t		 nodes;
	size_t		 victim;
	uint32_t	 share[NMAX];
	uint32_t	 left[NMAX];	/* victim's own: 0 */
};

static const struct sim_cfg sim_cfgs[] = {
	{ 64, 3, 2, { 22, 21, 21 }, { 32, 32, 0 } },
	/* node1, ranked first, gets the extra one back when it returns. */
	{ 4, 3, 0, { 2, 1, 1 }, { 0, 2, 2 } },
	/* node1 node10 node2 node3 get 7; without node1, node10 gets 8. */
	{ 64, 10, 0, { 7, 7, 7, 6, 6, 6, 6, 6, 6, 7 },
	    { 0, 7, 7, 7, 7, 7, 7, 7, 7, 8 } },
};
#define SIM_CFGS	(sizeof(sim_cfgs) / sizeof(sim_cfgs[0]))

static uint64_t
sim_rand(struct sim *s)
{
	s->rand = s->rand * 6364136223846793005ULL + 1442695040888963407ULL;
	return s->rand >> 33;
}

static void
sim_init(struct sim *s, uint64_t seed, uint32_t p, size_t nodes)
{
	assert_true(p >= 1 && p <= PMAX);
	assert_true(nodes >= 1 && nodes <= NMAX);
	memset(s, 0, sizeof(*s));
	s->p = p;
	s->nodes = nodes;
	s->rand = seed;
	s->tick_ms = TICK;
	for (size_t i = 0; i < nodes; i++) {
		snprintf(s->n[i].name, sizeof(s->n[i].name), "node%u",
		    (unsigned)(i + 1));
		s->n[i].next_tick = (i * TICK / nodes) / STEP * STEP;
	}
}

/* A node name into a key or a view (both hold CLUSTER_NODE_MAX + 1). */
static void
sim_name(char *dst, const char *src)
{
	size_t n = strlen(src);

	assert_true(n <= CLUSTER_NODE_MAX);
	memcpy(dst, src, n + 1);
}

static void
sim_write(struct sim *s, struct kv_key *k, const char *val)
{
	k->exists = true;
	sim_name(k->val, val);
	k->rev = ++s->rev;
	k->written = s->now;
}

static void
sim_expire(struct sim *s)
{
	for (size_t p = 0; p < s->p; p++)
		if (s->lease[p].exists && s->now - s->lease[p].written >= TTL)
			s->lease[p].exists = false;
	for (size_t i = 0; i < s->nodes; i++)
		if (s->hb[i].exists && s->now - s->hb[i].written >= TTL)
			s->hb[i].exists = false;
}

/* Starts (fresh state: a process starting) or kills node i. */
static void
sim_set_alive(struct sim *s, size_t i, bool alive)
{
	struct sim_node *n = &s->n[i];

	memset(n->part, 0, sizeof(n->part));
	memset(n->draining, 0, sizeof(n->draining));
	memset(n->busy_until, 0, sizeof(n->busy_until));
	memset(n->seen_live, 0, sizeof(n->seen_live));
	n->alive = alive;
	n->cut = false;
}

/* What node n knows: the bucket as it is, or as it was when cut. */
static void
sim_look(struct sim *s, struct sim_node *n)
{
	if (n->cut)
		return;
	for (size_t p = 0; p < s->p; p++) {
		sim_name(n->part[p].owner,
		    s->lease[p].exists ? s->lease[p].val : "");
		n->part[p].rev = s->lease[p].exists ? s->lease[p].rev : 0;
	}
	for (size_t i = 0; i < s->nodes; i++)
		n->seen_live[i] = s->hb[i].exists;
}

/* Transfers: a held, non-draining partition may start one. */
static void
sim_transfers(struct sim *s, struct sim_node *n)
{
	for (size_t p = 0; p < s->p; p++) {
		if (!n->part[p].held || n->draining[p])
			continue;
		if (sim_rand(s) % 4 == 0 && n->busy_until[p] < s->now + 1500)
			n->busy_until[p] = s->now + 1 + sim_rand(s) % 1500;
	}
	for (size_t p = 0; p < s->p; p++)
		n->part[p].busy = n->busy_until[p] > s->now;
}

static void
sim_apply(struct sim *s, struct sim_node *n, const struct cluster_action *a)
{
	struct cluster_part *cp = &n->part[a->part];
	struct kv_key *k = &s->lease[a->part];

	assert_true(a->part < s->p);
	switch (a->kind) {
	case CLUSTER_LOST:
		assert_true(cp->held);
		cp->held = false;
		n->draining[a->part] = false;
		break;
	case CLUSTER_RELEASE:
		assert_true(cp->held);
		assert_false(cp->busy);
		assert_true(n->busy_until[a->part] <= s->now);
		cp->held = false;
		n->draining[a->part] = false;
		if (!n->cut && k->exists && k->rev == a->rev) {
			k->exists = false;
			s->rev++;
		}
		break;
	case CLUSTER_RENEW:
		assert_true(cp->held);
		if (n->cut)
			break;		/* timed out: try again next tick */
		if (!k->exists || k->rev != a->rev) {
			cp->held = false;	/* refused: lost */
			break;
		}
		sim_write(s, k, n->name);
		cp->rev = k->rev;
		cp->renewed_ms = s->now;
		break;
	case CLUSTER_DRAIN:
		assert_true(cp->held);
		assert_true(cp->busy);
		n->draining[a->part] = true;
		n->drains++;
		break;
	case CLUSTER_TAKE:
		assert_false(cp->held);
		if (n->cut || k->exists)
			break;
		sim_write(s, k, n->name);
		sim_name(cp->owner, n->name);
		cp->rev = k->rev;
		cp->held = true;
		cp->renewed_ms = s->now;
		break;
	}
}

static void
sim_tick(struct sim *s, size_t i)
{
	struct sim_node *n = &s->n[i];
	struct cluster_action act[CLUSTER_ACTIONS_MAX(PMAX)];
	const char *live[NMAX];
	struct cluster_view v;
	size_t nlive = 0, nact;

	if (!n->cut)
		sim_write(s, &s->hb[i], n->name);
	sim_look(s, n);
	for (size_t j = 0; j < s->nodes; j++)
		if (n->seen_live[j])
			live[nlive++] = s->n[j].name;
	sim_transfers(s, n);
	v = (struct cluster_view){ .partitions = s->p, .node = n->name,
	    .now_ms = s->now, .lease_ttl_ms = TTL, .tick_ms = s->tick_ms,
	    .live = live, .nlive = nlive, .part = n->part };
	nact = cluster_plan(&v, act);
	assert_true(nact <= CLUSTER_ACTIONS_MAX(s->p));
	for (size_t k = 0; k < nact; k++) {
		sim_apply(s, n, &act[k]);
		if (act[k].kind != CLUSTER_RENEW)
			n->actions++;
	}
}

/* The safety property, at every step: a partition has one holder at
 * most, and a holder's key exists and names it. */
static void
sim_check(const struct sim *s)
{
	for (size_t p = 0; p < s->p; p++) {
		int holders = 0;

		for (size_t i = 0; i < s->nodes; i++) {
			const struct sim_node *n = &s->n[i];

			if (!n->alive || !n->part[p].held)
				continue;
			holders++;
			if (!s->lease[p].exists ||
			    strcmp(s->lease[p].val, n->name) != 0)
				fail_msg("t=%llu: %s holds p%zu, key %s",
				    (unsigned long long)s->now, n->name, p,
				    s->lease[p].exists ? s->lease[p].val :
				    "gone");
		}
		if (holders > 1)
			fail_msg("t=%llu: p%zu has %d holders",
			    (unsigned long long)s->now, p, holders);
	}
}

static void
sim_run(struct sim *s, uint64_t until)
{
	for (; s->now < until; s->now += STEP) {
		sim_expire(s);
		for (size_t i = 0; i < s->nodes; i++)
			if (s->n[i].alive && s->now >= s->n[i].next_tick) {
				sim_tick(s, i);
				s->n[i].next_tick = s->now + TICK -
				    sim_rand(s) % 4 * STEP;
			}
		sim_check(s);
	}
}

static uint32_t
sim_held(const struct sim *s, size_t i)
{
	uint32_t c = 0;

	for (size_t p = 0; p < s->p; p++)
		c += s->n[i].alive && s->n[i].part[p].held;
	return c;
}

static bool
sim_up(const struct sim *s, size_t i)
{
	return s->n[i].alive && !s->n[i].cut;
}

/* Node i's fair share among the nodes up (alive, not cut), worked out
 * here by rank rather than asked of cluster_target(); 0 if it is not
 * up. */
static uint32_t
sim_share(const struct sim *s, size_t i)
{
	uint32_t n = 0, rank = 0;

	if (!sim_up(s, i))
		return 0;
	for (size_t j = 0; j < s->nodes; j++) {
		if (!sim_up(s, j))
			continue;
		n++;
		rank += strcmp(s->n[j].name, s->n[i].name) < 0;
	}
	return s->p / n + (rank < s->p % n ? 1 : 0);
}

/* Every partition held by one live node, every node up holding exactly
 * its fair share (so a node cut from the bucket holds none). */
static bool
sim_settled(const struct sim *s)
{
	for (size_t p = 0; p < s->p; p++) {
		int holders = 0;

		for (size_t i = 0; i < s->nodes; i++)
			holders += s->n[i].alive && s->n[i].part[p].held;
		if (holders != 1)
			return false;
	}
	for (size_t i = 0; i < s->nodes; i++)
		if (sim_held(s, i) != sim_share(s, i))
			return false;
	return true;
}

/* Runs until settled, at most limit ms; returns when it settled. */
static uint64_t
sim_settle(struct sim *s, uint64_t limit)
{
	uint64_t end = s->now + limit;

	while (s->now < end) {
		sim_run(s, s->now + STEP);
		if (sim_settled(s))
			return s->now;
	}
	fail_msg("P=%u N=%zu: not settled in %llu ms", (unsigned)s->p,
	    s->nodes, (unsigned long long)limit);
	return 0;
}

/* Each node holds exactly want[i]; the wants sum to P. */
static void
sim_assert_held(const struct sim *s, const uint32_t *want)
{
	uint32_t sum = 0, held = 0;

	for (size_t i = 0; i < s->nodes; i++) {
		if (sim_held(s, i) != want[i])
			fail_msg("P=%u N=%zu t=%llu: %s holds %u, not %u",
			    (unsigned)s->p, s->nodes,
			    (unsigned long long)s->now, s->n[i].name,
			    (unsigned)sim_held(s, i), (unsigned)want[i]);
		assert_int_equal(sim_share(s, i), want[i]);
		sum += want[i];
		held += sim_held(s, i);
	}
	assert_int_equal(sum, s->p);
	assert_int_equal(held, s->p);
}

static void
test_one_node(void **state)
{
	struct sim *s = *state;
	struct cluster_action act[CLUSTER_ACTIONS_MAX(PMAX)];
	struct cluster_part part[PMAX];
	struct cluster_view v = { .partitions = PMAX, .node = "solo",
	    .now_ms = 1000, .lease_ttl_ms = TTL, .tick_ms = TICK,
	    .part = part };
	size_t n;

	memset(part, 0, sizeof(part));
	n = cluster_plan(&v, act);
	assert_int_equal(n, PMAX);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(act[i].kind, CLUSTER_TAKE);
		assert_int_equal(act[i].part,
		    (cluster_scan_start("solo", PMAX) + i) % PMAX);
	}

	sim_init(s, 1, PMAX, 1);
	sim_set_alive(s, 0, true);
	sim_run(s, STEP);
	assert_int_equal(sim_held(s, 0), PMAX);
	sim_run(s, 10 * TICK);
	assert_int_equal(sim_held(s, 0), PMAX);
	assert_int_equal(s->n[0].actions, PMAX);	/* renewals only since */
}

static void
test_converge(void **state)
{
	struct sim *s = *state;

	for (size_t c = 0; c < SIM_CFGS; c++) {
		const struct sim_cfg *cfg = &sim_cfgs[c];

		sim_init(s, 2, cfg->p, cfg->nodes);
		for (size_t i = 0; i < s->nodes; i++)
			sim_set_alive(s, i, true);
		/* A few ticks: the first to tick takes everything, the
		 * others' heartbeats make it release, and they take the
		 * rest. */
		sim_settle(s, 10 * TICK);
		sim_assert_held(s, cfg->share);
		/* Then it stays put: renewals only. */
		for (size_t i = 0; i < s->nodes; i++)
			s->n[i].actions = 0;
		sim_run(s, s->now + 20 * TICK);
		assert_true(sim_settled(s));
		sim_assert_held(s, cfg->share);
		for (size_t i = 0; i < s->nodes; i++)
			assert_int_equal(s->n[i].actions, 0);
	}
}

static void
test_death_and_rejoin(void **state)
{
	struct sim *s = *state;

	for (size_t c = 0; c < SIM_CFGS; c++) {
		const struct sim_cfg *cfg = &sim_cfgs[c];
		size_t v = cfg->victim;
		uint64_t died, drains = 0;

		sim_init(s, 3, cfg->p, cfg->nodes);
		for (size_t i = 0; i < s->nodes; i++)
			sim_set_alive(s, i, true);
		sim_settle(s, 10 * TICK);
		sim_run(s, s->now + 3 * TICK);
		sim_assert_held(s, cfg->share);
		died = s->now;
		sim_set_alive(s, v, false);
		/* Its leases and heartbeat expire TTL after its last
		 * renewal; the others take its partitions at their next
		 * tick (a leave only raises the others' shares). */
		sim_run(s, died + TTL + TICK + STEP);
		assert_true(sim_settled(s));
		sim_assert_held(s, cfg->left);

		sim_set_alive(s, v, true);
		s->n[v].next_tick = s->now + 5 * STEP;
		sim_settle(s, 10 * TICK);
		sim_assert_held(s, cfg->share);
		sim_run(s, s->now + 10 * TICK);
		assert_true(sim_settled(s));
		sim_assert_held(s, cfg->share);
		for (size_t i = 0; i < s->nodes; i++)
			drains += s->n[i].drains;
		/* Transfers in flight delayed some releases. */
		if (cfg->p >= 64)
			assert_true(drains > 0);
	}
}

/* A node that loses the bucket keeps ticking on its stale view: it must
 * give up its partitions before their keys expire and others take them. */
static void
test_cut(void **state)
{
	struct sim *s = *state;

	for (size_t c = 0; c < SIM_CFGS; c++) {
		const struct sim_cfg *cfg = &sim_cfgs[c];
		uint64_t cut;

		sim_init(s, 4, cfg->p, cfg->nodes);
		for (size_t i = 0; i < s->nodes; i++)
			sim_set_alive(s, i, true);
		sim_settle(s, 10 * TICK);
		assert_true(sim_held(s, 1) > 0);
		cut = s->now;
		s->n[1].cut = true;
		sim_run(s, cut + TTL);
		assert_int_equal(sim_held(s, 1), 0);
		sim_run(s, cut + TTL + 2 * TICK);
		assert_true(sim_settled(s));
		s->n[1].cut = false;
		sim_settle(s, 10 * TICK);
		sim_assert_held(s, cfg->share);
	}
}

/* Over target: the highest first, and only once their transfers end. */
static void
test_release_waits(void **state)
{
	struct cluster_action act[CLUSTER_ACTIONS_MAX(8)];
	struct cluster_part part[8];
	const char *live[] = { "a", "b" };
	struct cluster_view v = { .partitions = 8, .node = "a",
	    .now_ms = 10000, .lease_ttl_ms = TTL, .tick_ms = TICK,
	    .live = live, .nlive = 2, .part = part };
	size_t n;

	(void)state;
	memset(part, 0, sizeof(part));
	for (size_t p = 0; p < 7; p++) {	/* 7 held, target 4 */
		part[p].held = true;
		snprintf(part[p].owner, sizeof(part[p].owner), "a");
		part[p].rev = 100 + p;
		part[p].renewed_ms = 10000 - TICK;
	}
	part[6].busy = true;
	part[3].busy = true;	/* kept: its business is no matter */
	n = cluster_plan(&v, act);
	assert_int_equal(n, 5 + 1 + 2);
	for (size_t i = 0; i < 5; i++) {	/* 6 is renewed, draining */
		assert_int_equal(act[i].kind, CLUSTER_RENEW);
		assert_int_equal(act[i].part, i == 4 ? 6 : i);
		assert_true(act[i].rev == 100 + act[i].part);
	}
	assert_int_equal(act[5].kind, CLUSTER_DRAIN);
	assert_int_equal(act[5].part, 6);
	assert_int_equal(act[6].kind, CLUSTER_RELEASE);
	assert_int_equal(act[6].part, 5);
	assert_true(act[6].rev == 105);
	assert_int_equal(act[7].kind, CLUSTER_RELEASE);
	assert_int_equal(act[7].part, 4);

	/* Released; 6 still busy: drained again, nothing else (renewed). */
	part[4].held = part[5].held = false;
	for (size_t p = 0; p < 7; p++)
		part[p].renewed_ms = v.now_ms;
	v.now_ms += TICK / 2;
	n = cluster_plan(&v, act);
	assert_int_equal(n, 1);
	assert_int_equal(act[0].kind, CLUSTER_DRAIN);
	assert_int_equal(act[0].part, 6);
	/* Its transfers over: released. */
	part[6].busy = false;
	n = cluster_plan(&v, act);
	assert_int_equal(n, 1);
	assert_int_equal(act[0].kind, CLUSTER_RELEASE);
	assert_int_equal(act[0].part, 6);
	assert_true(act[0].rev == 106);
}

/* LOST: a key naming another node, or a renewal too old to last until
 * the next tick; a key merely not seen yet is no loss. */
static void
test_lost(void **state)
{
	struct cluster_action act[CLUSTER_ACTIONS_MAX(4)];
	struct cluster_part part[4];
	struct cluster_view v = { .partitions = 4, .node = "a",
	    .now_ms = 10000, .lease_ttl_ms = TTL, .tick_ms = TICK,
	    .part = part };
	size_t n;

	(void)state;
	memset(part, 0, sizeof(part));
	for (size_t p = 0; p < 4; p++) {
		part[p].held = true;
		part[p].renewed_ms = 10000 - TICK;
	}
	snprintf(part[0].owner, sizeof(part[0].owner), "b");
	part[1].renewed_ms = 10000 - (TTL - TICK);	/* could expire */
	part[2].renewed_ms = 10000 - (TTL - TICK) + 1;
	/* part[3]: owner "" (a take the watch has not shown yet) */
	n = cluster_plan(&v, act);
	assert_int_equal(n, 4);
	assert_int_equal(act[0].kind, CLUSTER_LOST);
	assert_int_equal(act[0].part, 0);
	assert_int_equal(act[1].kind, CLUSTER_LOST);
	assert_int_equal(act[1].part, 1);
	assert_int_equal(act[2].kind, CLUSTER_RENEW);
	assert_int_equal(act[2].part, 2);
	assert_int_equal(act[3].kind, CLUSTER_RENEW);
	assert_int_equal(act[3].part, 3);

	/* tick_ms 0: only once lease_ttl has passed. */
	v.tick_ms = 0;
	part[0].owner[0] = '\0';
	part[1].renewed_ms = 10000 - TTL + 1;
	part[2].renewed_ms = 10000 - TTL;
	n = cluster_plan(&v, act);
	assert_int_equal(act[0].kind, CLUSTER_LOST);
	assert_int_equal(act[0].part, 2);
	assert_int_equal(n, 4);

	/* A key of this node's name that it did not take: not its own. */
	memset(part, 0, sizeof(part));
	snprintf(part[0].owner, sizeof(part[0].owner), "a");
	part[0].rev = 9;
	n = cluster_plan(&v, act);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(act[i].kind, CLUSTER_TAKE);
		assert_int_not_equal(act[i].part, 0);
	}
}

static int
setup(void **state)
{
	static struct sim s;

	*state = &s;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_subject_rejects),
		cmocka_unit_test(test_node_valid),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_one_node),
		cmocka_unit_test(test_converge),
		cmocka_unit_test(test_death_and_rejoin),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_release_waits),
		cmocka_unit_test(test_lost),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
