// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * The main thread's event loop.  It owns every job that is not in a
 * worker's hands and decides what happens next: which names are queued
 * (from inotify, the startup scan and rescans, and retries that fell due),
 * when the pool is paused, what the status line says, how a reload and a
 * stop unfold.  It waits in epoll over the inotify descriptor, a signalfd,
 * the workers' eventfd and two timerfds (retries and pauses; status and
 * watchdog), and never blocks on the network or on reading a file: workers
 * do that.  With nothing to do it sleeps without a timeout, so an idle
 * daemon does not wake up at all.
 *
 * Back-pressure: at most out_max jobs are out with the workers (in the
 * ring or running) and at most LOOP_JOBS_MAX jobs are out or deferred.
 * When full, the loop stops taking inotify events and scan entries; they
 * wait in the kernel's queue and the directory, and an overflow there
 * turns into a rescan, so memory stays flat however many files arrive.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "inbox.h"
#include "job.h"
#include "log.h"
#include "loop.h"
#include "msgid.h"
#include "notify.h"
#include "outbox.h"
#include "pool.h"
#include "registry.h"
#include "ring.h"
#include "throttle.h"
#include "util.h"

/* Jobs out or deferred at most; both rings hold this many. */
#define LOOP_JOBS_MAX 4096
/* Scan entries taken per turn, so signals and results are not starved. */
#define LOOP_SCAN_BATCH 256
#define LOOP_STATUS_INTERVAL_MS 1000
#define LOOP_STATUS_MAX 256

/* A timer's time once it has fired: whatever it was, arm it again. */
#define LOOP_ARMED_UNKNOWN INT64_MIN
/* How often to look for an inbox that nothing can watch for. */
#define LOOP_WATCH_RETRY_MS 5000

enum loop_source {
	LOOP_INBOX,
	LOOP_SIGNAL,
	LOOP_RESULTS,
	LOOP_TIMER,
	LOOP_TICK,
	LOOP_WATCHDOG,
};

struct loop {
	const char *config_path;
	struct settings *settings;	/* current snapshot, one reference */
	bool is_once;

	int epfd;
	int sigfd;
	int wakefd;			/* eventfd the workers write */
	int timerfd;			/* next retry or end of a pause */
	int tickfd;			/* status rate limit, drain */
	int64_t timer_at_ms;		/* timerfd's time, see loop_arm() */
	int64_t tick_at_ms;		/* tickfd's */
	int watchdogfd;			/* periodic, when systemd asks */
	struct inbox *inbox;
	struct ring *jobs;
	struct ring *results;
	struct throttle *throttle;
	struct pool *pool;
	struct registry *reg;

	bool is_inbox_polled;		/* inotify fd in the epoll set */
	bool is_stopping;
	int64_t stop_deadline_ms;
	bool is_paused;
	char pause_reason[256];
	bool has_failures;		/* --once: some file failed */
	bool has_setup_fault;		/* --once: the run must end */

	uint64_t n_done;
	uint64_t n_failed;
	uint64_t tokens_today;
	int today;			/* day of the year of tokens_today */
	char status[LOOP_STATUS_MAX];	/* last sent */
	int64_t status_sent_ms;
	uint64_t watchdog_usec;
	int64_t watched_since_ns;	/* see loop_mark_watched() */
	int64_t watch_retry_ms;		/* see loop_retry_watch(), or -1 */
};

/* How many jobs may be out with the workers at once. */
static size_t
loop_out_max(const struct loop *l)
{
	size_t n = (size_t)l->settings->workers * 4;

	return n < 64 ? 64 : n > LOOP_JOBS_MAX ? LOOP_JOBS_MAX : n;
}

static bool
loop_has_room(const struct loop *l)
{
	size_t out = registry_count(l->reg, REGISTRY_OUT);

	if (l->is_stopping || l->has_setup_fault || l->is_paused)
		return false;
	return out < loop_out_max(l) &&
	    out + registry_count(l->reg, REGISTRY_DEFERRED) < LOOP_JOBS_MAX;
}

/*
 * Whether a deferred job that fell due may go out.  Taking one moves it
 * from deferred to out, leaving their sum alone, so only the bound on jobs
 * out applies: with the sum's bound, a full set of deferred jobs could
 * never leave.
 */
static bool
loop_has_room_for_due(const struct loop *l)
{
	if (l->is_stopping || l->has_setup_fault || l->is_paused)
		return false;
	return registry_count(l->reg, REGISTRY_OUT) < loop_out_max(l);
}

