/*
 * test_decode.c - the record decoder (src/format/decode.c): every record kind and attribute type
 * round-trips from the hand encoder (chunkgen.h); malformed records are refused with a reason,
 * without moving the cursor or the decoder's state; hostile bytes never crash it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "chunkgen.h"
#include "format/decode.h"

static const uint8_t TRACE_A[16] = {0x01, 0x92, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                    0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01};
static const uint8_t TRACE_B[16] = {0x02, 0x92, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                    0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x02};
static const uint8_t ZERO16[16];

typedef struct dec_fixture {
	hx__decoder d;
	cg_buf b;
} dec_fixture;

static int setup(void **state)
{
	dec_fixture *f = calloc(1, sizeof(*f));
	if (!f || hx__decoder_init(&f->d) != HX_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	dec_fixture *f = *state;
	hx__decoder_free(&f->d);
	cg_free(&f->b);
	free(f);
	return 0;
}

/* Decode one record at *p, expecting result `want`. */
static void expect_rec(hx__decoder *d, const uint8_t **p, const uint8_t *end, int want,
                       hx_event *ev)
{
	hx__sync sync;
	hx__index_entry idx;
	const char *why = NULL;
	int rc = hx__decode_record(d, p, end, ev, &sync, &idx, &why);
	if (rc != want)
		fail_msg("decode returned %d (want %d): %s", rc, want, why ? why : "");
}

/* Decode every record of a payload, returning the events (up to max). */
static size_t decode_events(hx__decoder *d, const cg_buf *b, hx_event *out, size_t max)
{
	const uint8_t *p = b->p, *end = b->p + b->len;
	size_t n = 0;
	while (p < end) {
		hx_event ev;
		const char *why = NULL;
		int rc = hx__decode_record(d, &p, end, &ev, NULL, NULL, &why);
		if (rc < 0)
			fail_msg("malformed at %zu: %s", (size_t)(p - b->p), why);
		if (rc == HX__REC_EVENT) {
			assert_true(n < max);
			out[n++] = ev;
		}
	}
	return n;
}

static void test_points(void **state)
{
	dec_fixture *f = *state;
	hx__decoder_reset(&f->d, 1000);
	cg_string(&f->b, 1, "tick");
	cg_context(&f->b, 0x1122334455667788ull, 7, NULL);
	cg_point(&f->b, 5, 1);        /* fast path: one-byte dt and name */
	cg_point(&f->b, 300, 1);      /* two-byte dt */
	cg_point(&f->b, 0, 0);        /* the empty name */
	for (int i = 2; i <= 200; i++)
		cg_string(&f->b, (uint64_t)i, "n");
	cg_point(&f->b, 1, 200);      /* two-byte name id */
	hx_event ev[4];
	assert_int_equal(decode_events(&f->d, &f->b, ev, 4), 4);
	assert_int_equal(ev[0].kind, HX_EV_POINT);
	assert_string_equal(ev[0].name, "tick");
	assert_int_equal(ev[0].name_len, 4);
	assert_int_equal(ev[0].time_ns, 1005);
	assert_int_equal(ev[0].entity_id, 0x1122334455667788ull);
	assert_int_equal(ev[0].seq, 7);
	assert_memory_equal(ev[0].trace_id, ZERO16, 16);
	assert_null(ev[0].attrs);
	assert_int_equal(ev[1].time_ns, 1305);
	assert_int_equal(ev[1].seq, 8);
	assert_string_equal(ev[2].name, "");
	assert_int_equal(ev[2].seq, 9);
	assert_string_equal(ev[3].name, "n");
	assert_int_equal(ev[3].time_ns, 1306);
}

