/*
 * daemon.c - sluiced's life: opening the store and recovering, wiring the
 * fetcher, workers and control socket to the loop turn (turn.c), timers,
 * signals, reload and shutdown.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "sluice/command.h"
#include "sluice/control.h"
#include "sluice/daemon.h"
#include "sluice/fetch.h"
#include "sluice/guard.h"
#include "sluice/log.h"
#include "sluice/notify.h"
#include "sluice/turn.h"
#include "sluice/util.h"
#include "sluice/work.h"

/* --- timers and signals -------------------------------------------- */

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	/* Nothing to do here: the turn that follows does the work. */
}

static void
update_status(struct daemon *d)
{
	const struct queue_counts *c = &d->queue.counts;
	char s[256];

	snprintf(s, sizeof(s), "%s%squeued %llu, active %llu, done %llu, "
	    "failed %llu", d->stopping ? "stopping; " : "",
	    d->paused ? "paused; " : "",
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
on_cron(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	update_status(d);
	store_trim(&d->store, d->cfg.max_mapped);
	/* Try again every 10 s: the cap may have been raised, or deletes
	 * may have freed pages. */
	if ((d->store_full || d->store_stuck) && ++d->cron_ticks % 10 == 0) {
		d->store_full = false;
		d->store_stuck = false;
	}
	if (d->stopping && (d->sched.inflight == 0 ||
	    mono_ms() >= d->stop_deadline))
		d->done = true;
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	notify_watchdog();
}

void
daemon_stop(struct daemon *d)
{
	if (d->stopping)
		return;
	log_notice("stopping: %u transfers in flight, up to %llu ms",
	    d->sched.inflight, (unsigned long long)d->cfg.shutdown_timeout_ms);
	notify_stopping();
	d->stopping = true;
	d->stop_deadline = mono_ms() + d->cfg.shutdown_timeout_ms;
	if (d->sched.inflight == 0)
		d->done = true;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
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
timer_new(struct daemon *d, event_callback_fn fn, uint64_t period_ms)
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
signal_new(struct daemon *d, int sig)
{
	struct event *ev = evsignal_new(d->base, sig, on_signal, d);

	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("cannot watch signal %d", sig);
	return ev;
}

/* --- setup --------------------------------------------------------- */

/* Opens the databases, requeues what was active at a crash, and loads the
 * hosts that have ready jobs. */
static void
open_store(struct daemon *d)
{
	char err[512];
	MDB_txn *txn;
	uint64_t n = 0;
	int rc;

	if (store_open(&d->store, d->cfg.state_dir, d->cfg.map_size,
	    d->cfg.map_size_max, err, sizeof(err)) == -1)
		fatalx("store: %s", err);
	if ((rc = queue_open(&d->queue, &d->store)) != 0)
		fatalx("store: queue: %s", mdb_strerror(rc));
	queue_set_policy(&d->queue, d->cfg.max_attempts, d->cfg.retry_base_ms,
	    d->cfg.retry_max_ms);
	queue_set_notify(&d->queue, sched_ready_cb, &d->sched);
	queue_set_backlog(&d->queue, d->cfg.index_backlog);
	err[0] = '\0';
	rc = store_txn_write(&d->store, &txn);
	if (rc == 0) {
		queue_turn_begin(&d->queue);
		if ((rc = doc_open(&d->docs, txn)) != 0 ||
		    (rc = hosts_open(&d->hosts, txn)) != 0 ||
		    (rc = dedup_open(txn, &d->dedup, &d->page_opts.dedup, err,
		    sizeof(err))) != 0 ||
		    (rc = queue_recover(&d->queue, txn, &n)) != 0 ||
		    (rc = queue_ready_hosts(&d->queue, txn,
		    sched_host_ready_cb, &d->sched)) != 0 ||
		    (rc = queue_turn_flush(&d->queue, txn)) != 0)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
	}
	if (rc != 0)
		fatalx("store: recovery: %s", err[0] != '\0' ? err :
		    mdb_strerror(rc));
	if (n > 0)
		log_notice("recovered %llu jobs that were in flight",
		    (unsigned long long)n);
	turn_note_dedup_full(d);
}

/* --- converting the duplicate index ------------------------------- */

/* Stored documents re-indexed per transaction, and how much more time
 * systemd is asked for after each batch. */
#define REINDEX_BATCH		1000
#define REINDEX_EXTEND_USEC	(60ULL * 1000000)

struct reindex {
	struct daemon	*d;
	MDB_txn		*txn;
	uint64_t	 indexed;	/* documents indexed this batch */
	int		 rc;
};

/* doc_walk callback: indexes one first copy again from its stored text
 * (a duplicate keeps no text and was never indexed). */
static int
reindex_doc(uint64_t id, const char *json, size_t len, uint64_t flags,
    void *arg)
{
	struct reindex *r = arg;
	struct dedup_sig sig;
	json_t *doc, *text;

	if (flags & DOC_DUPLICATE)
		return 0;
	doc = json_loadb(json, len, 0, NULL);
	text = json_object_get(doc, "text");
	if (json_is_string(text)) {
		dedup_signature(json_string_value(text),
		    json_string_length(text), &r->d->page_opts.dedup, &sig);
		r->rc = dedup_reindex(r->txn, &r->d->dedup, id, &sig);
		r->indexed += sig.words > 0;
	}
	json_decref(doc);
	return r->rc != 0;
}

/* One transaction's worth; *end once every document was seen and the
 * index marked complete.  Returns an LMDB error or 0. */
static int
reindex_batch(struct daemon *d, struct doc_cursor *pos, uint64_t *indexed,
    bool *end)
{
	struct reindex r = { .d = d };
	size_t n;
	int rc;

	rc = store_txn_write(&d->store, &r.txn);
	if (rc != 0)
		return rc;
	rc = doc_walk(&d->docs, r.txn, pos, REINDEX_BATCH, reindex_doc, &r,
	    &n);
	if (r.rc != 0)		/* doc_walk may have reached the end too */
		rc = r.rc;
	*end = rc == MDB_NOTFOUND;
	if (*end)
		rc = dedup_reindex_done(r.txn, &d->dedup);
	if (rc == 0)
		rc = mdb_txn_commit(r.txn);
	else
		mdb_txn_abort(r.txn);
	if (rc == 0) {
		dedup_commit(&d->dedup);
		*indexed += r.indexed;
	} else
		dedup_rollback(&d->dedup);
	return rc;
}

/*
 * After an upgrade of the duplicate index's format (dedup_open emptied
 * the duplicate index), indexes the stored first copies again, in
 * batches, before the daemon takes work.  A crash midway starts over at
 * the next start: indexing a document twice changes nothing.
 */
static void
reindex_dedup(struct daemon *d)
{
	struct doc_cursor pos = { 0, 0 }, start;
	uint64_t indexed = 0, t0 = mono_ms();
	char err[256];
	bool end = false;
	int rc;

	log_notice("dedup: the duplicate index has a new format; indexing "
	    "the stored documents again");
	while (!end) {
		start = pos;
		rc = reindex_batch(d, &pos, &indexed, &end);
		if (rc == MDB_MAP_FULL && store_grow(&d->store, err,
		    sizeof(err)) == 0) {
			pos = start;
			end = false;
			continue;
		}
		if (rc != 0)
			fatalx("dedup: re-indexing: %s", rc == MDB_MAP_FULL ?
			    err : mdb_strerror(rc));
		notify_extend_timeout(REINDEX_EXTEND_USEC);
	}
	log_notice("dedup: %llu documents indexed again in %llu ms",
	    (unsigned long long)indexed, (unsigned long long)(mono_ms() - t0));
}

/* fetch_guard_fn: nonzero refuses a connection to sa. */
static int
guard_refuses(const struct sockaddr *sa, socklen_t len, void *arg)
{
	return guard_allows(arg, sa, len) ? 0 : -1;
}

static void
on_request(struct ctl_conn *c, const char *line, size_t len, void *arg)
{
	command_dispatch(arg, c, line, len);
}

static const char *
socket_path(struct daemon *d, char *buf, size_t len)
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
split_params(const char *list)
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
free_params(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Options of the worker stage and of URL checking, from d->cfg.  Pages
 * copy their options when created, so changing these is thread-safe. */
static void
configure_pages(struct daemon *d)
{
	struct page_opts *po = &d->page_opts;

	extract_opts_default(&po->extract);
	po->extract.max_input = d->cfg.max_html;
	dedup_opts_default(&po->dedup);
	po->dedup.near_threshold = d->cfg.near_threshold;
	po->dedup.min_words = d->cfg.min_words;
	po->dedup.index_memory_max = d->cfg.index_memory_max;
	po->keep_raw = d->cfg.keep_raw;
	po->zstd_level = d->cfg.zstd_level;
	free_params(d->strip_params);
	d->strip_params = split_params(d->cfg.strip_params);
	url_opts_default(&d->url_opts);
	d->url_opts.max_length = d->cfg.max_url_length;
	d->url_opts.strip_params = (const char *const *)d->strip_params;
}

/* Applies the live-changeable settings from d->cfg. */
static void
daemon_configure(struct daemon *d)
{
	struct control_limits lim = { d->cfg.max_clients, d->cfg.max_request,
	    d->cfg.max_reply_buffer };

	log_set_level(d->cfg.log_level);
	sched_configure(&d->sched, d->cfg.max_total, d->cfg.max_per_host,
	    d->cfg.host_delay_ms);
	d->sched.respect_robots = d->cfg.respect_robots;
	robots_limits_default(&d->robots_limits);
	robots_cache_ttl_default(&d->robots_ttl);
	queue_set_policy(&d->queue, d->cfg.max_attempts, d->cfg.retry_base_ms,
	    d->cfg.retry_max_ms);
	queue_set_retry_after_bounds(&d->queue, d->cfg.host_delay_ms,
	    d->cfg.host_backoff_max_ms);
	queue_set_backlog(&d->queue, d->cfg.index_backlog);
	store_set_max(&d->store, d->cfg.map_size_max);
	/* config_validate() already refused what fetch_configure() could
	 * not take (line breaks in headers); only ENOMEM is left. */
	if (d->fetch != NULL && fetch_configure(d->fetch, &d->cfg) == -1)
		log_warnx("fetch settings not applied: out of memory");
	if (d->control != NULL)
		control_set_limits(d->control, &lim);
	configure_pages(d);
}

void
daemon_start(struct daemon *d, int listen_fd)
{
	struct control_limits lim = { d->cfg.max_clients, d->cfg.max_request,
	    d->cfg.max_reply_buffer };
	char err[512], buf[4096];
	const char *path;
	uint64_t wd;

	d->ops_tail = &d->ops;
	d->comps_tail = &d->comps;
	d->started_mono = mono_ms();
	d->base = event_base_new();
	if (d->base == NULL || sched_init(&d->sched) == -1)
		fatalx("out of memory");
	signal(SIGPIPE, SIG_IGN);
	open_store(d);
	daemon_configure(d);
	if (d->dedup.reindex)
		reindex_dedup(d);
	d->fetch = fetch_new(d->base, &d->cfg, turn_fetched, d, err, sizeof(err));
	if (d->fetch == NULL)
		fatalx("fetch: %s", err);
	d->guard = guard_new(d->cfg.allow_private_addresses, d->cfg.allow_cidrs,
	    err, sizeof(err));
	if (d->guard == NULL)
		fatalx("fetch.allow_cidrs: %s", err);
	fetch_set_guard(d->fetch, guard_refuses, d->guard);
	d->work = work_new(d->base, d->cfg.workers, turn_page_done, d, err,
	    sizeof(err));
	if (d->work == NULL)
		fatalx("workers: %s", err);
	path = socket_path(d, buf, sizeof(buf));
	d->control = control_new(d->base, path, d->cfg.socket_mode, listen_fd, &lim, on_request, d, err,
	    sizeof(err));
	if (d->control == NULL)
		fatalx("control: %s", err);
	d->wake = timer_new(d, on_wake, 0);
	d->cron = timer_new(d, on_cron, 1000);
	wd = notify_watchdog_usec();
	if (wd > 0)
		d->watchdog = timer_new(d, on_watchdog, wd / 2000 ? wd / 2000 : 1);
	d->sig_term = signal_new(d, SIGTERM);
	d->sig_int = signal_new(d, SIGINT);
	d->sig_hup = signal_new(d, SIGHUP);
	log_notice("sluiced %s ready: state %s, socket %s, %u workers, "
	    "%llu jobs queued", SLUICE_VERSION, d->cfg.state_dir,
	    listen_fd >= 0 ? "(socket activation)" : path,
	    work_threads(d->work),
	    (unsigned long long)d->queue.counts.state[JOB_QUEUED]);
	update_status(d);
	notify_ready();
}

static void
daemon_free(struct daemon *d)
{
	struct event *evs[] = { d->wake, d->cron, d->watchdog, d->sig_term,
	    d->sig_int, d->sig_hup };

	control_free(d->control);
	for (size_t i = 0; i < ARRAY_LEN(evs); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	fetch_free(d->fetch);
	guard_free(d->guard);
	turn_free_robots(d);
	sched_free(&d->sched);
	queue_close(&d->queue);
	dedup_close(&d->dedup);
	store_close(&d->store);
	free_params(d->strip_params);
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
gather_ops(struct daemon *d)
{
	for (int i = 0; i < GATHER_POLLS && d->ops != NULL; i++) {
		struct op **tail = d->ops_tail;

		(void)event_base_loop(d->base, EVLOOP_NONBLOCK);
		if (d->ops_tail == tail)
			break;		/* nobody else came */
	}
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
		gather_ops(d);
		turn_run(d);
		if (d->stopping && d->sched.inflight == 0)
			d->done = true;
	}
	/* In-flight transfers past the deadline are abandoned: their jobs
	 * stay active on disk and are requeued at the next start. */
	fetch_abort_all(d->fetch);
	/* Workers finish what they hold; one last turn stores it. */
	work_free(d->work);
	d->work = NULL;
	d->paused = true;
	turn_run(d);
	turn_free_pending(d);
	while (d->waiters != NULL) {
		struct waiter *w = d->waiters;
		d->waiters = w->next;
		if (w->tag != NULL)
			json_decref(w->tag);
		free(w);
	}
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
note_change(const char *key, bool restart, void *arg)
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
absolute_state_dir(struct daemon *d, struct config *c, char *err,
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
	return absolute_state_dir(d, c, err, errlen);
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
	config_diff(&d->cfg, &next, note_change, &rc);
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
	d->store_full = false;
	log_notice("reloaded %s: %zu applied, %zu need a restart",
	    d->config_path ? d->config_path : "(defaults)",
	    json_array_size(applied), json_array_size(restart));
	return 0;
}
