/*
 * test_features.c - trace features, aggregates and the dependency graph (src/analysis/
 * trace_features.h) on hand-built traces with known answers:
 *   - block times: count, total, self (minus child blocks), waiting time inside a block (a wait
 *     begun before the block counted from the block's begin), critical time by block name;
 *   - request/reply across two processes: critical time, services, hosts, processes, fan-out;
 *   - publish/subscribe with three subscribers: fan-out, and the dependency edges (publish to
 *     several subscribers, a message, request/reply; causes within one service left out);
 *   - every trace at once (hx__features_extract_all) equals one trace at a time, with the critical
 *     path walked here or given by hx__critpath_compute, on random graphs of interleaved traces,
 *     and the same critical time by block as the trace's own graph (hx__dag_extract) when no block
 *     spans a trace switch; a consumer woken in one trace that names another trace's message
 *     before the one that woke it (examples/pipeline);
 *   - attributes (the earliest value wins);
 *   - quantiles: exact against the sorted truth up to HX__AGG_EXACT values, within 1 % beyond;
 *     the histogram;
 *   - aggregation grouped by each key (all, name, service, root, host, attr) and by two, with a
 *     filter, a block metric, and the table / JSON / CSV output.
 */
#include "../hxtest.h"

#include "analysis/critpath.h"
#include "analysis/trace_features.h"
#include "model/dag.h"

#include <math.h>
#include <setjmp.h>
#include <cmocka.h>
#include "dagbuild.h"

enum { A = 0xa1, B = 0xb2, C = 0xc3, D = 0xd4, E = 0xe5 };

/* ev() of dagbuild.h with the process given: events of several processes (services, hosts). */
static hx_context evp(tb *t, uint32_t proc, uint64_t ent, uint64_t time, hx_event_kind kind, const char *name,
                      int sub, int resumes, const hx_context *causes, size_t nc)
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
	e.resumes = resumes;
	e.causes = causes;
	e.ncauses = nc;
	assert_int_equal(hx__dag_builder_add(t->b, &e, proc), HX_OK);
	hx_context c;
	memset(&c, 0, sizeof(c));
	memcpy(c.trace_id, e.trace_id, 16);
	c.entity_id = ent;
	c.seq = e.seq;
	c.flags = HX_CTX_VALID | HX_CTX_SAMPLED;
	return c;
}

static const hx__feat_block *block(const hx__features *f, const char *name)
{
	for (size_t i = 0; i < f->nblocks; i++)
		if (!strcmp(f->blocks[i].name, name))
			return &f->blocks[i];
	fail_msg("no block '%s'", name);
	return NULL;
}

static void check_block(const hx__features *f, const char *name, uint64_t count, uint64_t total, uint64_t self,
                        uint64_t wait, uint64_t critical)
{
	const hx__feat_block *b = block(f, name);
	assert_int_equal(b->count, count);
	assert_int_equal(b->total_ns, total);
	assert_int_equal(b->self_ns, self);
	assert_int_equal(b->wait_ns, wait);
	assert_int_equal(b->critical_ns, critical);
}

/* The features of trace 0, every way there is: they must agree. */
static void extract(const hx__dag *d, hx__features *f)
{
	assert_int_equal(hx__features_extract(d, 0, NULL, NULL, NULL, NULL, f), HX_OK);
	hx__critpath cp;
	assert_int_equal(hx__critpath_compute(d, 0, &cp), HX_OK);
	hx__features g;
	assert_int_equal(hx__features_extract(d, 0, &cp, NULL, NULL, NULL, &g), HX_OK);
	hx__buf x = HX__BUF_INIT, y = HX__BUF_INIT;
	assert_int_equal(hx__features_json(&x, f), HX_OK);
	assert_int_equal(hx__features_json(&y, &g), HX_OK);
	assert_string_equal(x.p, y.p);
	hx__buf_free(&x);
	hx__buf_free(&y);
	hx__features_free(&g);
	hx__critpath_free(&cp);
}

/* ---- features ---- */

static void test_block_times(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	ev(&t, A, 0, HX_EV_TRACE_BEGIN, "job", 0, 0, NULL, 0);
	BEGIN(&t, A, 10, "outer");
	BEGIN(&t, A, 20, "inner");
	WAIT(&t, A, 30, "io");
	RUN(&t, A, 50);
	END(&t, A, 60);
	ev(&t, A, 70, HX_EV_ERROR, "oops", 0, 0, NULL, 0);
	END(&t, A, 100);
	ev(&t, A, 110, HX_EV_TRACE_END, "", 0, 0, NULL, 0);
	/* B waits from before its block begins: only the part inside counts */
	WAIT(&t, B, 40, "lock");
	BEGIN(&t, B, 45, "outer");
	RUN(&t, B, 55);
	BEGIN(&t, B, 65, "inner");
	WAIT(&t, B, 75, "disk");
	RUN(&t, B, 85);
	END(&t, B, 90);
	END(&t, B, 95);
	hx__dag *d = tb_finish(&t);
	hx__features f;
	extract(d, &f);
	assert_memory_equal(f.trace_id, TR, 16);
	assert_int_equal(f.start_ns, 0);
	assert_int_equal(f.end_ns, 110);
	assert_int_equal(f.duration_ns, 110);
	assert_int_equal(f.events, 17);
	assert_int_equal(f.entities, 2);
	assert_int_equal(f.processes, 1);
	assert_int_equal(f.errors, 1);
	assert_int_equal(f.fanout, 0);
	assert_int_equal(f.critical_ns, 110);
	assert_string_equal(f.root_name, "job");
	assert_int_equal(f.nblocks, 2);
	assert_string_equal(f.blocks[0].name, "inner"); /* sorted by name */
	/* outer: A 10..100 (inner 40 of it, waited 20), B 45..95 (inner 25, waited 10 + 10);
	 * the path runs along A: outer 10..20 and 60..100, inner 20..60 */
	check_block(&f, "outer", 2, 90 + 50, 50 + 25, 20 + 20, 50);
	check_block(&f, "inner", 2, 40 + 25, 40 + 25, 20 + 10, 40);
	hx__features_free(&f);
	hx__dag_free(d);
}

