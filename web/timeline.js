// timeline.js - the Trace timeline page: loads a trace's overview, keeps the level-of-detail
// answers for the view in memory, and ties together the canvas (tl-draw.js), the input
// (tl-input.js), the side panels (tl-panels.js) and the URL.
//
// State in the URL (#/trace/ID?...), so a link reproduces the view:
//   from, to   the visible window, absolute ns      sel       the selected event's ID
//   rs, re     the selected time range, absolute ns q         the search text
//   cp=1       critical path shown                  orig=1    original (unadjusted) timestamps
//   hide       collapsed hosts and processes (h0,p3) y         vertical scroll, px
//
// Times inside the page are ns relative to the trace's start (api.js says why).
// Fetching: the whole trace at the canvas width once (the minimap, and what is drawn where no
// detail has arrived yet), and, debounced after each pan or zoom, the window around the view at
// the current scale; a newer request aborts an older one. Frames draw only what is in memory.

import {getText, getTimed, readTimes, exactMember, ApiError} from './api.js';
import {el, clear, fmtDur, fmtRel, fmtAbs, fmtCount, absString, relFromString, colorIndex, debounce,
	isEventId, isTraceId} from './util.js';
import {flattenLanes, layout} from './tl-layout.js';
import {Renderer, GUTTER, RULER} from './tl-draw.js';
import {Input} from './tl-input.js';
import {Details, RangeStats, describeItem} from './tl-panels.js';
import {Minimap} from './tl-minimap.js';

const MIN_SPAN = 20;          // ns: the deepest zoom
const LIST_MAX = 150;         // items in the screen-reader list of what is drawn
const FRAME_SAMPLES = 2000;   // frame times kept for frameStats()

export class TimelinePage {
	constructor(root) {
		this.root = root;
		this.traceId = null;
		this.frames = 0;
		this.frameTimes = [];
		this.pending = 0;
		this.scheduled = false;
		this.build();
		// Debounced work, with a flag each while it waits (ready() says false meanwhile).
		const fetchDetail = debounce(() => { this.detailQueued = false; this.loadDetail(); }, 70);
		this.fetchDetail = () => { this.detailQueued = true; fetchDetail(); };
		const writeUrl = debounce(() => { this.urlQueued = false; this.replaceUrl(); }, 150);
		this.writeUrl = () => { this.urlQueued = true; writeUrl(); };
		const announce = debounce(() => this.updateAccessible(), 300);
		this.announce = () => { this.announcing = true; announce(); };
		window.addEventListener('resize', () => { if (!this.root.hidden && this.overview) this.resize(); });
	}

	// ---- page structure ----

