/*
 * docjson.h - the JSON fields of struct sluice_extract_more, as sluiced's
 * documents and sluice-extract --json both write them (docs/protocol.md).
 * Not part of the installed library: a helper of the two programs.
 */
#ifndef SLUICE_DOCJSON_H
#define SLUICE_DOCJSON_H

#include <jansson.h>

#include "sluice/extract.h"

/* Sets date_raw, image, pagetype, license (string or null) and authors,
 * categories, tags (arrays, maybe empty) on o. */
void docjson_more(json_t *o, const struct sluice_extract_more *m);

#endif
