// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Reading the libconfig settings file into an immutable snapshot.  Every
 * key has a default; the file may set any of them and nothing else.  All
 * problems found are reported, each as "FILE:LINE: message", before the
 * load fails, so one run of "gistd -t" shows them all (except after a
 * syntax error, where libconfig's parser stops).  Loading runs on the main
 * thread; snapshots are shared by reference counting from any thread.
 */

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "key.h"
#include "settings.h"
#include "text.h"

#define SETTINGS_IGNORE_MAX 256
#define SETTINGS_STRING_MAX 65536
#define SETTINGS_PATH_MAX 3800	/* leaves room for a name in PATH_MAX */
#define SETTINGS_FILE_MAX (1024 * 1024)

enum settings_kind {
	SETTINGS_STRING,
	SETTINGS_PATH,
	SETTINGS_INT,
	SETTINGS_SECONDS,
	SETTINGS_STRINGS,
	SETTINGS_PROVIDER,
};

/* One key the file may set; min and max are in the field's unit (ms for
 * durations). */
struct settings_key {
	const char *group;		/* NULL for the top level */
	const char *name;
	enum settings_kind kind;
	size_t offset;
	int64_t min;
	int64_t max;
};

#define SETTINGS_AT(field) offsetof(struct settings, field)
#define SETTINGS_DAY_MS (86400LL * 1000)

static const struct settings_key settings_keys[] = {
	{ NULL, "inbox", SETTINGS_PATH, SETTINGS_AT(inbox), 1, 0 },
	{ NULL, "outbox", SETTINGS_PATH, SETTINGS_AT(outbox), 1, 0 },
	{ NULL, "failed_dir", SETTINGS_PATH, SETTINGS_AT(failed_dir), 0, 0 },
	{ NULL, "done_dir", SETTINGS_PATH, SETTINGS_AT(done_dir), 0, 0 },
	{ NULL, "workers", SETTINGS_INT, SETTINGS_AT(workers), 1, 1024 },
	{ NULL, "ignore", SETTINGS_STRINGS, SETTINGS_AT(ignore), 0, 0 },
	{ NULL, "max_file_size", SETTINGS_INT, SETTINGS_AT(max_file_size),
	    1, 1LL << 40 },
	{ NULL, "max_input_chars", SETTINGS_INT,
	    SETTINGS_AT(max_input_chars), 1, 1 << 20 },
	{ NULL, "prompt", SETTINGS_STRING, SETTINGS_AT(prompt), 0, 0 },
	{ NULL, "system_prompt", SETTINGS_STRING, SETTINGS_AT(system_prompt),
	    0, 0 },
	{ NULL, "provider", SETTINGS_PROVIDER, SETTINGS_AT(provider), 0, 0 },
	{ "api", "base_url", SETTINGS_STRING, SETTINGS_AT(base_url), 1, 0 },
	{ "api", "key_file", SETTINGS_PATH, SETTINGS_AT(key_file), 0, 0 },
	{ "api", "model", SETTINGS_STRING, SETTINGS_AT(model), 1, 0 },
	{ "api", "max_tokens", SETTINGS_INT, SETTINGS_AT(max_tokens),
	    1, 1000000 },
	{ "api", "timeout", SETTINGS_SECONDS, SETTINGS_AT(timeout_ms),
	    1, SETTINGS_DAY_MS },
	{ "api", "connect_timeout", SETTINGS_SECONDS,
	    SETTINGS_AT(connect_timeout_ms), 1, 3600 * 1000 },
	{ "api", "ca_file", SETTINGS_PATH, SETTINGS_AT(ca_file), 0, 0 },
	{ "retry", "initial_delay", SETTINGS_SECONDS,
	    SETTINGS_AT(retry_initial_delay_ms), 1, SETTINGS_DAY_MS },
	{ "retry", "max_delay", SETTINGS_SECONDS,
	    SETTINGS_AT(retry_max_delay_ms), 1, 7 * SETTINGS_DAY_MS },
	{ "retry", "max_age", SETTINGS_SECONDS,
	    SETTINGS_AT(retry_max_age_ms), 1, 365 * SETTINGS_DAY_MS },
	{ "limits", "requests_per_minute", SETTINGS_INT,
	    SETTINGS_AT(requests_per_minute), 0, 1000000 },
	{ "limits", "tokens_per_minute", SETTINGS_INT,
	    SETTINGS_AT(tokens_per_minute), 0, 1000000000 },
	{ "limits", "shutdown_timeout", SETTINGS_SECONDS,
	    SETTINGS_AT(shutdown_timeout_ms), 0, 3600 * 1000 },
};

static const char *const settings_groups[] = { "api", "retry", "limits" };

static const char *const settings_default_ignore[] = {
	".*", "*.tmp", "*.part", "*.swp", "*~",
};

/* What one load needs while it walks the file. */
struct settings_loader {
	const char *path;
	settings_problem_fn *report;
	void *userdata;
	int problems;
	int lines[sizeof(settings_keys) / sizeof(settings_keys[0])];
};

static void
settings_problem(struct settings_loader *l, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
settings_problem(struct settings_loader *l, int line, const char *fmt, ...)
{
	char msg[512], problem[1024 + 512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		(void)snprintf(problem, sizeof(problem), "%s:%d: %s", l->path,
		    line, msg);
	else
		(void)snprintf(problem, sizeof(problem), "%s: %s", l->path,
		    msg);
	l->problems++;
	if (l->report)
		l->report(problem, l->userdata);
}

static char **
settings_field_string(struct settings *s, const struct settings_key *k)
{
	return (char **)((char *)s + k->offset);
}

static int64_t *
settings_field_int(struct settings *s, const struct settings_key *k)
{
	return (int64_t *)((char *)s + k->offset);
}

static int
settings_set_strings(struct settings *s, const char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < s->n_ignore; i++)
		free(s->ignore[i]);
	free(s->ignore);
	s->n_ignore = 0;
	s->ignore = calloc(n + 1, sizeof(char *));
	if (!s->ignore)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		s->ignore[i] = strdup(v[i]);
		if (!s->ignore[i])
			return -ENOMEM;
		s->n_ignore++;
	}
	return 0;
}

static int
settings_replace_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/*
 * Builds a snapshot holding every default.  Returns 0 or -ENOMEM; the
 * caller owns one reference.
 */
int
settings_defaults(struct settings **ret_settings)
{
	static const struct {
		size_t offset;
		const char *value;
	} strings[] = {
		{ SETTINGS_AT(path), "" },
		{ SETTINGS_AT(inbox), "/data/inbox" },
		{ SETTINGS_AT(outbox), "/data/outbox" },
		{ SETTINGS_AT(failed_dir), "/data/failed" },
		{ SETTINGS_AT(done_dir), "" },
		{ SETTINGS_AT(prompt),
		    "Summarize the following text in one sentence:" },
		{ SETTINGS_AT(system_prompt), "" },
		{ SETTINGS_AT(base_url), "https://api.openai.com/v1" },
		{ SETTINGS_AT(key_file), "" },
		{ SETTINGS_AT(model), "gpt-4o-mini" },
		{ SETTINGS_AT(ca_file), "" },
	};
	struct settings *s;
	size_t i;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		char **field = (char **)((char *)s + strings[i].offset);

		if (settings_replace_string(field, strings[i].value) < 0)
			goto fail;
	}
	if (settings_set_strings(s, settings_default_ignore,
	    sizeof(settings_default_ignore) / sizeof(char *)) < 0)
		goto fail;
	s->workers = 20;
	s->max_file_size = 10485760;
	s->max_input_chars = 2000;
	s->provider = SETTINGS_PROVIDER_OPENAI;
	s->max_tokens = 50;
	s->timeout_ms = 60000;
	s->connect_timeout_ms = 10000;
	s->retry_initial_delay_ms = 1000;
	s->retry_max_delay_ms = 300000;
	s->retry_max_age_ms = 86400000;
	s->shutdown_timeout_ms = 20000;
	*ret_settings = s;
	return 0;
fail:
	settings_unref(s);
	return -ENOMEM;
}

