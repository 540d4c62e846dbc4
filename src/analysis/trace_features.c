/*
 * trace_features.c - a trace's features from the DAG (trace_features.h), for one trace or for
 * every trace of a graph at once.
 *
 * Either way the work is a few sequential sweeps over the whole graph, with the traces as
 * *groups*: an event's group is its trace (every trace at once), 0 or none (one trace), or 0 for
 * every event (the whole graph as one). Per group: events, first and last event, errors, root,
 * the entities that took part (hence processes, hosts, services), the blocks begun in it, fan-out,
 * attributes; per block its total, self and waiting time; and the critical path.
 *
 * The critical path is walked per group with the rules of critpath.c (docs/analysis.md,
 * "Critical path"), keeping only what the features need: the critical time by block name. What
 * makes it cheap for many traces at once is the same-entity predecessor *in the same group*,
 * computed for every event in one sweep, where critpath.c steps over other traces' events one by
 * one (fine for one trace, quadratic for a long-lived worker that served a hundred thousand), and
 * one array of visited marks shared by all walks, since each event belongs to one group. The waits
 * ended by STATE running, whose wakers the walk follows, are also recovered per group in that
 * sweep (group_wait()), so that each walk sees them as the graph of its trace alone has them.
 * tests/unit/test_features.c checks both walks agree.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/trace_features.h"

enum { MODE_ALL, MODE_ONE, MODE_WHOLE };

/* A wait ended by STATE running, as the graph of its group alone has it (group_wait()). */
typedef struct gwait {
	uint32_t end, start, resume;
} gwait;

/* Per group, the wait on the entity being swept (group_wait()). */
typedef struct wscan {
	uint32_t start;    /* the wait in progress began here, HX__DAG_NONE: none */
	uint32_t pend;     /* the gwait whose resuming EFFECT is looked for, HX__DAG_NONE: none */
	uint32_t scanned;  /* events looked at for it */
} wscan;

typedef struct entry {
	uint32_t name;     /* block name ID */
	hx__feat_block b;  /* name filled at the end */
} entry;

typedef struct fx {
	const hx__dag *d;
	int mode;
	uint32_t one;             /* MODE_ONE: the trace */
	size_t ng;                /* groups */
	const char *const *keys;  /* attributes to keep */
	size_t nkeys;
	hx__feat_attr_fn attrs_of;
	void *attr_user;
	const hx__critpath *cp;   /* given by the caller (one group), or NULL */
	/* per group */
	uint32_t *first, *last, *root, *fan;
	uint64_t *nev, *errors, *root_ns;
	uint32_t *ent_off, *ents; /* its entities, CSR */
	uint32_t *blk_off, *blks; /* its blocks (begun in it), CSR */
	uint32_t *attr_ev;        /* ng x nkeys: the earliest event carrying the key */
	/* per event */
	uint32_t *prev;           /* same entity, same group; HX__DAG_NONE */
	uint8_t *visited;
	/* the waits ended by STATE running, in event order, and the sweep's state per group */
	gwait *gw;
	size_t ngw, gwcap;
	wscan *ws;
	/* per block */
	uint64_t *child_ns;       /* time of its child blocks */
	/* per wait: waiting time of the waits before it (a prefix sum) */
	uint64_t *wait_cum;
	/* per entity */
	uint32_t *proc;           /* process number (same host and pid) */
	/* scratch, per string ID / process: the entry, or the group last seen + 1 */
	uint32_t *name_slot, *name_stamp, *svc_stamp, *host_stamp, *proc_stamp;
	entry *e;
	size_t ne, ecap;
} fx;

static inline uint32_t grp(const fx *x, uint32_t i)
{
	if (x->mode == MODE_WHOLE)
		return 0;
	uint32_t t = x->d->ev_trace[i];
	if (x->mode == MODE_ONE)
		return t == x->one ? 0 : HX__DAG_NONE;
	return t;
}

static inline uint64_t span(const hx__dag *d, uint32_t from, uint32_t to)
{
	return d->ev_time[to] > d->ev_time[from] ? d->ev_time[to] - d->ev_time[from] : 0;
}

