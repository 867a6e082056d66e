/*
 * test_util.c - common/util.c's time formats: the range sluice handles
 * (1970 to 9999-12-31T23:59:59Z), with no overflow at either end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util.h"

/* fmt_time_ms fills its buffer for every input: a far date once ran past
 * strftime's 24-byte buffer and left it uninitialised (valgrind). */
static void
test_fmt_far_dates(void **state)
{
	static const uint64_t far[] = {
		TIME_MAX_MS + 1, (uint64_t)INT64_MAX, UINT64_MAX,
		253402300800000ULL,
		(uint64_t)INT64_MAX / 1000 * 1000,
	};
	char out[40];

	for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
		memset(out, 'x', sizeof(out));
		assert_ptr_equal(fmt_time_ms(far[i], out, sizeof(out)), out);
		assert_string_equal(out, "9999-12-31T23:59:59.999Z");
	}
	assert_string_equal(fmt_time_ms(TIME_MAX_MS, out, sizeof(out)),
	    "9999-12-31T23:59:59.999Z");
	assert_string_equal(fmt_time_ms(0, out, sizeof(out)),
	    "1970-01-01T00:00:00.000Z");
	assert_string_equal(fmt_time_ms(1795832782123ULL, out, sizeof(out)),
	    "2026-11-28T02:26:22.123Z");
	/* A short buffer is cut, still terminated. */
	memset(out, 'x', sizeof(out));
	fmt_time_ms(0, out, 8);
	assert_string_equal(out, "1970-01");
}

static void
test_parse_range(void **state)
{
	uint64_t ms = 42;

	assert_int_equal(parse_time_ms("253402300799", &ms), 0);
	assert_true(ms == 253402300799000ULL);
	assert_int_equal(parse_time_ms("9999-12-31T23:59:59Z", &ms), 0);
	assert_true(ms == 253402300799000ULL);
	assert_int_equal(parse_time_ms("9999-12-31T23:59:59.999Z", &ms), 0);
	assert_true(ms == TIME_MAX_MS);
	ms = 42;
	/* x 1000 would wrap: 18446744073709552000 mod 2^64 is 384, "due
	 * now". */
	assert_int_equal(parse_time_ms("18446744073709552", &ms), -1);
	assert_int_equal(parse_time_ms("253402300800", &ms), -1);
	assert_int_equal(parse_time_ms("99999999999999999999999", &ms), -1);
	assert_int_equal(parse_time_ms("9999-12-31T23:59:59-00:01", &ms), -1);
	assert_int_equal(parse_time_ms("-5", &ms), -1);
	assert_true(ms == 42);
	assert_int_equal(parse_time_ms("1970-01-01T00:00:00Z", &ms), 0);
	assert_true(ms == 0);
	assert_int_equal(parse_time_ms("2026-11-28T02:26:22.123Z", &ms), 0);
	assert_true(ms == 1795832782123ULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_far_dates),
		cmocka_unit_test(test_parse_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
