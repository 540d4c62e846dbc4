/*
 * bench_analyze_gen.c - the input of the `hx analyze` benchmark (bench/run-analysis.sh): many
 * traces of a small distributed shop, written as the trace files its processes would leave.
 *
 *     bench_analyze_gen DIR [TRACES]          (default 100000; DIR must not hold the files yet)
 *
 * Five processes, one file each (through src/format/filewrite.h, the writer `hx` uses for fetched
 * traces: valid files every reader accepts): client (4 threads), gateway (4), inventory (2),
 * payment (2), worker (3). Trace i starts every 50 us on client thread i % 4: the client sends a
 * request to the gateway and waits; the gateway calls inventory, then payment (request, wait,
 * resuming reply each), publishes the order to all three worker threads, and replies. 42 events
 * per trace: blocks, waits, points, an error for 2 % of payments, an attribute on the client's
 * block. Latencies are drawn from long-tailed distributions (seeded: the same files every run);
 * each entity's times only increase, so a busy thread delays the next trace it serves, as a real
 * one would.
 */
#include <haruspex.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/filewrite.h"

#define BASE 1750000000000000000ull
#define SPACING 50000 /* ns between trace starts */

enum { CLIENT, GATEWAY, INVENTORY, PAYMENT, WORKER, NPROC };
static const char *const services[NPROC] = {"client", "gateway", "inventory", "payment", "worker"};
static const unsigned threads[NPROC] = {4, 4, 2, 2, 3};
static const unsigned per_trace[NPROC] = {7, 12, 5, 6, 4}; /* events per trace on one thread */

typedef struct timeline {
	uint64_t c[7], g[12], in[5], p[6], w[3][4];
	uint8_t error;
} timeline;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A long-tailed latency: mostly near lo, sometimes up to ~20 x lo. */
static uint64_t tail(uint64_t lo)
{
	uint64_t r = rnd() % 1000;
	return lo + (r < 900 ? rnd() % lo : r < 990 ? rnd() % (5 * lo) : rnd() % (20 * lo));
}

static uint64_t entity_id(int proc, unsigned thread)
{
	return 0x1000ull * (uint64_t)(proc + 1) + thread;
}

/* per entity: its last time, so that times only increase along it */
static uint64_t last[NPROC][4];
static uint64_t at(int proc, unsigned thread, uint64_t t)
{
	if (t <= last[proc][thread])
		t = last[proc][thread] + 1;
	return last[proc][thread] = t;
}

static uint64_t net(void)
{
	return tail(2000);
}

static void plan(timeline *tl, uint64_t i)
{
	unsigned ct = (unsigned)(i % 4), gt = ct, it = (unsigned)(i % 2), pt = (unsigned)((i / 2) % 2);
	uint64_t t0 = BASE + i * SPACING;
	uint64_t *c = tl->c, *g = tl->g, *in = tl->in, *p = tl->p;
	c[0] = at(CLIENT, ct, t0);
	c[1] = at(CLIENT, ct, c[0] + 200);
	c[2] = at(CLIENT, ct, c[1] + 400);
	c[3] = at(CLIENT, ct, c[2] + 100);
	g[0] = at(GATEWAY, gt, c[2] + net());
	g[1] = at(GATEWAY, gt, g[0] + 300);
	g[2] = at(GATEWAY, gt, g[1] + 500);
	g[3] = at(GATEWAY, gt, g[2] + 100);
	in[0] = at(INVENTORY, it, g[2] + net());
	in[1] = at(INVENTORY, it, in[0] + 200);
	in[2] = at(INVENTORY, it, in[1] + tail(3000));
	in[3] = at(INVENTORY, it, in[2] + 200);
	in[4] = at(INVENTORY, it, in[3] + 100);
	g[4] = at(GATEWAY, gt, in[3] + net());
	g[5] = at(GATEWAY, gt, g[4] + 300);
	g[6] = at(GATEWAY, gt, g[5] + 100);
	p[0] = at(PAYMENT, pt, g[5] + net());
	p[1] = at(PAYMENT, pt, p[0] + 200);
	uint64_t work = tail(5000);
	p[2] = at(PAYMENT, pt, p[1] + work / 2);
	p[3] = at(PAYMENT, pt, p[1] + work);
	p[4] = at(PAYMENT, pt, p[3] + 200);
	p[5] = at(PAYMENT, pt, p[4] + 100);
	tl->error = rnd() % 50 == 0;
	g[7] = at(GATEWAY, gt, p[4] + net());
	g[8] = at(GATEWAY, gt, g[7] + 300);
	g[9] = at(GATEWAY, gt, g[8] + 200);
	g[10] = at(GATEWAY, gt, g[9] + 100);
	g[11] = at(GATEWAY, gt, g[10] + 100);
	for (unsigned k = 0; k < 3; k++) {
		uint64_t *w = tl->w[k];
		w[0] = at(WORKER, k, g[8] + net());
		w[1] = at(WORKER, k, w[0] + 200);
		w[2] = at(WORKER, k, w[1] + tail(4000));
		w[3] = at(WORKER, k, w[2] + 100);
	}
	c[4] = at(CLIENT, ct, g[10] + net());
	c[5] = at(CLIENT, ct, c[4] + 300);
	c[6] = at(CLIENT, ct, c[5] + 100);
}

