/*
 * emit.c - encoding events into the calling thread's chunk: the hot path.
 *
 * Every recording call runs emit(): reserve the worst-case size, intern the strings (a STRING
 * record the first time a name is seen in this chunk), restate the entity if another one wrote
 * last (CONTEXT), write the event, extend the chunk's CRC and publish the new commit word with one
 * 8-byte release store. Nothing here allocates, locks or makes a system call; a full chunk, a
 * failed sink or a stopped tracer all land on the slow path (hx__chunk_next / hx__thread_slow).
 *
 * The fast path of a point, for reading: TLS load, rdtsc, a name-cache probe (address + 16 bytes
 * compared as two words), ~5 bytes written, a CRC32C instruction or two, one store.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>

#include "format/crc32c_inline.h"
#include "lib/tracer.h"

/* Room kept free at the end of a chunk for the largest record a call may write besides its
 * attributes: a CONTEXT, up to four string definitions, and the fixed fields. */
#define DEF_MAX (1 + 3 + 2 + HX_NAME_MAX)
#define CONTEXT_MAX (1 + 8 + HX_VARINT_MAX + 1 + 16)
#define FIXED_MAX (1 + HX_VARINT_MAX * 4 + 16 + 8 + 8)
#define RESERVE_BASE (CONTEXT_MAX + 3 * DEF_MAX + FIXED_MAX)

static const char null_name[] = "(null)";

/* ------------------------------------------------------------------------------------------
 * Names: a 256-slot cache per thread keyed by the caller's pointer and verified by content, so a
 * literal costs two word compares and a reused buffer with new text is still recorded correctly.
 * ---------------------------------------------------------------------------------------- */
static inline unsigned slot_of(const char *s)
{
	return (unsigned)(((uintptr_t)s * 0x9e3779b97f4a7c15ull) >> 56);
}

#if defined(__SANITIZE_ADDRESS__)
#define HX_WIDE_COMPARE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HX_WIDE_COMPARE 0
#endif
#endif
#ifndef HX_WIDE_COMPARE
#define HX_WIDE_COMPARE 1
#endif

static uint32_t name_len(const char *s, int *truncated);

/* Compare the caller's string with the slot's text. The wide path reads 16 bytes from s, which
 * may run past its NUL into bytes we then mask off: safe because the read stays inside s's page
 * (the same argument as glibc's strlen), and disabled under AddressSanitizer, which would flag it. */
static inline int slot_matches(const struct hx__name_slot *sl, const struct hx__thread *t, const char *s)
{
	if (HX_WIDE_COMPARE && sl->len < 16 && ((uintptr_t)s & 4095) <= 4096 - 16) {
		uint64_t a, b;
		memcpy(&a, s, 8);
		memcpy(&b, s + 8, 8);
		return (((a ^ sl->w0) & sl->m0) | ((b ^ sl->w1) & sl->m1)) == 0;
	}
	const char *text = t->arena + sl->off;
	for (uint32_t i = 0; i < sl->len; i++)
		if (s[i] != text[i])
			return 0;
	/* The slot holds a cut name: s matches only if it is too long as well and cut at the same
	 * place (a reused buffer may now hold just the recorded prefix, or a longer short name). */
	if (HX_UNLIKELY(sl->truncated)) {
		int truncated;
		return s[sl->len] != 0 && name_len(s, &truncated) == sl->len && truncated;
	}
	return s[sl->len] == 0;
}

static void slot_fill_words(struct hx__name_slot *sl, const char *text, uint32_t len)
{
	uint8_t buf[16] = {0};
	sl->w0 = sl->w1 = sl->m0 = sl->m1 = 0;
	if (len >= 16)
		return;
	memcpy(buf, text, len); /* buf[len] stays 0: the NUL is compared too */
	memcpy(&sl->w0, buf, 8);
	memcpy(&sl->w1, buf + 8, 8);
	uint32_t n = len + 1;
	sl->m0 = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
	sl->m1 = n <= 8 ? 0 : n >= 16 ? ~0ull : ((1ull << (8 * (n - 8))) - 1); /* no shift by 64 */
}