static void fx_free(fx *x)
{
	free(x->first);
	free(x->last);
	free(x->root);
	free(x->fan);
	free(x->nev);
	free(x->errors);
	free(x->root_ns);
	free(x->ent_off);
	free(x->ents);
	free(x->blk_off);
	free(x->blks);
	free(x->attr_ev);
	free(x->prev);
	free(x->visited);
	free(x->gw);
	free(x->ws);
	free(x->child_ns);
	free(x->wait_cum);
	free(x->proc);
	free(x->name_slot);
	free(x->name_stamp);
	free(x->svc_stamp);
	free(x->host_stamp);
	free(x->proc_stamp);
	free(x->e);
}

#define ALLOC(p, n)                                                                               \
	do {                                                                                      \
		if (!((p) = malloc(((n) ? (n) : 1) * sizeof(*(p)))))                              \
			return HX_ENOMEM;                                                         \
	} while (0)
#define CALLOC(p, n)                                                                              \
	do {                                                                                      \
		if (!((p) = calloc((n) ? (n) : 1, sizeof(*(p)))))                                 \
			return HX_ENOMEM;                                                         \
	} while (0)

/* ---- one sweep over the events ---- */

/* link.c's rule for what woke a wait ended by STATE running: the first EFFECT after it, looking
 * past trace bookkeeping, among the RESUME_SCAN events after it. */
#define RESUME_SCAN 8
static int bookkeeping(uint8_t kind)
{
	return kind == HX_EV_TRACE_END || kind == HX_EV_TRACE_BEGIN || kind == HX_EV_TRACE_JOIN ||
	       kind == HX_EV_ANNOTATE || kind == HX_EV_COUNTER;
}

/* The waits ended by STATE running as the graph of group g alone recovers them (link.c on the
 * group's events only; `s` is g's state on the entity being swept): the walk follows what woke
 * such a wait. In a graph of many traces the wait's start and its resuming EFFECT must be found
 * among the group's events, not the DAG's: a consumer woken in trace A may leave A for B and name
 * B's message first, then back in A the message that woke it; A's own graph, and so
 * `hx critical-path --trace`, takes A's EFFECT, while the DAG's wait points to B's. */
static int group_wait(fx *x, wscan *s, uint32_t i)
{
	const hx__dag *d = x->d;
	uint8_t kind = d->ev_kind[i], fl = d->ev_flags[i];
	if (s->pend != HX__DAG_NONE) {
		if (kind == HX_EV_EFFECT)
			x->gw[s->pend].resume = i;
		if (kind == HX_EV_EFFECT || !bookkeeping(kind) || ++s->scanned >= RESUME_SCAN)
			s->pend = HX__DAG_NONE;
	}
	int running = kind == HX_EV_STATE && (fl & HX__EVF_RUNNING);
	if (s->start == HX__DAG_NONE) {
		if (kind == HX_EV_STATE && !running)
			s->start = i;
	} else if (running) {
		if (hx__dag_grow(&x->gw, &x->gwcap, x->ngw + 1, sizeof(*x->gw)))
			return HX_ENOMEM;
		x->gw[x->ngw] = (gwait){i, s->start, HX__DAG_NONE};
		s->pend = (uint32_t)x->ngw++;
		s->scanned = 0;
		s->start = HX__DAG_NONE;
	} else if ((fl & HX__EVF_RESUMES) || kind == HX_EV_ENTITY_END) {
		s->start = HX__DAG_NONE;
	}
	return HX_OK;
}

/* The wait (of group_wait()) that event i ends, or NULL. */
static const gwait *wait_ending(const fx *x, uint32_t i)
{
	size_t lo = 0, hi = x->ngw;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->gw[mid].end < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->ngw && x->gw[lo].end == i ? &x->gw[lo] : NULL;
}

/* Per group: events, first and last (critpath.c's rule: the earliest, and the latest with ties
 * going to the later index), errors, root (the earliest TRACE_BEGIN), entities; per event the
 * same-group predecessor; per cause event how many effects name it; attributes. */
