import Glibc
import Testing

@testable import CofferSystem

@Suite("Peer identity at accept, process facts through the pidfd")
struct PeerTests {
    @Test("uid, gid, supplementary groups, pid and pidfd of a child connecting as another user")
    func otherUser() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        let listener = try UnixListener.bind(path: path, mode: 0o666)
        let child = try TestSupport.connectAs(path: path, uid: 65_534, gid: 4_242, groups: [100, 5_000, 4_243])
        defer { TestSupport.reap(child.child) }
        #expect(child.errno == 0)
        let connection = try #require(try acceptOne(listener))
        defer { connection.close() }

        let peer = try PeerCredentials.read(from: connection)
        #expect(peer.pid == child.child)
        #expect(peer.uid == 65_534)
        #expect(peer.gid == 4_242)
        #expect(peer.groups.sorted() == [100, 4_243, 5_000])
        let pidfd = try #require(peer.pidfd)
        #expect(try pidfd.isCloseOnExec())
        #expect(ProcessFacts.pid(ofPidfd: pidfd) == child.child)
        #expect(try PeerCredentials.abstractPeerName(of: connection) == nil)
    }

    @Test("more supplementary groups than the first buffer holds (ERANGE path)")
    func manyGroups() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        let listener = try UnixListener.bind(path: path, mode: 0o666)
        let groups = (0..<50).map { UInt32(20_000 + $0) }
        let child = try TestSupport.connectAs(path: path, uid: 65_534, gid: 65_534, groups: groups)
        defer { TestSupport.reap(child.child) }
        #expect(child.errno == 0)
        let connection = try #require(try acceptOne(listener))
        defer { connection.close() }
        #expect(try PeerCredentials.read(from: connection).groups.sorted() == groups)
    }

    @Test("in-process peer: our own pid and uid 0; a socketpair has credentials too")
    func selfPeer() throws {
        let (a, b) = try UnixSocket.pair()
        let peer = try PeerCredentials.read(from: a)
        #expect(peer.pid == getpid())
        #expect(peer.uid == geteuid())
        #expect(peer.gid == getegid())
        #expect(b.isOpen)
    }

    @Test("the abstract name a LoadCredential-style client bound is read back without the NUL")
    func abstractName() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("cred.sock")
        let listener = try UnixListener.bind(path: path, mode: 0o600)
        let name = Array("adf9d86b6eda275e/unit/client-\(getpid()).service/db-password".utf8)
        let client = try UnixSocket.connect(path: path, bindingAbstractName: name)
        try client.shutdown(.write)
        let connection = try #require(try acceptOne(listener))
        #expect(try PeerCredentials.abstractPeerName(of: connection) == name)

        let plain = try UnixSocket.connect(path: path)
        let unnamed = try #require(try acceptOne(listener))
        #expect(try PeerCredentials.abstractPeerName(of: unnamed) == nil)
        #expect(plain.isOpen)
    }

    @Test("the abstract name of a client that dropped privileges")
    func abstractNameFromChild() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("cred.sock")
        let listener = try UnixListener.bind(path: path, mode: 0o666)
        let name = Array("1f/unit/foo-\(getpid()).service/key".utf8)
        let child = try TestSupport.connectAs(path: path, uid: 65_534, gid: 65_534, abstractName: name)
        defer { TestSupport.reap(child.child) }
        #expect(child.errno == 0)
        let connection = try #require(try acceptOne(listener))
        defer { connection.close() }
        #expect(try PeerCredentials.abstractPeerName(of: connection) == name)
        #expect(try PeerCredentials.read(from: connection).uid == 65_534)
    }

    @Test("ProcessFacts reads the connecting child's executable and cgroup, then fails closed once it has exited")
    func factsOfConnectedChild() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        let listener = try UnixListener.bind(path: path, mode: 0o666)
        let child = try TestSupport.connectAs(path: path, uid: 65_534, gid: 65_534)
        #expect(child.errno == 0)
        let connection = try #require(try acceptOne(listener))
        let peer = try PeerCredentials.read(from: connection)

        let facts = try #require(ProcessFacts.read(pid: peer.pid, pidfd: peer.pidfd))
        #expect(facts.isPinned)
        #expect(facts.executablePath == selfExecutable())  // a forked child runs the test binary
        #expect(facts.cgroup?.contains("0::") == true)

        connection.close()  // the child sees EOF and exits
        TestSupport.reap(child.child)
        #expect(ProcessFacts.read(pid: peer.pid, pidfd: peer.pidfd) == nil)
        #expect(ProcessFacts.pid(ofPidfd: try #require(peer.pidfd)) == -1)
    }

    @Test("ProcessFacts of an exec'd binary through pidfd_open; nil after exit; nil for a mismatched pid")
    func factsOfSpawnedBinary() throws {
        let sleeper = try spawn(["/bin/sleep", "30"])
        var reaped = false
        defer {
            if !reaped {
                kill(sleeper, SIGKILL)
                TestSupport.reap(sleeper)
            }
        }
        let pidfd = try ProcessFacts.openPidfd(pid: sleeper)
        #expect(try pidfd.isCloseOnExec())
        // posix_spawn returns once the child exists; wait until it has exec'd.
        var facts = ProcessFacts.read(pid: sleeper, pidfd: pidfd)
        for _ in 0..<1_000 where facts?.executablePath != realPath("/bin/sleep") {
            usleep(1_000)
            facts = ProcessFacts.read(pid: sleeper, pidfd: pidfd)
        }
        #expect(facts?.executablePath == realPath("/bin/sleep"))
        #expect(facts?.isPinned == true)

        // A pidfd for one process never vouches for another pid (as after pid reuse).
        #expect(ProcessFacts.read(pid: getpid(), pidfd: pidfd) == nil)

        // Without a pidfd the facts are marked unpinned.
        #expect(ProcessFacts.read(pid: sleeper, pidfd: nil)?.isPinned == false)

        kill(sleeper, SIGKILL)
        TestSupport.reap(sleeper)
        reaped = true
        #expect(ProcessFacts.read(pid: sleeper, pidfd: pidfd) == nil)
        #expect(ProcessFacts.read(pid: 0, pidfd: nil) == nil)
    }
}

func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// posix_spawn with this process's environment, stdout and stderr to /dev/null, and optionally `descriptor`
/// duplicated to `target` in the child (without close-on-exec); returns the pid.
func spawn(_ arguments: [String], descriptor: Int32? = nil, at target: Int32 = 3) throws -> Int32 {
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    if let descriptor { posix_spawn_file_actions_adddup2(&actions, descriptor, target) }
    var pid: Int32 = 0
    let code = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
    guard code == 0 else { throw SystemError(call: "posix_spawn", errno: code) }
    return pid
}
