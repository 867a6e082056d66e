/*
 * sluice_extract.c - sluice-extract(1): runs the cleaner on files.
 *
 *   sluice-extract [--title] [--url URL] [--content-type CT] FILE|-
 *	prints the main text of one page (after its title with --title);
 *   sluice-extract --json [--url URL] [--content-type CT] FILE...
 *	prints one JSON object per file, all in one process;
 *   sluice-extract --site [--host SITE] ... FILE...
 *	judges the files as pages of one site, in order, with site memory.
 * docs/man/sluice-extract.1 documents the options; keep it in step with
 * help() below.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>

#include "docjson.h"
#include "sluice/extract.h"

#define USAGE \
	"usage: sluice-extract [--title] [--url URL] [--content-type CT] " \
	"FILE|-\n" \
	"       sluice-extract --json [--comments] [--url URL] " \
	"[--content-type CT] FILE...\n" \
	"       sluice-extract [--json] --site [--host SITE] [--url URL] " \
	"FILE...\n" \
	"       sluice-extract --help | --version\n"

static void
usage(void)
{
	fputs(USAGE, stderr);
	exit(2);
}

static void
help(void)
{
	fputs(USAGE
	    "\n"
	    "Prints the main text of a web page, one paragraph per line, as\n"
	    "sluiced's cleaner finds it.  FILE holds the page's raw bytes;\n"
	    "- reads standard input.\n"
	    "\n"
	    "  -u, --url URL       the page's URL: resolves and checks its\n"
	    "                      canonical URL (default: none)\n"
	    "  -c, --content-type CT\n"
	    "                      the HTTP Content-Type, e.g. \"text/html;\n"
	    "                      charset=utf-8\": its charset is used, and\n"
	    "                      a type other than HTML or text/plain is\n"
	    "                      refused (default: sniff the bytes)\n"
	    "  -t, --title         print the title first, on a line of its\n"
	    "                      own (empty if the page has none); no\n"
	    "                      effect with --json\n"
	    "  -j, --json          print one JSON object per FILE (status,\n"
	    "                      title, text, author, date, sitename,\n"
	    "                      description, language, canonical_url,\n"
	    "                      charset, word_count, and error on a\n"
	    "                      failure); takes several FILEs\n"
	    "  -C, --comments      with --json, add the page's comment\n"
	    "                      thread as \"comments\" (never in text)\n"
	    "  -s, --site          site memory across the FILEs, read in\n"
	    "                      order: lines kept on 3 or more earlier\n"
	    "                      pages of the same site are dropped as\n"
	    "                      boilerplate; takes several FILEs\n"
	    "  -H, --host SITE     the FILEs' site for --site (default: the\n"
	    "                      host of <link rel=canonical>, else of\n"
	    "                      --url)\n"
	    "  -h, --help          print this help and exit\n"
	    "  -V, --version       print the version and exit\n"
	    "\n"
	    "Exit status: 0 if every FILE was read and cleaned (a page\n"
	    "without main text prints nothing), 1 if one could not be read\n"
	    "or was refused, 2 on a usage error.  See sluice-extract(1).\n",
	    stdout);
	exit(0);
}

/* Reads a whole file (or stdin for "-"), at most max bytes + 1 so that an
 * oversized input is still reported as too large by the cleaner. */
