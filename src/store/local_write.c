/*
 * local_write.c - appending to the embedded store: validation, deduplication, the write buffer,
 * and flush, which turns the buffer into blocks in the current segment and then has
 * local_index.c fold each trace into the open SQLite transaction.
 *
 * The buffer holds owned copies of the appended events (in an arena) grouped by (trace, process):
 * at flush the groups are sorted by trace, so a trace's events from one commit period land in one
 * block (or a few consecutive ones for a big trace), and within a group by (entity, seq), so the
 * encoder restates each entity once and its time deltas stay small. Encoding happens at flush, not
 * at append, so that a failed append can be undone by dropping the buffer.
 *
 * Deduplication: each entity has a sorted set of [lo, hi) ranges of the seqs stored so far (the
 * clients' batches are nearly always contiguous runs, so this is one or two ranges). Ranges are
 * updated at append time, so a batch appended twice before a commit is also caught; they are
 * cached in memory (LRU, LX_ENTITY_CACHE entries; changed entries stay pinned until their commit)
 * and persisted in the entities table by the commit that stores their events.
 */
#define _GNU_SOURCE
#include "store/local_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"

#define LX_VALUE_LIMIT (64u << 10) /* longest attribute value accepted */

/* Mirrors the checks of hx__encode_event(), so that a flush never meets an event it cannot
 * encode: a batch is refused whole, before anything of it is buffered. */
static const char *event_invalid(const hx_event *ev)
{
	unsigned k = ev->kind;
	if (k < HX_EV_ENTITY_BEGIN || k > HX_EV_EFFECT)
		return "unknown event kind";
	if (ev->entity_id == 0)
		return "entity ID 0";
	if (ev->nattrs > HX_ATTR_MAX || (ev->nattrs && !ev->attrs))
		return "bad attribute list";
	if (ev->ncauses > HX_CAUSE_MAX || (ev->ncauses && !ev->causes))
		return "bad cause list";
	if (k == HX_EV_TRACE_JOIN && ev->ncauses != 1)
		return "TRACE_JOIN without exactly one cause";
	if (k == HX_EV_ANNOTATE && ev->nattrs == 0)
		return "ANNOTATE without attributes";
	if (ev->name && ev->name_len > 65535)
		return "name longer than 65535 bytes";
	if (ev->name && ev->name_len && memchr(ev->name, 0, ev->name_len))
		return "name with a NUL byte";
	if (ev->unit && strlen(ev->unit) > 65535)
		return "unit longer than 65535 bytes";
	for (size_t i = 0; i < ev->nattrs; i++) {
		const hx_attr *a = &ev->attrs[i];
		if (a->type < HX_ATTR_INT || a->type > HX_ATTR_BYTES)
			return "unknown attribute type";
		if (a->key && strlen(a->key) > 65535)
			return "attribute key longer than 65535 bytes";
		if ((a->type == HX_ATTR_STRING || a->type == HX_ATTR_BYTES) &&
		    (a->v.s.len > LX_VALUE_LIMIT || (a->v.s.len && !a->v.s.ptr)))
			return "attribute value missing or longer than 64 KiB";
	}
	return NULL;
}

size_t lx_buffered_bytes(const hx_store *s)
{
	/* What the buffered events take; the arrays' spare capacity is kept between commits and is
	 * itself bounded by what one commit period buffered. */
	return s->arena.used_bytes + s->nbev * (sizeof(lx_bev) + sizeof(uint32_t)) +
	       s->ngroups * sizeof(lx_group);
}

void lx_buffer_clear(hx_store *s)
{
	for (size_t i = 0; i < s->ngroups; i++)
		free(s->groups[i].idx);
	s->ngroups = 0;
	s->nbev = 0;
	s->nprocs = 0;
	s->last_proc = 0;
	s->last_group = 0;
	if (s->gslots)
		memset(s->gslots, 0, s->ngslots * sizeof *s->gslots);
	lx_arena_reset(&s->arena);
	lx_intern_reset(&s->intern);
}

void lx_buffer_free(hx_store *s)
{
	lx_buffer_clear(s);
	lx_arena_free(&s->arena);
	lx_intern_free(&s->intern);
	free(s->bev);
	free(s->procs);
	free(s->groups);
	free(s->gslots);
	free(s->dirty);
	s->bev = NULL;
	s->procs = NULL;
	s->groups = NULL;
	s->gslots = NULL;
	s->dirty = NULL;
}

