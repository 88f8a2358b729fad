import CCofferSys
import Glibc

/// The `sd_notify(3)` protocol without libsystemd: one datagram of newline-separated `KEY=VALUE` lines to
/// `$NOTIFY_SOCKET` (`READY=1`, `STATUS=…`, `STOPPING=1`, `RELOADING=1`, `WATCHDOG=1`).
public enum SdNotify {
    /// Sends `state` to `$NOTIFY_SOCKET`. Returns false (and does nothing) when the variable is unset, i.e. when not
    /// started by systemd with `Type=notify`.
    @discardableResult
    public static func send(_ state: String) throws -> Bool {
        guard let address = environment("NOTIFY_SOCKET"), !address.isEmpty else { return false }
        try send(state, to: address)
        return true
    }

    /// Sends `state` to a notify socket address: an absolute path, or `@name` for the abstract namespace. The
    /// abstract address length is `offsetof(sun_path) + 1 + name length` with no NUL padding (padding to
    /// `sizeof(sockaddr_un)` names a different socket and gives ECONNREFUSED).
    public static func send(_ state: String, to address: String) throws {
        var name: [UInt8]
        if address.hasPrefix("@") {
            name = [0] + Array(address.utf8.dropFirst())
        } else if address.hasPrefix("/") {
            name = Array(address.utf8)
        } else {
            throw SocketError.unsupportedAddress(address)
        }
        guard name.count > 1, name.count < coffer_unix_path_capacity() else {
            throw SocketError.unsupportedAddress(address)
        }
        let socket = FileDescriptor(owning: try retryingEINTR("socket") { coffer_unix_socket(1, 0) })
        let fd = socket.rawValue
        var payload = state
        let sent = try payload.withUTF8 { bytes in
            try name.withUnsafeBufferPointer { target in
                try retryingEINTR("sendto(NOTIFY_SOCKET)") {
                    coffer_unix_sendto(
                        fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), target.baseAddress, target.count)
                }
            }
        }
        guard sent == payload.utf8.count else { throw SystemError(call: "sendto(NOTIFY_SOCKET)", errno: EMSGSIZE) }
        name.removeAll()
    }

    /// The watchdog interval in microseconds if systemd expects `WATCHDOG=1` pings from this process
    /// (`$WATCHDOG_USEC` set and positive, and `$WATCHDOG_PID` unset or equal to `getpid()`); ping every half of it.
    public static func watchdogInterval() -> UInt64? {
        watchdogInterval(environment: environment, pid: getpid())
    }

    static func watchdogInterval(environment: (String) -> String?, pid: Int32) -> UInt64? {
        if let owner = environment("WATCHDOG_PID") {
            guard let ownerPID = Int32(owner), ownerPID == pid else { return nil }
        }
        guard let text = environment("WATCHDOG_USEC"), let usec = UInt64(text), usec > 0 else { return nil }
        return usec
    }
}

/// `sd_listen_fds_with_names(3)` without libsystemd: the listening sockets systemd passed to this process.
public enum SocketActivation {
    /// `SD_LISTEN_FDS_START`.
    public static let firstDescriptor: Int32 = 3

    /// The passed descriptors (from fd 3) with their `FileDescriptorName=` names, or empty if none were passed to
    /// *this* process (`$LISTEN_PID` must equal `getpid()`, so a child that inherited the variables ignores them).
    /// Each fd gets `FD_CLOEXEC`. With `unsetEnvironment` (the default) the three variables are removed, so that a
    /// child process cannot mistake them for its own. `unsetenv` is not thread-safe: call this at startup, before
    /// other threads exist. Missing names are `"unknown"`, as in libsystemd. Use ``UnixListener/adopt(fd:)`` next.
    public static func listenFDs(unsetEnvironment: Bool = true) throws -> [(name: String, fd: Int32)] {
        defer {
            if unsetEnvironment {
                unsetenv("LISTEN_PID")
                unsetenv("LISTEN_FDS")
                unsetenv("LISTEN_FDNAMES")
            }
        }
        let passed = parse(environment: environment, pid: getpid())
        for entry in passed {
            let fd = entry.fd
            _ = try retryingEINTR("fcntl(FD_CLOEXEC)") { coffer_set_cloexec(fd) }
        }
        return passed
    }

    /// The protocol's arithmetic, separate from the process environment for tests.
    static func parse(environment: (String) -> String?, pid: Int32) -> [(name: String, fd: Int32)] {
        guard let owner = environment("LISTEN_PID"), let ownerPID = Int32(owner), ownerPID == pid,
            let countText = environment("LISTEN_FDS"), let count = Int32(countText), count > 0,
            count <= Int32.max - firstDescriptor
        else { return [] }
        var names =
            environment("LISTEN_FDNAMES").map { $0.split(separator: ":", omittingEmptySubsequences: false) } ?? []
        if names.count != Int(count) { names = [] }
        return (0..<count).map { i in
            let name = names.isEmpty || names[Int(i)].isEmpty ? "unknown" : String(names[Int(i)])
            return (name: name, fd: firstDescriptor + i)
        }
    }
}

/// `getenv`, copied into a `String` at once.
func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
