/*
 * dedup.c - duplicate detection on cleaned text: the normaliser, the
 * exact hash and MinHash/LSH signature (pure, worker threads), and the
 * LMDB index of first copies (loop thread).  The design, its numbers and
 * the on-disk layout are in dedup.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>
#define XXH_STATIC_LINKING_ONLY		/* XXH3_state_t on the stack */
#include <xxhash.h>

#include "dedup.h"
#include "log.h"
#include "lsh.h"
#include "util.h"

#define DEDUP_NFKC_CASEFOLD	(UTF8PROC_STABLE | UTF8PROC_COMPOSE | \
    UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE)
/* Non-ASCII runs are normalised in pieces of at most PIECE_MAX bytes, cut
 * past PIECE_SOFT before a character nothing composes with, so every
 * buffer lives on the stack (signatures must not fail on ENOMEM). */
#define DEDUP_PIECE_MAX		128
#define DEDUP_PIECE_SOFT	96
/* Longest NFKC expansion of one code point (U+FDFA gives 18). */
#define DEDUP_EXPAND_MAX	18
/* Word bytes batched per call, and per fold of a long word's hash. */
#define DEDUP_WORD_CHUNK	64
/* Normalised-text bytes per XXH3-128 update. */
#define DEDUP_STAGE		1024
/* Fixed: every stored signature depends on the permutations it seeds. */
#define DEDUP_PERM_SEED		0x736c7569636564ULL

#if defined(__x86_64__) && defined(__GNUC__)
#define DEDUP_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DEDUP_SIMD_CLONES
#endif

#define DEDUP_SIG_VERSION	2
#define DEDUP_SIG_HEADER	8
#define DEDUP_SIG_SIZE		(DEDUP_SIG_HEADER + DEDUP_SKETCH_BYTES)
/* Minima computed: the banded ones rounded up to whole 8-lane vectors, as
 * compilers vectorise only loops without a remainder at -O2. */
#define DEDUP_LANES		((DEDUP_MINIMA + 7) & ~7)
/* A bin's fingerprint: 0 when empty, else 1..FP_VALUES (4 bits). */
#define DEDUP_FP_VALUES		15
_Static_assert(DEDUP_SKETCH_BYTES % 8 == 0, "sketches compare by 8 bytes");

/* Where the normaliser sends the text: a word's bytes in one or more
 * piece() calls, then end(). */
struct dedup_sink {
	void	(*piece)(struct dedup_sink *, const char *, size_t);
	void	(*end)(struct dedup_sink *);
};

/* The normaliser: batches a word's bytes for the sink. */
struct dedup_norm {
	struct dedup_sink	*sink;
	char			 buf[DEDUP_WORD_CHUNK];
	size_t			 n;
	bool			 in_word;
};

/* A growable set of shingle hashes, for dedup_jaccard(). */
struct dedup_shingles {
	uint64_t		*v;
	size_t			 n;
	size_t			 cap;
	bool			 failed;
};

/* The signature sink; embeds the sink first so the callbacks can cast. */
struct dedup_hasher {
	struct dedup_sink	 sink;
	XXH3_state_t		 exact;
	char			 stage[DEDUP_STAGE];
	size_t			 staged;
	char			 word[DEDUP_WORD_CHUNK];
	size_t			 wlen;
	uint64_t		 wseed;
	bool			 word_open;
	uint32_t		 words;
	uint64_t		 ring[DEDUP_SHINGLE];
	struct dedup_shingles	*collect;	/* set: collect, not minhash */
	uint32_t		 mul[DEDUP_LANES];
	uint32_t		 add[DEDUP_LANES];
	uint32_t		 min[DEDUP_LANES];
	uint32_t		 bin[DEDUP_BINS];
};

/* The dedup_normalize() sink. */
struct dedup_textsink {
	struct dedup_sink	 sink;
	struct buf		 out;
	bool			 word_open;
	bool			 failed;
};

/* A near candidate: a document and how many bands it shares. */
struct dedup_cand {
	uint64_t	 id;
	uint32_t	 bands;
};

void
dedup_opts_default(struct dedup_opts *o)
{
	o->near_threshold = DEDUP_THRESHOLD_DEFAULT;
	o->min_words = DEDUP_MIN_WORDS_DEFAULT;
	o->max_candidates = DEDUP_CANDIDATES_DEFAULT;
	o->max_text = DEDUP_MAX_TEXT_DEFAULT;
	o->index_memory_max = DEDUP_INDEX_MEMORY_DEFAULT;
}

const char *
dedup_kind_name(enum dedup_kind k)
{
	switch (k) {
	case DEDUP_NONE:	return "none";
	case DEDUP_EXACT:	return "exact";
	case DEDUP_NEAR:	return "near";
	}
	return "unknown";
}

/* ---- normalisation ---------------------------------------------------- */

static void
norm_flush(struct dedup_norm *z)
{
	if (z->n > 0)
		z->sink->piece(z->sink, z->buf, z->n);
	z->n = 0;
}

/* Appends n <= 4 bytes to the current word. */
static void
norm_put(struct dedup_norm *z, const char *s, size_t n)
{
	if (z->n + n > sizeof(z->buf))
		norm_flush(z);
	memcpy(z->buf + z->n, s, n);
	z->n += n;
	z->in_word = true;
}

static void
norm_end(struct dedup_norm *z)
{
	if (!z->in_word)
		return;
	norm_flush(z);
	z->sink->end(z->sink);
	z->in_word = false;
}

/* Scripts written without spaces: each character is a word. */
static bool
dedup_is_charword(int32_t cp)
{
	return (cp >= 0x2e80 && cp <= 0x9fff) ||	/* CJK, kana */
	    (cp >= 0xf900 && cp <= 0xfaff) ||		/* CJK compat */
	    (cp >= 0x20000 && cp <= 0x3ffff) ||		/* CJK ext. */
	    (cp >= 0x0e00 && cp <= 0x0eff) ||		/* Thai, Lao */
	    (cp >= 0x1000 && cp <= 0x109f) ||		/* Myanmar */
	    (cp >= 0x1780 && cp <= 0x17ff);		/* Khmer */
}

