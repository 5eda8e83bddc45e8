// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Tests of throttle.c: backoff and its jitter, Retry-After parsing, and the
 * shared state that workers wait on (hold, pause, cancel, both buckets).
 * Waits are measured with util_now_ms(); a waiter that must stay blocked
 * runs in a thread that is joined with a deadline.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "throttle.h"
#include "util.h"

/* How long a thread that should return may take before the test gives up. */
#define DEADLINE_MS 5000

/* Below this, a wait counts as "at once" where the alternative is longer. */
#define AT_ONCE_MS 250

struct waiter {
	pthread_t thread;
	struct throttle *t;
	int64_t tokens;
	int result;
};

static void *
waiter_run(void *arg)
{
	struct waiter *w = arg;

	w->result = throttle_wait(w->t, w->tokens);
	return NULL;
}

static void
waiter_start(struct waiter *w, struct throttle *t, int64_t tokens)
{
	w->t = t;
	w->tokens = tokens;
	w->result = 1;
	if (pthread_create(&w->thread, NULL, waiter_run, w) != 0) {
		printf("Bail out! pthread_create failed\n");
		exit(EXIT_FAILURE);
	}
}

/* Joins w within timeout_ms; returns 0 or ETIMEDOUT. */
static int
waiter_join(struct waiter *w, int64_t timeout_ms)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_timedjoin_np(w->thread, NULL, &ts);
}

/* Ends a waiter that a failed test left blocked, so t can be freed. */
static void
waiter_reap(struct waiter *w)
{
	throttle_cancel(w->t);
	if (waiter_join(w, DEADLINE_MS) != 0) {
		printf("Bail out! a waiter ignores throttle_cancel()\n");
		exit(EXIT_FAILURE);
	}
}

static struct throttle *
new_throttle(void)
{
	struct throttle *t;

	if (throttle_new(&t) != 0) {
		printf("Bail out! throttle_new failed\n");
		exit(EXIT_FAILURE);
	}
	return t;
}

/*
 * Milliseconds that throttle_wait(t, tokens) took, its result in *ret.  It
 * runs in a thread, so that a wait that never ends fails the test instead
 * of hanging it: after DEADLINE_MS the throttle is cancelled.
 */
static int64_t
timed_wait(struct throttle *t, int64_t tokens, int *ret)
{
	int64_t start_ms = util_now_ms();
	struct waiter w;

	waiter_start(&w, t, tokens);
	if (waiter_join(&w, DEADLINE_MS) != 0) {
		printf("# throttle_wait(%lld) still waits after %d ms\n",
		    (long long)tokens, DEADLINE_MS);
		waiter_reap(&w);
		*ret = w.result;
		return INT64_MAX;
	}
	*ret = w.result;
	return util_now_ms() - start_ms;
}

/*
 * Whether throttle_wait(t, tokens) returned 0 at once.  Loops stop at the
 * first that did not, so that a broken throttle fails fast.
 */
static bool
waits_not(struct throttle *t, int64_t tokens)
{
	int r;

	return timed_wait(t, tokens, &r) < AT_ONCE_MS && r == 0;
}

static void
bail_out_on_alarm(int signo)
{
	static const char msg[] =
	    "Bail out! throttle_wait() blocked with grants left\n";

	(void)signo;
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(EXIT_FAILURE);
}

/*
 * Takes count grants of tokens each that the throttle should give at
 * once, calling throttle_wait() on this thread: a thread per call, as
 * timed_wait() makes, took longer than AT_ONCE_MS for 120 calls under
 * TSan on a loaded machine.  A call that blocks ends the test through
 * an alarm after DEADLINE_MS.  Returns how many returned 0 before the
 * first that did not.
 */
static int
take_at_once(struct throttle *t, int64_t tokens, int count)
{
	int n;

	(void)signal(SIGALRM, bail_out_on_alarm);
	(void)alarm(DEADLINE_MS / 1000);
	for (n = 0; n < count && throttle_wait(t, tokens) == 0; n++)
		continue;
	(void)alarm(0);
	return n;
}

