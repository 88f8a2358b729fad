import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Testing

/// The real `cofferd` binary on a temporary state directory, with its real sockets.
///
/// Binaries are found next to the test bundle (`swift build --build-tests` builds them into the same directory).
final class Daemon {
    let root: String
    let stateDirectory: String
    let socketPath: String
    let adminSocketPath: String
    let logPath: String
    private(set) var pid: pid_t = 0
    var extraArguments: [String]
    /// Extra environment for the daemon (NOTIFY_SOCKET, WATCHDOG_USEC, …).
    var environment: [String: String] = [:]

    static let binDirectory: String = {
        var buffer = [CChar](repeating: 0, count: 4_096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        var dir = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        // The bundle may be a directory (…/CofferPackageTests.xctest/…) on some layouts.
        while let last = dir.last, last.hasSuffix(".xctest") || last == "Contents" || last == "MacOS" {
            dir.removeLast()
        }
        return dir.joined(separator: "/")
    }()
    static var cofferd: String { binDirectory + "/cofferd" }
    static var coffer: String { binDirectory + "/coffer" }

    /// Creates the directory layout and starts the daemon; returns once it answers Hello.
    init(arguments: [String] = [], start: Bool = true) throws {
        signal(SIGPIPE, SIG_IGN)
        var template = Array("/tmp/coffer-it-XXXXXX".utf8CString)
        root = template.withUnsafeMutableBufferPointer { buffer -> String in
            guard let base = buffer.baseAddress, let made = mkdtemp(base) else { return "/tmp/coffer-it-\(getpid())" }
            return String(cString: made)
        }
        chmod(root, 0o755)
        stateDirectory = root + "/state"
        socketPath = root + "/run/coffer.sock"
        adminSocketPath = root + "/run/admin.sock"
        logPath = root + "/cofferd.log"
        extraArguments = arguments
        if start { try self.start() }
    }

    deinit {
        if pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        _ = system("rm -rf '\(root)'")
    }

    func start() throws {
        pid = try Subprocess.start(
            [
                Daemon.cofferd, "--state-dir", stateDirectory, "--socket", socketPath, "--admin-socket",
                adminSocketPath,
                "--log-level", "debug",
            ] + extraArguments,
            logPath: logPath, environment: environment)
        try waitUntilReady()
    }

    /// Polls until the socket answers a Hello (10 s at most).
    func waitUntilReady() throws {
        for _ in 0..<1_000 {
            if let _ = try? hello() { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw SubprocessError(message: "cofferd exited during start-up:\n\(log)")
            }
            usleep(10_000)
        }
        throw SubprocessError(message: "cofferd did not become ready:\n\(log)")
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard pid > 0 else { return -1 }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        pid = 0
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// SIGKILL and wait (a crash).
    func crash() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        pid = 0
    }

    func restart() throws {
        stop()
        try start()
    }

    var isRunning: Bool { pid > 0 && kill(pid, 0) == 0 }

    var log: String {
        (try? SafeFile.readAll(path: logPath, maxBytes: 16 << 20)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    // MARK: Talking to it

    /// Runs the `coffer` CLI against this daemon, optionally as another user (through `setpriv`).
    func cli(
        _ arguments: [String], stdin: [UInt8] = [], as user: TestUser? = nil, environment: [String: String] = [:]
    ) throws -> ProcessResult {
        var argv = [Daemon.coffer, "--socket", socketPath] + arguments
        if let user { argv = user.setprivPrefix + argv }
        var env = environment
        env["COFFER_SOCKET"] = env["COFFER_SOCKET"] ?? socketPath
        env["COFFER_ADMIN_SOCKET"] = env["COFFER_ADMIN_SOCKET"] ?? adminSocketPath
        return try Subprocess.run(argv, stdin: stdin, environment: env)
    }

    /// A raw connection to the client socket (for protocol-level tests).
    func connect() throws -> RawConnection { try RawConnection(path: socketPath) }

    /// A raw connection to the admin socket.
    func connectAdmin() throws -> RawConnection { try RawConnection(path: adminSocketPath) }

    /// Writes a config file in the daemon's root and returns its path.
    func writeConfig(_ json: String, name: String = "config.json") throws -> String {
        let path = root + "/" + name
        try SafeFile.atomicReplace(path: path, mode: 0o600, contents: Array(json.utf8))
        return path
    }

    /// One Hello round trip on a fresh connection.
    func hello() throws -> Document {
        let connection = try connect()
        return try connection.call(.hello, Hello.request(client: "tests"))
    }
}

/// A blocking connection speaking the wire protocol directly.
final class RawConnection {
    let fd: FileDescriptor
    private var nextID: UInt32 = 1
    private var decoder = FrameDecoder()

    init(path: String) throws {
        fd = try UnixSocket.connect(path: path)
        try fd.setReceiveTimeout(milliseconds: 10_000)
    }

    func send(_ bytes: [UInt8]) throws { try fd.writeFully(bytes) }

    /// Sends a request frame; returns its id.
    @discardableResult
    func sendRequest(_ operation: Operation, _ document: Document, id: UInt32? = nil) throws -> UInt32 {
        let requestID = id ?? nextID
        nextID = max(nextID, requestID) + 1
        let header = FrameHeader(kind: .request, operation: operation, requestID: requestID)
        try send(try WireCodec.encodeFrame(header: header, document: document))
        return requestID
    }

    /// Reads the next frame (nil when the daemon closed the connection).
    func readFrame() throws -> Frame? {
        while true {
            if let frame = try decoder.readFrame() { return frame }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            switch n {
            case .bytes(let count): decoder.writeBytes(Array(chunk[0..<count]))
            case .closed: return nil
            case .wouldBlock: continue
            }
        }
    }

    /// Request → reply; an error reply throws `ServiceError`.
    func call(_ operation: Operation, _ document: Document) throws -> Document {
        let id = try sendRequest(operation, document)
        guard let frame = try readFrame() else { throw SubprocessError(message: "connection closed") }
        #expect(frame.header.requestID == id)
        let body = try frame.decodeDocument()
        if frame.header.kind == .error {
            throw ErrorReply(document: body)?.serviceError ?? ServiceError(.internalServiceError, "bad error reply")
        }
        return body
    }

    /// True if the daemon closed this connection (a read returns EOF within the timeout).
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let result = try? withUnsafeMutableBytes(of: &byte) { try fd.read(into: $0) }
        if case .closed? = result { return true }
        return false
    }
}

/// A local account created for access-control tests (CI runs as root).
struct TestUser {
    var name: String
    var uid: UInt32
    var gid: UInt32
    var groups: [UInt32] = []

    /// `setpriv` drops to this user (and its groups) before exec.
    var setprivPrefix: [String] {
        var prefix = ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)"]
        prefix += groups.isEmpty ? ["--clear-groups"] : ["--groups=\(groups.map(String.init).joined(separator: ","))"]
        return prefix + ["--"]
    }
}