static bool
dedup_is_wordchar(int category)
{
	switch (category) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
	case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN:
		return true;
	default:
		return false;
	}
}

/* One normalised code point: word byte(s), '0', separator or nothing. */
static void
norm_codepoint(struct dedup_norm *z, int32_t cp)
{
	int category = utf8proc_get_property(cp)->category;
	utf8proc_uint8_t enc[4];
	utf8proc_ssize_t n;

	if (category == UTF8PROC_CATEGORY_ND) {
		norm_put(z, "0", 1);
		return;
	}
	if (category == UTF8PROC_CATEGORY_CF)
		return;
	if (!dedup_is_wordchar(category)) {
		norm_end(z);
		return;
	}
	if (dedup_is_charword(cp))
		norm_end(z);
	n = utf8proc_encode_char(cp, enc);
	norm_put(z, (const char *)enc, (size_t)n);
	if (dedup_is_charword(cp))
		norm_end(z);
}

/* The ASCII fast path, equal to what utf8proc gives for ASCII: whole runs
 * of letters and digits go to the sink at once. */
static void
norm_ascii(struct dedup_norm *z, const char *s, size_t n)
{
	char w[DEDUP_WORD_CHUNK];
	size_t i = 0;

	while (i < n) {
		size_t k = 0;

		for (; i < n && k < sizeof(w); i++, k++) {
			char c = s[i];

			if (c >= 'a' && c <= 'z')
				w[k] = c;
			else if (c >= 'A' && c <= 'Z')
				w[k] = (char)(c - 'A' + 'a');
			else if (c >= '0' && c <= '9')
				w[k] = '0';
			else
				break;
		}
		if (k > 0) {
			z->sink->piece(z->sink, w, k);
			z->in_word = true;
		}
		if (i < n && k < sizeof(w)) {
			norm_end(z);	/* s[i] separates words */
			i++;
		}
	}
	norm_end(z);
}

/* NFKC + case fold of one piece of valid UTF-8 (at most PIECE_MAX). */
static void
norm_piece(struct dedup_norm *z, const uint8_t *s, size_t n)
{
	utf8proc_int32_t u[DEDUP_PIECE_MAX * DEDUP_EXPAND_MAX];
	utf8proc_ssize_t k;

	k = utf8proc_decompose(s, (utf8proc_ssize_t)n, u, ARRAY_LEN(u),
	    DEDUP_NFKC_CASEFOLD);
	if (k < 0 || k > (utf8proc_ssize_t)ARRAY_LEN(u))
		return;		/* cannot happen: valid input, bounded growth */
	k = utf8proc_normalize_utf32(u, k, DEDUP_NFKC_CASEFOLD);
	for (utf8proc_ssize_t i = 0; i < k; i++)
		norm_codepoint(z, u[i]);
}

/* A piece may end before cp: a letter that is never the second half of
 * a composition (Hangul vowel and final jamo are) and has no combining
 * class, so no reordering or composition crosses the cut. */
static bool
norm_cut_before(int32_t cp)
{
	const utf8proc_property_t *p = utf8proc_get_property(cp);

	if (p->combining_class != 0 || (cp >= 0x1160 && cp <= 0x11ff))
		return false;
	return p->category >= UTF8PROC_CATEGORY_LU &&
	    p->category <= UTF8PROC_CATEGORY_LO;
}

/* A run of non-space bytes holding non-ASCII: invalid UTF-8 is skipped,
 * the rest goes through utf8proc piece by piece. */
static void
norm_unicode(struct dedup_norm *z, const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	uint8_t piece[DEDUP_PIECE_MAX];
	size_t pn = 0, i = 0;

	while (i < n) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k;

		k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
		if (k <= 0) {
			i++;
			continue;
		}
		if (pn + (size_t)k > sizeof(piece) ||
		    (pn >= DEDUP_PIECE_SOFT && norm_cut_before(cp))) {
			norm_piece(z, piece, pn);
			pn = 0;
		}
		memcpy(piece + pn, p + i, (size_t)k);
		pn += (size_t)k;
		i += (size_t)k;
	}
	if (pn > 0)
		norm_piece(z, piece, pn);
	norm_end(z);
}

static bool
dedup_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

/*
 * Feeds the normalised words of text to sink.  Runs between ASCII
 * whitespace are independent for NFKC (no composition or reordering
 * crosses a space), so pure-ASCII runs take the fast path.
 */
static void
dedup_walk(const char *text, size_t len, size_t max, struct dedup_sink *sink)
{
	struct dedup_norm z = { .sink = sink };
	size_t i = 0;

	if (len > max)
		len = max;
	while (i < len) {
		size_t j = i;
		bool ascii = true;

		if (dedup_is_space((unsigned char)text[i])) {
			i++;
			continue;
		}
		while (j < len && !dedup_is_space((unsigned char)text[j])) {
			ascii = ascii && (unsigned char)text[j] < 0x80;
			j++;
		}
		if (ascii)
			norm_ascii(&z, text + i, j - i);
		else
			norm_unicode(&z, text + i, j - i);
		i = j;
	}
}

/* ---- signature -------------------------------------------------------- */

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Copies what fits of *s into buf (cap bytes, *len in use) and advances
 * *s and *n.  Returns true when buf is full. */
static bool
dedup_fill(char *buf, size_t cap, size_t *len, const char **s, size_t *n)
{
	size_t take = cap - *len;

	if (take > *n)
		take = *n;
	memcpy(buf + *len, *s, take);
	*len += take;
	*s += take;
	*n -= take;
	return *len == cap;
}

static void
hasher_stage(struct dedup_hasher *h, const char *s, size_t n)
{
	while (n > 0)
		if (dedup_fill(h->stage, sizeof(h->stage), &h->staged, &s, &n)) {
			XXH3_128bits_update(&h->exact, h->stage, h->staged);
			h->staged = 0;
		}
}

/* Word bytes: into the exact hash's text and the word's own hash, which
 * folds every DEDUP_WORD_CHUNK bytes so words of any length fit. */
