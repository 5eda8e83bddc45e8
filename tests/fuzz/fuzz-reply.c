// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * libFuzzer target for api_parse_reply(): whatever a provider (or a proxy,
 * or a man in the middle of a plain-HTTP endpoint) sends back must be
 * classified without a crash, a leak or a read past the body.  The first
 * byte picks an HTTP status from a table; the rest is the body, passed
 * with its length and no NUL after it, as curl hands it over.
 *
 * Beyond "no crash", each result is checked against what the body says,
 * read again here with json-c:
 * - a 2xx reply whose choices[0].message.content is a string with more
 *   than white space is API_OK, and the summary is exactly that string
 *   (up to a NUL) without the white space around it;
 * - API_OK only ever comes from a 2xx reply, with token counts in range;
 * - any other status has the class SPEC.md gives it and a reason that
 *   begins "HTTP <status>" and carries the provider's message;
 * - the reason is one NUL-terminated line of no control characters, and
 *   valid UTF-8 when the provider's message was.
 * A failed check aborts, which libFuzzer reports as a crash with the input.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api.h"
#include "fuzz-utf8.h"

/* The depth api.c allows; a deeper body is malformed for both. */
#define FUZZ_JSON_DEPTH 32

#define FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) \
			fuzz_fail(#cond, __LINE__); \
	} while (0)

static const long fuzz_statuses[] = {
	200, 200, 200, 200, 201, 204, 299,	/* success, most often */
	400, 401, 402, 403, 404, 405, 407, 408, 409, 410, 413, 418, 422,
	429, 429, 451, 499,
	500, 502, 503, 504, 599,
	0, 100, 301, 302, 600, -1,
};

static void
fuzz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz-reply.c:%d: check failed: %s\n", line, what);
	abort();
}

static bool
fuzz_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

/* The body as one JSON value with only white space around it, or NULL. */
static json_object *
fuzz_parse(const char *body, size_t len)
{
	struct json_tokener *tok;
	json_object *root;
	size_t end;

	if (len == 0)
		return NULL;
	tok = json_tokener_new_ex(FUZZ_JSON_DEPTH);
	if (!tok)
		abort();
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(root);
		json_tokener_free(tok);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && fuzz_is_space(body[end]))
		end++;
	if (end < len) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

/* A string at obj.k1[.k2], or NULL. */
static const char *
fuzz_string(json_object *obj, const char *k1, const char *k2)
{
	json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, k1, &v))
		return NULL;
	if (k2 && (!json_object_is_type(v, json_type_object) ||
	    !json_object_object_get_ex(v, k2, &v)))
		return NULL;
	return json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

/* choices[0].message.content, or NULL. */
static const char *
fuzz_content(json_object *root, const char **ret_finish)
{
	json_object *choices, *choice;

	*ret_finish = NULL;
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "choices", &choices) ||
	    !json_object_is_type(choices, json_type_array) ||
	    json_object_array_length(choices) == 0)
		return NULL;
	choice = json_object_array_get_idx(choices, 0);
	*ret_finish = fuzz_string(choice, "finish_reason", NULL);
	return fuzz_string(choice, "message", "content");
}

/* The class SPEC.md gives a status that is not 2xx. */
static enum api_class
fuzz_expected_class(long status, json_object *root)
{
	const char *code = fuzz_string(root, "error", "code");
	const char *type = fuzz_string(root, "error", "type");

	if (status == 429)
		return (code && strcmp(code, "insufficient_quota") == 0) ||
		    (type && strcmp(type, "insufficient_quota") == 0) ?
		    API_SETUP_FAULT : API_TRANSIENT;
	if (status == 408 || status == 409 || status >= 500 || status < 300)
		return API_TRANSIENT;
	if (status == 400 || status == 413 || status == 422)
		return API_FILE_FAULT;
	if (status == 401 || status == 402 || status == 403 ||
	    status == 404 || status == 405 || status == 407 || status == 410 ||
	    status <= 399)
		return API_SETUP_FAULT;
	return API_FILE_FAULT;
}

static void
fuzz_check_reason(const struct api_result *r)
{
	size_t len = strnlen(r->reason, sizeof(r->reason)), i;

	FUZZ_CHECK(len < sizeof(r->reason));
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)r->reason[i];

		FUZZ_CHECK(c >= 0x20 && c != 0x7f);
	}
}

