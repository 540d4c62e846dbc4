/*
 * export.h - traces in the formats other tools read: Chrome Trace Event JSON (Perfetto UI,
 * chrome://tracing), OTLP/JSON (OpenTelemetry) and Zipkin v2 JSON (docs/interchange.md, "Export").
 *
 * The input is the trace DAG (src/model/dag.h) plus what the DAG leaves out and the formats need:
 * attributes, counter values and units, annotation targets and threads' kernel IDs. An
 * hx__export_input gathers both while events are pushed (from a reader, a service, a test): the
 * details go into one side blob, found afterwards by the DAG's event index. Events of traces that
 * a filter drops keep nothing.
 *
 * Output is streamed to a FILE* in pieces of about 64 KiB: a 10 M-event trace never needs its
 * whole JSON in memory. Everything written is a function of the input alone (no clock, no random
 * number): the same input gives the same bytes, so exports can be compared and imported back.
 *
 * Ownership: an hx__export_input owns its DAG and side data; hx__export_input_free() releases
 * them (NULL is a no-op). Thread safety: one thread per input while it is built; a finished input
 * is read-only and may be exported from several threads at once (each with its own FILE*).
 */
#ifndef HX_EXPORT_EXPORT_H
#define HX_EXPORT_EXPORT_H

#include <haruspex.h>
#include <haruspex/reader.h>

#include <stdint.h>
#include <stdio.h>

#include "model/dag.h"

typedef enum hx__export_format {
	HX__EXPORT_CHROME = 1, /* {"traceEvents":[...],"displayTimeUnit":"ns","metadata":{...}} */
	HX__EXPORT_OTLP = 2,   /* ExportTraceServiceRequest, OTLP/JSON */
	HX__EXPORT_ZIPKIN = 3  /* a JSON array of Zipkin v2 spans */
} hx__export_format;

/* "chrome", "otlp", "zipkin" -> the format, or 0. */
int hx__export_format_parse(const char *name);
const char *hx__export_format_name(int format);

typedef struct hx__export_input hx__export_input;

/* ---- building: as the DAG builder, with the details kept ---- */

/* `filter` may be NULL (every event); it is copied. HX_OK or HX_ENOMEM. */
int hx__export_input_new(hx__export_input **out, const hx__dag_filter *filter);
/* Describe process `proc` (hx__dag_builder_process): host and program are copied. */
int hx__export_input_process(hx__export_input *in, uint32_t proc, const char *host,
                             const char *program, uint64_t pid);
/* One event; everything it points to is copied. HX_OK, HX_ENOMEM, or HX_EINVAL past
 * HX__DAG_MAX_EVENTS (the event is dropped and counted, as by the DAG builder). */
int hx__export_input_add(hx__export_input *in, const hx_event *ev, uint32_t proc);
/* Build the DAG and index the details by event. After it only the reading calls below and
 * hx__export_write() are allowed. HX_OK or HX_ENOMEM (the input must then be freed). */
int hx__export_input_finish(hx__export_input *in);

/* Every event of `r` (positioned before its first event; align its clocks first if wanted),
 * described and added as hx__dag_read() does, then finished. HX_OK, HX_ENOMEM or a reader
 * error; on success *out is freed by hx__export_input_free(). */
int hx__export_input_read(hx__export_input **out, hx_reader *r, const hx__dag_filter *filter);

/* The finished input's DAG (read-only; owned by the input). */
const hx__dag *hx__export_input_dag(const hx__export_input *in);
void hx__export_input_free(hx__export_input *in);

/* ---- writing ---- */

/* What a write produced and what the format had no place for. */
typedef struct hx__export_stats {
	uint64_t bytes;              /* written to the FILE* */
	uint64_t items;              /* chrome: trace events; otlp, zipkin: spans */
	uint64_t flows;              /* chrome: cause->effect arrows; otlp: links */
	uint64_t outside_trace;      /* otlp, zipkin: blocks outside any trace (no trace ID) */
	uint64_t without_span;       /* otlp, zipkin: points, errors, counters and waits outside
	                                any exported block */
	uint64_t links_dropped;      /* otlp: causes whose effect or cause lies outside any span */
	uint64_t cycles_broken;      /* otlp, zipkin: parent links dropped to break a cycle
	                                (inconsistent IDs) */
	uint64_t nonfinite;          /* chrome: counter samples that are NaN or infinite (JSON has no
	                                number for them): left out */
} hx__export_stats;

/* Write the whole input in `format` to f. `st` may be NULL. HX_OK, HX_ENOMEM, HX_EIO (a write
 * failed: f holds a partial document), or HX_EINVAL (unknown format, unfinished input). */
int hx__export_write(const hx__export_input *in, int format, FILE *f, hx__export_stats *st);

#endif /* HX_EXPORT_EXPORT_H */
