/*
 * config.c - the configuration table (Redis static_configs[] style).
 *
 * One row per key drives everything: defaults (each row's default is parsed
 * like a value from the file, so the table is the single source of truth),
 * the file parser, --set, --check-config, reload diffs and `config` output.
 * conf/sluiced.conf and sluiced.conf(5) mirror this table; a unit test
 * checks that the bundled file agrees with it.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "guard.h"
#include "log.h"
#include "util.h"

enum cfg_type {
	CFG_STR,
	CFG_BOOL,
	CFG_U32,
	CFG_U64,
	CFG_SIZE,	/* bytes, with KiB/MiB/GiB suffixes */
	CFG_DURATION,	/* stored in ms, with ms/s/m/h/d suffixes */
	CFG_DOUBLE,
	CFG_OCTAL,	/* file modes */
	CFG_LOGLEVEL,
};

struct cfg_key {
	const char	*name;		/* "section.key" */
	enum cfg_type	 type;
	size_t		 offset;	/* into struct config */
	double		 min, max;	/* numeric bounds, inclusive */
	const char	*def;		/* default, in file syntax */
	int		 flags;		/* CFG_RESTART, CFG_SENSITIVE */
};

#define OFF(f)	offsetof(struct config, f)
#define KIB	1024.0
#define MIB	(1024.0 * 1024.0)
#define GIB	(1024.0 * 1024.0 * 1024.0)
#define TIB	(1024.0 * GIB)
#define HOUR_MS	(3600.0 * 1000.0)
#define DAY_MS	(24.0 * HOUR_MS)

