// traces.test.mjs - the Traces, Aggregate and Dependencies pages in headless chromium against the
// real `hx view`, on the traces of examples/shop (one trace per order across 6 processes): the
// list and the scatter plot show every trace (dots probed on the canvas), the search form filters
// through the URL, a click on a dot opens that trace's timeline with arrows between processes,
// the aggregate and dependency pages show data or the server's error sentence, and every control
// is labelled and reachable by keyboard with a visible focus.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {openBrowser, startHxView, stopHxView, buildDir, run, tmpdir, waitReady, viewer, pixel, screenshot, check, main} from './lib.mjs';

const REQUESTS = 4;
let ctx;

check('the traces page lists every trace and plots it', async () => {
	await ctx.page.goto(ctx.hx.url);
	await waitReady(ctx.page);
	assert.equal(await viewer(ctx.page, 'page'), 'traces');
	const rows = ctx.page.locator('#page-traces tbody tr');
	assert.equal(await rows.count(), REQUESTS);
	const text = await ctx.page.textContent('#page-traces tbody');
	assert.match(text, /order/);
	assert.match(text, /client, gateway, inventory, payment, worker/);
	const dots = await viewer(ctx.page, 'dots');
	assert.equal(dots.length, REQUESTS);
	for (const d of dots) {
		const p = await pixel(ctx.page, d.x, d.y, 'tr-scatter');
		assert.ok(p[2] > 150 && p[0] < 80, `dot of ${d.trace_id} drawn blue at ${d.x},${d.y}: ${p}`);
	}
	await screenshot(ctx.page, 'traces');
});

