import CofferCore
import CofferProtocol
import CofferSystem
import CofferVault
import Glibc
import Synchronization

/// One server thread: its own epoll set, the connections it accepted, its own vault reader.
///
/// Every listener is registered in every worker's epoll with `EPOLLEXCLUSIVE`, so the kernel wakes one worker per
/// pending connection and that worker owns the connection for its whole life: no hand-off between threads on the
/// request path. Reads are answered inline on this thread (SQLite WAL readers never wait for the writer); writes go
/// to the vault's single writer and their replies come back through the mailbox and the wake-up eventfd.
final class Worker: @unchecked Sendable {
    // @unchecked: `connections`, `paused`, `nextID` and `thread` are touched only by this worker's own thread (the
    // event-loop discipline); what other threads use is the Mutex-protected mailbox, the eventfd and immutable lets.
    let index: Int
    let server: ServerCore
    let epoll: Epoll
    let wakeup: EventFD
    private let mailbox = Mutex<[Delivery]>([])
    private var connections: [UInt64: Connection] = [:]
    private var nextID: UInt64 = Worker.firstConnectionID
    /// Listeners paused after EMFILE, with the time to resume.
    private var paused: [Int: Int64] = [:]
    private var threadID = pthread_t()

    static let wakeupUserData: UInt64 = 0
    /// User data 1…15 name listeners; connections are numbered from 16.
    static let firstConnectionID: UInt64 = 16
    static let readChunk = 16 * 1_024
    static let tickMilliseconds: Int32 = 250

    struct Delivery {
        var connectionID: UInt64
        var bytes: [UInt8]
    }

    init(index: Int, server: ServerCore) throws {
        self.index = index
        self.server = server
        epoll = try Epoll(maxEvents: 256)
        wakeup = try EventFD()
        try epoll.add(wakeup.descriptor.rawValue, events: .readable, userData: Worker.wakeupUserData)
        for (i, listener) in server.listeners.enumerated() {
            try epoll.add(listener.listener.descriptor.rawValue, events: Worker.listenerEvents, userData: UInt64(1 + i))
        }
    }

    /// `EPOLLIN | EPOLLEXCLUSIVE`: wake one worker per pending connection.
    static let listenerEvents: Epoll.Events = [.readable, Epoll.Events(rawValue: 1 << 28)]

    // MARK: Loop

    func run() {
        threadID = pthread_self()
        let context: WorkerContext
        do {
            context = WorkerContext(reader: try server.vault.makeReader(), workerIndex: index)
        } catch {
            server.log(.error, "worker \(index): cannot open a store reader: \(error)")
            server.workerFailed()
            return
        }
        var events = [Epoll.Event]()
        var lastTick = Monotonic.milliseconds()
        var drainingSince: Int64?
        while true {
            let count: Int
            do {
                count = try epoll.wait(
                    into: &events, timeoutMilliseconds: drainingSince == nil ? Worker.tickMilliseconds : 50)
            } catch {
                server.log(.error, "worker \(index): epoll_wait: \(error)")
                break
            }
            for event in events.prefix(count) {
                switch event.userData {
                case Worker.wakeupUserData:
                    _ = try? wakeup.drain()
                    deliverMailbox()
                case 1..<Worker.firstConnectionID:
                    acceptAll(listenerIndex: Int(event.userData) - 1)
                default:
                    guard let connection = connections[event.userData] else { continue }
                    serviceConnection(connection, event.events, context)
                }
            }
            let now = Monotonic.milliseconds()
            if now - lastTick >= Int64(Worker.tickMilliseconds) {
                lastTick = now
                tick(now)
            }
            if server.isStopping {
                if drainingSince == nil {
                    drainingSince = now
                    stopAccepting()
                }
                let since = drainingSince ?? now
                if finishedDraining(since: since, now: now) || now - since > server.shutdownGraceMilliseconds { break }
            }
        }
        for connection in Array(connections.values) { close(connection, reason: "shutdown") }
        server.workerStopped()
    }

    // MARK: Accepting

    private func acceptAll(listenerIndex: Int) {
        guard !server.isStopping, listenerIndex < server.listeners.count else { return }
        let entry = server.listeners[listenerIndex]
        for _ in 0..<64 {
            let accepted: FileDescriptor?
            do {
                accepted = try entry.listener.accept()
            } catch SocketError.descriptorsExhausted(let error) {
                server.log(.warning, "accept on \(entry.service.name) socket: \(error); pausing accepts")
                pauseListener(listenerIndex)
                return
            } catch {
                server.log(.error, "accept on \(entry.service.name) socket: \(error)")
                return
            }
            guard let fd = accepted else { return }
            admit(fd, entry: entry)
        }
    }

