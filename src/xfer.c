// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * The transfer thread.  Every request in flight is an easy handle in one
 * curl multi handle, driven by curl_multi_socket_action(): curl says which
 * sockets it wants watched and when it next needs a call (the socket and
 * timer functions below), the thread waits for those in epoll, and only
 * the transfers whose sockets moved do any work.  So a request in flight
 * costs an easy handle and a connection, not a thread and its stack, and
 * a turn of the loop costs the same at 500 requests as at 20.
 *
 * Design.  Submitted requests wait, in the order they came, for the
 * throttle: the first one asks it, and while it must wait the thread
 * sleeps in epoll for no longer than the throttle said, so a 429 hold or
 * a rate limit is a timer, not a blocked thread.  The throttle wakes the
 * thread (through the same eventfd as a submit) when a wait may have
 * become shorter, or a pause or a stop began; then the waiting requests
 * leave unsent.  A request that finishes is classified here
 * (api_client_end()), so that its client can take the next request at
 * once, and handed to the done function.
 *
 * Threads.  xfer_run() is the transfer thread's body; the multi handle,
 * the epoll set and the waiting list are its alone.  xfer_submit(),
 * xfer_set_connections() and xfer_stop() may be called from any thread:
 * they leave word under the lock and write the eventfd.  With nothing in
 * flight and nothing waiting, the thread sleeps without a timeout.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api.h"
#include "throttle.h"
#include "util.h"
#include "xfer.h"

/* Socket events taken per epoll_wait(). */
#define XFER_EVENTS 64

struct xfer {
	struct throttle *throttle;	/* fixed */
	void (*done)(struct xfer_request *, void *);	/* fixed */
	void *done_arg;			/* fixed */
	int wakefd;			/* fixed: eventfd, written by anyone */

	pthread_mutex_t lock;
	struct xfer_request *incoming;	/* guarded by lock: submitted */
	struct xfer_request **incoming_tail;	/* guarded by lock */
	unsigned connections;		/* guarded by lock: wanted */
	bool is_stopping;		/* guarded by lock */
	bool has_exited;		/* guarded by lock: xfer_run() is over */

	/* the transfer thread's */
	CURLM *multi;
	int epfd;
	struct xfer_request *waiting;	/* for the throttle, in order */
	struct xfer_request **waiting_tail;
	unsigned running;		/* easy handles in the multi handle */
	unsigned connections_set;	/* last given to the multi handle */
	int64_t curl_at_ms;		/* curl's timeout falls due; -1: none */
};

/* Wakes the transfer thread; any thread, the throttle's waker too. */
static void
xfer_wake(void *arg)
{
	struct xfer *x = arg;
	uint64_t one = 1;

	(void)!write(x->wakefd, &one, sizeof(one));
}

/* curl's socket function: watch fd for what the transfer waits for. */
static int
xfer_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct xfer *x = userp;
	struct epoll_event ev;
	int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		/* The socket may be closed already; then the kernel dropped
		 * it from the set by itself. */
		(void)epoll_ctl(x->epfd, EPOLL_CTL_DEL, fd, NULL);
		(void)curl_multi_assign(x->multi, fd, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) |
	    (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	ev.data.fd = fd;
	if (epoll_ctl(x->epfd, op, fd, &ev) < 0) {
		/* A number that curl closed and reused behind the set's back:
		 * the other operation fits. */
		op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
		if (epoll_ctl(x->epfd, op, fd, &ev) < 0)
			return -1;
	}
	/* Any pointer but NULL marks the socket as in the set. */
	(void)curl_multi_assign(x->multi, fd, x);
	return 0;
}

/* curl's timer function: call back in timeout_ms, or never (-1). */
static int
xfer_on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct xfer *x = userp;

	(void)multi;
	x->curl_at_ms = timeout_ms < 0 ? -1 : util_now_ms() + timeout_ms;
	return 0;
}

/*
 * Creates the transfer machinery, with no connections allowed until
 * xfer_set_connections().  done is called on the transfer thread with
 * each request that is over, sent or not; from then on the request is
 * the caller's again.  Returns 0, -ENOMEM or another negative errno.
 */
