// timeline.test.mjs - the trace timeline in headless chromium against the real `hx view`, on a
// trace recorded by examples/pipeline (threads, queues, waits, a fork()ed child): lanes, blocks
// and arrows are drawn (the data layer says where, and the canvas pixels there are not
// background), a click shows an event's details, the wheel and W/A/S/D zoom and pan, a cause link
// walks the DAG, search goes next and previous, a shift-drag gives range statistics, and a
// reload of the URL reproduces the view.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {openBrowser, startHxView, stopHxView, buildDir, run, tmpdir, waitReady, viewer, pixel, isBackground, screenshot,
	check, main} from './lib.mjs';

let ctx;

const center = (b) => ({x: b.x + b.w / 2, y: b.y + b.h / 2});
async function click(x, y, opts) {
	const c = await viewer(ctx.page, 'canvas');
	await ctx.page.mouse.click(c.x + x, c.y + y, opts);
	await waitReady(ctx.page);
}

check('lanes, blocks and arrows are drawn where the data layer says', async () => {
	const lanes = (await viewer(ctx.page, 'lanes')).filter((l) => l.lane !== undefined);
	// A batch trace crosses the producer, the workers and the consumer: a lane each.
	assert.ok(lanes.length >= 4, 'a lane per thread of the trace: ' + JSON.stringify(lanes));
	assert.ok(lanes.every((l) => /^[0-9a-f]{16}$/.test(l.entity)));
	for (let i = 1; i < lanes.length; i++) assert.ok(lanes[i].y >= lanes[i - 1].y + lanes[i - 1].h, 'lanes do not overlap');
	const blocks = await viewer(ctx.page, 'blocks');
	const runs = await viewer(ctx.page, 'runs');
	assert.ok(blocks.length + runs.length > 10, `blocks ${blocks.length}, runs ${runs.length}`);
	// Every drawn block lies within its lane, and the canvas is not background at its centre.
	const byLane = new Map(lanes.map((l) => [l.lane, l]));
	const wide = blocks.filter((b) => b.w >= 3 && b.y > 30 && b.y < 850).slice(0, 25);
	assert.ok(wide.length > 0, 'some block at least 3 px wide');
	for (const b of wide) {
		const l = byLane.get(b.lane);
		assert.ok(b.y >= l.y && b.y + b.h <= l.y + l.h, `block ${b.name} inside lane ${l.name}`);
		const p = await pixel(ctx.page, center(b).x, center(b).y);
		assert.ok(!isBackground(p), `block ${b.name} drawn at ${center(b).x},${center(b).y}: ${p}`);
	}
	const arrows = await viewer(ctx.page, 'arrows');
	assert.ok(arrows.length > 0, 'interactions are drawn as arrows');
	// A long arrow: its middle is drawn (the line is the arrow colour, or something drawn on it).
	const long = arrows.filter((a) => Math.abs(a.y2 - a.y1) > 40 && a.y1 > 30 && a.y2 > 30 && a.y1 < 850 && a.y2 < 850);
	assert.ok(long.length > 0, 'an arrow across lanes');
	let seen = 0;
	for (const a of long.slice(0, 10)) {
		const mx = (a.x1 + a.x2) / 2, my = (a.y1 + a.y2) / 2;
		for (const dx of [-1, 0, 1]) {
			const p = await pixel(ctx.page, mx + dx, my);
			if (!isBackground(p)) { seen++; break; }
		}
	}
	assert.ok(seen >= Math.min(3, long.length), `arrow lines are on the canvas (${seen} of ${long.length})`);
	const s = await viewer(ctx.page, 'summary');
	assert.match(s.text, /Showing .* lanes; .* blocks/);
	await screenshot(ctx.page, 'timeline');
});

