/*
 * warc.c - the WARC 1.1 writer (see warc.h): records built from a
 * transfer's capture, one gzip member each (zlib), SHA-1 digests in base32
 * (libcrypto), files rotated past warc.max_size, and the cut-back at start.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "buf.h"
#include "config.h"
#include "fetch.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "warc.h"
#include "warcbody.h"
#include "warcrec.h"

#define WARC_STATE_KEY	"file"	/* in the "warc" database */
#define WARC_HEAD_READ	(64 * 1024)	/* a warcinfo fits, at start */

struct warc {
	char		*dir;
	char		*absdir;	/* dir, absolute: in filed places */
	char		*prefix;
	uint64_t	 max_size;
	int		 level;
	int		 level_busy;	/* while the workers are behind */
	char		*info;		/* warcinfo fields */
	MDB_dbi		 dbi;		/* "warc": digests and the state */
	MDB_dbi		 bodies;	/* "warc_bodies" (warcbody.h) */
	int		 dirfd;
	int		 fd;		/* the open file, or -1 */
	char		*path;
	uint64_t	 size;		/* bytes in the open file */
	uint64_t	 serial;	/* of the open file */
	uint64_t	 turn_start;	/* size when the turn began */
	struct warc_capture *turn, **turn_tail;
	uint64_t	 turn_records, turn_revisits, turn_busy;
	struct buf	 scratch;	/* a revisit record being built */
	struct warc_stats stats;	/* this run's, logged at the end */
	/* Tests only: SLUICE_TEST_WARC_CRASH=N kills the process at the Nth
	 * turn that has records, before its commit: after writing half a
	 * record (N odd) or after syncing them all (N even). */
	uint64_t	 crash_turn, turns;
};

/* One transfer's records, built when it ended. */
struct warc_capture {
	struct warc_capture *turn_next;
	bool		 busy;		/* built at the busy level */
	struct buf	 head;		/* written as they are */
	uint64_t	 head_records;
	struct buf	 resp;		/* the final response, unless a
					   revisit replaces it */
	/* What a revisit in resp's place needs: */
	unsigned char	 sha[WARCREC_SHA1_LEN];
	char		 payload[WARCREC_B32_LEN + 8];
	char		 id[WARCREC_ID_LEN];
	char		 date[WARCREC_DATE_LEN];
	char		 ip[46];
	char		*uri;
	struct buf	 http;		/* the fixed header block */
};

static bool
warc_hdr_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/*
 * The response's header block as it is written: libcurl hands over the
 * body decoded (no Content-Encoding) and de-chunked, so those headers
 * would misdescribe the stored payload.  As StormCrawler does, they are
 * renamed X-Crawler-Content-Encoding and X-Crawler-Transfer-Encoding, a
 * Content-Length that differs from the payload becomes
 * X-Crawler-Content-Length, and the true Content-Length is added.
 * *orig_len is the received Content-Length, or -1.
 */
static int
warc_fix_http(const struct buf *raw, size_t body_len, struct buf *out,
    long long *orig_len)
{
	const char *p = raw->data, *end = raw->data + raw->len;
	bool first = true, coded = false, cl_ok = false;
	long long cl = -1;

	*orig_len = -1;
	/* First pass: is the payload transformed at all? */
	for (const char *q = p; q < end;) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t len = nl ? (size_t)(nl + 1 - q) : (size_t)(end - q);
		if (warc_hdr_is(q, len, "content-encoding") ||
		    warc_hdr_is(q, len, "transfer-encoding"))
			coded = true;
		else if (warc_hdr_is(q, len, "content-length"))
			cl = strtoll(q + 15, NULL, 10);
		q += len;
	}
	*orig_len = cl;
	for (; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
		bool rename = false;

		if (len == 2 && p[0] == '\r')
			break;		/* the blank line: added below */
		if (len == 1 && p[0] == '\n')
			break;
		if (!first && (warc_hdr_is(p, len, "content-encoding") ||
		    warc_hdr_is(p, len, "transfer-encoding")))
			rename = true;
		else if (!first && warc_hdr_is(p, len, "content-length")) {
			if (coded || cl < 0 || (unsigned long long)cl !=
			    body_len || cl_ok)
				rename = true;
			else
				cl_ok = true;
		}
		if ((rename && buf_append(out, "X-Crawler-", 10) == -1) ||
		    buf_append(out, p, len) == -1)
			return -1;
		/* A last line without its line end. */
		if (nl == NULL && buf_append(out, "\r\n", 2) == -1)
			return -1;
		first = false;
		p += len;
	}
	if (!cl_ok && buf_appendf(out, "Content-Length: %zu\r\n", body_len) ==
	    -1)
		return -1;
	return buf_append(out, "\r\n", 2);
}

