/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_API_H
#define GISTD_API_H

/*
 * One chat-completions call to an OpenAI-compatible API, and the class of
 * its failure.  A struct api_client is one request slot: a curl easy
 * handle and its reply buffer.  One thread at a time holds it; handing it
 * on (through a lock or a queue) hands it all.  The request and reply
 * helpers are pure and exported for the tests.
 */

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "settings.h"

/* Replies larger than this are cut off and treated as a transient fault. */
#define API_REPLY_MAX_BYTES (1024 * 1024)

enum api_class {
	API_OK,
	API_TRANSIENT,		/* try again later */
	API_FILE_FAULT,		/* this input will never work */
	API_SETUP_FAULT,	/* nothing will work until the setup changes */
};

struct api_result {
	enum api_class class;
	long http_status;		/* 0 when no HTTP reply came */
	bool is_unreachable;		/* no connection could be made */
	int64_t retry_after_ms;		/* -1 when the provider named none */
	int64_t tokens_in;
	int64_t tokens_out;
	char *summary;			/* malloc'd; set only for API_OK */
	char reason[256];		/* one line, never the key */
};

struct api_client;

int api_init(void);
int api_client_new(struct api_client **ret_client);
void api_client_free(struct api_client *c);
int api_client_begin(struct api_client *c, const struct settings *s,
    const char *body, struct api_result *ret_result);
void api_client_cancel(struct api_client *c);
void *api_client_handle(struct api_client *c);
void api_client_end(struct api_client *c, const struct settings *s,
    int curl_code, struct api_result *ret_result);
int api_send(struct api_client *c, const struct settings *s, const char *body,
    struct api_result *ret_result);
int api_summarize(struct api_client *c, const struct settings *s,
    const char *text, size_t len, struct api_result *ret_result);
void api_result_clear(struct api_result *r);

int64_t api_estimate_tokens(const struct settings *s, size_t text_len);
char *api_build_request(const struct settings *s, const char *text,
    size_t len);
void api_parse_reply(long http_status, const char *body, size_t len,
    struct api_result *ret_result);

#endif
