/*
 * test_charset.c - charset detection order and decoding to UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "charset.h"

static char *
decode(const char *bytes, size_t len, const char *ct, struct charset_info *ci)
{
	struct charset_opts o;
	char err[128], *out = NULL;
	size_t outlen;

	charset_opts_default(&o);
	assert_int_equal(charset_decode(bytes, len, ct, &o, &out, &outlen, ci,
	    err, sizeof(err)), 0);
	assert_int_equal(strlen(out), outlen);
	return out;
}

static void
test_bom_wins(void **state)
{
	static const char b[] = "\xEF\xBB\xBF<meta charset=latin1>caf\xC3\xA9";
	struct charset_info ci;
	char *s = decode(b, sizeof(b) - 1, "text/html; charset=koi8-r", &ci);

	(void)state;
	assert_int_equal(ci.source, CHARSET_FROM_BOM);
	assert_int_equal(ci.bom_len, 3);
	assert_string_equal(s, "<meta charset=latin1>caf\xC3\xA9");
	free(s);
}

static void
test_utf16_bom(void **state)
{
	static const char b[] = "\xFF\xFE<\0p\0>\0\xE9\0";
	struct charset_info ci;
	char *s = decode(b, sizeof(b) - 1, NULL, &ci);

	(void)state;
	assert_string_equal(ci.name, "UTF-16LE");
	assert_string_equal(s, "<p>\xC3\xA9");
	free(s);
}

static void
test_bom_lengths(void **state)
{
	const char *name = "none";

	(void)state;
	assert_int_equal(charset_bom("\xEF\xBB\xBFx", 4, &name), 3);
	assert_string_equal(name, "UTF-8");
	assert_int_equal(charset_bom("\xFF\xFEx\0", 4, &name), 2);
	assert_string_equal(name, "UTF-16LE");
	assert_int_equal(charset_bom("\xFE\xFF\0x", 4, &name), 2);
	assert_string_equal(name, "UTF-16BE");
	name = "none";
	assert_int_equal(charset_bom("\xFF", 1, &name), 0);
	assert_int_equal(charset_bom("\xEF\xBB", 2, &name), 0);
	assert_int_equal(charset_bom("<html>", 6, &name), 0);
	assert_string_equal(name, "none");
}

/* A UTF-16 page (with its BOM) is decoded whatever it and the server
 * declare, surrogate pairs included; a lone trailing byte becomes U+FFFD. */
static void
test_utf16be_bom_page(void **state)
{
	static const char b[] =
	    "\xFE\xFF\0<\0m\0e\0t\0a\0 \0c\0h\0a\0r\0s\0e\0t\0=\0u\0t"
	    "\0f\0-\0008\0>\0<\0p\0>\0c\0a\0f\0\xE9\x65\xE5\xD8\x3D\xDE\x00"
	    "\0!<";
	struct charset_info ci;
	char *s = decode(b, sizeof(b) - 1, "text/html; charset=iso-8859-1",
	    &ci);

	(void)state;
	assert_int_equal(ci.source, CHARSET_FROM_BOM);
	assert_int_equal(ci.bom_len, 2);
	assert_string_equal(ci.name, "UTF-16BE");
	assert_string_equal(s, "<meta charset=utf-8><p>caf\xC3\xA9\xE6\x97"
	    "\xA5\xF0\x9F\x98\x80!\xEF\xBF\xBD");
	free(s);
}

static void
test_http_then_meta(void **state)
{
	static const char b[] = "<meta charset=\"utf-8\"><p>caf\xE9</p>";
	struct charset_info ci;
	char *s;

	(void)state;
	/* HTTP says latin1 (windows-1252 on the web): wins over <meta>. */
	s = decode(b, sizeof(b) - 1, "text/html; charset=ISO-8859-1", &ci);
	assert_int_equal(ci.source, CHARSET_FROM_HTTP);
	assert_string_equal(ci.name, "WINDOWS-1252");
	assert_non_null(strstr(s, "caf\xC3\xA9"));
	free(s);
}

