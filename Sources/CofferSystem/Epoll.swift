import CCofferSys
import Glibc

/// An epoll instance (close-on-exec). Registration may happen from any thread; ``wait(into:timeoutMilliseconds:)``
/// is meant for the one loop thread that owns the instance.
public final class Epoll: Sendable {
    /// Readiness and registration flags (the `EPOLL*` bits).
    public struct Events: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// EPOLLIN: readable (or a pending connection on a listener).
        public static let readable = Events(rawValue: 0x001)
        /// EPOLLOUT: writable.
        public static let writable = Events(rawValue: 0x004)
        /// EPOLLERR: error condition (always reported).
        public static let error = Events(rawValue: 0x008)
        /// EPOLLHUP: hang-up (always reported).
        public static let hangup = Events(rawValue: 0x010)
        /// EPOLLRDHUP: the peer shut down its writing half.
        public static let readHangup = Events(rawValue: 0x2000)
        /// EPOLLONESHOT: disarm after one event until ``Epoll/modify(_:events:userData:)``.
        public static let oneShot = Events(rawValue: 1 << 30)
        /// EPOLLET: edge-triggered (level-triggered without it).
        public static let edgeTriggered = Events(rawValue: 1 << 31)
    }

    /// One ready descriptor: the `userData` it was registered with and what happened.
    public struct Event: Sendable, Equatable {
        public var userData: UInt64
        public var events: Events

        public init(userData: UInt64, events: Events) {
            self.userData = userData
            self.events = events
        }
    }

    public let descriptor: FileDescriptor
    /// How many events one ``wait(into:timeoutMilliseconds:)`` returns at most.
    public let maxEvents: Int

    public init(maxEvents: Int = 256) throws {
        self.maxEvents = min(max(maxEvents, 1), 1_024)
        descriptor = FileDescriptor(owning: try retryingEINTR("epoll_create1") { coffer_epoll_create() })
    }

    /// Registers `fd`. `userData` comes back in each ``Event`` (e.g. a connection id; fds are reused, ids need not be).
    public func add(_ fd: Int32, events: Events, userData: UInt64) throws {
        try control(1, fd, events, userData, "epoll_ctl(ADD)")
    }

    /// Changes the events or user data of a registered `fd` (re-arms a ``Events/oneShot`` registration).
    public func modify(_ fd: Int32, events: Events, userData: UInt64) throws {
        try control(3, fd, events, userData, "epoll_ctl(MOD)")
    }

    /// Unregisters `fd` (closing an fd also does, once no duplicate of it remains).
    public func remove(_ fd: Int32) throws {
        try control(2, fd, [], 0, "epoll_ctl(DEL)")
    }

    private func control(_ op: Int32, _ fd: Int32, _ events: Events, _ data: UInt64, _ call: StaticString) throws {
        let epfd = descriptor.rawValue
        _ = try retryingEINTR(call) { coffer_epoll_ctl(epfd, op, fd, events.rawValue, data) }
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever, 0: poll) and replaces the contents of `events` with what is
    /// ready. Returns the count (0 on timeout or when interrupted by a signal). Reuses `events`' storage: no
    /// allocation once its capacity has reached ``maxEvents``.
    @discardableResult
    public func wait(into events: inout [Event], timeoutMilliseconds: Int32) throws -> Int {
        events.removeAll(keepingCapacity: true)
        let epfd = descriptor.rawValue
        let capacity = maxEvents
        return try withUnsafeTemporaryAllocation(of: coffer_epoll_result.self, capacity: capacity) { buffer in
            let n = coffer_epoll_wait(epfd, buffer.baseAddress, Int32(capacity), timeoutMilliseconds)
            if n < 0 {
                let code = Glibc.errno
                if code == EINTR { return 0 }
                throw SystemError(call: "epoll_wait", errno: code)
            }
            for i in 0..<Int(n) {
                events.append(Event(userData: buffer[i].data, events: Events(rawValue: buffer[i].events)))
            }
            return Int(n)
        }
    }
}

/// An eventfd (non-blocking, close-on-exec) for waking an ``Epoll`` loop from another thread: register
/// ``descriptor`` for ``Epoll/Events/readable``, call ``signal()`` from anywhere, ``drain()`` in the loop.
public final class EventFD: Sendable {
    public let descriptor: FileDescriptor

    public init() throws {
        descriptor = FileDescriptor(owning: try retryingEINTR("eventfd") { coffer_eventfd() })
    }

    /// Adds 1 to the counter, making the descriptor readable. Never blocks (the counter saturating at 2^64-2 is not
    /// reachable in practice; EAGAIN there would only mean "already signalled").
    public func signal() throws {
        var one: UInt64 = 1
        let fd = descriptor.rawValue
        do {
            _ = try retryingEINTR("write(eventfd)") { Glibc.write(fd, &one, 8) }
        } catch let error as SystemError where error.errno == EAGAIN {
            return
        }
    }

    /// Reads and resets the counter: the number of ``signal()`` calls since the last drain, or 0 if none.
    @discardableResult
    public func drain() throws -> UInt64 {
        var value: UInt64 = 0
        let fd = descriptor.rawValue
        do {
            _ = try retryingEINTR("read(eventfd)") { Glibc.read(fd, &value, 8) }
        } catch let error as SystemError where error.errno == EAGAIN {
            return 0
        }
        return value
    }
}