static void test_every_kind(void **state)
{
	dec_fixture *f = *state;
	cg_buf *b = &f->b;
	hx__decoder_reset(&f->d, 0);
	cg_string(b, 1, "worker");
	cg_string(b, 2, "req");
	cg_string(b, 3, "ms");
	cg_string(b, 4, "lock");
	cg_context(b, 42, 0, NULL);
	cg_event(b, HX_EV_ENTITY_BEGIN, 0, 1);
	cg_varint(b, 1);
	cg_u8(b, HX_ENTITY_THREAD);
	cg_varint(b, 4321);
	cg_le64(b, 99);
	cg_event(b, HX_EV_TRACE_BEGIN, 0, 1);
	cg_varint(b, 2);
	cg_bytes(b, TRACE_A, 16);
	cg_event(b, HX_EV_BLOCK_BEGIN, 0, 1);
	cg_varint(b, 2);
	cg_event(b, HX_EV_COUNTER, 0, 1);
	cg_varint(b, 2);
	cg_varint(b, 3);
	cg_u8(b, 1);
	cg_zigzag(b, -12345);
	cg_event(b, HX_EV_COUNTER, 0, 1);
	cg_varint(b, 2);
	cg_varint(b, 0);
	cg_u8(b, 2);
	double dv = 2.5;
	uint64_t bits;
	memcpy(&bits, &dv, 8);
	cg_le64(b, bits);
	cg_event(b, HX_EV_ERROR, 0, 1);
	cg_varint(b, 2);
	cg_event(b, HX_EV_STATE, 0, 1);
	cg_u8(b, HX_STATE_WAITING);
	cg_varint(b, 4);
	cg_event(b, HX_EV_ANNOTATE, 1, 1);
	cg_u8(b, HX_TARGET_BLOCK);
	cg_varint(b, 1);
	cg_attr_int(b, 3, 7);
	cg_event(b, HX_EV_CAUSE, 0, 1);
	cg_varint(b, 2);
	cg_u8(b, HX_IA_REQUEST);
	cg_event(b, HX_EV_EFFECT, 0, 1);
	cg_varint(b, 2);
	cg_u8(b, HX_IA_JOIN);
	cg_varint(b, 2);
	cg_cause(b, NULL, 1, 7, 70);
	cg_cause(b, TRACE_B, 0, 8, 80);
	cg_event(b, HX_EV_BLOCK_END, 0, 1);
	cg_event(b, HX_EV_TRACE_END, 0, 1);
	cg_event(b, HX_EV_TRACE_JOIN, 0, 1);
	cg_varint(b, 2);
	cg_bytes(b, TRACE_B, 16);
	cg_cause(b, NULL, 1, 9, 90);
	cg_event(b, HX_EV_ENTITY_END, 0, 1);

	hx_event ev[16];
	size_t n = decode_events(&f->d, b, ev, 16);
	assert_int_equal(n, 14);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ev[i].seq, i);
		assert_int_equal(ev[i].time_ns, i + 1);
		assert_int_equal(ev[i].entity_id, 42);
	}
	assert_int_equal(ev[0].kind, HX_EV_ENTITY_BEGIN);
	assert_string_equal(ev[0].name, "worker");
	assert_int_equal(ev[0].entity_kind, HX_ENTITY_THREAD);
	assert_int_equal(ev[0].tid, 4321);
	assert_memory_equal(ev[0].trace_id, ZERO16, 16);

	assert_int_equal(ev[1].kind, HX_EV_TRACE_BEGIN);
	assert_memory_equal(ev[1].trace_id, TRACE_A, 16); /* carries the new trace */
	assert_memory_equal(ev[2].trace_id, TRACE_A, 16);
	assert_int_equal(ev[2].kind, HX_EV_BLOCK_BEGIN);

	assert_int_equal(ev[3].kind, HX_EV_COUNTER);
	assert_true(ev[3].counter_is_int);
	assert_int_equal(ev[3].counter_int, -12345);
	assert_string_equal(ev[3].unit, "ms");
	assert_false(ev[4].counter_is_int);
	assert_true(ev[4].counter_double == 2.5);
	assert_string_equal(ev[4].unit, "");

	assert_int_equal(ev[5].kind, HX_EV_ERROR);
	assert_string_equal(ev[5].name, "req");
	assert_int_equal(ev[6].kind, HX_EV_STATE);
	assert_int_equal(ev[6].state, HX_STATE_WAITING);
	assert_string_equal(ev[6].name, "lock"); /* the reason */
	assert_int_equal(ev[7].kind, HX_EV_ANNOTATE);
	assert_int_equal(ev[7].target, HX_TARGET_BLOCK);
	assert_int_equal(ev[7].nattrs, 1);
	assert_int_equal(ev[8].kind, HX_EV_CAUSE);
	assert_int_equal(ev[8].interaction, HX_IA_REQUEST);

	assert_int_equal(ev[9].kind, HX_EV_EFFECT);
	assert_int_equal(ev[9].interaction, HX_IA_JOIN);
	assert_int_equal(ev[9].ncauses, 2);
	/* ev[9].causes points at decoder scratch that later records reused: check them again below */

	assert_int_equal(ev[10].kind, HX_EV_BLOCK_END);
	assert_int_equal(ev[11].kind, HX_EV_TRACE_END);
	assert_memory_equal(ev[11].trace_id, TRACE_A, 16); /* carries the trace it leaves */
	assert_int_equal(ev[12].kind, HX_EV_TRACE_JOIN);
	assert_memory_equal(ev[12].trace_id, TRACE_B, 16);
	assert_int_equal(ev[12].interaction, HX_IA_CAUSAL);
	assert_int_equal(ev[12].ncauses, 1);
	/* a cause without its own trace lies in the event's trace: the joined one */
	assert_memory_equal(ev[12].causes[0].trace_id, TRACE_B, 16);
	assert_int_equal(ev[12].causes[0].entity_id, 9);
	assert_int_equal(ev[12].causes[0].seq, 90);
	assert_int_equal(ev[12].causes[0].flags, HX_CTX_VALID | HX_CTX_SAMPLED);
	assert_int_equal(ev[13].kind, HX_EV_ENTITY_END);
	assert_memory_equal(ev[13].trace_id, TRACE_B, 16);
}

