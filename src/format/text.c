/*
 * text.c - events as a text line or a JSON object (formats described in text.h).
 *
 * Everything a trace carries is untrusted bytes by the time it is printed, so every string goes
 * through an escaper that validates UTF-8 itself. Nothing here takes a lock or reads the time
 * zone: the stderr sink calls it on the recording thread. Numbers that printf would write
 * differently under another LC_NUMERIC (the decimal point) are normalised.
 */
#include "format/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ---- */

void hx__buf_init(hx__buf *b)
{
	b->p = NULL;
	b->len = b->cap = 0;
}

void hx__buf_reset(hx__buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void hx__buf_free(hx__buf *b)
{
	free(b->p);
	hx__buf_init(b);
}

int hx__buf_grow(hx__buf *b, size_t extra)
{
	if (extra >= SIZE_MAX / 2 - b->len)
		return HX_ENOMEM;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return HX_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return HX_ENOMEM;
	if (!b->p)
		p[0] = '\0';
	b->p = p;
	b->cap = cap;
	return HX_OK;
}

int hx__buf_append(hx__buf *b, const void *data, size_t n)
{
	if (hx__buf_grow(b, n))
		return HX_ENOMEM;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return HX_OK;
}

int hx__buf_puts(hx__buf *b, const char *s)
{
	return hx__buf_append(b, s, strlen(s));
}

int hx__buf_putc(hx__buf *b, char c)
{
	return hx__buf_append(b, &c, 1);
}

int hx__buf_printf(hx__buf *b, const char *fmt, ...)
{
	va_list ap;
	if (hx__buf_grow(b, 64))
		return HX_ENOMEM;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->p[b->len] = '\0';
		return HX_ENOMEM;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (hx__buf_grow(b, (size_t)n)) {
			b->p[b->len] = '\0';
			return HX_ENOMEM;
		}
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return HX_OK;
}

/* ---- numbers ---- */

static const char hexdig[] = "0123456789abcdef";

static int put_u64(hx__buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return hx__buf_append(b, tmp + i, sizeof(tmp) - i);
}

static int put_i64(hx__buf *b, int64_t v)
{
	if (v >= 0)
		return put_u64(b, (uint64_t)v);
	if (hx__buf_putc(b, '-'))
		return HX_ENOMEM;
	return put_u64(b, (uint64_t)0 - (uint64_t)v);
}

static int put_hex64(hx__buf *b, uint64_t v)
{
	char tmp[16];
	for (int i = 15; i >= 0; i--, v >>= 4)
		tmp[i] = hexdig[v & 0xf];
	return hx__buf_append(b, tmp, 16);
}

static int put_hex(hx__buf *b, const uint8_t *p, size_t n)
{
	if (hx__buf_grow(b, 2 * n))
		return HX_ENOMEM;
	char *o = b->p + b->len;
	for (size_t i = 0; i < n; i++) {
		*o++ = hexdig[p[i] >> 4];
		*o++ = hexdig[p[i] & 0xf];
	}
	b->len += 2 * n;
	b->p[b->len] = '\0';
	return HX_OK;
}

/* The shortest of %.15g..%.17g that reads back as the same double, with the locale's decimal
 * point turned into '.', and ".0" added to integral values so a double still reads as one. The
 * caller handles NaN and infinities. */
static void fmt_double(char *out, size_t size, double d)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, size, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
	size_t w = 0;
	int frac = 0;
	for (size_t r = 0; out[r];) {
		char c = out[r];
		if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E') {
			if (c == 'e' || c == 'E')
				frac = 1;
			out[w++] = c;
			r++;
			continue;
		}
		out[w++] = '.';
		frac = 1;
		while (out[r] && !((out[r] >= '0' && out[r] <= '9') || out[r] == 'e' || out[r] == 'E'))
			r++;
	}
	if (!frac && w + 2 < size) {
		out[w++] = '.';
		out[w++] = '0';
	}
	out[w] = '\0';
}

static int put_double(hx__buf *b, double d, int json)
{
	if (isnan(d))
		return hx__buf_puts(b, json ? "null" : "nan");
	if (isinf(d))
		return hx__buf_puts(b, json ? "null" : d < 0 ? "-inf" : "inf");
	char tmp[64];
	fmt_double(tmp, sizeof(tmp), d);
	return hx__buf_puts(b, tmp);
}

