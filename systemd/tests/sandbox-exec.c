// sandbox-exec: runs a program the way systemd 252 would run coffer.service, without systemd as PID 1.
//
// make check-systemd uses it to start the real cofferd under the unit's restrictions (sandbox-check.py derives the
// options from systemd/coffer.service). It plays the parts of systemd that decide whether the daemon can work:
//
//   socket units        --listen NAME:MODE:PATH   bound as root before anything else, passed as fds 3, 4, ... with
//                                                 LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID, like FileDescriptorName=
//   PrivateNetwork=     --private-network         a new, empty network namespace
//   ProtectSystem=strict --read-only-root         a private mount namespace, everything read-only (mount_setattr
//   StateDirectory=     --writable PATH            AT_RECURSIVE) except --writable paths and /dev
//   PrivateTmp=         --private-tmp             fresh tmpfs on /tmp and /var/tmp
//   ProcSubset=pid      --proc-subset-pid         a new procfs on /proc with subset=pid
//   LimitMEMLOCK=/LimitCORE=/UMask=   --rlimit-memlock N --rlimit-core N --umask OCT
//   User=/Group=        --user UID:GID            no supplementary groups
//   CapabilityBoundingSet= (empty)   --drop-bounding-set
//   NoNewPrivileges=    --no-new-privileges
//   MemoryDenyWriteExecute=  --mdwe               systemd 252's seccomp rules (no mmap W|X, no mprotect/pkey_mprotect
//                                                 adding X, no shmat SHM_EXEC) plus prctl(PR_SET_MDWE) where the
//                                                 kernel has it (6.3+), as systemd >= 254 does
//   SystemCallFilter=   --syscall-allow FILE      allow list (one name per line, groups already expanded);
//   SystemCallErrorNumber= --syscall-errno N      everything else fails with errno N
//   SystemCallArchitectures=native                (libseccomp's default: only the native ABI; others are killed)
//   RestrictAddressFamilies=AF_UNIX  --af-unix-only  socket() of any other family fails with EAFNOSUPPORT
//   RestrictNamespaces=yes  --restrict-namespaces  no setns, no unshare/clone with namespace flags, clone3 ENOSYS
//   LockPersonality=    --lock-personality        personality() only to PER_LINUX
//   RestrictRealtime=   --restrict-realtime       sched_setscheduler() to SCHED_FIFO/RR/DEADLINE fails
//   RestrictSUIDSGID=   --restrict-suid-sgid      chmod family with S_ISUID/S_ISGID fails
//
// The filters are separate seccomp programs, as systemd loads them; the kernel applies the strictest answer.
// `sandbox-exec OPTIONS -- sandbox-exec --probe OPTIONS` checks from inside the sandbox that each restriction given
// is really in force, so a check that passes cannot be a sandbox that silently did nothing.
//
// Build: cc -std=gnu11 -O2 -Wall -Wextra -Werror -o sandbox-exec sandbox-exec.c -l:libseccomp.so.2
//
// libseccomp: libseccomp2 is a dependency of the systemd package, so the shared library is always here; the -dev
// package (seccomp.h) is optional: without it the few stable ABI declarations below are used.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#if __has_include(<seccomp.h>)
#include <seccomp.h>
#else
typedef void *scmp_filter_ctx;
typedef uint64_t scmp_datum_t;
enum scmp_compare {
    SCMP_CMP_NE = 1,
    SCMP_CMP_LT = 2,
    SCMP_CMP_LE = 3,
    SCMP_CMP_EQ = 4,
    SCMP_CMP_GE = 5,
    SCMP_CMP_GT = 6,
    SCMP_CMP_MASKED_EQ = 7,
};
struct scmp_arg_cmp {
    unsigned int arg;
    enum scmp_compare op;
    scmp_datum_t datum_a;
    scmp_datum_t datum_b;
};
#define SCMP_ACT_ALLOW 0x7fff0000U
#define SCMP_ACT_ERRNO(x) (0x00050000U | ((x) & 0x0000ffffU))
#define __NR_SCMP_ERROR -1
scmp_filter_ctx seccomp_init(uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
                           const struct scmp_arg_cmp *arg_array);
