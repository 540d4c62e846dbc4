/*
 * link.c - from sorted events to a graph: entity ranges, causes resolved, cycles checked, blocks
 * and waits recovered, traces summed up. Each step is one sequential sweep over the events (the
 * cause lookups are one probe each), so the whole pass is linear in events + causes.
 */
#include <stdlib.h>
#include <string.h>

#include "model/dag_int.h"

int hx__dag_ent_rehash(hx__dag *d, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return HX_ENOMEM;
	for (size_t i = 0; i < d->nentities; i++) {
		size_t j = hx__dag_hash64(d->entities[i].id) & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(d->ent_slots);
	d->ent_slots = slots;
	d->ent_cap = cap;
	return HX_OK;
}

void hx__dag_issue_add(hx__dag *d, hx__dag_issue_kind kind, uint32_t event, uint32_t other)
{
	hx__dag_report *r = &d->report;
	r->count[kind]++;
	if (r->nissues < HX__DAG_ISSUES_KEPT) {
		hx__dag_issue *is = &r->issue[r->nissues++];
		is->kind = (uint8_t)kind;
		is->event = event;
		is->other = other;
	}
}

static void entity_ranges(hx__dag *d)
{
	for (size_t e = 0; e < d->nentities; e++) {
		d->entities[e].first = 0;
		d->entities[e].count = 0;
		d->entities[e].first_seq = 0;
		d->entities[e].dense = 1;
	}
	for (size_t i = 0; i < d->n; i++) {
		hx__dag_entity *en = &d->entities[d->ev_entity[i]];
		if (!en->count) {
			en->first = (uint32_t)i;
			en->first_seq = d->ev_seq[i];
		}
		en->count++;
	}
	for (size_t e = 0; e < d->nentities; e++) {
		hx__dag_entity *en = &d->entities[e];
		if (!en->count)
			continue;
		uint64_t last = d->ev_seq[en->first + en->count - 1];
		en->dense = last - en->first_seq == (uint64_t)en->count - 1;
		/* a filtered graph keeps part of an entity's events by design: no news in its gaps */
		if (!en->dense && !d->filtered)
			hx__dag_issue_add(d, HX__DAG_ISSUE_SEQ_GAP, en->first, HX__DAG_NONE);
	}
}

static void resolve_causes(hx__dag *d)
{
	hx__dag_report *r = &d->report;
	for (size_t i = 0; i < d->n; i++) {
		for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1]; k++) {
			uint8_t cls = d->cause_cls[k];
			uint8_t keep = cls & (HX__CC_OTHER_TRACE | HX__CC_UNSAMPLED);
			int foreign = (cls & HX__CC_MASK) == HX__CC_EXTERNAL;
			/* a foreign context's entity_id is another tracer's span ID: never look it up */
			uint32_t c = foreign ? HX__DAG_NONE : hx__dag_find(d, d->cause_ent[k], d->cause_seq[k]);
			uint8_t low;
			r->causes++;
			if (c != HX__DAG_NONE) {
				low = HX__CC_LINKED;
				r->linked++;
				if (d->ev_trace[c] != d->ev_trace[i])
					r->other_trace_linked++;
				if (d->ev_time[c] > d->ev_time[i])
					hx__dag_issue_add(d, HX__DAG_ISSUE_REVERSED, (uint32_t)i, c);
			} else if (foreign) {
				low = HX__CC_EXTERNAL;
				r->external++;
			} else if (cls & HX__CC_UNSAMPLED) {
				low = HX__CC_SAMPLED_OUT;
				r->sampled_out++;
			} else if ((cls & HX__CC_OTHER_TRACE) && d->filtered) {
				low = HX__CC_CROSS_TRACE;
				r->cross_trace++;
			} else {
				low = HX__CC_DANGLING;
				r->dangling++;
				hx__dag_issue_add(d, HX__DAG_ISSUE_DANGLING, (uint32_t)i, HX__DAG_NONE);
			}
			d->cause_ev[k] = c;
			d->cause_cls[k] = keep | low;
		}
	}
}

/* A cycle needs an edge that does not go forward in time (along a cycle time cannot strictly
 * increase), so a graph whose every edge does is acyclic without a search. Only otherwise (clock
 * skew, equal timestamps, inconsistent IDs) run the depth-first search, iteratively: its stack
 * can be as deep as the graph. */
typedef struct dfs_frame {
	uint32_t v, k;
} dfs_frame;