	build() {
		const tb = el('div', {class: 'toolbar', role: 'toolbar', 'aria-label': 'Timeline tools'});
		this.title = el('h1', {class: 'trace-title'}, 'Trace');
		this.searchInput = el('input', {id: 'tl-search', type: 'search', placeholder: 'name or key=value',
			autocomplete: 'off'});
		this.searchInput.addEventListener('input', () => { this.searchMsg.textContent = ''; });
		this.searchInput.addEventListener('keydown', (ev) => {
			if (ev.key === 'Enter') {
				ev.preventDefault();
				this.find(ev.shiftKey ? 'prev' : 'next');
			}
		});
		this.btnPrev = el('button', {type: 'button', id: 'tl-prev', onclick: () => this.find('prev')}, '◀ Prev');
		this.btnNext = el('button', {type: 'button', id: 'tl-next', onclick: () => this.find('next')}, 'Next ▶');
		this.searchMsg = el('span', {class: 'search-msg', id: 'tl-search-msg', role: 'status', 'aria-live': 'polite'});
		this.btnCp = el('button', {type: 'button', id: 'tl-cp', 'aria-pressed': 'false', onclick: () => this.toggleCritical()}, 'Critical path');
		this.btnOrig = el('button', {type: 'button', id: 'tl-orig', 'aria-pressed': 'false', onclick: () => this.toggleOrig()}, 'Original clocks');
		const zoom = (f) => () => { this.zoomAt(f, null); this.canvas.focus(); };
		tb.append(
			el('form', {class: 'search', role: 'search', onsubmit: (ev) => { ev.preventDefault(); this.find('next'); }},
				el('label', {for: 'tl-search'}, 'Search in trace'), this.searchInput, this.btnPrev, this.btnNext, this.searchMsg),
			el('span', {class: 'group'},
				el('button', {type: 'button', id: 'tl-zoom-in', 'aria-label': 'Zoom in', onclick: zoom(0.5)}, '+'),
				el('button', {type: 'button', id: 'tl-zoom-out', 'aria-label': 'Zoom out', onclick: zoom(2)}, '−'),
				el('button', {type: 'button', id: 'tl-fit', onclick: () => { this.fit(); this.canvas.focus(); }}, 'Whole trace'),
				el('button', {type: 'button', id: 'tl-range-visible', onclick: () => this.selectRange(this.from, this.to)}, 'Stats of visible range')),
			el('span', {class: 'group'}, this.btnCp, this.btnOrig));
		this.info = el('p', {class: 'trace-info'});
		this.clockNote = el('p', {class: 'clock-note', hidden: true});
		this.summary = el('p', {class: 'summary', id: 'tl-summary', role: 'status', 'aria-live': 'polite'});
		this.error = el('p', {class: 'error', role: 'alert', hidden: true});
		this.cpNote = el('p', {class: 'cp-note', id: 'tl-cp-note', role: 'status', hidden: true});

		this.minimapCanvas = el('canvas', {class: 'minimap', id: 'tl-minimap', role: 'img',
			'aria-label': 'Minimap of the whole trace; the frame marks the visible window. Click to move there.'});
		this.canvas = el('canvas', {class: 'timeline', id: 'tl-canvas', tabindex: 0, role: 'application',
			'aria-roledescription': 'trace timeline',
			'aria-label': 'Trace timeline. W and S zoom, A and D pan, arrow keys scroll, Home shows the whole trace, Escape clears the selection. Shift and drag selects a time range.',
			'aria-describedby': 'tl-summary'});
		this.spacer = el('div', {class: 'tl-spacer'});
		this.scroller = el('div', {class: 'tl-scroll'}, this.canvas, this.spacer);
		this.scroller.addEventListener('scroll', () => { this.request(); this.writeUrl(); });

		this.lanesNav = el('nav', {class: 'lanes-nav', 'aria-label': 'Hosts and processes'});
		this.details = new Details((id) => this.link({sel: id}), (ev) => this.followEvent(ev));
		this.rangeStats = new RangeStats(() => this.clearRange(), () => this.zoomToRange());
		this.drawnList = el('ul', {class: 'sr-only', id: 'tl-drawn', 'aria-label': 'What the timeline shows'});

		this.root.append(
			el('div', {class: 'tl-head'}, this.title, this.info), tb, this.error, this.clockNote, this.cpNote, this.summary,
			this.minimapCanvas,
			el('div', {class: 'tl-body'},
				el('div', {class: 'tl-side'}, el('h2', null, 'Lanes'), this.lanesNav),
				el('div', {class: 'tl-main'}, this.scroller),
				el('aside', {class: 'tl-panels', 'aria-label': 'Details'}, this.details.root, this.rangeStats.root)),
			this.drawnList);

		this.renderer = new Renderer(this.canvas);
		this.minimap = new Minimap(this.minimapCanvas, (t) => this.centerOn(t));
		this.input = new Input(this);
	}

	// ---- routing ----

	show(route) {
		const id = String(route.id || '').toLowerCase();
		if (!isTraceId(id)) {
			this.fail('Not a trace ID: ' + route.id);
			return;
		}
		if (id !== this.traceId) this.load(id, route.params);
		else if (this.overview) this.applyParams(route.params, false);
	}

	hide() {
		this.input.stop();
	}

	link(change) {
		const p = this.params();
		if (change) for (const [k, v] of Object.entries(change)) { if (v === null) p.delete(k); else p.set(k, v); }
		return '#/trace/' + this.traceId + '?' + p.toString();
	}

	params() {
		const p = new URLSearchParams();
		if (!this.overview) return p;
		p.set('from', absString(this.base, this.from));
		p.set('to', absString(this.base, this.to));
		if (this.selection) p.set('sel', this.selection.id);
		if (this.range) {
			p.set('rs', absString(this.base, this.range.from));
			p.set('re', absString(this.base, this.range.to));
		}
		if (this.searchInput.value) p.set('q', this.searchInput.value);
		if (this.cpOn) p.set('cp', '1');
		if (this.orig) p.set('orig', '1');
		if (this.collapsed.size) p.set('hide', [...this.collapsed].join(','));
		if (this.scroller.scrollTop > 0) p.set('y', String(Math.round(this.scroller.scrollTop)));
		return p;
	}

	replaceUrl() {
		if (this.root.hidden || !this.overview) return;
		const h = this.link();
		if (location.hash !== h) history.replaceState(null, '', h);
		const nav = document.getElementById('nav-trace');
		if (nav) nav.href = h;
	}

	fail(msg) {
		this.error.textContent = msg;
		this.error.hidden = false;
	}

	// ---- loading ----

