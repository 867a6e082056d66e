/*
 * op.h - requests that change the queue, kept as data from the request to
 * the reply.
 *
 * command.c turns a submit, cancel or retry request into an op and adds it
 * to the pending list; the loop turn applies every pending op inside its
 * write transaction (ops_apply, a turn step), and the result stays in the
 * op as data: a submit's results, a cancelled job, a count, or an error.
 * After the commit command.c takes the list (ops_take) and answers each op
 * by its connection id.  Nothing here writes to a socket or formats a
 * reply other than the submit results (reply.c).
 */
#ifndef SLUICE_OP_H
#define SLUICE_OP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#include "proto.h"
#include "queue.h"
#include "reply.h"
#include "url.h"

struct feeds;
struct metrics;
struct sched;
struct store;

enum op_kind {
	OP_SUBMIT,
	OP_CANCEL,
	OP_RETRY,
	OP_RETRY_FAILED,
	OP_FEED_ADD,		/* feed_add, site_add: a new source */
	OP_FEED_RM,
};

/* One URL of a submission, canonicalised before the transaction. */
struct op_url {
	const char	*given;		/* as submitted (points into req) */
	char		*url;		/* canonical, NULL if rejected */
	char		*origin;	/* scheme://host:port */
	enum url_status	 status;
	uint64_t	 host;
};

struct op {
	enum op_kind	 kind;
	uint64_t	 conn_id;	/* who to answer */
	json_t		*req;		/* the parsed request (owned) */
	/* submit */
	struct op_url	*urls;
	size_t		 nurls;
	int32_t		 priority;
	uint64_t	 not_before_ms;
	bool		 force;
	/* cancel, retry, feed_rm */
	uint64_t	 id;
	/* feed_add, site_add, feed_rm */
	const char	*feed_url;	/* points into req */
	const char	*feed_kind;	/* "feed" or "site" */
	uint64_t	 interval_ms;	/* 0: adaptive */
	json_t		*feed;		/* the result: the source's record */
	/* the result, set by ops_apply() and reset by ops_abort() */
	enum proto_err	 err;		/* PROTO_OK, or why it was refused */
	char		 errmsg[160];
	struct submit_reply sub;	/* a submit's results */
	struct job	 job;		/* a cancel: the job as it now is */
	bool		 has_job;
	uint64_t	 retried;	/* a retry: jobs sent back */
	struct op	*next;
};

/* The ops waiting for the next transaction. */
struct ops {
	struct op	*head, **tail;
	struct queue	*queue;
	struct sched	*sched;
	const struct store *store;	/* submissions refused while full */
	struct metrics	*metrics;	/* or NULL: counts what ops_take hands
					   out */
	struct feeds	*feeds;		/* the sources (feed_add, feed_rm) */
	/* Told of each job cancelled (or NULL): a page of it being cleaned
	 * stops.  Before the commit: a cancel that does not commit stops
	 * the cleaning all the same, and the job is fetched again. */
	void		(*cancelled)(void *arg, uint64_t job_id);
	void		*cancelled_arg;
};

void ops_init(struct ops *o, struct queue *q, struct sched *s,
    const struct store *store);

/* A new op for request req of connection conn_id (req is referenced), or
 * NULL when memory is short.  Free with op_free(). */
struct op *op_new(enum op_kind kind, uint64_t conn_id, json_t *req)
    __attribute__((warn_unused_result));
/* Canonicalises a submit's URLs (CPU work, no LMDB).  0, or -1 (ENOMEM). */
int op_prepare_urls(struct op *op, const struct url_opts *uo)
    __attribute__((warn_unused_result));
void op_free(struct op *op);

/* Queues op for the next transaction (ownership moves). */
void ops_add(struct ops *o, struct op *op);
bool ops_pending(const struct ops *o);

/* Turn step: applies every pending op in txn.  0 or an LMDB error; a
 * request the queue refuses (no such job...) is an op result, not an
 * error. */
int ops_apply(void *ops, MDB_txn *txn, uint64_t now);
/* Turn step abort: forgets every result, so the turn can be replayed. */
void ops_abort(void *ops);
/* Gives every pending op the error e (the turn could not commit). */
void ops_fail(struct ops *o, enum proto_err e, const char *msg);
/* The error a submission into a full store gets: store_full at the cap,
 * disk_full on a full disk; *msg is a static string. */
enum proto_err op_store_refusal(const struct store *s, const char **msg);
/* Takes the pending list, to answer it; the ops are op_free()d by the
 * taker.  Requests that arrive while it answers start a new list.  The
 * submissions it hands out with no error are counted in o->metrics. */
struct op *ops_take(struct ops *o)
    __attribute__((warn_unused_result));

#endif