static const struct cfg_key cfg_keys[] = {
	{ "daemon.state_dir", CFG_STR, OFF(state_dir), 0, 0,
	    "/var/lib/sluice", CFG_RESTART },
	{ "daemon.socket", CFG_STR, OFF(socket), 0, 0, "", CFG_RESTART },
	{ "daemon.socket_mode", CFG_OCTAL, OFF(socket_mode), 0, 0777,
	    "0660", CFG_RESTART },
	{ "daemon.log_level", CFG_LOGLEVEL, OFF(log_level), 0, 0, "info", 0 },
	{ "daemon.workers", CFG_U32, OFF(workers), 0, 256, "0", CFG_RESTART },
	{ "daemon.shutdown_timeout", CFG_DURATION, OFF(shutdown_timeout_ms),
	    0, HOUR_MS, "30s", 0 },
	{ "daemon.max_clients", CFG_U32, OFF(max_clients), 1, 10000, "64", 0 },
	{ "daemon.max_request", CFG_SIZE, OFF(max_request), 1024, 64 * MIB,
	    "1MiB", 0 },
	{ "daemon.max_reply_buffer", CFG_SIZE, OFF(max_reply_buffer),
	    64 * KIB, GIB, "64MiB", 0 },
	{ "daemon.max_reply_memory", CFG_SIZE, OFF(max_reply_memory),
	    MIB, 64 * GIB, "256MiB", 0 },

	{ "store.map_size", CFG_SIZE, OFF(map_size), MIB, TIB, "64MiB",
	    CFG_RESTART },
	{ "store.map_size_max", CFG_SIZE, OFF(map_size_max), MIB, 64 * TIB,
	    "16GiB", 0 },
	{ "store.disk_full_below", CFG_SIZE, OFF(disk_full_below), 0, TIB,
	    "64MiB", 0 },
	{ "store.max_mapped", CFG_SIZE, OFF(max_mapped), MIB, TIB, "32MiB",
	    0 },
	{ "store.commit_interval", CFG_DURATION, OFF(commit_interval_ms), 0,
	    10000, "100ms", 0 },
	{ "store.keep_raw", CFG_BOOL, OFF(keep_raw), 0, 0, "true", 0 },
	{ "store.zstd_level", CFG_U32, OFF(zstd_level), 1, 19, "1", 0 },

	{ "queue.max_attempts", CFG_U32, OFF(max_attempts), 1, 100, "5", 0 },
	{ "queue.retry_base", CFG_DURATION, OFF(retry_base_ms), 0, DAY_MS,
	    "30s", 0 },
	{ "queue.retry_max", CFG_DURATION, OFF(retry_max_ms), 0, 30 * DAY_MS,
	    "6h", 0 },
	{ "queue.max_url_length", CFG_U32, OFF(max_url_length), 64, 65536,
	    "2048", 0 },
	{ "queue.max_batch", CFG_U32, OFF(max_batch), 1, 1000000, "10000", 0 },
	{ "queue.index_backlog", CFG_U32, OFF(index_backlog), 0, 10000000,
	    "400000", 0 },

	{ "fetch.max_total", CFG_U32, OFF(max_total), 1, 10000, "64", 0 },
	{ "fetch.max_per_host", CFG_U32, OFF(max_per_host), 1, 1000, "1", 0 },
	{ "fetch.idle_connections", CFG_U32, OFF(idle_connections), 1, 100000,
	    "1000", 0 },
	{ "fetch.host_delay", CFG_DURATION, OFF(host_delay_ms), 0, HOUR_MS,
	    "1s", 0 },
	{ "fetch.connect_timeout", CFG_DURATION, OFF(connect_timeout_ms),
	    100, HOUR_MS, "10s", 0 },
	{ "fetch.timeout", CFG_DURATION, OFF(timeout_ms), 100, HOUR_MS,
	    "60s", 0 },
	{ "fetch.low_speed_time", CFG_DURATION, OFF(low_speed_time_ms), 0,
	    HOUR_MS, "30s", 0 },
	{ "fetch.low_speed_limit", CFG_SIZE, OFF(low_speed_limit), 0, GIB,
	    "100B", 0 },
	{ "fetch.max_body", CFG_SIZE, OFF(max_body), KIB, GIB, "10MiB", 0 },
	{ "fetch.max_redirects", CFG_U32, OFF(max_redirects), 0, 50, "10", 0 },
	{ "fetch.user_agent", CFG_STR, OFF(user_agent), 0, 0,
	    "sluice/" SLUICE_VERSION " (+https://example.org/sluice-bot)", 0 },
	{ "fetch.accept_language", CFG_STR, OFF(accept_language), 0, 0,
	    "", 0 },
	/* In-flight transfers hold the guard: it changes at restart only. */
	{ "fetch.allow_private_addresses", CFG_BOOL,
	    OFF(allow_private_addresses), 0, 0, "false", CFG_RESTART },
	{ "fetch.allow_cidrs", CFG_STR, OFF(allow_cidrs), 0, 0, "",
	    CFG_RESTART },
	{ "fetch.respect_robots", CFG_BOOL, OFF(respect_robots), 0, 0,
	    "true", 0 },
	{ "fetch.max_crawl_delay", CFG_DURATION, OFF(max_crawl_delay_ms), 0,
	    DAY_MS, "30s", 0 },
	{ "fetch.host_backoff_min", CFG_DURATION, OFF(host_backoff_min_ms),
	    0, DAY_MS, "60s", 0 },
	{ "fetch.host_backoff_max", CFG_DURATION, OFF(host_backoff_max_ms),
	    0, 30 * DAY_MS, "24h", 0 },
	{ "fetch.robots_token", CFG_STR, OFF(robots_token), 0, 0, "sluice",
	    0 },

	{ "extract.max_html", CFG_SIZE, OFF(max_html), KIB, GIB, "10MiB", 0 },
	{ "extract.max_pending", CFG_U32, OFF(max_pending), 1, 100000, "64",
	    0 },
	{ "extract.max_time", CFG_DURATION, OFF(max_clean_time_ms), 10,
	    HOUR_MS, "5s", 0 },
	{ "extract.max_attributes", CFG_U32, OFF(max_attributes), 16,
	    1000000, "1000", 0 },
	{ "extract.max_elements", CFG_U32, OFF(max_elements), 1000,
	    100000000, "200000", 0 },
	{ "extract.min_elements", CFG_U32, OFF(min_elements), 0, 100000000,
	    "20000", 0 },
	{ "extract.bytes_per_element", CFG_U32, OFF(bytes_per_element), 0,
	    1000000, "32", 0 },
	{ "extract.max_depth", CFG_U32, OFF(max_depth), 8, 255, "250", 0 },
	{ "extract.max_tag_work", CFG_U32, OFF(max_tag_work), 0, 1000000,
	    "64", 0 },
	{ "extract.max_interrupted", CFG_U32, OFF(max_interrupted), 1, 1000,
	    "2", 0 },
	/* The site memory is made at the start, with its bounds. */
	{ "extract.site_memory", CFG_BOOL, OFF(site_memory), 0, 0, "true",
	    CFG_RESTART },
	{ "extract.site_min_pages", CFG_U32, OFF(site_min_pages), 1, 1000,
	    "3", CFG_RESTART },
	{ "extract.site_short_words", CFG_U32, OFF(site_short_words), 0, 100,
	    "5", CFG_RESTART },
	{ "extract.site_max_sites", CFG_U32, OFF(site_max_sites), 1, 1000000,
	    "1024", CFG_RESTART },
	{ "extract.site_max_lines", CFG_U32, OFF(site_max_lines), 16, 1000000,
	    "4096", CFG_RESTART },

	{ "dedup.near_threshold", CFG_DOUBLE, OFF(near_threshold), 0.5, 1.0,
	    "0.8", 0 },
	{ "dedup.min_words", CFG_U32, OFF(min_words), 0, 100000, "30", 0 },
	{ "dedup.index_memory_max", CFG_SIZE, OFF(index_memory_max), MIB,
	    TIB, "1GiB", 0 },
	{ "dedup.strip_params", CFG_STR, OFF(strip_params), 0, 0, "", 0 },

	/* The capture files and their state are opened at start. */
	{ "warc.dir", CFG_STR, OFF(warc_dir), 0, 0, "", CFG_RESTART },
	{ "warc.prefix", CFG_STR, OFF(warc_prefix), 0, 0, "sluice",
	    CFG_RESTART },
	{ "warc.max_size", CFG_SIZE, OFF(warc_max_size), 64 * KIB, TIB,
	    "1GiB", CFG_RESTART },
	{ "warc.gzip_level", CFG_U32, OFF(warc_gzip_level), 0, 9, "1",
	    CFG_RESTART },
	{ "warc.busy_gzip_level", CFG_U32, OFF(warc_busy_gzip_level), 0, 9,
	    "0", CFG_RESTART },
	{ "warc.serves_raw", CFG_BOOL, OFF(warc_serves_raw), 0, 0, "true",
	    0 },
	{ "feeds.min_interval", CFG_DURATION, OFF(feed_min_interval_ms),
	    1000, 30 * DAY_MS, "5m", 0 },
	{ "feeds.max_interval", CFG_DURATION, OFF(feed_max_interval_ms),
	    1000, 30 * DAY_MS, "24h", 0 },
	{ "feeds.max_age", CFG_DURATION, OFF(feed_max_age_ms), 0,
	    3650 * DAY_MS, "7d", 0 },
	{ "feeds.max_bytes", CFG_SIZE, OFF(feed_max_bytes), 64 * KIB, GIB,
	    "50MiB", 0 },
	{ "feeds.max_entries", CFG_U32, OFF(feed_max_entries), 1, 10000000,
	    "50000", 0 },
	{ "feeds.max_children", CFG_U32, OFF(feed_max_children), 1, 1000000,
	    "50000", 0 },
	{ "feeds.max_sources", CFG_U32, OFF(feed_max_sources), 1, 1000000,
	    "10000", 0 },
	{ "feeds.max_remembered", CFG_U32, OFF(feed_max_remembered), 100,
	    10000000, "200000", 0 },

	/* A reload moves the listener. */
	{ "metrics.listen", CFG_STR, OFF(metrics_listen), 0, 0, "", 0 },

	/* The cluster is joined at start; its streams are made then. */
	{ "cluster.nats", CFG_STR, OFF(cluster_nats), 0, 0, "", CFG_RESTART },
	{ "cluster.node", CFG_STR, OFF(cluster_node), 0, 0, "", CFG_RESTART },
	{ "cluster.partitions", CFG_U32, OFF(cluster_partitions), 1, 1024,
	    "64", CFG_RESTART },
	{ "cluster.replicas", CFG_U32, OFF(cluster_replicas), 1, 5, "3",
	    CFG_RESTART },
	{ "cluster.lease_ttl", CFG_DURATION, OFF(cluster_lease_ttl_ms), 3000,
	    HOUR_MS, "15s", CFG_RESTART },
	{ "cluster.ack_wait", CFG_DURATION, OFF(cluster_ack_wait_ms), 3000,
	    HOUR_MS, "30s", CFG_RESTART },
	{ "cluster.window", CFG_U32, OFF(cluster_window), 1, 10000, "1000",
	    CFG_RESTART },
	{ "cluster.creds", CFG_STR, OFF(cluster_creds), 0, 0, "",
	    CFG_RESTART },
	{ "cluster.user", CFG_STR, OFF(cluster_user), 0, 0, "", CFG_RESTART },
	{ "cluster.password", CFG_STR, OFF(cluster_password), 0, 0, "",
	    CFG_RESTART | CFG_SENSITIVE },
	{ "cluster.tls_ca", CFG_STR, OFF(cluster_tls_ca), 0, 0, "",
	    CFG_RESTART },
	{ "cluster.tls_cert", CFG_STR, OFF(cluster_tls_cert), 0, 0, "",
	    CFG_RESTART },
	{ "cluster.tls_key", CFG_STR, OFF(cluster_tls_key), 0, 0, "",
	    CFG_RESTART },
	{ "cluster.docs_max_age", CFG_DURATION, OFF(cluster_docs_max_age_ms),
	    60000, 3650 * DAY_MS, "7d", CFG_RESTART },
	{ "cluster.docs_max_bytes", CFG_SIZE, OFF(cluster_docs_max_bytes),
	    MIB, TIB, "1GiB", CFG_RESTART },
	{ "cluster.keys_max_bytes", CFG_SIZE, OFF(cluster_keys_max_bytes),
	    0, TIB, "0", CFG_RESTART },
	/* Nodes must agree on it for their verdicts to agree. */
	{ "cluster.index_max_entries", CFG_U32,
	    OFF(cluster_index_max_entries), 1000, 100000000, "1048576",
	    CFG_RESTART },
};

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->offset))
#define CFIELD(c, k, type) \
	((const type *)(const void *)((const char *)(c) + (k)->offset))

