/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_UTIL_H
#define GISTD_UTIL_H

/*
 * Small helpers with no better home: the monotonic clock, bounded string
 * formatting of paths.  Any thread may call them.
 */

#include <stddef.h>
#include <stdint.h>

#define UTIL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

int64_t util_now_ms(void);
int64_t util_now_us(void);
int util_join_path(char *buf, size_t size, const char *dir, const char *name,
    const char *suffix);
char *util_path_new(const char *dir, const char *name, const char *suffix);
uint64_t util_random(uint64_t *state);
char *util_strerror(int errnum, char *buf, size_t size);

#endif
