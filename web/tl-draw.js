// tl-draw.js - drawing one frame of the timeline from data already in memory, and the record of
// what was drawn where (DrawList) that hit testing and the data layer (window.hxViewer) read.
//
// A frame never waits for the network: it draws the answer of the last /lod request for the
// window around the view (scaled to the current zoom while the next answer is on its way) and,
// outside that window, the answer for the whole trace fetched at load. Rectangles are batched by
// colour into one path each (one fill per colour instead of one per block), labels are drawn only
// on blocks wide enough to hold a few characters, and everything off screen is skipped, so a
// frame costs about the number of items visible.

import {PALETTE, fitText, fmtDur, fmtRel} from './util.js';
import {HEAD, POINTS, ROW, COUNTER} from './tl-layout.js';

export const GUTTER = 210;    // the lane labels on the left
export const RULER = 24;      // the time ruler at the top
const CHAR_PX = 6.2;          // about one character of the 11px label font
const FONT = '11px system-ui, sans-serif';

// What was drawn: items and their rectangles (x, y, w, h in CSS pixels of the canvas), reused
// from frame to frame without allocating.
export class DrawList {
	constructor() {
		this.items = [];
		this.rect = new Float32Array(4 * 1024);
		this.n = 0;
	}
	reset() {
		this.n = 0;
	}
	push(item, a, b, c, d) {
		if (4 * this.n + 4 > this.rect.length) {
			const r = new Float32Array(this.rect.length * 2);
			r.set(this.rect);
			this.rect = r;
		}
		this.items[this.n] = item;
		const o = 4 * this.n++;
		this.rect[o] = a;
		this.rect[o + 1] = b;
		this.rect[o + 2] = c;
		this.rect[o + 3] = d;
	}
}

// Batches of rectangles by colour index; flush() fills each colour's path once.
class RectBatch {
	constructor(ncolors) {
		this.v = [];
		for (let i = 0; i < ncolors; i++) this.v.push({n: 0, a: new Float32Array(4 * 256)});
	}
	add(c, x, y, w, h) {
		const b = this.v[c];
		if (4 * b.n + 4 > b.a.length) {
			const a = new Float32Array(b.a.length * 2);
			a.set(b.a);
			b.a = a;
		}
		const o = 4 * b.n++;
		b.a[o] = x;
		b.a[o + 1] = y;
		b.a[o + 2] = w;
		b.a[o + 3] = h;
	}
	flush(ctx, styles) {
		for (let i = 0; i < this.v.length; i++) {
			const b = this.v[i];
			if (!b.n) continue;
			ctx.fillStyle = styles[i];
			ctx.beginPath();
			const a = b.a;
			for (let j = 0; j < b.n; j++) ctx.rect(a[4 * j], a[4 * j + 1], a[4 * j + 2], a[4 * j + 3]);
			ctx.fill();
			b.n = 0;
		}
	}
}

const OTHER_STYLES = ['rgba(110,110,120,0.55)', '#d32f2f', '#37474f', 'rgba(55,71,79,0.45)'];
const RUN = 0, ERR = 1, POINT = 2, BIN = 3;

export class Renderer {
	constructor(canvas) {
		this.canvas = canvas;
		this.ctx = canvas.getContext('2d', {alpha: false});
		this.blocks = new DrawList();
		this.runs = new DrawList();
		this.points = new DrawList();
		this.arrows = new DrawList();
		this.labels = [];
		this.batch = new RectBatch(PALETTE.length);
		this.other = new RectBatch(OTHER_STYLES.length);
		this.waitPattern = null;
	}

	pattern() {
		if (this.waitPattern) return this.waitPattern;
		const c = document.createElement('canvas');
		c.width = c.height = 8;
		const g = c.getContext('2d');
		g.fillStyle = 'rgba(120,120,140,0.12)';
		g.fillRect(0, 0, 8, 8);
		g.strokeStyle = 'rgba(90,90,120,0.35)';
		g.beginPath();
		g.moveTo(0, 8);
		g.lineTo(8, 0);
		g.stroke();
		this.waitPattern = this.ctx.createPattern(c, 'repeat');
		return this.waitPattern;
	}

