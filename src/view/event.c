/*
 * event.c - GET /event: one event in full, with what the DAG knows around it (its block, its
 * causes and effects, the wait it ends or lies in) and what the model added (attributes, counter
 * value, original time, process).
 */
#include <string.h>

#include "view/view_int.h"

static const char *cause_class(uint8_t cls)
{
	switch (cls & HX__CC_MASK) {
	case HX__CC_LINKED: return "linked";
	case HX__CC_DANGLING: return "dangling";
	case HX__CC_EXTERNAL: return "external";
	case HX__CC_SAMPLED_OUT: return "sampled_out";
	default: return "cross_trace";
	}
}

static const char *ia_name(uint8_t ia)
{
	const char *s = hx_interaction_name(ia);
	return s ? s : "causal";
}

/* {"e","id","lane","time_ns","name","kind"...: an event at the other end of an edge */
static int edge_end(hx__buf *b, const hx__view *v, uint32_t x, uint8_t ia)
{
	int err = hx__buf_puts(b, "{\"e\":");
	err |= hx__vj_u64(b, x);
	err |= hx__buf_puts(b, ",\"id\":");
	err |= hx__vj_id(b, v, x);
	err |= hx__buf_puts(b, ",\"lane\":");
	err |= hx__vj_u64(b, hx__v_lane(v, x));
	err |= hx__buf_puts(b, ",\"time_ns\":");
	err |= hx__vj_u64(b, hx__v_time(v, x));
	err |= hx__buf_puts(b, ",\"name\":");
	err |= hx__vj_name(b, v, v->d->ev_name[x]);
	err |= hx__buf_puts(b, ",\"kind\":");
	err |= hx__vj_cstr(b, ia_name(ia));
	return err;
}

static int block_json(hx__buf *b, const hx__view *v, uint32_t blk)
{
	const hx__dag *d = v->d;
	const hx__dag_block *bl = &d->blocks[blk];
	uint64_t s = d->ev_time[bl->begin], t = d->ev_time[bl->end];
	int err = hx__buf_puts(b, "{\"name\":");
	err |= hx__vj_name(b, v, bl->name);
	err |= hx__buf_puts(b, ",\"begin\":");
	err |= hx__vj_ref(b, v, bl->begin);
	err |= hx__buf_puts(b, ",\"end\":");
	err |= hx__vj_ref(b, v, bl->end);
	err |= hx__buf_puts(b, ",\"duration_ns\":");
	err |= hx__vj_u64(b, t > s ? t - s : 0);
	err |= hx__buf_puts(b, ",\"self_ns\":");
	err |= hx__vj_u64(b, v->blk_self[blk] > 0 ? (uint64_t)v->blk_self[blk] : 0);
	err |= hx__buf_puts(b, ",\"depth\":");
	err |= hx__vj_u64(b, bl->depth);
	err |= hx__buf_puts(b, ",\"parent\":");
	if (bl->parent == HX__DAG_NONE) {
		err |= hx__buf_puts(b, "null");
	} else {
		const hx__dag_block *p = &d->blocks[bl->parent];
		err |= hx__buf_puts(b, "{\"e\":");
		err |= hx__vj_u64(b, p->begin);
		err |= hx__buf_puts(b, ",\"id\":");
		err |= hx__vj_id(b, v, p->begin);
		err |= hx__buf_puts(b, ",\"name\":");
		err |= hx__vj_name(b, v, p->name);
		err |= hx__buf_putc(b, '}');
	}
	err |= hx__buf_puts(b, (bl->flags & HX__BLK_REPAIRED) ? ",\"repaired\":true}"
	                                                      : ",\"repaired\":false}");
	return err;
}

/* The block event e begins or ends, or HX__DAG_NONE. */
static uint32_t own_block(const hx__dag *d, uint32_t e)
{
	if (d->ev_kind[e] == HX_EV_BLOCK_BEGIN) {
		uint32_t b = d->ev_block[e];
		return b != HX__DAG_NONE && d->blocks[b].begin == e ? b : HX__DAG_NONE;
	}
	if (d->ev_kind[e] == HX_EV_BLOCK_END) {
		uint32_t p = hx__dag_prev(d, e);
		uint32_t b = p != HX__DAG_NONE ? d->ev_block[p] : HX__DAG_NONE;
		return b != HX__DAG_NONE && d->blocks[b].end == e ? b : HX__DAG_NONE;
	}
	return HX__DAG_NONE;
}

