/*
 * api_import.c - POST /v1/traces (OTLP/HTTP with the JSON encoding) and POST /api/v2/spans (Zipkin
 * v2 JSON), docs/http-api.md: spans from OpenTelemetry and Zipkin instrumentations (or a
 * collector) imported as events (src/import/import.h, mapping in docs/interchange.md) next to
 * native ones.
 *
 * The events of each process (resource) become native batches that go the way POST /api/events
 * goes: the same checks, queue and group commit. The answer waits until every batch of the request
 * is durable: OTLP's 200 {"partialSuccess":{...}} (with the rejected spans counted and the first
 * reason, or warnings about repairs), Zipkin's 202. IDs are derived from the spans, so a client
 * that retries after a failure (503) gets its events stored once: the rest are duplicates.
 *
 * Limits: the body, raw (evhttp answers 413 beyond --max-frame) and after gzip or zstd
 * decompression, is one document of at most --max-frame bytes and a thirty-second of
 * --memory-limit (parsing takes about twelve times the document, on this thread, one document at
 * a time); a larger one or one with more spans than the importer's limit gets 413. While the budget or the queue is full: 503 with
 * Retry-After. OTLP wants its errors as a google.rpc.Status: they carry "code" and "message",
 * and "error" as every other endpoint does. The document is parsed on the HTTP thread (a 16 MiB
 * one in a fraction of a second).
 */
#include "server/server.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import/import.h"

#define BATCH_BYTES (4u << 20) /* a process's events are cut into batches of about this size */

/* google.rpc.Code */
enum { RPC_INVALID_ARGUMENT = 3, RPC_RESOURCE_EXHAUSTED = 8, RPC_INTERNAL = 13, RPC_UNAVAILABLE = 14 };

typedef struct imp_post {
	hx__server *srv;
	struct evhttp_request *req;   /* NULL once the client is gone */
	int otlp;
	size_t pending;               /* batches not back from the commit thread */
	int status;                   /* HX_OK, or why a batch was not stored */
	uint64_t spans, rejected, events, stored, duplicates;
	char *message;                /* the importer's summary when there is something to say */
} imp_post;

static void reply_error(hx__server *srv, struct evhttp_request *req, int otlp, int code,
                        const char *msg)
{
	if (!otlp) {
		hx__http_error(srv, req, code, msg);
		return;
	}
	int rpc = code == 503 ? RPC_UNAVAILABLE : code == 500 ? RPC_INTERNAL
	                                      : code == 413 ? RPC_RESOURCE_EXHAUSTED : RPC_INVALID_ARGUMENT;
	hx__buf b = HX__BUF_INIT;
	int err = hx__buf_printf(&b, "{\"code\":%d,\"message\":", rpc);
	err |= hx__json_string(&b, msg, strlen(msg));
	err |= hx__buf_puts(&b, ",\"error\":");
	err |= hx__json_string(&b, msg, strlen(msg));
	err |= hx__buf_puts(&b, "}\n");
	if (err) {
		hx__buf_free(&b);
		hx__http_error(srv, req, code, msg);
		return;
	}
	hx__http_reply_buf(srv, req, code, "application/json", &b);
}

static void reply_ok(imp_post *p)
{
	hx__buf b = HX__BUF_INIT;
	int err;
	if (p->otlp) {
		/* OTLP/HTTP: partialSuccess is empty when everything was accepted as it was */
		err = hx__buf_puts(&b, "{\"partialSuccess\":{");
		if (p->rejected || p->message)
			err |= hx__buf_printf(&b, "\"rejectedSpans\":%llu,\"errorMessage\":",
			                      (unsigned long long)p->rejected);
		if (p->message)
			err |= hx__json_string(&b, p->message, strlen(p->message));
		else if (p->rejected)
			err |= hx__buf_puts(&b, "\"\"");
		err |= hx__buf_puts(&b, "}}\n");
	} else {
		err = hx__buf_printf(&b, "{\"spans\":%llu,\"rejected\":%llu,\"events\":%llu,\"stored\":%llu,"
		                         "\"duplicates\":%llu", (unsigned long long)p->spans,
		                     (unsigned long long)p->rejected, (unsigned long long)p->events,
		                     (unsigned long long)p->stored, (unsigned long long)p->duplicates);
		if (p->message) {
			err |= hx__buf_puts(&b, ",\"message\":");
			err |= hx__json_string(&b, p->message, strlen(p->message));
		}
		err |= hx__buf_puts(&b, "}\n");
	}
	if (err) {
		hx__buf_free(&b);
		reply_error(p->srv, p->req, p->otlp, 503, "out of memory");
		return;
	}
	hx__http_reply_buf(p->srv, p->req, p->otlp ? 200 : 202, "application/json", &b);
}

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	imp_post *p = arg;
	p->req = NULL;
}

static void post_free(imp_post *p)
{
	free(p->message);
	free(p);
}

