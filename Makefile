# mcr build, test and packaging. `make help` lists the targets.
SHELL := /bin/bash
DENO_PKG := tools/deno
DENO ?= $(DENO_PKG)/node_modules/@deno/linux-x64-glibc/deno
CC ?= gcc
CFLAGS ?= -O2 -g -Wall -Wextra -Werror -fPIC -std=gnu11 -fvisibility=hidden
LIB := build/libmcr.so
C_SRC := $(filter-out c/test/%,$(wildcard c/*.c))
C_HDR := $(wildcard c/*.h)
# liburing's version (Debian's liburing-dev has no version header), as MAJOR/MINOR defines.
URING_VERSION = $(shell pkg-config --modversion liburing 2>/dev/null || echo 0.0)
URING_DEFS = -DMCR_URING_MAJOR=$(word 1,$(subst ., ,$(URING_VERSION))) -DMCR_URING_MINOR=$(word 2,$(subst ., ,$(URING_VERSION)))
# Permissions for development runs; the compiled binary bakes its own (see dist).
RUN_FLAGS := --allow-ffi --allow-read --allow-write --allow-net --allow-env --allow-run --allow-sys
export DENO
# npm modules (pinned in deno.json + deno.lock) are cached inside the project.
export DENO_DIR ?= $(CURDIR)/.deno

.PHONY: all help system-deps deno deps lib ref-relay test test-c test-root check lint fmt demo bench dist clean
export DENORT_BIN

# Debian packages mcr needs to build and test. Installed only when missing.
# (prometheus brings promtool for the exporter's tests, its server not kept running;
# chromium opens the status page in a test; frr is the PIM/IGMP/MSDP router the routing
# tests interoperate with, its daemons started by the tests in their own namespaces;
# tshark decodes what mcr puts on the wire in the routing and stream tests; ffprobe (ffmpeg)
# and tsreport (tstools) check the test signal independently.)
APT_PACKAGES := gcc make libc6-dev liburing-dev pkg-config iproute2 ethtool iputils-ping procps curl \
	util-linux libcap2-bin socat smcroute tcpdump tshark ca-certificates systemd prometheus chromium zsh python3 frr \
	ffmpeg tstools

all: lib deps

help:
	@echo "make          build the native library and fetch pinned deps"
	@echo "make demo     run the self-contained demo (root: builds namespaces)"
	@echo "make test     run the whole test suite (C, unit, namespace tests)"
	@echo "make lint     deno fmt --check, deno lint and the size budget (as CI)"
	@echo "make bench    run the side-by-side benchmarks (throughput, latency, idle)"
	@echo "make dist     build the single executable (needs DENORT_BIN offline)"

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages: $$missing (run as root or apt-get install them)"; exit 1; fi; \
	  echo "installing: $$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  if echo " $$missing " | grep -q " prometheus "; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi; \
	  if echo " $$missing " | grep -q " frr "; then systemctl disable --now frr >/dev/null 2>&1 || true; fi; \
	fi

# Deno itself comes from the npm package `deno`, pinned in tools/deno/package-lock.json.
$(DENO): $(DENO_PKG)/package.json $(DENO_PKG)/package-lock.json | system-deps
	cd $(DENO_PKG) && npm ci --no-audit --no-fund --ignore-scripts
	@test -x $@ && touch $@

deno: $(DENO)

# npm modules pinned in deno.json + deno.lock, installed into Deno's cache.
deps: $(DENO)
	$(DENO) install --frozen --entrypoint main.ts

lib: $(LIB)

$(LIB): $(C_SRC) $(C_HDR) c/mcr.map | system-deps
	@mkdir -p build
	$(CC) $(CFLAGS) $(URING_DEFS) -shared -o $@ $(C_SRC) -Wl,--version-script=c/mcr.map -luring

# The benchmarks' yardstick: a plain C relay on the same AF_PACKET rings (not part of the library).
ref-relay: build/ref_relay

build/ref_relay: c/ref/ref_relay.c
	@mkdir -p build
	$(CC) -O2 -g -Wall -Wextra -Werror -std=gnu11 -o $@ $<

test-c: $(LIB)
	@bash c/test/run.sh

test: lib deps build/ref_relay
	@bash tests/run_all.sh

test-root: lib deps
	$(DENO) test $(RUN_FLAGS) tests/root/

check: deps
	$(DENO) check main.ts src ffi tests

# The declared formatter, the linter and the size budget (tools/lint_budget.ts): what CI holds the tree to.
lint: deps
	$(DENO) fmt --check
	$(DENO) lint

fmt:
	$(DENO) fmt

demo: lib deps
	$(DENO) run $(RUN_FLAGS) main.ts demo

# ---- the single executable ---------------------------------------------------
# deno compile embeds the program into a runtime file (denort) that it downloads
# from Deno's servers, or takes from DENORT_BIN when that is set (offline builds).
# Permissions baked in: ffi (unscoped: Deno requires it for ring views), net
# (API, sockets), read/write (config, state, extracted library, /sys), env,
# run (the demo and tests call ip, ethtool, sysctl, taskset), sys (uid, os release).
DIST_PERMS := --allow-ffi --allow-net --allow-read --allow-write --allow-sys \
	--allow-env --allow-run=ip,ethtool,sysctl,taskset,socat,smcrouted
DIST_TARGET ?= x86_64-unknown-linux-gnu

build/build_info.json: FORCE
	@mkdir -p build
	@printf '{"commit":"%s","built_at":"%s"}\n' "$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$$(date -u +%Y-%m-%dT%H:%M:%SZ)" > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

dist: lib deps build/build_info.json
	@mkdir -p dist
	@if ! $(DENO) compile $(DIST_PERMS) --target $(DIST_TARGET) \
	    --include build/libmcr.so --include src/dataplane/worker.ts --include build/build_info.json \
	    --output dist/mcr main.ts; then \
	  if [ -z "$$DENORT_BIN" ]; then \
	    echo ""; \
	    echo "make dist: deno compile could not fetch its runtime (denort) for $(DIST_TARGET)."; \
	    echo "  On a machine without access to Deno's download servers, get"; \
	    echo "  denort-$(DIST_TARGET).zip for Deno $$($(DENO) --version | head -1 | cut -d' ' -f2) from the Deno release page"; \
	    echo "  (GitHub releases of denoland/deno) on a connected machine, unzip it, and run:"; \
	    echo "    make dist DENORT_BIN=/path/to/denort"; \
	  fi; \
	  exit 2; \
	fi
	@echo "built dist/mcr: $$(du -h dist/mcr | cut -f1)"

.PHONY: FORCE
FORCE:

# Side-by-side benchmarks (root): mcr vs the C reference relay vs socat vs kernel forwarding
# (where the kernel has CONFIG_IP_MROUTE); QUICK=1 for a short run.
# The harness itself stays on CPU 0 so that CPU 1 measures only the relay.
bench: lib deps build/ref_relay
	taskset -c 0 $(DENO) run --allow-all bench/run.ts
	taskset -c 0 $(DENO) run --allow-all bench/latency_bench.ts
	taskset -c 0 $(DENO) run --allow-all bench/idle_bench.ts
	taskset -c 0 $(DENO) run --allow-all bench/recovery_bench.ts
	taskset -c 0 $(DENO) run --allow-all bench/efficiency_bench.ts
	taskset -c 0 $(DENO) run --allow-all bench/profile_bench.ts
	taskset -c 0 $(DENO) run --allow-all bench/streams_bench.ts
	taskset -c 0 $(DENO) run --allow-all bench/merge_bench.ts

clean:
	rm -rf build dist
