/*
 * warcbody.c - page bodies read back from the WARC files (see warcbody.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "store.h"
#include "warcbody.h"
#include "warcrec.h"

#define WARCBODY_DB	"warc_bodies"

int
warcbody_dbi(MDB_txn *txn, MDB_dbi *dbi)
{
	return store_dbi(txn, WARCBODY_DB, MDB_CREATE, dbi);
}

size_t
warcbody_loc_encode(const struct warcbody_loc *loc, unsigned char *out)
{
	size_t n = strnlen(loc->path, sizeof(loc->path) - 1);

	store_put_be64(out, loc->offset);
	store_put_be64(out + 8, loc->len);
	memcpy(out + 16, loc->path, n);
	return 16 + n;
}

int
warcbody_loc_decode(const void *p, size_t n, struct warcbody_loc *loc)
{
	const unsigned char *v = p;

	if (n <= 16 || n - 16 >= sizeof(loc->path) ||
	    memchr(v + 16, '\0', n - 16) != NULL)
		return -1;
	loc->offset = store_get_be64(v);
	loc->len = store_get_be64(v + 8);
	memcpy(loc->path, v + 16, n - 16);
	loc->path[n - 16] = '\0';
	return loc->len > 0 ? 0 : -1;
}

int
warcbody_put(MDB_txn *txn, MDB_dbi dbi, const char *id,
    const struct warcbody_loc *loc)
{
	unsigned char v[WARCBODY_LOC_MAX];
	MDB_val key = { strlen(id), (void *)(uintptr_t)id };
	MDB_val val = { warcbody_loc_encode(loc, v), v };

	return mdb_put(txn, dbi, &key, &val, 0);
}

int
warcbody_find(MDB_txn *txn, MDB_dbi dbi, const char *id,
    struct warcbody_loc *loc)
{
	MDB_val key = { strlen(id), (void *)(uintptr_t)id }, val;
	int rc;

	if (key.mv_size == 0 || key.mv_size > 511)
		return MDB_NOTFOUND;
	if ((rc = mdb_get(txn, dbi, &key, &val)) != 0)
		return rc;
	return warcbody_loc_decode(val.mv_data, val.mv_size, loc) == 0 ? 0 :
	    MDB_CORRUPTED;
}

/* True when a file of size bytes holds the record at loc. */
static bool
warcbody_fits(uint64_t size, const struct warcbody_loc *loc)
{
	return size >= loc->offset && size - loc->offset >= loc->len;
}

bool
warcbody_there(const struct warcbody_loc *loc)
{
	struct stat st;

	return stat(loc->path, &st) == 0 && warcbody_fits((uint64_t)
	    st.st_size, loc);
}

int
warcbody_find_doc(MDB_txn *txn, MDB_dbi dbi, const json_t *doc,
    struct warcbody_loc *loc)
{
	const char *id = json_string_value(json_object_get(doc,
	    "warc_record_id"));

	return id != NULL ? warcbody_find(txn, dbi, id, loc) : MDB_NOTFOUND;
}

/* --- reading a record back -------------------------------------------- */

/* The value of header field name in the header block h[0..n), trimmed,
 * or NULL; *vlen its length. */
static const char *
warcbody_field(const char *h, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);

	for (const char *p = h, *end = h + n; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol != NULL ? eol : end;

		if ((size_t)(e - p) > nl && p[nl] == ':' &&
		    strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' ||
			    e[-1] == '\t'))
				e--;
			*vlen = (size_t)(e - v);
			return v;
		}
		p = eol != NULL ? eol + 1 : end;
	}
	return NULL;
}

/* The end of the header block that starts at p (past its empty line), or
 * NULL when there is none in p[0..n). */
static const char *
warcbody_head_end(const char *p, size_t n)
{
	for (const char *q = p, *end = p + n; q < end;) {
		const char *eol = memchr(q, '\n', (size_t)(end - q));
		if (eol == NULL)
			return NULL;
		if (eol == q || (eol == q + 1 && q[0] == '\r'))
			return eol + 1;
		q = eol + 1;
	}
	return NULL;
}

