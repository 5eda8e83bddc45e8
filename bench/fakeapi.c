// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * A fast fake of an OpenAI-compatible chat-completions server, for the
 * benchmark only.  One thread, epoll over non-blocking sockets, HTTP/1.1
 * with keep-alive and pipelining, Content-Length bodies only.  Any request
 * to a path ending in /chat/completions is answered with one fixed small
 * JSON reply after exactly latency_ms; GET /stats answers at once (after
 * the replies queued before it on the same connection) with the counts.
 *
 * Delays.  Every reply waits in one FIFO queue with the monotonic time it
 * is due.  The delay is the same for every completion, so arrival order is
 * due order and the FIFO is sorted without any effort; one timerfd is
 * armed for the head.  A thousand requests that arrive together all wait
 * L and are answered together: nothing serializes.  With L = 0 a reply is
 * written at once unless replies wait before it on its connection.
 *
 * Counts.  Connections accepted and completions answered are printed on
 * SIGTERM or SIGINT ("connections N requests M", one line on stdout) and
 * served as JSON at GET /stats, which itself is not counted as a request.
 * Printed with them, on a second line, is the client's turnaround on a
 * connection: the time from the last byte of a reply written to the last
 * byte of the next request read ("gaps N p50_us A p90_us B p99_us C", in
 * bins of 10 us).
 * With --log FILE the CLOCK_MONOTONIC time in nanoseconds of each
 * completion's arrival (the moment its last byte was read) and the
 * connection's descriptor are appended to FILE, one line per request,
 * written at once.
 *
 * Usage: fakeapi [--port N] [--port-file FILE] [--latency-ms L]
 *                [--log FILE]
 */

#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define FAKE_HEADER_MAX (64 * 1024)
#define FAKE_BODY_MAX (16 * 1024 * 1024)
#define FAKE_READ_CHUNK (64 * 1024)
#define FAKE_EVENTS 256

#define FAKE_SUMMARY "This is a short fixed summary of the text."
#define FAKE_COMPLETION_TOKENS 12

/* Gaps are counted in bins of FAKE_GAP_BIN_NS, the last one open-ended. */
#define FAKE_GAP_BIN_NS 10000
#define FAKE_GAP_BINS 100000

enum fake_kind {
	FAKE_COMPLETION,
	FAKE_STATS,
	FAKE_NOT_FOUND,
	FAKE_TOO_LARGE,
};

struct fake_conn {
	int fd;
	unsigned gen;			/* matches queue entries of this conn */
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	unsigned pending;		/* replies queued, not yet written */
	int64_t idle_since_ns;		/* all replied and written; 0: not */
	bool is_closing;		/* close once out is flushed */
	bool is_polling_out;
};

struct fake_entry {
	int fd;
	unsigned gen;
	enum fake_kind kind;
	int64_t due_ns;
	int64_t prompt_tokens;
	bool is_last;			/* Connection: close */
};

struct fake {
	int epfd, lfd, sigfd, timerfd, logfd;
	int64_t latency_ns;
	struct fake_conn **conns;	/* by fd */
	size_t n_conns;
	unsigned next_gen;
	struct fake_entry *q;		/* circular FIFO, sorted by due_ns */
	size_t q_head, q_len, q_cap;
	uint64_t connections;
	uint64_t requests;
	uint32_t gaps[FAKE_GAP_BINS];	/* see fake_note_gap() */
	uint64_t n_gaps;
};

static int64_t
fake_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *
fake_xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p) {
		fprintf(stderr, "fakeapi: out of memory\n");
		exit(1);
	}
	return p;
}

static void
fake_reserve(char **buf, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 4096;

	if (need <= *cap)
		return;
	while (c < need)
		c *= 2;
	*buf = fake_xrealloc(*buf, c);
	*cap = c;
}

static void
fake_epoll_set(struct fake *f, struct fake_conn *c, bool want_out)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
	    .data.fd = c->fd };

	if (want_out == c->is_polling_out)
		return;
	if (want_out)
		ev.events |= EPOLLOUT;
	(void)epoll_ctl(f->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->is_polling_out = want_out;
}

