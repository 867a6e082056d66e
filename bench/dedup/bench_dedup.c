/*
 * bench_dedup.c - the figures bench/dedup/run.sh prints; never a test.
 *
 *   bench-dedup eval CASES.jsonl TMPDIR
 *	Accuracy on make_pairs.py's cases: every "doc" goes into one index
 *	(a match among them is a false merge), every "variant" is looked up
 *	against it (and rolled back), every "pair" is checked alone, every
 *	"url" pair through url_canonicalize.  Every "clean" text goes into
 *	a second index (a match among them is counted too), and variants
 *	with "index": "clean" are looked up against it.  Per kind: merges, recall,
 *	recall where the true 5-gram Jaccard is >= 0.8, wrong-document
 *	merges; then every false merge and miss.  Also the CPU cost of
 *	dedup_signature on the bare article bodies.
 *   bench-dedup scale TMPDIR N...
 *	Synthetic near-indexed documents inserted up to each N: LMDB bytes
 *	per document and the cost of a lookup that misses, finds a near copy,
 *	or finds an exact copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <jansson.h>
#include <lmdb.h>

#include "dedup.h"
#include "url.h"

#define MAX_KINDS	16
#define MAX_DOCS	4096
#define CLEAN_US	2500.0	/* the cleaner's CPU per page, for the ratio */

struct kind_stats {
	char		 name[32];
	bool		 dup;		/* must-catch, else must-not-merge */
	size_t		 n, merged, wrong, n80, merged80;
	double		 sum_j, min_j, sum_est, max_cont;
};

struct eval {
	MDB_env		*index, *scratch, *clean;
	struct dedup_dbs idx_dbs, scr_dbs, cln_dbs;
	struct kind_stats kinds[MAX_KINDS];
	size_t		 nkinds;
	char		*doc_text[MAX_DOCS];
	struct dedup_sig doc_sig[MAX_DOCS];
	char		*body[MAX_DOCS];
	char		*cln_text[MAX_DOCS];
	size_t		 cln_first[MAX_DOCS], cln_from[MAX_DOCS], ncut;
	struct dedup_sig cln_sig[MAX_DOCS];
	size_t		 nbody, ndocs, doc_merges, ncln, cln_merges;
	uint64_t	 next_id;
};

static double
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* This thread's CPU time: lookups are timed with it so that a busy shared
 * machine (time spent descheduled) does not inflate them. */
static double
thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench-dedup: %s: %s\n", what, mdb_strerror(rc));
	exit(1);
}

static MDB_env *
env_open(const char *dir, size_t mapsize, struct dedup_dbs *dbs)
{
	char err[256] = "";
	MDB_env *env;
	MDB_txn *txn;
	int rc;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		die(dir, errno);
	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, 4);
	if (rc == 0)
		rc = mdb_env_set_mapsize(env, mapsize);
	if (rc == 0)	/* scratch data: no fsync */
		rc = mdb_env_open(env, dir, MDB_NOSYNC | MDB_NOMETASYNC, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == 0)
		rc = dedup_open(txn, dbs, NULL, err, sizeof(err));
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	if (rc != 0)
		die(dir, rc);
	return env;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
true_jaccard(const char *a, const char *b)
{
	double j;
	int rc = dedup_jaccard(a, strlen(a), b, strlen(b), NULL, &j);

	if (rc != 0)
		die("dedup_jaccard", rc);
	return j;
}

/* The share of the smaller text's shingles in the larger, estimated from
 * the Jaccard estimate and the word counts (as dedup.c does, but without
 * its check for repetition, so that this builds against older trees). */
static double
containment(const struct dedup_sig *a, const struct dedup_sig *b)
{
	double j = dedup_similarity(a, b);
	double x = a->words > 4 ? a->words - 4 : 0;
	double y = b->words > 4 ? b->words - 4 : 0;
	double lo = x < y ? x : y, inter = j * (x + y) / (1 + j);

	return lo <= 0 ? 0 : inter >= lo ? 1 : inter / lo;
}

