/*
 * lod.c - GET /lod: what a window of the trace shows at a given width (docs/http-api.md).
 *
 * The window [from, to] has px columns; `m` (min_px, raised when the answer would be too big) is
 * the merge width in columns and tw the time it spans. Per lane:
 *   - blocks, per depth: the set is bisected to the first block that can overlap the window;
 *     from there, a block at least tw wide is sent whole; a narrow one starts a run that takes
 *     every following block up to the first wide one or the first gap of at least tw (both found
 *     with the set's pyramids, without visiting what is merged), so a run is a stretch that
 *     would draw as one solid bar; it says how many blocks it holds and names the longest. A
 *     "run" of one block is sent as the block.
 *   - waits: the same, on the lane's wait set.
 *   - points: the same idea: a point at least tw from its neighbours is sent whole; closer ones
 *     are binned (first and last time, count, errors among them), a bin ending at the first gap
 *     of tw (the lane's gap pyramid). So points sharing a column are always binned, and a dense
 *     stretch is one bin, not one per column.
 *   - counters: per track and bin of m columns, [time of the first sample, min, max] (the min and
 *     max from the track's pyramid), plus the last sample before the window and the first after
 *     it, so lines reach the edges.
 * Every step is a bisection or a pyramid walk per item sent, so the cost is
 * O(lanes x depth x log n + items). Arrows come first (at most a fifth of max_items and one per
 * column, sampled evenly: arrows.c).
 *
 * The cap: before emitting, each lane's items at merge width m are counted by a dry run of the
 * same walks (exact for blocks, waits and points; one per non-empty bin for counter samples, an
 * upper bound), stopping as soon as the total passes the budget (or, after a sample of an
 * eighth of the lanes, as soon as the total scaled up passes it by a quarter), and m doubles
 * until it fits. So the answer is written once and never exceeds max_items. At m >= px nothing
 * merges further: lanes that do not fit are left out whole, listed, and their contents counted.
 * The summary counts what was sent whole, merged and left out; they add up to what the window
 * holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/view_int.h"

#define PX_MAX 16384u
#define MIN_PX_MAX 64u
#define ITEMS_MIN 100u
#define ITEMS_MAX 200000u
#define ITEMS_DEFAULT 50000u
#define PASSES 8      /* the dry runs' sample: lanes k, k + 8, k + 16 ... first */
#define SAMPLE_MIN 8  /* lanes counted before the total so far is scaled up to judge */

typedef struct counts {
	uint64_t blocks_whole, blocks_merged, runs;
	uint64_t points_whole, points_binned, bins;
	uint64_t waits_whole, waits_merged, wait_runs;
	uint64_t samples;
} counts;

static uint64_t items_of(const counts *c)
{
	return c->blocks_whole + c->runs + c->points_whole + c->bins + c->waits_whole + c->wait_runs +
	       c->samples;
}

static void counts_add(counts *a, const counts *b)
{
	a->blocks_whole += b->blocks_whole;
	a->blocks_merged += b->blocks_merged;
	a->runs += b->runs;
	a->points_whole += b->points_whole;
	a->points_binned += b->points_binned;
	a->bins += b->bins;
	a->waits_whole += b->waits_whole;
	a->waits_merged += b->waits_merged;
	a->wait_runs += b->wait_runs;
	a->samples += b->samples;
}

/* What a lane holds in the window (for the estimate and for what is left out). */
typedef struct lane_in {
	uint64_t blocks, waits, points, samples;
} lane_in;

enum { S_BLOCKS, S_RUNS, S_POINTS, S_BINS, S_WAITS, S_WRUNS, S_COUNTERS, S__N };
static const char *const section_name[S__N] = {"blocks", "runs", "points", "point_bins",
                                               "waits", "wait_runs", "counters"};

/* A selected lane's windows, found once by bisection and reused by every pass. */
typedef struct lwin {
	uint32_t lane;
	size_t set0;              /* its sets' windows in si/sk: depth 0.., then its waits */
	size_t tr0;               /* its tracks' windows in ta/tb */
	size_t pa, pb;            /* its points in the window */
	lane_in in;               /* what the window holds */
} lwin;

typedef struct lod {
	const hx__view *v;
	uint64_t from, to, span;
	uint64_t px, m, tw;
	hx__buf sec[S__N];        /* the current lane's arrays, without brackets */
	counts c;                 /* the current lane's */
	size_t *si, *sk;          /* set windows: members [si, sk) can overlap */
	size_t *ta, *tb;          /* track windows: samples [ta, tb) are in it */
} lod;

