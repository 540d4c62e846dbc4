/*
 * critpath.h - the critical path of a trace: the chain of events that determined its end-to-end
 * latency, as time segments, with the time summed by block name, entity and host
 * (docs/analysis.md, "Critical path").
 *
 * The walk starts at the trace's last event and steps back, each time to the predecessor that
 * became ready last: the same entity's previous event, or a cause (an interaction edge), or, for
 * a wait ended by STATE running, the cause that woke the entity (hx__dag_wait.resume). Time an
 * entity spent waiting is therefore attributed to the chain of what it waited for whenever that
 * is known, and to the wait itself ("waiting for <reason>") when it is not.
 *
 * Robustness: every event is visited at most once (a cycle of inconsistent IDs cannot loop the
 * walk: the latest unvisited predecessor is taken, counted); a cause not in the graph is counted
 * and skipped; a step back to an event later than the path so far (clock skew) is clamped to
 * zero length and counted, so no segment is negative and the segments tile the trace's time.
 *
 * Cost: linear in the events and causes of the graph (one byte per event for the visited marks,
 * plus the segments). Ownership: hx__critpath_compute() fills *out, which owns its arrays until
 * hx__critpath_free(). The graph must outlive nothing here: the result holds only indices into it.
 * Thread safety: any number of walks may run on one graph at once (it is read-only).
 */
#ifndef HX_ANALYSIS_CRITPATH_H
#define HX_ANALYSIS_CRITPATH_H

#include "format/text.h"
#include "model/dag.h"

typedef enum hx__seg_kind {
	HX__SEG_RUNNING = 0,     /* the entity ran from one path event to the next */
	HX__SEG_WAITING = 1,     /* the entity waited, for `reason`, and nothing known ended it
	                            earlier: the wait itself is on the path */
	HX__SEG_TRANSFER = 2,    /* a cause on `from_entity` to its effect on `entity` */
	HX__SEG_UNEXPLAINED = 3, /* from the trace's first event to the path's first: no recorded
	                            edge explains it (the path began on an entity whose cause was not
	                            recorded) */
	HX__SEG__MAX
} hx__seg_kind;

/* hx__cp_segment.reason for a same-entity step over events that are not in the graph (the
 * entity worked for another trace in between, or events were lost). */
#define HX__CP_REASON_GAP (HX__DAG_NONE - 1)

typedef struct hx__cp_segment {
	uint8_t kind;            /* hx__seg_kind */
	uint32_t entity;         /* whose time it is: the entity that ran or waited; for a transfer,
	                            the receiving entity */
	uint32_t from_entity;    /* TRANSFER: the cause's entity; else equal to entity */
	uint32_t block;          /* innermost block open on `entity` during it, HX__DAG_NONE if none */
	uint32_t reason;         /* WAITING: interned reason, or HX__CP_REASON_GAP; else 0 */
	uint32_t start_event;    /* the path event it starts at (UNEXPLAINED: the trace's first) */
	uint32_t end_event;      /* the path event it ends at */
	uint64_t start_ns, end_ns;
	uint32_t steps;          /* path steps merged into it (adjacent steps alike are merged) */
} hx__cp_segment;

typedef struct hx__cp_sum {
	uint32_t key;            /* by_block: block name ID (HX__DAG_NONE: outside any block);
	                            by_entity: entity index; by_host: host name ID */
	uint64_t ns;
} hx__cp_sum;

typedef struct hx__critpath {
	uint32_t trace;          /* as given (HX__DAG_NONE: the whole graph) */
	uint64_t start_ns, end_ns; /* the trace's first and last event; end - start = the duration */
	uint32_t first_event, last_event; /* those events (HX__DAG_NONE when the trace is empty) */
	uint32_t path_first;     /* the earliest event on the path */
	uint64_t path_events;    /* events on the path */
	hx__cp_segment *seg;     /* in time order; they tile [start_ns, end_ns] */
	size_t nseg;
	uint64_t by_kind[HX__SEG__MAX];
	hx__cp_sum *by_block, *by_entity, *by_host; /* largest first, ties by key */
	size_t nby_block, nby_entity, nby_host;
	/* what the walk met */
	uint64_t clamped;        /* steps to a predecessor later than the path so far: 0 ns */
	uint64_t clamped_ns;     /* the time those steps would have gone backwards */
	uint64_t cycles;         /* predecessors skipped because already on the path */
	uint64_t missing;        /* causes of path events that are not in the graph */
	uint64_t inferred;       /* steps to the cause that woke a wait ended by STATE running */
} hx__critpath;

/* The critical path of trace `trace` (an index in d->traces; HX__DAG_NONE for every event of
 * the graph, as for a graph built with a trace filter). HX_OK (also for an empty trace: no
 * segments), HX_EINVAL for a bad index, HX_ENOMEM (*out is then empty and safe to free). */
int hx__critpath_compute(const hx__dag *d, uint32_t trace, hx__critpath *out);
void hx__critpath_free(hx__critpath *cp);

/* "running", "waiting", "transfer", "unexplained"; NULL if unknown. */
const char *hx__seg_kind_name(int kind);

/* The result as one JSON object (the format of `hx critical-path --json`, docs/analysis.md).
 * HX_OK or HX_ENOMEM. */
int hx__critpath_json(hx__buf *b, const hx__dag *d, const hx__critpath *cp);

#endif /* HX_ANALYSIS_CRITPATH_H */