/* client (process 0 on h1) -> server (process 1 on h2) -> client */
static hx__dag *request_reply(void)
{
	tb t;
	tb_init(&t, NULL);
	assert_int_equal(hx__dag_builder_process(t.b, 0, "h1", "client", 1), HX_OK);
	assert_int_equal(hx__dag_builder_process(t.b, 1, "h2", "server", 2), HX_OK);
	evp(&t, 0, A, 0, HX_EV_TRACE_BEGIN, "order", 0, 0, NULL, 0);
	evp(&t, 0, A, 5, HX_EV_BLOCK_BEGIN, "call", 0, 0, NULL, 0);
	hx_context req = evp(&t, 0, A, 10, HX_EV_CAUSE, "request", HX_IA_REQUEST, 0, NULL, 0);
	evp(&t, 0, A, 11, HX_EV_STATE, "reply", HX_STATE_WAITING, 0, NULL, 0);
	evp(&t, 1, B, 20, HX_EV_EFFECT, "received", HX_IA_REQUEST, 0, &req, 1);
	evp(&t, 1, B, 21, HX_EV_BLOCK_BEGIN, "handle", 0, 0, NULL, 0);
	evp(&t, 1, B, 40, HX_EV_BLOCK_END, "", 0, 0, NULL, 0);
	hx_context rep = evp(&t, 1, B, 45, HX_EV_CAUSE, "reply", HX_IA_REPLY, 0, NULL, 0);
	evp(&t, 0, A, 50, HX_EV_EFFECT, "reply received", HX_IA_REPLY, 1, &rep, 1);
	evp(&t, 0, A, 55, HX_EV_BLOCK_END, "", 0, 0, NULL, 0);
	evp(&t, 0, A, 60, HX_EV_TRACE_END, "", 0, 0, NULL, 0);
	return tb_finish(&t);
}

static void test_request_reply(void **state)
{
	(void)state;
	hx__dag *d = request_reply();
	hx__features f;
	extract(d, &f);
	assert_int_equal(f.duration_ns, 60);
	assert_int_equal(f.critical_ns, 60);
	assert_int_equal(f.entities, 2);
	assert_int_equal(f.processes, 2);
	assert_int_equal(f.hosts, 2);
	assert_int_equal(f.nhost_names, 2);
	assert_string_equal(f.host_names[0], "h1");
	assert_string_equal(f.host_names[1], "h2");
	assert_int_equal(f.nservices, 2);
	assert_string_equal(f.services[0], "client");
	assert_string_equal(f.services[1], "server");
	assert_int_equal(f.fanout, 1);
	/* the client's wait (11..50) is off the path: the server's work is on it. call: 5..10, the
	 * reply's transfer 45..50 (the client was in call), 50..55; handle 21..40 */
	check_block(&f, "call", 1, 50, 50, 39, 15);
	check_block(&f, "handle", 1, 19, 19, 0, 19);
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__features_json(&b, &f), HX_OK);
	assert_string_equal(b.p,
	    "{\"trace\":\"01900000000000000000000000000011\",\"root\":\"order\",\"start_ns\":0,\"end_ns\":60,"
	    "\"duration_ns\":60,\"events\":11,\"entities\":2,\"processes\":2,\"hosts\":2,\"host_names\":[\"h1\",\"h2\"],"
	    "\"errors\":0,\"fanout\":1,\"critical_ns\":60,\"services\":[\"client\",\"server\"],\"blocks\":["
	    "{\"name\":\"call\",\"count\":1,\"total_ns\":50,\"self_ns\":50,\"wait_ns\":39,\"critical_ns\":15},"
	    "{\"name\":\"handle\",\"count\":1,\"total_ns\":19,\"self_ns\":19,\"wait_ns\":0,\"critical_ns\":19}],"
	    "\"attrs\":{}}");
	hx__buf_free(&b);
	hx__features_free(&f);
	/* the whole graph as one trace: the same here */
	assert_int_equal(hx__features_extract(d, HX__DAG_NONE, NULL, NULL, NULL, NULL, &f), HX_OK);
	assert_int_equal(f.critical_ns, 60);
	assert_memory_equal(f.trace_id, TR, 16);
	check_block(&f, "handle", 1, 19, 19, 0, 19);
	hx__features_free(&f);
	assert_int_equal(hx__features_extract(d, 3, NULL, NULL, NULL, NULL, &f), HX_EINVAL);
	hx__dag_free(d);
}

/* publisher (pub) -> three subscribers: two entities of "mail", one of "audit"; audit sends mail a
 * message; one mail entity sends the other a message (within one service). */
static hx__dag *pub_sub(void)
{
	tb t;
	tb_init(&t, NULL);
	assert_int_equal(hx__dag_builder_process(t.b, 0, "h", "pub", 1), HX_OK);
	assert_int_equal(hx__dag_builder_process(t.b, 1, "h", "mail", 2), HX_OK);
	assert_int_equal(hx__dag_builder_process(t.b, 2, "h", "audit", 3), HX_OK);
	evp(&t, 0, A, 0, HX_EV_TRACE_BEGIN, "event", 0, 0, NULL, 0);
	hx_context pub = evp(&t, 0, A, 10, HX_EV_CAUSE, "publish", HX_IA_PUBLISH, 0, NULL, 0);
	evp(&t, 1, B, 15, HX_EV_EFFECT, "delivered", HX_IA_PUBLISH, 0, &pub, 1);
	evp(&t, 1, C, 20, HX_EV_EFFECT, "delivered", HX_IA_PUBLISH, 0, &pub, 1);
	evp(&t, 2, D, 12, HX_EV_EFFECT, "delivered", HX_IA_PUBLISH, 0, &pub, 1);
	hx_context msg = evp(&t, 2, D, 30, HX_EV_CAUSE, "send", HX_IA_MESSAGE, 0, NULL, 0);
	evp(&t, 1, B, 35, HX_EV_EFFECT, "receive", HX_IA_MESSAGE, 0, &msg, 1);
	hx_context inner = evp(&t, 1, B, 40, HX_EV_CAUSE, "send", HX_IA_MESSAGE, 0, NULL, 0);
	evp(&t, 1, C, 44, HX_EV_EFFECT, "receive", HX_IA_MESSAGE, 0, &inner, 1);
	return tb_finish(&t);
}