static int
warc_status(const struct buf *http)
{
	const char *sp = http->data ? memchr(http->data, ' ', http->len) :
	    NULL;

	return sp != NULL ? atoi(sp + 1) : 0;
}

/* Why the final response is cut short, or NULL. */
static const char *
warc_truncated(const struct fetch_result *r)
{
	switch (r->error) {
	case FETCH_OK:
		return NULL;
	case FETCH_ERR_TOO_LARGE:
		return "length";
	case FETCH_ERR_TIMEOUT:
		return "time";
	case FETCH_ERR_NETWORK:
		return "disconnect";
	default:
		return "unspecified";
	}
}

/* One hop's request and response records. */
static int
warc_hop(struct warcrec_coder *k, struct warc_capture *c,
    const struct fetch_hop *h, const struct fetch_result *r)
{
	char req_id[WARCREC_ID_LEN], resp_id[WARCREC_ID_LEN], date[WARCREC_DATE_LEN];
	char payload[WARCREC_B32_LEN + 1], extra[2400];
	const struct buf *body = NULL;
	bool final = h->next == NULL, has_resp = h->response.len > 0;
	const char *trunc = NULL;
	struct warcrec rec = { 0 };
	long long orig_len;
	size_t blen = 0;
	int status;

	warcrec_new_id(req_id);
	warcrec_new_id(resp_id);
	warcrec_date(h->date_ms, date);
	rec = (struct warcrec){ .type = "request", .id = req_id,
	    .date = date, .uri = h->url, .ip = h->ip,
	    .concurrent = has_resp ? resp_id : NULL,
	    .content_type = "application/http;msgtype=request" };
	/* A GET has no body: the payload digest is that of nothing. */
	if (warcrec_sha1_b32(k, "", 0, "", 0, payload) == -1)
		return -1;
	rec.payload = payload;
	if (warcrec_write(k, &c->head, &rec, h->request.data, h->request.len,
	    "", 0) == -1)
		return -1;
	c->head_records++;
	if (!has_resp)
		return 0;
	if (final) {
		body = r->error == FETCH_OK ? &r->body : &r->cut_body;
		blen = body->len;
		trunc = warc_truncated(r);
	}
	buf_reset(&c->http);
	if (warc_fix_http(&h->response, blen, &c->http, &orig_len) == -1)
		return -1;
	if (!final && orig_len > 0)
		trunc = "unspecified";	/* libcurl skips a hop's body */
	status = warc_status(&h->response);
	extra[0] = '\0';
	rec = (struct warcrec){ .type = "response", .id = resp_id,
	    .date = date, .uri = h->url, .ip = h->ip,
	    .content_type = "application/http;msgtype=response",
	    .extra = extra };
	if (status == 304) {
		rec.type = "revisit";
		snprintf(extra, sizeof(extra), "WARC-Profile: %s\r\n"
		    "WARC-Refers-To-Target-URI: %s\r\n",
		    WARC_REVISIT_PROFILE_304, h->url ? h->url : "");
		if (strlen(extra) + 1 >= sizeof(extra))
			snprintf(extra, sizeof(extra), "WARC-Profile: %s\r\n",
			    WARC_REVISIT_PROFILE_304);
		c->head_records++;
		return warcrec_write(k, &c->head, &rec, c->http.data,
		    c->http.len, "", 0);
	}
	if (warcrec_sha1(k, body ? body->data : "", blen, "", 0, c->sha) == -1)
		return -1;
	warcrec_base32(c->sha, sizeof(c->sha), c->payload);
	rec.payload = c->payload;
	if (trunc != NULL)
		snprintf(extra, sizeof(extra), "WARC-Truncated: %s\r\n", trunc);
	if (!final || trunc != NULL || blen == 0) {
		c->head_records++;
		return warcrec_write(k, &c->head, &rec, c->http.data,
		    c->http.len, body ? body->data : "", blen);
	}
	/* The final, whole response: a revisit may take its place. */
	memcpy(c->id, resp_id, sizeof(c->id));
	memcpy(c->date, date, sizeof(c->date));
	snprintf(c->ip, sizeof(c->ip), "%s", h->ip);
	if (h->url != NULL && (c->uri = strdup(h->url)) == NULL)
		return -1;
	return warcrec_write(k, &c->resp, &rec, c->http.data, c->http.len,
	    body->data, blen);
}

