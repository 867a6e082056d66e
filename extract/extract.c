/*
 * extract.c - the cleaner: content-type routing and the main-content pass.
 *
 * One iterative walk over <body> builds two arrays: per element ("enode")
 * the aggregate text, link text, commas and child counts, and the list of
 * text blocks in document order (a block is the text between two
 * block-level boundaries, owned by its nearest block-level element).
 * What can be judged on entry (scripts, hidden nodes, nav/aside/footer,
 * consent banners, and in the strict pass Readability's "unlikely"
 * class/id words) is skipped there, so its text never enters the counts.
 *
 * The container is chosen Readability-style: each block of 25+ characters
 * scores 1 + commas + min(chars/100, 3) into its ancestors (full, 1/2,
 * then 1/(3*level)), ancestors start from a tag bonus and a class/id weight,
 * and the score is scaled by (1 - link density).  The best node climbs to
 * an ancestor the runners-up share; siblings join when they score well,
 * read as paragraphs, or (before the body only) wrap a paragraph or a
 * strong candidate of their own; a lead (dek) above the body joins too.
 *
 * Inside, boxes that look like boilerplate are dropped: Readability's
 * conditional cleaning (link density, images, forms, embeds, negative
 * names), link-farm lists, small share/caption/byline/promo boxes.  Then
 * each block is judged on its own words (ad labels, "Related:", bylines,
 * date stamps, credits, affiliate and newsletter notes, the title again),
 * and stubs before the first paragraph and headings after the last go.
 * A result under min_text characters triggers retries with looser rules
 * (the longest wins); a page that yields almost nothing falls back to its
 * JSON-LD articleBody.
 *
 * Elements are found from libxml2 nodes through node->_private, which holds
 * the enode index + 1 (libxml2 leaves _private to applications).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <utf8proc.h>

#include "arena.h"
#include "charset.h"
#include "docpriv.h"
#include "sluice/extract.h"
#include "html.h"
#include "meta.h"
#include "site.h"
#include "buf.h"

#define EXTRACT_DEFAULT_MAX_INPUT	((size_t)16 * 1024 * 1024)
#define EXTRACT_DEFAULT_MAX_NODES	200000
#define EXTRACT_DEFAULT_MAX_OUTPUT	((size_t)4 * 1024 * 1024)
#define EXTRACT_DEFAULT_MIN_TEXT	500
#define EXTRACT_DEFAULT_MAX_SECONDS	5.0
#define EXTRACT_DEFAULT_MAX_ATTRS	1000
#define EXTRACT_DEFAULT_MAX_ELEMENTS	200000
#define EXTRACT_DEFAULT_MAX_DEPTH	250
#define EXTRACT_DEFAULT_MAX_TAG_WORK	64
#define EXTRACT_DEFAULT_MIN_ELEMENTS	20000
#define EXTRACT_DEFAULT_ELEMENT_BYTES	32
#define EXTRACT_DEPTH_LIMIT		255	/* libxml2 halts past 256 */
/* With bytes_per_element set, the tree's bytes (the page's region, see
 * arena.h) are held to this many per page byte plus the base: the page's
 * own copies (about 3 per byte) and the process stay inside the documented
 * 16 times the page plus 25 MiB. */
#define EXTRACT_TREE_PER_BYTE		12
#define EXTRACT_TREE_BASE		((size_t)8 << 20)

#define NONE	(-1)

/*
 * Tuning constants, measured on the development corpus (see
 * bench/extract/run.sh); character counts are code points.
 */
#define STUB_MAX	4	/* stubs trimmed before the first paragraph */
#define STUB_WORDS	8	/* a stub has fewer words than this... */
#define LEADIN_WORDS	5	/* a heading's lead-in: this many words */
#define SIB_PARA	100	/* a sibling's paragraph: at least this long */
#define SIB_MAX		1500	/* ...in a sibling box at most this long */
#define SIB_BEST	0.5f	/* a sibling wrapping a candidate this strong
				   (share of the best) joins */
#define NEG_MAX		1000	/* negative names drop boxes under this */
#define BOX_MAX		1500	/* promo/related boxes dropped under this */
#define IMG_CAPTION	200	/* a captioned picture's box: at most */
#define SUMMARY_MAX	1500	/* a summary box above the story: at most */
#define BIO_LAST	700	/* the last block: a writer's bio up to this */
#define LIST_ITEM	40	/* a list's items this long on average read
				   as prose, not as a link farm */
#define LEAD_UP		3	/* levels above the top searched for a lead */
#define SPLIT_UP	6	/* ...and for the rest of a split body */
#define RESCUE_MIN	500	/* articleBody rescue: JSON-LD text this long */
#define RESCUE_BELOW	250	/* ...when the page gave fewer bytes */

/* struct block keep: set by choose_article and compose */
#define BK_LOOSE	2	/* loose text joining the article */
#define BK_TEASER	1	/* a teaser link, dropped */
#define BK_DROP		3	/* all of it in a dropped inline box */

/* Whitespace state beyond html.h's: a line break is owed (<br>). */
#define WS_NEWLINE	3

/* Cleaning passes, dropped one by one on retry (Readability's flags). */
#define M_STRIP		0x01u	/* skip HTML_K_UNLIKELY subtrees while walking */
#define M_WEIGHT	0x02u	/* class/id weights in scores */
#define M_CLEAN		0x04u	/* drop boilerplate containers in the article */
#define M_ALL		(M_STRIP | M_WEIGHT | M_CLEAN)

/* enode flags */
#define EN_SCORED	0x01u
#define EN_BLOCKKID	0x02u	/* has a block-level child element */
#define EN_ROOT		0x04u	/* a root of the chosen article */
#define EN_IN		0x08u	/* inside the article */
#define EN_DROP		0x10u	/* dropped (itself or an ancestor) */
#define EN_DATATABLE	0x20u	/* a data table or inside one */
#define EN_CODE		0x40u	/* pre/code or inside one */
#define EN_FIGURE	0x80u	/* inside a figure */

struct enode {
	xmlNode		*node;
	int32_t		 parent;
	int32_t		 owner;		/* nearest block-level self/ancestor */
	int32_t		 first_block;	/* first block owned, or NONE */
	uint32_t	 text;		/* characters of text in the subtree */
	uint32_t	 link10;	/* link characters x10 ("#" links x3) */
	uint32_t	 commas;
	uint32_t	 htext;		/* characters inside headings */
	uint32_t	 cls;		/* K_* bits of class and id */
	uint16_t	 np, nimg, nli, nctl, nembed, ntr, ncell, nth;
	uint16_t	 nkids;		/* element children walked */
	uint32_t	 blo, bhi;	/* blocks of the subtree: [blo, bhi) */
	float		 score;
	float		 best;		/* best score in the subtree */
	uint8_t		 tag;
	uint8_t		 fl;
};

struct block {
	int32_t		 owner;
	uint32_t	 off, len;	/* bytes in ctx.txt */
	uint32_t	 chars, link10, commas;
	uint8_t		 keep;		/* BK_* */
};

struct ctx {
	struct html_tagcache tags;
	const struct sluice_extract_opts *o;
	struct meta	 meta;
	unsigned	 mode;
	struct enode	*en;
	size_t		 nen, capen;
	struct block	*bl;
	size_t		 nbl, capbl;
	char		*txt;
	size_t		 tlen, tcap;
	/* walk state */
	int32_t		 cur;		/* enode of the current element */
	int32_t		 owner;		/* owner of text arriving now */
	int		 ws;		/* HTML_WS_* state of the open block */
	bool		 open;		/* a block is being filled */
	struct block	 b;		/* the open block */
	int		 br_run;	/* consecutive <br> */
	int		 in_link, link_w, in_head, in_skipctx;
	int		 in_main;	/* <article> and <main> ancestors */
	float		 best;		/* score of the best candidate */
	size_t		 seen;
	bool		 oom;
	struct html_budget *budget;
};

void
sluice_extract_init(void)
{
	(void)arena_install();	/* xmlInitParser() first */
}

void
sluice_extract_opts_default(struct sluice_extract_opts *o)
{
	o->max_input = EXTRACT_DEFAULT_MAX_INPUT;
	o->max_nodes = EXTRACT_DEFAULT_MAX_NODES;
	o->max_output = EXTRACT_DEFAULT_MAX_OUTPUT;
	o->charset_prescan = 8192;
	o->min_text = EXTRACT_DEFAULT_MIN_TEXT;
	o->keep_captions = false;
	o->site_memory = NULL;
	o->site = NULL;
	o->include_comments = false;
}

