/*
 * format.h - the Haruspex trace file format, version 1: layout constants and the byte-level
 * primitives shared by the writer (src/lib) and the reader (src/format/reader.c).
 * docs/format.md mirrors this file with worked examples; change both together.
 *
 * All integers are little-endian. "varint" is unsigned LEB128 (7 bits per byte, low group first,
 * high bit = more follows, at most 10 bytes); "zigzag" maps signed to unsigned as
 * (n << 1) ^ (n >> 63) before the varint.
 *
 * FILE
 *   A file holds the events of one process (one "process instance": a random 128-bit ID made at
 *   hx_init(), so pid reuse cannot merge two runs). It is a header of HX_FILE_HEADER_BYTES followed
 *   by slots of chunk_bytes each:
 *
 *     [ header 4096 ][ slot 0 ][ slot 1 ] ... slot i starts at 4096 + i * chunk_bytes
 *
 *   Slots are handed to writer threads in any order, so the chunks of different streams interleave.
 *   A slot may be unused (all zero) when the program died after reserving it.
 *
 * FILE HEADER (offset, size, meaning)
 *     0   8  magic "HXTRACE\0"
 *     8   2  format major version (1): a reader refuses a major it does not know
 *    10   2  format minor version (1): minors only add things readers may skip
 *    12   4  header bytes (4096)
 *    16   4  chunk bytes (power of two, 4096 .. 1 MiB)
 *    20   4  flags: bit 0 = clean (index written at shutdown), bit 1 = big-endian writer (never set)
 *    24  16  process instance ID
 *    40   8  pid
 *    48   4  file sequence number within the process instance (rotation), from 0
 *    52   4  clock kind: 1 = x86 TSC ticks, 2 = CLOCK_MONOTONIC ns
 *    56   8  clock anchor: ticks at init
 *    64   8  clock anchor: CLOCK_MONOTONIC ns at the same moment
 *    72   8  clock anchor: CLOCK_REALTIME ns since the epoch at the same moment
 *    80   8  ticks per second (calibrated at init; SYNC records refine it)
 *    88   8  index offset (clean files): file offset of the first index chunk, else 0
 *    96   4  index chunk count
 *   100   4  CRC32C of bytes [0, 100) with bytes 20..23 and 88..99 taken as zero: the fields
 *            above except those written at shutdown
 *   104  ..  resource: a sequence of (varint key length, key, varint value length, value) pairs,
 *            ended by a zero key length, no more than up to offset 1024. Keys: "host", "program",
 *            "service", "pid", "hx.version".
 *  1024 8*N  counters: N = HX_FILE_COUNTERS u64 slots, updated with atomic adds while the process
 *            runs; slot k is hx_counter_id k (haruspex.h); slots past HX_COUNT__MAX are zero
 *  2048 ..   reserved, zero
 *
 * CHUNK (a slot that holds data)
 *     0   4  magic "HXCK"
 *     4   4  stream ID: one per writer thread of the process; 0 is the process stream (SYNC
 *            records written by the library's background thread); HX_STREAM_INDEX marks index
 *            chunks
 *     8   4  chunk sequence number within the stream, from 0, never reused across rotations
 *    12   4  reserved, zero
 *    16   8  base ticks: the first record's time delta is relative to this
 *    24   8  commit word: low 32 bits = payload bytes committed, high 32 bits = CRC32C over chunk
 *            bytes [0, 24) followed by the committed payload. Written with one 8-byte atomic
 *            store after each recording call (covering the event and the STRING/CONTEXT records
 *            it needed), so a reader sees either the old or the new commit, and a call's records
 *            are either entirely committed or ignored. Payload beyond it is a torn tail.
 *    32  ..  payload: records, back to back
 *
 *   A chunk decodes on its own: string IDs are local to the chunk (defined before first use) and
 *   the first event record follows a CONTEXT record that states the entity, sequence number and
 *   trace. The integrity unit is the chunk: a CRC mismatch discards the chunk and is reported.
 *
 * RECORDS
 *   byte 0 = kind | (0x80 if the record ends with an attribute list). Kinds:
 *     0x01..0x0f  non-event records (below)
 *     0x10..0x3f  event kinds of this major version (hx_event_kind); each advances the current
 *                 entity's sequence number by one
 *     0x40..0x5f  future event kinds: byte 1.. varint length L, then L bytes; advance seq
 *     0x60..0x7f  future non-event records: varint length L, then L bytes
 *   Events begin with: varint dt (ticks since the previous *event* of the chunk, or since the
 *   chunk's base ticks for the first; STRING, CONTEXT and SYNC records do not move time), then
 *   kind-specific fields, then if kind & 0x80: the attribute list.
 *
 *   STRING   0x01  varint id (1, 2, ... in order of definition in the chunk), varint len, bytes
 *   CONTEXT  0x02  u64 entity ID, varint next seq, u8 flags (bit 0: a trace follows),
 *                  [16 bytes trace ID]: the entity that the following events belong to
 *   SYNC     0x03  varint ticks, varint monotonic ns, varint realtime ns (a clock sample)
 *   INDEX    0x04  (index chunks only) varint slot, u32 stream, varint chunk seq, varint committed
 *                  bytes, varint base ticks: one per chunk of the file when it was closed (a chunk
 *                  spans its base ticks up to the next chunk's of the same stream). A hint: each
 *                  chunk's own commit word is the authority.
 *
 *   ENTITY_BEGIN 0x10  dt, name, u8 entity kind, varint tid (0 if not a thread), u64 parent entity
 *   ENTITY_END   0x11  dt
 *   TRACE_BEGIN  0x12  dt, name, 16 bytes trace ID
 *   TRACE_JOIN   0x13  dt, name, 16 bytes trace ID, cause
 *   TRACE_END    0x14  dt
 *   BLOCK_BEGIN  0x15  dt, name
 *   BLOCK_END    0x16  dt
 *   POINT        0x17  dt, name
 *   COUNTER      0x18  dt, name, unit (string id, 0 = none), u8 value type (1 int: zigzag varint;
 *                      2 double: 8 bytes)
 *   ERROR        0x19  dt, name (the message)
 *   STATE        0x1a  dt, u8 state, reason (string id, 0 = none)
 *   ANNOTATE     0x1b  dt, u8 target (always has attributes)
 *   CAUSE        0x1c  dt, name, u8 interaction kind
 *   EFFECT       0x1d  dt, name, u8 interaction kind (| 0x80 when it resumes a waiting entity,
 *                      since 1.1), varint cause count, causes
 *   "name" is a varint string ID (0 = the empty name).
 *   A cause is: u8 flags (bit 0: trace ID follows, else the cause is in the event's own trace;
 *   bit 1: sampled; bit 2 (1.1): foreign, from another tracer), [16 bytes trace ID], u64 entity
 *   ID, varint seq.
 *
 *   Attribute list: varint count, then per attribute: varint key string ID, u8 type, value:
 *     1 int: zigzag varint; 2 double: 8 bytes; 3 true; 4 false; 5 string and 6 bytes: varint
 *     length then the bytes (inline, not interned).
 */
