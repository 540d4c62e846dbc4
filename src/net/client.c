/*
 * client.c - the shipping client (client.h): a queue of unacknowledged batches over one
 * connection that is made again, with backoff, whenever it fails.
 *
 * Sockets are non-blocking and every wait is a poll() with a deadline: the client runs inside the
 * library's background thread, where a server that stops reading must never hold the thread past
 * the time its caller gave (hx_shutdown()'s linger). The queue is a list in send order; `sending`
 * points at the first batch not yet (fully) written on this connection. Each batch gets the next
 * per-connection sequence number when its first byte goes out, so after a reconnection the same
 * batches go out again numbered from 1, and a cumulative ACK n frees every batch numbered <= n.
 */
#define _GNU_SOURCE
#include "net/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "format/format.h"
#include "net/proto.h"

#define RBUF_BYTES 4096            /* what a server sends is small: ACK, PING, ERROR, WELCOME */
#define RX_MAX_PAYLOAD (RBUF_BYTES - HX_FRAME_HEADER_BYTES)
#define BATCH_OFF (HX_FRAME_HEADER_BYTES + 8) /* header, then the u64 sequence number */

struct entry {
	struct entry *next;
	uint64_t ticket;
	uint64_t conn_seq;         /* its sequence number on this connection; 0 = not sent on it */
	size_t len;                /* frame bytes: header + sequence number + batch */
	uint8_t data[];
};

struct hx_client {
	hx_client_opts o;
	char *url, *token, *name;
	char host[256], port[32];
	const hx_transport *tr;
	uint8_t session[16];
	/* queue, in send order */
	struct entry *head, *tail;
	size_t count, bytes;
	struct entry *sending;     /* next to write on this connection (NULL: all written) */
	size_t send_off;           /* bytes of `sending` already written */
	/* connection */
	void *conn;                /* NULL when disconnected */
	uint64_t next_seq, acked_seq;
	uint32_t max_payload;      /* from WELCOME */
	uint8_t rbuf[RBUF_BYTES];
	size_t rlen;
	uint8_t ctl[HX_FRAME_HEADER_BYTES + 8]; /* a PONG to send between batches */
	size_t ctl_len, ctl_off;
	int batch_blocked;         /* a batch write would block: TLS wants the same bytes next, so
	                              no PONG may cut in before it moves */
	uint64_t last_rx_ms;
	/* reconnection */
	uint64_t next_attempt_ms;
	uint32_t backoff_ms;
	uint64_t connections;
	uint64_t rng;
	int unauthorized;          /* the last refusal was UNAUTHORIZED */
	int oversized;             /* a queued batch is over the server's limit */
	char err[256];
};

/* ---- helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void logf_(hx_client *c, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(hx_client *c, int error, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->o.on_log)
		c->o.on_log(error, msg, c->o.user);
}

/* Remember why the connection failed (hx_client_last_error) and log it. */
static void set_err(hx_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(hx_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	logf_(c, 1, "%s", c->err);
}

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

int hx_net_parse_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen,
                     char *err, size_t errlen)
{
	if (!url || strncmp(url, "tcp://", 6)) {
		snprintf(err, errlen, "'%.128s' is not a tcp://host:port address", url ? url : "(null)");
		return HX_ECONFIG;
	}
	const char *h = url + 6, *colon;
	size_t hl;
	if (*h == '[') {
		const char *close = strchr(h, ']');
		if (!close || close[1] != ':') {
			snprintf(err, errlen, "'%.128s': expected tcp://[IPv6]:port", url);
			return HX_ECONFIG;
		}
		h++;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon) {
			snprintf(err, errlen, "'%.128s': the port is missing (tcp://host:port)", url);
			return HX_ECONFIG;
		}
		hl = (size_t)(colon - h);
	}
	const char *p = colon + 1;
	size_t pl = strlen(p);
	char *end;
	unsigned long pn = strtoul(p, &end, 10);
	if (hl == 0 || hl >= hostlen || memchr(h, '/', hl) || pl == 0 || pl >= portlen || *end ||
	    *p < '0' || *p > '9' || pn == 0 || pn > 65535) {
		snprintf(err, errlen, "'%.128s': expected tcp://host:port with a port from 1 to 65535",
		         url);
		return HX_ECONFIG;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	memcpy(port, p, pl + 1);
	return HX_OK;
}

/* ---- the plain transport ---- */

struct plain {
	int fd;
};

