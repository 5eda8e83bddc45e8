// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * The pool that does the main thread's jobs: `workers` request slots, a
 * few file threads and one transfer thread.  The main thread hands a job
 * over with pool_submit(), which takes a slot for it; a file thread pops
 * it from the jobs ring and does the file work up to the request
 * (job_prepare()); the transfer thread sends it, with every other
 * request in flight, through one curl multi handle (xfer.c); when it is
 * over the job goes back onto the jobs ring, and a file thread writes its
 * summary or records its failure (job_complete()) and pushes it onto the
 * results ring.  Then it writes to an eventfd so the main thread wakes,
 * unless the job is a summary written while enough jobs are parked to
 * keep every slot busy (pool_main_may_wait()): in a long backlog the
 * main thread then wakes every 100 ms or so for many results instead of
 * once for each.  The main thread creates, resizes and stops the pool;
 * nobody else calls these functions.
 *
 * Slots.  A slot is the right to have one request under way, with the
 * api client (curl easy handle) that carries it; there are `workers` of
 * them, so `workers` bounds the requests in flight, the connections open
 * and the files held open.  A job that finds no free slot is parked
 * without waking any thread, and the slot that frees next passes straight
 * to it: the job goes onto the ring, or rides along with the job whose
 * reply freed the slot (pool_transfer_done()).  Clients are made as slots
 * are first needed and kept for the next request; a shrink frees the
 * surplus as it comes back.  The jobs ring thus carries two kinds of job:
 * those holding a slot, new or unparked, and those whose request is over.
 * None is ever lost to a full ring: every job on it is one that the main
 * thread has out, and it never has more out than the ring holds.
 *
 * Threads.  File threads run while their index is below the target that
 * the slot count gives (pool_file_threads()); resizing changes targets
 * under the lock and wakes everyone: a surplus thread notices at its
 * next look and exits after the job it has, and growing starts a thread
 * in every slot below the target that has none.  A thread's decision to
 * exit and the clearing of its slot happen under the same lock, so a
 * grow that races with a shrink never loses a thread.
 *
 * Stopping: pool_stop() sets a flag, hands the parked jobs back, cancels
 * the throttle and stops the transfer thread: requests in flight finish,
 * those waiting for the throttle come back unsent, and a new job popped
 * after the flag is handed back unattempted.  File threads stay until no
 * job is in flight, so that every reply that came is acted on; then all
 * exit, and pool_join() waits for that up to a deadline.
 *
 * Joining.  A thread says it is done under the lock and never takes the
 * lock again, so the main thread may then join it.  Every thread is
 * joined: at stop, so that its thread-local state (OpenSSL keeps some for
 * each thread that made a TLS connection) is torn down before the process
 * cleans the libraries up; after a shrink, by pool_reap() or at the next
 * resize, so that its stack is given back.  Threads still waiting for a
 * request past the stop deadline are never joined and are left to the
 * process exit.
 */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "job.h"
#include "log.h"
#include "pool.h"
#include "ring.h"
#include "throttle.h"
#include "util.h"
#include "xfer.h"

#define POOL_MAX_WORKERS 1024
#define POOL_STACK_BYTES (512 * 1024)

/*
 * File threads at most.  Their work is short, but a durable write waits
 * for the disk: enough of them keep the writes of many replies
 * overlapping, so that the file system can flush them together.
 */
#define POOL_MAX_FILE_THREADS 32

/*
 * How long a result that does not need the main thread at once may wait
 * for it (pool_main_may_wait()): well under the status line's interval,
 * so that its counts stay as fresh as it is sent.
 */
#define POOL_RESULT_DELAY_MS 100

/* Slots per file thread, see pool_file_threads(). */
#define POOL_SLOTS_PER_FILE_THREAD 16

struct pool;

struct pool_thread {
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
	struct xfer *xfer;		/* fixed after pool_new() */
	pthread_mutex_t lock;
	pthread_cond_t exited;		/* signalled under lock */
	unsigned target;		/* guarded by lock: slots, `workers` */
	unsigned file_target;		/* guarded by lock: file threads */
	unsigned alive;			/* guarded by lock: threads running */
	atomic_bool is_stopping;	/* written under lock */
	unsigned in_use;		/* guarded by lock: slots taken */
	unsigned clients;		/* guarded by lock: clients made */
	unsigned n_spare;		/* guarded by lock */
	struct api_client *spare[POOL_MAX_WORKERS];	/* guarded by lock */
	struct job *parked;		/* guarded by lock: wait for a slot */
	struct job **parked_tail;	/* guarded by lock */
	atomic_uint n_parked;		/* written under lock, read by all */
	atomic_llong woken_ms;		/* atomic: main last woken for a job */
	atomic_uint in_flight;		/* atomic: threads write, main reads */
	atomic_uint unjoined;		/* atomic: threads add, main clears */
	struct pool_thread transfer;
	struct pool_thread files[POOL_MAX_FILE_THREADS];
};