/* One batch back from the commit thread (on the http loop); the last one answers. */
static void batch_done(hx__item *it)
{
	imp_post *p = it->owner;
	if (it->status == HX_OK) {
		p->stored += it->stored;
		p->duplicates += it->duplicates;
		atomic_fetch_add(&p->srv->m.batches_acked, 1);
	} else if (p->status == HX_OK) {
		p->status = it->status;
	}
	if (--p->pending)
		return;
	if (p->req) {
		struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
		if (evcon)
			evhttp_connection_set_closecb(evcon, NULL, NULL);
		if (p->status == HX_OK) {
			reply_ok(p);
		} else {
			char msg[160];
			snprintf(msg, sizeof(msg), "the store could not take the spans: %s (retry: what was "
			                           "stored is recognised)", hx_strerror(p->status));
			reply_error(p->srv, p->req, p->otlp, 503, msg);
		}
	}
	post_free(p);
}

static int media_type_is(const char *h, const char *want)
{
	size_t n = strlen(want);
	if (!h || strncasecmp(h, want, n))
		return 0;
	return h[n] == '\0' || h[n] == ';' || h[n] == ' ';
}

/* The body, decompressed: 0 with *out (malloc'd), or an HTTP status after answering. */
static int read_body(hx__server *srv, struct evhttp_request *req, int otlp, size_t max,
                     uint8_t **out, size_t *out_len)
{
	struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
	const char *enc = evhttp_find_header(in_h, "Content-Encoding");
	int gzip = enc && (!strcasecmp(enc, "gzip") || !strcasecmp(enc, "x-gzip"));
	int zstd = enc && !strcasecmp(enc, "zstd");
	char msg[160];
	if (enc && !gzip && !zstd && strcasecmp(enc, "identity")) {
		reply_error(srv, req, otlp, 415, "Content-Encoding must be gzip, zstd, identity or absent");
		return 415;
	}
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(body);
	if (len > max) {
		snprintf(msg, sizeof(msg), "body larger than %zu bytes", max);
		reply_error(srv, req, otlp, 413, msg);
		return 413;
	}
	atomic_fetch_add(&srv->m.bytes_received, len);
	uint8_t *raw = malloc(len ? len : 1);
	if (!raw) {
		reply_error(srv, req, otlp, 503, "out of memory");
		return 503;
	}
	evbuffer_remove(body, raw, len);
	if (!gzip && !zstd) {
		*out = raw;
		*out_len = len;
		return 0;
	}
	int rc;
	if (gzip) {
		rc = hx__import_gunzip(raw, len, max, out, out_len);
	} else {
		hx_proto_reason why;
		rc = hx__inflate(raw, len, max, out, out_len, &why);
		if (rc == HX_EFORMAT && why == HX_REASON_INFLATE_LIMIT)
			rc = HX_EINVAL;
	}
	free(raw);
	if (rc == HX_OK)
		return 0;
	int code = rc == HX_ENOMEM ? 503 : rc == HX_EINVAL ? 413 : 400;
	if (code == 413)
		snprintf(msg, sizeof(msg), "body larger than %zu bytes after decompression", max);
	else
		snprintf(msg, sizeof(msg), "%s", code == 503 ? "out of memory"
		                                 : gzip ? "the body is not valid gzip" : "the body is not valid zstd");
	reply_error(srv, req, otlp, code, msg);
	return code;
}

typedef struct batching {
	hx__server *srv;
	hx_batch_builder *b;
	hx__item **items;
	size_t nitems, cap;
	int rc;                       /* HX_OK, HX_ENOMEM, or HX_EINVAL (a batch did not parse) */
} batching;

static int cut(batching *bt)
{
	size_t len;
	if (!hx_batch_builder_events(bt->b))
		return HX_OK;
	const uint8_t *data = hx_batch_builder_finish(bt->b, &len);
	uint8_t *copy = data ? malloc(len) : NULL;
	if (!copy)
		return HX_ENOMEM;
	memcpy(copy, data, len);
	if (bt->nitems == bt->cap) {
		size_t cap = bt->cap ? bt->cap * 2 : 8;
		hx__item **n = realloc(bt->items, cap * sizeof(*n));
		if (!n) {
			free(copy);
			return HX_ENOMEM;
		}
		bt->items = n;
		bt->cap = cap;
	}
	hx_proto_reason why;
	hx__item *it = hx__item_new(bt->srv, copy, len, &why);
	if (!it)
		return why == HX_REASON_NONE ? HX_ENOMEM : HX_EINVAL;
	bt->items[bt->nitems++] = it;
	return HX_OK;
}

static int add_event(const hx_event *ev, void *user)
{
	batching *bt = user;
	int rc = hx_batch_builder_add(bt->b, ev);
	if (rc == HX_OK && hx_batch_builder_bytes(bt->b) >= BATCH_BYTES)
		rc = cut(bt);
	return rc;
}

