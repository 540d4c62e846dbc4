#!/usr/bin/env bash
# bench/run-analysis.sh - the analysis benchmark (`make bench-analysis`): building the trace DAG of
# a 10 M-event trace and walking its critical path (bench/bench_analysis.c says what the trace is).
#
#   bench/run-analysis.sh [BUILD_DIR]        (default: build; a release build with bench/ built)
#
# Runs bench_analysis RUNS times (default 3) with the events delivered in stream order (as
# `hx critical-path` reads them) and takes the median of each time, the largest peak RSS; then once
# with the events interleaved in time order, the builder's slowest order, for information.
# Budgets (issue 6): DAG build <= 3 s and <= 1.5 GB, critical path <= 1 s.
#
# analyze_100k_s: `hx analyze --group-by name` (every feature, critical paths included) over
# 100,000 traces of a small shop in 5 trace files made by bench_analyze_gen, reading included;
# median of RUNS runs, wall time (the CPU time is shown beside it).
# export_mb_s: `hx export --format chrome` of HX_BENCH_EVENTS events (the shop of bench_analyze_gen,
# events/42 traces, 5 processes) in MB of JSON written per second of wall time, reading and the
# DAG included, output piped to wc (disk speed is not the exporter's); median of
# HX_BENCH_EXPORT_RUNS runs (default RUNS). otlp and zipkin are measured the same way and printed
# on their own `export` line.
#
# Environment: HX_BENCH_RUNS (default 3), HX_BENCH_EVENTS (default 10000000), HX_BENCH_TRACES
# (default 100000).
# Output: a table and the RESULT line on stdout, also saved to bench/out/analysis-<date>.txt.
set -euo pipefail

BUILD=${1:-build}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exe=$BUILD/bench/bench_analysis
runs=${HX_BENCH_RUNS:-3}
events=${HX_BENCH_EVENTS:-10000000}

if [[ ! -x $exe ]]; then
  echo "run-analysis.sh: $exe not found: build $BUILD first (make build)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hx-bench-analysis.XXXXXX")
trap 'rm -rf "$work"' EXIT

# value NAME FILE: the number after "NAME " in a bench_analysis output
value() {
  awk -v k="$1" '$1 == k { print $2; exit }' "$2"
}

# median of the numbers on stdin
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for i in $(seq 1 "$runs"); do
  "$exe" "$events" stream >"$work/run-$i.txt"
done
"$exe" "$events" time >"$work/time.txt"

dag_s=$(for i in $(seq 1 "$runs"); do value dag_build_s "$work/run-$i.txt"; done | median)
cp_s=$(for i in $(seq 1 "$runs"); do value critpath_s "$work/run-$i.txt"; done | median)
gen_s=$(for i in $(seq 1 "$runs"); do value gen_s "$work/run-$i.txt"; done | median)
rss_mb=$(for i in $(seq 1 "$runs"); do value peak_rss_mb "$work/run-$i.txt"; done | sort -g | tail -n 1)
first=$work/run-1.txt

analyze_s=nan analyze_cpu_s=nan
if [[ -x $BUILD/bench/bench_analyze_gen && -x $BUILD/src/cli/hx ]]; then
  "$BUILD/bench/bench_analyze_gen" "$work/shop" "${HX_BENCH_TRACES:-100000}" >"$work/gen.txt"
  for i in $(seq 1 "$runs"); do
    TIMEFORMAT='%R %U %S'
    { time "$BUILD/src/cli/hx" analyze --group-by name "$work/shop" >"$work/analyze-out.txt" 2>&1; } 2>"$work/analyze-$i.txt"
  done
  analyze_s=$(for i in $(seq 1 "$runs"); do awk '{ print $1 }' "$work/analyze-$i.txt"; done | median)
  analyze_cpu_s=$(for i in $(seq 1 "$runs"); do awk '{ printf "%.3f\n", $2 + $3 }' "$work/analyze-$i.txt"; done | median)
fi

