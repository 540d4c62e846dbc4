/*
 * store.h - the storage interface of `hx serve`: where events live, hidden behind one table of
 * operations so that callers never know which backend answers (the embedded store today,
 * ClickHouse next). docs/storage.md describes the backends; this header is the contract that the
 * conformance suite (tests/store/) checks for every backend.
 *
 * Model: the store holds events (hx_event, with ns timestamps already aligned) grouped by trace,
 * each with the process it came from (hx_store_proc). Events arrive in batches, from many
 * processes, out of order and over a long time; the same event may arrive twice (a client resends
 * a batch whose ACK it never saw, Kafka replays after a crash): an event is identified by its ID
 * (entity_id, seq) and a second copy is dropped and counted, never stored twice. A trace's summary
 * (start, end, root name, services, counts, error flag) is kept up to date as its events arrive.
 *
 * Durability: hx_store_append() buffers; hx_store_commit() makes everything appended so far
 * durable (on disk and synced) before it returns. The service acknowledges a batch only after the
 * commit that covers it (group commit: one commit for all batches that arrived meanwhile).
 * Queries see what the last commit made durable, not what is still buffered.
 *
 * Failure: when hx_store_append() or hx_store_commit() fails with HX_ENOSPC, HX_EIO or HX_ENOMEM,
 * the store is back at its last successful commit: everything appended since (which nobody has
 * acknowledged) is discarded, and deduplication forgets it, so resending those batches stores
 * them. The store stays consistent and usable: once space returns, appends and commits succeed.
 *
 * Thread safety: a store handle is used by one thread at a time (the service serialises appends
 * and commits on its ingest thread); queries may run on other threads concurrently with appends
 * when the backend says so in hx_store_info.concurrent_reads (the embedded store does: SQLite in
 * WAL mode plus immutable segment files).
 * Errors: HX_OK or a negative hx_result (HX_ENOSPC for a full disk: nothing was half-written and
 * the call may be retried once space returns; HX_EIO; HX_ENOMEM; HX_EINVAL; HX_ENOENT for a trace
 * that is not there; HX_EDAMAGED for a store whose files fail their checks; HX_ESTATE when another
 * process has the store open). hx_store_errmsg() says more about the last failure.
 *
 * Backends: a backend's handle (its struct hx_store) begins with its `const hx_store_ops *`,
 * through which store.c dispatches.
 */
#ifndef HX_STORE_H
#define HX_STORE_H

#include <haruspex.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hx_store hx_store;

/* The process an event came from (the resource of its trace file or of its network batch). */
typedef struct hx_store_proc {
	uint8_t instance[16];   /* process instance ID */
	uint64_t pid;
	const char *host, *service, *program; /* never NULL; "" when unknown */
} hx_store_proc;

typedef struct hx_store_config {
	const char *dir;            /* data directory (created if missing) */
	uint64_t max_bytes;         /* retention by size: 0 = unlimited */
	uint64_t max_age_ns;        /* retention by age of a trace's end: 0 = unlimited */
	uint64_t memory_limit;      /* bytes the backend may buffer between commits (0: 64 MiB);
	                               beyond it, append writes out (not syncs) what it holds first,
	                               so memory stays bounded whatever the caller does */
	const char *const *indexed_attrs; /* attribute keys to index for search (NULL-terminated);
	                                     NULL = the defaults: "error", "http.status_code",
	                                     "http.method", "http.route", "user.id" */
} hx_store_config;

/* One summary per trace, as search returns it. Strings are owned by the result. Unknown ("")
 * hosts and services are neither listed nor counted. */
typedef struct hx_trace_summary {
	uint8_t trace_id[16];
	uint64_t start_ns, end_ns;  /* first and last event */
	const char *root_name;      /* name of the TRACE_BEGIN (the root), "" until it arrives */
	const char *services;       /* services, comma-separated, sorted */
	uint64_t events, entities, processes, hosts;
	uint64_t errors;            /* ERROR events */
} hx_trace_summary;

typedef enum hx_store_sort {
	HX_SORT_START_DESC = 0, /* newest first (default) */
	HX_SORT_START_ASC = 1,
	HX_SORT_DURATION_DESC = 2,
	HX_SORT_DURATION_ASC = 3
} hx_store_sort;

/* Search filters; zero/NULL fields do not filter. */
typedef struct hx_store_query {
	uint64_t from_ns, to_ns;     /* traces overlapping [from, to] */
	const char *service;         /* a service the trace spans */
	const char *entity_name;     /* an entity name in the trace */
	const char *name;            /* a block or point name in the trace */
	uint64_t min_duration_ns, max_duration_ns;
	const char *attr_key, *attr_value; /* an indexed attribute key=value in the trace */
	int error;                   /* 1: only traces with errors; -1: only without; 0: any */
	hx_store_sort sort;
	size_t limit;                /* at most this many (0 = 20; capped at 1000) */
	const char *cursor;          /* from the previous page's next_cursor, or NULL */
} hx_store_query;

/* Owned by the caller after a successful search; free with hx_store_result_free(). The cursor is
 * an opaque string (hex) naming the last row's sort key and trace ID: the next page starts after
 * it (keyset pagination), so rows added or removed meanwhile never make a page repeat or skip a
 * trace. A cursor made with another sort, or malformed, is HX_EINVAL. */
