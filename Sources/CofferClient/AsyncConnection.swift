import CofferCore
import CofferProtocol
import CofferSystem

/// One pipelined connection for the async ``CofferClient``.
///
/// ## Threading
/// - The socket is non-blocking. Nothing here blocks a Swift concurrency thread: a caller (any task) encodes its
///   frame, registers itself in the table of requests in flight under a fresh request id, and writes the frame
///   straight to the socket; whatever the kernel does not take at once goes to an outbox. The caller then suspends on
///   a continuation.
/// - One dedicated I/O thread per connection (``CofferSystem/Thread``) waits in `epoll_wait` on the socket and an
///   eventfd. It reads and decodes replies, finds each one's waiter by request id (replies may come in any order)
///   and resumes it; it flushes the outbox when the socket becomes writable; it expires requests past their
///   deadline. It never waits on anything but epoll, so replies keep being read while callers write (the daemon
///   stops reading a connection with 64 requests in flight until replies drain, docs/PROTOCOL.md section 6).
/// - Two locks, never held together and never across a wait: `state` (the requests in flight; no system call under
///   it) and `writer` (the socket's write side and the outbox, so that frames never interleave). Continuations are
///   resumed with no lock held.
/// - The connection ends when the daemon closes it, sends something unreadable, or ``close()`` is called: every
///   request still in flight fails with ``CofferClientError/connectionClosed`` (or the connection-level error), and
///   the I/O thread closes the socket (under `writer`, so no caller can write to a reused descriptor number) and exits.
/// - Secret bytes: callers wipe their frames after ``send(_:)``. A frame the kernel did not take at once is copied to
///   the outbox, which is wiped when drained (a reallocation while it grows can leave a freed copy behind, as with
///   any Swift array; the outbox is used only while the socket buffer is full).
final class AsyncConnection: Sendable {
    typealias Reply = Result<Document, CofferClientError>
    typealias Continuation = CheckedContinuation<Reply, Never>

    /// A request in flight. It is registered as `sent` before its task suspends, so a reply (or a failure) may arrive
    /// first; it is then parked as `done` until the task comes to collect it.
    enum Waiter: Sendable {
        case sent(deadline: ContinuousClock.Instant?)
        case waiting(Continuation, deadline: ContinuousClock.Instant?)
        case done(Reply)

        var deadline: ContinuousClock.Instant? {
            switch self {
            case .sent(let deadline), .waiting(_, let deadline): return deadline
            case .done: return nil
            }
        }
    }

    private struct State: ~Copyable, Sendable {
        var pending = PendingTable<Waiter>()
        /// Set once the connection is finished; no request is accepted after that.
        var ended: CofferClientError?
        var closeRequested = false
    }

    private struct Writer: ~Copyable, Sendable {
        /// Bytes accepted from callers and not yet written, from `outboxStart` on; wiped once all are written.
        var outbox: [UInt8] = []
        var outboxStart = 0
        /// No more writes: a write failed (the stream may hold part of a frame) or the socket is closed.
        var stopped = false
    }

    private let socket: FileDescriptor
    private let wake: EventFD
    private let epoll: Epoll
    private let state = Locked(State())
    private let writer = Locked(Writer())
    private let timeoutMilliseconds: Int

