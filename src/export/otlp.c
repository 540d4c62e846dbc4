/*
 * otlp.c - OTLP/JSON: one ExportTraceServiceRequest holding every span of the input
 * (docs/interchange.md, "Export"; spans.c says how blocks become spans and find their parents).
 *
 * The JSON follows OTLP's JSON encoding of the protobuf messages: field names in lowerCamelCase,
 * trace and span IDs as lower-case hex (not base64), 64-bit integers (times, intValue) as decimal
 * strings, enums (kind, status code) as numbers, absent optional fields left out.
 *
 * One resourceSpans per process (service.name, host.name, process.pid), one scopeSpans
 * ("haruspex") in each. Per span: its block's attributes (the begin's, any annotations, the end's)
 * with the entity as thread.name, thread.id and hx.entity; points, errors ("exception"), counters
 * and waits directly inside the block as span events; every other linked cause as a link; status
 * ERROR with the first error's message when the block holds an error. A span's events and links
 * are written in two passes over the block's own events, so no span is ever held in memory whole.
 */
#include <string.h>

#include "export/procs.h"
#include "export/spans.h"

typedef struct otlp {
	const hx__export_input *in;
	const hx__dag *d;
	hx__xw *w;
	hx__export_stats *st;
	hx__xprocs P;
	hx__xspans S;
	hx__xa attrs;
	hx__buf tmp;
} otlp;

#define OUT (&o->w->b)

static void check(otlp *o, int rc)
{
	hx__xw_check(o->w, rc);
}

static void attrs_open(otlp *o, const char *member)
{
	hx__xa_reset(&o->attrs, OUT);
	int err = hx__buf_puts(OUT, member);
	err |= hx__buf_puts(OUT, ":[");
	check(o, err);
}

static void attrs_close(otlp *o)
{
	check(o, o->attrs.err);
	o->attrs.err = 0;
	check(o, hx__buf_putc(OUT, ']'));
}

static void attrs_event(otlp *o, uint32_t i)
{
	hx__xrec r;
	if (hx__xrec_get(o->in, i, &r))
		hx__xa_rec(&o->attrs, &r);
}

static void nanos(otlp *o, const char *member, uint64_t ns)
{
	int err = hx__buf_puts(OUT, member);
	err |= hx__buf_puts(OUT, ":\"");
	err |= hx__xj_u64(OUT, ns);
	err |= hx__buf_putc(OUT, '"');
	check(o, err);
}

static const char *name_of(const hx__dag *d, uint32_t i)
{
	return hx__dag_str(d, d->ev_name[i]);
}

/* One span event; returns 1 if i was one. */
static int span_event(otlp *o, uint32_t i, size_t *count, const char **first_error)
{
	const hx__dag *d = o->d;
	int kind = d->ev_kind[i];
	uint32_t wt = HX__DAG_NONE;
	if (kind == HX_EV_STATE) {
		wt = hx__dag_wait_after(d, i);
		if (wt == HX__DAG_NONE || d->waits[wt].start != i)
			return 0;
	} else if (kind != HX_EV_POINT && kind != HX_EV_ERROR && kind != HX_EV_COUNTER) {
		return 0;
	}
	const char *name = name_of(d, i);
	if (kind == HX_EV_ERROR) {
		if (!*first_error)
			*first_error = name;
		name = "exception"; /* OpenTelemetry's name for an error event */
	} else if (kind == HX_EV_STATE) {
		name = "wait";
	}
	int err = hx__buf_puts(OUT, (*count)++ ? ",{" : "{");
	check(o, err);
	nanos(o, "\"timeUnixNano\"", d->ev_time[i]);
	err = hx__buf_puts(OUT, ",\"name\":");
	err |= hx__xj_cstr(OUT, name);
	err |= hx__buf_putc(OUT, ',');
	check(o, err);
	attrs_open(o, "\"attributes\"");
	hx__xrec r;
	int has = hx__xrec_get(o->in, i, &r);
	if (kind == HX_EV_ERROR) {
		const char *msg = name_of(d, i);
		hx__xa_str(&o->attrs, "exception.message", msg, strlen(msg));
	} else if (kind == HX_EV_COUNTER && has) {
		if (r.counter_is_int)
			hx__xa_int(&o->attrs, "hx.counter.value", r.counter_int);
		else
			hx__xa_double(&o->attrs, "hx.counter.value", r.counter_double);
		if (r.unit_len)
			hx__xa_str(&o->attrs, "hx.counter.unit", r.unit, r.unit_len);
	} else if (kind == HX_EV_STATE) {
		const hx__dag_wait *w = &d->waits[wt];
		const char *reason = hx__dag_str(d, w->reason);
		if (*reason)
			hx__xa_str(&o->attrs, "hx.wait.reason", reason, strlen(reason));
		hx__xa_int(&o->attrs, "hx.wait.duration_ns",
		           (int64_t)(d->ev_time[w->end] >= d->ev_time[w->start]
		                         ? d->ev_time[w->end] - d->ev_time[w->start] : 0));
	}
	if (has)
		hx__xa_rec(&o->attrs, &r);
	attrs_close(o);
	check(o, hx__buf_putc(OUT, '}'));
	return 1;
}