/* ---- eval ------------------------------------------------------------ */

static struct kind_stats *
kind_get(struct eval *e, const char *name, bool dup)
{
	for (size_t i = 0; i < e->nkinds; i++)
		if (strcmp(e->kinds[i].name, name) == 0)
			return &e->kinds[i];
	if (e->nkinds == MAX_KINDS)
		die("too many kinds", EINVAL);
	snprintf(e->kinds[e->nkinds].name, sizeof(e->kinds[0].name), "%s",
	    name);
	e->kinds[e->nkinds].dup = dup;
	e->kinds[e->nkinds].min_j = 1.0;
	return &e->kinds[e->nkinds++];
}

static void
kind_add(struct kind_stats *k, bool merged, bool wrong, double j, double est,
    double cont)
{
	if (cont > k->max_cont)
		k->max_cont = cont;
	k->n++;
	k->merged += merged;
	k->wrong += wrong;
	k->sum_j += j;
	k->sum_est += est;
	if (j < k->min_j)
		k->min_j = j;
	if (j >= 0.8) {
		k->n80++;
		k->merged80 += merged && !wrong;
	}
}

/* Runs one check_insert in a transaction; commits only if keep. */
static struct dedup_match
lookup(MDB_env *env, struct dedup_dbs *dbs, uint64_t id,
    const struct dedup_sig *sig, bool keep)
{
	struct dedup_match m = { 0 };
	MDB_txn *txn;
	int rc;

	rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == 0)
		rc = dedup_check_insert(txn, dbs, id, sig, NULL, &m);
	if (rc == 0 && keep)
		rc = mdb_txn_commit(txn);
	else if (rc == 0)
		mdb_txn_abort(txn);
	if (rc != 0)
		die("check_insert", rc);
	if (keep)
		dedup_commit(dbs);
	else
		dedup_rollback(dbs);
	return m;
}

static void
eval_doc(struct eval *e, json_t *rec)
{
	size_t id = (size_t)json_integer_value(json_object_get(rec, "id"));
	const char *text = json_string_value(json_object_get(rec, "text"));
	struct dedup_match m;

	if (id == 0 || id >= MAX_DOCS || text == NULL)
		die("bad doc record", EINVAL);
	e->doc_text[id] = strdup(text);
	dedup_signature(text, strlen(text), NULL, &e->doc_sig[id]);
	m = lookup(e->index, &e->idx_dbs, id, &e->doc_sig[id], true);
	if (m.kind != DEDUP_NONE) {
		e->doc_merges++;
		printf("FALSE MERGE corpus-index: doc %zu -> doc %llu (%s, "
		    "%.3f)\n", id, (unsigned long long)m.doc_id,
		    dedup_kind_name(m.kind), m.similarity);
	}
	e->ndocs++;
}

static void
eval_clean(struct eval *e, json_t *rec)
{
	size_t id = (size_t)json_integer_value(json_object_get(rec, "id"));
	size_t from = (size_t)json_integer_value(json_object_get(rec, "from"));
	const char *text = json_string_value(json_object_get(rec, "text"));
	struct dedup_match m;

	if (id == 0 || id >= MAX_DOCS || text == NULL || from >= MAX_DOCS)
		die("bad clean record", EINVAL);
	e->cln_text[id] = strdup(text);
	e->cln_from[id] = from;
	dedup_signature(text, strlen(text), NULL, &e->cln_sig[id]);
	m = lookup(e->clean, &e->cln_dbs, id, &e->cln_sig[id], true);
	/* Its later copies are expected to find its first copy. */
	e->cln_first[id] = m.kind != DEDUP_NONE ? m.doc_id : id;
	if (m.kind != DEDUP_NONE && from != 0 && m.doc_id == from) {
		e->ncut++;
		printf("CUT COPY clean-index: text %zu, cut from text %zu, "
		    "merged with it (%.3f)\n", id, from, m.similarity);
	} else if (m.kind != DEDUP_NONE) {
		e->cln_merges++;
		printf("FALSE MERGE clean-index: text %zu -> text %llu (%s, "
		    "%.3f)\n", id, (unsigned long long)m.doc_id,
		    dedup_kind_name(m.kind), m.similarity);
	}
	e->ncln++;
}

