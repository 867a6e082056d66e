/*
 * sluice/extract.h - libsluice-extract, the cleaner: one fetched page
 * (bytes, URL, Content-Type) in, its main text and metadata out.
 *
 * This is the library's one public header; it needs only the C library's
 * <stdbool.h> and <stddef.h>.  Build against it with
 *	cc prog.c $(pkg-config --cflags --libs sluice-extract)
 * (add --static to pkg-config to link libsluice-extract.a).  Every public
 * name starts with sluice_ or SLUICE_; see sluice_extract(3).
 *
 * HTML is decoded to UTF-8 (meta charset, BOM, or detection; UTF-16 with a
 * byte order mark is decoded), parsed with libxml2, its metadata read, and
 * its main content found by scoring the DOM (Readability-style container
 * choice, then boilerplate removal inside the container by class/id tokens,
 * link density and wording).  text/plain is normalised and passed through;
 * any other type is refused with SLUICE_EXTRACT_UNSUPPORTED.
 *
 * THREADS: sluice_extract_page() is reentrant, so any number of threads
 * may call it at once on different documents, provided the program called
 * sluice_extract_init() and json_object_seed(0) (jansson's hash seed) once
 * from its main thread before starting them; such a program links jansson
 * itself.  A single-threaded program needs neither call.  A struct
 * sluice_extract_doc belongs to one thread at a time.
 *
 * MEMORY: each thread builds a page's tree in a region of its own, given
 * back whole when the page is done (libxml2's allocation functions are
 * pointed at it through xmlMemSetup(); outside a region, and for memory
 * the region did not hand out, they are the C library's, so the program's
 * other libxml2 use is unchanged).  A thread keeps one chunk of at most
 * 4 MiB between pages.  A program that set libxml2's allocation functions
 * itself keeps them, and the cleaner then allocates through them.
 *
 * BOUNDS: input over max_input bytes is refused (SLUICE_EXTRACT_TOO_LARGE);
 * walks are iterative (no recursion on document depth) and stop after
 * max_nodes nodes; the text is cut at max_output bytes.  Every page also
 * runs under a budget (struct sluice_extract_budget below; the defaults
 * with sluice_extract_page()): a start tag with more than max_attributes
 * attributes, end tags over max_tag_work, or a page that takes over
 * max_seconds of the thread's CPU time, ends with
 * SLUICE_EXTRACT_TOO_COMPLEX; parsing stops after
 * max_elements elements (the rest of the page is ignored, as walks
 * ignore what is past max_nodes); elements nested deeper than max_depth
 * are flattened into their ancestor at that depth, their text kept
 * (libxml2 would stop parsing at depth 256 and drop the rest of the
 * page).  Memory is dominated by libxml2's tree, which max_elements,
 * min_elements and bytes_per_element bound: at most about 16 times the
 * input size plus a fixed base of some 25 MiB, process included
 * (docs/benchmarks.md measures it on pathological pages).
 */
#ifndef SLUICE_EXTRACT_H
#define SLUICE_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

/* Marks the library's exported functions: the shared library is built
 * with hidden visibility, so only these are visible in it. */
#if defined(__GNUC__) || defined(__clang__)
#define SLUICE_EXTRACT_API __attribute__((visibility("default")))
#else
#define SLUICE_EXTRACT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

enum sluice_extract_status {
	SLUICE_EXTRACT_OK = 0,
	/* No main text found (metadata may be set). */
	SLUICE_EXTRACT_EMPTY,
	/* unsupported_content_type: PDF, images... */
	SLUICE_EXTRACT_UNSUPPORTED,
	/* Input over max_input. */
	SLUICE_EXTRACT_TOO_LARGE,
	/* Out of memory, unparseable. */
	SLUICE_EXTRACT_ERROR,
	/* Over the budget: too many attributes in one tag, or over
	 * max_seconds of CPU time (struct sluice_extract_budget). */
	SLUICE_EXTRACT_TOO_COMPLEX,
	/* The budget's interrupt callback asked to stop. */
	SLUICE_EXTRACT_CANCELLED,
};

struct sluice_site_memory;

