/*
 * server.c - the HTTP server side of the shop's processes, on libevent's evhttp.
 */
#include "server.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "shop.h"

/* A request carries few headers; the propagation headers are among the first 64 of any client
 * that sends them (curl puts them where the program adds them). */
#define MAX_HEADERS 64

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

void shop_server_free(shop_server *s)
{
	for (size_t i = 0; i < 2; i++)
		if (s->stop[i])
			event_free(s->stop[i]);
	if (s->http)
		evhttp_free(s->http);
	if (s->base)
		event_base_free(s->base);
	memset(s, 0, sizeof *s);
	/* libevent keeps a few process-wide allocations (its debug map, lock callbacks) until this
	 * call; releasing them keeps LeakSanitizer's report about our own code. */
	libevent_global_shutdown();
}

int shop_server_start(shop_server *s, const char *prog, int ready_fd)
{
	memset(s, 0, sizeof *s);
	s->base = event_base_new();
	s->http = s->base ? evhttp_new(s->base) : NULL;
	if (!s->http) {
		fprintf(stderr, "%s: cannot create the event loop\n", prog);
		goto fail;
	}
	/* Port 0: the kernel picks a free port, so parallel runs (tests under two builds) never collide
	 * and nobody has to guess; the launcher learns the port through the readiness pipe. */
	struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	if (!sock) {
		fprintf(stderr, "%s: cannot listen on 127.0.0.1\n", prog);
		goto fail;
	}
	struct sockaddr_in addr;
	socklen_t alen = sizeof addr;
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&addr, &alen) != 0) {
		perror("getsockname");
		goto fail;
	}
	s->port = ntohs(addr.sin_port);
	static const int sigs[2] = {SIGTERM, SIGINT};
	for (size_t i = 0; i < 2; i++) {
		s->stop[i] = evsignal_new(s->base, sigs[i], on_stop, s->base);
		if (!s->stop[i] || evsignal_add(s->stop[i], NULL) != 0) {
			fprintf(stderr, "%s: cannot watch signals\n", prog);
			goto fail;
		}
	}
	if (shop_ready(ready_fd, s->port) != 0) {
		fprintf(stderr, "%s: cannot report readiness: launcher gone?\n", prog);
		goto fail;
	}
	return 0;
fail:
	shop_server_free(s);
	return -1;
}

void shop_server_run(shop_server *s)
{
	event_base_dispatch(s->base);
}

void shop_server_extract(struct evhttp_request *req, hx_context *out, char *tracestate, size_t len)
{
	struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
	hx_header_pair pairs[MAX_HEADERS];
	size_t n = 0;
	for (struct evkeyval *kv = headers->tqh_first; kv && n < MAX_HEADERS; kv = kv->next.tqe_next)
		pairs[n++] = (hx_header_pair){kv->key, kv->value};
	/* A failed extraction leaves *out invalid: the handler's hx_trace_continue() then starts a new
	 * trace, which is what W3C asks of a server that gets no or a broken traceparent. */
	hx_extract_pairs(pairs, n, out);

	const char *ts = evhttp_find_header(headers, "tracestate");
	tracestate[0] = '\0';
	if (ts && strlen(ts) < len)
		strcpy(tracestate, ts);
}

int shop_server_body(struct evhttp_request *req, char *buf, size_t len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	if (n >= len)
		return -1;
	if (evbuffer_copyout(in, buf, n) != (ev_ssize_t)n)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

static int set_header(void *carrier, const char *name, const char *value)
{
	return evhttp_add_header(carrier, name, value);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 400:
		return "Bad Request";
	case 402:
		return "Payment Required";
	case 409:
		return "Conflict";
	case 502:
		return "Bad Gateway";
	default:
		return "Error";
	}
}

void shop_server_reply(struct evhttp_request *req, const char *name, const char *tracestate, int status,
                       const char *body)
{
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	hx_context ctx = hx_reply(name);
	/* Without tracing (ctx invalid) hx_inject writes nothing, and the reply goes out plain. */
	if (ctx.flags & HX_CTX_VALID) {
		int err = hx_inject(&ctx, tracestate[0] ? tracestate : NULL, set_header, headers);
		if (err != HX_OK)
			fprintf(stderr, "shop: reply context not sent: %s\n", hx_strerror(err));
	}
	evhttp_add_header(headers, "Content-Type", "text/plain");
	struct evbuffer *out = evbuffer_new();
	if (out)
		evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(req, status, reason(status), out);
	if (out)
		evbuffer_free(out);
}