/* ---- columns ----
 * Column c starts at from + ceil(c * span / px); a time's column is floor((t - from) * px / span),
 * which puts it inside those bounds. The products (by at most 2 x 16384 columns) fit 64 bits
 * unless the window spans more than 2^48 ns (3.2 days); then 128-bit arithmetic takes over. */

#define SPAN_FAST (1ull << 48)

static uint64_t col_start(const lod *q, uint64_t c)
{
	if (q->span < SPAN_FAST)
		return q->from + (c * q->span + q->px - 1) / q->px;
	return q->from + (uint64_t)(((hx__u128)c * q->span + q->px - 1) / q->px);
}

static uint64_t col_of(const lod *q, uint64_t t)
{
	uint64_t c = q->span < SPAN_FAST ? (t - q->from) * q->px / q->span
	                                 : (uint64_t)((hx__u128)(t - q->from) * q->px / q->span);
	return c < q->px ? c : q->px - 1;
}

/* The last ns of bin `bin` (m columns each); the last bin ends at `to`. */
static uint64_t bin_last(const lod *q, uint64_t bin)
{
	uint64_t next = (bin + 1) * q->m;
	return next >= q->px ? q->to : col_start(q, next) - 1;
}

/* First index in (i, end] whose time is > last, galloping from i: bins are usually near. */
static size_t next_after(const uint64_t *t, size_t i, size_t end, uint64_t last)
{
	size_t lo = i + 1, step = 1;
	while (lo + step <= end && t[lo + step - 1] <= last) {
		lo += step;
		step *= 2;
	}
	size_t hi = lo + step <= end ? lo + step : end;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t[mid] <= last)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- JSON of one item: room reserved, then written through a pointer ---- */

static int sep(hx__buf *b)
{
	return b->len ? hx__buf_putc(b, ',') : HX_OK;
}

/* Room for an item with one name, and the comma before it; NULL when memory is short. */
static char *item_start(hx__buf *b, size_t name_len)
{
	if (hx__buf_grow(b, HX__VW_ITEM_MAX + name_len))
		return NULL;
	char *o = b->p + b->len;
	if (b->len)
		*o++ = ',';
	return o;
}

static int block_json(lod *q, uint32_t blk, uint32_t depth)
{
	const hx__view *v = q->v;
	const hx__dag_block *bl = &v->d->blocks[blk];
	hx__buf *b = &q->sec[S_BLOCKS];
	char *o = item_start(b, hx__vw_name_len(v, bl->name));
	if (!o)
		return HX_ENOMEM;
	o = HX__VW_LIT(o, "{\"e\":");
	o = hx__vw_u64(o, bl->begin);
	o = HX__VW_LIT(o, ",\"end_e\":");
	o = hx__vw_u64(o, bl->end);
	o = HX__VW_LIT(o, ",\"id\":");
	o = hx__vw_id(o, v, bl->begin);
	o = HX__VW_LIT(o, ",\"name\":");
	o = hx__vw_name(o, v, bl->name);
	o = HX__VW_LIT(o, ",\"depth\":");
	o = hx__vw_u64(o, depth);
	o = HX__VW_LIT(o, ",\"start_ns\":");
	o = hx__vw_u64(o, hx__v_time(v, bl->begin));
	o = HX__VW_LIT(o, ",\"end_ns\":");
	o = hx__vw_u64(o, hx__v_time(v, bl->end));
	if (bl->flags & HX__BLK_REPAIRED)
		o = HX__VW_LIT(o, ",\"repaired\":true}");
	else
		o = HX__VW_LIT(o, ",\"repaired\":false}");
	hx__vw_done(b, o);
	q->c.blocks_whole++;
	return HX_OK;
}

static int wait_json(lod *q, uint32_t w)
{
	const hx__view *v = q->v;
	const hx__dag_wait *wt = &v->d->waits[w];
	hx__buf *b = &q->sec[S_WAITS];
	char *o = item_start(b, hx__vw_name_len(v, wt->reason));
	if (!o)
		return HX_ENOMEM;
	o = HX__VW_LIT(o, "{\"start_ns\":");
	o = hx__vw_u64(o, hx__v_time(v, wt->start));
	o = HX__VW_LIT(o, ",\"end_ns\":");
	o = hx__vw_u64(o, hx__v_time(v, wt->end));
	o = HX__VW_LIT(o, ",\"reason\":");
	o = hx__vw_name(o, v, wt->reason);
	o = HX__VW_LIT(o, ",\"start_e\":");
	o = hx__vw_u64(o, wt->start);
	o = HX__VW_LIT(o, ",\"end_e\":");
	o = hx__vw_u64(o, wt->end);
	if (wt->flags & HX__WAIT_UNTERMINATED)
		o = HX__VW_LIT(o, ",\"unterminated\":true}");
	else
		o = HX__VW_LIT(o, ",\"unterminated\":false}");
	hx__vw_done(b, o);
	q->c.waits_whole++;
	return HX_OK;
}

