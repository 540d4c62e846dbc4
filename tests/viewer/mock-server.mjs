// mock-server.mjs - a stand-in for `hx view` for front-end tests: serves web/ exactly as hx does
// (index.html at /, every other file at /assets/NAME, the same CSP) and answers the viewer's JSON
// API (docs/http-api.md, "The viewer's endpoints") from a fixture held in memory, so edge cases the
// real server rarely produces (capped answers, errors, hostile names, adjusted clocks) can be
// shown to the browser on demand. Node only, no dependencies.
//
//   node mock-server.mjs [--port N] [--fixture FILE.json]     prints "mock: http://127.0.0.1:PORT/"
//
// A fixture (fixture.mjs makes them) describes traces at the level of the viewer's model: hosts,
// processes and lanes, each lane with blocks, points, waits and counter samples at times
// relative to the trace start, and arrows between lanes; plus optional answers (or errors) for
// /api/aggregates, /api/dependencies and /critical-path.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {syntheticFixture} from './fixture.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WEB = path.resolve(here, '../../web');
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'";
const TYPES = {'.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.html': 'text/html; charset=utf-8',
	'.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json'};

// ---- the model built from a fixture ----

// Index one fixture trace: events numbered e in (lane, time) order, IDs "ENTITY:SEQ".
function buildTrace(t) {
	const start = BigInt(t.start_ns);
	const lanes = [];
	const events = [];
	const procs = [];
	const hosts = t.hosts.map((h) => ({host: h.host, processes: h.processes.map((p) => {
		const proc = {process: procs.length, pid: p.pid, service: p.service, program: p.program,
			clock_offset_ns: p.clock_offset_ns || 0, host: h.host};
		procs.push(proc);
		proc.lanes = p.lanes.map((l) => {
			const lane = {lane: lanes.length, entity: l.entity, name: l.name, kind: l.kind || 'thread', proc,
				blocks: [], points: [], waits: l.waits || [], counters: l.counters || [], seq: 0};
			lanes.push(lane);
			lane.src = l;
			return lane;
		});
		return proc;
	})}));
	const ev = (lane, kind, name, time, attrs, extra) => {
		const e = {e: events.length, id: `${lane.entity}:${lane.seq++}`, lane: lane.lane, kind, name, time,
			attrs: attrs || {}, causes: [], effects: [], ...extra};
		events.push(e);
		return e;
	};
	for (const lane of lanes) {
		const items = [];
		for (const b of lane.src.blocks || []) items.push({t: b.start, b});
		for (const p of lane.src.points || []) items.push({t: p.time, p});
		items.sort((a, b) => a.t - b.t);
		for (const it of items) {
			if (it.b) {
				const b = it.b;
				const be = ev(lane, 'block_begin', b.name, b.start, b.attrs);
				const blk = {e: be.e, id: be.id, name: b.name, depth: b.depth || 0, start: b.start, end: b.end, lane: lane.lane};
				be.blk = blk;
				lane.blocks.push(blk);
			} else {
				const pe = ev(lane, it.p.kind || 'point', it.p.name, it.p.time, it.p.attrs, {error: !!it.p.error});
				lane.points.push(pe);
			}
		}
		for (const blk of lane.blocks) {
			const end = ev(lane, 'block_end', '', blk.end, {});
			end.blk = blk;
			blk.endE = end;
		}
	}
	const arrows = [];
	for (const a of t.arrows || []) {
		const c = ev(lanes[a.cause.lane], 'cause', a.cause.name || a.kind, a.cause.time, a.cause.attrs, {interaction: a.kind});
		const f = ev(lanes[a.effect.lane], 'effect', a.effect.name || a.kind, a.effect.time, a.effect.attrs, {interaction: a.kind});
		f.causes.push(c);
		c.effects.push(f);
		lanes[a.cause.lane].points.push(c);
		lanes[a.effect.lane].points.push(f);
		arrows.push({kind: a.kind, cause: c, effect: f, resumes: !!a.resumes});
	}
	for (const l of lanes) {
		l.blocks.sort((a, b) => a.start - b.start);
		l.points.sort((a, b) => a.time - b.time);
		l.depth = l.blocks.reduce((m, b) => Math.max(m, b.depth + 1), 0);
	}
	let lo = Infinity, hi = -Infinity;
	for (const e of events) {
		lo = Math.min(lo, e.time);
		hi = Math.max(hi, e.time);
	}
	return {id: t.trace_id, root: t.root_name, t, start, lanes, events, hosts, procs, arrows, lo, hi};
}

