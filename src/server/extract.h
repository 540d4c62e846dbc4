/*
 * extract.h - continuous analysis inside `hx serve` (docs/operations.md, "Continuous analysis"):
 * between extract.c, which tracks which traces are complete and runs the extraction thread, and
 * extract_trace.c, which turns one stored trace into its row of features.db.
 *
 * What server.h offers the rest of the service (hx__extract_start, _stop, _note, _all_now) is
 * declared there; this header is the module's inside.
 */
#ifndef HX_SERVER_EXTRACT_H
#define HX_SERVER_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/trace_features.h"
#include "server/features_db.h"
#include "server/server.h"

typedef struct hx__extract hx__extract;   /* extract.c: the tracker and the thread */

/* What one extraction needs to know, fixed at start. */
typedef struct hx__xconf {
	hx__server *srv;
	hx__fdb *db;
	const char *const *attr_keys;   /* NULL-terminated, may be empty */
	uint64_t max_events;            /* a trace with more is not extracted (memory bound) */
} hx__xconf;

/* Per-thread scratch reused from trace to trace (extract_trace.c). */
typedef struct hx__xscratch hx__xscratch;
hx__xscratch *hx__xscratch_new(void);
void hx__xscratch_free(hx__xscratch *s);

/* The outcome of one extraction. */
typedef enum hx__xresult {
	HX__X_STORED = 0,     /* features stored (inside the caller's transaction) */
	HX__X_GONE,           /* the store no longer has the trace: its row was removed */
	HX__X_TOO_LARGE,      /* more than max_events: nothing stored */
	HX__X_FAILED,         /* out of memory, or the store failed: *rc says */
	HX__X_DB_FAILED       /* features.db failed (*rc): the transaction must be rolled back */
} hx__xresult;

/* Fetch trace_id from the store (under the store read rules of server.h), build its DAG,
 * compute its critical path, features and dependency edges, and put them into features.db.
 * root_ended: the tracker saw its root entity leave it. Call inside hx__fdb_begin/_commit.
 * *events gets the events fetched. */
hx__xresult hx__extract_trace(const hx__xconf *c, hx__xscratch *s, const uint8_t trace_id[16],
                              int root_ended, uint64_t *events, int *rc);

#endif /* HX_SERVER_EXTRACT_H */