/*
 * Arms the one-shot timer fd for the monotonic time at_ms (-1: disarms
 * it).  *armed_ms remembers what it was armed for, so that the loop, which
 * asks again at every turn, makes the system call only when the time
 * changes; it must be set to LOOP_ARMED_UNKNOWN whenever the timer fires.
 */
static void
loop_arm(int fd, int64_t *armed_ms, int64_t at_ms)
{
	struct itimerspec its = { 0 };

	if (at_ms == *armed_ms)
		return;
	if (at_ms >= 0) {
		/* 0 would disarm the timer: a time in the past means now. */
		its.it_value.tv_sec = at_ms / 1000;
		its.it_value.tv_nsec = (at_ms % 1000) * 1000000 + 1;
	}
	(void)timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
	*armed_ms = at_ms;
}

static void
loop_poll_inbox(struct loop *l, bool is_wanted)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = LOOP_INBOX };

	if (is_wanted == l->is_inbox_polled)
		return;
	(void)epoll_ctl(l->epfd, is_wanted ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
	    inbox_fd(l->inbox), &ev);
	l->is_inbox_polled = is_wanted;
}

/*
 * Hands a registered job to the workers with the current settings.
 *
 * XXX A job takes the settings when it is queued, not when a worker starts
 * it: after a reload, the jobs already queued (up to loop_out_max()) are
 * still done with the old provider, prompt and inbox.
 */
static void
loop_push(struct loop *l, struct job *job)
{
	settings_unref(job->settings);
	job->settings = settings_ref(l->settings);
	job->watched_since_ns = l->watched_since_ns;
	if (job->first_try_ms == 0)
		job->first_try_ms = util_now_ms();
	if (pool_submit(l->pool, job) < 0) {
		/* Cannot happen while out_max <= capacity; retry soon rather
		 * than lose the job. */
		job->retry_at_ms = util_now_ms() + 100;
		registry_set_state(l->reg, job, REGISTRY_DEFERRED);
	}
}

/* lstat() of the job's input, as it is named in the current inbox. */
static int
loop_lstat(const struct loop *l, const struct job *job, struct stat *st)
{
	char path[4096];

	if (util_join_path(path, sizeof(path), l->settings->inbox, job->name,
	    NULL) < 0 || lstat(path, st) < 0)
		return -1;
	return 0;
}

/* Whether a held file differs from what was seen when it was held. */
static bool
loop_held_file_changed(struct loop *l, struct job *job)
{
	struct stat st;

	return loop_lstat(l, job, &st) == 0 && !job_is_same_file(job, &st);
}

/*
 * News of a file that is already known.  One that is out with a
 * worker is marked, since the worker may have read it before the change;
 * one that waits for its writer to finish is due at once.
 */
static void
loop_reoffer(struct loop *l, struct job *job, enum job_origin origin)
{
	switch (job->state) {
	case REGISTRY_OUT:
		job->is_dirty = true;
		break;
	case REGISTRY_DEFERRED:
		if (job->outcome != JOB_UNSETTLED)
			break;
		job->origin = JOB_FROM_EVENT;
		job->retry_at_ms = 0;
		break;
	case REGISTRY_HELD:
		if (!loop_held_file_changed(l, job))
			break;
		job->attempt = 0;
		job->first_try_ms = 0;
		job->origin = origin;
		registry_set_state(l->reg, job, REGISTRY_OUT);
		loop_push(l, job);
		break;
	}
}

/* A name appeared in the inbox: queue it unless it is known already. */
static void
loop_offer(struct loop *l, const char *name, enum job_origin origin)
{
	struct job *job;

	if (settings_is_ignored(l->settings, name))
		return;
	job = registry_find(l->reg, name);
	if (job) {
		/* A scan says nothing new about a file in progress, but may be
		 * the only news of a held file's change after lost events. */
		if (origin != JOB_FROM_SCAN || job->state == REGISTRY_HELD)
			loop_reoffer(l, job, origin);
		return;
	}
	job = job_new(name);
	if (!job) {
		log_msg(LOG_ERR, "Failed to queue a file: out of memory");
		return;
	}
	job->origin = origin;
	(void)registry_add(l->reg, job, REGISTRY_OUT);
	loop_push(l, job);
}

