// tl-input.js - mouse, wheel and keyboard on the timeline canvas.
//
//   wheel            zoom around the pointer (over the lane labels: scroll the lanes)
//   shift+wheel      pan (a horizontal wheel or trackpad swipe pans too)
//   drag             pan across and scroll the lanes
//   shift+drag, or a drag on the time ruler: select a time range (its statistics)
//   click            select the block or point under the pointer; a heading: collapse/expand
//   W / S            zoom in / out, A / D pan left / right (held: continuous, as in Perfetto)
//   arrow keys       pan (left/right) and scroll (up/down); Home: the whole trace; Esc: clear

import {GUTTER, RULER} from './tl-draw.js';

const DRAG_PX = 4;            // movement that makes a press a drag rather than a click
const KEY_ZOOM = 2.2;         // zoom speed while W/S is held: factor per second
const KEY_PAN = 1.2;          // pan speed while A/D is held: visible widths per second

export class Input {
	constructor(page) {
		this.page = page;
		this.c = page.canvas;
		this.held = new Set();
		this.lastTick = 0;
		this.drag = null;
		this.dragRange = null;
		this.mouseX = null;
		const c = this.c;
		c.addEventListener('wheel', (ev) => this.wheel(ev), {passive: false});
		c.addEventListener('pointerdown', (ev) => this.down(ev));
		c.addEventListener('pointermove', (ev) => this.move(ev));
		c.addEventListener('pointerup', (ev) => this.up(ev));
		c.addEventListener('pointercancel', () => { this.drag = null; this.dragRange = null; page.request(); });
		c.addEventListener('pointerleave', () => { this.mouseX = null; });
		c.addEventListener('keydown', (ev) => this.keydown(ev));
		c.addEventListener('keyup', (ev) => this.keyup(ev));
		c.addEventListener('blur', () => this.stop());
	}

	pos(ev) {
		const r = this.c.getBoundingClientRect();
		return {x: ev.clientX - r.left, y: ev.clientY - r.top};
	}

	wheel(ev) {
		const p = this.pos(ev);
		const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 400 : 1;
		const dx = ev.deltaX * unit, dy = ev.deltaY * unit;
		if (p.x < GUTTER && !ev.ctrlKey) return;   // the lane labels scroll the lanes (the browser does)
		ev.preventDefault();
		if (ev.shiftKey || Math.abs(dx) > Math.abs(dy)) {
			this.page.panPx(ev.shiftKey && !dx ? dy : dx);
			return;
		}
		this.page.zoomAt(Math.exp(dy * 0.0015), p.x);
	}

	down(ev) {
		if (ev.button !== 0) return;
		const p = this.pos(ev);
		this.c.focus({preventScroll: true});
		this.drag = {x: p.x, y: p.y, lastX: p.x, lastY: p.y, moved: false,
			range: (ev.shiftKey || p.y < RULER) && p.x >= GUTTER, id: ev.pointerId};
		this.c.setPointerCapture(ev.pointerId);
	}

	move(ev) {
		const p = this.pos(ev);
		this.mouseX = p.x;
		const d = this.drag;
		if (!d) return;
		if (!d.moved && Math.abs(p.x - d.x) + Math.abs(p.y - d.y) < DRAG_PX) return;
		d.moved = true;
		const pg = this.page;
		if (d.range) {
			this.dragRange = {from: this.timeAt(d.x), to: this.timeAt(p.x)};
			pg.request();
		} else {
			pg.panPx(d.lastX - p.x);
			pg.scroller.scrollTop += d.lastY - p.y;
		}
		d.lastX = p.x;
		d.lastY = p.y;
	}

	up(ev) {
		const d = this.drag;
		if (!d) return;
		this.drag = null;
		const p = this.pos(ev);
		if (d.moved) {
			if (d.range && this.dragRange) {
				const a = Math.min(this.dragRange.from, this.dragRange.to), b = Math.max(this.dragRange.from, this.dragRange.to);
				this.dragRange = null;
				this.page.selectRange(a, b);
			}
			return;
		}
		this.click(p);
	}

