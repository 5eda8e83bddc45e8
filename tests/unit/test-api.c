// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * Tests of api.c.  Requests are checked by parsing them back with json-c;
 * replies of every class are fed to api_parse_reply(); and api_summarize()
 * runs end to end against a small HTTP server that a thread of this test
 * runs on 127.0.0.1.  The server follows a script of steps, one per
 * request, records what it saw, and is joined before the test reads that.
 * Every wait of the server and of the joins has a deadline.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "api.h"
#include "tap.h"
#include "text.h"
#include "util.h"

#define TEST_KEY "test-key-123"
#define TEST_PROMPT "Summarize the following text in one sentence:"

/* How long the server waits for any one thing before it gives up. */
#define SRV_IO_TIMEOUT_MS 5000

/* How long joining the server may take once it was told to stop. */
#define SRV_JOIN_TIMEOUT_MS 10000

/* The body a flooding server announces or streams, far above the limit. */
#define SRV_FLOOD_BYTES ((int64_t)100 * 1024 * 1024)

static void
settings_fill(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	s->prompt = (char *)TEST_PROMPT;
	s->system_prompt = (char *)"";
	s->provider = SETTINGS_PROVIDER_OPENAI;
	s->base_url = (char *)"https://api.openai.com/v1";
	s->key_file = (char *)"";
	s->model = (char *)"gpt-4o-mini";
	s->max_tokens = 50;
	s->timeout_ms = 10000;
	s->connect_timeout_ms = 5000;
	s->ca_file = (char *)"";
	s->api_key = (char *)TEST_KEY;
}

/* Parses a request back; bails out when it is no JSON at all. */
static json_object *
parse_request(const char *json)
{
	json_object *root = json ? json_tokener_parse(json) : NULL;

	if (!root) {
		printf("Bail out! api_build_request made no JSON\n");
		exit(EXIT_FAILURE);
	}
	return root;
}

