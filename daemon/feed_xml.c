/*
 * feed_xml.c - RSS, RDF, Atom and sitemaps through one streaming pass of
 * libxml2's xmlTextReader (see feed_xml.h).
 *
 * The formats differ mostly in names, so one state machine reads them all:
 * the root element names the format and the element that is an entry
 * (item, entry, url, sitemap); inside an entry, a direct child's local name
 * says which field its text fills.  Names are matched without their
 * namespace, as feeds in the wild get namespaces wrong, except where two
 * vocabularies share a name (Atom's <link href> inside RSS).
 *
 * Safety: the reader never loads a DTD or anything from the network, and
 * entities are not substituted (no XML_PARSE_NOENT), so an external entity
 * naming a local file stays an unexpanded reference, which is skipped.
 * libxml2's own limits (no XML_PARSE_HUGE: 10 MB text nodes, depth 256)
 * apply besides ours.
 */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlreader.h>

#include "buf.h"
#include "feed_xml.h"

#define FX_OPTIONS	(XML_PARSE_NONET | XML_PARSE_RECOVER | \
			 XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

#define NS_ATOM		"http://www.w3.org/2005/Atom"
#define NS_RDF		"http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define NS_NEWS		"http://www.google.com/schemas/sitemap-news/0.9"

enum fx_field {
	FX_NONE,
	FX_URL,			/* link text, loc */
	FX_GUID,		/* guid, rdf:about: the URL if no link */
	FX_TITLE,
	FX_AUTHOR,
	FX_DATE,
	FX_LASTMOD,
	FX_FEED_TITLE,		/* outside entries */
	FX_TTL,
	FX_UPDATE_PERIOD,
	FX_UPDATE_FREQ,
};

/* The fields of the entry being read; each keeps its first value. */
struct fx_entry {
	char		*url, *guid, *title, *author;
	int64_t		 date_ms, lastmod_ms;
	bool		 author_named;	/* from Atom's author/name */
};

struct fx {
	struct feed_doc		*d;
	xmlTextReaderPtr	 r;
	const char		*entry_name;	/* item, entry, url, sitemap */
	int			 entry_depth;	/* -1: outside an entry */
	struct fx_entry		 e;
	enum fx_field		 cap;		/* text being captured */
	int			 cap_depth;
	bool			 cap_long;
	struct buf		 text;
	char			*update_period;
	char			*update_freq;
	char			*ttl;
	bool			 nomem;
	bool			 stop;
};

static const struct {
	const char		*root;
	enum feed_format	 format;
	const char		*entry;
} fx_roots[] = {
	{ "rss",		FEED_RSS2,		"item" },
	{ "RDF",		FEED_RSS1,		"item" },
	{ "feed",		FEED_ATOM,		"entry" },
	{ "urlset",		FEED_SITEMAP,		"url" },
	{ "sitemapindex",	FEED_SITEMAP_INDEX,	"sitemap" },
};

/* Direct children of an entry, by local name. */
static const struct {
	const char	*name;
	enum fx_field	 field;
} fx_fields[] = {
	{ "link",		FX_URL },
	{ "loc",		FX_URL },
	{ "guid",		FX_GUID },
	{ "title",		FX_TITLE },
	{ "author",		FX_AUTHOR },
	{ "creator",		FX_AUTHOR },	/* dc:creator */
	{ "pubDate",		FX_DATE },
	{ "published",		FX_DATE },
	{ "issued",		FX_DATE },
	{ "date",		FX_DATE },	/* dc:date */
	{ "updated",		FX_LASTMOD },
	{ "modified",		FX_LASTMOD },
	{ "lastmod",		FX_LASTMOD },
};

/* An attribute of the current element: a copy to xmlFree(), or NULL. */
static char *
fx_attr(struct fx *x, const char *name)
{
	return (char *)xmlTextReaderGetAttribute(x->r,
	    (const xmlChar *)name);
}

/* Copies s into *slot unless it is already set; s is freed either way. */
static void
fx_keep(struct fx *x, char **slot, char *s)
{
	if (*slot == NULL && s != NULL && *s != '\0') {
		*slot = s;
		return;
	}
	free(s);
}

static char *
fx_trimdup(struct fx *x, const char *s)
{
	size_t n;
	char *out;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n > x->d->lim.max_string) {
		x->d->stats.long_strings++;
		return NULL;
	}
	out = strndup(s, n);
	if (out == NULL)
		x->nomem = true;
	return out;
}

