// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Where messages go.  When stderr is a stream to the journal (systemd sets
 * $JOURNAL_STREAM to its device and inode), each message is sent with
 * sd_journal_sendv() and carries the GISTD_* fields; otherwise it is one
 * line on stderr, written with a single write() so that lines of different
 * threads never interleave.  Names are escaped before they reach either.
 * The settings are fixed by log_init() before any thread starts; after
 * that every function is safe to call from any thread.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "text.h"

#define LOG_LINE_MAX 2048
#define LOG_FIELDS_MAX 12

static bool log_verbose;	/* fixed by log_init() */
static bool log_to_journal;	/* fixed by log_init() */

static bool
log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/*
 * Chooses the destination and the verbosity.  Call once, on the main
 * thread, before any other thread exists.
 */
void
log_init(bool is_verbose)
{
	log_verbose = is_verbose;
	log_to_journal = log_stderr_is_journal();
}

/* Whether debug messages are wanted (-v). */
bool
log_is_verbose(void)
{
	return log_verbose;
}

/*
 * Whether the valid UTF-8 sequence of n bytes at p can be logged as it is.
 * Not a backslash, DEL, the C0 controls, nor the characters that move the
 * cursor or end a line for some reader: the C1 controls U+0080 to U+009F
 * (U+009B starts a terminal escape, U+0085 ends a line) and the line and
 * paragraph separators U+2028 and U+2029.
 */
static bool
log_is_printable(const unsigned char *p, size_t n)
{
	if (n == 1)
		return p[0] >= 0x20 && p[0] != 0x7f && p[0] != '\\';
	if (n == 2)
		return !(p[0] == 0xc2 && p[1] <= 0x9f);
	if (n == 3)
		return !(p[0] == 0xe2 && p[1] == 0x80 &&
		    (p[2] == 0xa8 || p[2] == 0xa9));
	return true;
}

/*
 * Writes a printable form of the byte string name into buf and returns buf.
 * Valid UTF-8 other than control characters stays as it is; a backslash,
 * control characters (C0 and C1) and bytes that are not UTF-8 become
 * C-style escapes, one per byte.
 * A buf of LOG_NAME_MAX bytes holds any file name; a longer name is cut.
 */
const char *
log_escape(const char *name, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t off = 0, n;

	while (*p && off + 4 < size) {
		n = text_utf8_sequence(p, strnlen((const char *)p, 4));
		if (n > 0 && log_is_printable(p, n)) {
			memcpy(buf + off, p, n);
			off += n;
			p += n;
			continue;
		}
		if (*p == '\\' || *p == '\n' || *p == '\t')
			off += (size_t)snprintf(buf + off, size - off, "\\%c",
			    *p == '\\' ? '\\' : *p == '\n' ? 'n' : 't');
		else
			off += (size_t)snprintf(buf + off, size - off,
			    "\\x%02x", *p);
		p++;
	}
	buf[off] = '\0';
	return buf;
}

