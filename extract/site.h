/*
 * site.h - site memory, the library side (the public half is in
 * sluice/extract.h).
 */
#ifndef SLUICE_EXTRACT_SITE_H
#define SLUICE_EXTRACT_SITE_H

#include "sluice/extract.h"

/* The host of url, lower-cased, without "www."; NULL if none.  Free it. */
char *site_of_url(const char *url);

/*
 * Judges the lines of *text (one per '\n') against m under site: drops
 * the repeated ones (replacing *text), fills out->site, site_dropped,
 * site_repeated and site_page.  Returns 0, or -1 out of memory.
 */
int site_apply(struct sluice_site_memory *m, const char *site, char **text,
    struct sluice_extract_doc *out);

void site_page_free(void *p);

#endif
