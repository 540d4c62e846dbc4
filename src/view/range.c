/*
 * range.c - GET /range: what a selected stretch of time holds, per name. For every block that
 * overlaps [from, to] on the chosen lanes, its time clipped to the range goes to its name's
 * total and self time, and is taken off its parent's self time (a child lies within its parent,
 * so the parent overlaps too). Points in the range are counted by name. Linear in what the range
 * holds: the block sets and points are bisected to it first.
 */
#include <stdlib.h>
#include <string.h>

#include "view/view_int.h"

typedef struct acc {
	uint32_t name;
	uint64_t count, total;
	int64_t self;
} acc;

typedef struct accmap {
	acc *a;
	size_t n, cap;
	uint32_t *slot;          /* index + 1, 0 empty; power of two */
	size_t nslot;
} accmap;

static int map_rehash(accmap *m, size_t nslot)
{
	uint32_t *s = calloc(nslot, sizeof(*s));
	if (!s)
		return HX_ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		size_t j = (m->a[i].name * 2654435761u) & (nslot - 1);
		while (s[j])
			j = (j + 1) & (nslot - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(m->slot);
	m->slot = s;
	m->nslot = nslot;
	return HX_OK;
}

static acc *map_get(accmap *m, uint32_t name)
{
	size_t j = (name * 2654435761u) & (m->nslot - 1);
	for (; m->slot[j]; j = (j + 1) & (m->nslot - 1))
		if (m->a[m->slot[j] - 1].name == name)
			return &m->a[m->slot[j] - 1];
	if (hx__dag_grow(&m->a, &m->cap, m->n + 1, sizeof(*m->a)))
		return NULL;
	m->a[m->n] = (acc){name, 0, 0, 0};
	m->slot[j] = (uint32_t)++m->n;
	if (m->n * 2 > m->nslot) {
		if (map_rehash(m, m->nslot * 2))
			return NULL;
	}
	return &m->a[m->n - 1];
}

typedef struct sorted {
	const char *name;
	const acc *a;
} sorted;

static int by_total(const void *x, const void *y)
{
	const sorted *a = x, *b = y;
	if (a->a->total != b->a->total)
		return a->a->total > b->a->total ? -1 : 1;
	if (a->a->count != b->a->count)
		return a->a->count > b->a->count ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int emit(hx__buf *out, const hx__view *v, const accmap *m, int blocks)
{
	sorted *s = malloc((m->n ? m->n : 1) * sizeof(*s));
	if (!s)
		return HX_ENOMEM;
	for (size_t i = 0; i < m->n; i++)
		s[i] = (sorted){hx__dag_str(v->d, m->a[i].name), &m->a[i]};
	qsort(s, m->n, sizeof(*s), by_total);
	int err = 0, first = 1;
	for (size_t i = 0; i < m->n; i++) {
		if (!s[i].a->count)
			continue; /* only ever a parent of blocks in range that was not itself in range */
		err |= hx__buf_puts(out, first ? "{\"name\":" : ",{\"name\":");
		first = 0;
		err |= hx__vj_name(out, v, s[i].a->name);
		err |= hx__buf_puts(out, ",\"count\":");
		err |= hx__vj_u64(out, s[i].a->count);
		if (blocks) {
			err |= hx__buf_puts(out, ",\"total_ns\":");
			err |= hx__vj_u64(out, s[i].a->total);
			err |= hx__buf_puts(out, ",\"self_ns\":");
			err |= hx__vj_u64(out, s[i].a->self > 0 ? (uint64_t)s[i].a->self : 0);
		}
		err |= hx__buf_putc(out, '}');
	}
	free(s);
	return err ? HX_ENOMEM : HX_OK;
}

int hx__view_range_json(const hx__view *v, uint64_t from_ns, uint64_t to_ns,
                        const uint32_t *lanes, size_t nlanes, hx__buf *out)
{
	if (from_ns >= to_ns || (!lanes && nlanes))
		return HX_EINVAL;
	const hx__dag *d = v->d;
	uint8_t *sel = NULL;
	accmap bm, pm;
	memset(&bm, 0, sizeof(bm));
	memset(&pm, 0, sizeof(pm));
	int rc = HX_ENOMEM;
	if (lanes) {
		if (!(sel = malloc(v->nlanes ? v->nlanes : 1)))
			goto out;
		if ((rc = hx__view_lane_select(v, lanes, nlanes, sel, NULL, 0)))
			goto out;
		rc = HX_ENOMEM;
	}
	if (map_rehash(&bm, 64) || map_rehash(&pm, 64))
		goto out;
	for (size_t l = 0; l < v->nlanes; l++) {
		if (sel && !sel[l])
			continue;
		const hx__vlane *ln = &v->lanes[l];
		for (uint32_t dp = 0; dp < ln->depth; dp++) {
			const hx__vset *s = &v->bsets[ln->bset + dp];
			size_t i = hx__v_lower(v->iv_max + s->base, s->n, from_ns);
			size_t end = hx__v_upper(v->iv_start + s->base, s->n, to_ns);
			for (; i < end; i++) {
				uint64_t st = v->iv_start[s->base + i], en = v->iv_end[s->base + i];
				if (en < from_ns)
					continue;
				uint64_t a = st > from_ns ? st : from_ns, b = en < to_ns ? en : to_ns;
				uint64_t clip = b > a ? b - a : 0;
				const hx__dag_block *bl = &d->blocks[v->iv_id[s->base + i]];
				acc *x = map_get(&bm, bl->name);
				if (!x)
					goto out;
				x->count++;
				x->total += clip;
				x->self += (int64_t)clip;
				if (bl->parent != HX__DAG_NONE) {
					if (!(x = map_get(&bm, d->blocks[bl->parent].name)))
						goto out;
					x->self -= (int64_t)clip;
				}
			}
		}
		size_t base = v->pt_off[l], n = v->pt_off[l + 1] - base;
		size_t i = hx__v_lower(v->pt_time + base, n, from_ns);
		size_t end = hx__v_upper(v->pt_time + base, n, to_ns);
		for (; i < end; i++) {
			acc *x = map_get(&pm, d->ev_name[v->pt_ev[base + i]]);
			if (!x)
				goto out;
			x->count++;
		}
	}
	int err = hx__buf_puts(out, "{\"from_ns\":");
	err |= hx__vj_u64(out, from_ns);
	err |= hx__buf_puts(out, ",\"to_ns\":");
	err |= hx__vj_u64(out, to_ns);
	err |= hx__buf_puts(out, ",\"blocks\":[");
	err |= emit(out, v, &bm, 1);
	err |= hx__buf_puts(out, "],\"points\":[");
	err |= emit(out, v, &pm, 0);
	err |= hx__buf_puts(out, "]}");
	rc = err ? HX_ENOMEM : HX_OK;
out:
	free(sel);
	free(bm.a);
	free(bm.slot);
	free(pm.a);
	free(pm.slot);
	return rc;
}
