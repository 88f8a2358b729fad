import CofferCore
import CofferProtocol

// The client's side of docs/PROTOCOL.md, sections 3 and 6, as pure values: request frames, request ids, the table of
// requests in flight and what each incoming frame means. The connections (blocking and async) only move bytes.

/// Request frames as bytes, with the request id patched in once the connection has chosen it.
enum RequestFrame {
    /// Byte offset of the request id in a frame on the wire: length (4), version, kind, operation (2).
    static let requestIDOffset = WireFormat.lengthFieldSize + 4

    /// The frame for `operation` with `request` as its body and request id `id` (patch it later with
    /// ``setRequestID(_:in:)`` if the id is not known yet).
    static func encode(
        _ operation: Operation, _ request: Document, id: UInt32 = 1
    ) throws(CofferClientError)
        -> [UInt8]
    {
        do {
            return try WireCodec.encodeFrame(
                header: FrameHeader(kind: .request, operation: operation, requestID: id), document: request)
        } catch {
            switch error {
            case .frameTooLarge(let length):
                throw .requestNotEncodable(
                    "The request is \(length) bytes; a frame holds at most \(WireFormat.maximumFrameLength).")
            default:
                throw .requestNotEncodable("The request cannot be encoded: \(error.message)")
            }
        }
    }

    /// Writes `id` (big-endian) into an encoded frame's header.
    static func setRequestID(_ id: UInt32, in frame: inout [UInt8]) {
        guard frame.count >= requestIDOffset + 4 else { return }
        frame[requestIDOffset] = UInt8(truncatingIfNeeded: id >> 24)
        frame[requestIDOffset + 1] = UInt8(truncatingIfNeeded: id >> 16)
        frame[requestIDOffset + 2] = UInt8(truncatingIfNeeded: id >> 8)
        frame[requestIDOffset + 3] = UInt8(truncatingIfNeeded: id)
    }
}

/// Requests in flight on one connection, keyed by request id, with the id counter of docs/PROTOCOL.md section 6:
/// from 1 upwards, wrapping past 0xFFFFFFFF to 1 (0 is reserved), skipping ids still in flight.
struct PendingTable<Entry> {
    private(set) var entries: [UInt32: Entry] = [:]
    private var nextID: UInt32

    init(firstID: UInt32 = 1) { nextID = firstID == 0 ? 1 : firstID }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Stores `entry` under a fresh id and returns the id.
    mutating func insert(_ entry: Entry) -> UInt32 {
        var id = nextID
        // At most `count + 1` probes: only ids in flight are skipped.
        while entries[id] != nil { id = PendingTable.successor(of: id) }
        nextID = PendingTable.successor(of: id)
        entries[id] = entry
        return id
    }

    subscript(id: UInt32) -> Entry? {
        get { entries[id] }
        set { entries[id] = newValue }
    }

    mutating func remove(_ id: UInt32) -> Entry? { entries.removeValue(forKey: id) }

    /// Empties the table, returning what was in it (to fail every waiter when the connection ends).
    mutating func removeAll() -> [Entry] {
        let all = Array(entries.values)
        entries.removeAll()
        return all
    }

    static func successor(of id: UInt32) -> UInt32 { id == UInt32.max ? 1 : id + 1 }
}

extension PendingTable: Sendable where Entry: Sendable {}

/// What one frame from the daemon means.
enum IncomingFrame {
    /// The answer to request `requestID`: a document or an error. The connection stays usable.
    case reply(requestID: UInt32, Result<Document, CofferClientError>)
    /// The connection cannot go on (a connection-level error reply, a frame a daemon never sends): fail every request
    /// in flight with this error and close.
    case fatal(CofferClientError)

    /// Classifies a frame read by ``FrameDecoder/readFrame(_:)``; decodes its body in place.
    static func classify(header: FrameHeader, body: UnsafeRawBufferPointer) -> IncomingFrame {
        guard header.version == WireFormat.protocolVersion else {
            return .fatal(.malformedReply("a frame of protocol version \(header.version)"))
        }
        switch header.kind {
        case .response:
            do {
                return .reply(requestID: header.requestID, .success(try WireCodec.decodeDocument(from: body)))
            } catch {
                return .reply(requestID: header.requestID, .failure(.malformedReply(error.message)))
            }
        case .error:
            let error: CofferClientError
            do {
                let document = try WireCodec.decodeDocument(from: body)
                if let reply = ErrorReply(document: document) {
                    error = CofferClientError(reply)
                } else {
                    error = .malformedReply("an error reply without __type")
                }
            } catch {
                return header.requestID == WireFormat.connectionErrorRequestID
                    ? .fatal(.malformedReply(error.message))
                    : .reply(requestID: header.requestID, .failure(.malformedReply(error.message)))
            }
            // Request id 0 is the connection-level error reply sent before the daemon closes (section 3.3).
            if header.requestID == WireFormat.connectionErrorRequestID { return .fatal(error) }
            return .reply(requestID: header.requestID, .failure(error))
        default:
            // A request frame or a reserved kind: the client MUST close (section 3.2).
            return .fatal(.malformedReply("a frame of kind \(header.kind)"))
        }
    }
}

/// Which operations may be sent again after the connection dropped without an answer: those that only read, and
/// those made idempotent by their ClientRequestToken (a repeat with the same token and data is answered with the
/// original result, docs/PROTOCOL.md and AWS's idempotency rules).
enum RetryPolicy {
    static func isSafeToResend(_ operation: Operation, _ request: Document) -> Bool {
        if operation.isReadOnly { return true }
        switch operation {
        case .createSecret, .putSecretValue, .updateSecret, .rotateSecret:
            return request["ClientRequestToken"] != nil
        case .tagResource, .untagResource, .restoreSecret, .putResourcePolicy, .deleteResourcePolicy:
            return true  // the same request twice leaves the same state and answers the same
        default:
            return false
        }
    }
}
