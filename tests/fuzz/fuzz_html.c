/*
 * fuzz_html.c - the whole cleaner under libFuzzer:
 * bytes -> sluice_extract_page().
 *
 * The first input byte picks the Content-Type (HTML, XHTML, plain text,
 * none/sniffed, a charset parameter) so charset detection, decoding, the
 * parser, metadata and the main-text pass all see hostile bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>

#include "sluice/extract.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TYPES[] = {
	"text/html", "application/xhtml+xml", "text/plain", NULL,
	"text/html; charset=windows-1252", "text/html; charset=shift_jis",
	"text/plain; charset=utf-16", "image/png",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sluice_extract_init();
	json_object_seed(1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sluice_extract_opts o;
	struct sluice_extract_doc d;
	char err[256];
	const char *ct;

	if (size == 0)
		return 0;
	ct = TYPES[data[0] % (sizeof(TYPES) / sizeof(TYPES[0]))];
	sluice_extract_opts_default(&o);
	/* Small limits so the fuzzer also walks the cut-off paths. */
	o.max_nodes = 5000;
	o.max_output = 64 * 1024;
	o.max_input = 1024 * 1024;
	(void)sluice_extract_page((const char *)data + 1, size - 1,
	    data[0] & 0x80 ? "https://www.example.com/a/b" : NULL, ct, &o, &d,
	    err, sizeof(err));
	sluice_extract_doc_free(&d);
	return 0;
}
