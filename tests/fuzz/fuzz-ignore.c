// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * libFuzzer target for what gistd does with a name and the first bytes of
 * a file before any request: the ignore patterns (settings_is_ignored),
 * the UTF-8 checks (text_utf8_sequence, text_cut) and the escaping of
 * names for logs (log_escape).  Names come from whoever can write to the
 * inbox, so any byte but NUL and '/' is fair.
 *
 * Input: byte 0 packs the number of patterns (bits 0-2), whether the text
 * is the start of a longer file (bit 3) and a max_chars choice (bits 4-7).
 * The rest is both the text for text_cut() and, split at NUL bytes, the
 * patterns followed by the names.
 *
 * Everything is checked against references written here from the
 * documentation, not from src/:
 * - a UTF-8 decoder from RFC 3629 (fuzz-utf8.h) for text_utf8_sequence()
 *   and text_cut(): validity, verdict and cut length must agree;
 * - a glob matcher for patterns of literals, '?', '*' and '\' escapes with
 *   FNM_PERIOD in the C locale gistd runs in (bracket expressions are
 *   matched but left unchecked: glibc's handling of a malformed one is its
 *   own);
 * - the default patterns, which must ignore exactly the names that start
 *   with '.' or end in .tmp, .part, .swp or ~;
 * - log_escape() output is valid UTF-8 without control characters (C0,
 *   DEL, C1) or line separators (U+2028, U+2029), and undoing its escapes
 *   gives the name back whole.
 *
 * FUZZ_ALLOW_LENIENT_TAIL lets a long run explore past a known bug: any 1
 * to 3 bytes at the end of a truncated buffer may be cut off, as text.c
 * does, where text.h promises that only a sequence cut by the end of the
 * buffer is (the start of a valid one).
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-utf8.h"
#include "log.h"
#include "settings.h"
#include "text.h"

#define FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) \
			fuzz_fail(#cond, __LINE__); \
	} while (0)

#define FUZZ_FIELDS_MAX 24
#define FUZZ_NAME_MAX 255

static const size_t fuzz_max_chars[16] = {
	0, 1, 2, 3, 4, 5, 7, 8, 16, 31, 64, 100, 255, 1000, 2000, SIZE_MAX,
};

static struct settings *fuzz_defaults;

static void
fuzz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz-ignore.c:%d: check failed: %s\n", line, what);
	abort();
}

/* A glob of literals, '?', '*' and '\' with FNM_PERIOD, in the C locale.
 * Iterative, with one saved star, so it takes quadratic time at worst. */
