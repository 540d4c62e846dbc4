/*
 * report.c - what building a graph found, as text lines and as JSON, for the tools.
 */
#include <string.h>

#include "format/text.h"
#include "model/dag_int.h"

static int event_json(hx__buf *b, const hx__dag *d, uint32_t i)
{
	if (i == HX__DAG_NONE || i >= d->n)
		return hx__buf_puts(b, "null");
	return hx__buf_printf(b, "{\"entity\":\"%016llx\",\"seq\":%llu}",
	                      (unsigned long long)d->entities[d->ev_entity[i]].id,
	                      (unsigned long long)d->ev_seq[i]);
}

int hx__dag_report_json(hx__buf *b, const hx__dag *d)
{
	const hx__dag_report *r = &d->report;
	int err = hx__buf_printf(
	    b,
	    "{\"events\":%zu,\"entities\":%zu,\"blocks\":%zu,\"waits\":%zu,\"traces\":%zu,"
	    "\"causes\":%llu,\"linked\":%llu,\"dangling\":%llu,\"external\":%llu,\"sampled_out\":%llu,"
	    "\"cross_trace\":%llu,\"other_trace_linked\":%llu,\"filtered_out\":%llu,\"over_limit\":%llu,"
	    "\"issues\":{",
	    d->n, d->nentities, d->nblocks, d->nwaits, d->ntraces, (unsigned long long)r->causes,
	    (unsigned long long)r->linked, (unsigned long long)r->dangling,
	    (unsigned long long)r->external, (unsigned long long)r->sampled_out,
	    (unsigned long long)r->cross_trace, (unsigned long long)r->other_trace_linked,
	    (unsigned long long)r->filtered_out, (unsigned long long)r->over_limit);
	for (int k = 0; k < HX__DAG_ISSUE__MAX; k++)
		err |= hx__buf_printf(b, "%s\"%s\":%llu", k ? "," : "", hx__dag_issue_name(k),
		                      (unsigned long long)r->count[k]);
	err |= hx__buf_puts(b, "},\"listed\":[");
	for (size_t i = 0; i < r->nissues; i++) {
		const hx__dag_issue *is = &r->issue[i];
		err |= hx__buf_printf(b, "%s{\"issue\":\"%s\",\"event\":", i ? "," : "",
		                      hx__dag_issue_name(is->kind));
		err |= event_json(b, d, is->event);
		if (is->kind == HX__DAG_ISSUE_DUPLICATE && is->other < d->nentities) {
			err |= hx__buf_printf(b, ",\"entity\":\"%016llx\"",
			                      (unsigned long long)d->entities[is->other].id);
		} else if (is->other != HX__DAG_NONE) {
			err |= hx__buf_puts(b, ",\"other\":");
			err |= event_json(b, d, is->other);
		}
		err |= hx__buf_putc(b, '}');
	}
	err |= hx__buf_puts(b, "]}");
	return err ? HX_ENOMEM : HX_OK;
}

int hx__dag_report_text(hx__buf *b, const hx__dag *d, size_t max_listed)
{
	const hx__dag_report *r = &d->report;
	int err = hx__buf_printf(b, "graph: %zu events, %zu entities, %zu blocks, %zu waits; %llu causes: "
	                            "%llu linked, %llu dangling, %llu external, %llu sampled out, "
	                            "%llu in other traces\n",
	                         d->n, d->nentities, d->nblocks, d->nwaits,
	                         (unsigned long long)r->causes, (unsigned long long)r->linked,
	                         (unsigned long long)r->dangling, (unsigned long long)r->external,
	                         (unsigned long long)r->sampled_out, (unsigned long long)r->cross_trace);
	for (int k = 0; k < HX__DAG_ISSUE__MAX; k++)
		if (r->count[k])
			err |= hx__buf_printf(b, "  %llu x %s\n", (unsigned long long)r->count[k],
			                      hx__dag_issue_text(k));
	for (size_t i = 0; i < r->nissues && i < max_listed; i++) {
		const hx__dag_issue *is = &r->issue[i];
		err |= hx__buf_printf(b, "    %s", hx__dag_issue_name(is->kind));
		if (is->event != HX__DAG_NONE && is->event < d->n)
			err |= hx__buf_printf(b, " at %016llx:%llu",
			                      (unsigned long long)d->entities[d->ev_entity[is->event]].id,
			                      (unsigned long long)d->ev_seq[is->event]);
		if (is->kind == HX__DAG_ISSUE_DUPLICATE && is->other < d->nentities)
			err |= hx__buf_printf(b, " on entity %016llx",
			                      (unsigned long long)d->entities[is->other].id);
		else if (is->other != HX__DAG_NONE && is->other < d->n)
			err |= hx__buf_printf(b, " (cause %016llx:%llu)",
			                      (unsigned long long)d->entities[d->ev_entity[is->other]].id,
			                      (unsigned long long)d->ev_seq[is->other]);
		err |= hx__buf_putc(b, '\n');
	}
	if (r->nissues > max_listed)
		err |= hx__buf_printf(b, "    ... (%zu more listed with --json)\n", r->nissues - max_listed);
	return err ? HX_ENOMEM : HX_OK;
}