/* ---- time: civil date from days since the epoch (H. Hinnant's algorithm), no libc calls ---- */

static int put_digits(char *o, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		o[i] = (char)('0' + v % 10);
	return n;
}

int hx__time_iso(hx__buf *b, uint64_t time_ns)
{
	uint64_t secs = time_ns / 1000000000u;
	unsigned ns = (unsigned)(time_ns % 1000000000u);
	int64_t z = (int64_t)(secs / 86400) + 719468;
	unsigned sod = (unsigned)(secs % 86400);
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned day = doy - (153 * mp + 2) / 5 + 1;
	unsigned month = mp < 10 ? mp + 3 : mp - 9;
	unsigned year = (unsigned)(yoe + era * 400 + (month <= 2));
	char o[32];
	int n = 0;
	n += put_digits(o + n, year, 4);
	o[n++] = '-';
	n += put_digits(o + n, month, 2);
	o[n++] = '-';
	n += put_digits(o + n, day, 2);
	o[n++] = 'T';
	n += put_digits(o + n, sod / 3600, 2);
	o[n++] = ':';
	n += put_digits(o + n, sod / 60 % 60, 2);
	o[n++] = ':';
	n += put_digits(o + n, sod % 60, 2);
	o[n++] = '.';
	n += put_digits(o + n, ns, 9);
	o[n++] = 'Z';
	return hx__buf_append(b, o, (size_t)n);
}

/* ---- strings ---- */

/* Length of the valid UTF-8 sequence at s (1..4) and its code point, or 0 if it is invalid
 * (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_seq(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint8_t c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2, v = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, v = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static int put_u00(hx__buf *b, uint32_t cp)
{
	char e[6] = {'\\', 'u', hexdig[(cp >> 12) & 0xf], hexdig[(cp >> 8) & 0xf],
	             hexdig[(cp >> 4) & 0xf], hexdig[cp & 0xf]};
	return hx__buf_append(b, e, 6);
}

/* One escaper for all forms: runs of safe bytes are copied at once. */
static int put_escaped(hx__buf *b, const char *str, size_t n, int json, int quote)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t run = 0, i = 0;
	int err = 0;
	if (hx__buf_grow(b, n + 2))
		return HX_ENOMEM;
	if (quote)
		err |= hx__buf_putc(b, '"');
	while (i < n) {
		uint8_t c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;
			continue;
		}
		uint32_t cp = c;
		size_t len = c < 0x80 ? 1 : utf8_seq(s + i, n - i, &cp);
		int plain_utf8 = len > 1 && !(cp >= 0x80 && cp <= 0x9f) &&
		                 !(json && (cp == 0x2028 || cp == 0x2029));
		if (plain_utf8) {
			i += len;
			continue;
		}
		err |= hx__buf_append(b, s + run, i - run);
		const char *e = NULL;
		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		case '\b': e = json ? "\\b" : NULL; break;
		case '\f': e = json ? "\\f" : NULL; break;
		default: break;
		}
		if (e) {
			err |= hx__buf_puts(b, e);
		} else if (len == 0) {
			if (json)
				err |= hx__buf_puts(b, "\\ufffd");
			else
				err |= hx__buf_printf(b, "\\x%02x", c);
			len = 1;
		} else if (json || cp > 0x7f) {
			err |= put_u00(b, cp);
		} else {
			err |= hx__buf_printf(b, "\\x%02x", c);
		}
		i += len;
		run = i;
	}
	err |= hx__buf_append(b, s + run, i - run);
	if (quote)
		err |= hx__buf_putc(b, '"');
	return err ? HX_ENOMEM : HX_OK;
}

int hx__json_string(hx__buf *b, const char *s, size_t n)
{
	return put_escaped(b, s, n, 1, 1);
}

int hx__text_string(hx__buf *b, const char *s, size_t n)
{
	return put_escaped(b, s, n, 0, 1);
}

int hx__text_plain(hx__buf *b, const char *s, size_t n)
{
	return put_escaped(b, s, n, 0, 0);
}