static int check_cycles(hx__dag *d)
{
	int strict = 1;
	for (size_t i = 0; i < d->n && strict; i++) {
		uint32_t p = hx__dag_prev(d, (uint32_t)i);
		if (p != HX__DAG_NONE && d->ev_time[p] >= d->ev_time[i])
			strict = 0;
		for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1] && strict; k++)
			if (d->cause_ev[k] != HX__DAG_NONE && d->ev_time[d->cause_ev[k]] >= d->ev_time[i])
				strict = 0;
	}
	if (strict)
		return HX_OK;

	uint8_t *color = calloc(d->n ? d->n : 1, 1); /* 0 new, 1 on the stack, 2 done */
	dfs_frame *st = NULL;
	size_t sp = 0, cap = 0;
	if (!color)
		return HX_ENOMEM;
	for (size_t root = 0; root < d->n; root++) {
		if (color[root])
			continue;
		if (hx__dag_grow(&st, &cap, 1, sizeof(*st)))
			goto oom;
		st[sp++] = (dfs_frame){(uint32_t)root, 0};
		color[root] = 1;
		while (sp) {
			uint32_t v = st[sp - 1].v, k = st[sp - 1].k;
			uint32_t npred = 1 + d->cause_off[v + 1] - d->cause_off[v];
			if (k >= npred) {
				color[v] = 2;
				sp--;
				continue;
			}
			st[sp - 1].k++;
			uint32_t u = k == 0 ? hx__dag_prev(d, v) : d->cause_ev[d->cause_off[v] + k - 1];
			if (u == HX__DAG_NONE || color[u] == 2)
				continue;
			if (color[u] == 1) {
				hx__dag_issue_add(d, HX__DAG_ISSUE_CYCLE, v, u);
				continue;
			}
			if (hx__dag_grow(&st, &cap, sp + 1, sizeof(*st)))
				goto oom;
			st[sp++] = (dfs_frame){u, 0};
			color[u] = 1;
		}
	}
	free(st);
	free(color);
	return HX_OK;
oom:
	free(st);
	free(color);
	return HX_ENOMEM;
}

/* Blocks per entity with a stack. An end without a begin is ignored (and reported); a begin
 * without an end is closed at the entity's last event (and reported), so every event has a
 * well-defined innermost block. */
static int recover_blocks(hx__dag *d)
{
	uint32_t *stack = NULL;
	size_t sp = 0, scap = 0, bcap = 0;
	/* one block per BLOCK_BEGIN: sized once, not grown by copying */
	for (size_t i = 0; i < d->n; i++)
		bcap += d->ev_kind[i] == HX_EV_BLOCK_BEGIN;
	if (bcap && !(d->blocks = hx__dag_alloc(bcap * sizeof(*d->blocks))))
		return HX_ENOMEM;
	for (size_t e = 0; e < d->nentities; e++) {
		const hx__dag_entity *en = &d->entities[e];
		sp = 0;
		for (uint32_t i = en->first; i < en->first + en->count; i++) {
			uint8_t kind = d->ev_kind[i];
			if (kind == HX_EV_BLOCK_BEGIN) {
				if (d->nblocks >= HX__DAG_MAX_EVENTS ||
				    hx__dag_grow(&d->blocks, &bcap, d->nblocks + 1, sizeof(*d->blocks)) ||
				    hx__dag_grow(&stack, &scap, sp + 1, sizeof(*stack)))
					goto oom;
				uint32_t b = (uint32_t)d->nblocks++;
				d->blocks[b] = (hx__dag_block){
				    .begin = i,
				    .end = HX__DAG_NONE,
				    .parent = sp ? stack[sp - 1] : HX__DAG_NONE,
				    .name = d->ev_name[i],
				    .entity = (uint32_t)e,
				    .depth = (uint16_t)(sp < UINT16_MAX ? sp : UINT16_MAX),
				    .flags = 0,
				};
				stack[sp++] = b;
			} else if (kind == HX_EV_BLOCK_END) {
				if (!sp)
					hx__dag_issue_add(d, HX__DAG_ISSUE_END_WITHOUT_BEGIN, i, HX__DAG_NONE);
				else
					d->blocks[stack[--sp]].end = i;
			}
			d->ev_block[i] = sp ? stack[sp - 1] : HX__DAG_NONE;
		}
		while (sp) {
			hx__dag_block *b = &d->blocks[stack[--sp]];
			b->end = en->first + en->count - 1;
			b->flags |= HX__BLK_REPAIRED;
			hx__dag_issue_add(d, HX__DAG_ISSUE_BEGIN_WITHOUT_END, b->begin, HX__DAG_NONE);
		}
	}
	free(stack);
	return HX_OK;
oom:
	free(stack);
	return HX_ENOMEM;
}

/* Kinds that may sit between a STATE running and the EFFECT that tells what woke the entity:
 * bookkeeping, not work (a worker that leaves one trace and joins the next before naming the
 * message it dequeued). */
static int bookkeeping(uint8_t kind)
{
	return kind == HX_EV_TRACE_END || kind == HX_EV_TRACE_BEGIN || kind == HX_EV_TRACE_JOIN ||
	       kind == HX_EV_ANNOTATE || kind == HX_EV_COUNTER;
}
#define RESUME_SCAN 8 /* events looked at after a STATE running for that EFFECT */