/* Length to record: at most HX_NAME_MAX bytes, cut on a UTF-8 character boundary. */
static uint32_t name_len(const char *s, int *truncated)
{
	size_t n = strnlen(s, HX_NAME_MAX + 1);
	*truncated = n > HX_NAME_MAX;
	if (*truncated) {
		n = HX_NAME_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return (uint32_t)n;
}

__attribute__((noinline)) static uint32_t intern_slow(struct hx__thread *t, struct hx__name_slot *sl, const char *s)
{
	int truncated;
	uint32_t len = name_len(s, &truncated);
	if (truncated)
		hx__count(HX_COUNT_NAME_TOO_LONG);
	/* Same text as cached (pointer moved, or a new chunk)? Keep the arena copy. */
	int same = sl->used && sl->len == len && sl->truncated == truncated &&
	           memcmp(t->arena + sl->off, s, len) == 0;
	if (!same) {
		if (t->arena_used + len + 1 > HX_NAME_ARENA) {
			/* Arena full: start over. Every slot forgets its text (not its correctness). */
			memset(t->names, 0, sizeof t->names);
			t->arena_used = 0;
		}
		sl->off = t->arena_used;
		memcpy(t->arena + sl->off, s, len);
		t->arena[sl->off + len] = 0;
		t->arena_used += len + 1;
		sl->len = len;
		sl->truncated = (uint8_t)truncated;
		slot_fill_words(sl, s, len);
		sl->used = 1;
	}
	sl->ptr = s;
	if (sl->gen != t->chunk_gen || !same) {
		sl->gen = t->chunk_gen;
		sl->id = t->next_string_id++;
		uint8_t *p = t->pos;
		*p++ = HX_REC_STRING;
		p = hx__put_varint(p, sl->id);
		p = hx__put_varint(p, len);
		memcpy(p, t->arena + sl->off, len);
		t->pos = p + len;
	}
	return sl->id;
}

/* String ID of s in the current chunk, writing its definition first if needed. s == NULL is
 * counted and recorded as "(null)". */
static inline uint32_t intern(struct hx__thread *t, const char *s)
{
	if (HX_UNLIKELY(!s)) {
		hx__count(HX_COUNT_NULL_NAME);
		s = null_name;
	}
	struct hx__name_slot *sl = &t->names[slot_of(s)];
	if (HX_LIKELY(sl->ptr == s && sl->gen == t->chunk_gen && slot_matches(sl, t, s))) {
		if (HX_UNLIKELY(sl->truncated))
			hx__count(HX_COUNT_NAME_TOO_LONG);
		return sl->id;
	}
	return intern_slow(t, sl, s);
}

/* ------------------------------------------------------------------------------------------
 * The generic event encoder. Callers pass a compound literal with constant kind, so the compiler
 * keeps only the branches a kind uses (emit is always inlined into each public function).
 * ---------------------------------------------------------------------------------------- */
struct spec {
	uint8_t kind;
	uint8_t u8;                  /* entity kind, state, target, interaction kind */
	const char *name;            /* for kinds with a name */
	const hx_attr *attrs;
	size_t nattrs;
	const uint8_t *trace_id;     /* TRACE_BEGIN, TRACE_JOIN */
	const hx_context *causes;    /* EFFECT, TRACE_JOIN */
	size_t ncauses;
	const char *str2;            /* COUNTER unit, STATE reason (NULL = none) */
	uint64_t tid, parent;        /* ENTITY_BEGIN */
	int is_int;                  /* COUNTER */
	int muted_checked;           /* the caller has already tested the entity's muted flag */
	int64_t ival;
	double dval;
};

static inline int kind_has_name(uint8_t k)
{
	return k == HX_EV_ENTITY_BEGIN || k == HX_EV_TRACE_BEGIN || k == HX_EV_TRACE_JOIN ||
	       k == HX_EV_BLOCK_BEGIN || k == HX_EV_POINT || k == HX_EV_COUNTER || k == HX_EV_ERROR ||
	       k == HX_EV_CAUSE || k == HX_EV_EFFECT;
}

/* Worst-case bytes of the attribute list, after clamping it to what a record may hold besides
 * `extra` bytes of causes. Attributes that would not fit are dropped (counted), so one call can
 * never need more than a chunk. *bad is set if a kept attribute has an unknown type. */
static size_t attrs_reserve(const struct hx__thread *t, const hx_attr *attrs, size_t *nattrs, size_t extra,
                            int *bad)
{
	size_t n = *nattrs, total = HX_VARINT_MAX;
	/* extra is at most HX_CAUSE_MAX causes (2240 bytes): the budget stays positive for 4 KiB chunks */
	size_t budget = t->chunk_bytes - HX_CHUNK_HEADER_BYTES - RESERVE_BASE - 64 - extra;
	if (n > HX_ATTR_MAX) {
		for (size_t i = HX_ATTR_MAX; i < n; i++)
			hx__count(HX_COUNT_ATTRS_DROPPED);
		n = HX_ATTR_MAX;
	}
	size_t i = 0;
	for (; i < n; i++) {
		size_t need = DEF_MAX + 3 + 1 + HX_VARINT_MAX;
		if (HX_UNLIKELY(attrs[i].type < HX_ATTR_INT || attrs[i].type > HX_ATTR_BYTES)) {
			*bad = 1; /* takes no room: attrs_drop_bad() removes it */
			continue;
		}
		if (attrs[i].type == HX_ATTR_STRING || attrs[i].type == HX_ATTR_BYTES)
			need += attrs[i].v.s.len < HX_VALUE_MAX ? attrs[i].v.s.len : HX_VALUE_MAX;
		if (total + need > budget)
			break;
		total += need;
	}
	for (size_t k = i; k < n; k++)
		hx__count(HX_COUNT_ATTRS_DROPPED);
	*nattrs = i;
	return total;
}

/* Copy the first n attributes without those of an unknown type (dropped, counted) into kept.
 * Returns how many are left. Takes the array, not the spec: passing the spec's address to an
 * out-of-line function would make every call build the whole spec on the stack. */
__attribute__((noinline)) static size_t attrs_drop_bad(const hx_attr *attrs, hx_attr *kept, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (attrs[i].type < HX_ATTR_INT || attrs[i].type > HX_ATTR_BYTES)
			hx__count(HX_COUNT_ATTRS_DROPPED);
		else
			kept[k++] = attrs[i];
	}
	return k;
}

