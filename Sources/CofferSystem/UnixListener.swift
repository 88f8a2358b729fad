import CCofferSys
import Glibc

/// A listening AF_UNIX stream socket (non-blocking, close-on-exec), created safely or adopted from systemd.
///
/// How the socket file gets its final mode without a window (threat T12). `bind` creates the file with the socket
/// inode's mode masked by the umask (Linux `unix_bind_bsd`: `SOCK_INODE(sock)->i_mode & ~current_umask()`), so:
/// 1. `fchmod` on the socket **before** `bind` sets that inode mode to the owner bits of `mode` only: the file
///    appears owner-only and is never reachable by another uid (checked after `bind`; refused otherwise);
/// 2. the group is set, then the exact `mode`, on the file's inode (an `O_PATH|O_NOFOLLOW` handle, so a symlink
///    swapped in is never followed): access only ever widens to what was asked;
/// 3. only then `listen`.
///
/// Why not "bind, chmod, then listen" alone: measured here, it leaks. `connect` checks the path's permission in
/// `unix_find_other` *before* it looks at the listening state, so a connect whose permission check ran while the
/// file was still `0777 & ~umask` completes once `listen` runs (1–14 of 1,000 cycles, WindowTests). A process-wide
/// umask change would race with other threads creating files.
public final class UnixListener: Sendable {
    /// The listening descriptor (register it with ``Epoll``).
    public let descriptor: FileDescriptor
    /// The socket path this listener created, or nil for an adopted (systemd) socket.
    public let path: String?
    private let boundFile: FileIdentity?

    private init(descriptor: FileDescriptor, path: String?, boundFile: FileIdentity?) {
        self.descriptor = descriptor
        self.path = path
        self.boundFile = boundFile
    }

    /// Creates, binds and listens on a socket at `path` whose file gets exactly `mode` (and `group`, if given).
    ///
    /// - The parent directory must exist and must not be a symlink (use
    ///   ``SafeFile/ensurePrivateDirectory(path:mode:createParents:)`` first); the socket path itself must not be one.
    /// - An existing socket file is replaced only if nothing answers on it (connect gives ECONNREFUSED); if a process
    ///   is listening, ``SocketError/addressInUse(path:)``. Anything else at the path is refused, not deleted.
    public static func bind(
        path: String, mode: UInt32, group: UInt32? = nil, backlog: Int32 = 128
    ) throws
        -> UnixListener
    {
        let (directory, name) = SafeFile.split(path)
        guard !name.isEmpty, name != ".", name != "..", path.utf8.count < coffer_unix_path_capacity(),
            !path.utf8.contains(0)
        else { throw PathError.invalidSocketPath(path: path) }
        guard let parent = try SafeFile.status(path: directory) else {
            throw PathError.missingDirectory(path: directory)
        }
        guard parent.kind != .symlink else { throw PathError.symlink(path: directory) }
        guard parent.kind == .directory else { throw PathError.notADirectory(path: directory) }

        if let existing = try SafeFile.status(path: path) {
            switch existing.kind {
            case .symlink: throw PathError.symlink(path: path)
            case .socket: try removeStaleSocket(path)
            default: throw PathError.notASocket(path: path)
            }
        }

        let socket = FileDescriptor(owning: try retryingEINTR("socket") { coffer_unix_socket(0, 1) })
        let fd = socket.rawValue
        // The file bind creates takes this mode (minus the umask): owner bits only until restrict() below.
        _ = try retryingEINTR("fchmod(socket)") { fchmod(fd, mode_t(mode & 0o700)) }
        do {
            _ = try withPathBytes(path) { bytes in
                try retryingEINTR("bind") { coffer_unix_bind(fd, bytes.baseAddress, bytes.count) }
            }
        } catch let error as SystemError where error.errno == EADDRINUSE {
            throw SocketError.addressInUse(path: path)
        }
        let identity: FileIdentity
        do {
            identity = try restrict(path, mode: mode, group: group)
            _ = try retryingEINTR("listen") { Glibc.listen(fd, backlog) }
        } catch {
            // Remove the file we bound (nobody could connect: not listening yet).
            _ = try? withPath(path, unlinkQuietly)
            throw error
        }
        return UnixListener(descriptor: socket, path: path, boundFile: identity)
    }

