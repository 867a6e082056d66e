/*
 * feed_xml.h - the XML feeds and sitemaps (RSS 2.0, RSS 1.0, Atom 1.0,
 * sitemaps, news sitemaps, sitemap indexes) read with libxml2's streaming
 * reader, XXE-safe and bounded by the document's limits.
 */
#ifndef SLUICE_FEED_XML_H
#define SLUICE_FEED_XML_H

#include <stddef.h>

#include "feed_doc.h"

/*
 * Parses len bytes of XML into d (made by feed_doc_new(), empty), setting
 * d->format from the root element; an unknown root leaves FEED_UNKNOWN and
 * no entries.  Malformed input is read as far as libxml2's recovery goes
 * (d->stats.malformed).  Returns 0, or -1 when out of memory.
 */
int feed_xml_parse(struct feed_doc *d, const char *xml, size_t len);

#endif