static int wait_json(hx__buf *b, const hx__view *v, uint32_t w, int ends_here)
{
	const hx__dag_wait *wt = &v->d->waits[w];
	int err = hx__buf_puts(b, "{\"start_ns\":");
	err |= hx__vj_u64(b, hx__v_time(v, wt->start));
	err |= hx__buf_puts(b, ",\"end_ns\":");
	err |= hx__vj_u64(b, hx__v_time(v, wt->end));
	err |= hx__buf_puts(b, ",\"reason\":");
	err |= hx__vj_name(b, v, wt->reason);
	err |= hx__buf_puts(b, ",\"start\":");
	err |= hx__vj_ref(b, v, wt->start);
	err |= hx__buf_puts(b, ",\"end\":");
	err |= hx__vj_ref(b, v, wt->end);
	err |= hx__buf_puts(b, ",\"resumed_by\":");
	err |= wt->resume == HX__DAG_NONE ? hx__buf_puts(b, "null") : hx__vj_ref(b, v, wt->resume);
	err |= hx__buf_printf(b, ",\"ends_here\":%s,\"inferred\":%s,\"unterminated\":%s}",
	                      ends_here ? "true" : "false",
	                      (wt->flags & HX__WAIT_INFERRED) ? "true" : "false",
	                      (wt->flags & HX__WAIT_UNTERMINATED) ? "true" : "false");
	return err;
}

