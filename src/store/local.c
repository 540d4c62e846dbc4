/*
 * local.c - the embedded backend: a directory of append-only segment files (local_int.h) and a
 * SQLite index (schema below). This file opens a store, manages the segment being written,
 * commits, aborts and reports sizes; recovery, retention and removal are in local_maint.c,
 * appends in local_write.c and local_index.c, queries in local_read.c.
 *
 * Durability, the order that makes a commit atomic:
 *   1. buffered events are written to the current segment as blocks (write(2), not synced) and
 *      their index rows are written inside one open SQLite transaction;
 *   2. the segment is fdatasync()ed, and the directory fsync()ed if the segment file is new;
 *   3. the transaction, which also records the segment's new length (segments.len), commits.
 *   SQLite runs in WAL mode with synchronous=FULL: the WAL is fsynced at every commit, so a commit
 *   that returned survives power loss. (synchronous=NORMAL would sync the WAL only at checkpoints:
 *   a power cut could then undo commits we already acknowledged. One fsync per group commit, ~20
 *   a second, is cheap next to that.) Because the segment is synced before the transaction
 *   commits, no committed index row can point at bytes that were not on disk.
 *   After a crash anywhere in between, open() finds segments.len <= the file's length for every
 *   segment and truncates the tail beyond it (blocks no committed row references); a file with no
 *   segments row (made by a commit that never finished) is deleted. If a file is shorter than its
 *   recorded length or missing (damage, not a crash), the rows that point past its end are dropped
 *   and traces left without blocks go with them.
 *
 * Failure: any error of an append or a commit (ENOSPC, EIO, ENOMEM) returns the store to its
 * last successful commit (lx_abort_pending): the transaction rolls back, the segment is cut back
 * to its committed length, the buffer is dropped and the deduplication ranges forget everything
 * that was not committed, so a client resending its unacknowledged batches is stored, not dropped
 * as a duplicate.
 */
#define _GNU_SOURCE
#include "store/local_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/format.h"

static const char *const stmt_sql[ST__COUNT] = {
	[ST_TRACE_GET] = "SELECT id, start_ns, end_ns, root, services, events, errors, ents, procs, "
	                 "hosts, keys FROM traces WHERE tid = ?1",
	[ST_TRACE_INS] = "INSERT INTO traces(tid, start_ns, end_ns, dur_ns, root, services, events, "
	                 "errors, ents, procs, hosts, keys) "
	                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[ST_TRACE_UPD] = "UPDATE traces SET start_ns = ?2, end_ns = ?3, dur_ns = ?4, root = ?5, "
	                 "services = ?6, events = ?7, errors = ?8, ents = ?9, procs = ?10, hosts = ?11, "
	                 "keys = ?12 WHERE id = ?1",
	[ST_BLOCK_INS] = "INSERT OR REPLACE INTO blocks(tr, seg, off, len, tmin, tmax) "
	                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[ST_KEY_ADD] = "INSERT OR IGNORE INTO trace_keys(key, tr) VALUES(?1, ?2)",
	[ST_NAME_GET] = "SELECT id FROM names WHERE kind = ?1 AND name = ?2",
	[ST_NAME_INS] = "INSERT INTO names(kind, name, count) VALUES(?1, ?2, 0)",
	[ST_NAME_ADD] = "UPDATE names SET count = count + ?2 WHERE id = ?1",
	[ST_ENT_GET] = "SELECT ranges FROM entities WHERE eid = ?1",
	[ST_ENT_PUT] = "INSERT OR REPLACE INTO entities(eid, ranges) VALUES(?1, ?2)",
	[ST_SEG_INS] = "INSERT INTO segments(id, len, tmax) VALUES(?1, ?2, ?3)",
	[ST_SEG_UPD] = "UPDATE segments SET len = ?2, tmax = ?3 WHERE id = ?1",
	[ST_META_PUT] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_TRACE_KEYS] = "SELECT keys FROM traces WHERE id = ?1",
	[ST_TRACE_DEL] = "DELETE FROM traces WHERE id = ?1 RETURNING events",
	[ST_KEY_DEL] = "DELETE FROM trace_keys WHERE key = ?1 AND tr = ?2",
	[ST_BLOCKS_DEL] = "DELETE FROM blocks WHERE tr = ?1",
	[ST_HAS_BLOCKS] = "SELECT 1 FROM blocks WHERE tr = ?1 LIMIT 1",
};

