/*
 * lanes.c - the second step of the build (build.h): put every span on a lane, the entity whose
 * block it becomes, so that the blocks of a lane always nest.
 *
 * A GROUP is the spans of one resource, one trace and one thread (thread.id, else thread.name,
 * else none). Its spans are taken in time order (start, then the longer first, then the parent
 * before its child) and each goes
 *   - inside its parent, on the parent's lane, when the parent is in the group, is the innermost
 *     block still open there, contains the span in time, and has no span event of its own inside
 *     the span's time (that event would look like the child's): a nested block;
 *   - otherwise to the lowest-numbered lane of the group whose blocks have all ended by the span's
 *     start, or to a new lane: a top-level block there. Concurrent siblings and asynchronous
 *     children so end up on lanes of their own, next to their parent's.
 * A lane's free time is the end of its current top-level block; two heaps (lanes by free time,
 * free lanes by number) make the whole placement O(n log n).
 *
 * A lane's entity ID hashes its group and the span ID of its first block, so the same spans give
 * the same IDs however the documents are cut, and lanes of different documents never share an ID
 * (their sequence numbers would collide).
 */
#define _GNU_SOURCE /* qsort_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/build.h"

typedef struct placer {
	hx__import *im;
	hx__imp_out *o;
	uint32_t *busy, *free;     /* heaps of lane indices */
	size_t nbusy, nfree;
	uint32_t group_lane0;      /* the group's first lane */
} placer;

/* ---- heaps ---- */

static int busy_less(const placer *p, uint32_t a, uint32_t b)
{
	const hx__blane *x = &p->o->lanes[a], *y = &p->o->lanes[b];
	return x->free_at != y->free_at ? x->free_at < y->free_at : a < b;
}

static int free_less(const placer *p, uint32_t a, uint32_t b)
{
	return a < b;
}

