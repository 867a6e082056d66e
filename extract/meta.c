/*
 * meta.c - page metadata: one walk over the document collects candidates
 * from JSON-LD, <meta>, <link>, microdata and a few DOM heuristics; each
 * field keeps the candidate from the strongest source (lowest rank).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include <libxml/HTMLparser.h>

#include "html.h"
#include "meta.h"

#define META_DEFAULT_MAX_FIELD	2048
#define META_DEFAULT_MAX_JSONLD	((size_t)1024 * 1024)
#define META_DEFAULT_MAX_NODES	200000
/* Nesting of JSON-LD objects followed (@graph, author, publisher...). */
#define JSONLD_MAX_DEPTH	6
#define BODY_MAX		((size_t)4 * 1024 * 1024)

enum field {
	F_TITLE, F_AUTHOR, F_DATE, F_SITENAME, F_DESCRIPTION, F_LANGUAGE,
	F_CANONICAL, F_BODY, F_JTITLE, F_DATE_RAW, F_IMAGE, F_PAGETYPE,
	F_LICENSE, F_COUNT
};

/* Lists: every value found, in page order, deduplicated and bounded. */
enum list { L_AUTHORS, L_CATEGORIES, L_TAGS, L_COUNT };
#define LIST_MAX_ITEMS	32
#define LIST_MAX_BYTES	256	/* per item */

/* Source ranks: lower wins.  Gaps leave room for tuning. */
enum rank {
	R_JSONLD = 10, R_OG = 20, R_META = 30, R_MICRODATA = 40,
	R_JSONLD_WEAK = 50, R_DOM = 60, R_GUESS = 80, R_NONE = 1000
};

struct slot {
	char	*val;
	int	 rank;
};

struct strlist {
	char	**v;
	size_t	  n;
};

struct collect {
	struct html_tagcache	 tags;
	const struct meta_opts	*o;
	const char		*url;
	struct slot		 s[F_COUNT];
	struct strlist		 l[L_COUNT];
	int			 authors_rank;	/* of the authors list */
	char			*title_raw;
	char			*h1;
	unsigned		 h1_count;
	bool			 oom;
};

void
meta_opts_default(struct meta_opts *o)
{
	o->max_field = META_DEFAULT_MAX_FIELD;
	o->max_jsonld = META_DEFAULT_MAX_JSONLD;
	o->max_nodes = META_DEFAULT_MAX_NODES;
}

static void
strlist_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
meta_free(struct meta *m)
{
	strlist_free(m->authors, m->nauthors);
	strlist_free(m->categories, m->ncategories);
	strlist_free(m->tags, m->ntags);
	free(m->date_raw);
	free(m->image);
	free(m->pagetype);
	free(m->license);
	free(m->title);
	free(m->author);
	free(m->date);
	free(m->sitename);
	free(m->description);
	free(m->language);
	free(m->canonical_url);
	free(m->article_body);
	free(m->title_raw);
	free(m->h1);
	memset(m, 0, sizeof(*m));
}

/* Encodes code point cp as UTF-8 into out (room for 4); returns bytes. */
static size_t
put_utf8(unsigned long cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* One entity at s ("&amp;", "&#8217;", "&#x2019;"): its code point and
 * length, or 0 if s does not start a known entity. */
static size_t
entity_at(const char *s, unsigned long *cp)
{
	char name[16];
	const htmlEntityDesc *d;
	char *end;
	size_t n;

	if (s[1] == '#') {
		if (s[2] == 'x' || s[2] == 'X')
			*cp = strtoul(s + 3, &end, 16);
		else
			*cp = strtoul(s + 2, &end, 10);
		if (*end != ';' || end == s + 2 || *cp == 0 ||
		    *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
			return 0;
		return (size_t)(end - s) + 1;
	}
	for (n = 1; n < sizeof(name) && isalnum((unsigned char)s[n]); n++)
		name[n - 1] = s[n];
	if (s[n] != ';' || n == 1 || n >= sizeof(name))
		return 0;
	name[n - 1] = '\0';
	d = htmlEntityLookup((const xmlChar *)name);
	if (d == NULL)
		return 0;
	*cp = d->value;
	return n + 1;
}

/*
 * Decodes character references left in attribute values and JSON-LD
 * (pages often escape twice: "&amp;#8217;").  In place: the UTF-8 form of
 * a reference is never longer than the reference.
 */
static void
decode_entities(char *s)
{
	char *r = s, *w = s;
	unsigned long cp;
	size_t k;

	while (*r != '\0') {
		k = *r == '&' ? entity_at(r, &cp) : 0;
		if (k == 0) {
			*w++ = *r++;
			continue;
		}
		w += put_utf8(cp == 0xA0 ? ' ' : cp, w);
		r += k;
	}
	*w = '\0';
}

/* Whitespace-collapsed, trimmed copy of s, at most max bytes. */
static char *
clean_copy(const char *s, size_t max)
{
	size_t len = strlen(s), o;
	int state = HTML_WS_START;
	char *out;

	if (len < max)
		max = len;
	out = malloc(max + 1);
	if (out == NULL)
		return NULL;
	o = html_collapse(out, max, s, len, &state);
	o = html_utf8_trim(out, o);
	out[o] = '\0';
	return out;
}

/* "By Jane Doe" -> "Jane Doe"; empty list entries (", X") dropped. */
static void
author_clean(char *v)
{
	static const char *const BY[] = { "by ", "by: ", "von ", "par ",
	    "por ", NULL };
	size_t i, l;
	char *p;

	for (i = 0; BY[i] != NULL; i++) {
		l = strlen(BY[i]);
		if (strncasecmp(v, BY[i], l) == 0) {
			memmove(v, v + l, strlen(v + l) + 1);
			break;
		}
	}
	while (strncmp(v, ", ", 2) == 0 || v[0] == ',' || v[0] == ' ')
		memmove(v, v + 1, strlen(v));
	for (p = strstr(v, ", ,"); p != NULL; p = strstr(v, ", ,"))
		memmove(p, p + 2, strlen(p + 2) + 1);
	l = strlen(v);
	while (l > 0 && (v[l - 1] == ',' || v[l - 1] == ' '))
		v[--l] = '\0';
}

/* Offers a value for a field; kept if its rank beats the current one. */
static void
offer(struct collect *c, enum field f, const char *val, int rank)
{
	char *v;

	if (val == NULL || rank >= c->s[f].rank)
		return;
	/* articleBody keeps its line breaks: they are its paragraphs. */
	v = f == F_BODY ? strndup(val, html_utf8_trim(val, strnlen(val,
	    BODY_MAX))) : clean_copy(val, c->o->max_field);
	if (v == NULL) {
		c->oom = true;
		return;
	}
	if (f != F_CANONICAL && strchr(v, '&') != NULL)
		decode_entities(v);
	if (f == F_AUTHOR)
		author_clean(v);
	if (v[0] == '\0') {
		free(v);
		return;
	}
	free(c->s[f].val);
	c->s[f].val = v;
	c->s[f].rank = rank;
}

static void offer_canonical(struct collect *c, const char *href, int rank);
static char *meta_url_host(const char *url);
static const char *site_part(const char *host);

/* True if s looks like a URL rather than a name (article:author often is). */
static bool
is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 ||
	    strncmp(s, "//", 2) == 0;
}

static void
offer_date(struct collect *c, const char *val, int rank)
{
	char iso[64];

	if (val == NULL || rank >= c->s[F_DATE].rank)
		return;
	if (meta_date_normalize(val, iso, sizeof(iso)) == 0) {
		offer(c, F_DATE, iso, rank);
		offer(c, F_DATE_RAW, val, rank);
	}
}

/* Adds one cleaned value to list l unless it is there already. */
static void
list_add(struct collect *c, enum list l, const char *val)
{
	struct strlist *s = &c->l[l];
	char *v, **nv;

	if (val == NULL || s->n >= LIST_MAX_ITEMS)
		return;
	v = clean_copy(val, LIST_MAX_BYTES);
	if (v == NULL) {
		c->oom = true;
		return;
	}
	if (strchr(v, '&') != NULL)
		decode_entities(v);
	for (size_t i = 0; i < s->n && v[0] != '\0'; i++)
		if (strcasecmp(s->v[i], v) == 0)
			v[0] = '\0';
	if (v[0] == '\0') {
		free(v);
		return;
	}
	nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(v);
		c->oom = true;
		return;
	}
	s->v = nv;
	s->v[s->n++] = v;
}

