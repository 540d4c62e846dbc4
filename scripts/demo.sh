#!/usr/bin/env bash
# demo.sh - the main job end to end: an instrumented multi-threaded, multi-process program is
# traced, its trace is stored in files, and the tools show it. `make demo` builds, then runs this.
# Part one traces examples/pipeline (threads and a fork()ed child); part two examples/shop, a
# small distributed program whose processes talk over loopback HTTP and sockets.
#
#   scripts/demo.sh [BUILD_DIR]        BUILD_DIR defaults to ./build and must be built already
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

pipeline=$build/examples/pipeline
shop=$build/examples/shop/shop
hx=$build/src/cli/hx
for bin in "$pipeline" "$shop" "$hx"; do
	if [[ ! -x $bin ]]; then
		echo "demo: $bin not found: build first (make demo does)" >&2
		if [[ $bin == "$shop" ]]; then
			echo "demo: the shop needs libevent and libcurl: scripts/deps.sh installs them, then" \
			     "scripts/build.sh --reconfigure $build" >&2
		fi
		exit 1
	fi
done

dir=haruspex-traces/demo
shopdir=haruspex-traces/shop
rm -rf "$dir" "$shopdir"
mkdir -p "$dir"

if [[ -t 1 ]]; then
	bold=$'\033[1m' plain=$'\033[0m'
else
	bold='' plain=''
fi

# heading TITLE LINE...: a numbered step and what it shows.
heading() {
	printf '\n%s== %s%s\n' "$bold" "$1" "$plain"
	shift
	printf '   %s\n' "$@"
	echo
}

heading "1. Run an instrumented program" \
	"examples/pipeline: a producer, 4 worker threads and a consumer over two bounded queues, and" \
	"one fork()ed child process. Each event is in the trace file the moment its call returns."
"$pipeline" --items 200 --workers 4 "$dir"

heading "2. What was stored" \
	"One file per process (the parent and the fork()ed child): <program>-<pid>-<start ms>-<seq>.hx." \
	"Space is reserved ahead in windows of 1 MiB or more; unused slots are handed back to the file" \
	"system at shutdown, so a file's disk use (left column, KiB) is below its length."
ls -ls "$dir"

heading "3. hx stats: what the trace holds" \
	"Both processes, every event kind, the entities (one per thread, named by the program), the" \
	"bytes per event, and what was lost: misuse and drop counters and damage (none here)."
"$hx" stats "$dir"

heading "4. hx dump: the first 25 events, in time order across threads and processes" \
	"Each line: [pid] time entity:seq (the event ID) trace kind \"name\" fields and attributes." \
	"An effect names its cause as trace/entity:seq. For instance each thread's \"started\" names" \
	"main's \"start threads\", and the child process's \"forked\" names main's \"fork\"."
"$hx" dump --order time --limit 25 "$dir"

heading "5. A distributed program: examples/shop" \
	"A client places 5 orders with an HTTP gateway, which reserves stock at an inventory service," \
	"charges a card at a payment service (both over HTTP) and publishes \"order placed\" to 3" \
	"workers (over sockets): 7 processes, each writing its own file into $shopdir/." \
	"Contexts cross in the W3C traceparent/tracestate headers, both ways, and in binary form" \
	"inside the worker messages."
"$shop" --requests 5 --workers 3 "$shopdir"

heading "6. hx stats on the shop: one trace per order, spanning every process" \
	"The files of all 7 processes are read together. Under \"traces\": 5 traces, each with events" \
	"in 7 processes, and every effect's cause found in some file (0 dangling): the processes'" \
	"traces join up into one graph per order."
"$hx" stats "$shopdir"

heading "7. hx dump: the first order, event by event across the processes" \
	"The client's request names nothing; the gateway's trace_join and request effect name the" \
	"client's \"POST /order\"; the gateway's reply effects name the backends' reply causes and end its" \
	"waits (\"resumes\"); one \"order placed\" publish is named by a delivery in each worker; and the" \
	"client's \"order reply\" names the gateway's reply. (Entity begins, outside any trace, shown too.)"
# The text form prints a trace ID in full on an entity's first event in it and by its last 8 hex
# digits after that: take the first trace's ID and keep its lines (and the entity begins).
# (The dump's own summary on stderr is left out here: it would land in the middle.)
first=$("$hx" dump --order time "$shopdir" 2>/dev/null | grep -o -m1 'trace=[0-9a-f]\{32\}' || true)
first=${first#trace=}
if [[ -n $first ]]; then
	"$hx" dump --order time "$shopdir" 2>/dev/null | grep -E "trace=($first|${first: -8}) |entity_begin" || true
else
	"$hx" dump --order time --limit 60 "$shopdir"
fi

heading "8. Stored in the service: hx serve, hx ship, and hx reading it back over HTTP" \
	"hx serve keeps traces from many processes and machines (embedded store: zstd segments and" \
	"a SQLite index). hx ship sends the shop's files; the service acknowledges each batch once it" \
	"is durable. Every hx command then reads the service's URL as it reads a directory."
store=haruspex-traces/store
rm -rf "$store" "$store.ship"
mkdir -p "$store.ship"
"$hx" serve --data "$store" --listen 127.0.0.1:0 --http 127.0.0.1:0 >"$store.out" 2>/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
	grep -q '^listening' "$store.out" 2>/dev/null && break
	sleep 0.1
done
native=$(sed -n 's/.*native=\([^ ]*\).*/\1/p' "$store.out")
http=$(sed -n 's/.*http=\([^ ]*\).*/\1/p' "$store.out")
if [[ -n $native && -n $http ]]; then
	"$hx" ship --once "$shopdir" --to "tcp://$native" --state "$store.ship"
	echo "   GET http://$http/api/traces?service=gateway :"
	curl -s "http://$http/api/traces?service=gateway&limit=3" | head -c 600
	echo
	echo
	"$hx" stats "http://$http/api/traces?service=gateway" | sed -n '/^traces/,/^$/p'
	kill "$server"
	wait "$server" 2>/dev/null || true
else
	echo "   (hx serve did not start: see $store.out)"
fi
trap - EXIT

heading "9. Analysis: hx analyze (features and aggregates) and hx export" \
	"Per block name across the shop's traces: count and latency percentiles, and the services'" \
	"dependency graph; then the traces as Chrome/Perfetto JSON (open it at ui.perfetto.dev)."
"$hx" analyze --group-by name --metric total "$shopdir" | head -n 12
"$hx" analyze --dependencies "$shopdir" | head -n 12
"$hx" export --format chrome -o haruspex-traces/shop.chrome.json "$shopdir" &&
	echo "   wrote haruspex-traces/shop.chrome.json"

heading "10. Shown: hx view, the interactive viewer" \
	"hx view serves the shop's traces to a browser on 127.0.0.1 (nothing to install, no network):" \
	"lanes per thread and process, arrows for every interaction, the critical path, search."
if [[ -t 0 && -t 1 ]]; then
	echo "   Open the URL below in a browser; press Enter here to stop the viewer."
	"$hx" view --no-open "$shopdir" &
	viewer=$!
	trap 'kill "$viewer" 2>/dev/null || true' EXIT
	read -r _ || true
	kill "$viewer" 2>/dev/null || true
	wait "$viewer" 2>/dev/null || true
	trap - EXIT
else
	echo "   (not a terminal: run it yourself)   $hx view $shopdir"
fi

heading "Done" \
	"The traces stay in $dir/ and $shopdir/. Everything:   $hx dump --order time $shopdir | less" \
	"Integrity check (exit 0 if intact):    $hx check $dir; $hx check $shopdir"
