/*
 * dedup.h - exact and near-duplicate detection on cleaned text (UTF-8, one
 * paragraph per line), never on raw HTML.
 *
 * Two halves, for two threads:
 *   - dedup_signature() is pure: worker threads call it after cleaning.
 *   - dedup_check_insert() runs on the loop thread inside the caller's
 *     LMDB write transaction, the one that also stores the document, so
 *     two copies fetched at once cannot both be "first".
 *
 * Normalisation (what "the same text" means).  utf8proc NFKC + case fold
 * (COMPOSE|COMPAT|CASEFOLD|STABLE|IGNORE, so default-ignorables such as
 * soft hyphens and zero-width joiners vanish), then per code point:
 * letters, marks and non-decimal numbers are word characters; decimal
 * digits become '0' (a changed date or count is not a different text);
 * punctuation (P*), symbols (S*: bullets, arrows, currency, emoji, which
 * templates vary), separators and controls split words; other format
 * characters are dropped.  Han, kana, Thai, Lao, Khmer and Myanmar
 * characters are one word each, as these scripts do not space words.
 * Words are joined by one space.  Invalid UTF-8 bytes are skipped.  Only
 * the first max_text bytes are read.
 *
 * Exact: XXH3-128 of the normalised text.
 *
 * Near: MinHash over the set of word 5-gram shingles: one XXH3-64 per
 * word, one per shingle, folded to 32 bits y, then DEDUP_HASHES = 216
 * permutations h_k(y) = a_k*y + b_k mod 2^32 (a_k odd); the minimum of
 * each over the text's shingles is kept.  Two texts whose shingle sets
 * have Jaccard similarity s agree on each minimum with probability s.
 *
 * Candidates (LSH): the first 108 minima form DEDUP_BANDS = 18 bands of
 * DEDUP_ROWS = 6; a text is indexed under each band's hash, and two texts
 * sharing at least one band become candidates, with probability
 *
 *	P(s) = 1 - (1 - s^r)^b,		b = 18, r = 6
 *
 *	s     0.2    0.3    0.4    0.5    0.6    0.7    0.8    0.85   0.9
 *	P(s)  0.001  0.013  0.071  0.247  0.577  0.895  0.996  0.9998 1.000
 *
 * The curve's midpoint (1/b)^(1/r) = 0.62 sits well below the 0.8
 * threshold, so the candidate stage loses 0.4% of pairs at s = 0.8 and
 * nothing above 0.85; 14x8 (midpoint 0.72) would lose 7.7% at 0.8 and
 * 16x7 2.3%.  The price is more candidates at 0.5 (25%; 14x8 gives 5%),
 * each costing one signature read before it is rejected; unrelated texts
 * (s < 0.2) almost never meet.
 *
 * Confirmation: a candidate is a duplicate when its estimated Jaccard -
 * the fraction of all 216 minima that agree - reaches near_threshold.
 * The estimate has standard deviation sqrt(s(1-s)/216), 0.027 at 0.8, so
 * the chance that a pair is confirmed at the default 0.8 (173 of 216) is
 *
 *	s     0.6    0.7     0.75   0.8    0.82   0.85   0.9
 *	      0      0.0005  0.047  0.53   0.80   0.98   1.000
 *
 * Confirming on 216 rather than the 108 banded minima halves the variance
 * for the same 18 band lookups: on bench/dedup it raised recall at true
 * Jaccard >= 0.8 from 0.971 to 0.985.  With the AVX2 clone of the update
 * loop it costs no measurable CPU (the loop hides behind the hashing);
 * on baseline SSE2 it costs 25% more.
 *
 * Stored minima are 16-bit fingerprints (a mix of the 32-bit minimum):
 * two different minima collide with probability 2^-16, which biases the
 * raw agreement f upwards to s + (1-s)2^-16; dedup_similarity() returns
 * (f - 2^-16) / (1 - 2^-16), unbiased.
 *
 * Texts with fewer than min_words words (or fewer than one shingle) get
 * exact dedup only: a few words carry too few shingles for MinHash.  A text
 * with no word at all is never matched nor indexed.
 *
 * LMDB layout (the caller's environment needs mdb_env_set_maxdbs room for
 * three more databases; doc ids are native uint64, so integer compares
 * replace memcmp - LMDB files are not portable across byte orders anyway):
 *   dedup_exact  16-byte hash -> doc id
 *   dedup_bands  band hash (MDB_INTEGERKEY; seeded with the band index, so
 *                bands never mix) -> doc ids (MDB_DUPSORT|MDB_DUPFIXED|
 *                MDB_INTEGERDUP: oldest first)
 *   dedup_sigs   doc id (MDB_INTEGERKEY) -> record: version 1, bands,
 *                rows, 0, 32-bit word count, DEDUP_HASHES 16-bit
 *                fingerprints (little-endian); 440 bytes
 * Only first copies are indexed; a duplicate adds nothing.  Measured on
 * bench/dedup (pages in use / documents, 10k to 1M documents): 1.3 KiB
 * per near-indexed document (exact 50 B, bands 690 B, sigs 590 B), 50 B
 * for an exact-only one.  Indexing a document writes 20 keys at random
 * places, i.e. dirties ~20 leaf pages of the caller's transaction.
 * dedup_check_insert costs ~2 us for an exact copy, 10-30 us for a near
 * copy and 20-60 us for a new document, from 10k to 1M stored (B-tree
 * depth and cache misses, not bucket sizes: those are bounded).
 * Changing DEDUP_BANDS, DEDUP_ROWS or the hashing makes old entries
 * unmatched (records of another layout are skipped), not wrong.
 */
