/*
 * critpath_json.c - a critical path as one JSON object: what `hx critical-path --json` prints
 * and what a service route can return. The members are documented in docs/analysis.md.
 */
#include <string.h>

#include "analysis/critpath.h"

static int str(hx__buf *b, const char *s)
{
	return hx__json_string(b, s, strlen(s));
}

static int event_ref(hx__buf *b, const hx__dag *d, uint32_t i)
{
	if (i == HX__DAG_NONE)
		return hx__buf_puts(b, "null");
	return hx__buf_printf(b, "{\"entity\":\"%016llx\",\"seq\":%llu,\"time_ns\":%llu}",
	                      (unsigned long long)d->entities[d->ev_entity[i]].id,
	                      (unsigned long long)d->ev_seq[i], (unsigned long long)d->ev_time[i]);
}

static int entity_fields(hx__buf *b, const hx__dag *d, uint32_t e, const char *prefix)
{
	const hx__dag_entity *en = &d->entities[e];
	int err = hx__buf_printf(b, "\"%sentity\":\"%016llx\",\"%sentity_name\":", prefix,
	                         (unsigned long long)en->id, prefix);
	err |= str(b, hx__dag_str(d, en->name));
	err |= hx__buf_printf(b, ",\"%shost\":", prefix);
	err |= str(b, hx__dag_str(d, en->host));
	return err;
}

static int block_name(hx__buf *b, const hx__dag *d, uint32_t block)
{
	if (block == HX__DAG_NONE)
		return hx__buf_puts(b, "null");
	return str(b, hx__dag_str(d, d->blocks[block].name));
}

static int segment(hx__buf *b, const hx__dag *d, const hx__cp_segment *s)
{
	int err = hx__buf_printf(b, "{\"kind\":\"%s\",", hx__seg_kind_name(s->kind));
	err |= entity_fields(b, d, s->entity, "");
	if (s->kind == HX__SEG_TRANSFER) {
		err |= hx__buf_putc(b, ',');
		err |= entity_fields(b, d, s->from_entity, "from_");
	}
	err |= hx__buf_puts(b, ",\"block\":");
	err |= block_name(b, d, s->block);
	if (s->kind == HX__SEG_WAITING) {
		err |= hx__buf_puts(b, ",\"waiting_for\":");
		err |= str(b, s->reason == HX__CP_REASON_GAP ? "(events outside the graph)"
		                                            : hx__dag_str(d, s->reason));
	}
	err |= hx__buf_printf(b, ",\"start_ns\":%llu,\"end_ns\":%llu,\"duration_ns\":%llu,\"steps\":%u",
	                      (unsigned long long)s->start_ns, (unsigned long long)s->end_ns,
	                      (unsigned long long)(s->end_ns - s->start_ns), s->steps);
	err |= hx__buf_puts(b, ",\"start_event\":");
	err |= event_ref(b, d, s->start_event);
	err |= hx__buf_puts(b, ",\"end_event\":");
	err |= event_ref(b, d, s->end_event);
	err |= hx__buf_putc(b, '}');
	return err;
}

int hx__critpath_json(hx__buf *b, const hx__dag *d, const hx__critpath *cp)
{
	int err = hx__buf_puts(b, "{\"trace\":");
	if (cp->trace != HX__DAG_NONE) {
		const hx__dag_trace *t = &d->traces[cp->trace];
		err |= hx__buf_putc(b, '"');
		for (int i = 0; i < 16; i++)
			err |= hx__buf_printf(b, "%02x", t->id[i]);
		err |= hx__buf_puts(b, "\",\"root\":");
		err |= str(b, hx__dag_str(d, t->root_name));
	} else {
		err |= hx__buf_puts(b, "null,\"root\":null");
	}
	err |= hx__buf_printf(b, ",\"start_ns\":%llu,\"end_ns\":%llu,\"duration_ns\":%llu",
	                      (unsigned long long)cp->start_ns, (unsigned long long)cp->end_ns,
	                      (unsigned long long)(cp->end_ns - cp->start_ns));
	err |= hx__buf_puts(b, ",\"first_event\":");
	err |= event_ref(b, d, cp->first_event);
	err |= hx__buf_puts(b, ",\"last_event\":");
	err |= event_ref(b, d, cp->last_event);
	err |= hx__buf_puts(b, ",\"path_first\":");
	err |= event_ref(b, d, cp->path_first);
	err |= hx__buf_printf(b, ",\"path_events\":%llu,\"segments\":[", (unsigned long long)cp->path_events);
	for (size_t i = 0; i < cp->nseg && !err; i++) {
		if (i)
			err |= hx__buf_putc(b, ',');
		err |= segment(b, d, &cp->seg[i]);
	}
	err |= hx__buf_puts(b, "],\"by_kind\":{");
	for (int k = 0; k < HX__SEG__MAX; k++)
		err |= hx__buf_printf(b, "%s\"%s\":%llu", k ? "," : "", hx__seg_kind_name(k),
		                      (unsigned long long)cp->by_kind[k]);
	err |= hx__buf_puts(b, "},\"by_block\":[");
	for (size_t i = 0; i < cp->nby_block; i++) {
		err |= hx__buf_puts(b, i ? ",{\"block\":" : "{\"block\":");
		if (cp->by_block[i].key == HX__DAG_NONE)
			err |= hx__buf_puts(b, "null");
		else
			err |= str(b, hx__dag_str(d, cp->by_block[i].key));
		err |= hx__buf_printf(b, ",\"ns\":%llu}", (unsigned long long)cp->by_block[i].ns);
	}
	err |= hx__buf_puts(b, "],\"by_entity\":[");
	for (size_t i = 0; i < cp->nby_entity; i++) {
		err |= hx__buf_puts(b, i ? ",{" : "{");
		err |= entity_fields(b, d, cp->by_entity[i].key, "");
		err |= hx__buf_printf(b, ",\"ns\":%llu}", (unsigned long long)cp->by_entity[i].ns);
	}
	err |= hx__buf_puts(b, "],\"by_host\":[");
	for (size_t i = 0; i < cp->nby_host; i++) {
		err |= hx__buf_puts(b, i ? ",{\"host\":" : "{\"host\":");
		err |= str(b, hx__dag_str(d, cp->by_host[i].key));
		err |= hx__buf_printf(b, ",\"ns\":%llu}", (unsigned long long)cp->by_host[i].ns);
	}
	err |= hx__buf_printf(b,
	                      "],\"walk\":{\"clamped\":%llu,\"clamped_ns\":%llu,\"cycles\":%llu,"
	                      "\"missing_causes\":%llu,\"inferred_resumes\":%llu}}",
	                      (unsigned long long)cp->clamped, (unsigned long long)cp->clamped_ns,
	                      (unsigned long long)cp->cycles, (unsigned long long)cp->missing,
	                      (unsigned long long)cp->inferred);
	return err ? HX_ENOMEM : HX_OK;
}
