/*
 * decode.c - decode the records of one chunk (format.h) into hx_event values.
 *
 * Every read is checked against `end` before it happens, and every length, ID and count from the
 * bytes is bounded before it is used: the input is as likely to be a flipped bit or a fuzzer's
 * invention as a record the writer made. A record is decoded into locals first and the decoder's
 * state (time, sequence number, trace, string table) changes only once the whole record has been
 * accepted, so a malformed record leaves the decoder as it was.
 *
 * The simple point (kind, varint dt, varint name) is the record that dominates traces; its path is
 * the first test in hx__decode_record and reads three bytes in the common case.
 */
#include "format/decode.h"
#include "format/encode.h"
#include "format/format.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_STRINGS 64
#define INITIAL_ARENA 4096

/* Reject the record: leave *p where it was and say why. */
#define BAD(reason)                                                                               \
	do {                                                                                      \
		*why = (reason);                                                                  \
		return -1;                                                                        \
	} while (0)

/* A varint whose first byte has the high bit clear is one byte long: dt and string IDs almost
 * always are, so test that before calling the general loop. */
static inline int get_varint(const uint8_t **q, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *q;
	if (__builtin_expect(p < end && *p < 0x80, 1)) {
		*v = *p;
		*q = p + 1;
		return 0;
	}
	return hx__get_varint(q, end, v);
}

static inline int get_u8(const uint8_t **q, const uint8_t *end, unsigned *v)
{
	if (*q >= end)
		return -1;
	*v = **q;
	(*q)++;
	return 0;
}

static inline int get_u64(const uint8_t **q, const uint8_t *end, uint64_t *v)
{
	if ((size_t)(end - *q) < 8)
		return -1;
	*v = hx__le64(*q);
	*q += 8;
	return 0;
}

static inline int get_bytes(const uint8_t **q, const uint8_t *end, void *out, size_t n)
{
	if ((size_t)(end - *q) < n)
		return -1;
	memcpy(out, *q, n);
	*q += n;
	return 0;
}

/* A string ID names a STRING record defined earlier in this chunk, or 0 for the empty string. */
static inline int get_string(const hx__decoder *d, const uint8_t **q, const uint8_t *end,
                             const hx__string_ref **s)
{
	uint64_t id;
	if (get_varint(q, end, &id) || id >= d->nstrings)
		return -1;
	*s = &d->strings[id];
	return 0;
}

int hx__decoder_init(hx__decoder *d)
{
	memset(d, 0, sizeof(*d));
	d->strings = malloc(INITIAL_STRINGS * sizeof(*d->strings));
	d->arena = malloc(INITIAL_ARENA);
	if (!d->strings || !d->arena) {
		hx__decoder_free(d);
		return HX_ENOMEM;
	}
	d->cap_strings = INITIAL_STRINGS;
	d->arena_cap = INITIAL_ARENA;
	hx__decoder_reset(d, 0);
	return HX_OK;
}

void hx__decoder_free(hx__decoder *d)
{
	free(d->strings);
	free(d->arena);
	d->strings = NULL;
	d->arena = NULL;
	d->nstrings = d->cap_strings = 0;
	d->arena_used = d->arena_cap = 0;
}

void hx__decoder_reset(hx__decoder *d, uint64_t base_ticks)
{
	d->strings[0].ptr = "";
	d->strings[0].len = 0;
	d->nstrings = 1;
	d->arena_used = 0;
	d->ticks = base_ticks;
	d->entity_id = 0;
	d->next_seq = 0;
	memset(d->trace_id, 0, sizeof(d->trace_id));
	d->has_context = 0;
}

/* Make room for `need` more arena bytes. The arena moves when it grows, so the string table's
 * pointers are rebased while the old block is still alive, then the old block is freed. */