/* Takes one more reference to s and returns it.  Any thread. */
struct settings *
settings_ref(struct settings *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

static void
settings_free(struct settings *s)
{
	size_t i;

	for (i = 0; i < s->n_ignore; i++)
		free(s->ignore[i]);
	free(s->ignore);
	free(s->path);
	free(s->inbox);
	free(s->outbox);
	free(s->failed_dir);
	free(s->done_dir);
	free(s->prompt);
	free(s->system_prompt);
	free(s->base_url);
	free(s->key_file);
	free(s->model);
	free(s->ca_file);
	key_free(s->api_key);
	free(s->api_key_source);
	free(s);
}

/*
 * Drops one reference; the last one frees the snapshot.  Any thread; NULL
 * is fine.
 */
void
settings_unref(struct settings *s)
{
	/* acq_rel: the freeing thread must see every other thread's last
	 * reads of the snapshot as done. */
	if (s && atomic_fetch_sub_explicit(&s->refs, 1,
	    memory_order_acq_rel) == 1)
		settings_free(s);
}

/*
 * Whether name matches one of the ignore patterns (fnmatch(3) globs, where
 * a leading dot must be matched explicitly).  Any thread.
 */
bool
settings_is_ignored(const struct settings *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n_ignore; i++)
		if (fnmatch(s->ignore[i], name, FNM_PERIOD) == 0)
			return true;
	return false;
}

