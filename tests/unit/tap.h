/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_TAP_H
#define GISTD_TAP_H

/*
 * A minimal TAP producer for the unit tests.  Each test function is run by
 * TAP_RUN(); a failed TAP_CHECK() marks that test "not ok" and says where,
 * and tap_done() returns the exit status for main().
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_count;
static int tap_failed;
static bool tap_current_failed;

#define TAP_CHECK(cond) do { \
	if (!(cond)) { \
		printf("# %s:%d: check failed: %s\n", __FILE__, __LINE__, \
		    #cond); \
		tap_current_failed = true; \
	} \
} while (0)

#define TAP_RUN(fn) do { \
	tap_current_failed = false; \
	fn(); \
	tap_count++; \
	if (tap_current_failed) \
		tap_failed++; \
	printf("%s %d - %s\n", tap_current_failed ? "not ok" : "ok", \
	    tap_count, #fn); \
	fflush(stdout); \
} while (0)

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
