/*
 * encode.c - hx_event values back into trace-format records (a body; see encode.h).
 *
 * The mirror image of decode.c: every field is written exactly where decode_event() reads it, and
 * the encoder keeps the same state the decoder will (entity, next sequence number, trace, running
 * time) so that it restates only what the decoder could not infer. Strings are interned in a
 * small open-addressing table keyed by content, reset with each body.
 */
#include "format/encode.h"

#include <stdlib.h>
#include <string.h>

#include "format/format.h"

struct intern {
	uint32_t off;  /* offset of the text in the arena + 1 (0 = empty slot) */
	uint32_t len;
	uint32_t id;
	uint32_t hash;
};

struct hx__encoder {
	uint8_t *buf;
	size_t len, cap;
	size_t events;
	/* decoder state the body implies after the last record */
	uint64_t time;
	uint64_t entity;     /* 0 = no CONTEXT yet */
	uint64_t next_seq;
	uint8_t trace[16];
	int has_trace;
	/* interned strings of this body */
	struct intern *slots;
	uint32_t nslots, used, next_id;
	char *arena;
	size_t arena_len, arena_cap;
};

hx__encoder *hx__encoder_new(void)
{
	hx__encoder *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->nslots = 256;
	e->slots = calloc(e->nslots, sizeof *e->slots);
	if (!e->slots) {
		free(e);
		return NULL;
	}
	hx__encoder_reset(e, 0);
	return e;
}

void hx__encoder_free(hx__encoder *e)
{
	if (!e)
		return;
	free(e->buf);
	free(e->slots);
	free(e->arena);
	free(e);
}

void hx__encoder_reset(hx__encoder *e, uint64_t base_ns)
{
	e->len = 0;
	e->events = 0;
	e->time = base_ns;
	e->entity = 0;
	e->next_seq = 0;
	e->has_trace = 0;
	memset(e->trace, 0, 16);
	memset(e->slots, 0, e->nslots * sizeof *e->slots);
	e->used = 0;
	e->next_id = 1;
	e->arena_len = 0;
}

const uint8_t *hx__encoder_data(const hx__encoder *e, size_t *len)
{
	*len = e->len;
	return e->buf;
}

size_t hx__encoder_events(const hx__encoder *e)
{
	return e->events;
}

static int reserve(hx__encoder *e, size_t more)
{
	if (e->len + more <= e->cap)
		return 0;
	size_t cap = e->cap ? e->cap : 4096;
	while (cap < e->len + more)
		cap *= 2;
	uint8_t *nb = realloc(e->buf, cap);
	if (!nb)
		return -1;
	e->buf = nb;
	e->cap = cap;
	return 0;
}

static uint32_t hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a: strings are short names */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static int grow_slots(hx__encoder *e)
{
	uint32_t n = e->nslots * 2;
	struct intern *ns = calloc(n, sizeof *ns);
	if (!ns)
		return -1;
	for (uint32_t i = 0; i < e->nslots; i++) {
		if (!e->slots[i].off)
			continue;
		uint32_t j = e->slots[i].hash & (n - 1);
		while (ns[j].off)
			j = (j + 1) & (n - 1);
		ns[j] = e->slots[i];
	}
	free(e->slots);
	e->slots = ns;
	e->nslots = n;
	return 0;
}

/* The string ID of s (n bytes) in this body, or 0 for the empty string. *def is set when the
 * caller must write its STRING record (a new string). Returns UINT32_MAX when memory is short.
 * A new string is remembered only once the caller commits the record (see commit_strings). */
struct pending {
	const char *s;
	size_t n;
	uint32_t hash, id;
};

static uint32_t lookup(hx__encoder *e, const char *s, size_t n, struct pending *pend, size_t *npend)
{
	if (n == 0)
		return 0;
	uint32_t h = hash_bytes(s, n);
	for (uint32_t j = h & (e->nslots - 1);; j = (j + 1) & (e->nslots - 1)) {
		const struct intern *it = &e->slots[j];
		if (!it->off)
			break;
		if (it->hash == h && it->len == n && memcmp(e->arena + it->off - 1, s, n) == 0)
			return it->id;
	}
	for (size_t i = 0; i < *npend; i++)
		if (pend[i].hash == h && pend[i].n == n && memcmp(pend[i].s, s, n) == 0)
			return pend[i].id;
	struct pending *p = &pend[(*npend)++];
	p->s = s;
	p->n = n;
	p->hash = h;
	p->id = e->next_id + (uint32_t)(*npend - 1);
	return p->id;
}

