import CofferCore

/// A value guarded by a glibc mutex (CofferCore's ``ConditionLock``): the client's lock.
///
/// Why not `Synchronization.Mutex`: measured with 16 tasks pipelining on one connection, its Linux slow path spun for
/// 54% of the process's CPU time (the I/O thread and the senders contend in short bursts), capping throughput at
/// ~9k requests/s against a server that answers 80k/s; a glibc mutex parks the waiter at once. And ThreadSanitizer
/// cannot see `Mutex` on Linux (a correct `Mutex`-guarded counter draws reports), while it understands pthreads, so the
/// client stays checkable with `--sanitize=thread`.
final class Locked<State: ~Copyable & Sendable>: @unchecked Sendable {
    // @unchecked: `state` is read and written only inside `withLock`, with `lock` held; `State` is Sendable, so
    // nothing non-Sendable can enter or leave through it.
    private var state: State
    private let lock = ConditionLock()

    init(_ state: consuming State) { self.state = state }

    func withLock<Result, E: Error>(_ body: (inout State) throws(E) -> Result) throws(E) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }
}
