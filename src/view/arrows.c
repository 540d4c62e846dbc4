/*
 * arrows.c - interactions as the viewer draws them: one arrow per linked cause, from the cause
 * event to its effect, and the same edges reversed (eff_off/eff_ev, the CSR by cause), which is
 * how an event's effects are listed. An arrow's record holds everything its answer needs, so a
 * sampled arrow costs one cache line, not a dozen scattered reads of the DAG's arrays.
 *
 * For windows, an arrow is the interval from its earlier end to its later one. A set of arrows
 * keeps the lower ends sorted (with the running max of upper ends) and, separately, the upper
 * ends sorted, so the arrows touching [from, to] are counted exactly with three bisections:
 *   A = lower end in [from, to]        (a contiguous range of the set)
 *   B = lower end < from <= upper end  = #(lo < from) - #(hi < from)
 * A is sampled evenly when it is over the budget; B (arrows crossing into the window from the
 * left) is found by a bounded scan from the first set member whose running max reaches `from`.
 * There is one set for the whole trace and one per (cause lane, effect lane) pair, so a request
 * for some lanes counts exactly from the pairs those lanes are an end of, each pair once.
 */
#include <stdlib.h>
#include <string.h>

#include "view/view_int.h"

static uint64_t arrow_lo(const hx__varrow *r)
{
	return r->t_cause < r->t_effect ? r->t_cause : r->t_effect;
}

static uint64_t arrow_hi(const hx__varrow *r)
{
	return r->t_cause > r->t_effect ? r->t_cause : r->t_effect;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Fill set s (as_id holds its arrows in lower-end order): lo, running max of hi, hi sorted. */
static void fill_set(hx__view *v, const hx__vaset *s)
{
	uint64_t m = 0;
	for (size_t k = s->base; k < s->base + s->n; k++) {
		const hx__varrow *r = &v->arrows[v->as_id[k]];
		uint64_t hi = arrow_hi(r);
		v->as_lo[k] = arrow_lo(r);
		m = hi > m ? hi : m;
		v->as_maxhi[k] = m;
		v->as_hi[k] = hi;
	}
	qsort(v->as_hi + s->base, s->n, sizeof(uint64_t), cmp_u64);
}

/* The effects' CSR, and the arrows in the order of their earlier end. */
static int effects_and_arrows(hx__view *v)
{
	const hx__dag *d = v->d;
	size_t n = d->n, na = 0;
	v->eff_off = hx__dag_alloc((n + 1) * sizeof(*v->eff_off));
	if (!v->eff_off)
		return HX_ENOMEM;
	memset(v->eff_off, 0, (n + 1) * sizeof(*v->eff_off));
	for (size_t k = 0; k < d->ncauses; k++)
		if (d->cause_ev[k] != HX__DAG_NONE) {
			v->eff_off[d->cause_ev[k] + 1]++;
			na++;
		}
	for (size_t i = 0; i < n; i++)
		v->eff_off[i + 1] += v->eff_off[i];
	v->eff_ev = hx__dag_alloc(na * sizeof(*v->eff_ev));
	uint32_t *fill = hx__dag_alloc(n * sizeof(*fill));
	uint64_t *key = hx__dag_alloc(na * sizeof(*key));
	uint32_t *order = hx__dag_alloc(na * sizeof(*order));
	uint32_t *cause_of = hx__dag_alloc(na * sizeof(*cause_of));
	int rc = HX_ENOMEM;
	if (!v->eff_ev || !fill || !key || !order || !cause_of)
		goto out;
	memcpy(fill, v->eff_off, n * sizeof(*fill));
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1]; k++) {
			uint32_t c = d->cause_ev[k];
			if (c == HX__DAG_NONE)
				continue;
			uint32_t a = fill[c]++;
			v->eff_ev[a] = (uint32_t)i;
			cause_of[a] = c;
		}
	for (size_t a = 0; a < na; a++) {
		uint64_t tc = d->ev_time[cause_of[a]], te = d->ev_time[v->eff_ev[a]];
		key[a] = tc < te ? tc : te;
		order[a] = (uint32_t)a;
	}
	if ((rc = hx__vsort(key, order, na)))
		goto out;
	rc = HX_ENOMEM;
	v->arrows = hx__dag_alloc(na * sizeof(*v->arrows));
	if (!v->arrows)
		goto out;
	for (size_t k = 0; k < na; k++) {
		uint32_t c = cause_of[order[k]], e = v->eff_ev[order[k]];
		hx__varrow *r = &v->arrows[k];
		memset(r, 0, sizeof(*r));
		r->t_cause = d->ev_time[c];
		r->t_effect = d->ev_time[e];
		r->seq_cause = d->ev_seq[c];
		r->seq_effect = d->ev_seq[e];
		r->cause = c;
		r->effect = e;
		r->ent_cause = d->ev_entity[c];
		r->ent_effect = d->ev_entity[e];
		r->lane_cause = v->ent_lane[r->ent_cause];
		r->lane_effect = v->ent_lane[r->ent_effect];
		r->ia = d->ev_ia[e];
		r->resumes = (d->ev_flags[e] & HX__EVF_RESUMES) != 0;
	}
	v->narrows = na;
	v->bytes += (n + 1) * 4 + na * (4 + sizeof(*v->arrows));
	rc = HX_OK;
