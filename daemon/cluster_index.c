/*
 * cluster_index.c - the cluster-wide dedup ordering rule over SLUICE_KEYS
 * entries, and their bodies, binary (v2) and JSON (v1) (see
 * cluster_index.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "cluster_index.h"
#include "lsh.h"
#include "store.h"

/* Base64 of the sketch: 4 characters per 3 bytes, padded. */
#define CLUSTER_SKETCH_B64	(4 * ((DEDUP_SKETCH_BYTES + 2) / 3))
/* Keys an entry is filed under: its exact hash's, then its bands. */
#define CLUSTER_KEYS_PER_ENTRY	(1 + DEDUP_BANDS)

struct cluster_entry {
	uint64_t	 seq;
	uint64_t	 doc_id;
	char		*node;		/* "node\0url\0", one allocation */
	const char	*url;
	uint8_t		 exact[16];
	struct dedup_sig *sig;		/* near entries only */
};

/* A candidate of a near lookup and the bands it shares. */
struct cluster_cand {
	uint64_t	 ord;
	uint32_t	 shared;
};

struct cluster_index {
	double		 threshold;
	size_t		 max_entries;
	uint64_t	 last_seq;
	bool		 full;
	struct cluster_entry *e;	/* by ordinal, so by sequence */
	size_t		 n;
	size_t		 cap;
	size_t		 bytes;		/* names, URLs and signatures */
	struct lsh	 keys;		/* key -> ordinal */
	/* Scratch of one lookup: every band's entries at most. */
	uint64_t	*found;
	struct cluster_cand *cand;
};

#define CLUSTER_FOUND_MAX	((size_t)DEDUP_BANDS * LSH_KEY_MAX)

struct cluster_index *
cluster_index_new(double near_threshold, size_t max_entries)
{
	struct cluster_index *idx;

	if ((idx = calloc(1, sizeof(*idx))) == NULL)
		return NULL;
	idx->threshold = near_threshold;
	idx->max_entries = max_entries > 0 ? max_entries :
	    CLUSTER_INDEX_ENTRIES_DEFAULT;
	idx->found = calloc(CLUSTER_FOUND_MAX, sizeof(*idx->found));
	idx->cand = calloc(CLUSTER_FOUND_MAX, sizeof(*idx->cand));
	if (idx->found == NULL || idx->cand == NULL ||
	    lsh_init(&idx->keys, 0, CLUSTER_KEYS_PER_ENTRY, 0) != 0) {
		free(idx->found);
		free(idx->cand);
		free(idx);
		return NULL;
	}
	return idx;
}

void
cluster_index_free(struct cluster_index *idx)
{
	if (idx == NULL)
		return;
	for (size_t i = 0; i < idx->n; i++) {
		free(idx->e[i].node);
		free(idx->e[i].sig);
	}
	free(idx->e);
	lsh_free(&idx->keys);
	free(idx->found);
	free(idx->cand);
	free(idx);
}

uint64_t
cluster_index_last_seq(const struct cluster_index *idx)
{
	return idx->last_seq;
}

size_t
cluster_index_entries(const struct cluster_index *idx)
{
	return idx->n;
}

bool
cluster_index_full(const struct cluster_index *idx)
{
	return idx->full;
}

size_t
cluster_index_memory(const struct cluster_index *idx)
{
	return sizeof(*idx) + idx->cap * sizeof(*idx->e) + idx->bytes +
	    lsh_bytes(&idx->keys) + CLUSTER_FOUND_MAX *
	    (sizeof(*idx->found) + sizeof(*idx->cand));
}

/* The exact hash's key: its first 32 bits (it is a hash already). */
static uint32_t
cluster_exact_key(const uint8_t *exact)
{
	return store_get_be32(exact);
}

static void
cluster_match(const struct cluster_index *idx, size_t ord,
    enum dedup_kind kind, double sim, struct cluster_verdict *out)
{
	const struct cluster_entry *e = &idx->e[ord];