static int put_key(hx__buf *b, const char *k)
{
	size_t n = strlen(k);
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == ':' || c == '/' || c == '-'))
			return hx__text_string(b, k, n);
	}
	if (n == 0)
		return hx__buf_puts(b, "\"\"");
	return hx__buf_append(b, k, n);
}

static int put_base64(hx__buf *b, const uint8_t *p, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (hx__buf_grow(b, (n + 2) / 3 * 4 + 2))
		return HX_ENOMEM;
	char *o = b->p + b->len;
	*o++ = '"';
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
	*o++ = '"';
	b->len = (size_t)(o - b->p);
	b->p[b->len] = '\0';
	return HX_OK;
}

/* ---- names of enumerations ---- */

static const char *enum_name(int v, const char *const *names, int n)
{
	return v >= 1 && v <= n ? names[v - 1] : NULL;
}

static const char *const entity_kind_names[] = {"thread", "coroutine", "task", "process"};
static const char *const state_names[] = {"running", "waiting"};
static const char *const target_names[] = {"trace", "entity", "block"};
#define NAMES(a) (a), (int)(sizeof(a) / sizeof((a)[0]))

/* A known name, or the number: an unknown value is shown, not hidden. */
static int put_enum(hx__buf *b, int v, const char *s, int json)
{
	if (!s)
		return put_i64(b, v);
	if (json)
		return hx__json_string(b, s, strlen(s));
	return hx__buf_puts(b, s);
}

static int zero16(const uint8_t *t)
{
	static const uint8_t z[16];
	return !memcmp(t, z, 16);
}

static int named_kind(int k)
{
	return k != HX_EV_ENTITY_END && k != HX_EV_TRACE_END && k != HX_EV_BLOCK_END &&
	       k != HX_EV_ANNOTATE && k != HX_EV_STATE;
}

/* ---- the text line ---- */

static int text_attr_value(hx__buf *b, const hx_attr *a)
{
	switch (a->type) {
	case HX_ATTR_INT:
		return put_i64(b, a->v.i);
	case HX_ATTR_DOUBLE:
		return put_double(b, a->v.d, 0);
	case HX_ATTR_BOOL:
		return hx__buf_puts(b, a->v.b ? "true" : "false");
	case HX_ATTR_STRING:
		return hx__text_string(b, a->v.s.ptr, a->v.s.len);
	case HX_ATTR_BYTES: {
		size_t shown = a->v.s.len > 32 ? 32 : a->v.s.len;
		int err = hx__buf_puts(b, "0x");
		err |= put_hex(b, a->v.s.ptr, shown);
		if (shown < a->v.s.len)
			err |= hx__buf_printf(b, "..(%zu bytes)", a->v.s.len);
		return err ? HX_ENOMEM : HX_OK;
	}
	default:
		return hx__buf_printf(b, "?(type %d)", (int)a->type);
	}
}

