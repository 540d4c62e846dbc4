/*
 * hx_bench_tp.h - the LTTng-UST tracepoint provider that bench_lttng.c records through: the peer
 * workload for bench_core.c, so that `make bench-core` compares Haruspex with LTTng-UST in one run.
 *
 * Fairness: a Haruspex point records a kind byte, a time delta and a name ID (the name string is
 * defined once per chunk). An LTTng event always carries its event ID (which names the tracepoint)
 * and a timestamp in its header, so the peer of hx_point("tick") is an event with no fields
 * (hx_bench:point). hx_bench:point2 is the peer of a point with an int and a string attribute.
 *
 * lttng-ust 2.13 provider header: included twice by LTTng's machinery (multi-read), hence the
 * unusual include guard. The probes are created in bench_lttng.c (static linkage).
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER hx_bench

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./hx_bench_tp.h"

#if !defined(HX_BENCH_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define HX_BENCH_TP_H

#include <stdint.h>
#include <lttng/tracepoint.h>

/* An instant with nothing but its identity and time: the peer of hx_point(name). */
LTTNG_UST_TRACEPOINT_EVENT(hx_bench, point,
	LTTNG_UST_TP_ARGS(),
	LTTNG_UST_TP_FIELDS()
)

/* The peer of hx_point_attrs(name, HX_ATTRS(HX_INT("bytes", n), HX_STR("path", s))). */
LTTNG_UST_TRACEPOINT_EVENT(hx_bench, point2,
	LTTNG_UST_TP_ARGS(int64_t, bytes, const char *, path),
	LTTNG_UST_TP_FIELDS(
		lttng_ust_field_integer(int64_t, bytes, bytes)
		lttng_ust_field_string(path, path)
	)
)

#endif /* HX_BENCH_TP_H */

#include <lttng/tracepoint-event.h>