/* Adds each item of a comma-separated list ("keywords"). */
static void
list_add_split(struct collect *c, enum list l, const char *val)
{
	char item[LIST_MAX_BYTES];
	const char *p = val, *e;

	while (p != NULL && *p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		snprintf(item, sizeof(item), "%.*s", (int)(e - p), p);
		list_add(c, l, item);
		p = *e == ',' ? e + 1 : NULL;
	}
}

/* A JSON-LD value that may be a string, an array of strings, or (with
 * split) one comma-separated string. */
static void
list_add_json(struct collect *c, enum list l, json_t *v, bool split)
{
	size_t i;

	if (json_is_string(v)) {
		if (split)
			list_add_split(c, l, json_string_value(v));
		else
			list_add(c, l, json_string_value(v));
	} else if (json_is_array(v))
		for (i = 0; i < json_array_size(v) && i < LIST_MAX_ITEMS; i++)
			if (json_is_string(json_array_get(v, i)))
				list_add(c, l, json_string_value(
				    json_array_get(v, i)));
}

/* Replaces the authors list with the names the winning author offer
 * came from, when that offer beat the list's source. */
static void
authors_set(struct collect *c, char names[][256], size_t n, int rank)
{
	if (rank >= c->authors_rank)
		return;
	strlist_free(c->l[L_AUTHORS].v, c->l[L_AUTHORS].n);
	c->l[L_AUTHORS].v = NULL;
	c->l[L_AUTHORS].n = 0;
	c->authors_rank = rank;
	for (size_t i = 0; i < n; i++)
		list_add(c, L_AUTHORS, names[i]);
}

/* The list of one author, offered with rank for the author field. */
static void
authors_one(struct collect *c, const char *val, int rank)
{
	char one[1][256];

	if (rank >= c->s[F_AUTHOR].rank)
		return;
	snprintf(one[0], sizeof(one[0]), "%s", val);
	authors_set(c, one, 1, rank);
}

static void offer_url(struct collect *c, enum field f, const char *href,
    int rank);

/* ---- JSON-LD ------------------------------------------------------- */

static bool
type_is(json_t *obj, const char *const *names)
{
	json_t *t = json_object_get(obj, "@type"), *v;
	size_t i, k;
	const char *s;

	for (i = 0; t != NULL; i++) {
		if (json_is_string(t))
			v = i == 0 ? t : NULL;
		else
			v = json_array_get(t, i);
		if (v == NULL)
			return false;
		s = json_string_value(v);
		for (k = 0; s != NULL && names[k] != NULL; k++) {
			if (strcasecmp(s, names[k]) == 0)
				return true;
		}
	}
	return false;
}

static const char *const ARTICLE_TYPES[] = {
	"Article", "NewsArticle", "BlogPosting", "ReportageNewsArticle",
	"AnalysisNewsArticle", "OpinionNewsArticle", "ReviewNewsArticle",
	"BackgroundNewsArticle", "ScholarlyArticle", "TechArticle", "Report",
	"LiveBlogPosting", "SocialMediaPosting", "DiscussionForumPosting",
	"Review", "Recipe", "HowTo", "AdvertiserContentArticle",
	"SatiricalArticle", "MedicalScholarlyArticle", "Posting", NULL
};
static const char *const PAGE_TYPES[] = {
	"WebPage", "ItemPage", "AboutPage", "CollectionPage", "QAPage",
	"FAQPage", "ProfilePage", NULL
};
static const char *const ORG_TYPES[] = {
	"Organization", "NewsMediaOrganization", "Corporation",
	"EducationalOrganization", "GovernmentOrganization", NULL
};

static const char *
jstr(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_array(v))
		v = json_array_get(v, 0);
	if (json_is_object(v))
		v = json_object_get(v, "name");
	return json_string_value(v);
}

/* One author entry: "Name", {name}, {givenName, familyName}. */
static int
author_name(json_t *a, char *out, size_t outlen)
{
	const char *n, *g, *f;

	if (json_is_string(a)) {
		n = json_string_value(a);
		if (is_url(n))
			return -1;
		snprintf(out, outlen, "%s", n);
		return 0;
	}
	if (!json_is_object(a))
		return -1;
	n = json_string_value(json_object_get(a, "name"));
	while (n != NULL && (*n == ' ' || *n == '\t' || *n == '\n'))
		n++;
	if (n != NULL && n[0] != '\0' && !is_url(n)) {
		snprintf(out, outlen, "%s", n);
		return 0;
	}
	g = json_string_value(json_object_get(a, "givenName"));
	f = json_string_value(json_object_get(a, "familyName"));
	if (g == NULL || f == NULL)
		return -1;
	snprintf(out, outlen, "%s %s", g, f);
	return 0;
}

/* Authors joined with ", ", Person entries only unless none is a Person. */
static void
jsonld_author(struct collect *c, json_t *a, int rank)
{
	char names[1024], one[256], each[16][256];
	size_t i, n = json_is_array(a) ? json_array_size(a) : 1, k = 0;
	json_t *e;

	names[0] = '\0';
	for (i = 0; i < n && i < 16; i++) {
		e = json_is_array(a) ? json_array_get(a, i) : a;
		if (author_name(e, one, sizeof(one)) == -1)
			continue;
		if (strstr(names, one) != NULL)
			continue;
		if (names[0] != '\0')
			strncat(names, ", ", sizeof(names) - strlen(names) - 1);
		strncat(names, one, sizeof(names) - strlen(names) - 1);
		snprintf(each[k++], sizeof(each[0]), "%s", one);
	}
	if (names[0] == '\0')
		return;
	/* An Organization as author is usually the publisher again. */
	if (json_is_object(a) && type_is(a, ORG_TYPES))
		rank += 5;
	if (rank < c->s[F_AUTHOR].rank)
		authors_set(c, each, k, rank);
	offer(c, F_AUTHOR, names, rank);
}

/* A JSON-LD image: "URL", {url}, or a list of either (the first). */
static void
jsonld_image(struct collect *c, json_t *img, int rank)
{
	if (json_is_array(img))
		img = json_array_get(img, 0);
	if (json_is_object(img))
		img = json_object_get(img, "url");
	offer_url(c, F_IMAGE, json_string_value(img), rank);
}

