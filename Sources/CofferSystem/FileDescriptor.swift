import CCofferSys
import Glibc
import Synchronization

/// The single owner of one file descriptor: `deinit` closes it unless ownership was given up with ``consume()``.
///
/// Every descriptor CofferSystem creates is close-on-exec (`O_CLOEXEC`, `SOCK_CLOEXEC`, `EPOLL_CLOEXEC`, ...), so no
/// secret-bearing fd leaks into a child process. The number is kept in an atomic so that the owner can be shared
/// across threads (`Sendable`); as with any fd, the caller must not use ``rawValue`` after another thread called
/// ``close()``: the kernel may already have handed the number to a new file.
public final class FileDescriptor: Sendable, CustomStringConvertible {
    private let storage: Atomic<Int32>

    /// Takes ownership of `fd` (it will be closed when this object goes away).
    public init(owning fd: Int32) {
        storage = Atomic(fd)
    }

    /// The descriptor number, or -1 after ``close()`` or ``consume()``.
    public var rawValue: Int32 { storage.load(ordering: .acquiring) }

    public var isOpen: Bool { rawValue >= 0 }

    /// Gives up ownership and returns the number; this object will not close it.
    public func consume() -> Int32 { storage.exchange(-1, ordering: .acquiringAndReleasing) }

    /// Closes now (idempotent). Errors are not reported: after `close` fails on Linux the fd is released anyway
    /// (EINTR included, so it is never retried), and data that must be durable is `fsync`ed before.
    public func close() {
        let fd = consume()
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    deinit { close() }

    public var description: String { "fd \(rawValue)" }
}

/// The outcome of one non-blocking read or write.
public enum IOResult: Sendable, Equatable {
    /// This many bytes were transferred (a read of 0 bytes is reported as ``closed``).
    case bytes(Int)
    /// EAGAIN: nothing now; wait for readiness.
    case wouldBlock
    /// End of file, or the peer is gone (EPIPE, ECONNRESET).
    case closed
}

/// Which half of a socket to shut down.
public enum ShutdownDirection: Sendable {
    case read, write, both
}

extension FileDescriptor {
    /// Makes the descriptor non-blocking (or blocking again).
    public func setNonBlocking(_ enabled: Bool = true) throws {
        let fd = rawValue
        _ = try retryingEINTR("fcntl(O_NONBLOCK)") { coffer_set_nonblocking(fd, enabled ? 1 : 0) }
    }

    /// Whether `O_NONBLOCK` is set.
    public func isNonBlocking() throws -> Bool {
        let fd = rawValue
        return try retryingEINTR("fcntl(F_GETFL)") { coffer_get_nonblocking(fd) } == 1
    }

    /// Sets `FD_CLOEXEC` (for inherited descriptors; everything CofferSystem opens has it already).
    public func setCloseOnExec() throws {
        let fd = rawValue
        _ = try retryingEINTR("fcntl(FD_CLOEXEC)") { coffer_set_cloexec(fd) }
    }

    /// Whether `FD_CLOEXEC` is set.
    public func isCloseOnExec() throws -> Bool {
        let fd = rawValue
        return try retryingEINTR("fcntl(F_GETFD)") { coffer_get_cloexec(fd) } == 1
    }

    // MARK: Non-blocking I/O (event loop)

    /// One `read(2)`: bytes, ``IOResult/wouldBlock`` or ``IOResult/closed`` (EOF or ECONNRESET).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .bytes(0) }
        let fd = rawValue
        return try ioResult("read", reading: true) { Glibc.read(fd, base, buffer.count) }
    }

