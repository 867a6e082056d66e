/*
 * feed_doc.h - what a parsed feed or sitemap is: its entries, its child
 * sitemaps, the hints it gives the scheduler, and the limits that bound the
 * parsers; plus the helpers every format's parser shares (bounded appends,
 * dates, relative URLs).  feed.h is the entry point; this is the layer
 * under feed_xml.c and feed_json.c, so that they need not include it.
 *
 * Nothing here logs or touches the network.
 */
#ifndef SLUICE_FEED_DOC_H
#define SLUICE_FEED_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct Curl_URL;	/* libcurl's CURLU */

/* Defaults of struct feed_limits.  sitemaps.org caps a sitemap at 50,000
 * URLs and 50 MB uncompressed, and an index at 50,000 sitemaps. */
#define FEED_MAX_BYTES		(50 * 1024 * 1024)
#define FEED_MAX_ENTRIES	50000
#define FEED_MAX_CHILDREN	50000
#define FEED_MAX_STRING		8192	/* bytes of one URL, title, author */
#define FEED_MAX_TREE	(4 * 1024 * 1024)

/* A date, lastmod or hint the document does not give. */
#define FEED_NO_TIME		(-1)

/*
 * Every bound the parsers obey.  Fill it with feed_limits_default() and
 * change what you need; a zero field means "use the default".
 */
struct feed_limits {
	size_t	max_bytes;	/* document bytes after decompression; the
				 * rest is not read */
	size_t	max_entries;	/* entries kept per document; parsing stops
				 * at the next one */
	size_t	max_children;	/* child sitemaps kept per index */
	size_t	max_string;	/* longer values are dropped, not cut */
	size_t	max_tree;	/* documents held in memory whole, at a
				 * few times their size: a JSON Feed larger
				 * than this is refused (FEED_ERR_TOO_BIG);
				 * malformed XML up to this size is parsed
				 * again as a tree with libxml2's recovery
				 * (the streaming reader stops at the first
				 * error), larger keeps what streamed */
};

enum feed_format {
	FEED_UNKNOWN,
	FEED_RSS2,		/* <rss>: RSS 0.9x and 2.0 */
	FEED_RSS1,		/* <rdf:RDF>: RSS 1.0 (and 0.90) */
	FEED_ATOM,		/* <feed>: Atom 1.0 */
	FEED_JSON,		/* JSON Feed 1.0 and 1.1 */
	FEED_SITEMAP,		/* <urlset> */
	FEED_NEWS_SITEMAP,	/* <urlset> with news:news entries */
	FEED_SITEMAP_INDEX,	/* <sitemapindex> */
};

/* One article (or page) a document lists.  Strings are NUL-terminated
 * UTF-8 owned by the document; the optional ones may be NULL. */
struct feed_entry {
	char	*url;		/* absolute: resolved against the base URL */
	char	*title;
	char	*author;
	int64_t	 date_ms;	/* published (RSS pubDate, Atom published,
				 * dc:date, news:publication_date), epoch
				 * ms, or FEED_NO_TIME */
	int64_t	 lastmod_ms;	/* Atom updated, sitemap lastmod, JSON
				 * date_modified, or FEED_NO_TIME */
};

/* One sitemap a sitemap index lists. */
struct feed_child {
	char	*url;
	int64_t	 lastmod_ms;
};

/*
 * What the document says about how often to poll it, for
 * feed_next_interval() (feed_poll.h).  Each is a period in ms or
 * FEED_NO_TIME.  max_age_ms is the HTTP Cache-Control max-age, which the
 * caller fills in (feed_max_age_ms()).
 */
struct feed_hints {
	int64_t	ttl_ms;		/* RSS 2.0 <ttl>, minutes in the document */
	int64_t	update_ms;	/* sy:updatePeriod / sy:updateFrequency */
	int64_t	max_age_ms;
};

/* What the parser saw and left out. */
struct feed_stats {
	size_t		bytes;		/* bytes parsed, after decompression */
	bool		gzip;		/* the body was gzip-compressed */
	bool		truncated;	/* over max_bytes: only a prefix read */
	bool		malformed;	/* the parser had to recover or stop */
	bool		capped;		/* max_entries or max_children was
					 * reached: the rest was not read */
	unsigned	no_url;		/* entries without a usable URL */
	unsigned	long_strings;	/* values over max_string, dropped */
	unsigned	bad_dates;	/* dates no format matched */
};

struct feed_doc {
	enum feed_format	 format;
	char			*title;		/* the feed's own, or NULL */
	struct feed_entry	*entries;
	size_t			 nentries, capentries;
	struct feed_child	*children;
	size_t			 nchildren, capchildren;
	struct feed_hints	 hints;
	struct feed_stats	 stats;
	/* Private to the parsers. */
	struct feed_limits	 lim;
	const char		*base;		/* URL relative ones resolve
						 * against; not owned */
	struct Curl_URL		*base_u;	/* base, parsed once */
	bool			 base_parsed;
};

/* Fills lim with the FEED_MAX_* defaults above. */
void feed_limits_default(struct feed_limits *lim);

/* Empties d of its entries, children, title and hints, for a second
 * pass over the same bytes; the stats of the bytes (bytes, gzip,
 * truncated, malformed) stay. */
void feed_doc_clear(struct feed_doc *d);

/* Frees a document and everything it owns; NULL is fine. */
void feed_doc_free(struct feed_doc *d);

/* A new empty document with lim (NULL: defaults; zero fields: defaults)
 * and base (kept as a pointer: it must outlive the parse).  NULL when out
 * of memory. */
struct feed_doc *feed_doc_new(const struct feed_limits *lim,
    const char *base);

/*
 * Adds an entry or a child, resolving url against d->base.  The strings
 * are copied; title and author may be NULL.  Returns 1 when added, 0 when
 * skipped (no usable URL: counted in stats.no_url; or over the limit:
 * stats.capped set), -1 when out of memory.
 */
int feed_doc_add_entry(struct feed_doc *d, const char *url,
    const char *title, const char *author, int64_t date_ms,
    int64_t lastmod_ms);
int feed_doc_add_child(struct feed_doc *d, const char *url,
    int64_t lastmod_ms);

/* True once d holds max_entries entries (or max_children children): the
 * parser stops reading. */
bool feed_doc_full(const struct feed_doc *d);

/*
 * Parses a feed date: W3C datetime / RFC 3339 ("2026-12-06",
 * "2026-12-06T20:30Z", "2026-12-06T20:30:05.25+01:00", "2026-12", "2026")
 * or RFC 822 / RFC 1123 as RSS has it ("Sun, 06 Dec 2026 20:30:05 GMT",
 * "+0100", "EST", two-digit years: libcurl's curl_getdate()).  Leading and
 * trailing white space is ignored.  Returns epoch ms, or FEED_NO_TIME.
 */
int64_t feed_parse_date(const char *s);

/*
 * Resolves ref (trimmed of white space) against base with libcurl's URL
 * API, keeping only http and https.  Returns a malloc'd absolute URL, or
 * NULL (not a URL, another scheme, out of memory).  base may be NULL (or
 * not a URL): then ref must be absolute.
 */
char *feed_resolve_url(const char *base, const char *ref);

#endif