	// Draw a frame. s: {w, h, dpr, from, to, scrollY, layout, lanes, overview, detail, orig,
	// selection, range, drag, cp, match, collapsed}. Returns nothing; the DrawLists hold the result.
	draw(s) {
		const ctx = this.ctx;
		const {w, h} = s;
		ctx.setTransform(s.dpr, 0, 0, s.dpr, 0, 0);
		ctx.fillStyle = '#fff';
		ctx.fillRect(0, 0, w, h);
		this.blocks.reset();
		this.runs.reset();
		this.points.reset();
		this.arrows.reset();
		this.labels.length = 0;
		const x0 = GUTTER, xr = w;
		const scale = (xr - x0) / (s.to - s.from);
		this.frame = {x0, xr, scale, from: s.from, to: s.to, top: RULER - s.scrollY};
		const top = RULER - s.scrollY;   // content y = 0 is drawn here
		const rows = s.layout.rows;

		// Row backgrounds and lane separators.
		ctx.font = FONT;
		for (const r of rows) {
			const y = r.y + top;
			if (y > h || y + r.h < RULER) continue;
			if (r.type === 'host') ctx.fillStyle = '#e8eaf0';
			else if (r.type === 'process') ctx.fillStyle = '#f1f3f7';
			else ctx.fillStyle = r.lane % 2 ? '#fafbfc' : '#fff';
			ctx.fillRect(x0, y, xr - x0, r.h);
		}

		// Data: the whole-trace answer outside the detailed window, then the detailed window.
		const d = s.detail, o = s.overview;
		if (d && o && d !== o && (d.from_ns > s.from || d.to_ns < s.to)) {
			const a = Math.max(x0, this.x(d.from_ns)), b = Math.min(xr, this.x(d.to_ns));
			ctx.save();
			ctx.beginPath();
			if (a > x0) ctx.rect(x0, RULER, a - x0, h - RULER);
			if (b < xr) ctx.rect(b, RULER, xr - b, h - RULER);
			ctx.clip();
			this.drawData(s, o, top, [a, b]);
			ctx.restore();
			ctx.save();
			ctx.beginPath();
			ctx.rect(a, RULER, Math.max(0, b - a), h - RULER);
			ctx.clip();
			this.drawData(s, d, top, null);
			ctx.restore();
		} else if (d || o) {
			ctx.save();
			ctx.beginPath();
			ctx.rect(x0, RULER, xr - x0, h - RULER);
			ctx.clip();
			this.drawData(s, d || o, top, null);
			ctx.restore();
		}

		ctx.save();
		ctx.beginPath();
		ctx.rect(x0, RULER, xr - x0, h - RULER);
		ctx.clip();
		if (s.cp) this.drawCritical(s, top);
		this.drawArrows(s, d || o, top);
		this.drawSelection(s, top);
		this.drawRange(s);
		ctx.restore();
		this.drawGutter(s, top);
		this.drawRuler(s);
	}

	x(t) {
		return this.frame.x0 + (t - this.frame.from) * this.frame.scale;
	}

	shift(s, lane) {
		return s.orig && lane ? -lane.info.offset : 0;
	}

