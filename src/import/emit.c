/*
 * emit.c - the last step of the build (build.h): interactions, then every lane's events in order,
 * then the processes of the result.
 *
 * INTERACTIONS. A span whose parent is on another lane gets an EFFECT right before its
 * BLOCK_BEGIN, naming a CAUSE inside the parent's block at the child's start (clamped into the
 * parent). Its kind comes from the span kinds:
 *   child SERVER or parent CLIENT      request, and a reply back: a CAUSE right after the child's
 *                                      BLOCK_END, an EFFECT in the parent at that time
 *   child CONSUMER or parent PRODUCER  message; publish (one CAUSE, an EFFECT per consumer) when a
 *                                      producer has several consumers
 *   same process (a concurrent child)  fork, and a join back like the reply
 *   otherwise                          causal
 * A reply or join is made only when the child ends within its parent and on another lane. A link
 * is a causal interaction from the linked span: a CAUSE in its block at the linking span's start
 * and an EFFECT before the linking span's block when the linked span started first; when it
 * started inside the linking span (a reply or join that hx export wrote as a link), a CAUSE at
 * its end and an EFFECT inside the linking span's block then.
 * A parent or link not in the input is an EFFECT whose cause is external (HX_CTX_FOREIGN, the
 * other tracer's span ID in place of the entity ID).
 *
 * ORDER ON A LANE. Inside a block, its own events (points, causes, effects of replies, the ERROR)
 * and its nested blocks are merged by time; an event at a nested block's start goes before it,
 * at its end after it. A cause that would fall inside a nested block moves to that block's start,
 * an effect to its end: the cause stays before its effect, and neither is taken for the nested
 * block's (span events cannot fall inside: lanes.c keeps such a child off the lane). At equal
 * times: reply effects, points, causes, then the ERROR.
 */
#define _GNU_SOURCE /* qsort_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/build.h"

#define GROUP_BYTES (512u << 10) /* attribute bytes in one event: far under a chunk */

/* ---- tables ---- */

static uint32_t add_cause(hx__imp_out *o, uint32_t span, uint64_t time, int kind, const char *name,
                          size_t len, int post)
{
	if (hx__grow((void **)&o->causes, &o->cap_causes, o->ncauses + 1, sizeof(*o->causes)))
		return HX__IMP_NONE;
	hx__bcause *c = &o->causes[o->ncauses];
	memset(c, 0, sizeof(*c));
	c->span = span;
	c->time = time;
	c->kind = (uint8_t)kind;
	c->name = name;
	c->name_len = len;
	c->post = (uint8_t)post;
	c->lane = HX__IMP_NONE;
	return (uint32_t)o->ncauses++;
}

static uint32_t add_eff_named(hx__imp_out *o, uint32_t cause, int kind, const char *name, size_t len,
                              const uint8_t *trace, uint64_t span, const hx_attr *attrs, size_t nattrs)
{
	if (hx__grow((void **)&o->effs, &o->cap_effs, o->neffs + 1, sizeof(*o->effs)))
		return HX__IMP_NONE;
	hx__beff *e = &o->effs[o->neffs];
	memset(e, 0, sizeof(*e));
	e->cause = cause;
	e->kind = (uint8_t)kind;
	if (trace)
		memcpy(e->trace, trace, 16);
	e->span = span;
	e->name = name;
	e->name_len = len;
	e->attrs = attrs;
	e->nattrs = nattrs;
	return (uint32_t)o->neffs++;
}

/* an effect named after its span */
static uint32_t add_eff(hx__imp_out *o, uint32_t cause, int kind, const hx__imp_span *s,
                        const uint8_t *trace, uint64_t span, const hx_attr *attrs, size_t nattrs)
{
	return add_eff_named(o, cause, kind, s->name, s->name_len, trace, span, attrs, nattrs);
}

static int add_leaf(hx__imp_out *o, uint32_t span, uint64_t time, uint32_t ref, int cls)
{
	if (hx__grow((void **)&o->leaves, &o->cap_leaves, o->nleaves + 1, sizeof(*o->leaves)))
		return HX_ENOMEM;
	hx__bleaf *l = &o->leaves[o->nleaves++];
	l->span = span;
	l->time = time;
	l->ref = ref;
	l->cls = (uint8_t)cls;
	return HX_OK;
}

