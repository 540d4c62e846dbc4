/*
 * ingest.c - native protocol connections (docs/protocol.md): frames in, WELCOME/ACK/PONG/ERROR out.
 *
 * Each connection is a bufferevent (plain or TLS) on the ingest loop. Frames are parsed straight
 * from its input buffer: the header is judged as soon as its bytes are there (garbage and oversized
 * lengths are refused before their payload is read), then the whole frame is pulled up, checked
 * (CRC), inflated when compressed (bounded by limits.inflate_max) and handled. HELLO must come
 * first and carry the token when one is configured. A BATCH becomes an item for the commit thread;
 * its ACK is written when the item comes back durable (batch_done).
 *
 * Anything wrong with what a peer sends closes that connection only: the reason is counted
 * (hx_frames_rejected_total{reason}), sent in an ERROR frame, and the connection is closed once the
 * frame is flushed (or after 5 s). Batches of that connection already queued still commit; their
 * ACKs are simply not sent, and the client resends them (the store drops the duplicates).
 *
 * Memory: a connection's receive window (its read high-watermark) is at most one frame, at least
 * WINDOW_MIN, and is charged to the budget (server.h). When the budget or the queue is full every
 * connection stops reading until the commit thread drains it (hx__ingest_pause_all/_resume).
 *
 * Lifetime: a connection is freed when it is closed and no item of it is in flight (refs).
 * Everything here runs on the ingest thread.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "format/format.h"

#define WINDOW_MIN (64u * 1024u)
#define HELLO_TIMEOUT_S 10
#define CLOSE_TIMEOUT_S 5
#define LOGS_PER_SECOND 10

struct hx__conn {
	hx__conn *prev, *next;
	hx__server *srv;
	struct bufferevent *bev;     /* NULL once closed */
	int refs;                    /* 1 while open, plus one per item in flight */
	size_t inflight;
	size_t charged;              /* receive window charged to the budget */
	int hello, closing, eof;
	int have_seq;
	uint64_t last_seq;
	char peer[64];
};

/* ---- rate-limited logging of rejected connections ---- */

static void log_reject(hx__conn *c, int reason, const char *text)
{
	static time_t window;
	static int count;
	time_t now = time(NULL);
	if (now != window) {
		window = now;
		count = 0;
	}
	if (++count > LOGS_PER_SECOND)
		return;
	hx__srv_log("native connection from %s closed: %s (%s)", c->peer,
	            hx_proto_reason_name(reason), text);
}

/* ---- connection life ---- */

static void set_window(hx__conn *c, size_t need)
{
	size_t want = need > WINDOW_MIN ? need : WINDOW_MIN;
	if (!c->bev || want == c->charged)
		return;
	if (want > c->charged)
		hx__srv_charge(c->srv, want - c->charged);
	else
		hx__srv_release(c->srv, c->charged - want);
	c->charged = want;
	bufferevent_setwatermark(c->bev, EV_READ, 0, want);
}

static void unref(hx__conn *c)
{
	if (--c->refs == 0)
		free(c);
}

static void close_conn(hx__conn *c)
{
	hx__server *srv = c->srv;
	if (!c->bev)
		return;
	bufferevent_free(c->bev);
	c->bev = NULL;
	hx__srv_release(srv, c->charged);
	c->charged = 0;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	atomic_fetch_sub(&srv->m.connections, 1);
	if (atomic_load(&srv->stopping) && srv->nconns == 0)
		event_base_loopbreak(srv->ingest.base);
	unref(c);
}

static void closing_written(struct bufferevent *bev, void *arg)
{
	close_conn(arg);
}

static void conn_event(struct bufferevent *bev, short what, void *arg);

/* Close once what is buffered for the peer has been sent (or after CLOSE_TIMEOUT_S). */
static void close_after_flush(hx__conn *c)
{
	if (!c->bev || c->closing)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		close_conn(c);
		return;
	}
	struct timeval tv = {CLOSE_TIMEOUT_S, 0};
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	bufferevent_setcb(c->bev, NULL, closing_written, conn_event, c);
}

