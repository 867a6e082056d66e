/*
 * lease.c - leases planned in the turn's transaction, robots.txt decisions,
 * and the transfers started after the commit (see lease.h).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "doc.h"
#include "feeds.h"
#include "fetch.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "outcome.h"
#include "queue.h"
#include "sched.h"
#include "util.h"
#include "warc.h"

struct lease_plan_ctx {
	struct sched_calls calls;	/* first: calls.arg points here */
	struct leases	*l;
	MDB_txn		*txn;
	uint64_t	 now;
};

static void
lease_free(struct lease *l)
{
	free(l->url);
	free(l->fetch_url);
	free(l->etag);
	free(l->last_modified);
	free(l->spare);
	free(l);
}

static void
lease_push(struct leases *ls, struct lease *l)
{
#ifndef NDEBUG
	/* A job is held by one lease at a time. */
	for (const struct lease *o = ls->planned; o != NULL; o = o->next)
		assert(l->robots || o->robots || o->job_id != l->job_id);
#endif
	l->next = ls->planned;
	ls->planned = l;
}

/* --- robots.txt ---------------------------------------------------- */

/*
 * Sets h's robots.txt from a fetched or cached copy: parses it, clamps its
 * Crawl-delay to fetch.max_crawl_delay (logging the clamp when name is
 * given), and pauses the host while robots.txt is unreachable.
 */
static void
lease_robots_apply(struct leases *ls, struct sched_host *h,
    const struct hosts_robots *r, const char *name)
{
	const struct config *cfg = ls->cfg;
	struct robots *rules = NULL;
	uint64_t delay = cfg->host_delay_ms;
	int64_t cd;
	char err[256];

	if (r->policy == ROBOTS_PARSE_BODY)
		rules = robots_parse(r->body ? r->body : "", r->len,
		    &ls->limits, err, sizeof(err));
	cd = rules ? robots_crawl_delay_ms(rules, cfg->robots_token) :
	    ROBOTS_NO_DELAY;
	if (cd > (int64_t)cfg->max_crawl_delay_ms) {
		if (name != NULL)
			log_notice("%s: Crawl-delay of %lld ms clamped to "
			    "fetch.max_crawl_delay (%llu ms)", name,
			    (long long)cd,
			    (unsigned long long)cfg->max_crawl_delay_ms);
		cd = (int64_t)cfg->max_crawl_delay_ms;
	}
	if (cd > (int64_t)delay)
		delay = (uint64_t)cd;
	sched_set_robots(h, r->policy, rules, r->expires_ms, delay);
}

/* sched_calls.robots: h's rules from the cache, or plan fetching them. */
static void
lease_plan_robots(struct sched_host *h, void *arg)
{
	struct lease_plan_ctx *pc = arg;
	struct leases *ls = pc->l;
	struct hosts_robots r;
	struct lease *l;
	char *origin = NULL;
	int rc = hosts_robots_get(ls->hosts, pc->txn, h->key, &r);

	if (rc == 0 && r.expires_ms > pc->now) {
		lease_robots_apply(ls, h, &r, NULL);
		return;
	}
	if (rc == 0 || rc == MDB_NOTFOUND)
		rc = queue_host_origin(ls->queue, pc->txn, h->key, &origin);
	l = rc == 0 ? calloc(1, sizeof(*l)) : NULL;
	if (l != NULL)
		l->url = malloc(strlen(origin) + sizeof("/robots.txt"));
	if (l == NULL || l->url == NULL) {
		free(l);
		free(origin);
		pc->calls.rc = rc ? rc : ENOMEM;
		return;
	}
	sprintf(l->url, "%s/robots.txt", origin);
	free(origin);
	l->robots = true;
	l->host = h->key;
	lease_push(ls, l);
	h->robots_state = SCHED_ROBOTS_FETCHING;
}

/* True if h's robots.txt forbids fetching j (at its current hop). */
static bool
lease_robots_forbid(const struct leases *ls, struct sched_host *h,
    const struct job *j)
{
	char *pq;
	bool ok;

	if (!ls->cfg->respect_robots || h->robots == NULL)
		return false;
	pq = hosts_path_query(j->fetch_url ? j->fetch_url : j->url);
	if (pq == NULL)
		return false;
	ok = robots_allows(h->robots, ls->cfg->robots_token, pq);
	free(pq);
	return !ok;
}

