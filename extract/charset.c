/*
 * charset.c - charset detection (BOM, HTTP, <meta> prescan, UTF-8 validity,
 * windows-1252) and decoding to UTF-8 through iconv(3).
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "charset.h"

#define CHARSET_DEFAULT_PRESCAN	8192
#define CHARSET_DEFAULT_MAX_OUT	((size_t)64 * 1024 * 1024)

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
static const char REPLACEMENT[] = "\xEF\xBF\xBD";

/*
 * WHATWG labels that differ from what glibc's iconv calls the decoder the
 * web really uses (latin1 is windows-1252 on the web, gb2312 is GBK...).
 * Names only: the tables themselves are iconv's.
 */
static const struct {
	const char	*label;
	const char	*name;
} ALIASES[] = {
	{ "utf-8", "UTF-8" }, { "utf8", "UTF-8" },
	{ "unicode-1-1-utf-8", "UTF-8" }, { "x-unicode20utf8", "UTF-8" },
	/* A <meta> saying UTF-16 cannot be right: the prescan read ASCII. */
	{ "utf-16", "UTF-8" }, { "utf-16le", "UTF-8" },
	{ "utf-16be", "UTF-8" }, { "unicode", "UTF-8" },
	{ "iso-8859-1", "WINDOWS-1252" }, { "iso8859-1", "WINDOWS-1252" },
	{ "iso_8859-1", "WINDOWS-1252" }, { "latin1", "WINDOWS-1252" },
	{ "latin-1", "WINDOWS-1252" }, { "l1", "WINDOWS-1252" },
	{ "us-ascii", "WINDOWS-1252" }, { "ascii", "WINDOWS-1252" },
	{ "ansi_x3.4-1968", "WINDOWS-1252" }, { "cp819", "WINDOWS-1252" },
	{ "ibm819", "WINDOWS-1252" }, { "cp1252", "WINDOWS-1252" },
	{ "x-cp1252", "WINDOWS-1252" }, { "windows-1252", "WINDOWS-1252" },
	{ "iso-8859-9", "WINDOWS-1254" }, { "latin5", "WINDOWS-1254" },
	{ "iso-8859-11", "WINDOWS-874" }, { "tis-620", "WINDOWS-874" },
	{ "gb2312", "GB18030" }, { "gbk", "GB18030" }, { "x-gbk", "GB18030" },
	{ "chinese", "GB18030" }, { "csgb2312", "GB18030" },
	{ "gb_2312-80", "GB18030" }, { "gb_2312", "GB18030" },
	{ "big5", "BIG5-HKSCS" }, { "x-x-big5", "BIG5-HKSCS" },
	{ "cn-big5", "BIG5-HKSCS" },
	{ "shift_jis", "WINDOWS-31J" }, { "shift-jis", "WINDOWS-31J" },
	{ "sjis", "WINDOWS-31J" }, { "x-sjis", "WINDOWS-31J" },
	{ "ms_kanji", "WINDOWS-31J" }, { "csshiftjis", "WINDOWS-31J" },
	{ "euc-kr", "CP949" }, { "ks_c_5601-1987", "CP949" },
	{ "korean", "CP949" }, { "windows-949", "CP949" },
	{ "x-euc-jp", "EUC-JP" }, { "x-mac-roman", "MACINTOSH" },
	{ "x-mac-cyrillic", "MAC-CYRILLIC" },
};

void
charset_opts_default(struct charset_opts *o)
{
	o->prescan_bytes = CHARSET_DEFAULT_PRESCAN;
	o->max_output = CHARSET_DEFAULT_MAX_OUT;
	o->html = true;
}

const char *
charset_source_name(enum charset_source s)
{
	switch (s) {
	case CHARSET_FROM_BOM:
		return "bom";
	case CHARSET_FROM_HTTP:
		return "http";
	case CHARSET_FROM_META:
		return "meta";
	case CHARSET_FROM_UTF8:
		return "utf8-valid";
	case CHARSET_FROM_DEFAULT:
		return "default";
	}
	return "unknown";
}

/* Length of a valid UTF-8 sequence at p (1..4), or 0 if invalid there. */
static inline size_t
utf8_seq(const unsigned char *p, size_t left)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		if (left < 2 || (p[1] & 0xC0) != 0x80)
			return 0;
		return 2;
	}
	if (c >= 0xE0 && c <= 0xEF) {
		if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && p[1] < 0xA0)
			return 0;	/* overlong */
		if (c == 0xED && p[1] >= 0xA0)
			return 0;	/* surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (left < 4 || (p[1] & 0xC0) != 0x80 ||
		    (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && p[1] < 0x90)
			return 0;
		if (c == 0xF4 && p[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

bool
charset_utf8_valid(const char *bytes, size_t len, size_t *nonascii)
{
	const unsigned char *p = (const unsigned char *)bytes;
	size_t i = 0, n = 0, k;

	while (i < len) {
		/* Skip ASCII eight bytes at a time: most HTML is markup. */
		if (i + 8 <= len) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if ((w & 0x8080808080808080ULL) == 0) {
				i += 8;
				continue;
			}
		}
		k = utf8_seq(p + i, len - i);
		if (k == 0)
			break;
		if (k > 1)
			n++;
		i += k;
	}
	if (nonascii != NULL)
		*nonascii = n;
	return i >= len;
}