static void
fx_entry_clear(struct fx_entry *e)
{
	free(e->url);
	free(e->guid);
	free(e->title);
	free(e->author);
	*e = (struct fx_entry){
		.date_ms = FEED_NO_TIME, .lastmod_ms = FEED_NO_TIME,
	};
}

static void
fx_start_capture(struct fx *x, enum fx_field f, int depth)
{
	x->cap = f;
	x->cap_depth = depth;
	x->cap_long = false;
	buf_reset(&x->text);
}

/* A date field's value: the first that parses wins. */
static void
fx_date(struct fx *x, int64_t *slot, const char *s)
{
	int64_t t;

	if (*slot != FEED_NO_TIME)
		return;
	t = feed_parse_date(s);
	if (t == FEED_NO_TIME)
		x->d->stats.bad_dates++;
	*slot = t;
}

/* The captured text is complete: store it in its field. */
static void
fx_end_capture(struct fx *x)
{
	enum fx_field f = x->cap;
	char *s;

	x->cap = FX_NONE;
	if (x->cap_long) {
		x->d->stats.long_strings++;
		return;
	}
	if (x->text.data == NULL)
		return;
	if (f == FX_DATE || f == FX_LASTMOD) {
		fx_date(x, f == FX_DATE ? &x->e.date_ms : &x->e.lastmod_ms,
		    x->text.data);
		return;
	}
	if ((s = fx_trimdup(x, x->text.data)) == NULL)
		return;
	switch (f) {
	case FX_URL:		fx_keep(x, &x->e.url, s); break;
	case FX_GUID:		fx_keep(x, &x->e.guid, s); break;
	case FX_TITLE:		fx_keep(x, &x->e.title, s); break;
	case FX_AUTHOR:		fx_keep(x, &x->e.author, s); break;
	case FX_FEED_TITLE:	fx_keep(x, &x->d->title, s); break;
	case FX_TTL:		fx_keep(x, &x->ttl, s); break;
	case FX_UPDATE_PERIOD:	fx_keep(x, &x->update_period, s); break;
	case FX_UPDATE_FREQ:	fx_keep(x, &x->update_freq, s); break;
	default:		free(s); break;
	}
}

/* <link href="..." rel="..."/>: Atom's, also inside RSS items. */
static void
fx_atom_link(struct fx *x, char *href)
{
	char *rel = fx_attr(x, "rel");

	if (rel == NULL || strcmp(rel, "alternate") == 0)
		fx_keep(x, &x->e.url, fx_trimdup(x, href));
	xmlFree(rel);
}

static void
fx_root(struct fx *x, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(fx_roots) / sizeof(fx_roots[0]); i++)
		if (strcmp(name, fx_roots[i].root) == 0) {
			x->d->format = fx_roots[i].format;
			x->entry_name = fx_roots[i].entry;
			return;
		}
	x->stop = true;		/* not a feed: an HTML page, say */
}

static void
fx_start_entry(struct fx *x, int depth)
{
	char *about;

	if (feed_doc_full(x->d)) {
		x->d->stats.capped = true;
		x->stop = true;
		return;
	}
	fx_entry_clear(&x->e);
	x->entry_depth = depth;
	if (x->d->format == FEED_RSS1 &&
	    (about = (char *)xmlTextReaderGetAttributeNs(x->r,
	    (const xmlChar *)"about", (const xmlChar *)NS_RDF)) != NULL) {
		fx_keep(x, &x->e.guid, fx_trimdup(x, about));
		xmlFree(about);
	}
}

