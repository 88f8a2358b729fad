// Client-side measuring loops (see CCofferBench.h). Blocking sockets, one thread per connection: the simplest
// client, identical for every server it measures.
#define _GNU_SOURCE
#include "CCofferBench.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

// docs/PROTOCOL.md 3.1: 4-byte length, then version, kind, operation (2), request id (4); length <= 262144.
#define FRAME_MAX_LENGTH 262144u
#define READER_CAPACITY (4u + FRAME_MAX_LENGTH + 16384u)

uint64_t cb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int cb_connect(const char *path) {
    struct sockaddr_un address;
    size_t length = strlen(path);
    if (length >= sizeof(address.sun_path)) return -ENAMETOOLONG;
    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, path, length);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    while (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        if (errno == EINTR) continue;
        int code = errno;
        close(fd);
        return -code;
    }
    return fd;
}

static int write_all(int fd, const uint8_t *bytes, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t n = send(fd, bytes + done, length - done, MSG_NOSIGNAL);
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        if (errno == EINTR) continue;
        return -errno;
    }
    return 0;
}

static uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/// Buffered reply reader: one read(2) may bring several frames; frames are handed out one at a time.
typedef struct {
    int fd;
    uint8_t *buffer;
    size_t start, end;
    const uint8_t *body;  // the last frame's body (after the 8-byte header), valid until the next call
    size_t body_length;
} reader;

static int reader_init(reader *r, int fd) {
    r->fd = fd;
    r->buffer = malloc(READER_CAPACITY);
    r->start = r->end = 0;
    r->body = NULL;
    r->body_length = 0;
    return r->buffer ? 0 : -ENOMEM;
}

static void reader_free(reader *r) {
    free(r->buffer);
    r->buffer = NULL;
}

/// A complete frame already buffered: its kind byte; -EAGAIN if none; -EPROTO for a bad length.
static int reader_parse(reader *r) {
    size_t available = r->end - r->start;
    if (available < 4) return -EAGAIN;
    uint32_t length = load_be32(r->buffer + r->start);
    if (length < 8 || length > FRAME_MAX_LENGTH) return -EPROTO;
    if (available < 4u + length) return -EAGAIN;
    const uint8_t *frame = r->buffer + r->start;
    r->body = frame + 12;
    r->body_length = length - 8;
    r->start += 4u + length;
    if (r->start == r->end) r->start = r->end = 0;
    return frame[5];
}