static void test_fanout_publish(void **state)
{
	(void)state;
	hx__dag *d = pub_sub();
	hx__features f;
	extract(d, &f);
	assert_int_equal(f.fanout, 3);
	assert_int_equal(f.entities, 4);
	assert_int_equal(f.processes, 3);
	assert_int_equal(f.hosts, 1);
	assert_int_equal(f.nservices, 3);
	assert_string_equal(f.services[0], "audit");
	assert_string_equal(f.services[2], "pub");
	hx__features_free(&f);
	hx__dag_free(d);
}

/* Attribute values by (entity, seq) for the callback. */
typedef struct attr_row {
	uint64_t ent, seq;
	const char *key, *value;
} attr_row;
typedef struct attr_tab {
	const hx__dag *d;
	const attr_row *rows;
	size_t n;
} attr_tab;

static const char *attr_lookup(uint32_t e, const char *key, void *user)
{
	const attr_tab *t = user;
	for (size_t i = 0; i < t->n; i++)
		if (t->rows[i].ent == t->d->entities[t->d->ev_entity[e]].id && t->rows[i].seq == t->d->ev_seq[e] &&
		    !strcmp(t->rows[i].key, key))
			return t->rows[i].value;
	return NULL;
}

static void test_attributes(void **state)
{
	(void)state;
	hx__dag *d = request_reply();
	/* "route" on the server's effect (time 20) and on the client's begin (time 5): the earliest */
	const attr_row rows[] = {
	    {B, 0, "route", "/late"}, {A, 1, "route", "/cart"}, {B, 1, "user", "ann"}, {A, 0, "other", "x"},
	};
	attr_tab tab = {d, rows, 4};
	const char *keys[] = {"route", "user", "absent", NULL};
	hx__features f;
	assert_int_equal(hx__features_extract(d, 0, NULL, keys, attr_lookup, &tab, &f), HX_OK);
	assert_int_equal(f.nattrs, 2);
	assert_string_equal(f.attrs[0].key, "route");
	assert_string_equal(f.attrs[0].value, "/cart");
	assert_string_equal(f.attrs[1].key, "user");
	assert_string_equal(f.attrs[1].value, "ann");
	hx__features_free(&f);
	/* no callback: no attributes, whatever the keys */
	assert_int_equal(hx__features_extract(d, 0, NULL, keys, NULL, NULL, &f), HX_OK);
	assert_int_equal(f.nattrs, 0);
	hx__features_free(&f);
	hx__dag_free(d);
}

/* ---- every trace at once equals one at a time ---- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A random graph: 5 entities in 3 processes switching between 6 traces, with blocks, waits,
 * errors, causes of every kind (some to other traces), resuming effects, equal times. With
 * `in_blocks` 0 an entity switches traces only outside any block (as examples/pipeline does):
 * then a trace's blocks are the same in its own graph, so its critical path there is the same. */
static hx__dag *random_graph(uint64_t seed, size_t steps, int in_blocks)
{
	static uint8_t ids[6][16];
	static const char *const names[] = {"a", "b", "c", "d"};
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	tb t;
	tb_init(&t, NULL);
	for (uint32_t p = 0; p < 3; p++) {
		char prog[8], host[8];
		snprintf(prog, sizeof prog, "s%u", p);
		snprintf(host, sizeof host, "h%u", p % 2);
		assert_int_equal(hx__dag_builder_process(t.b, p, host, prog, 100 + p), HX_OK);
	}
	for (int k = 0; k < 6; k++) {
		memset(ids[k], 0, 16);
		ids[k][0] = 0x42;
		ids[k][15] = (uint8_t)(k + 1);
	}
	int trace[5], depth[5] = {0}, waiting[5] = {0};
	hx_context pool[64];
	size_t npool = 0;
	uint64_t now = 0;
	for (int e = 0; e < 5; e++)
		trace[e] = -1;
	for (size_t s = 0; s < steps; s++) {
		uint64_t ent = 0x100 + rnd() % 5;
		int e = (int)(ent - 0x100);
		uint32_t proc = (uint32_t)(e % 3);
		now += rnd() % 4; /* sometimes the same time */
		if (trace[e] < 0 || (rnd() % 10 == 0 && (in_blocks || !depth[e]))) {
			trace[e] = (int)(rnd() % 6);
			t.trace = ids[trace[e]];
			evp(&t, proc, ent, now, HX_EV_TRACE_BEGIN, names[rnd() % 4], 0, 0, NULL, 0);
			continue;
		}
		t.trace = ids[trace[e]];
		switch (rnd() % 9) {
		case 0:
		case 1:
			evp(&t, proc, ent, now, HX_EV_BLOCK_BEGIN, names[rnd() % 4], 0, 0, NULL, 0);
			depth[e]++;
			break;
		case 2:
			if (depth[e]) {
				evp(&t, proc, ent, now, HX_EV_BLOCK_END, "", 0, 0, NULL, 0);
				depth[e]--;
			}
			break;
		case 3:
			evp(&t, proc, ent, now, rnd() % 2 ? HX_EV_POINT : HX_EV_ERROR, "p", 0, 0, NULL, 0);
			break;
		case 4:
		case 5: {
			hx_context c = evp(&t, proc, ent, now, HX_EV_CAUSE, "c", (int)(1 + rnd() % 9), 0, NULL, 0);
			if (npool < 64)
				pool[npool++] = c;
			else
				pool[rnd() % 64] = c;
			break;
		}
		case 6:
			if (npool) {
				hx_context cs[3];
				size_t nc = 1 + rnd() % 3;
				for (size_t k = 0; k < nc; k++)
					cs[k] = pool[rnd() % npool];
				evp(&t, proc, ent, now, HX_EV_EFFECT, "x", (int)(1 + rnd() % 9), waiting[e] && rnd() % 2, cs, nc);
				waiting[e] = 0;
			}
			break;
		case 7:
			if (!waiting[e]) {
				evp(&t, proc, ent, now, HX_EV_STATE, "w", HX_STATE_WAITING, 0, NULL, 0);
				waiting[e] = 1;
			}
			break;
		default:
			if (waiting[e]) {
				evp(&t, proc, ent, now, HX_EV_STATE, "", HX_STATE_RUNNING, 0, NULL, 0);
				waiting[e] = 0;
			}
			break;
		}
	}
	return tb_finish(&t);
}