/* messages[i].field of a parsed request, or "" when absent. */
static const char *
message_field(json_object *root, size_t i, const char *field)
{
	json_object *messages, *m, *v;

	if (!json_object_object_get_ex(root, "messages", &messages) ||
	    !json_object_is_type(messages, json_type_array) ||
	    i >= json_object_array_length(messages))
		return "";
	m = json_object_array_get_idx(messages, i);
	if (!json_object_object_get_ex(m, field, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static size_t
message_count(json_object *root)
{
	json_object *messages;

	if (!json_object_object_get_ex(root, "messages", &messages) ||
	    !json_object_is_type(messages, json_type_array))
		return 0;
	return json_object_array_length(messages);
}

static void
test_request_has_model_max_tokens_and_user_message(void)
{
	struct settings s;
	json_object *root, *v;
	char *json;

	settings_fill(&s);
	json = api_build_request(&s, "The text.", 9);
	root = parse_request(json);
	TAP_CHECK(json_object_object_get_ex(root, "model", &v) &&
	    strcmp(json_object_get_string(v), "gpt-4o-mini") == 0);
	TAP_CHECK(json_object_object_get_ex(root, "max_tokens", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) == 50);
	TAP_CHECK(message_count(root) == 1);
	TAP_CHECK(strcmp(message_field(root, 0, "role"), "user") == 0);
	TAP_CHECK(strcmp(message_field(root, 0, "content"),
	    TEST_PROMPT "\n\nThe text.") == 0);
	json_object_put(root);
	free(json);
}

static void
test_request_puts_the_system_prompt_first(void)
{
	struct settings s;
	json_object *root;
	char *json;

	settings_fill(&s);
	s.system_prompt = (char *)"You are terse.";
	json = api_build_request(&s, "abcdef", 3);
	root = parse_request(json);
	TAP_CHECK(message_count(root) == 2);
	TAP_CHECK(strcmp(message_field(root, 0, "role"), "system") == 0);
	TAP_CHECK(strcmp(message_field(root, 0, "content"),
	    "You are terse.") == 0);
	TAP_CHECK(strcmp(message_field(root, 1, "role"), "user") == 0);
	/* Only len bytes of the text are sent. */
	TAP_CHECK(strcmp(message_field(root, 1, "content"),
	    TEST_PROMPT "\n\nabc") == 0);
	json_object_put(root);
	free(json);
}

static void
test_request_escapes_quotes_newlines_and_non_ascii(void)
{
	static const char text[] = "He said \"hi\"\\/\nthen\tleft\x01.\n"
	    "\xc3\x9c" "bung \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";
	struct settings s;
	json_object *root;
	char *json;

	settings_fill(&s);
	s.prompt = (char *)"Say \"what\"\n";
	json = api_build_request(&s, text, sizeof(text) - 1);
	root = parse_request(json);
	TAP_CHECK(strcmp(message_field(root, 0, "content"),
	    "Say \"what\"\n\n\n" "He said \"hi\"\\/\nthen\tleft\x01.\n"
	    "\xc3\x9c" "bung \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80") == 0);
	/* Raw control characters would make the JSON invalid. */
	TAP_CHECK(json && !strchr(json, '\n') && !strchr(json, '\t') &&
	    !strchr(json, '\x01'));
	json_object_put(root);
	free(json);
}

static void
test_request_without_prompt_sends_the_text_alone(void)
{
	struct settings s;
	json_object *root;
	char *json;

	settings_fill(&s);
	s.prompt = (char *)"";
	json = api_build_request(&s, "Just this.", 10);
	root = parse_request(json);
	TAP_CHECK(strcmp(message_field(root, 0, "content"), "Just this.") ==
	    0);
	json_object_put(root);
	free(json);
}

/* The exact body: compact JSON, with no white space to send along with
 * every request, and its keys in a fixed order. */
static void
test_request_is_compact_json_in_a_fixed_order(void)
{
	static const char want[] =
	    "{\"model\":\"m\\\"1\",\"max_tokens\":7,\"messages\":["
	    "{\"role\":\"system\",\"content\":\"Be \\\\ brief\"},"
	    "{\"role\":\"user\",\"content\":\"P\\n\\nT\"}]}";
	struct settings s;
	char *json;

	settings_fill(&s);
	s.model = (char *)"m\"1";
	s.max_tokens = 7;
	s.system_prompt = (char *)"Be \\ brief";
	s.prompt = (char *)"P";
	json = api_build_request(&s, "T", 1);
	TAP_CHECK(json && strcmp(json, want) == 0);
	free(json);
}

/* Every control character is escaped, with \u00XX where JSON has no
 * letter for it; DEL and bytes over 0x7f go as they are. */
static void
test_request_escapes_every_control_character(void)
{
	char text[34], want[512], *json, *content;
	struct settings s;
	json_object *root;
	size_t i;

	for (i = 0; i < 32; i++)
		text[i] = (char)(i + 1 < 32 ? i + 1 : 0x7f);
	text[32] = '\xc3';
	text[33] = '\xa9';
	settings_fill(&s);
	s.prompt = (char *)"";
	json = api_build_request(&s, text, sizeof(text));
	root = parse_request(json);
	content = strstr(json, "\"content\":\"");
	TAP_CHECK(content != NULL);
	(void)snprintf(want, sizeof(want), "%s",
	    "\"content\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006"
	    "\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011"
	    "\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019"
	    "\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\x7f\xc3\xa9\"}]}");
	TAP_CHECK(content && strcmp(content, want) == 0);
	TAP_CHECK(memcmp(message_field(root, 0, "content"), text,
	    sizeof(text)) == 0);
	json_object_put(root);
	free(json);
}

/* A NUL inside the text is sent as \u0000, not cut off at. */
static void
test_request_keeps_a_nul_in_the_text(void)
{
	struct settings s;
	char *json;

	settings_fill(&s);
	s.prompt = (char *)"";
	json = api_build_request(&s, "a\0b", 3);
	TAP_CHECK(json && strstr(json, "\"content\":\"a\\u0000b\"") != NULL);
	free(json);
}

static void
test_estimate_counts_a_token_per_three_bytes_plus_max_tokens(void)
{
	struct settings s;

	settings_fill(&s);
	s.prompt = (char *)"12345";		/* 5 bytes */
	s.system_prompt = (char *)"1234";	/* 4 bytes */
	s.max_tokens = 50;
	TAP_CHECK(api_estimate_tokens(&s, 0) == 3 + 50);
	TAP_CHECK(api_estimate_tokens(&s, 1) == 4 + 50);
	TAP_CHECK(api_estimate_tokens(&s, 2) == 4 + 50);
	TAP_CHECK(api_estimate_tokens(&s, 3) == 4 + 50);
	TAP_CHECK(api_estimate_tokens(&s, 6000) == 2003 + 50);
}

static void
parse(long status, const char *body, struct api_result *r)
{
	api_parse_reply(status, body, body ? strlen(body) : 0, r);
}

static void
test_reply_ok_gives_trimmed_summary_and_usage(void)
{
	struct api_result r;

	parse(200, "{\"choices\":[{\"message\":{\"role\":\"assistant\","
	    "\"content\":\"  \\n\\tA short summary.\\n \"},"
	    "\"finish_reason\":\"stop\"}],"
	    "\"usage\":{\"prompt_tokens\":812,\"completion_tokens\":17}}\n",
	    &r);
	TAP_CHECK(r.class == API_OK);
	TAP_CHECK(r.summary && strcmp(r.summary, "A short summary.") == 0);
	TAP_CHECK(r.tokens_in == 812);
	TAP_CHECK(r.tokens_out == 17);
	TAP_CHECK(r.http_status == 200);
	TAP_CHECK(r.retry_after_ms == -1);
	api_result_clear(&r);
	TAP_CHECK(r.summary == NULL);
}

static void
test_reply_without_usage_counts_no_tokens(void)
{
	struct api_result r;

	parse(200, "{\"choices\":[{\"message\":{\"content\":\"Fine.\"}}]}", &r);
	TAP_CHECK(r.class == API_OK);
	TAP_CHECK(r.summary && strcmp(r.summary, "Fine.") == 0);
	TAP_CHECK(r.tokens_in == 0 && r.tokens_out == 0);
	api_result_clear(&r);

	/* Nonsense counts are no counts. */
	parse(200, "{\"choices\":[{\"message\":{\"content\":\"Fine.\"}}],"
	    "\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":\"7\"}}",
	    &r);
	TAP_CHECK(r.class == API_OK);
	TAP_CHECK(r.tokens_in == 0 && r.tokens_out == 0);
	api_result_clear(&r);
}

static void
test_reply_cut_by_max_tokens_is_still_a_summary(void)
{
	struct api_result r;

	parse(200, "{\"choices\":[{\"message\":{\"content\":\"Half a\"},"
	    "\"finish_reason\":\"length\"}]}", &r);
	TAP_CHECK(r.class == API_OK);
	TAP_CHECK(r.summary && strcmp(r.summary, "Half a") == 0);
	TAP_CHECK(strcmp(r.reason, "summary cut short by max_tokens") == 0);
	api_result_clear(&r);
}

static void
test_reply_without_content_is_transient(void)
{
	static const char *const bodies[] = {
		"{\"choices\":[{\"message\":{\"content\":\"\"}}]}",
		"{\"choices\":[{\"message\":{\"content\":\" \\n\\t \"}}]}",
		"{\"choices\":[{\"message\":{\"content\":null}}]}",
		"{\"choices\":[]}",
		"{\"choices\":{\"message\":{\"content\":\"x\"}}}",
		"{\"choices\":[{\"message\":\"x\"}]}",
		"{\"object\":\"chat.completion\"}",
		"[1,2,3]",
	};
	struct api_result r;
	size_t i;

	for (i = 0; i < UTIL_ARRAY_SIZE(bodies); i++) {
		parse(200, bodies[i], &r);
		TAP_CHECK(r.class == API_TRANSIENT);
		TAP_CHECK(r.summary == NULL);
		TAP_CHECK(r.reason[0] != '\0');
		api_result_clear(&r);
	}
	parse(200, "{\"choices\":[{\"message\":{\"content\":\"  \"}}]}", &r);
	TAP_CHECK(strcmp(r.reason, "empty reply") == 0);
}

static void
test_reply_withheld_by_content_filter_is_the_files_fault(void)
{
	struct api_result r;

	parse(200, "{\"choices\":[{\"message\":{\"content\":null},"
	    "\"finish_reason\":\"content_filter\"}]}", &r);
	TAP_CHECK(r.class == API_FILE_FAULT);
	TAP_CHECK(r.summary == NULL);
	api_result_clear(&r);
}

static void
test_malformed_reply_is_transient(void)
{
	static const char *const bodies[] = {
		"",
		"{",
		"not json",
		"<html>Bad Gateway</html>",
		"{\"choices\":[{\"message\":{\"content\":\"x\"}}]} trailing",
		"{\"choices\":[{\"message\":{\"content\":\"x\"}}]}{}",
	};
	char deep[400];
	struct api_result r;
	size_t i, n;

	for (i = 0; i < UTIL_ARRAY_SIZE(bodies); i++) {
		parse(200, bodies[i], &r);
		TAP_CHECK(r.class == API_TRANSIENT);
		TAP_CHECK(r.summary == NULL);
		api_result_clear(&r);
	}
	/* Nesting past the depth limit is refused, not recursed into. */
	n = (size_t)snprintf(deep, sizeof(deep), "%s",
	    "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"x\":");
	memset(deep + n, '[', 100);
	memset(deep + n + 100, ']', 100);
	(void)snprintf(deep + n + 200, sizeof(deep) - n - 200, "}");
	parse(200, deep, &r);
	TAP_CHECK(r.class == API_TRANSIENT);
	TAP_CHECK(r.summary == NULL);
	api_parse_reply(200, NULL, 0, &r);
	TAP_CHECK(r.class == API_TRANSIENT);
}

static void
test_http_status_decides_the_class(void)
{
	static const struct {
		long status;
		enum api_class class;
	} cases[] = {
		{ 408, API_TRANSIENT }, { 409, API_TRANSIENT },
		{ 429, API_TRANSIENT }, { 500, API_TRANSIENT },
		{ 502, API_TRANSIENT }, { 503, API_TRANSIENT },
		{ 504, API_TRANSIENT }, { 599, API_TRANSIENT },
		{ 400, API_FILE_FAULT }, { 413, API_FILE_FAULT },
		{ 422, API_FILE_FAULT }, { 418, API_FILE_FAULT },
		{ 451, API_FILE_FAULT }, { 401, API_SETUP_FAULT },
		{ 403, API_SETUP_FAULT }, { 404, API_SETUP_FAULT },
		{ 301, API_SETUP_FAULT }, { 307, API_SETUP_FAULT },
		{ 402, API_SETUP_FAULT }, { 405, API_SETUP_FAULT },
		{ 407, API_SETUP_FAULT }, { 410, API_SETUP_FAULT },
	};
	struct api_result r;
	char want[32];
	size_t i;

	for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
		parse(cases[i].status, "", &r);
		(void)snprintf(want, sizeof(want), "HTTP %ld", cases[i].status);
		TAP_CHECK(r.class == cases[i].class);
		TAP_CHECK(r.http_status == cases[i].status);
		TAP_CHECK(strcmp(r.reason, want) == 0);
		TAP_CHECK(r.summary == NULL);
	}
	/* An error status with a valid completion body is still an error. */
	parse(500, "{\"choices\":[{\"message\":{\"content\":\"x\"}}]}", &r);
	TAP_CHECK(r.class == API_TRANSIENT && r.summary == NULL);
}

static void
test_429_insufficient_quota_is_the_setups_fault(void)
{
	struct api_result r;

	parse(429, "{\"error\":{\"message\":\"You exceeded your current "
	    "quota.\",\"type\":\"insufficient_quota\",\"code\":null}}", &r);
	TAP_CHECK(r.class == API_SETUP_FAULT);
	TAP_CHECK(strcmp(r.reason,
	    "HTTP 429: You exceeded your current quota.") == 0);
	parse(429, "{\"error\":{\"message\":\"Quota.\",\"type\":\"x\","
	    "\"code\":\"insufficient_quota\"}}", &r);
	TAP_CHECK(r.class == API_SETUP_FAULT);
	parse(429, "{\"error\":{\"message\":\"Slow down.\","
	    "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}", &r);
	TAP_CHECK(r.class == API_TRANSIENT);
	TAP_CHECK(strcmp(r.reason, "HTTP 429: Slow down.") == 0);
}

static void
test_error_message_goes_into_the_reason_on_one_line(void)
{
	struct api_result r;

	parse(400, "{\"error\":{\"message\":\"bad\\nthing\\r\\u0001here\\t!\","
	    "\"type\":\"invalid_request_error\"}}", &r);
	TAP_CHECK(r.class == API_FILE_FAULT);
	TAP_CHECK(strcmp(r.reason, "HTTP 400: bad thing  here !") == 0);

	/* Servers that are compatible but not identical. */
	parse(404, "{\"error\":\"model 'llama9' not found\"}", &r);
	TAP_CHECK(r.class == API_SETUP_FAULT);
	TAP_CHECK(strcmp(r.reason, "HTTP 404: model 'llama9' not found") ==
	    0);
	parse(400, "{\"object\":\"error\",\"message\":\"too long\"}", &r);
	TAP_CHECK(strcmp(r.reason, "HTTP 400: too long") == 0);
	parse(503, "<html>upstream down</html>", &r);
	TAP_CHECK(strcmp(r.reason, "HTTP 503") == 0);
}

/* Whether s is valid UTF-8 from start to end. */
static bool
is_utf8(const char *s)
{
	size_t len = strlen(s), i = 0, n;

	while (i < len) {
		n = text_utf8_sequence((const unsigned char *)s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

static void
test_long_error_message_is_cut_on_a_character(void)
{
	char body[4096];
	struct api_result r;
	size_t i, n;
	int shift;

	/* Each shift moves the cut to another byte of the 3-byte characters. */
	for (shift = 0; shift < 3; shift++) {
		n = (size_t)snprintf(body, sizeof(body),
		    "{\"error\":{\"message\":\"%.*s", shift, "ab");
		for (i = 0; i < 300; i++) {
			memcpy(body + n, "\xe6\x97\xa5", 3);
			n += 3;
		}
		(void)snprintf(body + n, sizeof(body) - n, "\"}}");
		parse(400, body, &r);
		TAP_CHECK(strlen(r.reason) < sizeof(r.reason));
		TAP_CHECK(strlen(r.reason) > sizeof(r.reason) - 8);
		TAP_CHECK(strcmp(r.reason + strlen(r.reason) - 3, "...") == 0);
		TAP_CHECK(is_utf8(r.reason));
	}
}

/* A message that is not UTF-8 at all is cut where the limit falls: the
 * step back to a character's first byte is at most three bytes, and
 * never eats into "HTTP 400: ". */
static void
test_long_error_message_of_stray_bytes_keeps_its_head(void)
{
	char body[4096];
	struct api_result r;
	size_t n;

	n = (size_t)snprintf(body, sizeof(body), "{\"error\":{\"message\":\"");
	memset(body + n, 0xac, 600);
	(void)snprintf(body + n + 600, sizeof(body) - n - 600, "\"}}");
	parse(400, body, &r);
	TAP_CHECK(strncmp(r.reason, "HTTP 400: \xac", 11) == 0);
	TAP_CHECK(strlen(r.reason) > sizeof(r.reason) - 8);
	TAP_CHECK(strcmp(r.reason + strlen(r.reason) - 3, "...") == 0);
}

/* The HTTP server run by the end-to-end tests. */

enum srv_mode {
	SRV_REPLY,		/* send the response, keep the connection */
	SRV_CUT,		/* send the response, then close */
	SRV_STALL,		/* answer nothing until the client gives up */
	SRV_FLOOD,		/* send the head, then body until refused */
	SRV_AWAIT,		/* reply once a byte comes down the go pipe */
};

struct srv_step {
	enum srv_mode mode;
	char response[1024];
};

struct srv {
	int listen_fd;
	int stop_fds[2];		/* a pipe: main writes to stop */
	int go_fds[2];			/* a pipe: what SRV_AWAIT waits for */
	int port;
	pthread_t thread;
	struct srv_step *steps;
	size_t n_steps;

	/* written by the server thread, read by main after the join */
	int n_accepts;
	int n_requests;
	char request[16384];		/* the start of the last request */
	size_t request_len;		/* its whole length */
	int64_t flood_bytes;		/* body bytes sent by SRV_FLOOD */
	bool is_flood_refused;		/* the client stopped a flood */
};

/* Fills a step with a complete response carrying body. */
static void
srv_step_reply(struct srv_step *step, enum srv_mode mode,
    const char *status, const char *headers, const char *body)
{
	step->mode = mode;
	(void)snprintf(step->response, sizeof(step->response),
	    "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n%s\r\n%s", status, strlen(body),
	    headers, body);
}

/* Polls fd for events, and the stop pipe; 1 when fd is ready. */
static int
srv_poll(struct srv *srv, int fd, short events)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = events },
		{ .fd = srv->stop_fds[0], .events = POLLIN },
	};

	if (poll(p, 2, SRV_IO_TIMEOUT_MS) <= 0 || p[1].revents != 0)
		return 0;
	return p[0].revents != 0;
}

static int
srv_accept(struct srv *srv)
{
	int fd;

	if (!srv_poll(srv, srv->listen_fd, POLLIN))
		return -1;
	fd = accept(srv->listen_fd, NULL, NULL);
	if (fd >= 0)
		srv->n_accepts++;
	return fd;
}

static bool
srv_send_all(struct srv *srv, int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n;

		if (!srv_poll(srv, fd, POLLOUT))
			return false;
		n = send(fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

/* The value of Content-Length in a request head, 0 when absent. */
static size_t
srv_content_length(const char *head)
{
	const char *p = strcasestr(head, "\r\ncontent-length:");

	return p ? strtoul(p + 17, NULL, 10) : 0;
}

/*
 * Reads one request: its first bytes into srv->request, the rest of a long
 * body counted and dropped.  Returns 1 when one came, 0 when the client
 * closed the connection before sending a byte, -1 on trouble.
 */
static int
srv_read_request(struct srv *srv, int fd)
{
	static char scratch[64 * 1024];
	size_t len = 0, want = SIZE_MAX, size = sizeof(srv->request) - 1;
	const char *end;

	while (len < want) {
		char *to = len < size ? srv->request + len : scratch;
		size_t room = len < size ? size - len : sizeof(scratch);
		ssize_t n;

		if (!srv_poll(srv, fd, POLLIN))
			return -1;
		n = recv(fd, to, room, 0);
		if (n <= 0)
			return n == 0 && len == 0 ? 0 : -1;
		len += (size_t)n;
		srv->request[len < size ? len : size] = '\0';
		end = strstr(srv->request, "\r\n\r\n");
		if (want == SIZE_MAX && end)
			want = (size_t)(end + 4 - srv->request) +
			    srv_content_length(srv->request);
		else if (want == SIZE_MAX && len >= size)
			return -1;
	}
	srv->request_len = len;
	srv->n_requests++;
	return 1;
}

/* Streams body bytes until the client refuses them or the flood ends. */
static void
srv_flood(struct srv *srv, int fd)
{
	static char chunk[64 * 1024];

	memset(chunk, ' ', sizeof(chunk));
	while (srv->flood_bytes < SRV_FLOOD_BYTES) {
		if (!srv_send_all(srv, fd, chunk, sizeof(chunk))) {
			srv->is_flood_refused = true;
			return;
		}
		srv->flood_bytes += (int64_t)sizeof(chunk);
	}
}

/* Waits until the client closes fd (it gave up), or the deadline. */
static void
srv_wait_for_close(struct srv *srv, int fd)
{
	char buf[256];

	while (srv_poll(srv, fd, POLLIN))
		if (recv(fd, buf, sizeof(buf), 0) <= 0)
			return;
}

/* Serves one step on *fd; false when the connection is finished. */
static bool
srv_serve(struct srv *srv, int fd, const struct srv_step *step)
{
	const char *r = step->response;

	switch (step->mode) {
	case SRV_REPLY:
		return srv_send_all(srv, fd, r, strlen(r));
	case SRV_CUT:
		(void)srv_send_all(srv, fd, r, strlen(r));
		return false;
	case SRV_STALL:
		srv_wait_for_close(srv, fd);
		return false;
	case SRV_FLOOD:
		if (srv_send_all(srv, fd, r, strlen(r)))
			srv_flood(srv, fd);
		return false;
	case SRV_AWAIT:
		if (!srv_poll(srv, srv->go_fds[0], POLLIN))
			return false;
		return srv_send_all(srv, fd, r, strlen(r));
	}
	return false;
}

static void *
srv_run(void *arg)
{
	struct srv *srv = arg;
	size_t i = 0;
	int fd = -1, r;

	while (i < srv->n_steps) {
		if (fd < 0 && (fd = srv_accept(srv)) < 0)
			break;
		r = srv_read_request(srv, fd);
		if (r < 0)
			break;
		if (r == 0 || !srv_serve(srv, fd, &srv->steps[i])) {
			/* Closed by either side: next step, new connection. */
			(void)close(fd);
			fd = -1;
		}
		if (r > 0)
			i++;
	}
	(void)srv_poll(srv, srv->stop_fds[0], POLLIN);
	if (fd >= 0)
		(void)close(fd);
	return NULL;
}

/* A TCP socket bound to an ephemeral port of 127.0.0.1. */
static int
srv_socket(int *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		printf("Bail out! cannot bind 127.0.0.1: %s\n",
		    strerror(errno));
		exit(EXIT_FAILURE);
	}
	*ret_port = ntohs(a.sin_port);
	return fd;
}

static void
srv_start(struct srv *srv, struct srv_step *steps, size_t n_steps)
{
	memset(srv, 0, sizeof(*srv));
	srv->steps = steps;
	srv->n_steps = n_steps;
	srv->listen_fd = srv_socket(&srv->port);
	if (listen(srv->listen_fd, 8) < 0 ||
	    pipe2(srv->stop_fds, O_CLOEXEC) < 0 ||
	    pipe2(srv->go_fds, O_CLOEXEC) < 0 ||
	    pthread_create(&srv->thread, NULL, srv_run, srv) != 0) {
		printf("Bail out! cannot start the server\n");
		exit(EXIT_FAILURE);
	}
}

static void
srv_stop(struct srv *srv)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += SRV_JOIN_TIMEOUT_MS / 1000;
	if (write(srv->stop_fds[1], "x", 1) != 1 ||
	    pthread_timedjoin_np(srv->thread, NULL, &ts) != 0) {
		printf("Bail out! the server does not stop\n");
		exit(EXIT_FAILURE);
	}
	(void)close(srv->listen_fd);
	(void)close(srv->stop_fds[0]);
	(void)close(srv->stop_fds[1]);
	(void)close(srv->go_fds[0]);
	(void)close(srv->go_fds[1]);
}

/* Settings that send to srv, with a trailing '/' on the base URL. */
static void
settings_for(struct settings *s, const struct srv *srv, char *url,
    size_t size)
{
	settings_fill(s);
	(void)snprintf(url, size, "http://127.0.0.1:%d/v1/", srv->port);
	s->base_url = url;
}

static struct api_client *
new_client(void)
{
	struct api_client *c;

	if (api_client_new(&c) != 0) {
		printf("Bail out! api_client_new failed\n");
		exit(EXIT_FAILURE);
	}
	return c;
}

/* The body of srv's last request, parsed; NULL when none. */
static json_object *
srv_request_json(const struct srv *srv)
{
	const char *body = strstr(srv->request, "\r\n\r\n");

	return body ? json_tokener_parse(body + 4) : NULL;
}

static void
test_summarize_posts_with_the_key_and_reads_the_summary(void)
{
	char text[6000];
	struct srv_step step;
	struct api_client *c = new_client();
	struct api_result r;
	struct settings s;
	struct srv srv;
	json_object *req;
	char url[64];

	srv_step_reply(&step, SRV_REPLY, "200 OK", "",
	    "{\"choices\":[{\"message\":{\"content\":\" It works. \\n\"},"
	    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":30,"
	    "\"completion_tokens\":4,\"total_tokens\":34}}");
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, "Some text.", 10);
	srv_start(&srv, &step, 1);
	settings_for(&s, &srv, url, sizeof(url));
	TAP_CHECK(api_summarize(c, &s, text, strlen(text), &r) == 0);
	srv_stop(&srv);

	TAP_CHECK(r.class == API_OK);
	TAP_CHECK(r.summary && strcmp(r.summary, "It works.") == 0);
	TAP_CHECK(r.http_status == 200);
	TAP_CHECK(r.tokens_in == 30 && r.tokens_out == 4);
	TAP_CHECK(r.retry_after_ms == -1);
	TAP_CHECK(strncmp(srv.request, "POST /v1/chat/completions HTTP/1.1\r\n",
	    36) == 0);
	TAP_CHECK(strcasestr(srv.request,
	    "\r\nAuthorization: Bearer " TEST_KEY "\r\n") != NULL);
	TAP_CHECK(strcasestr(srv.request,
	    "\r\nContent-Type: application/json\r\n") != NULL);
	req = srv_request_json(&srv);
	TAP_CHECK(req != NULL);
	TAP_CHECK(strncmp(message_field(req, 0, "content"),
	    TEST_PROMPT "\n\nSome text.xxx", sizeof(TEST_PROMPT) + 14) == 0);
	TAP_CHECK(strlen(message_field(req, 0, "content")) ==
	    sizeof(TEST_PROMPT) - 1 + 2 + strlen(text));
	json_object_put(req);
	api_result_clear(&r);
	api_client_free(c);
}

static void
test_summarize_sends_a_large_body_at_once(void)
{
	const size_t len = 2 * 1024 * 1024;
	struct srv_step step;
	struct api_client *c = new_client();
	struct api_result r;
	struct settings s;
	struct srv srv;
	char url[64];
	char *text = malloc(len);

	if (!text) {
		printf("Bail out! out of memory\n");
		exit(EXIT_FAILURE);
	}
	memset(text, 'x', len);
	srv_step_reply(&step, SRV_REPLY, "200 OK", "",
	    "{\"choices\":[{\"message\":{\"content\":\"Long.\"}}]}");
	srv_start(&srv, &step, 1);
	settings_for(&s, &srv, url, sizeof(url));
	TAP_CHECK(api_summarize(c, &s, text, len, &r) == 0);
	srv_stop(&srv);
	TAP_CHECK(r.class == API_OK);
	/* No "Expect: 100-continue", which costs a round trip or a second. */
	TAP_CHECK(strcasestr(srv.request, "\r\nExpect:") == NULL);
	TAP_CHECK(srv.request_len > len);
	api_result_clear(&r);
	api_client_free(c);
	free(text);
}

static void
test_summarize_reuses_one_connection(void)
{
	struct srv_step steps[2];
	struct api_client *c = new_client();
	struct api_result r1, r2;
	struct settings s;
	struct srv srv;
	char url[64];

	srv_step_reply(&steps[0], SRV_REPLY, "200 OK", "",
	    "{\"choices\":[{\"message\":{\"content\":\"One.\"}}]}");
	srv_step_reply(&steps[1], SRV_REPLY, "200 OK", "",
	    "{\"choices\":[{\"message\":{\"content\":\"Two.\"}}]}");
	srv_start(&srv, steps, 2);
	settings_for(&s, &srv, url, sizeof(url));
	TAP_CHECK(api_summarize(c, &s, "a", 1, &r1) == 0);
	TAP_CHECK(api_summarize(c, &s, "b", 1, &r2) == 0);
	srv_stop(&srv);

	TAP_CHECK(r1.class == API_OK && r2.class == API_OK);
	TAP_CHECK(r2.summary && strcmp(r2.summary, "Two.") == 0);
	TAP_CHECK(srv.n_requests == 2);
	TAP_CHECK(srv.n_accepts == 1);
	api_result_clear(&r1);
	api_result_clear(&r2);
	api_client_free(c);
}

/* Runs one call against a server that follows one step. */
static void
summarize_once(const struct srv_step *step, struct srv *srv,
    struct settings *s, struct api_result *r)
{
	struct srv_step copy = *step;
	struct api_client *c = new_client();
	char url[64];

	srv_start(srv, &copy, 1);
	settings_for(s, srv, url, sizeof(url));
	TAP_CHECK(api_summarize(c, s, "text", 4, r) == 0);
	srv_stop(srv);
	api_client_free(c);
}

static void
test_summarize_honours_retry_after(void)
{
	struct srv_step step;
	struct api_result r;
	struct settings s;
	struct srv srv;

	srv_step_reply(&step, SRV_REPLY, "503 Service Unavailable",
	    "Retry-After: 7\r\n", "");
	summarize_once(&step, &srv, &s, &r);
	TAP_CHECK(r.class == API_TRANSIENT);
	TAP_CHECK(r.http_status == 503);
	TAP_CHECK(r.retry_after_ms == 7000);
	TAP_CHECK(strcmp(r.reason, "HTTP 503") == 0);

	srv_step_reply(&step, SRV_REPLY, "429 Too Many Requests",
	    "retry-after: 1\r\nRETRY-AFTER-MS: 250\r\n",
	    "{\"error\":{\"message\":\"Rate limit reached.\","
	    "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}");
	summarize_once(&step, &srv, &s, &r);
	TAP_CHECK(r.class == API_TRANSIENT);
	TAP_CHECK(r.http_status == 429);
	TAP_CHECK(r.retry_after_ms == 250);
	TAP_CHECK(strcmp(r.reason, "HTTP 429: Rate limit reached.") == 0);
}

static void
test_summarize_keeps_the_key_out_of_the_reason(void)
{
	struct srv_step step;
	struct api_result r;
	struct settings s;
	struct srv srv;

	srv_step_reply(&step, SRV_REPLY, "401 Unauthorized", "",
	    "{\"error\":{\"message\":\"Incorrect API key provided: "
	    "test-k******-123. Also '" TEST_KEY "'.\","
	    "\"code\":\"invalid_api_key\"}}");
	summarize_once(&step, &srv, &s, &r);
	TAP_CHECK(r.class == API_SETUP_FAULT);
	TAP_CHECK(r.http_status == 401);
	TAP_CHECK(strstr(r.reason, "test-k") == NULL);
	TAP_CHECK(strstr(r.reason, "-123") == NULL);
	TAP_CHECK(strcmp(r.reason, "HTTP 401: Incorrect API key provided: "
	    "[redacted] Also '[redacted]'.") == 0);
}

static void
test_summarize_without_key_fails_without_network(void)
{
	struct api_client *c = new_client();
	struct api_result r;
	struct settings s;
	struct srv srv;
	char url[64];

	srv_start(&srv, NULL, 0);
	settings_for(&s, &srv, url, sizeof(url));
	s.api_key = NULL;
	TAP_CHECK(api_summarize(c, &s, "text", 4, &r) == 0);
	TAP_CHECK(r.class == API_SETUP_FAULT);
	TAP_CHECK(strcmp(r.reason, "no API key (set api.key_file, the "
	    "api-key credential or OPENAI_API_KEY)") == 0);
	s.api_key = (char *)"bad\nkey";
	TAP_CHECK(api_summarize(c, &s, "text", 4, &r) == 0);
	TAP_CHECK(r.class == API_SETUP_FAULT);
	TAP_CHECK(strstr(r.reason, "bad") == NULL);
	srv_stop(&srv);
	TAP_CHECK(srv.n_accepts == 0);
	api_client_free(c);
}

static void
test_summarize_cuts_off_a_reply_over_the_limit(void)
{
	char want[64];
	struct srv_step step = { .mode = SRV_FLOOD };
	struct api_result r;
	struct settings s;
	struct srv srv;

	(void)snprintf(want, sizeof(want), "reply larger than %d bytes",
	    API_REPLY_MAX_BYTES);

	/* A length announced beyond the limit is refused at once. */
	(void)snprintf(step.response, sizeof(step.response),
	    "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n\r\n",
	    (long long)SRV_FLOOD_BYTES);
	summarize_once(&step, &srv, &s, &r);
	TAP_CHECK(r.class == API_TRANSIENT);
	TAP_CHECK(strcmp(r.reason, want) == 0);
	TAP_CHECK(srv.is_flood_refused);
	TAP_CHECK(srv.flood_bytes < SRV_FLOOD_BYTES / 4);
	printf("# announced: %lld bytes sent before the client hung up\n",
	    (long long)srv.flood_bytes);

	/* Without a length, the body is read up to the limit and no further. */
	(void)snprintf(step.response, sizeof(step.response),
	    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
	summarize_once(&step, &srv, &s, &r);
	TAP_CHECK(r.class == API_TRANSIENT);
	TAP_CHECK(strcmp(r.reason, want) == 0);
	TAP_CHECK(srv.is_flood_refused);
	TAP_CHECK(srv.flood_bytes < SRV_FLOOD_BYTES / 4);
	printf("# streamed: %lld bytes sent before the client hung up\n",
	    (long long)srv.flood_bytes);
}

static void
test_summarize_reply_cut_short_is_transient(void)
{
	struct srv_step step = { .mode = SRV_CUT };
	struct api_result r;
	struct settings s;
	struct srv srv;

	(void)snprintf(step.response, sizeof(step.response),
	    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"choices\":");
	summarize_once(&step, &srv, &s, &r);
	TAP_CHECK(r.class == API_TRANSIENT);
	TAP_CHECK(r.http_status == 200);
	TAP_CHECK(r.summary == NULL);
	TAP_CHECK(strncmp(r.reason, "transfer: ", 10) == 0);
}

static void
test_summarize_connection_refused_is_transient(void)
{
	struct api_client *c = new_client();
	struct api_result r;
	struct settings s;
	char url[64];
	int port, fd;

	/* Bound but not listening: refused, and nobody else takes the port. */
	fd = srv_socket(&port);
	settings_fill(&s);
	(void)snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", port);
	s.base_url = url;
	TAP_CHECK(api_summarize(c, &s, "text", 4, &r) == 0);
	TAP_CHECK(r.class == API_TRANSIENT);
	TAP_CHECK(r.http_status == 0);
	TAP_CHECK(r.retry_after_ms == -1);
	TAP_CHECK(strncmp(r.reason, "connect: ", 9) == 0);
	(void)close(fd);
	api_client_free(c);
}

static void
test_summarize_gives_up_on_a_stalled_server(void)
{
	struct srv_step step = { .mode = SRV_STALL };
	struct api_client *c = new_client();
	struct api_result r;
	struct settings s;
	struct srv srv;
	int64_t start_ms, took_ms;
	char url[64];

	srv_start(&srv, &step, 1);
	settings_for(&s, &srv, url, sizeof(url));
	s.timeout_ms = 300;
	start_ms = util_now_ms();
	TAP_CHECK(api_summarize(c, &s, "text", 4, &r) == 0);
	took_ms = util_now_ms() - start_ms;
	srv_stop(&srv);
	TAP_CHECK(r.class == API_TRANSIENT);
	TAP_CHECK(strncmp(r.reason, "timeout: ", 9) == 0);
	TAP_CHECK(took_ms >= 250);
	TAP_CHECK(took_ms < 3000);
	TAP_CHECK(srv.n_requests == 1);
	api_client_free(c);
}

static void
test_summarize_with_an_unusable_ca_file_is_the_setups_fault(void)
{
	struct srv_step step = { .mode = SRV_STALL };
	struct api_client *c = new_client();
	struct api_result r;
	struct settings s;
	struct srv srv;
	char url[64];

	srv_start(&srv, &step, 1);
	settings_fill(&s);
	(void)snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1", srv.port);
	s.base_url = url;
	s.ca_file = (char *)"/nonexistent/gistd-test-ca.pem";
	TAP_CHECK(api_summarize(c, &s, "text", 4, &r) == 0);
	srv_stop(&srv);
	TAP_CHECK(r.class == API_SETUP_FAULT);
	TAP_CHECK(strncmp(r.reason, "TLS certificate rejected: ", 26) == 0);
	TAP_CHECK(srv.n_requests == 0);
	api_client_free(c);
}

static void
test_summarize_refuses_other_protocols(void)
{
	struct api_client *c = new_client();
	struct api_result r;
	struct settings s;

	settings_fill(&s);
	s.base_url = (char *)"file:///etc";
	TAP_CHECK(api_summarize(c, &s, "text", 4, &r) == 0);
	TAP_CHECK(r.class == API_SETUP_FAULT);
	TAP_CHECK(r.http_status == 0);
	api_client_free(c);
}

int
main(void)
{
	static const char *const proxies[] = {
		"http_proxy", "https_proxy", "all_proxy", "HTTPS_PROXY",
		"ALL_PROXY", "no_proxy", "NO_PROXY",
	};
	size_t i;

	/* Hermetic: loopback only, never through a proxy of the caller. */
	for (i = 0; i < UTIL_ARRAY_SIZE(proxies); i++)
		(void)unsetenv(proxies[i]);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		printf("Bail out! curl_global_init failed\n");
		return EXIT_FAILURE;
	}

	TAP_RUN(test_request_has_model_max_tokens_and_user_message);
	TAP_RUN(test_request_puts_the_system_prompt_first);
	TAP_RUN(test_request_escapes_quotes_newlines_and_non_ascii);
	TAP_RUN(test_request_without_prompt_sends_the_text_alone);
	TAP_RUN(test_request_is_compact_json_in_a_fixed_order);
	TAP_RUN(test_request_escapes_every_control_character);
	TAP_RUN(test_request_keeps_a_nul_in_the_text);
	TAP_RUN(test_estimate_counts_a_token_per_three_bytes_plus_max_tokens);
	TAP_RUN(test_reply_ok_gives_trimmed_summary_and_usage);
	TAP_RUN(test_reply_without_usage_counts_no_tokens);
	TAP_RUN(test_reply_cut_by_max_tokens_is_still_a_summary);
	TAP_RUN(test_reply_without_content_is_transient);
	TAP_RUN(test_reply_withheld_by_content_filter_is_the_files_fault);
	TAP_RUN(test_malformed_reply_is_transient);
	TAP_RUN(test_http_status_decides_the_class);
	TAP_RUN(test_429_insufficient_quota_is_the_setups_fault);
	TAP_RUN(test_error_message_goes_into_the_reason_on_one_line);
	TAP_RUN(test_long_error_message_is_cut_on_a_character);
	TAP_RUN(test_long_error_message_of_stray_bytes_keeps_its_head);
	TAP_RUN(test_summarize_posts_with_the_key_and_reads_the_summary);
	TAP_RUN(test_summarize_sends_a_large_body_at_once);
	TAP_RUN(test_summarize_reuses_one_connection);
	TAP_RUN(test_summarize_honours_retry_after);
	TAP_RUN(test_summarize_keeps_the_key_out_of_the_reason);
	TAP_RUN(test_summarize_without_key_fails_without_network);
	TAP_RUN(test_summarize_cuts_off_a_reply_over_the_limit);
	TAP_RUN(test_summarize_reply_cut_short_is_transient);
	TAP_RUN(test_summarize_connection_refused_is_transient);
	TAP_RUN(test_summarize_gives_up_on_a_stalled_server);
	TAP_RUN(test_summarize_with_an_unusable_ca_file_is_the_setups_fault);
	TAP_RUN(test_summarize_refuses_other_protocols);
	curl_global_cleanup();
	return tap_done();
}
