/*
 * builder.c - events in, graph out: staging in arrival order, then one counting sort by entity.
 *
 * Events arrive stream by stream (a reader) or in any order (a service, a test). They are staged
 * as they come, in struct-of-arrays form, with names interned and entity and trace IDs mapped to
 * small indices at once, so the staging area is ~33 bytes per event. _finish() sorts by entity
 * with a counting sort (linear), checks that each entity's sequence numbers already ascend (they
 * do when an entity's events come from one stream) and sorts only an entity that arrived out of
 * order, gathers every array into the graph in that order, and hands over to hx__dag_link().
 */
#include <stdlib.h>
#include <string.h>

#include "model/dag_int.h"

/* What the builder tracks per entity besides the graph's own record. */
typedef struct ent_aux {
	uint64_t last_seq;        /* seq of its last event kept */
	uint32_t count;           /* its events kept */
	uint8_t proc_set;         /* its process's host and program were recorded */
} ent_aux;

typedef struct proc_info {
	uint32_t host, program;
	uint64_t pid;
	int set;
} proc_info;

struct hx__dag_builder {
	hx__dag *d;               /* strings, entities and traces are built in place */
	hx__strtab st;
	hx__dag_filter filter;
	/* staged events, in arrival order */
	size_t n, cap;
	uint64_t *time, *seq;
	uint32_t *ent, *name, *trace;
	uint8_t *kind, *ia, *flags, *ncause;
	/* staged causes, in arrival order (event k's follow event k-1's) */
	size_t nc, ccap;
	uint64_t *c_ent, *c_seq;
	uint8_t *c_cls;
	/* entity and trace lookup */
	size_t ent_cap;           /* entries allocated in d->entities */
	size_t trace_cap;
	uint32_t *trace_slots;    /* trace index + 1, 0 empty */
	size_t trace_cap_slots;
	struct ent_aux *aux;      /* per entity, parallel to d->entities */
	int disordered;           /* some entity's events arrived out of seq order (or twice) */
	uint64_t last_ent_id;
	uint32_t last_ent;        /* HX__DAG_NONE until the first event */
	uint8_t last_trace_id[16];
	uint32_t last_trace;      /* cached trace index for last_trace_id, HX__DAG_NONE for none */
	int have_last_trace;
	proc_info *procs;
	size_t nprocs;
};

/* ---- lookups ---- */

/* The entity's index, created when new; HX__DAG_NONE when memory is short. */
static uint32_t entity_get(hx__dag_builder *b, uint64_t id)
{
	if (b->last_ent != HX__DAG_NONE && b->last_ent_id == id)
		return b->last_ent;
	hx__dag *d = b->d;
	size_t j = hx__dag_hash64(id) & (d->ent_cap - 1);
	for (; d->ent_slots[j]; j = (j + 1) & (d->ent_cap - 1)) {
		uint32_t e = d->ent_slots[j] - 1;
		if (d->entities[e].id == id) {
			b->last_ent = e;
			b->last_ent_id = id;
			return e;
		}
	}
	size_t cap = b->ent_cap;
	if (d->nentities >= HX__DAG_MAX_EVENTS ||
	    hx__dag_grow(&d->entities, &b->ent_cap, d->nentities + 1, sizeof(*d->entities)) ||
	    hx__dag_grow(&b->aux, &cap, d->nentities + 1, sizeof(*b->aux)))
		return HX__DAG_NONE;
	uint32_t e = (uint32_t)d->nentities++;
	memset(&d->entities[e], 0, sizeof(d->entities[e]));
	d->entities[e].id = id;
	memset(&b->aux[e], 0, sizeof(b->aux[e]));
	d->ent_slots[j] = e + 1;
	if (d->nentities * 2 > d->ent_cap && hx__dag_ent_rehash(d, d->ent_cap * 2))
		return HX__DAG_NONE;
	b->last_ent = e;
	b->last_ent_id = id;
	return e;
}

static uint64_t trace_hash(const uint8_t id[16])
{
	uint64_t a, c;
	memcpy(&a, id, 8);
	memcpy(&c, id + 8, 8);
	return hx__dag_hash64(a ^ hx__dag_hash64(c));
}

