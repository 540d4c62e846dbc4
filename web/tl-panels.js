// tl-panels.js - the panels beside the timeline: the details of the selected event (name, times,
// attributes, event ID, its block, and its causes and effects as links that walk the DAG), and
// the statistics of a selected time range (per-name counts, total and self time). Everything
// from the trace is put in as text.

import {el, clear, fmtDur, fmtRel, fmtAbs, fmtCount, isEventId} from './util.js';

export class Details {
	// linkFor(id) -> the URL of the view with event `id` selected; follow(id) selects it.
	constructor(linkFor, follow) {
		this.linkFor = linkFor;
		this.follow = follow;
		this.root = el('section', {class: 'panel details', id: 'tl-details', 'aria-labelledby': 'tl-details-h',
			'aria-live': 'polite'});
		this.clear();
	}

	clear() {
		clear(this.root);
		this.event = null;
		this.root.append(el('h2', {id: 'tl-details-h'}, 'Details'),
			el('p', {class: 'hint'}, 'Click a block or point (or search) to see its details here.'));
	}

	showError(msg) {
		clear(this.root);
		this.root.append(el('h2', {id: 'tl-details-h'}, 'Details'), el('p', {class: 'error'}, msg));
	}

	eventLink(ref, text) {
		const id = ref && String(ref.id ?? '');
		if (!isEventId(id)) return el('span', null, text);
		return el('a', {href: this.linkFor(id), class: 'evlink', 'data-event': id,
			onclick: (ev) => { ev.preventDefault(); this.follow(id); }}, text);
	}

	// ev: an /event answer (times relative to the trace start), lane: the lane's info.
	show(ev, lane, base) {
		this.event = ev;
		clear(this.root);
		const rows = [];
		const row = (k, ...v) => rows.push(el('dt', null, k), el('dd', null, ...v));
		const abs = (rel) => fmtAbs(base + BigInt(Math.round(rel)));
		row('Event ID', el('code', {class: 'event-id'}, String(ev.id ?? '')));
		row('Kind', String(ev.kind ?? ''));
		const lname = String(ev.entity_name ?? (lane ? lane.name : ''));
		row('Lane', lname ? `${lname} (${lane ? lane.kind + ', ' : ''}entity ${ev.entity ?? ''})` : `entity ${ev.entity ?? ''}${lane ? ' (' + lane.kind + ')' : ''}`);
		if (lane) row('Process', `${lane.proc.service || lane.proc.program || ''} pid ${lane.proc.pid} on ${lane.host}`);
		row('Time', `${fmtRel(ev.time_ns)} `, el('span', {class: 'abs'}, abs(ev.time_ns)));
		if (ev.adjusted) {
			row('Clock', el('span', {class: 'adjusted'}, `≈ adjusted by clock alignment; recorded at ${abs(ev.time_orig_ns)} ` +
				`(${fmtRel(ev.time_orig_ns)}, ${fmtDur(ev.time_ns - ev.time_orig_ns)} earlier than shown)`));
		}
		const b = ev.block;
		if (b) {
			row('Duration', fmtDur(b.duration_ns), b.self_ns !== undefined ? ` (self ${fmtDur(b.self_ns)})` : '');
			row('Depth', String(b.depth ?? ''));
			if (b.begin && b.end) row('Begin / end', this.eventLink(b.begin, String(b.begin.id)), ' … ', this.eventLink(b.end, String(b.end.id)));
			if (b.parent) row('Inside', this.eventLink(b.parent, String(b.parent.name ?? b.parent.id)));
			if (b.repaired) row('Repaired', 'yes: its begin or end was missing and was inferred');
		}
		if (ev.in_block) row('Inside', this.eventLink(ev.in_block, String(ev.in_block.name ?? ev.in_block.id)));
		if (ev.wait) {
			const w = ev.wait;
			row('Waiting', `${fmtDur(w.end_ns - w.start_ns)} from ${fmtRel(w.start_ns)}` + (w.reason ? ` (${w.reason})` : ''),
				w.resumed_by ? el('span', null, ', resumed by ', this.eventLink(w.resumed_by, String(w.resumed_by.id))) : '');
		}
		this.root.append(el('h2', {id: 'tl-details-h', class: 'ev-name'}, String(ev.name ?? '') || '(no name)'),
			el('dl', null, rows));

		const attrs = ev.attrs && typeof ev.attrs === 'object' ? Object.entries(ev.attrs) : [];
		if (attrs.length) {
			this.root.append(el('h3', null, 'Attributes'), el('table', {class: 'attrs'},
				el('tbody', null, attrs.map(([k, v]) => el('tr', null, el('th', {scope: 'row'}, k),
					el('td', null, typeof v === 'string' ? v : JSON.stringify(v)))))));
		}
		this.root.append(this.refList('Causes', ev.causes, 'tl-causes'), this.refList('Effects', ev.effects, 'tl-effects'));
	}

	refList(title, refs, id) {
		const list = Array.isArray(refs) ? refs : [];
		const box = el('div', {class: 'refs', id});
		box.append(el('h3', null, `${title} (${list.length})`));
		if (!list.length) {
			box.append(el('p', {class: 'hint'}, 'none'));
			return box;
		}
		const ul = el('ul');
		for (const r of list.slice(0, 200)) {
			const label = `${r.name ?? ''} · ${r.kind ?? ''}` + (Number.isFinite(r.time_ns) ? ` · ${fmtRel(r.time_ns)}` : '');
			if (r.linked === false) {
				ul.append(el('li', {class: 'unlinked'}, `${String(r.id ?? '')} — not in this trace (${r.class ?? 'unknown'})`));
			} else {
				ul.append(el('li', null, this.eventLink(r, label)));
			}
		}
		if (list.length > 200) ul.append(el('li', null, `and ${list.length - 200} more`));
		box.append(ul);
		return box;
	}