static int send_frame(hx__conn *c, hx_frame_type type, const uint8_t *payload, uint32_t len)
{
	uint8_t hdr[HX_FRAME_HEADER_BYTES];
	hx_frame_header(hdr, type, 0, payload, len);
	if (bufferevent_write(c->bev, hdr, sizeof(hdr)) || (len && bufferevent_write(c->bev, payload, len)))
		return -1;
	return 0;
}

/* Refuse the connection: count, log, ERROR frame, close after it is sent. */
static void reject(hx__conn *c, int reason, const char *text)
{
	if (!c->bev || c->closing)
		return;
	hx__metrics_reject(&c->srv->m, reason);
	log_reject(c, reason, text);
	uint8_t buf[2 + 10 + HX_ERROR_TEXT_MAX];
	size_t n = hx_error_encode(buf, sizeof(buf), reason, text);
	if (n)
		send_frame(c, HX_FRAME_ERROR, buf, (uint32_t)n);
	close_after_flush(c);
}

/* ---- frames ---- */

static void batch_done(hx__item *it)
{
	hx__conn *c = it->owner;
	c->inflight--;
	if (c->bev && !c->closing) {
		if (it->status == HX_OK) {
			uint8_t p[8];
			hx_u64_encode(p, it->seq);
			if (send_frame(c, HX_FRAME_ACK, p, 8) == 0)
				atomic_fetch_add(&c->srv->m.batches_acked, 1);
		} else {
			char text[160];
			snprintf(text, sizeof(text), "the store could not take batch %llu: %s",
			         (unsigned long long)it->seq, hx_strerror(it->status));
			reject(c, HX_REASON_STORE, text);
		}
		if (c->eof && c->inflight == 0)
			close_after_flush(c);
	}
	unref(c);
}

static void on_batch(hx__conn *c, const uint8_t *p, size_t len, uint8_t *owned)
{
	hx__server *srv = c->srv;
	uint64_t seq;
	if (len < 8 || hx_u64_parse(p, 8, &seq) != HX_OK) {
		free(owned);
		reject(c, HX_REASON_BAD_BATCH, "BATCH payload shorter than its sequence number");
		return;
	}
	if (c->have_seq && seq <= c->last_seq) {
		free(owned);
		reject(c, HX_REASON_PROTOCOL, "batch sequence numbers must increase on a connection");
		return;
	}
	uint8_t *data;
	if (owned) { /* the inflated buffer: drop the sequence number in place */
		memmove(owned, owned + 8, len - 8);
		data = owned;
	} else {
		data = malloc(len - 8 ? len - 8 : 1);
		if (!data) {
			reject(c, HX_REASON_OVERLOAD, "out of memory");
			return;
		}
		memcpy(data, p + 8, len - 8);
	}
	hx_proto_reason why;
	hx__item *it = hx__item_new(srv, data, len - 8, &why);
	if (!it) {
		if (why == HX_REASON_NONE)
			reject(c, HX_REASON_OVERLOAD, "out of memory");
		else
			reject(c, why, why == HX_REASON_BAD_RECORD ? "a record of the batch is malformed"
			                                           : "the batch is malformed");
		return;
	}
	c->have_seq = 1;
	c->last_seq = seq;
	it->loop = &srv->ingest;
	it->done = batch_done;
	it->owner = c;
	it->seq = seq;
	c->refs++;
	c->inflight++;
	atomic_fetch_add(&srv->m.events_received, it->nevents);
	hx__commit_enqueue(srv, it);
}

static void on_hello(hx__conn *c, const uint8_t *p, size_t len)
{
	hx__server *srv = c->srv;
	hx_hello h;
	if (c->hello) {
		reject(c, HX_REASON_PROTOCOL, "a second HELLO");
		return;
	}
	if (hx_hello_parse(p, len, &h) != HX_OK) {
		reject(c, HX_REASON_PROTOCOL, "malformed HELLO");
		return;
	}
	if (!hx__srv_token_ok(srv, h.token, h.token_len)) {
		reject(c, HX_REASON_UNAUTHORIZED, h.token_len ? "wrong token" : "a token is required");
		return;
	}
	c->hello = 1;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	uint8_t w[8];
	hx_welcome_encode(w, srv->lim.max_frame, HX_PROTO_VERSION);
	send_frame(c, HX_FRAME_WELCOME, w, 8);
}

