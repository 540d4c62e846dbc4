#!/usr/bin/env bash
# Build Haruspex three ways and run every test; `make test` runs this after scripts/deps.sh.
#
#   build/        release, gcc (meson's default compiler)  -> meson tests, script tests
#   build-asan/   debug, ASan+UBSan                        -> meson tests, script tests
#   build-fuzz/   clang, -Dfuzz=true, ASan+UBSan           -> replay each kept corpus, then fuzz
#
# Every meson test (suites unit and integration), every corpus replay, every fuzz run and every
# script-by-build pair counts as one pass or one fail; a build that fails counts as one fail (and its
# tests are not run). Failures are listed at the end with the tail of their logs, and the last line
# is always `N passed, M failed`. Exit status: 0 when M is 0, 1 otherwise. Every log is kept in
# build-testlogs/ until the next run.
#
# Script tests: each tests/integration/*.sh runs once against build/ and once against build-asan/,
# with bash, in a fresh empty working directory, with the build directory as $1 and in the
# environment HX (the hx binary), HX_BUILD_DIR and HX_SOURCE_DIR, all absolute. Exit 0 means pass.
#
# Environment:
#   HX_FUZZ_SECONDS   total fuzzing time, shared among the fuzz targets (default 60; 0: replay only)
#   JOBS              parallel builds and tests (default: the number of CPUs)
#   CC                compiler for build/ and build-asan/ (build-fuzz/ always uses clang)
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
fuzz_seconds=${HX_FUZZ_SECONDS:-60}
script_timeout=600
log_tail_lines=40

# Sanitizer settings for everything run from build-asan/: stop at the first report, fail loudly
# (abort, so meson sees a signal), look for leaks, and show where UB happened.
sanitizer_env=(
  ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:check_initialization_order=1:strict_string_checks=1
  UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
)
# libFuzzer wants the sanitizers to exit rather than abort: it then saves the input and says where.
fuzz_env=(
  ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:check_initialization_order=1:strict_string_checks=1
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
)

# Logs stay in build-testlogs/ (the failure report names them); scratch space is temporary.
logs=build-testlogs
rm -rf "$logs"
mkdir -p "$logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/hx-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
failure_report=$logs/failures.txt
: >"$failure_report"

passed=0
failed=0
start_time=$SECONDS

pass() {
  passed=$((passed + 1))
}

# fail NAME LOGFILE: count a failure and keep its log tail for the report at the end.
fail() {
  local name=$1 log=$2
  failed=$((failed + 1))
  echo "FAIL  $name"
  {
    echo "=== FAIL: $name  (log: ${log%.excerpt})"
    if [[ -s $log ]]; then
      tail -n "$log_tail_lines" "$log" | sed 's/^/    /'
    else
      echo "    (no output)"
    fi
    echo
  } >>"$failure_report"
}

section() {
  echo
  echo "==== $* ($((SECONDS - start_time)) s)"
}

# build DIR [meson setup options...]: configure and build quietly; the log is shown on failure.
build() {
  local dir=$1
  local log=$logs/$dir/build.log
  mkdir -p "$logs/$dir"
  if scripts/build.sh "$@" >"$log" 2>&1; then
    echo "built $dir"
    return 0
  fi
  fail "building $dir/" "$log"
  return 1
}

# meson_tests DIR TIMEOUT_MULTIPLIER [env assignments...]: run every meson test in DIR and count
# each result. The results come from meson's testlog.json; meson's own progress lines are shown
# as they come.
meson_tests() {
  local dir=$1 multiplier=$2
  shift 2
  local testlog=$dir/meson-logs/testlog.json
  local out=$logs/$dir/meson-test.log

  rm -f "$testlog"   # a stale log from an earlier run must not be counted
  local rc=0
  env "$@" meson test -C "$dir" --no-rebuild --num-processes "$jobs" \
    --timeout-multiplier "$multiplier" 2>&1 | tee "$out" || rc=$?
  if [[ ! -f $testlog ]]; then
    if [[ $rc -ne 0 ]]; then
      fail "meson test: $dir" "$out"
    else
      echo "(no meson tests defined)"
    fi
    return 0
  fi

  # One tab-separated line per test: PASS|FAIL|SKIP, name, file holding its output.
  local results=$work/results-$dir.tsv
  if ! python3 - "$testlog" "$dir" "$logs/$dir" >"$results" 2>>"$out" <<'EOF'
import json, os, sys

testlog, label, outdir = sys.argv[1:4]
os.makedirs(outdir, exist_ok=True)
passing = {"OK", "EXPECTEDFAIL"}
with open(testlog, encoding="utf-8", errors="replace") as f:
    for line in f:
        if not line.strip():
            continue
        rec = json.loads(line)
        # Meson names a test "<project>:<suite> / <test>"; drop the project, which is always ours.
        name = f"{label}: {rec['name'].split(':', 1)[-1]}"
        result = rec.get("result", "ERROR")
        if result in passing:
            print(f"PASS\t{name}\t-")
        elif result == "SKIP":
            print(f"SKIP\t{name}\t-")
        else:
            path = os.path.join(outdir, rec["name"].split(":", 1)[-1].replace(" / ", ".") + ".log")
            with open(path, "w", encoding="utf-8") as out:
                out.write(f"result: {result}, exit status {rec.get('returncode')}, "
                          f"{rec.get('duration', 0):.1f} s\n")
                out.write(rec.get("stdout") or "")
                out.write(rec.get("stderr") or "")
            print(f"FAIL\t{name}\t{path}")
EOF
  then
    fail "meson test: $dir (unreadable $testlog)" "$out"
    return 0
  fi
  local kind name logfile counted=0
  while IFS=$'\t' read -r kind name logfile; do
    case $kind in
      PASS) pass; counted=$((counted + 1)) ;;
      FAIL) fail "$name" "$logfile"; counted=$((counted + 1)) ;;
      SKIP) echo "skipped $name" ;;
    esac
  done <"$results"
  # meson failed but no test did: something outside the tests went wrong; don't let it pass.
  if [[ $rc -ne 0 && $counted -eq 0 ]]; then
    fail "meson test: $dir" "$out"
  fi
}

