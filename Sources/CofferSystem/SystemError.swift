import CCofferSys
import Glibc

/// A failed system call: which call, and the errno it left. The description names the call and `strerror`, never
/// the data involved (no buffers, no secret bytes; paths only where a ``PathError`` or ``SocketError`` adds them).
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call that failed, e.g. `"accept4"`.
    public var call: String
    /// The errno it left.
    public var errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(SystemError.message(for: errno)) (errno \(errno))" }

    /// `strerror_r` text for an errno value (thread-safe, unlike `strerror`).
    public static func message(for errno: Int32) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 128) { buffer -> String in
            guard let base = buffer.baseAddress else { return "error \(errno)" }
            // The GNU strerror_r returns a pointer that may or may not be `buffer`.
            guard let text = coffer_strerror(errno, base, buffer.count) else { return "error \(errno)" }
            return String(cString: text)
        }
    }
}

/// Runs a system call that returns -1 and sets errno on failure; retries on EINTR. errno is read here and only here,
/// right after the call.
@inline(__always)
func retryingEINTR<T: FixedWidthInteger & SignedInteger>(
    _ call: StaticString,
    _ body: () -> T
) throws -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError(call: "\(call)", errno: code)
    }
}

/// For calls that must not be retried after EINTR (`close`), or whose EINTR is a result (`epoll_wait` is retried
/// by its caller's loop anyway).
@inline(__always)
func once<T: FixedWidthInteger & SignedInteger>(_ call: StaticString, _ body: () -> T) throws -> T {
    let result = body()
    if result != -1 { return result }
    throw SystemError(call: "\(call)", errno: Glibc.errno)
}

/// For calls that return an errno value instead of setting errno (pthread_*, get*_r).
@inline(__always)
func returningErrno(_ call: StaticString, _ body: () -> Int32) throws {
    while true {
        let code = body()
        if code == 0 { return }
        if code == EINTR { continue }
        throw SystemError(call: "\(call)", errno: code)
    }
}

/// Failures about a path that CofferSystem refuses to use (each names the path; paths are not secret).
public enum PathError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path (or the named component) is a symbolic link; Coffer never follows one for its own files.
    case symlink(path: String)
    /// The parent directory does not exist.
    case missingDirectory(path: String)
    /// Expected a directory.
    case notADirectory(path: String)
    /// Expected a regular file.
    case notARegularFile(path: String)
    /// Something other than a socket sits where a socket is to be created; Coffer does not delete it.
    case notASocket(path: String)
    /// A directory is owned by another user, or writable by group/others beyond the requested mode.
    case notPrivate(path: String, owner: UInt32, mode: UInt32)
    /// The path does not fit in `sockaddr_un.sun_path` (or is empty).
    case invalidSocketPath(path: String)
    /// A file is larger than the caller allows.
    case tooLarge(path: String, size: Int, limit: Int)
    /// A file's size is not the exact size the caller needs.
    case sizeMismatch(path: String, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .symlink(let path): return "\(path): is a symbolic link (refused)"
        case .missingDirectory(let path): return "\(path): directory does not exist"
        case .notADirectory(let path): return "\(path): not a directory"
        case .notARegularFile(let path): return "\(path): not a regular file"
        case .notASocket(let path): return "\(path): exists and is not a socket (refusing to replace it)"
        case .notPrivate(let path, let owner, let mode):
            return "\(path): owned by uid \(owner) with mode \(octal(mode)); must be owned by this user and "
                + "not writable by group or others"
        case .invalidSocketPath(let path): return "\(path): not a usable socket path (empty or too long)"
        case .tooLarge(let path, let size, let limit): return "\(path): \(size) bytes exceeds the limit of \(limit)"
        case .sizeMismatch(let path, let expected, let actual):
            return "\(path): expected exactly \(expected) bytes, found \(actual)"
        }
    }
}

/// Failures of sockets that a caller handles differently from a generic ``SystemError``.
public enum SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A live listener already answers on this path (another daemon is running).
    case addressInUse(path: String)
    /// `accept4`/`socket` ran out of descriptors or kernel memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): back off.
    case descriptorsExhausted(SystemError)
    /// The descriptor handed over is not an AF_UNIX SOCK_STREAM socket in the listening state.
    case notAListeningUnixSocket(fd: Int32)
    /// Client side: no socket at the path (ENOENT), i.e. the daemon is not running or the path is wrong.
    case noSuchSocket(path: String)
    /// Client side: a socket file exists but nothing listens (ECONNREFUSED); a stale file from a stopped daemon.
    case connectionRefused(path: String)
    /// Client side: the socket or its directory is not accessible to this user (EACCES, EPERM).
    case permissionDenied(path: String)
    /// A blocking read or write hit the timeout set with `setReceiveTimeout`/`setSendTimeout`.
    case timedOut
    /// The peer closed the connection before the expected bytes arrived or could be sent.
    case closed
    /// `$NOTIFY_SOCKET` holds an address kind Coffer does not speak (only `/path` and `@abstract`).
    case unsupportedAddress(String)

    public var description: String {
        switch self {
        case .addressInUse(let path): return "\(path): already in use by a running process"
        case .descriptorsExhausted(let error): return "out of file descriptors: \(error)"
        case .notAListeningUnixSocket(let fd): return "fd \(fd) is not a listening AF_UNIX stream socket"
        case .noSuchSocket(let path): return "\(path): no such socket (is the daemon running?)"
        case .connectionRefused(let path): return "\(path): connection refused (the daemon is not running)"
        case .permissionDenied(let path): return "\(path): permission denied"
        case .timedOut: return "timed out"
        case .closed: return "connection closed by peer"
        case .unsupportedAddress(let address): return "unsupported socket address \(address)"
        }
    }
}

func octal(_ mode: UInt32) -> String {
    let digits = String(mode, radix: 8)
    return digits.count >= 4 ? digits : String(repeating: "0", count: 4 - digits.count) + digits
}

/// The bytes of a path as a C string, or a typed error when it contains NUL (which would silently truncate it).
func withPath<R>(_ path: String, _ body: (UnsafePointer<CChar>) throws -> R) throws -> R {
    guard !path.isEmpty, !path.utf8.contains(0) else { throw SystemError(call: "path", errno: EINVAL) }
    return try path.withCString(body)
}
