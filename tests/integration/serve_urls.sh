#!/usr/bin/env bash
# serve_urls.sh - every hx command reads a service URL where it reads a path (src/cli/fetch.c),
# and hx serve rides out a full disk (the store's fault hook) without losing or corrupting
# anything. Run by tests/run.sh with $1 = the build directory and HX, HX_BUILD_DIR, HX_SOURCE_DIR
# set, in a fresh temporary directory.
set -euo pipefail

build=${1:?usage: serve_urls.sh BUILD_DIR}
hx=${HX:?}
client=$build/tests/serve_client
pipeline=$build/examples/pipeline
for b in "$hx" "$client" "$pipeline"; do
	[ -x "$b" ] || { echo "serve_urls.sh: $b not built" >&2; exit 1; }
done

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# start_serve DATA OUT [ENV...]: start hx serve on ports the kernel picks; sets native and http
start_serve() {
	local data=$1 out=$2
	shift 2
	env "$@" "$hx" serve --data "$data" --listen 127.0.0.1:0 --http 127.0.0.1:0 >"$out" 2>"$out.err" &
	pids+=($!)
	for _ in $(seq 1 200); do
		grep -q '^listening' "$out" 2>/dev/null && break
		sleep 0.05
	done
	native=$(sed -n 's/.*native=\([^ ]*\).*/\1/p' "$out")
	http=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' "$out")
	[ -n "$native" ] && [ -n "$http" ] || { echo "hx serve did not start:"; cat "$out.err"; exit 1; }
}

"$pipeline" --items 40 --workers 2 src >/dev/null

# ---- 1. URLs as inputs ----
start_serve data serve.out
"$client" send "$native" src >/dev/null
"$hx" stats --json --traces 1000 src >local.json
"$hx" stats --json --traces 1000 "http://$http/" >remote.json
"$hx" stats --json --traces 1000 "http://$http/api/traces?limit=1000" >remote2.json
python3 - <<'EOF'
import json
local = {t["id"]: t for t in json.load(open("local.json"))["traces"]}
for name in ("remote.json", "remote2.json"):
    remote = {t["id"]: t for t in json.load(open(name))["traces"]}
    assert set(remote) == set(local), (name, len(remote), len(local))
    for i, t in local.items():
        r = remote[i]
        # the service holds each trace's events, with their names, times and links
        # (not the causes: events outside traces, which some of them name, are not sent)
        for k in ("events", "root", "start_ns", "end_ns", "errors", "entities", "processes"):
            assert r[k] == t[k], (name, i, k, r[k], t[k])
print("stats over URLs match the files:", len(local), "traces")
EOF
# one trace by its URL: hx dump gives exactly its events, as from the files
id=$(python3 -c 'import json; print(max(json.load(open("local.json"))["traces"], key=lambda t: t["events"])["id"])')
"$hx" dump --json --trace "$id" src | python3 -c 'import json,sys; print(json.dumps(sorted((e["entity"], e["seq"], e["kind"], e["name"]) for e in map(json.loads, sys.stdin))))' >a.json
"$hx" dump --json "http://$http/api/traces/$id" | python3 -c 'import json,sys; print(json.dumps(sorted((e["entity"], e["seq"], e["kind"], e["name"]) for e in map(json.loads, sys.stdin))))' >b.json
cmp a.json b.json
"$hx" check "http://$http/api/traces/$id"
"$hx" critical-path --json "http://$http/api/traces/$id" >/dev/null
# errors are clear and exit 2
set +e
"$hx" dump "http://$http/api/traces/00000000000000000000000000000001" 2>err1; rc1=$?
"$hx" dump "http://$http/nowhere" 2>err2; rc2=$?
"$hx" dump "http://127.0.0.1:1/api/traces/$id" 2>err3; rc3=$?
set -e
[ $rc1 = 2 ] && [ $rc2 = 2 ] && [ $rc3 = 2 ]
grep -q "404\|no events" err1
grep -q "not a trace or search URL" err2
grep -qi "connect" err3
kill "${pids[0]}"
wait "${pids[0]}" || true
pids=()

# ---- 2. a full disk: ingest stops, nothing is acknowledged that is not stored, it resumes ----
# The store's fault hook fails segment writes 2 to 7 with ENOSPC (docs/storage.md).
start_serve data2 serve2.out HX_STORE_FAULT=enospc_after:2,for:6
"$client" gen "$native" --acked acked --batches 60 --events 50 --window 4 >gen.out
grep -q "acked 60 3000" gen.out
"$client" verify "$http" --acked acked >verify.out
grep -q "verified 60 3000" verify.out
errors=$(curl -s "http://$http/metrics" | awk '$1 == "hx_store_errors_total" { print $2 }')
[ "${errors:-0}" -ge 1 ]
grep -qi "space\|ENOSPC\|disk" serve2.out.err
[ "$(curl -s "http://$http/health")" = ok ]
echo "serve_urls.sh: ok"
