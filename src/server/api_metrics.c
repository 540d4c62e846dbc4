/*
 * api_metrics.c - GET /health and GET /metrics (docs/http-api.md): the service's own state, for
 * load balancers and Prometheus. Neither touches the store: the commit thread keeps the store's
 * figures and its writability in the metrics after every commit.
 */
#include "server/server.h"

#include <stdio.h>
#include <string.h>

void hx__api_health(hx__server *srv, struct evhttp_request *req, const char *tail,
                    const char *query)
{
	char err[256];
	if (hx__noparams_parse(query, query ? strlen(query) : 0, err, sizeof(err))) {
		hx__http_error(srv, req, 400, err);
		return;
	}
	if (atomic_load(&srv->stopping)) {
		static const char msg[] = "stopping\n";
		hx__http_reply(srv, req, 503, "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
		return;
	}
	if (!atomic_load(&srv->m.store_ok)) {
		char msg[200];
		int n = snprintf(msg, sizeof(msg), "store not writable: %s\n",
		                 hx_strerror(atomic_load(&srv->m.store_last_error)));
		hx__http_reply(srv, req, 503, "text/plain; charset=utf-8", msg, (size_t)n);
		return;
	}
	static const char ok[] = "ok\n";
	hx__http_reply(srv, req, 200, "text/plain; charset=utf-8", ok, sizeof(ok) - 1);
}

void hx__api_metrics(hx__server *srv, struct evhttp_request *req, const char *tail,
                     const char *query)
{
	char err[256];
	if (hx__noparams_parse(query, query ? strlen(query) : 0, err, sizeof(err))) {
		hx__http_error(srv, req, 400, err);
		return;
	}
	hx__buf b = HX__BUF_INIT;
	if (hx__metrics_render(&srv->m, &b)) {
		hx__buf_free(&b);
		hx__http_error(srv, req, 503, "out of memory");
		return;
	}
	hx__http_reply_buf(srv, req, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}
