// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * One chat-completions call to an OpenAI-compatible API and the class of
 * its outcome, as SPEC.md defines them: transient, the file's fault, or
 * the setup's fault.  A struct api_client owns a curl easy handle and a
 * reply buffer bounded by API_REPLY_MAX_BYTES.  api_client_begin() sets a
 * request up, a multi handle runs it (xfer.c; the connections and their
 * TLS sessions live in the multi handle's cache and outlast the request),
 * and api_client_end() classifies what came back.  One thread at a time
 * holds a client; json-c objects live within one call, so nothing here is
 * shared.  libcurl's global set-up is api_init(), called once before any
 * other thread exists.
 *
 * The API key goes into the Authorization header and nowhere else: not in
 * a reason, not in a log line (this module logs nothing), and the copies
 * made for the header list are wiped before they are freed.  Deciding what
 * to do about a failure (retry, fail the file, pause) is the caller's job.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "api.h"
#include "throttle.h"
#include "util.h"

/* Room for a Retry-After value; longer ones are ignored as garbage. */
#define API_HEADER_VALUE_MAX 64

/* Nesting deeper than this in a reply is refused as malformed. */
#define API_JSON_DEPTH_MAX 32

/* Token counts a reply claims are clamped to this. */
#define API_TOKENS_MAX ((int64_t)1000 * 1000 * 1000 * 1000)

/*
 * curl's receive buffer, the smallest it takes.  Its default of 16 KB is
 * kept by every client for as long as it lives, idle or not; a chat
 * completion with its headers is a KB or two, and a larger reply only
 * takes a few more reads.
 */
#define API_RECEIVE_BUFFER_BYTES 1024L

/* Only this much of a key is needed to recognise it in a message. */
#define API_KEY_WINDOW 8

#define API_REASON_NO_KEY \
    "no API key (set api.key_file, the api-key credential or OPENAI_API_KEY)"

struct api_client {
	CURL *curl;
	char *reply;			/* NUL-terminated after a transfer */
	size_t reply_len;
	size_t reply_size;
	bool is_too_large;		/* the write callback refused more */
	char retry_after[API_HEADER_VALUE_MAX];
	char retry_after_ms[API_HEADER_VALUE_MAX];
	char error[CURL_ERROR_SIZE];
	struct curl_slist *headers;	/* of the request in hand, or NULL */
	char *url;			/* of the request in hand, or NULL */
};

static void api_client_forget(struct api_client *c);

static void
api_result_init(struct api_result *r)
{
	memset(r, 0, sizeof(*r));
	r->class = API_OK;
	r->retry_after_ms = -1;
}

/*
 * Sets the class and a one-line reason.  A reason too long is cut on a
 * UTF-8 character boundary and ends in "..."; control characters, which
 * could forge log lines, become spaces.
 */
static void api_result_set(struct api_result *r, enum api_class class,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
api_result_set(struct api_result *r, enum api_class class, const char *fmt,
    ...)
{
	size_t size = sizeof(r->reason), i;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(r->reason, size, fmt, ap);
	va_end(ap);
	r->class = class;
	if (n < 0)
		r->reason[0] = '\0';
	if (n >= 0 && (size_t)n >= size) {
		size_t cut = size - 4, lowest = cut - 3;

		/* Back to the first byte of the character cut apart, if any:
		 * at most three bytes, as bytes that are no UTF-8 may all
		 * look like the middle of a character. */
		while (cut > lowest && ((unsigned char)r->reason[cut] >> 6) == 2)
			cut--;
		memcpy(r->reason + cut, "...", 4);
	}
	for (i = 0; r->reason[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)r->reason[i];

		if (ch < 0x20 || ch == 0x7f)
			r->reason[i] = ' ';
	}
}

/*
 * Frees the summary of r and resets every field, leaving r ready for the
 * next call.  Accepts a result that holds nothing.  The owning thread.
 */
void
api_result_clear(struct api_result *r)
{
	if (!r)
		return;
	free(r->summary);
	api_result_init(r);
}

static size_t
api_strlen(const char *s)
{
	return s ? strlen(s) : 0;
}

/*
 * The tokens a request for text_len bytes of text may cost, charged to the
 * tokens_per_minute bucket before it is sent and settled after the reply.
 * One token per three bytes of prompt, system prompt and text, plus the
 * whole max_tokens of the answer.  Tokenizers give about four bytes of
 * English per token and about three bytes (one character) of CJK, so this
 * errs on the safe side: the bucket waits a little too long rather than
 * letting the provider answer 429.  Pure; any thread.
 */
int64_t
api_estimate_tokens(const struct settings *s, size_t text_len)
{
	size_t bytes = api_strlen(s->prompt) + api_strlen(s->system_prompt) +
	    text_len;

	return (int64_t)(bytes / 3 + (bytes % 3 != 0)) + s->max_tokens;
}

static bool
api_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

/* Adds val to obj under key, taking val; false when out of memory. */
static bool
api_json_add(json_object *obj, const char *key, json_object *val)
{
	if (!val)
		return false;
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return false;
	}
	return true;
}

/* Appends {"role": role, "content": content} to messages. */
static bool
api_json_add_message(json_object *messages, const char *role,
    const char *content, size_t len)
{
	json_object *m = json_object_new_object();

	if (!m)
		return false;
	if (len > INT_MAX ||
	    !api_json_add(m, "role", json_object_new_string(role)) ||
	    !api_json_add(m, "content",
	    json_object_new_string_len(content, (int)len)) ||
	    json_object_array_add(messages, m) != 0) {
		json_object_put(m);
		return false;
	}
	return true;
}

/*
 * The user message: the prompt, a blank line, then the text; only the text
 * when the prompt is empty.  Returns malloc'd bytes (not NUL-terminated)
 * and their count in *ret_len, or NULL.
 */
static char *
api_build_user_content(const char *prompt, const char *text, size_t len,
    size_t *ret_len)
{
	size_t prompt_len = api_strlen(prompt);
	size_t sep_len = prompt_len > 0 ? 2 : 0;
	char *content;

	if (len > SIZE_MAX - prompt_len - sep_len - 1)
		return NULL;
	content = malloc(prompt_len + sep_len + len + 1);
	if (!content)
		return NULL;
	if (prompt_len > 0)
		memcpy(content, prompt, prompt_len);
	memcpy(content + prompt_len, "\n\n", sep_len);
	if (len > 0)
		memcpy(content + prompt_len + sep_len, text, len);
	*ret_len = prompt_len + sep_len + len;
	return content;
}

/* The "messages" array of a request; NULL when out of memory. */
static json_object *
api_build_messages(const struct settings *s, const char *text, size_t len)
{
	json_object *messages = json_object_new_array();
	char *content;
	size_t content_len;
	bool is_ok;

	if (!messages)
		return NULL;
	if (s->system_prompt && s->system_prompt[0] != '\0' &&
	    !api_json_add_message(messages, "system", s->system_prompt,
	    strlen(s->system_prompt))) {
		json_object_put(messages);
		return NULL;
	}
	content = api_build_user_content(s->prompt, text, len, &content_len);
	is_ok = content &&
	    api_json_add_message(messages, "user", content, content_len);
	free(content);
	if (!is_ok) {
		json_object_put(messages);
		return NULL;
	}
	return messages;
}

/*
 * The JSON body of a chat-completions request for len bytes of text (valid
 * UTF-8, already cut by the caller): model, max_tokens, and the messages,
 * a system message first when system_prompt is set.  Returns a malloc'd
 * string the caller frees, or NULL when out of memory or the text is over
 * INT_MAX bytes.  Pure; any thread.
 */
char *
api_build_request(const struct settings *s, const char *text, size_t len)
{
	json_object *root = json_object_new_object();
	const char *json;
	char *out = NULL;
	size_t json_len;

	if (!root)
		return NULL;
	if (!api_json_add(root, "model",
	    json_object_new_string(s->model ? s->model : "")) ||
	    !api_json_add(root, "max_tokens",
	    json_object_new_int64(s->max_tokens)) ||
	    !api_json_add(root, "messages", api_build_messages(s, text, len)))
		goto out;
	json = json_object_to_json_string_length(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
	    &json_len);
	if (json)
		out = strndup(json, json_len);

out:
	json_object_put(root);
	return out;
}

/*
 * Parses a reply body into a json-c tree the caller puts, or NULL when it
 * is not exactly one JSON value (white space around it allowed), nests too
 * deep, or is too long for json-c.
 */
static json_object *
api_parse_json(const char *body, size_t len)
{
	struct json_tokener *tok;
	json_object *root;
	size_t end;

	if (!body || len == 0 || len > INT_MAX)
		return NULL;
	tok = json_tokener_new_ex(API_JSON_DEPTH_MAX);
	if (!tok)
		return NULL;
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(root);
		root = NULL;
	}
	end = root ? json_tokener_get_parse_end(tok) : len;
	json_tokener_free(tok);
	while (end < len && api_is_space(body[end]))
		end++;
	if (end < len) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

/* Looks up a path of object keys; NULL when a step is missing. */
static json_object *
api_json_get(json_object *obj, const char *key1, const char *key2)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key1, &v))
		return NULL;
	if (key2 && !json_object_object_get_ex(v, key2, &v))
		return NULL;
	return v;
}

