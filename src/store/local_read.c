/*
 * local_read.c - queries of the embedded store: search (SQL over the traces table with keyset
 * pagination), fetch (read, check, decompress and decode a trace's blocks) and names.
 *
 * Readers use their own SQLite connection (`rd`, read-only, serialised by rd_mu) and see the
 * state of the last commit; segment bytes below a committed length never change, so reading them
 * needs no lock. Everything read from disk is checked before use: a block's magic, lengths and
 * CRC, the raw payload's directory, and every record (hx__decode_record trusts nothing). A bad
 * block is skipped and the fetch reports HX_EDAMAGED after delivering every intact event.
 */
#define _GNU_SOURCE
#include "store/local_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/decode.h"
#include "format/format.h"

#define LX_NAMES_MAX 10000 /* rows hx_store_names returns at most, the most frequent first */

/* ---- search ---- */

/* Cursor: hex of [u8 sort][u64 big-endian sort key][16 bytes trace ID]: 50 characters. */
#define CURSOR_BYTES 25

static void cursor_make(char out[2 * CURSOR_BYTES + 1], int sort, uint64_t key, const uint8_t tid[16])
{
	uint8_t b[CURSOR_BYTES];
	b[0] = (uint8_t)sort;
	for (int i = 0; i < 8; i++)
		b[1 + i] = (uint8_t)(key >> (56 - 8 * i));
	memcpy(b + 9, tid, 16);
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < CURSOR_BYTES; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * CURSOR_BYTES] = 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int cursor_parse(const char *c, int sort, uint64_t *key, uint8_t tid[16])
{
	if (strlen(c) != 2 * CURSOR_BYTES)
		return -1;
	uint8_t b[CURSOR_BYTES];
	for (int i = 0; i < CURSOR_BYTES; i++) {
		int hi = hexval(c[2 * i]), lo = hexval(c[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	if (b[0] != sort)
		return -1;
	*key = 0;
	for (int i = 0; i < 8; i++)
		*key = *key << 8 | b[1 + i];
	if (*key > INT64_MAX)
		return -1;
	memcpy(tid, b + 9, 16);
	return 0;
}

/* Strings of a result live in one buffer; pointers are set once it stops growing. */
typedef struct sfix {
	size_t root, services;
} sfix;

static size_t count_list(const char *s)
{
	if (!s || !*s)
		return 0;
	size_t n = 1;
	for (; *s; s++)
		n += *s == ',';
	return n;
}

int lx_search(hx_store *s, const hx_store_query *q, hx_store_result *out)
{
	memset(out, 0, sizeof *out);
	if (!q) {
		hx__store_seterr("store search: no query");
		return HX_EINVAL;
	}
	int sort = (int)q->sort;
	if (sort < HX_SORT_START_DESC || sort > HX_SORT_DURATION_ASC || q->error < -1 || q->error > 1) {
		hx__store_seterr("store search: unknown sort or error filter");
		return HX_EINVAL;
	}
	if ((q->attr_key && !q->attr_value) || (!q->attr_key && q->attr_value)) {
		hx__store_seterr("store search: attr_key and attr_value go together");
		return HX_EINVAL;
	}
	size_t limit = q->limit ? (q->limit > 1000 ? 1000 : q->limit) : 20;
	uint64_t ckey = 0;
	uint8_t ctid[16];
	if (q->cursor && cursor_parse(q->cursor, sort, &ckey, ctid)) {
		hx__store_seterr("store search: malformed cursor");
		return HX_EINVAL;
	}
	const char *kc = sort <= HX_SORT_START_ASC ? "start_ns" : "dur_ns";
	int desc = sort == HX_SORT_START_DESC || sort == HX_SORT_DURATION_DESC;
	char *attr = NULL;
	if (q->attr_key && asprintf(&attr, "%s=%s", q->attr_key, q->attr_value) < 0)
		return HX_ENOMEM;

	/* The filters on names are correlated EXISTS probes of trace_keys' primary key: SQLite
	 * walks the sort index and stops after `limit` matches, each probe a B-tree lookup. */
	char sql[2048];
	int n = snprintf(sql, sizeof sql,
	                 "SELECT tid, start_ns, end_ns, root, services, events, length(ents) / 8, "
	                 "length(procs) / 16, hosts, errors, %s FROM traces WHERE 1", kc);
#define ADD(...) n += snprintf(sql + n, sizeof sql - (size_t)n, __VA_ARGS__)
#define KEYF(kinds, param)                                                                        \
	ADD(" AND EXISTS(SELECT 1 FROM trace_keys k WHERE k.tr = traces.id AND k.key IN "           \
	    "(SELECT id FROM names WHERE kind IN (%s) AND name = %s))", kinds, param)
	if (q->from_ns)
		ADD(" AND end_ns >= ?1");
	if (q->to_ns)
		ADD(" AND start_ns <= ?2");
	if (q->service)
		KEYF("0", "?3");
	if (q->entity_name)
		KEYF("16", "?4");
	if (q->name)
		KEYF("2", "?5"); /* LX_KIND_EVNAME */
	if (q->min_duration_ns)
		ADD(" AND dur_ns >= ?6");
	if (q->max_duration_ns)
		ADD(" AND dur_ns <= ?7");
	if (attr)
		KEYF("1", "?8");
	if (q->error == 1)
		ADD(" AND errors > 0");
	else if (q->error == -1)
		ADD(" AND errors = 0");
	if (q->cursor)
		ADD(" AND %s %s= ?9 AND (%s %s ?9 OR tid %s ?10)", kc, desc ? "<" : ">", kc, desc ? "<" : ">",
		    desc ? "<" : ">");
	ADD(" ORDER BY %s %s, tid %s LIMIT ?11", kc, desc ? "DESC" : "ASC", desc ? "DESC" : "ASC");
#undef ADD
#undef KEYF

	pthread_mutex_lock(&s->rd_mu);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->rd, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = lx_sql_err(s->rd, rc, "search");
		pthread_mutex_unlock(&s->rd_mu);
		free(attr);
		return rc;
	}
	sqlite3_int64 big = INT64_MAX;
	sqlite3_bind_int64(st, 1, q->from_ns > INT64_MAX ? big : (sqlite3_int64)q->from_ns);
	sqlite3_bind_int64(st, 2, q->to_ns > INT64_MAX ? big : (sqlite3_int64)q->to_ns);
	sqlite3_bind_text(st, 3, q->service ? q->service : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, q->entity_name ? q->entity_name : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, q->name ? q->name : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, q->min_duration_ns > INT64_MAX ? big : (sqlite3_int64)q->min_duration_ns);
	sqlite3_bind_int64(st, 7, q->max_duration_ns > INT64_MAX ? big : (sqlite3_int64)q->max_duration_ns);
	sqlite3_bind_text(st, 8, attr ? attr : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)ckey);
	sqlite3_bind_blob(st, 10, ctid, 16, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)limit + 1);

	hx_trace_summary *v = calloc(limit + 1, sizeof *v);
	sfix *fx = calloc(limit + 1, sizeof *fx);
	lx_buf strs = {0};
	uint64_t last_key = 0;
	size_t cnt = 0;
	int more = 0, res = HX_OK;
	if (!v || !fx)
		res = HX_ENOMEM;
	while (res == HX_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == limit) {
			more = 1;
			break;
		}
		hx_trace_summary *t = &v[cnt];
		const void *tid = sqlite3_column_blob(st, 0);
		if (tid && sqlite3_column_bytes(st, 0) == 16)
			memcpy(t->trace_id, tid, 16);
		int64_t x;
		t->start_ns = (x = sqlite3_column_int64(st, 1)) > 0 ? (uint64_t)x : 0;
		t->end_ns = (x = sqlite3_column_int64(st, 2)) > 0 ? (uint64_t)x : 0;
		const char *root = (const char *)sqlite3_column_text(st, 3);
		const char *svcs = (const char *)sqlite3_column_text(st, 4);
		t->events = (x = sqlite3_column_int64(st, 5)) > 0 ? (uint64_t)x : 0;
		t->entities = (x = sqlite3_column_int64(st, 6)) > 0 ? (uint64_t)x : 0;
		t->processes = (x = sqlite3_column_int64(st, 7)) > 0 ? (uint64_t)x : 0;
		t->hosts = count_list((const char *)sqlite3_column_text(st, 8));
		t->errors = (x = sqlite3_column_int64(st, 9)) > 0 ? (uint64_t)x : 0;
		last_key = (x = sqlite3_column_int64(st, 10)) > 0 ? (uint64_t)x : 0;
		fx[cnt].root = strs.len;
		if (lx_buf_put(&strs, root ? root : "", strlen(root ? root : "") + 1)) {
			res = HX_ENOMEM;
			break;
		}
		fx[cnt].services = strs.len;
		if (lx_buf_put(&strs, svcs ? svcs : "", strlen(svcs ? svcs : "") + 1)) {
			res = HX_ENOMEM;
			break;
		}
		cnt++;
	}
	if (res == HX_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		res = lx_sql_err(s->rd, rc, "search");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_mu);
	free(attr);
	if (res == HX_OK && more) {
		out->next_cursor = malloc(2 * CURSOR_BYTES + 1);
		if (!out->next_cursor)
			res = HX_ENOMEM;
		else
			cursor_make(out->next_cursor, sort, last_key, v[cnt - 1].trace_id);
	}
	if (res != HX_OK) {
		free(v);
		free(fx);
		lx_buf_free(&strs);
		free(out->next_cursor);
		out->next_cursor = NULL;
		return res;
	}
	for (size_t i = 0; i < cnt; i++) {
		v[i].root_name = (const char *)strs.p + fx[i].root;
		v[i].services = (const char *)strs.p + fx[i].services;
	}
	free(fx);
	out->traces = v;
	out->n = cnt;
	out->priv = strs.p;
	return HX_OK;
}

