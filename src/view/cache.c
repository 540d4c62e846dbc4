/*
 * cache.c - built models by trace ID, kept within a byte budget, least recently used first out.
 *
 * An entry is BUILDING from the moment the first get asks for it until its load and build end:
 * later gets of the same trace wait on the cache's condition variable instead of building it a
 * second time, then share the result. A failed build is not kept: its error goes to the getter
 * that built it and to those waiting for it, and the entry leaves the table at once, so the next
 * get tries again. A model is reference-counted: eviction takes only entries nobody holds, so a
 * model in use is never freed under its user; the budget may be exceeded while every model is in
 * use, and is restored as they are put back.
 *
 * Locking: one mutex guards the table, every entry's state and counts, and the LRU order; builds
 * run outside it. The table is a list: a cache holds a handful to a few hundred models, each
 * worth many megabytes, so a linear scan of 16-byte IDs is nothing next to what it guards.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "view/view_int.h"

enum { BUILDING, READY, FAILED };

typedef struct entry {
	uint8_t id[16];
	int state;
	int rc;                   /* FAILED: the error */
	hx__view *v;
	size_t bytes;
	unsigned refs;            /* holders of the model, the builder, and waiters */
	int listed;               /* in the table */
	struct entry *prev, *next; /* the table, most recently used first */
} entry;

struct hx__view_cache {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	entry *head, *tail;
	size_t bytes, max_bytes;
};

int hx__view_cache_new(hx__view_cache **out, size_t max_bytes)
{
	*out = NULL;
	hx__view_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return HX_ENOMEM;
	if (pthread_mutex_init(&c->mu, NULL)) {
		free(c);
		return HX_ENOMEM;
	}
	if (pthread_cond_init(&c->cv, NULL)) {
		pthread_mutex_destroy(&c->mu);
		free(c);
		return HX_ENOMEM;
	}
	c->max_bytes = max_bytes;
	*out = c;
	return HX_OK;
}

static void unlink_entry(hx__view_cache *c, entry *e)
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
	e->listed = 0;
}

static void push_front(hx__view_cache *c, entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
	e->listed = 1;
}

static void entry_free(entry *e)
{
	hx__view_free(e->v);
	free(e);
}

/* Drop unheld ready models, oldest first, until the budget holds. Under the lock. */
static void evict(hx__view_cache *c)
{
	entry *e = c->tail;
	while (c->bytes > c->max_bytes && e) {
		entry *prev = e->prev;
		if (e->state == READY && !e->refs) {
			unlink_entry(c, e);
			c->bytes -= e->bytes;
			entry_free(e);
		}
		e = prev;
	}
}

void hx__view_cache_free(hx__view_cache *c)
{
	if (!c)
		return;
	for (entry *e = c->head, *next; e; e = next) {
		next = e->next;
		entry_free(e);
	}
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static entry *lookup(hx__view_cache *c, const uint8_t id[16])
{
	for (entry *e = c->head; e; e = e->next)
		if (!memcmp(e->id, id, 16))
			return e;
	return NULL;
}

/* A waiter or the builder lets go of a failed entry. Under the lock. */
static int drop_failed(entry *e)
{
	int rc = e->rc;
	if (!--e->refs)
		entry_free(e);
	return rc;
}

int hx__view_cache_get(hx__view_cache *c, const uint8_t trace_id[16], hx__view_load_fn load,
                       void *user, hx__view **out)
{
	*out = NULL;
	if (!c || !trace_id || !load)
		return HX_EINVAL;
	pthread_mutex_lock(&c->mu);
	entry *e = lookup(c, trace_id);
	if (e) {
		e->refs++;
		while (e->state == BUILDING)
			pthread_cond_wait(&c->cv, &c->mu);
		if (e->state == FAILED) {
			int rc = drop_failed(e);
			pthread_mutex_unlock(&c->mu);
			return rc;
		}
		if (e->listed) {
			unlink_entry(c, e);
			push_front(c, e);
		}
		*out = e->v;
		pthread_mutex_unlock(&c->mu);
		return HX_OK;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		pthread_mutex_unlock(&c->mu);
		return HX_ENOMEM;
	}
	memcpy(e->id, trace_id, 16);
	e->state = BUILDING;
	e->refs = 1;
	push_front(c, e);
	pthread_mutex_unlock(&c->mu);

	/* the build, outside the lock */
	hx__view_builder *b = NULL;
	hx__view *v = NULL;
	int rc = hx__view_builder_new(&b, trace_id, 0);
	if (rc == HX_OK) {
		rc = load(b, trace_id, user);
		if (rc == HX_OK)
			rc = hx__view_builder_finish(b, &v);
		else
			hx__view_builder_free(b);
	}

	pthread_mutex_lock(&c->mu);
	if (rc) {
		e->state = FAILED;
		e->rc = rc;
		unlink_entry(c, e);
		pthread_cond_broadcast(&c->cv);
		rc = drop_failed(e);
		pthread_mutex_unlock(&c->mu);
		return rc;
	}
	e->v = v;
	v->cache_entry = e;
	e->bytes = hx__view_bytes(v);
	e->state = READY;
	c->bytes += e->bytes;
	pthread_cond_broadcast(&c->cv);
	evict(c);
	*out = v;
	pthread_mutex_unlock(&c->mu);
	return HX_OK;
}

int hx__view_cache_insert(hx__view_cache *c, hx__view *v)
{
	if (!c || !v || !v->has_trace_id) {
		hx__view_free(v);
		return HX_EINVAL;
	}
	pthread_mutex_lock(&c->mu);
	if (lookup(c, v->trace_id)) { /* built, or being built: that one stays, gets may hold it */
		pthread_mutex_unlock(&c->mu);
		hx__view_free(v);
		return HX_OK;
	}
	entry *e = calloc(1, sizeof(*e));
	if (!e) {
		pthread_mutex_unlock(&c->mu);
		hx__view_free(v);
		return HX_ENOMEM;
	}
	memcpy(e->id, v->trace_id, 16);
	e->state = READY;
	e->v = v;
	v->cache_entry = e;
	e->bytes = hx__view_bytes(v);
	push_front(c, e);
	c->bytes += e->bytes;
	evict(c); /* nobody holds it: over the budget, it goes as a put would let it go */
	pthread_mutex_unlock(&c->mu);
	return HX_OK;
}

void hx__view_cache_put(hx__view_cache *c, hx__view *v)
{
	if (!c || !v)
		return;
	pthread_mutex_lock(&c->mu);
	entry *e = v->cache_entry;
	if (e && e->refs) {
		e->refs--;
		if (!e->refs)
			evict(c);
	}
	pthread_mutex_unlock(&c->mu);
}

size_t hx__view_cache_bytes(hx__view_cache *c)
{
	pthread_mutex_lock(&c->mu);
	size_t b = c->bytes;
	pthread_mutex_unlock(&c->mu);
	return b;
}

size_t hx__view_cache_count(hx__view_cache *c)
{
	pthread_mutex_lock(&c->mu);
	size_t n = 0;
	for (entry *e = c->head; e; e = e->next)
		n += e->state == READY;
	pthread_mutex_unlock(&c->mu);
	return n;
}
