/*
 * html.h - libxml2's HTML parser behind a small wrapper, and the DOM helpers
 * the cleaner shares: element names mapped to an enum once, attribute
 * lookup, class/id tokenising.
 *
 * THREADS: libxml2 keeps global tables that xmlInitParser() sets up.  The
 * program must call it (or sluice_extract_init(), which does, see
 * arena.h) once, from the main thread, before any thread calls
 * html_parse() (or sluice_extract_page()); after that every function here
 * is reentrant.  html_parse() never touches the network
 * (HTML_PARSE_NONET) and never prints (errors are discarded).
 */
#ifndef SLUICE_HTML_H
#define SLUICE_HTML_H

#ifndef ARRAY_LEN
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

/* Elements the cleaner tells apart; everything else is HTML_OTHER. */
enum html_tag {
	HTML_OTHER = 0,
	HTML_A, HTML_ABBR, HTML_ADDRESS, HTML_APPLET, HTML_AREA, HTML_ARTICLE,
	HTML_ASIDE, HTML_AUDIO, HTML_B, HTML_BASE, HTML_BDI, HTML_BIG,
	HTML_BLOCKQUOTE, HTML_BODY, HTML_BR, HTML_BUTTON, HTML_CANVAS,
	HTML_CAPTION, HTML_CENTER, HTML_CITE, HTML_CODE, HTML_COL,
	HTML_COLGROUP, HTML_DATALIST, HTML_DD, HTML_DEL, HTML_DETAILS,
	HTML_DFN, HTML_DIALOG, HTML_DIR, HTML_DIV, HTML_DL, HTML_DT, HTML_EM,
	HTML_EMBED, HTML_FIELDSET, HTML_FIGCAPTION, HTML_FIGURE, HTML_FONT,
	HTML_FOOTER, HTML_FORM, HTML_FRAME, HTML_FRAMESET, HTML_H1, HTML_H2,
	HTML_H3, HTML_H4, HTML_H5, HTML_H6, HTML_HEAD, HTML_HEADER,
	HTML_HGROUP, HTML_HR, HTML_HTML, HTML_I, HTML_IFRAME, HTML_IMG,
	HTML_INPUT, HTML_INS, HTML_KBD, HTML_LABEL, HTML_LEGEND, HTML_LI,
	HTML_LINK, HTML_MAIN, HTML_MAP, HTML_MARK, HTML_MARQUEE, HTML_MATH,
	HTML_MENU, HTML_META, HTML_METER, HTML_NAV, HTML_NOSCRIPT,
	HTML_OBJECT, HTML_OL, HTML_OPTGROUP, HTML_OPTION, HTML_OUTPUT,
	HTML_P, HTML_PARAM, HTML_PICTURE, HTML_PRE, HTML_PROGRESS, HTML_Q,
	HTML_RP, HTML_RT, HTML_RUBY, HTML_S, HTML_SAMP, HTML_SCRIPT,
	HTML_SEARCH, HTML_SECTION, HTML_SELECT, HTML_SMALL, HTML_SOURCE,
	HTML_SPAN, HTML_STRIKE, HTML_STRONG, HTML_STYLE, HTML_SUB,
	HTML_SUMMARY, HTML_SUP, HTML_SVG, HTML_TABLE, HTML_TBODY, HTML_TD,
	HTML_TEMPLATE, HTML_TEXTAREA, HTML_TFOOT, HTML_TH, HTML_THEAD,
	HTML_TIME, HTML_TITLE, HTML_TR, HTML_TRACK, HTML_TT, HTML_U, HTML_UL,
	HTML_VAR, HTML_VIDEO, HTML_WBR,
	HTML_TAG_COUNT
};

/* Properties of a tag (bit set returned by html_tag_flags()). */
#define HTML_F_BLOCK	0x01u	/* starts a new line of text */
#define HTML_F_SKIP	0x02u	/* never holds readable text (script...) */
#define HTML_F_HEADING	0x04u	/* h1-h6 */
#define HTML_F_CONTROL	0x08u	/* form control: input, button, select... */
#define HTML_F_EMBED	0x10u	/* iframe, embed, object, video, audio */
#define HTML_F_PARA	0x20u	/* a text block on its own: p, pre, li,
				   td, dd, blockquote... */

/*
 * A page's budget while it is parsed and walked (html_budget_*): a
 * thread-CPU-time deadline, an interrupt callback, and the structural
 * limits html_parse() holds libxml2 to.  Polling reads the clock every
 * HTML_BUDGET_TICKS steps (a node walked, a text run or an element
 * parsed, whose attributes add a step each four): reading the thread's
 * CPU clock is a system call.  That is some milliseconds of work apart at
 * most.
 */
