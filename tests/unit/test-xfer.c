// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Tests of the transfer thread (xfer.c) over real HTTP on the loopback:
 * a small server thread here accepts any number of connections, counts
 * them and the requests, and answers each request at once or only when
 * the test lets it.  The transfer thread runs as gistd runs it, on a
 * thread of its own, with a real throttle.
 */

#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "settings.h"
#include "tap.h"
#include "throttle.h"
#include "util.h"
#include "xfer.h"

#define TEST_KEY "test-key-123"
#define MAX_CONNS 16
#define MAX_REQS 16
/* No wait in these tests should come near this. */
#define WAIT_MS 10000

static const char reply[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    "Content-Length: 43\r\n\r\n"
    "{\"choices\":[{\"message\":{\"content\":\"Ok.\"}}]}";

/* The server: answers each request once `released` allows it. */
struct srv {
	int listen_fd;
	int ctl_fds[2];			/* a pipe: wakes the server */
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int released;			/* lock: requests it may answer */
	bool is_stopping;		/* lock */
	int accepts;			/* lock */
	int requests;			/* lock: complete requests read */
	int answered;			/* lock */
	int max_unanswered;		/* lock: most waiting at once */
};

struct srv_conn {
	int fd;
	char buf[8192];
	size_t len;
	int waiting;			/* requests read, not answered */
};

/* Whether buf holds a whole request (headers and Content-Length body);
 * if so its length. */
static size_t
srv_request_len(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	const char *cl;
	size_t head, body = 0;

	if (!end)
		return 0;
	head = (size_t)(end - buf) + 4;
	cl = memmem(buf, head, "Content-Length: ", 16);
	if (cl)
		body = strtoul(cl + 16, NULL, 10);
	return len >= head + body ? head + body : 0;
}

static void
srv_read(struct srv *srv, struct srv_conn *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	size_t req;

	if (n <= 0) {
		(void)close(c->fd);
		c->fd = -1;
		return;
	}
	c->len += (size_t)n;
	while ((req = srv_request_len(c->buf, c->len)) > 0) {
		memmove(c->buf, c->buf + req, c->len - req);
		c->len -= req;
		c->waiting++;
		(void)pthread_mutex_lock(&srv->lock);
		srv->requests++;
		if (srv->requests - srv->answered > srv->max_unanswered)
			srv->max_unanswered = srv->requests - srv->answered;
		(void)pthread_cond_broadcast(&srv->changed);
		(void)pthread_mutex_unlock(&srv->lock);
	}
}

/* Answers what may be answered on every connection. */
static void
srv_answer(struct srv *srv, struct srv_conn *conns, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		while (conns[i].fd >= 0 && conns[i].waiting > 0) {
			(void)pthread_mutex_lock(&srv->lock);
			if (srv->answered >= srv->released) {
				(void)pthread_mutex_unlock(&srv->lock);
				return;
			}
			srv->answered++;
			(void)pthread_cond_broadcast(&srv->changed);
			(void)pthread_mutex_unlock(&srv->lock);
			conns[i].waiting--;
			(void)!write(conns[i].fd, reply, sizeof(reply) - 1);
		}
	}
}

static void *
srv_main(void *arg)
{
	struct srv *srv = arg;
	struct srv_conn conns[MAX_CONNS];
	struct pollfd p[MAX_CONNS + 2];
	char byte;
	int n = 0, i, fd;

	for (;;) {
		p[0] = (struct pollfd){ .fd = srv->listen_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = srv->ctl_fds[0], .events = POLLIN };
		for (i = 0; i < n; i++)
			p[i + 2] = (struct pollfd){ .fd = conns[i].fd,
			    .events = POLLIN };
		if (poll(p, (nfds_t)n + 2, WAIT_MS) <= 0)
			break;
		if (p[1].revents) {
			(void)!read(srv->ctl_fds[0], &byte, 1);
			(void)pthread_mutex_lock(&srv->lock);
			if (srv->is_stopping) {
				(void)pthread_mutex_unlock(&srv->lock);
				break;
			}
			(void)pthread_mutex_unlock(&srv->lock);
		}
		for (i = 0; i < n; i++)
			if (conns[i].fd >= 0 && p[i + 2].revents)
				srv_read(srv, &conns[i]);
		if (p[0].revents && n < MAX_CONNS) {
			fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				conns[n] = (struct srv_conn){ .fd = fd };
				n++;
				(void)pthread_mutex_lock(&srv->lock);
				srv->accepts++;
				(void)pthread_mutex_unlock(&srv->lock);
			}
		}
		srv_answer(srv, conns, n);
	}
	for (i = 0; i < n; i++)
		if (conns[i].fd >= 0)
			(void)close(conns[i].fd);
	return NULL;
}

