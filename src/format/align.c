/*
 * align.c - the clock offset solver (align.h).
 *
 * Times come from files, so they may be anything: every difference is taken in 128 bits and
 * clamped, and every sum saturates, so hostile times give some offsets (refused when too large),
 * never an overflow.
 */
#include "format/align.h"

#include <stdlib.h>
#include <string.h>

__extension__ typedef __int128 i128;

/* Edge A -> B: off(B) - off(A) >= w, from `count` pairs. */
typedef struct edge {
	uint32_t a, b;
	int64_t w;
	uint64_t count;
} edge;

/* Differences and sums stay within +-2^62, so two of them still add without overflow. */
#define LIM ((int64_t)1 << 62)

static int64_t clamp128(i128 v)
{
	return v > LIM ? LIM : v < -LIM ? -LIM : (int64_t)v;
}

static int64_t add(int64_t x, int64_t y)
{
	return clamp128((i128)x + y);
}

static int pair_cmp(const void *x, const void *y)
{
	const hx__align_pair *p = x, *q = y;
	if (p->cause_host != q->cause_host)
		return p->cause_host < q->cause_host ? -1 : 1;
	return (p->effect_host > q->effect_host) - (p->effect_host < q->effect_host);
}

/* The edge a -> b in the sorted edge array, or NULL. */
static const edge *find_edge(const edge *e, size_t n, uint32_t a, uint32_t b)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e[mid].a < a || (e[mid].a == a && e[mid].b < b))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && e[lo].a == a && e[lo].b == b ? &e[lo] : NULL;
}

/* The shift d of off(v) - off(u) that the edges between u and v ask for (step 2 of align.h). */
static int64_t choose(const edge *uv, const edge *vu)
{
	int64_t lo = uv ? uv->w : 0, hi = vu ? -vu->w : 0;
	if (uv && vu) {
		if (lo <= 0 && 0 <= hi)
			return 0;
		return clamp128(((i128)lo + hi) / 2);
	}
	if (uv)
		return lo > 0 ? lo : 0;
	if (vu)
		return hi < 0 ? hi : 0;
	return 0;
}

/* A host's rank for the reference choice; qsort has no context argument, so the sort key
 * travels with the index rather than through a global (readers on other threads sort too). */
typedef struct rank {
	uint64_t events;
	const char *name;
	uint32_t host;
} rank;

static int rank_cmp(const void *x, const void *y)
{
	const rank *a = x, *b = y;
	if (a->events != b->events)
		return a->events > b->events ? -1 : 1;
	int c = strcmp(a->name, b->name);
	if (c)
		return c;
	return (a->host > b->host) - (a->host < b->host);
}

/* Bellman-Ford on the difference constraints, starting from the walk's offsets (step 3). Returns
 * 1 if it converged (off then holds the relaxed offsets). */
static int relax(const edge *e, size_t ne, const int *is_ref, int64_t *off)
{
	for (int round = 0; round < HX__ALIGN_RELAX_ROUNDS; round++) {
		int changed = 0;
		for (size_t i = 0; i < ne; i++) {
			if (add(off[e[i].b], -off[e[i].a]) >= e[i].w)
				continue;
			if (!is_ref[e[i].b])
				off[e[i].b] = add(off[e[i].a], e[i].w);
			else
				off[e[i].a] = add(off[e[i].b], -e[i].w);
			changed = 1;
		}
		if (!changed)
			return 1;
	}
	return 0;
}

