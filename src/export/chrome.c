/*
 * chrome.c - Chrome Trace Event JSON, the format Perfetto UI and chrome://tracing open
 * (docs/interchange.md, "Export" says what becomes what).
 *
 * Processes are pids and entities are tids, each named by metadata ("M") events. Blocks are
 * complete events ("X"), points and errors are thread-scoped instants ("i"), counters are
 * counter events ("C"), waits are "X" events of category "wait", and every interaction is a flow:
 * "s" at the cause, "f" with "bp":"e" at the effect, with one id per cause->effect edge.
 *
 * WHY EACH CAUSE AND EFFECT IS A ZERO-LENGTH SLICE. A flow event binds to a slice, not to an
 * instant: Perfetto binds "s" (and "f" with bp "e") to the slice on top of the thread's stack when
 * the flow event is read; chrome://tracing to the slice enclosing its timestamp; Chrome DevTools
 * to the event with the same cat, pid, tid and ts. Bound to the enclosing block, an arrow would be
 * lost where the cause lies outside any block, and Perfetto, which pops an ended "X" slice only
 * when the next slice arrives, would bind it to a block that had already ended. So each cause and
 * effect event is itself an "X" slice of duration 0 and category "interaction", written just
 * before its flow events with the same ts, pid, tid and category: every viewer binds the arrow to
 * exactly that instant, nested inside the blocks around it.
 *
 * TIME. ts and dur are microseconds with the nanoseconds as three decimals, counted from an
 * origin: the input's earliest event rounded down to the second (metadata.time_origin_ns). Viewers
 * read ts as a double, which holds 15-16 significant digits: epoch microseconds with three
 * decimals would lose the nanoseconds, offsets of up to days do not.
 *
 * NESTING. Slices of one tid nest by construction: blocks come from the DAG's stack, interaction
 * slices have no length, and a wait that does not fit inside the blocks around it (a block begun
 * or ended while waiting) is cut at the first block boundary, with its full length in its args.
 * Events are written entity by entity in event order, so each tid's timestamps never decrease and
 * a slice is always written before the slices and flows it contains.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export/procs.h"

typedef struct chrome {
	const hx__export_input *in;
	const hx__dag *d;
	hx__xw *w;
	hx__export_stats *st;
	hx__xprocs P;
	uint64_t origin;
	uint64_t nev;              /* trace events written */
	/* flows: (cause event, cause slot) sorted by cause; flow id of each cause slot (0: none) */
	hx__xpair *flow;
	size_t nflow;
	uint32_t *slot_flow;
	hx__xa args;
	hx__buf tmp;
} chrome;

#define OUT (&c->w->b)

static void check(chrome *c, int rc)
{
	hx__xw_check(c->w, rc);
}

/* {"name":..,"cat":..,"ph":..,"ts":..,"pid":..,"tid":.. : the caller adds the rest and '}' */
static void head(chrome *c, const char *name, size_t nlen, const char *cat, const char *ph,
                 uint64_t t, uint32_t e)
{
	int err = hx__buf_puts(OUT, c->nev++ ? ",\n{\"name\":" : "\n{\"name\":");
	err |= hx__xj_str(OUT, name, nlen);
	err |= hx__buf_puts(OUT, ",\"cat\":\"");
	err |= hx__buf_puts(OUT, cat);
	err |= hx__buf_puts(OUT, "\",\"ph\":\"");
	err |= hx__buf_puts(OUT, ph);
	err |= hx__buf_puts(OUT, "\",\"ts\":");
	err |= hx__xj_micros(OUT, t >= c->origin ? t - c->origin : 0);
	err |= hx__buf_puts(OUT, ",\"pid\":");
	err |= hx__xj_u64(OUT, c->P.chrome_pid[c->P.ent_proc[e]]);
	err |= hx__buf_puts(OUT, ",\"tid\":");
	err |= hx__xj_u64(OUT, c->P.chrome_tid[e]);
	check(c, err);
}

static void dur(chrome *c, uint64_t from, uint64_t to)
{
	int err = hx__buf_puts(OUT, ",\"dur\":");
	err |= hx__xj_micros(OUT, to > from ? to - from : 0);
	check(c, err);
}

static void args_open(chrome *c)
{
	hx__xa_reset(&c->args, OUT);
	check(c, hx__buf_puts(OUT, ",\"args\":{"));
}

static void args_close(chrome *c)
{
	check(c, c->args.err);
	c->args.err = 0;
	check(c, hx__buf_puts(OUT, "}}"));
}

static void args_event(chrome *c, uint32_t i)
{
	hx__xrec r;
	if (hx__xrec_get(c->in, i, &r))
		hx__xa_rec(&c->args, &r);
}

