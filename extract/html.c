/*
 * html.c - libxml2 HTML parsing wrapper and DOM helpers shared by the
 * cleaner (extract.c) and the metadata reader (meta.c).
 */
#include <ctype.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "html.h"

#include <libxml/valid.h>

#define HTML_PARSE_FIXED (HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | \
    HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_COMPACT | \
    HTML_PARSE_NODEFDTD | HTML_PARSE_IGNORE_ENC)

/* Indexed by enum html_tag, sorted by name (binary search). */
static const struct {
	const char	*name;
	unsigned	 flags;
} TAGS[HTML_TAG_COUNT] = {
	[HTML_OTHER] = { "", 0 },
	[HTML_A] = { "a", 0 },
	[HTML_ABBR] = { "abbr", 0 },
	[HTML_ADDRESS] = { "address", HTML_F_BLOCK },
	[HTML_APPLET] = { "applet", HTML_F_SKIP | HTML_F_EMBED },
	[HTML_AREA] = { "area", HTML_F_SKIP },
	[HTML_ARTICLE] = { "article", HTML_F_BLOCK },
	[HTML_ASIDE] = { "aside", HTML_F_BLOCK },
	[HTML_AUDIO] = { "audio", HTML_F_SKIP | HTML_F_EMBED },
	[HTML_B] = { "b", 0 },
	[HTML_BASE] = { "base", HTML_F_SKIP },
	[HTML_BDI] = { "bdi", 0 },
	[HTML_BIG] = { "big", 0 },
	[HTML_BLOCKQUOTE] = { "blockquote", HTML_F_BLOCK },
	[HTML_BODY] = { "body", HTML_F_BLOCK },
	[HTML_BR] = { "br", 0 },
	[HTML_BUTTON] = { "button", HTML_F_SKIP | HTML_F_CONTROL },
	[HTML_CANVAS] = { "canvas", HTML_F_SKIP },
	[HTML_CAPTION] = { "caption", HTML_F_BLOCK | HTML_F_PARA },
	[HTML_CENTER] = { "center", HTML_F_BLOCK },
	[HTML_CITE] = { "cite", 0 },
	[HTML_CODE] = { "code", 0 },
	[HTML_COL] = { "col", HTML_F_SKIP },
	[HTML_COLGROUP] = { "colgroup", HTML_F_SKIP },
	[HTML_DATALIST] = { "datalist", HTML_F_SKIP | HTML_F_CONTROL },
	[HTML_DD] = { "dd", HTML_F_BLOCK | HTML_F_PARA },
	[HTML_DEL] = { "del", 0 },
	[HTML_DETAILS] = { "details", HTML_F_BLOCK },
	[HTML_DFN] = { "dfn", 0 },
	[HTML_DIALOG] = { "dialog", HTML_F_BLOCK | HTML_F_SKIP },
	[HTML_DIR] = { "dir", HTML_F_BLOCK },
	[HTML_DIV] = { "div", HTML_F_BLOCK },
	[HTML_DL] = { "dl", HTML_F_BLOCK },
	[HTML_DT] = { "dt", HTML_F_BLOCK | HTML_F_PARA },
	[HTML_EM] = { "em", 0 },
	[HTML_EMBED] = { "embed", HTML_F_SKIP | HTML_F_EMBED },
	[HTML_FIELDSET] = { "fieldset", HTML_F_BLOCK },
	[HTML_FIGCAPTION] = { "figcaption", HTML_F_BLOCK | HTML_F_PARA },
	[HTML_FIGURE] = { "figure", HTML_F_BLOCK },
	[HTML_FONT] = { "font", 0 },
	[HTML_FOOTER] = { "footer", HTML_F_BLOCK },
	[HTML_FORM] = { "form", HTML_F_BLOCK },
	[HTML_FRAME] = { "frame", HTML_F_SKIP },
	[HTML_FRAMESET] = { "frameset", HTML_F_BLOCK },
	[HTML_H1] = { "h1", HTML_F_BLOCK | HTML_F_HEADING | HTML_F_PARA },
	[HTML_H2] = { "h2", HTML_F_BLOCK | HTML_F_HEADING | HTML_F_PARA },
	[HTML_H3] = { "h3", HTML_F_BLOCK | HTML_F_HEADING | HTML_F_PARA },
	[HTML_H4] = { "h4", HTML_F_BLOCK | HTML_F_HEADING | HTML_F_PARA },
	[HTML_H5] = { "h5", HTML_F_BLOCK | HTML_F_HEADING | HTML_F_PARA },
	[HTML_H6] = { "h6", HTML_F_BLOCK | HTML_F_HEADING | HTML_F_PARA },
	[HTML_HEAD] = { "head", HTML_F_SKIP },
	[HTML_HEADER] = { "header", HTML_F_BLOCK },
	[HTML_HGROUP] = { "hgroup", HTML_F_BLOCK },
	[HTML_HR] = { "hr", HTML_F_BLOCK },
	[HTML_HTML] = { "html", HTML_F_BLOCK },
	[HTML_I] = { "i", 0 },
	[HTML_IFRAME] = { "iframe", HTML_F_SKIP | HTML_F_EMBED },
	[HTML_IMG] = { "img", 0 },
	[HTML_INPUT] = { "input", HTML_F_SKIP | HTML_F_CONTROL },
	[HTML_INS] = { "ins", 0 },
	[HTML_KBD] = { "kbd", 0 },
	[HTML_LABEL] = { "label", 0 },
	[HTML_LEGEND] = { "legend", HTML_F_BLOCK },
	[HTML_LI] = { "li", HTML_F_BLOCK | HTML_F_PARA },
	[HTML_LINK] = { "link", HTML_F_SKIP },
	[HTML_MAIN] = { "main", HTML_F_BLOCK },
	[HTML_MAP] = { "map", HTML_F_SKIP },
	[HTML_MARK] = { "mark", 0 },
	[HTML_MARQUEE] = { "marquee", HTML_F_SKIP },
	[HTML_MATH] = { "math", HTML_F_SKIP },
	[HTML_MENU] = { "menu", HTML_F_BLOCK },
	[HTML_META] = { "meta", HTML_F_SKIP },
	[HTML_METER] = { "meter", HTML_F_SKIP },
	[HTML_NAV] = { "nav", HTML_F_BLOCK },
	[HTML_NOSCRIPT] = { "noscript", HTML_F_SKIP | HTML_F_BLOCK },
	[HTML_OBJECT] = { "object", HTML_F_SKIP | HTML_F_EMBED },
	[HTML_OL] = { "ol", HTML_F_BLOCK },
	[HTML_OPTGROUP] = { "optgroup", HTML_F_SKIP },
	[HTML_OPTION] = { "option", HTML_F_SKIP },
	[HTML_OUTPUT] = { "output", HTML_F_SKIP },
	[HTML_P] = { "p", HTML_F_BLOCK | HTML_F_PARA },
	[HTML_PARAM] = { "param", HTML_F_SKIP },
	[HTML_PICTURE] = { "picture", 0 },
	[HTML_PRE] = { "pre", HTML_F_BLOCK | HTML_F_PARA },
	[HTML_PROGRESS] = { "progress", HTML_F_SKIP },
	[HTML_Q] = { "q", 0 },
	[HTML_RP] = { "rp", HTML_F_SKIP },
	[HTML_RT] = { "rt", HTML_F_SKIP },
	[HTML_RUBY] = { "ruby", 0 },
	[HTML_S] = { "s", 0 },
	[HTML_SAMP] = { "samp", 0 },
	[HTML_SCRIPT] = { "script", HTML_F_SKIP },
	[HTML_SEARCH] = { "search", HTML_F_BLOCK },
	[HTML_SECTION] = { "section", HTML_F_BLOCK },
	[HTML_SELECT] = { "select", HTML_F_SKIP | HTML_F_CONTROL },
	[HTML_SMALL] = { "small", 0 },
	[HTML_SOURCE] = { "source", HTML_F_SKIP },
	[HTML_SPAN] = { "span", 0 },
	[HTML_STRIKE] = { "strike", 0 },
	[HTML_STRONG] = { "strong", 0 },
	[HTML_STYLE] = { "style", HTML_F_SKIP },
	[HTML_SUB] = { "sub", 0 },
	[HTML_SUMMARY] = { "summary", HTML_F_BLOCK | HTML_F_PARA },
	[HTML_SUP] = { "sup", 0 },
	[HTML_SVG] = { "svg", HTML_F_SKIP },
	[HTML_TABLE] = { "table", HTML_F_BLOCK },
	[HTML_TBODY] = { "tbody", HTML_F_BLOCK },
	[HTML_TD] = { "td", HTML_F_BLOCK | HTML_F_PARA },
	[HTML_TEMPLATE] = { "template", HTML_F_SKIP },
	[HTML_TEXTAREA] = { "textarea", HTML_F_SKIP | HTML_F_CONTROL },
	[HTML_TFOOT] = { "tfoot", HTML_F_BLOCK },
	[HTML_TH] = { "th", HTML_F_BLOCK | HTML_F_PARA },
	[HTML_THEAD] = { "thead", HTML_F_BLOCK },
	[HTML_TIME] = { "time", 0 },
	[HTML_TITLE] = { "title", HTML_F_SKIP },
	[HTML_TR] = { "tr", HTML_F_BLOCK },
	[HTML_TRACK] = { "track", HTML_F_SKIP },
	[HTML_TT] = { "tt", 0 },
	[HTML_U] = { "u", 0 },
	[HTML_UL] = { "ul", HTML_F_BLOCK },
	[HTML_VAR] = { "var", 0 },
	[HTML_VIDEO] = { "video", HTML_F_SKIP | HTML_F_EMBED },
	[HTML_WBR] = { "wbr", 0 },
};