static const char *
log_prefix(int priority)
{
	switch (priority) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

/*
 * The message is formatted straight into the line that is written: one
 * buffer on the stack, not two, since every worker may come here.
 */
static void
log_write_stderr(int priority, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
log_write_stderr(int priority, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX + 64];
	int n, len;

	n = snprintf(line, sizeof(line), "gistd: %s", log_prefix(priority));
	if (n < 0)
		return;
	len = vsnprintf(line + n, LOG_LINE_MAX, fmt, ap);
	if (len < 0)
		return;
	if (len >= LOG_LINE_MAX)
		len = LOG_LINE_MAX - 1;
	line[n + len] = '\n';
	/* A failed write to stderr has nowhere to be reported. */
	(void)!write(STDERR_FILENO, line, (size_t)(n + len + 1));
}

static void
log_add_field(struct iovec *iov, size_t *n, char *storage, size_t size,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
log_add_field(struct iovec *iov, size_t *n, char *storage, size_t size,
    const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(storage, size, fmt, ap);
	va_end(ap);
	if (len < 0 || *n >= LOG_FIELDS_MAX)
		return;
	if ((size_t)len >= size)
		len = (int)size - 1;
	iov[*n].iov_base = storage;
	iov[*n].iov_len = (size_t)len;
	(*n)++;
}

/* Like log_write_stderr(), formats the message in place. */
static void
log_send_journal(int priority, const struct log_fields *f, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

static void
log_send_journal(int priority, const struct log_fields *f, const char *fmt,
    va_list ap)
{
	static const char message_key[] = "MESSAGE=";
	static const char file_key[] = "GISTD_FILE=";
	char message[sizeof(message_key) - 1 + LOG_LINE_MAX];
	char file[sizeof(file_key) - 1 + LOG_NAME_MAX];
	char fields[LOG_FIELDS_MAX][64];
	struct iovec iov[LOG_FIELDS_MAX];
	size_t n = 0, k = 0;
	int len;

	memcpy(message, message_key, sizeof(message_key) - 1);
	len = vsnprintf(message + sizeof(message_key) - 1, LOG_LINE_MAX, fmt,
	    ap);
	if (len < 0)
		return;
	if (len >= LOG_LINE_MAX)
		len = LOG_LINE_MAX - 1;
	iov[n].iov_base = message;
	iov[n++].iov_len = sizeof(message_key) - 1 + (size_t)len;
	log_add_field(iov, &n, fields[k++], 64, "PRIORITY=%d", priority);
	log_add_field(iov, &n, fields[k++], 64, "SYSLOG_IDENTIFIER=gistd");
	if (f && f->message_id)
		log_add_field(iov, &n, fields[k++], 64, "MESSAGE_ID=%s",
		    f->message_id);
	if (f && f->file) {
		memcpy(file, file_key, sizeof(file_key) - 1);
		iov[n].iov_base = file;
		iov[n++].iov_len = sizeof(file_key) - 1 + strlen(log_escape(
		    f->file, file + sizeof(file_key) - 1, LOG_NAME_MAX));
	}
#define LOG_NUMBER(field, value) \
	if (f && (value) >= 0) \
		log_add_field(iov, &n, fields[k++], 64, field "=%lld", \
		    (long long)(value))
	LOG_NUMBER("GISTD_BYTES", f->bytes);
	LOG_NUMBER("GISTD_LATENCY_MS", f->latency_ms);
	LOG_NUMBER("GISTD_TOKENS_IN", f->tokens_in);
	LOG_NUMBER("GISTD_TOKENS_OUT", f->tokens_out);
	LOG_NUMBER("GISTD_HTTP_STATUS", f->http_status);
	LOG_NUMBER("GISTD_ATTEMPT", f->attempt);
#undef LOG_NUMBER
	(void)sd_journal_sendv(iov, (int)n);
}

static void
log_vevent(int priority, const struct log_fields *f, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

static void
log_vevent(int priority, const struct log_fields *f, const char *fmt,
    va_list ap)
{
	if (priority == LOG_DEBUG && !log_verbose)
		return;
	if (log_to_journal)
		log_send_journal(priority, f, fmt, ap);
	else
		log_write_stderr(priority, fmt, ap);
}

/*
 * Logs one message at a syslog priority.  Callers escape file names with
 * log_escape() first and never pass the API key.
 */
void
log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vevent(priority, NULL, fmt, ap);
	va_end(ap);
}

/*
 * Logs one message with structured fields, which go to the journal as
 * GISTD_* fields and are dropped from plain stderr lines.
 */
void
log_event(int priority, const struct log_fields *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vevent(priority, f, fmt, ap);
	va_end(ap);
}

/*
 * Logs a lifecycle event or a failure that is not about one file, with
 * its MESSAGE_ID from msgid.h.
 */
void
log_lifecycle(int priority, const char *message_id, const char *fmt, ...)
{
	struct log_fields f = LOG_FIELDS_INIT;
	va_list ap;

	f.message_id = message_id;
	va_start(ap, fmt);
	log_vevent(priority, &f, fmt, ap);
	va_end(ap);
}
