#!/usr/bin/env bash
# import.sh - importing OpenTelemetry and Zipkin spans end to end (docs/interchange.md, "Import"):
#   - `hx import` of the documents in tests/data/import/ (an OTLP request as the collector sends it,
#     the collector's JSON Lines file, Zipkin spans as Brave reports them), then `hx dump`, `hx
#     stats` and `hx critical-path` on the files: the traces, root names, entities, causes (all
#     linked), errors and the critical path through the slow service;
#   - the errors: a malformed document (its line and column, nothing written), rejected spans (the
#     field path, exit 1, the rest written), a directory that holds the same import already;
#   - the round trip: a trace recorded by examples/pipeline, `hx export --format otlp` (and zipkin),
#     `hx import`: the same blocks (trace, name, start, end, enclosing block), root names and
#     attributes;
#   - `hx serve`: POST /v1/traces (plain and gzip) and POST /api/v2/spans, then GET /api/traces
#     finds the traces with their root names, GET /api/traces/{id} holds every event, a resend is
#     all duplicates, and the errors: 415 for protobuf, 400 with the place, 413 over --max-frame.
#
# tests/run.sh runs it in an empty working directory with HX, HX_BUILD_DIR and HX_SOURCE_DIR set.
# Needs bash, python3 (stdlib), curl, gzip; zstd(1) when installed (a zstd body).
set -euo pipefail

build=${1:-${HX_BUILD_DIR:-build}}
hx=${HX:-$build/src/cli/hx}
src=${HX_SOURCE_DIR:-.}
data=$src/tests/data/import
work=$(mktemp -d "${TMPDIR:-/tmp}/hxtest-import.XXXXXX")
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

for c in curl python3 gzip; do
  command -v "$c" >/dev/null || { echo "FAIL: $c is not installed (scripts/deps.sh)" >&2; exit 1; }
done
[[ -x $hx ]] || { echo "FAIL: $hx is not built" >&2; exit 1; }

# expect_rc WANT CMD...: run, keep stdout/stderr in $work/out, $work/err
expect_rc() {
  local want=$1 rc=0
  shift
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  [[ $rc == "$want" ]] || { fail "$* exited $rc, expected $want: $(head -c 400 "$work/err")"; return 1; }
}