# script_tests DIR [env assignments...]: run each tests/integration/*.sh against DIR.
script_tests() {
  local dir=$1
  shift
  local abs_dir=$root/$dir script name cwd log
  for script in tests/integration/*.sh; do
    [[ -f $script ]] || continue
    name="$dir: script/$(basename "$script")"
    cwd=$(mktemp -d "$work/script.XXXXXX")
    log=$logs/$dir/$(basename "$script" .sh).log
    if (cd "$cwd" && env "$@" HX="$abs_dir/src/cli/hx" HX_BUILD_DIR="$abs_dir" \
          HX_SOURCE_DIR="$root" timeout "$script_timeout" bash "$root/$script" "$abs_dir") \
          >"$log" 2>&1; then
      echo "ok    $name"
      pass
    else
      fail "$name" "$log"
    fi
  done
}

# crash_excerpt LOG: print the name of a file holding the start of the first sanitizer or libFuzzer
# report in LOG plus LOG's last lines (where the input went), or LOG itself if there is no report.
crash_excerpt() {
  local log=$1 first
  first=$(grep -n -m1 -E '^==[0-9]+==(ERROR|WARNING)|runtime error:|^ERROR: libFuzzer|^ALARM:' "$log" |
          cut -d: -f1 || true)
  if [[ -z $first ]]; then
    echo "$log"
    return
  fi
  {
    tail -n +"$first" "$log" | head -n $((log_tail_lines - 6))
    echo "..."
    tail -n 3 "$log"
  } >"$log.excerpt"
  echo "$log.excerpt"
}

# fuzz_flags NAME: print, one per line, the libFuzzer flags a target asks for: the [libfuzzer]
# section of tests/fuzz/NAME.options (OSS-Fuzz's format: `max_len = 65536` gives -max_len=65536),
# and -dict= for tests/fuzz/NAME.dict if there is one.
fuzz_flags() {
  local name=$1 line key value section=
  if [[ -f tests/fuzz/$name.options ]]; then
    while IFS= read -r line || [[ -n $line ]]; do
      line=${line%%#*}
      if [[ $line =~ ^[[:space:]]*\[(.*)\][[:space:]]*$ ]]; then
        section=${BASH_REMATCH[1]}
      elif [[ $section == libfuzzer && $line =~ ^[[:space:]]*([A-Za-z_]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]]; then
        key=${BASH_REMATCH[1]}
        value=${BASH_REMATCH[2]}
        echo "-$key=$value"
      fi
    done <"tests/fuzz/$name.options"
  fi
  if [[ -f tests/fuzz/$name.dict ]]; then
    echo "-dict=$root/tests/fuzz/$name.dict"
  fi
}

# fuzz_targets: replay the kept corpus of every tests/fuzz/fuzz_*.c, then fuzz each for its share
# of HX_FUZZ_SECONDS on a scratch copy of that corpus (new inputs are not written to the repo).
fuzz_targets() {
  local dir=build-fuzz
  local sources=(tests/fuzz/fuzz_*.c)
  [[ -e ${sources[0]} ]] || { echo "(no fuzz targets)"; return 0; }

  local per_target=$((fuzz_seconds / ${#sources[@]}))
  [[ $fuzz_seconds -gt 0 && $per_target -lt 1 ]] && per_target=1
  local src name exe corpus scratch artifacts log replay_log flags n runs input
  for src in "${sources[@]}"; do
    name=$(basename "$src" .c)
    exe=$root/$dir/tests/$name
    # The kept corpus: tests/fuzz/corpus/fuzz_<parser>/, or tests/fuzz/corpus/<parser>/.
    corpus=tests/fuzz/corpus/$name
    [[ -d $corpus ]] || corpus=tests/fuzz/corpus/${name#fuzz_}
    log=$logs/$dir/$name.log
    replay_log=$logs/$dir/$name-replay.log
    artifacts=$root/$dir/fuzz-artifacts/$name
    if [[ ! -x $exe ]]; then
      echo "$src exists but $dir did not build $name: add it to fuzz_targets in tests/meson.build" >"$log"
      fail "fuzz: $name" "$log"
      continue
    fi
    rm -rf "$artifacts"
    mkdir -p "$artifacts"
    mapfile -t flags < <(fuzz_flags "$name")

    # Replay: run each kept input once, whole (a directory argument would cut inputs at -max_len).
    n=$(find "$corpus" -type f 2>/dev/null | wc -l)
    if [[ $n -gt 0 ]]; then
      if (cd "$work" && find "$root/$corpus" -type f -print0 |
            env "${fuzz_env[@]}" xargs -0 "$exe" -timeout=10 -rss_limit_mb=2048 \
              -artifact_prefix="$artifacts/" "${flags[@]}") >"$replay_log" 2>&1; then
        echo "ok    fuzz: $name replay ($n inputs)"
        pass
      else
        input=$(sed -n 's/^Running: //p' "$replay_log" | tail -n 1)
        echo "(failed on ${input:-?}; reproduce with $exe ${input:-<file>})" >>"$replay_log"
        fail "fuzz: $name replay ($n inputs)" "$(crash_excerpt "$replay_log")"
      fi
    else
      echo "note: $corpus is empty or missing; fuzzing $name from scratch"
    fi

    [[ $fuzz_seconds -gt 0 ]] || continue
    scratch=$work/corpus-$name
    mkdir -p "$scratch"
    [[ $n -gt 0 ]] && cp -R "$corpus/." "$scratch/"
    # -timeout catches a hanging input; the outer timeout is only a backstop for libFuzzer itself.
    if (cd "$work" && env "${fuzz_env[@]}" timeout $((per_target + 300)) "$exe" \
          -max_total_time="$per_target" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
          -artifact_prefix="$artifacts/" "${flags[@]}" "$scratch") >"$log" 2>&1; then
      runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
      echo "ok    fuzz: $name (${per_target} s, ${runs:-?} runs)"
      pass
    else
      echo "(the crashing input is in $artifacts/; reproduce with $exe <file>)" >>"$log"
      fail "fuzz: $name (${per_target} s)" "$(crash_excerpt "$log")"
    fi
  done
}

section "release build (build/)"
release_ok=false
if build build -Dbuildtype=release; then
  release_ok=true
  meson_tests build 1
fi

section "sanitized build (build-asan/): ASan + UBSan"
asan_ok=false
if build build-asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false; then
  asan_ok=true
  meson_tests build-asan 3 "${sanitizer_env[@]}"
fi

section "fuzz build (build-fuzz/): clang, libFuzzer, ASan + UBSan, ${fuzz_seconds} s"
if CC=clang build build-fuzz -Dfuzz=true -Dbuildtype=debugoptimized \
     -Db_sanitize=address,undefined -Db_lundef=false; then
  fuzz_targets
fi

section "script tests (tests/integration/*.sh)"
if $release_ok; then
  script_tests build
fi
if $asan_ok; then
  script_tests build-asan "${sanitizer_env[@]}"
fi

# Browser tests: each tests/viewer/*.test.mjs once, against build/'s hx view, in headless Debian
# chromium driven by playwright-core (pinned by tests/viewer/package-lock.json, installed by
# `npm ci` when missing). Each file counts once; screenshots land in build-testlogs/viewer/.
# Without node or chromium they count as one failure that says so (never a silent skip).
section "browser tests (tests/viewer/*.test.mjs) against build/"
viewer_logs=$logs/viewer
mkdir -p "$viewer_logs"
if ! $release_ok; then
  echo "(build/ failed: no browser tests)"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null || [[ ! -x ${HX_CHROMIUM:-/usr/bin/chromium} ]]; then
  echo "node, npm or ${HX_CHROMIUM:-/usr/bin/chromium} is missing (Debian packages nodejs, npm," \
       "chromium; scripts/deps.sh installs them)" >"$viewer_logs/setup.log"
  fail "browser tests: chromium or node missing" "$viewer_logs/setup.log"
elif [[ ! -d tests/viewer/node_modules/playwright-core ]] &&
     ! (cd tests/viewer && npm ci --no-audit --no-fund) >"$viewer_logs/npm-ci.log" 2>&1; then
  fail "browser tests: npm ci in tests/viewer" "$viewer_logs/npm-ci.log"
else
  for viewer_test in tests/viewer/*.test.mjs; do
    viewer_log=$viewer_logs/$(basename "$viewer_test" .test.mjs).log
    if env HX="$root/build/src/cli/hx" HX_BUILD_DIR="$root/build" HX_SOURCE_DIR="$root" \
         HX_VIEWER_ARTIFACTS="$root/$viewer_logs" timeout "$script_timeout" node "$viewer_test" \
         >"$viewer_log" 2>&1; then
      echo "ok    viewer: $(basename "$viewer_test")"
      pass
    else
      fail "viewer: $(basename "$viewer_test")" "$viewer_log"
    fi
  done
fi

echo
if [[ $failed -gt 0 ]]; then
  cat "$failure_report"
fi
echo "took $((SECONDS - start_time)) s"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