	async load(id, params) {
		this.traceId = id;
		this.overview = null;
		this.overviewLod = this.detail = null;
		this.selection = null;
		this.range = null;
		this.cp = null;
		this.cpOn = false;
		this.orig = false;
		this.collapsed = new Set();
		this.error.hidden = true;
		this.details.clear();
		this.rangeStats.clear();
		this.searchMsg.textContent = '';
		this.summary.textContent = 'Loading the trace…';
		this.title.textContent = 'Trace ' + id;
		this.firstPaint = false;
		this.gen = (this.gen || 0) + 1;
		const gen = this.gen;
		this.pending++;
		try {
			const text = await getText('api/traces/' + id + '/view');
			if (gen !== this.gen) return;
			const base = exactMember(text, 'start_ns');
			if (base === null) throw new ApiError(200, 'the overview has no start_ns');
			this.base = base;
			const ov = readTimes(text, base);
			if (!this.firstPaint) performance.mark('hx-overview');
			this.overview = ov;
			this.dur = Math.max(1, (ov.end_ns || 0) - (ov.start_ns || 0));
			this.lanes = flattenLanes(ov);
			this.title.textContent = ov.root_name ? ov.root_name : 'Trace ' + id;
			this.info.textContent = `${id} · started ${fmtAbs(base)} · ${fmtDur(this.dur)} · ${fmtCount(ov.events)} events, ` +
				`${fmtCount(ov.blocks)} blocks, ${plural(this.lanes.filter(Boolean).length, 'lane')}`;
			const clk = ov.clock || {};
			this.btnOrig.disabled = !(clk.adjusted_processes > 0);
			if (clk.adjusted_processes > 0) {
				this.clockNote.textContent = `Clock alignment adjusted the timestamps of ${clk.adjusted_processes} process` +
					`${clk.adjusted_processes > 1 ? 'es' : ''} (by up to ${fmtDur(clk.max_abs_offset_ns)}): their lanes are marked ≈ ` +
					'with a dashed edge. "Original clocks" draws them at their recorded times.';
				this.clockNote.hidden = false;
			} else {
				this.clockNote.hidden = true;
			}
			this.from = -this.dur * 0.01;
			this.to = this.dur * 1.01;
			// The whole trace's answer is on its way while the page lays itself out.
			this.pending++;
			const whole = this.loadOverviewLod(gen);
			try {
				this.applyParams(params, true);
				this.resize();     // reads the page's size once, then only writes
				this.relayout();
				await whole;
			} finally {
				this.pending--;
			}
		} catch (e) {
			if (gen !== this.gen) return;
			this.summary.textContent = '';
			this.fail(e instanceof ApiError && e.status === 404 ? 'No such trace: ' + e.message : 'Cannot load the trace: ' + e.message);
		} finally {
			this.pending--;
		}
	}

	// Apply URL parameters (on load, back/forward and followed links).
	applyParams(p, initial) {
		const f = relFromString(this.base, p.get('from') || '');
		const t = relFromString(this.base, p.get('to') || '');
		if (Number.isFinite(f) && Number.isFinite(t) && t - f >= MIN_SPAN) {
			this.from = f;
			this.to = t;
		}
		const hide = new Set((p.get('hide') || '').split(',').filter((k) => /^[hp]\d{1,9}$/.test(k)));
		if (initial || [...hide].join() !== [...this.collapsed].join()) {
			this.collapsed = hide;
			if (!initial) this.relayout();
		}
		const rs = relFromString(this.base, p.get('rs') || ''), re = relFromString(this.base, p.get('re') || '');
		if (Number.isFinite(rs) && Number.isFinite(re) && re > rs) {
			if (!this.range || this.range.from !== rs || this.range.to !== re) this.selectRange(rs, re);
		} else if (this.range) {
			this.clearRange();
		}
		const q = p.get('q') || '';
		if (this.searchInput.value !== q) this.searchInput.value = q;
		this.orig = p.get('orig') === '1' && !this.btnOrig.disabled;
		this.btnOrig.setAttribute('aria-pressed', String(this.orig));
		const cp = p.get('cp') === '1';
		if (cp !== !!this.cpOn) this.toggleCritical(cp);
		const y = Number(p.get('y'));
		if (Number.isFinite(y) && y > 0) this.pendingScroll = y;
		const sel = p.get('sel');
		if (sel && isEventId(sel)) {
			if (!this.selection || this.selection.id !== sel) this.selectById(sel, !initial);
		} else if (this.selection) {
			this.selection = null;
			this.details.clear();
		}
		if (!initial) {
			this.request();
			this.fetchDetail();
		}
	}

	async loadOverviewLod(gen) {
		const px = Math.max(1, Math.min(16384, Math.round(this.trackWidth())));
		const lo = -Math.max(1, Math.round(this.dur * 0.02)), hi = this.dur + Math.max(1, Math.round(this.dur * 0.02));
		const lod = await this.fetchLod(lo, hi, px, null, true);
		if (gen !== this.gen) return;
		if (!this.firstPaint) performance.mark('hx-whole-lod');
		this.overviewLod = lod;
		this.minimap.setData(lod, this.lanes, this.dur);
		this.request();
		this.fetchDetail();
	}

