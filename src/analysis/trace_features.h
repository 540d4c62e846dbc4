/*
 * trace_features.h - what one trace is, in numbers: the features extracted from its DAG and critical
 * path, and the aggregates over many traces' features (docs/analysis.md, "Features and
 * aggregates"). `hx analyze` computes them from files or a service; `hx serve` extracts them
 * continuously from complete traces and stores them for GET /api/aggregates.
 *
 * A trace's features:
 *   - duration, events, entities, processes, hosts, errors, fan-out (the largest number of
 *     effects of one cause event), root name, services (sorted, deduplicated);
 *   - per block name: count, total time, self time (total minus the time of child blocks), time
 *     its entity spent waiting inside it, and critical time (the critical path's time in blocks
 *     of that name);
 *   - indexed attributes: key=value pairs found on its events for the keys asked for (the first
 *     value of each key; at most HX__FEAT_MAX_ATTRS keys).
 *
 * Aggregation: rows are grouped by a key (nothing: one group; "name": each block name;
 * "service": each service; "root": the root name; "attr:KEY": the value of an indexed attribute;
 * "host"), filtered by a --where expression, and summarised as count, p50, p90, p99, max of a
 * metric. Quantiles are exact (sorted values) up to HX__AGG_EXACT values per group, then come
 * from a log-bucketed histogram (relative error under 1 %), which also gives the viewer's latency
 * histogram.
 *
 * (Not "features.h": that name would shadow glibc's <features.h> for files in this directory.)
 *
 * Ownership: hx__features_extract fills a caller's struct; hx__features_free releases what it
 * allocated. Aggregators own everything they are fed (strings copied). Thread safety: none
 * (one thread per aggregator); extraction only reads the DAG.
 */
#ifndef HX_ANALYSIS_TRACE_FEATURES_H
#define HX_ANALYSIS_TRACE_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/critpath.h"
#include "format/text.h"
#include "model/dag.h"

#define HX__FEAT_MAX_ATTRS 16
#define HX__AGG_EXACT 100000

typedef struct hx__feat_block {
	const char *name;          /* owned by the features (copied out of the DAG) */
	uint64_t count;
	uint64_t total_ns, self_ns, wait_ns, critical_ns;
} hx__feat_block;

typedef struct hx__features {
	uint8_t trace_id[16];
	uint64_t start_ns, end_ns, duration_ns;
	uint64_t events, entities, processes, hosts, errors, fanout;
	uint64_t critical_ns;      /* the critical path's length (= duration unless it is empty) */
	char *root_name;
	char **services; size_t nservices;
	hx__feat_block *blocks; size_t nblocks;    /* sorted by name */
	struct { char *key, *value; } attrs[HX__FEAT_MAX_ATTRS];
	size_t nattrs;
	void *priv;
} hx__features;

/* Features of trace `trace` of d (an index in d->traces, or HX__DAG_NONE for the whole graph).
 * `cp` may be NULL (it is then computed); attr_keys (NULL-terminated, may be NULL) names the
 * attributes to keep, read from `attrs_of` when given (the DAG keeps none): a callback that
 * returns the value of key on event e, or NULL. HX_OK or HX_ENOMEM. */
typedef const char *(*hx__feat_attr_fn)(uint32_t e, const char *key, void *user);
int hx__features_extract(const hx__dag *d, uint32_t trace, const hx__critpath *cp,
                         const char *const *attr_keys, hx__feat_attr_fn attrs_of, void *user,
                         hx__features *out);
void hx__features_free(hx__features *f);
/* One JSON object per trace (the format of `hx analyze --per-trace --json` and of the store). */
int hx__features_json(hx__buf *b, const hx__features *f);

/* ---- aggregation ---- */

/* A --where expression: comparisons joined by `and` / `or`, `not`, parentheses:
 *   duration > 250ms   errors >= 1   service = "cart"   root ~ "GET"   attr.http.route = "/cart"
 *   name = "db.query" and critical_ns > 10ms
 * Fields: duration, events, entities, processes, hosts, errors, fanout, critical, root, service
 * (any of the trace's services), name (any block name), attr.KEY, and with a block name in
 * scope (group-by name) count, total, self, wait, critical of that block. Values: numbers,
 * durations with units, quoted strings. `=`, `!=`, `<`, `<=`, `>`, `>=`, `~` (contains).
 * Parsing is a pure function (fuzzed). */
typedef struct hx__where hx__where;
int hx__where_parse(const char *expr, hx__where **out, char *err, size_t errlen);
void hx__where_free(hx__where *w);
/* 1 when trace f (and, with block != NULL, that block of it) passes. */
int hx__where_match(const hx__where *w, const hx__features *f, const hx__feat_block *block);

typedef enum hx__agg_key {
	HX__AGG_ALL = 0, HX__AGG_NAME, HX__AGG_SERVICE, HX__AGG_ROOT, HX__AGG_HOST, HX__AGG_ATTR
} hx__agg_key;

typedef struct hx__agg_config {
	hx__agg_key keys[4];       /* group by these, in order (HX__AGG_ALL alone: one group) */
	const char *attr_keys[4];  /* for HX__AGG_ATTR in the same position */
	size_t nkeys;
	const char *metric;        /* "duration" (default), or a feature name: "total", "self",
	                              "wait", "critical", "count" (per block name), "events",
	                              "errors", "fanout", "entities" */
	const hx__where *where;    /* may be NULL */
} hx__agg_config;

typedef struct hx__agg hx__agg;
int hx__agg_new(hx__agg **out, const hx__agg_config *cfg);
void hx__agg_free(hx__agg *a);
int hx__agg_add(hx__agg *a, const hx__features *f);   /* HX_OK or HX_ENOMEM */

typedef struct hx__agg_row {
	const char *key[4];        /* the group's key values */
	uint64_t count;
	double p50, p90, p99, max, mean; /* in the metric's unit (ns for times) */
} hx__agg_row;
/* The rows, largest count first (ties: key order). Valid until the next add or free. */
size_t hx__agg_rows(hx__agg *a, const hx__agg_row **rows);
/* The latency histogram of one group (row index): buckets as {lower_bound, count} pairs, for
 * the viewer's aggregate page. */
int hx__agg_histogram_json(hx__agg *a, size_t row, hx__buf *out);
/* The rows as a table (aligned columns, times in human units), JSON or CSV. */
typedef enum hx__agg_fmt { HX__AGG_TABLE = 0, HX__AGG_JSON, HX__AGG_CSV } hx__agg_fmt;
int hx__agg_write(hx__agg *a, hx__agg_fmt fmt, hx__buf *out);

/* ---- the service dependency graph ---- */

/* Edges between services (or entities) caused by interactions: for every linked cause whose
 * effect lies in another service (entity), one call with its latency (effect time - cause
 * time), by interaction kind. Accumulates across traces. */
typedef struct hx__deps hx__deps;
int hx__deps_new(hx__deps **out, int by_entity);
void hx__deps_free(hx__deps *g);
int hx__deps_add(hx__deps *g, const hx__dag *d, uint32_t trace);
/* {"nodes":[{"name","kind","calls_in","calls_out"}],"edges":[{"from","to","kind","calls",
 *  "p50_ns","p99_ns","max_ns"}]} */
int hx__deps_json(const hx__deps *g, hx__buf *out);

#endif /* HX_ANALYSIS_TRACE_FEATURES_H */
