/*
 * spans.c - blocks as spans for the span formats (OTLP, Zipkin).
 *
 * A span format has one tree per trace: every span has at most one parent, in the same trace.
 * The DAG has more (interactions, many causes per effect); this is how it is folded:
 *
 *   SPANS.   Every block whose begin lies in a trace is a span of that trace. Its ID is a hash of
 *            the begin event's ID (entity ID, seq): stable across exports, whatever else the
 *            input holds.
 *   PARENT.  The enclosing block, if it is in the same trace. Otherwise (a top-level block, or one
 *            whose enclosing block is in another trace) the span of the cause of the interaction
 *            that started the entity's current work in the trace: the latest EFFECT or
 *            TRACE_JOIN before the block, on its entity, in its trace, with a cause in the trace.
 *            None: the span is a root.
 *   SPAN OF A CAUSE. The block enclosing the cause event, if in the cause's trace; else, for a
 *            cause outside any block (a reply sent after the work), the outermost of the blocks
 *            its entity ended last before it, if in the same trace; else, recursively, the
 *            span of the cause that started its entity's work (at most HX__XS_HOPS steps).
 *   LINKS.   Every other linked cause of an effect is a link of the span enclosing the effect;
 *            an effect outside any block is carried by the next span its entity starts in the
 *            same trace (a server's "request received", then its handler block).
 *   CYCLES.  Inconsistent IDs can make parents loop; the loop is broken at an interaction-made
 *            parent (counted), never at a nesting one.
 *
 * Cost: linear in events and causes, plus a sort of the carried effects; 4 bytes per event for
 * the started-by index and 10 per block.
 */
#include <stdlib.h>
#include <string.h>

#include "export/spans.h"

#define HX__XS_HOPS 64 /* steps through causes outside any block before giving up */

uint64_t hx__xspan_id(const hx__dag *d, uint32_t b)
{
	uint32_t i = d->blocks[b].begin;
	uint64_t x = d->entities[d->ev_entity[i]].id ^ (d->ev_seq[i] * 0x9e3779b97f4a7c15ull);
	/* splitmix64's finalizer: every input bit moves every output bit */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x ? x : 1; /* an all-zero span ID is invalid in both formats */
}

static uint32_t block_trace(const hx__dag *d, uint32_t b)
{
	return d->ev_trace[d->blocks[b].begin];
}

/* the last block whose begin is before event i, or HX__DAG_NONE */
static uint32_t block_before(const hx__dag *d, uint32_t i)
{
	size_t lo = 0, hi = d->nblocks;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (d->blocks[m].begin < i)
			lo = m + 1;
		else
			hi = m;
	}
	return lo ? (uint32_t)(lo - 1) : HX__DAG_NONE;
}

uint32_t hx__xspans_of_cause(const hx__xspans *s, uint32_t c)
{
	const hx__dag *d = s->d;
	uint32_t t = d->ev_trace[c];
	if (t == HX__DAG_NONE)
		return HX__DAG_NONE;
	for (int hop = 0; hop < HX__XS_HOPS; hop++) {
		uint32_t b = d->ev_block[c];
		if (b != HX__DAG_NONE && block_trace(d, b) == t)
			return b;
		if (b == HX__DAG_NONE) {
			/* the work just done: the outermost of the blocks ended last before c */
			uint32_t p = block_before(d, c);
			if (p != HX__DAG_NONE && d->blocks[p].entity == d->ev_entity[c] && block_trace(d, p) == t) {
				while (d->blocks[p].parent != HX__DAG_NONE && block_trace(d, d->blocks[p].parent) == t)
					p = d->blocks[p].parent;
				return p;
			}
		}
		uint32_t j = s->se[c];
		if (j == HX__DAG_NONE)
			return HX__DAG_NONE;
		uint32_t next = hx__x_same_trace_cause(d, j);
		if (next == HX__DAG_NONE || next == c)
			return HX__DAG_NONE;
		c = next;
	}
	return HX__DAG_NONE;
}

uint32_t hx__xspans_next(const hx__xspans *s, uint32_t b, uint32_t i)
{
	const hx__dag *d = s->d;
	const hx__dag_block *bl = &d->blocks[b];
	/* a repaired block ends at its entity's last event, which is one of its own events */
	uint64_t limit = (uint64_t)bl->end + ((bl->flags & HX__BLK_REPAIRED) ? 1 : 0);
	uint64_t j = (uint64_t)i + 1;
	while (j < limit) {
		uint32_t in = d->ev_block[j];
		if (in == b)
			return (uint32_t)j;
		if (d->ev_kind[j] == HX_EV_BLOCK_BEGIN && in != HX__DAG_NONE && d->blocks[in].begin == j &&
		    d->blocks[in].end > j) {
			j = (uint64_t)d->blocks[in].end + 1; /* a child block: step over it */
			continue;
		}
		j++;
	}
	return HX__DAG_NONE;
}

