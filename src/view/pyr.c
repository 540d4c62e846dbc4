/*
 * pyr.c - pyramids of maxima: the structure that lets a level-of-detail query skip over what it
 * merges. Level 0 is an interval set's widths or gaps (or the gaps between a lane's points),
 * computed from its arrays when read (so it costs nothing to store); each level above holds the
 * maximum of 16 nodes below, so a level costs 1/16 of the one under it and the whole pyramid
 * n/15 nodes. "The first interval from i
 * at least this wide" or "the widest in [a, b)" then take O(16 log16 n) reads, whatever lies in
 * between: a run of a million narrow blocks is found and measured without touching each one.
 * Counter tracks get the same shape with (min, max) pairs of doubles.
 */
#include <math.h>

#include "view/view_int.h"

#define FAN HX__PYR_FAN
#define MAXLEV HX__PYR_LEVELS

size_t hx__pyr_nodes(size_t n)
{
	size_t total = 0;
	while (n > 1) {
		n = (n + FAN - 1) / FAN;
		total += n;
	}
	return total;
}

static inline uint64_t leaf(const hx__pyr *p, size_t i)
{
	if (p->what == HX__PYR_WIDTH)
		return p->end[i] > p->start[i] ? p->end[i] - p->start[i] : 0;
	if (i + 1 >= p->n)
		return UINT64_MAX;
	return p->start[i + 1] > p->maxend[i] ? p->start[i + 1] - p->maxend[i] : 0;
}

/* Sizes and offsets of the levels (level 0: the leaves, offset unused); returns their number. */
static int levels(size_t n, size_t *sz, size_t *off)
{
	int L = 0;
	sz[0] = n;
	off[0] = 0;
	size_t o = 0;
	while (sz[L] > 1 && L + 1 < MAXLEV) {
		sz[L + 1] = (sz[L] + FAN - 1) / FAN;
		off[L + 1] = o;
		o += sz[L + 1];
		L++;
	}
	return L + 1;
}

static inline uint64_t node(const hx__pyr *p, const size_t *off, int l, size_t j)
{
	return l == 0 ? leaf(p, j) : p->nodes[off[l] + j];
}

void hx__pyr_init(hx__pyr *p, const uint64_t *start, const uint64_t *end, const uint64_t *maxend,
                  uint32_t n, const uint64_t *nodes, int what)
{
	p->start = start;
	p->end = end;
	p->maxend = maxend;
	p->n = n;
	p->nodes = nodes;
	p->what = what;
	p->levels = levels(n, p->sz, p->off);
}

void hx__pyr_build(const hx__pyr *p, uint64_t *nodes)
{
	const size_t *sz = p->sz, *off = p->off;
	int L = p->levels;
	for (int l = 1; l < L; l++) {
		for (size_t j = 0; j < sz[l]; j++) {
			uint64_t m = 0;
			size_t c = j * FAN, e = c + FAN < sz[l - 1] ? c + FAN : sz[l - 1];
			for (; c < e; c++) {
				uint64_t x = l == 1 ? leaf(p, c) : nodes[off[l - 1] + c];
				if (x > m)
					m = x;
			}
			nodes[off[l] + j] = m;
		}
	}
}

uint32_t hx__pyr_first_ge(const hx__pyr *p, uint32_t i, uint64_t thr)
{
	if (i >= p->n)
		return p->n;
	const size_t *sz = p->sz, *off = p->off;
	int L = p->levels;
	int l = 0;
	size_t j = i;
	for (;;) {
		size_t end = (j / FAN + 1) * FAN;
		if (end > sz[l])
			end = sz[l];
		for (; j < end; j++)
			if (node(p, off, l, j) >= thr)
				goto found;
		if (end >= sz[l] || l + 1 >= L)
			return p->n;
		/* the rest of this level lies under the parents from end / FAN on */
		j = end / FAN;
		l++;
	}
found:
	while (l > 0) {
		l--;
		size_t c = j * FAN, e = c + FAN < sz[l] ? c + FAN : sz[l];
		while (c < e && node(p, off, l, c) < thr)
			c++;
		j = c; /* a parent >= thr has a child >= thr */
	}
	return (uint32_t)j;
}

uint64_t hx__pyr_max(const hx__pyr *p, uint32_t a32, uint32_t b32)
{
	const size_t *off = p->off;
	size_t a = a32, b = b32 < p->n ? b32 : p->n;
	uint64_t m = 0;
	for (int l = 0; a < b; l++) {
		while (a < b && a % FAN) {
			uint64_t x = node(p, off, l, a++);
			m = x > m ? x : m;
		}
		while (a < b && b % FAN) {
			uint64_t x = node(p, off, l, --b);
			m = x > m ? x : m;
		}
		a /= FAN;
		b /= FAN;
	}
	return m;
}

/* ---- min/max of doubles ---- */

size_t hx__cpyr_nodes(size_t n)
{
	return 2 * hx__pyr_nodes(n);
}

void hx__cpyr_build(const double *v, uint32_t n, double *nodes)
{
	size_t sz[MAXLEV], off[MAXLEV];
	int L = levels(n, sz, off);
	for (int l = 1; l < L; l++) {
		for (size_t j = 0; j < sz[l]; j++) {
			double mn = INFINITY, mx = -INFINITY;
			size_t c = j * FAN, e = c + FAN < sz[l - 1] ? c + FAN : sz[l - 1];
			for (; c < e; c++) {
				double lo = l == 1 ? v[c] : nodes[2 * (off[l - 1] + c)];
				double hi = l == 1 ? v[c] : nodes[2 * (off[l - 1] + c) + 1];
				mn = lo < mn ? lo : mn;
				mx = hi > mx ? hi : mx;
			}
			nodes[2 * (off[l] + j)] = mn;
			nodes[2 * (off[l] + j) + 1] = mx;
		}
	}
}

void hx__cpyr_range(const double *v, uint32_t n, const double *nodes, uint32_t a32, uint32_t b32,
                    double *mn, double *mx)
{
	size_t sz[MAXLEV], off[MAXLEV];
	levels(n, sz, off);
	size_t a = a32, b = b32 < n ? b32 : n;
	double lo = INFINITY, hi = -INFINITY;
	for (int l = 0; a < b; l++) {
#define TAKE(j)                                                                                  \
	do {                                                                                     \
		double x0 = l == 0 ? v[j] : nodes[2 * (off[l] + (j))];                            \
		double x1 = l == 0 ? v[j] : nodes[2 * (off[l] + (j)) + 1];                        \
		lo = x0 < lo ? x0 : lo;                                                           \
		hi = x1 > hi ? x1 : hi;                                                           \
	} while (0)
		while (a < b && a % FAN) {
			TAKE(a);
			a++;
		}
		while (a < b && b % FAN) {
			b--;
			TAKE(b);
		}
#undef TAKE
		a /= FAN;
		b /= FAN;
	}
	*mn = lo;
	*mx = hi;
}