/*
 * One coder per thread that builds records, made on first use: zlib's
 * state is 256 KiB, and making it for every transfer cost more than
 * storing a page.  The loop thread's also builds warcinfo and revisit
 * records.  Freed when a worker ends, and the loop thread's by
 * warc_close().
 */
static pthread_key_t coder_key;
static pthread_once_t coder_once = PTHREAD_ONCE_INIT;

static void
warc_coder_free(void *k)
{
	warcrec_coder_free(k);
	free(k);
}

static void
warc_coder_key_init(void)
{
	(void)pthread_key_create(&coder_key, warc_coder_free);
}

static struct warcrec_coder *
warc_thread_coder(int level)
{
	struct warcrec_coder *k;

	pthread_once(&coder_once, warc_coder_key_init);
	k = pthread_getspecific(coder_key);
	if (k == NULL) {
		if ((k = malloc(sizeof(*k))) == NULL)
			return NULL;
		if (warcrec_coder_init(k, level) == -1 ||
		    pthread_setspecific(coder_key, k) != 0) {
			warc_coder_free(k);
			return NULL;
		}
	}
	return warcrec_coder_level(k, level) == -1 ? NULL : k;
}

struct warc_capture *
warc_capture(const struct warc *w, const struct fetch_result *r, bool busy)
{
	struct warc_capture *c = NULL;
	struct warcrec_coder *k;

	if (w == NULL || r->hops == NULL)
		return NULL;
	busy = busy && w->level_busy != w->level;
	if ((k = warc_thread_coder(busy ? w->level_busy : w->level)) == NULL)
		goto oom;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto oom;
	c->busy = busy;
	buf_init(&c->head, BUF_MAX);
	buf_init(&c->resp, BUF_MAX);
	buf_init(&c->http, BUF_MAX);
	for (const struct fetch_hop *h = r->hops; h != NULL; h = h->next)
		if (h->request.len > 0 && warc_hop(k, c, h, r) == -1)
			goto oom;
	if (c->resp.len == 0)
		buf_free(&c->http);	/* no revisit to build */
	if (c->head.len == 0 && c->resp.len == 0) {
		warc_capture_free(c);
		return NULL;
	}
	return c;
oom:
	log_warnx("warc: %s: cannot build its records (out of memory)",
	    r->final_url ? r->final_url : "a transfer");
	warc_capture_free(c);
	return NULL;
}

void
warc_get_stats(const struct warc *w, struct warc_stats *out)
{
	if (w != NULL)
		*out = w->stats;
	else
		memset(out, 0, sizeof(*out));
}

const char *
warc_path(const struct warc *w)
{
	return w != NULL && w->fd >= 0 ? w->path : NULL;
}

const char *
warc_capture_id(const struct warc_capture *c)
{
	return c != NULL && c->resp.len > 0 && c->id[0] != '\0' ? c->id :
	    NULL;
}

