/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_INBOX_H
#define GISTD_INBOX_H

/*
 * Watching the inbox: the inotify watch (and, while the inbox is missing, a
 * watch on its parent for its return), the events read from it one at a
 * time, and the directory scan, which is a cursor so that a huge inbox is
 * read only as fast as the queue takes its names.  Main thread only.
 */

#include <stdbool.h>

struct inbox;

enum inbox_event {
	INBOX_NONE,		/* nothing more right now */
	INBOX_FILE,		/* a name appeared */
	INBOX_GONE,		/* a name was removed or moved away */
	INBOX_RESCAN,		/* events were lost: scan again */
	INBOX_LOST,		/* the inbox was removed or moved away */
	INBOX_BACK,		/* the inbox exists again */
};

int inbox_new(struct inbox **ret_inbox);
void inbox_free(struct inbox *ib);
int inbox_fd(const struct inbox *ib);
int inbox_watch(struct inbox *ib, const char *path);
bool inbox_is_watched(const struct inbox *ib);
bool inbox_is_blind(const struct inbox *ib);
enum inbox_event inbox_next_event(struct inbox *ib, const char **ret_name);
int inbox_scan_begin(struct inbox *ib);
int inbox_scan_next(struct inbox *ib, const char **ret_name);
bool inbox_is_scanning(const struct inbox *ib);

#endif