/* Every process's events as items, none queued yet. HX_OK, HX_ENOMEM or HX_EINVAL. */
static int make_batches(batching *bt, const hx__import *im)
{
	for (size_t i = 0; i < hx__import_nprocs(im); i++) {
		const hx__import_proc *p = hx__import_proc_get(im, i);
		bt->b = hx_batch_builder_new(p->instance, p->pid, p->resource_kv, p->npairs);
		if (!bt->b)
			return HX_ENOMEM;
		int rc = hx__import_events(im, i, add_event, bt);
		if (rc == HX_OK)
			rc = cut(bt);
		hx_batch_builder_free(bt->b);
		bt->b = NULL;
		if (rc)
			return rc;
	}
	return HX_OK;
}

static void import_post(hx__server *srv, struct evhttp_request *req, const char *query, int otlp)
{
	char err[512];
	if (hx__noparams_parse(query, query ? strlen(query) : 0, err, sizeof(err))) {
		reply_error(srv, req, otlp, 400, err);
		return;
	}
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	if (!media_type_is(ct, "application/json")) {
		if (media_type_is(ct, "application/x-protobuf") || media_type_is(ct, "application/protobuf") ||
		    media_type_is(ct, "application/x-thrift"))
			reply_error(srv, req, otlp, 415, otlp ? "only the JSON encoding of OTLP/HTTP is "
			                                         "supported: send Content-Type: application/json"
			                                       : "only Zipkin v2 JSON is supported: send "
			                                         "Content-Type: application/json");
		else
			reply_error(srv, req, otlp, 415, "Content-Type must be application/json");
		return;
	}
	if (hx__srv_overloaded(srv) || atomic_load(&srv->stopping)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		reply_error(srv, req, otlp, 503, "the server is busy: retry later");
		return;
	}
	/* jansson's tree takes about twelve times the document: a thirty-second of the memory limit
	 * keeps that under half of it (16 MiB at the default 512 MiB) */
	size_t max = srv->lim.max_frame;
	if (max > srv->lim.memory_limit / 32)
		max = (size_t)(srv->lim.memory_limit / 32);
	uint8_t *doc;
	size_t len;
	if (read_body(srv, req, otlp, max, &doc, &len))
		return;
	hx__import_limits lim;
	hx__import_limits_default(&lim);
	lim.max_bytes = max;
	hx__import *im = NULL;
	int rc = hx__import_new(&im, &lim);
	if (rc == HX_OK)
		rc = hx__import_add(im, doc, len, otlp ? HX__IMPORT_OTLP : HX__IMPORT_ZIPKIN, 0, err,
		                    sizeof(err));
	free(doc);
	if (rc == HX_OK)
		rc = hx__import_finish(im);
	if (rc != HX_OK) {
		int code = rc == HX_EFORMAT ? 400 : rc == HX_EINVAL ? 413 : 503;
		reply_error(srv, req, otlp, code, code == 503 ? "out of memory" : err);
		hx__import_free(im);
		return;
	}
	imp_post *p = calloc(1, sizeof(*p));
	batching bt = {srv, NULL, NULL, 0, 0, HX_OK};
	rc = p ? make_batches(&bt, im) : HX_ENOMEM;
	if (rc != HX_OK) {
		for (size_t i = 0; i < bt.nitems; i++)
			hx__item_free(srv, bt.items[i]);
		free(bt.items);
		free(p);
		hx__import_free(im);
		if (rc == HX_EINVAL)
			reply_error(srv, req, otlp, 500, "the imported events did not form a valid batch");
		else
			reply_error(srv, req, otlp, 503, "out of memory");
		return;
	}
	const hx__import_stats *st = hx__import_get_stats(im);
	p->srv = srv;
	p->req = req;
	p->otlp = otlp;
	p->spans = st->spans;
	p->rejected = st->rejected;
	p->events = st->events;
	int say = st->rejected != 0;
	for (int k = 0; k < HX__IMPORT_WARN__MAX; k++)
		say |= st->warn[k] != 0;
	if (say) {
		hx__buf b = HX__BUF_INIT;
		if (hx__import_summary(im, &b) == HX_OK)
			p->message = b.p; /* taken over */
		else
			hx__buf_free(&b);
	}
	hx__import_free(im);
	if (!bt.nitems) {
		reply_ok(p);
		post_free(p);
		free(bt.items);
		return;
	}
	p->pending = bt.nitems;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (evcon)
		evhttp_connection_set_closecb(evcon, conn_closed, p);
	for (size_t i = 0; i < bt.nitems; i++) {
		hx__item *it = bt.items[i];
		it->loop = &srv->http;
		it->done = batch_done;
		it->owner = p;
		atomic_fetch_add(&srv->m.events_received, it->nevents);
		hx__commit_enqueue(srv, it);
	}
	free(bt.items);
}

void hx__api_otlp_traces(hx__server *srv, struct evhttp_request *req, const char *tail,
                         const char *query)
{
	import_post(srv, req, query, 1);
}

void hx__api_zipkin_spans(hx__server *srv, struct evhttp_request *req, const char *tail,
                          const char *query)
{
	import_post(srv, req, query, 0);
}
