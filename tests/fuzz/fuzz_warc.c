/*
 * fuzz_warc.c - the WARC readers of sluiced: warc_member_len(), which
 * cuts a file back to its warcinfo record at start, and warcbody_parse(),
 * which reads a page's body back from its record (doc --raw, reclean).
 * The first byte picks the input's use: as raw file bytes (0 mod 4), as a
 * record's text gzipped here first, whose member must then be found whole
 * exactly when the text is a WARC record header (1), or as either of those
 * read back as a body (2: raw member bytes, 3: gzipped here), whose
 * payload must then lie in the record's text.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "warc.h"
#include "warcbody.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data gzipped into one member, then some trailing bytes; NULL on error. */
static unsigned char *
gzip_member(const uint8_t *data, size_t size, size_t *outlen)
{
	z_stream z = { 0 };
	size_t cap = compressBound((uLong)size) + 64;
	unsigned char *out = malloc(cap + 16);

	if (out == NULL || deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)size;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*outlen = z.total_out;
	deflateEnd(&z);
	/* What follows the member: another member's start. */
	memcpy(out + *outlen, "\x1f\x8b\x08\x00garbage", 11);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *gz;
	size_t n, len;

	if (size == 0)
		return 0;
	if (data[0] % 4 >= 2) {
		char err[256];
		void *out;
		size_t olen;
		int rc;

		if (data[0] % 4 == 2) {
			rc = warcbody_parse(data + 1, size - 1, size, &out, &olen,
			    err, sizeof(err));
			assert(rc != 0 || olen <= size);
		} else {
			if (size > 65536 || (gz = gzip_member(data + 1,
			    size - 1, &len)) == NULL)
				return 0;
			/* A trailing byte is never part of the member. */
			assert(warcbody_parse(gz, len + 11, size, &out, &olen,
			    err, sizeof(err)) != 0);
			rc = warcbody_parse(gz, len, 64, &out, &olen, err,
			    sizeof(err));
			assert(rc != 0 || olen <= 64);
			if (rc == 0)
				assert(olen == 0 || memmem(data + 1, size - 1,
				    out, olen) != NULL);
			free(gz);
		}
		if (rc == 0)
			free(out);
		return 0;
	}
	if (data[0] % 2 == 0) {
		n = warc_member_len(data + 1, size - 1);
		assert(n <= size - 1);
		return 0;
	}
	if (size > 65536 || (gz = gzip_member(data + 1, size - 1, &len)) ==
	    NULL)
		return 0;
	n = warc_member_len(gz, len + 11);
	if (n != 0)
		assert(n == len);
	/* A whole record header near the start is always found. */
	if (size - 1 >= 5 && memcmp(data + 1, "WARC/", 5) == 0 &&
	    memmem(data + 1, size - 1 < 1024 ? size - 1 : 1024, "\r\n\r\n",
	    4) != NULL)
		assert(n == len);
	/* A cut member never is. */
	if (len > 1)
		assert(warc_member_len(gz, len - 1) == 0);
	free(gz);
	return 0;
}