static const char *ev_name(chrome *c, uint32_t i, size_t *len)
{
	const char *n = hx__dag_str(c->d, c->d->ev_name[i]);
	if (!*n) /* an event without a name is shown by its kind */
		n = hx_event_kind_name(c->d->ev_kind[i]) ? hx_event_kind_name(c->d->ev_kind[i]) : "event";
	*len = strlen(n);
	return n;
}

static const char *ia_name(int ia)
{
	const char *n = hx_interaction_name(ia);
	return n ? n : "causal";
}

static void trace_arg(chrome *c, uint32_t i)
{
	uint32_t t = c->d->ev_trace[i];
	if (t == HX__DAG_NONE)
		return;
	hx__buf_reset(&c->tmp);
	check(c, hx__xj_hex128(&c->tmp, c->d->traces[t].id));
	hx__xa_str(&c->args, "trace", c->tmp.p, c->tmp.len);
}

/* ---- the pieces ---- */

static void block_slice(chrome *c, uint32_t bi)
{
	const hx__dag *d = c->d;
	const hx__dag_block *bl = &d->blocks[bi];
	const char *name = hx__dag_str(d, bl->name);
	head(c, name, strlen(name), "block", "X", d->ev_time[bl->begin], bl->entity);
	dur(c, d->ev_time[bl->begin], d->ev_time[bl->end]);
	args_open(c);
	args_event(c, bl->begin);
	size_t lo, hi;
	hx__xpair_range(c->in->ann_block, c->in->nann_block, bi, &lo, &hi);
	for (size_t k = lo; k < hi; k++)
		args_event(c, c->in->ann_block[k].b);
	if (!(bl->flags & HX__BLK_REPAIRED))
		args_event(c, bl->end); /* the end's attributes (a repaired block's end is not its own) */
	else
		hx__xa_bool(&c->args, "unterminated", 1);
	trace_arg(c, bl->begin);
	args_close(c);
}

static void wait_slice(chrome *c, uint32_t wi)
{
	const hx__dag *d = c->d;
	const hx__dag_wait *wt = &d->waits[wi];
	uint32_t s = wt->start, e = wt->end;
	const char *reason = hx__dag_str(d, wt->reason);
	uint64_t end = d->ev_time[e];
	int cut = 0;
	if (e > s && d->ev_block[e - 1] != d->ev_block[s]) {
		/* a block began or ended while waiting: cut at the first boundary, so slices nest */
		for (uint32_t j = s + 1; j < e; j++) {
			if (d->ev_kind[j] == HX_EV_BLOCK_BEGIN || d->ev_kind[j] == HX_EV_BLOCK_END) {
				end = d->ev_time[j];
				cut = 1;
				break;
			}
		}
	}
	const char *name = *reason ? reason : "waiting";
	head(c, name, strlen(name), "wait", "X", d->ev_time[s], wt->entity);
	dur(c, d->ev_time[s], end);
	args_open(c);
	if (*reason)
		hx__xa_str(&c->args, "reason", reason, strlen(reason));
	if (wt->flags & HX__WAIT_UNTERMINATED)
		hx__xa_bool(&c->args, "unterminated", 1);
	if (cut) {
		hx__xa_bool(&c->args, "cut_at_block_boundary", 1);
		hx__xa_int(&c->args, "full_dur_ns", (int64_t)(d->ev_time[e] - d->ev_time[s]));
	}
	args_close(c);
}

static void instant(chrome *c, uint32_t i, const char *cat)
{
	size_t len;
	const char *name = ev_name(c, i, &len);
	head(c, name, len, cat, "i", c->d->ev_time[i], c->d->ev_entity[i]);
	check(c, hx__buf_puts(OUT, ",\"s\":\"t\""));
	args_open(c);
	args_event(c, i);
	args_close(c);
}

static void counter(chrome *c, uint32_t i)
{
	hx__xrec r;
	if (!hx__xrec_get(c->in, i, &r))
		return;
	if (!r.counter_is_int && !isfinite(r.counter_double)) {
		c->st->nonfinite++; /* NaN or infinite: JSON has no number for it */
		return;
	}
	size_t len;
	const char *name = ev_name(c, i, &len);
	head(c, name, len, "counter", "C", c->d->ev_time[i], c->d->ev_entity[i]);
	/* the series is named by its unit, so Perfetto shows "name unit" */
	int err = hx__buf_puts(OUT, ",\"args\":{");
	err |= r.unit_len ? hx__xj_str(OUT, r.unit, r.unit_len) : hx__buf_puts(OUT, "\"value\"");
	err |= hx__buf_putc(OUT, ':');
	err |= r.counter_is_int ? hx__xj_i64(OUT, r.counter_int) : hx__xj_double(OUT, r.counter_double);
	err |= hx__buf_puts(OUT, "}}");
	check(c, err);
}