/* Inflates the one gzip member p[0..n) into *out (at most cap bytes). */
static int
warcbody_inflate(const unsigned char *p, size_t n, size_t cap,
    unsigned char **out, size_t *outlen)
{
	size_t size = n < cap / 4 ? 4 * n + 4096 : cap;
	unsigned char *b = NULL;
	z_stream z = { 0 };
	int zrc = Z_OK, rc = 0;

	*out = NULL;
	*outlen = 0;
	if (n > UINT32_MAX || inflateInit2(&z, 15 + 16) != Z_OK)
		return ENOMEM;
	if (size > cap)
		size = cap;
	if ((b = malloc(size + 1)) == NULL) {
		inflateEnd(&z);
		return ENOMEM;
	}
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = b;
	z.avail_out = (uInt)size;
	for (;;) {
		zrc = inflate(&z, Z_NO_FLUSH);
		if (zrc == Z_STREAM_END)
			break;
		if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
			rc = EBADMSG;
			break;
		}
		if (z.avail_out > 0) {
			rc = EBADMSG;	/* the input ended first */
			break;
		}
		if (size >= cap) {
			rc = EFBIG;
			break;
		}
		size_t grown = size > cap / 2 ? cap : size * 2;
		unsigned char *nb = realloc(b, grown + 1);
		if (nb == NULL) {
			rc = ENOMEM;
			break;
		}
		b = nb;
		z.next_out = b + size;
		z.avail_out = (uInt)(grown - size);
		size = grown;
	}
	/* One member and nothing after it. */
	if (rc == 0 && z.avail_in != 0)
		rc = EBADMSG;
	if (rc == 0) {
		*out = b;
		*outlen = z.total_out;
	} else
		free(b);
	inflateEnd(&z);
	return rc;
}

int
warcbody_parse(const unsigned char *p, size_t n, size_t max, void **out,
    size_t *len, char *err, size_t errlen)
{
	unsigned char sha[WARCREC_SHA1_LEN];
	char b32[WARCREC_B32_LEN + 1];
	const char *h, *hend, *http, *body, *v;
	unsigned long long clen;
	unsigned char *rec;
	size_t reclen, vlen, blen;
	unsigned int shalen = 0;
	char num[24];
	int rc;

	*out = NULL;
	*len = 0;
	if (max > SIZE_MAX - WARCBODY_HEAD_MAX)
		max = SIZE_MAX - WARCBODY_HEAD_MAX;
	rc = warcbody_inflate(p, n, max + WARCBODY_HEAD_MAX, &rec, &reclen);
	if (rc == EBADMSG)
		snprintf(err, errlen, "not one whole gzip member");
	if (rc != 0)
		return rc;
	rc = EBADMSG;
	h = (const char *)rec;
	if (reclen < 9 || memcmp(h, "WARC/1.", 7) != 0) {
		snprintf(err, errlen, "not a WARC record");
		goto out;
	}
	if ((hend = warcbody_head_end(h, reclen)) == NULL) {
		snprintf(err, errlen, "the record's header does not end");
		goto out;
	}
	v = warcbody_field(h, (size_t)(hend - h), "WARC-Type", &vlen);
	if (v == NULL || vlen != 8 || memcmp(v, "response", 8) != 0) {
		snprintf(err, errlen, "not a response record");
		goto out;
	}
	v = warcbody_field(h, (size_t)(hend - h), "Content-Length", &vlen);
	if (v == NULL || vlen == 0 || vlen >= sizeof(num)) {
		snprintf(err, errlen, "no Content-Length");
		goto out;
	}
	memcpy(num, v, vlen);
	num[vlen] = '\0';
	errno = 0;
	clen = strtoull(num, NULL, 10);
	if (errno != 0 || strspn(num, "0123456789") != vlen ||
	    clen > reclen - (size_t)(hend - h)) {
		snprintf(err, errlen, "Content-Length %s is past the record's "
		    "end", num);
		goto out;
	}
	http = hend;
	if ((body = warcbody_head_end(http, (size_t)clen)) == NULL) {
		snprintf(err, errlen, "the HTTP header does not end");
		goto out;
	}
	blen = (size_t)clen - (size_t)(body - http);
	v = warcbody_field(h, (size_t)(hend - h), "WARC-Payload-Digest", &vlen);
	if (v == NULL || vlen != 5 + WARCREC_B32_LEN ||
	    strncasecmp(v, "sha1:", 5) != 0) {
		snprintf(err, errlen, "no SHA-1 payload digest");
		goto out;
	}
	if (EVP_Digest(body, blen, sha, &shalen, EVP_sha1(), NULL) != 1 ||
	    shalen != sizeof(sha)) {
		rc = ENOMEM;
		goto out;
	}
	warcrec_base32(sha, sizeof(sha), b32);
	if (memcmp(v + 5, b32, WARCREC_B32_LEN) != 0) {
		snprintf(err, errlen, "the payload does not match its digest");
		goto out;
	}
	if (blen > max) {
		rc = EFBIG;
		goto out;
	}
	/* The payload to the front, the rest given back. */
	memmove(rec, body, blen);
	*out = rec;
	*len = blen;
	if (blen > 0 && (*out = realloc(rec, blen)) == NULL)
		*out = rec;
	return 0;
out:
	free(rec);
	return rc;
}

