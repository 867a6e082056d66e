/*
 * warcbody.h - page bodies read back from the WARC files.
 *
 * With capture on, every whole final response is in a WARC record as it
 * was received (after libcurl's decoding: see warc.h).  When the capture
 * writes such a record, it files where it lies, under the record's
 * WARC-Record-ID (the document's warc_record_id), in the "warc_bodies"
 * database, in the turn's transaction: the file's path, the offset of
 * the record's gzip member and its length.  A revisit record (a payload
 * captured before) is filed with the place of the first capture, so the
 * body is found through either id.
 *
 * So the raw body of a page need not be kept a second time in LMDB
 * (warc.serves_raw): `sluicectl raw` and `sluicectl reclean` read it from
 * the record.  Reading checks what it reads: the member must inflate to a
 * WARC response record whose payload's SHA-1 is its WARC-Payload-Digest.
 * A file moved away, cut or changed gives an error that says so; nothing
 * else depends on the files.
 *
 * warcbody_find() runs on the loop thread (it reads LMDB);
 * warcbody_load() and warcbody_parse() on any thread.
 */
#ifndef SLUICE_WARCBODY_H
#define SLUICE_WARCBODY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

/* Room for the record's WARC and HTTP headers, on top of the body's own
 * limit, when a record is read back. */
#define WARCBODY_HEAD_MAX	(1024 * 1024)

/* Where one record lies. */
struct warcbody_loc {
	uint64_t	 offset;	/* of its gzip member in the file */
	uint64_t	 len;		/* of the member */
	char		 path[PATH_MAX];
};

/* Opens (creating it) the "warc_bodies" database in txn: at start, in a
 * write transaction. */
int warcbody_dbi(MDB_txn *txn, MDB_dbi *dbi);

/* loc as stored: 16 + strlen(path) bytes into out (room for
 * WARCBODY_LOC_MAX); returns the length. */
#define WARCBODY_LOC_MAX	(16 + PATH_MAX)
size_t warcbody_loc_encode(const struct warcbody_loc *loc, unsigned char *out);
/* The reverse: 0, or -1 when p[0..n) is no location. */
int warcbody_loc_decode(const void *p, size_t n, struct warcbody_loc *loc);

/* Files record id's place.  0 or an LMDB error. */
int warcbody_put(MDB_txn *txn, MDB_dbi dbi, const char *id,
    const struct warcbody_loc *loc);
/* Where record id lies: 0, MDB_NOTFOUND, MDB_CORRUPTED or an LMDB error. */
int warcbody_find(MDB_txn *txn, MDB_dbi dbi, const char *id,
    struct warcbody_loc *loc);
/* The same for a stored document's body, by its warc_record_id
 * (MDB_NOTFOUND when it has none). */
int warcbody_find_doc(MDB_txn *txn, MDB_dbi dbi, const json_t *doc,
    struct warcbody_loc *loc);
/* True when loc's file is there and long enough to hold the record (not
 * moved away or cut): a revisit may refer to it. */
bool warcbody_there(const struct warcbody_loc *loc);

/*
 * Reads the record at loc and hands back its payload in *out (the caller
 * frees it), of *len bytes.  0; EFBIG when the payload is over max bytes;
 * an errno value from opening or reading the file (ENOENT: it was moved
 * away); EBADMSG when what lies there is not the record filed (the file
 * was cut or changed); ENOMEM.  Any error comes with a line in err that
 * names the file and says why.
 */
int warcbody_load(const struct warcbody_loc *loc, size_t max, void **out,
    size_t *len, char *err, size_t errlen);
/*
 * The checks and the inflating of warcbody_load(), on the member's bytes
 * p[0..n): exposed for the fuzz target.
 */
int warcbody_parse(const unsigned char *p, size_t n, size_t max,
    void **out, size_t *len, char *err, size_t errlen);

/*
 * sluiced --check: every filed place decodes, and its file is there and
 * long enough.  Calls fn once per damaged entry and once per file that
 * is gone or short (with how many records it should hold); *n counts the
 * entries.
 */
int warcbody_check(MDB_txn *txn, MDB_dbi dbi,
    void (*fn)(const char *problem, void *arg), void *arg, uint64_t *n);

#endif
