// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * How fast the pool may send.  One struct throttle is shared by the
 * pool's threads and guarded by one mutex.  A thread may block in
 * throttle_wait() on a condition variable that runs on the monotonic
 * clock, so a change of the wall clock never stretches or shortens a
 * wait; or, like the transfer thread, ask throttle_try() how long to wait
 * and sleep in a poll of its own, woken through throttle_set_waker() when
 * the wait may have changed.  It keeps four things:
 * a pool-wide hold (after a 429, nobody sends before a given time), the
 * pause after a fault of the setup (throttle_wait() refuses at once), a
 * token bucket for requests per minute and one for tokens per minute.
 *
 * A bucket holds at most one minute's worth and refills continuously.  To
 * stay in integers, its level is kept in units of 1/60000 of a request or
 * token, so that one millisecond adds exactly "per-minute amount" units.
 *
 * The pure helpers, throttle_backoff_ms() and throttle_parse_retry_after(),
 * touch no shared state.  The main thread sets limits, resumes and
 * cancels; the pool's threads wait, settle, hold and pause.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "throttle.h"
#include "util.h"

/* Bucket units per request or token: the milliseconds of a minute. */
#define THROTTLE_UNITS 60000

/*
 * Larger limits, costs and token counts are clamped to this, which keeps
 * every level (a few of these times THROTTLE_UNITS) far from overflow.
 */
#define THROTTLE_AMOUNT_MAX ((int64_t)1000 * 1000 * 1000 * 1000)

/* The longest single sleep; a waiter then looks again. */
#define THROTTLE_SLICE_MAX_MS ((int64_t)24 * 3600 * 1000)

/* Retry-After values beyond this are taken as this. */
#define THROTTLE_RETRY_AFTER_MAX_MS ((int64_t)24 * 3600 * 1000)

struct throttle_bucket {
	int64_t per_minute;		/* 0 = unlimited */
	int64_t level;			/* units; may go negative */
};

struct throttle {
	pthread_mutex_t lock;
	pthread_cond_t changed;		/* on CLOCK_MONOTONIC */
	struct throttle_bucket requests;	/* guarded by lock */
	struct throttle_bucket tokens;		/* guarded by lock */
	int64_t refilled_ms;		/* guarded by lock */
	int64_t hold_until_ms;		/* guarded by lock */
	int64_t pause_until_ms;		/* guarded by lock; 0 = none */
	bool is_cancelled;		/* guarded by lock */
	void (*waker)(void *);		/* guarded by lock */
	void *waker_arg;		/* guarded by lock */
};

static int64_t
throttle_clamp(int64_t v, int64_t lo, int64_t hi)
{
	if (v < lo)
		return lo;
	if (v > hi)
		return hi;
	return v;
}

/*
 * Creates a throttle with no limits, no hold and no pause.  Returns 0, or
 * -ENOMEM or another negative errno; the caller owns *ret_throttle and
 * frees it with throttle_free().  Main thread, before the workers start.
 */
int
throttle_new(struct throttle **ret_throttle)
{
	struct throttle *t;
	pthread_condattr_t attr;
	int r;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	r = pthread_condattr_init(&attr);
	if (r != 0)
		goto fail;
	r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(&t->changed, &attr);
	(void)pthread_condattr_destroy(&attr);
	if (r != 0)
		goto fail;
	r = pthread_mutex_init(&t->lock, NULL);
	if (r != 0) {
		(void)pthread_cond_destroy(&t->changed);
		goto fail;
	}
	t->refilled_ms = util_now_ms();
	*ret_throttle = t;
	return 0;

fail:
	free(t);
	return -r;
}

/* Frees t; no thread may be inside or enter any throttle function. */
void
throttle_free(struct throttle *t)
{
	if (!t)
		return;
	(void)pthread_cond_destroy(&t->changed);
	(void)pthread_mutex_destroy(&t->lock);
	free(t);
}