static const struct cfg_key *
cfg_lookup(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(cfg_keys); i++)
		if (strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

/* Longest name compared for suggestions; longer ones get none. */
#define CFG_SUGGEST_MAX	64

static size_t
zmin(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* The Levenshtein distance between a[0..na) and b[0..nb). */
static size_t
edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
	size_t row[CFG_SUGGEST_MAX + 1], diag, up;

	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			up = row[j];
			row[j] = zmin(zmin(row[j] + 1, row[j - 1] + 1),
			    diag + (a[i - 1] != b[j - 1]));
			diag = up;
		}
	}
	return row[nb];
}

/* Non-zero when some key lives in section sec[0..n). */
static int
cfg_section_known(const char *sec, size_t n)
{
	for (size_t i = 0; i < ARRAY_LEN(cfg_keys); i++)
		if (strncmp(cfg_keys[i].name, sec, n) == 0 &&
		    cfg_keys[i].name[n] == '.')
			return 1;
	return 0;
}

/*
 * The known key closest to name (a "section.key"), comparing the whole
 * names and the key parts alone (a key put in the wrong section); NULL
 * when none is close enough to be a likely typo.
 */
static const char *
cfg_suggest(const char *name)
{
	const char *best = NULL, *dot = strchr(name, '.');
	const char *kpart = dot ? dot + 1 : name;
	size_t bestd = SIZE_MAX, d, nl = strlen(name), kl = strlen(kpart);

	if (nl > CFG_SUGGEST_MAX)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(cfg_keys); i++) {
		const char *kn = cfg_keys[i].name, *kk = strchr(kn, '.') + 1;

		d = edit_distance(name, nl, kn, strlen(kn));
		d = zmin(d, edit_distance(kpart, kl, kk, strlen(kk)) +
		    (dot == NULL || strncmp(name, kn, (size_t)(dot - name)) ||
		    kn[dot - name] != '.'));
		if (d < bestd) {
			bestd = d;
			best = kn;
		}
	}
	return bestd <= (kl / 3 > 2 ? kl / 3 : 2) ? best : NULL;
}