/* A run of set members [i, k): blocks (depth given) or waits (waits set). */
static int run_json(lod *q, const hx__vset *s, const hx__pyr *pw, size_t i, size_t k, int waits,
                    uint32_t depth)
{
	const hx__view *v = q->v;
	uint64_t widest = hx__pyr_max(pw, (uint32_t)i, (uint32_t)k);
	uint32_t li = hx__pyr_first_ge(pw, (uint32_t)i, widest);
	uint32_t id = v->iv_id[s->base + li];
	uint32_t name = waits ? v->d->waits[id].reason : v->d->blocks[id].name;
	hx__buf *b = &q->sec[waits ? S_WRUNS : S_RUNS];
	char *o = item_start(b, hx__vw_name_len(v, name));
	if (!o)
		return HX_ENOMEM;
	if (!waits) {
		o = HX__VW_LIT(o, "{\"depth\":");
		o = hx__vw_u64(o, depth);
		o = HX__VW_LIT(o, ",\"start_ns\":");
	} else {
		o = HX__VW_LIT(o, "{\"start_ns\":");
	}
	o = hx__vw_u64(o, v->iv_start[s->base + i]);
	o = HX__VW_LIT(o, ",\"end_ns\":");
	o = hx__vw_u64(o, v->iv_max[s->base + k - 1]);
	o = HX__VW_LIT(o, ",\"count\":");
	o = hx__vw_u64(o, k - i);
	if (!waits) {
		o = HX__VW_LIT(o, ",\"name\":");
		o = hx__vw_name(o, v, name);
		o = HX__VW_LIT(o, ",\"e\":");
		o = hx__vw_u64(o, v->d->blocks[id].begin);
		q->c.runs++;
		q->c.blocks_merged += k - i;
	} else {
		o = HX__VW_LIT(o, ",\"reason\":");
		o = hx__vw_name(o, v, name);
		q->c.wait_runs++;
		q->c.waits_merged += k - i;
	}
	*o++ = '}';
	hx__vw_done(b, o);
	return HX_OK;
}

/* ---- per set, per lane ---- */

static void set_pyrs(const hx__view *v, const hx__vset *s, hx__pyr *pw, hx__pyr *pg)
{
	hx__pyr_init(pw, v->iv_start + s->base, v->iv_end + s->base, v->iv_max + s->base, s->n,
	             v->iv_pyr + s->pyr, HX__PYR_WIDTH);
	*pg = *pw;
	pg->nodes = v->iv_pyr + s->pyr + hx__pyr_nodes(s->n);
	pg->what = HX__PYR_GAP;
}

/* The members that can overlap the window: [*i, *kto). */
static void set_window(const hx__view *v, const hx__vset *s, uint64_t from, uint64_t to, size_t *i,
                       size_t *kto)
{
	*i = hx__v_lower(v->iv_max + s->base, s->n, from);
	*kto = hx__v_upper(v->iv_start + s->base, s->n, to);
	if (*kto < *i)
		*kto = *i;
}

/* Walk a set's window: emit its items (emit set) or only count them, stopping once the count
 * passes `limit` (the dry run that chooses the merge width). Returns the items, or
 * UINT64_MAX when memory ran short. */
static uint64_t walk_set(lod *q, const hx__vset *s, size_t i, size_t kto, int waits,
                         uint32_t depth, int emit, uint64_t limit)
{
	const hx__view *v = q->v;
	if (i >= kto)
		return 0;
	const uint64_t *st = v->iv_start + s->base, *en = v->iv_end + s->base;
	hx__pyr pw, pg;
	set_pyrs(v, s, &pw, &pg);
	uint64_t items = 0;
	while (i < kto && items <= limit) {
		if (en[i] < q->from) {
			i++;
			continue;
		}
		size_t k = i + 1;
		if (en[i] >= st[i] && en[i] - st[i] < q->tw) {
			/* narrow: the run goes to the next wide member or the next wide gap */
			size_t k1 = hx__pyr_first_ge(&pw, (uint32_t)i + 1, q->tw);
			size_t k2 = (size_t)hx__pyr_first_ge(&pg, (uint32_t)i, q->tw) + 1;
			k = k1 < k2 ? k1 : k2;
			k = k < kto ? k : kto;
		}
		items++;
		if (emit) {
			int err;
			if (k - i > 1)
				err = run_json(q, s, &pw, i, k, waits, depth);
			else if (waits)
				err = wait_json(q, v->iv_id[s->base + i]);
			else
				err = block_json(q, v->iv_id[s->base + i], depth);
			if (err)
				return UINT64_MAX;
		}
		i = k;
	}
	return items;
}

