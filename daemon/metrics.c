/*
 * metrics.c - counters, histograms, the per-second windows, and the
 * Prometheus endpoint on libevent's evhttp (see metrics.h).
 *
 * Names follow prometheus.io/docs/practices/naming: the sluice_ prefix,
 * base units, _total on counters, and no label whose values are not a
 * short fixed list.  `promtool check metrics` passes on the output
 * (tests/integration/test_metrics.py).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "metrics.h"
#include "util.h"

/* evhttp's limits: a scrape is one small GET. */
#define HTTP_TIMEOUT_S		10
#define HTTP_MAX_HEADERS	8192
#define HTTP_MAX_BODY		1024

static const double fetch_bounds[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 5, 10, 30, 60 };
static const double fast_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };

static const char *const fetch_names[METRICS_FETCH_N] = {
	[METRICS_FETCH_OK] = "ok",
	[METRICS_FETCH_NOT_MODIFIED] = "not_modified",
	[METRICS_FETCH_REDIRECT] = "redirect",
	[METRICS_FETCH_HTTP_ERROR] = "http_error",
	[METRICS_FETCH_NETWORK] = "network",
	[METRICS_FETCH_TIMEOUT] = "timeout",
	[METRICS_FETCH_BLOCKED] = "blocked",
	[METRICS_FETCH_ROBOTS] = "robots",
	[METRICS_FETCH_TOO_LARGE] = "too_large",
};

static const char *const submit_names[METRICS_SUBMIT_N] = {
	"queued", "duplicate", "rejected",
};

static const char *const dup_names[4] = { "none", "url", "exact", "near" };

const char *
metrics_fetch_name(enum metrics_fetch r)
{
	return r < METRICS_FETCH_N ? fetch_names[r] : "network";
}

/* The process's start, in epoch seconds: /proc/self/stat's start time
 * (ticks after boot) against CLOCK_BOOTTIME; now if that fails. */
static double
metrics_process_start(void)
{
	struct timespec rt, bt;
	char buf[1024], *p;
	unsigned long long start = 0;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	int field = 2;

	if (f != NULL)
		fclose(f);
	buf[n] = '\0';
	clock_gettime(CLOCK_REALTIME, &rt);
	/* Fields after the command name, which may hold spaces. */
	p = strrchr(buf, ')');
	while (p != NULL && field < 22) {
		p = strchr(p + 1, ' ');
		field++;
	}
	if (p == NULL || sscanf(p, " %llu", &start) != 1 || hz <= 0 ||
	    clock_gettime(CLOCK_BOOTTIME, &bt) == -1)
		return (double)rt.tv_sec + rt.tv_nsec / 1e9;
	return (double)rt.tv_sec + rt.tv_nsec / 1e9 -
	    ((double)bt.tv_sec + bt.tv_nsec / 1e9 - (double)start / hz);
}

void
metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->fetch_duration.bounds = fetch_bounds;
	m->fetch_duration.nbounds = ARRAY_LEN(fetch_bounds);
	m->clean_duration.bounds = fast_bounds;
	m->clean_duration.nbounds = ARRAY_LEN(fast_bounds);
	m->commit_duration.bounds = fast_bounds;
	m->commit_duration.nbounds = ARRAY_LEN(fast_bounds);
	m->start_time = metrics_process_start();
}

void
metrics_observe(struct metrics_hist *h, double v)
{
	size_t i = 0;

	if (v < 0)
		v = 0;
	while (i < h->nbounds && v > h->bounds[i])
		i++;
	if (i < h->nbounds)
		h->counts[i]++;
	h->count++;
	h->sum += v;
}

void
metrics_fetch(struct metrics *m, enum metrics_fetch r, uint64_t bytes,
    double seconds)
{
	if (r >= METRICS_FETCH_N)
		r = METRICS_FETCH_NETWORK;
	m->fetches[r]++;
	m->fetched_bytes += bytes;
	if (seconds >= 0)
		metrics_observe(&m->fetch_duration, seconds);
}

void
metrics_failure(struct metrics *m, uint64_t job_id, const char *url,
    const char *code, uint32_t http_status, uint64_t at_ms)
{
	struct metrics_failure *f =
	    &m->failures[m->nfailures++ % METRICS_FAILURES];

	f->job_id = job_id;
	f->at_ms = at_ms;
	f->http_status = http_status;
	snprintf(f->code, sizeof(f->code), "%s", code ? code : "");
	snprintf(f->url, sizeof(f->url), "%s", url ? url : "");
}

