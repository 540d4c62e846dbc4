/*
 * reader_align.c - clock domains and their alignment (reader.h, "clock alignment across hosts").
 *
 * Hosts are found at open: processes with the same "host" resource share one clock domain. The
 * alignment pass (hx_reader_align_clocks) reads every stream once with cursors of its own and
 * keeps only what bounds the offsets:
 *   - the time and host of every event that can be named as a cause and is an interaction end
 *     (CAUSE, EFFECT, TRACE_BEGIN, TRACE_JOIN), in a hash table keyed by event ID;
 *   - every cause reference of an EFFECT or TRACE_JOIN (the cause's event ID, the effect's time
 *     and host);
 *   - the set of entity IDs seen (one lookup per run of events of one entity).
 * A reference whose cause is not in the table but whose entity exists names some other event
 * (a context taken with hx_context_current() after a point, say): only then is the input read a
 * second time, looking up just those event IDs. A cause whose entity never appears is in no file
 * (its process did not trace, or the file is missing): counted as unresolved, no bound.
 * Memory is therefore bounded by the interaction events and entities, not by all events.
 */
#include "format/align.h"
#include "format/reader_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- hosts ---- */

typedef struct host_key {
	const char *name;
	size_t proc;
} host_key;

static int host_key_cmp(const void *x, const void *y)
{
	const host_key *a = x, *b = y;
	int c = strcmp(a->name, b->name);
	return c ? c : (a->proc > b->proc) - (a->proc < b->proc);
}

int hx__reader_hosts_build(hx_reader *r)
{
	size_t n = r->nprocs;
	host_key *k = malloc((n ? n : 1) * sizeof(*k));
	r->hosts = calloc(n ? n : 1, sizeof(*r->hosts));
	if (!k || !r->hosts) {
		free(k);
		return HX_ENOMEM;
	}
	/* sorting, not comparing every pair: a directory may hold thousands of processes */
	for (size_t i = 0; i < n; i++)
		k[i] = (host_key){r->procs[i].info.host ? r->procs[i].info.host : "", i};
	if (n)
		qsort(k, n, sizeof(*k), host_key_cmp);
	r->nhosts = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(k[i].name, k[i - 1].name))
			r->hosts[r->nhosts++].host = k[i].name;
		hx__rproc *p = &r->procs[k[i].proc];
		p->host = r->nhosts - 1;
		p->offset_ns = 0;
		r->hosts[p->host].processes++;
	}
	free(k);
	r->clock.hosts = (uint32_t)(r->nhosts > UINT32_MAX ? UINT32_MAX : r->nhosts);
	return HX_OK;
}

size_t hx_reader_clock_offsets(const hx_reader *r, const hx_clock_offset **out)
{
	if (out)
		*out = r ? r->hosts : NULL;
	return r ? r->nhosts : 0;
}

size_t hx_reader_process_host(const hx_reader *r, size_t i)
{
	if (!r || i >= r->nprocs)
		return SIZE_MAX;
	return r->procs[i].host;
}

void hx_reader_clock_report(const hx_reader *r, hx_clock_report *out)
{
	if (!out)
		return;
	if (!r) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = r->clock;
}

/* ---- a hash table of event IDs (entity, seq) -> (time, host), open addressing ---- */

typedef struct slot {
	uint64_t entity, seq;
	uint64_t time;
	uint32_t host;
	uint8_t used, found;
} slot;

typedef struct table {
	slot *s;
	size_t n, cap; /* cap is 0 or a power of two */
} table;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static size_t slot_of(const table *t, uint64_t entity, uint64_t seq)
{
	size_t j = (size_t)mix(entity ^ mix(seq)) & (t->cap - 1);
	while (t->s[j].used && (t->s[j].entity != entity || t->s[j].seq != seq))
		j = (j + 1) & (t->cap - 1);
	return j;
}

static slot *table_find(const table *t, uint64_t entity, uint64_t seq)
{
	if (!t->cap)
		return NULL;
	slot *s = &t->s[slot_of(t, entity, seq)];
	return s->used ? s : NULL;
}

