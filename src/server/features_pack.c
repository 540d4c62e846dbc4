/*
 * features_pack.c - one trace's stored features and dependency calls as bytes (features_pack.h,
 * docs/storage.md "Features"): varints, the packed features that aggregation reads back at a few
 * hundred ns a row without a parser library, and the sparse latency histograms of the dependency
 * edges.
 */
#include "server/features_pack.h"

#include <stdlib.h>
#include <string.h>

#define PACK_VERSION 1

/* ---- varints and strings ---- */

int hx__fpk_varint(hx__buf *b, uint64_t v)
{
	char tmp[10];
	size_t n = 0;
	do {
		tmp[n] = (char)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= (char)0x80;
		n++;
	} while (v);
	return hx__buf_append(b, tmp, n);
}

int hx__fpk_str(hx__buf *b, const char *s)
{
	size_t n = strlen(s ? s : "");
	return hx__fpk_varint(b, n) | hx__buf_append(b, s ? s : "", n);
}

hx__fpk_rd hx__fpk_rd_of(const void *p, size_t n)
{
	static const uint8_t none[1];
	hx__fpk_rd r = {p ? p : none, NULL, 0};
	r.end = r.p + (p ? n : 0);
	return r;
}

uint64_t hx__fpk_get_varint(hx__fpk_rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			r->bad = 1;
			return 0;
		}
		uint8_t c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

const char *hx__fpk_get_str(hx__fpk_rd *r, char **o)
{
	uint64_t n = hx__fpk_get_varint(r);
	if (r->bad || n > (uint64_t)(r->end - r->p)) {
		r->bad = 1;
		return "";
	}
	char *s = *o;
	memcpy(s, r->p, (size_t)n);
	s[n] = '\0';
	*o += n + 1;
	r->p += n;
	return s;
}

/* ---- latency histograms ---- */

unsigned hx__fpk_bin(uint64_t v)
{
	if (v < 64)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	unsigned sub = (unsigned)(v >> (e - 6)) & 63u;
	return 64u + (e - 6) * 64u + sub;
}

/* The midpoint of a bin: within 0.8 % of every value in it. */
static uint64_t mid(unsigned bin)
{
	if (bin < 64)
		return bin;
	unsigned e = (bin - 64) / 64 + 6, sub = (bin - 64) % 64;
	uint64_t lower = (uint64_t)(64 + sub) << (e - 6), width = 1ull << (e - 6);
	return lower + width / 2;
}

/* Sparse form of counts[] (HX__FPK_BINS). */
int hx__fpk_hist_put(hx__buf *b, const uint64_t *counts)
{
	size_t n = 0;
	for (unsigned i = 0; i < HX__FPK_BINS; i++)
		n += counts[i] != 0;
	int err = hx__fpk_varint(b, n);
	unsigned prev = 0;
	for (unsigned i = 0; i < HX__FPK_BINS; i++)
		if (counts[i]) {
			err |= hx__fpk_varint(b, i - prev) | hx__fpk_varint(b, counts[i]);
			prev = i;
		}
	return err;
}

/* Add (sign 1) or take away (sign -1) a sparse histogram into counts[]; -1 if malformed. */
int hx__fpk_hist_merge(hx__fpk_rd *r, uint64_t *counts, int sign)
{
	uint64_t n = hx__fpk_get_varint(r), idx = 0;
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		idx += hx__fpk_get_varint(r);
		uint64_t c = hx__fpk_get_varint(r);
		if (r->bad || idx >= HX__FPK_BINS)
			return -1;
		if (sign > 0)
			counts[idx] += c;
		else
			counts[idx] = counts[idx] > c ? counts[idx] - c : 0;
	}
	return r->bad ? -1 : 0;
}

uint64_t hx__fpk_hist_quantile(const uint64_t *counts, uint64_t total, double q, uint64_t max)
{
	if (!total)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)total);
	if ((double)rank < q * (double)total)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank >= total)
		return max; /* the largest value is known exactly */
	uint64_t seen = 0;
	for (unsigned i = 0; i < HX__FPK_BINS; i++) {
		seen += counts[i];
		if (seen >= rank) {
			uint64_t v = mid(i);
			return v > max ? max : v;
		}
	}
	return max;
}

/* ---- packing features ---- */

