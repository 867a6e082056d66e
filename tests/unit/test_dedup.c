/*
 * test_dedup.c - dedup.c: normalisation, exact and near signatures on two
 * articles and their variants (tests/data/dedup), the MinHash estimate
 * against true Jaccard, and the LMDB index: reopen, MDB_MAP_FULL, bounded
 * candidates, firsts-only indexing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <cmocka.h>

#include <lmdb.h>
#include <xxhash.h>

#include "dedup.h"

struct test_env {
	char		 dir[64];
	MDB_env		*env;
	struct dedup_dbs dbs;
};

static char *
read_data(const char *name)
{
	const char *dir = getenv("SLUICE_TEST_DATA");
	char path[1024];
	FILE *f;
	char *s;
	long n;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/dedup/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* a + b + c as one malloc'd string. */
static char *
cat3(const char *a, const char *b, const char *c)
{
	size_t na = strlen(a), nb = strlen(b), nc = strlen(c);
	char *s = malloc(na + nb + nc + 1);

	assert_non_null(s);
	memcpy(s, a, na);
	memcpy(s + na, b, nb);
	memcpy(s + na + nb, c, nc + 1);
	return s;
}

/* text with the first occurrence of from replaced by to. */
static char *
replace(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	char *head, *out;

	assert_non_null(p);
	head = strndup(text, (size_t)(p - text));
	assert_non_null(head);
	out = cat3(head, to, p + strlen(from));
	free(head);
	return out;
}

static void
sig_of(const char *text, struct dedup_sig *sig)
{
	dedup_signature(text, strlen(text), NULL, sig);
}

static void
assert_norm(const char *in, size_t len, const char *want)
{
	size_t n = 0;
	char *out = dedup_normalize(in, len, NULL, &n);

	assert_non_null(out);
	if (strcmp(out, want) != 0)
		print_error("normalize(%s)\n  want [%s]\n  got  [%s]\n", in, want,
		    out);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
	free(out);
}

