/*
 * proto.h - the native protocol (docs/protocol.md): frames over a byte stream, and the event
 * batch, which is also the value of a Kafka message and the body of POST /api/events.
 *
 * FRAME (all integers little-endian)
 *    0  4  magic "HXNP"
 *    4  1  protocol version (1)
 *    5  1  type (hx_frame_type)
 *    6  2  flags: bit 0 = payload is zstd-compressed (only the service decompresses; the library
 *          never compresses, so it needs no zstd). Other bits are reserved: a frame that sets one
 *          is refused (reason PROTOCOL), since it might change how the payload is read.
 *    8  4  payload length in bytes (as sent)
 *   12  4  CRC32C of header bytes [0, 12) followed by the payload bytes as sent: a flipped bit in
 *          the type or flags is caught as surely as one in the payload
 *   16  .. payload
 *
 * Frame types and payloads
 *   HELLO    c->s  varint token length + token (bearer token, may be empty, <= 1024 bytes),
 *                  16 bytes client session ID (random per shipper run), varint name length +
 *                  client name (<= 256 bytes)
 *   WELCOME  s->c  u32 max payload bytes the server accepts, u32 server protocol version
 *   BATCH    c->s  u64 batch sequence number (per connection, from 1, increasing by 1), then a
 *                  batch (below)
 *   ACK      s->c  u64 batch sequence number: every batch of this connection up to it is durable
 *                  in the store (ACKs are cumulative and never go back)
 *   ERROR    s->c  u16 reason (hx_proto_reason), varint length + text (<= 1024 bytes); the server
 *                  then closes
 *   PING/PONG      u64 nonce (either side; the other answers with the same nonce)
 * A frame of a known type sent the wrong way, or before HELLO/WELCOME, is a PROTOCOL error.
 *
 * BATCH payload (format version 1)
 *    u8  batch version (1)
 *    16  process instance ID (the events' process)
 *    varint pid
 *    varint resource pair count, then pairs (varint key length, key, varint value length, value):
 *          host, service, program, ... (as in a trace file's header; unknown keys kept)
 *    varint base time (ns since the epoch)
 *    varint event count
 *    body: records as in src/format/encode.h, decoded with a decoder reset at the base time
 *          (event times are ns since the epoch, clocks already converted by the sender), up to
 *          the end of the payload
 * A batch holds events of one process; the sender splits otherwise.
 *
 * Every decoder here accepts any bytes: it returns a reason, never crashes, never reads outside
 * its input, and bounds every allocation by the limits it was given. Thread safety: the functions
 * touch only their arguments (a builder belongs to one thread).
 */
#ifndef HX_NET_PROTO_H
#define HX_NET_PROTO_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

#define HX_PROTO_MAGIC "HXNP"
#define HX_PROTO_VERSION 1
#define HX_FRAME_HEADER_BYTES 16
#define HX_FRAME_MAX_DEFAULT (16u << 20)    /* payload bytes a server accepts by default */
#define HX_FRAME_INFLATE_MAX (64u << 20)    /* decompressed payload limit (bomb guard) */
#define HX_BATCH_VERSION 1
#define HX_FRAME_COMPRESSED 0x1u
#define HX_FRAME_FLAGS_KNOWN HX_FRAME_COMPRESSED
#define HX_HELLO_TOKEN_MAX 1024u
#define HX_HELLO_NAME_MAX 256u
#define HX_HELLO_MAX (2u * 10u + HX_HELLO_TOKEN_MAX + 16u + HX_HELLO_NAME_MAX)
#define HX_ERROR_TEXT_MAX 1024u
#define HX_BATCH_RESOURCE_MAX 16u    /* pairs a parser keeps and a builder accepts */
#define HX_BATCH_STRING_MAX 255u     /* longest resource key or value a builder accepts */

typedef enum hx_frame_type {
	HX_FRAME_HELLO = 1,
	HX_FRAME_WELCOME = 2,
	HX_FRAME_BATCH = 3,
	HX_FRAME_ACK = 4,
	HX_FRAME_ERROR = 5,
	HX_FRAME_PING = 6,
	HX_FRAME_PONG = 7
} hx_frame_type;

/* Why a frame or a connection was rejected: counted per reason in the service's /metrics. */
#define HX_PROTO_REASON_MAP(XX)                                                                  \
	XX(NONE, 0, "none")                                                                      \
	XX(BAD_MAGIC, 1, "bad_magic")                                                            \
	XX(BAD_VERSION, 2, "bad_version")                                                        \
	XX(BAD_TYPE, 3, "bad_type")                                                              \
	XX(TOO_LARGE, 4, "too_large")                                                            \
	XX(BAD_CHECKSUM, 5, "bad_checksum")                                                      \
	XX(TRUNCATED, 6, "truncated")                                                            \
	XX(BAD_COMPRESSION, 7, "bad_compression")                                                \
	XX(INFLATE_LIMIT, 8, "inflate_limit")                                                    \
	XX(BAD_BATCH, 9, "bad_batch")                                                            \
	XX(BAD_RECORD, 10, "bad_record")                                                         \
	XX(UNAUTHORIZED, 11, "unauthorized")                                                     \
	XX(PROTOCOL, 12, "protocol")                                                             \
	XX(OVERLOAD, 13, "overload")                                                             \
	XX(STORE, 14, "store")

typedef enum hx_proto_reason {
#define HX__REASON_ENUM(name, code, text) HX_REASON_##name = (code),
	HX_PROTO_REASON_MAP(HX__REASON_ENUM)
#undef HX__REASON_ENUM
	HX_REASON__COUNT
} hx_proto_reason;

const char *hx_proto_reason_name(int reason);

/* ---- frames ---- */