	out->kind = kind;
	out->similarity = sim;
	out->seq = e->seq;
	out->doc_id = e->doc_id;
	out->node = e->node;
	out->url = e->url;
}

/* The earliest indexed entry with sig's exact hash, or SIZE_MAX. */
static size_t
cluster_find_exact(struct cluster_index *idx, const struct dedup_sig *sig)
{
	size_t n, best = SIZE_MAX;

	n = lsh_find(&idx->keys, cluster_exact_key(sig->exact), LSH_KEY_MAX,
	    idx->found);
	for (size_t i = 0; i < n; i++) {
		size_t ord = (size_t)idx->found[i];

		if (ord < best && memcmp(idx->e[ord].exact, sig->exact,
		    sizeof(sig->exact)) == 0)
			best = ord;
	}
	return best;
}

static int
cluster_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Most bands shared first, then the earliest. */
static int
cluster_cand_cmp(const void *a, const void *b)
{
	const struct cluster_cand *x = a, *y = b;

	if (x->shared != y->shared)
		return x->shared > y->shared ? -1 : 1;
	return (x->ord > y->ord) - (x->ord < y->ord);
}

/* The band lookups' entries, each once with the bands it shares, ranked
 * (cluster_cand_cmp); returns how many. */
static size_t
cluster_candidates(struct cluster_index *idx, const struct dedup_sig *sig)
{
	size_t m = 0, c = 0;

	for (size_t j = 0; j < DEDUP_BANDS; j++)
		m += lsh_find(&idx->keys, sig->bands[j], LSH_KEY_MAX,
		    idx->found + m);
	qsort(idx->found, m, sizeof(*idx->found), cluster_u64_cmp);
	for (size_t i = 0; i < m; i++) {
		if (c > 0 && idx->cand[c - 1].ord == idx->found[i]) {
			idx->cand[c - 1].shared++;
			continue;
		}
		idx->cand[c++] = (struct cluster_cand){ .ord = idx->found[i],
		    .shared = 1 };
	}
	qsort(idx->cand, c, sizeof(*idx->cand), cluster_cand_cmp);
	return c;
}

/* The earliest of the best-ranked CLUSTER_INDEX_CANDIDATES near entries
 * that reaches the threshold, or SIZE_MAX; *sim its similarity. */
static size_t
cluster_find_near(struct cluster_index *idx, const struct dedup_sig *sig,
    double *sim, uint32_t *compared)
{
	size_t c, best = SIZE_MAX;

	c = cluster_candidates(idx, sig);
	for (size_t i = 0; i < c && *compared < CLUSTER_INDEX_CANDIDATES;
	    i++) {
		const struct cluster_entry *e = &idx->e[idx->cand[i].ord];
		double s;

		if (e->sig == NULL)
			continue;	/* exact-only: its key met a band */
		(*compared)++;
		if (dedup_is_near(sig, e->sig, idx->threshold, &s) &&
		    idx->cand[i].ord < best) {
			best = (size_t)idx->cand[i].ord;
			*sim = s;
		}
	}
	return best;
}

