// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * A bounded multi-producer/multi-consumer queue of pointers built on C11
 * atomics, and a way for consumers to sleep while it is empty.  It knows
 * nothing of jobs: the pool moves jobs through one ring and results back
 * through another.  Any thread may push, pop or wake.
 *
 * Design.  Each cell carries a sequence number that says whose turn it
 * is: a cell at position pos is free for the producer of pos when its
 * sequence equals pos, and holds an item for the consumer of pos when it
 * equals pos + 1.  Producers and consumers claim positions by
 * compare-and-swap on head and tail, then publish the cell with a release
 * store of its sequence that the other side reads with acquire; so the
 * item, and everything written before the push, is visible to whoever pops
 * it.  A full ring makes ring_push() fail at once: back-pressure is the
 * caller's decision, and the main thread never blocks on it.
 *
 * Sleeping.  A consumer that finds the ring empty announces itself in
 * sleepers, tries once more, and then sleeps on a futex word that it read
 * before that last try.  A producer bumps the word and wakes one sleeper
 * after each push, but only when someone announced a sleep, so a busy ring
 * costs no system calls.  Both sides put a sequentially consistent fence
 * between their write (the cell; sleepers) and their read (sleepers; the
 * cell), so at least one of them sees the other: either the consumer finds
 * the item or the producer finds the sleeper, and a bumped word makes the
 * futex wait return at once.  A consumer that got an item wakes the next
 * sleeper if more items wait: a consumer woken for an item may find the
 * cell before it still claimed by a producer that has not filled it and go
 * back to sleep, and then the one wake-up of that slower producer must
 * serve both items.  Passing the wake-up on costs one load when nobody
 * sleeps, where waking every sleeper on each push would wake the whole
 * pool for every job.
 *
 * ring_wake_all() also bumps a count of general wake-ups that sleepers
 * compare with the one they last saw, which is how a pool tells its
 * workers to look at their stop flags.
 */

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"
#include "util.h"

#define RING_CACHE_LINE 64

struct ring_cell {
	atomic_size_t seq;		/* whose turn: see the design note */
	void *item;			/* published by seq's release store */
};

struct ring {
	size_t mask;			/* fixed after ring_new() */
	alignas(RING_CACHE_LINE) atomic_size_t head;	/* next push */
	alignas(RING_CACHE_LINE) atomic_size_t tail;	/* next pop */
	alignas(RING_CACHE_LINE) atomic_uint wake_word;	/* futex word */
	atomic_uint sleepers;		/* consumers about to sleep */
	atomic_uint wake_alls;		/* ring_wake_all() calls */
	alignas(RING_CACHE_LINE) struct ring_cell cells[];
};

/*
 * Creates an empty ring for capacity items; capacity must be a power of
 * two of at least 2.  Returns 0, -EINVAL or -ENOMEM.  The caller frees the
 * ring with ring_free() once no thread uses it.
 */
int
ring_new(size_t capacity, struct ring **ret_ring)
{
	struct ring *r;
	size_t i, size;

	if (capacity < 2 || (capacity & (capacity - 1)) != 0 ||
	    capacity > SIZE_MAX / 2 / sizeof(struct ring_cell))
		return -EINVAL;
	size = sizeof(*r) + capacity * sizeof(struct ring_cell);
	size = (size + RING_CACHE_LINE - 1) & ~(size_t)(RING_CACHE_LINE - 1);
	r = aligned_alloc(RING_CACHE_LINE, size);
	if (!r)
		return -ENOMEM;
	r->mask = capacity - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->wake_word, 0);
	atomic_init(&r->sleepers, 0);
	atomic_init(&r->wake_alls, 0);
	for (i = 0; i < capacity; i++) {
		atomic_init(&r->cells[i].seq, i);
		r->cells[i].item = NULL;
	}
	*ret_ring = r;
	return 0;
}

/* Frees a ring; items still in it belong to the caller. NULL is fine. */
void
ring_free(struct ring *r)
{
	free(r);
}

/* How many items the ring holds when full. */
size_t
ring_capacity(const struct ring *r)
{
	return r->mask + 1;
}

static void
ring_futex_wake(struct ring *r, int count)
{
	(void)syscall(SYS_futex, &r->wake_word, FUTEX_WAKE_PRIVATE, count,
	    NULL, NULL, 0);
}

static void
ring_futex_wait(struct ring *r, unsigned seen, int64_t timeout_us)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_us >= 0) {
		ts.tv_sec = timeout_us / 1000000;
		ts.tv_nsec = (timeout_us % 1000000) * 1000;
		tsp = &ts;
	}
	/* EAGAIN (the word moved), EINTR and ETIMEDOUT all mean: look again. */
	(void)syscall(SYS_futex, &r->wake_word, FUTEX_WAIT_PRIVATE, seen, tsp,
	    NULL, 0);
}

/*
 * Adds item at the back.  Returns 0, or -EAGAIN when the ring is full (the
 * item stays the caller's).  Never blocks; wakes one sleeping consumer.
 */
