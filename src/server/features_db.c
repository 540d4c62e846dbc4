/*
 * features_db.c - the stored features of complete traces (features_db.h): DATA/features.db.
 *
 * Schema (docs/storage.md, "Features"):
 *   meta(key TEXT PRIMARY KEY, value INTEGER)             -- version (1)
 *   traces(id INTEGER PRIMARY KEY AUTOINCREMENT,          -- the completion log's order
 *          tid BLOB UNIQUE, start_ns, end_ns, dur_ns, root, services, hosts, events, errors,
 *          root_ended, extracted_ns,
 *          packed BLOB,     -- the features, packed (below): what aggregation reads
 *          edges BLOB,      -- this trace's part of dep_edges, to take back when it is replaced
 *          features TEXT)   -- the features as JSON (hx__features_json), for people and scripts
 *     INDEX traces_start(start_ns, id)
 *   trace_blocks(name, start_ns, tr, PRIMARY KEY(name, start_ns, tr)) WITHOUT ROWID
 *   dep_edges(by_entity, bucket, src, dst, kind, calls, max_ns, hist BLOB,
 *             src_name, src_service, dst_name, dst_service,    -- the latest seen
 *             PRIMARY KEY(by_entity, bucket, src, dst, kind)) WITHOUT ROWID
 *
 * The packed features and histograms are features_pack.h's.
 */
#include "server/features_db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/features_pack.h"
#include "server/server.h"

#define VERSION 1

enum {
	ST_STATE, ST_OLD, ST_DEL_TRACE, ST_DEL_BLOCK, ST_INS_TRACE, ST_INS_BLOCK, ST_EDGE_GET,
	ST_EDGE_PUT, ST_EDGE_DEL, ST__N
};

static const char *const stmt_sql[ST__N] = {
	[ST_STATE] = "SELECT events, root_ended FROM traces WHERE tid = ?1",
	[ST_OLD] = "SELECT id, start_ns, packed, edges FROM traces WHERE tid = ?1",
	[ST_DEL_TRACE] = "DELETE FROM traces WHERE id = ?1",
	[ST_DEL_BLOCK] = "DELETE FROM trace_blocks WHERE name = ?1 AND start_ns = ?2 AND tr = ?3",
	[ST_INS_TRACE] = "INSERT INTO traces(tid, start_ns, end_ns, dur_ns, root, services, hosts, "
	                 "events, errors, root_ended, extracted_ns, packed, edges, features) "
	                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[ST_INS_BLOCK] = "INSERT OR IGNORE INTO trace_blocks(name, start_ns, tr) VALUES (?1, ?2, ?3)",
	[ST_EDGE_GET] = "SELECT calls, max_ns, hist, src_name, src_service, dst_name, dst_service "
	                "FROM dep_edges WHERE by_entity = ?1 AND bucket = ?2 AND src = ?3 AND "
	                "dst = ?4 AND kind = ?5",
	[ST_EDGE_PUT] = "INSERT OR REPLACE INTO dep_edges(by_entity, bucket, src, dst, kind, calls, "
	                "max_ns, hist, src_name, src_service, dst_name, dst_service) "
	                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_EDGE_DEL] = ("DELETE FROM dep_edges WHERE by_entity = ?1 AND bucket = ?2 AND src = ?3 "
	                 "AND dst = ?4 AND kind = ?5"),
};

struct hx__fdb {
	sqlite3 *wr, *rd;
	pthread_mutex_t wmu, rmu;
	sqlite3_stmt *st[ST__N];     /* writer statements, prepared once */
	hx__buf pack, edges, json;   /* writer scratch */
	uint64_t *hist;              /* writer scratch: HX__FPK_BINS counts */
};

/* ---- small helpers ---- */

static sqlite3_int64 i64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static uint64_t u64(sqlite3_int64 v)
{
	return v < 0 ? 0 : (uint64_t)v;
}

static int sql_err(sqlite3 *db, int rc, const char *what)
{
	int prim = rc & 0xff;
	if (prim == SQLITE_NOMEM)
		return HX_ENOMEM;
	hx__srv_log("features.db: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	if (prim == SQLITE_FULL)
		return HX_ENOSPC;
	if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB)
		return HX_EDAMAGED;
	return HX_EIO;
}