/* A string member or NULL; the string belongs to the tree. */
static const char *
api_json_get_string(json_object *obj, const char *key1, const char *key2)
{
	json_object *v = api_json_get(obj, key1, key2);

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A token count from "usage", clamped; 0 when absent or not a number. */
static int64_t
api_json_get_tokens(json_object *root, const char *key)
{
	json_object *v = api_json_get(root, "usage", key);
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return 0;
	n = json_object_get_int64(v);
	if (n < 0)
		return 0;
	return n > API_TOKENS_MAX ? API_TOKENS_MAX : n;
}

/* Makes r API_OK with a copy of the summary, or transient without memory. */
static void
api_result_take_summary(struct api_result *r, const char *summary,
    size_t len, const char *finish)
{
	r->summary = strndup(summary, len);
	if (!r->summary)
		api_result_set(r, API_TRANSIENT, "out of memory");
	else if (finish && strcmp(finish, "length") == 0)
		api_result_set(r, API_OK, "summary cut short by max_tokens");
}

/*
 * Reads choices[0] of a 2xx reply: the content, trimmed, becomes the
 * summary.  A reply cut by max_tokens (finish_reason "length") is still a
 * summary.  No content at all is transient, unless the provider's content
 * filter withheld it: then this text will never pass.
 */
static void
api_parse_success(json_object *root, struct api_result *r)
{
	json_object *choices = api_json_get(root, "choices", NULL);
	json_object *choice = json_object_is_type(choices, json_type_array) ?
	    json_object_array_get_idx(choices, 0) : NULL;
	const char *content = api_json_get_string(choice, "message", "content");
	const char *finish = api_json_get_string(choice, "finish_reason", NULL);
	size_t len;

	if (!root) {
		api_result_set(r, API_TRANSIENT, "malformed JSON in reply");
		return;
	}
	r->tokens_in = api_json_get_tokens(root, "prompt_tokens");
	r->tokens_out = api_json_get_tokens(root, "completion_tokens");
	/* A NUL inside the content ends the summary, which is a C string. */
	while (content && api_is_space(*content))
		content++;
	len = content ? strlen(content) : 0;
	while (len > 0 && api_is_space(content[len - 1]))
		len--;
	if (len == 0 && finish && strcmp(finish, "content_filter") == 0)
		api_result_set(r, API_FILE_FAULT,
		    "reply withheld by the content filter");
	else if (!content)
		api_result_set(r, API_TRANSIENT,
		    "no choices[0].message.content in reply");
	else if (len == 0)
		api_result_set(r, API_TRANSIENT, "empty reply");
	else
		api_result_take_summary(r, content, len, finish);
}

/* The class of a reply that is not 2xx, as SPEC.md "Failure" orders. */
static enum api_class
api_class_of_status(long status, json_object *root)
{
	const char *code = api_json_get_string(root, "error", "code");
	const char *type = api_json_get_string(root, "error", "type");

	switch (status) {
	case 429:
		/* Out of money is not cured by waiting. */
		if ((code && strcmp(code, "insufficient_quota") == 0) ||
		    (type && strcmp(type, "insufficient_quota") == 0))
			return API_SETUP_FAULT;
		return API_TRANSIENT;
	case 408:
	case 409:
		return API_TRANSIENT;
	case 400:
	case 413:
	case 422:
		return API_FILE_FAULT;
	case 401:	/* the key */
	case 402:	/* the account */
	case 403:
	case 404:	/* the URL or the model */
	case 405:	/* the URL */
	case 407:	/* a proxy */
	case 410:	/* a model withdrawn */
		return API_SETUP_FAULT;
	}
	/* Redirects are not followed: the base URL must change. */
	if (status >= 300 && status <= 399)
		return API_SETUP_FAULT;
	if (status >= 400 && status <= 499)
		return API_FILE_FAULT;
	return API_TRANSIENT;
}

/*
 * The provider's explanation in an error body: OpenAI's {"error":
 * {"message": ...}}, or the {"error": "..."} and {"message": ...} that
 * some compatible servers send.  NULL when there is none.
 */
static const char *
api_error_message(json_object *root)
{
	const char *msg = api_json_get_string(root, "error", "message");

	if (!msg)
		msg = api_json_get_string(root, "error", NULL);
	if (!msg)
		msg = api_json_get_string(root, "message", NULL);
	if (!msg)
		msg = api_json_get_string(root, "detail", NULL);
	return msg;
}

/*
 * Classifies an HTTP reply that is complete, from its status and body (len
 * bytes, need not be NUL-terminated), into *ret_result: a 2xx with content
 * is API_OK with the summary (malloc'd, freed by api_result_clear()) and
 * the token usage; anything else gets its class and a reason such as
 * "HTTP 400: <the provider's message>".  retry_after_ms is left at -1; the
 * headers are not seen here.  Pure; any thread.
 */
void
api_parse_reply(long http_status, const char *body, size_t len,
    struct api_result *ret_result)
{
	struct api_result r;
	json_object *root = api_parse_json(body, len);
	const char *msg;

	api_result_init(&r);
	r.http_status = http_status;
	if (http_status >= 200 && http_status <= 299) {
		api_parse_success(root, &r);
	} else {
		msg = api_error_message(root);
		if (msg && msg[0] != '\0')
			api_result_set(&r, api_class_of_status(http_status,
			    root), "HTTP %ld: %s", http_status, msg);
		else
			api_result_set(&r, api_class_of_status(http_status,
			    root), "HTTP %ld", http_status);
	}
	json_object_put(root);
	*ret_result = r;
}

/*
 * Classifies a transfer that failed with rc.  A certificate the peer or
 * our CA file makes us reject is the setup's fault, as is a URL curl
 * cannot use; everything else on the way is transient.
 */
static void
api_classify_transport(CURLcode rc, const char *error, struct api_result *r)
{
	const char *text = error[0] != '\0' ? error : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CLIENTCERT:
		api_result_set(r, API_SETUP_FAULT,
		    "TLS certificate rejected: %s", text);
		return;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_UNKNOWN_OPTION:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		api_result_set(r, API_SETUP_FAULT,
		    "cannot use api.base_url: %s", text);
		return;
	case CURLE_OPERATION_TIMEDOUT:
		api_result_set(r, API_TRANSIENT, "timeout: %s", text);
		return;
	/*
	 * XXX A TLS handshake failure that is not about the certificate
	 * (https:// on a plain-HTTP port, no common protocol version) counts
	 * as transient, so such a setup retries until retry.max_age instead
	 * of pausing gistd.
	 */
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		api_result_set(r, API_TRANSIENT, "connect: %s", text);
		r->is_unreachable = true;
		return;
	default:
		api_result_set(r, API_TRANSIENT, "transfer: %s", text);
		return;
	}
}