/* Bands two signatures share: none means the lookup never compared them. */
static size_t
shared_bands(const struct dedup_sig *a, const struct dedup_sig *b)
{
	size_t n = 0;

	for (size_t j = 0; j < DEDUP_BANDS; j++)
		n += a->bands[j] == b->bands[j];
	return n;
}

static void
eval_variant(struct eval *e, json_t *rec)
{
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *text = json_string_value(json_object_get(rec, "text"));
	const char *index = json_string_value(json_object_get(rec, "index"));
	size_t of = (size_t)json_integer_value(json_object_get(rec, "of"));
	bool cln = index != NULL && strcmp(index, "clean") == 0;
	char **texts = cln ? e->cln_text : e->doc_text;
	struct dedup_sig *sigs = cln ? e->cln_sig : e->doc_sig;
	struct dedup_match m;
	struct dedup_sig sig;
	double j, est;
	bool merged, wrong;

	if (kind == NULL || text == NULL || of == 0 || of >= MAX_DOCS ||
	    texts[of] == NULL)
		die("bad variant record", EINVAL);
	dedup_signature(text, strlen(text), NULL, &sig);
	m = cln ? lookup(e->clean, &e->cln_dbs, e->next_id++, &sig, false) :
	    lookup(e->index, &e->idx_dbs, e->next_id++, &sig, false);
	merged = m.kind != DEDUP_NONE;
	wrong = merged && m.doc_id != (cln ? e->cln_first[of] : of);
	j = true_jaccard(texts[of], text);
	est = dedup_similarity(&sigs[of], &sig);
	kind_add(kind_get(e, kind, true), merged && !wrong, wrong, j, est,
	    containment(&sigs[of], &sig));
	if (wrong)
		printf("FALSE MERGE %s: variant of doc %zu -> doc %llu (%.3f)\n",
		    kind, of, (unsigned long long)m.doc_id, m.similarity);
	else if (!merged && (j >= 0.8 || cln))
		printf("MISS %s: doc %zu, true J %.3f, estimate %.3f, "
		    "containment %.3f, %u of %u words, %zu of %d bands shared "
		    "(%s)\n", kind, of, j, est,
		    containment(&sigs[of], &sig), sigs[of].words,
		    sig.words,
		    shared_bands(&sigs[of], &sig), DEDUP_BANDS,
		    shared_bands(&sigs[of], &sig) == 0 ? "not a candidate" :
		    "a candidate, not confirmed");
}

static void
eval_pair(struct eval *e, json_t *rec)
{
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *a = json_string_value(json_object_get(rec, "a"));
	const char *b = json_string_value(json_object_get(rec, "b"));
	struct dedup_sig sa, sb;
	struct dedup_match m;
	MDB_txn *txn;
	int rc;

	if (kind == NULL || a == NULL || b == NULL)
		die("bad pair record", EINVAL);
	dedup_signature(a, strlen(a), NULL, &sa);
	dedup_signature(b, strlen(b), NULL, &sb);
	rc = mdb_txn_begin(e->scratch, NULL, 0, &txn);
	if (rc == 0)
		rc = dedup_check_insert(txn, &e->scr_dbs, 1, &sa, NULL, &m);
	if (rc == 0)
		rc = dedup_check_insert(txn, &e->scr_dbs, 2, &sb, NULL, &m);
	if (rc != 0)
		die("pair check_insert", rc);
	mdb_txn_abort(txn);
	dedup_rollback(&e->scr_dbs);
	kind_add(kind_get(e, kind, false), m.kind != DEDUP_NONE, false,
	    true_jaccard(a, b), dedup_similarity(&sa, &sb),
	    containment(&sa, &sb));
	if (m.kind != DEDUP_NONE)
		printf("FALSE MERGE %s: %s %.3f\n  a: %.70s\n  b: %.70s\n", kind,
		    dedup_kind_name(m.kind), m.similarity, a, b);
}

