#!/usr/bin/env bash
# bench/run-core.sh - the core benchmark (`make bench-core`): what one recording call costs, against
# LTTng-UST doing the same work in the same run, plus the trace's size and its decoding speed.
#
#   bench/run-core.sh [BUILD_DIR]        (default: build; a release build with bench/ built)
#
# For every mode (point, point2, block, off) and 1, 2 and 4 threads it runs bench_core RUNS times
# (default 5) and takes the median; the point workload also runs through bench_lttng, interleaved run
# by run with bench_core so that a noisy neighbour hits both sides alike. Then it writes a trace of
# at least 1 GiB (bench_core point, 1 thread) and times `hx stats` on it (median of 3; warm page
# cache: nothing is dropped, so this is decoding speed, not disk speed).
#
# LTTng: the script starts its own lttng-sessiond with a private LTTNG_HOME (and HOME) under a
# temporary directory and kills it (by its pid) when it exits. Run as root, LTTng has only one
# place for the root session daemon (/var/run/lttng): the LTTng part then takes a lock so that two
# benchmark runs do not share or kill each other's daemon, and if a session daemon that this script
# did not start is already running it is used (with a session of its own) and left running.
# Each timed LTTng run gets a fresh session: a per-user channel of 8 x 4 MiB sub-buffers per CPU in
# discard mode, `hx_bench:*` enabled, started before the program so that LTTng-UST's constructor
# registers and receives the enabled events before main() (LTTNG_UST_REGISTER_TIMEOUT); bench_lttng
# refuses to run if its tracepoint is not enabled. A first short run is read back (babeltrace2) to
# check that LTTng records every event, and every run's discarded events are reported. Without
# lttng, lttng-sessiond or bench_lttng the LTTng numbers are nan (with a warning), not a failure.
#
# Environment: HX_BENCH_RUNS (default 5), HX_BENCH_QUICK=1 (a tenth of the events, 3 runs, a 64 MiB
# read trace: for trying the script, not for numbers).
#
# Output: a table and the RESULT line on stdout, also saved to bench/out/core-<date>.txt.
set -euo pipefail

BUILD=${1:-build}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
core=$BUILD/bench/bench_core
lttng_bench=$BUILD/bench/bench_lttng
hx=$BUILD/src/cli/hx
quick=${HX_BENCH_QUICK:-0}
runs=${HX_BENCH_RUNS:-5}
[ "$quick" != 1 ] || runs=${HX_BENCH_RUNS:-3}
modes=(point point2 block off sampled filtered)
thread_counts=(1 2 4)

say() { printf '%s\n' "$*" >&2; }
warn() { printf 'run-core.sh: warning: %s\n' "$*" >&2; }
die() {
	printf 'run-core.sh: %s\n' "$*" >&2
	exit 1
}

[ -x "$core" ] || die "$core not found: build first (make bench-core builds into build/)"
[ "$runs" -ge 1 ] 2>/dev/null || die "HX_BENCH_RUNS must be a positive number"

# The library starts tracing at load time when HARUSPEX_* is set: that would trace 'off' mode and
# redirect the traces.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^HARUSPEX_' || true)

work=$(mktemp -d "${TMPDIR:-/tmp}/hx-bench.XXXXXX")

# ---- LTTng session control ------------------------------------------------------------------
lt_home=$work/lttng-home
lt_session=hxbench-$$
lt_started=0
lt_sessiond_pid=
lt_ok=0

lt() { LTTNG_HOME=$lt_home HOME=$lt_home lttng "$@"; }

