/*
 * feed_json.c - JSON Feed items to feed entries (see feed_json.h).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "feed_json.h"

#define JSONFEED_VERSION	"https://jsonfeed.org/version/"

/* A string member, or NULL; over max_string counts as absent. */
static const char *
feed_json_str(struct feed_doc *d, const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		return NULL;
	if (json_string_length(v) > d->lim.max_string) {
		d->stats.long_strings++;
		return NULL;
	}
	return json_string_value(v);
}

static int64_t
feed_json_date(struct feed_doc *d, const json_t *item, const char *key)
{
	const char *s = feed_json_str(d, item, key);
	int64_t t;

	if (s == NULL)
		return FEED_NO_TIME;
	t = feed_parse_date(s);
	if (t == FEED_NO_TIME)
		d->stats.bad_dates++;
	return t;
}

/* 1.1's authors[0].name, else 1.0's author.name. */
static const char *
feed_json_author(struct feed_doc *d, const json_t *item)
{
	const json_t *a = json_array_get(json_object_get(item, "authors"), 0);

	if (!json_is_object(a))
		a = json_object_get(item, "author");
	if (!json_is_object(a))
		return NULL;
	return feed_json_str(d, a, "name");
}

static int
feed_json_item(struct feed_doc *d, const json_t *item)
{
	const char *url;
	char *id = NULL;
	int rc;

	if (!json_is_object(item)) {
		d->stats.no_url++;
		return 0;
	}
	/* "url" is the permalink; "id" is often the same URL, but only an
	 * absolute one is taken: "id": "42" is no link. */
	url = feed_json_str(d, item, "url");
	if (url == NULL)
		url = id = feed_resolve_url(NULL, feed_json_str(d, item, "id"));
	rc = feed_doc_add_entry(d, url, feed_json_str(d, item, "title"),
	    feed_json_author(d, item), feed_json_date(d, item, "date_published"),
	    feed_json_date(d, item, "date_modified"));
	free(id);
	return rc;
}

int
feed_json_parse(struct feed_doc *d, const char *json, size_t len)
{
	json_error_t jerr;
	json_t *root, *items;
	const char *version, *title;
	size_t i;
	int rc = 0;

	/* jansson caps nesting itself (JSON_PARSER_DEFAULT_DEPTH, 2048). */
	root = json_loadb(json, len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (root == NULL) {
		d->stats.malformed = true;
		return 0;
	}
	version = feed_json_str(d, root, "version");
	if (version == NULL ||
	    strncmp(version, JSONFEED_VERSION, strlen(JSONFEED_VERSION)) != 0)
		goto out;
	d->format = FEED_JSON;
	title = feed_json_str(d, root, "title");
	if (title != NULL && (d->title = strdup(title)) == NULL) {
		rc = -1;
		goto out;
	}
	items = json_object_get(root, "items");
	for (i = 0; i < json_array_size(items); i++) {
		if (feed_doc_full(d)) {
			d->stats.capped = true;
			break;
		}
		if (feed_json_item(d, json_array_get(items, i)) == -1) {
			rc = -1;
			break;
		}
	}
out:
	json_decref(root);
	return rc;
}