const abs = (tr, rel) => String(tr.start + BigInt(Math.round(rel)));
const rel = (tr, s) => Number(BigInt(s) - tr.start);

function overview(tr) {
	const counters = [];
	for (const l of tr.lanes) {
		for (const c of l.counters) {
			const vs = c.samples.map((s) => s[1]);
			counters.push({lane: l.lane, name: c.name, min: Math.min(...vs), max: Math.max(...vs)});
		}
	}
	const adjusted = tr.procs.filter((p) => p.clock_offset_ns);
	return {
		trace_id: tr.id, start_ns: abs(tr, tr.lo), end_ns: abs(tr, tr.hi), events: tr.events.length,
		blocks: tr.lanes.reduce((n, l) => n + l.blocks.length, 0), root_name: tr.root,
		hosts: tr.hosts.map((h) => ({host: h.host, processes: h.processes.map((p) => ({
			process: p.process, pid: p.pid, service: p.service, program: p.program, clock_offset_ns: p.clock_offset_ns,
			lanes: p.lanes.map((l) => ({lane: l.lane, entity: l.entity, name: l.name, kind: l.kind,
				events: tr.events.filter((e) => e.lane === l.lane).length, depth: l.depth,
				first_ns: abs(tr, tr.lo), last_ns: abs(tr, tr.hi)})),
		}))})),
		counters,
		clock: {adjusted_processes: adjusted.length, max_abs_offset_ns: Math.max(0, ...adjusted.map((p) => Math.abs(p.clock_offset_ns)))},
		report: {events: tr.events.length, dangling: 0},
	};
}

// The level-of-detail answer, as docs/http-api.md describes it: blocks narrower than min_px
// columns merge into runs per depth and column, several points in a column into a bin, and
// past max_items everything merges harder (min_px doubles) and the summary says capped.
function lod(tr, q) {
	const from = rel(tr, q.from), to = rel(tr, q.to);
	const px = q.px;
	let minPx = q.min_px;
	const want = q.lanes ? new Set(q.lanes) : null;
	for (;;) {
		const ans = lodOnce(tr, from, to, px, minPx, want, q.arrows);
		if (ans.summary.items <= q.max_items || minPx >= 4096) {
			ans.summary.capped = minPx !== q.min_px;
			return ans;
		}
		minPx *= 2;
	}
}

function lodOnce(tr, from, to, px, minPx, want, withArrows) {
	const npp = (to - from) / px;
	const col = (t) => Math.floor((t - from) / npp);
	const sum = {blocks_whole: 0, blocks_merged: 0, runs: 0, points_whole: 0, points_binned: 0, arrows: 0, arrows_left_out: 0, items: 0, capped: false};
	const lanes = [];
	for (const l of tr.lanes) {
		if (want && !want.has(l.lane)) continue;
		const out = {lane: l.lane, blocks: [], runs: [], points: [], point_bins: [], waits: [], counters: []};
		const open = new Map();   // depth -> the run being built
		for (const b of l.blocks) {
			if (b.end < from || b.start > to) continue;
			if ((b.end - b.start) / npp >= minPx) {
				out.blocks.push({e: b.e, id: b.id, name: b.name, depth: b.depth, start_ns: abs(tr, b.start), end_ns: abs(tr, b.end), repaired: false});
				sum.blocks_whole++;
				continue;
			}
			const r = open.get(b.depth);
			if (r && col(b.start) <= r.col + Math.max(0, minPx - 1)) {
				r.count++;
				r.end = Math.max(r.end, b.end);
				if (b.end - b.start > r.longest) { r.longest = b.end - b.start; r.name = b.name; }
			} else {
				const nr = {depth: b.depth, start: b.start, end: b.end, count: 1, name: b.name, longest: b.end - b.start, col: col(b.start)};
				out.runs.push(nr);
				open.set(b.depth, nr);
			}
			sum.blocks_merged++;
		}
		out.runs = out.runs.map((r) => ({depth: r.depth, start_ns: abs(tr, r.start), end_ns: abs(tr, r.end), count: r.count, name: r.name}));
		sum.runs += out.runs.length;
		const pts = l.points.filter((p) => p.time >= from && p.time <= to);
		const bycol = new Map();
		for (const p of pts) {
			const c = col(p.time);
			if (!bycol.has(c)) bycol.set(c, []);
			bycol.get(c).push(p);
		}
		for (const [c, list] of bycol) {
			if (list.length === 1) {
				const p = list[0];
				out.points.push({e: p.e, id: p.id, name: p.name, time_ns: abs(tr, p.time), kind: p.kind, error: !!p.error});
				sum.points_whole++;
			} else {
				out.point_bins.push({start_ns: abs(tr, from + c * npp), end_ns: abs(tr, from + (c + 1) * npp), count: list.length});
				sum.points_binned += list.length;
			}
		}
		for (const w of l.waits) {
			if (w.end < from || w.start > to) continue;
			out.waits.push({start_ns: abs(tr, w.start), end_ns: abs(tr, w.end), reason: w.reason || ''});
		}
		for (const c of l.counters) {
			const samples = c.samples.filter((s) => s[0] >= from && s[0] <= to).map((s) => [abs(tr, s[0]), s[1], s[1]]);
			if (samples.length) out.counters.push({name: c.name, samples});
		}
		sum.items += out.blocks.length + out.runs.length + out.points.length + out.point_bins.length + out.waits.length;
		lanes.push(out);
	}
	const arrows = [];
	if (withArrows) {
		for (const a of tr.arrows) {
			if (want && !(want.has(a.cause.lane) || want.has(a.effect.lane))) continue;
			if (Math.max(a.cause.time, a.effect.time) < from || Math.min(a.cause.time, a.effect.time) > to) continue;
			const end = (e) => ({e: e.e, id: e.id, lane: e.lane, time_ns: abs(tr, e.time)});
			arrows.push({kind: a.kind, cause: end(a.cause), effect: end(a.effect), resumes: a.resumes});
		}
	}
	sum.arrows = arrows.length;
	sum.items += arrows.length;
	return {from_ns: abs(tr, from), to_ns: abs(tr, to), px, ns_per_px: npp, lanes, arrows, summary: sum};
}