/* Commit the records written from start to p: extend the chunk's CRC over them, then publish
 * length and CRC in one store. Release order makes the bytes visible to a concurrent reader (the
 * shipper) no later than the commit word that covers them. */
static inline void commit(struct hx__thread *t, const uint8_t *start, uint8_t *p)
{
	t->crc = hx__crc32c_inline(t->crc, start, (size_t)(p - start));
	t->pos = p;
	uint64_t word = ((uint64_t)t->crc << 32) | (uint64_t)(p - t->chunk - HX_CHUNK_HEADER_BYTES);
	__atomic_store_n((uint64_t *)(t->chunk + HX_CH_COMMIT), word, __ATOMIC_RELEASE);
}

static inline uint8_t *put_cause(uint8_t *p, const hx_context *c, const struct hx_entity *e)
{
	int same = e->in_trace && memcmp(c->trace_id, e->trace_id, 16) == 0;
	*p++ = (uint8_t)((same ? 0 : HX_CAUSE_HAS_TRACE) | ((c->flags & HX_CTX_SAMPLED) ? HX_CAUSE_SAMPLED : 0) |
	                 ((c->flags & HX_CTX_FOREIGN) ? HX_CAUSE_FOREIGN : 0));
	if (!same) {
		memcpy(p, c->trace_id, 16);
		p += 16;
	}
	hx__put_le64(p, c->entity_id);
	p += 8;
	return hx__put_varint(p, c->seq);
}

/* Write the CONTEXT record that makes e the entity of the following events in this chunk. */
static inline void put_context(struct hx__thread *t, const struct hx_entity *e)
{
	uint8_t *p = t->pos;
	*p++ = HX_REC_CONTEXT;
	hx__put_le64(p, e->id);
	p += 8;
	p = hx__put_varint(p, e->next_seq);
	*p++ = e->in_trace ? HX_CTXREC_HAS_TRACE : 0;
	if (e->in_trace) {
		memcpy(p, e->trace_id, 16);
		p += 16;
	}
	t->pos = p;
	t->ctx_id = e->id;
}

__attribute__((noinline)) static void after_commit_slow(struct hx__thread *t, const uint8_t *start)
{
	if (t->mode == HX__MODE_DECODE)
		hx__decodesink_deliver(t, start, t->pos);
	if (t->fsync_every && t->mode == HX__MODE_FILE && ++t->since_fsync >= t->fsync_every) {
		t->since_fsync = 0;
		hx__filesink_msync(t->chunk, t->chunk_bytes);
	}
}

/* Get room for `need` bytes: a new chunk if this one is full. Also where a stopped tracer or a
 * stale thread state is noticed. Returns 0 with room, ROOM_OFF when there is no tracer (nothing
 * to record or track), ROOM_DROP when the event cannot be stored (sink none or failed: counted
 * for a failed sink). A dropped event still happened: the caller tracks its state and consumes
 * its sequence number, so readers see the gap and later calls are judged correctly. */
enum { ROOM_OFF = -1, ROOM_DROP = -2 };

__attribute__((noinline)) static int make_room(struct hx__thread **tp, size_t need)
{
	struct hx__thread *t = hx__thread_slow();
	if (!t)
		return ROOM_OFF;
	*tp = t;
	uintptr_t end = atomic_load_explicit(&t->end, memory_order_relaxed);
	if (t->pos && (uintptr_t)t->pos + need <= end)
		return 0; /* the thread state was just made and has room */
	if (t->mode == HX__MODE_NONE)
		return ROOM_DROP;
	if (t->mode == HX__MODE_DROP || hx__chunk_next(t) != 0 ||
	    (uintptr_t)t->pos + need > atomic_load_explicit(&t->end, memory_order_relaxed)) {
		/* No chunk because hx_shutdown() closed the sink meanwhile: the call came too late,
		 * the sink did not fail. */
		hx__count(__atomic_load_n(&hx__state, __ATOMIC_ACQUIRE) == 1 ? HX_COUNT_DROPPED
		                                                               : HX_COUNT_AFTER_SHUTDOWN);
		return ROOM_DROP;
	}
	return 0;
}

static inline __attribute__((always_inline)) struct hx_entity *emit_body(struct hx__thread *t, struct hx_entity *e,
                                                                          struct spec *sp, size_t nattrs, size_t need);

/* Encode one event on entity e (NULL = the thread's current entity). Returns the entity the event
 * went to (also when the sink dropped it), or NULL if the call was refused or tracing is off. */