    private func admit(_ fd: FileDescriptor, entry: ServerCore.ListenerEntry) {
        let peer: PeerCredentials
        do {
            peer = try PeerCredentials.read(from: fd)
        } catch {
            server.log(.warning, "peer credentials unavailable, closing: \(error)")
            fd.close()
            return
        }
        guard server.limiter.admit(uid: peer.uid) else {
            // Best effort: say why, then close. The reply is small enough for an empty socket buffer.
            var bytes: [UInt8] = []
            let error = ServiceError(.throttling, "Too many connections; try again later.")
            let header = FrameHeader(kind: .error, operationCode: 0, requestID: WireFormat.connectionErrorRequestID)
            try? WireCodec.appendFrame(header: header, document: ErrorReply(error).document, to: &bytes)
            _ = bytes.withUnsafeBytes { try? fd.send($0) }
            fd.close()
            server.metrics.rejectedConnections.add(1, ordering: .relaxed)
            return
        }
        let id = nextID
        nextID += 1
        let connection = Connection(
            id: id, fd: fd, peer: peer, caller: server.identity.caller(for: peer), service: entry.service,
            now: Monotonic.milliseconds())
        do {
            try epoll.add(fd.rawValue, events: [.readable, .readHangup], userData: id)
        } catch {
            server.limiter.release(uid: peer.uid)
            fd.close()
            return
        }
        connections[id] = connection
        server.metrics.acceptedConnections.add(1, ordering: .relaxed)
    }

    private func pauseListener(_ index: Int) {
        let fd = server.listeners[index].listener.descriptor.rawValue
        try? epoll.remove(fd)
        paused[index] = Monotonic.milliseconds() + Int64(server.configuration.acceptBackoffMilliseconds)
    }

    private func stopAccepting() {
        for (i, entry) in server.listeners.enumerated() where paused[i] == nil {
            try? epoll.remove(entry.listener.descriptor.rawValue)
        }
        paused.removeAll()
    }

    // MARK: Connections

    private func serviceConnection(_ connection: Connection, _ events: Epoll.Events, _ context: WorkerContext) {
        if events.contains(.readable) || events.contains(.readHangup) || events.contains(.hangup)
            || events.contains(.error)
        {
            readAndDispatch(connection, context)
        }
        guard !connection.isClosed else { return }
        flush(connection)
        finishIfDone(connection)
    }

    /// Reads what is available (bounded), decodes every complete frame and dispatches it.
    private func readAndDispatch(_ connection: Connection, _ context: WorkerContext) {
        var reads = 0
        reading: while !connection.readClosed
            && connection.inFlight < server.configuration.maxInFlightPerConnection && reads < 4
        {
            reads += 1
            var outcome = IOResult.wouldBlock
            let fd = connection.fd
            connection.decoder.writeWithUnsafeMutableBytes(minimumWritableBytes: Worker.readChunk) { buffer in
                outcome = (try? fd.read(into: buffer)) ?? .closed
                if case .bytes(let n) = outcome { return n }
                return 0
            }
            switch outcome {
            case .bytes(let n):
                connection.lastActivity = Monotonic.milliseconds()
                server.metrics.bytesIn.add(n, ordering: .relaxed)
                dispatchFrames(connection, context)
                if connection.isClosed { return }
                if n < Worker.readChunk { break reading }
            case .wouldBlock:
                break reading
            case .closed:
                connection.readClosed = true
                dispatchFrames(connection, context)
                break reading
            }
        }
        updateInterest(connection)
    }

    private func dispatchFrames(_ connection: Connection, _ context: WorkerContext) {
        while !connection.isClosed && !connection.closeAfterFlush
            && connection.inFlight < server.configuration.maxInFlightPerConnection
        {
            let frame: DecodedFrame
            do {
                guard let next = try connection.decoder.readDecodedFrame() else { break }
                frame = next
            } catch {
                // A bad length: the stream cannot be resynchronised. Answer on request id 0, then close.
                let header = FrameHeader(kind: .error, operationCode: 0, requestID: WireFormat.connectionErrorRequestID)
                appendError(connection, header: header, error.serviceError)
                connection.decoder.reset()
                connection.closeAfterFlush = true
                server.metrics.malformedFrames.add(1, ordering: .relaxed)
                break
            }
            connection.partialSince = nil
            dispatch(frame, connection, context)
        }
        if connection.decoder.hasPartialFrame {
            if connection.partialSince == nil { connection.partialSince = Monotonic.milliseconds() }
        } else {
            connection.partialSince = nil
        }
    }

