/*
 * lanes.c - the rows of the viewer: one lane per entity with events, grouped by host, then by
 * process, then by entity. Each group comes in the order it first appears in time (the host
 * whose first event is earliest on top, and so on down), ties broken by name, process index and
 * entity ID, so the same trace always lays out the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "view/view_int.h"

typedef struct pinfo {
	uint32_t raw;            /* the caller's process index, or HX__VPROC_UNKNOWN.. */
	const char *host;
	uint64_t first_ns, host_first_ns;
	uint32_t order;          /* its place once sorted */
} pinfo;

static int raw_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int host_cmp(const void *a, const void *b)
{
	const pinfo *x = a, *y = b;
	int c = strcmp(x->host, y->host);
	return c ? c : raw_cmp(&x->raw, &y->raw);
}

static int proc_cmp(const void *a, const void *b)
{
	const pinfo *x = a, *y = b;
	if (x->host_first_ns != y->host_first_ns)
		return x->host_first_ns < y->host_first_ns ? -1 : 1;
	int c = strcmp(x->host, y->host);
	if (c)
		return c;
	if (x->first_ns != y->first_ns)
		return x->first_ns < y->first_ns ? -1 : 1;
	return raw_cmp(&x->raw, &y->raw);
}

typedef struct lkey {
	uint32_t order, entity;
	uint64_t first_ns, id;
} lkey;

static int lane_cmp(const void *a, const void *b)
{
	const lkey *x = a, *y = b;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	if (x->first_ns != y->first_ns)
		return x->first_ns < y->first_ns ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static uint32_t raw_index(const uint32_t *raws, size_t n, uint32_t raw)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (raws[mid] < raw)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s);
	char *p = malloc(n + 1);
	if (p)
		memcpy(p, s, n + 1);
	return p;
}

int hx__view_lanes(hx__view *v, const uint32_t *ent_proc, const hx__vdesc *desc, size_t ndesc)
{
	const hx__dag *d = v->d;
	size_t ne = d->nentities, nl = 0;
	uint32_t *raws = malloc((ne ? ne : 1) * sizeof(*raws));
	lkey *keys = malloc((ne ? ne : 1) * sizeof(*keys));
	pinfo *pi = NULL;
	uint32_t *order_of = NULL;
	v->ent_lane = malloc((ne ? ne : 1) * sizeof(*v->ent_lane));
	int rc = HX_ENOMEM;
	if (!raws || !keys || !v->ent_lane)
		goto out;

	/* the processes that have lanes */
	for (size_t e = 0; e < ne; e++)
		if (d->entities[e].count)
			raws[nl++] = ent_proc[e];
	qsort(raws, nl, sizeof(*raws), raw_cmp);
	size_t np = 0;
	for (size_t i = 0; i < nl; i++)
		if (!np || raws[np - 1] != raws[i])
			raws[np++] = raws[i];
	pi = calloc(np ? np : 1, sizeof(*pi));
	order_of = malloc((np ? np : 1) * sizeof(*order_of));
	if (!pi || !order_of)
		goto out;
	for (size_t p = 0; p < np; p++) {
		pi[p].raw = raws[p];
		pi[p].host = raws[p] < ndesc && desc[raws[p]].set ? desc[raws[p]].host : "";
		pi[p].first_ns = UINT64_MAX;
	}
	nl = 0;
	for (size_t e = 0; e < ne; e++) {
		const hx__dag_entity *en = &d->entities[e];
		if (!en->count)
			continue;
		uint64_t first = UINT64_MAX;
		for (uint32_t i = en->first; i < en->first + en->count; i++)
			first = d->ev_time[i] < first ? d->ev_time[i] : first;
		uint32_t p = raw_index(raws, np, ent_proc[e]);
		if (first < pi[p].first_ns)
			pi[p].first_ns = first;
		keys[nl++] = (lkey){p, (uint32_t)e, first, en->id};
	}

	/* hosts: each takes the earliest first time of its processes */
	qsort(pi, np, sizeof(*pi), host_cmp);
	for (size_t s = 0; s < np;) {
		size_t t = s;
		uint64_t m = UINT64_MAX;
		while (t < np && !strcmp(pi[t].host, pi[s].host)) {
			m = pi[t].first_ns < m ? pi[t].first_ns : m;
			t++;
		}
		for (; s < t; s++)
			pi[s].host_first_ns = m;
	}
	qsort(pi, np, sizeof(*pi), proc_cmp);
	for (size_t p = 0; p < np; p++)
		order_of[raw_index(raws, np, pi[p].raw)] = (uint32_t)p;
	for (size_t l = 0; l < nl; l++)
		keys[l].order = order_of[keys[l].order];
	qsort(keys, nl, sizeof(*keys), lane_cmp);

	v->procs = calloc(np ? np : 1, sizeof(*v->procs));
	v->lanes = calloc(nl ? nl : 1, sizeof(*v->lanes));
	if (!v->procs || !v->lanes)
		goto out;
	v->nprocs = np;
	for (size_t p = 0; p < np; p++) {
		hx__vproc *vp = &v->procs[p];
		const hx__vdesc *ds = pi[p].raw < ndesc && desc[pi[p].raw].set ? &desc[pi[p].raw] : NULL;
		vp->host = dup_str(ds ? ds->host : "");
		vp->service = dup_str(ds ? ds->service : "");
		vp->program = dup_str(ds ? ds->program : "");
		if (!vp->host || !vp->service || !vp->program)
			goto out;
		vp->pid = ds ? ds->pid : 0;
		vp->offset_ns = ds ? ds->offset_ns : 0;
		vp->first_ns = pi[p].first_ns;
		vp->first_lane = UINT32_MAX;
		v->bytes += sizeof(*vp) + strlen(vp->host) + strlen(vp->service) + strlen(vp->program) + 3;
	}
	for (size_t e = 0; e < ne; e++)
		v->ent_lane[e] = HX__DAG_NONE;
	for (size_t l = 0; l < nl; l++) {
		hx__vlane *ln = &v->lanes[l];
		const hx__dag_entity *en = &d->entities[keys[l].entity];
		ln->entity = keys[l].entity;
		ln->proc = keys[l].order;
		ln->events = en->count;
		ln->first_ns = UINT64_MAX;
		for (uint32_t i = en->first; i < en->first + en->count; i++) {
			ln->first_ns = d->ev_time[i] < ln->first_ns ? d->ev_time[i] : ln->first_ns;
			ln->last_ns = d->ev_time[i] > ln->last_ns ? d->ev_time[i] : ln->last_ns;
		}
		v->ent_lane[keys[l].entity] = (uint32_t)l;
		hx__vproc *vp = &v->procs[ln->proc];
		if (vp->first_lane == UINT32_MAX)
			vp->first_lane = (uint32_t)l;
		vp->nlanes++;
	}
	v->nlanes = nl;
	v->bytes += nl * sizeof(*v->lanes) + ne * sizeof(*v->ent_lane);
	rc = HX_OK;
out:
	free(raws);
	free(keys);
	free(pi);
	free(order_of);
	return rc;
}