	showRun(run, zoom) {
		clear(this.root);
		this.root.append(el('h2', {id: 'tl-details-h'}, `${fmtCount(run.count)} merged blocks`),
			el('p', null, `These ${fmtCount(run.count)} blocks were each narrower than a pixel column at this zoom, so they are drawn ` +
				`as one grey run from ${fmtRel(run.start_ns)} to ${fmtRel(run.end_ns)}. The longest is “${run.name}”.`),
			el('button', {type: 'button', class: 'primary', onclick: zoom}, 'Zoom in to see them'));
	}

	showBin(bin) {
		clear(this.root);
		this.root.append(el('h2', {id: 'tl-details-h'}, `${fmtCount(bin.count)} points`),
			el('p', null, `${fmtCount(bin.count)} points fell in one pixel column (${fmtRel(bin.start_ns)} to ${fmtRel(bin.end_ns)}) ` +
				'and are counted together. Zoom in to see them one by one.'));
	}
}

export class RangeStats {
	constructor(onClear, onZoom) {
		this.root = el('section', {class: 'panel range', id: 'tl-range', 'aria-labelledby': 'tl-range-h', hidden: true});
		this.onClear = onClear;
		this.onZoom = onZoom;
		this.answer = null;
	}

	clear() {
		clear(this.root);
		this.root.hidden = true;
		this.answer = null;
	}

	header(a, b) {
		return [el('h2', {id: 'tl-range-h'}, 'Range'),
			el('p', null, `${fmtRel(a)} to ${fmtRel(b)} (${fmtDur(b - a)})`),
			el('p', null, el('button', {type: 'button', onclick: this.onZoom}, 'Zoom to range'), ' ',
				el('button', {type: 'button', onclick: this.onClear}, 'Clear range'))];
	}

	loading(a, b) {
		clear(this.root);
		this.root.hidden = false;
		this.answer = null;
		this.root.append(...this.header(a, b), el('p', {class: 'hint'}, 'Counting…'));
	}

	showError(msg) {
		this.root.append(el('p', {class: 'error'}, 'Range statistics failed: ' + msg));
	}

	show(ans, a, b) {
		clear(this.root);
		this.root.hidden = false;
		this.answer = ans;
		const blocks = Array.isArray(ans.blocks) ? ans.blocks : [];
		const points = Array.isArray(ans.points) ? ans.points : [];
		this.root.append(...this.header(a, b));
		const tb = el('tbody');
		for (const x of blocks.slice(0, 500)) {
			tb.append(el('tr', null, el('th', {scope: 'row'}, String(x.name ?? '')), el('td', {class: 'num'}, fmtCount(x.count)),
				el('td', {class: 'num'}, fmtDur(x.total_ns)), el('td', {class: 'num'}, fmtDur(x.self_ns))));
		}
		this.root.append(el('table', {class: 'stats', id: 'tl-range-blocks'},
			el('caption', null, `Blocks (${fmtCount(blocks.length)} names)`),
			el('thead', null, el('tr', null, ['Name', 'Count', 'Total', 'Self'].map((h) => el('th', {scope: 'col'}, h)))), tb));
		if (blocks.length > 500) this.root.append(el('p', {class: 'hint'}, `The first 500 of ${fmtCount(blocks.length)} names, largest total first.`));
		if (points.length) {
			const pb = el('tbody');
			for (const x of points.slice(0, 200)) {
				pb.append(el('tr', null, el('th', {scope: 'row'}, String(x.name ?? '')), el('td', {class: 'num'}, fmtCount(x.count))));
			}
			this.root.append(el('table', {class: 'stats'}, el('caption', null, 'Points'),
				el('thead', null, el('tr', null, el('th', {scope: 'col'}, 'Name'), el('th', {scope: 'col'}, 'Count'))), pb));
		}
	}
}

// One line of text for the screen-reader list of what is drawn.
export function describeItem(kind, it, lanes) {
	const lane = lanes[it.lane];
	const where = lane ? ` in ${lane.name || lane.entity}` : '';
	if (kind === 'blocks') return `Block ${it.name}${where}: ${fmtRel(it.start_ns)} to ${fmtRel(it.end_ns)} (${fmtDur(it.end_ns - it.start_ns)})`;
	if (kind === 'runs') return `${fmtCount(it.count)} merged blocks, longest ${it.name},${where}: ${fmtRel(it.start_ns)} to ${fmtRel(it.end_ns)}`;
	if (kind === 'points') {
		if (!it.id) return `${fmtCount(it.count)} points${where} between ${fmtRel(it.start_ns)} and ${fmtRel(it.end_ns)}`;
		return `${it.error ? 'Error' : 'Point'} ${it.name}${where} at ${fmtRel(it.time_ns)}`;
	}
	if (kind === 'arrows') {
		const a = lanes[it.cause.lane], b = lanes[it.effect.lane];
		return `Arrow (${it.kind}) from ${a ? a.name : 'lane ' + it.cause.lane} at ${fmtRel(it.cause.time_ns)} to ${b ? b.name : 'lane ' + it.effect.lane} at ${fmtRel(it.effect.time_ns)}`;
	}
	return kind;
}