/* ---- opening ---- */

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER);"
	"CREATE TABLE IF NOT EXISTS traces(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" tid BLOB NOT NULL UNIQUE, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,"
	" dur_ns INTEGER NOT NULL, root TEXT NOT NULL, services TEXT NOT NULL, hosts TEXT NOT NULL,"
	" events INTEGER NOT NULL, errors INTEGER NOT NULL, root_ended INTEGER NOT NULL,"
	" extracted_ns INTEGER NOT NULL, packed BLOB NOT NULL, edges BLOB NOT NULL,"
	" features TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS traces_start ON traces(start_ns, id);"
	"CREATE TABLE IF NOT EXISTS trace_blocks(name TEXT NOT NULL, start_ns INTEGER NOT NULL,"
	" tr INTEGER NOT NULL, PRIMARY KEY(name, start_ns, tr)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS dep_edges(by_entity INTEGER NOT NULL, bucket INTEGER NOT NULL,"
	" src TEXT NOT NULL, dst TEXT NOT NULL, kind TEXT NOT NULL, calls INTEGER NOT NULL,"
	" max_ns INTEGER NOT NULL, hist BLOB NOT NULL, src_name TEXT NOT NULL,"
	" src_service TEXT, dst_name TEXT NOT NULL, dst_service TEXT,"
	" PRIMARY KEY(by_entity, bucket, src, dst, kind)) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta(key, value) VALUES ('version', 1);";

static int open_conn(const char *path, int readonly, sqlite3 **db, char *err, size_t errlen)
{
	int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
	            SQLITE_OPEN_NOMUTEX;
	int rc = sqlite3_open_v2(path, db, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		         *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		return rc == SQLITE_NOMEM ? HX_ENOMEM : HX_EIO;
	}
	sqlite3_busy_timeout(*db, 10000);
	sqlite3_extended_result_codes(*db, 1);
	const char *pragmas = readonly ? "PRAGMA query_only = 1; PRAGMA cache_size = -8192;"
	                               : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
	                                 "PRAGMA cache_size = -8192; PRAGMA temp_store = MEMORY;";
	char *msg = NULL;
	rc = sqlite3_exec(*db, pragmas, NULL, NULL, &msg);
	if (rc == SQLITE_OK && !readonly)
		rc = sqlite3_exec(*db, schema, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int prim = rc & 0xff, damaged = prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB;
		snprintf(err, errlen, "%s: %s%s", path, msg ? msg : sqlite3_errstr(rc),
		         damaged ? " (move it away: it is made again from the store)" : "");
		sqlite3_free(msg);
		return damaged ? HX_EDAMAGED : HX_EIO;
	}
	return HX_OK;
}

int hx__fdb_open(hx__fdb **out, const char *dir, char *err, size_t errlen)
{
	*out = NULL;
	hx__fdb *db = calloc(1, sizeof(*db));
	if (!db) {
		snprintf(err, errlen, "out of memory");
		return HX_ENOMEM;
	}
	pthread_mutex_init(&db->wmu, NULL);
	pthread_mutex_init(&db->rmu, NULL);
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, HX__FDB_FILE) >= sizeof(path)) {
		snprintf(err, errlen, "the data directory's path is too long");
		hx__fdb_close(db);
		return HX_EINVAL;
	}
	int rc = open_conn(path, 0, &db->wr, err, errlen);
	if (rc == HX_OK)
		rc = open_conn(path, 1, &db->rd, err, errlen);
	sqlite3_stmt *st = NULL;
	if (rc == HX_OK) {
		int v = -1;
		if (sqlite3_prepare_v2(db->wr, "SELECT value FROM meta WHERE key = 'version'", -1, &st,
		                       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		if (v != VERSION) {
			snprintf(err, errlen, "%s: version %d, this hx reads version %d (move the file "
			                      "away: it is made again from the store)", path, v, VERSION);
			rc = HX_EFORMAT;
		}
	}
	for (int i = 0; i < ST__N && rc == HX_OK; i++)
		if (sqlite3_prepare_v3(db->wr, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i],
		                       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db->wr));
			rc = HX_EIO;
		}
	if (rc == HX_OK && !(db->hist = calloc(HX__FPK_BINS, sizeof(uint64_t)))) {
		snprintf(err, errlen, "out of memory");
		rc = HX_ENOMEM;
	}
	if (rc != HX_OK) {
		hx__fdb_close(db);
		return rc;
	}
	*out = db;
	return HX_OK;
}

void hx__fdb_close(hx__fdb *db)
{
	if (!db)
		return;
	for (int i = 0; i < ST__N; i++)
		sqlite3_finalize(db->st[i]);
	sqlite3_close(db->rd);
	sqlite3_close(db->wr);
	hx__buf_free(&db->pack);
	hx__buf_free(&db->edges);
	hx__buf_free(&db->json);
	free(db->hist);
	pthread_mutex_destroy(&db->wmu);
	pthread_mutex_destroy(&db->rmu);
	free(db);
}

/* ---- writing ---- */