static void
hasher_piece(struct dedup_sink *sink, const char *s, size_t n)
{
	struct dedup_hasher *h = (struct dedup_hasher *)sink;

	if (!h->word_open && h->words > 0)
		hasher_stage(h, " ", 1);
	h->word_open = true;
	hasher_stage(h, s, n);
	while (n > 0)
		if (dedup_fill(h->word, sizeof(h->word), &h->wlen, &s, &n)) {
			h->wseed = XXH3_64bits_withSeed(h->word, h->wlen,
			    h->wseed);
			h->wlen = 0;
		}
}

/*
 * The band minima's update, the hot loop (72 lanes per word).  32-bit
 * lanes and a branch-free min let compilers vectorise it (a tie needs two
 * shingles with the same 32-bit hash: no loss of quality).  On x86-64 an
 * AVX2 clone is picked at load time when the CPU has it: 8 lanes with a
 * native 32-bit multiply, 2.5x faster than baseline SSE2; both give the
 * same numbers.
 */
DEDUP_SIMD_CLONES static void
hasher_minima(struct dedup_hasher *h, uint32_t y)
{
	for (size_t k = 0; k < DEDUP_LANES; k++) {
		uint32_t v = h->mul[k] * y + h->add[k];

		h->min[k] = v < h->min[k] ? v : h->min[k];
	}
}

/* One shingle: the band minima, and the sketch bin that its high bits
 * pick (multiply-shift: any number of bins) keeps the least low bits. */
static void
hasher_shingle(struct dedup_hasher *h, uint64_t x)
{
	uint32_t b = (uint32_t)(((x >> 32) * DEDUP_BINS) >> 32);
	uint32_t v = (uint32_t)x;

	hasher_minima(h, (uint32_t)(x >> 32) ^ (uint32_t)x);
	h->bin[b] = v < h->bin[b] ? v : h->bin[b];
}

static void
shingles_add(struct dedup_shingles *set, uint64_t x)
{
	uint64_t *v;

	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 1024;

		v = realloc(set->v, cap * sizeof(*v));
		if (v == NULL) {
			set->failed = true;
			return;
		}
		set->v = v;
		set->cap = cap;
	}
	set->v[set->n++] = x;
}

/* A word is complete: slide the shingle window over it. */
static void
hasher_end(struct dedup_sink *sink)
{
	struct dedup_hasher *h = (struct dedup_hasher *)sink;
	uint64_t sh[DEDUP_SHINGLE];

	h->ring[h->words % DEDUP_SHINGLE] = XXH3_64bits_withSeed(h->word,
	    h->wlen, h->wseed);
	h->wlen = 0;
	h->wseed = 0;
	h->word_open = false;
	h->words++;
	if (h->words < DEDUP_SHINGLE)
		return;
	for (size_t i = 0; i < DEDUP_SHINGLE; i++)
		sh[i] = h->ring[(h->words + i) % DEDUP_SHINGLE];
	if (h->collect != NULL)
		shingles_add(h->collect, XXH3_64bits(sh, sizeof(sh)));
	else
		hasher_shingle(h, XXH3_64bits(sh, sizeof(sh)));
}

static void
hasher_init(struct dedup_hasher *h)
{
	uint64_t seed = DEDUP_PERM_SEED;

	h->sink.piece = hasher_piece;
	h->sink.end = hasher_end;
	XXH3_128bits_reset(&h->exact);
	h->staged = 0;
	h->wlen = 0;
	h->wseed = 0;
	h->word_open = false;
	h->words = 0;
	h->collect = NULL;
	for (size_t k = 0; k < DEDUP_LANES; k++) {
		h->mul[k] = (uint32_t)splitmix64(&seed) | 1;
		h->add[k] = (uint32_t)splitmix64(&seed);
		h->min[k] = UINT32_MAX;
	}
	for (size_t k = 0; k < DEDUP_BINS; k++)
		h->bin[k] = UINT32_MAX;
}

/* A bin's fingerprint, 1..FP_VALUES, or 0 if the bin is empty (still
 * UINT32_MAX: a lone shingle with exactly that value, 1 in 2^32, counts
 * as none).  A minimum's high bits are mostly 0, so mix before reducing;
 * multiply-shift spreads it evenly over the 15 values, which the
 * estimator's 1/15 relies on. */
static uint8_t
dedup_fingerprint(uint32_t v)
{
	uint64_t x = v * 0x9e3779b97f4a7c15ULL;

	if (v == UINT32_MAX)
		return 0;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (uint8_t)(1 + (((x >> 32) * DEDUP_FP_VALUES) >> 32));
}

static void
hasher_finish(struct dedup_hasher *h, const struct dedup_opts *o,
    struct dedup_sig *out)
{
	XXH128_canonical_t c;

	XXH3_128bits_update(&h->exact, h->stage, h->staged);
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&h->exact));
	memcpy(out->exact, c.digest, sizeof(out->exact));
	out->words = h->words;
	out->near = h->words >= o->min_words && h->words >= DEDUP_SHINGLE;
	memset(out->bands, 0, sizeof(out->bands));
	memset(out->sketch, 0, sizeof(out->sketch));
	if (!out->near)
		return;
	for (size_t k = 0; k < DEDUP_BINS; k++) {
		uint8_t f = dedup_fingerprint(h->bin[k]);

		out->sketch[k / 2] |= (uint8_t)(f << (4 * (k % 2)));
	}
	for (size_t j = 0; j < DEDUP_BANDS; j++) {
		uint64_t b = XXH3_64bits_withSeed(&h->min[j * DEDUP_ROWS],
		    DEDUP_ROWS * sizeof(h->min[0]), j);

		out->bands[j] = (uint32_t)(b ^ (b >> 32));
	}
}

void
dedup_signature(const char *text, size_t len, const struct dedup_opts *o,
    struct dedup_sig *out)
{
	struct dedup_opts defaults;
	struct dedup_hasher h;

	if (o == NULL) {
		dedup_opts_default(&defaults);
		o = &defaults;
	}
	hasher_init(&h);
	dedup_walk(text, len, o->max_text, &h.sink);
	hasher_finish(&h, o, out);
}