static void
test_backoff_doubles_per_attempt_up_to_the_cap(void)
{
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	unsigned attempt;

	for (attempt = 1; attempt <= 12; attempt++) {
		int64_t d = (int64_t)1000 << (attempt - 1);
		int64_t lo = INT64_MAX, hi = 0;
		int i;

		if (d > 300000)
			d = 300000;
		for (i = 0; i < 2000; i++) {
			int64_t v = throttle_backoff_ms(attempt, 1000, 300000,
			    &rng);

			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
		/* Every draw in [d/2, d], and the draws span that range. */
		TAP_CHECK(lo >= d / 2);
		TAP_CHECK(hi <= d);
		TAP_CHECK(lo < d / 2 + d / 20);
		TAP_CHECK(hi > d - d / 20);
	}
}

static void
test_backoff_survives_huge_attempt_counts(void)
{
	uint64_t rng = 12345;
	int64_t v;

	v = throttle_backoff_ms(UINT_MAX, 1000, INT64_MAX, &rng);
	TAP_CHECK(v >= INT64_MAX / 2);
	v = throttle_backoff_ms(64, INT64_MAX, INT64_MAX, &rng);
	TAP_CHECK(v >= INT64_MAX / 2);
	v = throttle_backoff_ms(UINT_MAX, 1000, 300000, &rng);
	TAP_CHECK(v >= 150000 && v <= 300000);
	v = throttle_backoff_ms(0, 1000, 300000, &rng);
	TAP_CHECK(v >= 500 && v <= 1000);
}

static void
test_backoff_is_never_below_one_ms(void)
{
	uint64_t rng = 777;
	int i;

	TAP_CHECK(throttle_backoff_ms(1, 0, 0, &rng) == 1);
	TAP_CHECK(throttle_backoff_ms(5, -10, -10, &rng) == 1);
	for (i = 0; i < 100; i++) {
		int64_t v = throttle_backoff_ms(1, 1, 3, &rng);

		TAP_CHECK(v == 1);
		v = throttle_backoff_ms(2, 1, 3, &rng);
		TAP_CHECK(v >= 1 && v <= 2);
	}
}

static void
test_retry_after_parses_delta_seconds(void)
{
	TAP_CHECK(throttle_parse_retry_after("7", NULL, 0) == 7000);
	TAP_CHECK(throttle_parse_retry_after(" 120 ", "", 0) == 120000);
	TAP_CHECK(throttle_parse_retry_after("0", NULL, 0) == 0);
	TAP_CHECK(throttle_parse_retry_after("1.5", NULL, 0) == 1500);
	TAP_CHECK(throttle_parse_retry_after("0.25", NULL, 0) == 250);
	/* A fraction of a millisecond rounds up: never retry too early. */
	TAP_CHECK(throttle_parse_retry_after("0.0001", NULL, 0) == 1);
	TAP_CHECK(throttle_parse_retry_after("2.", NULL, 0) == 2000);
}

static time_t
fixed_now(void)
{
	struct tm tm;

	/* 2015-10-21 07:27:00 UTC */
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 115;
	tm.tm_mon = 9;
	tm.tm_mday = 21;
	tm.tm_hour = 7;
	tm.tm_min = 27;
	return timegm(&tm);
}

static void
test_retry_after_parses_http_dates(void)
{
	time_t now = fixed_now();

	TAP_CHECK(throttle_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
	    NULL, now) == 60000);
	TAP_CHECK(throttle_parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT",
	    NULL, now) == 0);
	TAP_CHECK(throttle_parse_retry_after("Wed, 21 Oct 2015 06:00:00 GMT",
	    NULL, now) == 0);
	TAP_CHECK(throttle_parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT",
	    NULL, now) == 0);
	TAP_CHECK(throttle_parse_retry_after(
	    "Wednesday, 21-Oct-15 07:27:30 GMT", NULL, now) == 30000);
	TAP_CHECK(throttle_parse_retry_after("Wed Oct 21 07:27:05 2015",
	    NULL, now) == 5000);
}

