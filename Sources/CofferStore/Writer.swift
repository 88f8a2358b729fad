import CofferCore
import Synchronization

/// Counts the writer's transactions. Advanced after every batch, before any of its completions run (so before a
/// write is acknowledged): a reader that loads the count, then queries, may keep what it read for as long as the
/// count has not moved — nothing was committed since.
public final class WriteGeneration: Sendable {
    private let value = Atomic<UInt64>(0)

    public init() {}

    public var current: UInt64 { value.load(ordering: .acquiring) }

    func advance() { value.add(1, ordering: .releasing) }
}

/// The single writer: one connection, one thread, group commit.
///
/// Callers submit jobs; the writer thread takes every queued job (up to `maxBatch`), runs each inside its own
/// SAVEPOINT of one `BEGIN IMMEDIATE` transaction, COMMITs once (one fsync for the batch), and only then calls the
/// jobs' completions. A job that throws is rolled back to its savepoint alone; the others still commit. If COMMIT
/// fails, every job of the batch fails and the connection is replaced (a failed fsync is never retried on the same
/// handle, see the ATC'20 fsync study cited in docs/RELIABILITY.md).
public final class StoreWriter: Sendable {
    private let state: WriterState
    private let thread: OSThread
    public let generation = WriteGeneration()

    init(
        connection: SQLiteConnection, options: StoreOptions,
        reopen: @escaping @Sendable () throws -> SQLiteConnection
    ) throws {
        let state = WriterState(maxBatch: options.maxBatch)
        self.state = state
        let handoff = ConnectionHandoff(connection)
        let generation = self.generation
        thread = try OSThread(name: "coffer-writer") {
            // No local holds the first connection: after a storage failure the loop replaces it, and it must close.
            guard var loop = WriterLoop(state: state, generation: generation, handoff: handoff, reopen: reopen) else {
                return
            }
            loop.run()
        }
    }

    /// Queues `body` to run in the writer's transaction; `completion` runs on the writer thread after the batch
    /// committed (success) or failed. Never call blocking work from `completion`.
    public func submit<T: Sendable>(
        _ body: @escaping @Sendable (WriteContext) throws -> T,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) {
        let job = Job(body: body, completion: completion)
        if !state.enqueue(job) { completion(.failure(StoreError.closed)) }
    }

    /// Runs `body` in the writer's transaction and waits until it has committed.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (WriteContext) throws -> T) throws -> T {
        let result = OneShot<Result<T, any Error>>()
        submit(body) { result.fulfill($0) }
        return try result.wait().get()
    }

    /// Waits until every job queued before this call has committed (jobs run in order).
    public func flush() {
        _ = try? perform { _ in () }
    }

    /// Jobs waiting for the writer (a gauge for metrics and back-pressure).
    public var queueDepth: Int { state.depth }

    /// How long the writer has been busy with its current batch (0 when idle): a stuck fsync shows here, and the
    /// daemon's watchdog stops pinging systemd when it exceeds the watchdog interval.
    public var busyMilliseconds: Int64 { state.busyMilliseconds }

    /// Drains the queue, checkpoints and closes the connection. Idempotent.
    public func shutdown() {
        if state.close() { thread.join() }
    }
}

/// Moves the connection (not Sendable) to the writer thread exactly once.
private final class ConnectionHandoff: @unchecked Sendable {
    // @unchecked: written in init, taken once by the writer thread under the lock; never used by two threads.
    private let lock = ConditionLock()
    private var connection: SQLiteConnection?
    init(_ connection: SQLiteConnection) { self.connection = connection }
    func take() -> SQLiteConnection? {
        lock.withLock {
            defer { connection = nil }
            return connection
        }
    }
}

protocol AnyJob: AnyObject, Sendable {
    /// Runs the job; false if it threw (its savepoint is then rolled back).
    func execute(_ context: WriteContext) -> Bool
    func complete(commitError: (any Error)?)
}

private final class Job<T: Sendable>: AnyJob, @unchecked Sendable {
    // @unchecked: `result` is written by `execute` and read by `complete`, both on the writer thread, in that order.
    let body: @Sendable (WriteContext) throws -> T
    let completion: @Sendable (Result<T, any Error>) -> Void
    var result: Result<T, any Error>?