int hx__event_text(hx__buf *b, const hx_event *ev)
{
	int err = 0;
	int k = ev->kind;
	err |= hx__buf_grow(b, 128);
	err |= hx__time_iso(b, ev->time_ns);
	err |= hx__buf_putc(b, ' ');
	err |= put_hex64(b, ev->entity_id);
	err |= hx__buf_putc(b, ':');
	err |= put_u64(b, ev->seq);
	if (k == HX_EV_TRACE_BEGIN || k == HX_EV_TRACE_JOIN) {
		err |= hx__buf_puts(b, " trace=");
		err |= put_hex(b, ev->trace_id, 16);
	} else if (!zero16(ev->trace_id)) {
		err |= hx__buf_puts(b, " trace=");
		err |= put_hex(b, ev->trace_id + 12, 4);
	}
	err |= hx__buf_putc(b, ' ');
	const char *kn = hx_event_kind_name(k);
	size_t klen = 0;
	if (kn) {
		err |= hx__buf_puts(b, kn);
		klen = strlen(kn);
	} else {
		err |= hx__buf_printf(b, "kind_0x%02x", (unsigned)k & 0xffu);
		klen = 9;
	}
	if (named_kind(k) || ev->name_len) {
		for (; klen < 12; klen++)
			err |= hx__buf_putc(b, ' ');
		err |= hx__buf_putc(b, ' ');
		err |= hx__text_string(b, ev->name ? ev->name : "", ev->name ? ev->name_len : 0);
	}
	switch (k) {
	case HX_EV_ENTITY_BEGIN:
		err |= hx__buf_puts(b, " kind=");
		err |= put_enum(b, ev->entity_kind, enum_name(ev->entity_kind, NAMES(entity_kind_names)), 0);
		if (ev->tid) {
			err |= hx__buf_puts(b, " tid=");
			err |= put_u64(b, ev->tid);
		}
		break;
	case HX_EV_STATE:
		err |= hx__buf_puts(b, " state=");
		err |= put_enum(b, ev->state, enum_name(ev->state, NAMES(state_names)), 0);
		break;
	case HX_EV_ANNOTATE:
		err |= hx__buf_puts(b, " target=");
		err |= put_enum(b, ev->target, enum_name(ev->target, NAMES(target_names)), 0);
		break;
	case HX_EV_CAUSE:
	case HX_EV_EFFECT:
		err |= hx__buf_puts(b, " ia=");
		err |= put_enum(b, ev->interaction, hx_interaction_name(ev->interaction), 0);
		if (ev->resumes)
			err |= hx__buf_puts(b, " resumes");
		break;
	case HX_EV_COUNTER:
		err |= hx__buf_puts(b, " value=");
		if (ev->counter_is_int)
			err |= put_i64(b, ev->counter_int);
		else
			err |= put_double(b, ev->counter_double, 0);
		if (ev->unit && ev->unit[0]) {
			err |= hx__buf_puts(b, " unit=");
			err |= hx__text_string(b, ev->unit, strlen(ev->unit));
		}
		break;
	default:
		break;
	}
	for (size_t i = 0; i < ev->ncauses && ev->causes; i++) {
		const hx_context *c = &ev->causes[i];
		err |= hx__buf_puts(b, " cause=");
		if (zero16(c->trace_id))
			err |= hx__buf_putc(b, '-');
		else
			err |= put_hex(b, c->trace_id + 12, 4);
		err |= hx__buf_putc(b, '/');
		err |= put_hex64(b, c->entity_id);
		err |= hx__buf_putc(b, ':');
		err |= put_u64(b, c->seq);
	}
	for (size_t i = 0; i < ev->nattrs && ev->attrs; i++) {
		const hx_attr *a = &ev->attrs[i];
		err |= hx__buf_putc(b, ' ');
		err |= put_key(b, a->key ? a->key : "(null)");
		err |= hx__buf_putc(b, '=');
		err |= text_attr_value(b, a);
	}
	return err ? HX_ENOMEM : HX_OK;
}

/* ---- the JSON object ---- */

static int json_key(hx__buf *b, const char *k)
{
	int err = hx__buf_putc(b, ',');
	err |= hx__json_string(b, k, strlen(k));
	err |= hx__buf_putc(b, ':');
	return err;
}

static int json_hex64(hx__buf *b, uint64_t v)
{
	int err = hx__buf_putc(b, '"');
	err |= put_hex64(b, v);
	err |= hx__buf_putc(b, '"');
	return err;
}

static int json_trace(hx__buf *b, const uint8_t *t)
{
	if (zero16(t))
		return hx__buf_puts(b, "null");
	int err = hx__buf_putc(b, '"');
	err |= put_hex(b, t, 16);
	err |= hx__buf_putc(b, '"');
	return err;
}

static int json_attr_value(hx__buf *b, const hx_attr *a)
{
	switch (a->type) {
	case HX_ATTR_INT:
		return put_i64(b, a->v.i);
	case HX_ATTR_DOUBLE:
		return put_double(b, a->v.d, 1);
	case HX_ATTR_BOOL:
		return hx__buf_puts(b, a->v.b ? "true" : "false");
	case HX_ATTR_STRING:
		return hx__json_string(b, a->v.s.ptr, a->v.s.len);
	case HX_ATTR_BYTES:
		return put_base64(b, a->v.s.ptr, a->v.s.len);
	default:
		return hx__buf_puts(b, "null");
	}
}

