# Haruspex: the set-up commands. Each target first makes sure the Debian packages it needs are there
# (scripts/deps.sh, silent when they are), then configures and builds with meson and ninja.
#
#   make demo      build (release) and run scripts/demo.sh
#   make test      the release, ASan+UBSan and fuzz builds, every test; see tests/run.sh
#   make bench     every benchmark: make bench-core, bench-service, bench-analysis, bench-viewer
#   make install   install the library, headers, pkg-config file and hx under PREFIX (and DESTDIR)
#   make clean     remove the build directories
#
# The release build lives in build/ (BUILD to move it); tests/run.sh also uses build-asan/ and
# build-fuzz/. Everything real is in scripts/ and tests/run.sh, so it can also be run without make.

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
# Must match what tests/run.sh sets up build/ with, or the two would keep wiping each other's build.
RELEASE_OPTS := -Dbuildtype=release

.PHONY: all build demo test bench bench-core bench-service bench-analysis bench-viewer install clean

all: build

build:
	@scripts/deps.sh
	@scripts/build.sh $(BUILD) $(RELEASE_OPTS)

demo: build
	@scripts/demo.sh $(BUILD)

test:
	@scripts/deps.sh
	@tests/run.sh

bench: bench-core bench-service bench-analysis bench-viewer

# --reconfigure: the bench packages may have just been installed, and meson only looks for optional
# dependencies (LTTng-UST) when it configures.
bench-core:
	@scripts/deps.sh bench
	@scripts/build.sh --reconfigure $(BUILD) $(RELEASE_OPTS)
	@if [ -f bench/run-core.sh ]; then \
	  bash bench/run-core.sh $(BUILD); \
	else \
	  echo "bench/run-core.sh not found: no core benchmarks to run"; \
	fi

# hx serve: ingest over loopback from 4 clients into the embedded store, stored size, fetch,
# search over a million traces, the Kafka path (bench/run-service.sh). A few minutes.
bench-service:
	@scripts/deps.sh
	@scripts/build.sh $(BUILD) $(RELEASE_OPTS)
	@bash bench/run-service.sh $(BUILD)

# The trace DAG and critical path at 10 M events (bench/run-analysis.sh); needs no extra packages.
bench-analysis:
	@scripts/deps.sh
	@scripts/build.sh $(BUILD) $(RELEASE_OPTS)
	@bash bench/run-analysis.sh $(BUILD)

# The viewer on a 10 M-event trace in headless Chromium: first paint, frame times, memory
# (bench/run-viewer.sh; installs the pinned playwright-core of tests/viewer first).
bench-viewer:
	@scripts/deps.sh
	@scripts/build.sh $(BUILD) $(RELEASE_OPTS)
	@bash bench/run-viewer.sh $(BUILD)

# ldconfig: so programs linked against the freshly installed shared library find it at run time.
install: build
	@meson configure $(BUILD) --prefix=$(PREFIX) >/dev/null
	@DESTDIR="$(DESTDIR)" meson install -C $(BUILD) --quiet
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then \
	  ldconfig; \
	fi

clean:
	rm -rf $(sort $(BUILD) build build-asan build-fuzz build-testlogs)
