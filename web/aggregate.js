// aggregate.js - the Aggregate page: for one block name (or whole traces) across traces, the
// latency percentiles and a histogram per group, from GET /api/aggregates. The form's values are
// in the URL. If the server cannot answer (no aggregates yet, a bad expression), its own error
// sentence is shown.

import {getJSON} from './api.js';
import {el, clear, fmtDur, fmtCount} from './util.js';

const FIELDS = [
	['name', 'Block name', 'whole traces'],
	['group_by', 'Group by', 'service, root, host, name, attr.KEY'],
	['metric', 'Metric', 'duration, self, critical, wait'],
	['where', 'Where', 'hx analyze --where expression'],
	['from', 'From', 'time'],
	['to', 'To', 'time'],
	['buckets', 'Buckets', '40'],
];
const MAX_GROUPS = 60;

export class AggregatePage {
	constructor(root) {
		this.root = root;
		this.loading = 0;
		const form = el('form', {class: 'filters', 'aria-label': 'Aggregate'});
		this.inputs = {};
		for (const [k, label, ph] of FIELDS) {
			const input = el('input', {id: 'ag-' + k, name: k, placeholder: ph, autocomplete: 'off',
				list: k === 'name' ? 'dl-names' : null, type: k === 'buckets' ? 'number' : 'text'});
			this.inputs[k] = input;
			form.append(el('label', {for: 'ag-' + k}, label), input);
		}
		form.append(el('button', {type: 'submit', class: 'primary'}, 'Show'));
		form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			const q = new URLSearchParams();
			for (const [k, i] of Object.entries(this.inputs)) if (i.value.trim()) q.set(k, i.value.trim());
			location.hash = '#/aggregate?' + q.toString();
		});
		this.error = el('p', {class: 'error', role: 'alert', hidden: true});
		this.msg = el('p', {class: 'msg', role: 'status', 'aria-live': 'polite'});
		this.out = el('div', {class: 'groups'});
		root.append(el('h1', null, 'Aggregate latency'), form, this.error, this.msg, this.out);
	}

	show(route) {
		const params = {};
		for (const [k, i] of Object.entries(this.inputs)) {
			i.value = route.params.get(k) || '';
			if (i.value) params[k] = i.value;
		}
		this.load(params);
	}

	hide() {}

	ready() {
		return this.loading === 0;
	}

	async load(params) {
		const gen = this.gen = (this.gen || 0) + 1;
		this.loading++;
		this.error.hidden = true;
		clear(this.out);
		this.msg.textContent = 'Loading…';
		try {
			const ans = await getJSON('api/aggregates', params);
			if (gen !== this.gen) return;
			const groups = Array.isArray(ans.groups) ? ans.groups : [];
			this.msg.textContent = `${fmtCount(ans.traces)} traces, ${fmtCount(groups.length)} group${groups.length === 1 ? '' : 's'}` +
				(groups.length > MAX_GROUPS ? ` (the first ${MAX_GROUPS} shown)` : '') + '.';
			for (const g of groups.slice(0, MAX_GROUPS)) this.out.append(this.group(g));
		} catch (e) {
			if (gen !== this.gen) return;
			this.msg.textContent = '';
			this.error.textContent = 'Aggregates unavailable: ' + e.message;
			this.error.hidden = false;
		} finally {
			this.loading--;
		}
	}

	group(g) {
		const key = g.key && typeof g.key === 'object' ? Object.entries(g.key).map(([k, v]) => `${k} = ${v}`).join(', ') : '';
		const dl = el('dl', {class: 'pct'});
		for (const [k, label] of [['count', 'count'], ['p50_ns', 'p50'], ['p90_ns', 'p90'], ['p99_ns', 'p99'], ['max_ns', 'max'], ['mean_ns', 'mean']]) {
			if (g[k] === undefined) continue;
			dl.append(el('div', null, el('dt', null, label), el('dd', null, k === 'count' ? fmtCount(g[k]) : fmtDur(g[k]))));
		}
		const hist = Array.isArray(g.histogram) ? g.histogram.filter((b) => Array.isArray(b) && b.length >= 2) : [];
		const c = el('canvas', {class: 'hist', role: 'img',
			'aria-label': 'Histogram: ' + hist.map((b) => `${fmtCount(b[1])} at ${fmtDur(b[0])} or more`).join('; ')});
		const box = el('section', {class: 'group panel'}, el('h2', null, key || 'All'), dl, c);
		requestAnimationFrame(() => drawHistogram(c, hist));
		return box;
	}
}

function drawHistogram(c, hist) {
	const dpr = window.devicePixelRatio || 1;
	const w = c.clientWidth || 500, h = c.clientHeight || 140;
	c.width = Math.round(w * dpr);
	c.height = Math.round(h * dpr);
	const ctx = c.getContext('2d');
	ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
	ctx.fillStyle = '#fff';
	ctx.fillRect(0, 0, w, h);
	if (!hist.length) return;
	const max = Math.max(1, ...hist.map((b) => b[1]));
	const pad = 18, bw = (w - 10) / hist.length;
	ctx.fillStyle = '#1565c0';
	hist.forEach((b, i) => {
		const bh = ((h - pad - 6) * b[1]) / max;
		ctx.fillRect(5 + i * bw, h - pad - bh, Math.max(1, bw - 1), bh);
	});
	ctx.fillStyle = '#333';
	ctx.font = '11px system-ui, sans-serif';
	ctx.fillText(fmtDur(hist[0][0]), 5, h - 4);
	ctx.textAlign = 'right';
	ctx.fillText(fmtDur(hist[hist.length - 1][0]), w - 5, h - 4);
}
