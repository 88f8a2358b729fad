import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Synchronization
import Testing

// The real daemon for the reliability suite: the integration tests' harness (Tests/CofferIntegrationTests/
// DaemonHarness.swift), extended with what fault and abuse tests need — a launch prefix (prlimit, strace), the
// daemon's working directory and core limit, and its resource figures from /proc.

/// The real `cofferd` on a temporary directory, with its real sockets.
final class Daemon {
    let root: String
    let stateDirectory: String
    let socketPath: String
    let adminSocketPath: String
    let logPath: String
    private(set) var pid: pid_t = 0
    var extraArguments: [String]
    var environment: [String: String] = [:]
    /// Run before `cofferd` (it must exec it, keeping the pid: `prlimit … --`, `setpriv … --`).
    var launchPrefix: [String] = []
    /// Starts the daemon in this directory with an unlimited RLIMIT_CORE (through `sh`, which execs it): where a
    /// core file would land with `core_pattern=core`, had the daemon not made itself undumpable.
    var coreDirectory: String?

    static let binDirectory: String = {
        var buffer = [CChar](repeating: 0, count: 4_096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        var dir = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        while let last = dir.last, last.hasSuffix(".xctest") || last == "Contents" || last == "MacOS" {
            dir.removeLast()
        }
        return dir.joined(separator: "/")
    }()
    static var cofferd: String { binDirectory + "/cofferd" }
    static var coffer: String { binDirectory + "/coffer" }

    init(arguments: [String] = [], start: Bool = true, rootDirectory: String? = nil) throws {
        signal(SIGPIPE, SIG_IGN)
        root = rootDirectory ?? makeTemporaryDirectory("coffer-rel")
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

    var arguments: [String] {
        let core = coreDirectory.map { ["/bin/sh", "-c", #"ulimit -c unlimited && cd "$0" && exec "$@""#, $0] } ?? []
        return core + launchPrefix + [
            Daemon.cofferd, "--state-dir", stateDirectory, "--socket", socketPath, "--admin-socket", adminSocketPath,
            "--log-level", "debug",
        ] + extraArguments
    }

    func start(waitForReady: Bool = true) throws {
        pid = try Subprocess.start(arguments, logPath: logPath, environment: environment)
        if waitForReady { try waitUntilReady() }
    }

    /// Polls until the socket answers a Hello (20 s at most: the machine may be busy).
    func waitUntilReady() throws {
        for _ in 0..<2_000 {
            if (try? hello()) != nil { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                pid = 0
                throw SubprocessError(message: "cofferd exited during start-up:\n\(log.suffix(4_000))")
            }
            usleep(10_000)
        }
        throw SubprocessError(message: "cofferd did not become ready:\n\(log.suffix(4_000))")
    }

    /// SIGTERM and wait; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard pid > 0 else { return -1 }
        kill(pid, SIGTERM)
        return reap()
    }

    /// SIGKILL and wait (a crash).
    func crash() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        reap()
    }

    /// Waits for the daemon to exit (after a signal sent by the test); returns its status as a shell would.
    @discardableResult
    func reap() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        pid = 0
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    var isRunning: Bool { pid > 0 && kill(pid, 0) == 0 }

    /// Forgets the pid of a daemon the caller has already reaped.
    func forgetPID() { pid = 0 }

    var log: String {
        (try? SafeFile.readAll(path: logPath, maxBytes: 64 << 20)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    func connect() throws -> RawConnection { try RawConnection(path: socketPath) }
    func connectAdmin() throws -> RawConnection { try RawConnection(path: adminSocketPath) }

    /// Writes a config file in the daemon's root and returns its path.
    func writeConfig(_ json: String, name: String = "config.json") throws -> String {
        let path = root + "/" + name
        try SafeFile.atomicReplace(path: path, mode: 0o600, contents: Array(json.utf8))
        return path
    }

    func hello() throws -> Document {
        let connection = try connect()
        return try connection.call(.hello, Hello.request(client: "reliability"))
    }

    // MARK: Figures from /proc

    /// Resident set size in KiB (`VmRSS`).
    var rssKiB: Int { ProcFS.statusField(pid: pid, "VmRSS") ?? -1 }
    /// Open descriptors (`/proc/PID/fd`).
    var descriptorCount: Int { ProcFS.descriptorCount(pid: pid) }
    /// User + system CPU time in clock ticks.
    var cpuTicks: Int { ProcFS.cpuTicks(pid: pid) }
}

enum ProcFS {
    /// A /proc file (their size reads as 0, so read until EOF).
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while bytes.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func statusField(pid: pid_t, _ name: String) -> Int? {
        guard let text = read("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return Int(line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    static func descriptorCount(pid: pid_t) -> Int {
        guard let directory = opendir("/proc/\(pid)/fd") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
        }
        return count
    }

    /// utime + stime (fields 14 and 15 of /proc/PID/stat, after the parenthesised name).
    static func cpuTicks(pid: pid_t) -> Int {
        guard let text = read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return -1 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return -1 }
        return user + system
    }

    static var ticksPerSecond: Int { Int(sysconf(Int32(_SC_CLK_TCK))) }
}

/// A blocking connection speaking the wire protocol directly.
final class RawConnection {
    let fd: FileDescriptor
    private var nextID: UInt32 = 1
    private var decoder = FrameDecoder()

    init(path: String, timeoutMilliseconds: Int = 20_000) throws {
        fd = try UnixSocket.connect(path: path)
        try fd.setReceiveTimeout(milliseconds: timeoutMilliseconds)
        try fd.setSendTimeout(milliseconds: timeoutMilliseconds)
    }

    func send(_ bytes: [UInt8]) throws { try fd.writeFully(bytes) }

    @discardableResult
    func sendRequest(_ operation: Operation, _ document: Document, id: UInt32? = nil) throws -> UInt32 {
        let requestID = id ?? nextID
        nextID = max(nextID, requestID) &+ 1
        if nextID == 0 { nextID = 1 }
        let header = FrameHeader(kind: .request, operation: operation, requestID: requestID)
        try send(try WireCodec.encodeFrame(header: header, document: document))
        return requestID
    }

    /// The next frame; nil when the daemon closed the connection (EOF or reset).
    func readFrame() throws -> Frame? {
        while true {
            if let frame = try decoder.readFrame() { return frame }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let result: IOResult
            do {
                result = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) }
            } catch let error as SystemError where error.errno == ECONNRESET {
                return nil
            }
            switch result {
            case .bytes(let count): decoder.writeBytes(Array(chunk[0..<count]))
            case .closed: return nil
            case .wouldBlock: throw SubprocessError(message: "timed out waiting for a reply")
            }
        }
    }

    /// Request → reply; an error reply throws `ServiceError`, a closed connection `ConnectionClosed`.
    func call(_ operation: Operation, _ document: Document) throws -> Document {
        let id = try sendRequest(operation, document)
        guard let frame = try readFrame() else { throw ConnectionClosed() }
        guard frame.header.requestID == id else {
            throw SubprocessError(message: "reply for request \(frame.header.requestID), expected \(id)")
        }
        let body = try frame.decodeDocument()
        if frame.header.kind == .error {
            throw ErrorReply(document: body)?.serviceError ?? ServiceError(.internalServiceError, "bad error reply")
        }
        return body
    }

    /// True if the daemon closed this connection (a read returns EOF within the receive timeout).
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        do {
            let result = try withUnsafeMutableBytes(of: &byte) { try fd.read(into: $0) }
            if case .closed = result { return true }
        } catch let error as SystemError where error.errno == ECONNRESET {
            return true
        } catch {}
        return false
    }
}

