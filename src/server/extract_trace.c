/*
 * extract_trace.c - one stored trace into its row of features.db (extract.h): fetch its events,
 * build its DAG, walk its critical path, compute its features (with the attributes asked for by
 * --analysis-attrs, read from the fetched events since the DAG keeps none), find its dependency
 * edges, and put the lot into the database.
 *
 * Dependency edges are found here rather than with hx__deps because the database keeps every
 * call's latency (binned) per minute, and hx__deps hands out only summaries. The rules are
 * deps.c's, so that GET /api/dependencies and `hx analyze --dependencies` agree: every linked
 * cause is a call from the cause's node to the effect's unless both are the same node; a node is
 * a service (its name, "(unknown)" when empty) or an entity (its 16 hex digits, named by its
 * entity name when known); the kind is the effect's interaction ("trace_join" for a TRACE_JOIN's
 * cause, "causal" when none is recorded); the latency is effect time - cause time, 0 when the
 * clocks put the effect first.
 */
#include "server/extract.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/critpath.h"
#include "model/dag.h"

#define EDGES_MAX 1024            /* distinct edges kept per trace; more are left out */

typedef struct xproc {
	uint8_t instance[16];
	uint64_t pid;
} xproc;

/* One value of an asked-for attribute on one event. */
typedef struct xattr {
	uint64_t entity, seq;
	uint32_t key;                 /* index in attr_keys */
	uint32_t off;                 /* of its NUL-terminated value in vals */
} xattr;

typedef struct xedge {
	int by_entity;
	uint32_t from, to;            /* interned names (service) or entity indices (entity) */
	uint8_t kind;                 /* hx_interaction */
	uint64_t *lat;
	size_t n, cap;
} xedge;

struct hx__xscratch {
	xproc *procs;
	size_t nprocs, procs_cap;
	xattr *attrs;
	size_t nattrs, attrs_cap;
	hx__buf vals;
	xedge *edges;
	size_t nedges, edges_cap;
	hx__buf names;                /* node ids, names and services, NUL-separated */
};

hx__xscratch *hx__xscratch_new(void)
{
	return calloc(1, sizeof(hx__xscratch));
}

void hx__xscratch_free(hx__xscratch *s)
{
	if (!s)
		return;
	free(s->procs);
	free(s->attrs);
	hx__buf_free(&s->vals);
	for (size_t i = 0; i < s->edges_cap; i++)
		free(s->edges[i].lat);
	free(s->edges);
	hx__buf_free(&s->names);
	free(s);
}

static int grow(void *pp, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *p = realloc(*(void **)pp, c * size);
	if (!p)
		return -1;
	*(void **)pp = p;
	*cap = c;
	return 0;
}

/* ---- fetching ---- */

typedef struct fctx {
	const hx__xconf *c;
	hx__xscratch *s;
	hx__dag_builder *b;
	uint64_t events;
	int too_big, err;
	uint64_t root_entity;         /* entity of the first TRACE_BEGIN */
	int root_ended;               /* a TRACE_END of that entity after it */
} fctx;

static long proc_of(fctx *f, const hx_store_proc *p)
{
	hx__xscratch *s = f->s;
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == p->pid && !memcmp(s->procs[i].instance, p->instance, 16))
			return (long)i;
	if (s->nprocs >= UINT32_MAX - 1 || grow(&s->procs, &s->procs_cap, s->nprocs + 1, sizeof(xproc)))
		return -1;
	/* the DAG's "program" of an entity is its service when known, as hx__dag_read makes it */
	const char *prog = p->service && *p->service ? p->service : p->program;
	if (hx__dag_builder_process(f->b, (uint32_t)s->nprocs, p->host, prog, p->pid) != HX_OK)
		return -1;
	memcpy(s->procs[s->nprocs].instance, p->instance, 16);
	s->procs[s->nprocs].pid = p->pid;
	return (long)s->nprocs++;
}

/* An attribute's value as text, as `hx analyze` keeps it (cmd_analyze.c), so both extract the
 * same features: ints in decimal, doubles in the shortest of %.15g and %.17g that reads back,
 * true/false, strings up to a NUL, bytes as hex (the first 64). */
