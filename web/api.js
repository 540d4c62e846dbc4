// api.js - the viewer's only way to the server: GET requests to the same origin's JSON API
// (docs/http-api.md), with errors turned into ApiError carrying the server's own sentence, and
// absolute times read exactly.
//
// Why exact times: times are nanoseconds since the epoch (about 1.8e18), beyond the 2^53 a
// JavaScript Number holds exactly, so JSON.parse alone rounds them to 256 ns. Inside a trace the
// viewer works in ns relative to the trace's start (a Number, exact for 104 days): readTimes()
// converts each absolute time member from its source text (JSON.parse's reviver sees the source
// of each number) to that relative form, and absString() turns it back into a decimal string.

export class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

// GET path?params as text. Throws ApiError with the server's {"error": ...} sentence, or with a
// description of the network failure. `signal` aborts (AbortError propagates).
export async function getText(path, params, signal) {
	const url = withQuery(path, params);
	let res;
	try {
		res = await fetch(url, {signal, headers: {Accept: 'application/json'}, cache: 'no-store'});
	} catch (e) {
		if (e.name === 'AbortError') throw e;
		throw new ApiError(0, 'cannot reach the server: ' + e.message);
	}
	const text = await res.text();
	if (!res.ok) {
		let msg = '';
		try {
			const j = JSON.parse(text);
			if (j && typeof j.error === 'string') msg = j.error;
		} catch (_) {
			msg = text.slice(0, 300);
		}
		throw new ApiError(res.status, `${res.status} ${res.statusText}${msg ? ': ' + msg : ''}`);
	}
	return text;
}

export async function getJSON(path, params, signal) {
	const text = await getText(path, params, signal);
	try {
		return JSON.parse(text);
	} catch (e) {
		throw new ApiError(200, 'the server answered something that is not JSON: ' + e.message);
	}
}

// GET and read absolute times relative to `base` (BigInt ns).
export async function getTimed(path, params, base, signal) {
	const text = await getText(path, params, signal);
	return readTimes(text, base);
}

export function withQuery(path, params) {
	if (!params) return path;
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params)) {
		if (v === undefined || v === null || v === '') continue;
		q.append(k, String(v));
	}
	const s = q.toString();
	return s ? path + '?' + s : path;
}

// Parse JSON text, turning every absolute time into ns relative to base (BigInt): the members
// named in TIMES, and the first element of each counter sample [t, min, max].
//
// The digits are rewritten in the text before JSON.parse (a reviver that reads each number's
// source is exact too, but 60 times slower: a frame's worth of time for a large answer). The
// patterns cannot match inside a string: there every quote is escaped (preceded by a backslash,
// which the look-behind excludes), and a sample array holds only numbers.
const TIMES = /(?<!\\)"(start_ns|end_ns|time_ns|time_orig_ns|first_ns|last_ns|from_ns|to_ns)":\s*(\d+)/g;
const SAMPLES = /(?<!\\)"samples":\s*\[((?:\s*\[[^[\]"]*\]\s*,?)*)\s*\]/g;
const SAMPLE_T = /\[\s*(\d+)/g;

export function readTimes(text, base) {
	const bhi = Number(base / 1000000000n);
	const blo = Number(base % 1000000000n);
	const rel = (d) => String((Number(d.slice(0, -9) || '0') - bhi) * 1e9 + (Number(d.slice(-9)) - blo));
	const t = text.replace(TIMES, (m, k, d) => `"${k}":${rel(d)}`)
		.replace(SAMPLES, (m, inner) => '"samples":[' + inner.replace(SAMPLE_T, (x, d) => '[' + rel(d)) + ']');
	try {
		return JSON.parse(t);
	} catch (e) {
		throw new ApiError(200, 'the server answered something that is not JSON: ' + e.message);
	}
}

// The exact value of the top-level member `key` (an integer) of a JSON text, as a BigInt, or null.
export function exactMember(text, key) {
	const seen = new Map();   // holder object -> the exact value of its `key` member
	const root = JSON.parse(text, function (k, value, ctx) {
		if (k === key && typeof value === 'number') {
			const src = ctx && ctx.source;
			seen.set(this, src && /^-?\d+$/.test(src) ? BigInt(src) : BigInt(Math.round(value)));
		}
		return value;
	});
	return seen.has(root) ? seen.get(root) : null;
}