/* ---- budget -------------------------------------------------------- */

static uint64_t
html_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
html_budget_start(struct html_budget *b)
{
	b->start_ns = html_cpu_ns();
	b->deadline_ns = b->max_seconds > 0 ? b->start_ns +
	    (uint64_t)(b->max_seconds * 1e9) : UINT64_MAX;
	b->ticks = 0;
	b->stop = HTML_GOING;
	b->deep = 0;
}

bool
html_budget_over(struct html_budget *b, bool force)
{
	if (b->stop != HTML_GOING)
		return true;
	/* Steps may add more than one tick: a threshold, not a modulo. */
	if (!force && ++b->ticks < HTML_BUDGET_TICKS)
		return false;
	b->ticks = 0;
	if (b->interrupt != NULL && b->interrupt(b->interrupt_arg) != 0)
		b->stop = HTML_STOP_CANCEL;
	else if (b->deadline_ns != UINT64_MAX && html_cpu_ns() >= b->deadline_ns)
		b->stop = HTML_STOP_TIME;
	return b->stop != HTML_GOING;
}

double
html_budget_used(const struct html_budget *b)
{
	return (double)(html_cpu_ns() - b->start_ns) / 1e9;
}

static bool
html_name_char(unsigned char c)
{
	return c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' &&
	    c != '/' && c != '>' && c != '=';
}