/*
 * Makes room for need bytes in the reply buffer, which never grows past
 * the limit and its NUL.  Returns 0, -EFBIG or -ENOMEM.
 */
static int
api_client_reserve(struct api_client *c, size_t need)
{
	size_t size = c->reply_size > 0 ? c->reply_size : 2048;
	char *p;

	if (need <= c->reply_size)
		return 0;
	if (need > API_REPLY_MAX_BYTES + 1)
		return -EFBIG;
	while (size < need)
		size *= 2;
	if (size > API_REPLY_MAX_BYTES + 1)
		size = API_REPLY_MAX_BYTES + 1;
	p = realloc(c->reply, size);
	if (!p)
		return -ENOMEM;
	c->reply = p;
	c->reply_size = size;
	return 0;
}

/* curl's write callback: keeps the body, and refuses past the limit. */
static size_t
api_client_on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct api_client *c = userdata;
	size_t len = size * n;

	/* Returning less than len makes curl abort the transfer. */
	if (len > API_REPLY_MAX_BYTES - c->reply_len) {
		c->is_too_large = true;
		return 0;
	}
	if (api_client_reserve(c, c->reply_len + len + 1) < 0)
		return 0;
	memcpy(c->reply + c->reply_len, data, len);
	c->reply_len += len;
	c->reply[c->reply_len] = '\0';
	return len;
}

