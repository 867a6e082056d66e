/*
 * fuzz_feed_json.c - the JSON Feed parser (feed_json_parse()) on
 * arbitrary bytes, with default and tiny limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "feed_doc.h"
#include "feed_json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_object_seed(1);
	return 0;
}

static void
run(const uint8_t *data, size_t size, const struct feed_limits *lim)
{
	struct feed_doc *d = feed_doc_new(lim, "http://127.0.0.1/feed.json");
	size_t i;

	if (d == NULL)
		return;
	if (feed_json_parse(d, (const char *)data, size) == 0) {
		if (d->nentries > d->lim.max_entries)
			abort();
		for (i = 0; i < d->nentries; i++)
			if (strncmp(d->entries[i].url, "http", 4) != 0)
				abort();
	}
	feed_doc_free(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_limits tiny = { .max_entries = 2, .max_string = 24 };

	run(data, size, NULL);
	run(data, size, &tiny);
	return 0;
}
