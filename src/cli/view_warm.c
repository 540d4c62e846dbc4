/*
 * view_warm.c - `hx view`'s model of its largest trace, built while the files load (cmd_view.c).
 *
 * WHY. The service warms the largest trace's model before it gives its URL. Built by the
 * service's loader (api_view.c), that means reading every event back out of the store just
 * written (decompressed, decoded, sorted by time) and copying it into the builder: for a trace of
 * 10 M events, most of `hx view`'s start-up. The reader hands out every event anyway while the
 * store is loaded, so the builder is fed there, and the service takes the finished model into its
 * cache (hx__view_cache_insert).
 *
 * WHICH TRACE. The largest is known only after the last event, and a reader cannot be rewound
 * (counting first would mean decoding every file twice, and aligning the clocks twice). So the
 * model is of the trace of the first traced event; when that is the largest (always when the
 * input holds one trace: the big trace whose wait this is about), it is used; otherwise it is
 * dropped and the service builds the largest from the store, as before.
 *
 * THE STORE'S MODEL, EXACTLY. A model depends on the order its builder is fed: entities, strings
 * and processes are numbered as they first arrive, and those numbers show in the answers (event
 * indices "e", the order of ties). The loader gets the trace from hx_store_fetch in time order,
 * ties by (entity, seq). So here the reader runs in time order too, and the trace's events of one
 * time are held back (copied) until a later time comes, then fed sorted by (entity, seq): the
 * builder gets the very calls the loader makes, in the same order:
 *   - each event as the store returns it (time_orig_ns = time_ns: the model takes original
 *     times from the processes' offsets);
 *   - each process described when its first event comes, processes that share (instance, pid)
 *     being one, with the first clock offset the table gives for (instance, pid);
 *   - after the trace's events, the untraced naming events (cfg.entity_events) of its entities,
 *     with an unknown process.
 * Where the orders could still differ, the model is given up rather than be different: a time
 * that goes backwards (the reader's merge assumes each stream in time order), an event ID twice
 * in one time, or duplicates the store dropped (it keeps one copy per ID across all traces).
 */
#include "cli/view_warm.h"

#include <stdlib.h>
#include <string.h>

#define PROC_NAMES (UINT32_MAX - 1) /* the loader gives naming events an unknown process */

typedef struct wproc {
	uint8_t instance[16];
	uint64_t pid;
} wproc;

typedef struct rkey {
	uint64_t entity, seq;
	size_t i;
} rkey;

struct hx__view_warm {
	hx_reader *r;
	const hx__clock_entry *offsets;
	size_t noffsets;
	hx__view_builder *b;          /* NULL until the first event, and once given up */
	int chosen, gave_up;
	uint8_t trace[16];
	/* processes, numbered as the loader numbers them; map: reader process -> number + 1 */
	wproc *procs;
	size_t nprocs, procs_cap;
	uint32_t *map;
	size_t map_cap;
	/* the run: the trace's events of time run_time, not fed yet */
	hx__evcopy run;
	size_t *run_proc;
	rkey *keys;
	size_t run_cap;
	uint64_t run_time;
	/* the entities fed, for the naming events (open addressing; entity ID 0 is no entity) */
	uint64_t *ents;
	size_t nents, ents_cap;
	uint64_t last_ent;
};

int hx__view_warm_new(hx__view_warm **out, hx_reader *r, const hx__clock_entry *offsets,
                      size_t noffsets)
{
	hx__view_warm *w = calloc(1, sizeof(*w));
	*out = w;
	if (!w)
		return HX_ENOMEM;
	w->r = r;
	w->offsets = offsets;
	w->noffsets = noffsets;
	hx__evcopy_init(&w->run);
	return HX_OK;
}

