/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_OUTBOX_H
#define GISTD_OUTBOX_H

/*
 * Where results go: the atomic, durable summary write, the check that a
 * summary is current, and moving inputs to done_dir or failed_dir.  Workers
 * call these; the stale-temporary sweep runs on the main thread at start.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "settings.h"

#define OUTBOX_SUFFIX ".summary"
#define OUTBOX_ERROR_SUFFIX ".error"
#define OUTBOX_TEMP_PREFIX ".gistd-"

int outbox_summary_is_current(const char *outbox, const char *name,
    const struct stat *input, bool is_strict);
int outbox_write_summary(const char *outbox, const char *name,
    const char *text, size_t len);
int outbox_fail_input(const struct settings *s, const char *name,
    const char *reason);
int outbox_finish_input(const struct settings *s, const char *name);
int outbox_remove_stale(const char *outbox);

#endif
