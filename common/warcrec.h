/*
 * warcrec.h - building WARC 1.1 records (ISO 28500): the header fields,
 * SHA-1 digests in base32 (libcrypto), record ids, dates, and each record
 * as its own gzip member (zlib).  Shared by sluiced's capture (daemon/
 * warc.c) and sluicectl's export --format warc; its own library, so that
 * only those two link zlib and libcrypto.
 */
#ifndef SLUICE_WARCREC_H
#define SLUICE_WARCREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "buf.h"

#define WARCREC_SHA1_LEN	20
#define WARCREC_B32_LEN		32	/* 160 bits, 5 a character, no padding */
#define WARCREC_ID_LEN		48	/* "<urn:uuid:" + 36 + ">" + NUL */
#define WARCREC_DATE_LEN	32

/* zlib's and libcrypto's state.  One per thread: sluiced's loop has one,
 * and each capture built on a worker its own. */
struct warcrec_coder {
	z_stream	 z;
	bool		 z_ready;
	int		 level;
	EVP_MD_CTX	*md;
};

/* The WARC header fields of one record. */
struct warcrec {
	const char	*type;
	const char	*id;
	const char	*date;
	const char	*uri;		/* or NULL */
	const char	*ip;		/* or NULL / "" */
	const char	*concurrent;	/* or NULL */
	const char	*payload;	/* base32 payload digest, or NULL */
	const char	*content_type;
	const char	*extra;		/* more header lines, CRLF each, or NULL */
};

/* A coder compressing at level (0-9).  0 or -1 (out of memory). */
int warcrec_coder_init(struct warcrec_coder *k, int level);
void warcrec_coder_free(struct warcrec_coder *k);
/* The level of the records k writes from now on (0-9).  0 or -1. */
int warcrec_coder_level(struct warcrec_coder *k, int level);

/* RFC 4648 base32 of p[0..n) into out (8 * n / 5 + 2 bytes), unpadded. */
void warcrec_base32(const unsigned char *p, size_t n, char *out);
/* SHA-1 of a || b into out (WARCREC_SHA1_LEN).  0 or -1. */
int warcrec_sha1(struct warcrec_coder *k, const void *a, size_t alen,
    const void *b, size_t blen, unsigned char *out);
/* The same in base32 (WARCREC_B32_LEN + 1). */
int warcrec_sha1_b32(struct warcrec_coder *k, const void *a, size_t alen,
    const void *b, size_t blen, char *out);
/* A random (version 4) UUID as a WARC-Record-ID (WARCREC_ID_LEN). */
void warcrec_new_id(char *out);
/* WARC-Date in UTC with milliseconds (WARCREC_DATE_LEN). */
void warcrec_date(uint64_t ms, char *out);
/* Appends one record, its block a || b, to out as one gzip member.
 * 0, or -1 (out of memory, or a header over 8 KiB). */
int warcrec_write(struct warcrec_coder *k, struct buf *out,
    const struct warcrec *r, const void *a, size_t alen, const void *b,
    size_t blen);

#endif
