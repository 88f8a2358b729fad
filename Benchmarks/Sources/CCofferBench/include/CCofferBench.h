#ifndef COFFER_BENCH_H
#define COFFER_BENCH_H
// The benchmark's measuring loops, in C so that the client side costs the same whichever server it talks to: the
// raw echo server (Benchmarks/Sources/coffer-bench-echo) and cofferd get byte-identical request frames from the same
// code, and every loop reads one length-prefixed reply frame per request. Nothing here knows the protocol beyond
// the frame layout of docs/PROTOCOL.md section 3.1 (4-byte big-endian length, then version, kind, operation,
// request id). Functions return 0 or a negative errno unless documented otherwise.
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// Monotonic clock in nanoseconds (CLOCK_MONOTONIC).
uint64_t cb_now_ns(void);

/// A set of complete request frames laid end to end: frame i is bytes[offsets[i] ..< offsets[i + 1]].
typedef struct {
    const uint8_t *bytes;
    const size_t *offsets;  // count + 1 entries
    size_t count;
} cb_requests;

/// What the loops count besides time.
typedef struct {
    uint64_t responses;  // replies of kind 0x02
    uint64_t errors;     // replies of any other kind (0x03: error replies)
} cb_counts;

/// Connects a blocking, close-on-exec AF_UNIX stream socket to `path`: the fd, or a negative errno.
int cb_connect(const char *path);

/// Sequential round trips on one persistent connection: request i is frame (i % count). The first `warmup` are not
/// recorded; then `samples_ns[0 ..< iterations]` get one round trip each (write the frame, read one reply frame).
int cb_rtt(const char *path, const cb_requests *requests, size_t warmup, size_t iterations, uint64_t *samples_ns,
           cb_counts *counts);

/// Per iteration: socket + connect + write one request + read its reply + close. Same recording as cb_rtt.
int cb_connect_rtt(const char *path, const cb_requests *requests, size_t warmup, size_t iterations,
                   uint64_t *samples_ns, cb_counts *counts);

/// Closed-loop throughput: `clients` threads, each on its own connection, each sending one request and waiting for
/// its reply, over and over. Client c sends frames c, c + clients, c + 2*clients, ... (mod count), so with
/// count % clients == 0 no two clients ever send the same frame. Operations completed during the `duration_ms`
/// window after a `warmup_ms` warm-up are counted.
typedef struct {
    double ops_per_second;
    uint64_t operations;
    uint64_t errors;
    double elapsed_seconds;
    double min_client_share;  // slowest client's operations / (operations / clients): 1.0 is perfectly fair
} cb_throughput_result;

int cb_throughput(const char *path, const cb_requests *requests, int clients, int warmup_ms, int duration_ms,
                  cb_throughput_result *out);

/// Pipelined load from a template: `total` requests numbered first ..< first + total, spread over `connections`
/// connections (request n goes to connection n % connections), at most `window` unanswered per connection. Each
/// request is `template_frame` with the decimal number n written, zero-padded, into the `digits_width` bytes at
/// `digits_offset`, and request id (n % 0x7fffffff) + 1. Returns after every reply arrived.
typedef struct {
    uint64_t elapsed_ns;
    uint64_t responses;
    uint64_t errors;
    uint32_t first_error_length;
    uint8_t first_error[240];  // the body of the first error reply (truncated), for diagnostics
} cb_pipeline_result;

int cb_pipeline(const char *path, const uint8_t *template_frame, size_t template_length, size_t digits_offset,
                size_t digits_width, uint64_t first, uint64_t total, int connections, int window,
                cb_pipeline_result *out);

/// Writes the decimal `n`, zero-padded to `width` digits, into `out` (the template patching above).
void cb_write_digits(uint8_t *out, size_t width, uint64_t n);

// MARK: Raw SQLite baseline

