// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Watching the inbox.  One inotify descriptor carries the watch on the
 * inbox (files closed after writing or moved in, and the inbox itself
 * going away) and, while the inbox is missing, a watch on its parent that
 * says when a directory of that name appears again.  Events are handed out
 * one at a time from a buffer, so the main thread can stop taking them
 * when its queue is full and the rest wait in the buffer and the kernel.
 * The startup scan and every rescan are a cursor over the directory for
 * the same reason.  Main thread only.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "inbox.h"

#define INBOX_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | \
	IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define INBOX_PARENT_EVENTS (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)
#define INBOX_BUFFER_BYTES (64 * 1024)

struct inbox {
	int fd;				/* inotify, non-blocking */
	int wd;				/* the inbox's watch, or -1 */
	int parent_wd;			/* its parent's watch, or -1 */
	char *path;
	char *base;			/* last component of path */
	DIR *scan;			/* open while a scan runs */
	size_t len;			/* bytes of events in buf */
	size_t off;			/* next event in buf */
	alignas(struct inotify_event) char buf[INBOX_BUFFER_BYTES];
};

/*
 * Creates an inbox watcher with no watch yet.  Returns 0 or a negative
 * errno (the inotify limit reached, for one).
 */
int
inbox_new(struct inbox **ret_inbox)
{
	struct inbox *ib;

	ib = calloc(1, sizeof(*ib));
	if (!ib)
		return -ENOMEM;
	ib->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ib->fd < 0) {
		int r = -errno;

		free(ib);
		return r;
	}
	ib->wd = -1;
	ib->parent_wd = -1;
	*ret_inbox = ib;
	return 0;
}

/* Closes the watch and any scan.  NULL is fine. */
void
inbox_free(struct inbox *ib)
{
	if (!ib)
		return;
	if (ib->scan)
		(void)closedir(ib->scan);
	(void)close(ib->fd);
	free(ib->path);
	free(ib->base);
	free(ib);
}

/* The descriptor to poll for events. */
int
inbox_fd(const struct inbox *ib)
{
	return ib->fd;
}

/* Whether the inbox itself is being watched (it exists). */
bool
inbox_is_watched(const struct inbox *ib)
{
	return ib->wd >= 0;
}

/*
 * Whether nothing watches for the inbox: neither it nor its parent could be
 * watched (the parent is missing too, or the kernel refused the watch), so
 * no event will tell when the inbox is there again.  Main thread.
 */
bool
inbox_is_blind(const struct inbox *ib)
{
	return ib->wd < 0 && ib->parent_wd < 0;
}

static void
inbox_unwatch_parent(struct inbox *ib)
{
	if (ib->parent_wd >= 0)
		(void)inotify_rm_watch(ib->fd, ib->parent_wd);
	ib->parent_wd = -1;
}

static void
inbox_unwatch(struct inbox *ib)
{
	if (ib->wd >= 0)
		(void)inotify_rm_watch(ib->fd, ib->wd);
	ib->wd = -1;
	inbox_unwatch_parent(ib);
}

/* Watches the parent of a missing inbox, so its return is noticed. */
static void
inbox_watch_parent(struct inbox *ib)
{
	char *copy = strdup(ib->path);

	if (!copy)
		return;
	ib->parent_wd = inotify_add_watch(ib->fd, dirname(copy),
	    INBOX_PARENT_EVENTS);
	free(copy);
}

static int
inbox_set_path(struct inbox *ib, const char *path)
{
	char *p = strdup(path), *copy = strdup(path), *b;

	if (!p || !copy) {
		free(p);
		free(copy);
		return -ENOMEM;
	}
	b = strdup(basename(copy));
	free(copy);
	if (!b) {
		free(p);
		return -ENOMEM;
	}
	free(ib->path);
	free(ib->base);
	ib->path = p;
	ib->base = b;
	return 0;
}

/*
 * Watches the directory at path, dropping any earlier watch.  Returns 0;
 * -ENOENT (or another errno) when it cannot be watched now, in which case
 * its parent is watched and INBOX_BACK reports its return.  Call it again
 * to move the watch when the inbox setting changes.
 */