int seccomp_load(const scmp_filter_ctx ctx);
#endif

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#define PR_MDWE_REFUSE_EXEC_GAIN (1UL << 0)
#endif
#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static void die(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("sandbox-exec: ", stderr);
    vfprintf(stderr, format, args);
    if (errno) fprintf(stderr, ": %s", strerror(errno));
    fputc('\n', stderr);
    va_end(args);
    exit(125);
}

#define CHECK(call, ...)                \
    do {                                \
        errno = 0;                      \
        if ((call) < 0) die(__VA_ARGS__); \
    } while (0)

// MARK: seccomp

static int resolve(const char *name) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
        errno = 0;
        die("libseccomp does not know the system call %s", name);
    }
    return nr;
}

static void rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned count, struct scmp_arg_cmp *args) {
    int r = seccomp_rule_add_array(ctx, action, resolve(name), count, args);
    if (r < 0) {
        errno = -r;
        die("seccomp rule for %s", name);
    }
}

static void load(scmp_filter_ctx ctx, const char *what) {
    int r = seccomp_load(ctx);
    if (r < 0) {
        errno = -r;
        die("loading the %s filter", what);
    }
    seccomp_release(ctx);
}

static scmp_filter_ctx new_filter(uint32_t default_action) {
    scmp_filter_ctx ctx = seccomp_init(default_action);
    if (!ctx) die("seccomp_init");
    return ctx;
}

// SystemCallFilter= as an allow list, built while the file is still readable (before the privileges go) and loaded
// last. Names libseccomp does not know on this architecture are skipped, as systemd skips them.
static scmp_filter_ctx build_allow_list(const char *path, int error_number) {
    FILE *file = fopen(path, "r");
    if (!file) die("%s", path);
    scmp_filter_ctx ctx = new_filter(SCMP_ACT_ERRNO(error_number));
    char line[128];
    int allowed = 0;
    while (fgets(line, sizeof line, file)) {
        line[strcspn(line, " \t\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        int nr = seccomp_syscall_resolve_name(line);
        if (nr == __NR_SCMP_ERROR || nr < 0) continue;
        int r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 0, NULL);
        if (r < 0) {
            errno = -r;
            die("allowing %s", line);
        }
        allowed++;
    }
    fclose(file);
    if (allowed < 50) {
        errno = 0;
        die("%s allows only %d system calls: not a system-service list", path, allowed);
    }
    return ctx;
}

// systemd 252 src/shared/seccomp-util.c seccomp_memory_deny_write_execute(), x86-64 branch.
static void load_mdwe(void) {
    scmp_filter_ctx ctx = new_filter(SCMP_ACT_ALLOW);
    struct scmp_arg_cmp wx = {2, SCMP_CMP_MASKED_EQ, PROT_EXEC | PROT_WRITE, PROT_EXEC | PROT_WRITE};
    struct scmp_arg_cmp x = {2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC};
    struct scmp_arg_cmp shm = {2, SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC};
    rule(ctx, SCMP_ACT_ERRNO(EPERM), "mmap", 1, &wx);
    rule(ctx, SCMP_ACT_ERRNO(EPERM), "mprotect", 1, &x);
    rule(ctx, SCMP_ACT_ERRNO(EPERM), "pkey_mprotect", 1, &x);
    rule(ctx, SCMP_ACT_ERRNO(EPERM), "shmat", 1, &shm);
    load(ctx, "MemoryDenyWriteExecute");
}

static void load_af_unix_only(void) {
    scmp_filter_ctx ctx = new_filter(SCMP_ACT_ALLOW);
    struct scmp_arg_cmp not_unix = {0, SCMP_CMP_NE, AF_UNIX, 0};
    rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1, &not_unix);
    load(ctx, "RestrictAddressFamilies");
}