/* ---- entities ---- */

static lx_entity *entity_get(hx_store *s, uint64_t eid, int *rc)
{
	if (s->last_ent && s->last_eid == eid)
		return s->last_ent;
	lx_entity *e = lx_ecache_find(&s->ecache, eid);
	if (e) {
		lx_ecache_touch(&s->ecache, e);
	} else {
		if (!(e = lx_ecache_add(&s->ecache, eid))) {
			*rc = HX_ENOMEM;
			return NULL;
		}
		sqlite3_stmt *st = lx_stmt(s, ST_ENT_GET);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)eid);
		int src = sqlite3_step(st);
		if (src == SQLITE_ROW) {
			const void *b = sqlite3_column_blob(st, 0);
			int n = sqlite3_column_bytes(st, 0);
			/* A damaged row loses deduplication for this entity, not the events. */
			if (!b || n <= 0 || lx_ranges_decode(e, b, (size_t)n))
				e->n = 0;
		}
		sqlite3_reset(st);
		if (src != SQLITE_ROW && src != SQLITE_DONE) {
			lx_ecache_drop(&s->ecache, e);
			*rc = lx_sql_err(s->db, src, "entity ranges");
			return NULL;
		}
	}
	s->last_eid = eid;
	s->last_ent = e;
	return e;
}

static int entity_mark_dirty(hx_store *s, lx_entity *e)
{
	if (e->dirty)
		return 0;
	if (s->ndirty == s->cap_dirty) {
		size_t cap = s->cap_dirty ? s->cap_dirty * 2 : 256;
		lx_entity **nd = realloc(s->dirty, cap * sizeof *nd);
		if (!nd)
			return -1;
		s->dirty = nd;
		s->cap_dirty = cap;
	}
	s->dirty[s->ndirty++] = e;
	e->dirty = 1;
	return 0;
}

int lx_entities_persist(hx_store *s)
{
	lx_buf b = {0};
	for (size_t i = 0; i < s->ndirty; i++) {
		lx_entity *e = s->dirty[i];
		if (lx_ranges_encode(e, &b)) {
			lx_buf_free(&b);
			return HX_ENOMEM;
		}
		sqlite3_stmt *st = lx_stmt(s, ST_ENT_PUT);
		sqlite3_bind_int64(st, 1, (sqlite3_int64)e->eid);
		sqlite3_bind_blob(st, 2, b.p, (int)b.len, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			lx_buf_free(&b);
			return lx_sql_err(s->db, rc, "entity ranges");
		}
	}
	lx_buf_free(&b);
	return HX_OK;
}

void lx_entities_after_commit(hx_store *s)
{
	for (size_t i = 0; i < s->ndirty; i++)
		s->dirty[i]->dirty = 0;
	s->ndirty = 0;
	while (s->ecache.n > LX_ENTITY_CACHE && s->ecache.tail)
		lx_ecache_drop(&s->ecache, s->ecache.tail);
	s->last_ent = NULL;
}

void lx_entities_drop_dirty(hx_store *s)
{
	for (size_t i = 0; i < s->ndirty; i++)
		lx_ecache_drop(&s->ecache, s->dirty[i]);
	s->ndirty = 0;
	s->last_ent = NULL;
}

/* ---- append ---- */