/// The next frame's kind byte, reading as needed (blocking); -EPIPE at end of stream.
static int reader_next(reader *r) {
    for (;;) {
        int kind = reader_parse(r);
        if (kind != -EAGAIN) return kind;
        if (r->start > 0 && READER_CAPACITY - r->end < 16384u) {
            memmove(r->buffer, r->buffer + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        ssize_t n = read(r->fd, r->buffer + r->end, READER_CAPACITY - r->end);
        if (n > 0) {
            r->end += (size_t)n;
            continue;
        }
        if (n == 0) return -EPIPE;
        if (errno == EINTR) continue;
        return -errno;
    }
}

static void count_kind(cb_counts *counts, int kind) {
    if (kind == 2)
        counts->responses++;
    else
        counts->errors++;
}

int cb_rtt(const char *path, const cb_requests *requests, size_t warmup, size_t iterations, uint64_t *samples_ns,
           cb_counts *counts) {
    if (requests->count == 0) return -EINVAL;
    int fd = cb_connect(path);
    if (fd < 0) return fd;
    reader r;
    if (reader_init(&r, fd) != 0) {
        close(fd);
        return -ENOMEM;
    }
    int result = 0;
    memset(counts, 0, sizeof(*counts));
    for (size_t i = 0; i < warmup + iterations; i++) {
        size_t index = i % requests->count;
        const uint8_t *frame = requests->bytes + requests->offsets[index];
        size_t length = requests->offsets[index + 1] - requests->offsets[index];
        uint64_t t0 = cb_now_ns();
        int rc = write_all(fd, frame, length);
        if (rc < 0) {
            result = rc;
            break;
        }
        int kind = reader_next(&r);
        uint64_t t1 = cb_now_ns();
        if (kind < 0) {
            result = kind;
            break;
        }
        if (i >= warmup) {
            samples_ns[i - warmup] = t1 - t0;
            count_kind(counts, kind);
        }
    }
    reader_free(&r);
    close(fd);
    return result;
}

int cb_connect_rtt(const char *path, const cb_requests *requests, size_t warmup, size_t iterations,
                   uint64_t *samples_ns, cb_counts *counts) {
    if (requests->count == 0) return -EINVAL;
    reader r;
    if (reader_init(&r, -1) != 0) return -ENOMEM;
    int result = 0;
    memset(counts, 0, sizeof(*counts));
    for (size_t i = 0; i < warmup + iterations; i++) {
        size_t index = i % requests->count;
        const uint8_t *frame = requests->bytes + requests->offsets[index];
        size_t length = requests->offsets[index + 1] - requests->offsets[index];
        uint64_t t0 = cb_now_ns();
        int fd = cb_connect(path);
        if (fd < 0) {
            result = fd;
            break;
        }
        r.fd = fd;
        r.start = r.end = 0;
        int rc = write_all(fd, frame, length);
        int kind = rc < 0 ? rc : reader_next(&r);
        close(fd);
        uint64_t t1 = cb_now_ns();
        if (kind < 0) {
            result = kind;
            break;
        }
        if (i >= warmup) {
            samples_ns[i - warmup] = t1 - t0;
            count_kind(counts, kind);
        }
    }
    reader_free(&r);
    return result;
}

int cb_write_pairs(const char *path, const cb_requests *requests, cb_sqlite *baseline, size_t warmup,
                   size_t iterations, uint64_t *request_ns, uint64_t *insert_ns, cb_counts *counts) {
    if (requests->count == 0) return -EINVAL;
    int fd = cb_connect(path);
    if (fd < 0) return fd;
    reader r;
    if (reader_init(&r, fd) != 0) {
        close(fd);
        return -ENOMEM;
    }
    int result = 0;
    memset(counts, 0, sizeof(*counts));
    for (size_t i = 0; i < warmup + iterations; i++) {
        uint64_t inserted = 0;
        result = cb_sqlite_insert_one(baseline, &inserted);
        if (result < 0) break;
        size_t index = i % requests->count;
        const uint8_t *frame = requests->bytes + requests->offsets[index];
        size_t length = requests->offsets[index + 1] - requests->offsets[index];
        uint64_t t0 = cb_now_ns();
        int rc = write_all(fd, frame, length);
        int kind = rc < 0 ? rc : reader_next(&r);
        uint64_t t1 = cb_now_ns();
        if (kind < 0) {
            result = kind;
            break;
        }
        if (i >= warmup) {
            request_ns[i - warmup] = t1 - t0;
            insert_ns[i - warmup] = inserted;
            count_kind(counts, kind);
        }
    }
    reader_free(&r);
    close(fd);
    return result;
}

// MARK: Closed-loop throughput

typedef struct {
    _Alignas(64) _Atomic uint64_t operations;
    _Atomic uint64_t errors;
    int failure;  // negative errno if the client stopped early
} client_slot;

typedef struct {
    const char *path;
    const cb_requests *requests;
    int clients;
    _Atomic int connected;  // clients that finished connecting (or failed to)
    _Atomic int go;         // set once every client is connected
    _Atomic int stop;
    client_slot *slots;
} throughput_shared;

typedef struct {
    throughput_shared *shared;
    int index;
} throughput_arg;

static void *throughput_client(void *raw) {
    throughput_arg *arg = raw;
    throughput_shared *shared = arg->shared;
    client_slot *slot = &shared->slots[arg->index];
    int fd = cb_connect(shared->path);
    reader r;
    int ok = fd >= 0 && reader_init(&r, fd) == 0;
    if (!ok) slot->failure = fd < 0 ? fd : -ENOMEM;
    atomic_fetch_add(&shared->connected, 1);
    while (!atomic_load(&shared->go)) {
        struct timespec pause = {0, 100000};
        nanosleep(&pause, NULL);
    }
    if (!ok || atomic_load(&shared->stop)) {
        if (ok) reader_free(&r);
        if (fd >= 0) close(fd);
        return NULL;
    }
    const cb_requests *requests = shared->requests;
    size_t index = (size_t)arg->index % requests->count;
    size_t step = (size_t)shared->clients;
    while (!atomic_load_explicit(&shared->stop, memory_order_relaxed)) {
        const uint8_t *frame = requests->bytes + requests->offsets[index];
        size_t length = requests->offsets[index + 1] - requests->offsets[index];
        int rc = write_all(fd, frame, length);
        int kind = rc < 0 ? rc : reader_next(&r);
        if (kind < 0) {
            slot->failure = kind;
            break;
        }
        if (kind == 2)
            atomic_fetch_add_explicit(&slot->operations, 1, memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&slot->errors, 1, memory_order_relaxed);
        index = (index + step) % requests->count;
    }
    reader_free(&r);
    close(fd);
    return NULL;
}

static uint64_t sum_operations(throughput_shared *shared, uint64_t *per_client) {
    uint64_t total = 0;
    for (int i = 0; i < shared->clients; i++) {
        uint64_t n = atomic_load_explicit(&shared->slots[i].operations, memory_order_relaxed);
        if (per_client) per_client[i] = n;
        total += n;
    }
    return total;
}

int cb_throughput(const char *path, const cb_requests *requests, int clients, int warmup_ms, int duration_ms,
                  cb_throughput_result *out) {
    if (clients < 1 || requests->count == 0) return -EINVAL;
    memset(out, 0, sizeof(*out));
    throughput_shared shared;
    shared.path = path;
    shared.requests = requests;
    shared.clients = clients;
    atomic_init(&shared.connected, 0);
    atomic_init(&shared.go, 0);
    atomic_init(&shared.stop, 0);
    shared.slots = aligned_alloc(64, sizeof(client_slot) * (size_t)clients);
    pthread_t *threads = calloc((size_t)clients, sizeof(pthread_t));
    throughput_arg *args = calloc((size_t)clients, sizeof(throughput_arg));
    uint64_t *before = calloc((size_t)clients, sizeof(uint64_t));
    uint64_t *after = calloc((size_t)clients, sizeof(uint64_t));
    if (!shared.slots || !threads || !args || !before || !after) {
        free(shared.slots), free(threads), free(args), free(before), free(after);
        return -ENOMEM;
    }
    memset(shared.slots, 0, sizeof(client_slot) * (size_t)clients);
    int started = 0;
    int result = 0;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, 256 * 1024);
    for (; started < clients; started++) {
        args[started].shared = &shared;
        args[started].index = started;
        if (pthread_create(&threads[started], &attributes, throughput_client, &args[started]) != 0) {
            result = -EAGAIN;
            break;
        }
    }
    pthread_attr_destroy(&attributes);
    while (atomic_load(&shared.connected) < started) sleep_ms(1);
    if (started < clients) atomic_store(&shared.stop, 1);
    atomic_store(&shared.go, 1);
    for (int i = 0; i < started; i++) {
        if (shared.slots[i].failure < 0 && result == 0) result = shared.slots[i].failure;
    }
    if (result == 0) {
        sleep_ms(warmup_ms);
        uint64_t t0 = cb_now_ns();
        uint64_t start_ops = sum_operations(&shared, before);
        sleep_ms(duration_ms);
        uint64_t end_ops = sum_operations(&shared, after);
        uint64_t t1 = cb_now_ns();
        out->operations = end_ops - start_ops;
        out->elapsed_seconds = (double)(t1 - t0) / 1e9;
        out->ops_per_second = (double)out->operations / out->elapsed_seconds;
        double fair = (double)out->operations / (double)clients;
        double slowest = -1;
        for (int i = 0; i < clients; i++) {
            double mine = (double)(after[i] - before[i]);
            if (slowest < 0 || mine < slowest) slowest = mine;
        }
        out->min_client_share = fair > 0 ? slowest / fair : 0;
    }
    atomic_store(&shared.stop, 1);
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < started; i++) {
        out->errors += atomic_load(&shared.slots[i].errors);
        if (shared.slots[i].failure < 0 && result == 0) result = shared.slots[i].failure;
    }
    free(shared.slots), free(threads), free(args), free(before), free(after);
    return result;
}

