// Processes and readiness: spawning the daemons and the CLI, timing whole processes, receiving sd_notify.
#define _GNU_SOURCE
#include "CCofferBench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static size_t name_length(const char *entry) {
    const char *equals = strchr(entry, '=');
    return equals ? (size_t)(equals - entry) : strlen(entry);
}

/// environ with `extra` added (replacing variables of the same name). The strings are not copied.
static char **build_environment(const char *const extra[]) {
    size_t base = 0, added = 0;
    while (environ && environ[base]) base++;
    while (extra && extra[added]) added++;
    char **out = calloc(base + added + 1, sizeof(char *));
    if (!out) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < base; i++) {
        int replaced = 0;
        size_t length = name_length(environ[i]);
        for (size_t j = 0; j < added; j++) {
            if (name_length(extra[j]) == length && strncmp(environ[i], extra[j], length) == 0) replaced = 1;
        }
        if (!replaced) out[n++] = environ[i];
    }
    for (size_t j = 0; j < added; j++) out[n++] = (char *)extra[j];
    out[n] = NULL;
    return out;
}

static int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 256 + WTERMSIG(status);
    return 512;
}

int cb_wait(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -errno;
    }
    return decode_status(status);
}

int cb_try_wait(pid_t pid, int *status) {
    int raw = 0;
    pid_t done = waitpid(pid, &raw, WNOHANG);
    if (done < 0) return -errno;
    if (done == 0) return 0;
    *status = decode_status(raw);
    return 1;
}

pid_t cb_spawn(const char *const argv[], const char *const extra_env[], const char *log_path, uint64_t *started_ns) {
    char **environment = build_environment(extra_env);
    if (!environment) return -ENOMEM;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_path ? log_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    *started_ns = cb_now_ns();
    int rc = posix_spawn(&pid, argv[0], &actions, NULL, (char *const *)argv, environment);
    posix_spawn_file_actions_destroy(&actions);
    free(environment);
    return rc == 0 ? pid : -rc;
}

int cb_spawn_loop(const char *const argv[], const char *const extra_env[], size_t warmup, size_t iterations,
                  uint64_t *samples_ns, uint64_t *failures) {
    char **environment = build_environment(extra_env);
    if (!environment) return -ENOMEM;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    int result = 0;
    *failures = 0;
    for (size_t i = 0; i < warmup + iterations; i++) {
        pid_t pid = 0;
        uint64_t t0 = cb_now_ns();
        int rc = posix_spawn(&pid, argv[0], &actions, NULL, (char *const *)argv, environment);
        if (rc != 0) {
            result = -rc;
            break;
        }
        int status = cb_wait(pid);
        uint64_t t1 = cb_now_ns();
        if (status != 0) (*failures)++;
        if (i >= warmup) samples_ns[i - warmup] = t1 - t0;
    }
    posix_spawn_file_actions_destroy(&actions);
    free(environment);
    return result;
}

int cb_run_capture(const char *const argv[], const char *const extra_env[], uint8_t *buffer, size_t capacity,
                   size_t *length) {
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return -errno;
    char **environment = build_environment(extra_env);
    if (!environment) {
        close(pipe_fds[0]), close(pipe_fds[1]);
        return -ENOMEM;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &actions, NULL, (char *const *)argv, environment);
    posix_spawn_file_actions_destroy(&actions);
    free(environment);
    close(pipe_fds[1]);
    if (rc != 0) {
        close(pipe_fds[0]);
        return -rc;
    }
    size_t done = 0;
    uint8_t discard[4096];
    for (;;) {
        ssize_t n = done < capacity ? read(pipe_fds[0], buffer + done, capacity - done)
                                    : read(pipe_fds[0], discard, sizeof(discard));
        if (n > 0) {
            if (done < capacity) done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    close(pipe_fds[0]);
    *length = done;
    return cb_wait(pid);
}

// MARK: sd_notify receiver

int cb_notify_open(const char *path) {
    struct sockaddr_un address;
    size_t length = strlen(path);
    if (length >= sizeof(address.sun_path)) return -ENAMETOOLONG;
    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, path, length);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        int code = errno;
        close(fd);
        return -code;
    }
    return fd;
}

static int has_ready_line(const char *message, size_t length) {
    static const char needle[] = "READY=1";
    const size_t n = sizeof(needle) - 1;
    for (size_t i = 0; i + n <= length; i++) {
        if ((i == 0 || message[i - 1] == '\n') && memcmp(message + i, needle, n) == 0 &&
            (i + n == length || message[i + n] == '\n'))
            return 1;
    }
    return 0;
}

int cb_notify_wait_ready(int fd, int timeout_ms, uint64_t *arrived_ns) {
    uint64_t deadline = cb_now_ns() + (uint64_t)timeout_ms * 1000000u;
    char message[4096];
    for (;;) {
        uint64_t now = cb_now_ns();
        if (now >= deadline) return -ETIMEDOUT;
        struct pollfd p = {fd, POLLIN, 0};
        int ready = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (ready == 0) continue;
        ssize_t n = recv(fd, message, sizeof(message), 0);
        uint64_t arrived = cb_now_ns();
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (has_ready_line(message, (size_t)n)) {
            *arrived_ns = arrived;
            return 0;
        }
    }
}

int cb_probe(const char *path, const uint8_t *frame, size_t length, int timeout_ms, uint64_t *answered_ns) {
    uint64_t deadline = cb_now_ns() + (uint64_t)timeout_ms * 1000000u;
    uint8_t reply[4096];
    for (;;) {
        if (cb_now_ns() >= deadline) return -ETIMEDOUT;
        int fd = cb_connect(path);
        if (fd == -ENOENT || fd == -ECONNREFUSED) {
            struct timespec pause = {0, 100000};
            nanosleep(&pause, NULL);
            continue;
        }
        if (fd < 0) return fd;
        size_t done = 0;
        while (done < length) {
            ssize_t n = send(fd, frame + done, length - done, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                int code = errno;
                close(fd);
                return -code;
            }
            done += (size_t)n;
        }
        // Read the length prefix and the first header bytes; the reply of a probe is small.
        size_t have = 0, want = 12;
        while (have < want && have < sizeof(reply)) {
            ssize_t n = read(fd, reply + have, sizeof(reply) - have);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            have += (size_t)n;
            if (have >= 4) {
                size_t total = 4u + (((size_t)reply[0] << 24) | ((size_t)reply[1] << 16) | ((size_t)reply[2] << 8) |
                                     (size_t)reply[3]);
                want = total < sizeof(reply) ? total : sizeof(reply);
            }
        }
        uint64_t now = cb_now_ns();
        close(fd);
        if (have < 12) return -EPROTO;
        *answered_ns = now;
        return reply[5];
    }
}
