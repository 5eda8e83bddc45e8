/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_NOTIFY_H
#define GISTD_NOTIFY_H

/*
 * The sd_notify protocol: readiness, status, reload, stop and watchdog.
 * Main thread only.  Without $NOTIFY_SOCKET every call does nothing.
 */

#include <stdint.h>

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_extend_timeout(uint64_t usec);
void notify_status(const char *status);
void notify_watchdog(void);
uint64_t notify_watchdog_usec(void);

#endif