struct ConnectionClosed: Error {}

/// A local account for tests that need other uids (created once, idempotently; CI runs as root).
struct TestUser: Sendable {
    var name: String
    var uid: UInt32
    var gid: UInt32

    /// `setpriv` drops to this user before exec.
    var setprivPrefix: [String] { ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--"] }

    static let creation = Mutex<[String: TestUser]>([:])

    /// `coffr-<suffix>`, created with `useradd` if missing.
    static func named(_ suffix: String) throws -> TestUser {
        let name = "coffr-" + suffix
        return try creation.withLock { known in
            if let user = known[name] { return user }
            if try Accounts.uid(named: name) == nil {
                let result = try Subprocess.run([
                    "/usr/sbin/useradd", "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin",
                    name,
                ])
                guard result.status == 0 || result.status == 9 else {  // 9: already exists (a concurrent creation)
                    throw SubprocessError(message: "useradd \(name): \(result.stderrText)")
                }
            }
            guard let uid = try Accounts.uid(named: name), let gid = try Accounts.gid(named: name) else {
                throw SubprocessError(message: "no account \(name) after useradd")
            }
            let user = TestUser(name: name, uid: uid, gid: gid)
            known[name] = user
            return user
        }
    }
}

/// `mkdtemp` under /tmp (a real disk: fsync means something there).
func makeTemporaryDirectory(_ prefix: String, base: String = "/tmp") -> String {
    var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { buffer -> String in
        guard let start = buffer.baseAddress, let made = mkdtemp(start) else { return "\(base)/\(prefix)-\(getpid())" }
        return String(cString: made)
    }
}

extension Value {
    var secretBytes: [UInt8]? {
        if case .secret(let bytes, _) = self { return bytes.copyBytes() }
        return nil
    }
}

/// Percentile of sorted samples (nearest rank).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[max(0, min(sorted.count - 1, rank))]
}

/// Figures a test reports for docs/RELIABILITY.md: printed (`RELIABILITY-FIGURE name value`) and appended to
/// `$COFFER_FIGURES` when set (the make targets collect them there).
enum Figures {
    static func record(_ name: String, _ value: String) {
        let line = "RELIABILITY-FIGURE \(name) \(value)"
        print(line)
        guard let path = getenv("COFFER_FIGURES").map({ String(cString: $0) }) else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
