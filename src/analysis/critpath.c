/*
 * critpath.c - the backward walk (critpath.h) and the sums.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/critpath.h"

const char *hx__seg_kind_name(int kind)
{
	static const char *const names[HX__SEG__MAX] = {"running", "waiting", "transfer", "unexplained"};
	return kind >= 0 && kind < HX__SEG__MAX ? names[kind] : NULL;
}

void hx__critpath_free(hx__critpath *cp)
{
	if (!cp)
		return;
	free(cp->seg);
	free(cp->by_block);
	free(cp->by_entity);
	free(cp->by_host);
	memset(cp, 0, sizeof(*cp));
}

typedef struct walk {
	const hx__dag *d;
	hx__critpath *cp;
	uint32_t trace;
	uint8_t *visited;
	uint32_t *wait_hint;     /* per entity: the wait index last found, HX__DAG_NONE unset */
	size_t segcap;
} walk;

/* The last wait of x's entity that starts at or before x, or HX__DAG_NONE. The walk visits an
 * entity's events in decreasing order (a predecessor on one entity is an earlier event), so a
 * per-entity hint moved backwards finds it in amortised constant time; bisection covers the first
 * visit and the out-of-order steps that inconsistent IDs can cause. */
static uint32_t wait_at(walk *w, uint32_t x)
{
	const hx__dag *d = w->d;
	uint32_t e = d->ev_entity[x], h = w->wait_hint[e];
	if (h != HX__DAG_NONE && d->waits[h].start <= x &&
	    (h + 1 >= d->nwaits || d->waits[h + 1].start > x)) {
		/* still right */
	} else if (h != HX__DAG_NONE && d->waits[h].start > x && h > 0 && d->waits[h - 1].start <= x) {
		h--;
	} else {
		size_t lo = 0, hi = d->nwaits;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (d->waits[mid].start <= x)
				lo = mid + 1;
			else
				hi = mid;
		}
		h = lo ? (uint32_t)(lo - 1) : HX__DAG_NONE;
	}
	if (h == HX__DAG_NONE || d->waits[h].entity != e)
		return HX__DAG_NONE;
	w->wait_hint[e] = h;
	return h;
}

static int in_scope(const walk *w, uint32_t u)
{
	return w->trace == HX__DAG_NONE || w->d->ev_trace[u] == w->trace;
}

/* The same entity's previous event in scope: in a whole graph walked for one trace, the events
 * the entity recorded for other traces in between are stepped over (each once per walk, as the
 * walk moves backwards along an entity). */
static uint32_t prev_in_scope(const walk *w, uint32_t i)
{
	uint32_t p = hx__dag_prev(w->d, i);
	while (p != HX__DAG_NONE && !in_scope(w, p))
		p = hx__dag_prev(w->d, p);
	return p;
}

/* link.c's rule for what woke a wait ended by STATE running: the first EFFECT after it, looking
 * past trace bookkeeping, among the RESUME_SCAN events after it. */
#define RESUME_SCAN 8
static int bookkeeping(uint8_t kind)
{
	return kind == HX_EV_TRACE_END || kind == HX_EV_TRACE_BEGIN || kind == HX_EV_TRACE_JOIN ||
	       kind == HX_EV_ANNOTATE || kind == HX_EV_COUNTER;
}

/* In a whole graph walked for one trace: if `cur` (a STATE running) ends a wait as the graph of
 * that trace alone has it (link.c's rules on the trace's events), the wait's start, and in
 * *resume the EFFECT that says what woke it (HX__DAG_NONE if none). The graph's own wait will not
 * do: a consumer woken in trace A may leave A for B and name B's message first, then back in A the
 * message that woke it; A's graph takes A's EFFECT, the whole graph's wait B's. Each scan stops at
 * the entity's previous or next STATE running, so a walk scans an entity's events about once. */
