/*
 * cluster_index.h - cluster mode's dedup ordering rule, and the body of a
 * SLUICE_KEYS message (the cluster design; the NATS glue is cluster.c).
 *
 * Every node publishes each document's signature to SLUICE_KEYS and
 * applies the stream, in sequence order, to one of these in-memory
 * indexes; since the stream's order is the same for everyone, so are
 * the verdicts.  For each entry:
 *   - an earlier indexed entry with the same exact hash: an exact
 *     duplicate of the earliest such;
 *   - else, if near, the earlier indexed entries sharing a band key with
 *     it, ranked by bands shared (then sequence), the first
 *     CLUSTER_INDEX_CANDIDATES of them compared: a near duplicate of the
 *     earliest whose dedup_similarity() reaches the threshold;
 *   - else a first copy, indexed.
 * As in dedup.c, only first copies are indexed (a verdict always names a
 * first copy), and a text with no word is never matched nor indexed.
 * Past max_entries, first copies are still answered but no longer
 * indexed (their later copies are not recognised), as with
 * dedup.index_memory_max; nodes must agree on max_entries to agree on
 * verdicts then.  Memory: about 1.1 KiB per near entry (its 992-byte
 * sketch), plus its node name and URL, plus the band keys (lsh.h).
 *
 * Candidate lookups use lsh.h's table; its per-key cap (LSH_KEY_MAX)
 * keeps the earliest entries filed under a key.
 */
#ifndef SLUICE_CLUSTER_INDEX_H
#define SLUICE_CLUSTER_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster_plan.h"
#include "dedup.h"

/* Earlier signatures one lookup compares at most. */
#define CLUSTER_INDEX_CANDIDATES	64
/* Entries indexed at most by default: about 1.2 GiB of near entries. */
#define CLUSTER_INDEX_ENTRIES_DEFAULT	((size_t)1 << 20)
/* Bytes of a SLUICE_KEYS body's URL at most: queue.max_url_length's
 * bound. */
#define CLUSTER_KEYS_URL_MAX		65536

struct buf;
struct cluster_index;

struct cluster_verdict {
	/* DEDUP_NONE for a first copy, else of the earlier entry: */
	enum dedup_kind	 kind;
	double		 similarity;	/* 1 if EXACT, the estimate if NEAR */
	uint64_t	 seq;		/* 0 if NONE */
	uint64_t	 doc_id;
	/* Into the index, valid until cluster_index_free(); NULL if NONE. */
	const char	*node;
	const char	*url;
	uint32_t	 candidates;	/* signatures compared */
	/* A first copy was indexed (not if the index is full, or the text
	 * has no word). */
	bool		 indexed;
};

/* An empty index: near duplicates reach near_threshold (dedup's
 * near_threshold), at most max_entries indexed (0: the default).
 * Returns NULL when out of memory. */
struct cluster_index *cluster_index_new(double near_threshold,
    size_t max_entries);
void cluster_index_free(struct cluster_index *idx);

/*
 * Applies one entry at position seq (strictly increasing: see
 * CLUSTER_KEYS_PER_MSG), published by node for its
 * document doc_id at url with signature sig; fills *out.  Returns 0;
 * EALREADY if seq is not greater than the last applied one (nothing
 * changes: a replay that skips seen sequences is idempotent); EINVAL for
 * an invalid node name or a NULL url or sig; ENOMEM (nothing changes,
 * the entry may be applied again).
 */
int cluster_index_apply(struct cluster_index *idx, uint64_t seq,
    const char *node, uint64_t doc_id, const struct dedup_sig *sig,
    const char *url, struct cluster_verdict *out);

/* The last sequence applied, 0 before any. */
uint64_t cluster_index_last_seq(const struct cluster_index *idx);
/* Entries indexed. */
size_t cluster_index_entries(const struct cluster_index *idx);
/* True once max_entries kept a first copy out. */
bool cluster_index_full(const struct cluster_index *idx);
/* Heap bytes held, roughly. */
size_t cluster_index_memory(const struct cluster_index *idx);