static size_t
html_skip_ws(const char *s, size_t i, size_t len)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r' || s[i] == '\f'))
		i++;
	return i;
}

/* Where the raw text of a <script> or <style> opened before i ends. */
static size_t
html_skip_raw(const char *s, size_t i, size_t len, const char *end,
    size_t elen)
{
	const char *p;

	while (i < len && (p = memchr(s + i, '<', len - i)) != NULL) {
		i = (size_t)(p - s);
		if (i + elen <= len && strncasecmp(s + i, end, elen) == 0)
			return i;
		i++;
	}
	return len;
}

/*
 * Elements whose end tag is optional or absent (void, or closed by the
 * parser when a sibling starts): they do not deepen libxml2's stack of
 * open names for long, so the prescan does not count them.
 */
static bool
html_shallow(const char *name, size_t n)
{
	/* By length: a short memcmp list each, no per-name strlen. */
	static const char *const BYLEN[9] = { "", "p",
	    "brddtdthtrhrlirprt", "colimgwbr", "areabasebodyheadhtmllinkmeta",
	    "embedinputparamtheadtbodytfoottrack", "keygenoptionsource", "",
	    "colgroupoptgroup" };
	char low[8];
	const char *p;

	if (n == 0 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	for (p = BYLEN[n]; *p != '\0'; p += n)
		if (memcmp(p, low, n) == 0)
			return true;
	return false;
}

/* libxml2's stack of open names, as hashes. */
#define PRESCAN_SCAN	1024	/* entries searched for a match, at most */

struct prescan_stack {
	uint32_t	*h;
	size_t		 depth, cap;
	bool		 oom;
};

static uint32_t
prescan_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint32_t)tolower((unsigned char)s[i])) * 16777619u;
	return h;
}

static void
prescan_push(struct prescan_stack *st, uint32_t h)
{
	if (st->depth == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 256;
		uint32_t *t = realloc(st->h, cap * sizeof(*t));

		if (t == NULL) {
			st->oom = true;
			return;
		}
		st->h = t;
		st->cap = cap;
	}
	st->h[st->depth++] = h;
}

/*
 * What libxml2 spends matching end tag h: it scans its open names from
 * the top down to the match (then closes everything above it), or all of
 * them when none matches.  The prescan looks PRESCAN_SCAN deep at most,
 * so that it stays linear itself; a match below counts as none.
 */
static size_t
prescan_end(struct prescan_stack *st, uint32_t h)
{
	size_t j;

	for (j = 0; j < st->depth && j < PRESCAN_SCAN; j++)
		if (st->h[st->depth - 1 - j] == h) {
			st->depth -= j + 1;
			return j + 1;
		}
	return st->depth;
}

/*
 * The cheap pass before parsing.  Attributes are counted the way libxml2
 * reads a start tag: names up to whitespace, '/', '>' or '='; a value
 * quoted or up to whitespace or '>'.  libxml2 also matches every end tag
 * against its stack of open names, with no callback in between when none
 * matches: the prescan sums what that costs, elements with an optional
 * end tag (html_shallow()) left out.  Script and style contents and
 * comments are skipped, as the parser skips them.
 */
void
html_prescan(const char *s, size_t len, size_t max_attrs, size_t max_work,
    struct html_prescan *ps)
{
	struct prescan_stack st = { NULL, 0, 0, false };
	size_t i = 0, n, name, tag;
	const char *p;
	bool end;
	char q;

	memset(ps, 0, sizeof(*ps));
	while (i < len && (p = memchr(s + i, '<', len - i)) != NULL) {
		i = (size_t)(p - s) + 1;
		if (i + 3 <= len && memcmp(s + i, "!--", 3) == 0) {
			p = memmem(s + i + 3, len - i - 3, "-->", 3);
			i = p != NULL ? (size_t)(p - s) + 3 : len;
			continue;
		}
		end = i < len && s[i] == '/';
		if (end)
			i++;
		if (i >= len || !isalpha((unsigned char)s[i]))
			continue;
		tag = i;
		while (i < len && html_name_char((unsigned char)s[i]))
			i++;
		name = i - tag;
		if (end) {
			if (!html_shallow(s + tag, name))
				ps->end_work += prescan_end(&st,
				    prescan_hash(s + tag, name));
			if (st.oom || (max_work > 0 && ps->end_work > max_work))
				break;
			continue;
		}
		n = 0;
		for (;;) {
			i = html_skip_ws(s, i, len);
			while (i < len && s[i] == '/')
				i++;
			if (i >= len || s[i] == '>')
				break;
			if (!html_name_char((unsigned char)s[i]) && s[i] != '=') {
				i++;
				continue;
			}
			n++;
			if (s[i] == '=')
				i++;	/* a nameless "=x": libxml2 reads a name */
			while (i < len && html_name_char((unsigned char)s[i]))
				i++;
			i = html_skip_ws(s, i, len);
			if (i >= len || s[i] != '=')
				continue;
			i = html_skip_ws(s, i + 1, len);
			if (i < len && (s[i] == '"' || s[i] == '\'')) {
				q = s[i];
				p = memchr(s + i + 1, q, len - i - 1);
				i = p != NULL ? (size_t)(p - s) + 1 : len;
			} else
				while (i < len && s[i] != '>' && s[i] != ' ' &&
				    s[i] != '\t' && s[i] != '\n' &&
				    s[i] != '\r' && s[i] != '\f')
					i++;
		}
		if (n > ps->attrs)
			ps->attrs = n;
		if (max_attrs > 0 && ps->attrs > max_attrs)
			break;
		if (i < len && s[i - 1] != '/' && !html_shallow(s + tag, name))
			prescan_push(&st, prescan_hash(s + tag, name));
		/* The parser reads script and style contents as raw text. */
		if (name == 6 && strncasecmp(s + tag, "script", 6) == 0)
			i = html_skip_raw(s, i, len, "</script", 8);
		else if (name == 5 && strncasecmp(s + tag, "style", 5) == 0)
			i = html_skip_raw(s, i, len, "</style", 7);
	}
	if (st.oom)
		ps->end_work = SIZE_MAX;	/* refused: cannot tell */
	free(st.h);
}

