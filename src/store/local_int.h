/*
 * local_int.h - the embedded ("local") backend's internals, shared by its files:
 *
 *   local.c          open, commit, abort, info, close; segment files; the schema
 *   local_maint.c    crash recovery at open, retention, removal of a trace
 *   local_write.c    append: validation, deduplication (entity seq ranges), the write buffer,
 *                    and flush (events -> blocks -> segment)
 *   local_index.c    the index side of a flush: summaries, block locations, names -> SQLite
 *   local_read.c     search, fetch, names
 *   local_util.c     byte buffers, the arena, interned strings, owned event copies, the entity
 *                    cache and its seq ranges
 *
 * docs/storage.md describes the files on disk; the layouts are repeated here next to the code
 * that writes them.
 *
 * SEGMENT FILE  DIR/seg-<id, 8 decimal digits>.hxs, append-only
 *     0   8  magic "HXSTSEG1"
 *     8   8  segment ID (u64 LE), the same as in its file name and in the segments table
 *    16  ..  blocks, back to back
 *
 * BLOCK
 *     0   4  magic "HXBK" (u32 LE 0x4b425848)
 *     4   4  compressed payload bytes C
 *     8   4  raw payload bytes R (<= LX_RAW_MAX)
 *    12   4  CRC32C over bytes [0, 12) followed by the C payload bytes
 *    16   C  one zstd frame; decompressed, the raw payload:
 *
 * RAW PAYLOAD (varints are LEB128 as in the trace format)
 *   varint P, then P processes: 16 bytes instance ID, varint pid, then host, service, program
 *             each as varint length + bytes
 *   varint G, then G group entries: 16 bytes trace ID, varint process index (< P), varint event
 *             count, varint tmin (ns), varint tmax - tmin, varint body bytes
 *   the G bodies, in the order of the entries: each a body of src/format/encode.h, encoded with
 *   the encoder reset at tmin (so a decoder reset at tmin reads it back); its events are those of
 *   one trace from one process, sorted by (entity, seq) so that the entity is restated once.
 *
 * Thread safety: the writer side (append, commit, retain, remove, close) runs on one thread at a
 * time; it owns everything in hx_store except `rd` and `rd_mu`. Readers (search, fetch, names,
 * info) use their own SQLite connection `rd`, serialised by `rd_mu`, and open segment files
 * themselves; they see what the last commit made durable.
 */
#ifndef HX_STORE_LOCAL_INT_H
#define HX_STORE_LOCAL_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "format/encode.h"
#include "store/store.h"
#include "store/store_int.h"

#define LX_SEG_MAGIC "HXSTSEG1"
#define LX_SEG_HEADER 16u
#define LX_BLOCK_MAGIC 0x4b425848u
#define LX_BLOCK_HEADER 16u
#define LX_RAW_MAX (16u << 20)        /* largest raw payload a reader accepts */
#define LX_BLOCK_TARGET (256u << 10)  /* a block is finished once its raw payload reaches this */
#define LX_GROUP_MAX 16384u           /* events per body: bounds a body and a block */
#define LX_SEG_MAX_DEFAULT (64ull << 20)
#define LX_ENTITY_CACHE 65536u        /* entities whose seq ranges stay in memory (LRU) */
#define LX_NAME_CACHE 65536u          /* (kind, name) -> row ID kept in memory */
#define LX_KIND_ATTR 1                /* names.kind of an indexed attribute "key=value" */
#define LX_KIND_EVNAME 2              /* names.kind of a block-or-point name: the search key of
                                         hx_store_query.name, so that a name used by both kinds
                                         costs one trace_keys row, not two */
#define LX_ATTR_VALUE_MAX 200         /* longest attribute value indexed, in bytes */

