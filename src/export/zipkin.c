/*
 * zipkin.c - Zipkin v2 JSON: one array of spans, as POST /api/v2/spans takes them
 * (docs/interchange.md, "Export"; spans.c says how blocks become spans and find their parents).
 *
 * Zipkin's model is narrower than OTLP's: times are whole microseconds (timestamp rounded down,
 * duration from the rounded ends, at least 1 as Zipkin asks), tags are strings, annotations are
 * a time and a text, and there are no links. So a span's tags are its block's attributes as text
 * plus the entity (thread.name, thread.id, hx.entity) and the process (host.name, process.pid);
 * points, errors, counters and waits directly inside the block are annotations; the first
 * error's message is the "error" tag; kind is CLIENT, SERVER, PRODUCER or CONSUMER where an
 * interaction says so, absent otherwise; interactions other than the parent are left out.
 */
#include <math.h>
#include <string.h>

#include "export/procs.h"
#include "export/spans.h"

typedef struct zipkin {
	const hx__export_input *in;
	const hx__dag *d;
	hx__xw *w;
	hx__export_stats *st;
	hx__xprocs P;
	hx__xspans S;
	hx__xa tags;
	hx__buf tmp;
} zipkin;

#define OUT (&z->w->b)

static void check(zipkin *z, int rc)
{
	hx__xw_check(z->w, rc);
}

static void tags_event(zipkin *z, uint32_t i)
{
	hx__xrec r;
	if (hx__xrec_get(z->in, i, &r))
		hx__xa_rec(&z->tags, &r);
}

static const char *name_of(const hx__dag *d, uint32_t i)
{
	return hx__dag_str(d, d->ev_name[i]);
}

/* The text of an annotation into z->tmp; 0 if i is no annotation. */
static int annotation_text(zipkin *z, uint32_t i, const char **first_error)
{
	const hx__dag *d = z->d;
	hx__buf *t = &z->tmp;
	int err = 0;
	hx__buf_reset(t);
	switch (d->ev_kind[i]) {
	case HX_EV_POINT:
		err |= hx__buf_puts(t, name_of(d, i));
		break;
	case HX_EV_ERROR:
		if (!*first_error)
			*first_error = name_of(d, i);
		err |= hx__buf_puts(t, "error: ");
		err |= hx__buf_puts(t, name_of(d, i));
		break;
	case HX_EV_COUNTER: {
		hx__xrec r;
		err |= hx__buf_puts(t, name_of(d, i));
		err |= hx__buf_putc(t, '=');
		if (!hx__xrec_get(z->in, i, &r))
			err |= hx__buf_putc(t, '?');
		else if (r.counter_is_int)
			err |= hx__xj_i64(t, r.counter_int);
		else if (isfinite(r.counter_double))
			err |= hx__xj_double(t, r.counter_double);
		else
			err |= hx__buf_puts(t, isnan(r.counter_double) ? "NaN" : r.counter_double < 0 ? "-Infinity" : "Infinity");
		if (r.unit_len) {
			err |= hx__buf_putc(t, ' ');
			err |= hx__buf_append(t, r.unit, r.unit_len);
		}
		break;
	}
	case HX_EV_STATE: {
		uint32_t w = hx__dag_wait_after(d, i);
		if (w == HX__DAG_NONE || d->waits[w].start != i)
			return 0;
		const char *reason = hx__dag_str(d, d->waits[w].reason);
		err |= hx__buf_puts(t, *reason ? "wait: " : "wait");
		err |= hx__buf_puts(t, reason);
		break;
	}
	default:
		return 0;
	}
	check(z, err);
	return 1;
}

