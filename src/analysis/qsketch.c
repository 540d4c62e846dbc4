/*
 * qsketch.c - quantiles of one group of values (hx__qsketch, trace_features.h): exact up to
 * HX__AGG_EXACT values, then a log-bucketed histogram with a relative error under 1 %. Used by
 * the aggregator (agg.c) and the dependency graph (deps.c).
 *
 * Why the error bound holds: bucket k holds the values in (gamma^(k-1), gamma^k], and its
 * estimate 2 gamma^k / (gamma + 1) differs from any of them by at most (gamma - 1) / (gamma + 1)
 * of the value, which is 0.5 % for gamma = 1.005 / 0.995 (the DDSketch construction). Zero has
 * a counter of its own; the smallest and largest values are exact, and estimates are clamped to
 * them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/trace_features.h"

#define QS_GAMMA (1.005 / 0.995)
#define QS_LOG_GAMMA 0.010000083334583179 /* log(QS_GAMMA) */
#define QS_SLACK 32 /* buckets added beyond what a new extreme needs: fewer regrowths */

/* bucket k holds (gamma^(k-1), gamma^k]; v >= 1 */
static int32_t qs_index(uint64_t v)
{
	return (int32_t)ceil(log((double)v) / QS_LOG_GAMMA);
}

static double qs_estimate(int32_t k)
{
	return 2.0 * pow(QS_GAMMA, k) / (QS_GAMMA + 1.0);
}

static int qs_hist_add(hx__qsketch *q, uint64_t v, uint64_t n)
{
	int32_t k = qs_index(v);
	if (!q->nbucket || k < q->lo || k >= q->lo + (int32_t)q->nbucket) {
		int32_t lo = q->nbucket ? (k < q->lo ? k - QS_SLACK : q->lo) : k;
		int32_t hi = q->nbucket ? (k >= q->lo + (int32_t)q->nbucket ? k + QS_SLACK
		                                                           : q->lo + (int32_t)q->nbucket - 1)
		                        : k;
		if (lo < 0)
			lo = 0;
		size_t nb = (size_t)(hi - lo + 1);
		uint64_t *nbk = calloc(nb, sizeof(*nbk));
		if (!nbk)
			return HX_ENOMEM;
		if (q->nbucket)
			memcpy(nbk + (q->lo - lo), q->bucket, q->nbucket * sizeof(*nbk));
		free(q->bucket);
		q->bucket = nbk;
		q->lo = lo;
		q->nbucket = nb;
	}
	q->bucket[k - q->lo] += n;
	return HX_OK;
}