int hx__view_event_json(const hx__view *v, uint32_t e, hx__buf *out)
{
	const hx__dag *d = v->d;
	if (e >= d->n)
		return HX_ENOENT;
	const hx__dag_entity *en = &d->entities[d->ev_entity[e]];
	uint32_t lane = hx__v_lane(v, e);
	const hx__vproc *pr = &v->procs[v->lanes[lane].proc];
	uint8_t kind = d->ev_kind[e];
	uint64_t t = d->ev_time[e];
	int err = hx__buf_puts(out, "{\"e\":");
	err |= hx__vj_u64(out, e);
	err |= hx__buf_puts(out, ",\"id\":");
	err |= hx__vj_id(out, v, e);
	err |= hx__buf_puts(out, ",\"kind\":");
	err |= hx__vj_cstr(out, hx_event_kind_name(kind));
	err |= hx__buf_puts(out, ",\"name\":");
	err |= hx__vj_name(out, v, d->ev_name[e]);
	err |= hx__buf_puts(out, ",\"lane\":");
	err |= hx__vj_u64(out, lane);
	err |= hx__buf_puts(out, ",\"entity\":");
	err |= hx__vj_entity(out, en->id);
	err |= hx__buf_puts(out, ",\"entity_name\":");
	err |= hx__vj_name(out, v, en->name);
	err |= hx__buf_puts(out, ",\"seq\":");
	err |= hx__vj_u64(out, d->ev_seq[e]);
	err |= hx__buf_puts(out, ",\"trace\":");
	err |= d->ev_trace[e] == HX__DAG_NONE ? hx__buf_puts(out, "null")
	                                      : hx__vj_hex16(out, d->traces[d->ev_trace[e]].id);
	err |= hx__buf_puts(out, ",\"host\":");
	err |= hx__vj_cstr(out, pr->host);
	err |= hx__buf_puts(out, ",\"service\":");
	err |= hx__vj_cstr(out, pr->service);
	err |= hx__buf_puts(out, ",\"program\":");
	err |= hx__vj_cstr(out, pr->program);
	err |= hx__buf_puts(out, ",\"pid\":");
	err |= hx__vj_u64(out, pr->pid);
	err |= hx__buf_puts(out, ",\"time_ns\":");
	err |= hx__vj_u64(out, t);
	err |= hx__buf_puts(out, ",\"time_orig_ns\":");
	err |= hx__vj_u64(out, t - (uint64_t)pr->offset_ns);
	err |= hx__buf_puts(out, ",\"clock_offset_ns\":");
	err |= hx__vj_i64(out, pr->offset_ns);
	err |= hx__buf_puts(out, pr->offset_ns ? ",\"adjusted\":true" : ",\"adjusted\":false");
	err |= hx__buf_puts(out, ",\"attrs\":");
	err |= hx__vj_attrs(out, v, e);

	/* kind-specific */
	if (kind == HX_EV_COUNTER) {
		const uint8_t *p = v->blob + v->attr_off[e], *end = v->blob + v->attr_off[e + 1];
		hx__vattr a;
		while (hx__vattr_next(&p, end, &a)) {
			if (a.type != HX__VA_COUNTER_INT && a.type != HX__VA_COUNTER_DOUBLE)
				continue;
			err |= hx__buf_puts(out, ",\"value\":");
			err |= hx__vj_attr_value(out, &a);
			err |= hx__buf_puts(out, ",\"unit\":");
			err |= hx__json_string(out, a.s, a.slen);
		}
	} else if (kind == HX_EV_STATE) {
		err |= hx__buf_puts(out, (d->ev_flags[e] & HX__EVF_RUNNING) ? ",\"state\":\"running\""
		                                                           : ",\"state\":\"waiting\"");
	}
	if (kind == HX_EV_CAUSE || kind == HX_EV_EFFECT || kind == HX_EV_TRACE_JOIN) {
		err |= hx__buf_puts(out, ",\"interaction\":");
		err |= hx__vj_cstr(out, ia_name(d->ev_ia[e]));
	}
	if (kind == HX_EV_EFFECT)
		err |= hx__buf_puts(out, (d->ev_flags[e] & HX__EVF_RESUMES) ? ",\"resumes\":true"
		                                                           : ",\"resumes\":false");

	uint32_t blk = own_block(d, e);
	if (blk != HX__DAG_NONE) {
		err |= hx__buf_puts(out, ",\"block\":");
		err |= block_json(out, v, blk);
	} else {
		uint32_t in = d->ev_block[e];
		err |= hx__buf_puts(out, ",\"in_block\":");
		if (in == HX__DAG_NONE) {
			err |= hx__buf_puts(out, "null");
		} else {
			err |= hx__buf_puts(out, "{\"e\":");
			err |= hx__vj_u64(out, d->blocks[in].begin);
			err |= hx__buf_puts(out, ",\"id\":");
			err |= hx__vj_id(out, v, d->blocks[in].begin);
			err |= hx__buf_puts(out, ",\"name\":");
			err |= hx__vj_name(out, v, d->blocks[in].name);
			err |= hx__buf_putc(out, '}');
		}
	}

	err |= hx__buf_puts(out, ",\"causes\":[");
	for (uint32_t k = d->cause_off[e]; k < d->cause_off[e + 1]; k++) {
		if (k > d->cause_off[e])
			err |= hx__buf_putc(out, ',');
		uint8_t cls = d->cause_cls[k];
		uint32_t c = d->cause_ev[k];
		if (c != HX__DAG_NONE) {
			err |= edge_end(out, v, c, d->ev_ia[e]);
			err |= hx__buf_puts(out, ",\"linked\":true");
		} else {
			err |= hx__buf_puts(out, "{\"entity\":");
			err |= hx__vj_entity(out, d->cause_ent[k]);
			err |= hx__buf_puts(out, ",\"seq\":");
			err |= hx__vj_u64(out, d->cause_seq[k]);
			err |= hx__buf_puts(out, ",\"kind\":");
			err |= hx__vj_cstr(out, ia_name(d->ev_ia[e]));
			err |= hx__buf_puts(out, ",\"linked\":false");
		}
		err |= hx__buf_puts(out, ",\"class\":\"");
		err |= hx__buf_puts(out, cause_class(cls));
		err |= hx__buf_puts(out, (cls & HX__CC_OTHER_TRACE) ? "\",\"other_trace\":true}"
		                                                    : "\",\"other_trace\":false}");
	}
	err |= hx__buf_puts(out, "],\"effects\":[");
	for (uint32_t a = v->eff_off[e]; a < v->eff_off[e + 1]; a++) {
		uint32_t x = v->eff_ev[a];
		if (a > v->eff_off[e])
			err |= hx__buf_putc(out, ',');
		err |= edge_end(out, v, x, d->ev_ia[x]);
		err |= hx__buf_puts(out, (d->ev_flags[x] & HX__EVF_RESUMES) ? ",\"resumes\":true}"
		                                                           : ",\"resumes\":false}");
	}
	err |= hx__buf_putc(out, ']');

	uint32_t w = hx__dag_wait_ending(d, e);
	int ends = w != HX__DAG_NONE;
	if (!ends)
		w = hx__dag_wait_after(d, e);
	if (w != HX__DAG_NONE && d->waits[w].entity == d->ev_entity[e]) {
		err |= hx__buf_puts(out, ",\"wait\":");
		err |= wait_json(out, v, w, ends);
	}
	err |= hx__buf_putc(out, '}');
	return err ? HX_ENOMEM : HX_OK;
}