#define HTML_BUDGET_TICKS	256

enum html_stop {
	HTML_GOING = 0,
	HTML_STOP_TIME,		/* over max_seconds */
	HTML_STOP_CANCEL,	/* the interrupt callback said so */
	HTML_STOP_ATTRS,	/* a tag over max_attrs, or tags over
				   max_tag_work (prescan) */
};

struct html_budget {
	/* limits, set by the caller (0: none) */
	double		 max_seconds;
	size_t		 max_attrs;
	size_t		 max_elements;
	size_t		 max_depth;
	size_t		 max_tag_work;	/* end-tag matching per input byte */
	size_t		 max_tree_bytes; /* the page's region (arena.h) */
	int		(*interrupt)(void *arg);
	void		*interrupt_arg;
	/* state */
	uint64_t	 start_ns, deadline_ns;	/* thread CPU clock */
	unsigned	 ticks;
	enum html_stop	 stop;
	size_t		 deep;		/* flattened elements still open */
	/* what was seen */
	size_t		 elements, attributes;	/* parsed */
	size_t		 attrs;		/* most in one tag (prescan) */
	size_t		 end_work;	/* end-tag matching (prescan) */
	size_t		 flattened;
	bool		 truncated;
};

/* Lets go of what a tree parsed in a region (arena.h) holds outside it,
 * the dictionary and its lock, without walking the tree: the region's end
 * takes the rest.  Instead of xmlFreeDoc(), in a region only. */
void html_doc_drop(xmlDoc *doc);

/* Starts the clock of b (limits already set). */
void html_budget_start(struct html_budget *b);
/* Polls b: true when the work must stop (b->stop says why).  Reads the
 * clock every HTML_BUDGET_TICKS calls, or at once when force is set. */
bool html_budget_over(struct html_budget *b, bool force);
/* CPU seconds since html_budget_start(). */
double html_budget_used(const struct html_budget *b);

/* What the prescan found. */
struct html_prescan {
	size_t	attrs;		/* most attributes in one start tag */
	size_t	end_work;	/* bound of libxml2's end-tag matching */
};

/*
 * The cheap pass before parsing: the most attributes in one start tag,
 * and the work libxml2 will spend matching end tags against its stack of
 * open elements (SIZE_MAX: out of memory, cannot tell).  It stops as
 * soon as a tag has more than max_attrs attributes or the work passes
 * max_work (0: no limit).  Script and style contents and comments are
 * skipped, as the parser does.
 */
void html_prescan(const char *s, size_t len, size_t max_attrs,
    size_t max_work, struct html_prescan *ps);

struct html_opts {
	/* Extra HTML_PARSE_* options or'ed to the fixed set (default 0). */
	int	extra_options;
	/* The page's budget (NULL: none): html_parse() refuses a tag over
	 * max_attrs, stops at max_elements (truncated) or when the budget
	 * is over (NULL with b->stop set), and flattens elements deeper
	 * than max_depth. */
	struct html_budget *budget;
};

/*
 * Parses UTF-8 text (len bytes, need not be NUL-terminated) with
 * HTML_PARSE_RECOVER|NOERROR|NOWARNING|NONET|COMPACT|NODEFDTD|IGNORE_ENC,
 * i.e. the encoding is fixed to UTF-8 whatever the document declares.
 * Returns a document the caller frees with xmlFreeDoc(), or NULL with err
 * set (out of memory, nothing parseable, or o->budget over: its stop
 * field says why).
 */
htmlDocPtr html_parse(const char *utf8, size_t len, const struct html_opts *o,
    char *err, size_t errlen);

/*
 * Makes libxml2 end each <script> where an HTML5 parser does.  libxml2
 * 2.9 ends a script at its first "</script", but HTML5 does not inside
 * the "escaped" states: after "<!--" a "<script" starts a double-escaped
 * run whose "</script>" is text of the script (old pages write
 * document.write('<script src=..></script>') inside <!-- -->).  Such
 * inner "</script" are rewritten in place to "<_script" (same length;
 * the script is never output), as is any "</script" not followed by a
 * delimiter.  HTML comments outside scripts are skipped.  Returns the
 * number of rewrites.
 */
size_t html_fix_scripts(char *s, size_t len);

/* Maps an element to its tag; HTML_OTHER for non-elements and unknowns. */
enum html_tag html_tag_of(const xmlNode *n);
/* Maps a lower-case element name; HTML_OTHER if unknown. */
enum html_tag html_tag_lookup(const char *name);
/*
 * A per-document cache from element name to tag: libxml2 interns names in
 * the document's dictionary, so one pointer comparison replaces the
 * lookup.  Never share one between documents (freed names' addresses are
 * reused).  Zero it (html_tagcache_init) before the first use.
 */
