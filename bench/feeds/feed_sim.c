/*
 * feed_sim.c - a week of 50 feeds on a virtual clock: the adaptive
 * schedule of feed_next_interval() (daemon/feed_poll.c) against polling
 * every 5 minutes.  Prints, per schedule, the polls made and the delay
 * from an entry's publication to the poll that finds it (median, p95,
 * p99, max); with --check, exits 1 unless the adaptive schedule meets the
 * goals of issue 14 (median <= 15 min, p95 <= 60 min, at most a third of
 * the fixed schedule's polls) on every seed.
 *
 * The publishing model (no published per-minute trace of 50 news feeds
 * was at hand, so a plausible one, stated here and in docs/feeds.md):
 *   - each feed is a non-homogeneous Poisson process with a diurnal rate:
 *     a floor of 8% of the peak all day, plus a Gaussian hump around the
 *     feed's own peak hour (09:00-15:00) of its own width (sigma 2.5-4 h),
 *     shifted by the feed's time zone (UTC-2 to UTC+2);
 *   - volumes differ per feed: log-uniform from 5 to 100 entries a
 *     weekday, 40% of that on Saturdays and Sundays;
 *   - 30% of the volume comes in bursts: burst events follow the same
 *     diurnal rate, and each publishes 1 + Geometric(mean 3) entries
 *     spread over the next 15 minutes (a live story, a batch from the
 *     CMS).
 * Rates are sampled by thinning (Lewis and Shedler).  The week starts on
 * a Monday at 00:00 UTC; every feed starts at the minimum interval at a
 * random phase, with no hints (ttl, sy:updatePeriod, max-age), since
 * they would only slow the adaptive schedule down.
 *
 * Usage: feed-sim [--check] [--seeds N] [--feeds N] [--days N]
 *                 [--shrink F] [--grow F]   (feed_poll_params, to compare)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed_poll.h"

#define DAY		86400.0
#define FIXED_S		300.0
#define GOAL_MEDIAN_S	(15 * 60.0)
#define GOAL_P95_S	(60 * 60.0)
#define GOAL_RATIO	(1.0 / 3.0)

struct rng {
	uint64_t	s;
};

struct feed {
	double	volume;		/* entries a weekday */
	double	peak_h;		/* local hour of the hump */
	double	sigma_h;
	double	tz_h;		/* local = UTC + tz */
	double	norm;		/* integral of the shape over a day, hours */
	double	*pub;		/* publication times, sorted, seconds */
	size_t	 n, cap;
};

struct result {
	size_t	 polls;		/* made before the end of the week */
	double	*delay;		/* one per entry, seconds */
	size_t	 n;
};

/* splitmix64: deterministic per seed, so runs can be compared. */
static double
rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

static double
rng_exp(struct rng *r, double rate)
{
	return -log(1.0 - rng_next(r)) / rate;
}

/* The diurnal shape at UTC time t, peak 1 + floor. */
static double
shape(const struct feed *f, double t)
{
	double h = fmod(t / 3600.0 + f->tz_h + 48.0, 24.0), d;

	d = fabs(h - f->peak_h);
	if (d > 12.0)
		d = 24.0 - d;
	return 0.08 + exp(-d * d / (2.0 * f->sigma_h * f->sigma_h));
}

/* Entries per second at t, for a share of the volume. */
static double
rate(const struct feed *f, double t, double share)
{
	int day = (int)floor((t / 3600.0 + f->tz_h) / 24.0);
	double weekday = (day % 7 == 5 || day % 7 == 6) ? 0.4 : 1.0;

	return f->volume * share * weekday * shape(f, t) / f->norm / 3600.0;
}

static void
add_pub(struct feed *f, double t)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 256;
		f->pub = realloc(f->pub, f->cap * sizeof(*f->pub));
		if (f->pub == NULL) {
			perror("realloc");
			exit(2);
		}
	}
	f->pub[f->n++] = t;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Thinning: candidates at the peak rate, kept with rate(t)/peak. */
static void
publish(struct feed *f, struct rng *r, double end)
{
	const double burst_mean = 4.0;	/* 1 + Geometric(mean 3) */
	double peak, t, u;
	int k;

	peak = f->volume * 1.08 / f->norm / 3600.0;
	for (t = rng_exp(r, peak * 0.7); t < end; t += rng_exp(r, peak * 0.7))
		if (rng_next(r) * peak * 0.7 <= rate(f, t, 0.7))
			add_pub(f, t);
	peak /= burst_mean;
	for (t = rng_exp(r, peak * 0.3); t < end; t += rng_exp(r, peak * 0.3)) {
		if (rng_next(r) * peak * 0.3 > rate(f, t, 0.3 / burst_mean))
			continue;
		add_pub(f, t);
		for (k = 0; ; k++) {
			u = rng_next(r);
			if (u < 0.25)	/* geometric, mean 3 extra */
				break;
			if (t + 900.0 * rng_next(r) < end)
				add_pub(f, t + 900.0 * rng_next(r));
		}
	}
	qsort(f->pub, f->n, sizeof(*f->pub), cmp_double);
}

static void
make_feed(struct feed *f, struct rng *r)
{
	double h;

	memset(f, 0, sizeof(*f));
	f->volume = 5.0 * pow(20.0, rng_next(r));
	f->peak_h = 9.0 + 6.0 * rng_next(r);
	f->sigma_h = 2.5 + 1.5 * rng_next(r);
	f->tz_h = -2.0 + 4.0 * rng_next(r);
	f->norm = 0;
	for (h = 0; h < 24.0; h += 1.0 / 60)
		f->norm += shape(f, (h - f->tz_h) * 3600.0) / 60;
}

static void
record(struct result *res, double delay)
{
	res->delay[res->n++] = delay;
}