	// Draw one /lod answer and record what is drawn in the DrawLists, except, when `excl` is
	// [a, b], items entirely inside columns a..b (the whole-trace answer is drawn outside the
	// detailed window only: what lies inside is the detailed answer's).
	drawData(s, lod, top, excl) {
		const ea = excl ? excl[0] : Infinity, eb = excl ? excl[1] : -Infinity;
		const ctx = this.ctx;
		const {x0, xr} = this.frame;
		const H = s.h;
		const batch = this.batch, other = this.other;
		const pat = this.pattern();
		for (const ld of lod.lanes) {
			const row = s.layout.byLane.get(ld.lane);
			if (!row || row.type !== 'lane') continue;
			const y0 = row.y + top;
			if (y0 > H || y0 + row.h < RULER) continue;
			const sh = s.orig ? -row.info.offset : 0;
			const by = row.blocksY + top;
			const bh = row.rows * ROW;

			// Waiting: shaded over the block rows.
			if (ld.waits.length) {
				ctx.fillStyle = pat;
				for (const wt of ld.waits) {
					const a = this.x(wt.start_ns + sh), b = this.x(wt.end_ns + sh);
					if (b < x0 || a > xr) continue;
					ctx.fillRect(a, by, Math.max(1, b - a), bh);
				}
			}

			for (const b of ld.blocks) {
				let a = this.x(b.start_ns + sh);
				let e = this.x(b.end_ns + sh);
				if (e < x0 || a > xr) continue;
				if (a < x0 - 1) a = x0 - 1;
				if (e > xr + 1) e = xr + 1;
				const dep = b.depth < row.rows ? b.depth : row.rows - 1;
				const y = by + dep * ROW;
				const wd = e - a < 1 ? 1 : e - a;
				batch.add(b.c, a, y + 1, wd, ROW - 2);
				if (a < ea || a + wd > eb) this.blocks.push(b, a, y + 1, wd, ROW - 2);
				if (wd > 24) this.labels.push(b.name, a, y, wd);
			}
			for (const r of ld.runs) {
				let a = this.x(r.start_ns + sh);
				let e = this.x(r.end_ns + sh);
				if (e < x0 || a > xr) continue;
				if (a < x0 - 1) a = x0 - 1;
				if (e > xr + 1) e = xr + 1;
				const dep = r.depth < row.rows ? r.depth : row.rows - 1;
				const y = by + dep * ROW;
				const wd = e - a < 1 ? 1 : e - a;
				other.add(RUN, a, y + 1, wd, ROW - 2);
				if (a < ea || a + wd > eb) this.runs.push(r, a, y + 1, wd, ROW - 2);
				if (wd > 40) this.labels.push(r.count + '× ' + r.name, a, y, wd);
			}
			const py = row.pointsY + top;
			for (const p of ld.point_bins) {
				const a = this.x(p.start_ns + sh), e = this.x(p.end_ns + sh);
				if (e < x0 || a > xr) continue;
				const wd = Math.max(2, e - a);
				other.add(BIN, a, py, wd, POINTS);
				if (a < ea || a + wd > eb) this.points.push(p, a, py, wd, POINTS);
			}
			for (const p of ld.points) {
				const x = this.x(p.time_ns + sh);
				if (x < x0 - 3 || x > xr + 3) continue;
				other.add(p.error || p.kind === 'error' ? ERR : POINT, x - 1, py, 2, POINTS);
				other.add(p.error || p.kind === 'error' ? ERR : POINT, x - 3, py + POINTS - 3, 6, 3);
				if (x < ea || x > eb) this.points.push(p, x - 3, py, 6, POINTS);
			}
			// Counters: a min/max band per sample, scaled to the counter's range over the trace.
			for (const c of ld.counters) {
				const ci = row.info.counters.findIndex((k) => k.name === c.name);
				if (ci < 0) continue;
				const k = row.info.counters[ci];
				const cy = row.countersY + top + ci * COUNTER;
				const span = k.max - k.min || 1;
				const yv = (v) => cy + COUNTER - 3 - ((v - k.min) / span) * (COUNTER - 6);
				ctx.fillStyle = 'rgba(0,121,107,0.35)';
				ctx.strokeStyle = '#00796b';
				ctx.beginPath();
				let started = false, lastX = 0;
				for (const smp of c.samples) {
					const x = this.x(smp[0] + sh);
					if (!started) { ctx.moveTo(x, cy + COUNTER - 3); started = true; }
					ctx.lineTo(x, yv(smp[2]));
					lastX = x;
				}
				if (started) {
					ctx.lineTo(Math.min(xr, lastX + 2), yv(c.samples[c.samples.length - 1][2]));
					ctx.lineTo(Math.min(xr, lastX + 2), cy + COUNTER - 3);
					ctx.closePath();
					ctx.fill();
					ctx.stroke();
				}
				ctx.fillStyle = '#004d40';
				ctx.fillText(c.name, x0 + 4, cy + 10);
			}
		}
		batch.flush(ctx, PALETTE);
		other.flush(ctx, OTHER_STYLES);
		// Labels on wide blocks and runs.
		ctx.fillStyle = '#111';
		ctx.textBaseline = 'middle';
		const L = this.labels;
		for (let i = 0; i < L.length; i += 4) {
			const a = Math.max(L[i + 1], x0);
			const wd = L[i + 1] + L[i + 3] - a;
			const t = fitText(L[i], wd - 6, CHAR_PX);
			if (t) ctx.fillText(t, a + 3, L[i + 2] + ROW / 2);
		}
		ctx.textBaseline = 'alphabetic';
		L.length = 0;
	}