	// One /lod answer: the lanes shown (all of them for `all`), indexed for drawing.
	async fetchLod(from, to, px, signal, all) {
		const lanes = all ? null : this.visibleLaneList();
		const key = this.lanesKey;
		const params = {from: absString(this.base, from), to: absString(this.base, to), px};
		if (lanes) params.lanes = lanes.join(',');
		const lod = await getTimed('api/traces/' + this.traceId + '/lod', params, this.base, signal);
		prepareLod(lod, from, to);
		lod.lanesKey = all ? null : key;
		return lod;
	}

	// Lanes not hidden by a collapsed group, or null for all of them.
	visibleLaneList() {
		if (!this.collapsed.size) return null;
		const out = [];
		for (const [lane, row] of this.layout.byLane) if (row.type === 'lane') out.push(lane);
		return out.length ? out.sort((a, b) => a - b) : [0];
	}

	// The window around the view, fetched at the current scale after panning or zooming.
	async loadDetail() {
		if (!this.overview || !this.overviewLod) return;
		const span = this.to - this.from;
		const nsPerPx = span / Math.max(1, this.trackWidth());
		const d = this.detail;
		// The answer in memory still fits: it covers the view at about this scale.
		if (d && d.lanesKey === this.lanesKey && d.from_ns <= this.from && d.to_ns >= this.to &&
			d.nsPerPx <= nsPerPx * 1.5 && d.nsPerPx >= nsPerPx / 1.5) return;
		const o = this.overviewLod;
		if (o.nsPerPx <= nsPerPx * 1.5 && o.from_ns <= this.from && o.to_ns >= this.to) {
			this.detail = null;
			this.request();
			this.announce();
			return;
		}
		const from = Math.floor(this.from - span / 2), to = Math.ceil(this.to + span / 2);
		const px = Math.max(1, Math.min(16384, Math.round(((to - from) / span) * this.trackWidth())));
		if (this.abort) this.abort.abort();
		const ac = this.abort = new AbortController();
		const gen = this.gen;
		this.pending++;
		try {
			const lod = await this.fetchLod(from, to, px, ac.signal);
			if (gen !== this.gen || ac !== this.abort) return;
			this.detail = lod;
			this.error.hidden = true;
			this.request();
			this.announce();
		} catch (e) {
			if (e.name !== 'AbortError' && gen === this.gen) this.fail('Cannot load this window: ' + e.message);
		} finally {
			this.pending--;
			if (ac === this.abort) this.abort = null;
		}
	}

	// ---- geometry ----

	relayout() {
		this.layout = layout(this.overview, this.lanes, this.collapsed);
		this.lanesKey = [...this.collapsed].sort().join(',');
		this.renderLanesNav();
		this.sizeSpacer();
		this.request();
	}

	trackWidth() {
		return Math.max(50, (this.cssW || this.scroller.clientWidth || 800) - GUTTER);
	}

	resize() {
		const dpr = window.devicePixelRatio || 1;
		const w = this.scroller.clientWidth || 800;
		const h = this.scroller.clientHeight || 500;
		this.cssW = w;
		this.cssH = h;
		this.canvas.style.width = w + 'px';
		this.canvas.style.height = h + 'px';
		this.canvas.width = Math.round(w * dpr);
		this.canvas.height = Math.round(h * dpr);
		this.dpr = dpr;
		this.sizeSpacer();
		this.minimap.resize();
		this.request();
		this.fetchDetail();
	}

	sizeSpacer() {
		if (!this.layout) return;
		const h = this.cssH || this.scroller.clientHeight || 500;
		this.spacer.style.height = Math.max(0, this.layout.total + RULER + 20 - h) + 'px';
		if (this.pendingScroll) {
			this.scroller.scrollTop = this.pendingScroll;
			this.pendingScroll = 0;
		}
	}

	// ---- view changes ----

	setView(from, to) {
		let span = to - from;
		const maxSpan = this.dur * 1.5 + 1000;
		if (span < MIN_SPAN) {
			const c = (from + to) / 2;
			span = MIN_SPAN;
			from = c - span / 2;
		}
		if (span > maxSpan) {
			from = (from + to) / 2 - maxSpan / 2;
			span = maxSpan;
		}
		const lo = -this.dur * 0.25 - span / 2, hi = this.dur * 1.25 + span / 2 - span;
		from = Math.min(Math.max(from, lo), hi);
		this.from = from;
		this.to = from + span;
		this.request();
		this.fetchDetail();
		this.writeUrl();
	}