const char *
sluice_extract_status_name(enum sluice_extract_status s)
{
	switch (s) {
	case SLUICE_EXTRACT_OK:
		return "ok";
	case SLUICE_EXTRACT_EMPTY:
		return "empty";
	case SLUICE_EXTRACT_UNSUPPORTED:
		return "unsupported_content_type";
	case SLUICE_EXTRACT_TOO_LARGE:
		return "too_large";
	case SLUICE_EXTRACT_ERROR:
		return "error";
	case SLUICE_EXTRACT_TOO_COMPLEX:
		return "too_complex";
	case SLUICE_EXTRACT_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

void
sluice_extract_doc_free(struct sluice_extract_doc *d)
{
	free(d->title);
	free(d->text);
	free(d->author);
	free(d->date);
	free(d->sitename);
	free(d->description);
	free(d->language);
	free(d->canonical_url);
	free(d->charset);
	free(d->site);
	free(d->comments);
	doc_priv_free(d->priv);
	memset(d, 0, sizeof(*d));
}

static void
strlist_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct doc_priv *
doc_priv(struct sluice_extract_doc *d)
{
	if (d->priv == NULL)
		d->priv = calloc(1, sizeof(struct doc_priv));
	return d->priv;
}

void *
doc_site_page(const struct sluice_extract_doc *d)
{
	const struct doc_priv *p = d->priv;

	return p != NULL ? p->site_page : NULL;
}

void
doc_priv_free(void *priv)
{
	struct doc_priv *p = priv;
	struct sluice_extract_more *m;

	if (p == NULL)
		return;
	m = &p->more;
	site_page_free(p->site_page);
	free(m->date_raw);
	free(m->image);
	free(m->pagetype);
	free(m->license);
	strlist_free(m->authors, m->nauthors);
	strlist_free(m->categories, m->ncategories);
	strlist_free(m->tags, m->ntags);
	strlist_free(m->site_dropped, m->nsite_dropped);
	free(p);
}

const struct sluice_extract_more *
sluice_extract_doc_more(const struct sluice_extract_doc *d)
{
	static const struct sluice_extract_more none;
	const struct doc_priv *p = d->priv;

	return p != NULL ? &p->more : &none;
}

/* Moves the metadata beyond the doc's own fields to d's private part.
 * -1 out of memory (m keeps them then). */
static int
doc_take_more(struct sluice_extract_doc *d, struct meta *m)
{
	struct doc_priv *p = doc_priv(d);
	struct sluice_extract_more *x;

	if (p == NULL)
		return -1;
	x = &p->more;
	x->date_raw = m->date_raw;
	x->image = m->image;
	x->pagetype = m->pagetype;
	x->license = m->license;
	x->authors = m->authors;
	x->nauthors = m->nauthors;
	x->categories = m->categories;
	x->ncategories = m->ncategories;
	x->tags = m->tags;
	x->ntags = m->ntags;
	m->date_raw = m->image = m->pagetype = m->license = NULL;
	m->authors = m->categories = m->tags = NULL;
	m->nauthors = m->ncategories = m->ntags = 0;
	return 0;
}

/* The attributes the walk looks at, read in one pass. */
struct attrs {
	const char	*cls, *id, *style, *role, *href;
	bool		 hidden;
};

static const char *
attr_value(const xmlAttr *a)
{
	if (a->children != NULL && a->children->content != NULL)
		return (const char *)a->children->content;
	return "";
}

static void
read_attrs(const xmlNode *n, struct attrs *at)
{
	const xmlAttr *a;
	const char *name;

	memset(at, 0, sizeof(*at));
	for (a = n->properties; a != NULL; a = a->next) {
		name = (const char *)a->name;
		if (name == NULL)
			continue;
		if (strcmp(name, "class") == 0)
			at->cls = attr_value(a);
		else if (strcmp(name, "id") == 0)
			at->id = attr_value(a);
		else if (strcmp(name, "style") == 0)
			at->style = attr_value(a);
		else if (strcmp(name, "role") == 0)
			at->role = attr_value(a);
		else if (strcmp(name, "href") == 0)
			at->href = attr_value(a);
		else if (strcmp(name, "hidden") == 0)
			at->hidden = true;
		else if (strcmp(name, "aria-hidden") == 0 &&
		    strcmp(attr_value(a), "true") == 0)
			at->hidden = true;
	}
}

/* Inline style or attributes that hide the element from readers. */
static bool
is_hidden(const struct attrs *at)
{
	const char *v = at->style, *p;

	if (at->hidden)
		return true;
	if (v == NULL)
		return false;
	for (p = strstr(v, "display"); p != NULL; p = strstr(p + 1, "display"))
		if (strncmp(p + strspn(p + 7, " :") + 7, "none", 4) == 0)
			return true;
	for (p = strstr(v, "visibility"); p != NULL;
	    p = strstr(p + 1, "visibility"))
		if (strncmp(p + strspn(p + 10, " :") + 10, "hidden", 6) == 0)
			return true;
	return false;
}

static bool
bad_role(const struct attrs *at)
{
	static const char *const ROLES[] = { "navigation", "menu", "menubar",
	    "complementary", "dialog", "alertdialog", "alert", "banner",
	    "contentinfo", "search", "note", NULL };
	const char *r = at->role;
	size_t i;

	if (r == NULL)
		return false;
	for (i = 0; ROLES[i] != NULL; i++)
		if (strcasecmp(r, ROLES[i]) == 0)
			return true;
	return false;
}

static uint32_t
class_bits(const struct attrs *at)
{
	uint32_t bits = 0;

	if (at->cls != NULL)
		bits |= html_class_bits(at->cls);
	if (at->id != NULL)
		bits |= html_class_bits(at->id);
	return bits;
}

/* ---- the walk: statistics and blocks ------------------------------- */

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 256;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * size);
	if (np == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Closes the open block; a block without characters is forgotten. */
static void
block_flush(struct ctx *c)
{
	struct enode *own;

	if (!c->open)
		return;
	c->open = false;
	c->ws = HTML_WS_START;
	c->br_run = 0;
	if (c->b.chars == 0) {
		c->tlen = c->b.off;
		return;
	}
	if (grow((void **)&c->bl, &c->capbl, c->nbl + 1, sizeof(*c->bl))) {
		c->oom = true;
		return;
	}
	c->b.len = (uint32_t)(c->tlen - c->b.off);
	c->b.keep = 0;
	own = &c->en[c->b.owner];
	if (own->first_block == NONE)
		own->first_block = (int32_t)c->nbl;
	c->bl[c->nbl++] = c->b;
}

static void
block_open(struct ctx *c)
{
	memset(&c->b, 0, sizeof(c->b));
	c->b.owner = c->owner;
	c->b.off = (uint32_t)c->tlen;
	c->open = true;
	c->ws = HTML_WS_START;
}

static bool
is_comma(const unsigned char *p)
{
	if (p[0] == ',')
		return true;
	/* U+060C arabic, U+3001 ideographic, U+FF0C fullwidth commas */
	return (p[0] == 0xD8 && p[1] == 0x8C) ||
	    (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x81) ||
	    (p[0] == 0xEF && p[1] == 0xBC && p[2] == 0x8C);
}

/*
 * Appends a text node to the open block, whitespace collapsed, counting
 * characters (code points) and commas.
 */
static void
on_text(struct ctx *c, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0;
	uint32_t chars = 0, commas = 0;
	char *d;
	struct enode *e;

	if (c->tlen + len + 2 >= c->tcap && grow((void **)&c->txt, &c->tcap,
	    c->tlen + len + 2, 1) == -1) {
		c->oom = true;
		return;
	}
	if (!c->open)
		block_open(c);
	d = c->txt + c->tlen;
	while (i < len) {
		unsigned char ch = p[i];
		if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' ||
		    ch == '\f' || (ch == 0xC2 && p[i + 1] == 0xA0)) {
			i += ch == 0xC2 ? 2 : 1;
			if (c->ws == HTML_WS_WORD)
				c->ws = HTML_WS_PENDING;
			continue;
		}
		if (c->ws == HTML_WS_PENDING || c->ws == WS_NEWLINE) {
			*d++ = c->ws == HTML_WS_PENDING ? ' ' : '\n';
			chars++;
		}
		c->ws = HTML_WS_WORD;
		/* libxml2 hands out valid UTF-8, so is_comma() may look two
		 * bytes ahead of a lead byte. */
		if ((ch & 0xC0) != 0x80) {
			chars++;
			if ((ch == ',' || ch >= 0xD8) && is_comma(p + i))
				commas++;
		}
		*d++ = (char)ch;
		i++;
	}
	c->tlen = (size_t)(d - c->txt);
	if (chars == 0)
		return;
	c->br_run = 0;
	c->b.chars += chars;
	c->b.commas += commas;
	e = &c->en[c->cur];
	e->text += chars;
	e->commas += commas;
	if (c->in_link) {
		c->b.link10 += chars * (uint32_t)c->link_w;
		e->link10 += chars * (uint32_t)c->link_w;
	}
	if (c->in_head)
		e->htext += chars;
}

/* <br>: a line break inside the block; two in a row end the block. */
static void
on_br(struct ctx *c)
{
	if (!c->open)
		return;
	if (++c->br_run >= 2) {
		block_flush(c);
		return;
	}
	if (c->ws != HTML_WS_START)
		c->ws = WS_NEWLINE;
}

/* Counts a skipped element that still tells something about its box. */
static void
count_skipped(struct ctx *c, enum html_tag t, unsigned fl)
{
	struct enode *e;

	if (c->cur == NONE)
		return;
	e = &c->en[c->cur];
	if ((fl & HTML_F_CONTROL) && t != HTML_BUTTON && e->nctl < UINT16_MAX)
		e->nctl++;
	if ((fl & HTML_F_EMBED) && e->nembed < UINT16_MAX)
		e->nembed++;
	if ((t == HTML_COL || t == HTML_COLGROUP) && e->nth < UINT16_MAX)
		e->nth++;
}

static bool thread_name(const char *v);

/* Decides on entry whether a subtree is left out entirely. */
static bool
skip_element(struct ctx *c, const struct attrs *at, enum html_tag t,
    unsigned fl, uint32_t bits)
{
	/* <noscript> mostly repeats images; some sites put the whole page
	 * there, which the looser passes pick up. */
	if (t == HTML_NOSCRIPT)
		return (c->mode & M_STRIP) != 0;
	if (fl & HTML_F_SKIP)
		return true;
	if (t == HTML_NAV || t == HTML_ASIDE || t == HTML_FOOTER ||
	    t == HTML_MENU)
		return true;
	if (t == HTML_FIGCAPTION && !c->o->keep_captions)
		return true;
	if (is_hidden(at) || bad_role(at))
		return true;
	if (t == HTML_BODY || t == HTML_A || t == HTML_HTML)
		return false;
	/* A header box is the site's, unless inside an <article> or
	 * <main>: there it is the story's own (headline, dek, byline),
	 * whose parts are judged one by one. */
	if ((bits & HTML_K_HEADER) && c->in_main == 0)
		bits |= HTML_K_UNLIKELY;
	if ((bits & HTML_K_COOKIE) && !(bits & HTML_K_MAYBE))
		return true;
	/* A comment thread is never the main text, in any pass: short posts
	 * otherwise reach the loose passes, which took the thread along. */
	if ((bits & HTML_K_UNLIKELY) && (thread_name(at->id) ||
	    thread_name(at->cls)))
		return true;
	return (c->mode & M_STRIP) && (bits & HTML_K_UNLIKELY) &&
	    !(bits & HTML_K_MAYBE) && c->in_skipctx == 0;
}

static void
count_tag(struct enode *e, enum html_tag t)
{
	switch (t) {
	case HTML_P:
		e->np = 1;
		break;
	case HTML_IMG:
		e->nimg = 1;
		break;
	case HTML_LI:
		e->nli = 1;
		break;
	case HTML_TR:
		e->ntr = 1;
		break;
	case HTML_TD:
		e->ncell = 1;
		break;
	case HTML_TH:
		e->ncell = 1;
		e->nth = 1;
		break;
	case HTML_THEAD:
	case HTML_TFOOT:
	case HTML_CAPTION:
		e->nth = 1;
		break;
	default:
		break;
	}
}

/* Entering an element: returns true to walk its children. */
static bool
on_enter(struct ctx *c, xmlNode *n)
{
	enum html_tag t = html_tag_cached(&c->tags, n);
	unsigned fl = html_tag_flags(t);
	struct attrs at;
	uint32_t bits = 0;
	struct enode *e;
	int32_t idx;

	n->_private = NULL;
	read_attrs(n, &at);
	if (!(fl & HTML_F_SKIP))
		bits = class_bits(&at);
	if (skip_element(c, &at, t, fl, bits)) {
		count_skipped(c, t, fl);
		return false;
	}
	if (grow((void **)&c->en, &c->capen, c->nen + 1, sizeof(*c->en))) {
		c->oom = true;
		return false;
	}
	idx = (int32_t)c->nen++;
	e = &c->en[idx];
	memset(e, 0, sizeof(*e));
	e->node = n;
	e->parent = c->cur;
	e->first_block = NONE;
	e->tag = (uint8_t)t;
	e->cls = bits;
	count_tag(e, t);
	n->_private = (void *)(intptr_t)(idx + 1);
	if (fl & HTML_F_BLOCK || t == HTML_OTHER) {
		block_flush(c);
		e = &c->en[idx];
		c->owner = idx;
		if (c->cur != NONE)
			c->en[c->cur].fl |= EN_BLOCKKID;
	} else if (t == HTML_IMG && c->cur != NONE)
		c->en[c->cur].fl |= EN_BLOCKKID;
	e->owner = c->owner;
	e->blo = (uint32_t)c->nbl;
	if (c->cur != NONE && c->en[c->cur].nkids < UINT16_MAX)
		c->en[c->cur].nkids++;
	c->cur = idx;
	if (t == HTML_A && c->in_link++ == 0)
		c->link_w = at.href != NULL && at.href[0] == '#' ? 3 : 10;
	if (fl & HTML_F_HEADING)
		c->in_head++;
	if (t == HTML_TABLE || t == HTML_PRE || t == HTML_CODE)
		c->in_skipctx++;
	if (t == HTML_ARTICLE || t == HTML_MAIN)
		c->in_main++;
	if (t == HTML_BR)
		on_br(c);
	return true;
}

static void
on_leave(struct ctx *c, xmlNode *n)
{
	int32_t idx = (int32_t)(intptr_t)n->_private - 1;
	struct enode *e = &c->en[idx];
	enum html_tag t = e->tag;
	unsigned fl = html_tag_flags(t);

	if (fl & HTML_F_BLOCK || t == HTML_OTHER) {
		block_flush(c);
		e = &c->en[idx];
		c->owner = e->parent != NONE ? c->en[e->parent].owner : NONE;
	}
	e->bhi = (uint32_t)c->nbl;
	if (t == HTML_A)
		c->in_link--;
	if (fl & HTML_F_HEADING)
		c->in_head--;
	if (t == HTML_TABLE || t == HTML_PRE || t == HTML_CODE)
		c->in_skipctx--;
	if (t == HTML_ARTICLE || t == HTML_MAIN)
		c->in_main--;
	c->cur = e->parent;
}

/* Walks the subtree of start (iteratively), at most max_nodes nodes. */
static void
walk(struct ctx *c, xmlNode *start)
{
	xmlNode *cur = start;
	bool down;

	for (;;) {
		down = false;
		if (cur->type == XML_ELEMENT_NODE)
			down = on_enter(c, cur);
		else if ((cur->type == XML_TEXT_NODE ||
		    cur->type == XML_CDATA_SECTION_NODE) &&
		    cur->content != NULL && c->cur != NONE)
			on_text(c, (const char *)cur->content);
		if (c->oom || ++c->seen > c->o->max_nodes ||
		    html_budget_over(c->budget, false))
			down = false;
		if (down && cur->children != NULL) {
			cur = cur->children;
			continue;
		}
		for (;;) {
			if (cur->type == XML_ELEMENT_NODE &&
			    cur->_private != NULL)
				on_leave(c, cur);
			if (cur == start)
				return;
			if (cur->next != NULL && !c->oom &&
			    c->seen <= c->o->max_nodes &&
			    c->budget->stop == HTML_GOING) {
				cur = cur->next;
				break;
			}
			cur = cur->parent;
		}
	}
}

/* Sums every element's counts into its ancestors (preorder: parents
 * come first, so one backward sweep does it). */
static void
aggregate(struct ctx *c)
{
	size_t i;
	struct enode *e, *p;

	for (i = c->nen; i-- > 1;) {
		e = &c->en[i];
		if (e->parent == NONE)
			continue;
		p = &c->en[e->parent];
		p->text += e->text;
		p->link10 += e->link10;
		p->commas += e->commas;
		p->htext += e->htext;
#define ADD16(f) p->f = (uint16_t)(p->f + e->f < UINT16_MAX ? \
	p->f + e->f : UINT16_MAX)
		ADD16(np);
		ADD16(nimg);
		ADD16(nli);
		ADD16(nctl);
		ADD16(nembed);
		ADD16(ntr);
		ADD16(ncell);
		ADD16(nth);
#undef ADD16
	}
}

static bool ends_sentence(const char *t, size_t len);
static char *plain_text(const char *s, size_t len);
static size_t count_words(const char *t, size_t len);

/* ---- choosing the article ------------------------------------------ */

static float
tag_bonus(enum html_tag t)
{
	switch (t) {
	case HTML_DIV:
		return 5;
	case HTML_PRE:
	case HTML_TD:
	case HTML_BLOCKQUOTE:
		return 3;
	case HTML_ADDRESS:
	case HTML_OL:
	case HTML_UL:
	case HTML_DL:
	case HTML_DD:
	case HTML_DT:
	case HTML_LI:
	case HTML_FORM:
		return -3;
	case HTML_H1:
	case HTML_H2:
	case HTML_H3:
	case HTML_H4:
	case HTML_H5:
	case HTML_H6:
	case HTML_TH:
		return -5;
	default:
		return 0;
	}
}

static float
class_weight(const struct ctx *c, const struct enode *e)
{
	float w = 0;

	if (!(c->mode & M_WEIGHT))
		return 0;
	if (e->cls & HTML_K_NEG)
		w -= 25;
	if (e->cls & HTML_K_POS)
		w += 25;
	return w;
}

static float
link_density(const struct enode *e)
{
	if (e->text == 0)
		return 0;
	return (float)e->link10 / (10.0f * (float)e->text);
}

/* Blocks owned by these score into their parent (they are paragraphs). */
static bool
leaf_owner(enum html_tag t)
{
	return t == HTML_P || t == HTML_PRE || t == HTML_TD || t == HTML_H2 ||
	    t == HTML_H3 || t == HTML_H4 || t == HTML_H5 || t == HTML_H6;
}

/* Containers whose loose text reads as a paragraph (Readability turns a
 * div without block children into a <p>, and wraps loose runs in <p>). */
static bool
generic_owner(enum html_tag t)
{
	return t == HTML_DIV || t == HTML_SECTION || t == HTML_ARTICLE ||
	    t == HTML_MAIN || t == HTML_BLOCKQUOTE || t == HTML_CENTER ||
	    t == HTML_OTHER || t == HTML_FORM || t == HTML_BODY ||
	    t == HTML_DETAILS || t == HTML_FIGURE;
}

static void
score_init(struct ctx *c, struct enode *e)
{
	if (e->fl & EN_SCORED)
		return;
	e->fl |= EN_SCORED;
	e->score = tag_bonus((enum html_tag)e->tag) + class_weight(c, e);
}

