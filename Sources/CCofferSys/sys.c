#include "CCofferSys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

// Debian 12 ships 6.1 kernel headers; these appeared later (the kernel we run on is 6.18).
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

// MARK: Errors

const char *coffer_strerror(int code, char *buffer, size_t capacity) { return strerror_r(code, buffer, capacity); }

// MARK: Peer identity

int coffer_peer_cred(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int coffer_peer_groups(int fd, uint32_t *groups, uint32_t *count) {
    socklen_t len = (socklen_t)(*count * sizeof(gid_t));
    int rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
    // On ERANGE the kernel stores the size it needs in len.
    int saved = errno;
    *count = (uint32_t)(len / sizeof(gid_t));
    errno = saved;
    return rc;
}

int coffer_peer_pidfd(int fd) {
    int pidfd = -1;
    socklen_t len = sizeof(pidfd);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) return -1;
    return pidfd;
}

int coffer_peer_name(int fd, uint8_t *buffer, size_t capacity, size_t *length) {
    struct sockaddr_un address;
    socklen_t len = sizeof(address);
    memset(&address, 0, sizeof(address));
    if (getpeername(fd, (struct sockaddr *)&address, &len) != 0) return -1;
    size_t header = offsetof(struct sockaddr_un, sun_path);
    size_t n = len > header ? (size_t)len - header : 0;
    if (n > sizeof(address.sun_path)) n = sizeof(address.sun_path);
    if (n > capacity) {
        errno = ERANGE;
        return -1;
    }
    memcpy(buffer, address.sun_path, n);
    *length = n;
    return 0;
}

int coffer_socket_info(int fd, int *domain, int *type, int *accepting) {
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, domain, &len) != 0) return -1;
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, type, &len) != 0) return -1;
    len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, accepting, &len) != 0) return -1;
    return 0;
}

// MARK: AF_UNIX addresses

static int make_address(struct sockaddr_un *address, socklen_t *addrlen, const uint8_t *name, size_t length) {
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    size_t header = offsetof(struct sockaddr_un, sun_path);
    if (length == 0) {
        errno = EINVAL;
        return -1;
    }
    if (name[0] == 0) {
        // Abstract: the name is exactly `length` bytes; padding with NULs would name a different socket.
        if (length > sizeof(address->sun_path)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(address->sun_path, name, length);
        *addrlen = (socklen_t)(header + length);
        return 0;
    }
    if (memchr(name, 0, length) != NULL) {
        errno = EINVAL;
        return -1;
    }
    if (length + 1 > sizeof(address->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(address->sun_path, name, length);
    *addrlen = (socklen_t)(header + length + 1);
    return 0;
}

int coffer_unix_bind(int fd, const uint8_t *name, size_t length) {
    struct sockaddr_un address;
    socklen_t len;
    if (make_address(&address, &len, name, length) != 0) return -1;
    return bind(fd, (struct sockaddr *)&address, len);
}

int coffer_unix_connect(int fd, const uint8_t *name, size_t length) {
    struct sockaddr_un address;
    socklen_t len;
    if (make_address(&address, &len, name, length) != 0) return -1;
    return connect(fd, (struct sockaddr *)&address, len);
}

ssize_t coffer_unix_sendto(int fd, const void *bytes, size_t count, int flags, const uint8_t *name, size_t length) {
    struct sockaddr_un address;
    socklen_t len;
    if (make_address(&address, &len, name, length) != 0) return -1;
    return sendto(fd, bytes, count, flags, (struct sockaddr *)&address, len);
}

size_t coffer_unix_path_capacity(void) {
    struct sockaddr_un address;
    return sizeof(address.sun_path);
}

// MARK: Descriptors

int coffer_unix_socket(int datagram, int nonblocking) {
    int type = (datagram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
    return socket(AF_UNIX, type, 0);
}

int coffer_accept4(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }

int coffer_open_path_nofollow(const char *path) { return open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC); }

int coffer_set_nonblocking(int fd, int enabled) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    int wanted = enabled ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    if (wanted == flags) return 0;
    return fcntl(fd, F_SETFL, wanted);
}

int coffer_set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    if (flags & FD_CLOEXEC) return 0;
    return fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int coffer_get_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    return (flags & FD_CLOEXEC) ? 1 : 0;
}

int coffer_get_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return (flags & O_NONBLOCK) ? 1 : 0;
}

int coffer_fchmod_opath(int fd, uint32_t mode) {
    if (syscall(SYS_fchmodat2, fd, "", (mode_t)mode, AT_EMPTY_PATH) == 0) return 0;
    if (errno != ENOSYS && errno != EINVAL) return -1;
    // Kernels before 6.6: go through the magic link, which names this exact inode (not a path lookup).
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    return chmod(proc, (mode_t)mode);
}

int coffer_fchown_opath(int fd, uint32_t uid, uint32_t gid) {
    return fchownat(fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH);
}

