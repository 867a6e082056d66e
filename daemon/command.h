/*
 * command.h - what each control request does, and every reply
 * (docs/protocol.md).
 *
 * This module owns the replies: read-only commands are answered at once
 * from a short read transaction; commands that change the queue become an
 * op (op.c) that the turn applies, and command_answer() answers them by
 * connection id after the commit; `wait` and `drain` clients are waiters,
 * answered by command_check_waiters() when their condition holds, and by
 * command_shutdown() when the daemon stops.  A waiter is created and freed
 * here only.
 */
#ifndef SLUICE_COMMAND_H
#define SLUICE_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

struct cluster;
struct config;
struct control;
struct event_base;
struct ctl_conn;
struct dedup_dbs;
struct docs;
struct feeds;
struct fetch;
struct leases;
struct metrics;
struct op;
struct ops;
struct outcomes;
struct queue;
struct sched;
struct reclean;
struct sitemem;
struct store;
struct url_opts;
struct waiter;
struct work;

/* What the daemon does for commands that reach beyond the queue. */
struct command_calls {
	/* Re-reads the config; fills applied / restart (arrays of names).
	 * 0, or -1 with err (nothing changed). */
	int	(*reload)(void *arg, json_t *applied, json_t *restart,
		    char *err, size_t errlen);
	void	*arg;
};

struct command {
	struct control	*control;
	const struct config *cfg;
	struct store	*store;
	struct queue	*queue;
	struct docs	*docs;
	struct sched	*sched;
	struct dedup_dbs *dedup;
	struct fetch	*fetch;
	struct work	*work;
	struct ops	*ops;
	struct outcomes	*outcomes;
	struct feeds	*feeds;		/* feed_add, feeds, feed, site_add */
	const struct leases *leases;	/* status: robots.txt in flight */
	struct metrics	*metrics;	/* stats: windows, failures */
	const struct url_opts *url_opts;
	struct sitemem	*sitemem;	/* site: the memory of one site */
	struct reclean	*reclean;	/* reclean: the background pass */
	struct cluster	*cluster;	/* cluster mode, or NULL */
	const struct warc *warc;	/* status: capture, or NULL */
	MDB_dbi		 warc_bodies;	/* doc --raw: captured bodies */
	struct event_base *base;	/* export --cluster's polling */
	struct command_calls calls;
	uint64_t	 started_mono;
	bool		 paused;	/* pause, drain: start no transfer */
	bool		 stopping;	/* SIGTERM: refuse new work */
	struct waiter	*waiters;	/* wait and drain clients */
};

/* Parses and runs one request line from client c. */
void command_dispatch(struct command *cmd, struct ctl_conn *c,
    const char *line, size_t len);
/* Answers a list of applied ops (ops_take) and frees them. */
void command_answer(struct command *cmd, struct op *list);
/* Answers wait/drain clients whose condition holds or whose time is up,
 * and forgets those whose client has gone. */
void command_check_waiters(struct command *cmd);
/* Earliest waiter deadline in ms from mono, or -1. */
int64_t command_waiter_due(const struct command *cmd, uint64_t mono);
/* The jobs' and totals' counts, as status gives them: what this node's
 * cluster heartbeat carries. */
json_t *command_summary_json(struct command *cmd);
/* At shutdown: answers every waiter shutting_down and frees it. */
void command_shutdown(struct command *cmd);

#endif
