/*
 * config.h - sluiced's configuration: one table drives the file parser,
 * --set, --check-config, the defaults, `sluicectl config` and reload.
 *
 * The file is INI-like:
 *
 *	# comment
 *	[fetch]
 *	max_total = 64
 *	user_agent = "sluice/0.1 (+https://example.org/bot)"
 *
 * Sizes take B, KiB, MiB, GiB (or K, M, G, all powers of 1024); durations
 * take ms, s, m, h, d (a bare number is seconds).  conf/sluiced.conf lists
 * every key with its default; sluiced.conf(5) documents them.
 */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config {
	/* [daemon] */
	char		*state_dir;		/* LMDB environment lives here */
	char		*socket;		/* "" = $RUNTIME_DIRECTORY or state dir */
	uint32_t	 socket_mode;		/* octal, default 0660 */
	int		 log_level;		/* enum log_level */
	uint32_t	 workers;		/* 0 = number of CPUs */
	uint64_t	 shutdown_timeout_ms;	/* SIGTERM: in-flight deadline */
	uint32_t	 max_clients;		/* control connections at once */
	uint64_t	 max_request;		/* bytes in one request line */
	uint64_t	 max_reply_buffer;	/* bytes queued to a slow client */
	uint64_t	 max_reply_memory;	/* bytes queued to all clients */

	/* [store] */
	uint64_t	 map_size;		/* initial LMDB map size */
	uint64_t	 map_size_max;		/* hard cap; submissions refused beyond */
	uint64_t	 disk_full_below;	/* an I/O error with less free is
						   a full disk */
	uint64_t	 max_mapped;		/* resident LMDB pages kept mapped */
	uint64_t	 commit_interval_ms;	/* background work gathers this long */
	bool		 keep_raw;		/* keep the zstd-compressed body */
	int		 zstd_level;

	/* [queue] */
	uint32_t	 max_attempts;
	uint64_t	 retry_base_ms;		/* first retry delay */
	uint64_t	 retry_max_ms;		/* cap on the retry delay */
	uint32_t	 max_url_length;
	uint32_t	 max_batch;		/* URLs in one submit request */
	uint32_t	 index_backlog;		/* submissions left unindexed */

	/* [fetch] */
	uint32_t	 max_total;		/* transfers in flight, all hosts */
	uint32_t	 max_per_host;		/* transfers in flight, one host */
	uint32_t	 idle_connections;	/* kept open for reuse */
	uint64_t	 host_delay_ms;		/* between request starts, one host */
	uint64_t	 connect_timeout_ms;
	uint64_t	 timeout_ms;		/* whole transfer */
	uint64_t	 low_speed_time_ms;	/* abort if slower than low_speed_limit */
	uint64_t	 low_speed_limit;	/* bytes/s */
	uint64_t	 max_body;		/* after decompression */
	uint32_t	 max_redirects;
	char		*user_agent;
	char		*accept_language;
	bool		 allow_private_addresses;
	char		*allow_cidrs;		/* comma-separated CIDRs */
	bool		 respect_robots;
	uint64_t	 max_crawl_delay_ms;
	uint64_t	 host_backoff_min_ms;	/* after 429/503/connect failure */
	uint64_t	 host_backoff_max_ms;
	char		*robots_token;		/* product token for robots.txt */

	/* [extract] */
	uint64_t	 max_html;		/* bytes handed to the cleaner */
	uint32_t	 max_pending;		/* pages fetched, not yet cleaned */
	uint64_t	 max_clean_time_ms;	/* CPU time per page */
	uint32_t	 max_attributes;	/* in one start tag */
	uint32_t	 max_elements;		/* and attributes, parsed */
	uint32_t	 min_elements;		/* ...whatever the page's size */
	uint32_t	 bytes_per_element;	/* ...beyond: page bytes each */
	uint32_t	 max_depth;		/* deeper is flattened */
	uint32_t	 max_tag_work;		/* end-tag matching per byte */
	uint32_t	 max_interrupted;	/* cleanings cut by crashes */
	bool		 site_memory;		/* learn sites' boilerplate */
	uint32_t	 site_min_pages;	/* other pages: boilerplate */
	uint32_t	 site_short_words;	/* shorter lines: stricter */
	uint32_t	 site_max_sites;	/* sites remembered */
	uint32_t	 site_max_lines;	/* lines per site */

	/* [dedup] */
	double		 near_threshold;
	uint32_t	 min_words;		/* below: exact dedup only */
	uint64_t	 index_memory_max;	/* band keys in memory */
	char		*strip_params;		/* extra tracking parameters */

	/* [warc] */
	char		*warc_dir;		/* "" = no capture */
	char		*warc_prefix;		/* file names start with it */
	uint64_t	 warc_max_size;		/* a file rotates past it */
	uint32_t	 warc_gzip_level;	/* zlib level of each record */
	uint32_t	 warc_busy_gzip_level;	/* while workers are behind */
	bool		 warc_serves_raw;	/* no second raw copy in LMDB */

	/* [feeds] */
	uint64_t	 feed_min_interval_ms;	/* adaptive interval's bounds */
	uint64_t	 feed_max_interval_ms;
	uint64_t	 feed_max_age_ms;	/* older entries are skipped */
	uint64_t	 feed_max_bytes;	/* per document, decompressed */
	uint32_t	 feed_max_entries;	/* per document */
	uint32_t	 feed_max_children;	/* per sitemap index */
	uint32_t	 feed_max_sources;
	uint32_t	 feed_max_remembered;	/* entry URLs kept per source */

	/* [metrics] */
	char		*metrics_listen;	/* ADDRESS:PORT or a socket
						   path; "" = no endpoint */

	/* [cluster]: all read at start (cluster.c) */
	char		*cluster_nats;		/* URL list; "" = standalone */
	char		*cluster_node;		/* "" = the host name */
	uint32_t	 cluster_partitions;
	uint32_t	 cluster_replicas;
	uint64_t	 cluster_lease_ttl_ms;
	uint64_t	 cluster_ack_wait_ms;
	uint32_t	 cluster_window;	/* messages held, per node */
	char		*cluster_creds;		/* NATS .creds file, or "" */
	char		*cluster_user;
	char		*cluster_password;
	char		*cluster_tls_ca;	/* CA file for tls:// servers */
	char		*cluster_tls_cert;	/* client certificate chain */
	char		*cluster_tls_key;
	uint64_t	 cluster_docs_max_age_ms;
	uint64_t	 cluster_docs_max_bytes;
	uint64_t	 cluster_keys_max_bytes;
	uint32_t	 cluster_index_max_entries;	/* indexed at most */
};

