// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Micro-benchmark of src/ring.c against a plain bounded queue guarded by a
 * mutex and a condition variable, written here with the same interface:
 * push never blocks and fails when full, pop_wait sleeps while empty,
 * wake_all makes every sleeper return -EINTR once.
 *
 * Throughput: P producers and C consumers (1 to 4 each) move M items
 * through a queue of 1024 cells.  A producer that finds the queue full
 * yields and tries again (gistd's main thread never has more out than the
 * ring holds, so this is the benchmark's back-pressure, not gistd's);
 * consumers sleep in pop_wait when it is empty.  Reported: items per
 * second, median of R repetitions.
 *
 * Sleep and wake: two threads bounce one token through two queues (A to B
 * and back).  Each side sleeps in pop_wait for the other's push, so one
 * round trip is two hand-offs to a sleeping consumer.  Reported: the
 * median round trip and the cost per hand-off, in microseconds.
 *
 * Usage: ring-bench [-n ITEMS] [-r REPEATS] [-k ROUNDTRIPS] [-p PRODUCERS]
 *                   [-c CONSUMERS] [-q ring|mutex]
 */

#define _GNU_SOURCE 1

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

#define BENCH_CAPACITY 1024
#define BENCH_MAX_THREADS 4

/* ---- the mutex + condition variable queue ---- */

struct mq {
	pthread_mutex_t lock;
	pthread_cond_t nonempty;
	size_t mask, head, tail;	/* guarded by lock */
	unsigned wake_alls;		/* guarded by lock */
	void **cells;
};

static int
mq_new(size_t capacity, struct mq **ret)
{
	struct mq *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->cells = calloc(capacity, sizeof(void *));
	q->mask = capacity - 1;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->nonempty, NULL);
	*ret = q;
	return 0;
}

static void
mq_free(struct mq *q)
{
	pthread_cond_destroy(&q->nonempty);
	pthread_mutex_destroy(&q->lock);
	free(q->cells);
	free(q);
}

