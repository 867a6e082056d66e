/*
 * fuzz_robots.c - robots_parse() on arbitrary bytes, then a few queries:
 * fixed paths and one taken from the input, with default and with tiny
 * limits so the cut-off paths run too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "robots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *paths[] = {
	"/", "/a", "/a/b?c=d", "/%41%2f%e3%83%84", "/robots.txt", "/x*y$",
	"/index.html", "",
};

static void
query(const struct robots *r, const char *path)
{
	struct robots_verdict v;

	robots_allows(r, "FooBot", path);
	robots_allows(r, "*", path);
	robots_explain(r, NULL, path, &v);
}

static void
run(const uint8_t *data, size_t size, const struct robots_limits *lim,
    const char *own)
{
	char err[64];
	struct robots *r;
	size_t i, n;

	r = robots_parse((const char *)data, size, lim, err, sizeof(err));
	if (r == NULL)
		return;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		query(r, paths[i]);
	query(r, own);
	robots_crawl_delay_ms(r, "foobot");
	robots_crawl_delay_ms(r, "nobody");
	robots_sitemaps(r, &n);
	robots_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct robots_limits tiny = {
		.max_bytes = 256, .max_line = 32, .max_rules = 4,
		.max_agents = 2, .max_sitemaps = 1, .max_path = 16,
		.max_match_steps = 64, .max_crawl_delay_ms = 1500,
	};
	char own[65];
	size_t n = size < 64 ? size : 64;

	/* The input's own first bytes as a path: patterns often match. */
	memcpy(own, data, n);
	own[n] = '\0';
	run(data, size, NULL, own);
	run(data, size, &tiny, own);
	return 0;
}
