#!/usr/bin/env bash
# view.sh - the web viewer's server side end to end: `hx view` on a trace recorded by
# examples/pipeline, then with curl and python3:
#   - the one stdout line, the address (127.0.0.1 only, one listening socket: no native listener);
#   - every viewer endpoint's JSON shape and values, checked against `hx dump --json` and
#     `hx critical-path --json` of the same files: lanes, events, blocks, LOD summaries that add
#     up, event details and their causes, find (stepping through every match), range, the path;
#   - 400 for bad parameters, 404 for unknown traces, events, endpoints and assets;
#   - the static files: the page and every file of web/ byte for byte, content types, CSP,
#     nosniff, ETag and 304, no-cache; path traversal attempts (.., %2e%2e, encoded slashes,
#     doubled slashes, very long paths) answer 404 or 400 and never a file's content;
#   - no Access-Control-Allow-Origin, even when an Origin is sent;
#   - SIGTERM: exit 0 and the temporary store removed; --data DIR kept;
#   - the model hx view builds while loading (src/cli/view_warm.c) answers byte for byte as the
#     one built from the store (--view-cache 1 evicts it at once, so each request builds anew):
#     an imported trace of three processes whose events share timestamps, a recorded one whose
#     thread is named outside the trace, and both together;
#   - `hx serve`: the same viewer over what `hx ship --once` sent, with a token.
# Run by tests/run.sh with $1 = the build directory, HX, HX_BUILD_DIR, HX_SOURCE_DIR set, in a
# fresh working directory. Needs bash, curl, python3 (stdlib).
set -euo pipefail