static void load_restrict_namespaces(void) {
    // systemd 252 seccomp_restrict_namespaces() with nothing retained: setns() refused outright; unshare() and
    // clone() refused for each namespace flag (clone's flags are its first argument on x86-64); clone3() passes its
    // flags in memory, so it gets ENOSYS and glibc falls back to clone().
    scmp_filter_ctx ctx = new_filter(SCMP_ACT_ALLOW);
    static const uint64_t flags[] = {CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS,
                                     CLONE_NEWPID,    CLONE_NEWUSER, CLONE_NEWUTS, CLONE_NEWTIME};
    rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
    rule(ctx, SCMP_ACT_ERRNO(EPERM), "setns", 0, NULL);
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        struct scmp_arg_cmp flag = {0, SCMP_CMP_MASKED_EQ, flags[i], flags[i]};
        rule(ctx, SCMP_ACT_ERRNO(EPERM), "unshare", 1, &flag);
        rule(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &flag);
    }
    load(ctx, "RestrictNamespaces");
}

static void load_lock_personality(void) {
    scmp_filter_ctx ctx = new_filter(SCMP_ACT_ALLOW);
    // systemd 252 seccomp_lock_personality(): anything but the current personality (PER_LINUX) is refused.
    struct scmp_arg_cmp other = {0, SCMP_CMP_NE, PER_LINUX, 0};
    rule(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1, &other);
    load(ctx, "LockPersonality");
}

static void load_restrict_realtime(void) {
    scmp_filter_ctx ctx = new_filter(SCMP_ACT_ALLOW);
    static const int policies[] = {SCHED_FIFO, SCHED_RR, SCHED_DEADLINE};
    for (size_t i = 0; i < 3; i++) {
        struct scmp_arg_cmp policy = {1, SCMP_CMP_EQ, (scmp_datum_t)policies[i], 0};
        rule(ctx, SCMP_ACT_ERRNO(EPERM), "sched_setscheduler", 1, &policy);
    }
    load(ctx, "RestrictRealtime");
}

static void load_restrict_suid_sgid(void) {
    scmp_filter_ctx ctx = new_filter(SCMP_ACT_ALLOW);
    static const scmp_datum_t bits[] = {S_ISUID, S_ISGID};
    for (size_t i = 0; i < 2; i++) {
        struct scmp_arg_cmp mode1 = {1, SCMP_CMP_MASKED_EQ, bits[i], bits[i]};
        struct scmp_arg_cmp mode2 = {2, SCMP_CMP_MASKED_EQ, bits[i], bits[i]};
        rule(ctx, SCMP_ACT_ERRNO(EPERM), "chmod", 1, &mode1);
        rule(ctx, SCMP_ACT_ERRNO(EPERM), "fchmod", 1, &mode1);
        rule(ctx, SCMP_ACT_ERRNO(EPERM), "fchmodat", 1, &mode2);
    }
    load(ctx, "RestrictSUIDSGID");
}

// MARK: options

struct listen_spec {
    char name[64];
    mode_t mode;
    const char *path;
};

struct options {
    struct listen_spec listens[8];
    int listen_count;
    const char *writable[8];
    int writable_count;
    const char *allow_list;
    long uid, gid, memlock, core, error_number;
    int umask_value, private_network, read_only_root, private_tmp, proc_subset_pid, drop_bounding, no_new_privs;
    int mdwe, af_unix, restrict_ns, lock_personality, restrict_realtime, restrict_suid;
};

static void usage(void) {
    fputs("usage: sandbox-exec [options] -- PROGRAM [ARGS...]\n"
          "       sandbox-exec --probe [options]   (inside the sandbox: check that each restriction is in force)\n"
          "options: --listen NAME:MODE:PATH --user UID:GID --umask OCT --rlimit-memlock BYTES --rlimit-core BYTES\n"
          "         --private-network --read-only-root --writable PATH --private-tmp --proc-subset-pid\n"
          "         --drop-bounding-set --no-new-privileges --mdwe --syscall-allow FILE --syscall-errno N\n"
          "         --af-unix-only --restrict-namespaces --lock-personality --restrict-realtime --restrict-suid-sgid\n",
          stderr);
    exit(2);
}

