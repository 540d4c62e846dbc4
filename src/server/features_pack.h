/*
 * features_pack.h - the byte formats inside features.db (docs/storage.md, "Features"), shared by
 * features_db.c: varints (unsigned LEB128) and strings (a varint length and the bytes), one
 * trace's features packed, and latency histograms.
 *
 * Histograms: values below 64 ns have a bin each; above, each power of two is cut into 64 equal
 * bins, so a bin is at most 1/64 of its values wide and its midpoint within 0.8 % of any value in
 * it. Stored sparse: varint bin count, then per bin varint (index - previous index), varint count.
 *
 * Readers never trust the bytes: a reader that runs out or meets a malformed varint sets `bad`
 * and returns zeros. Thread safety: touches only its arguments.
 */
#ifndef HX_SERVER_FEATURES_PACK_H
#define HX_SERVER_FEATURES_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/trace_features.h"
#include "format/text.h"

#define HX__FPK_BINS (64 + 58 * 64)

/* ---- writing (HX_OK, or nonzero when out of memory) ---- */
int hx__fpk_varint(hx__buf *b, uint64_t v);
int hx__fpk_str(hx__buf *b, const char *s);   /* NULL as "" */

/* ---- reading ---- */
typedef struct hx__fpk_rd {
	const uint8_t *p, *end;
	int bad;
} hx__fpk_rd;
/* A reader over n bytes at p (SQLite gives NULL for an empty blob). */
hx__fpk_rd hx__fpk_rd_of(const void *p, size_t n);
uint64_t hx__fpk_get_varint(hx__fpk_rd *r);
/* A string, copied NUL-terminated to *o, which moves past it: *o needs room for the string's
 * bytes and a NUL, which never exceeds twice the bytes the reader has. */
const char *hx__fpk_get_str(hx__fpk_rd *r, char **o);

/* ---- histograms ---- */
unsigned hx__fpk_bin(uint64_t v);
int hx__fpk_hist_put(hx__buf *b, const uint64_t *counts);            /* counts[HX__FPK_BINS] */
/* Add (sign 1) or take away (sign -1, not below 0) a stored histogram into counts; -1 if it is
 * malformed (what was read is applied). */
int hx__fpk_hist_merge(hx__fpk_rd *r, uint64_t *counts, int sign);
/* Quantile q by nearest rank over total values; the largest rank is max, exact. */
uint64_t hx__fpk_hist_quantile(const uint64_t *counts, uint64_t total, double q, uint64_t max);

/* ---- packed features ---- */
int hx__fpk_pack(hx__buf *b, const hx__features *f);   /* replaces b's contents */

/* Features read back: they point into the unpacker's memory, reused row after row (never to be
 * given to hx__features_free). Zero it before the first use. */
typedef struct hx__fpk_unpacker {
	hx__features f;
	char *strs;
	size_t strs_cap;
	char **services;
	size_t services_cap;
	char **hosts;
	size_t hosts_cap;
	hx__feat_block *blocks;
	size_t blocks_cap;
} hx__fpk_unpacker;
void hx__fpk_unpacker_free(hx__fpk_unpacker *u);
/* HX_OK, HX_ENOMEM, or HX_EDAMAGED for bytes that do not decode. */
int hx__fpk_unpack(hx__fpk_unpacker *u, const void *blob, size_t len);

#endif /* HX_SERVER_FEATURES_PACK_H */