/* ---- interactions ---- */

static int fwd_kind(const hx__imp_span *s, const hx__imp_span *p)
{
	if (s->kind == HX__SK_SERVER || p->kind == HX__SK_CLIENT)
		return HX_IA_REQUEST;
	if (s->kind == HX__SK_CONSUMER || p->kind == HX__SK_PRODUCER)
		return HX_IA_MESSAGE;
	if (s->res == p->res)
		return HX_IA_FORK;
	return HX_IA_CAUSAL;
}

static int foreign_kind(const hx__imp_span *s)
{
	return s->kind == HX__SK_SERVER ? HX_IA_REQUEST : s->kind == HX__SK_CONSUMER ? HX_IA_MESSAGE
	                                                                              : HX_IA_CAUSAL;
}

static uint64_t clamp(uint64_t t, uint64_t lo, uint64_t hi)
{
	return t < lo ? lo : t > hi ? hi : t;
}

/* The parent effect of a span on another lane, and its reply or join. */
static int cross(hx__import *im, hx__imp_out *o, uint32_t i)
{
	const hx__imp_span *s = &im->spans[i];
	uint32_t pi = o->bs[i].eparent;
	const hx__imp_span *p = &im->spans[pi];
	int kind = fwd_kind(s, p);
	uint32_t c;
	if (kind == HX_IA_MESSAGE && o->bs[pi].nmsg >= 2) {
		kind = HX_IA_PUBLISH;
		c = o->bs[pi].pub_cause;
		if (c == HX__IMP_NONE) {
			c = o->bs[pi].pub_cause = add_cause(o, pi, s->start, kind, p->name, p->name_len, 0);
		} else if (s->start < o->causes[c].time) {
			o->causes[c].time = s->start;
		}
	} else {
		c = add_cause(o, pi, s->start, kind, s->name, s->name_len, 0);
	}
	if (c == HX__IMP_NONE || add_eff(o, c, kind, s, NULL, 0, NULL, 0) == HX__IMP_NONE)
		return HX_ENOMEM;
	int back = kind == HX_IA_REQUEST ? HX_IA_REPLY : kind == HX_IA_FORK ? HX_IA_JOIN : 0;
	if (back && s->end <= p->end && o->bs[i].lane != o->bs[pi].lane) {
		/* its effect, a leaf of the parent, is made once every span's own effects are */
		uint32_t bc = add_cause(o, (uint32_t)i, s->end, back, s->name, s->name_len, 1);
		if (bc == HX__IMP_NONE)
			return HX_ENOMEM;
		o->bs[i].back_cause = bc;
	}
	return HX_OK;
}

enum { LINK_EARLY, LINK_LATE, LINK_EXTERNAL };

/* Where a link of span i comes from. EARLY: the linked span started first (a producer whose
 * messages a batch consumes): its CAUSE at i's start, the EFFECT before i's block. LATE: it
 * started inside i (hx export writes a reply or a join as a link): its CAUSE at its end, the
 * EFFECT inside i's block then (clamped into both). EXTERNAL: not in the input, i itself, or
 * starting after i ended. */
static int link_class(const hx__import *im, const hx__imp_out *o, uint32_t i, const hx__imp_link *l,
                      uint32_t *t)
{
	const hx__imp_span *s = &im->spans[i];
	*t = hx__imp_lookup(im, o, l->trace, l->span, s->res);
	if (*t == HX__IMP_NONE || *t == i)
		return LINK_EXTERNAL;
	const hx__imp_span *ts = &im->spans[*t];
	if (ts->start < s->start || (ts->start == s->start && o->bs[*t].depth < o->bs[i].depth))
		return LINK_EARLY;
	return ts->start < s->end ? LINK_LATE : LINK_EXTERNAL;
}

