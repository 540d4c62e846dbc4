/*
 * trace_features.h - what one trace is, in numbers: the features extracted from its DAG and critical
 * path, and the aggregates over many traces' features (docs/analysis.md, "Features and
 * aggregates"). `hx analyze` computes them from files or a service; `hx serve` extracts them
 * continuously from complete traces and stores them for GET /api/aggregates.
 *
 * A trace's features:
 *   - duration, events, entities, processes, hosts, errors, fan-out (the largest number of
 *     effects of one cause event), root name, services and host names (sorted, deduplicated);
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
 * allocated: every string and array is its own malloc() block, so features filled by hand the
 * same way are freed by it too (priv is freed as one block). Aggregators own everything they are fed (strings copied). Thread safety: none
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
	char **host_names; size_t nhost_names;     /* sorted; `hosts` counts them */
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
/* One JSON object per trace (the format of `hx analyze --per-trace --json` and of the store):
 * {"trace","root","start_ns","end_ns","duration_ns","events","entities","processes","hosts",
 *  "host_names":[],"errors","fanout","critical_ns","services":[],"blocks":[{"name","count",
 *  "total_ns","self_ns","wait_ns","critical_ns"}],"attrs":{KEY:VALUE}}; root is null when empty. */
int hx__features_json(hx__buf *b, const hx__features *f);

/* Every trace of d at once: the features of each trace with events, in d->traces order, handed
 * to `each` (valid during the call only). One pass over the graph for all of them, critical
 * paths included (a walk per trace that only visits that trace's events): linear in the graph,
 * where hx__features_extract per trace would be quadratic on an input of many traces. Returns
 * HX_OK, HX_ENOMEM, or the first non-zero value `each` returned (which stops the extraction). */
typedef int (*hx__feat_each_fn)(const hx__features *f, uint32_t trace, void *user);
int hx__features_extract_all(const hx__dag *d, const char *const *attr_keys, hx__feat_attr_fn attrs_of,
                             void *attr_user, hx__feat_each_fn each, void *user);

/* ---- aggregation ---- */

/* A --where expression: comparisons joined by `and` / `or`, `not`, parentheses:
 *   duration > 250ms   errors >= 1   service = "cart"   root ~ "GET"   attr.http.route = "/cart"
 *   name = "db.query" and critical_ns > 10ms
 * Fields: duration, events, entities, processes, hosts, errors, fanout, critical, root, service
 * (any of the trace's services), name (any block name), attr.KEY, and with a block name in
 * scope (group-by name) count, total, self, wait, critical of that block. Values: numbers,
 * durations with units, quoted strings. `=`, `!=`, `<`, `<=`, `>`, `>=`, `~` (contains).
 * Parsing is a pure function (fuzzed).
 *
 * Also: host (any of the trace's hosts), trace (the 32-hex-digit ID), `_ns` aliases of the time
 * fields (duration_ns, critical_ns ...), `==` for `=`, `&&` `||` `!` for the words. Units: ns,
 * us, ms, s, m, h; a time field without a unit is in ns; other numeric fields take no unit.
 * Multi-valued fields (service, host, and name without a block in scope) match when any value
 * does, and `!=` when none equals. A missing attribute satisfies only `!=`; an attribute compared
 * with a number is compared as a number when its value is one. Without a block in scope, an
 * expression that reads count, total, self or wait matches a trace when one of its blocks makes
 * it true (that block then in scope for name and critical too). Errors name the byte offset.
 * At most HX__WHERE_MAX_LEN bytes and HX__WHERE_MAX_DEPTH nested parentheses / nots. */
#define HX__WHERE_MAX_LEN 4096
#define HX__WHERE_MAX_DEPTH 64
typedef struct hx__where hx__where;
int hx__where_parse(const char *expr, hx__where **out, char *err, size_t errlen);
void hx__where_free(hx__where *w);   /* NULL is a no-op */
/* 1 when trace f (and, with block != NULL, that block of it) passes; 1 for w NULL. */
int hx__where_match(const hx__where *w, const hx__features *f, const hx__feat_block *block);
/* The attribute keys the expression reads (pointers into w), at most max of them; returns how
 * many there are (may exceed max). For the caller that must extract them. */
size_t hx__where_attr_keys(const hx__where *w, const char **keys, size_t max);

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

/* "name", "service", "root", "host", "attr:KEY" (also "attr.KEY"), "all"/"none": *key and, for
 * an attribute, *attr pointing into s. 0, or -1 for anything else. */
int hx__agg_key_parse(const char *s, hx__agg_key *key, const char **attr);
/* NULL when cfg is usable, else why not (a static message): an unknown metric, a block metric
 * (count, total, self, wait) without grouping by name, more than 4 or repeated keys. */
const char *hx__agg_config_check(const hx__agg_config *cfg);

typedef struct hx__agg hx__agg;
/* HX_OK, HX_ENOMEM, or HX_EINVAL when hx__agg_config_check() objects. cfg is copied (its
 * strings too); cfg->where is borrowed and must outlive the aggregator. */