static void
textsink_piece(struct dedup_sink *sink, const char *s, size_t n)
{
	struct dedup_textsink *t = (struct dedup_textsink *)sink;

	if (!t->word_open && t->out.len > 0 &&
	    buf_append(&t->out, " ", 1) == -1)
		t->failed = true;
	t->word_open = true;
	if (buf_append(&t->out, s, n) == -1)
		t->failed = true;
}

static void
textsink_end(struct dedup_sink *sink)
{
	((struct dedup_textsink *)sink)->word_open = false;
}

char *
dedup_normalize(const char *text, size_t len, const struct dedup_opts *o,
    size_t *outlen)
{
	struct dedup_textsink t = {
		.sink = { textsink_piece, textsink_end },
	};
	struct dedup_opts defaults;
	char *s;

	if (o == NULL) {
		dedup_opts_default(&defaults);
		o = &defaults;
	}
	buf_init(&t.out, BUF_MAX);
	dedup_walk(text, len, o->max_text, &t.sink);
	if (!t.failed && buf_append(&t.out, "", 0) == -1)
		t.failed = true;
	if (t.failed) {
		buf_free(&t.out);
		return NULL;
	}
	s = buf_steal(&t.out, outlen);
	return s;
}

/* The lowest bit of each of the 16 nibbles of x that are not 0. */
static uint64_t
dedup_nibbles_nonzero(uint64_t x)
{
	x |= x >> 1;
	x |= x >> 2;
	return x & 0x1111111111111111ULL;
}

/* What two sketches share: bins non-empty in either (n), in both (both),
 * equal there (same), and non-empty in each (na, nb). */
struct dedup_cmp {
	size_t		 n, both, same, na, nb;
};

/* Compares two sketches of DEDUP_SKETCH_BYTES. */
static void
dedup_compare(const uint8_t *a, const uint8_t *b, struct dedup_cmp *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < DEDUP_SKETCH_BYTES; i += 8) {
		uint64_t x, y, nx, ny;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		nx = dedup_nibbles_nonzero(x);
		ny = dedup_nibbles_nonzero(y);
		c->n += (size_t)__builtin_popcountll(nx | ny);
		c->both += (size_t)__builtin_popcountll(nx & ny);
		c->same += (size_t)__builtin_popcountll(nx & ny &
		    ~dedup_nibbles_nonzero(x ^ y));
		c->na += (size_t)__builtin_popcountll(nx);
		c->nb += (size_t)__builtin_popcountll(ny);
	}
}

/*
 * The Jaccard estimate of a comparison: different minima share a
 * fingerprint with chance c = 1/FP_VALUES, so E[same] = t + c(both - t)
 * for t true matches, and t/n estimates the Jaccard similarity.
 */
static double
dedup_cmp_jaccard(const struct dedup_cmp *c)
{
	/* One division of exact integers: a ratio of exactly 4/5 gives the
	 * same double as 0.8, and identical sketches exactly 1. */
	if (c->n == 0 || DEDUP_FP_VALUES * c->same <= c->both)
		return 0;
	return (double)(DEDUP_FP_VALUES * c->same - c->both) /
	    ((double)(DEDUP_FP_VALUES - 1) * c->n);
}

/*
 * The number of distinct shingles of a text of words words whose sketch
 * has k non-empty bins: words - 4, unless the text repeats itself, which
 * the bins show while they are not all full (linear counting: k of m bins
 * are non-empty after about -m ln(1 - k/m) distinct shingles).
 */
static double
dedup_shingle_count(uint32_t words, size_t k)
{
	double n = words >= DEDUP_SHINGLE ? words - (DEDUP_SHINGLE - 1) : 0;
	double lc;

	if (k >= DEDUP_BINS)
		return n;
	lc = -(double)DEDUP_BINS * log1p(-(double)k / DEDUP_BINS);
	/* Linear counting's error is a few percent at most below the
	 * saturation: only a clearly smaller count is repetition. */
	return lc * 1.1 < n ? lc * 1.1 : n;
}

/*
 * The share of the smaller text's shingles found in the larger, from the
 * Jaccard estimate j and the two sets' sizes: |A n B| = j (|A| + |B|) /
 * (1 + j).  *ratio is the smaller's size over the larger's.
 */
static double
dedup_cmp_containment(const struct dedup_cmp *c, double j, uint32_t wa,
    uint32_t wb, double *ratio)
{
	double a = dedup_shingle_count(wa, c->na);
	double b = dedup_shingle_count(wb, c->nb);
	double lo = a < b ? a : b, hi = a < b ? b : a, inter;

	*ratio = hi > 0 ? lo / hi : 0;
	if (lo <= 0)
		return 0;
	inter = j * (a + b) / (1 + j);
	return inter >= lo ? 1.0 : inter / lo;
}

/*
 * The near-duplicate rule (dedup.h): estimated Jaccard j >= threshold, or
 * the smaller text at least DEDUP_CONTAIN_RATIO of the larger and almost
 * all in it, containment >= (1 + threshold) / 2 (not at threshold 1,
 * which asks for identical sketches).  *sim gets j.
 */
static bool
dedup_cmp_near(const struct dedup_cmp *c, uint32_t wa, uint32_t wb,
    double threshold, double *sim)
{
	double ratio, contain;

	*sim = dedup_cmp_jaccard(c);
	if (*sim >= threshold)
		return true;
	if (threshold >= 1)	/* identical sketches only: no containment */
		return false;
	contain = dedup_cmp_containment(c, *sim, wa, wb, &ratio);
	return ratio >= DEDUP_CONTAIN_RATIO && contain >= (1 + threshold) / 2;
}

double
dedup_similarity(const struct dedup_sig *a, const struct dedup_sig *b)
{
	struct dedup_cmp c;

	if (!a->near || !b->near)
		return 0;
	dedup_compare(a->sketch, b->sketch, &c);
	return dedup_cmp_jaccard(&c);
}

