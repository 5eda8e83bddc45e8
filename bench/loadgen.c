// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * A small load generator for bench/fakeapi: T threads, each with one
 * keep-alive connection to 127.0.0.1:PORT, keep D chat-completions
 * requests in flight (D = 1: one request after the other, like a curl
 * easy handle; D > 1: pipelined) for S seconds, then print the requests
 * answered and the rate.  Each request carries a JSON body of B bytes, so
 * the server parses about what gistd sends it.
 *
 * Usage: loadgen -p PORT [-t THREADS] [-d DEPTH] [-s SECONDS] [-b BYTES]
 * Prints: "requests N seconds S rate R" on one line.
 */

#define _GNU_SOURCE 1

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct loadgen {
	int port;
	int depth;
	double seconds;
	char *request;
	size_t request_len;
	int64_t end_ns;
};

struct loadgen_thread {
	pthread_t thread;
	struct loadgen *lg;
	uint64_t answered;
	bool is_failed;
};

static int64_t
loadgen_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
loadgen_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static bool
loadgen_send(int fd, const char *buf, size_t len, int count)
{
	ssize_t n;
	int i;

	for (i = 0; i < count; i++) {
		size_t off = 0;

		while (off < len) {
			n = write(fd, buf + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return false;
			off += (size_t)n;
		}
	}
	return true;
}

/*
 * Counts the complete responses at the front of buf; *used gets the bytes
 * they take.  Returns -1 on a response that is not a 200.
 */
static int
loadgen_count(const char *buf, size_t len, size_t *used)
{
	size_t off = 0;
	int n = 0;

	for (;;) {
		const char *end = memmem(buf + off, len - off, "\r\n\r\n", 4);
		const char *cl;
		size_t hlen;
		long clen;

		if (!end)
			break;
		hlen = (size_t)(end - (buf + off)) + 4;
		if (strncmp(buf + off, "HTTP/1.1 200", 12) != 0)
			return -1;
		cl = memmem(buf + off, hlen, "Content-Length: ", 16);
		clen = cl ? strtol(cl + 16, NULL, 10) : 0;
		if (len - off < hlen + (size_t)clen)
			break;
		off += hlen + (size_t)clen;
		n++;
	}
	*used = off;
	return n;
}

static void *
loadgen_thread_main(void *arg)
{
	struct loadgen_thread *t = arg;
	struct loadgen *lg = t->lg;
	size_t len = 0, cap = 1 << 20, used;
	char *buf = malloc(cap);
	int fd, inflight, n;
	ssize_t r;

	fd = loadgen_connect(lg->port);
	if (fd < 0 || !buf) {
		t->is_failed = true;
		free(buf);
		return NULL;
	}
	if (!loadgen_send(fd, lg->request, lg->request_len, lg->depth))
		goto fail;
	inflight = lg->depth;
	while (inflight > 0) {
		r = read(fd, buf + len, cap - len);
		if (r <= 0)
			goto fail;
		len += (size_t)r;
		n = loadgen_count(buf, len, &used);
		if (n < 0)
			goto fail;
		memmove(buf, buf + used, len - used);
		len -= used;
		t->answered += (uint64_t)n;
		inflight -= n;
		if (n > 0 && loadgen_now_ns() < lg->end_ns) {
			if (!loadgen_send(fd, lg->request, lg->request_len, n))
				goto fail;
			inflight += n;
		}
	}
	close(fd);
	free(buf);
	return NULL;
fail:
	t->is_failed = true;
	close(fd);
	free(buf);
	return NULL;
}

static void
loadgen_build_request(struct loadgen *lg, size_t body_bytes)
{
	static const char pre[] = "{\"model\":\"fake\",\"max_tokens\":50,"
	    "\"messages\":[{\"role\":\"user\",\"content\":\"";
	static const char post[] = "\"}]}";
	size_t fill, i, hlen;
	char *body, head[256];

	if (body_bytes < sizeof(pre) + sizeof(post))
		body_bytes = sizeof(pre) + sizeof(post);
	fill = body_bytes - (sizeof(pre) - 1) - (sizeof(post) - 1);
	body = malloc(body_bytes + 1);
	memcpy(body, pre, sizeof(pre) - 1);
	for (i = 0; i < fill; i++)
		body[sizeof(pre) - 1 + i] = "abcdefgh ijklmnop"[i % 17];
	memcpy(body + sizeof(pre) - 1 + fill, post, sizeof(post));
	hlen = (size_t)snprintf(head, sizeof(head),
	    "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nAccept: application/json\r\n"
	    "Authorization: Bearer dummy\r\nContent-Length: %zu\r\n\r\n",
	    body_bytes);
	lg->request_len = hlen + body_bytes;
	lg->request = malloc(lg->request_len);
	memcpy(lg->request, head, hlen);
	memcpy(lg->request + hlen, body, body_bytes);
	free(body);
}

int
main(int argc, char **argv)
{
	struct loadgen lg = { .depth = 1, .seconds = 3 };
	struct loadgen_thread *threads;
	int nthreads = 2, i, opt;
	size_t body_bytes = 2048;
	uint64_t total = 0;
	int64_t start;
	double secs;
	bool is_failed = false;

	while ((opt = getopt(argc, argv, "p:t:d:s:b:")) != -1) {
		switch (opt) {
		case 'p': lg.port = atoi(optarg); break;
		case 't': nthreads = atoi(optarg); break;
		case 'd': lg.depth = atoi(optarg); break;
		case 's': lg.seconds = atof(optarg); break;
		case 'b': body_bytes = (size_t)atol(optarg); break;
		default:
			fprintf(stderr, "Usage: loadgen -p PORT [-t THREADS] "
			    "[-d DEPTH] [-s SECONDS] [-b BYTES]\n");
			return 2;
		}
	}
	if (lg.port <= 0 || nthreads < 1 || lg.depth < 1) {
		fprintf(stderr, "loadgen: need -p PORT, -t >= 1, -d >= 1\n");
		return 2;
	}
	loadgen_build_request(&lg, body_bytes);
	threads = calloc((size_t)nthreads, sizeof(*threads));
	start = loadgen_now_ns();
	lg.end_ns = start + (int64_t)(lg.seconds * 1e9);
	for (i = 0; i < nthreads; i++) {
		threads[i].lg = &lg;
		pthread_create(&threads[i].thread, NULL, loadgen_thread_main,
		    &threads[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(threads[i].thread, NULL);
		total += threads[i].answered;
		is_failed |= threads[i].is_failed;
	}
	secs = (loadgen_now_ns() - start) / 1e9;
	printf("requests %llu seconds %.3f rate %.0f\n",
	    (unsigned long long)total, secs, total / secs);
	if (is_failed)
		fprintf(stderr, "loadgen: a connection failed\n");
	return is_failed ? 1 : 0;
}