/*
 * Notes, before a scan, from when on a writer's close (or a rename into the
 * inbox) is sure to raise an event: a scanned file written since then need
 * not be guessed about, its event will come.  Events lost to an overflow
 * lead here again, which moves the mark past them.  The kernel stamps files
 * from a clock that may lag this one but never leads it, so a file time at
 * or after the mark is a write after the watch; one made just after may
 * look older, which only means it is judged as before.  Without a watch
 * (--once, or the inbox missing) no event is sure and the mark is never
 * reached.
 */
static void
loop_mark_watched(struct loop *l)
{
	struct timespec now;

	l->watched_since_ns = INT64_MAX;
	if (l->is_once || !inbox_is_watched(l->inbox) ||
	    clock_gettime(CLOCK_REALTIME, &now) < 0)
		return;
	l->watched_since_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/*
 * A name left the inbox: a file held so as not to be tried again is
 * forgotten, or every such file deleted later would stay in memory.  A
 * job out with a worker or deferred finds the file gone by itself.
 */
static void
loop_forget(struct loop *l, const char *name)
{
	struct job *job = registry_find(l->reg, name);
	char esc[LOG_NAME_MAX];

	if (job && job->state == REGISTRY_HELD) {
		log_msg(LOG_DEBUG, "Forgetting '%s', which left the inbox",
		    log_escape(name, esc, sizeof(esc)));
		registry_remove(l->reg, job);
		job_free(job);
	}
}

static void
loop_rescan(struct loop *l)
{
	char ebuf[128];
	int r;

	loop_mark_watched(l);
	r = inbox_scan_begin(l->inbox);
	if (r < 0)
		log_msg(LOG_ERR, "Failed to read the inbox %s: %s",
		    l->settings->inbox, util_strerror(r, ebuf, sizeof(ebuf)));
}

static void
loop_inbox_event(struct loop *l, enum inbox_event ev, const char *name)
{
	switch (ev) {
	case INBOX_FILE:
		loop_offer(l, name, JOB_FROM_EVENT);
		break;
	case INBOX_GONE:
		loop_forget(l, name);
		break;
	case INBOX_RESCAN:
		log_msg(LOG_NOTICE,
		    "Missed inbox events (queue overflow), scanning the inbox again");
		loop_rescan(l);
		break;
	case INBOX_LOST:
		log_lifecycle(LOG_ERR, MSGID_INBOX_LOST,
		    "Inbox %s was removed or moved away, waiting for it to come back",
		    l->settings->inbox);
		break;
	case INBOX_BACK:
		log_lifecycle(LOG_NOTICE, MSGID_INBOX_BACK,
		    "Inbox %s is back, scanning it", l->settings->inbox);
		loop_rescan(l);
		break;
	case INBOX_NONE:
		break;
	}
}

/*
 * When nothing watches for the inbox (see inbox_is_blind()), tries to
 * watch it again every LOOP_WATCH_RETRY_MS, since no event will say that
 * it is back.  Otherwise costs nothing: a healthy daemon never wakes for
 * it.
 */
static void
loop_retry_watch(struct loop *l)
{
	int64_t now_ms = util_now_ms();
	bool is_newly_blind = l->watch_retry_ms < 0;

	if (l->is_once || !inbox_is_blind(l->inbox)) {
		l->watch_retry_ms = -1;
		return;
	}
	if (!is_newly_blind && now_ms < l->watch_retry_ms)
		return;
	l->watch_retry_ms = now_ms + LOOP_WATCH_RETRY_MS;
	/* Blind since just now: the first look is one interval away. */
	if (is_newly_blind)
		return;
	if (inbox_watch(l->inbox, l->settings->inbox) == 0) {
		l->watch_retry_ms = -1;
		loop_inbox_event(l, INBOX_BACK, NULL);
	}
}

/*
 * Queues work while there is room: due retries first, then inotify
 * events, then a batch of the running scan.  Returns true when a scan
 * still has entries and there is room for them, so the caller should not
 * sleep.
 */
static bool
loop_feed(struct loop *l)
{
	const char *name;
	struct job *job;
	int i;

	while (loop_has_room_for_due(l) &&
	    (job = registry_take_due(l->reg, util_now_ms())))
		loop_push(l, job);
	while (loop_has_room(l) && !l->is_once) {
		enum inbox_event ev = inbox_next_event(l->inbox, &name);

		if (ev == INBOX_NONE)
			break;
		loop_inbox_event(l, ev, name);
	}
	for (i = 0; i < LOOP_SCAN_BATCH && loop_has_room(l); i++)
		if (inbox_scan_next(l->inbox, &name) <= 0)
			break;
		else
			loop_offer(l, name, JOB_FROM_SCAN);
	loop_poll_inbox(l, !l->is_once && loop_has_room(l));
	return loop_has_room(l) && inbox_is_scanning(l->inbox);
}

/* Keeps the job so that the same unchanged file is not tried again. */
static void
loop_hold(struct loop *l, struct job *job)
{
	struct stat st;

	if (loop_lstat(l, job, &st) < 0) {
		registry_remove(l->reg, job);
		job_free(job);
		return;
	}
	job_note_file(job, &st);
	registry_set_state(l->reg, job, REGISTRY_HELD);
}

static void
loop_count_tokens(struct loop *l, int64_t tokens)
{
	time_t now = time(NULL);
	struct tm tm;

	(void)localtime_r(&now, &tm);
	if (tm.tm_yday != l->today) {
		l->today = tm.tm_yday;
		l->tokens_today = 0;
	}
	l->tokens_today += (uint64_t)tokens;
}

static void
loop_pause(struct loop *l, struct job *job)
{
	int64_t until_ms;

	if (l->is_once) {
		log_lifecycle(LOG_ERR, MSGID_PAUSED,
		    "Stopping the batch: %s; unfinished files stay in the inbox",
		    job->reason);
		l->has_setup_fault = true;
		return;
	}
	if (l->is_paused || !throttle_is_paused(l->throttle, util_now_ms(),
	    &until_ms))
		return;
	l->is_paused = true;
	(void)snprintf(l->pause_reason, sizeof(l->pause_reason), "%s",
	    job->reason);
	log_lifecycle(LOG_ERR, MSGID_PAUSED,
	    "Paused: %s; no requests for %.1f s or until a reload",
	    job->reason, (until_ms - util_now_ms()) / 1000.0);
}

/* Acts on what a worker reports about one job. */
static void
loop_settle(struct loop *l, struct job *job)
{
	char esc[LOG_NAME_MAX];

	loop_count_tokens(l, job->tokens);
	if (job->outcome == JOB_DONE)
		l->n_done++;
	if (job->is_dirty && !l->is_stopping && !l->has_setup_fault) {
		/* Changed while out: whatever was made came from the old
		 * text, so make it again from the new one. */
		job->is_dirty = false;
		job->origin = JOB_FROM_CHANGE;
		job->attempt = 0;
		job->first_try_ms = 0;
		loop_push(l, job);
		return;
	}
	switch (job->outcome) {
	case JOB_DONE:
	case JOB_UP_TO_DATE:
	case JOB_VANISHED:
		registry_remove(l->reg, job);
		job_free(job);
		break;
	case JOB_FAILED:
		l->n_failed++;
		l->has_failures = true;
		loop_hold(l, job);
		break;
	case JOB_SKIPPED:
		log_msg(LOG_NOTICE, "Skipping '%s': %s",
		    log_escape(job->name, esc, sizeof(esc)), job->reason);
		loop_hold(l, job);
		break;
	case JOB_PAUSED:
		if (job->reason[0] && job->settings != l->settings) {
			/* A refusal of a request made before the last reload,
			 * which may have mended its cause: no pause.  If it did
			 * not, the retry with the new settings pauses again.
			 * XXX If a refusal under the new settings paused the
			 * throttle but is not taken in yet, this lifts that
			 * pause too, until the next refusal. */
			if (!l->is_paused)
				throttle_resume(l->throttle);
		} else if (job->reason[0]) {
			loop_pause(l, job);
		}
		/* fall through */
	case JOB_RETRY:
	case JOB_UNSETTLED:
		if (l->is_stopping || l->has_setup_fault) {
			registry_remove(l->reg, job);
			job_free(job);
			break;
		}
		/* Handed out before the last reload, which made every
		 * deferred job due: its result may come back after that, and
		 * it is due too. */
		if (job->settings != l->settings)
			job->retry_at_ms = 0;
		registry_set_state(l->reg, job, REGISTRY_DEFERRED);
		break;
	}
}

static void
loop_drain_results(struct loop *l)
{
	uint64_t count;
	void *item;

	/* Reset the eventfd before reading the ring: a push that lands in
	 * between and needs the main thread writes it again, so none is
	 * missed.  Others may wait for the next wake-up (pool.c). */
	(void)!read(l->wakefd, &count, sizeof(count));
	while (ring_pop(l->results, &item) == 0)
		loop_settle(l, item);
	pool_reap(l->pool);
}

static void
loop_format_tokens(uint64_t n, char *buf, size_t size)
{
	if (n >= 1000000)
		(void)snprintf(buf, size, "%.1fM", n / 1e6);
	else if (n >= 1000)
		(void)snprintf(buf, size, "%.1fk", n / 1e3);
	else
		(void)snprintf(buf, size, "%llu", (unsigned long long)n);
}

static void
loop_format_status(const struct loop *l, char *buf, size_t size)
{
	size_t out = registry_count(l->reg, REGISTRY_OUT);
	unsigned running = pool_in_flight(l->pool);
	char tokens[32];
	int n = 0;

	if (l->is_paused)
		n = snprintf(buf, size, "paused: %s; ", l->pause_reason);
	else if (l->is_stopping)
		n = snprintf(buf, size, "stopping: ");
	if (n < 0 || (size_t)n >= size)
		return;
	loop_format_tokens(l->tokens_today, tokens, sizeof(tokens));
	(void)snprintf(buf + n, size - (size_t)n, "%zu queued, %u in flight, "
	    "%llu done, %llu failed, %zu deferred; %s tokens today",
	    out > running ? out - running : 0, running,
	    (unsigned long long)l->n_done, (unsigned long long)l->n_failed,
	    registry_count(l->reg, REGISTRY_DEFERRED), tokens);
}

/*
 * Sends STATUS= when it changed, at most once a second; a change that
 * comes sooner arms the tick timer for the rest of the second.
 */
static void
loop_update_status(struct loop *l)
{
	char status[LOOP_STATUS_MAX];
	int64_t now_ms = util_now_ms();

	loop_format_status(l, status, sizeof(status));
	if (strcmp(status, l->status) == 0)
		return;
	if (now_ms - l->status_sent_ms < LOOP_STATUS_INTERVAL_MS) {
		loop_arm(l->tickfd, &l->tick_at_ms,
		    l->status_sent_ms + LOOP_STATUS_INTERVAL_MS);
		return;
	}
	notify_status(status);
	memcpy(l->status, status, sizeof(status));
	l->status_sent_ms = now_ms;
}

/* Keep-alives now, then every half of systemd's watchdog interval. */
static void
loop_arm_watchdog(struct loop *l)
{
	int64_t interval_ns = (int64_t)l->watchdog_usec / 2 * 1000;
	struct itimerspec its = {
		.it_interval.tv_sec = interval_ns / 1000000000,
		.it_interval.tv_nsec = interval_ns % 1000000000,
	};

	its.it_value.tv_nsec = 1;	/* 0 would disarm it */
	(void)timerfd_settime(l->watchdogfd, 0, &its, NULL);
}

/* Arms the retry timer for the next due retry or the end of a pause. */
static void
loop_arm_timer(struct loop *l)
{
	int64_t next_ms = registry_next_due_ms(l->reg), until_ms;

	/* A retry that is due but has no room to go out would fire the timer
	 * again at once, and the loop would spin; the next result frees room
	 * and wakes the loop through the eventfd instead. */
	if (next_ms >= 0 && next_ms <= util_now_ms() &&
	    !loop_has_room_for_due(l))
		next_ms = -1;
	if (l->is_paused && throttle_is_paused(l->throttle, util_now_ms(),
	    &until_ms) && (next_ms < 0 || until_ms > next_ms))
		next_ms = until_ms;
	if (l->watch_retry_ms >= 0 && (next_ms < 0 ||
	    l->watch_retry_ms < next_ms))
		next_ms = l->watch_retry_ms;
	loop_arm(l->timerfd, &l->timer_at_ms, next_ms);
}

static void
loop_check_pause(struct loop *l)
{
	if (!l->is_paused || throttle_is_paused(l->throttle, util_now_ms(),
	    NULL))
		return;
	l->is_paused = false;
	log_lifecycle(LOG_NOTICE, MSGID_RESUMED, "Resuming after the pause");
}

static void
loop_report_problem(const char *problem, void *userdata)
{
	(void)userdata;
	log_msg(LOG_ERR, "%s", problem);
}

/* Applies a new snapshot: watch, pool, limits, and retry what waited. */
static void
loop_apply(struct loop *l, struct settings *s)
{
	struct settings *old = l->settings;
	char ebuf[128];
	int r;

	l->settings = s;
	if (strcmp(old->inbox, s->inbox) != 0 ||
	    !inbox_is_watched(l->inbox)) {
		r = inbox_watch(l->inbox, s->inbox);
		if (r < 0)
			log_lifecycle(LOG_ERR, MSGID_INBOX_LOST,
			    "Failed to watch the inbox %s: %s; waiting for it",
			    s->inbox, util_strerror(r, ebuf, sizeof(ebuf)));
	}
	if (s->workers != old->workers) {
		r = pool_resize(l->pool, (unsigned)s->workers);
		if (r < 0)
			log_msg(LOG_ERR, "Failed to start workers: %s",
			    util_strerror(r, ebuf, sizeof(ebuf)));
	}
	throttle_set_limits(l->throttle, s->requests_per_minute,
	    s->tokens_per_minute);
	throttle_resume(l->throttle);
	l->is_paused = false;
	registry_make_due(l->reg);
	loop_rescan(l);
	settings_unref(old);
}

/* SIGHUP: read the file again; keep the old settings if it is bad. */
static void
loop_reload(struct loop *l)
{
	struct settings *s;
	int r;

	notify_reloading();
	r = settings_load(l->config_path, loop_report_problem, NULL, &s);
	if (r < 0) {
		log_lifecycle(LOG_ERR, MSGID_RELOAD_FAILED,
		    "Failed to reload %s, keeping the settings in use",
		    l->config_path);
	} else {
		if (s->provider == SETTINGS_PROVIDER_OPENAI && !s->api_key)
			log_msg(LOG_WARNING, "No API key: %s", s->api_key_source);
		loop_apply(l, s);
		log_lifecycle(LOG_NOTICE, MSGID_RELOADED,
		    "Reloaded settings from %s", l->config_path);
	}
	notify_ready();
}

/* While draining, wake each second and at the deadline itself. */
static void
loop_arm_stop_tick(struct loop *l)
{
	int64_t at_ms = util_now_ms() + LOOP_STATUS_INTERVAL_MS;

	loop_arm(l->tickfd, &l->tick_at_ms, at_ms < l->stop_deadline_ms ?
	    at_ms : l->stop_deadline_ms);
}

/* SIGTERM or SIGINT: take no new jobs, let requests in flight finish. */
static void
loop_stop(struct loop *l, int signo)
{
	int64_t timeout_ms = l->settings->shutdown_timeout_ms;

	if (l->is_stopping)
		return;
	l->is_stopping = true;
	l->stop_deadline_ms = util_now_ms() + timeout_ms;
	notify_stopping();
	log_lifecycle(LOG_NOTICE, MSGID_STOPPING,
	    "Stopping on %s: waiting up to %.1f s for %u requests in flight",
	    strsignal(signo), timeout_ms / 1000.0, pool_in_flight(l->pool));
	pool_stop(l->pool);
	loop_poll_inbox(l, false);
	/* Ask systemd for the drain time plus a margin for the exit. */
	notify_extend_timeout((uint64_t)(timeout_ms + 5000) * 1000);
	loop_arm_stop_tick(l);
}

static void
loop_signal(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP && !l->is_stopping)
			loop_reload(l);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			loop_stop(l, (int)si.ssi_signo);
	}
}