static int parse_octal(const char *text) {
    char *end;
    long value = strtol(text, &end, 8);
    if (!*text || *end || value < 0 || value > 07777) usage();
    return (int)value;
}

static long parse_number(const char *text) {
    char *end;
    long value = strtol(text, &end, 10);
    if (!*text || *end || value < 0) usage();
    return value;
}

// Parses options up to "--" or the end; returns the index after them.
static int parse(int argc, char **argv, int i, struct options *o) {
    *o = (struct options){.uid = -1, .gid = -1, .memlock = -1, .core = -1, .error_number = EPERM, .umask_value = -1};
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        const char *option = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_value = 1;
        if (!strcmp(option, "--listen") && value && o->listen_count < 8) {
            struct listen_spec *spec = &o->listens[o->listen_count++];
            const char *colon = strchr(value, ':');
            const char *second = colon ? strchr(colon + 1, ':') : NULL;
            if (!second || colon == value || (size_t)(colon - value) >= sizeof spec->name) usage();
            memcpy(spec->name, value, colon - value);
            spec->name[colon - value] = 0;
            char mode[16] = {0};
            if ((size_t)(second - colon - 1) >= sizeof mode) usage();
            memcpy(mode, colon + 1, second - colon - 1);
            spec->mode = parse_octal(mode);
            spec->path = second + 1;
        } else if (!strcmp(option, "--user") && value) {
            if (sscanf(value, "%ld:%ld", &o->uid, &o->gid) != 2 || o->uid < 0 || o->gid < 0) usage();
        } else if (!strcmp(option, "--umask") && value) {
            o->umask_value = parse_octal(value);
        } else if (!strcmp(option, "--rlimit-memlock") && value) {
            o->memlock = parse_number(value);
        } else if (!strcmp(option, "--rlimit-core") && value) {
            o->core = parse_number(value);
        } else if (!strcmp(option, "--writable") && value && o->writable_count < 8) {
            o->writable[o->writable_count++] = value;
        } else if (!strcmp(option, "--syscall-allow") && value) {
            o->allow_list = value;
        } else if (!strcmp(option, "--syscall-errno") && value) {
            o->error_number = parse_number(value);
        } else {
            takes_value = 0;
            if (!strcmp(option, "--private-network")) o->private_network = 1;
            else if (!strcmp(option, "--read-only-root")) o->read_only_root = 1;
            else if (!strcmp(option, "--private-tmp")) o->private_tmp = 1;
            else if (!strcmp(option, "--proc-subset-pid")) o->proc_subset_pid = 1;
            else if (!strcmp(option, "--drop-bounding-set")) o->drop_bounding = 1;
            else if (!strcmp(option, "--no-new-privileges")) o->no_new_privs = 1;
            else if (!strcmp(option, "--mdwe")) o->mdwe = 1;
            else if (!strcmp(option, "--af-unix-only")) o->af_unix = 1;
            else if (!strcmp(option, "--restrict-namespaces")) o->restrict_ns = 1;
            else if (!strcmp(option, "--lock-personality")) o->lock_personality = 1;
            else if (!strcmp(option, "--restrict-realtime")) o->restrict_realtime = 1;
            else if (!strcmp(option, "--restrict-suid-sgid")) o->restrict_suid = 1;
            else usage();
        }
        i += takes_value;
    }
    return i;
}

// MARK: the probe (runs inside the sandbox, after execve, with the options the sandbox was given)

static int failures;

static void expect(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failures++;
}

static int refused(long result, int error) { return result < 0 && errno == error; }

