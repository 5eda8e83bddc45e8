// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Tests of ring.c: capacity rules, full and empty rings, FIFO order across
 * many wrap-arounds, exactly-once delivery with several producers and
 * consumers, and the sleeping side: ring_pop_wait() must really sleep,
 * wake for a push, time out no earlier than asked, and return -EINTR for
 * ring_wake_all().  A thread that should return is joined with a deadline,
 * so a lost wake-up fails a test instead of hanging the suite.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "tap.h"
#include "util.h"

/* How long a thread that should return may take before the test gives up. */
#define DEADLINE_MS 5000

/* Below this, a wait counts as "at once" where the alternative is longer. */
#define AT_ONCE_MS 250

/*
 * Items pushed through the ring by the main exactly-once run, and by the
 * others, which are smaller so that the suite stays quick on two cores.
 */
#define FLOW_ITEMS 1000000
#define FLOW_SMALL_ITEMS 250000

#define FLOW_MAX_PRODUCERS 4
#define FLOW_MAX_CONSUMERS 4

/* Rounds of one push to one sleeping consumer in the lost wake-up test. */
#define HANDOFF_ROUNDS 3000

/* A thread blocked in one ring_pop_wait() call. */
struct sleeper {
	pthread_t thread;
	struct ring *r;
	int64_t timeout_ms;		/* fixed before the thread starts */
	unsigned wake_seen;		/* the thread's until it is joined */
	void *item;			/* the thread's until it is joined */
	int result;			/* the thread's until it is joined */
	int64_t took_us;		/* the thread's until it is joined */
	atomic_int tid;			/* atomic: the thread writes, main reads */
	atomic_bool is_done;		/* atomic: the thread writes, main reads */
};

/* One item of an exactly-once run; the producer fills it before the push. */
struct flow_item {
	unsigned producer;
	unsigned seq;
	atomic_uint seen;		/* atomic: consumers count their pops */
};

struct flow {
	struct ring *r;
	struct flow_item *items;	/* fixed before the threads start */
	unsigned per_producer;		/* fixed before the threads start */
	unsigned total;			/* fixed before the threads start */
	atomic_uint popped;		/* atomic: consumers count their pops */
};

struct flow_producer {
	pthread_t thread;
	struct flow *f;
	unsigned id;
	bool is_stuck;			/* the thread's until it is joined */
};

struct flow_consumer {
	pthread_t thread;
	struct flow *f;
	/* All the thread's until it is joined. */
	unsigned count;
	unsigned disorders;
	unsigned failures;
	unsigned next_seq[FLOW_MAX_PRODUCERS];
};

static void
bail_out(const char *why)
{
	printf("Bail out! %s\n", why);
	exit(EXIT_FAILURE);
}

static struct ring *
new_ring(size_t capacity)
{
	struct ring *r;

	if (ring_new(capacity, &r) != 0)
		bail_out("ring_new failed");
	return r;
}

static void
start_thread(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	if (pthread_create(thread, NULL, fn, arg) != 0)
		bail_out("pthread_create failed");
}

/* Joins thread within timeout_ms; returns 0 or ETIMEDOUT. */
static int
join_thread(pthread_t thread, int64_t timeout_ms)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_timedjoin_np(thread, NULL, &ts);
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000,
	};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Reads the first field after the command name in /proc/self/task/TID/stat:
 * the scheduler state, 'S' for an interruptible sleep.  Returns 0 when the
 * file cannot be read.
 */
static char
task_state(int tid)
{
	char path[64], buf[512], *p;
	size_t n;
	FILE *f;

	(void)snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	(void)fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses; skip past it. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	return p[2];
}

/*
 * Whether thread tid is blocked in the futex system call, going by
 * /proc/self/task/TID/syscall.  Kernels without that file, or that refuse
 * to show it, get the benefit of the doubt.
 */
static bool
task_is_in_futex(int tid)
{
	char path[64];
	long nr;
	FILE *f;
	int n;

	(void)snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "re");
	if (!f)
		return true;
	n = fscanf(f, "%ld", &nr);
	(void)fclose(f);
	if (n != 1)
		return false;	/* "running" */
	return nr == SYS_futex;
}

