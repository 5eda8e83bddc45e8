// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * One input file's journey through the pool.  First step, on a file
 * thread (job_prepare()): open the file without following links or
 * blocking on FIFOs, skip it when its summary is current, read at most
 * what will be sent, check that it is text and make the request.  The
 * transfer thread sends it (xfer.c) while file threads go on with other
 * files.  Second step, on a file thread again (job_complete()): publish
 * the summary or record why the file failed.  The input stays open from
 * one step to the other, so that a change made meanwhile is seen.  The
 * job ends with an outcome that the main thread acts on (done, retry at a
 * time, held by a pause).  This module decides each file's fate, so it
 * logs it: one info line per file done, a warning per retry, an error per
 * failure.  Pool-wide consequences (a 429 hold, a pause) go through the
 * shared throttle at once, so that no request goes out after them before
 * the main thread hears of it.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "extract.h"
#include "job.h"
#include "log.h"
#include "msgid.h"
#include "outbox.h"
#include "text.h"
#include "throttle.h"
#include "util.h"
#include "xfer.h"

/* Bytes that max_input_chars characters take at most in UTF-8. */
#define JOB_BYTES_PER_CHAR 4

/*
 * XXX A scanned file last written before the inbox was watched is taken as
 * complete once nobody has written to it for this long: whether its writer
 * still has it open cannot be known.  A writer that started before gistd
 * and pauses for longer without closing has its partial text summarized,
 * and summarized again after it closes.
 */
#define JOB_SETTLE_MS 2000

/*
 * A scanned file written while the inbox was watched will raise an event
 * when its writer closes it, so it waits for that event, looking again
 * every JOB_SETTLE_MS.  Only a change that raises no event (a touch)
 * leaves it waiting this long before it is taken.
 */
#define JOB_EVENT_WAIT_MS (5 * 60 * 1000)

/* A reply kept for a retry of its write is at most this long. */
#define JOB_KEPT_SUMMARY_MAX (64 * 1024)

/* Retry warnings of one cause are logged at most this often. */
#define JOB_WARNING_INTERVAL_MS 10000

/* What one attempt learned, for the log line that ends it. */
struct job_attempt {
	struct log_fields fields;
	struct api_result result;
	char *text;		/* malloc'd; freed once the request is made */
	size_t text_len;
};

/* One attempt, from the first step to the second. */
struct job_exchange {
	struct job_attempt a;
	struct xfer_request req;	/* req.result moves to a.result */
	int fd;				/* the input, open throughout */
	struct stat st;			/* the input when it was read */
	char *body;			/* the request, until it is over */
};

/*
 * Allocates a job for the byte string name.  Returns NULL on ENOMEM.  The
 * main thread owns it until it pushes it to the pool.
 */
struct job *
job_new(const char *name)
{
	size_t len = strlen(name);
	struct job *job;

	job = calloc(1, sizeof(*job) + len + 1);
	if (!job)
		return NULL;
	memcpy(job->name, name, len + 1);
	job->watched_since_ns = INT64_MAX;
	return job;
}

/* Frees a job and drops its settings reference.  NULL is fine. */
void
job_free(struct job *job)
{
	if (!job)
		return;
	settings_unref(job->settings);
	free(job->summary);
	free(job);
}

/*
 * Prepares a file thread's state: the shared throttle and a random seed
 * for jitter.  The thread owns its context.
 */
void
job_context_init(struct job_context *ctx, struct throttle *t, uint64_t seed)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->throttle = t;
	ctx->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static void
