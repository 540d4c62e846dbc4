/*
 * query.c - query strings of the HTTP API (query.h): decoding, then one validator per endpoint.
 *
 * Every check here says which parameter failed and what it accepts, because the caller of an API
 * usually learns the API from its errors. Numbers are parsed by hand rather than with strtoull so
 * that a sign, spaces, a hex prefix or an overflow are all refused the same way.
 */
#include "server/query.h"
#include "format/format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}


int hx__parse_hex(const char *s, size_t n, uint8_t *out)
{
	if (n % 2 || strlen(s) != n)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hx__hexval((unsigned char)s[i]), lo = hx__hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* ---- decoding ---- */

/* Decode [s, s+n) into out (room for n+1 bytes); -1 on bad %-escapes or a NUL. */
static int pct_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hx__hexval((unsigned char)s[i + 1]), lo = hx__hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

void hx__query_free(hx__query *q)
{
	free(q->buf);
	q->buf = NULL;
	q->n = 0;
}

const char *hx__query_get(const hx__query *q, const char *key)
{
	for (size_t i = 0; i < q->n; i++)
		if (!strcmp(q->p[i].key, key))
			return q->p[i].value;
	return NULL;
}

int hx__query_parse(hx__query *q, const char *qs, size_t len, const char *const *allowed,
                    char *err, size_t errlen)
{
	q->buf = NULL;
	q->n = 0;
	if (!qs || !len)
		return 0;
	if (len > HX__QUERY_MAX_BYTES)
		return fail(err, errlen, "query string longer than %d bytes", HX__QUERY_MAX_BYTES);
	/* each pair decodes to at most its own length plus two NULs */
	q->buf = malloc(len + 2 * HX__QUERY_MAX_PARAMS + 2);
	if (!q->buf)
		return fail(err, errlen, "out of memory");
	char *o = q->buf;
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && qs[j] != '&')
			j++;
		if (j == i) { /* "a=1&&b=2" or a trailing '&': nothing between */
			i = j + 1;
			continue;
		}
		if (q->n == HX__QUERY_MAX_PARAMS) {
			hx__query_free(q);
			return fail(err, errlen, "more than %d query parameters", HX__QUERY_MAX_PARAMS);
		}
		const char *eq = memchr(qs + i, '=', j - i);
		size_t klen = eq ? (size_t)(eq - (qs + i)) : j - i;
		char *key = o;
		if (pct_decode(qs + i, klen, key)) {
			hx__query_free(q);
			return fail(err, errlen, "bad percent-encoding or NUL byte in a parameter name");
		}
		o += strlen(key) + 1;
		char *value = o;
		if (eq && pct_decode(eq + 1, (size_t)(qs + j - (eq + 1)), value)) {
			int r = fail(err, errlen, "bad percent-encoding or NUL byte in the value of '%.64s'",
			             key);
			hx__query_free(q);
			return r;
		}
		if (!eq)
			value[0] = '\0';
		o += strlen(value) + 1;
		int known = 0;
		for (size_t a = 0; allowed && allowed[a]; a++)
			if (!strcmp(allowed[a], key))
				known = 1;
		if (!known) {
			int r = fail(err, errlen, "unknown parameter '%.64s'", key);
			hx__query_free(q);
			return r;
		}
		if (hx__query_get(q, key)) {
			int r = fail(err, errlen, "parameter '%s' given twice", key);
			hx__query_free(q);
			return r;
		}
		if (!value[0]) {
			int r = fail(err, errlen, "parameter '%s' is empty", key);
			hx__query_free(q);
			return r;
		}
		q->p[q->n].key = key;
		q->p[q->n].value = value;
		q->n++;
		i = j + 1;
	}
	return 0;
}