/* The index. Times are ns since the epoch as SQLite integers (signed: good until 2262). A trace's
 * ents blob holds its distinct entity IDs (sorted u64 LE), procs its process instance IDs (sorted,
 * 16 bytes each), hosts and services sorted comma-separated lists: the counts of the summary are
 * their sizes. trace_keys links a name (service, entity name, block or point name, indexed
 * attribute "key=value") to the traces that contain it, for search; the trace's keys blob lists
 * the same names with how many of its events carry each (1 for a service: lx_keys_encode), so
 * that a trace going away can lower names.count and delete its trace_keys rows by primary key.
 * (A secondary index on trace_keys(tr) would do that too, at twice the bytes per row; the index
 * is most of the stored bytes of a small trace.) Retention finds a segment's blocks by scanning
 * the blocks table: it runs rarely, and an index on blocks(seg) would cost bytes per block row. */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS segments(id INTEGER PRIMARY KEY, len INTEGER NOT NULL,"
	" tmax INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS traces(id INTEGER PRIMARY KEY, tid BLOB NOT NULL UNIQUE,"
	" start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, dur_ns INTEGER NOT NULL,"
	" root TEXT NOT NULL, services TEXT NOT NULL, events INTEGER NOT NULL,"
	" errors INTEGER NOT NULL, ents BLOB NOT NULL, procs BLOB NOT NULL, hosts TEXT NOT NULL,"
	" keys BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS traces_start ON traces(start_ns, tid);"
	"CREATE INDEX IF NOT EXISTS traces_dur ON traces(dur_ns, tid);"
	"CREATE TABLE IF NOT EXISTS blocks(tr INTEGER NOT NULL, seg INTEGER NOT NULL,"
	" off INTEGER NOT NULL, len INTEGER NOT NULL, tmin INTEGER NOT NULL, tmax INTEGER NOT NULL,"
	" PRIMARY KEY(tr, seg, off)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS names(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
	" name TEXT NOT NULL, count INTEGER NOT NULL, UNIQUE(kind, name));"
	"CREATE TABLE IF NOT EXISTS trace_keys(key INTEGER NOT NULL, tr INTEGER NOT NULL,"
	" PRIMARY KEY(key, tr)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS entities(eid INTEGER PRIMARY KEY, ranges BLOB NOT NULL);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('version', 1);";

#define LX_SCHEMA_VERSION 1

int lx_sql_err(sqlite3 *db, int rc, const char *what)
{
	int prc = rc & 0xff;
	hx__store_seterr("store index: %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	switch (prc) {
	case SQLITE_FULL:
		return HX_ENOSPC;
	case SQLITE_NOMEM:
		return HX_ENOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return HX_EDAMAGED;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		return HX_EACCES;
	case SQLITE_CANTOPEN:
		return HX_ENOENT;
	default:
		return HX_EIO;
	}
}

sqlite3_stmt *lx_stmt(hx_store *s, int which)
{
	sqlite3_stmt *st = s->st[which];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

int lx_errno_result(int e)
{
	return e == ENOSPC || e == EDQUOT ? HX_ENOSPC : e == ENOMEM ? HX_ENOMEM :
	       e == EACCES || e == EPERM ? HX_EACCES : e == ENOENT ? HX_ENOENT : HX_EIO;
}

char *lx_segment_path(const hx_store *s, uint64_t id)
{
	char *p = NULL;
	if (asprintf(&p, "%s/seg-%08" PRIu64 ".hxs", s->dir, id) < 0)
		return NULL;
	return p;
}

int lx_exec_stmt(hx_store *s, int which, const char *what)
{
	sqlite3_stmt *st = lx_stmt(s, which);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? HX_OK : lx_sql_err(s->db, rc, what);
}

int lx_ensure_txn(hx_store *s)
{
	if (s->txn_open)
		return HX_OK;
	int rc = lx_exec_stmt(s, ST_BEGIN, "begin");
	if (rc == HX_OK)
		s->txn_open = 1;
	return rc;
}

/* ---- segments ---- */

/* Whether the fault hook fails this segment write (HX_STORE_FAULT, docs/storage.md). */
static int fault_now(hx_store *s)
{
	s->seg_writes++;
	return s->fault_after && s->seg_writes >= s->fault_after &&
	       s->seg_writes - s->fault_after < s->fault_for;
}

static int pwrite_all(hx_store *s, int fd, const void *p, size_t n, uint64_t off)
{
	if (fault_now(s)) {
		errno = ENOSPC;
		return -1;
	}
	const uint8_t *b = p;
	while (n) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return -1;
		}
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

int lx_segment_prepare(hx_store *s)
{
	lx_segment *g = &s->seg;
	/* Roll over only at the start of a commit period, so that abort has one segment to undo. */
	if (g->fd >= 0 && g->len >= s->seg_max && g->len == g->committed_len && !g->created_pending) {
		close(g->fd);
		g->fd = -1;
		g->id = 0;
	}
	if (g->fd >= 0)
		return HX_OK;
	if (g->id && g->len < s->seg_max) {
		char *path = lx_segment_path(s, g->id);
		if (!path)
			return HX_ENOMEM;
		g->fd = open(path, O_WRONLY | O_CLOEXEC);
		int e = errno;
		free(path);
		if (g->fd >= 0)
			return HX_OK;
		hx__store_seterr("store: cannot reopen segment %" PRIu64 ": %s", g->id, strerror(e));
		return lx_errno_result(e);
	}
	uint64_t id = s->next_seg_id;
	char *path = lx_segment_path(s, id);
	if (!path)
		return HX_ENOMEM;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		hx__store_seterr("store: cannot create %s: %s", path, strerror(e));
		free(path);
		return lx_errno_result(e);
	}
	uint8_t hdr[LX_SEG_HEADER];
	memcpy(hdr, LX_SEG_MAGIC, 8);
	hx__put_le64(hdr + 8, id);
	int rc = HX_OK;
	if (pwrite_all(s, fd, hdr, sizeof hdr, 0)) {
		rc = lx_errno_result(errno);
		hx__store_seterr("store: cannot write segment header: %s", strerror(errno));
	}
	if (rc == HX_OK) {
		sqlite3_stmt *st = lx_stmt(s, ST_SEG_INS);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		sqlite3_bind_int64(st, 2, LX_SEG_HEADER);
		sqlite3_bind_int64(st, 3, 0);
		int src = sqlite3_step(st);
		sqlite3_reset(st);
		if (src != SQLITE_DONE)
			rc = lx_sql_err(s->db, src, "new segment");
	}
	if (rc != HX_OK) {
		close(fd);
		unlink(path);
		free(path);
		return rc;
	}
	free(path);
	s->next_seg_id = id + 1;
	*g = (lx_segment){.id = id, .fd = fd, .len = LX_SEG_HEADER, .committed_len = 0, .tmax = 0,
	                  .committed_tmax = 0, .created_pending = 1};
	s->dir_dirty = 1;
	return HX_OK;
}

int lx_segment_write(hx_store *s, const void *p, size_t n, uint64_t *off)
{
	lx_segment *g = &s->seg;
	if (pwrite_all(s, g->fd, p, n, g->len)) {
		int e = errno;
		/* Cut off what part of it landed: the segment stays a sequence of whole blocks. */
		if (ftruncate(g->fd, (off_t)g->len) != 0) {
			/* The tail beyond len is ignored by the index and cut at the next open. */
		}
		hx__store_seterr("store: writing segment %" PRIu64 ": %s", g->id, strerror(e));
		return lx_errno_result(e);
	}
	*off = g->len;
	g->len += n;
	return HX_OK;
}

void lx_abort_pending(hx_store *s)
{
	if (s->txn_open) {
		sqlite3_stmt *st = lx_stmt(s, ST_ROLLBACK);
		sqlite3_step(st); /* fails only when SQLite already rolled back (SQLITE_FULL): fine */
		sqlite3_reset(st);
		s->txn_open = 0;
	}
	lx_segment *g = &s->seg;
	if (g->fd >= 0 && g->created_pending) {
		char *path = lx_segment_path(s, g->id);
		close(g->fd);
		if (path)
			unlink(path); /* if this fails, open() deletes the file: it has no segments row */
		free(path);
		*g = (lx_segment){.fd = -1};
	} else if (g->fd >= 0 && g->len != g->committed_len) {
		if (ftruncate(g->fd, (off_t)g->committed_len) != 0) {
			/* Harmless: bytes past segments.len are never read and are cut at open. Stop
			 * appending to this file so nothing is written after the stale tail. */
			close(g->fd);
			g->fd = -1;
			g->len = s->seg_max;
		} else {
			g->len = g->committed_len;
		}
		g->tmax = g->committed_tmax;
	}
	s->dir_dirty = 0;
	lx_buffer_clear(s);
	lx_entities_drop_dirty(s);
	lx_names_clear(s);
	s->p_events = s->p_traces = s->p_duplicates = 0;
}

int lx_meta_put(hx_store *s, const char *key, uint64_t v)
{
	sqlite3_stmt *st = lx_stmt(s, ST_META_PUT);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)v);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? HX_OK : lx_sql_err(s->db, rc, "meta");
}