static int proc_index(hx_store *s, const hx_store_proc *p, uint32_t *out)
{
	const char *host = p->host ? p->host : "", *svc = p->service ? p->service : "",
	           *prog = p->program ? p->program : "";
	size_t hl = strlen(host), sl = strlen(svc), pl = strlen(prog);
	for (size_t k = 0; k < s->nprocs; k++) {
		/* The caller appends per process, so the last one nearly always matches. */
		size_t i = (s->last_proc + k) % s->nprocs;
		const lx_proc *q = &s->procs[i];
		if (q->pid == p->pid && !memcmp(q->instance, p->instance, 16) && q->host_len == hl &&
		    q->service_len == sl && q->program_len == pl && !memcmp(q->host, host, hl) &&
		    !memcmp(q->service, svc, sl) && !memcmp(q->program, prog, pl)) {
			*out = s->last_proc = (uint32_t)i;
			return HX_OK;
		}
	}
	if (s->nprocs == s->cap_procs) {
		size_t cap = s->cap_procs ? s->cap_procs * 2 : 16;
		lx_proc *np = realloc(s->procs, cap * sizeof *np);
		if (!np)
			return HX_ENOMEM;
		s->procs = np;
		s->cap_procs = cap;
	}
	lx_proc *q = &s->procs[s->nprocs];
	char *h = lx_arena_alloc(&s->arena, hl + sl + pl + 3, 1);
	if (!h)
		return HX_ENOMEM;
	memcpy(h, host, hl + 1);
	memcpy(h + hl + 1, svc, sl + 1);
	memcpy(h + hl + sl + 2, prog, pl + 1);
	memcpy(q->instance, p->instance, 16);
	q->pid = p->pid;
	q->host = h;
	q->service = h + hl + 1;
	q->program = h + hl + sl + 2;
	q->host_len = hl;
	q->service_len = sl;
	q->program_len = pl;
	*out = s->last_proc = (uint32_t)s->nprocs++;
	return HX_OK;
}

static uint32_t group_hash(const uint8_t trace[16], uint32_t proc)
{
	uint64_t a = hx__le64(trace), b = hx__le64(trace + 8);
	uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)proc << 17)) * 0xff51afd7ed558ccdull;
	return (uint32_t)(h >> 32);
}

static int gslots_grow(hx_store *s)
{
	size_t n = s->ngslots ? s->ngslots * 2 : 1024;
	uint32_t *ns = calloc(n, sizeof *ns);
	if (!ns)
		return -1;
	for (size_t i = 0; i < s->ngroups; i++) {
		size_t j = group_hash(s->groups[i].trace, s->groups[i].proc) & (n - 1);
		while (ns[j])
			j = (j + 1) & (n - 1);
		ns[j] = (uint32_t)i + 1;
	}
	free(s->gslots);
	s->gslots = ns;
	s->ngslots = n;
	return 0;
}

static lx_group *group_get(hx_store *s, const uint8_t trace[16], uint32_t proc)
{
	if (s->last_group) {
		lx_group *g = &s->groups[s->last_group - 1];
		if (g->proc == proc && !memcmp(g->trace, trace, 16))
			return g;
	}
	if ((s->ngroups + 1) * 2 > s->ngslots && gslots_grow(s))
		return NULL;
	size_t j = group_hash(trace, proc) & (s->ngslots - 1);
	for (; s->gslots[j]; j = (j + 1) & (s->ngslots - 1)) {
		lx_group *g = &s->groups[s->gslots[j] - 1];
		if (g->proc == proc && !memcmp(g->trace, trace, 16)) {
			s->last_group = s->gslots[j];
			return g;
		}
	}
	if (s->ngroups == s->cap_groups) {
		size_t cap = s->cap_groups ? s->cap_groups * 2 : 256;
		lx_group *ng = realloc(s->groups, cap * sizeof *ng);
		if (!ng)
			return NULL;
		s->groups = ng;
		s->cap_groups = cap;
	}
	lx_group *g = &s->groups[s->ngroups];
	memset(g, 0, sizeof *g);
	memcpy(g->trace, trace, 16);
	g->proc = proc;
	g->sorted = 1;
	g->tmin = UINT64_MAX;
	s->gslots[j] = (uint32_t)++s->ngroups;
	s->last_group = s->ngroups;
	return g;
}

static int group_push(hx_store *s, lx_group *g, uint32_t bi)
{
	if (g->n == g->cap) {
		uint32_t cap = g->cap ? g->cap * 2 : 16;
		uint32_t *ni = realloc(g->idx, cap * sizeof *ni);
		if (!ni)
			return -1;
		g->idx = ni;
		g->cap = cap;
	}
	const hx_event *ev = &s->bev[bi].ev;
	if (g->n && g->sorted) {
		const hx_event *last = &s->bev[g->idx[g->n - 1]].ev;
		if (last->entity_id > ev->entity_id || (last->entity_id == ev->entity_id && last->seq > ev->seq))
			g->sorted = 0;
	}
	g->idx[g->n++] = bi;
	if (ev->time_ns < g->tmin)
		g->tmin = ev->time_ns;
	if (ev->time_ns > g->tmax)
		g->tmax = ev->time_ns;
	return 0;
}

