import CCofferSys
import Glibc

/// Who is on the other end of an accepted AF_UNIX connection, as the kernel recorded it at `connect()`.
///
/// Read once, right after `accept`, and never from anything the client says (STYLE: "Identity at accept"). The
/// values are those of the process that called `connect`: a descriptor passed on later (SCM_RIGHTS, inheritance)
/// keeps the connector's identity (threat T11).
public struct PeerCredentials: Sendable {
    /// `SO_PEERCRED.pid`. On its own a pid can be reused after the peer exits; use ``pidfd`` to pin the process.
    public var pid: Int32
    /// Effective uid and gid at connect time.
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups at connect time (`SO_PEERGROUPS`); empty if the kernel does not report them.
    public var groups: [UInt32]
    /// A pidfd for the peer process (`SO_PEERPIDFD`, Linux 6.5+), or nil on older kernels. It refers to that exact
    /// process even after its pid is reused; ``ProcessFacts/read(pid:pidfd:)`` uses it to read `/proc` race-free.
    public var pidfd: FileDescriptor?

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32], pidfd: FileDescriptor?) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.pidfd = pidfd
    }

    /// Reads `SO_PEERCRED`, `SO_PEERGROUPS` and `SO_PEERPIDFD` of a connected AF_UNIX socket.
    public static func read(from socket: FileDescriptor) throws -> PeerCredentials {
        let fd = socket.rawValue
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        _ = try retryingEINTR("getsockopt(SO_PEERCRED)") { coffer_peer_cred(fd, &pid, &uid, &gid) }
        return PeerCredentials(pid: pid, uid: uid, gid: gid, groups: try groups(fd), pidfd: try pidfd(fd))
    }

    private static func groups(_ fd: Int32) throws -> [UInt32] {
        var capacity = 32
        while true {
            var groups = [UInt32](repeating: 0, count: capacity)
            var count = UInt32(capacity)
            let result = groups.withUnsafeMutableBufferPointer { buffer in
                coffer_peer_groups(fd, buffer.baseAddress, &count)
            }
            if result == 0 {
                groups.removeLast(groups.count - min(Int(count), groups.count))
                return groups
            }
            let code = Glibc.errno
            switch code {
            case EINTR: continue
            case ERANGE where Int(count) > capacity && count <= 65_536:  // NGROUPS_MAX
                capacity = Int(count)
            case ENOPROTOOPT, ENODATA:
                // Kernel without SO_PEERGROUPS (< 4.13) or a peer without credentials: no groups to match.
                return []
            default:
                throw SystemError(call: "getsockopt(SO_PEERGROUPS)", errno: code)
            }
        }
    }

    private static func pidfd(_ fd: Int32) throws -> FileDescriptor? {
        do {
            return FileDescriptor(owning: try retryingEINTR("getsockopt(SO_PEERPIDFD)") { coffer_peer_pidfd(fd) })
        } catch let error as SystemError where error.errno == ENOPROTOOPT || error.errno == EINVAL {
            return nil  // before Linux 6.5
        }
    }

    /// The peer's abstract socket name: the bytes after the leading NUL (e.g. systemd's `LoadCredential=` client
    /// binds `"\0<hex>/unit/<unit>/<id>"`). Nil for an unnamed peer or one bound to a filesystem path. Anyone can bind
    /// any abstract name in its network namespace: check the uid and the cgroup too (systemd-integration.md §1).
    public static func abstractPeerName(of socket: FileDescriptor) throws -> [UInt8]? {
        let fd = socket.rawValue
        let capacity = coffer_unix_path_capacity()
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer -> [UInt8]? in
            var length = 0
            _ = try retryingEINTR("getpeername") { coffer_peer_name(fd, buffer.baseAddress, capacity, &length) }
            guard length > 0, buffer[0] == 0 else { return nil }
            return Array(buffer[1..<length])
        }
    }
}