/* The ends of a link: a link hx export wrote says its interaction and both ends' names. */
static void link_names(const hx__imp_span *s, const hx__imp_link *l, int *kind, const char **en,
                       size_t *elen, const char **cn, size_t *clen)
{
	*kind = l->kind ? l->kind : HX_IA_CAUSAL;
	*en = l->effect_name ? l->effect_name : s->name;
	*elen = l->effect_name ? l->effect_len : s->name_len;
	*cn = l->cause_name ? l->cause_name : s->name;
	*clen = l->cause_name ? l->cause_len : s->name_len;
}

/* The effects of span i's links that go before its block: early and external ones. */
static int links(hx__import *im, hx__imp_out *o, uint32_t i)
{
	const hx__imp_span *s = &im->spans[i];
	for (size_t k = 0; k < s->nlinks; k++) {
		const hx__imp_link *l = &s->links[k];
		uint32_t t;
		int cls = link_class(im, o, i, l, &t), kind;
		const char *en, *cn;
		size_t elen, clen;
		link_names(s, l, &kind, &en, &elen, &cn, &clen);
		if (cls == LINK_EARLY) {
			uint32_t c = add_cause(o, t, s->start, kind, cn, clen, 0);
			if (c == HX__IMP_NONE ||
			    add_eff_named(o, c, kind, en, elen, NULL, 0, l->attrs, l->nattrs) == HX__IMP_NONE)
				return HX_ENOMEM;
		} else if (cls == LINK_EXTERNAL) {
			if (t != HX__IMP_NONE) {
				char where[HX__IMPORT_MSG_MAX] = "";
				if (!im->st.warn[HX__IMPORT_WARN_LINK_LATER])
					hx__imp_span_where(im, s, where, sizeof(where));
				hx__imp_warn_at(im, HX__IMPORT_WARN_LINK_LATER, where);
			}
			if (add_eff_named(o, HX__IMP_NONE, kind, en, elen, l->trace, l->span, l->attrs,
			                  l->nattrs) == HX__IMP_NONE)
				return HX_ENOMEM;
		}
	}
	return HX_OK;
}

/* The effects of span i's late links: inside its block, when the linked span ended. */
static int late_links(hx__import *im, hx__imp_out *o, uint32_t i)
{
	const hx__imp_span *s = &im->spans[i];
	for (size_t k = 0; k < s->nlinks; k++) {
		const hx__imp_link *l = &s->links[k];
		uint32_t t;
		if (link_class(im, o, i, l, &t) != LINK_LATE)
			continue;
		int kind;
		const char *en, *cn;
		size_t elen, clen;
		link_names(s, l, &kind, &en, &elen, &cn, &clen);
		uint64_t te = clamp(im->spans[t].end, s->start, s->end);
		uint32_t c = add_cause(o, t, te, kind, cn, clen, 0); /* clamped into t with the others */
		uint32_t e = c == HX__IMP_NONE ? HX__IMP_NONE
		                               : add_eff_named(o, c, kind, en, elen, NULL, 0, l->attrs, l->nattrs);
		if (e == HX__IMP_NONE || add_leaf(o, i, te, e, HX__LEAF_EFFECT))
			return HX_ENOMEM;
	}
	return HX_OK;
}

static int interactions(hx__import *im, hx__imp_out *o)
{
	for (size_t i = 0; i < im->nspans; i++) {
		hx__bspan *b = &o->bs[i];
		if (!b->rejected && b->rel == HX__REL_CROSS &&
		    fwd_kind(&im->spans[i], &im->spans[b->eparent]) == HX_IA_MESSAGE)
			o->bs[b->eparent].nmsg++;
	}
	/* each span's own effects (parent, then links) are contiguous */
	for (size_t i = 0; i < im->nspans; i++) {
		hx__bspan *b = &o->bs[i];
		if (b->rejected)
			continue;
		b->eff_first = (uint32_t)o->neffs;
		int rc = HX_OK;
		if (b->rel == HX__REL_FOREIGN) {
			const hx__imp_span *s = &im->spans[i];
			if (add_eff(o, HX__IMP_NONE, foreign_kind(s), s, s->trace, b->foreign, NULL, 0) ==
			    HX__IMP_NONE)
				rc = HX_ENOMEM;
		} else if (b->rel == HX__REL_CROSS) {
			rc = cross(im, o, (uint32_t)i);
		}
		if (rc == HX_OK)
			rc = links(im, o, (uint32_t)i);
		if (rc)
			return rc;
		b->eff_n = (uint32_t)o->neffs - b->eff_first;
	}
	/* replies and joins: an effect in the parent when the child's block has ended; late links */
	for (size_t i = 0; i < im->nspans; i++) {
		const hx__bspan *b = &o->bs[i];
		if (!b->rejected && late_links(im, o, (uint32_t)i))
			return HX_ENOMEM;
		if (b->rejected || b->back_cause == HX__IMP_NONE)
			continue;
		const hx__imp_span *s = &im->spans[i];
		uint32_t e = add_eff(o, b->back_cause, o->causes[b->back_cause].kind, s, NULL, 0, NULL, 0);
		if (e == HX__IMP_NONE || add_leaf(o, b->eparent, s->end, e, HX__LEAF_EFFECT))
			return HX_ENOMEM;
	}
	return HX_OK;
}

