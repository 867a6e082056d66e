/*
 * test_cluster_index.c - the cluster-wide dedup ordering rule (the same
 * entries in the same order give the same verdicts everywhere; exact,
 * near and earliest-wins; sequences only forward; the entry bound) and
 * the SLUICE_KEYS body's encoding, with malformed bodies refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cluster_index.h"

#define WORDS	300

static uint64_t
next_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

/* A text of WORDS pseudo-random words from seed, where the words
 * [from, from + n) come from seed2 instead. */
static void
text_sig(uint64_t seed, size_t from, size_t n, uint64_t seed2,
    struct dedup_sig *sig)
{
	char *buf = malloc(WORDS * 12 + 1), *p = buf;
	uint64_t s = seed, s2 = seed2;

	assert_non_null(buf);
	for (size_t i = 0; i < WORDS; i++) {
		uint64_t r = next_rand(&s), r2 = next_rand(&s2);

		if (i >= from && i < from + n)
			r = r2;
		p += sprintf(p, "w%08x ", (unsigned)(r & 0xffffffff));
	}
	dedup_signature(buf, (size_t)(p - buf), NULL, sig);
	assert_true(sig->near);
	free(buf);
}

static void
verdict_equal(const struct cluster_verdict *a, const struct cluster_verdict *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_true(a->seq == b->seq);
	assert_true(a->doc_id == b->doc_id);
	assert_true(a->similarity == b->similarity);
	assert_int_equal(a->indexed, b->indexed);
	if (a->kind == DEDUP_NONE) {
		assert_null(a->url);
		assert_null(b->url);
		return;
	}
	assert_string_equal(a->node, b->node);
	assert_string_equal(a->url, b->url);
}

/* Many entries, some copies of others, near or exact, on two indexes. */
static void
test_same_order(void **state)
{
	struct cluster_index *a = cluster_index_new(0.8, 0);
	struct cluster_index *b = cluster_index_new(0.8, 0);
	struct cluster_verdict va, vb;
	struct dedup_sig sig;
	uint64_t r = 7, seq = 100;
	size_t kinds[3] = { 0 };
	char url[64];

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < 400; i++) {
		uint64_t base = next_rand(&r) % 60;

		/* Some bases exact, some edited a little or a lot. */
		text_sig(base, next_rand(&r) % WORDS, next_rand(&r) % 3 * 12,
		    i, &sig);
		snprintf(url, sizeof(url), "http://127.0.0.1/%zu", i);
		seq += 1 + next_rand(&r) % 3;
		assert_int_equal(cluster_index_apply(a, seq, "n1", i + 1, &sig,
		    url, &va), 0);
		assert_int_equal(cluster_index_apply(b, seq, "n1", i + 1, &sig,
		    url, &vb), 0);
		verdict_equal(&va, &vb);
		assert_true(va.candidates <= CLUSTER_INDEX_CANDIDATES);
		kinds[va.kind]++;
	}
	assert_true(kinds[DEDUP_NONE] > 0);
	assert_true(kinds[DEDUP_EXACT] > 0);
	assert_true(kinds[DEDUP_NEAR] > 0);
	assert_int_equal(cluster_index_entries(a), kinds[DEDUP_NONE]);
	assert_true(cluster_index_last_seq(a) == seq);
	cluster_index_free(a);
	cluster_index_free(b);
}

static void
test_exact_earliest(void **state)
{
	struct cluster_index *idx = cluster_index_new(0.8, 0);
	struct dedup_sig x, y, x2;
	struct cluster_verdict v;

	(void)state;
	text_sig(1, 0, 0, 0, &x);
	text_sig(2, 0, 0, 0, &y);
	text_sig(1, 100, 4, 9, &x2);	/* near x */
	assert_int_equal(cluster_index_apply(idx, 3, "n1", 10, &x,
	    "http://127.0.0.1/x", &v), 0);
	assert_int_equal(v.kind, DEDUP_NONE);
	assert_true(v.indexed);
	assert_int_equal(cluster_index_apply(idx, 4, "n2", 20, &y,
	    "http://127.0.0.1/y", &v), 0);
	assert_int_equal(v.kind, DEDUP_NONE);
	for (uint64_t seq = 5; seq < 8; seq++) {
		assert_int_equal(cluster_index_apply(idx, seq, "n3", seq, &x,
		    "http://127.0.0.1/x-again", &v), 0);
		assert_int_equal(v.kind, DEDUP_EXACT);
		assert_true(v.similarity == 1.0);
		assert_true(v.seq == 3);
		assert_true(v.doc_id == 10);
		assert_string_equal(v.node, "n1");
		assert_string_equal(v.url, "http://127.0.0.1/x");
		assert_false(v.indexed);
	}
	/* A copy of a duplicate names the first copy, as in dedup.c: only
	 * first copies are indexed. */
	assert_int_equal(cluster_index_apply(idx, 8, "n2", 30, &x2,
	    "http://127.0.0.1/x2", &v), 0);
	assert_int_equal(v.kind, DEDUP_NEAR);
	assert_true(v.seq == 3);
	assert_int_equal(cluster_index_apply(idx, 9, "n3", 31, &x2,
	    "http://127.0.0.1/x2-again", &v), 0);
	assert_int_equal(v.kind, DEDUP_NEAR);
	assert_true(v.seq == 3);
	assert_int_equal(cluster_index_entries(idx), 2);
	cluster_index_free(idx);
}

