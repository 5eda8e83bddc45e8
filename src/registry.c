// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * The main thread's table of inputs in progress: a hash table of jobs by
 * name with a count per state, and a list of the deferred ones.  Jobs that
 * are out with the workers stay in the table, so that an event or a rescan
 * for the same name does not queue it again.  Deferred jobs are few (the
 * main thread bounds them with the rest of its outstanding work), so
 * finding the due ones walks a plain list.  Main thread only.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "registry.h"

#define REGISTRY_MIN_BUCKETS 1024

struct registry {
	struct job **buckets;
	size_t n_buckets;		/* a power of two */
	size_t counts[REGISTRY_STATES];
	size_t total;
	struct job *deferred;		/* unordered list */
};

static uint64_t
registry_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	return h;
}

/* Creates an empty table.  Returns 0 or -ENOMEM. */
int
registry_new(struct registry **ret_registry)
{
	struct registry *reg;

	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	reg->buckets = calloc(REGISTRY_MIN_BUCKETS, sizeof(struct job *));
	if (!reg->buckets) {
		free(reg);
		return -ENOMEM;
	}
	reg->n_buckets = REGISTRY_MIN_BUCKETS;
	*ret_registry = reg;
	return 0;
}

/*
 * Frees the table and every job still in it.  Call only when no job is in
 * a worker's hands.  NULL is fine.
 */
void
registry_free(struct registry *reg)
{
	struct job *job, *next;
	size_t i;

	if (!reg)
		return;
	for (i = 0; i < reg->n_buckets; i++)
		for (job = reg->buckets[i]; job; job = next) {
			next = job->hash_next;
			job_free(job);
		}
	free(reg->buckets);
	free(reg);
}

/* The job for name, or NULL. */
struct job *
registry_find(const struct registry *reg, const char *name)
{
	struct job *job;

	job = reg->buckets[registry_hash(name) & (reg->n_buckets - 1)];
	for (; job; job = job->hash_next)
		if (strcmp(job->name, name) == 0)
			return job;
	return NULL;
}

static void
registry_grow(struct registry *reg)
{
	size_t n = reg->n_buckets * 2, i;
	struct job **b, *job, *next;

	b = calloc(n, sizeof(*b));
	if (!b)
		return;		/* longer chains, still correct */
	for (i = 0; i < reg->n_buckets; i++)
		for (job = reg->buckets[i]; job; job = next) {
			size_t k = registry_hash(job->name) & (n - 1);

			next = job->hash_next;
			job->hash_next = b[k];
			b[k] = job;
		}
	free(reg->buckets);
	reg->buckets = b;
	reg->n_buckets = n;
}

static void
registry_unlink_deferred(struct registry *reg, struct job *job)
{
	struct job **p;

	for (p = &reg->deferred; *p; p = &(*p)->deferred_next)
		if (*p == job) {
			*p = job->deferred_next;
			job->deferred_next = NULL;
			return;
		}
}

/*
 * Adds job, whose name must not be in the table, in state.  The table owns
 * the job until registry_remove().  Returns 0.
 */
int
registry_add(struct registry *reg, struct job *job, enum registry_state state)
{
	size_t k;

	if (reg->total >= reg->n_buckets)
		registry_grow(reg);
	k = registry_hash(job->name) & (reg->n_buckets - 1);
	job->hash_next = reg->buckets[k];
	reg->buckets[k] = job;
	reg->total++;
	job->state = REGISTRY_OUT;
	reg->counts[REGISTRY_OUT]++;
	registry_set_state(reg, job, state);
	return 0;
}

/* Moves a job of the table to another state. */
void
registry_set_state(struct registry *reg, struct job *job,
    enum registry_state state)
{
	if (job->state == REGISTRY_DEFERRED)
		registry_unlink_deferred(reg, job);
	reg->counts[job->state]--;
	job->state = (int)state;
	reg->counts[state]++;
	if (state == REGISTRY_DEFERRED) {
		job->deferred_next = reg->deferred;
		reg->deferred = job;
	}
}

/* Takes job out of the table; the caller owns it again. */
void
registry_remove(struct registry *reg, struct job *job)
{
	struct job **p;

	if (job->state == REGISTRY_DEFERRED)
		registry_unlink_deferred(reg, job);
	p = &reg->buckets[registry_hash(job->name) & (reg->n_buckets - 1)];
	for (; *p; p = &(*p)->hash_next)
		if (*p == job) {
			*p = job->hash_next;
			reg->counts[job->state]--;
			reg->total--;
			return;
		}
}

/* How many jobs are in state. */
size_t
registry_count(const struct registry *reg, enum registry_state state)
{
	return reg->counts[state];
}

/*
 * Returns a deferred job whose time has come, moved to REGISTRY_OUT, or
 * NULL when none is due.
 */
struct job *
registry_take_due(struct registry *reg, int64_t now_ms)
{
	struct job *job;

	for (job = reg->deferred; job; job = job->deferred_next)
		if (job->retry_at_ms <= now_ms) {
			registry_set_state(reg, job, REGISTRY_OUT);
			return job;
		}
	return NULL;
}

/* The earliest retry time of the deferred jobs, or -1 when there are none. */
int64_t
registry_next_due_ms(const struct registry *reg)
{
	int64_t next = -1;
	struct job *job;

	for (job = reg->deferred; job; job = job->deferred_next)
		if (next < 0 || job->retry_at_ms < next)
			next = job->retry_at_ms;
	return next;
}

/* Makes every deferred job due now (after a reload). */
void
registry_make_due(struct registry *reg)
{
	struct job *job;

	for (job = reg->deferred; job; job = job->deferred_next)
		job->retry_at_ms = 0;
}
