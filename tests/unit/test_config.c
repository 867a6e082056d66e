/*
 * test_config.c - the config table: defaults, file syntax, units, bounds,
 * --set, errors with file:line, reload diffs, and that conf/sluiced.conf
 * agrees with the built-in defaults.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

static int
load(struct config *c, const char *text, char *err)
{
	config_defaults(c);
	return config_load_buffer(c, "t.conf", text, strlen(text), err, 256);
}

static void
test_defaults(void **state)
{
	struct config c;
	char err[256];

	config_defaults(&c);
	assert_int_equal(c.max_total, 64);
	assert_int_equal(c.max_per_host, 1);
	assert_int_equal(c.host_delay_ms, 1000);
	assert_int_equal(c.max_crawl_delay_ms, 30000);
	assert_int_equal(c.host_backoff_min_ms, 60000);
	assert_int_equal(c.host_backoff_max_ms, 24 * 3600 * 1000);
	assert_int_equal(c.max_body, 10 * 1024 * 1024);
	assert_int_equal(c.max_redirects, 10);
	assert_int_equal(c.max_attempts, 5);
	assert_int_equal(c.socket_mode, 0660);
	assert_int_equal(c.max_request, 1024 * 1024);
	assert_int_equal(c.timeout_ms, 60000);
	assert_true(c.respect_robots);
	assert_false(c.allow_private_addresses);
	assert_string_equal(c.state_dir, "/var/lib/sluice");
	assert_int_equal(c.cluster_index_max_entries, 1048576);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	config_free(&c);
}

static void
test_units_and_sections(void **state)
{
	struct config c;
	char err[256];

	assert_int_equal(load(&c,
	    "# comment\n"
	    "[fetch]\n"
	    "max_body = 2 MiB   # trailing comment\n"
	    "timeout = 1.5m\n"
	    "connect_timeout = 250ms\n"
	    "user_agent = \"bot/1 (+https://x.example/#about)\"\n"
	    "allow_private_addresses = yes\n"
	    "[store]\n"
	    "map_size_max = 1G\n"
	    "queue.max_attempts = 9\n"
	    "[daemon]\r\n"
	    "log_level = debug\r\n"
	    "socket_mode = 0600\n", err), 0);
	assert_int_equal(c.max_body, 2 * 1024 * 1024);
	assert_int_equal(c.timeout_ms, 90000);
	assert_int_equal(c.connect_timeout_ms, 250);
	assert_string_equal(c.user_agent, "bot/1 (+https://x.example/#about)");
	assert_true(c.allow_private_addresses);
	assert_int_equal(c.map_size_max, 1024ULL * 1024 * 1024);
	assert_int_equal(c.max_attempts, 9);
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c.socket_mode, 0600);
	config_free(&c);
}

static void
test_errors_name_the_line(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "[fetch]\nmax_total = 0\n", "t.conf:2: fetch.max_total: 0 is out of range" },
		{ "[fetch]\nmax_total = lots\n", "t.conf:2: fetch.max_total: invalid value" },
		{ "[fetch]\nnope = 1\n", "t.conf:2: unknown key \"fetch.nope\"" },
		{ "max_total = 1\n", "t.conf:1: \"max_total\" outside of a [section]" },
		{ "[fetch\n", "t.conf:1: bad section header" },
		{ "[fetch]\njust words\n", "t.conf:2: expected \"key = value\"" },
		{ "[fetch]\nuser_agent = \"open\n", "t.conf:2: fetch.user_agent: unbalanced quotes" },
		{ "[fetch]\nrespect_robots = maybe\n", "t.conf:2: fetch.respect_robots: expected true or false" },
		{ "[fetch]\ntimeout = 5 fortnights\n", "t.conf:2: fetch.timeout: invalid value" },
		{ "[daemon]\nlog_level = loud\n", "t.conf:2: daemon.log_level: expected err" },
		{ "[fetch]\nmax_body = -1\n", "t.conf:2: fetch.max_body: invalid value" },
		/* Errors that say what to do (issue 12). */
		{ "[fetch]\ntimout = 1s\n", "t.conf:2: unknown key \"fetch.timout\"; did you mean fetch.timeout?" },
		{ "[fetch]\nmax_bdy = 1\n", "t.conf:2: unknown key \"fetch.max_bdy\"; did you mean fetch.max_body?" },
		{ "[store]\nmax_redirects = 1\n", "t.conf:2: unknown key \"store.max_redirects\"; did you mean fetch.max_redirects?" },
		{ "[fetch]\nzzzzzzzzzzzzzz = 1\n", "t.conf:2: unknown key \"fetch.zzzzzzzzzzzzzz\"" },
		{ "[fecth]\n", "t.conf:1: unknown section [fecth]; did you mean [fetch]?" },
		{ "[bogus]\n", "t.conf:1: unknown section [bogus] (the sections are [daemon], [store]" },
		{ "fecth.timeout = 1s\n", "t.conf:1: unknown section [fecth] in \"fecth.timeout\"; did you mean fetch.timeout?" },
		{ "[fetch]\ntimeout = 1ms\n", "t.conf:2: fetch.timeout: 1ms is out of range (100ms to 1h)" },
		{ "[store]\nmap_size = 1KiB\n", "t.conf:2: store.map_size: 1KiB is out of range (1MiB to 1TiB)" },
		{ "[fetch]\nhost_backoff_max = 31d\n", "t.conf:2: fetch.host_backoff_max: 31d is out of range (0 to 30d)" },
		{ "[dedup]\nnear_threshold = 2\n", "t.conf:2: dedup.near_threshold: 2 is out of range (0.5 to 1)" },
		{ "[fetch]\nmax_total = 1.5\n", "t.conf:2: fetch.max_total: invalid value \"1.5\": expected a whole number" },
		{ "[fetch]\ntimeout = soon\n", "t.conf:2: fetch.timeout: invalid value \"soon\": expected a duration, e.g. 30s" },
		{ "[fetch]\nmax_body = big\n", "t.conf:2: fetch.max_body: invalid value \"big\": expected a size, e.g. 512KiB" },
		{ "[cluster]\nindex_max_entries = 999\n", "t.conf:2: cluster.index_max_entries: 999 is out of range (1000 to 100000000)" },
		{ "[cluster]\nindex_max_entries = 100000001\n", "t.conf:2: cluster.index_max_entries: 100000001 is out of range" },
		{ "[feeds]\nmax_entries = 0\n", "t.conf:2: feeds.max_entries: 0 is out of range (1 to 10000000)" },
	};
	struct config c;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(load(&c, cases[i].text, err), -1);
		if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err,
			    cases[i].want);
		config_free(&c);
	}
}