static int attr_text(hx__buf *b, const hx_attr *a)
{
	switch (a->type) {
	case HX_ATTR_INT:
		return hx__buf_printf(b, "%" PRId64, a->v.i);
	case HX_ATTR_DOUBLE: {
		char t[40];
		snprintf(t, sizeof t, "%.15g", a->v.d);
		if (strtod(t, NULL) != a->v.d)
			snprintf(t, sizeof t, "%.17g", a->v.d);
		return hx__buf_puts(b, t);
	}
	case HX_ATTR_BOOL:
		return hx__buf_puts(b, a->v.b ? "true" : "false");
	case HX_ATTR_STRING:
		return hx__buf_append(b, a->v.s.ptr, a->v.s.len ? strnlen(a->v.s.ptr, a->v.s.len) : 0);
	default: {
		int err = 0;
		const uint8_t *p = a->v.s.ptr;
		for (size_t i = 0; i < a->v.s.len && i < 64; i++)
			err |= hx__buf_printf(b, "%02x", p[i]);
		return err;
	}
	}
}

/* Keep the values of the asked-for keys that ev carries. */
static int keep_attrs(fctx *f, const hx_event *ev)
{
	const char *const *keys = f->c->attr_keys;
	hx__xscratch *s = f->s;
	for (size_t a = 0; a < ev->nattrs; a++) {
		const hx_attr *at = &ev->attrs[a];
		if (!at->key)
			continue;
		uint32_t k;
		for (k = 0; keys[k] && strcmp(keys[k], at->key); k++)
			;
		if (!keys[k])
			continue;
		if (s->vals.len > UINT32_MAX - 8192 ||
		    grow(&s->attrs, &s->attrs_cap, s->nattrs + 1, sizeof(xattr)))
			return HX_ENOMEM;
		uint32_t off = (uint32_t)s->vals.len;
		if (attr_text(&s->vals, at) || hx__buf_putc(&s->vals, '\0'))
			return HX_ENOMEM;
		s->attrs[s->nattrs++] = (xattr){ev->entity_id, ev->seq, k, off};
	}
	return HX_OK;
}

static int on_event(const hx_event *ev, const hx_store_proc *proc, void *user)
{
	fctx *f = user;
	if (++f->events > f->c->max_events) {
		f->too_big = 1;
		return 1;
	}
	long p = proc_of(f, proc);
	int rc = p < 0 ? HX_ENOMEM : hx__dag_builder_add(f->b, ev, (uint32_t)p);
	if (rc == HX_EINVAL)
		rc = HX_OK; /* past the DAG's limit: counted in its report */
	if (rc == HX_OK && ev->nattrs && f->c->attr_keys[0])
		rc = keep_attrs(f, ev);
	if (rc != HX_OK) {
		f->err = rc;
		return 1;
	}
	/* time order: the first TRACE_BEGIN is the root; its entity's TRACE_END after it ends it */
	if (ev->kind == HX_EV_TRACE_BEGIN && !f->root_entity)
		f->root_entity = ev->entity_id;
	else if (ev->kind == HX_EV_TRACE_END && f->root_entity && ev->entity_id == f->root_entity)
		f->root_ended = 1;
	return 0;
}

/* ---- attributes for hx__features_extract ---- */

static int cmp_attr(const void *a, const void *b)
{
	const xattr *x = a, *y = b;
	if (x->entity != y->entity)
		return x->entity < y->entity ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off; /* the first value recorded first */
}

typedef struct actx {
	const hx__xconf *c;
	hx__xscratch *s;
	const hx__dag *d;
} actx;

