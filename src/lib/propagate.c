/*
 * propagate.c - an hx_context in and out of W3C Trace Context headers (traceparent, tracestate),
 * the compact binary form, and the carrier helpers (hx_inject / hx_extract) that also move the
 * baggage (baggage.c). docs/propagation.md describes the mapping and the formats.
 *
 * Everything here works on its arguments only (no lock, no tracer state), so it runs on any
 * thread whether tracing is on or not. Every input is hostile: parsers never read outside
 * [s, s + len), and each rejection is counted as bad_header so an operator can see a peer that
 * sends garbage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <haruspex/propagation.h>

#include "lib/tracer.h"

/* ---- small helpers ------------------------------------------------------------------------- */

static const char hexdig[] = "0123456789abcdef";

/* W3C Trace Context allows lower-case hex only ("HEXDIGLC"); upper case is a malformed header. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode 2 * n hex digits into n bytes; -1 on a non-hex digit. */
static int hex_bytes(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Decode 1..16 hex digits into a u64; -1 on a bad digit or length. */
static int hex_u64(const char *s, size_t n, uint64_t *out)
{
	if (n == 0 || n > 16)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hexval(s[i]);
		if (d < 0)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

static void put_hex_bytes(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[b[i] >> 4];
		out[2 * i + 1] = hexdig[b[i] & 15];
	}
}

static void put_hex_u64(char *out, uint64_t v)
{
	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = hexdig[v & 15];
}

static int is_zero(const uint8_t *b, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

/* OWS of RFC 7230 (space and horizontal tab): HTTP stacks usually strip it around a field value,
 * but not all do, and the W3C test suite sends it on purpose. */
static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void trim_ows(const char **s, size_t *len)
{
	const char *p = *s;
	size_t n = *len;
	while (n && is_ows(p[0]))
		p++, n--;
	while (n && is_ows(p[n - 1]))
		n--;
	*s = p;
	*len = n;
}

/* A rejected header: counted, reported as HX_EFORMAT. */
static int bad_header(void)
{
	hx__count(HX_COUNT_BAD_HEADER);
	return HX_EFORMAT;
}

static int ctx_has_trace(const hx_context *ctx)
{
	return ctx && (ctx->flags & HX_CTX_VALID) && !is_zero(ctx->trace_id, 16);
}

/* ---- the parent-id digest ------------------------------------------------------------------ */

/* The splitmix64 finalizer: a bijection of 64-bit words with full avalanche. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* mix(mix(entity) ^ seq): for one entity, distinct seqs give distinct digests (a bijection of
 * seq), and entities are spread by the inner mix. The one seq whose digest would be 0 (W3C
 * forbids an all-zero parent-id) is mapped to a fixed non-zero value instead. */
uint64_t hx_event_digest(uint64_t entity_id, uint64_t seq)
{
	uint64_t h = mix64(mix64(entity_id ^ 0x9e3779b97f4a7c15ull) ^ seq);
	return h ? h : 0x6878646967657374ull; /* "hxdigest" */
}

/* The parent-id a context is sent with: the digest of its event, or for a foreign context the
 * parent-id it arrived with (a proxy that extracts and injects passes the foreign span on). */
static uint64_t parent_id_of(const hx_context *ctx)
{
	if (ctx->flags & HX_CTX_FOREIGN)
		return ctx->entity_id;
	return hx_event_digest(ctx->entity_id, ctx->seq);
}

/* ---- traceparent --------------------------------------------------------------------------- */

/* Layout of version 00: "vv-" 32 hex "-" 16 hex "-" 2 hex. */
#define TP_TRACE_OFF 3
#define TP_PARENT_OFF 36
#define TP_FLAGS_OFF 53

int hx_traceparent_format(const hx_context *ctx, char *buf, size_t len)
{
	if (!buf)
		return HX_EINVAL;
	if (len)
		buf[0] = 0;
	if (!ctx_has_trace(ctx))
		return HX_EINVAL;
	uint64_t parent = parent_id_of(ctx);
	if (parent == 0) /* a foreign context with entity_id 0 was never parsed from a header */
		return HX_EINVAL;
	if (len < HX_TRACEPARENT_LEN + 1)
		return HX_ENOSPC;
	memcpy(buf, "00-", 3);
	put_hex_bytes(buf + TP_TRACE_OFF, ctx->trace_id, 16);
	buf[TP_PARENT_OFF - 1] = '-';
	put_hex_u64(buf + TP_PARENT_OFF, parent);
	buf[TP_FLAGS_OFF - 1] = '-';
	buf[TP_FLAGS_OFF] = '0';
	buf[TP_FLAGS_OFF + 1] = (ctx->flags & HX_CTX_SAMPLED) ? '1' : '0';
	buf[HX_TRACEPARENT_LEN] = 0;
	return HX_OK;
}

int hx_traceparent_parse(const char *s, size_t len, hx_context *out)
{
	if (!out)
		return HX_EINVAL;
	memset(out, 0, sizeof *out);
	if (!s)
		return HX_EINVAL;
	trim_ows(&s, &len);
	if (len < HX_TRACEPARENT_LEN)
		return bad_header();
	uint8_t version, flags, trace[16], parent[8];
	if (hex_bytes(s, 1, &version) || version == 0xff || s[2] != '-')
		return bad_header();
	/* Version 00 has exactly this length. A later version may append fields, which a version-00
	 * parser skips, but only after a '-' (so "cc-...-01.x" is still malformed). */
	int extra = len > HX_TRACEPARENT_LEN;
	if (version == 0 ? extra : (extra && s[HX_TRACEPARENT_LEN] != '-'))
		return bad_header();
	if (hex_bytes(s + TP_TRACE_OFF, 16, trace) || s[TP_PARENT_OFF - 1] != '-' ||
	    hex_bytes(s + TP_PARENT_OFF, 8, parent) || s[TP_FLAGS_OFF - 1] != '-' ||
	    hex_bytes(s + TP_FLAGS_OFF, 1, &flags))
		return bad_header();
	if (is_zero(trace, 16) || is_zero(parent, 8))
		return bad_header();
	memcpy(out->trace_id, trace, 16);
	uint64_t pid = 0;
	for (int i = 0; i < 8; i++)
		pid = pid << 8 | parent[i];
	out->entity_id = pid;
	out->seq = 0;
	/* Only the sampled bit has a meaning in level 1; other flag bits are ignored, as asked. */
	out->flags = HX_CTX_VALID | HX_CTX_FOREIGN | ((flags & 1) ? HX_CTX_SAMPLED : 0);
	return HX_OK;
}

/* ---- tracestate ---------------------------------------------------------------------------- */

#define TS_MAX_MEMBERS 32
#define TS_KEY_MAX 256
#define TS_TENANT_MAX 241
#define TS_SYSTEM_MAX 14
#define TS_VALUE_MAX 256
#define TS_LONG_MEMBER 128 /* W3C: when truncating, drop members longer than this first */

static int ts_lcalpha(char c)
{
	return c >= 'a' && c <= 'z';
}

static int ts_keychar(char c)
{
	return ts_lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
}

/* key = simple-key / multi-tenant-key
 * simple-key       = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
 * multi-tenant-key = tenant-id "@" system-id
 * tenant-id        = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
 * system-id        = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" ) */
static int ts_key_ok(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);
	if (!at) {
		if (n == 0 || n > TS_KEY_MAX || !ts_lcalpha(k[0]))
			return 0;
		for (size_t i = 1; i < n; i++)
			if (!ts_keychar(k[i]))
				return 0;
		return 1;
	}
	size_t tn = (size_t)(at - k), sn = n - tn - 1;
	if (tn == 0 || tn > TS_TENANT_MAX || sn == 0 || sn > TS_SYSTEM_MAX)
		return 0;
	if (!(ts_lcalpha(k[0]) || (k[0] >= '0' && k[0] <= '9')) || !ts_lcalpha(at[1]))
		return 0;
	for (size_t i = 1; i < tn; i++)
		if (!ts_keychar(k[i]))
			return 0;
	for (size_t i = 2; i <= sn; i++) /* at[1] checked above; a second '@' fails here */
		if (!ts_keychar(at[i]))
			return 0;
	return 1;
}

/* value = 0*255(chr) nblk-chr;  nblk-chr = %x21-2B / %x2D-3C / %x3E-7E;  chr = %x20 / nblk-chr */
static int ts_value_ok(const char *v, size_t n)
{
	if (n == 0 || n > TS_VALUE_MAX || v[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
			return 0;
	}
	return 1;
}

typedef struct ts_member {
	const char *key, *val;
	size_t klen, vlen;
} ts_member;

typedef struct ts_iter {
	const char *p, *end;
	int done;
} ts_iter;

enum { TS_END, TS_EMPTY, TS_MEMBER, TS_BAD };

/* The next list-member of a tracestate: TS_MEMBER (well formed, in *m), TS_EMPTY (an empty or
 * blank member, which W3C allows because joined headers produce them), TS_BAD, or TS_END. */
static int ts_next(ts_iter *it, ts_member *m)
{
	if (it->done)
		return TS_END;
	const char *q = memchr(it->p, ',', (size_t)(it->end - it->p));
	const char *s = it->p;
	size_t n;
	if (q) {
		n = (size_t)(q - s);
		it->p = q + 1;
	} else {
		n = (size_t)(it->end - s);
		it->done = 1;
	}
	trim_ows(&s, &n);
	if (n == 0)
		return TS_EMPTY;
	const char *eq = memchr(s, '=', n);
	if (!eq)
		return TS_BAD;
	m->key = s;
	m->klen = (size_t)(eq - s);
	m->val = eq + 1;
	m->vlen = n - m->klen - 1;
	return ts_key_ok(m->key, m->klen) && ts_value_ok(m->val, m->vlen) ? TS_MEMBER : TS_BAD;
}

static void ts_iter_init(ts_iter *it, const char *s, size_t len)
{
	it->p = s;
	it->end = s + len;
	it->done = 0;
}

static int ts_is_hx(const ts_member *m)
{
	return m->klen == 2 && m->key[0] == 'h' && m->key[1] == 'x';
}

/* Our member's value: 16 hex digits of the entity ID, '-', 1..16 hex digits of the seq. */
static int hx_member_parse(const ts_member *m, uint64_t *entity, uint64_t *seq)
{
	if (m->vlen < 18 || m->val[16] != '-')
		return -1;
	if (hex_u64(m->val, 16, entity) || hex_u64(m->val + 17, m->vlen - 17, seq) || *entity == 0)
		return -1;
	return 0;
}

/* "hx=<entity 16 hex>-<seq hex, no leading zeros>" into out (>= 37 bytes); returns its length. */
static size_t hx_member_format(char *out, uint64_t entity, uint64_t seq)
{
	memcpy(out, "hx=", 3);
	put_hex_u64(out + 3, entity);
	out[19] = '-';
	char tmp[16];
	put_hex_u64(tmp, seq);
	size_t skip = 0;
	while (skip < 15 && tmp[skip] == '0')
		skip++;
	memcpy(out + 20, tmp + skip, 16 - skip);
	return 20 + 16 - skip;
}

int hx_tracestate_apply(const char *s, size_t len, hx_context *ctx)
{
	if (!ctx || (!s && len))
		return HX_EINVAL;
	if (!s)
		return HX_OK;
	ts_iter it;
	ts_member m, hx = {NULL, NULL, 0, 0};
	int found = 0, members = 0, r;
	ts_iter_init(&it, s, len);
	/* Validate the whole list before using any of it: a header that is malformed anywhere is
	 * not trusted anywhere (ctx stays as it was). */
	while ((r = ts_next(&it, &m)) != TS_END) {
		if (r == TS_EMPTY)
			continue;
		if (r == TS_BAD || ++members > TS_MAX_MEMBERS)
			return bad_header();
		if (ts_is_hx(&m) && !found) { /* a duplicate hx: the first one is ours, as we put it first */
			hx = m;
			found = 1;
		}
	}
	if (!found)
		return HX_OK;
	uint64_t entity, seq;
	if (hx_member_parse(&hx, &entity, &seq))
		return bad_header();
	/* Only a match proves that the parent-id is that event: another tracer between us and the
	 * sender keeps our member (as W3C asks) while sending its own span as parent-id, and then
	 * the direct cause is that foreign span. */
	if ((ctx->flags & HX_CTX_VALID) && (ctx->flags & HX_CTX_FOREIGN) &&
	    hx_event_digest(entity, seq) == ctx->entity_id) {
		ctx->entity_id = entity;
		ctx->seq = seq;
		ctx->flags &= ~HX_CTX_FOREIGN;
	}
	return HX_OK;
}

int hx_tracestate_format(const hx_context *ctx, const char *prev, char *buf, size_t len)
{
	if (!buf)
		return HX_EINVAL;
	if (len)
		buf[0] = 0;
	if (!ctx || !(ctx->flags & HX_CTX_VALID))
		return HX_EINVAL;
	if (len == 0)
		return HX_ENOSPC;

	char own[40];
	size_t own_len = 0;
	/* A foreign context has no Haruspex event to name: only the members that came with it. */
	if (!(ctx->flags & HX_CTX_FOREIGN)) {
		if (ctx->entity_id == 0)
			return HX_EINVAL;
		own_len = hx_member_format(own, ctx->entity_id, ctx->seq);
	}

	/* The members of prev that we pass on: well formed, not ours, first of their key. */
	ts_member keep[TS_MAX_MEMBERS];
	size_t nkeep = 0, room = TS_MAX_MEMBERS - (own_len ? 1 : 0);
	if (prev) {
		ts_iter it;
		ts_member m;
		int r;
		ts_iter_init(&it, prev, strlen(prev));
		while ((r = ts_next(&it, &m)) != TS_END) {
			if (r == TS_EMPTY || (r == TS_MEMBER && ts_is_hx(&m)))
				continue;
			if (r == TS_BAD) {
				hx__count(HX_COUNT_BAD_HEADER);
				continue;
			}
			int dup = 0;
			for (size_t i = 0; i < nkeep && !dup; i++)
				dup = keep[i].klen == m.klen && !memcmp(keep[i].key, m.key, m.klen);
			if (dup) { /* W3C keys are unique: a repeated key is a malformed member */
				hx__count(HX_COUNT_BAD_HEADER);
				continue;
			}
			if (nkeep < room) /* over 32 members: the rightmost are dropped, as W3C says */
				keep[nkeep++] = m;
		}
	}

	/* Size limit: W3C says to drop members longer than 128 bytes first, then from the right. */
	size_t total = own_len;
	for (size_t i = 0; i < nkeep; i++)
		total += (total ? 1 : 0) + keep[i].klen + 1 + keep[i].vlen;
	int drop_long = total > HX_TRACESTATE_MAX;

	size_t out = 0;
	char tmp[HX_TRACESTATE_MAX + 1];
	memcpy(tmp, own, own_len);
	out = own_len;
	for (size_t i = 0; i < nkeep; i++) {
		size_t mlen = keep[i].klen + 1 + keep[i].vlen;
		if (drop_long && mlen > TS_LONG_MEMBER)
			continue;
		size_t need = (out ? 1 : 0) + mlen;
		if (out + need > HX_TRACESTATE_MAX)
			break;
		if (out)
			tmp[out++] = ',';
		memcpy(tmp + out, keep[i].key, keep[i].klen);
		out += keep[i].klen;
		tmp[out++] = '=';
		memcpy(tmp + out, keep[i].val, keep[i].vlen);
		out += keep[i].vlen;
	}
	if (out + 1 > len)
		return HX_ENOSPC;
	memcpy(buf, tmp, out);
	buf[out] = 0;
	return HX_OK;
}

/* ---- binary form --------------------------------------------------------------------------- */

/* offset size
 *    0    1   version (1)
 *    1    1   flags: bit 0 sampled, bit 1 foreign; bits 2-7 zero (a new meaning takes a new
 *             version, so an old reader never misreads one)
 *    2   16   trace ID (as in traceparent)
 *   18    8   entity ID, little-endian
 *   26  1-10  seq, unsigned LEB128, shortest form */
#define BIN_FIXED 26
#define BIN_SAMPLED 0x01u
#define BIN_FOREIGN 0x02u

int hx_context_to_binary(const hx_context *ctx, uint8_t *buf, size_t len)
{
	if (!buf || !ctx_has_trace(ctx) || ctx->entity_id == 0)
		return HX_EINVAL;
	uint8_t tmp[HX_CONTEXT_BINARY_MAX];
	tmp[0] = HX_CONTEXT_BINARY_VERSION;
	tmp[1] = (uint8_t)(((ctx->flags & HX_CTX_SAMPLED) ? BIN_SAMPLED : 0) |
	                   ((ctx->flags & HX_CTX_FOREIGN) ? BIN_FOREIGN : 0));
	memcpy(tmp + 2, ctx->trace_id, 16);
	hx__put_le64(tmp + 18, ctx->entity_id);
	size_t n = (size_t)(hx__put_varint(tmp + BIN_FIXED, ctx->seq) - tmp);
	if (len < n)
		return HX_ENOSPC;
	memcpy(buf, tmp, n);
	return (int)n;
}

int hx_context_from_binary(const uint8_t *buf, size_t len, hx_context *out)
{
	if (!out)
		return HX_EINVAL;
	memset(out, 0, sizeof *out);
	if (!buf && len)
		return HX_EINVAL;
	if (len < BIN_FIXED + 1 || buf[0] != HX_CONTEXT_BINARY_VERSION)
		return bad_header();
	if (buf[1] & ~(BIN_SAMPLED | BIN_FOREIGN))
		return bad_header();
	if (is_zero(buf + 2, 16))
		return bad_header();
	uint64_t entity = hx__le64(buf + 18);
	if (entity == 0)
		return bad_header();
	/* The shortest form only: one context has one encoding, and a padded varint ("0x80 0x00")
	 * is a sign of a broken writer. hx__get_varint already refuses truncation and overflow. */
	const uint8_t *p = buf + BIN_FIXED;
	uint64_t seq;
	if (hx__get_varint(&p, buf + len, &seq))
		return bad_header();
	size_t vlen = (size_t)(p - (buf + BIN_FIXED));
	if (vlen > 1 && p[-1] == 0)
		return bad_header();
	memcpy(out->trace_id, buf + 2, 16);
	out->entity_id = entity;
	out->seq = seq;
	out->flags = HX_CTX_VALID | ((buf[1] & BIN_SAMPLED) ? HX_CTX_SAMPLED : 0) |
	             ((buf[1] & BIN_FOREIGN) ? HX_CTX_FOREIGN : 0);
	return (int)(BIN_FIXED + vlen);
}

/* ---- carriers ------------------------------------------------------------------------------ */

int hx_inject(const hx_context *ctx, const char *prev_tracestate, hx_header_set_fn set,
              void *carrier)
{
	if (!set)
		return HX_EINVAL;
	char tp[HX_TRACEPARENT_LEN + 1], ts[HX_TRACESTATE_MAX + 1];
	int rc = hx_traceparent_format(ctx, tp, sizeof tp);
	if (rc != HX_OK)
		return rc;
	rc = hx_tracestate_format(ctx, prev_tracestate, ts, sizeof ts);
	if (rc != HX_OK)
		return rc;
	/* The size query first: most traces carry no baggage, and then nothing is allocated. */
	int blen = hx_baggage_format(ctx->trace_id, NULL, 0);
	char *bg = NULL;
	if (blen > 0) {
		/* The baggage may grow between the query and the copy (another thread of the trace):
		 * the largest it can be is the W3C limit, so take that much room. */
		bg = malloc(HX_BAGGAGE_MAX_BYTES + 1);
		if (!bg)
			return HX_ENOMEM;
		blen = hx_baggage_format(ctx->trace_id, bg, HX_BAGGAGE_MAX_BYTES + 1);
	}
	rc = HX_OK;
	if (set(carrier, "traceparent", tp) != 0)
		rc = HX_EIO;
	/* W3C: vendors SHOULD avoid sending an empty tracestate. */
	else if (ts[0] && set(carrier, "tracestate", ts) != 0)
		rc = HX_EIO;
	else if (blen > 0 && set(carrier, "baggage", bg) != 0)
		rc = HX_EIO;
	free(bg);
	return rc;
}

int hx_extract(hx_header_get_fn get, void *carrier, hx_context *out)
{
	if (!out)
		return HX_EINVAL;
	memset(out, 0, sizeof *out);
	if (!get)
		return HX_EINVAL;
	size_t n = 0;
	const char *v = get(carrier, "traceparent", &n);
	/* Without a valid traceparent the tracestate and baggage are dropped (W3C: a tracestate
	 * without its traceparent MUST be discarded; baggage has no trace to be stored for). */
	if (!v)
		return HX_ENOENT;
	int rc = hx_traceparent_parse(v, n, out);
	if (rc != HX_OK)
		return rc;
	n = 0;
	v = get(carrier, "tracestate", &n);
	if (v)
		hx_tracestate_apply(v, n, out); /* malformed: counted, the parent stays foreign */
	n = 0;
	v = get(carrier, "baggage", &n);
	if (v)
		hx_baggage_parse(out->trace_id, v, n); /* bad members: counted, good ones kept */
	return HX_OK;
}

/* ASCII case-insensitive equality of a NUL-terminated header name with a lower-case name (no
 * locale: header names are ASCII tokens). */
static int name_eq(const char *a, const char *lower)
{
	for (;; a++, lower++) {
		char c = *a;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != *lower)
			return 0;
		if (!c)
			return 1;
	}
}

typedef struct pairs_carrier {
	const hx_header_pair *pairs;
	size_t n;
	char *joined[2]; /* tracestate, baggage joined from several fields; freed by the caller */
	int njoined;
} pairs_carrier;

/* A field sent several times is one comma-separated list (RFC 7230 section 3.2.2): join the
 * values. If memory is short, the first field alone is used (the rest is lost, not garbled). */
static const char *pairs_get(void *carrier, const char *name, size_t *len)
{
	pairs_carrier *c = carrier;
	size_t count = 0, total = 0;
	const char *first = NULL;
	for (size_t i = 0; i < c->n; i++) {
		if (!c->pairs[i].name || !c->pairs[i].value || !name_eq(c->pairs[i].name, name))
			continue;
		if (!first)
			first = c->pairs[i].value;
		count++;
		total += strlen(c->pairs[i].value) + 1;
	}
	if (count <= 1 || c->njoined == 2) {
		if (first)
			*len = strlen(first);
		return first;
	}
	char *j = malloc(total);
	if (!j) {
		*len = strlen(first);
		return first;
	}
	size_t off = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (!c->pairs[i].name || !c->pairs[i].value || !name_eq(c->pairs[i].name, name))
			continue;
		size_t l = strlen(c->pairs[i].value);
		if (off)
			j[off++] = ',';
		memcpy(j + off, c->pairs[i].value, l);
		off += l;
	}
	j[off] = 0;
	c->joined[c->njoined++] = j;
	*len = off;
	return j;
}

int hx_extract_pairs(const hx_header_pair *pairs, size_t n, hx_context *out)
{
	if (!out)
		return HX_EINVAL;
	memset(out, 0, sizeof *out);
	if (!pairs && n)
		return HX_EINVAL;
	/* Two traceparent fields cannot be joined into one: W3C treats that as no valid parent. */
	size_t ntp = 0;
	for (size_t i = 0; i < n; i++)
		ntp += pairs[i].name && pairs[i].value && name_eq(pairs[i].name, "traceparent");
	if (ntp > 1)
		return bad_header();
	pairs_carrier c = {pairs, n, {NULL, NULL}, 0};
	int rc = hx_extract(pairs_get, &c, out);
	free(c.joined[0]);
	free(c.joined[1]);
	return rc;
}