	// Zoom by `factor` (< 1 zooms in) around canvas x (CSS px), or the middle when null.
	zoomAt(factor, x) {
		const tw = this.trackWidth();
		const fx = x === null ? 0.5 : Math.min(1, Math.max(0, (x - GUTTER) / tw));
		const t = this.from + fx * (this.to - this.from);
		const span = (this.to - this.from) * factor;
		this.setView(t - fx * span, t - fx * span + span);
	}

	panPx(dx) {
		const ns = (dx * (this.to - this.from)) / this.trackWidth();
		this.setView(this.from + ns, this.to + ns);
	}

	fit() {
		this.setView(-this.dur * 0.01, this.dur * 1.01);
	}

	centerOn(t) {
		const span = this.to - this.from;
		this.setView(t - span / 2, t + span / 2);
	}

	scrollToLane(lane) {
		const row = this.layout.byLane.get(lane);
		if (!row) return;
		const top = this.scroller.scrollTop, h = (this.cssH || 500) - RULER;
		if (row.y < top || row.y + Math.min(row.h, h) > top + h) this.scroller.scrollTop = Math.max(0, row.y - h / 3);
	}

	// ---- drawing ----

	request() {
		if (this.scheduled) return;
		this.scheduled = true;
		requestAnimationFrame(() => {
			this.scheduled = false;
			this.frame();
		});
	}

	frame() {
		if (this.root.hidden || !this.overview || !this.layout) return;
		const t0 = performance.now();
		this.input.tick(t0);
		const s = {
			w: this.cssW, h: this.cssH, dpr: this.dpr,
			from: this.from, to: this.to, scrollY: this.scroller.scrollTop,
			layout: this.layout, lanes: this.lanes,
			overview: this.overviewLod, detail: this.detail,
			orig: this.orig, selection: this.selection, range: this.range, drag: this.input.dragRange,
			cp: this.cpOn && this.cp ? this.cp : null,
		};
		this.renderer.draw(s);
		this.minimap.draw(this.from, this.to);
		this.frames++;
		const dt = performance.now() - t0;
		if (this.frameTimes.length >= FRAME_SAMPLES) this.frameTimes.shift();
		this.frameTimes.push(dt);
		if (!this.firstPaint && this.renderer.blocks.n + this.renderer.runs.n > 0) {
			this.firstPaint = true;
			performance.mark('hx-first-paint');
			this.announce();
		}
		if (this.input.animating()) this.request();
	}

	// ---- selection, details, search ----

	// Select the event under a click: an item from the DrawLists.
	selectItem(kind, item) {
		if (kind === 'runs') {
			this.details.showRun(item, () => this.setView(item.start_ns - (item.end_ns - item.start_ns) * 0.1,
				item.end_ns + (item.end_ns - item.start_ns) * 0.1));
			this.selection = null;
			this.request();
			this.writeUrl();
			return;
		}
		if (kind === 'points' && !item.id) {
			this.details.showBin(item);
			return;
		}
		if (item.id) this.selectById(item.id, false);
	}

	// Fetch an event and select it; `reveal`: bring it into view (a followed link, a search).
	async selectById(id, reveal) {
		const gen = this.gen;
		this.pending++;
		try {
			const ev = await getTimed('api/traces/' + this.traceId + '/event', {id}, this.base);
			if (gen !== this.gen) return;
			this.setSelection(ev, reveal);
		} catch (e) {
			if (gen === this.gen) this.details.showError('Cannot load event ' + id + ': ' + e.message);
		} finally {
			this.pending--;
		}
	}

	setSelection(ev, reveal) {
		const b = ev.block;
		const block = b && b.begin && Number.isFinite(b.duration_ns) ?
			{start: ev.kind === 'block_end' ? ev.time_ns - b.duration_ns : ev.time_ns,
				end: ev.kind === 'block_end' ? ev.time_ns : ev.time_ns + b.duration_ns, depth: b.depth} : null;
		this.selection = {id: String(ev.id), e: ev.e, lane: ev.lane, time: ev.time_ns, block, name: ev.name, event: ev};
		const laneInfo = this.lanes[ev.lane];
		this.details.show(ev, laneInfo, this.base);
		if (reveal) {
			const a = block ? block.start : ev.time_ns, z = block ? block.end : ev.time_ns;
			if (a < this.from || z > this.to) {
				const span = Math.max(this.to - this.from, (z - a) * 1.2);
				this.setView((a + z) / 2 - span / 2, (a + z) / 2 + span / 2);
			}
			if (laneInfo) {
				const row = this.layout.byLane.get(ev.lane);
				if (row && row.type === 'hidden') {
					this.collapsed.delete(laneInfo.hostKey);
					this.collapsed.delete(laneInfo.procKey);
					this.relayout();
				}
				this.scrollToLane(ev.lane);
			}
		}
		this.request();
		this.writeUrl();
		this.announce();
	}