static int
loop_add_fd(struct loop *l, int fd, enum loop_source source)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = source };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int
loop_open_fds(struct loop *l)
{
	sigset_t mask;

	/* Signals arrive only through the signalfd; blocking them before the
	 * workers start makes every thread inherit the mask. */
	(void)sigemptyset(&mask);
	(void)sigaddset(&mask, SIGHUP);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	l->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC);
	l->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC);
	l->watchdogfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC);
	if (l->sigfd < 0 || l->epfd < 0 || l->wakefd < 0 || l->timerfd < 0 ||
	    l->tickfd < 0 || l->watchdogfd < 0)
		return -errno;
	if (loop_add_fd(l, l->sigfd, LOOP_SIGNAL) < 0 ||
	    loop_add_fd(l, l->wakefd, LOOP_RESULTS) < 0 ||
	    loop_add_fd(l, l->timerfd, LOOP_TIMER) < 0 ||
	    loop_add_fd(l, l->tickfd, LOOP_TICK) < 0 ||
	    loop_add_fd(l, l->watchdogfd, LOOP_WATCHDOG) < 0)
		return -errno;
	return 0;
}

static int
loop_open_parts(struct loop *l)
{
	int r;

	r = ring_new(LOOP_JOBS_MAX, &l->jobs);
	if (r == 0)
		r = ring_new(LOOP_JOBS_MAX, &l->results);
	if (r == 0)
		r = throttle_new(&l->throttle);
	if (r == 0)
		r = registry_new(&l->reg);
	if (r == 0)
		r = inbox_new(&l->inbox);
	if (r == 0)
		r = pool_new(l->jobs, l->results, l->wakefd, l->throttle,
		    &l->pool);
	if (r < 0)
		return r;
	throttle_set_limits(l->throttle, l->settings->requests_per_minute,
	    l->settings->tokens_per_minute);
	return 0;
}

