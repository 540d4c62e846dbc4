/*
 * tally.c - event counts for `hx stats` (tally.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/tally.h"

void hx__tally_init(hx__tally *t)
{
	memset(t, 0, sizeof(*t));
	t->first_ns = UINT64_MAX;
}

void hx__tally_free(hx__tally *t)
{
	for (size_t i = 0; i < t->cap_ents; i++)
		free(t->ents[i].name);
	for (size_t i = 0; i < t->cap_names; i++)
		free(t->names[i].name);
	free(t->ents);
	free(t->names);
	hx__tally_init(t);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return mix64(h);
}

static char *copy(const char *s, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	return c;
}

/* ---- entities ---- */

static int ents_grow(hx__tally *t)
{
	size_t cap = t->cap_ents ? t->cap_ents * 2 : 64;
	hx__ent_stat *e = calloc(cap, sizeof(*e));
	if (!e)
		return -1;
	for (size_t i = 0; i < t->cap_ents; i++) {
		if (!t->ents[i].used)
			continue;
		size_t j = mix64(t->ents[i].id) & (cap - 1);
		while (e[j].used)
			j = (j + 1) & (cap - 1);
		e[j] = t->ents[i];
	}
	free(t->ents);
	t->ents = e;
	t->cap_ents = cap;
	return 0;
}

static hx__ent_stat *entity(hx__tally *t, uint64_t id, size_t proc)
{
	if ((t->nents + 1) * 4 > t->cap_ents * 3 && ents_grow(t))
		return NULL;
	size_t j = mix64(id) & (t->cap_ents - 1);
	while (t->ents[j].used && t->ents[j].id != id)
		j = (j + 1) & (t->cap_ents - 1);
	hx__ent_stat *e = &t->ents[j];
	if (!e->used) {
		e->used = 1;
		e->id = id;
		e->proc = proc;
		t->nents++;
	}
	return e;
}

static int set_name(hx__ent_stat *e, const char *s, size_t n)
{
	char *c = copy(s, n);
	if (!c)
		return -1;
	free(e->name);
	e->name = c;
	e->name_len = n;
	return 0;
}

/* ---- names ---- */

static int names_grow(hx__tally *t)
{
	size_t cap = t->cap_names ? t->cap_names * 2 : 256;
	hx__name_stat *s = calloc(cap, sizeof(*s));
	if (!s)
		return -1;
	for (size_t i = 0; i < t->cap_names; i++) {
		if (!t->names[i].name)
			continue;
		size_t j = t->names[i].hash & (cap - 1);
		while (s[j].name)
			j = (j + 1) & (cap - 1);
		s[j] = t->names[i];
	}
	free(t->names);
	t->names = s;
	t->cap_names = cap;
	return 0;
}

static int count_name(hx__tally *t, const char *name, size_t len)
{
	if ((t->nnames + 1) * 4 > t->cap_names * 3 && names_grow(t))
		return -1;
	uint64_t h = hash_bytes(name, len);
	size_t j = h & (t->cap_names - 1);
	for (;; j = (j + 1) & (t->cap_names - 1)) {
		hx__name_stat *s = &t->names[j];
		if (!s->name) {
			if (!(s->name = copy(name, len)))
				return -1;
			s->len = len;
			s->hash = h;
			t->nnames++;
			break;
		}
		if (s->hash == h && s->len == len && !memcmp(s->name, name, len))
			break;
	}
	t->names[j].events++;
	return 0;
}

int hx__tally_event(hx__tally *t, const hx_event *ev, size_t proc)
{
	t->events++;
	if (ev->kind >= HX_EV_ENTITY_BEGIN && ev->kind <= HX_EV_EFFECT)
		t->by_kind[ev->kind - HX_EV_ENTITY_BEGIN]++;
	else
		t->other_kinds++;
	if (ev->time_ns < t->first_ns)
		t->first_ns = ev->time_ns;
	if (ev->time_ns > t->last_ns)
		t->last_ns = ev->time_ns;
	hx__ent_stat *e = entity(t, ev->entity_id, proc);
	if (!e)
		return HX_ENOMEM;
	e->events++;
	if (ev->kind == HX_EV_ENTITY_BEGIN) {
		e->tid = ev->tid;
		if (set_name(e, ev->name, ev->name_len))
			return HX_ENOMEM;
	} else if (ev->kind == HX_EV_ANNOTATE && ev->target == HX_TARGET_ENTITY) {
		/* hx_thread_name() renames a thread's entity with a "name" annotation */
		for (size_t i = 0; i < ev->nattrs; i++) {
			const hx_attr *a = &ev->attrs[i];
			if (a->type == HX_ATTR_STRING && a->key && !strcmp(a->key, "name") &&
			    set_name(e, a->v.s.ptr, a->v.s.len))
				return HX_ENOMEM;
		}
	}
	if (ev->name_len && count_name(t, ev->name, ev->name_len))
		return HX_ENOMEM;
	return HX_OK;
}

/* ---- top lists ---- */

static int ent_cmp(const void *a, const void *b)
{
	const hx__ent_stat *x = *(const hx__ent_stat *const *)a, *y = *(const hx__ent_stat *const *)b;
	if (x->events != y->events)
		return x->events > y->events ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int name_cmp(const void *a, const void *b)
{
	const hx__name_stat *x = *(const hx__name_stat *const *)a, *y = *(const hx__name_stat *const *)b;
	if (x->events != y->events)
		return x->events > y->events ? -1 : 1;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->name, y->name, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

const hx__ent_stat **hx__tally_top_entities(const hx__tally *t, size_t max, size_t *n)
{
	*n = 0;
	const hx__ent_stat **v = malloc((t->nents ? t->nents : 1) * sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < t->cap_ents; i++)
		if (t->ents[i].used)
			v[k++] = &t->ents[i];
	qsort(v, k, sizeof(*v), ent_cmp);
	*n = k < max ? k : max;
	return v;
}

const hx__name_stat **hx__tally_top_names(const hx__tally *t, size_t max, size_t *n)
{
	*n = 0;
	const hx__name_stat **v = malloc((t->nnames ? t->nnames : 1) * sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < t->cap_names; i++)
		if (t->names[i].name)
			v[k++] = &t->names[i];
	qsort(v, k, sizeof(*v), name_cmp);
	*n = k < max ? k : max;
	return v;
}