/* ---- leaves ---- */

static int leaf_cmp(const void *pa, const void *pb)
{
	const hx__bleaf *a = pa, *b = pb;
	if (a->span != b->span)
		return a->span < b->span ? -1 : 1;
	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	return a->ref < b->ref ? -1 : a->ref > b->ref;
}

static int leaves(hx__import *im, hx__imp_out *o)
{
	/* nested children, flattened in time order */
	o->kids = malloc((im->nspans ? im->nspans : 1) * sizeof(*o->kids));
	if (!o->kids)
		return HX_ENOMEM;
	size_t nk = 0;
	for (size_t i = 0; i < im->nspans; i++) {
		hx__bspan *b = &o->bs[i];
		b->kid_first = (uint32_t)nk;
		for (uint32_t c = b->rejected ? HX__IMP_NONE : b->first_child; c != HX__IMP_NONE; c = o->bs[c].next)
			o->kids[nk++] = c;
		b->kid_n = (uint32_t)nk - b->kid_first;
	}
	/* causes inside blocks; points; errors */
	for (size_t c = 0; c < o->ncauses; c++) {
		hx__bcause *k = &o->causes[c];
		if (k->post)
			continue;
		const hx__imp_span *s = &im->spans[k->span];
		k->time = clamp(k->time, s->start, s->end);
		if (add_leaf(o, k->span, k->time, (uint32_t)c, HX__LEAF_CAUSE))
			return HX_ENOMEM;
	}
	for (size_t i = 0; i < im->nspans; i++) {
		const hx__imp_span *s = &im->spans[i];
		if (o->bs[i].rejected)
			continue;
		for (size_t k = 0; k < s->npoints; k++)
			if (add_leaf(o, (uint32_t)i, s->points[k].time, (uint32_t)k, HX__LEAF_POINT))
				return HX_ENOMEM;
		if (s->has_error && add_leaf(o, (uint32_t)i, s->end, 0, HX__LEAF_ERROR))
			return HX_ENOMEM;
	}
	/* out of nested blocks: causes to the block's start, effects to its end */
	for (size_t k = 0; k < o->nleaves; k++) {
		hx__bleaf *l = &o->leaves[k];
		if (l->cls != HX__LEAF_CAUSE && l->cls != HX__LEAF_EFFECT)
			continue;
		const hx__bspan *b = &o->bs[l->span];
		size_t lo = 0, hi = b->kid_n;
		while (lo < hi) { /* the first child starting at or after the leaf */
			size_t mid = lo + (hi - lo) / 2;
			if (im->spans[o->kids[b->kid_first + mid]].start < l->time)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == 0)
			continue;
		const hx__imp_span *kid = &im->spans[o->kids[b->kid_first + lo - 1]];
		if (l->time < kid->end) {
			l->time = l->cls == HX__LEAF_CAUSE ? kid->start : kid->end;
			if (l->cls == HX__LEAF_CAUSE)
				o->causes[l->ref].time = l->time;
		}
	}
	if (o->nleaves)
		qsort(o->leaves, o->nleaves, sizeof(*o->leaves), leaf_cmp);
	for (size_t k = 0; k < o->nleaves;) {
		uint32_t span = o->leaves[k].span;
		o->bs[span].leaf_first = (uint32_t)k;
		while (k < o->nleaves && o->leaves[k].span == span)
			k++;
		o->bs[span].leaf_n = (uint32_t)k - o->bs[span].leaf_first;
	}
	return HX_OK;
}