int coffer_set_timeout(int fd, int receive, int64_t milliseconds) {
    struct timeval tv;
    tv.tv_sec = (time_t)(milliseconds / 1000);
    tv.tv_usec = (suseconds_t)((milliseconds % 1000) * 1000);
    return setsockopt(fd, SOL_SOCKET, receive ? SO_RCVTIMEO : SO_SNDTIMEO, &tv, sizeof(tv));
}

// MARK: pidfd

int coffer_pidfd_open(int32_t pid) { return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0u); }

int coffer_pidfd_send_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, (void *)NULL, 0u);
}

// MARK: Event loop

int coffer_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int coffer_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = events;
    event.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &event);
}

int coffer_epoll_wait(int epfd, struct coffer_epoll_result *results, int capacity, int timeout) {
    struct epoll_event events[1024];
    if (capacity <= 0) {
        errno = EINVAL;
        return -1;
    }
    if (capacity > 1024) capacity = 1024;
    int n = epoll_wait(epfd, events, capacity, timeout);
    for (int i = 0; i < n; i++) {
        results[i].data = events[i].data.u64;
        results[i].events = events[i].events;
    }
    return n;
}

int coffer_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

// MARK: Signals

static int fill_set(sigset_t *set, const int *signals, int count) {
    if (sigemptyset(set) != 0) return -1;
    for (int i = 0; i < count; i++) {
        if (sigaddset(set, signals[i]) != 0) return -1;
    }
    return 0;
}

int coffer_sigmask(const int *signals, int count, int how) {
    sigset_t set;
    if (fill_set(&set, signals, count) != 0) return errno;
    return pthread_sigmask(how == 0 ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

int coffer_signalfd(const int *signals, int count) {
    sigset_t set;
    if (fill_set(&set, signals, count) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int coffer_signalfd_read(int fd, uint32_t *signal, int32_t *sender_pid, uint32_t *sender_uid) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    if ((size_t)n != sizeof(info)) {
        errno = EIO;
        return -1;
    }
    *signal = info.ssi_signo;
    *sender_pid = (int32_t)info.ssi_pid;
    *sender_uid = info.ssi_uid;
    return 1;
}

int coffer_ignore_sigpipe(void) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGPIPE, &action, NULL);
}

int coffer_raise_in_thread(int signal) { return (int)syscall(SYS_tgkill, getpid(), gettid(), signal); }

// MARK: Process

int coffer_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, (unsigned long)dumpable, 0UL, 0UL, 0UL); }

int coffer_get_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0UL, 0UL, 0UL, 0UL); }

int coffer_set_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof(truncated) - 1);
    truncated[sizeof(truncated) - 1] = 0;
    return pthread_setname_np(pthread_self(), truncated);
}

// MARK: Test support

int coffer_test_connect_as(const char *path, uint32_t uid, uint32_t gid, const uint32_t *groups, int group_count,
                           const uint8_t *abstract_name, size_t abstract_length, int32_t *child) {
    // Everything the child needs is prepared before fork: after fork in a multi-threaded process only
    // async-signal-safe calls are allowed, so the child uses raw syscalls and no allocation.
    gid_t group_list[64];
    if (group_count < 0 || group_count > 64) {
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; i < group_count; i++) group_list[i] = (gid_t)groups[i];
    struct sockaddr_un target;
    socklen_t target_len;
    if (make_address(&target, &target_len, (const uint8_t *)path, strlen(path)) != 0) return -1;
    struct sockaddr_un own;
    socklen_t own_len = 0;
    if (abstract_name != NULL) {
        uint8_t name[sizeof(own.sun_path)];
        if (abstract_length + 1 > sizeof(name)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        name[0] = 0;
        memcpy(name + 1, abstract_name, abstract_length);
        if (make_address(&own, &own_len, name, abstract_length + 1) != 0) return -1;
    }
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(report[0]);
        close(report[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        // Keep nothing of the test process open (other tests' connections must see EOF when they close).
        int out = report[1];
        if (out != 3) {
            if (dup2(out, 3) < 0) _exit(120);
            out = 3;
        }
        syscall(SYS_close_range, 4u, ~0u, 0u);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        alarm(30);  // never outlive a failed test by much
        int result = 0;
        if (syscall(SYS_setgroups, (size_t)group_count, group_list) != 0 ||
            syscall(SYS_setresgid, gid, gid, gid) != 0 || syscall(SYS_setresuid, uid, uid, uid) != 0) {
            result = errno;
            (void)!write(out, &result, sizeof(result));
            _exit(121);
        }
        int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sock < 0) result = errno;
        if (result == 0 && own_len != 0 && bind(sock, (struct sockaddr *)&own, own_len) != 0) result = errno;
        if (result == 0 && connect(sock, (struct sockaddr *)&target, target_len) != 0) result = errno;
        (void)!write(out, &result, sizeof(result));
        close(out);
        if (result != 0) _exit(0);
        char byte;
        while (read(sock, &byte, 1) > 0) {
        }
        _exit(0);
    }
    close(report[1]);
    int result = 0;
    ssize_t n;
    do {
        n = read(report[0], &result, sizeof(result));
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    *child = (int32_t)pid;
    if (n != (ssize_t)sizeof(result)) return EIO;
    return result;
}