int
charset_canonical(const char *label, size_t labellen, char *name,
    size_t namelen)
{
	char low[CHARSET_NAME_MAX];
	size_t i, n = 0;
	iconv_t cd;

	while (labellen > 0 && isspace((unsigned char)*label)) {
		label++;
		labellen--;
	}
	while (labellen > 0 && isspace((unsigned char)label[labellen - 1]))
		labellen--;
	if (labellen == 0 || labellen >= sizeof(low) || namelen == 0)
		return -1;
	for (i = 0; i < labellen; i++)
		low[n++] = (char)tolower((unsigned char)label[i]);
	low[n] = '\0';
	for (i = 0; i < sizeof(ALIASES) / sizeof(ALIASES[0]); i++) {
		if (strcmp(low, ALIASES[i].label) == 0) {
			snprintf(name, namelen, "%s", ALIASES[i].name);
			return 0;
		}
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)low[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.' &&
		    c != ':')
			return -1;
		low[i] = (char)toupper(c);
	}
	cd = iconv_open("UTF-8", low);
	if (cd == (iconv_t)-1)
		return -1;
	iconv_close(cd);
	snprintf(name, namelen, "%s", low);
	return 0;
}

/* Case-insensitive search for needle in hay[0..len). */
static const char *
memcasemem(const char *hay, size_t len, const char *needle)
{
	size_t nl = strlen(needle), i;

	if (nl == 0 || len < nl)
		return NULL;
	for (i = 0; i + nl <= len; i++) {
		if (tolower((unsigned char)hay[i]) == needle[0] &&
		    strncasecmp(hay + i, needle, nl) == 0)
			return hay + i;
	}
	return NULL;
}

/* Reads a charset value at p (after "charset=" or "encoding="). */
static size_t
charset_value(const char *p, const char *end, const char **start)
{
	const char *q;

	while (p < end && (*p == ' ' || *p == '\t' || *p == '"' ||
	    *p == '\''))
		p++;
	q = p;
	while (q < end && (isalnum((unsigned char)*q) || *q == '-' ||
	    *q == '_' || *q == '.' || *q == ':'))
		q++;
	*start = p;
	return (size_t)(q - p);
}

/* The value of "charset = value" in s[0..end): its length (0 if absent),
 * *val pointing at it. */
static size_t
charset_param(const char *s, const char *end, const char **val)
{
	const char *p = memcasemem(s, (size_t)(end - s), "charset");

	if (p == NULL)
		return 0;
	p += 7;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p != '=')
		return 0;
	return charset_value(p + 1, end, val);
}

int
charset_from_content_type(const char *content_type, char *out, size_t outlen)
{
	const char *v;
	size_t n;

	if (content_type == NULL || outlen == 0)
		return -1;
	n = charset_param(content_type, content_type + strlen(content_type),
	    &v);
	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

/*
 * Finds charset= inside one <meta ...> tag starting at tag (up to '>').
 * Covers both <meta charset=x> and http-equiv's content="...; charset=x".
 */
static int
charset_meta_tag(const char *tag, const char *end, char *name, size_t namelen)
{
	const char *gt, *v;
	size_t n;

	gt = memchr(tag, '>', (size_t)(end - tag));
	if (gt == NULL)
		gt = end;
	n = charset_param(tag, gt, &v);
	if (n == 0)
		return -1;
	return charset_canonical(v, n, name, namelen);
}

/* The XML declaration's encoding, for XHTML served as such. */
static int
xml_decl_charset(const char *bytes, size_t len, char *name, size_t namelen)
{
	const char *end, *p, *v;
	size_t n;

	if (len < 6 || memcmp(bytes, "<?xml", 5) != 0)
		return -1;
	end = memchr(bytes, '>', len < 200 ? len : 200);
	if (end == NULL)
		return -1;
	p = memcasemem(bytes, (size_t)(end - bytes), "encoding");
	if (p == NULL)
		return -1;
	p += 8;
	while (p < end && (*p == ' ' || *p == '='))
		p++;
	n = charset_value(p, end, &v);
	return charset_canonical(v, n, name, namelen);
}

static int
prescan_meta(const char *bytes, size_t len, char *name, size_t namelen)
{
	const char *p = bytes, *end = bytes + len;

	if (xml_decl_charset(bytes, len, name, namelen) == 0)
		return 0;
	for (;;) {
		p = memcasemem(p, (size_t)(end - p), "<meta");
		if (p == NULL)
			return -1;
		if (charset_meta_tag(p + 5, end, name, namelen) == 0)
			return 0;
		p += 5;
	}
}

size_t
charset_bom(const char *bytes, size_t len, const char **name)
{
	const unsigned char *p = (const unsigned char *)bytes;

	if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
		*name = "UTF-8";
		return 3;
	}
	if (len >= 2 && p[0] == 0xFF && p[1] == 0xFE) {
		*name = "UTF-16LE";
		return 2;
	}
	if (len >= 2 && p[0] == 0xFE && p[1] == 0xFF) {
		*name = "UTF-16BE";
		return 2;
	}
	return 0;
}