int hx__align_solve(hx_clock_offset *hosts, size_t nhosts, hx__align_pair *pairs, size_t npairs,
                    hx__align_result *res)
{
	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < nhosts; i++) {
		hosts[i].offset_ns = hosts[i].lower_ns = hosts[i].upper_ns = 0;
		hosts[i].has_lower = hosts[i].has_upper = 0;
		hosts[i].pairs = 0;
		hosts[i].reference = hosts[i].refused = 0;
	}
	if (nhosts == 0)
		return HX_OK;
	if (nhosts > UINT32_MAX)
		return HX_ENOMEM;

	/* keep the usable pairs, sorted by (cause host, effect host) */
	size_t np = 0;
	for (size_t i = 0; i < npairs; i++) {
		hx__align_pair p = pairs[i];
		if (p.cause_host >= nhosts || p.effect_host >= nhosts || p.cause_host == p.effect_host)
			continue;
		pairs[np++] = p;
		res->violations_before += p.effect_ns < p.cause_ns;
	}
	res->pairs = np;
	if (np)
		qsort(pairs, np, sizeof(*pairs), pair_cmp);

	size_t ne = 0;
	edge *e = malloc((np ? np : 1) * sizeof(*e));
	int64_t *off = calloc(nhosts, sizeof(*off)), *relaxed = calloc(nhosts, sizeof(*relaxed));
	int *is_ref = calloc(nhosts, sizeof(*is_ref)), *seen = calloc(nhosts, sizeof(*seen));
	rank *order = malloc(nhosts * sizeof(*order));
	uint32_t *queue = malloc(nhosts * sizeof(*queue));
	size_t *adj_start = calloc(nhosts + 1, sizeof(*adj_start));
	uint32_t *adj = malloc((2 * np + 1) * sizeof(*adj));
	int rc = HX_ENOMEM;
	if (!e || !off || !relaxed || !is_ref || !seen || !order || !queue || !adj_start || !adj)
		goto out;

	for (size_t i = 0; i < np; i++) {
		int64_t w = clamp128((i128)pairs[i].cause_ns - (i128)pairs[i].effect_ns);
		if (ne && e[ne - 1].a == pairs[i].cause_host && e[ne - 1].b == pairs[i].effect_host) {
			if (w > e[ne - 1].w)
				e[ne - 1].w = w;
			e[ne - 1].count++;
			continue;
		}
		e[ne++] = (edge){pairs[i].cause_host, pairs[i].effect_host, w, 1};
	}

	/* undirected adjacency (compressed rows): a host's neighbours, once per edge */
	for (size_t i = 0; i < ne; i++) {
		adj_start[e[i].a + 1]++;
		adj_start[e[i].b + 1]++;
	}
	for (size_t h = 0; h < nhosts; h++)
		adj_start[h + 1] += adj_start[h];
	size_t *pos = malloc(nhosts * sizeof(*pos));
	if (!pos)
		goto out;
	memcpy(pos, adj_start, nhosts * sizeof(*pos));
	for (size_t i = 0; i < ne; i++) {
		adj[pos[e[i].a]++] = e[i].b;
		adj[pos[e[i].b]++] = e[i].a;
	}
	free(pos);

	/* step 2: references by rank, breadth-first walks */
	for (uint32_t h = 0; h < nhosts; h++)
		order[h] = (rank){hosts[h].events, hosts[h].host ? hosts[h].host : "", h};
	qsort(order, nhosts, sizeof(*order), rank_cmp);
	for (size_t k = 0; k < nhosts; k++) {
		uint32_t root = order[k].host;
		if (seen[root])
			continue;
		seen[root] = 1;
		is_ref[root] = 1;
		off[root] = 0;
		size_t qh = 0, qt = 0;
		queue[qt++] = root;
		while (qh < qt) {
			uint32_t u = queue[qh++];
			for (size_t j = adj_start[u]; j < adj_start[u + 1]; j++) {
				uint32_t v = adj[j];
				if (seen[v])
					continue;
				seen[v] = 1;
				off[v] = add(off[u], choose(find_edge(e, ne, u, v), find_edge(e, ne, v, u)));
				queue[qt++] = v;
			}
		}
	}

	/* step 3 */
	memcpy(relaxed, off, nhosts * sizeof(*off));
	res->converged = relax(e, ne, is_ref, relaxed);
	if (res->converged)
		memcpy(off, relaxed, nhosts * sizeof(*off));

	/* step 4 */
	for (size_t h = 0; h < nhosts; h++) {
		if (off[h] > HX_CLOCK_OFFSET_MAX_NS || off[h] < -HX_CLOCK_OFFSET_MAX_NS) {
			hosts[h].refused = 1;
			res->refused++;
			off[h] = 0;
		}
		hosts[h].offset_ns = off[h];
		hosts[h].reference = is_ref[h];
	}

	/* step 5 */
	for (size_t i = 0; i < ne; i++) {
		hx_clock_offset *a = &hosts[e[i].a], *b = &hosts[e[i].b];
		int64_t lo = add(off[e[i].a], e[i].w);  /* off(b) >= off(a) + w */
		int64_t hi = add(off[e[i].b], -e[i].w); /* off(a) <= off(b) - w */
		if (!b->has_lower || lo > b->lower_ns)
			b->lower_ns = lo;
		b->has_lower = 1;
		if (!a->has_upper || hi < a->upper_ns)
			a->upper_ns = hi;
		a->has_upper = 1;
		a->pairs += e[i].count;
		b->pairs += e[i].count;
	}
	for (size_t i = 0; i < np; i++) {
		i128 c = (i128)pairs[i].cause_ns + off[pairs[i].cause_host];
		i128 f = (i128)pairs[i].effect_ns + off[pairs[i].effect_host];
		res->violations_after += f < c;
	}
	rc = HX_OK;
out:
	if (rc != HX_OK)
		for (size_t h = 0; h < nhosts; h++)
			hosts[h].offset_ns = 0;
	free(e);
	free(off);
	free(relaxed);
	free(is_ref);
	free(seen);
	free(order);
	free(queue);
	free(adj_start);
	free(adj);
	return rc;
}