int hx__qs_add(hx__qsketch *q, uint64_t v)
{
	if (!q->count || v < q->min)
		q->min = v;
	if (!q->count || v > q->max)
		q->max = v;
	if (q->count < HX__AGG_EXACT) {
		if (q->nexact == q->exact_cap) {
			size_t cap = q->exact_cap ? q->exact_cap * 2 : 8;
			if (cap > HX__AGG_EXACT)
				cap = HX__AGG_EXACT;
			uint64_t *ne = realloc(q->exact, cap * sizeof(*ne));
			if (!ne)
				return HX_ENOMEM;
			q->exact = ne;
			q->exact_cap = cap;
		}
		q->exact[q->nexact++] = v;
		q->sorted = 0;
	} else {
		if (q->exact) {
			/* past the exact limit: fold what was kept into the histogram */
			for (size_t i = 0; i < q->nexact; i++)
				if (q->exact[i] && qs_hist_add(q, q->exact[i], 1))
					return HX_ENOMEM;
			free(q->exact);
			q->exact = NULL;
			q->nexact = q->exact_cap = 0;
		}
		if (v && qs_hist_add(q, v, 1))
			return HX_ENOMEM;
	}
	q->count++;
	q->zeros += v == 0;
	q->sum += (double)v;
	return HX_OK;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest value with at least p * count values at or below it (1-based). */
static uint64_t qs_rank(uint64_t count, double p)
{
	if (!(p > 0))
		return 1;
	if (p >= 1)
		return count;
	double x = p * (double)count;
	uint64_t r = (uint64_t)x;
	if ((double)r < x - 1e-7) /* an integer up to rounding stays that integer */
		r++;
	return r < 1 ? 1 : r > count ? count : r;
}

double hx__qs_quantile(hx__qsketch *q, double p)
{
	if (!q->count)
		return 0;
	uint64_t r = qs_rank(q->count, p);
	if (r == q->count)
		return (double)q->max;
	if (r == 1)
		return (double)q->min;
	if (!q->nbucket && q->exact) {
		if (!q->sorted) {
			qsort(q->exact, q->nexact, sizeof(*q->exact), u64_cmp);
			q->sorted = 1;
		}
		return (double)q->exact[r - 1];
	}
	if (r <= q->zeros)
		return 0;
	r -= q->zeros;
	uint64_t seen = 0;
	for (size_t i = 0; i < q->nbucket; i++) {
		seen += q->bucket[i];
		if (seen >= r) {
			double e = qs_estimate(q->lo + (int32_t)i);
			return e < (double)q->min ? (double)q->min : e > (double)q->max ? (double)q->max : e;
		}
	}
	return (double)q->max;
}

void hx__qs_free(hx__qsketch *q)
{
	if (!q)
		return;
	free(q->exact);
	free(q->bucket);
	memset(q, 0, sizeof(*q));
}

#define HIST_BUCKETS 60

int hx__qs_histogram_json(const hx__qsketch *q, hx__buf *out)
{
	/* the fine buckets, from the histogram or made now from the exact values */
	hx__qsketch h;
	memset(&h, 0, sizeof(h));
	const hx__qsketch *src = q;
	if (!q->nbucket && q->nexact) {
		for (size_t i = 0; i < q->nexact; i++)
			if (q->exact[i] && qs_hist_add(&h, q->exact[i], 1)) {
				hx__qs_free(&h);
				return HX_ENOMEM;
			}
		src = &h;
	}
	int err = hx__buf_printf(out, "{\"count\":%llu,\"buckets\":[", (unsigned long long)q->count);
	int first = 1;
	if (q->zeros) {
		err |= hx__buf_printf(out, "{\"lower_bound\":0,\"count\":%llu}", (unsigned long long)q->zeros);
		first = 0;
	}
	/* the used span of fine buckets, merged `width` at a time (aligned on multiples of width) */
	size_t a = 0, z = src->nbucket;
	while (a < z && !src->bucket[a])
		a++;
	while (z > a && !src->bucket[z - 1])
		z--;
	if (a < z) {
		int32_t k0 = src->lo + (int32_t)a, k1 = src->lo + (int32_t)z - 1;
		int32_t width = (k1 - k0) / HIST_BUCKETS + 1;
		int32_t start = k0 - k0 % width;
		for (int32_t m = start; m <= k1; m += width) {
			uint64_t c = 0;
			for (int32_t k = m; k < m + width; k++)
				if (k >= src->lo && k < src->lo + (int32_t)src->nbucket)
					c += src->bucket[k - src->lo];
			/* integers in (gamma^(m-1), gamma^(m+width-1)] start at floor(gamma^(m-1)) + 1; near 1
			 * a merged bucket may hold none: left out, so lower bounds strictly increase */
			double lb = m == 0 ? 1 : floor(pow(QS_GAMMA, m - 1)) + 1;
			if (!c && floor(pow(QS_GAMMA, m + width - 1)) < lb)
				continue;
			err |= hx__buf_printf(out, "%s{\"lower_bound\":%.0f,\"count\":%llu}", first ? "" : ",", lb,
			                      (unsigned long long)c);
			first = 0;
		}
	}
	err |= hx__buf_puts(out, "]}");
	hx__qs_free(&h);
	return err ? HX_ENOMEM : HX_OK;
}

