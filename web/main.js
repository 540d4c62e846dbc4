// main.js - the viewer's entry point: the router (the URL's hash names the page and holds its
// state, so a link reproduces a view), the page objects, and window.hxViewer, the accessible data
// layer that says in plain values what each page has drawn (for tests and assistive tools).
//
// Routes:
//   #/traces?FILTERS               search traces (the /api/traces parameters)
//   #/trace/ID?from=&to=&sel=&...  one trace's timeline (timeline.js lists the parameters)
//   #/aggregate?name=&...          latency of one name across traces
//   #/dependencies?by=&from=&to=   the service graph

import {TracesPage} from './traces.js';
import {TimelinePage} from './timeline.js';
import {AggregatePage} from './aggregate.js';
import {DepsPage} from './deps.js';

const pages = {
	traces: new TracesPage(document.getElementById('page-traces')),
	trace: new TimelinePage(document.getElementById('page-trace')),
	aggregate: new AggregatePage(document.getElementById('page-aggregate')),
	dependencies: new DepsPage(document.getElementById('page-dependencies')),
};
let current = null;

// The route in the hash: {page, id, params}.
export function parseRoute(hash) {
	const h = (hash || '').replace(/^#\/?/, '');
	const q = h.indexOf('?');
	const path = q < 0 ? h : h.slice(0, q);
	const params = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
	const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
	if (parts[0] === 'trace' && parts[1]) return {page: 'trace', id: parts[1], params};
	if (parts[0] === 'aggregate') return {page: 'aggregate', params};
	if (parts[0] === 'dependencies') return {page: 'dependencies', params};
	return {page: 'traces', params, initial: h === ''};
}

function route() {
	const r = parseRoute(location.hash);
	if (current && current !== pages[r.page]) current.hide();
	for (const [name, p] of Object.entries(pages)) p.root.hidden = name !== r.page;
	current = pages[r.page];
	for (const name of ['traces', 'aggregate', 'deps']) {
		const a = document.getElementById('nav-' + name);
		const active = (name === 'deps' ? 'dependencies' : name) === r.page;
		if (active) a.setAttribute('aria-current', 'page');
		else a.removeAttribute('aria-current');
	}
	const navTrace = document.getElementById('nav-trace');
	if (pages.trace.traceId) {
		navTrace.hidden = false;
		navTrace.href = pages.trace.link();
		if (r.page === 'trace') navTrace.setAttribute('aria-current', 'page');
		else navTrace.removeAttribute('aria-current');
	}
	current.show(r);
}

window.addEventListener('hashchange', route);

// The data layer. Coordinates are CSS pixels relative to the top-left corner of the canvas the
// item is drawn on (`canvas` gives that canvas's rectangle in the page).
window.hxViewer = {
	get page() {
		return current ? Object.keys(pages).find((k) => pages[k] === current) : null;
	},
	// true once the current page has drawn what it last fetched (and no fetch is in flight)
	get ready() {
		return current ? current.ready() : false;
	},
	get trace() { return pages.trace.traceId; },
	get canvas() { return current && current.canvasRect ? current.canvasRect() : null; },
	get visible() { return pages.trace.describeVisible(); },
	get selection() { return pages.trace.describeSelection(); },
	get range() { return pages.trace.describeRange(); },
	get lanes() { return pages.trace.describeLanes(); },
	get blocks() { return pages.trace.describeDrawn('blocks'); },
	get runs() { return pages.trace.describeDrawn('runs'); },
	get points() { return pages.trace.describeDrawn('points'); },
	get arrows() { return pages.trace.describeDrawn('arrows'); },
	get summary() { return pages.trace.describeSummary(); },
	get search() { return pages.trace.describeSearch(); },
	get criticalPath() { return pages.trace.describeCritical(); },
	get dots() { return pages.traces.describeDots(); },
	get frames() { return pages.trace.frameCount(); },
	// Draw times of the timeline's frames (ms), since the last reset: {count, p50, p95, max}.
	frameStats() { return pages.trace.frameStats(); },
	resetFrameStats() { pages.trace.resetFrameStats(); },
};

route();
