/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_LOOP_H
#define GISTD_LOOP_H

/*
 * The main thread's event loop: epoll over the inotify descriptor, a
 * signalfd, the workers' eventfd and timers.  It decides what is queued,
 * deferred, paused and reported; the workers do all slow work.
 */

#include <stdbool.h>

#include "settings.h"

int loop_run(const char *config_path, struct settings *s, bool is_once);

#endif
