import CCofferBench
import CofferProtocol
import CofferSystem
import Glibc

/// A server process the benchmark started (cofferd or the raw echo server), with the time it took to be ready.
final class ServerProcess {
    let name: String
    let socketPath: String
    let pid: pid_t
    /// Spawn to `READY=1` on the notify socket, in milliseconds.
    let readyMilliseconds: Double
    /// Spawn to the first answered Hello, in milliseconds.
    let helloMilliseconds: Double
    private var stopped = false

    /// Spawns `arguments` with `NOTIFY_SOCKET` pointing at a datagram socket this process owns, waits for
    /// `READY=1`, then for the socket to answer a Hello. Logs go to `logPath`.
    init(name: String, arguments: [String], socketPath: String, notifyPath: String, logPath: String) throws {
        self.name = name
        self.socketPath = socketPath
        let notify = cb_notify_open(notifyPath)
        try BenchError.check(notify, "\(name): notify socket \(notifyPath)")
        defer {
            close(notify)
            unlink(notifyPath)
        }
        var started: UInt64 = 0
        let pid = try withCStrings(arguments) { argv in
            try withCStrings(["NOTIFY_SOCKET=" + notifyPath]) { environment in
                let pid = cb_spawn(argv, environment, logPath, &started)
                try BenchError.check(pid, "\(name): spawn \(arguments[0])")
                return pid
            }
        }
        self.pid = pid
        var ready: UInt64 = 0
        let waited = cb_notify_wait_ready(notify, 600_000, &ready)
        if waited != 0 {
            kill(pid, SIGKILL)
            _ = cb_wait(pid)
            throw BenchError("\(name) did not become ready (\(String(cString: strerror(-waited)))); see \(logPath)")
        }
        readyMilliseconds = Double(ready - started) / 1e6
        let hello = try Requests.hello()
        var answered: UInt64 = 0
        let kind = hello.withUnsafeBufferPointer { cb_probe(socketPath, $0.baseAddress, $0.count, 10_000, &answered) }
        guard kind >= 0 else {
            kill(pid, SIGKILL)
            _ = cb_wait(pid)
            throw BenchError(
                "\(name) is ready but does not answer on \(socketPath): \(String(cString: strerror(-kind)))")
        }
        helloMilliseconds = Double(answered - started) / 1e6
    }

    /// Resident set size now (`VmRSS`) and its peak (`VmHWM`), in MiB.
    var residentMiB: (current: Double, peak: Double) {
        let current = procStatusKiB(pid: pid, field: "VmRSS").map { Double($0) / 1_024 } ?? .nan
        let peak = procStatusKiB(pid: pid, field: "VmHWM").map { Double($0) / 1_024 } ?? .nan
        return (current, peak)
    }

    /// SIGTERM, then up to `graceSeconds` for a clean exit (cofferd checkpoints its WAL), then SIGKILL.
    @discardableResult
    func stop(graceSeconds: Int = 120) -> Int32 {
        guard !stopped else { return 0 }
        stopped = true
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<(graceSeconds * 100) {
            if cb_try_wait(pid, &status) != 0 {
                unlink(socketPath)
                return status
            }
            pause(milliseconds: 10)
        }
        kill(pid, SIGKILL)
        let killed = cb_wait(pid)
        unlink(socketPath)
        return killed
    }

    deinit { stop(graceSeconds: 10) }
}

/// Calls `body` with a NULL-terminated `char *[]` of `strings`.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) throws -> R) throws -> R {
    var pointers: [UnsafePointer<CChar>?] = strings.map { UnsafePointer(strdup($0)) }
    pointers.append(nil)
    defer { for pointer in pointers { free(UnsafeMutablePointer(mutating: pointer)) } }
    return try pointers.withUnsafeBufferPointer { buffer in
        guard let base = buffer.baseAddress else { throw BenchError("argument vector") }
        return try body(base)
    }
}

/// One GetSecretValue over a fresh connection, decoded with the product's codec: the reply's wire size (the raw
/// server answers with the same number of bytes) and whether the value is `expected`.
func probeGet(socketPath: String, name: String, expected: String) throws -> (replyBytes: Int, valueMatches: Bool) {
    let fd = try UnixSocket.connect(path: socketPath)
    defer { fd.close() }
    try fd.writeFully(try Requests.getSecretValue(name))
    var prefix = [UInt8](repeating: 0, count: 4)
    guard try prefix.withUnsafeMutableBytes({ try fd.readFully(into: $0) }) == 4 else {
        throw BenchError("GetSecretValue probe: connection closed")
    }
    let length = prefix.reduce(0) { $0 << 8 | Int($1) }
    guard length >= 8, length <= WireFormat.maximumFrameLength else { throw BenchError("bad reply length \(length)") }
    var rest = [UInt8](repeating: 0, count: length)
    guard try rest.withUnsafeMutableBytes({ try fd.readFully(into: $0) }) == length else {
        throw BenchError("GetSecretValue probe: short reply")
    }
    var decoder = FrameDecoder()
    decoder.writeBytes(prefix + rest)
    guard let frame = try decoder.readDecodedFrame() else { throw BenchError("GetSecretValue probe: no frame") }
    let document = try frame.document.get()
    guard frame.header.kind == .response else {
        throw BenchError("GetSecretValue \(name) answered \(ErrorReply(document: document)?.description ?? "?")")
    }
    var matches = false
    if case .secret(let value, _)? = document["SecretString"] {
        matches = value.withUnsafeBytes { $0.elementsEqual(expected.utf8) }
    }
    return (4 + length, matches)
}
