/*
 * fuzz_dedup.c - dedup_signature and dedup_normalize on arbitrary bytes:
 * no crash, no leak, and the exact hash is the hash of the normalised text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "dedup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dedup_opts o;
	struct dedup_sig sig;
	XXH128_canonical_t c;
	size_t n;
	char *norm;

	dedup_opts_default(&o);
	o.min_words = 5;
	dedup_signature((const char *)data, size, &o, &sig);
	norm = dedup_normalize((const char *)data, size, &o, &n);
	if (norm == NULL)
		abort();
	XXH128_canonicalFromHash(&c, XXH3_128bits(norm, n));
	if (memcmp(c.digest, sig.exact, sizeof(sig.exact)) != 0 ||
	    strlen(norm) != n || (sig.near && dedup_similarity(&sig, &sig) != 1.0))
		abort();
	free(norm);
	return 0;
}
