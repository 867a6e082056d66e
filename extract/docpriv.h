/*
 * docpriv.h - what a struct sluice_extract_doc keeps behind its private
 * pointer (d->priv): the page's line fingerprints for the site memory
 * (site.c) and the metadata of sluice_extract_doc_more().  Allocated on
 * first use, freed with the doc.
 */
#ifndef SLUICE_DOCPRIV_H
#define SLUICE_DOCPRIV_H

#include "sluice/extract.h"

struct doc_priv {
	void			*site_page;	/* site.c's, or NULL */
	struct sluice_extract_more more;
};

/* d's private part, made if it has none; NULL when out of memory. */
struct doc_priv *doc_priv(struct sluice_extract_doc *d);
/* The site page of d, or NULL. */
void *doc_site_page(const struct sluice_extract_doc *d);
/* Frees what d->priv holds (site.c's part through site_page_free()). */
void doc_priv_free(void *priv);

#endif