static void
eval_url(struct eval *e, json_t *rec)
{
	const char *kind = json_string_value(json_object_get(rec, "kind"));
	const char *label = json_string_value(json_object_get(rec, "label"));
	const char *a = json_string_value(json_object_get(rec, "a"));
	const char *b = json_string_value(json_object_get(rec, "b"));
	char *ca = NULL, *cb = NULL;
	bool dup, same;

	if (kind == NULL || label == NULL || a == NULL || b == NULL)
		die("bad url record", EINVAL);
	dup = strcmp(label, "dup") == 0;
	same = url_canonicalize(a, NULL, &ca) == URL_OK &&
	    url_canonicalize(b, NULL, &cb) == URL_OK && strcmp(ca, cb) == 0;
	kind_add(kind_get(e, kind, dup), same, false, dup ? 1.0 : 0.0,
	    same ? 1.0 : 0.0, 0);
	if (same != dup)
		printf("%s %s: %s | %s -> %s | %s\n", dup ? "MISS" : "FALSE MERGE",
		    kind, a, b, ca ? ca : "-", cb ? cb : "-");
	free(ca);
	free(cb);
}

static void
eval_record(struct eval *e, json_t *rec)
{
	const char *type = json_string_value(json_object_get(rec, "type"));

	if (type == NULL)
		die("record without type", EINVAL);
	if (strcmp(type, "body") == 0) {
		const char *t = json_string_value(json_object_get(rec, "text"));

		if (t != NULL && e->nbody < MAX_DOCS)
			e->body[e->nbody++] = strdup(t);
	} else if (strcmp(type, "doc") == 0)
		eval_doc(e, rec);
	else if (strcmp(type, "clean") == 0)
		eval_clean(e, rec);
	else if (strcmp(type, "variant") == 0)
		eval_variant(e, rec);
	else if (strcmp(type, "pair") == 0)
		eval_pair(e, rec);
	else if (strcmp(type, "url") == 0)
		eval_url(e, rec);
}

static void
print_kinds(const struct eval *e)
{
	size_t tp = 0, fp = 0, dups = 0, n80 = 0, tp80 = 0;

	printf("\n%-20s %-8s %5s %6s %5s %6s %7s %6s %9s %6s %6s %6s %7s\n",
	    "kind", "label", "pairs", "merged", "wrong", "prec", "recall",
	    "J>=.8", "recall.8", "meanJ", "minJ", "est", "maxcont");
	for (size_t i = 0; i < e->nkinds; i++) {
		const struct kind_stats *k = &e->kinds[i];

		printf("%-20s %-8s %5zu %6zu %5zu ", k->name,
		    k->dup ? "dup" : "distinct", k->n, k->merged, k->wrong);
		if (k->dup)
			printf("%6.3f %7.3f %6zu %9.3f ", k->merged + k->wrong ?
			    (double)k->merged / (k->merged + k->wrong) : 1.0,
			    (double)k->merged / k->n, k->n80,
			    k->n80 ? (double)k->merged80 / k->n80 : 1);
		else
			printf("%6s %7s %6s %9s ", "-", "-", "-", "-");
		printf("%6.3f %6.3f %6.3f %7.3f\n", k->sum_j / k->n, k->min_j,
		    k->sum_est / k->n, k->max_cont);
		if (k->dup) {
			tp += k->merged;
			dups += k->n;
			n80 += k->n80;
			tp80 += k->merged80;
			fp += k->wrong;
		} else
			fp += k->merged;
	}
	fp += e->doc_merges + e->cln_merges;
	printf("%-20s %-8s %5zu %6zu\n", "corpus-index", "distinct",
	    e->ndocs * (e->ndocs - 1) / 2, e->doc_merges);
	if (e->ncln > 0)
		printf("%-20s %-8s %5zu %6zu (and %zu cut copies merged "
		    "with the story they were cut from)\n", "clean-index",
		    "distinct", e->ncln * (e->ncln - 1) / 2, e->cln_merges,
		    e->ncut);
	printf("\noverall: precision %.4f, recall %.4f, recall at true J >= "
	    "0.8 %.4f (%zu of %zu), false merges %zu\n",
	    tp + fp ? (double)tp / (tp + fp) : 1.0, (double)tp / dups,
	    n80 ? (double)tp80 / n80 : 1.0, tp80, n80, fp);
}

