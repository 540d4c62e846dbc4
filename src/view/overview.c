/*
 * overview.c - GET /view: what the viewer needs before it draws anything: the span, the counts,
 * the lanes grouped by host and process (with the rows each needs), the counter tracks, the
 * clock adjustments and the DAG's report of what was odd in the input.
 */
#include <string.h>

#include "view/view_int.h"

static const char *entity_kind(uint8_t k)
{
	switch (k) {
	case HX_ENTITY_THREAD: return "thread";
	case HX_ENTITY_COROUTINE: return "coroutine";
	case HX_ENTITY_TASK: return "task";
	case HX_ENTITY_PROCESS: return "process";
	default: return "unknown";
	}
}

static int lane_json(hx__buf *b, const hx__view *v, uint32_t l)
{
	const hx__vlane *ln = &v->lanes[l];
	const hx__dag_entity *en = &v->d->entities[ln->entity];
	int err = hx__buf_puts(b, "{\"lane\":");
	err |= hx__vj_u64(b, l);
	err |= hx__buf_puts(b, ",\"entity\":");
	err |= hx__vj_entity(b, en->id);
	err |= hx__buf_puts(b, ",\"name\":");
	err |= hx__vj_name(b, v, en->name);
	err |= hx__buf_printf(b, ",\"kind\":\"%s\",\"events\":%u,\"depth\":%u,\"first_ns\":",
	                      entity_kind(en->kind), ln->events, ln->depth);
	err |= hx__vj_u64(b, ln->first_ns);
	err |= hx__buf_puts(b, ",\"last_ns\":");
	err |= hx__vj_u64(b, ln->last_ns);
	err |= hx__buf_putc(b, '}');
	return err;
}

int hx__view_overview_json(const hx__view *v, hx__buf *out)
{
	const hx__dag *d = v->d;
	int err = hx__buf_puts(out, "{\"trace_id\":");
	err |= v->has_trace_id ? hx__vj_hex16(out, v->trace_id) : hx__buf_puts(out, "null");
	err |= hx__buf_puts(out, ",\"start_ns\":");
	err |= hx__vj_u64(out, v->start_ns);
	err |= hx__buf_puts(out, ",\"end_ns\":");
	err |= hx__vj_u64(out, v->end_ns);
	err |= hx__buf_printf(out, ",\"events\":%zu,\"blocks\":%zu,\"waits\":%zu,\"arrows\":%zu,"
	                           "\"points\":%zu,\"lanes\":%zu,\"traces\":%zu,\"root_name\":",
	                      d->n, d->nblocks, d->nwaits, v->narrows, v->npt, v->nlanes, d->ntraces);
	err |= v->cp_trace != HX__DAG_NONE ? hx__vj_name(out, v, d->traces[v->cp_trace].root_name)
	                                   : hx__buf_puts(out, "null");
	err |= hx__buf_puts(out, ",\"hosts\":[");
	uint64_t adjusted = 0, max_abs = 0;
	for (size_t p = 0; p < v->nprocs; p++) {
		const hx__vproc *pr = &v->procs[p];
		int new_host = !p || strcmp(v->procs[p - 1].host, pr->host);
		if (new_host) {
			err |= hx__buf_puts(out, p ? "]},{\"host\":" : "{\"host\":");
			err |= hx__vj_cstr(out, pr->host);
			err |= hx__buf_puts(out, ",\"processes\":[");
		} else {
			err |= hx__buf_putc(out, ',');
		}
		err |= hx__buf_puts(out, "{\"process\":");
		err |= hx__vj_u64(out, p);
		err |= hx__buf_puts(out, ",\"pid\":");
		err |= hx__vj_u64(out, pr->pid);
		err |= hx__buf_puts(out, ",\"service\":");
		err |= hx__vj_cstr(out, pr->service);
		err |= hx__buf_puts(out, ",\"program\":");
		err |= hx__vj_cstr(out, pr->program);
		err |= hx__buf_puts(out, ",\"clock_offset_ns\":");
		err |= hx__vj_i64(out, pr->offset_ns);
		err |= hx__buf_puts(out, ",\"lanes\":[");
		for (uint32_t l = pr->first_lane; l < pr->first_lane + pr->nlanes; l++) {
			if (l > pr->first_lane)
				err |= hx__buf_putc(out, ',');
			err |= lane_json(out, v, l);
		}
		err |= hx__buf_puts(out, "]}");
		if (pr->offset_ns) {
			uint64_t a = pr->offset_ns < 0 ? (uint64_t)0 - (uint64_t)pr->offset_ns : (uint64_t)pr->offset_ns;
			adjusted++;
			max_abs = a > max_abs ? a : max_abs;
		}
	}
	err |= hx__buf_puts(out, v->nprocs ? "]}],\"counters\":[" : "],\"counters\":[");
	for (size_t t = 0; t < v->ntracks; t++) {
		const hx__vtrack *tr = &v->tracks[t];
		err |= hx__buf_puts(out, t ? ",{\"lane\":" : "{\"lane\":");
		err |= hx__vj_u64(out, tr->lane);
		err |= hx__buf_puts(out, ",\"name\":");
		err |= hx__vj_name(out, v, tr->name);
		err |= hx__buf_puts(out, ",\"unit\":");
		const uint8_t *p = v->blob + v->attr_off[tr->unit_ev];
		const uint8_t *end = v->blob + v->attr_off[tr->unit_ev + 1];
		hx__vattr a;
		int unit = 0;
		while (!unit && hx__vattr_next(&p, end, &a))
			if (a.type == HX__VA_COUNTER_INT || a.type == HX__VA_COUNTER_DOUBLE) {
				err |= hx__json_string(out, a.s, a.slen);
				unit = 1;
			}
		if (!unit)
			err |= hx__buf_puts(out, "\"\"");
		err |= hx__buf_puts(out, ",\"samples\":");
		err |= hx__vj_u64(out, tr->n);
		err |= hx__buf_puts(out, ",\"min\":");
		err |= hx__vj_double(out, tr->min);
		err |= hx__buf_puts(out, ",\"max\":");
		err |= hx__vj_double(out, tr->max);
		err |= hx__buf_putc(out, '}');
	}
	err |= hx__buf_puts(out, "],\"clock\":{\"adjusted_processes\":");
	err |= hx__vj_u64(out, adjusted);
	err |= hx__buf_puts(out, ",\"max_abs_offset_ns\":");
	err |= hx__vj_u64(out, max_abs);
	err |= hx__buf_puts(out, "},\"attrs_dropped\":");
	err |= hx__vj_u64(out, v->attrs_dropped);
	err |= hx__buf_puts(out, ",\"bytes\":");
	err |= hx__vj_u64(out, v->bytes);
	err |= hx__buf_puts(out, ",\"report\":");
	err |= hx__dag_report_json(out, d);
	err |= hx__buf_putc(out, '}');
	return err ? HX_ENOMEM : HX_OK;
}
