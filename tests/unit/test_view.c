/*
 * test_view.c - the viewer's model (src/view/view.h) on hand-made traces with known answers:
 * lanes ordered host, process, entity with their depths; level of detail at two zoom levels
 * (whole blocks vs merged runs, points vs bins, waits, counter samples, arrows), summaries that
 * add up to what the window holds (checked against a brute-force count over many windows and
 * caps), event details with causes, effects, block and wait, find next/prev/total, range self
 * time, clock offsets and original times, the critical path with lanes and its events, the
 * cache (eviction, reference counts, one build for concurrent gets, errors not cached, models
 * built outside it inserted), and bad parameters. Answers are parsed with jansson.
 */
#include "../hxtest.h"

#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <cmocka.h>

#include "analysis/critpath.h"
#include "view/view.h"
#include "view/view_int.h"

static const uint8_t TR[16] = {0x01, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11};
static const uint8_t TR2[16] = {0x01, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x22};

/* ---- building models: every event gets the next sequence number of its entity ---- */

typedef struct vb {
	hx__view_builder *b;
	uint64_t ents[128], next[128];
	size_t nents;
	const uint8_t *trace;  /* the trace of the events added next */
	uint32_t proc;         /* and their process */
} vb;

static void vb_init(vb *t, const uint8_t *filter)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(hx__view_builder_new(&t->b, filter, 0), HX_OK);
	t->trace = TR;
}

static uint64_t next_seq(vb *t, uint64_t ent)
{
	for (size_t i = 0; i < t->nents; i++)
		if (t->ents[i] == ent)
			return t->next[i]++;
	assert_true(t->nents < 128);
	t->ents[t->nents] = ent;
	t->next[t->nents] = 1;
	t->nents++;
	return 0;
}

static hx_event make(vb *t, uint64_t ent, uint64_t time, hx_event_kind kind, const char *name, int sub)
{
	hx_event e;
	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.time_ns = e.time_orig_ns = time;
	e.entity_id = ent;
	e.seq = next_seq(t, ent);
	if (t->trace)
		memcpy(e.trace_id, t->trace, 16);
	e.name = name ? name : "";
	e.name_len = strlen(e.name);
	if (kind == HX_EV_STATE)
		e.state = (hx_state)sub;
	if (kind == HX_EV_CAUSE || kind == HX_EV_EFFECT || kind == HX_EV_TRACE_JOIN)
		e.interaction = (hx_interaction)sub;
	if (kind == HX_EV_ENTITY_BEGIN)
		e.entity_kind = (hx_entity_kind)sub;
	return e;
}

static hx_context add(vb *t, const hx_event *e)
{
	assert_int_equal(hx__view_builder_add(t->b, e, t->proc), HX_OK);
	hx_context c;
	memset(&c, 0, sizeof(c));
	memcpy(c.trace_id, e->trace_id, 16);
	c.entity_id = e->entity_id;
	c.seq = e->seq;
	c.flags = HX_CTX_VALID | HX_CTX_SAMPLED;
	return c;
}

static hx_context ev(vb *t, uint64_t ent, uint64_t time, hx_event_kind kind, const char *name, int sub,
                     int resumes, const hx_context *causes, size_t nc)
{
	hx_event e = make(t, ent, time, kind, name, sub);
	e.resumes = resumes;
	e.causes = causes;
	e.ncauses = nc;
	return add(t, &e);
}

static hx_context ev_attrs(vb *t, uint64_t ent, uint64_t time, hx_event_kind kind, const char *name,
                           const hx_attr *attrs, size_t na)
{
	hx_event e = make(t, ent, time, kind, name, 0);
	e.attrs = attrs;
	e.nattrs = na;
	return add(t, &e);
}

static void counter(vb *t, uint64_t ent, uint64_t time, const char *name, double value, const char *unit)
{
	hx_event e = make(t, ent, time, HX_EV_COUNTER, name, 0);
	e.counter_double = value;
	e.unit = unit;
	add(t, &e);
}

#define POINT(t, ent, time, name) ev((t), (ent), (time), HX_EV_POINT, (name), 0, 0, NULL, 0)
#define BEGIN(t, ent, time, name) ev((t), (ent), (time), HX_EV_BLOCK_BEGIN, (name), 0, 0, NULL, 0)
#define END(t, ent, time) ev((t), (ent), (time), HX_EV_BLOCK_END, "", 0, 0, NULL, 0)
#define WAIT(t, ent, time, why) ev((t), (ent), (time), HX_EV_STATE, (why), HX_STATE_WAITING, 0, NULL, 0)
#define RUN(t, ent, time) ev((t), (ent), (time), HX_EV_STATE, "", HX_STATE_RUNNING, 0, NULL, 0)
#define CAUSE(t, ent, time, ia, name) ev((t), (ent), (time), HX_EV_CAUSE, (name), (ia), 0, NULL, 0)
#define EFFECT(t, ent, time, ia, name, resumes, causes, n)                                       \
	ev((t), (ent), (time), HX_EV_EFFECT, (name), (ia), (resumes), (causes), (n))

static hx__view *vb_finish(vb *t)
{
	hx__view *v = NULL;
	assert_int_equal(hx__view_builder_finish(t->b, &v), HX_OK);
	assert_non_null(v);
	return v;
}

static uint32_t at(const hx__view *v, uint64_t ent, uint64_t seq)
{
	uint32_t i = hx__dag_find(hx__view_dag(v), ent, seq);
	assert_int_not_equal(i, HX__DAG_NONE);
	return i;
}

/* ---- JSON ---- */

static json_t *parse(const hx__buf *b)
{
	json_error_t je;
	json_t *j = json_loads(b->p, 0, &je);
	if (!j)
		print_message("bad JSON (%s at %d): %.300s\n", je.text, je.position, b->p);
	assert_non_null(j);
	return j;
}

static json_t *get(const json_t *o, const char *key)
{
	json_t *x = json_object_get(o, key);
	if (!x)
		print_message("no member \"%s\"\n", key);
	assert_non_null(x);
	return x;
}

static json_int_t num(const json_t *o, const char *key)
{
	json_t *x = get(o, key);
	assert_true(json_is_integer(x));
	return json_integer_value(x);
}

static const char *str(const json_t *o, const char *key)
{
	json_t *x = get(o, key);
	assert_true(json_is_string(x));
	return json_string_value(x);
}

static int truth(const json_t *o, const char *key)
{
	json_t *x = get(o, key);
	assert_true(json_is_boolean(x));
	return json_is_true(x);
}

static json_t *overview(const hx__view *v)
{
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__view_overview_json(v, &b), HX_OK);
	json_t *j = parse(&b);
	hx__buf_free(&b);
	return j;
}

static json_t *lod(const hx__view *v, uint64_t from, uint64_t to, uint32_t px, uint32_t min_px,
                   uint32_t max_items, const uint32_t *lanes, size_t nlanes, int arrows)
{
	hx__lod_req r;
	memset(&r, 0, sizeof(r));
	r.from_ns = from;
	r.to_ns = to;
	r.px = px;
	r.min_px = min_px;
	r.max_items = max_items;
	r.lanes = lanes;
	r.nlanes = nlanes;
	r.arrows = arrows;
	hx__buf b = HX__BUF_INIT;
	char err[200];
	int rc = hx__view_lod_json(v, &r, &b, err, sizeof(err));
	if (rc)
		print_message("lod: %s\n", err);
	assert_int_equal(rc, HX_OK);
	json_t *j = parse(&b);
	hx__buf_free(&b);
	return j;
}

/* The answer's object for lane l (NULL when the lane sent nothing). */
static json_t *lane_of(const json_t *ans, json_int_t l)
{
	json_t *lanes = get(ans, "lanes"), *x;
	size_t i;
	json_array_foreach(lanes, i, x)
		if (num(x, "lane") == l)
			return x;
	return NULL;
}

static json_t *event_json(const hx__view *v, uint32_t e)
{
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__view_event_json(v, e, &b), HX_OK);
	json_t *j = parse(&b);
	hx__buf_free(&b);
	return j;
}

/* ---- lanes ---- */

enum { A = 0xa1, B = 0xb2, C = 0xc3, D = 0xd4 };