double
dedup_containment(const struct dedup_sig *a, const struct dedup_sig *b)
{
	struct dedup_cmp c;
	double ratio;

	if (!a->near || !b->near)
		return 0;
	dedup_compare(a->sketch, b->sketch, &c);
	return dedup_cmp_containment(&c, dedup_cmp_jaccard(&c), a->words,
	    b->words, &ratio);
}

bool
dedup_is_near(const struct dedup_sig *a, const struct dedup_sig *b,
    double threshold, double *sim)
{
	struct dedup_cmp c;

	*sim = 0;
	if (!a->near || !b->near)
		return false;
	dedup_compare(a->sketch, b->sketch, &c);
	return dedup_cmp_near(&c, a->words, b->words, threshold, sim);
}

static int
dedup_cmp_u64(const void *va, const void *vb)
{
	uint64_t a = *(const uint64_t *)va, b = *(const uint64_t *)vb;

	return a < b ? -1 : a > b;
}

/* The sorted, distinct shingle hashes of text, as signatures see them. */
static int
dedup_shingle_set(const char *text, size_t len, const struct dedup_opts *o,
    struct dedup_shingles *set)
{
	struct dedup_hasher h;
	size_t n = 0;

	hasher_init(&h);
	h.collect = set;
	dedup_walk(text, len, o->max_text, &h.sink);
	if (set->failed)
		return ENOMEM;
	if (set->n > 0)
		qsort(set->v, set->n, sizeof(set->v[0]), dedup_cmp_u64);
	for (size_t i = 0; i < set->n; i++)
		if (n == 0 || set->v[n - 1] != set->v[i])
			set->v[n++] = set->v[i];
	set->n = n;
	return 0;
}

static double
dedup_set_jaccard(const struct dedup_shingles *a,
    const struct dedup_shingles *b)
{
	size_t i = 0, j = 0, inter = 0;

	if (a->n + b->n == 0)
		return 1.0;
	while (i < a->n && j < b->n) {
		if (a->v[i] < b->v[j])
			i++;
		else if (a->v[i] > b->v[j])
			j++;
		else {
			inter++;
			i++;
			j++;
		}
	}
	return (double)inter / (double)(a->n + b->n - inter);
}

int
dedup_jaccard(const char *a, size_t alen, const char *b, size_t blen,
    const struct dedup_opts *o, double *j)
{
	struct dedup_shingles sa = { 0 }, sb = { 0 };
	struct dedup_opts defaults;
	int rc;

	if (o == NULL) {
		dedup_opts_default(&defaults);
		o = &defaults;
	}
	rc = dedup_shingle_set(a, alen, o, &sa);
	if (rc == 0)
		rc = dedup_shingle_set(b, blen, o, &sb);
	if (rc == 0)
		*j = dedup_set_jaccard(&sa, &sb);
	free(sa.v);
	free(sb.v);
	return rc;
}

/* ---- LMDB index ------------------------------------------------------- */

/*
 * The index's format, kept in dedup_sigs under doc id 0 (no document has
 * id 0): DEDUP_FORMAT, then flags.  Format 1 (18x6 MinHash, 64-bit band
 * keys, 216 16-bit fingerprints) had no such record; format 2 kept the
 * exact hashes and the band keys in B-trees, dedup_exact and dedup_bands.
 */
#define DEDUP_FORMAT		3
#define DEDUP_FORMAT_ID		0
#define DEDUP_FORMAT_SIZE	8
#define DEDUP_F_REINDEX		0x1	/* first copies await re-indexing */
/* Documents filed under one exact key read at most: only a stray
 * collision of 32-bit keys puts a second one there. */
#define DEDUP_EXACT_CANDIDATES	8

/* Doc ids are native uint64 (MDB_INTEGERKEY: integer compares, not
 * memcmp); LMDB data need not be aligned. */
static uint64_t
dedup_u64(const MDB_val *v)
{
	uint64_t x;

	memcpy(&x, v->mv_data, sizeof(x));
	return x;
}

/* The in-memory key of an exact hash: its first 32 bits (a hash's bits are
 * uniform); a stray match with a band key is a candidate that the stored
 * hash rules out. */
static uint32_t
dedup_exact_key(const uint8_t *exact)
{
	uint32_t k;

	memcpy(&k, exact, sizeof(k));
	return k;
}

static void
dedup_record_encode(uint8_t *r, const struct dedup_sig *sig)
{
	r[0] = DEDUP_SIG_VERSION;
	r[1] = r[2] = r[3] = 0;
	for (int i = 0; i < 4; i++)
		r[4 + i] = (uint8_t)(sig->words >> (8 * i));
	memcpy(r + DEDUP_SIG_HEADER, sig->sketch, DEDUP_SKETCH_BYTES);
}

static int
dedup_format_put(MDB_txn *txn, const struct dedup_dbs *dbs, uint8_t flags)
{
	uint8_t r[DEDUP_FORMAT_SIZE] = { DEDUP_FORMAT, flags };
	uint64_t id = DEDUP_FORMAT_ID;
	MDB_val k = { sizeof(id), &id }, v = { sizeof(r), r };

	return mdb_put(txn, dbs->sigs, &k, &v, 0);
}

/* Deletes a B-tree of formats 1 and 2 if there is one; *found is set if
 * it held anything. */
static int
dedup_drop_old(MDB_txn *txn, const char *name, bool *found)
{
	MDB_dbi old;
	MDB_stat st;
	int rc;

	rc = mdb_dbi_open(txn, name, 0, &old);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc == 0)
		rc = mdb_stat(txn, old, &st);
	if (rc == 0) {
		*found |= st.ms_entries > 0;
		rc = mdb_drop(txn, old, 1);
	}
	return rc;
}

/* Older formats cannot be converted without the texts (format 1's
 * sketches are not this one's; format 2's keys are not filed by
 * document): empty the index, and have the caller index every stored
 * first copy again. */
static int
dedup_convert(MDB_txn *txn, struct dedup_dbs *dbs)
{
	int rc;

	rc = mdb_drop(txn, dbs->keys, 0);
	if (rc == 0)
		rc = mdb_drop(txn, dbs->sigs, 0);
	if (rc == 0)
		rc = dedup_format_put(txn, dbs, DEDUP_F_REINDEX);
	dbs->reindex = rc == 0;
	return rc;
}