	// A cause or effect link in the details panel: select it and bring it into view.
	followEvent(id) {
		history.pushState(null, '', this.link({sel: id}));
		this.selectById(id, true);
	}

	clearSelection() {
		this.selection = null;
		this.details.clear();
		this.request();
		this.writeUrl();
	}

	async find(dir) {
		const q = this.searchInput.value.trim();
		if (!q) {
			this.searchMsg.textContent = 'Type a name or key=value to search.';
			return;
		}
		const params = {q, dir};
		if (this.selection && this.lastFind === q) params.after = this.selection.id;
		const gen = this.gen;
		this.pending++;
		this.searchMsg.textContent = 'Searching…';
		try {
			const ans = await getTimed('api/traces/' + this.traceId + '/find', params, this.base);
			if (gen !== this.gen) return;
			this.lastFind = q;
			this.searchTotal = ans.total;
			if (ans.match) {
				this.searchMatch = ans.match;
				this.searchMsg.textContent = `${ans.match.name} at ${fmtRel(ans.match.time_ns)} · ${fmtCount(ans.total)} match${ans.total === 1 ? '' : 'es'} in the trace`;
				await this.selectById(String(ans.match.id), true);
			} else {
				this.searchMatch = null;
				this.searchMsg.textContent = ans.total ? `No ${dir === 'prev' ? 'earlier' : 'later'} match (${fmtCount(ans.total)} in the trace).` : 'No match in this trace.';
			}
		} catch (e) {
			if (gen === this.gen) this.searchMsg.textContent = 'Search failed: ' + e.message;
		} finally {
			this.pending--;
		}
		this.writeUrl();
	}

	// ---- range statistics ----

	async selectRange(a, b) {
		if (!(b > a)) return;
		this.range = {from: a, to: b};
		this.request();
		this.writeUrl();
		const gen = this.gen;
		const params = {from: absString(this.base, a), to: absString(this.base, b)};
		const lanes = this.visibleLaneList();
		if (lanes) params.lanes = lanes.join(',');
		this.rangeStats.loading(a, b);
		this.pending++;
		try {
			const ans = await getTimed('api/traces/' + this.traceId + '/range', params, this.base);
			if (gen !== this.gen || !this.range || this.range.from !== a) return;
			this.rangeStats.show(ans, a, b);
		} catch (e) {
			if (gen === this.gen) this.rangeStats.showError(e.message);
		} finally {
			this.pending--;
		}
	}

	clearRange() {
		this.range = null;
		this.rangeStats.clear();
		this.request();
		this.writeUrl();
	}

	zoomToRange() {
		if (this.range) this.setView(this.range.from, this.range.to);
	}

	// ---- toggles ----

	async toggleCritical(on) {
		this.cpOn = on === undefined ? !this.cpOn : on;
		this.btnCp.setAttribute('aria-pressed', String(this.cpOn));
		this.writeUrl();
		if (!this.cpOn) {
			this.cpNote.hidden = true;
			this.request();
			return;
		}
		if (!this.cp) {
			const gen = this.gen;
			this.pending++;
			this.cpNote.hidden = false;
			this.cpNote.textContent = 'Computing the critical path…';
			try {
				const ans = await getTimed('api/traces/' + this.traceId + '/critical-path', null, this.base);
				if (gen !== this.gen) return;
				const segs = Array.isArray(ans.segments) ? ans.segments : [];
				this.cp = {segments: segs, path: new Set(Array.isArray(ans.path) ? ans.path : []), answer: ans};
			} catch (e) {
				if (gen === this.gen) {
					this.cpNote.textContent = 'Critical path unavailable: ' + e.message;
					this.cpOn = false;
					this.btnCp.setAttribute('aria-pressed', 'false');
				}
				return;
			} finally {
				this.pending--;
			}
		}
		const by = {};
		for (const g of this.cp.segments) by[g.kind] = (by[g.kind] || 0) + (g.duration_ns || 0);
		const parts = Object.entries(by).map(([k, v]) => `${k} ${fmtDur(v)}`).join(', ');
		this.cpNote.hidden = false;
		this.cpNote.textContent = `Critical path (orange): ${fmtDur(this.cp.answer.duration_ns)} in ${this.cp.segments.length} segments` +
			(parts ? ` — ${parts}` : '') + '.';
		this.request();
	}

	toggleOrig() {
		if (this.btnOrig.disabled) return;
		this.orig = !this.orig;
		this.btnOrig.setAttribute('aria-pressed', String(this.orig));
		this.request();
		this.writeUrl();
		this.announce();
	}

	toggleGroup(key) {
		if (this.collapsed.has(key)) this.collapsed.delete(key);
		else this.collapsed.add(key);
		this.relayout();
		this.fetchDetail();
		this.writeUrl();
	}

