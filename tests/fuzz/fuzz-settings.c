// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * libFuzzer target for settings_load(): any file content, however broken,
 * must end in either a snapshot that keeps every documented limit, or a
 * failure with at least one problem reported, and never in a crash, a
 * leak or a hang.  Each input is written to a memfd (a /dev/shm file where
 * there is none) that settings_load() opens by its /proc/self/fd path, so
 * no disk is touched.
 *
 * Checks beyond "no crash":
 * - every problem is one line "PATH:LINE: message" or "PATH: message":
 *   it starts with the path, then ':', and has no control characters;
 * - success reports no problem, failure at least one (-ENOMEM aside);
 * - a snapshot holds every value within the range gistd.conf(5) gives,
 *   and its ignore patterns can be matched.
 *
 * key.c is replaced by a stub: api.key_file comes from the input, and the
 * real key_load() would open whatever path the fuzzer wrote (a FIFO, a
 * device).  tests/tooling/fuzz runs this in an empty directory, so that a
 * relative @include finds nothing.
 *
 * FUZZ_ALLOW_INCLUDE_EXIT skips inputs that hold "@include", for a long
 * run past a known bug: libconfig 1.5 calls exit(2) ("input in flex
 * scanner failed") when an included path is a directory.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "key.h"
#include "settings.h"

#define FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) \
			fuzz_fail(#cond, __LINE__); \
	} while (0)

static char fuzz_path[64];
static int fuzz_fd = -1;

struct fuzz_problems {
	int count;
};

static void
fuzz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz-settings.c:%d: check failed: %s\n", line, what);
	abort();
}

/* The stubs of key.c: no key, and a look at the path asked for. */
int
key_load(const char *key_file, char **ret_key, char **ret_source)
{
	FUZZ_CHECK(key_file != NULL);
	FUZZ_CHECK(strlen(key_file) <= 4096);
	*ret_source = strdup("stub");
	(void)ret_key;
	return -ENOKEY;
}

void
key_free(char *key)
{
	free(key);
}

void
key_take_environment(void)
{
}

static void
fuzz_on_problem(const char *problem, void *userdata)
{
	struct fuzz_problems *p = userdata;
	size_t n = strlen(fuzz_path), i;

	p->count++;
	FUZZ_CHECK(problem != NULL);
	FUZZ_CHECK(strncmp(problem, fuzz_path, n) == 0);
	FUZZ_CHECK(problem[n] == ':');
	if (problem[n + 1] != ' ') {
		/* A line number: digits, then ": ". */
		i = n + 1;
		FUZZ_CHECK(problem[i] >= '1' && problem[i] <= '9');
		while (problem[i] >= '0' && problem[i] <= '9')
			i++;
		FUZZ_CHECK(problem[i] == ':' && problem[i + 1] == ' ');
	}
	for (i = 0; problem[i] != '\0'; i++)
		FUZZ_CHECK((unsigned char)problem[i] >= 0x20 &&
		    problem[i] != 0x7f);
}

static bool
fuzz_has_scheme(const char *url)
{
	return strncmp(url, "http://", 7) == 0 ||
	    strncmp(url, "https://", 8) == 0;
}