static inline __attribute__((always_inline)) struct hx_entity *emit(struct hx__thread *t, struct hx_entity *e, struct spec *sp)
{
	if (HX_UNLIKELY(!t)) {
		t = hx__thread_slow(); /* the thread's first event, or tracing is off */
		if (!t)
			return NULL;
	}
	/* A sampled-out trace: the caller keeps its bookkeeping, nothing is recorded (and no
	 * sequence number is used: there is no gap to show). This is the whole cost of a call in a
	 * sampled-out trace, after the public function's own checks. */
	if (!sp->muted_checked && HX_UNLIKELY((e ? e : t->cur)->muted))
		return e ? e : t->cur;
	size_t nattrs = sp->nattrs;
	size_t need = RESERVE_BASE;
	if (sp->kind == HX_EV_EFFECT || sp->kind == HX_EV_TRACE_JOIN)
		need += sp->ncauses * (1 + 16 + 8 + HX_VARINT_MAX);
	hx_attr kept[HX_ATTR_MAX]; /* the attributes without those of a bad type, if there are any */
	if (sp->attrs && nattrs) {
		int bad = 0;
		need += attrs_reserve(t, sp->attrs, &nattrs, need - RESERVE_BASE, &bad);
		if (HX_UNLIKELY(bad)) {
			nattrs = attrs_drop_bad(sp->attrs, kept, nattrs);
			sp->attrs = kept;
		}
	} else {
		nattrs = 0;
	}

	/* A call from a signal handler that interrupted this thread inside emit(), or from the
	 * callback sink's callback, would interleave two records and break the chunk's CRC chain:
	 * refuse it (counted). The signal fences keep the compiler from moving the flag's stores. */
	if (HX_UNLIKELY(t->busy)) {
		hx__count(HX_COUNT_REENTRANT);
		return NULL;
	}
	t->busy = 1;
	atomic_signal_fence(memory_order_seq_cst);
	if (HX_UNLIKELY((uintptr_t)t->pos + need > atomic_load_explicit(&t->end, memory_order_relaxed))) {
		struct hx__thread *before = t;
		int rc = make_room(&t, need);
		/* make_room may have replaced a stale state (an earlier run's) and freed it; it then
		 * no longer is hx__tls, and must not be touched. A new state starts with busy = 0. */
		if (hx__tls == before)
			before->busy = 0;
		if (rc == ROOM_OFF)
			return NULL;
		if (rc == ROOM_DROP) {
			if (!e)
				e = t->cur;
			e->next_seq++;
			return e;
		}
		t->busy = 1;
	}
	e = emit_body(t, e, sp, nattrs, need);
	atomic_signal_fence(memory_order_seq_cst);
	t->busy = 0;
	return e;
}

static inline __attribute__((always_inline)) struct hx_entity *emit_body(struct hx__thread *t, struct hx_entity *e,
                                                                          struct spec *sp, size_t nattrs, size_t need)
{
	(void)need;
	if (!e)
		e = t->cur;

	uint64_t now = hx__ticks(t->use_tsc);
	if (HX_UNLIKELY(now < t->last_ticks))
		now = t->last_ticks; /* time never runs backwards within a stream */

	uint8_t *start = t->pos;
	if (HX_UNLIKELY(t->ctx_id != e->id || t->ctx_next_seq != e->next_seq))
		put_context(t, e);

	uint32_t name_id = 0, str2_id = 0;
	if (kind_has_name(sp->kind))
		name_id = intern(t, sp->name);
	if (sp->kind == HX_EV_COUNTER || sp->kind == HX_EV_STATE)
		str2_id = sp->str2 ? intern(t, sp->str2) : 0;
	uint32_t key_ids[HX_ATTR_MAX];
	key_ids[0] = 0; /* gcc 12 -O3 cannot see that the loops below agree (one store, no cost) */
	for (size_t i = 0; i < nattrs; i++)
		key_ids[i] = intern(t, sp->attrs[i].key);