static int fsync_dir(hx_store *s)
{
	int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lx_errno_result(errno);
	int rc = fsync(fd) ? lx_errno_result(errno) : HX_OK;
	close(fd);
	if (rc)
		hx__store_seterr("store: fsync of %s failed", s->dir);
	return rc;
}

static int commit_inner(hx_store *s)
{
	int rc;
	if (s->nbev && (rc = lx_flush(s)) != HX_OK)
		return rc;
	if (!s->txn_open && !s->p_duplicates)
		return HX_OK; /* nothing appended since the last commit */
	if ((rc = lx_ensure_txn(s)) || (rc = lx_entities_persist(s)))
		return rc;
	lx_segment *g = &s->seg;
	if (g->fd >= 0 && (g->len != g->committed_len || g->created_pending)) {
		sqlite3_stmt *st = lx_stmt(s, ST_SEG_UPD);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)g->id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)g->len);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)(g->tmax > INT64_MAX ? INT64_MAX : g->tmax));
		int src = sqlite3_step(st);
		sqlite3_reset(st);
		if (src != SQLITE_DONE)
			return lx_sql_err(s->db, src, "segment length");
		if (fdatasync(g->fd)) {
			int e = errno;
			hx__store_seterr("store: syncing segment %" PRIu64 ": %s", g->id, strerror(e));
			return lx_errno_result(e);
		}
	}
	if (s->dir_dirty && (rc = fsync_dir(s)))
		return rc;
	if ((rc = lx_meta_put(s, "events", s->events + s->p_events)) ||
	    (rc = lx_meta_put(s, "traces", s->traces + s->p_traces)) ||
	    (rc = lx_meta_put(s, "duplicates", s->duplicates + s->p_duplicates)))
		return rc;
	if ((rc = lx_exec_stmt(s, ST_COMMIT, "commit")))
		return rc;
	s->txn_open = 0;
	g->committed_len = g->len;
	g->committed_tmax = g->tmax;
	g->created_pending = 0;
	s->dir_dirty = 0;
	s->events += s->p_events;
	s->traces += s->p_traces;
	s->duplicates += s->p_duplicates;
	s->p_events = s->p_traces = s->p_duplicates = 0;
	lx_entities_after_commit(s);
	return HX_OK;
}

