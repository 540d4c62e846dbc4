/*
 * input.c - the export's input: the trace DAG plus the details of each event the DAG does not
 * keep (attributes, counter values, annotation targets, threads' kernel IDs), gathered while the
 * events are pushed and indexed by the DAG's event index once it is built (export_int.h).
 *
 * The details live in one growing blob, written in arrival order, so memory is what the
 * attributes weigh plus 24 bytes per event that has any while reading and 4 bytes per event
 * after. Events of a trace the filter drops are not kept: the builder drops them too.
 */
#include <stdlib.h>
#include <string.h>

#include "export/export_int.h"

/* ---- small growable arrays ---- */

static int blob_put(hx__export_input *in, const void *p, size_t n)
{
	if (n > SIZE_MAX / 2 - in->blob_len)
		return HX_ENOMEM;
	if (in->blob_len + n > in->blob_cap &&
	    hx__dag_grow(&in->blob, &in->blob_cap, in->blob_len + n, 1))
		return HX_ENOMEM;
	if (n)
		memcpy(in->blob + in->blob_len, p, n);
	in->blob_len += n;
	return HX_OK;
}

static int blob_u8(hx__export_input *in, unsigned v)
{
	uint8_t c = (uint8_t)v;
	return blob_put(in, &c, 1);
}

static int blob_u16(hx__export_input *in, size_t v)
{
	uint8_t c[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	return blob_put(in, c, 2);
}

static int blob_u32(hx__export_input *in, size_t v)
{
	uint8_t c[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	return blob_put(in, c, 4);
}

static int blob_u64(hx__export_input *in, uint64_t v)
{
	uint8_t c[8];
	for (int k = 0; k < 8; k++)
		c[k] = (uint8_t)(v >> (8 * k));
	return blob_put(in, c, 8);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int k = 7; k >= 0; k--)
		v = v << 8 | p[k];
	return v;
}

/* ---- the tid map: entity ID -> kernel thread ID ---- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static int tid_put(hx__export_input *in, uint64_t ent, uint64_t tid)
{
	if (!ent)
		return HX_OK; /* 0 marks an empty slot; no entity has ID 0 */
	if ((in->tid_n + 1) * 2 > in->tid_cap) {
		size_t cap = in->tid_cap ? in->tid_cap * 2 : 64;
		uint64_t *k = calloc(cap, sizeof(*k)), *v = calloc(cap, sizeof(*v));
		if (!k || !v) {
			free(k);
			free(v);
			return HX_ENOMEM;
		}
		for (size_t i = 0; i < in->tid_cap; i++) {
			if (!in->tid_key[i])
				continue;
			size_t j = mix64(in->tid_key[i]) & (cap - 1);
			while (k[j])
				j = (j + 1) & (cap - 1);
			k[j] = in->tid_key[i];
			v[j] = in->tid_val[i];
		}
		free(in->tid_key);
		free(in->tid_val);
		in->tid_key = k;
		in->tid_val = v;
		in->tid_cap = cap;
	}
	size_t j = mix64(ent) & (in->tid_cap - 1);
	while (in->tid_key[j] && in->tid_key[j] != ent)
		j = (j + 1) & (in->tid_cap - 1);
	if (!in->tid_key[j]) {
		in->tid_key[j] = ent;
		in->tid_n++;
		in->tid_val[j] = tid; /* the first ENTITY_BEGIN's: a duplicate never overrides it */
	}
	return HX_OK;
}

static uint64_t tid_get(const hx__export_input *in, uint64_t ent)
{
	if (!in->tid_cap || !ent)
		return 0;
	size_t j = mix64(ent) & (in->tid_cap - 1);
	for (; in->tid_key[j]; j = (j + 1) & (in->tid_cap - 1))
		if (in->tid_key[j] == ent)
			return in->tid_val[j];
	return 0;
}

/* ---- building ---- */

int hx__export_input_new(hx__export_input **out, const hx__dag_filter *filter)
{
	*out = NULL;
	hx__export_input *in = calloc(1, sizeof(*in));
	if (!in)
		return HX_ENOMEM;
	if (filter && filter->nibbles) {
		in->filter = *filter;
		if (in->filter.nibbles > 32)
			in->filter.nibbles = 32;
	}
	int rc = hx__dag_builder_new(&in->builder, filter, 0);
	if (rc) {
		free(in);
		return rc;
	}
	*out = in;
	return HX_OK;
}