static int remember(hx__encoder *e, const struct pending *p)
{
	if ((e->used + 1) * 2 > e->nslots && grow_slots(e))
		return -1;
	if (e->arena_len + p->n > e->arena_cap) {
		size_t cap = e->arena_cap ? e->arena_cap : 4096;
		while (cap < e->arena_len + p->n)
			cap *= 2;
		char *na = realloc(e->arena, cap);
		if (!na)
			return -1;
		e->arena = na;
		e->arena_cap = cap;
	}
	memcpy(e->arena + e->arena_len, p->s, p->n);
	uint32_t j = p->hash & (e->nslots - 1);
	while (e->slots[j].off)
		j = (j + 1) & (e->nslots - 1);
	e->slots[j] = (struct intern){(uint32_t)e->arena_len + 1, (uint32_t)p->n, p->id, p->hash};
	e->arena_len += p->n;
	e->used++;
	return 0;
}

static int kind_has_name(unsigned k)
{
	return k == HX_EV_ENTITY_BEGIN || k == HX_EV_TRACE_BEGIN || k == HX_EV_TRACE_JOIN ||
	       k == HX_EV_BLOCK_BEGIN || k == HX_EV_POINT || k == HX_EV_COUNTER || k == HX_EV_ERROR ||
	       k == HX_EV_CAUSE || k == HX_EV_EFFECT;
}

static int trace_is_zero(const uint8_t t[16])
{
	static const uint8_t zero[16];
	return memcmp(t, zero, 16) == 0;
}

static uint8_t *put_cause(uint8_t *p, const hx_context *c, const uint8_t event_trace[16])
{
	int same = memcmp(c->trace_id, event_trace, 16) == 0;
	*p++ = (uint8_t)((same ? 0 : HX_CAUSE_HAS_TRACE) | ((c->flags & HX_CTX_SAMPLED) ? HX_CAUSE_SAMPLED : 0) |
	                 ((c->flags & HX_CTX_FOREIGN) ? HX_CAUSE_FOREIGN : 0));
	if (!same) {
		memcpy(p, c->trace_id, 16);
		p += 16;
	}
	hx__put_le64(p, c->entity_id);
	p += 8;
	return hx__put_varint(p, c->seq);
}

size_t hx__encode_bound(const hx_event *ev)
{
	/* every STRING, CONTEXT, TIME and fixed field at its largest */
	size_t n = 3 * (1 + 2 * HX_VARINT_MAX) + 1 + 8 + HX_VARINT_MAX + 1 + 16 + 1 + HX_VARINT_MAX +
	           1 + 4 * HX_VARINT_MAX + 16 + 8 + 8;
	n += 2 * (ev->name ? ev->name_len : 0) + (ev->unit ? strlen(ev->unit) : 0);
	n += ev->ncauses * (1 + 16 + 8 + HX_VARINT_MAX);
	for (size_t i = 0; i < ev->nattrs && ev->attrs; i++) {
		n += 1 + 2 * HX_VARINT_MAX + 2 * HX_VARINT_MAX + 9 + (ev->attrs[i].key ? strlen(ev->attrs[i].key) : 0);
		if (ev->attrs[i].type == HX_ATTR_STRING || ev->attrs[i].type == HX_ATTR_BYTES)
			n += ev->attrs[i].v.s.len;
	}
	return n;
}