typedef struct each_ctx {
	const hx__dag *d;
	size_t calls;
	uint32_t last;
	int alone;     /* also compare with the trace's own graph */
} each_ctx;

/* The critical time of f (trace `tr` of d) by block name is what the graph of that trace alone
 * (hx__dag_extract, the same as a filtered read, what `hx critical-path --trace` walks) gives. */
static void same_as_alone(const hx__dag *d, uint32_t tr, const hx__features *f)
{
	hx__dag *one;
	assert_int_equal(hx__dag_extract(d, tr, &one), HX_OK);
	hx__critpath cp;
	assert_int_equal(hx__critpath_compute(one, HX__DAG_NONE, &cp), HX_OK);
	size_t named = 0, critical = 0;
	for (size_t k = 0; k < cp.nby_block; k++) {
		if (cp.by_block[k].key == HX__DAG_NONE)
			continue;
		named++;
		assert_int_equal(block(f, hx__dag_str(one, cp.by_block[k].key))->critical_ns, cp.by_block[k].ns);
	}
	for (size_t i = 0; i < f->nblocks; i++)
		critical += f->blocks[i].critical_ns != 0;
	assert_int_equal(critical, named);
	assert_int_equal(f->critical_ns, cp.end_ns - cp.start_ns);
	hx__critpath_free(&cp);
	hx__dag_free(one);
}

static int compare_one(const hx__features *f, uint32_t trace, void *user)
{
	each_ctx *c = user;
	const hx__dag *d = c->d;
	assert_true(c->calls == 0 || trace > c->last); /* in d->traces order */
	c->last = trace;
	c->calls++;
	hx__features one, given;
	assert_int_equal(hx__features_extract(d, trace, NULL, NULL, NULL, NULL, &one), HX_OK);
	hx__critpath cp;
	assert_int_equal(hx__critpath_compute(d, trace, &cp), HX_OK);
	assert_int_equal(hx__features_extract(d, trace, &cp, NULL, NULL, NULL, &given), HX_OK);
	hx__buf x = HX__BUF_INIT, y = HX__BUF_INIT, z = HX__BUF_INIT;
	assert_int_equal(hx__features_json(&x, f), HX_OK);
	assert_int_equal(hx__features_json(&y, &one), HX_OK);
	assert_int_equal(hx__features_json(&z, &given), HX_OK);
	assert_string_equal(x.p, y.p);
	assert_string_equal(x.p, z.p);
	/* invariants: the critical time is the duration; by block it is at most that; block times
	 * are consistent */
	assert_int_equal(f->critical_ns, cp.end_ns - cp.start_ns);
	assert_int_equal(f->duration_ns, cp.end_ns - cp.start_ns);
	assert_int_equal(f->events, d->traces[trace].events);
	uint64_t crit = 0;
	for (size_t i = 0; i < f->nblocks; i++) {
		crit += f->blocks[i].critical_ns;
		assert_true(f->blocks[i].self_ns <= f->blocks[i].total_ns);
		assert_true(f->blocks[i].wait_ns <= f->blocks[i].total_ns);
		if (i)
			assert_true(strcmp(f->blocks[i - 1].name, f->blocks[i].name) < 0);
	}
	assert_true(crit <= f->critical_ns);
	if (c->alone)
		same_as_alone(d, trace, f);
	hx__buf_free(&x);
	hx__buf_free(&y);
	hx__buf_free(&z);
	hx__features_free(&one);
	hx__features_free(&given);
	hx__critpath_free(&cp);
	return 0;
}

static int stop_at_two(const hx__features *f, uint32_t trace, void *user)
{
	(void)f;
	(void)trace;
	return ++*(int *)user == 2 ? 77 : 0;
}

static void test_all_at_once(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 80; seed++) {
		int alone = seed > 40;
		hx__dag *d = random_graph(seed, 300, !alone);
		each_ctx c = {d, 0, 0, alone};
		assert_int_equal(hx__features_extract_all(d, NULL, NULL, NULL, compare_one, &c), HX_OK);
		size_t with_events = 0;
		for (size_t t = 0; t < d->ntraces; t++)
			with_events += d->traces[t].events > 0;
		assert_int_equal(c.calls, with_events);
		hx__dag_free(d);
	}
	/* a non-zero return stops it and is returned */
	hx__dag *d = random_graph(99, 300, 1);
	int n = 0;
	assert_int_equal(hx__features_extract_all(d, NULL, NULL, NULL, stop_at_two, &n), 77);
	assert_int_equal(n, 2);
	hx__dag_free(d);
}

typedef struct crit_of {
	uint32_t trace;
	const char *name;
	uint64_t ns;
	int found;
} crit_of;

static int take_critical(const hx__features *f, uint32_t trace, void *user)
{
	crit_of *c = user;
	if (trace != c->trace)
		return 0;
	c->found = 1;
	for (size_t i = 0; i < f->nblocks; i++)
		if (!strcmp(f->blocks[i].name, c->name))
			c->ns = f->blocks[i].critical_ns;
	return 0;
}

/* A consumer (examples/pipeline) woken in trace A leaves it for trace B before it names, back in
 * A, the message that woke it. In A's own graph the effect after the STATE running is that
 * EFFECT (B's events are not there), so the wake-up is followed to the sender's work. A walk of
 * the whole graph must not take B's effect, the next event of the entity, for the one after the
 * wait: it would leave the wait itself on A's path. */