/* ---- values ---- */

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int fixed_digits(const char *s, int n, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int rfc3339(const char *s, uint64_t *ns)
{
	unsigned Y, M, D, h, mi, sec;
	size_t n = strlen(s);
	if (n < 20 || fixed_digits(s, 4, &Y) || s[4] != '-' || fixed_digits(s + 5, 2, &M) ||
	    s[7] != '-' || fixed_digits(s + 8, 2, &D) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || fixed_digits(s + 11, 2, &h) ||
	    s[13] != ':' || fixed_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    fixed_digits(s + 17, 2, &sec))
		return -1;
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	const char *p = s + 19;
	uint64_t frac = 0;
	if (*p == '.') {
		int digits = 0;
		p++;
		while (*p >= '0' && *p <= '9') {
			if (++digits > 9)
				return -1;
			frac = frac * 10 + (uint64_t)(*p - '0');
			p++;
		}
		if (!digits)
			return -1;
		for (; digits < 9; digits++)
			frac *= 10;
	}
	int64_t off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		unsigned oh, om;
		if (fixed_digits(p + 1, 2, &oh) || p[3] != ':' || fixed_digits(p + 4, 2, &om) ||
		    oh > 23 || om > 59)
			return -1;
		off = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	int64_t secs = days_from_civil(Y, M, D) * 86400 + (int64_t)(h * 3600 + mi * 60 + sec) - off;
	if (secs < 0 || (uint64_t)secs > (UINT64_MAX - frac) / 1000000000u)
		return -1;
	*ns = (uint64_t)secs * 1000000000u + frac;
	return 0;
}

int hx__parse_time(const char *s, uint64_t *ns)
{
	if (all_digits(s))
		return parse_u64(s, strlen(s), ns);
	return rfc3339(s, ns);
}

/* A decimal number times a unit: integer and fraction kept exact (no floating point). */
static int scaled(const char *s, size_t n, uint64_t unit, uint64_t *out)
{
	const char *dot = memchr(s, '.', n);
	size_t ilen = dot ? (size_t)(dot - s) : n;
	uint64_t ip, v;
	if (parse_u64(s, ilen, &ip) || (ip && ip > UINT64_MAX / unit))
		return -1;
	v = ip * unit;
	if (dot) {
		/* digit k of the fraction adds digit * unit / 10^k: exact for every unit down to the
		 * nanosecond, and parts of a nanosecond are dropped */
		size_t flen = n - ilen - 1;
		if (flen == 0 || flen > 9)
			return -1;
		uint64_t pow10 = 1;
		for (size_t i = 0; i < flen; i++) {
			char c = dot[1 + i];
			if (c < '0' || c > '9')
				return -1;
			pow10 *= 10;
			uint64_t add = (uint64_t)(c - '0') * (unit / pow10);
			if (v > UINT64_MAX - add)
				return -1;
			v += add;
		}
	}
	*out = v;
	return 0;
}

int hx__parse_duration(const char *s, uint64_t *ns)
{
	size_t n = strlen(s), d = 0;
	while (d < n && ((s[d] >= '0' && s[d] <= '9') || s[d] == '.'))
		d++;
	const char *u = s + d;
	if (d == 0)
		return -1;
	if (!*u)
		return memchr(s, '.', n) ? -1 : parse_u64(s, n, ns);
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {{"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"ms", 1000000},
	             {"s", 1000000000ull}, {"m", 60000000000ull}, {"h", 3600000000000ull},
	             {"d", 86400000000000ull}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(u, units[i].name))
			return scaled(s, d, units[i].ns, ns);
	return -1;
}

int hx__parse_size(const char *s, uint64_t *bytes)
{
	size_t n = strlen(s), d = 0;
	while (d < n && s[d] >= '0' && s[d] <= '9')
		d++;
	uint64_t v, mul = 1;
	if (parse_u64(s, d, &v))
		return -1;
	const char *u = s + d;
	if (*u) {
		static const char units[] = "KMGT";
		const char *k = strchr(units, u[0] & ~0x20);
		if (!k || !u[0])
			return -1;
		for (const char *x = units; x <= k; x++)
			mul *= 1024;
		if (u[1] && strcmp(u + 1, "iB") && strcmp(u + 1, "B"))
			return -1;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*bytes = v * mul;
	return 0;
}

/* ---- endpoints ---- */

static int time_param(const hx__query *q, const char *key, uint64_t *out, char *err, size_t errlen)
{
	const char *v = hx__query_get(q, key);
	if (v && hx__parse_time(v, out))
		return fail(err, errlen,
		            "'%s' must be a time: ns since the epoch, or RFC 3339 such as "
		            "2026-11-24T10:20:00Z (got '%.64s')", key, v);
	return 0;
}

static int duration_param(const hx__query *q, const char *key, uint64_t *out, char *err,
                          size_t errlen)
{
	const char *v = hx__query_get(q, key);
	if (v && hx__parse_duration(v, out))
		return fail(err, errlen,
		            "'%s' must be a duration: ns, or a number with a unit ns, us, ms, s, m, h "
		            "such as 5ms or 2s (got '%.64s')", key, v);
	return 0;
}

static int text_param(const char *key, const char *v, char *err, size_t errlen)
{
	if (v && strlen(v) > 4096)
		return fail(err, errlen, "'%s' is longer than 4096 bytes", key);
	return 0;
}

int hx__search_parse(hx__search_req *r, const char *qs, size_t len, char *err, size_t errlen)
{
	static const char *const allowed[] = {"from", "to", "service", "entity", "name",
	                                      "min_duration", "max_duration", "attr", "error",
	                                      "sort", "limit", "cursor", NULL};
	memset(r, 0, sizeof(*r));
	if (hx__query_parse(&r->raw, qs, len, allowed, err, errlen))
		return -1;
	hx__query *q = &r->raw;
	hx_store_query *s = &r->q;
	const char *v;
	if (time_param(q, "from", &s->from_ns, err, errlen) ||
	    time_param(q, "to", &s->to_ns, err, errlen) ||
	    duration_param(q, "min_duration", &s->min_duration_ns, err, errlen) ||
	    duration_param(q, "max_duration", &s->max_duration_ns, err, errlen))
		goto bad;
	if (s->from_ns && s->to_ns && s->from_ns > s->to_ns) {
		fail(err, errlen, "'from' is after 'to'");
		goto bad;
	}
	if (s->min_duration_ns && s->max_duration_ns && s->min_duration_ns > s->max_duration_ns) {
		fail(err, errlen, "'min_duration' is greater than 'max_duration'");
		goto bad;
	}
	s->service = hx__query_get(q, "service");
	s->entity_name = hx__query_get(q, "entity");
	s->name = hx__query_get(q, "name");
	if (text_param("service", s->service, err, errlen) ||
	    text_param("entity", s->entity_name, err, errlen) ||
	    text_param("name", s->name, err, errlen))
		goto bad;
	if ((v = hx__query_get(q, "attr"))) {
		char *eq = strchr(v, '=');
		if (!eq || eq == v) {
			fail(err, errlen, "'attr' must be key=value, such as attr=http.route%%3D/cart "
			                  "(got '%.64s')", v);
			goto bad;
		}
		if (text_param("attr", v, err, errlen))
			goto bad;
		*eq = '\0'; /* the decoded copy is ours */
		s->attr_key = v;
		s->attr_value = eq + 1;
	}
	if ((v = hx__query_get(q, "error"))) {
		if (!strcmp(v, "true"))
			s->error = 1;
		else if (!strcmp(v, "false"))
			s->error = -1;
		else {
			fail(err, errlen, "'error' must be true or false (got '%.64s')", v);
			goto bad;
		}
	}
	s->sort = HX_SORT_START_DESC;
	if ((v = hx__query_get(q, "sort"))) {
		if (!strcmp(v, "-start"))
			s->sort = HX_SORT_START_DESC;
		else if (!strcmp(v, "start"))
			s->sort = HX_SORT_START_ASC;
		else if (!strcmp(v, "-duration"))
			s->sort = HX_SORT_DURATION_DESC;
		else if (!strcmp(v, "duration"))
			s->sort = HX_SORT_DURATION_ASC;
		else {
			fail(err, errlen, "'sort' must be start, -start, duration or -duration (got '%.64s')",
			     v);
			goto bad;
		}
	}
	s->limit = 20;
	if ((v = hx__query_get(q, "limit"))) {
		uint64_t l;
		if (!all_digits(v) || parse_u64(v, strlen(v), &l) || l < 1 || l > HX__QUERY_LIMIT_MAX) {
			fail(err, errlen, "'limit' must be a number from 1 to %d (got '%.64s')",
			     HX__QUERY_LIMIT_MAX, v);
			goto bad;
		}
		s->limit = (size_t)l;
	}
	if ((v = hx__query_get(q, "cursor"))) {
		size_t n = strlen(v);
		int ok = n <= HX__QUERY_CURSOR_MAX;
		for (size_t i = 0; ok && i < n; i++)
			ok = v[i] > 0x20 && v[i] < 0x7f;
		if (!ok) {
			fail(err, errlen, "'cursor' must be the next_cursor of an earlier page");
			goto bad;
		}
		s->cursor = v;
	}
	return 0;
bad:
	hx__search_free(r);
	return -1;
}

void hx__search_free(hx__search_req *r)
{
	hx__query_free(&r->raw);
	memset(&r->q, 0, sizeof(r->q));
}

int hx__fetch_parse(hx__fetch_req *r, const char *id, const char *qs, size_t len, char *err,
                    size_t errlen)
{
	static const char *const allowed[] = {"from", "to", "entity", "format", NULL};
	memset(r, 0, sizeof(*r));
	if (!id || hx__parse_hex(id, 32, r->trace_id))
		return fail(err, errlen, "a trace ID is 32 hex digits (got '%.64s')", id ? id : "");
	hx__query q;
	if (hx__query_parse(&q, qs, len, allowed, err, errlen))
		return -1;
	const char *v;
	int rc = -1;
	if (time_param(&q, "from", &r->w.from_ns, err, errlen) ||
	    time_param(&q, "to", &r->w.to_ns, err, errlen))
		goto out;
	if (r->w.from_ns && r->w.to_ns && r->w.from_ns > r->w.to_ns) {
		fail(err, errlen, "'from' is after 'to'");
		goto out;
	}
	if ((v = hx__query_get(&q, "entity"))) {
		uint8_t b[8];
		if (hx__parse_hex(v, 16, b)) {
			fail(err, errlen, "'entity' must be an entity ID, 16 hex digits (got '%.64s')", v);
			goto out;
		}
		for (int i = 0; i < 8; i++)
			r->w.entity_id = r->w.entity_id << 8 | b[i];
		if (!r->w.entity_id) {
			fail(err, errlen, "'entity' must not be 0");
			goto out;
		}
	}
	if ((v = hx__query_get(&q, "format"))) {
		if (!strcmp(v, "json"))
			r->format = HX__FETCH_JSON;
		else if (!strcmp(v, "hx"))
			r->format = HX__FETCH_HX;
		else {
			fail(err, errlen, "'format' must be json or hx (got '%.64s')", v);
			goto out;
		}
	}
	rc = 0;
out:
	hx__query_free(&q);
	return rc;
}

int hx__names_parse(int *kind, const char *qs, size_t len, char *err, size_t errlen)
{
	static const char *const allowed[] = {"kind", NULL};
	hx__query q;
	if (hx__query_parse(&q, qs, len, allowed, err, errlen))
		return -1;
	const char *v = hx__query_get(&q, "kind");
	int rc = 0;
	*kind = 0;
	if (!v)
		*kind = 0;
	else if (!strcmp(v, "block"))
		*kind = HX_EV_BLOCK_BEGIN;
	else if (!strcmp(v, "point"))
		*kind = HX_EV_POINT;
	else if (!strcmp(v, "entity"))
		*kind = HX_EV_ENTITY_BEGIN;
	else
		rc = fail(err, errlen, "'kind' must be block, point or entity (got '%.64s')", v);
	hx__query_free(&q);
	return rc;
}

int hx__noparams_parse(const char *qs, size_t len, char *err, size_t errlen)
{
	static const char *const allowed[] = {NULL};
	hx__query q;
	if (hx__query_parse(&q, qs, len, allowed, err, errlen))
		return -1;
	hx__query_free(&q);
	return 0;
}