int hx__export_input_process(hx__export_input *in, uint32_t proc, const char *host,
                             const char *program, uint64_t pid)
{
	if (!in->builder)
		return HX_EINVAL;
	return hx__dag_builder_process(in->builder, proc, host, program, pid);
}

/* The same test as the DAG builder's: the last `nibbles` hex digits of the trace ID. */
static int filter_match(const hx__dag_filter *f, const uint8_t *id)
{
	for (size_t nib = 32 - f->nibbles; nib < 32; nib++) {
		unsigned a = nib % 2 ? id[nib / 2] & 15u : (unsigned)id[nib / 2] >> 4;
		unsigned c = nib % 2 ? f->id[nib / 2] & 15u : (unsigned)f->id[nib / 2] >> 4;
		if (a != c)
			return 0;
	}
	return 1;
}

static int put_attrs(hx__export_input *in, const hx_attr *attrs, size_t n)
{
	if (n > 255)
		n = 255; /* the library records at most HX_ATTR_MAX; a reader never returns more */
	int rc = blob_u8(in, (unsigned)n);
	for (size_t k = 0; k < n && !rc; k++) {
		const hx_attr *a = &attrs[k];
		const char *key = a->key ? a->key : "(null)";
		size_t kl = strlen(key);
		if (kl > UINT16_MAX)
			kl = UINT16_MAX;
		rc |= blob_u16(in, kl);
		rc |= blob_put(in, key, kl);
		switch (a->type) {
		case HX_ATTR_INT:
			rc |= blob_u8(in, HX_ATTR_INT);
			rc |= blob_u64(in, (uint64_t)a->v.i);
			break;
		case HX_ATTR_DOUBLE: {
			uint64_t bits;
			memcpy(&bits, &a->v.d, 8);
			rc |= blob_u8(in, HX_ATTR_DOUBLE);
			rc |= blob_u64(in, bits);
			break;
		}
		case HX_ATTR_BOOL:
			rc |= blob_u8(in, HX_ATTR_BOOL);
			rc |= blob_u8(in, a->v.b ? 1 : 0);
			break;
		case HX_ATTR_STRING:
		case HX_ATTR_BYTES: {
			size_t len = a->v.s.ptr ? a->v.s.len : 0;
			if (len > UINT32_MAX)
				len = UINT32_MAX;
			rc |= blob_u8(in, a->type);
			rc |= blob_u32(in, len);
			rc |= blob_put(in, a->v.s.ptr, len);
			break;
		}
		default: /* a reader never returns another type: keep the key, say nothing of a value */
			rc |= blob_u8(in, HX_ATTR_STRING);
			rc |= blob_u32(in, 0);
			break;
		}
	}
	return rc ? HX_ENOMEM : HX_OK;
}

static int keep_record(hx__export_input *in, const hx_event *ev)
{
	if (in->nrec == in->caprec) {
		size_t c1 = in->caprec, c2 = c1, c3 = c1;
		if (hx__dag_grow(&in->rec_ent, &c1, in->nrec + 1, 8) ||
		    hx__dag_grow(&in->rec_seq, &c2, in->nrec + 1, 8) ||
		    hx__dag_grow(&in->rec_off, &c3, in->nrec + 1, 8))
			return HX_ENOMEM; /* those that grew keep their memory; caprec stays true */
		in->caprec = c1; /* the three grew alike from the same size */
	}
	size_t start = in->blob_len;
	int rc = blob_u8(in, ev->kind);
	if (ev->kind == HX_EV_COUNTER) {
		uint64_t bits;
		if (ev->counter_is_int)
			bits = (uint64_t)ev->counter_int;
		else
			memcpy(&bits, &ev->counter_double, 8);
		size_t ul = ev->unit ? strlen(ev->unit) : 0;
		if (ul > UINT16_MAX)
			ul = UINT16_MAX;
		rc |= blob_u8(in, ev->counter_is_int ? 1 : 0);
		rc |= blob_u64(in, bits);
		rc |= blob_u16(in, ul);
		rc |= blob_put(in, ev->unit, ul);
	} else if (ev->kind == HX_EV_ANNOTATE) {
		rc |= blob_u8(in, (unsigned)ev->target);
	}
	rc |= put_attrs(in, ev->attrs, ev->attrs ? ev->nattrs : 0);
	if (rc) {
		in->blob_len = start;
		return HX_ENOMEM;
	}
	in->rec_ent[in->nrec] = ev->entity_id;
	in->rec_seq[in->nrec] = ev->seq;
	in->rec_off[in->nrec] = start;
	in->nrec++;
	return HX_OK;
}