static int sweep_events(fx *x)
{
	const hx__dag *d = x->d;
	size_t ng = x->ng, n = d->n;
	ALLOC(x->first, ng);
	ALLOC(x->last, ng);
	ALLOC(x->root, ng);
	CALLOC(x->fan, ng);
	CALLOC(x->nev, ng);
	CALLOC(x->errors, ng);
	ALLOC(x->root_ns, ng);
	ALLOC(x->prev, n);
	CALLOC(x->visited, n);
	ALLOC(x->ws, ng);
	CALLOC(x->ent_off, ng + 1);
	uint32_t *last_ent = malloc((ng ? ng : 1) * sizeof(*last_ent));
	uint32_t *last_ev = malloc((ng ? ng : 1) * sizeof(*last_ev));
	uint32_t *effects = calloc(n ? n : 1, sizeof(*effects));
	if (!last_ent || !last_ev || !effects) {
		free(last_ent);
		free(last_ev);
		free(effects);
		return HX_ENOMEM;
	}
	if (x->nkeys) {
		x->attr_ev = malloc((ng ? ng : 1) * x->nkeys * sizeof(*x->attr_ev));
		if (!x->attr_ev) {
			free(last_ent);
			free(last_ev);
			free(effects);
			return HX_ENOMEM;
		}
		memset(x->attr_ev, 0xff, ng * x->nkeys * sizeof(*x->attr_ev));
	}
	for (size_t g = 0; g < ng; g++) {
		x->first[g] = x->last[g] = x->root[g] = last_ent[g] = HX__DAG_NONE;
		x->root_ns[g] = UINT64_MAX;
	}
	size_t npairs = 0;
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1]; k++) {
			uint32_t c = d->cause_ev[k];
			if (c != HX__DAG_NONE && effects[c] < UINT32_MAX)
				effects[c]++;
		}
		uint32_t g = grp(x, i), e = d->ev_entity[i];
		if (g == HX__DAG_NONE) {
			x->prev[i] = HX__DAG_NONE;
			continue;
		}
		uint64_t ts = d->ev_time[i];
		x->nev[g]++;
		if (x->first[g] == HX__DAG_NONE || ts < d->ev_time[x->first[g]])
			x->first[g] = i;
		if (x->last[g] == HX__DAG_NONE || ts >= d->ev_time[x->last[g]])
			x->last[g] = i;
		x->errors[g] += d->ev_kind[i] == HX_EV_ERROR;
		if (d->ev_kind[i] == HX_EV_TRACE_BEGIN && ts < x->root_ns[g]) {
			x->root_ns[g] = ts;
			x->root[g] = i;
		}
		/* events are sorted by entity: a group meets each of its entities in one stretch */
		if (last_ent[g] != e) {
			last_ent[g] = e;
			x->prev[i] = HX__DAG_NONE;
			x->ent_off[g + 1]++;
			npairs++;
			x->ws[g].start = x->ws[g].pend = HX__DAG_NONE;
		} else {
			x->prev[i] = last_ev[g];
		}
		last_ev[g] = i;
		if (group_wait(x, &x->ws[g], i)) {
			free(last_ent);
			free(last_ev);
			free(effects);
			return HX_ENOMEM;
		}
		for (size_t k = 0; k < x->nkeys; k++) {
			uint32_t *best = &x->attr_ev[(size_t)g * x->nkeys + k];
			if ((*best == HX__DAG_NONE || ts < d->ev_time[*best]) && x->attrs_of(i, x->keys[k], x->attr_user))
				*best = i;
		}
	}
	/* entities per group (CSR), in a second pass: the same stretches, now stored */
	for (size_t g = 0; g < ng; g++)
		x->ent_off[g + 1] += x->ent_off[g];
	free(last_ev);
	free(x->ws);
	x->ws = NULL;
	x->ents = malloc((npairs ? npairs : 1) * sizeof(*x->ents));
	uint32_t *fill = malloc((ng ? ng : 1) * sizeof(*fill));
	if (!x->ents || !fill) {
		free(fill);
		free(last_ent);
		free(effects);
		return HX_ENOMEM;
	}
	for (size_t g = 0; g < ng; g++) {
		fill[g] = x->ent_off[g];
		last_ent[g] = HX__DAG_NONE;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t g = grp(x, i), e = d->ev_entity[i];
		if (g == HX__DAG_NONE)
			continue;
		if (last_ent[g] != e) {
			last_ent[g] = e;
			x->ents[fill[g]++] = e;
		}
		if (effects[i] > x->fan[g])
			x->fan[g] = effects[i];
	}
	free(fill);
	free(last_ent);
	free(effects);
	return HX_OK;
}