function eventJson(tr, e) {
	const lane = tr.lanes[e.lane];
	const off = lane.proc.clock_offset_ns;
	const ref = (x) => ({e: x.e, id: x.id, lane: x.lane, time_ns: abs(tr, x.time), name: x.name, kind: x.interaction || x.kind, linked: true});
	const out = {e: e.e, id: e.id, kind: e.kind, name: e.name, lane: e.lane, entity: lane.entity, entity_name: lane.name,
		time_ns: abs(tr, e.time), time_orig_ns: abs(tr, e.time - off), adjusted: off !== 0, attrs: e.attrs,
		causes: e.causes.map(ref), effects: e.effects.map(ref)};
	if (e.blk) {
		const b = e.blk;
		const parent = lane.blocks.filter((p) => p.depth === b.depth - 1 && p.start <= b.start && p.end >= b.end)[0];
		const kids = lane.blocks.filter((k) => k.depth === b.depth + 1 && k.start >= b.start && k.end <= b.end);
		out.block = {begin: {e: b.e, id: b.id}, end: {e: b.endE.e, id: b.endE.id}, duration_ns: b.end - b.start,
			self_ns: b.end - b.start - kids.reduce((s, k) => s + (k.end - k.start), 0), depth: b.depth, repaired: false};
		if (parent) out.block.parent = {e: parent.e, id: parent.id, name: parent.name};
		if (e.kind === 'block_end') out.name = b.name;
	}
	return out;
}

function matches(e, q) {
	const lq = q.toLowerCase();
	const eq = lq.indexOf('=');
	const name = e.kind === 'block_end' ? '' : e.name;
	if (eq > 0) {
		const k = lq.slice(0, eq), v = lq.slice(eq + 1);
		return Object.entries(e.attrs).some(([ak, av]) => ak.toLowerCase() === k && String(av).toLowerCase().includes(v));
	}
	if (name.toLowerCase().includes(lq)) return true;
	return Object.entries(e.attrs).some(([k, v]) => k.toLowerCase().includes(lq) || String(v).toLowerCase().includes(lq));
}

function find(tr, q, after, dir) {
	const all = tr.events.filter((e) => matches(e, q)).sort((a, b) => a.time - b.time || a.e - b.e);
	let match = null;
	if (all.length) {
		const a = after ? tr.events.find((e) => e.id === after) : null;
		if (!a) match = dir === 'prev' ? all[all.length - 1] : all[0];
		else if (dir === 'prev') match = all.filter((e) => e.time < a.time || (e.time === a.time && e.e < a.e)).pop() || null;
		else match = all.find((e) => e.time > a.time || (e.time === a.time && e.e > a.e)) || null;
	}
	return {match: match && {e: match.e, id: match.id, lane: match.lane, time_ns: abs(tr, match.time), name: match.name}, total: all.length};
}