/* A robots.txt request could not start: try the host again later. */
static void
lease_robots_failed(struct leases *ls, struct lease *l, const char *why)
{
	struct sched_host *h = sched_find_host(ls->sched, l->host);

	log_warnx("%s: %s", l->url, why);
	if (h != NULL) {
		h->robots_state = SCHED_ROBOTS_UNKNOWN;
		h->next_start_ms = now_ms() + ls->cfg->host_backoff_min_ms;
	}
	lease_free(l);
}

/*
 * Notes why h's robots.txt is unreachable, and when to ask again: the
 * host's backoff step, doubling while it stays unreachable (at most the
 * cache TTL).  The host itself is not paused: its jobs are failed, without
 * a request, as retryable attempts that carry this reason.
 */
static uint64_t
lease_robots_unreachable(struct leases *ls, struct sched_host *h,
    const struct fetch_result *r, uint64_t now)
{
	struct completion c = { 0 };
	uint64_t until, min = ls->cfg->host_backoff_min_ms;
	int64_t ra = r->retry_after_ms;

	/* A robots.txt is asked again after fetch.host_backoff_min at the
	 * least, whatever a Retry-After says: its jobs wait meanwhile. */
	if (ra >= 0 && (uint64_t)ra < min)
		ra = (int64_t)min;
	outcome_classify(&c, r);
	snprintf(h->robots_error, sizeof(h->robots_error), "%s", c.code);
	snprintf(h->robots_why, sizeof(h->robots_why), "robots.txt "
	    "unreachable: %.120s", c.msg);
	sched_backoff(ls->sched, h->key, ra, min, ls->cfg->host_backoff_max_ms,
	    now);
	until = h->backoff_until_ms;
	h->backoff_until_ms = 0;
	return until;
}

/* A robots.txt response: decide the policy, apply it, keep it for the
 * next turn to cache. */
static void
lease_robots_fetched(struct leases *ls, struct lease *l,
    struct fetch_result *r)
{
	struct sched_host *h = sched_find_host(ls->sched, l->host);
	struct robots_result *rr = calloc(1, sizeof(*rr));
	uint64_t ttl = 0, now = now_ms();
	enum robots_policy p;

	p = robots_policy_for_status(r->http_status, r->error,
	    r->retry_after_ms, &ls->ttl, &ttl);
	if (p == ROBOTS_KEEP_CACHED)
		p = ROBOTS_ALLOW_ALL;	/* we never ask conditionally */
	if (r->error == FETCH_ERR_BLOCKED) {
		/* The guard refuses the host itself: let its jobs run into
		 * the guard and fail with address_blocked rather than wait
		 * for a robots.txt that will never come. */
		p = ROBOTS_ALLOW_ALL;
		ttl = ls->ttl.unreachable_ms;
	}
	if (rr == NULL || h == NULL || ttl == 0) {
		free(rr);
		lease_robots_failed(ls, l, ttl == 0 ?
		    "robots.txt fetch aborted" : "out of memory");
		return;
	}
	rr->host = l->host;
	rr->warc = warc_capture(ls->warc, r, false);
	rr->r.policy = p;
	rr->r.expires_ms = now + ttl;
	if (p == ROBOTS_PARSE_BODY && r->body.len > 0) {
		size_t n = r->body.len < ls->limits.max_bytes ?
		    r->body.len : ls->limits.max_bytes;
		rr->body = malloc(n);
		if (rr->body != NULL) {
			memcpy(rr->body, r->body.data, n);
			rr->r.len = n;
		}
	}
	rr->r.body = rr->body;
	if (p == ROBOTS_DISALLOW_ALL) {
		/* Unreachable: retry it on the host's backoff schedule (at
		 * most the cache TTL), so its jobs learn soon why they wait. */
		uint64_t until = lease_robots_unreachable(ls, h, r, now);
		if (until < rr->r.expires_ms)
			rr->r.expires_ms = until;
	}
	lease_robots_apply(ls, h, &rr->r, l->url);
	h->next_start_ms = now + h->delay_ms;
	/* Unreachable robots.txt holds a site's jobs: worth a line.  A
	 * missing one (404, common) is not. */
	if (p == ROBOTS_DISALLOW_ALL)
		log_info("%s: %s (HTTP %ld), %s for %llu s", l->url,
		    r->error ? fetch_error_name(r->error) : "fetched",
		    r->http_status, robots_policy_name(p),
		    (unsigned long long)ttl / 1000);
	rr->next = ls->fetched;
	ls->fetched = rr;
	lease_free(l);
}