/* ---- blocks and waits ---- */

/* Waiting time of entity ev_entity[at] before event `at`: the waits started before it, the one
 * in progress counted up to it. Waits are in event order, an entity's together. */
static uint64_t waited_before(const fx *x, uint32_t at)
{
	const hx__dag *d = x->d;
	size_t lo = 0, hi = d->nwaits;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->waits[mid].start < at)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return 0;
	uint64_t sum = x->wait_cum[lo];
	const hx__dag_wait *w = &d->waits[lo - 1];
	if (w->entity == d->ev_entity[at] && w->end > at) {
		/* in progress at `at`: only its part before */
		uint64_t whole = span(d, w->start, w->end), after = span(d, at, w->end);
		sum -= after < whole ? after : whole;
	}
	return sum;
}

static int sweep_blocks(fx *x)
{
	const hx__dag *d = x->d;
	size_t ng = x->ng;
	CALLOC(x->child_ns, d->nblocks);
	ALLOC(x->wait_cum, d->nwaits + 1);
	x->wait_cum[0] = 0;
	for (size_t w = 0; w < d->nwaits; w++)
		x->wait_cum[w + 1] = x->wait_cum[w] + span(d, d->waits[w].start, d->waits[w].end);
	CALLOC(x->blk_off, ng + 1);
	size_t nb = 0;
	for (size_t b = 0; b < d->nblocks; b++) {
		const hx__dag_block *bl = &d->blocks[b];
		if (bl->parent != HX__DAG_NONE)
			x->child_ns[bl->parent] += span(d, bl->begin, bl->end);
		uint32_t g = grp(x, bl->begin);
		if (g != HX__DAG_NONE) {
			x->blk_off[g + 1]++;
			nb++;
		}
	}
	for (size_t g = 0; g < ng; g++)
		x->blk_off[g + 1] += x->blk_off[g];
	ALLOC(x->blks, nb);
	uint32_t *fill;
	ALLOC(fill, ng);
	memcpy(fill, x->blk_off, (ng ? ng : 1) * sizeof(*fill));
	for (size_t b = 0; b < d->nblocks; b++) {
		uint32_t g = grp(x, d->blocks[b].begin);
		if (g != HX__DAG_NONE)
			x->blks[fill[g]++] = (uint32_t)b;
	}
	free(fill);
	return HX_OK;
}

/* ---- per group ---- */

/* The entry of block name `name` in the group being made (stamp: g + 1). */
static entry *entry_of(fx *x, uint32_t g, uint32_t name)
{
	if (x->name_stamp[name] == g + 1)
		return &x->e[x->name_slot[name]];
	if (hx__dag_grow(&x->e, &x->ecap, x->ne + 1, sizeof(*x->e)))
		return NULL;
	x->name_stamp[name] = g + 1;
	x->name_slot[name] = (uint32_t)x->ne;
	entry *en = &x->e[x->ne++];
	memset(en, 0, sizeof(*en));
	en->name = name;
	return en;
}

static int add_critical(fx *x, uint32_t g, uint32_t block, uint64_t ns)
{
	if (block == HX__DAG_NONE || !ns)
		return HX_OK; /* outside any block: in critical_ns only */
	entry *en = entry_of(x, g, x->d->blocks[block].name);
	if (!en)
		return HX_ENOMEM;
	en->b.critical_ns += ns;
	return HX_OK;
}

