import CCofferSys
import Glibc

/// Signals delivered as readable events on a descriptor (`signalfd`), so the event loop handles SIGTERM, SIGINT
/// and SIGHUP like any other input, with no async-signal-safety constraints.
///
/// The signals must be blocked in **every** thread, or the kernel delivers them (default action: terminate) to a
/// thread that has them unblocked. A new thread inherits its creator's mask, so call ``block(_:)`` (or create the
/// `SignalFD`, which blocks them in the calling thread) in the main thread **before any other thread starts**,
/// including threads started by libraries. SIGPIPE is not handled here: ignore it process-wide with
/// ``Hardening/ignoreSIGPIPE()`` and send with `MSG_NOSIGNAL`.
public final class SignalFD: Sendable {
    /// A received signal and, for signals sent with `kill`, who sent it.
    public struct Delivery: Sendable, Equatable {
        public var signal: Int32
        public var senderPID: Int32
        public var senderUID: UInt32
    }

    public let descriptor: FileDescriptor
    public let signals: [Int32]

    /// Blocks `signals` in the calling thread and opens a non-blocking, close-on-exec signalfd for them.
    public init(signals: [Int32] = [SIGTERM, SIGINT, SIGHUP]) throws {
        try SignalFD.block(signals)
        self.signals = signals
        let fd = try signals.withUnsafeBufferPointer { list in
            try retryingEINTR("signalfd") { coffer_signalfd(list.baseAddress, Int32(list.count)) }
        }
        descriptor = FileDescriptor(owning: fd)
    }

    /// Blocks `signals` in the calling thread (`pthread_sigmask`); threads created afterwards inherit the mask.
    public static func block(_ signals: [Int32]) throws {
        try signals.withUnsafeBufferPointer { list in
            try returningErrno("pthread_sigmask") { coffer_sigmask(list.baseAddress, Int32(list.count), 0) }
        }
    }

    /// Unblocks `signals` in the calling thread.
    public static func unblock(_ signals: [Int32]) throws {
        try signals.withUnsafeBufferPointer { list in
            try returningErrno("pthread_sigmask") { coffer_sigmask(list.baseAddress, Int32(list.count), 1) }
        }
    }

    /// The next pending signal, or nil if none (the descriptor is non-blocking).
    public func next() throws -> Delivery? {
        var signal: UInt32 = 0
        var pid: Int32 = 0
        var uid: UInt32 = 0
        let fd = descriptor.rawValue
        let result = try retryingEINTR("read(signalfd)") { coffer_signalfd_read(fd, &signal, &pid, &uid) }
        guard result == 1 else { return nil }
        return Delivery(signal: Int32(bitPattern: signal), senderPID: pid, senderUID: uid)
    }
}