/*
 * Copies the value of header line (len bytes) into buf when the line is
 * "name: value", the name compared without case.  A value too long for
 * buf is dropped: it is no Retry-After we could use.
 */
static void
api_header_capture(const char *line, size_t len, const char *name,
    char *buf, size_t size)
{
	size_t name_len = strlen(name);
	const char *v, *end = line + len;

	if (len <= name_len || line[name_len] != ':' ||
	    strncasecmp(line, name, name_len) != 0)
		return;
	v = line + name_len + 1;
	while (v < end && api_is_space(*v))
		v++;
	while (end > v && api_is_space(end[-1]))
		end--;
	buf[0] = '\0';
	if ((size_t)(end - v) < size) {
		memcpy(buf, v, (size_t)(end - v));
		buf[end - v] = '\0';
	}
}

/* curl's header callback: keeps the values that say when to retry. */
static size_t
api_client_on_header(char *line, size_t size, size_t n, void *userdata)
{
	struct api_client *c = userdata;
	size_t len = size * n;

	/* A status line starts a response: forget those of a 100 Continue. */
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		c->retry_after[0] = '\0';
		c->retry_after_ms[0] = '\0';
		return len;
	}
	api_header_capture(line, len, "retry-after", c->retry_after,
	    sizeof(c->retry_after));
	api_header_capture(line, len, "retry-after-ms", c->retry_after_ms,
	    sizeof(c->retry_after_ms));
	return len;
}

