// lib.mjs - what every browser test shares: Debian's chromium driven by playwright-core (a fresh
// profile, no network beyond loopback), the real `hx view` or the mock server as the page's
// origin, waiting on the viewer's data layer (window.hxViewer), canvas pixel probes, page-error
// and CSP-violation capture, screenshots, and a minimal test runner (one file = one process =
// one pass or fail; each check prints ok/not ok).

import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');
export const CHROMIUM = process.env.HX_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.HX_VIEWER_ARTIFACTS || path.join(ROOT, 'build-testlogs', 'viewer');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
	'--disable-background-networking', '--disable-component-update', '--disable-sync',
	'--disable-dev-shm-usage', '--disable-extensions'];

// The build directory and the hx binary: $HX and $HX_BUILD_DIR (as tests/run.sh sets them), else
// build/ in the source tree.
export function buildDir() {
	if (process.env.HX_BUILD_DIR) return process.env.HX_BUILD_DIR;
	if (process.env.HX) return path.resolve(path.dirname(process.env.HX), '../..');
	return path.join(ROOT, 'build');
}

export function hxPath() {
	return process.env.HX || path.join(buildDir(), 'src/cli/hx');
}

export function tmpdir(prefix) {
	return fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), prefix));
}

let playwright = null;
async function loadPlaywright() {
	if (!playwright) {
		try {
			playwright = await import('playwright-core');
		} catch (e) {
			throw new Error('playwright-core is not installed: run `npm ci` in tests/viewer (' + e.message + ')');
		}
	}
	return playwright;
}

// A browser with a fresh profile, and a page that records errors. Returns {ctx, page, errors, close}.
export async function openBrowser({width = 1400, height = 900} = {}) {
	if (!fs.existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM} (Debian package chromium; scripts/deps.sh installs it)`);
	const pw = await loadPlaywright();
	const profile = tmpdir('hx-viewer-profile-');
	const ctx = await pw.chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: {width, height},
		deviceScaleFactor: 1, timeout: 60000,
	});
	const page = ctx.pages()[0] || await ctx.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push('page error: ' + e.message));
	page.on('console', (m) => {
		const t = m.text();
		if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (400|404)/.test(t)) errors.push('console error: ' + t);
		if (/Content Security Policy|Refused to/.test(t)) errors.push('CSP: ' + t);
	});
	page.on('dialog', (d) => {
		errors.push('dialog opened: ' + d.type() + ' ' + d.message());
		d.dismiss().catch(() => {});
	});
	// Nothing leaves the machine: any request not to loopback fails the test.
	await ctx.route('**/*', (route) => {
		const u = new URL(route.request().url());
		if (u.protocol === 'data:' || u.hostname === '127.0.0.1' || u.hostname === 'localhost') return route.continue();
		errors.push('request outside loopback: ' + u.href);
		return route.abort();
	});
	return {
		ctx, page, errors,
		async close() {
			await ctx.close().catch(() => {});
			fs.rmSync(profile, {recursive: true, force: true});
		},
	};
}

// Start `hx view DIR`; resolves {url, proc, stop} once it printed its URL.
export function startHxView(dir, extra = []) {
	const hx = hxPath();
	if (!fs.existsSync(hx)) throw new Error('no hx binary at ' + hx);
	return new Promise((resolve, reject) => {
		const proc = spawn(hx, ['view', ...extra, dir], {stdio: ['ignore', 'pipe', 'pipe']});
		let out = '', err = '';
		const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('hx view printed no URL in 60 s: ' + out + err)); }, 60000);
		proc.stdout.on('data', (d) => {
			out += d;
			const m = /hx view: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
			if (m) {
				clearTimeout(timer);
				resolve({url: m[1], proc, output: () => out + err, stop: () => stopProc(proc)});
			}
		});
		proc.stderr.on('data', (d) => { err += d; });
		proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`hx view exited (${code}) before printing its URL: ${out}${err}`)); });
	});
}

// Stop hx view with SIGTERM; resolves its exit code (it exits 0 on SIGTERM: anything else, a
// sanitizer report for instance, is the test's failure) or the signal that killed it.
function stopProc(proc) {
	return new Promise((resolve) => {
		if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode ?? proc.signalCode);
		const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
		proc.on('exit', (code, sig) => { clearTimeout(t); resolve(code ?? sig); });
		proc.kill('SIGTERM');
	});
}

// Stop a started `hx view`; throws with its output unless it exited 0.
export async function stopHxView(hx) {
	const status = await hx.stop();
	if (status !== 0) throw new Error(`hx view exited with ${status}:\n${hx.output().slice(-4000)}`);
}

// Run a program of the build, checking its exit status.
export function run(cmd, args, opts = {}) {
	const r = spawnSync(cmd, args, {encoding: 'utf8', timeout: 120000, ...opts});
	if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stdout}${r.stderr}`);
	return r.stdout;
}

