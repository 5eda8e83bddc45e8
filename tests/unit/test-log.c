// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Tests of how names are escaped for logs: whatever bytes a name holds,
 * the escaped form is one line of printable text that says which bytes
 * they were.
 */

#include <string.h>

#include "log.h"
#include "tap.h"

static const char *
test_escape(const char *name)
{
	static char buf[LOG_NAME_MAX];

	return log_escape(name, buf, sizeof(buf));
}

static void
test_log_escape_keeps_plain_and_cjk_names(void)
{
	TAP_CHECK(strcmp(test_escape("report 1.txt"), "report 1.txt") == 0);
	TAP_CHECK(strcmp(test_escape("\xe6\x8a\xa5\xe5\x91\x8a.txt"),
	    "\xe6\x8a\xa5\xe5\x91\x8a.txt") == 0);
}

static void
test_log_escape_escapes_c0_controls_and_backslash(void)
{
	TAP_CHECK(strcmp(test_escape("a\nb\tc\\d\x1b[31m\x7f"),
	    "a\\nb\\tc\\\\d\\x1b[31m\\x7f") == 0);
}

static void
test_log_escape_escapes_c1_controls_and_line_separators(void)
{
	TAP_CHECK(strcmp(test_escape("a\xc2\x85" "b\xc2\x9b" "c"),
	    "a\\xc2\\x85b\\xc2\\x9bc") == 0);
	TAP_CHECK(strcmp(test_escape("a\xe2\x80\xa8" "b"),
	    "a\\xe2\\x80\\xa8b") == 0);
	TAP_CHECK(strcmp(test_escape("\xc2\xa0"), "\xc2\xa0") == 0);
}

static void
test_log_escape_escapes_invalid_utf8(void)
{
	TAP_CHECK(strcmp(test_escape("caf\xe9.txt"), "caf\\xe9.txt") == 0);
	TAP_CHECK(strcmp(test_escape("\xed\xa0\x80"),
	    "\\xed\\xa0\\x80") == 0);
}

static void
test_log_escape_fits_the_worst_name(void)
{
	char name[256];
	const char *out;

	memset(name, 0x01, 255);
	name[255] = '\0';
	out = test_escape(name);
	TAP_CHECK(strlen(out) == 255 * 4);
}

int
main(void)
{
	TAP_RUN(test_log_escape_keeps_plain_and_cjk_names);
	TAP_RUN(test_log_escape_escapes_c0_controls_and_backslash);
	TAP_RUN(test_log_escape_escapes_c1_controls_and_line_separators);
	TAP_RUN(test_log_escape_escapes_invalid_utf8);
	TAP_RUN(test_log_escape_fits_the_worst_name);
	return tap_done();
}
