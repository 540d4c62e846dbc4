/*
 * decode.h - decoding the records of one chunk (format.h). Used by the reader and by the library's
 * stderr and callback sinks, which decode each record right after encoding it.
 *
 * A decoder holds the chunk-local state: the string table, the current entity, its next sequence
 * number, its trace, and the running time in ticks. It never reads outside [p, end) and never
 * trusts a length, an ID or a count from the bytes (hostile input is the normal case).
 * Thread safety: one decoder per thread.
 */
#ifndef HX_DECODE_H
#define HX_DECODE_H

#include <haruspex.h>
#include <stdint.h>
#include <stddef.h>

#define HX_DEC_MAX_STRINGS 65536 /* a chunk defining more is malformed */

typedef struct hx__string_ref {
	const char *ptr; /* NUL-terminated copy in the decoder's arena */
	uint32_t len;
} hx__string_ref;

typedef struct hx__decoder {
	/* string table: index = string ID; ID 0 is the empty string. STRING records are copied into
	 * the arena with a NUL terminator once per chunk, so events point at names without copying. */
	hx__string_ref *strings;
	uint32_t nstrings, cap_strings;
	char *arena;
	size_t arena_used, arena_cap;
	uint64_t ticks;        /* time of the last record, in ticks */
	uint64_t entity_id;    /* from the last CONTEXT record; 0 = none yet */
	uint64_t next_seq;
	uint8_t trace_id[16];
	int has_context;
	/* scratch that decoded events point into; valid until the next decode call */
	hx_attr attrs[HX_ATTR_MAX];
	hx_context causes[HX_CAUSE_MAX];
} hx__decoder;

/* What one record decoded to. */
typedef enum hx__rec_result {
	HX__REC_EVENT = 1,   /* *ev holds an event; ev->time_ns holds TICKS (the caller converts) */
	HX__REC_OTHER = 2,   /* STRING/CONTEXT/future non-event record: nothing to return */
	HX__REC_SYNC = 3,    /* *sync holds a clock sample */
	HX__REC_INDEX = 4,   /* index entry (index chunks) in *index */
	HX__REC_SKIPPED_EVENT = 5 /* future event kind skipped (sequence number advanced) */
} hx__rec_result;

typedef struct hx__sync {
	uint64_t ticks, mono_ns, real_ns;
} hx__sync;

typedef struct hx__index_entry {
	uint64_t slot, chunk_seq, committed, base_ticks;
	uint32_t stream;
} hx__index_entry;

int hx__decoder_init(hx__decoder *d);            /* HX_OK or HX_ENOMEM */
void hx__decoder_free(hx__decoder *d);
/* Start a chunk: forget strings and context; time restarts at base_ticks. */
void hx__decoder_reset(hx__decoder *d, uint64_t base_ticks);

/* Decode the record at *p (not beyond end). On success returns a hx__rec_result (> 0) and advances
 * *p past the record. Returns -1 for a malformed record and sets *why to a static reason; *p is
 * then unchanged and the rest of the chunk cannot be trusted. Returns HX_ENOMEM (-2) when the
 * string table cannot grow; *p is unchanged and the same call may be retried. `sync` and `index`
 * may be NULL when the caller does not want those records' contents; `ev` is written only for
 * HX__REC_EVENT (and may be scribbled on by a malformed event). The decoder's state changes only
 * when a record is accepted. */
int hx__decode_record(hx__decoder *d, const uint8_t **p, const uint8_t *end, hx_event *ev,
                      hx__sync *sync, hx__index_entry *index, const char **why);

#endif /* HX_DECODE_H */