static const struct settings_key *
settings_find_key(const char *group, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(settings_keys) / sizeof(settings_keys[0]); i++) {
		const struct settings_key *k = &settings_keys[i];

		if (strcmp(k->name, name) != 0)
			continue;
		if ((!group && !k->group) ||
		    (group && k->group && strcmp(group, k->group) == 0))
			return k;
	}
	return NULL;
}

static bool
settings_is_group_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(settings_groups) / sizeof(char *); i++)
		if (strcmp(settings_groups[i], name) == 0)
			return true;
	return false;
}

/* The dotted name of a key, for messages: "api.timeout". */
static const char *
settings_key_name(const struct settings_key *k, char *buf, size_t size)
{
	(void)snprintf(buf, size, "%s%s%s", k->group ? k->group : "",
	    k->group ? "." : "", k->name);
	return buf;
}

/* Whether v is valid UTF-8 from end to end. */
static bool
settings_is_utf8(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t len = strlen(v), off = 0, n;

	while (off < len) {
		n = text_utf8_sequence(p + off, len - off);
		if (n == 0)
			return false;
		off += n;
	}
	return true;
}

static int
settings_take_string(struct settings_loader *l, struct settings *s,
    const struct settings_key *k, const config_setting_t *c)
{
	int line = (int)config_setting_source_line(c);
	const char *v = config_setting_get_string(c);
	char name[64];

	settings_key_name(k, name, sizeof(name));
	if (config_setting_type(c) != CONFIG_TYPE_STRING || !v) {
		settings_problem(l, line, "%s must be a string", name);
		return 0;
	}
	if (k->min > 0 && v[0] == '\0') {
		settings_problem(l, line, "%s must not be empty", name);
		return 0;
	}
	if (strlen(v) > (k->kind == SETTINGS_PATH ? SETTINGS_PATH_MAX :
	    SETTINGS_STRING_MAX)) {
		settings_problem(l, line, "%s is too long", name);
		return 0;
	}
	/* Text goes into every request, where the provider would refuse
	 * each one; a path is bytes, as Linux has it. */
	if (k->kind == SETTINGS_STRING && !settings_is_utf8(v)) {
		settings_problem(l, line, "%s is not valid UTF-8", name);
		return 0;
	}
	return settings_replace_string(settings_field_string(s, k), v);
}

static bool
settings_get_number(const config_setting_t *c, bool is_seconds,
    int64_t *ret_value)
{
	double d;

	switch (config_setting_type(c)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		*ret_value = config_setting_get_int64(c);
		/* Saturate: the range check that follows rejects both ends. */
		if (is_seconds && *ret_value > INT64_MAX / 1000)
			*ret_value = INT64_MAX;
		else if (is_seconds && *ret_value < INT64_MIN / 1000)
			*ret_value = INT64_MIN;
		else if (is_seconds)
			*ret_value *= 1000;
		return true;
	case CONFIG_TYPE_FLOAT:
		if (!is_seconds)
			return false;
		d = config_setting_get_float(c) * 1000.0;
		/* NaN fails both comparisons and ends up out of range. */
		*ret_value = d >= -9e15 && d <= 9e15 ? (int64_t)(d + 0.5) :
		    INT64_MIN;
		return true;
	default:
		return false;
	}
}

static int
settings_take_number(struct settings_loader *l, struct settings *s,
    const struct settings_key *k, const config_setting_t *c)
{
	int line = (int)config_setting_source_line(c);
	bool is_seconds = k->kind == SETTINGS_SECONDS;
	char name[64];
	int64_t v;

	settings_key_name(k, name, sizeof(name));
	if (!settings_get_number(c, is_seconds, &v)) {
		settings_problem(l, line, "%s must be %s", name,
		    is_seconds ? "a number of seconds" : "an integer");
		return 0;
	}
	if (v < k->min || v > k->max) {
		if (is_seconds)
			settings_problem(l, line,
			    "%s must be between %g and %g seconds", name,
			    k->min / 1000.0, k->max / 1000.0);
		else
			settings_problem(l, line,
			    "%s must be between %lld and %lld", name,
			    (long long)k->min, (long long)k->max);
		return 0;
	}
	*settings_field_int(s, k) = v;
	return 0;
}