static void *plain_open(void *cfg, int fd, const char *host, int timeout_ms, char *err,
                        size_t errlen)
{
	(void)cfg, (void)host, (void)timeout_ms;
	struct plain *p = malloc(sizeof *p);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->fd = fd;
	return p;
}

static long plain_read(void *conn, void *buf, size_t len, short *want, char *err, size_t errlen)
{
	struct plain *p = conn;
	for (;;) {
		ssize_t n = recv(p->fd, buf, len, 0);
		if (n > 0)
			return (long)n;
		if (n == 0) {
			snprintf(err, errlen, "connection closed by the server");
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*want = POLLIN;
			return 0;
		}
		snprintf(err, errlen, "receive: %s", strerror(errno));
		return -1;
	}
}

static long plain_write(void *conn, const void *buf, size_t len, short *want, char *err,
                        size_t errlen)
{
	struct plain *p = conn;
	for (;;) {
		/* MSG_NOSIGNAL: a closed connection must be an error here, not a SIGPIPE that kills
		 * the program the library runs in */
		ssize_t n = send(p->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n > 0 ? (long)n : (*want = POLLOUT, 0);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*want = POLLOUT;
			return 0;
		}
		snprintf(err, errlen, "send: %s", strerror(errno));
		return -1;
	}
}

static size_t plain_pending(void *conn)
{
	(void)conn;
	return 0;
}

static int plain_fd(void *conn)
{
	return ((struct plain *)conn)->fd;
}

static void plain_close(void *conn)
{
	struct plain *p = conn;
	close(p->fd);
	free(p);
}

const hx_transport hx_transport_plain = {"tcp", plain_open, plain_read, plain_write,
                                         plain_pending, plain_fd, plain_close};

/* ---- life cycle ---- */

int hx_client_new(hx_client **out, const hx_client_opts *opts, char *err, size_t errlen)
{
	*out = NULL;
	hx_client *c = calloc(1, sizeof *c);
	if (!c)
		return HX_ENOMEM;
	c->o = *opts;
	int rc = hx_net_parse_url(opts->url, c->host, sizeof c->host, c->port, sizeof c->port, err,
	                          errlen);
	if (rc != HX_OK) {
		free(c);
		return rc;
	}
	c->url = dup_str(opts->url);
	c->token = dup_str(opts->token ? opts->token : "");
	c->name = dup_str(opts->name ? opts->name : "haruspex");
	if (!c->url || !c->token || !c->name) {
		hx_client_free(c);
		return HX_ENOMEM;
	}
	if (strlen(c->token) > HX_HELLO_TOKEN_MAX) {
		snprintf(err, errlen, "the token is longer than %u bytes", HX_HELLO_TOKEN_MAX);
		hx_client_free(c);
		return HX_ECONFIG;
	}
	if (strlen(c->name) > HX_HELLO_NAME_MAX)
		c->name[HX_HELLO_NAME_MAX] = 0;
	c->o.url = c->url;
	c->o.token = c->token;
	c->o.name = c->name;
	c->tr = opts->transport ? opts->transport : &hx_transport_plain;
	if (!c->o.queue_bytes)
		c->o.queue_bytes = 8u << 20;
	if (!c->o.connect_timeout_ms)
		c->o.connect_timeout_ms = 5000;
	if (!c->o.backoff_min_ms)
		c->o.backoff_min_ms = 100;
	if (!c->o.backoff_max_ms)
		c->o.backoff_max_ms = 10000;
	if (c->o.backoff_max_ms < c->o.backoff_min_ms)
		c->o.backoff_max_ms = c->o.backoff_min_ms;
	if (!c->o.ack_timeout_ms)
		c->o.ack_timeout_ms = 30000;
	c->backoff_ms = c->o.backoff_min_ms;
	c->max_payload = HX_FRAME_MAX_DEFAULT;
	if (getrandom(c->session, sizeof c->session, GRND_NONBLOCK) != (ssize_t)sizeof c->session) {
		/* no entropy yet (early boot): the session ID only labels the client in the server's
		 * logs, so time and address will do */
		uint64_t t = now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
		memcpy(c->session, &t, 8);
		memcpy(c->session + 8, &c, sizeof c < 8 ? sizeof c : 8);
	}
	memcpy(&c->rng, c->session, 8);
	c->rng |= 1;
	*out = c;
	return HX_OK;
}