static void test_lanes(void **state)
{
	(void)state;
	vb t;
	vb_init(&t, NULL);
	/* process 1 on host "web" starts first (entity D at 5); process 0 on "db" later; process 2
	 * also on "web", with C starting at 50; process 0 has A (at 20) and B (at 10) */
	assert_int_equal(hx__view_builder_process(t.b, 0, "db", "store", "stored", 40, -2500), HX_OK);
	assert_int_equal(hx__view_builder_process(t.b, 1, "web", "", "gateway", 41, 0), HX_OK);
	assert_int_equal(hx__view_builder_process(t.b, 2, "web", "cart", "cartd", 42, 1000), HX_OK);
	t.proc = 0;
	ev(&t, A, 20, HX_EV_ENTITY_BEGIN, "worker", HX_ENTITY_THREAD, 0, NULL, 0);
	BEGIN(&t, A, 21, "a0");
	BEGIN(&t, A, 22, "a1");
	BEGIN(&t, A, 23, "a2");
	END(&t, A, 24);
	END(&t, A, 25);
	END(&t, A, 26);
	ev(&t, B, 10, HX_EV_ENTITY_BEGIN, "main", HX_ENTITY_THREAD, 0, NULL, 0);
	BEGIN(&t, B, 11, "b0");
	END(&t, B, 12);
	t.proc = 2;
	ev(&t, C, 50, HX_EV_ENTITY_BEGIN, "co", HX_ENTITY_COROUTINE, 0, NULL, 0);
	t.proc = 1;
	POINT(&t, D, 5, "hello");
	POINT(&t, D, 60, "bye");
	hx__view *v = vb_finish(&t);
	assert_int_equal(hx__view_lanes_count(v), 4);
	assert_true(hx__view_bytes(v) > hx__dag_bytes(hx__view_dag(v)));

	json_t *o = overview(v);
	assert_string_equal(str(o, "trace_id"), "01900000000000000000000000000011");
	assert_int_equal(num(o, "start_ns"), 5);
	assert_int_equal(num(o, "end_ns"), 60);
	assert_int_equal(num(o, "events"), 13);
	assert_int_equal(num(o, "blocks"), 4);
	json_t *hosts = get(o, "hosts");
	assert_int_equal(json_array_size(hosts), 2);
	/* "web" first (its first event at 5), then "db" */
	json_t *web = json_array_get(hosts, 0), *db = json_array_get(hosts, 1);
	assert_string_equal(str(web, "host"), "web");
	assert_string_equal(str(db, "host"), "db");
	json_t *wp = get(web, "processes");
	assert_int_equal(json_array_size(wp), 2);
	json_t *p0 = json_array_get(wp, 0), *p1 = json_array_get(wp, 1);
	assert_string_equal(str(p0, "program"), "gateway");
	assert_int_equal(num(p0, "pid"), 41);
	assert_string_equal(str(p1, "service"), "cart");
	assert_int_equal(num(p1, "clock_offset_ns"), 1000);
	json_t *dp = json_array_get(get(db, "processes"), 0);
	assert_string_equal(str(dp, "service"), "store");
	assert_string_equal(str(dp, "program"), "stored");
	assert_int_equal(num(dp, "clock_offset_ns"), -2500);
	/* lanes: D (web/gateway), C (web/cart), then B before A (B starts first) */
	json_t *l0 = json_array_get(get(p0, "lanes"), 0);
	assert_int_equal(num(l0, "lane"), 0);
	assert_string_equal(str(l0, "entity"), "00000000000000d4");
	assert_int_equal(num(l0, "depth"), 0);
	assert_int_equal(num(l0, "events"), 2);
	assert_int_equal(num(l0, "first_ns"), 5);
	assert_int_equal(num(l0, "last_ns"), 60);
	json_t *l1 = json_array_get(get(p1, "lanes"), 0);
	assert_int_equal(num(l1, "lane"), 1);
	assert_string_equal(str(l1, "name"), "co");
	assert_string_equal(str(l1, "kind"), "coroutine");
	json_t *dl = get(dp, "lanes");
	assert_int_equal(json_array_size(dl), 2);
	assert_int_equal(num(json_array_get(dl, 0), "lane"), 2);
	assert_string_equal(str(json_array_get(dl, 0), "name"), "main");
	assert_int_equal(num(json_array_get(dl, 0), "depth"), 1);
	assert_int_equal(num(json_array_get(dl, 1), "lane"), 3);
	assert_string_equal(str(json_array_get(dl, 1), "name"), "worker");
	assert_int_equal(num(json_array_get(dl, 1), "depth"), 3);
	json_t *clk = get(o, "clock");
	assert_int_equal(num(clk, "adjusted_processes"), 2);
	assert_int_equal(num(clk, "max_abs_offset_ns"), 2500);
	assert_true(json_is_object(get(o, "report")));
	json_decref(o);

	/* original times: time_orig_ns = time_ns - the process's offset */
	json_t *e = event_json(v, at(v, A, 1));
	assert_int_equal(num(e, "time_ns"), 21);
	assert_int_equal(num(e, "time_orig_ns"), 2521);
	assert_true(truth(e, "adjusted"));
	assert_int_equal(num(e, "lane"), 3);
	assert_string_equal(str(e, "host"), "db");
	json_decref(e);
	e = event_json(v, at(v, D, 0));
	assert_int_equal(num(e, "time_orig_ns"), 5);
	assert_false(truth(e, "adjusted"));
	json_decref(e);
	hx__view_free(v);
}

/* ---- level of detail ---- */

/* Lane 0 (entity A): "outer" [0, 1000] at depth 0; at depth 1, 100 blocks of 3 ns every 5 ns
 * from 100 (the 38th, "slow", takes 4 ns) and "big" [700, 900]; points; a wait. */
static hx__view *lod_trace(void)
{
	vb t;
	vb_init(&t, NULL);
	BEGIN(&t, A, 0, "outer");
	for (int k = 0; k < 100; k++) {
		uint64_t s = 100 + 5 * (uint64_t)k;
		BEGIN(&t, A, s, k == 37 ? "slow" : "small");
		END(&t, A, s + (k == 37 ? 4 : 3));
	}
	BEGIN(&t, A, 700, "big");
	for (int k = 0; k < 10; k++)
		POINT(&t, A, 710 + (uint64_t)k, k == 3 ? "oops" : "tick");
	ev(&t, A, 750, HX_EV_ERROR, "failed", 0, 0, NULL, 0);
	END(&t, A, 900);
	WAIT(&t, A, 920, "disk");
	RUN(&t, A, 960);
	END(&t, A, 1000);
	return vb_finish(&t);
}

static void test_lod_blocks(void **state)
{
	(void)state;
	hx__view *v = lod_trace();
	/* zoomed out: 100 columns of 10 ns */
	json_t *j = lod(v, 0, 1000, 100, 0, 0, NULL, 0, 1);
	assert_int_equal(num(j, "px"), 100);
	assert_int_equal(num(j, "min_px"), 1);
	json_t *l = lane_of(j, 0);
	assert_non_null(l);
	json_t *blocks = get(l, "blocks"), *runs = get(l, "runs");
	assert_int_equal(json_array_size(blocks), 2);
	assert_string_equal(str(json_array_get(blocks, 0), "name"), "outer");
	assert_int_equal(num(json_array_get(blocks, 0), "depth"), 0);
	assert_int_equal(num(json_array_get(blocks, 0), "start_ns"), 0);
	assert_int_equal(num(json_array_get(blocks, 0), "end_ns"), 1000);
	assert_false(truth(json_array_get(blocks, 0), "repaired"));
	assert_string_equal(str(json_array_get(blocks, 1), "name"), "big");
	assert_int_equal(num(json_array_get(blocks, 1), "depth"), 1);
	assert_int_equal(json_array_size(runs), 1);
	json_t *r = json_array_get(runs, 0);
	assert_int_equal(num(r, "depth"), 1);
	assert_int_equal(num(r, "count"), 100);
	assert_int_equal(num(r, "start_ns"), 100);
	assert_int_equal(num(r, "end_ns"), 598);
	assert_string_equal(str(r, "name"), "slow");
	assert_int_equal(num(r, "e"), at(v, A, 1 + 2 * 37));
	/* 10 points in one column, the error alone in its own */
	json_t *pts = get(l, "points"), *bins = get(l, "point_bins");
	assert_int_equal(json_array_size(pts), 1);
	assert_string_equal(str(json_array_get(pts, 0), "name"), "failed");
	assert_string_equal(str(json_array_get(pts, 0), "kind"), "error");
	assert_true(truth(json_array_get(pts, 0), "error"));
	assert_int_equal(json_array_size(bins), 1);
	assert_int_equal(num(json_array_get(bins, 0), "count"), 10);
	assert_int_equal(num(json_array_get(bins, 0), "start_ns"), 710);
	assert_int_equal(num(json_array_get(bins, 0), "end_ns"), 719);
	assert_int_equal(num(json_array_get(bins, 0), "errors"), 0);
	json_t *waits = get(l, "waits");
	assert_int_equal(json_array_size(waits), 1);
	assert_string_equal(str(json_array_get(waits, 0), "reason"), "disk");
	assert_int_equal(num(json_array_get(waits, 0), "start_ns"), 920);
	assert_int_equal(num(json_array_get(waits, 0), "end_ns"), 960);
	json_t *s = get(j, "summary");
	assert_int_equal(num(s, "blocks_whole"), 2);
	assert_int_equal(num(s, "blocks_merged"), 100);
	assert_int_equal(num(s, "runs"), 1);
	assert_int_equal(num(s, "points_whole"), 1);
	assert_int_equal(num(s, "points_binned"), 10);
	assert_int_equal(num(s, "point_bins"), 1);
	assert_int_equal(num(s, "waits_whole"), 1);
	assert_int_equal(num(s, "items"), 2 + 1 + 1 + 1 + 1);
	assert_false(truth(s, "capped"));
	json_decref(j);

	/* zoomed in: [100, 120] at 20 columns of 1 ns: outer and five small blocks, all whole */
	j = lod(v, 100, 120, 20, 0, 0, NULL, 0, 1);
	l = lane_of(j, 0);
	blocks = get(l, "blocks");
	assert_int_equal(json_array_size(blocks), 6);
	assert_int_equal(json_array_size(get(l, "runs")), 0);
	for (int k = 0; k < 5; k++) {
		json_t *b = json_array_get(blocks, (size_t)k + 1);
		assert_string_equal(str(b, "name"), "small");
		assert_int_equal(num(b, "start_ns"), 100 + 5 * k);
		assert_int_equal(num(b, "end_ns"), 103 + 5 * k);
		assert_int_equal(num(b, "e"), at(v, A, 1 + 2 * (uint64_t)k));
		assert_int_equal(num(b, "end_e"), at(v, A, 2 + 2 * (uint64_t)k));
		char id[40];
		snprintf(id, sizeof(id), "00000000000000a1:%d", 1 + 2 * k);
		assert_string_equal(str(b, "id"), id);
	}
	assert_int_equal(num(get(j, "summary"), "blocks_whole"), 6);
	json_decref(j);

	/* the same window merging below 5 columns: the five small blocks are one run */
	j = lod(v, 100, 120, 20, 5, 0, NULL, 0, 1);
	l = lane_of(j, 0);
	assert_int_equal(json_array_size(get(l, "blocks")), 1);
	runs = get(l, "runs");
	assert_int_equal(json_array_size(runs), 1);
	assert_int_equal(num(json_array_get(runs, 0), "count"), 5);
	assert_int_equal(num(json_array_get(runs, 0), "end_ns"), 123);
	assert_int_equal(num(j, "min_px"), 5);
	assert_false(truth(get(j, "summary"), "capped"));
	json_decref(j);

	/* a window with nothing but the outer block in it */
	j = lod(v, 600, 690, 90, 0, 0, NULL, 0, 1);
	l = lane_of(j, 0);
	assert_int_equal(json_array_size(get(l, "blocks")), 1);
	assert_int_equal(num(get(j, "summary"), "items"), 1);
	json_decref(j);
	/* and one before the trace: no lane says anything */
	j = lod(v, 5000, 6000, 100, 0, 0, NULL, 0, 1);
	assert_int_equal(json_array_size(get(j, "lanes")), 0);
	json_decref(j);
	hx__view_free(v);
}