/* --- windows ------------------------------------------------------- */

void
metrics_tick(struct metrics *m, uint64_t sec, uint64_t pages, uint64_t bytes)
{
	struct metrics_sample *s = &m->window[sec % (METRICS_WINDOW + 1)];

	s->sec = sec;
	s->pages = pages;
	s->bytes = bytes;
	memcpy(s->fetches, m->fetches, sizeof(s->fetches));
}

void
metrics_tick_base(struct metrics *m, uint64_t sec, uint64_t pages,
    uint64_t bytes)
{
	m->base.sec = sec;
	m->base.pages = pages;
	m->base.bytes = bytes;
	memcpy(m->base.fetches, m->fetches, sizeof(m->base.fetches));
}

const struct metrics_sample *
metrics_sample_latest(const struct metrics *m)
{
	const struct metrics_sample *best = NULL;

	for (size_t i = 0; i <= METRICS_WINDOW; i++)
		if (m->window[i].sec != 0 &&
		    (best == NULL || m->window[i].sec > best->sec))
			best = &m->window[i];
	return best;
}

const struct metrics_sample *
metrics_sample_ago(const struct metrics *m, uint64_t ago)
{
	const struct metrics_sample *last = metrics_sample_latest(m), *best =
	    NULL;

	if (last == NULL)
		return NULL;
	/* The oldest sample no older than `ago` seconds before the last;
	 * in the first minute, the one taken at start. */
	for (size_t i = 0; i <= METRICS_WINDOW + 1; i++) {
		const struct metrics_sample *s = i <= METRICS_WINDOW ?
		    &m->window[i] : &m->base;
		if (s->sec == 0 || s->sec > last->sec ||
		    last->sec - s->sec > ago)
			continue;
		if (best == NULL || s->sec < best->sec)
			best = s;
	}
	return best;
}

/* --- the exposition ------------------------------------------------ */

static void
metrics_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The samples of a family with one label: name{label="names[i]"} v[i]. */
static void
metrics_labelled(FILE *f, const char *name, const char *label,
    const char *const *names, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s{%s=\"%s\"} %llu\n", name, label, names[i],
		    (unsigned long long)v[i]);
}