lt_stop_daemon() {
	# lt_run runs in a command substitution, so the parent cannot know whether a session is left:
	# destroy it by name in any case (an error when there is none is expected).
	if [ "$lt_started" = 1 ]; then
		lt destroy "$lt_session" >/dev/null 2>&1 || true
		lt_started=0
	fi
	[ -n "$lt_sessiond_pid" ] || return 0
	local pid=$lt_sessiond_pid st i
	lt_sessiond_pid=
	kill -TERM "$pid" 2>/dev/null || return 0
	# The daemon is not our child: poll. A zombie (state Z) has finished.
	for ((i = 0; i < 100; i++)); do
		st=$(ps -o stat= -p "$pid" 2>/dev/null || true)
		if [ -z "$st" ] || [ "${st:0:1}" = Z ]; then
			return 0
		fi
		sleep 0.1
	done
	warn "lttng-sessiond (pid $pid) did not stop in 10 s: killing it"
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	lt_stop_daemon
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Start (or, as root, possibly reuse) a session daemon. Returns 1 with a warning if LTTng cannot
# be used. Called from an `if`, so every step checks its own status.
lt_start() {
	local missing=
	command -v lttng >/dev/null || missing="lttng (lttng-tools)"
	command -v lttng-sessiond >/dev/null || missing="lttng-sessiond (lttng-tools)"
	[ -x "$lttng_bench" ] || missing="$lttng_bench (liblttng-ust-dev at configure time)"
	if [ -n "$missing" ]; then
		warn "no $missing: LTTng is not measured (lttng_point_ns=nan ratio=nan)"
		return 1
	fi
	mkdir -p "$lt_home" || return 1
	local pidfile=$lt_home/.lttng/lttng-sessiond.pid
	if [ "$(id -u)" = 0 ]; then
		pidfile=/var/run/lttng/lttng-sessiond.pid
		exec 9>>"${TMPDIR:-/tmp}/haruspex-bench-lttng.lock" || return 1
		if ! flock -w 1200 9; then
			warn "another benchmark holds the LTTng lock for 20 minutes: LTTng not measured"
			return 1
		fi
		if lt list >/dev/null 2>&1; then
			lt_started=1
			warn "a root lttng-sessiond is already running: using it (session $lt_session) and leaving it running"
			return 0
		fi
	fi
	if ! LTTNG_HOME=$lt_home HOME=$lt_home lttng-sessiond --daemonize --no-kernel \
		>"$work/sessiond.log" 2>&1; then
		warn "lttng-sessiond did not start: $(tail -n 3 "$work/sessiond.log")"
		return 1
	fi
	lt_started=1
	lt_sessiond_pid=$(cat "$pidfile" 2>/dev/null || true)
	if [ -z "$lt_sessiond_pid" ]; then
		warn "lttng-sessiond started but left no pid in $pidfile"
		return 1
	fi
	lt list >/dev/null 2>&1 || {
		warn "lttng-sessiond (pid $lt_sessiond_pid) does not answer"
		return 1
	}
}

# One bench_lttng run in a fresh session. Prints bench_lttng's line plus " discarded=N" and, with
# count=1, " read_back=N" (events babeltrace2 finds in the trace) and " trace_bytes=N" (the whole
# trace directory: streams, indexes, metadata). Returns 1 on any failure.
lt_run() { # mode threads count [bench_lttng options...]
	local mode=$1 threads=$2 count=$3 out=$work/lttng-trace line discarded read_back='' bytes=''
	shift 3
	rm -rf "$out"
	lt create "$lt_session" --output="$out" >/dev/null || return 1
	lt enable-channel -u -s "$lt_session" --subbuf-size=4M --num-subbuf=8 ch >/dev/null || return 1
	lt enable-event -u -s "$lt_session" -c ch 'hx_bench:*' >/dev/null || return 1
	lt start "$lt_session" >/dev/null || return 1
	line=$(LTTNG_HOME=$lt_home HOME=$lt_home LTTNG_UST_REGISTER_TIMEOUT=10000 \
		"$lttng_bench" "$mode" --threads "$threads" "$@") || return 1
	lt stop "$lt_session" >/dev/null || return 1
	discarded=$(lt list "$lt_session" | awk '/Discarded events:|Lost packets:/ { n += $NF } END { print n + 0 }')
	if [ "$count" = 1 ]; then
		bytes=$(du -sb "$out" | awk '{ print $1 }')
		if command -v babeltrace2 >/dev/null; then
			read_back=$(babeltrace2 "$out" 2>/dev/null | grep -c 'hx_bench:' || true)
		elif command -v babeltrace >/dev/null; then
			read_back=$(babeltrace "$out" 2>/dev/null | grep -c 'hx_bench:' || true)
		else
			read_back=$(du -sb "$out" | awk '{ print "bytes:" $1 }')
		fi
	fi
	lt destroy "$lt_session" >/dev/null || return 1
	rm -rf "$out"
	printf '%s discarded=%s%s%s\n' "$line" "$discarded" "${read_back:+ read_back=$read_back}" \
		"${bytes:+ trace_bytes=$bytes}"
}

# ---- helpers ----------------------------------------------------------------------------------
kv() { # LINE KEY: the value of KEY=value in a bench line
	awk -v k="$2" '{ for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) { print substr($i, n + 1); exit } } }' <<<"$1"
}
stat_of() { # median|min|max VALUES...
	local what=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v w="$what" '{ a[NR] = $1 }
		END { if (NR == 0) { print "nan"; exit }
		      if (w == "min") print a[1]; else if (w == "max") print a[NR];
		      else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fmt() { # FORMAT VALUE: printf that passes nan through
	# shellcheck disable=SC2059 # the format is the argument
	case $2 in nan | "") printf nan ;; *) LC_ALL=C printf "$1" "$2" ;; esac
}
div() { # A B: A / B, or nan
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "nan"; else print a / b }'
}