static void release(hx__view_warm *w)
{
	hx__view_builder_free(w->b);
	w->b = NULL;
	hx__evcopy_free(&w->run);
	free(w->procs);
	free(w->map);
	free(w->run_proc);
	free(w->keys);
	free(w->ents);
	w->procs = NULL;
	w->map = NULL;
	w->run_proc = NULL;
	w->keys = NULL;
	w->ents = NULL;
	w->nprocs = w->procs_cap = w->map_cap = w->run_cap = w->nents = w->ents_cap = 0;
}

void hx__view_warm_free(hx__view_warm *w)
{
	if (!w)
		return;
	release(w);
	free(w);
}

void hx__view_warm_give_up(hx__view_warm *w)
{
	w->gave_up = 1;
	release(w);
}

const uint8_t *hx__view_warm_trace(const hx__view_warm *w)
{
	return w->chosen && !w->gave_up ? w->trace : NULL;
}

/* ---- what the loader does per event (api_view.c: proc_of, clock_offset, ent_note) ---- */

static int64_t clock_offset(const hx__view_warm *w, const hx_process_info *p)
{
	for (size_t i = 0; i < w->noffsets; i++)
		if (w->offsets[i].pid == p->pid && !memcmp(w->offsets[i].instance, p->instance, 16))
			return w->offsets[i].offset_ns;
	return 0;
}

/* The loader's number of reader process rp, described to the builder when new. */
static long proc_of(hx__view_warm *w, size_t rp)
{
	if (rp < w->map_cap && w->map[rp])
		return (long)w->map[rp] - 1;
	if (rp >= UINT32_MAX - 1)
		return HX_EINVAL;
	if (rp >= w->map_cap) {
		size_t cap = rp + 1 > 2 * w->map_cap ? rp + 1 : 2 * w->map_cap;
		uint32_t *m = realloc(w->map, cap * sizeof(*m));
		if (!m)
			return HX_ENOMEM;
		memset(m + w->map_cap, 0, (cap - w->map_cap) * sizeof(*m));
		w->map = m;
		w->map_cap = cap;
	}
	/* what cmd_view.c's flush gives the store for this process, and so the store gives back */
	static const hx_process_info none;
	const hx_process_info *p = hx_reader_process(w->r, rp);
	if (!p)
		p = &none;
	size_t i = 0;
	while (i < w->nprocs &&
	       (w->procs[i].pid != p->pid || memcmp(w->procs[i].instance, p->instance, 16)))
		i++;
	if (i == w->nprocs) {
		if (w->nprocs == w->procs_cap) {
			size_t cap = w->procs_cap ? 2 * w->procs_cap : 16;
			wproc *v = realloc(w->procs, cap * sizeof(*v));
			if (!v)
				return HX_ENOMEM;
			w->procs = v;
			w->procs_cap = cap;
		}
		int rc = hx__view_builder_process(w->b, (uint32_t)i, p->host ? p->host : "",
		                                  p->service ? p->service : "",
		                                  p->program ? p->program : "", p->pid,
		                                  clock_offset(w, p));
		if (rc != HX_OK)
			return rc;
		memcpy(w->procs[i].instance, p->instance, 16);
		w->procs[i].pid = p->pid;
		w->nprocs++;
	}
	w->map[rp] = (uint32_t)i + 1;
	return (long)i;
}

