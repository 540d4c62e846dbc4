/*
 * clockmap.c - turn a process's clock ticks into ns since the epoch.
 *
 * A process records times in ticks (TSC, or CLOCK_MONOTONIC ns) and samples the pair
 * (ticks, monotonic ns) at init (the file header's anchor) and from time to time after (SYNC
 * records). Between two samples a tick maps by straight-line interpolation, which follows the
 * real tick rate as it drifts; before the first and after the last sample the header's calibrated
 * rate extrapolates. Monotonic ns then become wall-clock ns through the one anchor pair
 * (monotonic, realtime), so an NTP step during the run cannot reorder events.
 *
 * Samples come from files that may be damaged or hostile, so the map is forced non-decreasing and
 * every product is done in 128 bits and saturated: any input gives some monotone map, never a trap.
 * Slopes are 64.64 fixed point, so converting an event costs two multiplies, not a division.
 */
#include "format/reader_int.h"

#include <stdlib.h>

#define NS_PER_SEC 1000000000ull
#define RATE_MIN 1000000ull       /* 1 MHz: slower "ticks" are not a clock we wrote */
#define RATE_MAX 100000000000ull  /* 100 GHz */

uint64_t hx__clock_sane_rate(uint64_t ticks_per_sec)
{
	if (ticks_per_sec < RATE_MIN || ticks_per_sec > RATE_MAX)
		return NS_PER_SEC;
	return ticks_per_sec;
}

int hx__clock_add(hx__clock *k, uint64_t ticks, uint64_t mono)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;
		hx__clock_pt *pt = realloc(k->pt, cap * sizeof(*pt));
		if (!pt)
			return HX_ENOMEM;
		k->pt = pt;
		k->cap = cap;
	}
	k->pt[k->n].ticks = ticks;
	k->pt[k->n].mono = mono;
	k->n++;
	return HX_OK;
}

static int pt_cmp(const void *a, const void *b)
{
	const hx__clock_pt *x = a, *y = b;
	if (x->ticks != y->ticks)
		return x->ticks < y->ticks ? -1 : 1;
	if (x->mono != y->mono)
		return x->mono < y->mono ? -1 : 1;
	return 0;
}

/* dmono / dticks as 64.64 fixed point (dticks > 0). */
static hx__slope slope(uint64_t dmono, uint64_t dticks)
{
	hx__slope s;
	s.whole = dmono / dticks;
	s.frac = (uint64_t)(((hx__u128)(dmono % dticks) << 64) / dticks);
	return s;
}

int hx__clock_build(hx__clock *k, uint64_t ticks_per_sec)
{
	k->edge = slope(NS_PER_SEC, hx__clock_sane_rate(ticks_per_sec));
	if (k->n == 0)
		return HX_OK;
	qsort(k->pt, k->n, sizeof(*k->pt), pt_cmp);
	/* One point per tick value, and monotonic ns never decreasing along the ticks. */
	size_t n = 1;
	for (size_t i = 1; i < k->n; i++) {
		if (k->pt[i].ticks == k->pt[n - 1].ticks)
			continue;
		k->pt[n] = k->pt[i];
		if (k->pt[n].mono < k->pt[n - 1].mono)
			k->pt[n].mono = k->pt[n - 1].mono;
		n++;
	}
	k->n = n;
	for (size_t i = 0; i + 1 < n; i++)
		k->pt[i].slope = slope(k->pt[i + 1].mono - k->pt[i].mono, k->pt[i + 1].ticks - k->pt[i].ticks);
	k->pt[n - 1].slope = k->edge;
	return HX_OK;
}

void hx__clock_free(hx__clock *k)
{
	free(k->pt);
	k->pt = NULL;
	k->n = k->cap = 0;
}

size_t hx__clock_find(const hx__clock *k, uint64_t ticks)
{
	/* The last point whose ticks are <= ticks; the caller has checked ticks >= pt[0]. */
	size_t lo = 0, hi = k->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (k->pt[mid].ticks <= ticks)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

uint64_t hx__clock_before(const hx__clock *k, uint64_t ticks)
{
	hx__u128 off = hx__slope_apply(k->edge, k->pt[0].ticks - ticks);
	uint64_t mono = off >= k->pt[0].mono ? 0 : k->pt[0].mono - (uint64_t)off;
	return hx__clock_real(k, mono);
}
