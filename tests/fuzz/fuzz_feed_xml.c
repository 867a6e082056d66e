/*
 * fuzz_feed_xml.c - the XML feed and sitemap parser (feed_xml_parse():
 * the streaming pass and the tree recovery) on arbitrary bytes, with the
 * default limits and with tiny ones so the cut-off paths run too; checks
 * the document's invariants.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "feed_doc.h"
#include "feed_xml.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	xmlInitParser();
	return 0;
}

static void
check(const struct feed_doc *d)
{
	size_t i;

	if (d->nentries > d->lim.max_entries ||
	    d->nchildren > d->lim.max_children)
		abort();
	for (i = 0; i < d->nentries; i++) {
		if (strncmp(d->entries[i].url, "http", 4) != 0)
			abort();
		if (d->entries[i].title != NULL &&
		    strlen(d->entries[i].title) > d->lim.max_string)
			abort();
	}
	for (i = 0; i < d->nchildren; i++)
		if (strncmp(d->children[i].url, "http", 4) != 0)
			abort();
}

static void
run(const uint8_t *data, size_t size, const struct feed_limits *lim)
{
	struct feed_doc *d = feed_doc_new(lim, "http://127.0.0.1/a/feed.xml");

	if (d == NULL)
		return;
	if (feed_xml_parse(d, (const char *)data, size) == 0)
		check(d);
	feed_doc_free(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_limits tiny = {
		.max_bytes = 512, .max_entries = 2, .max_children = 2,
		.max_string = 24, .max_tree = 256,
	};

	run(data, size, NULL);
	run(data, size, &tiny);
	return 0;
}