check('clicking a block shows its details', async () => {
	const blocks = await viewer(ctx.page, 'blocks');
	const b = blocks.filter((x) => x.y > 30 && x.y < 850).sort((p, q) => q.w - p.w)[0];
	await click(center(b).x, center(b).y);
	const sel = await viewer(ctx.page, 'selection');
	assert.equal(sel.id, b.id);
	assert.equal(await ctx.page.textContent('#tl-details h2'), b.name);
	assert.equal(await ctx.page.textContent('#tl-details .event-id'), b.id);
	const text = await ctx.page.textContent('#tl-details');
	assert.match(text, /Duration[\d.]+ (ns|µs|ms|s)/);
	assert.match(text, /Time\+[\d.]+ (ns|µs|ms|s) 20\d\d-\d\d-\d\dT/);
	assert.match(ctx.page.url(), new RegExp('sel=' + encodeURIComponent(b.id).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
});

check('the wheel zooms around the pointer; W/A/S/D zoom and pan', async () => {
	const v0 = await viewer(ctx.page, 'visible');
	const c = await viewer(ctx.page, 'canvas');
	const mx = c.gutter + (c.width - c.gutter) / 2;
	await ctx.page.mouse.move(c.x + mx, c.y + 300);
	await ctx.page.mouse.wheel(0, -400);
	await waitReady(ctx.page);
	const v1 = await viewer(ctx.page, 'visible');
	assert.ok(v1.span_ns < v0.span_ns * 0.75, `zoomed in: ${v0.span_ns} -> ${v1.span_ns}`);
	const mid0 = (v0.from_rel_ns + v0.to_rel_ns) / 2, mid1 = (v1.from_rel_ns + v1.to_rel_ns) / 2;
	assert.ok(Math.abs(mid1 - mid0) < v0.span_ns * 0.02, 'the time under the pointer stays put');
	const u = new URL(ctx.page.url().replace('#/', '/'));
	assert.equal(u.searchParams.get('from'), v1.from_ns);
	assert.equal(u.searchParams.get('to'), v1.to_ns);
	await ctx.page.focus('#tl-canvas');
	await ctx.page.keyboard.press('w');
	await waitReady(ctx.page);
	const v2 = await viewer(ctx.page, 'visible');
	assert.ok(v2.span_ns < v1.span_ns * 0.9, 'W zooms in');
	await ctx.page.keyboard.press('d');
	await waitReady(ctx.page);
	const v3 = await viewer(ctx.page, 'visible');
	assert.ok(v3.from_rel_ns > v2.from_rel_ns + v2.span_ns * 0.1, 'D pans right');
	await ctx.page.keyboard.press('a');
	await ctx.page.keyboard.press('s');
	await waitReady(ctx.page);
	const v4 = await viewer(ctx.page, 'visible');
	assert.ok(v4.span_ns > v3.span_ns * 1.1, 'S zooms out');
	await ctx.page.keyboard.press('Home');
	await waitReady(ctx.page);
	const v5 = await viewer(ctx.page, 'visible');
	assert.ok(v5.span_ns >= v5.trace_duration_ns, 'Home shows the whole trace');
});

check('a cause link in the details jumps along the DAG', async () => {
	// An effect whose cause is in another lane: select the effect (a point marker), then follow.
	const arrows = await viewer(ctx.page, 'arrows');
	const points = await viewer(ctx.page, 'points');
	let target = null;
	for (const a of arrows) {
		if (a.cause_lane === a.effect_lane) continue;
		const p = points.find((x) => x.id === a.effect && x.y > 30 && x.y < 850);
		if (p) { target = {a, p}; break; }
	}
	assert.ok(target, 'an effect point with a cause in another lane is drawn');
	await click(target.p.x + target.p.w / 2, target.p.y + target.p.h / 2);
	let sel = await viewer(ctx.page, 'selection');
	assert.equal(sel.id, target.a.effect);
	const link = ctx.page.locator(`#tl-causes a[data-event="${target.a.cause}"]`);
	assert.equal(await link.count(), 1, 'the details list the cause as a link');
	await link.click();
	await waitReady(ctx.page);
	sel = await viewer(ctx.page, 'selection');
	assert.equal(sel.id, target.a.cause);
	assert.equal(sel.lane, target.a.cause_lane);
	assert.equal(await ctx.page.textContent('#tl-details .event-id'), target.a.cause);
	const v = await viewer(ctx.page, 'visible');
	assert.ok(sel.time_rel_ns >= v.from_rel_ns && sel.time_rel_ns <= v.to_rel_ns, 'the cause is in view');
	// Its effects list the event we came from.
	assert.equal(await ctx.page.locator(`#tl-effects a[data-event="${target.a.effect}"]`).count(), 1);
	// Back returns to the effect.
	await ctx.page.goBack();
	await waitReady(ctx.page);
	assert.equal((await viewer(ctx.page, 'selection')).id, target.a.effect);
});

check('search in the trace: next and previous', async () => {
	await ctx.page.fill('#tl-search', 'produce');
	await ctx.page.click('#tl-next');
	await waitReady(ctx.page);
	const s1 = await viewer(ctx.page, 'search');
	assert.ok(s1.total >= 3, 'several "produce" blocks: ' + JSON.stringify(s1));
	const a = await viewer(ctx.page, 'selection');
	assert.equal(a.name, 'produce');
	assert.equal(a.id, s1.match);
	await ctx.page.click('#tl-next');
	await waitReady(ctx.page);
	const b = await viewer(ctx.page, 'selection');
	assert.notEqual(b.id, a.id);
	assert.ok(b.time_rel_ns >= a.time_rel_ns, 'next is later');
	await ctx.page.click('#tl-prev');
	await waitReady(ctx.page);
	assert.equal((await viewer(ctx.page, 'selection')).id, a.id, 'prev goes back');
	assert.match(await ctx.page.textContent('#tl-search-msg'), /produce at \+[\d.]+ .* matches in the trace/);
	await ctx.page.fill('#tl-search', 'no such name at all');
	await ctx.page.press('#tl-search', 'Enter');
	await waitReady(ctx.page);
	assert.match(await ctx.page.textContent('#tl-search-msg'), /No match in this trace/);
	await ctx.page.fill('#tl-search', 'produce');
});

check('shift-drag selects a range and shows per-name statistics', async () => {
	await ctx.page.focus('#tl-canvas');
	await ctx.page.keyboard.press('Home');
	await waitReady(ctx.page);
	const c = await viewer(ctx.page, 'canvas');
	const x1 = c.gutter + (c.width - c.gutter) * 0.2, x2 = c.gutter + (c.width - c.gutter) * 0.8;
	await ctx.page.keyboard.down('Shift');
	await ctx.page.mouse.move(c.x + x1, c.y + 200);
	await ctx.page.mouse.down();
	await ctx.page.mouse.move(c.x + (x1 + x2) / 2, c.y + 210, {steps: 4});
	await ctx.page.mouse.move(c.x + x2, c.y + 220, {steps: 4});
	await ctx.page.mouse.up();
	await ctx.page.keyboard.up('Shift');
	await waitReady(ctx.page);
	const r = await viewer(ctx.page, 'range');
	const v = await viewer(ctx.page, 'visible');
	assert.ok(r && r.to_rel_ns > r.from_rel_ns, 'a range is selected');
	assert.ok(Math.abs((r.to_rel_ns - r.from_rel_ns) - v.span_ns * 0.6) < v.span_ns * 0.02, 'the range is what was dragged');
	assert.ok(r.stats && r.stats.blocks.length > 0, 'per-name statistics');
	for (const x of r.stats.blocks) {
		assert.ok(x.count > 0 && x.total_ns >= x.self_ns && x.self_ns >= 0, JSON.stringify(x));
		assert.ok(x.total_ns <= (r.to_rel_ns - r.from_rel_ns) * x.count + 1, 'times are clipped to the range');
	}
	const rows = await ctx.page.locator('#tl-range-blocks tbody tr').count();
	assert.equal(rows, Math.min(500, r.stats.blocks.length));
	assert.match(await ctx.page.textContent('#tl-range-blocks'), /NameCountTotalSelf/);
	await screenshot(ctx.page, 'timeline-range');
});

check('the URL reproduces the view after a reload', async () => {
	// Zoom in on a block and select it, so the state is not the default one.
	const b = (await viewer(ctx.page, 'blocks')).filter((x) => x.y > 30 && x.y < 850).sort((p, q) => q.w - p.w)[1];
	await click(center(b).x, center(b).y);
	await ctx.page.focus('#tl-canvas');
	await ctx.page.keyboard.press('w');
	await waitReady(ctx.page);
	const before = {v: await viewer(ctx.page, 'visible'), s: await viewer(ctx.page, 'selection'), r: await viewer(ctx.page, 'range'),
		q: await ctx.page.inputValue('#tl-search'), url: ctx.page.url()};
	await ctx.page.reload();
	await waitReady(ctx.page);
	const v = await viewer(ctx.page, 'visible');
	assert.equal(v.from_ns, before.v.from_ns);
	assert.equal(v.to_ns, before.v.to_ns);
	assert.equal((await viewer(ctx.page, 'selection')).id, before.s.id);
	const r = await viewer(ctx.page, 'range');
	assert.equal(r.from_ns, before.r.from_ns);
	assert.equal(r.to_ns, before.r.to_ns);
	assert.equal(await ctx.page.inputValue('#tl-search'), before.q);
	assert.equal(ctx.page.url(), before.url);
	// And in a fresh tab, from the link alone.
	const p2 = await ctx.browser.ctx.newPage();
	await p2.goto(before.url);
	await waitReady(p2);
	assert.equal((await viewer(p2, 'visible')).from_ns, before.v.from_ns);
	assert.equal((await viewer(p2, 'selection')).id, before.s.id);
	await p2.close();
});

main('timeline against hx view (examples/pipeline)', async () => {
	ctx = {dir: tmpdir('hx-viewer-tl-')};
	const traces = path.join(ctx.dir, 'traces');
	run(path.join(buildDir(), 'examples/pipeline'), ['--items', '60', '--workers', '3', traces]);
	ctx.hx = await startHxView(traces, ['--no-open']);
	// The trace over the most threads (a batch: producer, workers, consumer), the largest of those.
	const ans = await (await fetch(ctx.hx.url + 'api/traces?limit=100')).json();
	assert.ok(ans.traces && ans.traces.length >= 2, 'hx view lists the traces: ' + JSON.stringify(ans));
	ctx.trace = ans.traces.slice().sort((a, b) => b.entities - a.entities || b.events - a.events)[0].trace_id;
	ctx.browser = await openBrowser();
	ctx.page = ctx.browser.page;
	await ctx.page.goto(ctx.hx.url + '#/trace/' + ctx.trace);
	await waitReady(ctx.page, 'the timeline', 60000);
	return ctx;
}, async () => {
	if (!ctx) return;
	if (ctx.browser) await ctx.browser.close();
	try {
		if (ctx.hx) await stopHxView(ctx.hx);
	} finally {
		fs.rmSync(ctx.dir, {recursive: true, force: true});
	}
});