events_arg() { # MODE: --events for quick mode, nothing otherwise (each program's defaults)
	[ "$quick" = 1 ] || return 0
	case $1 in
	point) echo "--events 3000000" ;;
	point2) echo "--events 1000000" ;;
	block) echo "--events 1500000" ;;
	off) echo "--events 100000000" ;;
	sampled) echo "--events 20000000" ;;
	filtered) echo "--events 10000000" ;;
	lttng-*) echo "--events 1000000" ;;
	esac
}

declare -A ns cpu mev lns lcpu lmev ldisc lattempts
bytes_point=nan bytes_point2=nan bytes_block=nan file_bytes_point=nan lttng_bytes_point=nan

run_core() { # MODE THREADS RUN: one bench_core run; records the numbers
	local mode=$1 t=$2 r=$3 dir=$work/trace line verify=--no-verify
	rm -rf "$dir"
	if [ "$r" = 1 ]; then
		verify= # the first run of each cell reads its trace back
	fi
	# shellcheck disable=SC2046
	line=$("$core" "$mode" --threads "$t" --dir "$dir" $verify $(events_arg "$mode")) ||
		die "bench_core $mode --threads $t failed (exit $?); output: $line"
	rm -rf "$dir"
	ns[$mode,$t]+=" $(kv "$line" ns_per_event)"
	cpu[$mode,$t]+=" $(kv "$line" cpu_ns_per_event)"
	mev[$mode,$t]+=" $(kv "$line" mev_s)"
	local dropped
	dropped=$(kv "$line" dropped)
	[ -z "$dropped" ] || [ "$dropped" = 0 ] || warn "bench_core $mode --threads $t: $dropped events dropped"
	if [ -z "$verify" ] && [ "$mode" != off ] && [ "$mode" != sampled ] && [ "$mode" != filtered ] && [ "$t" = 1 ]; then
		case $mode in
		point) bytes_point=$(kv "$line" bytes_per_iter) file_bytes_point=$(kv "$line" file_bytes_per_iter) ;;
		point2) bytes_point2=$(kv "$line" bytes_per_iter) ;;
		block) bytes_block=$(kv "$line" bytes_per_iter) ;;
		esac
	fi
}

run_lttng() { # MODE THREADS RUN
	local mode=$1 t=$2 line
	# shellcheck disable=SC2046
	if ! line=$(lt_run "$mode" "$t" 0 $(events_arg lttng-"$mode")); then
		warn "bench_lttng $mode --threads $t failed: LTTng numbers dropped from the comparison"
		lt_ok=0
		lt_stop_daemon
		return
	fi
	lns[$mode,$t]+=" $(kv "$line" ns_per_event)"
	lcpu[$mode,$t]+=" $(kv "$line" cpu_ns_per_event)"
	lmev[$mode,$t]+=" $(kv "$line" mev_s)"
	ldisc[$mode,$t]=$((${ldisc[$mode,$t]:-0} + $(kv "$line" discarded)))
	lattempts[$mode,$t]=$((${lattempts[$mode,$t]:-0} + $(kv "$line" recorded_attempts)))
}