/* The known section closest to sec; NULL when none is close. */
static const char *
cfg_suggest_section(const char *sec, size_t n, size_t *len)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX, d;

	if (n > CFG_SUGGEST_MAX)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(cfg_keys); i++) {
		const char *kn = cfg_keys[i].name;
		size_t kl = (size_t)(strchr(kn, '.') - kn);

		d = edit_distance(sec, n, kn, kl);
		if (d < bestd) {
			bestd = d;
			best = kn;
			*len = kl;
		}
	}
	return bestd <= 2 && bestd < n ? best : NULL;
}

/* Says that section sec[0..n) does not exist, and what is close to it or
 * which sections do. */
static void
cfg_unknown_section(const char *sec, size_t n, char *err, size_t errlen)
{
	size_t len = 0, off;
	const char *s = cfg_suggest_section(sec, n, &len), *prev = NULL;

	if (s != NULL) {
		snprintf(err, errlen, "unknown section [%.*s]; did you mean "
		    "[%.*s]?", (int)n, sec, (int)len, s);
		return;
	}
	off = (size_t)snprintf(err, errlen, "unknown section [%.*s] "
	    "(the sections are", (int)n, sec);
	for (size_t i = 0; i < ARRAY_LEN(cfg_keys) && off < errlen; i++) {
		const char *kn = cfg_keys[i].name;
		size_t kl = (size_t)(strchr(kn, '.') - kn);

		if (prev != NULL && strncmp(prev, kn, kl + 1) == 0)
			continue;
		off += (size_t)snprintf(err + off, errlen - off, "%s [%.*s]",
		    prev == NULL ? "" : ",", (int)kl, kn);
		prev = kn;
	}
	if (off < errlen)
		snprintf(err + off, errlen - off, ")");
}

/*
 * Writes v (bytes for sizes, ms for durations) as the config file would:
 * in the largest unit that divides it exactly ("10MiB", "100ms", "24h").
 */