# export_mb_s: MB of JSON per second of `hx export` (reading, DAG and writing), per format
declare -A export_mb=([chrome]=nan [otlp]=nan [zipkin]=nan)
export_info=()
if [[ -x $BUILD/bench/bench_analyze_gen && -x $BUILD/src/cli/hx ]]; then
  "$BUILD/bench/bench_analyze_gen" "$work/export" $(( (events + 41) / 42 )) >"$work/export-gen.txt"
  for fmt in chrome otlp zipkin; do
    for i in $(seq 1 "${HX_BENCH_EXPORT_RUNS:-$runs}"); do
      TIMEFORMAT='%R %U %S'
      { time "$BUILD/src/cli/hx" export --format "$fmt" "$work/export" 2>/dev/null | wc -c >"$work/export-$fmt-$i.bytes"; } 2>"$work/export-$fmt-$i.time"
      awk -v b="$(cat "$work/export-$fmt-$i.bytes")" '{ printf "%.1f %.1f %.1f\n", b / 1e6 / $1, b / 1e6 / ($2 + $3), b / 1e6 }' \
        "$work/export-$fmt-$i.time" >"$work/export-$fmt-$i.txt"
    done
    export_mb[$fmt]=$(for i in $(seq 1 "${HX_BENCH_EXPORT_RUNS:-$runs}"); do awk '{ print $1 }' "$work/export-$fmt-$i.txt"; done | median)
    export_info+=(" $fmt $(awk '{ print $3 }' "$work/export-$fmt-1.txt") MB, cpu $(for i in $(seq 1 "${HX_BENCH_EXPORT_RUNS:-$runs}"); do awk '{ print $2 }' "$work/export-$fmt-$i.txt"; done | median) MB/s")
  done
fi

# check NAME VALUE OP LIMIT: one table line with the budget's verdict
check() {
  local verdict
  verdict=$(awk -v v="$2" -v op="$3" -v l="$4" 'BEGIN { ok = (op == "<=") ? (v <= l) : (v >= l); print ok ? "ok" : "OVER BUDGET" }')
  printf '  %-16s %10s   (budget %s %s: %s)\n' "$1" "$2" "$3" "$4" "$verdict"
}

report=$work/report.txt
{
  echo "analysis benchmark: $(value events "$first") events, $(value causes "$first") causes," \
       "median of $runs runs ($(date '+%Y-%m-%d %H:%M'), $(nproc) CPUs)"
  echo "  graph            $(sed -n 's/^blocks //p' "$first" | awk '{print $1 " blocks, " $3 " waits, " $5 " issues"}'), $(value dag_mb "$first") MB held"
  echo "  path             $(value path_events "$first") events in $(value segments "$first") segments"
  echo "  generation_s     $gen_s  (synthetic events, included in dag_build_s)"
  check dag_build_s "$dag_s" "<=" 3
  check peak_rss_mb "$rss_mb" "<=" 1536
  check critpath_s "$cp_s" "<=" 1
  echo "  time-ordered     dag_build_s $(value dag_build_s "$work/time.txt"), peak_rss_mb $(value peak_rss_mb "$work/time.txt") (events interleaved entity by entity)"
  echo "  analyze_100k_s   $analyze_s  (cpu $analyze_cpu_s s; $(value traces "$work/gen.txt" 2>/dev/null) traces, $(value events "$work/gen.txt" 2>/dev/null) events)"
  echo "  export           $(value events "$work/export-gen.txt" 2>/dev/null) events: $(IFS=';'; echo "${export_info[*]:-not measured}")"
  echo "export chrome_mb_s=${export_mb[chrome]} otlp_mb_s=${export_mb[otlp]} zipkin_mb_s=${export_mb[zipkin]}"
  echo
  echo "RESULT dag_10m_s=$dag_s critpath_10m_s=$cp_s analyze_100k_s=$analyze_s export_mb_s=${export_mb[chrome]}"
} >"$report"

mkdir -p "$here/out"
saved=$here/out/analysis-$(date '+%Y%m%d-%H%M%S').txt
cp "$report" "$saved"
cat "$report"
echo "saved to $saved" >&2