static void
fake_close(struct fake *f, struct fake_conn *c)
{
	(void)epoll_ctl(f->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	(void)close(c->fd);
	f->conns[c->fd] = NULL;
	free(c->in);
	free(c->out);
	free(c);
}

/* Writes what is buffered; returns false when the conn was closed. */
static bool
fake_flush(struct fake *f, struct fake_conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			fake_epoll_set(f, c, true);
			return true;
		}
		if (n < 0) {
			fake_close(f, c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	if (c->pending == 0)
		c->idle_since_ns = fake_now_ns();
	fake_epoll_set(f, c, false);
	if (c->is_closing && c->pending == 0) {
		fake_close(f, c);
		return false;
	}
	return true;
}

static void
fake_append(struct fake_conn *c, const char *data, size_t len)
{
	fake_reserve(&c->out, &c->out_cap, c->out_len + len);
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

/* Appends one whole reply of the given kind to c's output. */
static void
fake_reply(struct fake *f, struct fake_conn *c, const struct fake_entry *e)
{
	char body[512], head[256];
	const char *status = "200 OK";
	int blen, hlen;

	switch (e->kind) {
	case FAKE_COMPLETION:
		blen = snprintf(body, sizeof(body),
		    "{\"id\":\"chatcmpl-fake\",\"object\":\"chat.completion\","
		    "\"model\":\"fake\",\"choices\":[{\"index\":0,"
		    "\"message\":{\"role\":\"assistant\",\"content\":\"%s\"},"
		    "\"finish_reason\":\"stop\"}],\"usage\":{"
		    "\"prompt_tokens\":%lld,\"completion_tokens\":%d,"
		    "\"total_tokens\":%lld}}", FAKE_SUMMARY,
		    (long long)e->prompt_tokens, FAKE_COMPLETION_TOKENS,
		    (long long)e->prompt_tokens + FAKE_COMPLETION_TOKENS);
		f->requests++;
		break;
	case FAKE_STATS:
		blen = snprintf(body, sizeof(body),
		    "{\"connections\":%llu,\"requests\":%llu,"
		    "\"pending\":%zu}", (unsigned long long)f->connections,
		    (unsigned long long)f->requests, f->q_len);
		break;
	case FAKE_TOO_LARGE:
		status = "413 Payload Too Large";
		blen = snprintf(body, sizeof(body),
		    "{\"error\":{\"message\":\"request too large\"}}");
		break;
	default:
		status = "404 Not Found";
		blen = snprintf(body, sizeof(body),
		    "{\"error\":{\"message\":\"no such path\"}}");
		break;
	}
	hlen = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n",
	    status, blen, e->is_last ? "Connection: close\r\n" : "");
	fake_append(c, head, (size_t)hlen);
	fake_append(c, body, (size_t)blen);
	if (e->is_last)
		c->is_closing = true;
}

static void
fake_arm(struct fake *f)
{
	struct itimerspec its = { 0 };
	int64_t due;

	if (f->q_len == 0)
		return;
	due = f->q[f->q_head].due_ns;
	its.it_value.tv_sec = due / 1000000000;
	its.it_value.tv_nsec = due % 1000000000;
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	(void)timerfd_settime(f->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void
fake_enqueue(struct fake *f, struct fake_conn *c, struct fake_entry *e,
    int64_t delay_ns)
{
	size_t i;

	/* With L = 0 and nothing waiting on this conn, answer at once. */
	if (delay_ns == 0 && c->pending == 0) {
		fake_reply(f, c, e);
		return;
	}
	if (f->q_len == f->q_cap) {
		size_t cap = f->q_cap ? f->q_cap * 2 : 1024;
		struct fake_entry *q = fake_xrealloc(NULL, cap * sizeof(*q));

		for (i = 0; i < f->q_len; i++)
			q[i] = f->q[(f->q_head + i) % f->q_cap];
		free(f->q);
		f->q = q;
		f->q_head = 0;
		f->q_cap = cap;
	}
	e->fd = c->fd;
	e->gen = c->gen;
	e->due_ns = fake_now_ns() + delay_ns;
	/* Keep the FIFO sorted: a stats reply never overtakes a completion. */
	if (f->q_len > 0) {
		const struct fake_entry *tail =
		    &f->q[(f->q_head + f->q_len - 1) % f->q_cap];

		if (tail->due_ns > e->due_ns)
			e->due_ns = tail->due_ns;
	}
	f->q[(f->q_head + f->q_len) % f->q_cap] = *e;
	f->q_len++;
	c->pending++;
	if (f->q_len == 1)
		fake_arm(f);
}

/*
 * A completion arrived on c.  If every reply before it had been written,
 * the time since then is the client's turnaround: what it spent between
 * reading one reply and sending its next request.
 */
static void
fake_note_gap(struct fake *f, struct fake_conn *c)
{
	int64_t bin;

	if (c->idle_since_ns == 0 || c->pending != 0)
		return;
	bin = (fake_now_ns() - c->idle_since_ns) / FAKE_GAP_BIN_NS;
	if (bin >= FAKE_GAP_BINS)
		bin = FAKE_GAP_BINS - 1;
	f->gaps[bin < 0 ? 0 : bin]++;
	f->n_gaps++;
	c->idle_since_ns = 0;
}

/* The q-quantile of the gaps, in microseconds (the top of its bin). */
static long long
fake_gap_quantile_us(const struct fake *f, double q)
{
	uint64_t want = (uint64_t)(q * (double)f->n_gaps), seen = 0;
	size_t i;

	for (i = 0; i < FAKE_GAP_BINS; i++) {
		seen += f->gaps[i];
		if (seen > want)
			break;
	}
	return (long long)((i + 1) * FAKE_GAP_BIN_NS / 1000);
}

static void
fake_log_arrival(struct fake *f, int fd)
{
	char line[48];
	int n;

	if (f->logfd < 0)
		return;
	n = snprintf(line, sizeof(line), "%lld %d\n", (long long)fake_now_ns(),
	    fd);
	(void)!write(f->logfd, line, (size_t)n);
}

/* Whether the header block holds name (case-insensitive) with value. */
static const char *
fake_header(const char *head, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = head, *end = head + len, *eol;

	while (p < end) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			p += nlen + 1;
			while (p < eol && (*p == ' ' || *p == '\t'))
				p++;
			return p;
		}
		p = eol + 2;
	}
	return NULL;
}

/*
 * Handles every complete request in c's input.  Returns false when the
 * connection must be dropped (a malformed request).
 */
static bool
fake_parse(struct fake *f, struct fake_conn *c)
{
	size_t off = 0;

	for (;;) {
		const char *start = c->in + off, *end, *v, *sp;
		size_t avail = c->in_len - off, hlen, total;
		long long clen = 0;
		struct fake_entry e = { 0 };
		bool is_get;

		end = memmem(start, avail, "\r\n\r\n", 4);
		if (!end) {
			if (avail > FAKE_HEADER_MAX)
				return false;
			break;
		}
		hlen = (size_t)(end - start) + 4;
		v = fake_header(start, hlen - 2, "content-length");
		if (v)
			clen = strtoll(v, NULL, 10);
		if (clen < 0)
			return false;
		if (clen > FAKE_BODY_MAX) {
			e.kind = FAKE_TOO_LARGE;
			e.is_last = true;
			fake_enqueue(f, c, &e, 0);
			c->in_len = 0;
			return true;
		}
		total = hlen + (size_t)clen;
		if (avail < total) {
			fake_reserve(&c->in, &c->in_cap, off + total);
			break;
		}
		v = fake_header(start, hlen - 2, "connection");
		e.is_last = v && strncasecmp(v, "close", 5) == 0;
		is_get = strncmp(start, "GET ", 4) == 0;
		sp = memchr(start, ' ', hlen);
		end = sp ? memchr(sp + 1, ' ', hlen - (size_t)(sp + 1 - start))
		    : NULL;
		if (!end)
			return false;
		if (is_get && end - sp - 1 >= 6 && memcmp(sp + 1, "/stats", 6)
		    == 0) {
			e.kind = FAKE_STATS;
			fake_enqueue(f, c, &e, 0);
		} else if (end - sp - 1 >= 17 &&
		    memcmp(end - 17, "/chat/completions", 17) == 0) {
			fake_log_arrival(f, c->fd);
			fake_note_gap(f, c);
			e.kind = FAKE_COMPLETION;
			e.prompt_tokens = clen / 4;
			fake_enqueue(f, c, &e, f->latency_ns);
		} else {
			e.kind = FAKE_NOT_FOUND;
			fake_enqueue(f, c, &e, 0);
		}
		off += total;
		if (e.is_last) {
			off = c->in_len;
			break;
		}
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return true;
}

static void
fake_on_readable(struct fake *f, struct fake_conn *c)
{
	ssize_t n;

	if (c->is_closing)
		return;		/* ignore what follows Connection: close */
	fake_reserve(&c->in, &c->in_cap, c->in_len + FAKE_READ_CHUNK);
	n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fake_close(f, c);
		return;
	}
	c->in_len += (size_t)n;
	if (!fake_parse(f, c)) {
		fake_close(f, c);
		return;
	}
	if (c->out_len > 0)
		(void)fake_flush(f, c);
}

static void
fake_accept(struct fake *f)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct fake_conn *c;
	int fd, one = 1;

	for (;;) {
		fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if ((size_t)fd >= f->n_conns) {
			(void)close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			(void)close(fd);
			continue;
		}
		c->fd = fd;
		c->gen = ++f->next_gen;
		f->conns[fd] = c;
		ev.data.fd = fd;
		(void)epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev);
		f->connections++;
	}
}