/* ---- parsing ------------------------------------------------------- */

static bool
html_dtd_tables(const xmlDtd *d)
{
	return d != NULL && (d->notations != NULL || d->elements != NULL ||
	    d->attributes != NULL || d->entities != NULL ||
	    d->pentities != NULL);
}

void
html_doc_drop(xmlDoc *doc)
{
	/* A DTD's tables hold references to the dictionary: the HTML parser
	 * reads a doctype's name and identifiers only and makes none, but
	 * should one be there, the usual way frees it all. */
	if (html_dtd_tables(doc->intSubset) || html_dtd_tables(doc->extSubset)) {
		xmlFreeDoc(doc);
		return;
	}
	/* So do the ID and reference tables. */
	if (doc->ids != NULL)
		xmlFreeIDTable(doc->ids);
	if (doc->refs != NULL)
		xmlFreeRefTable(doc->refs);
	doc->ids = doc->refs = NULL;
	if (doc->dict != NULL)
		xmlDictFree(doc->dict);
	doc->dict = NULL;
}

/* Whether the tree has outgrown its bytes, where a region counts them
 * (arena.h): elements alone would let long attribute values through. */
static bool
html_tree_full(const struct html_budget *b)
{
	return b->max_tree_bytes > 0 && arena_used() > b->max_tree_bytes;
}

/* The budget's hold on libxml2: its SAX callbacks, wrapped. */
struct html_sax {
	struct html_budget *b;
	startElementSAXFunc start;
	endElementSAXFunc end;
	charactersSAXFunc chars;
	cdataBlockSAXFunc cdata;
};

static void
html_sax_start(void *ctx, const xmlChar *name, const xmlChar **atts)
{
	htmlParserCtxtPtr ctxt = ctx;
	struct html_sax *hs = ctxt->_private;
	struct html_budget *b = hs->b;
	size_t n;

	if (b->deep > 0 || (b->max_depth > 0 &&
	    (size_t)ctxt->nodeNr >= b->max_depth)) {
		/* libxml2 halts at depth 256 and drops the rest of the page:
		 * the element is left out, its text goes to the ancestor. */
		b->deep++;
		b->flattened++;
		return;
	}
	/* An attribute costs about what an element does (a node and its
	 * text): both count toward max_elements. */
	for (n = 0; atts != NULL && atts[n] != NULL; n += 2)
		;
	if ((b->max_elements > 0 && b->elements + b->attributes + 1 + n / 2 >
	    b->max_elements) || html_tree_full(b)) {
		b->deep++;
		b->truncated = true;
		xmlStopParser(ctxt);
		return;
	}
	b->elements++;
	b->attributes += n / 2;
	/* A tag's cost grows with the square of its attributes: they weigh
	 * on the clock's polling too. */
	b->ticks += (unsigned)(n / 8);
	hs->start(ctx, name, atts);
	if (html_budget_over(b, false))
		xmlStopParser(ctxt);
}

static void
html_sax_end(void *ctx, const xmlChar *name)
{
	htmlParserCtxtPtr ctxt = ctx;
	struct html_sax *hs = ctxt->_private;

	/* Calls nest: while a left-out element is open, ends are theirs. */
	if (hs->b->deep > 0) {
		hs->b->deep--;
		return;
	}
	hs->end(ctx, name);
	if (html_budget_over(hs->b, false))
		xmlStopParser(ctxt);
}

static void
html_sax_chars(void *ctx, const xmlChar *ch, int len)
{
	htmlParserCtxtPtr ctxt = ctx;
	struct html_sax *hs = ctxt->_private;

	hs->chars(ctx, ch, len);
	if (html_tree_full(hs->b)) {
		hs->b->truncated = true;
		xmlStopParser(ctxt);
		return;
	}
	/* Past a deep stack of open names each end tag costs libxml2 a scan
	 * of it: the steps weigh more. */
	hs->b->ticks += (unsigned)(ctxt->nameNr >> 9);
	if (html_budget_over(hs->b, false))
		xmlStopParser(ctxt);
}

static void
html_sax_cdata(void *ctx, const xmlChar *ch, int len)
{
	htmlParserCtxtPtr ctxt = ctx;
	struct html_sax *hs = ctxt->_private;

	hs->cdata(ctx, ch, len);
	if (html_budget_over(hs->b, false))
		xmlStopParser(ctxt);
}

static void
html_sax_wrap(htmlParserCtxtPtr ctxt, struct html_sax *hs,
    struct html_budget *b)
{
	xmlSAXHandlerPtr sax = ctxt->sax;