static void
srv_start(struct srv *srv, int released)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	memset(srv, 0, sizeof(*srv));
	srv->released = released;
	(void)pthread_mutex_init(&srv->lock, NULL);
	(void)pthread_cond_init(&srv->changed, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv->listen_fd < 0 ||
	    bind(srv->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(srv->listen_fd, 64) < 0 ||
	    getsockname(srv->listen_fd, (struct sockaddr *)&a, &alen) < 0 ||
	    pipe2(srv->ctl_fds, O_CLOEXEC) < 0 ||
	    pthread_create(&srv->thread, NULL, srv_main, srv) != 0) {
		printf("Bail out! cannot start the server: %s\n",
		    strerror(errno));
		exit(EXIT_FAILURE);
	}
	srv->port = ntohs(a.sin_port);
}

/* Lets the server answer n more requests. */
static void
srv_release(struct srv *srv, int n)
{
	(void)pthread_mutex_lock(&srv->lock);
	srv->released += n;
	(void)pthread_mutex_unlock(&srv->lock);
	(void)!write(srv->ctl_fds[1], "r", 1);
}

/* Waits until the server has read n requests in all; false on timeout. */
static bool
srv_wait_requests(struct srv *srv, int n)
{
	int64_t deadline_ms = util_now_ms() + WAIT_MS;
	bool ok;

	(void)pthread_mutex_lock(&srv->lock);
	while (srv->requests < n && util_now_ms() < deadline_ms) {
		struct timespec ts;

		(void)clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		(void)pthread_cond_timedwait(&srv->changed, &srv->lock, &ts);
	}
	ok = srv->requests >= n;
	(void)pthread_mutex_unlock(&srv->lock);
	return ok;
}

static void
srv_stop(struct srv *srv)
{
	(void)pthread_mutex_lock(&srv->lock);
	srv->is_stopping = true;
	(void)pthread_mutex_unlock(&srv->lock);
	(void)!write(srv->ctl_fds[1], "s", 1);
	(void)pthread_join(srv->thread, NULL);
	(void)close(srv->listen_fd);
	(void)close(srv->ctl_fds[0]);
	(void)close(srv->ctl_fds[1]);
}

/* The requests that came back through the done function. */
struct back {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int count;
	struct xfer_request *reqs[MAX_REQS];
	bool was_on_caller;		/* a done ran on a thread not xfer's */
};

static struct back back = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.changed = PTHREAD_COND_INITIALIZER,
};
static pthread_t xfer_thread;

static void
on_done(struct xfer_request *req, void *arg)
{
	(void)arg;
	(void)pthread_mutex_lock(&back.lock);
	if (!pthread_equal(pthread_self(), xfer_thread))
		back.was_on_caller = true;
	if (back.count < MAX_REQS)
		back.reqs[back.count] = req;
	back.count++;
	(void)pthread_cond_broadcast(&back.changed);
	(void)pthread_mutex_unlock(&back.lock);
}

/* Waits until n requests came back in all; false after timeout_ms. */
static bool
wait_back(int n, int64_t timeout_ms)
{
	int64_t deadline_ms = util_now_ms() + timeout_ms;
	bool ok;

	(void)pthread_mutex_lock(&back.lock);
	while (back.count < n && util_now_ms() < deadline_ms) {
		struct timespec ts;

		(void)clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		(void)pthread_cond_timedwait(&back.changed, &back.lock, &ts);
	}
	ok = back.count >= n;
	(void)pthread_mutex_unlock(&back.lock);
	return ok;
}

/* One request of the test: a client set up for a POST to the server. */
struct test_req {
	struct xfer_request req;
	struct settings s;
	char url[64];
};

