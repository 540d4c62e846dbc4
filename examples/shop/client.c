/*
 * client.c - the shop's customer: places N orders with the gateway, one after the other.
 *
 *     shop-client --port PORT [--requests N] DIR
 *
 * Each order is a trace of its own, begun here: the client records the trace's begin, a block
 * around the order, the REQUEST's cause (its context goes out in the traceparent and tracestate
 * headers), waits, and records the REPLY's effect naming the gateway's reply cause, whose context
 * came back in the response headers. Every other process joins the trace through those contexts.
 * Exit status 0 when every order was placed (201).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "call.h"
#include "shop.h"

#define PROG "shop-client"

/* What the customer buys, in turn. The card number passes the Luhn check (payment.c). */
static const char *const items[] = {"widget", "gadget", "gizmo"};
#define CARD "4539578763621486"

static void usage(void)
{
	fprintf(stderr, "usage: %s --port PORT [--requests N] DIR\n", PROG);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"requests", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	unsigned long port = 0, requests = 5;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int bad = 1;
		if (c == 'p')
			bad = shop_parse_uint(optarg, 1, 65535, &port);
		else if (c == 'n')
			bad = shop_parse_uint(optarg, 1, 100000, &requests);
		if (bad) {
			usage();
			return 2;
		}
	}
	if (optind != argc - 1 || !port) {
		usage();
		return 2;
	}
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%lu/order", port);

	CURL *curl;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(curl = curl_easy_init())) {
		fprintf(stderr, "%s: cannot initialise libcurl\n", PROG);
		return 1;
	}
	if (shop_trace_start(PROG, argv[optind], "client")) {
		curl_easy_cleanup(curl);
		curl_global_cleanup();
		return 1;
	}
	unsigned long placed = 0;
	for (unsigned long i = 0; i < requests; i++) {
		const char *item = items[i % (sizeof items / sizeof items[0])];
		unsigned long qty = 1 + i % 3;
		char body[128];
		snprintf(body, sizeof body, "item=%s&qty=%lu&card=%s", item, qty, CARD);

		hx_trace_begin("order");
		HX_BLOCK_BEGIN_WITH("order", HX_INT("n", i + 1), HX_STR("item", item), HX_INT("qty", qty));
		shop_answer a;
		int rc = shop_call(curl, url, body, "POST /order", "gateway", "order reply", &a);
		if (rc == 0 && a.status != 201)
			hx_error_attrs("order refused", HX_ATTRS(HX_INT("status", a.status)));
		hx_block_end_attrs(HX_ATTRS(HX_INT("status", a.status)));
		hx_trace_end();

		if (rc == 0 && a.status == 201)
			placed++;
		/* The answer ends with a newline; a transport failure was reported by shop_call. */
		if (rc == 0)
			printf("client: %ld %s", a.status, a.body);
	}
	fflush(stdout);
	hx_shutdown();
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	if (placed != requests) {
		fprintf(stderr, "%s: %lu of %lu orders placed\n", PROG, placed, requests);
		return 1;
	}
	return 0;
}
