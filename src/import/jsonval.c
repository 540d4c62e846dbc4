/*
 * jsonval.c - reading JSON values the way both formats need them: IDs in hex (or base64, which
 * some OTLP senders emit by mistake), 64-bit integers given as numbers or decimal strings (proto3's
 * JSON mapping), strings within the limits, OTLP's typed attribute values; and keeping what was
 * read: resources (one per identity) and spans.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "import/import_int.h"

#define POINT_ATTR_BYTES (512u << 10)

json_t *hx__imp_get(const json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);
	if ((!v || json_is_null(v)) && b)
		v = json_object_get(o, b);
	return v && !json_is_null(v) ? v : NULL;
}

int hx__imp_str(hx__import *im, const json_t *v, const hx__jpath *p, const char **out, size_t *len)
{
	*out = "";
	*len = 0;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return hx__imp_reject(im, p, "not a string");
	size_t n = json_string_length(v);
	if (n > im->lim.max_string)
		return hx__imp_reject(im, p, "string of %zu bytes, over the limit of %zu", n,
		                      im->lim.max_string);
	char *s = hx__arena_strdup(&im->arena, json_string_value(v), n);
	if (!s)
		return -2;
	*out = s;
	*len = n;
	return 1;
}

/* ---- numbers ---- */

int hx__imp_u64(const json_t *v, uint64_t *out)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return -1;
		*out = (uint64_t)i;
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0 || n > 20)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

int hx__imp_i64(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		/* an integral double (a JavaScript sender) within range */
		double d = json_real_value(v);
		if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
			return -1;
		*out = (int64_t)d;
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	int neg = n && s[0] == '-';
	if (neg || (n && s[0] == '+')) {
		s++;
		n--;
	}
	if (n == 0 || n > 19)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (unsigned)(s[i] - '0'); /* 19 digits cannot overflow 64 bits */
	}
	if (x > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
		return -1;
	*out = neg ? (int64_t)(0 - x) : (int64_t)x;
	return 0;
}

/* ---- IDs ---- */

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decode base64 into out (room for cap bytes); the decoded length, or -1. */
static long b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	size_t len = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (len > cap)
		return -1;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)o;
}

int hx__imp_base64(hx__import *im, const char *s, size_t n, uint8_t **out, size_t *len)
{
	uint8_t *buf = hx__arena_alloc(&im->arena, n / 4 * 3 + 3);
	if (!buf)
		return -2;
	long got = b64_decode(s, n, buf, n / 4 * 3 + 3);
	if (got < 0)
		return -1;
	*out = buf;
	*len = (size_t)got;
	return 0;
}

int hx__imp_id(hx__import *im, const char *s, size_t n, uint8_t *out, size_t bytes, int pad,
               const hx__jpath *p)
{
	memset(out, 0, bytes);
	int hex = n > 0 && n <= 2 * bytes && (pad || n == 2 * bytes);
	for (size_t i = 0; hex && i < n; i++)
		if (hx__hexval((unsigned char)s[i]) < 0)
			hex = 0;
	if (hex) {
		size_t nib = 2 * bytes - n; /* right-aligned: a short Zipkin ID is left-padded */
		for (size_t i = 0; i < n; i++, nib++) {
			int v = hx__hexval((unsigned char)s[i]);
			out[nib / 2] |= (uint8_t)(nib % 2 ? v : v << 4);
		}
		return 0;
	}
	if (!pad && n >= 4 && n <= 4 * ((bytes + 2) / 3)) {
		uint8_t tmp[16];
		if (b64_decode(s, n, tmp, sizeof(tmp)) == (long)bytes) {
			memcpy(out, tmp, bytes);
			hx__imp_warn(im, HX__IMPORT_WARN_BASE64_ID, p);
			return 0;
		}
	}
	return -1;
}

/* ---- attributes ---- */

