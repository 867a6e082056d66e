/*
 * feed.h - feeds and sitemaps: one call turns a fetched body into the
 * entries (or child sitemaps) it lists, whatever its format, telling the
 * format by the content (gzip magic, then the root element or JSON), never
 * by a Content-Type that sites get wrong.
 *
 * The parts:
 *   feed_doc.h   the parsed document, limits, dates and URL resolution
 *   feed_xml.c   RSS 2.0, RSS 1.0, Atom, sitemaps and indexes (libxml2)
 *   feed_json.c  JSON Feed (jansson)
 *   feed_find.h  discovery: <link rel=alternate> and the paths to try
 *   feed_poll.h  the adaptive polling interval
 *
 * Everything is pure: no I/O, no logging, no globals; any thread may parse
 * (libxml2 must have been initialised by the program, xmlInitParser()).
 */
#ifndef SLUICE_FEED_H
#define SLUICE_FEED_H

#include <stddef.h>

#include "feed_doc.h"

enum feed_error {
	FEED_OK,
	FEED_ERR_FORMAT,	/* no feed or sitemap format recognised */
	FEED_ERR_GZIP,		/* gzip magic, but nothing inflated */
	FEED_ERR_TOO_BIG,	/* a JSON Feed over max_tree bytes */
	FEED_ERR_NOMEM,
};

/*
 * Parses a fetched body (len bytes, gzipped or not) as a feed or sitemap.
 * base_url is the URL it was fetched from (after redirects): relative URLs
 * resolve against it, and it must outlive the call only.  lim may be NULL
 * for the defaults.
 *
 * At most lim->max_bytes are parsed, after decompression: a longer body,
 * or one that inflates beyond that (a gzip bomb stops inflating there),
 * has its prefix parsed and stats.truncated set.  Corrupt gzip or XML is
 * read as far as it goes (stats.malformed).  A JSON Feed is parsed whole,
 * so one over lim->max_tree is FEED_ERR_TOO_BIG.
 *
 * On FEED_OK, *out is the document (free with feed_doc_free()); else *out
 * is NULL.
 */
enum feed_error feed_parse(const void *body, size_t len,
    const char *base_url, const struct feed_limits *lim,
    struct feed_doc **out);

const char *feed_format_name(enum feed_format f);
const char *feed_error_name(enum feed_error e);

#endif