static void test_woken_across_traces(void **state)
{
	(void)state;
	tb t;
	tb_init(&t, NULL);
	t.trace = TR2;
	POINT(&t, B, 0, "b0");
	hx_context cb = CAUSE(&t, B, 38, HX_IA_MESSAGE, "send b");
	t.trace = TR;
	POINT(&t, A, 0, "a0");
	BEGIN(&t, A, 5, "work");
	END(&t, A, 30);
	hx_context ca = CAUSE(&t, A, 35, HX_IA_MESSAGE, "send a");
	POINT(&t, C, 10, "ready");
	WAIT(&t, C, 20, "queue");
	RUN(&t, C, 40);               /* woken by ca */
	t.trace = TR2;
	EFFECT(&t, C, 41, HX_IA_MESSAGE, "receive b", 0, &cb, 1);
	POINT(&t, C, 42, "b done");
	t.trace = TR;
	EFFECT(&t, C, 50, HX_IA_MESSAGE, "receive a", 0, &ca, 1);
	POINT(&t, C, 60, "a done");
	hx__dag *d = tb_finish(&t);
	uint32_t tr = hx__dag_trace_find(d, TR);
	assert_int_not_equal(tr, HX__DAG_NONE);
	/* A alone: 60 (C) <- 50 <- 40, woken by ca at 35 (transfer 35..40) <- A: 30 <- "work" 5..30 */
	crit_of c = {tr, "work", 0, 0};
	assert_int_equal(hx__features_extract_all(d, NULL, NULL, NULL, take_critical, &c), HX_OK);
	assert_true(c.found);
	assert_int_equal(c.ns, 25);
	hx__features f;
	assert_int_equal(hx__features_extract(d, tr, NULL, NULL, NULL, NULL, &f), HX_OK);
	assert_int_equal(block(&f, "work")->critical_ns, 25);
	same_as_alone(d, tr, &f);
	hx__features_free(&f);
	hx__critpath cp;
	assert_int_equal(hx__critpath_compute(d, tr, &cp), HX_OK);
	assert_int_equal(cp.inferred, 1);
	assert_int_equal(cp.nby_block, 2);
	assert_int_equal(cp.by_block[0].key, HX__DAG_NONE);
	assert_int_equal(cp.by_block[0].ns, 35);
	assert_string_equal(hx__dag_str(d, cp.by_block[1].key), "work");
	assert_int_equal(cp.by_block[1].ns, 25);
	hx__critpath_free(&cp);
	hx__dag_free(d);
}

/* ---- quantiles ---- */

static int u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank, as the truth: the smallest value with at least p * n values at or below it. */
static uint64_t truth(const uint64_t *sorted, size_t n, double p)
{
	size_t r = (size_t)ceil(p * (double)n - 1e-9);
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return sorted[r - 1];
}

static void fill(uint64_t *v, size_t n, uint64_t seed)
{
	rng_state = seed;
	for (size_t i = 0; i < n; i++) {
		/* log-uniform over 1 ns .. ~1000 s, and some zeros and repeats */
		double u = (double)(rnd() % 1000000) / 1000000.0;
		v[i] = rnd() % 50 == 0 ? 0 : rnd() % 20 == 0 ? 12345 : (uint64_t)exp(u * 27.6);
	}
}

static void test_quantiles_exact(void **state)
{
	(void)state;
	static const double ps[] = {0, 0.001, 0.1, 0.25, 0.5, 0.9, 0.99, 0.999, 1};
	static const size_t ns[] = {1, 2, 3, 10, 101, 1000, HX__AGG_EXACT};
	for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
		size_t n = ns[k];
		uint64_t *v = hxt_xmalloc(n * sizeof(*v));
		fill(v, n, 7 + k);
		hx__qsketch q;
		memset(&q, 0, sizeof(q));
		for (size_t i = 0; i < n; i++)
			assert_int_equal(hx__qs_add(&q, v[i]), HX_OK);
		qsort(v, n, sizeof(*v), u64cmp);
		assert_null(q.bucket); /* still exact */
		for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
			assert_int_equal((uint64_t)hx__qs_quantile(&q, ps[i]), truth(v, n, ps[i]));
		assert_int_equal(q.count, n);
		assert_int_equal(q.max, v[n - 1]);
		assert_int_equal(q.min, v[0]);
		/* adding after a query still gives the truth */
		assert_int_equal(hx__qs_add(&q, 0), HX_OK);
		hx__qs_free(&q);
		free(v);
	}
	hx__qsketch q;
	memset(&q, 0, sizeof(q));
	assert_true(hx__qs_quantile(&q, 0.5) == 0);
	/* the classic small case */
	for (uint64_t i = 1; i <= 1000; i++)
		hx__qs_add(&q, i);
	assert_true(hx__qs_quantile(&q, 0.5) == 500);
	assert_true(hx__qs_quantile(&q, 0.9) == 900);
	assert_true(hx__qs_quantile(&q, 0.99) == 990);
	assert_true(hx__qs_quantile(&q, 1) == 1000);
	hx__qs_free(&q);
}

static void test_quantiles_histogram(void **state)
{
	(void)state;
	size_t n = 3 * HX__AGG_EXACT + 17;
	uint64_t *v = hxt_xmalloc(n * sizeof(*v));
	fill(v, n, 12345);
	hx__qsketch q;
	memset(&q, 0, sizeof(q));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(hx__qs_add(&q, v[i]), HX_OK);
	assert_null(q.exact);
	assert_non_null(q.bucket);
	assert_true(q.nbucket < 5000);
	qsort(v, n, sizeof(*v), u64cmp);
	double worst = 0;
	for (int i = 0; i <= 1000; i++) {
		double p = i / 1000.0;
		double est = hx__qs_quantile(&q, p);
		uint64_t tv = truth(v, n, p);
		if (tv == 0) {
			assert_true(est == 0);
			continue;
		}
		double rel = fabs(est - (double)tv) / (double)tv;
		if (rel > worst)
			worst = rel;
	}
	print_message("  worst relative error over 1001 quantiles: %.5f %%\n", 100 * worst);
	assert_true(worst < 0.01);
	assert_int_equal(q.count, n);
	assert_int_equal(q.max, v[n - 1]);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	assert_true(fabs(q.sum - sum) <= 1e-9 * sum);

	/* the histogram: counts add up, lower bounds increase, about 60 buckets at most */
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__qs_histogram_json(&q, &b), HX_OK);
	const char *s = strstr(b.p, "\"buckets\":[");
	assert_non_null(s);
	uint64_t total = 0;
	double prev = -1;
	size_t nb = 0;
	for (s = strstr(s, "{\"lower_bound\":"); s; s = strstr(s + 1, "{\"lower_bound\":")) {
		double lb;
		unsigned long long c;
		assert_int_equal(sscanf(s, "{\"lower_bound\":%lf,\"count\":%llu}", &lb, &c), 2);
		assert_true(lb > prev);
		prev = lb;
		total += c;
		nb++;
	}
	assert_int_equal(total, n);
	assert_true(nb >= 20 && nb <= 64);
	hx__buf_free(&b);
	hx__qs_free(&q);
	free(v);

	/* from exact values too: 1..100 */
	memset(&q, 0, sizeof(q));
	for (uint64_t i = 1; i <= 100; i++)
		hx__qs_add(&q, i);
	assert_int_equal(hx__qs_histogram_json(&q, &b), HX_OK);
	assert_non_null(strstr(b.p, "{\"count\":100,\"buckets\":[{\"lower_bound\":1,"));
	hx__buf_free(&b);
	hx__qs_free(&q);
}

