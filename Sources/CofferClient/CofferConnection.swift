import CofferCore
import CofferProtocol
import CofferSystem

/// Settings shared by ``CofferConnection`` and ``CofferClient``.
public struct ConnectionOptions: Sendable, Hashable {
    /// How long to wait for an answer, in milliseconds; 0 waits forever. The default leaves room for the slowest
    /// request (Unseal runs a deliberately slow key derivation) while still surfacing a hung daemon.
    public var timeoutMilliseconds: Int
    /// Send `Hello` first on each new connection (version check and the daemon's name). The daemon answers any
    /// version-1 request on a fresh connection, so this costs one round trip for information only.
    public var handshake: Bool
    /// `name/version` sent in Hello's `Client` member, for the daemon's log.
    public var clientName: String

    public init(timeoutMilliseconds: Int = 60_000, handshake: Bool = false, clientName: String = "coffer-swift/0.1") {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.handshake = handshake
        self.clientName = clientName
    }
}

/// A blocking connection to the daemon, for tools and the CLI: each call sends its request and waits for the answer
/// on the calling thread.
///
/// - Connects lazily on the first call and keeps the connection for the next ones. If the daemon went away in
///   between (it restarted), the request is sent again on a new connection when that is safe: always when it
///   could not be sent, and after a lost answer only for reads and token-idempotent writes (``RetryPolicy``).
/// - Thread-safe: calls from several threads are serialized. For concurrency on one connection use ``callAll(_:)``
///   (pipelined) or the async ``CofferClient``.
/// - Secret values travel as ``SensitiveBytes``; request frames that carried one are wiped after sending.
public final class CofferConnection: Sendable {
    public let socketPath: String
    public let options: ConnectionOptions

    private struct State: ~Copyable, Sendable {
        var socket: FileDescriptor?
        var decoder = FrameDecoder()
        var nextID: UInt32 = 1
        var server: ServerInfo?

        mutating func takeID() -> UInt32 {
            let id = nextID
            nextID = PendingTable<Int>.successor(of: id)
            return id
        }
    }

    private let state = Locked(State())

    /// A connection to `socketPath` (see ``CofferSocketPath``). Nothing is opened until the first call.
    public init(socketPath: String = CofferSocketPath.client(), options: ConnectionOptions = ConnectionOptions()) {
        self.socketPath = socketPath
        self.options = options
    }

    /// Opens the connection now (to report an unreachable daemon early); calls do it on demand otherwise.
    public func connect() throws(CofferClientError) {
        try state.withLock { (state) throws(CofferClientError) in _ = try ensureConnected(&state) }
    }

    /// Closes the connection; a later call opens a new one.
    public func close() {
        state.withLock { state in drop(&state) }
    }

    /// What Hello reported, once a handshake has happened (``ConnectionOptions/handshake`` or ``hello()``).
    public var serverInfo: ServerInfo? { state.withLock { $0.server } }

    // MARK: Calls

    /// Sends `request` as `operation` and returns the response document; an error reply throws
    /// ``CofferClientError/service(name:message:)``.
    public func call(_ operation: Operation, _ request: Document) throws(CofferClientError) -> Document {
        var frame = try RequestFrame.encode(operation, request)
        defer { wipe(&frame) }
        let resendable = RetryPolicy.isSafeToResend(operation, request)
        return try state.withLock { (state) throws(CofferClientError) -> Document in
            try roundTrip(&state, frame: &frame, resendable: resendable)
        }
    }

    /// GetSecretValue, typed.
    public func getSecretValue(
        secretId: String, versionId: String? = nil, versionStage: String? = nil
    )
        throws(CofferClientError) -> SecretValue
    {
        try SecretValue(
            document: try call(
                .getSecretValue,
                SecretsManagerRequests.getSecretValue(
                    secretId: secretId, versionId: versionId, versionStage: versionStage)))
    }

    /// Hello: the daemon's protocol version and name.
    public func hello() throws(CofferClientError) -> ServerInfo {
        let info = try ServerInfo(document: try call(.hello, Hello.request(client: options.clientName)))
        state.withLock { $0.server = info }
        return info
    }

    /// Sends all requests pipelined on this connection (at most ``Limits/maxInFlightPerConnection`` in flight, reading
    /// answers while sending) and returns one result per request, in the order given. The daemon may run them
    /// concurrently: do not batch a request that must see another's effect. A transport failure fails the requests
    /// still unanswered (nothing is resent).
    public func callAll(
        _ requests: [(Operation, Document)]
    ) throws(CofferClientError)
        -> [Result<Document, CofferClientError>]
    {
        var frames: [[UInt8]] = []
        frames.reserveCapacity(requests.count)
        defer { for index in frames.indices { wipe(&frames[index]) } }
        for (operation, request) in requests { frames.append(try RequestFrame.encode(operation, request)) }
        return try state.withLock { (state) throws(CofferClientError) -> [Result<Document, CofferClientError>] in
            try pipeline(&state, frames: &frames)
        }
    }

    // MARK: Internals (all run with the lock held)

