// viewer-bench.mjs - how the viewer holds up on a large trace, in headless Debian chromium:
//
//   first paint   ms from the navigation to the first timeline frame with blocks drawn (the
//                 page's performance mark "hx-first-paint")
//   frame p95     the 95th percentile of the time the page spends drawing a frame (measured in the
//                 page around each requestAnimationFrame draw), over ~200 scripted pans and zooms
//                 with the wheel, drags and W/A/S/D, while level-of-detail answers arrive
//   memory        the page's JS heap (CDP Performance.getMetrics JSHeapUsedSize) after all that
//
//     node bench/viewer-bench.mjs --hx BUILD/src/cli/hx --traces DIR [--ops 200]
//
// Starts `hx view --no-open DIR`, opens its largest trace, and prints
//     RESULT first_paint_ms=<x> frame_p95_ms=<x> events=<x>
//     MEMORY js_heap_used_mb=<x> js_heap_total_mb=<x>
// plus the time `hx view` took to load the trace. bench/run-viewer.sh makes the trace and runs this.

import {createRequire} from 'node:module';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/viewer/package.json'));
const {chromium} = require('playwright-core');

const args = process.argv.slice(2);
const opt = (k, d) => {
	const i = args.indexOf(k);
	return i >= 0 && i + 1 < args.length ? args[i + 1] : d;
};
const hx = opt('--hx', path.join(here, '../build/src/cli/hx'));
const traces = opt('--traces', null);
const ops = Number(opt('--ops', '200'));
const chromiumPath = process.env.HX_CHROMIUM || '/usr/bin/chromium';
if (!traces && !opt('--url', null)) {
	console.error('usage: node bench/viewer-bench.mjs --hx HX --traces DIR [--ops N] | --url URL');
	process.exit(2);
}

function startHxView() {
	return new Promise((resolve, reject) => {
		const t0 = Date.now();
		const proc = spawn(hx, ['view', '--no-open', traces], {stdio: ['ignore', 'pipe', 'inherit']});
		let out = '';
		proc.stdout.on('data', (d) => {
			out += d;
			const m = /hx view: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
			if (m) resolve({url: m[1], proc, loadMs: Date.now() - t0});
		});
		proc.on('exit', (c) => reject(new Error(`hx view exited (${c}) before printing its URL: ${out}`)));
	});
}

const pct = (a, p) => {
	const s = a.slice().sort((x, y) => x - y);
	return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};

