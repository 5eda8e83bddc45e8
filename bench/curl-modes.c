// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * What libcurl alone costs per request and per connection, in the two
 * ways a program can drive it: one thread per connection, each blocked
 * in curl_easy_perform() (how gistd's workers work today), or a few
 * threads that each drive many connections through one multi handle.
 * No files, no JSON: only POSTs of a fixed 5 KB body to bench/fakeapi,
 * C connections kept alive, N requests in all.  It prints wall time, CPU
 * per request, peak RSS and the private memory at the end, so that a
 * change of gistd's pool can be judged before it is written.
 *
 * Usage: curl-modes threads|multi URL N C [T]
 *   T: threads for "multi" (default 1); ignored for "threads".
 */

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define BODY_BYTES 5000
#define MAX_CONNECTIONS 4096

static char body[BODY_BYTES + 1];
static const char *url;
static atomic_long left;		/* requests not yet started */
static atomic_long failed;

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static CURL *
easy_new(struct curl_slist *headers)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	(void)curl_easy_setopt(c, CURLOPT_URL, url);
	(void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	(void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	(void)curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)BODY_BYTES);
	(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	(void)curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 2048L);
	(void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	return c;
}

/* Takes one request from the shared count; false when none is left. */
static int
take(void)
{
	return atomic_fetch_sub(&left, 1) > 0;
}

static void *
thread_main(void *arg)
{
	struct curl_slist *headers = arg;
	CURL *c = easy_new(headers);

	while (c && take())
		if (curl_easy_perform(c) != CURLE_OK)
			atomic_fetch_add(&failed, 1);
	curl_easy_cleanup(c);
	return NULL;
}

struct multi_arg {
	struct curl_slist *headers;
	int connections;
};

static void *
multi_main(void *arg)
{
	struct multi_arg *m = arg;
	CURLM *multi = curl_multi_init();
	int i, running = 0, queued, active = 0;
	CURLMsg *msg;
	CURL *c;

	(void)curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
	    (long)m->connections);
	for (i = 0; i < m->connections && take(); i++)
		if (curl_multi_add_handle(multi, easy_new(m->headers)) ==
		    CURLM_OK)
			active++;
	while (active > 0) {
		(void)curl_multi_perform(multi, &running);
		while ((msg = curl_multi_info_read(multi, &queued))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			c = msg->easy_handle;
			if (msg->data.result != CURLE_OK)
				atomic_fetch_add(&failed, 1);
			(void)curl_multi_remove_handle(multi, c);
			active--;
			if (take() &&
			    curl_multi_add_handle(multi, c) == CURLM_OK)
				active++;
			else
				curl_easy_cleanup(c);
		}
		if (running)
			(void)curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	(void)curl_multi_cleanup(multi);
	return NULL;
}

static double
now_s(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A field of /proc/self/status in kB ("RssAnon", "VmHWM"), or -1. */
static long
status_kb(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	(void)fclose(f);
	return kb;
}

int
main(int argc, char **argv)
{
	pthread_t threads[MAX_CONNECTIONS];
	struct multi_arg margs[MAX_CONNECTIONS];
	struct curl_slist *headers = NULL;
	int is_multi, n, conns, nthreads, i, per;
	long anon_peak = 0;
	struct rusage ru;
	pthread_attr_t attr;
	double t0, wall, cpu;

	if (argc < 5 || (strcmp(argv[1], "threads") != 0 &&
	    strcmp(argv[1], "multi") != 0)) {
		fprintf(stderr, "usage: curl-modes threads|multi URL N C [T]\n");
		return 2;
	}
	is_multi = strcmp(argv[1], "multi") == 0;
	url = argv[2];
	n = atoi(argv[3]);
	conns = atoi(argv[4]);
	nthreads = is_multi ? (argc > 5 ? atoi(argv[5]) : 1) : conns;
	if (n < 1 || conns < 1 || conns > MAX_CONNECTIONS || nthreads < 1 ||
	    nthreads > conns) {
		fprintf(stderr, "curl-modes: bad N, C or T\n");
		return 2;
	}
	memset(body, 'a', BODY_BYTES);
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	atomic_init(&left, n);
	atomic_init(&failed, 0);

	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setstacksize(&attr, 512 * 1024);
	t0 = now_s();
	for (i = 0; i < nthreads; i++) {
		per = conns / nthreads + (i < conns % nthreads);
		margs[i] = (struct multi_arg){ headers, per };
		if (pthread_create(&threads[i], &attr, is_multi ? multi_main :
		    thread_main, is_multi ? (void *)&margs[i] :
		    (void *)headers) != 0) {
			fprintf(stderr, "curl-modes: pthread_create failed\n");
			return 1;
		}
	}
	/* The private memory with every connection busy, near the end. */
	while (atomic_load(&left) > conns) {
		long kb = status_kb("RssAnon");

		if (kb > anon_peak)
			anon_peak = kb;
		(void)nanosleep(&(struct timespec){ 0, 50 * 1000000 }, NULL);
	}
	for (i = 0; i < nthreads; i++)
		(void)pthread_join(threads[i], NULL);
	wall = now_s() - t0;
	(void)getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	/* Not ru_maxrss: Linux carries that over from before exec(). */
	printf("%-7s N=%d C=%d T=%d  wall %.3f s  CPU %.1f us/request  "
	    "peak RSS %.1f MB  anon %.1f MB  failed %ld\n", argv[1], n, conns,
	    nthreads, wall, cpu / n * 1e6, status_kb("VmHWM") / 1024.0,
	    anon_peak / 1024.0, atomic_load(&failed));
	curl_slist_free_all(headers);
	curl_global_cleanup();
	return atomic_load(&failed) ? 1 : 0;
}