static void test_effect_causes(void **state)
{
	dec_fixture *f = *state;
	cg_buf *b = &f->b;
	hx__decoder_reset(&f->d, 0);
	cg_context(b, 5, 10, TRACE_A);
	cg_event(b, HX_EV_EFFECT, 0, 0);
	cg_varint(b, 0);
	cg_u8(b, HX_IA_MESSAGE);
	cg_varint(b, HX_CAUSE_MAX);
	for (int i = 0; i < HX_CAUSE_MAX; i++)
		cg_cause(b, (i & 1) ? TRACE_B : NULL, i & 2, 100 + (uint64_t)i, (uint64_t)i);
	const uint8_t *p = b->p;
	hx_event ev;
	expect_rec(&f->d, &p, b->p + b->len, HX__REC_OTHER, &ev);
	expect_rec(&f->d, &p, b->p + b->len, HX__REC_EVENT, &ev);
	assert_ptr_equal(p, b->p + b->len);
	assert_int_equal(ev.seq, 10);
	assert_memory_equal(ev.trace_id, TRACE_A, 16);
	assert_int_equal(ev.ncauses, HX_CAUSE_MAX);
	for (int i = 0; i < HX_CAUSE_MAX; i++) {
		const hx_context *c = &ev.causes[i];
		assert_memory_equal(c->trace_id, (i & 1) ? TRACE_B : TRACE_A, 16);
		assert_int_equal(c->entity_id, 100 + (uint64_t)i);
		assert_int_equal(c->seq, (uint64_t)i);
		assert_int_equal(c->flags, HX_CTX_VALID | ((i & 2) ? HX_CTX_SAMPLED : 0));
	}
}