static int arena_reserve(hx__decoder *d, size_t need)
{
	if (d->arena_cap - d->arena_used >= need)
		return 0;
	size_t cap = d->arena_cap * 2;
	if (cap < d->arena_used + need)
		cap = d->arena_used + need;
	char *a = malloc(cap);
	if (!a)
		return -1;
	memcpy(a, d->arena, d->arena_used);
	for (uint32_t i = 1; i < d->nstrings; i++)
		d->strings[i].ptr = a + (d->strings[i].ptr - d->arena);
	free(d->arena);
	d->arena = a;
	d->arena_cap = cap;
	return 0;
}

static int decode_string(hx__decoder *d, const uint8_t **p, const uint8_t *q, const uint8_t *end,
                         const char **why)
{
	uint64_t id, len;
	if (get_varint(&q, end, &id))
		BAD("STRING: truncated id");
	if (id != d->nstrings)
		BAD("STRING: id not the next in order");
	if (d->nstrings >= HX_DEC_MAX_STRINGS)
		BAD("STRING: too many strings in one chunk");
	if (get_varint(&q, end, &len))
		BAD("STRING: truncated length");
	if (len > (uint64_t)(end - q))
		BAD("STRING: length beyond the record");
	if (d->nstrings == d->cap_strings) {
		uint32_t cap = d->cap_strings * 2;
		hx__string_ref *s = realloc(d->strings, cap * sizeof(*s));
		if (!s) {
			*why = "out of memory";
			return HX_ENOMEM;
		}
		d->strings = s;
		d->cap_strings = cap;
	}
	if (arena_reserve(d, (size_t)len + 1)) {
		*why = "out of memory";
		return HX_ENOMEM;
	}
	char *s = d->arena + d->arena_used;
	memcpy(s, q, (size_t)len);
	s[len] = '\0';
	d->arena_used += (size_t)len + 1;
	d->strings[d->nstrings].ptr = s;
	d->strings[d->nstrings].len = (uint32_t)len;
	d->nstrings++;
	*p = q + len;
	return HX__REC_OTHER;
}

static int decode_context(hx__decoder *d, const uint8_t **p, const uint8_t *q, const uint8_t *end,
                          const char **why)
{
	uint64_t entity, seq;
	unsigned flags;
	uint8_t trace[16] = {0};
	if (get_u64(&q, end, &entity) || get_varint(&q, end, &seq) || get_u8(&q, end, &flags))
		BAD("CONTEXT: truncated");
	if ((flags & HX_CTXREC_HAS_TRACE) && get_bytes(&q, end, trace, 16))
		BAD("CONTEXT: truncated trace ID");
	d->entity_id = entity;
	d->next_seq = seq;
	memcpy(d->trace_id, trace, 16);
	d->has_context = 1;
	*p = q;
	return HX__REC_OTHER;
}

static int decode_sync(const uint8_t **p, const uint8_t *q, const uint8_t *end, hx__sync *sync,
                       const char **why)
{
	hx__sync s;
	if (get_varint(&q, end, &s.ticks) || get_varint(&q, end, &s.mono_ns) ||
	    get_varint(&q, end, &s.real_ns))
		BAD("SYNC: truncated");
	if (sync)
		*sync = s;
	*p = q;
	return HX__REC_SYNC;
}

static int decode_index(const uint8_t **p, const uint8_t *q, const uint8_t *end,
                        hx__index_entry *index, const char **why)
{
	hx__index_entry e;
	if (get_varint(&q, end, &e.slot) || (size_t)(end - q) < 4)
		BAD("INDEX: truncated");
	e.stream = hx__le32(q);
	q += 4;
	if (get_varint(&q, end, &e.chunk_seq) || get_varint(&q, end, &e.committed) ||
	    get_varint(&q, end, &e.base_ticks))
		BAD("INDEX: truncated");
	if (index)
		*index = e;
	*p = q;
	return HX__REC_INDEX;
}

