import CofferCore

/// A frame's kind byte (docs/PROTOCOL.md, section 3.2). A struct rather than an enum so that a header read from the
/// wire can hold any byte; ``isKnown`` says whether it is one of the three kinds of version 1.
public struct FrameKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Client → daemon.
    public static let request = FrameKind(rawValue: 0x01)
    /// Daemon → client: the operation's response document.
    public static let response = FrameKind(rawValue: 0x02)
    /// Daemon → client: `{"__type", "Message"}`.
    public static let error = FrameKind(rawValue: 0x03)

    public var isKnown: Bool { rawValue >= 0x01 && rawValue <= 0x03 }

    public var description: String {
        switch self {
        case .request: return "request"
        case .response: return "response"
        case .error: return "error reply"
        default: return "\(hex8(rawValue)) (reserved)"
        }
    }
}

/// The 8 bytes after the length prefix (docs/PROTOCOL.md, section 3.1). Holds what was on the wire, even when it
/// is not valid (unknown version, kind or operation), so that the layer above can answer it.
public struct FrameHeader: Hashable, Sendable, CustomStringConvertible {
    public var version: UInt8
    public var kind: FrameKind
    /// The raw operation code; ``operation`` is nil when it names no operation.
    public var operationCode: UInt16
    public var requestID: UInt32

    public init(version: UInt8 = WireFormat.protocolVersion, kind: FrameKind, operationCode: UInt16, requestID: UInt32)
    {
        self.version = version
        self.kind = kind
        self.operationCode = operationCode
        self.requestID = requestID
    }

    public init(kind: FrameKind, operation: Operation, requestID: UInt32) {
        self.init(kind: kind, operationCode: operation.rawValue, requestID: requestID)
    }

    public var operation: Operation? { Operation(rawValue: operationCode) }

    /// Reads a header; nil (nothing consumed) if fewer than 8 bytes remain.
    public static func decode(from reader: inout ByteReader) -> FrameHeader? {
        guard reader.readableBytes >= WireFormat.headerSize,
            let version = reader.readInteger(as: UInt8.self),
            let kind = reader.readInteger(as: UInt8.self),
            let operation = reader.readInteger(as: UInt16.self),
            let requestID = reader.readInteger(as: UInt32.self)
        else { return nil }
        return FrameHeader(
            version: version, kind: FrameKind(rawValue: kind), operationCode: operation, requestID: requestID)
    }

    /// Appends the 8 header bytes.
    public func write(to out: inout [UInt8]) {
        out.append(version)
        out.append(kind.rawValue)
        out.writeInteger(operationCode)
        out.writeInteger(requestID)
    }

    /// The header of a reply to this frame: same operation code and request id, written in version 1 (also when
    /// this frame's version is unsupported, section 7.2).
    public func reply(_ kind: FrameKind) -> FrameHeader {
        FrameHeader(version: WireFormat.protocolVersion, kind: kind, operationCode: operationCode, requestID: requestID)
    }

    /// What a daemon checks before decoding a request's body: version, then kind, then operation (section 3.3).
    /// The thrown error says how to answer (``ProtocolError/serviceError``) and whether to close.
    public func validateRequest() throws(ProtocolError) -> Operation {
        guard version == WireFormat.protocolVersion else { throw .unsupportedVersion(version) }
        guard kind == .request else { throw .unexpectedKind(kind) }
        guard let operation else { throw .unknownOperation(operationCode) }
        return operation
    }

    public var description: String {
        let name = operation?.name ?? hex16(operationCode)
        return "v\(version) \(kind) \(name) #\(requestID)"
    }
}

/// One frame: a header and its body bytes (an encoded document).
///
/// The body may hold secret bytes (a PutSecretValue request, a GetSecretValue response): wipe it
/// (`CofferCore.wipe(&frame.body)`) when done, or use ``FrameDecoder/readFrame(_:)`` to decode straight from the
/// decoder's buffer, which it wipes itself.
public struct Frame: Sendable {
    public var header: FrameHeader
    public var body: [UInt8]

    public init(header: FrameHeader, body: [UInt8]) {
        self.header = header
        self.body = body
    }

    /// A frame whose body is `document`'s encoding.
    public init(header: FrameHeader, document: Document) throws(ProtocolError) {
        self.init(header: header, body: try document.encoded())
    }

    /// The error reply to `request` for `error`: `{"__type": code, "Message": message}` (section 8).
    public static func errorReply(to request: FrameHeader, _ error: ServiceError) -> Frame {
        // Cannot fail: two short members, far below every limit.
        Frame(header: request.reply(.error), body: ErrorReply(error).encodedBody)
    }

    /// The body decoded as one document (section 4).
    public func decodeDocument() throws(ProtocolError) -> Document {
        try WireCodec.decodeDocument(from: body)
    }