int
lease_cache_robots(void *arg, MDB_txn *txn, uint64_t now)
{
	struct leases *ls = arg;
	int rc = 0;

	for (struct robots_result *r = ls->fetched; r != NULL && rc == 0;
	    r = r->next) {
		warc_put(ls->warc, r->warc);
		rc = hosts_robots_put(ls->hosts, txn, r->host, &r->r);
	}
	return rc;
}

void
lease_cache_abort(void *arg)
{
}

static void
lease_free_robots(struct leases *ls)
{
	struct robots_result *r, *next;

	for (r = ls->fetched; r != NULL; r = next) {
		next = r->next;
		free(r->body);
		warc_capture_free(r->warc);
		free(r);
	}
	ls->fetched = NULL;
}

/* --- planning ------------------------------------------------------ */

static char *
lease_doc_field(json_t *doc, const char *name)
{
	const char *s = json_string_value(json_object_get(doc, name));

	return s ? strdup(s) : NULL;
}

/* Fails j without a request: robots.txt forbids it, or is unreachable. */
static bool
lease_refuse(struct lease_plan_ctx *pc, struct sched_host *h, struct job *j)
{
	struct job_failure f = { "robots_disallowed", "robots.txt disallows "
	    "this URL", 0, false, -1 };
	bool requeued;

	if (pc->l->cfg->respect_robots &&
	    h->robots_policy == ROBOTS_DISALLOW_ALL) {
		/* robots.txt unreachable: RFC 9309 forbids fetching, and the
		 * job records why, as a retryable attempt. */
		f.code = h->robots_error[0] ? h->robots_error : "network";
		f.message = h->robots_why[0] ? h->robots_why :
		    "robots.txt unreachable";
		f.retryable = true;
	} else if (!lease_robots_forbid(pc->l, h, j))
		return false;
	pc->l->refused++;
	pc->calls.rc = queue_fail(pc->l->queue, pc->txn, j->id, &f, pc->now,
	    &requeued);
	/* A feed's poll that robots.txt forbids: the source hears it. */
	if (pc->calls.rc == 0 && !requeued && pc->l->feeds != NULL &&
	    feeds_owns(pc->l->feeds, j->id))
		pc->calls.rc = feeds_failed(pc->l->feeds, pc->txn, j->id,
		    f.code, pc->now);
	return true;
}

/* sched_calls.lease: remember the lease (with the validators of a stored
 * response, for a conditional refetch), unless robots.txt forbids it. */
static bool
lease_plan_job(struct sched_host *h, struct job *j, void *arg)
{
	struct lease_plan_ctx *pc = arg;
	struct leases *ls = pc->l;
	struct lease *l;
	json_t *doc;

	if (lease_refuse(pc, h, j)) {
		queue_job_free(j);
		return false;
	}
	/* The completion that records its result is allocated now: once a
	 * transfer runs, no result may be lost for want of memory. */
	l = calloc(1, sizeof(*l));
	if (l != NULL && (l->spare = calloc(1, sizeof(*l->spare))) == NULL)
		SAFE_FREE(l);
	if (l == NULL) {
		pc->calls.rc = ENOMEM;	/* the turn is rolled back */
		queue_job_free(j);
		return true;
	}
	l->job_id = j->id;
	l->host = j->host;
	l->url = j->url;
	l->fetch_url = j->fetch_url;
	j->url = j->fetch_url = NULL;
	if (j->doc_id != 0 && doc_get(pc->l->docs, pc->txn, j->doc_id,
	    &doc) == 0) {
		l->etag = lease_doc_field(doc, "etag");
		l->last_modified = lease_doc_field(doc, "last_modified");
		json_decref(doc);
	} else if (ls->feeds != NULL && feeds_owns(ls->feeds, j->id) &&
	    (pc->calls.rc = feeds_validators(ls->feeds, pc->txn, j->id,
	    &l->etag, &l->last_modified)) != 0) {
		lease_free(l);
		queue_job_free(j);
		return true;	/* the turn is rolled back */
	}
	queue_job_free(j);
	lease_push(pc->l, l);
	return true;
}

