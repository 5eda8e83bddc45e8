/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_REGISTRY_H
#define GISTD_REGISTRY_H

/*
 * The main thread's table of the inputs it is dealing with, by name: jobs
 * out with the workers, jobs deferred until a time, and files held back
 * (failed in place or skipped) until they change.  It is how a file seen
 * twice is queued once.  Main thread only.
 */

#include <stddef.h>
#include <stdint.h>

struct job;

enum registry_state {
	REGISTRY_OUT,		/* in the ring or in a worker's hands */
	REGISTRY_DEFERRED,	/* waiting for its retry time */
	REGISTRY_HELD,		/* left alone until the file changes */
	REGISTRY_STATES,
};

struct registry;

int registry_new(struct registry **ret_registry);
void registry_free(struct registry *reg);
struct job *registry_find(const struct registry *reg, const char *name);
int registry_add(struct registry *reg, struct job *job,
    enum registry_state state);
void registry_set_state(struct registry *reg, struct job *job,
    enum registry_state state);
void registry_remove(struct registry *reg, struct job *job);
size_t registry_count(const struct registry *reg, enum registry_state state);
struct job *registry_take_due(struct registry *reg, int64_t now_ms);
int64_t registry_next_due_ms(const struct registry *reg);
void registry_make_due(struct registry *reg);

#endif
