/*
 * index.c - the per-lane indices a level-of-detail query reads: block sets per depth and a wait
 * set, each sorted by start with the running maximum of ends and its two pyramids; points by
 * time; counter tracks by name with a min/max pyramid; and each block's self time. All of it is
 * laid out in a few shared arrays (a set is a range of them), filled by counting first and then
 * placing, so building is linear: the DAG's blocks and waits already come in their entity's
 * order, which is time order unless a clock stepped back (then that one set is sorted).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "view/view_int.h"

typedef struct ivl {
	uint64_t start, end;
	uint32_t id;
} ivl;

static int ivl_cmp(const void *a, const void *b)
{
	const ivl *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Sort set s by start if a clock made it disordered, then fill its running max. */
static int finish_set(hx__view *v, const hx__vset *s)
{
	uint64_t *st = v->iv_start + s->base, *en = v->iv_end + s->base, *mx = v->iv_max + s->base;
	uint32_t *id = v->iv_id + s->base;
	int sorted = 1;
	for (uint32_t i = 1; i < s->n && sorted; i++)
		sorted = st[i - 1] <= st[i];
	if (!sorted) {
		ivl *t = malloc(s->n * sizeof(*t));
		if (!t)
			return HX_ENOMEM;
		for (uint32_t i = 0; i < s->n; i++)
			t[i] = (ivl){st[i], en[i], id[i]};
		qsort(t, s->n, sizeof(*t), ivl_cmp);
		for (uint32_t i = 0; i < s->n; i++) {
			st[i] = t[i].start;
			en[i] = t[i].end;
			id[i] = t[i].id;
		}
		free(t);
	}
	uint64_t m = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		m = en[i] > m ? en[i] : m;
		mx[i] = m;
	}
	return HX_OK;
}

static void set_pyramids(hx__view *v, hx__vset *s, size_t *pos)
{
	s->pyr = *pos;
	size_t k = hx__pyr_nodes(s->n);
	for (int w = 0; w < 2; w++) {
		hx__pyr p;
		hx__pyr_init(&p, v->iv_start + s->base, v->iv_end + s->base, v->iv_max + s->base, s->n,
		             v->iv_pyr + *pos, w);
		hx__pyr_build(&p, v->iv_pyr + *pos);
		*pos += k;
	}
}

static int intervals(hx__view *v)
{
	const hx__dag *d = v->d;
	size_t nl = v->nlanes;
	/* depths per lane, then one set per (lane, depth) */
	for (size_t b = 0; b < d->nblocks; b++) {
		hx__vlane *ln = &v->lanes[v->ent_lane[d->blocks[b].entity]];
		if ((uint32_t)d->blocks[b].depth + 1 > ln->depth)
			ln->depth = (uint32_t)d->blocks[b].depth + 1;
	}
	size_t ns = 0;
	for (size_t l = 0; l < nl; l++) {
		v->lanes[l].bset = (uint32_t)ns;
		ns += v->lanes[l].depth;
	}
	v->nbsets = ns;
	v->bsets = calloc(ns ? ns : 1, sizeof(*v->bsets));
	v->wsets = calloc(nl ? nl : 1, sizeof(*v->wsets));
	size_t niv = d->nblocks + d->nwaits;
	v->iv_start = hx__dag_alloc(niv * sizeof(uint64_t));
	v->iv_end = hx__dag_alloc(niv * sizeof(uint64_t));
	v->iv_max = hx__dag_alloc(niv * sizeof(uint64_t));
	v->iv_id = hx__dag_alloc(niv * sizeof(uint32_t));
	if (!v->bsets || !v->wsets || !v->iv_start || !v->iv_end || !v->iv_max || !v->iv_id)
		return HX_ENOMEM;
	v->niv = niv;
	for (size_t b = 0; b < d->nblocks; b++)
		v->bsets[v->lanes[v->ent_lane[d->blocks[b].entity]].bset + d->blocks[b].depth].n++;
	for (size_t w = 0; w < d->nwaits; w++)
		v->wsets[v->ent_lane[d->waits[w].entity]].n++;
	size_t acc = 0, npyr = 0;
	for (size_t s = 0; s < ns; s++) {
		v->bsets[s].base = acc;
		acc += v->bsets[s].n;
		npyr += 2 * hx__pyr_nodes(v->bsets[s].n);
		v->bsets[s].n = 0;
	}
	for (size_t l = 0; l < nl; l++) {
		v->wsets[l].base = acc;
		acc += v->wsets[l].n;
		npyr += 2 * hx__pyr_nodes(v->wsets[l].n);
		v->wsets[l].n = 0;
	}
	for (size_t b = 0; b < d->nblocks; b++) {
		const hx__dag_block *bl = &d->blocks[b];
		hx__vset *s = &v->bsets[v->lanes[v->ent_lane[bl->entity]].bset + bl->depth];
		size_t k = s->base + s->n++;
		v->iv_start[k] = d->ev_time[bl->begin];
		v->iv_end[k] = d->ev_time[bl->end];
		v->iv_id[k] = (uint32_t)b;
	}
	for (size_t w = 0; w < d->nwaits; w++) {
		const hx__dag_wait *wt = &d->waits[w];
		hx__vset *s = &v->wsets[v->ent_lane[wt->entity]];
		size_t k = s->base + s->n++;
		v->iv_start[k] = d->ev_time[wt->start];
		v->iv_end[k] = d->ev_time[wt->end];
		v->iv_id[k] = (uint32_t)w;
	}
	v->iv_pyr = hx__dag_alloc(npyr * sizeof(*v->iv_pyr));
	if (!v->iv_pyr)
		return HX_ENOMEM;
	v->niv_pyr = npyr;
	size_t pos = 0;
	for (size_t s = 0; s < ns; s++) {
		if (finish_set(v, &v->bsets[s]))
			return HX_ENOMEM;
		set_pyramids(v, &v->bsets[s], &pos);
	}
	for (size_t l = 0; l < nl; l++) {
		if (finish_set(v, &v->wsets[l]))
			return HX_ENOMEM;
		set_pyramids(v, &v->wsets[l], &pos);
	}
	v->bytes += ns * sizeof(*v->bsets) + nl * sizeof(*v->wsets) + niv * (3 * 8 + 4) + npyr * 8;
	return HX_OK;
}

