/*
 * jsonw.c - writing the export's JSON: the streaming writer (a buffer handed to the FILE* in
 * 64 KiB pieces), numbers and IDs written without printf where it is hot, and attribute lists in
 * the shape of each format with their keys kept unique (export_int.h).
 *
 * Strings go through hx__json_string() (src/format/text.h), which escapes any bytes safely:
 * invalid UTF-8 becomes U+FFFD, so the output is valid JSON whatever the trace holds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export_int.h"

int hx__xw_flush(hx__xw *w, int force)
{
	if (w->err || (!force && w->b.len < HX__XW_FLUSH_AT))
		return w->err;
	if (w->b.len) {
		if (fwrite(w->b.p, 1, w->b.len, w->f) != w->b.len) {
			w->err = HX_EIO;
			return w->err;
		}
		w->written += w->b.len;
	}
	hx__buf_reset(&w->b);
	if (force && fflush(w->f))
		w->err = HX_EIO;
	return w->err;
}

/* ---- numbers and IDs ---- */

static const char hexdig[] = "0123456789abcdef";

int hx__xj_u64(hx__buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return hx__buf_append(b, tmp + i, sizeof(tmp) - i);
}

int hx__xj_i64(hx__buf *b, int64_t v)
{
	if (v >= 0)
		return hx__xj_u64(b, (uint64_t)v);
	if (hx__buf_putc(b, '-'))
		return HX_ENOMEM;
	return hx__xj_u64(b, (uint64_t)0 - (uint64_t)v);
}

int hx__xj_hex64(hx__buf *b, uint64_t v)
{
	char tmp[16];
	for (int i = 15; i >= 0; i--, v >>= 4)
		tmp[i] = hexdig[v & 0xf];
	return hx__buf_append(b, tmp, 16);
}

int hx__xj_hex128(hx__buf *b, const uint8_t id[16])
{
	char tmp[32];
	for (int i = 0; i < 16; i++) {
		tmp[2 * i] = hexdig[id[i] >> 4];
		tmp[2 * i + 1] = hexdig[id[i] & 0xf];
	}
	return hx__buf_append(b, tmp, 32);
}

