/*
 * hosts.c - the robots.txt cache in LMDB (see hosts.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "hosts.h"
#include "store.h"

struct robots_disk {
	uint64_t	 expires_ms;
	uint32_t	 policy;
	uint32_t	 len;
};

int
hosts_open(struct hosts *h, MDB_txn *txn)
{
	return store_dbi(txn, "robots", 0, &h->robots);
}

int
hosts_robots_get(struct hosts *h, MDB_txn *txn, uint64_t host,
    struct hosts_robots *r)
{
	unsigned char key[8];
	MDB_val k = { sizeof(key), key }, v;
	struct robots_disk d;
	int rc;

	store_put_be64(key, host);
	rc = mdb_get(txn, h->robots, &k, &v);
	if (rc != 0)
		return rc;
	if (v.mv_size < sizeof(d))
		return MDB_CORRUPTED;
	memcpy(&d, v.mv_data, sizeof(d));
	if (v.mv_size != sizeof(d) + d.len)
		return MDB_CORRUPTED;
	r->expires_ms = d.expires_ms;
	r->policy = (int)d.policy;
	r->body = (const char *)v.mv_data + sizeof(d);
	r->len = d.len;
	return 0;
}

int
hosts_robots_put(struct hosts *h, MDB_txn *txn, uint64_t host,
    const struct hosts_robots *r)
{
	struct robots_disk d = { r->expires_ms, (uint32_t)r->policy,
	    (uint32_t)r->len };
	unsigned char key[8];
	MDB_val k = { sizeof(key), key }, v = { sizeof(d) + r->len, NULL };
	int rc;

	store_put_be64(key, host);
	rc = mdb_put(txn, h->robots, &k, &v, MDB_RESERVE);
	if (rc != 0)
		return rc;
	memcpy(v.mv_data, &d, sizeof(d));
	if (r->len > 0)
		memcpy((char *)v.mv_data + sizeof(d), r->body, r->len);
	return 0;
}

char *
hosts_path_query(const char *url)
{
	CURLU *u = curl_url();
	char *path = NULL, *query = NULL, *out = NULL;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto done;
	(void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
	out = malloc(strlen(path) + (query ? strlen(query) + 1 : 0) + 1);
	if (out != NULL)
		sprintf(out, "%s%s%s", path, query ? "?" : "", query ? query :
		    "");
done:
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return out;
}