static void test_lod_zoom_points(void **state)
{
	(void)state;
	hx__view *v = lod_trace();
	/* [710, 719] at 10 columns: every point alone in its column */
	json_t *j = lod(v, 710, 719, 10, 0, 0, NULL, 0, 0);
	json_t *l = lane_of(j, 0), *pts = get(l, "points");
	assert_int_equal(json_array_size(pts), 10);
	assert_int_equal(json_array_size(get(l, "point_bins")), 0);
	assert_string_equal(str(json_array_get(pts, 3), "name"), "oops");
	assert_int_equal(num(json_array_get(pts, 3), "time_ns"), 713);
	assert_string_equal(str(json_array_get(pts, 3), "kind"), "point");
	assert_false(truth(json_array_get(pts, 3), "error"));
	json_decref(j);
	/* 5 columns of 1.8 ns: two points share each column, so they are binned, all ten together
	 * (no gap of a column between them) */
	j = lod(v, 710, 719, 5, 0, 0, NULL, 0, 0);
	l = lane_of(j, 0);
	assert_int_equal(json_array_size(get(l, "points")), 0);
	json_t *bins = get(l, "point_bins");
	assert_int_equal(json_array_size(bins), 1);
	assert_int_equal(num(json_array_get(bins, 0), "count"), 10);
	assert_int_equal(num(get(j, "summary"), "points_binned"), 10);
	json_decref(j);
	/* [700, 760]: at 6 columns (10 ns) the ticks are a bin and the error 31 ns on stands alone;
	 * at 2 (30 ns) still; at 1 (60 ns) all eleven are one bin holding one error */
	const uint32_t px[] = {6, 2, 1};
	for (int k = 0; k < 3; k++) {
		j = lod(v, 700, 760, px[k], 0, 0, NULL, 0, 0);
		l = lane_of(j, 0);
		pts = get(l, "points");
		bins = get(l, "point_bins");
		assert_int_equal(json_array_size(bins), 1);
		json_t *bn = json_array_get(bins, 0);
		assert_int_equal(num(bn, "start_ns"), 710);
		if (k < 2) {
			assert_int_equal(json_array_size(pts), 1);
			assert_true(truth(json_array_get(pts, 0), "error"));
			assert_int_equal(num(bn, "count"), 10);
			assert_int_equal(num(bn, "end_ns"), 719);
			assert_int_equal(num(bn, "errors"), 0);
		} else {
			assert_int_equal(json_array_size(pts), 0);
			assert_int_equal(num(bn, "count"), 11);
			assert_int_equal(num(bn, "end_ns"), 750);
			assert_int_equal(num(bn, "errors"), 1);
		}
		json_decref(j);
	}
	hx__view_free(v);
}

static void test_lod_waits_counters(void **state)
{
	(void)state;
	vb t;
	vb_init(&t, NULL);
	/* 20 short waits (2 ns every 10 ns) and one long one */
	for (int k = 0; k < 20; k++) {
		WAIT(&t, A, 10 * (uint64_t)k, k == 7 ? "lock" : "io");
		RUN(&t, A, 10 * (uint64_t)k + (k == 7 ? 3 : 2));
	}
	WAIT(&t, A, 500, "sleep");
	RUN(&t, A, 900);
	/* a counter on B: 1..10 at 0..9, then 42 at 100 */
	for (int k = 0; k < 10; k++)
		counter(&t, B, (uint64_t)k, "queue", k + 1, "items");
	counter(&t, B, 100, "queue", 42, "items");
	counter(&t, B, 3, "mem", 1.5, "MB");
	hx__view *v = vb_finish(&t);
	/* zoomed out, 10 columns of 100 ns: the short waits are one run, the long one whole */
	json_t *j = lod(v, 0, 1000, 10, 0, 0, NULL, 0, 0);
	json_t *l = lane_of(j, 0);
	json_t *w = get(l, "waits"), *wr = get(l, "wait_runs");
	assert_int_equal(json_array_size(w), 1);
	assert_string_equal(str(json_array_get(w, 0), "reason"), "sleep");
	assert_int_equal(json_array_size(wr), 1);
	assert_int_equal(num(json_array_get(wr, 0), "count"), 20);
	assert_string_equal(str(json_array_get(wr, 0), "reason"), "lock");
	assert_int_equal(num(json_array_get(wr, 0), "start_ns"), 0);
	assert_int_equal(num(json_array_get(wr, 0), "end_ns"), 192);
	json_t *s = get(j, "summary");
	assert_int_equal(num(s, "waits_whole"), 1);
	assert_int_equal(num(s, "waits_merged"), 20);
	assert_int_equal(num(s, "wait_runs"), 1);
	/* counters, tracks by name: mem, queue */
	json_t *cl = lane_of(j, 1), *cs = get(cl, "counters");
	assert_int_equal(json_array_size(cs), 2);
	json_t *mem = json_array_get(cs, 0), *q = json_array_get(cs, 1);
	assert_string_equal(str(mem, "name"), "mem");
	assert_string_equal(str(mem, "unit"), "MB");
	assert_string_equal(str(q, "name"), "queue");
	json_t *smp = get(q, "samples");
	/* one column for 0..9 ([0, 1, 10]), one for 100 */
	assert_int_equal(json_array_size(smp), 2);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(smp, 0), 0)), 0);
	assert_true(json_number_value(json_array_get(json_array_get(smp, 0), 1)) == 1);
	assert_true(json_number_value(json_array_get(json_array_get(smp, 0), 2)) == 10);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(smp, 1), 0)), 100);
	assert_true(json_number_value(json_array_get(json_array_get(smp, 1), 1)) == 42);
	assert_true(json_number_value(json_array_get(json_array_get(get(mem, "samples"), 0), 1)) == 1.5);
	json_decref(j);
	/* zoomed into [4, 6] at 3 columns: the samples before and after come along */
	j = lod(v, 4, 6, 3, 0, 0, NULL, 0, 0);
	q = json_array_get(get(lane_of(j, 1), "counters"), 1);
	smp = get(q, "samples");
	assert_int_equal(json_array_size(smp), 5);
	for (size_t k = 0; k < 5; k++) {
		json_t *x = json_array_get(smp, k);
		assert_int_equal(json_integer_value(json_array_get(x, 0)), 3 + (json_int_t)k);
		assert_true(json_number_value(json_array_get(x, 1)) == 4 + (double)k);
	}
	assert_int_equal(num(get(j, "summary"), "counter_samples"), 5 + 1); /* and mem's, before */
	json_decref(j);
	/* the overview lists the tracks with their range */
	json_t *o = overview(v);
	json_t *ct = get(o, "counters");
	assert_int_equal(json_array_size(ct), 2);
	assert_string_equal(str(json_array_get(ct, 1), "name"), "queue");
	assert_int_equal(num(json_array_get(ct, 1), "samples"), 11);
	assert_true(json_number_value(get(json_array_get(ct, 1), "max")) == 42);
	assert_string_equal(str(json_array_get(ct, 1), "unit"), "items");
	json_decref(o);
	hx__view_free(v);
}

/* ---- arrows ---- */

/* A (lane 0) sends 50 messages to B (lane 1), 5 ns each way; B sends one to C (lane 2) that
 * arrives much later and ends C's wait. */
static hx__view *arrow_trace(void)
{
	vb t;
	vb_init(&t, NULL);
	POINT(&t, A, 0, "a");
	POINT(&t, B, 1, "b");
	WAIT(&t, C, 2, "msg");
	hx_context far = CAUSE(&t, B, 50, HX_IA_MESSAGE, "far");
	for (int k = 0; k < 50; k++) {
		hx_context c = CAUSE(&t, A, 100 + 10 * (uint64_t)k, HX_IA_MESSAGE, "send");
		EFFECT(&t, B, 105 + 10 * (uint64_t)k, HX_IA_MESSAGE, "recv", 0, &c, 1);
	}
	EFFECT(&t, C, 2000, HX_IA_MESSAGE, "got", 1, &far, 1);
	return vb_finish(&t);
}