static void
jsonld_article(struct collect *c, json_t *o, int rank)
{
	json_t *pub;

	offer(c, F_JTITLE, jstr(o, "headline"), rank);
	offer(c, F_JTITLE, jstr(o, "name"), rank + 1);
	if (json_object_get(o, "author") != NULL)
		jsonld_author(c, json_object_get(o, "author"), rank);
	offer_date(c, jstr(o, "datePublished"), rank);
	offer_date(c, jstr(o, "dateCreated"), rank + 20);
	offer_date(c, jstr(o, "uploadDate"), rank + 20);
	offer_date(c, jstr(o, "dateModified"), rank + 40);
	offer(c, F_DESCRIPTION, jstr(o, "description"), rank + 15);
	offer(c, F_LANGUAGE, jstr(o, "inLanguage"), rank + 30);
	pub = json_object_get(o, "publisher");
	if (json_is_array(pub))
		pub = json_array_get(pub, 0);
	if (json_is_object(pub))
		offer(c, F_SITENAME, jstr(pub, "name"), rank + 5);
	jsonld_image(c, json_object_get(o, "image"), rank);
	list_add_json(c, L_CATEGORIES, json_object_get(o, "articleSection"),
	    false);
	list_add_json(c, L_TAGS, json_object_get(o, "keywords"), true);
	if (json_is_string(json_object_get(o, "license")))
		offer_url(c, F_LICENSE, json_string_value(json_object_get(o,
		    "license")), rank);
	offer(c, F_BODY, json_string_value(json_object_get(o, "articleBody")),
	    rank);
	offer(c, F_BODY, json_string_value(json_object_get(o, "text")),
	    rank + 1);
}

static void jsonld_node(struct collect *c, json_t *j, int depth);

static void
jsonld_object(struct collect *c, json_t *o, int depth)
{
	json_t *g = json_object_get(o, "@graph"), *me;

	if (g != NULL)
		jsonld_node(c, g, depth + 1);
	if (type_is(o, ARTICLE_TYPES))
		jsonld_article(c, o, R_JSONLD);
	else if (type_is(o, PAGE_TYPES)) {
		jsonld_article(c, o, R_JSONLD_WEAK);
		/* A WebPage may hold the article as mainEntity. */
		me = json_object_get(o, "mainEntity");
		if (me != NULL)
			jsonld_node(c, me, depth + 1);
	} else if (type_is(o, ORG_TYPES))
		offer(c, F_SITENAME, jstr(o, "name"), R_JSONLD_WEAK + 10);
	else if (type_is(o, (const char *const[]){ "WebSite", NULL }))
		offer(c, F_SITENAME, jstr(o, "name"), R_JSONLD_WEAK + 5);
}

static void
jsonld_node(struct collect *c, json_t *j, int depth)
{
	size_t i;

	if (depth > JSONLD_MAX_DEPTH)
		return;
	if (json_is_array(j)) {
		for (i = 0; i < json_array_size(j) && i < 64; i++)
			jsonld_node(c, json_array_get(j, i), depth + 1);
	} else if (json_is_object(j))
		jsonld_object(c, j, depth);
}

/*
 * Real pages embed JSON-LD with raw newlines inside strings, HTML comment
 * or CDATA wrappers: clean those before handing it to jansson.
 */
static void
jsonld_script(struct collect *c, const char *text)
{
	size_t len = strlen(text), i;
	char *buf, *p, *end;
	json_t *j;
	json_error_t je;

	if (len == 0 || len > c->o->max_jsonld)
		return;
	buf = malloc(len + 1);
	if (buf == NULL) {
		c->oom = true;
		return;
	}
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)text[i] < 0x20 ? ' ' : text[i];
	buf[len] = '\0';
	p = buf;
	end = buf + len;
	while (p < end && *p != '{' && *p != '[')
		p++;
	while (end > p && end[-1] != '}' && end[-1] != ']')
		end--;
	if (end > p) {
		j = json_loadb(p, (size_t)(end - p), JSON_DECODE_ANY, &je);
		if (j != NULL) {
			jsonld_node(c, j, 0);
			json_decref(j);
		}
	}
	free(buf);
}

/* ---- <meta>, <link>, microdata ------------------------------------- */

struct meta_map {
	const char	*key;		/* name or property, lower case */
	enum field	 f;
	int		 rank;
};

static const struct meta_map META_KEYS[] = {
	{ "og:title", F_TITLE, R_OG },
	{ "dc.title", F_TITLE, R_OG - 1 },
	{ "dcterms.title", F_TITLE, R_OG - 1 },
	{ "twitter:title", F_TITLE, R_META },
	{ "parsely-title", F_TITLE, R_META + 1 },
	{ "sailthru.title", F_TITLE, R_META + 2 },
	{ "headline", F_TITLE, R_META + 3 },
	{ "author", F_AUTHOR, R_OG },
	{ "dc.creator", F_AUTHOR, R_OG + 1 },
	{ "dcterms.creator", F_AUTHOR, R_OG + 1 },
	{ "parsely-author", F_AUTHOR, R_OG + 2 },
	{ "sailthru.author", F_AUTHOR, R_OG + 3 },
	{ "article:author", F_AUTHOR, R_OG + 4 },
	{ "og:article:author", F_AUTHOR, R_OG + 4 },
	{ "citation_author", F_AUTHOR, R_OG + 5 },
	{ "byl", F_AUTHOR, R_META },
	{ "twitter:creator", F_AUTHOR, R_META + 20 },
	{ "og:site_name", F_SITENAME, R_OG },
	{ "application-name", F_SITENAME, R_META + 30 },
	{ "og:description", F_DESCRIPTION, R_OG },
	{ "description", F_DESCRIPTION, R_OG + 1 },
	{ "dc.description", F_DESCRIPTION, R_OG + 2 },
	{ "twitter:description", F_DESCRIPTION, R_META },
	{ "og:locale", F_LANGUAGE, R_META + 5 },
	{ "language", F_LANGUAGE, R_META + 2 },
	{ "dc.language", F_LANGUAGE, R_META + 1 },
	{ "content-language", F_LANGUAGE, R_META },
	{ "og:url", F_CANONICAL, R_OG },
};

/* Date-bearing names, rank in order. */
static const char *const DATE_KEYS[] = {
	"article:published_time", "og:article:published_time",
	"og:published_time", "published_time", "datepublished",
	"article.published", "publishdate", "publish-date", "publish_date",
	"pubdate", "dc.date.issued", "dcterms.issued", "dc.date",
	"dcterms.date", "dcterms.created", "parsely-pub-date",
	"sailthru.date", "citation_publication_date", "citation_date",
	"date", "article_date_original", "original-publish-date",
	"datecreated", "article:modified_time", "og:updated_time",
	"datemodified", "last-modified", NULL
};

/* The <meta> keys of the fields beyond the first version's. */
static const struct meta_more {
	const char	*key;
	enum { MORE_VALUE, MORE_URL, MORE_LIST, MORE_SPLIT } how;
	enum field	 f;
	enum list	 list;
	int		 rank;
} META_MORE[] = {
	{ "article:section", MORE_LIST, 0, L_CATEGORIES, 0 },
	{ "article:tag", MORE_LIST, 0, L_TAGS, 0 },
	{ "keywords", MORE_SPLIT, 0, L_TAGS, 0 },
	{ "news_keywords", MORE_SPLIT, 0, L_TAGS, 0 },
	{ "og:image", MORE_URL, F_IMAGE, 0, R_OG },
	{ "og:image:url", MORE_URL, F_IMAGE, 0, R_OG },
	{ "og:image:secure_url", MORE_URL, F_IMAGE, 0, R_OG },
	{ "twitter:image", MORE_URL, F_IMAGE, 0, R_META },
	{ "twitter:image:src", MORE_URL, F_IMAGE, 0, R_META },
	{ "og:type", MORE_VALUE, F_PAGETYPE, 0, R_OG },
	{ "dcterms.license", MORE_VALUE, F_LICENSE, 0, R_META },
	{ "dc.rights", MORE_VALUE, F_LICENSE, 0, R_META },
};

