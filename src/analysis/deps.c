/*
 * deps.c - the dependency graph (trace_features.h): which services (or entities) cause work in
 * which others, accumulated over traces and graphs.
 *
 * Every linked cause is an edge from the cause's node to the effect's, whatever the interaction:
 * a request and its reply (two edges, one each way), a message, each delivery of a publish (one
 * call per subscriber), a fork, a join, a lock hand-over, a trace joined. Causes within one node
 * are left out. A call's latency is the effect's time minus the cause's (0 if clocks disagree).
 * Nodes and edges live in open-addressing hashes and own their strings, so graphs read one after
 * another (or traces arriving at the service) add to the same picture.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/trace_features.h"

#define KIND_TRACE_JOIN 0 /* a TRACE_JOIN's cause; other kinds are hx_interaction values */

typedef struct dnode {
	char *id, *name, *service;
	uint64_t hash, in, out;
} dnode;

typedef struct dedge {
	uint32_t from, to;
	uint8_t kind;
	uint64_t hash;
	hx__qsketch lat;
} dedge;

struct hx__deps {
	int by_entity;
	dnode *n;
	size_t nn, ncap;
	uint32_t *nslot; /* index + 1, 0 empty */
	size_t nnslot;
	dedge *e;
	size_t ne, ecap;
	uint32_t *eslot;
	size_t neslot;
};

int hx__deps_new(hx__deps **out, int by_entity)
{
	*out = NULL;
	hx__deps *g = calloc(1, sizeof(*g));
	if (!g)
		return HX_ENOMEM;
	g->by_entity = by_entity;
	g->nnslot = g->neslot = 64;
	g->nslot = calloc(g->nnslot, sizeof(*g->nslot));
	g->eslot = calloc(g->neslot, sizeof(*g->eslot));
	if (!g->nslot || !g->eslot) {
		hx__deps_free(g);
		return HX_ENOMEM;
	}
	*out = g;
	return HX_OK;
}