/* The zero-length slice an interaction's flows bind to. */
static void interaction_slice(chrome *c, uint32_t i)
{
	const hx__dag *d = c->d;
	size_t len;
	const char *name = ev_name(c, i, &len);
	head(c, name, len, "interaction", "X", d->ev_time[i], d->ev_entity[i]);
	check(c, hx__buf_puts(OUT, ",\"dur\":0"));
	args_open(c);
	const char *kind = hx_event_kind_name(d->ev_kind[i]);
	hx__xa_str(&c->args, "kind", kind ? kind : "event", strlen(kind ? kind : "event"));
	if (d->ev_ia[i]) {
		const char *ia = ia_name(d->ev_ia[i]);
		hx__xa_str(&c->args, "interaction", ia, strlen(ia));
	}
	uint32_t unlinked = 0;
	for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1]; k++)
		if (!c->slot_flow[k])
			unlinked++;
	if (unlinked)
		hx__xa_int(&c->args, "causes_not_in_input", unlinked);
	if (d->ev_kind[i] == HX_EV_CAUSE || d->ev_kind[i] == HX_EV_EFFECT)
		args_event(c, i);
	trace_arg(c, i);
	args_close(c);
}

static void flow(chrome *c, uint32_t at, uint32_t effect, uint32_t id, int end)
{
	const char *ia = ia_name(c->d->ev_ia[effect]);
	head(c, ia, strlen(ia), "interaction", end ? "f" : "s", c->d->ev_time[at], c->d->ev_entity[at]);
	int err = hx__buf_puts(OUT, ",\"id\":");
	err |= hx__xj_u64(OUT, id);
	err |= hx__buf_puts(OUT, end ? ",\"bp\":\"e\"}" : "}");
	check(c, err);
	c->st->flows += !end;
}

/* ---- an entity's events ---- */

static size_t first_wait(const hx__dag *d, uint32_t from)
{
	size_t lo = 0, hi = d->nwaits;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (d->waits[m].start < from)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

static void entity_events(chrome *c, uint32_t e)
{
	const hx__dag *d = c->d;
	const hx__dag_entity *en = &d->entities[e];
	size_t bc = hx__x_first_block(d, en->first), wc = first_wait(d, en->first), fc, fhi;
	hx__xpair_range(c->flow, c->nflow, en->first, &fc, &fhi);
	(void)fhi;
	for (uint32_t i = en->first; i < en->first + en->count && !c->w->err; i++) {
		int kind = d->ev_kind[i];
		int has_in = 0, has_out = fc < c->nflow && c->flow[fc].a == i;
		for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1] && !has_in; k++)
			has_in = c->slot_flow[k] != 0;
		switch (kind) {
		case HX_EV_BLOCK_BEGIN:
			while (bc < d->nblocks && d->blocks[bc].begin < i)
				bc++;
			if (bc < d->nblocks && d->blocks[bc].begin == i)
				block_slice(c, (uint32_t)bc);
			break;
		case HX_EV_STATE:
			while (wc < d->nwaits && d->waits[wc].start < i)
				wc++;
			if (wc < d->nwaits && d->waits[wc].start == i)
				wait_slice(c, (uint32_t)wc);
			break;
		case HX_EV_POINT:
			instant(c, i, "point");
			break;
		case HX_EV_ERROR:
			instant(c, i, "error");
			break;
		case HX_EV_COUNTER:
			counter(c, i);
			break;
		case HX_EV_TRACE_END:
			instant(c, i, "trace");
			break;
		case HX_EV_TRACE_BEGIN:
		case HX_EV_TRACE_JOIN:
			if (!has_in && !has_out)
				instant(c, i, "trace");
			break;
		default: /* ENTITY_BEGIN/END, BLOCK_END, ANNOTATE: shown by the slices and names */
			break;
		}
		/* causes and effects are slices always; anything else that an arrow starts or ends at
		 * gets one too */
		if (kind == HX_EV_CAUSE || kind == HX_EV_EFFECT || has_in || has_out)
			interaction_slice(c, i);
		for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1]; k++)
			if (c->slot_flow[k])
				flow(c, i, i, c->slot_flow[k], 1);
		for (; fc < c->nflow && c->flow[fc].a == i; fc++) {
			uint32_t slot = c->flow[fc].b;
			/* the effect is the event whose cause slot this is */
			size_t lo = 0, hi = d->n;
			while (lo + 1 < hi) {
				size_t m = lo + (hi - lo) / 2;
				if (d->cause_off[m] <= slot)
					lo = m;
				else
					hi = m;
			}
			flow(c, i, (uint32_t)lo, c->slot_flow[slot], 0);
		}
		hx__xw_flush(c->w, 0);
	}
}