struct sluice_extract_opts {
	/* Largest input in bytes (default 16 MiB). */
	size_t	max_input;
	/* Nodes (elements and text) walked per pass, at most (default
	 * 200000); the rest of a bigger document is ignored. */
	size_t	max_nodes;
	/* Largest text output in bytes (default 4 MiB). */
	size_t	max_output;
	/* Bytes searched for <meta charset> (default 8192). */
	size_t	charset_prescan;
	/* Main text under this many characters makes the cleaner retry with
	 * looser rules, keeping the longest result (default 500). */
	size_t	min_text;
	/* Keep image captions (figcaption) in the text (default false: the
	 * human-annotated references leave them out). */
	bool	keep_captions;
	/* Site memory (default NULL: off): lines of the main text that the
	 * memory saw on site_min_pages or more other pages of the site are
	 * dropped as the site's boilerplate; see sluice_site_memory_new().
	 * Extraction only reads it; record the page afterwards with
	 * sluice_site_memory_record(). */
	struct sluice_site_memory *site_memory;
	/* The page's site for site_memory (default NULL: the host of the
	 * canonical URL, else of the url argument, without "www."). */
	const char *site;
	/* Fill doc.comments with the page's comment thread (default false).
	 * Comments never go into text either way. */
	bool	include_comments;
};

/* Every string is UTF-8, NUL-terminated, owned by the doc, or NULL. */
struct sluice_extract_doc {
	char	*title;
	char	*text;		/* main text, one paragraph per line */
	char	*author;
	char	*date;		/* RFC 3339 with a known offset, else YYYY-MM-DD */
	char	*sitename;
	char	*description;
	char	*language;	/* declared, else detected; NULL if unknown */
	char	*canonical_url;
	char	*charset;	/* detected input charset (iconv name) */
	size_t	 word_count;	/* words of text (a CJK character is one) */
	/* With opts.include_comments: the comment thread, one block per
	 * line (NULL if none found). */
	char	*comments;
	/* With opts.site_memory: */
	char	*site;		/* the site the page was judged under */
	size_t	 site_dropped;	/* lines dropped as the site's boilerplate */
	/* True when most of the page's text (over 80 % of its characters)
	 * is lines seen on other pages of the site: an index, a duplicate,
	 * or a template with no story.  The text is then left as the
	 * single-page cleaner found it, not emptied. */
	bool	 site_repeated;
	/* Private: the library's own state of this doc (the fingerprints of
	 * the page's lines for sluice_site_memory_record(), the metadata of
	 * sluice_extract_doc_more()). */
	void	*priv;
};

/*
 * More metadata of a page than struct sluice_extract_doc holds: the
 * library allocates it, so later versions may add fields at the end.
 * Strings are UTF-8 or NULL; lists hold n items (none: NULL and 0), in
 * page order, without repeats, at most 32 items of at most 255 bytes.
 */
struct sluice_extract_more {
	char	*date_raw;	/* the date as the page wrote it */
	char	*image;		/* og:image, twitter:image or JSON-LD image:
				   an absolute http(s) URL */
	char	*pagetype;	/* og:type ("article", "website"...) */
	char	*license;	/* rel="license" link, JSON-LD license or
				   dc.rights */
	char	**authors;	/* each author when the page names several
				   apart (JSON-LD); else the author alone */
	size_t	 nauthors;
	char	**categories;	/* article:section, JSON-LD articleSection */
	size_t	 ncategories;
	char	**tags;		/* article:tag, keywords, JSON-LD keywords */
	size_t	 ntags;
	/* With opts.site_memory: the lines dropped as the site's
	 * boilerplate (doc.site_dropped of them, the first 32 here). */
	char	**site_dropped;
	size_t	 nsite_dropped;
};

/* d's further metadata, valid until sluice_extract_doc_free(d); never
 * NULL (all empty when the page had none or was not HTML). */
SLUICE_EXTRACT_API const struct sluice_extract_more *
sluice_extract_doc_more(const struct sluice_extract_doc *d);

/* Fills o with the defaults stated above. */
/*
 * Sets libxml2 up for the cleaner, once per process: xmlInitParser() (its
 * global tables) and the per-thread regions (MEMORY above).  Call it from
 * the main thread before starting threads that use libxml2.  Without it
 * the first page does it, which is safe only while no other thread is
 * inside libxml2.  Calling it again does nothing.
 */
SLUICE_EXTRACT_API void
sluice_extract_init(void);

SLUICE_EXTRACT_API void
sluice_extract_opts_default(struct sluice_extract_opts *o);

/*
 * Extracts the main text and metadata of one page.  bytes[0..len) is the
 * raw body; url (may be NULL) resolves and checks the canonical URL;
 * content_type (may be NULL: then the bytes are sniffed) picks HTML
 * (text/html, application/xhtml+xml), plain text (text/plain) or refusal;
 * opts may be NULL for the defaults; err[0..errlen) receives a message.
 *
 * Always fills *out (zeroed first); the caller frees it with
 * sluice_extract_doc_free() whatever the status.  Returns SLUICE_EXTRACT_OK
 * when text was found, SLUICE_EXTRACT_EMPTY when the page parsed but holds
 * no main text, and SLUICE_EXTRACT_UNSUPPORTED, SLUICE_EXTRACT_TOO_LARGE or
 * SLUICE_EXTRACT_ERROR with err set.
 */