static uint32_t scoped_wait(const walk *w, uint32_t cur, uint32_t *resume)
{
	const hx__dag *d = w->d;
	uint32_t start = HX__DAG_NONE;
	*resume = HX__DAG_NONE;
	if (d->ev_kind[cur] != HX_EV_STATE || !(d->ev_flags[cur] & HX__EVF_RUNNING))
		return HX__DAG_NONE;
	for (uint32_t p = prev_in_scope(w, cur); p != HX__DAG_NONE; p = prev_in_scope(w, p)) {
		uint8_t kind = d->ev_kind[p], fl = d->ev_flags[p];
		if ((kind == HX_EV_STATE && (fl & HX__EVF_RUNNING)) || (fl & HX__EVF_RESUMES) ||
		    kind == HX_EV_ENTITY_END)
			break; /* no wait in progress after it */
		if (kind == HX_EV_STATE)
			start = p; /* the earliest STATE waiting since then began the wait */
	}
	if (start == HX__DAG_NONE)
		return HX__DAG_NONE;
	const hx__dag_entity *en = &d->entities[d->ev_entity[cur]];
	uint32_t seen = 0;
	for (uint32_t j = cur + 1; j < en->first + en->count && seen < RESUME_SCAN; j++) {
		if (!in_scope(w, j))
			continue;
		seen++;
		if (d->ev_kind[j] == HX_EV_EFFECT) {
			*resume = j;
			break;
		}
		if (!bookkeeping(d->ev_kind[j]))
			break;
	}
	return start;
}

/* Add the step p -> cur (p a predecessor of cur) in front of the segments found so far (they
 * are collected from the end backwards and reversed at the end). */
static int step(walk *w, uint32_t p, uint32_t cur, int via_cause, uint64_t *cursor)
{
	const hx__dag *d = w->d;
	hx__critpath *cp = w->cp;
	hx__cp_segment s;
	memset(&s, 0, sizeof(s));
	s.entity = s.from_entity = d->ev_entity[cur];
	s.start_event = p;
	s.end_event = cur;
	s.end_ns = *cursor;
	s.start_ns = d->ev_time[p] < *cursor ? d->ev_time[p] : *cursor;
	s.steps = 1;
	if (d->ev_time[p] > *cursor) {
		cp->clamped++;
		cp->clamped_ns += d->ev_time[p] - *cursor;
	}
	*cursor = s.start_ns;
	if (via_cause) {
		s.kind = HX__SEG_TRANSFER;
		s.from_entity = d->ev_entity[p];
		uint32_t before = prev_in_scope(w, cur);
		/* the block the receiver was in while the cause travelled to it */
		s.block = before != HX__DAG_NONE ? d->ev_block[before] : HX__DAG_NONE;
	} else {
		s.block = d->ev_block[p];
		if (d->ev_seq[cur] != d->ev_seq[p] + 1) {
			s.kind = HX__SEG_WAITING;
			s.reason = HX__CP_REASON_GAP;
		} else if (d->ev_flags[p] & HX__EVF_WAITING_AFTER) {
			s.kind = HX__SEG_WAITING;
			uint32_t wi = wait_at(w, p);
			s.reason = wi != HX__DAG_NONE ? d->waits[wi].reason : 0;
		} else {
			s.kind = HX__SEG_RUNNING;
		}
	}
	if (cp->nseg) {
		hx__cp_segment *last = &cp->seg[cp->nseg - 1];
		if (last->kind == s.kind && last->entity == s.entity && last->from_entity == s.from_entity &&
		    last->block == s.block && last->reason == s.reason && s.kind != HX__SEG_TRANSFER) {
			last->start_ns = s.start_ns;
			last->start_event = p;
			last->steps++;
			return HX_OK;
		}
	}
	size_t cap = w->segcap;
	if (hx__dag_grow(&cp->seg, &cap, cp->nseg + 1, sizeof(*cp->seg)))
		return HX_ENOMEM;
	w->segcap = cap;
	cp->seg[cp->nseg++] = s;
	return HX_OK;
}

typedef struct pick {
	uint32_t ev;
	int via_cause, inferred;
} pick;

static void consider(walk *w, pick *best, uint32_t u, int via_cause, int inferred)
{
	if (u == HX__DAG_NONE || !in_scope(w, u))
		return;
	if (w->visited[u]) {
		w->cp->cycles++;
		return;
	}
	/* strictly later wins, so on a tie the first considered (the same entity) stays */
	if (best->ev == HX__DAG_NONE || w->d->ev_time[u] > w->d->ev_time[best->ev]) {
		best->ev = u;
		best->via_cause = via_cause;
		best->inferred = inferred;
	}
}

