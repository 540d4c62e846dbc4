#!/usr/bin/env bash
# run-viewer.sh - the viewer benchmark (issue 5's scale targets): record a trace of about 10 M
# events with bench/viewer-gen.c, start `hx view` on it, and measure in headless chromium the
# first paint of the timeline, the 95th percentile of frame times over ~200 pans and zooms, and
# the page's memory (bench/viewer-bench.mjs says how). The last lines are
#
#     RESULT first_paint_ms=<x> frame_p95_ms=<x> events=<x>
#     MEMORY js_heap_used_mb=<x> js_heap_total_mb=<x>
#
#   bench/run-viewer.sh [BUILD_DIR]      BUILD_DIR defaults to ./build and must be built already
#
# Environment: HX_VIEWER_EVENTS (default 10000000), HX_VIEWER_OPS (default 200), HX_CHROMIUM
# (default /usr/bin/chromium), CC (default cc). Needs node and npm (playwright-core is installed
# into tests/viewer/node_modules from its lockfile when missing).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
events=${HX_VIEWER_EVENTS:-10000000}
ops=${HX_VIEWER_OPS:-200}
hx=$build/src/cli/hx
lib=$build/src/lib

[[ -x $hx ]] || { echo "run-viewer.sh: no $hx: build first" >&2; exit 1; }
[[ -e $lib/libharuspex.so ]] || { echo "run-viewer.sh: no $lib/libharuspex.so: build first" >&2; exit 1; }
[[ -x ${HX_CHROMIUM:-/usr/bin/chromium} ]] || { echo "run-viewer.sh: no chromium (scripts/deps.sh installs it)" >&2; exit 1; }
command -v node >/dev/null || { echo "run-viewer.sh: no node (scripts/deps.sh installs it)" >&2; exit 1; }
if [[ ! -d $root/tests/viewer/node_modules/playwright-core ]]; then
	(cd "$root/tests/viewer" && npm ci --no-audit --no-fund >/dev/null)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hx-viewer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"${CC:-cc}" -std=gnu11 -O2 -I"$root/include" "$root/bench/viewer-gen.c" -o "$work/viewer-gen" \
	-L"$lib" -lharuspex -Wl,-rpath,"$lib" -lpthread
start=$SECONDS
"$work/viewer-gen" "$events" "$work/traces"
echo "recorded in $((SECONDS - start)) s"
node "$root/bench/viewer-bench.mjs" --hx "$hx" --traces "$work/traces" --ops "$ops"
