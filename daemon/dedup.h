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
 * Near: MinHash over the set of word 5-gram shingles.  One XXH3-64 per
 * word and one per shingle, x, feed two sketches:
 *   - the band minima, to find candidates: DEDUP_MINIMA = 70 permutations
 *     h_k(y) = a_k*y + b_k mod 2^32 (a_k odd) of y, x folded to 32 bits;
 *     the minimum of each over the text is kept.  Two texts whose shingle
 *     sets have Jaccard similarity s agree on each with probability s.
 *   - the one-permutation sketch, to confirm them: the high 32 bits of x
 *     pick one of DEDUP_BINS = 1984 bins, and each bin keeps the least of
 *     the low 32 bits that fall into it.  One compare per shingle, however
 *     many bins: a sample of up to 1,984 shingles, drawn without
 *     replacement, for the price of 70 minima.
 *
 * Candidates (LSH): the 70 minima form DEDUP_BANDS = 14 bands of
 * DEDUP_ROWS = 5; a text is indexed under each band's 32-bit hash, and
 * two texts sharing at least one band become candidates, with probability
 *
 *	P(s) = 1 - (1 - s^r)^b,		b = 14, r = 5
 *
 *	s     0.2    0.3    0.4    0.5    0.6    0.7    0.8    0.85   0.9
 *	P(s)  0.005  0.034  0.134  0.359  0.678  0.924  0.996  0.9997 1.000
 *
 * The curve's midpoint (1/b)^(1/r) = 0.59 sits well below the 0.8
 * threshold: the candidate stage loses 0.4% of pairs at s = 0.8 and
 * nothing above 0.85, as 18x6 did, with 14 band lookups and inserts per
 * document instead of 18 (most of dedup_check_insert's cost).  The price
 * is more candidates at 0.3-0.5 (3.4% at 0.3; 18x6 gave 1.3%), each
 * costing one signature read before it is rejected, and never more than
 * max_candidates; unrelated texts (s < 0.1) almost never meet.  14x8
 * (midpoint 0.72) would lose 7.7% at 0.8, 12x5 0.85%.
 *
 * Confirmation: a candidate is a duplicate when its estimated Jaccard
 * reaches near_threshold.  Each bin is stored as a 4-bit fingerprint of
 * its minimum, 1-15, or 0 when no shingle fell into it.  Over the bins
 * non-empty in either text (n), the bins non-empty in both (both) and
 * those whose fingerprints are equal (same): a bin holds the same shingle
 * in both with probability s (one-permutation hashing, Li, Owen and
 * Zhang, 2012), and two different minima share a fingerprint with
 * probability 1/15, so
 *
 *	estimate = (15 same - both) / (14 n)
 *
 * is unbiased.  Its error is that of sampling n of the union's shingles
 * without replacement - a text shorter than the sketch is almost
 * enumerated - plus the fingerprints' noise: rms 0.007 at s = 0.75-0.85
 * on random texts of 50 to 3,000 words, 0.0085 at 10,000, and 0.005-0.007
 * on bench/dedup, where 216 minima (format 1) gave 0.027.  The chance
 * that a pair is confirmed at the default 0.8 is then about
 *
 *	s     0.77   0.78   0.79   0.80   0.81   0.82   0.83
 *	      0      0.002  0.08   0.5    0.92   0.998  1
 *
 * (with 216 minima: 0.53 at 0.8, 0.80 at 0.82, 0.98 at 0.85).  A pair at
 * the threshold itself stays a coin toss for any estimator; the sketch
 * narrows the band around it from +-0.05 to +-0.015.  Nibbles, not
 * bytes: in the same space, twice the bins outweigh the fingerprints'
 * extra collisions (on bench/dedup, 2048 4-bit bins: rms 0.005-0.006;
 * 1024 8-bit bins: 0.007-0.009).
 *
 * Containment (cleaning residue).  The same story cleaned from its own
 * site, with the furniture the cleaner left (nav lines, a byline, share
 * and newsletter boxes, a donation appeal, "Related" lists), and as a
 * clean copy elsewhere: every shingle of the clean copy is in the page,
 * but the page's furniture lowers their Jaccard below 0.8 (a quarter of
 * the page's words in furniture: about 0.72).  So a candidate also
 * counts as near when the smaller text is at least DEDUP_CONTAIN_RATIO
 * (a third) of the larger and its shingles are almost all in it:
 *
 *	containment = |A n B| / min(|A|, |B|) >= (1 + near_threshold) / 2
 *
 * (0.9 at the default; none at 1), with |A n B| = J (|A| + |B|) / (1 + J) from the
 * Jaccard estimate J and each text's shingle count: its words - 4, or
 * less when its sketch shows fewer distinct shingles (a text repeating
 * itself; linear counting over the bins).  No stored byte changes: the
 * word count is in every signature record.  Texts cut from one another
 * match the same way: a story against its first half or more (a copy cut
 * short by a paywall or a teaser, or a cleaner that dropped paragraphs),
 * not against a lede under a third of it.  Different stories sharing a
 * site's furniture are far from it: on bench/dedup, their containment is
 * at most 0.62, even where the furniture is 85% of the smaller page.  The
 * candidate stage is unchanged, so a pair is found with probability P(J)
 * above: 0.36 at J = 0.5, 0.68 at 0.6, 0.13 at 0.4; heavier residue needs
 * other band keys (docs/benchmarks.md, "Cleaning residue").
 *
 * Texts with fewer than min_words words (or fewer than one shingle) get
 * exact dedup only: a few words carry too few shingles for MinHash.  A text
 * with no word at all is never matched nor indexed.
 *
 * LMDB layout (the caller's environment needs mdb_env_set_maxdbs room for
 * two more databases; doc ids are native uint64 and keys native uint32 -
 * LMDB files are not portable across byte orders anyway):
 *   dedup_keys  doc id (MDB_INTEGERKEY) -> the 16-byte exact hash, then,
 *               if near, the 14 band keys (32 bits each, seeded with the
 *               band index, so bands never mix; unrelated texts share a
 *               key once in 2^32 per band: a stray candidate, no more)
 *   dedup_sigs  doc id (MDB_INTEGERKEY) -> record: version 2, 0, 0, 0,
 *               32-bit word count (little-endian), the 992-byte sketch
 *               (bin k in the low nibble of byte k/2 if k is even, else
 *               the high one); 1,000 bytes, so that four fill a 4 KiB
 *               page (1,984 bins are for that).  Doc id 0 (never a
 *               document's) holds the index format, 3, and its flags.
 * Lookups happen in memory (lsh.h): dedup_open() loads every dedup_keys
 * record into one hash table, under the exact hash's first 32 bits and
 * the band keys: about 180 bytes a near-indexed document, 20 an exact-only
 * one.  A lookup costs a probe per key however many documents are stored;
 * the records of the documents it names decide (the stored exact hash, the
 * signature).  Only first copies are indexed; a duplicate adds nothing.
 * Indexing a document appends its records when doc ids grow: no B-tree
 * lookup or random insert is left on its path.  The table follows the
 * caller's transactions: dedup_commit() after a commit, dedup_rollback()
 * after an abort.  Measured on bench/dedup: see docs/benchmarks.md.
 *
 * Older formats cannot be converted without the texts (format 1: 18x6
 * bands with 64-bit keys and 216 16-bit minima per record, no format
 * record; format 2: this one's signatures, but the exact hashes and band
 * keys in B-trees, dedup_exact and dedup_bands): dedup_open() deletes or
 * empties them and sets dbs->reindex, and the caller indexes its stored
 * first copies again (dedup_reindex) and then calls dedup_reindex_done();
 * the flag is stored, so a crash midway only means starting over.  Any
 * other format is refused.
 */
#ifndef SLUICE_DEDUP_H
#define SLUICE_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "lsh.h"

#define DEDUP_BANDS		14
#define DEDUP_ROWS		5
#define DEDUP_MINIMA		(DEDUP_BANDS * DEDUP_ROWS)	/* banded */
#define DEDUP_BINS		1984	/* sketch bins, 4 bits each */
#define DEDUP_SKETCH_BYTES	(DEDUP_BINS / 2)
#define DEDUP_SHINGLE		5	/* words per shingle */
/* A dedup_keys record's size: the exact hash, then the band keys if near
 * (see the LMDB layout above). */
#define DEDUP_KEYS_EXACT	16
#define DEDUP_KEYS_NEAR		(DEDUP_KEYS_EXACT + 4 * DEDUP_BANDS)

/* The smaller text's least share of the larger (in shingles) for a
 * containment match. */
#define DEDUP_CONTAIN_RATIO	(1.0 / 3)

#define DEDUP_THRESHOLD_DEFAULT	0.8
#define DEDUP_MIN_WORDS_DEFAULT	30
#define DEDUP_CANDIDATES_DEFAULT 64
#define DEDUP_MAX_TEXT_DEFAULT	((size_t)4 << 20)
#define DEDUP_INDEX_MEMORY_DEFAULT ((size_t)1 << 30)

struct dedup_opts {
	/* Estimated Jaccard a near candidate must reach, or containment
	 * (1 + this) / 2 (above); default 0.8. */
	double		 near_threshold;
	/* Below this many words, exact dedup only; default 30. */
	uint32_t	 min_words;
	/* Earlier documents whose signatures one lookup compares, and band
	 * entries read per band; default 64.  Bounds the loop thread's work
	 * whatever a bucket holds. */
	uint32_t	 max_candidates;
	/* Bytes of text read; the rest is ignored; default 4 MiB. */
	size_t		 max_text;
	/* Memory the band keys may take (lsh.h), 0 for no bound; default
	 * 1 GiB, 3 to 6 million documents.  Past it, new first copies are
	 * still looked up but not indexed. */
	size_t		 index_memory_max;
};

struct dedup_sig {
	uint8_t		 exact[16];	/* XXH3-128, canonical byte order */
	uint32_t	 words;		/* words in the normalised text */
	bool		 near;		/* near dedup applies */
	uint32_t	 bands[DEDUP_BANDS];	/* LSH keys; 0 when !near */
	uint8_t		 sketch[DEDUP_SKETCH_BYTES];	/* bin fingerprints */
};

struct dedup_dbs {
	MDB_dbi		 keys;
	MDB_dbi		 sigs;
	/* Set by dedup_open: documents indexed by an older format must be
	 * indexed again (dedup_reindex), then dedup_reindex_done called. */
	bool		 reindex;
	/* Every indexed document's keys, loaded from dedup_keys. */
	struct lsh	 near;
	bool		 noted_full;	/* dedup_note_full() logged it */
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
    size_t *outlen)
    __attribute__((warn_unused_result));

/* Unbiased estimate of the Jaccard similarity of two near signatures'
 * shingle sets, in [0, 1]; 0 if either is not near. */
double dedup_similarity(const struct dedup_sig *a, const struct dedup_sig *b);

/* Estimated share of the smaller text's shingles found in the larger, in
 * [0, 1]; 0 if either is not near. */
double dedup_containment(const struct dedup_sig *a, const struct dedup_sig *b);

/* The near-duplicate rule, as dedup_check_insert() applies it to a
 * candidate: estimated Jaccard >= threshold, or containment (above).
 * *sim gets the Jaccard estimate (0 if either is not near). */
bool dedup_is_near(const struct dedup_sig *a, const struct dedup_sig *b,
    double threshold, double *sim);

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
 * Opens (creating) the two databases in txn, a write transaction,
 * checks the index's format (a new index is marked with this one, an
 * older one converted: dbs->reindex set, see above) and loads the
 * keys into memory.  Returns 0 or an LMDB error code with a message in err
 * (MDB_DBS_FULL if maxdbs is too small, MDB_INCOMPATIBLE for an index of
 * an unknown format), or ENOMEM.  The memory is then dedup_close()'s to
 * free (or already freed on error); if txn is aborted, so must dbs be.
 */
int dedup_open(MDB_txn *txn, struct dedup_dbs *dbs,
    const struct dedup_opts *o, char *err, size_t errlen);
/* After the transaction that called dedup_check_insert or dedup_reindex
 * commits: the in-memory index keeps their additions.  After it aborts:
 * it forgets them. */
void dedup_commit(struct dedup_dbs *dbs);
void dedup_rollback(struct dedup_dbs *dbs);
/* Frees the in-memory index. */
void dedup_close(struct dedup_dbs *dbs);
/* Bytes of memory the in-memory index holds.  Not monotonic: while the
 * hash table grows, the old table is kept until its entries have moved,
 * and freed then. */
size_t dedup_memory(const struct dedup_dbs *dbs);
/* Documents entered in the in-memory index (committed ones): only grows
 * while documents are added. */
size_t dedup_indexed(const struct dedup_dbs *dbs);
/* True once index_memory_max kept a document out of the index (at open or
 * since): new first copies are looked up but not indexed, so their later
 * copies are not recognised; documents past the bound at open are not
 * found either. */
bool dedup_index_full(const struct dedup_dbs *dbs);
/* Logs when dedup.index_memory_max starts, or stops, keeping new first
 * copies out of the index: once each way. */
void dedup_note_full(struct dedup_dbs *dbs);

/*
 * Looks for an earlier document (doc_id, never 0) with the same exact
 * hash; failing that,
 * for near candidates through the LSH bands: up to max_candidates entries
 * are read per band, the documents found are ranked by how many bands they
 * share, and at most max_candidates of them are confirmed by estimated
 * Jaccard >= near_threshold or by containment (above; the most similar
 * wins, the earliest on a tie).  If nothing matches, indexes doc_id under
 * this signature.  Fills *m in every case.  Returns 0, or an LMDB error code (MDB_MAP_FULL
 * included, so the caller can grow the map and retry the whole
 * transaction), ENOMEM, or EINVAL for doc_id 0; on error the transaction
 * must be aborted.
 */
int dedup_check_insert(MDB_txn *txn, struct dedup_dbs *dbs,
    uint64_t doc_id, const struct dedup_sig *sig, const struct dedup_opts *o,
    struct dedup_match *m);

/*
 * After a conversion (dbs->reindex): indexes doc_id, a first copy stored
 * before, under sig without looking for duplicates.  Indexing a document
 * twice changes nothing; a text with no word is skipped.  Returns 0, an
 * LMDB error code, or EINVAL for doc_id 0.
 */
int dedup_reindex(MDB_txn *txn, struct dedup_dbs *dbs, uint64_t doc_id,
    const struct dedup_sig *sig);
/*
 * Re-cleaning (reclean.c).  dedup_verdict(): how a copy's new text stands
 * to its first document's stored records: DEDUP_EXACT (the same exact
 * hash), DEDUP_NEAR (dedup_is_near()'s rule; the estimate in *sim), or
 * DEDUP_NONE.  dedup_replace(): a first copy's text changed: its records
 * are rewritten under sig, and its new keys indexed (the old keys stay in
 * memory until the next start, but name it only as a candidate: the
 * records decide).  A text with no word leaves the index.  Both return 0
 * or an LMDB error (ENOMEM).
 */
int dedup_verdict(MDB_txn *txn, struct dedup_dbs *dbs, uint64_t first,
    const struct dedup_sig *sig, const struct dedup_opts *o,
    enum dedup_kind *kind, double *sim);
int dedup_replace(MDB_txn *txn, struct dedup_dbs *dbs, uint64_t doc_id,
    const struct dedup_sig *sig);
/* Looks for a document other than doc_id that sig duplicates, as
 * dedup_check_insert() does, indexing nothing.  0 or an LMDB error. */
int dedup_find_other(MDB_txn *txn, struct dedup_dbs *dbs, uint64_t doc_id,
    const struct dedup_sig *sig, const struct dedup_opts *o,
    struct dedup_match *m);

/* Records that every stored first copy is indexed again, and clears
 * dbs->reindex.  Returns 0 or an LMDB error code. */
int dedup_reindex_done(MDB_txn *txn, struct dedup_dbs *dbs);

#endif