/* ---- metadata ---- */

static void meta(chrome *c, const char *what, uint64_t pid, uint64_t tid)
{
	int err = hx__buf_puts(OUT, c->nev++ ? ",\n{\"name\":\"" : "\n{\"name\":\"");
	err |= hx__buf_puts(OUT, what);
	err |= hx__buf_puts(OUT, "\",\"ph\":\"M\",\"pid\":");
	err |= hx__xj_u64(OUT, pid);
	err |= hx__buf_puts(OUT, ",\"tid\":");
	err |= hx__xj_u64(OUT, tid);
	err |= hx__buf_puts(OUT, ",\"args\":{");
	check(c, err);
	hx__xa_reset(&c->args, OUT);
}

static void processes_and_threads(chrome *c)
{
	const hx__dag *d = c->d;
	char buf[40];
	for (size_t q = 0; q < c->P.nprocs; q++) {
		const hx__dag_entity *rep = &d->entities[c->P.proc_ent[q]];
		uint64_t pid = c->P.chrome_pid[q];
		const char *prog = hx__dag_str(d, rep->program), *host = hx__dag_str(d, rep->host);
		/* process-wide events carry the main thread's tid, as Chrome writes them */
		meta(c, "process_name", pid, pid);
		hx__xa_str(&c->args, "name", *prog ? prog : "(unknown)", strlen(*prog ? prog : "(unknown)"));
		args_close(c);
		meta(c, "process_labels", pid, pid);
		hx__buf_reset(&c->tmp);
		int err = 0;
		if (*host) {
			err |= hx__buf_puts(&c->tmp, "host=");
			err |= hx__buf_puts(&c->tmp, host);
			err |= hx__buf_putc(&c->tmp, ',');
		}
		err |= hx__buf_puts(&c->tmp, "pid=");
		err |= hx__xj_u64(&c->tmp, rep->pid);
		check(c, err);
		hx__xa_str(&c->args, "labels", c->tmp.p, c->tmp.len);
		args_close(c);
		meta(c, "process_sort_index", pid, pid);
		hx__xa_int(&c->args, "sort_index", (int64_t)q);
		args_close(c);
		for (size_t k = c->P.proc_off[q]; k < c->P.proc_off[q + 1]; k++) {
			uint32_t e = c->P.order[k];
			const hx__dag_entity *en = &d->entities[e];
			const char *name = hx__x_entity_name(d, e, buf, sizeof(buf));
			meta(c, "thread_name", pid, c->P.chrome_tid[e]);
			hx__xa_str(&c->args, "name", name, strlen(name));
			hx__buf_reset(&c->tmp);
			check(c, hx__xj_hex64(&c->tmp, en->id));
			hx__xa_str(&c->args, "entity", c->tmp.p, c->tmp.len);
			static const char *const kinds[] = {"", "thread", "coroutine", "task", "process"};
			if (en->kind >= 1 && en->kind <= 4)
				hx__xa_str(&c->args, "entity_kind", kinds[en->kind], strlen(kinds[en->kind]));
			if (c->in->ent_tid[e])
				hx__xa_int(&c->args, "os_tid", (int64_t)c->in->ent_tid[e]);
			size_t lo, hi;
			hx__xpair_range(c->in->ann_entity, c->in->nann_entity, e, &lo, &hi);
			for (size_t a = lo; a < hi; a++)
				args_event(c, c->in->ann_entity[a].b);
			args_close(c);
			meta(c, "thread_sort_index", pid, c->P.chrome_tid[e]);
			hx__xa_int(&c->args, "sort_index", (int64_t)k);
			args_close(c);
		}
		hx__xw_flush(c->w, 0);
	}
}