/* Over the threshold links, under it does not; of two matches over it,
 * the earliest wins even if the later is more similar. */
static void
test_near(void **state)
{
	struct cluster_index *idx = cluster_index_new(0.8, 0);
	struct dedup_sig base, a1, a2, far;
	struct cluster_verdict v;

	(void)state;
	text_sig(5, 0, 0, 0, &base);
	text_sig(5, 20, 22, 11, &a1);
	text_sig(5, 150, 10, 12, &a2);
	text_sig(5, 100, 60, 13, &far);
	/* The construction's premises. */
	assert_true(dedup_similarity(&base, &a1) >= 0.8);
	assert_true(dedup_similarity(&base, &a2) >
	    dedup_similarity(&base, &a1));
	assert_true(dedup_similarity(&a1, &a2) < 0.8);
	assert_true(dedup_similarity(&base, &far) < 0.8);
	assert_true(dedup_similarity(&base, &far) > 0.3);

	assert_int_equal(cluster_index_apply(idx, 1, "n1", 1, &a1,
	    "http://127.0.0.1/a1", &v), 0);
	assert_int_equal(v.kind, DEDUP_NONE);
	assert_int_equal(cluster_index_apply(idx, 2, "n2", 2, &a2,
	    "http://127.0.0.1/a2", &v), 0);
	assert_int_equal(v.kind, DEDUP_NONE);
	assert_int_equal(cluster_index_apply(idx, 3, "n1", 3, &base,
	    "http://127.0.0.1/base", &v), 0);
	assert_int_equal(v.kind, DEDUP_NEAR);
	assert_true(v.seq == 1);
	assert_string_equal(v.url, "http://127.0.0.1/a1");
	assert_true(v.similarity == dedup_similarity(&base, &a1));
	assert_true(v.candidates >= 1);
	assert_false(v.indexed);
	/* Under the threshold against everything indexed: a first copy. */
	assert_int_equal(cluster_index_apply(idx, 4, "n3", 4, &far,
	    "http://127.0.0.1/far", &v), 0);
	assert_int_equal(v.kind, DEDUP_NONE);
	assert_true(v.indexed);
	cluster_index_free(idx);

	/* The threshold is the caller's. */
	idx = cluster_index_new(0.3, 0);
	assert_int_equal(cluster_index_apply(idx, 1, "n1", 1, &base,
	    "http://127.0.0.1/base", &v), 0);
	assert_int_equal(cluster_index_apply(idx, 2, "n1", 2, &far,
	    "http://127.0.0.1/far", &v), 0);
	assert_int_equal(v.kind, DEDUP_NEAR);
	cluster_index_free(idx);
}