static void trace_id(uint8_t id[16], uint64_t i)
{
	uint64_t hi = (BASE + i * SPACING) / 1000000, lo = i * 0x9e3779b97f4a7c15ull;
	lo ^= lo >> 31;
	lo *= 0xbf58476d1ce4e5b9ull;
	lo ^= lo >> 29;
	for (int k = 0; k < 8; k++) {
		id[k] = (uint8_t)(hi >> (56 - 8 * k));
		id[8 + k] = (uint8_t)(lo >> (56 - 8 * k));
	}
}

/* The seq of event k of trace i on `thread` of `proc` (seq 0 is the ENTITY_BEGIN). */
static uint64_t seq_of(int proc, uint64_t i, unsigned k)
{
	uint64_t nth = proc == WORKER ? i : i / threads[proc]; /* the thread's nth trace */
	if (proc == PAYMENT)
		nth = i / 4 * 2 + i % 2; /* thread (i / 2) % 2 serves i in pairs */
	return 1 + nth * per_trace[proc] + k;
}

typedef struct out {
	hx__file_writer *w;
	uint64_t entity, seq;
	uint8_t trace[16];
	int failed;
} out;

static void emit(out *o, hx_event_kind kind, uint64_t time, const char *name, hx_interaction ia,
                 const hx_context *cause, int resumes, const hx_attr *attrs, size_t nattrs)
{
	hx_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.time_ns = ev.time_orig_ns = time;
	ev.entity_id = o->entity;
	ev.seq = o->seq++;
	memcpy(ev.trace_id, o->trace, 16);
	ev.name = name;
	ev.name_len = strlen(name);
	ev.interaction = ia;
	ev.causes = cause;
	ev.ncauses = cause ? 1 : 0;
	ev.resumes = resumes;
	ev.attrs = attrs;
	ev.nattrs = nattrs;
	if (kind == HX_EV_STATE)
		ev.state = HX_STATE_WAITING;
	if (hx__file_writer_add(o->w, &ev) != HX_OK)
		o->failed = 1;
}

static hx_context ctx(const uint8_t trace[16], int proc, unsigned thread, uint64_t seq)
{
	hx_context c;
	memset(&c, 0, sizeof(c));
	memcpy(c.trace_id, trace, 16);
	c.entity_id = entity_id(proc, thread);
	c.seq = seq;
	c.flags = HX_CTX_VALID | HX_CTX_SAMPLED;
	return c;
}

