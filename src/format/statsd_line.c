/*
 * statsd_line.c - statsd lines and datagrams (statsd_line.h).
 */
#include "format/statsd_line.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hx__statsd_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-';
}

/* Bytes of the UTF-8 sequence that starts with lead byte c, as far as the rest of the name
 * holds its continuation bytes: a broken sequence is one byte per character. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t want = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 1;
	if (p[0] < 0x80 || want > n)
		return 1;
	for (size_t i = 1; i < want; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 1;
	return want;
}

size_t hx__statsd_name(char *out, const char *prefix, const char *name, size_t n,
                       const char *suffix)
{
	size_t plen = prefix ? strlen(prefix) : 0, slen = suffix ? strlen(suffix) : 0;
	if (plen > HX__STATSD_PREFIX_MAX)
		plen = HX__STATSD_PREFIX_MAX;
	if (slen > 32)
		slen = 32;
	size_t room = HX__STATSD_NAME_MAX - plen - slen, w = 0;
	memcpy(out, prefix ? prefix : "", plen);
	w = plen;
	const unsigned char *p = (const unsigned char *)(name ? name : "");
	if (n == 0) {
		static const char unnamed[] = "unnamed";
		memcpy(out + w, unnamed, sizeof unnamed - 1);
		w += sizeof unnamed - 1;
	}
	for (size_t i = 0; i < n && w - plen < room;) {
		unsigned char c = p[i];
		if (hx__statsd_name_char(c)) {
			out[w++] = (char)c;
			i++;
		} else {
			out[w++] = c == '/' ? '-' : '_';
			i += utf8_len(p + i, n - i);
		}
	}
	memcpy(out + w, suffix ? suffix : "", slen);
	w += slen;
	out[w] = '\0';
	return w;
}

int hx__statsd_double(char *out, size_t size, double d)
{
	if (!isfinite(d) || size < 32)
		return -1;
	char tmp[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	/* The locale may write the decimal point as ',' (or several bytes): it becomes '.'. */
	size_t w = 0;
	for (size_t r = 0; tmp[r] && w + 1 < size;) {
		char c = tmp[r];
		if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E') {
			out[w++] = c;
			r++;
			continue;
		}
		out[w++] = '.';
		while (tmp[r] && !((tmp[r] >= '0' && tmp[r] <= '9') || tmp[r] == 'e' || tmp[r] == 'E'))
			r++;
	}
	out[w] = '\0';
	return (int)w;
}

/* "|@RATE" for a rate in (0, 1), else nothing. */
static size_t put_rate(char *out, size_t size, double rate)
{
	char r[40];
	if (!(rate > 0.0 && rate < 1.0) || hx__statsd_double(r, sizeof r, rate) < 0)
		return 0;
	int n = snprintf(out, size, "|@%s", r);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static size_t finish(char *out, int n)
{
	if (n < 0)
		n = 0;
	if (n >= HX__STATSD_LINE_MAX)
		n = HX__STATSD_LINE_MAX - 1; /* cannot happen with names of HX__STATSD_NAME_MAX */
	out[n] = '\0';
	return (size_t)n;
}

size_t hx__statsd_timer(char *out, const char *name, uint64_t ns, double rate)
{
	/* milliseconds from the integer ns: exact, with no trailing zeros ("1.5", "2", "0.000001") */
	uint64_t ms = ns / 1000000u;
	unsigned frac = (unsigned)(ns % 1000000u);
	char v[40];
	if (frac) {
		int digits = 6;
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		snprintf(v, sizeof v, "%" PRIu64 ".%0*u", ms, digits, frac);
	} else {
		snprintf(v, sizeof v, "%" PRIu64, ms);
	}
	int n = snprintf(out, HX__STATSD_LINE_MAX, "%s:%s|ms", name, v);
	if (n > 0 && n < HX__STATSD_LINE_MAX)
		n += (int)put_rate(out + n, (size_t)(HX__STATSD_LINE_MAX - n), rate);
	return finish(out, n);
}

size_t hx__statsd_count(char *out, const char *name, int64_t count, double rate)
{
	int n = snprintf(out, HX__STATSD_LINE_MAX, "%s:%" PRId64 "|c", name, count);
	if (n > 0 && n < HX__STATSD_LINE_MAX)
		n += (int)put_rate(out + n, (size_t)(HX__STATSD_LINE_MAX - n), rate);
	return finish(out, n);
}

/* statsd takes "-5" or "+5" as a change of the gauge, not a value: a negative value is set by
 * zeroing the gauge first, in the same datagram so that nothing comes between. */
static size_t gauge(char *out, const char *name, const char *v)
{
	int n;
	if (v[0] == '-')
		n = snprintf(out, HX__STATSD_LINE_MAX, "%s:0|g\n%s:%s|g", name, name, v);
	else
		n = snprintf(out, HX__STATSD_LINE_MAX, "%s:%s|g", name, v);
	return finish(out, n);
}

size_t hx__statsd_gauge_int(char *out, const char *name, int64_t v)
{
	char t[32];
	snprintf(t, sizeof t, "%" PRId64, v);
	return gauge(out, name, t);
}

size_t hx__statsd_gauge_double(char *out, const char *name, double v)
{
	char t[40];
	out[0] = '\0';
	if (hx__statsd_double(t, sizeof t, v) < 0)
		return 0;
	if (!strcmp(t, "-0"))
		t[0] = '0', t[1] = '\0';
	return gauge(out, name, t);
}

int hx__statsd_dgram_add(hx__statsd_dgram *d, const char *line, size_t n)
{
	size_t need = n + (d->len ? 1 : 0);
	if (d->len + need > d->cap)
		return 1;
	if (d->len)
		d->buf[d->len++] = '\n';
	memcpy(d->buf + d->len, line, n);
	d->len += n;
	d->lines++;
	for (size_t i = 0; i < n; i++)
		d->lines += line[i] == '\n';
	return 0;
}
