/*
 * http.c - the HTTP API's server: libevent's evhttp on its own loop and thread, one route table,
 * authentication, and the reply helpers every handler uses.
 *
 * Adding an endpoint: write its handler (an hx__route_fn in an api_*.c file, declared in
 * server.h), add a row below, document it in docs/http-api.md. A row names the path (exact, or a
 * prefix ending in '/' whose rest, one path segment or as the row says, is handed to the handler
 * as `tail`), the one method it answers and the handler. The dispatcher answers 401 (token missing
 * or wrong, before anything else), 404 (no row), 405 (a row, another method) by itself; handlers
 * answer everything else, including 400 for bad parameters (query.h).
 *
 * Limits: request headers 16 KiB, raw bodies limits.max_frame (evhttp answers 413 itself beyond),
 * 30 s to send a request. Responses carry no CORS headers (the API is not for other origins) and
 * are never cached, but for the viewer's files, which are revalidated (assets.c).
 */
#include "server/server.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct route {
	const char *path;
	int prefix;                  /* 0: exact; else path ends in '/' and is followed by one
	                                segment (1), two (2: ID/NAME) or any non-empty rest (3,
	                                matched by the handler byte for byte: /assets/) */
	enum evhttp_cmd_type method;
	const char *method_name;
	hx__route_fn fn;
} route;

static const route routes[] = {
	{"/api/traces", 0, EVHTTP_REQ_GET, "GET", hx__api_traces},
	{"/api/traces/", 1, EVHTTP_REQ_GET, "GET", hx__api_trace},
	{"/api/traces/", 2, EVHTTP_REQ_GET, "GET", hx__api_view},
	{"/", 0, EVHTTP_REQ_GET, "GET", hx__static_index},
	{"/assets/", 3, EVHTTP_REQ_GET, "GET", hx__static_asset},
	{"/api/services", 0, EVHTTP_REQ_GET, "GET", hx__api_services},
	{"/api/names", 0, EVHTTP_REQ_GET, "GET", hx__api_names},
	{"/api/events", 0, EVHTTP_REQ_POST, "POST", hx__api_events},
	{"/v1/traces", 0, EVHTTP_REQ_POST, "POST", hx__api_otlp_traces},
	{"/api/v2/spans", 0, EVHTTP_REQ_POST, "POST", hx__api_zipkin_spans},
	{"/api/aggregates", 0, EVHTTP_REQ_GET, "GET", hx__api_aggregates},
	{"/api/dependencies", 0, EVHTTP_REQ_GET, "GET", hx__api_dependencies},
	{"/api/complete", 0, EVHTTP_REQ_GET, "GET", hx__api_complete},
	{"/health", 0, EVHTTP_REQ_GET, "GET", hx__api_health},
	{"/metrics", 0, EVHTTP_REQ_GET, "GET", hx__api_metrics},
};

/* ---- replies ---- */

static void free_body(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

static void send_reply(hx__server *srv, struct evhttp_request *req, int code,
                       const char *content_type, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (content_type)
		evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (!evhttp_find_header(h, "Cache-Control")) /* the static files set no-cache (assets.c) */
		evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, NULL, body);
	hx__metrics_http(&srv->m, code);
}

void hx__http_reply(hx__server *srv, struct evhttp_request *req, int code,
                    const char *content_type, const void *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	if (b && len)
		evbuffer_add(b, body, len);
	send_reply(srv, req, code, content_type, b);
	if (b)
		evbuffer_free(b);
}

void hx__http_reply_buf(hx__server *srv, struct evhttp_request *req, int code,
                        const char *content_type, hx__buf *body)
{
	struct evbuffer *b = evbuffer_new();
	if (b && body->len) {
		/* hand the buffer over without copying it */
		if (evbuffer_add_reference(b, body->p, body->len, free_body, NULL) == 0)
			hx__buf_init(body);
	}
	send_reply(srv, req, code, content_type, b);
	if (b)
		evbuffer_free(b);
	hx__buf_free(body);
}