void hx__deps_free(hx__deps *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nn; i++) {
		free(g->n[i].id);
		free(g->n[i].name);
		free(g->n[i].service);
	}
	for (size_t i = 0; i < g->ne; i++)
		hx__qs_free(&g->e[i].lat);
	free(g->n);
	free(g->e);
	free(g->nslot);
	free(g->eslot);
	free(g);
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* Re-insert every item into a table twice as large; hash_of(i) gives item i's hash. */
static int regrow(uint32_t **slot, size_t *nslot, size_t items, const void *arr, size_t stride, size_t hoff)
{
	size_t cap = *nslot * 2;
	uint32_t *s = calloc(cap, sizeof(*s));
	if (!s)
		return HX_ENOMEM;
	for (size_t i = 0; i < items; i++) {
		uint64_t h;
		memcpy(&h, (const char *)arr + i * stride + hoff, sizeof(h));
		size_t j = h & (cap - 1);
		while (s[j])
			j = (j + 1) & (cap - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(*slot);
	*slot = s;
	*nslot = cap;
	return HX_OK;
}

/* The node of entity e of d: found by its id (a service's name, an entity's hex ID), or added. */
static uint32_t node_of(hx__deps *g, const hx__dag *d, uint32_t e)
{
	const hx__dag_entity *en = &d->entities[e];
	const char *svc = hx__dag_str(d, en->program);
	char hex[17];
	const char *id;
	if (g->by_entity) {
		snprintf(hex, sizeof hex, "%016llx", (unsigned long long)en->id);
		id = hex;
	} else {
		id = *svc ? svc : "(unknown)";
	}
	uint64_t h = str_hash(id);
	size_t j = h & (g->nnslot - 1);
	while (g->nslot[j]) {
		dnode *n = &g->n[g->nslot[j] - 1];
		if (n->hash == h && !strcmp(n->id, id))
			return g->nslot[j] - 1;
		j = (j + 1) & (g->nnslot - 1);
	}
	if (g->nn >= UINT32_MAX - 1 || hx__dag_grow(&g->n, &g->ncap, g->nn + 1, sizeof(*g->n)))
		return HX__DAG_NONE;
	dnode *n = &g->n[g->nn];
	memset(n, 0, sizeof(*n));
	n->hash = h;
	const char *ename = hx__dag_str(d, en->name);
	n->id = strdup(id);
	n->name = strdup(g->by_entity && *ename ? ename : id);
	n->service = strdup(svc);
	if (!n->id || !n->name || !n->service) {
		free(n->id);
		free(n->name);
		free(n->service);
		return HX__DAG_NONE;
	}
	g->nslot[j] = (uint32_t)++g->nn;
	if (g->nn * 2 > g->nnslot &&
	    regrow(&g->nslot, &g->nnslot, g->nn, g->n, sizeof(*g->n), offsetof(dnode, hash)))
		return HX__DAG_NONE;
	return (uint32_t)g->nn - 1;
}

static int add_call(hx__deps *g, uint32_t from, uint32_t to, uint8_t kind, uint64_t lat)
{
	uint64_t h = mix(((uint64_t)from << 32 | to) ^ mix(kind));
	size_t j = h & (g->neslot - 1);
	dedge *e = NULL;
	while (g->eslot[j]) {
		dedge *c = &g->e[g->eslot[j] - 1];
		if (c->from == from && c->to == to && c->kind == kind) {
			e = c;
			break;
		}
		j = (j + 1) & (g->neslot - 1);
	}
	if (!e) {
		if (g->ne >= UINT32_MAX - 1 || hx__dag_grow(&g->e, &g->ecap, g->ne + 1, sizeof(*g->e)))
			return HX_ENOMEM;
		e = &g->e[g->ne];
		memset(e, 0, sizeof(*e));
		e->from = from;
		e->to = to;
		e->kind = kind;
		e->hash = h;
		g->eslot[j] = (uint32_t)++g->ne;
		if (g->ne * 2 > g->neslot &&
		    regrow(&g->eslot, &g->neslot, g->ne, g->e, sizeof(*g->e), offsetof(dedge, hash)))
			return HX_ENOMEM;
		e = &g->e[g->ne - 1];
	}
	if (hx__qs_add(&e->lat, lat))
		return HX_ENOMEM;
	g->n[from].out++;
	g->n[to].in++;
	return HX_OK;
}

/* Events of d in scope: keep[trace] (NULL: every event), or trace `one` (HX__DAG_NONE: not). */
static int add(hx__deps *g, const hx__dag *d, const uint8_t *keep, uint32_t one)
{
	uint32_t *nodes = malloc((d->nentities ? d->nentities : 1) * sizeof(*nodes));
	if (!nodes)
		return HX_ENOMEM;
	memset(nodes, 0xff, (d->nentities ? d->nentities : 1) * sizeof(*nodes));
	int rc = HX_OK;
	for (uint32_t i = 0; i < d->n && !rc; i++) {
		if (d->cause_off[i] == d->cause_off[i + 1])
			continue;
		uint32_t t = d->ev_trace[i];
		if (one != HX__DAG_NONE ? t != one : keep && (t == HX__DAG_NONE || !keep[t]))
			continue;
		for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1] && !rc; k++) {
			uint32_t c = d->cause_ev[k];
			if (c == HX__DAG_NONE)
				continue;
			uint32_t fe = d->ev_entity[c], te = d->ev_entity[i];
			if (nodes[fe] == HX__DAG_NONE && (nodes[fe] = node_of(g, d, fe)) == HX__DAG_NONE)
				rc = HX_ENOMEM;
			else if (nodes[te] == HX__DAG_NONE && (nodes[te] = node_of(g, d, te)) == HX__DAG_NONE)
				rc = HX_ENOMEM;
			if (rc || nodes[fe] == nodes[te])
				continue;
			uint8_t kind = d->ev_kind[i] == HX_EV_TRACE_JOIN ? KIND_TRACE_JOIN : d->ev_ia[i] ? d->ev_ia[i] : HX_IA_CAUSAL;
			uint64_t lat = d->ev_time[i] > d->ev_time[c] ? d->ev_time[i] - d->ev_time[c] : 0;
			rc = add_call(g, nodes[fe], nodes[te], kind, lat);
		}
	}
	free(nodes);
	return rc;
}

