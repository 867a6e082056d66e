/*
 * docjson.c - the JSON fields of struct sluice_extract_more (docjson.h).
 */
#include "docjson.h"

static json_t *
docjson_str(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
docjson_list(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

void
docjson_more(json_t *o, const struct sluice_extract_more *m)
{
	json_object_set_new(o, "date_raw", docjson_str(m->date_raw));
	json_object_set_new(o, "image", docjson_str(m->image));
	json_object_set_new(o, "pagetype", docjson_str(m->pagetype));
	json_object_set_new(o, "license", docjson_str(m->license));
	json_object_set_new(o, "authors", docjson_list(m->authors,
	    m->nauthors));
	json_object_set_new(o, "categories", docjson_list(m->categories,
	    m->ncategories));
	json_object_set_new(o, "tags", docjson_list(m->tags, m->ntags));
}