	renderLanesNav() {
		clear(this.lanesNav);
		const ul = el('ul');
		for (const r of this.layout.rows.concat()) {
			if (r.type === 'lane') continue;
			const label = r.type === 'host' ? 'host ' + r.label :
				`${r.proc.service || r.proc.program || 'process'} pid ${r.proc.pid}` + (r.proc.clock_offset_ns ? ' (clock adjusted)' : '');
			ul.append(el('li', {class: r.type},
				el('button', {type: 'button', 'aria-expanded': String(!r.collapsed), 'data-key': r.key,
					onclick: () => this.toggleGroup(r.key)}, (r.collapsed ? '▸ ' : '▾ ') + label)));
		}
		this.lanesNav.append(ul);
	}

	// ---- accessible data layer ----

	ready() {
		return !!this.overview && this.pending === 0 && !this.scheduled && !this.announcing && !this.detailQueued && !this.urlQueued &&
			(this.firstPaint || (this.overviewLod && this.renderer.blocks.n + this.renderer.runs.n === 0)) &&
			!this.input.animating();
	}

	canvasRect() {
		const r = this.canvas.getBoundingClientRect();
		return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height,
			gutter: GUTTER, ruler: RULER};
	}

	describeVisible() {
		if (!this.overview || this.root.hidden) return null;
		return {from_ns: absString(this.base, this.from), to_ns: absString(this.base, this.to),
			from_rel_ns: this.from, to_rel_ns: this.to, span_ns: this.to - this.from,
			trace_start_ns: String(this.base), trace_duration_ns: this.dur, scroll_y: this.scroller.scrollTop,
			orig: this.orig};
	}

	describeSelection() {
		if (!this.selection || this.root.hidden) return null;
		const s = this.selection;
		return {id: s.id, e: s.e, lane: s.lane, name: s.name, time_rel_ns: s.time};
	}

	describeRange() {
		if (!this.range || this.root.hidden) return null;
		return {from_rel_ns: this.range.from, to_rel_ns: this.range.to, from_ns: absString(this.base, this.range.from),
			to_ns: absString(this.base, this.range.to), stats: this.rangeStats.answer};
	}

	describeLanes() {
		if (!this.layout || this.root.hidden) return null;
		const top = RULER - this.scroller.scrollTop;
		const out = [];
		for (const r of this.layout.rows) {
			if (r.type === 'lane') {
				const i = r.info;
				out.push({lane: r.lane, name: i.name, entity: i.entity, kind: i.kind, host: i.host, service: i.proc.service,
					pid: i.proc.pid, adjusted: !!i.offset, y: r.y + top, h: r.h, blocks_y: r.blocksY + top, rows: r.rows,
					visible: r.y + top < this.cssH && r.y + top + r.h > RULER});
			} else {
				out.push({group: r.type, key: r.key, collapsed: !!r.collapsed, y: r.y + top, h: r.h});
			}
		}
		return out;
	}

	describeDrawn(kind) {
		if (!this.overview || this.root.hidden) return null;
		const L = this.renderer[kind];
		const out = [];
		for (let i = 0; i < L.n; i++) {
			const it = L.items[i];
			const o = 4 * i;
			if (kind === 'arrows') {
				out.push({kind: it.kind, cause: it.cause.id, effect: it.effect.id, cause_lane: it.cause.lane,
					effect_lane: it.effect.lane, x1: L.rect[o], y1: L.rect[o + 1], x2: L.rect[o + 2], y2: L.rect[o + 3]});
			} else {
				const d = {x: L.rect[o], y: L.rect[o + 1], w: L.rect[o + 2], h: L.rect[o + 3], lane: it.lane, name: it.name};
				if (it.id) d.id = it.id;
				if (Number.isInteger(it.e)) d.e = it.e;
				if (it.count) d.count = it.count;
				if (Number.isFinite(it.depth)) d.depth = it.depth;
				if (it.kind) d.kind = it.kind;
				if (Number.isFinite(it.start_ns)) { d.start_rel_ns = it.start_ns; d.end_rel_ns = it.end_ns; }
				if (Number.isFinite(it.time_ns)) d.time_rel_ns = it.time_ns;
				out.push(d);
			}
		}
		return out;
	}

	describeSummary() {
		if (!this.overview || this.root.hidden) return null;
		const d = this.currentLod();
		return {text: this.summary.textContent, lod: d ? d.summary : null};
	}

	describeSearch() {
		if (this.root.hidden) return null;
		return {q: this.searchInput.value, total: this.searchTotal ?? null, match: this.searchMatch ? String(this.searchMatch.id) : null,
			message: this.searchMsg.textContent};
	}

	describeCritical() {
		if (this.root.hidden || !this.cpOn || !this.cp) return null;
		return {segments: this.cp.segments.length, path: [...this.cp.path], duration_ns: this.cp.answer.duration_ns};
	}

	currentLod() {
		return this.detail || this.overviewLod;
	}

	frameCount() {
		return this.frames;
	}

	frameStats() {
		const a = this.frameTimes.slice().sort((x, y) => x - y);
		const q = (p) => (a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : 0);
		return {count: a.length, p50: q(0.5), p95: q(0.95), max: a.length ? a[a.length - 1] : 0};
	}

	resetFrameStats() {
		this.frameTimes = [];
	}

	// The spoken summary and the list of what is drawn, after the view settles.
	updateAccessible() {
		this.announcing = false;
		if (!this.overview) return;
		const d = this.currentLod();
		const parts = [`Showing ${fmtRel(this.from)} to ${fmtRel(this.to)} (${fmtDur(this.to - this.from)}) of ${fmtDur(this.dur)}`];
		const nl = this.layout.rows.filter((r) => r.type === 'lane').length;
		parts.push(`${nl} lane${nl === 1 ? '' : 's'}`);
		if (d && d.summary) {
			const m = d.summary;
			parts.push(`${fmtCount(m.blocks_whole)} blocks` + (m.blocks_merged ? `, ${fmtCount(m.blocks_merged)} more merged into ${fmtCount(m.runs)} grey runs (zoom in to see them)` : ''));
			parts.push(`${fmtCount(m.points_whole)} points` + (m.points_binned ? `, ${fmtCount(m.points_binned)} more counted in bins` : ''));
			parts.push(`${fmtCount(m.arrows)} arrows` + (m.arrows_left_out ? `, ${fmtCount(m.arrows_left_out)} left out` : ''));
			if (m.waits_merged) parts.push(`${fmtCount(m.waits_merged)} waits merged into ${fmtCount(m.wait_runs)} shaded spans`);
			// Whatever else the server says it left out, by its own name for it.
			for (const [k, v] of Object.entries(m)) {
				if (k !== 'arrows_left_out' && k.endsWith('_left_out') && v > 0) parts.push(`${fmtCount(v)} ${k.slice(0, -9).replace(/_/g, ' ')} left out`);
			}
			if (m.capped) parts.push('the answer reached its item limit, so more was merged than the width alone needs');
		}
		if (this.collapsed.size) parts.push(`${this.collapsed.size} group${this.collapsed.size > 1 ? 's' : ''} collapsed`);
		if (this.orig) parts.push('original (unadjusted) clocks');
		this.summary.textContent = parts.join('; ') + '.';
		clear(this.drawnList);
		let n = 0;
		const add = (kind) => {
			const L = this.renderer[kind];
			for (let i = 0; i < L.n && n < LIST_MAX; i++, n++) this.drawnList.append(el('li', null, describeItem(kind, L.items[i], this.lanes)));
			return L.n;
		};
		const total = add('blocks') + add('runs') + add('points') + add('arrows');
		if (total > n) this.drawnList.append(el('li', null, `and ${fmtCount(total - n)} more items`));
	}
}

