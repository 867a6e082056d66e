/*
 * work.c - the worker pool (see work.h).
 *
 * Two lists cross threads, each guarded by its own mutex:
 *   todo  loop -> workers   (todo_lock, todo_cond)
 *   done  workers -> loop   (done_lock; eventfd wakes the loop)
 * Only the loop thread touches `backlog` and the done callback, so results
 * are applied to LMDB and the control clients from the one thread that owns
 * them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <event2/event.h>

#include "log.h"
#include "util.h"
#include "work.h"

/* A pool whose threads work_free() left to the exit (see there). */
static struct work *work_left_behind;

struct work {
	struct event_base *base;
	struct event	*ev;		/* eventfd readable */
	int		 efd;
	work_done_fn	 done;
	void		*arg;
	unsigned	 nthreads;
	pthread_t	*threads;
	unsigned	 backlog;	/* loop thread only */

	pthread_mutex_t	 todo_lock;
	pthread_cond_t	 todo_cond;
	struct work_item *todo_head, *todo_tail;	/* todo_lock */
	unsigned	 todo_len;			/* todo_lock */
	bool		 stopping;			/* todo_lock */
	atomic_bool	 abort;		/* items' stop flag */
	atomic_uint	 started;	/* threads that took their index */

	pthread_mutex_t	 done_lock;
	struct work_item *done_head, *done_tail;	/* done_lock */
};

static void
list_push(struct work_item **head, struct work_item **tail,
    struct work_item *it)
{
	it->next = NULL;
	if (*tail != NULL)
		(*tail)->next = it;
	else
		*head = it;
	*tail = it;
}

static void *
work_thread(void *arg)
{
	struct work *w = arg;
	uint64_t one = 1;
	unsigned me = atomic_fetch_add(&w->started, 1);

	for (;;) {
		struct work_item *it;
		bool wake;

		pthread_mutex_lock(&w->todo_lock);
		while (w->todo_head == NULL && !w->stopping)
			pthread_cond_wait(&w->todo_cond, &w->todo_lock);
		it = w->todo_head;
		if (it != NULL) {
			w->todo_head = it->next;
			if (w->todo_head == NULL)
				w->todo_tail = NULL;
			it->behind = --w->todo_len >= w->nthreads;
		}
		pthread_mutex_unlock(&w->todo_lock);
		if (it == NULL)
			return NULL;	/* stopping and nothing left */
		it->worker = me;
		it->run(it);
		pthread_mutex_lock(&w->done_lock);
		wake = w->done_head == NULL;
		list_push(&w->done_head, &w->done_tail, it);
		pthread_mutex_unlock(&w->done_lock);
		/* Only the item that finds the list empty wakes the loop: until
		 * the loop takes the list, its wakeup is pending and it drains
		 * everything pushed meanwhile.  A full eventfd counter cannot
		 * happen: it is 2^64-2. */
		if (wake)
			(void)!write(w->efd, &one, sizeof(one));
	}
}

/* Hands every finished item back to the caller, on the loop thread. */
static void
work_drain(struct work *w)
{
	struct work_item *it, *next;

	pthread_mutex_lock(&w->done_lock);
	it = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->done_lock);
	for (; it != NULL; it = next) {
		next = it->next;
		w->backlog--;
		if (it->done != NULL)
			it->done(it, it->done_arg);
		else
			w->done(it, w->arg);
	}
}

static void
work_wakeup(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
	work_drain(arg);
}

static unsigned
ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

