/*
 * test_sitemem.c - the daemon's site memory: a turn's pages reach the
 * workers' memory only at the commit, an aborted turn replayed counts
 * nothing twice, the store holds at most site_max_sites sites and a new
 * memory loads what was committed; the site of a URL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tstore.h"
#include "sitemem.h"

struct fx {
	char		 dir[64];
	struct store	 store;
	struct sitemem	 sm;
	struct sluice_site_memory_opts o;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	tstore_mkdir(f->dir, sizeof(f->dir), "sitemem");
	assert_int_equal(store_open(&f->store, f->dir, 1 << 20, 1 << 30, err,
	    sizeof(err)), 0);
	sluice_site_memory_opts_default(&f->o);
	f->o.max_sites = 3;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	sitemem_free(&f->sm);
	store_close(&f->store);
	tstore_rmdir(f->dir);
	free(f);
	return 0;
}

/* A fresh memory on the store, as at the daemon's start. */
static void
open_mem(struct fx *f)
{
	MDB_txn *txn;

	sitemem_free(&f->sm);
	assert_int_equal(sitemem_init(&f->sm, &f->o), 0);
	assert_int_equal(store_txn_write(&f->store, &txn), 0);
	assert_int_equal(sitemem_open(&f->sm, txn), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
}

/* Page n of site: a story line of its own and the site's appeal. */
static void
clean(struct fx *f, const char *site, int n, struct sluice_extract_doc *d)
{
	struct sluice_extract_opts o;
	char html[1024], url[128], err[256];

	snprintf(html, sizeof(html), "<html><body><article><p>Story %d of %s "
	    "begins with its own words about river number %d and goes on "
	    "for a while.</p><p>Please support our reporting with a "
	    "donation today, so that it stays free for every reader who "
	    "needs it.</p><p>Story %d ends with more of its own words, as "
	    "stories do, about bridge %d.</p></article></body></html>", n,
	    site, n, n, n);
	snprintf(url, sizeof(url), "https://%s/%d", site, n);
	sluice_extract_opts_default(&o);
	o.site_memory = sitemem_live(&f->sm);
	o.site = site;
	assert_int_equal(sluice_extract_page(html, strlen(html), url,
	    "text/html", &o, d, err, sizeof(err)), SLUICE_EXTRACT_OK);
}

/* One turn that stores pages from..to of site; aborted first if asked. */
static void
turn(struct fx *f, const char *site, int from, int to, bool abort_first)
{
	struct sluice_extract_doc d[8];
	MDB_txn *txn;
	int n, k = to - from + 1, tries = abort_first ? 2 : 1;

	assert_true(k <= 8);
	for (n = 0; n < k; n++)
		clean(f, site, from + n, &d[n]);
	while (tries-- > 0) {
		assert_int_equal(store_txn_write(&f->store, &txn), 0);
		for (n = 0; n < k; n++)
			assert_int_equal(sitemem_record(&f->sm, &d[n]), 0);
		assert_int_equal(sitemem_apply(&f->sm, txn, 0), 0);
		if (tries > 0) {
			mdb_txn_abort(txn);
			sitemem_abort(&f->sm);
			continue;
		}
		assert_int_equal(mdb_txn_commit(txn), 0);
		sitemem_commit(&f->sm);
	}
	for (n = 0; n < k; n++)
		sluice_extract_doc_free(&d[n]);
}

static bool
appeal_dropped(struct fx *f, const char *site, int n)
{
	struct sluice_extract_doc d;
	bool gone;

	clean(f, site, n, &d);
	gone = strstr(d.text, "Please support") == NULL;
	assert_non_null(strstr(d.text, "ends with more"));
	sluice_extract_doc_free(&d);
	return gone;
}

/* Recorded pages count from the commit on, not before it. */
static void
test_commit_publishes(void **state)
{
	struct fx *f = *state;
	struct sluice_extract_doc d[3];
	MDB_txn *txn;

	open_mem(f);
	for (int n = 0; n < 3; n++)
		clean(f, "a.example", n + 1, &d[n]);
	assert_int_equal(store_txn_write(&f->store, &txn), 0);
	for (int n = 0; n < 3; n++)
		assert_int_equal(sitemem_record(&f->sm, &d[n]), 0);
	assert_int_equal(sitemem_apply(&f->sm, txn, 0), 0);
	/* Not committed: the workers' memory has not seen them. */
	assert_false(appeal_dropped(f, "a.example", 4));
	assert_int_equal(mdb_txn_commit(txn), 0);
	sitemem_commit(&f->sm);
	assert_true(appeal_dropped(f, "a.example", 4));
	for (int n = 0; n < 3; n++)
		sluice_extract_doc_free(&d[n]);
}

/* Two pages, aborted and replayed, then one more: three pages, not five,
 * so the appeal is not yet the site's (it needs 3 OTHER pages). */
static void
test_replay_counts_once(void **state)
{
	struct fx *f = *state;
	size_t rep;

	open_mem(f);
	turn(f, "b.example", 1, 2, true);
	assert_false(appeal_dropped(f, "b.example", 3));
	turn(f, "b.example", 3, 3, false);
	(void)sluice_site_memory_lines(sitemem_live(&f->sm), "b.example",
	    &rep);
	assert_int_equal(rep, 1);	/* the appeal, on 3 pages */
	assert_true(appeal_dropped(f, "b.example", 4));
	/* The store has the same: a restart judges page 4 alike. */
	open_mem(f);
	assert_true(appeal_dropped(f, "b.example", 4));
}

/* At most max_sites sites in the store: the one written longest ago goes,
 * and a restart loads the others. */
static void
test_bounded_sites(void **state)
{
	struct fx *f = *state;
	const char *sites[] = { "s1.example", "s2.example", "s3.example",
	    "s4.example" };

	open_mem(f);
	for (size_t i = 0; i < 4; i++)
		turn(f, sites[i], 1, 3, false);
	assert_int_equal(f->sm.nsites, 3);
	open_mem(f);
	assert_int_equal(f->sm.nsites, 3);
	assert_false(appeal_dropped(f, "s1.example", 4));
	for (size_t i = 1; i < 4; i++)
		assert_true(appeal_dropped(f, sites[i], 4));
	/* Lowered: the oldest are deleted at the start. */
	f->o.max_sites = 1;
	open_mem(f);
	assert_int_equal(f->sm.nsites, 1);
	assert_true(appeal_dropped(f, "s4.example", 4));
	assert_false(appeal_dropped(f, "s3.example", 4));
}

static void
test_site_of(void **state)
{
	char b[64];

	(void)state;
	assert_true(sitemem_site_of("https://WWW.Example.org:8443/a?b#c", b,
	    sizeof(b)));
	assert_string_equal(b, "example.org");
	assert_true(sitemem_site_of("http://user@news.example.org/x", b,
	    sizeof(b)));
	assert_string_equal(b, "news.example.org");
	assert_true(sitemem_site_of("http://[::1]:8080/", b, sizeof(b)));
	assert_string_equal(b, "[::1]");
	assert_true(sitemem_site_of("http://www./", b, sizeof(b)));
	assert_string_equal(b, "www.");
	assert_false(sitemem_site_of("http:///x", b, sizeof(b)));
	assert_false(sitemem_site_of("no-scheme", b, sizeof(b)));
	assert_false(sitemem_site_of("http://a-long-host.example/", b, 8));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_publishes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replay_counts_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bounded_sites, setup,
		    teardown),
		cmocka_unit_test(test_site_of),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