static void
print_cpu(const struct eval *e)
{
	struct dedup_sig sig;
	size_t words = 0, bytes = 0;
	double t0, t;
	int reps = 20;

	for (size_t i = 0; i < e->nbody; i++) {
		dedup_signature(e->body[i], strlen(e->body[i]), NULL, &sig);
		words += sig.words;
		bytes += strlen(e->body[i]);
	}
	t0 = cpu_us();
	for (int r = 0; r < reps; r++)
		for (size_t i = 0; i < e->nbody; i++)
			dedup_signature(e->body[i], strlen(e->body[i]), NULL,
			    &sig);
	t = (cpu_us() - t0) / reps;
	printf("\ndedup_signature CPU: %zu articles, %zu words, %zu bytes: "
	    "%.1f us/doc (%.1f%% of %.1f ms cleaning), %.1f us per 1000 "
	    "words\n", e->nbody, words, bytes, t / e->nbody,
	    100.0 * t / e->nbody / CLEAN_US, CLEAN_US / 1000,
	    t * 1000 / words);
}

static int
run_eval(const char *cases, const char *tmp)
{
	static struct eval e;
	char dir[1024], *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/index", tmp);
	e.index = env_open(dir, (size_t)1 << 30, &e.idx_dbs);
	snprintf(dir, sizeof(dir), "%s/scratch", tmp);
	e.scratch = env_open(dir, (size_t)1 << 28, &e.scr_dbs);
	snprintf(dir, sizeof(dir), "%s/clean", tmp);
	e.clean = env_open(dir, (size_t)1 << 30, &e.cln_dbs);
	e.next_id = 1000000;
	f = fopen(cases, "r");
	if (f == NULL)
		die(cases, errno);
	while (getline(&line, &cap, f) > 0) {
		json_error_t err;
		json_t *rec = json_loads(line, 0, &err);

		if (rec == NULL)
			die(err.text, EINVAL);
		eval_record(&e, rec);
		json_decref(rec);
	}
	free(line);
	fclose(f);
	print_kinds(&e);
	print_cpu(&e);
	for (size_t i = 0; i < MAX_DOCS; i++) {
		free(e.doc_text[i]);
		free(e.body[i]);
		free(e.cln_text[i]);
	}
	dedup_close(&e.idx_dbs);
	dedup_close(&e.scr_dbs);
	dedup_close(&e.cln_dbs);
	mdb_env_close(e.clean);
	mdb_env_close(e.index);
	mdb_env_close(e.scratch);
	return 0;
}

/* ---- scale ------------------------------------------------------------ */

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The synthetic signature of document id: random but reproducible, every
 * sketch bin non-empty as in a long text. */
static void
synth_sig(uint64_t id, struct dedup_sig *s)
{
	uint64_t x = mix64(id * 0x9e3779b97f4a7c15ULL + 1);

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < 16; i++)
		s->exact[i] = (uint8_t)mix64(x + i);
	s->words = 600;
	s->near = true;
	for (size_t j = 0; j < DEDUP_BANDS; j++)
		s->bands[j] = (uint32_t)mix64(x + 100 + j);
	for (size_t k = 0; k < DEDUP_SKETCH_BYTES; k++)
		s->sketch[k] = (uint8_t)(mix64(x + 200 + k) | 0x11);
}