static void
score_blocks(struct ctx *c)
{
	size_t i;
	int32_t a, o;
	int level;
	float s;
	enum html_tag t;

	for (i = 0; i < c->nbl; i++) {
		const struct block *b = &c->bl[i];
		if (b->chars < 25)
			continue;
		o = b->owner;
		t = (enum html_tag)c->en[o].tag;
		if (leaf_owner(t))
			a = c->en[o].parent;
		else if (generic_owner(t))
			a = (c->en[o].fl & EN_BLOCKKID) ? o : c->en[o].parent;
		else
			continue;
		s = 1.0f + (float)b->commas + (float)(b->chars / 100 < 3 ?
		    b->chars / 100 : 3);
		for (level = 0; a != NONE && level < 5; level++) {
			struct enode *e = &c->en[a];
			if (e->tag == HTML_HTML)
				break;
			score_init(c, e);
			e->score += s / (level == 0 ? 1.0f : level == 1 ? 2.0f :
			    (float)level * 3.0f);
			a = e->parent;
		}
	}
	for (i = 0; i < c->nen; i++)
		if (c->en[i].fl & EN_SCORED)
			c->en[i].score *= 1.0f - link_density(&c->en[i]);
	for (i = c->nen; i-- > 0;) {
		struct enode *e = &c->en[i];
		if ((e->fl & EN_SCORED) && e->score > e->best)
			e->best = e->score;
		if (e->parent != NONE && e->best > c->en[e->parent].best)
			c->en[e->parent].best = e->best;
	}
}

#define TOP_N 5

static void
top_candidates(const struct ctx *c, int32_t top[TOP_N])
{
	size_t i;
	int k, j;

	for (k = 0; k < TOP_N; k++)
		top[k] = NONE;
	for (i = 0; i < c->nen; i++) {
		if (!(c->en[i].fl & EN_SCORED))
			continue;
		for (k = 0; k < TOP_N; k++) {
			if (top[k] == NONE ||
			    c->en[i].score > c->en[top[k]].score)
				break;
		}
		if (k == TOP_N)
			continue;
		for (j = TOP_N - 1; j > k; j--)
			top[j] = top[j - 1];
		top[k] = (int32_t)i;
	}
}

static bool
is_ancestor(const struct ctx *c, int32_t anc, int32_t n)
{
	for (; n != NONE; n = c->en[n].parent)
		if (n == anc)
			return true;
	return false;
}

/* Readability: when 3+ runners-up score close to the best, the article is
 * probably their common ancestor (a page of sibling sections). */
static int32_t
common_ancestor(struct ctx *c, const int32_t top[TOP_N])
{
	int32_t p, best = top[0];
	int k, alts = 0, inside;

	for (k = 1; k < TOP_N; k++)
		if (top[k] != NONE &&
		    c->en[top[k]].score >= 0.75f * c->en[best].score)
			alts++;
	if (alts < 3)
		return best;
	for (p = c->en[best].parent; p != NONE &&
	    c->en[p].tag != HTML_BODY; p = c->en[p].parent) {
		inside = 0;
		for (k = 1; k < TOP_N; k++)
			if (top[k] != NONE && c->en[top[k]].score >=
			    0.75f * c->en[best].score && is_ancestor(c, p, top[k]))
				inside++;
		if (inside >= 3) {
			score_init(c, &c->en[p]);
			return p;
		}
	}
	return best;
}

/* Climbs while the parent keeps a third of the score, taking a parent that
 * scores better; then through parents with this single child. */
static int32_t
climb(struct ctx *c, int32_t top)
{
	float last = c->en[top].score, thresh = last / 3.0f;
	int32_t p;

	for (p = c->en[top].parent; p != NONE && c->en[p].tag != HTML_BODY;
	    p = c->en[p].parent) {
		if (!(c->en[p].fl & EN_SCORED))
			continue;
		if (c->en[p].score < thresh)
			break;
		if (c->en[p].score > last) {
			top = p;
			break;
		}
		last = c->en[p].score;
	}
	for (p = c->en[top].parent; p != NONE && c->en[p].tag != HTML_BODY &&
	    c->en[p].nkids == 1; p = c->en[p].parent)
		top = p;
	score_init(c, &c->en[top]);
	return top;
}

static int32_t
node_index(const xmlNode *n)
{
	if (n->type != XML_ELEMENT_NODE || n->_private == NULL)
		return NONE;
	return (int32_t)(intptr_t)n->_private - 1;
}

/* A short <p> that reads as a sentence joins the article (Readability). */
static bool
sentence_like(const struct ctx *c, const struct enode *e)
{
	const struct block *b;
	const char *t;

	if (e->first_block == NONE)
		return false;
	b = &c->bl[e->first_block];
	t = c->txt + b->off;
	return (b->len > 0 && t[b->len - 1] == '.') ||
	    memmem(t, b->len, ". ", 2) != NULL;
}

/*
 * A wrapper holding a real paragraph (long, a sentence, few links) joins
 * too: ledes and intros often sit in a sibling box of the article body.
 */
static bool
holds_paragraph(const struct ctx *c, const struct enode *e)
{
	uint32_t i;
	const struct block *b;

	if (e->text < 100 || link_density(e) > 0.25f)
		return false;
	for (i = e->blo; i < e->bhi && i < c->nbl; i++) {
		b = &c->bl[i];
		if (b->chars >= SIB_PARA && b->link10 * 4 < b->chars * 10 &&
		    ends_sentence(c->txt + b->off, b->len))
			return true;
	}
	return false;
}

static bool
sibling_joins(struct ctx *c, int32_t s, int32_t top, float thresh)
{
	const struct enode *e = &c->en[s];
	const char *cs = html_attr(e->node, "class");
	const char *ct = html_attr(c->en[top].node, "class");
	float bonus = 0, ld;

	/* A box named as boilerplate (a bio, a newsletter box) that would
	 * be dropped inside the article does not join it either. */
	if ((e->cls & HTML_K_BOX) && !(e->cls & HTML_K_MAYBE) &&
	    e->text < BOX_MAX)
		return false;
	if (cs != NULL && ct != NULL && cs[0] != '\0' && strcmp(cs, ct) == 0)
		bonus = c->en[top].score * 0.2f;
	if ((e->fl & EN_SCORED) && e->score + bonus >= thresh)
		return true;
	/* A wrapper around a strong candidate of its own: the article is
	 * split in sections that each score on their own. */
	if (s < top && e->best >= SIB_BEST * c->best &&
	    link_density(e) < 0.25f)
		return true;
	/* Wrappers count before the body only: after it come bios,
	 * teasers and the next article. */
	if (e->tag != HTML_P && !(e->tag == HTML_DIV &&
	    !(e->fl & EN_BLOCKKID)))
		return s < top && e->text <= SIB_MAX && holds_paragraph(c, e);
	ld = link_density(e);
	if (e->text > 80 && ld < 0.25f)
		return true;
	return e->text < 80 && e->text > 0 && ld == 0 && sentence_like(c, e);
}

/* True if e's text is the page's meta description (the dek, usually). */
static bool
is_description(const struct ctx *c, const struct enode *e)
{
	const struct block *b;
	char h[512], d[512];
	size_t hl, dl;

	if (c->meta.description == NULL || e->first_block == NONE)
		return false;
	b = &c->bl[e->first_block];
	if (b->chars + 2 < e->text || b->len > 500)
		return false;
	hl = html_fold(c->txt + b->off, b->len, h, sizeof(h));
	dl = html_fold(c->meta.description, strlen(c->meta.description), d,
	    sizeof(d));
	return hl >= 20 && dl >= 20 && (strcmp(h, d) == 0 ||
	    (hl > dl ? strstr(h, d) : strstr(d, h)) != NULL);
}

/*
 * The lead (dek, standfirst) sits before the body, often in the article
 * header: a box named so, or one repeating the meta description, between
 * the top's grandparent and the top joins the article.
 */
static void
add_lead(struct ctx *c, int32_t top)
{
	int32_t anc = top, i;
	int up;
	struct enode *e;

	for (up = 0; up < LEAD_UP && c->en[anc].parent != NONE; up++)
		anc = c->en[anc].parent;
	for (i = anc + 1; i < top; i++) {
		e = &c->en[i];
		if (e->text < 40 || e->text > 1000 || link_density(e) > 0.3f ||
		    is_ancestor(c, i, top))
			continue;
		/* A lead is a paragraph or two, not a wrapper of boxes. */
		if (((e->cls & HTML_K_LEAD) && !(e->cls & HTML_K_MAYBE) &&
		    e->bhi - e->blo <= 3) ||
		    ((e->tag == HTML_P || e->tag == HTML_DIV) &&
		    is_description(c, e))) {
			e->fl |= EN_ROOT;
			/* Its descendants are in already. */
			while (i + 1 < top && is_ancestor(c, (int32_t)(e -
			    c->en), i + 1))
				i++;
		}
	}
}

static bool
dek_tag(enum html_tag t)
{
	return t == HTML_P || t == HTML_DIV || t == HTML_H2 || t == HTML_H3;
}

static bool
dek_like(const struct ctx *c, const struct enode *e)
{
	return dek_tag((enum html_tag)e->tag) && e->text >= 40 &&
	    e->text <= 1000 && link_density(e) <= 0.3f &&
	    is_description(c, e);
}

/*
 * The dek under the headline, when it repeats the meta description,
 * joins the article from wherever it sits before the body (a header
 * block or a subheading <h2>, often more than LEAD_UP levels up),
 * unless the article already holds the description's text.
 */
static void
add_dek(struct ctx *c, int32_t top)
{
	int32_t i, a, dek = NONE;

	if (c->meta.description == NULL)
		return;
	for (i = 0; i < (int32_t)c->nen; i++) {
		if (!dek_like(c, &c->en[i]))
			continue;
		for (a = i; a != NONE && !(c->en[a].fl & EN_ROOT);
		    a = c->en[a].parent)
			;
		if (a != NONE)
			return;		/* the article has it already */
		if (i > top)
			break;
		if (!is_ancestor(c, i, top))
			dek = i;
	}
	if (dek != NONE)
		c->en[dek].fl |= EN_ROOT;
}

/* Labels of a story's summary box: "Story highlights", "Key points". */
static const char *const SUMMARIES[] = {
	"story highlights", "highlights", "key points", "takeaways",
	"key takeaways", "the takeaway", "at a glance", "in brief",
	"the gist", "summary", "das wichtigste in k\xC3\xBCrze",
	"en bref", "l'essentiel", "en resumen", NULL
};

static bool
summary_label(const struct ctx *c, const struct enode *e)
{
	const struct block *b;
	size_t len, i;
	const char *t;

	if (e->first_block == NONE || e->text > 40)
		return false;
	b = &c->bl[e->first_block];
	t = c->txt + b->off;
	len = b->len;
	while (len > 0 && (t[len - 1] == ':' || t[len - 1] == ' '))
		len--;
	for (i = 0; SUMMARIES[i] != NULL; i++)
		if (strlen(SUMMARIES[i]) == len &&
		    strncasecmp(t, SUMMARIES[i], len) == 0)
			return true;
	return false;
}

/*
 * A summary box above the story ("Story highlights" over a list of
 * points, "Key takeaways") is part of it: the box that holds the label
 * and a list of prose joins, when it sits before the body and is small
 * and not a link list.
 */
static void
add_summary(struct ctx *c, int32_t top)
{
	int32_t i, box;
	int up;
	const struct enode *e;

	for (i = 0; i < top; i++) {
		if (!summary_label(c, &c->en[i]) || is_ancestor(c, i, top))
			continue;
		box = c->en[i].parent;
		for (up = 0; box != NONE && up < 3 && c->en[box].nli == 0; up++)
			box = c->en[box].parent;
		if (box == NONE || is_ancestor(c, box, top))
			continue;
		e = &c->en[box];
		if (e->nli == 0 || e->text > SUMMARY_MAX ||
		    link_density(e) > 0.3f)
			continue;
		c->en[box].fl |= EN_ROOT;
		return;
	}
}

/* The ancestor of e up to levels above it, stopping below <body>. */
static int32_t
ancestor_below_body(const struct ctx *c, int32_t e, int levels)
{
	for (; levels > 0 && c->en[e].parent != NONE &&
	    c->en[c->en[e].parent].tag != HTML_BODY; levels--)
		e = c->en[e].parent;
	return e;
}

/*
 * A story split by ad rows or page sections: its first paragraphs sit in
 * a box of their own, a cousin of the body rather than a sibling, but
 * written as the same <p class=...> as the body's paragraphs.  Within
 * SPLIT_UP levels above the top, such paragraphs before the top join the
 * article (before only: after the body come teasers of other stories).
 */
static void
add_split_body(struct ctx *c, int32_t top)
{
	const char *pc = NULL, *cs;
	int32_t anc, i;
	struct enode *e;

	for (i = top + 1; i < (int32_t)c->nen && is_ancestor(c, top, i); i++)
		if (c->en[i].tag == HTML_P &&
		    (pc = html_attr(c->en[i].node, "class")) != NULL)
			break;
	if (pc == NULL || pc[0] == '\0' || i >= (int32_t)c->nen ||
	    !is_ancestor(c, top, i))
		return;
	anc = ancestor_below_body(c, top, SPLIT_UP);
	for (i = anc + 1; i < top; i++) {
		e = &c->en[i];
		if (e->tag != HTML_P || is_ancestor(c, i, top) ||
		    e->text < 25 || link_density(e) > 0.25f)
			continue;
		cs = html_attr(e->node, "class");
		if (cs != NULL && strcmp(cs, pc) == 0)
			e->fl |= EN_ROOT;
	}
}

/*
 * The story's first paragraph set straight in a box above the body's own
 * (a gallery's intro before its slides, a lede before the story's
 * column): a <p> child of one of the top's LEAD_UP nearest ancestors,
 * before the top, that holds a real paragraph joins.  Paragraphs deeper
 * in other boxes are their own boxes' text.
 */
