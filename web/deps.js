// deps.js - the Dependencies page: the graph of services (or entities) and the calls between
// them, from GET /api/dependencies, drawn in layers from callers to callees, with the same edges
// as a table. If the server cannot answer, its own error sentence is shown.

import {getJSON} from './api.js';
import {el, clear, fmtDur, fmtCount, fitText} from './util.js';

const MAX_NODES = 200;

export class DepsPage {
	constructor(root) {
		this.root = root;
		this.loading = 0;
		const form = el('form', {class: 'filters', 'aria-label': 'Dependencies'});
		this.by = el('select', {id: 'dp-by', name: 'by'}, el('option', {value: 'service'}, 'services'), el('option', {value: 'entity'}, 'entities'));
		this.from = el('input', {id: 'dp-from', placeholder: 'time', autocomplete: 'off'});
		this.to = el('input', {id: 'dp-to', placeholder: 'time', autocomplete: 'off'});
		form.append(el('label', {for: 'dp-by'}, 'Graph of'), this.by, el('label', {for: 'dp-from'}, 'From'), this.from,
			el('label', {for: 'dp-to'}, 'To'), this.to, el('button', {type: 'submit', class: 'primary'}, 'Show'));
		form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			const q = new URLSearchParams();
			if (this.by.value !== 'service') q.set('by', this.by.value);
			if (this.from.value.trim()) q.set('from', this.from.value.trim());
			if (this.to.value.trim()) q.set('to', this.to.value.trim());
			location.hash = '#/dependencies?' + q.toString();
		});
		this.error = el('p', {class: 'error', role: 'alert', hidden: true});
		this.msg = el('p', {class: 'msg', role: 'status', 'aria-live': 'polite'});
		this.canvas = el('canvas', {class: 'deps', role: 'img', 'aria-label': 'Dependency graph; the table below lists the same calls.'});
		this.tbody = el('tbody');
		this.table = el('table', {class: 'list'}, el('caption', null, 'Calls'),
			el('thead', null, el('tr', null, ['From', 'To', 'Kind', 'Calls', 'p50', 'p99', 'Max'].map((h) => el('th', {scope: 'col'}, h)))),
			this.tbody);
		root.append(el('h1', null, 'Dependencies'), form, this.error, this.msg, this.canvas, this.table);
	}

	show(route) {
		const p = route.params;
		this.by.value = p.get('by') === 'entity' ? 'entity' : 'service';
		this.from.value = p.get('from') || '';
		this.to.value = p.get('to') || '';
		this.load({by: p.get('by') || undefined, from: p.get('from') || undefined, to: p.get('to') || undefined});
	}

	hide() {}

	ready() {
		return this.loading === 0;
	}

	async load(params) {
		const gen = this.gen = (this.gen || 0) + 1;
		this.loading++;
		this.error.hidden = true;
		clear(this.tbody);
		this.msg.textContent = 'Loading…';
		try {
			const ans = await getJSON('api/dependencies', params);
			if (gen !== this.gen) return;
			const nodes = (Array.isArray(ans.nodes) ? ans.nodes : []).slice(0, MAX_NODES);
			const names = new Set(nodes.map((n) => String(n.name ?? '')));
			const edges = (Array.isArray(ans.edges) ? ans.edges : []).filter((e) => names.has(String(e.from)) && names.has(String(e.to)));
			this.msg.textContent = `${fmtCount(nodes.length)} nodes, ${fmtCount(edges.length)} edges.`;
			for (const e of edges) {
				this.tbody.append(el('tr', null, el('td', null, String(e.from)), el('td', null, String(e.to)), el('td', null, String(e.kind ?? '')),
					el('td', {class: 'num'}, fmtCount(e.calls)), el('td', {class: 'num'}, fmtDur(e.p50_ns)),
					el('td', {class: 'num'}, fmtDur(e.p99_ns)), el('td', {class: 'num'}, fmtDur(e.max_ns))));
			}
			this.draw(nodes, edges);
		} catch (e) {
			if (gen !== this.gen) return;
			this.msg.textContent = '';
			this.error.textContent = 'Dependencies unavailable: ' + e.message;
			this.error.hidden = false;
			this.draw([], []);
		} finally {
			this.loading--;
		}
	}

	// Layers by breadth-first distance from the callers (nodes nobody calls, else the busiest
	// caller), so a cycle (a request and its reply) does not push nodes apart; the edges between
	// two nodes are drawn as one, with their calls summed.
	draw(nodes, edges) {
		const c = this.canvas;
		const dpr = window.devicePixelRatio || 1;
		const w = c.clientWidth || 800, h = c.clientHeight || 360;
		c.width = Math.round(w * dpr);
		c.height = Math.round(h * dpr);
		const ctx = c.getContext('2d');
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.fillStyle = '#fff';
		ctx.fillRect(0, 0, w, h);
		if (!nodes.length) {
			ctx.fillStyle = '#5f6b7a';
			ctx.font = '13px system-ui, sans-serif';
			ctx.fillText('Nothing to draw: no calls in the traces analysed so far.', 20, 30);
			return;
		}
		const names = nodes.map((n) => String(n.name));
		const out = new Map(names.map((n) => [n, []]));
		const pairs = new Map();
		for (const e of edges) {
			const a = String(e.from), b = String(e.to);
			if (a === b) continue;
			const k = a + '\u0000' + b;
			if (!pairs.has(k)) { pairs.set(k, {a, b, calls: 0, p50: 0, kinds: []}); out.get(a).push(b); }
			const p = pairs.get(k);
			p.calls += e.calls || 0;
			p.p50 = Math.max(p.p50, e.p50_ns || 0);
			p.kinds.push(String(e.kind ?? ''));
		}
		const layer = new Map();
		const calledBy = new Set([...pairs.values()].map((p) => p.b));
		const roots = names.filter((n) => !calledBy.has(n));
		const byOut = names.slice().sort((x, y) => out.get(y).length - out.get(x).length);
		for (const start of roots.concat(byOut)) {
			if (layer.has(start)) continue;
			layer.set(start, 0);
			const q = [start];
			while (q.length) {
				const u = q.shift();
				for (const v of out.get(u)) {
					if (!layer.has(v)) { layer.set(v, layer.get(u) + 1); q.push(v); }
				}
			}
		}
		const cols = new Map();
		for (const n of names) {
			const l = layer.get(n);
			if (!cols.has(l)) cols.set(l, []);
			cols.get(l).push(n);
		}
		const ncol = Math.max(...cols.keys()) + 1;
		const pos = new Map();
		const bw = 150, bh = 26;
		for (const [l, list] of cols) {
			list.forEach((n, i) => {
				const x = 20 + (ncol === 1 ? (w - bw - 40) / 2 : (l * (w - bw - 40)) / (ncol - 1));
				pos.set(n, {x, y: ((i + 1) * h) / (list.length + 1) - bh / 2});
			});
		}
		ctx.font = '11px system-ui, sans-serif';
		const maxCalls = Math.max(1, ...[...pairs.values()].map((p) => p.calls));
		for (const p of pairs.values()) {
			const a = pos.get(p.a), b = pos.get(p.b);
			const fwd = layer.get(p.b) > layer.get(p.a);
			// Forward: right side to left side. Backward (a reply): left side to right side, below.
			const x1 = fwd ? a.x + bw : a.x, y1 = a.y + bh / 2 + (fwd ? 0 : 6);
			const x2 = fwd ? b.x : b.x + bw, y2 = b.y + bh / 2 + (fwd ? 0 : 6);
			const bend = fwd ? 0 : 40 + Math.abs(x1 - x2) * 0.1;
			ctx.strokeStyle = fwd ? '#3949ab' : '#8e24aa';
			ctx.fillStyle = ctx.strokeStyle;
			ctx.lineWidth = 1 + (3 * p.calls) / maxCalls;
			ctx.beginPath();
			ctx.moveTo(x1, y1);
			ctx.bezierCurveTo((x1 + x2) / 2, y1 + bend, (x1 + x2) / 2, y2 + bend, x2, y2);
			ctx.stroke();
			const dir = fwd ? 1 : -1;
			ctx.beginPath();
			ctx.moveTo(x2, y2);
			ctx.lineTo(x2 - 8 * dir, y2 - 4);
			ctx.lineTo(x2 - 8 * dir, y2 + 4);
			ctx.fill();
			const label = `${fmtCount(p.calls)} ${p.kinds.join('+')} · p50 ${fmtDur(p.p50)}`;
			ctx.fillText(fitText(label, Math.max(60, Math.abs(x2 - x1) - 20), 6.2), Math.min(x1, x2) + 10, (y1 + y2) / 2 + (fwd ? -5 : bend * 0.75 + 4));
		}
		ctx.lineWidth = 1;
		for (const n of names) {
			const p = pos.get(n);
			ctx.fillStyle = '#e8eaf6';
			ctx.strokeStyle = '#283593';
			ctx.fillRect(p.x, p.y, bw, bh);
			ctx.strokeRect(p.x + 0.5, p.y + 0.5, bw - 1, bh - 1);
			ctx.fillStyle = '#1a237e';
			ctx.fillText(fitText(n, bw - 10, 6.2), p.x + 5, p.y + 17);
		}
	}
}