int hx__event_json(hx__buf *b, const hx_event *ev)
{
	int err = 0;
	int k = ev->kind;
	err |= hx__buf_grow(b, 256);
	err |= hx__buf_puts(b, "{\"time_ns\":");
	err |= put_u64(b, ev->time_ns);
	err |= json_key(b, "time");
	err |= hx__buf_putc(b, '"');
	err |= hx__time_iso(b, ev->time_ns);
	err |= hx__buf_putc(b, '"');
	err |= json_key(b, "kind");
	const char *kn = hx_event_kind_name(k);
	if (kn)
		err |= hx__json_string(b, kn, strlen(kn));
	else
		err |= put_i64(b, k);
	err |= json_key(b, "entity");
	err |= json_hex64(b, ev->entity_id);
	err |= json_key(b, "seq");
	err |= put_u64(b, ev->seq);
	err |= json_key(b, "trace");
	err |= json_trace(b, ev->trace_id);
	err |= json_key(b, "name");
	err |= hx__json_string(b, ev->name ? ev->name : "", ev->name ? ev->name_len : 0);
	switch (k) {
	case HX_EV_ENTITY_BEGIN:
		err |= json_key(b, "entity_kind");
		err |= put_enum(b, ev->entity_kind, enum_name(ev->entity_kind, NAMES(entity_kind_names)), 1);
		err |= json_key(b, "tid");
		err |= put_u64(b, ev->tid);
		break;
	case HX_EV_STATE:
		err |= json_key(b, "state");
		err |= put_enum(b, ev->state, enum_name(ev->state, NAMES(state_names)), 1);
		break;
	case HX_EV_ANNOTATE:
		err |= json_key(b, "target");
		err |= put_enum(b, ev->target, enum_name(ev->target, NAMES(target_names)), 1);
		break;
	case HX_EV_CAUSE:
	case HX_EV_EFFECT:
	case HX_EV_TRACE_JOIN:
		err |= json_key(b, "interaction");
		err |= put_enum(b, ev->interaction, hx_interaction_name(ev->interaction), 1);
		if (k == HX_EV_EFFECT) {
			err |= json_key(b, "resumes");
			err |= hx__buf_puts(b, ev->resumes ? "true" : "false");
		}
		break;
	case HX_EV_COUNTER:
		err |= json_key(b, "value");
		if (ev->counter_is_int)
			err |= put_i64(b, ev->counter_int);
		else
			err |= put_double(b, ev->counter_double, 1);
		err |= json_key(b, "unit");
		err |= hx__json_string(b, ev->unit ? ev->unit : "", ev->unit ? strlen(ev->unit) : 0);
		break;
	default:
		break;
	}
	if (k == HX_EV_EFFECT || k == HX_EV_TRACE_JOIN || ev->ncauses) {
		err |= json_key(b, "causes");
		err |= hx__buf_putc(b, '[');
		for (size_t i = 0; i < ev->ncauses && ev->causes; i++) {
			const hx_context *c = &ev->causes[i];
			err |= hx__buf_puts(b, i ? ",{\"trace\":" : "{\"trace\":");
			err |= json_trace(b, c->trace_id);
			err |= json_key(b, "entity");
			err |= json_hex64(b, c->entity_id);
			err |= json_key(b, "seq");
			err |= put_u64(b, c->seq);
			err |= json_key(b, "sampled");
			err |= hx__buf_puts(b, (c->flags & HX_CTX_SAMPLED) ? "true" : "false");
			if (c->flags & HX_CTX_FOREIGN)
				err |= hx__buf_puts(b, ",\"foreign\":true");
			err |= hx__buf_putc(b, '}');
		}
		err |= hx__buf_putc(b, ']');
	}
	err |= json_key(b, "attrs");
	err |= hx__buf_putc(b, '{');
	for (size_t i = 0; i < ev->nattrs && ev->attrs; i++) {
		const hx_attr *a = &ev->attrs[i];
		const char *key = a->key ? a->key : "(null)";
		if (i)
			err |= hx__buf_putc(b, ',');
		err |= hx__json_string(b, key, strlen(key));
		err |= hx__buf_putc(b, ':');
		err |= json_attr_value(b, a);
	}
	err |= hx__buf_puts(b, "}}");
	return err ? HX_ENOMEM : HX_OK;
}