static void
test_set_and_validate(void **state)
{
	struct config c;
	char err[256];

	config_defaults(&c);
	assert_int_equal(config_set(&c, "fetch.max_total=8", err, sizeof(err)),
	    0);
	assert_int_equal(c.max_total, 8);
	assert_int_equal(config_set(&c, "daemon.state_dir = /tmp/x", err,
	    sizeof(err)), 0);
	assert_string_equal(c.state_dir, "/tmp/x");
	assert_int_equal(config_set(&c, "fetch.max_totl=8", err, sizeof(err)),
	    -1);
	assert_string_equal(err, "unknown key \"fetch.max_totl\"; did you "
	    "mean fetch.max_total?");
	assert_int_equal(config_set(&c, "max_total=8", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "section.key=value"));
	assert_int_equal(config_set(&c, "fetch.max_per_host=9", err,
	    sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "max_per_host"));
	config_set(&c, "fetch.max_per_host=2", err, sizeof(err));
	config_set(&c, "fetch.user_agent=bot", err, sizeof(err));
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "contact URL"));
	config_free(&c);
}

struct diff {
	int	 n;
	int	 restart;
};

static void
count_diff(const char *key, bool restart, void *arg)
{
	struct diff *d = arg;

	d->n++;
	d->restart += restart;
}

static void
test_diff_and_keep(void **state)
{
	struct config a, b;
	struct diff d = { 0, 0 };
	char err[256];

	config_defaults(&a);
	config_defaults(&b);
	config_set(&b, "fetch.max_total=3", err, sizeof(err));
	config_set(&b, "daemon.state_dir=/elsewhere", err, sizeof(err));
	assert_int_equal(config_set(&b, "cluster.index_max_entries=1000", err,
	    sizeof(err)), 0);
	assert_int_equal(b.cluster_index_max_entries, 1000);
	assert_int_equal(config_diff(&a, &b, count_diff, &d), 3);
	assert_int_equal(d.restart, 2);
	assert_int_equal(config_keep(&b, &a, "cluster.index_max_entries"), 0);
	assert_int_equal(config_keep(&b, &a, "daemon.state_dir"), 0);
	assert_int_equal(config_keep(&b, &a, "fetch.max_total"), 0);
	assert_int_equal(config_diff(&a, &b, NULL, NULL), 0);
	assert_int_equal(config_keep(&b, &a, "no.such"), -1);
	config_free(&a);
	config_free(&b);
}

/* The bundled file must list the built-in defaults (bar state_dir). */
static void
test_bundled_file_matches_defaults(void **state)
{
	struct config def, file;
	char err[256], path[4096];
	const char *src = getenv("SLUICE_SOURCE");

	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/conf/sluiced.conf", src);
	config_defaults(&def);
	config_defaults(&file);
	if (config_load_file(&file, path, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_string_equal(file.state_dir, "var");
	assert_int_equal(config_keep(&file, &def, "daemon.state_dir"), 0);
	assert_int_equal(config_diff(&def, &file, NULL, NULL), 0);
	assert_int_equal(config_validate(&file, err, sizeof(err)), 0);
	config_free(&def);
	config_free(&file);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_units_and_sections),
		cmocka_unit_test(test_errors_name_the_line),
		cmocka_unit_test(test_set_and_validate),
		cmocka_unit_test(test_diff_and_keep),
		cmocka_unit_test(test_bundled_file_matches_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
