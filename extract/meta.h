/*
 * meta.h - page metadata from a parsed HTML document: title, author,
 * publication date, site name, description, language, canonical URL, and
 * the JSON-LD articleBody (a hint for the main-text pass).
 *
 * Sources, strongest first: JSON-LD (schema.org Article types, @graph and
 * arrays flattened), OpenGraph and other <meta> tags, microdata
 * (itemprop), then heuristics (<title> splitting, the sole <h1>, <time>,
 * a date in the URL, the host name).
 *
 * Reentrant: no global state.  jansson must have its hash seed set before
 * threads start (json_object_seed(0) once in main), as its documentation
 * asks; libxml2 needs xmlInitParser() once (see html.h).
 */
#ifndef SLUICE_META_H
#define SLUICE_META_H

#include <stddef.h>

#include <libxml/tree.h>

struct meta_opts {
	/* Longest field value kept, in bytes (default 2048); longer values
	 * are cut at a character boundary.  articleBody is not cut. */
	size_t	max_field;
	/* Largest JSON-LD script parsed, in bytes (default 1 MiB). */
	size_t	max_jsonld;
	/* Elements looked at, at most (default 200000). */
	size_t	max_nodes;
};

/* Every string is malloc'd UTF-8 or NULL; meta_free() frees them. */
struct meta {
	char	*title;
	char	*author;
	char	*date;		/* ISO 8601: YYYY-MM-DD or with time */
	char	*sitename;
	char	*description;
	char	*language;	/* as declared (BCP 47-ish), or NULL */
	char	*canonical_url;	/* absolute, same site as the page URL */
	char	*article_body;	/* JSON-LD articleBody, or NULL */
	char	*date_raw;	/* the date as the page wrote it */
	char	*image;		/* og:image, twitter:image, JSON-LD image */
	char	*pagetype;	/* og:type */
	char	*license;	/* rel=license, JSON-LD license, dc.rights */
	char	**authors;	/* each author when known apart (else the
				   author alone), page order */
	size_t	 nauthors;
	char	**categories;	/* article:section, JSON-LD articleSection */
	size_t	 ncategories;
	char	**tags;		/* article:tag, keywords, JSON-LD keywords */
	size_t	 ntags;
	char	*title_raw;	/* the <title> text, whole */
	char	*h1;		/* text of the first <h1> */
	unsigned h1_count;
};

/* Fills o with the defaults stated above. */
void meta_opts_default(struct meta_opts *o);

/*
 * Reads the metadata of doc.  url is the page URL (may be NULL: then a
 * canonical URL is accepted if absolute http(s)).  Returns 0, or -1 with err
 * set on out-of-memory; fields that are not found stay NULL.
 */
int meta_read(xmlDoc *doc, const char *url, const struct meta_opts *o,
    struct meta *m, char *err, size_t errlen);

/* Frees every field and zeroes m. */
void meta_free(struct meta *m);

/*
 * Normalises a date as pages write it (ISO 8601, "2023/05/01", RFC 2822,
 * "May 1, 2023", "1. Mai 2023", "01.05.2023"...) into out (at least 32
 * bytes): RFC 3339, "YYYY-MM-DDTHH:MM:SS" plus "Z" or "+HH:MM", when the
 * input has a time and its offset (GMT and UTC are Z); else the date
 * alone, "YYYY-MM-DD" (a time with no offset is in no known zone).
 * Returns 0, or -1 if no plausible date (years 1990-2099) is found.
 */
int meta_date_normalize(const char *in, char *out, size_t outlen);

/*
 * True if both absolute URLs are http(s) on the same site: equal hosts
 * after dropping "www.", or the same registrable part (the last two labels,
 * three when the second-level label is a short generic one like co.uk).
 */
int meta_same_site(const char *a, const char *b);

/*
 * Guesses the language of UTF-8 text from its script (ja, zh, ko, ru, uk,
 * ar, he, el, th, hi...) or, for Latin script, from counts of common
 * function words (en, de, fr, es, it, pt, nl, pl, sv, da, cs, tr, fi, hu,
 * ro...).  Looks at the first 16 kB.  Returns a static ISO 639-1 code, or
 * NULL when unsure.
 */
const char *meta_guess_language(const char *text, size_t len);

#endif