int hx__agg_new(hx__agg **out, const hx__agg_config *cfg);
void hx__agg_free(hx__agg *a);
int hx__agg_add(hx__agg *a, const hx__features *f);   /* HX_OK or HX_ENOMEM */

typedef struct hx__agg_row {
	const char *key[4];        /* the group's key values */
	uint64_t count;
	double p50, p90, p99, max, mean; /* in the metric's unit (ns for times) */
} hx__agg_row;
/* Traces fed, and those that passed the filter (and so contributed, if they had values). */
void hx__agg_counts(const hx__agg *a, uint64_t *traces, uint64_t *matched);
/* The rows, largest count first (ties: key order; a missing key value, NULL, first). Valid until
 * the next add or free. */
size_t hx__agg_rows(hx__agg *a, const hx__agg_row **rows);
/* The latency histogram of one group (row index): buckets as {lower_bound, count} pairs, for
 * the viewer's aggregate page: {"count":N,"buckets":[{"lower_bound":0,"count":C},...]}, at most
 * about 60 buckets of equal width on a log scale from the smallest value to the largest (a
 * first bucket from 0 when there are zeros). HX_OK, HX_ENOMEM, HX_EINVAL for a bad row. */
int hx__agg_histogram_json(hx__agg *a, size_t row, hx__buf *out);
/* The rows as a table (aligned columns, times in human units), JSON or CSV. */
typedef enum hx__agg_fmt { HX__AGG_TABLE = 0, HX__AGG_JSON, HX__AGG_CSV } hx__agg_fmt;
int hx__agg_write(hx__agg *a, hx__agg_fmt fmt, hx__buf *out);
/* Is the metric a time (ns)? 1 or 0. */
int hx__agg_metric_is_time(const char *metric);
/* Output pieces shared with `hx analyze --per-trace`: a time for people (850ns, 12.35us, 4.20ms,
 * 1.234s), and an RFC 4180 CSV field (quoted when it holds a comma, a quote or a line break;
 * NULL is an empty field). HX_OK or HX_ENOMEM. */
int hx__agg_format_time(hx__buf *b, double ns);
int hx__agg_csv_field(hx__buf *b, const char *s);

/* ---- quantiles of one group (used by the aggregator and the dependency graph) ----
 * Values are kept exactly up to HX__AGG_EXACT of them (quantiles by nearest rank on the sorted
 * values), then folded into a histogram of buckets (gamma^(k-1), gamma^k] with
 * gamma = 1.005 / 0.995: the estimate 2 gamma^k / (gamma + 1) is within 0.5 % of any value of
 * its bucket, so quantiles keep a relative error under 1 %. Buckets live in one array covering
 * the indices seen (at most ~4,500 for 1 .. 2^64); count, zeros, min, max and sum stay exact. */
typedef struct hx__qsketch {
	uint64_t count, zeros, min, max;
	double sum;
	uint64_t *exact; size_t nexact, exact_cap; int sorted;
	uint64_t *bucket; int32_t lo; size_t nbucket; /* bucket[i] counts index lo + i */
} hx__qsketch;
int hx__qs_add(hx__qsketch *q, uint64_t v);                /* HX_OK or HX_ENOMEM */
double hx__qs_quantile(hx__qsketch *q, double p);          /* p in [0, 1]; 0 when empty */
int hx__qs_histogram_json(const hx__qsketch *q, hx__buf *out);
void hx__qs_free(hx__qsketch *q);                           /* and zero it */

/* ---- the service dependency graph ---- */

/* Edges between services (or entities) caused by interactions: for every linked cause whose
 * effect lies in another service (entity), one call with its latency (effect time - cause
 * time), by interaction kind. Accumulates across traces. */
typedef struct hx__deps hx__deps;
int hx__deps_new(hx__deps **out, int by_entity);
void hx__deps_free(hx__deps *g);
int hx__deps_add(hx__deps *g, const hx__dag *d, uint32_t trace);
/* The same for every trace t of d with keep[t] non-zero (events outside any trace left out), in
 * one pass; keep NULL: every event of d, in a trace or not (= hx__deps_add with HX__DAG_NONE). */
int hx__deps_add_traces(hx__deps *g, const hx__dag *d, const uint8_t *keep);
/* {"by":"service"|"entity","nodes":[{"id","name","kind","calls_in","calls_out"[,"service"]}],
 *  "edges":[{"from","to","kind","calls","p50_ns","p99_ns","max_ns"}]}: nodes sorted by id,
 * edges by (from, to, kind); from/to are node ids: a service's name, an entity's 16 hex digits.
 * The kind is the effect's interaction ("request", "reply", "message", "publish" ...). */
int hx__deps_json(const hx__deps *g, hx__buf *out);
/* The edges as an aligned table (times in human units) or CSV. */
int hx__deps_write(const hx__deps *g, int csv, hx__buf *out);

#endif /* HX_ANALYSIS_TRACE_FEATURES_H */
