#!/usr/bin/env bash
# export.sh - `hx export` end to end on the demo traces: the distributed shop (7 processes over
# HTTP and sockets) and the pipeline (threads, queues, waits, counters, an error, publish/
# subscribe, a join, a fork()ed child process). Each is exported in all three formats and every
# document is checked by validators written here from the formats' documented rules, not from
# the exporter's code:
#   chrome  the Trace Event Format: JSON object form with traceEvents, displayTimeUnit and
#           metadata; every ph known and its required fields present (name, cat, ph, ts, pid,
#           tid; dur for X; s for i; numeric args for C; id for s/f, bp "e" on f); process and
#           thread metadata ("M") for every pid and tid used; per tid, timestamps never decrease
#           and complete events nest (no partial overlap); every flow start has exactly one end
#           with the same id, cat and name, no earlier than it, and both bind to a slice at
#           their own ts, pid, tid and cat written before them.
#   otlp    OTLP/JSON: resourceSpans > scopeSpans > spans; IDs lower-case hex of the right
#           length and not zero, span IDs unique, every parentSpanId the ID of a span of the
#           same trace, parents acyclic; times as decimal strings, end >= start; attribute
#           values typed (intValue a string), keys unique; links name exported spans.
#   zipkin  Zipkin v2: an array of spans; the same ID rules, parentId within the trace;
#           timestamp and duration (>= 1) integer microseconds; tags all strings.
# Then the three are checked against the trace itself (`hx dump --json`): one span per block in
# a trace, one Chrome slice per block, one flow per linked cause, the same span tree in OTLP and
# Zipkin; exports are deterministic; TRACE selects one trace; a service URL exports as the files
# do; bad usage exits 2 and leaves no file behind.
# Run by tests/run.sh: $1 is the build directory, HX the hx binary; the working directory is a
# fresh temporary one.
set -euo pipefail

build=${1:?usage: export.sh BUILD_DIR}
: "${HX:?HX must name the hx binary}"
shop=$build/examples/shop/shop
pipeline=$build/examples/pipeline
client=$build/tests/serve_client
for b in "$shop" "$pipeline" "$client"; do
	[ -x "$b" ] || { echo "export.sh: $b not built" >&2; exit 1; }
done

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

if ! timeout 120 "$shop" --requests 3 --workers 3 --timeout 60 shop >shop.out 2>shop.err; then
	echo "export.sh: the shop did not finish recording" >&2
	cat shop.err >&2
	exit 1
fi
if ! timeout 120 "$pipeline" --items 60 --workers 3 pipe >/dev/null; then
	echo "export.sh: examples/pipeline did not finish recording" >&2
	exit 1
fi

cat >validate.py <<'EOF'
import json, re, sys
from decimal import Decimal

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
DIGITS = re.compile(r"^(0|[1-9][0-9]*)$")

def fail(*a):
    print("FAIL:", *a, file=sys.stderr)
    sys.exit(1)

def load(path):
    # Decimal keeps the microseconds' three decimals exact, as a viewer reading them as ns would
    return json.load(open(path), parse_float=Decimal)

def ns(us):
    v = Decimal(us) * 1000
    if v != v.to_integral_value():
        fail("a time finer than a nanosecond:", us)
    return int(v)

# ---------------------------------------------------------------- chrome
KNOWN_PH = set("BEXiICbneSTFpstfPONDMRVvc") | {"(", ")"}
META = {"process_name": "name", "process_labels": "labels", "process_sort_index": "sort_index",
        "thread_name": "name", "thread_sort_index": "sort_index"}