int lx_commit(hx_store *s)
{
	int rc = commit_inner(s);
	if (rc != HX_OK)
		lx_abort_pending(s);
	return rc;
}

/* ---- open and close ---- */

static int mkdirs(const char *dir)
{
	char *p = strdup(dir);
	if (!p)
		return HX_ENOMEM;
	for (char *q = p + 1;; q++) {
		if (*q == '/' || !*q) {
			char c = *q;
			*q = 0;
			if (mkdir(p, 0755) != 0 && errno != EEXIST) {
				int e = errno;
				hx__store_seterr("store: cannot create directory %s: %s", p, strerror(e));
				free(p);
				return lx_errno_result(e);
			}
			*q = c;
			if (!c)
				break;
		}
	}
	free(p);
	return HX_OK;
}

static int parse_fault(hx_store *s)
{
	const char *f = getenv("HX_STORE_FAULT");
	if (!f || !*f)
		return HX_OK;
	unsigned long long after = 0, count = 1;
	int used = -1;
	if (sscanf(f, "enospc_after:%llu%n", &after, &used) != 1 || used < 0 || after == 0)
		goto bad;
	if (f[used] == ',') {
		int more = -1;
		if (sscanf(f + used, ",for:%llu%n", &count, &more) != 1 || more < 0 || count == 0)
			goto bad;
		used += more;
	}
	if (f[used])
		goto bad;
	s->fault_after = after;
	s->fault_for = count;
	return HX_OK;
bad:
	hx__store_seterr("HX_STORE_FAULT=%s: expected enospc_after:N or enospc_after:N,for:M", f);
	return HX_EINVAL;
}