static void test_attr_types(void **state)
{
	dec_fixture *f = *state;
	cg_buf *b = &f->b;
	static const char bin[] = {0, 1, 2, (char)0xff};
	hx__decoder_reset(&f->d, 0);
	cg_string(b, 1, "p");
	cg_string(b, 2, "i");
	cg_string(b, 3, "d");
	cg_string(b, 4, "t");
	cg_string(b, 5, "f");
	cg_string(b, 6, "s");
	cg_string(b, 7, "b");
	cg_string(b, 8, "e");
	cg_context(b, 1, 0, NULL);
	cg_event(b, HX_EV_POINT, 1, 3);
	cg_varint(b, 1);
	cg_varint(b, 8);
	cg_attr_int(b, 2, INT64_MIN);
	cg_attr_double(b, 3, -0.125);
	cg_attr_bool(b, 4, 1);
	cg_attr_bool(b, 5, 0);
	cg_attr_blob(b, 6, HX_VAL_STRING, "a\0b", 3);
	cg_attr_blob(b, 7, HX_VAL_BYTES, bin, sizeof(bin));
	cg_attr_blob(b, 8, HX_VAL_STRING, "", 0);
	cg_attr_int(b, 2, INT64_MAX);
	hx_event ev;
	assert_int_equal(decode_events(&f->d, b, &ev, 1), 1);
	assert_int_equal(ev.nattrs, 8);
	const hx_attr *a = ev.attrs;
	assert_string_equal(a[0].key, "i");
	assert_int_equal(a[0].type, HX_ATTR_INT);
	assert_true(a[0].v.i == INT64_MIN);
	assert_int_equal(a[1].type, HX_ATTR_DOUBLE);
	assert_true(a[1].v.d == -0.125);
	assert_int_equal(a[2].type, HX_ATTR_BOOL);
	assert_int_equal(a[2].v.b, 1);
	assert_int_equal(a[3].v.b, 0);
	assert_int_equal(a[4].type, HX_ATTR_STRING);
	assert_int_equal(a[4].v.s.len, 3);
	assert_memory_equal(a[4].v.s.ptr, "a\0b", 3);
	/* values point into the record, not into a copy */
	assert_true((const uint8_t *)a[4].v.s.ptr > b->p && (const uint8_t *)a[4].v.s.ptr < b->p + b->len);
	assert_int_equal(a[5].type, HX_ATTR_BYTES);
	assert_memory_equal(a[5].v.s.ptr, bin, sizeof(bin));
	assert_int_equal(a[6].v.s.len, 0);
	assert_string_equal(a[7].key, "i");
	assert_true(a[7].v.i == INT64_MAX);
}

static void test_attr_max(void **state)
{
	dec_fixture *f = *state;
	cg_buf *b = &f->b;
	hx__decoder_reset(&f->d, 0);
	cg_string(b, 1, "k");
	cg_context(b, 1, 0, NULL);
	cg_event(b, HX_EV_BLOCK_END, 1, 0);
	cg_varint(b, HX_ATTR_MAX);
	for (int i = 0; i < HX_ATTR_MAX; i++)
		cg_attr_int(b, 1, i);
	hx_event ev;
	assert_int_equal(decode_events(&f->d, b, &ev, 1), 1);
	assert_int_equal(ev.nattrs, HX_ATTR_MAX);
	assert_int_equal(ev.attrs[HX_ATTR_MAX - 1].v.i, HX_ATTR_MAX - 1);

	/* one more, each well formed: refused by the count alone */
	cg_buf over = {0};
	cg_event(&over, HX_EV_BLOCK_END, 1, 0);
	cg_varint(&over, HX_ATTR_MAX + 1);
	for (int i = 0; i <= HX_ATTR_MAX; i++)
		cg_attr_int(&over, 1, i);
	const uint8_t *p = over.p;
	const char *why = NULL;
	assert_int_equal(hx__decode_record(&f->d, &p, over.p + over.len, &ev, NULL, NULL, &why), -1);
	assert_string_equal(why, "attributes: count over HX_ATTR_MAX");
	over.len = 0;
	cg_event(&over, HX_EV_EFFECT, 0, 0);
	cg_varint(&over, 0);
	cg_u8(&over, HX_IA_JOIN);
	cg_varint(&over, HX_CAUSE_MAX + 1);
	for (int i = 0; i <= HX_CAUSE_MAX; i++)
		cg_cause(&over, NULL, 0, 1, 1);
	p = over.p;
	assert_int_equal(hx__decode_record(&f->d, &p, over.p + over.len, &ev, NULL, NULL, &why), -1);
	assert_string_equal(why, "EFFECT: cause count over HX_CAUSE_MAX");
	cg_free(&over);
}

