/*
 * test_lsh.c - the in-memory band index: lookups, the per-key cap, growth
 * while lookups go on, and rollback, against a plain model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lsh.h"

#define KEYS	4

static uint64_t
next_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

static void
test_find(void **state)
{
	struct lsh t;
	uint32_t a[2] = { 7, 9 }, b[2] = { 7, 11 };
	uint64_t ids[4];

	(void)state;
	assert_int_equal(lsh_init(&t, 0, 2, 0), 0);
	assert_int_equal(lsh_find(&t, 7, 4, ids), 0);
	assert_int_equal(lsh_add(&t, 100, a, 2), 0);
	assert_int_equal(lsh_add(&t, 50, b, 2), 0);
	assert_int_equal(lsh_find(&t, 7, 4, ids), 2);
	assert_true((ids[0] == 100 && ids[1] == 50) ||
	    (ids[0] == 50 && ids[1] == 100));
	assert_int_equal(lsh_find(&t, 7, 1, ids), 1);
	assert_true(ids[0] == 100 || ids[0] == 50);
	assert_int_equal(lsh_find(&t, 11, 4, ids), 1);
	assert_true(ids[0] == 50);
	assert_int_equal(lsh_find(&t, 8, 4, ids), 0);
	/* Key 0 is a key like any other. */
	a[0] = 0;
	assert_int_equal(lsh_add(&t, 3, a, 1), 0);
	assert_int_equal(lsh_find(&t, 0, 4, ids), 1);
	assert_true(ids[0] == 3);
	lsh_free(&t);
}

static void
test_key_cap(void **state)
{
	struct lsh t;
	uint32_t k = 0xdeadbeef;
	uint64_t *ids = calloc(LSH_KEY_MAX + 10, sizeof(*ids));

	(void)state;
	assert_non_null(ids);
	assert_int_equal(lsh_init(&t, 0, 1, 0), 0);
	for (uint64_t id = 1; id <= LSH_KEY_MAX + 10; id++)
		assert_int_equal(lsh_add(&t, id, &k, 1), 0);
	assert_int_equal(lsh_find(&t, k, LSH_KEY_MAX + 10, ids),
	    LSH_KEY_MAX);
	for (size_t i = 0; i < LSH_KEY_MAX; i++)	/* the first ones */
		assert_true(ids[i] >= 1 && ids[i] <= LSH_KEY_MAX);
	lsh_free(&t);
	free(ids);
}

/* The model: every committed or pending document's keys. */
struct model {
	uint64_t	 id[20000];
	uint32_t	 key[20000][KEYS];
	size_t		 n;
	size_t		 committed;
};

static int
cmp_u64(const void *va, const void *vb)
{
	uint64_t a = *(const uint64_t *)va, b = *(const uint64_t *)vb;

	return a < b ? -1 : a > b;
}

/* lsh_find against the model for key: the same ids. */
static void
check_key(const struct lsh *t, const struct model *m, uint32_t key)
{
	static uint64_t want[20000 * KEYS], got[20000 * KEYS];
	size_t nwant = 0, ngot;

	for (size_t i = 0; i < m->n; i++)
		for (size_t j = 0; j < KEYS; j++)
			if (m->key[i][j] == key)
				want[nwant++] = m->id[i];
	ngot = lsh_find(t, key, 20000 * KEYS, got);
	assert_int_equal(ngot, nwant);
	qsort(want, nwant, sizeof(want[0]), cmp_u64);
	qsort(got, ngot, sizeof(got[0]), cmp_u64);
	for (size_t i = 0; i < nwant; i++)
		assert_true(got[i] == want[i]);
}

/*
 * Adds, commits and rollbacks at random over a small key space (long
 * clusters, many keys shared), from a table far too small, so that it
 * grows many times and lookups run while entries move.
 */