SLUICE_EXTRACT_API enum sluice_extract_status
sluice_extract_page(const char *bytes, size_t len, const char *url,
    const char *content_type, const struct sluice_extract_opts *opts,
    struct sluice_extract_doc *out, char *err, size_t errlen);

/*
 * Site memory: per site, a bounded table of fingerprints (64-bit xxh3 of
 * the case-folded letters and digits) of the lines the cleaner kept, each
 * with the number of distinct pages it was recorded from.
 *
 * RULES, applied by sluice_extract_page() when opts.site_memory is set,
 * to the lines of the single-page result:
 *  - a line seen on site_min_pages or more OTHER pages of the site is
 *    boilerplate and dropped;
 *  - a short line (fewer than short_words words: datelines, "Reuters",
 *    "Don't Miss", a lone number) coincides by chance more easily: it
 *    needs site_min_pages other pages only when it sits outside the story
 *    (before its first or after its last long line, of short_words * 4
 *    words or more) or next to a dropped line (a repeated box's label),
 *    and twice that many otherwise;
 *  - nothing else is dropped, so the text never falls below the
 *    single-page text minus its repeated lines; and when the repeated
 *    lines hold over 80 % of the characters, nothing is dropped and
 *    doc.site_repeated is set instead.
 *
 * BOUNDS: at most max_sites sites (the least recently recorded site is
 * evicted) and max_lines fingerprints per site; when a site's table is
 * full, the quarter of its lines seen on the fewest pages, least recently
 * first, are evicted (the same boilerplate recurs, so it stays).  Memory
 * is 16 bytes per line (32 at most with the hash table's slack) plus
 * about 600 bytes per site: 1024 sites of 4096 lines stay under 140 MiB,
 * and the usual site holds a few hundred lines.  A page recorded twice (same lines) is
 * counted once: each site remembers its last 64 pages' fingerprints.
 *
 * THREADS: the object carries its own lock; any number of threads may
 * extract with it and record into it at once.
 */
struct sluice_site_memory_opts {
	size_t		max_sites;	/* default 1024 */
	size_t		max_lines;	/* per site, default 4096 */
	unsigned	site_min_pages;	/* default 3 */
	unsigned	short_words;	/* default 5 */
};

/* Fills o with the defaults stated above. */
SLUICE_EXTRACT_API void
sluice_site_memory_opts_default(struct sluice_site_memory_opts *o);

/* A new, empty memory (opts NULL: the defaults), or NULL out of memory. */
SLUICE_EXTRACT_API struct sluice_site_memory *
sluice_site_memory_new(const struct sluice_site_memory_opts *opts);

SLUICE_EXTRACT_API void
sluice_site_memory_free(struct sluice_site_memory *m);

/*
 * Records the lines of a page extracted with opts.site_memory set (any
 * memory; d->site names the site) as seen on one more page.  Returns 0,
 * 1 if there was nothing to record (no site, no text, or the same page
 * already recorded), -1 out of memory.
 */
SLUICE_EXTRACT_API int
sluice_site_memory_record(struct sluice_site_memory *m,
    const struct sluice_extract_doc *d);

/*
 * Persistence: sluice_site_memory_dump() writes the whole memory into a
 * new buffer (*buf, *len; the caller frees *buf) in a versioned,
 * little-endian format; sluice_site_memory_restore() reads one back into
 * m, replacing the sites it names and keeping m's own bounds.  Both
 * return 0, or -1 (out of memory; or, for restore, a buffer that is not
 * a whole dump, after which m holds what was read up to the fault).
 */
SLUICE_EXTRACT_API int
sluice_site_memory_dump(struct sluice_site_memory *m, void **buf,
    size_t *len);

SLUICE_EXTRACT_API int
sluice_site_memory_restore(struct sluice_site_memory *m, const void *buf,
    size_t len);

/*
 * The dump of one site alone, in the format sluice_site_memory_dump()
 * writes (sluice_site_memory_restore() reads it), so that a program can
 * persist the sites a page changed without rewriting the others.
 * Returns 0, 1 if m holds no such site (*buf NULL), or -1 out of memory.
 */
SLUICE_EXTRACT_API int
sluice_site_memory_dump_site(struct sluice_site_memory *m, const char *site,
    void **buf, size_t *len);