static int
mq_push(struct mq *q, void *item)
{
	pthread_mutex_lock(&q->lock);
	if (q->head - q->tail > q->mask) {
		pthread_mutex_unlock(&q->lock);
		return -EAGAIN;
	}
	q->cells[q->head++ & q->mask] = item;
	pthread_cond_signal(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

static int
mq_pop_wait(struct mq *q, void **ret_item, unsigned *wake_seen)
{
	int r = 0;

	pthread_mutex_lock(&q->lock);
	while (q->head == q->tail && q->wake_alls == *wake_seen)
		pthread_cond_wait(&q->nonempty, &q->lock);
	if (q->head != q->tail) {
		*ret_item = q->cells[q->tail++ & q->mask];
	} else {
		*wake_seen = q->wake_alls;
		r = -EINTR;
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

static void
mq_wake_all(struct mq *q)
{
	pthread_mutex_lock(&q->lock);
	q->wake_alls++;
	pthread_cond_broadcast(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
}

/* ---- one interface over both ---- */

struct queue_ops {
	const char *name;
	int (*create)(void **q);
	void (*destroy)(void *q);
	int (*push)(void *q, void *item);
	int (*pop_wait)(void *q, void **item, unsigned *wake_seen);
	void (*wake_all)(void *q);
};

static int
ops_ring_new(void **q)
{
	return ring_new(BENCH_CAPACITY, (struct ring **)q);
}

static void
ops_ring_free(void *q)
{
	ring_free(q);
}

static int
ops_ring_push(void *q, void *item)
{
	return ring_push(q, item);
}

static int
ops_ring_pop_wait(void *q, void **item, unsigned *wake_seen)
{
	return ring_pop_wait(q, item, wake_seen, -1);
}

static void
ops_ring_wake_all(void *q)
{
	ring_wake_all(q);
}

static int
ops_mq_new(void **q)
{
	return mq_new(BENCH_CAPACITY, (struct mq **)q);
}

static void
ops_mq_free(void *q)
{
	mq_free(q);
}

static int
ops_mq_push(void *q, void *item)
{
	return mq_push(q, item);
}

static int
ops_mq_pop_wait(void *q, void **item, unsigned *wake_seen)
{
	return mq_pop_wait(q, item, wake_seen);
}

static void
ops_mq_wake_all(void *q)
{
	mq_wake_all(q);
}

static const struct queue_ops bench_ops[] = {
	{ "ring", ops_ring_new, ops_ring_free, ops_ring_push,
	    ops_ring_pop_wait, ops_ring_wake_all },
	{ "mutex+cond", ops_mq_new, ops_mq_free, ops_mq_push,
	    ops_mq_pop_wait, ops_mq_wake_all },
};

static int64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- throughput ---- */

struct tp_run {
	const struct queue_ops *ops;
	void *q;
	uint64_t per_producer;
	uint64_t total;
	atomic_uint_fast64_t consumed;
	atomic_uint_fast64_t checksum;
	atomic_bool is_done;
};

static void *
tp_producer(void *arg)
{
	struct tp_run *run = arg;
	uint64_t i;

	for (i = 1; i <= run->per_producer; i++)
		while (run->ops->push(run->q, (void *)(uintptr_t)i) < 0)
			sched_yield();
	return NULL;
}

static void *
tp_consumer(void *arg)
{
	struct tp_run *run = arg;
	unsigned wake_seen = 0;
	uint64_t sum = 0, n;
	void *item;

	while (!atomic_load(&run->is_done)) {
		if (run->ops->pop_wait(run->q, &item, &wake_seen) < 0)
			continue;
		sum += (uintptr_t)item;
		n = atomic_fetch_add(&run->consumed, 1) + 1;
		if (n == run->total) {
			atomic_store(&run->is_done, true);
			run->ops->wake_all(run->q);
		}
	}
	atomic_fetch_add(&run->checksum, sum);
	return NULL;
}

/* Moves items through a fresh queue; returns items per second. */
static double
tp_once(const struct queue_ops *ops, int producers, int consumers,
    uint64_t items)
{
	pthread_t pt[BENCH_MAX_THREADS], ct[BENCH_MAX_THREADS];
	struct tp_run run = { .ops = ops };
	uint64_t expect;
	int64_t start, ns;
	int i;

	run.per_producer = items / (uint64_t)producers;
	run.total = run.per_producer * (uint64_t)producers;
	atomic_init(&run.consumed, 0);
	atomic_init(&run.checksum, 0);
	atomic_init(&run.is_done, false);
	if (ops->create(&run.q) < 0)
		exit(1);
	start = bench_now_ns();
	for (i = 0; i < consumers; i++)
		pthread_create(&ct[i], NULL, tp_consumer, &run);
	for (i = 0; i < producers; i++)
		pthread_create(&pt[i], NULL, tp_producer, &run);
	for (i = 0; i < producers; i++)
		pthread_join(pt[i], NULL);
	for (i = 0; i < consumers; i++)
		pthread_join(ct[i], NULL);
	ns = bench_now_ns() - start;
	expect = (uint64_t)producers * run.per_producer *
	    (run.per_producer + 1) / 2;
	if (atomic_load(&run.checksum) != expect) {
		fprintf(stderr, "ring-bench: %s lost or duplicated items\n",
		    ops->name);
		exit(1);
	}
	ops->destroy(run.q);
	return run.total / (ns / 1e9);
}

static int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- sleep and wake ---- */

struct pp_run {
	const struct queue_ops *ops;
	void *a, *b;
	int rounds;
	long sleeps;			/* echo thread's voluntary switches */
};

static void *
pp_echo(void *arg)
{
	struct pp_run *run = arg;
	unsigned wake_seen = 0;
	struct rusage ru0, ru1;
	void *item;
	int i;

	getrusage(RUSAGE_THREAD, &ru0);
	for (i = 0; i < run->rounds; i++) {
		while (run->ops->pop_wait(run->a, &item, &wake_seen) < 0)
			;
		while (run->ops->push(run->b, item) < 0)
			;
	}
	getrusage(RUSAGE_THREAD, &ru1);
	run->sleeps = ru1.ru_nvcsw - ru0.ru_nvcsw;
	return NULL;
}

/*
 * Returns the median round trip in nanoseconds; *ret_sleeps gets how often
 * the echo thread slept per round trip (1.0: every hand-off woke it).
 */
static double
pp_once(const struct queue_ops *ops, int rounds, double *ret_sleeps)
{
	struct pp_run run = { .ops = ops, .rounds = rounds };
	unsigned wake_seen = 0;
	double *rtt = malloc(sizeof(double) * (size_t)rounds), m;
	pthread_t t;
	void *item;
	int i;

	if (ops->create(&run.a) < 0 || ops->create(&run.b) < 0)
		exit(1);
	pthread_create(&t, NULL, pp_echo, &run);
	for (i = 0; i < rounds; i++) {
		int64_t start = bench_now_ns();

		while (ops->push(run.a, (void *)(uintptr_t)(i + 1)) < 0)
			;
		while (ops->pop_wait(run.b, &item, &wake_seen) < 0)
			;
		rtt[i] = (double)(bench_now_ns() - start);
		/* Let the echo thread fall asleep again, so that every hand-off
		 * is to a sleeping consumer. */
		usleep(50);
	}
	pthread_join(t, NULL);
	ops->destroy(run.a);
	ops->destroy(run.b);
	m = bench_median(rtt, rounds);
	free(rtt);
	*ret_sleeps = (double)run.sleeps / rounds;
	return m;
}

int
main(int argc, char **argv)
{
	uint64_t items = 2000000;
	int repeats = 5, rounds = 2000, opt, p, c, i, k;
	int p_lo = 1, p_hi = BENCH_MAX_THREADS, c_lo = 1;
	int c_hi = BENCH_MAX_THREADS, only = -1;
	double v[16];

	while ((opt = getopt(argc, argv, "n:r:k:p:c:q:")) != -1) {
		switch (opt) {
		case 'n': items = strtoull(optarg, NULL, 10); break;
		case 'r': repeats = atoi(optarg); break;
		case 'k': rounds = atoi(optarg); break;
		case 'p': p_lo = p_hi = atoi(optarg); break;
		case 'c': c_lo = c_hi = atoi(optarg); break;
		case 'q': only = strcmp(optarg, "ring") == 0 ? 0 : 1; break;
		default:
			fprintf(stderr, "Usage: ring-bench [-n ITEMS] "
			    "[-r REPEATS] [-k ROUNDTRIPS] [-p PRODUCERS] "
			    "[-c CONSUMERS] [-q ring|mutex]\n");
			return 2;
		}
	}
	if (repeats < 1 || repeats > 16 || rounds < 1 || p_lo < 1 ||
	    p_hi > BENCH_MAX_THREADS || c_lo < 1 || c_hi > BENCH_MAX_THREADS)
		return 2;
	printf("# throughput: %llu items, capacity %d, median of %d, "
	    "%ld CPUs\n", (unsigned long long)items, BENCH_CAPACITY,
	    repeats, sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-11s %9s %9s %14s\n", "queue", "producers", "consumers",
	    "items/s");
	for (p = p_lo; p <= p_hi; p++)
		for (c = c_lo; c <= c_hi; c++)
			for (k = 0; k < 2; k++) {
				if (only >= 0 && k != only)
					continue;
				for (i = 0; i < repeats; i++)
					v[i] = tp_once(&bench_ops[k], p, c,
					    items);
				printf("%-11s %9d %9d %14.0f\n",
				    bench_ops[k].name, p, c,
				    bench_median(v, repeats));
				fflush(stdout);
			}
	printf("# sleep and wake: %d round trips, median\n", rounds);
	printf("%-11s %14s %14s %14s\n", "queue", "round trip us",
	    "hand-off us", "sleeps/round");
	for (k = 0; k < 2; k++) {
		double sleeps, ns;

		if (only >= 0 && k != only)
			continue;
		ns = pp_once(&bench_ops[k], rounds, &sleeps);
		printf("%-11s %14.2f %14.2f %14.2f\n", bench_ops[k].name,
		    ns / 1e3, ns / 2e3, sleeps);
	}
	return 0;
}