	uint8_t *p = t->pos;
	*p++ = (uint8_t)(sp->kind | (nattrs ? HX_REC_HAS_ATTRS : 0));
	p = hx__put_varint(p, now - t->last_ticks);
	if (kind_has_name(sp->kind))
		p = hx__put_varint(p, name_id);
	switch (sp->kind) {
	case HX_EV_ENTITY_BEGIN:
		*p++ = sp->u8;
		p = hx__put_varint(p, sp->tid);
		hx__put_le64(p, sp->parent);
		p += 8;
		break;
	case HX_EV_TRACE_BEGIN:
		memcpy(p, sp->trace_id, 16);
		p += 16;
		break;
	case HX_EV_TRACE_JOIN:
		memcpy(p, sp->trace_id, 16);
		p += 16;
		/* the cause is written relative to the trace the entity was in before joining */
		p = put_cause(p, &sp->causes[0], e);
		break;
	case HX_EV_COUNTER:
		p = hx__put_varint(p, str2_id);
		if (sp->is_int) {
			*p++ = HX_VAL_INT;
			p = hx__put_varint(p, hx__zigzag(sp->ival));
		} else {
			uint64_t bits;
			memcpy(&bits, &sp->dval, 8);
			*p++ = HX_VAL_DOUBLE;
			hx__put_le64(p, bits);
			p += 8;
		}
		break;
	case HX_EV_STATE:
		*p++ = sp->u8;
		p = hx__put_varint(p, str2_id);
		break;
	case HX_EV_ANNOTATE:
	case HX_EV_CAUSE:
		*p++ = sp->u8;
		break;
	case HX_EV_EFFECT:
		/* An effect on a waiting entity is what woke it: say so in the record (format 1.1) */
		*p++ = (uint8_t)(sp->u8 | (e->waiting ? HX_EFFECT_RESUMES : 0));
		e->waiting = 0;
		p = hx__put_varint(p, sp->ncauses);
		for (size_t i = 0; i < sp->ncauses; i++)
			p = put_cause(p, &sp->causes[i], e);
		break;
	default:
		break;
	}
	if (nattrs) {
		p = hx__put_varint(p, nattrs);
		for (size_t i = 0; i < nattrs; i++) {
			const hx_attr *a = &sp->attrs[i];
			p = hx__put_varint(p, key_ids[i]);
			switch (a->type) {
			case HX_ATTR_INT:
				*p++ = HX_VAL_INT;
				p = hx__put_varint(p, hx__zigzag(a->v.i));
				break;
			case HX_ATTR_DOUBLE: {
				uint64_t bits;
				memcpy(&bits, &a->v.d, 8);
				*p++ = HX_VAL_DOUBLE;
				hx__put_le64(p, bits);
				p += 8;
				break;
			}
			case HX_ATTR_BOOL:
				*p++ = a->v.b ? HX_VAL_TRUE : HX_VAL_FALSE;
				break;
			case HX_ATTR_STRING:
			case HX_ATTR_BYTES: {
				size_t len = a->v.s.len;
				const void *src = a->v.s.ptr;
				if (HX_UNLIKELY(!src && len)) {
					hx__count(HX_COUNT_BAD_ARGUMENT);
					len = 0;
				}
				if (HX_UNLIKELY(len > HX_VALUE_MAX)) {
					hx__count(HX_COUNT_VALUE_TRUNCATED);
					len = HX_VALUE_MAX;
				}
				*p++ = a->type == HX_ATTR_STRING ? HX_VAL_STRING : HX_VAL_BYTES;
				p = hx__put_varint(p, len);
				if (len)
					memcpy(p, src, len);
				p += len;
				break;
			}
			default:
				/* Unknown type: keep the record well-formed with a false boolean, count it. */
				hx__count(HX_COUNT_ATTRS_DROPPED);
				*p++ = HX_VAL_FALSE;
				break;
			}
		}
	}

	commit(t, start, p);
	t->last_ticks = now;