/*
 * Sets libcurl up for the process (OpenSSL included).  Call it once, on
 * the main thread, before any thread that might use libcurl exists.
 * Returns 0 or -ENOMEM.
 */
int
api_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

/*
 * Creates a client: a curl easy handle and an empty reply buffer.  Returns
 * 0, or -ENOMEM; the caller owns *ret_client and frees it with
 * api_client_free().  Any thread after api_init(); from then on
 * the client belongs to one thread at a time.
 */
int
api_client_new(struct api_client **ret_client)
{
	struct api_client *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return -ENOMEM;
	}
	*ret_client = c;
	return 0;
}

/* Frees c, closing its connections; accepts NULL.  The owning thread. */
void
api_client_free(struct api_client *c)
{
	if (!c)
		return;
	api_client_forget(c);
	curl_easy_cleanup(c->curl);
	free(c->reply);
	free(c);
}

/* Options that are the same for every request. */
static CURLcode
api_client_set_fixed(struct api_client *c)
{
	static const struct {
		CURLoption option;
		long value;
	} longs[] = {
		{ CURLOPT_NOSIGNAL, 1L },	/* threads: no SIGALRM */
		{ CURLOPT_TCP_KEEPALIVE, 1L },
		{ CURLOPT_TCP_KEEPIDLE, 60L },
		{ CURLOPT_TCP_KEEPINTVL, 30L },
		{ CURLOPT_FOLLOWLOCATION, 0L },
		{ CURLOPT_SSL_VERIFYPEER, 1L },
		{ CURLOPT_SSL_VERIFYHOST, 2L },
		{ CURLOPT_POST, 1L },
		{ CURLOPT_BUFFERSIZE, API_RECEIVE_BUFFER_BYTES },
	};
	CURLcode rc = CURLE_OK;
	size_t i;

	for (i = 0; i < sizeof(longs) / sizeof(longs[0]) && !rc; i++)
		rc = curl_easy_setopt(c->curl, longs[i].option,
		    longs[i].value);
#if LIBCURL_VERSION_NUM >= 0x075500
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR,
		    "http,https");