int hx__imp_attrs_push(hx__import *im, hx__imp_attrs *l, const hx_attr *a)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		hx_attr *na = hx__arena_alloc(&im->arena, cap * sizeof(*na));
		if (!na)
			return -2;
		if (l->n)
			memcpy(na, l->a, l->n * sizeof(*na));
		l->a = na;
		l->cap = cap;
	}
	l->a[l->n++] = *a;
	return 0;
}

int hx__imp_attr_str(hx__import *im, hx__imp_attrs *l, const char *key, const char *v, size_t n)
{
	char *c = hx__arena_strdup(&im->arena, v, n);
	if (!c)
		return -2;
	hx_attr a = {.key = key, .type = HX_ATTR_STRING};
	a.v.s.ptr = c;
	a.v.s.len = n;
	return hx__imp_attrs_push(im, l, &a);
}

/* A double from an OTLP doubleValue: a number, or a string (proto3 JSON: "NaN", "Infinity",
 * "-Infinity", or a decimal). 0 or -1. */
static int any_double(const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	const char *s = json_string_value(v);
	if (!strcmp(s, "NaN")) {
		*out = NAN;
		return 0;
	}
	if (!strcmp(s, "Infinity") || !strcmp(s, "-Infinity")) {
		*out = s[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (end == s || *end || json_string_length(v) != strlen(s))
		return -1;
	*out = d;
	return 0;
}

/* An array or kvlist value as JSON text, the way the OpenTelemetry collector flattens them for
 * Zipkin. 0, -1 rejected (after the message), -2 no memory. */
static int any_json(hx__import *im, hx__buf *b, const json_t *v, const hx__jpath *p, int depth)
{
	if (depth > HX__IMPORT_VALUE_DEPTH)
		return hx__imp_reject(im, p, "value nested deeper than %d arrays or kvlists",
		                      HX__IMPORT_VALUE_DEPTH);
	if (b->len > im->lim.max_string)
		return hx__imp_reject(im, p, "value longer than %zu bytes as text", im->lim.max_string);
	if (!json_is_object(v))
		return hx__buf_puts(b, "null") ? -2 : 0;
	json_t *x;
	int err = 0;
	if ((x = json_object_get(v, "stringValue")) && json_is_string(x)) {
		err = hx__json_string(b, json_string_value(x), json_string_length(x));
	} else if ((x = json_object_get(v, "boolValue")) && json_is_boolean(x)) {
		err = hx__buf_puts(b, json_is_true(x) ? "true" : "false");
	} else if ((x = json_object_get(v, "intValue"))) {
		int64_t i;
		if (hx__imp_i64(x, &i))
			return hx__imp_reject(im, p, "intValue is not a 64-bit integer");
		err = hx__buf_printf(b, "%lld", (long long)i);
	} else if ((x = json_object_get(v, "doubleValue"))) {
		double d;
		if (any_double(x, &d))
			return hx__imp_reject(im, p, "doubleValue is not a number");
		err = isfinite(d) ? hx__buf_printf(b, "%.17g", d) : hx__buf_puts(b, "null");
	} else if ((x = json_object_get(v, "bytesValue")) && json_is_string(x)) {
		err = hx__json_string(b, json_string_value(x), json_string_length(x));
	} else if ((x = hx__imp_get(v, "arrayValue", "array_value"))) {
		json_t *vals = json_object_get(x, "values");
		err = hx__buf_putc(b, '[');
		size_t i;
		json_t *e;
		json_array_foreach(vals, i, e) {
			hx__jpath q = {p, NULL, i};
			if (i)
				err |= hx__buf_putc(b, ',');
			int rc = any_json(im, b, e, &q, depth + 1);
			if (rc)
				return rc;
		}
		err |= hx__buf_putc(b, ']');
	} else if ((x = hx__imp_get(v, "kvlistValue", "kvlist_value"))) {
		json_t *vals = json_object_get(x, "values");
		err = hx__buf_putc(b, '{');
		size_t i;
		json_t *e;
		json_array_foreach(vals, i, e) {
			hx__jpath q = {p, NULL, i};
			json_t *k = json_object_get(e, "key");
			if (!json_is_string(k))
				return hx__imp_reject(im, &q, "key is not a string");
			if (i)
				err |= hx__buf_putc(b, ',');
			err |= hx__json_string(b, json_string_value(k), json_string_length(k));
			err |= hx__buf_putc(b, ':');
			int rc = any_json(im, b, json_object_get(e, "value"), &q, depth + 1);
			if (rc)
				return rc;
		}
		err |= hx__buf_putc(b, '}');
	} else {
		err = hx__buf_puts(b, "null");
	}
	return err ? -2 : 0;
}

/* One AnyValue as an attribute. 1 kept, 0 dropped (warned), -1 rejected, -2 no memory. */
static int any_value(hx__import *im, const json_t *v, const hx__jpath *p, hx_attr *a)
{
	if (!v)
		return hx__imp_warn(im, HX__IMPORT_WARN_VALUE_DROPPED, p), 0;
	if (!json_is_object(v))
		return hx__imp_reject(im, p, "not an AnyValue object");
	json_t *x;
	if ((x = hx__imp_get(v, "stringValue", "string_value"))) {
		const char *s;
		size_t n;
		int rc = hx__imp_str(im, x, p, &s, &n);
		if (rc < 0)
			return rc;
		a->type = HX_ATTR_STRING;
		a->v.s.ptr = s;
		a->v.s.len = n;
		return 1;
	}
	if ((x = hx__imp_get(v, "boolValue", "bool_value"))) {
		if (!json_is_boolean(x))
			return hx__imp_reject(im, p, "boolValue is not true or false");
		a->type = HX_ATTR_BOOL;
		a->v.b = json_is_true(x);
		return 1;
	}
	if ((x = hx__imp_get(v, "intValue", "int_value"))) {
		if (hx__imp_i64(x, &a->v.i))
			return hx__imp_reject(im, p, "intValue is not a 64-bit integer");
		a->type = HX_ATTR_INT;
		return 1;
	}
	if ((x = hx__imp_get(v, "doubleValue", "double_value"))) {
		if (any_double(x, &a->v.d))
			return hx__imp_reject(im, p, "doubleValue is not a number");
		a->type = HX_ATTR_DOUBLE;
		return 1;
	}
	if ((x = hx__imp_get(v, "bytesValue", "bytes_value"))) {
		uint8_t *bytes;
		size_t n;
		if (!json_is_string(x))
			return hx__imp_reject(im, p, "bytesValue is not a base64 string");
		if (json_string_length(x) / 4 * 3 > im->lim.max_string)
			return hx__imp_reject(im, p, "bytesValue over the limit of %zu bytes",
			                      im->lim.max_string);
		int rc = hx__imp_base64(im, json_string_value(x), json_string_length(x), &bytes, &n);
		if (rc == -2)
			return -2;
		if (rc)
			return hx__imp_reject(im, p, "bytesValue is not valid base64");
		a->type = HX_ATTR_BYTES;
		a->v.s.ptr = bytes;
		a->v.s.len = n;
		return 1;
	}
	if (hx__imp_get(v, "arrayValue", "array_value") || hx__imp_get(v, "kvlistValue", "kvlist_value")) {
		hx__buf b = HX__BUF_INIT;
		int rc = any_json(im, &b, v, p, 0);
		if (rc == 0 && b.len > im->lim.max_string)
			rc = hx__imp_reject(im, p, "value longer than %zu bytes as text", im->lim.max_string);
		const char *s = rc == 0 ? hx__arena_strdup(&im->arena, b.p ? b.p : "", b.len) : NULL;
		size_t n = b.len;
		hx__buf_free(&b);
		if (rc)
			return rc;
		if (!s)
			return -2;
		a->type = HX_ATTR_STRING;
		a->v.s.ptr = s;
		a->v.s.len = n;
		return 1;
	}
	hx__imp_warn(im, HX__IMPORT_WARN_VALUE_DROPPED, p);
	return 0;
}

int hx__imp_otlp_attrs(hx__import *im, const json_t *arr, const hx__jpath *p, hx__imp_attrs *l)
{
	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return hx__imp_reject(im, p, "not an array of key/value pairs");
	if (json_array_size(arr) > im->lim.max_attrs)
		return hx__imp_reject(im, p, "%zu attributes, over the limit of %zu",
		                      json_array_size(arr), im->lim.max_attrs);
	size_t i;
	json_t *kv;
	json_array_foreach(arr, i, kv) {
		hx__jpath q = {p, NULL, i};
		if (!json_is_object(kv))
			return hx__imp_reject(im, &q, "not a key/value object");
		hx__jpath qk = {&q, "key", 0}, qv = {&q, "value", 0};
		const char *key;
		size_t klen;
		json_t *k = json_object_get(kv, "key");
		if (!k)
			return hx__imp_reject(im, &qk, "missing");
		int rc = hx__imp_str(im, k, &qk, &key, &klen);
		if (rc < 0)
			return rc;
		hx_attr a = {.key = key};
		rc = any_value(im, hx__imp_get(kv, "value", NULL), &qv, &a);
		if (rc < 0)
			return rc;
		if (rc == 1 && hx__imp_attrs_push(im, l, &a))
			return -2;
	}
	return 0;
}

/* Remove l->a[i], keeping the order. */
static void attrs_remove(hx__imp_attrs *l, size_t i)
{
	memmove(&l->a[i], &l->a[i + 1], (l->n - i - 1) * sizeof(*l->a));
	l->n--;
}

void hx__imp_hx_span_attrs(hx__imp_span *s, hx__imp_attrs *l)
{
	for (size_t i = 0; i < l->n;) {
		const hx_attr *a = &l->a[i];
		if (a->type == HX_ATTR_STRING && !strcmp(a->key, "hx.entity")) {
			s->entity_key = a->v.s.ptr;
		} else if (a->type == HX_ATTR_STRING && !strcmp(a->key, "hx.trace.name")) {
			s->trace_name = a->v.s.ptr;
			s->trace_name_len = a->v.s.len;
		} else {
			i++;
			continue;
		}
		attrs_remove(l, i);
	}
}

void hx__imp_hx_link_attrs(hx__imp_link *k, hx__imp_attrs *l)
{
	for (size_t i = 0; i < l->n;) {
		const hx_attr *a = &l->a[i];
		int used = a->type == HX_ATTR_STRING;
		if (used && !strcmp(a->key, "hx.interaction")) {
			int kind = 0;
			for (int ia = HX_IA_MESSAGE; ia <= HX_IA_CAUSAL; ia++)
				if (strlen(hx_interaction_name(ia)) == a->v.s.len &&
				    !memcmp(hx_interaction_name(ia), a->v.s.ptr, a->v.s.len))
					kind = ia;
			used = kind != 0;
			k->kind = (uint8_t)kind;
		} else if (used && !strcmp(a->key, "hx.effect")) {
			k->effect_name = a->v.s.ptr;
			k->effect_len = a->v.s.len;
		} else if (used && !strcmp(a->key, "hx.cause")) {
			k->cause_name = a->v.s.ptr;
			k->cause_len = a->v.s.len;
		} else {
			used = 0;
		}
		if (used)
			attrs_remove(l, i);
		else
			i++;
	}
}

const char *hx__imp_res_value(hx__import *im, const char *v, size_t n, const hx__jpath *p)
{
	if (n > 255) {
		n = 255;
		while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80)
			n--; /* do not cut a UTF-8 sequence */
		hx__imp_warn(im, HX__IMPORT_WARN_RESOURCE_CUT, p);
	}
	return hx__arena_strdup(&im->arena, v, n);
}

/* ---- keeping what was read ---- */

static uint64_t res_ident(const hx__imp_res *r)
{
	uint64_t h = hx__imp_hash(0x5265736f75726365ull, r->source, strlen(r->source));
	h = hx__imp_hash(h, r->service, strlen(r->service));
	h = hx__imp_hash(h, r->host, strlen(r->host));
	h = hx__imp_hash(h, &r->pid, sizeof(r->pid));
	return hx__imp_hash(h, r->instance_id, strlen(r->instance_id));
}

static int res_same(const hx__imp_res *a, const hx__imp_res *b)
{
	return a->ident == b->ident && a->pid == b->pid && !strcmp(a->source, b->source) &&
	       !strcmp(a->service, b->service) && !strcmp(a->host, b->host) &&
	       !strcmp(a->instance_id, b->instance_id);
}

int hx__imp_res_add(hx__import *im, const hx__imp_res *r0, uint32_t *out)
{
	hx__imp_res r = *r0;
	r.ident = res_ident(&r);
	if (im->nres * 2 >= im->res_cap) {
		size_t cap = im->res_cap ? im->res_cap * 2 : 64;
		uint32_t *slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return HX_ENOMEM;
		for (size_t i = 0; i < im->nres; i++) {
			size_t h = (size_t)im->res[i].ident & (cap - 1);
			while (slots[h])
				h = (h + 1) & (cap - 1);
			slots[h] = (uint32_t)i + 1;
		}
		free(im->res_slots);
		im->res_slots = slots;
		im->res_cap = cap;
	}
	size_t h = (size_t)r.ident & (im->res_cap - 1);
	for (; im->res_slots[h]; h = (h + 1) & (im->res_cap - 1)) {
		uint32_t i = im->res_slots[h] - 1;
		if (res_same(&im->res[i], &r)) {
			*out = i;
			return HX_OK;
		}
	}
	if (hx__grow((void **)&im->res, &im->cap_res, im->nres + 1, sizeof(*im->res)))
		return HX_ENOMEM;
	im->res[im->nres] = r;
	im->res_slots[h] = (uint32_t)im->nres + 1;
	*out = (uint32_t)im->nres++;
	return HX_OK;
}

int hx__imp_span_count(hx__import *im, const hx__jpath *p)
{
	im->st.spans++;
	im->doc_spans++;
	if (im->st.spans > im->lim.max_spans) {
		hx__imp_doc_error(im, p, "more than %zu spans (the limit)", im->lim.max_spans);
		return HX_EINVAL;
	}
	return HX_OK;
}

int hx__imp_span_add(hx__import *im, const hx__imp_span *s)
{
	if (hx__grow((void **)&im->spans, &im->cap_spans, im->nspans + 1, sizeof(*im->spans)))
		return HX_ENOMEM;
	im->spans[im->nspans++] = *s;
	return HX_OK;
}

static int point_cmp(const void *a, const void *b)
{
	const hx__imp_point *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

void hx__imp_span_fix_times(hx__import *im, hx__imp_span *s, const hx__jpath *p)
{
	if (s->end < s->start) {
		hx__imp_warn(im, HX__IMPORT_WARN_END_BEFORE_START, p);
		s->end = s->start;
	}
	int sorted = 1;
	for (size_t i = 0; i < s->npoints; i++) {
		hx__imp_point *pt = &s->points[i];
		if (pt->time < s->start || pt->time > s->end) {
			hx__imp_warn(im, HX__IMPORT_WARN_EVENT_OUTSIDE, p);
			pt->time = pt->time < s->start ? s->start : s->end;
		}
		pt->ord = (uint32_t)i;
		if (i && pt->time < s->points[i - 1].time)
			sorted = 0;
	}
	if (!sorted)
		qsort(s->points, s->npoints, sizeof(*s->points), point_cmp);
}

size_t hx__imp_point_attrs_fit(hx__import *im, const hx_attr *a, size_t n, const hx__jpath *p)
{
	size_t bytes = 0, i = 0;
	for (; i < n && i < HX_ATTR_MAX; i++) {
		size_t len = strlen(a[i].key) + 16;
		if (a[i].type == HX_ATTR_STRING || a[i].type == HX_ATTR_BYTES)
			len += a[i].v.s.len;
		if (bytes + len > POINT_ATTR_BYTES)
			break;
		bytes += len;
	}
	if (i < n)
		hx__imp_warn(im, HX__IMPORT_WARN_ATTRS_DROPPED, p);
	return i;
}
