/*
 * warcout.c - the export as WARC records of clean text (see warcout.h).
 */
#include <stdbool.h>
#include <string.h>

#include "util.h"
#include "warcout.h"

/* Text records are written as they are: their bytes are mostly text. */
#define WARCOUT_GZIP_LEVEL	6

static int
warcout_flush(struct warcout *w)
{
	size_t n = w->rec.len;
	bool ok = fwrite(w->rec.data, 1, n, w->out) == n;

	buf_reset(&w->rec);
	if (!ok)
		return -1;
	w->written++;
	return 0;
}

int
warcout_begin(struct warcout *w, FILE *out, const char *version)
{
	char id[WARCREC_ID_LEN], date[WARCREC_DATE_LEN], fields[512];
	struct warcrec r;
	int n;

	memset(w, 0, sizeof(*w));
	w->out = out;
	buf_init(&w->rec, (size_t)1 << 30);
	if (warcrec_coder_init(&w->k, WARCOUT_GZIP_LEVEL) == -1)
		return -1;
	warcrec_new_id(id);
	warcrec_date(now_ms(), date);
	n = snprintf(fields, sizeof(fields), "software: sluicectl/%s\r\n"
	    "format: WARC File Format 1.1\r\n"
	    "conformsTo: https://iipc.github.io/warc-specifications/"
	    "specifications/warc-format/warc-1.1/\r\n"
	    "description: the clean text of sluice's documents, one "
	    "conversion record each, linked to its capture\r\n", version);
	if (n < 0 || (size_t)n >= sizeof(fields))
		return -1;
	r = (struct warcrec){ .type = "warcinfo", .id = id, .date = date,
	    .content_type = "application/warc-fields" };
	if (warcrec_write(&w->k, &w->rec, &r, fields, (size_t)n, "", 0) == -1)
		return -1;
	return warcout_flush(w);
}

/* The document's fetch time as WARC-Date: its fetched_at is RFC 3339 in
 * UTC with milliseconds already ("2026-11-28T02:00:00.000Z"). */
static const char *
warcout_date(const json_t *doc, char *buf)
{
	const char *at = json_string_value(json_object_get(doc, "fetched_at"));

	if (at != NULL && strlen(at) < WARCREC_DATE_LEN)
		return at;
	warcrec_date(now_ms(), buf);
	return buf;
}

int
warcout_doc(struct warcout *w, const json_t *doc)
{
	const char *text = json_string_value(json_object_get(doc, "text"));
	const char *uri = json_string_value(json_object_get(doc,
	    "final_url"));
	const char *capture = json_string_value(json_object_get(doc,
	    "warc_record_id"));
	const char *lang = json_string_value(json_object_get(doc,
	    "language"));
	char id[WARCREC_ID_LEN], date[WARCREC_DATE_LEN], extra[256];
	struct warcrec r;

	if (text == NULL) {
		w->skipped++;
		return 0;
	}
	if (uri == NULL)
		uri = json_string_value(json_object_get(doc, "url"));
	warcrec_new_id(id);
	extra[0] = '\0';
	if (capture != NULL && strlen(capture) < 80)
		snprintf(extra, sizeof(extra), "WARC-Refers-To: %s\r\n",
		    capture);
	if (lang != NULL && strlen(lang) < 32 && strspn(lang,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") ==
	    strlen(lang))
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
		    "WARC-Identified-Content-Language: %s\r\n", lang);
	r = (struct warcrec){ .type = capture != NULL ? "conversion" :
	    "resource", .id = id, .date = warcout_date(doc, date),
	    .uri = uri, .content_type = "text/plain; charset=utf-8",
	    .extra = extra };
	if (warcrec_write(&w->k, &w->rec, &r, text, strlen(text), "", 0) ==
	    -1)
		return -1;
	return warcout_flush(w);
}

void
warcout_end(struct warcout *w)
{
	warcrec_coder_free(&w->k);
	buf_free(&w->rec);
}