static void *
sleeper_run(void *arg)
{
	struct sleeper *s = arg;
	int64_t start_us;

	atomic_store(&s->tid, (int)syscall(SYS_gettid));
	start_us = util_now_us();
	s->result = ring_pop_wait(s->r, &s->item, &s->wake_seen,
	    s->timeout_ms);
	s->took_us = util_now_us() - start_us;
	atomic_store(&s->is_done, true);
	return NULL;
}

static void
sleeper_start(struct sleeper *s, struct ring *r, unsigned wake_seen,
    int64_t timeout_ms)
{
	s->r = r;
	s->timeout_ms = timeout_ms;
	s->wake_seen = wake_seen;
	s->item = NULL;
	s->result = 1;
	atomic_init(&s->tid, 0);
	atomic_init(&s->is_done, false);
	start_thread(&s->thread, sleeper_run, s);
}

/*
 * Waits up to DEADLINE_MS for s to be asleep in the kernel inside
 * ring_pop_wait(), polling because nothing else reports it.  Returns
 * whether it got there without returning first.
 */
static bool
sleeper_wait_asleep(struct sleeper *s)
{
	int64_t deadline_ms = util_now_ms() + DEADLINE_MS;
	int tid;

	while (util_now_ms() < deadline_ms) {
		if (atomic_load(&s->is_done))
			return false;
		tid = atomic_load(&s->tid);
		if (tid != 0 && task_state(tid) == 'S' &&
		    task_is_in_futex(tid))
			return true;
		sleep_ms(1);
	}
	return false;
}

/*
 * Spins until s is about to call ring_pop_wait(), so that what the caller
 * does next lands within a microsecond or so of the call.  Bails out if the
 * thread does not start within DEADLINE_MS.
 */
static void
sleeper_wait_started(struct sleeper *s)
{
	int64_t deadline_ms = util_now_ms() + DEADLINE_MS;
	unsigned spins = 0;

	while (atomic_load(&s->tid) == 0)
		if (++spins % 4096 == 0 && util_now_ms() > deadline_ms)
			bail_out("a sleeper thread does not start");
}

/*
 * Joins s, whose ring_pop_wait() should return by itself.  Returns whether
 * it did within DEADLINE_MS; if not, wakes it with ring_wake_all() so the
 * ring can be freed, and bails out if even that fails.
 */
static bool
sleeper_join(struct sleeper *s)
{
	if (join_thread(s->thread, DEADLINE_MS) == 0)
		return true;
	ring_wake_all(s->r);
	if (join_thread(s->thread, DEADLINE_MS) != 0)
		bail_out("a sleeper ignores ring_wake_all()");
	return false;
}

static void
test_ring_new_rejects_non_power_of_two(void)
{
	static const size_t bad[] = {
		0, 1, 3, 6, 63, 65, 100, SIZE_MAX, SIZE_MAX / 2 + 1,
	};
	static const size_t good[] = { 2, 4, 64, 1024 };
	struct ring *r, *sentinel = (struct ring *)&r;
	size_t i;

	for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
		r = sentinel;
		TAP_CHECK(ring_new(bad[i], &r) == -EINVAL);
		/* ret_ring is written only on success. */
		TAP_CHECK(r == sentinel);
	}
	for (i = 0; i < UTIL_ARRAY_SIZE(good); i++) {
		r = NULL;
		TAP_CHECK(ring_new(good[i], &r) == 0);
		TAP_CHECK(r != NULL);
		if (r)
			TAP_CHECK(ring_capacity(r) == good[i]);
		ring_free(r);
	}
	ring_free(NULL);
}

