/*
 * view_int.h - the viewer's model inside: what the files of src/view/ share (view.h is the door
 * for everyone else). docs/analysis.md, "The viewer's model", describes it in prose.
 *
 * Layout. Everything hangs off the trace DAG (v->d) by index: events, blocks and waits keep the
 * DAG's numbers, lanes are entities in display order. Per lane the level-of-detail indices are
 *   - interval sets (hx__vset): one per block depth and one for waits, intervals sorted by start
 *     with a running maximum of the ends, so the first interval overlapping a time is found by
 *     bisection; two pyramids of maxima over each set (widths, and gaps to the next interval)
 *     find the end of a run of narrow intervals in O(log n) without visiting them;
 *   - points: times and event indices, sorted by time;
 *   - counter tracks: one per counter name, samples sorted by time, with a min/max pyramid.
 * Arrows (linked causes) are interval sets too (from the earlier end to the later), once over
 * the whole trace and once per (cause lane, effect lane) pair, each with its upper ends sorted,
 * so the arrows touching a window are counted exactly by bisection.
 *
 * A built model is read-only; nothing here is written after hx__view_builder_finish() but the
 * cache's bookkeeping (v->cache_entry, protected by the cache's lock).
 */
#ifndef HX_VIEW_VIEW_INT_H
#define HX_VIEW_VIEW_INT_H

#include <stdint.h>
#include <string.h>

#include "view/view.h"

__extension__ typedef unsigned __int128 hx__u128;

/* ---- pyramids (pyr.c): maxima of 16 at each level, over an implicit level 0 ---- */

#define HX__PYR_FAN 16

/* What level 0 of an interval set's pyramid is. */
enum {
	HX__PYR_WIDTH = 0, /* end - start */
	HX__PYR_GAP = 1    /* start of the next interval - running max end (the last: infinite) */
};

#define HX__PYR_LEVELS 16

typedef struct hx__pyr {
	const uint64_t *start, *end, *maxend; /* the set's arrays, already offset to its first */
	uint32_t n;
	const uint64_t *nodes;                /* levels 1.. back to back */
	int what;                             /* HX__PYR_* */
	/* filled by hx__pyr_init: each level's size and offset in nodes */
	int levels;
	size_t sz[HX__PYR_LEVELS], off[HX__PYR_LEVELS];
} hx__pyr;

size_t hx__pyr_nodes(size_t n);          /* nodes above level 0 for n values */
/* Set p's arrays and compute its level table (once, before the calls below). */
void hx__pyr_init(hx__pyr *p, const uint64_t *start, const uint64_t *end, const uint64_t *maxend,
                  uint32_t n, const uint64_t *nodes, int what);
void hx__pyr_build(const hx__pyr *p, uint64_t *nodes);
/* First index >= i whose value is >= thr, or n. */
uint32_t hx__pyr_first_ge(const hx__pyr *p, uint32_t i, uint64_t thr);
/* Maximum over [a, b) (0 when empty). */
uint64_t hx__pyr_max(const hx__pyr *p, uint32_t a, uint32_t b);

/* Minimum and maximum of doubles (counter samples): nodes hold (min, max) pairs. */
size_t hx__cpyr_nodes(size_t n);         /* doubles needed above level 0 */
void hx__cpyr_build(const double *v, uint32_t n, double *nodes);
void hx__cpyr_range(const double *v, uint32_t n, const double *nodes, uint32_t a, uint32_t b,
                    double *mn, double *mx);

/* ---- sorting (sort.c) ---- */

/* Sort idx[0..n) by key[0..n) (both permuted), stably: LSD radix on the bits that differ. */
int hx__vsort(uint64_t *key, uint32_t *idx, size_t n);

/* ---- attributes (attrs.c) ----
 * An event's record in the blob is a run of entries: a type byte, then
 *   HX_ATTR_*: varint key length, key, value (INT and DOUBLE 8 bytes, BOOL 1, STRING and BYTES a
 *              varint length and the bytes);
 *   HX__VA_COUNTER_INT / _DOUBLE: the value (8 bytes), varint unit length, unit. */
