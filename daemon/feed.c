/*
 * feed.c - format detection, bounded gunzip and dispatch to the format
 * parsers (see feed.h).
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "buf.h"
#include "feed.h"
#include "feed_json.h"
#include "feed_xml.h"

#define FEED_INFLATE_CHUNK	(64 * 1024)

/*
 * Inflates a gzip body into out (whose max is the byte limit), member after
 * member, as concatenated gzip files are one file.  Stops at out's max:
 * *truncated then; a corrupt stream ends the output where it broke
 * (*corrupt).  Returns 0, or -1 when out of memory.
 */
static int
feed_gunzip(const unsigned char *in, size_t len, struct buf *out,
    bool *truncated, bool *corrupt)
{
	unsigned char chunk[FEED_INFLATE_CHUNK];
	z_stream zs = { 0 };
	size_t room, have;
	int zrc = Z_OK, rc = 0;

	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -1;
	zs.next_in = (unsigned char *)in;
	for (;;) {
		/* avail_in is a uInt: feed a huge body in slices. */
		if (zs.avail_in == 0 && len > 0) {
			zs.avail_in = len > (1U << 30) ? (1U << 30) : (uInt)len;
			len -= zs.avail_in;
		}
		room = out->max - out->len;
		if (room == 0) {
			*truncated = true;
			break;
		}
		zs.next_out = chunk;
		zs.avail_out = room < sizeof(chunk) ? (uInt)room :
		    (uInt)sizeof(chunk);
		zrc = inflate(&zs, Z_NO_FLUSH);
		have = (size_t)(zs.next_out - chunk);
		if (have > 0 && buf_append(out, chunk, have) == -1) {
			rc = -1;
			break;
		}
		if (zrc == Z_STREAM_END) {
			/* Another member may follow (concatenated gzip files
			 * are one file); trailing junk is ignored. */
			if (zs.avail_in < 2 || zs.next_in[0] != 0x1f ||
			    zs.next_in[1] != 0x8b || inflateReset(&zs) != Z_OK)
				break;
			continue;
		}
		if (zrc != Z_OK) {
			/* Z_BUF_ERROR: the input ended inside a member. */
			*corrupt = true;
			break;
		}
	}
	inflateEnd(&zs);
	return rc;
}

/* The byte the document starts with, after a UTF-8 BOM and white space. */
static int
feed_first_byte(const unsigned char *p, size_t len)
{
	size_t i = 0;

	if (len >= 2 && ((p[0] == 0xfe && p[1] == 0xff) ||
	    (p[0] == 0xff && p[1] == 0xfe)))
		return '<';		/* UTF-16: only XML is written so */
	if (len >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
	    p[i] == '\n'))
		i++;
	return i < len ? p[i] : -1;
}

enum feed_error
feed_parse(const void *body, size_t len, const char *base_url,
    const struct feed_limits *lim, struct feed_doc **out)
{
	const unsigned char *p = body;
	struct feed_doc *d;
	struct buf plain;
	enum feed_error err = FEED_OK;
	int first, rc;

	*out = NULL;
	if ((d = feed_doc_new(lim, base_url)) == NULL)
		return FEED_ERR_NOMEM;
	buf_init(&plain, d->lim.max_bytes);
	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
		d->stats.gzip = true;
		if (feed_gunzip(p, len, &plain, &d->stats.truncated,
		    &d->stats.malformed) == -1) {
			err = FEED_ERR_NOMEM;
			goto out;
		}
		if (plain.len == 0) {
			err = FEED_ERR_GZIP;
			goto out;
		}
		p = (const unsigned char *)plain.data;
		len = plain.len;
	} else if (len > d->lim.max_bytes) {
		d->stats.truncated = true;
		len = d->lim.max_bytes;
	}
	d->stats.bytes = len;
	first = feed_first_byte(p, len);
	if (first == '{' && len > d->lim.max_tree) {
		/* jansson holds the whole tree: about 6 times the text. */
		err = FEED_ERR_TOO_BIG;
		goto out;
	}
	if (first == '{')
		rc = feed_json_parse(d, (const char *)p, len);
	else if (first == '<')
		rc = feed_xml_parse(d, (const char *)p, len);
	else
		rc = 0;
	if (rc == -1)
		err = FEED_ERR_NOMEM;
	else if (d->format == FEED_UNKNOWN)
		err = FEED_ERR_FORMAT;
out:
	buf_free(&plain);
	if (err != FEED_OK)
		feed_doc_free(d);
	else
		*out = d;
	return err;
}

const char *
feed_format_name(enum feed_format f)
{
	switch (f) {
	case FEED_RSS2:			return "rss";
	case FEED_RSS1:			return "rdf";
	case FEED_ATOM:			return "atom";
	case FEED_JSON:			return "jsonfeed";
	case FEED_SITEMAP:		return "sitemap";
	case FEED_NEWS_SITEMAP:		return "news-sitemap";
	case FEED_SITEMAP_INDEX:	return "sitemap-index";
	case FEED_UNKNOWN:		break;
	}
	return "unknown";
}

const char *
feed_error_name(enum feed_error e)
{
	switch (e) {
	case FEED_OK:		return "ok";
	case FEED_ERR_FORMAT:	return "not_a_feed";
	case FEED_ERR_GZIP:	return "bad_gzip";
	case FEED_ERR_TOO_BIG:	return "too_big";
	case FEED_ERR_NOMEM:	return "no_memory";
	}
	return "unknown";
}
