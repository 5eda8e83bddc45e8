// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Tests of what counts as text and how it is cut: strict UTF-8, NUL bytes,
 * empty inputs, and cuts that never split a character.
 */

#include <string.h>

#include "tap.h"
#include "text.h"

static enum text_verdict
test_cut(const char *s, size_t len, size_t max_chars, size_t *ret_len)
{
	*ret_len = (size_t)-1;
	return text_cut(s, len, max_chars, false, ret_len);
}

static void
test_text_cut_counts_characters_not_bytes(void)
{
	const char *s = "\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c!";
	size_t len;

	TAP_CHECK(test_cut(s, strlen(s), 2, &len) == TEXT_OK);
	TAP_CHECK(len == 6);
	TAP_CHECK(test_cut(s, strlen(s), 4, &len) == TEXT_OK);
	TAP_CHECK(len == 12);
	TAP_CHECK(test_cut(s, strlen(s), 100, &len) == TEXT_OK);
	TAP_CHECK(len == strlen(s));
}

static void
test_text_cut_keeps_four_byte_characters_whole(void)
{
	const char *s = "a\xf0\x9f\x98\x80" "b";
	size_t len;

	TAP_CHECK(test_cut(s, strlen(s), 2, &len) == TEXT_OK);
	TAP_CHECK(len == 5);
}

static void
test_text_cut_rejects_nul_as_binary(void)
{
	size_t len;

	TAP_CHECK(test_cut("ab\0cd", 5, 100, &len) == TEXT_BINARY);
	TAP_CHECK(len == (size_t)-1);
}

static void
test_text_cut_rejects_invalid_utf8(void)
{
	static const char *const bad[] = {
		"\xc0\xaf",		/* overlong '/' */
		"\xe0\x80\xaf",		/* overlong, three bytes */
		"\xed\xa0\x80",		/* surrogate U+D800 */
		"\xf4\x90\x80\x80",	/* above U+10FFFF */
		"\x80",			/* lone continuation */
		"\xff",
		"ok \xe4\xbd",		/* cut short at the end */
	};
	size_t i, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		TAP_CHECK(test_cut(bad[i], strlen(bad[i]), 100, &len) ==
		    TEXT_INVALID_UTF8);
}

static void
test_text_cut_accepts_edges_of_valid_ranges(void)
{
	const char *s = "\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\xc2\x80";
	size_t len;

	TAP_CHECK(test_cut(s, strlen(s), 100, &len) == TEXT_OK);
	TAP_CHECK(len == strlen(s));
}

static void
test_text_cut_ignores_bad_bytes_past_the_cut(void)
{
	size_t len;

	TAP_CHECK(test_cut("abc\xff", 4, 3, &len) == TEXT_OK);
	TAP_CHECK(len == 3);
}

static void
test_text_cut_calls_white_space_empty(void)
{
	size_t len;

	TAP_CHECK(test_cut("", 0, 100, &len) == TEXT_EMPTY);
	TAP_CHECK(test_cut(" \n\t\r\n", 5, 100, &len) == TEXT_EMPTY);
	TAP_CHECK(test_cut(" x", 2, 100, &len) == TEXT_OK);
}

static void
test_text_cut_allows_a_split_character_in_a_truncated_buffer(void)
{
	size_t len = 0;

	TAP_CHECK(text_cut("ab\xe4\xbd", 4, 100, true, &len) == TEXT_OK);
	TAP_CHECK(len == 2);
}

/* Only the start of a valid sequence may be cut off, not any short tail. */
static void
test_text_cut_rejects_an_invalid_tail_in_a_truncated_buffer(void)
{
	size_t len = 0;

	TAP_CHECK(text_cut("ab\xf8", 3, 100, true, &len) ==
	    TEXT_INVALID_UTF8);
	TAP_CHECK(text_cut("ab\x80", 3, 100, true, &len) ==
	    TEXT_INVALID_UTF8);
	/* 0xed 0xa0 could only go on as a surrogate. */
	TAP_CHECK(text_cut("ab\xed\xa0", 4, 100, true, &len) ==
	    TEXT_INVALID_UTF8);
	/* 0xf4 0x90 could only go on past U+10FFFF. */
	TAP_CHECK(text_cut("ab\xf4\x90", 4, 100, true, &len) ==
	    TEXT_INVALID_UTF8);
	TAP_CHECK(text_cut("ab\xf0\x9f\x98", 5, 100, true, &len) ==
	    TEXT_OK);
	TAP_CHECK(len == 2);
	TAP_CHECK(text_cut("ab\xed\x9f", 4, 100, true, &len) == TEXT_OK);
	TAP_CHECK(len == 2);
}

int
main(void)
{
	TAP_RUN(test_text_cut_counts_characters_not_bytes);
	TAP_RUN(test_text_cut_keeps_four_byte_characters_whole);
	TAP_RUN(test_text_cut_rejects_nul_as_binary);
	TAP_RUN(test_text_cut_rejects_invalid_utf8);
	TAP_RUN(test_text_cut_accepts_edges_of_valid_ranges);
	TAP_RUN(test_text_cut_ignores_bad_bytes_past_the_cut);
	TAP_RUN(test_text_cut_calls_white_space_empty);
	TAP_RUN(test_text_cut_allows_a_split_character_in_a_truncated_buffer);
	TAP_RUN(test_text_cut_rejects_an_invalid_tail_in_a_truncated_buffer);
	return tap_done();
}