int hx__deps_add(hx__deps *g, const hx__dag *d, uint32_t trace)
{
	if (trace != HX__DAG_NONE && trace >= d->ntraces)
		return HX_EINVAL;
	return add(g, d, NULL, trace);
}

int hx__deps_add_traces(hx__deps *g, const hx__dag *d, const uint8_t *keep)
{
	return add(g, d, keep, HX__DAG_NONE);
}

/* ---- output ---- */

static const char *kind_name(uint8_t k)
{
	const char *s = k == KIND_TRACE_JOIN ? "trace_join" : hx_interaction_name(k);
	return s ? s : "unknown";
}

/* Orders: nodes by id, edges by (from id, to id, kind name). */
static int node_cmp(const void *a, const void *b)
{
	const dnode *x = *(const dnode *const *)a, *y = *(const dnode *const *)b;
	return strcmp(x->id, y->id);
}

typedef struct edge_ref {
	const dedge *e;
	const char *from, *to, *kind;
} edge_ref;

static int edge_cmp(const void *a, const void *b)
{
	const edge_ref *x = a, *y = b;
	int c = strcmp(x->from, y->from);
	if (!c)
		c = strcmp(x->to, y->to);
	return c ? c : strcmp(x->kind, y->kind);
}

static edge_ref *sorted_edges(const hx__deps *g)
{
	edge_ref *r = malloc((g->ne ? g->ne : 1) * sizeof(*r));
	if (!r)
		return NULL;
	for (size_t i = 0; i < g->ne; i++)
		r[i] = (edge_ref){&g->e[i], g->n[g->e[i].from].id, g->n[g->e[i].to].id, kind_name(g->e[i].kind)};
	qsort(r, g->ne, sizeof(*r), edge_cmp);
	return r;
}

/* p50 and p99 of a const sketch: its exact values are sorted in a copy. */
static int latencies(const hx__qsketch *q, double *p50, double *p99)
{
	hx__qsketch t = *q;
	uint64_t *copy = NULL;
	if (q->exact && !q->sorted) {
		if (!(copy = malloc((q->nexact ? q->nexact : 1) * sizeof(*copy))))
			return HX_ENOMEM;
		memcpy(copy, q->exact, q->nexact * sizeof(*copy));
		t.exact = copy;
	}
	*p50 = hx__qs_quantile(&t, 0.50);
	*p99 = hx__qs_quantile(&t, 0.99);
	free(copy);
	return HX_OK;
}

int hx__deps_json(const hx__deps *g, hx__buf *out)
{
	const dnode **nodes = malloc((g->nn ? g->nn : 1) * sizeof(*nodes));
	edge_ref *edges = sorted_edges(g);
	int err = !nodes || !edges;
	if (!err) {
		for (size_t i = 0; i < g->nn; i++)
			nodes[i] = &g->n[i];
		qsort(nodes, g->nn, sizeof(*nodes), node_cmp);
		err |= hx__buf_printf(out, "{\"by\":\"%s\",\"nodes\":[", g->by_entity ? "entity" : "service");
		for (size_t i = 0; i < g->nn && !err; i++) {
			const dnode *n = nodes[i];
			err |= hx__buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
			err |= hx__json_string(out, n->id, strlen(n->id));
			err |= hx__buf_puts(out, ",\"name\":");
			err |= hx__json_string(out, n->name, strlen(n->name));
			err |= hx__buf_printf(out, ",\"kind\":\"%s\",\"calls_in\":%llu,\"calls_out\":%llu",
			                      g->by_entity ? "entity" : "service", (unsigned long long)n->in,
			                      (unsigned long long)n->out);
			if (g->by_entity) {
				err |= hx__buf_puts(out, ",\"service\":");
				err |= hx__json_string(out, n->service, strlen(n->service));
			}
			err |= hx__buf_putc(out, '}');
		}
		err |= hx__buf_puts(out, "],\"edges\":[");
		for (size_t i = 0; i < g->ne && !err; i++) {
			const edge_ref *r = &edges[i];
			double p50, p99;
			if (latencies(&r->e->lat, &p50, &p99)) {
				err = 1;
				break;
			}
			err |= hx__buf_puts(out, i ? ",{\"from\":" : "{\"from\":");
			err |= hx__json_string(out, r->from, strlen(r->from));
			err |= hx__buf_puts(out, ",\"to\":");
			err |= hx__json_string(out, r->to, strlen(r->to));
			err |= hx__buf_printf(out, ",\"kind\":\"%s\",\"calls\":%llu,\"p50_ns\":%.0f,\"p99_ns\":%.0f,\"max_ns\":%llu}",
			                      r->kind, (unsigned long long)r->e->lat.count, p50, p99,
			                      (unsigned long long)r->e->lat.max);
		}
		err |= hx__buf_puts(out, "]}\n");
	}
	free(nodes);
	free(edges);
	return err ? HX_ENOMEM : HX_OK;
}