/* How many lines the memory of site holds (0: none, or no such site);
 * *repeated (may be NULL) gets how many of them were seen on
 * site_min_pages or more pages, and so are dropped where they recur. */
SLUICE_EXTRACT_API size_t
sluice_site_memory_lines(struct sluice_site_memory *m, const char *site,
    size_t *repeated);

/*
 * The budget of one page: what keeps hostile pages (attribute bombs,
 * millions of elements, deep nesting) from holding the calling thread or
 * its memory.  sluice_extract_page() runs under the defaults;
 * sluice_extract_page_budget() under the caller's, with an interrupt
 * callback so that another thread can stop the work.  Fields may be
 * added at the end in later versions: fill it with
 * sluice_extract_budget_default() first.
 */
struct sluice_extract_budget {
	/* CPU seconds of the calling thread for the whole page (default 5;
	 * 0: no limit); over it, SLUICE_EXTRACT_TOO_COMPLEX.  Checked at
	 * least every few milliseconds of work. */
	double	max_seconds;
	/* Attributes in one start tag, at most (default 1000): libxml2's
	 * duplicate check is quadratic in them.  Over it, the page is
	 * SLUICE_EXTRACT_TOO_COMPLEX before any parsing. */
	size_t	max_attributes;
	/* Elements and attributes parsed, together, at most (default
	 * 200000), and at most min_elements (default 20000) plus one per
	 * bytes_per_element bytes of the page (default 32; 0: no such
	 * bound).  Each costs libxml2 a node or two, so this holds the
	 * tree to about 16 times the page plus a fixed base.  With
	 * bytes_per_element set, the tree's own bytes are also held to 12
	 * per byte of the page plus 8 MiB, whatever its elements hold.
	 * Parsing stops there and the rest of the page is ignored
	 * (report.truncated). */
	size_t	max_elements;
	size_t	min_elements;
	size_t	bytes_per_element;
	/* Elements nested deeper than this (default 250, at most 255:
	 * libxml2's limit is 256) are flattened: their text goes to the
	 * ancestor at this depth (report.flattened counts them). */
	size_t	max_depth;
	/* libxml2 matches each end tag against every element left open,
	 * with no callback in between when none matches: the prescan
	 * bounds that work (the depth at each end tag, summed) by this many
	 * steps per input byte, plus 64 Mi steps (default 64; 0: no limit).
	 * Over it, SLUICE_EXTRACT_TOO_COMPLEX before any parsing. */
	size_t	max_tag_work;
	/* Polled as often as the clock (NULL: never): a nonzero return stops
	 * the page with SLUICE_EXTRACT_CANCELLED.  Called on the extracting
	 * thread; it must be cheap and thread-safe (read an atomic flag). */
	int	(*interrupt)(void *arg);
	void	*interrupt_arg;
};

/* What the budget saw on one page. */
struct sluice_extract_report {
	double	cpu_seconds;	/* CPU time the page took */
	size_t	elements;	/* elements parsed */
	size_t	attributes;	/* attributes parsed */
	size_t	max_attributes;	/* most attributes in one start tag */
	size_t	flattened;	/* elements flattened past max_depth */
	bool	truncated;	/* parsing stopped at max_elements */
};

/* Fills b with the defaults stated above. */
SLUICE_EXTRACT_API void
sluice_extract_budget_default(struct sluice_extract_budget *b);

/*
 * sluice_extract_page() under budget b (NULL: the defaults); report (may
 * be NULL) is filled whatever the status.  Returns what
 * sluice_extract_page() does, or SLUICE_EXTRACT_TOO_COMPLEX or
 * SLUICE_EXTRACT_CANCELLED with err set.
 */
SLUICE_EXTRACT_API enum sluice_extract_status
sluice_extract_page_budget(const char *bytes, size_t len, const char *url,
    const char *content_type, const struct sluice_extract_opts *opts,
    const struct sluice_extract_budget *b,
    struct sluice_extract_report *report, struct sluice_extract_doc *out,
    char *err, size_t errlen);

/* Frees every string of d and zeroes it. */
SLUICE_EXTRACT_API void
sluice_extract_doc_free(struct sluice_extract_doc *d);

/* "ok", "empty", "unsupported_content_type", "too_large", "error",
 * "too_complex" or "cancelled"; a static string. */
SLUICE_EXTRACT_API const char *
sluice_extract_status_name(enum sluice_extract_status s);

/*
 * Counts words in UTF-8 text: runs of letters, digits and marks, each
 * CJK ideograph, kana or hangul syllable counting as one word.
 */
SLUICE_EXTRACT_API size_t
sluice_extract_word_count(const char *text);

#ifdef __cplusplus
}
#endif

#endif