static void
test_normalize(void **state)
{
	static const struct { const char *in, *want; } rows[] = {
		{ "Hello, World!", "hello world" },
		{ "  multiple   spaces\n\nand\tlines \r\n", "multiple spaces and lines" },
		/* NFKC: fullwidth forms, ideographic space, ligatures. */
		{ "\xef\xbc\xa6\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c\xe3\x80\x80"
		  "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3\xef\xbc\x91\xef\xbc\x92",
		  "full abc00" },
		{ "\xef\xac\x81ne \xef\xac\x82ow", "fine flow" },
		{ "\xe2\x85\xab", "xii" },
		/* Case folding, beyond ASCII. */
		{ "Stra\xc3\x9f" "e", "strasse" },
		{ "\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3",
		  "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x83" },
		/* Composition: e + combining acute is é. */
		{ "cafe\xcc\x81 caf\xc3\xa9", "caf\xc3\xa9 caf\xc3\xa9" },
		/* Digits become 0, in every script. */
		{ "It's 2024-01-05, 10:30.", "it s 0000 00 00 00 00" },
		{ "\xd9\xa1\xd9\xa2\xd9\xa3 arabic", "000 arabic" },
		{ "\xc2\xbd \xc2\xb2", "0 0 0" },
		/* Punctuation and symbols split words. */
		{ "don\xe2\x80\x99t \xe2\x80\x9cquote\xe2\x80\x9d "
		  "\xc2\xabguillemets\xc2\xbb", "don t quote guillemets" },
		{ "price: $5 \xe2\x82\xac 10 \xe2\x86\x92 ok \xe2\x98\x85 "
		  "\xf0\x9f\x98\x80!", "price 0 00 ok" },
		{ "e-mail well\xe2\x80\x94known a/b", "e mail well known a b" },
		{ "... --- !!! \xe2\x80\xa2", "" },
		{ "", "" },
		/* Default-ignorables vanish inside a word. */
		{ "soft\xc2\xadhyphen zero\xe2\x80\x8bwidth", "softhyphen zerowidth" },
		/* Unicode spaces separate. */
		{ "a\xc2\xa0" "b\xe2\x80\x83" "c\xe2\x80\xa8" "d", "a b c d" },
		/* Unspaced scripts: a word per character. */
		{ "\xe4\xb8\xad\xe6\x96\x87\xe6\x96\x87\xe6\x9c\xac",
		  "\xe4\xb8\xad \xe6\x96\x87 \xe6\x96\x87 \xe6\x9c\xac" },
		{ "\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88OK",
		  "\xe3\x83\x86 \xe3\x82\xad \xe3\x82\xb9 \xe3\x83\x88 ok" },
		/* Invalid UTF-8 is skipped, not fatal. */
		{ "bad \xff\xfe utf8 \xc3", "bad utf0" },
		{ "caf\xe9 latin1", "caf latin0" },
		{ "\xed\xa0\x80surrogate \xc0\xaf", "surrogate" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_norm(rows[i].in, strlen(rows[i].in), rows[i].want);
	/* A NUL byte is a control character: a separator. */
	assert_norm("A\0B", 3, "a b");
}

/* Words longer than the internal buffers come out whole. */
static void
test_normalize_long_words(void **state)
{
	char in[1200], want[1200];

	(void)state;
	memset(in, 'Q', 300);
	memset(want, 'q', 300);
	in[300] = want[300] = '\0';
	assert_norm(in, 300, want);
	/* 400 x "É" (800 bytes) crosses several utf8proc pieces. */
	for (int i = 0; i < 400; i++) {
		memcpy(in + 2 * i, "\xc3\x89", 2);
		memcpy(want + 2 * i, "\xc3\xa9", 2);
	}
	in[800] = want[800] = '\0';
	assert_norm(in, 800, want);
	/* The same, decomposed: E + U+0301 (3 bytes each) composes back. */
	for (int i = 0; i < 300; i++)
		memcpy(in + 3 * i, "E\xcc\x81", 3);
	in[900] = '\0';
	want[600] = '\0';
	assert_norm(in, 900, want);
}

/* The exact hash covers exactly the normalised text. */
static void
test_exact_is_normalized_hash(void **state)
{
	static const char *texts[] = {
		"Hello, World!", "", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 2024",
	};
	XXH128_canonical_t c;
	struct dedup_sig sig;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t n;
		char *norm = dedup_normalize(texts[i], strlen(texts[i]), NULL,
		    &n);

		assert_non_null(norm);
		sig_of(texts[i], &sig);
		XXH128_canonicalFromHash(&c, XXH3_128bits(norm, n));
		assert_memory_equal(sig.exact, c.digest, 16);
		free(norm);
	}
}

static void
test_opts_and_names(void **state)
{
	struct dedup_opts o;

	(void)state;
	dedup_opts_default(&o);
	assert_true(o.near_threshold == 0.8);
	assert_int_equal(o.min_words, 30);
	assert_int_equal(o.max_candidates, 64);
	assert_int_equal(o.max_text, 4 << 20);
	assert_string_equal(dedup_kind_name(DEDUP_NONE), "none");
	assert_string_equal(dedup_kind_name(DEDUP_EXACT), "exact");
	assert_string_equal(dedup_kind_name(DEDUP_NEAR), "near");
	assert_string_equal(dedup_kind_name((enum dedup_kind)9), "unknown");
	assert_int_equal(DEDUP_BANDS * DEDUP_ROWS, DEDUP_MINIMA);
	assert_int_equal(DEDUP_MINIMA, 70);
	assert_int_equal(DEDUP_SKETCH_BYTES, 992);
}

/* Formatting that normalisation erases leaves the exact hash alone. */
static void
test_exact_variants(void **state)
{
	struct dedup_sig a, b, c, d;
	char *art = read_data("article-a.txt");
	char *shouty = strdup(art);

	(void)state;
	for (char *p = shouty; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	sig_of(art, &a);
	sig_of(shouty, &b);
	assert_memory_equal(a.exact, b.exact, 16);
	assert_true(a.near);
	assert_true(a.words > 450 && a.words < 500);
	sig_of("On 3 March, 2024: the vote!", &c);
	sig_of("on 4 march 2025 -- the VOTE", &d);
	assert_memory_equal(c.exact, d.exact, 16);
	sig_of("on 4 march 2025 -- the VOTES", &d);
	assert_memory_not_equal(c.exact, d.exact, 16);
	free(shouty);
	free(art);
}

static void
test_short_texts(void **state)
{
	struct dedup_sig a, b;
	struct dedup_opts o;
	const char *t = "A short notice of twelve words about the road closure "
	    "on Friday.";

	(void)state;
	sig_of(t, &a);
	assert_int_equal(a.words, 12);
	assert_false(a.near);
	for (size_t j = 0; j < DEDUP_BANDS; j++)
		assert_true(a.bands[j] == 0);
	assert_true(dedup_similarity(&a, &a) == 0);
	/* min_words is the switch; but never below one shingle. */
	dedup_opts_default(&o);
	o.min_words = 12;
	dedup_signature(t, strlen(t), &o, &b);
	assert_true(b.near);
	o.min_words = 0;
	dedup_signature("four words only here", 20, &o, &b);
	assert_int_equal(b.words, 4);
	assert_false(b.near);
	/* max_text cuts what is read. */
	o.max_text = 7;
	dedup_signature(t, strlen(t), &o, &b);
	assert_int_equal(b.words, 2);
}

/* Variants of article A and their estimated similarity to it. */
struct variant {
	const char	*name;
	char		*text;
};

static void
make_variants(const char *a, struct variant *v, size_t *n)
{
	size_t i = 0;
	char *r;

	v[i++] = (struct variant){ "dateline", cat3(
	    "WESTBRIDGE, Tuesday 4 March (Gazette staff) -\n", a, "") };
	r = replace(a, "on Tuesday evening", "on Monday night");
	v[i++] = (struct variant){ "dateline-changed", cat3(
	    "Updated Wednesday, 5 March\nBy our local government reporter\n",
	    r, "") };
	free(r);
	v[i++] = (struct variant){ "sentence-added", replace(a,
	    "last winter.", "last winter. One of them said the group had "
	    "ridden the route every day for a month to prove it was needed.") };
	v[i++] = (struct variant){ "sentence-removed", replace(a,
	    "A petition against the scheme gathered more than four thousand "
	    "signatures, and several traders said they would consider legal "
	    "action.", "") };
	v[i++] = (struct variant){ "reporting-by", cat3(a,
	    "Reporting by Anna Schmidt; Editing by Tom Hughes\n", "") };
	v[i++] = (struct variant){ "template", cat3(
	    "Home | News | Local | Transport\nShare this article\n", a,
	    "Sign up for our daily newsletter\nMost read\n"
	    "\xc2\xa9 2024 Westbridge Gazette. All rights reserved.\n") };
	*n = i;
}

static void
test_near_signatures(void **state)
{
	struct variant v[8];
	struct dedup_sig sa, sb, sv;
	char *a = read_data("article-a.txt");
	char *b = read_data("article-b.txt");
	size_t n;

	(void)state;
	make_variants(a, v, &n);
	sig_of(a, &sa);
	sig_of(b, &sb);
	for (size_t i = 0; i < n; i++) {
		double s;

		sig_of(v[i].text, &sv);
		s = dedup_similarity(&sa, &sv);
		print_message("%-18s similarity %.3f\n", v[i].name, s);
		assert_memory_not_equal(sa.exact, sv.exact, 16);
		assert_true(s >= 0.8);
		assert_true(s <= 1.0);
		free(v[i].text);
	}
	/* Same topic, different article. */
	assert_true(dedup_similarity(&sa, &sb) < 0.2);
	assert_true(dedup_similarity(&sa, &sa) == 1.0);
	free(a);
	free(b);
}

/* xorshift64*: a deterministic stream for synthetic texts. */
static uint64_t
test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* The four-letter word for id v < 26^4 (letters: digits would all
 * normalise to 0). */
static void
word_of(uint64_t v, char *w)
{
	for (int i = 0; i < 4; i++) {
		w[i] = (char)('a' + v % 26);
		v /= 26;
	}
	w[4] = '\0';
}

static void
words_text(const uint64_t *ids, size_t n, char *out)
{
	char *p = out;

	for (size_t i = 0; i < n; i++) {
		word_of(ids[i], p);
		p[4] = ' ';
		p += 5;
	}
	*p = '\0';
}

/*
 * The sketch's estimate tracks true Jaccard: over 60 random pairs with
 * 1-40% of words replaced, the mean error is near 0 and the rms error
 * under 0.012 (0.007 measured; 216 MinHash minima gave 0.027, and a bad
 * hash or a wrong collision correction fails this).
 */
static void
test_estimate_accuracy(void **state)
{
	enum { N = 400, TRIALS = 60 };
	static uint64_t a[N], b[N];
	static char ta[N * 5 + 1], tb[N * 5 + 1];
	struct dedup_sig sa, sb;
	double sum = 0, sumsq = 0;
	uint64_t seed = 42;

	(void)state;
	for (int t = 0; t < TRIALS; t++) {
		size_t changes = 4 + (size_t)t * 2;
		double j, e;

		for (size_t i = 0; i < N; i++)
			a[i] = b[i] = test_rand(&seed) % 456976;
		for (size_t c = 0; c < changes; c++)
			b[test_rand(&seed) % N] = test_rand(&seed) % 456976;
		words_text(a, N, ta);
		words_text(b, N, tb);
		sig_of(ta, &sa);
		sig_of(tb, &sb);
		assert_int_equal(dedup_jaccard(ta, strlen(ta), tb, strlen(tb),
		    NULL, &j), 0);
		e = dedup_similarity(&sa, &sb) - j;
		sum += e;
		sumsq += e * e;
		assert_true(e < 0.05 && e > -0.05);
	}
	print_message("mean error %.4f, rms %.4f\n", sum / TRIALS,
	    sqrt(sumsq / TRIALS));
	assert_true(sum / TRIALS < 0.004 && sum / TRIALS > -0.004);
	assert_true(sqrt(sumsq / TRIALS) < 0.012);
}

/* A near signature whose sketch repeats byte pattern b over the first
 * nbytes bytes; the other bins are empty. */
static void
sketch_sig(struct dedup_sig *s, uint8_t b, size_t nbytes)
{
	memset(s, 0, sizeof(*s));
	s->words = 500;
	s->near = true;
	memset(s->sketch, b, nbytes);
}

/*
 * The estimator: bins empty in both are left out, a bin empty in one is a
 * mismatch, and equal fingerprints are corrected for the 1-in-15 chance
 * that two different minima share one.
 */
static void
test_sketch_estimator(void **state)
{
	struct dedup_sig a, b;

	(void)state;
	sketch_sig(&a, 0x37, DEDUP_SKETCH_BYTES);
	b = a;
	assert_true(dedup_similarity(&a, &b) == 1.0);
	/* Half the bins empty in both: still identical. */
	sketch_sig(&a, 0x37, DEDUP_SKETCH_BYTES / 2);
	sketch_sig(&b, 0x37, DEDUP_SKETCH_BYTES / 2);
	assert_true(dedup_similarity(&a, &b) == 1.0);
	/* Half the bins empty in b only: 992 of 1984 agree, none by chance
	 * (an empty bin never matches). */
	sketch_sig(&a, 0x37, DEDUP_SKETCH_BYTES);
	assert_true(dedup_similarity(&a, &b) == 0.5);
	/* Half the bins differ: some of the 992 equal ones agree by
	 * chance, (15 * 992 - 1984) / (14 * 1984). */
	sketch_sig(&b, 0x37, DEDUP_SKETCH_BYTES);
	memset(b.sketch, 0x48, DEDUP_SKETCH_BYTES / 2);
	assert_true(fabs(dedup_similarity(&a, &b) - 12896.0 / 27776.0) <
	    1e-12);
	/* Agreement at the chance level estimates 0, never below. */
	memset(b.sketch, 0x48, DEDUP_SKETCH_BYTES);
	assert_true(dedup_similarity(&a, &b) == 0);
	b.near = false;
	assert_true(dedup_similarity(&a, &a) == 1.0);
	assert_true(dedup_similarity(&a, &b) == 0);
}

static void
test_jaccard(void **state)
{
	double j = -1;

	(void)state;
	/* {abcde, bcdef} vs {abcde, bcdeg}: 1 shared of 3. */
	assert_int_equal(dedup_jaccard("a b c d e f", 11, "A, b c d e g", 12,
	    NULL, &j), 0);
	assert_true(j > 0.333 && j < 0.334);
	/* 2 shared of 6 distinct: abcde appears twice and counts once. */
	assert_int_equal(dedup_jaccard("a b c d e f", 11, "a b c d e f a b c d e",
	    21, NULL, &j), 0);
	assert_true(j > 0.333 && j < 0.334);
	assert_int_equal(dedup_jaccard("x y z w v", 9, "p q r s t", 9, NULL,
	    &j), 0);
	assert_true(j == 0);
	assert_int_equal(dedup_jaccard("", 0, "too short", 9, NULL, &j), 0);
	assert_true(j == 1.0);
	assert_int_equal(dedup_jaccard("", 0, "a b c d e", 9, NULL, &j), 0);
	assert_true(j == 0);
}

/* ---- LMDB ------------------------------------------------------------- */

static void
env_open(struct test_env *e, size_t mapsize)
{
	char err[128];
	MDB_txn *txn;

	assert_int_equal(mdb_env_create(&e->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(e->env, 8), 0);
	assert_int_equal(mdb_env_set_mapsize(e->env, mapsize), 0);
	assert_int_equal(mdb_env_open(e->env, e->dir, MDB_NOSYNC, 0600), 0);
	assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
	assert_int_equal(dedup_open(txn, &e->dbs, NULL, err, sizeof(err)), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static void
env_create(struct test_env *e, size_t mapsize)
{
	snprintf(e->dir, sizeof(e->dir), "/tmp/sluice-dedup-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	env_open(e, mapsize);
}

static void
env_close(struct test_env *e)
{
	dedup_close(&e->dbs);
	mdb_env_close(e->env);
}

static void
env_destroy(struct test_env *e)
{
	char path[128];

	env_close(e);
	snprintf(path, sizeof(path), "%s/data.mdb", e->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", e->dir);
	unlink(path);
	rmdir(e->dir);
}

static int
check_sig(struct test_env *e, uint64_t id, const struct dedup_sig *sig,
    const struct dedup_opts *o, struct dedup_match *m)
{
	MDB_txn *txn;
	int rc;

	assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
	rc = dedup_check_insert(txn, &e->dbs, id, sig, o, m);
	if (rc == 0) {
		assert_int_equal(mdb_txn_commit(txn), 0);
		dedup_commit(&e->dbs);
	} else {
		mdb_txn_abort(txn);
		dedup_rollback(&e->dbs);
	}
	return rc;
}

/* Checks and indexes sig as document id, which must come out as kind, a
 * copy of document of (when kind is not DEDUP_NONE). */
static void
expect(struct test_env *e, uint64_t id, const struct dedup_sig *sig,
    enum dedup_kind kind, uint64_t of)
{
	struct dedup_match m;

	assert_int_equal(check_sig(e, id, sig, NULL, &m), 0);
	assert_int_equal(m.kind, kind);
	if (kind != DEDUP_NONE)
		assert_int_equal(m.doc_id, of);
}

static struct dedup_match
check_text(struct test_env *e, uint64_t id, const char *text)
{
	struct dedup_match m;
	struct dedup_sig sig;

	sig_of(text, &sig);
	assert_int_equal(check_sig(e, id, &sig, NULL, &m), 0);
	return m;
}

static void
test_index(void **state)
{
	struct test_env e;
	struct variant v[8];
	struct dedup_match m;
	char *a = read_data("article-a.txt");
	char *b = read_data("article-b.txt");
	char *r;
	size_t n;

	(void)state;
	env_create(&e, 16 << 20);
	m = check_text(&e, 1, a);
	assert_int_equal(m.kind, DEDUP_NONE);
	assert_int_equal(m.candidates, 0);
	m = check_text(&e, 2, b);
	assert_int_equal(m.kind, DEDUP_NONE);
	m = check_text(&e, 3, a);
	assert_int_equal(m.kind, DEDUP_EXACT);
	assert_int_equal(m.doc_id, 1);
	assert_true(m.similarity == 1.0);
	make_variants(a, v, &n);
	for (size_t i = 0; i < n; i++) {
		m = check_text(&e, 10 + i, v[i].text);
		print_message("%-18s -> %s of %llu, %.3f (%u candidates)\n",
		    v[i].name, dedup_kind_name(m.kind),
		    (unsigned long long)m.doc_id, m.similarity, m.candidates);
		assert_int_equal(m.kind, DEDUP_NEAR);
		assert_int_equal(m.doc_id, 1);
		assert_true(m.similarity >= 0.8 && m.similarity < 1.0);
		assert_true(m.candidates >= 1);
	}
	/* Duplicates are not indexed: an exact copy of a variant is still
	 * a near copy of the first article, not an exact one. */
	m = check_text(&e, 30, v[0].text);
	assert_int_equal(m.kind, DEDUP_NEAR);
	assert_int_equal(m.doc_id, 1);
	for (size_t i = 0; i < n; i++)
		free(v[i].text);
	/* Persistence across a reopen of the environment. */
	env_close(&e);
	env_open(&e, 16 << 20);
	m = check_text(&e, 40, b);
	assert_int_equal(m.kind, DEDUP_EXACT);
	assert_int_equal(m.doc_id, 2);
	r = replace(a, "seven votes to four", "eight votes to three");
	m = check_text(&e, 41, r);
	assert_int_equal(m.kind, DEDUP_NEAR);
	assert_int_equal(m.doc_id, 1);
	free(r);
	env_destroy(&e);
	free(a);
	free(b);
}

/* n random words from seed, as paragraphs of 20 words, into out. */
static char *
para_text(uint64_t seed, size_t n, char *out)
{
	char *p = out;

	seed = seed * 0x9e3779b97f4a7c15ULL + 1;
	for (size_t i = 0; i < n; i++) {
		word_of(test_rand(&seed) % 456976, p);
		p[4] = (i + 1) % 20 == 0 ? '\n' : ' ';
		p += 5;
	}
	*p = '\0';
	return out;
}

/*
 * Cleaning residue: a story on its own site, cleaned with the site's
 * furniture (a third of the page here: Jaccard about 0.7 against the clean
 * copy), is a near copy of the clean story in either order; a copy cut to
 * half of it too.  Different stories in one site's furniture are not, nor
 * is a lede under a third of its story, nor a text that only repeats
 * what the other holds in its words count.
 */
static void
test_residue(void **state)
{
	static char story[6000], other[6000], furn[4000], page[12000],
	    page2[12000], lede[2000];
	struct dedup_sig ss, sp, so, sp2;
	struct test_env e;
	struct dedup_match m;
	double sim;

	(void)state;
	para_text(1, 400, story);
	para_text(2, 150, furn);
	/* Furniture at the top, inside and at the end. */
	snprintf(page, sizeof(page), "%.250s\n%.1000s\n%.250s\n%s\n%s",
	    furn, story, furn + 250, story + 1000, furn + 500);
	sig_of(story, &ss);
	sig_of(page, &sp);
	assert_true(dedup_similarity(&ss, &sp) < 0.8);
	assert_true(dedup_similarity(&ss, &sp) > 0.6);
	assert_true(dedup_containment(&ss, &sp) >= 0.9);
	assert_true(dedup_is_near(&ss, &sp, 0.8, &sim));
	assert_true(sim == dedup_similarity(&ss, &sp));
	/* Threshold 1 asks for identical sketches. */
	assert_false(dedup_is_near(&ss, &sp, 1.0, &sim));
	assert_true(dedup_is_near(&ss, &ss, 1.0, &sim));
	print_message("residue: J %.3f, containment %.3f\n",
	    dedup_similarity(&ss, &sp), dedup_containment(&ss, &sp));
	env_create(&e, 16 << 20);
	expect(&e, 1, &ss, DEDUP_NONE, 0);
	expect(&e, 2, &sp, DEDUP_NEAR, 1);
	env_destroy(&e);
	env_create(&e, 16 << 20);
	expect(&e, 1, &sp, DEDUP_NONE, 0);
	expect(&e, 2, &ss, DEDUP_NEAR, 1);
	/* The first 60% of the story: one story, cut short. */
	snprintf(lede, sizeof(lede), "%.1200s", story);
	m = check_text(&e, 3, lede);
	assert_int_equal(m.kind, DEDUP_NEAR);
	assert_int_equal(m.doc_id, 1);
	/* A lede of a quarter: not the story. */
	snprintf(lede, sizeof(lede), "%.500s", story);
	sig_of(lede, &so);
	assert_true(dedup_containment(&ss, &so) >= 0.9);
	assert_false(dedup_is_near(&ss, &so, 0.8, &sim));
	env_destroy(&e);
	/* Two short stories in the same heavy furniture. */
	para_text(3, 60, other);
	snprintf(page, sizeof(page), "%.500s\n%s\n%s", furn, other,
	    furn + 500);
	para_text(4, 60, other);
	snprintf(page2, sizeof(page2), "%.500s\n%s\n%s", furn, other,
	    furn + 500);
	sig_of(page, &sp);
	sig_of(page2, &sp2);
	print_message("same furniture: J %.3f, containment %.3f\n",
	    dedup_similarity(&sp, &sp2), dedup_containment(&sp, &sp2));
	assert_false(dedup_is_near(&sp, &sp2, 0.8, &sim));
	/* 30 words of a 60-word text, then one line 100 times: its word
	 * count says 530, its sketch about 35 distinct shingles. */
	para_text(5, 60, other);
	snprintf(page, sizeof(page), "%.150s", other);
	for (int i = 0; i < 100; i++)
		strcat(page, "\nsign up for our newsletter");
	sig_of(other, &so);
	sig_of(page, &sp);
	print_message("repetition: J %.3f, containment %.3f\n",
	    dedup_similarity(&so, &sp), dedup_containment(&so, &sp));
	assert_true(dedup_containment(&so, &sp) < 0.85);
	assert_false(dedup_is_near(&so, &sp, 0.8, &sim));
}

/* Re-cleaning: a first copy's records follow its new text (its old
 * text is no longer found, the new one is), and a copy is judged against
 * its first's records as they are now. */
static void
test_replace_and_verdict(void **state)
{
	struct test_env e;
	struct dedup_sig sa, sb, sv;
	struct dedup_opts o;
	struct dedup_match m;
	struct variant v[8];
	enum dedup_kind k;
	char *a = read_data("article-a.txt");
	char *b = read_data("article-b.txt");
	double sim;
	MDB_txn *txn;
	size_t n;

	(void)state;
	dedup_opts_default(&o);
	env_create(&e, 16 << 20);
	assert_int_equal(check_text(&e, 1, a).kind, DEDUP_NONE);
	sig_of(a, &sa);
	sig_of(b, &sb);
	make_variants(a, v, &n);
	sig_of(v[0].text, &sv);
	assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
	assert_int_equal(dedup_verdict(txn, &e.dbs, 1, &sa, &o, &k, &sim), 0);
	assert_int_equal(k, DEDUP_EXACT);
	assert_int_equal(dedup_verdict(txn, &e.dbs, 1, &sv, &o, &k, &sim), 0);
	assert_int_equal(k, DEDUP_NEAR);
	assert_true(sim >= 0.8 && sim < 1.0);
	assert_int_equal(dedup_verdict(txn, &e.dbs, 1, &sb, &o, &k, &sim), 0);
	assert_int_equal(k, DEDUP_NONE);
	/* Document 1 now says b. */
	assert_int_equal(dedup_replace(txn, &e.dbs, 1, &sb), 0);
	assert_int_equal(dedup_verdict(txn, &e.dbs, 1, &sb, &o, &k, &sim), 0);
	assert_int_equal(k, DEDUP_EXACT);
	assert_int_equal(mdb_txn_commit(txn), 0);
	dedup_commit(&e.dbs);
	m = check_text(&e, 2, b);
	assert_int_equal(m.kind, DEDUP_EXACT);
	assert_int_equal(m.doc_id, 1);
	/* a is no one's text now: its stale keys name 1, its records not. */
	m = check_text(&e, 3, a);
	assert_int_equal(m.kind, DEDUP_NONE);
	for (size_t i = 0; i < n; i++)
		free(v[i].text);
	env_destroy(&e);
	free(a);
	free(b);
}

static void
test_index_short_and_empty(void **state)
{
	struct test_env e;
	struct dedup_match m;
	MDB_txn *txn;
	MDB_stat st;

	(void)state;
	env_create(&e, 16 << 20);
	assert_int_equal(check_text(&e, 1, "").kind, DEDUP_NONE);
	assert_int_equal(check_text(&e, 2, " ... ").kind, DEDUP_NONE);
	assert_int_equal(check_text(&e, 3, "Road closed on Friday.").kind,
	    DEDUP_NONE);
	m = check_text(&e, 4, "ROAD CLOSED ON FRIDAY");
	assert_int_equal(m.kind, DEDUP_EXACT);
	assert_int_equal(m.doc_id, 3);
	/* Short: one changed word is another text. */
	assert_int_equal(check_text(&e, 5, "Road closed on Saturday.").kind,
	    DEDUP_NONE);
	/* Short texts leave their exact hash alone behind (empty ones
	 * nothing): dedup_sigs holds only the index's format. */
	assert_int_equal(mdb_txn_begin(e.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_stat(txn, e.dbs.keys, &st), 0);
	assert_int_equal(st.ms_entries, 2);
	assert_int_equal(mdb_stat(txn, e.dbs.sigs, &st), 0);
	assert_int_equal(st.ms_entries, 1);
	mdb_txn_abort(txn);
	assert_int_equal(e.dbs.near.used, 2);	/* one key each */
	env_destroy(&e);
}

static void
random_sig(uint64_t *seed, struct dedup_sig *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < 16; i++)
		s->exact[i] = (uint8_t)test_rand(seed);
	s->words = 500;
	s->near = true;
	for (size_t j = 0; j < DEDUP_BANDS; j++)
		s->bands[j] = (uint32_t)test_rand(seed);
	/* Every bin non-empty (no nibble 0), as in a long text. */
	for (size_t k = 0; k < DEDUP_SKETCH_BYTES; k++)
		s->sketch[k] = (uint8_t)(test_rand(seed) | 0x11);
}

static void
test_map_full(void **state)
{
	struct test_env e;
	struct dedup_sig s;
	struct dedup_match m;
	MDB_txn *txn;
	uint64_t seed = 7;
	int rc = 0;

	(void)state;
	env_create(&e, 64 << 10);
	assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
	for (uint64_t id = 1; id < 100000 && rc == 0; id++) {
		random_sig(&seed, &s);
		rc = dedup_check_insert(txn, &e.dbs, id, &s, NULL, &m);
	}
	assert_int_equal(rc, MDB_MAP_FULL);
	mdb_txn_abort(txn);
	dedup_rollback(&e.dbs);
	assert_int_equal(e.dbs.near.used + e.dbs.near.oldused, 0);
	env_destroy(&e);
}

/*
 * 200 documents share one band bucket.  A lookup reads at most
 * max_candidates entries of it and compares at most max_candidates
 * signatures, and a real near copy sharing many bands still ranks first.
 */
static void
test_bounded_candidates(void **state)
{
	struct test_env e;
	struct dedup_sig s, q, t;
	struct dedup_match m;
	struct dedup_opts o;
	uint64_t seed = 99;

	(void)state;
	dedup_opts_default(&o);
	o.max_candidates = 8;
	env_create(&e, 64 << 20);
	for (uint64_t id = 1; id <= 200; id++) {
		random_sig(&seed, &s);
		s.bands[0] = 42;
		assert_int_equal(check_sig(&e, id, &s, &o, &m), 0);
		assert_int_equal(m.kind, DEDUP_NONE);
		assert_true(m.candidates <= 8);
	}
	/* Only the crowded band matches: bounded, and nothing confirmed. */
	random_sig(&seed, &q);
	q.bands[0] = 42;
	assert_int_equal(check_sig(&e, 300, &q, &o, &m), 0);
	assert_int_equal(m.kind, DEDUP_NONE);
	assert_int_equal(m.candidates, 8);
	/* t shares the crowded band, 13 more and 1944 of 1984 bins with q:
	 * ranking by shared bands puts q first within the budget. */
	t = q;
	t.exact[0] ^= 1;
	for (size_t k = 0; k < 20; k++)
		t.sketch[k] ^= 0x22;
	assert_int_equal(check_sig(&e, 301, &t, &o, &m), 0);
	assert_int_equal(m.kind, DEDUP_NEAR);
	assert_int_equal(m.doc_id, 300);
	/* (15 * 1944 - 1984) / (14 * 1984) */
	assert_true(fabs(m.similarity - 27176.0 / 27776.0) < 1e-12);
	assert_true(m.candidates <= 8);
	/* With no candidates allowed, only exact dedup is left. */
	o.max_candidates = 0;
	t.exact[1] ^= 1;
	assert_int_equal(check_sig(&e, 302, &t, &o, &m), 0);
	assert_int_equal(m.kind, DEDUP_NONE);
	env_destroy(&e);
}

/* Writes what format 1 left: no format record, 64-bit band keys, a
 * 440-byte record with version 1. */
static void
write_format1(struct test_env *e, const uint8_t exact[16], uint64_t id)
{
	MDB_dbi ex, bands, sigs;
	uint8_t rec[440] = { 1, 18, 6 };
	uint64_t band = 0x1234567890ULL;
	MDB_val k = { 16, (void *)exact }, v = { sizeof(id), &id };
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "dedup_exact", MDB_CREATE, &ex), 0);
	assert_int_equal(mdb_dbi_open(txn, "dedup_bands", MDB_CREATE |
	    MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP,
	    &bands), 0);
	assert_int_equal(mdb_dbi_open(txn, "dedup_sigs", MDB_CREATE |
	    MDB_INTEGERKEY, &sigs), 0);
	assert_int_equal(mdb_put(txn, ex, &k, &v, 0), 0);
	k = (MDB_val){ sizeof(band), &band };
	assert_int_equal(mdb_put(txn, bands, &k, &v, 0), 0);
	k = (MDB_val){ sizeof(id), &id };
	v = (MDB_val){ sizeof(rec), rec };
	assert_int_equal(mdb_put(txn, sigs, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

static bool
has_db(struct test_env *e, const char *name)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn), 0);
	rc = mdb_dbi_open(txn, name, 0, &dbi);
	mdb_txn_abort(txn);
	assert_true(rc == 0 || rc == MDB_NOTFOUND);
	return rc == 0;
}

static size_t
db_entries(struct test_env *e, MDB_dbi dbi)
{
	MDB_txn *txn;
	MDB_stat st;

	assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_stat(txn, dbi, &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

/*
 * An index of format 1 is converted on open: emptied and flagged for
 * re-indexing until dedup_reindex_done; a newer format is refused with a
 * message.
 */
static void
test_format(void **state)
{
	struct test_env e = { 0 };
	struct dedup_sig sa, sv;
	struct dedup_match m;
	char *a = read_data("article-a.txt");
	char *r, err[128] = "";
	MDB_txn *txn;
	uint8_t fmt[8] = { 4 };
	uint64_t zero = 0;
	MDB_val k = { sizeof(zero), &zero }, v = { sizeof(fmt), fmt };

	(void)state;
	sig_of(a, &sa);
	snprintf(e.dir, sizeof(e.dir), "/tmp/sluice-dedup-XXXXXX");
	assert_non_null(mkdtemp(e.dir));
	assert_int_equal(mdb_env_create(&e.env), 0);
	assert_int_equal(mdb_env_set_maxdbs(e.env, 8), 0);
	assert_int_equal(mdb_env_open(e.env, e.dir, MDB_NOSYNC, 0600), 0);
	write_format1(&e, sa.exact, 5);
	env_close(&e);
	env_open(&e, 16 << 20);
	assert_true(e.dbs.reindex);
	assert_int_equal(db_entries(&e, e.dbs.keys), 0);
	assert_int_equal(db_entries(&e, e.dbs.sigs), 1);	/* format */
	assert_false(has_db(&e, "dedup_bands"));
	assert_false(has_db(&e, "dedup_exact"));
	/* Re-indexing restores exact and near matches; the flag survives a
	 * reopen until it is cleared. */
	assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
	assert_int_equal(dedup_reindex(txn, &e.dbs, 5, &sa), 0);
	assert_int_equal(dedup_reindex(txn, &e.dbs, 0, &sa), EINVAL);
	assert_int_equal(mdb_txn_commit(txn), 0);
	dedup_commit(&e.dbs);
	env_close(&e);
	env_open(&e, 16 << 20);
	assert_true(e.dbs.reindex);
	assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
	assert_int_equal(dedup_reindex_done(txn, &e.dbs), 0);
	assert_false(e.dbs.reindex);
	assert_int_equal(mdb_txn_commit(txn), 0);
	env_close(&e);
	env_open(&e, 16 << 20);
	assert_false(e.dbs.reindex);
	m = check_text(&e, 6, a);
	assert_int_equal(m.kind, DEDUP_EXACT);
	assert_int_equal(m.doc_id, 5);
	r = replace(a, "seven votes to four", "eight votes to three");
	sig_of(r, &sv);
	assert_int_equal(check_sig(&e, 7, &sv, NULL, &m), 0);
	assert_int_equal(m.kind, DEDUP_NEAR);
	assert_int_equal(m.doc_id, 5);
	/* Doc id 0 is the format record's. */
	sv.exact[0] ^= 1;
	assert_int_equal(check_sig(&e, 0, &sv, NULL, &m), EINVAL);
	/* A newer format is refused, and says so. */
	assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_put(txn, e.dbs.sigs, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	dedup_close(&e.dbs);
	assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
	assert_int_equal(dedup_open(txn, &e.dbs, NULL, err, sizeof(err)),
	    MDB_INCOMPATIBLE);
	mdb_txn_abort(txn);
	assert_non_null(strstr(err, "format 4"));
	free(r);
	free(a);
	env_destroy(&e);
}

/*
 * Many documents in one transaction, with crowded band buckets: every
 * first copy's band keys are logged, near copies find their first, and
 * so do they after a restart loads the log back.
 */
static void
test_one_txn(void **state)
{
	enum { DOCS = 3000 };
	static struct dedup_sig sig[DOCS + 1];
	struct test_env e;
	struct dedup_match m;
	MDB_txn *txn;
	uint64_t seed = 5;
	size_t copies = 0;

	(void)state;
	env_create(&e, 256 << 20);
	assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
	for (uint64_t id = 1; id <= DOCS; id++) {
		random_sig(&seed, &sig[id]);
		for (size_t j = 0; j < DEDUP_BANDS; j++)
			sig[id].bands[j] = (uint32_t)(j * 1000 +
			    test_rand(&seed) % 400);
		if (id % 7 == 0) {	/* a near copy of an earlier one */
			uint64_t of = 1 + test_rand(&seed) % (id - 1);

			memcpy(sig[id].bands, sig[of].bands,
			    sizeof(sig[id].bands));
			memcpy(sig[id].sketch, sig[of].sketch,
			    sizeof(sig[id].sketch));
			sig[id].sketch[3] ^= 0x22;
		}
		assert_int_equal(dedup_check_insert(txn, &e.dbs, id, &sig[id],
		    NULL, &m), 0);
		assert_int_equal(m.kind, id % 7 == 0 ? DEDUP_NEAR : DEDUP_NONE);
		copies += m.kind == DEDUP_NEAR;
	}
	assert_int_equal(mdb_txn_commit(txn), 0);
	dedup_commit(&e.dbs);
	assert_int_equal(copies, DOCS / 7);
	assert_int_equal(db_entries(&e, e.dbs.keys), DOCS - DOCS / 7);
	assert_int_equal(mdb_txn_begin(e.env, NULL, MDB_RDONLY, &txn), 0);
	for (uint64_t id = 1; id <= DOCS; id++) {
		MDB_val k = { sizeof(id), &id }, v;
		int rc = mdb_get(txn, e.dbs.keys, &k, &v);

		if (id % 7 == 0) {
			assert_int_equal(rc, MDB_NOTFOUND);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(v.mv_size, DEDUP_KEYS_NEAR);
		assert_memory_equal(v.mv_data, sig[id].exact, DEDUP_KEYS_EXACT);
		assert_memory_equal((const char *)v.mv_data + DEDUP_KEYS_EXACT,
		    sig[id].bands, sizeof(sig[id].bands));
	}
	mdb_txn_abort(txn);
	/* What a restart loads finds the same first copies. */
	env_close(&e);
	env_open(&e, 256 << 20);
	for (uint64_t id = 7; id <= DOCS; id += 7) {
		struct dedup_sig q = sig[id];

		q.exact[0] ^= 0x5a;
		assert_int_equal(check_sig(&e, DOCS + id, &q, NULL, &m), 0);
		assert_int_equal(m.kind, DEDUP_NEAR);
		assert_true(m.doc_id < id && m.doc_id % 7 != 0);
	}
	env_destroy(&e);
}

/*
 * An aborted transaction leaves nothing in memory either: a document
 * indexed in it is not there for the next lookup, and one indexed again
 * afterwards is found.
 */
static void
test_rollback(void **state)
{
	struct test_env e;
	struct dedup_sig s, q;
	struct dedup_match m;
	MDB_txn *txn;
	uint64_t seed = 11;

	(void)state;
	env_create(&e, 16 << 20);
	random_sig(&seed, &s);
	q = s;
	q.exact[0] ^= 1;
	assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
	assert_int_equal(dedup_check_insert(txn, &e.dbs, 1, &s, NULL, &m), 0);
	assert_int_equal(dedup_check_insert(txn, &e.dbs, 2, &q, NULL, &m), 0);
	assert_int_equal(m.kind, DEDUP_NEAR);	/* in the same transaction */
	mdb_txn_abort(txn);
	dedup_rollback(&e.dbs);
	assert_int_equal(e.dbs.near.used + e.dbs.near.oldused, 0);
	assert_int_equal(check_sig(&e, 3, &q, NULL, &m), 0);
	assert_int_equal(m.kind, DEDUP_NONE);
	assert_int_equal(m.candidates, 0);
	expect(&e, 4, &s, DEDUP_NEAR, 3);
	env_destroy(&e);
}

/*
 * dedup.index_memory_max: past it, a new first copy is looked up but not
 * indexed (no keys, no signature), those before stay found, and an open
 * with a lower bound loads what fits and says it is full.
 */
static void
test_memory_bound(void **state)
{
	enum { DOCS = 3000 };
	static struct dedup_sig sig[DOCS + 1];
	struct test_env e;
	struct dedup_match m;
	struct dedup_opts o;
	MDB_txn *txn;
	uint64_t seed = 21, id, first_out = 0;
	char err[128];

	(void)state;
	dedup_opts_default(&o);
	o.index_memory_max = 512 << 10;
	env_create(&e, 256 << 20);
	for (id = 1; id <= DOCS; id++) {
		random_sig(&seed, &sig[id]);
		assert_int_equal(check_sig(&e, id, &sig[id], &o, &m), 0);
		assert_int_equal(m.kind, DEDUP_NONE);
		if (first_out == 0 && dedup_index_full(&e.dbs))
			first_out = id;
		assert_true(dedup_memory(&e.dbs) <= o.index_memory_max);
	}
	/* 1,399 documents' 15 keys fill a 26,244-slot table (205 KiB) to
	 * 80%, and the next one, beside it while entries move, would pass
	 * the bound. */
	assert_int_equal(first_out, 1400);
	assert_int_equal(db_entries(&e, e.dbs.keys), first_out - 1);
	for (id = first_out - 3; id <= first_out + 1; id++) {
		struct dedup_sig q = sig[id];

		q.exact[0] ^= 0x77;
		assert_int_equal(check_sig(&e, DOCS + id, &q, &o, &m), 0);
		assert_int_equal(m.kind, id < first_out ? DEDUP_NEAR :
		    DEDUP_NONE);
		assert_int_equal(check_sig(&e, 2 * DOCS + id, &sig[id], &o,
		    &m), 0);
		assert_int_equal(m.kind, id < first_out ? DEDUP_EXACT :
		    DEDUP_NONE);
		assert_true(m.kind == DEDUP_NONE || m.doc_id == id);
	}
	/* Reopened with a quarter of the bound: part loads, and it is full. */
	env_close(&e);
	o.index_memory_max = 128 << 10;
	env_open(&e, 256 << 20);
	dedup_close(&e.dbs);
	assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
	assert_int_equal(dedup_open(txn, &e.dbs, &o, err, sizeof(err)), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	assert_true(dedup_index_full(&e.dbs));
	assert_true(dedup_memory(&e.dbs) <= o.index_memory_max);
	assert_true(e.dbs.near.ndoc > 100 && e.dbs.near.ndoc < first_out);
	env_destroy(&e);
}

/* Writes what format 2 left: the format record, a signature, and the
 * band keys in a B-tree, dedup_bands. */
static void
write_format2(struct test_env *e, const struct dedup_sig *s, uint64_t id)
{
	MDB_dbi ex, bands, sigs;
	uint8_t fmt[8] = { 2 }, rec[1000] = { 2 };
	uint64_t zero = 0;
	MDB_val k = { 16, (void *)s->exact }, v = { sizeof(id), &id };
	MDB_txn *txn;

	assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "dedup_exact", MDB_CREATE, &ex), 0);
	assert_int_equal(mdb_dbi_open(txn, "dedup_bands", MDB_CREATE |
	    MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP,
	    &bands), 0);
	assert_int_equal(mdb_dbi_open(txn, "dedup_sigs", MDB_CREATE |
	    MDB_INTEGERKEY, &sigs), 0);
	assert_int_equal(mdb_put(txn, ex, &k, &v, 0), 0);
	for (size_t j = 0; j < DEDUP_BANDS; j++) {
		k = (MDB_val){ sizeof(s->bands[j]), (void *)&s->bands[j] };
		assert_int_equal(mdb_put(txn, bands, &k, &v, 0), 0);
	}
	k = (MDB_val){ sizeof(zero), &zero };
	v = (MDB_val){ sizeof(fmt), fmt };
	assert_int_equal(mdb_put(txn, sigs, &k, &v, 0), 0);
	k = (MDB_val){ sizeof(id), &id };
	v = (MDB_val){ sizeof(rec), rec };
	assert_int_equal(mdb_put(txn, sigs, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* Format 2 is converted like format 1: its B-trees are deleted, and
 * re-indexing brings exact and near matches back. */
static void
test_format2(void **state)
{
	struct test_env e = { 0 };
	struct dedup_sig s, q;
	MDB_txn *txn;
	uint64_t seed = 3;

	(void)state;
	random_sig(&seed, &s);
	q = s;
	q.exact[0] ^= 1;
	snprintf(e.dir, sizeof(e.dir), "/tmp/sluice-dedup-XXXXXX");
	assert_non_null(mkdtemp(e.dir));
	assert_int_equal(mdb_env_create(&e.env), 0);
	assert_int_equal(mdb_env_set_maxdbs(e.env, 8), 0);
	assert_int_equal(mdb_env_open(e.env, e.dir, MDB_NOSYNC, 0600), 0);
	write_format2(&e, &s, 5);
	env_close(&e);
	env_open(&e, 16 << 20);
	assert_true(e.dbs.reindex);
	assert_false(has_db(&e, "dedup_bands"));
	assert_false(has_db(&e, "dedup_exact"));
	assert_int_equal(db_entries(&e, e.dbs.sigs), 1);	/* format */
	assert_int_equal(mdb_txn_begin(e.env, NULL, 0, &txn), 0);
	assert_int_equal(dedup_reindex(txn, &e.dbs, 5, &s), 0);
	assert_int_equal(dedup_reindex(txn, &e.dbs, 5, &s), 0);  /* no-op */
	assert_int_equal(dedup_reindex_done(txn, &e.dbs), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	dedup_commit(&e.dbs);
	assert_int_equal(e.dbs.near.used, 1 + DEDUP_BANDS);
	expect(&e, 6, &s, DEDUP_EXACT, 5);
	expect(&e, 7, &q, DEDUP_NEAR, 5);
	env_destroy(&e);
}

/* Random bytes, valid or not, never crash the signature. */
static void
test_garbage(void **state)
{
	static char buf[4096];
	struct dedup_sig s;
	uint64_t seed = 1234;

	(void)state;
	for (int i = 0; i < 2000; i++) {
		size_t n = test_rand(&seed) % sizeof(buf);

		for (size_t k = 0; k < n; k++)
			buf[k] = (char)test_rand(&seed);
		dedup_signature(buf, n, NULL, &s);
		free(dedup_normalize(buf, n, NULL, NULL));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_normalize_long_words),
		cmocka_unit_test(test_exact_is_normalized_hash),
		cmocka_unit_test(test_opts_and_names),
		cmocka_unit_test(test_exact_variants),
		cmocka_unit_test(test_short_texts),
		cmocka_unit_test(test_near_signatures),
		cmocka_unit_test(test_sketch_estimator),
		cmocka_unit_test(test_jaccard),
		cmocka_unit_test(test_estimate_accuracy),
		cmocka_unit_test(test_index),
		cmocka_unit_test(test_residue),
		cmocka_unit_test(test_replace_and_verdict),
		cmocka_unit_test(test_index_short_and_empty),
		cmocka_unit_test(test_map_full),
		cmocka_unit_test(test_bounded_candidates),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_one_txn),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_memory_bound),
		cmocka_unit_test(test_format2),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