/* Reads the format record, writes it into a new index, converts an old
 * one. */
static int
dedup_format(MDB_txn *txn, struct dedup_dbs *dbs, char *err, size_t errlen)
{
	uint64_t id = DEDUP_FORMAT_ID;
	MDB_val k = { sizeof(id), &id }, v;
	const uint8_t *r;
	MDB_stat st;
	bool old = false;
	int rc;

	/* dedup_bandlog: a development build's format 3, never released. */
	rc = dedup_drop_old(txn, "dedup_bands", &old);
	if (rc == 0)
		rc = dedup_drop_old(txn, "dedup_exact", &old);
	if (rc == 0)
		rc = dedup_drop_old(txn, "dedup_bandlog", &old);
	if (rc == 0)
		rc = mdb_get(txn, dbs->sigs, &k, &v);
	if (rc == MDB_NOTFOUND) {	/* new, or format 1 */
		rc = mdb_stat(txn, dbs->sigs, &st);
		if (rc != 0)
			return rc;
		return st.ms_entries == 0 && !old ?
		    dedup_format_put(txn, dbs, 0) : dedup_convert(txn, dbs);
	}
	if (rc != 0)
		return rc;
	r = v.mv_data;
	if (v.mv_size == DEDUP_FORMAT_SIZE &&
	    (r[0] == 2 || (r[0] == DEDUP_FORMAT && old)))
		return dedup_convert(txn, dbs);
	if (v.mv_size != DEDUP_FORMAT_SIZE || r[0] != DEDUP_FORMAT) {
		snprintf(err, errlen, "duplicate index format %u, this sluiced "
		    "reads format %d", v.mv_size > 0 ? r[0] : 0, DEDUP_FORMAT);
		return MDB_INCOMPATIBLE;
	}
	dbs->reindex = (r[1] & DEDUP_F_REINDEX) != 0;
	return 0;
}

/* The in-memory keys of a dedup_keys record (or of a signature): the
 * exact key, then the band keys if near.  Returns how many. */
static size_t
dedup_mem_keys(const uint8_t *exact, const uint8_t *bands, bool near,
    uint32_t *keys)
{
	keys[0] = dedup_exact_key(exact);
	if (!near)
		return 1;
	memcpy(keys + 1, bands, 4 * DEDUP_BANDS);
	return 1 + DEDUP_BANDS;
}

/* Files one dedup_keys record in memory. */
static int
dedup_load_one(struct dedup_dbs *dbs, const MDB_val *k, const MDB_val *v)
{
	const uint8_t *r = v->mv_data;
	uint32_t keys[1 + DEDUP_BANDS];
	size_t n;

	if (k->mv_size != sizeof(uint64_t) ||
	    (v->mv_size != DEDUP_KEYS_EXACT && v->mv_size != DEDUP_KEYS_NEAR))
		return MDB_CORRUPTED;
	n = dedup_mem_keys(r, r + DEDUP_KEYS_EXACT,
	    v->mv_size == DEDUP_KEYS_NEAR, keys);
	return lsh_add(&dbs->near, dedup_u64(k), keys, n);
}

/* Loads every document's keys into memory, or as many as max_bytes
 * allows (dedup_index_full() then says so). */
static int
dedup_load(MDB_txn *txn, struct dedup_dbs *dbs, size_t max_bytes)
{
	MDB_cursor *cur;
	MDB_stat st;
	MDB_val k, v;
	int rc;

	rc = mdb_stat(txn, dbs->keys, &st);
	if (rc == 0)
		rc = lsh_init(&dbs->near, st.ms_entries, 1 + DEDUP_BANDS,
		    max_bytes);
	if (rc == 0)
		rc = mdb_cursor_open(txn, dbs->keys, &cur);
	if (rc != 0)
		return rc;
	/* Each document committed at once: a load has nothing to undo. */
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0 &&
	    (rc = dedup_load_one(dbs, &k, &v)) == 0)
		lsh_commit(&dbs->near);
	mdb_cursor_close(cur);
	lsh_commit(&dbs->near);
	return rc == MDB_NOTFOUND || rc == ENOSPC ? 0 : rc;
}

int
dedup_open(MDB_txn *txn, struct dedup_dbs *dbs, const struct dedup_opts *o,
    char *err, size_t errlen)
{
	struct dedup_opts defaults;
	int rc;

	if (o == NULL) {
		dedup_opts_default(&defaults);
		o = &defaults;
	}
	memset(dbs, 0, sizeof(*dbs));
	rc = mdb_dbi_open(txn, "dedup_keys", MDB_CREATE | MDB_INTEGERKEY,
	    &dbs->keys);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "dedup_sigs",
		    MDB_CREATE | MDB_INTEGERKEY, &dbs->sigs);
	if (rc == 0)
		rc = dedup_format(txn, dbs, err, errlen);
	else
		snprintf(err, errlen, "%s", mdb_strerror(rc));
	if (rc == 0 && (rc = dedup_load(txn, dbs, o->index_memory_max)) != 0)
		snprintf(err, errlen, "loading the duplicate index: %s",
		    rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
	if (rc != 0)
		lsh_free(&dbs->near);
	return rc;
}

void
dedup_commit(struct dedup_dbs *dbs)
{
	lsh_commit(&dbs->near);
}

void
dedup_rollback(struct dedup_dbs *dbs)
{
	lsh_rollback(&dbs->near);
}

void
dedup_close(struct dedup_dbs *dbs)
{
	lsh_free(&dbs->near);
}

size_t
dedup_memory(const struct dedup_dbs *dbs)
{
	return lsh_bytes(&dbs->near);
}

size_t
dedup_indexed(const struct dedup_dbs *dbs)
{
	return dbs->near.commit_ndoc;
}

bool
dedup_index_full(const struct dedup_dbs *dbs)
{
	return dbs->near.full;
}

int
dedup_reindex_done(MDB_txn *txn, struct dedup_dbs *dbs)
{
	int rc = dedup_format_put(txn, dbs, 0);

	if (rc == 0)
		dbs->reindex = false;
	return rc;
}