static int walk_back(walk *w, uint32_t last)
{
	const hx__dag *d = w->d;
	hx__critpath *cp = w->cp;
	uint32_t cur = last;
	uint64_t cursor = d->ev_time[last];
	w->visited[cur] = 1;
	cp->path_events = 1;
	for (;;) {
		pick best = {HX__DAG_NONE, 0, 0};
		consider(w, &best, prev_in_scope(w, cur), 0, 0);
		for (uint32_t k = d->cause_off[cur]; k < d->cause_off[cur + 1]; k++) {
			if (d->cause_ev[k] == HX__DAG_NONE)
				cp->missing++;
			else
				consider(w, &best, d->cause_ev[k], 1, 0);
		}
		/* a wait ended by STATE running: what woke it is the cause, named by the EFFECT
		 * just after, that happened while it waited */
		uint32_t start = HX__DAG_NONE, resume = HX__DAG_NONE;
		if (w->trace != HX__DAG_NONE) {
			start = scoped_wait(w, cur, &resume);
		} else if (d->ev_flags[cur] & HX__EVF_WAIT_END) {
			uint32_t wi = wait_at(w, cur);
			const hx__dag_wait *wt = wi != HX__DAG_NONE ? &d->waits[wi] : NULL;
			if (wt && wt->end == cur && (wt->flags & HX__WAIT_INFERRED)) {
				start = wt->start;
				resume = wt->resume;
			}
		}
		if (resume != HX__DAG_NONE) {
			uint64_t from = d->ev_time[start], to = d->ev_time[cur];
			for (uint32_t k = d->cause_off[resume]; k < d->cause_off[resume + 1]; k++) {
				uint32_t u = d->cause_ev[k];
				if (u != HX__DAG_NONE && d->ev_time[u] >= from && d->ev_time[u] <= to)
					consider(w, &best, u, 1, 1);
			}
		}
		if (best.ev == HX__DAG_NONE)
			break;
		if (best.inferred)
			cp->inferred++;
		if (step(w, best.ev, cur, best.via_cause, &cursor))
			return HX_ENOMEM;
		w->visited[best.ev] = 1;
		cp->path_events++;
		cur = best.ev;
	}
	cp->path_first = cur;
	if (cursor > cp->start_ns) {
		size_t cap = w->segcap;
		if (hx__dag_grow(&cp->seg, &cap, cp->nseg + 1, sizeof(*cp->seg)))
			return HX_ENOMEM;
		w->segcap = cap;
		hx__cp_segment s;
		memset(&s, 0, sizeof(s));
		s.kind = HX__SEG_UNEXPLAINED;
		s.entity = s.from_entity = d->ev_entity[cur];
		s.block = HX__DAG_NONE;
		s.start_event = cp->first_event;
		s.end_event = cur;
		s.start_ns = cp->start_ns;
		s.end_ns = cursor;
		cp->seg[cp->nseg++] = s;
	}
	/* collected backwards: put them in time order */
	for (size_t i = 0, j = cp->nseg ? cp->nseg - 1 : 0; i < j; i++, j--) {
		hx__cp_segment t = cp->seg[i];
		cp->seg[i] = cp->seg[j];
		cp->seg[j] = t;
	}
	return HX_OK;
}

static int sum_cmp(const void *a, const void *b)
{
	const hx__cp_sum *x = a, *y = b;
	if (x->ns != y->ns)
		return x->ns > y->ns ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* Gather the non-zero entries of acc[0..n) (entry n - 1 standing for `last_key`), largest first. */
static int collect(const uint64_t *acc, size_t n, uint32_t last_key, hx__cp_sum **out, size_t *nout)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		m += acc[i] != 0;
	*out = malloc((m ? m : 1) * sizeof(**out));
	if (!*out)
		return HX_ENOMEM;
	m = 0;
	for (size_t i = 0; i < n; i++)
		if (acc[i])
			(*out)[m++] = (hx__cp_sum){i == n - 1 ? last_key : (uint32_t)i, acc[i]};
	qsort(*out, m, sizeof(**out), sum_cmp);
	*nout = m;
	return HX_OK;
}