enum { HX__VA_COUNTER_INT = 0x10, HX__VA_COUNTER_DOUBLE = 0x11 };

typedef struct hx__vattr {
	int type;                 /* HX_ATTR_* or HX__VA_COUNTER_* */
	const char *key;          /* counters: NULL */
	size_t klen;
	int64_t i;                /* INT, BOOL (0/1), COUNTER_INT */
	double d;                 /* DOUBLE, COUNTER_DOUBLE */
	const char *s;            /* STRING, BYTES; counters: the unit */
	size_t slen;
} hx__vattr;

/* Bytes the record of ev takes (0 when it has no attributes and is no counter). */
size_t hx__vattr_size(const hx_event *ev);
/* Write it at out (hx__vattr_size(ev) bytes). */
void hx__vattr_encode(const hx_event *ev, uint8_t *out);
/* The next entry of [*p, end): 1 and *p advanced, or 0 at the end or on a malformed entry. */
int hx__vattr_next(const uint8_t **p, const uint8_t *end, hx__vattr *a);

/* ---- the model ---- */

typedef struct hx__vset {
	size_t base;              /* first interval in the shared arrays */
	uint32_t n;
	size_t pyr;               /* first node of the width pyramid; the gap pyramid follows */
} hx__vset;

typedef struct hx__vproc {
	char *host, *service, *program;
	uint64_t pid;
	int64_t offset_ns;
	uint32_t first_lane, nlanes;
	uint64_t first_ns;
} hx__vproc;

typedef struct hx__vlane {
	uint32_t entity, proc;
	uint32_t depth;           /* block rows: deepest depth + 1, 0 without blocks */
	uint32_t bset;            /* its first block set (depth 0); depth d is bset + d */
	uint32_t events;
	uint64_t first_ns, last_ns;
} hx__vlane;

typedef struct hx__vtrack {
	uint32_t lane, name;      /* name: interned */
	uint32_t first, n;        /* samples [first, first + n) */
	uint32_t unit_ev;         /* an event whose record names the unit */
	size_t pyr;               /* first double of its min/max pyramid */
	double min, max;
} hx__vtrack;

typedef struct hx__varrow {
	uint64_t t_cause, t_effect;
	uint64_t seq_cause, seq_effect;
	uint32_t cause, effect;   /* event indices */
	uint32_t ent_cause, ent_effect;
	uint32_t lane_cause, lane_effect;
	uint8_t ia, resumes;
} hx__varrow;

typedef struct hx__vaset {
	size_t base;
	uint32_t n;
} hx__vaset;

struct hx__view {
	hx__dag *d;
	uint8_t trace_id[16];
	int has_trace_id;         /* the model is of one given trace */
	uint32_t cp_trace;        /* the trace the critical path walks (HX__DAG_NONE: all) */
	uint64_t start_ns, end_ns;

	/* interned strings as JSON literals, quotes included; entity IDs as 16 hex digits */
	char *jstr;
	size_t *jstr_off;         /* nstr + 1 */
	char *ent_hex;            /* 16 per entity */

	hx__vproc *procs;
	size_t nprocs;
	hx__vlane *lanes;
	size_t nlanes;
	uint32_t *ent_lane;       /* per DAG entity; HX__DAG_NONE for entities without events */

	/* interval sets: blocks (one set per lane and depth), then waits (one per lane) */
	hx__vset *bsets;
	size_t nbsets;
	hx__vset *wsets;          /* nlanes */
	uint64_t *iv_start, *iv_end, *iv_max;
	uint32_t *iv_id;          /* block or wait index */
	size_t niv;
	uint64_t *iv_pyr;
	size_t niv_pyr;

	/* points, and the gaps between them as a pyramid per lane; errors' times apart */
	uint32_t *pt_off;         /* nlanes + 1 */
	uint64_t *pt_time;
	uint32_t *pt_ev;
	size_t npt;
	size_t *pt_pyr;           /* per lane: its first node in pt_nodes */
	uint64_t *pt_nodes;
	size_t npt_nodes;
	uint32_t *err_off;        /* nlanes + 1 */
	uint64_t *err_time;

