/*
 * json.c - the pieces every answer is made of, written for speed: a level-of-detail answer holds
 * tens of thousands of items, each with an event ID, a name and a few numbers, so numbers are
 * formatted by hand (no printf) and every interned name is escaped once, when the model is built,
 * and then copied (hx__json_string does the escaping, so any bytes come out as valid JSON).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/view_int.h"

static const char hexdig[] = "0123456789abcdef";

const char hx__vw_digits[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

int hx__view_json_strings(hx__view *v)
{
	const hx__dag *d = v->d;
	hx__buf b = HX__BUF_INIT;
	v->jstr_off = malloc((d->nstr + 1) * sizeof(*v->jstr_off));
	if (!v->jstr_off)
		return HX_ENOMEM;
	for (size_t i = 0; i < d->nstr; i++) {
		v->jstr_off[i] = b.len;
		const char *s = hx__dag_str(d, (uint32_t)i);
		if (hx__json_string(&b, s, strlen(s))) {
			hx__buf_free(&b);
			return HX_ENOMEM;
		}
	}
	v->jstr_off[d->nstr] = b.len;
	if (!b.p && hx__buf_grow(&b, 1))
		return HX_ENOMEM;
	v->jstr = b.p;
	v->bytes += b.cap + (d->nstr + 1) * sizeof(*v->jstr_off);
	v->ent_hex = malloc(d->nentities ? 16 * d->nentities : 1);
	if (!v->ent_hex)
		return HX_ENOMEM;
	for (size_t e = 0; e < d->nentities; e++) {
		uint64_t id = d->entities[e].id;
		for (int i = 15; i >= 0; i--, id >>= 4)
			v->ent_hex[16 * e + (size_t)i] = hexdig[id & 0xf];
	}
	v->bytes += 16 * d->nentities;
	return HX_OK;
}

const char *hx__vj_kind(uint8_t kind)
{
	/* in hx_event_kind order from HX_EV_ENTITY_BEGIN, as hx_event_kind_name spells them */
	static const char *const lits[] = {
	    "\"entity_begin\"", "\"entity_end\"", "\"trace_begin\"", "\"trace_join\"",
	    "\"trace_end\"", "\"block_begin\"", "\"block_end\"", "\"point\"", "\"counter\"",
	    "\"error\"", "\"state\"", "\"annotate\"", "\"cause\"", "\"effect\""};
	if (kind < HX_EV_ENTITY_BEGIN || kind > HX_EV_EFFECT)
		return "\"unknown\"";
	return lits[kind - HX_EV_ENTITY_BEGIN];
}

const char *hx__vj_interaction(uint8_t ia)
{
	static const char *const lits[] = {"\"causal\"", "\"message\"", "\"request\"", "\"reply\"",
	                                   "\"async\"", "\"fork\"", "\"join\"", "\"lock\"",
	                                   "\"publish\"", "\"causal\""};
	return ia < sizeof(lits) / sizeof(lits[0]) ? lits[ia] : lits[0];
}

int hx__vj_u64(hx__buf *b, uint64_t x)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	return hx__buf_append(b, tmp + i, sizeof(tmp) - i);
}

int hx__vj_i64(hx__buf *b, int64_t x)
{
	if (x >= 0)
		return hx__vj_u64(b, (uint64_t)x);
	if (hx__buf_putc(b, '-'))
		return HX_ENOMEM;
	return hx__vj_u64(b, (uint64_t)0 - (uint64_t)x);
}

int hx__vj_double(hx__buf *b, double x)
{
	if (isnan(x) || isinf(x))
		return hx__buf_puts(b, "null");
	if (x == floor(x) && fabs(x) < 9007199254740992.0)
		return hx__vj_i64(b, (int64_t)x);
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, x);
		if (strtod(tmp, NULL) == x)
			break;
	}
	/* a locale's decimal comma would not be JSON */
	for (char *c = tmp; *c; c++)
		if (*c == ',')
			*c = '.';
	return hx__buf_puts(b, tmp);
}

int hx__vj_name(hx__buf *b, const hx__view *v, uint32_t str)
{
	if (str >= v->d->nstr)
		str = 0;
	return hx__buf_append(b, v->jstr + v->jstr_off[str], v->jstr_off[str + 1] - v->jstr_off[str]);
}