typedef struct hx_frame {
	hx_frame_type type;
	uint16_t flags;
	const uint8_t *payload;  /* points into the caller's buffer */
	uint32_t len;
} hx_frame;

/* Write a frame header for a payload into out[HX_FRAME_HEADER_BYTES] (the payload must be final:
 * the CRC covers it). Send the header, then the payload. */
void hx_frame_header(uint8_t *out, hx_frame_type type, uint16_t flags, const uint8_t *payload,
                     uint32_t len);

/* Parse one frame from [buf, buf+len). Returns the bytes it spans (> 0) with *f filled, 0 when more
 * bytes are needed (a partial frame; nothing is wrong yet), or -1 with *reason set: BAD_MAGIC,
 * BAD_VERSION, BAD_TYPE, PROTOCOL (reserved flag bits), TOO_LARGE (length over max_payload),
 * BAD_CHECKSUM. The header is judged as soon as its bytes arrive (garbage is refused after its
 * first bytes, an oversized frame before its payload is read); the checksum once the payload is
 * complete. */
long hx_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload, hx_frame *f,
                    hx_proto_reason *reason);

/* ---- the small payloads: encoders return the bytes written (0 when cap is too small or a field
 * is over its limit); parsers return HX_OK or HX_EFORMAT (reason PROTOCOL) and point into p. ---- */

typedef struct hx_hello {
	const char *token;       /* not NUL-terminated: token_len bytes */
	size_t token_len;
	uint8_t session[16];
	const char *name;        /* not NUL-terminated: name_len bytes */
	size_t name_len;
} hx_hello;

size_t hx_hello_encode(uint8_t *out, size_t cap, const char *token, const uint8_t session[16],
                       const char *name);
int hx_hello_parse(const uint8_t *p, size_t len, hx_hello *out);
/* WELCOME, ACK, PING and PONG have fixed payloads of 8 bytes. */
#define HX_U64_PAYLOAD_BYTES 8
void hx_welcome_encode(uint8_t out[8], uint32_t max_payload, uint32_t version);
int hx_welcome_parse(const uint8_t *p, size_t len, uint32_t *max_payload, uint32_t *version);
void hx_u64_encode(uint8_t out[8], uint64_t v);               /* ACK, PING, PONG, BATCH's seq */
int hx_u64_parse(const uint8_t *p, size_t len, uint64_t *v);  /* len must be 8 (BATCH: pass its
                                                                 first 8 bytes) */
size_t hx_error_encode(uint8_t *out, size_t cap, int reason, const char *text); /* text cut at
                                                                                   HX_ERROR_TEXT_MAX */
int hx_error_parse(const uint8_t *p, size_t len, uint16_t *reason, const char **text,
                   size_t *text_len);

/* ---- batches ---- */

/* A decoded batch header; strings point into the batch bytes (not NUL-terminated: lengths). */
typedef struct hx_batch_info {
	uint8_t instance[16];
	uint64_t pid;
	struct {
		const char *key, *value;
		size_t key_len, value_len;
	} resource[16];
	size_t nresource;          /* pairs beyond 16 are skipped */
	uint64_t base_ns;
	uint64_t nevents;
	const uint8_t *body;
	size_t body_len;
} hx_batch_info;

/* Parse a batch's header (not its body): a BATCH frame's payload after its 8-byte sequence number,
 * or a Kafka message's value. HX_OK or HX_EFORMAT with *reason = BAD_BATCH (wrong batch version,
 * a field cut short, a resource string running past the end). */
int hx_batch_parse(const uint8_t *buf, size_t len, hx_batch_info *out, hx_proto_reason *reason);

/* Decode every event of a batch's body, calling fn for each (the event is valid during the call;
 * its time_ns and time_orig_ns are ns since the epoch). Returns HX_OK, HX_EFORMAT (*reason =
 * BAD_RECORD, or BAD_BATCH when the count does not match the header), HX_ENOMEM, or the first
 * nonzero value fn returned. Nothing is partially trusted: the whole body is checked before fn
 * sees its first event, so a malformed record fails the batch with no event delivered. Records
 * that only a trace file may hold (SYNC, INDEX) are malformed here. Future event kinds (format
 * extension records) count towards the event count but are not delivered. */
int hx_batch_events(const hx_batch_info *b, int (*fn)(const hx_event *ev, void *user), void *user,
                    hx_proto_reason *reason);

/* A batch under construction. Add events of one process; take the bytes; reset.
 * hx_batch_builder_new copies the instance and the resource pairs (resource_kv holds 2 * npairs
 * strings: key, value, key, value ...); NULL when memory is short or a limit is exceeded (more
 * than HX_BATCH_RESOURCE_MAX pairs, a string over HX_BATCH_STRING_MAX bytes, a NULL string).
 * The base time of a batch is its first event's time (so the first delta is 0). The caller bounds
 * a batch's size with hx_batch_builder_bytes() (under the server's max payload less 8). */
typedef struct hx_batch_builder hx_batch_builder;
hx_batch_builder *hx_batch_builder_new(const uint8_t instance[16], uint64_t pid,
                                       const char *const *resource_kv, size_t npairs);
void hx_batch_builder_free(hx_batch_builder *b);
int hx_batch_builder_add(hx_batch_builder *b, const hx_event *ev);   /* HX_OK/HX_ENOMEM/HX_EINVAL */
size_t hx_batch_builder_events(const hx_batch_builder *b);
size_t hx_batch_builder_bytes(const hx_batch_builder *b);            /* size if finished now */
/* The finished batch (valid until the next call on the builder), then ready for the next one. */
const uint8_t *hx_batch_builder_finish(hx_batch_builder *b, size_t *len);

#endif /* HX_NET_PROTO_H */