int hx__export_input_add(hx__export_input *in, const hx_event *ev, uint32_t proc)
{
	if (!in->builder)
		return HX_EINVAL;
	if (ev->kind == HX_EV_ENTITY_BEGIN && ev->tid && tid_put(in, ev->entity_id, ev->tid))
		return HX_ENOMEM;
	int rc = hx__dag_builder_add(in->builder, ev, proc);
	if (rc)
		return rc; /* HX_EINVAL past the limit: dropped by the builder, so nothing to keep */
	if (in->filter.nibbles && !filter_match(&in->filter, ev->trace_id))
		return HX_OK;
	if ((ev->attrs && ev->nattrs) || ev->kind == HX_EV_COUNTER || ev->kind == HX_EV_ANNOTATE)
		return keep_record(in, ev);
	return HX_OK;
}

static int pair_cmp(const void *x, const void *y)
{
	const hx__xpair *a = x, *b = y;
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	return a->b < b->b ? -1 : a->b > b->b;
}

void hx__xpair_sort(hx__xpair *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), pair_cmp);
}

void hx__xpair_range(const hx__xpair *v, size_t n, uint32_t key, size_t *lo, size_t *hi)
{
	size_t l = 0, h = n;
	while (l < h) {
		size_t m = l + (h - l) / 2;
		if (v[m].a < key)
			l = m + 1;
		else
			h = m;
	}
	*lo = l;
	while (l < n && v[l].a == key)
		l++;
	*hi = l;
}

static int ann_push(hx__xpair **v, size_t *n, size_t *cap, uint32_t target, uint32_t ev)
{
	if (*n == *cap && hx__dag_grow(v, cap, *n + 1, sizeof(**v)))
		return HX_ENOMEM;
	(*v)[*n].a = target;
	(*v)[*n].b = ev;
	(*n)++;
	return HX_OK;
}

/* Map each record to its DAG event, and list the annotations by what they annotate. */
static int index_records(hx__export_input *in)
{
	const hx__dag *d = in->dag;
	in->ev_rec = malloc((d->n ? d->n : 1) * sizeof(*in->ev_rec));
	in->ent_tid = calloc(d->nentities ? d->nentities : 1, sizeof(*in->ent_tid));
	if (!in->ev_rec || !in->ent_tid)
		return HX_ENOMEM;
	memset(in->ev_rec, 0xff, d->n * sizeof(*in->ev_rec));
	size_t cb = 0, ce = 0, ct = 0;
	for (size_t r = 0; r < in->nrec; r++) {
		uint32_t i = hx__dag_find(d, in->rec_ent[r], in->rec_seq[r]);
		if (i == HX__DAG_NONE || in->ev_rec[i] != HX__DAG_NONE)
			continue; /* not in the graph, or a later copy of a duplicate */
		in->ev_rec[i] = (uint32_t)r;
		if (d->ev_kind[i] != HX_EV_ANNOTATE)
			continue;
		hx__xrec x;
		if (!hx__xrec_get(in, i, &x) || !x.nattrs)
			continue;
		int rc = HX_OK;
		if (x.target == HX_TARGET_BLOCK && d->ev_block[i] != HX__DAG_NONE)
			rc = ann_push(&in->ann_block, &in->nann_block, &cb, d->ev_block[i], i);
		else if (x.target == HX_TARGET_ENTITY)
			rc = ann_push(&in->ann_entity, &in->nann_entity, &ce, d->ev_entity[i], i);
		else if (x.target == HX_TARGET_TRACE && d->ev_trace[i] != HX__DAG_NONE)
			rc = ann_push(&in->ann_trace, &in->nann_trace, &ct, d->ev_trace[i], i);
		if (rc)
			return rc;
	}
	hx__xpair_sort(in->ann_block, in->nann_block);
	hx__xpair_sort(in->ann_entity, in->nann_entity);
	hx__xpair_sort(in->ann_trace, in->nann_trace);
	for (size_t e = 0; e < d->nentities; e++)
		in->ent_tid[e] = tid_get(in, d->entities[e].id);
	/* the event IDs were only needed for the mapping */
	free(in->rec_ent);
	free(in->rec_seq);
	in->rec_ent = in->rec_seq = NULL;
	free(in->tid_key);
	free(in->tid_val);
	in->tid_key = in->tid_val = NULL;
	in->tid_cap = in->tid_n = 0;
	return HX_OK;
}

