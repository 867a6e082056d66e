/*
 * fuzz_cluster_keys.c - the SLUICE_KEYS body's lines and their decoder on
 * arbitrary bytes (other nodes' messages are outside input): no crash, no
 * leak, every line within the body, and what a line decodes to encodes
 * back to a line that decodes to the same.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
one(const char *line, size_t len)
{
	struct cluster_keys k, k2;
	char err[256], *body;

	if (cluster_keys_decode(line, len, &k, err, sizeof(err)) != 0)
		return;
	body = cluster_keys_encode(k.node, k.doc_id, k.url, &k.sig);
	if (body == NULL)
		abort();
	if (cluster_keys_decode(body, strlen(body), &k2, err,
	    sizeof(err)) != 0)
		abort();
	if (strcmp(k.node, k2.node) != 0 || k.doc_id != k2.doc_id ||
	    strcmp(k.url, k2.url) != 0 ||
	    memcmp(k.sig.exact, k2.sig.exact, sizeof(k.sig.exact)) != 0 ||
	    k.sig.words != k2.sig.words || k.sig.near != k2.sig.near ||
	    memcmp(k.sig.bands, k2.sig.bands, sizeof(k.sig.bands)) != 0 ||
	    memcmp(k.sig.sketch, k2.sig.sketch, sizeof(k.sig.sketch)) != 0)
		abort();
	if (strchr(body, '\n') != NULL)
		abort();
	cluster_keys_free(&k);
	cluster_keys_free(&k2);
	free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data, *line;
	size_t off = 0, len, n = 0;

	while (cluster_body_line(body, size, &off, &line, &len)) {
		if (line < body || line + len > body + size || len == 0 ||
		    memchr(line, '\n', len) != NULL || ++n > size)
			abort();
		one(line, len);
	}
	return 0;
}
