#!/usr/bin/env bash
# Configure a build directory if needed, then build it.
#
#   scripts/build.sh [--reconfigure] DIR [meson setup options...]
#
# The first run does `meson setup DIR options`. Later runs with the same options (and the same CC
# and meson version) just run ninja, which regenerates by itself when a meson.build changed. When the
# options differ from the ones DIR was set up with, DIR is wiped and set up afresh, so an option
# dropped from the command line really goes back to its default. --reconfigure forces meson to run
# again (for instance after installing a package that an optional dependency() looks for).
#
# Environment: CC picks the compiler at setup (meson's default otherwise); JOBS sets ninja's
# parallelism (default: the number of CPUs).
set -euo pipefail

reconfigure=false
if [[ ${1:-} == --reconfigure ]]; then
  reconfigure=true
  shift
fi
if [[ $# -lt 1 ]]; then
  echo "usage: $0 [--reconfigure] DIR [meson setup options...]" >&2
  exit 2
fi
dir=$1
shift

cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

# quiet CMD...: run CMD with its output held back, shown only if it fails (meson's configure report
# is long and only interesting when something is missing).
quiet() {
  local out rc=0
  out=$(mktemp)
  "$@" >"$out" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    cat "$out" >&2
  fi
  rm -f "$out"
  return "$rc"
}

# What DIR was set up with; any change means setting it up again.
stamp_file=$dir/.hx-setup
stamp="meson $(meson --version) CC=${CC:-} $*"

if [[ ! -f $dir/build.ninja || ! -f $stamp_file ]]; then
  # Start clean, but never delete a directory that is not a meson build directory.
  if [[ -e $dir && ! -d $dir/meson-private && -n $(ls -A "$dir" 2>/dev/null) ]]; then
    echo "$0: $dir exists and is not a meson build directory; not touching it" >&2
    exit 1
  fi
  rm -rf "$dir"
  echo "configuring $dir: meson setup $*"
  quiet meson setup "$dir" "$@"
  printf '%s\n' "$stamp" >"$stamp_file"
elif [[ $(<"$stamp_file") != "$stamp" ]]; then
  echo "configuring $dir afresh (options changed): meson setup $*"
  quiet meson setup --wipe "$dir" "$@"
  printf '%s\n' "$stamp" >"$stamp_file"
elif $reconfigure; then
  echo "reconfiguring $dir"
  quiet meson setup --reconfigure "$dir" "$@"
fi

ninja -C "$dir" -j "$jobs"