/* Walk a lane's points in [i, end): a point whose neighbours are both at least tw away is sent
 * whole; closer points are binned, a bin ending at the first gap of tw (the gap pyramid finds
 * it). Emits, or counts only (stopping past `limit`); UINT64_MAX when memory ran short. */
static uint64_t walk_points(lod *q, uint32_t lane, size_t i, size_t end, int emit, uint64_t limit)
{
	const hx__view *v = q->v;
	size_t base = v->pt_off[lane];
	const uint64_t *t = v->pt_time + base;
	hx__pyr pg;
	hx__pyr_init(&pg, t, NULL, t, v->pt_off[lane + 1] - v->pt_off[lane], v->pt_nodes + v->pt_pyr[lane],
	             HX__PYR_GAP);
	uint64_t items = 0;
	while (i < end && items <= limit) {
		size_t j = (size_t)hx__pyr_first_ge(&pg, (uint32_t)i, q->tw) + 1;
		j = j < end ? j : end;
		items++;
		if (!emit) {
			i = j;
			continue;
		}
		if (j - i == 1) {
			uint32_t e = v->pt_ev[base + i];
			uint8_t kind = v->d->ev_kind[e];
			hx__buf *b = &q->sec[S_POINTS];
			char *o = item_start(b, hx__vw_name_len(v, v->d->ev_name[e]));
			if (!o)
				return UINT64_MAX;
			o = HX__VW_LIT(o, "{\"e\":");
			o = hx__vw_u64(o, e);
			o = HX__VW_LIT(o, ",\"id\":");
			o = hx__vw_id(o, v, e);
			o = HX__VW_LIT(o, ",\"name\":");
			o = hx__vw_name(o, v, v->d->ev_name[e]);
			o = HX__VW_LIT(o, ",\"time_ns\":");
			o = hx__vw_u64(o, t[i]);
			o = HX__VW_LIT(o, ",\"kind\":");
			const char *kl = hx__vj_kind(kind);
			size_t kn = strlen(kl);
			memcpy(o, kl, kn);
			o += kn;
			if (kind == HX_EV_ERROR)
				o = HX__VW_LIT(o, ",\"error\":true}");
			else
				o = HX__VW_LIT(o, ",\"error\":false}");
			hx__vw_done(b, o);
			q->c.points_whole++;
		} else {
			const uint64_t *et = v->err_time + v->err_off[lane];
			size_t ne = v->err_off[lane + 1] - v->err_off[lane];
			uint64_t errors = ne ? hx__v_upper(et, ne, t[j - 1]) - hx__v_lower(et, ne, t[i]) : 0;
			hx__buf *b = &q->sec[S_BINS];
			char *o = item_start(b, 0);
			if (!o)
				return UINT64_MAX;
			o = HX__VW_LIT(o, "{\"start_ns\":");
			o = hx__vw_u64(o, t[i]);
			o = HX__VW_LIT(o, ",\"end_ns\":");
			o = hx__vw_u64(o, t[j - 1]);
			o = HX__VW_LIT(o, ",\"count\":");
			o = hx__vw_u64(o, j - i);
			o = HX__VW_LIT(o, ",\"errors\":");
			o = hx__vw_u64(o, errors);
			*o++ = '}';
			hx__vw_done(b, o);
			q->c.bins++;
			q->c.points_binned += j - i;
		}
		i = j;
	}
	return items;
}

/* [t,min,max]: integral values (most counters) are written by hand, others by hx__vj_double. */
static int sample_json(hx__buf *b, uint64_t t, double mn, double mx, int comma)
{
	/* in range first: converting a double beyond int64 would be undefined */
	int fast = mn > -9e15 && mn < 9e15 && mx > -9e15 && mx < 9e15 && mn == (double)(int64_t)mn &&
	           mx == (double)(int64_t)mx;
	if (!fast) {
		int err = hx__buf_puts(b, comma ? ",[" : "[");
		err |= hx__vj_u64(b, t);
		err |= hx__buf_putc(b, ',');
		err |= hx__vj_double(b, mn);
		err |= hx__buf_putc(b, ',');
		err |= hx__vj_double(b, mx);
		err |= hx__buf_putc(b, ']');
		return err;
	}
	if (hx__buf_grow(b, 80))
		return HX_ENOMEM;
	char *o = b->p + b->len;
	if (comma)
		*o++ = ',';
	*o++ = '[';
	o = hx__vw_u64(o, t);
	for (int k = 0; k < 2; k++) {
		int64_t x = (int64_t)(k ? mx : mn);
		*o++ = ',';
		if (x < 0) {
			*o++ = '-';
			o = hx__vw_u64(o, (uint64_t)0 - (uint64_t)x);
		} else {
			o = hx__vw_u64(o, (uint64_t)x);
		}
	}
	*o++ = ']';
	hx__vw_done(b, o);
	return HX_OK;
}

