// tl-minimap.js - the minimap: the whole trace squeezed into a strip (one thin row per lane, the
// blocks and merged runs of the whole-trace answer), with a frame around the visible window. It
// is drawn once into an offscreen canvas when its data or size change; each frame copies it and
// draws the frame. A click or drag moves the view there.

import {PALETTE} from './util.js';
import {GUTTER} from './tl-draw.js';

export class Minimap {
	constructor(canvas, onMove) {
		this.c = canvas;
		this.onMove = onMove;
		this.lod = null;
		this.off = document.createElement('canvas');
		let dragging = false;
		const go = (ev) => {
			const r = this.c.getBoundingClientRect();
			const x = ev.clientX - r.left;
			if (x < GUTTER || !this.dur) return;
			this.onMove(this.t0 + ((x - GUTTER) / (r.width - GUTTER)) * (this.t1 - this.t0));
		};
		canvas.addEventListener('pointerdown', (ev) => { dragging = true; canvas.setPointerCapture(ev.pointerId); go(ev); });
		canvas.addEventListener('pointermove', (ev) => { if (dragging) go(ev); });
		canvas.addEventListener('pointerup', () => { dragging = false; });
	}

	setData(lod, lanes, dur) {
		this.lod = lod;
		this.lanes = lanes;
		this.dur = dur;
		this.t0 = lod.from_ns;
		this.t1 = lod.to_ns;
		this.render();
	}

	resize() {
		this.render();
	}

	render() {
		const dpr = window.devicePixelRatio || 1;
		const w = this.c.clientWidth || 800, h = this.c.clientHeight || 40;
		this.w = w;
		this.h = h;
		this.c.width = Math.round(w * dpr);
		this.c.height = Math.round(h * dpr);
		this.off.width = this.c.width;
		this.off.height = this.c.height;
		const g = this.off.getContext('2d');
		g.setTransform(dpr, 0, 0, dpr, 0, 0);
		g.fillStyle = '#f4f6f8';
		g.fillRect(0, 0, w, h);
		g.fillStyle = '#455a64';
		g.font = '11px system-ui, sans-serif';
		g.fillText('whole trace', 6, h / 2 + 4);
		if (!this.lod) return;
		const order = this.lod.lanes.map((l) => l.lane).sort((a, b) => a - b);
		const idx = new Map(order.map((l, i) => [l, i]));
		const rh = Math.max(1, (h - 4) / Math.max(1, order.length));
		const X = (t) => GUTTER + ((t - this.t0) / (this.t1 - this.t0)) * (w - GUTTER);
		for (const l of this.lod.lanes) {
			const y = 2 + idx.get(l.lane) * rh;
			for (const b of l.blocks) {
				if (b.depth > 0) continue;
				g.fillStyle = PALETTE[b.c];
				g.fillRect(X(b.start_ns), y, Math.max(1, X(b.end_ns) - X(b.start_ns)), Math.max(1, rh - 0.5));
			}
			g.fillStyle = 'rgba(110,110,120,0.6)';
			for (const r of l.runs) {
				if (r.depth > 0) continue;
				g.fillRect(X(r.start_ns), y, Math.max(1, X(r.end_ns) - X(r.start_ns)), Math.max(1, rh - 0.5));
			}
		}
	}

	draw(from, to) {
		const ctx = this.c.getContext('2d');
		ctx.setTransform(1, 0, 0, 1, 0, 0);
		ctx.drawImage(this.off, 0, 0);
		if (!this.lod) return;
		const dpr = window.devicePixelRatio || 1;
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		const X = (t) => GUTTER + ((t - this.t0) / (this.t1 - this.t0)) * (this.w - GUTTER);
		const a = Math.max(GUTTER, X(from)), b = Math.min(this.w, X(to));
		ctx.fillStyle = 'rgba(21,101,192,0.15)';
		ctx.fillRect(a, 0, Math.max(2, b - a), this.h);
		ctx.strokeStyle = '#0d47a1';
		ctx.lineWidth = 1.5;
		ctx.strokeRect(a, 0.75, Math.max(2, b - a), this.h - 1.5);
		ctx.lineWidth = 1;
	}
}
