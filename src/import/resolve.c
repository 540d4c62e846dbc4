/*
 * resolve.c - the first step of the build (build.h): find each span's parent among the spans
 * read, and everything that depends only on the parent relation.
 *
 * Span IDs are unique within a trace, with one exception: in Zipkin's B3 single-span RPC the
 * server reports the client's span ID (marked "shared"). The two halves are kept as a pair: the
 * server half's parent is its client half, and a child that names the ID is given the half of its
 * own service (else the server half). Any other repeat of a (trace, span ID) is a duplicate: the
 * later one is rejected. A parent chain that loops is cut at the span that closes the loop (its
 * parent is kept as an external cause, warned). The depth is the length of a span's parent chain
 * in the input; a span deeper than the limit is rejected, and so are its descendants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/build.h"

static uint64_t key_hash(const uint8_t trace[16], uint64_t id)
{
	return hx__imp_hash(id, trace, 16);
}

/* every slot holding (trace, id), at most 3 (a pair and the duplicate being inserted) */
static size_t find_all(const hx__import *im, const hx__imp_out *o, const uint8_t trace[16],
                       uint64_t id, uint32_t out[3])
{
	size_t n = 0, mask = o->cap - 1;
	for (size_t h = (size_t)key_hash(trace, id) & mask; o->slots[h]; h = (h + 1) & mask) {
		uint32_t i = o->slots[h] - 1;
		const hx__imp_span *s = &im->spans[i];
		if (s->id == id && !memcmp(s->trace, trace, 16) && !o->bs[i].rejected && n < 3)
			out[n++] = i;
	}
	return n;
}

uint32_t hx__imp_lookup(const hx__import *im, const hx__imp_out *o, const uint8_t trace[16],
                        uint64_t id, uint32_t res)
{
	uint32_t c[3];
	size_t n = find_all(im, o, trace, id, c);
	if (n == 0)
		return HX__IMP_NONE;
	if (n == 1)
		return c[0];
	const hx__imp_span *a = &im->spans[c[0]], *b = &im->spans[c[1]];
	if (a->res == res && b->res != res)
		return c[0];
	if (b->res == res && a->res != res)
		return c[1];
	return a->shared ? c[0] : c[1];
}

/* A span rejected by the build: counted, and the first rejection said with the span's IDs (the
 * document's structure is gone by now). */
static void reject_built(hx__import *im, hx__imp_out *o, uint32_t i, const char *why)
{
	o->bs[i].rejected = 1;
	char where[HX__IMPORT_MSG_MAX];
	if (im->st.rejected == 0)
		hx__imp_span_where(im, &im->spans[i], where, sizeof(where));
	hx__imp_reject_at(im, where, why);
}

/* Insert every span into the table; pair Zipkin's shared halves, reject other repeats. */
static int index_spans(hx__import *im, hx__imp_out *o)
{
	size_t cap = 64;
	while (cap < im->nspans * 2)
		cap *= 2;
	o->slots = calloc(cap, sizeof(*o->slots));
	if (!o->slots)
		return HX_ENOMEM;
	o->cap = cap;
	for (size_t i = 0; i < im->nspans; i++) {
		hx__imp_span *s = &im->spans[i];
		uint32_t c[3];
		size_t n = find_all(im, o, s->trace, s->id, c);
		if (n == 1) {
			hx__imp_span *e = &im->spans[c[0]];
			int s_server = s->kind == HX__SK_SERVER || s->shared;
			int e_server = e->kind == HX__SK_SERVER || e->shared;
			if (e->kind == HX__SK_CLIENT && !e->shared && s_server)
				s->shared = 1;
			else if (s->kind == HX__SK_CLIENT && !s->shared && e_server)
				e->shared = 1;
			else if (s->shared == e->shared)
				n = 2; /* not a pair: a duplicate */
		}
		if (n >= 2) {
			reject_built(im, o, (uint32_t)i, "a span with this ID is already in the trace");
			continue;
		}
		size_t h = (size_t)key_hash(s->trace, s->id) & (cap - 1);
		while (o->slots[h])
			h = (h + 1) & (cap - 1);
		o->slots[h] = (uint32_t)i + 1;
	}
	return HX_OK;
}

/* The parent in the input of every span, or none (then foreign names what to refer to). */
static void find_parents(hx__import *im, hx__imp_out *o)
{
	for (size_t i = 0; i < im->nspans; i++) {
		hx__bspan *b = &o->bs[i];
		const hx__imp_span *s = &im->spans[i];
		b->eparent = HX__IMP_NONE;
		if (b->rejected)
			continue;
		if (s->shared) {
			/* the server half of a shared ID: its caller is the client half */
			uint32_t c[3];
			size_t n = find_all(im, o, s->trace, s->id, c);
			for (size_t k = 0; k < n; k++)
				if (c[k] != i)
					b->eparent = c[k];
			b->foreign = s->id;
		} else if (s->parent) {
			b->eparent = hx__imp_lookup(im, o, s->trace, s->parent, s->res);
			b->foreign = s->parent;
		}
	}
}

enum { MARK_NONE = 0, MARK_WALK, MARK_DONE };