	// The y of the point strip's middle of a lane (or of the heading hiding it).
	laneMid(s, lane, top) {
		const row = s.layout.byLane.get(lane);
		if (!row) return null;
		return row.pointsY + top + POINTS / 2;
	}

	drawArrows(s, lod, top) {
		if (!lod || !lod.arrows.length) return;
		const ctx = this.ctx;
		const {x0, xr} = this.frame;
		ctx.strokeStyle = 'rgba(40,53,147,0.75)';
		ctx.fillStyle = 'rgba(40,53,147,0.9)';
		ctx.lineWidth = 1.2;
		ctx.beginPath();
		const heads = [];
		for (const a of lod.arrows) {
			const ca = a.cause, ef = a.effect;
			if (!ca || !ef) continue;
			const y1 = this.laneMid(s, ca.lane, top), y2 = this.laneMid(s, ef.lane, top);
			if (y1 === null || y2 === null) continue;
			const r1 = s.layout.byLane.get(ca.lane), r2 = s.layout.byLane.get(ef.lane);
			const x1 = this.x(ca.time_ns + (s.orig ? -r1.info.offset : 0));
			const x2 = this.x(ef.time_ns + (s.orig ? -r2.info.offset : 0));
			if ((x1 < x0 && x2 < x0) || (x1 > xr && x2 > xr)) continue;
			if ((y1 < RULER && y2 < RULER) || (y1 > s.h && y2 > s.h)) continue;
			ctx.moveTo(x1, y1);
			ctx.lineTo(x2, y2);
			heads.push(x1, y1, x2, y2);
			this.arrows.push(a, x1, y1, x2, y2);
		}
		ctx.stroke();
		ctx.beginPath();
		for (let i = 0; i < heads.length; i += 4) arrowHead(ctx, heads[i], heads[i + 1], heads[i + 2], heads[i + 3], 6);
		ctx.fill();
		ctx.lineWidth = 1;
	}