	/* counters */
	hx__vtrack *tracks;
	size_t ntracks;
	uint32_t *lane_track;     /* nlanes + 1: tracks of lane l are [lane_track[l], [l + 1]) */
	uint64_t *ct_time;
	double *ct_val;
	uint32_t *ct_ev;
	size_t nct;
	double *ct_pyr;
	size_t nct_pyr;

	/* effects: the DAG's linked causes reversed (CSR by cause, effects in index order) */
	uint32_t *eff_off;        /* n + 1 */
	uint32_t *eff_ev;
	/* arrows = linked causes, one record each (all an arrow's answer needs, in one cache
	 * line), numbered in the order of their earlier end: the whole trace's set is [0, n) */
	hx__varrow *arrows;
	size_t narrows;
	hx__vaset as_all;
	hx__vaset *pairs;         /* one per (cause lane, effect lane) with arrows */
	uint32_t *pair_lane;      /* 2 per pair: cause lane, effect lane */
	size_t npairs;
	uint32_t *lane_pair_off;  /* nlanes + 1, into lane_pairs: pairs a lane is an end of */
	uint32_t *lane_pairs;
	uint64_t *as_lo, *as_maxhi, *as_hi; /* per set: lo sorted, running max of hi; hi sorted */
	uint32_t *as_id;          /* per set member: its arrow (the whole set: the identity) */
	size_t nas;

	int64_t *blk_self;        /* per block: its duration minus its children's */

	uint32_t *attr_off;       /* n + 1, into blob */
	uint8_t *blob;
	size_t blob_len;
	uint64_t attrs_dropped;   /* events whose attributes did not fit the 4 GiB blob */

	size_t bytes;
	void *cache_entry;        /* the cache's, under its lock */
};

/* A process as the builder was told of it (the caller's index). */
typedef struct hx__vdesc {
	char *host, *service, *program;
	uint64_t pid;
	int64_t offset_ns;
	int set;
} hx__vdesc;

#define HX__VPROC_UNKNOWN UINT32_MAX /* an entity whose process was never named */

/* Steps of hx__view_builder_finish, each filling its part of v from v->d (HX_OK/HX_ENOMEM). */
/* lanes.c: processes and lanes in display order, from each DAG entity's process (ent_proc, the
 * caller's index or HX__VPROC_UNKNOWN) and the descriptions (ndesc of them). */
int hx__view_lanes(hx__view *v, const uint32_t *ent_proc, const hx__vdesc *desc, size_t ndesc);
int hx__view_index_sets(hx__view *v);     /* index.c: block and wait sets, points, counters */
int hx__view_index_arrows(hx__view *v);   /* arrows.c */
int hx__view_json_strings(hx__view *v);   /* json.c */

/* ---- JSON pieces (json.c); each HX_OK or HX_ENOMEM ---- */

int hx__vj_u64(hx__buf *b, uint64_t x);
int hx__vj_i64(hx__buf *b, int64_t x);
int hx__vj_double(hx__buf *b, double x);  /* shortest round trip; NaN and infinities: null */
int hx__vj_name(hx__buf *b, const hx__view *v, uint32_t str); /* an interned string */
int hx__vj_cstr(hx__buf *b, const char *s);
int hx__vj_id(hx__buf *b, const hx__view *v, uint32_t e);      /* "ENTITY:SEQ" */
int hx__vj_hex16(hx__buf *b, const uint8_t id[16]);          /* "32 hex" */
int hx__vj_entity(hx__buf *b, uint64_t id);                    /* "16 hex" */
/* {"e":N,"id":"…"} */
int hx__vj_ref(hx__buf *b, const hx__view *v, uint32_t e);
/* An attribute's value: numbers, true/false, strings, bytes as base64. */
int hx__vj_attr_value(hx__buf *b, const hx__vattr *a);
/* The events' attributes as one object (counters: nothing). */
int hx__vj_attrs(hx__buf *b, const hx__view *v, uint32_t e);