static int trace_rehash(hx__dag_builder *b, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return HX_ENOMEM;
	for (size_t i = 0; i < b->d->ntraces; i++) {
		size_t j = trace_hash(b->d->traces[i].id) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(b->trace_slots);
	b->trace_slots = slots;
	b->trace_cap_slots = cap;
	return HX_OK;
}

static const uint8_t zero_id[16];

/* The trace's index (HX__DAG_NONE for the all-zero ID); *oom set when memory is short. */
static uint32_t trace_get(hx__dag_builder *b, const uint8_t id[16], int *oom)
{
	if (b->have_last_trace && !memcmp(b->last_trace_id, id, 16))
		return b->last_trace;
	uint32_t t = HX__DAG_NONE;
	if (memcmp(id, zero_id, 16)) {
		hx__dag *d = b->d;
		size_t j = trace_hash(id) & (b->trace_cap_slots - 1);
		for (; b->trace_slots[j]; j = (j + 1) & (b->trace_cap_slots - 1))
			if (!memcmp(d->traces[b->trace_slots[j] - 1].id, id, 16))
				break;
		if (b->trace_slots[j]) {
			t = b->trace_slots[j] - 1;
		} else {
			if (hx__dag_grow(&d->traces, &b->trace_cap, d->ntraces + 1, sizeof(*d->traces))) {
				*oom = 1;
				return HX__DAG_NONE;
			}
			t = (uint32_t)d->ntraces++;
			memset(&d->traces[t], 0, sizeof(d->traces[t]));
			memcpy(d->traces[t].id, id, 16);
			b->trace_slots[j] = t + 1;
			if (d->ntraces * 2 > b->trace_cap_slots && trace_rehash(b, b->trace_cap_slots * 2)) {
				*oom = 1;
				return HX__DAG_NONE;
			}
		}
	}
	memcpy(b->last_trace_id, id, 16);
	b->last_trace = t;
	b->have_last_trace = 1;
	return t;
}

static int filter_match(const hx__dag_filter *f, const uint8_t *id)
{
	for (size_t nib = 32 - f->nibbles; nib < 32; nib++) {
		unsigned a = nib % 2 ? id[nib / 2] & 15u : (unsigned)id[nib / 2] >> 4;
		unsigned c = nib % 2 ? f->id[nib / 2] & 15u : (unsigned)f->id[nib / 2] >> 4;
		if (a != c)
			return 0;
	}
	return 1;
}

/* ---- the builder ---- */

static int stage_grow(hx__dag_builder *b, size_t need)
{
	if (need <= b->cap)
		return HX_OK;
	size_t c = b->cap ? b->cap * 2 : 4096;
	while (c < need)
		c *= 2;
	/* grow every array to the same capacity; a failure leaves the old ones valid */
#define GROW(f)                                                                                  \
	do {                                                                                     \
		void *q = realloc(b->f, c * sizeof(*b->f));                                       \
		if (!q)                                                                           \
			return HX_ENOMEM;                                                         \
		b->f = q;                                                                         \
		hx__dag_hugepages(q, c * sizeof(*b->f));                                          \
	} while (0)
	GROW(time);
	GROW(seq);
	GROW(ent);
	GROW(name);
	GROW(trace);
	GROW(kind);
	GROW(ia);
	GROW(flags);
	GROW(ncause);
#undef GROW
	b->cap = c;
	return HX_OK;
}

static int cause_grow(hx__dag_builder *b, size_t need)
{
	if (need <= b->ccap)
		return HX_OK;
	size_t c = b->ccap ? b->ccap * 2 : 1024;
	while (c < need)
		c *= 2;
	void *q;
	if (!(q = realloc(b->c_ent, c * sizeof(*b->c_ent))))
		return HX_ENOMEM;
	b->c_ent = q;
	if (!(q = realloc(b->c_seq, c * sizeof(*b->c_seq))))
		return HX_ENOMEM;
	b->c_seq = q;
	if (!(q = realloc(b->c_cls, c * sizeof(*b->c_cls))))
		return HX_ENOMEM;
	b->c_cls = q;
	hx__dag_hugepages(b->c_ent, c * sizeof(*b->c_ent));
	hx__dag_hugepages(b->c_seq, c * sizeof(*b->c_seq));
	hx__dag_hugepages(b->c_cls, c * sizeof(*b->c_cls));
	b->ccap = c;
	return HX_OK;
}

int hx__dag_builder_new(hx__dag_builder **out, const hx__dag_filter *filter, size_t expect)
{
	*out = NULL;
	hx__dag_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return HX_ENOMEM;
	b->d = calloc(1, sizeof(*b->d));
	b->last_ent = HX__DAG_NONE;
	if (!b->d || hx__strtab_init(&b->st, b->d) || hx__dag_ent_rehash(b->d, 64) || trace_rehash(b, 16) ||
	    stage_grow(b, expect < HX__DAG_MAX_EVENTS ? expect : 0)) {
		hx__dag_builder_free(b);
		return HX_ENOMEM;
	}
	if (filter && filter->nibbles) {
		b->filter = *filter;
		if (b->filter.nibbles > 32)
			b->filter.nibbles = 32;
		b->d->filtered = 1;
	}
	*out = b;
	return HX_OK;
}

static void stage_free(hx__dag_builder *b)
{
	free(b->time);
	free(b->seq);
	free(b->ent);
	free(b->name);
	free(b->trace);
	free(b->kind);
	free(b->ia);
	free(b->flags);
	free(b->ncause);
	free(b->c_ent);
	free(b->c_seq);
	free(b->c_cls);
	b->time = b->seq = b->c_ent = b->c_seq = NULL;
	b->ent = b->name = b->trace = NULL;
	b->kind = b->ia = b->flags = b->ncause = b->c_cls = NULL;
}

void hx__dag_builder_free(hx__dag_builder *b)
{
	if (!b)
		return;
	stage_free(b);
	hx__strtab_free(&b->st);
	free(b->trace_slots);
	free(b->aux);
	free(b->procs);
	hx__dag_free(b->d);
	free(b);
}

int hx__dag_builder_process(hx__dag_builder *b, uint32_t proc, const char *host, const char *program,
                            uint64_t pid)
{
	if ((size_t)proc >= b->nprocs) {
		size_t cap = b->nprocs;
		if (hx__dag_grow(&b->procs, &cap, (size_t)proc + 1, sizeof(*b->procs)))
			return HX_ENOMEM;
		memset(b->procs + b->nprocs, 0, (cap - b->nprocs) * sizeof(*b->procs));
		b->nprocs = cap;
	}
	proc_info *p = &b->procs[proc];
	p->host = hx__strtab_intern(&b->st, host ? host : "", host ? strlen(host) : 0);
	p->program = hx__strtab_intern(&b->st, program ? program : "", program ? strlen(program) : 0);
	if (p->host == HX__DAG_NONE || p->program == HX__DAG_NONE)
		return HX_ENOMEM;
	p->pid = pid;
	p->set = 1;
	return HX_OK;
}

/* Entity metadata is taken from every event, kept or not: a thread's ENTITY_BEGIN usually
 * precedes the trace being built, yet its name is what the reader wants to see. */
static int entity_meta(hx__dag_builder *b, uint32_t e, const hx_event *ev, uint32_t proc)
{
	hx__dag_entity *en = &b->d->entities[e];
	if (!b->aux[e].proc_set && proc < b->nprocs && b->procs[proc].set) {
		en->host = b->procs[proc].host;
		en->program = b->procs[proc].program;
		en->pid = b->procs[proc].pid;
		b->aux[e].proc_set = 1;
	}
	if (ev->kind == HX_EV_ENTITY_BEGIN) {
		uint32_t nm = hx__strtab_intern(&b->st, ev->name ? ev->name : "", ev->name ? ev->name_len : 0);
		if (nm == HX__DAG_NONE)
			return HX_ENOMEM;
		/* a "name" annotation (hx_thread_name) is the later word: keep it */
		if (!en->name)
			en->name = nm;
		en->kind = (uint8_t)ev->entity_kind;
	} else if (ev->kind == HX_EV_ANNOTATE && ev->target == HX_TARGET_ENTITY) {
		for (size_t k = 0; k < ev->nattrs; k++) {
			const hx_attr *a = &ev->attrs[k];
			if (a->type == HX_ATTR_STRING && a->key && !strcmp(a->key, "name")) {
				uint32_t nm = hx__strtab_intern(&b->st, a->v.s.ptr ? a->v.s.ptr : "",
				                                a->v.s.ptr ? a->v.s.len : 0);
				if (nm == HX__DAG_NONE)
					return HX_ENOMEM;
				en->name = nm;
			}
		}
	}
	return HX_OK;
}

int hx__dag_builder_add(hx__dag_builder *b, const hx_event *ev, uint32_t proc)
{
	uint32_t e = entity_get(b, ev->entity_id);
	if (e == HX__DAG_NONE)
		return HX_ENOMEM;
	if ((ev->kind == HX_EV_ENTITY_BEGIN || ev->kind == HX_EV_ANNOTATE || !b->aux[e].proc_set) &&
	    entity_meta(b, e, ev, proc))
		return HX_ENOMEM;
	if (b->filter.nibbles && !filter_match(&b->filter, ev->trace_id)) {
		b->d->report.filtered_out++;
		return HX_OK;
	}
	if (b->n >= HX__DAG_MAX_EVENTS) {
		b->d->report.over_limit++;
		return HX_EINVAL;
	}
	int oom = 0;
	uint32_t t = trace_get(b, ev->trace_id, &oom);
	uint32_t nm = hx__strtab_intern(&b->st, ev->name ? ev->name : "", ev->name ? ev->name_len : 0);
	if (oom || nm == HX__DAG_NONE || stage_grow(b, b->n + 1))
		return HX_ENOMEM;
	size_t nc = 0;
	if ((ev->kind == HX_EV_EFFECT || ev->kind == HX_EV_TRACE_JOIN) && ev->causes)
		nc = ev->ncauses < 255 ? ev->ncauses : 255; /* the library records at most 64 */
	if (nc && cause_grow(b, b->nc + nc))
		return HX_ENOMEM;
	size_t i = b->n++;
	ent_aux *ax = &b->aux[e];
	if (ax->count && ev->seq <= ax->last_seq)
		b->disordered = 1;
	ax->last_seq = ev->seq;
	ax->count++;
	b->time[i] = ev->time_ns;
	b->seq[i] = ev->seq;
	b->ent[i] = e;
	b->name[i] = nm;
	b->trace[i] = t;
	b->kind[i] = (uint8_t)ev->kind;
	b->ia[i] = (ev->kind == HX_EV_CAUSE || ev->kind == HX_EV_EFFECT || ev->kind == HX_EV_TRACE_JOIN)
	               ? (uint8_t)ev->interaction
	               : 0;
	uint8_t fl = 0;
	if (ev->kind == HX_EV_EFFECT && ev->resumes)
		fl |= HX__EVF_RESUMES;
	if (ev->kind == HX_EV_STATE && ev->state == HX_STATE_RUNNING)
		fl |= HX__EVF_RUNNING;
	b->flags[i] = fl;
	b->ncause[i] = (uint8_t)nc;
	for (size_t k = 0; k < nc; k++) {
		const hx_context *c = &ev->causes[k];
		uint8_t cls = 0;
		if (c->flags & HX_CTX_FOREIGN)
			cls = HX__CC_EXTERNAL;
		else if (!(c->flags & HX_CTX_SAMPLED) && memcmp(c->trace_id, zero_id, 16))
			cls = HX__CC_UNSAMPLED; /* outside any trace there is nothing to sample */
		if (memcmp(c->trace_id, ev->trace_id, 16))
			cls |= HX__CC_OTHER_TRACE;
		b->c_ent[b->nc] = c->entity_id;
		b->c_seq[b->nc] = c->seq;
		b->c_cls[b->nc] = cls;
		b->nc++;
	}
	return HX_OK;
}

/* ---- finishing ---- */

typedef struct seq_idx {
	uint64_t seq;
	uint32_t idx;
} seq_idx;

static int seq_cmp(const void *a, const void *c)
{
	const seq_idx *x = a, *y = c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	/* equal IDs: keep arrival order, so the first copy is the one kept */
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sort one entity's slice of the permutation by seq (rare: only entities that arrived out of
 * order, such as a task that moved between threads and so between streams). */
static int sort_slice(const hx__dag_builder *b, uint32_t *perm, size_t len)
{
	seq_idx *tmp = malloc(len * sizeof(*tmp));
	if (!tmp)
		return HX_ENOMEM;
	for (size_t k = 0; k < len; k++) {
		tmp[k].seq = b->seq[perm[k]];
		tmp[k].idx = perm[k];
	}
	qsort(tmp, len, sizeof(*tmp), seq_cmp);
	for (size_t k = 0; k < len; k++)
		perm[k] = tmp[k].idx;
	free(tmp);
	return HX_OK;
}

/* Move src[i] to a new array at dest[i] (the ordered path) or take src[perm[k]] for slot k (the
 * general path), then free src. */
#define SCATTER(type, dst, src, dest, n)                                                         \
	do {                                                                                     \
		type *g_ = hx__dag_alloc((n) * sizeof(type));                                     \
		if (!g_)                                                                          \
			return HX_ENOMEM;                                                         \
		for (size_t i_ = 0; i_ < (n); i_++)                                               \
			g_[(dest)[i_]] = (src)[i_];                                               \
		free(src);                                                                        \
		(src) = NULL;                                                                     \
		(dst) = g_;                                                                       \
	} while (0)
#define GATHER(type, dst, src, perm, n)                                                          \
	do {                                                                                     \
		type *g_ = hx__dag_alloc((n) * sizeof(type));                                     \
		if (!g_)                                                                          \
			goto oom;                                                                 \
		for (size_t k_ = 0; k_ < (n); k_++)                                               \
			g_[k_] = (src)[(perm)[k_]];                                               \
		free(src);                                                                        \
		(src) = NULL;                                                                     \
		(dst) = g_;                                                                       \
	} while (0)

static int alloc_causes(hx__dag *d, size_t nc)
{
	d->ncauses = nc;
	d->cause_ent = hx__dag_alloc(nc * sizeof(*d->cause_ent));
	d->cause_seq = hx__dag_alloc(nc * sizeof(*d->cause_seq));
	d->cause_cls = hx__dag_alloc(nc);
	d->cause_ev = hx__dag_alloc(nc * sizeof(*d->cause_ev));
	return d->cause_ent && d->cause_seq && d->cause_cls && d->cause_ev ? HX_OK : HX_ENOMEM;
}

static int scatter_events(hx__dag_builder *b, const uint32_t *dest);

/* The usual case: every entity's events arrived in ascending seq order (one stream per entity,
 * as a reader delivers them), so a stable counting sort by entity is the whole sort. It runs as
 * a scatter: the staging arrays are read in order and each entity's slots are written in order,
 * a few hundred sequential streams at most, where a gather would read at random. */
static int finish_ordered(hx__dag_builder *b)
{
	hx__dag *d = b->d;
	size_t n = b->n, ne = d->nentities;
	uint32_t *dest = hx__dag_alloc(n * sizeof(*dest));
	uint32_t *cursor = malloc((ne ? ne : 1) * sizeof(*cursor));
	int rc = HX_ENOMEM;
	if (!dest || !cursor)
		goto out;
	uint32_t acc = 0;
	for (size_t e = 0; e < ne; e++) {
		cursor[e] = acc;
		acc += b->aux[e].count;
	}
	for (size_t i = 0; i < n; i++)
		dest[i] = cursor[b->ent[i]]++;

	/* causes: counts in final order, offsets, then each event's causes moved as a run */
	d->cause_off = hx__dag_alloc((n + 1) * sizeof(*d->cause_off));
	if (!d->cause_off)
		goto out;
	for (size_t i = 0; i < n; i++)
		d->cause_off[dest[i]] = b->ncause[i];
	uint32_t off = 0;
	for (size_t k = 0; k < n; k++) {
		uint32_t c = d->cause_off[k];
		d->cause_off[k] = off;
		off += c;
	}
	d->cause_off[n] = off;
	if (alloc_causes(d, b->nc))
		goto out;
	for (size_t i = 0, c = 0; i < n; c += b->ncause[i], i++) {
		uint32_t o = d->cause_off[dest[i]];
		for (uint32_t k = 0; k < b->ncause[i]; k++) {
			d->cause_ent[o + k] = b->c_ent[c + k];
			d->cause_seq[o + k] = b->c_seq[c + k];
			d->cause_cls[o + k] = b->c_cls[c + k];
		}
	}
	free(b->c_ent);
	free(b->c_seq);
	free(b->c_cls);
	b->c_ent = b->c_seq = NULL;
	b->c_cls = NULL;

	d->n = n;
	rc = scatter_events(b, dest);
out:
	free(dest);
	free(cursor);
	return rc;
}

static int scatter_events(hx__dag_builder *b, const uint32_t *dest)
{
	hx__dag *d = b->d;
	size_t n = b->n;
	SCATTER(uint64_t, d->ev_time, b->time, dest, n);
	SCATTER(uint64_t, d->ev_seq, b->seq, dest, n);
	SCATTER(uint32_t, d->ev_entity, b->ent, dest, n);
	SCATTER(uint32_t, d->ev_name, b->name, dest, n);
	SCATTER(uint32_t, d->ev_trace, b->trace, dest, n);
	SCATTER(uint8_t, d->ev_kind, b->kind, dest, n);
	SCATTER(uint8_t, d->ev_ia, b->ia, dest, n);
	SCATTER(uint8_t, d->ev_flags, b->flags, dest, n);
	return HX_OK;
}

/* The general case: some entity arrived out of order or with an event twice. A counting sort by
 * entity gives a permutation, each entity's slice is sorted by seq where needed and cleared of
 * duplicates (the first copy wins), and the arrays are gathered through it. */
static int finish_general(hx__dag_builder *b)
{
	hx__dag *d = b->d;
	size_t n = b->n, ne = d->nentities;
	uint32_t *perm = hx__dag_alloc(n * sizeof(*perm));
	uint32_t *start = calloc(ne + 1, sizeof(*start));
	uint32_t *cstart = NULL;
	if (!perm || !start)
		goto oom;

	for (size_t e = 0; e < ne; e++)
		start[e + 1] = start[e] + b->aux[e].count;
	for (size_t i = 0; i < n; i++)
		perm[start[b->ent[i]]++] = (uint32_t)i;
	/* start[e] is now the end of entity e, i.e. the start of e + 1: shift back */
	for (size_t e = ne; e > 0; e--)
		start[e] = start[e - 1];
	start[0] = 0;

	size_t kept = 0;
	for (size_t e = 0; e < ne; e++) {
		uint32_t s = start[e], end = start[e + 1];
		int sorted = 1;
		for (uint32_t k = s + 1; k < end && sorted; k++)
			sorted = b->seq[perm[k - 1]] <= b->seq[perm[k]];
		if (!sorted && sort_slice(b, perm + s, end - s))
			goto oom;
		for (uint32_t k = s; k < end; k++) {
			if (k > s && b->seq[perm[k]] == b->seq[perm[k - 1]]) {
				hx__dag_issue_add(d, HX__DAG_ISSUE_DUPLICATE, HX__DAG_NONE, (uint32_t)e);
				continue;
			}
			perm[kept++] = perm[k];
		}
	}

	/* each staged event's first cause, in arrival order */
	cstart = hx__dag_alloc(n * sizeof(*cstart));
	if (!cstart)
		goto oom;
	uint32_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		cstart[i] = acc;
		acc += b->ncause[i];
	}
	d->cause_off = hx__dag_alloc((kept + 1) * sizeof(*d->cause_off));
	if (!d->cause_off)
		goto oom;
	size_t nc = 0;
	for (size_t k = 0; k < kept; k++) {
		d->cause_off[k] = (uint32_t)nc;
		nc += b->ncause[perm[k]];
	}
	d->cause_off[kept] = (uint32_t)nc;
	if (alloc_causes(d, nc))
		goto oom;
	for (size_t k = 0; k < kept; k++) {
		uint32_t i = perm[k], o = d->cause_off[k];
		for (uint32_t c = 0; c < b->ncause[i]; c++) {
			d->cause_ent[o + c] = b->c_ent[cstart[i] + c];
			d->cause_seq[o + c] = b->c_seq[cstart[i] + c];
			d->cause_cls[o + c] = b->c_cls[cstart[i] + c];
		}
	}
	free(cstart);
	cstart = NULL;

	/* one array at a time, so the peak is the staging area plus one gathered array */
	d->n = kept;
	GATHER(uint64_t, d->ev_time, b->time, perm, kept);
	GATHER(uint64_t, d->ev_seq, b->seq, perm, kept);
	GATHER(uint32_t, d->ev_entity, b->ent, perm, kept);
	GATHER(uint32_t, d->ev_name, b->name, perm, kept);
	GATHER(uint32_t, d->ev_trace, b->trace, perm, kept);
	GATHER(uint8_t, d->ev_kind, b->kind, perm, kept);
	GATHER(uint8_t, d->ev_ia, b->ia, perm, kept);
	GATHER(uint8_t, d->ev_flags, b->flags, perm, kept);
	free(perm);
	free(start);
	return HX_OK;
oom:
	free(perm);
	free(start);
	free(cstart);
	return HX_ENOMEM;
}

