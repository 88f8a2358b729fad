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