static int probe(const struct options *o) {
    if (o->mdwe) {
        errno = 0;
        void *wx = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        expect(wx == MAP_FAILED, "MemoryDenyWriteExecute=yes: mmap(PROT_WRITE|PROT_EXEC) is refused");
        void *rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        expect(rw != MAP_FAILED && mprotect(rw, 4096, PROT_READ | PROT_EXEC) < 0,
               "MemoryDenyWriteExecute=yes: mprotect() adding PROT_EXEC is refused");
        int mdwe = prctl(PR_GET_MDWE, 0, 0, 0, 0);
        if (mdwe >= 0)
            expect(mdwe & PR_MDWE_REFUSE_EXEC_GAIN, "prctl(PR_GET_MDWE) is REFUSE_EXEC_GAIN across execve");
        else
            printf("note PR_SET_MDWE needs Linux 6.3; systemd 252's seccomp rules apply alone\n");
    }
    if (o->af_unix) {
        int unix_socket = socket(AF_UNIX, SOCK_STREAM, 0);
        expect(unix_socket >= 0, "RestrictAddressFamilies=AF_UNIX: an AF_UNIX socket can be created");
        if (unix_socket >= 0) close(unix_socket);
        errno = 0;
        expect(refused(socket(AF_INET, SOCK_STREAM, 0), EAFNOSUPPORT),
               "RestrictAddressFamilies=AF_UNIX: socket(AF_INET) fails with EAFNOSUPPORT");
    }
    if (o->allow_list) {
        int error = (int)o->error_number;
        errno = 0;
        expect(refused(syscall(SYS_setuid, getuid()), error), "SystemCallFilter=~@privileged: setuid() is refused");
        errno = 0;
        expect(refused(syscall(SYS_chown, "/", -1, -1), error), "SystemCallFilter=~@privileged: chown() is refused");
        cpu_set_t cpus;
        CPU_ZERO(&cpus);
        CPU_SET(0, &cpus);
        errno = 0;
        expect(refused(syscall(SYS_sched_setaffinity, 0, sizeof cpus, &cpus), error),
               "SystemCallFilter=~@resources: sched_setaffinity() is refused");
        errno = 0;
        expect(refused(syscall(SYS_ptrace, 0, 0, 0, 0), error),
               "SystemCallFilter=@system-service: ptrace() (not in the list) is refused");
        errno = 0;
        struct rlimit same;
        getrlimit(RLIMIT_NOFILE, &same);
        expect(setrlimit(RLIMIT_NOFILE, &same) == 0, "SystemCallFilter=@system-service: prlimit64() is allowed");
    }
    if (o->restrict_ns) {
        errno = 0;
        expect(refused(syscall(SYS_unshare, CLONE_NEWUTS), EPERM), "RestrictNamespaces=yes: unshare(CLONE_NEWUTS)");
    }
    if (o->lock_personality) {
        errno = 0;
        expect(refused(personality(PER_BSD), EPERM), "LockPersonality=yes: personality(PER_BSD) is refused");
    }
    if (o->no_new_privs) expect(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "NoNewPrivileges=yes");
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    int caps_clear = 0, bounding_clear = 0;
    while (status && fgets(line, sizeof line, status)) {
        if (!strncmp(line, "CapEff:\t0000000000000000", 24)) caps_clear = 1;
        if (!strncmp(line, "CapBnd:\t0000000000000000", 24)) bounding_clear = 1;
    }
    if (status) fclose(status);
    if (o->uid > 0) {
        expect(geteuid() == (uid_t)o->uid && getegid() == (gid_t)o->gid, "User=/Group=: the given uid and gid");
        expect(caps_clear, "no effective capabilities");
    }
    if (o->drop_bounding) expect(bounding_clear, "CapabilityBoundingSet= (empty)");
    struct rlimit limit;
    if (o->core >= 0) {
        getrlimit(RLIMIT_CORE, &limit);
        expect(limit.rlim_cur == (rlim_t)o->core && limit.rlim_max == (rlim_t)o->core, "LimitCORE=");
    }
    if (o->memlock >= 0) {
        getrlimit(RLIMIT_MEMLOCK, &limit);
        expect(limit.rlim_cur <= (rlim_t)o->memlock && limit.rlim_cur == limit.rlim_max, "LimitMEMLOCK=");
        if (limit.rlim_cur != (rlim_t)o->memlock)
            printf("note LimitMEMLOCK is %llu here, not %ld (no CAP_SYS_RESOURCE to raise it)\n",
                   (unsigned long long)limit.rlim_cur, o->memlock);
    }
    if (o->umask_value >= 0) {
        mode_t current = umask(0);
        umask(current);
        expect(current == (mode_t)o->umask_value, "UMask=");
    }
    if (o->proc_subset_pid) {
        errno = 0;
        expect(refused(access("/proc/meminfo", F_OK), ENOENT), "ProcSubset=pid: /proc/meminfo is hidden");
        char own[64];
        snprintf(own, sizeof own, "/proc/%d/cgroup", (int)getpid());
        expect(access(own, R_OK) == 0, "ProcSubset=pid: /proc/<pid>/cgroup is readable");
    }
    if (o->read_only_root) {
        errno = 0;
        expect(refused(mkdir("/usr/.sandbox-probe", 0700), EROFS), "ProtectSystem=strict: /usr is read-only");
        for (int n = 0; n < o->writable_count; n++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/.sandbox-probe", o->writable[n]);
            int ok = mkdir(path, 0700) == 0 && rmdir(path) == 0;
            expect(ok, "StateDirectory=: the state directory is writable");
        }
    }
    if (o->private_tmp) {
        int ok = mkdir("/tmp/.sandbox-probe", 0700) == 0 && rmdir("/tmp/.sandbox-probe") == 0;
        expect(ok, "PrivateTmp=yes: /tmp is writable");
    }
    if (o->private_network) {
        // Without AF_INET sockets, the network namespace shows in /proc/self/net/dev: only "lo" remains.
        FILE *dev = fopen("/proc/self/net/dev", "r");
        int interfaces = 0, other = 0;
        while (dev && fgets(line, sizeof line, dev)) {
            char *colon = strchr(line, ':');
            if (!colon) continue;
            interfaces++;
            *colon = 0;
            char *name = line + strspn(line, " ");
            if (strcmp(name, "lo")) other++;
        }
        if (dev) fclose(dev);
        expect(dev && interfaces == 1 && other == 0, "PrivateNetwork=yes: only the loopback interface");
    }
    return failures ? 1 : 0;
}