/* The unit of a track, from its first sample's record. */
static int unit_json(hx__buf *b, const hx__view *v, uint32_t e)
{
	const uint8_t *p = v->blob + v->attr_off[e], *end = v->blob + v->attr_off[e + 1];
	hx__vattr a;
	while (hx__vattr_next(&p, end, &a))
		if (a.type == HX__VA_COUNTER_INT || a.type == HX__VA_COUNTER_DOUBLE)
			return hx__json_string(b, a.s, a.slen);
	return hx__buf_puts(b, "\"\"");
}

static int emit_track(lod *q, const hx__vtrack *tr, size_t a, size_t end)
{
	const hx__view *v = q->v;
	const uint64_t *t = v->ct_time + tr->first;
	const double *val = v->ct_val + tr->first;
	hx__buf *b = &q->sec[S_COUNTERS];
	int err = sep(b), comma = 0;
	err |= hx__buf_puts(b, "{\"name\":");
	err |= hx__vj_name(b, v, tr->name);
	err |= hx__buf_puts(b, ",\"unit\":");
	err |= unit_json(b, v, tr->unit_ev);
	err |= hx__buf_puts(b, ",\"samples\":[");
	if (a > 0) {
		err |= sample_json(b, t[a - 1], val[a - 1], val[a - 1], comma);
		comma = 1;
		q->c.samples++;
	}
	for (size_t i = a; i < end && !err;) {
		uint64_t last = bin_last(q, col_of(q, t[i]) / q->m);
		size_t j = next_after(t, i, end, last);
		double mn = val[i], mx = val[i];
		if (j - i <= 2 * HX__PYR_FAN) {
			for (size_t k = i + 1; k < j; k++) {
				mn = val[k] < mn ? val[k] : mn;
				mx = val[k] > mx ? val[k] : mx;
			}
		} else {
			hx__cpyr_range(val, tr->n, v->ct_pyr + tr->pyr, (uint32_t)i, (uint32_t)j, &mn, &mx);
		}
		err |= sample_json(b, t[i], mn, mx, comma);
		comma = 1;
		q->c.samples++;
		i = j;
	}
	if (end < tr->n) {
		err |= sample_json(b, t[end], val[end], val[end], comma);
		q->c.samples++;
	}
	err |= hx__buf_puts(b, "]}");
	return err;
}

static int emit_lane(lod *q, const lwin *w)
{
	const hx__view *v = q->v;
	uint32_t l = w->lane;
	const hx__vlane *ln = &v->lanes[l];
	memset(&q->c, 0, sizeof(q->c));
	for (int k = 0; k < S__N; k++)
		hx__buf_reset(&q->sec[k]);
	for (uint32_t dp = 0; dp <= ln->depth; dp++) {
		const hx__vset *s = dp < ln->depth ? &v->bsets[ln->bset + dp] : &v->wsets[l];
		size_t j = w->set0 + dp;
		if (walk_set(q, s, q->si[j], q->sk[j], dp == ln->depth, dp, 1, UINT64_MAX - 1) == UINT64_MAX)
			return HX_ENOMEM;
	}
	if (walk_points(q, l, w->pa, w->pb, 1, UINT64_MAX - 1) == UINT64_MAX)
		return HX_ENOMEM;
	int err = 0;
	for (uint32_t k = v->lane_track[l]; k < v->lane_track[l + 1] && !err; k++) {
		size_t j = w->tr0 + (k - v->lane_track[l]);
		err |= emit_track(q, &v->tracks[k], q->ta[j], q->tb[j]);
	}
	return err ? HX_ENOMEM : HX_OK;
}

static int lane_out(lod *q, hx__buf *out, uint32_t l, int first)
{
	size_t need = 160;
	for (int k = 0; k < S__N; k++)
		need += q->sec[k].len;
	if (hx__buf_grow(out, need))
		return HX_ENOMEM;
	char *o = out->p + out->len;
	if (!first)
		*o++ = ',';
	o = HX__VW_LIT(o, "{\"lane\":");
	o = hx__vw_u64(o, l);
	for (int k = 0; k < S__N; k++) {
		*o++ = ',';
		*o++ = '"';
		size_t n = strlen(section_name[k]);
		memcpy(o, section_name[k], n);
		o += n;
		o = HX__VW_LIT(o, "\":[");
		if (q->sec[k].len)
			memcpy(o, q->sec[k].p, q->sec[k].len);
		o += q->sec[k].len;
		*o++ = ']';
	}
	*o++ = '}';
	hx__vw_done(out, o);
	return HX_OK;
}

