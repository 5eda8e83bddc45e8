/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_JOB_H
#define GISTD_JOB_H

/*
 * One input file's journey through a worker: open it safely, check that a
 * summary is not already current, read and cut its text, ask the provider,
 * write the summary or fail the file, and say what happened.
 *
 * The main thread creates jobs and owns them while they are not in a
 * worker's hands; ring push and pop hand a job over (with release and
 * acquire ordering), so no field needs to be atomic.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "log.h"
#include "settings.h"

struct api_client;
struct throttle;

enum job_outcome {
	JOB_DONE,		/* summary written */
	JOB_UP_TO_DATE,		/* a current summary existed already */
	JOB_VANISHED,		/* the input is gone */
	JOB_SKIPPED,		/* not a regular file: left alone */
	JOB_FAILED,		/* the file's own fault, recorded */
	JOB_RETRY,		/* transient: try again at retry_at_ms */
	JOB_PAUSED,		/* the setup's fault, or held back by a pause */
	JOB_UNSETTLED,		/* written to lately: look again at retry_at_ms */
};

/* How the main thread learned of the file, which decides what "already
 * summarized" means for it. */
enum job_origin {
	JOB_FROM_SCAN,		/* listed by a scan: a writer may still be busy */
	JOB_FROM_EVENT,		/* closed after writing, or moved in */
	JOB_FROM_CHANGE,	/* changed while its summary was being made */
};

struct job {
	/* main thread only */
	struct job *hash_next;
	struct job *deferred_next;
	int state;				/* enum registry_state */
	bool is_dirty;				/* an event came while out */
	dev_t dev;				/* identity of a held file */
	ino_t ino;
	int64_t mtime_ns;
	int64_t size;

	/* written by main before the push, read by the worker */
	struct settings *settings;		/* reference held */
	enum job_origin origin;
	int64_t watched_since_ns;		/* see loop_mark_watched() */
	unsigned attempt;			/* attempts made so far */
	int64_t first_try_ms;			/* monotonic, of attempt 1 */

	/* the worker's while it runs the job, kept between attempts */
	char *summary;				/* paid for, not yet written */

	/* written by the worker before it hands the job back */
	enum job_outcome outcome;
	int64_t retry_at_ms;			/* RETRY, PAUSED, UNSETTLED */
	int64_t tokens;				/* in + out of this attempt */
	char reason[256];

	char name[];				/* NUL-terminated byte string */
};

/*
 * A worker's own state.  finish is called with each job the worker is
 * done with, on the worker's thread.  held is a job whose reply came but
 * whose summary is not written yet: the worker writes it while its next
 * request waits for a reply, or before it sleeps or leaves
 * (job_release()).
 */
struct job_context {
	struct api_client *api;
	struct throttle *throttle;
	uint64_t rng;
	void (*finish)(struct job *job, void *arg);
	void *finish_arg;
	struct job *held;
	struct log_fields held_fields;	/* for the held job's log line */
};

struct job *job_new(const char *name);
void job_free(struct job *job);
void job_run(struct job *job, struct job_context *ctx);
void job_release(struct job_context *ctx);
void job_note_file(struct job *job, const struct stat *st);
bool job_is_same_file(const struct job *job, const struct stat *st);
int job_context_init(struct job_context *ctx, struct throttle *t,
    uint64_t seed, void (*finish)(struct job *, void *), void *finish_arg);
void job_context_clear(struct job_context *ctx);

#endif