# ---- the machine ------------------------------------------------------------------------------
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
say "core benchmark: $BUILD, $runs runs per cell, $(nproc) CPUs (${cpu_model:-unknown}), load $load_start"
if awk -v l="${load_start%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
	warn "the machine is busy (load average $load_start on $(nproc) CPUs): expect noisy numbers"
fi

# ---- LTTng: set up, and check that it really records -----------------------------------------
if lt_start; then
	lt_ok=1
	say "LTTng: session daemon ready; checking that a short run is recorded in full"
	if check=$(lt_run point 1 1 --events 1000000 --warmup 0); then
		rb=$(kv "$check" read_back)
		dc=$(kv "$check" discarded)
		lttng_bytes_point=$(div "$(kv "$check" trace_bytes)" 1000000)
		case $rb in
		1000000) say "LTTng: 1000000 of 1000000 events read back (discarded: $dc)" ;;
		bytes:*)
			warn "no babeltrace2: LTTng's trace holds ${rb#bytes:} bytes for 1000000 events (not decoded)"
			[ "${rb#bytes:}" -ge 4000000 ] || {
				warn "too small to hold the events: LTTng not measured"
				lt_ok=0
			}
			;;
		*)
			warn "LTTng recorded ${rb:-?} of 1000000 events (discarded: $dc): LTTng not measured"
			lt_ok=0
			;;
		esac
	else
		warn "the LTTng check run failed: LTTng not measured"
		lt_ok=0
	fi
	[ "$lt_ok" = 1 ] || lt_stop_daemon
fi

# ---- timed runs -------------------------------------------------------------------------------
for mode in "${modes[@]}"; do
	for t in "${thread_counts[@]}"; do
		say "  $mode, $t thread(s) ..."
		for ((r = 1; r <= runs; r++)); do
			run_core "$mode" "$t" "$r"
			if [ "$lt_ok" = 1 ] && { [ "$mode" = point ] || [ "$mode" = point2 ]; }; then
				run_lttng "$mode" "$t" "$r"
			fi
		done
	done
done
lt_stop_daemon

# ---- read speed -------------------------------------------------------------------------------
read_mev=nan read_note='' read_api_mev=nan
read_target=$((1 << 30))
[ "$quick" != 1 ] || read_target=$((64 << 20))
free_kb=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
if [ ! -x "$hx" ]; then
	warn "$hx not found: read speed not measured"
	read_note="no hx binary"
elif [ "${free_kb:-0}" -lt $((5 * 1024 * 1024)) ]; then
	warn "only $((free_kb / 1024)) MiB free under ${TMPDIR:-/tmp}: need 5 GiB for the read trace; read speed not measured"
	read_note="not enough disk"
