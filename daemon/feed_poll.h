/*
 * feed_poll.h - when to poll a feed next: the adaptive interval, a pure
 * function of the last interval, what the poll found and what the feed
 * asked for, so that the scheduler, the tests and the simulation in
 * bench/feeds/ all run the same rule.
 *
 * The rule (docs/feeds.md, "Adaptive polling"):
 *
 *   found new entries:  next = prev * shrink ^ min(new, 4)   (shrink 0.8)
 *   found none (or 304, or an error):  next = prev * grow     (grow 1.1)
 *   then clamp to [min, max]                    (feeds.min_interval 5 min,
 *                                                feeds.max_interval 24 h)
 *   then raise to the feed's own period if it asks for less often:
 *     the largest of RSS <ttl>, sy:updatePeriod / sy:updateFrequency and
 *     Cache-Control max-age, itself capped at max.
 *
 * Several new entries shrink more than one (up to four steps), as a burst
 * says the feed is busy now.  Both factors are gentle: the simulation in
 * bench/feeds/ (docs/benchmarks.md) found that slow growth and gentle
 * shrinking keep the delay's tail shorter for the same number of polls
 * than halving and growing by a quarter, which overshoot both ways.  From
 * min, a quiet feed is polled hourly after about ten hours and a dead one
 * about 56 times a week.  A new source starts at min.
 */
#ifndef SLUICE_FEED_POLL_H
#define SLUICE_FEED_POLL_H

#include <stdint.h>

#include "feed_doc.h"

/* Defaults of struct feed_poll_params. */
#define FEED_MIN_INTERVAL_MS	(5 * 60 * 1000LL)
#define FEED_MAX_INTERVAL_MS	(24 * 3600 * 1000LL)
#define FEED_SHRINK		0.8
#define FEED_GROW		1.1
#define FEED_MAX_HALVINGS	4	/* new entries counted per poll */

struct feed_poll_params {
	int64_t	min_ms;		/* feeds.min_interval */
	int64_t	max_ms;		/* feeds.max_interval */
	double	shrink;		/* per new entry, in (0, 1) */
	double	grow;		/* per empty poll, > 1 */
	unsigned max_steps;	/* new entries that count, per poll */
};

void feed_poll_params_default(struct feed_poll_params *p);

/*
 * The interval after a poll that took prev_ms (<= 0: a new source, which
 * starts at min) and found new_entries entries not seen before.  p may be
 * NULL for the defaults; h (may be NULL) are the feed's hints.  Always
 * within [p->min_ms, p->max_ms].
 */
int64_t feed_next_interval(int64_t prev_ms, unsigned new_entries,
    const struct feed_poll_params *p, const struct feed_hints *h);

/*
 * The max-age of a Cache-Control header value ("public, max-age=600"),
 * in ms; FEED_NO_TIME when absent or malformed.  no-store and no-cache
 * carry no polling hint and are ignored.
 */
int64_t feed_max_age_ms(const char *cache_control);

#endif
