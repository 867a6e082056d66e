/*
 * warcrec.c - building WARC 1.1 records (see warcrec.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util.h"
#include "warcrec.h"

void
warcrec_base32(const unsigned char *p, size_t n, char *out)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned int acc = 0, bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alpha[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

/* SHA-1 of a || b.  0 or -1. */
int
warcrec_sha1(struct warcrec_coder *k, const void *a, size_t alen, const void *b,
    size_t blen, unsigned char *out)
{
	unsigned int n = 0;

	if (EVP_DigestInit_ex(k->md, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(k->md, a, alen) != 1 ||
	    EVP_DigestUpdate(k->md, b, blen) != 1 ||
	    EVP_DigestFinal_ex(k->md, out, &n) != 1 || n != WARCREC_SHA1_LEN)
		return -1;
	return 0;
}

int
warcrec_sha1_b32(struct warcrec_coder *k, const void *a, size_t alen,
    const void *b, size_t blen, char *out)
{
	unsigned char sha[WARCREC_SHA1_LEN];

	if (warcrec_sha1(k, a, alen, b, blen, sha) == -1)
		return -1;
	warcrec_base32(sha, sizeof(sha), out);
	return 0;
}

/* A random (version 4) UUID as a WARC-Record-ID. */
void
warcrec_new_id(char *out)
{
	unsigned char u[16];

	if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u)) {
		/* Never short for 16 bytes once the pool is ready; the
		 * clock keeps ids apart if it ever is. */
		uint64_t t = mono_us() ^ now_ms();
		memcpy(u, &t, sizeof(t));
		memcpy(u + 8, &t, sizeof(t));
	}
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(out, WARCREC_ID_LEN, "<urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x>", u[0], u[1], u[2], u[3],
	    u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
	    u[14], u[15]);
}

/* WARC-Date, in UTC with milliseconds: 2024-02-11T06:42:00.123Z. */
void
warcrec_date(uint64_t ms, char *out)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, WARCREC_DATE_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, WARCREC_DATE_LEN - n, ".%03uZ", (unsigned)(ms % 1000));
}

/* Appends one record (block = a || b) to out as a gzip member.  0 or -1. */
int
warcrec_write(struct warcrec_coder *k, struct buf *out, const struct warcrec *r,
    const void *a, size_t alen, const void *b, size_t blen)
{
	char hdr[8192], digest[WARCREC_B32_LEN + 1];
	const void *in[] = { hdr, a, b, "\r\n\r\n" };
	size_t inlen[] = { 0, alen, blen, 4 }, total = 0, start;
	int n;

	if (warcrec_sha1_b32(k, a, alen, b, blen, digest) == -1)
		return -1;
	n = snprintf(hdr, sizeof(hdr), "WARC/1.1\r\n"
	    "WARC-Type: %s\r\nWARC-Record-ID: %s\r\nWARC-Date: %s\r\n"
	    "%s%s%s" "%s%s%s" "%s%s%s"
	    "WARC-Block-Digest: sha1:%s\r\n" "%s%s%s" "%s"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
	    r->type, r->id, r->date,
	    r->uri ? "WARC-Target-URI: " : "", r->uri ? r->uri : "",
	    r->uri ? "\r\n" : "",
	    r->ip && *r->ip ? "WARC-IP-Address: " : "",
	    r->ip && *r->ip ? r->ip : "", r->ip && *r->ip ? "\r\n" : "",
	    r->concurrent ? "WARC-Concurrent-To: " : "",
	    r->concurrent ? r->concurrent : "", r->concurrent ? "\r\n" : "",
	    digest,
	    r->payload ? "WARC-Payload-Digest: sha1:" : "",
	    r->payload ? r->payload : "", r->payload ? "\r\n" : "",
	    r->extra ? r->extra : "", r->content_type, alen + blen);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return -1;	/* a URI of over 7 KB: not ours to write */
	inlen[0] = (size_t)n;
	for (size_t i = 0; i < ARRAY_LEN(inlen); i++)
		total += inlen[i];
	if (deflateReset(&k->z) != Z_OK)
		return -1;
	start = out->len;
	if (buf_presize(out, out->len + deflateBound(&k->z, total) + 64) ==
	    -1)
		return -1;
	k->z.next_out = (Bytef *)out->data + out->len;
	k->z.avail_out = (uInt)(out->cap - out->len - 1);
	for (size_t i = 0; i < ARRAY_LEN(in); i++) {
		int rc;
		if (inlen[i] == 0)
			continue;	/* deflate() would say Z_BUF_ERROR */
		k->z.next_in = (Bytef *)(uintptr_t)in[i];
		k->z.avail_in = (uInt)inlen[i];
		rc = deflate(&k->z, i + 1 == ARRAY_LEN(in) ? Z_FINISH :
		    Z_NO_FLUSH);
		if ((i + 1 == ARRAY_LEN(in) && rc != Z_STREAM_END) ||
		    (i + 1 < ARRAY_LEN(in) && rc != Z_OK) ||
		    k->z.avail_in != 0) {
			out->len = start;
			return -1;
		}
	}
	out->len = (size_t)((char *)k->z.next_out - out->data);
	out->data[out->len] = '\0';
	return 0;
}


int
warcrec_coder_init(struct warcrec_coder *k, int level)
{
	memset(k, 0, sizeof(*k));
	if ((k->md = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (deflateInit2(&k->z, level, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	k->z_ready = true;
	k->level = level;
	return 0;
}

int
warcrec_coder_level(struct warcrec_coder *k, int level)
{
	if (level == k->level)
		return 0;
	/* Between members nothing is pending, so no data is flushed. */
	if (deflateReset(&k->z) != Z_OK ||
	    deflateParams(&k->z, level, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	k->level = level;
	return 0;
}

void
warcrec_coder_free(struct warcrec_coder *k)
{
	if (k->z_ready)
		deflateEnd(&k->z);
	EVP_MD_CTX_free(k->md);
	memset(k, 0, sizeof(*k));
}