    private func dispatch(_ frame: DecodedFrame, _ connection: Connection, _ context: WorkerContext) {
        let header = frame.header
        let operation: Operation
        do {
            operation = try header.validateRequest()
        } catch {
            appendError(connection, header: header.reply(.error), error.serviceError)
            if error.closesConnection { connection.closeAfterFlush = true }
            server.metrics.malformedFrames.add(1, ordering: .relaxed)
            return
        }
        let request: Document
        switch frame.document {
        case .success(let document): request = document
        case .failure(let error):
            appendError(connection, header: header.reply(.error), error.serviceError)
            if error.closesConnection { connection.closeAfterFlush = true }
            server.metrics.malformedFrames.add(1, ordering: .relaxed)
            return
        }
        if operation == .hello {
            do {
                _ = try Hello.negotiate(request)
                appendReply(
                    connection, header: header, .success(Hello.response(server: server.configuration.serverName)))
            } catch {
                appendError(connection, header: header.reply(.error), error)
                if error.code == .unsupportedProtocolVersion { connection.closeAfterFlush = true }
            }
            return
        }
        guard connection.service.serves(operation) else {
            appendError(
                connection, header: header.reply(.error),
                ServiceError(
                    .accessDenied, "\(operation.name) is not served on the \(connection.service.name) socket."))
            return
        }
        connection.inFlight += 1
        let id = connection.id
        let started = Monotonic.nanoseconds()
        let metrics = server.metrics
        connection.service.handle(operation, request, caller: connection.caller, context: context) { [self] result in
            metrics.record(operation, result, nanoseconds: Monotonic.nanoseconds() - started)
            var bytes: [UInt8] = []
            Worker.encode(header: header, result, into: &bytes)
            deliver(connectionID: id, bytes: bytes)
        }
    }

    static func encode(header: FrameHeader, _ result: Result<Document, ServiceError>, into out: inout [UInt8]) {
        switch result {
        case .success(let document):
            do {
                try WireCodec.appendFrame(header: header.reply(.response), document: document, to: &out)
                return
            } catch {
                out.removeAll()  // fall through to an error reply (a response over the frame limit)
            }
            let failure = ServiceError(.internalServiceError, "The response could not be encoded.")
            try? WireCodec.appendFrame(header: header.reply(.error), document: ErrorReply(failure).document, to: &out)
        case .failure(let error):
            try? WireCodec.appendFrame(header: header.reply(.error), document: ErrorReply(error).document, to: &out)
        }
    }

    /// A reply finished on some thread: appended now if this is the worker's thread, else posted to the mailbox.
    private func deliver(connectionID: UInt64, bytes: [UInt8]) {
        if pthread_equal(pthread_self(), threadID) != 0 {
            guard let connection = connections[connectionID] else { return }
            connection.inFlight -= 1
            connection.output.append(contentsOf: bytes)
            var copy = bytes
            wipe(&copy)
            return
        }
        let wasEmpty = mailbox.withLock { queue in
            queue.append(Delivery(connectionID: connectionID, bytes: bytes))
            return queue.count == 1
        }
        if wasEmpty { try? wakeup.signal() }
    }

