/*
 * local_index.c - the index side of a flush: each trace's buffered events folded into its summary
 * row (start, end, root, counts, the sets of entities, processes, hosts and services), its block
 * locations, and the names it contains (trace_keys, names.count), plus the names cache that maps
 * (kind, name) to names.id. Runs inside the open write transaction (local.c).
 */
#define _GNU_SOURCE
#include "store/local_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"

/* ---- names cache ---- */

static size_t name_hash(int kind, const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
	return (size_t)h;
}

void lx_names_clear(hx_store *s)
{
	for (size_t i = 0; i < s->nnbuckets; i++) {
		lx_name *e = s->nbuckets[i];
		while (e) {
			lx_name *next = e->hnext;
			free(e->name);
			free(e);
			e = next;
		}
		s->nbuckets[i] = NULL;
	}
	s->nnames = 0;
	s->ntouched = 0;
}

/* The row ID of (kind, name), creating the row; adds `count` to its pending delta. */
static int name_add(hx_store *s, int kind, const char *p, size_t n, uint64_t count, int64_t *id)
{
	if (!s->nnbuckets) {
		s->nbuckets = calloc(4096, sizeof *s->nbuckets);
		if (!s->nbuckets)
			return HX_ENOMEM;
		s->nnbuckets = 4096;
	}
	size_t h = name_hash(kind, p, n) & (s->nnbuckets - 1);
	lx_name *e = s->nbuckets[h];
	while (e && !(e->kind == kind && e->len == n && !memcmp(e->name, p, n)))
		e = e->hnext;
	if (!e) {
		sqlite3_stmt *st = lx_stmt(s, ST_NAME_GET);
		sqlite3_bind_int(st, 1, kind);
		sqlite3_bind_text(st, 2, p, (int)n, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		int64_t rid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		if (rc == SQLITE_DONE) {
			st = lx_stmt(s, ST_NAME_INS);
			sqlite3_bind_int(st, 1, kind);
			sqlite3_bind_text(st, 2, p, (int)n, SQLITE_STATIC);
			rc = sqlite3_step(st);
			sqlite3_reset(st);
			if (rc != SQLITE_DONE)
				return lx_sql_err(s->db, rc, "new name");
			rid = sqlite3_last_insert_rowid(s->db);
		} else if (rc != SQLITE_ROW) {
			return lx_sql_err(s->db, rc, "names");
		}
		e = calloc(1, sizeof *e);
		if (!e || !(e->name = malloc(n + 1))) {
			free(e);
			return HX_ENOMEM;
		}
		memcpy(e->name, p, n);
		e->name[n] = 0;
		e->len = n;
		e->kind = kind;
		e->id = rid;
		e->hnext = s->nbuckets[h];
		s->nbuckets[h] = e;
		s->nnames++;
	}
	if (!e->touched) {
		if (s->ntouched == s->cap_touched) {
			size_t cap = s->cap_touched ? s->cap_touched * 2 : 256;
			lx_name **nt = realloc(s->touched, cap * sizeof *nt);
			if (!nt)
				return HX_ENOMEM;
			s->touched = nt;
			s->cap_touched = cap;
		}
		s->touched[s->ntouched++] = e;
		e->touched = 1;
	}
	e->delta += count;
	*id = e->id;
	return HX_OK;
}

int lx_names_write_deltas(hx_store *s)
{
	for (size_t i = 0; i < s->ntouched; i++) {
		lx_name *e = s->touched[i];
		sqlite3_stmt *st = lx_stmt(s, ST_NAME_ADD);
		sqlite3_bind_int64(st, 1, e->id);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)e->delta);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return lx_sql_err(s->db, rc, "name counts");
		e->delta = 0;
		e->touched = 0;
	}
	s->ntouched = 0;
	return HX_OK;
}

/* ---- summaries ---- */