typedef struct pick {
	uint32_t ev;
	int via_cause;
} pick;

static void consider(const fx *x, uint32_t g, pick *best, uint32_t u, int via_cause)
{
	if (u == HX__DAG_NONE || grp(x, u) != g || x->visited[u])
		return;
	/* strictly later wins, so on a tie the first considered (the same entity) stays */
	if (best->ev == HX__DAG_NONE || x->d->ev_time[u] > x->d->ev_time[best->ev]) {
		best->ev = u;
		best->via_cause = via_cause;
	}
}

/* The critical path of group g, as critpath.c walks it, summed by block name. */
static int walk(fx *x, uint32_t g, uint64_t *total)
{
	const hx__dag *d = x->d;
	uint32_t cur = x->last[g];
	uint64_t cursor = d->ev_time[cur];
	*total = 0;
	x->visited[cur] = 1;
	for (;;) {
		pick best = {HX__DAG_NONE, 0};
		consider(x, g, &best, x->prev[cur], 0);
		for (uint32_t k = d->cause_off[cur]; k < d->cause_off[cur + 1]; k++)
			consider(x, g, &best, d->cause_ev[k], 1);
		if (d->ev_kind[cur] == HX_EV_STATE && (d->ev_flags[cur] & HX__EVF_RUNNING)) {
			const gwait *wt = wait_ending(x, cur);
			if (wt && wt->resume != HX__DAG_NONE) {
				uint64_t from = d->ev_time[wt->start], to = d->ev_time[cur];
				for (uint32_t k = d->cause_off[wt->resume]; k < d->cause_off[wt->resume + 1]; k++) {
					uint32_t u = d->cause_ev[k];
					if (u != HX__DAG_NONE && d->ev_time[u] >= from && d->ev_time[u] <= to)
						consider(x, g, &best, u, 1);
				}
			}
		}
		if (best.ev == HX__DAG_NONE)
			break;
		uint64_t start = d->ev_time[best.ev] < cursor ? d->ev_time[best.ev] : cursor;
		/* a transfer is the receiver's time, in the block it was in while the cause travelled */
		uint32_t block = best.via_cause ? (x->prev[cur] != HX__DAG_NONE ? d->ev_block[x->prev[cur]] : HX__DAG_NONE)
		                                : d->ev_block[best.ev];
		if (add_critical(x, g, block, cursor - start))
			return HX_ENOMEM;
		*total += cursor - start;
		cursor = start;
		x->visited[best.ev] = 1;
		cur = best.ev;
	}
	uint64_t t0 = d->ev_time[x->first[g]];
	if (cursor > t0)
		*total += cursor - t0; /* unexplained, outside any block */
	return HX_OK;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const hx__feat_block *)a)->name, ((const hx__feat_block *)b)->name);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, deduplicated copies of the non-empty strings ids[0..n) (stamp: per string ID). */
static int string_set(fx *x, uint32_t *stamp, uint32_t g, const uint32_t *ids, size_t n, char ***out,
                      size_t *nout)
{
	*out = NULL;
	*nout = 0;
	char **v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return HX_ENOMEM;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = hx__dag_str(x->d, ids[i]);
		if (!*s || stamp[ids[i]] == g + 1)
			continue;
		stamp[ids[i]] = g + 1;
		if (!(v[m] = strdup(s))) {
			while (m)
				free(v[--m]);
			free(v);
			return HX_ENOMEM;
		}
		m++;
	}
	qsort(v, m, sizeof(*v), str_cmp);
	*out = v;
	*nout = m;
	return HX_OK;
}