// Wait until the viewer says it has drawn what it fetched.
export async function waitReady(page, what = 'the viewer', timeout = 30000) {
	try {
		await page.waitForFunction(() => window.hxViewer && window.hxViewer.ready, null, {timeout, polling: 50});
		// Two more frames so the last state is on screen.
		await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
	} catch (e) {
		const st = await page.evaluate(() => document.body.innerText.slice(0, 1500)).catch(() => '');
		throw new Error(`${what} did not become ready in ${timeout} ms. Page text:\n${st}`);
	}
}

export async function viewer(page, key) {
	return page.evaluate((k) => JSON.parse(JSON.stringify(window.hxViewer[k])), key);
}

// The pixel [r, g, b, a] of the timeline canvas at CSS coordinates (x, y) relative to the canvas.
export async function pixel(page, x, y, id = 'tl-canvas') {
	return page.evaluate(([x, y, id]) => {
		const c = document.getElementById(id);
		const s = c.width / c.clientWidth;
		return Array.from(c.getContext('2d').getImageData(Math.round(x * s), Math.round(y * s), 1, 1).data);
	}, [x, y, id]);
}

// Is (r, g, b) the background (white or the light lane stripe)?
export function isBackground(px) {
	return px[0] >= 240 && px[1] >= 240 && px[2] >= 240;
}

export async function screenshot(page, name) {
	fs.mkdirSync(ARTIFACTS, {recursive: true});
	const f = path.join(ARTIFACTS, name + '.png');
	await page.screenshot({path: f});
	return f;
}

// Canvas coordinates -> page coordinates (for mouse actions).
export async function toPage(page, x, y) {
	const c = await viewer(page, 'canvas');
	return {x: c.x + x, y: c.y + y};
}

// ---- a minimal runner ----

const checks = [];
export function check(name, fn) {
	checks.push({name, fn});
}

// Run the checks in order (they share state); the first failure stops the file. Exit 0 if all
// pass. `setup` returns a context passed to each check; `teardown` always runs.
export async function main(title, setup, teardown) {
	const t0 = Date.now();
	let ctx = null, failed = 0, passed = 0;
	console.log(`# ${title}`);
	try {
		ctx = await setup();
		for (const c of checks) {
			const t = Date.now();
			try {
				await c.fn(ctx);
				passed++;
				console.log(`ok ${passed + failed} - ${c.name} (${Date.now() - t} ms)`);
			} catch (e) {
				failed++;
				console.log(`not ok ${passed + failed} - ${c.name}\n  ${String(e.stack || e).split('\n').join('\n  ')}`);
				if (ctx && ctx.page) {
					await screenshot(ctx.page, 'FAILED-' + path.basename(process.argv[1], '.test.mjs')).catch(() => {});
				}
				break;
			}
			if (ctx && ctx.browser && ctx.browser.errors.length) {
				failed++;
				console.log(`not ok ${passed + failed} - no page errors after "${c.name}"\n  ${ctx.browser.errors.join('\n  ')}`);
				break;
			}
		}
	} catch (e) {
		failed++;
		console.log(`not ok - setup\n  ${String(e.stack || e).split('\n').join('\n  ')}`);
	} finally {
		if (teardown) {
			try {
				await teardown(ctx);
			} catch (e) {
				failed++;
				console.log(`not ok - teardown\n  ${String(e.message || e).split('\n').join('\n  ')}`);
			}
		}
	}
	const skipped = checks.length - passed - failed;
	console.log(`# ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} not run` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
	process.exit(failed || skipped > 0 ? 1 : 0);
}
