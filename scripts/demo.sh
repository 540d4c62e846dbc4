#!/usr/bin/env bash
# demo.sh - the main job end to end: an instrumented multi-threaded, multi-process program is
# traced, its trace is stored in files, and the tools show it. `make demo` builds, then runs this.
#
#   scripts/demo.sh [BUILD_DIR]        BUILD_DIR defaults to ./build and must be built already
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

pipeline=$build/examples/pipeline
hx=$build/src/cli/hx
for bin in "$pipeline" "$hx"; do
	if [[ ! -x $bin ]]; then
		echo "demo: $bin not found: build first (make demo does)" >&2
		exit 1
	fi
done

dir=haruspex-traces/demo
rm -rf "$dir"
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

heading "Done" \
	"The trace stays in $dir/. Everything:   $hx dump --order time $dir | less" \
	"Integrity check (exit 0 if intact):    $hx check $dir"