/* Fill f with group g's features (f zeroed by the caller). */
static int make_features(fx *x, uint32_t g, hx__features *f)
{
	const hx__dag *d = x->d;
	if (x->mode == MODE_ALL)
		memcpy(f->trace_id, d->traces[g].id, 16);
	else if (x->mode == MODE_ONE)
		memcpy(f->trace_id, d->traces[x->one].id, 16);
	else if (d->ntraces == 1)
		memcpy(f->trace_id, d->traces[0].id, 16);
	f->events = x->nev[g];
	if (x->first[g] != HX__DAG_NONE) {
		f->start_ns = d->ev_time[x->first[g]];
		f->end_ns = d->ev_time[x->last[g]];
		f->duration_ns = f->end_ns - f->start_ns;
	}
	f->errors = x->errors[g];
	f->fanout = x->fan[g];
	if (!(f->root_name = strdup(x->root[g] != HX__DAG_NONE ? hx__dag_str(d, d->ev_name[x->root[g]]) : "")))
		return HX_ENOMEM;

	/* entities, processes, hosts, services */
	uint32_t e0 = x->ent_off[g], e1 = x->ent_off[g + 1];
	f->entities = e1 - e0;
	uint32_t *ids = malloc(((e1 - e0) ? (e1 - e0) : 1) * sizeof(*ids));
	if (!ids)
		return HX_ENOMEM;
	for (uint32_t k = e0; k < e1; k++) {
		uint32_t p = x->proc[x->ents[k]];
		if (x->proc_stamp[p] != g + 1) {
			x->proc_stamp[p] = g + 1;
			f->processes++;
		}
	}
	for (uint32_t k = e0; k < e1; k++)
		ids[k - e0] = d->entities[x->ents[k]].program;
	int rc = string_set(x, x->svc_stamp, g, ids, e1 - e0, &f->services, &f->nservices);
	for (uint32_t k = e0; k < e1 && !rc; k++)
		ids[k - e0] = d->entities[x->ents[k]].host;
	if (!rc)
		rc = string_set(x, x->host_stamp, g, ids, e1 - e0, &f->host_names, &f->nhost_names);
	free(ids);
	if (rc)
		return rc;
	f->hosts = f->nhost_names;

	/* blocks by name */
	x->ne = 0;
	for (uint32_t k = x->blk_off[g]; k < x->blk_off[g + 1]; k++) {
		uint32_t b = x->blks[k];
		const hx__dag_block *bl = &d->blocks[b];
		entry *en = entry_of(x, g, bl->name);
		if (!en)
			return HX_ENOMEM;
		uint64_t total = span(d, bl->begin, bl->end);
		uint64_t w1 = waited_before(x, bl->end), w0 = waited_before(x, bl->begin);
		en->b.count++;
		en->b.total_ns += total;
		en->b.self_ns += total > x->child_ns[b] ? total - x->child_ns[b] : 0;
		en->b.wait_ns += w1 > w0 ? w1 - w0 : 0;
	}
	if (x->cp) {
		for (size_t k = 0; k < x->cp->nby_block; k++) {
			const hx__cp_sum *s = &x->cp->by_block[k];
			if (s->key == HX__DAG_NONE || s->key >= d->nstr)
				continue;
			entry *en = entry_of(x, g, s->key);
			if (!en)
				return HX_ENOMEM;
			en->b.critical_ns += s->ns;
		}
		for (int k = 0; k < HX__SEG__MAX; k++)
			f->critical_ns += x->cp->by_kind[k];
	} else if (x->last[g] != HX__DAG_NONE && walk(x, g, &f->critical_ns)) {
		return HX_ENOMEM;
	}
	f->blocks = calloc(x->ne ? x->ne : 1, sizeof(*f->blocks));
	if (!f->blocks)
		return HX_ENOMEM;
	for (size_t k = 0; k < x->ne; k++) {
		f->blocks[k] = x->e[k].b;
		if (!(f->blocks[k].name = strdup(hx__dag_str(d, x->e[k].name))))
			return HX_ENOMEM;
		f->nblocks++;
	}
	qsort(f->blocks, f->nblocks, sizeof(*f->blocks), name_cmp);

	/* attributes: the earliest value of each key */
	for (size_t k = 0; k < x->nkeys && f->nattrs < HX__FEAT_MAX_ATTRS; k++) {
		uint32_t ev = x->attr_ev[(size_t)g * x->nkeys + k];
		const char *v = ev != HX__DAG_NONE ? x->attrs_of(ev, x->keys[k], x->attr_user) : NULL;
		if (!v)
			continue;
		f->attrs[f->nattrs].key = strdup(x->keys[k]);
		f->attrs[f->nattrs].value = strdup(v);
		f->nattrs++;
		if (!f->attrs[f->nattrs - 1].key || !f->attrs[f->nattrs - 1].value)
			return HX_ENOMEM;
	}
	return HX_OK;
}