static void
meta_element(struct collect *c, const xmlNode *n)
{
	const char *key, *val;
	char low[64];
	size_t i;

	key = html_attr(n, "property");
	if (key == NULL)
		key = html_attr(n, "name");
	if (key == NULL)
		key = html_attr(n, "itemprop");
	if (key == NULL)
		key = html_attr(n, "http-equiv");
	val = html_attr(n, "content");
	if (key == NULL || val == NULL || strlen(key) >= sizeof(low))
		return;
	for (i = 0; key[i] != '\0'; i++)
		low[i] = (char)tolower((unsigned char)key[i]);
	low[i] = '\0';
	for (i = 0; DATE_KEYS[i] != NULL; i++) {
		if (strcmp(low, DATE_KEYS[i]) == 0) {
			offer_date(c, val, R_OG + (int)i);
			return;
		}
	}
	for (i = 0; i < sizeof(META_MORE) / sizeof(META_MORE[0]); i++) {
		const struct meta_more *m = &META_MORE[i];

		if (strcmp(low, m->key) != 0)
			continue;
		if (m->how == MORE_LIST)
			list_add(c, m->list, val);
		else if (m->how == MORE_SPLIT)
			list_add_split(c, m->list, val);
		else if (m->how == MORE_URL)
			offer_url(c, m->f, val, m->rank);
		else
			offer(c, m->f, val, m->rank);
		return;
	}
	for (i = 0; i < sizeof(META_KEYS) / sizeof(META_KEYS[0]); i++) {
		if (strcmp(low, META_KEYS[i].key) != 0)
			continue;
		if (META_KEYS[i].f == F_AUTHOR && (is_url(val) ||
		    val[0] == '@'))
			return;
		if (META_KEYS[i].f == F_CANONICAL)
			offer_canonical(c, val, META_KEYS[i].rank);
		else {
			if (META_KEYS[i].f == F_AUTHOR)
				authors_one(c, val, META_KEYS[i].rank);
			offer(c, META_KEYS[i].f, val, META_KEYS[i].rank);
		}
		return;
	}
}

/* The value of a microdata property: content, datetime, or the text. */
static void
microdata(struct collect *c, const xmlNode *n, const char *prop)
{
	const char *v = html_attr(n, "content");
	char *text = NULL;
	const xmlNode *k;

	if (v == NULL)
		v = html_attr(n, "datetime");
	if (strcmp(prop, "author") == 0 && html_attr(n, "itemscope") != NULL) {
		/* Person scope: its name property is in a descendant. */
		for (k = n->children; k != NULL && v == NULL; k = k->next) {
			const char *ip = html_attr(k, "itemprop");
			if (ip != NULL && strcmp(ip, "name") == 0)
				v = html_attr(k, "content");
			if (ip != NULL && strcmp(ip, "name") == 0 && v == NULL)
				text = html_node_text(k, c->o->max_field);
		}
	}
	if (v == NULL && text == NULL)
		text = html_node_text(n, c->o->max_field);
	if (v == NULL)
		v = text;
	if (v == NULL) {
		c->oom = true;
		return;
	}
	if (strcmp(prop, "headline") == 0)
		offer(c, F_TITLE, v, R_MICRODATA);
	else if (strcmp(prop, "author") == 0 && strlen(v) < 120) {
		authors_one(c, v, R_MICRODATA);
		offer(c, F_AUTHOR, v, R_MICRODATA);
	}
	else if (strcmp(prop, "datepublished") == 0 ||
	    strcmp(prop, "datePublished") == 0)
		offer_date(c, v, R_MICRODATA);
	else if (strcmp(prop, "dateModified") == 0)
		offer_date(c, v, R_MICRODATA + 30);
	free(text);
}

static void
link_element(struct collect *c, const xmlNode *n)
{
	const char *rel = html_attr(n, "rel"), *href = html_attr(n, "href");

	if (rel != NULL && href != NULL && html_has_word(rel, "canonical"))
		offer_canonical(c, href, R_OG - 5);
	if (rel != NULL && href != NULL && html_has_word(rel, "license"))
		offer_url(c, F_LICENSE, href, R_OG);
}

static void
h1_element(struct collect *c, const xmlNode *n)
{
	c->h1_count++;
	if (c->h1 != NULL)
		return;
	c->h1 = html_node_text(n, c->o->max_field);
	if (c->h1 == NULL)
		c->oom = true;
}

static void
element(struct collect *c, const xmlNode *n, enum html_tag t)
{
	const char *v, *ip;

	switch (t) {
	case HTML_HTML:
		offer(c, F_LANGUAGE, html_attr(n, "lang"), R_JSONLD - 5);
		offer(c, F_LANGUAGE, html_attr(n, "xml:lang"), R_JSONLD - 4);
		break;
	case HTML_TITLE:
		if (c->title_raw == NULL) {
			c->title_raw = html_node_text(n, c->o->max_field);
			if (c->title_raw == NULL)
				c->oom = true;
		}
		break;
	case HTML_META:
		meta_element(c, n);
		break;
	case HTML_LINK:
		link_element(c, n);
		break;
	case HTML_SCRIPT:
		v = html_attr(n, "type");
		if (v != NULL && strstr(v, "ld+json") != NULL &&
		    n->children != NULL && html_text(n->children) != NULL)
			jsonld_script(c, html_text(n->children));
		break;
	case HTML_H1:
		h1_element(c, n);
		break;
	case HTML_TIME:
		offer_date(c, html_attr(n, "datetime"), R_DOM);
		break;
	case HTML_A:
		v = html_attr(n, "rel");
		if (v != NULL && html_has_word(v, "license"))
			offer_url(c, F_LICENSE, html_attr(n, "href"), R_DOM);
		break;
	default:
		break;
	}
	ip = html_attr(n, "itemprop");
	if (ip != NULL && t != HTML_META)
		microdata(c, n, ip);
}

static void
walk(struct collect *c, xmlNode *root)
{
	xmlNode *cur = root;
	size_t seen = 0;
	enum html_tag t;
	bool down;

	while (cur != NULL && seen++ < c->o->max_nodes && !c->oom) {
		t = HTML_OTHER;
		if (cur->type == XML_ELEMENT_NODE) {
			t = html_tag_cached(&c->tags, cur);
			element(c, cur, t);
		}
		/* <head> is no text but holds what this walk is after. */
		down = cur->type == XML_ELEMENT_NODE &&
		    ((html_tag_flags(t) & HTML_F_SKIP) == 0 || t == HTML_HEAD);
		cur = html_next(cur, root, down);
	}
}

/* ---- heuristics ---------------------------------------------------- */

/* " word word ... " of s, lower-cased, for word_in(). */
static void
fold_words(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	bool sp = true;

	out[o++] = ' ';
	for (; *s != '\0' && o + 2 < outlen; s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || ch >= 0x80) {
			out[o++] = (char)tolower(ch);
			sp = false;
		} else if (!sp) {
			out[o++] = ' ';
			sp = true;
		}
	}
	if (!sp)
		out[o++] = ' ';
	out[o] = '\0';
}

