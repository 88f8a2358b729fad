import Glibc

// A copy of Tests/CofferIntegrationTests/Subprocess.swift (test targets cannot share files), except that children
// start with an empty signal mask and default dispositions: the test threads that spawn them block most signals,
// and a child inheriting that mask ignores SIGTERM (strace then never detaches).

/// Runs a program with posix_spawn (no Foundation), feeding stdin and collecting stdout/stderr.
struct ProcessResult {
    var status: Int32
    var stdout: [UInt8]
    var stderr: [UInt8]
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

enum Subprocess {
    /// Runs `arguments[0]` (an absolute path) to completion.
    static func run(
        _ arguments: [String], stdin: [UInt8] = [], environment: [String: String] = [:]
    ) throws -> ProcessResult {
        var inPipe: [Int32] = [0, 0]
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw SubprocessError(message: "pipe: \(errno)")
        }
        for fd in inPipe + outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        let pid = try spawn(arguments, environment: environment, actions: &actions)
        close(inPipe[0])
        close(outPipe[1])
        close(errPipe[1])
        // Feed stdin on a thread so that a child writing a lot before reading cannot deadlock us.
        let input = inPipe[1]
        let feeder = FeedThread(fd: input, bytes: stdin)
        var out: [UInt8] = []
        var err: [UInt8] = []
        var fds = [
            pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
            pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0),
        ]
        var open = 2
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while open > 0 {
            _ = poll(&fds, 2, 30_000)
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = read(fds[i].fd, &buffer, buffer.count)
                if n > 0 {
                    if i == 0 { out += buffer[0..<n] } else { err += buffer[0..<n] }
                } else if n == 0 || (n < 0 && errno != EINTR) {
                    close(fds[i].fd)
                    fds[i].fd = -1
                    open -= 1
                }
            }
        }
        feeder.join()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ProcessResult(status: exit, stdout: out, stderr: err)
    }

    /// Starts a long-running child with stdout/stderr appended to `logPath`; returns its pid.
    static func start(_ arguments: [String], logPath: String, environment: [String: String] = [:]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        return try spawn(arguments, environment: environment, actions: &actions)
    }

    private static func spawn(
        _ arguments: [String], environment: [String: String], actions: inout posix_spawn_file_actions_t
    ) throws -> pid_t {
        var env: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") { env[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            cursor += 1
        }
        for (k, v) in environment { env[k] = v }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SubprocessError(message: "posix_spawn \(arguments[0]): \(rc)") }
        return pid
    }
}

struct SubprocessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Writes bytes to a pipe on its own thread, then closes it.
final class FeedThread: @unchecked Sendable {
    // @unchecked: `thread` is written once in init and joined once; the bytes are immutable.
    private var thread = pthread_t()
    private final class Box {
        let fd: Int32
        let bytes: [UInt8]
        init(fd: Int32, bytes: [UInt8]) {
            self.fd = fd
            self.bytes = bytes
        }
    }

    init(fd: Int32, bytes: [UInt8]) {
        let box = Unmanaged.passRetained(Box(fd: fd, bytes: bytes)).toOpaque()
        pthread_create(
            &thread, nil,
            { raw in
                guard let raw else { return nil }
                let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
                var offset = 0
                while offset < box.bytes.count {
                    let n = box.bytes.withUnsafeBytes { raw -> Int in
                        guard let base = raw.baseAddress else { return -1 }
                        return write(box.fd, base + offset, raw.count - offset)
                    }
                    if n <= 0 { break }
                    offset += n
                }
                close(box.fd)
                return nil
            }, box)
    }

    func join() { pthread_join(thread, nil) }
}
