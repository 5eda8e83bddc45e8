// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Times the extractive provider alone: src/extract.c, compiled in, runs on
 * the whole text of each file named on the command line (no cut to
 * max_input_chars, no file system in the measured part), R times each.
 * Each call is timed with the thread's CPU clock; the median, the 90th
 * percentile and the largest, in microseconds, are printed with the mean
 * size of the texts.
 *
 * Usage: extract-bench [-r REPEATS] FILE...
 */

#define _GNU_SOURCE 1

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extract.h"

/* Texts larger than this are cut: gistd never reads more than 4 bytes per
 * character of max_input_chars, and a benchmark need not either. */
#define BENCH_TEXT_MAX (1024 * 1024)

static double
bench_cpu_us(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int
bench_compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Reads at most BENCH_TEXT_MAX bytes of path into buf; returns the count. */
static ssize_t
bench_read(const char *path, char *buf)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, BENCH_TEXT_MAX, f);
	(void)fclose(f);
	return (ssize_t)n;
}

int
main(int argc, char **argv)
{
	static char text[BENCH_TEXT_MAX];
	double *us, total_bytes = 0;
	int repeats = 3, opt, i, r;
	size_t n = 0, count;

	while ((opt = getopt(argc, argv, "r:")) != -1) {
		if (opt != 'r' || (repeats = atoi(optarg)) < 1) {
			fprintf(stderr, "usage: extract-bench [-r REPEATS] "
			    "FILE...\n");
			return 2;
		}
	}
	count = (size_t)(argc - optind) * (size_t)repeats;
	if (count == 0 || !(us = malloc(count * sizeof(*us))))
		return 2;
	for (i = optind; i < argc; i++) {
		ssize_t len = bench_read(argv[i], text);

		if (len < 0) {
			fprintf(stderr, "extract-bench: %s: %s\n", argv[i],
			    strerror((int)-len));
			return 1;
		}
		total_bytes += (double)len;
		for (r = 0; r < repeats; r++) {
			char *summary = NULL;
			double t0 = bench_cpu_us();
			int rc = extract_summarize(text, (size_t)len, &summary);

			us[n++] = bench_cpu_us() - t0;
			free(summary);
			if (rc < 0) {
				fprintf(stderr, "extract-bench: %s: no summary "
				    "(%d)\n", argv[i], rc);
				return 1;
			}
		}
	}
	qsort(us, n, sizeof(*us), bench_compare);
	printf("texts %d, mean %.0f bytes, calls %zu\n", argc - optind,
	    total_bytes / (argc - optind), n);
	printf("CPU per call: median %.1f us, p90 %.1f us, max %.1f us\n",
	    us[n / 2], us[n * 9 / 10], us[n - 1]);
	free(us);
	return 0;
}
