// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * The fixed pool of worker threads.  Each worker owns a job context (its
 * curl handle and random state), pops a job from the jobs ring, runs it,
 * pushes it onto the results ring and writes to an eventfd so the main
 * thread wakes.  A job whose reply came is pushed a little later: the
 * worker writes its summary once the next job's request has gone out, or
 * before it sleeps (see job.h), so it may have two jobs at a time.  The
 * main thread creates, resizes and stops the pool; nobody else calls
 * these functions.
 *
 * Design.  Slot i of the pool runs while i < target.  Resizing changes
 * target under the lock and wakes every sleeping worker: a surplus worker
 * notices at its next look and exits after the job it has, and growing
 * starts a thread in every slot below target that has none.  A worker's
 * decision to exit and the clearing of its slot happen under the same
 * lock, so a grow that races with a shrink never loses a slot.
 *
 * Back-pressure: the main thread never has more jobs out than the results
 * ring holds, so a worker's push onto it cannot fail.  Stopping: pool_stop()
 * sets a flag, cancels throttle waits and wakes everyone; workers finish
 * the request in hand (a job popped after the flag is handed back
 * unattempted) and exit; pool_join() waits for that up to a deadline.
 *
 * Joining.  A worker says it is done under the lock and never takes the
 * lock again, so the main thread may then join it.  Every worker is
 * joined: at stop, so that its thread-local state (OpenSSL keeps some for
 * each thread that made a TLS connection) is torn down before the process
 * cleans the libraries up; after a shrink, by pool_reap() or at the next
 * resize, so that its stack is given back.  One stuck in a request past
 * the stop deadline is never joined and is left to the process exit.
 */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "job.h"
#include "log.h"
#include "pool.h"
#include "ring.h"
#include "throttle.h"
#include "util.h"

/*
 * XXX One thread per connection, each blocked in curl_easy_perform():
 * at 500 workers the threads and their easy handles cost about 34 KB of
 * private memory per connection more than a few threads driving multi
 * handles would (bench/curl-modes, BENCHMARKS.md), about 17 MB in all.
 */
#define POOL_MAX_WORKERS 1024
#define POOL_STACK_BYTES (512 * 1024)

struct pool;

struct pool_slot {
	struct pool *pool;		/* fixed */
	unsigned index;			/* fixed */
	bool is_alive;			/* guarded by pool->lock */
	bool has_thread;		/* guarded by pool->lock: to join */
	bool has_exited;		/* guarded by pool->lock: joinable */
	pthread_t thread;		/* guarded by pool->lock */
};

struct pool {
	struct ring *jobs;		/* fixed after pool_new() */
	struct ring *results;		/* fixed after pool_new() */
	int wake_fd;			/* fixed after pool_new() */
	struct throttle *throttle;	/* fixed after pool_new() */
	pthread_mutex_t lock;
	pthread_cond_t exited;		/* signalled under lock */
	unsigned target;		/* guarded by lock */
	unsigned alive;			/* guarded by lock */
	bool is_stopping;		/* guarded by lock */
	atomic_uint in_flight;		/* atomic: workers write, main reads */
	atomic_uint unjoined;		/* atomic: workers add, main clears */
	struct pool_slot slots[POOL_MAX_WORKERS];
};

/*
 * Whether the worker in slot should end; if so its slot is freed at once,
 * so that a grow may start a new worker there.
 */
static bool
pool_should_exit(struct pool_slot *slot)
{
	struct pool *p = slot->pool;
	bool is_exiting;

	(void)pthread_mutex_lock(&p->lock);
	is_exiting = p->is_stopping || slot->index >= p->target;
	if (is_exiting)
		slot->is_alive = false;
	(void)pthread_mutex_unlock(&p->lock);
	return is_exiting;
}

/*
 * The last thing a worker does with the pool; pool_join() waits for it,
 * and from then on the main thread may join the worker's thread.
 */
static void
pool_worker_exited(struct pool_slot *slot)
{
	struct pool *p = slot->pool;

	(void)pthread_mutex_lock(&p->lock);
	p->alive--;
	slot->has_exited = true;
	/* Pairs with the load in pool_reap(); the lock orders the rest. */
	atomic_fetch_add_explicit(&p->unjoined, 1, memory_order_relaxed);
	(void)pthread_cond_broadcast(&p->exited);
	(void)pthread_mutex_unlock(&p->lock);
}