/* The slot for the key, added if new (*added = 1); NULL on no memory. */
static slot *table_put(table *t, uint64_t entity, uint64_t seq, int *added)
{
	if ((t->n + 1) * 4 > t->cap * 3) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		slot *s = calloc(cap, sizeof(*s));
		if (!s)
			return NULL;
		table old = *t;
		t->s = s;
		t->cap = cap;
		for (size_t i = 0; i < old.cap; i++)
			if (old.s[i].used)
				t->s[slot_of(t, old.s[i].entity, old.s[i].seq)] = old.s[i];
		free(old.s);
	}
	slot *s = &t->s[slot_of(t, entity, seq)];
	*added = !s->used;
	if (!s->used) {
		s->used = 1;
		s->entity = entity;
		s->seq = seq;
		t->n++;
	}
	return s;
}

/* ---- the pass ---- */

typedef struct ref {
	uint64_t entity, seq;  /* the cause */
	uint64_t effect_ns;
	uint32_t effect_host;
} ref;

typedef struct collect {
	table events;    /* interaction events by ID */
	table entities;  /* entity IDs seen (seq 0) */
	table wanted;    /* second pass: the causes still to find */
	ref *refs;
	size_t nrefs, cap_refs;
} collect;

static int is_interaction(int kind)
{
	return kind == HX_EV_CAUSE || kind == HX_EV_EFFECT || kind == HX_EV_TRACE_BEGIN ||
	       kind == HX_EV_TRACE_JOIN;
}

static int add_ref(collect *c, const hx_context *cause, uint64_t t, uint32_t host)
{
	if (c->nrefs == c->cap_refs) {
		size_t cap = c->cap_refs ? c->cap_refs * 2 : 256;
		ref *v = realloc(c->refs, cap * sizeof(*v));
		if (!v)
			return HX_ENOMEM;
		c->refs = v;
		c->cap_refs = cap;
	}
	c->refs[c->nrefs++] = (ref){cause->entity_id, cause->seq, t, host};
	return HX_OK;
}

/* First pass over one event. */
static int take(collect *c, const hx_event *ev, uint64_t t, uint32_t host, uint64_t *last_ent,
                int *have_last)
{
	int added;
	if (!*have_last || ev->entity_id != *last_ent) {
		if (!table_put(&c->entities, ev->entity_id, 0, &added))
			return HX_ENOMEM;
		*last_ent = ev->entity_id;
		*have_last = 1;
	}
	if (!is_interaction(ev->kind))
		return HX_OK;
	slot *s = table_put(&c->events, ev->entity_id, ev->seq, &added);
	if (!s)
		return HX_ENOMEM;
	if (added) { /* a duplicate ID (a hostile file) keeps its first time */
		s->time = t;
		s->host = host;
	}
	if (ev->kind == HX_EV_EFFECT || ev->kind == HX_EV_TRACE_JOIN)
		for (size_t i = 0; i < ev->ncauses; i++) {
			const hx_context *k = &ev->causes[i];
			if ((k->flags & HX_CTX_FOREIGN) || !(k->flags & HX_CTX_VALID))
				continue; /* another tracer's event: in no file of ours */
			if (add_ref(c, k, t, host))
				return HX_ENOMEM;
		}
	return HX_OK;
}

/* Second pass over one event: is it a cause still wanted? */
static void find(collect *c, const hx_event *ev, uint64_t t, uint32_t host)
{
	slot *s = table_find(&c->wanted, ev->entity_id, ev->seq);
	if (s && !s->found) {
		s->found = 1;
		s->time = t;
		s->host = host;
	}
}

