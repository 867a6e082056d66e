/*
 * test_buf.c - common/buf.c: the hard cap holds at its edges, an append
 * over it leaves the buffer as it was, and a max of SIZE_MAX ("no cap")
 * cannot make the size arithmetic wrap around.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "buf.h"

static void
test_cap_is_exact(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "12345", 5), 0);
	assert_int_equal(buf_append(&b, "678", 3), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	/* One byte over: refused, and nothing changes. */
	assert_int_equal(buf_append(&b, "9", 1), -1);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(buf_appendf(&b, "%d", 9), -1);
	assert_string_equal(b.data, "12345678");
	buf_reset(&b);
	assert_int_equal(buf_presize(&b, 9), -1);
	assert_int_equal(buf_presize(&b, 8), 0);
	assert_true(b.cap >= 9);
	buf_free(&b);
}

/* SIZE_MAX once made max + 1 and the capacity's doubling wrap to 0: an
 * append that brought len to SIZE_MAX "fitted" with no room at all. */
static void
test_no_cap_does_not_wrap(void **state)
{
	struct buf b;
	static const char x[1] = { 'x' };

	(void)state;
	buf_init(&b, SIZE_MAX);
	assert_true(b.max == BUF_MAX);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_int_equal(buf_append(&b, x, SIZE_MAX - 3), -1);
	assert_int_equal(buf_append(&b, x, BUF_MAX - 2), -1);
	assert_int_equal(buf_presize(&b, SIZE_MAX - 1), -1);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_appendf(&b, "%04d", i), 0);
	assert_int_equal(b.len, 3 + 4000);
	assert_memory_equal(b.data + 3 + 4 * 999, "0999", 4);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap_is_exact),
		cmocka_unit_test(test_no_cap_does_not_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
