// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Deciding whether an input is text, and cutting it to a number of
 * characters without splitting one.  Only strict UTF-8 passes: overlong
 * forms, UTF-16 surrogates and code points past U+10FFFF are invalid, as
 * is any NUL byte (the mark of a binary file).  Pure functions; any thread.
 */

#include <stdbool.h>

#include "text.h"

/*
 * Returns the length (1 to 4) of the valid UTF-8 sequence that starts at p,
 * looking at no more than avail bytes, or 0 when the bytes there are not
 * one (invalid, or cut short by the end of the buffer).
 */
size_t
text_utf8_sequence(const unsigned char *p, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (avail == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;	/* continuation byte, overlong lead, or too big */
	n = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;

	/* The second byte's range is what rules out overlong forms,
	 * surrogates and code points above U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static bool
text_is_blank(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' &&
		    buf[i] != '\r' && buf[i] != '\f' && buf[i] != '\v')
			return false;
	return true;
}

/*
 * Checks the first max_chars characters of buf and stores in *ret_len how
 * many bytes they take.  is_truncated says that buf is only the start of a
 * longer input, so a sequence cut by the end of buf is not an error.
 * Returns TEXT_OK, or the reason the input is not text; an input of only
 * white space counts as empty.  *ret_len is written only for TEXT_OK.
 */
enum text_verdict
text_cut(const char *buf, size_t len, size_t max_chars, bool is_truncated,
    size_t *ret_len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t off = 0, chars = 0, n;

	while (off < len && chars < max_chars) {
		if (p[off] == '\0')
			return TEXT_BINARY;
		n = text_utf8_sequence(p + off, len - off);
		if (n == 0) {
			if (is_truncated && len - off < 4)
				break;
			return TEXT_INVALID_UTF8;
		}
		off += n;
		chars++;
	}
	if (text_is_blank(buf, off))
		return TEXT_EMPTY;
	*ret_len = off;
	return TEXT_OK;
}

/* The one-line reason recorded for a file that is not text. */
const char *
text_verdict_reason(enum text_verdict v)
{
	switch (v) {
	case TEXT_OK:
		return "text";
	case TEXT_EMPTY:
		return "empty file";
	case TEXT_BINARY:
		return "binary file (contains a NUL byte)";
	case TEXT_INVALID_UTF8:
		return "invalid UTF-8";
	}
	return "unknown";
}