static void
test_model(void **state)
{
	static struct model m;
	struct lsh t;
	uint64_t seed = 42;

	(void)state;
	memset(&m, 0, sizeof(m));
	assert_int_equal(lsh_init(&t, 10, KEYS, 0), 0);
	for (int step = 0; step < 60000; step++) {
		uint64_t r = next_rand(&seed) % 100;

		if (r < 70 && m.n < 20000) {
			m.id[m.n] = 1000 + (uint64_t)step;
			for (size_t j = 0; j < KEYS; j++)
				m.key[m.n][j] = (uint32_t)(next_rand(&seed) %
				    5000) * 858993u;
			assert_int_equal(lsh_add(&t, m.id[m.n], m.key[m.n],
			    KEYS), 0);
			m.n++;
		} else if (r < 85) {
			lsh_commit(&t);
			m.committed = m.n;
		} else if (r < 88) {
			lsh_rollback(&t);
			m.n = m.committed;
		} else {
			check_key(&t, &m, (uint32_t)(next_rand(&seed) %
			    5000) * 858993u);
		}
	}
	for (uint32_t k = 0; k < 5000; k++)
		check_key(&t, &m, k * 858993u);
	assert_true(lsh_bytes(&t) >= m.n * KEYS * sizeof(uint64_t));
	lsh_free(&t);
}

/* A rollback right after the table started to grow, and one that
 * undoes a whole load. */
static void
test_rollback_across_growth(void **state)
{
	struct lsh t;
	uint32_t keys[KEYS];
	uint64_t ids[8], seed = 9;

	(void)state;
	assert_int_equal(lsh_init(&t, 100, KEYS, 0), 0);
	keys[0] = 1;
	keys[1] = 2;
	keys[2] = 3;
	keys[3] = 4;
	assert_int_equal(lsh_add(&t, 1, keys, KEYS), 0);
	lsh_commit(&t);
	for (uint64_t id = 2; id < 5000; id++) {
		for (size_t j = 0; j < KEYS; j++)
			keys[j] = (uint32_t)next_rand(&seed);
		assert_int_equal(lsh_add(&t, id, keys, KEYS), 0);
	}
	lsh_rollback(&t);
	assert_int_equal(t.used + t.oldused, KEYS);
	for (uint32_t k = 1; k <= 4; k++) {
		assert_int_equal(lsh_find(&t, k, 8, ids), 1);
		assert_true(ids[0] == 1);
	}
	lsh_free(&t);
}

/*
 * The memory bound: adds are refused with ENOSPC once one would pass it,
 * a refused document leaves nothing behind, those before stay found, and
 * a higher bound lets the table grow again.
 */
static void
test_memory_bound(void **state)
{
	struct lsh t;
	uint32_t keys[KEYS];
	uint64_t ids[4], seed = 5, id;
	size_t used;
	int rc = 0;

	(void)state;
	assert_int_equal(lsh_init(&t, 0, KEYS, 64 << 10), 0);
	for (id = 1; rc == 0 && id < 100000; id++) {
		for (size_t j = 0; j < KEYS; j++)
			keys[j] = (uint32_t)next_rand(&seed) << 1;
		rc = lsh_add(&t, id, keys, KEYS);
		lsh_commit(&t);
		assert_true(lsh_bytes(&t) <= 64 << 10);
	}
	assert_int_equal(rc, ENOSPC);
	assert_true(t.full);
	/* 691 documents' 2,764 keys fill a 3,456-slot table (27 KiB) to
	 * 80%; growing it would take 41 KiB more. */
	assert_int_equal(--id, 692);
	used = t.used + t.oldused;
	assert_int_equal(lsh_find(&t, keys[0], 4, ids), 0);
	assert_int_equal(lsh_add(&t, id, keys, KEYS), ENOSPC);
	assert_int_equal(t.used + t.oldused, used);
	t.max_bytes = 1 << 20;
	assert_int_equal(lsh_add(&t, id, keys, KEYS), 0);
	assert_false(t.full);
	assert_int_equal(lsh_find(&t, keys[0], 4, ids), 1);
	assert_true(ids[0] == id);
	lsh_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_key_cap),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_rollback_across_growth),
		cmocka_unit_test(test_memory_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