int
xfer_new(struct throttle *t, void (*done)(struct xfer_request *, void *),
    void *done_arg, struct xfer **ret_xfer)
{
	struct epoll_event ev;
	struct xfer *x;
	int r = -ENOMEM;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->throttle = t;
	x->done = done;
	x->done_arg = done_arg;
	x->incoming_tail = &x->incoming;
	x->waiting_tail = &x->waiting;
	x->curl_at_ms = -1;
	x->epfd = -1;
	x->wakefd = -1;
	(void)pthread_mutex_init(&x->lock, NULL);
	x->multi = curl_multi_init();
	if (!x->multi)
		goto fail;
	/* One request per connection, as a thread per request had it: a
	 * provider counts and limits connections, and HTTP/2 streams on one
	 * connection would make `workers` mean something else. */
	if (curl_multi_setopt(x->multi, CURLMOPT_PIPELINING, 0L) ||
	    curl_multi_setopt(x->multi, CURLMOPT_SOCKETFUNCTION,
	    xfer_on_socket) ||
	    curl_multi_setopt(x->multi, CURLMOPT_SOCKETDATA, x) ||
	    curl_multi_setopt(x->multi, CURLMOPT_TIMERFUNCTION,
	    xfer_on_timer) ||
	    curl_multi_setopt(x->multi, CURLMOPT_TIMERDATA, x))
		goto fail;
	x->epfd = epoll_create1(EPOLL_CLOEXEC);
	x->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->epfd < 0 || x->wakefd < 0) {
		r = -errno;
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = x->wakefd;
	if (epoll_ctl(x->epfd, EPOLL_CTL_ADD, x->wakefd, &ev) < 0) {
		r = -errno;
		goto fail;
	}
	throttle_set_waker(t, xfer_wake, x);
	*ret_xfer = x;
	return 0;

fail:
	xfer_free(x);
	return r;
}

/*
 * Frees x once xfer_run() has returned, or was never called.  NULL is
 * fine.  The connections in the cache are closed.
 */
void
xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->wakefd >= 0)
		throttle_set_waker(x->throttle, NULL, NULL);
	if (x->multi)
		(void)curl_multi_cleanup(x->multi);
	if (x->epfd >= 0)
		(void)close(x->epfd);
	if (x->wakefd >= 0)
		(void)close(x->wakefd);
	(void)pthread_mutex_destroy(&x->lock);
	free(x);
}

/* Gives a request back to its submitter, its client ready for another. */
static void
xfer_hand_back(struct xfer *x, struct xfer_request *req, int status)
{
	if (status < 0)
		api_client_cancel(req->client);
	req->status = status;
	x->done(req, x->done_arg);
}

/*
 * Hands req over: it waits for the throttle, goes out, and comes back
 * through the done function with req->status 0 and its outcome in
 * req->result (a request that could not be made is a transient fault
 * there); or, never sent, with -EAGAIN (the pool is paused) or -ECANCELED
 * (gistd is stopping).  After xfer_run() has returned, req comes back at
 * once, on the caller's thread, with -ECANCELED.  Any thread.
 */
void
xfer_submit(struct xfer *x, struct xfer_request *req)
{
	bool has_exited;

	req->next = NULL;
	(void)pthread_mutex_lock(&x->lock);
	has_exited = x->has_exited;
	if (!has_exited) {
		*x->incoming_tail = req;
		x->incoming_tail = &req->next;
	}
	(void)pthread_mutex_unlock(&x->lock);
	if (has_exited) {
		xfer_hand_back(x, req, -ECANCELED);
		return;
	}
	xfer_wake(x);
}

/* Allows at most connections open at once, busy or idle.  Any thread. */
void
xfer_set_connections(struct xfer *x, unsigned connections)
{
	(void)pthread_mutex_lock(&x->lock);
	x->connections = connections;
	(void)pthread_mutex_unlock(&x->lock);
	xfer_wake(x);
}

/*
 * Lets xfer_run() return once the requests in flight are over; those that
 * wait for the throttle leave as the throttle decides (a cancelled
 * throttle: at once, unsent).  Any thread.
 */
void
xfer_stop(struct xfer *x)
{
	(void)pthread_mutex_lock(&x->lock);
	x->is_stopping = true;
	(void)pthread_mutex_unlock(&x->lock);
	xfer_wake(x);
}

/*
 * Moves what was submitted to the waiting list and applies a new
 * connection count.  Returns whether xfer_run() is over: stopping, with
 * nothing left to do; then nothing can be submitted any more.
 */
static bool
xfer_take_word(struct xfer *x)
{
	unsigned connections;
	bool is_over;

	(void)pthread_mutex_lock(&x->lock);
	if (x->incoming) {
		*x->waiting_tail = x->incoming;
		x->waiting_tail = x->incoming_tail;
		x->incoming = NULL;
		x->incoming_tail = &x->incoming;
	}
	connections = x->connections;
	is_over = x->is_stopping && x->running == 0 && !x->waiting;
	x->has_exited = is_over;
	(void)pthread_mutex_unlock(&x->lock);
	if (connections != x->connections_set) {
		/* Busy or idle alike: with no more connections than requests
		 * allowed in flight, each request finds its own. */
		(void)curl_multi_setopt(x->multi,
		    CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)connections);
		(void)curl_multi_setopt(x->multi, CURLMOPT_MAXCONNECTS,
		    (long)connections);
		x->connections_set = connections;
	}
	return is_over;
}