static int exec_w(hx__fdb *db, const char *sql)
{
	int rc = sqlite3_exec(db->wr, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? HX_OK : sql_err(db->wr, rc, sql);
}

int hx__fdb_begin(hx__fdb *db)
{
	pthread_mutex_lock(&db->wmu);
	int rc = exec_w(db, "BEGIN IMMEDIATE");
	if (rc != HX_OK)
		pthread_mutex_unlock(&db->wmu);
	return rc;
}

int hx__fdb_commit(hx__fdb *db)
{
	int rc = exec_w(db, "COMMIT");
	if (rc != HX_OK)
		sqlite3_exec(db->wr, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&db->wmu);
	return rc;
}

void hx__fdb_rollback(hx__fdb *db)
{
	sqlite3_exec(db->wr, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&db->wmu);
}

static sqlite3_stmt *stmt(hx__fdb *db, int which)
{
	sqlite3_stmt *s = db->st[which];
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int step_done(hx__fdb *db, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? HX_OK : sql_err(db->wr, rc, what);
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
	sqlite3_bind_text(s, i, t ? t : "", -1, SQLITE_STATIC);
}

/* Add (sign 1) or take back (sign -1) calls along one edge of one minute. hist: the calls'
 * sparse histogram. */
typedef struct ends {
	const char *from, *to, *kind;
	const char *from_name, *from_service, *to_name, *to_service; /* services may be NULL */
} ends;

static void bind_opt(sqlite3_stmt *s, int i, const char *t)
{
	if (t)
		sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static int edge_apply(hx__fdb *db, int by_entity, int64_t bucket, const ends *n, uint64_t calls,
                      uint64_t max_ns, hx__fpk_rd *hist, int sign)
{
	uint64_t *counts = db->hist;
	memset(counts, 0, HX__FPK_BINS * sizeof(uint64_t));
	uint64_t have_calls = 0, have_max = 0;
	hx__buf kept = HX__BUF_INIT;   /* a taking back keeps the row's names: copied here */
	size_t koff[4] = {0, 0, 0, 0};
	int knull[4] = {0, 0, 0, 0};
	sqlite3_stmt *s = stmt(db, ST_EDGE_GET);
	sqlite3_bind_int(s, 1, by_entity);
	sqlite3_bind_int64(s, 2, bucket);
	bind_text(s, 3, n->from);
	bind_text(s, 4, n->to);
	bind_text(s, 5, n->kind);
	int rc = sqlite3_step(s), err = 0;
	if (rc == SQLITE_ROW) {
		have_calls = u64(sqlite3_column_int64(s, 0));
		have_max = u64(sqlite3_column_int64(s, 1));
		hx__fpk_rd old = hx__fpk_rd_of(sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2));
		if (hx__fpk_hist_merge(&old, counts, 1))
			memset(counts, 0, HX__FPK_BINS * sizeof(uint64_t)); /* damaged: start the minute again */
		for (int k = 0; k < 4 && sign < 0; k++) {
			const char *t = (const char *)sqlite3_column_text(s, 3 + k);
			knull[k] = !t;
			koff[k] = kept.len;
			err |= hx__buf_puts(&kept, t ? t : "") | hx__buf_putc(&kept, '\0');
		}
	} else if (rc != SQLITE_DONE) {
		sqlite3_reset(s);
		return sql_err(db->wr, rc, "read an edge");
	}
	sqlite3_reset(s);
	/* read the histogram in any case: the caller's reader goes on after it */
	if (hx__fpk_hist_merge(hist, counts, sign)) {
		hx__buf_free(&kept);
		return HX_EDAMAGED;
	}
	if (err) {
		hx__buf_free(&kept);
		return HX_ENOMEM;
	}
	if (sign < 0 && rc == SQLITE_DONE)
		return HX_OK; /* nothing to take back */
	ends use = *n;
	if (sign > 0) {
		have_calls += calls;
		if (max_ns > have_max)
			have_max = max_ns;
	} else {
		/* the maximum stays: a minute's maximum may come from a version later replaced */
		have_calls = have_calls > calls ? have_calls - calls : 0;
		const char **dst[4] = {&use.from_name, &use.from_service, &use.to_name, &use.to_service};
		for (int k = 0; k < 4; k++)
			*dst[k] = knull[k] ? NULL : kept.p + koff[k];
	}
	if (!have_calls) {
		hx__buf_free(&kept);
		s = stmt(db, ST_EDGE_DEL);
		sqlite3_bind_int(s, 1, by_entity);
		sqlite3_bind_int64(s, 2, bucket);
		bind_text(s, 3, n->from);
		bind_text(s, 4, n->to);
		bind_text(s, 5, n->kind);
		return step_done(db, s, "delete an edge");
	}
	hx__buf hb = HX__BUF_INIT;
	if (hx__fpk_hist_put(&hb, counts)) {
		hx__buf_free(&hb);
		hx__buf_free(&kept);
		return HX_ENOMEM;
	}
	s = stmt(db, ST_EDGE_PUT);
	sqlite3_bind_int(s, 1, by_entity);
	sqlite3_bind_int64(s, 2, bucket);
	bind_text(s, 3, n->from);
	bind_text(s, 4, n->to);
	bind_text(s, 5, n->kind);
	sqlite3_bind_int64(s, 6, i64(have_calls));
	sqlite3_bind_int64(s, 7, i64(have_max));
	sqlite3_bind_blob(s, 8, hb.p ? hb.p : "", (int)hb.len, SQLITE_STATIC);
	bind_text(s, 9, use.from_name ? use.from_name : n->from);
	bind_opt(s, 10, use.from_service);
	bind_text(s, 11, use.to_name ? use.to_name : n->to);
	bind_opt(s, 12, use.to_service);
	rc = step_done(db, s, "write an edge");
	hx__buf_free(&hb);
	hx__buf_free(&kept);
	return rc;
}

/* A trace's edges blob: varint count, then per edge u8 flags (bit 0 by entity, bit 1 from has
 * a service, bit 2 to has one), from, to, kind, from name, [from service], to name, [to service],
 * varint calls, varint max, sparse histogram. All of a trace's calls count in the minute it
 * started. */
static int edges_pack(hx__fdb *db, hx__buf *b, const hx__fdb_trace *t)
{
	hx__buf_reset(b);
	int err = hx__fpk_varint(b, t->nedges);
	for (size_t i = 0; i < t->nedges && !err; i++) {
		const hx__fdb_edge *e = &t->edges[i];
		uint64_t max = 0;
		memset(db->hist, 0, HX__FPK_BINS * sizeof(uint64_t));
		for (size_t k = 0; k < e->n; k++) {
			db->hist[hx__fpk_bin(e->lat[k])]++;
			if (e->lat[k] > max)
				max = e->lat[k];
		}
		int flags = (e->by_entity ? 1 : 0) | (e->from_service ? 2 : 0) | (e->to_service ? 4 : 0);
		err |= hx__buf_putc(b, (char)flags) | hx__fpk_str(b, e->from) | hx__fpk_str(b, e->to) |
		       hx__fpk_str(b, e->kind) | hx__fpk_str(b, e->from_name ? e->from_name : e->from);
		if (e->from_service)
			err |= hx__fpk_str(b, e->from_service);
		err |= hx__fpk_str(b, e->to_name ? e->to_name : e->to);
		if (e->to_service)
			err |= hx__fpk_str(b, e->to_service);
		err |= hx__fpk_varint(b, e->n) | hx__fpk_varint(b, max) | hx__fpk_hist_put(b, db->hist);
	}
	return err ? HX_ENOMEM : HX_OK;
}

/* Add or take back every edge of an edges blob, in the minute of start_ns. */
static int edges_apply(hx__fdb *db, const void *blob, size_t len, uint64_t start_ns, int sign)
{
	if (!len)
		return HX_OK;
	hx__fpk_rd r = hx__fpk_rd_of(blob, len);
	int64_t bucket = (int64_t)(start_ns / HX__FDB_BUCKET_NS);
	uint64_t n = hx__fpk_get_varint(&r);
	char *strs = malloc(2 * len + 3);
	if (!strs)
		return HX_ENOMEM;
	int rc = HX_OK;
	for (uint64_t i = 0; i < n && rc == HX_OK && !r.bad; i++) {
		char *o = strs;
		if (r.p >= r.end) {
			r.bad = 1;
			break;
		}
		int flags = *r.p++;
		ends e;
		e.from = hx__fpk_get_str(&r, &o);
		e.to = hx__fpk_get_str(&r, &o);
		e.kind = hx__fpk_get_str(&r, &o);
		e.from_name = hx__fpk_get_str(&r, &o);
		e.from_service = flags & 2 ? hx__fpk_get_str(&r, &o) : NULL;
		e.to_name = hx__fpk_get_str(&r, &o);
		e.to_service = flags & 4 ? hx__fpk_get_str(&r, &o) : NULL;
		uint64_t calls = hx__fpk_get_varint(&r), max = hx__fpk_get_varint(&r);
		if (r.bad)
			break;
		/* the histogram is read by edge_apply from where r stands */
		rc = edge_apply(db, flags & 1, bucket, &e, calls, max, &r, sign);
	}
	free(strs);
	if (rc == HX_OK && r.bad)
		rc = HX_EDAMAGED;
	return rc;
}

/* Delete the row of a trace (its blocks and edges with it). */
static int remove_old(hx__fdb *db, const uint8_t tid[16])
{
	sqlite3_stmt *s = stmt(db, ST_OLD);
	sqlite3_bind_blob(s, 1, tid, 16, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return HX_OK;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return sql_err(db->wr, rc, "find a trace");
	}
	int64_t id = sqlite3_column_int64(s, 0);
	uint64_t start = u64(sqlite3_column_int64(s, 1));
	/* copy the blobs: the statement is reused below */
	size_t plen = (size_t)sqlite3_column_bytes(s, 2), elen = (size_t)sqlite3_column_bytes(s, 3);
	uint8_t *packed = malloc(plen + 1), *edges = malloc(elen + 1);
	int res = HX_OK;
	if (!packed || !edges) {
		res = HX_ENOMEM;
	} else {
		if (plen)
			memcpy(packed, sqlite3_column_blob(s, 2), plen);
		if (elen)
			memcpy(edges, sqlite3_column_blob(s, 3), elen);
	}
	sqlite3_reset(s);
	hx__fpk_unpacker u;
	memset(&u, 0, sizeof(u));
	int damaged = 0;
	if (res == HX_OK) {
		int ur = hx__fpk_unpack(&u, packed, plen);
		if (ur == HX_ENOMEM)
			res = ur;
		damaged = ur == HX_EDAMAGED;
	}
	for (size_t i = 0; res == HX_OK && !damaged && i < u.f.nblocks; i++) {
		s = stmt(db, ST_DEL_BLOCK);
		bind_text(s, 1, u.f.blocks[i].name);
		sqlite3_bind_int64(s, 2, i64(start));
		sqlite3_bind_int64(s, 3, id);
		res = step_done(db, s, "delete a block row");
	}
	if (res == HX_OK && damaged) { /* rare: find its block rows the slow way */
		char sql[96];
		snprintf(sql, sizeof(sql), "DELETE FROM trace_blocks WHERE tr = %lld", (long long)id);
		res = exec_w(db, sql);
	}
	if (res == HX_OK) {
		int er = edges_apply(db, edges, elen, start, -1);
		if (er != HX_OK && er != HX_EDAMAGED) /* a damaged blob cannot be taken back: left */
			res = er;
	}
	if (res == HX_OK) {
		s = stmt(db, ST_DEL_TRACE);
		sqlite3_bind_int64(s, 1, id);
		res = step_done(db, s, "delete a trace");
	}
	hx__fpk_unpacker_free(&u);
	free(packed);
	free(edges);
	return res;
}

/* Names joined with commas ("" for none), for the columns people read. */
static int join(hx__buf *b, char *const *v, size_t n)
{
	hx__buf_reset(b);
	int err = hx__buf_puts(b, "");
	for (size_t i = 0; i < n; i++)
		err |= (i ? hx__buf_putc(b, ',') : 0) | hx__buf_puts(b, v[i] ? v[i] : "");
	return err;
}

int hx__fdb_put(hx__fdb *db, const hx__fdb_trace *t)
{
	const hx__features *f = t->f;
	int rc = remove_old(db, f->trace_id);
	if (rc != HX_OK)
		return rc;
	if (hx__fpk_pack(&db->pack, f) || edges_pack(db, &db->edges, t))
		return HX_ENOMEM;
	hx__buf_reset(&db->json);
	if (hx__features_json(&db->json, f) || hx__buf_puts(&db->json, ""))
		return HX_ENOMEM;
	hx__buf services = HX__BUF_INIT, hosts = HX__BUF_INIT;
	if (join(&services, f->services, f->nservices) || join(&hosts, f->host_names, f->nhost_names)) {
		hx__buf_free(&services);
		hx__buf_free(&hosts);
		return HX_ENOMEM;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	sqlite3_stmt *s = stmt(db, ST_INS_TRACE);
	sqlite3_bind_blob(s, 1, f->trace_id, 16, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, i64(f->start_ns));
	sqlite3_bind_int64(s, 3, i64(f->end_ns));
	sqlite3_bind_int64(s, 4, i64(f->duration_ns));
	bind_text(s, 5, f->root_name);
	bind_text(s, 6, services.p);
	bind_text(s, 7, hosts.p);
	sqlite3_bind_int64(s, 8, i64(t->events));
	sqlite3_bind_int64(s, 9, i64(f->errors));
	sqlite3_bind_int(s, 10, t->root_ended ? 1 : 0);
	sqlite3_bind_int64(s, 11, (sqlite3_int64)ts.tv_sec * 1000000000 + ts.tv_nsec);
	sqlite3_bind_blob(s, 12, db->pack.p, (int)db->pack.len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 13, db->edges.p, (int)db->edges.len, SQLITE_STATIC);
	sqlite3_bind_text(s, 14, db->json.p, (int)db->json.len, SQLITE_STATIC);
	rc = step_done(db, s, "insert a trace");
	hx__buf_free(&services);
	hx__buf_free(&hosts);
	if (rc != HX_OK)
		return rc;
	int64_t id = sqlite3_last_insert_rowid(db->wr);
	for (size_t i = 0; i < f->nblocks && rc == HX_OK; i++) {
		s = stmt(db, ST_INS_BLOCK);
		bind_text(s, 1, f->blocks[i].name);
		sqlite3_bind_int64(s, 2, i64(f->start_ns));
		sqlite3_bind_int64(s, 3, id);
		rc = step_done(db, s, "insert a block row");
	}
	if (rc == HX_OK)
		rc = edges_apply(db, db->edges.p, db->edges.len, f->start_ns, 1);
	return rc;
}

int hx__fdb_remove(hx__fdb *db, const uint8_t trace_id[16])
{
	return remove_old(db, trace_id);
}

int hx__fdb_state(hx__fdb *db, const uint8_t trace_id[16], uint64_t *events, int *root_ended)
{
	pthread_mutex_lock(&db->wmu);
	sqlite3_stmt *s = stmt(db, ST_STATE);
	sqlite3_bind_blob(s, 1, trace_id, 16, SQLITE_STATIC);
	int rc = sqlite3_step(s), res = HX_ENOENT;
	if (rc == SQLITE_ROW) {
		*events = u64(sqlite3_column_int64(s, 0));
		*root_ended = sqlite3_column_int(s, 1) != 0;
		res = HX_OK;
	} else if (rc != SQLITE_DONE) {
		res = sql_err(db->wr, rc, "read a trace's state");
	}
	sqlite3_reset(s);
	pthread_mutex_unlock(&db->wmu);
	return res;
}

long hx__fdb_oldest(hx__fdb *db, const hx__fdb_pos *after, hx__fdb_pos *out, size_t n)
{
	pthread_mutex_lock(&db->wmu);
	sqlite3_stmt *s = NULL;
	long got = 0;
	int rc = sqlite3_prepare_v2(db->wr, "SELECT start_ns, id, tid FROM traces WHERE "
	                                    "(start_ns, id) > (?1, ?2) ORDER BY start_ns, id LIMIT ?3",
	                            -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, i64(after->start_ns));
		sqlite3_bind_int64(s, 2, after->id);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)n);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW && (size_t)got < n) {
			hx__fdb_pos *p = &out[got];
			p->start_ns = u64(sqlite3_column_int64(s, 0));
			p->id = sqlite3_column_int64(s, 1);
			memset(p->trace_id, 0, 16);
			if (sqlite3_column_bytes(s, 2) == 16)
				memcpy(p->trace_id, sqlite3_column_blob(s, 2), 16);
			got++;
		}
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		got = sql_err(db->wr, rc, "list the oldest traces");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->wmu);
	return got;
}

