// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * How many durable files a file system takes per second, written the way
 * gistd writes a summary: create a temporary, write about 300 bytes,
 * fsync(2) it, rename it, flush the directory.  T threads share N files.
 * With B > 1 a thread writes B temporaries, starts their write-back with
 * sync_file_range(2), and only then flushes, renames and flushes the
 * directory once for all B: a group commit inside one thread, to judge
 * whether gistd would gain from one before it is built.  No other work,
 * no network: the file system's part of a request alone.
 *
 * Usage: durable-writes DIR T B N
 *   DIR must exist and be empty enough to hold N files; they are left.
 */

#define _GNU_SOURCE 1

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 1024
#define MAX_BATCH 64
#define TEXT_BYTES 300

static const char *dir;
static int batch;
static atomic_int left;
static atomic_int failed;
static char text[TEXT_BYTES];

struct staged {
	int fd;
	char tmp[512];
	char final[512];
};

/* Writes one temporary; 0, or -1 when it could not be made. */
static int
stage(struct staged *s, long id, unsigned long serial)
{
	(void)snprintf(s->tmp, sizeof(s->tmp), "%s/.dw-%ld-%lu", dir, id,
	    serial);
	(void)snprintf(s->final, sizeof(s->final), "%s/dw-%ld-%lu", dir, id,
	    serial);
	s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (s->fd < 0 || write(s->fd, text, sizeof(text)) !=
	    (ssize_t)sizeof(text))
		return -1;
	if (batch > 1)
		(void)sync_file_range(s->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
}

/* Flushes and publishes n temporaries, then flushes the directory. */
static void
commit(struct staged *s, int n)
{
	int i, fd;

	for (i = 0; i < n; i++) {
		if (fsync(s[i].fd) < 0 || close(s[i].fd) < 0 ||
		    rename(s[i].tmp, s[i].final) < 0)
			atomic_fetch_add(&failed, 1);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		atomic_fetch_add(&failed, 1);
	if (fd >= 0)
		(void)close(fd);
}

static void *
thread_main(void *arg)
{
	struct staged s[MAX_BATCH];
	long id = (long)arg;
	unsigned long serial = 0;
	int n;

	for (;;) {
		n = 0;
		while (n < batch && atomic_fetch_sub(&left, 1) > 0) {
			if (stage(&s[n], id, serial++) < 0) {
				atomic_fetch_add(&failed, 1);
				continue;
			}
			n++;
		}
		if (n == 0)
			break;
		commit(s, n);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t threads[MAX_THREADS];
	struct timespec a, b;
	int nthreads, n, i;
	double s;

	if (argc != 5) {
		fprintf(stderr, "usage: durable-writes DIR THREADS BATCH N\n");
		return 2;
	}
	dir = argv[1];
	nthreads = atoi(argv[2]);
	batch = atoi(argv[3]);
	n = atoi(argv[4]);
	if (nthreads < 1 || nthreads > MAX_THREADS || batch < 1 ||
	    batch > MAX_BATCH || n < 1) {
		fprintf(stderr, "durable-writes: 1-%d threads, batch 1-%d\n",
		    MAX_THREADS, MAX_BATCH);
		return 2;
	}
	memset(text, 'x', sizeof(text));
	atomic_store(&left, n);
	(void)clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i], NULL, thread_main,
		    (void *)(long)i) != 0) {
			fprintf(stderr, "durable-writes: no thread\n");
			return 1;
		}
	for (i = 0; i < nthreads; i++)
		(void)pthread_join(threads[i], NULL);
	(void)clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("threads %d, batch %d: %d files in %.2f s, %.0f files/s, "
	    "%d failed\n", nthreads, batch, n, s, n / s,
	    atomic_load(&failed));
	return atomic_load(&failed) ? 1 : 0;
}
