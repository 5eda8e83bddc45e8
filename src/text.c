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
 * The length of the sequence a lead byte of 0xc2 to 0xf4 starts, and the
 * range of its second byte; 0 for any other lead byte (a continuation
 * byte, an overlong lead, or too big).  The second byte's range is what
 * rules out overlong forms, surrogates and code points above U+10FFFF.
 */
static size_t
text_utf8_lead(unsigned char lead, unsigned char *ret_lo, unsigned char *ret_hi)
{
	*ret_lo = lead == 0xe0 ? 0xa0 : lead == 0xf0 ? 0x90 : 0x80;
	*ret_hi = lead == 0xed ? 0x9f : lead == 0xf4 ? 0x8f : 0xbf;
	if (lead < 0xc2 || lead > 0xf4)
		return 0;
	return lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

/* How many of the avail bytes after the lead fit its sequence. */
static size_t
text_utf8_fitting(const unsigned char *p, size_t avail, size_t n,
    unsigned char lo, unsigned char hi)
{
	size_t i;

	for (i = 1; i < n && i < avail; i++)
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
			return i - 1;
	return i - 1;
}

/*
 * Returns the length (1 to 4) of the valid UTF-8 sequence that starts at p,
 * looking at no more than avail bytes, or 0 when the bytes there are not
 * one (invalid, or cut short by the end of the buffer).
 */
size_t
text_utf8_sequence(const unsigned char *p, size_t avail)
{
	unsigned char lo, hi;
	size_t n;

	if (avail == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	n = text_utf8_lead(p[0], &lo, &hi);
	if (n == 0 || avail < n || text_utf8_fitting(p, avail, n, lo, hi) !=
	    n - 1)
		return 0;
	return n;
}

/*
 * Whether the avail bytes at p, which end the buffer, are the start of a
 * valid sequence that the end cut short.
 */
static bool
text_utf8_is_cut(const unsigned char *p, size_t avail)
{
	unsigned char lo, hi;
	size_t n;

	if (avail == 0)
		return false;
	n = text_utf8_lead(p[0], &lo, &hi);
	return n > avail && text_utf8_fitting(p, avail, n, lo, hi) ==
	    avail - 1;
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
 * How many bytes from p on, up to limit, are ASCII other than NUL: each
 * of them is a whole character.  Most text is mostly such runs, and this
 * loop takes them without the work of decoding a sequence per byte.
 */
static size_t
text_ascii_run(const unsigned char *p, size_t limit)
{
	size_t i = 0;

	while (i < limit && (unsigned char)(p[i] - 1) < 0x7f)
		i++;
	return i;
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
		n = text_ascii_run(p + off, len - off < max_chars - chars ?
		    len - off : max_chars - chars);
		off += n;
		chars += n;
		if (off == len || chars == max_chars)
			break;
		if (p[off] == '\0')
			return TEXT_BINARY;
		n = text_utf8_sequence(p + off, len - off);
		if (n == 0) {
			if (is_truncated && text_utf8_is_cut(p + off,
			    len - off))
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