/* Trace i's events on `thread` of `proc`. */
static void write_trace(out *o, int proc, unsigned thread, uint64_t i, const timeline *tl)
{
	static const char *const items[] = {"widget", "gadget", "doohickey", "sprocket"};
	trace_id(o->trace, i);
	unsigned ct = (unsigned)(i % 4), gt = ct, it = (unsigned)(i % 2), pt = (unsigned)((i / 2) % 2);
	hx_context c;
	switch (proc) {
	case CLIENT: {
		const hx_attr a[] = {HX_STR("item", items[i % 4]), HX_INT("qty", 1 + i % 3)};
		emit(o, HX_EV_TRACE_BEGIN, tl->c[0], "order", 0, NULL, 0, NULL, 0);
		emit(o, HX_EV_BLOCK_BEGIN, tl->c[1], "place order", 0, NULL, 0, a, 2);
		emit(o, HX_EV_CAUSE, tl->c[2], "POST /order", HX_IA_REQUEST, NULL, 0, NULL, 0);
		emit(o, HX_EV_STATE, tl->c[3], "gateway", 0, NULL, 0, NULL, 0);
		c = ctx(o->trace, GATEWAY, gt, seq_of(GATEWAY, i, 10));
		emit(o, HX_EV_EFFECT, tl->c[4], "201 Created", HX_IA_REPLY, &c, 1, NULL, 0);
		emit(o, HX_EV_BLOCK_END, tl->c[5], "", 0, NULL, 0, NULL, 0);
		emit(o, HX_EV_TRACE_END, tl->c[6], "", 0, NULL, 0, NULL, 0);
		break;
	}
	case GATEWAY:
		c = ctx(o->trace, CLIENT, ct, seq_of(CLIENT, i, 2));
		emit(o, HX_EV_EFFECT, tl->g[0], "POST /order", HX_IA_REQUEST, &c, 0, NULL, 0);
		emit(o, HX_EV_BLOCK_BEGIN, tl->g[1], "order", 0, NULL, 0, NULL, 0);
		emit(o, HX_EV_CAUSE, tl->g[2], "POST /reserve", HX_IA_REQUEST, NULL, 0, NULL, 0);
		emit(o, HX_EV_STATE, tl->g[3], "inventory", 0, NULL, 0, NULL, 0);
		c = ctx(o->trace, INVENTORY, it, seq_of(INVENTORY, i, 3));
		emit(o, HX_EV_EFFECT, tl->g[4], "200 OK", HX_IA_REPLY, &c, 1, NULL, 0);
		emit(o, HX_EV_CAUSE, tl->g[5], "POST /charge", HX_IA_REQUEST, NULL, 0, NULL, 0);
		emit(o, HX_EV_STATE, tl->g[6], "payment", 0, NULL, 0, NULL, 0);
		c = ctx(o->trace, PAYMENT, pt, seq_of(PAYMENT, i, 4));
		emit(o, HX_EV_EFFECT, tl->g[7], "200 OK", HX_IA_REPLY, &c, 1, NULL, 0);
		emit(o, HX_EV_CAUSE, tl->g[8], "order placed", HX_IA_PUBLISH, NULL, 0, NULL, 0);
		emit(o, HX_EV_BLOCK_END, tl->g[9], "", 0, NULL, 0, NULL, 0);
		emit(o, HX_EV_CAUSE, tl->g[10], "201 Created", HX_IA_REPLY, NULL, 0, NULL, 0);
		emit(o, HX_EV_TRACE_END, tl->g[11], "", 0, NULL, 0, NULL, 0);
		break;
	case INVENTORY:
		c = ctx(o->trace, GATEWAY, gt, seq_of(GATEWAY, i, 2));
		emit(o, HX_EV_EFFECT, tl->in[0], "POST /reserve", HX_IA_REQUEST, &c, 0, NULL, 0);
		emit(o, HX_EV_BLOCK_BEGIN, tl->in[1], "reserve stock", 0, NULL, 0, NULL, 0);
		emit(o, HX_EV_BLOCK_END, tl->in[2], "", 0, NULL, 0, NULL, 0);
		emit(o, HX_EV_CAUSE, tl->in[3], "200 OK", HX_IA_REPLY, NULL, 0, NULL, 0);
		emit(o, HX_EV_TRACE_END, tl->in[4], "", 0, NULL, 0, NULL, 0);
		break;
	case PAYMENT:
		c = ctx(o->trace, GATEWAY, gt, seq_of(GATEWAY, i, 5));
		emit(o, HX_EV_EFFECT, tl->p[0], "POST /charge", HX_IA_REQUEST, &c, 0, NULL, 0);
		emit(o, HX_EV_BLOCK_BEGIN, tl->p[1], "charge card", 0, NULL, 0, NULL, 0);
		emit(o, tl->error ? HX_EV_ERROR : HX_EV_POINT, tl->p[2], tl->error ? "declined" : "authorized", 0, NULL, 0,
		     NULL, 0);
		emit(o, HX_EV_BLOCK_END, tl->p[3], "", 0, NULL, 0, NULL, 0);
		emit(o, HX_EV_CAUSE, tl->p[4], "200 OK", HX_IA_REPLY, NULL, 0, NULL, 0);
		emit(o, HX_EV_TRACE_END, tl->p[5], "", 0, NULL, 0, NULL, 0);
		break;
	default:
		c = ctx(o->trace, GATEWAY, gt, seq_of(GATEWAY, i, 8));
		emit(o, HX_EV_EFFECT, tl->w[thread][0], "order placed", HX_IA_PUBLISH, &c, 0, NULL, 0);
		emit(o, HX_EV_BLOCK_BEGIN, tl->w[thread][1], "process order", 0, NULL, 0, NULL, 0);
		emit(o, HX_EV_BLOCK_END, tl->w[thread][2], "", 0, NULL, 0, NULL, 0);
		emit(o, HX_EV_TRACE_END, tl->w[thread][3], "", 0, NULL, 0, NULL, 0);
		break;
	}
}

