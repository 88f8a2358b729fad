import CofferCore
import CofferProtocol

/// The async client: every Secrets Manager operation as an `async` method with AWS's parameter names, over one
/// reused, pipelined connection.
///
/// ```swift
/// let client = CofferClient()                       // $COFFER_SOCKET or /run/coffer/coffer.sock
/// let secret = try await client.getSecretValue(secretId: "app/db-password")
/// secret.value.withUnsafeBytes { useTheBytes($0) }
/// ```
///
/// - **Connection reuse and pipelining**: all calls share one connection, opened on first use. Concurrent calls are
///   all in flight at once; each reply is matched to its call by request id, whatever the order the daemon answers
///   in. See ``AsyncConnection`` for the threading (one I/O thread per connection; callers never block a Swift
///   concurrency thread on I/O).
/// - **Reconnect**: when the daemon closed the connection (restart, idle timeout), the next call opens a new one. A
///   call whose request could not be delivered is sent again on the new connection; one whose reply was lost is
///   sent again only if it is a read or carries a ClientRequestToken (which this client adds to Create, Put, Update
///   and Rotate, as the AWS SDKs do). Otherwise it fails with ``CofferClientError/connectionClosed``.
/// - **Errors** are ``CofferClientError``: the daemon's AWS error (`.service(name:message:)`, with
///   ``CofferClientError/code``) or a transport failure.
/// - **Cancellation**: cancelling a task fails its call with ``CofferClientError/cancelled`` at once.
public final class CofferClient: Sendable {
    public let socketPath: String
    public let options: ConnectionOptions

    private struct State: Sendable {
        var connection: AsyncConnection?
        /// The connection being opened (connect and Hello); concurrent first calls wait for this one.
        var opening: Task<Result<AsyncConnection, CofferClientError>, Never>?
        var server: ServerInfo?
    }

    private let state = Locked(State())

    /// A client for the daemon at `socketPath`. Nothing is opened until the first call. With
    /// ``ConnectionOptions/handshake`` (the default here) each new connection starts with Hello.
    public init(
        socketPath: String = CofferSocketPath.client(),
        options: ConnectionOptions = ConnectionOptions(handshake: true)
    ) {
        self.socketPath = socketPath
        self.options = options
    }

    deinit { state.withLock { $0.connection?.close() } }

    /// Closes the connection; calls in flight fail with ``CofferClientError/connectionClosed``. A later call opens a
    /// new connection.
    public func close() {
        let connection = state.withLock { state -> AsyncConnection? in
            defer { state.connection = nil }
            return state.connection
        }
        connection?.close()
    }

    /// What Hello reported on the current connection (with ``ConnectionOptions/handshake``, or after ``hello()``).
    public var serverInfo: ServerInfo? { state.withLock { $0.server } }

    // MARK: Generic call

    /// Sends `request` as `operation` and returns the response document. An error reply throws
    /// ``CofferClientError/service(name:message:)``.
    public func call(_ operation: Operation, _ request: Document) async throws(CofferClientError) -> Document {
        var frame = try RequestFrame.encode(operation, request)
        defer { wipe(&frame) }
        let resendable = RetryPolicy.isSafeToResend(operation, request)
        var retried = false
        while true {
            let (connection, fresh) = try await connection()
            let reply: AsyncConnection.Reply
            switch connection.send(&frame) {
            case .failure(let error):
                // Not delivered: always safe to send again, once, on a new connection.
                guard !fresh, !retried else { throw error }
                retried = true
                continue
            case .success(let id):
                reply = await connection.wait(for: id)
            }
            if case .failure(.connectionClosed) = reply, !fresh, !retried, resendable {
                retried = true
                continue
            }
            return try reply.get()
        }
    }

    /// Hello: the daemon's protocol version and name.
    public func hello() async throws(CofferClientError) -> ServerInfo {
        let info = try ServerInfo(document: try await call(.hello, Hello.request(client: options.clientName)))
        state.withLock { $0.server = info }
        return info
    }

    /// The open connection, or a new one; `fresh` when it was opened for this call or concurrent ones (a failure on
    /// a fresh connection is not retried). One task opens; calls arriving meanwhile wait for it.
    private func connection() async throws(CofferClientError) -> (AsyncConnection, fresh: Bool) {
        enum Step {
            case ready(AsyncConnection)
            case opening(Task<Result<AsyncConnection, CofferClientError>, Never>)
        }
        let step = state.withLock { state -> Step in
            if let current = state.connection, current.isOpen { return .ready(current) }
            if let opening = state.opening { return .opening(opening) }
            let opening = Task { await self.open() }
            state.opening = opening
            return .opening(opening)
        }
        switch step {
        case .ready(let connection): return (connection, false)
        case .opening(let task): return (try await task.value.get(), true)
        }
    }

    /// Connects (and says Hello with ``ConnectionOptions/handshake``), then installs the connection.
    private func open() async -> Result<AsyncConnection, CofferClientError> {
        let outcome: Result<(AsyncConnection, ServerInfo?), CofferClientError>
        do throws(CofferClientError) {
            let opened = try AsyncConnection.open(path: socketPath, timeoutMilliseconds: options.timeoutMilliseconds)
            var info: ServerInfo?
            if options.handshake {
                var frame = try RequestFrame.encode(.hello, Hello.request(client: options.clientName))
                let reply: AsyncConnection.Reply
                switch opened.send(&frame) {
                case .failure(let error): reply = .failure(error)
                case .success(let id): reply = await opened.wait(for: id)
                }
                do throws(CofferClientError) {
                    info = try ServerInfo(document: try reply.get())
                } catch {
                    opened.close()
                    throw error
                }
            }
            outcome = .success((opened, info))
        } catch {
            outcome = .failure(error)
        }
        return state.withLock { state -> Result<AsyncConnection, CofferClientError> in
            state.opening = nil
            switch outcome {
            case .success(let (connection, info)):
                state.connection = connection
                state.server = info
                return .success(connection)
            case .failure(let error):
                return .failure(error)
            }
        }
    }
}