out:
	free(fill);
	free(key);
	free(order);
	free(cause_of);
	return rc;
}

int hx__view_index_arrows(hx__view *v)
{
	size_t nl = v->nlanes;
	int rc = effects_and_arrows(v);
	if (rc)
		return rc;
	size_t na = v->narrows;
	/* the whole trace's set, then the pair sets: 2 x na entries */
	size_t ns = 2 * na;
	v->as_lo = hx__dag_alloc(ns * sizeof(uint64_t));
	v->as_maxhi = hx__dag_alloc(ns * sizeof(uint64_t));
	v->as_hi = hx__dag_alloc(ns * sizeof(uint64_t));
	v->as_id = hx__dag_alloc(ns * sizeof(uint32_t));
	uint64_t *key = hx__dag_alloc(na * sizeof(*key));
	if (!v->as_lo || !v->as_maxhi || !v->as_hi || !v->as_id || !key) {
		free(key);
		return HX_ENOMEM;
	}
	v->nas = ns;
	for (size_t a = 0; a < na; a++)
		v->as_id[a] = (uint32_t)a;
	v->as_all = (hx__vaset){0, (uint32_t)na};
	fill_set(v, &v->as_all);

	/* pairs: a stable sort of the lower-end order by pair key keeps each pair in that order */
	for (size_t k = 0; k < na; k++) {
		key[k] = (uint64_t)v->arrows[k].lane_cause * nl + v->arrows[k].lane_effect;
		v->as_id[na + k] = (uint32_t)k;
	}
	if ((rc = hx__vsort(key, v->as_id + na, na))) {
		free(key);
		return rc;
	}
	size_t np = 0;
	for (size_t k = 0; k < na; k++)
		np += !k || key[k] != key[k - 1];
	v->pairs = calloc(np ? np : 1, sizeof(*v->pairs));
	v->pair_lane = malloc((np ? 2 * np : 1) * sizeof(*v->pair_lane));
	v->lane_pair_off = calloc(nl + 1, sizeof(*v->lane_pair_off));
	v->lane_pairs = malloc((np ? 2 * np : 1) * sizeof(*v->lane_pairs));
	if (!v->pairs || !v->pair_lane || !v->lane_pair_off || !v->lane_pairs) {
		free(key);
		return HX_ENOMEM;
	}
	v->npairs = np;
	size_t p = 0;
	for (size_t k = 0; k < na; k++) {
		if (!k || key[k] != key[k - 1]) {
			v->pairs[p] = (hx__vaset){na + k, 0};
			v->pair_lane[2 * p] = (uint32_t)(key[k] / nl);
			v->pair_lane[2 * p + 1] = (uint32_t)(key[k] % nl);
			p++;
		}
		v->pairs[p - 1].n++;
	}
	free(key);
	for (size_t q = 0; q < np; q++) {
		fill_set(v, &v->pairs[q]);
		uint32_t cl = v->pair_lane[2 * q], el = v->pair_lane[2 * q + 1];
		v->lane_pair_off[cl + 1]++;
		if (el != cl)
			v->lane_pair_off[el + 1]++;
	}
	for (size_t l = 0; l < nl; l++)
		v->lane_pair_off[l + 1] += v->lane_pair_off[l];
	uint32_t *pos = malloc((nl ? nl : 1) * sizeof(*pos));
	if (!pos)
		return HX_ENOMEM;
	memcpy(pos, v->lane_pair_off, (nl ? nl : 1) * sizeof(*pos));
	for (size_t q = 0; q < np; q++) {
		uint32_t cl = v->pair_lane[2 * q], el = v->pair_lane[2 * q + 1];
		v->lane_pairs[pos[cl]++] = (uint32_t)q;
		if (el != cl)
			v->lane_pairs[pos[el]++] = (uint32_t)q;
	}
	free(pos);
	v->bytes += ns * 28 + np * (sizeof(*v->pairs) + 16) + (nl + 1) * 4;
	return HX_OK;
}

/* ---- the query ---- */

typedef struct acount {
	const hx__vaset *s;
	size_t ia, ib;           /* A: [ia, ib) of the set */
	uint64_t a, b;           /* |A|, |B| */
	uint64_t quota;
} acount;

static void count_set(const hx__view *v, const hx__vaset *s, uint64_t from, uint64_t to, acount *c)
{
	const uint64_t *lo = v->as_lo + s->base, *hi = v->as_hi + s->base;
	c->s = s;
	c->ia = hx__v_lower(lo, s->n, from);
	c->ib = hx__v_upper(lo, s->n, to);
	c->a = c->ib - c->ia;
	c->b = c->ia - hx__v_lower(hi, s->n, from);
	c->quota = 0;
}

