/*
 * daemon.h - sluiced: its state, and the one function that fixes the order
 * of each pass of the loop (daemon.c).
 *
 * daemon.c is the top of the daemon: it includes the modules, wires them
 * together through their own context structs, and no module includes
 * this header.  Each pass, after the event loop has run the callbacks that
 * gathered work (requests, finished transfers, worker results):
 *
 *	1. the turn: one write transaction (turn.c) with the steps in the
 *	   order of daemon_steps[];
 *	2. after the commit: the scheduler's and the dedup index's view of
 *	   the transaction made real, completions freed;
 *	3. the answers (command.c), only now that what they report is on
 *	   disk;
 *	4. the new transfers (lease.c);
 *	5. the waiters, and the wake-up timer.
 */
#ifndef SLUICE_DAEMON_H
#define SLUICE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "command.h"
#include "config.h"
#include "dedup.h"
#include "doc.h"
#include "feeds.h"
#include "hosts.h"
#include "lease.h"
#include "metrics.h"
#include "op.h"
#include "outcome.h"
#include "page.h"
#include "queue.h"
#include "reclean.h"
#include "sched.h"
#include "sitemem.h"
#include "store.h"
#include "turn.h"
#include "url.h"

struct cluster;
struct event;
struct event_base;
struct fetch;
struct work;
struct control;
struct metrics_http;
struct warc;

/* The steps of each turn's transaction (daemon.c). */
#define DAEMON_NSTEPS	14

struct daemon {
	struct config	 cfg;
	char		*config_path;	/* NULL: defaults only */
	char	       **sets;		/* --set arguments, for reload */
	int		 nsets;
	char		 cwd[4096];	/* at startup: relative paths' base */
	unsigned	 store_flags;	/* STORE_NEW: sluiced --new-store */

	struct event_base *base;
	struct store	 store;
	struct queue	 queue;
	struct docs	 docs;
	struct hosts	 hosts;
	struct guard	*guard;
	struct dedup_dbs dedup;
	struct feeds	 feeds;
	struct sitemem	 sitemem;
	struct reclean	 reclean;
	struct sched	 sched;
	struct fetch	*fetch;
	struct work	*work;
	struct control	*control;
	struct page_opts page_opts;
	struct url_opts	 url_opts;
	char	       **strip_params;	/* url_opts.strip_params storage */

	/* the loop turn and the modules that feed it */
	struct turn	 turn;
	struct turn_step steps[DAEMON_NSTEPS];
	struct ops	 ops;
	struct outcomes	 outcomes;
	struct leases	 leases;
	struct command	 command;
	struct metrics	 metrics;
	struct metrics_http *metrics_http;	/* metrics.listen, or NULL */
	struct warc	*warc;		/* warc.dir's writer, or NULL */
	struct cluster	*cluster;	/* cluster.nats's node, or NULL */
	char		*metrics_listen;	/* where it listens */
	uint64_t	 last_client_mono;	/* last commit with ops */
	uint64_t	 indexed_mono;		/* last turn that indexed */
	uint64_t	 next_due_ms;	/* earliest delayed job, 0 = none */
	bool		 plan_stalled;	/* planning at once started nothing */
	uint64_t	 stuck_until_mono;	/* no turn before, while stuck */
	uint64_t	 stuck_backoff_ms;	/* 0 = commits work */

	struct event	*wake;		/* next due job / host slot */
	struct event	*cron;		/* 1 s housekeeping */
	struct event	*watchdog;
	struct event	*sig_term, *sig_int, *sig_hup;

	bool		 done;		/* leave the loop */
	uint64_t	 stop_deadline;	/* mono_ms() */
	char		 last_status[256];
	uint64_t	 cron_ticks;
	uint64_t	 damaged_logged;	/* queue.damaged when last logged */
};

/* Opens the store, recovers, listens; fatal() on startup errors. */
void daemon_start(struct daemon *d, int listen_fd);
/* Runs the loop until stopped; returns the exit status. */
int daemon_run(struct daemon *d);
void daemon_stop(struct daemon *d);

/* Loads defaults, then the file, then the --set arguments into c, and
 * validates, as at startup.  0, or -1 with err. */
int daemon_load_config(struct daemon *d, struct config *c, char *err,
    size_t errlen);
/* Re-reads the config file; fills applied / restart (arrays of names).
 * Returns 0, or -1 with err (nothing changed). */
int daemon_reload(struct daemon *d, json_t *applied, json_t *restart,
    char *err, size_t errlen);

#endif