static void
fuzz_check_success(const struct api_result *r, json_object *root)
{
	const char *finish, *content = fuzz_content(root, &finish);
	size_t len;

	if (!root) {
		FUZZ_CHECK(r->class == API_TRANSIENT);
		return;
	}
	while (content && fuzz_is_space(*content))
		content++;
	len = content ? strlen(content) : 0;
	while (len > 0 && fuzz_is_space(content[len - 1]))
		len--;
	if (len == 0) {
		FUZZ_CHECK(r->class != API_OK);
		FUZZ_CHECK(r->class == (finish &&
		    strcmp(finish, "content_filter") == 0 ?
		    API_FILE_FAULT : API_TRANSIENT));
		return;
	}
	FUZZ_CHECK(r->class == API_OK);
	FUZZ_CHECK(r->summary != NULL);
	FUZZ_CHECK(strlen(r->summary) == len);
	FUZZ_CHECK(memcmp(r->summary, content, len) == 0);
	FUZZ_CHECK(r->tokens_in >= 0 && r->tokens_out >= 0);
	FUZZ_CHECK(r->tokens_in <= 1000000000000LL &&
	    r->tokens_out <= 1000000000000LL);
}

/* The reason of an error reply: "HTTP <status>" and the message, cut. */
static void
fuzz_check_error(const struct api_result *r, long status, json_object *root)
{
	const char *msg = fuzz_string(root, "error", "message");
	char head[64];
	size_t n, len, i;

	if (!msg)
		msg = fuzz_string(root, "error", NULL);
	if (!msg)
		msg = fuzz_string(root, "message", NULL);
	if (!msg)
		msg = fuzz_string(root, "detail", NULL);
	FUZZ_CHECK(r->class == fuzz_expected_class(status, root));
	FUZZ_CHECK(r->summary == NULL);
	n = (size_t)snprintf(head, sizeof(head), "HTTP %ld", status);
	FUZZ_CHECK(strncmp(r->reason, head, n) == 0);
	if (!msg || msg[0] == '\0') {
		FUZZ_CHECK(r->reason[n] == '\0');
		return;
	}
	FUZZ_CHECK(r->reason[n] == ':' && r->reason[n + 1] == ' ');

	/* The message follows, control characters made spaces; a long one
	 * ends in "..." after a cut on a character boundary. */
	len = strlen(r->reason + n + 2);
	if (strlen(msg) > len) {
		FUZZ_CHECK(len >= 3 &&
		    strcmp(r->reason + n + 2 + len - 3, "...") == 0);
		len -= 3;
	} else {
		FUZZ_CHECK(strlen(msg) == len);
	}
	for (i = 0; i < len; i++) {
		unsigned char want = (unsigned char)msg[i];

		if (want < 0x20 || want == 0x7f)
			want = ' ';
		FUZZ_CHECK((unsigned char)r->reason[n + 2 + i] == want);
	}
	if (fuzz_utf8_is_valid((const unsigned char *)msg, strlen(msg)))
		FUZZ_CHECK(fuzz_utf8_is_valid((const unsigned char *)r->reason,
		    strlen(r->reason)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long status;
	const char *body;
	size_t len;
	struct api_result r;
	json_object *root;

	if (size == 0)
		return 0;
	status = fuzz_statuses[data[0] % (sizeof(fuzz_statuses) /
	    sizeof(fuzz_statuses[0]))];
	body = (const char *)data + 1;
	len = size - 1;

	memset(&r, 0xa5, sizeof(r));
	api_parse_reply(status, len ? body : NULL, len, &r);
	root = fuzz_parse(body, len);

	FUZZ_CHECK(r.http_status == status);
	FUZZ_CHECK(r.retry_after_ms == -1);
	fuzz_check_reason(&r);
	if (r.class != API_OK)
		FUZZ_CHECK(r.summary == NULL);
	if (status >= 200 && status <= 299)
		fuzz_check_success(&r, root);
	else
		fuzz_check_error(&r, status, root);

	json_object_put(root);
	api_result_clear(&r);
	return 0;
}