int hx__xspans_start_kind(const hx__xspans *s, uint32_t b)
{
	uint32_t j = s->start[b];
	if (j == HX__DAG_NONE)
		return 0;
	switch (s->d->ev_ia[j]) {
	case HX_IA_REQUEST:
		return HX__SK_SERVER;
	case HX_IA_MESSAGE:
	case HX_IA_PUBLISH:
		return HX__SK_CONSUMER;
	default:
		return 0;
	}
}

int hx__xspans_event_kind(const hx__dag *d, uint32_t i)
{
	int ia = d->ev_ia[i];
	if (d->ev_kind[i] == HX_EV_CAUSE) {
		if (ia == HX_IA_REQUEST)
			return HX__SK_CLIENT;
		if (ia == HX_IA_MESSAGE || ia == HX_IA_PUBLISH)
			return HX__SK_PRODUCER;
	} else if (d->ev_kind[i] == HX_EV_EFFECT) {
		if (ia == HX_IA_REQUEST)
			return HX__SK_SERVER;
		if (ia == HX_IA_MESSAGE || ia == HX_IA_PUBLISH)
			return HX__SK_CONSUMER;
	}
	return 0;
}

uint64_t hx__xspans_spanless(const hx__xspans *s)
{
	const hx__dag *d = s->d;
	uint64_t n = 0;
	for (size_t i = 0; i < d->n; i++) {
		int k = d->ev_kind[i];
		uint32_t b = d->ev_block[i];
		if (k == HX_EV_STATE) {
			uint32_t w = hx__dag_wait_after(d, (uint32_t)i);
			if (w == HX__DAG_NONE || d->waits[w].start != i)
				continue;
		} else if (k != HX_EV_POINT && k != HX_EV_ERROR && k != HX_EV_COUNTER) {
			continue;
		}
		if (b == HX__DAG_NONE || !(s->flags[b] & HX__XS_SPAN))
			n++;
	}
	return n;
}

void hx__xspans_free(hx__xspans *s)
{
	free(s->parent);
	free(s->start);
	free(s->flags);
	free(s->held);
	free(s->trace_root);
	free(s->se);
	memset(s, 0, sizeof(*s));
}

static uint32_t linked_causes(const hx__dag *d, uint32_t i)
{
	uint32_t n = 0;
	for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1]; k++)
		n += (d->cause_cls[k] & HX__CC_MASK) == HX__CC_LINKED && d->cause_ev[k] != HX__DAG_NONE;
	return n;
}

/* held[from .. nheld) found no span: count their causes as lost, and forget them */
static void drop_pending(hx__xspans *s, size_t from)
{
	for (size_t h = from; h < s->nheld; h++)
		s->unheld += linked_causes(s->d, s->held[h].b);
	s->nheld = from;
}

/* what started each entity's work: se[i] */
static void started_by(hx__xspans *s)
{
	const hx__dag *d = s->d;
	uint32_t cur = HX__DAG_NONE;
	for (size_t i = 0; i < d->n; i++) {
		if (!i || d->ev_entity[i] != d->ev_entity[i - 1] || d->ev_trace[i] != d->ev_trace[i - 1])
			cur = HX__DAG_NONE; /* a new entity, or the entity changed traces */
		int k = d->ev_kind[i];
		if ((k == HX_EV_EFFECT || k == HX_EV_TRACE_JOIN) && d->ev_trace[i] != HX__DAG_NONE &&
		    hx__x_same_trace_cause(d, (uint32_t)i) != HX__DAG_NONE)
			cur = (uint32_t)i;
		s->se[i] = cur;
	}
}

static void parents(hx__xspans *s)
{
	const hx__dag *d = s->d;
	for (size_t b = 0; b < d->nblocks; b++) {
		const hx__dag_block *bl = &d->blocks[b];
		uint32_t t = block_trace(d, (uint32_t)b);
		s->parent[b] = s->start[b] = HX__DAG_NONE;
		if (t == HX__DAG_NONE) {
			s->outside_trace++;
			continue;
		}
		s->flags[b] = HX__XS_SPAN;
		if (bl->parent != HX__DAG_NONE && block_trace(d, bl->parent) == t) {
			s->parent[b] = bl->parent;
			continue;
		}
		uint32_t j = s->se[bl->begin];
		if (j == HX__DAG_NONE)
			continue;
		uint32_t p = hx__xspans_of_cause(s, hx__x_same_trace_cause(d, j));
		if (p == HX__DAG_NONE || p == b)
			continue;
		s->parent[b] = p;
		s->start[b] = j;
		s->flags[b] |= HX__XS_CROSS;
	}
}

