/*
 * stats.c - the misuse and drop counters. They are process-wide (a drop or a misuse is a fact about
 * the process, whatever thread saw it) and mirrored into the current trace file's header, so
 * `hx stats` shows them even for a program that crashed. Counting happens only on slow paths
 * (misuse, failure), so a shared atomic add is cheap enough.
 */
#include <stdatomic.h>
#include <string.h>

#include "lib/tracer.h"

static _Atomic uint64_t counters[HX_COUNT__MAX];
/* The counter slots in the mapped header of the current trace file, or NULL. */
static _Atomic(uint64_t *) file_counters;

void hx__count(hx_counter_id id)
{
	if ((unsigned)id >= HX_COUNT__MAX)
		return;
	uint64_t v = atomic_fetch_add_explicit(&counters[id], 1, memory_order_relaxed) + 1;
	uint64_t *fc = atomic_load_explicit(&file_counters, memory_order_acquire);
	/* A plain store of the process total: the file holds the latest value any thread wrote;
	 * racing writers can only leave it a little behind, never corrupt it (8-byte aligned). */
	if (fc)
		__atomic_store_n(&fc[id], v, __ATOMIC_RELAXED);
}

void hx__counters_attach(uint64_t *fc)
{
	if (fc) {
		for (int i = 0; i < HX_COUNT__MAX; i++)
			__atomic_store_n(&fc[i], atomic_load_explicit(&counters[i], memory_order_relaxed),
			                 __ATOMIC_RELAXED);
	}
	atomic_store_explicit(&file_counters, fc, memory_order_release);
}

void hx__counters_reset(void)
{
	for (int i = 0; i < HX_COUNT__MAX; i++)
		atomic_store_explicit(&counters[i], 0, memory_order_relaxed);
}

void hx_stats_get(hx_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof *out);
	for (int i = 0; i < HX_COUNT__MAX; i++)
		out->count[i] = atomic_load_explicit(&counters[i], memory_order_relaxed);
	struct hx__tracer *tr = atomic_load(&hx__tracer_cur);
	out->events = hx__events_total(tr);
}