	e->next_seq++;
	t->ctx_next_seq = e->next_seq;
	atomic_store_explicit(&t->events, atomic_load_explicit(&t->events, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
	if (HX_UNLIKELY(t->mode != HX__MODE_FILE || t->fsync_every))
		after_commit_slow(t, start);
	return e;
}

/* The context naming the last event of e. An entity in a sampled-out trace has recorded nothing
 * to name, but its context must still carry the trace ID (without HX_CTX_SAMPLED) so that every
 * process it reaches samples the trace out too. */
static hx_context context_of(const struct hx_entity *e)
{
	hx_context c;
	memset(&c, 0, sizeof c);
	if (e && e->muted) {
		memcpy(c.trace_id, e->trace_id, 16);
		c.entity_id = e->id;
		c.seq = e->next_seq;
		c.flags = HX_CTX_VALID;
		return c;
	}
	if (!e || e->next_seq == 0)
		return c;
	if (e->in_trace)
		memcpy(c.trace_id, e->trace_id, 16);
	c.entity_id = e->id;
	c.seq = e->next_seq - 1;
	c.flags = HX_CTX_VALID | (e->in_trace ? HX_CTX_SAMPLED : 0);
	return c;
}

/* The thread state for a call, or NULL when the thread has none yet (emit makes one). */
#define T() (hx__tls)

/* ------------------------------------------------------------------------------------------
 * Public recording functions
 * ---------------------------------------------------------------------------------------- */
/* Name filters cost one relaxed load while none is set (sampling.c). */
static inline int filtered(const char *name)
{
	return HX_UNLIKELY(atomic_load_explicit(&hx__filters_on, memory_order_relaxed)) && hx__name_disabled(name);
}

/* Is the calling thread's current entity in a sampled-out trace? Checked before anything else by
 * the calls that have a budget when sampled out (points, blocks): the recording path below is a
 * separate function, so this path does not pay for its prologue (the encoder keeps many registers
 * live, and the compiler saves them all on entry). A state whose `end` is 0 is stale (tracing
 * was shut down since): it must go to the slow path, whatever it says. */
static inline int muted(const struct hx__thread *t)
{
	return t && atomic_load_explicit(&t->muted, memory_order_relaxed);
}

/* The arguments in the public function's order, t last: the tail call then moves one register. */
__attribute__((noinline)) static void point_record(const char *name, const hx_attr *attrs, size_t nattrs,
                                                   struct hx__thread *t)
{
	if (filtered(name))
		return;
	/* muted(t) was false, or t was NULL or stale: a new thread state's entity is not muted */
	emit(t, NULL, &(struct spec){.kind = HX_EV_POINT, .name = name, .attrs = attrs, .nattrs = nattrs, .muted_checked = 1});
}

/* Shaped so that the compiler makes it a frameless test and a tail jump. */
void hx_point_attrs(const char *name, const hx_attr *attrs, size_t nattrs)
{
	struct hx__thread *t = T();
	if (HX_UNLIKELY(muted(t)))
		return;
	point_record(name, attrs, nattrs, t);
}

/* Open a block on e's books without recording it (filtered, or sampled out): its end will not be
 * recorded either. Beyond depth 64 there is no bit to remember it by, so a filtered block that
 * deep is recorded after all (blocks stay balanced in the file, which matters more). */
static inline int block_skip(struct hx_entity *e)
{
	if (e->block_depth >= 64)
		return 0;
	e->skip_mask |= 1ull << e->block_depth;
	e->block_depth++;
	return 1;
}

__attribute__((noinline)) static void block_begin_record(struct hx__thread *t, const char *name,
                                                        const hx_attr *attrs, size_t nattrs);

void hx_block_begin_attrs(const char *name, const hx_attr *attrs, size_t nattrs)
{
	struct hx__thread *t = T();
	if (HX_UNLIKELY(muted(t))) {
		if (!block_skip(t->cur))
			t->cur->block_depth++; /* too deep to remember: its end decides by itself */
		return;
	}
	block_begin_record(t, name, attrs, nattrs);
}

static void block_begin_record(struct hx__thread *t, const char *name, const hx_attr *attrs, size_t nattrs)
{
	if (filtered(name)) {
		if (!t && !(t = hx__thread_slow()))
			return;
		if (block_skip(t->cur))
			return;
	}
	struct hx_entity *e = emit(t, NULL, &(struct spec){.kind = HX_EV_BLOCK_BEGIN, .name = name, .attrs = attrs, .nattrs = nattrs});
	if (!e)
		return;
	if (HX_UNLIKELY(e->muted) && block_skip(e))
		return;
	if (e->block_depth < 64)
		e->skip_mask &= ~(1ull << e->block_depth);
	e->block_depth++;
}

__attribute__((noinline)) static void block_end_record(struct hx__thread *t, const hx_attr *attrs, size_t nattrs);

void hx_block_end_attrs(const hx_attr *attrs, size_t nattrs)
{
	struct hx__thread *t = T();
	if (HX_UNLIKELY(!t || !atomic_load_explicit(&t->end, memory_order_relaxed) || t->cur->block_depth == 0)) {
		/* Decide with a current state: a thread's first call may be this misuse too, and a state
		 * left from before a shutdown (end is 0 then) holds the blocks of an earlier run. */
		t = hx__thread_slow();
		if (!t)
			return;
		if (t->cur->block_depth == 0) {
			hx__count(HX_COUNT_END_WITHOUT_BEGIN);
			return;
		}
	}
	struct hx_entity *cur = t->cur;
	uint32_t depth = cur->block_depth - 1;
	if (HX_UNLIKELY(cur->skip_mask) && depth < 64 && ((cur->skip_mask >> depth) & 1)) {
		cur->skip_mask &= ~(1ull << depth); /* its begin was not recorded: nor is its end */
		cur->block_depth--;
		return;
	}
	block_end_record(t, attrs, nattrs);
}

static void block_end_record(struct hx__thread *t, const hx_attr *attrs, size_t nattrs)
{
	struct hx_entity *e = emit(t, NULL, &(struct spec){.kind = HX_EV_BLOCK_END, .attrs = attrs, .nattrs = nattrs});
	if (e)
		e->block_depth--;
}

void hx_counter(const char *name, double value, const char *unit)
{
	if (!hx__state)
		return;
	emit(T(), NULL, &(struct spec){.kind = HX_EV_COUNTER, .name = name, .str2 = unit, .dval = value});
}

void hx_counter_int(const char *name, int64_t value, const char *unit)
{
	if (!hx__state)
		return;
	emit(T(), NULL, &(struct spec){.kind = HX_EV_COUNTER, .name = name, .str2 = unit, .is_int = 1, .ival = value});
}

void hx_error_attrs(const char *message, const hx_attr *attrs, size_t nattrs)
{
	emit(T(), NULL, &(struct spec){.kind = HX_EV_ERROR, .name = message, .attrs = attrs, .nattrs = nattrs});
}

void hx_annotate(hx_annotate_target target, const hx_attr *attrs, size_t nattrs)
{
	if (!hx__state)
		return;
	struct hx__thread *t = hx__thread_current();
	if (!t)
		return;
	if (target != HX_TARGET_TRACE && target != HX_TARGET_ENTITY && target != HX_TARGET_BLOCK) {
		hx__count(HX_COUNT_BAD_ARGUMENT);
		return;
	}
	if (target == HX_TARGET_TRACE && !t->cur->in_trace) {
		hx__count(HX_COUNT_NO_TRACE);
		return;
	}
	if (target == HX_TARGET_BLOCK && t->cur->block_depth == 0) {
		hx__count(HX_COUNT_END_WITHOUT_BEGIN);
		return;
	}
	if (!attrs || !nattrs) {
		hx__count(HX_COUNT_BAD_ARGUMENT);
		return;
	}
	emit(t, NULL, &(struct spec){.kind = HX_EV_ANNOTATE, .u8 = (uint8_t)target, .attrs = attrs, .nattrs = nattrs});
}

void hx_thread_name(const char *name)
{
	if (!hx__state)
		return;
	struct hx__thread *t = hx__thread_current();
	if (!t)
		return;
	if (!name)
		hx__count(HX_COUNT_NULL_NAME);
	hx_attr a = HX_STR("name", name ? name : null_name);
	emit(t, &t->self, &(struct spec){.kind = HX_EV_ANNOTATE, .u8 = HX_TARGET_ENTITY, .attrs = &a, .nattrs = 1});
}

void hx_state_set(hx_state state, const char *reason)
{
	if (!hx__state)
		return;
	if (state != HX_STATE_RUNNING && state != HX_STATE_WAITING) {
		hx__count(HX_COUNT_BAD_ARGUMENT);
		return;
	}
	struct hx_entity *e = emit(T(), NULL, &(struct spec){.kind = HX_EV_STATE, .u8 = (uint8_t)state, .str2 = reason});
	if (e)
		e->waiting = state == HX_STATE_WAITING;
}

hx_context hx_context_current(void)
{
	hx_context none;
	memset(&none, 0, sizeof none);
	struct hx__thread *t = hx__tls;
	if (hx__state != 1 || !t)
		return none;
	/* A thread state left from an earlier run (before a shutdown and a new hx_init()) names an
	 * entity of that run: the thread has no event in this one yet. */
	struct hx__tracer *tr = atomic_load_explicit(&hx__tracer_cur, memory_order_relaxed);
	if (!tr || t->gen != tr->gen)
		return none;
	return context_of(t->cur);
}

/* ---- traces ---- */
hx_context hx_trace_begin(const char *name)
{
	hx_context none;
	memset(&none, 0, sizeof none);
	if (!hx__state)
		return none;
	struct hx__thread *t = hx__thread_current();
	if (!t)
		return none;
	uint8_t id[16];
	hx__trace_id_new(t, id);
	struct hx_entity *cur = t->cur;
	if (!hx__sample_decide(t)) {
		/* Sampled out: the entity is in the trace (its contexts carry the ID, unsampled) and
		 * records nothing until it leaves it. */
		memcpy(cur->trace_id, id, 16);
		cur->in_trace = 1;
		cur->muted = 1;
		hx__mute_set(t, 1);
		return context_of(cur);
	}
	int was_muted = cur->muted;
	cur->muted = 0; /* leaving a sampled-out trace for this one, which is recorded */
	hx__mute_set(t, 0);
	struct hx_entity *e = emit(t, NULL, &(struct spec){.kind = HX_EV_TRACE_BEGIN, .name = name, .trace_id = id});
	if (!e) {
		cur->muted = was_muted; /* refused (reentrant): still in the old trace */
		if (hx__tls == t)
			hx__mute_set(t, was_muted);
		return none;
	}
	memcpy(e->trace_id, id, 16);
	e->in_trace = 1; /* readers learn the new trace from the TRACE_BEGIN event itself */
	return context_of(e);
}

static int context_ok(const hx_context *c)
{
	return c && (c->flags & HX_CTX_VALID) && c->entity_id != 0;
}

void hx_trace_join(const hx_context *ctx, const char *name)
{
	if (!hx__state)
		return;
	struct hx__thread *t = hx__thread_current();
	if (!t)
		return;
	static const uint8_t zero[16];
	if (!context_ok(ctx) || memcmp(ctx->trace_id, zero, 16) == 0) {
		hx__count(HX_COUNT_BAD_CONTEXT);
		return;
	}
	struct hx_entity *cur = t->cur;
	if (!(ctx->flags & HX_CTX_SAMPLED)) {
		/* The trace was sampled out where it began: follow that decision. */
		memcpy(cur->trace_id, ctx->trace_id, 16);
		cur->in_trace = 1;
		cur->muted = 1;
		hx__mute_set(t, 1);
		return;
	}
	int was_muted = cur->muted;
	cur->muted = 0;
	hx__mute_set(t, 0);
	struct hx_entity *e = emit(t, NULL, &(struct spec){.kind = HX_EV_TRACE_JOIN, .name = name, .trace_id = ctx->trace_id, .causes = ctx, .ncauses = 1});
	if (!e) {
		cur->muted = was_muted;
		if (hx__tls == t)
			hx__mute_set(t, was_muted);
		return;
	}
	memcpy(e->trace_id, ctx->trace_id, 16);
	e->in_trace = 1;
}

hx_context hx_trace_continue(const hx_context *ctx, const char *name)
{
	hx_context none;
	memset(&none, 0, sizeof none);
	if (!hx__state)
		return none;
	static const uint8_t zero[16];
	if (!context_ok(ctx) || memcmp(ctx->trace_id, zero, 16) == 0)
		return hx_trace_begin(name);
	hx_trace_join(ctx, name);
	struct hx__thread *t = hx__thread_current();
	return t ? context_of(t->cur) : none;
}

int hx_trace_sampled(void)
{
	if (hx__state != 1)
		return 0;
	struct hx__thread *t = hx__thread_current();
	return t && !t->cur->muted;
}

void hx_trace_end(void)
{
	if (!hx__state)
		return;
	struct hx__thread *t = hx__thread_current();
	if (!t)
		return;
	if (!t->cur->in_trace) {
		hx__count(HX_COUNT_NO_TRACE);
		return;
	}
	struct hx_entity *e = emit(t, NULL, &(struct spec){.kind = HX_EV_TRACE_END});
	if (e) {
		e->in_trace = 0;
		e->muted = 0;
		hx__mute_set(t, 0);
	}
}

/* ---- interactions ---- */
static int interaction_ok(hx_interaction k)
{
	return k >= HX_IA_MESSAGE && k <= HX_IA_CAUSAL;
}

hx_context hx_cause_attrs(hx_interaction kind, const char *name, const hx_attr *attrs, size_t nattrs)
{
	hx_context none;
	memset(&none, 0, sizeof none);
	if (!interaction_ok(kind)) {
		if (hx__state)
			hx__count(HX_COUNT_BAD_ARGUMENT);
		return none;
	}
	struct hx_entity *e = emit(T(), NULL, &(struct spec){.kind = HX_EV_CAUSE, .u8 = (uint8_t)kind, .name = name, .attrs = attrs, .nattrs = nattrs});
	return e ? context_of(e) : none;
}

hx_context hx_effect_attrs(hx_interaction kind, const char *name, const hx_context *causes, size_t ncauses,
                           const hx_attr *attrs, size_t nattrs)
{
	hx_context none;
	memset(&none, 0, sizeof none);
	if (!hx__state)
		return none;
	if (!interaction_ok(kind)) {
		hx__count(HX_COUNT_BAD_ARGUMENT);
		return none;
	}
	/* Keep the valid causes (a bounded copy on the stack: no allocation). */
	hx_context valid[HX_CAUSE_MAX];
	size_t n = 0;
	for (size_t i = 0; causes && i < ncauses; i++) {
		if (!context_ok(&causes[i]) || n == HX_CAUSE_MAX) {
			hx__count(HX_COUNT_BAD_CONTEXT);
			continue;
		}
		valid[n++] = causes[i];
	}
	if (!causes)
		hx__count(HX_COUNT_BAD_CONTEXT);
	struct hx_entity *e = emit(T(), NULL, &(struct spec){.kind = HX_EV_EFFECT, .u8 = (uint8_t)kind, .name = name, .causes = valid, .ncauses = n, .attrs = attrs, .nattrs = nattrs});
	return e ? context_of(e) : none;
}

/* ---- entities: used by entity.c and lib.c ---- */
int hx__emit_entity_begin(struct hx__thread *t, struct hx_entity *e, const char *name, hx_entity_kind kind,
                          uint64_t tid, uint64_t parent)
{
	return emit(t, e, &(struct spec){.kind = HX_EV_ENTITY_BEGIN, .name = name, .u8 = (uint8_t)kind, .tid = tid, .parent = parent}) ? 0 : -1;
}

int hx__emit_entity_end(struct hx__thread *t, struct hx_entity *e)
{
	return emit(t, e, &(struct spec){.kind = HX_EV_ENTITY_END}) ? 0 : -1;
}

int hx__emit_state(struct hx__thread *t, struct hx_entity *e, hx_state state)
{
	if (!emit(t, e, &(struct spec){.kind = HX_EV_STATE, .u8 = (uint8_t)state}))
		return -1;
	e->waiting = state == HX_STATE_WAITING;
	return 0;
}

/* SYNC records of the process stream (written by the background thread, which has no entity). */
int hx__emit_sync(struct hx__thread *t, uint64_t ticks, uint64_t mono, uint64_t real)
{
	size_t need = 1 + 3 * HX_VARINT_MAX;
	if (!t->pos || (uintptr_t)t->pos + need > atomic_load_explicit(&t->end, memory_order_relaxed)) {
		if (hx__chunk_next(t) != 0)
			return -1;
	}
	uint8_t *start = t->pos, *p = start;
	*p++ = HX_REC_SYNC;
	p = hx__put_varint(p, ticks);
	p = hx__put_varint(p, mono);
	p = hx__put_varint(p, real);
	commit(t, start, p);
	return 0;
}
