/*
 * bench_common.h - what bench_core.c (Haruspex) and bench_lttng.c (LTTng-UST) share, so that both
 * sides of the comparison parse the same options, run the same threads and time the same way.
 *
 * Each thread runs `warmup` iterations of the loop (untimed: it creates the thread's tracing state
 * and faults in its first buffers), waits at a barrier, then runs `events` iterations between two
 * clock reads. A loop is a function called once per timed section, never once per event, so the
 * timed code is exactly the instrumented call in a counted loop.
 *
 * Reported per run (one line of key=value pairs, parsed by bench/run-core.sh):
 *   ns_per_event      mean over threads of (CLOCK_MONOTONIC loop time / events): the cost of one
 *                     call as the calling thread sees it. With more threads than cores it includes
 *                     the time a thread waited for a core.
 *   ns_min, ns_max    the fastest and slowest thread of the run.
 *   cpu_ns_per_event  the same with CLOCK_THREAD_CPUTIME_ID: the CPU the thread spent per call,
 *                     whether or not it had to share a core.
 *   mev_s             all threads' events / (last end - first start): aggregate throughput.
 */
#ifndef HX_BENCH_COMMON_H
#define HX_BENCH_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_THREADS 256

/* One timed section: run the instrumented call n times. */
typedef void (*bench_loop_fn)(uint64_t n);

struct bench_opts {
	const char *mode;
	unsigned threads;
	uint64_t events; /* per thread; 0 = the mode's default */
	uint64_t warmup; /* per thread; UINT64_MAX = events / 10 */
	const char *dir; /* bench_core: trace directory */
	int verify;      /* bench_core: read the trace back after the run */
};

struct bench_result {
	double ns_per_event, ns_min, ns_max, cpu_ns_per_event, mev_s;
};

static inline uint64_t bench_now(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int bench_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = (uint64_t)v;
	return 0;
}

/* Parse "MODE [--threads N] [--events N] [--warmup N] [--dir D] [--no-verify]". Returns 0, or -1
 * after printing `usage` to stderr. */
static inline int bench_parse(int argc, char **argv, struct bench_opts *o, const char *usage)
{
	o->mode = NULL;
	o->threads = 1;
	o->events = 0;
	o->warmup = UINT64_MAX;
	o->dir = NULL;
	o->verify = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		uint64_t v;
		if (!strcmp(a, "--threads") && i + 1 < argc) {
			if (bench_parse_u64(argv[++i], &v) || v < 1 || v > BENCH_MAX_THREADS)
				goto bad;
			o->threads = (unsigned)v;
		} else if (!strcmp(a, "--events") && i + 1 < argc) {
			if (bench_parse_u64(argv[++i], &v) || v < 1)
				goto bad;
			o->events = v;
		} else if (!strcmp(a, "--warmup") && i + 1 < argc) {
			if (bench_parse_u64(argv[++i], &o->warmup))
				goto bad;
		} else if (!strcmp(a, "--dir") && i + 1 < argc) {
			o->dir = argv[++i];
		} else if (!strcmp(a, "--no-verify")) {
			o->verify = 0;
		} else if (a[0] != '-' && !o->mode) {
			o->mode = a;
		} else {
			goto bad;
		}
	}
	if (o->mode)
		return 0;
bad:
	fputs(usage, stderr);
	return -1;
}

struct bench_thread {
	pthread_t tid;
	bench_loop_fn loop;
	uint64_t events, warmup;
	pthread_barrier_t *barrier;
	uint64_t t0, t1, c0, c1;
};

static inline void *bench_thread_main(void *arg)
{
	struct bench_thread *t = arg;
	t->loop(t->warmup);
	pthread_barrier_wait(t->barrier);
	t->c0 = bench_now(CLOCK_THREAD_CPUTIME_ID);
	t->t0 = bench_now(CLOCK_MONOTONIC);
	t->loop(t->events);
	t->t1 = bench_now(CLOCK_MONOTONIC);
	t->c1 = bench_now(CLOCK_THREAD_CPUTIME_ID);
	return NULL;
}

/* Run `threads` threads of `loop` and fill *r. Exits the program if a thread cannot start. */
static inline void bench_run(unsigned threads, uint64_t events, uint64_t warmup, bench_loop_fn loop,
                     struct bench_result *r)
{
	static struct bench_thread t[BENCH_MAX_THREADS];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, threads);
	for (unsigned i = 0; i < threads; i++) {
		t[i] = (struct bench_thread){.loop = loop, .events = events, .warmup = warmup,
		                             .barrier = &barrier};
		int err = pthread_create(&t[i].tid, NULL, bench_thread_main, &t[i]);
		if (err) {
			fprintf(stderr, "pthread_create: %s\n", strerror(err));
			exit(1); /* the threads already started wait at the barrier forever */
		}
	}
	uint64_t first = UINT64_MAX, last = 0;
	double sum = 0, cpu = 0;
	r->ns_min = 1e300;
	r->ns_max = 0;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(t[i].tid, NULL);
		double ns = (double)(t[i].t1 - t[i].t0) / (double)events;
		sum += ns;
		cpu += (double)(t[i].c1 - t[i].c0) / (double)events;
		if (ns < r->ns_min)
			r->ns_min = ns;
		if (ns > r->ns_max)
			r->ns_max = ns;
		if (t[i].t0 < first)
			first = t[i].t0;
		if (t[i].t1 > last)
			last = t[i].t1;
	}
	pthread_barrier_destroy(&barrier);
	r->ns_per_event = sum / threads;
	r->cpu_ns_per_event = cpu / threads;
	r->mev_s = (double)events * threads / (double)(last - first) * 1e3;
}

static inline void bench_print_result(const char *bench, const struct bench_opts *o, uint64_t events,
                               uint64_t warmup, const struct bench_result *r)
{
	printf("bench=%s mode=%s threads=%u events_per_thread=%" PRIu64 " warmup_per_thread=%" PRIu64
	       " ns_per_event=%.3f ns_min=%.3f ns_max=%.3f cpu_ns_per_event=%.3f mev_s=%.2f",
	       bench, o->mode, o->threads, events, warmup, r->ns_per_event, r->ns_min, r->ns_max,
	       r->cpu_ns_per_event, r->mev_s);
}

#endif /* HX_BENCH_COMMON_H */
