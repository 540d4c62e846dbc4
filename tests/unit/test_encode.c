/*
 * test_encode.c - the body encoder (src/format/encode.h) is the exact inverse of the decoder:
 * every event kind, attribute type, cause form, trace transition, entity switch, sequence gap and
 * backwards time step survives encode -> decode unchanged; invalid events are refused without
 * damaging the body; and real events recorded by the library round-trip too.
 */
#include "../hxtest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../hxtest_cmp.h"
#include "format/decode.h"
#include "format/encode.h"

/* Decode a whole body into owned events. */
static void decode_body(const uint8_t *p, size_t len, hxt_events *out)
{
	hx__decoder d;
	assert_int_equal(hx__decoder_init(&d), HX_OK);
	hx__decoder_reset(&d, 0);
	const uint8_t *end = p + len;
	while (p < end) {
		hx_event ev;
		const char *why = NULL;
		int r = hx__decode_record(&d, &p, end, &ev, NULL, NULL, &why);
		if (r < 0)
			fail_msg("body does not decode: %s", why ? why : "?");
		if (r == HX__REC_EVENT)
			hxt_events_push(out, &ev);
	}
	hx__decoder_free(&d);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A random but well-formed event stream over a few entities and traces. */
#define N_EVENTS 5000
static hx_event g_ev[N_EVENTS];
static hx_attr g_attrs[N_EVENTS][4];
static hx_context g_causes[N_EVENTS][3];
static char g_names[N_EVENTS][24];
static const uint8_t bytes_val[5] = {0, 1, 0xff, 0x80, 7};

static void make_stream(void)
{
	uint64_t entities[4] = {0x1111, 0x2222, 0xdeadbeefcafef00dull, 1};
	uint64_t next_seq[4] = {0, 10, 1000000, 0};
	uint8_t traces[3][16];
	int in_trace[4] = {0};
	int which_trace[4] = {0};
	for (int t = 0; t < 3; t++)
		for (int i = 0; i < 16; i++)
			traces[t][i] = (uint8_t)(rnd() | 1);
	uint64_t now = 1795515600000000000ull;
	static const hx_event_kind kinds[] = {HX_EV_ENTITY_BEGIN, HX_EV_ENTITY_END, HX_EV_TRACE_BEGIN,
	                                      HX_EV_TRACE_JOIN, HX_EV_TRACE_END, HX_EV_BLOCK_BEGIN,
	                                      HX_EV_BLOCK_END, HX_EV_POINT, HX_EV_COUNTER, HX_EV_ERROR,
	                                      HX_EV_STATE, HX_EV_ANNOTATE, HX_EV_CAUSE, HX_EV_EFFECT};
	for (int i = 0; i < N_EVENTS; i++) {
		hx_event *e = &g_ev[i];
		memset(e, 0, sizeof *e);
		int en = (int)(rnd() % 4);
		e->entity_id = entities[en];
		if (rnd() % 50 == 0)
			next_seq[en] += 1 + rnd() % 5; /* a gap: dropped events */
		e->seq = next_seq[en]++;
		/* time mostly forward, sometimes backwards (another entity's earlier event) */
		now = rnd() % 7 == 0 ? now - rnd() % 100000 : now + rnd() % 5000000;
		e->time_ns = now;
		e->kind = kinds[rnd() % (sizeof kinds / sizeof kinds[0])];
		snprintf(g_names[i], sizeof g_names[i], "name-%d", (int)(rnd() % 40));
		if (rnd() % 20 == 0)
			g_names[i][0] = 0; /* empty names are legal */
		e->name = g_names[i];
		e->name_len = strlen(g_names[i]);
		if (e->kind == HX_EV_TRACE_BEGIN || e->kind == HX_EV_TRACE_JOIN) {
			which_trace[en] = (int)(rnd() % 3);
			in_trace[en] = 1;
		}
		if (in_trace[en])
			memcpy(e->trace_id, traces[which_trace[en]], 16);
		if (e->kind == HX_EV_TRACE_END) {
			if (!in_trace[en])
				e->kind = HX_EV_POINT; /* the decoder cannot end a trace it is not in */
			in_trace[en] = 0;
		}
		if (e->kind == HX_EV_ENTITY_END || e->kind == HX_EV_TRACE_END || e->kind == HX_EV_BLOCK_END ||
		    e->kind == HX_EV_ANNOTATE) {
			e->name = ""; /* kinds without a name: the decoder gives "" */
			e->name_len = 0;
		}
		switch (e->kind) {
		case HX_EV_ENTITY_BEGIN:
			e->entity_kind = (hx_entity_kind)(1 + rnd() % 4);
			e->tid = rnd() % 100000;
			e->parent_id = rnd();
			break;
		case HX_EV_STATE:
			e->state = (hx_state)(1 + rnd() % 2);
			break;
		case HX_EV_ANNOTATE:
			e->target = (hx_annotate_target)(1 + rnd() % 3);
			break;
		case HX_EV_CAUSE:
			e->interaction = (hx_interaction)(1 + rnd() % 9);
			break;
		case HX_EV_COUNTER:
			e->counter_is_int = (int)(rnd() % 2);
			e->counter_int = (int64_t)rnd();
			e->counter_double = (double)(int64_t)rnd() / 7.0;
			e->unit = rnd() % 2 ? "ms" : "";
			break;
		default:
			break;
		}
		if (e->kind == HX_EV_EFFECT || e->kind == HX_EV_TRACE_JOIN) {
			e->interaction = e->kind == HX_EV_TRACE_JOIN ? HX_IA_CAUSAL : (hx_interaction)(1 + rnd() % 9);
			e->resumes = e->kind == HX_EV_EFFECT && rnd() % 2;
			e->ncauses = e->kind == HX_EV_TRACE_JOIN ? 1 : rnd() % 4;
			for (size_t c = 0; c < e->ncauses; c++) {
				hx_context *x = &g_causes[i][c];
				memset(x, 0, sizeof *x);
				if (rnd() % 3)
					memcpy(x->trace_id, e->trace_id, 16); /* same trace: not restated */
				else
					memcpy(x->trace_id, traces[rnd() % 3], 16);
				x->entity_id = rnd();
				x->seq = rnd() % 1000;
				x->flags = HX_CTX_VALID | (rnd() % 2 ? HX_CTX_SAMPLED : 0) | (rnd() % 5 ? 0 : HX_CTX_FOREIGN);
			}
			e->causes = e->ncauses ? g_causes[i] : NULL;
		}
		size_t na = e->kind == HX_EV_ANNOTATE ? 1 + rnd() % 4 : rnd() % 5;
		for (size_t a = 0; a < na; a++) {
			hx_attr *x = &g_attrs[i][a];
			static const char *keys[] = {"k", "bytes", "path", "ok", ""};
			x->key = keys[rnd() % 5];
			x->type = (hx_attr_type)(1 + rnd() % 5);
			switch (x->type) {
			case HX_ATTR_INT:
				x->v.i = (int64_t)rnd();
				break;
			case HX_ATTR_DOUBLE:
				x->v.d = -1.5e300 / (double)(1 + rnd() % 1000);
				break;
			case HX_ATTR_BOOL:
				x->v.b = (int)(rnd() % 2);
				break;
			case HX_ATTR_STRING:
				x->v.s.ptr = "value";
				x->v.s.len = rnd() % 6;
				break;
			default:
				x->v.s.ptr = bytes_val;
				x->v.s.len = rnd() % 6;
			}
		}
		e->attrs = na ? g_attrs[i] : NULL;
		e->nattrs = na;
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	make_stream();
	hx__encoder *enc = hx__encoder_new();
	assert_non_null(enc);
	/* whole stream in one body, then in bodies of random sizes */
	for (int pass = 0; pass < 2; pass++) {
		int i = 0;
		while (i < N_EVENTS) {
			int n = pass == 0 ? N_EVENTS : 1 + (int)(rnd() % 300);
			if (i + n > N_EVENTS)
				n = N_EVENTS - i;
			hx__encoder_reset(enc, 0);
			for (int k = 0; k < n; k++)
				assert_int_equal(hx__encode_event(enc, &g_ev[i + k]), HX_OK);
			assert_int_equal(hx__encoder_events(enc), (size_t)n);
			size_t len;
			const uint8_t *body = hx__encoder_data(enc, &len);
			hxt_events out = {0};
			decode_body(body, len, &out);
			assert_int_equal(out.n, (size_t)n);
			for (int k = 0; k < n; k++)
				hxt_assert_same_event(&g_ev[i + k], &out.v[k].ev);
			hxt_events_free(&out);
			i += n;
		}
	}
	hx__encoder_free(enc);
}

static void test_compact(void **state)
{
	(void)state;
	/* a run of points on one entity costs what it costs in a chunk: 3 to 5 bytes each */
	hx__encoder *enc = hx__encoder_new();
	hx__encoder_reset(enc, 1000);
	hx_event e;
	memset(&e, 0, sizeof e);
	e.kind = HX_EV_POINT;
	e.entity_id = 42;
	e.name = "tick";
	e.name_len = 4;
	for (int i = 0; i < 1000; i++) {
		e.seq = (uint64_t)i;
		e.time_ns = 1000 + (uint64_t)i * 100;
		assert_int_equal(hx__encode_event(enc, &e), HX_OK);
	}
	size_t len;
	hx__encoder_data(enc, &len);
	assert_true(len < 3 * 1000 + 64);
	hx__encoder_free(enc);
}

static void test_refused(void **state)
{
	(void)state;
	hx__encoder *enc = hx__encoder_new();
	hx__encoder_reset(enc, 0);
	hx_event e;
	memset(&e, 0, sizeof e);
	e.kind = HX_EV_POINT;
	e.entity_id = 7;
	e.name = "ok";
	e.name_len = 2;
	e.time_ns = 5;
	assert_int_equal(hx__encode_event(enc, &e), HX_OK);
	size_t len0;
	hx__encoder_data(enc, &len0);

	hx_event bad = e;
	bad.kind = (hx_event_kind)0x3e;
	assert_int_equal(hx__encode_event(enc, &bad), HX_EINVAL);
	bad = e;
	bad.entity_id = 0;
	assert_int_equal(hx__encode_event(enc, &bad), HX_EINVAL);
	bad = e;
	bad.nattrs = HX_ATTR_MAX + 1;
	assert_int_equal(hx__encode_event(enc, &bad), HX_EINVAL);
	hx_attr a = {.key = "k", .type = (hx_attr_type)9};
	bad = e;
	bad.attrs = &a;
	bad.nattrs = 1;
	assert_int_equal(hx__encode_event(enc, &bad), HX_EINVAL);
	bad = e;
	bad.kind = HX_EV_ANNOTATE; /* needs attributes */
	assert_int_equal(hx__encode_event(enc, &bad), HX_EINVAL);
	bad = e;
	bad.kind = HX_EV_TRACE_JOIN; /* needs exactly one cause */
	assert_int_equal(hx__encode_event(enc, &bad), HX_EINVAL);

	size_t len1;
	const uint8_t *body = hx__encoder_data(enc, &len1);
	assert_int_equal(len0, len1); /* refusals wrote nothing */
	hxt_events out = {0};
	decode_body(body, len1, &out);
	assert_int_equal(out.n, 1);
	hxt_events_free(&out);
	hx__encoder_free(enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
