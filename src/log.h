/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_LOG_H
#define GISTD_LOG_H

/*
 * Logging to the journal (with GISTD_* fields) when stderr is connected to
 * it, else one plain line per message on stderr.  Thread-safe: any thread
 * may log once log_init() has run.
 */

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

/* Room for any escaped file name: every byte may become \xNN. */
#define LOG_NAME_MAX (255 * 4 + 1)

/* Per-file facts; a field left at its LOG_FIELDS_INIT value is omitted. */
struct log_fields {
	const char *message_id;		/* one of msgid.h, or NULL */
	const char *file;		/* raw name; escaped on output */
	int64_t bytes;
	int64_t latency_ms;
	int64_t tokens_in;
	int64_t tokens_out;
	long http_status;
	int attempt;
};

#define LOG_FIELDS_INIT { NULL, NULL, -1, -1, -1, -1, -1, -1 }

void log_init(bool is_verbose);
bool log_is_verbose(void);
void log_msg(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_event(int priority, const struct log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_lifecycle(int priority, const char *message_id, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
const char *log_escape(const char *name, char *buf, size_t size);

#endif