// MARK: Pipelined template load

void cb_write_digits(uint8_t *out, size_t width, uint64_t n) {
    for (size_t i = width; i > 0; i--) {
        out[i - 1] = (uint8_t)('0' + n % 10);
        n /= 10;
    }
}

typedef struct {
    const char *path;
    const uint8_t *template_frame;
    size_t template_length, digits_offset, digits_width;
    uint64_t first, total;
    int connections, window, index;
    uint64_t responses, errors;
    int failure;
    uint32_t first_error_length;
    uint8_t first_error[240];
} pipeline_arg;

static void *pipeline_connection(void *raw) {
    pipeline_arg *arg = raw;
    int fd = cb_connect(arg->path);
    if (fd < 0) {
        arg->failure = fd;
        return NULL;
    }
    reader r;
    size_t batch_capacity = arg->template_length * (size_t)arg->window;
    uint8_t *batch = malloc(batch_capacity);
    if (!batch || reader_init(&r, fd) != 0) {
        free(batch);
        close(fd);
        arg->failure = -ENOMEM;
        return NULL;
    }
    uint64_t next = (uint64_t)arg->index;  // offsets index, index + connections, ...
    int in_flight = 0;
    for (;;) {
        size_t used = 0;
        while (in_flight < arg->window && next < arg->total) {
            uint8_t *frame = batch + used;
            memcpy(frame, arg->template_frame, arg->template_length);
            uint64_t n = arg->first + next;
            cb_write_digits(frame + arg->digits_offset, arg->digits_width, n);
            store_be32(frame + 8, (uint32_t)(n % 0x7fffffffu) + 1u);
            used += arg->template_length;
            next += (uint64_t)arg->connections;
            in_flight++;
        }
        if (used > 0) {
            int rc = write_all(fd, batch, used);
            if (rc < 0) {
                arg->failure = rc;
                break;
            }
        }
        if (in_flight == 0) break;
        int kind = reader_next(&r);  // block for one, then take whatever else is already buffered
        while (kind >= 0) {
            in_flight--;
            if (kind == 2) {
                arg->responses++;
            } else {
                if (arg->errors == 0) {
                    size_t keep = r.body_length < sizeof(arg->first_error) ? r.body_length : sizeof(arg->first_error);
                    memcpy(arg->first_error, r.body, keep);
                    arg->first_error_length = (uint32_t)keep;
                }
                arg->errors++;
            }
            kind = reader_parse(&r);
        }
        if (kind != -EAGAIN) {
            arg->failure = kind;
            break;
        }
    }
    reader_free(&r);
    free(batch);
    close(fd);
    return NULL;
}

