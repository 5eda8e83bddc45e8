/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_SETTINGS_H
#define GISTD_SETTINGS_H

/*
 * The settings file, read into an immutable snapshot.  A snapshot is never
 * changed after settings_load() returns: a reload builds a new one and
 * swaps it in, and each job holds a reference to the one it started with.
 * settings_ref() and settings_unref() may be called from any thread; the
 * loading itself runs on the main thread.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum settings_provider {
	SETTINGS_PROVIDER_OPENAI,	/* any OpenAI-compatible API */
	SETTINGS_PROVIDER_EXTRACTIVE,	/* built in, offline */
};

struct settings {
	atomic_int refs;
	char *path;			/* the file this was read from */

	char *inbox;
	char *outbox;
	char *failed_dir;		/* "" = leave failed inputs in place */
	char *done_dir;			/* "" = keep inputs in the inbox */
	int64_t workers;
	char **ignore;
	size_t n_ignore;
	int64_t max_file_size;
	int64_t max_input_chars;
	char *prompt;
	char *system_prompt;
	enum settings_provider provider;

	char *base_url;
	char *key_file;
	char *model;
	int64_t max_tokens;
	int64_t timeout_ms;
	int64_t connect_timeout_ms;
	char *ca_file;

	int64_t retry_initial_delay_ms;
	int64_t retry_max_delay_ms;
	int64_t retry_max_age_ms;

	int64_t requests_per_minute;
	int64_t tokens_per_minute;
	int64_t shutdown_timeout_ms;

	char *api_key;			/* NULL when none was found */
	char *api_key_source;		/* where it came from, for logs */
};

/* Receives one problem, already formatted as "FILE:LINE: message". */
typedef void settings_problem_fn(const char *problem, void *userdata);

int settings_load(const char *path, settings_problem_fn *report,
    void *userdata, struct settings **ret_settings);
int settings_defaults(struct settings **ret_settings);
struct settings *settings_ref(struct settings *s);
void settings_unref(struct settings *s);
bool settings_is_ignored(const struct settings *s, const char *name);

#endif