static json_int_t arrows_in(const hx__view *v, uint64_t from, uint64_t to, const uint32_t *lanes,
                            size_t n, uint32_t max_items, json_int_t *left)
{
	json_t *j = lod(v, from, to, 100, 0, max_items, lanes, n, 1);
	json_t *s = get(j, "summary");
	json_int_t a = num(s, "arrows");
	*left = num(s, "arrows_left_out");
	assert_int_equal((json_int_t)json_array_size(get(j, "arrows")), a);
	json_decref(j);
	return a;
}

static void test_arrows(void **state)
{
	(void)state;
	hx__view *v = arrow_trace();
	json_t *j = lod(v, 300, 400, 100, 0, 0, NULL, 0, 1);
	json_t *ar = get(j, "arrows");
	/* 11 sends start in the window, and the long arrow crosses it */
	assert_int_equal(json_array_size(ar), 12);
	int seen_far = 0;
	size_t i;
	json_t *x;
	json_array_foreach(ar, i, x) {
		json_t *c = get(x, "cause"), *e = get(x, "effect");
		assert_string_equal(str(x, "kind"), "message");
		if (num(c, "lane") == 1) {
			seen_far = 1;
			assert_int_equal(num(e, "lane"), 2);
			assert_int_equal(num(c, "time_ns"), 50);
			assert_int_equal(num(e, "time_ns"), 2000);
			assert_true(truth(x, "resumes"));
			assert_int_equal(num(e, "e"), at(v, C, 1));
			assert_string_equal(str(e, "id"), "00000000000000c3:1");
		} else {
			assert_int_equal(num(c, "lane"), 0);
			assert_int_equal(num(e, "lane"), 1);
			assert_int_equal(num(e, "time_ns") - num(c, "time_ns"), 5);
			assert_false(truth(x, "resumes"));
		}
	}
	assert_true(seen_far);
	assert_int_equal(num(get(j, "summary"), "arrows_left_out"), 0);
	json_decref(j);

	json_int_t left;
	uint32_t l0[] = {0}, l1[] = {1}, l2[] = {2}, l01[] = {0, 1}, l12[] = {1, 2}, l02[] = {2, 0};
	assert_int_equal(arrows_in(v, 300, 400, l0, 1, 0, &left), 11);
	assert_int_equal(arrows_in(v, 300, 400, l1, 1, 0, &left), 12);
	assert_int_equal(arrows_in(v, 300, 400, l2, 1, 0, &left), 1);
	assert_int_equal(arrows_in(v, 300, 400, l01, 2, 0, &left), 12);
	assert_int_equal(arrows_in(v, 300, 400, l12, 2, 0, &left), 12);
	assert_int_equal(arrows_in(v, 300, 400, l02, 2, 0, &left), 12);
	assert_int_equal(left, 0);
	/* capped: 51 arrows, a fifth of 100 items sent, the rest counted */
	assert_int_equal(arrows_in(v, 0, 3000, NULL, 0, 100, &left), 20);
	assert_int_equal(left, 31);
	assert_int_equal(arrows_in(v, 0, 3000, l0, 1, 100, &left) + left, 50);
	/* an arrow is in a window it only crosses */
	assert_int_equal(arrows_in(v, 1000, 1500, NULL, 0, 0, &left), 1);
	/* without arrows */
	j = lod(v, 0, 3000, 100, 0, 0, NULL, 0, 0);
	assert_int_equal(json_array_size(get(j, "arrows")), 0);
	assert_int_equal(num(get(j, "summary"), "arrows_left_out"), 0);
	json_decref(j);
	hx__view_free(v);
}

/* ---- summaries add up: a random trace, many windows, checked against brute force ---- */

static uint64_t rnd_state;
static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rnd_state >> 33) % n;
}

static hx__view *random_trace(size_t lanes, size_t per_lane)
{
	vb t;
	vb_init(&t, NULL);
	hx_context pool[256];
	size_t npool = 0;
	for (size_t l = 0; l < lanes; l++) {
		uint64_t ent = 0x100 + l, time = l, depth = 0;
		int waiting = 0;
		for (size_t k = 0; k < per_lane; k++) {
			time += 1 + rnd(rnd(4) ? 5 : 200);
			uint32_t op = rnd(10);
			if (waiting) {
				RUN(&t, ent, time);
				waiting = 0;
			} else if (op < 3 && depth < 4) {
				BEGIN(&t, ent, time, rnd(2) ? "work" : "step");
				depth++;
			} else if (op < 6 && depth) {
				END(&t, ent, time);
				depth--;
			} else if (op == 6) {
				POINT(&t, ent, time, "tick");
			} else if (op == 7) {
				WAIT(&t, ent, time, "io");
				waiting = 1;
			} else if (op == 8 && npool < 256) {
				pool[npool++] = CAUSE(&t, ent, time, HX_IA_MESSAGE, "send");
			} else if (npool) {
				hx_context c = pool[rnd((uint32_t)npool)];
				EFFECT(&t, ent, time, HX_IA_MESSAGE, "recv", 0, &c, 1);
			} else {
				counter(&t, ent, time, "level", rnd(100), "");
			}
		}
		while (depth--)
			END(&t, ent, time += 3);
	}
	return vb_finish(&t);
}

static void check_window(const hx__view *v, uint64_t from, uint64_t to, uint32_t px, uint32_t min_px,
                         uint32_t max_items, const uint32_t *lanes, size_t nl)
{
	const hx__dag *d = hx__view_dag(v);
	size_t nlanes = hx__view_lanes_count(v);
	uint8_t sel[256];
	memset(sel, lanes ? 0 : 1, sizeof(sel));
	for (size_t i = 0; i < nl; i++)
		sel[lanes[i]] = 1;
	uint64_t blocks = 0, points = 0, waits = 0, arrows = 0;
	for (size_t b = 0; b < d->nblocks; b++)
		blocks += sel[v->ent_lane[d->blocks[b].entity]] && d->ev_time[d->blocks[b].begin] <= to &&
		          d->ev_time[d->blocks[b].end] >= from;
	for (size_t w = 0; w < d->nwaits; w++)
		waits += sel[v->ent_lane[d->waits[w].entity]] && d->ev_time[d->waits[w].start] <= to &&
		         d->ev_time[d->waits[w].end] >= from;
	for (size_t i = 0; i < d->n; i++) {
		points += sel[v->ent_lane[d->ev_entity[i]]] && hx__v_is_point(d->ev_kind[i]) &&
		          d->ev_time[i] >= from && d->ev_time[i] <= to;
		for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1]; k++) {
			uint32_t c = d->cause_ev[k];
			if (c == HX__DAG_NONE)
				continue;
			uint64_t lo = d->ev_time[c] < d->ev_time[i] ? d->ev_time[c] : d->ev_time[i];
			uint64_t hi = d->ev_time[c] > d->ev_time[i] ? d->ev_time[c] : d->ev_time[i];
			arrows += (sel[v->ent_lane[d->ev_entity[i]]] || sel[v->ent_lane[d->ev_entity[c]]]) &&
			          lo <= to && hi >= from;
		}
	}
	json_t *j = lod(v, from, to, px, min_px, max_items, lanes, nl, 1);
	json_t *s = get(j, "summary");
	assert_int_equal(num(s, "blocks_whole") + num(s, "blocks_merged") + num(s, "blocks_left_out"), blocks);
	assert_int_equal(num(s, "points_whole") + num(s, "points_binned") + num(s, "points_left_out"), points);
	assert_int_equal(num(s, "waits_whole") + num(s, "waits_merged") + num(s, "waits_left_out"), waits);
	assert_int_equal(num(s, "arrows") + num(s, "arrows_left_out"), arrows);
	assert_true(num(s, "items") <= (json_int_t)(max_items ? max_items : 50000));
	/* the arrays hold what the summary says */
	json_int_t whole = 0, merged = 0, runs = 0, pw = 0, pb = 0, bins = 0, ww = 0, wm = 0, wr = 0, smp = 0;
	size_t i, k;
	json_t *l, *x;
	json_array_foreach(get(j, "lanes"), i, l) {
		json_int_t lane = num(l, "lane");
		assert_true(lane >= 0 && (size_t)lane < nlanes && sel[lane]);
		whole += (json_int_t)json_array_size(get(l, "blocks"));
		json_array_foreach(get(l, "runs"), k, x) {
			assert_true(num(x, "count") >= 2);
			merged += num(x, "count");
			runs++;
		}
		pw += (json_int_t)json_array_size(get(l, "points"));
		json_array_foreach(get(l, "point_bins"), k, x) {
			assert_true(num(x, "count") >= 2);
			pb += num(x, "count");
			bins++;
		}
		ww += (json_int_t)json_array_size(get(l, "waits"));
		json_array_foreach(get(l, "wait_runs"), k, x) {
			wm += num(x, "count");
			wr++;
		}
		json_array_foreach(get(l, "counters"), k, x)
			smp += (json_int_t)json_array_size(get(x, "samples"));
	}
	assert_int_equal(whole, num(s, "blocks_whole"));
	assert_int_equal(merged, num(s, "blocks_merged"));
	assert_int_equal(runs, num(s, "runs"));
	assert_int_equal(pw, num(s, "points_whole"));
	assert_int_equal(pb, num(s, "points_binned"));
	assert_int_equal(bins, num(s, "point_bins"));
	assert_int_equal(ww, num(s, "waits_whole"));
	assert_int_equal(wm, num(s, "waits_merged"));
	assert_int_equal(wr, num(s, "wait_runs"));
	assert_int_equal(smp, num(s, "counter_samples"));
	assert_int_equal(whole + runs + pw + bins + ww + wr + smp + num(s, "arrows"), num(s, "items"));
	assert_int_equal((json_int_t)json_array_size(get(j, "left_out_lanes")), num(s, "lanes_left_out"));
	if (num(s, "lanes_left_out") || num(s, "arrows_left_out") || num(j, "min_px") > (min_px ? min_px : 1))
		assert_true(truth(s, "capped"));
	else
		assert_false(truth(s, "capped"));
	json_decref(j);
}