int lx_append(hx_store *s, const hx_store_proc *proc, const hx_event *events, size_t n,
              size_t *stored, size_t *duplicates)
{
	if (stored)
		*stored = 0;
	if (duplicates)
		*duplicates = 0;
	if (!proc || (n && !events)) {
		hx__store_seterr("store append: no process or no events");
		return HX_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *why = event_invalid(&events[i]);
		if (why) {
			hx__store_seterr("store append: event %zu: %s", i, why);
			return HX_EINVAL;
		}
	}
	int rc;
	/* Event indices are 32-bit: flush long before they could wrap, whatever the memory limit. */
	if (s->nbev && (lx_buffered_bytes(s) >= s->memory_limit || s->nbev + n >= (1u << 30)) &&
	    (rc = lx_flush(s)) != HX_OK) {
		lx_abort_pending(s);
		return rc;
	}
	if (!n)
		return HX_OK;
	uint32_t pi;
	if ((rc = proc_index(s, proc, &pi)))
		goto fail;
	size_t nstored = 0, ndup = 0;
	for (size_t i = 0; i < n; i++) {
		const hx_event *ev = &events[i];
		lx_entity *e = entity_get(s, ev->entity_id, &rc);
		if (!e)
			goto fail;
		if (lx_ranges_has(e, ev->seq)) {
			ndup++;
			continue;
		}
		if (entity_mark_dirty(s, e) || lx_ranges_add(e, ev->seq))
			goto nomem;
		if (s->nbev == s->cap_bev) {
			size_t cap = s->cap_bev ? s->cap_bev * 2 : 4096;
			lx_bev *nb = realloc(s->bev, cap * sizeof *nb);
			if (!nb)
				goto nomem;
			s->bev = nb;
			s->cap_bev = cap;
		}
		lx_bev *b = &s->bev[s->nbev];
		if (lx_event_copy(&s->arena, &b->ev, ev, &s->intern))
			goto nomem;
		b->proc = pi;
		lx_group *g = group_get(s, ev->trace_id, pi);
		if (!g || group_push(s, g, (uint32_t)s->nbev))
			goto nomem;
		s->nbev++;
		nstored++;
	}
	s->p_events += nstored;
	s->p_duplicates += ndup;
	if (stored)
		*stored = nstored;
	if (duplicates)
		*duplicates = ndup;
	return HX_OK;
nomem:
	rc = HX_ENOMEM;
	hx__store_seterr("store append: out of memory");
fail:
	lx_abort_pending(s);
	return rc;
}

/* ---- flush: buffer -> blocks -> segment, and the index ---- */

static int cmp_group(const void *a, const void *b, void *ctx)
{
	const hx_store *s = ctx;
	const lx_group *x = &s->groups[*(const uint32_t *)a], *y = &s->groups[*(const uint32_t *)b];
	int c = memcmp(x->trace, y->trace, 16);
	return c ? c : (x->proc > y->proc) - (x->proc < y->proc);
}