/* Flags of a config key. */
#define CFG_RESTART	0x1	/* takes effect at the next start only */
#define CFG_SENSITIVE	0x2	/* never echoed back or logged */

/* Fills c with the documented defaults. */
void config_defaults(struct config *c);
void config_free(struct config *c);
/* Deep copy; returns 0 or -1 (ENOMEM). */
int config_copy(struct config *dst, const struct config *src);

/*
 * Parses a config file into c (on top of what c holds).  Returns 0, or -1
 * with "FILE:LINE: message" in err.
 */
int config_load_file(struct config *c, const char *path, char *err,
    size_t errlen);
/* Parses a whole config text (the fuzz target's entry); name is for errors. */
int config_load_buffer(struct config *c, const char *name, const char *text,
    size_t len, char *err, size_t errlen);
/* Applies "section.key=value".  Returns 0, or -1 with a message in err. */
int config_set(struct config *c, const char *assignment, char *err,
    size_t errlen);
/* Checks cross-key constraints after loading.  0, or -1 with err. */
int config_validate(const struct config *c, char *err, size_t errlen);

/*
 * Compares two configs key by key.  For each key that differs, calls fn
 * with the key's name and whether it needs a restart.  Returns the number
 * of differing keys.
 */
int config_diff(const struct config *a, const struct config *b,
    void (*fn)(const char *key, bool restart, void *arg), void *arg);

/* Copies key's value from src into dst (reload keeps restart-only keys).
 * 0, or -1 if unknown or out of memory. */
int config_keep(struct config *dst, const struct config *src,
    const char *key);

/* Writes "section.key = value" for every key (sensitive ones redacted) to
 * the callback, in table order. */
void config_walk(const struct config *c,
    void (*fn)(const char *key, const char *value, void *arg), void *arg);

#endif