#define HTML_TAGCACHE_SIZE 128
struct html_tagcache {
	const xmlChar	*name[HTML_TAGCACHE_SIZE];
	uint8_t		 tag[HTML_TAGCACHE_SIZE];
};
void html_tagcache_init(struct html_tagcache *tc);
/* As html_tag_of(), through the cache. */
enum html_tag html_tag_cached(struct html_tagcache *tc, const xmlNode *n);

/* HTML_F_* bits of a tag. */
unsigned html_tag_flags(enum html_tag t);

/*
 * The value of attribute name (lower case) of element n, borrowed from the
 * tree (valid until the document is freed), or NULL if absent.  An
 * attribute without a value gives "".
 */
const char *html_attr(const xmlNode *n, const char *name);

/* True if s holds word w (ASCII case-insensitive) delimited by
 * non-alphanumerics, e.g. html_has_word("nav-main", "nav"). */
bool html_has_word(const char *s, const char *w);

/*
 * Categories of class and id words (html_class_bits()).  The vocabulary
 * is Readability's (unlikely / ok-maybe / negative / positive), plus the
 * boxes the cleaner removes inside an article.
 */
#define HTML_K_UNLIKELY	0x0001u	/* unlikely to hold content */
#define HTML_K_MAYBE	0x0002u	/* ...unless also one of these */
#define HTML_K_NEG	0x0004u	/* class weight -25 */
#define HTML_K_POS	0x0008u	/* class weight +25 */
#define HTML_K_SHARE	0x0010u	/* share/social bars */
#define HTML_K_BYLINE	0x0020u	/* bylines, datelines */
#define HTML_K_BOX	0x0040u	/* newsletter, related, donate boxes */
#define HTML_K_CAPTION	0x0200u	/* image captions, credits */
#define HTML_K_COOKIE	0x0400u	/* consent banners */
#define HTML_K_CKWORD	0x0800u	/* "cookie", "privacy": a banner next to */
#define HTML_K_CKPAIR	0x1000u	/* banner, notice, bar... in one class */
#define HTML_K_LEAD	0x2000u	/* lead, dek, standfirst, subtitle... */
#define HTML_K_HEADER	0x4000u	/* "header": unlikely, but for a story's own */

/*
 * HTML_K_* bits of a class or id value: split into class words on
 * whitespace, each word into lower-case tokens on other non-alphanumerics
 * and camelCase humps ("postContent" -> post, content).  Words that are
 * script hooks or feature flags ("js-share", "hasComments") are ignored.
 */
uint32_t html_class_bits(const char *value);

/*
 * Lower-case ASCII letters and digits of s[0..len), non-ASCII bytes kept,
 * the rest dropped, into out (NUL-terminated, at most outlen - 1 bytes):
 * a key to compare titles and headings.  Returns the key's length.
 */
size_t html_fold(const char *s, size_t len, char *out, size_t outlen);

/*
 * The node after cur in a preorder walk of root's subtree, not entering
 * cur's children when descend is false; NULL when the walk is over.
 * Iterative: safe at any depth.
 */
xmlNode *html_next(xmlNode *cur, const xmlNode *root, bool descend);

/* The text of a text/CDATA node, or NULL. */
const char *html_text(const xmlNode *n);

/*
 * The text under n (skipping script, style and other HTML_F_SKIP
 * elements), with whitespace runs (NBSP included) collapsed to one space
 * and trimmed, at most max bytes (cut at a character boundary).  Returns a
 * malloc'd string the caller frees, or NULL if out of memory.  Iterative:
 * safe on any depth.
 */
char *html_node_text(const xmlNode *n, size_t max)
    __attribute__((warn_unused_result));

/* Whitespace state carried across html_collapse() calls. */
#define HTML_WS_START	0	/* nothing written: leading space dropped */
#define HTML_WS_WORD	1	/* last byte written was not a space */
#define HTML_WS_PENDING	2	/* a space is owed before the next byte */

/*
 * Appends s[0..len) to out (room for max bytes) with whitespace runs (NBSP
 * included) collapsed to one space; *state carries the HTML_WS_* state
 * across calls so runs spanning nodes collapse too.  A trailing space stays
 * pending, never written.  Returns the bytes written; stops at max (maybe
 * inside a character: see html_utf8_trim()).
 */
size_t html_collapse(char *out, size_t max, const char *s, size_t len,
    int *state);

/* Length of s[0..len) without a trailing incomplete UTF-8 sequence. */
size_t html_utf8_trim(const char *s, size_t len);

#endif