static int finish_block(lx_flush_state *f)
{
	hx_store *s = f->s;
	if (!f->nbgroups)
		return HX_OK;
	lx_buf *raw = &s->raw;
	raw->len = 0;
	if (lx_buf_varint(raw, f->nbprocs))
		return HX_ENOMEM;
	for (uint32_t i = 0; i < f->nbprocs; i++) {
		const lx_proc *p = &s->procs[f->bprocs[i]];
		if (lx_buf_put(raw, p->instance, 16) || lx_buf_varint(raw, p->pid) ||
		    lx_buf_str(raw, p->host, p->host_len) || lx_buf_str(raw, p->service, p->service_len) ||
		    lx_buf_str(raw, p->program, p->program_len))
			return HX_ENOMEM;
		f->pmap[f->bprocs[i]] = 0;
	}
	if (lx_buf_varint(raw, f->nbgroups) || lx_buf_put(raw, s->dir_buf.p, s->dir_buf.len) ||
	    lx_buf_put(raw, s->bodies.p, s->bodies.len))
		return HX_ENOMEM;
	if (raw->len > LX_RAW_MAX) { /* the chunk bound makes this impossible; never write one */
		hx__store_seterr("store: block of %zu bytes exceeds the format's limit", raw->len);
		return HX_EIO;
	}
	size_t bound = ZSTD_compressBound(raw->len);
	s->out.len = 0;
	if (lx_buf_reserve(&s->out, LX_BLOCK_HEADER + bound))
		return HX_ENOMEM;
	size_t c = ZSTD_compressCCtx(s->cctx, s->out.p + LX_BLOCK_HEADER, bound, raw->p, raw->len,
	                             s->zlevel);
	if (ZSTD_isError(c)) {
		hx__store_seterr("store: zstd: %s", ZSTD_getErrorName(c));
		return HX_ENOMEM;
	}
	uint8_t *h = s->out.p;
	hx__put_le32(h, LX_BLOCK_MAGIC);
	hx__put_le32(h + 4, (uint32_t)c);
	hx__put_le32(h + 8, (uint32_t)raw->len);
	hx__put_le32(h + 12, hx__crc32c(hx__crc32c(0, h, 12), h + LX_BLOCK_HEADER, c));
	uint64_t off;
	int rc = lx_segment_write(s, h, LX_BLOCK_HEADER + c, &off);
	if (rc)
		return rc;
	for (size_t i = f->loc0; i < f->nloc; i++) {
		f->loc[i].off = off;
		f->loc[i].len = LX_BLOCK_HEADER + c;
		if (f->loc[i].tmax > s->seg.tmax)
			s->seg.tmax = f->loc[i].tmax;
	}
	f->loc0 = f->nloc;
	f->nbprocs = f->nbgroups = 0;
	s->dir_buf.len = s->bodies.len = 0;
	return HX_OK;
}

/* Encode events idx[0..n) of group g (one chunk) into the block being built. */
static int add_chunk(lx_flush_state *f, const lx_group *g, size_t ti, const uint32_t *idx, size_t n)
{
	hx_store *s = f->s;
	hx__encoder_reset(s->enc, 0);
	uint64_t tmin = UINT64_MAX, tmax = 0;
	for (size_t i = 0; i < n; i++) {
		const hx_event *ev = &s->bev[idx[i]].ev;
		int rc = hx__encode_event(s->enc, ev);
		if (rc) {
			hx__store_seterr("store: cannot encode an event (%s)", hx_strerror(rc));
			return rc == HX_ENOMEM ? HX_ENOMEM : HX_EIO;
		}
		if (ev->time_ns < tmin)
			tmin = ev->time_ns;
		if (ev->time_ns > tmax)
			tmax = ev->time_ns;
	}
	size_t blen;
	const uint8_t *body = hx__encoder_data(s->enc, &blen);
	if (!f->pmap[g->proc]) {
		f->bprocs[f->nbprocs++] = g->proc;
		f->pmap[g->proc] = f->nbprocs;
	}
	lx_buf *d = &s->dir_buf;
	if (lx_buf_put(d, g->trace, 16) || lx_buf_varint(d, f->pmap[g->proc] - 1) ||
	    lx_buf_varint(d, n) || lx_buf_varint(d, tmin) || lx_buf_varint(d, tmax - tmin) ||
	    lx_buf_varint(d, blen) || lx_buf_put(&s->bodies, body, blen))
		return HX_ENOMEM;
	f->nbgroups++;
	if (f->nloc > f->loc0 && f->loc[f->nloc - 1].ti == ti) {
		lx_floc *l = &f->loc[f->nloc - 1];
		if (tmin < l->tmin)
			l->tmin = tmin;
		if (tmax > l->tmax)
			l->tmax = tmax;
	} else {
		if (f->nloc == f->cap_loc) {
			size_t cap = f->cap_loc ? f->cap_loc * 2 : 256;
			lx_floc *nl = realloc(f->loc, cap * sizeof *nl);
			if (!nl)
				return HX_ENOMEM;
			f->loc = nl;
			f->cap_loc = cap;
		}
		f->loc[f->nloc++] = (lx_floc){ti, 0, 0, tmin, tmax};
	}
	if (d->len + s->bodies.len >= LX_BLOCK_TARGET)
		return finish_block(f);
	return HX_OK;
}

/* Sort a group's events by (entity, seq) through compact keys: comparing through the events
 * themselves costs a cache miss per comparison. */
typedef struct skey {
	uint64_t eid, seq;
	uint32_t idx;
} skey;

