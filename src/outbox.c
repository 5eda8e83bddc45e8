// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Where results go.  A summary is written to a hidden temporary file in
 * the outbox, flushed, and renamed over NAME.summary, and the directory is
 * flushed too: a reader never sees half a summary, and one that gistd has
 * announced survives a power cut.  rename(2) replaces whatever sits at the
 * final name, a planted symlink included, without following it.  Failed
 * inputs move to failed_dir next to a NAME.error line, written the same
 * way and before the move, so a crash in between leaves the input in the
 * inbox to be redone.  Workers call these functions, each on its own job,
 * and share only a lock and the group commit of flushes per directory
 * (below); outbox_remove_stale() runs on the main thread at start.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "outbox.h"
#include "util.h"

/* Names tried for one temporary file before giving up with EEXIST. */
#define OUTBOX_TEMP_TRIES 16

/*
 * Writes all of text and then one newline, in one system call unless the
 * kernel takes less.  Returns 0 or a negative errno.
 */
static int
outbox_write_line(int fd, const char *text, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)text, .iov_len = len },
		{ .iov_base = (void *)"\n", .iov_len = 1 },
	};
	struct iovec *v = iov;
	int count = 2;
	ssize_t n;

	while (count > 0) {
		n = writev(fd, v, count);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (; count > 0 && (size_t)n >= v->iov_len; v++, count--)
			n -= (ssize_t)v->iov_len;
		if (count > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int
outbox_fsync_dir(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

/*
 * The directories written to (outbox, failed_dir, done_dir) each get a
 * slot while anyone uses them, for two things.
 *
 * Changes.  Creating or renaming a name takes the directory's lock in the
 * kernel, and with hundreds of workers publishing into one outbox they
 * queued there: ext4 spins on that lock while its holder runs, so at 500
 * workers a third of gistd's CPU went to spinning (see BENCHMARKS.md).
 * Workers now queue on the slot's mutex instead, where they sleep.
 *
 * Flushes.  A rename is durable once its directory is flushed after it,
 * and one fsync(2) of the directory covers every rename made before the
 * flush began.  So a worker that finds a flush of its directory running
 * waits for the next one, and the first to find none running makes it, for
 * itself and all who wait: group commit.
 *
 * A directory that finds no free slot is changed and flushed the plain
 * way, which is slower but just as correct.
 */
#define OUTBOX_DIR_SLOTS 4

struct outbox_dir {
	char *path;		/* NULL: free */
	unsigned users;		/* between outbox_dir_get() and _put() */
	pthread_mutex_t change_lock; /* held across a create or a rename */
	bool is_flushing;	/* a flush is under way */
	uint64_t asked;		/* flushes asked for so far */
	uint64_t covered;	/* of those, covered by a finished flush */
	int result;		/* of the last finished flush */
};

/* All slots' fields but change_lock are guarded by outbox_dirs_lock. */
static pthread_mutex_t outbox_dirs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t outbox_flush_done = PTHREAD_COND_INITIALIZER;
static struct outbox_dir outbox_dirs[OUTBOX_DIR_SLOTS] = {
	[0 ... OUTBOX_DIR_SLOTS - 1] = {
		.change_lock = PTHREAD_MUTEX_INITIALIZER,
	},
};

/*
 * The slot serving path, taking a free one if need be, with one more user;
 * NULL if none is free.  Give it back with outbox_dir_put().  Any thread.
 */
static struct outbox_dir *
outbox_dir_get(const char *path)
{
	struct outbox_dir *d, *found = NULL, *spare = NULL;
	size_t i;

	(void)pthread_mutex_lock(&outbox_dirs_lock);
	for (i = 0; i < OUTBOX_DIR_SLOTS && !found; i++) {
		d = &outbox_dirs[i];
		if (d->path && strcmp(d->path, path) == 0)
			found = d;
		else if (!spare && d->users == 0)
			spare = d;
	}
	if (!found && spare) {
		free(spare->path);
		spare->path = strdup(path);
		if (spare->path)
			found = spare;
	}
	if (found)
		found->users++;
	(void)pthread_mutex_unlock(&outbox_dirs_lock);
	return found;
}

static void
outbox_dir_put(struct outbox_dir *d)
{
	if (!d)
		return;
	(void)pthread_mutex_lock(&outbox_dirs_lock);
	d->users--;
	(void)pthread_mutex_unlock(&outbox_dirs_lock);
}

/* Takes the right to create or rename a name in d; NULL does nothing. */
static void
outbox_dir_lock(struct outbox_dir *d)
{
	if (d)
		(void)pthread_mutex_lock(&d->change_lock);
}

static void
outbox_dir_unlock(struct outbox_dir *d)
{
	if (d)
		(void)pthread_mutex_unlock(&d->change_lock);
}

/*
 * Makes every rename done so far in path (served by d, or NULL) durable.
 * Returns 0 or a negative errno; an error may be that of a later flush,
 * which also covered this caller.  Any thread.
 */
static int
outbox_dir_sync(struct outbox_dir *d, const char *path)
{
	uint64_t ticket, upto;
	int r;

	if (!d)
		return outbox_fsync_dir(path);
	(void)pthread_mutex_lock(&outbox_dirs_lock);
	ticket = ++d->asked;
	while (d->covered < ticket) {
		if (d->is_flushing) {
			(void)pthread_cond_wait(&outbox_flush_done,
			    &outbox_dirs_lock);
			continue;
		}
		/* This flush starts after every ask counted so far. */
		upto = d->asked;
		d->is_flushing = true;
		(void)pthread_mutex_unlock(&outbox_dirs_lock);
		r = outbox_fsync_dir(path);
		(void)pthread_mutex_lock(&outbox_dirs_lock);
		d->is_flushing = false;
		d->covered = upto;
		d->result = r;
		(void)pthread_cond_broadcast(&outbox_flush_done);
	}
	r = d->result;
	(void)pthread_mutex_unlock(&outbox_dirs_lock);
	return r;
}

/*
 * Creates a temporary file in dir for a result, named .gistd-TID-SERIAL:
 * no two threads of gistd make the same name, so the name needs no random
 * bytes, and a name that a crash left behind is stepped over.  The kernel
 * gives it the mode of any new file, 0666 less the umask or as the
 * directory's default ACL says.  Only the open() holds d's lock.  Returns
 * the descriptor and the path (*ret_path, the caller frees it), or a
 * negative errno.  Any thread.
 */
static int
outbox_create_temp(struct outbox_dir *d, const char *dir, char **ret_path)
{
	static __thread unsigned long serial;
	static __thread pid_t tid;
	char name[64], *path;
	int tries, r;

	if (tid == 0)
		tid = gettid();
	for (tries = 0; tries < OUTBOX_TEMP_TRIES; tries++) {
		(void)snprintf(name, sizeof(name), OUTBOX_TEMP_PREFIX "%ld-%lu",
		    (long)tid, serial++);
		path = util_path_new(dir, name, NULL);
		if (!path)
			return -ENOMEM;
		outbox_dir_lock(d);
		r = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0666);
		/* errno is read before the unlock can change it. */
		if (r < 0)
			r = -errno;
		outbox_dir_unlock(d);
		if (r >= 0) {
			*ret_path = path;
			return r;
		}
		free(path);
		if (r != -EEXIST)
			return r;
	}
	return -EEXIST;
}

/*
 * Writes text and one newline into dir/name[suffix], atomically and
 * durably (see the top of this file).  Returns 0 or a negative errno, in
 * which case no temporary file is left behind.
 */
static int
outbox_write_atomic(const char *dir, const char *name, const char *suffix,
    const char *text, size_t len)
{
	char *tmp = NULL, *final = util_path_new(dir, name, suffix);
	struct outbox_dir *d = NULL;
	int fd, r = -ENOMEM;

	if (!final)
		goto out;
	d = outbox_dir_get(dir);
	fd = outbox_create_temp(d, dir, &tmp);
	if (fd < 0) {
		r = fd;
		goto out;
	}

	/* Written and flushed unlocked: only names need the lock. */
	r = outbox_write_line(fd, text, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;

	outbox_dir_lock(d);
	if (r == 0 && rename(tmp, final) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	outbox_dir_unlock(d);
	if (r == 0)
		r = outbox_dir_sync(d, dir);

out:
	outbox_dir_put(d);
	free(final);
	free(tmp);
	return r;
}

/*
 * Whether outbox/NAME.summary is a regular file not older than the input
 * described by st (strictly newer with is_strict).  Returns 1 or 0; a
 * summary that cannot be checked counts as missing.
 */
int
outbox_summary_is_current(const char *outbox, const char *name,
    const struct stat *input, bool is_strict)
{
	char *path = util_path_new(outbox, name, OUTBOX_SUFFIX);
	struct stat st;
	int r;

	if (!path)
		return 0;
	r = lstat(path, &st);
	free(path);
	if (r < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (st.st_mtim.tv_sec != input->st_mtim.tv_sec)
		return st.st_mtim.tv_sec > input->st_mtim.tv_sec;
	if (is_strict)
		return st.st_mtim.tv_nsec > input->st_mtim.tv_nsec;
	return st.st_mtim.tv_nsec >= input->st_mtim.tv_nsec;
}

/*
 * Publishes the summary of name.  Returns 0 or a negative errno (the
 * outbox missing, read-only or full); on failure nothing is published.
 */
int
outbox_write_summary(const char *outbox, const char *name, const char *text,
    size_t len)
{
	return outbox_write_atomic(outbox, name, OUTBOX_SUFFIX, text, len);
}

/*
 * Moves from_dir/name to to_dir/name and flushes to_dir.  Only to_dir's
 * lock is taken: from_dir is the inbox, which gistd itself only empties.
 */
static int
outbox_move(const char *from_dir, const char *to_dir, const char *name)
{
	char *from = util_path_new(from_dir, name, NULL);
	char *to = util_path_new(to_dir, name, NULL);
	struct outbox_dir *d = NULL;
	int r = -ENOMEM;

	if (from && to) {
		d = outbox_dir_get(to_dir);
		outbox_dir_lock(d);
		r = rename(from, to) < 0 ? -errno : 0;
		outbox_dir_unlock(d);
	}
	if (r == 0)
		r = outbox_dir_sync(d, to_dir);
	outbox_dir_put(d);
	free(from);
	free(to);
	return r;
}

/*
 * Records that name failed: writes failed_dir/NAME.error holding reason,
 * then moves the input next to it.  A name too long to take ".error" moves
 * without one, and then 1 is returned.  Returns 0 or 1, -ENOTDIR when
 * failed_dir is "" (the input stays where it is), or a negative errno when
 * the move failed.
 */
int
outbox_fail_input(const struct settings *s, const char *name,
    const char *reason)
{
	bool has_room = strlen(name) + strlen(OUTBOX_ERROR_SUFFIX) <= NAME_MAX;
	int r;

	if (!s->failed_dir[0])
		return -ENOTDIR;
	if (has_room) {
		r = outbox_write_atomic(s->failed_dir, name,
		    OUTBOX_ERROR_SUFFIX, reason, strlen(reason));
		if (r < 0)
			return r;
	}
	r = outbox_move(s->inbox, s->failed_dir, name);
	return r < 0 ? r : has_room ? 0 : 1;
}

/*
 * Moves a summarized input to done_dir when one is set.  Returns 0 (also
 * when there is nothing to do) or a negative errno; -EXDEV means done_dir
 * is on another file system.
 */
int
outbox_finish_input(const struct settings *s, const char *name)
{
	if (!s->done_dir[0])
		return 0;
	return outbox_move(s->inbox, s->done_dir, name);
}

/*
 * Removes the temporary files that a crash left in dir.  Returns how many
 * were removed, or a negative errno when dir cannot be read.
 */
int
outbox_remove_stale(const char *dir)
{
	size_t plen = strlen(OUTBOX_TEMP_PREFIX);
	struct dirent *e;
	int fd, n = 0;
	DIR *d;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		(void)close(fd);
		return -ENOMEM;
	}
	while ((e = readdir(d)))
		if (strncmp(e->d_name, OUTBOX_TEMP_PREFIX, plen) == 0 &&
		    unlinkat(fd, e->d_name, 0) == 0)
			n++;
	(void)closedir(d);
	return n;
}