static void
cfg_human(enum cfg_type type, double v, char *out, size_t outlen)
{
	static const struct { const char *u; double f; } sz[] = {
		{ "TiB", TIB }, { "GiB", GIB }, { "MiB", MIB }, { "KiB", KIB },
	}, du[] = {
		{ "d", DAY_MS }, { "h", HOUR_MS }, { "m", 60000 },
		{ "s", 1000 },
	};
	size_t i;

	if (type == CFG_OCTAL) {
		snprintf(out, outlen, "0%o", (unsigned)v);
		return;
	}
	/* Whole: %g would write 10000000 as 1e+07. */
	if (type == CFG_U32 || type == CFG_U64) {
		snprintf(out, outlen, "%.0f", v);
		return;
	}
	if (type == CFG_DOUBLE || v == 0 ||
	    (type != CFG_SIZE && type != CFG_DURATION)) {
		snprintf(out, outlen, "%g", v);
		return;
	}
	if (type == CFG_SIZE) {
		for (i = 0; i < ARRAY_LEN(sz); i++)
			if (fmod(v, sz[i].f) == 0)
				break;
		if (i < ARRAY_LEN(sz))
			snprintf(out, outlen, "%.0f%s", v / sz[i].f, sz[i].u);
		else
			snprintf(out, outlen, "%.0fB", v);
		return;
	}
	/* Whole days read better as hours below two days ("24h"). */
	for (i = v < 2 * DAY_MS ? 1 : 0; i < ARRAY_LEN(du); i++)
		if (fmod(v, du[i].f) == 0)
			break;
	if (i < ARRAY_LEN(du))
		snprintf(out, outlen, "%.0f%s", v / du[i].f, du[i].u);
	else
		snprintf(out, outlen, "%.0fms", v);
}

/* What a value of type t looks like, for "invalid value" errors. */
static const char *
cfg_expected(enum cfg_type t)
{
	switch (t) {
	case CFG_SIZE:
		return "a size, e.g. 512KiB (units B, KiB, MiB, GiB, TiB)";
	case CFG_DURATION:
		return "a duration, e.g. 30s (units ms, s, m, h, d)";
	case CFG_OCTAL:
		return "an octal file mode, e.g. 0660";
	case CFG_DOUBLE:
		return "a number, e.g. 0.8";
	default:
		return "a whole number";
	}
}

/* Parses a number with an optional unit from units[] (name, factor). */
struct cfg_unit {
	const char	*name;
	double		 factor;
};

static const struct cfg_unit size_units[] = {
	{ "", 1 }, { "b", 1 }, { "k", KIB }, { "kb", KIB }, { "kib", KIB },
	{ "m", MIB }, { "mb", MIB }, { "mib", MIB }, { "g", GIB },
	{ "gb", GIB }, { "gib", GIB }, { "t", TIB }, { "tib", TIB },
};

static const struct cfg_unit duration_units[] = {
	{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
	{ "min", 60000 }, { "h", HOUR_MS }, { "d", DAY_MS },
};

static int
parse_with_unit(const char *s, const struct cfg_unit *units, size_t n,
    double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(v) || v < 0)
		return -1;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(end, units[i].name) == 0) {
			*out = v * units[i].factor;
			return 0;
		}
	}
	return -1;
}

static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Parses a numeric value of key k into *v (ms for durations). */
static int
parse_number(const struct cfg_key *k, const char *value, double *v,
    char *err, size_t errlen)
{
	char *end;
	int rc = 0;

	errno = 0;
	switch (k->type) {
	case CFG_SIZE:
		rc = parse_with_unit(value, size_units,
		    ARRAY_LEN(size_units), v);
		break;
	case CFG_DURATION:
		rc = parse_with_unit(value, duration_units,
		    ARRAY_LEN(duration_units), v);
		break;
	case CFG_OCTAL:
		*v = (double)strtoul(value, &end, 8);
		rc = (end == value || *end != '\0' || errno) ? -1 : 0;
		break;
	case CFG_DOUBLE:
		*v = strtod(value, &end);
		rc = (end == value || *end != '\0' || errno ||
		    !isfinite(*v)) ? -1 : 0;
		break;
	default:
		*v = strtod(value, &end);
		rc = (end == value || *end != '\0' || errno ||
		    *v != floor(*v)) ? -1 : 0;
		break;
	}
	if (rc == -1) {
		snprintf(err, errlen, "%s: invalid value \"%s\": expected %s",
		    k->name, value, cfg_expected(k->type));
		return -1;
	}
	if (*v < k->min || *v > k->max) {
		char lo[32], hi[32];

		cfg_human(k->type, k->min, lo, sizeof(lo));
		cfg_human(k->type, k->max, hi, sizeof(hi));
		snprintf(err, errlen, "%s: %s is out of range (%s to %s)",
		    k->name, value, lo, hi);
		return -1;
	}
	return 0;
}