static void test_trace_end_clears(void **state)
{
	dec_fixture *f = *state;
	cg_buf *b = &f->b;
	hx__decoder_reset(&f->d, 0);
	cg_context(b, 1, 0, TRACE_A);
	cg_point(b, 0, 0);
	cg_event(b, HX_EV_TRACE_END, 0, 0);
	cg_point(b, 0, 0);
	cg_event(b, HX_EV_EFFECT, 0, 0); /* a cause in "the event's trace" outside any trace */
	cg_varint(b, 0);
	cg_u8(b, HX_IA_MESSAGE);
	cg_varint(b, 1);
	cg_cause(b, NULL, 0, 3, 4);
	hx_event ev[4];
	assert_int_equal(decode_events(&f->d, b, ev, 4), 4);
	assert_memory_equal(ev[0].trace_id, TRACE_A, 16);
	assert_memory_equal(ev[1].trace_id, TRACE_A, 16);
	assert_memory_equal(ev[2].trace_id, ZERO16, 16);
	assert_memory_equal(ev[3].trace_id, ZERO16, 16);
	assert_memory_equal(ev[3].causes[0].trace_id, ZERO16, 16);
	assert_int_equal(ev[3].causes[0].flags, HX_CTX_VALID);
}

static void test_sync_index_other(void **state)
{
	dec_fixture *f = *state;
	cg_buf *b = &f->b;
	hx__decoder_reset(&f->d, 0);
	cg_sync(b, 123456789012ull, 5000, 1700000000000000000ull);
	cg_index(b, 3, 0xabcdef01u, 17, 4000, 999);
	const uint8_t *p = b->p, *end = b->p + b->len;
	hx__sync s;
	hx__index_entry ix;
	hx_event ev;
	const char *why;
	assert_int_equal(hx__decode_record(&f->d, &p, end, &ev, &s, &ix, &why), HX__REC_SYNC);
	assert_int_equal(s.ticks, 123456789012ull);
	assert_int_equal(s.mono_ns, 5000);
	assert_int_equal(s.real_ns, 1700000000000000000ull);
	assert_int_equal(hx__decode_record(&f->d, &p, end, &ev, &s, &ix, &why), HX__REC_INDEX);
	assert_int_equal(ix.slot, 3);
	assert_int_equal(ix.stream, 0xabcdef01u);
	assert_int_equal(ix.chunk_seq, 17);
	assert_int_equal(ix.committed, 4000);
	assert_int_equal(ix.base_ticks, 999);
	/* NULL out-parameters for records the caller does not want */
	p = b->p;
	assert_int_equal(hx__decode_record(&f->d, &p, end, &ev, NULL, NULL, &why), HX__REC_SYNC);
	assert_int_equal(hx__decode_record(&f->d, &p, end, &ev, NULL, NULL, &why), HX__REC_INDEX);
	assert_ptr_equal(p, end);
}

static void test_future_kinds(void **state)
{
	dec_fixture *f = *state;
	cg_buf *b = &f->b;
	hx__decoder_reset(&f->d, 0);
	cg_u8(b, 0x60); /* future non-event: allowed before any CONTEXT */
	cg_varint(b, 3);
	cg_bytes(b, "xyz", 3);
	cg_context(b, 1, 10, NULL);
	cg_u8(b, 0x40); /* future event: skipped, but it took a sequence number */
	cg_varint(b, 2);
	cg_bytes(b, "ab", 2);
	cg_u8(b, 0x5f | HX_REC_HAS_ATTRS);
	cg_varint(b, 0);
	cg_u8(b, 0x7f);
	cg_varint(b, 0);
	cg_point(b, 0, 0);
	const uint8_t *p = b->p, *end = b->p + b->len;
	hx_event ev;
	expect_rec(&f->d, &p, end, HX__REC_OTHER, &ev);
	expect_rec(&f->d, &p, end, HX__REC_OTHER, &ev);
	expect_rec(&f->d, &p, end, HX__REC_SKIPPED_EVENT, &ev);
	expect_rec(&f->d, &p, end, HX__REC_SKIPPED_EVENT, &ev);
	expect_rec(&f->d, &p, end, HX__REC_OTHER, &ev);
	expect_rec(&f->d, &p, end, HX__REC_EVENT, &ev);
	assert_int_equal(ev.seq, 12);
	assert_ptr_equal(p, end);
}

