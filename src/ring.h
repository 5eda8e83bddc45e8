/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_RING_H
#define GISTD_RING_H

/*
 * A bounded lock-free multi-producer/multi-consumer queue of pointers.
 * Any thread may push or pop; consumers that find it empty may sleep in
 * ring_pop_wait() until an item or ring_wake_all() arrives.
 */

#include <stddef.h>
#include <stdint.h>

struct ring;

int ring_new(size_t capacity, struct ring **ret_ring);
void ring_free(struct ring *r);
size_t ring_capacity(const struct ring *r);
int ring_push(struct ring *r, void *item);
int ring_pop(struct ring *r, void **ret_item);
int ring_pop_wait(struct ring *r, void **ret_item, unsigned *wake_seen,
    int64_t timeout_ms);
void ring_wake_all(struct ring *r);

#endif
