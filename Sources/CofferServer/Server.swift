import CofferCore
import CofferProtocol
import CofferSystem
import CofferVault
import Synchronization

/// State shared by the workers of one server.
final class ServerCore: Sendable {
    struct ListenerEntry: Sendable {
        var listener: UnixListener
        var service: any RequestService
    }

    let vault: Vault
    let listeners: [ListenerEntry]
    let configuration: ServerConfiguration
    let limiter: ConnectionLimiter
    let identity = IdentityResolver()
    let metrics: ServerMetrics
    let logger: Logger
    /// The audit log every request is recorded in (nil: no audit, for tests of the loop alone).
    let audit: AuditLog?
    private let stopping = Atomic<Bool>(false)
    private let running = Mutex<(started: Int, stopped: Int, failed: Int)>((0, 0, 0))
    private let stoppedSignal = ConditionLock()
    /// Each worker's last loop iteration (monotonic ms), for the watchdog.
    let heartbeats: [Heartbeat]
    /// The systemd watchdog interval in ms (nil: no watchdog), and when it was last pinged.
    let watchdogMilliseconds: Int64?
    let lastWatchdogPing = Atomic<Int64>(0)
    private let watchdogStalled = Atomic<Bool>(false)
    /// How long shutdown waits for in-flight requests before closing connections anyway.
    let shutdownGraceMilliseconds: Int64 = 10_000

    init(
        vault: Vault, listeners: [ListenerEntry], configuration: ServerConfiguration, metrics: ServerMetrics,
        logger: Logger, audit: AuditLog?
    ) {
        self.vault = vault
        self.listeners = listeners
        self.configuration = configuration
        self.limiter = ConnectionLimiter(
            maxTotal: configuration.maxConnections, maxPerUID: configuration.maxConnectionsPerUID)
        self.metrics = metrics
        self.logger = logger
        self.audit = audit
        self.heartbeats = (0..<configuration.workers).map { _ in Heartbeat() }
        self.watchdogMilliseconds = SdNotify.watchdogInterval().map { Int64($0 / 1_000) }
    }

    /// Called by worker 0 on every tick: pings the systemd watchdog every half interval, but only if every worker
    /// went round its loop recently and the store's writer is not stuck — a wedged server stops pinging and systemd
    /// restarts it.
    func watchdogTick(now: Int64) {
        guard let interval = watchdogMilliseconds else { return }
        guard now - lastWatchdogPing.load(ordering: .relaxed) >= interval / 2 else { return }
        let stale = heartbeats.contains { now - $0.value.load(ordering: .relaxed) > interval / 2 }
        guard !stale, vault.store.writer.busyMilliseconds < interval / 2 else {
            if !watchdogStalled.exchange(true, ordering: .relaxed) {
                log(.warning, "watchdog: a worker or the writer is not making progress; not pinging")
            }
            return
        }
        if watchdogStalled.exchange(false, ordering: .relaxed) { log(.notice, "watchdog: progress again; pinging") }
        lastWatchdogPing.store(now, ordering: .relaxed)
        _ = try? SdNotify.send("WATCHDOG=1")
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    func requestStop() { stopping.store(true, ordering: .releasing) }

    func log(_ level: LogLevel, _ message: String) { logger.log(level, message) }

    func workerFailed() {
        running.withLock { $0.failed += 1 }
        workerStopped()
    }

    func workerStopped() {
        stoppedSignal.withLock {
            running.withLock { $0.stopped += 1 }
            stoppedSignal.broadcast()
        }
    }

    func waitForWorkers(_ count: Int) {
        stoppedSignal.lock()
        defer { stoppedSignal.unlock() }
        while running.withLock({ $0.stopped }) < count { stoppedSignal.wait() }
    }
}

/// The request server: worker threads over one or more listening sockets.
public final class Server: Sendable {
    let core: ServerCore
    private let workers: [Worker]
    private let threads: Mutex<[OSThread]>

    public var metrics: ServerMetrics { core.metrics }

    /// Builds the workers; call ``start()`` to run them.
    public init(
        vault: Vault, listeners: [(UnixListener, any RequestService)], configuration: ServerConfiguration,
        metrics: ServerMetrics = ServerMetrics(), logger: Logger, audit: AuditLog?
    ) throws {
        let core = ServerCore(
            vault: vault, listeners: listeners.map { ServerCore.ListenerEntry(listener: $0.0, service: $0.1) },
            configuration: configuration, metrics: metrics, logger: logger, audit: audit)
        self.core = core
        workers = try (0..<configuration.workers).map { try Worker(index: $0, server: core) }
        threads = Mutex([])
    }

    /// Starts the worker threads.
    public func start() throws {
        for worker in workers {
            let thread = try OSThread(name: "coffer-worker-\(worker.index)", stackSize: 1 << 20) { worker.run() }
            threads.withLock { $0.append(thread) }
        }
    }

    /// Graceful stop: stop accepting, let in-flight requests finish (bounded), close connections, join workers.
    /// The caller closes the vault afterwards.
    public func stop() {
        core.requestStop()
        for worker in workers { try? worker.wakeup.signal() }
        let joined = threads.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for thread in joined { thread.join() }
    }

    /// Wakes every worker (used by the watchdog and by tests to prove liveness).
    public var openConnections: Int { core.limiter.total }
}

/// One worker's last loop time.
final class Heartbeat: Sendable {
    let value = Atomic<Int64>(Monotonic.milliseconds())
}
