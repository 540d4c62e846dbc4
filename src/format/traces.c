/*
 * traces.c - the per-trace summary (traces.h).
 */
#include "format/traces.h"

#include <stdlib.h>
#include <string.h>

typedef struct run {
	uint64_t lo, hi;
} run;

/* An entity and the sequence numbers seen: the current run inline (most entities have one),
 * earlier runs in `runs`, sorted and merged at finish. */
struct hx__tr_ent {
	uint64_t id;
	uint64_t lo, hi;
	run *runs;
	uint32_t nruns, cap_runs;
	int used;
};

/* A member of one of the per-trace sets: key (trace index * 4 + what, value). */
struct hx__tr_pair {
	uint64_t a, b;
	int used;
};
enum { SET_ENTITY = 1, SET_PROCESS = 2, SET_HOST = 3 };

/* A cause to resolve at finish. */
struct hx__tr_ref {
	uint64_t entity, seq;
	size_t trace; /* the effect's, SIZE_MAX outside any trace */
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static int zero16(const uint8_t *p)
{
	return (le64(p) | le64(p + 8)) == 0;
}

void hx__traces_init(hx__traces *t, const hx_reader *reader)
{
	memset(t, 0, sizeof(*t));
	t->reader = reader;
	t->last_trace_idx = SIZE_MAX;
}

void hx__traces_free(hx__traces *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].root);
	for (size_t i = 0; i < t->cap_ents; i++)
		free(t->ents[i].runs);
	free(t->v);
	free(t->slots);
	free(t->ents);
	free(t->pairs);
	free(t->refs);
	hx__traces_init(t, NULL);
}

/* ---- entities ---- */

static size_t ent_slot(const struct hx__tr_ent *e, size_t cap, uint64_t id)
{
	size_t j = (size_t)mix(id) & (cap - 1);
	while (e[j].used && e[j].id != id)
		j = (j + 1) & (cap - 1);
	return j;
}

/* The slot of entity id, added with the run [seq, seq] if new (*added = 1); SIZE_MAX on no
 * memory. */
static size_t ent_put(hx__traces *t, uint64_t id, uint64_t seq, int *added)
{
	if ((t->nents + 1) * 4 > t->cap_ents * 3) {
		size_t cap = t->cap_ents ? t->cap_ents * 2 : 64;
		struct hx__tr_ent *e = calloc(cap, sizeof(*e));
		if (!e)
			return SIZE_MAX;
		for (size_t i = 0; i < t->cap_ents; i++)
			if (t->ents[i].used)
				e[ent_slot(e, cap, t->ents[i].id)] = t->ents[i];
		free(t->ents);
		t->ents = e;
		t->cap_ents = cap;
	}
	size_t j = ent_slot(t->ents, t->cap_ents, id);
	struct hx__tr_ent *e = &t->ents[j];
	*added = !e->used;
	if (!e->used) {
		e->used = 1;
		e->id = id;
		e->lo = e->hi = seq;
		t->nents++;
	}
	return j;
}

static int ent_seq(struct hx__tr_ent *e, uint64_t seq)
{
	if (seq >= e->lo && seq <= e->hi)
		return HX_OK; /* seen (the entity's first, or a duplicate) */
	if (e->hi != UINT64_MAX && seq == e->hi + 1) {
		e->hi = seq;
		return HX_OK;
	}
	if (e->nruns == e->cap_runs) {
		uint32_t cap = e->cap_runs ? e->cap_runs * 2 : 4;
		if (cap <= e->cap_runs)
			return HX_ENOMEM;
		run *r = realloc(e->runs, cap * sizeof(*r));
		if (!r)
			return HX_ENOMEM;
		e->runs = r;
		e->cap_runs = cap;
	}
	e->runs[e->nruns++] = (run){e->lo, e->hi};
	e->lo = e->hi = seq;
	return HX_OK;
}

static int run_cmp(const void *x, const void *y)
{
	const run *a = x, *b = y;
	return (a->lo > b->lo) - (a->lo < b->lo);
}

