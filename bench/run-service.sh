#!/usr/bin/env bash
# run-service.sh - the service benchmark (`make bench-service`, part of `make bench`):
#
#   ingest    4 client processes (bench/bench_ingest) replay a recorded trace (examples/pipeline:
#             blocks, points with attributes, interactions, states), every round with new IDs,
#             over loopback into `hx serve` with the embedded store, for HX_BENCH_SECONDS
#             (default 32); events/s counts only events the service acknowledged (durable).
#   size      bytes the store takes on disk (segments + index) per stored event, from /metrics.
#   fetch     GET /api/traces/ID?format=hx of one 100,000-event trace (median of 5, curl).
#   search    GET /api/traces with two filters (service and min_duration) over >= 1,000,000
#             stored traces (median of 5); the traces are made by tests/serve_client gen.
#   kafka     bench/bench_kafka: files -> Kafka shipper -> librdkafka's mock cluster -> consumer.
#
# Output: a table, then
#   RESULT ingest_ev_s=<x> stored_bytes_per_event=<x> fetch_100k_ms=<x> search_1m_ms=<x> kafka_ev_s=<x>
# also saved in bench/out/service-<date>.txt. Everything shares this machine's cores with the
# service: the figures are for the whole system on one machine, clients included.
set -euo pipefail

BUILD=${1:-build}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
hx=$BUILD/src/cli/hx
ingest=$BUILD/bench/bench_ingest
gen=$BUILD/tests/serve_client
pipeline=$BUILD/examples/pipeline
kafka=$BUILD/bench/bench_kafka
seconds=${HX_BENCH_SECONDS:-32}
search_traces=${HX_BENCH_SEARCH_TRACES:-1000000}
clients=4

die() {
	echo "run-service.sh: $*" >&2
	exit 1
}
for b in "$hx" "$ingest" "$gen" "$pipeline"; do
	[ -x "$b" ] || die "$b not found: build first (make bench-service builds into build/)"
done
command -v curl >/dev/null || die "curl is needed (scripts/deps.sh installs it)"
while read -r v; do unset "$v"; done < <(compgen -e | grep '^HARUSPEX_' || true)

work=$(mktemp -d "${TMPDIR:-/tmp}/hx-bench-service.XXXXXX")
server=
cleanup() {
	[ -z "$server" ] || kill "$server" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else print v[int((NR + 1) / 2)] }'; }
metric() { curl -s "http://$http/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

echo "recording the source trace (examples/pipeline)..." >&2
"$pipeline" --items 4000 --workers 4 "$work/src" >/dev/null

"$hx" serve --data "$work/data" --listen 127.0.0.1:0 --http 127.0.0.1:0 --memory-limit 1G \
	>"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 1 100); do
	grep -q '^listening' "$work/serve.out" 2>/dev/null && break
	sleep 0.1
done
line=$(head -n 1 "$work/serve.out")
native=$(sed -n 's/.*native=\([^ ]*\).*/\1/p' <<<"$line")
http=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' <<<"$line")
[ -n "$native" ] && [ -n "$http" ] || die "hx serve did not start: $(cat "$work/serve.err")"

# ---- ingest ----
per_client=$((seconds * 1200000)) # more than a client can send in the time: the clock decides
echo "ingest: $clients clients for up to ${seconds} s (encoding their batches first)..." >&2
pids=()
for c in $(seq 1 $clients); do
	"$ingest" "tcp://$native" "$seconds" "$work/src" "$per_client" "$c" >"$work/ingest.$c" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "bench_ingest failed"; done
read -r acked first last < <(cat "$work"/ingest.* | tr ' ' '\n' | awk -F= '
	$1 == "acked_events" { n += $2 }
	$1 == "start_ns" { if (!s || $2 < s) s = $2 }
	$1 == "end_ns" { if ($2 > e) e = $2 }
	END { printf "%.0f %.0f %.0f\n", n, s, e }')
ingest_ev_s=$(awk -v n="$acked" -v s="$first" -v e="$last" 'BEGIN { d = (e - s) / 1e9; if (d > 0) printf "%.0f", n / d; else printf "nan" }')
ingest_s=$(awk -v s="$first" -v e="$last" 'BEGIN { printf "%.1f", (e - s) / 1e9 }')
sleep 1
store_bytes=$(metric hx_store_bytes)
store_events=$(metric hx_store_events)
bytes_per_event=$(awk -v b="$store_bytes" -v n="$store_events" 'BEGIN { printf "%.2f", n ? b / n : 0 }')

# ---- fetch a 100,000-event trace ----
"$ingest" "tcp://$native" 60 bigtrace 100000 7 >/dev/null 2>"$work/big.err"
big=$(sed -n 's/^trace_id=//p' "$work/big.err")
[ -n "$big" ] || die "the 100,000-event trace was not stored"
fetch_ms=$(for _ in 1 2 3 4 5; do
	curl -s -o "$work/big.hx" -w '%{time_total}\n' "http://$http/api/traces/$big?format=hx"
done | awk '{ printf "%.1f\n", $1 * 1000 }' | median)
[ -s "$work/big.hx" ] || die "fetching the 100,000-event trace returned nothing"

# ---- search over a million traces ----
have=$(metric hx_store_traces)
need=$((search_traces - have))
if [ "$need" -gt 0 ]; then
	echo "search: storing $need more small traces (4 clients)..." >&2
	per=$(((need + clients - 1) / clients))
	pids=()
	for c in $(seq 1 $clients); do
		"$gen" gen "$native" --acked "$work/gen.$c" --batches "$per" --events 4 --window 64 >/dev/null &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || die "serve_client gen failed"; done
fi
sleep 1
traces=$(metric hx_store_traces)
search_ms=$(for _ in 1 2 3 4 5; do
	curl -s -o /dev/null -w '%{time_total}\n' "http://$http/api/traces?service=gen&min_duration=2us&limit=20"
done | awk '{ printf "%.1f\n", $1 * 1000 }' | median)

# ---- Kafka ----
kafka_ev_s=nan
if [ -x "$kafka" ]; then
	echo "kafka: bench_kafka (mock cluster)..." >&2
	kafka_ev_s=$("$kafka" 2>/dev/null | sed -n 's/^kafka_ev_s=//p')
	kafka_ev_s=${kafka_ev_s:-nan}
fi

report=$work/report
{
	echo "Haruspex service benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "commit $(git -C "$here" describe --always --dirty 2>/dev/null || echo unknown), build $BUILD"
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	printf '%-28s %14s   %s\n' measure value budget
	printf '%-28s %14s   %s\n' "ingest (events/s, durable)" "$ingest_ev_s" ">= 1,000,000 ($clients clients, $acked events in $ingest_s s)"
	printf '%-28s %14s   %s\n' "stored bytes per event" "$bytes_per_event" "<= 10 ($store_events events, $store_bytes bytes)"
	printf '%-28s %14s   %s\n' "fetch 100k-event trace (ms)" "$fetch_ms" "<= 100"
	printf '%-28s %14s   %s\n' "search, 2 filters (ms)" "$search_ms" "<= 200 (over $traces traces)"
	printf '%-28s %14s   %s\n' "kafka path (events/s)" "$kafka_ev_s" "(reported; mock cluster)"
	echo
	echo "RESULT ingest_ev_s=$ingest_ev_s stored_bytes_per_event=$bytes_per_event fetch_100k_ms=$fetch_ms search_1m_ms=$search_ms kafka_ev_s=$kafka_ev_s"
} >"$report"
mkdir -p "$here/out"
cp "$report" "$here/out/service-$(date '+%Y%m%d-%H%M%S').txt"
cat "$report"