static void
test_retry_after_ms_header_wins(void)
{
	TAP_CHECK(throttle_parse_retry_after("7", "250", 0) == 250);
	TAP_CHECK(throttle_parse_retry_after(NULL, "12.5", 0) == 13);
	TAP_CHECK(throttle_parse_retry_after(NULL, "0", 0) == 0);
	/* An unusable retry-after-ms leaves the word to Retry-After. */
	TAP_CHECK(throttle_parse_retry_after("7", "soon", 0) == 7000);
	TAP_CHECK(throttle_parse_retry_after("7", "", 0) == 7000);
}

static void
test_retry_after_rejects_garbage(void)
{
	time_t now = fixed_now();

	TAP_CHECK(throttle_parse_retry_after(NULL, NULL, now) == -1);
	TAP_CHECK(throttle_parse_retry_after("", "", now) == -1);
	TAP_CHECK(throttle_parse_retry_after("soon", NULL, now) == -1);
	TAP_CHECK(throttle_parse_retry_after("-5", NULL, now) == -1);
	TAP_CHECK(throttle_parse_retry_after("5s", NULL, now) == -1);
	TAP_CHECK(throttle_parse_retry_after("1e3", NULL, now) == -1);
	TAP_CHECK(throttle_parse_retry_after(".", NULL, now) == -1);
	TAP_CHECK(throttle_parse_retry_after(NULL, "-1", now) == -1);
	TAP_CHECK(throttle_parse_retry_after("Wed, 21 Oct 2015 07:28:00",
	    NULL, now) == -1);
	TAP_CHECK(throttle_parse_retry_after(
	    "Wed, 21 Oct 2015 07:28:00 GMT trailing", NULL, now) == -1);
	TAP_CHECK(throttle_parse_retry_after("Wed, 32 Oct 2015 07:28:00 GMT",
	    NULL, now) == -1);
}

static void
test_retry_after_clamps_absurd_values(void)
{
	const int64_t day_ms = (int64_t)24 * 3600 * 1000;
	time_t now = fixed_now();

	TAP_CHECK(throttle_parse_retry_after("99999999999999999999999", NULL,
	    now) == day_ms);
	TAP_CHECK(throttle_parse_retry_after("86401", NULL, now) == day_ms);
	TAP_CHECK(throttle_parse_retry_after("86399", NULL, now) ==
	    day_ms - 1000);
	TAP_CHECK(throttle_parse_retry_after(NULL, "1e999", now) == -1);
	TAP_CHECK(throttle_parse_retry_after(NULL,
	    "18446744073709551616000", now) == day_ms);
	TAP_CHECK(throttle_parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT",
	    NULL, now) == day_ms);
}

static void
test_hold_makes_wait_wait(void)
{
	struct throttle *t = new_throttle();
	int64_t until_ms = util_now_ms() + 300;
	int64_t took_ms;
	int r;

	throttle_hold(t, until_ms);
	/* A hold reaching less far does not shorten the one in force. */
	throttle_hold(t, util_now_ms() + 10);
	took_ms = timed_wait(t, 0, &r);
	TAP_CHECK(r == 0);
	TAP_CHECK(util_now_ms() >= until_ms);
	TAP_CHECK(took_ms < 300 + DEADLINE_MS);

	/* Once passed, a hold delays nobody. */
	took_ms = timed_wait(t, 0, &r);
	TAP_CHECK(r == 0);
	TAP_CHECK(took_ms < AT_ONCE_MS);
	throttle_free(t);
}

static void
test_pause_refuses_until_resumed(void)
{
	struct throttle *t = new_throttle();
	int64_t now_ms = util_now_ms();
	int64_t until_ms = 0;
	int64_t took_ms;
	int r;

	TAP_CHECK(!throttle_is_paused(t, now_ms, &until_ms));
	throttle_pause(t, now_ms + 60000);
	TAP_CHECK(throttle_is_paused(t, now_ms, &until_ms));
	TAP_CHECK(until_ms == now_ms + 60000);
	TAP_CHECK(!throttle_is_paused(t, now_ms + 60000, NULL));
	took_ms = timed_wait(t, 0, &r);
	TAP_CHECK(r == -EAGAIN);
	TAP_CHECK(took_ms < AT_ONCE_MS);

	throttle_resume(t);
	TAP_CHECK(!throttle_is_paused(t, util_now_ms(), NULL));
	TAP_CHECK(waits_not(t, 0));

	/* A pause that has already ended pauses nothing. */
	throttle_pause(t, util_now_ms() - 1);
	TAP_CHECK(!throttle_is_paused(t, util_now_ms(), NULL));
	TAP_CHECK(waits_not(t, 0));
	throttle_free(t);
}