typedef struct tpoint {
	uint64_t t;
	uint32_t e;
} tpoint;

static int tpoint_cmp(const void *a, const void *b)
{
	const tpoint *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->e < y->e ? -1 : x->e > y->e;
}

/* Sort (time, event) pairs in place when a clock made them disordered. */
static int sort_pairs(uint64_t *t, uint32_t *e, size_t n)
{
	int sorted = 1;
	for (size_t i = 1; i < n && sorted; i++)
		sorted = t[i - 1] <= t[i];
	if (sorted)
		return HX_OK;
	tpoint *tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return HX_ENOMEM;
	for (size_t i = 0; i < n; i++)
		tmp[i] = (tpoint){t[i], e[i]};
	qsort(tmp, n, sizeof(*tmp), tpoint_cmp);
	for (size_t i = 0; i < n; i++) {
		t[i] = tmp[i].t;
		e[i] = tmp[i].e;
	}
	free(tmp);
	return HX_OK;
}

static int points(hx__view *v)
{
	const hx__dag *d = v->d;
	size_t nl = v->nlanes, np = 0;
	v->pt_off = malloc((nl + 1) * sizeof(*v->pt_off));
	if (!v->pt_off)
		return HX_ENOMEM;
	for (size_t i = 0; i < d->n; i++)
		np += hx__v_is_point(d->ev_kind[i]);
	v->pt_time = hx__dag_alloc(np * sizeof(*v->pt_time));
	v->pt_ev = hx__dag_alloc(np * sizeof(*v->pt_ev));
	if (!v->pt_time || !v->pt_ev)
		return HX_ENOMEM;
	size_t k = 0;
	for (size_t l = 0; l < nl; l++) {
		const hx__dag_entity *en = &d->entities[v->lanes[l].entity];
		v->pt_off[l] = (uint32_t)k;
		for (uint32_t i = en->first; i < en->first + en->count; i++) {
			if (!hx__v_is_point(d->ev_kind[i]))
				continue;
			v->pt_time[k] = d->ev_time[i];
			v->pt_ev[k] = i;
			k++;
		}
		if (sort_pairs(v->pt_time + v->pt_off[l], v->pt_ev + v->pt_off[l], k - v->pt_off[l]))
			return HX_ENOMEM;
	}
	v->pt_off[nl] = (uint32_t)k;
	v->npt = k;
	v->bytes += (nl + 1) * 4 + np * 12;

	/* gap pyramids: hx__pyr's GAP reads start[i + 1] - maxend[i], both the times here */
	v->pt_pyr = malloc((nl ? nl : 1) * sizeof(*v->pt_pyr));
	size_t nodes = 0, nerr = 0;
	for (size_t l = 0; l < nl; l++)
		nodes += hx__pyr_nodes(v->pt_off[l + 1] - v->pt_off[l]);
	v->pt_nodes = hx__dag_alloc(nodes * sizeof(*v->pt_nodes));
	if (!v->pt_pyr || !v->pt_nodes)
		return HX_ENOMEM;
	v->npt_nodes = nodes;
	nodes = 0;
	for (size_t l = 0; l < nl; l++) {
		uint32_t n = v->pt_off[l + 1] - v->pt_off[l];
		hx__pyr p;
		hx__pyr_init(&p, v->pt_time + v->pt_off[l], NULL, v->pt_time + v->pt_off[l], n,
		             v->pt_nodes + nodes, HX__PYR_GAP);
		hx__pyr_build(&p, v->pt_nodes + nodes);
		v->pt_pyr[l] = nodes;
		nodes += hx__pyr_nodes(n);
	}
	for (size_t i = 0; i < k; i++)
		nerr += d->ev_kind[v->pt_ev[i]] == HX_EV_ERROR;
	v->err_off = malloc((nl + 1) * sizeof(*v->err_off));
	v->err_time = malloc((nerr ? nerr : 1) * sizeof(*v->err_time));
	if (!v->err_off || !v->err_time)
		return HX_ENOMEM;
	nerr = 0;
	for (size_t l = 0; l < nl; l++) {
		v->err_off[l] = (uint32_t)nerr;
		for (uint32_t i = v->pt_off[l]; i < v->pt_off[l + 1]; i++)
			if (d->ev_kind[v->pt_ev[i]] == HX_EV_ERROR)
				v->err_time[nerr++] = v->pt_time[i];
	}
	v->err_off[nl] = (uint32_t)nerr;
	v->bytes += nl * sizeof(size_t) + nodes * 8 + (nl + 1) * 4 + nerr * 8;
	return HX_OK;
}