typedef struct proc_key {
	uint32_t host, ent;
	uint64_t pid;
} proc_key;

static int proc_cmp(const void *a, const void *b)
{
	const proc_key *x = a, *y = b;
	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Process numbers: entities with the same host and pid are one process. */
static int number_processes(fx *x)
{
	const hx__dag *d = x->d;
	size_t ne = d->nentities;
	CALLOC(x->proc_stamp, ne);
	ALLOC(x->proc, ne);
	proc_key *k;
	ALLOC(k, ne);
	for (size_t i = 0; i < ne; i++)
		k[i] = (proc_key){d->entities[i].host, (uint32_t)i, d->entities[i].pid};
	qsort(k, ne, sizeof(*k), proc_cmp);
	uint32_t p = 0;
	for (size_t i = 0; i < ne; i++) {
		if (i && proc_cmp(&k[i - 1], &k[i]))
			p++;
		x->proc[k[i].ent] = p;
	}
	free(k);
	return HX_OK;
}

static int fx_prepare(fx *x)
{
	const hx__dag *d = x->d;
	int rc = sweep_events(x);
	if (!rc)
		rc = sweep_blocks(x);
	if (!rc)
		rc = number_processes(x);
	if (rc)
		return rc;
	CALLOC(x->name_slot, d->nstr);
	CALLOC(x->name_stamp, d->nstr);
	CALLOC(x->svc_stamp, d->nstr);
	CALLOC(x->host_stamp, d->nstr);
	return HX_OK;
}

void hx__features_free(hx__features *f)
{
	if (!f)
		return;
	free(f->root_name);
	for (size_t i = 0; i < f->nservices; i++)
		free(f->services[i]);
	free(f->services);
	for (size_t i = 0; i < f->nhost_names; i++)
		free(f->host_names[i]);
	free(f->host_names);
	for (size_t i = 0; i < f->nblocks; i++)
		free((char *)f->blocks[i].name);
	free(f->blocks);
	for (size_t i = 0; i < f->nattrs && i < HX__FEAT_MAX_ATTRS; i++) {
		free(f->attrs[i].key);
		free(f->attrs[i].value);
	}
	free(f->priv);
	memset(f, 0, sizeof(*f));
}

static size_t count_keys(const char *const *keys, hx__feat_attr_fn fn)
{
	size_t n = 0;
	while (fn && keys && keys[n] && n < HX__FEAT_MAX_ATTRS)
		n++;
	return n;
}

int hx__features_extract(const hx__dag *d, uint32_t trace, const hx__critpath *cp,
                         const char *const *attr_keys, hx__feat_attr_fn attrs_of, void *user,
                         hx__features *out)
{
	memset(out, 0, sizeof(*out));
	if (trace != HX__DAG_NONE && trace >= d->ntraces)
		return HX_EINVAL;
	fx x;
	memset(&x, 0, sizeof(x));
	x.d = d;
	x.mode = trace == HX__DAG_NONE ? MODE_WHOLE : MODE_ONE;
	x.one = trace;
	x.ng = 1;
	x.keys = attr_keys;
	x.nkeys = count_keys(attr_keys, attrs_of);
	x.attrs_of = attrs_of;
	x.attr_user = user;
	x.cp = cp;
	int rc = fx_prepare(&x);
	if (!rc)
		rc = make_features(&x, 0, out);
	fx_free(&x);
	if (rc)
		hx__features_free(out);
	return rc;
}

int hx__features_extract_all(const hx__dag *d, const char *const *attr_keys, hx__feat_attr_fn attrs_of,
                             void *attr_user, hx__feat_each_fn each, void *user)
{
	fx x;
	memset(&x, 0, sizeof(x));
	x.d = d;
	x.mode = MODE_ALL;
	x.ng = d->ntraces;
	x.keys = attr_keys;
	x.nkeys = count_keys(attr_keys, attrs_of);
	x.attrs_of = attrs_of;
	x.attr_user = attr_user;
	int rc = fx_prepare(&x);
	for (uint32_t g = 0; !rc && g < x.ng; g++) {
		if (!x.nev[g])
			continue;
		hx__features f;
		memset(&f, 0, sizeof(f));
		rc = make_features(&x, g, &f);
		if (!rc)
			rc = each(&f, g, user);
		hx__features_free(&f);
	}
	fx_free(&x);
	return rc;
}

/* ---- JSON ---- */

static int json_strings(hx__buf *b, char *const *v, size_t n)
{
	int err = hx__buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			err |= hx__buf_putc(b, ',');
		err |= hx__json_string(b, v[i] ? v[i] : "", v[i] ? strlen(v[i]) : 0);
	}
	return err | hx__buf_putc(b, ']');
}