int hx__export_input_finish(hx__export_input *in)
{
	if (!in->builder)
		return HX_EINVAL;
	hx__dag_builder *b = in->builder;
	in->builder = NULL;
	int rc = hx__dag_builder_finish(b, &in->dag);
	if (rc)
		return rc;
	return index_records(in);
}

static int feed_process(void *user, uint32_t proc, const char *host, const char *program,
                        uint64_t pid)
{
	return hx__export_input_process(user, proc, host, program, pid);
}

static int feed_event(void *user, const hx_event *ev, uint32_t proc)
{
	return hx__export_input_add(user, ev, proc);
}

int hx__export_input_read(hx__export_input **out, hx_reader *r, const hx__dag_filter *filter)
{
	hx__export_input *in;
	int rc = hx__export_input_new(&in, filter);
	if (rc)
		return rc;
	hx__dag_feed f = {feed_process, feed_event, in};
	if ((rc = hx__dag_feed_reader(r, &f)) == HX_OK)
		rc = hx__export_input_finish(in);
	if (rc) {
		hx__export_input_free(in);
		return rc;
	}
	*out = in;
	return HX_OK;
}

const hx__dag *hx__export_input_dag(const hx__export_input *in)
{
	return in->dag;
}

void hx__export_input_free(hx__export_input *in)
{
	if (!in)
		return;
	hx__dag_builder_free(in->builder);
	hx__dag_free(in->dag);
	free(in->rec_ent);
	free(in->rec_seq);
	free(in->rec_off);
	free(in->blob);
	free(in->tid_key);
	free(in->tid_val);
	free(in->ev_rec);
	free(in->ent_tid);
	free(in->ann_block);
	free(in->ann_entity);
	free(in->ann_trace);
	free(in);
}

/* ---- reading records back ---- */

int hx__xrec_get(const hx__export_input *in, uint32_t i, hx__xrec *out)
{
	if (!in->ev_rec || i >= in->dag->n || in->ev_rec[i] == HX__DAG_NONE)
		return 0;
	const uint8_t *p = in->blob + in->rec_off[in->ev_rec[i]];
	memset(out, 0, sizeof(*out));
	out->kind = *p++;
	if (out->kind == HX_EV_COUNTER) {
		out->counter_is_int = *p++;
		uint64_t bits = get_u64(p);
		p += 8;
		if (out->counter_is_int)
			out->counter_int = (int64_t)bits;
		else
			memcpy(&out->counter_double, &bits, 8);
		out->unit_len = (size_t)p[0] | (size_t)p[1] << 8;
		out->unit = (const char *)p + 2;
		p += 2 + out->unit_len;
	} else if (out->kind == HX_EV_ANNOTATE) {
		out->target = *p++;
	}
	out->nattrs = *p++;
	out->attrs = p;
	return 1;
}

void hx__xattr_next(const uint8_t **pp, hx__xattr *a)
{
	const uint8_t *p = *pp;
	memset(a, 0, sizeof(*a));
	a->key_len = (size_t)p[0] | (size_t)p[1] << 8;
	a->key = (const char *)p + 2;
	p += 2 + a->key_len;
	a->type = *p++;
	switch (a->type) {
	case HX_ATTR_INT:
		a->i = (int64_t)get_u64(p);
		p += 8;
		break;
	case HX_ATTR_DOUBLE: {
		uint64_t bits = get_u64(p);
		memcpy(&a->d, &bits, 8);
		p += 8;
		break;
	}
	case HX_ATTR_BOOL:
		a->b = *p++;
		break;
	default: /* STRING, BYTES */
		a->len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
		a->s = (const char *)p + 4;
		p += 4 + a->len;
		break;
	}
	*pp = p;
}