static const char *attr_of(uint32_t e, const char *key, void *user)
{
	actx *a = user;
	const hx__dag *d = a->d;
	if (e >= d->n)
		return NULL;
	uint32_t k;
	for (k = 0; a->c->attr_keys[k] && strcmp(a->c->attr_keys[k], key); k++)
		;
	if (!a->c->attr_keys[k])
		return NULL;
	xattr want = {d->entities[d->ev_entity[e]].id, d->ev_seq[e], k, 0};
	size_t lo = 0, hi = a->s->nattrs;
	while (lo < hi) { /* the first row not below want */
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_attr(&a->s->attrs[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == a->s->nattrs)
		return NULL;
	const xattr *x = &a->s->attrs[lo];
	if (x->entity != want.entity || x->seq != want.seq || x->key != k)
		return NULL;
	return a->s->vals.p + x->off;
}

/* ---- dependency edges ---- */

#define KIND_TRACE_JOIN 0         /* as deps.c: other kinds are hx_interaction values */

static int add_call(hx__xscratch *s, int by_entity, uint32_t from, uint32_t to, uint8_t kind,
                    uint64_t lat)
{
	xedge *e = NULL;
	for (size_t i = 0; i < s->nedges && !e; i++)
		if (s->edges[i].by_entity == by_entity && s->edges[i].from == from &&
		    s->edges[i].to == to && s->edges[i].kind == kind)
			e = &s->edges[i];
	if (!e) {
		if (s->nedges == EDGES_MAX)
			return HX_OK;
		size_t old = s->edges_cap;
		if (grow(&s->edges, &s->edges_cap, s->nedges + 1, sizeof(xedge)))
			return HX_ENOMEM;
		memset(s->edges + old, 0, (s->edges_cap - old) * sizeof(xedge)); /* lat buffers: NULL */
		e = &s->edges[s->nedges++];
		e->by_entity = by_entity;
		e->from = from;
		e->to = to;
		e->kind = kind;
		e->n = 0;
	}
	if (grow(&e->lat, &e->cap, e->n + 1, sizeof(uint64_t)))
		return HX_ENOMEM;
	e->lat[e->n++] = lat;
	return HX_OK;
}

/* Edges between services are keyed by the interned service name, between entities by the
 * entity's index: both compare as deps.c's node ids do. */
static int find_edges(hx__xscratch *s, const hx__dag *d, uint32_t t)
{
	s->nedges = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (d->ev_trace[i] != t)
			continue;
		for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1]; k++) {
			uint32_t c = d->cause_ev[k];
			if (c == HX__DAG_NONE)
				continue;
			uint32_t ef = d->ev_entity[i], cf = d->ev_entity[c];
			uint64_t lat = d->ev_time[i] > d->ev_time[c] ? d->ev_time[i] - d->ev_time[c] : 0;
			uint8_t kind = d->ev_kind[i] == HX_EV_TRACE_JOIN ? KIND_TRACE_JOIN
			               : d->ev_ia[i]                     ? d->ev_ia[i]
			                                                 : HX_IA_CAUSAL;
			uint32_t sf = d->entities[cf].program, se = d->entities[ef].program;
			int rc = HX_OK;
			if (sf != se)
				rc = add_call(s, 0, sf, se, kind, lat);
			if (rc == HX_OK && cf != ef)
				rc = add_call(s, 1, cf, ef, kind, lat);
			if (rc != HX_OK)
				return rc;
		}
	}
	return HX_OK;
}

static const char *kind_name(uint8_t k)
{
	const char *s = k == KIND_TRACE_JOIN ? "trace_join" : hx_interaction_name(k);
	return s ? s : "unknown";
}

/* Node ids, names and services of both ends of edge e into s->names (NUL-separated), at
 * off[0..6): from id, name, service, to id, name, service (service SIZE_MAX for a service node). */
static int node_strings(hx__xscratch *s, const hx__dag *d, const xedge *e, size_t off[6])
{
	int err = 0;
	for (int side = 0; side < 2; side++) {
		uint32_t v = side ? e->to : e->from;
		size_t *o = off + 3 * side;
		if (!e->by_entity) {
			const char *svc = hx__dag_str(d, v);
			o[0] = o[1] = s->names.len;
			o[2] = SIZE_MAX;
			err |= hx__buf_puts(&s->names, *svc ? svc : "(unknown)") | hx__buf_putc(&s->names, '\0');
			continue;
		}
		const hx__dag_entity *en = &d->entities[v];
		const char *name = hx__dag_str(d, en->name);
		o[0] = o[1] = s->names.len;
		err |= hx__buf_printf(&s->names, "%016" PRIx64, en->id) | hx__buf_putc(&s->names, '\0');
		if (*name) {
			o[1] = s->names.len;
			err |= hx__buf_puts(&s->names, name) | hx__buf_putc(&s->names, '\0');
		}
		o[2] = s->names.len;
		err |= hx__buf_puts(&s->names, hx__dag_str(d, en->program)) | hx__buf_putc(&s->names, '\0');
	}
	return err;
}