/* ---- reading ---- */

int hx__fdb_scan(hx__fdb *db, uint64_t from_ns, uint64_t to_ns, const char *name, size_t max,
                 hx__fdb_scan_fn fn, void *user, size_t *scanned, int *truncated)
{
	*scanned = 0;
	*truncated = 0;
	if (!to_ns)
		to_ns = UINT64_MAX;
	pthread_mutex_lock(&db->rmu);
	sqlite3_stmt *s = NULL;
	const char *sql =
		name ? "SELECT t.packed FROM trace_blocks b JOIN traces t ON t.id = b.tr "
		       "WHERE b.name = ?3 AND b.start_ns >= ?1 AND b.start_ns <= ?2 "
		       "ORDER BY b.start_ns DESC, b.tr DESC LIMIT ?4"
		     : "SELECT packed FROM traces WHERE start_ns >= ?1 AND start_ns <= ?2 "
		       "ORDER BY start_ns DESC, id DESC LIMIT ?4";
	int rc = sqlite3_prepare_v2(db->rd, sql, -1, &s, NULL), res = HX_OK;
	hx__fpk_unpacker u;
	memset(&u, 0, sizeof(u));
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, i64(from_ns));
		sqlite3_bind_int64(s, 2, i64(to_ns));
		if (name)
			sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)max + 1);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (*scanned == max) {
				*truncated = 1;
				break;
			}
			(*scanned)++;
			int ur = hx__fpk_unpack(&u, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
			if (ur == HX_EDAMAGED)
				continue; /* a damaged row is skipped, not fatal */
			if (ur != HX_OK) {
				res = ur;
				break;
			}
			if (fn(&u.f, user))
				break;
		}
	}
	if (res == HX_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		res = sql_err(db->rd, rc, "aggregate");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->rmu);
	hx__fpk_unpacker_free(&u);
	return res;
}