static void span(zipkin *z, uint32_t b, size_t *nspans)
{
	const hx__dag *d = z->d;
	const hx__dag_block *bl = &d->blocks[b];
	uint32_t t = d->ev_trace[bl->begin];
	uint64_t start = d->ev_time[bl->begin] / 1000u, end = d->ev_time[bl->end] / 1000u;
	const hx__dag_entity *en = &d->entities[bl->entity];
	const char *svc = hx__dag_str(d, en->program), *host = hx__dag_str(d, en->host);
	char buf[40];

	int err = hx__buf_puts(OUT, (*nspans)++ ? ",\n{\"traceId\":\"" : "\n{\"traceId\":\"");
	err |= hx__xj_hex128(OUT, d->traces[t].id);
	err |= hx__buf_puts(OUT, "\",\"id\":\"");
	err |= hx__xj_hex64(OUT, hx__xspan_id(d, b));
	if (z->S.parent[b] != HX__DAG_NONE) {
		err |= hx__buf_puts(OUT, "\",\"parentId\":\"");
		err |= hx__xj_hex64(OUT, hx__xspan_id(d, z->S.parent[b]));
	}
	err |= hx__buf_puts(OUT, "\",\"name\":");
	err |= hx__xj_cstr(OUT, hx__dag_str(d, bl->name));
	err |= hx__buf_puts(OUT, ",\"timestamp\":");
	err |= hx__xj_u64(OUT, start);
	err |= hx__buf_puts(OUT, ",\"duration\":");
	err |= hx__xj_u64(OUT, end > start ? end - start : 1);
	err |= hx__buf_puts(OUT, ",\"localEndpoint\":{\"serviceName\":");
	err |= hx__xj_cstr(OUT, *svc ? svc : "unknown");
	err |= hx__buf_puts(OUT, "},\"annotations\":[");
	check(z, err);

	int kind = hx__xspans_start_kind(&z->S, b);
	const char *first_error = NULL;
	size_t n = 0;
	for (uint32_t i = hx__xspans_next(&z->S, b, bl->begin); i != HX__DAG_NONE && !z->w->err;
	     i = hx__xspans_next(&z->S, b, i)) {
		if (!kind)
			kind = hx__xspans_event_kind(d, i);
		if (!annotation_text(z, i, &first_error))
			continue;
		err = hx__buf_puts(OUT, n++ ? ",{\"timestamp\":" : "{\"timestamp\":");
		err |= hx__xj_u64(OUT, d->ev_time[i] / 1000u);
		err |= hx__buf_puts(OUT, ",\"value\":");
		err |= hx__xj_str(OUT, z->tmp.p, z->tmp.len);
		err |= hx__buf_putc(OUT, '}');
		check(z, err);
		hx__xw_flush(z->w, 0);
	}
	check(z, hx__buf_puts(OUT, "],\"tags\":{"));
	hx__xa_reset(&z->tags, OUT);
	tags_event(z, bl->begin);
	size_t lo, hi;
	hx__xpair_range(z->in->ann_block, z->in->nann_block, b, &lo, &hi);
	for (size_t k = lo; k < hi; k++)
		tags_event(z, z->in->ann_block[k].b);
	if (!(bl->flags & HX__BLK_REPAIRED))
		tags_event(z, bl->end);
	else
		hx__xa_bool(&z->tags, "hx.unterminated", 1);
	const char *ename = hx__x_entity_name(d, bl->entity, buf, sizeof(buf));
	hx__xa_str(&z->tags, "thread.name", ename, strlen(ename));
	if (z->in->ent_tid[bl->entity])
		hx__xa_int(&z->tags, "thread.id", (int64_t)z->in->ent_tid[bl->entity]);
	hx__buf_reset(&z->tmp);
	check(z, hx__xj_hex64(&z->tmp, en->id));
	hx__xa_str(&z->tags, "hx.entity", z->tmp.p, z->tmp.len);
	if (*host)
		hx__xa_str(&z->tags, "host.name", host, strlen(host));
	if (en->pid)
		hx__xa_int(&z->tags, "process.pid", (int64_t)en->pid);
	if (first_error)
		hx__xa_str(&z->tags, "error", first_error, strlen(first_error));
	if (z->S.trace_root[t] == b) {
		const char *root = hx__dag_str(d, d->traces[t].root_name);
		if (*root)
			hx__xa_str(&z->tags, "hx.trace.name", root, strlen(root));
		hx__xpair_range(z->in->ann_trace, z->in->nann_trace, t, &lo, &hi);
		for (size_t k = lo; k < hi; k++)
			tags_event(z, z->in->ann_trace[k].b);
	}
	check(z, z->tags.err);
	z->tags.err = 0;
	check(z, hx__buf_putc(OUT, '}'));
	static const char *const kinds[] = {NULL, NULL, "SERVER", "CLIENT", "PRODUCER", "CONSUMER"};
	if (kind >= HX__SK_SERVER && kind <= HX__SK_CONSUMER) {
		err = hx__buf_puts(OUT, ",\"kind\":\"");
		err |= hx__buf_puts(OUT, kinds[kind]);
		err |= hx__buf_putc(OUT, '"');
		check(z, err);
	}
	check(z, hx__buf_putc(OUT, '}'));
	z->st->items++;
	hx__xw_flush(z->w, 0);
}

int hx__export_zipkin(const hx__export_input *in, hx__xw *w, hx__export_stats *st)
{
	zipkin ctx, *z = &ctx;
	memset(z, 0, sizeof(*z));
	z->in = in;
	z->d = in->dag;
	z->w = w;
	z->st = st;
	hx__xa_init(&z->tags, OUT, HX__XA_TAGS);
	int rc = hx__xprocs_build(&z->P, in);
	if (!rc && (rc = hx__xspans_build(&z->S, in)))
		hx__xprocs_free(&z->P);
	if (rc)
		return rc;
	const hx__dag *d = z->d;
	check(z, hx__buf_putc(OUT, '['));
	size_t nspans = 0;
	for (size_t k = 0; k < z->P.proc_off[z->P.nprocs] && !w->err; k++) {
		uint32_t e = z->P.order[k];
		for (size_t b = hx__x_first_block(d, d->entities[e].first);
		     b < d->nblocks && d->blocks[b].entity == e && !w->err; b++)
			if (z->S.flags[b] & HX__XS_SPAN)
				span(z, (uint32_t)b, &nspans);
	}
	check(z, hx__buf_puts(OUT, "\n]\n"));
	st->outside_trace = z->S.outside_trace;
	st->cycles_broken = z->S.cycles_broken;
	st->without_span = hx__xspans_spanless(&z->S);
	hx__xprocs_free(&z->P);
	hx__xspans_free(&z->S);
	hx__xa_free(&z->tags);
	hx__buf_free(&z->tmp);
	return w->err;
}