/* Files a first copy under its keys.  0 or ENOMEM (nothing kept). */
static int
cluster_index_add(struct cluster_index *idx, uint64_t seq, const char *node,
    uint64_t doc_id, const struct dedup_sig *sig, const char *url)
{
	struct cluster_entry *e;
	uint32_t keys[CLUSTER_KEYS_PER_ENTRY];
	size_t nlen = strlen(node), ulen = strlen(url), nkeys = 1;

	if (idx->n == idx->cap) {
		size_t cap = idx->cap > 0 ? idx->cap * 2 : 1024;
		void *p;

		if (cap > idx->max_entries)
			cap = idx->max_entries;
		if ((p = reallocarray(idx->e, cap, sizeof(*idx->e))) == NULL)
			return ENOMEM;
		idx->e = p;
		idx->cap = cap;
	}
	e = &idx->e[idx->n];
	*e = (struct cluster_entry){ .seq = seq, .doc_id = doc_id };
	memcpy(e->exact, sig->exact, sizeof(e->exact));
	if ((e->node = malloc(nlen + ulen + 2)) == NULL)
		return ENOMEM;
	memcpy(e->node, node, nlen + 1);
	memcpy(e->node + nlen + 1, url, ulen + 1);
	e->url = e->node + nlen + 1;
	keys[0] = cluster_exact_key(sig->exact);
	if (sig->near) {
		if ((e->sig = malloc(sizeof(*e->sig))) == NULL)
			goto fail;
		*e->sig = *sig;
		memcpy(keys + 1, sig->bands, sizeof(sig->bands));
		nkeys += DEDUP_BANDS;
	}
	if (lsh_add(&idx->keys, idx->n, keys, nkeys) != 0)
		goto fail;
	lsh_commit(&idx->keys);
	idx->bytes += nlen + ulen + 2 + (e->sig != NULL ? sizeof(*e->sig) : 0);
	idx->n++;
	return 0;
fail:
	free(e->node);
	free(e->sig);
	return ENOMEM;
}

int
cluster_index_apply(struct cluster_index *idx, uint64_t seq,
    const char *node, uint64_t doc_id, const struct dedup_sig *sig,
    const char *url, struct cluster_verdict *out)
{
	size_t ord;
	double sim = 0;
	int rc;

	*out = (struct cluster_verdict){ .kind = DEDUP_NONE };
	if (seq <= idx->last_seq)
		return EALREADY;
	if (!cluster_node_valid(node) || sig == NULL || url == NULL)
		return EINVAL;
	/* A text with no word is nobody's copy (dedup.c alike). */
	if (sig->words == 0)
		goto done;
	ord = cluster_find_exact(idx, sig);
	if (ord != SIZE_MAX) {
		cluster_match(idx, ord, DEDUP_EXACT, 1.0, out);
		goto done;
	}
	if (sig->near) {
		ord = cluster_find_near(idx, sig, &sim, &out->candidates);
		if (ord != SIZE_MAX) {
			cluster_match(idx, ord, DEDUP_NEAR, sim, out);
			goto done;
		}
	}
	if (idx->n >= idx->max_entries) {
		idx->full = true;
		goto done;
	}
	if ((rc = cluster_index_add(idx, seq, node, doc_id, sig, url)) != 0) {
		lsh_rollback(&idx->keys);
		*out = (struct cluster_verdict){ .kind = DEDUP_NONE };
		return rc;
	}
	out->indexed = true;
done:
	idx->last_seq = seq;
	return 0;
}

/* The body. */

char *
cluster_keys_encode(const char *node, uint64_t doc_id, const char *url,
    const struct dedup_sig *sig)
{
	static const char hex[] = "0123456789abcdef";
	char exact[2 * sizeof(sig->exact) + 1];
	unsigned char sketch[CLUSTER_SKETCH_B64 + 1];
	json_t *o, *bands;
	char *s = NULL;

	if (!cluster_node_valid(node) || doc_id == 0 || doc_id > INT64_MAX ||
	    url == NULL || sig == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(sig->exact); i++) {
		exact[2 * i] = hex[sig->exact[i] >> 4];
		exact[2 * i + 1] = hex[sig->exact[i] & 15];
	}
	exact[sizeof(exact) - 1] = '\0';
	EVP_EncodeBlock(sketch, sig->sketch, DEDUP_SKETCH_BYTES);
	if ((bands = json_array()) == NULL)
		return NULL;
	for (size_t j = 0; j < DEDUP_BANDS; j++)
		if (json_array_append_new(bands, json_integer(sig->bands[j])))
			goto out;
	o = json_pack("{s:s, s:I, s:s, s:s, s:I, s:b, s:O, s:s}",
	    "node", node, "doc", (json_int_t)doc_id, "url", url,
	    "exact", exact, "words", (json_int_t)sig->words,
	    "near", sig->near, "bands", bands, "sketch", (char *)sketch);
	if (o != NULL)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
out:
	json_decref(bands);
	return s;
}

