/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_EXTRACT_H
#define GISTD_EXTRACT_H

/*
 * The built-in "extractive" provider: picks the sentence (or, for log-like
 * text, the line) that best represents a text, with no network and no key.
 * Pure and reentrant; workers call it directly.
 */

#include <stddef.h>

/* A summary longer than this many characters is cut and ends in "...". */
#define EXTRACT_SUMMARY_MAX_CHARS 300

int extract_summarize(const char *text, size_t len, char **ret_summary);

#endif