/*
 * Starts a waiter held back for a minute and tells whether it is still
 * blocked a moment later; if not, it has been joined already.
 */
static bool
start_blocked_waiter(struct waiter *w, struct throttle *t)
{
	throttle_hold(t, util_now_ms() + 60000);
	waiter_start(w, t, 0);
	return waiter_join(w, 200) == ETIMEDOUT;
}

/* Joins a waiter that should return now; fails the test if it does not. */
static void
waiter_finish(struct waiter *w)
{
	if (waiter_join(w, DEADLINE_MS) == 0)
		return;
	TAP_CHECK(!"the waiter returned in time");
	waiter_reap(w);
}

static void
test_pause_wakes_a_blocked_waiter(void)
{
	struct throttle *t = new_throttle();
	struct waiter w;
	bool is_blocked = start_blocked_waiter(&w, t);

	TAP_CHECK(is_blocked);
	if (is_blocked) {
		throttle_pause(t, util_now_ms() + 60000);
		waiter_finish(&w);
	}
	TAP_CHECK(w.result == -EAGAIN);
	throttle_free(t);
}

static void
test_cancel_wakes_a_blocked_waiter(void)
{
	struct throttle *t = new_throttle();
	struct waiter w;
	bool is_blocked = start_blocked_waiter(&w, t);
	int r;

	TAP_CHECK(is_blocked);
	if (is_blocked) {
		throttle_cancel(t);
		waiter_finish(&w);
	}
	TAP_CHECK(w.result == -ECANCELED);
	/* Cancel is for good, and beats a resume. */
	throttle_resume(t);
	TAP_CHECK(timed_wait(t, 0, &r) < AT_ONCE_MS && r == -ECANCELED);
	throttle_free(t);
}

static void
test_requests_bucket_sends_a_minute_then_waits(void)
{
	struct throttle *t = new_throttle();
	int64_t start_ms, took_ms;
	int n, r;

	/* 120 per minute: a capacity of 120, one more every 500 ms. */
	start_ms = util_now_ms();
	throttle_set_limits(t, 120, 0);
	n = take_at_once(t, 1000000, 120);
	TAP_CHECK(n == 120);
	TAP_CHECK(util_now_ms() - start_ms < AT_ONCE_MS);

	/* The 121st only once 500 ms have passed since the limit was set:
	 * counted from there, a slow loop above cannot shorten it. */
	took_ms = timed_wait(t, 0, &r);
	TAP_CHECK(r == 0);
	TAP_CHECK(util_now_ms() - start_ms >= 500);
	TAP_CHECK(took_ms < 500 + DEADLINE_MS);
	throttle_free(t);
}

/* throttle_try() gives what throttle_wait() would give at once, and
 * refuses, taking nothing, where throttle_wait() would sleep, saying how
 * long that would be. */