int hx__encode_event(hx__encoder *e, const hx_event *ev)
{
	unsigned k = ev->kind;
	if (k < HX_EV_ENTITY_BEGIN || k > HX_EV_EFFECT || ev->entity_id == 0 || ev->nattrs > HX_ATTR_MAX ||
	    ev->ncauses > HX_CAUSE_MAX || (ev->nattrs && !ev->attrs) || (ev->ncauses && !ev->causes))
		return HX_EINVAL;
	if ((k == HX_EV_EFFECT || k == HX_EV_TRACE_JOIN) && (k == HX_EV_TRACE_JOIN ? ev->ncauses != 1 : 0))
		return HX_EINVAL;
	if (k == HX_EV_ANNOTATE && ev->nattrs == 0)
		return HX_EINVAL;

	/* Strings this event needs: name (or STATE's reason), COUNTER's unit, attribute keys. */
	struct pending pend[2 + HX_ATTR_MAX];
	size_t npend = 0;
	const char *name = ev->name ? ev->name : "";
	size_t name_len = ev->name ? ev->name_len : 0;
	if (name_len > 65535)
		return HX_EINVAL;
	uint32_t name_id = 0, unit_id = 0, key_ids[HX_ATTR_MAX];
	if (kind_has_name(k) || k == HX_EV_STATE)
		name_id = lookup(e, name, name_len, pend, &npend);
	if (k == HX_EV_COUNTER && ev->unit)
		unit_id = lookup(e, ev->unit, strlen(ev->unit), pend, &npend);
	size_t need = 64 + 16 + 8 + name_len + ev->ncauses * (1 + 16 + 8 + HX_VARINT_MAX);
	for (size_t i = 0; i < ev->nattrs; i++) {
		const hx_attr *a = &ev->attrs[i];
		if (a->type < HX_ATTR_INT || a->type > HX_ATTR_BYTES)
			return HX_EINVAL;
		const char *key = a->key ? a->key : "";
		size_t kl = strlen(key);
		if (kl > 65535)
			return HX_EINVAL;
		key_ids[i] = lookup(e, key, kl, pend, &npend);
		need += 2 * HX_VARINT_MAX + 9 + kl;
		if (a->type == HX_ATTR_STRING || a->type == HX_ATTR_BYTES) {
			if (a->v.s.len && !a->v.s.ptr)
				return HX_EINVAL;
			need += a->v.s.len;
		}
	}
	for (size_t i = 0; i < npend; i++)
		need += 1 + 2 * HX_VARINT_MAX + pend[i].n;
	if (reserve(e, need))
		return HX_ENOMEM;

	uint8_t *start = e->buf + e->len, *p = start;
	for (size_t i = 0; i < npend; i++) {
		*p++ = HX_REC_STRING;
		p = hx__put_varint(p, pend[i].id);
		p = hx__put_varint(p, pend[i].n);
		memcpy(p, pend[i].s, pend[i].n);
		p += pend[i].n;
	}
	/* Restate the entity when the decoder would get its ID, sequence number or trace wrong.
	 * TRACE_BEGIN and TRACE_JOIN carry their trace in the record: the state before them does not
	 * matter. */
	int trace_ok = k == HX_EV_TRACE_BEGIN || k == HX_EV_TRACE_JOIN ||
	               (e->has_trace ? memcmp(e->trace, ev->trace_id, 16) == 0 : trace_is_zero(ev->trace_id));
	if (e->entity != ev->entity_id || e->next_seq != ev->seq || !trace_ok) {
		int has = !trace_is_zero(ev->trace_id);
		*p++ = HX_REC_CONTEXT;
		hx__put_le64(p, ev->entity_id);
		p += 8;
		p = hx__put_varint(p, ev->seq);
		*p++ = has ? HX_CTXREC_HAS_TRACE : 0;
		if (has) {
			memcpy(p, ev->trace_id, 16);
			p += 16;
		}
	}
	if (ev->time_ns < e->time) {
		*p++ = HX_REC_TIME;
		p = hx__put_varint(p, ev->time_ns);
	}
	uint64_t prev_time = ev->time_ns < e->time ? ev->time_ns : e->time;

	*p++ = (uint8_t)(k | (ev->nattrs ? HX_REC_HAS_ATTRS : 0));
	p = hx__put_varint(p, ev->time_ns - prev_time);
	if (kind_has_name(k))
		p = hx__put_varint(p, name_id);
	switch (k) {
	case HX_EV_ENTITY_BEGIN:
		*p++ = (uint8_t)ev->entity_kind;
		p = hx__put_varint(p, ev->tid);
		hx__put_le64(p, ev->parent_id);
		p += 8;
		break;
	case HX_EV_TRACE_BEGIN:
		memcpy(p, ev->trace_id, 16);
		p += 16;
		break;
	case HX_EV_TRACE_JOIN:
		memcpy(p, ev->trace_id, 16);
		p += 16;
		p = put_cause(p, &ev->causes[0], ev->trace_id);
		break;
	case HX_EV_COUNTER:
		p = hx__put_varint(p, unit_id);
		if (ev->counter_is_int) {
			*p++ = HX_VAL_INT;
			p = hx__put_varint(p, hx__zigzag(ev->counter_int));
		} else {
			uint64_t bits;
			memcpy(&bits, &ev->counter_double, 8);
			*p++ = HX_VAL_DOUBLE;
			hx__put_le64(p, bits);
			p += 8;
		}
		break;
	case HX_EV_STATE:
		*p++ = (uint8_t)ev->state;
		p = hx__put_varint(p, name_id);
		break;
	case HX_EV_ANNOTATE:
		*p++ = (uint8_t)ev->target;
		break;
	case HX_EV_CAUSE:
		*p++ = (uint8_t)ev->interaction;
		break;
	case HX_EV_EFFECT:
		*p++ = (uint8_t)((ev->interaction & 0x7f) | (ev->resumes ? HX_EFFECT_RESUMES : 0));
		p = hx__put_varint(p, ev->ncauses);
		for (size_t i = 0; i < ev->ncauses; i++)
			p = put_cause(p, &ev->causes[i], ev->trace_id);
		break;
	default:
		break;
	}
	if (ev->nattrs) {
		p = hx__put_varint(p, ev->nattrs);
		for (size_t i = 0; i < ev->nattrs; i++) {
			const hx_attr *a = &ev->attrs[i];
			p = hx__put_varint(p, key_ids[i]);
			switch (a->type) {
			case HX_ATTR_INT:
				*p++ = HX_VAL_INT;
				p = hx__put_varint(p, hx__zigzag(a->v.i));
				break;
			case HX_ATTR_DOUBLE: {
				uint64_t bits;
				memcpy(&bits, &a->v.d, 8);
				*p++ = HX_VAL_DOUBLE;
				hx__put_le64(p, bits);
				p += 8;
				break;
			}
			case HX_ATTR_BOOL:
				*p++ = a->v.b ? HX_VAL_TRUE : HX_VAL_FALSE;
				break;
			default: /* string, bytes */
				*p++ = a->type == HX_ATTR_STRING ? HX_VAL_STRING : HX_VAL_BYTES;
				p = hx__put_varint(p, a->v.s.len);
				if (a->v.s.len)
					memcpy(p, a->v.s.ptr, a->v.s.len);
				p += a->v.s.len;
				break;
			}
		}
	}

	/* Committed: remember the new strings and the state the decoder now has. */
	for (size_t i = 0; i < npend; i++) {
		if (remember(e, &pend[i])) {
			/* Out of memory while remembering: drop the whole record, the body stays valid. */
			for (size_t j = 0; j < e->nslots; j++)
				if (e->slots[j].id >= e->next_id)
					e->slots[j] = (struct intern){0, 0, 0, 0};
			e->used = 0;
			for (size_t j = 0; j < e->nslots; j++)
				e->used += e->slots[j].off != 0;
			return HX_ENOMEM;
		}
	}
	e->next_id += (uint32_t)npend;
	e->len += (size_t)(p - start);
	e->events++;
	e->time = ev->time_ns;
	e->entity = ev->entity_id;
	e->next_seq = ev->seq + 1;
	if (k == HX_EV_TRACE_BEGIN || k == HX_EV_TRACE_JOIN) {
		memcpy(e->trace, ev->trace_id, 16);
		e->has_trace = 1;
	} else if (k == HX_EV_TRACE_END) {
		memset(e->trace, 0, 16);
		e->has_trace = 0;
	} else {
		memcpy(e->trace, ev->trace_id, 16);
		e->has_trace = !trace_is_zero(ev->trace_id);
	}
	return HX_OK;
}