/* Sorted sets kept in trace rows: u64 entity IDs and 16-byte instance IDs, as blobs. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}
static int cmp_16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Merge the set in blob (elements of `size` bytes) with add[0..n), into out (sorted, unique). */
static int set_merge(const void *blob, size_t blen, const void *add, size_t n, size_t size,
                     int (*cmp)(const void *, const void *), lx_buf *out)
{
	size_t old = blob ? blen / size : 0;
	out->len = 0;
	if (lx_buf_reserve(out, (old + n) * size + 1))
		return -1;
	if (old)
		memcpy(out->p, blob, old * size);
	if (n)
		memcpy(out->p + old * size, add, n * size);
	size_t tot = old + n, u = 0;
	if (size == 8) /* stored little-endian; compare as numbers on this host */
		for (size_t i = 0; i < tot; i++) {
			uint64_t v = hx__le64(out->p + i * 8);
			memcpy(out->p + i * 8, &v, 8);
		}
	qsort(out->p, tot, size, cmp);
	for (size_t i = 0; i < tot; i++)
		if (!u || cmp(out->p + (u - 1) * size, out->p + i * size))
			memmove(out->p + u++ * size, out->p + i * size, size);
	if (size == 8)
		for (size_t i = 0; i < u; i++) {
			uint64_t v;
			memcpy(&v, out->p + i * 8, 8);
			hx__put_le64(out->p + i * 8, v);
		}
	out->len = u * size;
	return 0;
}

typedef struct sref {
	const char *p;
	size_t n;
} sref;

static int cmp_sref(const void *a, const void *b)
{
	const sref *x = a, *y = b;
	size_t m = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, m);
	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Merge a comma-separated sorted list with add[0..n) into out (NUL-terminated); the elements of
 * add that were not in the list are moved to add[0..*nnew). */
static int list_merge(const char *old, sref *add, size_t n, lx_buf *out, size_t *nnew)
{
	size_t nold = 0;
	for (const char *p = old; p && *p; p++)
		nold += *p == ',';
	nold += old && *old;
	sref *v = malloc((nold + n + 1) * sizeof *v);
	if (!v)
		return -1;
	size_t k = 0;
	for (const char *p = old; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		v[k++] = (sref){p, len};
		p += len + (c ? 1 : 0);
	}
	nold = k;
	qsort(v, nold, sizeof *v, cmp_sref);
	*nnew = 0;
	for (size_t i = 0; i < n; i++) {
		if (bsearch(&add[i], v, nold, sizeof *v, cmp_sref))
			continue;
		int dup = 0;
		for (size_t j = 0; j < *nnew && !dup; j++)
			dup = !cmp_sref(&add[j], &add[i]);
		if (!dup)
			add[(*nnew)++] = add[i];
	}
	memcpy(v + nold, add, *nnew * sizeof *v);
	k = nold + *nnew;
	qsort(v, k, sizeof *v, cmp_sref);
	out->len = 0;
	for (size_t i = 0; i < k; i++)
		if ((i && lx_buf_put(out, ",", 1)) || lx_buf_put(out, v[i].p, v[i].n)) {
			free(v);
			return -1;
		}
	free(v);
	return lx_buf_put(out, "", 1);
}

/* A (kind, name) met in a trace's events, for trace_keys and name counts. Names are interned
 * (lx_intern), so equal names nearly always share a pointer; the rare unshared copy only costs
 * an extra (still correct) row update. */
typedef struct nitem {
	int kind;
	const char *p;
	size_t len;
	uint64_t count;
} nitem;

struct lx_tscratch {
	lx_buf ents, procs, set, hosts, services;
	nitem *items;               /* distinct (kind, name) of the trace, with counts */
	size_t nitems, cap_items;
	uint32_t *ht;               /* hash of items by (kind, pointer): index + 1, 0 empty */
	size_t nht;
	uint64_t *eids;
	size_t neids, cap_eids;
	sref *hostv, *svcv;
	size_t nhost, nsvc, cap_hs;
	lx_kc *okeys;               /* the keys already in the row */
	size_t nokeys;
	lx_kc *kd;                  /* this flush's keys */
	size_t nkd, cap_kd;
	lx_buf keys;                /* the merged keys blob */
};

static size_t item_slot(const lx_tscratch *t, int kind, const char *p)
{
	uint64_t h = ((uint64_t)(uintptr_t)p ^ (uint64_t)kind) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32) & (t->nht - 1);
}