/* ---- aggregation ---- */

/* A trace's features filled by hand, as a store might: every string malloc'd. */
static void mk(hx__features *f, int i, const char *root, uint64_t duration, const char *const *services,
               const char *const *hosts, const char *attr)
{
	memset(f, 0, sizeof(*f));
	f->trace_id[15] = (uint8_t)i;
	f->trace_id[14] = (uint8_t)(i >> 8);
	f->duration_ns = duration;
	f->critical_ns = duration;
	f->events = (uint64_t)i % 7;
	f->errors = (uint64_t)(i % 10 == 0);
	f->root_name = strdup(root);
	for (; services && services[f->nservices]; f->nservices++) {
		f->services = hxt_xrealloc(f->services, (f->nservices + 1) * sizeof(char *));
		f->services[f->nservices] = strdup(services[f->nservices]);
	}
	for (; hosts && hosts[f->nhost_names]; f->nhost_names++) {
		f->host_names = hxt_xrealloc(f->host_names, (f->nhost_names + 1) * sizeof(char *));
		f->host_names[f->nhost_names] = strdup(hosts[f->nhost_names]);
	}
	f->hosts = f->nhost_names;
	/* blocks "db" (total = duration / 2, self = a quarter) and, for even i, "cache" (total 10) */
	f->nblocks = i % 2 ? 1 : 2;
	f->blocks = calloc(2, sizeof(*f->blocks));
	f->blocks[0] = (hx__feat_block){strdup(i % 2 ? "db" : "cache"), 1, i % 2 ? duration / 2 : 10,
	                                i % 2 ? duration / 4 : 10, 0, 0};
	if (!(i % 2))
		f->blocks[1] = (hx__feat_block){strdup("db"), 2, duration / 2, duration / 4, 0, 0};
	if (attr) {
		f->attrs[0].key = strdup("route");
		f->attrs[0].value = strdup(attr);
		f->nattrs = 1;
	}
}

typedef struct want_row {
	const char *key[2];
	uint64_t count;
	double p50, max;
} want_row;

static void check_rows(hx__agg *a, const want_row *w, size_t n, size_t nkeys)
{
	const hx__agg_row *rows;
	size_t got = hx__agg_rows(a, &rows);
	if (got != n)
		for (size_t i = 0; i < got; i++)
			print_message("  row %zu: %s %s count %llu p50 %.0f\n", i, rows[i].key[0] ? rows[i].key[0] : "(null)",
			              rows[i].key[1] ? rows[i].key[1] : "(null)", (unsigned long long)rows[i].count, rows[i].p50);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < nkeys; k++) {
			if (w[i].key[k])
				assert_string_equal(rows[i].key[k], w[i].key[k]);
			else
				assert_null(rows[i].key[k]);
		}
		assert_int_equal(rows[i].count, w[i].count);
		assert_true(rows[i].p50 == w[i].p50);
		assert_true(rows[i].max == w[i].max);
	}
}

/* 100 traces: durations 1..100 ms; services a (even) or b (odd), c as well for multiples of 5;
 * root "GET" for i < 30 else "POST"; host h1 for i < 50 else none; route for multiples of 3. */
static hx__agg *agg_of(const hx__agg_config *cfg)
{
	hx__agg *a;
	assert_int_equal(hx__agg_new(&a, cfg), HX_OK);
	for (int i = 1; i <= 100; i++) {
		const char *sv[3] = {i % 2 ? "b" : "a", i % 5 ? NULL : "c", NULL};
		const char *hs[2] = {i < 50 ? "h1" : NULL, NULL};
		hx__features f;
		mk(&f, i, i < 30 ? "GET" : "POST", (uint64_t)i * 1000000, sv, hs, i % 3 ? NULL : "/cart");
		assert_int_equal(hx__agg_add(a, &f), HX_OK);
		hx__features_free(&f);
	}
	return a;
}

