// coffer-bench-echo: the raw baseline server. It speaks only the framing of docs/PROTOCOL.md section 3.1 and does
// nothing but the round trip: for every complete request frame it sends back one reply frame of a fixed wire size
// (the size of cofferd's reply to the same request, measured by the driver), copying the request's operation code
// and request id into a version-1 response header. What it costs is the physical limit of this IPC on this machine.
//
// Two architectures, as in the research note (../shared/research/performance-targets.md):
//   --mode epoll   N worker threads, each with its own epoll set; the listener is registered in every set with
//                  EPOLLEXCLUSIVE and the worker that accepts a connection owns it (cofferd's architecture class).
//   --mode thread  one accepting thread; one thread per connection doing blocking reads and writes.
// Both read SO_PEERCRED once per accepted connection (what any server that authorizes by peer identity must do).
// Readiness: sends READY=1 to $NOTIFY_SOCKET once listening, exactly as cofferd does.
//
// Usage: coffer-bench-echo --socket PATH --reply-bytes N [--mode epoll|thread] [--workers N]
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define FRAME_MAX_LENGTH 262144u
#define READ_CHUNK 16384u

static uint8_t *reply_template;  // the whole reply frame; bytes 6-11 are patched per request
static size_t reply_bytes;

static void die(const char *what) {
    fprintf(stderr, "coffer-bench-echo: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/// A growable byte buffer with a read offset.
typedef struct {
    uint8_t *bytes;
    size_t start, end, capacity;
} buffer;

static int buffer_reserve(buffer *b, size_t extra) {
    if (b->start > 0 && b->start == b->end) b->start = b->end = 0;
    if (b->capacity - b->end >= extra) return 0;
    if (b->start > 0) {
        memmove(b->bytes, b->bytes + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
        if (b->capacity - b->end >= extra) return 0;
    }
    size_t capacity = b->capacity ? b->capacity : 4096;
    while (capacity - b->end < extra) capacity *= 2;
    uint8_t *grown = realloc(b->bytes, capacity);
    if (!grown) return -1;
    b->bytes = grown;
    b->capacity = capacity;
    return 0;
}

/// Appends one reply per complete frame in `in` to `out`. -1 on a bad length (the connection is then closed).
static int answer_frames(buffer *in, buffer *out) {
    for (;;) {
        size_t available = in->end - in->start;
        if (available < 4) return 0;
        const uint8_t *frame = in->bytes + in->start;
        uint32_t length = load_be32(frame);
        if (length < 8 || length > FRAME_MAX_LENGTH) return -1;
        if (available < 4u + length) return 0;
        if (buffer_reserve(out, reply_bytes) != 0) return -1;
        uint8_t *reply = out->bytes + out->end;
        memcpy(reply, reply_template, reply_bytes);
        memcpy(reply + 6, frame + 6, 6);  // operation code and request id
        out->end += reply_bytes;
        in->start += 4u + length;
    }
}

static void read_peer_credentials(int fd) {
    struct ucred credentials;
    socklen_t length = sizeof(credentials);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
        close(fd);  // unreachable for AF_UNIX; a server that authorizes must refuse here
    }
}

// MARK: epoll workers

typedef struct {
    int fd;
    int want_write;
    buffer in, out;
} connection;

static int listener_fd;

static void close_connection(int epoll_fd, connection *c) {
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in.bytes);
    free(c->out.bytes);
    free(c);
}

/// Sends pending output; returns -1 if the peer is gone.
static int flush(int epoll_fd, connection *c) {
    while (c->out.start < c->out.end) {
        ssize_t n = send(c->fd, c->out.bytes + c->out.start, c->out.end - c->out.start, MSG_NOSIGNAL);
        if (n > 0) {
            c->out.start += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            if (!c->want_write) {
                struct epoll_event event = {EPOLLIN | EPOLLRDHUP | EPOLLOUT, {.ptr = c}};
                epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &event);
                c->want_write = 1;
            }
            return 0;
        }
        return -1;
    }
    c->out.start = c->out.end = 0;
    if (c->want_write) {
        struct epoll_event event = {EPOLLIN | EPOLLRDHUP, {.ptr = c}};
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &event);
        c->want_write = 0;
    }
    return 0;
}

static void service(int epoll_fd, connection *c, uint32_t events) {
    int closed = 0;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        for (int reads = 0; reads < 4; reads++) {
            if (buffer_reserve(&c->in, READ_CHUNK) != 0) {
                closed = 1;
                break;
            }
            ssize_t n = read(c->fd, c->in.bytes + c->in.end, READ_CHUNK);
            if (n > 0) {
                c->in.end += (size_t)n;
                if (answer_frames(&c->in, &c->out) != 0) {
                    closed = 1;
                    break;
                }
                if ((size_t)n < READ_CHUNK) break;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno == EAGAIN) break;
            closed = 1;  // end of stream or error
            break;
        }
    }
    if (flush(epoll_fd, c) != 0 || (closed && c->out.start == c->out.end)) close_connection(epoll_fd, c);
}