/* The earlier document with sig's exact hash, if any, other than self:
 * the in-memory key names candidates, and their stored hashes decide. */
static int
dedup_find_exact(MDB_txn *txn, const struct dedup_dbs *dbs,
    const struct dedup_sig *sig, uint64_t self, struct dedup_match *m)
{
	uint64_t ids[DEDUP_EXACT_CANDIDATES];
	size_t n;
	int rc;

	n = lsh_find(&dbs->near, dedup_exact_key(sig->exact),
	    DEDUP_EXACT_CANDIDATES, ids);
	for (size_t i = 0; i < n; i++) {
		MDB_val k = { sizeof(ids[i]), &ids[i] }, v;

		if (ids[i] == self)
			continue;
		rc = mdb_get(txn, dbs->keys, &k, &v);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0)
			return rc;
		if (v.mv_size < DEDUP_KEYS_EXACT || memcmp(v.mv_data,
		    sig->exact, DEDUP_KEYS_EXACT) != 0)
			continue;
		m->doc_id = ids[i];
		m->kind = DEDUP_EXACT;
		m->similarity = 1.0;
		break;
	}
	return 0;
}

static int
dedup_cand_by_id(const void *va, const void *vb)
{
	const struct dedup_cand *a = va, *b = vb;

	return a->id < b->id ? -1 : a->id > b->id;
}

/* Most shared bands first: a near copy shares many, a stray hit one. */
static int
dedup_cand_by_bands(const void *va, const void *vb)
{
	const struct dedup_cand *a = va, *b = vb;

	if (a->bands != b->bands)
		return a->bands > b->bands ? -1 : 1;
	return dedup_cand_by_id(va, vb);
}

/* Merges repeated ids into one entry counting its bands, then ranks.
 * Returns the number of distinct candidates. */
static size_t
dedup_rank(struct dedup_cand *c, size_t n)
{
	size_t out = 0;

	qsort(c, n, sizeof(*c), dedup_cand_by_id);
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && c[out - 1].id == c[i].id)
			c[out - 1].bands++;
		else
			c[out++] = c[i];
	}
	qsort(c, out, sizeof(*c), dedup_cand_by_bands);
	return out;
}

/* Whether sig is a near duplicate of stored document id (*near), and
 * their estimated similarity (*sim); neither if the record is gone or of
 * another layout. */
static int
dedup_confirm(MDB_txn *txn, const struct dedup_dbs *dbs, uint64_t id,
    const struct dedup_sig *sig, double threshold, bool *near, double *sim)
{
	MDB_val k = { sizeof(id), &id }, v;
	struct dedup_cmp c;
	const uint8_t *r;
	uint32_t words = 0;
	int rc;

	*sim = 0;
	*near = false;
	rc = mdb_get(txn, dbs->sigs, &k, &v);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	r = v.mv_data;
	if (v.mv_size != DEDUP_SIG_SIZE || r[0] != DEDUP_SIG_VERSION)
		return 0;
	for (int i = 0; i < 4; i++)
		words |= (uint32_t)r[4 + i] << (8 * i);
	dedup_compare(r + DEDUP_SIG_HEADER, sig->sketch, &c);
	*near = dedup_cmp_near(&c, words, sig->words, threshold, sim);
	return 0;
}

/* Up to per_band documents of each of sig's bands, into c (*n of them);
 * ids is room for per_band. */
static void
dedup_collect(const struct dedup_dbs *dbs, const struct dedup_sig *sig,
    uint32_t per_band, uint64_t *ids, struct dedup_cand *c, size_t *n)
{
	*n = 0;
	for (size_t j = 0; j < DEDUP_BANDS; j++) {
		size_t got = lsh_find(&dbs->near, sig->bands[j], per_band,
		    ids);

		for (size_t i = 0; i < got; i++)
			c[(*n)++] = (struct dedup_cand){ ids[i], 1 };
	}
}

static int
dedup_find_near(MDB_txn *txn, const struct dedup_dbs *dbs,
    const struct dedup_sig *sig, const struct dedup_opts *o, uint64_t self,
    struct dedup_match *m)
{
	struct dedup_cand *c;
	uint64_t *ids;
	size_t n;
	double sim;
	bool near;
	int rc = 0;

	c = calloc((size_t)DEDUP_BANDS * o->max_candidates, sizeof(*c));
	ids = calloc(o->max_candidates, sizeof(*ids));
	if (c == NULL || ids == NULL) {
		rc = ENOMEM;
		goto out;
	}
	dedup_collect(dbs, sig, o->max_candidates, ids, c, &n);
	n = dedup_rank(c, n);
	for (size_t i = 0; i < n && i < o->max_candidates; i++) {
		if (c[i].id == self)
			continue;
		rc = dedup_confirm(txn, dbs, c[i].id, sig, o->near_threshold,
		    &near, &sim);
		if (rc != 0)
			goto out;
		m->candidates++;
		if (!near || sim < m->similarity ||
		    (sim == m->similarity && c[i].id > m->doc_id))
			continue;
		m->doc_id = c[i].id;
		m->kind = DEDUP_NEAR;
		m->similarity = sim;
	}
out:
	free(ids);
	free(c);
	return rc;
}

/* Puts a record under doc_id in an MDB_INTEGERKEY database.  Document ids
 * mostly grow, and appending leaves full pages behind, where a plain put
 * at the end splits them 3+1 (1,370 bytes per signature record on
 * bench/dedup instead of 1,030). */
static int
dedup_append(MDB_txn *txn, MDB_dbi dbi, uint64_t doc_id, void *data,
    size_t len)
{
	MDB_val k = { sizeof(doc_id), &doc_id }, v = { len, data };
	int rc;

	rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		rc = mdb_put(txn, dbi, &k, &v, 0);
	return rc;
}

/* Indexes doc_id under sig: its keys in memory, its dedup_keys record and,
 * if near, its signature record; nothing when the memory bound is
 * reached. */