static void test_group_by_each_key(void **state)
{
	(void)state;
	hx__agg_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.metric = "duration";
	hx__agg *a = agg_of(&cfg); /* no key: one group */
	want_row all[] = {{{NULL, NULL}, 100, 50e6, 100e6}};
	check_rows(a, all, 1, 0);
	const hx__agg_row *rows;
	hx__agg_rows(a, &rows);
	assert_true(rows[0].p90 == 90e6 && rows[0].p99 == 99e6);
	assert_true(fabs(rows[0].mean - 50.5e6) < 1e-3);
	hx__agg_free(a);

	cfg.nkeys = 1;
	cfg.keys[0] = HX__AGG_SERVICE; /* a trace with two services counts in both */
	a = agg_of(&cfg);
	want_row svc[] = {{{"a", NULL}, 50, 50e6, 100e6}, {{"b", NULL}, 50, 49e6, 99e6}, {{"c", NULL}, 20, 50e6, 100e6}};
	check_rows(a, svc, 3, 1);
	hx__agg_free(a);

	cfg.keys[0] = HX__AGG_ROOT;
	a = agg_of(&cfg);
	want_row root[] = {{{"POST", NULL}, 71, 65e6, 100e6}, {{"GET", NULL}, 29, 15e6, 29e6}};
	check_rows(a, root, 2, 1);
	hx__agg_free(a);

	cfg.keys[0] = HX__AGG_HOST; /* without a host: the NULL key */
	a = agg_of(&cfg);
	want_row host[] = {{{NULL, NULL}, 51, 75e6, 100e6}, {{"h1", NULL}, 49, 25e6, 49e6}};
	check_rows(a, host, 2, 1);
	hx__agg_free(a);

	cfg.keys[0] = HX__AGG_ATTR;
	cfg.attr_keys[0] = "route";
	a = agg_of(&cfg);
	want_row attr[] = {{{NULL, NULL}, 67, 50e6, 100e6}, {{"/cart", NULL}, 33, 51e6, 99e6}};
	check_rows(a, attr, 2, 1);
	hx__agg_free(a);

	/* by name: each block name of each trace; metric total (per block) */
	cfg.keys[0] = HX__AGG_NAME;
	cfg.metric = "total";
	a = agg_of(&cfg);
	want_row name[] = {{{"db", NULL}, 100, 25e6, 50e6}, {{"cache", NULL}, 50, 10, 10}};
	check_rows(a, name, 2, 1);
	uint64_t traces, matched;
	hx__agg_counts(a, &traces, &matched);
	assert_int_equal(traces, 100);
	assert_int_equal(matched, 100);
	hx__agg_free(a);

	/* by name with a trace metric: the durations of the traces with that block */
	cfg.metric = "duration";
	a = agg_of(&cfg);
	want_row name_d[] = {{{"db", NULL}, 100, 50e6, 100e6}, {{"cache", NULL}, 50, 50e6, 100e6}};
	check_rows(a, name_d, 2, 1);
	hx__agg_free(a);

	/* two keys: service x root; ties in count go by key order */
	cfg.nkeys = 2;
	cfg.keys[0] = HX__AGG_SERVICE;
	cfg.keys[1] = HX__AGG_ROOT;
	a = agg_of(&cfg);
	const hx__agg_row *r2;
	size_t n2 = hx__agg_rows(a, &r2);
	assert_int_equal(n2, 6);
	assert_string_equal(r2[0].key[0], "a");
	assert_string_equal(r2[0].key[1], "POST");
	assert_int_equal(r2[0].count, 36); /* even 30..100 */
	assert_string_equal(r2[1].key[0], "b");
	assert_string_equal(r2[1].key[1], "POST");
	assert_int_equal(r2[1].count, 35);
	uint64_t sum = 0;
	for (size_t i = 0; i < n2; i++)
		sum += r2[i].count;
	assert_int_equal(sum, 120);
	hx__agg_free(a);
}

static void test_where_and_metrics(void **state)
{
	(void)state;
	hx__where *w;
	char err[200];
	assert_int_equal(hx__where_parse("duration > 80ms or service = \"c\"", &w, err, sizeof err), HX_OK);
	hx__agg_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.metric = "duration";
	cfg.where = w;
	hx__agg *a = agg_of(&cfg);
	uint64_t traces, matched;
	hx__agg_counts(a, &traces, &matched);
	assert_int_equal(traces, 100);
	assert_int_equal(matched, 20 + 16); /* 81..100, and the multiples of 5 up to 80 */
	hx__agg_free(a);
	hx__where_free(w);

	/* block fields with a block in scope: the cache blocks only */
	assert_int_equal(hx__where_parse("name = \"db\" and self >= 20ms", &w, err, sizeof err), HX_OK);
	cfg.where = w;
	cfg.nkeys = 1;
	cfg.keys[0] = HX__AGG_NAME;
	cfg.metric = "self";
	a = agg_of(&cfg);
	want_row rows[] = {{{"db", NULL}, 21, 22.5e6, 25e6}};
	check_rows(a, rows, 1, 1);
	hx__agg_free(a);
	hx__where_free(w);

	/* other metrics */
	cfg.where = NULL;
	cfg.nkeys = 0;
	cfg.metric = "errors";
	a = agg_of(&cfg);
	want_row e[] = {{{NULL, NULL}, 100, 0, 1}};
	check_rows(a, e, 1, 0);
	hx__agg_free(a);

	/* what the configuration check refuses */
	cfg.metric = "bogus";
	assert_non_null(hx__agg_config_check(&cfg));
	assert_int_equal(hx__agg_new(&a, &cfg), HX_EINVAL);
	cfg.metric = "self";
	assert_non_null(hx__agg_config_check(&cfg)); /* a block metric needs group-by name */
	cfg.metric = "critical";
	assert_null(hx__agg_config_check(&cfg)); /* the trace's critical time */
	cfg.nkeys = 2;
	cfg.keys[0] = cfg.keys[1] = HX__AGG_SERVICE;
	assert_non_null(hx__agg_config_check(&cfg));
	cfg.keys[0] = HX__AGG_ATTR;
	cfg.attr_keys[0] = NULL;
	assert_non_null(hx__agg_config_check(&cfg));

	hx__agg_key k;
	const char *attr;
	assert_int_equal(hx__agg_key_parse("attr:http.route", &k, &attr), 0);
	assert_int_equal(k, HX__AGG_ATTR);
	assert_string_equal(attr, "http.route");
	assert_int_equal(hx__agg_key_parse("service", &k, &attr), 0);
	assert_int_equal(k, HX__AGG_SERVICE);
	assert_int_equal(hx__agg_key_parse("attr:", &k, &attr), -1);
	assert_int_equal(hx__agg_key_parse("colour", &k, &attr), -1);
}

static void test_output(void **state)
{
	(void)state;
	hx__agg_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.metric = "duration";
	cfg.nkeys = 1;
	cfg.keys[0] = HX__AGG_ROOT;
	hx__agg *a;
	assert_int_equal(hx__agg_new(&a, &cfg), HX_OK);
	const char *sv[] = {"s", NULL};
	const uint64_t d[] = {1500, 2500000, 3000000000ull};
	const char *roots[] = {"x,y", "x,y", "plain"};
	for (int i = 0; i < 3; i++) {
		hx__features f;
		mk(&f, i, roots[i], d[i], sv, NULL, NULL);
		assert_int_equal(hx__agg_add(a, &f), HX_OK);
		hx__features_free(&f);
	}
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__agg_write(a, HX__AGG_CSV, &b), HX_OK);
	assert_string_equal(b.p, "root,count,p50,p90,p99,max,mean\n"
	                         "\"x,y\",2,1500,2500000,2500000,2500000,1250750\n"
	                         "plain,1,3000000000,3000000000,3000000000,3000000000,3000000000\n");
	hx__buf_reset(&b);
	assert_int_equal(hx__agg_write(a, HX__AGG_JSON, &b), HX_OK);
	assert_string_equal(b.p, "{\"metric\":\"duration\",\"unit\":\"ns\",\"group_by\":[\"root\"],\"traces\":3,"
	                         "\"matched\":3,\"rows\":[{\"root\":\"x,y\",\"count\":2,\"p50\":1500,\"p90\":2500000,"
	                         "\"p99\":2500000,\"max\":2500000,\"mean\":1250750},{\"root\":\"plain\",\"count\":1,"
	                         "\"p50\":3000000000,\"p90\":3000000000,\"p99\":3000000000,\"max\":3000000000,"
	                         "\"mean\":3000000000}]}\n");
	hx__buf_reset(&b);
	assert_int_equal(hx__agg_write(a, HX__AGG_TABLE, &b), HX_OK);
	assert_string_equal(b.p, "root   count  p50(duration)  p90(duration)  p99(duration)  max(duration)  mean(duration)\n"
	                         "x,y        2         1.50us         2.50ms         2.50ms         2.50ms          1.25ms\n"
	                         "plain      1         3.000s         3.000s         3.000s         3.000s          3.000s\n");
	hx__buf_reset(&b);
	assert_int_equal(hx__agg_histogram_json(a, 0, &b), HX_OK);
	assert_non_null(strstr(b.p, "{\"count\":2,\"buckets\":[{\"lower_bound\":"));
	assert_int_equal(hx__agg_histogram_json(a, 2, &b), HX_EINVAL);
	hx__buf_free(&b);
	hx__agg_free(a);
}