/* An element inside an entry: its field, if it names one. */
static void
fx_entry_child(struct fx *x, const char *name, const char *ns, int depth)
{
	enum fx_field f = FX_NONE;
	char *a;
	size_t i;

	if (x->cap == FX_AUTHOR && strcmp(name, "name") == 0 &&
	    !x->e.author_named) {
		/* Atom: <author><name>..</name><email>..</email></author> */
		x->e.author_named = true;
		fx_start_capture(x, FX_AUTHOR, depth);
		return;
	}
	if (x->cap != FX_NONE)
		return;
	if (depth == x->entry_depth + 2 && ns != NULL &&
	    strcmp(ns, NS_NEWS) == 0) {
		/* news:news/news:publication_date, news:news/news:title */
		if (strcmp(name, "publication_date") == 0)
			fx_start_capture(x, FX_DATE, depth);
		else if (strcmp(name, "title") == 0)
			fx_start_capture(x, FX_TITLE, depth);
		return;
	}
	if (depth != x->entry_depth + 1)
		return;
	if (ns != NULL && strcmp(ns, NS_NEWS) == 0) {
		if (strcmp(name, "news") == 0)
			x->d->format = FEED_NEWS_SITEMAP;
		return;
	}
	for (i = 0; i < sizeof(fx_fields) / sizeof(fx_fields[0]); i++)
		if (strcmp(name, fx_fields[i].name) == 0) {
			f = fx_fields[i].field;
			break;
		}
	if (f == FX_URL && (a = fx_attr(x, "href")) != NULL) {
		fx_atom_link(x, a);
		xmlFree(a);
		return;
	}
	if (f == FX_URL && ns != NULL && strcmp(ns, NS_ATOM) == 0 &&
	    x->d->format != FEED_ATOM)
		return;
	if (f == FX_GUID && (a = fx_attr(x, "isPermaLink")) != NULL) {
		bool perma = strcmp(a, "false") != 0;

		xmlFree(a);
		if (!perma)
			return;
	}
	if (f == FX_AUTHOR)
		x->e.author_named = false;
	if (f != FX_NONE)
		fx_start_capture(x, f, depth);
}

/* An element outside entries: the feed's title and polling hints. */
static void
fx_feed_child(struct fx *x, const char *name, int depth)
{
	if (x->cap != FX_NONE || depth > 2)
		return;
	if (strcmp(name, "title") == 0)
		fx_start_capture(x, FX_FEED_TITLE, depth);
	else if (strcmp(name, "ttl") == 0)
		fx_start_capture(x, FX_TTL, depth);
	else if (strcmp(name, "updatePeriod") == 0)
		fx_start_capture(x, FX_UPDATE_PERIOD, depth);
	else if (strcmp(name, "updateFrequency") == 0)
		fx_start_capture(x, FX_UPDATE_FREQ, depth);
}

static void
fx_end_entry(struct fx *x)
{
	const char *url = x->e.url != NULL ? x->e.url : x->e.guid;
	int rc;

	x->entry_depth = -1;
	if (x->d->format == FEED_SITEMAP_INDEX)
		rc = feed_doc_add_child(x->d, url, x->e.lastmod_ms);
	else
		rc = feed_doc_add_entry(x->d, url, x->e.title, x->e.author,
		    x->e.date_ms, x->e.lastmod_ms);
	if (rc == -1)
		x->nomem = true;
	fx_entry_clear(&x->e);
}

static void
fx_start(struct fx *x)
{
	const char *name, *ns;
	int depth;

	name = (const char *)xmlTextReaderConstLocalName(x->r);
	ns = (const char *)xmlTextReaderConstNamespaceUri(x->r);
	depth = xmlTextReaderDepth(x->r);
	if (name == NULL)
		return;
	if (depth == 0) {
		fx_root(x, name);
		return;
	}
	if (x->entry_depth < 0 && x->cap == FX_NONE &&
	    strcmp(name, x->entry_name) == 0)
		fx_start_entry(x, depth);
	else if (x->entry_depth >= 0)
		fx_entry_child(x, name, ns, depth);
	else
		fx_feed_child(x, name, depth);
}

static void
fx_end(struct fx *x)
{
	int depth = xmlTextReaderDepth(x->r);

	if (x->cap != FX_NONE && depth == x->cap_depth)
		fx_end_capture(x);
	if (x->entry_depth >= 0 && depth == x->entry_depth)
		fx_end_entry(x);
}

static void
fx_text(struct fx *x)
{
	const char *v;

	if (x->cap == FX_NONE || x->cap_long)
		return;
	v = (const char *)xmlTextReaderConstValue(x->r);
	if (v != NULL && buf_append(&x->text, v, strlen(v)) == -1)
		x->cap_long = true;
}

/*
 * libxml2 reports each error here rather than on stderr (XML_PARSE_NOERROR
 * only silences some): any error means the document needed recovery.
 */
static void
fx_error(void *arg, xmlErrorPtr err)
{
	struct fx *x = arg;

	if (err != NULL && err->level >= XML_ERR_ERROR)
		x->d->stats.malformed = true;
}

