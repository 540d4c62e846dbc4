/*
 * client.h - the shipping client of the native protocol (docs/protocol.md): one connection to a
 * service, batches queued until they are acknowledged, reconnection with backoff, and resending.
 *
 * Used by `hx ship` and by libharuspex's tcp:// sink, whose background thread runs it: so it
 * depends on libc only, needs no event loop, and never blocks longer than the time its caller
 * gives it. It is driven by one thread calling hx_client_poll() in a loop; between calls nothing
 * happens (no thread of its own, no signals).
 *
 * Delivery: every batch handed to hx_client_send() stays queued (its bytes copied) until the
 * server acknowledges it, which means it is durable in the store; then on_ack(ticket) is called
 * and the batch is freed. A connection that fails (refused, reset, closed, garbage, an ERROR
 * frame, silence while an ACK is due) is closed and made again after a backoff that doubles up to
 * backoff_max_ms; every batch still queued is then sent again, in the order it was queued. The
 * server deduplicates events by event ID, so a batch that was stored but whose ACK was lost does
 * no harm when it comes twice. The queue is bounded in bytes: when it is full, hx_client_send()
 * says so (HX_ENOSPC) and the caller stops reading its input until ACKs make room. Nothing is
 * ever dropped.
 *
 * Transports: a small table of functions (plain TCP here; TLS with OpenSSL in src/net/tls.c,
 * compiled only into the hx tool, so the library never links OpenSSL).
 *
 * Thread safety: one thread per client. Ownership: the client copies the options' strings and
 * every batch; the transport configuration (opts.transport_cfg) stays the caller's.
 */
#ifndef HX_NET_CLIENT_H
#define HX_NET_CLIENT_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

/* A byte-stream transport over a connected socket. Every call is non-blocking: 0 means "would
 * block", with *want set to POLLIN or POLLOUT (TLS may need to write to read and vice versa). */
typedef struct hx_transport {
	const char *name;
	/* Start a session on the connected, non-blocking socket fd, finishing any handshake within
	 * timeout_ms. Returns the session (which owns fd from then on) or NULL with err filled (the
	 * caller closes fd). `host` is the name the server must prove (TLS). */
	void *(*open)(void *cfg, int fd, const char *host, int timeout_ms, char *err, size_t errlen);
	/* > 0 bytes moved; 0 would block (*want set); -1 failed or closed by the peer (err filled). */
	long (*read)(void *conn, void *buf, size_t len, short *want, char *err, size_t errlen);
	long (*write)(void *conn, const void *buf, size_t len, short *want, char *err, size_t errlen);
	/* Bytes already received and decrypted, which poll() cannot see (TLS); plain: 0. */
	size_t (*pending)(void *conn);
	int (*fd)(void *conn);
	void (*close)(void *conn); /* ends the session and closes its socket */
} hx_transport;

extern const hx_transport hx_transport_plain;

/* Split "tcp://host:port" (host may be a name, an IPv4 address or [IPv6]) into host and port.
 * HX_OK, or HX_ECONFIG with a reason in err. */
int hx_net_parse_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen,
                     char *err, size_t errlen);

typedef struct hx_client_opts {
	const char *url;               /* tcp://host:port (required) */
	const char *token;             /* bearer token sent in HELLO; NULL or "" for none */
	const char *name;              /* client name in HELLO, for the service's logs */
	const hx_transport *transport; /* NULL: plain TCP */
	void *transport_cfg;           /* passed to transport->open */
	size_t queue_bytes;            /* bound of the queue of unacknowledged batches; default 8 MiB */
	uint32_t connect_timeout_ms;   /* TCP connect + handshake + WELCOME; default 5000 */
	uint32_t backoff_min_ms;       /* first delay after a failure; default 100 */
	uint32_t backoff_max_ms;       /* the delay doubles up to this; default 10000 */
	uint32_t ack_timeout_ms;       /* batches sent and nothing heard for this long: the
	                                  connection is dead; default 30000 */
	void (*on_ack)(uint64_t ticket, void *user);     /* a batch is durable */
	/* what happens to the connection: error 1 for a failure (the client retries), 0 for news
	 * (connected); NULL: quiet */
	void (*on_log)(int error, const char *message, void *user);
	void *user;
} hx_client_opts;

typedef struct hx_client hx_client;

/* Make a client (no connection yet: the first hx_client_poll() connects). HX_OK, HX_ECONFIG
 * (bad URL, err filled), HX_ENOMEM. */
int hx_client_new(hx_client **out, const hx_client_opts *opts, char *err, size_t errlen);
/* Close the connection and free everything, queued batches included (call hx_client_unacked()
 * first to know what would not be delivered). NULL is a no-op. */
void hx_client_free(hx_client *c);

/* Queue a batch (hx_batch_builder_finish's bytes; copied). `ticket` comes back through on_ack.
 * HX_OK; HX_ENOSPC when the queue is full (poll and try again: never dropped); HX_EINVAL when the
 * batch is larger than the queue or than the server accepts (hx_client_max_batch); HX_ENOMEM. */
int hx_client_send(hx_client *c, const uint8_t *batch, size_t len, uint64_t ticket);
/* Would hx_client_send() accept a batch of len bytes now? */
int hx_client_room(const hx_client *c, size_t len);
/* The largest batch the server accepts (its WELCOME; before the first one, the default). */
size_t hx_client_max_batch(const hx_client *c);

/* Do the client's work for at most timeout_ms: connect when it is time, send, read ACKs (calling
 * on_ack), answer PINGs. Returns early once something was acknowledged. HX_OK; HX_EACCES when
 * the server refused the token (it keeps trying: the caller decides whether to give up);
 * HX_EINVAL when a queued batch is over the limit the server announced later (it cannot be sent:
 * the caller should stop). */
int hx_client_poll(hx_client *c, int timeout_ms);

size_t hx_client_unacked(const hx_client *c);        /* batches queued and not acknowledged */
size_t hx_client_unacked_bytes(const hx_client *c);
int hx_client_connected(const hx_client *c);         /* 1 after a WELCOME, until a failure */
uint64_t hx_client_reconnects(const hx_client *c);   /* connections made after the first */
const char *hx_client_last_error(const hx_client *c); /* "" when none yet */

#endif /* HX_NET_CLIENT_H */