else
	bpp=$bytes_point
	[ "$bpp" != nan ] || bpp=16
	# Enough point events for read_target bytes of committed chunks, plus 2% for the estimate.
	read_events=$(awk -v t="$read_target" -v b="$bpp" 'BEGIN { printf "%d", t / b * 1.02 + 1 }')
	say "read speed: writing $read_events point events ($((read_target >> 20)) MiB+) ..."
	rdir=$work/read
	gen=$("$core" point --threads 1 --events "$read_events" --warmup 0 --dir "$rdir" --no-verify) ||
		die "bench_core could not write the read trace"
	gen_dropped=$(kv "$gen" dropped)
	[ "${gen_dropped:-0}" = 0 ] || warn "$gen_dropped events dropped while writing the read trace"
	trace_bytes=$(du -sb "$rdir" | awk '{ print $1 }')
	[ "$trace_bytes" -ge "$read_target" ] ||
		warn "the read trace is $trace_bytes bytes, less than $read_target"
	times=() events=
	for ((r = 1; r <= 3; r++)); do
		t0=$(date +%s%N)
		js=$("$hx" stats --json "$rdir") || die "hx stats --json $rdir failed"
		t1=$(date +%s%N)
		times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e9 }')")
		if [ -z "$events" ]; then
			if command -v jq >/dev/null; then
				events=$(jq -r 'first(.. | objects | select(has("events")) | .events)' <<<"$js" 2>/dev/null || true)
			fi
			[ -n "$events" ] && [ "$events" != null ] ||
				events=$(grep -o '"events"[[:space:]]*:[[:space:]]*[0-9]*' <<<"$js" | head -n 1 | grep -o '[0-9]*$' || true)
		fi
	done
	[ -n "$events" ] || die "hx stats --json printed no event count: $(head -c 300 <<<"$js")"
	[ "$events" -ge "$read_events" ] ||
		warn "hx stats counted $events events, $read_events were written"
	secs=$(stat_of median "${times[@]}")
	read_mev=$(awk -v e="$events" -v s="$secs" 'BEGIN { print e / s / 1e6 }')
	read_note="$events events, $((trace_bytes >> 20)) MiB in $(fmt %.2f "$secs") s, median of 3 (runs: ${times[*]} s); warm page cache"
	# The reader API alone (no tallying), to tell the decoder's share from hx stats' own.
	api=()
	for ((r = 1; r <= 3; r++)); do
		line=$("$core" read --dir "$rdir") || die "bench_core read $rdir failed"
		api+=("$(kv "$line" mev_s)")
	done
	read_api_mev=$(stat_of median "${api[@]}")
	rm -rf "$rdir"
fi