static void test_summary_adds_up(void **state)
{
	(void)state;
	rnd_state = 42;
	hx__view *v = random_trace(40, HXT_SANITIZED ? 300 : 1500);
	json_t *o = overview(v);
	uint64_t start = (uint64_t)num(o, "start_ns"), end = (uint64_t)num(o, "end_ns");
	json_decref(o);
	size_t nl = hx__view_lanes_count(v);
	assert_int_equal(nl, 40);
	for (int it = 0; it < (HXT_SANITIZED ? 60 : 200); it++) {
		uint64_t span = end - start + 1;
		uint64_t from = start + rnd((uint32_t)span), len = 1 + rnd((uint32_t)(span / (1 + rnd(20))) + 1);
		if (it % 10 == 0) {
			from = start > 10 ? start - 10 : 0;
			len = end - from + 10;
		}
		uint32_t px = 1 + rnd(it % 3 ? 2000 : 50);
		uint32_t min_px = rnd(3) ? 0 : 1 + rnd(64);
		uint32_t max_items = rnd(3) ? 0 : 100 + rnd(2000);
		uint32_t lanes[40];
		size_t n = 0;
		if (rnd(2))
			for (uint32_t l = 0; l < nl; l++)
				if (rnd(3) == 0)
					lanes[n++] = l;
		check_window(v, from, from + len, px, min_px, max_items, n ? lanes : NULL, n);
	}
	/* the smallest cap over everything: lanes are left out, and said */
	json_t *j = lod(v, start, end, 16384, 0, 100, NULL, 0, 1);
	json_t *s = get(j, "summary");
	assert_true(truth(s, "capped"));
	assert_true(num(s, "lanes_left_out") > 0);
	assert_true(num(s, "items") <= 100);
	json_decref(j);
	check_window(v, start, end, 16384, 0, 100, NULL, 0);
	/* a window of centuries: the column arithmetic goes 128-bit */
	check_window(v, 0, INT64_MAX, 1500, 0, 0, NULL, 0);
	check_window(v, start, INT64_MAX, 7, 3, 100, NULL, 0);
	hx__view_free(v);
}

/* ---- one event in full ---- */

static void test_event(void **state)
{
	(void)state;
	vb t;
	vb_init(&t, NULL);
	static const uint8_t raw[] = {1, 2, 3};
	const hx_attr attrs[] = {HX_STR("method", "GET"), HX_INT("n", 42), HX_DOUBLE("ratio", 0.5),
	                         HX_BOOL("ok", 1), HX_BYTES("raw", raw, 3)};
	ev(&t, A, 5, HX_EV_ENTITY_BEGIN, "client", HX_ENTITY_THREAD, 0, NULL, 0);  /* A:0 */
	ev_attrs(&t, A, 10, HX_EV_BLOCK_BEGIN, "request", attrs, 5);             /* A:1 */
	BEGIN(&t, A, 20, "db");                                                  /* A:2 */
	hx_context q = CAUSE(&t, A, 25, HX_IA_REQUEST, "query");                 /* A:3 */
	WAIT(&t, A, 26, "reply");                                                /* A:4 */
	POINT(&t, B, 28, "up");                                                  /* B:0 */
	EFFECT(&t, B, 30, HX_IA_REQUEST, "handle", 0, &q, 1);                    /* B:1 */
	BEGIN(&t, B, 31, "work");                                                /* B:2 */
	END(&t, B, 50);                                                          /* B:3 */
	hx_context r = CAUSE(&t, B, 55, HX_IA_REPLY, "reply");                   /* B:4 */
	hx_context cs[2] = {r, r};
	cs[1].entity_id = 0xdead;
	cs[1].seq = 5;
	EFFECT(&t, A, 60, HX_IA_REPLY, "answer", 1, cs, 2);                      /* A:5 */
	END(&t, A, 70);                                                          /* A:6 */
	END(&t, A, 100);                                                         /* A:7 */
	counter(&t, A, 101, "temp", 21.5, "C");                                  /* A:8 */
	hx__view *v = vb_finish(&t);

	json_t *e = event_json(v, at(v, A, 1));
	assert_int_equal(num(e, "e"), at(v, A, 1));
	assert_string_equal(str(e, "id"), "00000000000000a1:1");
	assert_string_equal(str(e, "kind"), "block_begin");
	assert_string_equal(str(e, "name"), "request");
	assert_string_equal(str(e, "entity"), "00000000000000a1");
	assert_string_equal(str(e, "entity_name"), "client");
	assert_int_equal(num(e, "lane"), 0);
	assert_int_equal(num(e, "time_ns"), 10);
	assert_string_equal(str(e, "trace"), "01900000000000000000000000000011");
	json_t *at_ = get(e, "attrs");
	assert_string_equal(str(at_, "method"), "GET");
	assert_int_equal(num(at_, "n"), 42);
	assert_true(json_real_value(get(at_, "ratio")) == 0.5);
	assert_true(truth(at_, "ok"));
	assert_string_equal(str(at_, "raw"), "AQID");
	json_t *blk = get(e, "block");
	assert_string_equal(str(blk, "name"), "request");
	assert_int_equal(num(blk, "duration_ns"), 90);
	assert_int_equal(num(blk, "self_ns"), 40);
	assert_int_equal(num(blk, "depth"), 0);
	assert_true(json_is_null(get(blk, "parent")));
	assert_int_equal(num(get(blk, "begin"), "e"), at(v, A, 1));
	assert_int_equal(num(get(blk, "end"), "e"), at(v, A, 7));
	assert_string_equal(str(get(blk, "end"), "id"), "00000000000000a1:7");
	assert_int_equal(json_array_size(get(e, "causes")), 0);
	assert_int_equal(json_array_size(get(e, "effects")), 0);
	assert_null(json_object_get(e, "wait"));
	json_decref(e);

	/* the end of "db": the same block, with its parent */
	e = event_json(v, at(v, A, 6));
	assert_string_equal(str(e, "kind"), "block_end");
	blk = get(e, "block");
	assert_string_equal(str(blk, "name"), "db");
	assert_int_equal(num(blk, "duration_ns"), 50);
	assert_int_equal(num(blk, "self_ns"), 50);
	assert_int_equal(num(blk, "depth"), 1);
	assert_string_equal(str(get(blk, "parent"), "name"), "request");
	assert_int_equal(num(get(blk, "parent"), "e"), at(v, A, 1));
	json_decref(e);

	/* a cause: its effect, in the block it is in */
	e = event_json(v, at(v, A, 3));
	assert_string_equal(str(e, "interaction"), "request");
	assert_string_equal(str(get(e, "in_block"), "name"), "db");
	json_t *ef = get(e, "effects");
	assert_int_equal(json_array_size(ef), 1);
	assert_int_equal(num(json_array_get(ef, 0), "e"), at(v, B, 1));
	assert_int_equal(num(json_array_get(ef, 0), "lane"), 1);
	assert_int_equal(num(json_array_get(ef, 0), "time_ns"), 30);
	assert_string_equal(str(json_array_get(ef, 0), "name"), "handle");
	assert_string_equal(str(json_array_get(ef, 0), "kind"), "request");
	json_decref(e);

	/* an effect with a linked and a dangling cause, which ends a wait */
	e = event_json(v, at(v, A, 5));
	assert_true(truth(e, "resumes"));
	json_t *ca = get(e, "causes");
	assert_int_equal(json_array_size(ca), 2);
	json_t *c0 = json_array_get(ca, 0), *c1 = json_array_get(ca, 1);
	assert_true(truth(c0, "linked"));
	assert_string_equal(str(c0, "class"), "linked");
	assert_int_equal(num(c0, "e"), at(v, B, 4));
	assert_int_equal(num(c0, "lane"), 1);
	assert_string_equal(str(c0, "name"), "reply");
	assert_string_equal(str(c0, "kind"), "reply");
	assert_false(truth(c1, "linked"));
	assert_string_equal(str(c1, "class"), "dangling");
	assert_string_equal(str(c1, "entity"), "000000000000dead");
	assert_int_equal(num(c1, "seq"), 5);
	json_t *w = get(e, "wait");
	assert_string_equal(str(w, "reason"), "reply");
	assert_int_equal(num(w, "start_ns"), 26);
	assert_int_equal(num(w, "end_ns"), 60);
	assert_true(truth(w, "ends_here"));
	assert_int_equal(num(get(w, "resumed_by"), "e"), at(v, A, 5));
	json_decref(e);
	/* the waiting state: the wait it begins */
	e = event_json(v, at(v, A, 4));
	assert_string_equal(str(e, "state"), "waiting");
	assert_false(truth(get(e, "wait"), "ends_here"));
	json_decref(e);
	/* a counter */
	e = event_json(v, at(v, A, 8));
	assert_true(json_number_value(get(e, "value")) == 21.5);
	assert_string_equal(str(e, "unit"), "C");
	assert_true(json_is_null(get(e, "in_block")));
	json_decref(e);

	/* event IDs */
	assert_int_equal(hx__view_find_id(v, "00000000000000a1:5"), at(v, A, 5));
	assert_int_equal(hx__view_find_id(v, "00000000000000A1:5"), at(v, A, 5));
	const char *bad[] = {"", "xyz", "00000000000000a1", "00000000000000a1:", "00000000000000a1:1x",
	                     "0000000000000a1:1", "00000000000000a1:99", "00000000000000a1:-1",
	                     "00000000000000a1:99999999999999999999", "0000000000000g00:1", NULL};
	for (int k = 0; bad[k]; k++)
		assert_int_equal(hx__view_find_id(v, bad[k]), HX__DAG_NONE);
	assert_int_equal(hx__view_find_id(v, NULL), HX__DAG_NONE);
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__view_event_json(v, (uint32_t)hx__view_dag(v)->n, &b), HX_ENOENT);
	assert_int_equal(hx__view_event_json(v, HX__DAG_NONE, &b), HX_ENOENT);
	hx__buf_free(&b);
	hx__view_free(v);
}