static int open_db(hx_store *s, sqlite3 **db, int readonly)
{
	char *path = NULL;
	if (asprintf(&path, "%s/index.sqlite", s->dir) < 0)
		return HX_ENOMEM;
	int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
	            SQLITE_OPEN_NOMUTEX;
	int rc = sqlite3_open_v2(path, db, flags, NULL);
	free(path);
	if (rc != SQLITE_OK)
		return lx_sql_err(*db, rc, "open");
	sqlite3_busy_timeout(*db, 10000);
	sqlite3_extended_result_codes(*db, 1);
	const char *pragmas = readonly ? "PRAGMA query_only = 1; PRAGMA cache_size = -8192;"
	                               : "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	                                 "PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;";
	char *err = NULL;
	rc = sqlite3_exec(*db, pragmas, NULL, NULL, &err);
	sqlite3_free(err);
	if (rc != SQLITE_OK)
		return lx_sql_err(*db, rc, "pragmas");
	return HX_OK;
}

static const char *const default_indexed[] = {"error", "http.status_code", "http.method",
                                              "http.route", "user.id", NULL};

static void local_close(hx_store *s);

static int local_open_inner(hx_store *s, const hx_store_config *cfg)
{
	int rc;
	if ((rc = mkdirs(s->dir)))
		return rc;
	char *lock = NULL;
	if (asprintf(&lock, "%s/LOCK", s->dir) < 0)
		return HX_ENOMEM;
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(lock);
	if (s->lock_fd < 0) {
		hx__store_seterr("store: cannot open %s/LOCK: %s", s->dir, strerror(errno));
		return lx_errno_result(errno);
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		hx__store_seterr("store: %s is in use by another process", s->dir);
		return HX_ESTATE;
	}
	if ((rc = parse_fault(s)) || (rc = open_db(s, &s->db, 0)))
		return rc;
	char *err = NULL;
	int src = sqlite3_exec(s->db, schema_sql, NULL, NULL, &err);
	sqlite3_free(err);
	if (src != SQLITE_OK)
		return lx_sql_err(s->db, src, "schema");
	for (int i = 0; i < ST__COUNT; i++)
		if ((src = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
		                              NULL)) != SQLITE_OK)
			return lx_sql_err(s->db, src, "prepare");
	/* Counters and the schema version. */
	sqlite3_stmt *st;
	if ((src = sqlite3_prepare_v2(s->db, "SELECT key, value FROM meta", -1, &st, NULL)) != SQLITE_OK)
		return lx_sql_err(s->db, src, "meta");
	int64_t version = 0;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		int64_t v = sqlite3_column_int64(st, 1);
		uint64_t u = v > 0 ? (uint64_t)v : 0;
		if (!k)
			continue;
		if (!strcmp(k, "version"))
			version = v;
		else if (!strcmp(k, "events"))
			s->events = u;
		else if (!strcmp(k, "traces"))
			s->traces = u;
		else if (!strcmp(k, "duplicates"))
			s->duplicates = u;
	}
	sqlite3_finalize(st);
	if (src != SQLITE_DONE)
		return lx_sql_err(s->db, src, "meta");
	if (version != LX_SCHEMA_VERSION) {
		hx__store_seterr("store: index schema version %" PRId64 ", this build reads %d", version,
		                 LX_SCHEMA_VERSION);
		return HX_EFORMAT;
	}
	s->next_seg_id = 1;
	if ((rc = lx_recover(s)))
		return rc;
	if ((rc = open_db(s, &s->rd, 1)))
		return rc;
	/* indexed attribute keys */
	const char *const *keys = cfg->indexed_attrs ? cfg->indexed_attrs : default_indexed;
	size_t nk = 0;
	while (keys[nk])
		nk++;
	s->indexed = calloc(nk + 1, sizeof *s->indexed);
	if (!s->indexed)
		return HX_ENOMEM;
	for (size_t i = 0; i < nk; i++)
		if (!(s->indexed[i] = strdup(keys[i])))
			return HX_ENOMEM;
	s->nindexed = nk;
	s->enc = hx__encoder_new();
	s->cctx = ZSTD_createCCtx();
	if (!s->enc || !s->cctx)
		return HX_ENOMEM;
	return HX_OK;
}

