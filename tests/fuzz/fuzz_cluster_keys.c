/*
 * fuzz_cluster_keys.c - the SLUICE_KEYS body's entries and their decoders
 * on arbitrary bytes (other nodes' messages are outside input): no crash,
 * no leak, every entry within the body; what a v1 line decodes to encodes
 * back to a line that decodes to the same, and what a v2 entry decodes to
 * encodes back to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cluster_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
one_v1(const char *line, size_t len)
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

static void
one_v2(const char *entry, size_t len)
{
	struct cluster_keys k;
	struct buf b;
	char err[256];

	if (cluster_keys_decode_bin(entry, len, &k, err, sizeof(err)) != 0) {
		if (k.url != NULL || err[0] == '\0')
			abort();
		return;
	}
	buf_init(&b, SIZE_MAX / 2);
	if (cluster_keys_encode_bin(&b, k.node, k.doc_id, k.url,
	    &k.sig) != 0)
		abort();
	if (b.len != 4 + len || memcmp(b.data + 4, entry, len) != 0 ||
	    ((size_t)(unsigned char)b.data[0] << 24 |
	    (size_t)(unsigned char)b.data[1] << 16 |
	    (size_t)(unsigned char)b.data[2] << 8 |
	    (unsigned char)b.data[3]) != len)
		abort();
	buf_free(&b);
	cluster_keys_free(&k);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data, *entry;
	enum cluster_keys_format fmt;
	size_t off = 0, len, n = 0, last = 0;
	int rc;

	while ((rc = cluster_keys_next(body, size, &off, &entry, &len,
	    &fmt)) == 1) {
		if (entry < body || entry + len > body + size || off > size ||
		    off <= last || ++n > size)
			abort();
		if (fmt == CLUSTER_KEYS_FMT_V1 && (len == 0 ||
		    memchr(entry, '\n', len) != NULL))
			abort();
		last = off;
		/* Both decoders, whatever the format. */
		one_v1(entry, len);
		one_v2(entry, len);
	}
	if (off > size || (rc < 0 && (fmt != CLUSTER_KEYS_FMT_V2 ||
	    off != size)))
		abort();
	return 0;
}
