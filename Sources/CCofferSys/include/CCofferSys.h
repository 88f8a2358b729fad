#ifndef COFFER_SYS_H
#define COFFER_SYS_H
// The few Linux calls Swift's Glibc module cannot reach: variadic functions (prctl, fcntl, syscall), structs it does
// not import (ucred, signalfd_siginfo, sockaddr_un's char array as bytes), packed structs (epoll_event on x86_64) and
// constants missing from Debian 12's 6.1 headers (SO_PEERPIDFD). Every function returns -1 with errno set on failure
// unless documented otherwise; CofferSystem reads errno right after the call.
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// MARK: Errors

/// strerror_r (GNU): the message for `code`, possibly in `buffer`.
const char *coffer_strerror(int code, char *buffer, size_t capacity);

// MARK: Peer identity

/// Reads SO_PEERCRED of a connected AF_UNIX socket.
int coffer_peer_cred(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);
/// Reads SO_PEERGROUPS into `groups` (capacity `*count`). On ERANGE, `*count` holds the number needed.
int coffer_peer_groups(int fd, uint32_t *groups, uint32_t *count);
/// Reads SO_PEERPIDFD (77): a new pidfd (CLOEXEC) for the peer, or -1 (ENOPROTOOPT/EINVAL on kernels before 6.5).
int coffer_peer_pidfd(int fd);
/// getpeername() of an AF_UNIX socket: copies the raw sun_path bytes (abstract names keep their leading NUL) and
/// sets `*length` to their count (0 for an unnamed peer).
int coffer_peer_name(int fd, uint8_t *buffer, size_t capacity, size_t *length);
/// SO_DOMAIN, SO_TYPE and SO_ACCEPTCONN of a socket.
int coffer_socket_info(int fd, int *domain, int *type, int *accepting);

// MARK: AF_UNIX addresses given as raw sun_path bytes
// `name[0] == 0` is an abstract address: addrlen = offsetof(sun_path) + length, no NUL padding. Otherwise a
// filesystem path without NUL bytes; the shim adds the terminator. ENAMETOOLONG if it does not fit in sun_path.

int coffer_unix_bind(int fd, const uint8_t *name, size_t length);
int coffer_unix_connect(int fd, const uint8_t *name, size_t length);
ssize_t coffer_unix_sendto(int fd, const void *bytes, size_t count, int flags, const uint8_t *name, size_t length);
/// Largest sun_path length (108 on Linux).
size_t coffer_unix_path_capacity(void);

// MARK: Descriptors

/// socket(AF_UNIX, SOCK_STREAM or SOCK_DGRAM, with SOCK_CLOEXEC and optionally SOCK_NONBLOCK).
int coffer_unix_socket(int datagram, int nonblocking);
/// accept4 with SOCK_CLOEXEC | SOCK_NONBLOCK.
int coffer_accept4(int fd);
/// open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC): a handle on the inode itself, even a socket or a symlink.
int coffer_open_path_nofollow(const char *path);
int coffer_set_nonblocking(int fd, int enabled);
int coffer_set_cloexec(int fd);
/// 1 if FD_CLOEXEC is set, 0 if not.
int coffer_get_cloexec(int fd);
/// 1 if O_NONBLOCK is set, 0 if not.
int coffer_get_nonblocking(int fd);
/// fchmod/fchown for an O_PATH descriptor (fchmodat2 with AT_EMPTY_PATH, falling back to /proc/self/fd/N).
int coffer_fchmod_opath(int fd, uint32_t mode);
int coffer_fchown_opath(int fd, uint32_t uid, uint32_t gid);
int coffer_set_timeout(int fd, int receive, int64_t milliseconds);

// MARK: pidfd

int coffer_pidfd_open(int32_t pid);
int coffer_pidfd_send_signal(int pidfd, int signal);

// MARK: Event loop

int coffer_epoll_create(void);
/// op: 1 add, 2 delete, 3 modify (EPOLL_CTL_*).
int coffer_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
struct coffer_epoll_result {
    uint64_t data;
    uint32_t events;
};
/// epoll_wait into an unpacked array (at most 1024 per call).
int coffer_epoll_wait(int epfd, struct coffer_epoll_result *results, int capacity, int timeout);
/// A non-blocking, CLOEXEC eventfd.
int coffer_eventfd(void);

// MARK: Signals

/// Blocks (how = 0) or unblocks (how = 1) `signals` in the calling thread (pthread_sigmask). Returns an errno value.
int coffer_sigmask(const int *signals, int count, int how);
/// A non-blocking, CLOEXEC signalfd for `signals` (which must already be blocked).
int coffer_signalfd(const int *signals, int count);
/// Reads one signalfd_siginfo: 1 with the fields set, 0 if none is pending (EAGAIN), -1 on error.
int coffer_signalfd_read(int fd, uint32_t *signal, int32_t *sender_pid, uint32_t *sender_uid);
int coffer_ignore_sigpipe(void);
/// Sends `signal` to the calling thread only (tgkill).
int coffer_raise_in_thread(int signal);

// MARK: Process

int coffer_set_dumpable(int dumpable);
/// prctl(PR_GET_DUMPABLE): 0, 1, 2, or -1.
int coffer_get_dumpable(void);
/// pthread_setname_np for the calling thread (truncated to 15 bytes).
int coffer_set_thread_name(const char *name);

// MARK: Test support (used by Tests/CofferSystemTests; never called by the daemon)

/// Forks a child that drops to `uid`/`gid`/`groups` (setgroups, setresgid, setresuid as raw syscalls), optionally
/// binds the abstract name `abstract_name` (length `abstract_length`, without the leading NUL), and connects to the
/// AF_UNIX socket `path`. Returns the connect() result: 0, or the errno the child saw. `*child` is the child's pid.
/// A connected child stays alive until the server closes the connection (it blocks in read), then exits 0; the caller
/// reaps it with waitpid. Returns -1 if the fork itself failed.
int coffer_test_connect_as(const char *path, uint32_t uid, uint32_t gid, const uint32_t *groups, int group_count,
                           const uint8_t *abstract_name, size_t abstract_length, int32_t *child);

#endif
