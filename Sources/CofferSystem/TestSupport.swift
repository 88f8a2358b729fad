import CCofferSys
import Glibc

/// Helpers for `Tests/CofferSystemTests` (reached through `@testable import`); the daemon never calls them.
enum TestSupport {
    /// Forks a child that drops to `uid`/`gid`/`groups` and connects to `path` (after binding the abstract name
    /// `"\0" + abstractName`, if given). Returns the errno `connect` gave (0 on success) and the child's pid; a
    /// connected child stays until the server closes the connection. Reap it with ``reap(_:)``.
    static func connectAs(
        path: String,
        uid: UInt32,
        gid: UInt32,
        groups: [UInt32] = [],
        abstractName: [UInt8]? = nil
    ) throws -> (errno: Int32, child: Int32) {
        var child: Int32 = 0
        let result = path.withCString { p in
            groups.withUnsafeBufferPointer { list in
                if let abstractName {
                    return abstractName.withUnsafeBufferPointer { name in
                        coffer_test_connect_as(
                            p, uid, gid, list.baseAddress, Int32(list.count), name.baseAddress, name.count, &child)
                    }
                }
                return coffer_test_connect_as(p, uid, gid, list.baseAddress, Int32(list.count), nil, 0, &child)
            }
        }
        if result < 0 { throw SystemError(call: "fork", errno: Glibc.errno) }
        return (result, child)
    }

    /// `waitpid`: the child's exit status (as `waitpid` reports it).
    @discardableResult
    static func reap(_ pid: Int32) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && Glibc.errno == EINTR {}
        return status
    }

    /// Sends `signal` to the calling thread only.
    static func raiseInCurrentThread(_ signal: Int32) {
        _ = coffer_raise_in_thread(signal)
    }

    /// A bound AF_UNIX datagram socket (raw sun_path bytes: a path, or a leading NUL for an abstract name), to play
    /// systemd's notify socket.
    static func datagramReceiver(address: [UInt8]) throws -> FileDescriptor {
        let socket = FileDescriptor(owning: try retryingEINTR("socket") { coffer_unix_socket(1, 1) })
        let fd = socket.rawValue
        _ = try address.withUnsafeBufferPointer { bytes in
            try retryingEINTR("bind") { coffer_unix_bind(fd, bytes.baseAddress, bytes.count) }
        }
        return socket
    }
}