static void
add_intro(struct ctx *c, int32_t top)
{
	int32_t anc = top, next, i;
	int up;
	struct enode *e;

	for (up = 0; up < LEAD_UP &&
	    (next = ancestor_below_body(c, anc, 1)) != anc; up++) {
		anc = next;
		for (i = anc + 1; i < top; i++) {
			e = &c->en[i];
			if (e->parent == anc && e->tag == HTML_P &&
			    !is_ancestor(c, i, top) && holds_paragraph(c, e))
				e->fl |= EN_ROOT;
		}
	}
}

/* Same tag and same class attribute: one slot of the page's template. */
static bool
same_slot(const struct ctx *c, int32_t a, int32_t b, bool *named)
{
	const char *ca, *cb;

	if (c->en[a].tag != c->en[b].tag)
		return false;
	ca = html_attr(c->en[a].node, "class");
	cb = html_attr(c->en[b].node, "class");
	if (ca == NULL || cb == NULL)
		return ca == cb;
	if (strcmp(ca, cb) != 0)
		return false;
	if (ca[0] != '\0')
		*named = true;
	return true;
}

/*
 * The rest of a story split by an ad row or a page section: after the
 * body, a box in the same slot of the page's template as the box of the
 * body's paragraphs (same tags and classes from it up to the sections
 * they sit in, one of them named) holds its last paragraphs.  Teasers
 * after the body do not sit in the story's own slot.
 */
static void
add_split_tail(struct ctx *c, int32_t top)
{
	int32_t anc, pp = NONE, i, x, y;
	bool named;

	for (i = top + 1; i < (int32_t)c->nen && is_ancestor(c, top, i); i++)
		if (c->en[i].tag == HTML_P) {
			pp = c->en[i].parent;
			break;
		}
	if (pp == NONE)
		return;
	anc = ancestor_below_body(c, top, SPLIT_UP);
	for (; i < (int32_t)c->nen && is_ancestor(c, anc, i); i++) {
		if (c->en[i].tag != c->en[pp].tag || is_ancestor(c, top, i))
			continue;
		named = false;
		for (x = pp, y = i; c->en[x].parent != c->en[y].parent;
		    x = c->en[x].parent, y = c->en[y].parent)
			if (x == anc || y == anc || !same_slot(c, x, y, &named))
				break;
		if (c->en[x].parent == c->en[y].parent && x != y && named &&
		    holds_paragraph(c, &c->en[i]))
			c->en[i].fl |= EN_ROOT;
	}
}

/*
 * Loose text beside the top, straight in its parent: a lead set in <b>
 * before the body's box, or paragraphs the parser left out of it (old
 * table layouts, where a <table> inside a <font> closes the <font>).
 * Readability wraps such runs in <p>, which then join as sibling
 * paragraphs; here a block of SIB_PARA characters or more, ending a
 * sentence and at most a quarter links, joins.
 */
static void
add_loose_text(struct ctx *c, int32_t top)
{
	int32_t p = c->en[top].parent;
	uint32_t i;
	struct block *b;

	if (p == NONE || c->en[p].tag == HTML_BODY)
		return;
	for (i = c->en[p].blo; i < c->en[p].bhi && i < c->nbl; i++) {
		b = &c->bl[i];
		if (b->owner == p && b->chars >= SIB_PARA &&
		    b->link10 * 4 < b->chars * 10 &&
		    ends_sentence(c->txt + b->off, b->len))
			b->keep = BK_LOOSE;
	}
}

/* Marks the article roots: the top candidate and joining siblings. */
static void
choose_article(struct ctx *c)
{
	int32_t top[TOP_N], t, p, s;
	float thresh;
	xmlNode *k;

	top_candidates(c, top);
	t = top[0];
	c->best = t != NONE ? c->en[t].score : 0;
	if (t == NONE || c->en[t].tag == HTML_BODY) {
		c->en[0].fl |= EN_ROOT;
		return;
	}
	t = common_ancestor(c, top);
	t = climb(c, t);
	c->en[t].fl |= EN_ROOT;
	p = c->en[t].parent;
	if (p == NONE)
		return;
	thresh = c->en[t].score * 0.2f;
	if (thresh < 10)
		thresh = 10;
	for (k = c->en[p].node->children; k != NULL; k = k->next) {
		s = node_index(k);
		if (s != NONE && s != t && sibling_joins(c, s, t, thresh))
			c->en[s].fl |= EN_ROOT;
	}
	add_lead(c, t);
	add_dek(c, t);
	add_summary(c, t);
	add_split_body(c, t);
	add_split_tail(c, t);
	add_intro(c, t);
	add_loose_text(c, t);
}

/* ---- cleaning inside the article ----------------------------------- */

/* Readability's data-table test, from the aggregate counts. */
static bool
is_data_table(const struct enode *e)
{
	const char *role = html_attr(e->node, "role");
	const char *dt = html_attr(e->node, "datatable");
	unsigned cols;

	if (role != NULL && strcmp(role, "presentation") == 0)
		return false;
	if (dt != NULL && strcmp(dt, "0") == 0)
		return false;
	if (html_attr(e->node, "summary") != NULL || e->nth > 0)
		return true;
	if (e->ntr <= 1)
		return false;
	cols = e->ncell / e->ntr;
	if (cols <= 1)
		return false;
	return e->ntr >= 10 || cols > 4 || e->ntr * cols > 10;
}

/*
 * A box that is one paragraph of prose with a link or two in it: stories
 * that wrap each paragraph in its own box lose the paragraphs that cite
 * a source at length to the link-density rule below.  A paragraph of at
 * least SIB_PARA characters, ending a sentence, at most half links.
 */
static bool
prose_box(const struct ctx *c, const struct enode *e, float ld)
{
	const struct block *b;

	if (ld > 0.5f || e->np > 1 || e->nli > 0 || e->nimg > 0 ||
	    e->bhi != e->blo + 1 || e->bhi > c->nbl)
		return false;
	b = &c->bl[e->blo];
	return b->chars >= SIB_PARA && ends_sentence(c->txt + b->off, b->len);
}

/*
 * A captioned picture in markup only (a box of an image and a line
 * under it, no <figure>): the box's text is short and no sentence
 * ("The ship was damaged, but the crew is safe", "Firefox logo").
 */
static bool
image_caption(const struct ctx *c, const struct enode *e)
{
	const struct block *b;

	if (e->text == 0 || e->text > IMG_CAPTION || e->bhi <= e->blo ||
	    e->bhi > c->nbl)
		return false;
	b = &c->bl[e->bhi - 1];
	return !ends_sentence(c->txt + b->off, b->len);
}

/* Readability's _cleanConditionally, on the aggregate counts. */
static bool
clean_conditionally(const struct ctx *c, const struct enode *e)
{
	float w = class_weight(c, e), ld, hd;
	bool list = e->tag == HTML_UL || e->tag == HTML_OL;
	bool fig = (e->fl & EN_FIGURE) != 0;
	int p = e->np, img = e->nimg, li = (int)e->nli - 100;

	/* Readability also drops nodes whose tag bonus alone (lists -3)
	 * outweighs a small score; that loses ingredient lists and the
	 * like, so only a negative class weight counts here, and lists get
	 * a link-farm test instead. */
	ld = link_density(e);
	/* Big prose blocks survive a negative name ("media", "meta"...):
	 * comment threads, the big boilerplate, went in the strict pass. */
	if (w < 0 && w + ((e->fl & EN_SCORED) ? e->score : 0) < 0 &&
	    (e->text < NEG_MAX || ld > 0.2f))
		return true;
	/* A link farm: most of the list is links, and its items are
	 * headlines or tools, not lines of prose with a link in them
	 * ("Bug 123 - what was fixed" in a changelog). */
	if (list && ld > 0.5f && !(e->cls & HTML_K_MAYBE) &&
	    (ld > 0.75f || e->text < LIST_ITEM * e->nli))
		return true;
	if (e->commas >= 10)
		return false;
	hd = e->text ? (float)e->htext / (float)e->text : 0;
	if (!fig && img > 1 && (float)(p + e->nli) / (float)img < 0.5f)
		return true;
	if (!list && li > p)
		return true;
	if (e->nctl > p / 3)
		return true;
	if (!list && !fig && hd < 0.9f && e->text < 25 &&
	    (img == 0 || img > 2) && ld > 0)
		return true;
	if (!list && w < 25 && ld > 0.2f && !prose_box(c, e, ld))
		return true;
	if (w >= 25 && ld > 0.5f)
		return true;
	if ((e->nembed == 1 && e->text < 75) || e->nembed > 1)
		return true;
	if (!list && !fig && img > 0 && p == 0 && e->nli == 0 &&
	    image_caption(c, e))
		return true;
	return img == 0 && e->text == 0;
}

static bool
cleanable(enum html_tag t)
{
	return t == HTML_FORM || t == HTML_FIELDSET || t == HTML_TABLE ||
	    t == HTML_UL || t == HTML_DIV;
}

/* Small boxes named as boilerplate inside the article: share bars,
 * captions and credits, bylines, newsletter/related/donate boxes. */
static bool
drop_small_box(const struct ctx *c, const struct enode *e)
{
	if (e->fl & EN_ROOT)
		return false;
	if ((e->cls & HTML_K_SHARE) && e->text < 500)
		return true;
	if ((e->cls & HTML_K_CAPTION) && !c->o->keep_captions && e->text < 600)
		return true;
	if ((e->cls & HTML_K_BYLINE) && e->text < 200)
		return true;
	if ((e->cls & HTML_K_BOX) && !(e->cls & HTML_K_MAYBE) && e->text < BOX_MAX)
		return true;
	return false;
}

/*
 * Blocks belong to their nearest block-level element, so dropping an
 * inline box (<span class="caption">) leaves its text in: a block that
 * is all the box's text goes with it.
 */
static void
drop_inline(struct ctx *c, const struct enode *e)
{
	struct block *b;

	if ((html_tag_flags((enum html_tag)e->tag) & HTML_F_BLOCK) ||
	    e->tag == HTML_OTHER || e->text == 0 || e->blo >= c->nbl)
		return;
	b = &c->bl[e->blo];
	if (b->chars <= e->text + 2 && b->keep == 0)
		b->keep = BK_DROP;
}

/* True if block i reads as the one-word label word ("Pros", "Cons:"). */
static bool
block_is(const struct ctx *c, uint32_t i, const char *word)
{
	const char *t = c->txt + c->bl[i].off;
	size_t len = c->bl[i].len;

	while (len > 0 && (t[len - 1] == ':' || t[len - 1] == ' '))
		len--;
	return len == strlen(word) && strncasecmp(t, word, len) == 0;
}

/*
 * A review's verdict box, "Pros" over a list and "Cons" over another:
 * the product's summary beside the story, which repeats its points.
 */
static bool
verdict_box(const struct ctx *c, const struct enode *e)
{
	uint32_t i;

	if (e->text > BOX_MAX || e->bhi < e->blo + 4 || e->bhi > c->nbl ||
	    !block_is(c, e->blo, "pros"))
		return false;
	for (i = e->blo + 2; i < e->bhi; i++)
		if (block_is(c, i, "cons"))
			return true;
	return false;
}

/* Propagates article membership and drops boilerplate, top-down. */
static void
clean_article(struct ctx *c)
{
	size_t i;
	struct enode *e;
	uint8_t inh;

	for (i = 0; i < c->nen; i++) {
		e = &c->en[i];
		inh = e->parent != NONE ? c->en[e->parent].fl &
		    (EN_IN | EN_DROP | EN_DATATABLE | EN_CODE | EN_FIGURE) : 0;
		e->fl |= inh;
		if (e->fl & EN_ROOT)
			e->fl |= EN_IN;
		if (!(e->fl & EN_IN) || (e->fl & EN_DROP))
			continue;
		if (e->tag == HTML_TABLE && is_data_table(e))
			e->fl |= EN_DATATABLE;
		if (e->tag == HTML_PRE || e->tag == HTML_CODE)
			e->fl |= EN_CODE;
		if (e->tag == HTML_FIGURE)
			e->fl |= EN_FIGURE;
		if (drop_small_box(c, e) || verdict_box(c, e)) {
			e->fl |= EN_DROP;
			drop_inline(c, e);
		}
		if ((e->tag == HTML_H1 || e->tag == HTML_H2) &&
		    class_weight(c, e) < 0)
			e->fl |= EN_DROP;
		if (!(c->mode & M_CLEAN) || (e->fl & (EN_DATATABLE | EN_CODE |
		    EN_ROOT)) || !cleanable((enum html_tag)e->tag))
			continue;
		if (clean_conditionally(c, e))
			e->fl |= EN_DROP;
	}
}

/* ---- output -------------------------------------------------------- */

/* True if the heading block repeats the page title. */
static bool
is_title(const struct ctx *c, const struct block *b)
{
	char h[512], t[512];
	size_t hl, tl;
	const char *title = c->meta.title;

	if (title == NULL || b->len > 400)
		return false;
	hl = html_fold(c->txt + b->off, b->len, h, sizeof(h));
	tl = html_fold(title, strlen(title), t, sizeof(t));
	if (hl == 0 || tl == 0)
		return false;
	if (strcmp(h, t) == 0)
		return true;
	/* "Headline" against a title with the site appended, or the
	 * reverse: containment covering 3/4 of the longer one. */
	if (hl > tl)
		return tl * 4 >= hl * 3 && strstr(h, t) != NULL;
	return hl * 4 >= tl * 3 && strstr(t, h) != NULL;
}

static bool
is_heading(enum html_tag t)
{
	return (html_tag_flags(t) & HTML_F_HEADING) != 0;
}

static bool
block_in_article(const struct ctx *c, const struct block *b)
{
	const struct enode *o = &c->en[b->owner];

	if (b->keep == BK_LOOSE)
		return true;
	return (o->fl & EN_IN) && !(o->fl & EN_DROP) && b->keep != BK_DROP;
}

static bool
is_cell(enum html_tag t)
{
	return t == HTML_TD || t == HTML_TH;
}

/* ---- block filters: wording and position --------------------------- */

/* Whole-block labels of page furniture, compared case-insensitively
 * without trailing punctuation. */
