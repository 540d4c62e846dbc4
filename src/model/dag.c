/*
 * dag.c - lookups in a finished graph, one trace cut out of a larger graph, and freeing.
 */
#include <stdlib.h>
#include <string.h>

#include "model/dag_int.h"

static const char *const issue_names[] = {
#define HX__DAG_ISSUE_NAME(name, text) #name,
	HX__DAG_ISSUE_MAP(HX__DAG_ISSUE_NAME)
#undef HX__DAG_ISSUE_NAME
};
static const char *const issue_texts[] = {
#define HX__DAG_ISSUE_TEXT(name, text) text,
	HX__DAG_ISSUE_MAP(HX__DAG_ISSUE_TEXT)
#undef HX__DAG_ISSUE_TEXT
};

const char *hx__dag_issue_name(int kind)
{
	/* lower-case, as every other name the tools print */
	static char lower[HX__DAG_ISSUE__MAX][32];
	if (kind < 0 || kind >= HX__DAG_ISSUE__MAX)
		return NULL;
	if (!lower[kind][0]) {
		size_t k = 0;
		for (const char *s = issue_names[kind]; *s && k + 1 < sizeof(lower[kind]); s++)
			lower[kind][k++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
		lower[kind][k] = '\0';
	}
	return lower[kind];
}

const char *hx__dag_issue_text(int kind)
{
	return kind >= 0 && kind < HX__DAG_ISSUE__MAX ? issue_texts[kind] : NULL;
}

uint32_t hx__dag_entity_find(const hx__dag *d, uint64_t entity_id)
{
	if (!d->ent_cap)
		return HX__DAG_NONE;
	size_t j = hx__dag_hash64(entity_id) & (d->ent_cap - 1);
	for (; d->ent_slots[j]; j = (j + 1) & (d->ent_cap - 1))
		if (d->entities[d->ent_slots[j] - 1].id == entity_id)
			return d->ent_slots[j] - 1;
	return HX__DAG_NONE;
}

uint32_t hx__dag_find(const hx__dag *d, uint64_t entity_id, uint64_t seq)
{
	uint32_t e = hx__dag_entity_find(d, entity_id);
	if (e == HX__DAG_NONE)
		return HX__DAG_NONE;
	const hx__dag_entity *en = &d->entities[e];
	if (!en->count || seq < en->first_seq)
		return HX__DAG_NONE;
	if (en->dense)
		return seq - en->first_seq < en->count ? en->first + (uint32_t)(seq - en->first_seq)
		                                       : HX__DAG_NONE;
	uint32_t lo = en->first, hi = en->first + en->count; /* bisection in [lo, hi) */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (d->ev_seq[mid] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < en->first + en->count && d->ev_seq[lo] == seq ? lo : HX__DAG_NONE;
}

uint32_t hx__dag_wait_ending(const hx__dag *d, uint32_t i)
{
	if (!(d->ev_flags[i] & HX__EVF_WAIT_END))
		return HX__DAG_NONE;
	size_t lo = 0, hi = d->nwaits;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->waits[mid].end < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < d->nwaits && d->waits[lo].end == i ? (uint32_t)lo : HX__DAG_NONE;
}

uint32_t hx__dag_wait_after(const hx__dag *d, uint32_t i)
{
	if (!(d->ev_flags[i] & HX__EVF_WAITING_AFTER))
		return HX__DAG_NONE;
	/* the last wait that starts at or before i */
	size_t lo = 0, hi = d->nwaits;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (d->waits[mid].start <= i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? (uint32_t)(lo - 1) : HX__DAG_NONE;
}

uint32_t hx__dag_trace_find(const hx__dag *d, const uint8_t id[16])
{
	for (size_t t = 0; t < d->ntraces; t++)
		if (!memcmp(d->traces[t].id, id, 16))
			return (uint32_t)t;
	return HX__DAG_NONE;
}

size_t hx__dag_bytes(const hx__dag *d)
{
	if (!d)
		return 0;
	size_t b = sizeof(*d);
	b += d->n * (2 * sizeof(uint64_t) + 4 * sizeof(uint32_t) + 3) + (d->n + 1) * sizeof(uint32_t);
	b += d->ncauses * (2 * sizeof(uint64_t) + sizeof(uint32_t) + 1);
	b += d->nentities * sizeof(*d->entities) + d->ent_cap * sizeof(uint32_t);
	b += d->nblocks * sizeof(*d->blocks) + d->nwaits * sizeof(*d->waits);
	b += d->ntraces * sizeof(*d->traces);
	if (d->nstr) {
		uint32_t last = d->str_off[d->nstr - 1];
		b += last + strlen(d->str + last) + 1 + d->nstr * sizeof(uint32_t);
	}
	return b;
}

void hx__dag_free(hx__dag *d)
{
	if (!d)
		return;
	free(d->ev_time);
	free(d->ev_seq);
	free(d->ev_entity);
	free(d->ev_name);
	free(d->ev_trace);
	free(d->ev_block);
	free(d->ev_kind);
	free(d->ev_ia);
	free(d->ev_flags);
	free(d->cause_off);
	free(d->cause_ent);
	free(d->cause_seq);
	free(d->cause_ev);
	free(d->cause_cls);
	free(d->entities);
	free(d->blocks);
	free(d->waits);
	free(d->traces);
	free(d->str);
	free(d->str_off);
	free(d->ent_slots);
	free(d);
}

#define DUP(dst, src, count)                                                                     \
	do {                                                                                     \
		size_t b_ = (count) * sizeof(*(src));                                             \
		(dst) = malloc(b_ ? b_ : 1);                                                      \
		if (!(dst))                                                                       \
			goto oom;                                                                 \
		if (b_)                                                                           \
			memcpy((dst), (src), b_);                                                 \
	} while (0)

int hx__dag_extract(const hx__dag *all, uint32_t trace, hx__dag **out)
{
	*out = NULL;
	if (trace >= all->ntraces)
		return HX_EINVAL;
	hx__dag *d = calloc(1, sizeof(*d));
	if (!d)
		return HX_ENOMEM;
	d->filtered = 1;
	/* strings and entities are shared vocabulary: copied whole, so IDs keep their meaning */
	size_t str_bytes = 0;
	if (all->nstr) {
		uint32_t last = all->str_off[all->nstr - 1];
		str_bytes = last + strlen(all->str + last) + 1;
	}
	DUP(d->str, all->str, str_bytes);
	DUP(d->str_off, all->str_off, all->nstr);
	d->nstr = all->nstr;
	DUP(d->entities, all->entities, all->nentities);
	d->nentities = all->nentities;
	DUP(d->traces, &all->traces[trace], 1);
	d->ntraces = 1;

	size_t m = all->traces[trace].events, nc = 0;
	for (size_t i = 0; i < all->n; i++)
		if (all->ev_trace[i] == trace)
			nc += all->cause_off[i + 1] - all->cause_off[i];
#define ALLOC(p, count)                                                                          \
	do {                                                                                     \
		(p) = hx__dag_alloc((count) * sizeof(*(p)));                                      \
		if (!(p))                                                                         \
			goto oom;                                                                 \
	} while (0)
	ALLOC(d->ev_time, m);
	ALLOC(d->ev_seq, m);
	ALLOC(d->ev_entity, m);
	ALLOC(d->ev_name, m);
	ALLOC(d->ev_trace, m);
	ALLOC(d->ev_kind, m);
	ALLOC(d->ev_ia, m);
	ALLOC(d->ev_flags, m);
	ALLOC(d->cause_off, m + 1);
	ALLOC(d->cause_ent, nc);
	ALLOC(d->cause_seq, nc);
	ALLOC(d->cause_ev, nc);
	ALLOC(d->cause_cls, nc);
#undef ALLOC
	size_t k = 0, c = 0;
	for (size_t i = 0; i < all->n; i++) {
		if (all->ev_trace[i] != trace)
			continue;
		d->ev_time[k] = all->ev_time[i];
		d->ev_seq[k] = all->ev_seq[i];
		d->ev_entity[k] = all->ev_entity[i];
		d->ev_name[k] = all->ev_name[i];
		d->ev_trace[k] = 0;
		d->ev_kind[k] = all->ev_kind[i];
		d->ev_ia[k] = all->ev_ia[i];
		d->ev_flags[k] = all->ev_flags[i] & (HX__EVF_RESUMES | HX__EVF_RUNNING);
		d->cause_off[k] = (uint32_t)c;
		for (uint32_t j = all->cause_off[i]; j < all->cause_off[i + 1]; j++, c++) {
			d->cause_ent[c] = all->cause_ent[j];
			d->cause_seq[c] = all->cause_seq[j];
			uint8_t cls = all->cause_cls[j];
			/* keep the flags, and the one class that is not re-derived by lookup */
			d->cause_cls[c] = (uint8_t)((cls & (HX__CC_OTHER_TRACE | HX__CC_UNSAMPLED)) |
			                            ((cls & HX__CC_MASK) == HX__CC_EXTERNAL ? HX__CC_EXTERNAL : 0));
		}
		k++;
	}
	d->cause_off[k] = (uint32_t)c;
	d->n = k;
	d->ncauses = c;
	d->report.filtered_out = all->n - k;
	int rc = hx__dag_link(d);
	if (rc) {
		hx__dag_free(d);
		return rc;
	}
	*out = d;
	return HX_OK;
oom:
	hx__dag_free(d);
	return HX_ENOMEM;
}
