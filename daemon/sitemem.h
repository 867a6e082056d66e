/*
 * sitemem.h - the site memory of the daemon: what each site repeats on
 * page after page, learned from the pages stored, kept in LMDB, and read
 * by the workers as they clean (the rules are the library's: see
 * sluice/extract.h, "Site memory").
 *
 *   sites   site name -> stamp (u64 LE: the commit that wrote it), then
 *                        sluice_site_memory_dump_site()'s dump of the site
 *
 * A site is the host of the URL the page was fetched from (after
 * redirects), lower-cased, without "www.": not the registrable domain,
 * since the subdomains of one domain are usually different templates
 * (news.example.com, blog.example.com), and not the page's canonical URL,
 * which the page chooses: a page must not teach another site's memory.
 *
 * Only first copies are recorded: a duplicate (URL, exact or near) is
 * the same story again, whose lines would pass for the site's own.
 *
 * Two memories: `live`, which the workers read (the library's lock lets
 * them read it while the loop writes), holds what was committed; the
 * turn records its pages into `stage`, a copy of the sites it touches,
 * and writes each touched site once per transaction.  Only after the
 * commit are those sites copied into `live`: a page is cleaned with what
 * was committed before it, and an aborted turn (MAP_FULL replay) drops
 * the stage, so a replay records nothing twice.
 *
 * Bounds: extract.site_max_sites sites in memory and in LMDB (the site
 * written longest ago is forgotten first, in both), extract.site_max_lines
 * lines per site (the library's eviction).  What each site's cleaning
 * dropped, most often first, is kept in memory only, since the start
 * (SITEMEM_TOP lines per site).
 */
#ifndef SLUICE_SITEMEM_H
#define SLUICE_SITEMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#include "sluice/extract.h"

#define SITEMEM_TOP		16	/* dropped lines shown per site */
#define SITEMEM_NAME_MAX	255	/* bytes of a site name */

struct sitemem_touched;
struct sitemem_drops;

struct sitemem {
	struct sluice_site_memory *live;	/* committed; workers read */
	struct sluice_site_memory *stage;	/* this turn's, or NULL */
	struct sluice_site_memory_opts opts;
	MDB_dbi		 db;
	bool		 open;
	uint64_t	 stamp;		/* of the last commit */
	uint64_t	 nsites;	/* records in LMDB */
	uint64_t	 nsites_saved;	/* nsites when the turn began */
	/* The sites this turn changed, and the docs it recorded (the
	 * pages own them until outcome_finish, after sitemem_commit). */
	struct sitemem_touched *touched;
	size_t		 ntouched, cap_touched;
	const struct sluice_extract_doc **docs;
	size_t		 ndocs, cap_docs;
	/* What cleaning dropped, per site (loop thread only). */
	struct sitemem_drops *drops;
	size_t		 ndrops;
	/* Counters since the start. */
	uint64_t	 pages_recorded;
	uint64_t	 lines_dropped;
	uint64_t	 pages_repeated;
};

/*
 * Makes the memories with opts (NULL: off: then every call below does
 * nothing, and sitemem_live() is NULL).  0, or -1 out of memory.
 */
int sitemem_init(struct sitemem *sm,
    const struct sluice_site_memory_opts *opts);
void sitemem_free(struct sitemem *sm);

/* Opens the database and loads it into the live memory, oldest site
 * first; drops the sites past opts.max_sites.  0 or an LMDB error. */
int sitemem_open(struct sitemem *sm, MDB_txn *txn);

/* The memory the workers clean with, or NULL if off. */
struct sluice_site_memory *sitemem_live(const struct sitemem *sm);

/* Writes the site of url (its host, lower-cased, without "www.") into
 * buf: true, or false if url has none that fits. */
bool sitemem_site_of(const char *url, char *buf, size_t len);

/*
 * In the turn: records the page d (extracted with opts.site_memory) as
 * seen on one more page of its site.  d must stay valid until
 * sitemem_commit() or sitemem_abort().  0, or ENOMEM.
 */
int sitemem_record(struct sitemem *sm, const struct sluice_extract_doc *d);

/* Turn step: writes each site the turn changed.  0 or an LMDB error. */
int sitemem_apply(void *arg, MDB_txn *txn, uint64_t now);
/* Turn step's abort: forgets the turn's records. */
void sitemem_abort(void *arg);
/* After the commit: the turn's sites become what the workers read. */
void sitemem_commit(struct sitemem *sm);

/* { site, lines, repeated, pages_dropped, dropped: [{text, pages}] }
 * for site, or NULL out of memory. */
json_t *sitemem_site_json(struct sitemem *sm, const char *site);
/* { sites, pages_recorded, lines_dropped, pages_repeated }. */
json_t *sitemem_status_json(const struct sitemem *sm);

#endif