/* Puts a request that the throttle let go into the multi handle. */
static void
xfer_start(struct xfer *x, struct xfer_request *req)
{
	CURL *easy = api_client_handle(req->client);

	req->latency_ms = util_now_ms();
	if (curl_easy_setopt(easy, CURLOPT_PRIVATE, req) != CURLE_OK ||
	    curl_multi_add_handle(x->multi, easy) != CURLM_OK) {
		/* As if it went out and failed at once: an attempt. */
		api_client_end(req->client, req->settings,
		    CURLE_OUT_OF_MEMORY, &req->result);
		throttle_settle(x->throttle, req->estimate, 0);
		req->latency_ms = 0;
		xfer_hand_back(x, req, 0);
		return;
	}
	x->running++;
}

/*
 * Sends the waiting requests the throttle lets go, in order.  Returns how
 * long until the first one left may ask again, or -1 when none waits.
 */
static int64_t
xfer_start_waiting(struct xfer *x)
{
	struct xfer_request *req;
	int64_t wait_ms = -1;
	int r;

	while ((req = x->waiting)) {
		r = throttle_try(x->throttle, req->estimate, &wait_ms);
		if (r > 0)
			return wait_ms;
		x->waiting = req->next;
		if (!x->waiting)
			x->waiting_tail = &x->waiting;
		if (r == 0)
			xfer_start(x, req);
		else
			xfer_hand_back(x, req, r);
	}
	return -1;
}

/* Hands back every transfer that is over, with its outcome. */
static void
xfer_collect(struct xfer *x)
{
	struct xfer_request *req;
	CURLMsg *msg;
	CURLcode rc;
	CURL *easy;
	char *priv;
	int left;

	while ((msg = curl_multi_info_read(x->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg dies with the removal: take what it says first. */
		easy = msg->easy_handle;
		rc = msg->data.result;
		priv = NULL;
		(void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		req = (struct xfer_request *)(void *)priv;
		(void)curl_multi_remove_handle(x->multi, easy);
		x->running--;
		req->latency_ms = util_now_ms() - req->latency_ms;
		api_client_end(req->client, req->settings, (int)rc,
		    &req->result);
		throttle_settle(x->throttle, req->estimate,
		    req->result.tokens_in + req->result.tokens_out);
		xfer_hand_back(x, req, 0);
	}
}

/* How long epoll may sleep: until curl's timeout or the throttle's. */
static int
xfer_timeout_ms(const struct xfer *x, int64_t throttle_ms)
{
	int64_t ms = -1;

	if (x->curl_at_ms >= 0) {
		ms = x->curl_at_ms - util_now_ms();
		if (ms < 0)
			ms = 0;
	}
	if (throttle_ms >= 0 && (ms < 0 || throttle_ms < ms))
		ms = throttle_ms;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Tells curl what epoll saw on its sockets. */
static void
xfer_dispatch(struct xfer *x, const struct epoll_event *events, int n)
{
	uint64_t count;
	int i, flags, running;

	for (i = 0; i < n; i++) {
		if (events[i].data.fd == x->wakefd) {
			(void)!read(x->wakefd, &count, sizeof(count));
			continue;
		}
		flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
		    (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
		    (events[i].events & (EPOLLERR | EPOLLHUP) ?
		    CURL_CSELECT_ERR : 0);
		(void)curl_multi_socket_action(x->multi, events[i].data.fd,
		    flags, &running);
	}
	if (x->curl_at_ms >= 0 && util_now_ms() >= x->curl_at_ms) {
		x->curl_at_ms = -1;
		(void)curl_multi_socket_action(x->multi, CURL_SOCKET_TIMEOUT, 0,
		    &running);
	}
}

/*
 * The transfer thread's body: runs requests until xfer_stop() and then
 * until the last request in flight is over.  Every request submitted
 * before it returns comes back through the done function.
 */
void
xfer_run(struct xfer *x)
{
	struct epoll_event events[XFER_EVENTS];
	int64_t throttle_ms;
	int n;

	while (!xfer_take_word(x)) {
		throttle_ms = xfer_start_waiting(x);
		n = epoll_wait(x->epfd, events, XFER_EVENTS,
		    xfer_timeout_ms(x, throttle_ms));
		if (n < 0)
			n = 0;	/* EINTR: look again */
		xfer_dispatch(x, events, n);
		xfer_collect(x);
	}
}
