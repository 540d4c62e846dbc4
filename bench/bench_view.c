/*
 * bench_view.c - the viewer's model at scale (src/view/, docs/analysis.md "The viewer's model").
 *
 *     bench_view [EVENTS]        (default 10000000)
 *
 * Generates a synthetic trace in memory and pushes it through a view builder as a reader would
 * (each entity's events in runs of 4096), then asks the level-of-detail questions the viewer
 * asks while panning and zooming. Nothing is written to disk.
 *
 * The trace: 200 entities in 20 processes on 4 hosts (two processes with clock offsets). Each
 * entity handles requests of 16 events: a request block holding a parse block and a db block
 * with a nested query block (depth 3), points, a message to its neighbour, a wait ended by the
 * neighbour's message, and now and then an error; block widths vary so merged runs have a
 * longest member. Every request block carries one string attribute. One entity per host also
 * records a counter sample per request (4 tracks).
 *
 * Queries, all lanes, 1500 columns, arrows on, default max_items (50,000):
 *   zoomed out  200 windows each covering 50..100 % of the trace, at random offsets;
 *   zoomed in   200 windows of 0.01..1 % of the trace.
 * Prints one line:
 *   view events=N build_s=.. build_cpu_s=.. gen_s=.. bytes=.. dag_bytes=.. peak_rss_mb=..
 *        lod_p50_ms=.. lod_p95_ms=.. lod_cpu_p50_ms=.. lod_cpu_p95_ms=.. items_p95=..
 *        json_kb_p95=..
 *        zin_p50_ms=.. zin_p95_ms=.. zin_cpu_p50_ms=.. zin_cpu_p95_ms=.. zin_items_p95=..
 * (lod_* zoomed out, zin_* zoomed in; *_cpu_* the thread's CPU time, which a loaded machine
 * inflates far less than wall time). build_s includes generating the events (gen_s, timed alone
 * first).
 */
#include <haruspex.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "view/view.h"

