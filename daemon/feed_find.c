/*
 * feed_find.c - feed and sitemap discovery (see feed_find.h).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>

#include "feed_doc.h"
#include "feed_find.h"

#define FEED_FIND_HTML_OPTIONS	(HTML_PARSE_NONET | HTML_PARSE_RECOVER | \
				 HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | \
				 HTML_PARSE_NOIMPLIED | HTML_PARSE_COMPACT)

/* Sitemaps first, as the issue orders them; then the feed paths of the
 * common engines (WordPress /feed, Hugo /index.xml, Jekyll /feed.xml,
 * Ghost /rss, Blogger /atom.xml) and trafilatura's sitemap guesses. */
const char *const feed_find_paths[] = {
	"/sitemap.xml",
	"/sitemap_index.xml",
	"/sitemap_news.xml",
	"/sitemap.xml.gz",
	"/feed",
	"/rss",
	"/feed.xml",
	"/rss.xml",
	"/atom.xml",
	"/index.xml",
	"/feed.json",
	NULL,
};

static const char *const feed_find_types[] = {
	"application/rss+xml",
	"application/atom+xml",
	"application/rdf+xml",
	"application/feed+json",
	NULL,
};

void
feed_find_init(struct feed_find *f, size_t max)
{
	*f = (struct feed_find){ .max = max != 0 ? max : FEED_FIND_MAX };
}

void
feed_find_free(struct feed_find *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->items[i].url);
	free(f->items);
	f->items = NULL;
	f->n = f->cap = 0;
}

int
feed_find_add(struct feed_find *f, const char *base, const char *ref,
    enum feed_find_origin origin)
{
	struct feed_find_item *p;
	char *url;
	size_t i;

	if (f->n >= f->max)
		return 0;
	if ((url = feed_resolve_url(base, ref)) == NULL)
		return 0;
	for (i = 0; i < f->n; i++)
		if (strcmp(f->items[i].url, url) == 0) {
			free(url);
			return 0;
		}
	if (f->n == f->cap) {
		p = reallocarray(f->items, f->cap == 0 ? 8 : f->cap * 2,
		    sizeof(*p));
		if (p == NULL) {
			free(url);
			return -1;
		}
		f->items = p;
		f->cap = f->cap == 0 ? 8 : f->cap * 2;
	}
	f->items[f->n++] = (struct feed_find_item){
		.url = url, .origin = origin,
	};
	return 1;
}

/* Does the space-separated rel list hold "alternate"? */
static bool
feed_find_rel_alternate(const char *rel)
{
	const char *p = rel;
	size_t n;

	while (*p != '\0') {
		p += strspn(p, " \t\r\n\f");
		n = strcspn(p, " \t\r\n\f");
		if (n == 9 && strncasecmp(p, "alternate", 9) == 0)
			return true;
		p += n;
	}
	return false;
}

/* Is type (maybe with parameters, "application/rss+xml; charset=x") a
 * feed's media type? */
static bool
feed_find_feed_type(const char *type)
{
	size_t i, n;

	type += strspn(type, " \t");
	n = strcspn(type, " \t;");
	for (i = 0; feed_find_types[i] != NULL; i++)
		if (strlen(feed_find_types[i]) == n &&
		    strncasecmp(type, feed_find_types[i], n) == 0)
			return true;
	return false;
}

static char *
feed_find_prop(xmlNodePtr n, const char *name)
{
	return (char *)xmlGetProp(n, (const xmlChar *)name);
}

/* The next element after n in document order; no recursion, since a
 * hostile page nests deeply. */
static xmlNodePtr
feed_find_next(xmlNodePtr n)
{
	if (n->children != NULL && n->type == XML_ELEMENT_NODE)
		return n->children;
	while (n != NULL && n->next == NULL)
		n = n->parent;
	return n != NULL ? n->next : NULL;
}

/* The first <base href> resolved against page_url, or NULL. */
static char *
feed_find_base(xmlNodePtr root, const char *page_url)
{
	xmlNodePtr n;
	char *href, *url;

	for (n = root; n != NULL; n = feed_find_next(n)) {
		if (n->type != XML_ELEMENT_NODE ||
		    strcasecmp((const char *)n->name, "base") != 0)
			continue;
		if ((href = feed_find_prop(n, "href")) == NULL)
			continue;
		url = feed_resolve_url(page_url, href);
		xmlFree(href);
		return url;
	}
	return NULL;
}

/* One <link>: adds its href if it is a feed; 1, 0 or -1 (ENOMEM). */
static int
feed_find_link(struct feed_find *f, xmlNodePtr n, const char *base)
{
	char *rel, *type, *href;
	int rc = 0;

	rel = feed_find_prop(n, "rel");
	type = feed_find_prop(n, "type");
	href = feed_find_prop(n, "href");
	if (rel != NULL && type != NULL && href != NULL &&
	    feed_find_rel_alternate(rel) && feed_find_feed_type(type))
		rc = feed_find_add(f, base, href, FEED_FIND_LINK);
	xmlFree(rel);
	xmlFree(type);
	xmlFree(href);
	return rc;
}

int
feed_find_links(struct feed_find *f, const char *html, size_t len,
    const char *page_url)
{
	htmlDocPtr doc;
	xmlNodePtr root, n;
	char *base;
	int rc, added = 0;

	if (len > INT_MAX)
		len = INT_MAX;
	doc = htmlReadMemory(html, (int)len, page_url, NULL,
	    FEED_FIND_HTML_OPTIONS);
	if (doc == NULL)
		return 0;	/* nothing parseable: no links */
	root = xmlDocGetRootElement(doc);
	base = feed_find_base(root, page_url);
	for (n = root; n != NULL; n = feed_find_next(n)) {
		if (n->type != XML_ELEMENT_NODE ||
		    strcasecmp((const char *)n->name, "link") != 0)
			continue;
		rc = feed_find_link(f, n, base != NULL ? base : page_url);
		if (rc == -1) {
			added = -1;
			break;
		}
		added += rc;
	}
	free(base);
	xmlFreeDoc(doc);
	return added;
}

int
feed_find_sources(struct feed_find *f, const struct robots *r,
    const char *html, size_t len, const char *page_url)
{
	const char *const *maps = NULL;
	size_t i, n = 0;

	if (r != NULL)
		maps = robots_sitemaps(r, &n);
	for (i = 0; i < n; i++)
		if (feed_find_add(f, page_url, maps[i], FEED_FIND_ROBOTS) == -1)
			return -1;
	if (html != NULL && feed_find_links(f, html, len, page_url) == -1)
		return -1;
	for (i = 0; feed_find_paths[i] != NULL; i++)
		if (feed_find_add(f, page_url, feed_find_paths[i],
		    FEED_FIND_GUESS) == -1)
			return -1;
	return (int)f->n;
}