static void *epoll_worker(void *unused) {
    (void)unused;
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) die("epoll_create1");
    struct epoll_event event = {EPOLLIN | EPOLLEXCLUSIVE, {.ptr = NULL}};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener_fd, &event) != 0) die("epoll_ctl(listener)");
    struct epoll_event events[256];
    for (;;) {
        int count = epoll_wait(epoll_fd, events, 256, -1);
        if (count < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < count; i++) {
            connection *c = events[i].data.ptr;
            if (c) {
                service(epoll_fd, c, events[i].events);
                continue;
            }
            for (int accepted = 0; accepted < 64; accepted++) {
                int fd = accept4(listener_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                read_peer_credentials(fd);
                connection *fresh = calloc(1, sizeof(connection));
                if (!fresh) {
                    close(fd);
                    continue;
                }
                fresh->fd = fd;
                struct epoll_event interest = {EPOLLIN | EPOLLRDHUP, {.ptr = fresh}};
                if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &interest) != 0) {
                    close(fd);
                    free(fresh);
                }
            }
        }
    }
    return NULL;
}

// MARK: thread per connection

static void *connection_thread(void *raw) {
    int fd = (int)(intptr_t)raw;
    buffer in = {0}, out = {0};
    for (;;) {
        if (buffer_reserve(&in, READ_CHUNK) != 0) break;
        ssize_t n = read(fd, in.bytes + in.end, READ_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        in.end += (size_t)n;
        if (answer_frames(&in, &out) != 0) break;
        int failed = 0;
        while (out.start < out.end) {
            ssize_t sent = send(fd, out.bytes + out.start, out.end - out.start, MSG_NOSIGNAL);
            if (sent < 0 && errno == EINTR) continue;
            if (sent <= 0) {
                failed = 1;
                break;
            }
            out.start += (size_t)sent;
        }
        if (failed) break;
        out.start = out.end = 0;
    }
    close(fd);
    free(in.bytes);
    free(out.bytes);
    return NULL;
}

static void thread_per_connection(void) {
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attributes, 128 * 1024);
    for (;;) {
        int fd = accept4(listener_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            die("accept4");
        }
        read_peer_credentials(fd);
        pthread_t thread;
        if (pthread_create(&thread, &attributes, connection_thread, (void *)(intptr_t)fd) != 0) close(fd);
    }
}

// MARK: main

/// SIGTERM ends the server with status 0, as a clean stop (there is no state to save).
static void on_terminate(int signal_number) {
    (void)signal_number;
    _exit(0);
}

static void notify_ready(void) {
    const char *address = getenv("NOTIFY_SOCKET");
    if (!address || !*address) return;
    struct sockaddr_un target;
    memset(&target, 0, sizeof(target));
    target.sun_family = AF_UNIX;
    size_t length = strlen(address);
    if (length >= sizeof(target.sun_path)) return;
    memcpy(target.sun_path, address, length);
    socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length);
    if (address[0] == '@') {
        target.sun_path[0] = 0;
    } else {
        size = sizeof(target);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    static const char message[] = "READY=1";
    sendto(fd, message, sizeof(message) - 1, MSG_NOSIGNAL, (struct sockaddr *)&target, size);
    close(fd);
}

int main(int argc, char **argv) {
    const char *path = NULL, *mode = "epoll";
    long workers = sysconf(_SC_NPROCESSORS_ONLN);
    long reply = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--socket") == 0)
            path = argv[i + 1];
        else if (strcmp(argv[i], "--mode") == 0)
            mode = argv[i + 1];
        else if (strcmp(argv[i], "--workers") == 0)
            workers = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--reply-bytes") == 0)
            reply = strtol(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "coffer-bench-echo: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    int epoll_mode = strcmp(mode, "epoll") == 0;
    if (!path || reply < 16 || reply > (long)(4u + FRAME_MAX_LENGTH) || workers < 1 ||
        (!epoll_mode && strcmp(mode, "thread") != 0)) {
        fprintf(stderr, "usage: coffer-bench-echo --socket PATH --reply-bytes 16…262148 [--mode epoll|thread] "
                        "[--workers N]\n");
        return 2;
    }
    reply_bytes = (size_t)reply;
    reply_template = malloc(reply_bytes);
    if (!reply_template) die("malloc");
    memset(reply_template, 'x', reply_bytes);
    uint32_t length = (uint32_t)(reply_bytes - 4);
    reply_template[0] = (uint8_t)(length >> 24), reply_template[1] = (uint8_t)(length >> 16);
    reply_template[2] = (uint8_t)(length >> 8), reply_template[3] = (uint8_t)length;
    reply_template[4] = 1;  // version
    reply_template[5] = 2;  // response
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_terminate);

    struct sockaddr_un address;
    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(address.sun_path)) {
        fprintf(stderr, "coffer-bench-echo: socket path too long\n");
        return 2;
    }
    strcpy(address.sun_path, path);
    listener_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (epoll_mode ? SOCK_NONBLOCK : 0), 0);
    if (listener_fd < 0) die("socket");
    unlink(path);
    if (bind(listener_fd, (struct sockaddr *)&address, sizeof(address)) != 0) die("bind");
    if (listen(listener_fd, 4096) != 0) die("listen");

    if (epoll_mode) {
        for (long i = 0; i < workers; i++) {
            pthread_t thread;
            if (pthread_create(&thread, NULL, epoll_worker, NULL) != 0) die("pthread_create");
        }
        notify_ready();
        for (;;) pause();
    }
    notify_ready();
    thread_per_connection();
    return 0;
}
