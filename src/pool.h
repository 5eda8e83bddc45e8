/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_POOL_H
#define GISTD_POOL_H

/*
 * The pool that runs jobs: `workers` request slots, a few file threads
 * and one transfer thread.  It takes jobs through pool_submit(), runs
 * them, pushes them onto the results ring and pokes an eventfd so the
 * main thread wakes.  Only the main thread calls these functions.
 */

#include <stdint.h>

struct job;
struct pool;
struct ring;
struct throttle;

int pool_new(struct ring *jobs, struct ring *results, int wake_fd,
    struct throttle *t, struct pool **ret_pool);
int pool_resize(struct pool *p, unsigned workers);
int pool_submit(struct pool *p, struct job *job);
void pool_reap(struct pool *p);
unsigned pool_in_flight(const struct pool *p);
void pool_stop(struct pool *p);
int pool_join(struct pool *p, int64_t deadline_ms);
void pool_free(struct pool *p);

#endif
