import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Synchronization

/// A scripted stand-in for cofferd on a real Unix socket in a temp directory: each accepted connection runs `script`
/// on its own thread with blocking I/O. Tests use it to check what the client sends, answer out of order, close
/// connections, stay silent, or send garbage.
final class FakeDaemon: Sendable {
    let path: String
    let directory: String
    private let listener: UnixListener
    private let shared = Shared()
    private let acceptor: Mutex<Thread?> = Mutex(nil)

    /// What the accept thread and the connection threads update.
    private final class Shared: Sendable {
        let stopped = Atomic<Bool>(false)
        let accepted = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let open = Mutex<[FileDescriptor]>([])
    }

    convenience init(script: @escaping @Sendable (FakeConnection) -> Void) throws {
        try self.init(at: try TempDirectory.make() + "/d.sock", script: script)
    }

    /// A daemon on `path` (whose directory must exist), e.g. the path of a stopped one: a restart.
    init(at path: String, script: @escaping @Sendable (FakeConnection) -> Void) throws {
        self.path = path
        directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        listener = try UnixListener.bind(path: path, mode: 0o600)
        let thread = try Thread.spawn(name: "fake-accept") { [listener, shared] in
            let epoll: Epoll
            do {
                epoll = try Epoll(maxEvents: 4)
                try epoll.add(listener.descriptor.rawValue, events: .readable, userData: 0)
            } catch {
                return
            }
            var events: [Epoll.Event] = []
            while !shared.stopped.load(ordering: .acquiring) {
                _ = try? epoll.wait(into: &events, timeoutMilliseconds: 20)
                while let socket = try? listener.accept() {
                    shared.accepted.add(1, ordering: .relaxed)
                    try? socket.setNonBlocking(false)
                    shared.open.withLock { $0.append(socket) }
                    _ = try? Thread.spawn(name: "fake-conn") {
                        let connection = FakeConnection(socket)
                        script(connection)
                        connection.close()
                        shared.finished.add(1, ordering: .releasing)
                    }
                }
            }
        }
        acceptor.withLock { $0 = thread }
    }

    /// Connections accepted so far.
    var connectionCount: Int { shared.accepted.load(ordering: .relaxed) }

    /// Connections whose script has ended and whose socket is closed.
    var closedCount: Int { shared.finished.load(ordering: .acquiring) }

    /// Stops accepting, removes the socket and shuts every open connection down, as a daemon that exits does.
    func stop() {
        shared.stopped.store(true, ordering: .releasing)
        acceptor.withLock { $0 }?.join()
        listener.removeSocketFile()
        listener.descriptor.close()
        for socket in shared.open.withLock({ $0 }) where socket.isOpen { try? socket.shutdown(.both) }
    }

    deinit {
        stop()
        _ = rmdir(directory)
    }
}

/// One accepted connection, driven by a script on the connection's own thread.
final class FakeConnection {
    let socket: FileDescriptor
    private var decoder = FrameDecoder()

    init(_ socket: FileDescriptor) { self.socket = socket }

    /// The next request (header and decoded body), or nil at end of stream.
    func next() -> (header: FrameHeader, document: Document)? {
        while true {
            if let frame = try? decoder.readFrame() {
                let document = (try? frame.decodeDocument()) ?? Document()
                return (frame.header, document)
            }
            var count = 0
            decoder.writeWithUnsafeMutableBytes(minimumWritableBytes: 4_096) { buffer in
                count =
                    (try? socket.read(into: buffer)).flatMap { result -> Int? in
                        if case .bytes(let n) = result { return n }
                        return nil
                    } ?? 0
                return count
            }
            if count == 0 { return nil }
        }
    }

    func respond(to header: FrameHeader, _ document: Document) {
        guard let bytes = try? WireCodec.encodeFrame(header: header.reply(.response), document: document) else {
            return
        }
        send(bytes)
    }

    func fail(_ header: FrameHeader, _ error: ServiceError) {
        guard let bytes = try? Frame.errorReply(to: header, error).encoded() else { return }
        send(bytes)
    }

    func send(_ bytes: [UInt8]) { try? socket.writeFully(bytes) }

    func close() { socket.close() }
}

enum TempDirectory {
    static func make() throws -> String {
        var template = Array("/tmp/coffer-client-XXXXXX".utf8CString)
        let result = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        guard let result else { throw SystemError(call: "mkdtemp", errno: errno) }
        return result
    }
}

/// The GetSecretValue response of docs/PROTOCOL.md section 12.3 for `name`, with `value` as SecretString.
func secretResponse(
    name: String, value: String, versionId: String = "4b2e7b9a-3c1d-4e8f-9a0b-1c2d3e4f5a6b"
)
    -> Document
{
    [
        "ARN": .string("arn:coffer:secretsmanager:local:123456789012:secret:\(name)-AbCdEf"),
        "Name": .string(name),
        "VersionId": .string(versionId),
        "SecretString": .secret(SensitiveBytes(copying: value.utf8), isString: true),
        "VersionStages": .list(["AWSCURRENT"]),
        "CreatedDate": .timestamp(Timestamp(milliseconds: 1_795_961_621_123)),
    ]
}

extension SensitiveBytes {
    /// For assertions in tests only.
    var utf8Text: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
}

/// Polls `condition` every millisecond for up to five seconds; true once it holds.
func eventually(_ condition: () -> Bool) -> Bool {
    for _ in 0..<5_000 {
        if condition() { return true }
        usleep(1_000)
    }
    return condition()
}

/// ``eventually(_:)`` for async tests: sleeps without holding a concurrency thread.
func eventually(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<5_000 {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return condition()
}
