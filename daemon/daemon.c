/*
 * daemon.c - sluiced's life: opening the store and recovering, wiring the
 * modules together, the order of each pass of the loop (daemon_pass),
 * timers, signals, reload and shutdown.  The top of the daemon: no module
 * includes daemon.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "control.h"
#include "cluster.h"
#include "daemon.h"
#include "fetch.h"
#include "guard.h"
#include "log.h"
#include "notify.h"
#include "reindex.h"
#include "util.h"
#include "warc.h"
#include "warcbody.h"
#include "work.h"

#define INDEX_BATCH	1024	/* unindexed jobs indexed per idle turn */
#define INDEX_IDLE_MS	5	/* client silence before turns index */
#define INDEX_LAG_MS	250	/* ...or this long since the last batch */
#define PLAN_SPACING_MS	5	/* least time between commits that plan */

/* --- timers and signals -------------------------------------------- */

static void
daemon_on_wake(evutil_socket_t fd, short what, void *arg)
{
	/* Nothing to do here: the turn that follows does the work. */
}

static void
daemon_update_status(struct daemon *d)
{
	const struct queue_counts *c = &d->queue.counts;
	char s[256];

	snprintf(s, sizeof(s), "%s%squeued %llu, active %llu, done %llu, "
	    "failed %llu", d->command.stopping ? "stopping; " : "",
	    d->command.paused ? "paused; " : "",
	    (unsigned long long)c->state[JOB_QUEUED],
	    (unsigned long long)c->state[JOB_ACTIVE],
	    (unsigned long long)c->state[JOB_DONE],
	    (unsigned long long)c->state[JOB_FAILED]);
	if (strcmp(s, d->last_status) != 0) {
		notify_status(s);
		snprintf(d->last_status, sizeof(d->last_status), "%s", s);
	}
}

static void
daemon_on_cron(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	daemon_update_status(d);
	metrics_tick(&d->metrics, mono_ms() / 1000, d->queue.counts.fetched,
	    d->metrics.fetched_bytes);
	store_trim(&d->store, d->cfg.max_mapped);
	/* Damaged job records: at most a line a second, only when more
	 * were met. */
	if (d->queue.damaged != d->damaged_logged) {
		log_warnx("store: %llu damaged job records passed by so far; "
		    "sluiced --check names them",
		    (unsigned long long)d->queue.damaged);
		d->damaged_logged = d->queue.damaged;
	}
	/* Take submissions again every 10 s: the cap may have been raised,
	 * or deletes may have freed pages; a full disk, once it has room.
	 * A store that cannot commit at all is retried on its own backoff
	 * (daemon_pass). */
	if (d->store.full && ++d->cron_ticks % 10 == 0 &&
	    store_may_retry(&d->store))
		d->store.full = false;
	if (d->cluster != NULL) {
		json_t *summary = command_summary_json(&d->command);

		cluster_cron(d->cluster, summary);
		json_decref(summary);
	}
	if (d->command.stopping && (d->sched.inflight == 0 ||
	    mono_ms() >= d->stop_deadline))
		d->done = true;
}

static void
daemon_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	notify_watchdog();
}

void
daemon_stop(struct daemon *d)
{
	if (d->command.stopping)
		return;
	log_notice("stopping: %u transfers in flight, up to %llu ms",
	    d->sched.inflight, (unsigned long long)d->cfg.shutdown_timeout_ms);
	notify_stopping();
	d->command.stopping = true;
	d->leases.stopping = true;
	d->stop_deadline = mono_ms() + d->cfg.shutdown_timeout_ms;
	if (d->sched.inflight == 0)
		d->done = true;
}

static void
daemon_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	char err[512];

	if (sig != SIGHUP) {
		daemon_stop(d);
		return;
	}
	json_t *applied = json_array(), *restart = json_array();
	if (daemon_reload(d, applied, restart, err, sizeof(err)) == -1)
		log_warnx("reload: %s", err);
	json_decref(applied);
	json_decref(restart);
}

static struct event *
daemon_timer_new(struct daemon *d, event_callback_fn fn, uint64_t period_ms)
{
	struct timeval tv = { (time_t)(period_ms / 1000),
	    (suseconds_t)(period_ms % 1000) * 1000 };
	struct event *ev = event_new(d->base, -1, period_ms ? EV_PERSIST : 0,
	    fn, d);

	if (ev == NULL)
		fatalx("event_new");
	if (period_ms)
		event_add(ev, &tv);
	return ev;
}

static struct event *
daemon_signal_new(struct daemon *d, int sig)
{
	struct event *ev = evsignal_new(d->base, sig, daemon_on_signal, d);

	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("cannot watch signal %d", sig);
	return ev;
}

/* --- setup --------------------------------------------------------- */

/* Opens the databases, requeues what was active at a crash, and loads the
 * hosts that have ready jobs. */
/* One attempt at the recovery transaction: opens the databases, requeues
 * what was active at a crash, loads the hosts with ready jobs.  0, or an
 * LMDB error with everything it did in memory undone. */
