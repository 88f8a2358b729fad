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

# Reliability and security suite (docs/RELIABILITY.md). `test-reliability` is the part of `make test`: the short
# crash run, corpus replay, bad-input corpus, abuse, I/O faults and security checks, serialized (the suite kills
# daemons, fills file systems and opens a thousand connections), in the default build directory unless
# REL_SCRATCH names another. The long runs: `make crash-test CYCLES=N`, `make fuzz SECONDS=N`, `make abuse-test`,
# `make check-sanitizers`. Figures go to $(REL_FIGURES) (RELIABILITY-FIGURE lines).
REL_SCRATCH ?=
REL_SCRATCH_FLAG = $(if $(REL_SCRATCH),--scratch-path $(REL_SCRATCH))
REL_FIGURES ?= $(CURDIR)/.build-figures.txt
REL_TEST = COFFER_RELIABILITY=1 COFFER_FIGURES=$(REL_FIGURES) $(SWIFT) test --skip-build $(REL_SCRATCH_FLAG) --no-parallel
CYCLES ?= 1000
FUZZ_SCRATCH ?= $(CURDIR)/.build-fuzz
FUZZ_TARGETS ?= frame dispatch policy admin
SECONDS ?= 60
# Stop a target after this many executions as well (-1: only the time limit applies).
FUZZ_RUNS ?= -1
FUZZ_FLAGS ?=
FUZZ_BIN = $(FUZZ_SCRATCH)/release/coffer-fuzz
LSAN_SUPPRESSIONS = $(CURDIR)/Tests/Reliability/lsan.supp

.PHONY: test-reliability crash-test abuse-test fuzz fuzz-build fuzz-merge check-sanitizers check-asan check-tsan

test-reliability: deps
	$(SWIFT) build --build-tests $(REL_SCRATCH_FLAG)
	$(REL_TEST) --filter CofferReliabilityTests

crash-test: deps
	$(SWIFT) build --build-tests $(REL_SCRATCH_FLAG)
	COFFER_CRASH_CYCLES=$(CYCLES) $(REL_TEST) --filter CrashDurabilityTests

# The full abuse run: 1,000 idle connections, 100 slowloris clients and a flood from one uid while another does
# 10,000 reads (the `make test` version is smaller).
abuse-test: deps
	$(SWIFT) build --build-tests $(REL_SCRATCH_FLAG)
	COFFER_ABUSE_FULL=1 $(REL_TEST) --filter AbuseTests

# libFuzzer (release, -sanitize=fuzzer,address) on every target for SECONDS each, one process at a time (a core is
# left for everyone else). New inputs go to $(FUZZ_SCRATCH)/corpus/<target>; findings to
# $(FUZZ_SCRATCH)/findings/ (turn each into Fuzz/Regressions/<target>/ once fixed). Leak detection is off for the
# dispatch and admin targets: their vault lives across inputs, and LeakSanitizer misses live references that Swift
# stores with enum tags in pointer spare bits (llvm/llvm-project#56751), so it reports that state as leaked.
fuzz-build: deps
	$(SWIFT) build -c release --product coffer-fuzz --scratch-path $(FUZZ_SCRATCH) \
	    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING

fuzz: fuzz-build
	@mkdir -p $(FUZZ_SCRATCH)/findings
	@set -e; for target in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_SCRATCH)/corpus/$$target; \
	    leaks=1; case $$target in dispatch|admin) leaks=0;; esac; \
	    echo "== fuzz $$target for $(SECONDS) s"; \
	    $(FUZZ_BIN) $$target $(FUZZ_SCRATCH)/corpus/$$target $(CURDIR)/Fuzz/Corpus/$$target \
	        -max_total_time=$(SECONDS) -runs=$(FUZZ_RUNS) -timeout=10 -rss_limit_mb=2048 -detect_leaks=$$leaks \
	        -artifact_prefix=$(FUZZ_SCRATCH)/findings/$$target- -print_final_stats=1 $(FUZZ_FLAGS) \
	        2>&1 | tee $(FUZZ_SCRATCH)/$$target.log | grep -E '^(#[0-9]+ +(INITED|DONE)|stat::|Done|==[0-9]+==ERROR|SUMMARY)'; \
	done