// MARK: setting up

static int bind_listener(const struct listen_spec *spec) {
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(spec->path) >= sizeof address.sun_path) {
        errno = 0;
        die("socket path too long: %s", spec->path);
    }
    strcpy(address.sun_path, spec->path);
    unlink(spec->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd, "socket");
    CHECK(bind(fd, (struct sockaddr *)&address, sizeof address), "bind %s", spec->path);
    CHECK(chmod(spec->path, spec->mode), "chmod %s", spec->path);
    CHECK(listen(fd, SOMAXCONN), "listen %s", spec->path);
    return fd;
}

int main(int argc, char **argv) {
    struct options o;
    if (argc >= 2 && !strcmp(argv[1], "--probe")) {
        if (parse(argc, argv, 2, &o) != argc) usage();
        return probe(&o);
    }
    int i = parse(argc, argv, 1, &o);
    if (i >= argc - 1) usage();
    char **program = &argv[i + 1];

    // Socket units: bound first (as root, in the host's mount and network namespaces), then placed at 3, 4, ...
    int fds[8];
    char names[8 * 65] = "";
    for (int n = 0; n < o.listen_count; n++) {
        int fd = bind_listener(&o.listens[n]);
        fds[n] = fcntl(fd, F_DUPFD_CLOEXEC, 100 + n);  // out of the way of 3.. first
        CHECK(fds[n], "dup");
        close(fd);
        if (n) strcat(names, ":");
        strcat(names, o.listens[n].name);
    }
    for (int n = 0; n < o.listen_count; n++) {
        CHECK(dup2(fds[n], 3 + n), "dup2");  // the copy has no FD_CLOEXEC: it survives execve
        close(fds[n]);
    }
    if (o.listen_count) {
        char text[32];
        snprintf(text, sizeof text, "%d", o.listen_count);
        setenv("LISTEN_FDS", text, 1);
        snprintf(text, sizeof text, "%d", (int)getpid());  // execve keeps the pid
        setenv("LISTEN_PID", text, 1);
        setenv("LISTEN_FDNAMES", names, 1);
    }
    scmp_filter_ctx allow = o.allow_list ? build_allow_list(o.allow_list, (int)o.error_number) : NULL;

    if (o.private_network) CHECK(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
    if (o.read_only_root || o.private_tmp || o.proc_subset_pid) {
        CHECK(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
        CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "making / private");
    }
    if (o.read_only_root) {
        for (int n = 0; n < o.writable_count; n++)
            CHECK(mount(o.writable[n], o.writable[n], NULL, MS_BIND | MS_REC, NULL), "bind %s", o.writable[n]);
        struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
        struct mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
        CHECK(mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro), "making / read-only");
        // ProtectSystem=strict leaves the API file systems alone (PrivateDevices= gives a writable /dev).
        CHECK(mount_setattr(AT_FDCWD, "/dev", AT_RECURSIVE, &rw, sizeof rw), "making /dev writable");
        for (int n = 0; n < o.writable_count; n++)
            CHECK(mount_setattr(AT_FDCWD, o.writable[n], AT_RECURSIVE, &rw, sizeof rw), "making %s writable",
                  o.writable[n]);
    }
    if (o.private_tmp) {
        CHECK(mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"), "tmpfs on /tmp");
        CHECK(mount("tmpfs", "/var/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"), "tmpfs on /var/tmp");
    }
    if (o.proc_subset_pid)
        CHECK(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "subset=pid"), "procfs subset=pid");

    if (o.memlock >= 0) {
        struct rlimit limit = {(rlim_t)o.memlock, (rlim_t)o.memlock};
        if (setrlimit(RLIMIT_MEMLOCK, &limit) < 0) {
            int error = errno;
            // Raising the hard limit needs CAP_SYS_RESOURCE, which some containers withhold: use the hard limit
            // there (the probe then reports the value really in force).
            struct rlimit current;
            CHECK(getrlimit(RLIMIT_MEMLOCK, &current), "getrlimit(RLIMIT_MEMLOCK)");
            if (error != EPERM || current.rlim_max >= limit.rlim_max) {
                errno = error;
                die("RLIMIT_MEMLOCK");
            }
            fprintf(stderr, "sandbox-exec: note: cannot raise RLIMIT_MEMLOCK to %ld (no CAP_SYS_RESOURCE); using %llu\n",
                    o.memlock, (unsigned long long)current.rlim_max);
            current.rlim_cur = current.rlim_max;
            CHECK(setrlimit(RLIMIT_MEMLOCK, &current), "RLIMIT_MEMLOCK");
        }
    }
    if (o.core >= 0) {
        struct rlimit limit = {(rlim_t)o.core, (rlim_t)o.core};
        CHECK(setrlimit(RLIMIT_CORE, &limit), "RLIMIT_CORE");
    }
    if (o.umask_value >= 0) umask(o.umask_value);
    if (o.drop_bounding) {
        for (int cap = 0; cap <= 63; cap++)
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) die("PR_CAPBSET_DROP %d", cap);
    }
    if (o.gid >= 0) {
        CHECK(setgroups(0, NULL), "setgroups");
        CHECK(setresgid(o.gid, o.gid, o.gid), "setresgid");
    }
    if (o.uid >= 0) CHECK(setresuid(o.uid, o.uid, o.uid), "setresuid");
    if (o.no_new_privs) CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS");
    if (o.mdwe) {
        if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) < 0 && errno != EINVAL) die("PR_SET_MDWE");
        load_mdwe();
    }
    if (o.af_unix) load_af_unix_only();
    if (o.restrict_ns) load_restrict_namespaces();
    if (o.lock_personality) load_lock_personality();
    if (o.restrict_realtime) load_restrict_realtime();
    if (o.restrict_suid) load_restrict_suid_sgid();
    if (allow) load(allow, "system call");  // last: it must still permit execve

    execv(program[0], program);
    die("execv %s", program[0]);
}