function plural(n, word) {
	return `${fmtCount(n)} ${word}${n === 1 ? '' : 's'}`;
}

// Index an /lod answer for drawing: colour per block, defaults for missing arrays, the scale.
function prepareLod(lod, from, to) {
	const lanes = Array.isArray(lod.lanes) ? lod.lanes : [];
	for (const l of lanes) {
		for (const k of ['blocks', 'runs', 'points', 'point_bins', 'waits', 'wait_runs', 'counters']) if (!Array.isArray(l[k])) l[k] = [];
		// Merged waits are drawn as waits: the shading means "waiting somewhere in here".
		if (l.wait_runs.length) l.waits = l.waits.concat(l.wait_runs);
		for (const b of l.blocks) {
			b.name = String(b.name ?? '');
			b.c = colorIndex(b.name);
			b.lane = l.lane;
		}
		for (const r of l.runs) { r.name = String(r.name ?? ''); r.lane = l.lane; }
		for (const p of l.points) { p.name = String(p.name ?? ''); p.lane = l.lane; }
		for (const p of l.point_bins) p.lane = l.lane;
		l.counters = l.counters.filter((c) => Array.isArray(c.samples));
	}
	lod.lanes = lanes;
	if (!Array.isArray(lod.arrows)) lod.arrows = [];
	lod.arrows = lod.arrows.filter((a) => a && a.cause && a.effect);
	if (!Number.isFinite(lod.from_ns)) lod.from_ns = from;
	if (!Number.isFinite(lod.to_ns)) lod.to_ns = to;
	lod.nsPerPx = (lod.to_ns - lod.from_ns) / Math.max(1, lod.px || 1);
	lod.summary = lod.summary || {};
	return lod;
}

export {prepareLod};
