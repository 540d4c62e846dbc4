/*
 * spans.h - blocks seen as spans, for the span formats (OTLP, Zipkin): which blocks are spans,
 * each span's ID and parent, the span an interaction's cause belongs to, which span carries each
 * interaction as a link, and what kind of span a block is (spans.c says how each is decided).
 */
#ifndef HX_EXPORT_SPANS_H
#define HX_EXPORT_SPANS_H

#include "export/export_int.h"

/* span kinds, numbered as OTLP's Span.SpanKind */
enum {
	HX__SK_INTERNAL = 1,
	HX__SK_SERVER = 2,
	HX__SK_CLIENT = 3,
	HX__SK_PRODUCER = 4,
	HX__SK_CONSUMER = 5
};

typedef struct hx__xspans {
	const hx__export_input *in;
	const hx__dag *d;
	uint32_t *parent;       /* per block: the parent span's block, HX__DAG_NONE for a root */
	uint32_t *start;        /* per block: the effect whose cause gave it a parent on another
	                           entity, HX__DAG_NONE */
	uint8_t *flags;         /* per block: HX__XS_* */
	hx__xpair *held;        /* (block, effect): effects outside any block, carried by the next
	                           span their entity starts in the trace; sorted */
	size_t nheld;
	uint32_t *trace_root;   /* per trace: the span that carries the trace's attributes */
	uint32_t *se;           /* per event: latest effect on its entity, in its trace, with a
	                           cause in the trace (what started the entity's current work) */
	uint64_t outside_trace; /* blocks that are no span: outside any trace */
	uint64_t unheld;        /* linked causes of effects outside any block that no span
	                           carries */
	uint64_t cycles_broken;
} hx__xspans;

enum {
	HX__XS_SPAN = 0x1,      /* exported: the block is in a trace */
	HX__XS_CROSS = 0x2      /* its parent is on another entity (found through an interaction) */
};

/* HX_OK or HX_ENOMEM (s is then empty). Free with hx__xspans_free(). */
int hx__xspans_build(hx__xspans *s, const hx__export_input *in);
void hx__xspans_free(hx__xspans *s);

/* The span ID of block b: a hash of its begin event's ID, never 0. */
uint64_t hx__xspan_id(const hx__dag *d, uint32_t b);
/* The span the cause event c belongs to, or HX__DAG_NONE. */
uint32_t hx__xspans_of_cause(const hx__xspans *s, uint32_t c);
/* The event after i directly inside block b (not inside a child block), HX__DAG_NONE at the end.
 * Start with i = the block's begin. */
uint32_t hx__xspans_next(const hx__xspans *s, uint32_t b, uint32_t i);
/* Points, errors, counters and waits that no span holds: outside any exported block. */
uint64_t hx__xspans_spanless(const hx__xspans *s);
/* The kind a block's start gives it (SERVER, CONSUMER), else 0. */
int hx__xspans_start_kind(const hx__xspans *s, uint32_t b);
/* The kind a direct event suggests (a request sent: CLIENT ...), else 0. */
int hx__xspans_event_kind(const hx__dag *d, uint32_t i);

#endif /* HX_EXPORT_SPANS_H */
