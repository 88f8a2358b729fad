import CCofferSys
import Glibc

/// Client-side AF_UNIX stream connections (the CLI, the client library, tests).
public enum UnixSocket {
    /// Connects to the socket at `path` (blocking, close-on-exec). Failures a user can act on are typed:
    /// ``SocketError/noSuchSocket(path:)`` (ENOENT), ``SocketError/connectionRefused(path:)`` (ECONNREFUSED: a stale
    /// file, the daemon is not running) and ``SocketError/permissionDenied(path:)`` (EACCES/EPERM).
    public static func connect(path: String) throws -> FileDescriptor {
        try connect(path: path, bindingAbstractName: nil)
    }

    /// Connects after binding the client end to the abstract address `"\0" + name`, as systemd's `LoadCredential=`
    /// client does (`"\0<hex>/unit/<unit>/<id>"`), so that the server can read it with
    /// ``PeerCredentials/abstractPeerName(of:)``.
    public static func connect(path: String, bindingAbstractName name: [UInt8]?) throws -> FileDescriptor {
        guard path.utf8.count < coffer_unix_path_capacity() else { throw PathError.invalidSocketPath(path: path) }
        let socket = FileDescriptor(owning: try retryingEINTR("socket") { coffer_unix_socket(0, 0) })
        let fd = socket.rawValue
        if let name {
            let address = [0] + name
            _ = try address.withUnsafeBufferPointer { bytes in
                try retryingEINTR("bind") { coffer_unix_bind(fd, bytes.baseAddress, bytes.count) }
            }
        }
        do {
            _ = try withPathBytes(path) { bytes in
                try retryingEINTR("connect") { coffer_unix_connect(fd, bytes.baseAddress, bytes.count) }
            }
        } catch let error as SystemError {
            switch error.errno {
            case ENOENT: throw SocketError.noSuchSocket(path: path)
            case ECONNREFUSED: throw SocketError.connectionRefused(path: path)
            case EACCES, EPERM: throw SocketError.permissionDenied(path: path)
            default: throw error
            }
        }
        return socket
    }

    /// A connected pair (`socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)`), for tests and in-process plumbing.
    public static func pair() throws -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try retryingEINTR("socketpair") {
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        }
        return (FileDescriptor(owning: fds[0]), FileDescriptor(owning: fds[1]))
    }
}
