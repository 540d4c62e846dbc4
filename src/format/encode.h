/*
 * encode.h - encoding decoded events (hx_event) back into trace-format records: a *body*.
 *
 * The library's hot path (src/lib/emit.c) encodes straight from API arguments into a chunk. Tools
 * and the service need the reverse of the decoder: turn events they hold (read from files, received
 * from the network, imported from OTLP) into the same compact records, to ship them (the native
 * protocol's batches, Kafka messages) and to store them (the embedded store's blocks). A body is
 * the payload of a chunk without the chunk around it: STRING, CONTEXT and event records, decoded by
 * hx__decode_record() exactly like a chunk's payload, with two differences:
 *
 *   - Times are nanoseconds since the Unix epoch, not ticks: a body's clock is already aligned and
 *     converted, so the receiver needs no clock data. A decoder reset with base 0 returns them in
 *     ev->time_ns as they were given.
 *   - Events may go back in time (a body mixes entities): the encoder then writes a TIME record
 *     (format 1.1, kind HX_REC_TIME) that restates the absolute time, instead of a delta that
 *     cannot be negative.
 *
 * An encoder interns strings per body (like a chunk) and restates the entity with a CONTEXT record
 * whenever the entity, its next sequence number or its trace differs from what the decoder would
 * infer, so a body decodes on its own and event IDs (entity, seq) come out exactly as given, gaps
 * included. Thread safety: one encoder per thread. Ownership: the encoder owns its buffer; the
 * pointer from hx__encoder_data() is valid until the next call on the encoder.
 */
#ifndef HX_ENCODE_H
#define HX_ENCODE_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

/* Non-event record of format 1.1, used in bodies only: varint absolute time (ns since the epoch in
 * a body, ticks in a chunk). The running time becomes this value; the next event's dt is relative
 * to it. */
#define HX_REC_TIME 0x05

typedef struct hx__encoder hx__encoder;

/* Make an encoder; NULL when memory is short. hx__encoder_free(NULL) is a no-op. */
hx__encoder *hx__encoder_new(void);
void hx__encoder_free(hx__encoder *e);

/* Start a new body: forget strings and context; the running time starts at base_ns (a decoder
 * reset with the same base reads it back). */
void hx__encoder_reset(hx__encoder *e, uint64_t base_ns);

/* Append one event (any kind, with its attributes and causes). ev->time_ns is the time to record
 * (ns since the epoch). Returns HX_OK, HX_ENOMEM, or HX_EINVAL for an event the format cannot hold
 * (unknown kind or attribute type, more than HX_ATTR_MAX attributes or HX_CAUSE_MAX causes, a name
 * longer than 65535 bytes, entity ID 0). A failed call leaves the body as it was. */
int hx__encode_event(hx__encoder *e, const hx_event *ev);

/* The most bytes hx__encode_event() can append for ev (for callers that must fit a limit). */
size_t hx__encode_bound(const hx_event *ev);

/* The body so far, and its size in bytes. */
const uint8_t *hx__encoder_data(const hx__encoder *e, size_t *len);
/* Events appended since the last reset. */
size_t hx__encoder_events(const hx__encoder *e);

#endif /* HX_ENCODE_H */