int hx__xj_micros(hx__buf *b, uint64_t ns)
{
	int err = hx__xj_u64(b, ns / 1000u);
	unsigned frac = (unsigned)(ns % 1000u);
	if (!frac)
		return err;
	char tmp[4] = {'.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10), (char)('0' + frac % 10)};
	size_t n = 4;
	while (tmp[n - 1] == '0')
		n--; /* trailing zeros say nothing: "1.5", not "1.500" */
	return err | hx__buf_append(b, tmp, n);
}

int hx__xj_double(hx__buf *b, double d)
{
	/* the shortest of %.15g..%.17g that reads back as the same double; the locale's decimal
	 * point becomes '.' (a JSON reader knows no other) */
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	char out[40];
	size_t w = 0;
	for (size_t r = 0; tmp[r] && w + 1 < sizeof(out); r++) {
		char c = tmp[r];
		if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E')
			out[w++] = c;
		else if (w == 0 || out[w - 1] != '.')
			out[w++] = '.';
	}
	return hx__buf_append(b, out, w);
}

int hx__xj_nonfinite(hx__buf *b, double d)
{
	return hx__buf_puts(b, isnan(d) ? "\"NaN\"" : d < 0 ? "\"-Infinity\"" : "\"Infinity\"");
}

int hx__xj_base64(hx__buf *b, const void *data, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *p = data;
	if (n > SIZE_MAX / 2 || hx__buf_grow(b, (n + 2) / 3 * 4))
		return HX_ENOMEM;
	char *o = b->p + b->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = al[v >> 18];
		*o++ = al[(v >> 12) & 63];
		*o++ = al[(v >> 6) & 63];
		*o++ = al[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = al[v >> 18];
		*o++ = al[(v >> 12) & 63];
		*o++ = i + 1 < n ? al[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	b->len = (size_t)(o - b->p);
	b->p[b->len] = '\0';
	return HX_OK;
}

int hx__xj_str(hx__buf *b, const char *s, size_t n)
{
	return hx__json_string(b, s ? s : "", s ? n : 0);
}

/* ---- attribute lists ---- */

void hx__xa_init(hx__xa *a, hx__buf *b, int shape)
{
	memset(a, 0, sizeof(*a));
	a->b = b;
	a->shape = shape;
}

void hx__xa_reset(hx__xa *a, hx__buf *b)
{
	a->b = b;
	a->count = 0;
	for (size_t i = 0; i < a->nused; i++)
		a->slot[a->used[i]] = 0;
	a->nused = 0;
	hx__buf_reset(&a->keys);
}

void hx__xa_free(hx__xa *a)
{
	free(a->slot);
	free(a->used);
	hx__buf_free(&a->keys);
	memset(a, 0, sizeof(*a));
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

/* 1 if the key was already written to this list, else remember it and return 0. */
static int key_seen(hx__xa *a, const char *k, size_t n)
{
	/* keys are compared up to a NUL inside them, if any: at worst a needless "#2" */
	n = strnlen(k, n);
	if ((a->nused + 1) * 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		uint32_t *s = calloc(cap, sizeof(*s));
		if (!s) {
			a->err = HX_ENOMEM;
			return 0;
		}
		for (size_t u = 0; u < a->nused; u++) {
			uint32_t off = a->slot[a->used[u]];
			const char *key = a->keys.p + off - 1;
			size_t j = hash_bytes(key, strlen(key)) & (cap - 1);
			while (s[j])
				j = (j + 1) & (cap - 1);
			s[j] = off;
			a->used[u] = (uint32_t)j;
		}
		free(a->slot);
		a->slot = s;
		a->cap = cap;
	}
	if (a->nused == a->used_cap && hx__dag_grow(&a->used, &a->used_cap, a->nused + 1, sizeof(*a->used))) {
		a->err = HX_ENOMEM;
		return 0;
	}
	size_t j = hash_bytes(k, n) & (a->cap - 1);
	for (; a->slot[j]; j = (j + 1) & (a->cap - 1)) {
		const char *key = a->keys.p + a->slot[j] - 1;
		if (!strncmp(key, k, n) && key[n] == '\0')
			return 1;
	}
	size_t off = a->keys.len;
	if (off >= UINT32_MAX - n - 2 || hx__buf_append(&a->keys, k, n) || hx__buf_putc(&a->keys, '\0')) {
		a->err = HX_ENOMEM;
		return 0;
	}
	a->slot[j] = (uint32_t)off + 1;
	a->used[a->nused++] = (uint32_t)j;
	return 0;
}

/* The member's key and the separator before its value, made unique. */
static void put_key(hx__xa *a, const char *k, size_t n)
{
	hx__buf *b = a->b;
	char alt[32];
	int err = 0;
	if (a->count)
		err |= hx__buf_putc(b, ',');
	if (a->shape == HX__XA_OTLP)
		err |= hx__buf_puts(b, "{\"key\":");
	if (!key_seen(a, k, n)) {
		err |= hx__xj_str(b, k, n);
	} else {
		/* key#2, key#3 ...: the first free one */
		hx__buf tmp = HX__BUF_INIT;
		for (unsigned dup = 2;; dup++) {
			snprintf(alt, sizeof(alt), "#%u", dup);
			hx__buf_reset(&tmp);
			if (hx__buf_append(&tmp, k, n) || hx__buf_puts(&tmp, alt)) {
				err = 1;
				break;
			}
			if (!key_seen(a, tmp.p, tmp.len) || a->err)
				break;
		}
		if (!err)
			err |= hx__xj_str(b, tmp.p, tmp.len);
		hx__buf_free(&tmp);
	}
	err |= hx__buf_puts(b, a->shape == HX__XA_OTLP ? ",\"value\":{" : ":");
	if (err)
		a->err = HX_ENOMEM;
	a->count++;
}

static void put_end(hx__xa *a)
{
	if (a->shape == HX__XA_OTLP && hx__buf_puts(a->b, "}}"))
		a->err = HX_ENOMEM;
}

void hx__xa_str(hx__xa *a, const char *key, const char *s, size_t n)
{
	put_key(a, key, strlen(key));
	int err = 0;
	if (a->shape == HX__XA_OTLP)
		err |= hx__buf_puts(a->b, "\"stringValue\":");
	err |= hx__xj_str(a->b, s, n);
	if (err)
		a->err = HX_ENOMEM;
	put_end(a);
}

static void value_int(hx__xa *a, int64_t v)
{
	int err = 0;
	switch (a->shape) {
	case HX__XA_OTLP: /* int64 is a string in proto3 JSON */
		err |= hx__buf_puts(a->b, "\"intValue\":\"");
		err |= hx__xj_i64(a->b, v);
		err |= hx__buf_putc(a->b, '"');
		break;
	case HX__XA_TAGS:
		err |= hx__buf_putc(a->b, '"');
		err |= hx__xj_i64(a->b, v);
		err |= hx__buf_putc(a->b, '"');
		break;
	default:
		err |= hx__xj_i64(a->b, v);
		break;
	}
	if (err)
		a->err = HX_ENOMEM;
}

static void value_double(hx__xa *a, double v)
{
	int err = 0;
	int finite = isfinite(v);
	switch (a->shape) {
	case HX__XA_OTLP:
		err |= hx__buf_puts(a->b, "\"doubleValue\":");
		err |= finite ? hx__xj_double(a->b, v) : hx__xj_nonfinite(a->b, v);
		break;
	case HX__XA_TAGS:
		if (finite) {
			err |= hx__buf_putc(a->b, '"');
			err |= hx__xj_double(a->b, v);
			err |= hx__buf_putc(a->b, '"');
		} else {
			err |= hx__xj_nonfinite(a->b, v);
		}
		break;
	default:
		err |= finite ? hx__xj_double(a->b, v) : hx__xj_nonfinite(a->b, v);
		break;
	}
	if (err)
		a->err = HX_ENOMEM;
}

static void value_bool(hx__xa *a, int v)
{
	const char *s = a->shape == HX__XA_OTLP ? (v ? "\"boolValue\":true" : "\"boolValue\":false")
	                : a->shape == HX__XA_TAGS ? (v ? "\"true\"" : "\"false\"")
	                                          : (v ? "true" : "false");
	if (hx__buf_puts(a->b, s))
		a->err = HX_ENOMEM;
}

void hx__xa_int(hx__xa *a, const char *key, int64_t v)
{
	put_key(a, key, strlen(key));
	value_int(a, v);
	put_end(a);
}

void hx__xa_bool(hx__xa *a, const char *key, int v)
{
	put_key(a, key, strlen(key));
	value_bool(a, v);
	put_end(a);
}

void hx__xa_double(hx__xa *a, const char *key, double v)
{
	put_key(a, key, strlen(key));
	value_double(a, v);
	put_end(a);
}

void hx__xa_attr(hx__xa *a, const hx__xattr *v)
{
	put_key(a, v->key, v->key_len);
	int err = 0;
	switch (v->type) {
	case HX_ATTR_INT:
		value_int(a, v->i);
		break;
	case HX_ATTR_DOUBLE:
		value_double(a, v->d);
		break;
	case HX_ATTR_BOOL:
		value_bool(a, v->b);
		break;
	case HX_ATTR_BYTES:
		/* OTLP has bytes (base64 in JSON); elsewhere bytes become a base64 string */
		err |= hx__buf_puts(a->b, a->shape == HX__XA_OTLP ? "\"bytesValue\":\"" : "\"");
		err |= hx__xj_base64(a->b, v->s, v->len);
		err |= hx__buf_putc(a->b, '"');
		break;
	default:
		if (a->shape == HX__XA_OTLP)
			err |= hx__buf_puts(a->b, "\"stringValue\":");
		err |= hx__xj_str(a->b, v->s, v->len);
		break;
	}
	if (err)
		a->err = HX_ENOMEM;
	put_end(a);
}

void hx__xa_rec(hx__xa *a, const hx__xrec *r)
{
	const uint8_t *p = r->attrs;
	for (unsigned k = 0; k < r->nattrs; k++) {
		hx__xattr v;
		hx__xattr_next(&p, &v);
		hx__xa_attr(a, &v);
	}
}

/* ---- shared facts about the graph ---- */

uint32_t hx__x_same_trace_cause(const hx__dag *d, uint32_t i)
{
	for (uint32_t k = d->cause_off[i]; k < d->cause_off[i + 1]; k++) {
		uint32_t c = d->cause_ev[k];
		if ((d->cause_cls[k] & HX__CC_MASK) == HX__CC_LINKED && c != HX__DAG_NONE &&
		    d->ev_trace[c] == d->ev_trace[i])
			return c;
	}
	return HX__DAG_NONE;
}

const char *hx__x_entity_name(const hx__dag *d, uint32_t e, char *buf, size_t len)
{
	const char *n = hx__dag_str(d, d->entities[e].name);
	if (*n)
		return n;
	snprintf(buf, len, "entity %016llx", (unsigned long long)d->entities[e].id);
	return buf;
}

int hx__x_nonzero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 1;
	return 0;
}

size_t hx__x_first_block(const hx__dag *d, uint32_t from)
{
	size_t lo = 0, hi = d->nblocks;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (d->blocks[m].begin < from)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}
