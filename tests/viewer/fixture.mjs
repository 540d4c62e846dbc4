// fixture.mjs - fixtures for mock-server.mjs: a small synthetic trace at the level of the
// viewer's model (two hosts, three processes, nested blocks, points, waits, a counter, arrows,
// one process with an adjusted clock, a critical path), with options for the edge cases the
// front-end tests want: hostile names everywhere, many tiny blocks (merged runs and a capped
// answer), and error answers for the aggregate and dependency endpoints.

export const TRACE_A = '0192ab3c4d5e6f708192a3b4c5d6e7f8';
export const TRACE_B = '0192ab3c4d5e6f708192a3b4c5d6e700';
export const START_A = '1795515600123456789';

const US = 1000, MS = 1000000;

// opts: {names: fn(kind, i) -> string, tiny: N tiny blocks in one lane, maxItems, aggError, depsError}
export function syntheticFixture(opts = {}) {
	const nm = opts.names || ((kind, i, dflt) => dflt);
	const main = {entity: '3f2a0b1c4d5e6f70', name: nm('entity', 0, 'main'), kind: 'thread', blocks: [], points: [], waits: [], counters: []};
	const worker = {entity: '3f2a0b1c4d5e6f71', name: nm('entity', 1, 'worker-1'), kind: 'thread', blocks: [], points: [], waits: []};
	const conn = {entity: '7a7a0b1c4d5e6f72', name: nm('entity', 2, 'conn-1'), kind: 'coroutine', blocks: [], points: [], waits: []};
	const pay = {entity: '9b9b0b1c4d5e6f73', name: nm('entity', 3, 'payments'), kind: 'thread', blocks: [], points: []};

	main.blocks.push({name: nm('block', 0, 'GET /cart'), start: 0, end: 40 * MS, depth: 0,
		attrs: {[nm('key', 0, 'http.method')]: nm('value', 0, 'GET'), 'http.status_code': 200}});
	main.blocks.push({name: nm('block', 1, 'load cart'), start: 1 * MS, end: 12 * MS, depth: 1, attrs: {'user.id': 'ada'}});
	main.blocks.push({name: nm('block', 2, 'db.query'), start: 2 * MS, end: 9 * MS, depth: 2,
		attrs: {'db.statement': 'SELECT * FROM cart WHERE id = 7'}});
	main.blocks.push({name: nm('block', 3, 'render'), start: 30 * MS, end: 38 * MS, depth: 1, attrs: {}});
	main.points.push({name: nm('point', 0, 'cache miss'), time: 1.5 * MS, attrs: {key: 'cart:7'}});
	main.points.push({name: nm('point', 1, 'retry'), time: 25 * MS, error: true, kind: 'error', attrs: {attempt: 2}});
	main.waits.push({start: 13 * MS, end: 28 * MS, reason: 'lock'});
	main.counters.push({name: nm('counter', 0, 'queue.depth'), samples: [[0, 0], [5 * MS, 3], [10 * MS, 7], [20 * MS, 2], [35 * MS, 0]]});

	worker.blocks.push({name: nm('block', 4, 'price items'), start: 14 * MS, end: 26 * MS, depth: 0, attrs: {items: 3}});
	worker.blocks.push({name: nm('block', 5, 'tax'), start: 15 * MS, end: 18 * MS, depth: 1, attrs: {}});
	conn.blocks.push({name: nm('block', 6, 'SELECT'), start: 3 * MS, end: 8 * MS, depth: 0, attrs: {rows: 3}});
	pay.blocks.push({name: nm('block', 7, 'charge card'), start: 16 * MS, end: 24 * MS, depth: 0,
		attrs: {[nm('key', 1, 'provider')]: nm('value', 1, 'acme')}});

	const tiny = opts.tiny || 0;
	for (let i = 0; i < tiny; i++) {
		const t = 26 * MS + i * ((3 * MS) / Math.max(1, tiny));
		worker.blocks.push({name: 'tiny ' + (i % 7), start: t, end: t + 200, depth: 1, attrs: {i}});
	}

	const traceA = {
		trace_id: TRACE_A, root_name: nm('root', 0, 'GET /cart'), start_ns: START_A,
		hosts: [
			{host: nm('host', 0, 'web-1'), processes: [
				{pid: 4242, service: nm('service', 0, 'shop'), program: 'gateway', lanes: [main, worker]},
				{pid: 4300, service: nm('service', 1, 'payments'), program: 'payd', lanes: [pay]},
			]},
			{host: nm('host', 1, 'db-1'), processes: [
				{pid: 77, service: nm('service', 2, 'db'), program: 'dbd', clock_offset_ns: 2500 * US, lanes: [conn]},
			]},
		],
		// lanes: 0 main, 1 worker-1, 2 payments, 3 conn-1
		arrows: [
			{kind: 'request', cause: {lane: 0, time: 2.5 * MS, name: nm('arrow', 0, 'query')}, effect: {lane: 3, time: 3 * MS, name: 'query received'}},
			{kind: 'reply', cause: {lane: 3, time: 8 * MS, name: 'rows'}, effect: {lane: 0, time: 8.5 * MS, name: 'rows received'}, resumes: true},
			{kind: 'send', cause: {lane: 0, time: 13.5 * MS, name: 'price'}, effect: {lane: 1, time: 14 * MS, name: 'price received'}},
			{kind: 'request', cause: {lane: 1, time: 15.5 * MS, name: 'charge'}, effect: {lane: 2, time: 16 * MS, name: 'charge received'}},
			{kind: 'reply', cause: {lane: 1, time: 26.5 * MS, name: 'priced'}, effect: {lane: 0, time: 28 * MS, name: 'priced received'}, resumes: true},
		],
		critical_path: {
			segments: [
				{kind: 'running', lane: 0, start: 0, end: 2.5 * MS},
				{kind: 'transfer', lane: 3, from_lane: 0, start: 2.5 * MS, end: 3 * MS},
				{kind: 'running', lane: 3, start: 3 * MS, end: 8 * MS},
				{kind: 'transfer', lane: 0, from_lane: 3, start: 8 * MS, end: 8.5 * MS},
				{kind: 'running', lane: 0, start: 8.5 * MS, end: 13.5 * MS},
				{kind: 'transfer', lane: 1, from_lane: 0, start: 13.5 * MS, end: 14 * MS},
				{kind: 'running', lane: 1, start: 14 * MS, end: 26.5 * MS},
				{kind: 'transfer', lane: 0, from_lane: 1, start: 26.5 * MS, end: 28 * MS},
				{kind: 'running', lane: 0, start: 28 * MS, end: 40 * MS},
			],
			path: [0, 1, 2],
		},
	};
	const traceB = {
		trace_id: TRACE_B, root_name: nm('root', 1, 'POST /order'), start_ns: '1795515601123456789',
		hosts: [{host: nm('host', 0, 'web-1'), processes: [{pid: 4242, service: nm('service', 0, 'shop'), program: 'gateway', lanes: [
			{entity: '3f2a0b1c4d5e6f70', name: 'main', kind: 'thread', blocks: [{name: 'POST /order', start: 0, end: 90 * MS, depth: 0}],
				points: [{name: 'declined', time: 50 * MS, error: true, kind: 'error'}]}]}]}],
	};
	const f = {traces: [traceA, traceB], max_items: opts.maxItems};
	f.aggregates = opts.aggError ? {error: opts.aggError, status: 400} : {
		traces: 2, groups: [{key: {service: nm('service', 0, 'shop')}, count: 2, p50_ns: 40 * MS, p90_ns: 90 * MS, p99_ns: 90 * MS,
			max_ns: 90 * MS, mean_ns: 65 * MS, histogram: [[0, 0], [20 * MS, 1], [40 * MS, 0], [60 * MS, 0], [80 * MS, 1]]}]};
	f.dependencies = opts.depsError ? {error: opts.depsError, status: 404} : {
		nodes: [{name: nm('service', 0, 'shop'), calls_in: 0, calls_out: 2}, {name: nm('service', 1, 'payments'), calls_in: 1, calls_out: 0},
			{name: nm('service', 2, 'db'), calls_in: 1, calls_out: 0}],
		edges: [{from: nm('service', 0, 'shop'), to: nm('service', 2, 'db'), kind: 'request', calls: 1, p50_ns: 5 * MS, p99_ns: 5 * MS, max_ns: 5 * MS},
			{from: nm('service', 0, 'shop'), to: nm('service', 1, 'payments'), kind: 'request', calls: 1, p50_ns: 8 * MS, p99_ns: 8 * MS, max_ns: 8 * MS}]};
	return f;
}
