// traces.js - the Traces page: a search form with the filters of GET /api/traces, a scatter plot
// of the traces found (start time across, duration up; a click on a dot opens the trace), and
// the list with duration, root name, services, entity and error counts. The form's values live
// in the URL (#/traces?service=...), so a search is a link.

import {getJSON} from './api.js';
import {el, clear, fmtDur, fmtAbs, fmtCount, isTraceId} from './util.js';

const FILTERS = [
	// [parameter, label, input type, placeholder]
	['from', 'From', 'text', '2026-11-24T10:20:00Z or ns'],
	['to', 'To', 'text', 'time'],
	['service', 'Service', 'text', 'any'],
	['entity', 'Entity', 'text', 'any'],
	['name', 'Block or point name', 'text', 'any'],
	['min_duration', 'Min duration', 'text', '250ms'],
	['max_duration', 'Max duration', 'text', '2s'],
	['attr', 'Attribute', 'text', 'http.status_code=500'],
];

const DOT_R = 4;

export class TracesPage {
	constructor(root) {
		this.root = root;
		this.traces = [];
		this.next = null;
		this.loading = 0;
		this.dots = [];
		this.params = null;
		this.build();
	}

	build() {
		const form = el('form', {class: 'filters', 'aria-label': 'Search traces'});
		this.inputs = {};
		for (const [key, label, type, ph] of FILTERS) {
			const id = 'f-' + key;
			const input = el('input', {id, name: key, type, placeholder: ph, autocomplete: 'off',
				list: key === 'service' ? 'dl-services' : key === 'name' ? 'dl-names' : null});
			this.inputs[key] = input;
			form.append(el('label', {for: id}, label), input);
		}
		this.inputs.error = el('select', {id: 'f-error', name: 'error'},
			el('option', {value: ''}, 'any'), el('option', {value: 'true'}, 'with errors'),
			el('option', {value: 'false'}, 'without errors'));
		this.inputs.sort = el('select', {id: 'f-sort', name: 'sort'},
			el('option', {value: '-start'}, 'newest first'), el('option', {value: 'start'}, 'oldest first'),
			el('option', {value: '-duration'}, 'longest first'), el('option', {value: 'duration'}, 'shortest first'));
		this.inputs.limit = el('input', {id: 'f-limit', name: 'limit', type: 'number', min: 1, max: 1000,
			placeholder: '50'});
		form.append(el('label', {for: 'f-error'}, 'Errors'), this.inputs.error,
			el('label', {for: 'f-sort'}, 'Order'), this.inputs.sort,
			el('label', {for: 'f-limit'}, 'Per page'), this.inputs.limit,
			el('button', {type: 'submit', class: 'primary'}, 'Search'),
			el('button', {type: 'reset', onclick: (ev) => { ev.preventDefault(); location.hash = '#/traces?'; }}, 'Clear'));
		form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			const q = new URLSearchParams();
			for (const [k, input] of Object.entries(this.inputs)) {
				const v = input.value.trim();
				if (v && !(k === 'sort' && v === '-start')) q.set(k, v);
			}
			location.hash = '#/traces?' + q.toString();
		});
		this.datalists = [el('datalist', {id: 'dl-services'}), el('datalist', {id: 'dl-names'})];

		this.canvas = el('canvas', {class: 'scatter', id: 'tr-scatter', role: 'img', tabindex: 0,
			'aria-label': 'Traces by start time (across) and duration (up). Each dot opens its trace; the list below has the same traces as links.'});
		this.canvas.addEventListener('click', (ev) => this.clickDot(ev));
		this.canvas.addEventListener('mousemove', (ev) => this.hover(ev));
		this.canvas.addEventListener('mouseleave', () => { this.tip.hidden = true; });
		this.canvas.addEventListener('keydown', (ev) => {
			if (ev.key === 'Enter' && this.traces.length) location.hash = '#/trace/' + this.traces[0].trace_id;
		});
		this.tip = el('div', {class: 'tip', hidden: true, role: 'tooltip'});
		this.msg = el('p', {class: 'msg', role: 'status', 'aria-live': 'polite'});
		this.error = el('p', {class: 'error', role: 'alert', hidden: true});
		this.tbody = el('tbody');
		const table = el('table', {class: 'list'},
			el('caption', {class: 'sr-only'}, 'Traces found'),
			el('thead', null, el('tr', null, ['Start', 'Duration', 'Root', 'Services', 'Events',
				'Entities', 'Processes', 'Errors'].map((h) => el('th', {scope: 'col'}, h)))),
			this.tbody);
		this.more = el('button', {type: 'button', hidden: true, onclick: () => this.load(true)}, 'More traces');
		this.root.append(el('h1', null, 'Traces'), form, ...this.datalists, this.error, this.msg,
			el('div', {class: 'scatter-wrap'}, this.canvas, this.tip), table, this.more);
		window.addEventListener('resize', () => { if (!this.root.hidden) this.drawScatter(); });
	}

	show(route) {
		const p = route.params;
		for (const [k, input] of Object.entries(this.inputs)) input.value = p.get(k) || (k === 'sort' ? '-start' : '');
		this.params = {};
		for (const k of Object.keys(this.inputs)) if (p.get(k)) this.params[k] = p.get(k);
		if (!this.params.limit) this.params.limit = '50';
		this.initial = route.initial;
		this.loadLists();
		this.load(false);
	}

	hide() {
		this.tip.hidden = true;
	}

	ready() {
		return this.loading === 0;
	}

	async loadLists() {
		if (this.listsLoaded) return;
		this.listsLoaded = true;
		try {
			const s = await getJSON('api/services');
			const dl = this.datalists[0];
			for (const x of (s.services || []).slice(0, 1000)) dl.append(el('option', {value: x.name}));
			const n = await getJSON('api/names');
			for (const x of (n.names || []).slice(0, 2000)) {
				if (x.kind !== 'entity') this.datalists[1].append(el('option', {value: x.name}));
			}
		} catch (_) {
			// Suggestions only: the search works without them.
		}
	}

	async load(more) {
		const params = Object.assign({}, this.params);
		if (more) params.cursor = this.next;
		else {
			this.traces = [];
			this.next = null;
		}
		this.loading++;
		this.error.hidden = true;
		this.msg.textContent = 'Searching…';
		const gen = this.gen = (this.gen || 0) + 1;
		try {
			const ans = await getJSON('api/traces', params);
			if (gen !== this.gen) return;
			const got = Array.isArray(ans.traces) ? ans.traces : [];
			this.traces = this.traces.concat(got);
			this.next = ans.next_cursor || null;
			if (this.initial && !more && this.traces.length === 1 && !this.next && isTraceId(this.traces[0].trace_id)) {
				// `hx view` of a single trace: show it rather than a list of one.
				location.replace('#/trace/' + this.traces[0].trace_id);
				return;
			}
		} catch (e) {
			if (gen !== this.gen) return;
			this.error.textContent = 'Search failed: ' + e.message;
			this.error.hidden = false;
		} finally {
			this.loading--;
		}
		if (gen !== this.gen) return;
		this.msg.textContent = this.traces.length ? `${fmtCount(this.traces.length)} traces${this.next ? ' (more available)' : ''}.`
			: 'No trace matches.';
		this.more.hidden = !this.next;
		this.renderList();
		this.drawScatter();
	}

	renderList() {
		clear(this.tbody);
		for (const t of this.traces) {
			const id = String(t.trace_id || '');
			const link = isTraceId(id) ? el('a', {href: '#/trace/' + id}, t.root_name || '(unnamed ' + id.slice(0, 8) + '…)') : (t.root_name || id);
			this.tbody.append(el('tr', {class: t.errors > 0 ? 'has-error' : null},
				el('td', null, typeof t.start === 'string' ? t.start : ''),
				el('td', {class: 'num'}, fmtDur(t.duration_ns)),
				el('td', null, link),
				el('td', null, Array.isArray(t.services) ? t.services.join(', ') : ''),
				el('td', {class: 'num'}, fmtCount(t.events)),
				el('td', {class: 'num'}, fmtCount(t.entities)),
				el('td', {class: 'num'}, fmtCount(t.processes)),
				el('td', {class: 'num'}, fmtCount(t.errors))));
		}
	}

	drawScatter() {
		const c = this.canvas;
		const dpr = window.devicePixelRatio || 1;
		const w = c.clientWidth || 600;
		const h = c.clientHeight || 220;
		c.width = Math.round(w * dpr);
		c.height = Math.round(h * dpr);
		const ctx = c.getContext('2d');
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.clearRect(0, 0, w, h);
		this.dots = [];
		const pad = {l: 70, r: 16, t: 12, b: 30};
		ctx.font = '11px system-ui, sans-serif';
		ctx.fillStyle = '#555';
		const ts = this.traces.filter((t) => Number.isFinite(t.start_ns) && Number.isFinite(t.duration_ns));
		if (!ts.length) {
			ctx.fillText('No traces to plot.', pad.l, h / 2);
			return;
		}
		let x0 = Infinity, x1 = -Infinity, y1 = 0;
		for (const t of ts) {
			x0 = Math.min(x0, t.start_ns);
			x1 = Math.max(x1, t.start_ns);
			y1 = Math.max(y1, t.duration_ns);
		}
		if (x1 === x0) { x0 -= 1e9; x1 += 1e9; }
		if (y1 === 0) y1 = 1;
		// A margin, so no dot sits on the frame.
		const mx = (x1 - x0) * 0.03;
		x0 -= mx;
		x1 += mx;
		y1 *= 1.08;
		const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
		const X = (v) => pad.l + ((v - x0) / (x1 - x0)) * pw;
		const Y = (v) => pad.t + ph - (v / y1) * ph;
		ctx.strokeStyle = '#bbb';
		ctx.beginPath();
		ctx.moveTo(pad.l, pad.t);
		ctx.lineTo(pad.l, pad.t + ph);
		ctx.lineTo(pad.l + pw, pad.t + ph);
		ctx.stroke();
		ctx.textAlign = 'right';
		for (const f of [0, 0.5, 1]) ctx.fillText(fmtDur(y1 * f), pad.l - 6, Y(y1 * f) + 4);
		ctx.textAlign = 'left';
		ctx.fillText(fmtAbs(BigInt(Math.round(x0))).slice(0, 23) + 'Z', pad.l, h - 8);
		ctx.textAlign = 'right';
		ctx.fillText(fmtAbs(BigInt(Math.round(x1))).slice(0, 23) + 'Z', pad.l + pw, h - 8);
		ctx.textAlign = 'left';
		for (const t of ts) {
			const x = X(t.start_ns), y = Y(t.duration_ns);
			ctx.fillStyle = t.errors > 0 ? '#c62828' : '#1565c0';
			ctx.beginPath();
			ctx.arc(x, y, DOT_R, 0, Math.PI * 2);
			ctx.fill();
			this.dots.push({trace_id: t.trace_id, x, y, r: DOT_R, errors: t.errors, root_name: t.root_name,
				duration_ns: t.duration_ns});
		}
	}

	dotAt(ev) {
		const r = this.canvas.getBoundingClientRect();
		const x = ev.clientX - r.left, y = ev.clientY - r.top;
		let best = null, bd = 8 * 8;
		for (const d of this.dots) {
			const dd = (d.x - x) ** 2 + (d.y - y) ** 2;
			if (dd <= bd) { bd = dd; best = d; }
		}
		return best;
	}

	clickDot(ev) {
		const d = this.dotAt(ev);
		if (d && isTraceId(String(d.trace_id))) location.hash = '#/trace/' + d.trace_id;
	}

	hover(ev) {
		const d = this.dotAt(ev);
		this.canvas.classList.toggle('pointer', !!d);
		if (!d) { this.tip.hidden = true; return; }
		this.tip.textContent = `${d.root_name || d.trace_id} · ${fmtDur(d.duration_ns)}${d.errors ? ' · ' + d.errors + ' errors' : ''}`;
		this.tip.style.left = Math.round(d.x + 10) + 'px';
		this.tip.style.top = Math.round(d.y - 10) + 'px';
		this.tip.hidden = false;
	}

	describeDots() {
		if (this.root.hidden) return null;
		return this.dots.map((d) => ({trace_id: d.trace_id, x: d.x, y: d.y, r: d.r, errors: d.errors}));
	}

	canvasRect() {
		const r = this.canvas.getBoundingClientRect();
		return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height};
	}
}