	timeAt(x) {
		const pg = this.page;
		return pg.from + ((x - GUTTER) / pg.trackWidth()) * (pg.to - pg.from);
	}

	click(p) {
		const pg = this.page;
		if (p.x < GUTTER) {
			// A host or process heading: collapse or expand it.
			const y = p.y - RULER + pg.scroller.scrollTop;
			for (const r of pg.layout.rows) {
				if (r.type !== 'lane' && y >= r.y && y < r.y + r.h) {
					pg.toggleGroup(r.key);
					return;
				}
			}
			return;
		}
		if (p.y < RULER) return;
		const hit = this.hit(p.x, p.y);
		if (hit) pg.selectItem(hit.kind, hit.item);
		else pg.clearSelection();
	}

	// The item drawn under (x, y): points first (small targets), then blocks, then merged runs;
	// the last drawn wins (it is on top).
	hit(x, y) {
		const R = this.page.renderer;
		for (const [kind, slack] of [['points', 2], ['blocks', 0], ['runs', 0]]) {
			const L = R[kind];
			for (let i = L.n - 1; i >= 0; i--) {
				const o = 4 * i;
				if (x >= L.rect[o] - slack && x <= L.rect[o] + L.rect[o + 2] + slack &&
					y >= L.rect[o + 1] && y <= L.rect[o + 1] + L.rect[o + 3]) return {kind, item: L.items[i]};
			}
		}
		return null;
	}

	keydown(ev) {
		if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
		const k = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
		const pg = this.page;
		const step = 0.2;
		switch (k) {
		case 'w': case 's': case 'a': case 'd':
			ev.preventDefault();
			if (!ev.repeat && !this.held.has(k)) {
				// One step at once (a tap), then continuous while held.
				if (k === 'w') pg.zoomAt(1 - step, this.mouseX);
				else if (k === 's') pg.zoomAt(1 / (1 - step), this.mouseX);
				else pg.panPx((k === 'a' ? -1 : 1) * step * pg.trackWidth());
				this.held.add(k);
				this.lastTick = 0;
				pg.request();
			}
			return;
		case 'ArrowLeft': case 'ArrowRight':
			ev.preventDefault();
			pg.panPx((k === 'ArrowLeft' ? -1 : 1) * 0.1 * pg.trackWidth());
			return;
		case 'ArrowUp': case 'ArrowDown':
			ev.preventDefault();
			pg.scroller.scrollTop += k === 'ArrowUp' ? -40 : 40;
			return;
		case 'PageUp': case 'PageDown':
			ev.preventDefault();
			pg.scroller.scrollTop += (k === 'PageUp' ? -0.9 : 0.9) * pg.scroller.clientHeight;
			return;
		case 'Home':
			ev.preventDefault();
			pg.fit();
			return;
		case 'Escape':
			pg.clearSelection();
			if (pg.range) pg.clearRange();
			return;
		default:
		}
	}

	keyup(ev) {
		const k = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
		this.held.delete(k);
	}

	stop() {
		this.held.clear();
		this.drag = null;
	}

	animating() {
		return this.held.size > 0;
	}

	// Called at the start of each frame: apply held keys for the time since the last frame.
	tick(now) {
		if (!this.held.size) {
			this.lastTick = 0;
			return;
		}
		const dt = this.lastTick ? Math.min(0.1, (now - this.lastTick) / 1000) : 0;
		this.lastTick = now;
		if (!dt) return;
		const pg = this.page;
		const z = (this.held.has('w') ? -1 : 0) + (this.held.has('s') ? 1 : 0);
		const m = (this.held.has('a') ? -1 : 0) + (this.held.has('d') ? 1 : 0);
		if (z) pg.zoomAt(Math.pow(KEY_ZOOM, z * dt), this.mouseX);
		if (m) pg.panPx(m * KEY_PAN * dt * pg.trackWidth());
	}
}