static bool
word_in(const char *folded, const char *w)
{
	char key[72];

	snprintf(key, sizeof(key), " %s ", w);
	return strstr(folded, key) != NULL;
}

/* Share of the words of a (folded, 3+ letters) found in b. */
static float
word_overlap(const char *a, const char *b)
{
	char w[64], lb[1024];
	size_t i, n = 0, found = 0, total = 0;

	fold_words(b, lb, sizeof(lb));
	for (i = 0;; i++) {
		unsigned char ch = (unsigned char)a[i];
		if (isalnum(ch) || ch >= 0x80) {
			if (n < sizeof(w) - 2)
				w[n++] = (char)tolower(ch);
			continue;
		}
		if (n >= 3) {
			w[n] = '\0';
			total++;
			found += word_in(lb, w);
		}
		n = 0;
		if (ch == '\0')
			break;
	}
	return total ? (float)found / (float)total : 0;
}

/*
 * JSON-LD "headline" is sometimes a description or a shortened title
 * (Wikipedia: "Wikimedia list article"); like Readability, it is kept
 * only when it resembles the <title>.
 */
static void
pick_title(struct collect *c)
{
	struct slot *j = &c->s[F_JTITLE];

	if (j->val == NULL)
		return;
	if (c->title_raw == NULL || c->s[F_TITLE].val == NULL ||
	    word_overlap(j->val, c->title_raw) >= 0.5f) {
		free(c->s[F_TITLE].val);
		c->s[F_TITLE] = *j;
		j->val = NULL;
	}
}

static size_t
count_words(const char *s, size_t len)
{
	size_t i, n = 0;
	bool in = false;

	for (i = 0; i < len; i++) {
		if (s[i] == ' ') {
			in = false;
		} else if (!in) {
			in = true;
			n++;
		}
	}
	return n;
}

/*
 * The <title> without the site name: "Headline | Site" -> "Headline".
 * Keeps the whole title when the cut would leave under 3 words
 * (Readability's rule) and then tries the part after the separator.
 */
static void
title_from_raw(struct collect *c)
{
	static const char *const SEPS[] = { " | ", " - ", " \xE2\x80\x93 ",
	    " \xE2\x80\x94 ", " \xC2\xBB ", " :: ", " / ", " \xC2\xB7 ",
	    NULL };
	const char *raw = c->title_raw, *last = NULL, *first = NULL, *p;
	char buf[1024];
	size_t i, seplen = 0;

	if (raw == NULL || raw[0] == '\0')
		return;
	for (i = 0; SEPS[i] != NULL && last == NULL; i++) {
		first = strstr(raw, SEPS[i]);
		for (p = first; p != NULL; p = strstr(p + 1, SEPS[i]))
			last = p;
		seplen = strlen(SEPS[i]);
	}
	if (last == NULL || (size_t)(last - raw) >= sizeof(buf)) {
		offer(c, F_TITLE, raw, R_DOM);
		return;
	}
	memcpy(buf, raw, (size_t)(last - raw));
	buf[last - raw] = '\0';
	if (count_words(buf, strlen(buf)) >= 3 || first == NULL)
		offer(c, F_TITLE, buf, R_DOM);
	else if (count_words(first + seplen, strlen(first + seplen)) >= 3)
		offer(c, F_TITLE, first + seplen, R_DOM);
	else
		offer(c, F_TITLE, raw, R_DOM);
}

/* True if s[0..len) names the site: the site name, or the host's main
 * label ("espn" for www.espn.com) at the start of either. */
static bool
names_site(const char *s, size_t len, const char *site, const char *label)
{
	char k[256], sk[256];
	size_t kl, sl, ll = label != NULL ? strlen(label) : 0;

	kl = html_fold(s, len, k, sizeof(k));
	if (kl < 3 || len > 80)
		return false;
	if (site != NULL) {
		sl = html_fold(site, strlen(site), sk, sizeof(sk));
		if (sl > 0 && strcmp(k, sk) == 0)
			return true;
	}
	if (ll < 4)
		return false;
	return strncmp(k, label, kl < ll ? kl : ll) == 0;
}

/* The main label of the page's host, lower case: "nytimes". */
static void
host_label(const char *url, char *out, size_t outlen)
{
	char *host = url != NULL ? meta_url_host(url) : NULL;
	const char *h, *dot;

	out[0] = '\0';
	if (host == NULL)
		return;
	h = site_part(host);
	dot = strchr(h, '.');
	html_fold(h, dot != NULL ? (size_t)(dot - h) : strlen(h), out, outlen);
	free(host);
}

/*
 * "Headline - Site" and "Site | Headline" lose the site part, found by
 * the site name or the host; a trailing section after it goes too.
 */
static void
title_strip_site(struct collect *c)
{
	static const char *const SEPS[] = { " - ", " | ", " \xE2\x80\x93 ",
	    " \xE2\x80\x94 ", " :: ", " \xC2\xB7 ", " \xC2\xBB ", NULL };
	char *t = c->s[F_TITLE].val, label[64];
	const char *site = c->s[F_SITENAME].val, *p;
	size_t i;

	if (t == NULL)
		return;
	host_label(c->url, label, sizeof(label));
	for (i = 0; SEPS[i] != NULL; i++) {
		size_t sl = strlen(SEPS[i]);
		for (p = strstr(t, SEPS[i]); p != NULL; p = strstr(p + 1,
		    SEPS[i])) {
			const char *rest = p + sl, *next = strstr(rest, SEPS[i]);
			size_t rl = next != NULL ? (size_t)(next - rest) :
			    strlen(rest);
			if (p > t + 10 && names_site(rest, rl, site, label)) {
				*(char *)p = '\0';
				return;
			}
		}
		p = strstr(t, SEPS[i]);
		if (p != NULL && strlen(p + sl) > 10 &&
		    names_site(t, (size_t)(p - t), site, label)) {
			memmove(t, p + sl, strlen(p + sl) + 1);
			return;
		}
	}
}

/* A /2023/05/17/ or /2023-05-17/ path segment of the page URL. */
static void
date_from_url(struct collect *c)
{
	const char *p;
	char iso[16];
	int y, mo, d;

	if (c->url == NULL)
		return;
	for (p = strchr(c->url, '/'); p != NULL; p = strchr(p + 1, '/')) {
		if (sscanf(p, "/%4d/%2d/%2d/", &y, &mo, &d) == 3 ||
		    sscanf(p, "/%4d-%2d-%2d", &y, &mo, &d) == 3) {
			if (y < 1990 || y > 2099 || mo < 1 || mo > 12 ||
			    d < 1 || d > 31)
				continue;
			snprintf(iso, sizeof(iso), "%04d-%02d-%02d", y, mo, d);
			offer(c, F_DATE, iso, R_GUESS);
			return;
		}
	}
}