static int cmp_skey(const void *a, const void *b)
{
	const skey *x = a, *y = b;
	if (x->eid != y->eid)
		return x->eid < y->eid ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int sort_group(hx_store *s, lx_group *g)
{
	skey *k = malloc(g->n * sizeof *k);
	if (!k)
		return HX_ENOMEM;
	for (uint32_t i = 0; i < g->n; i++) {
		const hx_event *ev = &s->bev[g->idx[i]].ev;
		k[i] = (skey){ev->entity_id, ev->seq, g->idx[i]};
	}
	qsort(k, g->n, sizeof *k, cmp_skey);
	for (uint32_t i = 0; i < g->n; i++)
		g->idx[i] = k[i].idx;
	free(k);
	g->sorted = 1;
	return HX_OK;
}

static int write_blocks(lx_flush_state *f)
{
	hx_store *s = f->s;
	int rc;
	for (size_t k = 0; k < s->ngroups; k++) {
		lx_group *g = &s->groups[f->order[k]];
		if (!f->ntr || memcmp(f->tr[f->ntr - 1].trace, g->trace, 16)) {
			memcpy(f->tr[f->ntr].trace, g->trace, 16);
			f->tr[f->ntr].g0 = k;
			f->tr[f->ntr].ng = 0;
			f->ntr++;
		}
		f->tr[f->ntr - 1].ng++;
		if (!g->sorted && (rc = sort_group(s, g)))
			return rc;
		/* A chunk ends at LX_GROUP_MAX events or when an upper bound of its encoded size (each
		 * event's record, and the CONTEXT, TIME and STRING records it may need) reaches a
		 * quarter of LX_RAW_MAX: with the block target and one more event (< 2.5 MiB), a block
		 * stays below LX_RAW_MAX, the most a reader accepts. */
		size_t start = 0;
		while (start < g->n) {
			size_t end = start, est = 0;
			while (end < g->n && end - start < LX_GROUP_MAX && est < LX_RAW_MAX / 4) {
				const hx_event *ev = &s->bev[g->idx[end]].ev;
				est += 80 + 2 * ev->name_len + (ev->unit ? strlen(ev->unit) : 0) + ev->ncauses * 36;
				for (size_t a = 0; a < ev->nattrs; a++)
					est += 32 + strlen(ev->attrs[a].key) +
					       (ev->attrs[a].type >= HX_ATTR_STRING ? ev->attrs[a].v.s.len : 8);
				end++;
			}
			if ((rc = add_chunk(f, g, f->ntr - 1, g->idx + start, end - start)))
				return rc;
			start = end;
		}
	}
	return finish_block(f);
}

int lx_flush(hx_store *s)
{
	if (!s->nbev)
		return HX_OK;
	int rc;
	if ((rc = lx_ensure_txn(s)) || (rc = lx_segment_prepare(s)))
		return rc;
	if (s->nnames > LX_NAME_CACHE && !s->ntouched)
		lx_names_clear(s);
	lx_flush_state f = {.s = s};
	/* A flush that failed half-way may have left a block under construction. */
	s->dir_buf.len = s->bodies.len = 0;
	f.order = malloc(s->ngroups * sizeof *f.order);
	f.tr = malloc(s->ngroups * sizeof *f.tr);
	f.pmap = calloc(s->nprocs, sizeof *f.pmap);
	f.bprocs = malloc(s->nprocs * sizeof *f.bprocs);
	lx_tscratch *t = lx_tscratch_new();
	if (!t || !f.order || !f.tr || !f.pmap || !f.bprocs) {
		rc = HX_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < s->ngroups; i++)
		f.order[i] = (uint32_t)i;
	qsort_r(f.order, s->ngroups, sizeof *f.order, cmp_group, s);
	if ((rc = write_blocks(&f)))
		goto out;
	static const uint8_t zero[16];
	for (size_t i = 0; i < f.ntr; i++)
		if (memcmp(f.tr[i].trace, zero, 16) && (rc = lx_index_trace(&f, i, t)))
			goto out;
	rc = lx_names_write_deltas(s);
	if (rc == HX_OK)
		lx_buffer_clear(s);
out:
	lx_tscratch_free(t);
	free(f.order);
	free(f.tr);
	free(f.loc);
	free(f.pmap);
	free(f.bprocs);
	return rc;
}
