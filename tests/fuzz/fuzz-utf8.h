/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_FUZZ_UTF8_H
#define GISTD_FUZZ_UTF8_H

/*
 * A reference UTF-8 decoder for the fuzz targets, written from RFC 3629
 * rather than from src/text.c: it decodes the code point first and only
 * then asks whether it is allowed, where text.c checks byte ranges.  The
 * two must agree on every input.  Header-only, static functions.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The length of the valid sequence at p (1 to 4), or 0 when there is none
 * within avail bytes: a stray continuation byte, a bad lead byte, a
 * missing continuation byte, an overlong form, a surrogate, or a code
 * point past U+10FFFF.
 */
static inline size_t
fuzz_utf8_decode(const unsigned char *p, size_t avail, uint32_t *ret_cp)
{
	static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t cp;
	size_t n, i;

	if (avail == 0)
		return 0;
	if ((p[0] & 0x80) == 0x00) {
		n = 1;
		cp = p[0];
	} else if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min_cp[n] || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (ret_cp)
		*ret_cp = cp;
	return n;
}

/*
 * Whether the avail bytes at p (fewer than a whole sequence) could be the
 * start of a valid sequence that the end of the buffer cut apart.
 */
static inline bool
fuzz_utf8_is_prefix(const unsigned char *p, size_t avail)
{
	unsigned char buf[4];
	size_t n, i;

	if (avail == 0 || avail >= 4)
		return false;
	n = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 :
	    (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n <= avail)
		return false;
	/* Try every continuation byte for the rest: cheap enough for the
	 * at most 64 * 64 completions of a 2-byte prefix. */
	for (i = 0; i < avail; i++)
		buf[i] = p[i];
	if (n - avail == 1) {
		for (buf[avail] = 0x80; buf[avail] <= 0xbf; buf[avail]++)
			if (fuzz_utf8_decode(buf, n, NULL) == n)
				return true;
		return false;
	}
	for (buf[avail] = 0x80; buf[avail] <= 0xbf; buf[avail]++) {
		for (i = avail + 1; i < n; i++)
			buf[i] = 0x80;
		for (buf[n - 1] = 0x80; buf[n - 1] <= 0xbf; buf[n - 1]++)
			if (fuzz_utf8_decode(buf, n, NULL) == n)
				return true;
	}
	return false;
}

/* Whether all len bytes at p are valid UTF-8 (NUL bytes included). */
static inline bool
fuzz_utf8_is_valid(const unsigned char *p, size_t len)
{
	size_t off = 0, n;

	while (off < len) {
		n = fuzz_utf8_decode(p + off, len - off, NULL);
		if (n == 0)
			return false;
		off += n;
	}
	return true;
}

#endif