/*
 * Wakes whoever waits for the throttle: the threads in throttle_wait()
 * and, through the function throttle_set_waker() named, a thread that
 * waits for it in a poll of its own.
 */
static void
throttle_changed_locked(struct throttle *t)
{
	(void)pthread_cond_broadcast(&t->changed);
	if (t->waker)
		t->waker(t->waker_arg);
}

/*
 * Has fn(arg) called whenever a wait may have become shorter or a pause or
 * cancel began: for a thread that waits in its own poll with the time
 * throttle_try() gave.  fn runs with the throttle locked, on any thread,
 * and must only wake (write an eventfd, say).  NULL removes it.  Any
 * thread.
 */
void
throttle_set_waker(struct throttle *t, void (*fn)(void *), void *arg)
{
	(void)pthread_mutex_lock(&t->lock);
	t->waker = fn;
	t->waker_arg = arg;
	(void)pthread_mutex_unlock(&t->lock);
}

/* Adds what elapsed since the last refill to both buckets. */
static void
throttle_refill_locked(struct throttle *t, int64_t now_ms)
{
	struct throttle_bucket *b[] = { &t->requests, &t->tokens };
	int64_t elapsed_ms = now_ms - t->refilled_ms;
	size_t i;

	if (elapsed_ms <= 0)
		return;
	for (i = 0; i < UTIL_ARRAY_SIZE(b); i++) {
		int64_t per_minute = b[i]->per_minute;
		int64_t room = per_minute * THROTTLE_UNITS - b[i]->level;

		if (per_minute == 0 || room <= 0)
			continue;
		/* Test before multiplying: a long idle must not overflow. */
		if (elapsed_ms >= (room + per_minute - 1) / per_minute)
			b[i]->level += room;
		else
			b[i]->level += elapsed_ms * per_minute;
	}
	t->refilled_ms = now_ms;
}

/*
 * Milliseconds until bucket b can pay for cost, 0 when it can now.  A cost
 * above the capacity is paid from a full bucket, which then goes negative;
 * otherwise such a request would wait forever.
 */
static int64_t
throttle_bucket_wait_ms(const struct throttle_bucket *b, int64_t cost)
{
	int64_t capacity = b->per_minute * THROTTLE_UNITS;
	int64_t need = cost * THROTTLE_UNITS;

	if (b->per_minute == 0)
		return 0;
	if (need > capacity)
		need = capacity;
	if (b->level >= need)
		return 0;
	return (need - b->level + b->per_minute - 1) / b->per_minute;
}

static void
throttle_bucket_take(struct throttle_bucket *b, int64_t cost)
{
	if (b->per_minute == 0)
		return;
	b->level -= cost * THROTTLE_UNITS;
}

/*
 * Replaces the rates; 0 means unlimited.  A bucket that was unlimited
 * starts full; one that keeps a limit keeps its level, cut to the new
 * capacity.  Any thread; wakes the waiters so they see the new rates.
 */
void
throttle_set_limits(struct throttle *t, int64_t requests_per_minute,
    int64_t tokens_per_minute)
{
	struct throttle_bucket *b[] = { &t->requests, &t->tokens };
	int64_t rate[] = { requests_per_minute, tokens_per_minute };
	size_t i;

	(void)pthread_mutex_lock(&t->lock);
	throttle_refill_locked(t, util_now_ms());
	for (i = 0; i < UTIL_ARRAY_SIZE(b); i++) {
		int64_t per_minute = throttle_clamp(rate[i], 0,
		    THROTTLE_AMOUNT_MAX);
		int64_t capacity = per_minute * THROTTLE_UNITS;

		if (b[i]->per_minute == 0 || b[i]->level > capacity)
			b[i]->level = capacity;
		b[i]->per_minute = per_minute;
	}
	throttle_changed_locked(t);
	(void)pthread_mutex_unlock(&t->lock);
}