static void
pool_hand_back(struct pool *p, struct job *job)
{
	uint64_t one = 1;

	/* Cannot fail while the main thread keeps to the ring's capacity;
	 * yielding covers a momentary full ring rather than losing a job. */
	while (ring_push(p->results, job) < 0)
		(void)sched_yield();
	(void)!write(p->wake_fd, &one, sizeof(one));
}

/*
 * A worker that must exit got a job anyway: when stopping, hand it back
 * unattempted; when surplus, put it back for a worker that stays.
 */
static void
pool_give_up(struct pool *p, struct job *job)
{
	bool is_stopping;

	(void)pthread_mutex_lock(&p->lock);
	is_stopping = p->is_stopping;
	(void)pthread_mutex_unlock(&p->lock);
	/* The jobs ring has room: this job just left it. */
	if (!is_stopping && ring_push(p->jobs, job) == 0)
		return;
	job->outcome = JOB_PAUSED;
	job->retry_at_ms = 0;
	pool_hand_back(p, job);
}

/* A job that a worker took is finished: it goes back to the main thread. */
static void
pool_finish(struct job *job, void *arg)
{
	struct pool *p = arg;

	atomic_fetch_sub(&p->in_flight, 1);
	pool_hand_back(p, job);
}

/*
 * The next job to run, or NULL.  A worker that holds a summary to write
 * (see job.h) does not sleep on it: with no job waiting, it writes the
 * summary, which hands its job back, and looks again.
 */
static struct job *
pool_next_job(struct pool *p, struct job_context *ctx, unsigned *wake_seen)
{
	void *item;

	if (ctx->held) {
		if (ring_pop(p->jobs, &item) == 0)
			return item;
		job_release(ctx);
		return NULL;
	}
	if (ring_pop_wait(p->jobs, &item, wake_seen, -1) < 0)
		return NULL;
	return item;
}

static void *
pool_worker_main(void *arg)
{
	struct pool_slot *slot = arg;
	struct pool *p = slot->pool;
	struct job_context ctx;
	unsigned wake_seen = 0;
	struct job *job;

	if (job_context_init(&ctx, p->throttle,
	    (uint64_t)util_now_us() ^ ((uint64_t)slot->index << 32),
	    pool_finish, p) < 0) {
		log_msg(LOG_ERR, "Failed to start worker %u: out of memory",
		    slot->index);
		(void)pool_should_exit(slot);
		pool_worker_exited(slot);
		return NULL;
	}
	while (!pool_should_exit(slot)) {
		job = pool_next_job(p, &ctx, &wake_seen);
		if (!job)
			continue;
		/* A stop or a shrink may have come while this worker slept. */
		if (pool_should_exit(slot)) {
			pool_give_up(p, job);
			break;
		}
		atomic_fetch_add(&p->in_flight, 1);
		job_run(job, &ctx);
	}
	job_release(&ctx);
	job_context_clear(&ctx);
	pool_worker_exited(slot);
	return NULL;
}

/*
 * Creates a pool with no workers; pool_resize() starts them.  jobs and
 * results must outlive the pool, and the main thread must never have more
 * jobs out than results can hold.  wake_fd is an eventfd written once per
 * finished job.  Returns 0, or -ENOMEM.
 */
int
pool_new(struct ring *jobs, struct ring *results, int wake_fd,
    struct throttle *t, struct pool **ret_pool)
{
	pthread_condattr_t attr;
	struct pool *p;
	unsigned i;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->jobs = jobs;
	p->results = results;
	p->wake_fd = wake_fd;
	p->throttle = t;
	atomic_init(&p->in_flight, 0);
	atomic_init(&p->unjoined, 0);
	(void)pthread_mutex_init(&p->lock, NULL);
	(void)pthread_condattr_init(&attr);
	(void)pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	r = pthread_cond_init(&p->exited, &attr);
	(void)pthread_condattr_destroy(&attr);
	if (r != 0) {
		free(p);
		return -ENOMEM;
	}
	for (i = 0; i < POOL_MAX_WORKERS; i++) {
		p->slots[i].pool = p;
		p->slots[i].index = i;
	}
	*ret_pool = p;
	return 0;
}