/* Sends every reply that is due, then arms the timer for the next. */
static void
fake_on_timer(struct fake *f)
{
	uint64_t expirations;
	int64_t now = fake_now_ns();
	struct fake_conn *c;

	(void)!read(f->timerfd, &expirations, sizeof(expirations));
	while (f->q_len > 0 && f->q[f->q_head].due_ns <= now) {
		struct fake_entry e = f->q[f->q_head];

		f->q_head = (f->q_head + 1) % f->q_cap;
		f->q_len--;
		c = f->conns[e.fd];
		if (!c || c->gen != e.gen)
			continue;	/* its connection went away */
		c->pending--;
		fake_reply(f, c, &e);
		/* Flush when this conn has no further reply due now. */
		if (f->q_len == 0 || f->q[f->q_head].fd != e.fd ||
		    f->q[f->q_head].due_ns > now)
			(void)fake_flush(f, c);
	}
	fake_arm(f);
}

static void
fake_print_counts(const struct fake *f)
{
	printf("connections %llu requests %llu\n",
	    (unsigned long long)f->connections,
	    (unsigned long long)f->requests);
	if (f->n_gaps > 0)
		printf("gaps %llu p50_us %lld p90_us %lld p99_us %lld\n",
		    (unsigned long long)f->n_gaps,
		    fake_gap_quantile_us(f, 0.5), fake_gap_quantile_us(f, 0.9),
		    fake_gap_quantile_us(f, 0.99));
	fflush(stdout);
}