static void
test_try_takes_only_what_is_there(void)
{
	struct throttle *t = new_throttle();
	int64_t now_ms, wait_ms = -1;

	throttle_set_limits(t, 2, 0);
	TAP_CHECK(throttle_try(t, 0, NULL) == 0);
	TAP_CHECK(throttle_try(t, 0, NULL) == 0);
	TAP_CHECK(throttle_try(t, 0, &wait_ms) == 1);
	/* Two a minute: the next one in 30 s, less what passed. */
	TAP_CHECK(wait_ms > 29000 && wait_ms <= 30000);
	TAP_CHECK(throttle_try(t, 0, NULL) == 1);
	throttle_set_limits(t, 0, 0);

	/* A refusal took nothing: a token bucket's capacity passes once. */
	throttle_set_limits(t, 0, 1000);
	TAP_CHECK(throttle_try(t, 600, NULL) == 0);
	TAP_CHECK(throttle_try(t, 600, NULL) == 1);
	TAP_CHECK(throttle_try(t, 400, NULL) == 0);
	throttle_set_limits(t, 0, 0);

	now_ms = util_now_ms();
	throttle_hold(t, now_ms + 60000);
	TAP_CHECK(throttle_try(t, 0, &wait_ms) == 1);
	TAP_CHECK(wait_ms > 59000 && wait_ms <= 60000);
	throttle_pause(t, now_ms + 60000);
	TAP_CHECK(throttle_try(t, 0, NULL) == -EAGAIN);
	throttle_cancel(t);
	TAP_CHECK(throttle_try(t, 0, NULL) == -ECANCELED);
	throttle_free(t);
}

static void
count_wake(void *arg)
{
	(*(int *)arg)++;
}

/* The waker runs whenever a wait may have become shorter, or a pause or
 * a stop began, and not when a hold makes waits longer. */
static void
test_waker_runs_on_every_change_that_frees(void)
{
	struct throttle *t = new_throttle();
	int wakes = 0;

	throttle_set_waker(t, count_wake, &wakes);
	throttle_set_limits(t, 10, 1000);
	TAP_CHECK(wakes == 1);
	throttle_settle(t, 100, 10);
	TAP_CHECK(wakes == 2);
	throttle_settle(t, 10, 100);
	TAP_CHECK(wakes == 2);
	throttle_hold(t, util_now_ms() + 1000);
	TAP_CHECK(wakes == 2);
	throttle_pause(t, util_now_ms() + 1000);
	TAP_CHECK(wakes == 3);
	throttle_resume(t);
	TAP_CHECK(wakes == 4);
	throttle_set_waker(t, NULL, NULL);
	throttle_cancel(t);
	TAP_CHECK(wakes == 4);
	throttle_free(t);
}

static void
test_tokens_bucket_waits_for_refill(void)
{
	struct throttle *t = new_throttle();
	int64_t start_ms, took_ms;
	int r;

	/* 600 tokens per minute: 10 a second.  Five more than the 600 the
	 * bucket holds take 500 ms of refill since the limit was set. */
	start_ms = util_now_ms();
	throttle_set_limits(t, 0, 600);
	took_ms = timed_wait(t, 600, &r);
	TAP_CHECK(r == 0);
	TAP_CHECK(took_ms < AT_ONCE_MS);

	took_ms = timed_wait(t, 5, &r);
	TAP_CHECK(r == 0);
	TAP_CHECK(util_now_ms() - start_ms >= 500);
	TAP_CHECK(took_ms < 500 + DEADLINE_MS);
	throttle_free(t);
}

static void
test_oversized_request_passes_a_full_bucket(void)
{
	struct throttle *t = new_throttle();
	struct waiter w;
	int64_t took_ms;
	bool is_blocked;
	int r;

	throttle_set_limits(t, 0, 600);
	took_ms = timed_wait(t, 1000, &r);
	TAP_CHECK(r == 0);
	TAP_CHECK(took_ms < AT_ONCE_MS);

	/* The bucket owes 400 tokens now: the next request must wait. */
	waiter_start(&w, t, 1);
	is_blocked = waiter_join(&w, 300) == ETIMEDOUT;
	TAP_CHECK(is_blocked);
	if (is_blocked) {
		throttle_cancel(t);
		waiter_finish(&w);
	}
	TAP_CHECK(w.result == -ECANCELED);
	throttle_free(t);
}

/*
 * Each request past a full bucket's 120 needs 500 ms more of refill at 120
 * a minute, so request k (k > 120) is granted no sooner than (k - 120) *
 * 500 ms after the limit was set, however late any waiter woke up: a late
 * wake-up only adds time.  Counting from the previous grant instead would
 * fail when that grant came late, since the bucket kept refilling.
 */
