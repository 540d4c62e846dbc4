// xss.test.mjs - hostile names against the real `hx view`: a trace recorded by the Python binding
// (make_xss_trace.py) whose trace, service, thread, block and point names, attribute keys and
// values, counter and error are the payloads of xss-payloads.json. On every page that shows them,
// no payload runs (window.__pwned stays unset, no dialog, no request leaves loopback, no element
// appears that the viewer did not make) and each shows as exactly its own characters.

import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {openBrowser, startHxView, stopHxView, buildDir, run, tmpdir, waitReady, viewer, screenshot, check, main} from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PAYLOADS = JSON.parse(fs.readFileSync(path.join(here, 'xss-payloads.json'), 'utf8'));
let ctx;

// The binding loads the build's libharuspex.so; a sanitized one needs its runtimes preloaded into
// python (as tests/integration/python.sh does), and leak checks off for the interpreter.
function pythonEnv() {
	const env = {...process.env, HX_BUILD_DIR: buildDir()};
	const lib = path.join(buildDir(), 'src/lib/libharuspex.so');
	const ldd = spawnSync('ldd', [lib], {encoding: 'utf8'});
	const runtimes = (ldd.stdout || '').split('\n').map((l) => l.trim().split(/\s+/))
		.filter((f) => /^(libasan|libubsan|libclang_rt\.(asan|ubsan))/.test(f[0]) && f[2]).map((f) => f[2]);
	if (runtimes.length) {
		env.LD_PRELOAD = runtimes.join(' ') + (env.LD_PRELOAD ? ' ' + env.LD_PRELOAD : '');
		env.ASAN_OPTIONS = (env.ASAN_OPTIONS ? env.ASAN_OPTIONS + ':' : '') + 'detect_leaks=0';
	}
	return env;
}

// Elements a payload would create if it were parsed as markup; the viewer makes none of these.
const FOREIGN = 'img, iframe, svg, math, object, embed, style, b, i, marquee, textarea, title:not(head title), a[href^="javascript"], script:not([src])';

async function clean(page) {
	assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no payload ran');
	assert.equal(await page.evaluate(() => window.parent.__pwned), undefined);
	assert.deepEqual(await page.evaluate((sel) => [...document.querySelectorAll(sel)].map((e) => e.outerHTML.slice(0, 60)), FOREIGN), []);
	assert.deepEqual(ctx.browser.errors, []);
}

check('opening the only trace shows it; its name is text', async () => {
	await ctx.page.goto(ctx.hx.url);
	await ctx.page.waitForFunction(() => location.hash.startsWith('#/trace/'), null, {timeout: 30000});
	await waitReady(ctx.page, 'the timeline', 60000);
	assert.equal(await ctx.page.textContent('#page-trace h1'), PAYLOADS[2]);
	await clean(ctx.page);
});

check('every block name is drawn and detailed as its own characters', async () => {
	const blocks = await viewer(ctx.page, 'blocks');
	const names = new Set(blocks.map((b) => b.name));
	for (const p of PAYLOADS) assert.ok(names.has(p), 'block named ' + JSON.stringify(p) + ' is drawn');
	const c = await viewer(ctx.page, 'canvas');
	for (const p of [0, 1, 2, 3, 6, 10, 12, 17].map((i) => PAYLOADS[i])) {
		const b = blocks.find((x) => x.name === p && x.w >= 1);
		await ctx.page.mouse.click(c.x + b.x + b.w / 2, c.y + b.y + b.h / 2);
		await waitReady(ctx.page);
		assert.equal((await viewer(ctx.page, 'selection')).id, b.id);
		assert.equal(await ctx.page.textContent('#tl-details h2'), p);
		// Its attributes: the payload as a key with itself as the value.
		const attrs = await ctx.page.$$eval('#tl-details table.attrs tr', (rows) => rows.map((r) => [r.cells[0] ? r.querySelector('th').textContent : '', r.querySelector('td').textContent]));
		assert.ok(attrs.some(([k, v]) => k === p && v === p), 'attribute ' + JSON.stringify(p) + ' = itself: ' + JSON.stringify(attrs));
		await clean(ctx.page);
	}
	await screenshot(ctx.page, 'xss-timeline');
});

check('lanes, service and the screen-reader list hold the text', async () => {
	const nav = await ctx.page.$$eval('#page-trace .lanes-nav button', (bs) => bs.map((b) => b.textContent));
	assert.ok(nav.some((t) => t.includes(PAYLOADS[0])), 'the service (a payload) names its process: ' + JSON.stringify(nav));
	const drawn = await ctx.page.$$eval('#tl-drawn li', (li) => li.map((x) => x.textContent));
	assert.ok(drawn.some((t) => t.startsWith(`Block ${PAYLOADS[1]} in `)), 'the list names the block literally');
	await clean(ctx.page);
});

check('search finds a payload by name and shows it as text', async () => {
	await ctx.page.fill('#tl-search', 'svg onload');
	await ctx.page.click('#tl-next');
	await waitReady(ctx.page);
	const sel = await viewer(ctx.page, 'selection');
	assert.equal(sel.name, PAYLOADS[2]);
	assert.match(await ctx.page.textContent('#tl-search-msg'), /"><svg onload=window.__pwned=3> at \+/);
	await clean(ctx.page);
});

check('the traces list shows the root and service names as text', async () => {
	await ctx.page.goto(ctx.hx.url + '#/traces?limit=5');
	await waitReady(ctx.page);
	const cells = await ctx.page.$$eval('#page-traces tbody td', (td) => td.map((x) => x.textContent));
	assert.ok(cells.includes(PAYLOADS[2]), 'root name cell');
	assert.ok(cells.some((t) => t.split(', ').includes(PAYLOADS[0])), 'service cell');
	await ctx.page.goto(ctx.hx.url + '#/traces?service=' + encodeURIComponent(PAYLOADS[0]));
	await waitReady(ctx.page);
	assert.equal(await ctx.page.inputValue('#f-service'), PAYLOADS[0]);
	assert.equal(await ctx.page.locator('#page-traces tbody tr').count(), 1, 'the search by that service finds the trace');
	await screenshot(ctx.page, 'xss-traces');
	await ctx.page.goto(ctx.hx.url + '#/dependencies');
	await waitReady(ctx.page);
	await ctx.page.goto(ctx.hx.url + '#/aggregate?name=' + encodeURIComponent(PAYLOADS[6]) + '&group_by=service');
	await waitReady(ctx.page);
	await clean(ctx.page);
});

main('hostile names against hx view (Python binding)', async () => {
	ctx = {dir: tmpdir('hx-viewer-xss-')};
	const traces = path.join(ctx.dir, 'traces');
	run('python3', [path.join(here, 'make_xss_trace.py'), path.join(here, 'xss-payloads.json'), traces],
		{env: pythonEnv()});
	ctx.hx = await startHxView(traces, ['--no-open']);
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