/* Future record kinds: a varint length and that many bytes this reader skips. */
static int decode_future(hx__decoder *d, const uint8_t **p, const uint8_t *q, const uint8_t *end,
                         unsigned kind, const char **why)
{
	uint64_t len;
	int is_event = kind <= HX_REC_EXT_EVENT_LAST;
	if (is_event && !d->has_context)
		BAD("event before any CONTEXT record");
	if (get_varint(&q, end, &len))
		BAD("future record: truncated length");
	if (len > (uint64_t)(end - q))
		BAD("future record: length beyond the chunk");
	*p = q + len;
	if (!is_event)
		return HX__REC_OTHER;
	d->next_seq++;
	return HX__REC_SKIPPED_EVENT;
}

/* A cause: u8 flags, [16 bytes trace ID], u64 entity ID, varint seq. Without its own trace the
 * cause lies in the event's trace. */
static int decode_cause(const uint8_t **q, const uint8_t *end, const uint8_t *event_trace,
                        hx_context *c)
{
	unsigned flags;
	if (get_u8(q, end, &flags))
		return -1;
	if (flags & HX_CAUSE_HAS_TRACE) {
		if (get_bytes(q, end, c->trace_id, 16))
			return -1;
	} else {
		memcpy(c->trace_id, event_trace, 16);
	}
	if (get_u64(q, end, &c->entity_id) || get_varint(q, end, &c->seq))
		return -1;
	c->flags = HX_CTX_VALID | ((flags & HX_CAUSE_SAMPLED) ? HX_CTX_SAMPLED : 0) |
	           ((flags & HX_CAUSE_FOREIGN) ? HX_CTX_FOREIGN : 0);
	c->reserved = 0;
	return 0;
}

/* Attribute list: varint count, then (varint key ID, u8 type, value) each. String and bytes
 * values point into the record; keys point into the string table. */
static int decode_attrs(hx__decoder *d, const uint8_t **q, const uint8_t *end, hx_event *ev,
                        const char **why)
{
	uint64_t n;
	if (get_varint(q, end, &n))
		BAD("attributes: truncated count");
	if (n > HX_ATTR_MAX)
		BAD("attributes: count over HX_ATTR_MAX");
	for (size_t i = 0; i < n; i++) {
		hx_attr *a = &d->attrs[i];
		const hx__string_ref *key;
		unsigned type;
		uint64_t v;
		if (get_string(d, q, end, &key))
			BAD("attributes: truncated or undefined key");
		if (get_u8(q, end, &type))
			BAD("attributes: truncated type");
		a->key = key->ptr;
		switch (type) {
		case HX_VAL_INT:
			if (get_varint(q, end, &v))
				BAD("attributes: truncated int");
			a->type = HX_ATTR_INT;
			a->v.i = hx__unzigzag(v);
			break;
		case HX_VAL_DOUBLE:
			if (get_u64(q, end, &v))
				BAD("attributes: truncated double");
			a->type = HX_ATTR_DOUBLE;
			memcpy(&a->v.d, &v, 8);
			break;
		case HX_VAL_TRUE:
		case HX_VAL_FALSE:
			a->type = HX_ATTR_BOOL;
			a->v.b = type == HX_VAL_TRUE;
			break;
		case HX_VAL_STRING:
		case HX_VAL_BYTES:
			if (get_varint(q, end, &v))
				BAD("attributes: truncated value length");
			if (v > (uint64_t)(end - *q))
				BAD("attributes: value beyond the record");
			a->type = type == HX_VAL_STRING ? HX_ATTR_STRING : HX_ATTR_BYTES;
			a->v.s.ptr = *q;
			a->v.s.len = (size_t)v;
			*q += v;
			break;
		default:
			BAD("attributes: unknown value type");
		}
	}
	ev->attrs = n ? d->attrs : NULL;
	ev->nattrs = (size_t)n;
	return 0;
}

/* What an event does to the entity's trace once it is accepted. */
enum { TRACE_KEEP, TRACE_SET, TRACE_CLEAR };