/*
 * File threads for a number of slots: one per POOL_SLOTS_PER_FILE_THREAD,
 * and at least two, so that a slow read of one input does not hold up
 * the summary of another.
 */
static unsigned
pool_file_threads(unsigned workers)
{
	unsigned n = workers / POOL_SLOTS_PER_FILE_THREAD;

	if (n < 2)
		return 2;
	return n > POOL_MAX_FILE_THREADS ? POOL_MAX_FILE_THREADS : n;
}

/*
 * Whether the file thread th should end: surplus after a shrink, or
 * stopping with no job left in flight.  If so its slot is freed at once,
 * so that a grow may start a new thread there.
 */
static bool
pool_should_exit(struct pool_thread *th)
{
	struct pool *p = th->pool;
	bool is_exiting;

	(void)pthread_mutex_lock(&p->lock);
	is_exiting = th->index >= p->file_target ||
	    (atomic_load(&p->is_stopping) && atomic_load(&p->in_flight) == 0);
	if (is_exiting)
		th->is_alive = false;
	(void)pthread_mutex_unlock(&p->lock);
	return is_exiting;
}

/*
 * The last thing a thread does with the pool; pool_join() waits for it,
 * and from then on the main thread may join the thread.
 */
static void
pool_thread_exited(struct pool_thread *th)
{
	struct pool *p = th->pool;

	(void)pthread_mutex_lock(&p->lock);
	th->is_alive = false;
	p->alive--;
	th->has_exited = true;
	/* Pairs with the load in pool_reap(); the lock orders the rest. */
	atomic_fetch_add_explicit(&p->unjoined, 1, memory_order_relaxed);
	(void)pthread_cond_broadcast(&p->exited);
	(void)pthread_mutex_unlock(&p->lock);
}

/*
 * Whether the main thread may hear of a job later: a summary written,
 * while the parked jobs alone can give every request in flight a
 * successor, and less than POOL_RESULT_DELAY_MS after it was last woken
 * for a job.  It has nothing to do for that job but count it, and it
 * takes in every result waiting when it is woken: once the parked jobs
 * run low, at the first result of any other kind, or when the delay is
 * up.
 */
static bool
pool_main_may_wait(struct pool *p, const struct job *job, int64_t now_ms)
{
	return job->outcome == JOB_DONE && !atomic_load(&p->is_stopping) &&
	    atomic_load(&p->n_parked) > atomic_load(&p->in_flight) &&
	    now_ms - atomic_load(&p->woken_ms) < POOL_RESULT_DELAY_MS;
}

/* Gives a job to the main thread, waking it unless it may wait. */
static void
pool_hand_back(struct pool *p, struct job *job)
{
	int64_t now_ms = util_now_ms();
	uint64_t one = 1;
	bool is_urgent = !pool_main_may_wait(p, job, now_ms);

	/* Cannot fail while the main thread keeps to the ring's capacity;
	 * yielding covers a momentary full ring rather than losing a job. */
	while (ring_push(p->results, job) < 0)
		(void)sched_yield();
	if (is_urgent) {
		atomic_store(&p->woken_ms, now_ms);
		(void)!write(p->wake_fd, &one, sizeof(one));
	}
}

/* Puts a job back on the jobs ring for a file thread. */
static void
pool_requeue(struct pool *p, struct job *job)
{
	/* As for the results ring: every job on it is one main has out. */
	while (ring_push(p->jobs, job) < 0)
		(void)sched_yield();
}

/* A job not attempted because gistd is stopping goes back as it was. */
static void
pool_give_back(struct pool *p, struct job *job)
{
	job->outcome = JOB_PAUSED;
	job->retry_at_ms = 0;
	pool_hand_back(p, job);
}

/* A job that had a slot is finished: it goes back to the main thread. */
static void
pool_finish(struct pool *p, struct job *job)
{
	bool is_last = atomic_fetch_sub(&p->in_flight, 1) == 1;

	pool_hand_back(p, job);
	/* The file threads wait for the last one before they leave. */
	if (is_last && atomic_load(&p->is_stopping))
		ring_wake_all(p->jobs);
}