int
inbox_watch(struct inbox *ib, const char *path)
{
	int r;

	if (path != ib->path) {
		r = inbox_set_path(ib, path);
		if (r < 0)
			return r;
	}
	inbox_unwatch(ib);
	ib->wd = inotify_add_watch(ib->fd, ib->path, INBOX_EVENTS);
	if (ib->wd >= 0)
		return 0;
	r = -errno;
	inbox_watch_parent(ib);
	/* The inbox may have come back between the two calls, before the
	 * parent's watch could see it arrive: look once more. */
	ib->wd = inotify_add_watch(ib->fd, ib->path, INBOX_EVENTS);
	if (ib->wd >= 0) {
		inbox_unwatch_parent(ib);
		return 0;
	}
	return r;
}

static bool
inbox_fill(struct inbox *ib)
{
	ssize_t n;

	do
		n = read(ib->fd, ib->buf, sizeof(ib->buf));
	while (n < 0 && errno == EINTR);
	/* EAGAIN is the normal end; other errors cannot happen on a valid
	 * inotify descriptor with a buffer this large. */
	if (n <= 0)
		return false;
	ib->len = (size_t)n;
	ib->off = 0;
	return true;
}

/* What a change to the inbox directory itself means. */
static enum inbox_event
inbox_self_event(struct inbox *ib)
{
	/* A moved inbox keeps its watch on the old inode: drop it and look
	 * at the path again, which may already hold a new directory. */
	if (inbox_watch(ib, ib->path) == 0)
		return INBOX_BACK;
	return INBOX_LOST;
}

static enum inbox_event
inbox_parent_event(struct inbox *ib, const struct inotify_event *e)
{
	if (!(e->mask & IN_ISDIR) || e->len == 0 ||
	    strcmp(e->name, ib->base) != 0)
		return INBOX_NONE;
	if (inbox_watch(ib, ib->path) < 0)
		return INBOX_NONE;
	return INBOX_BACK;
}

static enum inbox_event
inbox_decode(struct inbox *ib, const struct inotify_event *e,
    const char **ret_name)
{
	if (e->mask & IN_Q_OVERFLOW)
		return INBOX_RESCAN;
	if (ib->parent_wd >= 0 && e->wd == ib->parent_wd)
		return inbox_parent_event(ib, e);
	if (e->wd != ib->wd || ib->wd < 0)
		return INBOX_NONE;	/* a watch dropped earlier */
	if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED |
	    IN_UNMOUNT))
		return inbox_self_event(ib);
	if (e->len == 0 || !e->name[0])
		return INBOX_NONE;
	*ret_name = e->name;
	if (e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
		return INBOX_FILE;
	if (e->mask & (IN_DELETE | IN_MOVED_FROM))
		return INBOX_GONE;
	return INBOX_NONE;
}

/*
 * Returns the next thing that happened, reading from the kernel when the
 * buffer is used up; INBOX_NONE when nothing is pending.  For INBOX_FILE
 * and INBOX_GONE, *ret_name points into a buffer that the next call
 * reuses.
 */
enum inbox_event
inbox_next_event(struct inbox *ib, const char **ret_name)
{
	const struct inotify_event *e;
	enum inbox_event ev;

	for (;;) {
		if (ib->off >= ib->len && !inbox_fill(ib))
			return INBOX_NONE;
		e = (const struct inotify_event *)(ib->buf + ib->off);
		ib->off += sizeof(*e) + e->len;
		ev = inbox_decode(ib, e, ret_name);
		if (ev != INBOX_NONE)
			return ev;
	}
}

/*
 * Starts listing the inbox from the beginning (a scan in progress starts
 * over).  Returns 0 or a negative errno when the inbox cannot be read.
 */
int
inbox_scan_begin(struct inbox *ib)
{
	if (ib->scan)
		(void)closedir(ib->scan);
	ib->scan = opendir(ib->path);
	return ib->scan ? 0 : -errno;
}

/*
 * Gives the next name of the running scan.  Returns 1 with *ret_name
 * (valid until the next call), or 0 when the scan is over or none runs.
 */
int
inbox_scan_next(struct inbox *ib, const char **ret_name)
{
	struct dirent *d;

	while (ib->scan && (d = readdir(ib->scan))) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		*ret_name = d->d_name;
		return 1;
	}
	if (ib->scan)
		(void)closedir(ib->scan);
	ib->scan = NULL;
	return 0;
}

/* Whether a scan is still running. */
bool
inbox_is_scanning(const struct inbox *ib)
{
	return ib->scan != NULL;
}