static int decode_event(hx__decoder *d, const uint8_t **p, const uint8_t *q, const uint8_t *end,
                        unsigned byte0, hx_event *ev, const char **why)
{
	unsigned kind = byte0 & 0x7f;
	uint64_t dt, v;
	unsigned u;
	const hx__string_ref *name = &d->strings[0];
	uint8_t trace[16];
	int trace_change = TRACE_KEEP;

	if (!d->has_context)
		BAD("event before any CONTEXT record");
	if (get_varint(&q, end, &dt))
		BAD("event: truncated time delta");
	memset(ev, 0, sizeof(*ev));
	memcpy(trace, d->trace_id, 16);

	switch (kind) {
	case HX_EV_POINT:
	case HX_EV_BLOCK_BEGIN:
	case HX_EV_ERROR:
		if (get_string(d, &q, end, &name))
			BAD("event: truncated or undefined name");
		break;
	case HX_EV_BLOCK_END:
	case HX_EV_ENTITY_END:
		break;
	case HX_EV_TRACE_END:
		trace_change = TRACE_CLEAR;
		break;
	case HX_EV_ENTITY_BEGIN:
		if (get_string(d, &q, end, &name))
			BAD("ENTITY_BEGIN: truncated or undefined name");
		if (get_u8(&q, end, &u) || get_varint(&q, end, &ev->tid) || get_u64(&q, end, &v))
			BAD("ENTITY_BEGIN: truncated");
		ev->entity_kind = (hx_entity_kind)u;
		ev->parent_id = v;
		break;
	case HX_EV_TRACE_BEGIN:
	case HX_EV_TRACE_JOIN:
		if (get_string(d, &q, end, &name))
			BAD("TRACE_BEGIN/JOIN: truncated or undefined name");
		if (get_bytes(&q, end, trace, 16))
			BAD("TRACE_BEGIN/JOIN: truncated trace ID");
		trace_change = TRACE_SET;
		if (kind == HX_EV_TRACE_JOIN) {
			if (decode_cause(&q, end, trace, &d->causes[0]))
				BAD("TRACE_JOIN: truncated cause");
			ev->interaction = HX_IA_CAUSAL;
			ev->causes = d->causes;
			ev->ncauses = 1;
		}
		break;
	case HX_EV_COUNTER: {
		const hx__string_ref *unit;
		if (get_string(d, &q, end, &name))
			BAD("COUNTER: truncated or undefined name");
		if (get_string(d, &q, end, &unit))
			BAD("COUNTER: truncated or undefined unit");
		if (get_u8(&q, end, &u))
			BAD("COUNTER: truncated value type");
		if (u == 1) {
			if (get_varint(&q, end, &v))
				BAD("COUNTER: truncated int value");
			ev->counter_is_int = 1;
			ev->counter_int = hx__unzigzag(v);
			ev->counter_double = (double)ev->counter_int;
		} else if (u == 2) {
			if (get_u64(&q, end, &v))
				BAD("COUNTER: truncated double value");
			memcpy(&ev->counter_double, &v, 8);
		} else {
			BAD("COUNTER: unknown value type");
		}
		ev->unit = unit->ptr;
		break;
	}
	case HX_EV_STATE:
		/* The reason is the event's name: a STATE has no other. */
		if (get_u8(&q, end, &u))
			BAD("STATE: truncated");
		if (get_string(d, &q, end, &name))
			BAD("STATE: truncated or undefined reason");
		ev->state = (hx_state)u;
		break;
	case HX_EV_ANNOTATE:
		if (get_u8(&q, end, &u))
			BAD("ANNOTATE: truncated");
		ev->target = (hx_annotate_target)u;
		break;
	case HX_EV_CAUSE:
		if (get_string(d, &q, end, &name))
			BAD("CAUSE: truncated or undefined name");
		if (get_u8(&q, end, &u))
			BAD("CAUSE: truncated");
		ev->interaction = (hx_interaction)u;
		break;
	case HX_EV_EFFECT:
		if (get_string(d, &q, end, &name))
			BAD("EFFECT: truncated or undefined name");
		if (get_u8(&q, end, &u) || get_varint(&q, end, &v))
			BAD("EFFECT: truncated");
		if (v > HX_CAUSE_MAX)
			BAD("EFFECT: cause count over HX_CAUSE_MAX");
		for (size_t i = 0; i < v; i++)
			if (decode_cause(&q, end, trace, &d->causes[i]))
				BAD("EFFECT: truncated cause");
		ev->resumes = (u & HX_EFFECT_RESUMES) != 0;
		ev->interaction = (hx_interaction)(u & ~HX_EFFECT_RESUMES);
		ev->causes = v ? d->causes : NULL;
		ev->ncauses = (size_t)v;
		break;
	default:
		BAD("unknown event kind");
	}
	if ((byte0 & HX_REC_HAS_ATTRS) && decode_attrs(d, &q, end, ev, why))
		return -1;

	/* Accepted: now the decoder's state moves. */
	ev->kind = (hx_event_kind)kind;
	ev->name = name->ptr;
	ev->name_len = name->len;
	d->ticks += dt;
	ev->time_ns = d->ticks;
	ev->time_orig_ns = d->ticks;
	ev->entity_id = d->entity_id;
	ev->seq = d->next_seq++;
	memcpy(ev->trace_id, trace, 16);
	if (trace_change == TRACE_SET)
		memcpy(d->trace_id, trace, 16);
	else if (trace_change == TRACE_CLEAR)
		memset(d->trace_id, 0, 16);
	*p = q;
	return HX__REC_EVENT;
}

