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
 * The WHATWG Encoding Standard's label table (encoding.spec.whatwg.org,
 * "Encodings"), every label, sorted for bsearch: a label outside it is no
 * label at all, as in browsers, so utf-7, utf-32 or cp037 are ignored and
 * detection goes on (see charset_detect()).  Each maps to the iconv decoder
 * of its encoding: windows-1252 for latin1 and ascii, GB18030 for gbk (a
 * superset), CP949 for euc-kr, WINDOWS-31J for shift_jis.  The UTF-16
 * labels map to UTF-8 as the standard says for <meta>: a prescan that read
 * the label in ASCII shows it cannot be right, and real UTF-16 comes with
 * a BOM.  Labels of the "replacement" encoding (iso-2022-kr, hz-gb-2312...)
 * and x-user-defined have no decoder here (NULL): ignored too.
 */
static const struct charset_label {
	const char	*label;
	const char	*name;
} LABELS[] = {
	{ "866", "IBM866" },
	{ "ansi_x3.4-1968", "WINDOWS-1252" },
	{ "arabic", "ISO-8859-6" },
	{ "ascii", "WINDOWS-1252" },
	{ "asmo-708", "ISO-8859-6" },
	{ "big5", "BIG5-HKSCS" },
	{ "big5-hkscs", "BIG5-HKSCS" },
	{ "chinese", "GB18030" },
	{ "cn-big5", "BIG5-HKSCS" },
	{ "cp1250", "WINDOWS-1250" },
	{ "cp1251", "WINDOWS-1251" },
	{ "cp1252", "WINDOWS-1252" },
	{ "cp1253", "WINDOWS-1253" },
	{ "cp1254", "WINDOWS-1254" },
	{ "cp1255", "WINDOWS-1255" },
	{ "cp1256", "WINDOWS-1256" },
	{ "cp1257", "WINDOWS-1257" },
	{ "cp1258", "WINDOWS-1258" },
	{ "cp819", "WINDOWS-1252" },
	{ "cp866", "IBM866" },
	{ "csbig5", "BIG5-HKSCS" },
	{ "cseuckr", "CP949" },
	{ "cseucpkdfmtjapanese", "EUC-JP" },
	{ "csgb2312", "GB18030" },
	{ "csibm866", "IBM866" },
	{ "csiso2022jp", "ISO-2022-JP" },
	{ "csiso2022kr", NULL },
	{ "csiso58gb231280", "GB18030" },
	{ "csiso88596e", "ISO-8859-6" },
	{ "csiso88596i", "ISO-8859-6" },
	{ "csiso88598e", "ISO-8859-8" },
	{ "csiso88598i", "ISO-8859-8" },
	{ "csisolatin1", "WINDOWS-1252" },
	{ "csisolatin2", "ISO-8859-2" },
	{ "csisolatin3", "ISO-8859-3" },
	{ "csisolatin4", "ISO-8859-4" },
	{ "csisolatin5", "WINDOWS-1254" },
	{ "csisolatin6", "ISO-8859-10" },
	{ "csisolatin9", "ISO-8859-15" },
	{ "csisolatinarabic", "ISO-8859-6" },
	{ "csisolatincyrillic", "ISO-8859-5" },
	{ "csisolatingreek", "ISO-8859-7" },
	{ "csisolatinhebrew", "ISO-8859-8" },
	{ "cskoi8r", "KOI8-R" },
	{ "csksc56011987", "CP949" },
	{ "csmacintosh", "MACINTOSH" },
	{ "csshiftjis", "WINDOWS-31J" },
	{ "csunicode", "UTF-8" },
	{ "cyrillic", "ISO-8859-5" },
	{ "dos-874", "WINDOWS-874" },
	{ "ecma-114", "ISO-8859-6" },
	{ "ecma-118", "ISO-8859-7" },
	{ "elot_928", "ISO-8859-7" },
	{ "euc-jp", "EUC-JP" },
	{ "euc-kr", "CP949" },
	{ "gb18030", "GB18030" },
	{ "gb2312", "GB18030" },
	{ "gb_2312", "GB18030" },
	{ "gb_2312-80", "GB18030" },
	{ "gbk", "GB18030" },
	{ "greek", "ISO-8859-7" },
	{ "greek8", "ISO-8859-7" },
	{ "hebrew", "ISO-8859-8" },
	{ "hz-gb-2312", NULL },
	{ "ibm819", "WINDOWS-1252" },
	{ "ibm866", "IBM866" },
	{ "iso-10646-ucs-2", "UTF-8" },
	{ "iso-2022-cn", NULL },
	{ "iso-2022-cn-ext", NULL },
	{ "iso-2022-jp", "ISO-2022-JP" },
	{ "iso-2022-kr", NULL },
	{ "iso-8859-1", "WINDOWS-1252" },
	{ "iso-8859-10", "ISO-8859-10" },
	{ "iso-8859-11", "WINDOWS-874" },
	{ "iso-8859-13", "ISO-8859-13" },
	{ "iso-8859-14", "ISO-8859-14" },
	{ "iso-8859-15", "ISO-8859-15" },
	{ "iso-8859-16", "ISO-8859-16" },
	{ "iso-8859-2", "ISO-8859-2" },
	{ "iso-8859-3", "ISO-8859-3" },
	{ "iso-8859-4", "ISO-8859-4" },
	{ "iso-8859-5", "ISO-8859-5" },
	{ "iso-8859-6", "ISO-8859-6" },
	{ "iso-8859-6-e", "ISO-8859-6" },
	{ "iso-8859-6-i", "ISO-8859-6" },
	{ "iso-8859-7", "ISO-8859-7" },
	{ "iso-8859-8", "ISO-8859-8" },
	{ "iso-8859-8-e", "ISO-8859-8" },
	{ "iso-8859-8-i", "ISO-8859-8" },
	{ "iso-8859-9", "WINDOWS-1254" },
	{ "iso-ir-100", "WINDOWS-1252" },
	{ "iso-ir-101", "ISO-8859-2" },
	{ "iso-ir-109", "ISO-8859-3" },
	{ "iso-ir-110", "ISO-8859-4" },
	{ "iso-ir-126", "ISO-8859-7" },
	{ "iso-ir-127", "ISO-8859-6" },
	{ "iso-ir-138", "ISO-8859-8" },
	{ "iso-ir-144", "ISO-8859-5" },
	{ "iso-ir-148", "WINDOWS-1254" },
	{ "iso-ir-149", "CP949" },
	{ "iso-ir-157", "ISO-8859-10" },
	{ "iso-ir-58", "GB18030" },
	{ "iso8859-1", "WINDOWS-1252" },
	{ "iso8859-10", "ISO-8859-10" },
	{ "iso8859-11", "WINDOWS-874" },
	{ "iso8859-13", "ISO-8859-13" },
	{ "iso8859-14", "ISO-8859-14" },
	{ "iso8859-15", "ISO-8859-15" },
	{ "iso8859-2", "ISO-8859-2" },
	{ "iso8859-3", "ISO-8859-3" },
	{ "iso8859-4", "ISO-8859-4" },
	{ "iso8859-5", "ISO-8859-5" },
	{ "iso8859-6", "ISO-8859-6" },
	{ "iso8859-7", "ISO-8859-7" },
	{ "iso8859-8", "ISO-8859-8" },
	{ "iso8859-9", "WINDOWS-1254" },
	{ "iso88591", "WINDOWS-1252" },
	{ "iso885910", "ISO-8859-10" },
	{ "iso885911", "WINDOWS-874" },
	{ "iso885913", "ISO-8859-13" },
	{ "iso885914", "ISO-8859-14" },
	{ "iso885915", "ISO-8859-15" },
	{ "iso88592", "ISO-8859-2" },
	{ "iso88593", "ISO-8859-3" },
	{ "iso88594", "ISO-8859-4" },
	{ "iso88595", "ISO-8859-5" },
	{ "iso88596", "ISO-8859-6" },
	{ "iso88597", "ISO-8859-7" },
	{ "iso88598", "ISO-8859-8" },
	{ "iso88599", "WINDOWS-1254" },
	{ "iso_8859-1", "WINDOWS-1252" },
	{ "iso_8859-15", "ISO-8859-15" },
	{ "iso_8859-1:1987", "WINDOWS-1252" },
	{ "iso_8859-2", "ISO-8859-2" },
	{ "iso_8859-2:1987", "ISO-8859-2" },
	{ "iso_8859-3", "ISO-8859-3" },
	{ "iso_8859-3:1988", "ISO-8859-3" },
	{ "iso_8859-4", "ISO-8859-4" },
	{ "iso_8859-4:1988", "ISO-8859-4" },
	{ "iso_8859-5", "ISO-8859-5" },
	{ "iso_8859-5:1988", "ISO-8859-5" },
	{ "iso_8859-6", "ISO-8859-6" },
	{ "iso_8859-6:1987", "ISO-8859-6" },
	{ "iso_8859-7", "ISO-8859-7" },
	{ "iso_8859-7:1987", "ISO-8859-7" },
	{ "iso_8859-8", "ISO-8859-8" },
	{ "iso_8859-8:1988", "ISO-8859-8" },
	{ "iso_8859-9", "WINDOWS-1254" },
	{ "iso_8859-9:1989", "WINDOWS-1254" },
	{ "koi", "KOI8-R" },
	{ "koi8", "KOI8-R" },
	{ "koi8-r", "KOI8-R" },
	{ "koi8-ru", "KOI8-U" },
	{ "koi8-u", "KOI8-U" },
	{ "koi8_r", "KOI8-R" },
	{ "korean", "CP949" },
	{ "ks_c_5601-1987", "CP949" },
	{ "ks_c_5601-1989", "CP949" },
	{ "ksc5601", "CP949" },
	{ "ksc_5601", "CP949" },
	{ "l1", "WINDOWS-1252" },
	{ "l2", "ISO-8859-2" },
	{ "l3", "ISO-8859-3" },
	{ "l4", "ISO-8859-4" },
	{ "l5", "WINDOWS-1254" },
	{ "l6", "ISO-8859-10" },
	{ "l9", "ISO-8859-15" },
	{ "latin1", "WINDOWS-1252" },
	{ "latin2", "ISO-8859-2" },
	{ "latin3", "ISO-8859-3" },
	{ "latin4", "ISO-8859-4" },
	{ "latin5", "WINDOWS-1254" },
	{ "latin6", "ISO-8859-10" },
	{ "logical", "ISO-8859-8" },
	{ "mac", "MACINTOSH" },
	{ "macintosh", "MACINTOSH" },
	{ "ms932", "WINDOWS-31J" },
	{ "ms_kanji", "WINDOWS-31J" },
	{ "replacement", NULL },
	{ "shift-jis", "WINDOWS-31J" },
	{ "shift_jis", "WINDOWS-31J" },
	{ "sjis", "WINDOWS-31J" },
	{ "sun_eu_greek", "ISO-8859-7" },
	{ "tis-620", "WINDOWS-874" },
	{ "ucs-2", "UTF-8" },
	{ "unicode", "UTF-8" },
	{ "unicode-1-1-utf-8", "UTF-8" },
	{ "unicode11utf8", "UTF-8" },
	{ "unicode20utf8", "UTF-8" },
	{ "unicodefeff", "UTF-8" },
	{ "unicodefffe", "UTF-8" },
	{ "us-ascii", "WINDOWS-1252" },
	{ "utf-16", "UTF-8" },
	{ "utf-16be", "UTF-8" },
	{ "utf-16le", "UTF-8" },
	{ "utf-8", "UTF-8" },
	{ "utf8", "UTF-8" },
	{ "visual", "ISO-8859-8" },
	{ "windows-1250", "WINDOWS-1250" },
	{ "windows-1251", "WINDOWS-1251" },
	{ "windows-1252", "WINDOWS-1252" },
	{ "windows-1253", "WINDOWS-1253" },
	{ "windows-1254", "WINDOWS-1254" },
	{ "windows-1255", "WINDOWS-1255" },
	{ "windows-1256", "WINDOWS-1256" },
	{ "windows-1257", "WINDOWS-1257" },
	{ "windows-1258", "WINDOWS-1258" },
	{ "windows-31j", "WINDOWS-31J" },
	{ "windows-874", "WINDOWS-874" },
	{ "windows-949", "CP949" },
	{ "x-cp1250", "WINDOWS-1250" },
	{ "x-cp1251", "WINDOWS-1251" },
	{ "x-cp1252", "WINDOWS-1252" },
	{ "x-cp1253", "WINDOWS-1253" },
	{ "x-cp1254", "WINDOWS-1254" },
	{ "x-cp1255", "WINDOWS-1255" },
	{ "x-cp1256", "WINDOWS-1256" },
	{ "x-cp1257", "WINDOWS-1257" },
	{ "x-cp1258", "WINDOWS-1258" },
	{ "x-euc-jp", "EUC-JP" },
	{ "x-gbk", "GB18030" },
	{ "x-mac-cyrillic", "MAC-CYRILLIC" },
	{ "x-mac-roman", "MACINTOSH" },
	{ "x-mac-ukrainian", "MAC-CYRILLIC" },
	{ "x-sjis", "WINDOWS-31J" },
	{ "x-unicode20utf8", "UTF-8" },
	{ "x-user-defined", NULL },
	{ "x-x-big5", "BIG5-HKSCS" },
};

static int
charset_label_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct charset_label *)elem)->label);
}

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
	const struct charset_label *l;
	char low[CHARSET_NAME_MAX];
	size_t i, n = 0;

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
	l = bsearch(low, LABELS, sizeof(LABELS) / sizeof(LABELS[0]),
	    sizeof(LABELS[0]), charset_label_cmp);
	if (l == NULL || l->name == NULL)
		return -1;
	snprintf(name, namelen, "%s", l->name);
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