/* The edges in the database's form (names resolved), and the row. */
static int store_row(const hx__xconf *c, hx__xscratch *s, const hx__dag *d, const hx__features *f,
                     uint64_t events, int root_ended)
{
	hx__fdb_edge *fe = s->nedges ? calloc(s->nedges, sizeof(*fe)) : NULL;
	size_t *off = s->nedges ? calloc(6 * s->nedges, sizeof(size_t)) : NULL;
	int err = s->nedges && (!fe || !off);
	hx__buf_reset(&s->names);
	for (size_t i = 0; i < s->nedges && !err; i++)
		err |= node_strings(s, d, &s->edges[i], off + 6 * i);
	int rc = err ? HX_ENOMEM : HX_OK;
	if (rc == HX_OK) {
		/* the names buffer is complete: pointers into it stay valid */
		for (size_t i = 0; i < s->nedges; i++) {
			const xedge *e = &s->edges[i];
			const size_t *o = off + 6 * i;
			fe[i].by_entity = e->by_entity;
			fe[i].from = s->names.p + o[0];
			fe[i].from_name = s->names.p + o[1];
			fe[i].from_service = o[2] == SIZE_MAX ? NULL : s->names.p + o[2];
			fe[i].to = s->names.p + o[3];
			fe[i].to_name = s->names.p + o[4];
			fe[i].to_service = o[5] == SIZE_MAX ? NULL : s->names.p + o[5];
			fe[i].kind = kind_name(e->kind);
			fe[i].lat = e->lat;
			fe[i].n = e->n;
		}
		hx__fdb_trace row = {f, events, root_ended, fe, s->nedges};
		rc = hx__fdb_put(c->db, &row);
	}
	free(off);
	free(fe);
	return rc;
}

/* ---- one trace ---- */

hx__xresult hx__extract_trace(const hx__xconf *c, hx__xscratch *s, const uint8_t trace_id[16],
                              int root_ended, uint64_t *events, int *rc)
{
	*events = 0;
	*rc = HX_OK;
	s->nprocs = s->nattrs = s->nedges = 0;
	hx__buf_reset(&s->vals);
	hx__dag_filter filter;
	memcpy(filter.id, trace_id, 16);
	filter.nibbles = 32;
	fctx f = {.c = c, .s = s};
	int r = hx__dag_builder_new(&f.b, &filter, 0);
	if (r != HX_OK) {
		*rc = r;
		return HX__X_FAILED;
	}
	hx__store_read_lock(c->srv);
	r = hx_store_fetch(c->srv->store, trace_id, NULL, on_event, &f);
	hx__store_read_unlock(c->srv);
	*events = f.events;
	if (f.too_big || f.err || r == HX_ENOENT || (r != HX_OK && r != HX_EDAMAGED && r != 1)) {
		hx__dag_builder_free(f.b);
		if (f.too_big)
			return HX__X_TOO_LARGE;
		if (r == HX_ENOENT) {
			*rc = hx__fdb_remove(c->db, trace_id);
			return *rc == HX_OK ? HX__X_GONE : HX__X_DB_FAILED;
		}
		*rc = f.err ? f.err : r;
		return HX__X_FAILED;
	}
	/* a damaged block (HX_EDAMAGED) lost some events: the features describe what is left */
	hx__dag *d = NULL;
	if ((r = hx__dag_builder_finish(f.b, &d)) != HX_OK) {
		*rc = r;
		return HX__X_FAILED;
	}
	uint32_t t = hx__dag_trace_find(d, trace_id);
	if (t == HX__DAG_NONE) { /* nothing of it was readable */
		hx__dag_free(d);
		*rc = hx__fdb_remove(c->db, trace_id);
		return *rc == HX_OK ? HX__X_GONE : HX__X_DB_FAILED;
	}
	if (s->nattrs)
		qsort(s->attrs, s->nattrs, sizeof(xattr), cmp_attr);
	hx__critpath cp;
	hx__features feat;
	memset(&feat, 0, sizeof(feat));
	actx a = {c, s, d};
	r = hx__critpath_compute(d, t, &cp);
	if (r == HX_OK) {
		r = hx__features_extract(d, t, &cp, c->attr_keys[0] ? c->attr_keys : NULL,
		                         c->attr_keys[0] ? attr_of : NULL, &a, &feat);
		hx__critpath_free(&cp);
	}
	if (r == HX_OK)
		r = find_edges(s, d, t);
	int db_failed = 0;
	if (r == HX_OK) {
		r = store_row(c, s, d, &feat, f.events, root_ended || f.root_ended);
		db_failed = r != HX_OK && r != HX_ENOMEM;
	}
	hx__features_free(&feat);
	hx__dag_free(d);
	*rc = r;
	return r == HX_OK ? HX__X_STORED : db_failed ? HX__X_DB_FAILED : HX__X_FAILED;
}