/* Handle one complete, checked frame. */
static void on_frame(hx__conn *c, const hx_frame *f)
{
	hx__server *srv = c->srv;
	const uint8_t *p = f->payload;
	size_t len = f->len;
	uint8_t *inflated = NULL;
	if (f->flags & HX_FRAME_COMPRESSED) {
		hx_proto_reason why;
		int rc = hx__inflate(p, len, srv->lim.inflate_max, &inflated, &len, &why);
		if (rc == HX_ENOMEM) {
			reject(c, HX_REASON_OVERLOAD, "out of memory");
			return;
		}
		if (rc != HX_OK) {
			reject(c, why, why == HX_REASON_INFLATE_LIMIT
			                   ? "payload decompresses beyond the server's limit"
			                   : "payload is not valid zstd");
			return;
		}
		p = inflated;
	}
	if (!c->hello && f->type != HX_FRAME_HELLO) {
		free(inflated);
		if (srv->cfg.token)
			reject(c, HX_REASON_UNAUTHORIZED, "HELLO with the token must come first");
		else
			reject(c, HX_REASON_PROTOCOL, "HELLO must come first");
		return;
	}
	switch (f->type) {
	case HX_FRAME_HELLO:
		on_hello(c, p, len);
		break;
	case HX_FRAME_BATCH:
		on_batch(c, p, len, inflated);
		return; /* owns inflated */
	case HX_FRAME_PING:
		if (len != 8)
			reject(c, HX_REASON_PROTOCOL, "PING payload must be 8 bytes");
		else
			send_frame(c, HX_FRAME_PONG, p, 8);
		break;
	case HX_FRAME_PONG:
		break;
	default:
		reject(c, HX_REASON_PROTOCOL, "a frame type only the server sends");
		break;
	}
	free(inflated);
}

/* The connection ended: whatever is left in its buffer is a cut frame. */
static void finish_eof(hx__conn *c)
{
	if (!c->bev || c->closing)
		return;
	if (evbuffer_get_length(bufferevent_get_input(c->bev))) {
		reject(c, HX_REASON_TRUNCATED, "connection closed inside a frame");
		return;
	}
	if (c->inflight == 0)
		close_after_flush(c);
	/* else batch_done closes it once the last ACK is written */
}

/* Take every complete frame from the input buffer. */
static void process(hx__conn *c)
{
	hx__server *srv = c->srv;
	while (c->bev && !c->closing) {
		if (hx__srv_overloaded(srv)) {
			hx__ingest_pause_all(srv);
			return;
		}
		struct evbuffer *in = bufferevent_get_input(c->bev);
		size_t len = evbuffer_get_length(in);
		if (len == 0) {
			set_window(c, 0);
			break;
		}
		uint8_t hdr[HX_FRAME_HEADER_BYTES];
		size_t n = len < sizeof(hdr) ? len : sizeof(hdr);
		evbuffer_copyout(in, hdr, n);
		hx_frame f;
		hx_proto_reason why = HX_REASON_NONE;
		long r = hx_frame_parse(hdr, n, srv->lim.max_frame, &f, &why);
		if (r < 0) {
			reject(c, why, why == HX_REASON_TOO_LARGE ? "frame larger than the server accepts"
			               : why == HX_REASON_BAD_VERSION ? "unsupported protocol version"
			               : why == HX_REASON_BAD_MAGIC   ? "not a Haruspex native protocol frame"
			               : why == HX_REASON_BAD_TYPE    ? "unknown frame type"
			                                              : "bad frame header");
			return;
		}
		if (n < sizeof(hdr))
			break;
		size_t need = HX_FRAME_HEADER_BYTES + (size_t)hx__le32(hdr + 8);
		if (len < need) {
			set_window(c, need);
			break;
		}
		uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)need);
		if (!p) {
			reject(c, HX_REASON_OVERLOAD, "out of memory");
			return;
		}
		r = hx_frame_parse(p, need, srv->lim.max_frame, &f, &why);
		if (r < 0) {
			reject(c, why, why == HX_REASON_BAD_CHECKSUM ? "frame checksum mismatch"
			                                             : "bad frame");
			return;
		}
		atomic_fetch_add(&srv->m.bytes_received, need);
		on_frame(c, &f);
		if (c->bev)
			evbuffer_drain(in, need);
	}
	if (c->bev && !c->closing && c->eof)
		finish_eof(c);
}