#ifndef HX_FORMAT_H
#define HX_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HX_FORMAT_MAGIC "HXTRACE\0"
#define HX_FORMAT_MAJOR 1
#define HX_FORMAT_MINOR 1
#define HX_FILE_HEADER_BYTES 4096u
#define HX_CHUNK_MAGIC 0x4b435848u /* "HXCK" read as little-endian u32 */
#define HX_CHUNK_HEADER_BYTES 32u
#define HX_CHUNK_MIN 4096u
#define HX_CHUNK_MAX (1u << 20)
#define HX_CHUNK_DEFAULT 65536u
#define HX_STREAM_PROCESS 0u
#define HX_STREAM_INDEX 0xffffffffu

/* file header offsets */
#define HX_FH_MAGIC 0
#define HX_FH_MAJOR 8
#define HX_FH_MINOR 10
#define HX_FH_HEADER_BYTES 12
#define HX_FH_CHUNK_BYTES 16
#define HX_FH_FLAGS 20
#define HX_FH_INSTANCE 24
#define HX_FH_PID 40
#define HX_FH_FILE_SEQ 48
#define HX_FH_CLOCK_KIND 52
#define HX_FH_ANCHOR_TICKS 56
#define HX_FH_ANCHOR_MONO 64
#define HX_FH_ANCHOR_REAL 72
#define HX_FH_TICKS_PER_SEC 80
#define HX_FH_INDEX_OFFSET 88
#define HX_FH_INDEX_CHUNKS 96
#define HX_FH_CRC 100
#define HX_FH_RESOURCE 104
#define HX_FH_RESOURCE_END 1024
#define HX_FH_COUNTERS 1024
#define HX_FILE_COUNTERS 128