job_set_reason(struct job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
job_set_reason(struct job *job, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(job->reason, sizeof(job->reason), fmt, ap);
	va_end(ap);
}

/* Nanoseconds of CLOCK_REALTIME in t. */
static int64_t
job_timespec_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Remembers which file, in which state, the job last saw.  Any thread
 * that owns the job. */
void
job_note_file(struct job *job, const struct stat *st)
{
	job->dev = st->st_dev;
	job->ino = st->st_ino;
	job->mtime_ns = job_timespec_ns(&st->st_mtim);
	job->size = st->st_size;
}

/* Whether st describes the file job_note_file() last noted, unchanged. */
bool
job_is_same_file(const struct job *job, const struct stat *st)
{
	return st->st_dev == job->dev && st->st_ino == job->ino &&
	    st->st_size == job->size &&
	    job_timespec_ns(&st->st_mtim) == job->mtime_ns;
}

/*
 * Opens the input and describes it.  Returns an open descriptor, or -1
 * with the job's outcome set (vanished, skipped or failed).
 */
static int
job_open(struct job *job, const char *path, struct stat *st)
{
	char ebuf[128];
	int fd;

	/* O_NONBLOCK: a FIFO that slipped in must not stall the worker. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT) {
			job->outcome = JOB_VANISHED;
		} else if (errno == ELOOP) {
			job->outcome = JOB_SKIPPED;
			job_set_reason(job, "symbolic link");
		} else {
			job->outcome = JOB_FAILED;
			job_set_reason(job, "cannot open: %s",
			    util_strerror(errno, ebuf, sizeof(ebuf)));
		}
		return -1;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		job->outcome = JOB_SKIPPED;
		job_set_reason(job, "not a regular file");
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * Reads at most the bytes that max_input_chars characters can take, and no
 * more than the file held when st was taken and one byte, into memory the
 * caller frees (*ret_buf).  Returns the count, or a negative errno.
 * *ret_is_truncated says whether the file may hold more.  A short read of
 * a regular file is its end, so a file smaller than the limit costs one
 * read.  The buffer lives only until the request is made: a job does
 * not keep a text's worth of memory while it waits for the reply.
 */
static ssize_t
job_read(const struct settings *s, int fd, const struct stat *st,
    char **ret_buf, bool *ret_is_truncated)
{
	size_t want = (size_t)s->max_input_chars * JOB_BYTES_PER_CHAR, got = 0;
	bool is_short = false;
	ssize_t n;
	char *buf;

	if ((int64_t)want > s->max_file_size)
		want = (size_t)s->max_file_size;
	if (st->st_size >= 0 && (uint64_t)st->st_size < want)
		want = (size_t)st->st_size + 1;
	buf = malloc(want);
	if (!buf)
		return -ENOMEM;
	while (got < want && !is_short) {
		n = pread(fd, buf + got, want - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return -errno;
		}
		is_short = (size_t)n < want - got;
		got += (size_t)n;
	}
	*ret_buf = buf;
	*ret_is_truncated = got == want;
	return (ssize_t)got;
}

/* Checks the input and leaves its text in *a, or sets a failed outcome. */
static int
job_load_text(struct job *job, int fd, const struct stat *st,
    struct job_attempt *a)
{
	const struct settings *s = job->settings;
	enum text_verdict v;
	bool is_truncated = false;
	char ebuf[128];
	size_t len;
	ssize_t n;

	if (strlen(job->name) + strlen(OUTBOX_SUFFIX) > NAME_MAX) {
		job_set_reason(job, "name too long to add \"%s\"",
		    OUTBOX_SUFFIX);
		return -ENAMETOOLONG;
	}
	if (st->st_size > s->max_file_size) {
		job_set_reason(job, "too large (%lld bytes, max_file_size is "
		    "%lld)", (long long)st->st_size,
		    (long long)s->max_file_size);
		return -EFBIG;
	}
	n = job_read(s, fd, st, &a->text, &is_truncated);
	if (n < 0) {
		job_set_reason(job, "cannot read: %s",
		    util_strerror((int)n, ebuf, sizeof(ebuf)));
		return (int)n;
	}
	v = text_cut(a->text, (size_t)n, (size_t)s->max_input_chars,
	    is_truncated, &len);
	if (v != TEXT_OK) {
		job_set_reason(job, "%s", text_verdict_reason(v));
		return -EINVAL;
	}
	a->text_len = len;
	a->fields.bytes = st->st_size;
	return 0;
}

/* Runs the built-in provider; it cannot fail but for memory. */
static void
job_ask_extractive(struct job_attempt *a)
{
	struct api_result *res = &a->result;
	int r;

	r = extract_summarize(a->text, a->text_len, &res->summary);
	res->class = r == 0 ? API_OK : API_TRANSIENT;
	res->tokens_in = 0;
	res->tokens_out = 0;
	if (r < 0)
		(void)snprintf(res->reason, sizeof(res->reason),
		    "extractive summary failed");
}

/* Records the file's own fault: to failed_dir, or held in the inbox. */
static void
job_fail(struct job *job, struct job_attempt *a)
{
	char esc[LOG_NAME_MAX], ebuf[128];
	int r;

	job->outcome = JOB_FAILED;
	a->fields.message_id = MSGID_FILE_FAILED;
	r = outbox_fail_input(job->settings, job->name, job->reason);
	log_escape(job->name, esc, sizeof(esc));
	if (r == 0)
		log_event(LOG_ERR, &a->fields,
		    "Failed to summarize '%s': %s, moved to failed_dir",
		    esc, job->reason);
	else if (r == 1)
		log_event(LOG_ERR, &a->fields,
		    "Failed to summarize '%s': %s, moved to failed_dir (the name leaves no room for .error)",
		    esc, job->reason);
	else if (r == -ENOTDIR)
		log_event(LOG_ERR, &a->fields,
		    "Failed to summarize '%s': %s, left in the inbox until it changes",
		    esc, job->reason);
	else
		log_event(LOG_ERR, &a->fields,
		    "Failed to summarize '%s': %s, and failed to move it to failed_dir: %s; left in the inbox",
		    esc, job->reason, util_strerror(r, ebuf, sizeof(ebuf)));
}

/*
 * Decides whether a retry warning is worth a line.  When the API is down
 * every file fails alike, so a warning with the same reason as the last
 * one logged, within JOB_WARNING_INTERVAL_MS of it, is only counted.
 * Returns -1 to keep quiet, else how many were kept quiet since the last
 * warning logged.  Any worker.
 */
static int
job_count_warning(const char *reason, int64_t now_ms)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char last_reason[sizeof(((struct job *)0)->reason)]; /* lock */
	static int64_t last_ms = INT64_MIN / 2;	/* guarded by lock */
	static int quiet;			/* guarded by lock */
	int r = -1;

	(void)pthread_mutex_lock(&lock);
	if (strcmp(reason, last_reason) != 0 ||
	    now_ms - last_ms >= JOB_WARNING_INTERVAL_MS) {
		r = quiet;
		quiet = 0;
		(void)snprintf(last_reason, sizeof(last_reason), "%s", reason);
		last_ms = now_ms;
	} else {
		quiet++;
	}
	(void)pthread_mutex_unlock(&lock);
	return r;
}

/* A transient failure: retry later, or give up after retry.max_age. */
static void
job_retry(struct job *job, struct job_context *ctx, struct job_attempt *a,
    int64_t provider_delay_ms)
{
	const struct settings *s = job->settings;
	int64_t now_ms = util_now_ms(), delay_ms;
	char esc[LOG_NAME_MAX];
	int quiet;

	if (now_ms - job->first_try_ms >= s->retry_max_age_ms) {
		char reason[sizeof(job->reason)];

		(void)snprintf(reason, sizeof(reason), "still failing after "
		    "retry.max_age: %.200s", job->reason);
		memcpy(job->reason, reason, sizeof(reason));
		job_fail(job, a);
		return;
	}
	delay_ms = throttle_backoff_ms(job->attempt, s->retry_initial_delay_ms,
	    s->retry_max_delay_ms, &ctx->rng);
	if (provider_delay_ms > delay_ms)
		delay_ms = provider_delay_ms;
	/* A 429 is about the account and an unreachable server about every
	 * request, not this file: the whole pool waits.  A timeout or a reply
	 * cut short may be this request's alone, so only the file waits. */
	if (a->result.http_status == 429 || a->result.is_unreachable)
		throttle_hold(ctx->throttle, now_ms + delay_ms);
	job->outcome = JOB_RETRY;
	job->retry_at_ms = now_ms + delay_ms;
	quiet = job_count_warning(job->reason, now_ms);
	log_escape(job->name, esc, sizeof(esc));
	if (quiet > 0)
		log_msg(LOG_WARNING, "%d more retries like the next one were not shown",
		    quiet);
	log_event(quiet < 0 ? LOG_DEBUG : LOG_WARNING, &a->fields,
	    "Failed to summarize '%s': %s, retrying in %.1f s", esc,
	    job->reason, delay_ms / 1000.0);
}

/* The setup's fault: stop the whole pool until max_delay or a reload. */
static void
job_pause(struct job *job, struct job_context *ctx)
{
	int64_t until_ms = util_now_ms() + job->settings->retry_max_delay_ms;

	throttle_pause(ctx->throttle, until_ms);
	job->outcome = JOB_PAUSED;
	job->retry_at_ms = until_ms;
}

/*
 * Writes job->summary and moves the input on.  A write error is transient,
 * but the reply was paid for: it is kept for the next attempt (unless it
 * is too long to keep), and the whole pool waits too, since a full or
 * missing outbox fails every file.
 */
static void
job_publish(struct job *job, struct job_context *ctx, struct job_attempt *a)
{
	const struct settings *s = job->settings;
	char esc[LOG_NAME_MAX], ebuf[128];
	size_t len = strlen(job->summary);
	int r;

	r = outbox_write_summary(s->outbox, job->name, job->summary, len);
	if (r < 0) {
		if (len > JOB_KEPT_SUMMARY_MAX) {
			free(job->summary);
			job->summary = NULL;
		}
		job_set_reason(job, "cannot write the summary: %s",
		    util_strerror(r, ebuf, sizeof(ebuf)));
		job_retry(job, ctx, a, -1);
		throttle_hold(ctx->throttle, job->retry_at_ms);
		return;
	}
	free(job->summary);
	job->summary = NULL;
	job->outcome = JOB_DONE;
	log_escape(job->name, esc, sizeof(esc));
	r = outbox_finish_input(s, job->name);
	if (r < 0)
		log_msg(LOG_WARNING,
		    "Failed to move '%s' to done_dir: %s; it stays in the inbox",
		    esc, util_strerror(r, ebuf, sizeof(ebuf)));
	log_event(LOG_INFO, &a->fields,
	    "Summarized '%s' (%lld bytes, %lld ms, %lld+%lld tokens)",
	    esc, (long long)a->fields.bytes,
	    (long long)(a->fields.latency_ms < 0 ? 0 : a->fields.latency_ms),
	    (long long)a->result.tokens_in, (long long)a->result.tokens_out);
}

static void
job_settle(struct job *job, struct job_context *ctx, struct job_attempt *a)
{
	struct api_result *res = &a->result;

	a->fields.http_status = res->http_status > 0 ? res->http_status : -1;
	a->fields.tokens_in = res->tokens_in;
	a->fields.tokens_out = res->tokens_out;
	job->tokens = res->tokens_in + res->tokens_out;
	if (res->class != API_OK)
		job_set_reason(job, "%s", res->reason);
	switch (res->class) {
	case API_OK:
		free(job->summary);
		job->summary = res->summary;
		res->summary = NULL;
		job_publish(job, ctx, a);
		break;
	case API_TRANSIENT:
		job_retry(job, ctx, a, res->retry_after_ms);
		break;
	case API_FILE_FAULT:
		job_fail(job, a);
		break;
	case API_SETUP_FAULT:
		job_pause(job, ctx);
		break;
	}
}

/*
 * Whether a file found by a scan was written to so lately that a writer
 * may still be at work; if so, the job is told to look again later.  A
 * writer that closes the file causes an event, which the main thread
 * turns into a job at once; one that wrote before the watch was set may
 * have closed it unseen, so such a file is taken once it has been quiet
 * for JOB_SETTLE_MS.
 */
static bool
job_is_unsettled(struct job *job, const struct stat *st)
{
	int64_t mtime_ns = job_timespec_ns(&st->st_mtim);
	int64_t changed_ns = job_timespec_ns(&st->st_ctim);
	int64_t now_ns, age_ms, wait_ms = JOB_SETTLE_MS;
	struct timespec now;

	if (mtime_ns > changed_ns)
		changed_ns = mtime_ns;
	(void)clock_gettime(CLOCK_REALTIME, &now);
	now_ns = job_timespec_ns(&now);
	age_ms = (now_ns - changed_ns) / 1000000;
	/* Only a write moves mtime (or a touch); a rename, link or chmod
	 * changes ctime alone and has no close event to wait for. */
	if (mtime_ns >= job->watched_since_ns)
		wait_ms = JOB_EVENT_WAIT_MS;
	if (age_ms >= wait_ms || age_ms < -JOB_SETTLE_MS)
		return false;
	job->outcome = JOB_UNSETTLED;
	job->retry_at_ms = util_now_ms() + (age_ms < JOB_SETTLE_MS ?
	    JOB_SETTLE_MS - age_ms : JOB_SETTLE_MS);
	return true;
}

/*
 * Whether there is nothing to send now: the summary is current (then the
 * input still moves to done_dir, in case a crash came between the two), or
 * a scanned file's writer may still be busy.
 */
static bool
job_is_done_for_now(struct job *job, const struct stat *st)
{
	const struct settings *s = job->settings;

	if (job->origin != JOB_FROM_CHANGE &&
	    outbox_summary_is_current(s->outbox, job->name, st,
	    job->origin == JOB_FROM_EVENT)) {
		job->outcome = JOB_UP_TO_DATE;
		(void)outbox_finish_input(s, job->name);
		return true;
	}
	return job->origin == JOB_FROM_SCAN && job_is_unsettled(job, st);
}

/* Whether the open input changed since st was taken. */
static bool
job_has_changed(int fd, const struct stat *st)
{
	struct stat now;

	if (fstat(fd, &now) < 0)
		return true;
	return now.st_size != st->st_size ||
	    now.st_mtim.tv_sec != st->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != st->st_mtim.tv_nsec ||
	    now.st_ctim.tv_sec != st->st_ctim.tv_sec ||
	    now.st_ctim.tv_nsec != st->st_ctim.tv_nsec;
}

/*
 * Forgets a reply kept from an earlier attempt if the input is no longer
 * the file it summarizes, then notes the file as it is now.
 */
static void
job_check_kept_summary(struct job *job, const struct stat *st)
{
	if (job->summary && !job_is_same_file(job, st)) {
		free(job->summary);
		job->summary = NULL;
	}
	job_note_file(job, st);
}

/*
 * Acts on the outcome of a request made from the input open as fd.  A
 * change made meanwhile means the reply came from an older text: it is
 * dropped and the file is done again.
 */
static void
job_conclude(struct job *job, struct job_context *ctx, int fd,
    const struct stat *st, struct job_attempt *a)
{
	char esc[LOG_NAME_MAX];

	job->attempt++;
	if (a->result.class == API_OK && job_has_changed(fd, st)) {
		/* Someone is writing: wait, as for a scanned file, until the
		 * file is quiet, rather than pay for each of its versions. */
		log_msg(LOG_DEBUG, "'%s' changed while being summarized, doing it again once it is quiet",
		    log_escape(job->name, esc, sizeof(esc)));
		job->tokens = a->result.tokens_in + a->result.tokens_out;
		job->outcome = JOB_UNSETTLED;
		job->origin = JOB_FROM_SCAN;
		job->retry_at_ms = util_now_ms() + JOB_SETTLE_MS;
		return;
	}
	job_settle(job, ctx, a);
}

/* Memory ran out: not the file's fault, so try again in a moment. */
static void
job_retry_for_memory(struct job *job)
{
	job->outcome = JOB_RETRY;
	job->retry_at_ms = util_now_ms() + 1000;
	job_set_reason(job, "out of memory");
}

/* Ends an attempt: closes the input, frees what the request needed. */
static void
job_exchange_free(struct job *job)
{
	struct job_exchange *x = job->exchange;

	if (!x)
		return;
	if (x->fd >= 0)
		(void)close(x->fd);
	free(x->a.text);
	free(x->body);
	api_result_clear(&x->a.result);
	api_result_clear(&x->req.result);
	free(x);
	job->exchange = NULL;
}

/* The request could not be made: a transient fault, and an attempt. */
static void
job_cannot_ask(struct job_attempt *a)
{
	a->result.class = API_TRANSIENT;
	a->result.retry_after_ms = -1;
	(void)snprintf(a->result.reason, sizeof(a->result.reason),
	    "cannot make a request");
}

/*
 * Makes the request for the text in x, or an outcome without one: the
 * built-in provider's summary, or a fault known without asking (no key).
 */
static enum job_step
job_ask(struct job *job, struct job_context *ctx, struct api_client *client)
{
	const struct settings *s = job->settings;
	struct job_exchange *x = job->exchange;
	struct job_attempt *a = &x->a;
	int64_t start_ms;
	int r;

	if (s->provider == SETTINGS_PROVIDER_EXTRACTIVE) {
		start_ms = util_now_ms();
		job_ask_extractive(a);
		a->fields.latency_ms = util_now_ms() - start_ms;
		job_conclude(job, ctx, x->fd, &x->st, a);
		return JOB_STEP_OVER;
	}
	/* The text is copied into the request: let it go before the wait
	 * for the reply, which is most of a job's life. */
	x->body = api_build_request(s, a->text, a->text_len);
	x->req.estimate = api_estimate_tokens(s, a->text_len);
	free(a->text);
	a->text = NULL;
	r = x->body ? api_client_begin(client, s, x->body, &a->result) :
	    -ENOMEM;
	if (r == 0) {
		x->req.client = client;
		x->req.settings = s;
		x->req.owner = job;
		return JOB_STEP_SEND;
	}
	if (r < 0)
		job_cannot_ask(a);
	job_conclude(job, ctx, x->fd, &x->st, a);
	return JOB_STEP_OVER;
}

/* Writes a reply kept from the last attempt, or gets to the request. */
static enum job_step
job_work(struct job *job, struct job_context *ctx, struct api_client *client)
{
	struct job_exchange *x = job->exchange;
	int r;

	if (job->summary) {
		job_publish(job, ctx, &x->a);
		return JOB_STEP_OVER;
	}
	r = job_load_text(job, x->fd, &x->st, &x->a);
	if (r == -ENOMEM) {
		job_retry_for_memory(job);
		return JOB_STEP_OVER;
	}
	if (r < 0) {
		job_fail(job, &x->a);
		return JOB_STEP_OVER;
	}
	return job_ask(job, ctx, client);
}

/* Opens the input for an attempt; false with the outcome set if not. */
static bool
job_open_input(struct job *job, struct job_exchange *x)
{
	char *path;

	if (strlen(job->settings->inbox) + strlen(job->name) + 2 > PATH_MAX) {
		job->outcome = JOB_SKIPPED;
		job_set_reason(job, "path too long");
		return false;
	}
	path = util_path_new(job->settings->inbox, job->name, NULL);
	if (!path) {
		job_retry_for_memory(job);
		return false;
	}
	x->fd = job_open(job, path, &x->st);
	free(path);
	if (x->fd < 0) {
		if (job->outcome == JOB_FAILED)
			job_fail(job, &x->a);
		return false;
	}
	return true;
}

/*
 * The first step of an attempt, on a file thread: everything up to the
 * request.  Returns JOB_STEP_SEND when job_request() is to be sent, with
 * client (a request slot) set up for it, and job_complete() to follow
 * once it is over; or JOB_STEP_OVER with job->outcome (and, for some
 * outcomes, reason and retry_at_ms) set, client unused.  The job and
 * client are the caller's alone while this runs.
 */
enum job_step
job_prepare(struct job *job, struct job_context *ctx,
    struct api_client *client)
{
	struct job_exchange *x;
	enum job_step step = JOB_STEP_OVER;

	job->reason[0] = '\0';
	job->tokens = 0;
	x = calloc(1, sizeof(*x));
	if (!x) {
		job_retry_for_memory(job);
		return JOB_STEP_OVER;
	}
	x->fd = -1;
	x->a.fields = (struct log_fields)LOG_FIELDS_INIT;
	x->a.fields.file = job->name;
	x->a.fields.attempt = (int)job->attempt + 1;
	job->exchange = x;
	if (job_open_input(job, x)) {
		job_check_kept_summary(job, &x->st);
		if (!job_is_done_for_now(job, &x->st))
			step = job_work(job, ctx, client);
	}
	if (step == JOB_STEP_OVER)
		job_exchange_free(job);
	return step;
}

/* The request that job_prepare() made; the pool hands it to xfer. */
struct xfer_request *
job_request(struct job *job)
{
	return &job->exchange->req;
}

/*
 * The second step of an attempt, on a file thread, once the transfer
 * thread gave job_request() back: acts on its outcome and sets
 * job->outcome.  A request that never went out (a pause, a stop) was no
 * attempt.  The job is the caller's alone while this runs.
 */
void
job_complete(struct job *job, struct job_context *ctx)
{
	struct job_exchange *x = job->exchange;

	if (x->req.status < 0) {
		job->outcome = JOB_PAUSED;
		job->retry_at_ms = util_now_ms();
		(void)throttle_is_paused(ctx->throttle, job->retry_at_ms,
		    &job->retry_at_ms);
	} else {
		x->a.result = x->req.result;
		x->req.result.summary = NULL;
		x->a.fields.latency_ms = x->req.latency_ms;
		job_conclude(job, ctx, x->fd, &x->st, &x->a);
	}
	job_exchange_free(job);
}
