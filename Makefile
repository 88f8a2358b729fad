# Coffer — the two README commands are `make run` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
STATE ?= $(CURDIR)/.coffer

.PHONY: all deps build release run test lint clean

all: build

# Installs the two C libraries when they are missing (Debian 12: apt-get, quietly).
deps:
	@if ! pkg-config --exists libsodium sqlite3 2>/dev/null; then \
	    echo "installing libsodium-dev libsqlite3-dev pkg-config ..."; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq libsodium-dev libsqlite3-dev pkg-config >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null && apt-get install -y -qq libsodium-dev libsqlite3-dev pkg-config >/dev/null; }; \
	fi
	@pkg-config --exists libsodium sqlite3 || { echo "libsodium-dev/libsqlite3-dev missing" >&2; exit 1; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

clean:
	rm -rf .build