int hx__features_json(hx__buf *b, const hx__features *f)
{
	int err = hx__buf_puts(b, "{\"trace\":\"");
	for (int i = 0; i < 16; i++)
		err |= hx__buf_printf(b, "%02x", f->trace_id[i]);
	err |= hx__buf_puts(b, "\",\"root\":");
	if (f->root_name && *f->root_name)
		err |= hx__json_string(b, f->root_name, strlen(f->root_name));
	else
		err |= hx__buf_puts(b, "null");
	err |= hx__buf_printf(b, ",\"start_ns\":%llu,\"end_ns\":%llu,\"duration_ns\":%llu,\"events\":%llu,"
	                         "\"entities\":%llu,\"processes\":%llu,\"hosts\":%llu,\"host_names\":",
	                      (unsigned long long)f->start_ns, (unsigned long long)f->end_ns,
	                      (unsigned long long)f->duration_ns, (unsigned long long)f->events,
	                      (unsigned long long)f->entities, (unsigned long long)f->processes,
	                      (unsigned long long)f->hosts);
	err |= json_strings(b, f->host_names, f->nhost_names);
	err |= hx__buf_printf(b, ",\"errors\":%llu,\"fanout\":%llu,\"critical_ns\":%llu,\"services\":",
	                      (unsigned long long)f->errors, (unsigned long long)f->fanout,
	                      (unsigned long long)f->critical_ns);
	err |= json_strings(b, f->services, f->nservices);
	err |= hx__buf_puts(b, ",\"blocks\":[");
	for (size_t i = 0; i < f->nblocks; i++) {
		const hx__feat_block *k = &f->blocks[i];
		err |= hx__buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
		err |= hx__json_string(b, k->name ? k->name : "", k->name ? strlen(k->name) : 0);
		err |= hx__buf_printf(b, ",\"count\":%llu,\"total_ns\":%llu,\"self_ns\":%llu,\"wait_ns\":%llu,"
		                         "\"critical_ns\":%llu}",
		                      (unsigned long long)k->count, (unsigned long long)k->total_ns,
		                      (unsigned long long)k->self_ns, (unsigned long long)k->wait_ns,
		                      (unsigned long long)k->critical_ns);
	}
	err |= hx__buf_puts(b, "],\"attrs\":{");
	for (size_t i = 0; i < f->nattrs && i < HX__FEAT_MAX_ATTRS; i++) {
		const char *k = f->attrs[i].key ? f->attrs[i].key : "", *v = f->attrs[i].value ? f->attrs[i].value : "";
		if (i)
			err |= hx__buf_putc(b, ',');
		err |= hx__json_string(b, k, strlen(k));
		err |= hx__buf_putc(b, ':');
		err |= hx__json_string(b, v, strlen(v));
	}
	err |= hx__buf_puts(b, "}}");
	return err ? HX_ENOMEM : HX_OK;
}