void
warc_capture_free(struct warc_capture *c)
{
	if (c == NULL)
		return;
	buf_free(&c->head);
	buf_free(&c->resp);
	buf_free(&c->http);
	free(c->uri);
	free(c);
}

void
warc_put(struct warc *w, struct warc_capture *c)
{
	if (w == NULL || c == NULL)
		return;
	c->turn_next = NULL;
	*w->turn_tail = c;
	w->turn_tail = &c->turn_next;
}

/* --- files ------------------------------------------------------------ */

static int
warc_write(struct warc *w, const void *p, size_t len)
{
	const char *s = p;

	while (len > 0) {
		ssize_t n = write(w->fd, s, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
		w->size += (uint64_t)n;
	}
	return 0;
}

/* Notes the open file and its end in txn. */
static int
warc_note(struct warc *w, MDB_txn *txn)
{
	size_t plen = strlen(w->path);
	unsigned char *v = malloc(16 + plen);
	MDB_val key = { strlen(WARC_STATE_KEY), (void *)WARC_STATE_KEY };
	MDB_val val = { 16 + plen, v };
	int rc;

	if (v == NULL)
		return ENOMEM;
	store_put_be64(v, w->size);
	store_put_be64(v + 8, w->serial);
	memcpy(v + 16, w->path, plen);
	rc = mdb_put(txn, w->dbi, &key, &val, 0);
	free(v);
	return rc;
}

/* Closes the open file and starts the next, with its warcinfo record.
 * 0, or an errno value. */
static int
warc_rotate(struct warc *w)
{
	char date[WARCREC_DATE_LEN], id[WARCREC_ID_LEN], name[512], stamp[32];
	char extra[600];
	uint64_t ms = now_ms();
	time_t t = (time_t)(ms / 1000);
	struct warcrec_coder *k;
	struct buf out;
	struct tm tm;
	int fd, rc = 0;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	w->serial++;
	snprintf(name, sizeof(name), "%s-%s%03u-%05llu.warc.gz", w->prefix,
	    stamp, (unsigned)(ms % 1000),
	    (unsigned long long)(w->serial % 100000));
	fd = openat(w->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND |
	    O_CLOEXEC, 0640);
	if (fd == -1) {
		rc = errno;
		log_warn("warc: %s/%s", w->dir, name);
		return rc;
	}
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	w->fd = fd;
	w->size = 0;
	if (asprintf(&w->path, "%s/%s", w->dir, name) == -1) {
		w->path = NULL;
		return ENOMEM;
	}
	w->stats.files++;
	warcrec_new_id(id);
	warcrec_date(ms, date);
	snprintf(extra, sizeof(extra), "WARC-Filename: %s\r\n", name);
	buf_init(&out, BUF_MAX);
	struct warcrec rec = { .type = "warcinfo", .id = id, .date = date,
	    .content_type = "application/warc-fields", .extra = extra };
	if ((k = warc_thread_coder(w->level)) == NULL ||
	    warcrec_write(k, &out, &rec, w->info, strlen(w->info), "", 0) == -1)
		rc = ENOMEM;
	else if (warc_write(w, out.data, out.len) == -1 ||
	    fdatasync(w->fd) == -1 || fsync(w->dirfd) == -1)
		rc = errno ? errno : EIO;
	buf_free(&out);
	if (rc != 0)
		log_warnx("warc: %s: %s", w->path, strerror(rc));
	else
		log_info("warc: writing %s", w->path);
	return rc;
}

/* The first capture of c's payload (or the first still in its file):
 * its date, URI and place filed under the digest, its place under its
 * record id, and the whole response written. */
static int
warc_write_first(struct warc *w, MDB_txn *txn, struct warc_capture *c)
{
	MDB_val key = { WARCREC_SHA1_LEN, c->sha }, val;
	size_t ulen = c->uri ? strlen(c->uri) : 0, vlen;
	char *v = malloc(WARCREC_DATE_LEN + ulen + 1 + WARCBODY_LOC_MAX);
	struct warcbody_loc loc = { .offset = w->size, .len = c->resp.len };
	int rc;

	if (v == NULL)
		return ENOMEM;
	/* Absolute: a later start from elsewhere still finds it. */
	snprintf(loc.path, sizeof(loc.path), "%s/%s", w->absdir,
	    w->path + strlen(w->dir) + 1);
	memcpy(v, c->date, WARCREC_DATE_LEN);
	memcpy(v + WARCREC_DATE_LEN, c->uri ? c->uri : "", ulen + 1);
	vlen = WARCREC_DATE_LEN + ulen + 1;
	vlen += warcbody_loc_encode(&loc, (unsigned char *)v + vlen);
	val = (MDB_val){ vlen, v };
	rc = mdb_put(txn, w->dbi, &key, &val, 0);
	free(v);
	if (rc == 0)
		rc = warcbody_put(txn, w->bodies, c->id, &loc);
	if (rc != 0)
		return rc;
	w->turn_records++;
	return warc_write(w, c->resp.data, c->resp.len) == -1 ?
	    (errno ? errno : EIO) : 0;
}

/* The turn's records, with revisits for payloads already captured. */
static int
warc_write_one(struct warc *w, MDB_txn *txn, struct warc_capture *c)
{
	MDB_val key = { WARCREC_SHA1_LEN, c->sha }, val;
	char extra[WARCREC_DATE_LEN + 2048 + 256];
	struct warcbody_loc loc;
	const char *uri, *date;
	struct warcrec_coder *k;
	struct warcrec rec;
	size_t used;
	int rc;

	if (c->head.len > 0 && warc_write(w, c->head.data, c->head.len) == -1)
		return errno ? errno : EIO;
	w->turn_records += c->head_records;
	w->turn_busy += c->busy;
	if (c->resp.len == 0)
		return 0;
	rc = mdb_get(txn, w->dbi, &key, &val);
	if (rc == MDB_NOTFOUND)
		return warc_write_first(w, txn, c);
	if (rc != 0)
		return rc;
	/* Date and URI of the first capture, NUL-terminated each, then
	 * (since warcbody.h) its place, which the revisit's id shares. */
	date = val.mv_data;
	uri = (const char *)val.mv_data + WARCREC_DATE_LEN;
	if (val.mv_size <= WARCREC_DATE_LEN ||
	    memchr(uri, '\0', val.mv_size - WARCREC_DATE_LEN) == NULL)
		return MDB_CORRUPTED;
	/* A first capture filed before places were, or whose file was
	 * moved away: this one is captured whole and becomes the first, so
	 * that its body stays readable (warc.serves_raw). */
	used = WARCREC_DATE_LEN + strlen(uri) + 1;
	if (used >= val.mv_size || warcbody_loc_decode((const char *)
	    val.mv_data + used, val.mv_size - used, &loc) != 0 ||
	    !warcbody_there(&loc))
		return warc_write_first(w, txn, c);
	if ((rc = warcbody_put(txn, w->bodies, c->id, &loc)) != 0)
		return rc;
	if (strlen(uri) > 2048)
		uri = "";
	snprintf(extra, sizeof(extra), "WARC-Profile: %s\r\n"
	    "WARC-Refers-To-Target-URI: %s\r\nWARC-Refers-To-Date: %s\r\n"
	    "WARC-Truncated: length\r\n", WARC_REVISIT_PROFILE_DIGEST, uri,
	    date);
	rec = (struct warcrec){ .type = "revisit", .id = c->id,
	    .date = c->date, .uri = c->uri, .ip = c->ip,
	    .payload = c->payload, .extra = extra,
	    .content_type = "application/http;msgtype=response" };
	buf_reset(&w->scratch);
	if ((k = warc_thread_coder(w->level)) == NULL ||
	    warcrec_write(k, &w->scratch, &rec, c->http.data, c->http.len, "",
	    0) == -1)
		return ENOMEM;
	w->turn_records++;
	w->turn_revisits++;
	return warc_write(w, w->scratch.data, w->scratch.len) == -1 ?
	    (errno ? errno : EIO) : 0;
}

int
warc_apply(void *arg, MDB_txn *txn, uint64_t now)
{
	struct warc *w = arg;
	int rc = 0;

	if (w == NULL || w->turn == NULL)
		return 0;
	if (w->fd < 0 || w->size >= w->max_size) {
		if ((rc = warc_rotate(w)) != 0)
			return rc;
		w->turn_start = w->size;
	}
	w->turn_records = w->turn_revisits = w->turn_busy = 0;
	errno = 0;
	if (++w->turns == w->crash_turn && w->crash_turn % 2 == 1) {
		const struct buf *b = w->turn->head.len ? &w->turn->head :
		    &w->turn->resp;
		(void)warc_write(w, b->data, b->len / 2);
		raise(SIGKILL);
	}
	for (struct warc_capture *c = w->turn; c != NULL && rc == 0;
	    c = c->turn_next)
		rc = warc_write_one(w, txn, c);
	/* As often as the commit syncs: the commit follows at once. */
	if (rc == 0 && fdatasync(w->fd) == -1)
		rc = errno;
	if (w->turns == w->crash_turn)
		raise(SIGKILL);
	if (rc == 0)
		rc = warc_note(w, txn);
	if (rc != 0 && rc != MDB_MAP_FULL)
		log_warnx("warc: %s: %s", w->path, rc > 0 ? strerror(rc) :
		    mdb_strerror(rc));
	return rc;
}

void
warc_abort(void *arg)
{
	struct warc *w = arg;

	if (w == NULL)
		return;
	w->turn = NULL;
	w->turn_tail = &w->turn;
	if (w->fd >= 0 && w->size > w->turn_start) {
		if (ftruncate(w->fd, (off_t)w->turn_start) == -1)
			log_warn("warc: %s: cannot cut back", w->path);
		w->size = w->turn_start;
	}
}

void
warc_committed(struct warc *w)
{
	if (w == NULL)
		return;
	if (w->turn != NULL) {
		w->stats.records += w->turn_records;
		w->stats.revisits += w->turn_revisits;
		w->stats.busy += w->turn_busy;
		w->stats.bytes += w->size - w->turn_start;
	}
	w->turn = NULL;
	w->turn_tail = &w->turn;
	w->turn_start = w->size;
}

/* --- start: cutting back what no commit covers ------------------------ */

size_t
warc_member_len(const unsigned char *p, size_t len)
{
	enum { KEEP = 4096 };	/* of the output: the record's header */
	unsigned char out[WARC_HEAD_READ];
	z_stream z = { 0 };
	size_t used = 0, got;
	int rc;

	if (len < 18 || p[0] != 0x1f || p[1] != 0x8b)
		return 0;
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return 0;
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	z.next_out = out;
	z.avail_out = sizeof(out) - 1;
	do {
		rc = inflate(&z, Z_NO_FLUSH);
		if (z.avail_out == 0) {
			/* Only the record's header is checked: drop the
			 * rest of a long block as it comes. */
			if (memmem(out, KEEP, "\r\n\r\n", 4) == NULL)
				break;
			z.next_out = out + KEEP;
			z.avail_out = sizeof(out) - 1 - KEEP;
		}
	} while (rc == Z_OK);
	got = (size_t)(z.next_out - out);
	if (rc == Z_STREAM_END && got >= 5 && memcmp(out, "WARC/", 5) == 0 &&
	    memmem(out, got < KEEP ? got : KEEP, "\r\n\r\n", 4) != NULL)
		used = (size_t)(z.next_in - p);
	inflateEnd(&z);
	return used;
}

/* True for PREFIX-YYYYMMDDhhmmssSSS-NNNNN.warc.gz. */
static bool
warc_our_name(const struct warc *w, const char *name)
{
	size_t pl = strlen(w->prefix), i;

	if (strncmp(name, w->prefix, pl) != 0 || name[pl] != '-')
		return false;
	name += pl + 1;
	for (i = 0; i < 17; i++)
		if (!isdigit((unsigned char)name[i]))
			return false;
	if (name[17] != '-')
		return false;
	for (i = 18; i < 23; i++)
		if (!isdigit((unsigned char)name[i]))
			return false;
	return strcmp(name + 23, ".warc.gz") == 0;
}

static void
warc_cut(struct warc *w, const char *name, uint64_t to)
{
	int fd = openat(w->dirfd, name, O_WRONLY | O_CLOEXEC);
	struct stat st;

	if (fd == -1 || fstat(fd, &st) == -1) {
		log_warn("warc: %s/%s", w->dir, name);
		if (fd != -1)
			close(fd);
		return;
	}
	if ((uint64_t)st.st_size > to) {
		if (ftruncate(fd, (off_t)to) == -1 || fsync(fd) == -1)
			log_warn("warc: %s/%s: cannot cut back", w->dir, name);
		else
			log_notice("warc: %s/%s: cut back from %llu to %llu "
			    "bytes, past the last commit", w->dir, name,
			    (unsigned long long)st.st_size,
			    (unsigned long long)to);
	} else if ((uint64_t)st.st_size < to)
		log_warnx("warc: %s/%s: %llu bytes, shorter than the %llu "
		    "committed", w->dir, name,
		    (unsigned long long)st.st_size, (unsigned long long)to);
	close(fd);
}

/* A file begun after the last committed one: back to its warcinfo.  One
 * killed before its warcinfo was whole is no WARC file at all: removed. */
static void
warc_cut_newer(struct warc *w, const char *name)
{
	unsigned char *p = malloc(WARC_HEAD_READ);
	int fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;
	size_t info;

	if (p != NULL && fd != -1)
		n = pread(fd, p, WARC_HEAD_READ, 0);
	if (fd != -1)
		close(fd);
	if (n >= 0 && (info = warc_member_len(p, (size_t)n)) > 0)
		warc_cut(w, name, info);
	else if (n >= 0) {
		if (unlinkat(w->dirfd, name, 0) == -1 || fsync(w->dirfd) == -1)
			log_warn("warc: %s/%s: cannot remove", w->dir, name);
		else
			log_notice("warc: %s/%s: removed, its warcinfo cut "
			    "short by a crash", w->dir, name);
	}
	free(p);
}

/* Cuts back the last committed file to its noted end, and any file begun
 * after it, whose records no commit covers. */
static int
warc_recover(struct warc *w, MDB_txn *txn)
{
	MDB_val key = { strlen(WARC_STATE_KEY), (void *)WARC_STATE_KEY }, val;
	const char *last = NULL;
	char *path = NULL;
	struct dirent *de;
	DIR *dir;
	int rc;


	rc = mdb_get(txn, w->dbi, &key, &val);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return rc;
	if (rc == 0 && val.mv_size > 16) {
		const unsigned char *v = val.mv_data;
		uint64_t end = store_get_be64(v);
		size_t dl = strlen(w->dir);

		w->serial = store_get_be64(v + 8);
		path = strndup((const char *)v + 16, val.mv_size - 16);
		if (path == NULL)
			return ENOMEM;
		/* Only a file of this directory is ours to cut. */
		if (strncmp(path, w->dir, dl) == 0 && path[dl] == '/' &&
		    strchr(path + dl + 1, '/') == NULL) {
			last = path + dl + 1;
			warc_cut(w, last, end);
		}
	}
	/* With no file noted, nothing here is known to be ours. */
	if (last != NULL && (dir = fdopendir(dup(w->dirfd))) != NULL) {
		while ((de = readdir(dir)) != NULL)
			if (warc_our_name(w, de->d_name) &&
			    strcmp(de->d_name, last) > 0)
				warc_cut_newer(w, de->d_name);
		closedir(dir);
	}
	free(path);
	return 0;
}

static char *
warc_info_fields(const struct config *cfg)
{
	char host[256] = "";
	char *s = NULL;

	if (gethostname(host, sizeof(host) - 1) == -1)
		snprintf(host, sizeof(host), "unknown");
	if (asprintf(&s, "software: sluice/%s\r\nhostname: %s\r\n"
	    "robots: %s\r\nhttp-header-user-agent: %s\r\n"
	    "format: WARC File Format 1.1\r\n"
	    "conformsTo: http://iipc.github.io/warc-specifications/"
	    "specifications/warc-format/warc-1.1/\r\n",
	    SLUICE_VERSION, host, cfg->respect_robots ? "obey" : "ignore",
	    cfg->user_agent ? cfg->user_agent : "") == -1)
		return NULL;
	return s;
}

int
warc_open(struct warc **out, const struct config *cfg, struct store *s,
    char *err, size_t errlen)
{
	struct warc *w;
	MDB_txn *txn = NULL;
	int rc;

	*out = NULL;
	if (cfg->warc_dir == NULL || cfg->warc_dir[0] == '\0')
		return 0;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto oom;
	w->fd = w->dirfd = -1;
	w->turn_tail = &w->turn;
	w->max_size = cfg->warc_max_size;
	if (getenv("SLUICE_TEST_WARC_CRASH") != NULL)
		w->crash_turn = strtoull(getenv("SLUICE_TEST_WARC_CRASH"), NULL,
		    10);
	w->level = (int)cfg->warc_gzip_level;
	w->level_busy = (int)cfg->warc_busy_gzip_level;
	buf_init(&w->scratch, BUF_MAX);
	w->dir = strdup(cfg->warc_dir);
	w->prefix = strdup(cfg->warc_prefix);
	w->info = warc_info_fields(cfg);
	if (w->dir == NULL || w->prefix == NULL || w->info == NULL)
		goto oom;
	/* Trailing slashes would defeat the noted path's comparison. */
	for (size_t n = strlen(w->dir); n > 1 && w->dir[n - 1] == '/'; n--)
		w->dir[n - 1] = '\0';
	if (mkdir(w->dir, 0750) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "warc.dir %s: %s", w->dir,
		    strerror(errno));
		goto fail;
	}
	w->dirfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd == -1 || (w->absdir = realpath(w->dir, NULL)) == NULL) {
		snprintf(err, errlen, "warc.dir %s: %s", w->dir,
		    strerror(errno));
		goto fail;
	}
	/* Recover, then begin this run's file and note it, so that any
	 * later file is known to be newer than a committed one. */
	rc = store_txn_write(s, &txn);
	if (rc == 0)
		rc = store_dbi(txn, "warc", MDB_CREATE, &w->dbi);
	if (rc == 0)
		rc = warcbody_dbi(txn, &w->bodies);
	if (rc == 0)
		rc = warc_recover(w, txn);
	if (rc == 0)
		rc = warc_rotate(w);
	if (rc == 0)
		rc = warc_note(w, txn);
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (rc != 0) {
		if (txn != NULL)
			mdb_txn_abort(txn);
		snprintf(err, errlen, "warc: %s", mdb_strerror(rc));
		goto fail;
	}
	w->turn_start = w->size;
	*out = w;
	return 0;
oom:
	snprintf(err, errlen, "warc: out of memory");
fail:
	warc_close(w);
	return -1;
}

void
warc_close(struct warc *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0) {
		close(w->fd);
		log_info("warc: %llu records (%llu revisits), %llu bytes in "
		    "%llu files this run; %llu transfers at busy_gzip_level",
		    (unsigned long long)w->stats.records,
		    (unsigned long long)w->stats.revisits,
		    (unsigned long long)w->stats.bytes,
		    (unsigned long long)w->stats.files,
		    (unsigned long long)w->stats.busy);
	}
	if (w->dirfd >= 0)
		close(w->dirfd);
	/* The loop thread's coder (workers free theirs). */
	pthread_once(&coder_once, warc_coder_key_init);
	if (pthread_getspecific(coder_key) != NULL) {
		warc_coder_free(pthread_getspecific(coder_key));
		(void)pthread_setspecific(coder_key, NULL);
	}
	buf_free(&w->scratch);
	free(w->dir);
	free(w->absdir);
	free(w->prefix);
	free(w->info);
	free(w->path);
	free(w);
}