/* The first parked job, given the slot the caller holds; or NULL. */
static struct job *
pool_unpark_locked(struct pool *p)
{
	struct job *job = p->parked;

	if (!job || atomic_load(&p->is_stopping))
		return NULL;
	p->parked = job->pool_next;
	if (!p->parked)
		p->parked_tail = &p->parked;
	atomic_fetch_sub(&p->n_parked, 1);
	return job;
}

/*
 * Gives a slot back, with its client (NULL if none was taken).  The slot
 * passes to the first parked job, which is returned; or NULL.  Any thread
 * of the pool.
 */
static struct job *
pool_pass_slot(struct pool *p, struct api_client *client)
{
	struct api_client *extra = NULL;
	struct job *next = NULL;

	(void)pthread_mutex_lock(&p->lock);
	if (client && p->clients > p->target) {
		p->clients--;
		extra = client;
	} else if (client) {
		p->spare[p->n_spare++] = client;
	}
	if (p->in_use <= p->target)
		next = pool_unpark_locked(p);
	if (!next)
		p->in_use--;
	(void)pthread_mutex_unlock(&p->lock);
	api_client_free(extra);
	return next;
}

/* As pool_pass_slot(), the job that gets the slot going onto the ring. */
static void
pool_release_slot(struct pool *p, struct api_client *client)
{
	struct job *next = pool_pass_slot(p, client);

	if (next)
		pool_requeue(p, next);
}

/* A client for the slot the caller holds: a spare one or a new one. */
static struct api_client *
pool_client(struct pool *p)
{
	struct api_client *c = NULL;

	(void)pthread_mutex_lock(&p->lock);
	if (p->n_spare > 0)
		c = p->spare[--p->n_spare];
	else
		p->clients++;
	(void)pthread_mutex_unlock(&p->lock);
	if (!c && api_client_new(&c) < 0) {
		(void)pthread_mutex_lock(&p->lock);
		p->clients--;
		(void)pthread_mutex_unlock(&p->lock);
		c = NULL;
	}
	return c;
}

/*
 * The transfer thread is done with a request: its job goes back onto the
 * ring for a file thread to finish.  After a reply that worked, the slot
 * is free for the next request at once: the parked job that gets it
 * rides along (job->pool_next), so that one file thread wakes for both
 * and starts that request before it writes the summary.  After a failure
 * the slot stays taken until the file thread has acted on it: a failure
 * may hold or pause every request (a 429, a refused key), and the next
 * one must not slip out before it does.
 */
static void
pool_transfer_done(struct xfer_request *req, void *arg)
{
	struct pool *p = arg;
	struct job *job = req->owner;
	struct api_client *client = req->client;

	job->pool_next = NULL;
	if (req->status == 0 && req->result.class == API_OK) {
		req->client = NULL;
		job->pool_next = pool_pass_slot(p, client);
	}
	/* The job may be taken at once: req is not touched after this. */
	pool_requeue(p, job);
}

/* Starts a job that holds a slot: its file work, then its request. */
static void
pool_start_job(struct pool *p, struct job_context *ctx, struct job *job)
{
	struct api_client *client;

	atomic_fetch_add(&p->in_flight, 1);
	client = pool_client(p);
	if (!client) {
		/* Not the file's fault: try again in a moment. */
		job->outcome = JOB_RETRY;
		job->retry_at_ms = util_now_ms() + 1000;
		(void)snprintf(job->reason, sizeof(job->reason),
		    "out of memory");
	} else if (job_prepare(job, ctx, client) == JOB_STEP_SEND) {
		xfer_submit(p->xfer, job_request(job));
		return;
	}
	pool_release_slot(p, client);
	pool_finish(p, job);
}

/* Does what a job popped from the ring needs next. */
static void
pool_run(struct pool *p, struct job_context *ctx, struct job *job)
{
	struct api_client *client;
	struct job *next;

	if (job->exchange) {
		/* Its request is over; its slot may still be taken, or have
		 * passed to the job after it, whose request goes first. */
		next = job->pool_next;
		job->pool_next = NULL;
		if (next)
			pool_run(p, ctx, next);
		client = job_request(job)->client;
		job_complete(job, ctx);
		if (client)
			pool_release_slot(p, client);
		pool_finish(p, job);
		return;
	}
	/* Every other job on the ring holds a slot (pool_submit()). */
	if (atomic_load(&p->is_stopping)) {
		pool_release_slot(p, NULL);
		pool_give_back(p, job);
		return;
	}
	pool_start_job(p, ctx, job);
}