static void trailer(chrome *c)
{
	const hx__dag *d = c->d;
	int err = hx__buf_puts(OUT, "\n],\"displayTimeUnit\":\"ns\",\"metadata\":{\"source\":\"haruspex\",\"version\":");
	err |= hx__xj_cstr(OUT, hx_version());
	err |= hx__buf_puts(OUT, ",\"time_origin_ns\":\"");
	err |= hx__xj_u64(OUT, c->origin);
	err |= hx__buf_puts(OUT, "\",\"time_origin\":\"");
	err |= hx__time_iso(OUT, c->origin);
	err |= hx__buf_puts(OUT, "\",\"traces\":[");
	check(c, err);
	for (size_t t = 0; t < d->ntraces && !c->w->err; t++) {
		const hx__dag_trace *tr = &d->traces[t];
		const char *root = hx__dag_str(d, tr->root_name);
		err = hx__buf_puts(OUT, t ? ",{\"trace_id\":\"" : "{\"trace_id\":\"");
		err |= hx__xj_hex128(OUT, tr->id);
		err |= hx__buf_puts(OUT, "\",\"name\":");
		err |= hx__xj_str(OUT, root, strlen(root));
		err |= hx__buf_puts(OUT, ",\"start_ns\":\"");
		err |= hx__xj_u64(OUT, tr->first_ns);
		err |= hx__buf_puts(OUT, "\",\"end_ns\":\"");
		err |= hx__xj_u64(OUT, tr->last_ns);
		err |= hx__buf_puts(OUT, "\",\"events\":");
		err |= hx__xj_u64(OUT, tr->events);
		err |= hx__buf_puts(OUT, ",\"attributes\":{");
		check(c, err);
		hx__xa_reset(&c->args, OUT);
		size_t lo, hi;
		hx__xpair_range(c->in->ann_trace, c->in->nann_trace, (uint32_t)t, &lo, &hi);
		for (size_t a = lo; a < hi; a++)
			args_event(c, c->in->ann_trace[a].b);
		args_close(c);
		hx__xw_flush(c->w, 0);
	}
	err = hx__buf_puts(OUT, "],\"events\":");
	err |= hx__xj_u64(OUT, d->n);
	err |= hx__buf_puts(OUT, ",\"nonfinite_counters_left_out\":");
	err |= hx__xj_u64(OUT, c->st->nonfinite);
	err |= hx__buf_puts(OUT, "}}\n");
	check(c, err);
}

/* Flow ids: one per linked cause slot, numbered in the order of their cause events. */
static int build_flows(chrome *c)
{
	const hx__dag *d = c->d;
	c->slot_flow = calloc(d->ncauses ? d->ncauses : 1, sizeof(*c->slot_flow));
	if (!c->slot_flow)
		return HX_ENOMEM;
	size_t n = 0;
	for (size_t k = 0; k < d->ncauses; k++)
		if ((d->cause_cls[k] & HX__CC_MASK) == HX__CC_LINKED && d->cause_ev[k] != HX__DAG_NONE)
			n++;
	c->flow = malloc((n ? n : 1) * sizeof(*c->flow));
	if (!c->flow)
		return HX_ENOMEM;
	for (size_t k = 0; k < d->ncauses; k++)
		if ((d->cause_cls[k] & HX__CC_MASK) == HX__CC_LINKED && d->cause_ev[k] != HX__DAG_NONE) {
			c->flow[c->nflow].a = d->cause_ev[k];
			c->flow[c->nflow].b = (uint32_t)k;
			c->nflow++;
		}
	hx__xpair_sort(c->flow, c->nflow);
	for (size_t f = 0; f < c->nflow; f++)
		c->slot_flow[c->flow[f].b] = (uint32_t)f + 1;
	return HX_OK;
}

int hx__export_chrome(const hx__export_input *in, hx__xw *w, hx__export_stats *st)
{
	chrome ctx, *c = &ctx;
	memset(c, 0, sizeof(*c));
	c->in = in;
	c->d = in->dag;
	c->w = w;
	c->st = st;
	hx__xa_init(&c->args, OUT, HX__XA_ARGS);
	int rc = hx__xprocs_build(&c->P, in);
	if (!rc)
		rc = build_flows(c);
	if (rc) {
		hx__xprocs_free(&c->P);
		free(c->flow);
		free(c->slot_flow);
		hx__xa_free(&c->args);
		return rc;
	}
	const hx__dag *d = c->d;
	uint64_t min = UINT64_MAX;
	for (size_t i = 0; i < d->n; i++)
		if (d->ev_time[i] < min)
			min = d->ev_time[i];
	c->origin = d->n ? min - min % 1000000000u : 0;

	check(c, hx__buf_puts(OUT, "{\"traceEvents\":["));
	processes_and_threads(c);
	for (size_t k = 0; k < c->P.proc_off[c->P.nprocs] && !w->err; k++)
		entity_events(c, c->P.order[k]);
	trailer(c);
	st->items = c->nev;
	hx__xprocs_free(&c->P);
	free(c->flow);
	free(c->slot_flow);
	hx__xa_free(&c->args);
	hx__buf_free(&c->tmp);
	return w->err;
}
