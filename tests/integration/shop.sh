#!/usr/bin/env bash
# shop.sh - the distributed example end to end: run examples/shop (a client, a gateway, two
# backends and several workers, each its own process writing its own trace file), then check the
# traces for the exact expected DAG: one trace per order spanning every process, every interaction
# linked (no dangling cause), the expected count of each interaction kind, causes before effects,
# the expected blocks and their nesting (tests/integration/shop_check.py says exactly what).
# `hx check` must pass the directory, and `hx stats` and `hx dump` must read it.
#
#     tests/integration/shop.sh [BUILD_DIR]      (default: build)
#
# tests/run.sh runs it in an empty working directory with HX, HX_BUILD_DIR and HX_SOURCE_DIR set.
set -euo pipefail

build=${1:-build}
hx=${HX:-$build/src/cli/hx}
src=${HX_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
shop=$build/examples/shop/shop
requests=3
workers=3
work=$(mktemp -d "${TMPDIR:-/tmp}/hxtest-shop.XXXXXX")
trap 'rm -rf "$work"' EXIT

[[ -x $hx ]] || { echo "FAIL: no hx binary at $hx" >&2; exit 1; }
if [[ ! -x $shop ]]; then
  echo "FAIL: $shop not built: it needs libevent-dev and libcurl4-openssl-dev (scripts/deps.sh" \
       "installs them; then reconfigure: scripts/build.sh --reconfigure $build)" >&2
  exit 1
fi

# The launcher has its own deadline and stops every process it started on any failure; the outer
# timeout only guards against the launcher itself hanging.
dir=$work/traces
rc=0
timeout 120 "$shop" --requests "$requests" --workers "$workers" --timeout 60 "$dir" \
  >"$work/shop.out" 2>"$work/shop.err" || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "FAIL: the shop exited with $rc" >&2
  sed 's/^/    /' "$work/shop.out" "$work/shop.err" >&2
  exit 1
fi
placed=$(grep -c '^client: 201 ' "$work/shop.out" || true)
if [[ $placed -ne $requests ]]; then
  echo "FAIL: $placed of $requests orders placed" >&2
  sed 's/^/    /' "$work/shop.out" >&2
  exit 1
fi

# One file per process at least (a file rotates only past 1 GiB).
nfiles=$(find "$dir" -name '*.hx' | wc -l)
if [[ $nfiles -lt $((4 + workers)) ]]; then
  echo "FAIL: $nfiles trace files in $dir, expected one per process ($((4 + workers)))" >&2
  ls -l "$dir" >&2
  exit 1
fi

failures=0
if ! "$hx" check "$dir" >"$work/check.out" 2>&1; then
  echo "FAIL: hx check $dir did not exit 0" >&2
  sed 's/^/    /' "$work/check.out" >&2
  failures=$((failures + 1))
fi
if ! "$hx" stats "$dir" >"$work/stats.out" 2>&1; then
  echo "FAIL: hx stats $dir did not exit 0" >&2
  sed 's/^/    /' "$work/stats.out" >&2
  failures=$((failures + 1))
fi
if ! python3 "$src/tests/integration/shop_check.py" --hx "$hx" --requests "$requests" \
     --workers "$workers" "$dir"; then
  failures=$((failures + 1))
fi

if [[ $failures -ne 0 ]]; then
  echo "shop.sh: $failures failure(s)" >&2
  exit 1
fi
echo "shop.sh: ok ($requests orders, $((4 + workers)) processes, every trace as expected)"