function range(tr, from, to, lanes) {
	const by = new Map(), pts = new Map();
	const clip = (b) => Math.max(0, Math.min(b.end, to) - Math.max(b.start, from));
	for (const l of tr.lanes) {
		if (lanes && !lanes.has(l.lane)) continue;
		for (const b of l.blocks) {
			if (b.end < from || b.start > to) continue;
			const kids = l.blocks.filter((k) => k.depth === b.depth + 1 && k.start >= b.start && k.end <= b.end);
			const x = by.get(b.name) || {name: b.name, count: 0, total_ns: 0, self_ns: 0};
			x.count++;
			x.total_ns += clip(b);
			x.self_ns += clip(b) - kids.reduce((s, k) => s + clip(k), 0);
			by.set(b.name, x);
		}
		for (const p of l.points) {
			if (p.time < from || p.time > to) continue;
			const x = pts.get(p.name) || {name: p.name, count: 0};
			x.count++;
			pts.set(p.name, x);
		}
	}
	return {from_ns: abs(tr, from), to_ns: abs(tr, to), blocks: [...by.values()].sort((a, b) => b.total_ns - a.total_ns),
		points: [...pts.values()].sort((a, b) => b.count - a.count)};
}

function summaryOf(tr) {
	const services = [...new Set(tr.procs.map((p) => p.service))].sort();
	return {trace_id: tr.id, start_ns: abs(tr, tr.lo), start: new Date(Number((tr.start + BigInt(tr.lo)) / 1000000n)).toISOString(),
		end_ns: abs(tr, tr.hi), duration_ns: tr.hi - tr.lo, root_name: tr.root, services, events: tr.events.length,
		entities: tr.lanes.length, processes: tr.procs.length, hosts: tr.hosts.length,
		errors: tr.events.filter((e) => e.error || e.kind === 'error').length};
}

// ---- HTTP ----

// JSON with exact big integers: absolute times are kept as decimal strings in the model (members
// ending in _ns, and the first element of a counter sample) and written as bare numbers, marked
// on the way with a control character no fixture name starts with.
function json(res, status, obj) {
	const text = JSON.stringify(obj, function (k, v) {
		if (typeof v !== 'string' || !/^\d{16,}$/.test(v)) return v;
		return /_ns$/.test(k) || (k === '0' && Array.isArray(this) && this.length === 3) ? '\u0001' + v : v;
	}).replace(/"\\u0001(\d+)"/g, '$1');
	res.writeHead(status, {'Content-Type': 'application/json', 'Cache-Control': 'no-store'});
	res.end(text);
}

function err(res, status, msg) {
	json(res, status, {error: msg});
}

function intParam(q, k, lo, hi, dflt) {
	const s = q.get(k);
	if (s === null) return dflt;
	if (!/^\d+$/.test(s) || +s < lo || +s > hi) throw new Error(`${k}: expected an integer from ${lo} to ${hi}`);
	return +s;
}