/*
 * Polls feed f from phase on, every fixed seconds if fixed > 0, else on
 * the adaptive interval; counts the polls before end and records each
 * entry's delay (polling goes on past end until every entry is found).
 */
static void
poll_feed(const struct feed *f, double phase, double fixed, double end,
    const struct feed_poll_params *p, struct result *res)
{
	int64_t iv_ms = 0;
	double t = phase;
	size_t next = 0, found;

	while (next < f->n || t < end) {
		if (t < end)
			res->polls++;
		for (found = 0; next < f->n && f->pub[next] <= t; next++) {
			record(res, t - f->pub[next]);
			found++;
		}
		if (fixed > 0) {
			t += fixed;
			continue;
		}
		iv_ms = feed_next_interval(iv_ms, (unsigned)found, p, NULL);
		t += (double)iv_ms / 1000.0;
	}
}

static double
quantile(double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)ceil(q * (double)n) - 1;
	if (i >= n)
		i = n - 1;
	return v[i];
}

struct summary {
	size_t	polls, entries;
	double	median, p95, p99, max;
};

static void
summarise(struct result *res, struct summary *s)
{
	qsort(res->delay, res->n, sizeof(double), cmp_double);
	s->polls = res->polls;
	s->entries = res->n;
	s->median = quantile(res->delay, res->n, 0.5);
	s->p95 = quantile(res->delay, res->n, 0.95);
	s->p99 = quantile(res->delay, res->n, 0.99);
	s->max = res->n ? res->delay[res->n - 1] : 0;
}

static void
print_row(const char *name, const struct summary *s)
{
	printf("  %-9s polls %7zu  entries %6zu  delay median %5.1f min  "
	    "p95 %5.1f min  p99 %6.1f min  max %6.1f min\n", name, s->polls,
	    s->entries, s->median / 60, s->p95 / 60, s->p99 / 60, s->max / 60);
}

/* One seed: returns 1 when the goals are met. */
static int
run(uint64_t seed, int nfeeds, double days, const struct feed_poll_params *pp,
    struct summary *ad, struct summary *fx)
{
	struct feed_poll_params p = *pp;
	struct result a = { 0 }, x = { 0 };
	struct rng r = { .s = seed };
	struct feed *feeds;
	double end = days * DAY, phase;
	size_t total = 0;
	int i;

	feeds = calloc((size_t)nfeeds, sizeof(*feeds));
	if (feeds == NULL)
		exit(2);
	for (i = 0; i < nfeeds; i++) {
		make_feed(&feeds[i], &r);
		publish(&feeds[i], &r, end);
		total += feeds[i].n;
	}
	a.delay = calloc(total + 1, sizeof(double));
	x.delay = calloc(total + 1, sizeof(double));
	if (a.delay == NULL || x.delay == NULL)
		exit(2);
	for (i = 0; i < nfeeds; i++) {
		phase = FIXED_S * rng_next(&r);
		poll_feed(&feeds[i], phase, 0, end, &p, &a);
		poll_feed(&feeds[i], phase, FIXED_S, end, &p, &x);
		free(feeds[i].pub);
	}
	free(feeds);
	summarise(&a, ad);
	summarise(&x, fx);
	free(a.delay);
	free(x.delay);
	return ad->median <= GOAL_MEDIAN_S && ad->p95 <= GOAL_P95_S &&
	    (double)ad->polls <= GOAL_RATIO * (double)fx->polls;
}

int
main(int argc, char **argv)
{
	struct feed_poll_params p;
	struct summary ad, fx;
	double days = 7, ratio, rmin = 1e9, rmax = 0, mmin = 1e9, mmax = 0;
	double pmin = 1e9, pmax = 0;
	int i, seeds = 5, nfeeds = 50, check = 0, ok = 1;

	feed_poll_params_default(&p);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0)
			check = 1;
		else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
			seeds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--feeds") == 0 && i + 1 < argc)
			nfeeds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc)
			days = atof(argv[++i]);
		else if (strcmp(argv[i], "--shrink") == 0 && i + 1 < argc)
			p.shrink = atof(argv[++i]);
		else if (strcmp(argv[i], "--grow") == 0 && i + 1 < argc)
			p.grow = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: feed-sim [--check] [--seeds N]"
			    " [--feeds N] [--days N] [--shrink F] [--grow F]\n");
			return 2;
		}
	}
	printf("%d feeds, %.0f days, adaptive (min %lld s, max %lld s, "
	    "shrink %.2f, grow %.2f) vs every %.0f s\n", nfeeds, days,
	    (long long)p.min_ms / 1000, (long long)p.max_ms / 1000, p.shrink,
	    p.grow, FIXED_S);
	for (i = 1; i <= seeds; i++) {
		int met = run((uint64_t)i, nfeeds, days, &p, &ad, &fx);

		ratio = (double)ad.polls / (double)fx.polls;
		printf("seed %d: %s\n", i, met ? "goals met" : "GOALS MISSED");
		print_row("adaptive", &ad);
		print_row("fixed", &fx);
		printf("  poll ratio %.3f (goal <= %.3f)\n", ratio, GOAL_RATIO);
		ok &= met;
		rmin = fmin(rmin, ratio);
		rmax = fmax(rmax, ratio);
		mmin = fmin(mmin, ad.median / 60);
		mmax = fmax(mmax, ad.median / 60);
		pmin = fmin(pmin, ad.p95 / 60);
		pmax = fmax(pmax, ad.p95 / 60);
	}
	printf("over %d seeds: adaptive median %.1f-%.1f min, p95 %.1f-%.1f "
	    "min, poll ratio %.3f-%.3f\n", seeds, mmin, mmax, pmin, pmax, rmin,
	    rmax);
	return check && !ok ? 1 : 0;
}
