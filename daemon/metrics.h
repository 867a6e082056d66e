/*
 * metrics.h - the daemon's counters and histograms, and the Prometheus
 * endpoint that serves them (GET /metrics, text format 0.0.4).
 *
 * struct metrics is plain data that the loop thread updates: lower
 * modules (lease.c, outcome.c, op.c) reach it through a pointer in their
 * own context struct, and include this header only; it includes no other
 * module.  What a turn's transaction changes is counted only after the
 * commit, so a turn that is rolled back and replayed counts once.
 *
 * The gauges (jobs by state, hosts, store) and the counters the queue
 * keeps on disk (documents) are asked of the daemon at each scrape
 * through metrics_gauges_fn; daemon.c wires it.  The rolling windows
 * (metrics_tick, once a second) and the last failures serve the `stats`
 * command that `sluicectl watch` draws.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* sluice_fetches_total{result}: one per HTTP transfer (robots.txt too),
 * and one per job that robots.txt kept from being requested. */
enum metrics_fetch {
	METRICS_FETCH_OK,		/* 2xx */
	METRICS_FETCH_NOT_MODIFIED,	/* 304 */
	METRICS_FETCH_REDIRECT,		/* 3xx handed back to the queue */
	METRICS_FETCH_HTTP_ERROR,	/* any other status */
	METRICS_FETCH_NETWORK,		/* DNS, connect, reset, TLS, ... */
	METRICS_FETCH_TIMEOUT,
	METRICS_FETCH_BLOCKED,		/* the address guard refused */
	METRICS_FETCH_ROBOTS,		/* disallowed: no request made */
	METRICS_FETCH_TOO_LARGE,
	METRICS_FETCH_N
};

/* sluice_submitted_urls_total{result} */
enum metrics_submit {
	METRICS_SUBMIT_QUEUED,
	METRICS_SUBMIT_DUPLICATE,
	METRICS_SUBMIT_REJECTED,
	METRICS_SUBMIT_N
};

#define METRICS_MAX_BUCKETS	16
#define METRICS_WINDOW		60	/* seconds of per-second history */
#define METRICS_FAILURES	16	/* last failures kept */

struct metrics_hist {
	const double	*bounds;	/* upper bounds, ascending */
	size_t		 nbounds;
	uint64_t	 counts[METRICS_MAX_BUCKETS];	/* not cumulative */
	uint64_t	 count;
	double		 sum;
};

/* One second of history: cumulative values at its end. */
struct metrics_sample {
	uint64_t	 sec;		/* mono seconds; 0 = empty */
	uint64_t	 pages;		/* documents stored */
	uint64_t	 bytes;		/* fetched bytes */
	uint64_t	 fetches[METRICS_FETCH_N];
};

/* A job that failed for good. */
struct metrics_failure {
	uint64_t	 job_id;
	uint64_t	 at_ms;		/* epoch ms */
	uint32_t	 http_status;
	char		 code[32];
	char		 url[256];
};

/* What the daemon reports at each scrape. */
struct metrics_gauges {
	const char	*job_states[8];
	uint64_t	 jobs[8];
	size_t		 njobs;
	uint64_t	 documents[4];	/* none, url, exact, near */
	uint64_t	 hosts_active;	/* transfers in flight */
	uint64_t	 hosts_backoff;	/* paused after errors */
	uint64_t	 store_used;
	uint64_t	 store_map;
	const char	*store_conditions[4];	/* ok, full, disk_full,
						   failing: one is 1 */
	int		 store_condition;
	/* Feeds and sitemaps (feeds.h), since start. */
	uint64_t	 feed_sources;
	uint64_t	 feed_polls[3];		/* changed, not_modified, error */
	uint64_t	 feed_entries[3];	/* new, known, old */
	uint64_t	 feed_children[2];	/* fetched, unchanged */
	uint64_t	 now_ms;	/* scratch for the caller */
	/* WARC capture (warc.h), since start, if warc.dir is set. */
	bool		 warc;
	uint64_t	 warc_records;
	uint64_t	 warc_revisits;
	uint64_t	 warc_bytes;
	uint64_t	 warc_busy;	/* transfers at warc.busy_gzip_level */
	/* Cluster mode (cluster.h), if cluster is set. */
	bool		 cluster;
	bool		 cluster_connected;
	uint64_t	 cluster_held;	/* frontier messages held */
	uint64_t	 cluster_pending;	/* in the owned partitions */
	uint64_t	 cluster_keys_applied;
	uint64_t	 cluster_redirects_handed;
	uint32_t	 cluster_parts[1024];	/* owned partitions */
	size_t		 ncluster_parts;
};

typedef void (*metrics_gauges_fn)(struct metrics_gauges *g, void *arg);

struct metrics {
	uint64_t	 fetches[METRICS_FETCH_N];
	uint64_t	 fetched_bytes;
	uint64_t	 submitted[METRICS_SUBMIT_N];
	struct metrics_hist fetch_duration;	/* seconds per transfer */
	struct metrics_hist clean_duration;	/* seconds per page */
	/* The cleaner's budget: pages with elements nested past
	 * extract.max_depth (flattened), the elements flattened, pages cut
	 * at extract.max_elements, and pages stopped (too_complex). */
	uint64_t	 clean_flattened_pages;
	uint64_t	 clean_flattened;
	uint64_t	 clean_truncated;
	uint64_t	 clean_too_complex;
	struct metrics_hist commit_duration;	/* seconds per write txn */
	double		 start_time;		/* epoch seconds */
	struct metrics_sample window[METRICS_WINDOW + 1];
	struct metrics_sample base;		/* at start */
	struct metrics_failure failures[METRICS_FAILURES];
	uint64_t	 nfailures;		/* ever recorded */
	metrics_gauges_fn gauges;
	void		*gauges_arg;
};

void metrics_init(struct metrics *m);
void metrics_observe(struct metrics_hist *h, double v);
/* A transfer (or a robots.txt refusal, seconds < 0: no request). */
void metrics_fetch(struct metrics *m, enum metrics_fetch r, uint64_t bytes,
    double seconds);
void metrics_failure(struct metrics *m, uint64_t job_id, const char *url,
    const char *code, uint32_t http_status, uint64_t at_ms);
const char *metrics_fetch_name(enum metrics_fetch r);

/* At start (base) and once a second: records the cumulative counters
 * for the windows. */
void metrics_tick_base(struct metrics *m, uint64_t mono_sec, uint64_t pages,
    uint64_t bytes);
void metrics_tick(struct metrics *m, uint64_t mono_sec, uint64_t pages,
    uint64_t bytes);
/* The sample closest to `ago` seconds before the latest, or NULL. */
const struct metrics_sample *metrics_sample_ago(const struct metrics *m,
    uint64_t ago);
const struct metrics_sample *metrics_sample_latest(const struct metrics *m);

/* The whole exposition (gauges asked now); malloc'd text, or NULL. */
char *metrics_render(struct metrics *m, size_t *len);

/* The HTTP endpoint. */
struct metrics_http;
/*
 * Listens on listen ("ADDRESS:PORT", "[V6]:PORT" or a Unix socket path,
 * one starting with '/' or '.') and serves GET /metrics.  NULL with err.
 */
struct metrics_http *metrics_http_new(struct event_base *base,
    struct metrics *m, const char *listen, char *err, size_t errlen);
void metrics_http_free(struct metrics_http *h);

#endif
