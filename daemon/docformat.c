/*
 * docformat.c - a stored document in trafilatura's JSON shape
 * (docformat.h).  trafilatura's JSON output (trafilatura.core, json
 * format) names its fields title, author, hostname, date, fingerprint, id,
 * license, comments, raw_text, text, language, image, pagetype, source,
 * source-hostname, excerpt, categories and tags; lists are joined with
 * ";" and authors with "; ", dates are YYYY-MM-DD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "docformat.h"

int
doc_format_parse(const char *name, enum doc_format *f)
{
	if (strcmp(name, "jsonl") == 0)
		*f = DOC_FORMAT_JSONL;
	else if (strcmp(name, "trafilatura") == 0)
		*f = DOC_FORMAT_TRAFILATURA;
	else
		return -1;
	return 0;
}

/* The document's string field name, or null. */
static json_t *
docformat_str(json_t *doc, const char *name)
{
	json_t *v = json_object_get(doc, name);

	return json_is_string(v) ? json_incref(v) : json_null();
}

/* The strings of list field name joined with sep, or null if none. */
static json_t *
docformat_join(json_t *doc, const char *name, const char *sep)
{
	json_t *list = json_object_get(doc, name), *v;
	size_t i, n = 0, seplen = strlen(sep);
	char *s;

	json_array_foreach(list, i, v)
		if (json_is_string(v))
			n += json_string_length(v) + seplen;
	if (n == 0)
		return json_null();
	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	n = 0;
	json_array_foreach(list, i, v) {
		if (!json_is_string(v))
			continue;
		if (n > 0) {
			memcpy(s + n, sep, seplen);
			n += seplen;
		}
		memcpy(s + n, json_string_value(v), json_string_length(v));
		n += json_string_length(v);
	}
	v = json_stringn(s, n);
	free(s);
	return v;
}

/* The URL's host without a leading "www.", as trafilatura's hostname. */
static json_t *
docformat_hostname(json_t *doc)
{
	const char *url = json_string_value(json_object_get(doc, "url"));
	CURLU *u = curl_url();
	char *host = NULL;
	json_t *v = json_null();

	if (u != NULL && url != NULL &&
	    curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		v = json_string(strncasecmp(host, "www.", 4) == 0 ? host + 4 :
		    host);
	curl_free(host);
	curl_url_cleanup(u);
	return v;
}

/* YYYY-MM-DD of an RFC 3339 date or date. */
static json_t *
docformat_date(json_t *doc)
{
	const char *d = json_string_value(json_object_get(doc, "date"));

	return d != NULL && strlen(d) >= 10 ? json_stringn(d, 10) :
	    json_null();
}

char *
doc_format_trafilatura(const char *json, size_t len, size_t *outlen)
{
	json_t *doc = json_loadb(json, len, 0, NULL), *t, *id;
	char *out = NULL, num[24];

	if (!json_is_object(doc)) {
		json_decref(doc);
		return NULL;
	}
	id = json_object_get(doc, "id");
	snprintf(num, sizeof(num), "%lld", json_is_integer(id) ?
	    (long long)json_integer_value(id) : 0LL);
	t = json_object();
	if (t != NULL) {
		json_object_set_new(t, "title", docformat_str(doc, "title"));
		json_object_set_new(t, "author", docformat_join(doc,
		    "authors", "; "));
		json_object_set_new(t, "hostname", docformat_hostname(doc));
		json_object_set_new(t, "date", docformat_date(doc));
		json_object_set_new(t, "fingerprint", docformat_str(doc,
		    "content_hash"));
		json_object_set_new(t, "id", json_string(num));
		json_object_set_new(t, "license", docformat_str(doc,
		    "license"));
		json_object_set_new(t, "comments", json_null());
		json_object_set_new(t, "raw_text", docformat_str(doc, "text"));
		json_object_set_new(t, "text", docformat_str(doc, "text"));
		json_object_set_new(t, "language", docformat_str(doc,
		    "language"));
		json_object_set_new(t, "image", docformat_str(doc, "image"));
		json_object_set_new(t, "pagetype", docformat_str(doc,
		    "pagetype"));
		json_object_set_new(t, "source", docformat_str(doc, "url"));
		json_object_set_new(t, "source-hostname", docformat_str(doc,
		    "sitename"));
		json_object_set_new(t, "excerpt", docformat_str(doc,
		    "description"));
		json_object_set_new(t, "categories", docformat_join(doc,
		    "categories", ";"));
		json_object_set_new(t, "tags", docformat_join(doc, "tags",
		    ";"));
		/* An old document has no authors list: its author. */
		if (json_is_null(json_object_get(t, "author")))
			json_object_set_new(t, "author", docformat_str(doc,
			    "author"));
		out = json_dumps(t, JSON_COMPACT);
	}
	json_decref(t);
	json_decref(doc);
	if (out != NULL)
		*outlen = strlen(out);
	return out;
}
