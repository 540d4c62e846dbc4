/*
 * kafkasink.h - Kafka delivery from trace files: the kafka:// sink of libharuspex and the engine
 * behind it, the Kafka shipper, which `hx ship --to kafka://` (src/cli/ship_kafka.c) runs too.
 * Compiled only when librdkafka is found (HX_HAVE_KAFKA); docs/protocol.md, "Kafka".
 *
 * The shipper follows a directory of trace files (src/format/follow.h) and produces what is new:
 *   - one message per trace per poll: the events of one poll are grouped by trace ID into one
 *     native batch (src/net/proto.h) per trace, keyed by the 16-byte trace ID, so a trace stays in
 *     one partition; events outside any trace are grouped and keyed by their entity ID (8 bytes,
 *     big-endian). A batch holds one process's events and stays under HX__KSHIP_MSG_BYTES, so a
 *     busy trace may take several messages of a poll (same key, same partition).
 *   - an idempotent producer with acks=all: a broker failure or a leader change makes librdkafka
 *     retry without duplicating or reordering a partition's messages.
 *   - positions are confirmed (and saved in the state directory, as the tcp shipper does) only
 *     once librdkafka's delivery reports succeeded for every message up to the mark: a process
 *     killed at any point loses nothing, and what was produced but not confirmed is produced
 *     again by the next run (the store deduplicates by event ID).
 *   - bounded: the shipper holds at most queue_bytes of messages not yet delivered; with the
 *     cluster down it stops reading the files (the events wait there) until deliveries drain it.
 *     A message whose delivery fails for good (message timeout, a fatal producer error) is
 *     produced again, on a fresh producer if need be; it is never dropped.
 *
 * Thread safety: one thread per shipper. librdkafka runs threads of its own; delivery reports
 * are served on the caller's thread inside hx__kship_step().
 */
#ifndef HX_LIB_KAFKASINK_H
#define HX_LIB_KAFKASINK_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

#define HX__KAFKA_SCHEME "kafka://"
#define HX__KSHIP_MSG_BYTES (256u << 10)      /* target size of one message's batch */
#define HX__KSHIP_QUEUE_DEFAULT (16u << 20)   /* bytes awaiting delivery, at most */

struct hx__tracer;

/* Split kafka://BROKER[,BROKER...]/TOPIC into the broker list (as librdkafka's
 * bootstrap.servers) and the topic (Kafka's legal names: [A-Za-z0-9._-], 1 to 249 bytes).
 * 0, or -1 with the reason in why. */
int hx__kafka_url_parse(const char *url, char *brokers, size_t blen, char *topic, size_t tlen,
                        char *why, size_t whylen);

typedef struct hx__kship hx__kship;

typedef struct hx__kship_opts {
	const char *dir;              /* trace files to follow */
	const char *state_dir;        /* positions (hxship-<instance>.pos); NULL: none kept */
	const uint8_t *only_instance; /* NULL: every process of dir */
	const char *url;              /* kafka://BROKERS/TOPIC */
	const char *client_id;        /* Kafka client.id; NULL: "haruspex" */
	size_t queue_bytes;           /* 0: HX__KSHIP_QUEUE_DEFAULT */
	/* Extra librdkafka properties, "name=value" each, applied last (security settings, tuning,
	 * tests). Strings are copied. */
	const char *const *props;
	size_t nprops;
	/* Problems worth a line (a broker down, a failed delivery); called on the shipper's thread
	 * or on a librdkafka thread (log and error callbacks), never concurrently with itself. */
	void (*on_log)(const char *msg, void *user);
	void *user;
} hx__kship_opts;

typedef struct hx__kship_stats {
	uint64_t events_taken;        /* read from the files */
	uint64_t events_delivered;    /* in messages whose delivery report succeeded */
	uint64_t events_refused;      /* events the batch format cannot hold (counted, not sent) */
	uint64_t messages_delivered;
	uint64_t messages_retried;    /* produced again after a failed delivery */
	uint64_t producer_restarts;   /* fresh producers after a fatal error */
	uint64_t chunks_skipped;      /* damaged chunks in the files */
} hx__kship_stats;

/* HX_OK, HX_ECONFIG (bad URL or a property librdkafka refuses), HX_ENOENT/HX_EACCES (a
 * directory), HX_ENOMEM; err filled. Strings are copied. */
int hx__kship_new(hx__kship **out, const hx__kship_opts *opts, char *err, size_t errlen);
/* Waits for nothing: messages not delivered are abandoned (their events stay unconfirmed in the
 * files). NULL is a no-op. */
void hx__kship_free(hx__kship *s);

/* One round of at most about timeout_ms: read new events (unless the queue is full), produce,
 * serve delivery reports, confirm. HX_OK; HX_ENOMEM; HX_EFORMAT / HX_EIO (the state directory:
 * hx__kship_error()). The shipper goes on after any of them if called again. */
int hx__kship_step(hx__kship *s, int timeout_ms);
void hx__kship_stop_reading(hx__kship *s);
/* 1 when the last step found nothing new and every event taken is delivered and confirmed. */
int hx__kship_done(const hx__kship *s);
size_t hx__kship_undelivered(const hx__kship *s); /* messages awaiting a successful delivery */
void hx__kship_stats_get(const hx__kship *s, hx__kship_stats *out);
const char *hx__kship_error(const hx__kship *s); /* "" when none */

/* ---- the sink: a thread running a shipper over this process's files (lib.c) ---- */
struct hx__kafkasink;
/* After hx__filesink_open: HX_OK, or HX_ESINK (the files are written anyway; message printed
 * unless quiet). */
int hx__kafkasink_start(struct hx__tracer *tr);
/* After hx__filesink_close: deliver what is left for up to HARUSPEX_SHIP_LINGER_MS, stop. */
void hx__kafkasink_stop(struct hx__tracer *tr);

#endif /* HX_LIB_KAFKASINK_H */