static void *
pool_file_main(void *arg)
{
	struct pool_thread *th = arg;
	struct pool *p = th->pool;
	struct job_context ctx;
	unsigned wake_seen = 0;
	void *item;

	job_context_init(&ctx, p->throttle,
	    (uint64_t)util_now_us() ^ ((uint64_t)th->index << 32));
	while (!pool_should_exit(th))
		if (ring_pop_wait(p->jobs, &item, &wake_seen, -1) == 0)
			pool_run(p, &ctx, item);
	pool_thread_exited(th);
	return NULL;
}

static void *
pool_transfer_main(void *arg)
{
	struct pool_thread *th = arg;

	xfer_run(th->pool->xfer);
	pool_thread_exited(th);
	return NULL;
}

/*
 * Creates a pool with no threads; pool_resize() starts them.  jobs and
 * results must outlive the pool, and the main thread must never have more
 * jobs out than either ring holds.  wake_fd is an eventfd written once
 * per finished job.  Returns 0, or a negative errno.
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
	p->parked_tail = &p->parked;
	atomic_init(&p->is_stopping, false);
	atomic_init(&p->in_flight, 0);
	atomic_init(&p->n_parked, 0);
	atomic_init(&p->woken_ms, 0);
	atomic_init(&p->unjoined, 0);
	r = xfer_new(t, pool_transfer_done, p, &p->xfer);
	if (r < 0) {
		free(p);
		return r;
	}
	(void)pthread_mutex_init(&p->lock, NULL);
	(void)pthread_condattr_init(&attr);
	(void)pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	r = pthread_cond_init(&p->exited, &attr);
	(void)pthread_condattr_destroy(&attr);
	if (r != 0) {
		xfer_free(p->xfer);
		free(p);
		return -ENOMEM;
	}
	p->transfer.pool = p;
	for (i = 0; i < POOL_MAX_FILE_THREADS; i++) {
		p->files[i].pool = p;
		p->files[i].index = i;
	}
	*ret_pool = p;
	return 0;
}

/* Joins the thread if it has said it is done. */
static void
pool_join_thread_locked(struct pool_thread *th)
{
	if (!th->has_thread || !th->has_exited)
		return;
	(void)pthread_join(th->thread, NULL);
	th->has_thread = false;
	th->has_exited = false;
}

/* Joins every thread that has said it is done. */
static void
pool_join_exited_locked(struct pool *p)
{
	unsigned i;

	atomic_store_explicit(&p->unjoined, 0, memory_order_relaxed);
	pool_join_thread_locked(&p->transfer);
	for (i = 0; i < POOL_MAX_FILE_THREADS; i++)
		pool_join_thread_locked(&p->files[i]);
}

static int
pool_start_locked(struct pool *p, struct pool_thread *th,
    void *(*fn)(void *))
{
	pthread_attr_t attr;
	pthread_t thread;
	int r;

	/* A thread that left this slot may still be on its way out; it does
	 * not need long. */
	while (th->has_thread && !th->has_exited)
		(void)pthread_cond_wait(&p->exited, &p->lock);
	pool_join_thread_locked(th);
	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setstacksize(&attr, POOL_STACK_BYTES);
	r = -pthread_create(&thread, &attr, fn, th);
	(void)pthread_attr_destroy(&attr);
	if (r < 0)
		return r;
	th->thread = thread;
	th->has_thread = true;
	th->has_exited = false;
	th->is_alive = true;
	p->alive++;
	return 0;
}

/*
 * Takes out of the spare clients those beyond the slot count, into
 * extra; returns how many.
 */
static unsigned
pool_trim_locked(struct pool *p, struct api_client **extra)
{
	unsigned n = 0;

	while (p->clients > p->target && p->n_spare > 0) {
		extra[n++] = p->spare[--p->n_spare];
		p->clients--;
	}
	return n;
}

/*
 * Sets the number of slots, `workers`, and the file threads that go with
 * it: new threads start at once, surplus ones exit after the job they
 * have, and parked jobs get the slots that a grow adds.  Returns 0,
 * -EINVAL for a count out of range, or the error of a thread that could
 * not start (the transfer thread starts first; those that did start
 * still run).
 */