def chrome(path):
    doc = load(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        fail(path, "not the JSON object form with traceEvents")
    if doc.get("displayTimeUnit") not in ("ms", "ns"):
        fail(path, "displayTimeUnit must be ms or ns")
    if not isinstance(doc.get("metadata"), dict):
        fail(path, "no metadata object")
    procs, threads, used_p, used_t = set(), set(), set(), set()
    last_ts = {}
    slices = {}          # (pid, tid) -> [(ts, dur, order)]
    bind = {}            # (pid, tid, ts, cat) -> order of the zero-length slice there
    flows = {}           # id -> {"s": [...], "f": [...]}
    counts = {"X": 0, "block": 0, "s": 0, "f": 0, "i": 0, "C": 0, "wait": 0}
    for order, e in enumerate(doc["traceEvents"]):
        if not isinstance(e, dict):
            fail(path, order, "an event is not an object")
        ph = e.get("ph")
        if ph not in KNOWN_PH:
            fail(path, order, "unknown ph", ph)
        for k in ("name", "pid", "tid"):
            if k not in e:
                fail(path, order, "missing", k, e)
        if not isinstance(e["name"], str) or not isinstance(e["pid"], int) or not isinstance(e["tid"], int):
            fail(path, order, "name must be a string, pid and tid integers", e)
        key = (e["pid"], e["tid"])
        if ph == "M":
            if e["name"] not in META or META[e["name"]] not in e.get("args", {}):
                fail(path, order, "metadata event without its argument", e)
            (procs if e["name"].startswith("process") else threads).add(e["pid"] if e["name"].startswith("process") else key)
            continue
        if not isinstance(e.get("cat"), str) or not isinstance(e.get("ts"), (int, Decimal)):
            fail(path, order, "cat and ts are required", e)
        t = ns(e["ts"])
        used_p.add(e["pid"])
        used_t.add(key)
        if t < last_ts.get(key, 0):
            fail(path, order, "ts went back on", key, e)
        last_ts[key] = t
        if "args" in e and not isinstance(e["args"], dict):
            fail(path, order, "args must be an object")
        if ph == "X":
            if not isinstance(e.get("dur"), (int, Decimal)) or e["dur"] < 0:
                fail(path, order, "X without a duration", e)
            d = ns(e["dur"])
            slices.setdefault(key, []).append((t, d, order))
            counts["X"] += 1
            counts["block"] += e["cat"] == "block"
            counts["wait"] += e["cat"] == "wait"
            if d == 0:
                bind.setdefault((e["pid"], e["tid"], t, e["cat"]), order)
        elif ph == "i":
            if e.get("s", "t") not in ("g", "p", "t"):
                fail(path, order, "instant scope must be g, p or t", e)
            counts["i"] += 1
        elif ph == "C":
            a = e.get("args")
            if not a or not all(isinstance(v, (int, Decimal)) for v in a.values()):
                fail(path, order, "counter without numeric args", e)
            counts["C"] += 1
        elif ph in ("s", "f"):
            if "id" not in e:
                fail(path, order, "flow event without id", e)
            if ph == "f" and e.get("bp") != "e":
                fail(path, order, "flow end must bind to its enclosing slice (bp e)", e)
            b = bind.get((e["pid"], e["tid"], t, e["cat"]))
            if b is None or b > order:
                fail(path, order, "flow event not bound to a slice at its ts written before it", e)
            flows.setdefault(e["id"], {"s": [], "f": []})[ph].append((t, e["cat"], e["name"]))
            counts[ph] += 1
        else:
            fail(path, order, "phase not expected from hx export", ph)
    for p in used_p:
        if p not in procs:
            fail(path, "pid", p, "has no process metadata")
    for k in used_t:
        if k not in threads:
            fail(path, "tid", k, "has no thread metadata")
    for i, f in flows.items():
        if len(f["s"]) != 1 or len(f["f"]) != 1:
            fail(path, "flow", i, "needs exactly one start and one end", f)
        (ts_s, cat_s, name_s), (ts_f, cat_f, name_f) = f["s"][0], f["f"][0]
        if (cat_s, name_s) != (cat_f, name_f):
            fail(path, "flow", i, "start and end differ in cat or name")
        if ts_f < ts_s:
            fail(path, "flow", i, "ends before it starts")
    for key, sl in slices.items():
        sl.sort(key=lambda x: (x[0], -x[1], x[2]))
        stack = []  # end times of the slices enclosing the current one
        for t, d, order in sl:
            # a zero-length slice at an end is inside; anything longer starts a sibling
            while stack and (stack[-1] < t or (stack[-1] == t and d > 0)):
                stack.pop()
            if stack and t + d > stack[-1]:
                fail(path, "slices overlap without nesting on", key, "at", t, d, "enclosing ends", stack[-1])
            stack.append(t + d)
    return doc, counts

# ---------------------------------------------------------------- otlp
def anyvalue(v, where):
    if not isinstance(v, dict) or len(v) != 1:
        fail(where, "AnyValue must have exactly one member", v)
    (k, x), = v.items()
    if k == "intValue":
        if not isinstance(x, str) or not re.match(r"^-?[0-9]+$", x):
            fail(where, "intValue must be a decimal string", v)
    elif k == "doubleValue":
        if not isinstance(x, (int, Decimal)) and x not in ("NaN", "Infinity", "-Infinity"):
            fail(where, "doubleValue must be a number", v)
    elif k == "boolValue":
        if not isinstance(x, bool):
            fail(where, "boolValue must be a boolean", v)
    elif k in ("stringValue", "bytesValue"):
        if not isinstance(x, str):
            fail(where, k, "must be a string", v)
    else:
        fail(where, "unexpected AnyValue kind", k)

def attributes(lst, where):
    if not isinstance(lst, list):
        fail(where, "attributes must be a list")
    keys = [a.get("key") for a in lst]
    if len(set(keys)) != len(keys) or not all(isinstance(k, str) for k in keys):
        fail(where, "attribute keys must be unique strings", keys)
    for a in lst:
        anyvalue(a.get("value"), where)
    return {a["key"]: list(a["value"].values())[0] for a in lst}

def tree(spans, path):
    """spans: {(trace, id): parent id or None}; parents exist in the same trace, no cycles"""
    for (t, i), p in spans.items():
        seen = {i}
        while p is not None:
            if (t, p) not in spans:
                fail(path, "parent", p, "of", i, "is no span of trace", t)
            if p in seen:
                fail(path, "parent cycle through", i)
            seen.add(p)
            p = spans[(t, p)]

def otlp(path):
    doc = load(path)
    spans, names, links = {}, {}, []
    if list(doc) != ["resourceSpans"]:
        fail(path, "an ExportTraceServiceRequest has resourceSpans only")
    for rs in doc["resourceSpans"]:
        ra = attributes(rs["resource"]["attributes"], path + " resource")
        if "service.name" not in ra:
            fail(path, "resource without service.name")
        for ss in rs["scopeSpans"]:
            if not ss["scope"].get("name"):
                fail(path, "scope without a name")
            for s in ss["spans"]:
                w = path + " span " + str(s.get("spanId"))
                if not HEX32.match(s["traceId"]) or set(s["traceId"]) == {"0"}:
                    fail(w, "bad traceId")
                if not HEX16.match(s["spanId"]) or set(s["spanId"]) == {"0"}:
                    fail(w, "bad spanId")
                if "parentSpanId" in s and not HEX16.match(s["parentSpanId"]):
                    fail(w, "bad parentSpanId")
                for k in ("startTimeUnixNano", "endTimeUnixNano"):
                    if not isinstance(s[k], str) or not DIGITS.match(s[k]):
                        fail(w, k, "must be a decimal string")
                if int(s["endTimeUnixNano"]) < int(s["startTimeUnixNano"]):
                    fail(w, "ends before it starts")
                if s.get("kind", 0) not in range(6):
                    fail(w, "bad kind")
                if "status" in s and s["status"].get("code") not in (0, 1, 2):
                    fail(w, "bad status code")
                attributes(s.get("attributes", []), w)
                for ev in s.get("events", []):
                    if not DIGITS.match(ev["timeUnixNano"]) or not isinstance(ev["name"], str):
                        fail(w, "bad event", ev)
                    attributes(ev.get("attributes", []), w + " event")
                for l in s.get("links", []):
                    if not HEX32.match(l["traceId"]) or not HEX16.match(l["spanId"]):
                        fail(w, "bad link", l)
                    attributes(l.get("attributes", []), w + " link")
                    links.append((l["traceId"], l["spanId"]))
                key = (s["traceId"], s["spanId"])
                if key in spans:
                    fail(w, "span ID used twice")
                spans[key] = s.get("parentSpanId")
                names[key] = s["name"]
    tree(spans, path)
    for l in links:
        if l not in spans:
            fail(path, "link to a span not in the export", l)
    return spans, names, len(links)

# ---------------------------------------------------------------- zipkin
ZKINDS = {"CLIENT", "SERVER", "PRODUCER", "CONSUMER"}

def zipkin(path):
    doc = load(path)
    if not isinstance(doc, list):
        fail(path, "Zipkin v2 JSON is an array of spans")
    spans, names = {}, {}
    for s in doc:
        w = path + " span " + str(s.get("id"))
        if not HEX32.match(s["traceId"]) or not HEX16.match(s["id"]) or set(s["id"]) == {"0"}:
            fail(w, "bad IDs")
        if "parentId" in s and not HEX16.match(s["parentId"]):
            fail(w, "bad parentId")
        if not isinstance(s["timestamp"], int) or not isinstance(s["duration"], int) or s["duration"] < 1:
            fail(w, "timestamp and duration are integer microseconds, duration >= 1")
        if not s["localEndpoint"].get("serviceName"):
            fail(w, "no serviceName")
        if "kind" in s and s["kind"] not in ZKINDS:
            fail(w, "bad kind")
        if not all(isinstance(v, str) for v in s.get("tags", {}).values()):
            fail(w, "tags must be strings")
        for a in s.get("annotations", []):
            if not isinstance(a["timestamp"], int) or not isinstance(a["value"], str):
                fail(w, "bad annotation", a)
        key = (s["traceId"], s["id"])
        if key in spans:
            fail(w, "span ID used twice")
        spans[key] = s.get("parentId")
        names[key] = s["name"]
    tree(spans, path)
    return spans, names

# ---------------------------------------------------------------- against the trace
def check(prefix, dump):
    events = [json.loads(l) for l in open(dump) if l.strip()]
    ids = {(e["entity"], e["seq"]) for e in events}
    blocks = sum(e["kind"] == "block_begin" for e in events)
    traced_blocks = sum(e["kind"] == "block_begin" and e["trace"] is not None for e in events)
    linked = sum(1 for e in events for c in e.get("causes", []) if (c["entity"], c["seq"]) in ids)
    points = sum(e["kind"] == "point" for e in events)
    _, cc = chrome(prefix + ".chrome.json")
    if cc["block"] != blocks:
        fail(prefix, "chrome slices of blocks", cc["block"], "!= blocks", blocks)
    if cc["s"] != linked or cc["f"] != linked:
        fail(prefix, "chrome flows", cc["s"], cc["f"], "!= linked causes", linked)
    if cc["i"] < points:
        fail(prefix, "chrome instants", cc["i"], "< points", points)
    ot, on, nlinks = otlp(prefix + ".otlp.json")
    zk, zn = zipkin(prefix + ".zipkin.json")
    if len(ot) != traced_blocks:
        fail(prefix, "otlp spans", len(ot), "!= blocks in traces", traced_blocks)
    if ot != zk or on != zn:
        fail(prefix, "otlp and zipkin disagree on the span tree")
    roots = sum(p is None for p in ot.values())
    traces = {t for t, _ in ot}
    print(f"{prefix}: {len(events)} events; chrome {cc['X']} slices ({cc['block']} blocks, "
          f"{cc['wait']} waits), {cc['i']} instants, {cc['C']} counter samples, {cc['s']} flows; "
          f"otlp/zipkin {len(ot)} spans in {len(traces)} traces, {roots} roots, {nlinks} links")
    return ot

if __name__ == "__main__":
    what = sys.argv[1]
    if what == "check":
        check(sys.argv[2], sys.argv[3])
    elif what == "chrome":
        chrome(sys.argv[2])
    elif what == "otlp":
        print(len(otlp(sys.argv[2])[0]))
    elif what == "zipkin":
        print(len(zipkin(sys.argv[2])[0]))
EOF

for demo in shop pipe; do
	"$HX" dump --json "$demo" >"$demo.dump" 2>/dev/null
	for f in chrome otlp zipkin; do
		"$HX" export --format "$f" "$demo" -o "$demo.$f.json" 2>"$demo.$f.err"
		# the same input gives the same bytes, to stdout as to a file
		"$HX" export --format "$f" "$demo" 2>/dev/null | cmp - "$demo.$f.json"
	done
	python3 validate.py check "$demo" "$demo.dump"
done

# the shop: every order is one trace through all 7 processes, and every span but the client's
# has a parent (the interactions make one tree per order)
python3 - <<'EOF'
import json
doc = json.load(open("shop.otlp.json"))
services = {a["value"]["stringValue"] for rs in doc["resourceSpans"] for a in rs["resource"]["attributes"] if a["key"] == "service.name"}
assert services == {"client", "gateway", "inventory", "payment", "worker"}, services
spans = [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
roots = [s for s in spans if "parentSpanId" not in s]
assert len(roots) == 3 and all(s["name"] == "order" for s in roots), [s["name"] for s in roots]
kinds = {(s["name"], s["kind"]) for s in spans}
for want in (("order", 3), ("place order", 2), ("call inventory", 3), ("reserve stock", 2), ("process order", 5)):
    assert want in kinds, (want, kinds)
print("shop: 3 orders, each one span tree across", len(services), "services")
EOF

# one trace, named by its end as the last argument or with --trace
tid=$(python3 -c 'import json; d=json.load(open("shop.otlp.json")); print(d["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"])')
"$HX" export --format otlp shop "${tid:24}" >one.json
"$HX" export --format otlp --trace "$tid" shop >one2.json
cmp one.json one2.json
python3 - "$tid" <<'EOF'
import json, sys
tid = sys.argv[1]
spans = [s for rs in json.load(open("one.json"))["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
full = [s for rs in json.load(open("shop.otlp.json"))["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"] if s["traceId"] == tid]
assert spans and all(s["traceId"] == tid for s in spans)
key = lambda s: s["spanId"]
assert sorted(spans, key=key) == sorted(full, key=key), "one trace exports as it does among all"
print("one trace:", len(spans), "spans, as in the whole export")
EOF
"$HX" export --format chrome --trace "${tid:16}" shop >one.chrome.json
python3 validate.py chrome one.chrome.json

# a service URL exports as the files do
"$HX" serve --data data --listen 127.0.0.1:0 --http 127.0.0.1:0 >serve.out 2>serve.err &
pids+=($!)
for _ in $(seq 1 400); do
	grep -q '^listening' serve.out 2>/dev/null && break
	sleep 0.05
done
native=$(sed -n 's/.*native=\([^ ]*\).*/\1/p' serve.out)
http=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' serve.out)
[ -n "$native" ] && [ -n "$http" ] || { echo "export.sh: hx serve did not start" >&2; cat serve.err >&2; exit 1; }
"$client" send "$native" shop >/dev/null
"$HX" export --format zipkin "http://$http/api/traces/$tid" >url.json
"$HX" export --format zipkin shop "$tid" >file.json
# the service keeps each trace's events; the threads' entity_begin events (their names and
# kernel thread IDs) come before the traces and stay in the files
python3 - <<'PY'
import json
def spans(path):
    out = []
    for s in json.load(open(path)):
        s["tags"].pop("thread.name", None)
        s["tags"].pop("thread.id", None)
        out.append(s)
    return out
u, f = spans("url.json"), spans("file.json")
assert u and u == f, "a service URL exports as the files do"
print("a service URL exports as the files do:", len(u), "spans")
PY
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
pids=()

# usage errors: exit 2 with a message, and no output file left behind
expect2() {
	local rc=0
	"$@" 2>err.txt >/dev/null || rc=$?
	[ "$rc" -eq 2 ] || { echo "export.sh: '$*' exited $rc, not 2" >&2; exit 1; }
	[ -s err.txt ] || { echo "export.sh: '$*' said nothing" >&2; exit 1; }
}
expect2 "$HX" export shop
expect2 "$HX" export --format json shop
expect2 "$HX" export --format otlp
expect2 "$HX" export --format otlp does-not-exist
expect2 "$HX" export --format otlp --trace 0000000000000000deadbeef shop
grep -q 'matches 0 traces' err.txt
expect2 "$HX" export --format otlp --trace xyz shop
expect2 "$HX" export --format chrome -o no/such/dir/out.json shop
[ ! -e no ] || { echo "export.sh: a failed export left files" >&2; exit 1; }
ls ./*.tmp-* >/dev/null 2>&1 && { echo "export.sh: a temporary file was left" >&2; exit 1; }
echo "ok"