static void conn_read(struct bufferevent *bev, void *arg)
{
	hx__conn *c = arg;
	c->refs++; /* process may close it */
	process(c);
	unref(c);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
	hx__conn *c = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (c->closing) {
		close_conn(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		reject(c, HX_REASON_PROTOCOL, "no HELLO within 10 s");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = 1;
		c->refs++;
		process(c);
		unref(c);
		return;
	}
	/* a socket or TLS error: nothing can be sent any more */
	if (c->srv->tls && !c->hello)
		hx__metrics_reject(&c->srv->m, HX_REASON_PROTOCOL);
	close_conn(c);
}

/* ---- accepting ---- */

static void peer_name(const struct sockaddr *sa, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(out, n, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(out, n, "[%s]:%u", host, port);
	} else {
		snprintf(out, n, "?");
	}
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	hx__server *srv = arg;
	if (atomic_load(&srv->stopping) || srv->nconns >= srv->lim.max_connections) {
		hx__metrics_reject(&srv->m, HX_REASON_OVERLOAD);
		close(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* ACKs must not wait */
	hx__conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->bev = hx__tls_bufferevent(srv->ingest.base, fd, srv->tls);
	if (!c->bev) {
		free(c);
		return;
	}
	c->srv = srv;
	c->refs = 1;
	peer_name(sa, c->peer, sizeof(c->peer));
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	atomic_fetch_add(&srv->m.connections, 1);
	bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
	set_window(c, 0);
	struct timeval tv = {HELLO_TIMEOUT_S, 0};
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	if (!atomic_load(&srv->ingest_paused))
		bufferevent_enable(c->bev, EV_READ);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	static time_t last;
	time_t now = time(NULL);
	if (now != last) { /* EMFILE and friends: say so, at most once a second */
		last = now;
		hx__srv_log("accepting a native connection failed: %s",
		            evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	}
}

int hx__ingest_start(hx__server *srv)
{
	char err[256];
	srv->listener = hx__srv_listen(srv->ingest.base, srv->cfg.listen, on_accept, srv,
	                               srv->native_addr, sizeof(srv->native_addr), err, sizeof(err));
	if (!srv->listener) {
		hx__srv_log("--listen %s: %s", srv->cfg.listen, err);
		return -1;
	}
	evconnlistener_set_error_cb(srv->listener, on_accept_error);
	srv->ingest.after_done = hx__ingest_resume;
	return 0;
}

void hx__ingest_stop_accepting(hx__server *srv)
{
	if (srv->listener) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
	}
}

void hx__ingest_pause_all(hx__server *srv)
{
	if (atomic_exchange(&srv->ingest_paused, 1))
		return;
	for (hx__conn *c = srv->conns; c; c = c->next)
		if (c->bev && !c->closing)
			bufferevent_disable(c->bev, EV_READ);
}

void hx__ingest_resume(hx__loop *l)
{
	hx__server *srv = l->srv;
	if (!atomic_load(&srv->ingest_paused) || atomic_load(&srv->stopping) ||
	    !hx__srv_can_resume(srv))
		return;
	atomic_store(&srv->ingest_paused, 0);
	/* frames may be waiting in the buffers already: run the read callbacks once, deferred (they
	 * may close connections or pause again) */
	for (hx__conn *c = srv->conns; c; c = c->next)
		if (c->bev && !c->closing) {
			bufferevent_enable(c->bev, EV_READ);
			bufferevent_trigger(c->bev, EV_READ,
			                    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
		}
}

void hx__ingest_close_all(hx__server *srv)
{
	hx__conn *c = srv->conns;
	while (c) {
		hx__conn *next = c->next;
		if (c->bev && !c->closing)
			close_after_flush(c);
		c = next;
	}
}
