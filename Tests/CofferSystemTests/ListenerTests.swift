import Glibc
import Testing

@testable import CofferSystem

@Suite("UnixListener: safe creation, stale sockets, accept, adopt")
struct ListenerTests {
    @Test("the socket file has exactly the requested mode, whatever the umask", arguments: [0o600, 0o660, 0o666])
    func exactMode(mode: UInt32) throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        let listener = try withUmask(0) { try UnixListener.bind(path: path, mode: mode) }
        #expect(permissions(path) == mode)
        #expect(try SafeFile.status(path: path)?.kind == .socket)
        #expect(try listener.descriptor.isCloseOnExec())
        #expect(try listener.descriptor.isNonBlocking())
        let strict = dir.child("strict.sock")
        _ = try withUmask(0o077) { try UnixListener.bind(path: strict, mode: mode) }
        #expect(permissions(strict) == mode)
    }

    @Test("the group of the socket file is set when asked")
    func group() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("admin.sock")
        _ = try UnixListener.bind(path: path, mode: 0o660, group: 65_534)
        #expect(try SafeFile.status(path: path)?.gid == 65_534)
        #expect(permissions(path) == 0o660)
    }

    @Test("uid 65534 cannot connect to a 0600 socket but can to a 0666 one (the helper works)")
    func otherUserIsKeptOut() throws {
        let dir = try TemporaryDirectory()
        let privatePath = dir.child("private.sock")
        let openPath = dir.child("open.sock")
        let privateListener = try UnixListener.bind(path: privatePath, mode: 0o600)
        let openListener = try UnixListener.bind(path: openPath, mode: 0o666)

        let denied = try TestSupport.connectAs(path: privatePath, uid: 65_534, gid: 65_534)
        TestSupport.reap(denied.child)
        #expect(denied.errno == EACCES)
        #expect(try privateListener.accept() == nil)

        let allowed = try TestSupport.connectAs(path: openPath, uid: 65_534, gid: 65_534)
        #expect(allowed.errno == 0)
        let connection = try acceptOne(openListener)
        #expect(connection != nil)
        connection?.close()
        TestSupport.reap(allowed.child)
    }

    @Test("a stale socket file (nobody listening) is replaced")
    func staleReplaced() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        let first = try UnixListener.bind(path: path, mode: 0o600)
        first.descriptor.close()  // a crashed daemon: the file stays, nobody listens
        #expect(eventually { (try? UnixSocket.connect(path: path)) == nil })
        #expect(throws: SocketError.connectionRefused(path: path)) { try UnixSocket.connect(path: path) }

        let second = try UnixListener.bind(path: path, mode: 0o600)
        let client = try UnixSocket.connect(path: path)
        #expect(client.isOpen)
        #expect(try acceptOne(second) != nil)
    }

    @Test("a live socket is refused and keeps working")
    func liveRefused() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        let live = try UnixListener.bind(path: path, mode: 0o600)
        #expect(throws: SocketError.addressInUse(path: path)) { try UnixListener.bind(path: path, mode: 0o600) }
        _ = try UnixSocket.connect(path: path)
        #expect(try acceptOne(live) != nil)
    }

    @Test("a symlink at the socket path is refused and its target untouched")
    func symlinkedPath() throws {
        let dir = try TemporaryDirectory()
        let target = dir.child("target")
        writeFile(target, "precious", mode: 0o644)
        let path = dir.child("api.sock")
        symlink(target, path)
        #expect(throws: PathError.symlink(path: path)) { try UnixListener.bind(path: path, mode: 0o600) }
        #expect(readText(target) == "precious")
        #expect(permissions(target) == 0o644)
        #expect(try SafeFile.isSymlink(path: path))
    }

    @Test("a dangling symlink at the socket path is refused (bind would create its target)")
    func danglingSymlink() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        symlink(dir.child("elsewhere.sock"), path)
        #expect(throws: PathError.symlink(path: path)) { try UnixListener.bind(path: path, mode: 0o600) }
        #expect(try SafeFile.status(path: dir.child("elsewhere.sock")) == nil)
    }

    @Test("a symlinked parent directory is refused")
    func symlinkedDirectory() throws {
        let dir = try TemporaryDirectory()
        let real = dir.child("real")
        mkdir(real, 0o700)
        let link = dir.child("link")
        symlink(real, link)
        #expect(throws: PathError.symlink(path: link)) { try UnixListener.bind(path: "\(link)/api.sock", mode: 0o600) }
        #expect(try SafeFile.status(path: "\(real)/api.sock") == nil)
    }

    @Test("a missing parent directory, a regular file in the way, and a too-long path are refused")
    func otherRefusals() throws {
        let dir = try TemporaryDirectory()
        let missing = dir.child("nope")
        #expect(throws: PathError.missingDirectory(path: missing)) {
            try UnixListener.bind(path: "\(missing)/api.sock", mode: 0o600)
        }
        let file = dir.child("api.sock")
        writeFile(file, "not a socket")
        #expect(throws: PathError.notASocket(path: file)) { try UnixListener.bind(path: file, mode: 0o600) }
        #expect(readText(file) == "not a socket")
        let long = dir.child(String(repeating: "x", count: 120))
        #expect(throws: PathError.invalidSocketPath(path: long)) { try UnixListener.bind(path: long, mode: 0o600) }
    }

    @Test("accept returns nil when nothing is pending, then close-on-exec non-blocking connections")
    func acceptFlags() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        let listener = try UnixListener.bind(path: path, mode: 0o600)
        #expect(try listener.accept() == nil)
        let client = try UnixSocket.connect(path: path)
        let connection = try #require(try acceptOne(listener))
        #expect(try connection.isCloseOnExec())
        #expect(try connection.isNonBlocking())
        #expect(try client.isCloseOnExec())
        #expect(try !client.isNonBlocking())
        #expect(try listener.accept() == nil)
    }

    @Test("removeSocketFile removes our socket but not a successor's")
    func removeSocketFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        let old = try UnixListener.bind(path: path, mode: 0o600)
        old.removeSocketFile()
        #expect(try SafeFile.status(path: path) == nil)

        // A listener whose file was replaced while it still runs leaves the successor's socket alone.
        let first = try UnixListener.bind(path: path, mode: 0o600)
        unlink(path)
        let successor = try UnixListener.bind(path: path, mode: 0o600)
        first.removeSocketFile()
        #expect(try SafeFile.status(path: path)?.kind == .socket)
        // A closed listener removes nothing (its inode number may have been reused).
        first.descriptor.close()
        first.removeSocketFile()
        #expect(try SafeFile.status(path: path)?.kind == .socket)
        successor.removeSocketFile()
        #expect(try SafeFile.status(path: path) == nil)
    }

    @Test("adopt takes a listening AF_UNIX stream socket and refuses anything else")
    func adopt() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        let original = try UnixListener.bind(path: path, mode: 0o600)
        let fd = original.descriptor.consume()
        let adopted = try UnixListener.adopt(fd: fd)
        #expect(adopted.path == nil)
        #expect(try adopted.descriptor.isCloseOnExec())
        #expect(try adopted.descriptor.isNonBlocking())
        _ = try UnixSocket.connect(path: path)
        #expect(try acceptOne(adopted) != nil)

        let (a, _) = try UnixSocket.pair()
        #expect(throws: SocketError.notAListeningUnixSocket(fd: a.rawValue)) { try UnixListener.adopt(fd: a.rawValue) }
        #expect(a.isOpen)  // still the caller's
        let datagram = try TestSupport.datagramReceiver(address: [0] + Array("coffer-adopt-\(getpid())".utf8))
        #expect(throws: SocketError.notAListeningUnixSocket(fd: datagram.rawValue)) {
            try UnixListener.adopt(fd: datagram.rawValue)
        }
    }

    @Test("accept reports descriptor exhaustion as a distinct error (child process)")
    func descriptorsExhausted() async {
        await #expect(processExitsWith: .success) {
            guard let dir = try? TemporaryDirectory(),
                let listener = try? UnixListener.bind(path: dir.child("api.sock"), mode: 0o600),
                let client = try? UnixSocket.connect(path: dir.child("api.sock"))
            else { exit(2) }
            // Use up every descriptor below a small limit.
            var limit = rlimit()
            getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = 256
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            var filler: [Int32] = []
            while true {
                let fd = dup(0)
                if fd < 0 { break }
                filler.append(fd)
            }
            var result: Int32
            do {
                _ = try listener.accept()
                result = 3
            } catch SocketError.descriptorsExhausted(let error) {
                result = error.errno == EMFILE && client.isOpen ? 0 : 4
            } catch {
                result = 5
            }
            for fd in filler { close(fd) }  // cleaning up needs descriptors again
            finish(result, removing: dir)
        }
    }
}