static int
daemon_recover(struct daemon *d, uint64_t *n, char *err, size_t errlen)
{
	MDB_txn *txn;
	uint64_t poisoned = 0;
	int rc;

	*n = 0;
	err[0] = '\0';
	rc = store_txn_write(&d->store, &txn);
	if (rc != 0)
		return rc;
	queue_turn_begin(&d->queue);
	if ((rc = doc_open(&d->docs, txn)) != 0 ||
	    (rc = warcbody_dbi(txn, &d->command.warc_bodies)) != 0 ||
	    (rc = hosts_open(&d->hosts, txn)) != 0 ||
	    (rc = feeds_open(&d->feeds, txn)) != 0 ||
	    (rc = dedup_open(txn, &d->dedup, &d->page_opts.dedup, err,
	    errlen)) != 0 ||
	    (rc = sitemem_open(&d->sitemem, txn)) != 0 ||
	    (rc = outcome_recover(&d->outcomes, txn, d->cfg.max_interrupted,
	    &poisoned)) != 0 ||
	    (rc = queue_recover(&d->queue, txn, n)) != 0 ||
	    (rc = queue_ready_hosts(&d->queue, txn, sched_host_ready_cb,
	    &d->sched)) != 0 ||
	    (rc = queue_turn_flush(&d->queue, txn)) != 0)
		mdb_txn_abort(txn);
	else
		rc = mdb_txn_commit(txn);
	d->reclean.warc_bodies = d->command.warc_bodies;
	if (rc != 0) {
		queue_turn_abort(&d->queue);
		dedup_close(&d->dedup);
	}
	return rc;
}

/*
 * Opens the store and recovers.  The recovery transaction grows the map
 * and starts over on MDB_MAP_FULL, as every turn does: a store copied with
 * `mdb_copy -c` (a restored backup), or one whose map LMDB sized to the
 * data alone, may have no free page left for it.
 */
static void
daemon_open_store(struct daemon *d)
{
	char err[512], gerr[256];
	uint64_t n = 0;
	int rc;

	if (store_open_flags(&d->store, d->cfg.state_dir, d->cfg.map_size,
	    d->cfg.map_size_max, d->store_flags, err, sizeof(err)) == -1)
		fatalx("store: %s", err);
	if ((rc = queue_open(&d->queue, &d->store)) != 0)
		fatalx("store: queue: %s", mdb_strerror(rc));
	queue_set_policy(&d->queue, d->cfg.max_attempts, d->cfg.retry_base_ms,
	    d->cfg.retry_max_ms);
	queue_set_notify(&d->queue, sched_ready_cb, &d->sched);
	queue_set_backlog(&d->queue, d->cfg.index_backlog);
	if (outcome_slots_open(&d->outcomes, d->cfg.state_dir, err,
	    sizeof(err)) == -1)
		fatalx("store: %s", err);
	while ((rc = daemon_recover(d, &n, err, sizeof(err))) == MDB_MAP_FULL) {
		if (store_grow(&d->store, gerr, sizeof(gerr)) == -1)
			fatalx("store: recovery needs more room: %s", gerr);
		log_notice("store: map grown to %llu bytes to recover",
		    (unsigned long long)d->store.map_size);
	}
	if (rc != 0)
		fatalx("store: recovery: %s", err[0] != '\0' ? err :
		    mdb_strerror(rc));
	outcome_slots_clear(&d->outcomes);
	if (n > 0)
		log_notice("recovered %llu jobs that were in flight",
		    (unsigned long long)n);
	if ((rc = doc_upgrade(&d->docs, &d->store)) != 0)
		fatalx("store: giving documents their checksums: %s",
		    mdb_strerror(rc));
	dedup_note_full(&d->dedup);
}

/* After an upgrade of the duplicate index's format, before any work. */
static void
daemon_reindex_dedup(struct daemon *d)
{
	char err[256];

	if (reindex_dedup(&d->store, &d->docs, &d->dedup,
	    &d->page_opts.dedup, err, sizeof(err)) != 0)
		fatalx("dedup: re-indexing: %s", err);
}

/* fetch_guard_fn: nonzero refuses a connection to sa. */
static int
daemon_guard_refuses(const struct sockaddr *sa, socklen_t len, void *arg)
{
	return guard_allows(arg, sa, len) ? 0 : -1;
}

static void
daemon_on_request(struct ctl_conn *c, const char *line, size_t len, void *arg)
{
	command_dispatch(arg, c, line, len);
}

/* command_calls.reload */
static int
daemon_on_reload(void *arg, json_t *applied, json_t *restart, char *err,
    size_t errlen)
{
	return daemon_reload(arg, applied, restart, err, errlen);
}

static const char *
daemon_socket_path(struct daemon *d, char *buf, size_t len)
{
	const char *rt = getenv("RUNTIME_DIRECTORY");

	if (d->cfg.socket != NULL && d->cfg.socket[0] != '\0')
		return d->cfg.socket;
	if (rt != NULL && *rt != '\0') {
		/* RUNTIME_DIRECTORY may list several, colon-separated. */
		snprintf(buf, len, "%.*s/control.sock",
		    (int)strcspn(rt, ":"), rt);
		return buf;
	}
	snprintf(buf, len, "%s/control.sock", d->cfg.state_dir);
	return buf;
}

/* Splits dedup.strip_params ("a, b,c") into a NULL-terminated array. */
static char **
daemon_split_params(const char *list)
{
	size_t n = 1;
	char **v, *copy, *tok, *save;

	for (const char *p = list; *p; p++)
		n += *p == ',';
	v = calloc(n + 1, sizeof(*v));
	copy = strdup(list);
	if (v == NULL || copy == NULL) {
		free(v);
		free(copy);
		return NULL;
	}
	n = 0;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save))
		v[n++] = strdup(tok);
	free(copy);
	return v;
}

