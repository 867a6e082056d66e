/*
 * feed_poll.c - the adaptive polling interval (the rule is in
 * feed_poll.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feed_poll.h"

void
feed_poll_params_default(struct feed_poll_params *p)
{
	*p = (struct feed_poll_params){
		.min_ms = FEED_MIN_INTERVAL_MS,
		.max_ms = FEED_MAX_INTERVAL_MS,
		.shrink = FEED_SHRINK,
		.grow = FEED_GROW,
		.max_steps = FEED_MAX_HALVINGS,
	};
}

/* The longest period the feed asks for, or FEED_NO_TIME. */
static int64_t
feed_poll_hint(const struct feed_hints *h)
{
	int64_t v = FEED_NO_TIME;

	if (h == NULL)
		return v;
	if (h->ttl_ms > v)
		v = h->ttl_ms;
	if (h->update_ms > v)
		v = h->update_ms;
	if (h->max_age_ms > v)
		v = h->max_age_ms;
	return v;
}

int64_t
feed_next_interval(int64_t prev_ms, unsigned new_entries,
    const struct feed_poll_params *p, const struct feed_hints *h)
{
	struct feed_poll_params def;
	double next;
	int64_t hint, out;
	unsigned i, steps;

	if (p == NULL) {
		feed_poll_params_default(&def);
		p = &def;
	}
	if (prev_ms <= 0)
		next = (double)p->min_ms;
	else if (new_entries > 0) {
		next = (double)prev_ms;
		steps = new_entries < p->max_steps ? new_entries : p->max_steps;
		if (steps == 0)
			steps = 1;
		for (i = 0; i < steps; i++)
			next *= p->shrink;
	} else
		next = (double)prev_ms * p->grow;
	/* Compared as doubles first: prev * grow may pass INT64_MAX. */
	if (next >= (double)p->max_ms)
		out = p->max_ms;
	else if (next <= (double)p->min_ms)
		out = p->min_ms;
	else
		out = (int64_t)next;
	hint = feed_poll_hint(h);
	if (hint > out)
		out = hint < p->max_ms ? hint : p->max_ms;
	return out;
}

int64_t
feed_max_age_ms(const char *cc)
{
	const char *p = cc;
	unsigned long long v;
	char *end;
	size_t n;

	if (cc == NULL)
		return FEED_NO_TIME;
	while (*p != '\0') {
		p += strspn(p, " \t,");
		n = strcspn(p, ",");
		if (n > 8 && strncasecmp(p, "max-age=", 8) == 0) {
			const char *q = p + 8 + (p[8] == '"');

			if (!isdigit((unsigned char)*q))
				return FEED_NO_TIME;
			errno = 0;
			v = strtoull(q, &end, 10);
			/* A year at most (RFC 9111 caps delta-seconds at
			 * 2^31; nobody means a feed to rest longer). */
			if (errno != 0 || v > 365ULL * 86400)
				v = 365ULL * 86400;
			return (int64_t)v * 1000;
		}
		p += n;
	}
	return FEED_NO_TIME;
}