int hx__vj_cstr(hx__buf *b, const char *s)
{
	return hx__json_string(b, s ? s : "", s ? strlen(s) : 0);
}

int hx__vj_entity(hx__buf *b, uint64_t id)
{
	char tmp[18];
	tmp[0] = tmp[17] = '"';
	for (int i = 16; i >= 1; i--, id >>= 4)
		tmp[i] = hexdig[id & 0xf];
	return hx__buf_append(b, tmp, sizeof(tmp));
}

int hx__vj_id(hx__buf *b, const hx__view *v, uint32_t e)
{
	char tmp[40];
	uint64_t id = v->d->entities[v->d->ev_entity[e]].id, seq = v->d->ev_seq[e];
	tmp[0] = '"';
	for (int i = 16; i >= 1; i--, id >>= 4)
		tmp[i] = hexdig[id & 0xf];
	tmp[17] = ':';
	char num[20];
	size_t k = sizeof(num);
	do {
		num[--k] = (char)('0' + seq % 10);
		seq /= 10;
	} while (seq);
	memcpy(tmp + 18, num + k, sizeof(num) - k);
	size_t len = 18 + sizeof(num) - k;
	tmp[len++] = '"';
	return hx__buf_append(b, tmp, len);
}

int hx__vj_hex16(hx__buf *b, const uint8_t id[16])
{
	char tmp[34];
	tmp[0] = tmp[33] = '"';
	for (int i = 0; i < 16; i++) {
		tmp[1 + 2 * i] = hexdig[id[i] >> 4];
		tmp[2 + 2 * i] = hexdig[id[i] & 0xf];
	}
	return hx__buf_append(b, tmp, sizeof(tmp));
}

int hx__vj_ref(hx__buf *b, const hx__view *v, uint32_t e)
{
	int err = hx__buf_puts(b, "{\"e\":");
	err |= hx__vj_u64(b, e);
	err |= hx__buf_puts(b, ",\"id\":");
	err |= hx__vj_id(b, v, e);
	err |= hx__buf_putc(b, '}');
	return err ? HX_ENOMEM : HX_OK;
}

static int base64(hx__buf *b, const uint8_t *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (hx__buf_grow(b, 4 * ((n + 2) / 3) + 2))
		return HX_ENOMEM;
	char *o = b->p + b->len;
	*o++ = '"';
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[x >> 18];
		*o++ = tab[(x >> 12) & 63];
		*o++ = tab[(x >> 6) & 63];
		*o++ = tab[x & 63];
	}
	if (i < n) {
		uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = tab[x >> 18];
		*o++ = tab[(x >> 12) & 63];
		*o++ = i + 1 < n ? tab[(x >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
	b->p[b->len] = '\0';
	return HX_OK;
}

int hx__vj_attr_value(hx__buf *b, const hx__vattr *a)
{
	switch (a->type) {
	case HX_ATTR_INT:
	case HX__VA_COUNTER_INT: return hx__vj_i64(b, a->i);
	case HX_ATTR_DOUBLE:
	case HX__VA_COUNTER_DOUBLE: return hx__vj_double(b, a->d);
	case HX_ATTR_BOOL: return hx__buf_puts(b, a->i ? "true" : "false");
	case HX_ATTR_STRING: return hx__json_string(b, a->s, a->slen);
	default: return base64(b, (const uint8_t *)a->s, a->slen);
	}
}

int hx__vj_attrs(hx__buf *b, const hx__view *v, uint32_t e)
{
	const uint8_t *p = v->blob + v->attr_off[e], *end = v->blob + v->attr_off[e + 1];
	hx__vattr a;
	int err = hx__buf_putc(b, '{'), first = 1;
	while (hx__vattr_next(&p, end, &a)) {
		if (!a.key)
			continue;
		if (!first)
			err |= hx__buf_putc(b, ',');
		first = 0;
		err |= hx__json_string(b, a.key, a.klen);
		err |= hx__buf_putc(b, ':');
		err |= hx__vj_attr_value(b, &a);
	}
	err |= hx__buf_putc(b, '}');
	return err ? HX_ENOMEM : HX_OK;
}