/* Stores value into c's field for k.  0, or -1 with err. */
static int
cfg_apply(struct config *c, const struct cfg_key *k, const char *value,
    char *err, size_t errlen)
{
	double v = 0;
	char *s;
	int lvl;

	switch (k->type) {
	case CFG_STR:
		s = strdup(value);
		if (s == NULL) {
			snprintf(err, errlen, "%s: out of memory", k->name);
			return -1;
		}
		free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = s;
		return 0;
	case CFG_BOOL:
		if (parse_bool(value, FIELD(c, k, bool)) == -1) {
			snprintf(err, errlen, "%s: expected true or false, "
			    "got \"%s\"", k->name, value);
			return -1;
		}
		return 0;
	case CFG_LOGLEVEL:
		lvl = log_level_parse(value);
		if (lvl == -1) {
			snprintf(err, errlen, "%s: expected err, warning, "
			    "notice, info or debug, got \"%s\"", k->name, value);
			return -1;
		}
		*FIELD(c, k, int) = lvl;
		return 0;
	default:
		break;
	}
	if (parse_number(k, value, &v, err, errlen) == -1)
		return -1;
	switch (k->type) {
	case CFG_U32:
	case CFG_OCTAL:
		*FIELD(c, k, uint32_t) = (uint32_t)v;
		break;
	case CFG_DOUBLE:
		*FIELD(c, k, double) = v;
		break;
	default:
		*FIELD(c, k, uint64_t) = (uint64_t)v;
		break;
	}
	return 0;
}

void
config_defaults(struct config *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ARRAY_LEN(cfg_keys); i++)
		if (cfg_apply(c, &cfg_keys[i], cfg_keys[i].def, err,
		    sizeof(err)) == -1)
			fatalx("built-in default: %s", err);
}

void
config_free(struct config *c)
{
	for (size_t i = 0; i < ARRAY_LEN(cfg_keys); i++)
		if (cfg_keys[i].type == CFG_STR)
			SAFE_FREE(*FIELD(c, &cfg_keys[i], char *));
}

int
config_copy(struct config *dst, const struct config *src)
{
	*dst = *src;
	for (size_t i = 0; i < ARRAY_LEN(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const char *s;

		if (k->type != CFG_STR)
			continue;
		s = *CFIELD(src, k, char *);
		*FIELD(dst, k, char *) = s ? strdup(s) : NULL;
		if (s != NULL && *FIELD(dst, k, char *) == NULL) {
			/* Leave dst freeable: forget the borrowed rest. */
			for (size_t j = i + 1; j < ARRAY_LEN(cfg_keys); j++)
				if (cfg_keys[j].type == CFG_STR)
					*FIELD(dst, &cfg_keys[j], char *) = NULL;
			return -1;
		}
	}
	return 0;
}

/* Strips blanks at both ends, in place. */
static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Removes surrounding double quotes; \" and \\ inside are unescaped. */
static int
unquote(char *s)
{
	size_t n = strlen(s);
	char *w = s;

	if (n == 0 || s[0] != '"')
		return 0;
	if (n < 2 || s[n - 1] != '"')
		return -1;
	s[n - 1] = '\0';
	for (char *r = s + 1; *r != '\0'; r++) {
		if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
			r++;
		else if (*r == '"')
			return -1;
		*w++ = *r;
	}
	*w = '\0';
	return 0;
}

/* Strips a # comment that is outside double quotes. */
static void
strip_comment(char *s)
{
	bool quoted = false;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && quoted && s[1] != '\0')
			s++;
		else if (*s == '"')
			quoted = !quoted;
		else if (*s == '#' && !quoted) {
			*s = '\0';
			return;
		}
	}
}

static int
config_set_kv(struct config *c, const char *name, char *value, char *err,
    size_t errlen)
{
	const struct cfg_key *k = cfg_lookup(name);

	const char *dot = strchr(name, '.'), *near;

	if (k == NULL && dot != NULL && !cfg_section_known(name,
	    (size_t)(dot - name))) {
		near = cfg_suggest(name);
		if (near != NULL)
			snprintf(err, errlen, "unknown section [%.*s] in \"%s\"; "
			    "did you mean %s?", (int)(dot - name), name, name,
			    near);
		else
			cfg_unknown_section(name, (size_t)(dot - name), err,
			    errlen);
		return -1;
	}
	if (k == NULL) {
		near = cfg_suggest(name);
		snprintf(err, errlen, "unknown key \"%s\"%s%s%s", name,
		    near ? "; did you mean " : "", near ? near : "",
		    near ? "?" : "");
		return -1;
	}
	if (unquote(value) == -1) {
		snprintf(err, errlen, "%s: unbalanced quotes", name);
		return -1;
	}
	return cfg_apply(c, k, value, err, errlen);
}

