#if canImport(Glibc)
    import Glibc
#endif

/// A pthread mutex with a condition variable: the one blocking primitive the daemon's own threads use (the store
/// writer, the server's loops). Swift's `Mutex` has no condition variable.
public final class ConditionLock: @unchecked Sendable {
    // @unchecked: the pthread objects are heap-allocated once, never moved, and only touched through pthread calls,
    // which are themselves thread-safe.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits for a signal; call with the lock held. Spurious wake-ups happen: re-check the predicate.
    public func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits at most `milliseconds`; returns false on timeout. Call with the lock held.
    public func wait(milliseconds: Int) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanos = Int(deadline.tv_nsec) + (milliseconds % 1_000) * 1_000_000
        deadline.tv_sec += milliseconds / 1_000 + nanos / 1_000_000_000
        deadline.tv_nsec = nanos % 1_000_000_000
        return pthread_cond_timedwait(condition, mutex, &deadline) == 0
    }

    public func signal() { pthread_cond_signal(condition) }
    public func broadcast() { pthread_cond_broadcast(condition) }
}

/// A value delivered once from another thread, waited for by blocking. Used where a caller on its own thread
/// (tests, admin commands, start-up) needs a write's result synchronously.
public final class OneShot<T: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is only read and written with `lock` held.
    private let lock = ConditionLock()
    private var value: T?

    public init() {}

    public func fulfill(_ newValue: T) {
        lock.withLock {
            value = newValue
            lock.broadcast()
        }
    }

    public func wait() -> T {
        lock.lock()
        defer { lock.unlock() }
        while true {
            if let value { return value }
            lock.wait()
        }
    }
}

/// A named pthread running `body`, joinable. Stack size defaults to 512 KiB (Swift frames are large in debug).
public final class OSThread: @unchecked Sendable {
    // @unchecked: `handle` is written once before the thread can be joined and read only by `join`.
    private var handle = pthread_t()

    private final class Box {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts the thread; throws the `pthread_create` error code (resource exhaustion) as ``ThreadStartError``.
    public init(name: String, stackSize: Int = 512 * 1_024, _ body: @escaping @Sendable () -> Void) throws {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, stackSize)
        let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
        let rc = pthread_create(
            &handle, &attributes,
            { raw in
                guard let raw else { return nil }
                let box = Unmanaged<Box>.fromOpaque(raw).takeRetainedValue()
                box.body()
                return nil
            }, box)
        pthread_attr_destroy(&attributes)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            throw ThreadStartError(code: rc, name: name)
        }
    }

    public func join() { pthread_join(handle, nil) }
}

public struct ThreadStartError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var name: String
    public var description: String { "could not start thread \(name): error \(code)" }
}