    private func ensureConnected(_ state: inout State) throws(CofferClientError) -> (FileDescriptor, fresh: Bool) {
        if let socket = state.socket { return (socket, false) }
        let socket: FileDescriptor
        do {
            socket = try UnixSocket.connect(path: socketPath)
            if options.timeoutMilliseconds > 0 {
                try socket.setReceiveTimeout(milliseconds: options.timeoutMilliseconds)
                try socket.setSendTimeout(milliseconds: options.timeoutMilliseconds)
            }
        } catch {
            throw CofferClientError.transport(error)
        }
        state.socket = socket
        state.decoder.reset()
        if options.handshake {
            var frame = try RequestFrame.encode(.hello, Hello.request(client: options.clientName))
            let document = try exchange(&state, socket: socket, frame: &frame)
            state.server = try ServerInfo(document: document)
        }
        return (socket, true)
    }

    private func drop(_ state: inout State) {
        state.socket?.close()
        state.socket = nil
        state.decoder.reset()
    }

    private func roundTrip(
        _ state: inout State, frame: inout [UInt8], resendable: Bool
    ) throws(CofferClientError)
        -> Document
    {
        let (socket, fresh) = try ensureConnected(&state)
        var sent = false
        do {
            return try exchange(&state, socket: socket, frame: &frame, sent: &sent)
        } catch .connectionClosed where !fresh && (resendable || !sent) {
            // A kept connection that the daemon closed in the meantime (it restarted, or the idle timeout passed):
            // once more on a new connection. An unsent request is always safe to send again; one whose answer was
            // lost only if `resendable`.
            let (again, _) = try ensureConnected(&state)
            return try exchange(&state, socket: again, frame: &frame, sent: &sent)
        }
    }

    /// One request, one answer, on `socket`. `sent` becomes true once the whole request has left this process.
    /// Drops the connection on any transport failure.
    private func exchange(
        _ state: inout State, socket: FileDescriptor, frame: inout [UInt8], sent: inout Bool
    )
        throws(CofferClientError) -> Document
    {
        let id = state.takeID()
        RequestFrame.setRequestID(id, in: &frame)
        sent = false
        do {
            try socket.writeFully(frame)
        } catch {
            drop(&state)
            throw mapped(error)
        }
        sent = true
        while true {
            switch try nextFrame(&state, socket: socket) {
            case .reply(let replyID, let result) where replyID == id:
                return try result.get()
            case .reply:
                continue  // the answer to an earlier request that timed out: nobody waits for it any more
            case .fatal(let error):
                drop(&state)
                throw error
            }
        }
    }

    private func exchange(
        _ state: inout State, socket: FileDescriptor, frame: inout [UInt8]
    )
        throws(CofferClientError) -> Document
    {
        var sent = false
        return try exchange(&state, socket: socket, frame: &frame, sent: &sent)
    }

    /// The next frame from the daemon, reading as needed. Drops the connection on EOF, timeout or a framing error.
    private func nextFrame(_ state: inout State, socket: FileDescriptor) throws(CofferClientError) -> IncomingFrame {
        while true {
            do {
                if let frame = try state.decoder.readFrame(IncomingFrame.classify) { return frame }
            } catch {
                drop(&state)
                throw .malformedReply(error.message)
            }
            var failure: CofferClientError?
            state.decoder.writeWithUnsafeMutableBytes(minimumWritableBytes: 4_096) { buffer -> Int in
                do {
                    switch try socket.read(into: buffer) {
                    case .bytes(let count): return count
                    case .closed: failure = .connectionClosed
                    case .wouldBlock: failure = .timedOut(milliseconds: options.timeoutMilliseconds)
                    }
                } catch {
                    failure = mapped(error)
                }
                return 0
            }
            if let failure {
                drop(&state)
                throw failure
            }
        }
    }

    private func mapped(_ error: any Error) -> CofferClientError {
        let mapped = CofferClientError.transport(error)
        if case .timedOut = mapped { return .timedOut(milliseconds: options.timeoutMilliseconds) }
        return mapped
    }

    private func pipeline(
        _ state: inout State, frames: inout [[UInt8]]
    ) throws(CofferClientError)
        -> [Result<Document, CofferClientError>]
    {
        var results = [Result<Document, CofferClientError>?](repeating: nil, count: frames.count)
        guard !frames.isEmpty else { return [] }
        let (socket, _) = try ensureConnected(&state)
        var slots = PendingTable<Int>(firstID: state.nextID)
        defer {
            state.nextID = PendingTable<Int>.successor(of: state.nextID &+ UInt32(truncatingIfNeeded: frames.count))
        }
        var nextToSend = 0
        var answered = 0
        var failure: CofferClientError?
        while answered < frames.count {
            while failure == nil, nextToSend < frames.count, slots.count < Limits.maxInFlightPerConnection {
                let id = slots.insert(nextToSend)
                RequestFrame.setRequestID(id, in: &frames[nextToSend])
                do {
                    try socket.writeFully(frames[nextToSend])
                } catch {
                    failure = mapped(error)
                    break
                }
                nextToSend += 1
            }
            if failure == nil {
                do {
                    switch try nextFrame(&state, socket: socket) {
                    case .reply(let id, let result):
                        if let index = slots.remove(id) {
                            results[index] = result
                            answered += 1
                        }
                    case .fatal(let error):
                        failure = error
                    }
                } catch {
                    failure = error
                }
            }
            if let failure {
                drop(&state)
                for index in results.indices where results[index] == nil { results[index] = .failure(failure) }
                break
            }
        }
        return results.map { $0 ?? .failure(.connectionClosed) }
    }
}