	hs->b = b;
	hs->start = sax->startElement;
	hs->end = sax->endElement;
	hs->chars = sax->characters;
	hs->cdata = sax->cdataBlock;
	if (hs->start != NULL && hs->end != NULL) {
		sax->startElement = html_sax_start;
		sax->endElement = html_sax_end;
	}
	if (hs->chars != NULL)
		sax->characters = html_sax_chars;
	if (hs->cdata != NULL)
		sax->cdataBlock = html_sax_cdata;
	/* Nothing reads comments or PIs: a page of a million of them would
	 * cost nodes and memory for nothing. */
	sax->comment = NULL;
	sax->processingInstruction = NULL;
	ctxt->_private = hs;
}

htmlDocPtr
html_parse(const char *utf8, size_t len, const struct html_opts *o,
    char *err, size_t errlen)
{
	htmlParserCtxtPtr ctxt;
	htmlDocPtr doc;
	struct html_budget *b = o != NULL ? o->budget : NULL;
	struct html_sax hs;
	int options = HTML_PARSE_FIXED;

	if (o != NULL)
		options |= o->extra_options;
	if (len > INT_MAX) {
		snprintf(err, errlen, "document over %d bytes", INT_MAX);
		return NULL;
	}
	if (b != NULL) {
		struct html_prescan ps;
		size_t work = 0;

		if (b->max_tag_work > 0)
			work = b->max_tag_work > SIZE_MAX / (len + (1u << 20)) ?
			    SIZE_MAX : b->max_tag_work * (len + (1u << 20));
		html_prescan(utf8, len, b->max_attrs, work, &ps);
		b->attrs = ps.attrs;
		b->end_work = ps.end_work;
		if (b->max_attrs > 0 && b->attrs > b->max_attrs) {
			b->stop = HTML_STOP_ATTRS;
			snprintf(err, errlen, "a start tag with over %zu "
			    "attributes", b->max_attrs);
			return NULL;
		}
		if (work > 0 && ps.end_work > work) {
			b->stop = HTML_STOP_ATTRS;
			snprintf(err, errlen, "tags left open too deep: over "
			    "%zu steps matching end tags (%zu per byte)", work,
			    b->max_tag_work);
			return NULL;
		}
	}
	ctxt = htmlNewParserCtxt();
	if (ctxt == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (b != NULL)
		html_sax_wrap(ctxt, &hs, b);
	doc = htmlCtxtReadMemory(ctxt, utf8, (int)len, NULL, "UTF-8", options);
	htmlFreeParserCtxt(ctxt);
	if (b != NULL && b->stop != HTML_GOING) {
		xmlFreeDoc(doc);
		snprintf(err, errlen, b->stop == HTML_STOP_CANCEL ?
		    "cancelled while parsing" :
		    "over %.3g s of CPU time while parsing", b->max_seconds);
		return NULL;
	}
	if (doc == NULL)
		snprintf(err, errlen, "HTML parser returned no document");
	return doc;
}

static bool
script_delim(const char *s, size_t i, size_t len)
{
	return i >= len || s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r' || s[i] == '\f' || s[i] == '/' || s[i] == '>';
}

static bool
at_ci(const char *s, size_t i, size_t len, const char *w, size_t wl)
{
	return i + wl <= len && strncasecmp(s + i, w, wl) == 0;
}

/*
 * The HTML5 script data states, reduced to what decides where a script
 * ends: plain data, escaped (after "<!--") and double-escaped (after
 * "<script" in escaped); "-->" returns to plain data.
 */
size_t
html_fix_scripts(char *s, size_t len)
{
	enum { S_DATA, S_ESC, S_DESC } st;
	size_t i = 0, fixed = 0;
	const char *p;

	while (i < len) {
		p = memchr(s + i, '<', len - i);
		if (p == NULL)
			break;
		i = (size_t)(p - s);
		/* Most '<' open other tags: one byte tells. */
		if (i + 1 < len && s[i + 1] != '!' && s[i + 1] != 's' &&
		    s[i + 1] != 'S') {
			i++;
			continue;
		}
		if (at_ci(s, i, len, "<!--", 4)) {
			p = memmem(s + i + 4, len - i - 4, "-->", 3);
			i = p != NULL ? (size_t)(p - s) + 3 : len;
			continue;
		}
		if (!at_ci(s, i, len, "<script", 7) ||
		    !script_delim(s, i + 7, len)) {
			i++;
			continue;
		}
		p = memchr(s + i, '>', len - i);
		if (p == NULL)
			break;
		i = (size_t)(p - s) + 1;
		st = S_DATA;
		while (i < len) {
			if (s[i] == '-' && st != S_DATA &&
			    at_ci(s, i, len, "-->", 3)) {
				st = S_DATA;
				i += 3;
				continue;
			}
			if (s[i] != '<') {
				p = memchr(s + i + 1, st == S_DATA ? '<' : '-',
				    len - i - 1);
				if (st != S_DATA) {
					/* in escaped states both '<' and '-'
					 * matter: stop at the nearer */
					const char *q = memchr(s + i + 1, '<',
					    len - i - 1);
					if (q != NULL && (p == NULL || q < p))
						p = q;
				}
				i = p != NULL ? (size_t)(p - s) : len;
				continue;
			}
			if (st == S_DATA && at_ci(s, i, len, "<!--", 4)) {
				st = S_ESC;
				i += 4;
				continue;
			}
			if (st == S_ESC && at_ci(s, i, len, "<script", 7) &&
			    script_delim(s, i + 7, len)) {
				st = S_DESC;
				i += 7;
				continue;
			}
			if (at_ci(s, i, len, "</script", 8)) {
				if (st != S_DESC && script_delim(s, i + 8, len))
					break;	/* the real end */
				s[i + 1] = '_';
				fixed++;
				if (st == S_DESC)
					st = S_ESC;
				i += 8;
				continue;
			}
			i++;
		}
	}
	return fixed;
}

enum html_tag
html_tag_lookup(const char *name)
{
	int lo = 1, hi = HTML_TAG_COUNT - 1, mid, c;

	while (lo <= hi) {
		mid = (lo + hi) / 2;
		c = strcmp(name, TAGS[mid].name);
		if (c == 0)
			return (enum html_tag)mid;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return HTML_OTHER;
}

enum html_tag
html_tag_of(const xmlNode *n)
{
	if (n == NULL || n->type != XML_ELEMENT_NODE || n->name == NULL)
		return HTML_OTHER;
	return html_tag_lookup((const char *)n->name);
}

void
html_tagcache_init(struct html_tagcache *tc)
{
	memset(tc, 0, sizeof(*tc));
}

enum html_tag
html_tag_cached(struct html_tagcache *tc, const xmlNode *n)
{
	size_t h, i, k;
	enum html_tag t;

	if (n == NULL || n->type != XML_ELEMENT_NODE || n->name == NULL)
		return HTML_OTHER;
	h = ((uintptr_t)n->name >> 4) * 2654435761u;
	for (i = 0; i < 4; i++) {
		k = (h + i) & (HTML_TAGCACHE_SIZE - 1);
		if (tc->name[k] == n->name)
			return (enum html_tag)tc->tag[k];
		if (tc->name[k] == NULL)
			break;
	}
	t = html_tag_lookup((const char *)n->name);
	if (i < 4) {
		tc->name[k] = n->name;
		tc->tag[k] = (uint8_t)t;
	}
	return t;
}

unsigned
html_tag_flags(enum html_tag t)
{
	if ((unsigned)t >= HTML_TAG_COUNT)
		return 0;
	return TAGS[t].flags;
}

const char *
html_attr(const xmlNode *n, const char *name)
{
	const xmlAttr *a;

	if (n == NULL || n->type != XML_ELEMENT_NODE)
		return NULL;
	for (a = n->properties; a != NULL; a = a->next) {
		if (a->name == NULL || strcmp((const char *)a->name, name) != 0)
			continue;
		if (a->children != NULL && a->children->content != NULL)
			return (const char *)a->children->content;
		return "";
	}
	return NULL;
}

bool
html_has_word(const char *s, const char *w)
{
	size_t wl = strlen(w);
	const char *p;

	if (s == NULL || wl == 0)
		return false;
	for (p = s; *p != '\0'; p++) {
		if (strncasecmp(p, w, wl) != 0)
			continue;
		if (p > s && isalnum((unsigned char)p[-1]))
			continue;
		if (isalnum((unsigned char)p[wl]))
			continue;
		return true;
	}
	return false;
}

size_t
html_fold(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;
	unsigned char ch;

	for (i = 0; i < len && o + 1 < outlen; i++) {
		ch = (unsigned char)s[i];
		if (isalnum(ch))
			out[o++] = (char)tolower(ch);
		else if (ch >= 0x80)
			out[o++] = (char)ch;
	}
	out[o] = '\0';
	return o;
}

xmlNode *
html_next(xmlNode *cur, const xmlNode *root, bool descend)
{
	if (descend && cur->children != NULL)
		return cur->children;
	while (cur != root && cur->next == NULL)
		cur = cur->parent;
	if (cur == root)
		return NULL;
	return cur->next;
}

const char *
html_text(const xmlNode *n)
{
	if (n == NULL || (n->type != XML_TEXT_NODE &&
	    n->type != XML_CDATA_SECTION_NODE))
		return NULL;
	return (const char *)n->content;
}

/* True for ASCII whitespace; NBSP is handled by the callers (2 bytes). */
static inline bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

size_t
html_collapse(char *out, size_t max, const char *s, size_t len, int *state)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;

	while (i < len && o < max) {
		if (is_ws(p[i]) || (p[i] == 0xC2 && i + 1 < len &&
		    p[i + 1] == 0xA0)) {
			i += p[i] == 0xC2 ? 2 : 1;
			if (*state == HTML_WS_WORD)
				*state = HTML_WS_PENDING;
			continue;
		}
		if (*state == HTML_WS_PENDING) {
			out[o++] = ' ';
			if (o >= max)
				break;
		}
		*state = HTML_WS_WORD;
		out[o++] = (char)p[i++];
	}
	return o;
}

size_t
html_utf8_trim(const char *s, size_t len)
{
	size_t i = len, back = 0, need;
	unsigned char c;

	while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0)
		return len;
	c = (unsigned char)s[i - 1];
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (back + 1 < need)
		return i - 1;
	return len;
}