/* "30" (minutes) and sy:updatePeriod / updateFrequency to ms. */
static void
fx_hints(struct fx *x)
{
	static const struct { const char *name; int64_t ms; } periods[] = {
		{ "hourly", 3600000LL }, { "daily", 86400000LL },
		{ "weekly", 7 * 86400000LL }, { "monthly", 30 * 86400000LL },
		{ "yearly", 365 * 86400000LL },
	};
	struct feed_hints *h = &x->d->hints;
	long v;
	size_t i;
	char *end;

	if (x->ttl != NULL) {
		v = strtol(x->ttl, &end, 10);
		/* A year at most: anything longer is not a polling hint. */
		if (*end == '\0' && v > 0 && v <= 525600)
			h->ttl_ms = (int64_t)v * 60000;
	}
	if (x->update_period == NULL)
		return;
	for (i = 0; i < sizeof(periods) / sizeof(periods[0]); i++)
		if (strcmp(x->update_period, periods[i].name) == 0)
			h->update_ms = periods[i].ms;
	if (h->update_ms != FEED_NO_TIME && x->update_freq != NULL) {
		v = strtol(x->update_freq, &end, 10);
		if (*end == '\0' && v > 0 && v <= 1000000)
			h->update_ms /= v;
	}
}

/*
 * One pass of the state machine over reader r (which it frees): a stream
 * over the bytes, or a walk over a recovered tree (which has no parser to
 * report errors).  Returns 0, or -1 when
 * out of memory.
 */
static int
fx_pass(struct feed_doc *d, xmlTextReaderPtr r, bool stream)
{
	struct fx x = {
		.d = d, .r = r, .entry_depth = -1, .cap = FX_NONE,
	};
	int rc = 0, type;

	if (r == NULL)
		return -1;
	buf_init(&x.text, d->lim.max_string);
	fx_entry_clear(&x.e);
	if (stream)
		xmlTextReaderSetStructuredErrorHandler(r, fx_error, &x);
	while (!x.stop && !x.nomem && (rc = xmlTextReaderRead(r)) == 1) {
		type = xmlTextReaderNodeType(r);
		if (type == XML_READER_TYPE_ELEMENT) {
			fx_start(&x);
			if (xmlTextReaderIsEmptyElement(r) == 1)
				fx_end(&x);
		} else if (type == XML_READER_TYPE_END_ELEMENT)
			fx_end(&x);
		else if (type == XML_READER_TYPE_TEXT ||
		    type == XML_READER_TYPE_CDATA ||
		    type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE)
			fx_text(&x);
	}
	if (!x.stop && !x.nomem && rc != 0)
		d->stats.malformed = true;
	/* An entry cut off by the end of a broken document still counts. */
	if (x.entry_depth >= 0 && !x.nomem) {
		if (x.cap != FX_NONE)
			fx_end_capture(&x);
		d->stats.malformed = true;
		fx_end_entry(&x);
	}
	fx_hints(&x);
	fx_entry_clear(&x.e);
	free(x.ttl);
	free(x.update_period);
	free(x.update_freq);
	buf_free(&x.text);
	xmlFreeTextReader(r);
	return x.nomem ? -1 : 0;
}

/* Silences a tree parse's errors (they were counted by the stream). */
static void
fx_quiet(void *arg, xmlErrorPtr err)
{
}

/*
 * The streaming reader stops at the first well-formedness error, whatever
 * XML_PARSE_RECOVER says, so a feed with one stray tag would lose all its
 * later entries (and all of them if the error comes before the reader's
 * first 512-byte chunk is out).  A small malformed document is parsed
 * again as a tree with the parser's recovery, and walked by the same
 * state machine; the tree costs memory a few times the document's, hence
 * max_tree.
 */
static int
fx_recover(struct feed_doc *d, const char *xml, int len)
{
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int rc = 0;

	if ((ctxt = xmlNewParserCtxt()) == NULL)
		return -1;
	ctxt->sax->serror = fx_quiet;
	doc = xmlCtxtReadMemory(ctxt, xml, len, d->base, NULL, FX_OPTIONS);
	xmlFreeParserCtxt(ctxt);
	if (doc == NULL)
		return 0;	/* nothing recovered: keep what streamed */
	feed_doc_clear(d);
	d->stats.malformed = true;
	rc = fx_pass(d, xmlReaderWalker(doc), false);
	xmlFreeDoc(doc);
	return rc;
}

int
feed_xml_parse(struct feed_doc *d, const char *xml, size_t len)
{
	if (len > (size_t)INT_MAX)
		len = INT_MAX;
	if (fx_pass(d, xmlReaderForMemory(xml, (int)len, d->base, NULL,
	    FX_OPTIONS), true) == -1)
		return -1;
	if (d->stats.malformed && !d->stats.capped &&
	    len <= d->lim.max_tree)
		return fx_recover(d, xml, (int)len);
	return 0;
}