static void
fill(MDB_env *env, struct dedup_dbs *dbs, uint64_t from, uint64_t to)
{
	struct dedup_sig s;
	struct dedup_match m;
	MDB_txn *txn = NULL;
	int rc;

	for (uint64_t id = from; id <= to; id++) {
		rc = txn == NULL ? mdb_txn_begin(env, NULL, 0, &txn) : 0;
		synth_sig(id, &s);
		if (rc == 0)
			rc = dedup_check_insert(txn, dbs, id, &s, NULL, &m);
		if (rc == 0 && (id % 10000 == 0 || id == to)) {
			rc = mdb_txn_commit(txn);
			txn = NULL;
			dedup_commit(dbs);
		}
		if (rc != 0)
			die("fill", rc);
	}
}

static double
db_bytes(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_stat st;

	mdb_stat(txn, dbi, &st);
	return (double)(st.ms_branch_pages + st.ms_leaf_pages +
	    st.ms_overflow_pages) * st.ms_psize;
}

/* The query of a timed lookup: a new document (sort 0), a near copy of
 * stored document id (1: 6 sketch bins and 3 bands differ) or an exact
 * copy (2). */
static void
query_sig(int sort, uint64_t id, uint64_t fresh, struct dedup_sig *s)
{
	synth_sig(sort == 0 ? fresh : id, s);
	if (sort != 1)
		return;
	s->exact[0] ^= 0xff;
	for (int k = 0; k < 6; k++)
		s->sketch[k * 17] ^= 0x20;
	s->bands[0] ^= 1;
	s->bands[5] ^= 1;
	s->bands[11] ^= 1;
}

/* Mean and 99th percentile of 2000 lookups of one sort, batch per write
 * transaction, rolled back. */
static void
time_lookups(MDB_env *env, struct dedup_dbs *dbs, uint64_t n,
    int sort, int batch, double *mean, double *p99)
{
	enum { RUNS = 2000 };
	static double t[RUNS];
	struct dedup_match m;
	struct dedup_sig s;
	MDB_txn *txn = NULL;
	double sum = 0;
	int rc = 0;

	for (int i = 0; i < RUNS; i++) {
		uint64_t id = 1 + mix64((uint64_t)i * 7919 + n) % n;
		double t0;

		query_sig(sort, id, n + 1000000 + (uint64_t)i, &s);
		if (i % batch == 0)
			rc = mdb_txn_begin(env, NULL, 0, &txn);
		t0 = thread_ns();
		if (rc == 0)
			rc = dedup_check_insert(txn, dbs, n + 1 + (uint64_t)i,
			    &s, NULL, &m);
		t[i] = (thread_ns() - t0) / 1e3;
		if (rc == 0 && (i + 1) % batch == 0) {
			mdb_txn_abort(txn);
			dedup_rollback(dbs);
		}
		if (rc != 0 || (sort == 0) != (m.kind == DEDUP_NONE) ||
		    (sort != 0 && m.doc_id != id))
			die("unexpected lookup result", rc ? rc : EINVAL);
		sum += t[i];
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_double);
	*mean = sum / RUNS;
	*p99 = t[RUNS * 99 / 100];
}

static void
report_scale(MDB_env *env, struct dedup_dbs *dbs, uint64_t n, double fill_s,
    double load_s)
{
	static const int sorts[4][2] = { { 0, 1 }, { 0, 100 }, { 1, 1 },
	    { 2, 1 } };
	double keys, sigs, mean[4], p99[4];
	MDB_txn *txn;

	mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	keys = db_bytes(txn, dbs->keys);
	sigs = db_bytes(txn, dbs->sigs);
	mdb_txn_abort(txn);
	for (int i = 0; i < 4; i++)
		time_lookups(env, dbs, n, sorts[i][0], sorts[i][1], &mean[i],
		    &p99[i]);
	printf("%9llu %6.0f %6.0f %6.0f %6.0f %7.1f %7.1f %7.1f %7.1f "
	    "%7.1f %7.1f %7.1f %7.1f %7.1f %7.2f\n", (unsigned long long)n,
	    (keys + sigs) / n, keys / n, sigs / n,
	    (double)dedup_memory(dbs) / n, mean[0], p99[0], mean[1], p99[1],
	    mean[2], p99[2], mean[3], p99[3], fill_s, load_s);
}

