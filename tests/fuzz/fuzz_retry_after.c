/*
 * fuzz_retry_after.c - fetch_parse_retry_after() on arbitrary header values:
 * it must never crash, and every answer must be -1 or a delay within
 * [0, FETCH_RETRY_AFTER_MAX_MS].
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Fixed clocks: the epoch, today-ish, and the far end of uint64. */
	static const uint64_t nows[] = { 0, 1767225600000ULL, UINT64_MAX };
	char *s;
	size_t i;
	int64_t d;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
		d = fetch_parse_retry_after(s, nows[i]);
		if (d != -1 && (d < 0 || d > (int64_t)FETCH_RETRY_AFTER_MAX_MS))
			abort();
	}
	free(s);
	return 0;
}