    /// One `write(2)`. For sockets prefer ``send(_:)``, which never raises SIGPIPE.
    public func write(_ bytes: UnsafeRawBufferPointer) throws -> IOResult {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return .bytes(0) }
        let fd = rawValue
        return try ioResult("write", reading: false) { Glibc.write(fd, base, bytes.count) }
    }

    /// One `send(2)` with `MSG_NOSIGNAL` (a vanished peer gives ``IOResult/closed``, not SIGPIPE).
    public func send(_ bytes: UnsafeRawBufferPointer) throws -> IOResult {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return .bytes(0) }
        let fd = rawValue
        return try ioResult("send", reading: false) { Glibc.send(fd, base, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    /// One gathering `writev(2)` of up to `IOV_MAX` (1,024) buffers; later buffers are left for the next call.
    public func writev(_ buffers: [UnsafeRawBufferPointer]) throws -> IOResult {
        let fd = rawValue
        return try withIOVecs(buffers) { vecs in
            guard vecs.count > 0, let base = vecs.baseAddress else { return .bytes(0) }
            return try ioResult("writev", reading: false) { Glibc.writev(fd, base, Int32(vecs.count)) }
        }
    }

    /// Gathering send: `sendmsg(2)` with `MSG_NOSIGNAL`, for sockets (no SIGPIPE).
    public func sendv(_ buffers: [UnsafeRawBufferPointer]) throws -> IOResult {
        let fd = rawValue
        return try withIOVecs(buffers) { vecs in
            guard vecs.count > 0, let base = vecs.baseAddress else { return .bytes(0) }
            var message = msghdr()
            message.msg_iov = base
            message.msg_iovlen = vecs.count
            return try ioResult("sendmsg", reading: false) { Glibc.sendmsg(fd, &message, Int32(MSG_NOSIGNAL)) }
        }
    }

    private func withIOVecs<R>(
        _ buffers: [UnsafeRawBufferPointer],
        _ body: (UnsafeMutableBufferPointer<iovec>) throws -> R
    ) rethrows -> R {
        let count = min(buffers.count, 1_024)
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: max(count, 1)) { vecs in
            var used = 0
            for buffer in buffers.prefix(count) where buffer.count > 0 {
                vecs[used] = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: buffer.baseAddress), iov_len: buffer.count)
                used += 1
            }
            return try body(UnsafeMutableBufferPointer(rebasing: vecs[0..<used]))
        }
    }

    // MARK: Blocking I/O (client side, files)

    /// Reads until `buffer` is full or end of file; returns the number of bytes read (less than `buffer.count` only
    /// at EOF or ECONNRESET). Retries EINTR. A receive timeout (``setReceiveTimeout(milliseconds:)``) gives
    /// ``SocketError/timedOut``. For blocking descriptors.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        let fd = rawValue
        var done = 0
        while done < buffer.count {
            let n = Glibc.read(fd, base + done, buffer.count - done)
            if n > 0 {
                done += n
                continue
            }
            if n == 0 { break }
            let code = Glibc.errno
            if code == EINTR { continue }
            if code == ECONNRESET { break }  // the peer is gone: no more data, like EOF
            if code == EAGAIN { throw SocketError.timedOut }
            throw SystemError(call: "read", errno: code)
        }
        return done
    }

    /// Writes all of `bytes`, retrying EINTR and partial writes. On a socket this uses `send(MSG_NOSIGNAL)`, so a
    /// vanished peer gives ``SocketError/closed`` instead of SIGPIPE; other descriptors use `write(2)`.
    public func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        let fd = rawValue
        var useSend = true
        var done = 0
        while done < bytes.count {
            let remaining = bytes.count - done
            let n =
                useSend
                ? Glibc.send(fd, base + done, remaining, Int32(MSG_NOSIGNAL)) : Glibc.write(fd, base + done, remaining)
            if n >= 0 {
                done += n
                continue
            }
            let code = Glibc.errno
            switch code {
            case EINTR: continue
            case ENOTSOCK where useSend: useSend = false
            case EAGAIN: throw SocketError.timedOut
            case EPIPE, ECONNRESET: throw SocketError.closed
            default: throw SystemError(call: useSend ? "send" : "write", errno: code)
            }
        }
    }

    /// ``writeFully(_:)-(UnsafeRawBufferPointer)`` for an array.
    public func writeFully(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeFully($0) }
    }

    /// `shutdown(2)`; ENOTCONN (the peer is already gone) is not an error.
    public func shutdown(_ direction: ShutdownDirection) throws {
        let how: Int32
        switch direction {
        case .read: how = Int32(SHUT_RD)
        case .write: how = Int32(SHUT_WR)
        case .both: how = Int32(SHUT_RDWR)
        }
        let fd = rawValue
        do {
            _ = try once("shutdown") { Glibc.shutdown(fd, how) }
        } catch let error as SystemError where error.errno == ENOTCONN {
            return
        }
    }

    /// `SO_RCVTIMEO`: blocking reads give ``SocketError/timedOut`` after this long (0 = wait forever).
    public func setReceiveTimeout(milliseconds: Int) throws {
        let fd = rawValue
        _ = try once("setsockopt(SO_RCVTIMEO)") { coffer_set_timeout(fd, 1, Int64(max(milliseconds, 0))) }
    }

    /// `SO_SNDTIMEO`: blocking writes give ``SocketError/timedOut`` after this long (0 = wait forever).
    public func setSendTimeout(milliseconds: Int) throws {
        let fd = rawValue
        _ = try once("setsockopt(SO_SNDTIMEO)") { coffer_set_timeout(fd, 0, Int64(max(milliseconds, 0))) }
    }
}

/// Runs one read/write call and maps its result; errno is read right after the call, here. EINTR is retried (an
/// edge-triggered loop must not mistake it for "nothing now").
@inline(__always)
private func ioResult(_ call: StaticString, reading: Bool, _ body: () -> Int) throws -> IOResult {
    while true {
        let result = body()
        if result > 0 { return .bytes(result) }
        if result == 0 { return reading ? .closed : .bytes(0) }
        let code = Glibc.errno
        switch code {
        case EINTR: continue
        case EAGAIN: return .wouldBlock
        case EPIPE, ECONNRESET: return .closed
        default: throw SystemError(call: "\(call)", errno: code)
        }
    }
}