#ifndef SLUICE_DEDUP_H
#define SLUICE_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#define DEDUP_BANDS		18
#define DEDUP_ROWS		6
#define DEDUP_HASHES		216	/* minima; the first BANDS*ROWS band */
#define DEDUP_SHINGLE		5	/* words per shingle */

#define DEDUP_THRESHOLD_DEFAULT	0.8
#define DEDUP_MIN_WORDS_DEFAULT	30
#define DEDUP_CANDIDATES_DEFAULT 64
#define DEDUP_MAX_TEXT_DEFAULT	((size_t)4 << 20)

struct dedup_opts {
	/* Estimated Jaccard a near candidate must reach; default 0.8. */
	double		 near_threshold;
	/* Below this many words, exact dedup only; default 30. */
	uint32_t	 min_words;
	/* Earlier documents whose signatures one lookup compares, and band
	 * entries read per band; default 64.  Bounds the loop thread's work
	 * whatever a bucket holds. */
	uint32_t	 max_candidates;
	/* Bytes of text read; the rest is ignored; default 4 MiB. */
	size_t		 max_text;
};

struct dedup_sig {
	uint8_t		 exact[16];	/* XXH3-128, canonical byte order */
	uint32_t	 words;		/* words in the normalised text */
	bool		 near;		/* near dedup applies */
	uint64_t	 bands[DEDUP_BANDS];	/* LSH keys; 0 when !near */
	uint16_t	 fp[DEDUP_HASHES];	/* minhash fingerprints */
};

struct dedup_dbs {
	MDB_dbi		 exact;
	MDB_dbi		 bands;
	MDB_dbi		 sigs;
};

enum dedup_kind {
	DEDUP_NONE = 0,
	DEDUP_EXACT,
	DEDUP_NEAR,
};

struct dedup_match {
	uint64_t	 doc_id;	/* the earlier document; 0 if NONE */
	enum dedup_kind	 kind;
	double		 similarity;	/* 1.0 for EXACT, estimate for NEAR */
	uint32_t	 candidates;	/* signatures compared (<= max) */
};

/* Fills o with the defaults above. */
void dedup_opts_default(struct dedup_opts *o);

/*
 * Computes the signature of len bytes of cleaned text (need not be
 * NUL-terminated or valid UTF-8).  o may be NULL for the defaults.  Pure:
 * no allocation, no shared state; any thread.
 */
void dedup_signature(const char *text, size_t len, const struct dedup_opts *o,
    struct dedup_sig *out);

/*
 * The normalised text the exact hash covers (words joined by single
 * spaces), for tests and debugging.  Returns a malloc'd NUL-terminated
 * string the caller frees and its length in *outlen (may be NULL), or NULL
 * when out of memory.
 */
char *dedup_normalize(const char *text, size_t len, const struct dedup_opts *o,
    size_t *outlen);

/* Unbiased estimate of the Jaccard similarity of two near signatures'
 * shingle sets, in [0, 1]; 0 if either is not near. */
double dedup_similarity(const struct dedup_sig *a, const struct dedup_sig *b);

/*
 * The exact Jaccard similarity of the two texts' shingle sets - what
 * dedup_similarity() estimates, with the same normalisation and shingles -
 * for tests, benchmarks and debugging (it holds both sets in memory).  Two
 * texts without a shingle count as equal (1).  o may be NULL.  Returns 0
 * and sets *j, or ENOMEM.
 */
int dedup_jaccard(const char *a, size_t alen, const char *b, size_t blen,
    const struct dedup_opts *o, double *j);

/* "none", "exact", "near"; static strings. */
const char *dedup_kind_name(enum dedup_kind k);

/*
 * Opens (creating) the three databases in txn, a write transaction.
 * Returns 0 or an LMDB error code (MDB_DBS_FULL if maxdbs is too small).
 */
int dedup_open(MDB_txn *txn, struct dedup_dbs *dbs);

/*
 * Looks for an earlier document with the same exact hash; failing that,
 * for near candidates through the LSH bands: up to max_candidates entries
 * are read per band, the documents found are ranked by how many bands they
 * share, and at most max_candidates of them are confirmed by estimated
 * Jaccard >= near_threshold (the most similar wins, the earliest on a
 * tie).  If nothing matches, indexes doc_id under this signature.  Fills
 * *m in every case.  Returns 0, or an LMDB error code (MDB_MAP_FULL
 * included, so the caller can grow the map and retry the whole
 * transaction) or ENOMEM; on error the transaction must be aborted.
 */
int dedup_check_insert(MDB_txn *txn, const struct dedup_dbs *dbs,
    uint64_t doc_id, const struct dedup_sig *sig, const struct dedup_opts *o,
    struct dedup_match *m);

#endif
