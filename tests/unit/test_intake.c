/*
 * test_intake.c - the table of unindexed submissions: lookups by hash,
 * growth, and the two ends it shrinks from, against a plain model.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "intake.h"

/* Every id find() returns for hash, as a bit set over base .. base + n. */
static size_t
matches(const struct intake *in, uint64_t hash, uint64_t *ids, size_t max)
{
	uint32_t cursor = 0;
	uint64_t id;
	size_t n = 0;

	while (intake_find(in, hash, &cursor, &id)) {
		assert_true(n < max);
		ids[n++] = id;
	}
	return n;
}

static void
test_find_newest_first(void **state)
{
	struct intake in = { 0 };
	uint64_t ids[4];

	(void)state;
	assert_int_equal(matches(&in, 7, ids, 4), 0);
	assert_int_equal(intake_add(&in, 100, 7), 0);
	assert_int_equal(intake_add(&in, 101, 8), 0);
	assert_int_equal(intake_add(&in, 102, 7), 0);
	assert_int_equal(matches(&in, 7, ids, 4), 2);
	assert_int_equal(ids[0], 102);
	assert_int_equal(ids[1], 100);
	assert_int_equal(matches(&in, 8, ids, 4), 1);
	assert_int_equal(ids[0], 101);
	/* Same bucket, other hash: no match. */
	assert_int_equal(matches(&in, 7 + ((uint64_t)1 << 40), ids, 4), 0);
	/* Ids must follow on. */
	assert_int_equal(intake_add(&in, 105, 9), -1);
	intake_free(&in);
}

static void
test_pop_both_ends(void **state)
{
	struct intake in = { 0 };
	uint64_t ids[4];

	(void)state;
	for (uint64_t id = 1; id <= 5; id++)
		assert_int_equal(intake_add(&in, id, id % 2), 0);
	intake_pop_oldest(&in);			/* 1 */
	intake_pop_newest(&in);			/* 5 */
	assert_int_equal(in.base, 2);
	assert_int_equal(in.count, 3);
	assert_int_equal(matches(&in, 1, ids, 4), 1);
	assert_int_equal(ids[0], 3);
	assert_int_equal(matches(&in, 0, ids, 4), 2);
	assert_int_equal(intake_add(&in, 5, 1), 0);
	assert_int_equal(matches(&in, 1, ids, 4), 2);
	while (in.count > 0)
		intake_pop_oldest(&in);
	assert_int_equal(matches(&in, 1, ids, 4), 0);
	/* Empty: any id starts it again. */
	assert_int_equal(intake_add(&in, 1000, 3), 0);
	assert_int_equal(matches(&in, 3, ids, 4), 1);
	assert_int_equal(ids[0], 1000);
	intake_free(&in);
}

/* A long run through growth and wrap-around, checked against a model. */
static void
test_against_model(void **state)
{
	enum { N = 20000, HASHES = 997 };
	struct intake in = { 0 };
	uint64_t *model = calloc(N, sizeof(*model)), lo = 1, hi = 1;
	uint64_t ids[64];

	(void)state;
	srand(7);
	for (int step = 0; step < 4 * N; step++) {
		int r = rand() % 10;

		if (r < 6 && hi - lo < N) {
			uint64_t h = (uint64_t)rand() % HASHES;
			model[hi % N] = h;
			assert_int_equal(intake_add(&in, hi++, h), 0);
		} else if (r < 9 && hi > lo) {
			intake_pop_oldest(&in);
			lo++;
		} else if (hi > lo) {
			intake_pop_newest(&in);
			hi--;
		}
		if (step % 97 == 0) {
			uint64_t h = (uint64_t)rand() % HASHES;
			size_t want = 0, got = matches(&in, h, ids, 64);

			for (uint64_t id = lo; id < hi; id++)
				want += model[id % N] == h;
			assert_int_equal(got, want);
			for (size_t i = 0; i < got; i++) {
				assert_true(ids[i] >= lo && ids[i] < hi);
				assert_int_equal(model[ids[i] % N], h);
				if (i > 0)
					assert_true(ids[i] < ids[i - 1]);
			}
		}
	}
	assert_int_equal(in.count, hi - lo);
	intake_free(&in);
	free(model);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_newest_first),
		cmocka_unit_test(test_pop_both_ends),
		cmocka_unit_test(test_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