/* The links of effect j, as a link of span b. */
static void effect_links(otlp *o, uint32_t b, uint32_t j, size_t *count)
{
	const hx__dag *d = o->d;
	for (uint32_t k = d->cause_off[j]; k < d->cause_off[j + 1]; k++) {
		uint32_t c = d->cause_ev[k];
		if ((d->cause_cls[k] & HX__CC_MASK) != HX__CC_LINKED || c == HX__DAG_NONE)
			continue; /* not in the input: nothing to point at */
		uint32_t to = hx__xspans_of_cause(&o->S, c);
		if (to == HX__DAG_NONE) {
			o->st->links_dropped++;
			continue;
		}
		if (to == b || to == o->S.parent[b])
			continue; /* the span itself, or its parent: the tree says it already */
		int err = hx__buf_puts(OUT, (*count)++ ? ",{\"traceId\":\"" : "{\"traceId\":\"");
		err |= hx__xj_hex128(OUT, d->traces[d->ev_trace[d->blocks[to].begin]].id);
		err |= hx__buf_puts(OUT, "\",\"spanId\":\"");
		err |= hx__xj_hex64(OUT, hx__xspan_id(d, to));
		err |= hx__buf_puts(OUT, "\",");
		check(o, err);
		attrs_open(o, "\"attributes\"");
		const char *ia = hx_interaction_name(d->ev_ia[j]);
		hx__xa_str(&o->attrs, "hx.interaction", ia ? ia : "causal", strlen(ia ? ia : "causal"));
		hx__xa_str(&o->attrs, "hx.effect", name_of(d, j), strlen(name_of(d, j)));
		hx__xa_str(&o->attrs, "hx.cause", name_of(d, c), strlen(name_of(d, c)));
		attrs_close(o);
		check(o, hx__buf_putc(OUT, '}'));
		o->st->flows++;
		hx__xw_flush(o->w, 0);
	}
}

static void span(otlp *o, uint32_t b, size_t *nspans)
{
	const hx__dag *d = o->d;
	const hx__dag_block *bl = &d->blocks[b];
	uint32_t t = d->ev_trace[bl->begin];
	char buf[40];

	int err = hx__buf_puts(OUT, (*nspans)++ ? ",\n{\"traceId\":\"" : "\n{\"traceId\":\"");
	err |= hx__xj_hex128(OUT, d->traces[t].id);
	err |= hx__buf_puts(OUT, "\",\"spanId\":\"");
	err |= hx__xj_hex64(OUT, hx__xspan_id(d, b));
	if (o->S.parent[b] != HX__DAG_NONE) {
		err |= hx__buf_puts(OUT, "\",\"parentSpanId\":\"");
		err |= hx__xj_hex64(OUT, hx__xspan_id(d, o->S.parent[b]));
	}
	err |= hx__buf_puts(OUT, "\",\"name\":");
	err |= hx__xj_cstr(OUT, hx__dag_str(d, bl->name));
	err |= hx__buf_putc(OUT, ',');
	check(o, err);
	nanos(o, "\"startTimeUnixNano\"", d->ev_time[bl->begin]);
	check(o, hx__buf_putc(OUT, ','));
	nanos(o, "\"endTimeUnixNano\"", d->ev_time[bl->end]);
	check(o, hx__buf_putc(OUT, ','));

	attrs_open(o, "\"attributes\"");
	attrs_event(o, bl->begin);
	size_t lo, hi;
	hx__xpair_range(o->in->ann_block, o->in->nann_block, b, &lo, &hi);
	for (size_t k = lo; k < hi; k++)
		attrs_event(o, o->in->ann_block[k].b);
	if (!(bl->flags & HX__BLK_REPAIRED))
		attrs_event(o, bl->end);
	else
		hx__xa_bool(&o->attrs, "hx.unterminated", 1);
	const char *ename = hx__x_entity_name(d, bl->entity, buf, sizeof(buf));
	hx__xa_str(&o->attrs, "thread.name", ename, strlen(ename));
	if (o->in->ent_tid[bl->entity])
		hx__xa_int(&o->attrs, "thread.id", (int64_t)o->in->ent_tid[bl->entity]);
	hx__buf_reset(&o->tmp);
	check(o, hx__xj_hex64(&o->tmp, d->entities[bl->entity].id));
	hx__xa_str(&o->attrs, "hx.entity", o->tmp.p, o->tmp.len);
	if (o->S.trace_root[t] == b) {
		const char *root = hx__dag_str(d, d->traces[t].root_name);
		if (*root)
			hx__xa_str(&o->attrs, "hx.trace.name", root, strlen(root));
		hx__xpair_range(o->in->ann_trace, o->in->nann_trace, t, &lo, &hi);
		for (size_t k = lo; k < hi; k++)
			attrs_event(o, o->in->ann_trace[k].b);
	}
	attrs_close(o);

	/* pass 1: span events, and what the block's own events say of its kind and status */
	int kind = hx__xspans_start_kind(&o->S, b);
	const char *first_error = NULL;
	size_t n = 0;
	check(o, hx__buf_puts(OUT, ",\"events\":["));
	for (uint32_t i = hx__xspans_next(&o->S, b, bl->begin); i != HX__DAG_NONE && !o->w->err;
	     i = hx__xspans_next(&o->S, b, i)) {
		span_event(o, i, &n, &first_error);
		if (!kind)
			kind = hx__xspans_event_kind(d, i);
		hx__xw_flush(o->w, 0);
	}
	/* pass 2: links, from the block's own effects and those it carries */
	n = 0;
	check(o, hx__buf_puts(OUT, "],\"links\":["));
	hx__xpair_range(o->S.held, o->S.nheld, b, &lo, &hi);
	for (size_t k = lo; k < hi; k++)
		effect_links(o, b, o->S.held[k].b, &n);
	for (uint32_t i = hx__xspans_next(&o->S, b, bl->begin); i != HX__DAG_NONE && !o->w->err;
	     i = hx__xspans_next(&o->S, b, i))
		if (d->ev_kind[i] == HX_EV_EFFECT || d->ev_kind[i] == HX_EV_TRACE_JOIN)
			effect_links(o, b, i, &n);
	err = hx__buf_puts(OUT, "],\"kind\":");
	err |= hx__xj_u64(OUT, (uint64_t)(kind ? kind : HX__SK_INTERNAL));
	if (first_error) {
		err |= hx__buf_puts(OUT, ",\"status\":{\"code\":2,\"message\":");
		err |= hx__xj_cstr(OUT, first_error);
		err |= hx__buf_putc(OUT, '}');
	}
	err |= hx__buf_putc(OUT, '}');
	check(o, err);
	o->st->items++;
	hx__xw_flush(o->w, 0);
}