static const char *const LABELS[] = {
	"advertisement", "advertising", "skip advertisement", "ad",
	"sponsored", "anzeige", "werbung", "publicit\xC3\xA9", "publicidad",
	"pubblicit\xC3\xA0", "reklama", "publicidade", "skip to content",
	"skip to main content", "share", "share this", "share this article",
	"share this story", "tweet", "email", "print", "comments", "loading",
	"related", "related articles", "related stories", "related content",
	"related posts", "read more", "must watch", "recommended", "trending",
	"contents", "table of contents", "topics", "tags", "continue reading",
	"listen to this article", "newsletter", "sign up", "subscribe",
	"story continues below advertisement", "most popular", "most read",
	"follow us", "more stories", "you may also like", "top stories",
	"mehr zum thema", "lesen sie auch", "lire aussi", "\xC3\xA0 lire aussi",
	"leer m\xC3\xA1s", "leggi anche", "leia tamb\xC3\xA9m", "zobacz te\xC5\xBC",
	"lees ook", "learn more", "mehr erfahren", "en savoir plus",
	"saber m\xC3\xA1s", "scopri di pi\xC3\xB9", "saiba mais",
	"dowiedz si\xC4\x99 wi\xC4\x99""cej", "contact", "contact us", "kontakt",
	"more about", "more on this story", "post your comment",
	"post a comment", "leave a comment", "leave a reply", "add comment",
	/* editorial badges under science-news articles */
	"fact-checked", "peer-reviewed publication", "trusted source",
	"proofread", "published",
	/* pointers and gallery furniture */
	"on the net", "also", "view full gallery", "view gallery",
	"don't miss", "don\xE2\x80\x99t miss", NULL
};

/* Prefixes of short furniture lines ("Related: ...", "Credit: ..."). */
static const char *const PREFIXES[] = {
	"related:", "read more:", "more:", "read also:", "see also:",
	"[related", "[read more", "(related", "editor's note",
	"editor\xE2\x80\x99s note", "watch |",
	"also read:", "read next:", "watch:", "watch now:", "related video:",
	"related content:", "tags:", "topics:", "filed under", "credit:",
	"photo:", "image:", "photograph:", "copyright", "\xC2\xA9", "(c) ",
	"click here", "lesen sie auch",
	"mehr zum thema", "lire aussi", "\xC3\xA0 lire aussi",
	"a lire aussi", "lee tambi\xC3\xA9n", "leer m\xC3\xA1s",
	"leggi anche", "leia tamb\xC3\xA9m", "leia mais", "zobacz te\xC5\xBC",
	"czytaj tak\xC5\xBC""e", "czytaj te\xC5\xBC", "lees ook",
	"sign up for", "subscribe to", "follow us",
	"dowiedz si\xC4\x99 wi\xC4\x99""cej", "ansprechpartner",
	"image copyright", "image caption",
	/* teasers under a label, in the story's flow */
	"trending:", "most popular:", "most read:", "don't miss:",
	"don\xE2\x80\x99t miss:", "recommended:", "you may also like:", NULL
};

/*
 * Phrases that mark a short block (under NOTE_BLOCK characters) as a
 * note around the article rather than its text: captions and credits,
 * affiliate and newsletter pitches, wire and reprint notes.  Matched
 * case-sensitively as pages write them.
 */
static const char *const NOTES[] = {
	"Credit:", "Credits:", "Photo credit", "Image credit", "Photograph by",
	"Photo by", "Photos by", "Photos via", "Getty Images", "Shutterstock",
	"Foto:", "Bild:", "Cr\xC3\xA9" "dit photo", "Cr\xC3\xA9" "dits photo",
	"earn a commission", "receive compensation", "affiliate link",
	"receive a small commission", "earn a small commission",
	"contributed to this report", "contributed to this story",
	"contributed reporting", "originally published", "originally appeared",
	"Originally published at",
	"Includes information from", "Additional reporting by",
	"delivered to your inbox", "Sign up for", "sign up for",
	"newsletter. Sign up", "user agreement", "People are also reading",
	"Comments are closed", "Kommentare geschlossen", "please subscribe",
	"already a subscriber", "Public Domain", "domena publiczna",
	"do subskrypcji", "Newsletter abonnieren", "abonnez-vous",
	"Suscr\xC3\xAD""bete", "Iscriviti", "Reprinted by permission",
	"Reprinted with permission", "wherever you get your podcasts",
	/* syndication notes: where the story first ran */
	"Image via", "Images via", "Photo via",
	"Read the original article", "Cross-posted from", "Crossposted from",
	"initially published", "Original article on", "story for reprint",
	/* pitches to follow the site elsewhere, and consent notices */
	"Follow us on", "follow us on", "on our Facebook", "'Like' on our",
	"We're also on Facebook", "We use cookies", "use of cookies",
	"Sign up here", "by subscribing now",
	/* notes that the story will change */
	"will be updated as more", "story will be updated",
	"article will be updated", "post will be updated", NULL
};

/*
 * Call-outs to readers for their own stories and comments, and the terms
 * that come with them ("Have you been affected? Share with us by
 * emailing ...", "Your comments may be published"): up to CALLOUT_BLOCK
 * characters.
 */
static const char *const CALLOUTS[] = {
	"share with us by", "send us your experiences",
	"send your experiences", "share your experiences with us",
	"comments may be published", "may edit your comments",
	"include a contact number", "Please share your comments",
	"please share your comments", NULL
};

#define CALLOUT_BLOCK	500

/* Author notes at the tail: "Jane Doe writes about courts for...". */
static const char *const BIOS[] = {
	" writes about ", " is a staff writer", " is a reporter",
	" is a freelance", " is a senior", " is a contributing",
	" is a dedicated writer", " has been with us", " covers ", NULL
};

#define NOTE_BLOCK	300

/*
 * Legal and editorial notes that run long (disclaimers, reprint terms,
 * editorial-process statements, citation lines): phrases nobody writes in
 * a story, so they drop a block of up to LEGAL_BLOCK characters.
 */
static const char *const LEGAL[] = {
	"This document is subject to copyright",
	"consent to our User Agreement", "you agree to our Terms",
	"This article has been reviewed according to",
	"editorial process and policies", "Editorial Board consists of",
	"editorial board consists of", "may receive compensation",
	"may earn a commission", "retrieved ", "advertising disclaimer",
	NULL
};

#define LEGAL_BLOCK	800
#define CITE_BLOCK	600	/* a cited paper: authors, title, journal */

static bool
has_phrase(const char *t, size_t len, const char *const *list)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (memmem(t, len, list[i], strlen(list[i])) != NULL)
			return true;
	return false;
}

/* "Published 17 May 2023": these words then a digit make a date line. */
static const char *const STAMPS[] = {
	"published", "updated", "posted", "last updated", "last modified",
	"ver\xC3\xB6""ffentlicht", "aktualisiert", "publi\xC3\xA9",
	"mis \xC3\xA0 jour", "publicado", "actualizado", "pubblicato",
	"aggiornato", "opublikowano", "gepubliceerd", NULL
};

#define SHORT_BLOCK	200	/* characters: furniture lines are short */
#define LINK_PARA	200	/* a paragraph of one link: at most this */
#define LINKRUN_BLOCK	1000	/* ...but a label over links runs longer */

static bool
has_prefix(const char *t, size_t len, const char *p)
{
	size_t pl = strlen(p);

	return pl <= len && strncasecmp(t, p, pl) == 0;
}

static bool
is_label(const char *t, size_t len)
{
	size_t i, l;

	while (len > 0 && strchr(" .:!>|\xC2\xBB", t[len - 1]) != NULL)
		len--;
	for (i = 0; LABELS[i] != NULL; i++) {
		l = strlen(LABELS[i]);
		if (l == len && strncasecmp(t, LABELS[i], l) == 0)
			return true;
	}
	return false;
}

/* "1 of 12", "3 / 12": a gallery's counter. */
static bool
counter(const char *t, size_t len)
{
	size_t i = 0, d1, d2;

	for (d1 = 0; i < len && isdigit((unsigned char)t[i]); i++)
		d1++;
	if (d1 == 0 || d1 > 3)
		return false;
	if (i + 4 <= len && strncmp(t + i, " of ", 4) == 0)
		i += 4;
	else if (i + 3 <= len && strncmp(t + i, " / ", 3) == 0)
		i += 3;
	else
		return false;
	for (d2 = 0; i < len && isdigit((unsigned char)t[i]); i++)
		d2++;
	return d2 > 0 && d2 <= 3 && i == len;
}

/* "By Jane Doe", "Von Max Muster": a short line naming people. */
static bool
is_byline(const char *t, size_t len, size_t words)
{
	static const char *const BY[] = { "by ", "by:", "von ", "par ",
	    "por ", "di ", "door ", "autor:", "author:", "written by",
	    NULL };
	size_t i;

	if (words > 8 || len > 80 || t[len - 1] == '.')
		return false;
	for (i = 0; BY[i] != NULL; i++)
		if (has_prefix(t, len, BY[i]))
			return true;
	return has_prefix(t, len, "by") && len > 2 &&
	    isupper((unsigned char)t[2]);
}

/* Who a byline or a closing contact line is about. */
static const char *const WRITERS[] = {
	"reporter", "writer", "columnist", "editor", "correspondent",
	"Reporter", "Writer", "Columnist", "Editor", "Correspondent", NULL
};

/*
 * "By JANE ROE, Associated Press Writer Fri Apr 3, 3:21 pm ET": a wire
 * byline runs past a short line's length, naming the writer's job after
 * the names, then often the time.
 */
static bool
wire_byline(const char *t, size_t len)
{
	const char *comma;
	size_t n;

	if (!has_prefix(t, len, "by ") || ends_sentence(t, len))
		return false;
	if ((comma = memchr(t, ',', len < 60 ? len : 60)) == NULL)
		return false;
	n = len - (size_t)(comma - t);
	return has_phrase(comma, n < 50 ? n : 50, WRITERS);
}

/* "Published 17 May 2023 10:02", "Updated: 2 hours ago". */
static bool
is_stamp(const char *t, size_t len)
{
	size_t i, k;

	for (i = 0; STAMPS[i] != NULL; i++) {
		if (!has_prefix(t, len, STAMPS[i]))
			continue;
		for (k = strlen(STAMPS[i]); k < len && k < 40; k++)
			if (isdigit((unsigned char)t[k]))
				return true;
	}
	return false;
}

/*
 * The length of a date-and-time opening t: up to its first "H:MM" (in the
 * first 40 bytes), an "AM"/"PM" and an upper-case zone ("GMT", "EST")
 * after it; 0 without a time.
 */
static size_t
stamp_prefix(const char *t, size_t len)
{
	size_t i, k;

	for (i = 1; i + 3 < len && i < 40; i++) {
		if (t[i] != ':' || !isdigit((unsigned char)t[i - 1]) ||
		    !isdigit((unsigned char)t[i + 1]) ||
		    !isdigit((unsigned char)t[i + 2]))
			continue;
		k = i + 3;
		if (k + 3 <= len && t[k] == ' ' && (strncasecmp(t + k + 1,
		    "am", 2) == 0 || strncasecmp(t + k + 1, "pm", 2) == 0) &&
		    (k + 3 == len || t[k + 3] == ' '))
			k += 3;
		if (k + 1 < len && t[k] == ' ' && isupper((unsigned char)t[k + 1])) {
			size_t z = k + 1;
			while (z < len && isupper((unsigned char)t[z]))
				z++;
			if (z - k - 1 >= 2 && z - k - 1 <= 4 &&
			    (z == len || t[z] == ' ' || t[z] == ','))
				k = z;
		}
		return k;
	}
	return 0;
}

/* A line that is a date and little else: "Dec. 22, 2023, 12:34 PM". */
static bool
is_date_line(const struct ctx *c, const struct block *b, size_t words)
{
	const char *t = c->txt + b->off;
	enum html_tag ot = (enum html_tag)c->en[b->owner].tag;
	char tmp[48], iso[64];

	const char *sep;
	size_t n = b->len;

	if (ot == HTML_LI || is_cell(ot) || !isalnum((unsigned char)t[0]))
		return false;
	/* "December 22, 2023 / 1:54 PM EST / KCAL News": the date part */
	if (b->len <= 100 && ((sep = memmem(t, b->len, " / ", 3)) != NULL ||
	    (sep = memmem(t, b->len, " | ", 3)) != NULL)) {
		n = (size_t)(sep - t);
		words = count_words(t, n);
	}
	if (n < sizeof(tmp) && words <= 6) {
		memcpy(tmp, t, n);
		tmp[n] = '\0';
		if (meta_date_normalize(tmp, iso, sizeof(iso)) == 0)
			return true;
	}
	/* "20 Mar 2017 13:14 GMT Middle East, Syria's Civil War": a date
	 * and time, then section labels (no sentence). */
	if (b->chars > 80 || ends_sentence(t, b->len))
		return false;
	n = stamp_prefix(t, b->len);
	if (n == 0 || n >= sizeof(tmp) || count_words(t, n) < 3)
		return false;
	memcpy(tmp, t, n);
	tmp[n] = '\0';
	return meta_date_normalize(tmp, iso, sizeof(iso)) == 0;
}

static size_t
count_words(const char *t, size_t len)
{
	size_t i, n = 0;
	bool in = false;

	for (i = 0; i < len; i++) {
		bool sp = t[i] == ' ' || t[i] == '\n' || t[i] == '\t';
		if (!sp && !in)
			n++;
		in = !sp;
	}
	return n;
}

/* A legal or editorial note; "retrieved" only in a "Citation:" line. */
static bool
legal_note(const char *t, size_t len)
{
	size_t i;

	for (i = 0; LEGAL[i] != NULL; i++) {
		if (memmem(t, len, LEGAL[i], strlen(LEGAL[i])) == NULL)
			continue;
		if (strcmp(LEGAL[i], "retrieved ") != 0 ||
		    has_prefix(t, len, "citation:"))
			return true;
	}
	return false;
}

/*
 * The paper a science story reports on, cited after it: "More
 * information: Jane Roe et al, Title, Journal (2023). DOI: 10.1/x", or
 * the same line without the label.  An author list ("et al") and a DOI
 * make a citation; a story quoting one runs longer than CITE_BLOCK.
 */