char *
html_node_text(const xmlNode *n, size_t max)
{
	xmlNode *cur = (xmlNode *)n;
	char *out;
	size_t o = 0;
	int state = HTML_WS_START;
	const char *t;
	unsigned fl;
	bool down;

	out = malloc(max + 1);
	if (out == NULL)
		return NULL;
	while (cur != NULL && o < max) {
		t = html_text(cur);
		if (t != NULL)
			o += html_collapse(out + o, max - o, t, strlen(t),
			    &state);
		fl = html_tag_flags(html_tag_of(cur));
		down = cur->type == XML_ELEMENT_NODE &&
		    ((fl & HTML_F_SKIP) == 0 || cur == n);
		if (down && (fl & HTML_F_BLOCK) && state == HTML_WS_WORD)
			state = HTML_WS_PENDING;
		cur = html_next(cur, n, down);
	}
	o = html_utf8_trim(out, o);
	out[o] = '\0';
	return out;
}

/* ---- class/id vocabulary ------------------------------------------- */

#define T_EXACT		0
#define T_PREFIX	1

/*
 * Sorted by first letter (binary search on it, then a scan).  Prefix
 * entries stand for Readability's substring matches ("comment" also hits
 * "commentlist"); the categories that remove text outright (share) match
 * whole tokens only.
 */