static void disconnect(hx_client *c)
{
	if (c->conn)
		c->tr->close(c->conn);
	c->conn = NULL;
	c->rlen = 0;
	c->ctl_len = c->ctl_off = 0;
	c->batch_blocked = 0;
	c->sending = NULL;
	c->send_off = 0;
}

void hx_client_free(hx_client *c)
{
	if (!c)
		return;
	disconnect(c);
	while (c->head) {
		struct entry *e = c->head;
		c->head = e->next;
		free(e);
	}
	free(c->url);
	free(c->token);
	free(c->name);
	free(c);
}

/* A failure: close, and try again after the backoff (with jitter, so that many clients cut off at
 * once do not come back at once), which doubles up to its cap. */
static void fail_connection(hx_client *c)
{
	disconnect(c);
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	uint32_t jitter = c->backoff_ms / 4 ? (uint32_t)(c->rng % (c->backoff_ms / 4 + 1)) : 0;
	c->next_attempt_ms = now_ms() + c->backoff_ms - jitter;
	c->backoff_ms = c->backoff_ms >= c->o.backoff_max_ms / 2 ? c->o.backoff_max_ms
	                                                         : c->backoff_ms * 2;
}

/* ---- the queue ---- */

size_t hx_client_max_batch(const hx_client *c)
{
	return c->max_payload > 8 ? c->max_payload - 8 : 0;
}

int hx_client_room(const hx_client *c, size_t len)
{
	return c->count == 0 || c->bytes + BATCH_OFF + len <= c->o.queue_bytes;
}

int hx_client_send(hx_client *c, const uint8_t *batch, size_t len, uint64_t ticket)
{
	if (!c || (!batch && len))
		return HX_EINVAL;
	if (len > hx_client_max_batch(c) || BATCH_OFF + len > c->o.queue_bytes)
		return HX_EINVAL;
	if (!hx_client_room(c, len))
		return HX_ENOSPC;
	struct entry *e = malloc(sizeof *e + BATCH_OFF + len);
	if (!e)
		return HX_ENOMEM;
	e->next = NULL;
	e->ticket = ticket;
	e->conn_seq = 0;
	e->len = BATCH_OFF + len;
	if (len)
		memcpy(e->data + BATCH_OFF, batch, len);
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
	c->count++;
	c->bytes += e->len;
	if (c->conn && !c->sending) {
		c->sending = e;
		c->send_off = 0;
	}
	return HX_OK;
}

size_t hx_client_unacked(const hx_client *c)
{
	return c->count;
}

size_t hx_client_unacked_bytes(const hx_client *c)
{
	return c->bytes;
}

int hx_client_connected(const hx_client *c)
{
	return c->conn != NULL;
}

uint64_t hx_client_reconnects(const hx_client *c)
{
	return c->connections > 1 ? c->connections - 1 : 0;
}

const char *hx_client_last_error(const hx_client *c)
{
	return c->err;
}

/* ---- connecting ---- */

static int remaining(uint64_t deadline)
{
	uint64_t t = now_ms();
	return t >= deadline ? 0 : (int)(deadline - t);
}