/* Depths, cycles cut, too-deep spans rejected. */
static int depths(hx__import *im, hx__imp_out *o)
{
	uint32_t *path = malloc((im->nspans ? im->nspans : 1) * sizeof(*path));
	if (!path)
		return HX_ENOMEM;
	for (size_t i = 0; i < im->nspans; i++) {
		if (o->bs[i].mark == MARK_DONE || o->bs[i].rejected)
			continue;
		size_t n = 0;
		uint32_t cur = (uint32_t)i;
		while (cur != HX__IMP_NONE && o->bs[cur].mark == MARK_NONE) {
			o->bs[cur].mark = MARK_WALK;
			path[n++] = cur;
			cur = o->bs[cur].eparent;
		}
		uint64_t d = 0;
		if (cur != HX__IMP_NONE && o->bs[cur].mark == MARK_WALK) {
			/* the last span walked names one on this walk: cut the loop there */
			uint32_t last = path[n - 1];
			o->bs[last].eparent = HX__IMP_NONE;
			char where[HX__IMPORT_MSG_MAX] = "";
			if (!im->st.warn[HX__IMPORT_WARN_PARENT_CYCLE])
				hx__imp_span_where(im, &im->spans[last], where, sizeof(where));
			hx__imp_warn_at(im, HX__IMPORT_WARN_PARENT_CYCLE, where);
			cur = HX__IMP_NONE;
		}
		if (cur != HX__IMP_NONE)
			d = (uint64_t)o->bs[cur].depth + 1;
		while (n--) {
			hx__bspan *b = &o->bs[path[n]];
			b->depth = d > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)d;
			b->mark = MARK_DONE;
			d++;
		}
	}
	free(path);
	for (size_t i = 0; i < im->nspans; i++) {
		if (!o->bs[i].rejected && o->bs[i].depth > im->lim.max_depth) {
			char why[96];
			snprintf(why, sizeof(why), "nested deeper than %zu spans (the limit)", im->lim.max_depth);
			reject_built(im, o, (uint32_t)i, why);
		}
	}
	return HX_OK;
}

/* Per trace: count it, and give TRACE_BEGIN to its earliest span without any parent ID (or the
 * earliest that hx export marked with hx.trace.name). */
static int trace_roots(hx__import *im, hx__imp_out *o)
{
	size_t cap = 64;
	while (cap < im->nspans * 2)
		cap *= 2;
	uint32_t *slots = calloc(cap, sizeof(*slots));   /* trace -> span index + 1 */
	uint32_t *best = malloc(cap * sizeof(*best));     /* by slot: root candidate */
	if (!slots || !best) {
		free(slots);
		free(best);
		return HX_ENOMEM;
	}
	for (size_t i = 0; i < im->nspans; i++) {
		if (o->bs[i].rejected)
			continue;
		const hx__imp_span *s = &im->spans[i];
		size_t h = (size_t)hx__imp_hash(7, s->trace, 16) & (cap - 1);
		while (slots[h] && memcmp(im->spans[slots[h] - 1].trace, s->trace, 16))
			h = (h + 1) & (cap - 1);
		if (!slots[h]) {
			slots[h] = (uint32_t)i + 1;
			best[h] = HX__IMP_NONE;
			o->ntraces++;
		}
		/* hx export names the span that began the trace (hx.trace.name): it wins */
		int named = s->trace_name != NULL;
		if (!named && (s->parent || s->shared))
			continue;
		const hx__imp_span *b = best[h] == HX__IMP_NONE ? NULL : &im->spans[best[h]];
		int b_named = b && b->trace_name;
		if (!b || named > b_named || (named == b_named && s->start < b->start))
			best[h] = (uint32_t)i;
	}
	for (size_t h = 0; h < cap; h++)
		if (slots[h] && best[h] != HX__IMP_NONE)
			o->bs[best[h]].trace_root = 1;
	free(slots);
	free(best);
	return HX_OK;
}

/* A span that says nothing of its thread runs where its parent (same resource and trace) runs:
 * instrumentations add thread.id to some spans and not others (a manual span inside an
 * instrumented one), and the lanes are per thread. Parents first, by depth. */
static int inherit_threads(hx__import *im, hx__imp_out *o)
{
	size_t maxd = 0;
	for (size_t i = 0; i < im->nspans; i++)
		if (!o->bs[i].rejected && o->bs[i].depth > maxd)
			maxd = o->bs[i].depth;
	uint32_t *count = calloc(maxd + 2, sizeof(*count));
	uint32_t *order = malloc((im->nspans ? im->nspans : 1) * sizeof(*order));
	if (!count || !order) {
		free(count);
		free(order);
		return HX_ENOMEM;
	}
	for (size_t i = 0; i < im->nspans; i++)
		if (!o->bs[i].rejected)
			count[o->bs[i].depth + 1]++;
	for (size_t d = 1; d <= maxd + 1; d++)
		count[d] += count[d - 1];
	for (size_t i = 0; i < im->nspans; i++)
		if (!o->bs[i].rejected)
			order[count[o->bs[i].depth]++] = (uint32_t)i;
	size_t n = count[maxd];
	for (size_t k = 0; k < n; k++) {
		hx__imp_span *s = &im->spans[order[k]];
		uint32_t pi = o->bs[order[k]].eparent;
		if (pi == HX__IMP_NONE || s->has_tid || s->thread_name || s->entity_key)
			continue;
		const hx__imp_span *p = &im->spans[pi];
		if (p->res == s->res && !memcmp(p->trace, s->trace, 16)) {
			s->has_tid = p->has_tid;
			s->tid = p->tid;
			s->thread_name = p->thread_name;
			s->entity_key = p->entity_key;
		}
	}
	free(count);
	free(order);
	return HX_OK;
}

int hx__imp_resolve(hx__import *im, hx__imp_out *o)
{
	o->bs = calloc(im->nspans ? im->nspans : 1, sizeof(*o->bs));
	if (!o->bs)
		return HX_ENOMEM;
	int rc = index_spans(im, o);
	if (rc)
		return rc;
	find_parents(im, o);
	if ((rc = depths(im, o)) || (rc = inherit_threads(im, o)))
		return rc;
	return trace_roots(im, o);
}
