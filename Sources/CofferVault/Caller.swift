import CofferCore

/// Who is asking, as the kernel attested it at connect time (never as the client claims).
///
/// Built by the server from `SO_PEERCRED`, `SO_PEERGROUPS` and the pidfd (unit and executable). Names are resolved
/// once per connection.
public struct Caller: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups pinned at connect (`SO_PEERGROUPS`).
    public var groups: [UInt32]
    public var pid: Int32
    public var userName: String?
    public var groupNames: [String]
    /// The systemd unit the caller runs in, read from its cgroup through the pidfd (nil outside a unit or unknown).
    public var systemdUnit: String?
    public var executablePath: String?

    public init(
        uid: UInt32, gid: UInt32, groups: [UInt32] = [], pid: Int32 = 0, userName: String? = nil,
        groupNames: [String] = [], systemdUnit: String? = nil, executablePath: String? = nil
    ) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.pid = pid
        self.userName = userName
        self.groupNames = groupNames
        self.systemdUnit = systemdUnit
        self.executablePath = executablePath
    }

    /// The vault's own process acting on its own behalf (start-up tasks, purge, tests of the engine alone).
    public static let system = Caller(uid: 0, gid: 0, userName: "root")
}