static char *arrow_end(char *o, const hx__view *v, uint32_t e, uint32_t ent, uint64_t seq,
                       uint32_t lane, uint64_t t)
{
	o = hx__vw_u64(o, e);
	o = HX__VW_LIT(o, ",\"id\":\"");
	memcpy(o, v->ent_hex + 16 * (size_t)ent, 16);
	o += 16;
	*o++ = ':';
	o = hx__vw_u64(o, seq);
	o = HX__VW_LIT(o, "\",\"lane\":");
	o = hx__vw_u64(o, lane);
	o = HX__VW_LIT(o, ",\"time_ns\":");
	return hx__vw_u64(o, t);
}

static int arrow_json(hx__buf *b, const hx__view *v, uint32_t a, int comma)
{
	const hx__varrow *r = &v->arrows[a];
	if (hx__buf_grow(b, HX__VW_ITEM_MAX))
		return HX_ENOMEM;
	char *o = b->p + b->len;
	if (comma)
		*o++ = ',';
	o = HX__VW_LIT(o, "{\"kind\":");
	const char *kind = hx__vj_interaction(r->ia);
	size_t kn = strlen(kind);
	memcpy(o, kind, kn);
	o += kn;
	o = HX__VW_LIT(o, ",\"cause\":{\"e\":");
	o = arrow_end(o, v, r->cause, r->ent_cause, r->seq_cause, r->lane_cause, r->t_cause);
	o = HX__VW_LIT(o, "},\"effect\":{\"e\":");
	o = arrow_end(o, v, r->effect, r->ent_effect, r->seq_effect, r->lane_effect, r->t_effect);
	if (r->resumes)
		o = HX__VW_LIT(o, "},\"resumes\":true}");
	else
		o = HX__VW_LIT(o, "},\"resumes\":false}");
	hx__vw_done(b, o);
	return HX_OK;
}

/* Emit up to c->quota arrows of one set: those crossing in from the left first (up to half the
 * quota, or all of it when A needs less), then A sampled evenly. */
static int emit_set(const hx__view *v, const acount *c, uint64_t from, hx__buf *out,
                    uint64_t *emitted)
{
	const hx__vaset *s = c->s;
	uint64_t q = c->quota, room = q > c->a ? q - c->a : 0;
	uint64_t qb_max = q / 2 > room ? q / 2 : room;
	uint64_t qb = c->b < qb_max ? c->b : qb_max;
	uint64_t got = 0;
	if (qb) {
		/* every member of B lies in [j0, ia): scan it, but never far past what is taken */
		size_t j = hx__v_lower(v->as_maxhi + s->base, s->n, from);
		uint64_t steps = 0, limit = 8 * qb + 256;
		for (; j < c->ia && got < qb && steps < limit; j++, steps++) {
			uint32_t a = v->as_id[s->base + j];
			if (arrow_hi(&v->arrows[a]) >= from) {
				if (arrow_json(out, v, a, *emitted > 0))
					return HX_ENOMEM;
				got++;
				(*emitted)++;
			}
		}
	}
	uint64_t qa = q - got;
	if (qa > c->a)
		qa = c->a;
	for (uint64_t k = 0; k < qa; k++) {
		size_t j = c->ia + (size_t)((hx__u128)k * c->a / qa);
		if (arrow_json(out, v, v->as_id[s->base + j], *emitted > 0))
			return HX_ENOMEM;
		(*emitted)++;
	}
	return HX_OK;
}

int hx__view_arrows_json(const hx__view *v, uint64_t from, uint64_t to, const uint8_t *sel,
                         uint64_t budget, hx__buf *out, uint64_t *emitted, uint64_t *left_out)
{
	*emitted = *left_out = 0;
	acount one, *cs = &one;
	size_t nc = 0;
	uint64_t total = 0;
	if (!sel) {
		count_set(v, &v->as_all, from, to, &one);
		nc = 1;
	} else {
		size_t cap = 0;
		for (size_t l = 0; l < v->nlanes; l++)
			if (sel[l])
				cap += v->lane_pair_off[l + 1] - v->lane_pair_off[l];
		cs = malloc((cap ? cap : 1) * sizeof(*cs));
		if (!cs)
			return HX_ENOMEM;
		for (size_t l = 0; l < v->nlanes; l++) {
			if (!sel[l])
				continue;
			for (uint32_t k = v->lane_pair_off[l]; k < v->lane_pair_off[l + 1]; k++) {
				uint32_t p = v->lane_pairs[k], cl = v->pair_lane[2 * p];
				/* a pair with both lanes selected is taken once, at its cause lane */
				if (cl != l && sel[cl])
					continue;
				count_set(v, &v->pairs[p], from, to, &cs[nc]);
				if (cs[nc].a + cs[nc].b)
					nc++;
			}
		}
	}
	for (size_t i = 0; i < nc; i++)
		total += cs[i].a + cs[i].b;
	for (size_t i = 0; i < nc; i++) {
		uint64_t m = cs[i].a + cs[i].b;
		cs[i].quota = total <= budget ? m : (uint64_t)((hx__u128)budget * m / total);
	}
	int rc = HX_OK;
	for (size_t i = 0; i < nc && !rc; i++)
		rc = emit_set(v, &cs[i], from, out, emitted);
	if (cs != &one)
		free(cs);
	*left_out = total - *emitted;
	return rc;
}