static void
test_meta_prescan(void **state)
{
	static const char b[] = "<html><head><meta http-equiv=\"Content-Type\""
	    " content=\"text/html; charset=windows-1250\"></head>"
	    "<p>zag\xB3osowa\xB3</p>";
	struct charset_info ci;
	char *s = decode(b, sizeof(b) - 1, "text/html", &ci);

	(void)state;
	assert_int_equal(ci.source, CHARSET_FROM_META);
	assert_string_equal(ci.name, "WINDOWS-1250");
	assert_non_null(strstr(s, "zag\xC5\x82osowa\xC5\x82"));
	free(s);
}

/* A label outside the WHATWG table is no label: the <meta> behind it, then
 * detection, decide, never iconv's utf-32 or EBCDIC decoder. */
static void
test_unknown_label_falls_back(void **state)
{
	static const char meta[] = "<meta charset=windows-1250><p>zag\xB3"
	    "osowa\xB3</p>";
	static const char plain[] = "<p>caf\xC3\xA9 ok</p>";
	struct charset_info ci;
	char *s;

	(void)state;
	s = decode(meta, sizeof(meta) - 1, "text/html; charset=utf-32", &ci);
	assert_int_equal(ci.source, CHARSET_FROM_META);
	assert_string_equal(ci.name, "WINDOWS-1250");
	assert_non_null(strstr(s, "zag\xC5\x82osowa\xC5\x82"));
	free(s);
	s = decode(plain, sizeof(plain) - 1, "text/html; charset=cp037", &ci);
	assert_int_equal(ci.source, CHARSET_FROM_UTF8);
	assert_string_equal(s, plain);
	free(s);
	s = decode(plain, sizeof(plain) - 1, "text/html; charset=utf-7", &ci);
	assert_int_equal(ci.source, CHARSET_FROM_UTF8);
	free(s);
}

static void
test_stale_declaration_loses_to_utf8(void **state)
{
	static const char b[] = "<meta charset=gb2312><p>\xE4\xB8\xAD\xE6\x96"
	    "\x87</p>";
	struct charset_info ci;
	char *s = decode(b, sizeof(b) - 1, NULL, &ci);

	(void)state;
	assert_int_equal(ci.source, CHARSET_FROM_UTF8);
	assert_non_null(strstr(s, "\xE4\xB8\xAD\xE6\x96\x87"));
	free(s);
}

static void
test_fallback_1252(void **state)
{
	static const char b[] = "<p>\x93quoted\x94 caf\xE9</p>";
	struct charset_info ci;
	char *s = decode(b, sizeof(b) - 1, NULL, &ci);

	(void)state;
	assert_int_equal(ci.source, CHARSET_FROM_DEFAULT);
	assert_string_equal(s, "<p>\xE2\x80\x9Cquoted\xE2\x80\x9D caf\xC3\xA9"
	    "</p>");
	free(s);
}

static void
test_invalid_bytes_replaced(void **state)
{
	static const char b[] = "<meta charset=utf-8>\xC3\xA9" "a\xFF" "b\0c"
	    "\xE2\x82";
	struct charset_info ci;
	char *s = decode(b, sizeof(b) - 1, NULL, &ci);

	(void)state;
	assert_string_equal(ci.name, "UTF-8");
	assert_string_equal(s, "<meta charset=utf-8>\xC3\xA9" "a\xEF\xBF\xBD"
	    "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD");
	free(s);
}

/* Latin-1 served as UTF-8: not even the first accented letter is UTF-8,
 * so the label loses (in the HTTP header and in a meta tag alike). */
static void
test_utf8_label_on_latin1(void **state)
{
	static const char b[] = "<p>caf\xE9 in Z\xFCrich</p>";
	struct charset_info ci;
	char *s = decode(b, sizeof(b) - 1, "text/html; charset=utf-8", &ci);

	(void)state;
	assert_int_equal(ci.source, CHARSET_FROM_DEFAULT);
	assert_string_equal(s, "<p>caf\xC3\xA9 in Z\xC3\xBCrich</p>");
	free(s);
}