/* ---- fetch ---- */

/* Fetching decodes every body of the trace once to learn the time, entity and seq of each event
 * and where its record starts, sorts those references, then decodes each record a second time in
 * order and hands it to the callback. A reference is 56 bytes where a copied event would be 200+
 * plus its strings: a 100,000-event trace needs ~6 MB instead of ~25 MB of fresh memory, and page
 * faults, not decoding, were the cost. The bodies' decompressed bytes and decoders (with their
 * string tables, complete after the first pass) stay alive until the end of the fetch. */
typedef struct fref {
	uint64_t time, eid, seq;
	uint64_t ticks;                /* the decoder's running time before the record */
	const uint8_t *rec, *end;      /* the event record, and the end of its body */
	hx__decoder *dec;
	const hx_store_proc *proc;
} fref;

typedef struct fetch_state {
	lx_arena arena;                /* processes */
	fref *refs;
	size_t n, cap;
	uint64_t from, to, eid;
	const uint8_t *trace;
	hx__decoder **decs;            /* one per decoded body */
	size_t ndecs, cap_decs;
	lx_buf *raws;                  /* decompressed blocks, kept */
	size_t nraws, cap_raws;
	lx_buf cbuf;
	ZSTD_DCtx *dctx;
	size_t damaged;
} fetch_state;

