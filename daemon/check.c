/*
 * check.c - sluiced --check (see check.h).
 *
 * It opens the store as the daemon would (an older store's records are
 * upgraded first, which skips damaged ones), but recovers nothing.
 */
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "config.h"
#include "doc.h"
#include "queue.h"
#include "store.h"
#include "warcbody.h"

struct check_out {
	FILE		*out;
	uint64_t	 problems;
};

static void
check_problem(const char *problem, void *arg)
{
	struct check_out *o = arg;

	fprintf(o->out, "%s\n", problem);
	o->problems++;
}

/* Opens the documents' databases (creating them takes a write txn). */
static int
check_open_docs(struct store *s, struct docs *docs, MDB_dbi *bodies)
{
	MDB_txn *txn;
	int rc = store_txn_write(s, &txn);

	if (rc != 0)
		return rc;
	if ((rc = doc_open(docs, txn)) != 0 ||
	    (rc = warcbody_dbi(txn, bodies)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int
check_store(const struct config *cfg, unsigned store_flags, FILE *out)
{
	struct check_out o = { out, 0 };
	uint64_t jobs = 0, docs_n = 0, bodies_n = 0;
	MDB_dbi bodies;
	struct store s;
	struct queue q;
	struct docs docs;
	MDB_txn *txn = NULL;
	char err[1024];
	int rc;

	if (store_open_flags(&s, cfg->state_dir, cfg->map_size,
	    cfg->map_size_max, store_flags, err, sizeof(err)) == -1) {
		fprintf(out, "store: %s\n", err);
		return 1;
	}
	rc = queue_open(&q, &s);
	if (rc == 0)
		rc = check_open_docs(&s, &docs, &bodies);
	if (rc == 0)
		rc = store_txn_read(&s, &txn);
	if (rc == 0)
		rc = queue_check(&q, txn, check_problem, &o, &jobs);
	if (rc == 0)
		rc = doc_check(&docs, txn, check_problem, &o, &docs_n);
	if (rc == 0)
		rc = warcbody_check(txn, bodies, check_problem, &o, &bodies_n);
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (rc != 0)
		fprintf(out, "store: %s\n", mdb_strerror(rc));
	else
		fprintf(out, "%llu jobs, %llu documents, %llu bodies in WARC "
		    "records: %llu problems\n", (unsigned long long)jobs,
		    (unsigned long long)docs_n, (unsigned long long)bodies_n,
		    (unsigned long long)o.problems);
	queue_close(&q);
	store_close(&s);
	return rc != 0 || o.problems > 0;
}