/// One row per transaction into a fresh database at `path` with `journal_mode=WAL` and `synchronous=FULL` (one
/// fsync per commit), the way a minimal durable store would do it: a prepared INSERT of a 36-byte text id and a
/// `blob_bytes` random blob, autocommit. Records `iterations` commits after `warmup`. Removes the files at the end.
int cb_sqlite_insert(const char *path, size_t blob_bytes, size_t warmup, size_t iterations, uint64_t *samples_ns);

/// The same baseline one commit at a time (to interleave it with the daemon's writes): open prepares the database
/// (removing old files, prefilling the WAL); insert_one commits one row and stores its time; close removes the files.
typedef struct cb_sqlite cb_sqlite;
cb_sqlite *cb_sqlite_open(const char *path, size_t blob_bytes);
int cb_sqlite_insert_one(cb_sqlite *baseline, uint64_t *elapsed_ns);
void cb_sqlite_close(cb_sqlite *baseline);

/// Durable writes measured in pairs on one persistent connection: each iteration commits one raw SQLite row, then
/// sends one request (frame i % count, a PutSecretValue) and waits for its reply. Alternating operation by operation
/// gives both sides the same disk conditions and the same pause before each fsync (a back-to-back fsync loop is
/// slower on this virtual disk than fsyncs separated by other work). The first `warmup` pairs are not recorded.
int cb_write_pairs(const char *path, const cb_requests *requests, cb_sqlite *baseline, size_t warmup,
                   size_t iterations, uint64_t *request_ns, uint64_t *insert_ns, cb_counts *counts);

/// The SQLite library version string.
const char *cb_sqlite_version(void);

// MARK: Processes

/// posix_spawn's `argv[0]` (a path) with `argv`, the current environment plus `extra_env` (NULL-terminated
/// "NAME=value" strings, which replace variables of the same name), stdin from /dev/null, stdout and stderr
/// appended to `log_path` (or /dev/null when NULL). Stores the monotonic time just before the spawn in
/// `*started_ns`. Returns the pid or a negative errno.
pid_t cb_spawn(const char *const argv[], const char *const extra_env[], const char *log_path, uint64_t *started_ns);

/// Spawns `argv` `warmup + iterations` times in a row, waiting for each, stdout and stderr to /dev/null; records
/// the spawn-to-exit time of the last `iterations`. `*failures` counts runs that did not exit with status 0.
int cb_spawn_loop(const char *const argv[], const char *const extra_env[], size_t warmup, size_t iterations,
                  uint64_t *samples_ns, uint64_t *failures);

/// Runs `argv` once and captures up to `capacity` bytes of its stdout into `buffer`; `*length` gets the byte count.
/// Returns the exit status (0…255), 256 + signal number when it was killed, or a negative errno.
int cb_run_capture(const char *const argv[], const char *const extra_env[], uint8_t *buffer, size_t capacity,
                   size_t *length);

/// Waits for `pid` (blocking). Returns its exit status as cb_run_capture does.
int cb_wait(pid_t pid);

/// waitpid(WNOHANG): 1 and the status if `pid` has exited, 0 if it is still running, a negative errno otherwise.
int cb_try_wait(pid_t pid, int *status);

// MARK: Readiness (sd_notify receiver)

/// Binds an AF_UNIX datagram socket at `path` (removing a stale file first): the fd, or a negative errno.
int cb_notify_open(const char *path);

/// Waits up to `timeout_ms` for a datagram containing the line "READY=1". Stores the monotonic arrival time.
/// Returns 0, -ETIMEDOUT, or a negative errno.
int cb_notify_wait_ready(int fd, int timeout_ms, uint64_t *arrived_ns);

/// Connects and sends `frame` until a reply frame arrives, retrying every 100 µs while the socket does not exist
/// or refuses, for up to `timeout_ms`. Stores the monotonic time the reply was complete. Returns the reply's kind
/// byte (2 for a response), -ETIMEDOUT, or a negative errno.
int cb_probe(const char *path, const uint8_t *frame, size_t length, int timeout_ms, uint64_t *answered_ns);

#endif