    /// Sets group and mode on the socket file just bound, through an `O_PATH|O_NOFOLLOW` handle on its inode.
    private static func restrict(_ path: String, mode: UInt32, group: UInt32?) throws -> FileIdentity {
        let handle = FileDescriptor(
            owning: try withPath(path) { p in try retryingEINTR("open(O_PATH)") { coffer_open_path_nofollow(p) } }
        )
        let st = try SafeFile.status(of: handle)
        guard st.kind == .socket, st.uid == geteuid() else { throw PathError.notASocket(path: path) }
        // Created owner-only thanks to the fchmod before bind; anything else means that protection did not apply.
        guard st.mode & 0o077 == 0 else { throw PathError.notPrivate(path: path, owner: st.uid, mode: st.mode) }
        let fd = handle.rawValue
        if let group {
            _ = try retryingEINTR("fchownat") { coffer_fchown_opath(fd, UInt32.max, group) }
        }
        _ = try retryingEINTR("fchmodat") { coffer_fchmod_opath(fd, mode & 0o7777) }
        return FileIdentity(device: st.device, inode: st.inode)
    }

    /// Unlinks a socket file that nobody listens on; throws ``SocketError/addressInUse(path:)`` if somebody does.
    private static func removeStaleSocket(_ path: String) throws {
        // Non-blocking, so a live daemon with a full backlog answers EAGAIN instead of blocking the probe.
        let probe = FileDescriptor(owning: try retryingEINTR("socket") { coffer_unix_socket(0, 1) })
        let fd = probe.rawValue
        do {
            _ = try withPathBytes(path) { bytes in
                try retryingEINTR("connect") { coffer_unix_connect(fd, bytes.baseAddress, bytes.count) }
            }
        } catch let error as SystemError {
            switch error.errno {
            case ECONNREFUSED:
                do {
                    _ = try withPath(path) { p in try retryingEINTR("unlink") { unlink(p) } }
                } catch let error as SystemError where error.errno == ENOENT {
                    return
                }
                return
            case ENOENT: return
            case EAGAIN: throw SocketError.addressInUse(path: path)
            default: throw error
            }
        }
        throw SocketError.addressInUse(path: path)
    }

    /// Takes over a listening socket passed by systemd (see ``SocketActivation``): checks that it is an AF_UNIX
    /// SOCK_STREAM socket in the listening state, sets close-on-exec and non-blocking. On success the listener owns
    /// `fd`; on failure the caller still does.
    public static func adopt(fd: Int32) throws -> UnixListener {
        var domain: Int32 = 0
        var type: Int32 = 0
        var accepting: Int32 = 0
        do {
            _ = try retryingEINTR("getsockopt") { coffer_socket_info(fd, &domain, &type, &accepting) }
        } catch let error as SystemError where error.errno == ENOTSOCK {
            throw SocketError.notAListeningUnixSocket(fd: fd)
        }
        guard domain == AF_UNIX, type == Int32(SOCK_STREAM.rawValue), accepting == 1 else {
            throw SocketError.notAListeningUnixSocket(fd: fd)
        }
        _ = try retryingEINTR("fcntl(FD_CLOEXEC)") { coffer_set_cloexec(fd) }
        _ = try retryingEINTR("fcntl(O_NONBLOCK)") { coffer_set_nonblocking(fd, 1) }
        return UnixListener(descriptor: FileDescriptor(owning: fd), path: nil, boundFile: nil)
    }

    /// Accepts one connection (close-on-exec, non-blocking), or nil if none is pending. Aborted connections are
    /// skipped. Running out of descriptors or kernel memory throws ``SocketError/descriptorsExhausted(_:)`` so the
    /// caller can back off (stop polling the listener for a moment) instead of spinning.
    public func accept() throws -> FileDescriptor? {
        let fd = descriptor.rawValue
        while true {
            let result = coffer_accept4(fd)
            if result >= 0 { return FileDescriptor(owning: result) }
            let code = Glibc.errno
            switch code {
            case EINTR, ECONNABORTED: continue
            case EAGAIN: return nil
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                throw SocketError.descriptorsExhausted(SystemError(call: "accept4", errno: code))
            default:
                throw SystemError(call: "accept4", errno: code)
            }
        }
    }

    /// Removes the socket file, but only if the path still names the socket this listener bound (a newer daemon may
    /// have replaced it). Adopted sockets belong to systemd and are left alone. Call at shutdown, **before** closing
    /// ``descriptor``: while the socket is open it pins its inode, so the number cannot have been reused by a
    /// successor's socket; once closed, nothing is removed.
    public func removeSocketFile() {
        guard descriptor.isOpen, let path, let boundFile, let now = try? SafeFile.status(path: path),
            now.kind == .socket,
            FileIdentity(device: now.device, inode: now.inode) == boundFile
        else { return }
        _ = try? withPath(path, unlinkQuietly)
    }
}

struct FileIdentity: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64
}

/// The UTF-8 bytes of a path (no NUL inside), for the raw sun_path shims.
func withPathBytes<R>(_ path: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
    guard !path.isEmpty, !path.utf8.contains(0) else { throw PathError.invalidSocketPath(path: path) }
    var path = path
    return try path.withUTF8(body)
}