static void
test_ring_push_fails_when_full(void)
{
	static const size_t capacities[] = { 2, 8 };
	uintptr_t n, rejected = 1000;
	size_t i, cap;
	struct ring *r;
	void *item;

	for (i = 0; i < UTIL_ARRAY_SIZE(capacities); i++) {
		cap = capacities[i];
		r = new_ring(cap);
		for (n = 1; n <= cap; n++)
			TAP_CHECK(ring_push(r, (void *)n) == 0);
		TAP_CHECK(ring_push(r, (void *)rejected) == -EAGAIN);
		TAP_CHECK(ring_push(r, (void *)rejected) == -EAGAIN);

		/* One pop makes room for exactly one more item. */
		TAP_CHECK(ring_pop(r, &item) == 0 && item == (void *)1);
		TAP_CHECK(ring_push(r, (void *)(cap + 1)) == 0);
		TAP_CHECK(ring_push(r, (void *)rejected) == -EAGAIN);

		/* The rejected item never got in; the others are all there. */
		for (n = 2; n <= cap + 1; n++)
			TAP_CHECK(ring_pop(r, &item) == 0 &&
			    item == (void *)n);
		TAP_CHECK(ring_pop(r, &item) == -EAGAIN);
		ring_free(r);
	}
}

static void
test_ring_pop_fails_when_empty(void)
{
	unsigned wake_seen = 0;
	struct ring *r = new_ring(4);
	void *item = (void *)&r;
	int64_t start_ms;

	TAP_CHECK(ring_pop(r, &item) == -EAGAIN);
	/* ret_item is written only on success. */
	TAP_CHECK(item == (void *)&r);

	TAP_CHECK(ring_push(r, (void *)7) == 0);
	TAP_CHECK(ring_pop(r, &item) == 0 && item == (void *)7);
	item = (void *)&r;
	TAP_CHECK(ring_pop(r, &item) == -EAGAIN);
	TAP_CHECK(item == (void *)&r);

	/* A zero timeout polls: it neither sleeps nor invents an item. */
	start_ms = util_now_ms();
	TAP_CHECK(ring_pop_wait(r, &item, &wake_seen, 0) == -ETIMEDOUT);
	TAP_CHECK(util_now_ms() - start_ms < AT_ONCE_MS);
	TAP_CHECK(item == (void *)&r);
	TAP_CHECK(wake_seen == 0);
	ring_free(r);
}

static void
test_ring_keeps_fifo_order_single_thread(void)
{
	static const size_t capacities[] = { 2, 4, 64 };
	uintptr_t next_in, next_out, batch;
	size_t i, cap, round;
	bool is_ordered;
	struct ring *r;
	void *item;

	for (i = 0; i < UTIL_ARRAY_SIZE(capacities); i++) {
		cap = capacities[i];
		r = new_ring(cap);
		next_in = next_out = 1;
		is_ordered = true;
		/*
		 * Batches of every size from 1 to cap, so that head and tail
		 * meet every cell at every offset, and wrap thousands of
		 * times.
		 */
		for (round = 0; round < 20000; round++) {
			batch = round % cap + 1;
			while (batch-- > 0)
				if (ring_push(r, (void *)next_in++) != 0)
					is_ordered = false;
			while (ring_pop(r, &item) == 0)
				if (item != (void *)next_out++)
					is_ordered = false;
		}
		TAP_CHECK(is_ordered);
		TAP_CHECK(next_in == next_out);
		TAP_CHECK(next_in - 1 > 1000 * cap);
		ring_free(r);
	}
}

/*
 * Pushes its share of items in order, retrying while the ring is full.  A
 * producer that makes no progress for DEADLINE_MS gives up, so a stalled
 * run fails instead of spinning forever.
 */
static void *
flow_producer_run(void *arg)
{
	struct flow_producer *p = arg;
	struct flow *f = p->f;
	int64_t give_up_ms;
	struct flow_item *it;
	unsigned seq, tries;

	for (seq = 0; seq < f->per_producer; seq++) {
		it = &f->items[p->id * f->per_producer + seq];
		/* Plain writes: the ring must publish them with the item. */
		it->producer = p->id;
		it->seq = seq;
		give_up_ms = -1;
		for (tries = 1; ring_push(f->r, it) == -EAGAIN; tries++) {
			(void)sched_yield();
			if (tries % 256 != 0)
				continue;
			if (give_up_ms < 0)
				give_up_ms = util_now_ms() + DEADLINE_MS;
			else if (util_now_ms() > give_up_ms) {
				p->is_stuck = true;
				return NULL;
			}
		}
	}
	return NULL;
}