int hx__fdb_complete(hx__fdb *db, uint64_t after, size_t limit, hx__fdb_complete_fn fn,
                     void *user)
{
	pthread_mutex_lock(&db->rmu);
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db->rd, "SELECT id, tid FROM traces WHERE id > ?1 ORDER BY id "
	                                    "LIMIT ?2", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, i64(after));
		sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (sqlite3_column_bytes(s, 1) != 16)
				continue;
			if (fn(sqlite3_column_blob(s, 1), sqlite3_column_int64(s, 0), user))
				break;
		}
	}
	int res = rc == SQLITE_DONE || rc == SQLITE_ROW ? HX_OK : sql_err(db->rd, rc, "completion log");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->rmu);
	return res;
}

/* ---- dependencies ---- */

/* An edge being summed: its histogram, dense while the answer is built. Names are the newest
 * minute's (rows come newest first). */
typedef struct dsum {
	char *s[7];                  /* from, to, kind, from name, from service, to name, to service */
	uint64_t calls, max_ns;
	uint64_t *counts;            /* HX__FPK_BINS */
} dsum;

#define DEPS_EDGES_MAX 1000   /* distinct edges in one answer (each holds 30 KiB while summed) */
#define DEPS_SLOTS 2048       /* hash slots (a power of two above twice the edges) */

