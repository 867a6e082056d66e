/*
 * fuzz_feed_find.c - feed discovery on an arbitrary HTML page
 * (feed_find_links(), through libxml2's HTML parser), and the small
 * string parsers on the input's first line: feed dates, Cache-Control
 * max-age, and URL resolution.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "feed_doc.h"
#include "feed_find.h"
#include "feed_poll.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	xmlInitParser();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct feed_find f;
	struct feed_hints h = {
		.ttl_ms = FEED_NO_TIME, .update_ms = FEED_NO_TIME,
	};
	char line[256];
	size_t n, i;
	char *u;

	feed_find_init(&f, 8);
	if (feed_find_links(&f, (const char *)data, size,
	    "http://127.0.0.1/home/") >= 0)
		for (i = 0; i < f.n; i++)
			if (strncmp(f.items[i].url, "http", 4) != 0)
				abort();
	feed_find_free(&f);

	n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	memcpy(line, data, n);
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	(void)feed_parse_date(line);
	h.max_age_ms = feed_max_age_ms(line);
	if (feed_next_interval((int64_t)n * 1000, (unsigned)size, NULL, &h) <
	    FEED_MIN_INTERVAL_MS)
		abort();
	u = feed_resolve_url("http://127.0.0.1/a/b", line);
	free(u);
	return 0;
}