void hx__http_error(hx__server *srv, struct evhttp_request *req, int code, const char *msg)
{
	hx__buf b = HX__BUF_INIT;
	int err = hx__buf_puts(&b, "{\"error\":");
	err |= hx__json_string(&b, msg, strlen(msg));
	err |= hx__buf_puts(&b, "}\n");
	if (err) {
		hx__buf_free(&b);
		hx__http_reply(srv, req, code, "application/json", NULL, 0);
		return;
	}
	hx__http_reply_buf(srv, req, code, "application/json", &b);
}

void hx__store_read_lock(hx__server *srv)
{
	if (!srv->store_concurrent)
		pthread_mutex_lock(&srv->store_lock);
}

void hx__store_read_unlock(hx__server *srv)
{
	if (!srv->store_concurrent)
		pthread_mutex_unlock(&srv->store_lock);
}

/* ---- dispatch ---- */

static int authorized(hx__server *srv, struct evhttp_request *req)
{
	if (!srv->cfg.token)
		return 1;
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7))
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	size_t n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	return hx__srv_token_ok(srv, h, n);
}

static void dispatch(struct evhttp_request *req, void *arg)
{
	hx__server *srv = arg;
	if (!authorized(srv, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		                  "Bearer realm=\"haruspex\"");
		hx__http_error(srv, req, 401, "missing or wrong token: send Authorization: Bearer TOKEN");
		return;
	}
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	if (!path || !*path)
		path = "/";
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const route *found = NULL;
	const char *tail = NULL;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const route *r = &routes[i];
		size_t n = strlen(r->path);
		if (r->prefix) {
			if (strncmp(path, r->path, n) || !path[n])
				continue;
			const char *slash = strchr(path + n, '/');
			if ((r->prefix == 1 && slash) ||
			    (r->prefix == 2 && (!slash || slash == path + n || !slash[1] ||
			                        strchr(slash + 1, '/'))))
				continue;
			tail = path + n;
		} else if (strcmp(path, r->path)) {
			continue;
		}
		found = r;
		break;
	}
	if (!found) {
		hx__buf msg = HX__BUF_INIT;
		hx__buf_puts(&msg, "no such endpoint: ");
		hx__buf_append(&msg, path, strnlen(path, 200));
		hx__http_error(srv, req, 404, msg.p ? msg.p : "no such endpoint");
		hx__buf_free(&msg);
		return;
	}
	if (method != found->method) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", found->method_name);
		hx__buf msg = HX__BUF_INIT;
		hx__buf_printf(&msg, "%s answers %s only", found->path, found->method_name);
		hx__http_error(srv, req, 405, msg.p ? msg.p : "method not allowed");
		hx__buf_free(&msg);
		return;
	}
	found->fn(srv, req, tail, query);
}

int hx__http_start(hx__server *srv)
{
	char err[256];
	srv->evh = evhttp_new(srv->http.base);
	if (!srv->evh) {
		hx__srv_log("cannot create the HTTP server");
		return -1;
	}
	evhttp_set_allowed_methods(srv->evh, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                         EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(srv->evh, 16384);
	evhttp_set_max_body_size(srv->evh, (ev_ssize_t)srv->lim.max_frame);
	evhttp_set_timeout(srv->evh, 30);
	evhttp_set_gencb(srv->evh, dispatch, srv);
	struct evconnlistener *l = hx__srv_listen(srv->http.base, srv->cfg.http, NULL, NULL,
	                                          srv->http_addr, sizeof(srv->http_addr), err,
	                                          sizeof(err));
	if (!l) {
		hx__srv_log("--http %s: %s", srv->cfg.http, err);
		return -1;
	}
	if (!evhttp_bind_listener(srv->evh, l)) {
		evconnlistener_free(l);
		hx__srv_log("--http %s: cannot serve HTTP on it", srv->cfg.http);
		return -1;
	}
	evconnlistener_enable(l);
	return 0;
}

void hx__http_free(hx__server *srv)
{
	if (srv->evh) {
		evhttp_free(srv->evh);
		srv->evh = NULL;
	}
}