static int cmp_fref(const void *a, const void *b)
{
	const fref *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->eid != y->eid)
		return x->eid < y->eid ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int get_str(const uint8_t **p, const uint8_t *end, lx_arena *a, const char **out)
{
	uint64_t n;
	if (hx__get_varint(p, end, &n) || n > (uint64_t)(end - *p))
		return -1;
	char *d = lx_arena_alloc(a, (size_t)n + 1, 1);
	if (!d)
		return -2;
	memcpy(d, *p, (size_t)n);
	d[n] = 0;
	*p += n;
	*out = d;
	return 0;
}

/* First pass over one body: references to its events in the window. -1: damaged (the events
 * before the bad record are kept), -2: no memory. */
static int decode_body(fetch_state *f, const uint8_t *p, const uint8_t *end, const hx_store_proc *proc)
{
	if (f->ndecs == f->cap_decs) {
		size_t cap = f->cap_decs ? f->cap_decs * 2 : 16;
		hx__decoder **nd = realloc(f->decs, cap * sizeof *nd);
		if (!nd)
			return -2;
		f->decs = nd;
		f->cap_decs = cap;
	}
	hx__decoder *d = malloc(sizeof *d);
	if (!d || hx__decoder_init(d) != HX_OK) {
		free(d);
		return -2;
	}
	f->decs[f->ndecs++] = d;
	hx__decoder_reset(d, 0);
	while (p < end) {
		hx_event ev;
		const char *why = NULL;
		const uint8_t *rec = p;
		uint64_t before = d->ticks;
		int r = hx__decode_record(d, &p, end, &ev, NULL, NULL, &why);
		if (r == HX_ENOMEM)
			return -2;
		if (r < 0)
			return -1;
		if (r != HX__REC_EVENT)
			continue;
		if (memcmp(ev.trace_id, f->trace, 16) && ev.kind != HX_EV_TRACE_END) {
			/* A body holds one trace's events; TRACE_END carries the trace it ends. Anything
			 * else naming another trace is damage that slipped past the CRC. */
			return -1;
		}
		if (ev.time_ns < f->from || ev.time_ns > f->to || (f->eid && ev.entity_id != f->eid))
			continue;
		if (f->n == f->cap) {
			size_t cap = f->cap ? f->cap * 2 : 1024;
			fref *nr = realloc(f->refs, cap * sizeof *nr);
			if (!nr)
				return -2;
			f->refs = nr;
			f->cap = cap;
		}
		f->refs[f->n++] = (fref){ev.time_ns, ev.entity_id, ev.seq, before, rec, end, d, proc};
	}
	return 0;
}