/* Sleeps on the condition variable for at most wait_ms. */
static void
throttle_sleep_locked(struct throttle *t, int64_t wait_ms)
{
	struct timespec ts;

	if (wait_ms > THROTTLE_SLICE_MAX_MS)
		wait_ms = THROTTLE_SLICE_MAX_MS;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (wait_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	/* A timeout and a wake-up mean the same: look again. */
	(void)pthread_cond_timedwait(&t->changed, &t->lock, &ts);
}

/*
 * One look for a request that costs tokens: 0 when it may go (and has
 * been paid for), -EAGAIN while paused, -ECANCELED after a cancel, or 1
 * with the milliseconds to wait before looking again in *ret_wait_ms.
 */
static int
throttle_take_locked(struct throttle *t, int64_t tokens, int64_t *ret_wait_ms)
{
	int64_t now_ms = util_now_ms();
	int64_t wait_ms, w;

	if (t->is_cancelled)
		return -ECANCELED;
	if (t->pause_until_ms > now_ms)
		return -EAGAIN;
	throttle_refill_locked(t, now_ms);
	wait_ms = t->hold_until_ms - now_ms;
	w = throttle_bucket_wait_ms(&t->requests, 1);
	if (w > wait_ms)
		wait_ms = w;
	w = throttle_bucket_wait_ms(&t->tokens, tokens);
	if (w > wait_ms)
		wait_ms = w;
	if (wait_ms > 0) {
		*ret_wait_ms = wait_ms;
		return 1;
	}
	throttle_bucket_take(&t->requests, 1);
	throttle_bucket_take(&t->tokens, tokens);
	return 0;
}

/*
 * Blocks until the pool may send one request that costs tokens (an
 * estimate, settled later with throttle_settle()): until any hold has
 * passed and both buckets can pay, then takes from them.  Returns 0; or
 * -EAGAIN at once, and whenever a pause begins while waiting; or
 * -ECANCELED once throttle_cancel() has been called.  Worker threads.
 */
int
throttle_wait(struct throttle *t, int64_t tokens)
{
	int64_t wait_ms;
	int r;

	tokens = throttle_clamp(tokens, 0, THROTTLE_AMOUNT_MAX);
	(void)pthread_mutex_lock(&t->lock);
	/*
	 * XXX Waiters are not served in arrival order: whoever looks first
	 * after a refill goes.  While tokens_per_minute is the bottleneck, a
	 * request with a large estimate can be passed again and again by
	 * smaller ones, and its file waits longer than its turn.
	 */
	while ((r = throttle_take_locked(t, tokens, &wait_ms)) > 0)
		throttle_sleep_locked(t, wait_ms);
	(void)pthread_mutex_unlock(&t->lock);
	return r;
}

/*
 * As throttle_wait(), but never sleeps: returns 1, having taken nothing,
 * where throttle_wait() would wait, and then stores in *ret_wait_ms
 * (unless it is NULL) how long to wait before trying again.  (Not
 * -EWOULDBLOCK: on Linux that is -EAGAIN, which means paused.)  Any
 * thread.
 */
int
throttle_try(struct throttle *t, int64_t tokens, int64_t *ret_wait_ms)
{
	int64_t wait_ms = 0;
	int r;

	tokens = throttle_clamp(tokens, 0, THROTTLE_AMOUNT_MAX);
	(void)pthread_mutex_lock(&t->lock);
	r = throttle_take_locked(t, tokens, &wait_ms);
	(void)pthread_mutex_unlock(&t->lock);
	if (r > 0 && ret_wait_ms)
		*ret_wait_ms = wait_ms;
	return r;
}

/*
 * Corrects the token bucket once a reply told what a request really cost:
 * gives back what was estimated too much, takes what was too little.  Any
 * thread, usually the worker that waited.
 */
void
throttle_settle(struct throttle *t, int64_t estimated, int64_t actual)
{
	struct throttle_bucket *b = &t->tokens;
	int64_t diff;

	estimated = throttle_clamp(estimated, 0, THROTTLE_AMOUNT_MAX);
	actual = throttle_clamp(actual, 0, THROTTLE_AMOUNT_MAX);
	diff = estimated - actual;

	(void)pthread_mutex_lock(&t->lock);
	if (b->per_minute > 0 && diff != 0) {
		int64_t capacity = b->per_minute * THROTTLE_UNITS;

		throttle_refill_locked(t, util_now_ms());
		/* The debt is bounded so that the level cannot overflow. */
		b->level = throttle_clamp(b->level + diff * THROTTLE_UNITS,
		    -THROTTLE_AMOUNT_MAX * THROTTLE_UNITS, capacity);
		if (diff > 0)
			throttle_changed_locked(t);
	}
	(void)pthread_mutex_unlock(&t->lock);
}

/*
 * Lets nobody send before until_ms (util_now_ms() time); a hold already
 * reaching further stays.  Any thread.
 */
void
throttle_hold(struct throttle *t, int64_t until_ms)
{
	(void)pthread_mutex_lock(&t->lock);
	if (until_ms > t->hold_until_ms)
		t->hold_until_ms = until_ms;
	(void)pthread_mutex_unlock(&t->lock);
}

/*
 * Pauses the pool until until_ms (util_now_ms() time) or throttle_resume():
 * throttle_wait() returns -EAGAIN meanwhile, also to those already in it.
 * A later call replaces the end time.  Any thread.
 */
void
throttle_pause(struct throttle *t, int64_t until_ms)
{
	(void)pthread_mutex_lock(&t->lock);
	t->pause_until_ms = until_ms;
	throttle_changed_locked(t);
	(void)pthread_mutex_unlock(&t->lock);
}

/*
 * Ends a pause now.  A hold stays: the provider asked for it.  Any thread,
 * usually main on a reload.
 */
void
throttle_resume(struct throttle *t)
{
	(void)pthread_mutex_lock(&t->lock);
	t->pause_until_ms = 0;
	throttle_changed_locked(t);
	(void)pthread_mutex_unlock(&t->lock);
}

/*
 * Tells whether a pause is in force at now_ms, and if so stores its end in
 * *ret_until_ms (which may be NULL).  Any thread.
 */
bool
throttle_is_paused(struct throttle *t, int64_t now_ms, int64_t *ret_until_ms)
{
	int64_t until_ms;

	(void)pthread_mutex_lock(&t->lock);
	until_ms = t->pause_until_ms;
	(void)pthread_mutex_unlock(&t->lock);
	if (until_ms <= now_ms)
		return false;
	if (ret_until_ms)
		*ret_until_ms = until_ms;
	return true;
}

/*
 * Makes every throttle_wait(), those blocked now and all later ones,
 * return -ECANCELED.  For shutdown; cannot be undone.  Any thread.
 */
void
throttle_cancel(struct throttle *t)
{
	(void)pthread_mutex_lock(&t->lock);
	t->is_cancelled = true;
	throttle_changed_locked(t);
	(void)pthread_mutex_unlock(&t->lock);
}

/*
 * The delay before retry number attempt (1 = the first retry): initial_ms
 * doubled per attempt up to max_ms, then a uniform pick in [d/2, d] from
 * the generator *rng (see util_random()).  Never less than 1 ms.  Pure but
 * for *rng, which belongs to the calling thread.
 */
int64_t
throttle_backoff_ms(unsigned attempt, int64_t initial_ms, int64_t max_ms,
    uint64_t *rng)
{
	int64_t d, lo;
	unsigned doublings = attempt > 0 ? attempt - 1 : 0;

	if (max_ms < 1)
		max_ms = 1;
	d = throttle_clamp(initial_ms, 1, max_ms);
	/* Doubling stops at the cap, so no attempt count can overflow d. */
	while (doublings > 0 && d < max_ms) {
		d = d > max_ms / 2 ? max_ms : d * 2;
		doublings--;
	}
	lo = d / 2;
	if (lo < 1)
		lo = 1;
	if (d <= lo)
		return lo;
	return lo + (int64_t)(util_random(rng) % (uint64_t)(d - lo + 1));
}

static bool
throttle_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Parses a non-negative decimal number of units, each worth scale_ms
 * milliseconds, rounding a fraction up.  Returns the milliseconds, clamped
 * to THROTTLE_RETRY_AFTER_MAX_MS, or -1 unless s is only such a number
 * between optional white space.
 */
static int64_t
throttle_parse_decimal(const char *s, int64_t scale_ms)
{
	int64_t whole = 0, frac = 0, frac_scale = scale_ms;
	bool has_digit = false;

	while (throttle_is_space(*s))
		s++;
	for (; *s >= '0' && *s <= '9'; s++, has_digit = true)
		if (whole <= THROTTLE_RETRY_AFTER_MAX_MS)
			whole = whole * 10 + (*s - '0');
	if (*s == '.')
		s++;
	/* Digits past the millisecond only decide whether to round up. */
	for (; *s >= '0' && *s <= '9'; s++, has_digit = true) {
		if (frac_scale >= 10) {
			frac_scale /= 10;
			frac += (*s - '0') * frac_scale;
		} else if (*s != '0' && frac_scale > 0) {
			frac++;
			frac_scale = 0;
		}
	}
	while (throttle_is_space(*s))
		s++;
	if (!has_digit || *s != '\0')
		return -1;
	/* whole stopped growing near the cap, so this cannot overflow. */
	return throttle_clamp(whole * scale_ms + frac, 0,
	    THROTTLE_RETRY_AFTER_MAX_MS);
}

/*
 * Parses an HTTP-date: the IMF-fixdate that servers must send, and the
 * two obsolete forms that recipients are asked to accept.  Returns the
 * milliseconds from now until then (0 when it has passed), or -1.
 */
static int64_t
throttle_parse_http_date(const char *s, time_t now)
{
	static const char *const formats[] = {
		"%a, %d %b %Y %H:%M:%S GMT",	/* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT",	/* RFC 850 */
		"%a %b %d %H:%M:%S %Y",		/* asctime() */
	};
	size_t i;

	while (throttle_is_space(*s))
		s++;
	for (i = 0; i < UTIL_ARRAY_SIZE(formats); i++) {
		struct tm tm;
		const char *end;
		time_t when;

		memset(&tm, 0, sizeof(tm));
		end = strptime(s, formats[i], &tm);
		if (!end)
			continue;
		while (throttle_is_space(*end))
			end++;
		if (*end != '\0')
			continue;
		when = timegm(&tm);
		if (when == (time_t)-1)
			return -1;
		if (when <= now)
			return 0;
		if (when - now > THROTTLE_RETRY_AFTER_MAX_MS / 1000)
			return THROTTLE_RETRY_AFTER_MAX_MS;
		return (int64_t)(when - now) * 1000;
	}
	return -1;
}

/*
 * How long the provider asked us to wait, from the values of the
 * retry-after-ms and Retry-After headers (either may be NULL or "").
 * retry-after-ms wins when it parses; Retry-After is delta-seconds (a
 * fraction accepted) or an HTTP-date taken relative to now (wall clock).
 * Returns milliseconds, at most 24 hours, or -1 when neither says anything
 * usable.  Pure; any thread.
 */
int64_t
throttle_parse_retry_after(const char *retry_after,
    const char *retry_after_ms, time_t now)
{
	int64_t ms;

	if (retry_after_ms && *retry_after_ms) {
		ms = throttle_parse_decimal(retry_after_ms, 1);
		if (ms >= 0)
			return ms;
	}
	if (!retry_after || !*retry_after)
		return -1;
	ms = throttle_parse_decimal(retry_after, 1000);
	if (ms >= 0)
		return ms;
	return throttle_parse_http_date(retry_after, now);
}
