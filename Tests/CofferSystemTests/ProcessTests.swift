import Glibc
import Testing

@testable import CofferSystem

@Suite("Hardening, accounts, errors, client connect errors")
struct ProcessTests {
    @Test("disableCoreDumps: not dumpable and RLIMIT_CORE 0; SIGPIPE ignored (child process)")
    func hardening() async {
        await #expect(processExitsWith: .success) {
            guard (try? Hardening.isDumpable()) == true else { exit(2) }
            do {
                try Hardening.disableCoreDumps()
                try Hardening.ignoreSIGPIPE()
            } catch {
                exit(3)
            }
            guard (try? Hardening.isDumpable()) == false else { exit(4) }
            guard let limit = try? Hardening.coreDumpLimit(), limit.soft == 0, limit.hard == 0 else { exit(5) }
            // A plain write(2) to a closed pipe now fails with EPIPE instead of killing the process.
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { exit(6) }
            close(fds[0])
            var byte: UInt8 = 1
            let n = write(fds[1], &byte, 1)
            exit(n == -1 && errno == EPIPE ? 0 : 7)
        }
    }

    @Test("without ignoreSIGPIPE, a plain write to a closed pipe kills the process (the test above is meaningful)")
    func sigpipeKills() async {
        await #expect(processExitsWith: .signal(SIGPIPE)) {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { exit(6) }
            close(fds[0])
            var byte: UInt8 = 1
            _ = write(fds[1], &byte, 1)
            exit(0)
        }
    }

    @Test("a client that is not allowed by the socket's mode gets permissionDenied (child drops to uid 65534)")
    func permissionDenied() async {
        await #expect(processExitsWith: .success) {
            guard let dir = try? TemporaryDirectory(),
                let listener = try? UnixListener.bind(path: dir.child("admin.sock"), mode: 0o600)
            else { exit(2) }
            // Change only the effective ids (access checks use them), so that root can come back and clean up.
            guard setgroups(0, nil) == 0, setegid(65_534) == 0, seteuid(65_534) == 0 else { finish(3, removing: dir) }
            var result: Int32
            do {
                _ = try UnixSocket.connect(path: dir.child("admin.sock"))
                result = 4
            } catch SocketError.permissionDenied(let path) {
                result = path == dir.child("admin.sock") && listener.descriptor.isOpen ? 0 : 5
            } catch {
                result = 6
            }
            guard seteuid(0) == 0, setegid(0) == 0 else { exit(7) }
            finish(result, removing: dir)
        }
    }

    @Test("client connect errors are typed: no socket, refused")
    func connectErrors() throws {
        let dir = try TemporaryDirectory()
        let missing = dir.child("missing.sock")
        #expect(throws: SocketError.noSuchSocket(path: missing)) { try UnixSocket.connect(path: missing) }
        let stale = dir.child("stale.sock")
        let listener = try UnixListener.bind(path: stale, mode: 0o600)
        listener.descriptor.close()
        #expect(eventually { (try? UnixSocket.connect(path: stale)) == nil })
        #expect(throws: SocketError.connectionRefused(path: stale)) { try UnixSocket.connect(path: stale) }
        let long = "/" + String(repeating: "x", count: 200)
        #expect(throws: PathError.invalidSocketPath(path: long)) { try UnixSocket.connect(path: long) }
    }

    @Test("user and group names both ways")
    func accounts() throws {
        #expect(try Accounts.userName(uid: 0) == "root")
        #expect(try Accounts.groupName(gid: 0) == "root")
        #expect(try Accounts.uid(named: "root") == 0)
        #expect(try Accounts.gid(named: "root") == 0)
        #expect(try Accounts.userName(uid: 65_534) == "nobody")
        #expect(try Accounts.uid(named: "nobody") == 65_534)
        #expect(try Accounts.primaryGroup(ofUser: "root") == 0)
        #expect(try Accounts.groups(ofUser: "root")?.first == 0)
        #expect(try Accounts.userName(uid: 3_999_999_999) == nil)
        #expect(try Accounts.groupName(gid: 3_999_999_999) == nil)
        #expect(try Accounts.uid(named: "no-such-user-coffer") == nil)
        #expect(try Accounts.gid(named: "no-such-group-coffer") == nil)
        #expect(try Accounts.groups(ofUser: "no-such-user-coffer") == nil)
        #expect(try Accounts.uid(named: "") == nil)
        #expect(try Accounts.uid(named: "ro\0ot") == nil)
    }

    @Test("SystemError names the call and strerror, PathError and SocketError name the path")
    func errorDescriptions() {
        #expect(SystemError(call: "accept4", errno: EMFILE).description == "accept4: Too many open files (errno 24)")
        #expect(SystemError(call: "open", errno: ENOENT).description == "open: No such file or directory (errno 2)")
        #expect(
            PathError.notPrivate(path: "/run/coffer", owner: 1000, mode: 0o777).description.contains("0777"))
        #expect(SocketError.addressInUse(path: "/run/coffer/api.sock").description.contains("/run/coffer/api.sock"))
        #expect(SystemError.message(for: 9_999).contains("9999"))
    }
}