static int recover_waits(hx__dag *d)
{
	/* at most one wait per STATE waiting: sized once */
	size_t wcap = 0;
	for (size_t i = 0; i < d->n; i++)
		wcap += d->ev_kind[i] == HX_EV_STATE && !(d->ev_flags[i] & HX__EVF_RUNNING);
	if (wcap && !(d->waits = hx__dag_alloc(wcap * sizeof(*d->waits))))
		return HX_ENOMEM;
	for (size_t e = 0; e < d->nentities; e++) {
		const hx__dag_entity *en = &d->entities[e];
		uint32_t end = en->first + en->count;
		hx__dag_wait *w = NULL; /* the wait in progress */
		for (uint32_t i = en->first; i < end; i++) {
			uint8_t kind = d->ev_kind[i], fl = d->ev_flags[i];
			int is_wait = kind == HX_EV_STATE && !(fl & HX__EVF_RUNNING);
			if (!w) {
				if (is_wait) {
					if (hx__dag_grow(&d->waits, &wcap, d->nwaits + 1, sizeof(*d->waits)))
						return HX_ENOMEM;
					w = &d->waits[d->nwaits++];
					*w = (hx__dag_wait){(uint32_t)e, i, HX__DAG_NONE, HX__DAG_NONE, d->ev_name[i], 0};
					d->ev_flags[i] |= HX__EVF_WAITING_AFTER;
				} else if (fl & HX__EVF_RESUMES) {
					hx__dag_issue_add(d, HX__DAG_ISSUE_RESUME_WITHOUT_WAIT, i, HX__DAG_NONE);
				}
				continue;
			}
			if (kind == HX_EV_STATE && (fl & HX__EVF_RUNNING)) {
				w->end = i;
				for (uint32_t j = i + 1; j < end && j <= i + RESUME_SCAN; j++) {
					if (d->ev_kind[j] == HX_EV_EFFECT) {
						w->resume = j;
						w->flags |= HX__WAIT_INFERRED;
						break;
					}
					if (!bookkeeping(d->ev_kind[j]))
						break;
				}
			} else if (fl & HX__EVF_RESUMES) {
				w->end = i;
				w->resume = i;
			} else if (kind == HX_EV_ENTITY_END) {
				w->end = i; /* ended while suspended: nothing resumed it */
			}
			if (w->end != HX__DAG_NONE) {
				d->ev_flags[i] |= HX__EVF_WAIT_END;
				w = NULL;
			} else {
				/* a second STATE waiting or any other event: still waiting */
				d->ev_flags[i] |= HX__EVF_WAITING_AFTER;
			}
		}
		if (w) {
			w->end = end - 1;
			w->flags |= HX__WAIT_UNTERMINATED;
			hx__dag_issue_add(d, HX__DAG_ISSUE_UNTERMINATED_WAIT, w->start, HX__DAG_NONE);
		}
	}
	return HX_OK;
}

static int sum_traces(hx__dag *d)
{
	uint32_t *last_ent = malloc((d->ntraces ? d->ntraces : 1) * sizeof(*last_ent));
	uint64_t *root_ns = malloc((d->ntraces ? d->ntraces : 1) * sizeof(*root_ns));
	if (!last_ent || !root_ns) {
		free(last_ent);
		free(root_ns);
		return HX_ENOMEM;
	}
	for (size_t t = 0; t < d->ntraces; t++) {
		hx__dag_trace *tr = &d->traces[t];
		tr->events = 0;
		tr->first_ns = UINT64_MAX;
		tr->last_ns = 0;
		tr->first_event = tr->last_event = HX__DAG_NONE;
		tr->root_name = 0;
		tr->entities = 0;
		last_ent[t] = HX__DAG_NONE;
		root_ns[t] = UINT64_MAX;
	}
	for (uint32_t i = 0; i < d->n; i++) {
		uint32_t t = d->ev_trace[i];
		if (t == HX__DAG_NONE)
			continue;
		hx__dag_trace *tr = &d->traces[t];
		uint64_t ts = d->ev_time[i];
		tr->events++;
		if (ts < tr->first_ns) {
			tr->first_ns = ts;
			tr->first_event = i;
		}
		if (ts >= tr->last_ns || tr->last_event == HX__DAG_NONE) {
			tr->last_ns = ts;
			tr->last_event = i;
		}
		if (last_ent[t] != d->ev_entity[i]) {
			last_ent[t] = d->ev_entity[i]; /* events come entity by entity */
			tr->entities++;
		}
		if (d->ev_kind[i] == HX_EV_TRACE_BEGIN && ts < root_ns[t]) {
			root_ns[t] = ts;
			tr->root_name = d->ev_name[i];
		}
	}
	for (size_t t = 0; t < d->ntraces; t++)
		if (!d->traces[t].events)
			d->traces[t].first_ns = 0;
	free(last_ent);
	free(root_ns);
	return HX_OK;
}

int hx__dag_link(hx__dag *d)
{
	free(d->ev_block);
	d->ev_block = hx__dag_alloc(d->n * sizeof(*d->ev_block));
	if (!d->ev_block)
		return HX_ENOMEM;
	entity_ranges(d);
	size_t cap = 64;
	while (cap < 2 * d->nentities + 2)
		cap *= 2;
	if (hx__dag_ent_rehash(d, cap))
		return HX_ENOMEM;
	resolve_causes(d);
	if (check_cycles(d) || recover_blocks(d) || recover_waits(d) || sum_traces(d))
		return HX_ENOMEM;
	return HX_OK;
}