    init(
        body: @escaping @Sendable (WriteContext) throws -> T,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) {
        self.body = body
        self.completion = completion
    }

    func execute(_ context: WriteContext) -> Bool {
        let outcome = Result { try body(context) }
        result = outcome
        if case .success = outcome { return true }
        return false
    }

    func complete(commitError: (any Error)?) {
        switch (result, commitError) {
        case (.success, .some(let error)), (.none, .some(let error)): completion(.failure(error))
        case (.some(let r), _): completion(r)
        case (.none, .none): completion(.failure(StoreError.closed))
        }
    }
}

final class WriterState: @unchecked Sendable {
    // @unchecked: every field is read and written with `lock` held.
    let lock = ConditionLock()
    var queue: [any AnyJob] = []
    var closed = false
    var finished = false
    /// Monotonic time the current batch started (nil while idle).
    var batchStarted: Int64?
    let maxBatch: Int

    init(maxBatch: Int) { self.maxBatch = max(1, maxBatch) }

    func enqueue(_ job: any AnyJob) -> Bool {
        lock.withLock {
            guard !closed else { return false }
            queue.append(job)
            if queue.count == 1 { lock.signal() }
            return true
        }
    }

    var depth: Int { lock.withLock { queue.count } }

    var busyMilliseconds: Int64 {
        lock.withLock { batchStarted.map { Monotonic.milliseconds() - $0 } ?? 0 }
    }

    func batchFinished() { lock.withLock { batchStarted = nil } }

    /// Next batch, or nil when closed and drained.
    func next() -> [any AnyJob]? {
        lock.lock()
        defer { lock.unlock() }
        while queue.isEmpty && !closed { lock.wait() }
        if queue.isEmpty { return nil }
        let count = min(queue.count, maxBatch)
        let batch = Array(queue.prefix(count))
        queue.removeFirst(count)
        batchStarted = Monotonic.milliseconds()
        return batch
    }

    /// Returns true for the first caller (who must join the thread).
    func close() -> Bool {
        lock.withLock {
            guard !closed else { return false }
            closed = true
            lock.broadcast()
            return true
        }
    }
}

private struct WriterLoop {
    let state: WriterState
    let generation: WriteGeneration
    var connection: SQLiteConnection
    let reopen: @Sendable () throws -> SQLiteConnection

    init?(
        state: WriterState, generation: WriteGeneration, handoff: ConnectionHandoff,
        reopen: @escaping @Sendable () throws -> SQLiteConnection
    ) {
        guard let connection = handoff.take() else { return nil }
        self.state = state
        self.generation = generation
        self.connection = connection
        self.reopen = reopen
    }

    mutating func run() {
        while let batch = state.next() {
            let commitError = runBatch(batch)
            generation.advance()  // committed or not: readers' cached views are stale either way after a batch
            state.batchFinished()
            for job in batch { job.complete(commitError: commitError) }
            if let error = commitError as? SQLiteError, error.isStorageFailure {
                recover()
            }
        }
        try? connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Runs the batch in one transaction; returns the error that failed the whole batch, if any.
    func runBatch(_ batch: [any AnyJob]) -> (any Error)? {
        do {
            try connection.run(cached: Q.begin.rawValue, "BEGIN IMMEDIATE")
        } catch {
            return error
        }
        let context = WriteContext(connection: connection)
        for job in batch {
            do {
                try connection.run(cached: Q.savepoint.rawValue, "SAVEPOINT job")
            } catch {
                rollback()
                return error
            }
            if !job.execute(context) {
                do {
                    try connection.run(cached: Q.rollbackToSavepoint.rawValue, "ROLLBACK TO job")
                } catch {
                    rollback()
                    return error
                }
            }
            do {
                try connection.run(cached: Q.release.rawValue, "RELEASE job")
            } catch {
                rollback()
                return error
            }
        }
        do {
            try connection.run(cached: Q.commit.rawValue, "COMMIT")
            return nil
        } catch {
            rollback()
            return error
        }
    }

    func rollback() {
        if connection.isInTransaction { try? connection.execute("ROLLBACK") }
    }

    /// After a storage failure: drop the connection (never retry a failed fsync on the same handle) and open anew.
    mutating func recover() {
        if let fresh = try? reopen() {
            connection = fresh
        }
    }
}