int hx__decode_record(hx__decoder *d, const uint8_t **p, const uint8_t *end, hx_event *ev,
                      hx__sync *sync, hx__index_entry *index, const char **why)
{
	const uint8_t *q = *p;
	if (q >= end)
		BAD("no record before the end");
	unsigned byte0 = *q++;
	unsigned kind = byte0 & 0x7f;

	/* Fast path: a point without attributes (kind, dt, name), in one-byte varints. */
	if (byte0 == HX_EV_POINT && d->has_context && end - q >= 2 && q[0] < 0x80 &&
	    q[1] < d->nstrings && q[1] < 0x80) {
		const hx__string_ref *name = &d->strings[q[1]];
		memset(ev, 0, sizeof(*ev));
		ev->kind = HX_EV_POINT;
		ev->name = name->ptr;
		ev->name_len = name->len;
		d->ticks += q[0];
		ev->time_ns = d->ticks;
		ev->time_orig_ns = d->ticks;
		ev->entity_id = d->entity_id;
		ev->seq = d->next_seq++;
		memcpy(ev->trace_id, d->trace_id, 16);
		*p = q + 2;
		return HX__REC_EVENT;
	}
	if (kind >= HX_REC_EVENT_FIRST && kind <= HX_REC_EVENT_LAST)
		return decode_event(d, p, q, end, byte0, ev, why);
	if (kind >= HX_REC_EXT_EVENT_FIRST)
		return decode_future(d, p, q, end, kind, why);
	if (byte0 & HX_REC_HAS_ATTRS)
		BAD("attribute flag on a record that is not an event");
	switch (kind) {
	case HX_REC_STRING:
		return decode_string(d, p, q, end, why);
	case HX_REC_CONTEXT:
		return decode_context(d, p, q, end, why);
	case HX_REC_SYNC:
		return decode_sync(p, q, end, sync, why);
	case HX_REC_INDEX:
		return decode_index(p, q, end, index, why);
	case HX_REC_TIME: {
		/* bodies (encode.h): the running time restated, where a delta would be negative */
		uint64_t t;
		if (get_varint(&q, end, &t))
			BAD("TIME: truncated");
		d->ticks = t;
		*p = q;
		return HX__REC_OTHER;
	}
	default:
		BAD("unknown record kind");
	}
}
