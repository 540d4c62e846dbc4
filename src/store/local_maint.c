/*
 * local_maint.c - the embedded store's housekeeping: crash recovery at open, retention (dropping
 * whole segments and the traces left without blocks) and removal of a trace. The invariants these
 * keep are described at the top of local.c and in docs/storage.md.
 */
#define _GNU_SOURCE
#include "store/local_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- deleting traces and segments (retention, remove, recovery) ---- */

static int exec_sql(sqlite3 *db, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return lx_sql_err(db, rc, "prepare");
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? HX_OK : lx_sql_err(db, rc, sql);
}

/* Delete trace `tr` and everything that points at it; lowers the name counts and the counters
 * (*events, *traces). Inside a transaction. */
static int delete_trace(hx_store *s, int64_t tr, uint64_t *events, uint64_t *traces)
{
	sqlite3_stmt *st = lx_stmt(s, ST_TRACE_KEYS);
	sqlite3_bind_int64(st, 1, tr);
	int rc = sqlite3_step(st);
	lx_kc *kv = NULL;
	size_t n = 0;
	int damaged = 0;
	if (rc == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(st, 0);
		int d = lx_keys_decode(b, (size_t)sqlite3_column_bytes(st, 0), &kv, &n);
		if (d == -2) {
			sqlite3_reset(st);
			return HX_ENOMEM;
		}
		damaged = d == -1;
		rc = SQLITE_DONE;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(kv);
		return lx_sql_err(s->db, rc, "trace keys");
	}
	for (size_t i = 0; i < n; i++) {
		st = lx_stmt(s, ST_NAME_ADD);
		sqlite3_bind_int64(st, 1, kv[i].key);
		sqlite3_bind_int64(st, 2, -(int64_t)(kv[i].n > INT64_MAX ? INT64_MAX : kv[i].n));
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_DONE && kv[i].row) {
			st = lx_stmt(s, ST_KEY_DEL);
			sqlite3_bind_int64(st, 1, kv[i].key);
			sqlite3_bind_int64(st, 2, tr);
			rc = sqlite3_step(st);
			sqlite3_reset(st);
		}
		if (rc != SQLITE_DONE) {
			free(kv);
			return lx_sql_err(s->db, rc, "trace keys");
		}
	}
	free(kv);
	/* Without its key list (damage), find the trace's rows the slow way: a stale row would
	 * match a later trace that reuses the row ID. */
	if (damaged && (rc = exec_sql(s->db, "DELETE FROM trace_keys WHERE tr = ?1 AND ?2 = 0", tr, 0)))
		return rc;
	st = lx_stmt(s, ST_BLOCKS_DEL);
	sqlite3_bind_int64(st, 1, tr);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return lx_sql_err(s->db, rc, "delete trace");
	st = lx_stmt(s, ST_TRACE_DEL);
	sqlite3_bind_int64(st, 1, tr);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		int64_t ev = sqlite3_column_int64(st, 0);
		*events += ev > 0 ? (uint64_t)ev : 0;
		*traces += 1;
		rc = sqlite3_step(st);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? HX_OK : lx_sql_err(s->db, rc, "delete trace");
}

/* Run a query that yields one integer column into a malloc'd array. */
static int query_ids(sqlite3 *db, const char *sql, int64_t a, int64_t b, int64_t **out, size_t *n)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return lx_sql_err(db, rc, "prepare");
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	int64_t *v = NULL;
	size_t cnt = 0, cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *nv = realloc(v, cap * sizeof *v);
			if (!nv) {
				free(v);
				sqlite3_finalize(st);
				return HX_ENOMEM;
			}
			v = nv;
		}
		v[cnt++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return lx_sql_err(db, rc, "query");
	}
	*out = v;
	*n = cnt;
	return HX_OK;
}


/* Drop the block rows of segment `seg` at or beyond byte `from` (0: all of them, and the segment
 * row), then the traces left without any block. Inside a transaction. */
static int drop_blocks(hx_store *s, int64_t seg, int64_t from, uint64_t *events, uint64_t *traces)
{
	int64_t *trs = NULL;
	size_t n = 0;
	int rc = query_ids(s->db, "SELECT DISTINCT tr FROM blocks WHERE seg = ?1 AND off + len > ?2",
	                   seg, from, &trs, &n);
	if (rc)
		return rc;
	rc = exec_sql(s->db, "DELETE FROM blocks WHERE seg = ?1 AND off + len > ?2", seg, from);
	for (size_t i = 0; rc == HX_OK && i < n; i++) {
		sqlite3_stmt *st = lx_stmt(s, ST_HAS_BLOCKS);
		sqlite3_bind_int64(st, 1, trs[i]);
		int src = sqlite3_step(st);
		sqlite3_reset(st);
		if (src == SQLITE_DONE)
			rc = delete_trace(s, trs[i], events, traces);
		else if (src != SQLITE_ROW)
			rc = lx_sql_err(s->db, src, "blocks of a trace");
	}
	free(trs);
	if (rc == HX_OK && from == 0)
		rc = exec_sql(s->db, "DELETE FROM segments WHERE id = ?1 AND ?2 = 0", seg, 0);
	return rc;
}