/*
 * Pops until every item has been popped by someone.  The consumer that
 * pops the last one calls ring_wake_all(), which is how the others, asleep
 * or about to be, learn that the run is over.
 */
static void *
flow_consumer_run(void *arg)
{
	struct flow_consumer *c = arg;
	struct flow *f = c->f;
	unsigned wake_seen = 0;
	struct flow_item *it;
	int64_t start_ms;
	void *item;
	int ret;

	while (atomic_load(&f->popped) < f->total) {
		start_ms = util_now_ms();
		ret = ring_pop_wait(f->r, &item, &wake_seen, DEADLINE_MS);
		/*
		 * Items keep coming until the last, so a wait that lasts the
		 * whole timeout slept through a push, even when it finds an
		 * item as it ends.
		 */
		if (util_now_ms() - start_ms >= DEADLINE_MS) {
			c->failures++;
			return NULL;
		}
		if (ret == -EINTR)
			continue;
		if (ret != 0) {
			c->failures++;
			return NULL;
		}
		it = item;
		atomic_fetch_add_explicit(&it->seen, 1, memory_order_relaxed);
		if (it->producer >= FLOW_MAX_PRODUCERS) {
			c->failures++;
			return NULL;
		}
		/* One producer's items reach one consumer in push order. */
		if (it->seq < c->next_seq[it->producer])
			c->disorders++;
		c->next_seq[it->producer] = it->seq + 1;
		c->count++;
		if (atomic_fetch_add(&f->popped, 1) + 1 == f->total)
			ring_wake_all(f->r);
	}
	return NULL;
}

/* Joins a flow thread; a run that outlives every deadline cannot be freed. */
static void
flow_join(pthread_t thread)
{
	if (join_thread(thread, 6 * DEADLINE_MS) != 0)
		bail_out("an exactly-once run hangs");
}

static void
flow_run(unsigned producers, unsigned consumers, size_t capacity,
    unsigned items)
{
	struct flow_producer prod[FLOW_MAX_PRODUCERS];
	struct flow_consumer cons[FLOW_MAX_CONSUMERS];
	unsigned i, count = 0, once = 0, disorders = 0, failures = 0;
	struct flow f;
	void *item;

	printf("# %u producer(s), %u consumer(s), capacity %zu, %u items\n",
	    producers, consumers, capacity, items);
	f.r = new_ring(capacity);
	f.per_producer = items / producers;
	f.total = f.per_producer * producers;
	f.items = calloc(f.total, sizeof(*f.items));
	if (!f.items)
		bail_out("out of memory");
	atomic_init(&f.popped, 0);
	memset(prod, 0, sizeof(prod));
	memset(cons, 0, sizeof(cons));

	for (i = 0; i < consumers; i++) {
		cons[i].f = &f;
		start_thread(&cons[i].thread, flow_consumer_run, &cons[i]);
	}
	for (i = 0; i < producers; i++) {
		prod[i].f = &f;
		prod[i].id = i;
		start_thread(&prod[i].thread, flow_producer_run, &prod[i]);
	}
	for (i = 0; i < producers; i++) {
		flow_join(prod[i].thread);
		TAP_CHECK(!prod[i].is_stuck);
	}
	for (i = 0; i < consumers; i++) {
		flow_join(cons[i].thread);
		count += cons[i].count;
		disorders += cons[i].disorders;
		failures += cons[i].failures;
	}

	for (i = 0; i < f.total; i++)
		once += atomic_load(&f.items[i].seen) == 1;
	TAP_CHECK(failures == 0);
	TAP_CHECK(count == f.total);
	TAP_CHECK(once == f.total);
	TAP_CHECK(disorders == 0);
	TAP_CHECK(ring_pop(f.r, &item) == -EAGAIN);
	free(f.items);
	ring_free(f.r);
}