static bool
citation(const char *t, size_t len, uint32_t chars)
{
	if (chars > CITE_BLOCK)
		return false;
	if (has_prefix(t, len, "more information:"))
		return true;
	return memmem(t, len, " et al", 6) != NULL &&
	    (memmem(t, len, "DOI", 3) != NULL ||
	    memmem(t, len, "doi:", 4) != NULL ||
	    memmem(t, len, "doi.org/", 8) != NULL);
}

/* "3 min read", "5 Minute Read", "Lesezeit: 4 Min.": a reading time. */
static bool
reading_time(const char *t, size_t len, size_t words)
{
	static const char *const ENDS[] = { " min read", " mins read",
	    " minute read", " minutes read", " min. read", NULL };
	size_t i, l;

	if (words > 5 || len > 40 || !isdigit((unsigned char)t[0]))
		return false;
	while (len > 0 && (t[len - 1] == '.' || t[len - 1] == ' '))
		len--;
	for (i = 0; ENDS[i] != NULL; i++) {
		l = strlen(ENDS[i]);
		if (len > l && strncasecmp(t + len - l, ENDS[i], l) == 0)
			return true;
	}
	return false;
}

/*
 * "Jane Roe Dec 05, 2023 2 Shares 1530 Views": a line of social counters,
 * a count then "Shares", "Views" or "Comments" (often run into the
 * byline and date before them).
 */
static bool
counters(const char *t, size_t len, uint32_t chars)
{
	static const char *const WHAT[] = { "shares", "views", "comments",
	    NULL };
	size_t i, k, l;

	if (chars > 100 || ends_sentence(t, len))
		return false;
	for (i = 1; i < len; i++) {
		if (!isdigit((unsigned char)t[i - 1]) ||
		    isdigit((unsigned char)t[i]))
			continue;
		k = t[i] == ' ' ? i + 1 : i;
		for (l = 0; WHAT[l] != NULL; l++)
			if (has_prefix(t + k, len - k, WHAT[l]) &&
			    (k + strlen(WHAT[l]) == len ||
			    !isalpha((unsigned char)t[k + strlen(WHAT[l])])))
				return true;
	}
	return false;
}

/* True if the block is page furniture judged by its own words. */
static bool
furniture(const struct ctx *c, const struct block *b)
{
	const char *t = c->txt + b->off;
	size_t len = b->len, words;

	if (b->chars <= NOTE_BLOCK && has_phrase(t, len, NOTES))
		return true;
	if (b->chars <= LEGAL_BLOCK && legal_note(t, len))
		return true;
	if (b->chars <= CALLOUT_BLOCK && has_phrase(t, len, CALLOUTS))
		return true;
	if (citation(t, len, b->chars))
		return true;
	/* "Read more:" over a run of links (one block, split by <br>). */
	if (b->chars <= LINKRUN_BLOCK && b->link10 >= 6 * b->chars)
		for (size_t i = 0; PREFIXES[i] != NULL; i++)
			if (has_prefix(t, len, PREFIXES[i]))
				return true;
	if (b->chars > SHORT_BLOCK)
		return false;
	if (is_label(t, len) || is_stamp(t, len) || counter(t, len) ||
	    counters(t, len, b->chars))
		return true;
	for (size_t i = 0; PREFIXES[i] != NULL; i++)
		if (has_prefix(t, len, PREFIXES[i]))
			return true;
	if (memmem(t, len, "All rights reserved", 19) != NULL ||
	    memmem(t, len, "all rights reserved", 19) != NULL)
		return true;
	if (b->link10 > 0 && (memmem(t, len, "CLICK HERE", 10) != NULL ||
	    memmem(t, len, "CLICKING HERE", 13) != NULL))
		return true;
	words = count_words(t, len);
	return is_byline(t, len, words) || wire_byline(t, len) ||
	    is_date_line(c, b, words) ||
	    reading_time(t, len, words);
}

static bool
block_kept(struct ctx *c, const struct block *b, bool *title_seen)
{
	const struct enode *o = &c->en[b->owner];

	if (!block_in_article(c, b))
		return false;
	if (is_heading((enum html_tag)o->tag) && !*title_seen &&
	    is_title(c, b)) {
		*title_seen = true;
		return false;
	}
	return !furniture(c, b);
}

/* Appends, cutting at max_output (on a character boundary); -1 when the
 * buffer is full or memory runs out. */
static int
append_capped(struct buf *out, const char *s, size_t len)
{
	size_t room = out->max - out->len;

	if (len <= room)
		return buf_append(out, s, len);
	(void)buf_append(out, s, html_utf8_trim(s, room));
	return -1;
}

static bool
ends_sentence(const char *t, size_t len)
{
	unsigned char ch;

	while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '"' ||
	    t[len - 1] == '\'' || t[len - 1] == ')'))
		len--;
	if (len == 0)
		return false;
	ch = (unsigned char)t[len - 1];
	if (ch == '.' || ch == '!' || ch == '?' || ch == ':' || ch == ';')
		return true;
	/* closing quotes, ellipsis and CJK full stops end in 0x80-0xBF */
	return len >= 3 && (memcmp(t + len - 3, "\xE2\x80\x9D", 3) == 0 ||
	    memcmp(t + len - 3, "\xE2\x80\x99", 3) == 0 ||
	    memcmp(t + len - 3, "\xE2\x80\xA6", 3) == 0 ||
	    memcmp(t + len - 3, "\xE3\x80\x82", 3) == 0 ||
	    memcmp(t + len - 3, "\xEF\xBC\x81", 3) == 0 ||
	    memcmp(t + len - 3, "\xEF\xBC\x9F", 3) == 0);
}

/* "name@host.tld" somewhere in the text. */
static bool
has_email(const char *t, size_t len)
{
	const char *at = t, *end = t + len, *d;

	while ((at = memchr(at, '@', (size_t)(end - at))) != NULL) {
		if (at > t && (isalnum((unsigned char)at[-1]) || at[-1] == '.' ||
		    at[-1] == '_')) {
			for (d = at + 1; d < end && (isalnum((unsigned char)*d) ||
			    *d == '-' || *d == '.'); d++)
				if (*d == '.' && d + 1 < end &&
				    isalpha((unsigned char)d[1]) && d > at + 1)
					return true;
		}
		at++;
	}
	return false;
}

/* "Jane Doe is the Gazette's courts reporter.": a name, " is ", then a
 * newsroom job within the first sentence (and its first 120 bytes). */
static bool
staff_bio(const char *t, size_t len)
{
	static const char *const JOBS[] = { " editor", " reporter",
	    " writer", " correspondent", " columnist", " journalist", NULL };
	const char *is = memmem(t, len < 60 ? len : 60, " is ", 4), *end, *p;
	size_t i, n;

	if (is == NULL)
		return false;
	/* the subject is a name: up to 4 capitalised words */
	for (p = t, n = 0; p < is; n++) {
		if (!isupper((unsigned char)*p) || n == 4)
			return false;
		p = memchr(p, ' ', (size_t)(is - p));
		if (p == NULL || p == is)
			break;
		p++;
	}
	end = memchr(is, '.', len - (size_t)(is - t));
	n = (size_t)((end != NULL ? end : t + len) - is);
	if (n > 120)
		n = 120;
	for (i = 0; JOBS[i] != NULL; i++)
		if (memmem(is, n, JOBS[i], strlen(JOBS[i])) != NULL)
			return true;
	return false;
}

/* "Interview produced by Ben Edwards.", "...is produced by Jeff
 * DelViscio": a closing credit to people (a capitalised name follows;
 * "produced by rfcmarkup" is a tool's). */
static bool
people_credit(const char *t, size_t len)
{
	static const char *const BY[] = { "produced by ", "edited by ",
	    "Produced by ", "Edited by ", NULL };
	const char *p;
	size_t i;

	for (i = 0; BY[i] != NULL; i++)
		if ((p = memmem(t, len, BY[i], strlen(BY[i]))) != NULL &&
		    p + strlen(BY[i]) < t + len &&
		    isupper((unsigned char)p[strlen(BY[i])]))
			return true;
	return false;
}

/* Openings of the contact lines and calls to action that close a story
 * ("Contact reporter...", "Do you want to submit...?"). */
static const char *const CALLS[] = {
	"contact ", "you can email", "email ", "e-mail ", "follow ",
	"do you want to", "are you ready to", "want to submit",
	"don't miss", "don\xE2\x80\x99t miss",
	"reach out", "send tips", "got a tip", "have a tip", NULL
};

/* "For more ..., visit ...", "To learn more ..., stream ...": pointers
 * elsewhere, when they say where. */
static const char *const MORE[] = { "for more ", "to learn more",
	"to read more", "to see more", "for the latest", NULL };
static const char *const WHERE[] = { "visit ", "stream ", "click ",
	"subscribe", "sign up", "download ", "follow ", NULL };

/* App pitches: "Get the latest news straight to your phone with...". */
static const char *const APPS[] = { "to your phone", "our app",
	"the app store", "download the app", "get the app", NULL };

/*
 * A contact line or call to action at the end of a story: a short block
 * giving a writer's e-mail address, or opening with a call, or a "read more ...
 * here" link line.
 */
static bool
tail_call(const struct ctx *c, const struct block *b)
{
	const char *t = c->txt + b->off;
	size_t len = b->len, i;

	if (b->chars > 400)
		return false;
	if (staff_bio(t, len))
		return true;
	if (b->chars > 300)
		return false;
	/* An address alone is no sign: events and services end with one. */
	if (has_email(t, len) && has_phrase(t, len, WRITERS))
		return true;
	for (i = 0; CALLS[i] != NULL; i++)
		if (has_prefix(t, len, CALLS[i]))
			return true;
	if (has_phrase(t, len, APPS) || people_credit(t, len))
		return true;
	for (i = 0; MORE[i] != NULL; i++)
		if (has_prefix(t, len, MORE[i]) && (b->link10 > 0 ||
		    has_phrase(t, len, WHERE)))
			return true;
	return b->link10 > 0 && b->chars <= 150 && (len >= 5 &&
	    (strncasecmp(t + len - 5, "here.", 5) == 0 ||
	    (len >= 6 && strncmp(t + len - 6, "aqu\xC3\xAD.", 6) == 0)));
}

/* Pitches that open a page before the story ("Are you ready to bring
 * more awareness to your brand?"), judged among its first two blocks. */
static const char *const HEAD_CALLS[] = { "are you ready to",
	"do you want to", "don't miss", "don\xE2\x80\x99t miss",
	"want to submit", NULL };

static bool
head_call(const struct ctx *c, const struct block *b)
{
	size_t i;

	if (b->chars > 300)
		return false;
	for (i = 0; HEAD_CALLS[i] != NULL; i++)
		if (has_prefix(c->txt + b->off, b->len, HEAD_CALLS[i]))
			return true;
	return false;
}

/* A writer's initials or an end mark closing a story: "MA", "-30-",
 * "###", "(AP)": a few characters and no lower-case letter. */
static bool
initials(const struct ctx *c, const struct block *b)
{
	const char *t = c->txt + b->off;
	size_t i;

	if (b->len > 6)
		return false;
	for (i = 0; i < b->len; i++)
		if (islower((unsigned char)t[i]) || (unsigned char)t[i] >= 0x80)
			return false;
	return true;
}

/* A kicker, label or name line: few words and no sentence end. */
static bool
stub(const struct ctx *c, const struct block *b)
{
	const char *t = c->txt + b->off;

	/* Word counts mean nothing in unspaced scripts (3 bytes a char). */
	return b->chars < 80 && b->len < 2 * b->chars &&
	    count_words(t, b->len) < STUB_WORDS && !ends_sentence(t, b->len);
}

/*
 * A heading written as the writer's lead-in to an embed the cleaner does
 * not keep ("Pat McAfee's reaction to the signing:" over a post): a
 * sentence of LEADIN_WORDS words or more ending with a colon, not a
 * section title left hanging after the story.
 */
static bool
lead_in(const struct ctx *c, const struct block *b)
{
	const char *t = c->txt + b->off;

	return b->len > 0 && t[b->len - 1] == ':' &&
	    count_words(t, b->len) >= LEADIN_WORDS;
}

/*
 * A label in the text's own lines ending it over what it introduced, a
 * list of links or a player the cleaner did not keep ("More on the
 * mill:", "Watch her talk now:"): a few words and a colon.  Headings
 * have their own rule, which keeps a lead-in (lead_in()).
 */
static bool
hanging_label(const struct ctx *c, const struct block *b)
{
	const char *t = c->txt + b->off;

	return b->len > 0 && t[b->len - 1] == ':' && b->chars < 80 &&
	    b->len < 2 * b->chars && count_words(t, b->len) < STUB_WORDS &&
	    !is_heading((enum html_tag)c->en[b->owner].tag);
}

/*
 * Position rules over the kept blocks (indexes into c->bl): stubs before
 * the first paragraph are kickers, section labels and author names
 * (the article starts at its first sentence), and headings or link stubs
 * after the last paragraph introduce nothing.
 */
static void
trim_ends(struct ctx *c, const size_t *k, size_t n, size_t *from, size_t *to)
{
	size_t i = 0, j = n;
	const struct block *b;

	while (i < n && i < STUB_MAX && ((stub(c, &c->bl[k[i]]) &&
	    c->en[c->bl[k[i]].owner].tag != HTML_LI) ||
	    (i < 2 && head_call(c, &c->bl[k[i]]))))
		i++;
	if (i == n)
		i = 0;
	while (j > i + 1) {
		b = &c->bl[k[j - 1]];
		if (!(is_heading((enum html_tag)c->en[b->owner].tag) &&
		    !lead_in(c, b)) &&
		    !(stub(c, b) && b->link10 * 2 > b->chars * 10) &&
		    !hanging_label(c, b) &&
		    !(n - j < 3 && b->chars <= (n == j ? BIO_LAST : 400) &&
		    has_phrase(c->txt + b->off, b->len, BIOS)) &&
		    !(n - j < 3 && tail_call(c, b)) &&
		    !(n - j < 2 && initials(c, b)))
			break;
		j--;
	}
	*from = i;
	*to = j;
}

