#!/usr/bin/env bash
# serve.sh - `hx serve` end to end: native ingest with ACKs and dedup, every HTTP endpoint checked
# against the source trace files, bad frames (each closes only its own connection and is counted
# by reason), the token, POST /api/events with its limits, TLS, a flood from 16 clients under a
# small --memory-limit (RSS bounded, every acknowledged event stored), and SIGKILL during ingest
# (20 rounds: after each restart every acknowledged event is there).
#
#     tests/integration/serve.sh [BUILD_DIR]      (default: build)
#
# tests/run.sh runs it in an empty working directory with HX, HX_BUILD_DIR and HX_SOURCE_DIR set.
# Needs bash, python3 (stdlib), curl; openssl(1) for the TLS part (skipped without it).
set -euo pipefail

build=${1:-build}
hx=${HX:-$build/src/cli/hx}
client=$build/tests/serve_client
pipeline=$build/examples/pipeline
work=$(mktemp -d "${TMPDIR:-/tmp}/hxtest-serve.XXXXXX")
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

for f in "$hx" "$client" "$pipeline"; do
  [[ -x $f ]] || { echo "FAIL: $f is not built" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "FAIL: curl is not installed (scripts/deps.sh)" >&2; exit 1; }

asan=0
if grep -aq __asan_init "$hx"; then asan=1; fi

