// run.mjs - run every browser test of the viewer by hand (tests/run.sh runs the same files, one
// pass or fail each):
//
//     node tests/viewer/run.mjs [FILE.test.mjs...]        HX, HX_BUILD_DIR: default build/
//
// Installs playwright-core from the lockfile (npm ci) when node_modules is missing, runs each
// *.test.mjs in its own node process, and ends with "N passed, M failed". Screenshots go to
// build-testlogs/viewer/ (or $HX_VIEWER_ARTIFACTS).
//
// The files:
//   timeline.test.mjs   the timeline on examples/pipeline through the real hx view
//   traces.test.mjs     traces list and scatter, aggregate and dependency pages, keyboard, on examples/shop
//   xss.test.mjs        hostile names (xss-payloads.json, recorded by make_xss_trace.py)
//   mock.test.mjs       edge cases against mock-server.mjs (capped answers, errors, clocks, critical path)

import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
if (!fs.existsSync(path.join(here, 'node_modules', 'playwright-core'))) {
	const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {cwd: here, stdio: 'inherit'});
	if (r.status !== 0) {
		console.error('npm ci failed in ' + here);
		process.exit(1);
	}
}
const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => path.resolve(f))
	: fs.readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => path.join(here, f));
let passed = 0, failed = 0;
for (const f of files) {
	const t0 = Date.now();
	const r = spawnSync(process.execPath, [f], {stdio: 'inherit', timeout: 600000});
	const ok = r.status === 0;
	console.log(`${ok ? 'PASS' : 'FAIL'}  ${path.basename(f)} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
	if (ok) passed++;
	else failed++;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