#define HX_FLAG_CLEAN 0x1u

#define HX_CLOCK_TSC 1u
#define HX_CLOCK_MONO 2u

/* chunk header offsets */
#define HX_CH_MAGIC 0
#define HX_CH_STREAM 4
#define HX_CH_SEQ 8
#define HX_CH_BASE_TICKS 16
#define HX_CH_COMMIT 24
#define HX_CH_CRC_PREFIX 24 /* bytes of the header covered by the commit CRC */

/* record kinds that are not events (events use hx_event_kind from haruspex.h) */
enum {
	HX_REC_STRING = 0x01,
	HX_REC_CONTEXT = 0x02,
	HX_REC_SYNC = 0x03,
	HX_REC_INDEX = 0x04,
	HX_REC_EVENT_FIRST = 0x10,
	HX_REC_EVENT_LAST = 0x3f,
	HX_REC_EXT_EVENT_FIRST = 0x40,
	HX_REC_EXT_EVENT_LAST = 0x5f,
	HX_REC_EXT_OTHER_FIRST = 0x60,
	HX_REC_EXT_OTHER_LAST = 0x7f,
	HX_REC_HAS_ATTRS = 0x80
};

enum { HX_CTXREC_HAS_TRACE = 0x1 };
/* Cause flags. FOREIGN (format 1.1): the cause came from another tracer (a W3C parent-id), so no
 * Haruspex file holds it: readers count it as external, not dangling. */
enum { HX_CAUSE_HAS_TRACE = 0x1, HX_CAUSE_SAMPLED = 0x2, HX_CAUSE_FOREIGN = 0x4 };
/* EFFECT's interaction byte (format 1.1): bit 7 set = the effect ended a wait of its entity (it is
 * also a STATE running); the low 7 bits are the interaction kind. */
#define HX_EFFECT_RESUMES 0x80u
enum { HX_VAL_INT = 1, HX_VAL_DOUBLE = 2, HX_VAL_TRUE = 3, HX_VAL_FALSE = 4, HX_VAL_STRING = 5, HX_VAL_BYTES = 6 };

#define HX_VARINT_MAX 10

/* ---- little-endian fixed-width access (memcpy compiles to one move on little-endian hosts) ---- */
static inline uint16_t hx__le16(const void *p)
{
	const uint8_t *b = p;
	return (uint16_t)(b[0] | (b[1] << 8));
}
static inline uint32_t hx__le32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}
static inline uint64_t hx__le64(const void *p)
{
	const uint8_t *b = p;
	return (uint64_t)hx__le32(b) | ((uint64_t)hx__le32(b + 4) << 32);
}
static inline void hx__put_le16(void *p, uint16_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}
static inline void hx__put_le32(void *p, uint32_t v)
{
	uint8_t *b = p;
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}
static inline void hx__put_le64(void *p, uint64_t v)
{
	hx__put_le32(p, (uint32_t)v);
	hx__put_le32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

/* The value of a hex digit (either case), or -1: for IDs given as text (trace IDs, contexts). */
static inline int hx__hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- varints ---- */
static inline uint8_t *hx__put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}
static inline uint64_t hx__zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t hx__unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
/* Decode a varint from [*pp, end). Returns 0 and advances *pp, or -1 if it is truncated or longer
 * than 10 bytes or overflows 64 bits (a damaged or hostile record). */
static inline int hx__get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return -1;
		uint8_t b = *p++;
		if (shift == 63 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*pp = p;
			*out = v;
			return 0;
		}
	}
	return -1;
}

/* ---- CRC32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2 ---- */
uint32_t hx__crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* HX_FORMAT_H */