static void
test_max_output(void **state)
{
	struct charset_opts o;
	char err[128], *out = NULL, big[4096];
	size_t outlen;

	(void)state;
	memset(big, 'a', sizeof(big));
	charset_opts_default(&o);
	o.max_output = 100;
	assert_int_equal(charset_decode(big, sizeof(big), NULL, &o, &out,
	    &outlen, NULL, err, sizeof(err)), -1);
	assert_null(out);
	assert_true(strlen(err) > 0);
}

static void
test_labels(void **state)
{
	char name[CHARSET_NAME_MAX], ct[32];

	(void)state;
	assert_int_equal(charset_canonical("Shift_JIS", 9, name,
	    sizeof(name)), 0);
	assert_string_equal(name, "WINDOWS-31J");
	assert_int_equal(charset_canonical(" utf8 ", 6, name, sizeof(name)),
	    0);
	assert_string_equal(name, "UTF-8");
	assert_int_equal(charset_canonical("no-such-charset", 15, name,
	    sizeof(name)), -1);
	assert_int_equal(charset_canonical("x\"; rm", 6, name, sizeof(name)),
	    -1);
	/* Only the WHATWG table's labels: iconv knows these, browsers
	 * ignore them, and so does sluice. */
	assert_int_equal(charset_canonical("utf-32", 6, name, sizeof(name)),
	    -1);
	assert_int_equal(charset_canonical("UTF-7", 5, name, sizeof(name)),
	    -1);
	assert_int_equal(charset_canonical("cp037", 5, name, sizeof(name)),
	    -1);
	assert_int_equal(charset_canonical("iso-2022-kr", 11, name,
	    sizeof(name)), -1);
	assert_int_equal(charset_canonical("x-user-defined", 14, name,
	    sizeof(name)), -1);
	/* Every spelling of the table maps to the web's decoder. */
	assert_int_equal(charset_canonical("ISO_8859-1:1987", 15, name,
	    sizeof(name)), 0);
	assert_string_equal(name, "WINDOWS-1252");
	assert_int_equal(charset_canonical("866", 3, name, sizeof(name)), 0);
	assert_string_equal(name, "IBM866");
	assert_int_equal(charset_canonical("logical", 7, name, sizeof(name)),
	    0);
	assert_string_equal(name, "ISO-8859-8");
	assert_int_equal(charset_canonical("ks_c_5601-1987", 14, name,
	    sizeof(name)), 0);
	assert_string_equal(name, "CP949");
	assert_int_equal(charset_canonical("\tKOI8-U ", 8, name,
	    sizeof(name)), 0);
	assert_string_equal(name, "KOI8-U");
	assert_int_equal(charset_from_content_type("text/html; Charset=\"EUC-KR\"",
	    ct, sizeof(ct)), 0);
	assert_string_equal(ct, "EUC-KR");
	assert_int_equal(charset_from_content_type("text/html", ct,
	    sizeof(ct)), -1);
}

static void
test_utf8_valid(void **state)
{
	size_t n;

	(void)state;
	assert_true(charset_utf8_valid("plain ascii text, long enough", 29,
	    &n));
	assert_int_equal(n, 0);
	assert_true(charset_utf8_valid("\xC3\xA9\xF0\x9F\x98\x80", 6, &n));
	assert_int_equal(n, 2);
	assert_false(charset_utf8_valid("\xC0\xAF", 2, NULL));	/* overlong */
	assert_false(charset_utf8_valid("\xED\xA0\x80", 3, NULL)); /* surrogate */
	assert_false(charset_utf8_valid("\xE2\x82", 2, NULL));	/* truncated */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bom_wins),
		cmocka_unit_test(test_utf16_bom),
		cmocka_unit_test(test_bom_lengths),
		cmocka_unit_test(test_utf16be_bom_page),
		cmocka_unit_test(test_http_then_meta),
		cmocka_unit_test(test_meta_prescan),
		cmocka_unit_test(test_unknown_label_falls_back),
		cmocka_unit_test(test_stale_declaration_loses_to_utf8),
		cmocka_unit_test(test_fallback_1252),
		cmocka_unit_test(test_invalid_bytes_replaced),
		cmocka_unit_test(test_utf8_label_on_latin1),
		cmocka_unit_test(test_max_output),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_utf8_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
