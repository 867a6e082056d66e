/*
 * feed_find.h - discovering a site's feeds and sitemaps, in the order
 * `site add` tries them (issue 14): the Sitemap: lines of its robots.txt,
 * then the <link rel="alternate"> feeds of the given page, then the usual
 * paths (/sitemap.xml, /sitemap_index.xml, /feed, ...).
 *
 * Pure: the caller fetches robots.txt and the page; nothing here logs or
 * touches the network.
 */
#ifndef SLUICE_FEED_FIND_H
#define SLUICE_FEED_FIND_H

#include <stddef.h>

#include "robots.h"

/* Default cap on the URLs one discovery returns. */
#define FEED_FIND_MAX	64

/* Where a candidate came from. */
enum feed_find_origin {
	FEED_FIND_ROBOTS,	/* a Sitemap: line of robots.txt */
	FEED_FIND_LINK,		/* <link rel="alternate" type="..."> */
	FEED_FIND_GUESS,	/* one of feed_find_paths[] */
};

struct feed_find_item {
	char			*url;	/* absolute http(s) URL */
	enum feed_find_origin	 origin;
};

/* A list of distinct candidate URLs, in discovery order. */
struct feed_find {
	struct feed_find_item	*items;
	size_t			 n, cap;
	size_t			 max;	/* later candidates are dropped */
};

/* The paths tried last, resolved against the site's root, NULL-ended. */
extern const char *const feed_find_paths[];

/* An empty list that keeps at most max (0: FEED_FIND_MAX) candidates. */
void feed_find_init(struct feed_find *f, size_t max);
void feed_find_free(struct feed_find *f);

/*
 * Adds ref resolved against base (feed_resolve_url()) unless it is not an
 * http(s) URL, is already listed, or the list is full.  Returns 1 when
 * added, 0 when not, -1 when out of memory.
 */
int feed_find_add(struct feed_find *f, const char *base, const char *ref,
    enum feed_find_origin origin);

/*
 * Adds the hrefs of an HTML page's <link rel="alternate"> elements whose
 * type is application/rss+xml, application/atom+xml, application/rdf+xml
 * or application/feed+json, resolved against the page's <base href> if
 * any, else page_url.  application/json is not taken: WordPress marks its
 * REST API with it.  The HTML is parsed with
 * libxml2's HTML parser (recovering, no network).  Returns the number
 * added, or -1 when out of memory.
 */
int feed_find_links(struct feed_find *f, const char *html, size_t len,
    const char *page_url);

/*
 * The whole discovery for `site add`: robots' Sitemap: lines (r may be
 * NULL), then the page's feed links (html may be NULL), then
 * feed_find_paths[] on page_url's host.  Returns the number of candidates
 * in f, or -1 when out of memory.
 */
int feed_find_sources(struct feed_find *f, const struct robots *r,
    const char *html, size_t len, const char *page_url);

#endif