# ---- report -----------------------------------------------------------------------------------
report=$work/report.txt
{
	echo "Haruspex core benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "commit $(git -C "$here" describe --always --dirty 2>/dev/null || echo unknown), build $BUILD"
	echo "machine: $(nproc) CPUs, ${cpu_model:-unknown}, $(uname -sr); load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
	if [ "$lt_ok" = 1 ] || [ -n "${lns[point,1]:-}" ]; then
		echo "peer: LTTng-UST $(pkg-config --modversion lttng-ust 2>/dev/null || echo '?'), lttng-tools $(lttng --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n 1), per-user buffers, 8 x 4 MiB sub-buffers per CPU, discard mode"
	fi
	[ "$quick" != 1 ] || echo "QUICK MODE: a tenth of the events, a small read trace: not for comparison"
	echo
	echo "ns per call: median of $runs runs [min .. max]; each run's value is the mean over its threads"
	echo "of (loop time / calls). cpu = thread CPU time per call (excludes waiting for a core: with 4"
	echo "threads on $(nproc) CPUs, ns is about 2 x cpu). Mev/s = all threads' calls / wall time. block = one"
	echo "begin+end pair. off = tracing never started. sampled = a point in a trace that head sampling"
	echo "dropped. filtered = a point whose name a filter disables. lttng = the same point through LTTng-UST."
	echo
	printf '%-14s %7s %9s %21s %9s %9s\n' mode threads ns '[min .. max]' cpu Mev/s
	for mode in "${modes[@]}" lttng-point lttng-point2; do
		for t in "${thread_counts[@]}"; do
			case $mode in
			lttng-*)
				m=${mode#lttng-}
				vals=${lns[$m,$t]:-} cvals=${lcpu[$m,$t]:-} mvals=${lmev[$m,$t]:-}
				;;
			*) vals=${ns[$mode,$t]:-} cvals=${cpu[$mode,$t]:-} mvals=${mev[$mode,$t]:-} ;;
			esac
			[ -n "$vals" ] || continue
			# shellcheck disable=SC2086
			printf '%-14s %7s %9s %21s %9s %9s\n' "$mode" "$t" \
				"$(fmt %.2f "$(stat_of median $vals)")" \
				"[$(fmt %.2f "$(stat_of min $vals)") .. $(fmt %.2f "$(stat_of max $vals)")]" \
				"$(fmt %.2f "$(stat_of median $cvals)")" "$(fmt %.1f "$(stat_of median $mvals)")"
		done
	done
	if [ -n "${lns[point,1]:-}" ]; then
		echo
		printf 'LTTng discarded events (all runs):'
		for m in point point2; do
			for t in "${thread_counts[@]}"; do
				if [ -n "${lattempts[$m,$t]:-}" ]; then
					printf ' %s/%s: %s of %s;' "$m" "$t" "${ldisc[$m,$t]}" "${lattempts[$m,$t]}"
				fi
			done
		done
		echo
		printf 'hx / LTTng per thread count (point):'
		for t in "${thread_counts[@]}"; do
			# shellcheck disable=SC2086
			printf ' %s thread(s) %s;' "$t" "$(fmt %.2f "$(div "$(stat_of median ${ns[point,$t]})" "$(stat_of median ${lns[point,$t]:-})")")"
		done
		echo
	fi
	echo
	echo "bytes per point: (committed record bytes + 32-byte chunk headers) / point events, read back"
	echo "  from a 1-thread run: each event's record plus its share of the name definitions and entity"
	echo "  context records every chunk repeats. point: $(fmt %.2f "$bytes_point"), point2: $(fmt %.2f "$bytes_point2"), block begin+end: $(fmt %.2f "$bytes_block");"
	echo "  whole files (header, index, unused chunk tails) per point: $(fmt %.2f "$file_bytes_point");"
	echo "  LTTng, whole trace directory per point (1M-event check run): $(fmt %.2f "$lttng_bytes_point")"
	echo "read speed: hx stats --json on a trace of >= $((read_target >> 20)) MiB: $(fmt %.1f "$read_mev") Mev/s"
	echo "  (${read_note:-}); the reader API alone (bench_core read, no tallying): $(fmt %.1f "$read_api_mev") Mev/s"
	echo

	# shellcheck disable=SC2086
	point_ns=$(stat_of median ${ns[point,1]})
	# shellcheck disable=SC2086
	block_ns=$(stat_of median ${ns[block,1]})
	# shellcheck disable=SC2086
	off_ns=$(stat_of median ${ns[off,1]})
	# shellcheck disable=SC2086
	sampled_ns=$(stat_of median ${ns[sampled,1]})
	# shellcheck disable=SC2086
	filtered_ns=$(stat_of median ${ns[filtered,1]})
	lttng_point_ns=nan
	# shellcheck disable=SC2086
	[ -z "${lns[point,1]:-}" ] || lttng_point_ns=$(stat_of median ${lns[point,1]})
	ratio=$(div "$point_ns" "$lttng_point_ns")
	check() { # NAME VALUE OP LIMIT
		awk -v n="$1" -v v="$2" -v op="$3" -v l="$4" 'BEGIN {
			ok = v == "nan" ? "not measured" : (op == "<=" ? (v + 0 <= l + 0) : (v + 0 >= l + 0)) ? "ok" : "MISSED"
			printf "  %-16s %10s  target %s %s  %s\n", n, v, op, l, ok }'
	}
	echo "budgets (docs: DESIGN.md; speed is reported here, never asserted in tests):"
	check point_ns "$(fmt %.2f "$point_ns")" "<=" 25
	check ratio "$(fmt %.2f "$ratio")" "<=" 0.35
	check block_ns "$(fmt %.2f "$block_ns")" "<=" 50
	check off_ns "$(fmt %.2f "$off_ns")" "<=" 2
	check sampled_out_ns "$(fmt %.2f "$sampled_ns")" "<=" 2
	echo "  filtered_ns      $(fmt %.2f "$filtered_ns")  (no budget: one exact-name filter set)"
	check bytes_per_point "$(fmt %.2f "$bytes_point")" "<=" 16
	check read_mev_s "$(fmt %.1f "$read_mev")" ">=" 30
	echo
	echo "RESULT point_ns=$(fmt %.2f "$point_ns") block_ns=$(fmt %.2f "$block_ns") off_ns=$(fmt %.2f "$off_ns") lttng_point_ns=$(fmt %.2f "$lttng_point_ns") ratio=$(fmt %.2f "$ratio") bytes_per_point=$(fmt %.2f "$bytes_point") read_mev_s=$(fmt %.1f "$read_mev")"
} >"$report"

mkdir -p "$here/out"
saved=$here/out/core-$(date '+%Y%m%d-%H%M%S').txt
cp "$report" "$saved"
cat "$report"
say "saved to $saved"