	drawCritical(s, top) {
		const ctx = this.ctx;
		const {x0, xr} = this.frame;
		const heads = [];
		const lines = new Path2D();
		const bars = new Path2D();
		for (const g of s.cp.segments) {
			const row = s.layout.byLane.get(g.lane);
			if (!row) continue;
			const sh = s.orig && row.info ? -row.info.offset : 0;
			const a = this.x(g.start_ns + sh), b = this.x(g.end_ns + sh);
			if (g.kind === 'transfer' && Number.isInteger(g.from_lane)) {
				const fr = s.layout.byLane.get(g.from_lane);
				if (!fr) continue;
				const fsh = s.orig && fr.info ? -fr.info.offset : 0;
				const y1 = fr.pointsY + top + POINTS / 2, y2 = row.pointsY + top + POINTS / 2;
				const xa = this.x(g.start_ns + fsh);
				lines.moveTo(xa, y1);
				lines.lineTo(b, y2);
				heads.push(xa, y1, b, y2);
				continue;
			}
			if (b < x0 || a > xr) continue;
			// A bar along the top of the lane's blocks (or the heading hiding the lane).
			const y = (row.type === 'lane' ? row.blocksY : row.pointsY) + top - 3;
			bars.rect(a, y, Math.max(2, b - a), 3);
		}
		ctx.fillStyle = '#ff6f00';
		ctx.fill(bars);
		ctx.strokeStyle = '#ff6f00';
		ctx.lineWidth = 2.5;
		ctx.stroke(lines);
		ctx.beginPath();
		for (let i = 0; i < heads.length; i += 4) arrowHead(ctx, heads[i], heads[i + 1], heads[i + 2], heads[i + 3], 8);
		ctx.fill();
		// Blocks on the path: outlined.
		ctx.lineWidth = 2;
		ctx.beginPath();
		const bl = this.blocks;
		for (let i = 0; i < bl.n; i++) {
			if (s.cp.path.has(bl.items[i].e)) ctx.rect(bl.rect[4 * i], bl.rect[4 * i + 1], bl.rect[4 * i + 2], bl.rect[4 * i + 3]);
		}
		ctx.stroke();
		ctx.lineWidth = 1;
	}

	drawSelection(s, top) {
		const sel = s.selection;
		if (!sel) return;
		const ctx = this.ctx;
		const row = s.layout.byLane.get(sel.lane);
		if (!row) return;
		const sh = s.orig && row.info ? -row.info.offset : 0;
		ctx.strokeStyle = '#000';
		ctx.lineWidth = 2;
		if (sel.block && row.type === 'lane') {
			const a = this.x(sel.block.start + sh), b = this.x(sel.block.end + sh);
			const dep = Math.min(row.rows - 1, Math.max(0, sel.block.depth | 0));
			const y = row.blocksY + top + dep * ROW;
			ctx.strokeRect(a - 1, y, Math.max(2, b - a) + 2, ROW);
		} else {
			const x = this.x(sel.time + sh);
			const y = row.pointsY + top;
			ctx.beginPath();
			ctx.moveTo(x, y - 2);
			ctx.lineTo(x, y + (row.type === 'lane' ? row.h - 4 : HEAD - 4));
			ctx.stroke();
		}
		ctx.lineWidth = 1;
	}

	drawRange(s) {
		const r = s.drag || s.range;
		if (!r) return;
		const ctx = this.ctx;
		const a = this.x(Math.min(r.from, r.to)), b = this.x(Math.max(r.from, r.to));
		ctx.fillStyle = 'rgba(33,150,243,0.15)';
		ctx.fillRect(a, RULER, Math.max(1, b - a), s.h - RULER);
		ctx.strokeStyle = 'rgba(13,71,161,0.8)';
		ctx.beginPath();
		ctx.moveTo(a + 0.5, RULER);
		ctx.lineTo(a + 0.5, s.h);
		ctx.moveTo(b - 0.5, RULER);
		ctx.lineTo(b - 0.5, s.h);
		ctx.stroke();
	}

