/*
 * fuzz_url.c - url_canonicalize_n on arbitrary bytes: no crash, no leak,
 * and every accepted URL is a fixed point (canonical twice == once), has a
 * origin, and is on the same site as itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const extra[] = { "ref", "sess*", NULL };
	struct url_opts o;
	char *once = NULL, *twice = NULL, *origin = NULL;

	url_opts_default(&o);
	o.strip_params = extra;
	if (url_canonicalize_n((const char *)data, size, &o, &once) != URL_OK)
		return 0;
	if (url_canonicalize(once, &o, &twice) != URL_OK ||
	    strcmp(once, twice) != 0)
		abort();
	if (strlen(once) > o.max_length)
		abort();
	if (url_origin(once, &origin) != URL_OK || !url_same_site(once, once))
		abort();
	free(origin);
	free(twice);
	free(once);
	return 0;
}