/* Joins the slot's thread if it has said it is done. */
static void
pool_join_slot_locked(struct pool_slot *slot)
{
	if (!slot->has_thread || !slot->has_exited)
		return;
	(void)pthread_join(slot->thread, NULL);
	slot->has_thread = false;
	slot->has_exited = false;
}

/* Joins every thread that has said it is done. */
static void
pool_join_exited_locked(struct pool *p)
{
	unsigned i;

	atomic_store_explicit(&p->unjoined, 0, memory_order_relaxed);
	for (i = 0; i < POOL_MAX_WORKERS; i++)
		pool_join_slot_locked(&p->slots[i]);
}

static int
pool_start_locked(struct pool *p, struct pool_slot *slot)
{
	pthread_attr_t attr;
	pthread_t thread;
	int r;

	/* A worker that left this slot may still be on its way out; it does
	 * not need long, it only frees its context. */
	while (slot->has_thread && !slot->has_exited)
		(void)pthread_cond_wait(&p->exited, &p->lock);
	pool_join_slot_locked(slot);
	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setstacksize(&attr, POOL_STACK_BYTES);
	r = -pthread_create(&thread, &attr, pool_worker_main, slot);
	(void)pthread_attr_destroy(&attr);
	if (r < 0)
		return r;
	slot->thread = thread;
	slot->has_thread = true;
	slot->has_exited = false;
	slot->is_alive = true;
	p->alive++;
	return 0;
}

/*
 * Sets the number of workers: new ones start at once, surplus ones exit
 * after the job they have.  Returns 0, -EINVAL for a count out of range, or
 * the error of a thread that could not start (those that did still run).
 */
int
pool_resize(struct pool *p, unsigned workers)
{
	unsigned i;
	int r = 0;

	if (workers < 1 || workers > POOL_MAX_WORKERS)
		return -EINVAL;
	(void)pthread_mutex_lock(&p->lock);
	pool_join_exited_locked(p);
	p->target = workers;
	for (i = 0; i < workers && r == 0; i++)
		if (!p->slots[i].is_alive)
			r = pool_start_locked(p, &p->slots[i]);
	(void)pthread_mutex_unlock(&p->lock);
	ring_wake_all(p->jobs);
	return r;
}

/*
 * Joins the workers that a shrink let go and that are done by now, so
 * their stacks are given back; costs one atomic load when there are none.
 */
void
pool_reap(struct pool *p)
{
	/* Pairs with the add in pool_worker_exited(). */
	if (atomic_load_explicit(&p->unjoined, memory_order_relaxed) == 0)
		return;
	(void)pthread_mutex_lock(&p->lock);
	pool_join_exited_locked(p);
	(void)pthread_mutex_unlock(&p->lock);
}

/* How many jobs workers are running right now.  Any thread. */
unsigned
pool_in_flight(const struct pool *p)
{
	return atomic_load(&((struct pool *)p)->in_flight);
}

/*
 * Stops taking jobs: workers finish the request in hand and exit.  Waits
 * in the throttle end at once.  Jobs still in the ring stay there.
 */
void
pool_stop(struct pool *p)
{
	(void)pthread_mutex_lock(&p->lock);
	p->is_stopping = true;
	(void)pthread_mutex_unlock(&p->lock);
	throttle_cancel(p->throttle);
	ring_wake_all(p->jobs);
}

/*
 * Waits until every worker has exited or deadline_ms (monotonic) passes,
 * and joins those that did.  Returns 0, or -ETIMEDOUT with some workers
 * still in a request.
 */
int
pool_join(struct pool *p, int64_t deadline_ms)
{
	struct timespec ts;
	int r = 0;

	ts.tv_sec = deadline_ms / 1000;
	ts.tv_nsec = (deadline_ms % 1000) * 1000000;
	(void)pthread_mutex_lock(&p->lock);
	while (p->alive > 0 && r == 0) {
		if (pthread_cond_timedwait(&p->exited, &p->lock, &ts) ==
		    ETIMEDOUT)
			r = -ETIMEDOUT;
	}
	pool_join_exited_locked(p);
	(void)pthread_mutex_unlock(&p->lock);
	return r;
}

/*
 * Frees a pool whose workers have all exited (pool_join() returned 0).
 * NULL is fine.
 */
void
pool_free(struct pool *p)
{
	if (!p)
		return;
	(void)pthread_cond_destroy(&p->exited);
	(void)pthread_mutex_destroy(&p->lock);
	free(p);
}
