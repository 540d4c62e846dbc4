// mock.test.mjs - the viewer against mock-server.mjs, for what a real trace rarely shows on
// demand: an adjusted clock and the "original clocks" toggle, the critical path overlay, an
// answer capped at max_items (the page must say what it merged), error answers shown as the
// server's sentence, hostile names in every page the real-server tests do not reach, a request
// log that proves frames do not fetch, and the static-file rules (CSP header, no traversal).

import assert from 'node:assert/strict';
import {createMock} from './mock-server.mjs';
import {syntheticFixture, TRACE_A} from './fixture.mjs';
import {openBrowser, waitReady, viewer, pixel, isBackground, screenshot, check, main} from './lib.mjs';

const PAYLOAD = '<img src=x onerror="window.__pwned=1;alert(1)">';
let ctx;

async function open(fixture, hash) {
	if (ctx.mock) await ctx.mock.close();
	ctx.mock = createMock(fixture);
	ctx.url = await ctx.mock.listen();
	await ctx.page.goto(ctx.url + hash);
	await waitReady(ctx.page);
}

check('static files: CSP on the page, 404 for anything not embedded', async () => {
	const r = await fetch(ctx.url);
	assert.equal(r.status, 200);
	assert.match(r.headers.get('content-security-policy'), /script-src 'self'/);
	for (const p of ['assets/../mock-server.mjs', 'assets/%2e%2e/package.json', 'assets/meson.build', 'assets/nope.js']) {
		const x = await fetch(ctx.url + p);
		assert.equal(x.status, 404, p);
	}
	const html = await (await fetch(ctx.url)).text();
	assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
	assert.doesNotMatch(html, /\sstyle=|<style/, 'no inline style');
});

check('timeline draws lanes, blocks, points and arrows from the mock', async () => {
	await open(syntheticFixture(), '#/trace/' + TRACE_A);
	const lanes = (await viewer(ctx.page, 'lanes')).filter((l) => l.lane !== undefined);
	assert.deepEqual(lanes.map((l) => l.name), ['main', 'worker-1', 'payments', 'conn-1']);
	assert.equal(lanes[3].adjusted, true);
	const blocks = await viewer(ctx.page, 'blocks');
	assert.equal(blocks.length, 8);
	for (const b of blocks) {
		const px = await pixel(ctx.page, b.x + Math.min(b.w / 2, 3), b.y + b.h / 2);
		assert.ok(!isBackground(px), `block ${b.name} is drawn at ${b.x},${b.y}: ${px}`);
	}
	assert.equal((await viewer(ctx.page, 'arrows')).length, 5);
	const s = await viewer(ctx.page, 'summary');
	assert.match(s.text, /8 blocks/);
	assert.match(s.text, /5 arrows/);
	// The screen-reader list names what is drawn.
	const list = await ctx.page.locator('#tl-drawn li').allTextContents();
	assert.ok(list.some((t) => t.startsWith('Block db.query in main')), list.join('\n'));
});

check('frames draw from memory: panning within the fetched window fetches nothing', async () => {
	const before = ctx.mock.log.length;
	await ctx.page.focus('#tl-canvas');
	const f0 = await viewer(ctx.page, 'frames');
	for (let i = 0; i < 5; i++) await ctx.page.keyboard.press('ArrowRight');
	await waitReady(ctx.page);
	assert.ok((await viewer(ctx.page, 'frames')) > f0);
	const lods = ctx.mock.log.slice(before).filter((u) => u.includes('/lod'));
	assert.ok(lods.length <= 1, 'at most one /lod for five small pans: ' + lods.join(' '));
	await ctx.page.keyboard.press('Home');
	await waitReady(ctx.page);
});

check('critical path toggle highlights the path and states it', async () => {
	await ctx.page.click('#tl-cp');
	await waitReady(ctx.page);
	assert.equal(await ctx.page.getAttribute('#tl-cp', 'aria-pressed'), 'true');
	assert.match(await ctx.page.textContent('#tl-cp-note'), /Critical path .*40\.00 ms in 9 segments/);
	const cp = await viewer(ctx.page, 'criticalPath');
	assert.equal(cp.segments, 9);
	// The running segment on conn-1 (3..8 ms) is an orange bar just above its blocks.
	const lane = (await viewer(ctx.page, 'lanes')).find((l) => l.name === 'conn-1');
	const vis = await viewer(ctx.page, 'visible');
	const c = await viewer(ctx.page, 'canvas');
	const x = c.gutter + ((5.5e6 - vis.from_rel_ns) / vis.span_ns) * (c.width - c.gutter);
	const px = await pixel(ctx.page, x, lane.blocks_y - 2);
	assert.ok(px[0] > 200 && px[1] > 80 && px[1] < 170 && px[2] < 80, 'orange at the critical path: ' + px);
	assert.match(ctx.page.url(), /cp=1/);
	await ctx.page.click('#tl-cp');
	await waitReady(ctx.page);
});