int hx__dag_builder_finish(hx__dag_builder *b, hx__dag **out)
{
	*out = NULL;
	hx__dag *d = b->d;
	int rc = b->disordered ? finish_general(b) : finish_ordered(b);
	if (rc == HX_OK) {
		stage_free(b);
		rc = hx__dag_link(d);
	}
	if (rc == HX_OK) {
		b->d = NULL;
		*out = d;
	}
	hx__dag_builder_free(b);
	return rc;
}

int hx__dag_feed_reader(hx_reader *r, const hx__dag_feed *f)
{
	/* Processes are described as their first event appears (the reader knows them all after
	 * open, but asking as they come costs nothing and covers any reader). */
	uint8_t *seen = NULL;
	size_t nseen = 0;
	const hx_clock_offset *hosts = NULL;
	size_t nhosts = hx_reader_clock_offsets(r, &hosts);
	hx_event ev;
	int rc;
	while ((rc = hx_reader_next(r, &ev)) == HX_OK) {
		size_t p = hx_reader_event_process(r);
		if (p >= UINT32_MAX)
			p = UINT32_MAX - 1;
		if (p >= nseen) {
			size_t cap = nseen;
			if (hx__dag_grow(&seen, &cap, p + 1, 1)) {
				rc = HX_ENOMEM;
				break;
			}
			memset(seen + nseen, 0, cap - nseen);
			nseen = cap;
		}
		if (!seen[p]) {
			const hx_process_info *pi = hx_reader_process(r, p);
			size_t h = hx_reader_process_host(r, p);
			const char *host = h < nhosts ? hosts[h].host : (pi ? pi->host : "");
			const char *prog = pi ? (pi->service && *pi->service ? pi->service : pi->program) : "";
			if ((rc = f->process(f->user, (uint32_t)p, host, prog, pi ? pi->pid : 0)))
				break;
			seen[p] = 1;
		}
		if ((rc = f->event(f->user, &ev, (uint32_t)p)) == HX_EINVAL)
			rc = HX_OK; /* over HX__DAG_MAX_EVENTS: dropped, counted where refused */
		if (rc)
			break;
	}
	free(seen);
	return rc == HX_EOF ? HX_OK : rc;
}

static int feed_process(void *user, uint32_t proc, const char *host, const char *program,
                        uint64_t pid)
{
	return hx__dag_builder_process(user, proc, host, program, pid);
}

static int feed_event(void *user, const hx_event *ev, uint32_t proc)
{
	return hx__dag_builder_add(user, ev, proc);
}

int hx__dag_read(hx__dag **out, hx_reader *r, const hx__dag_filter *filter)
{
	*out = NULL;
	hx__dag_builder *b;
	int rc = hx__dag_builder_new(&b, filter, 0);
	if (rc)
		return rc;
	hx__dag_feed f = {feed_process, feed_event, b};
	if ((rc = hx__dag_feed_reader(r, &f)) != HX_OK) {
		hx__dag_builder_free(b);
		return rc;
	}
	return hx__dag_builder_finish(b, out);
}