static int
read_file(const char *path, size_t max, char **data, size_t *len,
    char *err, size_t errlen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 65536, n = 0, r;
	char *p = NULL, *np;

	if (f == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap || p == NULL) {
			cap = p == NULL ? cap : cap * 2;
			np = realloc(p, cap);
			if (np == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			p = np;
		}
		r = fread(p + n, 1, cap - n, f);
		n += r;
		if (r == 0 || n > max)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	*data = p;
	*len = n;
	return 0;
fail:
	free(p);
	if (f != stdin)
		fclose(f);
	return -1;
}

static void
set_str(json_t *o, const char *key, const char *val)
{
	json_object_set_new(o, key, val != NULL ? json_string(val) :
	    json_null());
}

static json_t *
tool_doc_json(const char *path, const struct sluice_extract_doc *d,
    enum sluice_extract_status st)
{
	json_t *o = json_object();

	set_str(o, "file", path);
	set_str(o, "status", sluice_extract_status_name(st));
	set_str(o, "title", d->title);
	set_str(o, "text", d->text != NULL ? d->text : "");
	set_str(o, "author", d->author);
	set_str(o, "date", d->date);
	set_str(o, "sitename", d->sitename);
	set_str(o, "description", d->description);
	set_str(o, "language", d->language);
	set_str(o, "canonical_url", d->canonical_url);
	set_str(o, "charset", d->charset);
	json_object_set_new(o, "word_count",
	    json_integer((json_int_t)d->word_count));
	docjson_more(o, sluice_extract_doc_more(d));
	if (d->comments != NULL)
		set_str(o, "comments", d->comments);
	if (d->site != NULL) {
		set_str(o, "site", d->site);
		json_object_set_new(o, "site_dropped",
		    json_integer((json_int_t)d->site_dropped));
		json_object_set_new(o, "site_repeated",
		    json_boolean(d->site_repeated));
	}
	return o;
}

static void
print_json(json_t *o)
{
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(o);
}

/* Extracts one file; returns 0, or 1 if it could not be read or failed. */
static int
one(const char *path, const char *url, const char *ct, bool json,
    bool title, const struct sluice_extract_opts *o)
{
	struct sluice_extract_doc d;
	enum sluice_extract_status st;
	char err[256], *data = NULL;
	size_t len = 0;
	json_t *e;

	if (read_file(path, o->max_input, &data, &len, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "sluice-extract: %s: %s\n", path, err);
		if (json) {
			e = json_object();
			set_str(e, "file", path);
			set_str(e, "error", err);
			print_json(e);
		}
		return 1;
	}
	err[0] = '\0';
	st = sluice_extract_page(data, len, url, ct, o, &d, err, sizeof(err));
	free(data);
	if (st == SLUICE_EXTRACT_OK && o->site_memory != NULL &&
	    sluice_site_memory_record(o->site_memory, &d) == -1)
		fprintf(stderr, "sluice-extract: %s: site memory: out of "
		    "memory\n", path);
	if (st != SLUICE_EXTRACT_OK && st != SLUICE_EXTRACT_EMPTY)
		fprintf(stderr, "sluice-extract: %s: %s: %s\n", path,
		    sluice_extract_status_name(st), err);
	if (json) {
		e = tool_doc_json(path, &d, st);
		if (st != SLUICE_EXTRACT_OK && st != SLUICE_EXTRACT_EMPTY)
			set_str(e, "error", err);
		print_json(e);
	} else {
		if (title && (st == SLUICE_EXTRACT_OK ||
		    st == SLUICE_EXTRACT_EMPTY))
			printf("%s\n", d.title != NULL ? d.title : "");
		if (d.text != NULL)
			printf("%s\n", d.text);
	}
	sluice_extract_doc_free(&d);
	return st == SLUICE_EXTRACT_OK || st == SLUICE_EXTRACT_EMPTY ? 0 : 1;
}

int
main(int argc, char **argv)
{
	static const struct option LONGOPTS[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "content-type", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "title", no_argument, NULL, 't' },
		{ "comments", no_argument, NULL, 'C' },
		{ "site", no_argument, NULL, 's' },
		{ "host", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sluice_extract_opts o;
	const char *url = NULL, *ct = NULL, *host = NULL;
	bool json = false, title = false, site = false;
	struct sluice_site_memory *mem = NULL;
	int ch, i, fails = 0;

	sluice_extract_opts_default(&o);
	while ((ch = getopt_long(argc, argv, "u:c:jtCsH:hV", LONGOPTS,
	    NULL)) != -1) {
		switch (ch) {
		case 'u':
			url = optarg;
			break;
		case 'c':
			ct = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			title = true;
			break;
		case 'C':
			o.include_comments = true;
			break;
		case 's':
			site = true;
			break;
		case 'H':
			host = optarg;
			break;
		case 'h':
			help();
			break;
		case 'V':
			printf("sluice-extract %s\n", SLUICE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (!json && !site && argc != 1))
		usage();
	sluice_extract_init();
	json_object_seed(0);
	if (site) {
		if ((mem = sluice_site_memory_new(NULL)) == NULL) {
			fprintf(stderr, "sluice-extract: out of memory\n");
			return 1;
		}
		o.site_memory = mem;
		o.site = host;
	}
	for (i = 0; i < argc; i++)
		fails += one(argv[i], url, ct, json, title, &o);
	sluice_site_memory_free(mem);
	fflush(stdout);
	xmlCleanupParser();
	return fails > 0 ? 1 : 0;
}
