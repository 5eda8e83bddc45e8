// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Finding the API key.  The first of these wins: the file named by
 * api.key_file, the credential "api-key" that systemd's LoadCredential=
 * puts in $CREDENTIALS_DIRECTORY, and $OPENAI_API_KEY.  The environment
 * variable is taken out of the environment at start, so that nothing gistd
 * could ever start inherits it.  The key is one line; a trailing newline
 * is not part of it.  Key memory is wiped before it is freed.  Main thread.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key.h"
#include "util.h"

static char *key_from_environment;	/* main thread only */

/*
 * Moves $OPENAI_API_KEY out of the environment into private memory.  Call
 * once at start, before any thread exists.
 */
void
key_take_environment(void)
{
	char *v = getenv("OPENAI_API_KEY");

	if (v && v[0]) {
		key_from_environment = strdup(v);
		/* unsetenv() alone leaves the bytes where the kernel put them,
		 * readable in /proc/PID/environ: wipe them there too. */
		explicit_bzero(v, strlen(v));
	}
	(void)unsetenv("OPENAI_API_KEY");
}

static int
key_check(char *key, size_t len)
{
	size_t i;

	if (len > 0 && key[len - 1] == '\n')
		key[--len] = '\0';
	if (len > 0 && key[len - 1] == '\r')
		key[--len] = '\0';
	if (len == 0)
		return -ENOKEY;
	/* A key goes into an HTTP header: control characters would let a
	 * broken file inject one. */
	for (i = 0; i < len; i++)
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
			return -EINVAL;
	return 0;
}

static int
key_read_file(const char *path, char **ret_key)
{
	char *buf;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	buf = calloc(1, KEY_MAX_BYTES + 2);
	if (!buf) {
		(void)close(fd);
		return -ENOMEM;
	}
	do
		n = read(fd, buf, KEY_MAX_BYTES + 1);
	while (n < 0 && errno == EINTR);
	r = n < 0 ? -errno : n > KEY_MAX_BYTES ? -EFBIG :
	    key_check(buf, (size_t)n);
	(void)close(fd);
	if (r < 0) {
		key_free(buf);
		return r;
	}
	*ret_key = buf;
	return 0;
}

static int
key_describe(char **ret_source, const char *what, const char *path, int err)
{
	char buf[128];
	char *text;
	int n;

	if (err)
		n = asprintf(&text, "%s %s: %s", what, path,
		    err == -ENOKEY ? "empty" : err == -EFBIG ? "too long" :
		    util_strerror(err, buf, sizeof(buf)));
	else
		n = asprintf(&text, "%s %s", what, path);
	if (n < 0)
		return -ENOMEM;
	*ret_source = text;
	return 0;
}

/*
 * Finds the key (see the top of this file).  Returns 0 with the key in
 * *ret_key (free it with key_free()), or a negative errno: -ENOKEY when no
 * source has one.  Either way *ret_source tells where gistd looked, for a
 * log line; it never holds the key.
 */
int
key_load(const char *key_file, char **ret_key, char **ret_source)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];
	int r;

	*ret_source = NULL;
	if (key_file && key_file[0]) {
		r = key_read_file(key_file, ret_key);
		(void)key_describe(ret_source, "api.key_file", key_file, r);
		return r;
	}
	if (dir && dir[0] &&
	    util_join_path(path, sizeof(path), dir, "api-key", NULL) == 0) {
		r = key_read_file(path, ret_key);
		if (r != -ENOENT) {
			(void)key_describe(ret_source, "credential", path, r);
			return r;
		}
	}
	if (key_from_environment) {
		*ret_key = strdup(key_from_environment);
		(void)key_describe(ret_source, "environment", "OPENAI_API_KEY",
		    0);
		return *ret_key ? 0 : -ENOMEM;
	}
	(void)key_describe(ret_source, "no key in api.key_file,",
	    "$CREDENTIALS_DIRECTORY/api-key or $OPENAI_API_KEY", 0);
	return -ENOKEY;
}

/* Wipes and frees a key.  NULL is fine. */
void
key_free(char *key)
{
	if (!key)
		return;
	explicit_bzero(key, strlen(key));
	free(key);
}