/* Read every event stream once with private cursors; `second` selects take() or find(). */
static int read_all(hx_reader *r, collect *c, int second)
{
	hx_event ev;
	for (size_t si = 0; si < r->nstreams; si++) {
		const hx__rstream *st = &r->streams[si];
		if (st->id == HX_STREAM_INDEX)
			continue;
		const hx__rproc *p = &r->procs[st->proc];
		uint32_t host = (uint32_t)p->host;
		hx__cursor cur;
		hx__cursor_init(&cur, si, st->first);
		if (hx__decoder_init(&cur.dec))
			return HX_ENOMEM;
		cur.dec_ready = 1;
		uint64_t last_ent = 0;
		int have_last = 0, rc;
		while ((rc = hx__cursor_record(r, &cur, &ev, NULL)) > 0) {
			if (rc != HX__REC_EVENT)
				continue;
			uint64_t t = hx__clock_ns(&p->clock, ev.time_ns, &cur.seg);
			if (second) {
				find(c, &ev, t, host);
				continue;
			}
			r->hosts[host].events++;
			if ((rc = take(c, &ev, t, host, &last_ent, &have_last)) != HX_OK)
				break;
		}
		hx__cursor_free(&cur);
		if (rc < 0)
			return rc;
	}
	return HX_OK;
}

static void collect_free(collect *c)
{
	free(c->events.s);
	free(c->entities.s);
	free(c->wanted.s);
	free(c->refs);
}

/* Turn the references into pairs (in place: a pair is no larger than a ref). */
static int solve(hx_reader *r, collect *c)
{
	hx__align_pair *pairs = malloc((c->nrefs ? c->nrefs : 1) * sizeof(*pairs));
	if (!pairs)
		return HX_ENOMEM;
	size_t np = 0;
	for (size_t i = 0; i < c->nrefs; i++) {
		const ref *f = &c->refs[i];
		const slot *s = table_find(&c->events, f->entity, f->seq);
		if (!s) {
			s = table_find(&c->wanted, f->entity, f->seq);
			if (s && !s->found)
				s = NULL;
		}
		if (!s) {
			r->clock.unresolved++;
			continue;
		}
		if (s->host != f->effect_host)
			pairs[np++] = (hx__align_pair){s->host, f->effect_host, s->time, f->effect_ns};
	}
	hx__align_result res;
	int rc = hx__align_solve(r->hosts, r->nhosts, pairs, np, &res);
	free(pairs);
	if (rc)
		return rc;
	r->clock.pairs = res.pairs;
	r->clock.violations_before = res.violations_before;
	r->clock.violations_after = res.violations_after;
	r->clock.refused = res.refused;
	for (size_t i = 0; i < r->nprocs; i++)
		r->procs[i].offset_ns = r->hosts[r->procs[i].host].offset_ns;
	return HX_OK;
}

int hx_reader_align_clocks(hx_reader *r)
{
	if (!r)
		return HX_EINVAL;
	if (r->started || r->clock.aligned)
		return HX_ESTATE;
	r->clock.aligned = 1;
	if (r->nhosts < 2)
		return HX_OK; /* one clock: nothing to align, nothing to read */
	r->clock.read_input = 1;
	collect c;
	memset(&c, 0, sizeof(c));
	int rc = read_all(r, &c, 0);
	size_t want = 0;
	for (size_t i = 0; rc == HX_OK && i < c.nrefs; i++) {
		const ref *f = &c.refs[i];
		int added;
		if (table_find(&c.events, f->entity, f->seq) || !table_find(&c.entities, f->entity, 0))
			continue;
		if (!table_put(&c.wanted, f->entity, f->seq, &added))
			rc = HX_ENOMEM;
		want += added;
	}
	if (rc == HX_OK && want)
		rc = read_all(r, &c, 1);
	if (rc == HX_OK)
		rc = solve(r, &c);
	collect_free(&c);
	if (rc != HX_OK) {
		/* no partial alignment: every host keeps its recorded time */
		for (size_t i = 0; i < r->nprocs; i++)
			r->procs[i].offset_ns = 0;
		for (size_t h = 0; h < r->nhosts; h++)
			r->hosts[h].offset_ns = 0;
	}
	return rc;
}