typedef struct hx_store_result {
	hx_trace_summary *traces;
	size_t n;
	char *next_cursor;           /* NULL when this is the last page */
	void *priv;                  /* the backend's allocations (malloc'd, freed by free()) */
} hx_store_result;

/* Fetch: which events of a trace. Zero fields do not restrict. */
typedef struct hx_store_window {
	uint64_t from_ns, to_ns;
	uint64_t entity_id;
} hx_store_window;

/* Called for each fetched event in time order (ties: entity, seq). Return nonzero to stop. The
 * event and proc are valid only during the call. The store holds no lock while it calls: fn may
 * call the query functions (search, fetch, names, info), not append or commit. Stored events are
 * aligned already: time_orig_ns comes back equal to time_ns. */
typedef int (*hx_store_event_fn)(const hx_event *ev, const hx_store_proc *proc, void *user);

/* Counts by name, for /api/services and /api/names. */
typedef struct hx_name_count {
	const char *name;
	int kind;                    /* HX_EV_BLOCK_BEGIN, HX_EV_POINT, HX_EV_ENTITY_BEGIN; 0 for a
	                                service */
	uint64_t count;              /* events (for blocks and points), traces (for services) */
} hx_name_count;
typedef struct hx_name_list {
	hx_name_count *v;            /* the most frequent first; names with a zero count left out */
	size_t n;
	void *priv;
} hx_name_list;

typedef struct hx_store_info {
	const char *backend;         /* "local", "clickhouse" */
	uint64_t bytes;              /* on disk, index included */
	uint64_t events, traces;
	uint64_t duplicates;         /* events dropped because already stored */
	int concurrent_reads;        /* queries may run while another thread appends */
} hx_store_info;

/* The operations a backend implements (one file each: local.c, later clickhouse.c). */
typedef struct hx_store_ops {
	const char *name;
	int (*open)(hx_store **out, const hx_store_config *cfg);
	void (*close)(hx_store *s);
	int (*append)(hx_store *s, const hx_store_proc *proc, const hx_event *events, size_t n,
	              size_t *stored, size_t *duplicates);
	int (*commit)(hx_store *s);
	int (*search)(hx_store *s, const hx_store_query *q, hx_store_result *out);
	int (*fetch)(hx_store *s, const uint8_t trace_id[16], const hx_store_window *w,
	             hx_store_event_fn fn, void *user);
	int (*names)(hx_store *s, int kind, hx_name_list *out); /* kind 0: services */
	int (*retain)(hx_store *s, uint64_t now_ns);            /* apply the retention limits */
	int (*remove)(hx_store *s, const uint8_t trace_id[16]);
	int (*info)(hx_store *s, hx_store_info *out);
} hx_store_ops;

/* Open a store: `url` "local:DIR" or a plain directory for the embedded backend (later
 * "clickhouse://host:port/db", HX_EINVAL for now); NULL or "" takes cfg->dir. cfg->dir is ignored
 * when the URL names the directory; cfg may be NULL for the defaults. The embedded store recovers
 * from a crash here (docs/storage.md) and locks the directory against other processes
 * (HX_ESTATE). */
int hx_store_open(hx_store **out, const char *url, const hx_store_config *cfg);
/* NULL: no-op. Commits what was appended; a failure of that commit cannot be reported here, so
 * call hx_store_commit() first when it matters. */
void hx_store_close(hx_store *s);

/* A message about the last failed hx_store_* call on this thread ("" if none yet): static
 * storage, valid until the thread's next store call. */
const char *hx_store_errmsg(void);

/* Append n events of one process. Events already stored (same entity_id and seq) are skipped and
 * counted in *duplicates; *stored gets the new ones (either may be NULL). Events with an
 * all-zero trace ID are stored under no trace (fetchable by nothing; counted by info) — the service
 * only sends traced events. HX_ENOSPC / HX_EIO: nothing of this call is stored. */
int hx_store_append(hx_store *s, const hx_store_proc *proc, const hx_event *events, size_t n,
                    size_t *stored, size_t *duplicates);
int hx_store_commit(hx_store *s);
int hx_store_search(hx_store *s, const hx_store_query *q, hx_store_result *out);
void hx_store_result_free(hx_store_result *r); /* NULL: no-op */
/* HX_ENOENT: no such trace. HX_EDAMAGED: some of its blocks failed their checks and were
 * skipped; fn has been called for every intact event (in order) before it returns. */
int hx_store_fetch(hx_store *s, const uint8_t trace_id[16], const hx_store_window *w,
                   hx_store_event_fn fn, void *user);
/* kind: 0 services (counts are traces), HX_EV_ENTITY_BEGIN entity names, HX_EV_BLOCK_BEGIN block
 * names, HX_EV_POINT point names (counts are events); others HX_EINVAL. At most 10,000 rows. */
int hx_store_names(hx_store *s, int kind, hx_name_list *out);
void hx_store_names_free(hx_name_list *l); /* NULL: no-op */
/* Apply the retention limits of the config (commits first). */
int hx_store_retain(hx_store *s, uint64_t now_ns);
/* Remove a trace from the index (commits first): search and fetch no longer find it. Its bytes
 * in the segments are reclaimed when retention drops their segment. Its event IDs stay known to
 * deduplication, so a replay of the same events does not bring it back. */
int hx_store_remove(hx_store *s, const uint8_t trace_id[16]);
int hx_store_info_get(hx_store *s, hx_store_info *out);

#endif /* HX_STORE_H */