/* Break every loop of parents at an interaction-made link. */
static int break_cycles(hx__xspans *s)
{
	size_t nb = s->d->nblocks;
	uint8_t *state = calloc(nb ? nb : 1, 1); /* 0 new, 1 on the current path, 2 done */
	uint32_t *path = malloc((nb ? nb : 1) * sizeof(*path));
	if (!state || !path) {
		free(state);
		free(path);
		return HX_ENOMEM;
	}
	for (size_t b = 0; b < nb; b++) {
		if (state[b])
			continue;
		size_t n = 0;
		uint32_t x = (uint32_t)b;
		while (x != HX__DAG_NONE && !state[x]) {
			state[x] = 1;
			path[n++] = x;
			x = s->parent[x];
		}
		if (x != HX__DAG_NONE && state[x] == 1) {
			/* the loop is path[at .. n), path[at] == x: cut its first interaction-made parent */
			size_t at = n - 1;
			while (at > 0 && path[at] != x)
				at--;
			for (size_t k = at; k < n; k++) {
				if (s->flags[path[k]] & HX__XS_CROSS) {
					s->parent[path[k]] = HX__DAG_NONE;
					s->start[path[k]] = HX__DAG_NONE;
					s->flags[path[k]] &= (uint8_t)~HX__XS_CROSS;
					s->cycles_broken++;
					break;
				}
			}
		}
		for (size_t k = 0; k < n; k++)
			state[path[k]] = 2;
	}
	free(state);
	free(path);
	return HX_OK;
}

/* A span not nested in a span of its trace: it starts a stretch of its entity's work. */
static int starts_work(const hx__xspans *s, uint32_t b)
{
	uint32_t p = s->d->blocks[b].parent;
	return (s->flags[b] & HX__XS_SPAN) &&
	       (p == HX__DAG_NONE || block_trace(s->d, p) != block_trace(s->d, b));
}

/* Effects outside any block: carried by the next span their entity starts in the same trace. */
static int carriers(hx__xspans *s)
{
	const hx__dag *d = s->d;
	size_t cap = 0, pending = 0; /* held[pending .. nheld) wait for a span */
	for (size_t i = 0; i < d->n; i++) {
		if (!i || d->ev_entity[i] != d->ev_entity[i - 1] || d->ev_trace[i] != d->ev_trace[i - 1])
			drop_pending(s, pending);
		int k = d->ev_kind[i];
		if ((k == HX_EV_EFFECT || k == HX_EV_TRACE_JOIN) && d->ev_block[i] == HX__DAG_NONE &&
		    d->ev_trace[i] != HX__DAG_NONE && linked_causes(d, (uint32_t)i)) {
			if (s->nheld == cap && hx__dag_grow(&s->held, &cap, s->nheld + 1, sizeof(*s->held)))
				return HX_ENOMEM;
			s->held[s->nheld].a = HX__DAG_NONE;
			s->held[s->nheld].b = (uint32_t)i;
			s->nheld++;
		}
		if (k == HX_EV_BLOCK_BEGIN && s->nheld > pending) {
			uint32_t b = d->ev_block[i];
			if (b != HX__DAG_NONE && d->blocks[b].begin == i && starts_work(s, b)) {
				for (size_t h = pending; h < s->nheld; h++)
					s->held[h].a = b;
				pending = s->nheld;
			}
		}
	}
	drop_pending(s, pending);
	hx__xpair_sort(s->held, s->nheld);
	return HX_OK;
}

static void trace_roots(hx__xspans *s)
{
	const hx__dag *d = s->d;
	for (size_t t = 0; t < d->ntraces; t++)
		s->trace_root[t] = HX__DAG_NONE;
	for (size_t b = 0; b < d->nblocks; b++) {
		if (!(s->flags[b] & HX__XS_SPAN) || s->parent[b] != HX__DAG_NONE)
			continue;
		uint32_t t = block_trace(d, (uint32_t)b), r = s->trace_root[t];
		if (r == HX__DAG_NONE || d->ev_time[d->blocks[b].begin] < d->ev_time[d->blocks[r].begin])
			s->trace_root[t] = (uint32_t)b; /* the earliest root; ties: the first in order */
	}
}

int hx__xspans_build(hx__xspans *s, const hx__export_input *in)
{
	const hx__dag *d = in->dag;
	memset(s, 0, sizeof(*s));
	s->in = in;
	s->d = d;
	s->parent = malloc((d->nblocks ? d->nblocks : 1) * sizeof(*s->parent));
	s->start = malloc((d->nblocks ? d->nblocks : 1) * sizeof(*s->start));
	s->flags = calloc(d->nblocks ? d->nblocks : 1, 1);
	s->trace_root = malloc((d->ntraces ? d->ntraces : 1) * sizeof(*s->trace_root));
	s->se = malloc((d->n ? d->n : 1) * sizeof(*s->se));
	if (!s->parent || !s->start || !s->flags || !s->trace_root || !s->se) {
		hx__xspans_free(s);
		return HX_ENOMEM;
	}
	started_by(s);
	parents(s);
	if (break_cycles(s) || carriers(s)) {
		hx__xspans_free(s);
		return HX_ENOMEM;
	}
	trace_roots(s);
	return HX_OK;
}
