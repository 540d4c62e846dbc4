/*
 * server.h - the HTTP server side of the shop's processes (gateway, inventory, payment), on
 * libevent's evhttp: listen on a free loopback port, extract the caller's context from a
 * request, reply with this side's context in the response headers.
 */
#ifndef SHOP_SERVER_H
#define SHOP_SERVER_H

#include <haruspex.h>
#include <haruspex/propagation.h>

#include <event2/event.h>
#include <event2/http.h>
#include <stddef.h>


/* An HTTP server on 127.0.0.1 and a port the kernel picks, run by libevent until SIGTERM or
 * SIGINT. Owned by the caller's stack; shop_server_free() releases what start acquired. */
typedef struct shop_server {
	struct event_base *base;
	struct evhttp *http;
	struct event *stop[2];   /* SIGTERM and SIGINT: leave the loop, so the trace is sealed */
	unsigned port;
} shop_server;

/* Create the loop and the listener, then report the port on ready_fd. Returns 0 or -1 (with a
 * message); on failure *s is freed already. Handlers are added with evhttp_set_cb(s->http, ...). */
int shop_server_start(shop_server *s, const char *prog, int ready_fd);
/* Serve until SIGTERM or SIGINT. */
void shop_server_run(shop_server *s);
void shop_server_free(shop_server *s);

/* Extract the propagated context from a request's headers (hx_extract_pairs). The result is
 * invalid when no or a malformed traceparent arrived, and hx_trace_continue() then begins a new
 * trace. Also copies the request's tracestate into `tracestate` ("" if none), for the reply. */
void shop_server_extract(struct evhttp_request *req, hx_context *out, char *tracestate, size_t len);

/* Read the request's body into buf, NUL-terminated. Returns its length or -1 if it does not fit. */
int shop_server_body(struct evhttp_request *req, char *buf, size_t len);

/* Record the reply's CAUSE (hx_reply, `name`), put its context into the response headers
 * (keeping the other members of the request's `tracestate`), and send `status` with `body`.
 * The client's reply EFFECT names this event. */
void shop_server_reply(struct evhttp_request *req, const char *name, const char *tracestate, int status,
                       const char *body);

#endif /* SHOP_SERVER_H */
