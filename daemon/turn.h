/*
 * turn.h - the loop turn (turn.c): what a turn of the event loop collects
 * and how it is applied in one LMDB write transaction.  See daemon.h for
 * the durability contract.
 */
#ifndef SLUICE_TURN_H
#define SLUICE_TURN_H

struct daemon;
struct op;
struct waiter;
struct fetch_result;
struct work_item;

/* Queues an op for this turn's transaction (ownership moves). */
void turn_add_op(struct daemon *d, struct op *op);
void turn_op_free(struct op *op);
/* Registers a wait/drain client; it is answered from turn_run. */
void turn_add_waiter(struct daemon *d, struct waiter *w);

/* Applies everything pending in one transaction, then answers clients and
 * starts transfers.  Called after each iteration of the event loop. */
void turn_run(struct daemon *d);

/* fetch_done_fn: a transfer ended (a page goes to the workers, anything
 * else becomes a completion for the next turn). */
void turn_fetched(struct fetch_result *r, void *arg);
/* work_done_fn: a worker finished a page. */
void turn_page_done(struct work_item *it, void *arg);
/* At shutdown, after the last turn: drops what could not be committed
 * (the store was full) and answers waiting clients shutting_down. */
void turn_free_pending(struct daemon *d);
/* Frees robots.txt results not yet stored (shutdown). */
void turn_free_robots(struct daemon *d);

/* Logs when dedup.index_memory_max starts, or stops, keeping new first
 * copies out of the duplicate index. */
void turn_note_dedup_full(struct daemon *d);

/* Jobs finished per second over the last minute. */
double turn_rate(struct daemon *d);

#endif