# start NAME ARGS...: run hx serve in the background on free ports; sets PID, NATIVE, HTTP.
start() {
  local name=$1
  shift
  rm -f "$work/$name.out" # a stale listening line from an earlier run must not be read
  "$hx" serve --listen 127.0.0.1:0 --http 127.0.0.1:0 "$@" \
    >"$work/$name.out" 2>>"$work/$name.err" &
  PID=$!
  pids+=("$PID")
  local i
  for ((i = 0; i < 300; i++)); do
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

# stop PID NAME: SIGTERM, and the exit status must be 0.
stop() {
  local pid=$1 name=$2 rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || { fail "$name: hx serve exited with $rc after SIGTERM"; tail -5 "$work/$name.err" >&2; }
  grep -q 'stopped:' "$work/$name.err" || fail "$name: no 'stopped' line after SIGTERM"
}

# get URL [CURL ARGS...]: body to $work/body, status echoed.
get() {
  local url=$1
  shift
  curl -sS -o "$work/body" -w '%{http_code}' "$@" "$url"
}

# expect_status WANT URL [CURL ARGS...]
expect_status() {
  local want=$1 url=$2
  shift 2
  local got
  got=$(get "$url" "$@")
  [[ $got == "$want" ]] || fail "$url: HTTP $got, expected $want: $(head -c 300 "$work/body")"
}

metric() { # metric HTTPADDR NAME{labels} -> value
  curl -sS "$@" "http://$1/metrics" >"$work/metrics" 2>/dev/null || true
  awk -v k="$2" '$1 == k { print $2 }' "$work/metrics"
}

# ---- a source trace: the pipeline example (traces across threads) ----
step "source traces"
"$pipeline" --items 60 --workers 3 "$work/src" >/dev/null 2>&1
"$hx" dump --json "$work/src" >"$work/src.json" 2>/dev/null

# ---- ingest, ACKs, dedup, every endpoint ----
step "ingest and query"
start main --data "$work/data"
main_pid=$PID main_http=$HTTP main_native=$NATIVE
out=$("$client" send "$NATIVE" "$work/src" --batch 40) || fail "send: $out"
read -r _ batches events <<<"$out"
[[ $events -gt 0 ]] || fail "nothing acknowledged: $out"
out2=$("$client" send "$NATIVE" "$work/src" --batch 25 --compress) || fail "resend: $out2"
dups=$(metric "$HTTP" hx_events_duplicate_total)
stored=$(metric "$HTTP" hx_store_events)
[[ $dups == "$events" ]] || fail "duplicates counted $dups, expected $events"
[[ $stored == "$events" ]] || fail "store holds $stored events after a resend, expected $events"

python3 - "$work/src.json" "http://$HTTP" "$events" <<'EOF' || fail "HTTP answers differ from the source files (above)"
import json, sys, urllib.request, urllib.error
src, base, want_events = sys.argv[1], sys.argv[2], int(sys.argv[3])

def get(path):
    try:
        with urllib.request.urlopen(base + path, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

def js(path):
    st, body = get(path)
    if st != 200:
        sys.exit(f"GET {path}: {st} {body[:200]!r}")
    return json.loads(body)

errors = []
traces, names = {}, {}
for line in open(src, encoding="utf-8"):
    o = json.loads(line)
    if o.get("trace") is None:
        continue
    for k in ("pid", "process", "time_orig_ns"):
        o.pop(k, None)
    traces.setdefault(o["trace"], []).append(o)
    kind = {"block_begin": "block", "point": "point", "entity_begin": "entity"}.get(o["kind"])
    if kind:
        names[(o["name"], kind)] = names.get((o["name"], kind), 0) + 1
total = sum(len(v) for v in traces.values())
if total != want_events:
    errors.append(f"client acknowledged {want_events} events, the source has {total} traced")

# search: everything, by pages; the same set as the source
seen, cursor, pages = [], None, 0
while True:
    q = "/api/traces?limit=7&sort=start" + (f"&cursor={cursor}" if cursor else "")
    page = js(q)
    seen += [t["trace_id"] for t in page["traces"]]
    pages += 1
    cursor = page["next_cursor"]
    if not cursor or pages > 1000:
        break
if sorted(seen) != sorted(traces) or len(seen) != len(set(seen)):
    errors.append(f"paged search returned {len(seen)} IDs ({len(set(seen))} distinct), source has {len(traces)}")
starts = [t for t in js("/api/traces?limit=1000&sort=start")["traces"]]
if [t["start_ns"] for t in starts] != sorted(t["start_ns"] for t in starts):
    errors.append("sort=start is not ascending")
durs = [t["duration_ns"] for t in js("/api/traces?limit=1000&sort=-duration")["traces"]]
if durs != sorted(durs, reverse=True):
    errors.append("sort=-duration is not descending")

# fetch: every trace, exactly the source's events
summaries = {t["trace_id"]: t for t in starts}
for tid, evs in traces.items():
    got = js(f"/api/traces/{tid}")
    if got["trace_id"] != tid:
        errors.append(f"{tid}: trace_id {got['trace_id']}")
    procs = got["processes"]
    mine = []
    for e in got["events"]:
        p = procs[e.pop("process")]
        if p["service"] != "pipeline":
            errors.append(f"{tid}: service {p['service']!r}")
        mine.append(e)
    key = lambda e: (e["entity"], e["seq"])
    if sorted(mine, key=key) != sorted(evs, key=key):
        errors.append(f"{tid}: {len(mine)} events fetched differ from the {len(evs)} in the source")
    s = summaries.get(tid)
    if s and (s["events"] != len(evs) or s["start_ns"] != min(e["time_ns"] for e in evs)
              or s["end_ns"] != max(e["time_ns"] for e in evs)):
        errors.append(f"{tid}: summary {s} does not match the source")
    # a window: only the first entity's events
    ent = evs[0]["entity"]
    w = js(f"/api/traces/{tid}?entity={ent}")
    if sorted(e["seq"] for e in w["events"]) != sorted(e["seq"] for e in evs if e["entity"] == ent):
        errors.append(f"{tid}: ?entity= window is wrong")
    if len(errors) > 10:
        break

# filters
one = next(iter(traces))
t0 = min(e["time_ns"] for e in traces[one])
r = js(f"/api/traces?from={t0}&to={t0}&limit=1000")
if one not in [t["trace_id"] for t in r["traces"]]:
    errors.append("from/to around a trace's start does not find it")
if js("/api/traces?service=nosuchservice")["traces"]:
    errors.append("service= filter lets a wrong service through")
if len(js("/api/traces?service=pipeline&limit=1000")["traces"]) != len(traces):
    errors.append("service=pipeline does not find every trace")
r = js("/api/traces?min_duration=1h")
if r["traces"]:
    errors.append("min_duration=1h finds traces")
r = js("/api/traces?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00.5%2B01:00")
if r["traces"]:
    errors.append("an RFC 3339 window in 2000 finds traces")

# names and services
svc = js("/api/services")["services"]
if [(s["name"], s["traces"]) for s in svc] != [("pipeline", len(traces))]:
    errors.append(f"/api/services: {svc}")
for kind in ("block", "point", "entity"):
    got = {(n["name"], n["kind"]): n["count"] for n in js(f"/api/names?kind={kind}")["names"]}
    want = {k: v for k, v in names.items() if k[1] == kind}
    if got != want:
        errors.append(f"/api/names?kind={kind}: {sorted(got.items())[:5]} != {sorted(want.items())[:5]}")
allnames = js("/api/names")["names"]
if len(allnames) != len(names):
    errors.append(f"/api/names lists {len(allnames)} names, expected {len(names)}")

# errors: 400 with a JSON message, 404, 405
for path, code in [("/api/traces?limit=0", 400), ("/api/traces?limit=x", 400),
                   ("/api/traces?from=yesterday", 400), ("/api/traces?min_duration=5parsecs", 400),
                   ("/api/traces?sort=sideways", 400), ("/api/traces?error=maybe", 400),
                   ("/api/traces?attr=novalue", 400), ("/api/traces?bogus=1", 400),
                   ("/api/traces?limit=1&limit=2", 400), ("/api/traces?service=%zz", 400),
                   ("/api/traces?from=5&to=4", 400), ("/api/traces?cursor=%01", 400),
                   ("/api/traces/xyz", 400), ("/api/traces/" + "0" * 32, 404),
                   (f"/api/traces/{one}?format=pdf", 400), (f"/api/traces/{one}?entity=12", 400),
                   ("/api/names?kind=x", 400), ("/api/services?x=1", 400), ("/metrics?x", 400),
                   ("/nope", 404), ("/api/traces/a/b", 404)]:
    st, body = get(path)
    if st != code:
        errors.append(f"GET {path}: {st}, expected {code}")
    elif code == 400 and "error" not in json.loads(body):
        errors.append(f"GET {path}: 400 without an error member")
req = urllib.request.Request(base + "/api/traces", method="DELETE")
try:
    urllib.request.urlopen(req, timeout=10)
    errors.append("DELETE /api/traces answered 2xx")
except urllib.error.HTTPError as e:
    if e.code != 405 or e.headers.get("Allow") != "GET":
        errors.append(f"DELETE /api/traces: {e.code} Allow={e.headers.get('Allow')}")
    if e.headers.get("Access-Control-Allow-Origin"):
        errors.append("a CORS header is sent")
st, body = get("/health")
if st != 200 or body != b"ok\n":
    errors.append(f"/health: {st} {body!r}")
for e in errors[:20]:
    print(e)
sys.exit(1 if errors else 0)
EOF

# the binary form: every trace fetched with ?format=hx holds exactly its events
python3 - "$work/src.json" >"$work/src.acked" <<'EOF'
import json, sys
n = {}
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    if o.get("trace"):
        n[o["trace"]] = n.get(o["trace"], 0) + 1
for t, c in n.items():
    print(t, c)
EOF
out=$("$client" verify "$HTTP" --acked "$work/src.acked") || fail "format=hx: $out"

# ---- bad frames: each closes its own connection, counted by reason; a good client goes on ----
step "bad frames"
"$client" gen "$NATIVE" --acked "$work/good.acked" --batches 300 --events 20 --window 4 \
  >"$work/good.out" 2>&1 &
good=$!
declare -A want=([garbage]=bad_magic [truncated]=truncated [oversized]=too_large
                 [version]=bad_version [checksum]=bad_checksum [bomb]=inflate_limit
                 [batch]=bad_batch [record]=bad_record [nohello]=protocol [seq]=protocol)
for kind in garbage truncated oversized version checksum bomb batch record nohello seq; do
  got=$("$client" bad "$NATIVE" "$kind" 2>&1 | head -1 || true)
  [[ $got == "error ${want[$kind]} "* ]] || fail "bad frame $kind: got '$got', expected error ${want[$kind]}"
done
wait "$good" || fail "the good client failed while bad frames arrived: $(cat "$work/good.out")"
for reason in bad_magic truncated too_large bad_version bad_checksum inflate_limit bad_batch bad_record; do
  v=$(metric "$HTTP" "hx_frames_rejected_total{reason=\"$reason\"}")
  [[ $v == 1 ]] || fail "hx_frames_rejected_total{reason=\"$reason\"} is '$v', expected 1"
done
v=$(metric "$HTTP" 'hx_frames_rejected_total{reason="protocol"}')
[[ $v == 2 ]] || fail "protocol rejections: '$v', expected 2"
out=$("$client" verify "$HTTP" --acked "$work/good.acked") || fail "good client's events: $out"

# ---- POST /api/events ----
step "POST /api/events"
out=$("$client" post "$HTTP")
[[ $out == "202 "* ]] || fail "POST: $out"
out=$("$client" post "$HTTP" --zstd)
[[ $out == "202 "* ]] || fail "POST zstd: $out"
out=$("$client" post "$HTTP" --bomb)
[[ $out == "413 "* ]] || fail "POST bomb: $out"
expect_status 415 "http://$HTTP/api/events" -X POST --data-binary x -H 'Content-Type: text/plain'
expect_status 400 "http://$HTTP/api/events" -X POST --data-binary garbage \
  -H 'Content-Type: application/x-haruspex-batch'
stop "$main_pid" main

# ---- token, a small frame limit (413 for a large raw body) ----
step "token"
printf 'sekrit-token\n' >"$work/token"
start tok --data "$work/data-tok" --token-file "$work/token" --max-frame 64K
expect_status 401 "http://$HTTP/health"
expect_status 401 "http://$HTTP/api/traces" -H 'Authorization: Bearer wrong'
expect_status 401 "http://$HTTP/nope"
expect_status 200 "http://$HTTP/health" -H 'Authorization: Bearer sekrit-token'
expect_status 200 "http://$HTTP/metrics" -H 'Authorization: bearer sekrit-token'
got=$("$client" bad "$NATIVE" badtoken | head -1 || true)
[[ $got == "error unauthorized "* ]] || fail "wrong token: $got"
got=$("$client" bad "$NATIVE" nohello | head -1 || true)
[[ $got == "error unauthorized "* ]] || fail "no HELLO with a token configured: $got"
out=$("$client" send "$NATIVE" "$work/src" --token sekrit-token) || fail "send with the token: $out"
out=$("$client" post "$HTTP" --token sekrit-token)
[[ $out == "202 "* ]] || fail "POST with the token: $out"
out=$("$client" post "$HTTP")
[[ $out == "401 "* ]] || fail "POST without the token: $out"
head -c 100000 /dev/zero >"$work/big"
expect_status 413 "http://$HTTP/api/events" -X POST --data-binary @"$work/big" \
  -H 'Content-Type: application/x-haruspex-batch' -H 'Authorization: Bearer sekrit-token'
stop "$PID" tok

# ---- TLS ----
if command -v openssl >/dev/null; then
  step "TLS"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 2 -subj /CN=localhost >/dev/null 2>&1
  start tls --data "$work/data-tls" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
  out=$("$client" send "$NATIVE" "$work/src" --tls) || fail "send over TLS: $out"
  [[ $out == "acked $batches $events" || $out == "acked "*" $events" ]] || fail "TLS: $out"
  got=$("$client" bad "$NATIVE" garbage 2>&1 | head -1 || true)
  [[ $got == closed ]] || fail "plain client on the TLS port: $got"
  stop "$PID" tls
else
  echo "note: no openssl(1): TLS part skipped"
fi

# ---- flood: 16 clients, small memory limit ----
step "flood"
limit_mb=32
start flood --data "$work/data-flood" --memory-limit ${limit_mb}M
flood_pid=$PID
: >"$work/flood.acked"
cpids=()
for i in $(seq 16); do
  "$client" gen "$NATIVE" --acked "$work/flood.acked" --batches 40 --events 200 --pad 100 \
    --window 64 >"$work/flood.$i.out" 2>&1 &
  cpids+=($!)
done
for p in "${cpids[@]}"; do wait "$p" || fail "a flood client failed: $(cat "$work"/flood.*.out | head -3)"; done
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$flood_pid/status")
# overhead: code, libraries, SQLite, thread stacks, allocator slack; ASan adds its shadow memory
overhead_mb=$((asan ? 160 : 24))
echo "flood: peak RSS $((hwm / 1024)) MiB (limit ${limit_mb} MiB + ${overhead_mb} MiB overhead)"
[[ $hwm -le $(((limit_mb + overhead_mb) * 1024)) ]] ||
  fail "peak RSS $((hwm / 1024)) MiB over --memory-limit ${limit_mb}M + ${overhead_mb} MiB"
n=$(wc -l <"$work/flood.acked")
[[ $n -eq 640 ]] || fail "flood: $n batches acknowledged, expected 640"
out=$("$client" verify "$HTTP" --acked "$work/flood.acked") || fail "flood: $out"
stop "$flood_pid" flood

# ---- SIGKILL during ingest, 20 rounds ----
step "SIGKILL"
: >"$work/kill.acked"
for round in $(seq 20); do
  start kill --data "$work/data-kill"
  # what the previous rounds acknowledged survived the kill and the restart
  if [[ -s $work/kill.acked ]]; then
    out=$("$client" verify "$HTTP" --acked "$work/kill.round") ||
      fail "round $round: events acknowledged before the kill are missing: $out"
  fi
  : >"$work/kill.round"
  "$client" gen "$NATIVE" --acked "$work/kill.round" --batches 400 --events 20 --window 8 \
    >/dev/null 2>&1 &
  gpid=$!
  sleep "0.$((RANDOM % 3 + 1))"
  kill -KILL "$PID"
  wait "$PID" 2>/dev/null || true
  wait "$gpid" 2>/dev/null || true
  cat "$work/kill.round" >>"$work/kill.acked"
done
start kill --data "$work/data-kill"
out=$("$client" verify "$HTTP" --acked "$work/kill.acked") || fail "after 20 kills: $out"
echo "SIGKILL: $(wc -l <"$work/kill.acked") batches acknowledged over 20 rounds, all there"
stop "$PID" kill

echo "took $SECONDS s"
if [[ $failures -gt 0 ]]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "serve.sh: all passed"