/* A connected non-blocking TCP socket to one of the host's addresses, or -1 (c->err set). */
static int tcp_connect(hx_client *c, uint64_t deadline)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int gai = getaddrinfo(c->host, c->port, &hints, &res);
	if (gai) {
		set_err(c, "%s: cannot resolve %s: %s", c->url, c->host, gai_strerror(gai));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			set_err(c, "%s: socket: %s", c->url, strerror(errno));
			continue;
		}
		int rc = connect(fd, a->ai_addr, a->ai_addrlen);
		if (rc < 0 && errno == EINPROGRESS) {
			struct pollfd pfd = {fd, POLLOUT, 0};
			int pr;
			do
				pr = poll(&pfd, 1, remaining(deadline));
			while (pr < 0 && errno == EINTR);
			int soerr = 0;
			socklen_t sl = sizeof soerr;
			if (pr == 0)
				soerr = ETIMEDOUT;
			else if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
				soerr = errno;
			rc = soerr ? -1 : 0;
			errno = soerr;
		}
		if (rc < 0) {
			set_err(c, "%s: connect: %s", c->url, strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		int one = 1; /* frames are written whole: Nagle would only delay the last segment */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return fd;
}

/* Write all of buf before the deadline (the handshake only). 0 or -1 (c->err set). */
static int write_all(hx_client *c, const uint8_t *buf, size_t len, uint64_t deadline)
{
	while (len) {
		short want = 0;
		char e[160] = "";
		long n = c->tr->write(c->conn, buf, len, &want, e, sizeof e);
		if (n < 0) {
			set_err(c, "%s: %s", c->url, e);
			return -1;
		}
		if (n == 0) {
			struct pollfd pfd = {c->tr->fd(c->conn), want, 0};
			int pr = poll(&pfd, 1, remaining(deadline));
			if (pr == 0) {
				set_err(c, "%s: timed out sending HELLO", c->url);
				return -1;
			}
			continue;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int handle_frame(hx_client *c, const hx_frame *f, int handshake);

/* Read frames until the WELCOME (the handshake only). 0 or -1 (c->err set). */
static int await_welcome(hx_client *c, uint64_t deadline)
{
	for (;;) {
		hx_frame f;
		hx_proto_reason why;
		long n = hx_frame_parse(c->rbuf, c->rlen, RX_MAX_PAYLOAD, &f, &why);
		if (n < 0) {
			set_err(c, "%s: the server sent a bad frame (%s): not a Haruspex service?", c->url,
			        hx_proto_reason_name(why));
			return -1;
		}
		if (n > 0) {
			int rc = handle_frame(c, &f, 1);
			memmove(c->rbuf, c->rbuf + n, c->rlen - (size_t)n);
			c->rlen -= (size_t)n;
			if (rc != 0)
				return rc > 0 ? 0 : -1; /* 1: the WELCOME */
			continue;
		}
		short want = POLLIN;
		char e[160] = "";
		long got = c->tr->read(c->conn, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, &want, e,
		                       sizeof e);
		if (got < 0) {
			set_err(c, "%s: %s before WELCOME", c->url, e);
			return -1;
		}
		if (got == 0) {
			struct pollfd pfd = {c->tr->fd(c->conn), want, 0};
			if (poll(&pfd, 1, remaining(deadline)) == 0) {
				set_err(c, "%s: no WELCOME within %u ms", c->url, c->o.connect_timeout_ms);
				return -1;
			}
			continue;
		}
		c->rlen += (size_t)got;
		c->last_rx_ms = now_ms();
	}
}

static int try_connect(hx_client *c)
{
	uint64_t deadline = now_ms() + c->o.connect_timeout_ms;
	int fd = tcp_connect(c, deadline);
	if (fd < 0) {
		fail_connection(c);
		return -1;
	}
	char e[200] = "";
	c->conn = c->tr->open(c->o.transport_cfg, fd, c->host, remaining(deadline), e, sizeof e);
	if (!c->conn) {
		close(fd);
		set_err(c, "%s: %s", c->url, e);
		fail_connection(c);
		return -1;
	}
	uint8_t hello[HX_FRAME_HEADER_BYTES + HX_HELLO_MAX];
	size_t n = hx_hello_encode(hello + HX_FRAME_HEADER_BYTES, HX_HELLO_MAX, c->token, c->session,
	                           c->name);
	hx_frame_header(hello, HX_FRAME_HELLO, 0, hello + HX_FRAME_HEADER_BYTES, (uint32_t)n);
	c->rlen = 0;
	if (write_all(c, hello, HX_FRAME_HEADER_BYTES + n, deadline) || await_welcome(c, deadline)) {
		fail_connection(c);
		return -1;
	}
	/* Connected: everything still queued goes out again, numbered from 1 on this connection. */
	c->connections++;
	c->next_seq = 1;
	c->acked_seq = 0;
	for (struct entry *e2 = c->head; e2; e2 = e2->next)
		e2->conn_seq = 0;
	c->sending = c->head;
	c->send_off = 0;
	c->last_rx_ms = now_ms();
	c->unauthorized = 0;
	c->backoff_ms = c->o.backoff_min_ms;
	logf_(c, 0, "connected to %s (%zu batches to resend)", c->url, c->count);
	return 0;
}

/* ---- frames from the server ---- */

/* Returns 0 to go on, 1 for the WELCOME during the handshake, -1 to drop the connection. */
static int handle_frame(hx_client *c, const hx_frame *f, int handshake)
{
	if (f->flags) {
		set_err(c, "%s: the server sent a compressed frame, which a client never asks for",
		        c->url);
		return -1;
	}
	switch (f->type) {
	case HX_FRAME_WELCOME: {
		uint32_t max, version;
		if (!handshake || hx_welcome_parse(f->payload, f->len, &max, &version)) {
			set_err(c, "%s: unexpected or malformed WELCOME", c->url);
			return -1;
		}
		if (max < 1024) {
			set_err(c, "%s: the server accepts only %u bytes per frame", c->url, max);
			return -1;
		}
		c->max_payload = max;
		return 1;
	}
	case HX_FRAME_ERROR: {
		uint16_t reason = 0;
		const char *text = "";
		size_t tl = 0;
		if (hx_error_parse(f->payload, f->len, &reason, &text, &tl)) {
			set_err(c, "%s: malformed ERROR frame", c->url);
			return -1;
		}
		/* the server's text is shown, not trusted: only printable bytes */
		char clean[256];
		size_t k = 0;
		for (size_t i = 0; i < tl && k + 1 < sizeof clean; i++)
			clean[k++] = text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?';
		clean[k] = 0;
		c->unauthorized = reason == HX_REASON_UNAUTHORIZED;
		set_err(c, "%s: the server refused: %s (%s)", c->url, hx_proto_reason_name(reason),
		        clean);
		return -1;
	}
	case HX_FRAME_PING: {
		uint64_t nonce;
		if (hx_u64_parse(f->payload, f->len, &nonce)) {
			set_err(c, "%s: malformed PING", c->url);
			return -1;
		}
		if (!handshake && c->ctl_len == 0) { /* one PONG outstanding at most: the latest wins */
			hx_u64_encode(c->ctl + HX_FRAME_HEADER_BYTES, nonce);
			hx_frame_header(c->ctl, HX_FRAME_PONG, 0, c->ctl + HX_FRAME_HEADER_BYTES, 8);
			c->ctl_len = sizeof c->ctl;
			c->ctl_off = 0;
		}
		return 0;
	}
	case HX_FRAME_PONG:
		return 0;
	case HX_FRAME_ACK: {
		uint64_t seq;
		if (handshake || hx_u64_parse(f->payload, f->len, &seq)) {
			set_err(c, "%s: unexpected or malformed ACK", c->url);
			return -1;
		}
		/* the last batch whose bytes are all out: a batch cannot be acknowledged before */
		uint64_t sent = c->sending && c->send_off ? c->sending->conn_seq - 1 : c->next_seq - 1;
		if (seq < c->acked_seq || seq > sent) {
			set_err(c, "%s: ACK %llu for a batch never sent (sent up to %llu, acknowledged %llu)",
			        c->url, (unsigned long long)seq, (unsigned long long)sent,
			        (unsigned long long)c->acked_seq);
			return -1;
		}
		c->acked_seq = seq;
		while (c->head && c->head->conn_seq && c->head->conn_seq <= seq) {
			struct entry *e = c->head;
			c->head = e->next;
			if (!c->head)
				c->tail = NULL;
			c->count--;
			c->bytes -= e->len;
			uint64_t ticket = e->ticket;
			free(e);
			if (c->o.on_ack)
				c->o.on_ack(ticket, c->o.user);
		}
		return 0;
	}
	default:
		set_err(c, "%s: the server sent a %s frame, which only clients send", c->url,
		        f->type == HX_FRAME_HELLO ? "HELLO" : "BATCH");
		return -1;
	}
}

/* ---- steady state ---- */

/* Write what is waiting until the socket would block. 0 or -1 (failed). */
static int pump_writes(hx_client *c, short *want)
{
	for (;;) {
		const uint8_t *p;
		size_t left;
		/* a PONG goes between frames, never inside one */
		int ctl = c->ctl_len && c->send_off == 0 && !c->batch_blocked;
		if (ctl) {
			p = c->ctl + c->ctl_off;
			left = c->ctl_len - c->ctl_off;
		} else if (c->sending) {
			struct entry *e = c->sending;
			if (c->send_off == 0 && e->conn_seq == 0) {
				if (e->len - HX_FRAME_HEADER_BYTES > c->max_payload) {
					c->oversized = 1;
					set_err(c, "%s: a queued batch of %zu bytes is over the server's limit of %u",
					        c->url, e->len - BATCH_OFF, c->max_payload);
					return 0;
				}
				e->conn_seq = c->next_seq++;
				hx_u64_encode(e->data + HX_FRAME_HEADER_BYTES, e->conn_seq);
				hx_frame_header(e->data, HX_FRAME_BATCH, 0, e->data + HX_FRAME_HEADER_BYTES,
				                (uint32_t)(e->len - HX_FRAME_HEADER_BYTES));
			}
			p = e->data + c->send_off;
			left = e->len - c->send_off;
		} else {
			return 0;
		}
		char err[160] = "";
		long n = c->tr->write(c->conn, p, left, want, err, sizeof err);
		if (n < 0) {
			set_err(c, "%s: %s", c->url, err);
			return -1;
		}
		if (n == 0) {
			c->batch_blocked = !ctl;
			return 0;
		}
		c->batch_blocked = 0;
		if (ctl) {
			c->ctl_off += (size_t)n;
			if (c->ctl_off == c->ctl_len)
				c->ctl_len = c->ctl_off = 0;
		} else {
			c->send_off += (size_t)n;
			if (c->send_off == c->sending->len) {
				c->sending = c->sending->next;
				c->send_off = 0;
			}
		}
	}
}

/* Read and handle what has arrived. Returns the number of ACK frames handled, or -1. */
static int pump_reads(hx_client *c, short *want)
{
	int acks = 0;
	for (;;) {
		char err[160] = "";
		long n = c->tr->read(c->conn, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, want, err,
		                     sizeof err);
		if (n < 0) {
			set_err(c, "%s: %s", c->url, err);
			return -1;
		}
		if (n == 0)
			return acks;
		c->rlen += (size_t)n;
		c->last_rx_ms = now_ms();
		for (;;) {
			hx_frame f;
			hx_proto_reason why;
			long fl = hx_frame_parse(c->rbuf, c->rlen, RX_MAX_PAYLOAD, &f, &why);
			if (fl < 0) {
				set_err(c, "%s: the server sent a bad frame (%s)", c->url,
				        hx_proto_reason_name(why));
				return -1;
			}
			if (fl == 0)
				break;
			if (handle_frame(c, &f, 0) < 0)
				return -1;
			acks += f.type == HX_FRAME_ACK;
			memmove(c->rbuf, c->rbuf + fl, c->rlen - (size_t)fl);
			c->rlen -= (size_t)fl;
		}
	}
}

int hx_client_poll(hx_client *c, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	if (c->oversized)
		return HX_EINVAL;
	if (!c->conn) {
		uint64_t t = now_ms();
		if (t < c->next_attempt_ms) {
			/* waiting out the backoff: sleep no longer than the caller allows */
			uint64_t until = c->next_attempt_ms < deadline ? c->next_attempt_ms : deadline;
			if (until > t)
				poll(NULL, 0, (int)(until - t));
			return c->unauthorized ? HX_EACCES : HX_OK;
		}
		if (try_connect(c))
			return c->unauthorized ? HX_EACCES : HX_OK;
	}
	for (;;) {
		short wr_want = POLLOUT, rd_want = POLLIN;
		if (pump_writes(c, &wr_want) < 0) {
			fail_connection(c);
			return HX_OK;
		}
		if (c->oversized) {
			fail_connection(c);
			return HX_EINVAL;
		}
		int acks = pump_reads(c, &rd_want);
		if (acks < 0) {
			fail_connection(c);
			return c->unauthorized ? HX_EACCES : HX_OK;
		}
		uint64_t t = now_ms();
		int waiting_ack = c->head && c->head->conn_seq;
		if (waiting_ack && t - c->last_rx_ms > c->o.ack_timeout_ms) {
			set_err(c, "%s: no answer for %u ms while batches await their ACK", c->url,
			        c->o.ack_timeout_ms);
			fail_connection(c);
			return HX_OK;
		}
		if (acks > 0 || t >= deadline)
			return HX_OK;
		int wait = remaining(deadline);
		if (waiting_ack) {
			uint64_t dead_at = c->last_rx_ms + c->o.ack_timeout_ms + 1;
			if (dead_at > t && dead_at - t < (uint64_t)wait)
				wait = (int)(dead_at - t);
		}
		struct pollfd pfd = {c->tr->fd(c->conn), rd_want, 0};
		if (c->ctl_len || c->sending)
			pfd.events |= wr_want;
		if (c->tr->pending(c->conn))
			continue;
		int pr = poll(&pfd, 1, wait);
		if (pr < 0 && errno != EINTR) {
			set_err(c, "%s: poll: %s", c->url, strerror(errno));
			fail_connection(c);
			return HX_OK;
		}
		if (pr > 0 && (pfd.revents & (POLLERR | POLLNVAL)) && !(pfd.revents & POLLIN)) {
			set_err(c, "%s: connection failed", c->url);
			fail_connection(c);
			return HX_OK;
		}
	}
}