#define ENTITIES 200
#define PROCS 20
#define PER_UNIT 16
#define RUN 4096
#define BASE 1700000000000000000ull
#define STEP_NS 50
#define ENTITY_NS 30
#define UNIT_NS 2000
#define QUERIES 200

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: on a loaded machine it shows the work where wall time shows the wait */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const uint8_t trace_id[16] = {0x01, 0x43, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* Event k of entity e's request u: a pure function, so any event can be made at any time. */
static void make(hx_event *ev, hx_context *cause, hx_attr *attr, uint64_t u, unsigned e, unsigned k)
{
	static const char *const names[PER_UNIT] = {"request", "parse", "token", "", "db", "query",
	                                            "row", "", "", "send", "reply", "recv",
	                                            "queue", "done", "", "tick"};
	memset(ev, 0, sizeof(*ev));
	uint64_t jitter = mix(u * 1000003 + e) % 20;
	ev->time_ns = ev->time_orig_ns = BASE + u * UNIT_NS + e * ENTITY_NS + k * STEP_NS +
	                                 (k >= 5 && k <= 7 ? jitter : 0);
	ev->entity_id = 0x1000 + e;
	ev->seq = u * PER_UNIT + k;
	memcpy(ev->trace_id, trace_id, 16);
	ev->name = names[k];
	switch (k) {
	case 0:
	case 1:
	case 4:
	case 5:
		ev->kind = HX_EV_BLOCK_BEGIN;
		if (k == 0) {
			*attr = HX_STR("path", "/api/items");
			ev->attrs = attr;
			ev->nattrs = 1;
		}
		break;
	case 3:
	case 7:
	case 8:
	case 14: ev->kind = HX_EV_BLOCK_END; break;
	case 9:
		ev->kind = HX_EV_CAUSE;
		ev->interaction = HX_IA_MESSAGE;
		break;
	case 10:
		ev->kind = HX_EV_STATE;
		ev->state = HX_STATE_WAITING;
		break;
	case 11:
		ev->kind = HX_EV_EFFECT;
		ev->interaction = HX_IA_MESSAGE;
		ev->resumes = 1;
		/* the previous entity's send of this request (the first entity: of the one before) */
		if (e > 0 || u > 0) {
			memcpy(cause->trace_id, trace_id, 16);
			cause->entity_id = 0x1000 + (e ? e - 1 : ENTITIES - 1);
			cause->seq = (e ? u : u - 1) * PER_UNIT + 9;
			cause->flags = HX_CTX_VALID | HX_CTX_SAMPLED;
			ev->causes = cause;
			ev->ncauses = 1;
		}
		break;
	case 12:
		if (e % 50) {
			ev->kind = HX_EV_POINT; /* counters: one track per host, on its first entity */
			break;
		}
		ev->kind = HX_EV_COUNTER;
		ev->counter_int = (int64_t)(mix(u + e) % 100);
		ev->counter_is_int = 1;
		ev->unit = "items";
		break;
	case 15:
		ev->kind = mix(u * 31 + e) % 97 == 0 ? HX_EV_ERROR : HX_EV_POINT;
		break;
	default: ev->kind = HX_EV_POINT; break;
	}
	ev->name_len = strlen(ev->name);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static uint64_t rnd_state = 12345;
static uint64_t rnd(void)
{
	rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
	return rnd_state >> 11;
}

static long long items_of(const hx__buf *b)
{
	const char *s = strstr(b->p, "\"summary\":");
	s = s ? strstr(s, "\"items\":") : NULL;
	return s ? atoll(s + 8) : -1;
}

/* QUERIES windows of lo..hi of the span: time per query (ms, wall and CPU), items, JSON size. */
static int run_queries(const hx__view *v, uint64_t start, uint64_t end, double lo, double hi,
                       double *ms, double *cpu, double *items, double *kb)
{
	hx__buf b = HX__BUF_INIT;
	uint64_t span = end - start;
	for (int q = 0; q < QUERIES; q++) {
		double frac = lo + (hi - lo) * (double)(rnd() % 10000) / 10000.0;
		uint64_t w = (uint64_t)((double)span * frac);
		w = w ? w : 1;
		uint64_t from = start + (span > w ? rnd() % (span - w) : 0);
		hx__lod_req r;
		memset(&r, 0, sizeof(r));
		r.from_ns = from;
		r.to_ns = from + w;
		r.px = 1500;
		r.arrows = 1;
		char err[128];
		hx__buf_reset(&b);
		double t0 = now_s(), c0 = cpu_s();
		int rc = hx__view_lod_json(v, &r, &b, err, sizeof(err));
		ms[q] = (now_s() - t0) * 1e3;
		cpu[q] = (cpu_s() - c0) * 1e3;
		if (rc) {
			fprintf(stderr, "bench_view: lod: %s (%s)\n", hx_strerror(rc), err);
			hx__buf_free(&b);
			return rc;
		}
		items[q] = (double)items_of(&b);
		kb[q] = (double)b.len / 1024.0;
	}
	hx__buf_free(&b);
	return HX_OK;
}

int main(int argc, char **argv)
{
	uint64_t events = 10000000;
	if (argc > 1)
		events = strtoull(argv[1], NULL, 10);
	uint64_t units = events / ((uint64_t)ENTITIES * PER_UNIT);
	if (!units)
		units = 1;
	uint64_t per_ent = units * PER_UNIT;

	/* generation alone */
	hx_event ev;
	hx_context cause;
	hx_attr attr;
	uint64_t sink = 0;
	double t0 = now_s();
	for (uint64_t r = 0; r < per_ent; r += RUN)
		for (unsigned e = 0; e < ENTITIES; e++)
			for (uint64_t i = r; i < r + RUN && i < per_ent; i++) {
				make(&ev, &cause, &attr, i / PER_UNIT, e, (unsigned)(i % PER_UNIT));
				sink += ev.time_ns;
			}
	double gen_s = now_s() - t0;

	t0 = now_s();
	double c0 = cpu_s();
	hx__view_builder *b;
	if (hx__view_builder_new(&b, trace_id, (size_t)(per_ent * ENTITIES))) {
		fprintf(stderr, "bench_view: out of memory\n");
		return 1;
	}
	for (unsigned p = 0; p < PROCS; p++) {
		char host[32], svc[32], prog[32];
		snprintf(host, sizeof(host), "host-%u", p % 4);
		snprintf(svc, sizeof(svc), "svc-%u", p % 7);
		snprintf(prog, sizeof(prog), "prog-%u", p);
		if (hx__view_builder_process(b, p, host, svc, prog, 1000 + p, p % 9 == 1 ? 2500 : 0)) {
			fprintf(stderr, "bench_view: out of memory\n");
			return 1;
		}
	}
	for (uint64_t r = 0; r < per_ent; r += RUN)
		for (unsigned e = 0; e < ENTITIES; e++)
			for (uint64_t i = r; i < r + RUN && i < per_ent; i++) {
				make(&ev, &cause, &attr, i / PER_UNIT, e, (unsigned)(i % PER_UNIT));
				if (hx__view_builder_add(b, &ev, e % PROCS)) {
					fprintf(stderr, "bench_view: add failed\n");
					return 1;
				}
			}
	hx__view *v;
	int rc = hx__view_builder_finish(b, &v);
	double build_s = now_s() - t0, build_cpu_s = cpu_s() - c0;
	if (rc) {
		fprintf(stderr, "bench_view: build: %s\n", hx_strerror(rc));
		return 1;
	}
	const hx__dag *d = hx__view_dag(v);
	uint64_t start = d->ev_time[0], end = d->ev_time[0];
	for (size_t i = 0; i < d->n; i++) {
		start = d->ev_time[i] < start ? d->ev_time[i] : start;
		end = d->ev_time[i] > end ? d->ev_time[i] : end;
	}

	double ms[QUERIES], cpu[QUERIES], items[QUERIES], kb[QUERIES];
	double zms[QUERIES], zcpu[QUERIES], zitems[QUERIES], zkb[QUERIES];
	if (run_queries(v, start, end, 0.5, 1.0, ms, cpu, items, kb) ||
	    run_queries(v, start, end, 0.0001, 0.01, zms, zcpu, zitems, zkb))
		return 1;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("view events=%zu build_s=%.2f build_cpu_s=%.2f gen_s=%.2f bytes=%zu dag_bytes=%zu "
	       "peak_rss_mb=%.0f "
	       "lod_p50_ms=%.2f lod_p95_ms=%.2f lod_cpu_p50_ms=%.2f lod_cpu_p95_ms=%.2f items_p95=%.0f "
	       "json_kb_p95=%.0f zin_p50_ms=%.2f zin_p95_ms=%.2f zin_cpu_p50_ms=%.2f "
	       "zin_cpu_p95_ms=%.2f zin_items_p95=%.0f\n",
	       d->n, build_s, build_cpu_s, gen_s, hx__view_bytes(v), hx__dag_bytes(d),
	       (double)ru.ru_maxrss / 1024.0,
	       pct(ms, QUERIES, 0.5), pct(ms, QUERIES, 0.95), pct(cpu, QUERIES, 0.5),
	       pct(cpu, QUERIES, 0.95), pct(items, QUERIES, 0.95), pct(kb, QUERIES, 0.95),
	       pct(zms, QUERIES, 0.5), pct(zms, QUERIES, 0.95), pct(zcpu, QUERIES, 0.5),
	       pct(zcpu, QUERIES, 0.95), pct(zitems, QUERIES, 0.95));
	hx__view_free(v);
	return sink == 42 ? 2 : 0;
}
