// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Telling systemd what gistd is doing, through sd_notify(3): readiness,
 * reloads (with the monotonic time systemd expects), stopping, a longer
 * stop timeout while requests drain, the status line and watchdog pings.
 * Without $NOTIFY_SOCKET libsystemd makes every call a no-op.  The socket
 * variable is left in the environment because a reload notifies again.
 * Main thread only.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

/* Startup is done, or a reload is over: systemd may consider us up. */
void
notify_ready(void)
{
	(void)sd_notify(0, "READY=1");
}

/* A reload begins; systemd 253 and later match it to the next READY=1. */
void
notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	(void)sd_notify(0, msg);
}

/* Shutdown begins. */
void
notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1");
}

/* Asks systemd to wait usec more before it kills us while we drain. */
void
notify_extend_timeout(uint64_t usec)
{
	(void)sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%" PRIu64, usec);
}

/* Replaces the one-line status that "systemctl status" shows. */
void
notify_status(const char *status)
{
	(void)sd_notifyf(0, "STATUS=%s", status);
}

/* Tells the watchdog that the main loop is alive. */
void
notify_watchdog(void)
{
	(void)sd_notify(0, "WATCHDOG=1");
}

/*
 * The watchdog interval systemd asked for in microseconds, or 0 when it
 * asked for none (or asked another process).
 */
uint64_t
notify_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}