/* Fold the current run into the sorted, merged list. HX_OK or HX_ENOMEM. */
static int ent_finish(struct hx__tr_ent *e)
{
	if (e->nruns == 0)
		return HX_OK;
	if (e->nruns == e->cap_runs) {
		run *r = realloc(e->runs, ((size_t)e->cap_runs + 1) * sizeof(*r));
		if (!r)
			return HX_ENOMEM;
		e->runs = r;
		e->cap_runs++;
	}
	e->runs[e->nruns++] = (run){e->lo, e->hi};
	qsort(e->runs, e->nruns, sizeof(*e->runs), run_cmp);
	uint32_t n = 1;
	for (uint32_t i = 1; i < e->nruns; i++) {
		run *last = &e->runs[n - 1];
		if (last->hi == UINT64_MAX || e->runs[i].lo <= last->hi + 1) {
			if (e->runs[i].hi > last->hi)
				last->hi = e->runs[i].hi;
		} else {
			e->runs[n++] = e->runs[i];
		}
	}
	e->nruns = n;
	return HX_OK;
}

static int ent_has(const hx__traces *t, uint64_t id, uint64_t seq)
{
	if (!t->cap_ents)
		return 0;
	const struct hx__tr_ent *e = &t->ents[ent_slot(t->ents, t->cap_ents, id)];
	if (!e->used)
		return 0;
	if (e->nruns == 0)
		return seq >= e->lo && seq <= e->hi;
	size_t lo = 0, hi = e->nruns;
	while (lo < hi) { /* the first run ending at or after seq */
		size_t mid = lo + (hi - lo) / 2;
		if (e->runs[mid].hi < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < e->nruns && e->runs[lo].lo <= seq;
}

/* ---- per-trace sets ---- */

static size_t pair_slot(const struct hx__tr_pair *p, size_t cap, uint64_t a, uint64_t b)
{
	size_t j = (size_t)mix(a ^ mix(b)) & (cap - 1);
	while (p[j].used && (p[j].a != a || p[j].b != b))
		j = (j + 1) & (cap - 1);
	return j;
}

/* 1 if (trace, what, value) was new, 0 if known, HX_ENOMEM. */
static int pair_add(hx__traces *t, size_t trace, int what, uint64_t value)
{
	if ((t->npairs + 1) * 4 > t->cap_pairs * 3) {
		size_t cap = t->cap_pairs ? t->cap_pairs * 2 : 256;
		struct hx__tr_pair *p = calloc(cap, sizeof(*p));
		if (!p)
			return HX_ENOMEM;
		for (size_t i = 0; i < t->cap_pairs; i++)
			if (t->pairs[i].used)
				p[pair_slot(p, cap, t->pairs[i].a, t->pairs[i].b)] = t->pairs[i];
		free(t->pairs);
		t->pairs = p;
		t->cap_pairs = cap;
	}
	uint64_t a = (uint64_t)trace * 4 + (uint64_t)what;
	struct hx__tr_pair *p = &t->pairs[pair_slot(t->pairs, t->cap_pairs, a, value)];
	if (p->used)
		return 0;
	p->used = 1;
	p->a = a;
	p->b = value;
	t->npairs++;
	return 1;
}

/* ---- traces ---- */

static size_t trace_slot(const hx__traces *t, const uint8_t *id)
{
	size_t j = (size_t)mix(le64(id) ^ mix(le64(id + 8))) & (t->cap_slots - 1);
	while (t->slots[j] && memcmp(t->v[t->slots[j] - 1].id, id, 16))
		j = (j + 1) & (t->cap_slots - 1);
	return j;
}

/* Index of the trace, added if new; SIZE_MAX on no memory. */
static size_t trace_put(hx__traces *t, const uint8_t *id, uint64_t time)
{
	if ((t->n + 1) * 4 > t->cap_slots * 3) {
		size_t cap = t->cap_slots ? t->cap_slots * 2 : 256;
		uint32_t *s = calloc(cap, sizeof(*s));
		if (!s)
			return SIZE_MAX;
		free(t->slots);
		t->slots = s;
		t->cap_slots = cap;
		for (size_t i = 0; i < t->n; i++)
			t->slots[trace_slot(t, t->v[i].id)] = (uint32_t)(i + 1);
	}
	size_t j = trace_slot(t, id);
	if (t->slots[j])
		return t->slots[j] - 1;
	if (t->n >= UINT32_MAX - 1)
		return SIZE_MAX;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		hx__trace_stat *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return SIZE_MAX;
		t->v = v;
		t->cap = cap;
	}
	hx__trace_stat *s = &t->v[t->n];
	memset(s, 0, sizeof(*s));
	memcpy(s->id, id, 16);
	s->first_ns = s->last_ns = s->begin_ns = time;
	t->slots[j] = (uint32_t)(++t->n);
	t->totals.traces++;
	return t->n - 1;
}

static int add_ref(hx__traces *t, const hx_context *c, size_t trace)
{
	if (t->nrefs == t->cap_refs) {
		size_t cap = t->cap_refs ? t->cap_refs * 2 : 256;
		struct hx__tr_ref *r = realloc(t->refs, cap * sizeof(*r));
		if (!r)
			return HX_ENOMEM;
		t->refs = r;
		t->cap_refs = cap;
	}
	t->refs[t->nrefs++] = (struct hx__tr_ref){c->entity_id, c->seq, trace};
	return HX_OK;
}

/* A new (trace, entity) pair: count the entity, and its process and host if new to the trace. */
static int join_entity(hx__traces *t, size_t idx, uint64_t entity, size_t proc)
{
	hx__trace_stat *s = &t->v[idx];
	int rc = pair_add(t, idx, SET_ENTITY, entity);
	if (rc <= 0)
		return rc;
	s->entities++;
	if ((rc = pair_add(t, idx, SET_PROCESS, proc)) <= 0)
		return rc;
	s->processes++;
	size_t host = hx_reader_process_host(t->reader, proc);
	if ((rc = pair_add(t, idx, SET_HOST, host)) <= 0)
		return rc;
	s->hosts++;
	return HX_OK;
}

static int causes(hx__traces *t, const hx_event *ev, size_t idx)
{
	hx__trace_stat *s = idx == SIZE_MAX ? NULL : &t->v[idx];
	for (size_t i = 0; i < ev->ncauses; i++) {
		const hx_context *c = &ev->causes[i];
		t->totals.causes++;
		if (c->flags & HX_CTX_FOREIGN) {
			t->totals.external++;
			if (s)
				s->external++;
			continue;
		}
		if (memcmp(c->trace_id, ev->trace_id, 16)) {
			t->totals.cross_trace++;
			if (s)
				s->cross_trace++;
		}
		if (add_ref(t, c, idx))
			return HX_ENOMEM;
	}
	return HX_OK;
}

/* What an event adds to its trace (idx != SIZE_MAX) and the causes to resolve. */
static int count(hx__traces *t, const hx_event *ev, size_t idx)
{
	int effect = ev->kind == HX_EV_EFFECT || ev->kind == HX_EV_TRACE_JOIN;
	if (idx != SIZE_MAX) {
		hx__trace_stat *s = &t->v[idx];
		s->events++;
		if (ev->time_ns < s->first_ns)
			s->first_ns = ev->time_ns;
		if (ev->time_ns > s->last_ns)
			s->last_ns = ev->time_ns;
		if (ev->kind == HX_EV_ERROR)
			s->errors++;
		if (ev->kind == HX_EV_TRACE_BEGIN && (!s->has_begin || ev->time_ns < s->begin_ns)) {
			/* the earliest TRACE_BEGIN names the trace (a hostile input may hold several) */
			char *name = malloc(ev->name_len + 1);
			if (!name)
				return HX_ENOMEM;
			memcpy(name, ev->name, ev->name_len);
			name[ev->name_len] = '\0';
			free(s->root);
			s->root = name;
			s->root_len = ev->name_len;
			s->begin_ns = ev->time_ns;
			s->has_begin = 1;
		}
		s->effects += (uint64_t)effect;
	}
	if (effect && causes(t, ev, idx))
		return HX_ENOMEM;
	return HX_OK;
}

/* Everything but the common case: another entity or trace than the previous event's, or a
 * sequence number that does not extend the entity's run. Not inlined, so the common case in
 * hx__traces_event() stays a leaf that saves no registers. */
__attribute__((noinline)) static int event_slow(hx__traces *t, const hx_event *ev, size_t proc)
{
	int ent_changed = !t->have_last || ev->entity_id != t->last_ent;
	if (ent_changed) {
		int added;
		size_t j = ent_put(t, ev->entity_id, ev->seq, &added);
		if (j == SIZE_MAX)
			return HX_ENOMEM;
		t->last_ent = ev->entity_id;
		t->last_ent_slot = j;
		t->have_last = 1;
	}
	if (ent_seq(&t->ents[t->last_ent_slot], ev->seq))
		return HX_ENOMEM;

	size_t idx = SIZE_MAX;
	if (zero16(ev->trace_id)) {
		t->totals.events_outside++;
	} else if (!ent_changed && t->last_trace_idx != SIZE_MAX &&
	           !memcmp(ev->trace_id, t->last_trace, 16)) {
		idx = t->last_trace_idx;
	} else {
		idx = trace_put(t, ev->trace_id, ev->time_ns);
		if (idx == SIZE_MAX)
			return HX_ENOMEM;
		if (join_entity(t, idx, ev->entity_id, proc) < 0)
			return HX_ENOMEM;
	}
	t->last_trace_idx = idx;
	memcpy(t->last_trace, ev->trace_id, 16);
	return count(t, ev, idx);
}

int hx__traces_event(hx__traces *t, const hx_event *ev, size_t proc)
{
	/* The common case, kept to a few compares because `hx stats` calls this for every event:
	 * the same entity as the previous event, its next sequence number, the same trace (or
	 * none, as before). last_trace holds the previous event's trace ID, zero for none. */
	if (t->have_last && ev->entity_id == t->last_ent &&
	    le64(ev->trace_id) == le64(t->last_trace) &&
	    le64(ev->trace_id + 8) == le64(t->last_trace + 8)) {
		struct hx__tr_ent *e = &t->ents[t->last_ent_slot];
		if (ev->seq == e->hi + 1 && e->hi != UINT64_MAX) {
			e->hi = ev->seq;
			size_t idx = t->last_trace_idx;
			if (idx == SIZE_MAX && ev->kind != HX_EV_EFFECT && ev->kind != HX_EV_TRACE_JOIN) {
				t->totals.events_outside++;
				return HX_OK;
			}
			if (idx == SIZE_MAX)
				t->totals.events_outside++;
			return count(t, ev, idx);
		}
	}
	return event_slow(t, ev, proc);
}

int hx__traces_finish(hx__traces *t)
{
	if (t->finished)
		return HX_OK;
	for (size_t i = 0; i < t->cap_ents; i++)
		if (t->ents[i].used && ent_finish(&t->ents[i]))
			return HX_ENOMEM;
	for (size_t i = 0; i < t->nrefs; i++) {
		const struct hx__tr_ref *f = &t->refs[i];
		int linked = ent_has(t, f->entity, f->seq);
		if (linked)
			t->totals.linked++;
		else
			t->totals.dangling++;
		if (f->trace != SIZE_MAX) {
			if (linked)
				t->v[f->trace].linked++;
			else
				t->v[f->trace].dangling++;
		}
	}
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].has_begin)
			t->v[i].begin_ns = t->v[i].first_ns; /* the root's process did not trace */
	t->finished = 1;
	return HX_OK;
}

static int start_cmp(const void *x, const void *y)
{
	const hx__trace_stat *a = *(const hx__trace_stat *const *)x, *b = *(const hx__trace_stat *const *)y;
	if (a->begin_ns != b->begin_ns)
		return a->begin_ns < b->begin_ns ? -1 : 1;
	return memcmp(a->id, b->id, 16);
}

const hx__trace_stat **hx__traces_sorted(const hx__traces *t, size_t *n, int *oom)
{
	*n = 0;
	*oom = 0;
	if (t->n == 0)
		return NULL;
	const hx__trace_stat **v = malloc(t->n * sizeof(*v));
	if (!v) {
		*oom = 1;
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++)
		v[i] = &t->v[i];
	qsort(v, t->n, sizeof(*v), start_cmp);
	*n = t->n;
	return v;
}
