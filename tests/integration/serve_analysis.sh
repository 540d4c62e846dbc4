#!/usr/bin/env bash
# serve_analysis.sh - continuous analysis in `hx serve` (src/server/extract.c, features_db.c,
# api_analysis.c): traces recorded by examples/shop (7 processes, 5 services) are shipped with
# `hx ship --once` to a service running with --complete-idle 1s, and then
#   - every trace shows up in GET /api/complete, each once, in pages;
#   - GET /api/aggregates answers what `hx analyze` computes from the same files (counts and
#     quantiles exactly: the same features through the same aggregator), grouped, filtered by
#     where, by block name, and by an attribute kept with --analysis-attrs;
#   - GET /api/dependencies has exactly the edges and call counts of `hx analyze --dependencies`
#     (latency quantiles within 1 %, maxima exact), by service and by entity;
#   - a trace that gets more events after it was extracted (processes shipping late) is extracted
#     again: it comes back in /api/complete and its features grow;
#   - a restart keeps everything; retention that drops the traces drops their features;
#   - bad parameters get 400, and the metrics count what happened.
#
#     tests/integration/serve_analysis.sh [BUILD_DIR]      (default: build)
#
# tests/run.sh runs it in an empty working directory with HX, HX_BUILD_DIR and HX_SOURCE_DIR set.
# Needs bash, python3 (stdlib), curl, and examples/shop (libevent, libcurl).
set -euo pipefail

build=${1:-${HX_BUILD_DIR:-build}}
hx=${HX:-$build/src/cli/hx}
shop=$build/examples/shop/shop
work=$(mktemp -d "${TMPDIR:-/tmp}/hxtest-analysis.XXXXXX")
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

[[ -x $hx ]] || { echo "FAIL: no hx binary at $hx" >&2; exit 1; }
[[ -x $shop ]] || { echo "FAIL: $shop not built (it needs libevent-dev and libcurl: scripts/deps.sh)" >&2; exit 1; }
command -v curl >/dev/null || { echo "FAIL: curl is not installed (scripts/deps.sh)" >&2; exit 1; }

# start NAME ARGS...: hx serve in the background on free ports; sets PID, NATIVE, HTTP.
start() {
  local name=$1
  shift
  rm -f "$work/$name.out"
  "$hx" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 "$@" \
    >"$work/$name.out" 2>>"$work/$name.err" &
  PID=$!
  pids+=("$PID")
  local i
  for ((i = 0; i < 600; i++)); do
    if grep -q '^listening ' "$work/$name.out" 2>/dev/null; then
      NATIVE=$(sed -n 's/^listening native=\([^ ]*\) .*/\1/p' "$work/$name.out")
      HTTP=$(sed -n 's/.* http=\([^ ]*\)$/\1/p' "$work/$name.out")
      return 0
    fi
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL: hx serve ($name) did not start:" >&2
  cat "$work/$name.err" >&2
  exit 1
}

stop() {
  local pid=$1 name=$2 rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || fail "$name: hx serve exited with $rc after SIGTERM"
}