static int
settings_take_strings(struct settings_loader *l, struct settings *s,
    const struct settings_key *k, const config_setting_t *c)
{
	int line = (int)config_setting_source_line(c);
	const char *v[SETTINGS_IGNORE_MAX];
	int i, n = config_setting_length(c);

	if (!config_setting_is_aggregate(c) || config_setting_is_group(c)) {
		settings_problem(l, line, "%s must be a list of strings",
		    k->name);
		return 0;
	}
	if (n > SETTINGS_IGNORE_MAX) {
		settings_problem(l, line, "%s has more than %d patterns",
		    k->name, SETTINGS_IGNORE_MAX);
		return 0;
	}
	for (i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(c,
		    (unsigned)i);

		v[i] = config_setting_get_string(e);
		if (!v[i] || v[i][0] == '\0' || strlen(v[i]) > 255) {
			settings_problem(l, line, "%s: pattern %d must be a "
			    "string of 1 to 255 bytes", k->name, i + 1);
			return 0;
		}
	}
	return settings_set_strings(s, v, (size_t)n);
}

static int
settings_take_provider(struct settings_loader *l, struct settings *s,
    const config_setting_t *c)
{
	const char *v = config_setting_get_string(c);

	if (v && strcmp(v, "openai") == 0)
		s->provider = SETTINGS_PROVIDER_OPENAI;
	else if (v && strcmp(v, "extractive") == 0)
		s->provider = SETTINGS_PROVIDER_EXTRACTIVE;
	else
		settings_problem(l, (int)config_setting_source_line(c),
		    "provider must be \"openai\" or \"extractive\"");
	return 0;
}

static int
settings_take(struct settings_loader *l, struct settings *s,
    const struct settings_key *k, const config_setting_t *c)
{
	l->lines[k - settings_keys] = (int)config_setting_source_line(c);
	switch (k->kind) {
	case SETTINGS_STRING:
	case SETTINGS_PATH:
		return settings_take_string(l, s, k, c);
	case SETTINGS_INT:
	case SETTINGS_SECONDS:
		return settings_take_number(l, s, k, c);
	case SETTINGS_STRINGS:
		return settings_take_strings(l, s, k, c);
	case SETTINGS_PROVIDER:
		return settings_take_provider(l, s, c);
	}
	return -EINVAL;
}