static void
test_seq_order(void **state)
{
	struct cluster_index *idx = cluster_index_new(0.8, 0);
	struct cluster_index *again = cluster_index_new(0.8, 0);
	struct cluster_verdict v, w[6];
	struct dedup_sig sig[6];

	(void)state;
	for (size_t i = 0; i < 6; i++)
		text_sig(i % 3, 0, 0, 0, &sig[i]);
	assert_int_equal(cluster_index_apply(idx, 5, "n1", 1, &sig[0],
	    "http://127.0.0.1/", &v), 0);
	assert_int_equal(cluster_index_apply(idx, 5, "n1", 2, &sig[1],
	    "http://127.0.0.1/", &v), EALREADY);
	assert_int_equal(cluster_index_apply(idx, 4, "n1", 2, &sig[1],
	    "http://127.0.0.1/", &v), EALREADY);
	assert_int_equal(cluster_index_apply(idx, 0, "n1", 2, &sig[1],
	    "http://127.0.0.1/", &v), EALREADY);
	assert_int_equal(v.kind, DEDUP_NONE);
	assert_int_equal(cluster_index_entries(idx), 1);
	assert_true(cluster_index_last_seq(idx) == 5);
	assert_int_equal(cluster_index_apply(idx, 6, "bad.name", 2, &sig[1],
	    "http://127.0.0.1/", &v), EINVAL);
	assert_true(cluster_index_last_seq(idx) == 5);
	cluster_index_free(idx);

	/* A replay that skips what was seen ends as a single pass. */
	idx = cluster_index_new(0.8, 0);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(cluster_index_apply(idx, i + 1, "n1", i + 1,
		    &sig[i], "http://127.0.0.1/", &w[i]), 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(cluster_index_apply(again, i + 1, "n1", i + 1,
		    &sig[i], "http://127.0.0.1/", &v), 0);
	for (size_t i = 0; i < 6; i++) {
		int rc = cluster_index_apply(again, i + 1, "n1", i + 1,
		    &sig[i], "http://127.0.0.1/", &v);

		if (i < 3) {
			assert_int_equal(rc, EALREADY);
			continue;
		}
		assert_int_equal(rc, 0);
		verdict_equal(&v, &w[i]);
	}
	assert_int_equal(w[3].kind, DEDUP_EXACT);
	assert_true(w[3].seq == 1);
	cluster_index_free(idx);
	cluster_index_free(again);
}

/* Past max_entries first copies are answered, not indexed. */
static void
test_full(void **state)
{
	struct cluster_index *idx = cluster_index_new(0.8, 2);
	struct dedup_sig a, b, c, none;
	struct cluster_verdict v;

	(void)state;
	text_sig(1, 0, 0, 0, &a);
	text_sig(2, 0, 0, 0, &b);
	text_sig(3, 0, 0, 0, &c);
	dedup_signature("", 0, NULL, &none);
	assert_int_equal(none.words, 0);
	/* No word: nobody's copy, never indexed. */
	assert_int_equal(cluster_index_apply(idx, 1, "n1", 1, &none,
	    "http://127.0.0.1/empty", &v), 0);
	assert_int_equal(v.kind, DEDUP_NONE);
	assert_false(v.indexed);
	assert_int_equal(cluster_index_apply(idx, 2, "n1", 2, &none,
	    "http://127.0.0.1/empty2", &v), 0);
	assert_int_equal(v.kind, DEDUP_NONE);
	assert_int_equal(cluster_index_apply(idx, 3, "n1", 3, &a,
	    "http://127.0.0.1/a", &v), 0);
	assert_true(v.indexed);
	assert_int_equal(cluster_index_apply(idx, 4, "n1", 4, &b,
	    "http://127.0.0.1/b", &v), 0);
	assert_true(v.indexed);
	assert_false(cluster_index_full(idx));
	assert_int_equal(cluster_index_apply(idx, 5, "n1", 5, &c,
	    "http://127.0.0.1/c", &v), 0);
	assert_int_equal(v.kind, DEDUP_NONE);
	assert_false(v.indexed);
	assert_true(cluster_index_full(idx));
	assert_int_equal(cluster_index_apply(idx, 6, "n1", 6, &c,
	    "http://127.0.0.1/c2", &v), 0);
	assert_int_equal(v.kind, DEDUP_NONE);	/* not recognised */
	assert_int_equal(cluster_index_apply(idx, 7, "n1", 7, &a,
	    "http://127.0.0.1/a2", &v), 0);
	assert_int_equal(v.kind, DEDUP_EXACT);
	assert_true(v.seq == 3);
	assert_int_equal(cluster_index_entries(idx), 2);
	assert_true(cluster_index_memory(idx) > 2 * sizeof(struct dedup_sig));
	cluster_index_free(idx);
}

static void
sig_equal(const struct dedup_sig *a, const struct dedup_sig *b)
{
	assert_memory_equal(a->exact, b->exact, sizeof(a->exact));
	assert_int_equal(a->words, b->words);
	assert_int_equal(a->near, b->near);
	assert_memory_equal(a->bands, b->bands, sizeof(a->bands));
	assert_memory_equal(a->sketch, b->sketch, sizeof(a->sketch));
}

/* The round trips' entry: node-1_A, doc, a URL with quotes and a
 * backslash, sig. */
static void
keys_equal(const struct cluster_keys *k, uint64_t doc,
    const struct dedup_sig *sig)
{
	assert_string_equal(k->node, "node-1_A");
	assert_true(k->doc_id == doc);
	assert_string_equal(k->url, "http://127.0.0.1:8080/p?q=\"1\"&r=\\");
	sig_equal(&k->sig, sig);
}

/* The round trips' signatures: a near one, one too short to be near,
 * and one with every field at its extreme. */
static void
round_trip_sigs(struct dedup_sig sig[3])
{
	text_sig(42, 0, 0, 0, &sig[0]);
	dedup_signature("a few words only", 16, NULL, &sig[1]);
	assert_false(sig[1].near);
	memset(&sig[2], 0xff, sizeof(sig[2]));
	sig[2].near = true;
}

static void
test_round_trip(void **state)
{
	struct dedup_sig sig[3];
	struct cluster_keys k;
	char err[128], *body;

	(void)state;
	round_trip_sigs(sig);
	for (size_t i = 0; i < 3; i++) {
		body = cluster_keys_encode("node-1_A", INT64_MAX - i,
		    "http://127.0.0.1:8080/p?q=\"1\"&r=\\", &sig[i]);
		assert_non_null(body);
		assert_int_equal(cluster_keys_decode(body, strlen(body), &k,
		    err, sizeof(err)), 0);
		keys_equal(&k, INT64_MAX - i, &sig[i]);
		cluster_keys_free(&k);
		free(body);
	}
	assert_null(cluster_keys_encode("a.b", 1, "http://127.0.0.1/",
	    &sig[0]));
	assert_null(cluster_keys_encode("a", 0, "http://127.0.0.1/",
	    &sig[0]));
	assert_null(cluster_keys_encode("a", (uint64_t)INT64_MAX + 1,
	    "http://127.0.0.1/", &sig[0]));
	assert_null(cluster_keys_encode("a", 1, NULL, &sig[0]));
}

/* A valid body as a JSON object, to spoil one member at a time. */
static json_t *
good_body(void)
{
	struct dedup_sig sig;
	json_error_t jerr;
	json_t *o;
	char *body;

	text_sig(42, 0, 0, 0, &sig);
	body = cluster_keys_encode("n1", 9, "http://127.0.0.1/", &sig);
	assert_non_null(body);
	o = json_loads(body, 0, &jerr);
	assert_non_null(o);
	free(body);
	return o;
}

static void
expect_rejected(json_t *o, const char *why)
{
	struct cluster_keys k;
	char err[128], *body = json_dumps(o, JSON_COMPACT);
	int rc;

	assert_non_null(body);
	rc = cluster_keys_decode(body, strlen(body), &k, err, sizeof(err));
	if (rc != EINVAL)
		fail_msg("%s: accepted (%d)", why, rc);
	assert_true(err[0] != '\0');
	assert_null(k.url);
	free(body);
	json_decref(o);
}

/* The sketch's base64 with character i replaced by c. */
static json_t *
spoil_sketch(json_t *o, size_t i, char c)
{
	char *s = strdup(json_string_value(json_object_get(o, "sketch")));

	assert_non_null(s);
	s[i] = c;
	json_object_set_new(o, "sketch", json_string(s));
	free(s);
	return o;
}

static void
test_malformed(void **state)
{
	static const char *raw[] = {
		"", "{", "[]", "null", "42", "\"x\"", "{}",
		"{\"node\":\"n1\",\"node\":\"n2\"}",
	};
	static const char *members[] = { "node", "doc", "url", "exact",
	    "words", "near", "bands", "sketch" };
	struct {
		const char *member;
		const char *json;
	} bad[] = {
		{ "node", "\"\"" }, { "node", "\"a.b\"" }, { "node", "1" },
		{ "node", "\"n\\u0000x\"" }, { "node", "null" },
		{ "node", "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxx\"" },
		{ "doc", "0" }, { "doc", "-1" }, { "doc", "1.5" },
		{ "doc", "\"1\"" }, { "doc", "true" },
		{ "url", "\"\"" }, { "url", "7" }, { "url", "[]" },
		{ "url", "\"http://127.0.0.1/\\u0000\"" },
		{ "exact", "\"00112233445566778899aabbccddeef\"" },
		{ "exact", "\"00112233445566778899aabbccddeeff0\"" },
		{ "exact", "\"00112233445566778899AABBCCDDEEFF\"" },
		{ "exact", "\"00112233445566778899aabbccddeefg\"" },
		{ "exact", "17" },
		{ "words", "-1" }, { "words", "4294967296" },
		{ "words", "1.0" }, { "words", "\"3\"" },
		{ "near", "1" }, { "near", "\"true\"" }, { "near", "null" },
		{ "bands", "[1,2,3,4,5,6,7,8,9,10,11,12,13]" },
		{ "bands", "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]" },
		{ "bands", "[1,2,3,4,5,6,7,8,9,10,11,12,13,-1]" },
		{ "bands", "[1,2,3,4,5,6,7,8,9,10,11,12,13,4294967296]" },
		{ "bands", "[1,2,3,4,5,6,7,8,9,10,11,12,13,1.0]" },
		{ "bands", "[1,2,3,4,5,6,7,8,9,10,11,12,13,\"1\"]" },
		{ "bands", "{}" },
		{ "sketch", "\"\"" }, { "sketch", "\"AAAA\"" },
		{ "sketch", "0" },
	};
	struct cluster_keys k;
	char err[128], why[64];
	json_error_t jerr;
	json_t *o;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		assert_int_equal(cluster_keys_decode(raw[i], strlen(raw[i]),
		    &k, err, sizeof(err)), EINVAL);
		assert_null(k.url);
	}
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		o = good_body();
		assert_int_equal(json_object_del(o, members[i]), 0);
		expect_rejected(o, members[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *v = json_loads(bad[i].json, JSON_DECODE_ANY |
		    JSON_ALLOW_NUL, &jerr);

		assert_non_null(v);
		o = good_body();
		json_object_set_new(o, bad[i].member, v);
		snprintf(why, sizeof(why), "%s: %s", bad[i].member,
		    bad[i].json);
		expect_rejected(o, why);
	}
	/* The sketch: a bad character, padding in the middle, a blank,
	 * non-zero bits under the padding, a missing pad. */
	o = good_body();
	len = strlen(json_string_value(json_object_get(o, "sketch")));
	assert_int_equal(len, 1324);
	expect_rejected(spoil_sketch(o, 10, '*'), "sketch *");
	expect_rejected(spoil_sketch(good_body(), 10, '='), "sketch =");
	expect_rejected(spoil_sketch(good_body(), 0, ' '), "sketch blank");
	expect_rejected(spoil_sketch(good_body(), len - 1, 'A'), "no pad");
	o = good_body();
	{
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *s = json_string_value(json_object_get(o, "sketch"));
		const char *c = strchr(b64, s[len - 2]);

		/* The last character carries 4 bits of data and 2 of
		 * nothing: setting those must not pass. */
		assert_non_null(c);
		assert_int_equal((c - b64) % 4, 0);
		expect_rejected(spoil_sketch(o, len - 2, c[1]), "sketch bits");
	}
	/* The URL bound. */
	{
		char *u = malloc(CLUSTER_KEYS_URL_MAX + 2);

		assert_non_null(u);
		memset(u, 'a', CLUSTER_KEYS_URL_MAX + 1);
		u[CLUSTER_KEYS_URL_MAX + 1] = '\0';
		o = good_body();
		json_object_set_new(o, "url", json_string(u));
		expect_rejected(o, "long url");
		free(u);
	}
	/* Unknown members are ignored; the good body passes. */
	o = good_body();
	json_object_set_new(o, "later", json_integer(1));
	{
		char *body = json_dumps(o, JSON_COMPACT);

		assert_int_equal(cluster_keys_decode(body, strlen(body), &k,
		    err, sizeof(err)), 0);
		cluster_keys_free(&k);
		free(body);
	}
	json_decref(o);
}

/* A body's entries, one per line, in order; blank lines and a missing
 * last newline are fine, and each line decodes on its own. */
static void
test_lines(void **state)
{
	struct dedup_sig sig;
	char *a, *b, *body, err[256];
	const char *line;
	size_t off = 0, len, n = 0;
	struct cluster_keys k;

	(void)state;
	memset(&sig, 0, sizeof(sig));
	sig.words = 3;
	a = cluster_keys_encode("n1", 1, "http://127.0.0.1/a", &sig);
	b = cluster_keys_encode("n1", 2, "http://127.0.0.1/b", &sig);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(strchr(a, '\n'));
	body = malloc(strlen(a) + strlen(b) + 4);
	assert_non_null(body);
	sprintf(body, "%s\n\n%s", a, b);
	while (cluster_body_line(body, strlen(body), &off, &line, &len)) {
		assert_int_equal(cluster_keys_decode(line, len, &k, err,
		    sizeof(err)), 0);
		assert_int_equal(k.doc_id, ++n);
		cluster_keys_free(&k);
	}
	assert_int_equal(n, 2);
	assert_int_equal(off, strlen(body));
	off = 0;
	assert_false(cluster_body_line("\n\n", 2, &off, &line, &len));
	free(a);
	free(b);
	free(body);
}

/* --- v2, the binary entry ------------------------------------------ */

/* Bytes of a v2 entry's fields, from its start (the length excluded),
 * for a node name of nlen bytes. */
#define BIN_DOC(nlen)	(1 + (nlen))
#define BIN_NEAR(nlen)	(BIN_DOC(nlen) + 8 + 16 + 4)
#define BIN_URL(nlen)	(BIN_NEAR(nlen) + 1 + 4 * DEDUP_BANDS + \
	DEDUP_SKETCH_BYTES)

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t
get32(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
test_bin_round_trip(void **state)
{
	struct dedup_sig sig[3];
	struct cluster_keys k;
	struct buf b, again;
	char err[128], *url;
	size_t len;

	(void)state;
	round_trip_sigs(sig);
	buf_init(&b, SIZE_MAX / 2);
	buf_init(&again, SIZE_MAX / 2);
	for (size_t i = 0; i < 3; i++) {
		buf_reset(&b);
		assert_int_equal(cluster_keys_encode_bin(&b, "node-1_A",
		    INT64_MAX - i, "http://127.0.0.1:8080/p?q=\"1\"&r=\\",
		    &sig[i]), 0);
		len = 8 + CLUSTER_KEYS_BIN_FIXED + 33;
		assert_int_equal(b.len, 4 + len);
		assert_int_equal(get32(b.data), len);
		assert_int_equal(cluster_keys_decode_bin(b.data + 4, len, &k,
		    err, sizeof(err)), 0);
		keys_equal(&k, INT64_MAX - i, &sig[i]);
		/* One encoding only. */
		buf_reset(&again);
		assert_int_equal(cluster_keys_encode_bin(&again, k.node,
		    k.doc_id, k.url, &k.sig), 0);
		assert_int_equal(again.len, b.len);
		assert_memory_equal(again.data, b.data, b.len);
		cluster_keys_free(&k);
	}
	/* The bounds pass: a 64-byte node name, doc 1, the longest URL. */
	url = malloc(CLUSTER_KEYS_URL_MAX + 2);
	assert_non_null(url);
	memset(url, 'u', CLUSTER_KEYS_URL_MAX);
	url[CLUSTER_KEYS_URL_MAX] = '\0';
	buf_reset(&b);
	assert_int_equal(cluster_keys_encode_bin(&b, "nnnnnnnnnnnnnnnnnnnnnnnn"
	    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", 1, url, &sig[0]), 0);
	assert_int_equal(cluster_keys_decode_bin(b.data + 4, b.len - 4, &k,
	    err, sizeof(err)), 0);
	assert_int_equal(strlen(k.node), CLUSTER_NODE_MAX);
	assert_int_equal(k.doc_id, 1);
	assert_int_equal(strlen(k.url), CLUSTER_KEYS_URL_MAX);
	cluster_keys_free(&k);
	/* What the JSON encoder refuses, and more: the buffer unchanged. */
	buf_reset(&b);
	assert_int_equal(buf_append(&b, "x", 1), 0);
	assert_int_equal(cluster_keys_encode_bin(&b, "a.b", 1,
	    "http://127.0.0.1/", &sig[0]), EINVAL);
	assert_int_equal(cluster_keys_encode_bin(&b, "a", 0,
	    "http://127.0.0.1/", &sig[0]), EINVAL);
	assert_int_equal(cluster_keys_encode_bin(&b, "a",
	    (uint64_t)INT64_MAX + 1, "http://127.0.0.1/", &sig[0]), EINVAL);
	assert_int_equal(cluster_keys_encode_bin(&b, "a", 1, NULL, &sig[0]),
	    EINVAL);
	assert_int_equal(cluster_keys_encode_bin(&b, "a", 1, "", &sig[0]),
	    EINVAL);
	assert_int_equal(cluster_keys_encode_bin(&b, "a", 1,
	    "http://127.0.0.1/", NULL), EINVAL);
	url[CLUSTER_KEYS_URL_MAX] = 'u';
	url[CLUSTER_KEYS_URL_MAX + 1] = '\0';
	assert_int_equal(cluster_keys_encode_bin(&b, "a", 1, url, &sig[0]),
	    EINVAL);
	assert_int_equal(b.len, 1);
	buf_free(&b);
	/* The buffer's max. */
	buf_init(&b, 4 + 1 + CLUSTER_KEYS_BIN_FIXED + 17 + 1 + 16);
	assert_int_equal(cluster_keys_encode_bin(&b, "a", 1,
	    "http://127.0.0.1/", &sig[0]), 0);
	assert_int_equal(cluster_keys_encode_bin(&b, "a", 2,
	    "http://127.0.0.1/", &sig[0]), ENOMEM);
	assert_int_equal(b.len, 4 + 1 + CLUSTER_KEYS_BIN_FIXED + 17);
	buf_free(&b);
	buf_free(&again);
	free(url);
}

/* A good entry (node "n1", doc 9, URL "http://127.0.0.1/"), without its
 * length, in a malloc'd copy of *len bytes with room for one more. */
static char *
good_bin(size_t *len)
{
	struct dedup_sig sig;
	struct buf b;
	char *e;

	text_sig(42, 0, 0, 0, &sig);
	buf_init(&b, SIZE_MAX / 2);
	assert_int_equal(cluster_keys_encode_bin(&b, "n1", 9,
	    "http://127.0.0.1/", &sig), 0);
	*len = b.len - 4;
	e = malloc(*len + 1);
	assert_non_null(e);
	memcpy(e, b.data + 4, *len);
	e[*len] = 'x';
	buf_free(&b);
	return e;
}

static void
expect_bin_rejected(const char *e, size_t len, const char *why)
{
	struct cluster_keys k;
	char err[128];
	int rc;

	rc = cluster_keys_decode_bin(e, len, &k, err, sizeof(err));
	if (rc != EINVAL)
		fail_msg("%s: accepted (%d)", why, rc);
	assert_true(err[0] != '\0');
	assert_null(k.url);
}

static void
test_bin_malformed(void **state)
{
	struct cluster_keys k;
	char err[128], *e, *big;
	size_t len, url = BIN_URL(2);

	(void)state;
	e = good_bin(&len);
	assert_int_equal(len, url + 4 + 17);
	assert_int_equal(cluster_keys_decode_bin(e, len, &k, err,
	    sizeof(err)), 0);
	cluster_keys_free(&k);
	/* Cut anywhere, or a byte more. */
	for (size_t n = 0; n < len; n++)
		expect_bin_rejected(e, n, "truncated");
	expect_bin_rejected(e, len + 1, "trailing byte");
	/* The node name. */
	e[0] = 0;
	expect_bin_rejected(e, len, "node length 0");
	e[0] = CLUSTER_NODE_MAX + 1;
	expect_bin_rejected(e, len, "node length 65");
	e[0] = (char)255;
	expect_bin_rejected(e, len, "node length 255");
	e[0] = 3;
	expect_bin_rejected(e, len, "node length 3");
	e[0] = 2;
	e[2] = '.';
	expect_bin_rejected(e, len, "node a.");
	e[2] = '\0';
	expect_bin_rejected(e, len, "node NUL");
	e[2] = '1';
	/* The doc id. */
	put64((unsigned char *)e + BIN_DOC(2), 0);
	expect_bin_rejected(e, len, "doc 0");
	put64((unsigned char *)e + BIN_DOC(2), (uint64_t)INT64_MAX + 1);
	expect_bin_rejected(e, len, "doc INT64_MAX + 1");
	put64((unsigned char *)e + BIN_DOC(2), UINT64_MAX);
	expect_bin_rejected(e, len, "doc UINT64_MAX");
	put64((unsigned char *)e + BIN_DOC(2), 9);
	/* Near: 0 or 1. */
	e[BIN_NEAR(2)] = 2;
	expect_bin_rejected(e, len, "near 2");
	e[BIN_NEAR(2)] = (char)0x81;
	expect_bin_rejected(e, len, "near 0x81");
	e[BIN_NEAR(2)] = 1;
	/* The URL: its length must be the rest, 1 to the max, no NUL. */
	put32((unsigned char *)e + url, 0);
	expect_bin_rejected(e, url + 4, "url length 0");
	put32((unsigned char *)e + url, 16);
	expect_bin_rejected(e, len, "url length short");
	put32((unsigned char *)e + url, 18);
	expect_bin_rejected(e, len, "url length long");
	put32((unsigned char *)e + url, UINT32_MAX);
	expect_bin_rejected(e, len, "url length 2^32-1");
	put32((unsigned char *)e + url, 17);
	e[url + 4 + 5] = '\0';
	expect_bin_rejected(e, len, "url NUL");
	e[url + 4 + 5] = '/';
	assert_int_equal(cluster_keys_decode_bin(e, len, &k, err,
	    sizeof(err)), 0);
	cluster_keys_free(&k);
	/* A URL a byte over the max. */
	big = malloc(url + 4 + CLUSTER_KEYS_URL_MAX + 1);
	assert_non_null(big);
	memcpy(big, e, url);
	put32((unsigned char *)big + url, CLUSTER_KEYS_URL_MAX + 1);
	memset(big + url + 4, 'u', CLUSTER_KEYS_URL_MAX + 1);
	expect_bin_rejected(big, url + 4 + CLUSTER_KEYS_URL_MAX + 1,
	    "long url");
	put32((unsigned char *)big + url, CLUSTER_KEYS_URL_MAX);
	assert_int_equal(cluster_keys_decode_bin(big, url + 4 +
	    CLUSTER_KEYS_URL_MAX, &k, err, sizeof(err)), 0);
	cluster_keys_free(&k);
	free(big);
	free(e);
}

/* The iterator: a v2 body's entries with their format, v1 lines as
 * before, and a frame past the end. */
static void
test_iter(void **state)
{
	struct dedup_sig sig;
	struct cluster_keys k;
	enum cluster_keys_format fmt;
	struct buf b;
	const char *entry;
	char err[128], *a, *v1;
	size_t off = 0, len, n = 0;

	(void)state;
	text_sig(7, 0, 0, 0, &sig);
	buf_init(&b, SIZE_MAX / 2);
	assert_int_equal(buf_append(&b, CLUSTER_KEYS_V2,
	    CLUSTER_KEYS_V2_LEN), 0);
	assert_int_equal(cluster_keys_encode_bin(&b, "n1", 1,
	    "http://127.0.0.1/a", &sig), 0);
	assert_int_equal(cluster_keys_encode_bin(&b, "n2", 2,
	    "http://127.0.0.1/b", &sig), 0);
	while (cluster_keys_next(b.data, b.len, &off, &entry, &len,
	    &fmt) == 1) {
		assert_int_equal(fmt, CLUSTER_KEYS_FMT_V2);
		assert_int_equal(cluster_keys_decode_any(fmt, entry, len, &k,
		    err, sizeof(err)), 0);
		assert_int_equal(k.doc_id, ++n);
		assert_string_equal(k.node, n == 1 ? "n1" : "n2");
		sig_equal(&k.sig, &sig);
		cluster_keys_free(&k);
	}
	assert_int_equal(n, 2);
	assert_int_equal(off, b.len);
	/* Cut anywhere in the second frame: the first, then an error. */
	for (size_t cut = b.len - 1; cut > b.len / 2 + 2; cut--) {
		off = 0;
		assert_int_equal(cluster_keys_next(b.data, cut, &off, &entry,
		    &len, &fmt), 1);
		assert_int_equal(cluster_keys_next(b.data, cut, &off, &entry,
		    &len, &fmt), -1);
		assert_int_equal(off, cut);
		assert_int_equal(cluster_keys_next(b.data, cut, &off, &entry,
		    &len, &fmt), 0);
	}
	/* A length of 2^32 - 1, and an empty body. */
	off = 0;
	assert_int_equal(cluster_keys_next("SK2\n\xff\xff\xff\xff", 8, &off,
	    &entry, &len, &fmt), -1);
	off = 0;
	assert_int_equal(cluster_keys_next("SK2\n", 4, &off, &entry, &len,
	    &fmt), 0);
	assert_int_equal(fmt, CLUSTER_KEYS_FMT_V2);
	/* A zero-length frame is an entry, which does not decode. */
	off = 0;
	assert_int_equal(cluster_keys_next("SK2\n\0\0\0\0", 8, &off, &entry,
	    &len, &fmt), 1);
	assert_int_equal(len, 0);
	expect_bin_rejected(entry, len, "empty frame");
	/* v1 lines only, as an earlier version wrote them. */
	a = cluster_keys_encode("n1", 1, "http://127.0.0.1/a", &sig);
	v1 = cluster_keys_encode("n1", 2, "http://127.0.0.1/b", &sig);
	assert_non_null(a);
	assert_non_null(v1);
	buf_reset(&b);
	assert_int_equal(buf_appendf(&b, "%s\n\n%s\n", a, v1), 0);
	off = n = 0;
	while (cluster_keys_next(b.data, b.len, &off, &entry, &len,
	    &fmt) == 1) {
		assert_int_equal(fmt, CLUSTER_KEYS_FMT_V1);
		assert_int_equal(cluster_keys_decode_any(fmt, entry, len, &k,
		    err, sizeof(err)), 0);
		assert_int_equal(k.doc_id, ++n);
		cluster_keys_free(&k);
	}
	assert_int_equal(n, 2);
	assert_int_equal(off, b.len);
	free(a);
	free(v1);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_order),
		cmocka_unit_test(test_exact_earliest),
		cmocka_unit_test(test_near),
		cmocka_unit_test(test_seq_order),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_bin_round_trip),
		cmocka_unit_test(test_bin_malformed),
		cmocka_unit_test(test_iter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
