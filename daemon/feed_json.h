/*
 * feed_json.h - JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1)
 * with jansson, bounded by the document's limits.
 */
#ifndef SLUICE_FEED_JSON_H
#define SLUICE_FEED_JSON_H

#include <stddef.h>

#include "feed_doc.h"

/*
 * Parses len bytes of JSON into d (made by feed_doc_new(), empty).  A
 * document that is not JSON, or JSON without a jsonfeed.org "version",
 * leaves d->format FEED_UNKNOWN (invalid JSON also sets
 * d->stats.malformed).  Returns 0, or -1 when out of memory.
 */
int feed_json_parse(struct feed_doc *d, const char *json, size_t len);

#endif
