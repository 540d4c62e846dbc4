/*
 * bench_analysis.c - the trace DAG and the critical path at scale (docs/analysis.md).
 *
 *     bench_analysis [EVENTS [stream|time]]        (default 10000000 stream)
 *
 * Generates a synthetic trace in memory and pushes it event by event into a DAG builder, exactly
 * as hx__dag_read() does with the events of a reader (the reader's own speed is bench_core's
 * business; this isolates the graph). Nothing is written to disk.
 *
 * The trace: one trace ID, 100 entities passing work round a ring. In each round every entity
 * handles a request of 10 events: a block, a point, a nested block, a query cause, a wait, the
 * resuming effect of its neighbour's reply, its own reply (the cause its other neighbour waits
 * for), the ends of the blocks and a point. Times are spaced so that each reply arrives while its
 * receiver waits: the critical path hops entity to entity through every round, ~3 events per
 * request, and all 10 M events' worth of graph is live.
 *
 * Delivery order: `stream` (default) hands each entity's events over in runs of 4096, as a reader
 * in HX_ORDER_STREAM order does (the order hx__dag_read and `hx critical-path` use); `time`
 * interleaves all entities event by event, as a time-ordered merge would: the builder's worst
 * order short of entities arriving out of sequence.
 *
 * Prints `name value` lines: events, causes, gen_s (generation alone, timed first),
 * dag_build_s (generation + builder + finish), dag_build_cpu_s and critpath_cpu_s (the
 * same as CPU time of the thread: what a loaded machine does not inflate), dag_mb (what the graph holds), peak_rss_mb (of the
 * process, getrusage), critpath_s, path_events, segments. bench/run-analysis.sh makes the RESULT
 * line of them.
 */
#include <haruspex.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "analysis/critpath.h"
#include "model/dag.h"

#define ENTITIES 100
#define PER_UNIT 10
#define RUN 4096                  /* events per entity run in stream order */
#define BASE 1700000000000000000ull
/* t(round, entity, k) = BASE + round * ROUND_NS + entity * ENTITY_NS + k * STEP_NS: entity e's
 * reply (k 6) falls inside entity e + 1's wait (k 4 .. k 5); the last entity's reply reaches the
 * first entity in the next round. */
#define STEP_NS 100
#define ENTITY_NS 150
#define ROUND_NS 15000

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

static const uint8_t trace_id[16] = {0x01, 0x42};
static const char *const names[PER_UNIT] = {"request", "parse", "db", "query", "db",
                                            "reply received", "reply", "", "compute", ""};
static size_t name_len[PER_UNIT];

/* Fill ev (and *cause) with event k of entity e's request in round u: a pure function. */
static void make(hx_event *ev, hx_context *cause, uint64_t u, unsigned e, unsigned k)
{
	memset(ev, 0, sizeof(*ev));
	ev->time_ns = ev->time_orig_ns = BASE + u * ROUND_NS + e * ENTITY_NS + k * STEP_NS;
	ev->entity_id = 0x1000 + e;
	ev->seq = u * PER_UNIT + k;
	memcpy(ev->trace_id, trace_id, 16);
	ev->name = names[k];
	ev->name_len = name_len[k];
	switch (k) {
	case 0:
	case 2:
		ev->kind = HX_EV_BLOCK_BEGIN;
		break;
	case 1:
	case 8:
		ev->kind = HX_EV_POINT;
		break;
	case 3:
		ev->kind = HX_EV_CAUSE;
		ev->interaction = HX_IA_REQUEST;
		break;
	case 4:
		ev->kind = HX_EV_STATE;
		ev->state = HX_STATE_WAITING;
		break;
	case 5:
		ev->kind = HX_EV_EFFECT;
		ev->interaction = HX_IA_REPLY;
		ev->resumes = 1;
		/* the reply of the previous entity on the ring (for entity 0: the last, a round earlier) */
		if (e > 0 || u > 0) {
			memset(cause, 0, sizeof(*cause));
			memcpy(cause->trace_id, trace_id, 16);
			cause->entity_id = 0x1000 + (e ? e - 1 : ENTITIES - 1);
			cause->seq = (e ? u : u - 1) * PER_UNIT + 6;
			cause->flags = HX_CTX_VALID | HX_CTX_SAMPLED;
			ev->causes = cause;
			ev->ncauses = 1;
		}
		break;
	case 6:
		ev->kind = HX_EV_CAUSE;
		ev->interaction = HX_IA_REPLY;
		break;
	case 7:
	case 9:
		ev->kind = HX_EV_BLOCK_END;
		break;
	}
}

