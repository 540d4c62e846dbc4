/*
 * payment.c - the shop's payment service: POST /charge card=NUMBER&cents=N approves a charge
 * when the card number passes the Luhn check.
 *
 *     shop-payment [--ready-fd FD] DIR
 *
 * Built like inventory.c (see there): one event loop, one request at a time, the caller's trace
 * continued from the W3C headers, the reply's context sent back in the response headers.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "shop.h"

#define PROG "shop-payment"

/* The Luhn checksum every card number carries: 1 if `digits` (all decimal) passes it. */
static int luhn_ok(const char *digits)
{
	size_t n = strlen(digits);
	unsigned sum = 0;
	if (n < 12 || n > 19)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = digits[n - 1 - i];
		if (ch < '0' || ch > '9')
			return 0;
		unsigned d = (unsigned)(ch - '0');
		if (i % 2) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return sum % 10 == 0;
}

static void on_charge(struct evhttp_request *req, void *arg)
{
	unsigned long *approved = arg;
	char tracestate[HX_TRACESTATE_MAX + 1], body[512], card[32], cents_text[16], answer[128];
	hx_context ctx;
	shop_server_extract(req, &ctx, tracestate, sizeof tracestate);
	hx_trace_continue(&ctx, "charge");
	hx_request_received("POST /charge", &ctx);

	unsigned long cents;
	int len = shop_server_body(req, body, sizeof body);
	if (len < 0 || shop_form_get(body, (size_t)len, "card", card, sizeof card) ||
	    shop_form_get(body, (size_t)len, "cents", cents_text, sizeof cents_text) ||
	    shop_parse_uint(cents_text, 1, 100000000, &cents)) {
		hx_error("bad charge");
		shop_server_reply(req, "charge reply", tracestate, 400, "bad charge\n");
		hx_trace_end();
		return;
	}

	/* The card number stays out of the trace: only its last four digits are recorded. */
	size_t clen = strlen(card);
	HX_BLOCK_BEGIN_WITH("charge card", HX_STR("card_last4", clen >= 4 ? card + clen - 4 : card),
	                    HX_INT("cents", cents));
	/* Stands in for the round trip to a card network. */
	uint64_t auth = shop_work(cents, 600000);
	int status;
	if (!luhn_ok(card)) {
		hx_error("card declined");
		snprintf(answer, sizeof answer, "declined\n");
		status = 402;
	} else {
		++*approved;
		snprintf(answer, sizeof answer, "approved %06llu\n", (unsigned long long)(auth % 1000000));
		status = 200;
	}
	hx_block_end_attrs(HX_ATTRS(HX_BOOL("approved", status == 200)));
	shop_server_reply(req, "charge reply", tracestate, status, answer);
	hx_trace_end();
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"ready-fd", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	int ready_fd = -1, c;
	unsigned long v, approved = 0;
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
	if (shop_trace_start(PROG, argv[optind], "payment"))
		return 1;
	shop_server s;
	if (shop_server_start(&s, PROG, ready_fd)) {
		hx_shutdown();
		return 1;
	}
	evhttp_set_cb(s.http, "/charge", on_charge, &approved);
	shop_server_run(&s);
	/* Outside any trace: recorded on the process's own timeline. */
	hx_point_attrs("charges approved", HX_ATTRS(HX_INT("count", approved)));
	shop_server_free(&s);
	hx_shutdown();
	return 0;
}