check('the search form filters through the URL', async () => {
	await ctx.page.fill('#f-service', 'gateway');
	await ctx.page.selectOption('#f-sort', '-duration');
	await ctx.page.click('#page-traces button[type=submit]');
	await waitReady(ctx.page);
	assert.match(ctx.page.url(), /#\/traces\?service=gateway&sort=-duration/);
	assert.equal(await ctx.page.locator('#page-traces tbody tr').count(), REQUESTS);
	await ctx.page.fill('#f-min_duration', '1h');
	await ctx.page.click('#page-traces button[type=submit]');
	await waitReady(ctx.page);
	assert.equal(await ctx.page.locator('#page-traces tbody tr').count(), 0);
	assert.match(await ctx.page.textContent('#page-traces .msg'), /No trace matches/);
	await ctx.page.fill('#f-min_duration', 'soon');
	await ctx.page.click('#page-traces button[type=submit]');
	await waitReady(ctx.page);
	assert.match(await ctx.page.textContent('#page-traces .error'), /Search failed: 400 .*min_duration/);
	await ctx.page.goto(ctx.hx.url + '#/traces?');
	await waitReady(ctx.page);
});

check('a click on a dot opens that trace', async () => {
	const dots = await viewer(ctx.page, 'dots');
	const d = dots[dots.length - 1];
	const c = await viewer(ctx.page, 'canvas');
	await ctx.page.mouse.click(c.x + d.x, c.y + d.y);
	await ctx.page.waitForFunction((id) => location.hash.startsWith('#/trace/' + id), d.trace_id);
	await waitReady(ctx.page, 'the timeline', 60000);
	assert.equal(await viewer(ctx.page, 'trace'), d.trace_id);
	assert.equal(await ctx.page.textContent('#page-trace h1'), 'order');
	const lanes = (await viewer(ctx.page, 'lanes')).filter((l) => l.lane !== undefined);
	assert.ok(new Set(lanes.map((l) => l.pid)).size >= 5, 'lanes of every process of the order');
	const arrows = await viewer(ctx.page, 'arrows');
	const pidOf = new Map(lanes.map((l) => [l.lane, l.pid]));
	assert.ok(arrows.some((a) => pidOf.get(a.cause_lane) !== pidOf.get(a.effect_lane)), 'arrows between processes');
	assert.ok((await viewer(ctx.page, 'blocks')).length > 0);
	await screenshot(ctx.page, 'timeline-shop');
	// The critical path: stated, and drawn in orange over the longest stretch it runs on a lane.
	await ctx.page.click('#tl-cp');
	await waitReady(ctx.page);
	assert.match(await ctx.page.textContent('#tl-cp-note'), /Critical path \(orange\): [\d.]+ ms in \d+ segments — running/);
	const cp = await ctx.page.evaluate(async (id) => (await (await fetch('api/traces/' + id + '/critical-path')).json()), d.trace_id);
	const run = cp.segments.filter((g) => g.kind === 'running').sort((a, b) => b.duration_ns - a.duration_ns)[0];
	const v = await viewer(ctx.page, 'visible');
	const tc = await viewer(ctx.page, 'canvas');
	const lane = lanes.find((l) => l.lane === run.lane);
	const mid = Number(BigInt(run.start_ns) + BigInt(run.end_ns) - 2n * BigInt(v.trace_start_ns)) / 2;
	const x = tc.gutter + ((mid - v.from_rel_ns) / v.span_ns) * (tc.width - tc.gutter);
	const px = await pixel(ctx.page, x, lane.blocks_y - 2);
	assert.ok(px[0] > 200 && px[1] > 80 && px[1] < 150 && px[2] < 60, `orange at ${x},${lane.blocks_y - 2}: ${px}`);
	assert.equal((await viewer(ctx.page, 'criticalPath')).segments, cp.segments.length);
	await screenshot(ctx.page, 'timeline-critical-path');
	// The Traces link in the header goes back to the list.
	await ctx.page.click('#nav-traces');
	await waitReady(ctx.page);
	assert.equal(await viewer(ctx.page, 'page'), 'traces');
});

check('the aggregate page shows percentiles or the server\'s reason', async () => {
	await ctx.page.goto(ctx.hx.url + '#/aggregate?group_by=service');
	await waitReady(ctx.page);
	const err = await ctx.page.locator('#page-aggregate .error:not([hidden])').count();
	if (err) assert.match(await ctx.page.textContent('#page-aggregate .error'), /Aggregates unavailable: \d{3} /);
	else assert.match(await ctx.page.textContent('#page-aggregate .msg'), /\d+ traces, \d+ groups?/);
	await screenshot(ctx.page, 'aggregate');
});

check('the dependencies page shows the graph or the server\'s reason', async () => {
	await ctx.page.goto(ctx.hx.url + '#/dependencies');
	await waitReady(ctx.page);
	const err = await ctx.page.locator('#page-dependencies .error:not([hidden])').count();
	if (err) {
		assert.match(await ctx.page.textContent('#page-dependencies .error'), /Dependencies unavailable: \d{3} /);
	} else {
		const m = /(\d+) nodes, (\d+) edges/.exec(await ctx.page.textContent('#page-dependencies .msg'));
		assert.ok(m, 'a count of nodes and edges');
		assert.equal(await ctx.page.locator('#page-dependencies tbody tr').count(), +m[2]);
	}
	await screenshot(ctx.page, 'dependencies');
});

check('controls are labelled, reachable by Tab, and show focus', async () => {
	for (const hash of ['#/traces', '#/trace/' + ctx.first]) {
		await ctx.page.goto(ctx.hx.url + hash);
		await waitReady(ctx.page, hash, 60000);
		const unlabelled = await ctx.page.evaluate(() => {
			const bad = [];
			const page = document.querySelector('.page:not([hidden])');
			for (const e of page.querySelectorAll('input, select, button, canvas[tabindex], a[href]')) {
				const name = e.getAttribute('aria-label') || (e.id && document.querySelector(`label[for="${e.id}"]`)) ||
					(e.tagName !== 'INPUT' && e.tagName !== 'SELECT' && e.textContent.trim());
				if (!name) bad.push(e.outerHTML.slice(0, 80));
			}
			return bad;
		});
		assert.deepEqual(unlabelled, [], 'every control has a name on ' + hash);
		// Tab from the top reaches the page's controls, each with a visible outline.
		await ctx.page.evaluate(() => document.activeElement && document.activeElement.blur());
		const seen = new Set();
		for (let i = 0; i < 40; i++) {
			await ctx.page.keyboard.press('Tab');
			const f = await ctx.page.evaluate(() => {
				const e = document.activeElement;
				const s = getComputedStyle(e);
				return {id: e.id || e.tagName, outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2};
			});
			if (f.id === 'BODY') continue;   // past the last control, before wrapping around
			assert.ok(f.outline, `focus is visible on ${f.id}`);
			seen.add(f.id);
		}
		const want = hash === '#/traces' ? ['f-from', 'f-service', 'tr-scatter'] : ['tl-search', 'tl-next', 'tl-cp'];
		for (const id of want) assert.ok(seen.has(id), `Tab reaches #${id} (${[...seen]})`);
	}
	// The timeline canvas takes keys once focused.
	await ctx.page.focus('#tl-canvas');
	const v0 = await viewer(ctx.page, 'visible');
	await ctx.page.keyboard.press('w');
	await waitReady(ctx.page);
	assert.ok((await viewer(ctx.page, 'visible')).span_ns < v0.span_ns);
});

main('traces, aggregate and dependency pages against hx view (examples/shop)', async () => {
	ctx = {dir: tmpdir('hx-viewer-tr-')};
	const traces = path.join(ctx.dir, 'traces');
	run(path.join(buildDir(), 'examples/shop/shop'), ['--requests', String(REQUESTS), '--workers', '2', '--timeout', '60', traces]);
	ctx.hx = await startHxView(traces, ['--no-open']);
	const ans = await (await fetch(ctx.hx.url + 'api/traces?limit=100')).json();
	assert.equal(ans.traces.length, REQUESTS, 'one trace per order');
	ctx.first = ans.traces[0].trace_id;
	ctx.browser = await openBrowser();
	ctx.page = ctx.browser.page;
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
