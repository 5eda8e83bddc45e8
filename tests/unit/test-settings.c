// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Tests of the settings loader, the ignore patterns and the key lookup,
 * on real files in a temporary directory.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "settings.h"
#include "tap.h"

static char test_dir[] = "/tmp/gistd-test-settings-XXXXXX";

struct test_problems {
	int count;
	char last[1024];
	char all[8192];
};

static void
test_collect(const char *problem, void *userdata)
{
	struct test_problems *p = userdata;
	size_t used = strlen(p->all);

	p->count++;
	(void)snprintf(p->last, sizeof(p->last), "%s", problem);
	(void)snprintf(p->all + used, sizeof(p->all) - used, "%s\n", problem);
}

static const char *
test_write(const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", test_dir, name);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

static int
test_load(const char *text, struct test_problems *p, struct settings **ret)
{
	const char *path = test_write("gistd.conf", text);

	memset(p, 0, sizeof(*p));
	*ret = NULL;
	return settings_load(path, test_collect, p, ret);
}

static void
test_settings_defaults_match_the_spec(void)
{
	struct test_problems p;
	struct settings *s;

	TAP_CHECK(test_load("", &p, &s) == 0);
	if (!s)
		return;
	TAP_CHECK(strcmp(s->inbox, "/data/inbox") == 0);
	TAP_CHECK(strcmp(s->failed_dir, "/data/failed") == 0);
	TAP_CHECK(s->done_dir[0] == '\0');
	TAP_CHECK(s->workers == 20);
	TAP_CHECK(s->n_ignore == 5);
	TAP_CHECK(s->max_file_size == 10485760);
	TAP_CHECK(s->max_input_chars == 2000);
	TAP_CHECK(s->provider == SETTINGS_PROVIDER_OPENAI);
	TAP_CHECK(strcmp(s->base_url, "https://api.openai.com/v1") == 0);
	TAP_CHECK(strcmp(s->model, "gpt-4o-mini") == 0);
	TAP_CHECK(s->max_tokens == 50);
	TAP_CHECK(s->timeout_ms == 60000 && s->connect_timeout_ms == 10000);
	TAP_CHECK(s->retry_initial_delay_ms == 1000);
	TAP_CHECK(s->retry_max_delay_ms == 300000);
	TAP_CHECK(s->retry_max_age_ms == 86400000);
	TAP_CHECK(s->requests_per_minute == 0 && s->tokens_per_minute == 0);
	TAP_CHECK(s->shutdown_timeout_ms == 20000);
	settings_unref(s);
}

static void
test_settings_reads_every_kind_of_value(void)
{
	struct test_problems p;
	struct settings *s;

	TAP_CHECK(test_load("inbox = \"/x/in\";\nworkers = 3;\n"
	    "ignore = [ \"*.bak\" ];\nprovider = \"extractive\";\n"
	    "max_file_size = 20000000000L;\n"
	    "api = { timeout = 2.5; connect_timeout = 1; };\n"
	    "retry = { max_age = 60.0; };\n"
	    "limits = { requests_per_minute = 100; };\n", &p, &s) == 0);
	TAP_CHECK(p.count == 0);
	if (!s)
		return;
	TAP_CHECK(strcmp(s->inbox, "/x/in") == 0);
	TAP_CHECK(s->workers == 3);
	TAP_CHECK(s->n_ignore == 1 && strcmp(s->ignore[0], "*.bak") == 0);
	TAP_CHECK(s->provider == SETTINGS_PROVIDER_EXTRACTIVE);
	TAP_CHECK(s->max_file_size == 20000000000LL);
	TAP_CHECK(s->timeout_ms == 2500 && s->connect_timeout_ms == 1000);
	TAP_CHECK(s->retry_max_age_ms == 60000);
	TAP_CHECK(s->requests_per_minute == 100);
	settings_unref(s);
}

static void
test_settings_reports_every_problem_with_its_line(void)
{
	struct test_problems p;
	struct settings *s;

	TAP_CHECK(test_load("workers = 0;\nwokers = 3;\nprompt = 5;\n"
	    "api = { timeout = \"x\"; colour = 1; };\n", &p, &s) == -EINVAL);
	TAP_CHECK(s == NULL);
	TAP_CHECK(p.count == 5);
	TAP_CHECK(strstr(p.all, "gistd.conf:1: workers must be between 1 "
	    "and 1024\n") != NULL);
	TAP_CHECK(strstr(p.all, "gistd.conf:2: unknown setting wokers\n"));
	TAP_CHECK(strstr(p.all, "gistd.conf:3: prompt must be a string\n"));
	TAP_CHECK(strstr(p.all, "gistd.conf:4: api.timeout must be a number "
	    "of seconds\n"));
	TAP_CHECK(strstr(p.all, "gistd.conf:4: unknown setting api.colour\n"));
}

/* Text that goes into every request must be UTF-8; paths need not be. */
static void
test_settings_refuse_text_that_is_not_utf8(void)
{
	struct test_problems p;
	struct settings *s;

	TAP_CHECK(test_load("prompt = \"Sum\xe9 this:\";\n"
	    "system_prompt = \"\xc3\";\n"
	    "api = { model = \"m\xff\"; };\n", &p, &s) == -EINVAL);
	TAP_CHECK(s == NULL);
	TAP_CHECK(p.count == 3);
	TAP_CHECK(strstr(p.all, "gistd.conf:1: prompt is not valid UTF-8\n"));
	TAP_CHECK(strstr(p.all, "gistd.conf:2: system_prompt is not valid "
	    "UTF-8\n"));
	TAP_CHECK(strstr(p.all, "gistd.conf:3: api.model is not valid "
	    "UTF-8\n"));

	TAP_CHECK(test_load("prompt = \"R\xc3\xa9sume \xe6\x96\x87:\";\n"
	    "inbox = \"/tmp/in\xff\";\n", &p, &s) == 0);
	TAP_CHECK(s && strcmp(s->prompt, "R\xc3\xa9sume \xe6\x96\x87:") ==
	    0);
	settings_unref(s);
}

static void
test_settings_reports_a_syntax_error(void)
{
	struct test_problems p;
	struct settings *s;

	TAP_CHECK(test_load("workers = 3\ninbox = ;\n", &p, &s) == -EINVAL);
	TAP_CHECK(p.count == 1);
	TAP_CHECK(strstr(p.last, "gistd.conf:") != NULL);
}

static void
test_settings_names_a_missing_file(void)
{
	struct test_problems p = { 0 };
	struct settings *s = NULL;

	TAP_CHECK(settings_load("/nonexistent/gistd.conf", test_collect, &p,
	    &s) == -ENOENT);
	TAP_CHECK(s == NULL);
	TAP_CHECK(strcmp(p.last, "/nonexistent/gistd.conf: No such file or "
	    "directory") == 0);
}

static void
test_settings_rejects_conflicting_values(void)
{
	struct test_problems p;
	struct settings *s;

	TAP_CHECK(test_load("inbox = \"/d/in\";\noutbox = \"/d/in/\";\n"
	    "api = { base_url = \"ftp://x\"; };\n"
	    "retry = { initial_delay = 10.0; max_delay = 5.0; };\n", &p,
	    &s) == -EINVAL);
	TAP_CHECK(p.count == 3);
	TAP_CHECK(strstr(p.all, ":2: outbox must not be the inbox"));
	TAP_CHECK(strstr(p.all, ":3: api.base_url must start with"));
	TAP_CHECK(strstr(p.all, ":4: retry.max_delay must not be less"));
}

static void
test_settings_ignore_patterns_match_like_a_shell(void)
{
	struct test_problems p;
	struct settings *s;

	TAP_CHECK(test_load("", &p, &s) == 0);
	if (!s)
		return;
	TAP_CHECK(settings_is_ignored(s, ".hidden"));
	TAP_CHECK(settings_is_ignored(s, "a.tmp"));
	TAP_CHECK(settings_is_ignored(s, "a.part"));
	TAP_CHECK(settings_is_ignored(s, ".a.swp"));
	TAP_CHECK(settings_is_ignored(s, "notes~"));
	TAP_CHECK(!settings_is_ignored(s, "a.txt"));
	TAP_CHECK(!settings_is_ignored(s, "tmp"));
	TAP_CHECK(!settings_is_ignored(s, "a.tmp.txt"));
	settings_unref(s);
}

static void
test_settings_reads_the_key_file_without_its_newline(void)
{
	struct test_problems p;
	struct settings *s;
	char conf[1024];

	(void)test_write("key", "sk-test-123\n");
	(void)snprintf(conf, sizeof(conf), "api = { key_file = \"%s/key\"; };",
	    test_dir);
	TAP_CHECK(test_load(conf, &p, &s) == 0);
	if (!s)
		return;
	TAP_CHECK(s->api_key && strcmp(s->api_key, "sk-test-123") == 0);
	TAP_CHECK(s->api_key_source &&
	    strstr(s->api_key_source, "sk-test") == NULL);
	settings_unref(s);
}

static void
test_key_prefers_credentials_over_the_environment(void)
{
	char *key = NULL, *source = NULL;

	(void)test_write("api-key", "from-credential\n");
	setenv("OPENAI_API_KEY", "from-env", 1);
	key_take_environment();
	TAP_CHECK(getenv("OPENAI_API_KEY") == NULL);
	setenv("CREDENTIALS_DIRECTORY", test_dir, 1);
	TAP_CHECK(key_load("", &key, &source) == 0);
	TAP_CHECK(key && strcmp(key, "from-credential") == 0);
	key_free(key);
	free(source);
	unsetenv("CREDENTIALS_DIRECTORY");
	TAP_CHECK(key_load("", &key, &source) == 0);
	TAP_CHECK(key && strcmp(key, "from-env") == 0);
	key_free(key);
	free(source);
}

static void
test_key_rejects_control_characters(void)
{
	char *key = NULL, *source = NULL, path[512];

	(void)test_write("bad-key", "abc\x01" "def\n");
	(void)snprintf(path, sizeof(path), "%s/bad-key", test_dir);
	TAP_CHECK(key_load(path, &key, &source) == -EINVAL);
	TAP_CHECK(key == NULL);
	free(source);
}

int
main(void)
{
	char cmd[256];
	int status;

	if (!mkdtemp(test_dir))
		return 99;
	TAP_RUN(test_settings_defaults_match_the_spec);
	TAP_RUN(test_settings_reads_every_kind_of_value);
	TAP_RUN(test_settings_reports_every_problem_with_its_line);
	TAP_RUN(test_settings_refuse_text_that_is_not_utf8);
	TAP_RUN(test_settings_reports_a_syntax_error);
	TAP_RUN(test_settings_names_a_missing_file);
	TAP_RUN(test_settings_rejects_conflicting_values);
	TAP_RUN(test_settings_ignore_patterns_match_like_a_shell);
	TAP_RUN(test_settings_reads_the_key_file_without_its_newline);
	TAP_RUN(test_key_prefers_credentials_over_the_environment);
	TAP_RUN(test_key_rejects_control_characters);
	status = tap_done();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
	(void)!system(cmd);
	return status;
}