/* ---- counting: what a lane holds, and what it would send at merge width m ---- */

/* Find lane w->lane's windows (set0 and tr0 given) and what they hold. */
static void lane_count(lod *q, lwin *w)
{
	const hx__view *v = q->v;
	uint32_t l = w->lane;
	const hx__vlane *ln = &v->lanes[l];
	memset(&w->in, 0, sizeof(w->in));
	for (uint32_t dp = 0; dp <= ln->depth; dp++) {
		const hx__vset *s = dp < ln->depth ? &v->bsets[ln->bset + dp] : &v->wsets[l];
		size_t j = w->set0 + dp;
		set_window(v, s, q->from, q->to, &q->si[j], &q->sk[j]);
		if (dp < ln->depth)
			w->in.blocks += q->sk[j] - q->si[j];
		else
			w->in.waits += q->sk[j] - q->si[j];
	}
	size_t base = v->pt_off[l], n = v->pt_off[l + 1] - base;
	w->pa = hx__v_lower(v->pt_time + base, n, q->from);
	w->pb = hx__v_upper(v->pt_time + base, n, q->to);
	w->in.points = w->pb - w->pa;
	for (uint32_t k = v->lane_track[l]; k < v->lane_track[l + 1]; k++) {
		const hx__vtrack *tr = &v->tracks[k];
		const uint64_t *t = v->ct_time + tr->first;
		size_t j = w->tr0 + (k - v->lane_track[l]);
		q->ta[j] = hx__v_lower(t, tr->n, q->from);
		q->tb[j] = hx__v_upper(t, tr->n, q->to);
		w->in.samples += q->tb[j] - q->ta[j];
	}
}

/* The items of a lane at the current m: exact for blocks, waits and points (a dry run, stopped
 * past `limit`), an upper bound for counter samples (one per non-empty bin, and the two edges). */
static uint64_t lane_items(lod *q, const lwin *w, uint64_t limit)
{
	const hx__view *v = q->v;
	uint32_t l = w->lane;
	const hx__vlane *ln = &v->lanes[l];
	uint64_t bins = (q->px + q->m - 1) / q->m, n = 0;
	for (uint32_t k = v->lane_track[l]; k < v->lane_track[l + 1]; k++) {
		size_t j = w->tr0 + (k - v->lane_track[l]);
		uint64_t c = q->tb[j] - q->ta[j];
		n += (c < bins ? c : bins) + (q->ta[j] > 0) + (q->tb[j] < v->tracks[k].n);
	}
	for (uint32_t dp = 0; dp <= ln->depth && n <= limit; dp++) {
		const hx__vset *s = dp < ln->depth ? &v->bsets[ln->bset + dp] : &v->wsets[l];
		size_t j = w->set0 + dp;
		n += walk_set(q, s, q->si[j], q->sk[j], dp == ln->depth, dp, 0, limit - n);
	}
	if (n <= limit)
		n += walk_points(q, l, w->pa, w->pb, 0, limit - n);
	return n;
}

static void set_width(lod *q, uint64_t m)
{
	q->m = m;
	q->tw = q->span < SPAN_FAST ? (m * q->span + q->px - 1) / q->px
	                            : (uint64_t)(((hx__u128)m * q->span + q->px - 1) / q->px);
	q->tw = q->tw ? q->tw : 1;
}

/* ---- the request ---- */

static int fail(char *err, size_t errlen, const char *msg)
{
	if (err && errlen) {
		size_t n = strlen(msg);
		n = n < errlen - 1 ? n : errlen - 1;
		memcpy(err, msg, n);
		err[n] = '\0';
	}
	return HX_EINVAL;
}

int hx__view_lane_select(const hx__view *v, const uint32_t *lanes, size_t nlanes, uint8_t *sel,
                         char *err, size_t errlen)
{
	memset(sel, 0, v->nlanes);
	for (size_t i = 0; i < nlanes; i++) {
		if (lanes[i] >= v->nlanes) {
			if (err && errlen)
				snprintf(err, errlen, "lane %u does not exist (the trace has %zu lanes)",
				         lanes[i], v->nlanes);
			return HX_EINVAL;
		}
		sel[lanes[i]] = 1;
	}
	return HX_OK;
}