/* Second pass: decode the record a reference names, with the decoder set as it was. */
static int redecode(const fetch_state *f, const fref *r, hx_event *ev)
{
	hx__decoder *d = r->dec;
	d->ticks = r->ticks;
	d->entity_id = r->eid;
	d->next_seq = r->seq;
	memcpy(d->trace_id, f->trace, 16);
	d->has_context = 1;
	const uint8_t *p = r->rec;
	const char *why = NULL;
	int rc = hx__decode_record(d, &p, r->end, ev, NULL, NULL, &why);
	if (rc != HX__REC_EVENT)
		return -1;
	ev->time_orig_ns = ev->time_ns;
	return 0;
}

/* Read, check and decode the block at (fd, off, len). -1: damaged, -2: no memory. */
static int fetch_block(fetch_state *f, int fd, uint64_t off, uint64_t len)
{
	if (len < LX_BLOCK_HEADER || len > LX_BLOCK_HEADER + ZSTD_compressBound(LX_RAW_MAX))
		return -1;
	f->cbuf.len = 0;
	if (lx_buf_reserve(&f->cbuf, (size_t)len))
		return -2;
	ssize_t r = pread(fd, f->cbuf.p, (size_t)len, (off_t)off);
	if (r != (ssize_t)len)
		return -1;
	const uint8_t *h = f->cbuf.p;
	uint32_t clen = hx__le32(h + 4), rlen = hx__le32(h + 8);
	if (hx__le32(h) != LX_BLOCK_MAGIC || clen != len - LX_BLOCK_HEADER || rlen > LX_RAW_MAX ||
	    hx__le32(h + 12) != hx__crc32c(hx__crc32c(0, h, 12), h + LX_BLOCK_HEADER, clen))
		return -1;
	if (f->nraws == f->cap_raws) {
		size_t cap = f->cap_raws ? f->cap_raws * 2 : 16;
		lx_buf *nr = realloc(f->raws, cap * sizeof *nr);
		if (!nr)
			return -2;
		f->raws = nr;
		f->cap_raws = cap;
	}
	lx_buf *raw = &f->raws[f->nraws];
	*raw = (lx_buf){0};
	if (lx_buf_reserve(raw, rlen + 1))
		return -2;
	f->nraws++;
	size_t d = ZSTD_decompressDCtx(f->dctx, raw->p, rlen, h + LX_BLOCK_HEADER, clen);
	if (ZSTD_isError(d) || d != rlen)
		return -1;
	const uint8_t *p = raw->p, *end = p + rlen;
	uint64_t np, ng;
	if (hx__get_varint(&p, end, &np) || np > rlen / 19) /* a process takes >= 19 bytes */
		return -1;
	hx_store_proc *procs = lx_arena_alloc(&f->arena, (size_t)(np ? np : 1) * sizeof *procs,
	                                      _Alignof(hx_store_proc));
	if (!procs)
		return -2;
	for (uint64_t i = 0; i < np; i++) {
		if (end - p < 16)
			return -1;
		memcpy(procs[i].instance, p, 16);
		p += 16;
		int e;
		if (hx__get_varint(&p, end, &procs[i].pid) ||
		    (e = get_str(&p, end, &f->arena, &procs[i].host)) ||
		    (e = get_str(&p, end, &f->arena, &procs[i].service)) ||
		    (e = get_str(&p, end, &f->arena, &procs[i].program)))
			return -1; /* a short arena allocation reads as damage here; rare enough */
	}
	if (hx__get_varint(&p, end, &ng) || ng > rlen / 21) /* an entry takes >= 21 bytes */
		return -1;
	/* Bodies follow the directory: walk both. */
	const uint8_t *dir = p;
	uint64_t body_total = 0;
	for (uint64_t i = 0; i < ng; i++) {
		uint64_t pi, nev, tmin, span, blen;
		if (end - dir < 16)
			return -1;
		dir += 16;
		if (hx__get_varint(&dir, end, &pi) || hx__get_varint(&dir, end, &nev) ||
		    hx__get_varint(&dir, end, &tmin) || hx__get_varint(&dir, end, &span) ||
		    hx__get_varint(&dir, end, &blen) || pi >= np || blen > rlen)
			return -1;
		body_total += blen;
	}
	if (body_total != (uint64_t)(end - dir))
		return -1;
	const uint8_t *body = dir;
	dir = p;
	for (uint64_t i = 0; i < ng; i++) {
		const uint8_t *tid = dir;
		uint64_t pi = 0, nev = 0, tmin = 0, span = 0, blen = 0;
		dir += 16;
		/* checked by the first pass */
		if (hx__get_varint(&dir, end, &pi) || hx__get_varint(&dir, end, &nev) ||
		    hx__get_varint(&dir, end, &tmin) || hx__get_varint(&dir, end, &span) ||
		    hx__get_varint(&dir, end, &blen))
			return -1;
		const uint8_t *b = body;
		body += blen;
		if (memcmp(tid, f->trace, 16) || tmin > f->to || (span <= UINT64_MAX - tmin && tmin + span < f->from))
			continue;
		int rc = decode_body(f, b, b + blen, &procs[pi]);
		if (rc == -2)
			return -2;
		if (rc == -1)
			f->damaged++; /* the body's events before the bad record are kept */
	}
	return 0;
}

