/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_TEXT_H
#define GISTD_TEXT_H

/*
 * What gistd accepts as text: strict UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) without NUL bytes.  Pure functions,
 * callable from any thread.
 */

#include <stdbool.h>
#include <stddef.h>

enum text_verdict {
	TEXT_OK,
	TEXT_EMPTY,
	TEXT_BINARY,		/* a NUL byte */
	TEXT_INVALID_UTF8,
};

size_t text_utf8_sequence(const unsigned char *p, size_t avail);
enum text_verdict text_cut(const char *buf, size_t len, size_t max_chars,
    bool is_truncated, size_t *ret_len);
const char *text_verdict_reason(enum text_verdict v);

#endif
