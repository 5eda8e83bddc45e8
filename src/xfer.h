/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_XFER_H
#define GISTD_XFER_H

/*
 * The transfer thread: one curl multi handle runs every request in
 * flight over one cache of keep-alive connections, from one thread that
 * waits in epoll on their sockets.  Any thread submits a request; it
 * waits its turn at the throttle, goes out, and leaves through the done
 * function, on the transfer thread, with its outcome.
 */

#include <stdint.h>

#include "api.h"

struct settings;
struct throttle;
struct xfer;

struct xfer_request {
	/* set by the submitter */
	struct api_client *client;	/* api_client_begin() done */
	const struct settings *settings;	/* outlives the request */
	int64_t estimate;		/* tokens, for the throttle */
	void *owner;			/* the submitter's */

	/* set by the transfer thread before the done function runs */
	int status;			/* see xfer_submit() */
	int64_t latency_ms;		/* from going out to the outcome */
	struct api_result result;	/* when status is 0 */

	struct xfer_request *next;	/* the transfer thread's */
};

int xfer_new(struct throttle *t, void (*done)(struct xfer_request *, void *),
    void *done_arg, struct xfer **ret_xfer);
void xfer_free(struct xfer *x);
void xfer_run(struct xfer *x);
void xfer_submit(struct xfer *x, struct xfer_request *req);
void xfer_set_connections(struct xfer *x, unsigned connections);
void xfer_stop(struct xfer *x);

#endif
