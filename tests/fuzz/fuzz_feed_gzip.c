/*
 * fuzz_feed_gzip.c - feed_parse() whole: format detection and the
 * bounded gunzip.  Each input is parsed as it is (corrupt gzip when it
 * starts with the magic), then gzipped and parsed again with a small
 * max_bytes, so valid streams that inflate past the cap are cut.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <zlib.h>

#include "feed.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	xmlInitParser();
	json_object_seed(1);
	return 0;
}

static void
run(const void *data, size_t size, const struct feed_limits *lim)
{
	struct feed_doc *d;

	if (feed_parse(data, size, "http://127.0.0.1/sitemap.xml.gz", lim,
	    &d) != FEED_OK)
		return;
	if (d->format == FEED_UNKNOWN ||
	    d->stats.bytes > (lim ? lim->max_bytes : FEED_MAX_BYTES))
		abort();
	feed_doc_free(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_limits small = { .max_bytes = 1024 };
	z_stream zs = { 0 };
	unsigned char *gz;
	size_t cap;

	run(data, size, NULL);
	run(data, size, &small);
	if (size > 65536)
		return 0;
	cap = deflateBound(&zs, (uLong)size) + 64;
	if ((gz = malloc(cap)) == NULL)
		return 0;
	if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY) == Z_OK) {
		zs.next_in = (unsigned char *)data;
		zs.avail_in = (uInt)size;
		zs.next_out = gz;
		zs.avail_out = (uInt)cap;
		if (deflate(&zs, Z_FINISH) == Z_STREAM_END) {
			run(gz, zs.total_out, &small);
			run(gz, zs.total_out / 2, NULL);
		}
		deflateEnd(&zs);
	}
	free(gz);
	return 0;
}
