import CofferCore

/// Tunables of the server loop; defaults come from ``CofferCore/Limits`` (each documented there with its reason).
public struct ServerConfiguration: Sendable {
    /// Threads that accept, read, decode, run reads and write replies. Defaults to the number of CPUs.
    public var workers: Int
    public var maxConnections = Limits.maxConnections
    public var maxConnectionsPerUID = Limits.maxConnectionsPerUID
    public var frameDeadlineMilliseconds = Limits.frameDeadlineMilliseconds
    public var idleTimeoutMilliseconds = Limits.idleTimeoutMilliseconds
    public var maxInFlightPerConnection = Limits.maxInFlightPerConnection
    /// How long accepting pauses after EMFILE/ENFILE (instead of spinning on a listener that stays readable).
    public var acceptBackoffMilliseconds = 1_000
    /// Name and version answered to Hello (`cofferd 0.1.0`).
    public var serverName = "cofferd \(CofferVersion.current)"

    public init(workers: Int? = nil) {
        self.workers = max(1, workers ?? ServerConfiguration.cpuCount())
    }

    static func cpuCount() -> Int {
        #if canImport(Glibc)
            return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
            return 2
        #endif
    }
}

/// The daemon's version, shown by Hello, `--version` and the admin status.
public enum CofferVersion {
    public static let current = "0.1.0"
}

#if canImport(Glibc)
    import Glibc
#endif