int
ring_push(struct ring *r, void *item)
{
	size_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
	struct ring_cell *cell;
	intptr_t diff;

	for (;;) {
		cell = &r->cells[pos & r->mask];
		/* Pairs with the release store in ring_pop(): the cell is free. */
		diff = (intptr_t)atomic_load_explicit(&cell->seq,
		    memory_order_acquire) - (intptr_t)pos;
		if (diff < 0)
			return -EAGAIN;
		if (diff > 0) {
			pos = atomic_load_explicit(&r->head,
			    memory_order_relaxed);
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(&r->head, &pos,
		    pos + 1, memory_order_relaxed, memory_order_relaxed))
			break;
	}
	cell->item = item;
	/* Pairs with the acquire load in ring_pop(): publishes the item. */
	atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);

	/* Pairs with the fence in ring_pop_wait(): see its sleepers count. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->sleepers, memory_order_relaxed) > 0) {
		atomic_fetch_add_explicit(&r->wake_word, 1,
		    memory_order_relaxed);
		ring_futex_wake(r, 1);
	}
	return 0;
}

/*
 * Takes the item at the front into *ret_item.  Returns 0, or -EAGAIN when
 * the ring is empty.  Never blocks.
 */
int
ring_pop(struct ring *r, void **ret_item)
{
	size_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
	struct ring_cell *cell;
	intptr_t diff;
	void *item;

	for (;;) {
		cell = &r->cells[pos & r->mask];
		/* Pairs with the release store in ring_push(). */
		diff = (intptr_t)atomic_load_explicit(&cell->seq,
		    memory_order_acquire) - (intptr_t)(pos + 1);
		if (diff < 0)
			return -EAGAIN;
		if (diff > 0) {
			pos = atomic_load_explicit(&r->tail,
			    memory_order_relaxed);
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(&r->tail, &pos,
		    pos + 1, memory_order_relaxed, memory_order_relaxed))
			break;
	}
	item = cell->item;
	/* Pairs with the acquire load in ring_push(): the cell is free. */
	atomic_store_explicit(&cell->seq, pos + r->mask + 1,
	    memory_order_release);
	*ret_item = item;
	return 0;
}

/* After a sleeper got its item: wake another if more items are ready. */
static void
ring_pass_wake_on(struct ring *r)
{
	size_t pos;

	if (atomic_load_explicit(&r->sleepers, memory_order_relaxed) == 0)
		return;
	pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* Pairs with the release store in ring_push(). */
	if (atomic_load_explicit(&r->cells[pos & r->mask].seq,
	    memory_order_acquire) != pos + 1)
		return;
	atomic_fetch_add_explicit(&r->wake_word, 1, memory_order_relaxed);
	ring_futex_wake(r, 1);
}

/*
 * Like ring_pop(), but sleeps while the ring is empty, for at most
 * timeout_ms (negative: no limit).  *wake_seen is the caller's count of
 * ring_wake_all() calls; when the ring's count differs, it is updated and
 * -EINTR returned, so the caller can look at whatever made someone wake
 * everybody.  Returns 0 with an item, -EINTR or -ETIMEDOUT.
 */
int
ring_pop_wait(struct ring *r, void **ret_item, unsigned *wake_seen,
    int64_t timeout_ms)
{
	int64_t deadline_us = -1, left_us = -1;
	unsigned word, alls;
	int ret;

	/*
	 * Microseconds, because a deadline in whole milliseconds ends a wait
	 * interrupted by a wake-up up to one millisecond early.  A timeout
	 * too long to add to the clock is no limit.
	 */
	if (timeout_ms >= 0 && timeout_ms < INT64_MAX / 2000)
		deadline_us = util_now_us() + timeout_ms * 1000;

	for (;;) {
		if (ring_pop(r, ret_item) == 0) {
			ring_pass_wake_on(r);
			return 0;
		}
		word = atomic_load_explicit(&r->wake_word,
		    memory_order_acquire);
		alls = atomic_load_explicit(&r->wake_alls,
		    memory_order_acquire);
		if (alls != *wake_seen) {
			*wake_seen = alls;
			return -EINTR;
		}
		if (deadline_us >= 0) {
			left_us = deadline_us - util_now_us();
			if (left_us <= 0)
				return -ETIMEDOUT;
		}

		atomic_fetch_add_explicit(&r->sleepers, 1,
		    memory_order_relaxed);
		/* Pairs with the fence in ring_push(): see its item. */
		atomic_thread_fence(memory_order_seq_cst);
		ret = ring_pop(r, ret_item);
		if (ret < 0)
			ring_futex_wait(r, word, left_us);
		atomic_fetch_sub_explicit(&r->sleepers, 1,
		    memory_order_relaxed);
		if (ret == 0) {
			ring_pass_wake_on(r);
			return 0;
		}
	}
}

/*
 * Wakes every consumer sleeping in ring_pop_wait() and makes each return
 * -EINTR once, even one that is just about to sleep.
 */
void
ring_wake_all(struct ring *r)
{
	atomic_fetch_add_explicit(&r->wake_alls, 1, memory_order_release);
	atomic_fetch_add_explicit(&r->wake_word, 1, memory_order_release);
	ring_futex_wake(r, INT_MAX);
}