int cb_pipeline(const char *path, const uint8_t *template_frame, size_t template_length, size_t digits_offset,
                size_t digits_width, uint64_t first, uint64_t total, int connections, int window,
                cb_pipeline_result *out) {
    memset(out, 0, sizeof(*out));
    if (connections < 1 || window < 1 || template_length < 12 || digits_offset + digits_width > template_length)
        return -EINVAL;
    pthread_t *threads = calloc((size_t)connections, sizeof(pthread_t));
    pipeline_arg *args = calloc((size_t)connections, sizeof(pipeline_arg));
    if (!threads || !args) {
        free(threads), free(args);
        return -ENOMEM;
    }
    uint64_t t0 = cb_now_ns();
    int started = 0;
    for (; started < connections; started++) {
        pipeline_arg *arg = &args[started];
        arg->path = path;
        arg->template_frame = template_frame;
        arg->template_length = template_length;
        arg->digits_offset = digits_offset;
        arg->digits_width = digits_width;
        arg->first = first;
        arg->total = total;
        arg->connections = connections;
        arg->window = window;
        arg->index = started;
        if (pthread_create(&threads[started], NULL, pipeline_connection, arg) != 0) break;
    }
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    out->elapsed_ns = cb_now_ns() - t0;
    int result = started < connections ? -EAGAIN : 0;
    for (int i = 0; i < started; i++) {
        out->responses += args[i].responses;
        if (args[i].errors > 0 && out->errors == 0) {
            memcpy(out->first_error, args[i].first_error, args[i].first_error_length);
            out->first_error_length = args[i].first_error_length;
        }
        out->errors += args[i].errors;
        if (args[i].failure < 0 && result == 0) result = args[i].failure;
    }
    free(threads), free(args);
    return result;
}