/*
 * A paragraph that is one link and no sentence: the headline of another
 * story ("Killer's failing health renews focus on the saga").
 */
static bool
link_para(const struct ctx *c, const struct block *b)
{
	const struct enode *o = &c->en[b->owner];

	return o->tag == HTML_P && o->text == b->chars && b->chars >= 20 &&
	    b->chars <= LINK_PARA && b->link10 >= 10 * b->chars &&
	    !ends_sentence(c->txt + b->off, b->len);
}

/*
 * Teasers set in the story's own container: two or more paragraphs in a
 * row that are each a link to another story, or one under a label
 * ("ALSO", "Related").  One such link between paragraphs stays: sites
 * put a sentence-long pointer there that readers take for text.
 */
static void
mark_teasers(struct ctx *c)
{
	size_t i, run = 0, start = 0;
	bool label = false;
	const struct block *b;

	for (i = 0; i <= c->nbl; i++) {
		b = i < c->nbl ? &c->bl[i] : NULL;
		if (b != NULL && !block_in_article(c, b))
			continue;
		if (b != NULL && link_para(c, b)) {
			if (run++ == 0)
				start = i;
			continue;
		}
		if (run >= 2 || (run == 1 && label))
			for (; start < i; start++)
				c->bl[start].keep = BK_TEASER;
		run = 0;
		label = b != NULL && b->chars <= SHORT_BLOCK &&
		    is_label(c->txt + b->off, b->len);
	}
}

/* Joins the kept blocks: lines, with table cells of a row on one line.
 * Stops quietly at max_output. */
static int
compose(struct ctx *c, struct buf *out, size_t *chars)
{
	size_t i, n = 0, from, to, *k;
	int32_t prev = NONE;
	bool title_seen = false;
	const struct block *b;

	*chars = 0;
	k = malloc(c->nbl * sizeof(*k) + 1);
	if (k == NULL)
		return -1;
	mark_teasers(c);
	for (i = 0; i < c->nbl; i++)
		if (c->bl[i].keep != BK_TEASER &&
		    block_kept(c, &c->bl[i], &title_seen))
			k[n++] = i;
	trim_ends(c, k, n, &from, &to);
	for (i = from; i < to; i++) {
		b = &c->bl[k[i]];
		if (prev != NONE) {
			const struct enode *po = &c->en[c->bl[prev].owner];
			const struct enode *o = &c->en[b->owner];
			char sep = po != o && is_cell((enum html_tag)po->tag) &&
			    is_cell((enum html_tag)o->tag) &&
			    po->parent == o->parent ? '\t' : '\n';
			if (append_capped(out, &sep, 1) == -1)
				break;
		}
		*chars += b->chars;
		if (append_capped(out, c->txt + b->off, b->len) == -1)
			break;
		prev = (int32_t)k[i];
	}
	free(k);
	return 0;
}

/* ---- passes -------------------------------------------------------- */

static void
ctx_reset(struct ctx *c, unsigned mode)
{
	size_t i;

	/* Nodes a new walk does not reach must not keep stale indexes. */
	for (i = 0; i < c->nen; i++)
		c->en[i].node->_private = NULL;
	c->mode = mode;
	c->nen = 0;
	c->nbl = 0;
	c->tlen = 0;
	c->cur = NONE;
	c->owner = NONE;
	c->open = false;
	c->ws = HTML_WS_START;
	c->br_run = 0;
	c->in_link = 0;
	c->in_head = 0;
	c->in_skipctx = 0;
	c->in_main = 0;
	c->seen = 0;
}

/*
 * One full attempt under mode: walk, score, choose, clean, compose into
 * out.  Returns 0 (with *chars, maybe 0), -1 on out-of-memory, or -2 when
 * the budget is over (checked between the steps, each linear in the
 * walked nodes, and inside the walk).
 */
static int
run_pass(struct ctx *c, xmlNode *start, unsigned mode, struct buf *out,
    size_t *chars)
{
	ctx_reset(c, mode);
	buf_reset(out);
	*chars = 0;
	walk(c, start);
	block_flush(c);
	if (c->oom)
		return -1;
	if (html_budget_over(c->budget, true))
		return -2;
	if (c->nen == 0 || c->nbl == 0)
		return 0;
	aggregate(c);
	score_blocks(c);
	if (html_budget_over(c->budget, true))
		return -2;
	choose_article(c);
	clean_article(c);
	if (html_budget_over(c->budget, true))
		return -2;
	if (compose(c, out, chars) == -1)
		return -1;
	return out->data == NULL && *chars > 0 ? -1 : 0;
}

static xmlNode *
find_body(xmlDoc *doc)
{
	xmlNode *root = xmlDocGetRootElement(doc), *k;

	if (root == NULL)
		return NULL;
	for (k = root->children; k != NULL; k = k->next)
		if (html_tag_of(k) == HTML_BODY)
			return k;
	return root;
}

/*
 * Pages that paste whole documents into themselves (ad includes with their
 * own <html>...</html>) make libxml2 close the body or the root early
 * and go on in a second <html> beside the body or the root; the article
 * may sit in any of them.  What follows the first body is moved, in
 * order, into it, so that one walk sees the whole page (a nested <html>
 * or <body> then reads as a plain container; heads stay skipped).
 */
static void
merge_roots(xmlDoc *doc, xmlNode *body)
{
	xmlNode *root = xmlDocGetRootElement(doc), *k, *kn;

	if (root == NULL || body == NULL || body == root)
		return;
	for (k = body->next; k != NULL; k = kn) {
		kn = k->next;
		xmlUnlinkNode(k);
		xmlAddChild(body, k);
	}
	for (k = root->next; k != NULL; k = kn) {
		kn = k->next;
		if (k->type != XML_ELEMENT_NODE)
			continue;
		xmlUnlinkNode(k);
		xmlAddChild(body, k);
	}
}

/*
 * Runs the passes, loosening the rules while the text stays under
 * min_text, and keeps the longest result in *text.  0, -1 out of memory,
 * -2 over the budget.
 */
static int
main_text(struct ctx *c, xmlDoc *doc, char **text)
{
	static const unsigned MODES[] = { M_ALL, M_WEIGHT | M_CLEAN, M_CLEAN,
	    0 };
	struct buf cur, best;
	size_t i, chars, best_chars = 0;
	xmlNode *body = find_body(doc);
	int rc = 0;

	*text = NULL;
	if (body == NULL)
		return 0;
	buf_init(&cur, c->o->max_output);
	buf_init(&best, c->o->max_output);
	for (i = 0; i < ARRAY_LEN(MODES); i++) {
		if ((rc = run_pass(c, body, MODES[i], &cur, &chars)) != 0)
			break;
		if (chars > best_chars || best.data == NULL) {
			struct buf t = best;
			best = cur;
			cur = t;
			best_chars = chars;
		}
		if (best_chars >= c->o->min_text)
			break;
	}
	ctx_reset(c, 0);
	buf_free(&cur);
	if (rc == 0 && best_chars > 0)
		*text = buf_steal(&best, NULL);
	buf_free(&best);
	return rc;
}

/* ---- entry point --------------------------------------------------- */

enum kind { KIND_HTML, KIND_TEXT, KIND_UNSUPPORTED };

static bool
looks_like_html(const char *bytes, size_t len)
{
	static const char *const OPENERS[] = { "<!doctype html", "<html",
	    "<head", "<body", "<meta", "<title", "<div", "<p>", "<p ",
	    "<script", "<link", "<!--", "<table", "<h1", "<style", "<base",
	    "<br", "<a ", "<span", "<iframe", "<font", "<b>", "<center",
	    "<?xml", NULL };
	size_t i, n = len < 1024 ? len : 1024, k;

	for (i = 0; i < n; i++) {
		if (bytes[i] != '<')
			continue;
		for (k = 0; OPENERS[k] != NULL; k++) {
			size_t l = strlen(OPENERS[k]);
			if (i + l <= len &&
			    strncasecmp(bytes + i, OPENERS[k], l) == 0)
				return true;
		}
	}
	return false;
}

/* Binary formats (PDF, images, archives) and control bytes say "not text". */
static bool
looks_binary(const char *bytes, size_t len)
{
	size_t i, n = len < 1024 ? len : 1024;
	unsigned char ch;

	if (len >= 5 && memcmp(bytes, "%PDF-", 5) == 0)
		return true;
	for (i = 0; i < n; i++) {
		ch = (unsigned char)bytes[i];
		if (ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t' &&
		    ch != '\f' && ch != 0x1B)
			return true;
	}
	return false;
}

/*
 * No Content-Type: HTML, text or binary by the first bytes.  UTF-16 (with a
 * BOM) is sniffed on a decoded prefix, as the NULs beside its ASCII would
 * otherwise look binary.
 */
static enum kind
sniff(const char *bytes, size_t len)
{
	const char *bom = NULL;
	size_t skip = charset_bom(bytes, len, &bom), n, ulen;
	char *u = NULL, err[64];
	enum kind k;

	if (skip == 0 || strcmp(bom, "UTF-8") == 0) {
		if (looks_like_html(bytes, len))
			return KIND_HTML;
		return looks_binary(bytes, len) ? KIND_UNSUPPORTED : KIND_TEXT;
	}
	n = len - skip < 2048 ? len - skip : 2048;
	if (charset_convert(bytes + skip, n, bom, 4 * n + 16, &u, &ulen, err,
	    sizeof(err)) == -1)
		return KIND_UNSUPPORTED;
	k = looks_like_html(u, ulen) ? KIND_HTML :
	    looks_binary(u, ulen) ? KIND_UNSUPPORTED : KIND_TEXT;
	free(u);
	return k;
}

/*
 * A body labelled HTML or text that is not: NUL bytes in its first KiB, or
 * the signature of a binary format (WHATWG MIME Sniffing's "binary data
 * bytes" check, narrowed to NUL, which no text has and which a stray
 * control byte in a real page is not).  UTF-16, which has NULs beside its
 * ASCII, comes with a BOM or a utf-16 label and is not checked.
 */
static bool
labelled_text_is_binary(const char *ct, const char *bytes, size_t len)
{
	static const struct { const char *sig; size_t len; } SIGS[] = {
		{ "%PDF-", 5 }, { "\x89PNG\r\n\x1A\n", 8 }, { "GIF8", 4 },
		{ "\xFF\xD8\xFF", 3 }, { "PK\x03\x04", 4 }, { "\x1F\x8B", 2 },
		{ "\x28\xB5\x2F\xFD", 4 },	/* zstd */
	};
	const char *bom = NULL;
	size_t n = len < 1024 ? len : 1024;

	if (charset_bom(bytes, len, &bom) > 0)
		return false;
	for (size_t i = 0; ct != NULL && ct[i] != '\0'; i++)
		if (strncasecmp(ct + i, "utf-16", 6) == 0 ||
		    strncasecmp(ct + i, "ucs-2", 5) == 0)
			return false;
	for (size_t i = 0; i < ARRAY_LEN(SIGS); i++)
		if (len >= SIGS[i].len && memcmp(bytes, SIGS[i].sig,
		    SIGS[i].len) == 0)
			return true;
	return n > 0 && memchr(bytes, '\0', n) != NULL;
}

static enum kind
classify(const char *ct, const char *bytes, size_t len)
{
	char mt[64];
	size_t n = 0;

	while (ct != NULL && (*ct == ' ' || *ct == '\t'))
		ct++;
	for (; ct != NULL && ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ' &&
	    n < sizeof(mt) - 1; n++)
		mt[n] = (char)tolower((unsigned char)ct[n]);
	mt[n] = '\0';
	if (n == 0)
		return sniff(bytes, len);
	if (strcmp(mt, "text/html") == 0 ||
	    strcmp(mt, "application/xhtml+xml") == 0)
		return labelled_text_is_binary(ct, bytes, len) ?
		    KIND_UNSUPPORTED : KIND_HTML;
	if (strcmp(mt, "text/plain") == 0)
		return labelled_text_is_binary(ct, bytes, len) ?
		    KIND_UNSUPPORTED : KIND_TEXT;
	return KIND_UNSUPPORTED;
}

/* text/plain: whitespace collapsed per line, blank lines dropped. */
static char *
plain_text(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	const char *end = s + len, *nl;
	size_t o = 0, k;
	int state;

	if (out == NULL)
		return NULL;
	while (s < end) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL)
			nl = end;
		state = HTML_WS_START;
		if (o > 0)
			out[o++] = '\n';
		k = html_collapse(out + o, len - o, s, (size_t)(nl - s),
		    &state);
		if (k == 0 && o > 0)
			o--;
		o += k;
		s = nl + 1;
	}
	out[o] = '\0';
	return out;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

size_t
sluice_extract_word_count(const char *text)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
	utf8proc_int32_t cp;
	utf8proc_ssize_t k;
	utf8proc_category_t cat;
	size_t n = 0;
	bool in = false, word;

	if (text == NULL)
		return 0;
	while (*p != '\0') {
		/* ASCII without a table lookup: most text is. */
		if (*p < 0x80) {
			word = isalnum(*p) || *p == '_';
			if (word && !in)
				n++;
			in = word;
			p++;
			continue;
		}
		k = utf8proc_iterate(p, 4, &cp);
		if (k <= 0) {
			p++;
			in = false;
			continue;
		}
		p += k;
		if ((cp >= 0x3040 && cp <= 0x30FF) ||
		    (cp >= 0x3400 && cp <= 0x9FFF) ||
		    (cp >= 0xAC00 && cp <= 0xD7AF) ||
		    (cp >= 0xF900 && cp <= 0xFAFF) ||
		    (cp >= 0x20000 && cp <= 0x2FFFF)) {
			n++;
			in = false;
			continue;
		}
		cat = utf8proc_category(cp);
		word = (cat >= UTF8PROC_CATEGORY_LU &&
		    cat <= UTF8PROC_CATEGORY_NO) || cat == UTF8PROC_CATEGORY_PC;
		if (word && !in)
			n++;
		in = word;
	}
	return n;
}

/*
 * Pages rendered by scripts may hold their text only in JSON-LD: a long
 * articleBody replaces a main text that is missing or much shorter.
 */
