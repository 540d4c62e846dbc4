// tl-layout.js - where each host, process and lane of a trace goes vertically on the timeline.
// One lane per entity, grouped under its process and host (the overview's order); a collapsed
// host or process keeps only its heading row. Inside a lane, from the top: a strip for points,
// one row per block nesting depth (the overview says how many the lane needs), then one small
// area track per counter of the lane.

export const HEAD = 20;       // a host or process heading
export const POINTS = 10;     // the strip of point markers at the top of a lane
export const ROW = 16;        // one block row
export const COUNTER = 22;    // one counter track
export const LANE_PAD = 5;    // space below a lane

// The lanes of an overview, flat, with their host and process: [{lane, name, entity, kind,
// depth, host, hostKey, proc, procKey, offset, counters: [{name, min, max}]}], indexed by lane.
export function flattenLanes(overview) {
	const lanes = [];
	const hosts = Array.isArray(overview.hosts) ? overview.hosts : [];
	hosts.forEach((h, hi) => {
		for (const p of Array.isArray(h.processes) ? h.processes : []) {
			for (const l of Array.isArray(p.lanes) ? p.lanes : []) {
				if (!Number.isInteger(l.lane) || l.lane < 0 || l.lane > 1e7) continue;
				lanes[l.lane] = {
					lane: l.lane, name: String(l.name ?? ''), entity: String(l.entity ?? ''),
					kind: String(l.kind ?? ''), events: l.events, depth: Math.max(0, Math.min(256, l.depth | 0)),
					first: l.first_ns, last: l.last_ns,
					host: String(h.host ?? ''), hostKey: 'h' + hi,
					proc: p, procKey: 'p' + p.process,
					offset: Number.isFinite(p.clock_offset_ns) ? p.clock_offset_ns : 0,
					counters: [],
				};
			}
		}
	});
	for (const c of Array.isArray(overview.counters) ? overview.counters : []) {
		const l = lanes[c.lane];
		if (l && l.counters.length < 32) l.counters.push({name: String(c.name ?? ''), min: +c.min, max: +c.max});
	}
	return lanes;
}

// Rows from the top of the content (y = 0): [{type: 'host'|'process'|'lane', key, y, h, ...}].
// Lane rows also carry pointsY, blocksY, rows (block rows) and countersY.
export function layout(overview, lanes, collapsed) {
	const rows = [];
	const byLane = new Map();
	const byKey = new Map();
	let y = 0;
	const hosts = Array.isArray(overview.hosts) ? overview.hosts : [];
	hosts.forEach((h, hi) => {
		const hostKey = 'h' + hi;
		const hostRow = {type: 'host', key: hostKey, y, h: HEAD, label: String(h.host ?? ''),
			collapsed: collapsed.has(hostKey), host: h};
		rows.push(hostRow);
		byKey.set(hostKey, hostRow);
		y += HEAD;
		for (const p of Array.isArray(h.processes) ? h.processes : []) {
			const procKey = 'p' + p.process;
			const procRow = {type: 'process', key: procKey, y, h: HEAD, proc: p,
				collapsed: collapsed.has(procKey), hidden: hostRow.collapsed, hostRow};
			byKey.set(procKey, procRow);
			if (!hostRow.collapsed) {
				rows.push(procRow);
				y += HEAD;
			}
			for (const l of Array.isArray(p.lanes) ? p.lanes : []) {
				const info = lanes[l.lane];
				if (!info) continue;
				if (hostRow.collapsed || procRow.collapsed) {
					// Drawn at its group's heading: arrows to a hidden lane end there.
					byLane.set(l.lane, {type: 'hidden', lane: l.lane, info, y: (hostRow.collapsed ? hostRow : procRow).y,
						h: HEAD, pointsY: (hostRow.collapsed ? hostRow : procRow).y + HEAD / 2 - POINTS / 2});
					continue;
				}
				const nrows = Math.max(1, info.depth);
				const row = {type: 'lane', key: 'l' + l.lane, lane: l.lane, info, y,
					pointsY: y + 2, blocksY: y + 2 + POINTS, rows: nrows,
					countersY: y + 2 + POINTS + nrows * ROW};
				row.h = 2 + POINTS + nrows * ROW + info.counters.length * COUNTER + LANE_PAD;
				rows.push(row);
				byLane.set(l.lane, row);
				y += row.h;
			}
		}
	});
	return {rows, byLane, byKey, total: y};
}