static void
sitename_from_url(struct collect *c)
{
	CURLU *u;
	char *host = NULL;

	if (c->url == NULL || c->s[F_SITENAME].val != NULL)
		return;
	u = curl_url();
	if (u == NULL)
		return;
	if (curl_url_set(u, CURLUPART_URL, c->url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		offer(c, F_SITENAME, strncmp(host, "www.", 4) == 0 ?
		    host + 4 : host, R_GUESS + 10);
		curl_free(host);
	}
	curl_url_cleanup(u);
}

/* Normalises og:locale's "en_US" to "en-US". */
static void
language_fix(struct collect *c)
{
	char *l = c->s[F_LANGUAGE].val, *p;

	if (l == NULL)
		return;
	for (p = l; *p != '\0'; p++) {
		if (*p == '_')
			*p = '-';
		if (*p == ',' || *p == ';' || *p == ' ') {
			*p = '\0';
			break;
		}
	}
}

/* ---- canonical URL ------------------------------------------------- */

static char *
meta_url_host(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *scheme = NULL, *out = NULL;

	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)
		out = strdup(host);
out:
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return out;
}

/* Start of the registrable part of host (approximation, see meta.h). */
static const char *
site_part(const char *host)
{
	const char *labels[4] = { NULL, NULL, NULL, NULL };
	const char *p;
	size_t sl;

	labels[0] = host;
	for (p = host; *p != '\0'; p++) {
		if (*p != '.' || p[1] == '\0')
			continue;
		labels[3] = labels[2];
		labels[2] = labels[1];
		labels[1] = p + 1;
	}
	if (labels[2] == NULL)
		return host;
	/* labels[2] is the second-level label: "co" in "bbc.co.uk". */
	sl = (size_t)(labels[1] - labels[2]) - 1;
	if (sl <= 3 && strlen(labels[1]) == 2 && labels[3] != NULL)
		return labels[3];
	if (sl <= 3 && strlen(labels[1]) == 2)
		return host;
	return labels[2];
}

int
meta_same_site(const char *a, const char *b)
{
	char *ha = meta_url_host(a), *hb = meta_url_host(b);
	int same = 0;

	if (ha != NULL && hb != NULL)
		same = strcasecmp(site_part(ha), site_part(hb)) == 0;
	free(ha);
	free(hb);
	return same;
}

/*
 * Offers a canonical URL after resolving it against the page URL; refused
 * unless http(s) and, when the page URL is known, on the same site.
 */
static void
offer_canonical(struct collect *c, const char *href, int rank)
{
	CURLU *u;
	char *abs = NULL, *host = NULL;

	if (href == NULL || rank >= c->s[F_CANONICAL].rank)
		return;
	u = curl_url();
	if (u == NULL) {
		c->oom = true;
		return;
	}
	if (c->url != NULL && curl_url_set(u, CURLUPART_URL, c->url, 0) !=
	    CURLUE_OK)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, href, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &abs, 0) != CURLUE_OK)
		goto out;
	host = meta_url_host(abs);
	if (host == NULL || (c->url != NULL && !meta_same_site(abs, c->url)))
		goto out;
	offer(c, F_CANONICAL, abs, rank);
out:
	free(host);
	curl_free(abs);
	curl_url_cleanup(u);
}

/* Offers an absolute http(s) URL, href resolved against the page's. */
static void
offer_url(struct collect *c, enum field f, const char *href, int rank)
{
	CURLU *u;
	char *abs = NULL;

	if (href == NULL || rank >= c->s[f].rank)
		return;
	u = curl_url();
	if (u == NULL) {
		c->oom = true;
		return;
	}
	if ((c->url == NULL || curl_url_set(u, CURLUPART_URL, c->url, 0) ==
	    CURLUE_OK) && curl_url_set(u, CURLUPART_URL, href, 0) ==
	    CURLUE_OK && curl_url_get(u, CURLUPART_URL, &abs, 0) ==
	    CURLUE_OK && (strncmp(abs, "http://", 7) == 0 ||
	    strncmp(abs, "https://", 8) == 0))
		offer(c, f, abs, rank);
	curl_free(abs);
	curl_url_cleanup(u);
}

/* ---- dates --------------------------------------------------------- */

/* Month names (English, German, French, Spanish, Italian, Portuguese,
 * Dutch, Polish genitive) by their first letters; value 1-12. */
static const struct {
	const char	*name;
	int		 month;
} MONTHS[] = {
	{ "jan", 1 }, { "feb", 2 }, { "mar", 3 }, { "apr", 4 }, { "may", 5 },
	{ "jun", 6 }, { "jul", 7 }, { "aug", 8 }, { "sep", 9 }, { "oct", 10 },
	{ "nov", 11 }, { "dec", 12 }, { "m\xC3\xA4r", 3 }, { "mai", 5 },
	{ "okt", 10 }, { "dez", 12 }, { "janv", 1 }, { "f\xC3\xA9v", 2 },
	{ "mars", 3 }, { "avr", 4 }, { "juin", 6 }, { "juil", 7 },
	{ "ao\xC3\xBB", 8 }, { "d\xC3\xA9""c", 12 }, { "ene", 1 },
	{ "abr", 4 }, { "ago", 8 }, { "dic", 12 }, { "gen", 1 }, { "mag", 5 },
	{ "giu", 6 }, { "lug", 7 }, { "set", 9 }, { "ott", 10 },
	{ "fev", 2 }, { "out", 10 }, { "dez", 12 }, { "mrt", 3 },
	{ "mei", 5 }, { "sty", 1 }, { "lut", 2 }, { "kwi", 4 }, { "cze", 6 },
	{ "lip", 7 }, { "sie", 8 }, { "wrz", 9 }, { "pa\xC5\xBA", 10 },
	{ "lis", 11 }, { "gru", 12 },
};

/* Month number of the word at s (len bytes), or 0. */
static int
month_of(const char *s, size_t len)
{
	size_t i, n;

	if (len < 3)
		return 0;
	/* Longest prefix wins ("mars" over "mar" gives the same month;
	 * "juin" over "jun" too), so the first hit is fine. */
	for (i = 0; i < sizeof(MONTHS) / sizeof(MONTHS[0]); i++) {
		n = strlen(MONTHS[i].name);
		if (n <= len && strncasecmp(s, MONTHS[i].name, n) == 0)
			return MONTHS[i].month;
	}
	return 0;
}

struct dparts {
	int	y, mo, d, h, mi, sec;
	bool	has_time;
	char	tz[16];
};

static bool
valid_date(const struct dparts *p)
{
	return p->y >= 1990 && p->y <= 2099 && p->mo >= 1 && p->mo <= 12 &&
	    p->d >= 1 && p->d <= 31;
}

/* "THH:MM[:SS][.fff][Z|+HH:MM|+HHMM]" after an ISO date. */
static void
iso_time(const char *s, struct dparts *p)
{
	int n = 0, th, tm;
	char sign;

	if ((*s != 'T' && *s != ' ') || sscanf(s + 1, "%2d:%2d%n", &p->h,
	    &p->mi, &n) != 2 || p->h > 23 || p->mi > 59)
		return;
	s += 1 + n;
	p->has_time = true;
	if (sscanf(s, ":%2d%n", &p->sec, &n) == 1 && p->sec <= 60)
		s += n;
	else
		p->sec = 0;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			;
	while (*s == ' ')
		s++;
	if (*s == 'Z' || strncmp(s, "GMT", 3) == 0 ||
	    strncmp(s, "UTC", 3) == 0) {
		snprintf(p->tz, sizeof(p->tz), "Z");
		return;
	}
	sign = *s;
	if ((sign == '+' || sign == '-') && (sscanf(s + 1, "%2d:%2d", &th,
	    &tm) == 2 || sscanf(s + 1, "%2d%2d", &th, &tm) == 2) &&
	    th >= 0 && th < 24 && tm >= 0 && tm < 60)
		snprintf(p->tz, sizeof(p->tz), "%c%02u:%02u", sign,
		    (unsigned)th % 100, (unsigned)tm % 100);
}