#else
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS,
		    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "gistd");
	return rc;
}

/* Where curl puts the body, the headers and the text of an error. */
static CURLcode
api_client_set_callbacks(struct api_client *c)
{
	CURLcode rc;

	rc = curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->error);
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION,
		    api_client_on_body);
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION,
		    api_client_on_header);
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
	return rc;
}

static long
api_clamp_ms(int64_t ms)
{
	if (ms < 1)
		return 1;
	return ms > LONG_MAX ? LONG_MAX : (long)ms;
}

/* Options of this request; every string is copied or outlives the call. */
static CURLcode
api_client_set_request(struct api_client *c, const struct settings *s,
    const char *url, struct curl_slist *headers, const char *body)
{
	CURLcode rc;

	rc = curl_easy_setopt(c->curl, CURLOPT_URL, url);
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(body));
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
		    api_clamp_ms(s->timeout_ms));
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
		    api_clamp_ms(s->connect_timeout_ms));
	if (!rc)
		rc = curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE,
		    (curl_off_t)API_REPLY_MAX_BYTES);
	/*
	 * XXX api.ca_file replaces libcurl's default CA bundle file; it adds
	 * to the system's trust only where libcurl also has a default CA
	 * directory (Debian: /etc/ssl/certs).  Elsewhere a public endpoint
	 * then fails as "TLS certificate rejected".
	 */
	if (!rc && s->ca_file && s->ca_file[0] != '\0')
		rc = curl_easy_setopt(c->curl, CURLOPT_CAINFO, s->ca_file);
	return rc;
}

/*
 * Sets every option afresh.  The reset forgets the last call's options
 * (a ca_file a reload removed, say) but keeps the live connections.
 */
static CURLcode
api_client_configure(struct api_client *c, const struct settings *s,
    const char *url, struct curl_slist *headers, const char *body)
{
	CURLcode rc;

	curl_easy_reset(c->curl);
	rc = api_client_set_fixed(c);
	if (!rc)
		rc = api_client_set_callbacks(c);
	if (!rc)
		rc = api_client_set_request(c, s, url, headers, body);
	return rc;
}

/* "{base_url}/chat/completions", one trailing '/' of base_url dropped. */
static char *
api_build_url(const char *base_url)
{
	static const char path[] = "/chat/completions";
	size_t len = api_strlen(base_url);
	char *url;

	if (len > 0 && base_url[len - 1] == '/')
		len--;
	url = malloc(len + sizeof(path));
	if (!url)
		return NULL;
	if (len > 0)
		memcpy(url, base_url, len);
	memcpy(url + len, path, sizeof(path));
	return url;
}