# ---- hx import of the sample documents ----
step "hx import: OTLP"
expect_rc 0 "$hx" import "$data/otlp_shop.json" -o "$work/otlp"
[[ $(ls "$work/otlp"/*.hx | wc -l) == 6 ]] || fail "otlp: $(ls "$work/otlp" | wc -l) files, expected 6 (one per service)"
grep -q '^11 spans read, 11 imported as 61 events (2 traces, 7 entities, 6 processes)$' "$work/out" ||
  fail "otlp summary: $(cat "$work/out")"
"$hx" dump --json "$work/otlp" >"$work/otlp.json" 2>"$work/dump.err" || fail "hx dump of the import: $(cat "$work/dump.err")"
grep -q 'no damage' "$work/dump.err" || fail "hx dump reports damage: $(cat "$work/dump.err")"
"$hx" stats --json "$work/otlp" >"$work/stats.json" || fail "hx stats --json failed"
"$hx" critical-path --json --trace 4bf92f3577b34da6a3ce929d0e0e4736 "$work/otlp" >"$work/cp.json" ||
  fail "hx critical-path failed"
"$hx" critical-path "$work/otlp" >"$work/cp.txt" || fail "hx critical-path (text) failed"
grep -q 'get_product_list' "$work/cp.txt" || fail "the critical path misses the slow span: $(head -20 "$work/cp.txt")"

python3 - "$work/otlp.json" "$work/stats.json" "$work/cp.json" <<'EOF' || fail "otlp import: the events are not what the spans say (above)"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
stats = json.load(open(sys.argv[2]))
cp = json.load(open(sys.argv[3]))
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)

# blocks, by name: start, end, entity, enclosing block
stack, blocks = {}, {}
for e in sorted(events, key=lambda e: (e["entity"], e["seq"])):
    s = stack.setdefault(e["entity"], [])
    if e["kind"] == "block_begin":
        s.append(e)
    elif e["kind"] == "block_end":
        b = s.pop()
        blocks.setdefault(b["name"], []).append((b["time_ns"], e["time_ns"], b["entity"], s[-1]["name"] if s else None, b))
T = 1714000000000000000
ms = 1000000
cart = blocks["oteldemo.CartService/GetCart"][0]
check(cart[0] == T + 3 * ms and cart[1] == T + 19 * ms, f"GetCart times {cart[:2]}")
check(blocks["HGET"][0][3] == "oteldemo.CartService/GetCart", "HGET not nested in GetCart")
check(blocks["HGET"][0][2] == cart[2], "HGET on another entity than its parent")
check(blocks["grpc.oteldemo.CartService/GetCart"][0][3] == "GET /api/cart", "the client call not nested in GET /api/cart")
rec = blocks["grpc.oteldemo.RecommendationService/ListRecommendations"][0]
check(rec[2] != blocks["GET /api/cart"][0][2], "the concurrent client call shares its parent's entity")
attrs = blocks["GET /api/cart"][0][4]["attrs"]
check(attrs.get("http.response.status_code") == 200 and attrs.get("span.kind") == "server", f"root attributes {attrs}")
check(blocks["get_product_list"][0][4]["attrs"].get("app.filter.ratio") == 0.25, "a double attribute lost its type")
# interactions: every cause in the input, request/reply and fork/join and publish
by_id = {(e["entity"], e["seq"]): e for e in events}
kinds = {}
for e in events:
    if e["kind"] == "effect":
        for c in e["causes"]:
            kinds[e["interaction"]] = kinds.get(e["interaction"], 0) + 1
            if c.get("foreign"):
                continue
            cause = by_id.get((c["entity"], c["seq"]))
            check(cause is not None and cause["kind"] == "cause", f"effect {e['name']} names no cause event")
check(kinds.get("request") == 2 and kinds.get("reply") == 2, f"request/reply {kinds}")
check(kinds.get("fork") == 1 and kinds.get("join") == 1 and kinds.get("publish") == 2 and kinds.get("causal") == 1, f"kinds {kinds}")
check(sum(1 for e in events if e["kind"] == "error") == 2, "errors")
names = {e["name"] for e in events if e["kind"] == "entity_begin"}
check("cart .NET ThreadPool Worker" in names and "frontend #2" in names, f"entity names {names}")
# stats: two traces with their root names, nothing dangling
traces = {t["id"]: t for t in stats["traces"]}
check(traces["4bf92f3577b34da6a3ce929d0e0e4736"]["root"] == "GET /api/cart", "root name of trace 1")
check(traces["5b8efff798038103d269b633813fc60c"]["root"] == "oteldemo.CheckoutService/PlaceOrder", "root name of trace 2")
check(stats["causes"]["dangling"] == 0 and stats["causes"]["linked"] == 9, f"causes {stats['causes']}")
# the critical path: 48 ms, through the recommendation service, nothing unexplained
check(cp["duration_ns"] == 48 * ms, f"critical path duration {cp['duration_ns']}")
check(cp["by_kind"]["unexplained"] == 0, f"unexplained time on the critical path: {cp['by_kind']}")
check(any(b["block"] == "get_product_list" and b["ns"] == 31 * ms for b in cp["by_block"]), f"by block {cp['by_block']}")
for x in errors:
    print(x)
sys.exit(1 if errors else 0)
EOF

step "hx import: Zipkin, JSON Lines, all together"
expect_rc 0 "$hx" import --format zipkin "$data/zipkin_shop.json" -o "$work/zipkin"
"$hx" stats "$work/zipkin" >"$work/zstats" || fail "hx stats of the Zipkin import"
grep -q '0000000000000000463ac35c9f6413ad  "get /"' "$work/zstats" || fail "Zipkin trace (64-bit ID padded, root name): $(grep -A3 '^traces' "$work/zstats")"
grep -q '2 errors' "$work/zstats" || fail "Zipkin error tags: $(grep -A3 '^traces' "$work/zstats")"
expect_rc 0 "$hx" import "$data/otlp_lines.jsonl" -o "$work/lines"
"$hx" stats "$work/lines" >"$work/lstats"
grep -q 'causes 1 linked 0 dangling 0 external' "$work/lstats" ||
  fail "JSON Lines: the child in line 1 is not linked to its parent in line 2: $(grep -A2 '^traces' "$work/lstats")"
expect_rc 0 "$hx" import "$data/otlp_shop.json" "$data/zipkin_shop.json" "$data/otlp_lines.jsonl" -o "$work/all"
grep -q '^20 spans read, 20 imported as .* (5 traces, ' "$work/out" || fail "all together: $(tail -1 "$work/out")"
expect_rc 2 "$hx" import "$data/otlp_shop.json" "$data/zipkin_shop.json" "$data/otlp_lines.jsonl" -o "$work/all"
grep -q 'exists: these documents were imported there already' "$work/err" || fail "a second import: $(cat "$work/err")"

step "hx import: errors"
printf '{"resourceSpans":[{"scopeSpans":[\n{"spans":[}]}]}' >"$work/bad.json"
expect_rc 2 "$hx" import "$work/bad.json" -o "$work/bad"
grep -q 'bad.json: not valid JSON at line 2, column 11' "$work/err" || fail "malformed: $(cat "$work/err")"
[[ ! -e $work/bad ]] || fail "a malformed document created its output directory"
python3 - "$data/otlp_shop.json" "$work/rejects.json" <<'EOF'
import json, sys
# other traces than the document's own, so that the service keeps both apart
text = open(sys.argv[1]).read().replace("4bf92f3577b34da6", "1111111111111111").replace("5b8efff798038103", "2222222222222222")
d = json.loads(text)
d["resourceSpans"][1]["scopeSpans"][0]["spans"][0]["traceId"] = "00000000000000000000000000000000"
json.dump(d, open(sys.argv[2], "w"))
EOF
expect_rc 1 "$hx" import "$work/rejects.json" -o "$work/rejects"
grep -q 'resourceSpans\[1\].scopeSpans\[0\].spans\[0\].traceId: all zero' "$work/err" || fail "rejection: $(cat "$work/err")"
[[ $(ls "$work/rejects"/*.hx | wc -l) == 6 ]] || fail "the spans not rejected were not written"
expect_rc 2 "$hx" import --max-bytes 1K "$data/otlp_shop.json" -o "$work/big"
grep -q 'larger than 1024 bytes' "$work/err" || fail "--max-bytes: $(cat "$work/err")"
expect_rc 2 "$hx" import --format xml "$data/otlp_shop.json" -o "$work/x"
expect_rc 2 "$hx" import "$data/otlp_shop.json"

# ---- the round trip: a Haruspex trace, exported and imported back ----
step "round trip: hx export, hx import"
if ! timeout 120 "$build/examples/pipeline" --items 30 --workers 2 "$work/src" >/dev/null; then
  fail "examples/pipeline did not record"
else
  "$hx" dump --json "$work/src" >"$work/src.json" 2>/dev/null
  for fmt in otlp zipkin; do
    expect_rc 0 "$hx" export --format "$fmt" -o "$work/rt.$fmt" "$work/src" || continue
    expect_rc 0 "$hx" import --format "$fmt" "$work/rt.$fmt" -o "$work/rt-$fmt" || continue
    "$hx" dump --json "$work/rt-$fmt" >"$work/rt-$fmt.json" 2>/dev/null
    python3 - "$work/src.json" "$work/rt-$fmt.json" "$fmt" <<'EOF' || fail "round trip through $fmt (above)"
import json, sys
# Annotations of a trace (hx_annotate(HX_TARGET_TRACE)) travel as attributes of its root span:
# they are left out of the comparison on both sides.
trace_ann = {}
for l in open(sys.argv[1]):
    e = json.loads(l) if l.strip() else {}
    if e.get("kind") == "annotate" and e.get("target") == "trace":
        trace_ann.setdefault(e["trace"], {}).update(e["attrs"])
def load(path):
    events = [json.loads(l) for l in open(path) if l.strip()]
    blocks, stack, roots = [], {}, {}
    for e in sorted(events, key=lambda e: (e["entity"], e["seq"])):
        s = stack.setdefault(e["entity"], [])
        if e["kind"] == "trace_begin":
            roots[e["trace"]] = e["name"]
        if e["kind"] == "block_begin":
            s.append((e, dict(e["attrs"])))
        elif e["kind"] == "annotate" and e.get("target") == "block" and s:
            s[-1][1].update(e["attrs"])
        elif e["kind"] == "block_end" and s:
            b, attrs = s.pop()
            attrs.update(e["attrs"])  # a span has one set: the begin's, annotations', end's
            if b.get("trace"):  # what a span format can hold: blocks inside a trace
                ann = trace_ann.get(b["trace"], {})
                attrs = {k: v for k, v in attrs.items()
                         if not k.startswith(("otel.", "hx.", "thread.")) and k != "span.kind"
                         and not (k in ann and ann[k] == v)}
                blocks.append([b["trace"], b["name"], s[-1][0]["name"] if s else None,
                               b["time_ns"], e["time_ns"], json.dumps(attrs, sort_keys=True)])
    return sorted(blocks), roots
zipkin = sys.argv[3] == "zipkin"
a, ra = load(sys.argv[1])
b, rb = load(sys.argv[2])
# OTLP keeps nanoseconds and typed attributes; Zipkin microseconds (a duration under one rounded
# up to one) and string tags
slack = 1000 if zipkin else 0
left = {}
for x in b:
    left.setdefault(tuple(x[:3]), []).append(x)
missing = []
for x in a:
    cands = left.get(tuple(x[:3]), [])
    for i, y in enumerate(cands):
        if abs(y[3] - x[3]) <= slack and abs(y[4] - x[4]) <= slack + (1000 if zipkin else 0) and \
           (zipkin or y[5] == x[5]):
            del cands[i]
            break
    else:
        missing.append(x)
extra = [y for ys in left.values() for y in ys]
if missing or extra or len(a) != len(b) or not a:
    print(f"{len(a)} blocks recorded, {len(b)} imported back; first differences:")
    for x in missing[:5]:
        print("  recorded only:", x)
    for x in extra[:5]:
        print("  imported only:", x)
    sys.exit(1)
for t, name in rb.items():
    if ra.get(t) != name:
        print(f"trace {t}: root name {name!r}, recorded {ra.get(t)!r}")
        sys.exit(1)
EOF
  done
fi

# ---- the service ----
step "hx serve: POST /v1/traces, POST /api/v2/spans"
start() {
  local name=$1
  shift
  rm -f "$work/$name.out"
  "$hx" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 "$@" >"$work/$name.out" 2>>"$work/$name.err" &
  PID=$!
  pids+=("$PID")
  local i
  for ((i = 0; i < 300; i++)); do
    if grep -q '^listening ' "$work/$name.out" 2>/dev/null; then
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
# post PATH FILE [CURL ARGS...]: body to $work/body, status echoed
post() {
  local path=$1 file=$2
  shift 2
  curl -sS -o "$work/body" -w '%{http_code}' -X POST --data-binary "@$file" "$@" "http://$HTTP$path"
}
expect_post() {
  local want=$1 got
  shift
  got=$(post "$@")
  [[ $got == "$want" ]] || fail "POST $1: HTTP $got, expected $want: $(head -c 300 "$work/body")"
}
json=(-H 'Content-Type: application/json')

start main --data "$work/data" --max-frame 64K
main=$PID
expect_post 200 /v1/traces "$data/otlp_shop.json" "${json[@]}"
grep -qx '{"partialSuccess":{}}' "$work/body" || fail "OTLP answer: $(cat "$work/body")"
expect_post 202 /api/v2/spans "$data/zipkin_shop.json" "${json[@]}"
grep -q '"spans":6,"rejected":0,"events":34,"stored":34,"duplicates":0' "$work/body" || fail "Zipkin answer: $(cat "$work/body")"
head -1 "$data/otlp_lines.jsonl" | gzip -c >"$work/line1.gz"
sed -n 2p "$data/otlp_lines.jsonl" >"$work/line2.json"
expect_post 200 /v1/traces "$work/line1.gz" "${json[@]}" -H 'Content-Encoding: gzip'
if command -v zstd >/dev/null; then
  zstd -q -c "$work/line2.json" >"$work/line2.zst"
  expect_post 200 /v1/traces "$work/line2.zst" -H 'Content-Type: application/json; charset=utf-8' \
    -H 'Content-Encoding: zstd'
else
  expect_post 200 /v1/traces "$work/line2.json" -H 'Content-Type: application/json; charset=utf-8'
fi
# a resend: every event a duplicate
expect_post 202 /api/v2/spans "$data/zipkin_shop.json" "${json[@]}"
grep -q '"stored":0,"duplicates":34' "$work/body" || fail "Zipkin resend: $(cat "$work/body")"
# errors
expect_post 415 /v1/traces "$data/otlp_shop.json" -H 'Content-Type: application/x-protobuf'
grep -q '"code":3,"message":"only the JSON encoding of OTLP/HTTP is supported' "$work/body" || fail "415: $(cat "$work/body")"
expect_post 415 /api/v2/spans "$data/zipkin_shop.json" -H 'Content-Type: application/x-thrift'
expect_post 400 /v1/traces "$work/bad.json" "${json[@]}"
grep -q 'not valid JSON at line 2, column 11' "$work/body" || fail "400: $(cat "$work/body")"
expect_post 400 /api/v2/spans "$data/otlp_shop.json" "${json[@]}"
grep -q 'expected an array of Zipkin v2 spans' "$work/body" || fail "400 (zipkin): $(cat "$work/body")"
expect_post 200 /v1/traces "$work/rejects.json" "${json[@]}"
grep -q '"rejectedSpans":1,"errorMessage":".*resourceSpans\[1\].scopeSpans\[0\].spans\[0\].traceId: all zero' "$work/body" ||
  fail "partial success: $(cat "$work/body")"
head -c 70000 /dev/zero | tr '\0' ' ' >"$work/spaces.json"
expect_post 413 /v1/traces "$work/spaces.json" "${json[@]}"
gzip -c "$work/spaces.json" >"$work/spaces.gz"
expect_post 413 /v1/traces "$work/spaces.gz" "${json[@]}" -H 'Content-Encoding: gzip'
grep -q 'larger than 65536 bytes after decompression' "$work/body" || fail "gzip over the limit: $(cat "$work/body")"
expect_post 405 /v1/traces "$data/otlp_shop.json" "${json[@]}" -X PUT

step "hx serve: GET /api/traces finds them"
python3 - "http://$HTTP" <<'EOF' || fail "the service's traces (above)"
import json, sys, urllib.request
base = sys.argv[1]
def get(path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return json.load(r)
want = {"4bf92f3577b34da6a3ce929d0e0e4736": ("GET /api/cart", 41, ["cart", "frontend", "recommendation"]),
        "5b8efff798038103d269b633813fc60c": ("oteldemo.CheckoutService/PlaceOrder", 20, ["accounting", "checkout", "fraud-detection"]),
        "0000000000000000463ac35c9f6413ad": ("get /", 22, ["backend", "frontend"]),
        # its two lines sent apart: the publish has no CAUSE (its consumer came in another request)
        "0af7651916cd43dd8448eb211c80319c": ("POST /jobs", 14, ["api", "worker"])}
got = {t["trace_id"]: t for t in get("/api/traces?limit=100")["traces"]}
bad = 0
for tid, (root, n, services) in want.items():
    t = got.get(tid)
    if not t or t["root_name"] != root or t["events"] != n or t["services"] != services:
        print(f"trace {tid}: {t}, expected root {root!r}, {n} events, services {services}")
        bad = 1
        continue
    full = get(f"/api/traces/{tid}")
    if len(full["events"]) != n:
        print(f"trace {tid}: {len(full['events'])} events fetched, {n} listed")
        bad = 1
z = get("/api/traces?service=auditor")["traces"]
if [t["root_name"] for t in z] != ["send"]:
    print("service search:", z)
    bad = 1
sys.exit(bad)
EOF
"$hx" critical-path "http://$HTTP/api/traces/4bf92f3577b34da6a3ce929d0e0e4736" >"$work/cp-url.txt" 2>&1 ||
  fail "hx critical-path of the stored trace: $(cat "$work/cp-url.txt")"
grep -q 'get_product_list' "$work/cp-url.txt" || fail "critical path of the stored trace: $(head "$work/cp-url.txt")"

kill -TERM "$main"
rc=0
wait "$main" || rc=$?
[[ $rc == 0 ]] || fail "hx serve exited $rc after SIGTERM"

if ((failures)); then
  echo "import.sh: $failures failure(s)" >&2
  exit 1
fi
echo "import.sh: all passed ($SECONDS s)"