/* Count one (kind, name): a hash probe per event instead of sorting every event's name. */
static int item_add(lx_tscratch *t, int kind, const char *p, size_t len)
{
	if ((t->nitems + 1) * 2 > t->nht) {
		size_t n = t->nht ? t->nht * 2 : 256;
		uint32_t *nh = calloc(n, sizeof *nh);
		if (!nh)
			return -1;
		free(t->ht);
		t->ht = nh;
		t->nht = n;
		for (size_t i = 0; i < t->nitems; i++) {
			size_t j = item_slot(t, t->items[i].kind, t->items[i].p);
			while (t->ht[j])
				j = (j + 1) & (t->nht - 1);
			t->ht[j] = (uint32_t)i + 1;
		}
	}
	size_t j = item_slot(t, kind, p);
	for (; t->ht[j]; j = (j + 1) & (t->nht - 1)) {
		nitem *it = &t->items[t->ht[j] - 1];
		if (it->p == p && it->kind == kind) {
			it->count++;
			return 0;
		}
	}
	if (t->nitems == t->cap_items) {
		size_t cap = t->cap_items ? t->cap_items * 2 : 64;
		nitem *ni = realloc(t->items, cap * sizeof *ni);
		if (!ni)
			return -1;
		t->items = ni;
		t->cap_items = cap;
	}
	t->items[t->nitems] = (nitem){kind, p, len, 1};
	t->ht[j] = (uint32_t)++t->nitems;
	return 0;
}

static void items_clear(lx_tscratch *t)
{
	for (size_t i = 0; i < t->nitems; i++) {
		size_t j = item_slot(t, t->items[i].kind, t->items[i].p);
		while (t->ht[j] != i + 1)
			j = (j + 1) & (t->nht - 1);
		t->ht[j] = 0;
	}
	t->nitems = 0;
}

static int attr_indexed(const hx_store *s, const char *key)
{
	for (size_t i = 0; i < s->nindexed; i++)
		if (!strcmp(s->indexed[i], key))
			return 1;
	return 0;
}

static int collect_event(hx_store *s, lx_tscratch *t, const hx_event *ev)
{
	if (ev->kind == HX_EV_ENTITY_BEGIN || ev->kind == HX_EV_BLOCK_BEGIN || ev->kind == HX_EV_POINT)
		if (item_add(t, ev->kind, ev->name, ev->name_len) ||
		    (ev->kind != HX_EV_ENTITY_BEGIN && item_add(t, LX_KIND_EVNAME, ev->name, ev->name_len)))
			return -1;
	for (size_t i = 0; i < ev->nattrs; i++) {
		const hx_attr *a = &ev->attrs[i];
		if (!attr_indexed(s, a->key))
			continue;
		char num[64];
		const char *v = num;
		size_t vl;
		switch (a->type) {
		case HX_ATTR_INT:
			vl = (size_t)snprintf(num, sizeof num, "%" PRId64, a->v.i);
			break;
		case HX_ATTR_DOUBLE:
			vl = (size_t)snprintf(num, sizeof num, "%.17g", a->v.d);
			break;
		case HX_ATTR_BOOL:
			v = a->v.b ? "true" : "false";
			vl = strlen(v);
			break;
		case HX_ATTR_STRING:
			v = a->v.s.ptr;
			vl = a->v.s.len > LX_ATTR_VALUE_MAX ? LX_ATTR_VALUE_MAX : a->v.s.len;
			if (memchr(v, 0, vl))
				continue;
			break;
		default:
			continue; /* bytes are not searchable text */
		}
		char kv[HX_NAME_MAX + LX_ATTR_VALUE_MAX + 2];
		size_t kl = strlen(a->key);
		if (kl > HX_NAME_MAX)
			continue; /* not a key anyone indexes */
		memcpy(kv, a->key, kl);
		kv[kl] = '=';
		memcpy(kv + kl + 1, v, vl);
		const char *in = lx_intern_str(&s->intern, &s->arena, kv, kl + 1 + vl);
		if (!in || item_add(t, LX_KIND_ATTR, in, kl + 1 + vl))
			return -1;
	}
	return 0;
}