/* A cell padded to w columns (left-aligned, text escaped for a terminal). */
static int cell(hx__buf *b, const char *s, size_t w)
{
	size_t start = b->len;
	int err = hx__text_plain(b, s, strlen(s));
	while (!err && b->len - start < w)
		err |= hx__buf_putc(b, ' ');
	return err;
}

int hx__deps_write(const hx__deps *g, int csv, hx__buf *out)
{
	edge_ref *edges = sorted_edges(g);
	if (!edges)
		return HX_ENOMEM;
	int err = 0;
	/* names of nodes for people: a service's name; an entity's name and ID */
	size_t wf = 4, wt = 2, wk = 4;
	for (size_t i = 0; i < g->ne; i++) {
		size_t lf = strlen(g->n[edges[i].e->from].name) + (g->by_entity ? 19 : 0);
		size_t lt = strlen(g->n[edges[i].e->to].name) + (g->by_entity ? 19 : 0);
		wf = lf > wf ? lf : wf;
		wt = lt > wt ? lt : wt;
		wk = strlen(edges[i].kind) > wk ? strlen(edges[i].kind) : wk;
	}
	if (csv)
		err |= hx__buf_puts(out, "from,to,kind,calls,p50_ns,p99_ns,max_ns\n");
	else {
		err |= cell(out, "from", wf + 2) | cell(out, "to", wt + 2) | cell(out, "kind", wk + 2);
		err |= hx__buf_puts(out, "     calls         p50         p99         max\n");
	}
	hx__buf lab = HX__BUF_INIT;
	for (size_t i = 0; i < g->ne && !err; i++) {
		const edge_ref *r = &edges[i];
		double p50, p99;
		if (latencies(&r->e->lat, &p50, &p99)) {
			err = 1;
			break;
		}
		if (csv) {
			err |= hx__agg_csv_field(out, r->from) | hx__buf_putc(out, ',');
			err |= hx__agg_csv_field(out, r->to) | hx__buf_putc(out, ',');
			err |= hx__buf_printf(out, "%s,%llu,%.0f,%.0f,%llu\n", r->kind, (unsigned long long)r->e->lat.count,
			                      p50, p99, (unsigned long long)r->e->lat.max);
			continue;
		}
		for (int side = 0; side < 2; side++) {
			const dnode *n = &g->n[side ? r->e->to : r->e->from];
			hx__buf_reset(&lab);
			err |= hx__buf_puts(&lab, n->name);
			if (g->by_entity)
				err |= hx__buf_printf(&lab, " (%s)", n->id);
			err |= cell(out, lab.p ? lab.p : "", (side ? wt : wf) + 2);
		}
		err |= cell(out, r->kind, wk + 2);
		err |= hx__buf_printf(out, "%10llu", (unsigned long long)r->e->lat.count);
		const double v[3] = {p50, p99, (double)r->e->lat.max};
		for (int k = 0; k < 3; k++) {
			hx__buf_reset(&lab);
			err |= hx__agg_format_time(&lab, v[k]);
			err |= hx__buf_printf(out, "  %10s", lab.p ? lab.p : "");
		}
		err |= hx__buf_putc(out, '\n');
	}
	hx__buf_free(&lab);
	free(edges);
	return err ? HX_ENOMEM : HX_OK;
}