static void
test_bucket_refills_at_the_configured_rate(void)
{
	struct throttle *t = new_throttle();
	int64_t start_ms, since_ms, took_ms;
	int k, n, r;

	/* 120 per minute from start_ms, emptied at once. */
	start_ms = util_now_ms();
	throttle_set_limits(t, 120, 0);
	n = take_at_once(t, 0, 120);
	TAP_CHECK(n == 120);

	/* A hold of a second: the bucket refills meanwhile, so the two it
	 * saved up both go when the hold ends. */
	throttle_hold(t, util_now_ms() + 1000);
	took_ms = timed_wait(t, 0, &r);
	TAP_CHECK(r == 0 && took_ms >= 900 && took_ms < 1000 + DEADLINE_MS);
	TAP_CHECK(waits_not(t, 0));

	/* Then one per 500 ms: the 123rd and the 124th. */
	for (k = 123; k <= 124; k++) {
		took_ms = timed_wait(t, 0, &r);
		since_ms = util_now_ms() - start_ms;
		TAP_CHECK(r == 0 && took_ms < 500 + DEADLINE_MS);
		TAP_CHECK(since_ms >= (k - 120) * 500);
		if (since_ms < (k - 120) * 500)
			printf("# grant %d came %lld ms after the limit\n", k,
			    (long long)since_ms);
	}
	throttle_free(t);
}

static void
test_settle_gives_back_and_takes_tokens(void)
{
	struct throttle *t = new_throttle();
	int64_t took_ms;
	int r;

	throttle_set_limits(t, 0, 600);
	TAP_CHECK(waits_not(t, 600));

	/* 10 tokens overestimated come back: no wait for 10 (else 1 s). */
	throttle_settle(t, 600, 590);
	took_ms = timed_wait(t, 10, &r);
	TAP_CHECK(r == 0);
	TAP_CHECK(took_ms < AT_ONCE_MS);

	/* 10 underestimated are owed: 5 more now take 1.5 s, not 0.5 s. */
	throttle_settle(t, 10, 20);
	took_ms = timed_wait(t, 5, &r);
	TAP_CHECK(r == 0);
	TAP_CHECK(took_ms >= 1200);
	TAP_CHECK(took_ms < 1500 + DEADLINE_MS);
	throttle_free(t);
}

static void
test_zero_limits_mean_unlimited(void)
{
	struct throttle *t = new_throttle();
	int n;

	throttle_set_limits(t, 1, 1);
	TAP_CHECK(waits_not(t, 1));
	throttle_set_limits(t, 0, 0);
	for (n = 0; n < 100 && waits_not(t, INT64_MAX); n++)
		continue;
	TAP_CHECK(n == 100);
	throttle_free(t);
}

int
main(void)
{
	TAP_RUN(test_backoff_doubles_per_attempt_up_to_the_cap);
	TAP_RUN(test_backoff_survives_huge_attempt_counts);
	TAP_RUN(test_backoff_is_never_below_one_ms);
	TAP_RUN(test_retry_after_parses_delta_seconds);
	TAP_RUN(test_retry_after_parses_http_dates);
	TAP_RUN(test_retry_after_ms_header_wins);
	TAP_RUN(test_retry_after_rejects_garbage);
	TAP_RUN(test_retry_after_clamps_absurd_values);
	TAP_RUN(test_hold_makes_wait_wait);
	TAP_RUN(test_pause_refuses_until_resumed);
	TAP_RUN(test_pause_wakes_a_blocked_waiter);
	TAP_RUN(test_cancel_wakes_a_blocked_waiter);
	TAP_RUN(test_requests_bucket_sends_a_minute_then_waits);
	TAP_RUN(test_try_takes_only_what_is_there);
	TAP_RUN(test_waker_runs_on_every_change_that_frees);
	TAP_RUN(test_tokens_bucket_waits_for_refill);
	TAP_RUN(test_oversized_request_passes_a_full_bucket);
	TAP_RUN(test_bucket_refills_at_the_configured_rate);
	TAP_RUN(test_settle_gives_back_and_takes_tokens);
	TAP_RUN(test_zero_limits_mean_unlimited);
	return tap_done();
}
