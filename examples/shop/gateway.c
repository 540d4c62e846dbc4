/*
 * gateway.c - the shop's front door: POST /order item=NAME&qty=N&card=NUMBER places an order.
 *
 *     shop-gateway [--ready-fd FD] --inventory PORT --payment PORT [--subscriber FD]... DIR
 *
 * Per order, on the caller's trace (continued from the W3C headers):
 *   1. reserve the items: a request/reply call to the inventory service (HTTP, libcurl);
 *   2. charge the card: a request/reply call to the payment service;
 *   3. publish "order placed" to every subscriber (the workers): ONE publish cause whose
 *      context, in binary form, goes with the message to each subscriber's socket; each worker
 *      records its own delivery effect naming it, so the fan-out is one cause with many effects;
 *   4. reply to the caller with the reply's context in the response headers.
 *
 * The calls to the backends block the event loop. That is deliberate, to keep the example short:
 * the gateway handles one order at a time on its main thread, so that thread's implicit entity is
 * the order handler. A gateway serving many orders at once would run each on an explicit entity
 * (hx_entity_begin(..., HX_ENTITY_TASK)) entered in each of its callbacks.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "call.h"
#include "server.h"
#include "shop.h"

#define PROG "shop-gateway"
#define MAX_SUBSCRIBERS 64
#define PRICE_CENTS 1999 /* every item costs the same: this is a demo shop */

typedef struct gateway {
	CURL *curl;                  /* one handle: curl keeps the connections to both backends open */
	char inventory_url[64];
	char payment_url[64];
	int subscriber[MAX_SUBSCRIBERS];
	size_t nsubscribers;
	unsigned long orders;
} gateway;

/* Send the order to every subscriber with the publish's context in front. A subscriber that is
 * gone is reported and skipped: the order stands whether or not every worker heard of it. A
 * subscriber far behind fills its socket and makes send() wait: back-pressure, as from a bounded
 * queue. */
static void publish(gateway *g, unsigned long order, const char *item, unsigned long qty)
{
	uint8_t msg[SHOP_MSG_MAX];
	hx_context ctx = hx_cause_attrs(HX_IA_PUBLISH, "order placed",
	                                HX_ATTRS(HX_INT("order", order), HX_INT("subscribers", g->nsubscribers)));
	int n = hx_context_to_binary(&ctx, msg + 1, HX_CONTEXT_BINARY_MAX);
	if (n < 0)
		n = 0; /* tracing is off: the workers get no context and begin traces of their own */
	msg[0] = (uint8_t)n;
	size_t room = sizeof msg - 1 - (size_t)n;
	int text = snprintf((char *)msg + 1 + n, room, "order %lu: %lu x %s", order, qty, item);
	size_t len = 1 + (size_t)n + ((size_t)text < room ? (size_t)text : room - 1);
	for (size_t i = 0; i < g->nsubscribers; i++) {
		ssize_t w;
		do
			w = send(g->subscriber[i], msg, len, MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0)
			fprintf(stderr, "%s: subscriber %zu: %s\n", PROG, i + 1, strerror(errno));
	}
}

/* The steps of an order; returns the HTTP status for the caller and its answer in `answer`. */
static int place_order(gateway *g, const char *item, unsigned long qty, const char *card, char *answer, size_t alen)
{
	char body[256];
	shop_answer a;
	unsigned long order = ++g->orders;
	HX_BLOCK_BEGIN_WITH("place order", HX_INT("order", order), HX_STR("item", item), HX_INT("qty", qty));

	hx_block_begin("call inventory");
	snprintf(body, sizeof body, "item=%s&qty=%lu", item, qty);
	int rc = shop_call(g->curl, g->inventory_url, body, "POST /reserve", "inventory", "reserve reply", &a);
	hx_block_end();
	if (rc || a.status != 200) {
		hx_error("not reserved");
		hx_block_end();
		snprintf(answer, alen, "order %lu not reserved: %s", order, rc ? "inventory down\n" : a.body);
		return rc ? 502 : 409;
	}

	hx_block_begin("call payment");
	snprintf(body, sizeof body, "card=%s&cents=%lu", card, qty * PRICE_CENTS);
	rc = shop_call(g->curl, g->payment_url, body, "POST /charge", "payment", "charge reply", &a);
	hx_block_end();
	if (rc || a.status != 200) {
		hx_error("not paid");
		hx_block_end();
		snprintf(answer, alen, "order %lu not paid: %s", order, rc ? "payment down\n" : a.body);
		return rc ? 502 : 402;
	}

	publish(g, order, item, qty);
	hx_block_end();
	snprintf(answer, alen, "order %lu placed: %lu x %s, %s", order, qty, item, a.body);
	return 201;
}

