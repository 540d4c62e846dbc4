/*
 * view.h - one trace prepared for the interactive viewer, and the answers the viewer asks of it
 * (docs/http-api.md, "The viewer's endpoints"). Both `hx view` and `hx serve` use it: a model is
 * built from a stream of hx_event (a reader over files, or hx_store_fetch), kept in a bounded
 * cache (cache.c), and queried by the HTTP handlers in src/server/api_view.c.
 *
 * THE MODEL. The trace DAG (src/model/dag.h) plus what the DAG leaves out and the viewer shows:
 *   - lanes: one per entity, ordered host, process, entity (by first event), each with its
 *     deepest block nesting, so the browser can lay out rows without seeing every block;
 *   - effects: the reverse of the DAG's cause edges (CSR), to follow the DAG forwards;
 *   - attributes and counter values, packed in one blob with a per-event offset (events without
 *     attributes cost one offset);
 *   - the clock offset applied to each process (time_orig_ns = time_ns - offset), so the viewer
 *     can mark adjusted events and show original times;
 *   - per-lane indices for level of detail: blocks of each depth in start order with a running
 *     maximum of end times (a window query is a bisection, then a walk of what overlaps, which
 *     skips over what it merges with pyramids of widths and gaps), points in time order, waits
 *     in time order, counter samples per name;
 *   - arrows: the linked causes as intervals, counted exactly per window by bisection.
 *
 * LEVEL OF DETAIL. A window [from, to] drawn at `px` pixel columns has ns_per_px = (to-from)/px.
 * Per lane and depth, a block at least `min_px` columns wide is sent whole; consecutive narrower
 * blocks with less than `min_px` columns between them are merged into one "run" (start, end,
 * count, the name of the longest). Waits likewise; points closer than `min_px` columns are
 * binned (so points sharing a column always are), a lone point is sent whole; counters as
 * [t, min, max] per bin of `min_px` columns; arrows up to a cap, sampled evenly. When the answer
 * would pass max_items, min_px doubles until it fits (lanes that still do not fit are left out,
 * listed). The answer says exactly what it merged or left out: nothing is cut silently. The
 * cost of a query is O(lanes * depth * log n + what it returns), so a 10 M-event trace answers a
 * zoomed-out view with a few thousand items (lod.c, docs/analysis.md "The viewer's model").
 *
 * EVENT REFERENCES. Inside a model, events are indices (uint32, the DAG's order: entity, seq),
 * stable for a given set of events. In URLs and across rebuilds they are event IDs
 * "ENTITY16HEX:SEQ" (hx__view_find_id).
 *
 * Ownership: hx__view_build* return a model the caller owns (hx__view_free). Answers are appended
 * to an hx__buf as JSON. Thread safety: a built model is read-only; any number of threads may
 * query it at once.
 * Errors: HX_OK, HX_ENOMEM, HX_EINVAL (bad arguments: the message is in err), HX_ENOENT.
 */
#ifndef HX_VIEW_VIEW_H
#define HX_VIEW_VIEW_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

#include "format/text.h"
#include "model/dag.h"

typedef struct hx__view hx__view;

/* ---- building ---- */

typedef struct hx__view_builder hx__view_builder;

/* For one trace (trace_id; all-zero keeps every event, as for a file with one trace). */
int hx__view_builder_new(hx__view_builder **out, const uint8_t trace_id[16], size_t expect);
void hx__view_builder_free(hx__view_builder *b);
/* Describe process `proc` (caller's index): host, service and program are copied; offset_ns is
 * what clock alignment added to its times (0 when not adjusted). */
int hx__view_builder_process(hx__view_builder *b, uint32_t proc, const char *host,
                             const char *service, const char *program, uint64_t pid,
                             int64_t offset_ns);
/* One event of process `proc` (copied). HX_OK, HX_ENOMEM, HX_EINVAL past the DAG's limit. */
int hx__view_builder_add(hx__view_builder *b, const hx_event *ev, uint32_t proc);
/* Build; the builder is freed whatever the result. */
int hx__view_builder_finish(hx__view_builder *b, hx__view **out);

void hx__view_free(hx__view *v);
const hx__dag *hx__view_dag(const hx__view *v);
size_t hx__view_bytes(const hx__view *v);   /* memory held, for the cache's budget */
size_t hx__view_lanes_count(const hx__view *v); /* lanes are numbered 0 .. this - 1 */