static const struct {
	const char	*word;
	uint8_t		 mode;
	uint32_t	 bits;
} TOKENS[] = {
	{ "abstract", T_EXACT, HTML_K_LEAD },
	{ "ad", T_EXACT, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "addthis", T_PREFIX, HTML_K_SHARE },
	{ "ads", T_EXACT, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "adsbygoogle", T_EXACT, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "advert", T_PREFIX, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "agegate", T_EXACT, HTML_K_UNLIKELY },
	{ "ai2html", T_EXACT, HTML_K_UNLIKELY },
	{ "article", T_PREFIX, HTML_K_MAYBE | HTML_K_POS },
	{ "banner", T_PREFIX, HTML_K_UNLIKELY | HTML_K_NEG | HTML_K_CKPAIR },
	{ "bar", T_EXACT, HTML_K_CKPAIR },
	{ "bio", T_EXACT, HTML_K_BOX },
	{ "blog", T_PREFIX, HTML_K_POS },
	{ "body", T_PREFIX, HTML_K_MAYBE | HTML_K_POS },
	{ "boilerplate", T_EXACT, HTML_K_BOX },
	{ "breadcrumb", T_PREFIX, HTML_K_UNLIKELY },
	{ "byline", T_PREFIX, HTML_K_BYLINE },
	{ "caption", T_PREFIX, HTML_K_CAPTION },
	{ "chapeau", T_EXACT, HTML_K_LEAD },
	{ "chapo", T_EXACT, HTML_K_LEAD },
	{ "column", T_EXACT, HTML_K_MAYBE },
	{ "com", T_EXACT, HTML_K_NEG },
	{ "combx", T_EXACT, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "comment", T_PREFIX, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "community", T_EXACT, HTML_K_UNLIKELY },
	{ "consent", T_PREFIX, HTML_K_COOKIE },
	{ "contact", T_PREFIX, HTML_K_NEG },
	{ "content", T_PREFIX, HTML_K_MAYBE | HTML_K_POS },
	{ "cookie", T_PREFIX, HTML_K_CKWORD },
	{ "credit", T_PREFIX, HTML_K_CAPTION },
	{ "dateline", T_EXACT, HTML_K_BYLINE },
	{ "deck", T_EXACT, HTML_K_LEAD },
	{ "dek", T_EXACT, HTML_K_LEAD },
	{ "didomi", T_PREFIX, HTML_K_COOKIE },
	{ "disqus", T_PREFIX, HTML_K_UNLIKELY },
	{ "donate", T_PREFIX, HTML_K_BOX },
	{ "donation", T_PREFIX, HTML_K_BOX },
	{ "entry", T_PREFIX, HTML_K_POS },
	{ "excerpt", T_EXACT, HTML_K_LEAD },
	{ "extra", T_PREFIX, HTML_K_UNLIKELY },
	{ "footer", T_PREFIX, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "gdpr", T_PREFIX, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "header", T_EXACT, HTML_K_HEADER },
	{ "hentry", T_EXACT, HTML_K_POS },
	{ "hid", T_EXACT, HTML_K_NEG },
	{ "hidden", T_EXACT, HTML_K_NEG },
	{ "intro", T_EXACT, HTML_K_LEAD },
	{ "law", T_EXACT, HTML_K_CKPAIR },
	{ "lead", T_EXACT, HTML_K_LEAD },
	{ "lede", T_EXACT, HTML_K_LEAD },
	{ "legends", T_EXACT, HTML_K_UNLIKELY },
	{ "main", T_PREFIX, HTML_K_MAYBE | HTML_K_POS },
	{ "masthead", T_EXACT, HTML_K_NEG },
	{ "mathjax", T_EXACT, HTML_K_MAYBE },
	{ "media", T_EXACT, HTML_K_NEG },
	{ "menu", T_PREFIX, HTML_K_UNLIKELY },
	{ "message", T_EXACT, HTML_K_CKPAIR },
	{ "meta", T_PREFIX, HTML_K_NEG },
	{ "modal", T_PREFIX, HTML_K_UNLIKELY | HTML_K_CKPAIR },
	{ "newsletter", T_PREFIX, HTML_K_BOX },
	{ "notice", T_PREFIX, HTML_K_CKPAIR },
	{ "onetrust", T_PREFIX, HTML_K_COOKIE },
	{ "optanon", T_PREFIX, HTML_K_COOKIE },
	{ "outbrain", T_PREFIX, HTML_K_NEG | HTML_K_BOX },
	{ "overlay", T_EXACT, HTML_K_NEG },
	{ "page", T_EXACT, HTML_K_POS },
	{ "pager", T_EXACT, HTML_K_UNLIKELY },
	{ "pagination", T_PREFIX, HTML_K_UNLIKELY },
	{ "policy", T_EXACT, HTML_K_CKPAIR },
	{ "popup", T_PREFIX, HTML_K_UNLIKELY | HTML_K_CKPAIR },
	{ "post", T_PREFIX, HTML_K_POS },
	{ "privacy", T_EXACT, HTML_K_CKWORD },
	{ "promo", T_PREFIX, HTML_K_NEG },
	{ "recommend", T_PREFIX, HTML_K_BOX },
	{ "related", T_PREFIX, HTML_K_UNLIKELY | HTML_K_NEG | HTML_K_BOX },
	{ "remark", T_PREFIX, HTML_K_UNLIKELY },
	{ "replies", T_EXACT, HTML_K_UNLIKELY },
	{ "rss", T_EXACT, HTML_K_UNLIKELY },
	{ "scroll", T_PREFIX, HTML_K_NEG },
	{ "shadow", T_EXACT, HTML_K_MAYBE },
	{ "share", T_EXACT, HTML_K_SHARE },
	{ "share", T_PREFIX, HTML_K_NEG },
	{ "sharedaddy", T_EXACT, HTML_K_SHARE },
	{ "sharethis", T_EXACT, HTML_K_SHARE },
	{ "sharing", T_EXACT, HTML_K_SHARE },
	{ "shopping", T_EXACT, HTML_K_NEG },
	{ "shoutbox", T_EXACT, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "sidebar", T_PREFIX, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "signup", T_PREFIX, HTML_K_BOX },
	{ "skyscraper", T_EXACT, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "social", T_PREFIX, HTML_K_UNLIKELY | HTML_K_SHARE },
	{ "sommario", T_EXACT, HTML_K_LEAD },
	{ "sponsor", T_PREFIX, HTML_K_UNLIKELY | HTML_K_NEG },
	{ "standfirst", T_EXACT, HTML_K_LEAD },
	{ "story", T_PREFIX, HTML_K_POS },
	{ "subhead", T_PREFIX, HTML_K_LEAD },
	{ "subscribe", T_PREFIX, HTML_K_BOX },
	{ "subscription", T_PREFIX, HTML_K_BOX },
	{ "subtitle", T_EXACT, HTML_K_LEAD },
	{ "supplemental", T_EXACT, HTML_K_UNLIKELY },
	{ "taboola", T_PREFIX, HTML_K_NEG | HTML_K_BOX },
	{ "tags", T_EXACT, HTML_K_NEG },
	{ "text", T_PREFIX, HTML_K_POS },
	{ "widget", T_PREFIX, HTML_K_NEG },
};