/* ---- growable byte buffer ---- */
typedef struct lx_buf {
	uint8_t *p;
	size_t len, cap;
} lx_buf;
int lx_buf_reserve(lx_buf *b, size_t more);            /* 0 or -1 (no memory) */
int lx_buf_put(lx_buf *b, const void *p, size_t n);
int lx_buf_varint(lx_buf *b, uint64_t v);
int lx_buf_str(lx_buf *b, const char *s, size_t n);    /* varint length + bytes */
void lx_buf_free(lx_buf *b);

/* ---- arena: bump allocation in chunks that never move, freed all at once ---- */
typedef struct lx_arena_chunk lx_arena_chunk;
typedef struct lx_arena {
	lx_arena_chunk *head, *cur; /* chunks in use order; cur is being filled */
	lx_arena_chunk *big;        /* oversized chunks, freed at reset */
	size_t used_bytes;          /* bytes handed out since the reset: what the memory limit counts */
} lx_arena;
void *lx_arena_alloc(lx_arena *a, size_t n, size_t align);
void lx_arena_reset(lx_arena *a); /* keeps the ordinary chunks for reuse */
void lx_arena_free(lx_arena *a);
/* Interned strings of the write buffer: names and attribute keys repeat in nearly every event, so
 * the buffer keeps one copy of each, and equal strings have equal pointers (which makes counting
 * names per trace a pointer comparison). Bounded: past LX_INTERN_MAX strings, copies are plain. */
#define LX_INTERN_MAX 65536u
typedef struct lx_islot {
	const char *p;
	uint32_t len, hash;
} lx_islot;
typedef struct lx_intern {
	lx_islot *slots;
	size_t nslots, used;
} lx_intern;
/* A NUL-terminated copy of p[0..n) in the arena (shared when interned); NULL: no memory. */
const char *lx_intern_str(lx_intern *in, lx_arena *a, const char *p, size_t n);
void lx_intern_reset(lx_intern *in);
void lx_intern_free(lx_intern *in);
/* Deep-copy ev (name, attributes, causes, unit) into the arena, interning names and keys when
 * `in` is given; 0 or -1 (no memory). */
int lx_event_copy(lx_arena *a, hx_event *dst, const hx_event *src, lx_intern *in);

/* ---- per-entity stored seq ranges (deduplication) ---- */
typedef struct lx_range {
	uint64_t lo, hi; /* [lo, hi) */
} lx_range;

typedef struct lx_entity {
	uint64_t eid;
	lx_range *r;
	uint32_t n, cap;
	int dirty;                          /* changed since the last commit */
	struct lx_entity *hnext;            /* hash chain */
	struct lx_entity *prev, *next;      /* LRU list, most recent at head */
} lx_entity;

typedef struct lx_entity_cache {
	lx_entity **buckets;
	size_t nbuckets, n;
	lx_entity *head, *tail;
} lx_entity_cache;

lx_entity *lx_ecache_find(lx_entity_cache *c, uint64_t eid);
lx_entity *lx_ecache_add(lx_entity_cache *c, uint64_t eid); /* NULL: no memory */
void lx_ecache_touch(lx_entity_cache *c, lx_entity *e);
void lx_ecache_drop(lx_entity_cache *c, lx_entity *e);
void lx_ecache_free(lx_entity_cache *c);
/* 1 if seq is in e's ranges. */
int lx_ranges_has(const lx_entity *e, uint64_t seq);
int lx_ranges_add(lx_entity *e, uint64_t seq); /* 0 or -1 (no memory) */
int lx_ranges_encode(const lx_entity *e, lx_buf *out);
int lx_ranges_decode(lx_entity *e, const uint8_t *p, size_t n); /* 0, -1 malformed or no memory */

/* ---- a trace's keys blob: the names it contains, with counts ---- */
typedef struct lx_kc {
	int64_t key; /* names.id */
	uint64_t n;  /* events carrying it (1 for a service) */
	int row;     /* a trace_keys row exists for it (the searchable kinds: not blocks, points) */
} lx_kc;
/* Persisted form: varint count, then per key (ascending) varint (key - previous key),
 * varint (n << 1 | row). */