void
charset_detect(const char *bytes, size_t len, const char *content_type,
    const struct charset_opts *o, struct charset_info *ci)
{
	char label[CHARSET_NAME_MAX];
	const char *bom = NULL;
	size_t nonascii = 0;
	bool valid;

	ci->valid_utf8 = false;
	ci->bom_len = charset_bom(bytes, len, &bom);
	if (ci->bom_len > 0) {
		snprintf(ci->name, sizeof(ci->name), "%s", bom);
		ci->source = CHARSET_FROM_BOM;
		return;
	}
	valid = charset_utf8_valid(bytes, len, &nonascii);
	ci->valid_utf8 = valid;
	if (charset_from_content_type(content_type, label,
	    sizeof(label)) == 0 && charset_canonical(label, strlen(label),
	    ci->name, sizeof(ci->name)) == 0)
		ci->source = CHARSET_FROM_HTTP;
	else if (o->html && prescan_meta(bytes, len < o->prescan_bytes ? len :
	    o->prescan_bytes, ci->name, sizeof(ci->name)) == 0)
		ci->source = CHARSET_FROM_META;
	else if (valid) {
		snprintf(ci->name, sizeof(ci->name), "UTF-8");
		ci->source = CHARSET_FROM_UTF8;
		return;
	} else {
		snprintf(ci->name, sizeof(ci->name), "WINDOWS-1252");
		ci->source = CHARSET_FROM_DEFAULT;
		return;
	}
	/* A stale legacy declaration on UTF-8 bytes: see charset.h. */
	if (valid && nonascii > 0 && strcmp(ci->name, "UTF-8") != 0) {
		snprintf(ci->name, sizeof(ci->name), "UTF-8");
		ci->source = CHARSET_FROM_UTF8;
	}
	/* The reverse mistake, common on old servers: a UTF-8 label on
	 * Latin-1 bytes.  When not even the first non-ASCII character is
	 * UTF-8, the label is wrong; a UTF-8 page with a stray bad byte
	 * later keeps its label and gets U+FFFD for that byte. */
	if (!valid && nonascii == 0 && strcmp(ci->name, "UTF-8") == 0) {
		snprintf(ci->name, sizeof(ci->name), "WINDOWS-1252");
		ci->source = CHARSET_FROM_DEFAULT;
	}
}

/* Grows *out so that at least need more bytes fit; -1 past max. */
static int
out_reserve(char **out, size_t *cap, size_t used, size_t need, size_t max)
{
	size_t ncap;
	char *p;

	if (used + need + 1 <= *cap)
		return 0;
	if (used + need > max)
		return -1;
	ncap = *cap ? *cap : 256;
	while (ncap < used + need + 1)
		ncap *= 2;
	if (ncap > max + 1)
		ncap = max + 1;
	p = realloc(*out, ncap);
	if (p == NULL)
		return -1;
	*out = p;
	*cap = ncap;
	return 0;
}

/*
 * UTF-8 to UTF-8: copies valid sequences, turns invalid bytes and NULs into
 * U+FFFD.  Separate from iconv because it is the common case and a plain
 * copy is several times faster.
 */
static int
utf8_sanitize(const char *bytes, size_t len, size_t max, char **out,
    size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)bytes;
	size_t i = 0, o = 0, cap = 0, k, run;
	char *d = NULL;

	if (out_reserve(&d, &cap, 0, len, max) == -1)
		goto fail;
	while (i < len) {
		for (run = i; run < len && p[run] != 0; run += k) {
			k = utf8_seq(p + run, len - run);
			if (k == 0)
				break;
		}
		if (out_reserve(&d, &cap, o, run - i + 3, max) == -1)
			goto fail;
		memcpy(d + o, p + i, run - i);
		o += run - i;
		if (run >= len)
			break;
		memcpy(d + o, REPLACEMENT, 3);
		o += 3;
		i = run + 1;
	}
	d[o] = '\0';
	*out = d;
	*outlen = o;
	return 0;