/* Commit a transaction that wrote only the index (no segment bytes). */
static int commit_index_only(hx_store *s, uint64_t events, uint64_t traces)
{
	int rc;
	if ((rc = lx_meta_put(s, "events", s->events - (events > s->events ? s->events : events))) ||
	    (rc = lx_meta_put(s, "traces", s->traces - (traces > s->traces ? s->traces : traces))) ||
	    (rc = lx_exec_stmt(s, ST_COMMIT, "commit"))) {
		sqlite3_stmt *st = lx_stmt(s, ST_ROLLBACK);
		sqlite3_step(st);
		sqlite3_reset(st);
		s->txn_open = 0;
		lx_names_clear(s);
		return rc;
	}
	s->txn_open = 0;
	s->events -= events > s->events ? s->events : events;
	s->traces -= traces > s->traces ? s->traces : traces;
	return HX_OK;
}

/* ---- recovery at open ---- */

int lx_recover(hx_store *s)
{
	int rc = lx_ensure_txn(s);
	if (rc)
		return rc;
	uint64_t events = 0, traces = 0;
	sqlite3_stmt *st;
	if ((rc = sqlite3_prepare_v2(s->db, "SELECT id, len, tmax FROM segments ORDER BY id", -1, &st,
	                             NULL)) != SQLITE_OK)
		return lx_sql_err(s->db, rc, "segments");
	struct segrow {
		int64_t id, len, tmax;
	} *rows = NULL;
	size_t n = 0, cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			void *nr = realloc(rows, cap * sizeof *rows);
			if (!nr) {
				sqlite3_finalize(st);
				free(rows);
				return HX_ENOMEM;
			}
			rows = nr;
		}
		rows[n++] = (struct segrow){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
		                            sqlite3_column_int64(st, 2)};
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(rows);
		return lx_sql_err(s->db, rc, "segments");
	}
	rc = HX_OK;
	for (size_t i = 0; rc == HX_OK && i < n; i++) {
		if (rows[i].id <= 0 || rows[i].len < (int64_t)LX_SEG_HEADER) {
			rc = drop_blocks(s, rows[i].id, 0, &events, &traces);
			continue;
		}
		char *path = lx_segment_path(s, (uint64_t)rows[i].id);
		if (!path) {
			rc = HX_ENOMEM;
			break;
		}
		struct stat sb;
		if (stat(path, &sb) != 0) {
			/* Gone (deleted by hand, or retention crashed between commit and unlink — then
			 * its row is already gone too): nothing in it can be read. */
			rc = drop_blocks(s, rows[i].id, 0, &events, &traces);
		} else if ((int64_t)sb.st_size > rows[i].len) {
			/* The tail of a commit that never finished: no committed row points into it. */
			if (truncate(path, (off_t)rows[i].len) != 0) {
				rc = lx_errno_result(errno);
				hx__store_seterr("store: cannot truncate %s: %s", path, strerror(errno));
			}
		} else if ((int64_t)sb.st_size < rows[i].len) {
			/* Shorter than committed: damage. Keep what is there. */
			rc = drop_blocks(s, rows[i].id, (int64_t)sb.st_size, &events, &traces);
			if (rc == HX_OK)
				rc = exec_sql(s->db, "UPDATE segments SET len = ?2 WHERE id = ?1", rows[i].id,
				              (int64_t)sb.st_size);
			rows[i].len = (int64_t)sb.st_size;
		}
		free(path);
	}
	if (rc == HX_OK) {
		/* Segment files without a row were being created by a commit that did not finish. */
		DIR *d = opendir(s->dir);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			unsigned long long id;
			char tail;
			if (sscanf(de->d_name, "seg-%llu.hx%c", &id, &tail) != 2 || tail != 's')
				continue;
			int known = 0;
			for (size_t i = 0; i < n && !known; i++)
				known = (uint64_t)rows[i].id == id;
			if (!known) {
				char *path = lx_segment_path(s, id);
				if (path)
					unlink(path);
				free(path);
			}
			if (id >= s->next_seg_id)
				s->next_seg_id = id + 1;
		}
		if (d)
			closedir(d);
	}
	/* The newest segment is where appends continue. */
	for (size_t i = 0; i < n; i++) {
		if (rows[i].id <= 0 || (uint64_t)rows[i].id < s->seg.id)
			continue;
		s->seg = (lx_segment){.id = (uint64_t)rows[i].id, .fd = -1, .len = (uint64_t)rows[i].len,
		                      .committed_len = (uint64_t)rows[i].len,
		                      .tmax = (uint64_t)rows[i].tmax, .committed_tmax = (uint64_t)rows[i].tmax};
		if ((uint64_t)rows[i].id >= s->next_seg_id)
			s->next_seg_id = (uint64_t)rows[i].id + 1;
	}
	free(rows);
	if (rc == HX_OK)
		rc = commit_index_only(s, events, traces);
	else {
		st = lx_stmt(s, ST_ROLLBACK);
		sqlite3_step(st);
		sqlite3_reset(st);
		s->txn_open = 0;
	}
	return rc;
}

/* ---- retention and removal ---- */

