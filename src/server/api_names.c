/*
 * api_names.c - GET /api/services and GET /api/names (docs/http-api.md): what a search can filter
 * on, with counts, straight from hx_store_names().
 */
#include "server/server.h"

#include <string.h>

static const char *kind_word(int kind)
{
	switch (kind) {
	case HX_EV_BLOCK_BEGIN:
		return "block";
	case HX_EV_POINT:
		return "point";
	case HX_EV_ENTITY_BEGIN:
		return "entity";
	default:
		return "other";
	}
}

static int list_names(hx__server *srv, int kind, hx__buf *b, int *first, int with_kind)
{
	hx_name_list l;
	memset(&l, 0, sizeof(l));
	hx__store_read_lock(srv);
	int rc = hx_store_names(srv->store, kind, &l);
	hx__store_read_unlock(srv);
	if (rc != HX_OK)
		return rc;
	int err = 0;
	for (size_t i = 0; i < l.n; i++) {
		const char *name = l.v[i].name ? l.v[i].name : "";
		err |= hx__buf_puts(b, *first ? "{\"name\":" : ",{\"name\":");
		*first = 0;
		err |= hx__json_string(b, name, strlen(name));
		if (with_kind)
			err |= hx__buf_printf(b, ",\"kind\":\"%s\"", kind_word(kind));
		err |= hx__buf_printf(b, ",\"%s\":%llu}", kind ? "count" : "traces",
		                      (unsigned long long)l.v[i].count);
	}
	hx_store_names_free(&l);
	return err ? HX_ENOMEM : HX_OK;
}

static void answer(hx__server *srv, struct evhttp_request *req, hx__buf *b, int rc)
{
	if (rc == HX_OK && hx__buf_puts(b, "]}\n"))
		rc = HX_ENOMEM;
	if (rc != HX_OK) {
		hx__buf_free(b);
		hx__buf msg = HX__BUF_INIT;
		hx__buf_printf(&msg, "the store failed: %s", hx_strerror(rc));
		hx__http_error(srv, req, rc == HX_ENOMEM ? 503 : 500, msg.p ? msg.p : "store failed");
		hx__buf_free(&msg);
		return;
	}
	hx__http_reply_buf(srv, req, 200, "application/json", b);
}

void hx__api_services(hx__server *srv, struct evhttp_request *req, const char *tail,
                      const char *query)
{
	char err[256];
	if (hx__noparams_parse(query, query ? strlen(query) : 0, err, sizeof(err))) {
		hx__http_error(srv, req, 400, err);
		return;
	}
	hx__buf b = HX__BUF_INIT;
	int first = 1;
	int rc = hx__buf_puts(&b, "{\"services\":[");
	if (rc == HX_OK)
		rc = list_names(srv, 0, &b, &first, 0);
	answer(srv, req, &b, rc);
}

void hx__api_names(hx__server *srv, struct evhttp_request *req, const char *tail,
                   const char *query)
{
	char err[256];
	int kind;
	if (hx__names_parse(&kind, query, query ? strlen(query) : 0, err, sizeof(err))) {
		hx__http_error(srv, req, 400, err);
		return;
	}
	static const int all[] = {HX_EV_BLOCK_BEGIN, HX_EV_POINT, HX_EV_ENTITY_BEGIN};
	hx__buf b = HX__BUF_INIT;
	int first = 1;
	int rc = hx__buf_puts(&b, "{\"names\":[");
	for (size_t i = 0; i < 3 && rc == HX_OK; i++)
		if (!kind || kind == all[i])
			rc = list_names(srv, all[i], &b, &first, 1);
	answer(srv, req, &b, rc);
}
