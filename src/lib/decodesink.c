/*
 * decodesink.c - the stderr and callback sinks. The thread encodes into a private chunk exactly as
 * for a file, then decodes what the call just wrote with the reader's own decoder, so every sink
 * sees the same events with the same meaning and the callback API needs no second encoder.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "format/text.h"
#include "lib/tracer.h"

static void to_stderr(struct hx__thread *t, const hx_event *ev)
{
	hx__buf *b = t->text;
	if (!b) {
		b = calloc(1, sizeof *b);
		if (!b)
			return;
		t->text = b;
	}
	b->len = 0;
	if (hx__event_text(b, ev) != 0 || hx__buf_putc(b, '\n') != 0)
		return;
	/* one write per line, so lines of different threads never interleave mid-line */
	const char *p = b->p;
	size_t n = b->len;
	while (n) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void hx__decodesink_deliver(struct hx__thread *t, const uint8_t *rec, const uint8_t *end)
{
	struct hx__tracer *tr = t->tracer;
	while (rec < end) {
		hx_event ev;
		hx__sync sync;
		hx__index_entry idx;
		const char *why = NULL;
		int r = hx__decode_record(t->dec, &rec, end, &ev, &sync, &idx, &why);
		if (r < 0)
			return; /* cannot happen for our own bytes; never loop on it */
		if (r != HX__REC_EVENT)
			continue;
		ev.time_ns = hx__ticks_to_real_ns(tr, ev.time_ns);
		ev.time_orig_ns = ev.time_ns;
		if (tr->cfg.sink == HX_SINK_STDERR) {
			to_stderr(t, &ev);
		} else {
			/* t->busy is still set by emit(): recording calls from the callback are refused */
			tr->cfg.callback(&ev, tr->cfg.callback_user);
		}
	}
}