typedef struct dtable {
	dsum v[DEPS_EDGES_MAX];
	size_t n;
	uint32_t slot[DEPS_SLOTS];   /* index + 1, 0 empty */
} dtable;

static uint32_t dhash(const char *const *key)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 3; i++) {
		for (const char *c = key[i]; *c; c++)
			h = (h ^ (uint8_t)*c) * 16777619u;
		h = (h ^ 0xffu) * 16777619u; /* a separator no string contains */
	}
	return h;
}

static void dsum_free(dsum *d)
{
	for (int k = 0; k < 7; k++)
		free(d->s[k]);
	free(d->counts);
}

/* The edge's sum for row values v[7] (v[4] and v[6] may be NULL), made when missing and there is
 * room; NULL when full (*err HX_OK) or out of memory (*err HX_ENOMEM). */
static dsum *dfind(dtable *t, const char *const *v, int *err)
{
	*err = HX_OK;
	uint32_t i = dhash(v) & (DEPS_SLOTS - 1);
	for (; t->slot[i]; i = (i + 1) & (DEPS_SLOTS - 1)) {
		dsum *d = &t->v[t->slot[i] - 1];
		if (!strcmp(d->s[0], v[0]) && !strcmp(d->s[1], v[1]) && !strcmp(d->s[2], v[2]))
			return d;
	}
	if (t->n == DEPS_EDGES_MAX)
		return NULL;
	dsum *d = &t->v[t->n];
	memset(d, 0, sizeof(*d));
	int oom = !(d->counts = calloc(HX__FPK_BINS, sizeof(uint64_t)));
	for (int k = 0; k < 7; k++)
		if (v[k])
			oom |= !(d->s[k] = strdup(v[k]));
	if (oom) {
		dsum_free(d);
		*err = HX_ENOMEM;
		return NULL;
	}
	t->slot[i] = (uint32_t)++t->n;
	return d;
}

