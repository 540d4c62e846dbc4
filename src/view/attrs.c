/*
 * attrs.c - an event's attributes and counter value as one record of the model's blob. The DAG
 * keeps no attributes; the viewer shows them for one event at a time and searches them, so they
 * are packed back to back (an event without any costs only its offset) in a compact form that
 * reads in one forward pass: a type byte, varint lengths, fixed 8-byte numbers.
 */
#include <string.h>

#include "view/view_int.h"

static size_t varint_size(size_t x)
{
	size_t n = 1;
	while (x >= 0x80) {
		x >>= 7;
		n++;
	}
	return n;
}

static uint8_t *varint_put(uint8_t *o, size_t x)
{
	while (x >= 0x80) {
		*o++ = (uint8_t)(x | 0x80);
		x >>= 7;
	}
	*o++ = (uint8_t)x;
	return o;
}

static int varint_get(const uint8_t **p, const uint8_t *end, size_t *out)
{
	size_t x = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t c = *(*p)++;
		x |= (size_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = x;
			return 1;
		}
	}
	return 0;
}

static const char null_key[] = "(null)";

static void key_of(const hx_attr *a, const char **k, size_t *n)
{
	*k = a->key ? a->key : null_key;
	*n = strlen(*k);
}

/* Only the types the format defines are kept: anything else would be a producer's bug. */
static int known_type(int t)
{
	return t >= HX_ATTR_INT && t <= HX_ATTR_BYTES;
}

static size_t str_len(const hx_attr *a)
{
	return a->v.s.ptr ? a->v.s.len : 0;
}

size_t hx__vattr_size(const hx_event *ev)
{
	size_t n = 0;
	for (size_t i = 0; ev->attrs && i < ev->nattrs; i++) {
		const hx_attr *a = &ev->attrs[i];
		if (!known_type(a->type))
			continue;
		const char *k;
		size_t kl;
		key_of(a, &k, &kl);
		n += 1 + varint_size(kl) + kl;
		switch (a->type) {
		case HX_ATTR_INT:
		case HX_ATTR_DOUBLE: n += 8; break;
		case HX_ATTR_BOOL: n += 1; break;
		default: n += varint_size(str_len(a)) + str_len(a); break;
		}
	}
	if (ev->kind == HX_EV_COUNTER) {
		size_t ul = ev->unit ? strlen(ev->unit) : 0;
		n += 1 + 8 + varint_size(ul) + ul;
	}
	return n;
}

void hx__vattr_encode(const hx_event *ev, uint8_t *o)
{
	for (size_t i = 0; ev->attrs && i < ev->nattrs; i++) {
		const hx_attr *a = &ev->attrs[i];
		if (!known_type(a->type))
			continue;
		const char *k;
		size_t kl;
		key_of(a, &k, &kl);
		*o++ = (uint8_t)a->type;
		o = varint_put(o, kl);
		memcpy(o, k, kl);
		o += kl;
		switch (a->type) {
		case HX_ATTR_INT: memcpy(o, &a->v.i, 8); o += 8; break;
		case HX_ATTR_DOUBLE: memcpy(o, &a->v.d, 8); o += 8; break;
		case HX_ATTR_BOOL: *o++ = a->v.b ? 1 : 0; break;
		default:
			o = varint_put(o, str_len(a));
			if (str_len(a))
				memcpy(o, a->v.s.ptr, str_len(a));
			o += str_len(a);
			break;
		}
	}
	if (ev->kind == HX_EV_COUNTER) {
		size_t ul = ev->unit ? strlen(ev->unit) : 0;
		if (ev->counter_is_int) {
			*o++ = HX__VA_COUNTER_INT;
			memcpy(o, &ev->counter_int, 8);
		} else {
			*o++ = HX__VA_COUNTER_DOUBLE;
			memcpy(o, &ev->counter_double, 8);
		}
		o += 8;
		o = varint_put(o, ul);
		if (ul)
			memcpy(o, ev->unit, ul);
	}
}

int hx__vattr_next(const uint8_t **pp, const uint8_t *end, hx__vattr *a)
{
	const uint8_t *p = *pp;
	if (p >= end)
		return 0;
	memset(a, 0, sizeof(*a));
	a->type = *p++;
	size_t len;
	if (a->type == HX__VA_COUNTER_INT || a->type == HX__VA_COUNTER_DOUBLE) {
		if (end - p < 8)
			return 0;
		if (a->type == HX__VA_COUNTER_INT) {
			memcpy(&a->i, p, 8);
			a->d = (double)a->i;
		} else {
			memcpy(&a->d, p, 8);
		}
		p += 8;
		if (!varint_get(&p, end, &len) || (size_t)(end - p) < len)
			return 0;
		a->s = (const char *)p;
		a->slen = len;
		*pp = p + len;
		return 1;
	}
	if (!known_type(a->type) || !varint_get(&p, end, &len) || (size_t)(end - p) < len)
		return 0;
	a->key = (const char *)p;
	a->klen = len;
	p += len;
	switch (a->type) {
	case HX_ATTR_INT:
	case HX_ATTR_DOUBLE:
		if (end - p < 8)
			return 0;
		if (a->type == HX_ATTR_INT)
			memcpy(&a->i, p, 8);
		else
			memcpy(&a->d, p, 8);
		p += 8;
		break;
	case HX_ATTR_BOOL:
		if (p >= end)
			return 0;
		a->i = *p++ != 0;
		break;
	default:
		if (!varint_get(&p, end, &len) || (size_t)(end - p) < len)
			return 0;
		a->s = (const char *)p;
		a->slen = len;
		p += len;
		break;
	}
	*pp = p;
	return 1;
}
