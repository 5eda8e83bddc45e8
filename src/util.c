// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Helpers too small for a module of their own: clocks, path joining, a
 * per-thread random generator and strerror_r.  Every function is reentrant
 * and may be called from any thread.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Milliseconds on the monotonic clock; never goes back. */
int64_t
util_now_ms(void)
{
	return util_now_us() / 1000;
}

/* Microseconds on the monotonic clock. */
int64_t
util_now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Writes "dir/name[suffix]" into buf.  Returns 0, or -ENAMETOOLONG when it
 * does not fit, in which case buf holds nothing useful.
 */
int
util_join_path(char *buf, size_t size, const char *dir, const char *name,
    const char *suffix)
{
	int n;

	n = snprintf(buf, size, "%s/%s%s", dir, name, suffix ? suffix : "");
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Returns "dir/name[suffix]" in memory the caller frees, or NULL when out
 * of memory.  Workers build paths this way rather than in PATH_MAX
 * buffers on their stacks: each stack page a worker ever touches stays
 * resident, and with hundreds of workers that adds up.
 */
char *
util_path_new(const char *dir, const char *name, const char *suffix)
{
	size_t size = strlen(dir) + strlen(name) + 2;
	char *path;

	if (suffix)
		size += strlen(suffix);
	path = malloc(size);
	if (path && util_join_path(path, size, dir, name, suffix) < 0) {
		free(path);
		return NULL;
	}
	return path;
}

/*
 * Returns the next number of a xorshift64* sequence kept in *state, which
 * must start non-zero.  Good enough for jitter, not for secrets.
 */
uint64_t
util_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* strerror() for threads: the text of errnum, in buf, which is returned. */
char *
util_strerror(int errnum, char *buf, size_t size)
{
	if (errnum < 0)
		errnum = -errnum;
	/* The GNU strerror_r may return a static string instead of filling buf. */
	return strerror_r(errnum, buf, size);
}