int
pool_resize(struct pool *p, unsigned workers)
{
	struct api_client *extra[POOL_MAX_WORKERS];
	struct job *granted = NULL, **tail = &granted, *job;
	unsigned i, n;
	int r = 0;

	if (workers < 1 || workers > POOL_MAX_WORKERS)
		return -EINVAL;
	(void)pthread_mutex_lock(&p->lock);
	pool_join_exited_locked(p);
	p->target = workers;
	p->file_target = pool_file_threads(workers);
	if (!p->transfer.is_alive)
		r = pool_start_locked(p, &p->transfer, pool_transfer_main);
	for (i = 0; i < p->file_target && r == 0; i++)
		if (!p->files[i].is_alive)
			r = pool_start_locked(p, &p->files[i], pool_file_main);
	while (p->in_use < p->target && (job = pool_unpark_locked(p))) {
		p->in_use++;
		job->pool_next = NULL;
		*tail = job;
		tail = &job->pool_next;
	}
	n = pool_trim_locked(p, extra);
	(void)pthread_mutex_unlock(&p->lock);
	xfer_set_connections(p->xfer, workers);
	for (i = 0; i < n; i++)
		api_client_free(extra[i]);
	while ((job = granted)) {
		granted = job->pool_next;
		pool_requeue(p, job);
	}
	ring_wake_all(p->jobs);
	return r;
}

/*
 * Takes a job from the main thread.  With a slot free, the job takes it
 * and goes onto the jobs ring for a file thread; with none, it is parked
 * here, and nobody is woken until a slot frees and passes to it.  While
 * stopping, it comes back unattempted through the results ring.  Returns
 * 0, or -EAGAIN if the jobs ring was full, which cannot happen while the
 * main thread has no more jobs out than the ring holds; then the job is
 * still the caller's.
 */
int
pool_submit(struct pool *p, struct job *job)
{
	bool has_slot = false, is_stopping;

	(void)pthread_mutex_lock(&p->lock);
	is_stopping = atomic_load(&p->is_stopping);
	if (!is_stopping) {
		has_slot = p->in_use < p->target;
		if (has_slot) {
			p->in_use++;
		} else {
			job->pool_next = NULL;
			*p->parked_tail = job;
			p->parked_tail = &job->pool_next;
			atomic_fetch_add(&p->n_parked, 1);
		}
	}
	(void)pthread_mutex_unlock(&p->lock);
	if (is_stopping) {
		pool_give_back(p, job);
		return 0;
	}
	if (!has_slot)
		return 0;
	if (ring_push(p->jobs, job) < 0) {
		pool_release_slot(p, NULL);
		return -EAGAIN;
	}
	return 0;
}

/*
 * Joins the threads that a shrink let go and that are done by now, so
 * their stacks are given back; costs one atomic load when there are none.
 */
void
pool_reap(struct pool *p)
{
	/* Pairs with the add in pool_thread_exited(). */
	if (atomic_load_explicit(&p->unjoined, memory_order_relaxed) == 0)
		return;
	(void)pthread_mutex_lock(&p->lock);
	pool_join_exited_locked(p);
	(void)pthread_mutex_unlock(&p->lock);
}

/* How many jobs the pool is working on right now.  Any thread. */
unsigned
pool_in_flight(const struct pool *p)
{
	return atomic_load(&((struct pool *)p)->in_flight);
}

/*
 * Stops taking jobs: requests in flight finish and are acted on, then
 * every thread exits.  Parked jobs, and those waiting for the throttle,
 * are handed back unattempted at once.  Jobs still in the ring stay
 * there.
 */
void
pool_stop(struct pool *p)
{
	struct job *parked, *job;

	(void)pthread_mutex_lock(&p->lock);
	atomic_store(&p->is_stopping, true);
	parked = p->parked;
	p->parked = NULL;
	p->parked_tail = &p->parked;
	atomic_store(&p->n_parked, 0);
	(void)pthread_mutex_unlock(&p->lock);
	while ((job = parked)) {
		parked = job->pool_next;
		pool_give_back(p, job);
	}
	throttle_cancel(p->throttle);
	xfer_stop(p->xfer);
	ring_wake_all(p->jobs);
}

/*
 * Waits until every thread has exited or deadline_ms (monotonic) passes,
 * and joins those that did.  Returns 0, or -ETIMEDOUT with some requests
 * still in flight.
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
 * Frees a pool whose threads have all exited (pool_join() returned 0).
 * NULL is fine.
 */
void
pool_free(struct pool *p)
{
	if (!p)
		return;
	while (p->n_spare > 0)
		api_client_free(p->spare[--p->n_spare]);
	xfer_free(p->xfer);
	(void)pthread_cond_destroy(&p->exited);
	(void)pthread_mutex_destroy(&p->lock);
	free(p);
}