static int
parse_numeric(const char *s, struct dparts *p)
{
	int n = 0;

	if (sscanf(s, "%4d-%2d-%2d%n", &p->y, &p->mo, &p->d, &n) == 3 &&
	    n == 10) {
		iso_time(s + n, p);
		return 0;
	}
	if (sscanf(s, "%4d/%2d/%2d", &p->y, &p->mo, &p->d) == 3 &&
	    p->y > 1000)
		return 0;
	if (sscanf(s, "%4d%2d%2d%n", &p->y, &p->mo, &p->d, &n) == 3 &&
	    n == 8 && !isdigit((unsigned char)s[8]))
		return 0;
	/* Day first: 17.05.2023, 17/05/2023 (the common order outside the
	 * US; an American 05/17/2023 is caught by the month > 12 swap). */
	if (sscanf(s, "%2d.%2d.%4d", &p->d, &p->mo, &p->y) == 3 ||
	    sscanf(s, "%2d/%2d/%4d", &p->d, &p->mo, &p->y) == 3) {
		if (p->mo > 12 && p->d <= 12) {
			int t = p->mo;
			p->mo = p->d;
			p->d = t;
		}
		return 0;
	}
	return -1;
}

/* Dates with a month name: "May 17, 2023", "17 May 2023", "Wed, 17 May
 * 2023 10:00:00 GMT", "17. Mai 2023". */
static int
parse_words(const char *s, struct dparts *p)
{
	int nums[3], nn = 0, mo = 0, v;
	const char *q = s, *w;
	size_t k = 0;

	while (*q != '\0' && nn < 3 && k++ < 12) {
		while (*q != '\0' && !isalnum((unsigned char)*q) &&
		    (unsigned char)*q < 0x80)
			q++;
		if (isdigit((unsigned char)*q)) {
			v = 0;
			for (w = q; isdigit((unsigned char)*w) && w - q < 5;
			    w++)
				v = v * 10 + (*w - '0');
			if (*w == ':')
				break;	/* a time: the date is done */
			nums[nn++] = v;
			q = w;
			continue;
		}
		for (w = q; *w != '\0' && (isalpha((unsigned char)*w) ||
		    (unsigned char)*w >= 0x80); w++)
			;
		/* "martes", "mardi": weekdays that start like March. */
		if (mo == 0 && strncasecmp(q, "mart", 4) != 0 &&
		    strncasecmp(q, "mard", 4) != 0)
			mo = month_of(q, (size_t)(w - q));
		if (w == q)
			break;
		q = w;
	}
	if (mo == 0 || nn < 2)
		return -1;
	p->mo = mo;
	if (nums[0] > 31) {
		p->y = nums[0];
		p->d = nums[1];
	} else {
		p->d = nums[0];
		p->y = nums[1];
	}
	if (p->y < 100)
		return -1;
	q = strchr(s, ':');
	if (q != NULL && q - s >= 2 && isdigit((unsigned char)q[-1])) {
		q -= isdigit((unsigned char)q[-2]) ? 2 : 1;
		iso_time(q - 1, p);
	}
	return 0;
}

int
meta_date_normalize(const char *in, char *out, size_t outlen)
{
	struct dparts p;

	memset(&p, 0, sizeof(p));
	while (*in == ' ' || *in == '\t' || *in == '\n')
		in++;
	if (parse_numeric(in, &p) == -1 || !valid_date(&p)) {
		memset(&p, 0, sizeof(p));
		if (parse_words(in, &p) == -1 || !valid_date(&p))
			return -1;
	}
	/* RFC 3339 when the time's offset is known; a time without one is
	 * in no known zone, and only its date is sure. */
	if (p.has_time && p.tz[0] != '\0')
		snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d%s", p.y,
		    p.mo, p.d, p.h, p.mi, p.sec, p.tz);
	else
		snprintf(out, outlen, "%04d-%02d-%02d", p.y, p.mo, p.d);
	return 0;
}

/* ---- entry point --------------------------------------------------- */

static char *
take(struct collect *c, enum field f)
{
	char *v = c->s[f].val;

	c->s[f].val = NULL;
	return v;
}

int
meta_read(xmlDoc *doc, const char *url, const struct meta_opts *o,
    struct meta *m, char *err, size_t errlen)
{
	struct meta_opts def;
	struct collect c;
	xmlNode *root;
	size_t i;

	if (o == NULL) {
		meta_opts_default(&def);
		o = &def;
	}
	memset(m, 0, sizeof(*m));
	memset(&c, 0, sizeof(c));
	html_tagcache_init(&c.tags);
	c.o = o;
	c.url = url;
	for (i = 0; i < F_COUNT; i++)
		c.s[i].rank = R_NONE;
	c.authors_rank = R_NONE;
	root = xmlDocGetRootElement(doc);
	if (root != NULL)
		walk(&c, root);
	title_from_raw(&c);
	pick_title(&c);
	if (c.h1_count == 1)
		offer(&c, F_TITLE, c.h1, R_DOM + 5);
	date_from_url(&c);
	title_strip_site(&c);
	sitename_from_url(&c);
	language_fix(&c);
	m->title = take(&c, F_TITLE);
	m->author = take(&c, F_AUTHOR);
	m->date = take(&c, F_DATE);
	m->sitename = take(&c, F_SITENAME);
	m->description = take(&c, F_DESCRIPTION);
	m->language = take(&c, F_LANGUAGE);
	m->canonical_url = take(&c, F_CANONICAL);
	m->article_body = take(&c, F_BODY);
	m->date_raw = take(&c, F_DATE_RAW);
	m->image = take(&c, F_IMAGE);
	m->pagetype = take(&c, F_PAGETYPE);
	m->license = take(&c, F_LICENSE);
	/* The list goes with the author it was found with; a single author
	 * is the field as cleaned ("By " and the like dropped). */
	if (m->author != NULL && c.l[L_AUTHORS].n <= 1) {
		strlist_free(c.l[L_AUTHORS].v, c.l[L_AUTHORS].n);
		c.l[L_AUTHORS].v = NULL;
		c.l[L_AUTHORS].n = 0;
		list_add(&c, L_AUTHORS, m->author);
	}
	m->authors = c.l[L_AUTHORS].v;
	m->nauthors = c.l[L_AUTHORS].n;
	m->categories = c.l[L_CATEGORIES].v;
	m->ncategories = c.l[L_CATEGORIES].n;
	m->tags = c.l[L_TAGS].v;
	m->ntags = c.l[L_TAGS].n;
	m->title_raw = c.title_raw;
	m->h1 = c.h1;
	m->h1_count = c.h1_count;
	for (i = 0; i < F_COUNT; i++)
		free(c.s[i].val);
	if (c.oom) {
		meta_free(m);
		snprintf(err, errlen, "out of memory reading metadata");
		return -1;
	}
	return 0;
}

/* ---- language guess ------------------------------------------------ */

#define GUESS_MAX_BYTES	16384
#define GUESS_MAX_WORDS	400