/* A malformed record: refused with a reason, cursor not moved. */
static void expect_bad(hx__decoder *d, const uint8_t *rec, size_t len, const char *what)
{
	const uint8_t *p = rec;
	hx_event ev;
	const char *why = NULL;
	int rc = hx__decode_record(d, &p, rec + len, &ev, NULL, NULL, &why);
	if (rc != -1)
		fail_msg("%s: decoded as %d", what, rc);
	if (p != rec)
		fail_msg("%s: cursor moved", what);
	if (!why || !*why)
		fail_msg("%s: no reason", what);
}

static void test_malformed(void **state)
{
	dec_fixture *f = *state;
	hx__decoder *d = &f->d;
	hx__decoder_reset(d, 0);

	/* events before any CONTEXT */
	expect_bad(d, (const uint8_t[]){HX_EV_POINT, 0, 0}, 3, "point before context");
	expect_bad(d, (const uint8_t[]){0x40, 0}, 2, "future event before context");

	cg_buf b = {0};
	cg_string(&b, 1, "a");
	cg_context(&b, 1, 0, NULL);
	const uint8_t *p = b.p;
	hx_event ev;
	expect_rec(d, &p, b.p + b.len, HX__REC_OTHER, &ev);
	expect_rec(d, &p, b.p + b.len, HX__REC_OTHER, &ev);
	cg_free(&b);

	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
	} cases[] = {
		{"kind 0", {0x00}, 1},
		{"kind 0x06", {0x06, 0}, 2},
		{"TIME truncated", {0x05, 0x80}, 2},
		{"kind 0x0f", {0x0f, 0}, 2},
		{"kind 0x1e", {0x1e, 0}, 2},
		{"kind 0x3f", {0x3f, 0}, 2},
		{"attr flag on STRING", {0x81, 2, 1, 'x'}, 4},
		{"attr flag on CONTEXT", {0x82, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 11},
		{"undefined name", {HX_EV_POINT, 0, 2}, 3},
		{"undefined long name id", {HX_EV_POINT, 0, 0x80, 0x01}, 4},
		{"string id skipped", {HX_REC_STRING, 3, 1, 'x'}, 4},
		{"string id reused", {HX_REC_STRING, 1, 1, 'x'}, 4},
		{"string id 0", {HX_REC_STRING, 0, 1, 'x'}, 4},
		{"string length beyond", {HX_REC_STRING, 2, 5, 'x', 'y'}, 5},
		{"truncated dt", {HX_EV_POINT, 0x80}, 2},
		{"overlong varint", {HX_EV_POINT, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0}, 13},
		{"varint over 64 bits", {HX_EV_POINT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0}, 12},
		{"attr count over max", {HX_EV_POINT | 0x80, 0, 0, HX_ATTR_MAX + 1}, 4},
		{"attr huge count", {HX_EV_POINT | 0x80, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, 8},
		{"attr undefined key", {HX_EV_POINT | 0x80, 0, 0, 1, 9, HX_VAL_TRUE}, 6},
		{"attr type 0", {HX_EV_POINT | 0x80, 0, 0, 1, 1, 0}, 6},
		{"attr type 7", {HX_EV_POINT | 0x80, 0, 0, 1, 1, 7, 0}, 7},
		{"attr string beyond", {HX_EV_POINT | 0x80, 0, 0, 1, 1, HX_VAL_STRING, 9, 'a'}, 8},
		{"attr double short", {HX_EV_POINT | 0x80, 0, 0, 1, 1, HX_VAL_DOUBLE, 1, 2, 3}, 9},
		{"counter type 3", {HX_EV_COUNTER, 0, 1, 0, 3, 0}, 6},
		{"counter undefined unit", {HX_EV_COUNTER, 0, 1, 5, 1, 0}, 6},
		{"effect cause count", {HX_EV_EFFECT, 0, 1, 1, HX_CAUSE_MAX + 1}, 5},
		{"effect truncated cause", {HX_EV_EFFECT, 0, 1, 1, 1, 0, 1, 2, 3}, 9},
		{"effect cause trace short", {HX_EV_EFFECT, 0, 1, 1, 1, HX_CAUSE_HAS_TRACE, 1, 2}, 8},
		{"trace begin short", {HX_EV_TRACE_BEGIN, 0, 1, 1, 2, 3}, 6},
		{"state undefined reason", {HX_EV_STATE, 0, 1, 4}, 4},
		{"entity begin short", {HX_EV_ENTITY_BEGIN, 0, 1, 1, 0, 1, 2, 3}, 8},
		{"future length beyond", {0x41, 4, 1, 2}, 4},
		{"future other length beyond", {0x61, 0x80}, 2},
		{"context short", {HX_REC_CONTEXT, 1, 2, 3}, 4},
		{"context trace short", {HX_REC_CONTEXT, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2}, 13},
		{"sync short", {HX_REC_SYNC, 1, 2}, 3},
		{"index short", {HX_REC_INDEX, 1, 2, 3}, 4},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(d, cases[i].bytes, cases[i].len, cases[i].what);
	/* nothing above moved the entity's sequence or time */
	p = (const uint8_t[]){HX_EV_POINT, 0, 1};
	expect_rec(d, &p, p + 3, HX__REC_EVENT, &ev);
	assert_int_equal(ev.seq, 0);
	assert_int_equal(ev.time_ns, 0);
	/* and an empty range is not a record */
	expect_bad(d, (const uint8_t[]){0}, 0, "empty");
}

/* Every proper prefix of a valid record is malformed and leaves the decoder as it was. */
static void test_prefixes(void **state)
{
	dec_fixture *f = *state;
	cg_buf recs[8] = {{0}};
	cg_point(&recs[0], 1000, 1);
	cg_event(&recs[1], HX_EV_EFFECT, 1, 1);
	cg_varint(&recs[1], 1);
	cg_u8(&recs[1], HX_IA_ASYNC);
	cg_varint(&recs[1], 2);
	cg_cause(&recs[1], TRACE_B, 1, 2, 300);
	cg_cause(&recs[1], NULL, 0, 3, 4);
	cg_varint(&recs[1], 2);
	cg_attr_double(&recs[1], 1, 1.5);
	cg_attr_blob(&recs[1], 1, HX_VAL_BYTES, "abcdef", 6);
	cg_event(&recs[2], HX_EV_TRACE_JOIN, 0, 5);
	cg_varint(&recs[2], 1);
	cg_bytes(&recs[2], TRACE_A, 16);
	cg_cause(&recs[2], TRACE_B, 0, 1, 2);
	cg_event(&recs[3], HX_EV_COUNTER, 0, 5);
	cg_varint(&recs[3], 1);
	cg_varint(&recs[3], 1);
	cg_u8(&recs[3], 2);
	cg_le64(&recs[3], 77);
	cg_event(&recs[4], HX_EV_ENTITY_BEGIN, 0, 5);
	cg_varint(&recs[4], 1);
	cg_u8(&recs[4], 3);
	cg_varint(&recs[4], 0);
	cg_le64(&recs[4], 5);
	cg_string(&recs[5], 2, "hello");
	cg_context(&recs[6], 77, 1000, TRACE_A);
	cg_sync(&recs[7], 1u << 30, 1ull << 40, 1ull << 60);

	for (size_t r = 0; r < 8; r++) {
		for (size_t cut = 0; cut < recs[r].len; cut++) {
			hx__decoder_reset(&f->d, 50);
			cg_buf pre = {0};
			cg_string(&pre, 1, "n");
			cg_context(&pre, 9, 5, TRACE_B);
			const uint8_t *p = pre.p;
			hx_event ev;
			expect_rec(&f->d, &p, pre.p + pre.len, HX__REC_OTHER, &ev);
			expect_rec(&f->d, &p, pre.p + pre.len, HX__REC_OTHER, &ev);
			/* copy the prefix so reading past it would be a heap overflow under ASan */
			uint8_t *cp = malloc(cut ? cut : 1);
			memcpy(cp, recs[r].p, cut);
			char what[64];
			snprintf(what, sizeof(what), "record %zu cut at %zu", r, cut);
			expect_bad(&f->d, cp, cut, what);
			free(cp);
			/* state unchanged: the next point is seq 5 at tick 50, in TRACE_B */
			const uint8_t pt[] = {HX_EV_POINT, 0, 1};
			p = pt;
			expect_rec(&f->d, &p, pt + 3, HX__REC_EVENT, &ev);
			assert_int_equal(ev.seq, 5);
			assert_int_equal(ev.time_ns, 50);
			assert_memory_equal(ev.trace_id, TRACE_B, 16);
			assert_int_equal(f->d.nstrings, 2);
			cg_free(&pre);
		}
		cg_free(&recs[r]);
	}
}

static void test_string_limits(void **state)
{
	dec_fixture *f = *state;
	cg_buf *b = &f->b;
	hx__decoder_reset(&f->d, 0);
	/* enough text to move the arena several times: earlier names must stay intact */
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	for (uint64_t id = 1; id < HX_DEC_MAX_STRINGS; id++)
		cg_string(b, id, id % 1000 == 0 ? big : "s");
	const uint8_t *p = b->p, *end = b->p + b->len;
	hx_event ev;
	while (p < end)
		expect_rec(&f->d, &p, end, HX__REC_OTHER, &ev);
	assert_int_equal(f->d.nstrings, HX_DEC_MAX_STRINGS);
	assert_string_equal(f->d.strings[1].ptr, "s");
	assert_string_equal(f->d.strings[1000].ptr, big);
	assert_string_equal(f->d.strings[HX_DEC_MAX_STRINGS - 1].ptr, "s");
	cg_buf one = {0};
	cg_string(&one, HX_DEC_MAX_STRINGS, "z");
	expect_bad(&f->d, one.p, one.len, "one string too many");
	cg_free(&one);
	/* reset forgets them */
	hx__decoder_reset(&f->d, 7);
	assert_int_equal(f->d.nstrings, 1);
	expect_bad(&f->d, (const uint8_t[]){HX_EV_POINT, 0, 0}, 3, "context forgotten by reset");
}

/* A small deterministic generator: the same bytes on every run. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Random and mutated bytes: the decoder either advances or refuses, never reads outside. */
static void test_hostile_bytes(void **state)
{
	dec_fixture *f = *state;
	cg_buf *b = &f->b;
	cg_string(b, 1, "name");
	cg_string(b, 2, "key");
	cg_context(b, 1, 0, TRACE_A);
	for (int i = 0; i < 20; i++) {
		cg_event(b, HX_EV_EFFECT, 1, (uint64_t)i);
		cg_varint(b, 1);
		cg_u8(b, HX_IA_FORK);
		cg_varint(b, 1);
		cg_cause(b, NULL, 1, 5, 6);
		cg_varint(b, 2);
		cg_attr_blob(b, 2, HX_VAL_STRING, "value", 5);
		cg_attr_int(b, 2, -5);
	}
	for (int round = 0; round < 20000; round++) {
		size_t len = round < 10000 ? b->len : (size_t)(rnd() % 64);
		uint8_t *buf = malloc(len ? len : 1);
		if (round < 10000) {
			memcpy(buf, b->p, len);
			for (int k = 0; k < 1 + round % 4; k++)
				buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
		} else {
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rnd();
		}
		hx__decoder_reset(&f->d, 0);
		const uint8_t *p = buf, *end = buf + len;
		while (p < end) {
			const uint8_t *before = p;
			hx_event ev;
			const char *why;
			int rc = hx__decode_record(&f->d, &p, end, &ev, NULL, NULL, &why);
			if (rc < 0) {
				assert_ptr_equal(p, before);
				break;
			}
			assert_true(p > before && p <= end);
			if (rc == HX__REC_EVENT) {
				assert_true(ev.nattrs <= HX_ATTR_MAX);
				for (size_t i = 0; i < ev.nattrs; i++)
					if (ev.attrs[i].type == HX_ATTR_STRING || ev.attrs[i].type == HX_ATTR_BYTES)
						assert_true((const uint8_t *)ev.attrs[i].v.s.ptr + ev.attrs[i].v.s.len <= end);
				assert_int_equal(strlen(ev.name) <= ev.name_len, 1);
			}
		}
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_effect_causes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attr_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attr_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trace_end_clears, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_index_other, setup, teardown),
		cmocka_unit_test_setup_teardown(test_future_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefixes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_string_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_bytes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