static bool
fuzz_glob(const char *pat, const char *name)
{
	const char *p = pat, *n = name, *star_p = NULL, *star_n = NULL;

	/* A leading dot must be matched by a literal dot. */
	if (name[0] == '.' && pat[0] != '.' &&
	    !(pat[0] == '\\' && pat[1] == '.'))
		return false;
	while (*n) {
		if (*p == '*') {
			star_p = ++p;
			star_n = n;
			continue;
		}
		if (*p == '?') {
			p++;
			n++;
			continue;
		}
		if (*p == '\\' && p[1] != '\0' && p[1] == *n) {
			p += 2;
			n++;
			continue;
		}
		if (*p != '\0' && *p != '\\' && *p == *n) {
			p++;
			n++;
			continue;
		}
		if (!star_p)
			return false;
		p = star_p;
		n = ++star_n;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* Whether one of the default patterns ignores name, from SPEC.md. */
static bool
fuzz_is_default_ignored(const char *name)
{
	static const char *const suffixes[] = { ".tmp", ".part", ".swp", "~" };
	size_t len = strlen(name), i, n;

	if (name[0] == '.')
		return true;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		n = strlen(suffixes[i]);
		if (len >= n && memcmp(name + len - n, suffixes[i], n) == 0)
			return true;
	}
	return false;
}

static void
fuzz_check_sequences(const unsigned char *p, size_t len)
{
	size_t off, avail;

	FUZZ_CHECK(text_utf8_sequence(p, 0) == 0);
	for (off = 0; off < len; off++)
		for (avail = 1; avail <= 5 && off + avail <= len; avail++)
			FUZZ_CHECK(text_utf8_sequence(p + off, avail) ==
			    fuzz_utf8_decode(p + off, avail, NULL));
}

/* What text_cut() must say, from text.h. */
static enum text_verdict
fuzz_cut(const unsigned char *p, size_t len, size_t max_chars,
    bool is_truncated, size_t *ret_len)
{
	size_t off = 0, chars = 0, n, i;
	bool is_tail;

	while (off < len && chars < max_chars) {
		if (p[off] == '\0')
			return TEXT_BINARY;
		n = fuzz_utf8_decode(p + off, len - off, NULL);
		if (n == 0) {
#ifdef FUZZ_ALLOW_LENIENT_TAIL
			is_tail = len - off < 4;
#else
			is_tail = fuzz_utf8_is_prefix(p + off, len - off);
#endif
			if (is_truncated && is_tail)
				break;
			return TEXT_INVALID_UTF8;
		}
		off += n;
		chars++;
	}
	for (i = 0; i < off; i++)
		if (!strchr(" \t\n\r\f\v", p[i]))
			break;
	if (i == off)
		return TEXT_EMPTY;
	*ret_len = off;
	return TEXT_OK;
}

static void
fuzz_check_cut(const unsigned char *p, size_t len, size_t max_chars,
    bool is_truncated)
{
	size_t got_len = SIZE_MAX, want_len = SIZE_MAX;
	enum text_verdict got, want;

	got = text_cut((const char *)p, len, max_chars, is_truncated, &got_len);
	want = fuzz_cut(p, len, max_chars, is_truncated, &want_len);
	FUZZ_CHECK(got == want);
	FUZZ_CHECK(got_len == want_len);
	if (got == TEXT_OK) {
		FUZZ_CHECK(got_len <= len);
		FUZZ_CHECK(fuzz_utf8_is_valid(p, got_len));
		FUZZ_CHECK(memchr(p, '\0', got_len) == NULL);
	}
}

/* Undoes log_escape(); false when the text is no escape's output. */
static bool
fuzz_unescape(const char *in, char *out, size_t size, size_t *ret_len)
{
	size_t n = 0;
	unsigned int byte;

	while (*in) {
		if (n + 1 >= size)
			return false;
		if (*in != '\\') {
			out[n++] = *in++;
			continue;
		}
		if (in[1] == '\\' || in[1] == 'n' || in[1] == 't') {
			out[n++] = in[1] == '\\' ? '\\' : in[1] == 'n' ? '\n' :
			    '\t';
			in += 2;
			continue;
		}
		if (in[1] != 'x' || sscanf(in + 2, "%2x", &byte) != 1 ||
		    !in[2] || !in[3])
			return false;
		out[n++] = (char)byte;
		in += 4;
	}
	out[n] = '\0';
	*ret_len = n;
	return true;
}

static void
fuzz_check_escape(const char *name)
{
	char buf[LOG_NAME_MAX], back[LOG_NAME_MAX];
	const char *e = log_escape(name, buf, sizeof(buf));
	size_t len = strlen(e), back_len, i, n;
	uint32_t cp;

	FUZZ_CHECK(e == buf && len < sizeof(buf));
	for (i = 0; i < len; i += n) {
		n = fuzz_utf8_decode((const unsigned char *)e + i, len - i, &cp);
		FUZZ_CHECK(n > 0);
		FUZZ_CHECK(cp >= 0x20 && !(cp >= 0x7f && cp <= 0x9f) &&
		    cp != 0x2028 && cp != 0x2029);
	}
	FUZZ_CHECK(fuzz_unescape(e, back, sizeof(back), &back_len));
	/* "A buf of LOG_NAME_MAX bytes holds any file name" (log.h). */
	FUZZ_CHECK(back_len == strlen(name));
	FUZZ_CHECK(memcmp(back, name, back_len) == 0);
}

/* Splits at NUL bytes into NUL-terminated fields; returns their count. */
static size_t
fuzz_split(char *copy, size_t len, char **fields)
{
	size_t n = 0, start = 0, i;

	for (i = 0; i <= len && n < FUZZ_FIELDS_MAX; i++) {
		if (i < len && copy[i] != '\0')
			continue;
		copy[i] = '\0';
		fields[n++] = copy + start;
		start = i + 1;
	}
	return n;
}

/* Whether name could be a directory entry that reaches the inbox code. */
static bool
fuzz_is_name(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len <= FUZZ_NAME_MAX && !strchr(name, '/') &&
	    strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static void
fuzz_check_names(struct settings *s, char **fields, size_t n_fields,
    size_t n_patterns)
{
	bool is_plain = true, want;
	size_t i, j;

	for (j = 0; j < s->n_ignore; j++)
		if (strchr(s->ignore[j], '['))
			is_plain = false;
	for (i = n_patterns; i < n_fields; i++) {
		const char *name = fields[i];

		if (!fuzz_is_name(name))
			continue;
		fuzz_check_escape(name);
		FUZZ_CHECK(settings_is_ignored(fuzz_defaults, name) ==
		    fuzz_is_default_ignored(name));
		if (!is_plain) {
			(void)settings_is_ignored(s, name);
			continue;
		}
		want = false;
		for (j = 0; j < s->n_ignore; j++)
			want = want || fuzz_glob(s->ignore[j], name);
		FUZZ_CHECK(settings_is_ignored(s, name) == want);
	}
}

/* Puts the first n_patterns fields (1 to 255 bytes, as settings.c allows)
 * in place of the ignore list of s. */
static void
fuzz_set_patterns(struct settings *s, char **fields, size_t n_patterns)
{
	size_t i;

	for (i = 0; i < s->n_ignore; i++)
		free(s->ignore[i]);
	free(s->ignore);
	s->ignore = calloc(n_patterns + 1, sizeof(char *));
	if (!s->ignore)
		abort();
	s->n_ignore = 0;
	for (i = 0; i < n_patterns; i++) {
		if (fields[i][0] == '\0' || strlen(fields[i]) > 255)
			continue;
		s->ignore[s->n_ignore] = strdup(fields[i]);
		if (!s->ignore[s->n_ignore])
			abort();
		s->n_ignore++;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (settings_defaults(&fuzz_defaults) < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *fields[FUZZ_FIELDS_MAX];
	struct settings *s;
	size_t n_patterns, n_fields;
	char *copy;

	if (size == 0)
		return 0;
	n_patterns = data[0] & 7;

	/* The text, exactly as large as the input, so ASan sees overreads. */
	fuzz_check_sequences(data + 1, size - 1);
	fuzz_check_cut(data + 1, size - 1, fuzz_max_chars[data[0] >> 4],
	    (data[0] & 8) != 0);

	copy = malloc(size);
	if (!copy || settings_defaults(&s) < 0)
		abort();
	memcpy(copy, data + 1, size - 1);
	n_fields = fuzz_split(copy, size - 1, fields);
	if (n_patterns > n_fields)
		n_patterns = n_fields;
	fuzz_set_patterns(s, fields, n_patterns);
	fuzz_check_names(s, fields, n_fields, n_patterns);
	settings_unref(s);
	free(copy);
	return 0;
}
