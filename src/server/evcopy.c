/*
 * evcopy.c - deep copies of decoded events, grouped for one hx_store_append().
 *
 * The batch decoder hands out each event only for the duration of its callback, while the store
 * takes an array. The commit thread therefore copies events (names, attributes, causes, unit) into
 * a group here and appends the group when it is full, so the memory a batch needs on the commit
 * thread is one group, however large the batch. The copies live in a bump allocator of 256 KiB
 * blocks (larger pieces get a block of their own); resetting keeps the first block.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_BYTES (256u * 1024u)

struct hx__evblock {
	struct hx__evblock *next;
	size_t used, cap;
	max_align_t data[];
};

void hx__evcopy_init(hx__evcopy *c)
{
	memset(c, 0, sizeof(*c));
}

static void free_blocks(struct hx__evblock *b)
{
	while (b) {
		struct hx__evblock *next = b->next;
		free(b);
		b = next;
	}
}

void hx__evcopy_reset(hx__evcopy *c)
{
	c->n = 0;
	if (!c->blocks)
		return;
	/* keep the last block in the chain (the first allocated, of standard size) */
	struct hx__evblock *keep = c->blocks, *prev = NULL;
	while (keep->next) {
		prev = keep;
		keep = keep->next;
	}
	if (prev) {
		prev->next = NULL;
		free_blocks(c->blocks);
	}
	if (keep->cap != BLOCK_BYTES) { /* one large piece: not worth keeping */
		free(keep);
		c->blocks = NULL;
		c->bytes = 0;
		return;
	}
	keep->used = 0;
	c->blocks = keep;
	c->bytes = keep->cap;
}

void hx__evcopy_free(hx__evcopy *c)
{
	free_blocks(c->blocks);
	free(c->ev);
	hx__evcopy_init(c);
}

static void *alloc(hx__evcopy *c, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	struct hx__evblock *b = c->blocks;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > BLOCK_BYTES / 4 ? n : BLOCK_BYTES;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = c->blocks;
		c->blocks = b;
		c->bytes += cap;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

static const char *copy_str(hx__evcopy *c, const char *s, size_t n)
{
	char *p = alloc(c, n + 1);
	if (!p)
		return NULL;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int hx__evcopy_add(hx__evcopy *c, const hx_event *ev)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		hx_event *v = realloc(c->ev, cap * sizeof(*v));
		if (!v)
			return HX_ENOMEM;
		c->ev = v;
		c->cap = cap;
	}
	hx_event *e = &c->ev[c->n];
	*e = *ev;
	e->name = copy_str(c, ev->name ? ev->name : "", ev->name ? ev->name_len : 0);
	e->unit = copy_str(c, ev->unit ? ev->unit : "", ev->unit ? strlen(ev->unit) : 0);
	if (!e->name || !e->unit)
		return HX_ENOMEM;
	if (ev->nattrs) {
		hx_attr *a = alloc(c, ev->nattrs * sizeof(*a));
		if (!a)
			return HX_ENOMEM;
		for (size_t i = 0; i < ev->nattrs; i++) {
			a[i] = ev->attrs[i];
			a[i].key = copy_str(c, ev->attrs[i].key ? ev->attrs[i].key : "",
			                    ev->attrs[i].key ? strlen(ev->attrs[i].key) : 0);
			if (!a[i].key)
				return HX_ENOMEM;
			if (a[i].type == HX_ATTR_STRING || a[i].type == HX_ATTR_BYTES) {
				const char *s = copy_str(c, ev->attrs[i].v.s.ptr, ev->attrs[i].v.s.len);
				if (!s)
					return HX_ENOMEM;
				a[i].v.s.ptr = s;
			}
		}
		e->attrs = a;
	} else {
		e->attrs = NULL;
	}
	if (ev->ncauses) {
		hx_context *k = alloc(c, ev->ncauses * sizeof(*k));
		if (!k)
			return HX_ENOMEM;
		memcpy(k, ev->causes, ev->ncauses * sizeof(*k));
		e->causes = k;
	} else {
		e->causes = NULL;
	}
	c->n++;
	return HX_OK;
}
