/*
 * extract.h - the cleaner: one fetched page (bytes, URL, Content-Type) in,
 * its main text and metadata out.
 *
 * HTML is decoded to UTF-8 (charset.h), parsed with libxml2 (html.h), its
 * metadata read (meta.h), and its main content found by scoring the DOM
 * (Readability-style container choice, then boilerplate removal inside the
 * container by class/id tokens, link density and wording).  text/plain is
 * normalised and passed through; any other type is refused with
 * EXTRACT_UNSUPPORTED.
 *
 * THREADS: extract_page() is reentrant and keeps no global state, so any
 * number of worker threads may call it at once, provided the program called
 * xmlInitParser() once from its main thread before starting them (libxml2's
 * global tables; see html.h) and json_object_seed(0) (jansson's hash seed).
 *
 * BOUNDS: input over max_input bytes is refused (EXTRACT_TOO_LARGE); walks
 * are iterative (no recursion on document depth) and stop after max_nodes
 * nodes; libxml2 limits nesting depth itself.  Memory is dominated by
 * libxml2's tree, about 20-25 times the input size in the worst case
 * (10 MB of tiny paragraphs), plus one copy of the decoded input.
 */
#ifndef SLUICE_EXTRACT_H
#define SLUICE_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

enum extract_status {
	EXTRACT_OK = 0,
	EXTRACT_EMPTY,		/* no main text found (metadata may be set) */
	EXTRACT_UNSUPPORTED,	/* unsupported_content_type: PDF, images... */
	EXTRACT_TOO_LARGE,	/* input over max_input */
	EXTRACT_ERROR,		/* out of memory, unparseable */
};

struct extract_opts {
	/* Largest input in bytes (default 16 MiB). */
	size_t	max_input;
	/* Nodes (elements and text) walked per pass, at most (default
	 * 200000); the rest of a bigger document is ignored. */
	size_t	max_nodes;
	/* Largest text output in bytes (default 4 MiB). */
	size_t	max_output;
	/* Bytes searched for <meta charset> (default 8192, see charset.h). */
	size_t	charset_prescan;
	/* Main text under this many characters makes the cleaner retry with
	 * looser rules, keeping the longest result (default 500). */
	size_t	min_text;
	/* Keep image captions (figcaption) in the text (default false: the
	 * human-annotated references leave them out). */
	bool	keep_captions;
};

struct extract_doc {
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
void extract_opts_default(struct extract_opts *o);

/*
 * Extracts the main text and metadata of one page.  bytes[0..len) is the
 * raw body; url (may be NULL) resolves and checks the canonical URL;
 * content_type (may be NULL: then the bytes are sniffed) picks HTML
 * (text/html, application/xhtml+xml), plain text (text/plain) or refusal;
 * opts may be NULL for the defaults.
 *
 * Always fills *out (zeroed first); the caller frees it with
 * extract_doc_free() whatever the status.  Returns EXTRACT_OK when text was
 * found, EXTRACT_EMPTY when the page parsed but holds no main text, and
 * EXTRACT_UNSUPPORTED, EXTRACT_TOO_LARGE or EXTRACT_ERROR with err set.
 */
enum extract_status extract_page(const char *bytes, size_t len,
    const char *url, const char *content_type,
    const struct extract_opts *opts, struct extract_doc *out, char *err,
    size_t errlen);

/* Frees every string of d and zeroes it. */
void extract_doc_free(struct extract_doc *d);

/* "ok", "empty", "unsupported_content_type", "too_large" or "error". */
const char *extract_status_name(enum extract_status s);

/*
 * Counts words in UTF-8 text: runs of letters, digits and marks, each
 * CJK ideograph, kana or hangul syllable counting as one word.
 */
size_t extract_word_count(const char *text);

#endif