int lx_keys_encode(const lx_kc *v, size_t n, lx_buf *out);        /* 0 or -1 (no memory) */
int lx_keys_decode(const uint8_t *p, size_t len, lx_kc **out, size_t *n); /* 0, -1 malformed,
                                                                    -2 no memory; *out malloc'd */

/* ---- the write buffer ---- */
typedef struct lx_proc {
	uint8_t instance[16];
	uint64_t pid;
	const char *host, *service, *program; /* in the arena */
	size_t host_len, service_len, program_len;
} lx_proc;

typedef struct lx_bev {
	hx_event ev;    /* pointers into the arena */
	uint32_t proc;  /* index into procs */
} lx_bev;

typedef struct lx_group {
	uint8_t trace[16];
	uint32_t proc;
	uint32_t *idx;  /* indices into bev, in arrival order */
	uint32_t n, cap;
	int sorted;     /* idx is in (entity, seq) order so far */
	uint64_t tmin, tmax;
} lx_group;

/* The names cache: (kind, name) -> names.id, with the count delta of the flush in progress. */
typedef struct lx_name {
	int kind;
	char *name;
	size_t len;
	int64_t id;
	uint64_t delta;
	int touched;
	struct lx_name *hnext;
} lx_name;

/* ---- the current segment ---- */
typedef struct lx_segment {
	uint64_t id;
	int fd;                   /* -1: none open for writing */
	uint64_t len;             /* bytes written */
	uint64_t committed_len;   /* bytes covered by the last commit (synced) */
	uint64_t tmax;            /* latest event time written to it */
	uint64_t committed_tmax;
	int created_pending;      /* made since the last commit: abort unlinks it */
} lx_segment;

struct hx_store {
	const hx_store_ops *ops;  /* first: store.c dispatches through it */
	char *dir;
	int lock_fd;
	uint64_t max_bytes, max_age_ns, memory_limit, seg_max;
	char **indexed;           /* indexed attribute keys */
	size_t nindexed;

	/* writer side */
	sqlite3 *db;
	int txn_open;             /* a write transaction is open (something is pending) */
	sqlite3_stmt *st[32];     /* prepared statements, enum lx_stmt */
	lx_segment seg;
	uint64_t next_seg_id;
	int dir_dirty;            /* a segment file was created: fsync the directory at commit */
	lx_entity_cache ecache;
	lx_entity **dirty;        /* entities whose ranges changed since the last commit */
	size_t ndirty, cap_dirty;
	lx_name **nbuckets;
	size_t nnbuckets, nnames;
	lx_name **touched;
	size_t ntouched, cap_touched;

	lx_arena arena;
	lx_intern intern;
	lx_bev *bev;
	size_t nbev, cap_bev;
	lx_proc *procs;
	size_t nprocs, cap_procs;
	uint32_t last_proc;
	lx_group *groups;
	size_t ngroups, cap_groups;
	uint32_t *gslots;         /* open-addressing hash of groups: index + 1, 0 empty */
	size_t ngslots;
	size_t last_group;        /* index + 1 of the group of the last event, 0 none */
	uint64_t last_eid;        /* entity of the last event, for the cache fast path */
	lx_entity *last_ent;

	hx__encoder *enc;
	ZSTD_CCtx *cctx;
	lx_buf raw, dir_buf, bodies, out;
	int zlevel;

	/* counters: committed values and what is pending */
	uint64_t events, traces, duplicates;
	uint64_t p_events, p_traces, p_duplicates;

	/* fault injection (HX_STORE_FAULT=enospc_after:N[,for:M]) */
	uint64_t fault_after, fault_for, seg_writes;

	/* reader side */
	pthread_mutex_t rd_mu;
	sqlite3 *rd;
};