static void
test_req_init(struct test_req *t, int port)
{
	memset(t, 0, sizeof(*t));
	(void)snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%d/v1",
	    port);
	t->s.base_url = t->url;
	t->s.api_key = (char *)TEST_KEY;
	t->s.timeout_ms = WAIT_MS;
	t->s.connect_timeout_ms = WAIT_MS;
	t->s.ca_file = (char *)"";
	if (api_client_new(&t->req.client) < 0 ||
	    api_client_begin(t->req.client, &t->s, "{}", &t->req.result) !=
	    0) {
		printf("Bail out! cannot set a request up\n");
		exit(EXIT_FAILURE);
	}
	t->req.settings = &t->s;
	t->req.owner = t;
}

static void
test_req_clear(struct test_req *t)
{
	api_result_clear(&t->req.result);
	api_client_free(t->req.client);
}

static void *
xfer_main(void *arg)
{
	xfer_run(arg);
	return NULL;
}

static struct xfer *
start_xfer(struct throttle *t, unsigned connections)
{
	struct xfer *x;

	back.count = 0;
	back.was_on_caller = false;
	if (xfer_new(t, on_done, NULL, &x) < 0 ||
	    pthread_create(&xfer_thread, NULL, xfer_main, x) != 0) {
		printf("Bail out! cannot start the transfer thread\n");
		exit(EXIT_FAILURE);
	}
	xfer_set_connections(x, connections);
	return x;
}

static void
stop_xfer(struct xfer *x, struct throttle *t)
{
	throttle_cancel(t);
	xfer_stop(x);
	(void)pthread_join(xfer_thread, NULL);
	xfer_free(x);
}

static struct throttle *
new_throttle(void)
{
	struct throttle *t;

	if (throttle_new(&t) < 0) {
		printf("Bail out! no throttle\n");
		exit(EXIT_FAILURE);
	}
	return t;
}

/*
 * One thread has four requests in flight at once, on four connections:
 * the server answers none until it holds all four.  Four more then reuse
 * those connections.
 */
static void
test_one_thread_runs_many_requests(void)
{
	struct throttle *t = new_throttle();
	struct test_req r[8];
	struct srv srv;
	struct xfer *x;
	int i;

	srv_start(&srv, 0);
	x = start_xfer(t, 4);
	for (i = 0; i < 4; i++) {
		test_req_init(&r[i], srv.port);
		xfer_submit(x, &r[i].req);
	}
	TAP_CHECK(srv_wait_requests(&srv, 4));
	TAP_CHECK(back.count == 0);
	srv_release(&srv, 8);
	TAP_CHECK(wait_back(4, WAIT_MS));
	for (i = 4; i < 8; i++) {
		test_req_init(&r[i], srv.port);
		xfer_submit(x, &r[i].req);
	}
	TAP_CHECK(wait_back(8, WAIT_MS));
	for (i = 0; i < 8; i++) {
		TAP_CHECK(r[i].req.status == 0);
		TAP_CHECK(r[i].req.result.class == API_OK);
		TAP_CHECK(r[i].req.result.summary &&
		    strcmp(r[i].req.result.summary, "Ok.") == 0);
		test_req_clear(&r[i]);
	}
	TAP_CHECK(!back.was_on_caller);
	stop_xfer(x, t);
	srv_stop(&srv);
	TAP_CHECK(srv.accepts == 4);
	TAP_CHECK(srv.max_unanswered == 4);
	throttle_free(t);
}

/* With two connections allowed, six requests never have more than two
 * at the server, and two connections serve them all. */
static void
test_connections_are_bounded(void)
{
	struct throttle *t = new_throttle();
	struct test_req r[6];
	struct srv srv;
	struct xfer *x;
	int i;

	srv_start(&srv, 0);
	x = start_xfer(t, 2);
	for (i = 0; i < 6; i++) {
		test_req_init(&r[i], srv.port);
		xfer_submit(x, &r[i].req);
	}
	TAP_CHECK(srv_wait_requests(&srv, 2));
	srv_release(&srv, 6);
	TAP_CHECK(wait_back(6, WAIT_MS));
	for (i = 0; i < 6; i++) {
		TAP_CHECK(r[i].req.status == 0 &&
		    r[i].req.result.class == API_OK);
		test_req_clear(&r[i]);
	}
	stop_xfer(x, t);
	srv_stop(&srv);
	TAP_CHECK(srv.accepts == 2);
	TAP_CHECK(srv.max_unanswered == 2);
	TAP_CHECK(srv.requests == 6);
	throttle_free(t);
}

