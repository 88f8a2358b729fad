#!/usr/bin/env bash
# Instruction profile of the release cofferd under a fixed request count (docs/PERFORMANCE.md, "Profiling").
#
#   Benchmarks/profile.sh [get|put|connect-get|hello] [COUNT]
#
# Starts cofferd under callgrind with instrumentation off, creates the secrets and warms up with coffer-bench's
# `load` command, switches instrumentation on for exactly COUNT requests (sequential, one connection), switches it
# off, stops the daemon, and prints the top functions by inclusive and exclusive instructions per request
# (Swift names demangled). Instruction counts do not depend on the machine's load, so two runs compare exactly.
# Every thread of the daemon is counted (workers, the SQLite writer, the main loop).
#
# Needs valgrind (apt-get install valgrind) and the release build of `make bench` (BENCH_SCRATCH, default
# .build-bench). Keeps callgrind.out in $PROFILE_DIR (default: a new directory under /var/tmp).
set -euo pipefail

OPERATION=${1:-get}
COUNT=${2:-2000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BENCH_SCRATCH:-$ROOT/.build-bench}/release
TOP=${TOP:-30}
PROFILE_DIR=${PROFILE_DIR:-$(mktemp -d /var/tmp/coffer-profile.XXXXXX)}
mkdir -p "$PROFILE_DIR"

for tool in valgrind callgrind_control callgrind_annotate; do
    command -v "$tool" >/dev/null || { echo "profile.sh: $tool is missing (apt-get install valgrind)" >&2; exit 1; }
done
for binary in cofferd coffer-bench; do
    [ -x "$BIN/$binary" ] || { echo "profile.sh: $BIN/$binary is missing: run make bench-build" >&2; exit 1; }
done

# Valgrind 3.19 (Debian 12) cannot read the DWARF 5 that Swift 6's toolchain emits: profile a copy without debug
# sections. Function names come from the symbol table, which stays.
DAEMON_BINARY=$PROFILE_DIR/cofferd
objcopy --strip-debug "$BIN/cofferd" "$DAEMON_BINARY"

SOCKET=$PROFILE_DIR/coffer.sock
OUT=$PROFILE_DIR/callgrind.out
rm -f "$OUT" "$SOCKET"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" --dump-line=no \
    "$DAEMON_BINARY" --state-dir "$PROFILE_DIR/state" --socket "$SOCKET" --admin-socket "$PROFILE_DIR/admin.sock" \
    --workers 2 >"$PROFILE_DIR/cofferd.log" 2>&1 &
DAEMON=$!
trap 'kill -TERM $DAEMON 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
    [ -S "$SOCKET" ] && break
    sleep 0.1
done
[ -S "$SOCKET" ] || { echo "profile.sh: cofferd did not start; see $PROFILE_DIR/cofferd.log" >&2; exit 1; }

echo "warm-up (not instrumented):"
"$BIN/coffer-bench" load --socket "$SOCKET" --op "$OPERATION" --count 200
callgrind_control --instr=on "$DAEMON" >/dev/null
echo "instrumented:"
"$BIN/coffer-bench" load --socket "$SOCKET" --op "$OPERATION" --count "$COUNT" --setup no
callgrind_control --instr=off "$DAEMON" >/dev/null
kill -TERM "$DAEMON"
wait "$DAEMON" || true
trap - EXIT

demangle() { if command -v swift >/dev/null; then swift demangle --simplified; else cat; fi; }
# The function table of callgrind_annotate, top $TOP rows, demangled, with instructions per request in front.
annotate() {
    set +o pipefail  # `head` closes the pipe early on purpose
    callgrind_annotate "$@" --threshold=100 "$OUT" 2>/dev/null | awk '/file:function/ {table = 1; next} table' |
        grep -v '^-' | grep -v '^$' | head -n "$TOP" | demangle |
        awk -v count="$COUNT" '{ n = $1; gsub(",", "", n); printf "%9d/req  %s\n", n / count, $0 }' | cut -c1-240
}
TOTAL=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done = 1}')
echo
echo "cofferd, $OPERATION: $TOTAL instructions for $COUNT requests = $((TOTAL / COUNT)) per request"
echo "(callgrind.out: $OUT)"
echo
echo "== inclusive (function and everything it calls), top $TOP =="
annotate --inclusive=yes
echo
echo "== exclusive (instructions in the function itself), top $TOP =="
annotate --inclusive=no