	drawGutter(s, top) {
		const ctx = this.ctx;
		ctx.fillStyle = '#f6f7f9';
		ctx.fillRect(0, RULER, GUTTER, s.h - RULER);
		ctx.strokeStyle = '#ccd';
		ctx.beginPath();
		ctx.moveTo(GUTTER - 0.5, RULER);
		ctx.lineTo(GUTTER - 0.5, s.h);
		ctx.stroke();
		ctx.font = FONT;
		ctx.textBaseline = 'middle';
		for (const r of s.layout.rows) {
			const y = r.y + top;
			if (y > s.h || y + r.h < RULER) continue;
			if (r.type === 'host') {
				ctx.fillStyle = '#e1e4ec';
				ctx.fillRect(0, y, GUTTER, r.h);
				ctx.fillStyle = '#1a237e';
				ctx.fillText(fitText((r.collapsed ? '▸ ' : '▾ ') + 'host ' + r.label, GUTTER - 8, CHAR_PX), 4, y + HEAD / 2);
			} else if (r.type === 'process') {
				const p = r.proc;
				ctx.fillStyle = '#283593';
				const adj = p.clock_offset_ns ? ' · clock ' + (p.clock_offset_ns > 0 ? '+' : '') + fmtDur(p.clock_offset_ns) : '';
				const t = (r.collapsed ? '▸ ' : '▾ ') + (p.service || p.program || 'process') + ' pid ' + p.pid + adj;
				ctx.fillText(fitText(t, GUTTER - 20, CHAR_PX), 14, y + HEAD / 2);
			} else {
				const info = r.info;
				ctx.fillStyle = '#222';
				ctx.fillText(fitText((info.offset ? '≈ ' : '') + (info.name || info.entity), GUTTER - 30, CHAR_PX), 24, y + 2 + POINTS + ROW / 2);
				if (r.rows > 1) {
					ctx.fillStyle = '#777';
					ctx.fillText(fitText(info.kind, GUTTER - 30, CHAR_PX), 24, y + 2 + POINTS + ROW * 1.5);
				}
				if (info.offset) {
					// Adjusted clock: a dashed edge along the lane.
					ctx.strokeStyle = '#e65100';
					ctx.setLineDash([3, 3]);
					ctx.beginPath();
					ctx.moveTo(GUTTER + 1.5, y);
					ctx.lineTo(GUTTER + 1.5, y + r.h);
					ctx.stroke();
					ctx.setLineDash([]);
				}
			}
		}
		ctx.textBaseline = 'alphabetic';
	}

	drawRuler(s) {
		const ctx = this.ctx;
		const {x0, xr} = this.frame;
		ctx.fillStyle = '#eceff1';
		ctx.fillRect(0, 0, s.w, RULER);
		ctx.strokeStyle = '#90a4ae';
		ctx.beginPath();
		ctx.moveTo(0, RULER - 0.5);
		ctx.lineTo(s.w, RULER - 0.5);
		const step = niceStep((s.to - s.from) / Math.max(1, (xr - x0) / 110));
		ctx.fillStyle = '#263238';
		ctx.font = FONT;
		for (let t = Math.ceil(s.from / step) * step; t <= s.to; t += step) {
			const x = Math.round(this.x(t)) + 0.5;
			ctx.moveTo(x, RULER - 8);
			ctx.lineTo(x, RULER);
			ctx.fillText(fmtRel(t), x + 3, 14);
		}
		ctx.stroke();
		ctx.fillStyle = '#eceff1';
		ctx.fillRect(0, 0, GUTTER, RULER);
		ctx.fillStyle = '#263238';
		ctx.fillText(fmtDur(s.to - s.from) + ' shown', 6, 15);
	}
}

// A step of 1, 2 or 5 times a power of ten at least `raw`.
export function niceStep(raw) {
	if (!(raw > 0)) return 1;
	const p = Math.pow(10, Math.floor(Math.log10(raw)));
	for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
	return 10 * p;
}

function arrowHead(ctx, x1, y1, x2, y2, size) {
	const ang = Math.atan2(y2 - y1, x2 - x1);
	ctx.moveTo(x2, y2);
	ctx.lineTo(x2 - size * Math.cos(ang - 0.4), y2 - size * Math.sin(ang - 0.4));
	ctx.lineTo(x2 - size * Math.cos(ang + 0.4), y2 - size * Math.sin(ang + 0.4));
	ctx.closePath();
}
