/*
 * path.c - GET /critical-path: the object of `hx critical-path --json` (critpath_json.c, the one
 * definition of that format), with each segment's lane (and the cause's lane for a transfer) and
 * the list of events on the path, which the viewer highlights.
 *
 * The segments are written by hx__critpath_json itself, one at a time (a copy of the result
 * holding only that segment), and the lane members put in front of each: the format has one
 * author. The path's events come back from the segments: a transfer is its cause and effect; a
 * running or waiting segment stands for same-entity steps that were merged, i.e. every event of
 * its entity from its start event to its end event (those in the walked trace).
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/critpath.h"
#include "view/view_int.h"

static const char SEG_OPEN[] = "\"segments\":[";
static const char SEG_CLOSE[] = "],\"by_kind\":{";

/* Append the path's events (in path order, each once) to out as a JSON array's elements. */
static int path_json(hx__buf *out, const hx__view *v, const hx__critpath *cp)
{
	const hx__dag *d = v->d;
	uint32_t trace = cp->trace;
	int scoped = trace != HX__DAG_NONE && d->traces[trace].events != d->n;
	uint32_t last = HX__DAG_NONE;
	int err = 0;
#define ADD(x)                                                                                   \
	do {                                                                                     \
		if ((x) != last) {                                                               \
			if (last != HX__DAG_NONE)                                                \
				err |= hx__buf_putc(out, ',');                                   \
			err |= hx__vj_u64(out, (x));                                             \
			last = (x);                                                              \
		}                                                                                \
	} while (0)
	for (size_t k = 0; k < cp->nseg; k++) {
		const hx__cp_segment *s = &cp->seg[k];
		if (s->kind == HX__SEG_UNEXPLAINED)
			continue;
		if (s->kind == HX__SEG_TRANSFER) {
			ADD(s->start_event);
			ADD(s->end_event);
			continue;
		}
		for (uint32_t x = s->start_event; x <= s->end_event; x++)
			if (!scoped || d->ev_trace[x] == trace)
				ADD(x);
	}
	if (last == HX__DAG_NONE && cp->path_first != HX__DAG_NONE)
		ADD(cp->path_first);
#undef ADD
	return err;
}

int hx__view_critpath_json(const hx__view *v, hx__buf *out)
{
	const hx__dag *d = v->d;
	hx__critpath cp;
	int rc = hx__critpath_compute(d, v->cp_trace, &cp);
	if (rc)
		return rc;
	hx__buf whole = HX__BUF_INIT, one = HX__BUF_INIT;
	hx__critpath shell = cp;
	shell.nseg = 0;
	rc = HX_ENOMEM;
	if (hx__critpath_json(&whole, d, &shell))
		goto out;
	char *open = strstr(whole.p, SEG_OPEN);
	if (!open) {
		rc = HX_EINVAL; /* not the format this file was written for */
		goto out;
	}
	size_t head = (size_t)(open - whole.p) + strlen(SEG_OPEN);
	int err = hx__buf_append(out, whole.p, head);
	for (size_t k = 0; k < cp.nseg && !err; k++) {
		hx__critpath single = cp;
		single.seg = &cp.seg[k];
		single.nseg = 1;
		single.nby_block = single.nby_entity = single.nby_host = 0;
		hx__buf_reset(&one);
		if (hx__critpath_json(&one, d, &single))
			goto out;
		char *s = strstr(one.p, SEG_OPEN), *e = s ? strstr(s, SEG_CLOSE) : NULL;
		if (!s || !e) {
			rc = HX_EINVAL;
			goto out;
		}
		s += strlen(SEG_OPEN);
		const hx__cp_segment *sg = &cp.seg[k];
		err |= hx__buf_puts(out, k ? ",{\"lane\":" : "{\"lane\":");
		err |= hx__vj_u64(out, v->ent_lane[sg->entity]);
		if (sg->kind == HX__SEG_TRANSFER) {
			err |= hx__buf_puts(out, ",\"from_lane\":");
			err |= hx__vj_u64(out, v->ent_lane[sg->from_entity]);
		}
		err |= hx__buf_putc(out, ',');
		err |= hx__buf_append(out, s + 1, (size_t)(e - s - 1));
	}
	/* the rest, with the path added before the closing brace */
	err |= hx__buf_append(out, whole.p + head, whole.len - head - 1);
	err |= hx__buf_puts(out, ",\"path\":[");
	err |= path_json(out, v, &cp);
	err |= hx__buf_puts(out, "]}");
	rc = err ? HX_ENOMEM : HX_OK;
out:
	hx__buf_free(&whole);
	hx__buf_free(&one);
	hx__critpath_free(&cp);
	return rc;
}
