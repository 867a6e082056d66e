/*
 * prog.c - a program outside the tree using libsluice-extract as an
 * installed library would be used; built and run by
 * tests/integration/test_extract_lib.py with
 *	cc prog.c $(pkg-config --cflags --libs sluice-extract)
 *
 *   prog FILE	prints "title: ...", "words: N", then the page's main text.
 */
#include <stdio.h>
#include <stdlib.h>

#include <sluice/extract.h>

int
main(int argc, char **argv)
{
	struct sluice_extract_opts o;
	struct sluice_extract_doc d;
	enum sluice_extract_status st;
	char err[256] = "", *buf;
	size_t len;
	long n;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: prog FILE\n");
		return 2;
	}
	if ((f = fopen(argv[1], "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 ||
	    (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		perror(argv[1]);
		return 1;
	}
	len = (size_t)n;
	if ((buf = malloc(len + 1)) == NULL || fread(buf, 1, len, f) != len) {
		perror(argv[1]);
		return 1;
	}
	fclose(f);

	sluice_extract_opts_default(&o);
	st = sluice_extract_page(buf, len, "https://www.example.com/x",
	    "text/html; charset=utf-8", &o, &d, err, sizeof(err));
	free(buf);
	if (st != SLUICE_EXTRACT_OK) {
		fprintf(stderr, "prog: %s: %s\n", sluice_extract_status_name(st),
		    err);
		sluice_extract_doc_free(&d);
		return 1;
	}
	printf("title: %s\n", d.title != NULL ? d.title : "");
	printf("words: %zu %zu\n", d.word_count,
	    sluice_extract_word_count(d.text));
	printf("%s\n", d.text);
	sluice_extract_doc_free(&d);
	return 0;
}
