/*
 * ship.h - the shipper: follows a directory of trace files (src/format/follow.h), packs new events
 * into batches per process (proto.h) and sends them with the client (client.h); positions are
 * confirmed, and saved, only when the server acknowledges. The loop of `hx ship` and of the
 * library's tcp:// sink thread, which differ only in what they follow and how long they run.
 *
 * Backpressure: while the client's queue is full the shipper does not read the files (the events
 * wait there, safe); a batch that does not fit waits in the builder.
 * Thread safety: one thread per shipper.
 */
#ifndef HX_NET_SHIP_H
#define HX_NET_SHIP_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

#include "net/client.h"

typedef struct hx_shipper_opts {
	const char *dir;              /* trace files to follow */
	const char *state_dir;        /* positions (hxship-<instance>.pos); NULL: none kept */
	const uint8_t *only_instance; /* NULL: every process of dir */
	size_t batch_bytes;           /* target batch size; default 256 KiB (less if the server asks) */
	hx_client_opts client;        /* on_ack is the shipper's (leave it NULL); on_log gets
	                                 client.user */
} hx_shipper_opts;

typedef struct hx_shipper hx_shipper;

typedef struct hx_shipper_stats {
	uint64_t events_taken;        /* read from the files */
	uint64_t events_acked;        /* acknowledged by the server */
	uint64_t events_refused;      /* events the batch format cannot hold (counted, not sent) */
	uint64_t batches_acked;
	uint64_t reconnects;
	uint64_t chunks_skipped;      /* damaged chunks in the files */
} hx_shipper_stats;

/* HX_OK, HX_ECONFIG (bad URL), HX_ENOENT/HX_EACCES (a directory), HX_ENOMEM; err filled. */
int hx_shipper_new(hx_shipper **out, const hx_shipper_opts *opts, char *err, size_t errlen);
void hx_shipper_free(hx_shipper *s); /* NULL is a no-op */

/* One round of at most about timeout_ms: read new events (unless the queue is full), send, read
 * ACKs. HX_OK; HX_EACCES (the server refused the token); HX_EINVAL (a batch over the server's
 * limit); HX_EFORMAT / HX_EIO (the state directory: hx_shipper_error()). The shipper goes on after
 * any of them if called again. */
int hx_shipper_step(hx_shipper *s, int timeout_ms);
/* Stop reading the files (shutting down): later steps only deliver what is already taken. */
void hx_shipper_stop_reading(hx_shipper *s);
/* 1 when the last step found nothing new in the files and every event taken is acknowledged
 * and its position saved. */
int hx_shipper_done(const hx_shipper *s);
size_t hx_shipper_unacked(const hx_shipper *s); /* batches awaiting their ACK */
void hx_shipper_stats_get(const hx_shipper *s, hx_shipper_stats *out);
const char *hx_shipper_error(const hx_shipper *s); /* "" when none */

#endif /* HX_NET_SHIP_H */
