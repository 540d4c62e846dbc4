#!/usr/bin/env bash
# Install the Debian packages Haruspex needs, if any are missing.
#
#   scripts/deps.sh          what building and `make test` need (compilers, meson, cmocka, libFuzzer,
#                            libevent and libcurl for examples/shop)
#   scripts/deps.sh bench    the above, plus the peers `make bench` measures against (LTTng)
#
# Idempotent, and silent when everything is already installed: only then is it safe to run before
# every make target. `apt-get update` runs only when something is missing. Runs apt-get directly as
# root (as in CI), through sudo otherwise. On a system without dpkg it lists what to install and
# carries on, leaving the build to say what is really missing.
set -euo pipefail

base_packages=(
  build-essential   # gcc, make, libc headers
  meson
  ninja-build
  pkg-config
  clang             # the second compiler that must build warning-free; libFuzzer's compiler
  libclang-rt-dev   # clang's sanitizer and libFuzzer runtimes (libclang-rt-14-dev on Debian 12)
  libcmocka-dev     # unit tests
  python3           # tests/run.sh reads meson's test log with it
  libevent-dev      # examples/shop: the HTTP servers (gateway, backends)
  libcurl4-openssl-dev  # examples/shop: the HTTP clients
  libzstd-dev       # src/store: the embedded store's compressed blocks
  libsqlite3-dev    # src/store: the embedded store's index
  libssl-dev        # hx serve: TLS on the native listener (with libevent's bufferevent_openssl)
  curl              # tests/integration/serve.sh drives the HTTP API with it
  openssl           # tests/integration/serve.sh: a self-signed certificate for the TLS test
  librdkafka-dev    # the kafka:// sink, hx ship/serve's Kafka paths and their mock-cluster tests
  libjansson-dev    # src/import: OTLP and Zipkin JSON documents
  zlib1g-dev        # src/import: gzip request bodies (the OpenTelemetry collector's default)
  chromium          # the viewer's tests in a real browser (driven by playwright-core)
)
bench_packages=(
  liblttng-ust-dev  # the LTTng-UST peer the point-event budget is measured against
  lttng-tools       # lttng-sessiond, to record the LTTng peer's events
  babeltrace2       # reads the LTTng trace back, to check that the peer recorded every event
)

usage() {
  echo "usage: $0 [bench]" >&2
  exit 2
}

wanted=("${base_packages[@]}")
case "${1:-}" in
  "") ;;
  bench) wanted+=("${bench_packages[@]}") ;;
  *) usage ;;
esac
[[ $# -le 1 ]] || usage

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: not a Debian system; make sure these (or your distribution's equivalents) are" \
       "installed: ${wanted[*]}" >&2
  exit 0
fi

# dpkg-query prints one status word per package it knows; unknown packages go to stderr and are
# simply treated as missing.
missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$pkg")
done
# Node.js and npm (the viewer's browser tests): checked by command, not by package, since a
# machine may have them from another source (NodeSource's nodejs package bundles npm, and Debian's
# npm package would conflict with it).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: not root and no sudo; install them as root, e.g. apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}" >&2
# --no-install-recommends keeps this small and fast: lttng-tools, for one, recommends a kernel
# module package that would build against the running kernel. Everything needed is listed above.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get -qq -y --no-install-recommends install "${missing[@]}" >/dev/null
echo "deps: done" >&2
