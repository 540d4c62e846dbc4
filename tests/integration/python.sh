#!/usr/bin/env bash
# python.sh - the Python binding's tests (bindings/python/tests/, unittest, standard library
# only) against one build: the binding loads BUILD_DIR/src/lib/libharuspex.so through ctypes,
# and the cross-language tests run BUILD_DIR/tests/py_peer as the C side.
#
#     tests/integration/python.sh [BUILD_DIR]      (default: $HX_BUILD_DIR, else build)
#
# tests/run.sh runs it against build/ and build-asan/. For a sanitized build the shared library
# needs the ASan (and UBSan) runtime loaded first, so they are preloaded into python3; leak
# detection is turned off for the interpreter, whose own allocations at exit are not freed
# (CPython does not free everything at exit), while every other sanitizer check stays on and
# aborts on the first report. The C peer is an ordinary ASan program and runs with the settings
# this script was given, leak detection included.
set -euo pipefail

build=${1:-${HX_BUILD_DIR:-build}}
build=$(cd "$build" && pwd)
src=${HX_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
lib=$build/src/lib/libharuspex.so

command -v python3 >/dev/null || { echo "FAIL: python3 not found" >&2; exit 1; }
[[ -f $lib ]] || { echo "FAIL: no shared library at $lib" >&2; exit 1; }
[[ -x $build/tests/py_peer ]] || { echo "FAIL: no $build/tests/py_peer (tests/meson.build)" >&2; exit 1; }

# Tracing is configured by the tests alone: no HARUSPEX_* from the caller's environment.
while IFS= read -r var; do
  unset "$var"
done < <(env | sed -n 's/^\(HARUSPEX_[A-Za-z0-9_]*\)=.*/\1/p')

export HX_BUILD_DIR=$build HX_SOURCE_DIR=$src HARUSPEX_LIB=$lib
export PYTHONPATH=$src/bindings/python${PYTHONPATH:+:$PYTHONPATH}
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in the source tree

# A sanitized build: the library needs libasan (and libubsan) as the dynamic loader's first
# libraries. ldd names the runtimes the library was linked with, whichever compiler built it.
runtimes=()
while read -r name _ path _; do
  case $name in
    libasan.so* | libubsan.so* | libclang_rt.asan* | libclang_rt.ubsan*) runtimes+=("$path") ;;
  esac
done < <(ldd "$lib")
# An ASan library linked statically against the runtime (clang's default) has nothing to
# preload; meson's record of the option tells us it is sanitized all the same.
if [[ ${#runtimes[@]} -eq 0 ]] && grep -q '"name": "b_sanitize", "value": "[^"]*address' \
     "$build/meson-info/intro-buildoptions.json" 2>/dev/null; then
  echo "FAIL: $lib is built with ASan but links no ASan runtime to preload" >&2
  exit 1
fi
if [[ ${#runtimes[@]} -gt 0 ]]; then
  echo "sanitized build: preloading ${runtimes[*]}"
  export HX_PEER_ASAN_OPTIONS=${ASAN_OPTIONS:-}
  export LD_PRELOAD="${runtimes[*]}${LD_PRELOAD:+ $LD_PRELOAD}"
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
fi

python3 -m unittest discover -s "$src/bindings/python/tests" -v
