/*
 * api_events.c - POST /api/events (docs/http-api.md): one native batch per request, for tools
 * that cannot keep a TCP connection. The body goes the way a BATCH frame goes (the same checks,
 * the same queue, the same group commit) and the answer, 202, is sent only after the commit that
 * made it durable.
 *
 * Limits: evhttp refuses a raw body over limits.max_frame with 413 before we see it; a zstd body
 * (Content-Encoding: zstd) that inflates beyond limits.inflate_max gets 413 here. While the budget
 * or the queue is full the answer is 503 with Retry-After, rather than holding the body.
 *
 * A client that goes away before the commit: libevent frees its request with the connection, and
 * the connection's close callback clears our pointer to it, so the late answer is dropped.
 */
#include "server/server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct post {
	hx__server *srv;
	struct evhttp_request *req;   /* NULL once the client is gone */
} post;

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	post *p = arg;
	p->req = NULL;
}

static void post_done(hx__item *it)
{
	post *p = it->owner;
	if (p->req) {
		struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
		if (evcon)
			evhttp_connection_set_closecb(evcon, NULL, NULL);
		if (it->status == HX_OK) {
			char body[160];
			int n = snprintf(body, sizeof(body),
			                 "{\"events\":%zu,\"stored\":%zu,\"duplicates\":%zu}\n", it->nevents,
			                 it->stored, it->duplicates);
			atomic_fetch_add(&p->srv->m.batches_acked, 1);
			hx__http_reply(p->srv, p->req, 202, "application/json", body, (size_t)n);
		} else {
			char msg[160];
			snprintf(msg, sizeof(msg), "the store could not take the batch: %s",
			         hx_strerror(it->status));
			hx__http_error(p->srv, p->req, 503, msg);
		}
	}
	free(p);
}

static int media_type_is(const char *h, const char *want)
{
	size_t n = strlen(want);
	if (!h || strncasecmp(h, want, n))
		return 0;
	return h[n] == '\0' || h[n] == ';' || h[n] == ' ';
}

void hx__api_events(hx__server *srv, struct evhttp_request *req, const char *tail,
                    const char *query)
{
	char err[256];
	if (hx__noparams_parse(query, query ? strlen(query) : 0, err, sizeof(err))) {
		hx__http_error(srv, req, 400, err);
		return;
	}
	struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
	if (!media_type_is(evhttp_find_header(in_h, "Content-Type"), "application/x-haruspex-batch")) {
		hx__http_error(srv, req, 415, "Content-Type must be application/x-haruspex-batch");
		return;
	}
	const char *enc = evhttp_find_header(in_h, "Content-Encoding");
	int zstd = 0;
	if (enc && !strcasecmp(enc, "zstd"))
		zstd = 1;
	else if (enc && strcasecmp(enc, "identity")) {
		hx__http_error(srv, req, 415, "Content-Encoding must be zstd, identity or absent");
		return;
	}
	if (hx__srv_overloaded(srv) || atomic_load(&srv->stopping)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		hx__http_error(srv, req, 503, "the server is busy: retry later");
		return;
	}
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(body);
	if (len > srv->lim.max_frame) {
		snprintf(err, sizeof(err), "body larger than %u bytes", srv->lim.max_frame);
		hx__http_error(srv, req, 413, err);
		return;
	}
	atomic_fetch_add(&srv->m.bytes_received, len);
	uint8_t *raw = malloc(len ? len : 1);
	if (!raw) {
		hx__http_error(srv, req, 503, "out of memory");
		return;
	}
	evbuffer_remove(body, raw, len);
	uint8_t *data = raw;
	size_t dlen = len;
	if (zstd) {
		hx_proto_reason why;
		int rc = hx__inflate(raw, len, srv->lim.inflate_max, &data, &dlen, &why);
		free(raw);
		if (rc == HX_ENOMEM) {
			hx__http_error(srv, req, 503, "out of memory");
			return;
		}
		if (rc != HX_OK && why == HX_REASON_INFLATE_LIMIT) {
			snprintf(err, sizeof(err), "body larger than %zu bytes after decompression",
			         srv->lim.inflate_max);
			hx__http_error(srv, req, 413, err);
			return;
		}
		if (rc != HX_OK) {
			hx__http_error(srv, req, 400, "the body is not valid zstd");
			return;
		}
	}
	hx_proto_reason why;
	hx__item *it = hx__item_new(srv, data, dlen, &why);
	if (!it) {
		if (why == HX_REASON_NONE)
			hx__http_error(srv, req, 503, "out of memory");
		else {
			snprintf(err, sizeof(err), "the body is not a valid batch (%s)",
			         hx_proto_reason_name(why));
			hx__http_error(srv, req, 400, err);
		}
		return;
	}
	post *p = calloc(1, sizeof(*p));
	if (!p) {
		hx__item_free(srv, it);
		hx__http_error(srv, req, 503, "out of memory");
		return;
	}
	p->srv = srv;
	p->req = req;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (evcon)
		evhttp_connection_set_closecb(evcon, conn_closed, p);
	it->loop = &srv->http;
	it->done = post_done;
	it->owner = p;
	atomic_fetch_add(&srv->m.events_received, it->nevents);
	hx__commit_enqueue(srv, it);
}