#define CFG_LINE_MAX	4096

/* Handles one line of a config file; section is updated on "[name]". */
static int
config_line(struct config *c, char *line, char *section, size_t seclen,
    char *err, size_t errlen)
{
	char name[CFG_LINE_MAX + 64];
	char *eq, *key, *p;

	strip_comment(line);
	p = trim(line);
	if (*p == '\0')
		return 0;
	if (*p == '[') {
		size_t n = strlen(p);
		if (p[n - 1] != ']' || n < 3 || n - 2 >= seclen) {
			snprintf(err, errlen, "bad section header");
			return -1;
		}
		if (!cfg_section_known(p + 1, n - 2)) {
			cfg_unknown_section(p + 1, n - 2, err, errlen);
			return -1;
		}
		memcpy(section, p + 1, n - 2);
		section[n - 2] = '\0';
		return 0;
	}
	eq = strchr(p, '=');
	if (eq == NULL) {
		snprintf(err, errlen, "expected \"key = value\"");
		return -1;
	}
	*eq = '\0';
	key = trim(p);
	if (*section == '\0' && strchr(key, '.') == NULL) {
		snprintf(err, errlen, "\"%s\" outside of a [section]", key);
		return -1;
	}
	if (strchr(key, '.') != NULL)
		snprintf(name, sizeof(name), "%s", key);
	else
		snprintf(name, sizeof(name), "%s.%s", section, key);
	return config_set_kv(c, name, trim(eq + 1), err, errlen);
}

int
config_load_buffer(struct config *c, const char *name, const char *text,
    size_t len, char *err, size_t errlen)
{
	char line[CFG_LINE_MAX + 1], section[64] = "", msg[512];
	size_t pos = 0, lineno = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (n > CFG_LINE_MAX) {
			snprintf(err, errlen, "%s:%zu: line too long", name,
			    lineno);
			return -1;
		}
		if (memchr(text + pos, '\0', n) != NULL) {
			snprintf(err, errlen, "%s:%zu: NUL byte", name, lineno);
			return -1;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (config_line(c, line, section, sizeof(section), msg,
		    sizeof(msg)) == -1) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno, msg);
			return -1;
		}
	}
	return 0;
}

#define CFG_FILE_MAX	(1024 * 1024)