/* Call fn for every event in the delivery order; stops at the first non-zero return. */
typedef int (*event_fn)(const hx_event *ev, void *arg);
static int generate(uint64_t units, int by_time, event_fn fn, void *arg)
{
	hx_event ev;
	hx_context cause;
	uint64_t rounds = units / ENTITIES;
	if (by_time) {
		for (uint64_t u = 0; u < rounds; u++)
			for (unsigned e = 0; e < ENTITIES; e++)
				for (unsigned k = 0; k < PER_UNIT; k++) {
					make(&ev, &cause, u, e, k);
					if (fn(&ev, arg))
						return -1;
				}
		return 0;
	}
	const uint64_t per_run = RUN / PER_UNIT; /* rounds of one entity per run */
	for (uint64_t u0 = 0; u0 < rounds; u0 += per_run)
		for (unsigned e = 0; e < ENTITIES; e++)
			for (uint64_t u = u0; u < u0 + per_run && u < rounds; u++)
				for (unsigned k = 0; k < PER_UNIT; k++) {
					make(&ev, &cause, u, e, k);
					if (fn(&ev, arg))
						return -1;
				}
	return 0;
}

static int count_fn(const hx_event *ev, void *arg)
{
	*(uint64_t *)arg += ev->time_ns + ev->ncauses;
	return 0;
}

static int add_fn(const hx_event *ev, void *arg)
{
	return hx__dag_builder_add(arg, ev, 0);
}

int main(int argc, char **argv)
{
	uint64_t want = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ull;
	int by_time = argc > 2 && !strcmp(argv[2], "time");
	uint64_t units = want / PER_UNIT / ENTITIES * ENTITIES;
	if (units < ENTITIES)
		units = ENTITIES;
	for (unsigned k = 0; k < PER_UNIT; k++)
		name_len[k] = strlen(names[k]);

	/* generation alone: what the build time below includes */
	uint64_t sink = 0;
	double t0 = now_s();
	generate(units, by_time, count_fn, &sink);
	double gen_s = now_s() - t0;

	t0 = now_s();
	double b0 = cpu_s();
	hx__dag_builder *b;
	if (hx__dag_builder_new(&b, NULL, units * PER_UNIT)) {
		fprintf(stderr, "bench_analysis: out of memory\n");
		return 1;
	}
	if (generate(units, by_time, add_fn, b)) {
		fprintf(stderr, "bench_analysis: the builder failed\n");
		hx__dag_builder_free(b);
		return 1;
	}
	hx__dag *d;
	if (hx__dag_builder_finish(b, &d)) {
		fprintf(stderr, "bench_analysis: out of memory finishing the graph\n");
		return 1;
	}
	double build_s = now_s() - t0, build_cpu_s = cpu_s() - b0;

	t0 = now_s();
	double c0 = cpu_s();
	hx__critpath cp;
	if (hx__critpath_compute(d, 0, &cp)) {
		fprintf(stderr, "bench_analysis: out of memory in the critical path\n");
		return 1;
	}
	double cp_s = now_s() - t0, cp_cpu_s = cpu_s() - c0;

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("order %s\n", by_time ? "time" : "stream");
	printf("events %zu\n", d->n);
	printf("causes %llu linked %llu\n", (unsigned long long)d->report.causes,
	       (unsigned long long)d->report.linked);
	printf("blocks %zu waits %zu issues %zu\n", d->nblocks, d->nwaits, d->report.nissues);
	printf("gen_s %.3f\n", gen_s);
	printf("dag_build_s %.3f\n", build_s);
	printf("dag_build_cpu_s %.3f\n", build_cpu_s);
	printf("dag_mb %.1f\n", (double)hx__dag_bytes(d) / 1048576.0);
	printf("peak_rss_mb %.1f\n", (double)ru.ru_maxrss / 1024.0);
	printf("critpath_s %.3f\n", cp_s);
	printf("critpath_cpu_s %.3f\n", cp_cpu_s);
	printf("path_events %llu\n", (unsigned long long)cp.path_events);
	printf("segments %zu\n", cp.nseg);
	printf("duration_ns %llu\n", (unsigned long long)(cp.end_ns - cp.start_ns));
	printf("check %llu\n", (unsigned long long)(sink & 1)); /* keeps the generation loop */
	hx__critpath_free(&cp);
	hx__dag_free(d);
	return 0;
}