static uint32_t
token_bits(const char *t, size_t len)
{
	int lo = 0, hi = (int)ARRAY_LEN(TOKENS) - 1, mid, first = -1;
	size_t i, wl;
	uint32_t bits = 0;

	/* Leftmost entry starting with t's first letter. */
	while (lo <= hi) {
		mid = (lo + hi) / 2;
		if (TOKENS[mid].word[0] < t[0])
			lo = mid + 1;
		else {
			if (TOKENS[mid].word[0] == t[0])
				first = mid;
			hi = mid - 1;
		}
	}
	if (first < 0)
		return 0;
	for (i = (size_t)first; i < ARRAY_LEN(TOKENS) &&
	    TOKENS[i].word[0] == t[0]; i++) {
		wl = strlen(TOKENS[i].word);
		if (wl > len || memcmp(TOKENS[i].word, t, wl) != 0)
			continue;
		if (wl == len || TOKENS[i].mode == T_PREFIX)
			bits |= TOKENS[i].bits;
	}
	return bits;
}

/*
 * Class words that are script hooks or feature flags, not a description
 * of the box: "js-social-anchor", "showCommentsIcon", "has-sidebar".
 */
static bool
flag_word(const char *tok, size_t n)
{
	static const char *const FLAGS[] = { "js", "enable", "disable", "show",
	    "has", "is", "no", "with", "can", "use", "should", "allow", NULL };
	size_t i;

	for (i = 0; FLAGS[i] != NULL; i++)
		if (strlen(FLAGS[i]) == n && memcmp(FLAGS[i], tok, n) == 0)
			return true;
	return false;
}

/*
 * Splits an attribute value into class words (on whitespace), each word
 * into lower-case tokens on other non-alphanumerics and camelCase humps
 * ("postContent" -> post, content), and ors the tokens' bits.  A word
 * whose first token is a flag_word() is ignored.
 */
uint32_t
html_class_bits(const char *s)
{
	char tok[32];
	size_t n = 0, ntok = 0;
	uint32_t bits = 0, word = 0;
	unsigned char ch, prev = 0;
	bool flag = false;

	for (;; s++) {
		ch = (unsigned char)*s;
		if (isalnum(ch) && !(isupper(ch) && islower(prev) && n > 0)) {
			if (n < sizeof(tok) - 1)
				tok[n++] = (char)tolower(ch);
			prev = ch;
			continue;
		}
		if (n > 0 && ntok++ == 0)
			flag = flag_word(tok, n);
		if (n > 1)
			word |= token_bits(tok, n);
		n = 0;
		if (ch == '\0' || isspace(ch)) {
			if ((word & HTML_K_CKWORD) && (word & HTML_K_CKPAIR))
				word |= HTML_K_COOKIE;
			/* "ArticleRelatedLink", "newsletter-content": the
			 * maybe word says what the box goes with, the box
			 * word what it is. */
			if (word & HTML_K_BOX)
				word &= ~HTML_K_MAYBE;
			if (!(flag && ntok > 1))
				bits |= word;
			word = 0;
			ntok = 0;
			flag = false;
			if (ch == '\0')
				break;
		}
		if (isupper(ch)) {
			tok[n++] = (char)tolower(ch);
			prev = ch;
		} else
			prev = 0;
	}
	return bits;
}