int
warcbody_load(const struct warcbody_loc *loc, size_t max, void **out,
    size_t *len, char *err, size_t errlen)
{
	uint64_t cap = (uint64_t)max + max / 64 + WARCBODY_HEAD_MAX + 4096;
	unsigned char *p;
	size_t got = 0;
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	err[0] = '\0';
	if (loc->len > cap || loc->len > SIZE_MAX) {
		snprintf(err, errlen, "its record is over %zu bytes", max);
		return EFBIG;
	}
	if ((fd = open(loc->path, O_RDONLY | O_CLOEXEC)) == -1) {
		rc = errno;
		snprintf(err, errlen, "%s: %s", loc->path, strerror(rc));
		return rc;
	}
	if ((p = malloc((size_t)loc->len)) == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", loc->path);
		return ENOMEM;
	}
	while (got < loc->len) {
		ssize_t r = pread(fd, p + got, (size_t)loc->len - got,
		    (off_t)(loc->offset + got));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r == 0 ? EBADMSG : errno;
			snprintf(err, errlen, "%s at offset %llu: %s",
			    loc->path, (unsigned long long)loc->offset, r == 0 ?
			    "the file ends before the record" : strerror(rc));
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	if (rc == 0) {
		char why[160] = "";

		rc = warcbody_parse(p, (size_t)loc->len, max, out, len, why,
		    sizeof(why));
		if (rc != 0)
			snprintf(err, errlen, "%s at offset %llu: %s", loc->path,
			    (unsigned long long)loc->offset, rc == EBADMSG ? why :
			    rc == EFBIG ? "its body is over the limit" :
			    strerror(rc));
	}
	free(p);
	return rc;
}

/* --- sluiced --check -------------------------------------------------- */

/* A file the index points into, and what is wrong with it. */
struct warcbody_file {
	struct warcbody_file *next;
	uint64_t	 records;	/* that lie past its end, or in it */
	int		 err;		/* from stat, or 0: too short */
	char		 path[];
};

int
warcbody_check(MDB_txn *txn, MDB_dbi dbi,
    void (*fn)(const char *problem, void *arg), void *arg, uint64_t *n)
{
	struct warcbody_file *bad = NULL, *f;
	struct warcbody_loc loc;
	char line[PATH_MAX + 256], last[PATH_MAX] = "";
	struct stat st = { 0 };
	int last_err = 0, rc;
	MDB_cursor *cur;
	MDB_val k, v;

	*n = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		(*n)++;
		if (warcbody_loc_decode(v.mv_data, v.mv_size, &loc) != 0) {
			snprintf(line, sizeof(line), "warc body %.*s: its "
			    "place is damaged", (int)(k.mv_size > 100 ? 100 :
			    k.mv_size), (const char *)k.mv_data);
			fn(line, arg);
			continue;
		}
		/* Records of one file come in runs: stat it once a run. */
		if (strcmp(loc.path, last) != 0) {
			snprintf(last, sizeof(last), "%s", loc.path);
			last_err = stat(loc.path, &st) == -1 ? errno : 0;
		}
		if (last_err == 0 && warcbody_fits((uint64_t)st.st_size, &loc))
			continue;
		for (f = bad; f != NULL && strcmp(f->path, loc.path) != 0;
		    f = f->next)
			;
		if (f == NULL) {
			size_t pl = strlen(loc.path) + 1;
			if ((f = calloc(1, sizeof(*f) + pl)) == NULL) {
				rc = ENOMEM;
				break;
			}
			memcpy(f->path, loc.path, pl);
			f->err = last_err;
			f->next = bad;
			bad = f;
		}
		f->records++;
	}
	mdb_cursor_close(cur);
	while ((f = bad) != NULL) {
		bad = f->next;
		snprintf(line, sizeof(line), "warc file %s: %s: the bodies of "
		    "%llu records are not there (doc --raw and reclean cannot "
		    "read them)", f->path, f->err ? strerror(f->err) :
		    "shorter than the records it holds",
		    (unsigned long long)f->records);
		fn(line, arg);
		free(f);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}