struct work *
work_new(struct event_base *base, unsigned nthreads, work_done_fn done,
    void *arg, char *err, size_t errlen)
{
	struct work *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->base = base;
	w->done = done;
	w->arg = arg;
	pthread_mutex_init(&w->todo_lock, NULL);
	pthread_cond_init(&w->todo_cond, NULL);
	pthread_mutex_init(&w->done_lock, NULL);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->threads = calloc(nthreads ? nthreads : ncpus(), sizeof(*w->threads));
	if (w->efd == -1 || w->threads == NULL) {
		snprintf(err, errlen, "worker pool: %s", strerror(errno));
		goto fail;
	}
	w->ev = event_new(base, w->efd, EV_READ | EV_PERSIST, work_wakeup, w);
	if (w->ev == NULL || event_add(w->ev, NULL) == -1) {
		snprintf(err, errlen, "worker pool: cannot watch eventfd");
		goto fail;
	}
	/* nthreads counts the threads started, for work_free(). */
	for (unsigned i = 0, n = nthreads ? nthreads : ncpus(); i < n; i++) {
		int rc = pthread_create(&w->threads[i], NULL, work_thread, w);
		if (rc != 0) {
			snprintf(err, errlen, "worker thread: %s", strerror(rc));
			goto fail;
		}
		w->nthreads = i + 1;
	}
	return w;
fail:
	/* The threads started hold nothing: they end at once. */
	(void)work_free(w, 60 * 1000);
	return NULL;
}

bool
work_left(void)
{
	return work_left_behind != NULL;
}

void
work_submit(struct work *w, struct work_item *it)
{
	w->backlog++;
	it->stop = &w->abort;
	pthread_mutex_lock(&w->todo_lock);
	list_push(&w->todo_head, &w->todo_tail, it);
	w->todo_len++;
	pthread_cond_signal(&w->todo_cond);
	pthread_mutex_unlock(&w->todo_lock);
}

unsigned
work_backlog(const struct work *w)
{
	return w->backlog;
}

unsigned
work_threads(const struct work *w)
{
	return w->nthreads;
}

/* Joins thread t by the CLOCK_REALTIME time *until: 0 or ETIMEDOUT. */
static int
work_join(pthread_t t, const struct timespec *until)
{
	return pthread_timedjoin_np(t, NULL, until);
}

unsigned
work_free(struct work *w, uint64_t timeout_ms)
{
	struct timespec soft, hard;
	unsigned i, left = 0;
	uint64_t begun = mono_ms();
	bool *joined;

	if (w == NULL)
		return 0;
	pthread_mutex_lock(&w->todo_lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->todo_cond);
	pthread_mutex_unlock(&w->todo_lock);
	/* A page that holds its worker (a hostile one, under a long
	 * extract.max_time) must not hold the shutdown: past the soft
	 * deadline every item is told to stop, past the hard one the
	 * threads are left to the exit. */
	soft = realtime_after_ms(timeout_ms > WORK_ABORT_MS ?
	    timeout_ms - WORK_ABORT_MS : 0);
	/* Even with no time left, idle threads need a moment to wake and
	 * end, and busy ones to see the stop flag: never less than
	 * WORK_ABORT_MS, or idle workers would be reported as busy. */
	hard = realtime_after_ms(timeout_ms > WORK_ABORT_MS ?
	    timeout_ms : WORK_ABORT_MS);
	joined = calloc(w->nthreads ? w->nthreads : 1, sizeof(*joined));
	for (i = 0; i < w->nthreads; i++)
		if (joined != NULL && work_join(w->threads[i], &soft) == 0)
			joined[i] = true;
	atomic_store(&w->abort, true);
	for (i = 0; i < w->nthreads; i++) {
		if (joined != NULL && joined[i])
			continue;
		if (joined == NULL)
			pthread_join(w->threads[i], NULL);
		else if (work_join(w->threads[i], &hard) != 0)
			left++;
	}
	free(joined);
	if (left > 0) {
		/* The time waited, not the time given: at a SIGTERM whose
		 * deadline has passed, that was 0 and said "after 0 ms". */
		log_warnx("workers: %u still busy after %llu ms, left behind",
		    left, (unsigned long long)(mono_ms() - begun));
		/* Still the busy threads' until the exit: kept reachable, so
		 * the leak checker does not report it as lost. */
		work_left_behind = w;
		return left;
	}
	/* Workers drained todo before exiting; hand everything back. */
	if (w->done != NULL)
		work_drain(w);
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->efd != -1)
		close(w->efd);
	pthread_mutex_destroy(&w->todo_lock);
	pthread_cond_destroy(&w->todo_cond);
	pthread_mutex_destroy(&w->done_lock);
	free(w->threads);
	free(w);
	return 0;
}