/*
 * Rewrites the environment without free pages, and opens it again, which
 * loads the band keys into memory as a daemon's start does: *load_s is
 * how long that open took.  The bulk fill leaves a
 * freelist of hundreds of thousands of pages that every write transaction
 * would merge again (mdb_midl_xmerge, most of a lookup's time at 1M
 * documents, since the timed transactions are rolled back); a daemon that
 * commits each document keeps a short one.
 */
static MDB_env *
compact(MDB_env *env, const char *dir, struct dedup_dbs *dbs, double *load_s)
{
	char copy[1100], path[1200];
	double t0;
	int rc;

	snprintf(copy, sizeof(copy), "%s.compact", dir);
	if (mkdir(copy, 0700) == -1 && errno != EEXIST)
		die(copy, errno);
	rc = mdb_env_copy2(env, copy, MDB_CP_COMPACT);
	if (rc != 0)
		die("mdb_env_copy2", rc);
	dedup_close(dbs);
	mdb_env_close(env);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
	if (rename(copy, dir) == -1)
		die(dir, errno);
	t0 = mono_ns();
	env = env_open(dir, (size_t)16 << 30, dbs);
	*load_s = (mono_ns() - t0) / 1e9;
	return env;
}

/*
 * Walks every entry once, so every page is mapped, as in a daemon that has
 * run for a while: otherwise each timed lookup pays ~20 first-touch page
 * faults on the freshly written file and the figures measure the kernel.
 */
static void
warm(MDB_env *env, const struct dedup_dbs *dbs)
{
	MDB_dbi dbi[2] = { dbs->keys, dbs->sigs };
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	for (int i = 0; i < 2 && rc == 0; i++) {
		rc = mdb_cursor_open(txn, dbi[i], &cur);
		while (rc == 0)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		mdb_cursor_close(cur);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	}
	if (rc != 0)
		die("warm", rc);
	mdb_txn_abort(txn);
}

static int
run_scale(const char *tmp, int argc, char **argv)
{
	struct dedup_dbs dbs;
	char dir[1024];
	uint64_t done = 0;
	MDB_env *env;

	snprintf(dir, sizeof(dir), "%s/scale", tmp);
	env = env_open(dir, (size_t)16 << 30, &dbs);
	printf("\nLMDB bytes per near-indexed document (pages in use / "
	    "documents), heap bytes per document of the in-memory index, "
	    "dedup_check_insert CPU time in us, mean and p99 of 2000, in a "
	    "write transaction of its own (or shared by 100), rolled back, on "
	    "a compacted and mapped environment, and seconds to fill and to "
	    "open (load) the index\n");
	printf("%9s %6s %6s %6s %6s %15s %15s %15s %15s %7s %7s\n",
	    "docs", "bytes", "keys", "sigs", "memory", "new doc",
	    "new doc, 100/tx", "near copy", "exact copy", "fill s", "load s");
	for (int i = 0; i < argc; i++) {
		uint64_t n = strtoull(argv[i], NULL, 10);
		double t0 = mono_ns(), fill_s, load_s;

		if (n <= done)
			continue;
		fill(env, &dbs, done + 1, n);
		fill_s = (mono_ns() - t0) / 1e9;
		done = n;
		env = compact(env, dir, &dbs, &load_s);
		warm(env, &dbs);
		report_scale(env, &dbs, n, fill_s, load_s);
	}
	dedup_close(&dbs);
	mdb_env_close(env);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "eval") == 0)
		return run_eval(argv[2], argv[3]);
	if (argc >= 4 && strcmp(argv[1], "scale") == 0)
		return run_scale(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: bench-dedup eval CASES.jsonl TMPDIR\n"
	    "       bench-dedup scale TMPDIR N...\n");
	return 2;
}