static void on_order(struct evhttp_request *req, void *arg)
{
	gateway *g = arg;
	char tracestate[HX_TRACESTATE_MAX + 1], body[512], item[64], qty_text[16], card[32], answer[512];
	hx_context ctx;
	shop_server_extract(req, &ctx, tracestate, sizeof tracestate);
	hx_trace_continue(&ctx, "order");
	hx_request_received("POST /order", &ctx);

	unsigned long qty;
	int status;
	int len = shop_server_body(req, body, sizeof body);
	if (len < 0 || shop_form_get(body, (size_t)len, "item", item, sizeof item) ||
	    shop_form_get(body, (size_t)len, "qty", qty_text, sizeof qty_text) ||
	    shop_form_get(body, (size_t)len, "card", card, sizeof card) ||
	    shop_parse_uint(qty_text, 1, 1000, &qty)) {
		hx_error("bad order");
		status = 400;
		snprintf(answer, sizeof answer, "bad order\n");
	} else {
		status = place_order(g, item, qty, card, answer, sizeof answer);
	}
	shop_server_reply(req, "order reply", tracestate, status, answer);
	hx_trace_end();
}

static void usage(void)
{
	fprintf(stderr, "usage: %s [--ready-fd FD] --inventory PORT --payment PORT [--subscriber FD]... DIR\n", PROG);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"ready-fd", required_argument, NULL, 'r'},
		{"inventory", required_argument, NULL, 'i'},
		{"payment", required_argument, NULL, 'p'},
		{"subscriber", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	static gateway g; /* static: the subscriber table is large for a stack frame */
	int ready_fd = -1, c;
	unsigned long v, inventory_port = 0, payment_port = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int bad = 1;
		switch (c) {
		case 'r':
			if (!(bad = shop_parse_uint(optarg, 0, 65535, &v)))
				ready_fd = (int)v;
			break;
		case 'i':
			bad = shop_parse_uint(optarg, 1, 65535, &inventory_port);
			break;
		case 'p':
			bad = shop_parse_uint(optarg, 1, 65535, &payment_port);
			break;
		case 's':
			if (g.nsubscribers < MAX_SUBSCRIBERS && !(bad = shop_parse_uint(optarg, 0, 65535, &v)))
				g.subscriber[g.nsubscribers++] = (int)v;
			break;
		default:
			break;
		}
		if (bad) {
			usage();
			return 2;
		}
	}
	if (optind != argc - 1 || !inventory_port || !payment_port) {
		usage();
		return 2;
	}
	snprintf(g.inventory_url, sizeof g.inventory_url, "http://127.0.0.1:%lu/reserve", inventory_port);
	snprintf(g.payment_url, sizeof g.payment_url, "http://127.0.0.1:%lu/charge", payment_port);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(g.curl = curl_easy_init())) {
		fprintf(stderr, "%s: cannot initialise libcurl\n", PROG);
		return 1;
	}
	int status = 1;
	if (shop_trace_start(PROG, argv[optind], "gateway") == 0) {
		shop_server s;
		if (shop_server_start(&s, PROG, ready_fd) == 0) {
			evhttp_set_cb(s.http, "/order", on_order, &g);
			shop_server_run(&s);
			shop_server_free(&s);
			status = 0;
		}
		hx_shutdown();
	}
	/* Closing the sockets is the workers' signal to finish: each drains its queue, then exits. */
	for (size_t i = 0; i < g.nsubscribers; i++)
		close(g.subscriber[i]);
	curl_easy_cleanup(g.curl);
	curl_global_cleanup();
	return status;
}