/* ---- events ---- */

typedef struct emitter {
	hx__import *im;
	hx__imp_out *o;
	uint32_t lane;
} emitter;

static int ev(emitter *e, int kind, int aux, uint64_t time, const char *name, size_t len,
              const hx_attr *attrs, size_t nattrs, uint32_t ref, uint64_t *seq)
{
	hx__imp_out *o = e->o;
	if (hx__grow((void **)&o->ev, &o->cap_ev, o->nev + 1, sizeof(*o->ev)))
		return HX_ENOMEM;
	hx__bev *v = &o->ev[o->nev++];
	memset(v, 0, sizeof(*v));
	v->time = time;
	v->lane = e->lane;
	v->seq = o->lanes[e->lane].next_seq++;
	v->kind = (uint8_t)kind;
	v->aux = (uint8_t)aux;
	v->name = name;
	v->name_len = len;
	v->attrs = attrs;
	v->nattrs = nattrs;
	v->ref = ref;
	if (seq)
		*seq = v->seq;
	return HX_OK;
}

/* How many of n attributes go in one event: up to HX_ATTR_MAX and GROUP_BYTES, at least one. */
static size_t group_len(const hx_attr *a, size_t n)
{
	size_t bytes = 0, i = 0;
	for (; i < n && i < HX_ATTR_MAX; i++) {
		size_t len = strlen(a[i].key) + 16;
		if (a[i].type == HX_ATTR_STRING || a[i].type == HX_ATTR_BYTES)
			len += a[i].v.s.len;
		if (i && bytes + len > GROUP_BYTES)
			break;
		bytes += len;
	}
	return i;
}

/* An event with the first group of attributes, then ANNOTATE events for the others. */
static int ev_attrs(emitter *e, int kind, int aux, uint64_t time, const char *name, size_t len,
                    const hx_attr *attrs, size_t nattrs, int target)
{
	size_t g = group_len(attrs, nattrs);
	int rc = ev(e, kind, aux, time, name, len, attrs, g, 0, NULL);
	for (size_t i = g; rc == HX_OK && i < nattrs; i += g) {
		g = group_len(attrs + i, nattrs - i);
		rc = ev(e, HX_EV_ANNOTATE, target, time, NULL, 0, attrs + i, g, 0, NULL);
	}
	return rc;
}

static int cause_ev(emitter *e, uint32_t c)
{
	hx__bcause *k = &e->o->causes[c];
	k->lane = e->lane;
	return ev(e, HX_EV_CAUSE, k->kind, k->time, k->name, k->name_len, NULL, 0, 0, &k->seq);
}

static int open_span(emitter *e, uint32_t i)
{
	const hx__imp_span *s = &e->im->spans[i];
	const hx__bspan *b = &e->o->bs[i];
	int rc = HX_OK;
	if (b->trace_root && s->trace_name)
		rc = ev(e, HX_EV_TRACE_BEGIN, 0, s->start, s->trace_name, s->trace_name_len, NULL, 0, 0, NULL);
	else if (b->trace_root)
		rc = ev(e, HX_EV_TRACE_BEGIN, 0, s->start, s->name, s->name_len, NULL, 0, 0, NULL);
	for (uint32_t k = b->eff_first; rc == HX_OK && k < b->eff_first + b->eff_n; k++) {
		const hx__beff *f = &e->o->effs[k];
		rc = ev(e, HX_EV_EFFECT, f->kind, s->start, f->name, f->name_len, f->attrs, f->nattrs, k, NULL);
	}
	if (rc == HX_OK)
		rc = ev_attrs(e, HX_EV_BLOCK_BEGIN, 0, s->start, s->name, s->name_len, s->attrs, s->nattrs,
		              HX_TARGET_BLOCK);
	return rc;
}