static void
metrics_hist_write(FILE *f, const char *name, const char *help,
    const struct metrics_hist *h)
{
	uint64_t cum = 0;

	metrics_head(f, name, "histogram", help);
	for (size_t i = 0; i < h->nbounds; i++) {
		cum += h->counts[i];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
		    (unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n",
	    name, (unsigned long long)h->count, name, h->sum, name,
	    (unsigned long long)h->count);
}

static void
metrics_process(FILE *f, const struct metrics *m)
{
	struct rusage ru;
	struct rlimit rl;
	unsigned long long size = 0, rss = 0;
	uint64_t fds = 0;
	FILE *statm = fopen("/proc/self/statm", "r");
	DIR *d;
	struct dirent *de;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		metrics_head(f, "process_cpu_seconds_total", "counter",
		    "User and system CPU time spent in seconds.");
		fprintf(f, "process_cpu_seconds_total %.6f\n",
		    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	}
	if (statm != NULL) {
		if (fscanf(statm, "%llu %llu", &size, &rss) == 2) {
			metrics_head(f, "process_resident_memory_bytes",
			    "gauge", "Resident memory size in bytes.");
			fprintf(f, "process_resident_memory_bytes %llu\n",
			    rss * (unsigned long long)sysconf(_SC_PAGESIZE));
		}
		fclose(statm);
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL)
			fds += de->d_name[0] != '.';
		closedir(d);
		metrics_head(f, "process_open_fds", "gauge",
		    "Number of open file descriptors.");
		/* Less the directory's own. */
		fprintf(f, "process_open_fds %llu\n",
		    (unsigned long long)(fds ? fds - 1 : 0));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		metrics_head(f, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.");
		fprintf(f, "process_max_fds %llu\n", rl.rlim_cur ==
		    RLIM_INFINITY ? 0ULL : (unsigned long long)rl.rlim_cur);
	}
	metrics_head(f, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.");
	fprintf(f, "process_start_time_seconds %.3f\n", m->start_time);
}

/* The feeds' counters (feeds.h), since start. */
static void
metrics_feeds(FILE *f, const struct metrics_gauges *g)
{
	static const char *const polls[] = { "changed", "not_modified",
	    "error" };
	static const char *const entries[] = { "new", "known", "old" };
	static const char *const children[] = { "fetched", "unchanged" };

	metrics_head(f, "sluice_feed_sources", "gauge",
	    "Feeds, sitemaps and sites polled.");
	fprintf(f, "sluice_feed_sources %llu\n",
	    (unsigned long long)g->feed_sources);
	metrics_head(f, "sluice_feed_polls_total", "counter",
	    "Polls of feeds and sitemaps since start, child sitemaps "
	    "included, by result.");
	metrics_labelled(f, "sluice_feed_polls_total", "result", polls,
	    g->feed_polls, ARRAY_LEN(polls));
	metrics_head(f, "sluice_feed_entries_total", "counter",
	    "Entries read from feeds and sitemaps since start: new (queued), "
	    "known (seen before), old (over feeds.max_age).");
	metrics_labelled(f, "sluice_feed_entries_total", "result", entries,
	    g->feed_entries, ARRAY_LEN(entries));
	metrics_head(f, "sluice_feed_child_sitemaps_total", "counter",
	    "Child sitemaps of an index since start: fetched, or unchanged "
	    "(same lastmod: not fetched again).");
	metrics_labelled(f, "sluice_feed_child_sitemaps_total", "result",
	    children, g->feed_children, ARRAY_LEN(children));
}

/* WARC capture's counters, since start (warc.dir set). */
static void
metrics_warc(FILE *f, const struct metrics_gauges *g)
{
	const struct {
		const char *name, *help;
		uint64_t v;
	} c[] = {
		{ "sluice_warc_records_total", "WARC records written and "
		    "committed since start, revisits included.",
		    g->warc_records },
		{ "sluice_warc_revisit_records_total", "Revisit records "
		    "(identical payload, or a 304) since start.",
		    g->warc_revisits },
		{ "sluice_warc_written_bytes_total", "Compressed bytes "
		    "written to WARC files since start.", g->warc_bytes },
		{ "sluice_warc_busy_transfers_total", "Transfers whose "
		    "records were compressed at warc.busy_gzip_level because "
		    "pages waited for a worker, since start.", g->warc_busy },
	};

	for (size_t i = 0; i < ARRAY_LEN(c); i++) {
		metrics_head(f, c[i].name, "counter", c[i].help);
		fprintf(f, "%s %llu\n", c[i].name,
		    (unsigned long long)c[i].v);
	}
}

/* A cluster node's (docs/cluster.md): its partitions and JetStream lag. */
static void
metrics_cluster(FILE *f, const struct metrics_gauges *g)
{
	metrics_head(f, "sluice_cluster_connected", "gauge",
	    "1 while the node is connected to NATS; at 0 it starts no new "
	    "transfer.");
	fprintf(f, "sluice_cluster_connected %d\n", g->cluster_connected);
	metrics_head(f, "sluice_cluster_partitions_owned", "gauge",
	    "Frontier partitions whose lease this node holds.");
	fprintf(f, "sluice_cluster_partitions_owned %zu\n",
	    g->ncluster_parts);
	metrics_head(f, "sluice_cluster_partition_owned", "gauge",
	    "1 for each partition this node owns.");
	for (size_t i = 0; i < g->ncluster_parts; i++)
		fprintf(f, "sluice_cluster_partition_owned{partition=\"%u\"} "
		    "1\n", (unsigned)g->cluster_parts[i]);
	metrics_head(f, "sluice_cluster_held_messages", "gauge",
	    "Frontier messages taken in and not yet acknowledged "
	    "(cluster.window bounds them).");
	fprintf(f, "sluice_cluster_held_messages %llu\n",
	    (unsigned long long)g->cluster_held);
	metrics_head(f, "sluice_cluster_pending_messages", "gauge",
	    "JetStream lag: messages waiting in the owned partitions' "
	    "consumers, as of the last lease tick.");
	fprintf(f, "sluice_cluster_pending_messages %llu\n",
	    (unsigned long long)g->cluster_pending);
	metrics_head(f, "sluice_cluster_keys_applied_total", "counter",
	    "SLUICE_KEYS messages applied to this node's duplicate index "
	    "since start (the whole stream is read at start).");
	fprintf(f, "sluice_cluster_keys_applied_total %llu\n",
	    (unsigned long long)g->cluster_keys_applied);
	metrics_head(f, "sluice_cluster_redirects_handed_total", "counter",
	    "Redirects to a host of another node's partition handed over to "
	    "that node, since start.");
	fprintf(f, "sluice_cluster_redirects_handed_total %llu\n",
	    (unsigned long long)g->cluster_redirects_handed);
}

char *
metrics_render(struct metrics *m, size_t *len)
{
	static const char *const budget_names[] = { "flattened",
	    "truncated", "too_complex", "flattened_elements" };
	static const char *const host_names[] = { "active", "backoff" };
	struct metrics_gauges g;
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (f == NULL)
		return NULL;
	memset(&g, 0, sizeof(g));
	if (m->gauges != NULL)
		m->gauges(&g, m->gauges_arg);

	metrics_head(f, "sluice_build_info", "gauge",
	    "Always 1; the version of sluiced that serves these metrics.");
	fprintf(f, "sluice_build_info{version=\"%s\"} 1\n", SLUICE_VERSION);

	metrics_head(f, "sluice_jobs", "gauge",
	    "Jobs in the queue by state, as the status command reports them.");
	metrics_labelled(f, "sluice_jobs", "state", g.job_states, g.jobs,
	    g.njobs < ARRAY_LEN(g.jobs) ? g.njobs : ARRAY_LEN(g.jobs));

	metrics_head(f, "sluice_submitted_urls_total", "counter",
	    "URLs submitted since start, by what became of them.");
	metrics_labelled(f, "sluice_submitted_urls_total", "result",
	    submit_names, m->submitted, METRICS_SUBMIT_N);

	metrics_head(f, "sluice_fetches_total", "counter",
	    "HTTP transfers since start (robots.txt included) by result; "
	    "result robots counts jobs robots.txt kept from any request.");
	metrics_labelled(f, "sluice_fetches_total", "result", fetch_names,
	    m->fetches, METRICS_FETCH_N);

	metrics_head(f, "sluice_fetched_bytes_total", "counter",
	    "Body bytes received since start, after content decoding.");
	fprintf(f, "sluice_fetched_bytes_total %llu\n",
	    (unsigned long long)m->fetched_bytes);

	metrics_head(f, "sluice_documents_total", "counter",
	    "Documents stored (kept across restarts), by duplicate kind.");
	metrics_labelled(f, "sluice_documents_total", "duplicate", dup_names,
	    g.documents, 4);

	metrics_hist_write(f, "sluice_fetch_duration_seconds",
	    "Time of one HTTP transfer, from start to its end.",
	    &m->fetch_duration);
	metrics_hist_write(f, "sluice_clean_duration_seconds",
	    "Worker time cleaning one page.", &m->clean_duration);
	metrics_head(f, "sluice_clean_budget_total", "counter",
	    "Pages the cleaner's budget changed since start: flattened "
	    "(elements nested past extract.max_depth), truncated (at "
	    "extract.max_elements), too_complex (stopped); and elements "
	    "flattened.");
	metrics_labelled(f, "sluice_clean_budget_total", "what", budget_names,
	    (const uint64_t[]){ m->clean_flattened_pages, m->clean_truncated,
	    m->clean_too_complex, m->clean_flattened }, 4);
	metrics_hist_write(f, "sluice_commit_duration_seconds",
	    "Time of one LMDB write transaction, its steps and commit.",
	    &m->commit_duration);

	metrics_head(f, "sluice_hosts", "gauge",
	    "Hosts with transfers in flight (active) or paused after errors "
	    "(backoff).");
	metrics_labelled(f, "sluice_hosts", "state", host_names,
	    (const uint64_t[]){ g.hosts_active, g.hosts_backoff }, 2);

	metrics_head(f, "sluice_store_used_bytes", "gauge",
	    "Bytes of the LMDB map in use.");
	fprintf(f, "sluice_store_used_bytes %llu\n",
	    (unsigned long long)g.store_used);
	metrics_head(f, "sluice_store_map_bytes", "gauge",
	    "Size of the LMDB map in bytes.");
	fprintf(f, "sluice_store_map_bytes %llu\n",
	    (unsigned long long)g.store_map);
	metrics_head(f, "sluice_store_condition", "gauge",
	    "1 for the store's condition: ok, full (store.map_size_max), "
	    "disk_full (the state directory's file system), failing (other "
	    "commit errors).");
	for (int i = 0; i < 4 && g.store_conditions[i] != NULL; i++)
		fprintf(f, "sluice_store_condition{condition=\"%s\"} %d\n",
		    g.store_conditions[i], g.store_condition == i);
	metrics_feeds(f, &g);
	if (g.warc)
		metrics_warc(f, &g);
	if (g.cluster)
		metrics_cluster(f, &g);

	metrics_process(f, m);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* --- the HTTP endpoint --------------------------------------------- */

struct metrics_http {
	struct evhttp	*http;
	struct metrics	*m;
	char		*unix_path;	/* unlinked at free */
};

static void
metrics_http_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, NULL);
}

static void
metrics_http_serve(struct evhttp_request *req, void *arg)
{
	struct metrics_http *h = arg;
	size_t len = 0;
	char *text = metrics_render(h->m, &len);

	if (text == NULL) {
		metrics_http_reply(req, 500, "Internal Server Error",
		    "text/plain", "out of memory\n", 14);
		return;
	}
	metrics_http_reply(req, 200, "OK",
	    "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

static void
metrics_http_notfound(struct evhttp_request *req, void *arg)
{
	static const char msg[] = "not found: only /metrics is served\n";

	metrics_http_reply(req, 404, "Not Found", "text/plain", msg,
	    sizeof(msg) - 1);
}

/* A listening Unix socket at path (a stale socket there is replaced). */
static int
metrics_unix_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 64) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* Binds "ADDRESS:PORT" or "[V6]:PORT". */
static int
metrics_tcp_listen(struct evhttp *http, const char *listen, char *err,
    size_t errlen)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	unsigned long port = 0;
	char *end = NULL;
	size_t n;

	if (colon != NULL && colon[1] >= '0' && colon[1] <= '9')
		port = strtoul(colon + 1, &end, 10);
	if (colon == NULL || end == NULL || *end != '\0' || port == 0 ||
	    port > 65535) {
		snprintf(err, errlen, "%s: not ADDRESS:PORT or a socket path",
		    listen);
		return -1;
	}
	n = (size_t)(colon - listen);
	if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']') {
		listen++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host)) {
		snprintf(err, errlen, "%s: no address", listen);
		return -1;
	}
	memcpy(host, listen, n);
	host[n] = '\0';
	if (evhttp_bind_socket_with_handle(http, host, (uint16_t)port) ==
	    NULL) {
		snprintf(err, errlen, "cannot listen on %s port %lu: %s", host,
		    port, strerror(errno));
		return -1;
	}
	return 0;
}