int hx__fpk_pack(hx__buf *b, const hx__features *f)
{
	hx__buf_reset(b);
	int err = hx__buf_putc(b, PACK_VERSION) | hx__buf_append(b, f->trace_id, 16);
	const uint64_t nums[] = {f->start_ns, f->end_ns,   f->duration_ns, f->events,
	                         f->entities, f->processes, f->hosts,       f->errors,
	                         f->fanout,   f->critical_ns};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		err |= hx__fpk_varint(b, nums[i]);
	err |= hx__fpk_str(b, f->root_name);
	err |= hx__fpk_varint(b, f->nservices);
	for (size_t i = 0; i < f->nservices; i++)
		err |= hx__fpk_str(b, f->services[i]);
	err |= hx__fpk_varint(b, f->nhost_names);
	for (size_t i = 0; i < f->nhost_names; i++)
		err |= hx__fpk_str(b, f->host_names[i]);
	err |= hx__fpk_varint(b, f->nblocks);
	for (size_t i = 0; i < f->nblocks; i++) {
		const hx__feat_block *k = &f->blocks[i];
		err |= hx__fpk_str(b, k->name) | hx__fpk_varint(b, k->count) | hx__fpk_varint(b, k->total_ns) |
		       hx__fpk_varint(b, k->self_ns) | hx__fpk_varint(b, k->wait_ns) |
		       hx__fpk_varint(b, k->critical_ns);
	}
	err |= hx__fpk_varint(b, f->nattrs);
	for (size_t i = 0; i < f->nattrs; i++)
		err |= hx__fpk_str(b, f->attrs[i].key) | hx__fpk_str(b, f->attrs[i].value);
	return err ? HX_ENOMEM : HX_OK;
}


void hx__fpk_unpacker_free(hx__fpk_unpacker *u)
{
	free(u->strs);
	free(u->services);
	free(u->hosts);
	free(u->blocks);
}

static int grow(void *pp, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *p = realloc(*(void **)pp, c * size);
	if (!p)
		return -1;
	*(void **)pp = p;
	*cap = c;
	return 0;
}

/* HX_OK, HX_ENOMEM, or HX_EDAMAGED for a blob that does not decode. */
int hx__fpk_unpack(hx__fpk_unpacker *u, const void *blob, size_t len)
{
	hx__fpk_rd r = hx__fpk_rd_of(blob, len);
	/* every string costs its bytes plus a NUL, and at least one byte of the blob: twice the
	 * blob is enough for all of them */
	if (grow(&u->strs, &u->strs_cap, 2 * len + 1, 1))
		return HX_ENOMEM;
	char *o = u->strs;
	hx__features *f = &u->f;
	memset(f, 0, sizeof(*f));
	if (len < 17 || r.p[0] != PACK_VERSION)
		return HX_EDAMAGED;
	memcpy(f->trace_id, r.p + 1, 16);
	r.p += 17;
	uint64_t *nums[] = {&f->start_ns, &f->end_ns,   &f->duration_ns, &f->events,
	                    &f->entities, &f->processes, &f->hosts,       &f->errors,
	                    &f->fanout,   &f->critical_ns};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		*nums[i] = hx__fpk_get_varint(&r);
	f->root_name = (char *)hx__fpk_get_str(&r, &o);
	uint64_t n = hx__fpk_get_varint(&r);
	if (r.bad || n > len || grow(&u->services, &u->services_cap, (size_t)n + 1, sizeof(char *)))
		return r.bad || n > len ? HX_EDAMAGED : HX_ENOMEM;
	f->services = u->services;
	f->nservices = (size_t)n;
	for (size_t i = 0; i < f->nservices; i++)
		u->services[i] = (char *)hx__fpk_get_str(&r, &o);
	n = hx__fpk_get_varint(&r);
	if (r.bad || n > len || grow(&u->hosts, &u->hosts_cap, (size_t)n + 1, sizeof(char *)))
		return r.bad || n > len ? HX_EDAMAGED : HX_ENOMEM;
	f->host_names = u->hosts;
	f->nhost_names = (size_t)n;
	for (size_t i = 0; i < f->nhost_names; i++)
		u->hosts[i] = (char *)hx__fpk_get_str(&r, &o);
	n = hx__fpk_get_varint(&r);
	if (r.bad || n > len || grow(&u->blocks, &u->blocks_cap, (size_t)n + 1, sizeof(hx__feat_block)))
		return r.bad || n > len ? HX_EDAMAGED : HX_ENOMEM;
	f->blocks = u->blocks;
	f->nblocks = (size_t)n;
	for (size_t i = 0; i < f->nblocks; i++) {
		hx__feat_block *k = &u->blocks[i];
		k->name = hx__fpk_get_str(&r, &o);
		k->count = hx__fpk_get_varint(&r);
		k->total_ns = hx__fpk_get_varint(&r);
		k->self_ns = hx__fpk_get_varint(&r);
		k->wait_ns = hx__fpk_get_varint(&r);
		k->critical_ns = hx__fpk_get_varint(&r);
	}
	n = hx__fpk_get_varint(&r);
	if (r.bad || n > HX__FEAT_MAX_ATTRS)
		return HX_EDAMAGED;
	f->nattrs = (size_t)n;
	for (size_t i = 0; i < f->nattrs; i++) {
		f->attrs[i].key = (char *)hx__fpk_get_str(&r, &o);
		f->attrs[i].value = (char *)hx__fpk_get_str(&r, &o);
	}
	return r.bad || r.p != r.end ? HX_EDAMAGED : HX_OK;
}