static int
dedup_index(MDB_txn *txn, struct dedup_dbs *dbs, uint64_t doc_id,
    const struct dedup_sig *sig, const uint32_t *keys, size_t nkeys)
{
	uint8_t rec[DEDUP_SIG_SIZE], kr[DEDUP_KEYS_NEAR];
	int rc;

	rc = lsh_add(&dbs->near, doc_id, keys, nkeys);
	if (rc == ENOSPC)
		return 0;
	memcpy(kr, sig->exact, DEDUP_KEYS_EXACT);
	memcpy(kr + DEDUP_KEYS_EXACT, sig->bands, sizeof(sig->bands));
	if (rc == 0)
		rc = dedup_append(txn, dbs->keys, doc_id, kr, sig->near ?
		    DEDUP_KEYS_NEAR : DEDUP_KEYS_EXACT);
	if (rc == 0 && sig->near) {
		dedup_record_encode(rec, sig);
		rc = dedup_append(txn, dbs->sigs, doc_id, rec, sizeof(rec));
	}
	return rc;
}

/* sig's in-memory keys, into keys; returns how many. */
static size_t
dedup_sig_keys(const struct dedup_sig *sig, uint32_t *keys)
{
	return dedup_mem_keys(sig->exact, (const uint8_t *)sig->bands,
	    sig->near, keys);
}

int
dedup_reindex(MDB_txn *txn, struct dedup_dbs *dbs, uint64_t doc_id,
    const struct dedup_sig *sig)
{
	MDB_val k = { sizeof(doc_id), &doc_id }, v;
	uint32_t keys[1 + DEDUP_BANDS];
	int rc;

	if (doc_id == DEDUP_FORMAT_ID)
		return EINVAL;
	if (sig->words == 0)
		return 0;
	rc = mdb_get(txn, dbs->keys, &k, &v);	/* indexed already? */
	if (rc != MDB_NOTFOUND)
		return rc;
	return dedup_index(txn, dbs, doc_id, sig, keys,
	    dedup_sig_keys(sig, keys));
}

int
dedup_verdict(MDB_txn *txn, struct dedup_dbs *dbs, uint64_t first,
    const struct dedup_sig *sig, const struct dedup_opts *o,
    enum dedup_kind *kind, double *sim)
{
	MDB_val k = { sizeof(first), &first }, v;
	bool near;
	int rc;

	*kind = DEDUP_NONE;
	*sim = 0;
	if (sig->words == 0)
		return 0;
	rc = mdb_get(txn, dbs->keys, &k, &v);
	if (rc != 0)
		return rc == MDB_NOTFOUND ? 0 : rc;
	if (v.mv_size >= DEDUP_KEYS_EXACT && memcmp(v.mv_data, sig->exact,
	    DEDUP_KEYS_EXACT) == 0) {
		*kind = DEDUP_EXACT;
		*sim = 1.0;
		return 0;
	}
	if (!sig->near)
		return 0;
	if ((rc = dedup_confirm(txn, dbs, first, sig, o->near_threshold,
	    &near, sim)) != 0)
		return rc;
	if (near)
		*kind = DEDUP_NEAR;
	return 0;
}

int
dedup_find_other(MDB_txn *txn, struct dedup_dbs *dbs, uint64_t doc_id,
    const struct dedup_sig *sig, const struct dedup_opts *o,
    struct dedup_match *m)
{
	int rc;

	memset(m, 0, sizeof(*m));
	if (sig->words == 0)
		return 0;
	rc = dedup_find_exact(txn, dbs, sig, doc_id, m);
	if (rc == 0 && m->kind == DEDUP_NONE && sig->near &&
	    o->max_candidates > 0)
		rc = dedup_find_near(txn, dbs, sig, o, doc_id, m);
	return rc;
}

int
dedup_replace(MDB_txn *txn, struct dedup_dbs *dbs, uint64_t doc_id,
    const struct dedup_sig *sig)
{
	MDB_val k = { sizeof(doc_id), &doc_id };
	uint32_t keys[1 + DEDUP_BANDS];
	int rc;

	if (doc_id == DEDUP_FORMAT_ID)
		return EINVAL;
	rc = mdb_del(txn, dbs->keys, &k, NULL);
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = mdb_del(txn, dbs->sigs, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (sig->words == 0)
		return 0;
	return dedup_index(txn, dbs, doc_id, sig, keys,
	    dedup_sig_keys(sig, keys));
}

int
dedup_check_insert(MDB_txn *txn, struct dedup_dbs *dbs, uint64_t doc_id,
    const struct dedup_sig *sig, const struct dedup_opts *o,
    struct dedup_match *m)
{
	struct dedup_opts defaults;
	uint32_t keys[1 + DEDUP_BANDS];
	size_t nkeys;
	int rc;

	if (o == NULL) {
		dedup_opts_default(&defaults);
		o = &defaults;
	}
	memset(m, 0, sizeof(*m));
	if (doc_id == DEDUP_FORMAT_ID)
		return EINVAL;
	if (sig->words == 0)
		return 0;
	dbs->near.max_bytes = o->index_memory_max;	/* reloadable */
	/* In a large table each key is a cache miss: ask for all at once. */
	nkeys = dedup_sig_keys(sig, keys);
	lsh_prefetch(&dbs->near, keys, nkeys);
	rc = dedup_find_exact(txn, dbs, sig, 0, m);
	if (rc == 0 && m->kind == DEDUP_NONE && sig->near &&
	    o->max_candidates > 0)
		rc = dedup_find_near(txn, dbs, sig, o, 0, m);
	if (rc == 0 && m->kind == DEDUP_NONE)
		rc = dedup_index(txn, dbs, doc_id, sig, keys, nkeys);
	return rc;
}

void
dedup_note_full(struct dedup_dbs *dbs)
{
	bool full = dedup_index_full(dbs);

	if (full == dbs->noted_full)
		return;
	dbs->noted_full = full;
	if (full)
		log_warnx("dedup: the index reached dedup.index_memory_max "
		    "(%zu bytes in use): new documents are checked but not "
		    "indexed", dedup_memory(dbs));
	else
		log_notice("dedup: the index is below dedup.index_memory_max "
		    "again");
}