static int64_t clamp64(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static int key_add(hx_store *s, int64_t key, int64_t tr)
{
	sqlite3_stmt *st = lx_stmt(s, ST_KEY_ADD);
	sqlite3_bind_int64(st, 1, key);
	sqlite3_bind_int64(st, 2, tr);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? HX_OK : lx_sql_err(s->db, rc, "trace keys");
}

static int cmp_kc(const void *a, const void *b)
{
	const lx_kc *x = a, *y = b;
	return (x->key > y->key) - (x->key < y->key);
}

static int kd_push(lx_tscratch *t, int64_t key, uint64_t n, int row)
{
	if (t->nkd == t->cap_kd) {
		size_t cap = t->cap_kd ? t->cap_kd * 2 : 64;
		lx_kc *nk = realloc(t->kd, cap * sizeof *nk);
		if (!nk)
			return -1;
		t->kd = nk;
		t->cap_kd = cap;
	}
	t->kd[t->nkd++] = (lx_kc){key, n, row};
	return 0;
}

/* Merge the trace's old keys (t->okeys) with this flush's (t->kd, sorted and combined here) into
 * t->keys (the blob); the keys new to the trace are left in t->kd[0..*nnew). */
static int keys_merge(lx_tscratch *t, size_t *nnew)
{
	if (t->nkd)
		qsort(t->kd, t->nkd, sizeof *t->kd, cmp_kc);
	size_t u = 0;
	for (size_t i = 0; i < t->nkd; i++) {
		if (u && t->kd[u - 1].key == t->kd[i].key)
			t->kd[u - 1].n += t->kd[i].n;
		else
			t->kd[u++] = t->kd[i];
	}
	t->nkd = u;
	lx_kc *m = malloc((t->nokeys + t->nkd + 1) * sizeof *m);
	if (!m)
		return -1;
	size_t i = 0, j = 0, k = 0;
	*nnew = 0;
	while (i < t->nokeys || j < t->nkd) {
		if (j == t->nkd || (i < t->nokeys && t->okeys[i].key < t->kd[j].key)) {
			m[k++] = t->okeys[i++];
		} else if (i == t->nokeys || t->kd[j].key < t->okeys[i].key) {
			m[k++] = t->kd[j];
			t->kd[(*nnew)++] = t->kd[j++];
		} else {
			m[k] = t->okeys[i++];
			m[k++].n += t->kd[j++].n;
		}
	}
	int rc = lx_keys_encode(m, k, &t->keys);
	free(m);
	return rc;
}

/* Fold the buffered events of trace f->tr[ti] into its row and its keys. */
int lx_index_trace(lx_flush_state *f, size_t ti, lx_tscratch *t)
{
	hx_store *s = f->s;
	const lx_ftrace *ft = &f->tr[ti];
	items_clear(t);
	t->neids = t->nhost = t->nsvc = t->nkd = 0;
	free(t->okeys);
	t->okeys = NULL;
	t->nokeys = 0;
	t->procs.len = 0;
	uint64_t tmin = UINT64_MAX, tmax = 0, nev = 0, nerr = 0, root_t = UINT64_MAX;
	const char *root = NULL;
	size_t root_len = 0;
	size_t need_hs = ft->ng;
	if (need_hs > t->cap_hs) {
		sref *nh = realloc(t->hostv, need_hs * sizeof *nh), *ns;
		if (nh)
			t->hostv = nh;
		ns = nh ? realloc(t->svcv, need_hs * sizeof *ns) : NULL;
		if (!ns)
			return HX_ENOMEM;
		t->svcv = ns;
		t->cap_hs = need_hs;
	}
	for (size_t k = ft->g0; k < ft->g0 + ft->ng; k++) {
		const lx_group *g = &s->groups[f->order[k]];
		const lx_proc *p = &s->procs[g->proc];
		if (lx_buf_put(&t->procs, p->instance, 16))
			return HX_ENOMEM;
		/* Unknown ("") hosts and services are not listed or counted. */
		if (p->host_len)
			t->hostv[t->nhost++] = (sref){p->host, p->host_len};
		if (p->service_len)
			t->svcv[t->nsvc++] = (sref){p->service, p->service_len};
		if (t->neids + g->n > t->cap_eids) {
			size_t cap = (t->neids + g->n) * 2;
			uint64_t *ne = realloc(t->eids, cap * sizeof *ne);
			if (!ne)
				return HX_ENOMEM;
			t->eids = ne;
			t->cap_eids = cap;
		}
		uint64_t last_eid = 0;
		for (uint32_t i = 0; i < g->n; i++) {
			const hx_event *ev = &s->bev[g->idx[i]].ev;
			nev++;
			if (ev->time_ns < tmin)
				tmin = ev->time_ns;
			if (ev->time_ns > tmax)
				tmax = ev->time_ns;
			if (ev->kind == HX_EV_ERROR)
				nerr++;
			if (ev->kind == HX_EV_TRACE_BEGIN && ev->time_ns < root_t) {
				root_t = ev->time_ns;
				root = ev->name;
				root_len = ev->name_len;
			}
			if (ev->entity_id != last_eid) /* sorted by entity: one entry per run */
				t->eids[t->neids++] = last_eid = ev->entity_id;
			if (collect_event(s, t, ev))
				return HX_ENOMEM;
		}
	}
	/* The existing row. */
	sqlite3_stmt *st = lx_stmt(s, ST_TRACE_GET);
	sqlite3_bind_blob(st, 1, ft->trace, 16, SQLITE_STATIC);
	int src = sqlite3_step(st);
	int64_t tr = 0;
	int exists = src == SQLITE_ROW;
	if (src != SQLITE_ROW && src != SQLITE_DONE) {
		sqlite3_reset(st);
		return lx_sql_err(s->db, src, "trace");
	}
	int rc = HX_OK;
	size_t nnew_svc = 0;
	/* Everything read from the row is copied before the statement is reset. */
	if (exists) {
		tr = sqlite3_column_int64(st, 0);
		int64_t o_start = sqlite3_column_int64(st, 1), o_end = sqlite3_column_int64(st, 2);
		if (o_start >= 0 && (uint64_t)o_start < tmin)
			tmin = (uint64_t)o_start;
		if (o_end >= 0 && (uint64_t)o_end > tmax)
			tmax = (uint64_t)o_end;
		const char *o_root = (const char *)sqlite3_column_text(st, 3);
		if (o_root && *o_root) {
			/* The root keeps the name it has: copied, the row is reset before the update. */
			t->set.len = 0;
			root_len = strlen(o_root);
			if (lx_buf_put(&t->set, o_root, root_len + 1))
				rc = HX_ENOMEM;
			root = (const char *)t->set.p;
		}
		int64_t oe = sqlite3_column_int64(st, 5), oerr = sqlite3_column_int64(st, 6);
		nev += oe > 0 ? (uint64_t)oe : 0;
		nerr += oerr > 0 ? (uint64_t)oerr : 0;
		const void *b = sqlite3_column_blob(st, 7);
		size_t bl = (size_t)sqlite3_column_bytes(st, 7);
		t->ents.len = 0;
		if (rc == HX_OK && b && lx_buf_put(&t->ents, b, bl - bl % 8))
			rc = HX_ENOMEM;
		b = sqlite3_column_blob(st, 8);
		bl = (size_t)sqlite3_column_bytes(st, 8);
		if (rc == HX_OK && lx_buf_put(&t->procs, b, bl - bl % 16))
			rc = HX_ENOMEM;
		const char *hosts = (const char *)sqlite3_column_text(st, 9);
		const char *svcs = (const char *)sqlite3_column_text(st, 4);
		if (rc == HX_OK && (list_merge(hosts, t->hostv, t->nhost, &t->hosts, &(size_t){0}) ||
		                    list_merge(svcs, t->svcv, t->nsvc, &t->services, &nnew_svc)))
			rc = HX_ENOMEM;
		b = sqlite3_column_blob(st, 10);
		bl = (size_t)sqlite3_column_bytes(st, 10);
		/* A damaged keys blob loses the old counts of this trace's names, nothing else. */
		if (rc == HX_OK && b && lx_keys_decode(b, bl, &t->okeys, &t->nokeys) == -2)
			rc = HX_ENOMEM;
	} else {
		t->ents.len = 0;
		if (list_merge(NULL, t->hostv, t->nhost, &t->hosts, &(size_t){0}) ||
		    list_merge(NULL, t->svcv, t->nsvc, &t->services, &nnew_svc))
			rc = HX_ENOMEM;
	}
	sqlite3_reset(st);
	if (rc)
		return rc;
	/* Entity set: existing (already merged into t->ents, little-endian) plus the new IDs. */
	{
		lx_buf old = t->ents;
		t->ents = (lx_buf){0};
		uint8_t *le = malloc(t->neids * 8 + 1);
		if (!le) {
			lx_buf_free(&old);
			return HX_ENOMEM;
		}
		for (size_t i = 0; i < t->neids; i++)
			hx__put_le64(le + i * 8, t->eids[i]);
		int m = set_merge(old.p, old.len, le, t->neids, 8, cmp_u64, &t->ents);
		free(le);
		lx_buf_free(&old);
		if (m)
			return HX_ENOMEM;
	}
	{
		lx_buf in = t->procs;
		t->procs = (lx_buf){0};
		int m = set_merge(in.p, in.len, NULL, 0, 16, cmp_16, &t->procs);
		lx_buf_free(&in);
		if (m)
			return HX_ENOMEM;
	}
	/* Names: new services count the trace once; other names count their events. */
	int64_t id;
	for (size_t i = 0; i < nnew_svc; i++)
		if ((rc = name_add(s, 0, t->svcv[i].p, t->svcv[i].n, 1, &id)) ||
		    (rc = kd_push(t, id, 1, 1) ? HX_ENOMEM : 0))
			return rc;
	for (size_t i = 0; i < t->nitems; i++) {
		const nitem *it = &t->items[i];
		if ((rc = name_add(s, it->kind, it->p, it->len, it->count, &id)) ||
		    (rc = kd_push(t, id, it->count,
		                  it->kind != HX_EV_BLOCK_BEGIN && it->kind != HX_EV_POINT) ? HX_ENOMEM : 0))
			return rc;
	}
	size_t nnew_keys;
	if (keys_merge(t, &nnew_keys))
		return HX_ENOMEM;
	const char *root_txt = root;
	st = lx_stmt(s, exists ? ST_TRACE_UPD : ST_TRACE_INS);
	if (exists)
		sqlite3_bind_int64(st, 1, tr);
	else
		sqlite3_bind_blob(st, 1, ft->trace, 16, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, clamp64(tmin));
	sqlite3_bind_int64(st, 3, clamp64(tmax));
	sqlite3_bind_int64(st, 4, clamp64(tmax - tmin));
	sqlite3_bind_text(st, 5, root_txt ? root_txt : "", root_txt ? (int)root_len : 0, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, (const char *)t->services.p, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, clamp64(nev));
	sqlite3_bind_int64(st, 8, clamp64(nerr));
	sqlite3_bind_blob(st, 9, t->ents.p ? (const void *)t->ents.p : "", (int)t->ents.len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, t->procs.p ? (const void *)t->procs.p : "", (int)t->procs.len,
	                  SQLITE_STATIC);
	sqlite3_bind_text(st, 11, (const char *)t->hosts.p, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 12, t->keys.p, (int)t->keys.len, SQLITE_STATIC);
	src = sqlite3_step(st);
	sqlite3_reset(st);
	t->set.len = 0;
	if (src != SQLITE_DONE)
		return lx_sql_err(s->db, src, "trace summary");
	if (!exists) {
		tr = sqlite3_last_insert_rowid(s->db);
		s->p_traces++;
	}
	/* Block locations: f->loc is in trace order (the groups were sorted by trace), and traces
	 * come here in that order, so a cursor finds each trace's run. */
	while (f->loc_next < f->nloc && f->loc[f->loc_next].ti < ti)
		f->loc_next++;
	for (; f->loc_next < f->nloc && f->loc[f->loc_next].ti == ti; f->loc_next++) {
		const lx_floc *l = &f->loc[f->loc_next];
		st = lx_stmt(s, ST_BLOCK_INS);
		sqlite3_bind_int64(st, 1, tr);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)s->seg.id);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)l->off);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)l->len);
		sqlite3_bind_int64(st, 5, clamp64(l->tmin));
		sqlite3_bind_int64(st, 6, clamp64(l->tmax));
		src = sqlite3_step(st);
		sqlite3_reset(st);
		if (src != SQLITE_DONE)
			return lx_sql_err(s->db, src, "block location");
	}
	/* The trace's new keys get their rows now that its ID is known. */
	for (size_t i = 0; i < nnew_keys; i++)
		if (t->kd[i].row && (rc = key_add(s, t->kd[i].key, tr)))
			return rc;
	return HX_OK;
}

lx_tscratch *lx_tscratch_new(void)
{
	return calloc(1, sizeof(lx_tscratch));
}

void lx_tscratch_free(lx_tscratch *t)
{
	if (!t)
		return;
	lx_buf_free(&t->ents);
	lx_buf_free(&t->procs);
	lx_buf_free(&t->set);
	lx_buf_free(&t->hosts);
	lx_buf_free(&t->services);
	free(t->items);
	free(t->ht);
	free(t->eids);
	free(t->hostv);
	free(t->svcv);
	free(t->okeys);
	free(t->kd);
	lx_buf_free(&t->keys);
	free(t);
}