/* ---- answers (each appends one JSON object to out) ---- */

/* GET /api/traces/{id}/view: the overview: time span, counts, lanes grouped by host and process,
 * counter tracks, clock adjustments, the DAG report. */
int hx__view_overview_json(const hx__view *v, hx__buf *out);

typedef struct hx__lod_req {
	uint64_t from_ns, to_ns;    /* the window; to > from */
	uint32_t px;                /* columns, 1 .. 16384 */
	const uint32_t *lanes;      /* lane numbers to answer, NULL = all */
	size_t nlanes;
	uint32_t min_px;            /* blocks narrower than this many columns merge: default 1 */
	uint32_t max_items;         /* cap on items in the answer (default 50,000): beyond it,
	                               more merging, reported */
	int arrows;                 /* include interactions touching the window */
} hx__lod_req;
/* GET /api/traces/{id}/lod. HX_EINVAL with err for a bad request. */
int hx__view_lod_json(const hx__view *v, const hx__lod_req *req, hx__buf *out, char *err,
                      size_t errlen);

/* The event with this ID ("ENTITY16HEX:SEQ"), or HX__DAG_NONE. */
uint32_t hx__view_find_id(const hx__view *v, const char *id);
/* GET /api/traces/{id}/event: everything about event e: name, kind, lane, times (and original),
 * attributes, its block (begin, end, duration, self time), causes and effects with their lanes
 * and times, the wait it ends or is in. HX_ENOENT for a bad index. */
int hx__view_event_json(const hx__view *v, uint32_t e, hx__buf *out);

/* GET /api/traces/{id}/find: the next (dir > 0) or previous (dir < 0) event in time order after
 * event `after` (HX__DAG_NONE: from the start / the end) whose name contains `text`, or whose
 * attribute key or value contains it (key=value: that key with a value containing value);
 * case-insensitive. Answers {"match": null|{event}, "total": matches in the trace}. */
int hx__view_find_json(const hx__view *v, const char *text, uint32_t after, int dir,
                       hx__buf *out);

/* GET /api/traces/{id}/range: for blocks overlapping [from, to] on the given lanes (NULL: all),
 * per name: count, total time and self time clipped to the range, and point counts by name. */
int hx__view_range_json(const hx__view *v, uint64_t from_ns, uint64_t to_ns,
                        const uint32_t *lanes, size_t nlanes, hx__buf *out);

/* GET /api/traces/{id}/critical-path: the critical path (src/analysis/critpath.h) with each
 * segment's lane and the event indices on the path, for the viewer's highlight. */
int hx__view_critpath_json(const hx__view *v, hx__buf *out);

/* ---- the cache of built models (cache.c) ---- */

/* Models by trace ID, least recently used evicted beyond max_bytes. Thread-safe: lookups and
 * inserts take its lock; a model is reference-counted, so eviction never frees one in use. */
typedef struct hx__view_cache hx__view_cache;
int hx__view_cache_new(hx__view_cache **out, size_t max_bytes);
void hx__view_cache_free(hx__view_cache *c);
/* A model for trace_id: from the cache, or built by `load` (which feeds the builder and returns
 * HX_OK, HX_ENOENT or an error) and inserted. Concurrent gets of the same trace build it once.
 * Release it with hx__view_cache_put. */
typedef int (*hx__view_load_fn)(hx__view_builder *b, const uint8_t trace_id[16], void *user);
int hx__view_cache_get(hx__view_cache *c, const uint8_t trace_id[16], hx__view_load_fn load,
                       void *user, hx__view **out);
void hx__view_cache_put(hx__view_cache *c, hx__view *v);
/* Add a model built elsewhere (`hx view` builds one while it loads its files), unheld, as if a
 * get had built it and put it back: evicted at once if it alone passes the budget. The cache
 * takes v whatever the result (freed when the trace has a model already, or on error). HX_OK,
 * HX_ENOMEM, HX_EINVAL for a model that is not of one trace. */
int hx__view_cache_insert(hx__view_cache *c, hx__view *v);
/* Bytes of the ready models it holds, and how many (for metrics and tests). */
size_t hx__view_cache_bytes(hx__view_cache *c);
size_t hx__view_cache_count(hx__view_cache *c);

#endif /* HX_VIEW_VIEW_H */