metric() { # metric NAME -> value
  curl -sS "http://$HTTP/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}

# wait_complete N: poll /api/complete (in pages of 2) until it lists N distinct traces (60 s).
wait_complete() {
  python3 - "http://$HTTP" "$1" <<'EOF' || { fail "traces did not complete (above)"; tail -5 "$work/main.err" >&2; }
import json, sys, time, urllib.request
base, want = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 60
while True:
    after, seen = "0", set()
    while True:
        with urllib.request.urlopen(f"{base}/api/complete?after={after}&limit=2", timeout=30) as r:
            o = json.load(r)
        seen.update(o["traces"])
        if not o["traces"]:
            break
        after = o["next"]
    if len(seen) >= want:
        break
    assert time.time() < deadline, f"after 60 s /api/complete lists {len(seen)} traces, expected {want}"
    time.sleep(0.2)
EOF
}

# ---- traces: the shop (client -> gateway -> inventory, payment; gateway -> workers) ----
step "recording the shop"
rc=0
timeout 120 "$shop" --requests 6 --workers 2 --timeout 60 "$work/src" \
  >"$work/shop.out" 2>&1 || rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: the shop exited with $rc" >&2; cat "$work/shop.out" >&2; exit 1; }
"$hx" dump --json "$work/src" >"$work/src.json" 2>/dev/null
ntraces=$(python3 -c '
import json, sys
print(len({o["trace"] for o in map(json.loads, open(sys.argv[1])) if o.get("trace")}))' "$work/src.json")
[[ $ntraces -eq 6 ]] || fail "the shop recorded $ntraces traces, expected 6"
# the first part: client and gateway; the late part: the other processes
mkdir -p "$work/early" "$work/late"
cp "$work"/src/shop-client-*.hx "$work"/src/shop-gateway-*.hx "$work/early/"
for f in "$work"/src/*.hx; do
  case $(basename "$f") in shop-client-* | shop-gateway-*) ;; *) cp "$f" "$work/late/" ;; esac
done

# ---- extraction of complete traces ----
step "ship the client's and gateway's events, wait for the traces to complete"
start main --data "$work/data" --complete-idle 1s --analysis-attrs item,qty
main=$PID
"$hx" ship "$work/early" --to "tcp://$NATIVE" --once 2>"$work/ship1.err" || fail "hx ship (early) failed"
wait_complete "$ntraces"
curl -sS "http://$HTTP/api/complete?limit=1000" >"$work/complete1.json"
curl -sS "http://$HTTP/api/aggregates?group_by=service" >"$work/early_services.json"

step "ship the rest late: the traces are extracted again"
"$hx" ship "$work/late" --to "tcp://$NATIVE" --once 2>"$work/ship2.err" || fail "hx ship (late) failed"
python3 - "http://$HTTP" "$work/complete1.json" "$ntraces" <<'EOF' || fail "no re-extraction after late events (above)"
import json, sys, time, urllib.request
base, first, n = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
assert len(first["traces"]) == n and len(set(first["traces"])) == n, first
deadline = time.time() + 60
while True:
    with urllib.request.urlopen(f"{base}/api/complete?after={first['next']}&limit=1000", timeout=30) as r:
        again = json.load(r)
    if set(again["traces"]) >= set(first["traces"]) or time.time() > deadline:
        break
    time.sleep(0.2)
missing = set(first["traces"]) - set(again["traces"])
assert not missing, f"not extracted again after their late events: {sorted(missing)}"
assert int(again["next"]) > int(first["next"]), again
# the log from the start lists each trace once, at its latest place
with urllib.request.urlopen(f"{base}/api/complete?limit=1000", timeout=30) as r:
    whole = json.load(r)
assert sorted(whole["traces"]) == sorted(first["traces"]), whole
print("re-extracted after late events:", len(again["traces"]), "traces")
EOF
# with the late services in: workers, inventory and payment appear
python3 - "$work/early_services.json" "http://$HTTP" <<'EOF' || fail "features did not grow with the late events"
import json, sys, urllib.request
early = {g["key"]["service"] for g in json.load(open(sys.argv[1]))["groups"]}
with urllib.request.urlopen(sys.argv[2] + "/api/aggregates?group_by=service", timeout=30) as r:
    now = {g["key"]["service"] for g in json.load(r)["groups"]}
assert early == {"client", "gateway"}, early
assert now == {"client", "gateway", "inventory", "payment", "worker"}, now
EOF
# the store must hold everything before comparing with the files
[[ $(metric hx_store_events) == $(wc -l <"$work/src.json") ]] ||
  fail "the store holds $(metric hx_store_events) events, the files $(wc -l <"$work/src.json")"

# ---- answers against hx analyze over the same files ----
step "aggregates and dependencies against hx analyze"
python3 - "http://$HTTP" "$hx" "$work/src" "$work/answers.json" <<'EOF' ||
import json, subprocess, sys, urllib.parse, urllib.request
base, hx, src, keep = sys.argv[1:5]
answers = {}  # every answer, to compare after the restart

def api(path):
    with urllib.request.urlopen(base + path, timeout=60) as r:
        answers[path] = json.load(r)
        return answers[path]

def analyze(*args):
    out = subprocess.run([hx, "analyze", "--json", *args, src], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)

# (each `hx analyze` reads every file again: few cases, each covering several things)
cases = [
    ({}, []),
    ({"group_by": "service,host", "metric": "events"},
     ["--group-by", "service", "--group-by", "host", "--metric", "events"]),
    ({"group_by": "name", "metric": "self"}, ["--group-by", "name", "--metric", "self"]),
    ({"where": 'service = "payment" and critical > 1us', "group_by": "root"},
     ["--where", 'service = "payment" and critical > 1us', "--group-by", "root"]),
    ({"group_by": "attr.item,attr.qty", "metric": "critical"},
     ["--group-by", "attr:item", "--group-by", "attr:qty", "--metric", "critical"]),
]
checked = 0
results = {}
for q, args in cases:
    got = api("/api/aggregates?" + urllib.parse.urlencode(q))
    want = results[tuple(args)] = analyze(*args)
    assert got["traces"] == want["matched"], (q, got["traces"], want["matched"])
    assert got["truncated"] is False and got["scanned"] == 6, (q, got)
    sfx = "_ns" if want["unit"] == "ns" else ""
    keys = want["group_by"]
    def label(k):
        return k.replace("attr:", "attr.")
    rows = {tuple(r.get(k) for k in keys): r for r in want["rows"]}
    groups = {tuple(g["key"][label(k)] for k in keys): g for g in got["groups"]}
    assert set(rows) == set(groups), (q, sorted(rows), sorted(groups))
    for k, r in rows.items():
        g = groups[k]
        assert g["count"] == r["count"], (q, k, g, r)
        for f in ("p50", "p90", "p99", "max", "mean"):
            assert abs(g[f + sfx] - r[f]) <= 1e-3 * max(1, abs(r[f])), (q, k, f, g, r)
        hist = g["histogram"]
        assert 0 < len(hist) <= 40 and sum(c for _, c in hist) == g["count"], (q, hist)
        checked += 1
# one block name, its self time: the same as grouping by name and keeping that row
names = results[("--group-by", "name", "--metric", "self")]["rows"]
for r in names:
    got = api("/api/aggregates?" + urllib.parse.urlencode({"name": r["name"], "metric": "self",
                                                           "buckets": "8"}))
    assert len(got["groups"]) == 1, got
    g = got["groups"][0]
    assert g["key"] == {"name": r["name"]} and g["count"] == r["count"], (g, r)
    assert g["p50_ns"] == r["p50"] and g["max_ns"] == r["max"], (g, r)
    assert len(g["histogram"]) <= 8, g
    checked += 1

for by, flag in (("service", "--dependencies"), ("entity", "--dependencies=entity")):
    got = api("/api/dependencies?by=" + by)
    want = analyze(flag)
    assert got["by"] == want["by"] == by and got["truncated"] is False, got
    wn = {n["id"]: (n["calls_in"], n["calls_out"], n.get("service")) for n in want["nodes"]}
    gn = {n["id"]: (n["calls_in"], n["calls_out"], n.get("service")) for n in got["nodes"]}
    assert wn == gn, (by, wn, gn)
    we = {(e["from"], e["to"], e["kind"]): e for e in want["edges"]}
    ge = {(e["from"], e["to"], e["kind"]): e for e in got["edges"]}
    assert set(we) == set(ge), (by, sorted(we), sorted(ge))
    assert len(we) >= 10, (by, "the shop has requests, replies, publishes and joins", we)
    for k, w in we.items():
        g = ge[k]
        assert g["calls"] == w["calls"] and g["max_ns"] == w["max_ns"], (k, g, w)
        for f in ("p50_ns", "p99_ns"):
            assert abs(g[f] - w[f]) <= 0.01 * w[f] + 1, (k, f, g, w)
    checked += len(we)
# a time range that holds none of the traces: nothing
empty = api("/api/dependencies?from=1000&to=2000")
assert empty["edges"] == [] and empty["nodes"] == [], empty
none = api("/api/aggregates?to=1000")
assert none["traces"] == 0 and none["groups"] == [], none
json.dump(answers, open(keep, "w"))
print("answers match hx analyze:", checked, "groups and edges")
EOF
  fail "the service's answers differ from hx analyze (above)"

# ---- bad parameters, metrics ----
step "bad parameters"
python3 - "http://$HTTP" "$ntraces" <<'EOF' || fail "bad parameters or metrics (above)"
import json, sys, urllib.error, urllib.request
base, n = sys.argv[1], int(sys.argv[2])
bad = ["aggregates?metric=bogus", "aggregates?group_by=colour", "aggregates?metric=self",
       "aggregates?where=duration%20%3E", "aggregates?where=nosuchfield%20%3D%201",
       "aggregates?from=yesterday", "aggregates?from=2000&to=1000", "aggregates?buckets=3",
       "aggregates?buckets=201", "aggregates?group_by=service,service", "aggregates?name=",
       "aggregates?colour=red", "aggregates?group_by=service,root,host,attr.x,attr.y",
       "aggregates?where=" + "(" * 100 + "1", "dependencies?by=host", "dependencies?to=soon",
       "dependencies?from=1&from=2", "complete?limit=0", "complete?limit=1001",
       "complete?after=-1", "complete?after=x", "complete?cursor=1", "complete?after=%00"]
errors = []
for q in bad:
    try:
        urllib.request.urlopen(f"{base}/api/{q}", timeout=30).read()
        errors.append(f"/api/{q}: 200, expected 400")
    except urllib.error.HTTPError as e:
        body = e.read()
        if e.code != 400 or "error" not in json.loads(body):
            errors.append(f"/api/{q}: {e.code} {body[:200]!r}")
try:
    urllib.request.urlopen(urllib.request.Request(f"{base}/api/aggregates", data=b"", method="POST"))
    errors.append("POST /api/aggregates answered")
except urllib.error.HTTPError as e:
    if e.code != 405:
        errors.append(f"POST /api/aggregates: {e.code}")
m = {}
for line in urllib.request.urlopen(base + "/metrics", timeout=30).read().decode().splitlines():
    if line and not line.startswith("#"):
        k, v = line.rsplit(" ", 1)
        m[k] = int(v)
if m.get("hx_traces_extracted_total", 0) < 2 * n:
    errors.append(f"hx_traces_extracted_total {m.get('hx_traces_extracted_total')}, expected >= {2 * n}")
for k in ("hx_extraction_errors_total", "hx_extract_dropped_total"):
    if m.get(k) != 0:
        errors.append(f"{k} = {m.get(k)}, expected 0")
if "hx_extract_tracked" not in m:
    errors.append("no hx_extract_tracked gauge")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
EOF

# ---- restart ----
step "restart keeps the features"
curl -sS "http://$HTTP/api/complete?limit=1000" >"$work/before.json"
stop "$main" main
[[ -s $work/data/features.db ]] || fail "no features.db in the data directory"
start main --data "$work/data" --complete-idle 1s --analysis-attrs item,qty
main=$PID
curl -sS "http://$HTTP/api/complete?limit=1000" >"$work/after.json"
cmp -s "$work/before.json" "$work/after.json" || fail "the completion log changed across a restart"
python3 - "http://$HTTP" "$work/answers.json" <<'EOF' || fail "after a restart the answers differ (above)"
import json, sys, urllib.request
base, answers = sys.argv[1], json.load(open(sys.argv[2]))
for path, before in answers.items():
    with urllib.request.urlopen(base + path, timeout=60) as r:
        now = json.load(r)
    assert now == before, (path, before, now)
print("the same", len(answers), "answers after a restart")
EOF
sleep 2 # a round of the extraction thread: nothing is extracted again (all up to date)
[[ $(metric hx_traces_extracted_total) == 0 ]] ||
  fail "a restart extracted $(metric hx_traces_extracted_total) traces again"
stop "$main" main

# ---- retention ----
step "retention drops the features of dropped traces"
sleep 1
start main --data "$work/data" --complete-idle 1s --retention-age 1s
main=$PID
python3 - "http://$HTTP" <<'EOF' || fail "retention (above)"
import json, sys, time, urllib.request
base = sys.argv[1]
def get(path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return r.read().decode()
deadline = time.time() + 60
while True:
    stored = [l for l in get("/metrics").splitlines() if l.startswith("hx_store_traces ")]
    listed = json.loads(get("/api/complete?limit=1000"))["traces"]
    if stored == ["hx_store_traces 0"] and not listed:
        break
    assert time.time() < deadline, f"retention dropped the traces ({stored}), /api/complete lists {listed}"
    time.sleep(0.2)
deps = json.loads(get("/api/dependencies"))
assert deps["edges"] == [] and deps["nodes"] == [], f"dependencies of dropped traces remain: {deps}"
EOF
stop "$main" main

if [[ $failures -gt 0 ]]; then
  echo "serve_analysis.sh: $failures failure(s)" >&2
  exit 1
fi
echo "serve_analysis.sh: ok ($SECONDS s)"
