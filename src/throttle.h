/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_THROTTLE_H
#define GISTD_THROTTLE_H

/*
 * How fast the pool may send: exponential backoff with jitter for one
 * file's retries, the provider's Retry-After, a pool-wide hold after a 429,
 * a pause after a fault of the setup, and token buckets for
 * requests_per_minute and tokens_per_minute.  One struct throttle is shared
 * by all workers; every function here is thread-safe.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct throttle;

int throttle_new(struct throttle **ret_throttle);
void throttle_free(struct throttle *t);
void throttle_set_limits(struct throttle *t, int64_t requests_per_minute,
    int64_t tokens_per_minute);
int throttle_wait(struct throttle *t, int64_t tokens);
int throttle_try(struct throttle *t, int64_t tokens, int64_t *ret_wait_ms);
void throttle_set_waker(struct throttle *t, void (*fn)(void *), void *arg);
void throttle_settle(struct throttle *t, int64_t estimated, int64_t actual);
void throttle_hold(struct throttle *t, int64_t until_ms);
void throttle_pause(struct throttle *t, int64_t until_ms);
void throttle_resume(struct throttle *t);
bool throttle_is_paused(struct throttle *t, int64_t now_ms,
    int64_t *ret_until_ms);
void throttle_cancel(struct throttle *t);

int64_t throttle_backoff_ms(unsigned attempt, int64_t initial_ms,
    int64_t max_ms, uint64_t *rng);
int64_t throttle_parse_retry_after(const char *retry_after,
    const char *retry_after_ms, time_t now);

#endif
