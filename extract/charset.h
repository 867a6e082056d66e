/*
 * charset.h - decide the character encoding of fetched bytes and decode them
 * to UTF-8.
 *
 * The decision follows the order browsers use, with one pragmatic change:
 *   1. a byte-order mark (UTF-8, UTF-16LE/BE);
 *   2. the charset parameter of the HTTP Content-Type;
 *   3. for HTML, a prescan of the first bytes for <meta charset> or
 *      <meta http-equiv="Content-Type" content="...; charset=...">
 *      (and an XML declaration's encoding, for XHTML);
 *   4. UTF-8 if the bytes are valid UTF-8;
 *   5. windows-1252.
 * A declared (2, 3) legacy charset loses to UTF-8 when the bytes are valid
 * UTF-8 and hold multi-byte sequences: text in a legacy encoding almost
 * never validates as UTF-8 by accident, while servers and templates that
 * declare a stale charset are common.
 *
 * Conversion goes through iconv(3); bytes the source charset cannot map
 * become U+FFFD, NUL bytes become U+FFFD too (libxml2 stops at NUL).
 * Everything here is reentrant: no global state, one iconv descriptor per
 * call.
 */
#ifndef SLUICE_CHARSET_H
#define SLUICE_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

/* Where the decision came from. */
enum charset_source {
	CHARSET_FROM_BOM = 0,
	CHARSET_FROM_HTTP,
	CHARSET_FROM_META,
	CHARSET_FROM_UTF8,	/* bytes validate as UTF-8 */
	CHARSET_FROM_DEFAULT,	/* fallback: windows-1252 */
};

struct charset_opts {
	/* Bytes of the document searched for <meta charset> (default 8192;
	 * browsers use 1024, but pages often declare it after big scripts). */
	size_t	prescan_bytes;
	/* Largest decoded output in bytes (default 64 MiB); -1 past it. */
	size_t	max_output;
	/* Prescan for <meta>/XML declarations (default true; false for
	 * text/plain). */
	bool	html;
};

#define CHARSET_NAME_MAX 40

struct charset_info {
	char			 name[CHARSET_NAME_MAX]; /* iconv name, e.g.
							  "UTF-8", "WINDOWS-1252" */
	enum charset_source	 source;
	size_t			 bom_len;	/* bytes of BOM skipped */
	bool			 valid_utf8;	/* the bytes validate as UTF-8
						   (not checked after a BOM) */
};

/* Fills o with the defaults stated above. */
void charset_opts_default(struct charset_opts *o);

/*
 * Decides the charset of bytes[0..len) given the HTTP Content-Type (may be
 * NULL).  Never fails: the last resort is windows-1252.
 */
void charset_detect(const char *bytes, size_t len, const char *content_type,
    const struct charset_opts *o, struct charset_info *ci);

/*
 * Detects the charset (as charset_detect) and decodes bytes to UTF-8.
 * On success returns 0, sets *out to a malloc'd NUL-terminated UTF-8 string
 * (the caller frees it) and *outlen to its length without the NUL; ci may be
 * NULL.  Returns -1 with err set if the output would pass o->max_output or
 * memory runs out.
 */
int charset_decode(const char *bytes, size_t len, const char *content_type,
    const struct charset_opts *o, char **out, size_t *outlen,
    struct charset_info *ci, char *err, size_t errlen);

/*
 * Converts bytes in the iconv charset `from` to UTF-8, as charset_decode
 * does after detection.  Returns 0 and a malloc'd string, or -1 (unknown
 * charset, too large, out of memory) with err set.
 */
int charset_convert(const char *bytes, size_t len, const char *from,
    size_t max_output, char **out, size_t *outlen, char *err, size_t errlen);

/*
 * Maps a charset label as found in documents ("latin1", "x-sjis", "utf8")
 * to the iconv name this module uses, by the WHATWG Encoding Standard's
 * label table.  Writes at most namelen bytes.  Returns 0, or -1 if the
 * label is not in that table (utf-7, utf-32, cp037...) or names an
 * encoding without a decoder here (replacement, x-user-defined): such a
 * label is ignored, as browsers ignore it.
 */
int charset_canonical(const char *label, size_t labellen, char *name,
    size_t namelen);

/*
 * Copies the value of the charset parameter of a Content-Type header into
 * out (at most outlen bytes, NUL-terminated).  Returns 0, or -1 if absent.
 */
int charset_from_content_type(const char *content_type, char *out,
    size_t outlen);

/*
 * Returns true if bytes[0..len) is valid UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF).  If nonascii is not NULL it receives the
 * number of multi-byte sequences seen before the first error.
 */
bool charset_utf8_valid(const char *bytes, size_t len, size_t *nonascii);

/*
 * Returns the length of the byte-order mark bytes[0..len) starts with (3
 * for UTF-8, 2 for UTF-16LE/BE) and sets *name to the iconv name of its
 * encoding, or returns 0 and leaves *name alone.
 */
size_t charset_bom(const char *bytes, size_t len, const char **name);

/* "bom", "http", "meta", "utf8-valid" or "default". */
const char *charset_source_name(enum charset_source s);

#endif