    private func deliverMailbox() {
        let batch = mailbox.withLock { queue in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        for var delivery in batch {
            if let connection = connections[delivery.connectionID] {
                connection.inFlight -= 1
                connection.output.append(contentsOf: delivery.bytes)
                flush(connection)
                finishIfDone(connection)
                if !connection.isClosed { updateInterest(connection) }
            }
            wipe(&delivery.bytes)
        }
    }

    private func appendReply(_ connection: Connection, header: FrameHeader, _ result: Result<Document, ServiceError>) {
        Worker.encode(header: header, result, into: &connection.output)
    }

    private func appendError(_ connection: Connection, header: FrameHeader, _ error: ServiceError) {
        try? WireCodec.appendFrame(header: header, document: ErrorReply(error).document, to: &connection.output)
    }

    /// Writes as much of the output as the socket takes; the written prefix is wiped (replies carry secrets).
    private func flush(_ connection: Connection) {
        while connection.outputOffset < connection.output.count {
            let offset = connection.outputOffset
            let result = connection.output.withUnsafeBytes { raw in
                (try? connection.fd.send(UnsafeRawBufferPointer(rebasing: raw[offset...]))) ?? .closed
            }
            switch result {
            case .bytes(let n):
                connection.outputOffset += n
                server.metrics.bytesOut.add(n, ordering: .relaxed)
            case .wouldBlock:
                updateInterest(connection)
                return
            case .closed:
                close(connection, reason: "peer closed while writing")
                return
            }
        }
        if !connection.output.isEmpty {
            wipe(&connection.output)
            if connection.output.capacity > 64 * 1_024 {
                connection.output = []
            } else {
                connection.output.removeAll(keepingCapacity: true)
            }
            connection.outputOffset = 0
        }
    }

    /// Closes when nothing more can happen: the peer is done sending and every reply is out, or an error said so.
    private func finishIfDone(_ connection: Connection) {
        guard !connection.isClosed else { return }
        let flushed = connection.outputOffset >= connection.output.count
        if flushed && (connection.closeAfterFlush || (connection.readClosed && connection.inFlight == 0)) {
            close(connection, reason: connection.closeAfterFlush ? "protocol error" : "peer finished")
        }
    }

    /// Keeps epoll interest in line with state: stop reading at the in-flight cap or after EOF; want writability
    /// only while output is pending.
    private func updateInterest(_ connection: Connection) {
        guard !connection.isClosed else { return }
        var wanted: Epoll.Events = []
        if !connection.readClosed && !connection.closeAfterFlush
            && connection.inFlight < server.configuration.maxInFlightPerConnection
        {
            wanted.insert(.readable)
            wanted.insert(.readHangup)
        }
        if connection.outputOffset < connection.output.count { wanted.insert(.writable) }
        guard wanted != connection.interest else { return }
        connection.interest = wanted
        try? epoll.modify(connection.fd.rawValue, events: wanted, userData: connection.id)
    }

    private func close(_ connection: Connection, reason: String) {
        guard !connection.isClosed else { return }
        connection.isClosed = true
        try? epoll.remove(connection.fd.rawValue)
        connection.fd.close()
        connection.decoder.reset()
        wipe(&connection.output)
        connections[connection.id] = nil
        server.limiter.release(uid: connection.peer.uid)
        server.metrics.closedConnections.add(1, ordering: .relaxed)
    }

    // MARK: Timers

    private func tick(_ now: Int64) {
        for (index, until) in paused where until <= now {
            paused[index] = nil
            if !server.isStopping {
                try? epoll.add(
                    server.listeners[index].listener.descriptor.rawValue, events: Worker.listenerEvents,
                    userData: UInt64(1 + index))
            }
        }
        let deadline = Int64(server.configuration.frameDeadlineMilliseconds)
        let idle = Int64(server.configuration.idleTimeoutMilliseconds)
        for connection in Array(connections.values) {
            if let since = connection.partialSince, now - since > deadline {
                close(connection, reason: "frame deadline")
                server.metrics.deadlineCloses.add(1, ordering: .relaxed)
            } else if connection.inFlight == 0 && connection.partialSince == nil && now - connection.lastActivity > idle
            {
                close(connection, reason: "idle")
            }
        }
    }

    /// Shutdown waits until every connection is quiet: nothing in flight, nothing unsent, and nothing received for
    /// a short while (so that requests a client sent just before the stop are still answered).
    private func finishedDraining(since: Int64, now: Int64) -> Bool {
        for connection in connections.values {
            if connection.inFlight > 0 || connection.outputOffset < connection.output.count { return false }
            if !connection.readClosed && now - max(connection.lastActivity, since) < Worker.drainQuietMilliseconds {
                return false
            }
        }
        return true
    }

    /// How long a connection must be silent before shutdown stops waiting for it.
    static let drainQuietMilliseconds: Int64 = 200
}

/// One accepted connection's state. Owned and touched only by its worker's thread.
final class Connection {
    let id: UInt64
    let fd: FileDescriptor
    let peer: PeerCredentials
    let caller: Caller
    let service: any RequestService
    var decoder = FrameDecoder()
    var output: [UInt8] = []
    var outputOffset = 0
    var inFlight = 0
    var lastActivity: Int64
    /// When the currently incomplete frame began (the slow-frame deadline runs from here).
    var partialSince: Int64?
    var readClosed = false
    var closeAfterFlush = false
    var isClosed = false
    var interest: Epoll.Events = [.readable, .readHangup]

    init(id: UInt64, fd: FileDescriptor, peer: PeerCredentials, caller: Caller, service: any RequestService, now: Int64)
    {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.caller = caller
        self.service = service
        self.lastActivity = now
    }
}
