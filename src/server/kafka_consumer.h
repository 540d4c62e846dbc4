/*
 * kafka_consumer.h - the Kafka consumer of `hx serve --kafka kafka://BROKERS/TOPIC --kafka-group G`:
 * reads the messages that the kafka:// sink and `hx ship --to kafka://` produce (each value one
 * native batch, src/net/proto.h) and hands their bytes to the service, which stores them.
 *
 * At-least-once, never less: offsets are never committed automatically. The consumer stores a
 * message's offset only after the callback took the message, and commits stored offsets only when
 * the service says so (hx__kafka_consumer_commit(), called once the store made those events
 * durable). A service that dies before committing leaves the offsets where they were: the next
 * consumer of the group (after a restart, or another `hx serve` taking over the partitions)
 * replays those messages, and the store drops the duplicates by event ID. Several consumers of
 * one group share the topic's partitions (Kafka's group protocol; a trace is one key, so one
 * partition, so one consumer).
 *
 * Use, on one thread:
 *     hx__kafka_consumer_create(&c, brokers, topic, group, &opts, err, sizeof err);
 *     loop: n = hx__kafka_consumer_poll(c, 100, take, srv, 1000);  (take queues each batch)
 *           when the store has committed what take() queued: hx__kafka_consumer_commit(c);
 *     hx__kafka_consumer_destroy(c);
 * commit() commits everything delivered so far, so call poll() again only after the store
 * commit that covers the batches delivered so far (or accept that a crash replays more: never
 * that it loses). hx__kafka_consumer_lag() and _partitions() may be called from any thread
 * (/metrics).
 *
 * Backpressure: a callback that returns nonzero refuses the message: its partition is rewound to
 * it, so it comes again, and the poll ends. Memory is bounded by librdkafka's prefetch queue
 * (queued.max.messages.kbytes, 16 MiB here unless a property says otherwise) plus what the
 * callback keeps.
 */
#ifndef HX_SERVER_KAFKA_CONSUMER_H
#define HX_SERVER_KAFKA_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

typedef struct hx__kafka_consumer hx__kafka_consumer;

typedef struct hx__kafka_consumer_opts {
	const char *client_id;        /* Kafka client.id; NULL: "hx-serve" */
	/* Extra librdkafka properties, "name=value" each, applied last (security, tuning, tests).
	 * Copied. */
	const char *const *props;
	size_t nprops;
	/* Problems worth a line (a broker down, a failed fetch); called on the polling thread or
	 * on a librdkafka thread, never concurrently with itself. NULL: silent. */
	void (*on_log)(const char *msg, void *user);
	void *user;
} hx__kafka_consumer_opts;

/* Where a message came from, for callers that care (tests, logs). */
typedef struct hx__kafka_meta {
	int32_t partition;
	int64_t offset;
	const uint8_t *key;           /* the trace ID (16 bytes) or entity ID (8), as produced */
	size_t key_len;
} hx__kafka_meta;

/* A message's value (one native batch; not validated here) and where it came from, valid during
 * the call only. Return 0 to take it (its offset is stored for the next commit), nonzero to
 * refuse it (it is delivered again later; the poll ends). */
typedef int (*hx__kafka_msg_fn)(const uint8_t *value, size_t len, const hx__kafka_meta *meta,
                                void *user);

/* Join `group` and subscribe to `topic` on `brokers` (a bootstrap list "host:port,host:port";
 * hx__kafka_url_parse() in src/lib/kafkasink.h splits a kafka:// URL). A group without committed
 * offsets starts at the beginning of each partition. HX_OK, HX_ECONFIG (a property refused, a
 * bad topic), HX_ENOMEM; err filled. Strings are copied. The group is joined during polls. */
int hx__kafka_consumer_create(hx__kafka_consumer **out, const char *brokers, const char *topic,
                              const char *group, const hx__kafka_consumer_opts *opts, char *err,
                              size_t errlen);

/* Wait up to timeout_ms for a message, then deliver it and the ones already fetched, at most
 * max_messages (0: no limit), each to fn. Returns the number taken (>= 0). Broker trouble is
 * not an error here: librdkafka reconnects, and on_log hears about it. */
long hx__kafka_consumer_poll(hx__kafka_consumer *c, int timeout_ms, hx__kafka_msg_fn fn,
                             void *user);
/* The same with a limit on the messages delivered by one call. */
long hx__kafka_consumer_poll_max(hx__kafka_consumer *c, int timeout_ms, hx__kafka_msg_fn fn,
                                 void *user, size_t max_messages);

/* Commit the offsets of every message taken so far (synchronously, to the group coordinator).
 * HX_OK (also when there was nothing new to commit), or HX_EIO with
 * hx__kafka_consumer_error() saying why; the offsets stay stored and the next commit carries
 * them. Offsets of partitions taken away by a rebalance since are not committed: their new
 * owner replays those messages. */
int hx__kafka_consumer_commit(hx__kafka_consumer *c);

/* The consumer lag: messages in this consumer's partitions that it has not yet delivered (high
 * watermark minus position, summed), as of its last poll; -1 before it knows. Any thread. */
int64_t hx__kafka_consumer_lag(const hx__kafka_consumer *c);
/* Partitions assigned to this consumer now, as of its last poll. Any thread. */
int hx__kafka_consumer_partitions(const hx__kafka_consumer *c);

typedef struct hx__kafka_consumer_stats {
	uint64_t messages, bytes;     /* taken by the callback */
	uint64_t refused;             /* refused by the callback (delivered again) */
	uint64_t errors;              /* consumer errors reported by librdkafka */
	uint64_t commits, commit_failures;
} hx__kafka_consumer_stats;
void hx__kafka_consumer_stats_get(const hx__kafka_consumer *c, hx__kafka_consumer_stats *out);
const char *hx__kafka_consumer_error(const hx__kafka_consumer *c); /* "" when none */

/* Leave the group (without committing: what was not committed is replayed by the next owner)
 * and free everything. NULL is a no-op. */
void hx__kafka_consumer_destroy(hx__kafka_consumer *c);

#endif /* HX_SERVER_KAFKA_CONSUMER_H */