// --url: a viewer already running (hx view or hx serve), instead of starting hx view on --traces.
const given = opt('--url', null);
const view = given ? {url: given.endsWith('/') ? given : given + '/', proc: null, loadMs: 0} : await startHxView();
if (view.proc) console.log(`hx view: loaded ${traces} in ${view.loadMs} ms`);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hx-viewer-bench-'));
let ctx = null;
try {
	const list = await (await fetch(view.url + 'api/traces?limit=1000')).json();
	const trace = list.traces.slice().sort((a, b) => b.events - a.events)[0];
	ctx = await chromium.launchPersistentContext(profile, {
		executablePath: chromiumPath, headless: true, viewport: {width: 1600, height: 1000}, deviceScaleFactor: 1,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
			'--enable-precise-memory-info'],
	});
	const page = ctx.pages()[0] || await ctx.newPage();
	page.on('pageerror', (e) => console.error('page error: ' + e.message));
	await page.goto(view.url + '#/trace/' + trace.trace_id);
	await page.waitForFunction(() => performance.getEntriesByName('hx-first-paint').length > 0, null, {timeout: 300000, polling: 20});
	const firstPaint = await page.evaluate(() => performance.getEntriesByName('hx-first-paint')[0].startTime);
	await page.waitForFunction(() => window.hxViewer.ready, null, {timeout: 300000, polling: 50});
	const events = await page.evaluate(async (id) => (await (await fetch('api/traces/' + id + '/view')).json()).events, trace.trace_id);

	// Scripted use: zoom in deep with the wheel at different places, pan by dragging and with
	// A/D, zoom back out with S and the wheel; a frame is awaited after each step.
	await page.evaluate(() => window.hxViewer.resetFrameStats());
	const c = await page.evaluate(() => window.hxViewer.canvas);
	const cx = (f) => c.x + c.gutter + (c.width - c.gutter) * f;
	const cy = c.y + Math.min(c.height - 20, 300);
	const frame = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
	await page.focus('#tl-canvas');
	for (let i = 0; i < ops; i++) {
		const phase = Math.floor(i / 25) % 4;
		if (phase === 0) {
			await page.mouse.move(cx(0.2 + 0.6 * ((i * 7) % 10) / 10), cy);
			await page.mouse.wheel(0, -240);
		} else if (phase === 1) {
			await page.mouse.move(cx(0.6), cy);
			await page.mouse.down();
			await page.mouse.move(cx(0.45), cy + 10, {steps: 3});
			await page.mouse.up();
		} else if (phase === 2) {
			await page.keyboard.press(i % 2 ? 'd' : 'a');
			if (i % 5 === 0) await page.keyboard.press('w');
		} else {
			await page.mouse.move(cx(0.5), cy);
			await page.mouse.wheel(0, 300);
		}
		await frame();
	}
	await page.waitForFunction(() => window.hxViewer.ready, null, {timeout: 120000, polling: 50});
	const stats = await page.evaluate(() => window.hxViewer.frameStats());
	// Continuous motion (keys held, as a user flies around): the intervals between animation
	// frames say whether the page keeps up with the display.
	const raf = [];
	for (const key of ['w', 'd', 's', 'a']) {
		await page.evaluate(() => {
			window.__hxRaf = [];
			let last = performance.now();
			const tick = (t) => {
				window.__hxRaf.push(t - last);
				last = t;
				if (window.__hxRaf.length < 1000) window.__hxRafId = requestAnimationFrame(tick);
			};
			window.__hxRafId = requestAnimationFrame(tick);
		});
		await page.keyboard.down(key);
		await page.waitForTimeout(1000);
		await page.keyboard.up(key);
		raf.push(...await page.evaluate(() => { cancelAnimationFrame(window.__hxRafId); return window.__hxRaf.slice(1); }));
	}
	const cdp = await ctx.newCDPSession(page);
	await cdp.send('Performance.enable');
	const m = Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((x) => [x.name, x.value]));
	const mb = (v) => (v / (1 << 20)).toFixed(1);
	// Where the first paint's time went: the page itself (browser and server), the overview, the
	// whole-trace /lod, then parsing and drawing.
	const timing = await page.evaluate(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		const api = performance.getEntriesByType('resource').filter((r) => /\/(view|lod)\?|\/view$/.test(r.name)).slice(0, 2);
		const mark = (n) => Math.round((performance.getEntriesByName(n)[0] || {startTime: NaN}).startTime);
		return `page loaded ${Math.round(nav.domContentLoadedEventEnd)} ms; overview read ${mark('hx-overview')} ms; ` +
			`whole-trace answer read ${mark('hx-whole-lod')} ms; ` +
			api.map((r) => `${/lod/.test(r.name) ? '/lod (whole trace)' : '/view'} ${Math.round(r.startTime)}..${Math.round(r.responseEnd)} ms`).join('; ');
	});
	console.log(`first paint: ${timing}; painted ${Math.round(firstPaint)} ms`);
	console.log(`frames: ${stats.count} drawn, p50 ${stats.p50.toFixed(2)} ms, p95 ${stats.p95.toFixed(2)} ms, max ${stats.max.toFixed(2)} ms`);
	console.log(`animation frames while keys are held: ${raf.length}, interval p50 ${pct(raf, 0.5).toFixed(1)} ms, p95 ${pct(raf, 0.95).toFixed(1)} ms`);
	console.log(`RESULT first_paint_ms=${Math.round(firstPaint)} frame_p95_ms=${stats.p95.toFixed(2)} events=${events}`);
	console.log(`MEMORY js_heap_used_mb=${mb(m.JSHeapUsedSize)} js_heap_total_mb=${mb(m.JSHeapTotalSize)}`);
} finally {
	if (ctx) await ctx.close().catch(() => {});
	fs.rmSync(profile, {recursive: true, force: true});
	if (view.proc) view.proc.kill('SIGTERM');
}
