// util.js - helpers every page shares: building DOM from data (text nodes only, never markup),
// formatting durations and times, exact nanosecond arithmetic, and the colour of a name.
//
// Why text only: every name, attribute and service in a trace is data written by whoever ran the
// traced program. It reaches the page through el()/textContent or canvas fillText, so a name like
// "<img onerror=...>" shows as those characters and never becomes an element.

// el('a', {href: '#/x', class: 'k', text: 'label'}, child...): an element with attributes set by
// setAttribute (never 'style' or event-handler attributes from data) and children as text nodes.
export function el(tag, props, ...children) {
	const e = document.createElement(tag);
	if (props) {
		for (const [k, v] of Object.entries(props)) {
			if (v === undefined || v === null || v === false) continue;
			if (k === 'class') e.className = v;
			else if (k === 'text') e.textContent = String(v);
			else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
			else if (k.startsWith('on') || k === 'style') throw new Error('el: attribute ' + k + ' is not allowed');
			else e.setAttribute(k, v === true ? '' : String(v));
		}
	}
	append(e, children);
	return e;
}

function append(e, children) {
	for (const c of children) {
		if (c === undefined || c === null || c === false) continue;
		if (Array.isArray(c)) append(e, c);
		else e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
}

// Remove every child of e (the pages rebuild their lists from data).
export function clear(e) {
	while (e.firstChild) e.removeChild(e.firstChild);
	return e;
}

// A duration in ns as text with a unit chosen for 3-4 significant digits: "812 ns", "12.3 µs",
// "4.56 ms", "1.234 s", "2 m 3.4 s".
export function fmtDur(ns) {
	if (!Number.isFinite(ns)) return '?';
	const neg = ns < 0;
	const a = Math.abs(ns);
	let s;
	if (a < 1e3) s = Math.round(a) + ' ns';
	else if (a < 1e6) s = trim(a / 1e3) + ' µs';
	else if (a < 1e9) s = trim(a / 1e6) + ' ms';
	else if (a < 60e9) s = trim(a / 1e9) + ' s';
	else {
		const m = Math.floor(a / 60e9);
		s = m + ' m ' + trim((a - m * 60e9) / 1e9) + ' s';
	}
	return neg ? '−' + s : s;
}

function trim(v) {
	return v >= 100 ? v.toFixed(1) : v >= 10 ? v.toFixed(2) : v.toFixed(3);
}

// A time relative to the trace's start: "+12.30 ms", "−400.0 µs".
export function fmtRel(ns) {
	return ns < 0 ? fmtDur(ns) : '+' + fmtDur(ns);
}

// An absolute time (BigInt ns since the epoch) as RFC 3339 UTC with 9 fraction digits.
export function fmtAbs(ns) {
	if (typeof ns !== 'bigint') return '?';
	const sec = ns / 1000000000n;
	let frac = ns % 1000000000n;
	if (frac < 0n) frac += 1000000000n;
	const d = new Date(Number(sec - (ns < 0n && frac ? 1n : 0n)) * 1000);
	if (Number.isNaN(d.getTime())) return String(ns) + ' ns';
	return d.toISOString().slice(0, 19) + '.' + String(frac).padStart(9, '0') + 'Z';
}

// A count with thousands separators.
// (Not toLocaleString: its first call loads locale data, a tenth of a second on a busy machine.)
export function fmtCount(n) {
	return Number.isFinite(n) ? String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : '?';
}

// An absolute time as the decimal string the API takes: base (BigInt) + rel (ns, a Number that
// may hold a fraction: rounded).
export function absString(base, rel) {
	return String(base + BigInt(Math.round(rel)));
}

// The inverse: a decimal string of ns since the epoch as ns relative to base (a Number, exact for
// traces shorter than 104 days). NaN for anything that is not a plain integer.
export function relFromString(base, s) {
	if (typeof s !== 'string' || !/^-?\d{1,20}$/.test(s)) return NaN;
	return Number(BigInt(s) - base);
}

// The colour of a name: a stable hue from a string hash, so a name keeps its colour everywhere.
// Returns an index into PALETTE (the renderer batches rectangles by colour).
export const PALETTE = [];
for (let i = 0; i < 24; i++) {
	const h = Math.round((i * 360) / 24);
	PALETTE.push(`hsl(${h} 55% ${i % 2 ? 62 : 70}%)`);
}

const colorCache = new Map();   // names repeat: hash each once (bounded)

export function colorIndex(name) {
	const c = colorCache.get(name);
	if (c !== undefined) return c;
	const v = hashColor(name);
	if (colorCache.size >= 20000) colorCache.clear();
	colorCache.set(name, v);
	return v;
}

function hashColor(name) {
	let h = 2166136261;
	const s = name || '';
	for (let i = 0; i < s.length; i++) {
		h ^= s.charCodeAt(i);
		h = Math.imul(h, 16777619);
	}
	return (h >>> 0) % PALETTE.length;
}

// Call fn at most once per `ms`, with the last arguments (trailing edge).
export function debounce(fn, ms) {
	let timer = 0;
	const d = (...args) => {
		clearTimeout(timer);
		timer = setTimeout(() => fn(...args), ms);
	};
	d.cancel = () => clearTimeout(timer);
	return d;
}

// A text cut to fit `px` pixels at about `charPx` per character, with an ellipsis; '' when not even
// two characters fit. (Measuring each label would cost more than drawing it.)
export function fitText(s, px, charPx) {
	const n = Math.floor(px / charPx);
	if (n < 2) return '';
	return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

// A service-side event ID "ENTITY16HEX:SEQ"? (IDs arrive in URLs, which anyone can write.)
export function isEventId(s) {
	return typeof s === 'string' && /^[0-9a-fA-F]{16}:\d{1,20}$/.test(s);
}

export function isTraceId(s) {
	return typeof s === 'string' && /^[0-9a-fA-F]{32}$/.test(s);
}