static size_t ent_slot(const uint64_t *v, size_t cap, uint64_t id)
{
	size_t j = (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
	while (v[j] && v[j] != id)
		j = (j + 1) & (cap - 1);
	return j;
}

static int ent_note(hx__view_warm *w, uint64_t id)
{
	if (!id || id == w->last_ent)
		return HX_OK;
	w->last_ent = id;
	if (2 * (w->nents + 1) > w->ents_cap) {
		size_t cap = w->ents_cap ? 2 * w->ents_cap : 256;
		uint64_t *v = calloc(cap, sizeof(*v));
		if (!v)
			return HX_ENOMEM;
		for (size_t i = 0; i < w->ents_cap; i++)
			if (w->ents[i])
				v[ent_slot(v, cap, w->ents[i])] = w->ents[i];
		free(w->ents);
		w->ents = v;
		w->ents_cap = cap;
	}
	size_t j = ent_slot(w->ents, w->ents_cap, id);
	if (!w->ents[j]) {
		w->ents[j] = id;
		w->nents++;
	}
	return HX_OK;
}

/* ---- the run of one time ---- */

static int key_cmp(const void *a, const void *b)
{
	const rkey *x = a, *y = b;
	if (x->entity != y->entity)
		return x->entity < y->entity ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Feed the run in the store's order of one time: by (entity, seq). */
static int feed_run(hx__view_warm *w)
{
	size_t n = w->run.n;
	for (size_t i = 0; i < n; i++)
		w->keys[i] = (rkey){w->run.ev[i].entity_id, w->run.ev[i].seq, i};
	if (n > 1)
		qsort(w->keys, n, sizeof(*w->keys), key_cmp);
	for (size_t k = 0; k < n; k++) {
		/* one ID twice: which copy the store kept is its own affair */
		if (k && !key_cmp(&w->keys[k - 1], &w->keys[k]))
			return HX_EINVAL;
		hx_event ev = w->run.ev[w->keys[k].i];
		ev.time_orig_ns = ev.time_ns;
		long p = proc_of(w, w->run_proc[w->keys[k].i]);
		if (p < 0)
			return (int)p;
		int rc = hx__view_builder_add(w->b, &ev, (uint32_t)p);
		if (rc == HX_OK)
			rc = ent_note(w, ev.entity_id);
		if (rc != HX_OK) /* HX_EINVAL past the DAG's limit: the loader fails there too */
			return rc;
	}
	hx__evcopy_reset(&w->run);
	return HX_OK;
}

void hx__view_warm_event(hx__view_warm *w, const hx_event *ev, size_t proc)
{
	if (w->gave_up)
		return;
	if (!w->chosen) {
		w->chosen = 1;
		memcpy(w->trace, ev->trace_id, 16);
		if (hx__view_builder_new(&w->b, w->trace, 0) != HX_OK) {
			hx__view_warm_give_up(w);
			return;
		}
	} else if (memcmp(ev->trace_id, w->trace, 16)) {
		return;
	}
	if (ev->time_ns < w->run_time || (ev->time_ns > w->run_time && w->run.n && feed_run(w))) {
		hx__view_warm_give_up(w);
		return;
	}
	w->run_time = ev->time_ns;
	if (w->run.n == w->run_cap) {
		size_t cap = w->run_cap ? 2 * w->run_cap : 64;
		size_t *rp = realloc(w->run_proc, cap * sizeof(*rp));
		if (rp)
			w->run_proc = rp;
		rkey *k = realloc(w->keys, cap * sizeof(*k));
		if (k)
			w->keys = k;
		if (!rp || !k) {
			hx__view_warm_give_up(w);
			return;
		}
		w->run_cap = cap;
	}
	w->run_proc[w->run.n] = proc;
	if (hx__evcopy_add(&w->run, ev) != HX_OK)
		hx__view_warm_give_up(w);
}

hx__view *hx__view_warm_finish(hx__view_warm *w, const uint8_t trace_id[16],
                               const hx_event *names, size_t nnames)
{
	if (!w->b || w->gave_up || memcmp(trace_id, w->trace, 16))
		return NULL;
	int rc = w->run.n ? feed_run(w) : HX_OK;
	/* the loader's add_entity_names */
	for (size_t i = 0; i < nnames && w->nents && rc == HX_OK; i++) {
		const hx_event *ev = &names[i];
		if (ev->entity_id && w->ents[ent_slot(w->ents, w->ents_cap, ev->entity_id)])
			rc = hx__view_builder_add(w->b, ev, PROC_NAMES);
	}
	hx__view *v = NULL;
	if (rc == HX_OK)
		rc = hx__view_builder_finish(w->b, &v);
	else
		hx__view_builder_free(w->b);
	w->b = NULL;
	release(w);
	return rc == HX_OK ? v : NULL;
}