/* ---- find ---- */

static json_t *find(const hx__view *v, const char *q, uint32_t after, int dir)
{
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__view_find_json(v, q, after, dir, &b), HX_OK);
	json_t *j = parse(&b);
	hx__buf_free(&b);
	return j;
}

/* The index of the match (HX__DAG_NONE for null), checking the total. */
static uint32_t found(const hx__view *v, const char *q, uint32_t after, int dir, json_int_t total)
{
	json_t *j = find(v, q, after, dir);
	assert_int_equal(num(j, "total"), total);
	json_t *m = get(j, "match");
	uint32_t e = HX__DAG_NONE;
	if (!json_is_null(m)) {
		e = (uint32_t)num(m, "e");
		const hx__dag *d = hx__view_dag(v);
		assert_int_equal(num(m, "time_ns"), d->ev_time[e]);
		assert_int_equal(num(m, "lane"), v->ent_lane[d->ev_entity[e]]);
		assert_string_equal(str(m, "name"), hx__dag_str(d, d->ev_name[e]));
	}
	json_decref(j);
	return e;
}

static void test_find(void **state)
{
	(void)state;
	vb t;
	vb_init(&t, NULL);
	const hx_attr k1[] = {HX_STR("k", "Alpha-2")};
	const hx_attr n1[] = {HX_INT("n", 12345)};
	POINT(&t, A, 10, "alpha");
	ev_attrs(&t, A, 20, HX_EV_POINT, "beta", k1, 1);
	POINT(&t, A, 30, "gamma");
	POINT(&t, B, 15, "ALPHA");
	ev_attrs(&t, B, 25, HX_EV_POINT, "delta", n1, 1);
	POINT(&t, B, 20, "also alpha at 20");
	hx__view *v = vb_finish(&t);
	uint32_t a10 = at(v, A, 0), b20 = at(v, A, 1), b15 = at(v, B, 0), d25 = at(v, B, 1), x20 = at(v, B, 2);
	/* in time order: alpha@10, ALPHA@15, beta@20 (A, the lower index), "also alpha"@20 */
	assert_int_equal(found(v, "alpha", HX__DAG_NONE, 1, 4), a10);
	assert_int_equal(found(v, "alpha", a10, 1, 4), b15);
	assert_int_equal(found(v, "alpha", b15, 1, 4), b20);
	assert_int_equal(found(v, "alpha", b20, 1, 4), x20);
	assert_int_equal(found(v, "alpha", x20, 1, 4), HX__DAG_NONE); /* no wrapping */
	assert_int_equal(found(v, "ALPHA", HX__DAG_NONE, -1, 4), x20);
	assert_int_equal(found(v, "Alpha", x20, -1, 4), b20);
	assert_int_equal(found(v, "alpha", b15, -1, 4), a10);
	assert_int_equal(found(v, "alpha", a10, -1, 4), HX__DAG_NONE);
	/* a non-matching `after` still places the search */
	assert_int_equal(found(v, "alpha", d25, -1, 4), x20);
	assert_int_equal(found(v, "k=alpha", HX__DAG_NONE, 1, 1), b20);
	assert_int_equal(found(v, "K=ALPHA-2", HX__DAG_NONE, 1, 1), b20);
	assert_int_equal(found(v, "k=gamma", HX__DAG_NONE, 1, 0), HX__DAG_NONE);
	assert_int_equal(found(v, "n=234", HX__DAG_NONE, 1, 1), d25);
	assert_int_equal(found(v, "345", HX__DAG_NONE, 1, 1), d25);
	assert_int_equal(found(v, "zzz", HX__DAG_NONE, 1, 0), HX__DAG_NONE);
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__view_find_json(v, "", HX__DAG_NONE, 1, &b), HX_EINVAL);
	assert_int_equal(hx__view_find_json(v, NULL, HX__DAG_NONE, 1, &b), HX_EINVAL);
	assert_int_equal(hx__view_find_json(v, "a", HX__DAG_NONE, 0, &b), HX_EINVAL);
	assert_int_equal(hx__view_find_json(v, "a", 1000, 1, &b), HX_EINVAL);
	assert_int_equal(b.len, 0);
	hx__buf_free(&b);
	hx__view_free(v);
}

/* ---- range ---- */

static json_t *range(const hx__view *v, uint64_t from, uint64_t to, const uint32_t *lanes, size_t n)
{
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__view_range_json(v, from, to, lanes, n, &b), HX_OK);
	json_t *j = parse(&b);
	hx__buf_free(&b);
	return j;
}

static void test_range(void **state)
{
	(void)state;
	vb t;
	vb_init(&t, NULL);
	BEGIN(&t, A, 0, "outer");
	BEGIN(&t, A, 10, "inner");
	END(&t, A, 30);
	BEGIN(&t, A, 40, "inner");
	POINT(&t, A, 50, "p");
	END(&t, A, 80);
	POINT(&t, A, 90, "p");
	POINT(&t, A, 95, "q");
	END(&t, A, 100);
	BEGIN(&t, B, 0, "other");
	END(&t, B, 100);
	hx__view *v = vb_finish(&t);
	uint32_t lane_a = v->ent_lane[hx__dag_entity_find(hx__view_dag(v), A)];
	json_t *j = range(v, 20, 60, &lane_a, 1);
	assert_int_equal(num(j, "from_ns"), 20);
	json_t *bl = get(j, "blocks");
	assert_int_equal(json_array_size(bl), 2);
	json_t *o = json_array_get(bl, 0), *in = json_array_get(bl, 1);
	assert_string_equal(str(o, "name"), "outer");
	assert_int_equal(num(o, "count"), 1);
	assert_int_equal(num(o, "total_ns"), 40);
	assert_int_equal(num(o, "self_ns"), 10);
	assert_string_equal(str(in, "name"), "inner");
	assert_int_equal(num(in, "count"), 2);
	assert_int_equal(num(in, "total_ns"), 30);
	assert_int_equal(num(in, "self_ns"), 30);
	json_t *pt = get(j, "points");
	assert_int_equal(json_array_size(pt), 1);
	assert_string_equal(str(json_array_get(pt, 0), "name"), "p");
	assert_int_equal(num(json_array_get(pt, 0), "count"), 1);
	json_decref(j);
	/* everything, both lanes */
	j = range(v, 0, 100, NULL, 0);
	bl = get(j, "blocks");
	assert_int_equal(json_array_size(bl), 3);
	json_t *x;
	size_t i;
	json_int_t self_sum = 0, outer_total = 0;
	json_array_foreach(bl, i, x) {
		if (!strcmp(str(x, "name"), "outer")) {
			outer_total = num(x, "total_ns");
			assert_int_equal(num(x, "self_ns"), 40);
		}
		if (strcmp(str(x, "name"), "other"))
			self_sum += num(x, "self_ns");
	}
	/* on one lane, self times add up to the top level's total */
	assert_int_equal(self_sum, outer_total);
	pt = get(j, "points");
	assert_int_equal(json_array_size(pt), 2);
	assert_string_equal(str(json_array_get(pt, 0), "name"), "p");
	assert_int_equal(num(json_array_get(pt, 0), "count"), 2);
	json_decref(j);
	hx__buf b = HX__BUF_INIT;
	uint32_t bad = 7;
	assert_int_equal(hx__view_range_json(v, 60, 60, NULL, 0, &b), HX_EINVAL);
	assert_int_equal(hx__view_range_json(v, 60, 20, NULL, 0, &b), HX_EINVAL);
	assert_int_equal(hx__view_range_json(v, 0, 20, &bad, 1, &b), HX_EINVAL);
	assert_int_equal(hx__view_range_json(v, 0, 20, NULL, 2, &b), HX_EINVAL);
	hx__buf_free(&b);
	hx__view_free(v);
}

/* ---- critical path ---- */

