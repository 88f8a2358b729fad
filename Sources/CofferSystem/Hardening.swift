import CCofferSys
import Glibc

/// Process-wide protections the daemon applies at startup, before any secret is in memory (threat T22).
public enum Hardening {
    /// Makes the process non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`: no core dump, and `/proc/<pid>/mem`, `ptrace`
    /// and most of `/proc/<pid>/` become root-only even for the same uid) and sets `RLIMIT_CORE` to 0 (belt and braces:
    /// a later `setuid`/exec could restore dumpability).
    public static func disableCoreDumps() throws {
        _ = try retryingEINTR("prctl(PR_SET_DUMPABLE)") { coffer_set_dumpable(0) }
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = try retryingEINTR("setrlimit(RLIMIT_CORE)") { setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) }
    }

    /// Whether the process is dumpable (`prctl(PR_GET_DUMPABLE)` is not 0).
    public static func isDumpable() throws -> Bool {
        try retryingEINTR("prctl(PR_GET_DUMPABLE)") { coffer_get_dumpable() } != 0
    }

    /// The soft and hard `RLIMIT_CORE`.
    public static func coreDumpLimit() throws -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        _ = try retryingEINTR("getrlimit(RLIMIT_CORE)") { getrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// The setting that turns Swift's crash backtracer off. On by default on Linux, it prints every register and the
    /// memory each points to on a crash, to standard error (the journal): secret material could land in the logs.
    public static let noBacktraceSetting = "enable=no"

    /// Makes sure Swift's crash backtracer is off: the runtime reads `SWIFT_BACKTRACE` only at process start, so
    /// when it is not `enable=no` this sets it and re-executes the same binary (`/proc/self/exe`, same arguments,
    /// same pid: socket activation and `NOTIFY_SOCKET` are unaffected). Call first thing, before anything is opened
    /// or any secret is read. Returns only if the backtracer is already off or the re-exec failed (the reason).
    @discardableResult
    public static func disableCrashBacktracer() -> String? {
        if let current = getenv("SWIFT_BACKTRACE"), String(cString: current) == noBacktraceSetting { return nil }
        guard setenv("SWIFT_BACKTRACE", noBacktraceSetting, 1) == 0 else { return "setenv: errno \(errno)" }
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        let failure = "execv(/proc/self/exe): errno \(errno)"
        for pointer in argv { free(pointer) }
        return failure
    }

    /// Ignores SIGPIPE process-wide, so a write to a vanished peer returns EPIPE instead of killing the daemon
    /// (CofferSystem also sends with `MSG_NOSIGNAL`). An ignored signal stays ignored across `fork` and `exec`, so a
    /// child program that relies on SIGPIPE must restore the default itself.
    public static func ignoreSIGPIPE() throws {
        _ = try retryingEINTR("sigaction(SIGPIPE)") { coffer_ignore_sigpipe() }
    }
}
