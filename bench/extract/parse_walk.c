/*
 * parse_walk.c - bench-parse-walk: the cost floor of any libxml2 cleaner.
 *
 *   bench-parse-walk FILE...
 *
 * Parses each file with libxml2's HTML parser (same options as html.c,
 * libxml2's own encoding detection) and concatenates every text node
 * outside script/style, printing {"file", "text"} JSON lines like
 * sluice-extract --json.  Its F1 is the "all text" floor, its CPU time the
 * parse-and-walk floor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/HTMLparser.h>

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL, *np;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			np = realloc(p, cap);
			if (np == NULL) {
				free(p);
				fclose(f);
				return NULL;
			}
			p = np;
		}
		r = fread(p + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return p;
}

static int
skipped(const xmlNode *n)
{
	return n->type == XML_ELEMENT_NODE && n->name != NULL &&
	    (strcmp((const char *)n->name, "script") == 0 ||
	    strcmp((const char *)n->name, "style") == 0 ||
	    strcmp((const char *)n->name, "noscript") == 0 ||
	    strcmp((const char *)n->name, "head") == 0);
}

/* Appends every text node under root, iteratively. */
static void
walk(xmlNode *root, char **out, size_t *len, size_t *cap)
{
	xmlNode *cur = root;
	size_t k;
	char *np;

	while (cur != NULL) {
		if (cur->type == XML_TEXT_NODE && cur->content != NULL) {
			k = strlen((const char *)cur->content);
			if (*len + k + 2 > *cap) {
				*cap = (*len + k + 2) * 2;
				np = realloc(*out, *cap);
				if (np == NULL)
					return;
				*out = np;
			}
			memcpy(*out + *len, cur->content, k);
			*len += k;
			(*out)[(*len)++] = ' ';
			(*out)[*len] = '\0';
		}
		if (cur->children != NULL && !skipped(cur)) {
			cur = cur->children;
			continue;
		}
		while (cur != root && cur->next == NULL)
			cur = cur->parent;
		if (cur == root)
			break;
		cur = cur->next;
	}
}

int
main(int argc, char **argv)
{
	int i, opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
	    HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_COMPACT |
	    HTML_PARSE_NODEFDTD;

	xmlInitParser();
	for (i = 1; i < argc; i++) {
		size_t len = 0, tlen = 0, tcap = 0;
		char *data = slurp(argv[i], &len), *text = NULL;
		htmlParserCtxtPtr ctxt;
		htmlDocPtr doc = NULL;
		json_t *o;

		if (data == NULL)
			continue;
		ctxt = htmlNewParserCtxt();
		if (ctxt != NULL)
			doc = htmlCtxtReadMemory(ctxt, data, (int)len, NULL,
			    NULL, opts);
		if (doc != NULL && xmlDocGetRootElement(doc) != NULL)
			walk(xmlDocGetRootElement(doc), &text, &tlen, &tcap);
		o = json_pack("{s:s, s:s}", "file", argv[i], "text",
		    text != NULL ? text : "");
		if (o != NULL) {
			json_dumpf(o, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			json_decref(o);
		}
		free(text);
		xmlFreeDoc(doc);
		htmlFreeParserCtxt(ctxt);
		free(data);
	}
	xmlCleanupParser();
	return 0;
}