export function createMock(fixture) {
	const traces = fixture.traces.map(buildTrace);
	const byId = new Map(traces.map((t) => [t.id, t]));
	const log = [];
	const server = http.createServer((req, res) => {
		const u = new URL(req.url, 'http://x');
		log.push(u.pathname + u.search);
		try {
			route(req, res, u);
		} catch (e) {
			err(res, 400, e.message);
		}
	});

	function route(req, res, u) {
		const p = u.pathname, q = u.searchParams;
		if (req.method !== 'GET') return err(res, 405, 'GET only');
		if (p === '/') return file(res, 'index.html');
		if (p.startsWith('/assets/')) return file(res, p.slice(8));
		if (p === '/api/traces') return json(res, 200, {traces: traces.filter((t) => {
			if (q.get('service') && !t.procs.some((x) => x.service === q.get('service'))) return false;
			if (q.get('name') && !t.events.some((e) => e.name === q.get('name'))) return false;
			return true;
		}).map(summaryOf), next_cursor: null});
		if (p === '/api/services') {
			const s = new Map();
			for (const t of traces) for (const x of new Set(t.procs.map((y) => y.service))) s.set(x, (s.get(x) || 0) + 1);
			return json(res, 200, {services: [...s].map(([name, n]) => ({name, traces: n}))});
		}
		if (p === '/api/names') {
			const s = new Map();
			for (const t of traces) for (const e of t.events) if (e.kind === 'block_begin' || e.kind === 'point') s.set(e.name, e.kind === 'point' ? 'point' : 'block');
			return json(res, 200, {names: [...s].map(([name, kind]) => ({name, kind, count: 1}))});
		}
		if (p === '/api/aggregates' || p === '/api/dependencies') {
			const a = fixture[p === '/api/aggregates' ? 'aggregates' : 'dependencies'];
			if (!a) return err(res, 404, 'no such path');
			if (a.error) return err(res, a.status || 400, a.error);
			return json(res, 200, a);
		}
		const m = /^\/api\/traces\/([0-9a-fA-F]{32})\/(view|lod|event|find|range|critical-path)$/.exec(p);
		if (!m) return err(res, 404, 'no such path');
		const tr = byId.get(m[1].toLowerCase());
		if (!tr) return err(res, 404, 'no such trace');
		const lanesParam = () => (q.get('lanes') ? new Set(q.get('lanes').split(',').map((x) => {
			if (!/^\d+$/.test(x)) throw new Error('lanes: expected lane numbers separated by commas');
			return +x;
		})) : null);
		switch (m[2]) {
		case 'view': return json(res, 200, overview(tr));
		case 'lod': {
			if (!/^\d+$/.test(q.get('from') || '') || !/^\d+$/.test(q.get('to') || '')) throw new Error('from, to: required, integers (ns)');
			if (BigInt(q.get('from')) >= BigInt(q.get('to'))) throw new Error('from must be before to');
			const l = lanesParam();
			return json(res, 200, lod(tr, {from: q.get('from'), to: q.get('to'), px: intParam(q, 'px', 1, 16384, NaN),
				min_px: intParam(q, 'min_px', 1, 64, 1), max_items: intParam(q, 'max_items', 100, 200000, fixture.max_items || 50000),
				lanes: l ? [...l] : null, arrows: q.get('arrows') !== 'false'}));
		}
		case 'event': {
			const id = q.get('id'), e = q.get('e');
			const ev = id ? tr.events.find((x) => x.id === id) : tr.events[+e];
			if (!ev) return err(res, 404, 'no such event');
			return json(res, 200, eventJson(tr, ev));
		}
		case 'find':
			if (!q.get('q')) throw new Error('q: required');
			return json(res, 200, find(tr, q.get('q'), q.get('after'), q.get('dir') || 'next'));
		case 'range':
			return json(res, 200, range(tr, rel(tr, q.get('from')), rel(tr, q.get('to')), lanesParam()));
		case 'critical-path': {
			const c = tr.t.critical_path;
			if (!c) return err(res, 404, 'no critical path for this trace');
			return json(res, 200, {trace: tr.id, duration_ns: c.segments.reduce((s, g) => s + g.end - g.start, 0), path: c.path || [],
				segments: c.segments.map((g) => ({kind: g.kind, lane: g.lane, from_lane: g.from_lane, start_ns: abs(tr, g.start),
					end_ns: abs(tr, g.end), duration_ns: g.end - g.start}))});
		}
		}
		return err(res, 404, 'no such path');
	}

	function file(res, name) {
		// Only regular files directly in web/, as the embedded list has them: no path reaches elsewhere.
		if (!/^[A-Za-z0-9._-]+$/.test(name) || name === 'meson.build' || name.startsWith('.')) return err(res, 404, 'no such asset');
		const f = path.join(WEB, name);
		let data;
		try {
			if (!fs.statSync(f).isFile()) return err(res, 404, 'no such asset');
			data = fs.readFileSync(f);
		} catch (_) {
			return err(res, 404, 'no such asset');
		}
		res.writeHead(200, {'Content-Type': TYPES[path.extname(name)] || 'application/octet-stream',
			'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store'});
		res.end(data);
	}

	return {
		server, log, traces,
		listen(port = 0) {
			return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}/`)));
		},
		close() {
			server.closeAllConnections();
			return new Promise((resolve) => server.close(resolve));
		},
	};
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	const args = process.argv.slice(2);
	let port = 0, fixture = null;
	for (let i = 0; i < args.length; i++) {
		if (args[i] === '--port') port = +args[++i];
		else if (args[i] === '--fixture') fixture = JSON.parse(fs.readFileSync(args[++i], 'utf8'));
		else {
			console.error('usage: node mock-server.mjs [--port N] [--fixture FILE.json]');
			process.exit(2);
		}
	}
	const mock = createMock(fixture || syntheticFixture());
	const url = await mock.listen(port);
	console.log('mock: ' + url);
}
