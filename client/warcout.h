/*
 * warcout.h - sluicectl export --format warc: the exported documents as a
 * WARC 1.1 stream, the shape of Common Crawl's WET files.  A warcinfo
 * record first, then one record of clean text per document: "conversion",
 * linked by WARC-Refers-To to the response record sluiced captured
 * (warc_record_id), or "resource" when capture was off.  Each record is
 * its own gzip member.
 */
#ifndef SLUICE_WARCOUT_H
#define SLUICE_WARCOUT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "warcrec.h"

struct warcout {
	FILE			*out;
	struct warcrec_coder	 k;
	struct buf		 rec;
	uint64_t		 written;
	uint64_t		 skipped;	/* copies without their own text */
};

/* Opens the stream on out and writes its warcinfo.  0 or -1. */
int warcout_begin(struct warcout *w, FILE *out, const char *version);
/* Writes the record of one document (a "doc" object).  0, or -1 when out
 * of memory or out refused it.  An exact copy, whose text is its first
 * document's, is left out and counted in skipped. */
int warcout_doc(struct warcout *w, const json_t *doc);
void warcout_end(struct warcout *w);

#endif