static int summary_json(hx__buf *b, const counts *c, uint64_t arrows, uint64_t arrows_left,
                        uint64_t lanes_left, const lane_in *left, uint64_t items, int capped)
{
	int err = hx__buf_printf(
	    b,
	    "\"summary\":{\"blocks_whole\":%llu,\"blocks_merged\":%llu,\"runs\":%llu,"
	    "\"points_whole\":%llu,\"points_binned\":%llu,\"point_bins\":%llu,\"waits_whole\":%llu,"
	    "\"waits_merged\":%llu,\"wait_runs\":%llu,\"counter_samples\":%llu,\"arrows\":%llu,"
	    "\"arrows_left_out\":%llu,\"lanes_left_out\":%llu,\"blocks_left_out\":%llu,"
	    "\"points_left_out\":%llu,\"waits_left_out\":%llu,\"samples_left_out\":%llu,"
	    "\"items\":%llu,\"capped\":%s}",
	    (unsigned long long)c->blocks_whole, (unsigned long long)c->blocks_merged,
	    (unsigned long long)c->runs, (unsigned long long)c->points_whole,
	    (unsigned long long)c->points_binned, (unsigned long long)c->bins,
	    (unsigned long long)c->waits_whole, (unsigned long long)c->waits_merged,
	    (unsigned long long)c->wait_runs, (unsigned long long)c->samples,
	    (unsigned long long)arrows, (unsigned long long)arrows_left,
	    (unsigned long long)lanes_left, (unsigned long long)left->blocks,
	    (unsigned long long)left->points, (unsigned long long)left->waits,
	    (unsigned long long)left->samples, (unsigned long long)items, capped ? "true" : "false");
	return err;
}

