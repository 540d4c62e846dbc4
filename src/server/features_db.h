/*
 * features_db.h - the features `hx serve` extracted from complete traces, kept in a SQLite
 * database beside the store (DATA/features.db, WAL mode; docs/storage.md, "Features"): one row per
 * trace (its features packed for aggregation and as JSON, plus indexed columns), one row per
 * (block name, trace) so a name filter reads only the traces that have the block, and the
 * dependency edges summed per minute so that GET /api/dependencies over a time range reads one row
 * per edge and minute instead of every trace.
 *
 * A trace's row id is its place in the completion log (GET /api/complete): ids only grow
 * (AUTOINCREMENT), and a trace extracted again gets a new one, so a follower sees it again.
 *
 * The database holds nothing that cannot be computed again from the store: it is written with
 * synchronous=NORMAL (a power cut may lose the last transactions, which the next start finds
 * missing and extracts again, extract.c).
 *
 * Threads: writes come from one thread at a time (a mutex serialises them anyway); reads use a
 * second connection under their own mutex, so a long aggregation never waits for a write
 * transaction, nor the reverse (WAL). Errors: HX_OK, HX_ENOMEM, HX_EIO (SQLite failed: the
 * message went to the log), HX_ENOSPC, HX_EDAMAGED (the file is not a features database),
 * HX_ENOENT.
 */
#ifndef HX_SERVER_FEATURES_DB_H
#define HX_SERVER_FEATURES_DB_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/trace_features.h"

#define HX__FDB_FILE "features.db"
#define HX__FDB_BUCKET_NS (60ull * 1000000000ull)   /* dependency edges are summed per minute */

typedef struct hx__fdb hx__fdb;

/* Open (create) DIR/features.db; err says why not. */
int hx__fdb_open(hx__fdb **out, const char *dir, char *err, size_t errlen);
void hx__fdb_close(hx__fdb *db);   /* NULL: no-op */

/* ---- writing ---- */

/* The calls of one trace along one edge (service or entity to another), with their latencies
 * (ns), as extract.c finds them. */
typedef struct hx__fdb_edge {
	int by_entity;
	const char *from, *to, *kind;              /* node ids (deps.c's), interaction kind */
	const char *from_name, *to_name;           /* node names */
	const char *from_service, *to_service;     /* an entity's service; NULL for services */
	const uint64_t *lat;
	size_t n;
} hx__fdb_edge;

typedef struct hx__fdb_trace {
	const hx__features *f;
	uint64_t events;             /* events the store delivered for it */
	int root_ended;              /* its root entity left it (TRACE_END, or its next trace) */
	const hx__fdb_edge *edges;
	size_t nedges;
} hx__fdb_trace;

/* Writes go in transactions: begin, any number of put / remove, commit (or rollback). */
int hx__fdb_begin(hx__fdb *db);
int hx__fdb_commit(hx__fdb *db);
void hx__fdb_rollback(hx__fdb *db);
/* Store a trace's features, replacing an earlier row of the same trace (its blocks and its
 * contribution to the dependency edges go with it). */
int hx__fdb_put(hx__fdb *db, const hx__fdb_trace *t);
/* Forget a trace (HX_OK when it was not there). */
int hx__fdb_remove(hx__fdb *db, const uint8_t trace_id[16]);

/* What the database knows of a trace: HX_OK with the events seen at its extraction and whether
 * its root had ended, or HX_ENOENT. (Writer connection: extraction thread.) */
int hx__fdb_state(hx__fdb *db, const uint8_t trace_id[16], uint64_t *events, int *root_ended);

/* The oldest traces by start, after the position (start_ns, id) given (0, 0 to begin): fills up
 * to n trace IDs with their positions, returns how many (0: no more), or a negative error. */
typedef struct hx__fdb_pos {
	uint64_t start_ns;
	int64_t id;
	uint8_t trace_id[16];
} hx__fdb_pos;
long hx__fdb_oldest(hx__fdb *db, const hx__fdb_pos *after, hx__fdb_pos *out, size_t n);

/* ---- reading (any thread) ---- */

/* Each stored trace that started in [from, to] (0: open) and, when name is set, has a block of
 * that name, newest first, at most max of them: fn gets its features (valid during the call,
 * strings included; never to be passed to hx__features_free). *scanned counts the rows read,
 * *truncated says that more matched. fn returning nonzero stops the walk (HX_OK). */
typedef int (*hx__fdb_scan_fn)(const hx__features *f, void *user);
int hx__fdb_scan(hx__fdb *db, uint64_t from_ns, uint64_t to_ns, const char *name, size_t max,
                 hx__fdb_scan_fn fn, void *user, size_t *scanned, int *truncated);

/* One page of the completion log: rows after `after`, oldest first; fn gets each trace ID and
 * row id. */
typedef int (*hx__fdb_complete_fn)(const uint8_t trace_id[16], int64_t row, void *user);
int hx__fdb_complete(hx__fdb *db, uint64_t after, size_t limit, hx__fdb_complete_fn fn,
                     void *user);

/* The dependency edges summed over the minutes that overlap [from, to] (0: open), newest minutes
 * first, reading at most max_rows (edge, minute) rows and answering at most 1000 distinct edges
 * (beyond either, truncated is set). */
typedef struct hx__fdb_dep {
	char *from, *to, *kind;
	uint64_t calls, max_ns;
	uint64_t p50_ns, p99_ns;     /* from the merged histogram: within 0.8 % (max: exact) */
} hx__fdb_dep;
typedef struct hx__fdb_node {
	char *id, *name, *service;   /* service: NULL for a service node */
	uint64_t calls_in, calls_out;
} hx__fdb_node;
typedef struct hx__fdb_deps {
	hx__fdb_dep *v;              /* sorted by (from, to, kind) */
	size_t n;
	hx__fdb_node *nodes;         /* every end of an edge, sorted by id */
	size_t nnodes;
	size_t scanned;
	int truncated;
} hx__fdb_deps;
int hx__fdb_deps_get(hx__fdb *db, int by_entity, uint64_t from_ns, uint64_t to_ns, size_t max_rows,
                     hx__fdb_deps *out);
void hx__fdb_deps_free(hx__fdb_deps *d);

#endif /* HX_SERVER_FEATURES_DB_H */