/* Every limit of gistd.conf(5) holds in a loaded snapshot. */
static void
fuzz_check_snapshot(const struct settings *s)
{
	size_t i;

	FUZZ_CHECK(strcmp(s->path, fuzz_path) == 0);
	FUZZ_CHECK(s->inbox && s->inbox[0] && strlen(s->inbox) <= 3800);
	FUZZ_CHECK(s->outbox && s->outbox[0] && strlen(s->outbox) <= 3800);
	FUZZ_CHECK(s->failed_dir && strlen(s->failed_dir) <= 3800);
	FUZZ_CHECK(s->done_dir && strlen(s->done_dir) <= 3800);
	FUZZ_CHECK(strcmp(s->inbox, s->outbox) != 0);
	FUZZ_CHECK(s->workers >= 1 && s->workers <= 1024);
	FUZZ_CHECK(s->n_ignore <= 256);
	FUZZ_CHECK(s->ignore != NULL && s->ignore[s->n_ignore] == NULL);
	for (i = 0; i < s->n_ignore; i++)
		FUZZ_CHECK(s->ignore[i] && s->ignore[i][0] &&
		    strlen(s->ignore[i]) <= 255);
	FUZZ_CHECK(s->max_file_size >= 1 && s->max_file_size <= 1LL << 40);
	FUZZ_CHECK(s->max_input_chars >= 1 && s->max_input_chars <= 1 << 20);
	FUZZ_CHECK(s->prompt && s->system_prompt);
	FUZZ_CHECK(s->provider == SETTINGS_PROVIDER_OPENAI ||
	    s->provider == SETTINGS_PROVIDER_EXTRACTIVE);
	FUZZ_CHECK(s->base_url && fuzz_has_scheme(s->base_url));
	FUZZ_CHECK(s->key_file && s->model && s->model[0] && s->ca_file);
	FUZZ_CHECK(s->max_tokens >= 1 && s->max_tokens <= 1000000);
	FUZZ_CHECK(s->timeout_ms >= 1 && s->timeout_ms <= 86400000);
	FUZZ_CHECK(s->connect_timeout_ms >= 1 &&
	    s->connect_timeout_ms <= 3600000);
	FUZZ_CHECK(s->retry_initial_delay_ms >= 1 &&
	    s->retry_initial_delay_ms <= 86400000);
	FUZZ_CHECK(s->retry_max_delay_ms >= s->retry_initial_delay_ms &&
	    s->retry_max_delay_ms <= 7 * 86400000LL);
	FUZZ_CHECK(s->retry_max_age_ms >= 1 &&
	    s->retry_max_age_ms <= 365 * 86400000LL);
	FUZZ_CHECK(s->requests_per_minute >= 0 &&
	    s->requests_per_minute <= 1000000);
	FUZZ_CHECK(s->tokens_per_minute >= 0 &&
	    s->tokens_per_minute <= 1000000000);
	FUZZ_CHECK(s->shutdown_timeout_ms >= 0 &&
	    s->shutdown_timeout_ms <= 3600000);
	FUZZ_CHECK(s->api_key == NULL);

	/* The patterns are used on every name the inbox sees. */
	(void)settings_is_ignored(s, "a.txt");
	(void)settings_is_ignored(s, ".hidden");
	(void)settings_is_ignored(s, "report.tmp");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_fd = memfd_create("fuzz-settings", MFD_CLOEXEC);
	if (fuzz_fd >= 0) {
		(void)snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d",
		    fuzz_fd);
	} else {
		(void)snprintf(fuzz_path, sizeof(fuzz_path),
		    "/dev/shm/fuzz-settings-%ld.conf", (long)getpid());
		fuzz_fd = open(fuzz_path, O_RDWR | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600);
		if (fuzz_fd < 0 || unlink(fuzz_path) < 0) {
			perror(fuzz_path);
			exit(1);
		}
		/* Unlinked: reopen through /proc, which still finds it. */
		(void)snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d",
		    fuzz_fd);
	}

	(void)unsetenv("OPENAI_API_KEY");
	(void)unsetenv("CREDENTIALS_DIRECTORY");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_problems problems = { 0 };
	struct settings *s = NULL;
	int r;

#ifdef FUZZ_ALLOW_INCLUDE_EXIT
	if (memmem(data, size, "@include", 8))
		return 0;
#endif
	if (ftruncate(fuzz_fd, 0) < 0 ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		abort();

	r = settings_load(fuzz_path, fuzz_on_problem, &problems, &s);
	if (r == 0) {
		FUZZ_CHECK(s != NULL);
		FUZZ_CHECK(problems.count == 0);
		fuzz_check_snapshot(s);
	} else {
		FUZZ_CHECK(r < 0);
		FUZZ_CHECK(s == NULL);
		FUZZ_CHECK(problems.count > 0 || r == -ENOMEM);
	}
	settings_unref(s);
	return 0;
}