# Minimizes the grown corpora into Fuzz/Corpus (commit the result; the replay tests run every file).
fuzz-merge: fuzz-build
	@for target in $(FUZZ_TARGETS); do \
	    mkdir -p $(CURDIR)/Fuzz/Corpus/$$target.merged; \
	    $(FUZZ_BIN) $$target -merge=1 -detect_leaks=0 $(CURDIR)/Fuzz/Corpus/$$target.merged \
	        $(CURDIR)/Fuzz/Corpus/$$target $(FUZZ_SCRATCH)/corpus/$$target 2>&1 | tail -1; \
	    rm -rf $(CURDIR)/Fuzz/Corpus/$$target && mv $(CURDIR)/Fuzz/Corpus/$$target.merged $(CURDIR)/Fuzz/Corpus/$$target; \
	done

# The unit, integration and reliability suites under AddressSanitizer and ThreadSanitizer, each in its own build
# directory. LeakSanitizer needs the suppression of XCTest's own leaks (../shared/research/swift-stack.md, section 5).
check-sanitizers: check-asan check-tsan

check-asan: deps
	$(SWIFT) build --build-tests --scratch-path $(CURDIR)/.build-asan -Xswiftc -sanitize=address
	LSAN_OPTIONS=suppressions=$(LSAN_SUPPRESSIONS):print_suppressions=0 ASAN_OPTIONS=detect_leaks=1 \
	    COFFER_RELIABILITY=1 COFFER_SANITIZER=address COFFER_FIGURES=$(REL_FIGURES) \
	    $(SWIFT) test --skip-build --scratch-path $(CURDIR)/.build-asan

check-tsan: deps
	$(SWIFT) build --build-tests --scratch-path $(CURDIR)/.build-tsan -Xswiftc -sanitize=thread
	TSAN_OPTIONS=halt_on_error=1 COFFER_RELIABILITY=1 COFFER_SANITIZER=thread COFFER_FIGURES=$(REL_FIGURES) \
	    $(SWIFT) test --skip-build --scratch-path $(CURDIR)/.build-tsan

# systemd units (systemd/, docs/SYSTEMD.md), without systemd as PID 1 and without network: `systemd-analyze verify`
# prints nothing for every unit and example drop-in, coffer.service's offline exposure is <= 0.5, and the real cofferd
# starts and serves under the unit's own sandbox (system-call filter, MemoryDenyWriteExecute=, User=, ProtectSystem=,
# ... read from the unit file) with its sockets passed as the socket units pass them; that part needs root (CI has it).
# SYSTEMD_COFFERD defaults to the debug cofferd `make test` builds. check-systemd-nspawn (root, opt-in, not part of
# `make test`) boots real systemd 252 in a throwaway container and runs the whole chain, LoadCredential= included.
SYSTEMD_COFFERD ?= $(CURDIR)/.build/debug/cofferd
SYSTEMD_SCRATCH ?= $(CURDIR)/.build-systemd-check

.PHONY: check-systemd check-systemd-nspawn systemd-cofferd

$(SYSTEMD_SCRATCH)/sandbox-exec: systemd/tests/sandbox-exec.c
	@mkdir -p $(SYSTEMD_SCRATCH)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -o $@ $< -l:libseccomp.so.2

# Brings the default binary up to date (a no-op right after `make test`'s build); a SYSTEMD_COFFERD given is used as is.
systemd-cofferd:
	@if [ "$(SYSTEMD_COFFERD)" = "$(CURDIR)/.build/debug/cofferd" ]; then \
	    $(MAKE) --no-print-directory deps && $(SWIFT) build --product cofferd; fi

check-systemd: systemd-cofferd $(SYSTEMD_SCRATCH)/sandbox-exec
	systemd/tests/check-units.sh $(SYSTEMD_COFFERD)
	$(PYTHON) systemd/tests/sandbox-check.py --cofferd $(SYSTEMD_COFFERD) --sandbox-exec $(SYSTEMD_SCRATCH)/sandbox-exec

check-systemd-nspawn: systemd-cofferd
	systemd/tests/nspawn-test.sh $(SYSTEMD_COFFERD)