/* Frees a header list, wiping the copies of the key it holds. */
static void
api_headers_free(struct curl_slist *headers)
{
	struct curl_slist *h;

	for (h = headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

/* The request headers, with the key; NULL when out of memory. */
static struct curl_slist *
api_build_headers(const char *key)
{
	static const char bearer[] = "Authorization: Bearer ";
	static const char *const fixed[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		"Expect:",	/* no 100-continue round trip for a body */
	};
	struct curl_slist *headers = NULL, *h;
	size_t key_len = strlen(key), i;
	char *auth;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		h = curl_slist_append(headers, fixed[i]);
		if (!h)
			goto fail;
		headers = h;
	}
	auth = malloc(sizeof(bearer) + key_len);
	if (!auth)
		goto fail;
	memcpy(auth, bearer, sizeof(bearer) - 1);
	memcpy(auth + sizeof(bearer) - 1, key, key_len + 1);
	h = curl_slist_append(headers, auth);
	explicit_bzero(auth, sizeof(bearer) + key_len);
	free(auth);
	if (!h)
		goto fail;
	return h;

fail:
	api_headers_free(headers);
	return NULL;
}

/* Whether the key would break the header it goes into (CR, LF, ...). */
static bool
api_key_is_unusable(const char *key)
{
	const unsigned char *p;

	for (p = (const unsigned char *)key; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return key[0] == '\0';
}

/* Whether word holds a masked secret or a piece of the key. */
static bool
api_word_is_secret(const char *word, size_t len, const char *key,
    size_t key_len)
{
	size_t window = key_len < API_KEY_WINDOW ? key_len : API_KEY_WINDOW;
	size_t i;

	if (memmem(word, len, "****", 4))
		return true;
	for (i = 0; window > 0 && i + window <= key_len; i++)
		if (memmem(word, len, key + i, window))
			return true;
	return false;
}

/*
 * Replaces each word of reason that shows part of the key with
 * "[redacted]".  Providers quote a wrong key back, half masked, in their
 * 401 message, and that message becomes the reason that gets logged.
 */
static void
api_reason_redact(struct api_result *r, const char *key)
{
	const char *reason = r->reason;
	char out[sizeof(r->reason)];
	size_t key_len = strlen(key), o = 0, i = 0;

	while (reason[i] != '\0' && o + 1 < sizeof(out)) {
		size_t len = strcspn(reason + i, " \"'`,;()[]{}<>");

		if (len == 0) {
			out[o++] = reason[i++];
			continue;
		}
		if (api_word_is_secret(reason + i, len, key, key_len))
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s",
			    "[redacted]");
		else
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    "%.*s", (int)len, reason + i);
		if (o >= sizeof(out))
			o = sizeof(out) - 1;
		i += len;
	}
	out[o] = '\0';
	memcpy(r->reason, out, o + 1);
}

/* Classifies what the transfer left behind into *r. */
static void
api_client_classify(struct api_client *c, CURLcode rc, struct api_result *r)
{
	long status = 0;

	if (curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) !=
	    CURLE_OK)
		status = 0;
	if (rc == CURLE_OK) {
		api_parse_reply(status, c->reply, c->reply_len, r);
	} else if (c->is_too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		api_result_set(r, API_TRANSIENT, "reply larger than %d bytes",
		    API_REPLY_MAX_BYTES);
	} else {
		api_classify_transport(rc, c->error, r);
	}
	r->http_status = status;
	if (status != 0)
		r->retry_after_ms = throttle_parse_retry_after(c->retry_after,
		    c->retry_after_ms, time(NULL));
}

/*
 * Forgets the request in hand and what it received: the handle lets go
 * of the header list and body, which are freed or the caller's, and the
 * reply buffer is freed, so that a client waiting for its next request
 * holds none.
 */
