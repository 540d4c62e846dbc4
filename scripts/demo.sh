#!/usr/bin/env bash
# demo.sh - the main job end to end: an instrumented multi-threaded, multi-process program is
# traced, its trace is stored in files, and the tools show it. `make demo` builds and runs this.
#
#   scripts/demo.sh [BUILD_DIR]        BUILD_DIR defaults to ./build (already built)
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

pipeline=$build/examples/pipeline
hx=$build/src/cli/hx
for bin in "$pipeline" "$hx"; do
	if [[ ! -x $bin ]]; then
		echo "demo: $bin not found; build first (make demo does)" >&2
		exit 1
	fi
done

dir=haruspex-traces/demo
rm -rf "$dir"
mkdir -p "$dir"

heading() {
	printf '\n\033[1m== %s\033[0m\n' "$1"
	shift
	printf '   %s\n' "$@"
	echo
}

heading "1. Run the instrumented program" \
	"examples/pipeline: a producer, 4 worker threads and a consumer over two bounded queues," \
	"plus one fork()ed child process. Every event is written to $dir/ as it happens."
"$pipeline" --items 200 --workers 4 "$dir"

heading "2. What was stored" \
	"One file per process (the parent and the fork()ed child), named <program>-<pid>-<start ms>-<seq>.hx."
ls -l "$dir"

heading "3. hx stats: what the files hold" \
	"Per process: events, entities (one per thread), bytes per event, and the counters of anything" \
	"not recorded (all zero here: nothing was lost)."
"$hx" stats "$dir"

heading "4. hx dump: the first 25 events in time order, across threads and processes" \
	"Each line is one event: time, entity, event ID (entity:seq), kind, name, attributes." \
	"Effects name their cause: enqueue -> dequeue crosses threads; fork -> forked crosses processes."
"$hx" dump --order time --limit 25 "$dir"

heading "Done" \
	"The trace stays in $dir/. Explore it with: $hx dump $dir | less" \
	"or check its integrity with: $hx check $dir"