int hx__view_lod_json(const hx__view *v, const hx__lod_req *req, hx__buf *out, char *err,
                      size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!v || !req || !out)
		return fail(err, errlen, "no request");
	if (req->from_ns >= req->to_ns)
		return fail(err, errlen, "'from' must be before 'to'");
	if (req->to_ns == UINT64_MAX)
		return fail(err, errlen, "'to' is out of range");
	if (req->px < 1 || req->px > PX_MAX)
		return fail(err, errlen, "'px' must be 1 .. 16384");
	if (req->min_px > MIN_PX_MAX)
		return fail(err, errlen, "'min_px' must be 1 .. 64");
	if (req->max_items && (req->max_items < ITEMS_MIN || req->max_items > ITEMS_MAX))
		return fail(err, errlen, "'max_items' must be 100 .. 200000");
	if (!req->lanes && req->nlanes)
		return fail(err, errlen, "lanes missing");

	lod q;
	memset(&q, 0, sizeof(q));
	q.v = v;
	q.from = req->from_ns;
	q.to = req->to_ns;
	q.span = q.to - q.from;
	q.px = req->px;
	uint64_t min_px = req->min_px ? req->min_px : 1;
	uint64_t max_items = req->max_items ? req->max_items : ITEMS_DEFAULT;

	uint8_t *sel = NULL;
	lwin *lw = NULL;
	uint64_t *est = NULL;
	hx__buf abuf = HX__BUF_INIT, left_buf = HX__BUF_INIT;
	int rc = HX_ENOMEM, e, first = 1;
	size_t nsel = 0, out_start = out->len;
	counts total;
	lane_in left;
	uint64_t lanes_left = 0, used = 0, arrows = 0, arrows_left = 0, items;
	memset(&total, 0, sizeof(total));
	memset(&left, 0, sizeof(left));
	if (req->lanes) {
		sel = malloc(v->nlanes ? v->nlanes : 1);
		if (!sel)
			goto out;
		if ((rc = hx__view_lane_select(v, req->lanes, req->nlanes, sel, err, errlen)))
			goto out;
		rc = HX_ENOMEM;
	}
	lw = malloc((v->nlanes ? v->nlanes : 1) * sizeof(*lw));
	est = malloc((v->nlanes ? v->nlanes : 1) * sizeof(*est));
	if (!lw || !est)
		goto out;
	size_t nsets = 0, ntr = 0;
	for (size_t l = 0; l < v->nlanes; l++) {
		if (sel && !sel[l])
			continue;
		lw[nsel].lane = (uint32_t)l;
		lw[nsel].set0 = nsets;
		lw[nsel].tr0 = ntr;
		nsets += v->lanes[l].depth + 1;
		ntr += v->lane_track[l + 1] - v->lane_track[l];
		nsel++;
	}
	q.si = malloc((nsets ? nsets : 1) * sizeof(*q.si));
	q.sk = malloc((nsets ? nsets : 1) * sizeof(*q.sk));
	q.ta = malloc((ntr ? ntr : 1) * sizeof(*q.ta));
	q.tb = malloc((ntr ? ntr : 1) * sizeof(*q.tb));
	if (!q.si || !q.sk || !q.ta || !q.tb)
		goto out;
	/* every lane asked for: the whole trace's arrow set answers (no pair bookkeeping) */
	const uint8_t *asel = sel && nsel < v->nlanes ? sel : NULL;

	/* arrows first: at most a fifth of the budget, and one per column (more is a smear) */
	uint64_t arrow_cap = max_items / 5 < q.px ? max_items / 5 : q.px;
	if (req->arrows &&
	    hx__view_arrows_json(v, q.from, q.to, asel, arrow_cap, &abuf, &arrows, &arrows_left))
		goto out;
	uint64_t budget = max_items - arrows;

	/* the merge width: the smallest power-of-two multiple of min_px whose answer fits (the
	 * count stops early once over; at the widest it is complete, to choose lanes by) */
	for (size_t k = 0; k < nsel; k++)
		lane_count(&q, &lw[k]);
	for (uint64_t m = min_px;; m *= 2) {
		set_width(&q, m);
		uint64_t sum = 0;
		int last = m >= q.px, over = 0;
		/* lanes in 8 interleaved passes, so the first eighth are a sample: once it is counted,
		 * the total so far scaled up to every lane tells early (and cheaply) that this m is
		 * hopeless (over 5/4 of the budget); the m taken is always counted in full */
		size_t done = 0;
		for (size_t pass = 0; pass < PASSES && !over; pass++) {
			for (size_t k = pass; k < nsel && !over; k += PASSES) {
				est[k] = lane_items(&q, &lw[k], last ? UINT64_MAX - 1 : budget < sum ? 0 : budget - sum);
				sum += est[k];
				done++;
				over = !last && (sum > budget ||
				                 (done >= SAMPLE_MIN && done < nsel &&
				                  (hx__u128)sum * nsel * 4 > (hx__u128)budget * done * 5));
			}
		}
		if (!over || last)
			break;
	}

	/* the answer; at the widest merge, lanes that do not fit are left out whole */
	e = hx__buf_puts(out, "{\"from_ns\":");
	e |= hx__vj_u64(out, q.from);
	e |= hx__buf_puts(out, ",\"to_ns\":");
	e |= hx__vj_u64(out, q.to);
	e |= hx__buf_puts(out, ",\"px\":");
	e |= hx__vj_u64(out, q.px);
	e |= hx__buf_puts(out, ",\"ns_per_px\":");
	e |= hx__vj_double(out, (double)q.span / (double)q.px);
	e |= hx__buf_puts(out, ",\"min_px\":");
	e |= hx__vj_u64(out, q.m);
	e |= hx__buf_puts(out, ",\"lanes\":[");
	if (e)
		goto undo;
	for (size_t k = 0; k < nsel; k++) {
		if (used + est[k] > budget) {
			lanes_left++;
			left.blocks += lw[k].in.blocks;
			left.waits += lw[k].in.waits;
			left.points += lw[k].in.points;
			left.samples += lw[k].in.samples;
			if ((left_buf.len && hx__buf_putc(&left_buf, ',')) || hx__vj_u64(&left_buf, lw[k].lane))
				goto undo;
			continue;
		}
		used += est[k];
		if (emit_lane(&q, &lw[k]))
			goto undo;
		counts_add(&total, &q.c);
		if (items_of(&q.c)) {
			if (lane_out(&q, out, lw[k].lane, first))
				goto undo;
			first = 0;
		}
	}
	items = items_of(&total) + arrows;
	int capped = q.m > min_px || lanes_left || arrows_left;
	e = hx__buf_puts(out, "],\"arrows\":[");
	e |= hx__buf_append(out, abuf.p ? abuf.p : "", abuf.len);
	e |= hx__buf_puts(out, "],\"left_out_lanes\":[");
	e |= hx__buf_append(out, left_buf.p ? left_buf.p : "", left_buf.len);
	e |= hx__buf_puts(out, "],");
	e |= summary_json(out, &total, arrows, arrows_left, lanes_left, &left, items, capped);
	e |= hx__buf_putc(out, '}');
	if (e)
		goto undo;
	rc = HX_OK;
	goto out;
undo:
	/* nothing half-written stays in the caller's buffer */
	out->len = out_start;
	if (out->p)
		out->p[out_start] = '\0';
	rc = HX_ENOMEM;
out:
	for (int k = 0; k < S__N; k++)
		hx__buf_free(&q.sec[k]);
	hx__buf_free(&abuf);
	hx__buf_free(&left_buf);
	free(sel);
	free(lw);
	free(est);
	free(q.si);
	free(q.sk);
	free(q.ta);
	free(q.tb);
	return rc;
}
