/*
 * local_util.c - the small data structures of the embedded store: byte buffers, an arena for
 * buffered and fetched events, owned event copies, and the entity cache with its seq ranges.
 */
#include "store/local_int.h"

#include <stdlib.h>
#include <string.h>

#include "format/format.h"

/* ---- byte buffer ---- */

int lx_buf_reserve(lx_buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *np = realloc(b->p, cap);
	if (!np)
		return -1;
	b->p = np;
	b->cap = cap;
	return 0;
}

int lx_buf_put(lx_buf *b, const void *p, size_t n)
{
	if (lx_buf_reserve(b, n))
		return -1;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int lx_buf_varint(lx_buf *b, uint64_t v)
{
	if (lx_buf_reserve(b, HX_VARINT_MAX))
		return -1;
	b->len = (size_t)(hx__put_varint(b->p + b->len, v) - b->p);
	return 0;
}

int lx_buf_str(lx_buf *b, const char *s, size_t n)
{
	return lx_buf_varint(b, n) || lx_buf_put(b, s, n) ? -1 : 0;
}

void lx_buf_free(lx_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- arena ---- */

struct lx_arena_chunk {
	lx_arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_CHUNK (1u << 20)

/* Chunks stay allocated across resets and are reused in order: the write buffer fills and
 * empties every commit, and fresh memory would cost a page fault per 4 KiB each time. Only
 * oversized chunks (one huge event) are freed at reset. */
void *lx_arena_alloc(lx_arena *a, size_t n, size_t align)
{
	lx_arena_chunk *c = a->cur;
	while (c) {
		size_t off = (c->used + align - 1) & ~(align - 1);
		if (off + n <= c->cap) {
			c->used = off + n;
			a->used_bytes += n;
			return (char *)c->data + off;
		}
		if (!c->next || n > ARENA_CHUNK)
			break;
		c = a->cur = c->next; /* a kept chunk, empty since the reset */
	}
	size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
	lx_arena_chunk *nc = malloc(sizeof *nc + cap);
	if (!nc)
		return NULL;
	nc->cap = cap;
	nc->used = n;
	if (n > ARENA_CHUNK) { /* at the head: freed at reset */
		nc->next = a->big;
		a->big = nc;
	} else {
		nc->next = NULL;
		if (a->cur)
			a->cur->next = nc;
		else
			a->head = nc;
		a->cur = nc;
	}
	a->used_bytes += n;
	return nc->data;
}

void lx_arena_reset(lx_arena *a)
{
	while (a->big) {
		lx_arena_chunk *next = a->big->next;
		free(a->big);
		a->big = next;
	}
	for (lx_arena_chunk *c = a->head; c; c = c->next)
		c->used = 0;
	a->cur = a->head;
	a->used_bytes = 0;
}

void lx_arena_free(lx_arena *a)
{
	lx_arena_reset(a);
	while (a->head) {
		lx_arena_chunk *next = a->head->next;
		free(a->head);
		a->head = next;
	}
	a->cur = NULL;
}

static char *arena_strndup(lx_arena *a, const char *s, size_t n)
{
	char *d = lx_arena_alloc(a, n + 1, 1);
	if (!d)
		return NULL;
	if (n)
		memcpy(d, s, n);
	d[n] = 0;
	return d;
}

static uint32_t str_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

const char *lx_intern_str(lx_intern *in, lx_arena *a, const char *p, size_t n)
{
	if (!in || n > 65535)
		return arena_strndup(a, p, n);
	if ((in->used + 1) * 2 > in->nslots) {
		if (in->used >= LX_INTERN_MAX)
			return arena_strndup(a, p, n);
		size_t ns = in->nslots ? in->nslots * 2 : 1024;
		lx_islot *nv = calloc(ns, sizeof *nv);
		if (!nv)
			return arena_strndup(a, p, n);
		for (size_t i = 0; i < in->nslots; i++) {
			if (!in->slots[i].p)
				continue;
			size_t j = in->slots[i].hash & (ns - 1);
			while (nv[j].p)
				j = (j + 1) & (ns - 1);
			nv[j] = in->slots[i];
		}
		free(in->slots);
		in->slots = nv;
		in->nslots = ns;
	}
	uint32_t h = str_hash(p, n);
	size_t j = h & (in->nslots - 1);
	for (; in->slots[j].p; j = (j + 1) & (in->nslots - 1))
		if (in->slots[j].hash == h && in->slots[j].len == n && !memcmp(in->slots[j].p, p, n))
			return in->slots[j].p;
	char *d = arena_strndup(a, p, n);
	if (!d)
		return NULL;
	in->slots[j] = (lx_islot){d, (uint32_t)n, h};
	in->used++;
	return d;
}

void lx_intern_reset(lx_intern *in)
{
	if (in->slots)
		memset(in->slots, 0, in->nslots * sizeof *in->slots);
	in->used = 0;
}

void lx_intern_free(lx_intern *in)
{
	free(in->slots);
	in->slots = NULL;
	in->nslots = in->used = 0;
}

int lx_event_copy(lx_arena *a, hx_event *dst, const hx_event *src, lx_intern *in)
{
	*dst = *src;
	dst->name = lx_intern_str(in, a, src->name ? src->name : "", src->name ? src->name_len : 0);
	if (!dst->name)
		return -1;
	if (!src->name)
		dst->name_len = 0;
	dst->unit = NULL;
	if (src->unit && !(dst->unit = lx_intern_str(in, a, src->unit, strlen(src->unit))))
		return -1;
	dst->attrs = NULL;
	if (src->nattrs) {
		hx_attr *at = lx_arena_alloc(a, src->nattrs * sizeof *at, _Alignof(hx_attr));
		if (!at)
			return -1;
		for (size_t i = 0; i < src->nattrs; i++) {
			at[i] = src->attrs[i];
			const char *k = src->attrs[i].key ? src->attrs[i].key : "";
			if (!(at[i].key = lx_intern_str(in, a, k, strlen(k))))
				return -1;
			if (at[i].type == HX_ATTR_STRING || at[i].type == HX_ATTR_BYTES) {
				char *v = arena_strndup(a, src->attrs[i].v.s.ptr, src->attrs[i].v.s.len);
				if (!v)
					return -1;
				at[i].v.s.ptr = v;
			}
		}
		dst->attrs = at;
	}
	dst->causes = NULL;
	if (src->ncauses) {
		hx_context *c = lx_arena_alloc(a, src->ncauses * sizeof *c, _Alignof(hx_context));
		if (!c)
			return -1;
		memcpy(c, src->causes, src->ncauses * sizeof *c);
		dst->causes = c;
	}
	return 0;
}

/* ---- entity cache ---- */

static size_t ehash(uint64_t eid, size_t nb)
{
	return (size_t)((eid * 0x9e3779b97f4a7c15ull) >> 32) & (nb - 1);
}

lx_entity *lx_ecache_find(lx_entity_cache *c, uint64_t eid)
{
	if (!c->nbuckets)
		return NULL;
	for (lx_entity *e = c->buckets[ehash(eid, c->nbuckets)]; e; e = e->hnext)
		if (e->eid == eid)
			return e;
	return NULL;
}

static void lru_unlink(lx_entity_cache *c, lx_entity *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(lx_entity_cache *c, lx_entity *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

void lx_ecache_touch(lx_entity_cache *c, lx_entity *e)
{
	if (c->head == e)
		return;
	lru_unlink(c, e);
	lru_push(c, e);
}

static int ecache_grow(lx_entity_cache *c)
{
	size_t nb = c->nbuckets ? c->nbuckets * 2 : 1024;
	lx_entity **b = calloc(nb, sizeof *b);
	if (!b)
		return -1;
	for (size_t i = 0; i < c->nbuckets; i++) {
		lx_entity *e = c->buckets[i];
		while (e) {
			lx_entity *next = e->hnext;
			size_t h = ehash(e->eid, nb);
			e->hnext = b[h];
			b[h] = e;
			e = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nb;
	return 0;
}

lx_entity *lx_ecache_add(lx_entity_cache *c, uint64_t eid)
{
	if (c->n + 1 > c->nbuckets && ecache_grow(c))
		return NULL;
	lx_entity *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->eid = eid;
	size_t h = ehash(eid, c->nbuckets);
	e->hnext = c->buckets[h];
	c->buckets[h] = e;
	lru_push(c, e);
	c->n++;
	return e;
}

void lx_ecache_drop(lx_entity_cache *c, lx_entity *e)
{
	lx_entity **pp = &c->buckets[ehash(e->eid, c->nbuckets)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	c->n--;
	free(e->r);
	free(e);
}

void lx_ecache_free(lx_entity_cache *c)
{
	while (c->head)
		lx_ecache_drop(c, c->head);
	free(c->buckets);
	c->buckets = NULL;
	c->nbuckets = 0;
}

/* ---- seq ranges: sorted, disjoint, non-adjacent [lo, hi) ---- */

/* Index of the first range with hi > seq (n if none). */
static uint32_t range_find(const lx_entity *e, uint64_t seq)
{
	uint32_t lo = 0, hi = e->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (e->r[mid].hi <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int lx_ranges_has(const lx_entity *e, uint64_t seq)
{
	if (e->n && e->r[e->n - 1].hi <= seq) /* the common case: a new event after the last */
		return 0;
	uint32_t i = range_find(e, seq);
	return i < e->n && e->r[i].lo <= seq;
}

int lx_ranges_add(lx_entity *e, uint64_t seq)
{
	if (seq == UINT64_MAX) /* [lo, hi) cannot hold it; the format never makes it */
		return 0;
	if (e->n && e->r[e->n - 1].hi == seq) { /* fast path: extends the last range */
		e->r[e->n - 1].hi++;
		return 0;
	}
	uint32_t i = range_find(e, seq);
	if (i < e->n && e->r[i].lo <= seq)
		return 0;
	int join_prev = i > 0 && e->r[i - 1].hi == seq;
	int join_next = i < e->n && e->r[i].lo == seq + 1;
	if (join_prev && join_next) {
		e->r[i - 1].hi = e->r[i].hi;
		memmove(&e->r[i], &e->r[i + 1], (e->n - i - 1) * sizeof *e->r);
		e->n--;
		return 0;
	}
	if (join_prev) {
		e->r[i - 1].hi = seq + 1;
		return 0;
	}
	if (join_next) {
		e->r[i].lo = seq;
		return 0;
	}
	if (e->n == e->cap) {
		uint32_t cap = e->cap ? e->cap * 2 : 2;
		lx_range *nr = realloc(e->r, cap * sizeof *nr);
		if (!nr)
			return -1;
		e->r = nr;
		e->cap = cap;
	}
	memmove(&e->r[i + 1], &e->r[i], (e->n - i) * sizeof *e->r);
	e->r[i] = (lx_range){seq, seq + 1};
	e->n++;
	return 0;
}

/* Persisted form: varint count, then per range varint (lo - previous hi), varint (hi - lo). */
int lx_ranges_encode(const lx_entity *e, lx_buf *out)
{
	out->len = 0;
	if (lx_buf_varint(out, e->n))
		return -1;
	uint64_t prev = 0;
	for (uint32_t i = 0; i < e->n; i++) {
		if (lx_buf_varint(out, e->r[i].lo - prev) || lx_buf_varint(out, e->r[i].hi - e->r[i].lo))
			return -1;
		prev = e->r[i].hi;
	}
	return 0;
}

int lx_ranges_decode(lx_entity *e, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	uint64_t count, prev = 0;
	e->n = 0;
	if (hx__get_varint(&p, end, &count) || count > n) /* each range takes >= 2 bytes */
		return -1;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t gap, len;
		if (hx__get_varint(&p, end, &gap) || hx__get_varint(&p, end, &len) || len == 0)
			return -1;
		/* Ranges must stay sorted, disjoint and non-adjacent (except the very first at 0). */
		if ((i > 0 && gap == 0) || gap > UINT64_MAX - prev || len > UINT64_MAX - prev - gap)
			return -1;
		if (e->n == e->cap) {
			uint32_t cap = e->cap ? e->cap * 2 : 2;
			lx_range *nr = realloc(e->r, cap * sizeof *nr);
			if (!nr)
				return -1;
			e->r = nr;
			e->cap = cap;
		}
		e->r[e->n++] = (lx_range){prev + gap, prev + gap + len};
		prev += gap + len;
	}
	return p == end ? 0 : -1;
}

/* ---- keys blobs ---- */

int lx_keys_encode(const lx_kc *v, size_t n, lx_buf *out)
{
	out->len = 0;
	if (lx_buf_varint(out, n))
		return -1;
	int64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		if (lx_buf_varint(out, (uint64_t)(v[i].key - prev)) ||
		    lx_buf_varint(out, (v[i].n > UINT64_MAX >> 1 ? UINT64_MAX >> 1 : v[i].n) << 1 | !!v[i].row))
			return -1;
		prev = v[i].key;
	}
	return 0;
}

int lx_keys_decode(const uint8_t *p, size_t len, lx_kc **out, size_t *n)
{
	const uint8_t *end = p + len;
	uint64_t count;
	*out = NULL;
	*n = 0;
	if (!p || hx__get_varint(&p, end, &count) || count > len) /* >= 2 bytes per key */
		return -1;
	lx_kc *v = malloc((count ? count : 1) * sizeof *v);
	if (!v)
		return -2;
	uint64_t key = 0;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t d, c;
		if (hx__get_varint(&p, end, &d) || hx__get_varint(&p, end, &c) || (i && d == 0) ||
		    d > (uint64_t)INT64_MAX - key) {
			free(v);
			return -1;
		}
		key += d;
		v[i] = (lx_kc){(int64_t)key, c >> 1, (int)(c & 1)};
	}
	if (p != end) {
		free(v);
		return -1;
	}
	*out = v;
	*n = (size_t)count;
	return 0;
}
