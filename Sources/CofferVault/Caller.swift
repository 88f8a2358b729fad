import CofferCore
import CofferSystem
import Synchronization

/// Who is asking, as the kernel attested it at connect time (never as the client claims).
///
/// Built by the server from `SO_PEERCRED`, `SO_PEERGROUPS` and the pidfd. Names are resolved once per connection.
/// The systemd unit and the executable are read lazily through ``process`` (only when a policy or a role needs
/// them), race-free through the pidfd.
public struct Caller: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups pinned at connect (`SO_PEERGROUPS`).
    public var groups: [UInt32]
    public var pid: Int32
    public var userName: String?
    /// Names of the primary and supplementary groups.
    public var groupNames: [String]
    /// The peer process, for lazy and race-free lookups of its unit and executable.
    public var process: PeerProcess?
    /// Collects the decision and the resolved resource of the current request for the audit log.
    public var trace: AuditTrace?
    /// Set when systemd asks on behalf of this unit (the LoadCredential= provider): the request is decided for the
    /// unit's role only, and denied if the unit has none.
    public var actingForUnit: String?
    private var fixedUnit: String?
    private var fixedExecutable: String?

    public init(
        uid: UInt32, gid: UInt32, groups: [UInt32] = [], pid: Int32 = 0, userName: String? = nil,
        groupNames: [String] = [], systemdUnit: String? = nil, executablePath: String? = nil,
        process: PeerProcess? = nil
    ) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.pid = pid
        self.userName = userName
        self.groupNames = groupNames
        self.fixedUnit = systemdUnit
        self.fixedExecutable = executablePath
        self.process = process
    }

    /// The systemd unit the caller runs in (nil outside a unit, or if it could not be established).
    public var systemdUnit: String? { fixedUnit ?? process?.facts?.systemdUnit }
    /// `/proc/<pid>/exe` of the caller, read through the pidfd.
    public var executablePath: String? { fixedExecutable ?? process?.facts?.executablePath }

    public static func == (a: Caller, b: Caller) -> Bool {
        a.uid == b.uid && a.gid == b.gid && a.groups == b.groups && a.pid == b.pid && a.userName == b.userName
            && a.groupNames == b.groupNames && a.fixedUnit == b.fixedUnit && a.fixedExecutable == b.fixedExecutable
            && a.actingForUnit == b.actingForUnit
    }

    /// The vault's own process acting on its own behalf (start-up tasks, purge, tests of the engine alone).
    public static let system = Caller(uid: 0, gid: 0, userName: "root")
}

/// The peer process of a connection: its pid and pidfd, and facts read from `/proc` at most once, on first use.
///
/// `ProcessFacts.read` re-checks through the pidfd after reading, so a pid reused by another process is never
/// misattributed: if the check fails, the facts are nil (fail closed: no unit, no executable).
public final class PeerProcess: Sendable {
    public let pid: Int32
    let pidfd: FileDescriptor?
    private let cached = Mutex<ProcessFacts??>(nil)

    public init(pid: Int32, pidfd: FileDescriptor?) {
        self.pid = pid
        self.pidfd = pidfd
    }

    /// The facts if they were already read (never triggers a read).
    public var knownFacts: ProcessFacts?? { cached.withLock { $0 } }

    public var facts: ProcessFacts? {
        if let known = cached.withLock({ $0 }) { return known }
        let read = ProcessFacts.read(pid: pid, pidfd: pidfd)
        cached.withLock { $0 = .some(read) }
        return read
    }
}
