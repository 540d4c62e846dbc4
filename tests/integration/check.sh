#!/usr/bin/env bash
# check.sh - the hx tool on real traces: `hx check` passes an intact trace and fails a damaged one
# (a changed byte, a cut); `hx dump` prints one line per event, `hx dump --json` one valid JSON
# object per event; `hx stats` shows the event count. The traces come from tests/threads (a known
# number of events) and the examples.
#
#     tests/integration/check.sh [BUILD_DIR]      (default: build)
#
# tests/run.sh runs it in an empty working directory with HX, HX_BUILD_DIR and HX_SOURCE_DIR set.
set -euo pipefail

build=${1:-build}
hx=${HX:-$build/src/cli/hx}
writer=$build/tests/threads
work=$(mktemp -d "${TMPDIR:-/tmp}/hxtest-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# run NAME CMD...: run CMD, keep its stdout in $work/NAME.out and stderr in $work/NAME.err, and
# return its exit status. A status over 128 (a signal: a crash, a sanitizer abort) always fails.
run() {
  local name=$1
  shift
  local rc=0
  "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  if [[ $rc -gt 128 ]]; then
    fail "$name: '$*' died with status $rc"
    sed 's/^/    /' "$work/$name.err" | head -20 >&2
  fi
  return $rc
}

expect_ok() {
  local name=$1
  shift
  local rc=0
  run "$name" "$@" || rc=$?
  if [[ $rc -ne 0 ]]; then
    fail "$name: '$*' exited with $rc, expected 0"
    sed 's/^/    /' "$work/$name.err" | head -10 >&2
  fi
}

expect_fail() {
  local name=$1
  shift
  local rc=0
  run "$name" "$@" || rc=$?
  if [[ $rc -eq 0 ]]; then
    fail "$name: '$*' exited with 0 on a damaged or missing trace"
  fi
}

[[ -x $hx ]] || { echo "FAIL: no hx binary at $hx" >&2; exit 1; }
[[ -x $writer ]] || { echo "FAIL: no trace writer at $writer" >&2; exit 1; }

# ---- an intact trace with a known count: 2 threads x (ENTITY_BEGIN, 1000 points, ENTITY_END) ----
trace=$work/threads
expect_ok writer "$writer" --threads 2 --events 1000 --keep "$trace"
events=2004

expect_ok check "$hx" check "$trace"

expect_ok stats "$hx" stats "$trace"
grep -qw "$events" "$work/stats.out" || fail "hx stats does not show the event count $events"
grep -q "threads-test" "$work/stats.out" || fail "hx stats does not show the service name"

expect_ok dump "$hx" dump "$trace"
lines=$(wc -l <"$work/dump.out")
[[ $lines -eq $events ]] || fail "hx dump printed $lines lines, expected $events"
points=$(grep -c ' point ' "$work/dump.out" || true)
[[ $points -eq 2000 ]] || fail "hx dump shows $points points, expected 2000"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z [0-9a-f]{16}:0 entity_begin' "$work/dump.out" ||
  fail "hx dump lines do not start with a time and an event ID"

expect_ok json "$hx" dump --json "$trace"
python3 - "$work/json.out" "$events" <<'EOF' || fail "hx dump --json output is wrong (see above)"
import json, sys
path, want = sys.argv[1], int(sys.argv[2])
n, kinds, seqs = 0, {}, {}
with open(path, encoding="utf-8") as f:
    for lineno, line in enumerate(f, 1):
        try:
            o = json.loads(line)
        except ValueError as e:
            sys.exit(f"line {lineno} is not JSON: {e}: {line[:200]!r}")
        for key in ("time_ns", "kind", "entity", "seq", "name"):
            if key not in o:
                sys.exit(f"line {lineno} lacks {key!r}: {line[:200]!r}")
        n += 1
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
        seqs.setdefault(o["entity"], []).append(o["seq"])
if n != want:
    sys.exit(f"{n} JSON objects, expected {want}")
if kinds != {"entity_begin": 2, "point": 2000, "entity_end": 2}:
    sys.exit(f"kinds {kinds}")
for ent, s in seqs.items():
    if sorted(s) != list(range(1002)):
        sys.exit(f"entity {ent}: sequence numbers are not 0..1001")
EOF

# ---- the examples, when built ----
for ex in hello pipeline; do
  bin=$build/examples/$ex
  [[ -x $bin ]] || { echo "note: $bin not built, skipped"; continue; }
  dir=$work/ex-$ex
  if [[ $ex == pipeline ]]; then
    expect_ok "$ex" "$bin" --items 50 --workers 2 "$dir"
  else
    expect_ok "$ex" "$bin" "$dir"
  fi
  expect_ok "$ex-check" "$hx" check "$dir"
  expect_ok "$ex-json" "$hx" dump --json "$dir"
  python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    json.loads(line)
    n += 1
sys.exit(0 if n > 0 else "no events")
' "$work/$ex-json.out" || fail "$ex: hx dump --json is not one JSON object per line"
  expect_ok "$ex-stats" "$hx" stats "$dir"
done

# ---- damage: a changed byte inside a chunk's committed bytes, and a cut through them ----
file=$(ls "$trace"/*.hx | head -n 1)
# The largest chunk: slot offset and committed bytes, from the chunk headers (format.h).
read -r off committed < <(python3 - "$file" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
cb = struct.unpack_from("<I", data, 16)[0]
best = (0, 0)
for off in range(4096, len(data) - 32, cb):
    if data[off:off + 4] == b"HXCK":
        committed = struct.unpack_from("<Q", data, off + 24)[0] & 0xffffffff
        if committed > best[1]:
            best = (off, committed)
print(best[0], best[1])
EOF
)
[[ $committed -gt 100 ]] || fail "no chunk with data found in $file"

mkdir -p "$work/flipped" "$work/cut"
cp "$file" "$work/flipped/"
flipped=$work/flipped/$(basename "$file")
at=$((off + 32 + committed / 2))
byte=$(od -An -tu1 -j "$at" -N1 "$flipped" | tr -d ' ')
printf "$(printf '\\%03o' $(((byte ^ 0x5a) & 255)))" | dd of="$flipped" bs=1 seek="$at" conv=notrunc status=none
cmp -s "$file" "$flipped" && fail "the byte at $at was not changed"
expect_fail check-flipped "$hx" check "$work/flipped"
run dump-flipped "$hx" dump "$work/flipped" || true
lines=$(wc -l <"$work/dump-flipped.out")
[[ $lines -lt $events && $lines -gt 0 ]] ||
  fail "hx dump of the flipped trace printed $lines lines (expected some, fewer than $events)"
run stats-flipped "$hx" stats "$work/flipped" || true

cp "$file" "$work/cut/"
cut=$work/cut/$(basename "$file")
truncate -s $((off + 32 + committed / 2)) "$cut"
expect_fail check-cut "$hx" check "$work/cut"
run dump-cut "$hx" dump --json "$work/cut" || true
python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    json.loads(line)
' "$work/dump-cut.out" || fail "hx dump --json of a cut trace is not valid JSON"

# ---- not a trace, and nothing at all ----
head -c 10000 /dev/urandom >"$work/noise.hx"
expect_fail check-noise "$hx" check "$work/noise.hx"
expect_fail check-missing "$hx" check "$work/does-not-exist"

if [[ $failures -gt 0 ]]; then
  echo "check.sh: $failures failures" >&2
  exit 1
fi
echo "check.sh: hx check, dump, dump --json and stats behave on intact, flipped, cut and foreign input"