static int drop_segment(hx_store *s, int64_t id, uint64_t *events, uint64_t *traces)
{
	int rc = drop_blocks(s, id, 0, events, traces);
	if (rc == HX_OK && s->seg.id == (uint64_t)id) {
		if (s->seg.fd >= 0)
			close(s->seg.fd);
		s->seg = (lx_segment){.fd = -1};
	}
	return rc;
}

static uint64_t file_size(const char *dir, const char *name)
{
	char *p = NULL;
	struct stat sb;
	uint64_t n = 0;
	if (asprintf(&p, "%s/%s", dir, name) >= 0 && stat(p, &sb) == 0)
		n = (uint64_t)sb.st_size;
	free(p);
	return n;
}

/* Bytes on disk: segments plus the index (database, WAL, shared-memory index). */
uint64_t lx_dir_bytes(const char *dir)
{
	uint64_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "seg-", 4) || !strncmp(de->d_name, "index.sqlite", 12))
			n += file_size(dir, de->d_name);
	if (d)
		closedir(d);
	return n;
}

int lx_retain(hx_store *s, uint64_t now_ns)
{
	int rc = lx_commit(s);
	if (rc)
		return rc;
	if (!s->max_bytes && !s->max_age_ns)
		return HX_OK;
	/* Measure the index without the WAL's backlog of already-committed pages. */
	sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	int64_t *ids = NULL, *tmaxs = NULL;
	size_t n = 0, n2 = 0;
	if ((rc = query_ids(s->db, "SELECT id FROM segments WHERE ?1 = ?2 ORDER BY id", 0, 0, &ids, &n)))
		return rc;
	if ((rc = query_ids(s->db, "SELECT tmax FROM segments WHERE ?1 = ?2 ORDER BY id", 0, 0, &tmaxs,
	                    &n2)) || n2 != n) {
		free(ids);
		free(tmaxs);
		return rc ? rc : HX_EIO;
	}
	uint64_t bytes = lx_dir_bytes(s->dir);
	uint64_t cutoff = s->max_age_ns && now_ns > s->max_age_ns ? now_ns - s->max_age_ns : 0;
	uint64_t events = 0, traces = 0;
	int64_t *dropped = calloc(n + 1, sizeof *dropped);
	size_t ndropped = 0;
	if (!dropped)
		rc = HX_ENOMEM;
	if (rc == HX_OK)
		rc = lx_ensure_txn(s);
	for (size_t i = 0; rc == HX_OK && i < n; i++) {
		int old = cutoff && tmaxs[i] >= 0 && (uint64_t)tmaxs[i] < cutoff;
		/* By size: oldest first, always keeping the newest segment (where appends go). */
		int big = s->max_bytes && bytes > s->max_bytes && i + 1 < n;
		if (!old && !big)
			continue;
		uint64_t seg_bytes = 0;
		char *path = lx_segment_path(s, (uint64_t)ids[i]);
		struct stat sb;
		if (path && stat(path, &sb) == 0)
			seg_bytes = (uint64_t)sb.st_size;
		free(path);
		rc = drop_segment(s, ids[i], &events, &traces);
		bytes -= seg_bytes < bytes ? seg_bytes : bytes;
		dropped[ndropped++] = ids[i];
	}
	free(ids);
	free(tmaxs);
	if (rc == HX_OK && s->txn_open)
		rc = commit_index_only(s, events, traces);
	else if (s->txn_open) {
		sqlite3_stmt *st = lx_stmt(s, ST_ROLLBACK);
		sqlite3_step(st);
		sqlite3_reset(st);
		s->txn_open = 0;
		lx_names_clear(s);
	}
	/* The rows are gone for good: now the files can go (a crash before this leaves files
	 * without rows, which open() deletes). */
	for (size_t i = 0; rc == HX_OK && i < ndropped; i++) {
		char *path = lx_segment_path(s, (uint64_t)dropped[i]);
		if (path)
			unlink(path);
		free(path);
	}
	free(dropped);
	if (rc == HX_OK && ndropped) {
		/* Give the WAL's pages back to the file system. */
		sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	return rc;
}

int lx_remove(hx_store *s, const uint8_t trace_id[16])
{
	int rc = lx_commit(s);
	if (rc)
		return rc;
	if ((rc = lx_ensure_txn(s)))
		return rc;
	sqlite3_stmt *st = lx_stmt(s, ST_TRACE_GET);
	sqlite3_bind_blob(st, 1, trace_id, 16, SQLITE_STATIC);
	int src = sqlite3_step(st);
	int64_t tr = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	uint64_t events = 0, traces = 0;
	if (src == SQLITE_DONE) {
		rc = HX_ENOENT;
		hx__store_seterr("store: no such trace");
	} else if (src != SQLITE_ROW)
		rc = lx_sql_err(s->db, src, "find trace");
	else
		rc = delete_trace(s, tr, &events, &traces);
	if (rc == HX_OK)
		return commit_index_only(s, events, traces);
	st = lx_stmt(s, ST_ROLLBACK);
	sqlite3_step(st);
	sqlite3_reset(st);
	s->txn_open = 0;
	lx_names_clear(s);
	return rc;
}