static void heap_push(placer *p, uint32_t *h, size_t *n, uint32_t v,
                      int (*less)(const placer *, uint32_t, uint32_t))
{
	size_t i = (*n)++;
	h[i] = v;
	while (i > 0 && less(p, h[i], h[(i - 1) / 2])) {
		uint32_t t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static uint32_t heap_pop(placer *p, uint32_t *h, size_t *n,
                         int (*less)(const placer *, uint32_t, uint32_t))
{
	uint32_t top = h[0];
	h[0] = h[--*n];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < *n && less(p, h[l], h[m]))
			m = l;
		if (r < *n && less(p, h[r], h[m]))
			m = r;
		if (m == i)
			break;
		uint32_t t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
	return top;
}

/* ---- groups ---- */

/* What says which thread a span ran on: hx.entity (exported by hx export: the entity itself),
 * else thread.id, else thread.name, else nothing. */
static int thread_key(const hx__imp_span *s)
{
	return s->entity_key ? 3 : s->has_tid ? 1 : s->thread_name ? 2 : 0;
}

static int thread_cmp(const hx__imp_span *a, const hx__imp_span *b)
{
	int ka = thread_key(a), kb = thread_key(b);
	if (ka != kb)
		return ka < kb ? -1 : 1;
	if (ka == 1 && a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	if (ka == 2)
		return strcmp(a->thread_name, b->thread_name);
	if (ka == 3)
		return strcmp(a->entity_key, b->entity_key);
	return 0;
}

static int group_cmp(const hx__imp_span *a, const hx__imp_span *b)
{
	if (a->res != b->res)
		return a->res < b->res ? -1 : 1;
	int c = memcmp(a->trace, b->trace, 16);
	return c ? c : thread_cmp(a, b);
}

static int order_cmp(const void *pa, const void *pb, void *ctx)
{
	const placer *pl = ctx;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	const hx__imp_span *x = &pl->im->spans[a], *y = &pl->im->spans[b];
	int c = group_cmp(x, y);
	if (c)
		return c;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1; /* the longer first: it may contain the other */
	if (pl->o->bs[a].depth != pl->o->bs[b].depth)
		return pl->o->bs[a].depth < pl->o->bs[b].depth ? -1 : 1; /* a parent before its child */
	return a < b ? -1 : a > b;
}

/* ---- placing ---- */

static int contains(const hx__imp_span *outer, const hx__imp_span *inner)
{
	return outer->start <= inner->start && inner->end <= outer->end;
}

/* A span event of p strictly inside (s->start, s->end)? */
static int point_inside(const hx__imp_span *p, const hx__imp_span *s)
{
	size_t lo = 0, hi = p->npoints;
	while (lo < hi) { /* the first point after s's start */
		size_t mid = lo + (hi - lo) / 2;
		if (p->points[mid].time <= s->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->npoints && p->points[lo].time < s->end;
}

static void append_child(hx__imp_out *o, uint32_t parent, uint32_t s)
{
	hx__bspan *p = &o->bs[parent];
	if (p->last_child != HX__IMP_NONE)
		o->bs[p->last_child].next = s;
	else
		p->first_child = s;
	p->last_child = s;
}

/* Try s inside its parent on the parent's lane. */
static int try_nest(placer *pl, uint32_t s)
{
	hx__import *im = pl->im;
	hx__imp_out *o = pl->o;
	uint32_t p = o->bs[s].eparent;
	if (p == HX__IMP_NONE || o->bs[p].rejected || o->bs[p].lane == HX__IMP_NONE ||
	    o->bs[p].lane < pl->group_lane0)
		return 0; /* no parent, or in another group */
	const hx__imp_span *ss = &im->spans[s];
	hx__blane *l = &o->lanes[o->bs[p].lane];
	/* blocks that ended by s's start are closed now (later spans start later still) */
	while (l->top != HX__IMP_NONE && l->top != p && !contains(&im->spans[l->top], ss) &&
	       im->spans[l->top].end <= ss->start)
		l->top = o->bs[l->top].below;
	if (l->top != p || !contains(&im->spans[p], ss) || point_inside(&im->spans[p], ss))
		return 0;
	o->bs[s].lane = o->bs[p].lane;
	o->bs[s].below = p;
	o->bs[s].rel = HX__REL_NESTED;
	l->top = s;
	append_child(o, p, s);
	return 1;
}

static int new_lane(placer *pl, uint32_t s, uint32_t *out)
{
	hx__imp_out *o = pl->o;
	if (hx__grow((void **)&o->lanes, &o->cap_lanes, o->nlanes + 1, sizeof(*o->lanes)))
		return HX_ENOMEM;
	hx__blane *l = &o->lanes[o->nlanes];
	memset(l, 0, sizeof(*l));
	const hx__imp_span *ss = &pl->im->spans[s];
	memcpy(l->trace, ss->trace, 16);
	l->res = ss->res;
	l->index = (uint32_t)(o->nlanes - pl->group_lane0);
	l->first_root = l->last_root = l->top = HX__IMP_NONE;
	*out = (uint32_t)o->nlanes++;
	return HX_OK;
}

static int place_root(placer *pl, uint32_t s)
{
	hx__imp_out *o = pl->o;
	const hx__imp_span *ss = &pl->im->spans[s];
	while (pl->nbusy && o->lanes[pl->busy[0]].free_at <= ss->start)
		heap_push(pl, pl->free, &pl->nfree, heap_pop(pl, pl->busy, &pl->nbusy, busy_less), free_less);
	uint32_t lane;
	if (pl->nfree) {
		lane = heap_pop(pl, pl->free, &pl->nfree, free_less);
	} else {
		int rc = new_lane(pl, s, &lane);
		if (rc)
			return rc;
	}
	hx__blane *l = &o->lanes[lane];
	if (l->last_root != HX__IMP_NONE)
		o->bs[l->last_root].next = s;
	else
		l->first_root = s;
	l->last_root = s;
	l->top = s;
	l->free_at = ss->end;
	o->bs[s].lane = lane;
	o->bs[s].below = HX__IMP_NONE;
	heap_push(pl, pl->busy, &pl->nbusy, lane, busy_less);
	return HX_OK;
}

/* ---- after placing ---- */

static uint64_t lane_entity(const hx__import *im, const hx__blane *l, const hx__imp_span *first)
{
	const hx__imp_res *r = &im->res[l->res];
	uint64_t h = hx__imp_hash(r->ident, l->trace, 16);
	if (first->entity_key)
		h = hx__imp_hash(h ^ 3, first->entity_key, strlen(first->entity_key));
	else if (first->has_tid)
		h = hx__imp_hash(h ^ 1, &first->tid, sizeof(first->tid));
	else if (first->thread_name)
		h = hx__imp_hash(h ^ 2, first->thread_name, strlen(first->thread_name));
	return hx__imp_hash(h, &first->id, sizeof(first->id));
}

static int lane_name(hx__import *im, hx__blane *l, const hx__imp_span *first)
{
	hx__buf b = HX__BUF_INIT;
	const char *service = im->res[l->res].service;
	int err = hx__buf_puts(&b, service);
	if (first->thread_name)
		err |= hx__buf_printf(&b, " %s", first->thread_name);
	else if (first->has_tid)
		err |= hx__buf_printf(&b, " thread %lld", (long long)first->tid);
	if (l->index)
		err |= hx__buf_printf(&b, " #%u", l->index + 1);
	l->name = err ? NULL : hx__arena_strdup(&im->arena, b.p, b.len);
	hx__buf_free(&b);
	if (!l->name)
		return HX_ENOMEM;
	l->ekind = first->has_tid && l->index == 0 ? HX_ENTITY_THREAD : HX_ENTITY_TASK;
	l->tid = l->ekind == HX_ENTITY_THREAD ? first->tid : 0;
	return HX_OK;
}

/* How each span relates to its parent, once every span has its lane. */
static void relations(hx__import *im, hx__imp_out *o)
{
	for (size_t i = 0; i < im->nspans; i++) {
		hx__bspan *b = &o->bs[i];
		const hx__imp_span *s = &im->spans[i];
		if (b->rejected || b->rel == HX__REL_NESTED)
			continue;
		if (b->eparent != HX__IMP_NONE) {
			const hx__imp_span *p = &im->spans[b->eparent];
			if (p->start > s->start && p->res == s->res) {
				/* one process has one clock: a parent that starts after its child is wrong
				 * data, and its cause after the effect would even close a cycle on a lane */
				char where[HX__IMPORT_MSG_MAX] = "";
				if (!im->st.warn[HX__IMPORT_WARN_PARENT_LATER])
					hx__imp_span_where(im, s, where, sizeof(where));
				hx__imp_warn_at(im, HX__IMPORT_WARN_PARENT_LATER, where);
				b->eparent = HX__IMP_NONE;
				b->rel = HX__REL_FOREIGN;
			} else {
				b->rel = HX__REL_CROSS;
			}
		} else {
			b->rel = s->parent || s->shared ? HX__REL_FOREIGN : HX__REL_ROOT;
		}
	}
}

int hx__imp_lanes(hx__import *im, hx__imp_out *o)
{
	size_t n = 0;
	uint32_t *order = malloc((im->nspans ? im->nspans : 1) * sizeof(*order));
	placer pl = {im, o, NULL, NULL, 0, 0, 0};
	pl.busy = malloc((im->nspans ? im->nspans : 1) * sizeof(*pl.busy));
	pl.free = malloc((im->nspans ? im->nspans : 1) * sizeof(*pl.free));
	int rc = order && pl.busy && pl.free ? HX_OK : HX_ENOMEM;
	for (size_t i = 0; rc == HX_OK && i < im->nspans; i++) {
		hx__bspan *b = &o->bs[i];
		b->lane = b->below = b->first_child = b->last_child = b->next = HX__IMP_NONE;
		b->back_cause = b->pub_cause = HX__IMP_NONE;
		if (!b->rejected)
			order[n++] = (uint32_t)i;
	}
	if (rc == HX_OK)
		qsort_r(order, n, sizeof(*order), order_cmp, &pl);
	for (size_t k = 0; rc == HX_OK && k < n; k++) {
		uint32_t s = order[k];
		if (k == 0 || group_cmp(&im->spans[order[k - 1]], &im->spans[s])) {
			pl.nbusy = pl.nfree = 0;
			pl.group_lane0 = (uint32_t)o->nlanes;
		}
		if (!try_nest(&pl, s))
			rc = place_root(&pl, s);
	}
	for (size_t i = 0; rc == HX_OK && i < o->nlanes; i++) {
		hx__blane *l = &o->lanes[i];
		const hx__imp_span *first = &im->spans[l->first_root];
		l->entity = lane_entity(im, l, first);
		rc = lane_name(im, l, first);
	}
	if (rc == HX_OK)
		relations(im, o);
	free(order);
	free(pl.busy);
	free(pl.free);
	return rc;
}