/* Prepared statements of the writer connection. */
enum lx_stmt {
	ST_TRACE_GET, ST_TRACE_INS, ST_TRACE_UPD, ST_BLOCK_INS, ST_KEY_ADD, ST_NAME_GET, ST_NAME_INS,
	ST_NAME_ADD, ST_ENT_GET, ST_ENT_PUT, ST_SEG_INS, ST_SEG_UPD, ST_META_PUT, ST_BEGIN, ST_COMMIT,
	ST_ROLLBACK, ST_TRACE_KEYS, ST_TRACE_DEL, ST_KEY_DEL, ST_BLOCKS_DEL, ST_HAS_BLOCKS,
	ST__COUNT
};

/* local.c */
int lx_sql_err(sqlite3 *db, int rc, const char *what); /* sqlite rc -> hx_result, sets message */
int lx_ensure_txn(hx_store *s);
int lx_segment_prepare(hx_store *s);  /* a segment open for writing */
int lx_segment_write(hx_store *s, const void *p, size_t n, uint64_t *off);
void lx_abort_pending(hx_store *s);
sqlite3_stmt *lx_stmt(hx_store *s, int which);
int lx_commit(hx_store *s);
char *lx_segment_path(const hx_store *s, uint64_t id);
int lx_exec_stmt(hx_store *s, int which, const char *what);
int lx_meta_put(hx_store *s, const char *key, uint64_t v);
int lx_errno_result(int e);

/* local_maint.c */
int lx_recover(hx_store *s);
int lx_retain(hx_store *s, uint64_t now_ns);
int lx_remove(hx_store *s, const uint8_t trace_id[16]);
uint64_t lx_dir_bytes(const char *dir); /* segments plus the index files */

/* local_write.c */
int lx_append(hx_store *s, const hx_store_proc *proc, const hx_event *events, size_t n,
              size_t *stored, size_t *duplicates);
int lx_flush(hx_store *s);
size_t lx_buffered_bytes(const hx_store *s);
void lx_buffer_clear(hx_store *s);
void lx_buffer_free(hx_store *s);
void lx_names_clear(hx_store *s);
int lx_entities_persist(hx_store *s);
void lx_entities_after_commit(hx_store *s);
void lx_entities_drop_dirty(hx_store *s);

/* A flush in progress (local_write.c builds the blocks, local_index.c the index rows). */
typedef struct lx_ftrace {
	uint8_t trace[16];
	size_t g0, ng;   /* its groups in the sorted order */
} lx_ftrace;

typedef struct lx_floc {
	size_t ti;       /* index into the flush's traces */
	uint64_t off, len, tmin, tmax;
} lx_floc;

typedef struct lx_flush_state {
	hx_store *s;
	uint32_t *order;         /* group indices sorted by (trace, proc) */
	lx_ftrace *tr;
	size_t ntr;
	lx_floc *loc;
	size_t nloc, cap_loc;
	size_t loc_next;         /* lx_index_trace's cursor in loc */
	size_t loc0;             /* first loc of the block being built */
	uint32_t *pmap;          /* buffer proc -> block proc + 1 */
	uint32_t *bprocs;        /* block procs, as buffer proc indices */
	uint32_t nbprocs, nbgroups;
} lx_flush_state;

/* local_index.c */
typedef struct lx_tscratch lx_tscratch; /* per-flush scratch of lx_index_trace */
int lx_index_trace(lx_flush_state *f, size_t ti, lx_tscratch *t);
lx_tscratch *lx_tscratch_new(void);     /* NULL: no memory */
void lx_tscratch_free(lx_tscratch *t);   /* NULL: no-op */
int lx_names_write_deltas(hx_store *s);

/* local_read.c */
int lx_search(hx_store *s, const hx_store_query *q, hx_store_result *out);
int lx_fetch(hx_store *s, const uint8_t trace_id[16], const hx_store_window *w,
             hx_store_event_fn fn, void *user);
int lx_names(hx_store *s, int kind, hx_name_list *out);

#endif /* HX_STORE_LOCAL_INT_H */