check('adjusted clock: marked, and "Original clocks" moves its lane by the offset', async () => {
	assert.match(await ctx.page.textContent('.clock-note'), /adjusted the timestamps of 1 process \(by up to 2\.500 ms\)/);
	const sel = (bs) => bs.find((b) => b.name === 'SELECT');
	const a = sel(await viewer(ctx.page, 'blocks'));
	await ctx.page.click('#tl-orig');
	await waitReady(ctx.page);
	const b = sel(await viewer(ctx.page, 'blocks'));
	const vis = await viewer(ctx.page, 'visible');
	const c = await viewer(ctx.page, 'canvas');
	const shift = (2.5e6 / vis.span_ns) * (c.width - c.gutter);
	assert.ok(Math.abs(a.x - b.x - shift) < 1.5, `moved ${a.x - b.x} px, expected ${shift}`);
	assert.match(await viewer(ctx.page, 'summary').then((s) => s.text), /original \(unadjusted\) clocks/);
	// Its details say so too.
	await ctx.page.mouse.click(c.x + b.x + b.w / 2, c.y + b.y + b.h / 2);
	await waitReady(ctx.page);
	assert.match(await ctx.page.textContent('#tl-details'), /adjusted by clock alignment; recorded at 2026-11-24T10:20:00\.123956789Z \(\+500\.0 µs, 2\.500 ms earlier/);
	await ctx.page.click('#tl-orig');
	await waitReady(ctx.page);
});

check('a capped answer is stated, never silently cut', async () => {
	await open(syntheticFixture({tiny: 3000, maxItems: 40}), '#/trace/' + TRACE_A);
	const s = await viewer(ctx.page, 'summary');
	assert.ok(s.lod.capped && s.lod.blocks_merged > 0, JSON.stringify(s.lod));
	assert.match(s.text, /merged into \d+ grey runs/);
	assert.match(s.text, /reached its item limit/);
	const runs = await viewer(ctx.page, 'runs');
	assert.ok(runs.length > 0);
	const r = runs[0];
	const c = await viewer(ctx.page, 'canvas');
	await ctx.page.mouse.click(c.x + r.x + Math.max(0.5, r.w / 2), c.y + r.y + r.h / 2);
	await waitReady(ctx.page);
	assert.match(await ctx.page.textContent('#tl-details'), /merged blocks/);
	await screenshot(ctx.page, 'mock-capped');
});

check('error answers are shown as the server says them', async () => {
	await open(syntheticFixture({aggError: 'no features extracted yet', depsError: 'dependencies need hx serve'}), '#/aggregate?name=GET%20%2Fcart');
	assert.match(await ctx.page.textContent('#page-aggregate .error'), /400 .*no features extracted yet/);
	await ctx.page.goto(ctx.url + '#/dependencies');
	await waitReady(ctx.page);
	assert.match(await ctx.page.textContent('#page-dependencies .error'), /404 .*dependencies need hx serve/);
	await ctx.page.goto(ctx.url + '#/trace/' + 'f'.repeat(32));
	await ctx.page.waitForSelector('#page-trace .error:not([hidden])');
	assert.match(await ctx.page.textContent('#page-trace .error'), /No such trace: 404/);
});

check('hostile names on every page stay text', async () => {
	const names = (kind, i, d) => `${PAYLOAD}${kind}${i}</script><b>${d}`;
	await open(syntheticFixture({names}), '#/traces');
	await ctx.page.waitForSelector('#page-traces tbody tr');
	assert.match(await ctx.page.textContent('#page-traces tbody'), /<img src=x onerror=/);
	await ctx.page.goto(ctx.url + '#/aggregate');
	await waitReady(ctx.page);
	assert.match(await ctx.page.textContent('#page-aggregate h2'), /service = <img src=x/);
	await ctx.page.goto(ctx.url + '#/dependencies');
	await waitReady(ctx.page);
	assert.match(await ctx.page.textContent('#page-dependencies tbody'), /<img src=x onerror=.*service0<\/script><b>shop/);
	await ctx.page.goto(ctx.url + '#/trace/' + TRACE_A);
	await waitReady(ctx.page);
	const b = (await viewer(ctx.page, 'blocks')).find((x) => x.name.includes('block2'));
	const c = await viewer(ctx.page, 'canvas');
	await ctx.page.mouse.click(c.x + b.x + b.w / 2, c.y + b.y + b.h / 2);
	await waitReady(ctx.page);
	assert.match(await ctx.page.textContent('#tl-details h2'), /^<img src=x onerror=.*block2<\/script><b>db\.query$/);
	assert.equal(await ctx.page.locator('#tl-details img, #tl-details b, #page-traces img, #page-dependencies b').count(), 0);
	assert.equal(await ctx.page.evaluate(() => window.__pwned), undefined);
	await screenshot(ctx.page, 'mock-hostile');
});

main('viewer against the mock server', async () => {
	ctx = {browser: await openBrowser()};
	ctx.page = ctx.browser.page;
	ctx.mock = createMock(syntheticFixture());
	ctx.url = await ctx.mock.listen();
	return ctx;
}, async () => {
	if (ctx && ctx.browser) await ctx.browser.close();
	if (ctx && ctx.mock) await ctx.mock.close();
});