/* ---- writing into reserved room (the hot items of /lod): reserve with hx__buf_grow for
 * HX__VW_ITEM_MAX bytes plus the names written, then write through a char pointer ---- */

#define HX__VW_ITEM_MAX 512     /* an item's fixed text: keys, numbers, IDs */
#define HX__VW_LIT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) + sizeof(lit) - 1)

extern const char hx__vw_digits[201]; /* "00" "01" .. "99" */
static inline char *hx__vw_u64(char *o, uint64_t x)
{
	char tmp[20];
	int i = 20;
	while (x >= 100) {
		uint64_t r = x % 100;
		x /= 100;
		i -= 2;
		memcpy(tmp + i, hx__vw_digits + 2 * r, 2);
	}
	if (x >= 10) {
		i -= 2;
		memcpy(tmp + i, hx__vw_digits + 2 * x, 2);
	} else {
		tmp[--i] = (char)('0' + x);
	}
	memcpy(o, tmp + i, (size_t)(20 - i));
	return o + (20 - i);
}
static inline size_t hx__vw_name_len(const hx__view *v, uint32_t str)
{
	if (str >= v->d->nstr)
		str = 0;
	return v->jstr_off[str + 1] - v->jstr_off[str];
}
static inline char *hx__vw_name(char *o, const hx__view *v, uint32_t str)
{
	if (str >= v->d->nstr)
		str = 0;
	size_t n = v->jstr_off[str + 1] - v->jstr_off[str];
	memcpy(o, v->jstr + v->jstr_off[str], n);
	return o + n;
}
/* "ENTITY:SEQ", quoted */
static inline char *hx__vw_id(char *o, const hx__view *v, uint32_t e)
{
	*o++ = '"';
	memcpy(o, v->ent_hex + 16 * (size_t)v->d->ev_entity[e], 16);
	o += 16;
	*o++ = ':';
	o = hx__vw_u64(o, v->d->ev_seq[e]);
	*o++ = '"';
	return o;
}
/* Commit what was written from b->p + b->len up to o. */
static inline void hx__vw_done(hx__buf *b, char *o)
{
	b->len = (size_t)(o - b->p);
	b->p[b->len] = '\0';
}

/* JSON literals (quoted) of event kind and interaction names: "point", "message" ... */
const char *hx__vj_kind(uint8_t kind);
const char *hx__vj_interaction(uint8_t ia);

/* ---- small shared helpers ---- */

static inline uint64_t hx__v_time(const hx__view *v, uint32_t e)
{
	return v->d->ev_time[e];
}
static inline uint32_t hx__v_lane(const hx__view *v, uint32_t e)
{
	return v->ent_lane[v->d->ev_entity[e]];
}
/* The kinds drawn as points: instants that are not bookkeeping (entity and annotation events),
 * state changes (waits), counters (tracks) or block ends. */
static inline int hx__v_is_point(uint8_t kind)
{
	return kind == HX_EV_POINT || kind == HX_EV_ERROR || kind == HX_EV_CAUSE || kind == HX_EV_EFFECT ||
	       kind == HX_EV_TRACE_BEGIN || kind == HX_EV_TRACE_JOIN || kind == HX_EV_TRACE_END;
}
/* First index in a[0..n) with a[i] >= x / > x. */
static inline size_t hx__v_lower(const uint64_t *a, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
static inline size_t hx__v_upper(const uint64_t *a, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
/* Mark the lanes of a request in sel (nlanes bytes): HX_EINVAL with a message for a bad one. */
int hx__view_lane_select(const hx__view *v, const uint32_t *lanes, size_t nlanes, uint8_t *sel,
                         char *err, size_t errlen);

/* The arrows touching [from, to] whose lanes are selected (sel NULL: all): at most `budget`
 * appended to out as JSON array elements (comma-separated, first without a leading comma when
 * *first is set), their number in *emitted, the others in *left_out (arrows.c). */
int hx__view_arrows_json(const hx__view *v, uint64_t from, uint64_t to, const uint8_t *sel,
                         uint64_t budget, hx__buf *out, uint64_t *emitted, uint64_t *left_out);

#endif /* HX_VIEW_VIEW_INT_H */