fail:
	free(d);
	return -1;
}

/* Replaces NULs in place is not possible (length grows), so iconv output is
 * post-processed: a NUL becomes U+FFFD. */
static int
strip_nuls(char **out, size_t *outlen, size_t max)
{
	char *d = *out, *n;
	size_t i, nul = 0, o = 0;

	for (i = 0; i < *outlen; i++)
		nul += d[i] == '\0';
	if (nul == 0)
		return 0;
	if (*outlen + 2 * nul > max)
		return -1;
	n = malloc(*outlen + 2 * nul + 1);
	if (n == NULL)
		return -1;
	for (i = 0; i < *outlen; i++) {
		if (d[i] == '\0') {
			memcpy(n + o, REPLACEMENT, 3);
			o += 3;
		} else
			n[o++] = d[i];
	}
	n[o] = '\0';
	free(d);
	*out = n;
	*outlen = o;
	return 0;
}

static int
iconv_run(iconv_t cd, const char *bytes, size_t len, size_t max, char **out,
    size_t *outlen)
{
	char *in = (char *)bytes, *d = NULL, *op;
	size_t inleft = len, cap = 0, used = 0, opleft, r;

	if (out_reserve(&d, &cap, 0, len + len / 2 + 16 < max ?
	    len + len / 2 + 16 : max, max) == -1)
		goto fail;
	while (inleft > 0) {
		op = d + used;
		opleft = cap - 1 - used;
		r = iconv(cd, &in, &inleft, &op, &opleft);
		used = (size_t)(op - d);
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG) {
			if (out_reserve(&d, &cap, used, cap, max) == -1)
				goto fail;
			continue;
		}
		/* EILSEQ or EINVAL (truncated tail): one U+FFFD per byte. */
		if (out_reserve(&d, &cap, used, 3, max) == -1)
			goto fail;
		memcpy(d + used, REPLACEMENT, 3);
		used += 3;
		in++;
		inleft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	d[used] = '\0';
	*out = d;
	*outlen = used;
	return strip_nuls(out, outlen, max);
fail:
	free(d);
	return -1;
}

int
charset_convert(const char *bytes, size_t len, const char *from,
    size_t max_output, char **out, size_t *outlen, char *err, size_t errlen)
{
	iconv_t cd;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (strcmp(from, "UTF-8") == 0) {
		rc = utf8_sanitize(bytes, len, max_output, out, outlen);
		if (rc == -1)
			snprintf(err, errlen, "decoded text over %zu bytes or "
			    "out of memory", max_output);
		return rc;
	}
	cd = iconv_open("UTF-8", from);
	if (cd == (iconv_t)-1) {
		snprintf(err, errlen, "unsupported charset %s", from);
		return -1;
	}
	rc = iconv_run(cd, bytes, len, max_output, out, outlen);
	iconv_close(cd);
	if (rc == -1)
		snprintf(err, errlen, "decoded text over %zu bytes or out of "
		    "memory", max_output);
	return rc;
}

static int
copy_valid(const char *bytes, size_t len, size_t max, char **out,
    size_t *outlen, char *err, size_t errlen)
{
	if (len > max) {
		snprintf(err, errlen, "decoded text over %zu bytes", max);
		return -1;
	}
	*out = malloc(len + 1);
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(*out, bytes, len);
	(*out)[len] = '\0';
	*outlen = len;
	return 0;
}

int
charset_decode(const char *bytes, size_t len, const char *content_type,
    const struct charset_opts *o, char **out, size_t *outlen,
    struct charset_info *ci, char *err, size_t errlen)
{
	struct charset_info local;
	struct charset_opts def;

	if (o == NULL) {
		charset_opts_default(&def);
		o = &def;
	}
	if (ci == NULL)
		ci = &local;
	*out = NULL;
	*outlen = 0;
	charset_detect(bytes, len, content_type, o, ci);
	/* The common case: valid UTF-8 needs a copy only (NULs aside). */
	if (ci->valid_utf8 && strcmp(ci->name, "UTF-8") == 0 &&
	    memchr(bytes, '\0', len) == NULL)
		return copy_valid(bytes, len, o->max_output, out, outlen, err,
		    errlen);
	/* charset_canonical() checked that iconv knows the name. */
	return charset_convert(bytes + ci->bom_len, len - ci->bom_len,
	    ci->name, o->max_output, out, outlen, err, errlen);
}