extern const hx_store_ops hx__store_local_ops;

static int local_open(hx_store **out, const hx_store_config *cfg)
{
	*out = NULL;
	if (!cfg || !cfg->dir || !*cfg->dir) {
		hx__store_seterr("store: no data directory");
		return HX_EINVAL;
	}
	hx_store *s = calloc(1, sizeof *s);
	if (!s || !(s->dir = strdup(cfg->dir))) {
		free(s);
		return HX_ENOMEM;
	}
	s->ops = &hx__store_local_ops;
	s->lock_fd = -1;
	s->seg.fd = -1;
	s->max_bytes = cfg->max_bytes;
	s->max_age_ns = cfg->max_age_ns;
	s->memory_limit = cfg->memory_limit ? cfg->memory_limit : 64ull << 20;
	/* Retention drops whole segments: with a size limit, keep them small enough that one is a
	 * modest part of it. */
	s->seg_max = LX_SEG_MAX_DEFAULT;
	if (s->max_bytes) {
		uint64_t m = s->max_bytes / 8;
		s->seg_max = m < (64u << 10) ? (64u << 10) : m > LX_SEG_MAX_DEFAULT ? LX_SEG_MAX_DEFAULT : m;
	}
	s->zlevel = 3;
	pthread_mutex_init(&s->rd_mu, NULL);
	int rc = local_open_inner(s, cfg);
	if (rc != HX_OK) {
		local_close(s);
		return rc;
	}
	*out = s;
	return HX_OK;
}

static void local_close(hx_store *s)
{
	if (s->db && s->st[ST__COUNT - 1]) {
		int rc = lx_commit(s);
		if (rc != HX_OK)
			lx_abort_pending(s);
	}
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->rd);
	sqlite3_close(s->db);
	if (s->seg.fd >= 0)
		close(s->seg.fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	lx_buffer_free(s);
	lx_ecache_free(&s->ecache);
	lx_names_clear(s);
	free(s->nbuckets);
	free(s->touched);
	for (size_t i = 0; s->indexed && s->indexed[i]; i++)
		free(s->indexed[i]);
	free(s->indexed);
	hx__encoder_free(s->enc);
	ZSTD_freeCCtx(s->cctx);
	lx_buf_free(&s->raw);
	lx_buf_free(&s->dir_buf);
	lx_buf_free(&s->bodies);
	lx_buf_free(&s->out);
	pthread_mutex_destroy(&s->rd_mu);
	free(s->dir);
	free(s);
}

static int local_info(hx_store *s, hx_store_info *out)
{
	memset(out, 0, sizeof *out);
	out->backend = "local";
	out->concurrent_reads = 1;
	out->bytes = lx_dir_bytes(s->dir);
	pthread_mutex_lock(&s->rd_mu);
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->rd, "SELECT key, value FROM meta", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *k = (const char *)sqlite3_column_text(st, 0);
			int64_t v = sqlite3_column_int64(st, 1);
			uint64_t u = v > 0 ? (uint64_t)v : 0;
			if (!k)
				continue;
			if (!strcmp(k, "events"))
				out->events = u;
			else if (!strcmp(k, "traces"))
				out->traces = u;
			else if (!strcmp(k, "duplicates"))
				out->duplicates = u;
		}
		sqlite3_finalize(st);
	}
	int res = rc == SQLITE_DONE ? HX_OK : lx_sql_err(s->rd, rc, "info");
	pthread_mutex_unlock(&s->rd_mu);
	return res;
}

static int local_append(hx_store *s, const hx_store_proc *proc, const hx_event *events, size_t n,
                        size_t *stored, size_t *duplicates)
{
	return lx_append(s, proc, events, n, stored, duplicates);
}

const hx_store_ops hx__store_local_ops = {
	.name = "local",
	.open = local_open,
	.close = local_close,
	.append = local_append,
	.commit = lx_commit,
	.search = lx_search,
	.fetch = lx_fetch,
	.names = lx_names,
	.retain = lx_retain,
	.remove = lx_remove,
	.info = local_info,
};