/* Frequent function words, space-separated, per language. */
static const struct {
	const char	*lang;
	const char	*words;
} STOPWORDS[] = {
	{ "en", " the and of to is in that it was for with as on are this be"
	    " by have from not but they which you we at or he she his her"
	    " their has been were will would " },
	{ "de", " der die das und ist nicht ein eine zu den mit sich des auf"
	    " f\xC3\xBCr von im dem auch es werden aus er hat dass sie nach"
	    " wird bei einer um noch wie \xC3\xBC""ber einen zum war haben"
	    " nur oder aber " },
	{ "fr", " le la les des et est un une du que qui dans pour pas au sur"
	    " ne plus par il elle ce avec sont aux cette mais ont ou"
	    " \xC3\xA9t\xC3\xA9 leur nous vous " },
	{ "es", " el los las del y que en un una es por con para se no lo al"
	    " como m\xC3\xA1s pero sus su ha fue este esta son entre"
	    " tambi\xC3\xA9n sobre " },
	{ "it", " il lo gli di del della che \xC3\xA8 un una per non con"
	    " sono nel alla anche come pi\xC3\xB9 ma si questo dei delle ha"
	    " essere " },
	{ "pt", " os as do da dos das que em um uma para com n\xC3\xA3o no"
	    " na por mais como foi ao pelo pela s\xC3\xA3o tamb\xC3\xA9m mas"
	    " seu sua " },
	{ "nl", " het een en van is dat niet op te zijn voor met die ook aan"
	    " er maar om bij hij ze wordt heeft worden naar nog dan uit " },
	{ "pl", " w na z si\xC4\x99 \xC5\xBC""e do nie to jest jak ale po co"
	    " przez od jego dla jej s\xC4\x85 tak czy ju\xC5\xBC mo\xC5\xBC""e"
	    " by\xC4\x87 kt\xC3\xB3ry kt\xC3\xB3ra tak\xC5\xBC""e " },
	{ "sv", " och att det som en p\xC3\xA5 \xC3\xA4r av f\xC3\xB6r med"
	    " till den har de inte om ett var jag men s\xC3\xA5 " },
	{ "da", " og det at en til er som p\xC3\xA5 de med han af for ikke der"
	    " var et har jeg men " },
	{ "cs", " se na je \xC5\xBE""e v to s z do o jsou by jako ale pro"
	    " kter\xC3\xBD jeho u\xC5\xBE nebo tak\xC3\xA9 " },
	{ "tr", " ve bir bu da de i\xC3\xA7in ile \xC3\xA7ok olarak daha"
	    " gibi olan ne de\xC4\x9Fil " },
	{ "fi", " ja on ei ett\xC3\xA4 se h\xC3\xA4n oli ovat mutta kun my\xC3"
	    "\xB6s tai jos niin " },
	{ "hu", " az \xC3\xA9s hogy nem is egy meg van volt csak m\xC3\xA1r"
	    " m\xC3\xA9g ez mint " },
	{ "ro", " \xC8\x99i \xC3\xAEn la cu pe s\xC4\x83 nu care din este"
	    " mai pentru ce sunt " },
};

/* Counts code points by script over the first bytes of text. */
struct scripts {
	size_t latin, han, kana, hangul, cyr, ukr, arabic, hebrew, greek,
	    thai, deva;
};

static void
count_scripts(const char *text, size_t len, struct scripts *sc)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0;
	unsigned cp;

	memset(sc, 0, sizeof(*sc));
	while (i < len) {
		if (p[i] < 0x80) {
			sc->latin += isalpha(p[i]) != 0;
			i++;
			continue;
		}
		if (p[i] >= 0xE0 && i + 2 < len) {
			cp = ((p[i] & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) |
			    (p[i + 2] & 0x3Fu);
			i += p[i] >= 0xF0 ? 4 : 3;
		} else if (p[i] >= 0xC0 && i + 1 < len) {
			cp = ((p[i] & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
			i += 2;
		} else {
			i++;
			continue;
		}
		if (cp >= 0x3040 && cp <= 0x30FF)
			sc->kana++;
		else if (cp >= 0x4E00 && cp <= 0x9FFF)
			sc->han++;
		else if (cp >= 0xAC00 && cp <= 0xD7AF)
			sc->hangul++;
		else if (cp >= 0x400 && cp <= 0x4FF) {
			sc->cyr++;
			sc->ukr += cp == 0x456 || cp == 0x457 || cp == 0x454 ||
			    cp == 0x491;
		} else if (cp >= 0x600 && cp <= 0x6FF)
			sc->arabic++;
		else if (cp >= 0x590 && cp <= 0x5FF)
			sc->hebrew++;
		else if (cp >= 0x370 && cp <= 0x3FF)
			sc->greek++;
		else if (cp >= 0xE00 && cp <= 0xE7F)
			sc->thai++;
		else if (cp >= 0x900 && cp <= 0x97F)
			sc->deva++;
		else if (cp < 0x250)
			sc->latin++;
	}
}

static const char *
script_language(const struct scripts *sc)
{
	size_t cjk = sc->han + sc->kana, other = sc->latin;

	if (sc->hangul > other / 2 && sc->hangul > 20)
		return "ko";
	if (cjk > other / 2 && cjk > 20)
		return sc->kana * 10 > cjk ? "ja" : "zh";
	if (sc->cyr > other && sc->cyr > 20)
		return sc->ukr * 50 > sc->cyr ? "uk" : "ru";
	if (sc->arabic > other && sc->arabic > 20)
		return "ar";
	if (sc->hebrew > other && sc->hebrew > 20)
		return "he";
	if (sc->greek > other && sc->greek > 20)
		return "el";
	if (sc->thai > other && sc->thai > 20)
		return "th";
	if (sc->deva > other && sc->deva > 20)
		return "hi";
	return NULL;
}

/* Scores one lower-cased word against every language's list. */
static void
score_word(const char *w, size_t wl, unsigned *hits)
{
	char key[40];
	size_t i;

	if (wl == 0 || wl + 2 >= sizeof(key))
		return;
	key[0] = ' ';
	memcpy(key + 1, w, wl);
	key[wl + 1] = ' ';
	key[wl + 2] = '\0';
	for (i = 0; i < sizeof(STOPWORDS) / sizeof(STOPWORDS[0]); i++)
		if (strstr(STOPWORDS[i].words, key) != NULL)
			hits[i]++;
}

const char *
meta_guess_language(const char *text, size_t len)
{
	unsigned hits[sizeof(STOPWORDS) / sizeof(STOPWORDS[0])] = { 0 };
	struct scripts sc;
	const char *lang;
	char w[40];
	size_t i, wl = 0, best = 0, second = 0, bi = 0, words = 0;

	if (len > GUESS_MAX_BYTES)
		len = GUESS_MAX_BYTES;
	count_scripts(text, len, &sc);
	lang = script_language(&sc);
	if (lang != NULL || sc.latin < 40)
		return lang;
	for (i = 0; i <= len && words < GUESS_MAX_WORDS; i++) {
		unsigned char ch = i < len ? (unsigned char)text[i] : ' ';
		if (isalpha(ch) || ch >= 0x80) {
			if (wl < sizeof(w))
				w[wl++] = (char)tolower(ch);
			continue;
		}
		if (wl > 0 && wl < sizeof(w)) {
			score_word(w, wl, hits);
			words++;
		}
		wl = 0;
	}
	for (i = 0; i < sizeof(hits) / sizeof(hits[0]); i++) {
		if (hits[i] > best) {
			second = best;
			best = hits[i];
			bi = i;
		} else if (hits[i] > second)
			second = hits[i];
	}
	if (best < 3 || best * 4 < second * 5)
		return NULL;
	return STOPWORDS[bi].lang;
}
