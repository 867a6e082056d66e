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
 * THREADS: sluice_extract_page() is reentrant and keeps no global state, so
 * any number of threads may call it at once on different documents,
 * provided the program called xmlInitParser() (libxml2's global tables)
 * and json_object_seed(0) (jansson's hash seed) once from its main thread
 * before starting them; such a program links libxml-2.0 and jansson
 * itself.  A single-threaded program needs neither call.  A struct
 * sluice_extract_doc belongs to one thread at a time.
 *
 * BOUNDS: input over max_input bytes is refused (SLUICE_EXTRACT_TOO_LARGE);
 * walks are iterative (no recursion on document depth) and stop after
 * max_nodes nodes; libxml2 limits nesting depth itself; the text is cut at
 * max_output bytes.  Memory is dominated by libxml2's tree, about 20-25
 * times the input size in the worst case (10 MB of tiny paragraphs), plus
 * one copy of the decoded input.
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
};

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
};

/* Every string is UTF-8, NUL-terminated, owned by the doc, or NULL. */
struct sluice_extract_doc {
	char	*title;
	char	*text;		/* main text, one paragraph per line */
	char	*author;
	char	*date;		/* ISO 8601 */
	char	*sitename;
	char	*description;
	char	*language;	/* declared, else detected; NULL if unknown */
	char	*canonical_url;
	char	*charset;	/* detected input charset (iconv name) */
	size_t	 word_count;	/* words of text (a CJK character is one) */
};

/* Fills o with the defaults stated above. */
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

/* Frees every string of d and zeroes it. */
SLUICE_EXTRACT_API void
sluice_extract_doc_free(struct sluice_extract_doc *d);

/* "ok", "empty", "unsupported_content_type", "too_large" or "error"; a
 * static string. */
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