    /// Bytes this frame takes on the wire, length prefix included.
    public var wireSize: Int { WireFormat.lengthFieldSize + WireFormat.headerSize + body.count }

    /// Appends length prefix, header and body. Throws ``ProtocolError/frameTooLarge(length:)`` rather than emit a
    /// frame the peer would reject.
    public func write(to out: inout [UInt8]) throws(ProtocolError) {
        let length = WireFormat.headerSize + body.count
        guard length <= WireFormat.maximumFrameLength else { throw .frameTooLarge(length: length) }
        out.reserveCapacity(out.count + WireFormat.lengthFieldSize + length)
        out.writeInteger(UInt32(length))
        header.write(to: &out)
        out.append(contentsOf: body)
    }

    /// The frame as it travels.
    public func encoded() throws(ProtocolError) -> [UInt8] {
        var out: [UInt8] = []
        try write(to: &out)
        return out
    }

    /// Reads one complete frame from the reader (length, header, body); nil with nothing consumed when the frame
    /// is not complete yet. Throws for a length outside 8…``WireFormat/maximumFrameLength`` as soon as the four
    /// length bytes are there.
    public static func decode(from reader: inout ByteReader) throws(ProtocolError) -> Frame? {
        guard let length = try FrameDecoder.checkedLength(reader.getInteger(at: reader.readerIndex, as: UInt32.self))
        else { return nil }
        guard reader.readableBytes >= WireFormat.lengthFieldSize + length else { return nil }
        reader.moveReaderIndex(forwardBy: WireFormat.lengthFieldSize)
        guard let header = FrameHeader.decode(from: &reader),
            let body = reader.readBytes(length: length - WireFormat.headerSize)
        else { return nil }  // unreachable: both were checked above
        return Frame(header: header, body: Array(body))
    }
}

extension WireCodec {
    /// A frame's wire bytes.
    public static func encode(_ frame: Frame) throws(ProtocolError) -> [UInt8] { try frame.encoded() }

    /// Appends a frame's wire bytes to `out`.
    public static func append(_ frame: Frame, to out: inout [UInt8]) throws(ProtocolError) { try frame.write(to: &out) }

    /// Encodes a header and a document as one frame, with no intermediate body array: the size is computed first,
    /// `out` grows once, and the document is written in place. This is the daemon's reply path.
    public static func appendFrame(
        header: FrameHeader, document: Document, to out: inout [UInt8]
    )
        throws(ProtocolError)
    {
        let bodySize = try DocumentEncoding.size(of: document, depth: 1)
        let length = WireFormat.headerSize + bodySize
        guard length <= WireFormat.maximumFrameLength else { throw .frameTooLarge(length: length) }
        DocumentEncoding.appendUninitialized(count: WireFormat.lengthFieldSize + length, to: &out) { writer in
            writer.writeInteger(UInt32(length))
            writer.writeByte(header.version)
            writer.writeByte(header.kind.rawValue)
            writer.writeInteger(header.operationCode)
            writer.writeInteger(header.requestID)
            writer.write(document)
        }
    }

    /// A header and a document as one frame's wire bytes.
    public static func encodeFrame(header: FrameHeader, document: Document) throws(ProtocolError) -> [UInt8] {
        var out: [UInt8] = []
        try appendFrame(header: header, document: document, to: &out)
        return out
    }
}

/// An error reply's body (docs/PROTOCOL.md, section 8): AWS's JSON error shape.
///
/// `type` is kept as a string because a newer daemon may send a name this build does not know; ``code`` maps it.
public struct ErrorReply: Error, Sendable, Hashable, CustomStringConvertible {
    public var type: String
    public var message: String

    public init(type: String, message: String) {
        self.type = type
        self.message = message
    }

    public init(_ error: ServiceError) { self.init(type: error.code.rawValue, message: error.message) }

    /// Reads `__type` and `Message` from an error reply's document; nil without a string `__type`. A missing
    /// `Message` reads as empty.
    public init?(document: Document) {
        guard case .string(let type)? = document["__type"] else { return nil }
        var message = ""
        if case .string(let text)? = document["Message"] { message = text }
        self.init(type: type, message: message)
    }

    /// The known error code, if this build knows the name.
    public var code: ErrorCode? { ErrorCode(rawValue: type) }

    /// As a ``ServiceError``; a name this build does not know becomes `InternalServiceError` with the name kept in
    /// the message.
    public var serviceError: ServiceError {
        if let code { return ServiceError(code, message) }
        return ServiceError(.internalServiceError, "\(type): \(message)")
    }

    public var document: Document { ["__type": .string(type), "Message": .string(message)] }

    var encodedBody: [UInt8] {
        // The only way this can fail is a key over 64 KiB or nesting; neither exists here.
        (try? document.encoded()) ?? [0, 0, 0, 0]
    }

    public var description: String { "\(type): \(message)" }
}
