/*
 * metrics.c - the service's counters and gauges, and their Prometheus text exposition (format
 * 0.0.4: "# HELP", "# TYPE", then one `name{labels} value` line per series).
 *
 * Every series is always present, zero or not, so a dashboard can tell "no rejects" from "no
 * data"; the only exception is hx_http_requests_total, which lists the codes actually sent.
 */
#include "server/server.h"

#include <string.h>

void hx__metrics_init(hx__metrics *m)
{
	memset(m, 0, sizeof(*m));
	atomic_store(&m->store_ok, 1);
}

void hx__metrics_reject(hx__metrics *m, int reason)
{
	if (reason > 0 && reason < HX_REASON__COUNT)
		atomic_fetch_add_explicit(&m->frames_rejected[reason], 1, memory_order_relaxed);
}

void hx__metrics_http(hx__metrics *m, int code)
{
	if (code >= 100 && code < HX__HTTP_CODES)
		atomic_fetch_add_explicit(&m->http_requests[code], 1, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static int series(hx__buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	return hx__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
	                      (unsigned long long)v);
}

int hx__metrics_render(hx__metrics *m, hx__buf *b)
{
	int err = 0;
	err |= series(b, "hx_events_received_total", "counter",
	              "Events received in batches that passed every check (native and HTTP).",
	              get(&m->events_received));
	err |= series(b, "hx_bytes_received_total", "counter",
	              "Bytes of native frames and HTTP batch bodies received, as sent.",
	              get(&m->bytes_received));
	err |= series(b, "hx_batches_acked_total", "counter",
	              "Batches acknowledged after the store made them durable.",
	              get(&m->batches_acked));
	err |= series(b, "hx_events_stored_total", "counter",
	              "Events newly stored (duplicates excluded).", get(&m->events_stored));
	err |= series(b, "hx_events_duplicate_total", "counter",
	              "Events dropped because the store already held them (resent batches).",
	              get(&m->events_duplicate));
	err |= series(b, "hx_commits_total", "counter", "Store commits (one per group of batches).",
	              get(&m->commits));
	err |= series(b, "hx_store_errors_total", "counter",
	              "Failed store appends and commits (each retried until it succeeds).",
	              get(&m->store_errors));
	err |= hx__buf_puts(b, "# HELP hx_frames_rejected_total Native frames and connections "
	                       "rejected, by reason (the connection was closed).\n"
	                       "# TYPE hx_frames_rejected_total counter\n");
	for (int r = 1; r < HX_REASON__COUNT; r++)
		err |= hx__buf_printf(b, "hx_frames_rejected_total{reason=\"%s\"} %llu\n",
		                      hx_proto_reason_name(r), (unsigned long long)get(&m->frames_rejected[r]));
	err |= series(b, "hx_queue_depth", "gauge", "Batches received and not yet acknowledged.",
	              get(&m->queue_depth));
	err |= series(b, "hx_queue_bytes", "gauge",
	              "Bytes held for batches received and not yet acknowledged.",
	              get(&m->queue_bytes));
	err |= series(b, "hx_store_bytes", "gauge", "Bytes the store takes on disk, index included.",
	              get(&m->store_bytes));
	err |= series(b, "hx_store_events", "gauge", "Events in the store.", get(&m->store_events));
	err |= series(b, "hx_store_traces", "gauge", "Traces in the store.", get(&m->store_traces));
	err |= series(b, "hx_store_writable", "gauge",
	              "1 while the store accepts writes, 0 while commits fail (disk full).",
	              (uint64_t)atomic_load(&m->store_ok));
	err |= series(b, "hx_connections", "gauge", "Open native protocol connections.",
	              get(&m->connections));
	err |= series(b, "hx_traces_extracted_total", "counter",
	              "Complete traces whose features were extracted and stored (extract.c).",
	              get(&m->traces_extracted));
	err |= series(b, "hx_extraction_errors_total", "counter",
	              "Complete traces whose extraction failed or that were too large.",
	              get(&m->extraction_errors));
	err |= series(b, "hx_extract_tracked", "gauge",
	              "Traces tracked until they are complete.", get(&m->extract_tracked));
	err |= series(b, "hx_extract_dropped_total", "counter",
	              "Traces dropped untracked because the tracker and its early queue were full.",
	              get(&m->extract_dropped));
	if (m->kafka) {
		/* -1 until the consumer knows its partitions' high watermarks */
		err |= hx__buf_printf(b, "# HELP hx_kafka_lag Messages in this consumer's partitions not yet "
		                         "consumed (-1: not known yet).\n# TYPE hx_kafka_lag gauge\n"
		                         "hx_kafka_lag %lld\n", (long long)atomic_load(&m->kafka_lag));
		err |= series(b, "hx_kafka_partitions", "gauge", "Kafka partitions assigned to this service.",
		              (uint64_t)atomic_load(&m->kafka_partitions));
	}
	err |= hx__buf_puts(b, "# HELP hx_http_requests_total HTTP responses sent, by status code.\n"
	                       "# TYPE hx_http_requests_total counter\n");
	for (int c = 100; c < HX__HTTP_CODES; c++) {
		uint64_t v = get(&m->http_requests[c]);
		if (v)
			err |= hx__buf_printf(b, "hx_http_requests_total{code=\"%d\"} %llu\n", c,
			                      (unsigned long long)v);
	}
	return err ? HX_ENOMEM : HX_OK;
}
