/*
 * worker.c - a subscriber to the shop's "order placed" events: one of several identical workers
 * (fulfilment: pick, pack, send a confirmation) that each receive every order.
 *
 *     shop-worker --index N --fd FD DIR
 *
 * FD is this worker's end of a SOCK_SEQPACKET socket pair whose other end the gateway holds (the
 * launcher made the pair). Each message carries the binary context of the gateway's PUBLISH (see
 * shop.h); the worker joins that trace, records the delivery EFFECT naming the publish, and does
 * its work in a block. It ends when the gateway closes its end (after the last order), so every
 * order sent is processed before the worker exits.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <haruspex/propagation.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shop.h"

#define PROG "shop-worker"

static void usage(void)
{
	fprintf(stderr, "usage: %s --index N --fd FD DIR\n", PROG);
}

/* One order: join its trace, name the publish, do the work. */
static void handle(const uint8_t *msg, size_t len)
{
	hx_context ctx;
	size_t n = msg[0];
	const char *text = (const char *)msg + 1 + n;
	size_t text_len = len - 1 - n;
	/* A missing or unreadable context leaves ctx invalid: the worker then begins a trace of its
	 * own rather than dropping the order. */
	if (n == 0 || hx_context_from_binary(msg + 1, n, &ctx) < 0)
		memset(&ctx, 0, sizeof ctx);
	hx_trace_continue(&ctx, "order");
	hx_delivered("order placed", &ctx);
	HX_BLOCK_BEGIN_WITH("process order", HX_STRN("order", text, text_len));
	uint64_t digest = shop_work(text_len, 300000); /* stands in for picking and packing */
	hx_block_end_attrs(HX_ATTRS(HX_INT("digest", (int64_t)(digest & 0xffff))));
	hx_trace_end();
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"index", required_argument, NULL, 'i'},
		{"fd", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	unsigned long index = 0, fd = 0;
	int c, have_fd = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int bad = 1;
		if (c == 'i')
			bad = shop_parse_uint(optarg, 1, 999, &index);
		else if (c == 'f')
			have_fd = !(bad = shop_parse_uint(optarg, 0, 65535, &fd));
		if (bad) {
			usage();
			return 2;
		}
	}
	if (optind != argc - 1 || !index || !have_fd) {
		usage();
		return 2;
	}
	/* The thread's name becomes its entity's name at its first event: "shop-worker-2" tells the
	 * workers apart in every view (the service name, "worker", is the same for all). */
	char name[16];
	snprintf(name, sizeof name, "shop-worker-%u", (unsigned)(index % 1000)); /* 15 bytes at most */
	pthread_setname_np(pthread_self(), name);
	if (shop_trace_start(PROG, argv[optind], "worker"))
		return 1;

	uint8_t msg[SHOP_MSG_MAX];
	unsigned long orders = 0;
	int status = 0;
	for (;;) {
		ssize_t n = recv((int)fd, msg, sizeof msg, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: %s\n", name, strerror(errno));
			status = 1;
			break;
		}
		if (n == 0)
			break; /* the gateway is done */
		if ((size_t)n < 1 + (size_t)msg[0]) {
			fprintf(stderr, "%s: short message ignored\n", name);
			continue;
		}
		handle(msg, (size_t)n);
		orders++;
	}
	hx_point_attrs("orders processed", HX_ATTRS(HX_INT("count", orders)));
	close((int)fd);
	hx_shutdown();
	return status;
}