static void test_critpath(void **state)
{
	(void)state;
	vb t;
	vb_init(&t, NULL);
	ev(&t, A, 0, HX_EV_TRACE_BEGIN, "call", 0, 0, NULL, 0);
	hx_context req = CAUSE(&t, A, 10, HX_IA_REQUEST, "request");
	WAIT(&t, A, 11, "reply");
	ev(&t, B, 20, HX_EV_TRACE_JOIN, "", HX_IA_CAUSAL, 0, &req, 1);
	BEGIN(&t, B, 25, "handle");
	END(&t, B, 85);
	hx_context rep = CAUSE(&t, B, 90, HX_IA_REPLY, "reply");
	EFFECT(&t, A, 100, HX_IA_REPLY, "reply received", 1, &rep, 1);
	POINT(&t, A, 110, "done");
	hx__view *v = vb_finish(&t);
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__view_critpath_json(v, &b), HX_OK);
	json_t *j = parse(&b);
	hx__buf_free(&b);
	assert_string_equal(str(j, "root"), "call");
	assert_int_equal(num(j, "duration_ns"), 110);
	json_t *seg = get(j, "segments");
	assert_int_equal(json_array_size(seg), 7);
	const char *kinds[] = {"running", "transfer", "running", "running", "running", "transfer", "running"};
	const int lanes[] = {0, 1, 1, 1, 1, 0, 0};
	for (size_t k = 0; k < 7; k++) {
		json_t *s = json_array_get(seg, k);
		assert_string_equal(str(s, "kind"), kinds[k]);
		assert_int_equal(num(s, "lane"), lanes[k]);
		if (!strcmp(kinds[k], "transfer"))
			assert_int_equal(num(s, "from_lane"), 1 - lanes[k]);
		else
			assert_null(json_object_get(s, "from_lane"));
	}
	assert_string_equal(str(json_array_get(seg, 3), "block"), "handle");
	assert_int_equal(num(json_array_get(seg, 3), "start_ns"), 25);
	json_t *path = get(j, "path");
	const uint32_t want[] = {at(v, A, 0), at(v, A, 1), at(v, B, 0), at(v, B, 1),
	                         at(v, B, 2), at(v, B, 3), at(v, A, 3), at(v, A, 4)};
	assert_int_equal(json_array_size(path), 8);
	assert_int_equal(num(j, "path_events"), 8);
	for (size_t k = 0; k < 8; k++)
		assert_int_equal(json_integer_value(json_array_get(path, k)), want[k]);
	assert_true(json_is_object(get(j, "by_kind")));
	assert_true(json_is_object(get(j, "walk")));
	json_decref(j);
	hx__view_free(v);
}

/* ---- the cache ---- */

typedef struct loader {
	pthread_mutex_t mu;
	int loads;
	int sleep_ms;
	uint8_t fail_id;       /* last byte of a trace that does not load */
} loader;

static int load(hx__view_builder *b, const uint8_t trace_id[16], void *user)
{
	loader *ld = user;
	pthread_mutex_lock(&ld->mu);
	ld->loads++;
	pthread_mutex_unlock(&ld->mu);
	if (ld->sleep_ms)
		nanosleep(&(struct timespec){0, ld->sleep_ms * 1000000L}, NULL);
	if (trace_id[15] == ld->fail_id)
		return HX_ENOENT;
	for (uint64_t k = 0; k < 200; k++) {
		hx_event e;
		memset(&e, 0, sizeof(e));
		e.kind = k % 2 ? HX_EV_BLOCK_END : HX_EV_BLOCK_BEGIN;
		e.time_ns = e.time_orig_ns = 1000 + k;
		e.entity_id = A;
		e.seq = k;
		memcpy(e.trace_id, trace_id, 16);
		e.name = "blk";
		e.name_len = 3;
		int rc = hx__view_builder_add(b, &e, 0);
		if (rc)
			return rc;
	}
	return HX_OK;
}

static void trace_id(uint8_t id[16], uint8_t last)
{
	memcpy(id, TR, 16);
	id[15] = last;
}

typedef struct getter {
	hx__view_cache *c;
	loader *ld;
	uint8_t last;
	hx__view *v;
	int rc;
} getter;

static void *get_thread(void *arg)
{
	getter *g = arg;
	uint8_t id[16];
	trace_id(id, g->last);
	g->rc = hx__view_cache_get(g->c, id, load, g->ld, &g->v);
	return NULL;
}

static void test_cache(void **state)
{
	(void)state;
	loader ld;
	memset(&ld, 0, sizeof(ld));
	pthread_mutex_init(&ld.mu, NULL);
	ld.fail_id = 0xee;
	uint8_t t1[16], t2[16], t3[16], bad[16];
	trace_id(t1, 1);
	trace_id(t2, 2);
	trace_id(t3, 3);
	trace_id(bad, 0xee);

	/* the size of one model, for a budget of one and a half */
	hx__view_cache *c;
	assert_int_equal(hx__view_cache_new(&c, SIZE_MAX), HX_OK);
	hx__view *v1, *v1b, *v2, *v3;
	assert_int_equal(hx__view_cache_get(c, t1, load, &ld, &v1), HX_OK);
	size_t one = hx__view_bytes(v1);
	assert_int_equal(hx__view_dag(v1)->n, 200);
	hx__view_cache_put(c, v1);
	hx__view_cache_free(c);
	ld.loads = 0;

	assert_int_equal(hx__view_cache_new(&c, one + one / 2), HX_OK);
	assert_int_equal(hx__view_cache_get(c, t1, load, &ld, &v1), HX_OK);
	assert_int_equal(hx__view_cache_get(c, t1, load, &ld, &v1b), HX_OK);
	assert_ptr_equal(v1, v1b);
	assert_int_equal(ld.loads, 1);
	assert_int_equal(hx__view_cache_bytes(c), one);
	hx__view_cache_put(c, v1);
	hx__view_cache_put(c, v1b);
	/* a second model: over budget, the unused first goes */
	assert_int_equal(hx__view_cache_get(c, t2, load, &ld, &v2), HX_OK);
	assert_int_equal(ld.loads, 2);
	assert_int_equal(hx__view_cache_count(c), 1);
	assert_int_equal(hx__view_cache_bytes(c), one);
	/* a third while the second is held: both stay until the second is put back */
	assert_int_equal(hx__view_cache_get(c, t3, load, &ld, &v3), HX_OK);
	assert_int_equal(hx__view_cache_count(c), 2);
	json_t *o = overview(v2); /* still usable */
	json_decref(o);
	hx__view_cache_put(c, v2);
	assert_int_equal(hx__view_cache_count(c), 1);
	hx__view_cache_put(c, v3);
	assert_int_equal(hx__view_cache_count(c), 1);
	assert_int_equal(hx__view_cache_get(c, t3, load, &ld, &v3), HX_OK);
	assert_int_equal(ld.loads, 3);
	hx__view_cache_put(c, v3);
	/* t1 was evicted: built again */
	assert_int_equal(hx__view_cache_get(c, t1, load, &ld, &v1), HX_OK);
	assert_int_equal(ld.loads, 4);
	hx__view_cache_put(c, v1);

	/* errors are returned and not kept */
	hx__view *vb_ = (hx__view *)1;
	assert_int_equal(hx__view_cache_get(c, bad, load, &ld, &vb_), HX_ENOENT);
	assert_null(vb_);
	assert_int_equal(hx__view_cache_get(c, bad, load, &ld, &vb_), HX_ENOENT);
	assert_int_equal(ld.loads, 6);
	assert_int_equal(hx__view_cache_count(c), 1);

	/* concurrent gets of one trace build it once */
	ld.sleep_ms = 50;
	getter g[8];
	pthread_t th[8];
	for (int k = 0; k < 8; k++) {
		g[k] = (getter){c, &ld, 4, NULL, -1};
		assert_int_equal(pthread_create(&th[k], NULL, get_thread, &g[k]), 0);
	}
	for (int k = 0; k < 8; k++)
		pthread_join(th[k], NULL);
	assert_int_equal(ld.loads, 7);
	for (int k = 0; k < 8; k++) {
		assert_int_equal(g[k].rc, HX_OK);
		assert_ptr_equal(g[k].v, g[0].v);
	}
	for (int k = 0; k < 8; k++)
		hx__view_cache_put(c, g[k].v);
	/* concurrent gets of a trace that fails: all get the error, from one load, not kept */
	ld.fail_id = 5;
	for (int k = 0; k < 8; k++) {
		g[k] = (getter){c, &ld, 5, NULL, -1};
		assert_int_equal(pthread_create(&th[k], NULL, get_thread, &g[k]), 0);
	}
	for (int k = 0; k < 8; k++)
		pthread_join(th[k], NULL);
	for (int k = 0; k < 8; k++) {
		assert_int_equal(g[k].rc, HX_ENOENT);
		assert_null(g[k].v);
	}
	/* (a getter that came after the failure loads again: at least one load, at most eight) */
	assert_true(ld.loads >= 8 && ld.loads <= 15);
	hx__view_cache_put(c, NULL);
	hx__view_cache_free(c);
	hx__view_cache_free(NULL);
	pthread_mutex_destroy(&ld.mu);
}

/* A model of trace `last`, built outside the cache (as `hx view` builds one while loading). */
static hx__view *built(uint8_t last)
{
	loader ld;
	memset(&ld, 0, sizeof(ld));
	pthread_mutex_init(&ld.mu, NULL);
	ld.fail_id = 0xee;
	uint8_t id[16];
	trace_id(id, last);
	hx__view_builder *b;
	hx__view *v;
	assert_int_equal(hx__view_builder_new(&b, id, 0), HX_OK);
	assert_int_equal(load(b, id, &ld), HX_OK);
	assert_int_equal(hx__view_builder_finish(b, &v), HX_OK);
	pthread_mutex_destroy(&ld.mu);
	return v;
}

