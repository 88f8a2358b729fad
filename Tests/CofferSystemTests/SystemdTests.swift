import Glibc
import Testing

@testable import CofferSystem

/// Receives one datagram (waiting up to a second).
func receive(_ socket: FileDescriptor) throws -> String? {
    var buffer = [UInt8](repeating: 0, count: 4_096)
    for _ in 0..<1_000 {
        let result = try buffer.withUnsafeMutableBytes { try socket.read(into: $0) }
        if case .bytes(let n) = result { return String(decoding: buffer.prefix(n), as: UTF8.self) }
        usleep(1_000)
    }
    return nil
}

@Suite("sd_notify and socket activation without libsystemd")
struct SystemdTests {
    @Test("READY=1 reaches a notify socket given as a path")
    func notifyPath() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("notify")
        let receiver = try TestSupport.datagramReceiver(address: Array(path.utf8))
        try SdNotify.send("READY=1\nSTATUS=serving", to: path)
        #expect(try receive(receiver) == "READY=1\nSTATUS=serving")
    }

    @Test("READY=1 reaches an @abstract notify socket (addrlen without NUL padding)")
    func notifyAbstract() throws {
        let name = "coffer-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let receiver = try TestSupport.datagramReceiver(address: [0] + Array(name.utf8))
        try SdNotify.send("READY=1", to: "@\(name)")
        #expect(try receive(receiver) == "READY=1")
        // A name that is a prefix of the bound one is a different socket.
        #expect(throws: SystemError.self) { try SdNotify.send("READY=1", to: "@\(name.dropLast())") }
    }

    @Test("unsupported notify addresses are refused", arguments: ["vsock:2:1234", "relative/path", "@", ""])
    func notifyUnsupported(address: String) {
        #expect(throws: SocketError.unsupportedAddress(address)) { try SdNotify.send("READY=1", to: address) }
    }

    @Test("$NOTIFY_SOCKET is honoured, and an unset variable is a no-op (child process)")
    func notifyEnvironment() async {
        await #expect(processExitsWith: .success) {
            let name = "coffer-notify-env-\(getpid())"
            guard let receiver = try? TestSupport.datagramReceiver(address: [0] + Array(name.utf8)) else { exit(2) }
            unsetenv("NOTIFY_SOCKET")
            guard (try? SdNotify.send("READY=1")) == false else { exit(3) }
            setenv("NOTIFY_SOCKET", "@\(name)", 1)
            guard (try? SdNotify.send("STOPPING=1")) == true else { exit(4) }
            exit((try? receive(receiver)) == "STOPPING=1" ? 0 : 5)
        }
    }

    @Test("watchdog interval honours WATCHDOG_PID and WATCHDOG_USEC")
    func watchdog() {
        func interval(_ values: [String: String]) -> UInt64? {
            SdNotify.watchdogInterval(environment: { values[$0] }, pid: 42)
        }
        #expect(interval([:]) == nil)
        #expect(interval(["WATCHDOG_USEC": "4000000"]) == 4_000_000)
        #expect(interval(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "42"]) == 4_000_000)
        #expect(interval(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "43"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "x"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "0"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "-5"]) == nil)
        #expect(interval(["WATCHDOG_USEC": "soon"]) == nil)
    }

    @Test("LISTEN_* parsing: pid check, count, names")
    func listenParsing() {
        func parse(_ values: [String: String]) -> [String] {
            SocketActivation.parse(environment: { values[$0] }, pid: 7).map { "\($0.name)=\($0.fd)" }
        }
        #expect(parse([:]) == [])
        #expect(parse(["LISTEN_PID": "7", "LISTEN_FDS": "1"]) == ["unknown=3"])
        #expect(parse(["LISTEN_PID": "8", "LISTEN_FDS": "1"]) == [])
        #expect(parse(["LISTEN_PID": "7", "LISTEN_FDS": "0"]) == [])
        #expect(parse(["LISTEN_PID": "7", "LISTEN_FDS": "-1"]) == [])
        #expect(parse(["LISTEN_PID": "7", "LISTEN_FDS": "two"]) == [])
        #expect(
            parse(["LISTEN_PID": "7", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "api:credentials"]) == [
                "api=3", "credentials=4",
            ])
        #expect(
            parse(["LISTEN_PID": "7", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "api"]) == ["unknown=3", "unknown=4"])
        #expect(parse(["LISTEN_PID": "7", "LISTEN_FDS": "2", "LISTEN_FDNAMES": ":admin"]) == ["unknown=3", "admin=4"])
    }

    @Test("a listening socket really passed as fd 3: sh sets LISTEN_PID=$$ and execs this test binary's probe")
    func listenRealDescriptor() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("api.sock")
        let listener = try UnixListener.bind(path: path, mode: 0o600)
        let client = try UnixSocket.connect(path: path)  // waits in the backlog for the activated child
        try client.setReceiveTimeout(milliseconds: 60_000)
        let marker = dir.child("probe-passed")
        let executable = try #require(selfExecutable())
        // As systemd-socket-activate does: the listener at fd 3, LISTEN_PID set to the pid that execs the program.
        let script = """
            LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=api COFFER_ACTIVATION_PROBE="$1" \
            exec "$0" --testing-library swift-testing --filter activationProbe
            """
        let child = try spawn(
            ["/bin/sh", "-c", script, executable, marker], descriptor: listener.descriptor.rawValue, at: 3)
        var reply = [UInt8](repeating: 0, count: 5)
        let n = try reply.withUnsafeMutableBytes { try client.readFully(into: $0) }
        let status = TestSupport.reap(child)
        #expect(status == 0)
        #expect(n == 5 && reply == Array("hello".utf8))
        #expect(readText(marker) == "ok")
    }

    /// Runs inside the activated child started by ``listenRealDescriptor()``; in an ordinary run it checks that no
    /// descriptors were passed to the test process.
    @Test("activation probe (child side of listenRealDescriptor)")
    func activationProbe() throws {
        guard let marker = getenv("COFFER_ACTIVATION_PROBE").map({ String(cString: $0) }) else {
            #expect(try SocketActivation.listenFDs(unsetEnvironment: false).isEmpty)
            return
        }
        let fds = try SocketActivation.listenFDs()
        try #require(fds.count == 1)
        try #require(fds[0].name == "api" && fds[0].fd == 3)
        try #require(getenv("LISTEN_PID") == nil && getenv("LISTEN_FDS") == nil && getenv("LISTEN_FDNAMES") == nil)
        try #require(fcntl(3, F_GETFD) & FD_CLOEXEC != 0)
        let adopted = try UnixListener.adopt(fd: 3)
        let connection = try #require(try acceptOne(adopted))
        try connection.setNonBlocking(false)
        try connection.writeFully(Array("hello".utf8))
        try SafeFile.createExclusive(path: marker, mode: 0o600, contents: Array("ok".utf8))
    }

    @Test("LISTEN_PID of another process is ignored (child process)")
    func listenOtherPID() async {
        await #expect(processExitsWith: .success) {
            setenv("LISTEN_PID", "\(getpid() + 1)", 1)
            setenv("LISTEN_FDS", "1", 1)
            guard let fds = try? SocketActivation.listenFDs(unsetEnvironment: false), fds.isEmpty,
                getenv("LISTEN_FDS") != nil
            else { exit(1) }
            exit(0)
        }
    }
}