static void
body_rescue(struct ctx *c, char **text)
{
	size_t have = *text != NULL ? strlen(*text) : 0, ab;
	char *p;

	if (c->meta.article_body == NULL)
		return;
	ab = strlen(c->meta.article_body);
	if (ab < RESCUE_MIN || have >= RESCUE_BELOW || ab < 2 * have)
		return;
	p = plain_text(c->meta.article_body, ab);
	if (p == NULL)
		return;
	free(*text);
	*text = p;
}

/* ---- comments ------------------------------------------------------ */

/* An id or class naming a comment thread ("comments", "comment-list",
 * "commentlist", "disqus_thread"...), not one comment or a count. */
static bool
thread_name(const char *v)
{
	if (v == NULL)
		return false;
	if (html_has_word(v, "comments") || html_has_word(v, "commentlist") ||
	    html_has_word(v, "disqus_thread"))
		return !html_has_word(v, "count") && !html_has_word(v, "link");
	return html_has_word(v, "comment") && (html_has_word(v, "list") ||
	    html_has_word(v, "thread") || html_has_word(v, "section") ||
	    html_has_word(v, "area"));
}

/* Characters of n's text inside links, and in all. */
static void
link_chars(const xmlNode *n, size_t *in_link, size_t *all)
{
	const xmlNode *k;
	const char *t;
	bool link;

	*in_link = *all = 0;
	for (k = html_next((xmlNode *)n, n, true); k != NULL;
	    k = html_next((xmlNode *)k, n, true)) {
		if ((t = html_text(k)) == NULL)
			continue;
		link = false;
		for (const xmlNode *a = k->parent; a != NULL && a != n->parent;
		    a = a->parent)
			if (html_tag_of(a) == HTML_A)
				link = true;
		for (; *t != '\0'; t++)
			if (!isspace((unsigned char)*t)) {
				(*all)++;
				if (link)
					(*in_link)++;
			}
	}
}

static bool
has_block_child(const xmlNode *n)
{
	const xmlNode *k;

	for (k = n->children; k != NULL; k = k->next)
		if (k->type == XML_ELEMENT_NODE &&
		    (html_tag_flags(html_tag_of(k)) & HTML_F_BLOCK))
			return true;
	return false;
}

/*
 * The comment thread as lines: the first element named as a thread, its
 * leaf blocks in order, without forms, headings and footers (the
 * thread's title, commenters' names and dates), link-only lines
 * ("Reply", permalinks) and labels.
 * NULL when the page has none.
 */
static char *
comment_text(xmlNode *body, size_t max)
{
	xmlNode *n, *th = NULL;
	struct buf out;
	enum html_tag t;
	size_t in_link, all;
	char *line;
	bool desc;

	for (n = body; n != NULL; n = html_next(n, body, true))
		if (n->type == XML_ELEMENT_NODE &&
		    (thread_name(html_attr(n, "id")) ||
		    thread_name(html_attr(n, "class")))) {
			th = n;
			break;
		}
	if (th == NULL)
		return NULL;
	buf_init(&out, max);
	for (n = html_next(th, th, true); n != NULL; n = html_next(n, th, desc)) {
		desc = true;
		if (n->type != XML_ELEMENT_NODE)
			continue;
		t = html_tag_of(n);
		/* headings are the thread's own ("3 comments on...") */
		if ((html_tag_flags(t) & (HTML_F_SKIP | HTML_F_HEADING)) ||
		    t == HTML_FORM || t == HTML_NAV || t == HTML_FOOTER) {
			desc = false;
			continue;
		}
		if (!(html_tag_flags(t) & HTML_F_BLOCK) || has_block_child(n))
			continue;
		desc = false;
		link_chars(n, &in_link, &all);
		if (all == 0 || in_link * 10 >= all * 8)
			continue;
		if ((line = html_node_text(n, 65536)) == NULL)
			break;
		if (line[0] != '\0' && !is_label(line, strlen(line)) &&
		    !has_prefix(line, strlen(line), "reply")) {
			if (out.len > 0)
				(void)buf_append(&out, "\n", 1);
			(void)append_capped(&out, line, strlen(line));
		}
		free(line);
	}
	if (out.len == 0) {
		buf_free(&out);
		return NULL;
	}
	return buf_steal(&out, NULL);
}

/* The status and message of a budget that is over. */
static enum sluice_extract_status
budget_status(const struct html_budget *b, char *err, size_t errlen)
{
	if (b->stop == HTML_STOP_CANCEL) {
		snprintf(err, errlen, "cancelled");
		return SLUICE_EXTRACT_CANCELLED;
	}
	if (b->stop == HTML_STOP_TIME)
		snprintf(err, errlen, "over %.3g s of CPU time", b->max_seconds);
	return SLUICE_EXTRACT_TOO_COMPLEX;
}

static enum sluice_extract_status
extract_html_page(const char *utf8, size_t len, const char *url,
    const struct sluice_extract_opts *o, struct html_budget *b,
    struct sluice_extract_doc *out, char *err, size_t errlen)
{
	struct html_opts ho = { .budget = b };
	struct ctx c;
	struct meta_opts mo;
	xmlDoc *doc;
	enum sluice_extract_status st = SLUICE_EXTRACT_ERROR;
	bool region;
	int rc;

	/* The tree lives in this thread's region (arena.h): nothing of it
	 * outlives this function, and what the page keeps is copied out. */
	region = arena_begin();
	doc = html_parse(utf8, len, &ho, err, errlen);
	if (doc == NULL) {
		if (region)
			arena_end();
		return b->stop == HTML_STOP_CANCEL ? SLUICE_EXTRACT_CANCELLED :
		    b->stop != HTML_GOING ? SLUICE_EXTRACT_TOO_COMPLEX :
		    SLUICE_EXTRACT_ERROR;
	}
	memset(&c, 0, sizeof(c));
	html_tagcache_init(&c.tags);
	c.o = o;
	c.budget = b;
	meta_opts_default(&mo);
	mo.max_nodes = o->max_nodes;
	merge_roots(doc, find_body(doc));
	if (meta_read(doc, url, &mo, &c.meta, err, errlen) == -1)
		goto out;
	if ((rc = main_text(&c, doc, &out->text)) != 0) {
		if (rc == -2)
			st = budget_status(b, err, errlen);
		else
			snprintf(err, errlen, "out of memory extracting text");
		goto out;
	}
	body_rescue(&c, &out->text);
	if (o->include_comments)
		out->comments = comment_text(find_body(doc), o->max_output);
	out->title = c.meta.title;
	out->author = c.meta.author;
	out->date = c.meta.date;
	out->sitename = c.meta.sitename;
	out->description = c.meta.description;
	out->language = c.meta.language;
	out->canonical_url = c.meta.canonical_url;
	c.meta.title = c.meta.author = c.meta.date = c.meta.sitename = NULL;
	c.meta.description = c.meta.language = c.meta.canonical_url = NULL;
	if (doc_take_more(out, &c.meta) == -1) {
		snprintf(err, errlen, "out of memory for the metadata");
		goto out;
	}
	st = out->text != NULL ? SLUICE_EXTRACT_OK : SLUICE_EXTRACT_EMPTY;
out:
	meta_free(&c.meta);
	free(c.en);
	free(c.bl);
	free(c.txt);
	if (region) {
		html_doc_drop(doc);
		arena_end();
	} else
		xmlFreeDoc(doc);
	return st;
}

static void
finish(struct sluice_extract_doc *out)
{
	out->word_count = sluice_extract_word_count(out->text);
	if (out->language == NULL && out->text != NULL) {
		const char *g = meta_guess_language(out->text,
		    strlen(out->text));
		out->language = dup_or_null(g);
	}
}

/* Site memory on the single-page text: the site named, or the host of
 * the canonical URL, else of the page's URL. */
static int
site_memory(const struct sluice_extract_opts *o, const char *url,
    struct sluice_extract_doc *out, char *err, size_t errlen)
{
	char *site = o->site != NULL ? strdup(o->site) : NULL;
	int rc;

	if (site == NULL && o->site == NULL)
		site = site_of_url(out->canonical_url);
	if (site == NULL && o->site == NULL)
		site = site_of_url(url);
	if (site == NULL)
		return 0;
	rc = site_apply(o->site_memory, site, &out->text, out);
	free(site);
	if (rc == -1)
		snprintf(err, errlen, "out of memory in site memory");
	return rc;
}

void
sluice_extract_budget_default(struct sluice_extract_budget *b)
{
	memset(b, 0, sizeof(*b));
	b->max_seconds = EXTRACT_DEFAULT_MAX_SECONDS;
	b->max_attributes = EXTRACT_DEFAULT_MAX_ATTRS;
	b->max_elements = EXTRACT_DEFAULT_MAX_ELEMENTS;
	b->max_depth = EXTRACT_DEFAULT_MAX_DEPTH;
	b->max_tag_work = EXTRACT_DEFAULT_MAX_TAG_WORK;
	b->min_elements = EXTRACT_DEFAULT_MIN_ELEMENTS;
	b->bytes_per_element = EXTRACT_DEFAULT_ELEMENT_BYTES;
}

enum sluice_extract_status
sluice_extract_page(const char *bytes, size_t len, const char *url,
    const char *content_type, const struct sluice_extract_opts *opts,
    struct sluice_extract_doc *out, char *err, size_t errlen)
{
	return sluice_extract_page_budget(bytes, len, url, content_type, opts,
	    NULL, NULL, out, err, errlen);
}

enum sluice_extract_status
sluice_extract_page_budget(const char *bytes, size_t len, const char *url,
    const char *content_type, const struct sluice_extract_opts *opts,
    const struct sluice_extract_budget *budget,
    struct sluice_extract_report *report, struct sluice_extract_doc *out,
    char *err, size_t errlen)
{
	struct sluice_extract_opts def;
	struct sluice_extract_budget bdef;
	struct html_budget hb;
	struct charset_opts co;
	struct charset_info ci;
	enum kind kind;
	enum sluice_extract_status st;
	char *utf8 = NULL;
	size_t ulen;

	memset(out, 0, sizeof(*out));
	if (report != NULL)
		memset(report, 0, sizeof(*report));
	if (opts == NULL) {
		sluice_extract_opts_default(&def);
		opts = &def;
	}
	if (budget == NULL) {
		sluice_extract_budget_default(&bdef);
		budget = &bdef;
	}
	memset(&hb, 0, sizeof(hb));
	hb.max_seconds = budget->max_seconds;
	hb.max_attrs = budget->max_attributes;
	hb.max_elements = budget->max_elements;
	/* Memory follows the page's size: a small page of tiny elements
	 * gets no more nodes than its size pays for. */
	if (budget->bytes_per_element > 0) {
		size_t n = budget->min_elements + len / budget->bytes_per_element;

		if (hb.max_elements == 0 || n < hb.max_elements)
			hb.max_elements = n;
		/* And the tree's bytes, counted by the page's region: room
		 * for the page's copies and the process within 16 times the
		 * page plus the base (EXTRACT_TREE_*). */
		hb.max_tree_bytes = len > (SIZE_MAX - EXTRACT_TREE_BASE) /
		    EXTRACT_TREE_PER_BYTE ? SIZE_MAX :
		    EXTRACT_TREE_PER_BYTE * len + EXTRACT_TREE_BASE;
	}
	hb.max_depth = budget->max_depth == 0 ||
	    budget->max_depth > EXTRACT_DEPTH_LIMIT ? EXTRACT_DEPTH_LIMIT :
	    budget->max_depth;
	hb.max_tag_work = budget->max_tag_work;
	hb.interrupt = budget->interrupt;
	hb.interrupt_arg = budget->interrupt_arg;
	html_budget_start(&hb);
	if (bytes == NULL) {
		/* An empty body may come as NULL from a buffer never grown. */
		bytes = "";
		len = 0;
	}
	if (len > opts->max_input) {
		snprintf(err, errlen, "input of %zu bytes over the %zu limit",
		    len, opts->max_input);
		return SLUICE_EXTRACT_TOO_LARGE;
	}
	kind = classify(content_type, bytes, len);
	if (kind == KIND_UNSUPPORTED) {
		if (content_type != NULL && content_type[strspn(content_type,
		    " \t")] != '\0' && labelled_text_is_binary(content_type,
		    bytes, len))
			snprintf(err, errlen, "binary body (NUL bytes or a "
			    "binary format) labelled %s", content_type);
		else
			snprintf(err, errlen, "unsupported content type %s",
			    content_type != NULL ? content_type :
			    "(sniffed binary)");
		return SLUICE_EXTRACT_UNSUPPORTED;
	}
	charset_opts_default(&co);
	co.prescan_bytes = opts->charset_prescan;
	co.html = kind == KIND_HTML;
	co.max_output = opts->max_input * 3 + 16;
	if (charset_decode(bytes, len, content_type, &co, &utf8, &ulen, &ci,
	    err, errlen) == -1)
		return SLUICE_EXTRACT_ERROR;
	out->charset = strdup(ci.name);
	if (kind == KIND_TEXT) {
		out->text = plain_text(utf8, ulen);
		st = out->text == NULL ? SLUICE_EXTRACT_ERROR :
		    out->text[0] == '\0' ? SLUICE_EXTRACT_EMPTY :
		    SLUICE_EXTRACT_OK;
		if (st == SLUICE_EXTRACT_ERROR)
			snprintf(err, errlen, "out of memory");
	} else {
		(void)html_fix_scripts(utf8, ulen);
		st = extract_html_page(utf8, ulen, url, opts, &hb, out, err,
		    errlen);
	}
	free(utf8);
	if (st == SLUICE_EXTRACT_OK && opts->site_memory != NULL &&
	    site_memory(opts, url, out, err, errlen) == -1)
		st = SLUICE_EXTRACT_ERROR;
	if (st == SLUICE_EXTRACT_OK || st == SLUICE_EXTRACT_EMPTY)
		finish(out);
	if (report != NULL) {
		report->cpu_seconds = html_budget_used(&hb);
		report->elements = hb.elements;
		report->attributes = hb.attributes;
		report->max_attributes = hb.attrs;
		report->flattened = hb.flattened;
		report->truncated = hb.truncated;
	}
	return st;
}