static int
fake_listen(int port, const char *port_file)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	if (port_file) {
		char tmp[4096];
		FILE *pf;

		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		pf = fopen(tmp, "w");
		if (!pf)
			return -1;
		fprintf(pf, "%d\n", ntohs(sa.sin_port));
		if (fclose(pf) != 0 || rename(tmp, port_file) < 0)
			return -1;
	} else {
		printf("port %d\n", ntohs(sa.sin_port));
		fflush(stdout);
	}
	return fd;
}

static void
fake_usage(void)
{
	fprintf(stderr, "Usage: fakeapi [--port N] [--port-file FILE] "
	    "[--latency-ms L] [--log FILE]\n");
	exit(2);
}

static void
fake_setup(struct fake *f, int argc, char **argv)
{
	const char *port_file = NULL, *log_file = NULL;
	struct epoll_event ev = { .events = EPOLLIN };
	struct rlimit rl;
	double latency_ms = 0;
	sigset_t mask;
	int i, port = 0;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			fake_usage();
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[++i];
		else if (strcmp(argv[i], "--latency-ms") == 0)
			latency_ms = atof(argv[++i]);
		else if (strcmp(argv[i], "--log") == 0)
			log_file = argv[++i];
		else
			fake_usage();
	}
	f->latency_ns = (int64_t)(latency_ms * 1e6);
	f->logfd = -1;
	if (log_file) {
		f->logfd = open(log_file, O_WRONLY | O_CREAT | O_TRUNC |
		    O_APPEND | O_CLOEXEC, 0644);
		if (f->logfd < 0) {
			perror(log_file);
			exit(1);
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	f->n_conns = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 1048576 ?
	    rl.rlim_cur : 1048576;
	f->conns = calloc(f->n_conns, sizeof(*f->conns));

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	f->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	f->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	f->lfd = fake_listen(port, port_file);
	if (!f->conns || f->sigfd < 0 || f->timerfd < 0 || f->epfd < 0 ||
	    f->lfd < 0) {
		perror("fakeapi: setup");
		exit(1);
	}
	ev.data.fd = f->lfd;
	(void)epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->lfd, &ev);
	ev.data.fd = f->sigfd;
	(void)epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->sigfd, &ev);
	ev.data.fd = f->timerfd;
	(void)epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->timerfd, &ev);
}

int
main(int argc, char **argv)
{
	struct epoll_event events[FAKE_EVENTS];
	static struct fake f;	/* zeroed; too large for the stack */
	struct fake_conn *c;
	int i, n;

	fake_setup(&f, argc, argv);
	for (;;) {
		n = epoll_wait(f.epfd, events, FAKE_EVENTS, -1);
		for (i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd == f.lfd) {
				fake_accept(&f);
			} else if (fd == f.sigfd) {
				fake_print_counts(&f);
				return 0;
			} else if (fd == f.timerfd) {
				fake_on_timer(&f);
			} else if ((c = f.conns[fd]) != NULL) {
				if (events[i].events & EPOLLOUT) {
					if (!fake_flush(&f, c))
						continue;
				}
				if (events[i].events &
				    (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					fake_on_readable(&f, c);
			}
		}
	}
}
