/*
 * query_analysis.h - the query strings of the analysis endpoints (GET /api/aggregates,
 * /api/dependencies, /api/complete; docs/http-api.md), parsed and validated: pure functions of the
 * bytes like the rest of query.h (no libevent, no store, no SQLite), so a fuzz target can run them
 * alone. The --where expression is only checked for length here: the handler parses it with
 * hx__where_parse (itself fuzzed), which names the mistake.
 *
 * Ownership: a parsed request owns its decoded strings (free it with its _free function).
 * Thread safety: touches only its arguments.
 */
#ifndef HX_SERVER_QUERY_ANALYSIS_H
#define HX_SERVER_QUERY_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/trace_features.h"
#include "server/query.h"

#define HX__AGGQ_BUCKETS_DEFAULT 40
#define HX__AGGQ_BUCKETS_MIN 8
#define HX__AGGQ_BUCKETS_MAX 200
#define HX__AGGQ_TEXT_MAX 4096      /* longest name, where expression or attribute key */
#define HX__COMPLETEQ_LIMIT_DEFAULT 100

/* GET /api/aggregates. keys[] holds the grouping in order: with `name`, HX__AGG_NAME comes first
 * (so that the block is in scope for the block metrics), then the group_by keys. */
typedef struct hx__aggs_req {
	hx__query raw;
	uint64_t from_ns, to_ns;     /* 0: open */
	const char *name;            /* NULL: whole traces */
	hx__agg_key keys[4];
	const char *attr_keys[4];    /* for HX__AGG_ATTR, in the same position; point into raw */
	const char *key_names[4];    /* the answer's key labels: "service", "attr.http.route", ... */
	size_t nkeys;
	const char *metric;          /* as given (into raw), else "total" with a name, "duration"
	                                without: checked by the handler with hx__agg_config_check */
	int metric_is_time;          /* set by the handler (hx__agg_metric_is_time) */
	const char *where;           /* NULL when absent */
	unsigned buckets;
} hx__aggs_req;
int hx__aggs_parse(hx__aggs_req *r, const char *qs, size_t len, char *err, size_t errlen);
void hx__aggs_free(hx__aggs_req *r);

/* GET /api/dependencies */
typedef struct hx__deps_req {
	uint64_t from_ns, to_ns;     /* 0: open */
	int by_entity;
} hx__deps_req;
int hx__deps_parse(hx__deps_req *r, const char *qs, size_t len, char *err, size_t errlen);

/* GET /api/complete: `after` is the `next` of the previous answer (a row number; 0 = from the
 * beginning). */
typedef struct hx__complete_req {
	uint64_t after;
	size_t limit;
} hx__complete_req;
int hx__complete_parse(hx__complete_req *r, const char *qs, size_t len, char *err, size_t errlen);

#endif /* HX_SERVER_QUERY_ANALYSIS_H */
