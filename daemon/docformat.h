/*
 * docformat.h - a stored document (docs/protocol.md, "doc") in the other
 * shapes export writes: trafilatura's JSON output.
 */
#ifndef SLUICE_DOCFORMAT_H
#define SLUICE_DOCFORMAT_H

#include <stddef.h>

enum doc_format {
	DOC_FORMAT_JSONL,	/* the document as stored */
	DOC_FORMAT_TRAFILATURA,	/* trafilatura's JSON field names */
};

/* "jsonl" or "trafilatura" to its format: 0, or -1 for any other name. */
int doc_format_parse(const char *name, enum doc_format *f);

/*
 * The stored document json[0..len) as trafilatura's JSON output writes it
 * (docs/protocol.md gives the mapping): compact JSON in a new string of
 * *outlen bytes, or NULL when json is not a document or out of memory.
 */
char *doc_format_trafilatura(const char *json, size_t len, size_t *outlen);

#endif