static int dep_cmp(const void *a, const void *b)
{
	const hx__fdb_dep *x = a, *y = b;
	int c = strcmp(x->from, y->from);
	if (!c)
		c = strcmp(x->to, y->to);
	return c ? c : strcmp(x->kind, y->kind);
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const hx__fdb_node *)a)->id, ((const hx__fdb_node *)b)->id);
}

/* The node list of the answer's edges: one per id, with the calls in and out. */
static int make_nodes(dtable *t, hx__fdb_deps *out)
{
	if (!t->n)
		return HX_OK;
	hx__fdb_node *v = calloc(2 * t->n, sizeof(*v));
	if (!v)
		return HX_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		for (int side = 0; side < 2; side++) {
			dsum *d = &t->v[i];
			v[n].id = d->s[side];
			v[n].name = d->s[side ? 5 : 3];
			v[n].service = d->s[side ? 6 : 4];
			v[n].calls_in = side ? d->calls : 0;
			v[n].calls_out = side ? 0 : d->calls;
			n++;
		}
	qsort(v, n, sizeof(*v), node_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && !strcmp(v[m - 1].id, v[i].id)) {
			v[m - 1].calls_in += v[i].calls_in;
			v[m - 1].calls_out += v[i].calls_out;
			continue;
		}
		v[m++] = v[i];
	}
	/* own the strings: copies, since the edges own theirs */
	int oom = 0;
	for (size_t i = 0; i < m; i++) {
		const char *s3[3] = {v[i].id, v[i].name, v[i].service};
		char **d3[3] = {&v[i].id, &v[i].name, &v[i].service};
		for (int k = 0; k < 3; k++)
			*d3[k] = s3[k] && !oom ? strdup(s3[k]) : NULL;
		oom |= !v[i].id || !v[i].name || (s3[2] && !v[i].service);
	}
	out->nodes = v;
	out->nnodes = m;
	return oom ? HX_ENOMEM : HX_OK;
}