struct metrics_http *
metrics_http_new(struct event_base *base, struct metrics *m,
    const char *listen, char *err, size_t errlen)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	struct timeval tv = { HTTP_TIMEOUT_S, 0 };
	int fd;

	if (h == NULL || (h->http = evhttp_new(base)) == NULL) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->m = m;
	evhttp_set_timeout_tv(h->http, &tv);
	evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, HTTP_MAX_BODY);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_cb(h->http, "/metrics", metrics_http_serve, h);
	evhttp_set_gencb(h->http, metrics_http_notfound, h);
	if (listen[0] == '/' || listen[0] == '.') {
		fd = metrics_unix_listen(listen, err, errlen);
		if (fd != -1 && evhttp_accept_socket_with_handle(h->http, fd) ==
		    NULL) {
			close(fd);
			fd = -1;
			snprintf(err, errlen, "%s: cannot accept", listen);
		}
		if (fd != -1)
			h->unix_path = strdup(listen);
		if (fd == -1) {
			metrics_http_free(h);
			return NULL;
		}
	} else if (metrics_tcp_listen(h->http, listen, err, errlen) == -1) {
		metrics_http_free(h);
		return NULL;
	}
	return h;
}

void
metrics_http_free(struct metrics_http *h)
{
	if (h == NULL)
		return;
	evhttp_free(h->http);
	if (h->unix_path != NULL)
		(void)unlink(h->unix_path);
	free(h->unix_path);
	free(h);
}