int
config_load_file(struct config *c, const char *path, char *err,
    size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char *text = NULL;
	size_t n;
	int rc = -1;

	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	text = malloc(CFG_FILE_MAX + 1);
	if (text == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	n = fread(text, 1, CFG_FILE_MAX + 1, fp);
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (n > CFG_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
		goto out;
	}
	rc = config_load_buffer(c, path, text, n, err, errlen);
out:
	free(text);
	fclose(fp);
	return rc;
}

int
config_set(struct config *c, const char *assignment, char *err,
    size_t errlen)
{
	char buf[CFG_LINE_MAX + 1];
	char *eq;

	if (strlen(assignment) > CFG_LINE_MAX) {
		snprintf(err, errlen, "--set: too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", assignment);
	eq = strchr(buf, '=');
	if (eq == NULL || strchr(buf, '.') == NULL || strchr(buf, '.') > eq) {
		snprintf(err, errlen, "--set %s: expected section.key=value",
		    assignment);
		return -1;
	}
	*eq = '\0';
	return config_set_kv(c, trim(buf), trim(eq + 1), err, errlen);
}

/* fetch.allow_cidrs is parsed by the address guard: check it here so a
 * bad list fails --check-config and reload, not the next restart. */
static int
validate_cidrs(const struct config *c, char *err, size_t errlen)
{
	char msg[256];
	struct guard *g = guard_new(false, c->allow_cidrs ? c->allow_cidrs : "",
	    msg, sizeof(msg));

	if (g == NULL) {
		snprintf(err, errlen, "fetch.%s", msg);
		return -1;
	}
	guard_free(g);
	return 0;
}

int
config_validate(const struct config *c, char *err, size_t errlen)
{
	if (c->state_dir == NULL || c->state_dir[0] == '\0') {
		snprintf(err, errlen, "daemon.state_dir must be set");
		return -1;
	}
	if (c->map_size > c->map_size_max) {
		snprintf(err, errlen, "store.map_size is larger than "
		    "store.map_size_max");
		return -1;
	}
	if (c->max_per_host > c->max_total) {
		snprintf(err, errlen, "fetch.max_per_host is larger than "
		    "fetch.max_total");
		return -1;
	}
	if (c->retry_base_ms > c->retry_max_ms) {
		snprintf(err, errlen, "queue.retry_base is larger than "
		    "queue.retry_max");
		return -1;
	}
	if (strpbrk(c->user_agent ? c->user_agent : "", "\r\n") != NULL ||
	    strpbrk(c->accept_language ? c->accept_language : "", "\r\n")) {
		snprintf(err, errlen, "fetch.user_agent and "
		    "fetch.accept_language cannot contain line breaks");
		return -1;
	}
	if (validate_cidrs(c, err, errlen) == -1)
		return -1;
	/* The prefix becomes part of a file name in warc.dir. */
	if (c->warc_prefix == NULL || c->warc_prefix[0] == '\0' ||
	    strpbrk(c->warc_prefix, "/\r\n") != NULL) {
		snprintf(err, errlen, "warc.prefix must be a non-empty file "
		    "name part (no '/')");
		return -1;
	}
	if (c->user_agent == NULL || strstr(c->user_agent, "http") == NULL) {
		snprintf(err, errlen, "fetch.user_agent must carry a contact "
		    "URL, e.g. \"sluice/1 (+https://example.org/bot)\"");
		return -1;
	}
	return 0;
}

/* Formats k's value in file syntax into out. */
static void
cfg_format(const struct config *c, const struct cfg_key *k, char *out,
    size_t outlen)
{
	const char *s;

	switch (k->type) {
	case CFG_STR:
		s = *CFIELD(c, k, char *);
		snprintf(out, outlen, "%s", s ? s : "");
		break;
	case CFG_BOOL:
		snprintf(out, outlen, "%s",
		    *CFIELD(c, k, bool) ? "true" : "false");
		break;
	case CFG_LOGLEVEL:
		snprintf(out, outlen, "%s", log_level_name(*CFIELD(c, k, int)));
		break;
	case CFG_U32:
		snprintf(out, outlen, "%u", *CFIELD(c, k, uint32_t));
		break;
	case CFG_OCTAL:
		snprintf(out, outlen, "0%o", *CFIELD(c, k, uint32_t));
		break;
	case CFG_DOUBLE:
		snprintf(out, outlen, "%g", *CFIELD(c, k, double));
		break;
	case CFG_DURATION:
		snprintf(out, outlen, "%llums",
		    (unsigned long long)*CFIELD(c, k, uint64_t));
		break;
	default:
		snprintf(out, outlen, "%lluB",
		    (unsigned long long)*CFIELD(c, k, uint64_t));
		break;
	}
}

int
config_diff(const struct config *a, const struct config *b,
    void (*fn)(const char *key, bool restart, void *arg), void *arg)
{
	char va[CFG_LINE_MAX], vb[CFG_LINE_MAX];
	int n = 0;

	for (size_t i = 0; i < ARRAY_LEN(cfg_keys); i++) {
		cfg_format(a, &cfg_keys[i], va, sizeof(va));
		cfg_format(b, &cfg_keys[i], vb, sizeof(vb));
		if (strcmp(va, vb) == 0)
			continue;
		n++;
		if (fn != NULL)
			fn(cfg_keys[i].name,
			    (cfg_keys[i].flags & CFG_RESTART) != 0, arg);
	}
	return n;
}

int
config_keep(struct config *dst, const struct config *src, const char *key)
{
	const struct cfg_key *k = cfg_lookup(key);
	char *s;

	if (k == NULL)
		return -1;
	if (k->type != CFG_STR) {
		memcpy(FIELD(dst, k, char), CFIELD(src, k, char),
		    k->type == CFG_U32 || k->type == CFG_OCTAL ? 4 :
		    k->type == CFG_BOOL ? sizeof(bool) :
		    k->type == CFG_LOGLEVEL ? sizeof(int) : 8);
		return 0;
	}
	s = *CFIELD(src, k, char *) ? strdup(*CFIELD(src, k, char *)) : NULL;
	if (*CFIELD(src, k, char *) != NULL && s == NULL)
		return -1;
	free(*FIELD(dst, k, char *));
	*FIELD(dst, k, char *) = s;
	return 0;
}

void
config_walk(const struct config *c,
    void (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	char v[CFG_LINE_MAX];

	for (size_t i = 0; i < ARRAY_LEN(cfg_keys); i++) {
		if (cfg_keys[i].flags & CFG_SENSITIVE)
			snprintf(v, sizeof(v), "(redacted)");
		else
			cfg_format(c, &cfg_keys[i], v, sizeof(v));
		fn(cfg_keys[i].name, v, arg);
	}
}