static void
test_ring_delivers_every_item_exactly_once(void)
{
	flow_run(4, 4, 64, FLOW_ITEMS);
	flow_run(1, 4, 64, FLOW_SMALL_ITEMS);
	flow_run(4, 1, 64, FLOW_SMALL_ITEMS);
	/* Two cells: nearly every push finds the ring full or a sleeper. */
	flow_run(4, 4, 2, FLOW_SMALL_ITEMS);
	flow_run(1, 4, 2, FLOW_SMALL_ITEMS);
	flow_run(4, 1, 2, FLOW_SMALL_ITEMS);
}

static void
test_ring_pop_wait_sleeps_until_push(void)
{
	struct ring *r = new_ring(4);
	struct sleeper s;

	sleeper_start(&s, r, 0, -1);
	TAP_CHECK(sleeper_wait_asleep(&s));
	TAP_CHECK(!atomic_load(&s.is_done));
	TAP_CHECK(ring_push(r, (void *)42) == 0);
	TAP_CHECK(sleeper_join(&s));
	TAP_CHECK(s.result == 0);
	TAP_CHECK(s.item == (void *)42);
	TAP_CHECK(s.wake_seen == 0);
	ring_free(r);
}

static void
test_ring_pop_wait_times_out(void)
{
	static const int64_t timeouts_ms[] = { 1, 2, 10, 50, 120 };
	unsigned wake_seen = 0;
	struct ring *r = new_ring(4);
	void *item = (void *)&r;
	int64_t start_us, took_us;
	size_t i;
	int ret;

	for (i = 0; i < UTIL_ARRAY_SIZE(timeouts_ms); i++) {
		start_us = util_now_us();
		ret = ring_pop_wait(r, &item, &wake_seen, timeouts_ms[i]);
		took_us = util_now_us() - start_us;
		TAP_CHECK(ret == -ETIMEDOUT);
		TAP_CHECK(took_us >= timeouts_ms[i] * 1000);
		TAP_CHECK(took_us < (timeouts_ms[i] + AT_ONCE_MS) * 1000);
		if (took_us < timeouts_ms[i] * 1000)
			printf("# %" PRId64 " ms timeout after %" PRId64
			    " us\n", timeouts_ms[i], took_us);
	}
	TAP_CHECK(item == (void *)&r);
	TAP_CHECK(wake_seen == 0);
	ring_free(r);
}

static atomic_uint signals_caught;

static void
count_signal(int signo)
{
	(void)signo;
	atomic_fetch_add(&signals_caught, 1);
}