static void test_cache_insert(void **state)
{
	(void)state;
	loader ld;
	memset(&ld, 0, sizeof(ld));
	pthread_mutex_init(&ld.mu, NULL);
	ld.fail_id = 0xee;
	uint8_t t1[16];
	trace_id(t1, 1);
	hx__view *v1 = built(1), *got;
	size_t one = hx__view_bytes(v1);
	hx__view_cache *c;
	assert_int_equal(hx__view_cache_new(&c, one + one / 2), HX_OK);
	assert_int_equal(hx__view_cache_insert(c, v1), HX_OK);
	assert_int_equal(hx__view_cache_count(c), 1);
	assert_int_equal(hx__view_cache_bytes(c), one);
	/* a get finds it: no load */
	assert_int_equal(hx__view_cache_get(c, t1, load, &ld, &got), HX_OK);
	assert_ptr_equal(got, v1);
	assert_int_equal(ld.loads, 0);
	/* a second model of the same trace: the cache keeps the one it has (held here) */
	assert_int_equal(hx__view_cache_insert(c, built(1)), HX_OK);
	assert_int_equal(hx__view_cache_count(c), 1);
	assert_int_equal(hx__view_cache_bytes(c), one);
	/* another trace while t1 is held: over the budget, the only model nobody holds goes */
	assert_int_equal(hx__view_cache_insert(c, built(2)), HX_OK);
	assert_int_equal(hx__view_cache_count(c), 1);
	assert_int_equal(hx__view_cache_get(c, t1, load, &ld, &got), HX_OK);
	assert_int_equal(ld.loads, 0);
	hx__view_cache_put(c, got);
	hx__view_cache_put(c, got);
	/* t1 put back: the next one in pushes it out, least recently used */
	assert_int_equal(hx__view_cache_insert(c, built(2)), HX_OK);
	assert_int_equal(hx__view_cache_count(c), 1);
	assert_int_equal(hx__view_cache_get(c, t1, load, &ld, &got), HX_OK);
	assert_int_equal(ld.loads, 1);
	hx__view_cache_put(c, got);
	hx__view_cache_free(c);

	/* alone over the budget: in, and out at once, as after a get and a put */
	assert_int_equal(hx__view_cache_new(&c, one / 2), HX_OK);
	assert_int_equal(hx__view_cache_insert(c, built(3)), HX_OK);
	assert_int_equal(hx__view_cache_count(c), 0);
	assert_int_equal(hx__view_cache_bytes(c), 0);

	/* a model of two traces has no trace to be filed under: refused, and freed */
	hx__view_builder *b;
	hx__view *two;
	assert_int_equal(hx__view_builder_new(&b, NULL, 0), HX_OK);
	for (uint8_t k = 0; k < 2; k++) {
		hx_event e;
		memset(&e, 0, sizeof(e));
		e.kind = HX_EV_POINT;
		e.time_ns = e.time_orig_ns = 1000 + k;
		e.entity_id = A + k;
		trace_id(e.trace_id, (uint8_t)(10 + k));
		e.name = "p";
		e.name_len = 1;
		assert_int_equal(hx__view_builder_add(b, &e, 0), HX_OK);
	}
	assert_int_equal(hx__view_builder_finish(b, &two), HX_OK);
	assert_int_equal(hx__view_cache_insert(c, two), HX_EINVAL);
	assert_int_equal(hx__view_cache_insert(c, NULL), HX_EINVAL);
	assert_int_equal(hx__view_cache_count(c), 0);
	hx__view_cache_free(c);
	pthread_mutex_destroy(&ld.mu);
}

/* ---- bad parameters ---- */

static void lod_bad(const hx__view *v, hx__lod_req r)
{
	hx__buf b = HX__BUF_INIT;
	char err[128];
	err[0] = '\0';
	assert_int_equal(hx__view_lod_json(v, &r, &b, err, sizeof(err)), HX_EINVAL);
	assert_true(strlen(err) > 0);
	assert_int_equal(b.len, 0);
	hx__buf_free(&b);
}

static void test_bad_params(void **state)
{
	(void)state;
	hx__view *v = lod_trace();
	hx__lod_req ok;
	memset(&ok, 0, sizeof(ok));
	ok.from_ns = 0;
	ok.to_ns = 1000;
	ok.px = 100;
	hx__lod_req r = ok;
	r.to_ns = 0;
	lod_bad(v, r);
	r.from_ns = 10;
	r.to_ns = 5;
	lod_bad(v, r);
	r = ok;
	r.to_ns = UINT64_MAX;
	lod_bad(v, r);
	r = ok;
	r.px = 0;
	lod_bad(v, r);
	r.px = 16385;
	lod_bad(v, r);
	r = ok;
	r.min_px = 65;
	lod_bad(v, r);
	r = ok;
	r.max_items = 99;
	lod_bad(v, r);
	r.max_items = 200001;
	lod_bad(v, r);
	r = ok;
	uint32_t lanes[] = {0, 1};
	r.lanes = lanes;
	r.nlanes = 2;
	lod_bad(v, r);
	r.lanes = NULL;
	lod_bad(v, r);
	/* the edges of the ranges are fine (times past 2^63 are beyond what jansson reads) */
	hx__buf b0 = HX__BUF_INIT;
	r = ok;
	r.to_ns = UINT64_MAX - 1;
	r.px = 16384;
	r.min_px = 64;
	r.max_items = 200000;
	r.arrows = 1;
	assert_int_equal(hx__view_lod_json(v, &r, &b0, NULL, 0), HX_OK);
	assert_non_null(strstr(b0.p, "\"count\":101,\"name\":\"big\""));
	hx__buf_free(&b0);
	json_t *j = lod(v, 0, 1, 1, 1, 100, lanes, 1, 1);
	json_decref(j);
	j = lod(v, 0, 1000, 100, 0, 0, lanes, 0, 1); /* an empty selection: nothing */
	assert_int_equal(json_array_size(get(j, "lanes")), 0);
	json_decref(j);
	hx__view_free(v);

	hx__view_builder *b;
	assert_int_equal(hx__view_builder_new(&b, NULL, 0), HX_OK);
	assert_int_equal(hx__view_builder_process(b, 1u << 30, "h", "s", "p", 1, 0), HX_EINVAL);
	hx__view_builder_free(b);
	hx__view_builder_free(NULL);
	hx__view_free(NULL);
}

/* ---- arrival order, duplicates, a trace filter, an empty model ---- */

static void add_raw(hx__view_builder *b, uint64_t ent, uint64_t seq, const uint8_t *trace, int64_t x)
{
	hx_event e;
	memset(&e, 0, sizeof(e));
	e.kind = HX_EV_POINT;
	e.time_ns = e.time_orig_ns = 100 + seq;
	e.entity_id = ent;
	e.seq = seq;
	memcpy(e.trace_id, trace, 16);
	e.name = "p";
	e.name_len = 1;
	hx_attr a = HX_INT("x", x);
	e.attrs = &a;
	e.nattrs = 1;
	assert_int_equal(hx__view_builder_add(b, &e, 0), HX_OK);
}

static void test_order_and_filter(void **state)
{
	(void)state;
	hx__view_builder *b;
	assert_int_equal(hx__view_builder_new(&b, TR, 0), HX_OK);
	add_raw(b, A, 2, TR, 2);
	add_raw(b, B, 0, TR2, 50);   /* another trace: not in the model */
	add_raw(b, A, 0, TR, 0);
	add_raw(b, A, 1, TR, 1);
	add_raw(b, A, 1, TR, 99);    /* a duplicate: the first copy is kept */
	add_raw(b, B, 1, TR, 51);
	hx__view *v;
	assert_int_equal(hx__view_builder_finish(b, &v), HX_OK);
	assert_int_equal(hx__view_dag(v)->n, 4);
	for (uint64_t s = 0; s < 3; s++) {
		json_t *e = event_json(v, at(v, A, s));
		assert_int_equal(num(get(e, "attrs"), "x"), (json_int_t)s);
		json_decref(e);
	}
	json_t *e = event_json(v, at(v, B, 1));
	assert_int_equal(num(get(e, "attrs"), "x"), 51);
	json_decref(e);
	assert_int_equal(hx__dag_find(hx__view_dag(v), B, 0), HX__DAG_NONE);
	json_t *o = overview(v);
	assert_int_equal(num(o, "events"), 4);
	assert_int_equal(num(get(o, "report"), "filtered_out"), 1);
	json_decref(o);
	hx__view_free(v);

	/* nothing at all: every answer still well formed */
	assert_int_equal(hx__view_builder_new(&b, NULL, 0), HX_OK);
	assert_int_equal(hx__view_builder_finish(b, &v), HX_OK);
	o = overview(v);
	assert_int_equal(num(o, "events"), 0);
	assert_true(json_is_null(get(o, "trace_id")));
	json_decref(o);
	json_t *j = lod(v, 0, 10, 10, 0, 0, NULL, 0, 1);
	assert_int_equal(num(get(j, "summary"), "items"), 0);
	json_decref(j);
	j = find(v, "x", HX__DAG_NONE, 1);
	assert_int_equal(num(j, "total"), 0);
	json_decref(j);
	j = range(v, 0, 10, NULL, 0);
	json_decref(j);
	hx__buf buf = HX__BUF_INIT;
	assert_int_equal(hx__view_critpath_json(v, &buf), HX_OK);
	j = parse(&buf);
	assert_int_equal(json_array_size(get(j, "path")), 0);
	json_decref(j);
	hx__buf_free(&buf);
	hx__view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lanes),
	    cmocka_unit_test(test_lod_blocks),
	    cmocka_unit_test(test_lod_zoom_points),
	    cmocka_unit_test(test_lod_waits_counters),
	    cmocka_unit_test(test_arrows),
	    cmocka_unit_test(test_summary_adds_up),
	    cmocka_unit_test(test_event),
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_range),
	    cmocka_unit_test(test_critpath),
	    cmocka_unit_test(test_cache),
	    cmocka_unit_test(test_cache_insert),
	    cmocka_unit_test(test_bad_params),
	    cmocka_unit_test(test_order_and_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