/* ---- counter tracks ---- */

typedef struct csample {
	uint32_t lane, rank, e;   /* rank: of its name among the counter names, by string */
	uint64_t t;
	double val;
} csample;

static int csample_cmp(const void *a, const void *b)
{
	const csample *x = a, *y = b;
	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->e < y->e ? -1 : x->e > y->e;
}

typedef struct cname {
	const char *s;
	uint32_t id, rank;
} cname;

static int cname_id_cmp(const void *a, const void *b)
{
	const cname *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int cname_str_cmp(const void *a, const void *b)
{
	const cname *x = a, *y = b;
	int c = strcmp(x->s, y->s);
	return c ? c : cname_id_cmp(a, b);
}

/* Rank each counter name by its string, so tracks sort by name without a context for qsort:
 * names[] comes back sorted by ID with the rank filled. */
static size_t rank_names(const hx__dag *d, cname *names, size_t n)
{
	qsort(names, n, sizeof(*names), cname_id_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!m || names[m - 1].id != names[i].id)
			names[m++] = names[i];
	for (size_t i = 0; i < m; i++)
		names[i].s = hx__dag_str(d, names[i].id);
	qsort(names, m, sizeof(*names), cname_str_cmp);
	for (size_t i = 0; i < m; i++)
		names[i].rank = (uint32_t)i;
	qsort(names, m, sizeof(*names), cname_id_cmp);
	return m;
}

static uint32_t rank_of(const cname *names, size_t m, uint32_t id)
{
	size_t lo = 0, hi = m;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (names[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return names[lo].rank;
}

/* The value of counter event e, from its record (NaN when it has none). */
static double counter_value(const hx__view *v, uint32_t e)
{
	const uint8_t *p = v->blob + v->attr_off[e], *end = v->blob + v->attr_off[e + 1];
	hx__vattr a;
	while (hx__vattr_next(&p, end, &a))
		if (a.type == HX__VA_COUNTER_INT || a.type == HX__VA_COUNTER_DOUBLE)
			return a.d;
	return NAN;
}

static int counters(hx__view *v)
{
	const hx__dag *d = v->d;
	size_t nl = v->nlanes, nc = 0;
	for (size_t i = 0; i < d->n; i++)
		nc += d->ev_kind[i] == HX_EV_COUNTER;
	csample *cs = malloc((nc ? nc : 1) * sizeof(*cs));
	cname *names = malloc((nc ? nc : 1) * sizeof(*names));
	v->lane_track = calloc(nl + 1, sizeof(*v->lane_track));
	if (!cs || !names || !v->lane_track) {
		free(cs);
		free(names);
		return HX_ENOMEM;
	}
	size_t k = 0;
	for (size_t l = 0; l < nl; l++) {
		const hx__dag_entity *en = &d->entities[v->lanes[l].entity];
		for (uint32_t i = en->first; i < en->first + en->count; i++) {
			if (d->ev_kind[i] != HX_EV_COUNTER)
				continue;
			double x = counter_value(v, i);
			if (isnan(x))
				continue; /* no value recorded (its record was dropped): nothing to draw */
			names[k] = (cname){NULL, d->ev_name[i], 0};
			cs[k++] = (csample){(uint32_t)l, 0, i, d->ev_time[i], x};
		}
	}
	nc = k;
	size_t nnames = rank_names(d, names, nc);
	for (size_t i = 0; i < nc; i++)
		cs[i].rank = rank_of(names, nnames, d->ev_name[cs[i].e]);
	free(names);
	qsort(cs, nc, sizeof(*cs), csample_cmp);
	size_t nt = 0;
	for (size_t i = 0; i < nc; i++)
		nt += !i || cs[i].lane != cs[i - 1].lane || cs[i].rank != cs[i - 1].rank;
	v->tracks = calloc(nt ? nt : 1, sizeof(*v->tracks));
	v->ct_time = hx__dag_alloc(nc * sizeof(*v->ct_time));
	v->ct_val = hx__dag_alloc(nc * sizeof(*v->ct_val));
	v->ct_ev = hx__dag_alloc(nc * sizeof(*v->ct_ev));
	if (!v->tracks || !v->ct_time || !v->ct_val || !v->ct_ev) {
		free(cs);
		return HX_ENOMEM;
	}
	size_t t = 0, npyr = 0;
	for (size_t i = 0; i < nc; i++) {
		if (!i || cs[i].lane != cs[i - 1].lane || cs[i].rank != cs[i - 1].rank) {
			if (i)
				npyr += hx__cpyr_nodes(v->tracks[t - 1].n);
			v->tracks[t++] = (hx__vtrack){cs[i].lane, d->ev_name[cs[i].e], (uint32_t)i, 0,
			                              cs[i].e, 0, cs[i].val, cs[i].val};
			v->lane_track[cs[i].lane + 1] = (uint32_t)t;
		}
		hx__vtrack *tr = &v->tracks[t - 1];
		tr->n++;
		tr->min = cs[i].val < tr->min ? cs[i].val : tr->min;
		tr->max = cs[i].val > tr->max ? cs[i].val : tr->max;
		v->ct_time[i] = cs[i].t;
		v->ct_val[i] = cs[i].val;
		v->ct_ev[i] = cs[i].e;
	}
	if (t)
		npyr += hx__cpyr_nodes(v->tracks[t - 1].n);
	free(cs);
	v->ntracks = nt;
	v->nct = nc;
	/* lanes without tracks start where the previous lane's end */
	for (size_t l = 1; l <= nl; l++)
		if (v->lane_track[l] < v->lane_track[l - 1])
			v->lane_track[l] = v->lane_track[l - 1];
	v->ct_pyr = hx__dag_alloc(npyr * sizeof(*v->ct_pyr));
	if (!v->ct_pyr)
		return HX_ENOMEM;
	v->nct_pyr = npyr;
	size_t pos = 0;
	for (size_t i = 0; i < nt; i++) {
		hx__vtrack *tr = &v->tracks[i];
		tr->pyr = pos;
		hx__cpyr_build(v->ct_val + tr->first, tr->n, v->ct_pyr + pos);
		pos += hx__cpyr_nodes(tr->n);
	}
	v->bytes += nt * sizeof(*v->tracks) + (nl + 1) * 4 + nc * 20 + npyr * 8;
	return HX_OK;
}

/* Self time: a block's duration minus its children's (clamped at zero when reading). */
static int self_times(hx__view *v)
{
	const hx__dag *d = v->d;
	v->blk_self = hx__dag_alloc(d->nblocks * sizeof(*v->blk_self));
	if (!v->blk_self)
		return HX_ENOMEM;
	for (size_t b = 0; b < d->nblocks; b++) {
		uint64_t s = d->ev_time[d->blocks[b].begin], e = d->ev_time[d->blocks[b].end];
		v->blk_self[b] = e > s ? (int64_t)(e - s) : 0;
	}
	for (size_t b = 0; b < d->nblocks; b++) {
		uint32_t p = d->blocks[b].parent;
		uint64_t s = d->ev_time[d->blocks[b].begin], e = d->ev_time[d->blocks[b].end];
		if (p != HX__DAG_NONE && p < d->nblocks)
			v->blk_self[p] -= e > s ? (int64_t)(e - s) : 0;
	}
	v->bytes += d->nblocks * sizeof(*v->blk_self);
	return HX_OK;
}

int hx__view_index_sets(hx__view *v)
{
	int rc = intervals(v);
	if (!rc)
		rc = points(v);
	if (!rc)
		rc = counters(v);
	if (!rc)
		rc = self_times(v);
	return rc;
}