static void
test_ring_pop_wait_keeps_its_deadline_across_wake_ups(void)
{
	struct sigaction sa, old_sa;
	struct ring *r = new_ring(4);
	unsigned round, early = 0;
	int64_t start_ms;
	struct sleeper s;

	/*
	 * A sleeper can come back from the kernel long before its time: a
	 * signal, or a push whose item another consumer took.  Signals are
	 * the one cause a test controls, and the sleeper must then go back
	 * to sleep for what is left of the timeout, measured from the call.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_signal;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, &old_sa) != 0)
		bail_out("sigaction failed");
	for (round = 0; round < 10; round++) {
		start_ms = util_now_ms();
		sleeper_start(&s, r, 0, 20);
		while (!atomic_load(&s.is_done) &&
		    util_now_ms() - start_ms < DEADLINE_MS) {
			(void)pthread_kill(s.thread, SIGUSR1);
			sleep_ms(1);
		}
		TAP_CHECK(sleeper_join(&s));
		TAP_CHECK(s.result == -ETIMEDOUT);
		if (s.took_us < 20000) {
			printf("# 20 ms timeout after %" PRId64 " us\n",
			    s.took_us);
			early++;
		}
	}
	(void)sigaction(SIGUSR1, &old_sa, NULL);
	TAP_CHECK(atomic_load(&signals_caught) > 0);
	TAP_CHECK(early == 0);
	ring_free(r);
}

static void
test_ring_wake_all_interrupts_sleepers(void)
{
	struct sleeper s[3];
	struct ring *r = new_ring(4);
	unsigned wake_seen = 0;
	void *item = NULL;
	int64_t start_ms;
	size_t i;

	for (i = 0; i < UTIL_ARRAY_SIZE(s); i++)
		sleeper_start(&s[i], r, 0, -1);
	for (i = 0; i < UTIL_ARRAY_SIZE(s); i++)
		TAP_CHECK(sleeper_wait_asleep(&s[i]));
	ring_wake_all(r);
	for (i = 0; i < UTIL_ARRAY_SIZE(s); i++) {
		TAP_CHECK(sleeper_join(&s[i]));
		TAP_CHECK(s[i].result == -EINTR);
		TAP_CHECK(s[i].wake_seen == 1);
		TAP_CHECK(s[i].item == NULL);
	}

	/*
	 * A consumer that has not seen that wake-up yet, for instance one
	 * that was busy when it came, must not sleep through it.
	 */
	start_ms = util_now_ms();
	TAP_CHECK(ring_pop_wait(r, &item, &wake_seen, DEADLINE_MS) == -EINTR);
	TAP_CHECK(util_now_ms() - start_ms < AT_ONCE_MS);
	TAP_CHECK(wake_seen == 1);
	TAP_CHECK(item == NULL);

	/* Once seen, the same wake-up does not interrupt again. */
	TAP_CHECK(ring_pop_wait(r, &item, &wake_seen, 5) == -ETIMEDOUT);
	TAP_CHECK(wake_seen == 1);
	ring_free(r);
}

/* Spins for about n iterations; the compiler may not drop the loop. */
static void
spin(unsigned n)
{
	volatile unsigned i;

	for (i = 0; i < n; i++)
		;
}

static void
test_ring_pop_wait_never_misses_a_push(void)
{
	uint64_t rng = 0x2545f4914f6cdd1dULL;
	struct ring *r = new_ring(2);
	unsigned round, failures = 0;
	uintptr_t n;
	struct sleeper s;

	/*
	 * The push lands at a random point of the consumer's way into
	 * ring_pop_wait(): on its first look at the ring, while it announces
	 * itself, on its last look, or in the kernel.  Most rounds aim at the
	 * first few hundred nanoseconds, where a lost wake-up would hide; some
	 * wait longer, to be sure of finding the consumer asleep.
	 */
	for (round = 0; round < HANDOFF_ROUNDS && failures == 0; round++) {
		n = round + 1;
		sleeper_start(&s, r, 0, -1);
		sleeper_wait_started(&s);
		if (round % 8 == 0)
			spin((unsigned)(util_random(&rng) % 50000));
		else
			spin((unsigned)(util_random(&rng) % 300));
		TAP_CHECK(ring_push(r, (void *)n) == 0);
		if (!sleeper_join(&s)) {
			printf("# round %u: the consumer missed the push\n",
			    round);
			failures++;
			continue;
		}
		if (s.result != 0 || s.item != (void *)n)
			failures++;
	}
	TAP_CHECK(failures == 0);
	ring_free(r);
}

int
main(void)
{
	TAP_RUN(test_ring_new_rejects_non_power_of_two);
	TAP_RUN(test_ring_push_fails_when_full);
	TAP_RUN(test_ring_pop_fails_when_empty);
	TAP_RUN(test_ring_keeps_fifo_order_single_thread);
	TAP_RUN(test_ring_delivers_every_item_exactly_once);
	TAP_RUN(test_ring_pop_wait_sleeps_until_push);
	TAP_RUN(test_ring_pop_wait_times_out);
	TAP_RUN(test_ring_pop_wait_keeps_its_deadline_across_wake_ups);
	TAP_RUN(test_ring_wake_all_interrupts_sleepers);
	TAP_RUN(test_ring_pop_wait_never_misses_a_push);
	return tap_done();
}