/* ---- the dependency graph ---- */

static void test_dependencies(void **state)
{
	(void)state;
	hx__deps *g;
	assert_int_equal(hx__deps_new(&g, 0), HX_OK);
	hx__dag *d = pub_sub();
	assert_int_equal(hx__deps_add(g, d, 0), HX_OK);
	hx__buf b = HX__BUF_INIT;
	assert_int_equal(hx__deps_json(g, &b), HX_OK);
	/* publish: one call per subscriber (mail twice: 5 and 10 ns; audit once); audit's message to
	 * mail; mail's message to itself left out */
	assert_string_equal(b.p,
	    "{\"by\":\"service\",\"nodes\":["
	    "{\"id\":\"audit\",\"name\":\"audit\",\"kind\":\"service\",\"calls_in\":1,\"calls_out\":1},"
	    "{\"id\":\"mail\",\"name\":\"mail\",\"kind\":\"service\",\"calls_in\":3,\"calls_out\":0},"
	    "{\"id\":\"pub\",\"name\":\"pub\",\"kind\":\"service\",\"calls_in\":0,\"calls_out\":3}],\"edges\":["
	    "{\"from\":\"audit\",\"to\":\"mail\",\"kind\":\"message\",\"calls\":1,\"p50_ns\":5,\"p99_ns\":5,\"max_ns\":5},"
	    "{\"from\":\"pub\",\"to\":\"audit\",\"kind\":\"publish\",\"calls\":1,\"p50_ns\":2,\"p99_ns\":2,\"max_ns\":2},"
	    "{\"from\":\"pub\",\"to\":\"mail\",\"kind\":\"publish\",\"calls\":2,\"p50_ns\":5,\"p99_ns\":10,\"max_ns\":10}]}\n");
	hx__dag_free(d);

	/* request/reply: one edge each way; added to the same graph */
	d = request_reply();
	assert_int_equal(hx__deps_add_traces(g, d, NULL), HX_OK);
	hx__buf_reset(&b);
	assert_int_equal(hx__deps_json(g, &b), HX_OK);
	assert_non_null(strstr(b.p, "{\"from\":\"client\",\"to\":\"server\",\"kind\":\"request\",\"calls\":1,\"p50_ns\":10,"));
	assert_non_null(strstr(b.p, "{\"from\":\"server\",\"to\":\"client\",\"kind\":\"reply\",\"calls\":1,\"p50_ns\":5,"));
	hx__buf_reset(&b);
	assert_int_equal(hx__deps_write(g, 1, &b), HX_OK);
	assert_non_null(strstr(b.p, "from,to,kind,calls,p50_ns,p99_ns,max_ns\n"));
	assert_non_null(strstr(b.p, "\npub,mail,publish,2,5,10,10\n"));
	hx__buf_reset(&b);
	assert_int_equal(hx__deps_write(g, 0, &b), HX_OK);
	assert_non_null(strstr(b.p, "client  server  request"));
	/* a trace left out by keep[]: nothing added */
	uint8_t keep[1] = {0};
	assert_int_equal(hx__deps_add_traces(g, d, keep), HX_OK);
	assert_int_equal(hx__deps_add(g, d, 9), HX_EINVAL);
	hx__dag_free(d);
	hx__deps_free(g);

	/* by entity: mail's two entities are two nodes, so the message between them is an edge */
	assert_int_equal(hx__deps_new(&g, 1), HX_OK);
	d = pub_sub();
	assert_int_equal(hx__deps_add(g, d, HX__DAG_NONE), HX_OK);
	hx__buf_reset(&b);
	assert_int_equal(hx__deps_json(g, &b), HX_OK);
	assert_non_null(strstr(b.p, "{\"by\":\"entity\",\"nodes\":[{\"id\":\"00000000000000a1\",\"name\":\"00000000000000a1\","
	                            "\"kind\":\"entity\",\"calls_in\":0,\"calls_out\":3,\"service\":\"pub\"}"));
	assert_non_null(strstr(b.p, "{\"from\":\"00000000000000b2\",\"to\":\"00000000000000c3\",\"kind\":\"message\",\"calls\":1,"
	                            "\"p50_ns\":4,\"p99_ns\":4,\"max_ns\":4}"));
	size_t edges = 0;
	for (const char *s = strstr(b.p, "\"from\""); s; s = strstr(s + 1, "\"from\""))
		edges++;
	assert_int_equal(edges, 5); /* three deliveries, two messages */
	hx__buf_free(&b);
	hx__dag_free(d);
	hx__deps_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_times),
		cmocka_unit_test(test_request_reply),
		cmocka_unit_test(test_fanout_publish),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_all_at_once),
		cmocka_unit_test(test_woken_across_traces),
		cmocka_unit_test(test_quantiles_exact),
		cmocka_unit_test(test_quantiles_histogram),
		cmocka_unit_test(test_group_by_each_key),
		cmocka_unit_test(test_where_and_metrics),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_dependencies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
