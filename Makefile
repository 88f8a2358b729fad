# Coffer — the two README commands are `make run` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
STATE ?= $(CURDIR)/.coffer
PYTHON ?= python3

.PHONY: all deps build release run test test-swift test-python lint clean

all: build

# Installs the two C libraries (and pkg-config) when missing — Debian 12: apt-get, quietly, only if needed.
deps:
	@if ! pkg-config --exists libsodium sqlite3 2>/dev/null; then \
	    echo "installing libsodium-dev libsqlite3-dev pkg-config ..."; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq libsodium-dev libsqlite3-dev pkg-config >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null && apt-get install -y -qq libsodium-dev libsqlite3-dev pkg-config >/dev/null; }; \
	fi
	@pkg-config --exists libsodium sqlite3 || { echo "error: libsodium-dev/libsqlite3-dev are missing" >&2; exit 1; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Runs the daemon in the foreground on the embedded default: state (SQLite + generated master key) in
# .coffer/state, sockets in .coffer/run. Stop it with Ctrl-C.
run: release
	@mkdir -p $(STATE)
	@echo
	@echo "Coffer is starting. In another shell:"
	@echo "    export COFFER_SOCKET=$(STATE)/run/coffer.sock COFFER_ADMIN_SOCKET=$(STATE)/run/admin.sock"
	@echo "    export PATH=$(CURDIR)/.build/release:\$$PATH"
	@echo "    echo -n 's3cret' | coffer create app/db && coffer get app/db"
	@echo
	$(CURDIR)/.build/release/cofferd --state-dir $(STATE)/state --socket $(STATE)/run/coffer.sock \
	    --admin-socket $(STATE)/run/admin.sock

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) --no-print-directory test-python

# The Python client's own tests: the codec against docs/PROTOCOL.md, then end to end against a real daemon.
test-python:
	$(PYTHON) clients/python/with_daemon.py $(CURDIR)/.build/debug/cofferd -- \
	    $(PYTHON) -m unittest discover -s clients/python -v

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

clean:
	rm -rf .build

# Benchmarks (docs/PERFORMANCE.md): a release build in its own scratch directory, then every Coffer figure next to a
# raw baseline measured in the same run. Prints the table and writes Benchmarks/results/latest.json. `bench-quick`
# is the smoke version (one round, 10k secrets instead of 1M). Extra driver flags: BENCH_FLAGS="--keep-work".
BENCH_SCRATCH ?= $(CURDIR)/.build-bench
BENCH_FLAGS ?=
BENCH_RUN = $(BENCH_SCRATCH)/release/coffer-bench run --bin-dir $(BENCH_SCRATCH)/release \
	--json $(CURDIR)/Benchmarks/results/latest.json --commit "$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

.PHONY: bench bench-quick bench-build

bench-build: deps
	$(SWIFT) build -c release --scratch-path $(BENCH_SCRATCH)

bench: bench-build
	$(BENCH_RUN) $(BENCH_FLAGS)

bench-quick: bench-build
	$(BENCH_RUN) --quick $(BENCH_FLAGS)