/* Reads every setting of one group (NULL: the top level) into s. */
static int
settings_walk(struct settings_loader *l, struct settings *s,
    const config_setting_t *parent, const char *group)
{
	int i, n = config_setting_length(parent), r;

	for (i = 0; i < n; i++) {
		config_setting_t *c = config_setting_get_elem(parent,
		    (unsigned)i);
		const char *name = config_setting_name(c);
		int line = (int)config_setting_source_line(c);
		const struct settings_key *k;

		if (!group && settings_is_group_name(name)) {
			if (!config_setting_is_group(c)) {
				settings_problem(l, line, "%s must be a group "
				    "{ ... }", name);
				continue;
			}
			r = settings_walk(l, s, c, name);
		} else if (!(k = settings_find_key(group, name))) {
			settings_problem(l, line, "unknown setting %s%s%s",
			    group ? group : "", group ? "." : "", name);
			continue;
		} else {
			r = settings_take(l, s, k, c);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static bool
settings_is_same_dir(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

/* The line where the file set a key, or 0 when it kept its default. */
static int
settings_line_of(const struct settings_loader *l, const char *group,
    const char *name)
{
	return l->lines[settings_find_key(group, name) - settings_keys];
}

/* Checks what no single key can check alone. */
static void
settings_check_whole(struct settings_loader *l, const struct settings *s)
{
	static const char *const dirs[] = { "outbox", "failed_dir",
	    "done_dir" };
	const char *values[] = { s->outbox, s->failed_dir, s->done_dir };
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (values[i][0] && settings_is_same_dir(s->inbox, values[i]))
			settings_problem(l, settings_line_of(l, NULL, dirs[i]),
			    "%s must not be the inbox", dirs[i]);
	if (strncmp(s->base_url, "http://", 7) != 0 &&
	    strncmp(s->base_url, "https://", 8) != 0)
		settings_problem(l, settings_line_of(l, "api", "base_url"),
		    "api.base_url must start with http:// or https://");
	if (s->retry_max_delay_ms < s->retry_initial_delay_ms)
		settings_problem(l, settings_line_of(l, "retry", "max_delay"),
		    "retry.max_delay must not be less than retry.initial_delay");
}

/* Reads up to size bytes; fewer only at the end of the file. */
static ssize_t
settings_read_all(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size) {
		n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * Reads the whole settings file into a NUL-terminated buffer of at most
 * SETTINGS_FILE_MAX bytes.  Only a regular file will do: libconfig's
 * scanner ends the process when a read fails (a directory), and a FIFO
 * would block.  Returns 0 and a buffer the caller frees, or a negative
 * errno after reporting the problem.
 */
static int
settings_read_file(struct settings_loader *l, char **ret_text)
{
	struct stat st;
	char *text = NULL;
	size_t size;
	ssize_t n;
	int fd, r;

	fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		settings_problem(l, 0, "%s", strerror(-r));
		goto out;
	}
	r = -EINVAL;
	if (!S_ISREG(st.st_mode)) {
		settings_problem(l, 0, "not a regular file");
		goto out;
	}
	if (st.st_size > SETTINGS_FILE_MAX) {
		settings_problem(l, 0, "larger than %d bytes",
		    SETTINGS_FILE_MAX);
		goto out;
	}
	r = -ENOMEM;
	size = (size_t)st.st_size;
	text = malloc(size + 2);
	if (!text)
		goto out;
	/* Reading one byte more than fstat() promised tells a file that
	 * grew meanwhile. */
	n = settings_read_all(fd, text, size + 1);
	if (n < 0 || (size_t)n > size) {
		r = n < 0 ? (int)n : -EINVAL;
		settings_problem(l, 0, "%s", n < 0 ? strerror(-r) :
		    "changed while it was read");
		goto out;
	}
	text[n] = '\0';
	if (strlen(text) != (size_t)n) {
		r = -EINVAL;
		settings_problem(l, 0, "contains a NUL byte");
		goto out;
	}
	*ret_text = text;
	text = NULL;
	r = 0;
out:
	free(text);
	if (fd >= 0)
		(void)close(fd);
	return r;
}

/*
 * Reports each line that starts with @include.  gistd reads one file:
 * libconfig 1.5 ends the whole process when an included path cannot be
 * read (a directory), which a reload must never do.
 */
static void
settings_refuse_includes(struct settings_loader *l, const char *text)
{
	const char *p = text;
	int line = 1;

	for (;;) {
		p += strspn(p, " \t");
		if (strncmp(p, "@include", 8) == 0)
			settings_problem(l, line,
			    "@include is not supported; put every setting in this file");
		p = strchr(p, '\n');
		if (!p)
			return;
		p++;
		line++;
	}
}

static int
settings_parse(struct settings_loader *l, config_t *cfg)
{
	char *text = NULL;
	int r;

	r = settings_read_file(l, &text);
	if (r < 0)
		return r;
	settings_refuse_includes(l, text);
	if (l->problems > 0) {
		r = -EINVAL;
		goto out;
	}
	r = config_read_string(cfg, text) == CONFIG_TRUE ? 0 : -EINVAL;
	if (r < 0)
		settings_problem(l, config_error_line(cfg), "%s",
		    config_error_text(cfg));
out:
	free(text);
	return r;
}

/*
 * Reads the settings file at path into a new snapshot and finds the API
 * key for it.  Each problem is passed to report (which may be NULL) as
 * "FILE:LINE: message".  Returns 0 and one reference in *ret_settings;
 * -EINVAL when the file has problems, -ENOENT or another negative errno
 * when it cannot be read (also reported), -ENOMEM.  Main thread.
 */
int
settings_load(const char *path, settings_problem_fn *report, void *userdata,
    struct settings **ret_settings)
{
	struct settings_loader l = { path, report, userdata, 0, { 0 } };
	struct settings *s = NULL;
	config_t cfg;
	int r;

	config_init(&cfg);
	r = settings_parse(&l, &cfg);
	if (r < 0)
		goto out;
	r = settings_defaults(&s);
	if (r < 0)
		goto out;
	r = settings_replace_string(&s->path, path);
	if (r < 0)
		goto out;
	r = settings_walk(&l, s, config_root_setting(&cfg), NULL);
	if (r < 0)
		goto out;
	settings_check_whole(&l, s);
	if (l.problems > 0) {
		r = -EINVAL;
		goto out;
	}
	if (s->provider == SETTINGS_PROVIDER_OPENAI)
		(void)key_load(s->key_file, &s->api_key, &s->api_key_source);
	*ret_settings = s;
	s = NULL;
out:
	settings_unref(s);
	config_destroy(&cfg);
	return r;
}