static int summarise(const hx__dag *d, hx__critpath *cp)
{
	/* one slot per string (block names, hosts) or entity, plus one for "none" */
	uint64_t *by_name = calloc(d->nstr + 1, sizeof(*by_name));
	uint64_t *by_ent = calloc(d->nentities + 1, sizeof(*by_ent));
	uint64_t *by_host = calloc(d->nstr + 1, sizeof(*by_host));
	int rc = HX_ENOMEM;
	if (!by_name || !by_ent || !by_host)
		goto out;
	for (size_t i = 0; i < cp->nseg; i++) {
		const hx__cp_segment *s = &cp->seg[i];
		uint64_t ns = s->end_ns - s->start_ns;
		cp->by_kind[s->kind] += ns;
		by_name[s->block == HX__DAG_NONE ? d->nstr : d->blocks[s->block].name] += ns;
		by_ent[s->entity] += ns;
		by_host[d->entities[s->entity].host] += ns;
	}
	if (collect(by_name, d->nstr + 1, HX__DAG_NONE, &cp->by_block, &cp->nby_block) ||
	    collect(by_ent, d->nentities + 1, HX__DAG_NONE, &cp->by_entity, &cp->nby_entity) ||
	    collect(by_host, d->nstr + 1, HX__DAG_NONE, &cp->by_host, &cp->nby_host))
		goto out;
	rc = HX_OK;
out:
	free(by_name);
	free(by_ent);
	free(by_host);
	return rc;
}

int hx__critpath_compute(const hx__dag *d, uint32_t trace, hx__critpath *out)
{
	memset(out, 0, sizeof(*out));
	out->trace = trace;
	out->first_event = out->last_event = out->path_first = HX__DAG_NONE;
	if (trace != HX__DAG_NONE && trace >= d->ntraces)
		return HX_EINVAL;
	if (trace != HX__DAG_NONE) {
		const hx__dag_trace *t = &d->traces[trace];
		out->first_event = t->first_event;
		out->last_event = t->last_event;
	} else {
		for (uint32_t i = 0; i < d->n; i++) {
			if (out->first_event == HX__DAG_NONE || d->ev_time[i] < d->ev_time[out->first_event])
				out->first_event = i;
			if (out->last_event == HX__DAG_NONE || d->ev_time[i] >= d->ev_time[out->last_event])
				out->last_event = i;
		}
	}
	if (out->last_event == HX__DAG_NONE)
		return HX_OK; /* nothing in it */
	out->start_ns = d->ev_time[out->first_event];
	out->end_ns = d->ev_time[out->last_event];

	walk w;
	memset(&w, 0, sizeof(w));
	w.d = d;
	w.cp = out;
	/* a graph holding this trace alone (filtered, or cut out) needs no per-event scope test */
	w.trace = trace != HX__DAG_NONE && d->traces[trace].events == d->n ? HX__DAG_NONE : trace;
	w.visited = calloc(d->n ? d->n : 1, 1);
	w.wait_hint = malloc((d->nentities ? d->nentities : 1) * sizeof(*w.wait_hint));
	/* Room for the longest possible path (every event) up front: untouched pages cost nothing,
	 * and growing a 100 MB array by doubling would copy it over and over. Shrunk at the end. */
	w.segcap = d->n + 1;
	out->seg = hx__dag_alloc(w.segcap * sizeof(*out->seg));
	int rc = HX_ENOMEM;
	if (w.visited && w.wait_hint && out->seg) {
		memset(w.wait_hint, 0xff, (d->nentities ? d->nentities : 1) * sizeof(*w.wait_hint));
		rc = walk_back(&w, out->last_event);
		if (!rc)
			rc = summarise(d, out);
		hx__cp_segment *fit = rc ? NULL : realloc(out->seg, (out->nseg ? out->nseg : 1) * sizeof(*fit));
		if (fit)
			out->seg = fit;
	}
	free(w.visited);
	free(w.wait_hint);
	if (rc) {
		hx__critpath_free(out);
		out->trace = trace;
		out->first_event = out->last_event = out->path_first = HX__DAG_NONE;
	}
	return rc;
}