/* A hold of the throttle delays the request by as much, as a timer. */
static void
test_throttle_wait_is_a_timer(void)
{
	struct throttle *t = new_throttle();
	struct test_req r;
	struct srv srv;
	struct xfer *x;
	int64_t start_ms, took_ms;

	srv_start(&srv, 1);
	x = start_xfer(t, 1);
	start_ms = util_now_ms();
	throttle_hold(t, start_ms + 300);
	test_req_init(&r, srv.port);
	xfer_submit(x, &r.req);
	TAP_CHECK(wait_back(1, WAIT_MS));
	took_ms = util_now_ms() - start_ms;
	printf("# came back after %lld ms\n", (long long)took_ms);
	TAP_CHECK(took_ms >= 300);
	TAP_CHECK(r.req.status == 0 && r.req.result.class == API_OK);
	test_req_clear(&r);
	stop_xfer(x, t);
	srv_stop(&srv);
	TAP_CHECK(srv.requests == 1);
	throttle_free(t);
}

/* A pause that begins while a request waits for the throttle sends it
 * back unsent, at once: the throttle wakes the transfer thread. */
static void
test_pause_sends_back_unsent(void)
{
	struct throttle *t = new_throttle();
	struct test_req r;
	struct srv srv;
	struct xfer *x;
	int64_t start_ms;

	srv_start(&srv, 1);
	x = start_xfer(t, 1);
	throttle_hold(t, util_now_ms() + 60000);
	test_req_init(&r, srv.port);
	xfer_submit(x, &r.req);
	TAP_CHECK(!wait_back(1, 200));
	start_ms = util_now_ms();
	throttle_pause(t, util_now_ms() + 60000);
	TAP_CHECK(wait_back(1, WAIT_MS));
	printf("# came back %lld ms after the pause\n",
	    (long long)(util_now_ms() - start_ms));
	TAP_CHECK(util_now_ms() - start_ms < 5000);
	TAP_CHECK(r.req.status == -EAGAIN);
	test_req_clear(&r);
	stop_xfer(x, t);
	srv_stop(&srv);
	TAP_CHECK(srv.requests == 0);
	throttle_free(t);
}

/*
 * A stop sends back at once, unsent, what waits for the cancelled
 * throttle, lets the request in flight finish, and only then ends the
 * thread; a request submitted after that comes back at once.
 */
static void
test_stop_lets_the_request_in_flight_finish(void)
{
	struct throttle *t = new_throttle();
	struct test_req r[3];
	struct srv srv;
	struct xfer *x;

	srv_start(&srv, 0);
	x = start_xfer(t, 2);
	test_req_init(&r[0], srv.port);
	xfer_submit(x, &r[0].req);
	TAP_CHECK(srv_wait_requests(&srv, 1));
	throttle_hold(t, util_now_ms() + 60000);
	test_req_init(&r[1], srv.port);
	xfer_submit(x, &r[1].req);
	throttle_cancel(t);
	xfer_stop(x);
	TAP_CHECK(wait_back(1, WAIT_MS));
	TAP_CHECK(back.reqs[0] == &r[1].req);
	TAP_CHECK(r[1].req.status == -ECANCELED);
	TAP_CHECK(!wait_back(2, 200));
	srv_release(&srv, 1);
	TAP_CHECK(wait_back(2, WAIT_MS));
	TAP_CHECK(r[0].req.status == 0 && r[0].req.result.class == API_OK);
	(void)pthread_join(xfer_thread, NULL);

	test_req_init(&r[2], srv.port);
	xfer_submit(x, &r[2].req);
	TAP_CHECK(back.count == 3 && r[2].req.status == -ECANCELED);
	TAP_CHECK(back.was_on_caller);
	xfer_free(x);
	srv_stop(&srv);
	TAP_CHECK(srv.requests == 1);
	test_req_clear(&r[0]);
	test_req_clear(&r[1]);
	test_req_clear(&r[2]);
	throttle_free(t);
}

int
main(void)
{
	if (api_init() < 0) {
		printf("Bail out! api_init\n");
		return EXIT_FAILURE;
	}
	TAP_RUN(test_one_thread_runs_many_requests);
	TAP_RUN(test_connections_are_bounded);
	TAP_RUN(test_throttle_wait_is_a_timer);
	TAP_RUN(test_pause_sends_back_unsent);
	TAP_RUN(test_stop_lets_the_request_in_flight_finish);
	return tap_done();
}