static int close_span(emitter *e, uint32_t i)
{
	const hx__imp_span *s = &e->im->spans[i];
	const hx__bspan *b = &e->o->bs[i];
	int rc = ev(e, HX_EV_BLOCK_END, 0, s->end, NULL, 0, NULL, 0, 0, NULL);
	if (rc == HX_OK && b->back_cause != HX__IMP_NONE)
		rc = cause_ev(e, b->back_cause);
	if (rc == HX_OK && b->trace_root)
		rc = ev(e, HX_EV_TRACE_END, 0, s->end, NULL, 0, NULL, 0, 0, NULL);
	return rc;
}

static int leaf_ev(emitter *e, const hx__bleaf *l)
{
	const hx__imp_span *s = &e->im->spans[l->span];
	switch (l->cls) {
	case HX__LEAF_POINT: {
		const hx__imp_point *p = &s->points[l->ref];
		return ev(e, HX_EV_POINT, 0, l->time, p->name, p->name_len, p->attrs, p->nattrs, 0, NULL);
	}
	case HX__LEAF_CAUSE:
		return cause_ev(e, l->ref);
	case HX__LEAF_EFFECT: {
		const hx__beff *f = &e->o->effs[l->ref];
		return ev(e, HX_EV_EFFECT, f->kind, l->time, f->name, f->name_len, f->attrs, f->nattrs,
		          l->ref, NULL);
	}
	default:
		return ev(e, HX_EV_ERROR, 0, l->time, s->error, s->error_len, NULL, 0, 0, NULL);
	}
}

typedef struct frame {
	uint32_t span, leaf, kid;
} frame;

/* One top-level block and everything nested in it, without recursion. */
static int emit_tree(emitter *e, uint32_t root, frame **stack, size_t *cap)
{
	const hx__import *im = e->im;
	hx__imp_out *o = e->o;
	size_t n = 0;
	int rc = open_span(e, root);
	if (rc || hx__grow((void **)stack, cap, 1, sizeof(**stack)))
		return rc ? rc : HX_ENOMEM;
	(*stack)[n++] = (frame){root, 0, 0};
	while (n && rc == HX_OK) {
		frame *f = &(*stack)[n - 1];
		const hx__bspan *b = &o->bs[f->span];
		const hx__bleaf *l = f->leaf < b->leaf_n ? &o->leaves[b->leaf_first + f->leaf] : NULL;
		uint32_t kid = f->kid < b->kid_n ? o->kids[b->kid_first + f->kid] : HX__IMP_NONE;
		if (l && (kid == HX__IMP_NONE || l->time <= im->spans[kid].start)) {
			f->leaf++;
			rc = leaf_ev(e, l);
		} else if (kid != HX__IMP_NONE) {
			f->kid++;
			rc = open_span(e, kid);
			if (rc == HX_OK && hx__grow((void **)stack, cap, n + 1, sizeof(**stack)))
				rc = HX_ENOMEM;
			if (rc == HX_OK)
				(*stack)[n++] = (frame){kid, 0, 0};
		} else {
			rc = close_span(e, f->span);
			n--;
		}
	}
	return rc;
}

static int emit_lane(emitter *e, frame **stack, size_t *cap)
{
	const hx__import *im = e->im;
	const hx__blane *l = &e->o->lanes[e->lane];
	const hx__imp_res *r = &im->res[l->res];
	/* The entity existed before whatever woke it: it begins before its first block and before
	 * the causes in its trace of that block's effects (a nanosecond before the earliest).
	 * Beginning at the same instant would make it as late as the cause, and a walk back along
	 * the critical path would take the entity's beginning for what the block waited for. */
	const hx__bspan *fb = &e->o->bs[l->first_root];
	uint64_t begin = im->spans[l->first_root].start;
	for (uint32_t k = fb->eff_first; k < fb->eff_first + fb->eff_n; k++) {
		uint32_t c = e->o->effs[k].cause;
		if (c == HX__IMP_NONE || memcmp(im->spans[e->o->causes[c].span].trace, l->trace, 16))
			continue;
		if (e->o->causes[c].time <= begin && e->o->causes[c].time > 0)
			begin = e->o->causes[c].time - 1;
	}
	int rc = ev_attrs(e, HX_EV_ENTITY_BEGIN, l->ekind, begin, l->name, strlen(l->name), r->attrs,
	                  r->nattrs, HX_TARGET_ENTITY);
	for (uint32_t s = l->first_root; rc == HX_OK && s != HX__IMP_NONE; s = e->o->bs[s].next)
		rc = emit_tree(e, s, stack, cap);
	if (rc == HX_OK)
		rc = ev(e, HX_EV_ENTITY_END, 0, im->spans[l->last_root].end, NULL, 0, NULL, 0, 0, NULL);
	return rc;
}