    private init(socket: FileDescriptor, wake: EventFD, epoll: Epoll, timeoutMilliseconds: Int) {
        self.socket = socket
        self.wake = wake
        self.epoll = epoll
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Connects to `path` and starts the I/O thread. `connect(2)` on an AF_UNIX stream socket completes or fails at
    /// once (it never waits for the server to accept), so this does not block a concurrency thread for long.
    static func open(path: String, timeoutMilliseconds: Int) throws(CofferClientError) -> AsyncConnection {
        let connection: AsyncConnection
        do {
            let socket = try UnixSocket.connect(path: path)
            try socket.setNonBlocking()
            let wake = try EventFD()
            let epoll = try Epoll(maxEvents: 4)
            try epoll.add(socket.rawValue, events: [.readable, .readHangup], userData: 0)
            try epoll.add(wake.descriptor.rawValue, events: .readable, userData: 1)
            connection = AsyncConnection(
                socket: socket, wake: wake, epoll: epoll, timeoutMilliseconds: timeoutMilliseconds)
            _ = try Thread.spawn(name: "coffer-client") { connection.runLoop() }
        } catch {
            throw CofferClientError.transport(error)
        }
        return connection
    }

    /// False once the connection has ended; a client then opens a new one.
    var isOpen: Bool { state.withLock { $0.ended == nil && !$0.closeRequested } }

    /// Ends the connection: requests in flight fail with ``CofferClientError/connectionClosed``.
    func close() {
        state.withLock { $0.closeRequested = true }
        try? wake.signal()
    }

    // MARK: Caller side

    private enum WriteOutcome {
        case written
        case queued(wake: Bool)
        case failed
    }

    /// Registers a request and writes its frame (patching in the request id); returns the id to ``wait(for:)`` on.
    /// Fails, with nothing delivered to the daemon, when the connection has ended or the write fails.
    func send(_ frame: inout [UInt8]) -> Result<UInt32, CofferClientError> {
        let deadline: ContinuousClock.Instant? =
            timeoutMilliseconds > 0 ? ContinuousClock.now.advanced(by: .milliseconds(timeoutMilliseconds)) : nil
        let registered = state.withLock { state -> UInt32? in
            guard state.ended == nil, !state.closeRequested else { return nil }
            return state.pending.insert(.sent(deadline: deadline))
        }
        guard let id = registered else { return .failure(.connectionClosed) }
        RequestFrame.setRequestID(id, in: &frame)
        switch write(frame) {
        case .written:
            return .success(id)
        case .queued(let needsWake):
            if needsWake { try? wake.signal() }  // the I/O thread arms EPOLLOUT for the rest
            return .success(id)
        case .failed:
            // Part of a frame may have gone out: the stream is out of step, so this connection is finished. The
            // daemon never runs an incomplete frame, so the request was not delivered.
            state.withLock { state in
                _ = state.pending.remove(id)
                state.closeRequested = true
            }
            try? wake.signal()
            return .failure(.connectionClosed)
        }
    }

    private func write(_ frame: [UInt8]) -> WriteOutcome {
        writer.withLock { writer -> WriteOutcome in
            if writer.stopped { return .failed }
            guard writer.outbox.isEmpty else {
                writer.outbox.append(contentsOf: frame)  // behind bytes already queued; the I/O thread is armed
                return .queued(wake: false)
            }
            var written = 0
            do {
                written = try frame.withUnsafeBytes { raw -> Int in
                    var done = 0
                    while done < raw.count {
                        switch try socket.send(UnsafeRawBufferPointer(rebasing: raw[done...])) {
                        case .bytes(let count): done += count
                        case .wouldBlock: return done
                        case .closed: throw SocketError.closed
                        }
                    }
                    return done
                }
            } catch {
                writer.stopped = true
                return .failed
            }
            guard written < frame.count else { return .written }
            writer.outbox.append(contentsOf: frame[written...])
            return .queued(wake: true)
        }
    }

    /// Waits for the reply to request `id`. Cancelling the task fails the wait with
    /// ``CofferClientError/cancelled`` at once (the daemon may still carry the request out; its reply is dropped).
    func wait(for id: UInt32) async -> Reply {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: Continuation) in attach(continuation, to: id) }
        } onCancel: {
            finish([(id, .failure(.cancelled))])
        }
    }

    private func attach(_ continuation: Continuation, to id: UInt32) {
        let ready = state.withLock { state -> Reply? in
            switch state.pending[id] {
            case .sent(let deadline)?:
                state.pending[id] = .waiting(continuation, deadline: deadline)
                return nil
            case .done(let reply)?:
                _ = state.pending.remove(id)
                return reply
            case .waiting?, nil:
                return .failure(.malformedReply("request \(id) is not in flight"))  // unreachable: one wait per send
            }
        }
        if let ready { continuation.resume(returning: ready) }
    }

    /// Completes requests with their replies, under one lock, unless they already completed (a late reply after a
    /// cancel or a timeout is dropped); resumes the waiters afterwards.
    private func finish(_ replies: [(UInt32, Reply)]) {
        let ready = state.withLock { state -> [(Continuation, Reply)] in
            var ready: [(Continuation, Reply)] = []
            for (id, reply) in replies {
                switch state.pending[id] {
                case .sent?:
                    state.pending[id] = .done(reply)
                case .waiting(let continuation, _)?:
                    _ = state.pending.remove(id)
                    ready.append((continuation, reply))
                case .done?, nil:
                    break
                }
            }
            return ready
        }
        for (continuation, reply) in ready { continuation.resume(returning: reply) }
    }

    // MARK: I/O thread

    private func runLoop() {
        var decoder = FrameDecoder()
        var events: [Epoll.Event] = []
        var replies: [(UInt32, Reply)] = []
        var writable = false
        var timeout = pollTimeout()
        let end: CofferClientError
        loop: while true {
            do {
                try epoll.wait(into: &events, timeoutMilliseconds: timeout)
            } catch {
                end = CofferClientError.transport(error)
                break loop
            }
            if events.contains(where: { $0.userData == 1 }) { _ = try? wake.drain() }
            if state.withLock({ $0.closeRequested }) {
                end = .connectionClosed
                break loop
            }
            // Reads first: they free the daemon to read more of what is queued.
            if events.contains(where: { $0.userData == 0 }) {
                let failure = readAvailable(&decoder, into: &replies)
                finish(replies)
                replies.removeAll(keepingCapacity: true)
                if let failure {
                    end = failure
                    break loop
                }
            }
            switch flushOutbox() {
            case .failure(let failure):
                end = failure
                break loop
            case .success(let needsWritable) where needsWritable != writable:
                let events: Epoll.Events =
                    needsWritable ? [.readable, .readHangup, .writable] : [.readable, .readHangup]
                do {
                    try epoll.modify(socket.rawValue, events: events, userData: 0)
                } catch {
                    end = CofferClientError.transport(error)
                    break loop
                }
                writable = needsWritable
            case .success:
                break
            }
            timeout = expireDeadlinesAndComputeTimeout()
        }
        shutdown(end)
        decoder.reset()
    }

    /// Milliseconds until the earliest deadline; with nothing in flight, one whole request timeout (-1 without one).
    /// Callers do not wake this thread when they send, so a request sent while it sleeps must not outlive its
    /// deadline by more than a moment: its deadline is at least one timeout after the sleep began, the sleep ends by
    /// then, and re-arms for the exact remainder. That costs one idle wake-up per timeout, and nothing per request.
    private func pollTimeout(earliest: ContinuousClock.Instant? = nil) -> Int32 {
        guard timeoutMilliseconds > 0 else { return -1 }
        guard let earliest else { return Int32(clamping: timeoutMilliseconds) }
        let remaining = ContinuousClock.now.duration(to: earliest)
        if remaining <= .zero { return 0 }
        let (seconds, attoseconds) = remaining.components
        return Int32(clamping: seconds * 1_000 + attoseconds / 1_000_000_000_000_000 + 1)
    }

    /// Fails the requests past their deadline and returns the next epoll timeout.
    private func expireDeadlinesAndComputeTimeout() -> Int32 {
        guard timeoutMilliseconds > 0 else { return -1 }
        let now = ContinuousClock.now
        var earliest: ContinuousClock.Instant?
        let expired = state.withLock { state -> [UInt32] in
            var expired: [UInt32] = []
            for (id, waiter) in state.pending.entries {
                guard let deadline = waiter.deadline else { continue }
                if deadline <= now {
                    expired.append(id)
                } else if earliest.map({ deadline < $0 }) ?? true {
                    earliest = deadline
                }
            }
            return expired
        }
        if !expired.isEmpty {
            finish(expired.map { ($0, .failure(.timedOut(milliseconds: timeoutMilliseconds))) })
        }
        return pollTimeout(earliest: earliest)
    }

    /// Reads everything the socket has and collects each complete frame's reply; a non-nil result ends the
    /// connection (the replies collected before it are still delivered).
    private func readAvailable(
        _ decoder: inout FrameDecoder, into replies: inout [(UInt32, Reply)]
    )
        -> CofferClientError?
    {
        while true {
            var outcome: IOResult = .wouldBlock
            var failure: CofferClientError?
            decoder.writeWithUnsafeMutableBytes(minimumWritableBytes: 16_384) { buffer -> Int in
                do {
                    outcome = try socket.read(into: buffer)
                } catch {
                    failure = CofferClientError.transport(error)
                    return 0
                }
                if case .bytes(let count) = outcome { return count }
                return 0
            }
            if let failure { return failure }
            while true {
                let frame: IncomingFrame?
                do {
                    frame = try decoder.readFrame(IncomingFrame.classify)
                } catch {
                    return .malformedReply(error.message)
                }
                guard let frame else { break }
                switch frame {
                case .reply(let id, let reply): replies.append((id, reply))
                case .fatal(let error): return error
                }
            }
            switch outcome {
            case .bytes: continue
            case .wouldBlock: return nil
            case .closed: return .connectionClosed
            }
        }
    }

    /// Writes queued bytes; `.success(true)` when some remain (wait for EPOLLOUT).
    private func flushOutbox() -> Result<Bool, CofferClientError> {
        writer.withLock { writer -> Result<Bool, CofferClientError> in
            guard !writer.outbox.isEmpty, !writer.stopped else { return .success(false) }
            var start = writer.outboxStart
            do {
                try writer.outbox.withUnsafeBytes { raw in
                    while start < raw.count {
                        switch try socket.send(UnsafeRawBufferPointer(rebasing: raw[start...])) {
                        case .bytes(let count): start += count
                        case .wouldBlock: return
                        case .closed: throw SocketError.closed
                        }
                    }
                }
            } catch {
                writer.stopped = true
                return .failure(CofferClientError.transport(error))
            }
            if start < writer.outbox.count {
                writer.outboxStart = start
                return .success(true)
            }
            wipe(&writer.outbox)
            writer.outbox = []
            writer.outboxStart = 0
            return .success(false)
        }
    }

    /// Ends the connection: no new requests, every waiter fails with `error`, the socket closes.
    private func shutdown(_ error: CofferClientError) {
        let continuations = state.withLock { state -> [Continuation] in
            state.ended = error
            var continuations: [Continuation] = []
            for (id, waiter) in state.pending.entries {
                switch waiter {
                case .sent: state.pending[id] = .done(.failure(error))
                case .waiting(let continuation, _):
                    _ = state.pending.remove(id)
                    continuations.append(continuation)
                case .done: break
                }
            }
            return continuations
        }
        for continuation in continuations { continuation.resume(returning: .failure(error)) }
        writer.withLock { writer in
            writer.stopped = true
            wipe(&writer.outbox)
            writer.outbox = []
            writer.outboxStart = 0
            socket.close()
        }
    }
}