/* Does trace i run on `thread` of `proc`? */
static int serves(int proc, unsigned thread, uint64_t i)
{
	switch (proc) {
	case CLIENT:
	case GATEWAY: return i % 4 == thread;
	case INVENTORY: return i % 2 == thread;
	case PAYMENT: return (i / 2) % 2 == thread;
	default: return 1;
	}
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench_analyze_gen DIR [TRACES]\n");
		return 2;
	}
	uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
	if (!n || n > 100000000) {
		fprintf(stderr, "bench_analyze_gen: TRACES must be 1 .. 100000000\n");
		return 2;
	}
	mkdir(argv[1], 0755);
	timeline *tl = malloc(n * sizeof(*tl));
	if (!tl) {
		fprintf(stderr, "bench_analyze_gen: out of memory\n");
		return 1;
	}
	for (uint64_t i = 0; i < n; i++)
		plan(&tl[i], i);
	uint64_t events = 0;
	for (int proc = 0; proc < NPROC; proc++) {
		char path[4096], prog[64];
		snprintf(path, sizeof path, "%s/bench-%s.hx", argv[1], services[proc]);
		snprintf(prog, sizeof prog, "bench-%s", services[proc]);
		const char *kv[] = {"host", "bench-host", "service", services[proc], "program", prog};
		uint8_t instance[16] = {0xbe, 0x9c, (uint8_t)proc};
		out o;
		memset(&o, 0, sizeof(o));
		if (hx__file_writer_open(&o.w, path, instance, 1000 + (uint64_t)proc, kv, 3) != HX_OK) {
			fprintf(stderr, "bench_analyze_gen: cannot create %s\n", path);
			free(tl);
			return 1;
		}
		for (unsigned t = 0; t < threads[proc]; t++) {
			char name[64];
			snprintf(name, sizeof name, "%s-%u", services[proc], t);
			o.entity = entity_id(proc, t);
			o.seq = 0;
			memset(o.trace, 0, 16);
			hx_event ev;
			memset(&ev, 0, sizeof(ev));
			ev.kind = HX_EV_ENTITY_BEGIN;
			ev.time_ns = ev.time_orig_ns = BASE - 1000;
			ev.entity_id = o.entity;
			ev.seq = o.seq++;
			ev.name = name;
			ev.name_len = strlen(name);
			ev.entity_kind = HX_ENTITY_THREAD;
			if (hx__file_writer_add(o.w, &ev) != HX_OK)
				o.failed = 1;
			for (uint64_t i = 0; i < n && !o.failed; i++)
				if (serves(proc, t, i))
					write_trace(&o, proc, t, i, &tl[i]);
			events += o.seq;
		}
		if (hx__file_writer_close(o.w) != HX_OK || o.failed) {
			fprintf(stderr, "bench_analyze_gen: writing %s failed\n", path);
			free(tl);
			return 1;
		}
	}
	free(tl);
	printf("traces %llu\nevents %llu\n", (unsigned long long)n, (unsigned long long)events);
	return 0;
}