build=${1:-${HX_BUILD_DIR:-build}}
hx=${HX:-$build/src/cli/hx}
src=${HX_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
pipeline=$build/examples/pipeline
hello=$build/examples/hello
for b in "$hx" "$pipeline" "$hello"; do
  [[ -x $b ]] || { echo "FAIL: $b is not built" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "FAIL: curl is not installed (scripts/deps.sh)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hxtest-view.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
step() { echo "---- $* ($SECONDS s)"; }

# wait_line FILE REGEX PID: poll until FILE has a line matching REGEX (or PID died); 60 s at most.
wait_line() {
  local i
  for ((i = 0; i < 1200; i++)); do
    grep -Eq "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# stop_ok PID NAME: SIGTERM, then exit status 0 within 60 s.
stop_ok() {
  local pid=$1 name=$2 rc=0 i
  kill -TERM "$pid"
  for ((i = 0; i < 1200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || { fail "$name exited with $rc after SIGTERM"; tail -5 "$work/$name.err" >&2; }
}

step "a trace"
if ! timeout 120 "$pipeline" --items 40 --workers 2 "$work/tr" >/dev/null 2>&1; then
  echo "FAIL: examples/pipeline did not finish recording" >&2
  exit 1
fi
"$hx" dump --json "$work/tr" >"$work/events.json" 2>/dev/null

# ---- hx view: start, the one line ----
step "hx view"
mkdir "$work/tmp"
TMPDIR=$work/tmp "$hx" view --no-open "$work/tr" >"$work/view.out" 2>"$work/view.err" &
view_pid=$!
pids+=("$view_pid")
if ! wait_line "$work/view.out" '^hx view: ' "$view_pid"; then
  echo "FAIL: hx view did not start:" >&2
  cat "$work/view.err" >&2
  exit 1
fi
sleep 0.2 # anything else it might (wrongly) print on stdout
[[ $(wc -l <"$work/view.out") -eq 1 ]] || fail "hx view printed more than one line: $(cat "$work/view.out")"
line=$(head -1 "$work/view.out")
[[ $line =~ ^hx\ view:\ http://127\.0\.0\.1:([0-9]+)/$ ]] || fail "the line is '$line'"
port=${BASH_REMATCH[1]:-0}
base="http://127.0.0.1:$port"
ls "$work/tmp"/hx-view.* >/dev/null 2>&1 || fail "no temporary store under \$TMPDIR"

# its listening sockets: exactly one, 127.0.0.1:PORT (HTTP only, loopback only)
python3 - "$view_pid" "$port" <<'EOF' || fail "listening sockets (above)"
import os, sys
pid, port = sys.argv[1], int(sys.argv[2])
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        t = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if t.startswith("socket:["):
        inodes.add(t[8:-1])
listening = []
for name in ("tcp", "tcp6"):
    try:
        rows = open(f"/proc/{pid}/net/{name}").read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        f = row.split()
        if f[3] == "0A" and f[9] in inodes:   # LISTEN, one of ours
            listening.append((name, f[1]))
want = [("tcp", "0100007F:%04X" % port)]
if listening != want:
    sys.exit(f"hx view listens on {listening}, expected only {want}")
EOF

# ---- the endpoints, against the files ----
step "viewer endpoints"
python3 - "$base" "$work/events.json" "$hx" "$work/tr" <<'EOF' || fail "viewer endpoints (above)"
import json, subprocess, sys, urllib.error, urllib.parse, urllib.request
base, events_path, hx, tr = sys.argv[1:5]
errors = []

def get(path, headers=None):
    req = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()

def js(path):
    st, h, body = get(path)
    if st != 200:
        sys.exit(f"GET {path}: {st} {body[:300]!r}")
    if not h.get("Content-Type", "").startswith("application/json"):
        errors.append(f"GET {path}: Content-Type {h.get('Content-Type')}")
    return json.loads(body)

events = [json.loads(l) for l in open(events_path) if l.strip()]
by_trace = {}
for e in events:
    if e.get("trace"):
        by_trace.setdefault(e["trace"], []).append(e)
print(f"{len(by_trace)} traces")

# the service lists every trace of the files
listed = {t["trace_id"] for t in js("/api/traces?limit=1000")["traces"]}
if listed != set(by_trace):
    errors.append(f"/api/traces lists {len(listed)} traces, the files hold {len(by_trace)}")

def check(tid):
    """Every endpoint on one trace, against the files."""
    evs = by_trace[tid]
    print(f"trace {tid}: {len(evs)} events")
    # ---- view ----
    ov = js(f"/api/traces/{tid}/view")
    start, end = min(e["time_ns"] for e in evs), max(e["time_ns"] for e in evs)
    if ov["trace_id"] != tid or ov["start_ns"] != start or ov["end_ns"] != end:
        errors.append(f"view: id/span {ov['trace_id']} {ov['start_ns']} {ov['end_ns']}, want {start} {end}")
    if ov["events"] != len(evs):
        errors.append(f"view: {ov['events']} events, the files hold {len(evs)}")
    nblocks = sum(1 for e in evs if e["kind"] == "block_begin")
    if ov["blocks"] != nblocks:
        errors.append(f"view: {ov['blocks']} blocks, the files hold {nblocks} block begins")
    lanes = [l for h in ov["hosts"] for p in h["processes"] for l in p["lanes"]]
    entities = {e["entity"] for e in evs}
    if sorted(l["lane"] for l in lanes) != list(range(len(lanes))):
        errors.append(f"view: lanes are not numbered 0..n-1: {[l['lane'] for l in lanes]}")
    if len(lanes) != len(entities) or {l["entity"] for l in lanes} != entities:
        errors.append(f"view: {len(lanes)} lanes for {len(entities)} entities")
    if sum(l["events"] for l in lanes) != len(evs):
        errors.append("view: the lanes' events do not add up to the trace's")
    for l in lanes:
        mine = [e for e in evs if e["entity"] == l["entity"]]
        if l["events"] != len(mine) or l["first_ns"] != min(e["time_ns"] for e in mine) \
                or l["last_ns"] != max(e["time_ns"] for e in mine):
            errors.append(f"view: lane {l['lane']} ({l['entity']}) events/first/last wrong")
    procs = [p for h in ov["hosts"] for p in h["processes"]]
    for p in procs:
        if p["clock_offset_ns"] != 0:
            errors.append(f"view: one host, yet process {p['pid']} has clock offset {p['clock_offset_ns']}")
    if ov["clock"]["adjusted_processes"] != 0:
        errors.append(f"view: clock {ov['clock']}")
    lane_of = {l["entity"]: l["lane"] for l in lanes}
    # the instants drawn as points (src/view/view_int.h, hx__v_is_point)
    POINT_KINDS = {"point", "error", "cause", "effect", "trace_begin", "trace_join", "trace_end"}
    npoints = sum(1 for e in evs if e["kind"] in POINT_KINDS)

    # ---- lod: the whole trace, at several widths; the summary adds up ----
    def lod_check(q, want_lanes):
        a = js(f"/api/traces/{tid}/lod?{q}")
        s = a["summary"]
        got_lanes = [l["lane"] for l in a["lanes"]]
        if sorted(got_lanes) != sorted(want_lanes):
            errors.append(f"lod {q}: lanes {got_lanes}, want {want_lanes}")
        blocks = sum(len(l.get("blocks", [])) for l in a["lanes"])
        runs = [r for l in a["lanes"] for r in l.get("runs", [])]
        points = sum(len(l.get("points", [])) for l in a["lanes"])
        bins = [b for l in a["lanes"] for b in l.get("point_bins", [])]
        checks = [("blocks_whole", blocks), ("runs", len(runs)),
                  ("blocks_merged", sum(r["count"] for r in runs)),
                  ("points_whole", points), ("points_binned", sum(b["count"] for b in bins)),
                  ("arrows", len(a.get("arrows", [])))]
        for k, v in checks:
            if s[k] != v:
                errors.append(f"lod {q}: summary {k} = {s[k]}, the answer holds {v}")
        return a, s

    every = sorted(lane_of.values())
    whole = f"from={start}&to={end + 1}"
    a, s = lod_check(f"{whole}&px=16384", every)
    if not s["capped"] and s["blocks_whole"] + s["blocks_merged"] != nblocks:
        errors.append(f"lod px=16384: {s['blocks_whole']} whole + {s['blocks_merged']} merged blocks, the trace has {nblocks}")
    if not s["capped"] and s["points_whole"] + s["points_binned"] != npoints:
        errors.append(f"lod px=16384: {s['points_whole']} whole + {s['points_binned']} binned points, the trace has {npoints}")
    for blk in (b for l in a["lanes"] for b in l.get("blocks", [])):
        ev = next((e for e in evs if f"{e['entity']}:{e['seq']}" == blk["id"]), None)
        if not ev or ev["kind"] != "block_begin" or ev["name"] != blk["name"] or ev["time_ns"] != blk["start_ns"]:
            errors.append(f"lod: block {blk} is not a block begin of the files")
            break
    a1, s1 = lod_check(f"{whole}&px=1", every)
    if not s1["capped"] and s1["blocks_whole"] + s1["blocks_merged"] != nblocks:
        errors.append(f"lod px=1: {s1['blocks_whole']} + {s1['blocks_merged']} blocks, want {nblocks}")
    if not s1["capped"] and s1["points_whole"] + s1["points_binned"] != npoints:
        errors.append(f"lod px=1: {s1['points_whole']} + {s1['points_binned']} points, want {npoints}")
    if s1["runs"] == 0 and nblocks > len(lanes) * 2:
        errors.append("lod px=1: nothing merged into runs at one column")
    lod_check(f"{whole}&px=800&lanes=0&arrows=false&min_px=4&max_items=100", [0])
    if every[-1] > 0:
        lod_check(f"{whole}&px=800&lanes={every[-1]},0", [every[-1], 0])
    a2, _ = lod_check(f"{whole}&px=800&arrows=false", every)
    if a2.get("arrows"):
        errors.append("lod arrows=false still answers arrows")

    # ---- event: by ID and by index, against the files ----
    begins = [e for e in evs if e["kind"] == "block_begin"]
    b0 = begins[0]
    d = js(f"/api/traces/{tid}/event?id={b0['entity'].upper()}:{b0['seq']}")
    if d["id"] != f"{b0['entity']}:{b0['seq']}" or d["name"] != b0["name"] or d["kind"] != "block_begin" \
            or d["time_ns"] != b0["time_ns"] or d["entity"] != b0["entity"] or d["lane"] != lane_of[b0["entity"]]:
        errors.append(f"event by id: {json.dumps(d)[:300]}")
    if "block" not in d or d["block"]["begin"]["id"] != d["id"]:
        errors.append(f"event: a block begin without its block: {json.dumps(d)[:300]}")
    else:
        end_id = d["block"]["end"]["id"]
        ent, seq = end_id.split(":")
        be = next((e for e in evs if e["entity"] == ent and e["seq"] == int(seq)), None)
        if not be or be["kind"] != "block_end" or d["block"]["duration_ns"] != be["time_ns"] - b0["time_ns"]:
            errors.append(f"event: block end {end_id} / duration {d['block']['duration_ns']} wrong")
    d2 = js(f"/api/traces/{tid}/event?e={d['e']}")
    if d2 != d:
        errors.append("event?e=N differs from event?id= of the same event")
    effects = [e for e in evs if e["kind"] == "effect" and e.get("causes")]
    if effects:
        x = effects[0]
        dx = js(f"/api/traces/{tid}/event?id={x['entity']}:{x['seq']}")
        want = {f"{c['entity']}:{c['seq']}" for c in x["causes"] if c.get("entity")}
        got = {c["id"] for c in dx.get("causes", []) if c.get("linked")}
        linked_in_trace = {w for w in want if any(f"{e['entity']}:{e['seq']}" == w for e in evs)}
        if got != linked_in_trace:
            errors.append(f"event {x['entity']}:{x['seq']}: causes {got}, the files say {linked_in_trace}")
        for c in dx.get("causes", []):
            if c.get("linked"):
                tested_causes.append(c["id"])
                back = js(f"/api/traces/{tid}/event?id={c['id']}")
                if not any(f["id"] == dx["id"] for f in back.get("effects", [])):
                    errors.append(f"event {c['id']} does not list its effect {dx['id']}")

    # ---- find: every match, stepping forwards and backwards ----
    name = b0["name"]
    def matches(e, text):
        t = text.lower()
        if t in e.get("name", "").lower():
            return True
        return any(t in str(k).lower() or t in str(v).lower() for k, v in (e.get("attrs") or {}).items())
    want_total = sum(1 for e in evs if matches(e, name))
    f = js(f"/api/traces/{tid}/find?q={urllib.parse.quote(name.upper())}")
    if f["total"] != want_total or not f["match"]:
        errors.append(f"find {name!r}: total {f['total']}, want {want_total}; match {f['match']}")
    else:
        seen, m, times = [], f["match"], []
        while m and len(seen) <= want_total:
            seen.append(m["id"])
            times.append(m["time_ns"])
            m = js(f"/api/traces/{tid}/find?q={urllib.parse.quote(name)}&after={m['id']}")["match"]
        if len(seen) != want_total or len(set(seen)) != len(seen) or times != sorted(times):
            errors.append(f"find: stepping gave {len(seen)} matches ({len(set(seen))} distinct), want {want_total} in time order")
        back = js(f"/api/traces/{tid}/find?q={urllib.parse.quote(name)}&dir=prev")["match"]
        if not back or back["id"] != seen[-1]:
            errors.append(f"find dir=prev from the end: {back}, want {seen[-1]}")
    nothing = js(f"/api/traces/{tid}/find?q=no-such-name-anywhere-xyzzy")
    if nothing != {"match": None, "total": 0}:
        errors.append(f"find of nothing: {nothing}")

    # ---- range: the whole trace counts every block by name ----
    r = js(f"/api/traces/{tid}/range?{whole}")
    want = {}
    for e in begins:
        want[e["name"]] = want.get(e["name"], 0) + 1
    got = {b["name"]: b["count"] for b in r["blocks"]}
    if got != want:
        errors.append(f"range: block counts {got}, the files have {want}")
    totals = [b["total_ns"] for b in r["blocks"]]
    if totals != sorted(totals, reverse=True) or any(b["self_ns"] > b["total_ns"] for b in r["blocks"]):
        errors.append("range: not largest total first, or self > total")
    pts = {}
    for e in evs:
        if e["kind"] in POINT_KINDS:
            pts[e["name"]] = pts.get(e["name"], 0) + 1
    if {p["name"]: p["count"] for p in r["points"]} != pts:
        errors.append(f"range: point counts {r['points']}, the files have {pts}")

    # ---- critical-path: the same path as hx critical-path ----
    cp = js(f"/api/traces/{tid}/critical-path")
    want_cp = json.loads(subprocess.run([hx, "critical-path", "--json", "--trace", tid, tr],
                                        capture_output=True, check=True).stdout)
    for k in ("duration_ns", "start_ns", "end_ns"):
        if cp[k] != want_cp[k]:
            errors.append(f"critical-path {k}: {cp[k]}, hx critical-path says {want_cp[k]}")
    if len(cp["segments"]) != len(want_cp["segments"]):
        errors.append(f"critical-path: {len(cp['segments'])} segments, hx critical-path has {len(want_cp['segments'])}")
    for s in cp["segments"]:
        if s["lane"] != lane_of.get(s["entity"]):
            errors.append(f"critical-path: segment lane {s['lane']} for entity {s['entity']}")
            break
    if not cp["path"] or any(not isinstance(i, int) for i in cp["path"]):
        errors.append("critical-path: no path of event indices")
    return evs, start, end, whole, b0

# the largest trace, and the one with the most entities (threads, queues, causes)
tid = max(by_trace, key=lambda t: len(by_trace[t]))
wide = max(by_trace, key=lambda t: (len({e["entity"] for e in by_trace[t]}), len(by_trace[t])))
tested_causes = []
results = {t: check(t) for t in sorted({tid, wide})}
evs, start, end, whole, b0 = results[tid]
if not tested_causes:
    errors.append("no effect with a linked cause was checked: the trace chosen has none")

# ---- errors ----
z = "0" * 32
bad = [
    (f"/api/traces/{tid}/lod?from={start}&to={end}", 400),            # no px
    (f"/api/traces/{tid}/lod?{whole}&px=0", 400),
    (f"/api/traces/{tid}/lod?{whole}&px=16385", 400),
    (f"/api/traces/{tid}/lod?from={end}&to={start}&px=10", 400),
    (f"/api/traces/{tid}/lod?from={start}&to={start}&px=10", 400),
    (f"/api/traces/{tid}/lod?{whole}&px=10&lanes=0,0", 400),
    (f"/api/traces/{tid}/lod?{whole}&px=10&lanes=x", 400),
    (f"/api/traces/{tid}/lod?{whole}&px=10&lanes=99999", 400),        # the model's own check
    (f"/api/traces/{tid}/lod?{whole}&px=10&min_px=65", 400),
    (f"/api/traces/{tid}/lod?{whole}&px=10&max_items=99", 400),
    (f"/api/traces/{tid}/lod?{whole}&px=10&arrows=maybe", 400),
    (f"/api/traces/{tid}/lod?{whole}&px=10&bogus=1", 400),
    (f"/api/traces/{tid}/lod?{whole}&px=10&px=20", 400),
    (f"/api/traces/{tid}/event", 400),
    (f"/api/traces/{tid}/event?id={b0['entity']}:1&e=0", 400),
    (f"/api/traces/{tid}/event?id=xyz", 400),
    (f"/api/traces/{tid}/event?e=-1", 400),
    (f"/api/traces/{tid}/find", 400),
    (f"/api/traces/{tid}/find?q=a&dir=up", 400),
    (f"/api/traces/{tid}/find?q=a&after=1:2", 400),
    (f"/api/traces/{tid}/find?q=a&after=0000000000000001:99", 400),  # no such event
    (f"/api/traces/{tid}/find?q=" + "a" * 4097, 400),
    (f"/api/traces/{tid}/range?from={start}", 400),
    (f"/api/traces/{tid}/range?{whole}&lanes=99999", 400),
    (f"/api/traces/{tid}/view?x=1", 400),
    (f"/api/traces/{tid}/critical-path?x=1", 400),
    ("/api/traces/xyz/view", 400),
    (f"/api/traces/{tid[:31]}g/view", 400),
    (f"/api/traces/{z}/view", 404),
    (f"/api/traces/{z}/lod?from=1&to=2&px=1", 404),
    (f"/api/traces/{tid}/nonsense", 404),
    (f"/api/traces/{tid}/view/more", 404),
    (f"/api/traces/{tid}/event?id=0000000000000001:99", 404),
    (f"/api/traces/{tid}/event?e=4000000000", 404),
]
for path, code in bad:
    st, h, body = get(path)
    if st != code:
        errors.append(f"GET {path[:120]}: {st}, expected {code}: {body[:200]!r}")
    elif "error" not in json.loads(body):
        errors.append(f"GET {path[:120]}: {st} without an error member")
for e in errors[:30]:
    print(e)
sys.exit(1 if errors else 0)
EOF

# ---- static files, traversal, CORS ----
step "static files"
python3 - "$base" "$src/web" <<'EOF' || fail "static files (above)"
import hashlib, http.client, os, socket, sys, urllib.parse
base, webdir = sys.argv[1], sys.argv[2]
host, port = urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port
errors = []
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'")

def raw(path, method="GET", headers=None):
    """A request with the path exactly as given (no normalisation)."""
    c = http.client.HTTPConnection(host, port, timeout=60)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except (ConnectionError, http.client.HTTPException, socket.timeout) as e:
        return 0, {}, repr(e).encode()
    finally:
        c.close()

files = {}
for top, dirs, names in os.walk(webdir):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for n in names:
        if n == "meson.build" or n.upper().startswith("README") or n.startswith(".") or n.endswith("~"):
            continue
        p = os.path.join(top, n)
        files[os.path.relpath(p, webdir).replace(os.sep, "/")] = open(p, "rb").read()
if "index.html" not in files:
    sys.exit("web/index.html is missing")
types = {".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
         ".css": "text/css", ".svg": "image/svg+xml", ".json": "application/json"}

def static_ok(path, want_body, want_type):
    st, h, body = raw(path, headers={"Origin": "http://evil.example"})
    if st != 200:
        errors.append(f"GET {path}: {st}")
        return h
    if body != want_body:
        errors.append(f"GET {path}: the body differs from the file")
    if want_type and not h.get("content-type", "").startswith(want_type):
        errors.append(f"GET {path}: Content-Type {h.get('content-type')}, want {want_type}")
    if h.get("content-security-policy") != CSP:
        errors.append(f"GET {path}: CSP {h.get('content-security-policy')!r}")
    if h.get("x-content-type-options") != "nosniff":
        errors.append(f"GET {path}: X-Content-Type-Options {h.get('x-content-type-options')!r}")
    if h.get("cache-control") != "no-cache":
        errors.append(f"GET {path}: Cache-Control {h.get('cache-control')!r}")
    if "access-control-allow-origin" in h:
        errors.append(f"GET {path}: Access-Control-Allow-Origin sent")
    etag = h.get("etag", "")
    if etag != '"' + hashlib.sha256(want_body).hexdigest()[:16] + '"':
        errors.append(f"GET {path}: ETag {etag!r}")
    return h

h = static_ok("/", files["index.html"], "text/html")
static_ok("/?trace=abc#x", files["index.html"], "text/html")
st, h304, body = raw("/", headers={"If-None-Match": h.get("etag", "x")})
if st != 304 or body:
    errors.append(f"GET / with If-None-Match: {st} {len(body)} bytes")
st, _, _ = raw("/", headers={"If-None-Match": '"0000000000000000"'})
if st != 200:
    errors.append(f"GET / with another ETag: {st}")
for name, data in files.items():
    ext = os.path.splitext(name)[1]
    static_ok("/assets/" + name, data, types.get(ext))

# nothing else; nothing from the file system
secrets = [b"root:", b"web_assets_c", b"custom_target", b"#!/usr/bin/env", b"[core]"]
for path in ["/assets/../meson.build", "/assets/%2e%2e/meson.build", "/assets/%2E%2E/meson.build",
             "/assets/..%2fmeson.build", "/assets/%2e%2e%2fmeson.build", "/assets//etc/passwd",
             "/assets/%2fetc%2fpasswd", "/assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
             "/%2e%2e/", "/%2e%2e/%2e%2e/etc/passwd", "/../../etc/passwd", "//etc/passwd",
             "/assets/", "/assets", "/assets/meson.build", "/assets/index.html%00",
             "/assets/index.html/", "/assets/./index.html", "/assets/INDEX.HTML", "/index.html",
             "/web/index.html", "/assets/..", "/assets/.", "/.git/config", "/assets/.git/config",
             "/assets/nope.js", "/" + "a" * 10000, "/assets/" + "b" * 10000,
             "/assets/" + "../" * 3000 + "etc/passwd", "/assets/%00", "/favicon.ico"]:
    st, h, body = raw(path)
    if st not in (400, 404, 413, 414) and not (st == 0 and len(path) > 8000):
        errors.append(f"GET {path[:80]}: {st}, expected 404 or 400")
    if any(s in body for s in secrets):
        errors.append(f"GET {path[:80]}: the body holds file contents")
    if "access-control-allow-origin" in h:
        errors.append(f"GET {path[:80]}: Access-Control-Allow-Origin sent")
st, h, body = raw("/" + "c" * 40000)
if st not in (0, 400, 404, 413, 414):
    errors.append(f"GET of a 40000-byte path: {st}")
# CORS: never, for API or page, whatever the method or Origin
for method, path in [("GET", "/api/traces"), ("OPTIONS", "/api/traces"), ("OPTIONS", "/"),
                     ("GET", "/health"), ("POST", "/"), ("HEAD", "/")]:
    st, h, body = raw(path, method, {"Origin": "http://evil.example",
                                     "Access-Control-Request-Method": "GET"})
    if "access-control-allow-origin" in h or "access-control-allow-credentials" in h:
        errors.append(f"{method} {path} with an Origin: a CORS header was sent")
    if method in ("OPTIONS", "POST", "HEAD") and st != 405:
        errors.append(f"{method} {path}: {st}, expected 405")
for e in errors[:30]:
    print(e)
sys.exit(1 if errors else 0)
EOF

# ---- stop: exit 0, temporary store removed ----
step "SIGTERM"
stop_ok "$view_pid" view
pids=()
if compgen -G "$work/tmp/hx-view.*" >/dev/null; then
  fail "the temporary store is still there after exit: $(ls "$work/tmp")"
fi
grep -q 'stopped' "$work/view.err" || fail "no 'stopped' line after SIGTERM: $(tail -3 "$work/view.err")"

# ---- two hosts: the clock offsets hx view applied reach the viewer ----
step "clock offsets"
# A copy of the trace where one process is on another host whose clock is 2 s behind: its host
# name is rewritten in the file header's resource (same length) and its realtime anchor moved,
# the header CRC recomputed (docs/format.md), as tests/integration/join.c does in C.
cp -r "$work/tr" "$work/sk"
python3 - "$(ls "$work"/sk/*.hx | tail -1)" -2000000000 <<'PY'
import struct, sys
TBL = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    TBL.append(c)
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc = TBL[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff
def varint(b, i):
    v = s = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7f) << s
        s += 7
        if not x & 0x80:
            return v, i
path, skew = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    h = bytearray(f.read(1024))
    i, renamed = 104, False
    while True:
        kl, i = varint(h, i)
        if not kl:
            break
        k = bytes(h[i:i + kl])
        i += kl
        vl, i = varint(h, i)
        if k == b"host" and vl:
            new = bytes(h[i:i + vl]).translate(bytes.maketrans(
                b"abcdefghijklmnopqrstuvwxyz0123456789", b"bcdefghijklmnopqrstuvwxyza1234567890"))
            h[i:i + vl] = new
            renamed = True
        i += vl
    if not renamed:
        sys.exit("no host in the header's resource")
    struct.pack_into("<Q", h, 72, struct.unpack_from("<Q", h, 72)[0] + skew)
    c = bytearray(h[:100])
    c[20:24] = bytes(4)
    c[88:100] = bytes(12)
    struct.pack_into("<I", h, 100, crc32c(bytes(c)))
    f.seek(0)
    f.write(h)
PY
"$hx" stats --json "$work/sk" >"$work/sk.stats" 2>/dev/null
"$hx" dump --json "$work/sk" >"$work/sk.json" 2>/dev/null
"$hx" view --no-open "$work/sk" >"$work/sk.out" 2>"$work/sk.err" &
sk_pid=$!
pids+=("$sk_pid")
if wait_line "$work/sk.out" '^hx view: http://' "$sk_pid"; then
  python3 - "$(sed -n 's/^hx view: //p' "$work/sk.out")" "$work/sk.stats" "$work/sk.json" <<'PY' || fail "clock offsets (above)"
import json, sys, urllib.request
base, stats, dump = sys.argv[1:4]
st = json.load(open(stats))
offset = {o["host"]: o["offset_ns"] for o in st["clock"]["offsets"]}
if sorted(offset.values())[-1] < 1000000000:
    sys.exit(f"the skewed copy did not need aligning: {offset}")
evs = {}
for l in open(dump):
    e = json.loads(l)
    evs[(e["entity"], e["seq"])] = e
errors, adjusted_seen = [], 0
def js(p):
    with urllib.request.urlopen(base + p, timeout=60) as r:
        return json.loads(r.read())
for t in js("api/traces?limit=1000")["traces"]:
    ov = js(f"api/traces/{t['trace_id']}/view")
    procs = [(h["host"], p) for h in ov["hosts"] for p in h["processes"]]
    adj = [p for host, p in procs if p["clock_offset_ns"]]
    for host, p in procs:
        if p["clock_offset_ns"] != offset.get(host):
            errors.append(f"{t['trace_id']}: host {host} offset {p['clock_offset_ns']}, hx stats says {offset.get(host)}")
    if ov["clock"]["adjusted_processes"] != len(adj) or \
            ov["clock"]["max_abs_offset_ns"] != max([abs(p["clock_offset_ns"]) for p in adj] or [0]):
        errors.append(f"{t['trace_id']}: clock {ov['clock']} for offsets {[p['clock_offset_ns'] for p in adj]}")
    for p in adj:
        lane = p["lanes"][0]
        ev = js(f"api/traces/{t['trace_id']}/lod?from={lane['first_ns']}&to={lane['last_ns'] + 1}&px=10&lanes={lane['lane']}")
        first = next((x for l in ev["lanes"] for x in l.get("points", []) + l.get("blocks", [])), None)
        if not first:
            continue
        d = js(f"api/traces/{t['trace_id']}/event?id={first['id']}")
        ent, seq = d["id"].split(":")
        f = evs[(ent, int(seq))]
        if not d["adjusted"] or d["time_ns"] != f["time_ns"] or d["time_orig_ns"] != f["time_orig_ns"] \
                or d["time_orig_ns"] != d["time_ns"] - p["clock_offset_ns"]:
            errors.append(f"event {d['id']}: time {d['time_ns']} orig {d['time_orig_ns']} adjusted {d['adjusted']}; "
                          f"the files: {f['time_ns']} {f['time_orig_ns']}; offset {p['clock_offset_ns']}")
        adjusted_seen += 1
if not adjusted_seen:
    errors.append("no trace shows an adjusted process")
for e in errors[:20]:
    print(e)
sys.exit(1 if errors else 0)
PY
  stop_ok "$sk_pid" sk
else
  fail "hx view of two hosts did not start: $(cat "$work/sk.err")"
fi
pids=()

# ---- the model built while loading = the model built from the store ----
step "the model built while loading"
# One Zipkin trace over three services, six spans starting in each microsecond: the reader and
# the store order the events of one time differently, and the model must not show it.
python3 - "$work/ties.json" <<'PY'
import json, sys
tid, t0, spans = "0af7651916cd43dd8448eb211c80319c", 1700000000000000, []
spans.append({"traceId": tid, "id": "%016x" % 1, "name": "GET /checkout", "timestamp": t0,
              "duration": 5000, "kind": "SERVER", "localEndpoint": {"serviceName": "gateway"}})
for i in range(60):
    spans.append({"traceId": tid, "id": "%016x" % (2 + i), "parentId": "%016x" % 1,
                  "name": f"op{i % 7}", "timestamp": t0 + 10 * (i // 6), "duration": 3 + i % 5,
                  "kind": "CLIENT" if i % 2 else "SERVER",
                  "localEndpoint": {"serviceName": ["gateway", "cart", "payment"][i % 3]},
                  "tags": {"i": str(i)}})
json.dump(spans, open(sys.argv[1], "w"))
PY
"$hx" import "$work/ties.json" -o "$work/ties" >/dev/null 2>"$work/ties.err" || fail "hx import: $(cat "$work/ties.err")"
"$hello" "$work/hello" >/dev/null 2>&1 || fail "examples/hello did not record"
# view_answers NAME PATH...: start hx view on PATH... twice (its own model; --view-cache 1) and
# compare what both answer for every trace: every endpoint, every event.
view_answers() {
  local name=$1 c
  shift
  for c in warm store; do
    local opt=()
    [[ $c == store ]] && opt=(--view-cache 1)
    "$hx" view --no-open "${opt[@]}" "$@" >"$work/$name-$c.out" 2>"$work/$name-$c.err" &
    pids+=($!)
    if ! wait_line "$work/$name-$c.out" '^hx view: http://' "$!"; then
      fail "hx view $name ($c) did not start: $(cat "$work/$name-$c.err")"
      return
    fi
  done
  # the trace read first is the largest here: its model was built while loading
  ! grep -q 'model from the store' "$work/$name-warm.err" || fail "$name: the model was not built while loading"
  python3 - "$(sed -n 's/^hx view: //p' "$work/$name-warm.out")" \
    "$(sed -n 's/^hx view: //p' "$work/$name-store.out")" <<'PY' || fail "$name: the two models answer differently (above)"
import json, sys, urllib.request
warm, store = sys.argv[1:3]
def get(base, p):
    with urllib.request.urlopen(base + p, timeout=60) as r:
        return r.read()
diffs = asked = 0
for t in json.loads(get(warm, "api/traces?limit=1000"))["traces"]:
    tid = f"api/traces/{t['trace_id']}/"
    ov = json.loads(get(warm, tid + "view"))
    s, e = ov["start_ns"], ov["end_ns"] + 1
    paths = ["view", "critical-path", f"range?from={s}&to={e}", "find?q=op", "find?q=op&dir=prev"]
    paths += [f"lod?from={s}&to={e}&px={px}&arrows=true" for px in (7, 100, 1000, 16384)]
    paths += [f"lod?from={s + (e - s) // 3}&to={s + (e - s) // 2}&px=50&min_px=4"]
    paths += [f"event?e={i}" for i in range(ov["events"])]
    for p in paths:
        a, b = get(warm, tid + p), get(store, tid + p)
        asked += 1
        if a != b:
            diffs += 1
            if diffs <= 5:
                print(f"{tid}{p}: {a[:300]!r}\n  from the store: {b[:300]!r}")
print(f"{asked} answers compared, {diffs} differ")
sys.exit(1 if diffs or not asked else 0)
PY
  for c in store warm; do stop_ok "${pids[-1]}" "$name-$c"; unset 'pids[-1]'; done
}
view_answers ties "$work/ties"
view_answers hello "$work/hello"
view_answers both "$work/ties" "$work/hello"
pids=()

# --data DIR: kept; the browser ($BROWSER) gets the URL and its output stays out of ours
step "--data, the browser, usage"
cat >"$work/browser" <<'SH'
#!/bin/sh
echo "a browser's chatter"
printf '%s\n' "$1" >"$(dirname "$0")/browser.url"
SH
chmod +x "$work/browser"
BROWSER=$work/browser "$hx" view --data "$work/kept" --http 127.0.0.1:0 "$work/tr" \
  >"$work/kept.out" 2>"$work/kept.err" &
kept_pid=$!
pids+=("$kept_pid")
wait_line "$work/kept.out" '^hx view: http://' "$kept_pid" || fail "hx view --data did not start: $(cat "$work/kept.err")"
for ((i = 0; i < 600; i++)); do [[ -s $work/browser.url ]] && break; sleep 0.05; done
[[ "hx view: $(cat "$work/browser.url" 2>/dev/null)" == "$(head -1 "$work/kept.out")" ]] ||
  fail "the browser was given '$(cat "$work/browser.url" 2>/dev/null)', the line is '$(head -1 "$work/kept.out")'"
[[ $(wc -l <"$work/kept.out") -eq 1 ]] || fail "stdout holds more than the one line: $(cat "$work/kept.out")"
stop_ok "$kept_pid" kept
pids=()
[[ -n $(ls -A "$work/kept" 2>/dev/null) ]] || fail "--data DIR was not kept"
rc=0
"$hx" view --no-open >/dev/null 2>"$work/u1.err" || rc=$?
[[ $rc -eq 2 ]] || fail "hx view without a path: exit $rc"
rc=0
"$hx" view --no-open "$work/no-such-dir" >/dev/null 2>"$work/u2.err" || rc=$?
[[ $rc -eq 2 ]] || fail "hx view of a missing path: exit $rc"
rc=0
"$hx" view --no-open --bogus "$work/tr" >/dev/null 2>"$work/u3.err" || rc=$?
[[ $rc -eq 2 ]] || fail "hx view --bogus: exit $rc"

# ---- hx serve: the same viewer over shipped traces, with a token ----
step "hx serve"
printf 'view-token\n' >"$work/token"
"$hx" serve --data "$work/served" --listen 127.0.0.1:0 --http 127.0.0.1:0 \
  --token-file "$work/token" --view-cache 64M >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
pids+=("$serve_pid")
wait_line "$work/serve.out" '^listening ' "$serve_pid" || { echo "FAIL: hx serve did not start: $(cat "$work/serve.err")" >&2; exit 1; }
native=$(sed -n 's/^listening native=\([^ ]*\) .*/\1/p' "$work/serve.out")
http=$(sed -n 's/.* http=\([^ ]*\)$/\1/p' "$work/serve.out")
mkdir "$work/ship-state"
timeout 120 "$hx" ship "$work/tr" --to "tcp://$native" --token view-token --state "$work/ship-state" \
  --once >/dev/null 2>"$work/ship.err" || fail "hx ship --once: $(cat "$work/ship.err")"
python3 - "http://$http" "$work/events.json" <<'EOF' || fail "hx serve's viewer (above)"
import json, sys, urllib.error, urllib.request
base, events_path = sys.argv[1:3]
evs = {}
for l in open(events_path):
    e = json.loads(l)
    if e.get("trace"):
        evs.setdefault(e["trace"], []).append(e)
tid = max(evs, key=lambda t: len(evs[t]))
auth = {"Authorization": "Bearer view-token"}
def get(path, headers=None):
    req = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
errors = []
for path in ("/", "/assets/index.html", f"/api/traces/{tid}/view"):
    st, _, _ = get(path)
    if st != 401:
        errors.append(f"GET {path} without the token: {st}, expected 401")
st, h, body = get("/", auth)
if st != 200 or not h.get("Content-Type", "").startswith("text/html"):
    errors.append(f"GET / with the token: {st} {h.get('Content-Type')}")
st, h, body = get(f"/api/traces/{tid}/view", auth)
if st != 200:
    errors.append(f"GET view: {st} {body[:200]!r}")
else:
    ov = json.loads(body)
    if ov["events"] != len(evs[tid]) or ov["trace_id"] != tid:
        errors.append(f"hx serve's view: {ov['events']} events, the files hold {len(evs[tid])}")
st, _, _ = get(f"/api/traces/{'0' * 32}/view", auth)
if st != 404:
    errors.append(f"unknown trace on hx serve: {st}")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
EOF
# hx view reads a service URL as every command does (with HX_TOKEN)
tid=$(python3 -c 'import json,sys
n = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("trace"): n[e["trace"]] = n.get(e["trace"], 0) + 1
print(max(n, key=n.get), max(n.values()))' "$work/events.json")
read -r tid tid_events <<<"$tid"
HX_TOKEN=view-token "$hx" view --no-open "http://$http/api/traces/$tid" >"$work/url.out" 2>"$work/url.err" &
url_pid=$!
pids+=("$url_pid")
if wait_line "$work/url.out" '^hx view: http://' "$url_pid"; then
  got=$(curl -sS "$(sed -n 's/^hx view: //p' "$work/url.out")api/traces/$tid/view" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
  [[ $got == "$tid_events" ]] || fail "hx view of a URL: $got events, the files hold $tid_events"
  stop_ok "$url_pid" url
else
  fail "hx view of a URL did not start: $(cat "$work/url.err")"
fi
stop_ok "$serve_pid" serve
pids=()

echo "took $SECONDS s"
if [[ $failures -gt 0 ]]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "view.sh: all passed"