typedef struct bloc {
	int64_t seg, off, len;
} bloc;

int lx_fetch(hx_store *s, const uint8_t trace_id[16], const hx_store_window *w,
             hx_store_event_fn fn, void *user)
{
	if (!trace_id || !fn) {
		hx__store_seterr("store fetch: no trace ID or no callback");
		return HX_EINVAL;
	}
	fetch_state f = {.from = w ? w->from_ns : 0, .to = w && w->to_ns ? w->to_ns : UINT64_MAX,
	                 .eid = w ? w->entity_id : 0, .trace = trace_id};
	/* Rows first, under the reader lock; the blocks are read and the callback runs without it. */
	pthread_mutex_lock(&s->rd_mu);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->rd,
	                            "SELECT b.seg, b.off, b.len FROM traces t JOIN blocks b ON b.tr = t.id "
	                            "WHERE t.tid = ?1 AND b.tmax >= ?2 AND b.tmin <= ?3 ORDER BY b.seg, b.off",
	                            -1, &st, NULL);
	bloc *rows = NULL;
	size_t nrows = 0, cap = 0;
	int res = HX_OK, found = 0;
	if (rc != SQLITE_OK) {
		res = lx_sql_err(s->rd, rc, "fetch");
	} else {
		sqlite3_bind_blob(st, 1, trace_id, 16, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, f.from > INT64_MAX ? INT64_MAX : (sqlite3_int64)f.from);
		sqlite3_bind_int64(st, 3, f.to > INT64_MAX ? INT64_MAX : (sqlite3_int64)f.to);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (nrows == cap) {
				cap = cap ? cap * 2 : 16;
				bloc *nr = realloc(rows, cap * sizeof *nr);
				if (!nr) {
					res = HX_ENOMEM;
					break;
				}
				rows = nr;
			}
			rows[nrows++] = (bloc){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
			                       sqlite3_column_int64(st, 2)};
		}
		if (res == HX_OK && rc != SQLITE_DONE)
			res = lx_sql_err(s->rd, rc, "fetch");
		sqlite3_finalize(st);
		st = NULL;
		/* A window that misses every block still finds the trace. */
		if (res == HX_OK && !nrows) {
			rc = sqlite3_prepare_v2(s->rd, "SELECT 1 FROM traces WHERE tid = ?1", -1, &st, NULL);
			if (rc == SQLITE_OK) {
				sqlite3_bind_blob(st, 1, trace_id, 16, SQLITE_STATIC);
				rc = sqlite3_step(st);
				found = rc == SQLITE_ROW;
				if (rc != SQLITE_ROW && rc != SQLITE_DONE)
					res = lx_sql_err(s->rd, rc, "fetch");
			} else
				res = lx_sql_err(s->rd, rc, "fetch");
			sqlite3_finalize(st);
		} else
			found = 1;
	}
	pthread_mutex_unlock(&s->rd_mu);
	if (res == HX_OK && !found) {
		hx__store_seterr("store fetch: no such trace");
		res = HX_ENOENT;
	}
	if (res != HX_OK) {
		free(rows);
		return res;
	}
	if (!(f.dctx = ZSTD_createDCtx())) {
		free(rows);
		return HX_ENOMEM;
	}
	int fd = -1;
	int64_t fd_seg = -1;
	for (size_t i = 0; i < nrows && res == HX_OK; i++) {
		if (rows[i].seg != fd_seg) {
			if (fd >= 0)
				close(fd);
			char *path = rows[i].seg > 0 ? lx_segment_path(s, (uint64_t)rows[i].seg) : NULL;
			fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
			free(path);
			fd_seg = rows[i].seg;
		}
		if (fd < 0 || rows[i].off < (int64_t)LX_SEG_HEADER || rows[i].len <= 0) {
			f.damaged++;
			continue;
		}
		int r = fetch_block(&f, fd, (uint64_t)rows[i].off, (uint64_t)rows[i].len);
		if (r == -2)
			res = HX_ENOMEM;
		else if (r == -1)
			f.damaged++;
	}
	if (fd >= 0)
		close(fd);
	free(rows);
	if (res == HX_OK) {
		if (f.n)
			qsort(f.refs, f.n, sizeof *f.refs, cmp_fref);
		for (size_t i = 0; i < f.n; i++) {
			hx_event ev;
			if (redecode(&f, &f.refs[i], &ev)) {
				f.damaged++; /* cannot happen: the record decoded in the first pass */
				continue;
			}
			if (fn(&ev, f.refs[i].proc, user))
				break;
		}
		if (f.damaged) {
			hx__store_seterr("store fetch: %zu damaged block(s) or body(ies) skipped", f.damaged);
			res = HX_EDAMAGED;
		}
	} else {
		hx__store_seterr("store fetch: out of memory");
	}
	for (size_t i = 0; i < f.ndecs; i++) {
		hx__decoder_free(f.decs[i]);
		free(f.decs[i]);
	}
	free(f.decs);
	for (size_t i = 0; i < f.nraws; i++)
		lx_buf_free(&f.raws[i]);
	free(f.raws);
	ZSTD_freeDCtx(f.dctx);
	lx_arena_free(&f.arena);
	free(f.refs);
	lx_buf_free(&f.cbuf);
	return res;
}