static void resource_open(otlp *o, size_t q, size_t nres)
{
	const hx__dag *d = o->d;
	const hx__dag_entity *rep = &d->entities[o->P.proc_ent[q]];
	const char *svc = hx__dag_str(d, rep->program), *host = hx__dag_str(d, rep->host);
	check(o, hx__buf_puts(OUT, nres ? ",\n{\"resource\":{" : "\n{\"resource\":{"));
	attrs_open(o, "\"attributes\"");
	hx__xa_str(&o->attrs, "service.name", *svc ? svc : "unknown_service",
	           strlen(*svc ? svc : "unknown_service"));
	if (*host)
		hx__xa_str(&o->attrs, "host.name", host, strlen(host));
	if (rep->pid)
		hx__xa_int(&o->attrs, "process.pid", (int64_t)rep->pid);
	attrs_close(o);
	int err = hx__buf_puts(OUT, "},\"scopeSpans\":[{\"scope\":{\"name\":\"haruspex\",\"version\":");
	err |= hx__xj_cstr(OUT, hx_version());
	err |= hx__buf_puts(OUT, "},\"spans\":[");
	check(o, err);
}

int hx__export_otlp(const hx__export_input *in, hx__xw *w, hx__export_stats *st)
{
	otlp ctx, *o = &ctx;
	memset(o, 0, sizeof(*o));
	o->in = in;
	o->d = in->dag;
	o->w = w;
	o->st = st;
	hx__xa_init(&o->attrs, OUT, HX__XA_OTLP);
	int rc = hx__xprocs_build(&o->P, in);
	if (!rc && (rc = hx__xspans_build(&o->S, in)))
		hx__xprocs_free(&o->P);
	if (rc)
		return rc;
	const hx__dag *d = o->d;
	check(o, hx__buf_puts(OUT, "{\"resourceSpans\":["));
	size_t nres = 0;
	for (size_t q = 0; q < o->P.nprocs && !w->err; q++) {
		size_t nspans = 0;
		for (size_t k = o->P.proc_off[q]; k < o->P.proc_off[q + 1] && !w->err; k++) {
			uint32_t e = o->P.order[k];
			for (size_t b = hx__x_first_block(d, d->entities[e].first);
			     b < d->nblocks && d->blocks[b].entity == e && !w->err; b++) {
				if (!(o->S.flags[b] & HX__XS_SPAN))
					continue;
				if (!nspans)
					resource_open(o, q, nres++);
				span(o, (uint32_t)b, &nspans);
			}
		}
		if (nspans)
			check(o, hx__buf_puts(OUT, "\n]}]}"));
	}
	check(o, hx__buf_puts(OUT, "\n]}\n"));
	st->outside_trace = o->S.outside_trace;
	st->cycles_broken = o->S.cycles_broken;
	st->links_dropped += o->S.unheld;
	st->without_span = hx__xspans_spanless(&o->S);
	hx__xprocs_free(&o->P);
	hx__xspans_free(&o->S);
	hx__xa_free(&o->attrs);
	hx__buf_free(&o->tmp);
	return w->err;
}
