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
    /// The least room a read asks the decoder for: its first allocation (which a grown buffer exceeds). Asking for
    /// 16 KiB made every connection allocate, zero and wipe 16 KiB for a 42-byte request (~33,000 instructions).
    static let readChunk = FrameDecoder.initialCapacity
    static let tickMilliseconds: Int32 = 250

    struct Delivery {
        var connectionID: UInt64
        var header: FrameHeader
        var bytes: [UInt8]
        var record: AuditRecord?
    }

    /// Audit records of replies produced in this loop iteration, written in one batch before those replies go out.
    private var pendingAudit: [AuditRecord] = []
    /// Connections that got output in this iteration (flushed after the audit batch is written).
    private var touched: [Connection] = []

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
            commitAuditAndFlush()
            let now = Monotonic.milliseconds()
            server.heartbeats[index].value.store(now, ordering: .relaxed)
            if index == 0 { server.watchdogTick(now: now) }
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
            guard admit(fd, entry: entry) else {
                // Out of descriptors for the connection's pidfd: the same back-off as accept's EMFILE.
                pauseListener(listenerIndex)
                return
            }
        }
    }

    /// Registers an accepted connection. False when the process is out of descriptors (the peer's pidfd could not
    /// be opened): the connection was told so (ThrottlingException) and closed, and the caller pauses accepting.
    private func admit(_ fd: FileDescriptor, entry: ServerCore.ListenerEntry) -> Bool {
        let peer: PeerCredentials
        do {
            peer = try PeerCredentials.read(from: fd)
        } catch let error as SystemError where error.errno == EMFILE || error.errno == ENFILE {
            server.log(.warning, "peer credentials: \(error); refusing the connection and pausing accepts")
            refuse(fd, "The daemon is out of file descriptors; try again later.")
            return false
        } catch {
            server.log(.warning, "peer credentials unavailable, closing: \(error)")
            fd.close()
            return true
        }
        guard server.limiter.admit(uid: peer.uid) else {
            refuse(fd, "Too many connections; try again later.")
            return true
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
            return true
        }
        connections[id] = connection
        server.metrics.acceptedConnections.add(1, ordering: .relaxed)
        return true
    }

    /// Best effort: says why (ThrottlingException on request id 0), then closes. The reply is small enough for an
    /// empty socket buffer.
    private func refuse(_ fd: FileDescriptor, _ message: String) {
        var bytes: [UInt8] = []
        let error = ServiceError(.throttling, message)
        let header = FrameHeader(kind: .error, operationCode: 0, requestID: WireFormat.connectionErrorRequestID)
        try? WireCodec.appendFrame(header: header, document: ErrorReply(error).document, to: &bytes)
        _ = bytes.withUnsafeBytes { try? fd.send($0) }
        fd.close()
        server.metrics.rejectedConnections.add(1, ordering: .relaxed)
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
        if events.contains(.writable) {
            flush(connection)
            if connection.isClosed { return }
        }
        if events.contains(.readable) || events.contains(.readHangup) || events.contains(.hangup)
            || events.contains(.error)
        {
            readAndDispatch(connection, context)
        }
        guard !connection.isClosed else { return }
        markTouched(connection)
    }

    private func markTouched(_ connection: Connection) {
        if !connection.isTouched {
            connection.isTouched = true
            touched.append(connection)
        }
    }

    /// Writes this iteration's audit records (one write for the batch), then releases the replies they cover. If
    /// the audit log cannot be written, those replies are replaced by errors: nothing is released unaudited.
    private func commitAuditAndFlush() {
        if !pendingAudit.isEmpty {
            let written = server.audit?.write(pendingAudit) ?? true
            pendingAudit.removeAll(keepingCapacity: true)
            if !written {
                server.log(.error, "audit log write failed: refusing the replies of this batch")
                server.metrics.auditFailures.add(1, ordering: .relaxed)
            }
            for connection in touched where !connection.isClosed {
                if written {
                    connection.auditedEnd = connection.output.count
                } else {
                    revokeUnaudited(connection)
                }
                connection.unaudited.removeAll(keepingCapacity: true)
            }
        } else {
            for connection in touched { connection.auditedEnd = connection.output.count }
        }
        let batch = touched
        touched.removeAll(keepingCapacity: true)
        for connection in batch {
            connection.isTouched = false
            guard !connection.isClosed else { continue }
            flush(connection)
            finishIfDone(connection)
            if !connection.isClosed { updateInterest(connection) }
        }
    }

    /// Drops the replies not yet audited (wiped) and answers each of those requests with an error instead.
    private func revokeUnaudited(_ connection: Connection) {
        let keep = connection.auditedEnd
        if connection.output.count > keep {
            connection.output.withUnsafeMutableBytes { raw in
                let tail = UnsafeMutableRawBufferPointer(rebasing: raw[keep...])
                if let base = tail.baseAddress { explicit_bzero(base, tail.count) }
            }
            connection.output.removeSubrange(keep...)
        }
        let failure = ServiceError(.internalServiceError, "The request could not be recorded in the audit log.")
        for header in connection.unaudited { appendError(connection, header: header.reply(.error), failure) }
        connection.auditedEnd = connection.output.count
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
        // No updateInterest here: the caller marks the connection touched, and commitAuditAndFlush() sets the
        // interest once the replies are flushed (setting EPOLLOUT for a reply about to be sent, then clearing it,
        // cost two epoll_ctl per request).
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
            rejectInline(connection, header, operation: header.operation?.name, error.serviceError)
            if error.closesConnection { connection.closeAfterFlush = true }
            server.metrics.malformedFrames.add(1, ordering: .relaxed)
            return
        }
        let request: Document
        switch frame.document {
        case .success(let document): request = document
        case .failure(let error):
            rejectInline(connection, header, operation: operation.name, error.serviceError)
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
            rejectInline(
                connection, header, operation: operation.name,
                ServiceError(
                    .accessDenied, "\(operation.name) is not served on the \(connection.service.name) socket."))
            return
        }
        connection.inFlight += 1
        let id = connection.id
        let started = Monotonic.nanoseconds()
        let metrics = server.metrics
        let audit = server.audit
        var tracedCaller = connection.caller
        let trace = audit == nil ? nil : AuditTrace()
        tracedCaller.trace = trace
        let caller = tracedCaller
        let socket = connection.service.name
        let token = audit == nil ? nil : request["ClientRequestToken"]?.stringValue
        connection.service.handle(operation, request, caller: caller, context: context) { [self] result in
            metrics.record(operation, result, nanoseconds: Monotonic.nanoseconds() - started)
            var record: AuditRecord?
            if let audit {
                var error: String?
                if case .failure(let failure) = result { error = failure.code.rawValue }
                record = AuditRecord(
                    time: SystemClock().now(), socket: socket, connectionID: id, requestID: header.requestID,
                    operation: operation.name, caller: caller, trace: trace, error: error,
                    fields: token.map { [("clientRequestToken", audit.hashed($0))] } ?? [])
            }
            var bytes: [UInt8] = []
            Worker.encode(header: header, result, into: &bytes)
            deliver(connectionID: id, header: header, bytes: bytes, record: record)
        }
    }

    /// Answers a request the server itself refuses (malformed, wrong socket), with its audit record.
    private func rejectInline(
        _ connection: Connection, _ header: FrameHeader, operation: String?, _ error: ServiceError
    ) {
        appendError(connection, header: header.reply(.error), error)
        if server.audit != nil {
            pendingAudit.append(
                AuditRecord(
                    time: SystemClock().now(), socket: connection.service.name, connectionID: connection.id,
                    requestID: header.requestID, operation: operation ?? "0x" + String(header.operationCode, radix: 16),
                    caller: connection.caller, trace: nil, error: error.code.rawValue))
            connection.unaudited.append(header)
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
    private func deliver(connectionID: UInt64, header: FrameHeader, bytes: [UInt8], record: AuditRecord?) {
        let delivery = Delivery(connectionID: connectionID, header: header, bytes: bytes, record: record)
        if pthread_equal(pthread_self(), threadID) != 0 {
            accept(delivery)
            return
        }
        let wasEmpty = mailbox.withLock { queue in
            queue.append(delivery)
            return queue.count == 1
        }
        if wasEmpty { try? wakeup.signal() }
    }

    /// A finished reply on this thread: queued behind its audit record (which is written even if the client has
    /// gone: the request happened).
    private func accept(_ delivery: Delivery) {
        var delivery = delivery
        if let record = delivery.record { pendingAudit.append(record) }
        if let connection = connections[delivery.connectionID] {
            connection.inFlight -= 1
            connection.output.append(contentsOf: delivery.bytes)
            if delivery.record != nil { connection.unaudited.append(delivery.header) }
            markTouched(connection)
        }
        wipe(&delivery.bytes)
    }

    private func deliverMailbox() {
        let batch = mailbox.withLock { queue in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        for delivery in batch { accept(delivery) }
    }

    private func appendReply(_ connection: Connection, header: FrameHeader, _ result: Result<Document, ServiceError>) {
        Worker.encode(header: header, result, into: &connection.output)
    }

    private func appendError(_ connection: Connection, header: FrameHeader, _ error: ServiceError) {
        try? WireCodec.appendFrame(header: header, document: ErrorReply(error).document, to: &connection.output)
    }

    /// Writes as much of the output as the socket takes; the written prefix is wiped (replies carry secrets).
    private func flush(_ connection: Connection) {
        while connection.outputOffset < connection.auditedEnd {
            let offset = connection.outputOffset
            let end = connection.auditedEnd
            let result = connection.output.withUnsafeBytes { raw in
                (try? connection.fd.send(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))) ?? .closed
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
        if !connection.output.isEmpty && connection.outputOffset == connection.output.count {
            wipe(&connection.output)
            if connection.output.capacity > 64 * 1_024 {
                connection.output = []
            } else {
                connection.output.removeAll(keepingCapacity: true)
            }
            connection.outputOffset = 0
            connection.auditedEnd = 0
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
    /// Output before this index is covered by written audit records and may be sent.
    var auditedEnd = 0
    /// Request headers whose replies (after ``auditedEnd``) await the audit write.
    var unaudited: [FrameHeader] = []
    var isTouched = false
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
