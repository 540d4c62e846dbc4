/*
 * inventory.c - the shop's stock service: POST /reserve item=NAME&qty=N takes N items out of
 * stock.
 *
 *     shop-inventory [--ready-fd FD] DIR
 *
 * A backend as most services are written: an event loop (libevent) that handles one request at a
 * time on the main thread, so the thread's implicit entity is the request handler and needs no
 * explicit entity. Per request it continues the caller's trace from the W3C headers, records the
 * REQUEST's effect, does its work in a block, and sends the REPLY's cause back in the response
 * headers so the caller can name it.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "shop.h"

#define PROG "shop-inventory"

typedef struct stock {
	const char *item;
	long count;
} stock;

/* Enough for any demo run: a reservation that fails would change the shape of the trace (no
 * payment, no order event), which the test checks exactly. */
static stock shelf[] = {
	{"widget", 100000},
	{"gadget", 100000},
	{"gizmo", 100000},
};

static stock *find(const char *item)
{
	for (size_t i = 0; i < sizeof shelf / sizeof shelf[0]; i++)
		if (!strcmp(shelf[i].item, item))
			return &shelf[i];
	return NULL;
}

static void on_reserve(struct evhttp_request *req, void *arg)
{
	(void)arg;
	char tracestate[HX_TRACESTATE_MAX + 1], body[512], item[64], qty_text[16], answer[128];
	hx_context ctx;
	shop_server_extract(req, &ctx, tracestate, sizeof tracestate);
	hx_trace_continue(&ctx, "reserve");
	hx_request_received("POST /reserve", &ctx);

	unsigned long qty;
	int len = shop_server_body(req, body, sizeof body);
	if (len < 0 || shop_form_get(body, (size_t)len, "item", item, sizeof item) ||
	    shop_form_get(body, (size_t)len, "qty", qty_text, sizeof qty_text) ||
	    shop_parse_uint(qty_text, 1, 1000, &qty)) {
		hx_error("bad reservation");
		shop_server_reply(req, "reserve reply", tracestate, 400, "bad reservation\n");
		hx_trace_end();
		return;
	}

	HX_BLOCK_BEGIN_WITH("reserve stock", HX_STR("item", item), HX_INT("qty", qty));
	/* The work a real service does here (a database transaction) takes time: stand in for it. */
	uint64_t digest = shop_work(qty, 400000);
	stock *s = find(item);
	int status;
	if (!s || s->count < (long)qty) {
		hx_error_attrs("out of stock", HX_ATTRS(HX_STR("item", item)));
		snprintf(answer, sizeof answer, "out of stock: %s\n", item);
		status = 409;
	} else {
		s->count -= (long)qty;
		snprintf(answer, sizeof answer, "reserved %lu %s, %ld left\n", qty, item, s->count);
		status = 200;
	}
	hx_block_end_attrs(HX_ATTRS(HX_INT("left", s ? s->count : 0), HX_INT("digest", (int64_t)(digest & 0xffff))));
	shop_server_reply(req, "reserve reply", tracestate, status, answer);
	hx_trace_end();
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"ready-fd", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	int ready_fd = -1, c;
	unsigned long v;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'r' && !shop_parse_uint(optarg, 0, 65535, &v)) {
			ready_fd = (int)v;
			continue;
		}
		fprintf(stderr, "usage: %s [--ready-fd FD] DIR\n", PROG);
		return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [--ready-fd FD] DIR\n", PROG);
		return 2;
	}
	if (shop_trace_start(PROG, argv[optind], "inventory"))
		return 1;
	shop_server s;
	if (shop_server_start(&s, PROG, ready_fd)) {
		hx_shutdown();
		return 1;
	}
	evhttp_set_cb(s.http, "/reserve", on_reserve, NULL);
	shop_server_run(&s);
	shop_server_free(&s);
	hx_shutdown();
	return 0;
}
