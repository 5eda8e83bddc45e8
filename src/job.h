/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_JOB_H
#define GISTD_JOB_H

/*
 * One input file's journey through the pool, in two steps: a file thread
 * opens it safely, checks that a summary is not already current, reads
 * and cuts its text and makes the request (job_prepare()); the transfer
 * thread sends it; a file thread then writes the summary or fails the
 * file, and says what happened (job_complete()).
 *
 * The main thread creates jobs and owns them while they are not out;
 * ring push and pop, and the pool's and transfer thread's locks, hand a
 * job over, so no field needs to be atomic.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "log.h"
#include "settings.h"

struct api_client;
struct job_exchange;
struct throttle;
struct xfer_request;

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

	/* written by main before the push, read by the pool's threads */
	struct settings *settings;		/* reference held */
	enum job_origin origin;
	int64_t watched_since_ns;		/* see loop_mark_watched() */
	unsigned attempt;			/* attempts made so far */
	int64_t first_try_ms;			/* monotonic, of attempt 1 */

	/* the pool's while the job is out */
	struct job *pool_next;			/* parked, or riding along */

	/* the pool's threads' while they run the job */
	struct job_exchange *exchange;		/* this attempt's request */
	char *summary;				/* paid for, not yet written;
						 * kept between attempts */

	/* written by the pool's threads before they hand the job back */
	enum job_outcome outcome;
	int64_t retry_at_ms;			/* RETRY, PAUSED, UNSETTLED */
	int64_t tokens;				/* in + out of this attempt */
	char reason[256];

	char name[];				/* NUL-terminated byte string */
};

/* What an attempt's first step leaves to do. */
enum job_step {
	JOB_STEP_OVER,		/* the outcome is set: hand the job back */
	JOB_STEP_SEND,		/* submit job_request(), then job_complete() */
};

/* A file thread's own state. */
struct job_context {
	struct throttle *throttle;
	uint64_t rng;				/* for backoff jitter */
};

struct job *job_new(const char *name);
void job_free(struct job *job);
enum job_step job_prepare(struct job *job, struct job_context *ctx,
    struct api_client *client);
struct xfer_request *job_request(struct job *job);
void job_complete(struct job *job, struct job_context *ctx);
void job_note_file(struct job *job, const struct stat *st);
bool job_is_same_file(const struct job *job, const struct stat *st);
void job_context_init(struct job_context *ctx, struct throttle *t,
    uint64_t seed);

#endif