/* ---- processes ---- */

static int ev_cmp(const void *pa, const void *pb, void *ctx)
{
	const hx__imp_out *o = ctx;
	const hx__bev *a = pa, *b = pb;
	const hx__blane *la = &o->lanes[a->lane], *lb = &o->lanes[b->lane];
	if (la->res != lb->res)
		return la->res < lb->res ? -1 : 1;
	if (a->time != b->time)
		return a->time < b->time ? -1 : 1;
	if (la->entity != lb->entity)
		return la->entity < lb->entity ? -1 : 1;
	if (a->lane != b->lane)
		return a->lane < b->lane ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void proc_init(hx__import *im, hx__bproc *p, const hx__imp_res *r)
{
	uint64_t a = hx__imp_hash(r->ident, &im->salt, sizeof(im->salt));
	uint64_t b = hx__imp_hash(a ^ 0x9e3779b97f4a7c15ull, &im->salt, sizeof(im->salt));
	for (int k = 0; k < 8; k++) {
		p->pub.instance[k] = (uint8_t)(a >> (56 - 8 * k));
		p->pub.instance[8 + k] = (uint8_t)(b >> (56 - 8 * k));
	}
	p->pub.pid = r->pid;
	p->pub.service = r->service;
	p->pub.host = r->host;
	p->pub.program = r->program;
	size_t n = 0;
	if (*r->host) {
		p->kv[n++] = "host";
		p->kv[n++] = r->host;
	}
	p->kv[n++] = "service";
	p->kv[n++] = r->service;
	p->kv[n++] = "program";
	p->kv[n++] = r->program;
	if (r->pid) {
		snprintf(p->pid_text, sizeof(p->pid_text), "%llu", (unsigned long long)r->pid);
		p->kv[n++] = "pid";
		p->kv[n++] = p->pid_text;
	}
	p->kv[n++] = "imported";
	p->kv[n++] = r->source;
	p->pub.resource_kv = p->kv;
	p->pub.npairs = n / 2;
}

static int processes(hx__import *im, hx__imp_out *o)
{
	if (o->nev)
		qsort_r(o->ev, o->nev, sizeof(*o->ev), ev_cmp, o);
	size_t n = 0;
	for (size_t i = 0; i < o->nev; i++)
		if (i == 0 || o->lanes[o->ev[i].lane].res != o->lanes[o->ev[i - 1].lane].res)
			n++;
	o->procs = calloc(n ? n : 1, sizeof(*o->procs));
	if (!o->procs)
		return HX_ENOMEM;
	for (size_t i = 0; i < o->nev; i++) {
		uint32_t res = o->lanes[o->ev[i].lane].res;
		if (i == 0 || res != o->lanes[o->ev[i - 1].lane].res) {
			hx__bproc *p = &o->procs[o->nprocs++];
			proc_init(im, p, &im->res[res]);
			p->first = i;
		}
		o->procs[o->nprocs - 1].pub.nevents++;
	}
	return HX_OK;
}

int hx__imp_emit(hx__import *im, hx__imp_out *o)
{
	int rc = interactions(im, o);
	if (rc == HX_OK)
		rc = leaves(im, o);
	frame *stack = NULL;
	size_t cap = 0;
	emitter e = {im, o, 0};
	for (size_t i = 0; rc == HX_OK && i < o->nlanes; i++) {
		e.lane = (uint32_t)i;
		rc = emit_lane(&e, &stack, &cap);
	}
	free(stack);
	if (rc == HX_OK)
		rc = processes(im, o);
	return rc;
}