/*
 * A SLUICE_KEYS message body, in one of two formats:
 *   v2 (what sluice publishes): the 4 bytes "SK2\n", then entries, each
 *     a 32-bit big-endian length and that many bytes: the node name's
 *     length (8 bits, 1 to CLUSTER_NODE_MAX) and bytes, the doc id (64
 *     bits, 1 to INT64_MAX), the 16-byte exact hash, words (32 bits),
 *     near (one byte, 0 or 1), the DEDUP_BANDS bands (32 bits each), the
 *     DEDUP_SKETCH_BYTES sketch, the URL's length (32 bits, 1 to
 *     CLUSTER_KEYS_URL_MAX) and bytes (no NUL); nothing after.  Integers
 *     are big-endian.  About 1.1 KiB an entry, and no text to parse.
 *   v1 (earlier versions; still read): one entry per line, each
 *     {"node":N,"doc":ID,"url":U,"exact":"<32 hex>","words":W,"near":B,
 *     "bands":[14 integers],"sketch":"<base64 of the 992-byte sketch>"};
 *     other members are ignored.
 * Entry i of message seq is applied at position seq * CLUSTER_KEYS_PER_MSG
 * + i: the stream's order, then the body's.
 */
#define CLUSTER_KEYS_PER_MSG	4096	/* entries of a message at most */
struct cluster_keys {
	char		 node[CLUSTER_NODE_MAX + 1];
	uint64_t	 doc_id;
	char		*url;		/* malloc'd */
	struct dedup_sig sig;
};

/* The v1 entry for one document, compact JSON, malloc'd (the caller frees
 * it), or NULL when out of memory or given an invalid node name, a doc
 * id of 0 or above INT64_MAX, or a NULL url. */
char *cluster_keys_encode(const char *node, uint64_t doc_id,
    const char *url, const struct dedup_sig *sig);

/* The v2 body's first bytes. */
#define CLUSTER_KEYS_V2		"SK2\n"
#define CLUSTER_KEYS_V2_LEN	4
/* Bytes of a v2 entry (its length excluded) besides its node name and
 * URL. */
#define CLUSTER_KEYS_BIN_FIXED	(1 + 8 + 16 + 4 + 1 + 4 * DEDUP_BANDS + \
	DEDUP_SKETCH_BYTES + 4)

/* Appends one document's v2 entry, its length first, to out.  Returns 0;
 * EINVAL for the arguments cluster_keys_encode() refuses or a URL over
 * CLUSTER_KEYS_URL_MAX bytes; ENOMEM when memory is short or out's max
 * is reached (out is then as it was). */
int cluster_keys_encode_bin(struct buf *out, const char *node,
    uint64_t doc_id, const char *url, const struct dedup_sig *sig);

/* The next line of a SLUICE_KEYS or SLUICE_DOCS body of len bytes (an
 * entry, or a document), from *off on: its bytes, '\n' excluded, in *line
 * and *linelen; *off moves past it.  False at the end.  Blank lines are
 * skipped. */
bool cluster_body_line(const char *body, size_t len, size_t *off,
    const char **line, size_t *linelen);

/*
 * Decodes len bytes of one v1 entry from the stream (outside input: every
 * member is checked: types, a valid node name, doc > 0, a URL of 1 to
 * CLUSTER_KEYS_URL_MAX bytes without NUL, lowercase hex, 14 bands of 32
 * bits, canonical base64 of exactly the sketch's size).  Returns 0 (free
 * with cluster_keys_free()), EINVAL with the reason in err, or ENOMEM;
 * on error *out holds nothing to free.
 */
int cluster_keys_decode(const char *body, size_t len,
    struct cluster_keys *out, char *err, size_t errlen);
/* The same for the len bytes of one v2 entry (its length excluded), each
 * field checked as above and len exactly the entry's. */
int cluster_keys_decode_bin(const char *entry, size_t len,
    struct cluster_keys *out, char *err, size_t errlen);

enum cluster_keys_format {
	CLUSTER_KEYS_FMT_V1,	/* a JSON line: cluster_keys_decode() */
	CLUSTER_KEYS_FMT_V2	/* a framed entry: cluster_keys_decode_bin() */
};

/*
 * The next entry of a SLUICE_KEYS body of len bytes, either format, from
 * *off on (0 at first): its bytes in *entry and *entrylen (a v1 line
 * without its '\n', a v2 entry without its length), its format in *fmt;
 * *off moves past it.  Returns 1 with an entry, 0 at the end, or -1 when
 * a v2 length runs past the body (the rest is unreadable; *off moves to
 * len).
 */
int cluster_keys_next(const char *body, size_t len, size_t *off,
    const char **entry, size_t *entrylen, enum cluster_keys_format *fmt);
/* Decodes an entry of either format (see above). */
int cluster_keys_decode_any(enum cluster_keys_format fmt, const char *entry,
    size_t len, struct cluster_keys *out, char *err, size_t errlen);
void cluster_keys_free(struct cluster_keys *k);

#endif
