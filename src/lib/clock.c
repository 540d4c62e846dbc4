/*
 * clock.c - the clock domain of a process's trace.
 *
 * Events are stamped with raw ticks: the x86 TSC where it is invariant (9 ns to read here, against
 * 20 ns for clock_gettime through the vDSO), else CLOCK_MONOTONIC in ns. The trace file records an
 * anchor (ticks, monotonic ns, realtime ns taken together) and a calibrated tick rate, and the
 * background thread adds SYNC records, so readers map ticks to ns since the epoch piecewise
 * linearly: monotonic per entity, and immune to wall-clock steps after the anchor.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/tracer.h"

uint64_t hx__mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t hx__real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The TSC is usable only if it ticks at a constant rate through frequency and sleep states;
 * the kernel says so in /proc/cpuinfo. */
static int tsc_is_invariant(void)
{
#if defined(__x86_64__)
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return 0;
	char line[4096];
	int constant = 0, nonstop = 0;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
#else
	return 0;
#endif
}

/* Take (ticks, mono) as close together as possible: the pair with the narrowest tick bracket
 * around the monotonic read of a few tries. Returns that bracket, in ticks: a thread preempted
 * in every try gets a wide one, and the caller can decide not to trust it. */
uint64_t hx__clock_sample(int use_tsc, uint64_t *ticks, uint64_t *mono)
{
	uint64_t best = UINT64_MAX;
	*ticks = *mono = 0; /* always set by the first try; initialised for the compiler */
	for (int i = 0; i < 5; i++) {
		uint64_t a = hx__ticks(use_tsc);
		uint64_t m = hx__mono_ns();
		uint64_t b = hx__ticks(use_tsc);
		if (b - a < best) {
			best = b - a;
			*ticks = a + (b - a) / 2;
			*mono = m;
		}
	}
	return best;
}

/* CLOCK_REALTIME minus CLOCK_MONOTONIC, from the try whose realtime read sat in the narrowest
 * monotonic bracket. Every process of a host converts its times with this offset, so an error
 * here shifts all of one process's events against the others': a thread preempted between two
 * plain reads would put a process milliseconds off, and its effects before their causes. */
static int64_t real_minus_mono(void)
{
	uint64_t best = UINT64_MAX;
	int64_t off = 0;
	for (int i = 0; i < 7; i++) {
		uint64_t a = hx__mono_ns();
		uint64_t r = hx__real_ns();
		uint64_t b = hx__mono_ns();
		if (b - a < best) {
			best = b - a;
			off = (int64_t)(r - (a + (b - a) / 2));
		}
	}
	return off;
}

int hx__clock_init(struct hx__tracer *tr)
{
	tr->use_tsc = HX_HAVE_TSC && tsc_is_invariant() && !getenv("HARUSPEX_NO_TSC");
	uint64_t t0, m0;
	hx__clock_sample(tr->use_tsc, &t0, &m0);
	tr->anchor_ticks = t0;
	tr->anchor_mono = m0;
	tr->anchor_real = (uint64_t)((int64_t)m0 + real_minus_mono());
	if (!tr->use_tsc) {
		tr->ticks_per_sec = 1000000000u;
		return 0;
	}
	/* Calibrate over 2 ms: an error of ~50 ns in each sample gives a rate within 5e-5, and SYNC
	 * records written by the background thread correct the rest. */
	uint64_t t1, m1;
	do
		hx__clock_sample(1, &t1, &m1);
	while (m1 - m0 < 2000000);
	long double rate = (long double)(t1 - t0) * 1e9L / (long double)(m1 - m0);
	tr->ticks_per_sec = rate > 1e6L ? (uint64_t)rate : 1000000000u;
	return 0;
}

uint64_t hx__ticks_to_real_ns(const struct hx__tracer *tr, uint64_t ticks)
{
	long double d = (long double)(int64_t)(ticks - tr->anchor_ticks) * 1e9L / (long double)tr->ticks_per_sec;
	return tr->anchor_real + (uint64_t)(int64_t)d;
}