static int
cluster_keys_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
cluster_keys_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return EINVAL;
}

/* An integer member in [min, max]. */
static bool
cluster_keys_int(json_t *o, const char *name, json_int_t min, json_int_t max,
    json_int_t *v)
{
	json_t *j = json_object_get(o, name);

	if (!json_is_integer(j))
		return false;
	*v = json_integer_value(j);
	return *v >= min && *v <= max;
}

/* A string member without NUL, of 1 to max bytes; NULL if not. */
static const char *
cluster_keys_str(json_t *o, const char *name, size_t max)
{
	json_t *j = json_object_get(o, name);
	const char *s;
	size_t len;

	if (!json_is_string(j))
		return NULL;
	s = json_string_value(j);
	len = json_string_length(j);
	if (len == 0 || len > max || strlen(s) != len)
		return NULL;
	return s;
}

static bool
cluster_keys_exact(const char *s, uint8_t *exact)
{
	if (s == NULL || strlen(s) != 32)
		return false;
	for (size_t i = 0; i < 16; i++) {
		int hi = cluster_hexval(s[2 * i]), lo = cluster_hexval(s[2 * i
		    + 1]);

		if (hi < 0 || lo < 0)
			return false;
		exact[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool
cluster_keys_bands(json_t *o, uint32_t *bands)
{
	json_t *a = json_object_get(o, "bands");

	if (!json_is_array(a) || json_array_size(a) != DEDUP_BANDS)
		return false;
	for (size_t j = 0; j < DEDUP_BANDS; j++) {
		json_t *b = json_array_get(a, j);

		if (!json_is_integer(b) || json_integer_value(b) < 0 ||
		    json_integer_value(b) > UINT32_MAX)
			return false;
		bands[j] = (uint32_t)json_integer_value(b);
	}
	return true;
}

/* Canonical base64 of exactly the sketch: EVP_DecodeBlock skips
 * surrounding blanks and counts padding as zero bytes, so the length is
 * checked first and the result encoded again to compare. */
static bool
cluster_keys_sketch(const char *s, uint8_t *sketch)
{
	unsigned char buf[DEDUP_SKETCH_BYTES + 3];
	unsigned char again[CLUSTER_SKETCH_B64 + 1];

	if (s == NULL || strlen(s) != CLUSTER_SKETCH_B64)
		return false;
	if (EVP_DecodeBlock(buf, (const unsigned char *)s,
	    CLUSTER_SKETCH_B64) < DEDUP_SKETCH_BYTES)
		return false;
	EVP_EncodeBlock(again, buf, DEDUP_SKETCH_BYTES);
	if (memcmp(again, s, CLUSTER_SKETCH_B64) != 0)
		return false;
	memcpy(sketch, buf, DEDUP_SKETCH_BYTES);
	return true;
}

/* Every member but the URL, into k. */
static int
cluster_keys_members(json_t *o, struct cluster_keys *k, char *err,
    size_t errlen)
{
	const char *node = cluster_keys_str(o, "node", CLUSTER_NODE_MAX);
	json_t *near = json_object_get(o, "near");
	json_int_t v;

	if (node == NULL || !cluster_node_valid(node))
		return cluster_keys_fail(err, errlen, "bad \"node\"");
	memcpy(k->node, node, strlen(node) + 1);
	if (!cluster_keys_int(o, "doc", 1, INT64_MAX, &v))
		return cluster_keys_fail(err, errlen, "bad \"doc\"");
	k->doc_id = (uint64_t)v;
	if (!cluster_keys_exact(cluster_keys_str(o, "exact", 32),
	    k->sig.exact))
		return cluster_keys_fail(err, errlen, "bad \"exact\"");
	if (!cluster_keys_int(o, "words", 0, UINT32_MAX, &v))
		return cluster_keys_fail(err, errlen, "bad \"words\"");
	k->sig.words = (uint32_t)v;
	if (!json_is_boolean(near))
		return cluster_keys_fail(err, errlen, "bad \"near\"");
	k->sig.near = json_is_true(near);
	if (!cluster_keys_bands(o, k->sig.bands))
		return cluster_keys_fail(err, errlen, "bad \"bands\"");
	if (!cluster_keys_sketch(cluster_keys_str(o, "sketch",
	    CLUSTER_SKETCH_B64), k->sig.sketch))
		return cluster_keys_fail(err, errlen, "bad \"sketch\"");
	return 0;
}

int
cluster_keys_decode(const char *body, size_t len, struct cluster_keys *out,
    char *err, size_t errlen)
{
	json_error_t jerr;
	const char *url;
	json_t *o;
	int rc;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return ENOMEM;
		return cluster_keys_fail(err, errlen, "not JSON: %s",
		    jerr.text);
	}
	if (!json_is_object(o)) {
		rc = cluster_keys_fail(err, errlen, "not an object");
		goto out;
	}
	if ((rc = cluster_keys_members(o, out, err, errlen)) != 0)
		goto out;
	url = cluster_keys_str(o, "url", CLUSTER_KEYS_URL_MAX);
	if (url == NULL) {
		rc = cluster_keys_fail(err, errlen, "bad \"url\"");
		goto out;
	}
	if ((out->url = strdup(url)) == NULL)
		rc = ENOMEM;
out:
	json_decref(o);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* The v2 entry: integers big-endian, as store.h writes them. */

int
cluster_keys_encode_bin(struct buf *out, const char *node, uint64_t doc_id,
    const char *url, const struct dedup_sig *sig)
{
	size_t nlen, ulen, len;
	unsigned char *p;

	if (!cluster_node_valid(node) || doc_id == 0 || doc_id > INT64_MAX ||
	    url == NULL || sig == NULL)
		return EINVAL;
	nlen = strlen(node);
	ulen = strlen(url);
	if (ulen == 0 || ulen > CLUSTER_KEYS_URL_MAX)
		return EINVAL;
	len = nlen + CLUSTER_KEYS_BIN_FIXED + ulen;
	/* Room first, so that the entry is written whole or not at all. */
	if (out->len > SIZE_MAX / 2 ||
	    buf_presize(out, out->len + 4 + len) != 0)
		return ENOMEM;
	p = (unsigned char *)out->data + out->len;
	store_put_be32(p, (uint32_t)len);
	p += 4;
	*p++ = (unsigned char)nlen;
	memcpy(p, node, nlen);
	p += nlen;
	store_put_be64(p, doc_id);
	p += 8;
	memcpy(p, sig->exact, sizeof(sig->exact));
	p += sizeof(sig->exact);
	store_put_be32(p, sig->words);
	p += 4;
	*p++ = sig->near ? 1 : 0;
	for (size_t j = 0; j < DEDUP_BANDS; j++, p += 4)
		store_put_be32(p, sig->bands[j]);
	memcpy(p, sig->sketch, DEDUP_SKETCH_BYTES);
	p += DEDUP_SKETCH_BYTES;
	store_put_be32(p, (uint32_t)ulen);
	p += 4;
	memcpy(p, url, ulen);
	out->len += 4 + len;
	out->data[out->len] = '\0';
	return 0;
}

static int
cluster_keys_bin(const char *entry, size_t len, struct cluster_keys *out,
    char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)entry;
	size_t nlen, ulen;
	uint64_t doc;

	if (len < CLUSTER_KEYS_BIN_FIXED)
		return cluster_keys_fail(err, errlen, "entry of %zu bytes "
		    "too short", len);
	nlen = *p++;
	if (nlen == 0 || nlen > CLUSTER_NODE_MAX ||
	    len < nlen + CLUSTER_KEYS_BIN_FIXED ||
	    memchr(p, '\0', nlen) != NULL)
		return cluster_keys_fail(err, errlen, "bad node");
	memcpy(out->node, p, nlen);
	out->node[nlen] = '\0';
	p += nlen;
	if (!cluster_node_valid(out->node))
		return cluster_keys_fail(err, errlen, "bad node");
	doc = store_get_be64(p);
	p += 8;
	if (doc == 0 || doc > INT64_MAX)
		return cluster_keys_fail(err, errlen, "bad doc");
	out->doc_id = doc;
	memcpy(out->sig.exact, p, sizeof(out->sig.exact));
	p += sizeof(out->sig.exact);
	out->sig.words = store_get_be32(p);
	p += 4;
	if (*p > 1)
		return cluster_keys_fail(err, errlen, "bad near");
	out->sig.near = *p++ == 1;
	for (size_t j = 0; j < DEDUP_BANDS; j++, p += 4)
		out->sig.bands[j] = store_get_be32(p);
	memcpy(out->sig.sketch, p, DEDUP_SKETCH_BYTES);
	p += DEDUP_SKETCH_BYTES;
	ulen = store_get_be32(p);
	p += 4;
	/* What is left is the URL, all of it. */
	if (ulen == 0 || ulen > CLUSTER_KEYS_URL_MAX ||
	    ulen != len - (size_t)(p - (const unsigned char *)entry) ||
	    memchr(p, '\0', ulen) != NULL)
		return cluster_keys_fail(err, errlen, "bad url");
	if ((out->url = malloc(ulen + 1)) == NULL)
		return ENOMEM;
	memcpy(out->url, p, ulen);
	out->url[ulen] = '\0';
	return 0;
}

int
cluster_keys_decode_bin(const char *entry, size_t len,
    struct cluster_keys *out, char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	if ((rc = cluster_keys_bin(entry, len, out, err, errlen)) != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
cluster_keys_next(const char *body, size_t len, size_t *off,
    const char **entry, size_t *entrylen, enum cluster_keys_format *fmt)
{
	uint32_t n;

	if (len < CLUSTER_KEYS_V2_LEN ||
	    memcmp(body, CLUSTER_KEYS_V2, CLUSTER_KEYS_V2_LEN) != 0) {
		*fmt = CLUSTER_KEYS_FMT_V1;
		return cluster_body_line(body, len, off, entry, entrylen);
	}
	*fmt = CLUSTER_KEYS_FMT_V2;
	if (*off < CLUSTER_KEYS_V2_LEN)
		*off = CLUSTER_KEYS_V2_LEN;
	if (*off >= len)
		return 0;
	if (len - *off < 4) {
		*off = len;
		return -1;
	}
	n = store_get_be32((const unsigned char *)body + *off);
	if (n > len - *off - 4) {
		*off = len;
		return -1;
	}
	*entry = body + *off + 4;
	*entrylen = n;
	*off += 4 + (size_t)n;
	return 1;
}

int
cluster_keys_decode_any(enum cluster_keys_format fmt, const char *entry,
    size_t len, struct cluster_keys *out, char *err, size_t errlen)
{
	if (fmt == CLUSTER_KEYS_FMT_V2)
		return cluster_keys_decode_bin(entry, len, out, err, errlen);
	return cluster_keys_decode(entry, len, out, err, errlen);
}

bool
cluster_body_line(const char *body, size_t len, size_t *off,
    const char **line, size_t *linelen)
{
	while (*off < len) {
		const char *p = body + *off;
		const char *nl = memchr(p, '\n', len - *off);
		size_t n = nl != NULL ? (size_t)(nl - p) : len - *off;

		*off += n + (nl != NULL);
		if (n > 0) {
			*line = p;
			*linelen = n;
			return true;
		}
	}
	return false;
}

void
cluster_keys_free(struct cluster_keys *k)
{
	free(k->url);
	k->url = NULL;
}