int
lease_plan(void *arg, MDB_txn *txn, uint64_t now)
{
	struct leases *ls = arg;
	struct lease_plan_ctx pc = {
		.calls = { .robots = lease_plan_robots,
		    .lease = lease_plan_job, .arg = NULL, .rc = 0 },
		.l = ls, .txn = txn, .now = now,
	};

	assert(txn != NULL);
	if (!ls->dispatch)
		return 0;
	pc.calls.arg = &pc;
	return sched_plan(ls->sched, ls->queue, txn, now, LEASE_BATCH,
	    &pc.calls);
}

void
lease_plan_abort(void *arg)
{
	struct leases *ls = arg;
	struct lease *l, *next;

	sched_abort(ls->sched);
	ls->refused = 0;
	for (l = ls->planned; l != NULL; l = next) {
		struct sched_host *h = sched_find_host(ls->sched, l->host);
		next = l->next;
		if (l->robots && h != NULL)
			h->robots_state = SCHED_ROBOTS_UNKNOWN;
		lease_free(l);
	}
	ls->planned = NULL;
}

/* --- after the commit ---------------------------------------------- */

void
lease_start(struct leases *ls)
{
	struct lease *l, *next;
	char err[256];

	lease_free_robots(ls);		/* cached by the commit */
	ls->started = 0;
	for (; ls->refused > 0; ls->refused--)
		if (ls->metrics != NULL)
			metrics_fetch(ls->metrics, METRICS_FETCH_ROBOTS, 0, -1);
	for (l = ls->planned; l != NULL; l = next) {
		struct fetch_req req = {
			.job_id = l->job_id,
			.url = l->fetch_url ? l->fetch_url : l->url,
			.etag = l->etag, .last_modified = l->last_modified,
			.arg = l,
			.follow = l->robots ? ROBOTS_MAX_REDIRECTS :
			    FETCH_FOLLOW_NONE,
		};
		next = l->next;
		l->next = NULL;
		if (fetch_start(ls->fetch, &req, err, sizeof(err)) == 0) {
			/* host_delay separates real starts: the commit
			 * before this one may have taken a while. */
			if (!l->robots)
				sched_started(ls->sched, l->host, now_ms());
			else
				ls->robots_inflight++;
			ls->started++;
			continue;
		}
		if (l->robots) {
			lease_robots_failed(ls, l, err);
			continue;
		}
		/* The job stays leased; its failure is recorded next turn. */
		outcome_not_started(ls->outcomes, l->job_id, l->host, err,
		    l->spare);
		l->spare = NULL;
		lease_free(l);
	}
	ls->planned = NULL;
}

/* What sluice_fetches_total calls a transfer's result. */
static enum metrics_fetch
lease_fetch_kind(const struct fetch_result *r)
{
	switch (r->error) {
	case FETCH_OK:
		if (r->http_status >= 200 && r->http_status < 300)
			return METRICS_FETCH_OK;
		if (r->http_status == 304)
			return METRICS_FETCH_NOT_MODIFIED;
		if (r->http_status >= 300 && r->http_status < 400)
			return METRICS_FETCH_REDIRECT;
		return METRICS_FETCH_HTTP_ERROR;
	case FETCH_ERR_TIMEOUT:
		return METRICS_FETCH_TIMEOUT;
	case FETCH_ERR_BLOCKED:
		return METRICS_FETCH_BLOCKED;
	case FETCH_ERR_TOO_LARGE:
	case FETCH_ERR_HEADERS:
		return METRICS_FETCH_TOO_LARGE;
	default:
		return METRICS_FETCH_NETWORK;
	}
}

void
lease_fetched(struct fetch_result *r, void *arg)
{
	struct leases *ls = arg;
	struct lease *l = r->arg;
	char *url;

	if (l->robots)
		ls->robots_inflight--;
	if (r->error == FETCH_ERR_ABORTED && ls->stopping) {
		/* Shutdown: the job stays active and is requeued at start. */
		fetch_result_free(r);
		lease_free(l);
		return;
	}
	if (ls->metrics != NULL)
		metrics_fetch(ls->metrics, lease_fetch_kind(r), r->body.len,
		    (double)r->elapsed_ms / 1000.0);
	if (l->robots) {
		lease_robots_fetched(ls, l, r);
		fetch_result_free(r);
		return;
	}
	url = l->url;
	l->url = NULL;
	outcome_fetched(ls->outcomes, l->job_id, l->host, url, r, l->spare);
	l->spare = NULL;
	lease_free(l);
}

void
lease_free_pending(struct leases *ls)
{
	lease_plan_abort(ls);
	lease_free_robots(ls);
}