/*
 * Sets libcurl up and starts the workers.  This comes after READY=1: by
 * then the inbox is watched and its files are queued, so a file dropped
 * now is not missed, and the service's start does not wait the few ms
 * that OpenSSL's set-up and the threads take.
 */
static int
loop_start_workers(struct loop *l)
{
	char ebuf[128];
	int r;

	r = api_init();
	if (r == 0)
		r = pool_resize(l->pool, (unsigned)l->settings->workers);
	if (r < 0)
		log_msg(LOG_ERR, "Failed to start the workers: %s",
		    util_strerror(r, ebuf, sizeof(ebuf)));
	return r;
}

/*
 * The parts that workers stuck in a request past the shutdown deadline
 * still use when the process exits.  Holding them here keeps them
 * reachable, so a leak checker reports only what is really lost.  Nothing
 * reads it, so without "used" the compiler drops the variable and the
 * store to it.
 */
static struct loop loop_left_to_workers __attribute__((used));

static void
loop_close(struct loop *l, bool is_joined)
{
	int fds[] = { l->sigfd, l->epfd, l->wakefd, l->timerfd, l->tickfd,
	    l->watchdogfd };
	size_t i;

	/* Workers still inside a request own their jobs and the shared
	 * parts: without a join, leave them for the process exit. */
	if (is_joined) {
		pool_free(l->pool);
		registry_free(l->reg);
		throttle_free(l->throttle);
		ring_free(l->jobs);
		ring_free(l->results);
	} else {
		loop_left_to_workers = *l;
	}
	inbox_free(l->inbox);
	for (i = 0; i < UTIL_ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			(void)close(fds[i]);
}

/* Removes temporaries a crash left, watches the inbox, starts the scan. */
static int
loop_start(struct loop *l)
{
	const struct settings *s = l->settings;
	char ebuf[128];
	int r;

	r = outbox_remove_stale(s->outbox);
	if (r > 0)
		log_msg(LOG_NOTICE, "Removed %d unfinished summaries left in %s",
		    r, s->outbox);
	if (s->failed_dir[0])
		(void)outbox_remove_stale(s->failed_dir);
	/* --once needs no watch, but the watch also names the directory
	 * that the scan reads. */
	r = inbox_watch(l->inbox, s->inbox);
	if (r < 0 && !l->is_once)
		log_lifecycle(LOG_ERR, MSGID_INBOX_LOST,
		    "Failed to watch the inbox %s: %s; waiting for it",
		    s->inbox, util_strerror(r, ebuf, sizeof(ebuf)));
	loop_mark_watched(l);
	r = inbox_scan_begin(l->inbox);
	if (r < 0 && l->is_once)
		goto fail;
	l->watchdog_usec = notify_watchdog_usec();
	if (l->watchdog_usec)
		loop_arm_watchdog(l);
	if (s->provider == SETTINGS_PROVIDER_OPENAI && !s->api_key)
		log_msg(LOG_WARNING, "No API key: %s", s->api_key_source);
	return 0;
fail:
	log_msg(LOG_ERR, "Failed to read the inbox %s: %s", s->inbox,
	    util_strerror(r, ebuf, sizeof(ebuf)));
	return r;
}

/* Whether the loop's work is over: a stop drained, or a batch finished. */
static bool
loop_is_finished(struct loop *l)
{
	size_t out = registry_count(l->reg, REGISTRY_OUT);

	if (l->is_stopping)
		return pool_in_flight(l->pool) == 0 ||
		    util_now_ms() >= l->stop_deadline_ms;
	if (!l->is_once)
		return false;
	if (l->has_setup_fault)
		return pool_in_flight(l->pool) == 0;
	return out == 0 && registry_count(l->reg, REGISTRY_DEFERRED) == 0 &&
	    !inbox_is_scanning(l->inbox);
}

static void
loop_dispatch(struct loop *l, enum loop_source source)
{
	uint64_t expirations;

	switch (source) {
	case LOOP_INBOX:
		break;		/* loop_feed() reads the events */
	case LOOP_SIGNAL:
		loop_signal(l);
		break;
	case LOOP_RESULTS:
		loop_drain_results(l);
		break;
	case LOOP_TIMER:
	case LOOP_TICK:
		(void)!read(source == LOOP_TIMER ? l->timerfd : l->tickfd,
		    &expirations, sizeof(expirations));
		*(source == LOOP_TIMER ? &l->timer_at_ms : &l->tick_at_ms) =
		    LOOP_ARMED_UNKNOWN;
		if (source == LOOP_TICK && l->is_stopping)
			loop_arm_stop_tick(l);
		break;
	case LOOP_WATCHDOG:
		(void)!read(l->watchdogfd, &expirations, sizeof(expirations));
		notify_watchdog();
		break;
	}
}

/*
 * Runs until a stop drains or, with is_once, until the inbox as it was at
 * start is done.  The loop body stays whole so that the order of each
 * turn (act on events, queue work, report, sleep) reads in one place.
 */
static void
loop_turn_until_finished(struct loop *l)
{
	struct epoll_event events[8];
	bool is_busy;
	int i, n;

	for (;;) {
		loop_check_pause(l);
		loop_retry_watch(l);
		is_busy = loop_feed(l);
		loop_arm_timer(l);
		loop_update_status(l);
		if (loop_is_finished(l))
			break;
		n = epoll_wait(l->epfd, events, UTIL_ARRAY_SIZE(events),
		    is_busy ? 0 : -1);
		for (i = 0; i < n; i++)
			loop_dispatch(l, events[i].data.u32);
	}
}

/*
 * Runs gistd on the settings s (the loop takes over the caller's
 * reference) until a stop or, with is_once, until the inbox is drained.
 * Returns the process exit status: 0, or 1 for a runtime failure or, with
 * is_once, a file that failed or a fault of the setup.
 */
int
loop_run(const char *config_path, struct settings *s, bool is_once)
{
	struct loop l = {
		.config_path = config_path, .settings = s, .is_once = is_once,
		.sigfd = -1, .epfd = -1, .wakefd = -1, .timerfd = -1,
		.tickfd = -1, .watchdogfd = -1, .today = -1,
		.timer_at_ms = LOOP_ARMED_UNKNOWN,
		.tick_at_ms = LOOP_ARMED_UNKNOWN,
		.watched_since_ns = INT64_MAX, .watch_retry_ms = -1,
	};
	bool is_joined = true, is_running = false;
	char ebuf[128];
	int r;

	r = loop_open_fds(&l);
	if (r == 0)
		r = loop_open_parts(&l);
	if (r < 0) {
		log_msg(LOG_ERR, "Failed to start: %s",
		    util_strerror(r, ebuf, sizeof(ebuf)));
		goto out;
	}
	r = loop_start(&l);
	if (r == 0) {
		notify_ready();
		r = loop_start_workers(&l);
		is_running = r == 0;
	}
	if (is_running) {
		log_lifecycle(LOG_NOTICE, MSGID_STARTED,
		    "Started: %s %s with %lld workers, summaries to %s",
		    is_once ? "draining" : "watching", l.settings->inbox,
		    (long long)l.settings->workers, l.settings->outbox);
		loop_turn_until_finished(&l);
	}
	pool_stop(l.pool);
	is_joined = pool_join(l.pool, util_now_ms() + 1000) == 0;
	if (is_joined)
		loop_drain_results(&l);
	if (r == 0 && is_once && (l.has_failures || l.has_setup_fault))
		r = -EIO;
	if (is_running)
		log_lifecycle(LOG_NOTICE, MSGID_STOPPED,
		    "Stopped: %llu files summarized, %llu failed",
		    (unsigned long long)l.n_done,
		    (unsigned long long)l.n_failed);
out:
	loop_close(&l, is_joined);
	settings_unref(l.settings);
	return r < 0 ? 1 : 0;
}