static void
daemon_free_params(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Options of the worker stage and of URL checking, from d->cfg.  Pages
 * copy their options when created, so changing these is thread-safe. */
static void
daemon_configure_pages(struct daemon *d)
{
	struct page_opts *po = &d->page_opts;

	sluice_extract_opts_default(&po->extract);
	po->extract.max_input = d->cfg.max_html;
	sluice_extract_budget_default(&po->budget);
	po->budget.max_seconds = (double)d->cfg.max_clean_time_ms / 1000.0;
	po->budget.max_attributes = d->cfg.max_attributes;
	po->budget.max_elements = d->cfg.max_elements;
	po->budget.min_elements = d->cfg.min_elements;
	po->budget.bytes_per_element = d->cfg.bytes_per_element;
	po->budget.max_depth = d->cfg.max_depth;
	po->budget.max_tag_work = d->cfg.max_tag_work;
	dedup_opts_default(&po->dedup);
	po->dedup.near_threshold = d->cfg.near_threshold;
	po->dedup.min_words = d->cfg.min_words;
	po->dedup.index_memory_max = d->cfg.index_memory_max;
	po->extract.site_memory = sitemem_live(&d->sitemem);
	d->reclean.max_raw = d->cfg.max_body;
	po->keep_raw = d->cfg.keep_raw;
	po->serves_raw = d->cfg.warc_serves_raw;
	feed_limits_default(&po->feed);
	po->feed.max_bytes = d->cfg.feed_max_bytes;
	po->feed.max_entries = d->cfg.feed_max_entries;
	po->feed.max_children = d->cfg.feed_max_children;
	po->zstd_level = d->cfg.zstd_level;
	daemon_free_params(d->strip_params);
	d->strip_params = daemon_split_params(d->cfg.strip_params);
	url_opts_default(&d->url_opts);
	d->url_opts.max_length = d->cfg.max_url_length;
	d->url_opts.strip_params = (const char *const *)d->strip_params;
}

/* --- metrics ------------------------------------------------------- */

static void
daemon_count_host(struct sched_host *h, void *arg)
{
	struct metrics_gauges *g = arg;

	g->hosts_active += h->inflight > 0;
	g->hosts_backoff += h->backoff_until_ms > g->now_ms;
}

/* metrics_gauges_fn: what the queue, the scheduler and the store say. */
static void
daemon_gauges(struct metrics_gauges *g, void *arg)
{
	struct daemon *d = arg;
	const struct queue_counts *c = &d->queue.counts;
	uint64_t dups = c->dup_url + c->dup_exact + c->dup_near;

	for (int i = 0; i < JOB_NSTATES && i < (int)ARRAY_LEN(g->jobs); i++) {
		g->job_states[i] = job_state_name(i);
		g->jobs[i] = c->state[i];
		g->njobs = (size_t)i + 1;
	}
	g->documents[0] = c->fetched > dups ? c->fetched - dups : 0;
	g->documents[1] = c->dup_url;
	g->documents[2] = c->dup_exact;
	g->documents[3] = c->dup_near;
	for (int i = STORE_OK; i <= STORE_FAILING; i++)
		g->store_conditions[i] = store_condition_name(i);
	g->store_condition = (int)d->store.condition;
	g->feed_sources = d->feeds.nsrc;
	g->feed_polls[0] = d->feeds.counts.changed;
	g->feed_polls[1] = d->feeds.counts.not_modified;
	g->feed_polls[2] = d->feeds.counts.errors;
	g->feed_entries[0] = d->feeds.counts.entries_new;
	g->feed_entries[1] = d->feeds.counts.entries_known;
	g->feed_entries[2] = d->feeds.counts.entries_old;
	g->feed_children[0] = d->feeds.counts.children_fetched;
	g->feed_children[1] = d->feeds.counts.children_unchanged;
	g->now_ms = now_ms();
	if (d->warc != NULL) {
		struct warc_stats st;

		warc_get_stats(d->warc, &st);
		g->warc = true;
		g->warc_records = st.records;
		g->warc_revisits = st.revisits;
		g->warc_bytes = st.bytes;
		g->warc_busy = st.busy;
	}
	if (d->cluster != NULL)
		cluster_gauges(d->cluster, g);
	sched_walk(&d->sched, daemon_count_host, g);
	store_usage(&d->store, &g->store_used, &g->store_map);
}

/* Opens, moves or closes the endpoint as metrics.listen says.  At start
 * a failure is fatal; at a reload the old listener stays. */
static void
daemon_configure_metrics(struct daemon *d, bool starting)
{
	const char *want = d->cfg.metrics_listen ? d->cfg.metrics_listen : "";
	struct metrics_http *h = NULL;
	char err[512];

	if (strcmp(want, d->metrics_listen ? d->metrics_listen : "") == 0)
		return;
	if (want[0] != '\0') {
		h = metrics_http_new(d->base, &d->metrics, want, err,
		    sizeof(err));
		if (h == NULL && starting)
			fatalx("metrics.listen: %s", err);
		if (h == NULL) {
			log_warnx("metrics.listen: %s; still serving on %s", err,
			    d->metrics_listen ? d->metrics_listen : "nothing");
			return;
		}
	}
	metrics_http_free(d->metrics_http);
	free(d->metrics_listen);
	d->metrics_http = h;
	d->metrics_listen = h != NULL ? strdup(want) : NULL;
	if (h != NULL)
		log_notice("metrics: serving /metrics on %s", want);
}

/* Applies the live-changeable settings from d->cfg. */
static void
daemon_configure(struct daemon *d)
{
	struct control_limits lim = { d->cfg.max_clients, d->cfg.max_request,
	    d->cfg.max_reply_buffer, d->cfg.max_reply_memory };

	log_set_level(d->cfg.log_level);
	sched_configure(&d->sched, d->cfg.max_total, d->cfg.max_per_host,
	    d->cfg.host_delay_ms);
	d->sched.respect_robots = d->cfg.respect_robots;
	robots_limits_default(&d->leases.limits);
	robots_cache_ttl_default(&d->leases.ttl);
	d->turn.commit_interval_ms = d->cfg.commit_interval_ms;
	d->outcomes.max_at_workers = d->cfg.max_pending;
	queue_set_policy(&d->queue, d->cfg.max_attempts, d->cfg.retry_base_ms,
	    d->cfg.retry_max_ms);
	queue_set_retry_after_bounds(&d->queue, d->cfg.host_delay_ms,
	    d->cfg.host_backoff_max_ms);
	queue_set_backlog(&d->queue, d->cfg.index_backlog);
	store_set_max(&d->store, d->cfg.map_size_max);
	d->store.disk_full_below = d->cfg.disk_full_below;
	/* config_validate() already refused what fetch_configure() could
	 * not take (line breaks in headers); only ENOMEM is left. */
	if (d->fetch != NULL && fetch_configure(d->fetch, &d->cfg) == -1)
		log_warnx("fetch settings not applied: out of memory");
	if (d->control != NULL)
		control_set_limits(d->control, &lim);
	if (d->control != NULL)		/* started: reload moves it */
		daemon_configure_metrics(d, false);
	daemon_configure_pages(d);
}

/* --- the turn's steps ---------------------------------------------- */

/* Turn step: the queue's counts are saved, to be restored on abort. */
static int
daemon_step_begin(void *arg, MDB_txn *txn, uint64_t now)
{
	queue_turn_begin(arg);
	return 0;
}

static void
daemon_step_begin_abort(void *arg)
{
	queue_turn_abort(arg);
}

/*
 * Milliseconds until turns may index the intake: 0 now, -1 never (nothing
 * waits, or the store refuses commits).  Indexing waits for clients to
 * fall silent: a burst's commits then stay small, and the indexing of
 * what it left is done in large, cheap batches.  But not for ever: under
 * a stream of submissions that never pauses, a batch is indexed every
 * INDEX_LAG_MS anyway, or nothing it brought would be fetched until it
 * ended (40,000 jobs acknowledged and none started 1.4 s later).
 */
static int64_t
daemon_index_wait(const struct daemon *d, uint64_t mono)
{
	uint64_t due = d->last_client_mono + INDEX_IDLE_MS,
	    lag = d->indexed_mono + INDEX_LAG_MS;

	if (queue_unindexed(&d->queue) == 0 || d->store.stuck ||
	    d->store.full)
		return -1;	/* a full store has no room for the indexes */
	if (lag < due)
		due = lag;
	return due > mono ? (int64_t)(due - mono) : 0;
}

/* Turn step: submissions wait in the intake while clients keep the loop
 * busy (queue_submit bounds them); a turn nobody waits on indexes them,
 * and so does one every INDEX_LAG_MS whoever waits. */
static int
daemon_step_index(void *arg, MDB_txn *txn, uint64_t now)
{
	struct daemon *d = arg;
	uint64_t mono = mono_ms();

	if (daemon_index_wait(d, mono) != 0 || (ops_pending(&d->ops) &&
	    mono < d->indexed_mono + INDEX_LAG_MS))
		return 0;
	d->indexed_mono = mono;
	return queue_index(&d->queue, txn, INDEX_BATCH, now, NULL);
}

/* Turn step: delayed jobs that are due become ready.  It runs again after
 * planning, which may have sent jobs back for a retry (robots.txt
 * unreachable): the wake-up then covers the next delayed job. */
static int
daemon_step_promote(void *arg, MDB_txn *txn, uint64_t now)
{
	struct daemon *d = arg;

	return queue_promote(&d->queue, txn, now, sched_ready_cb, &d->sched,
	    &d->next_due_ms);
}

/* Turn step: the WARC records of what the steps before it recorded,
 * written and synced before the commit that marks their jobs done. */
static int
daemon_step_warc(void *arg, MDB_txn *txn, uint64_t now)
{
	struct daemon *d = arg;

	return warc_apply(d->warc, txn, now);
}

/* cluster_env.lost: a partition's lease was lost, its transfers end. */
static void
daemon_cluster_lost(void *arg, const uint64_t *ids, size_t n)
{
	struct daemon *d = arg;

	if (d->fetch != NULL)
		fetch_abort_jobs(d->fetch, ids, n);
}

/* Turn step: the cluster's frontier messages become jobs (cluster mode). */
static int
daemon_step_cluster(void *arg, MDB_txn *txn, uint64_t now)
{
	struct daemon *d = arg;

	return cluster_apply(d->cluster, txn, now);
}

static void
daemon_step_cluster_abort(void *arg)
{
	struct daemon *d = arg;

	cluster_abort(d->cluster);
}

static void
daemon_step_warc_abort(void *arg)
{
	struct daemon *d = arg;

	warc_abort(d->warc);
}

static int
daemon_step_flush(void *arg, MDB_txn *txn, uint64_t now)
{
	return queue_turn_flush(arg, txn);
}

/* The order of every turn's transaction.  Robots.txt files are cached
 * before planning reads them; client ops come before fetch results, so a
 * cancel wins over a page of the same job; planning comes last, when the
 * slots and hosts that the results freed are known. */
static void
daemon_steps(struct daemon *d)
{
	const struct turn_step steps[DAEMON_NSTEPS] = {
		{ "begin", daemon_step_begin, daemon_step_begin_abort,
		    &d->queue },
		{ "robots", lease_cache_robots, lease_cache_abort,
		    &d->leases },
		{ "feeds", feeds_step, feeds_abort, &d->feeds },
		{ "ops", ops_apply, ops_abort, &d->ops },
		{ "cluster", daemon_step_cluster, daemon_step_cluster_abort,
		    d },
		{ "index", daemon_step_index, NULL, d },
		{ "outcomes", outcome_apply, outcome_abort, &d->outcomes },
		{ "sites", sitemem_apply, sitemem_abort, &d->sitemem },
		{ "reclean", reclean_apply, reclean_abort, &d->reclean },
		{ "promote", daemon_step_promote, NULL, d },
		{ "plan", lease_plan, lease_plan_abort, &d->leases },
		{ "promote", daemon_step_promote, NULL, d },
		{ "warc", daemon_step_warc, daemon_step_warc_abort, d },
		{ "flush", daemon_step_flush, NULL, &d->queue },
	};

	memcpy(d->steps, steps, sizeof(steps));
	turn_init(&d->turn, &d->store, d->steps, DAEMON_NSTEPS);
}

/* --- each pass of the loop ----------------------------------------- */

/* Milliseconds until a source's poll is due (0: now), or -1 if none is
 * waiting; none while the store refuses submissions. */
static int64_t
daemon_feed_due(const struct daemon *d, uint64_t now)
{
	uint64_t due = feeds_next_due(&d->feeds);

	if (due == 0 || d->store.full || d->command.stopping)
		return -1;
	return due > now ? (int64_t)(due - now) : 0;
}

static bool
daemon_may_dispatch(const struct daemon *d)
{
	return !d->command.paused && !d->command.stopping &&
	    !d->store.stuck && outcome_room(&d->outcomes);
}

/*
 * What the pending work asks of the turn.  A client waiting for an answer
 * (an op) is served at once; fetched documents, failures and new leases
 * may wait up to store.commit_interval, unless results for half of
 * fetch.max_total are waiting: each commit syncs, and one sync per
 * handful of pages kept the loop blocked more than it ran.  Nothing is at
 * risk meanwhile: a crash before the commit means a refetch.
 */
/* A re-clean batch is back while nothing fetched waits for a turn. */
static bool
daemon_reclean_alone(struct daemon *d)
{
	return reclean_pending(&d->reclean) && !outcome_pending(&d->outcomes);
}

static enum turn_need
daemon_need(struct daemon *d, uint64_t now)
{
	uint64_t mono = mono_ms();
	bool plan = d->leases.dispatch &&
	    d->sched.inflight < d->sched.max_total &&
	    sched_next_wakeup(&d->sched, now) == 0;

	if (ops_pending(&d->ops) ||
	    (d->command.stopping && outcome_pending(&d->outcomes)))
		return TURN_NOW;
	if (d->store.stuck)
		return TURN_NOW;	/* its backoff is over: try again */
	if (!outcome_pending(&d->outcomes) && daemon_index_wait(d, mono) == 0)
		return TURN_NOW;	/* nothing gathers: index now */
	if (d->outcomes.count * 2 >= d->sched.max_total)
		return TURN_NOW;
	/*
	 * Idle fetch slots and a host that may start: plan at once.  Over
	 * loopback a transfer ends within milliseconds, and slots waiting
	 * for the commit interval sat idle most of it: 500 hosts started
	 * 200 requests a second where politeness allowed 500.  A pass that
	 * planned this way and started nothing falls back to gathering, so
	 * a host that looks due with nothing to lease cannot spin the loop;
	 * and such commits are PLAN_SPACING_MS apart at least, since each
	 * one syncs.
	 */
	if (plan && !d->plan_stalled &&
	    mono >= d->turn.last_commit_mono + PLAN_SPACING_MS)
		return TURN_NOW;
	/*
	 * A re-clean batch back from the workers while nothing fetched
	 * waits: written now, so that the next batch goes out.  Waiting for
	 * the commit interval held a pass on an idle daemon to 8 documents
	 * a commit interval.  While pages arrive, it rides their commits.
	 */
	if (daemon_reclean_alone(d) &&
	    mono >= d->turn.last_commit_mono + PLAN_SPACING_MS)
		return TURN_NOW;
	if (outcome_pending(&d->outcomes) || plan ||
	    reclean_pending(&d->reclean) || cluster_pending(d->cluster) ||
	    (d->next_due_ms != 0 && now >= d->next_due_ms) ||
	    daemon_feed_due(d, now) == 0)
		return TURN_GATHER;
	return TURN_IDLE;
}

/* Arms the wake timer for the next due job, host slot or commit, or for
 * now when replies let pipelined requests queue work during the pass. */
static void
daemon_arm_wake(struct daemon *d, uint64_t now)
{
	uint64_t mono = mono_ms(), spaced = d->turn.last_commit_mono +
	    PLAN_SPACING_MS;
	int64_t ms = daemon_may_dispatch(d) && !d->plan_stalled ?
	    sched_next_wakeup(&d->sched, now) : -1;
	int64_t w = turn_wait_ms(&d->turn, mono);
	int64_t iw = daemon_index_wait(d, mono), fd;
	struct timeval tv;

	/* A host's next start, but not before commits may plan again. */
	if (ms >= 0 && spaced > mono && (uint64_t)ms < spaced - mono)
		ms = (int64_t)(spaced - mono);
	if (ops_pending(&d->ops))
		ms = 0;
	else if (w >= 0 && (ms < 0 || w < ms))
		ms = w;
	else if (w < 0 && (outcome_pending(&d->outcomes) ||
	    reclean_pending(&d->reclean) || reclean_wants_feed(&d->reclean)))
		ms = 0;
	if (iw >= 0 && (ms < 0 || iw < ms))
		ms = iw;
	/* A re-clean batch on an idle daemon: once commits are spaced. */
	if (daemon_reclean_alone(d)) {
		int64_t rw = spaced > mono ? (int64_t)(spaced - mono) : 0;
		if (ms < 0 || rw < ms)
			ms = rw;
	}
	if (d->next_due_ms != 0) {
		int64_t due = d->next_due_ms > now ?
		    (int64_t)(d->next_due_ms - now) : 0;
		if (ms < 0 || due < ms)
			ms = due;
	}
	if ((fd = daemon_feed_due(d, now)) >= 0 && (ms < 0 || fd < ms))
		ms = fd;
	if (d->store.stuck)
		ms = d->stuck_until_mono > mono ?
		    (int64_t)(d->stuck_until_mono - mono) : 0;
	if (ms < 0) {
		event_del(d->wake);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(d->wake, &tv);
}

/*
 * One pass, after the event loop has gathered work.  The order is the
 * daemon's contract: the transaction first; then what it changed is made
 * real in memory; then clients hear back, since only now is what they are
 * told on disk; then the transfers it leased start.
 */
/*
 * While the store cannot commit at all (at the cap with results that need
 * room, a full disk, an I/O error), turns are retried on a backoff: every
 * 250 ms at first, doubling to 30 s.  Before, pending results retried the
 * commit on a 0 ms timer: 85% of a core and a thousand log lines a second
 * with no client doing anything.  Meanwhile requests are answered with the
 * store's error at once.
 */
#define STUCK_RETRY_MIN_MS	250
#define STUCK_RETRY_MAX_MS	30000

/* Answers the pending requests with the error the store's last failed
 * commit gives. */
static void
daemon_refuse_ops(struct daemon *d)
{
	static const enum proto_err codes[] = {
		[STORE_OK] = PROTO_INTERNAL, [STORE_FULL] = PROTO_STORE_FULL,
		[STORE_DISK_FULL] = PROTO_DISK_FULL,
		[STORE_FAILING] = PROTO_INTERNAL,
	};

	ops_fail(&d->ops, codes[d->store.condition],
	    d->store.condition == STORE_DISK_FULL ? "the disk is full: the "
	    "store cannot take this change now" :
	    "the store cannot take this change now");
	command_answer(&d->command, ops_take(&d->ops));
}

static bool
daemon_stuck_waits(struct daemon *d)
{
	if (!d->store.stuck || mono_ms() >= d->stuck_until_mono)
		return false;
	if (ops_pending(&d->ops))
		daemon_refuse_ops(d);
	return true;
}

static void
daemon_stuck_note(struct daemon *d, enum turn_result r)
{
	if (r == TURN_FAILED) {
		d->stuck_backoff_ms = d->stuck_backoff_ms == 0 ?
		    STUCK_RETRY_MIN_MS : d->stuck_backoff_ms * 2;
		if (d->stuck_backoff_ms > STUCK_RETRY_MAX_MS)
			d->stuck_backoff_ms = STUCK_RETRY_MAX_MS;
		d->stuck_until_mono = mono_ms() + d->stuck_backoff_ms;
	} else if (r == TURN_COMMITTED && d->stuck_backoff_ms != 0) {
		log_notice("store: commits again");
		d->stuck_backoff_ms = 0;
	}
}

static void
daemon_pass(struct daemon *d)
{
	uint64_t now = now_ms();
	bool clients = ops_pending(&d->ops);
	enum turn_need need;
	enum turn_result r;

	if (daemon_stuck_waits(d)) {
		command_check_waiters(&d->command);
		daemon_arm_wake(d, now);
		return;
	}
	d->leases.dispatch = daemon_may_dispatch(d);
	need = daemon_need(d, now);
	r = turn_run(&d->turn, need, now);
	daemon_stuck_note(d, r);
	if (r == TURN_COMMITTED) {
		metrics_observe(&d->metrics.commit_duration,
		    (double)(d->turn.last_apply_us + d->turn.last_commit_us) /
		    1e6);
		dedup_commit(&d->dedup);
		warc_committed(d->warc);
		sitemem_commit(&d->sitemem);
		reclean_commit(&d->reclean);
		sched_commit(&d->sched, now);
		outcome_finish(&d->outcomes);
		cluster_commit(d->cluster);
		if (clients)
			d->last_client_mono = mono_ms();
		command_answer(&d->command, ops_take(&d->ops));
		lease_start(&d->leases);
		d->plan_stalled = need == TURN_NOW && !clients &&
		    d->leases.started == 0;
	} else if (r == TURN_FAILED)
		daemon_refuse_ops(d);
	command_answer(&d->command, cluster_take_answers(d->cluster));
	command_check_waiters(&d->command);
	reclean_feed(&d->reclean);
	daemon_arm_wake(d, now_ms());
}

/* --- setup --------------------------------------------------------- */

/* Gives each module its context: what it may reach of the daemon. */
static void
daemon_wire(struct daemon *d)
{
	metrics_init(&d->metrics);
	d->metrics.gauges = daemon_gauges;
	d->metrics.gauges_arg = d;
	ops_init(&d->ops, &d->queue, &d->sched, &d->store);
	d->ops.metrics = &d->metrics;
	d->ops.feeds = &d->feeds;
	d->feeds.queue = &d->queue;
	d->feeds.sched = &d->sched;
	d->feeds.hosts = &d->hosts;
	d->feeds.cfg = &d->cfg;
	d->feeds.url_opts = &d->url_opts;
	d->ops.cancelled = outcome_cancel;
	d->ops.cancelled_arg = &d->outcomes;
	outcome_init(&d->outcomes);
	d->outcomes.metrics = &d->metrics;
	d->outcomes.queue = &d->queue;
	d->outcomes.docs = &d->docs;
	d->outcomes.dedup = &d->dedup;
	d->outcomes.sched = &d->sched;
	d->outcomes.cfg = &d->cfg;
	d->outcomes.url_opts = &d->url_opts;
	d->outcomes.page_opts = &d->page_opts;
	d->outcomes.feeds = &d->feeds;
	d->outcomes.sitemem = &d->sitemem;
	d->reclean = (struct reclean){ .store = &d->store, .docs = &d->docs,
	    .dedup = &d->dedup, .queue = &d->queue,
	    .page_opts = &d->page_opts };
	d->leases = (struct leases){ .sched = &d->sched, .queue = &d->queue,
	    .hosts = &d->hosts, .docs = &d->docs, .outcomes = &d->outcomes,
	    .cfg = &d->cfg, .metrics = &d->metrics, .feeds = &d->feeds };
	d->command = (struct command){ .cfg = &d->cfg, .store = &d->store,
	    .queue = &d->queue, .docs = &d->docs, .sched = &d->sched,
	    .dedup = &d->dedup, .ops = &d->ops, .outcomes = &d->outcomes,
	    .leases = &d->leases, .metrics = &d->metrics, .feeds = &d->feeds,
	    .url_opts = &d->url_opts, .sitemem = &d->sitemem,
	    .reclean = &d->reclean,
	    .started_mono = mono_ms(),
	    .calls = { .reload = daemon_on_reload, .arg = d } };
	daemon_steps(d);
}

/* The site memory with extract.site_* (restart keys: made once). */
static void
daemon_init_sitemem(struct daemon *d)
{
	struct sluice_site_memory_opts o;

	sluice_site_memory_opts_default(&o);
	o.max_sites = d->cfg.site_max_sites;
	o.max_lines = d->cfg.site_max_lines;
	o.site_min_pages = d->cfg.site_min_pages;
	o.short_words = d->cfg.site_short_words;
	if (sitemem_init(&d->sitemem, d->cfg.site_memory ? &o : NULL) == -1)
		fatalx("site memory: out of memory");
}

void
daemon_start(struct daemon *d, int listen_fd)
{
	struct control_limits lim = { d->cfg.max_clients, d->cfg.max_request,
	    d->cfg.max_reply_buffer, d->cfg.max_reply_memory };
	char err[512], buf[4096];
	const char *path;
	uint64_t wd;

	d->base = event_base_new();
	if (d->base == NULL || sched_init(&d->sched) == -1)
		fatalx("out of memory");
	signal(SIGPIPE, SIG_IGN);
	daemon_wire(d);
	daemon_init_sitemem(d);
	daemon_open_store(d);
	daemon_configure(d);
	metrics_tick_base(&d->metrics, mono_ms() / 1000,
	    d->queue.counts.fetched, 0);
	if (d->dedup.reindex)
		daemon_reindex_dedup(d);
	if (warc_open(&d->warc, &d->cfg, &d->store, err, sizeof(err)) == -1)
		fatalx("%s", err);
	d->outcomes.warc = d->leases.warc = d->warc;
	d->page_opts.warc = d->warc;
	d->command.warc = d->warc;
	if (d->cfg.cluster_nats[0] != '\0') {
		struct cluster_env env = { &d->store, &d->queue, &d->sched,
		    &d->docs, &d->url_opts, daemon_cluster_lost, d };

		if (cluster_open(&d->cluster, d->base, &d->cfg, &env, err,
		    sizeof(err)) == -1)
			fatalx("%s", err);
		d->outcomes.stored = cluster_doc_stored;
		d->outcomes.redirected = cluster_redirected;
		d->outcomes.stored_arg = d->cluster;
		d->queue.on_finished = cluster_job_finished;
		d->queue.on_finished_arg = d->cluster;
		d->sched.allow = cluster_allows;
		d->sched.allow_arg = d->cluster;
		d->command.cluster = d->cluster;
		d->feeds.off = true;
		if (d->feeds.nsrc > 0)
			log_warnx("cluster: the %zu feeds and sites of this "
			    "store are not polled in cluster mode",
			    d->feeds.nsrc);
		d->command.base = d->base;
	}
	d->fetch = fetch_new(d->base, &d->cfg, lease_fetched, &d->leases, err,
	    sizeof(err));
	if (d->fetch == NULL)
		fatalx("fetch: %s", err);
	d->leases.fetch = d->command.fetch = d->fetch;
	d->guard = guard_new(d->cfg.allow_private_addresses, d->cfg.allow_cidrs,
	    err, sizeof(err));
	if (d->guard == NULL)
		fatalx("fetch.allow_cidrs: %s", err);
	fetch_set_guard(d->fetch, daemon_guard_refuses, d->guard);
	d->work = work_new(d->base, d->cfg.workers, outcome_page_done,
	    &d->outcomes, err, sizeof(err));
	if (d->work == NULL)
		fatalx("workers: %s", err);
	d->outcomes.work = d->command.work = d->reclean.work = d->work;
	/* Before the control socket: a listener that cannot be bound stops
	 * sluiced before any client could think it started. */
	daemon_configure_metrics(d, true);
	path = daemon_socket_path(d, buf, sizeof(buf));
	d->control = control_new(d->base, path, d->cfg.socket_mode, listen_fd,
	    &lim, daemon_on_request, &d->command, err, sizeof(err));
	if (d->control == NULL)
		fatalx("control: %s", err);
	d->command.control = d->control;
	d->wake = daemon_timer_new(d, daemon_on_wake, 0);
	d->cron = daemon_timer_new(d, daemon_on_cron, 1000);
	wd = notify_watchdog_usec();
	if (wd > 0)
		d->watchdog = daemon_timer_new(d, daemon_on_watchdog, wd / 2000 ? wd / 2000 : 1);
	d->sig_term = daemon_signal_new(d, SIGTERM);
	d->sig_int = daemon_signal_new(d, SIGINT);
	d->sig_hup = daemon_signal_new(d, SIGHUP);
	log_notice("sluiced %s ready: state %s, socket %s, %u workers, "
	    "%llu jobs queued", SLUICE_VERSION, d->cfg.state_dir,
	    listen_fd >= 0 ? "(socket activation)" : path,
	    work_threads(d->work),
	    (unsigned long long)d->queue.counts.state[JOB_QUEUED]);
	daemon_update_status(d);
	notify_ready();
}

static void
daemon_free(struct daemon *d)
{
	struct event *evs[] = { d->wake, d->cron, d->watchdog, d->sig_term,
	    d->sig_int, d->sig_hup };

	control_free(d->control);
	cluster_close(d->cluster);
	metrics_http_free(d->metrics_http);
	free(d->metrics_listen);
	for (size_t i = 0; i < ARRAY_LEN(evs); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	fetch_free(d->fetch);
	guard_free(d->guard);
	warc_close(d->warc);
	lease_free_pending(&d->leases);
	outcome_close(&d->outcomes);
	sched_free(&d->sched);
	queue_close(&d->queue);
	feeds_close(&d->feeds);
	dedup_close(&d->dedup);
	reclean_free(&d->reclean);
	sitemem_free(&d->sitemem);
	store_close(&d->store);
	daemon_free_params(d->strip_params);
	event_base_free(d->base);
}

#define GATHER_POLLS	4

/*
 * Before a commit that clients wait for, takes in the requests that came
 * while the loop read the others, so that they share this commit's sync
 * rather than wait for the next one, for an epoll_wait(2) that does not
 * block.  With 16 clients submitting one URL at a time, a commit carried
 * 10.5 of them on average, and 15.5 with this (bench/submit).
 */
static void
daemon_gather_ops(struct daemon *d)
{
	for (int i = 0; i < GATHER_POLLS && ops_pending(&d->ops); i++) {
		struct op **tail = d->ops.tail;

		(void)event_base_loop(d->base, EVLOOP_NONBLOCK);
		if (d->ops.tail == tail)
			break;		/* nobody else came */
	}
}

/* After the loop: the last results are stored, and every client that
 * still waits hears that the daemon stops. */
static void
daemon_shutdown(struct daemon *d)
{
	uint64_t now, until;

	/* In-flight transfers past the deadline are abandoned: their jobs
	 * stay active on disk and are requeued at the next start. */
	fetch_abort_all(d->fetch);
	/* Workers finish what they hold, within what is left of
	 * daemon.shutdown_timeout; one last turn stores it.  A page still
	 * being cleaned then is interrupted, and its job requeued at the
	 * next start. */
	now = mono_ms();
	until = d->stop_deadline != 0 ? d->stop_deadline :
	    now + d->cfg.shutdown_timeout_ms;
	(void)work_free(d->work, until > now ? until - now : 0);
	d->work = d->outcomes.work = d->command.work = d->reclean.work = NULL;
	d->command.paused = true;
	daemon_pass(d);
	/* Uncommitted results (the store was full): their jobs stay active
	 * on disk and are requeued at the next start. */
	outcome_free_pending(&d->outcomes);
	lease_free_pending(&d->leases);
	ops_fail(&d->ops, PROTO_SHUTTING_DOWN, "sluiced is stopping");
	command_answer(&d->command, ops_take(&d->ops));
	cluster_fail_forwards(d->cluster);
	command_answer(&d->command, cluster_take_answers(d->cluster));
	command_shutdown(&d->command);
}

int
daemon_run(struct daemon *d)
{
	int status = 0;

	while (!d->done) {
		if (event_base_loop(d->base, EVLOOP_ONCE) == -1) {
			log_errx("event loop failed");
			status = 1;
			break;
		}
		daemon_gather_ops(d);
		daemon_pass(d);
		if (d->command.stopping && d->sched.inflight == 0)
			d->done = true;
	}
	daemon_shutdown(d);
	log_notice("stopped: %llu queued, %llu done, %llu failed",
	    (unsigned long long)d->queue.counts.state[JOB_QUEUED],
	    (unsigned long long)d->queue.counts.state[JOB_DONE],
	    (unsigned long long)d->queue.counts.state[JOB_FAILED]);
	daemon_free(d);
	return status;
}

/* --- reload -------------------------------------------------------- */

struct reload_ctx {
	json_t	*applied;
	json_t	*restart;
};

static void
daemon_note_change(const char *key, bool restart, void *arg)
{
	struct reload_ctx *rc = arg;

	json_array_append_new(restart ? rc->restart : rc->applied,
	    json_string(key));
}

/*
 * A relative daemon.state_dir is taken from the directory sluiced started
 * in (d->cwd), at startup and at every reload alike, so a later chdir
 * cannot move it and a reload does not see it change.
 */
static int
daemon_absolute_state_dir(struct daemon *d, struct config *c, char *err,
    size_t errlen)
{
	char *abs;

	if (c->state_dir[0] == '/')
		return 0;
	abs = malloc(strlen(d->cwd) + strlen(c->state_dir) + 2);
	if (abs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sprintf(abs, "%s/%s", d->cwd, c->state_dir);
	free(c->state_dir);
	c->state_dir = abs;
	return 0;
}

int
daemon_load_config(struct daemon *d, struct config *c, char *err,
    size_t errlen)
{
	config_defaults(c);
	if (d->config_path != NULL &&
	    config_load_file(c, d->config_path, err, errlen) == -1)
		return -1;
	for (int i = 0; i < d->nsets; i++)
		if (config_set(c, d->sets[i], err, errlen) == -1)
			return -1;
	if (config_validate(c, err, errlen) == -1)
		return -1;
	return daemon_absolute_state_dir(d, c, err, errlen);
}

int
daemon_reload(struct daemon *d, json_t *applied, json_t *restart, char *err,
    size_t errlen)
{
	struct reload_ctx rc = { applied, restart };
	struct config next;

	if (daemon_load_config(d, &next, err, errlen) == -1) {
		config_free(&next);
		return -1;
	}
	config_diff(&d->cfg, &next, daemon_note_change, &rc);
	/* Keys that need a restart keep their running values. */
	for (size_t i = 0; i < json_array_size(restart); i++)
		if (config_keep(&next, &d->cfg,
		    json_string_value(json_array_get(restart, i))) == -1) {
			snprintf(err, errlen, "out of memory");
			config_free(&next);
			return -1;
		}
	config_free(&d->cfg);
	d->cfg = next;
	daemon_configure(d);
	d->store.full = false;
	log_notice("reloaded %s: %zu applied, %zu need a restart",
	    d->config_path ? d->config_path : "(defaults)",
	    json_array_size(applied), json_array_size(restart));
	return 0;
}