/* ---- names ---- */

int lx_names(hx_store *s, int kind, hx_name_list *out)
{
	memset(out, 0, sizeof *out);
	if (kind != 0 && kind != HX_EV_ENTITY_BEGIN && kind != HX_EV_BLOCK_BEGIN && kind != HX_EV_POINT) {
		hx__store_seterr("store names: kind must be 0 (services), ENTITY_BEGIN, BLOCK_BEGIN or POINT");
		return HX_EINVAL;
	}
	pthread_mutex_lock(&s->rd_mu);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->rd,
	                            "SELECT name, count FROM names WHERE kind = ?1 AND count > 0 "
	                            "ORDER BY count DESC, name LIMIT ?2",
	                            -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = lx_sql_err(s->rd, rc, "names");
		pthread_mutex_unlock(&s->rd_mu);
		return rc;
	}
	sqlite3_bind_int(st, 1, kind);
	sqlite3_bind_int(st, 2, LX_NAMES_MAX);
	hx_name_count *v = NULL;
	size_t *offs = NULL, n = 0, cap = 0;
	lx_buf strs = {0};
	int res = HX_OK;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			hx_name_count *nv = realloc(v, cap * sizeof *nv);
			size_t *no = nv ? realloc(offs, cap * sizeof *no) : NULL;
			if (nv)
				v = nv;
			if (!no) {
				res = HX_ENOMEM;
				break;
			}
			offs = no;
		}
		const char *name = (const char *)sqlite3_column_text(st, 0);
		int64_t c = sqlite3_column_int64(st, 1);
		offs[n] = strs.len;
		if (lx_buf_put(&strs, name ? name : "", strlen(name ? name : "") + 1)) {
			res = HX_ENOMEM;
			break;
		}
		v[n].kind = kind;
		v[n].count = c > 0 ? (uint64_t)c : 0;
		n++;
	}
	if (res == HX_OK && rc != SQLITE_DONE)
		res = lx_sql_err(s->rd, rc, "names");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->rd_mu);
	if (res != HX_OK) {
		free(v);
		free(offs);
		lx_buf_free(&strs);
		return res;
	}
	for (size_t i = 0; i < n; i++)
		v[i].name = (const char *)strs.p + offs[i];
	free(offs);
	out->v = v;
	out->n = n;
	out->priv = strs.p;
	return HX_OK;
}