static void
api_client_forget(struct api_client *c)
{
	(void)curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	(void)curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	api_headers_free(c->headers);
	c->headers = NULL;
	free(c->url);
	c->url = NULL;
	free(c->reply);
	c->reply = NULL;
	c->reply_size = 0;
	c->reply_len = 0;
	c->is_too_large = false;
	c->retry_after[0] = '\0';
	c->retry_after_ms[0] = '\0';
	c->error[0] = '\0';
}

/*
 * Makes c ready to send body, a request made by api_build_request(), to
 * the provider that s names.  Returns 0 when c's handle is set up for the
 * transfer (api_client_handle()), after which api_client_end() must be
 * called; 1 when nothing is to be sent because the outcome is known
 * already (a missing or unusable key: API_SETUP_FAULT) and is in
 * *ret_result; or -ENOMEM, with *ret_result untouched.  body and s must
 * outlive the transfer.  Whoever holds c.
 */
int
api_client_begin(struct api_client *c, const struct settings *s,
    const char *body, struct api_result *ret_result)
{
	if (!s->api_key || api_key_is_unusable(s->api_key)) {
		api_result_init(ret_result);
		api_result_set(ret_result, API_SETUP_FAULT, "%s", !s->api_key ?
		    API_REASON_NO_KEY :
		    "the API key is empty or holds a control character");
		return 1;
	}
	c->headers = api_build_headers(s->api_key);
	c->url = api_build_url(s->base_url);
	if (!c->headers || !c->url ||
	    api_client_configure(c, s, c->url, c->headers, body) != CURLE_OK) {
		api_client_forget(c);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Forgets the request that api_client_begin() set up, when it is not to
 * be sent after all.  Whoever holds c.
 */
void
api_client_cancel(struct api_client *c)
{
	api_client_forget(c);
}

/*
 * The curl easy handle that api_client_begin() set up, for a multi
 * handle to run.  Whoever holds c.
 */
void *
api_client_handle(struct api_client *c)
{
	return c->curl;
}

/*
 * Classifies the outcome of the transfer that api_client_begin() set up,
 * which ended with curl_code (a CURLcode), into *ret_result, which must
 * hold no summary; the summary becomes the caller's (api_result_clear()).
 * The handle must no longer be in a multi handle.  Whoever holds c.
 */
void
api_client_end(struct api_client *c, const struct settings *s,
    int curl_code, struct api_result *ret_result)
{
	api_result_init(ret_result);
	api_client_classify(c, (CURLcode)curl_code, ret_result);
	api_reason_redact(ret_result, s->api_key);
	api_client_forget(c);
}

/*
 * Sends body, a request made by api_build_request(), to the provider that
 * s names, through c, and classifies the outcome into *ret_result, which
 * must hold no summary.  A missing or unusable key is API_SETUP_FAULT
 * without any network traffic.  Returns 0 whenever *ret_result was
 * written, whatever its class; -ENOMEM when the request could not even be
 * made, leaving *ret_result untouched.  The summary belongs to the caller
 * (api_result_clear()).  Blocks for up to s->timeout_ms; the daemon's
 * transfers go through a multi handle instead (xfer.c), and this serves
 * the tests and tools that want one call.
 */
int
api_send(struct api_client *c, const struct settings *s, const char *body,
    struct api_result *ret_result)
{
	int r;

	r = api_client_begin(c, s, body, ret_result);
	if (r != 0)
		return r < 0 ? r : 0;
	api_client_end(c, s, curl_easy_perform(c->curl), ret_result);
	return 0;
}

/*
 * api_build_request() and api_send() in one: sends len bytes of text
 * (valid UTF-8, cut by the caller).  Returns as api_send() does.
 */
int
api_summarize(struct api_client *c, const struct settings *s,
    const char *text, size_t len, struct api_result *ret_result)
{
	char *body = api_build_request(s, text, len);
	int ret;

	if (!body)
		return -ENOMEM;
	ret = api_send(c, s, body, ret_result);
	free(body);
	return ret;
}