int hx__fdb_deps_get(hx__fdb *db, int by_entity, uint64_t from_ns, uint64_t to_ns, size_t max_rows,
                     hx__fdb_deps *out)
{
	memset(out, 0, sizeof(*out));
	int64_t b0 = (int64_t)(from_ns / HX__FDB_BUCKET_NS);
	int64_t b1 = to_ns ? (int64_t)(to_ns / HX__FDB_BUCKET_NS) : INT64_MAX;
	dtable *t = calloc(1, sizeof(*t));
	if (!t)
		return HX_ENOMEM;
	pthread_mutex_lock(&db->rmu);
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db->rd, "SELECT src, dst, kind, src_name, src_service, dst_name, "
	                                    "dst_service, calls, max_ns, hist FROM dep_edges WHERE "
	                                    "by_entity = ?1 AND bucket >= ?2 AND bucket <= ?3 "
	                                    "ORDER BY bucket DESC LIMIT ?4",
	                            -1, &s, NULL);
	int res = HX_OK;
	if (rc == SQLITE_OK) {
		sqlite3_bind_int(s, 1, by_entity ? 1 : 0);
		sqlite3_bind_int64(s, 2, b0);
		sqlite3_bind_int64(s, 3, b1);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)max_rows + 1);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (out->scanned == max_rows) {
				out->truncated = 1;
				break;
			}
			out->scanned++;
			const char *v[7];
			for (int k = 0; k < 7; k++) {
				v[k] = (const char *)sqlite3_column_text(s, k);
				if (!v[k] && k != 4 && k != 6)
					v[k] = "";
			}
			dsum *d = dfind(t, v, &res);
			if (res != HX_OK)
				break;
			if (!d) { /* more distinct edges than an answer holds */
				out->truncated = 1;
				continue;
			}
			d->calls += u64(sqlite3_column_int64(s, 7));
			uint64_t mx = u64(sqlite3_column_int64(s, 8));
			if (mx > d->max_ns)
				d->max_ns = mx;
			hx__fpk_rd h = hx__fpk_rd_of(sqlite3_column_blob(s, 9), (size_t)sqlite3_column_bytes(s, 9));
			hx__fpk_hist_merge(&h, d->counts, 1); /* a damaged histogram adds what it could */
		}
	}
	if (res == HX_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		res = sql_err(db->rd, rc, "dependencies");
	sqlite3_finalize(s);
	pthread_mutex_unlock(&db->rmu);
	if (res == HX_OK)
		res = make_nodes(t, out);
	if (res == HX_OK && t->n && !(out->v = calloc(t->n, sizeof(hx__fdb_dep))))
		res = HX_ENOMEM;
	for (size_t i = 0; i < t->n && res == HX_OK; i++) {
		dsum *d = &t->v[i];
		hx__fdb_dep *e = &out->v[out->n++];
		e->from = d->s[0];
		e->to = d->s[1];
		e->kind = d->s[2];
		d->s[0] = d->s[1] = d->s[2] = NULL; /* the answer has them now */
		e->calls = d->calls;
		e->max_ns = d->max_ns;
		uint64_t total = 0;
		for (unsigned k = 0; k < HX__FPK_BINS; k++)
			total += d->counts[k];
		e->p50_ns = hx__fpk_hist_quantile(d->counts, total, 0.50, e->max_ns);
		e->p99_ns = hx__fpk_hist_quantile(d->counts, total, 0.99, e->max_ns);
	}
	for (size_t i = 0; i < t->n; i++)
		dsum_free(&t->v[i]);
	free(t);
	if (res != HX_OK)
		hx__fdb_deps_free(out);
	else if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), dep_cmp);
	return res;
}

void hx__fdb_deps_free(hx__fdb_deps *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].from);
		free(d->v[i].to);
		free(d->v[i].kind);
	}
	for (size_t i = 0; i < d->nnodes; i++) {
		free(d->nodes[i].id);
		free(d->nodes[i].name);
		free(d->nodes[i].service);
	}
	free(d->v);
	free(d->nodes);
	memset(d, 0, sizeof(*d));
}
