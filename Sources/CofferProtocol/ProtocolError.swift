import CofferCore

/// Why bytes could not be decoded (or a value could not be encoded) under docs/PROTOCOL.md.
///
/// Three families, which tell the layer above what to do:
/// - **framing** (``frameTooShort(length:)``, ``frameTooLarge(length:)``): the stream can no longer be trusted;
///   answer with a connection-level error reply and close (``closesConnection``);
/// - **header** (``unsupportedVersion(_:)``, ``unexpectedKind(_:)``, ``unknownOperation(_:)``): the frame is well
///   delimited; answer it (an unsupported version also closes);
/// - **body** (everything else): the document is malformed; answer `SerializationException`, keep the connection.
///
/// Offsets are byte offsets within the body (the document's first byte is offset 0). No case carries a value's
/// bytes: a malformed SecretString is reported by its offset only.
public enum ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The length prefix is below ``WireFormat/minimumFrameLength``.
    case frameTooShort(length: UInt32)
    /// The length prefix (or a frame being encoded) is above ``WireFormat/maximumFrameLength``.
    case frameTooLarge(length: Int)

    /// The frame's version byte is not one this codec speaks.
    case unsupportedVersion(UInt8)
    /// A frame of a kind the receiver does not accept (a daemon accepts only requests).
    case unexpectedKind(FrameKind)
    /// The operation code names no ``Operation``.
    case unknownOperation(UInt16)

    /// A fixed-width field (tag, integer, timestamp, length, count, key length) is cut off by the end of the body.
    case truncated(offset: Int)
    /// A reserved value tag.
    case unknownTag(UInt8, offset: Int)
    /// A string, secret string or key that is not valid UTF-8; the offset is where its bytes start.
    case invalidUTF8(offset: Int)
    /// A string, bytes or key length (at `offset`) that runs past the end of the body.
    case lengthPastEnd(length: UInt32, offset: Int)
    /// A list or document count (at `offset`) that could not fit in the bytes that remain.
    case countTooLarge(count: UInt32, offset: Int)
    /// A second member with the same key in one document; the offset is the second member's.
    case duplicateKey(String, offset: Int)
    /// A list or document deeper than ``WireFormat/maxNestingDepth``; the offset is its tag's (0 when encoding).
    case nestingTooDeep(offset: Int)
    /// Bytes after the body document, starting at `offset`.
    case trailingBytes(offset: Int)
    /// Encoding only: a key longer than ``WireFormat/maxKeyBytes``.
    case keyTooLong(bytes: Int)

    /// Whether the connection must be closed after answering (framing errors and unsupported versions).
    public var closesConnection: Bool {
        switch self {
        case .frameTooShort, .frameTooLarge, .unsupportedVersion: return true
        default: return false
        }
    }

    /// The error reply this deserves (docs/PROTOCOL.md, section 8).
    public var serviceError: ServiceError {
        switch self {
        case .unsupportedVersion: return ServiceError(.unsupportedProtocolVersion, message)
        case .unknownOperation: return ServiceError(.unknownOperation, message)
        default: return ServiceError(.serializationError, message)
        }
    }

    /// A sentence for the error reply's `Message`.
    public var message: String {
        switch self {
        case .frameTooShort(let length):
            return "Frame length \(length) is below the minimum of \(WireFormat.minimumFrameLength)."
        case .frameTooLarge(let length):
            return "Frame length \(length) exceeds the maximum of \(WireFormat.maximumFrameLength)."
        case .unsupportedVersion(let version):
            return
                "Protocol version \(version) is not supported; this server speaks version \(WireFormat.protocolVersion)."
        case .unexpectedKind(let kind):
            return "Unexpected frame kind \(kind)."
        case .unknownOperation(let code):
            return "Unknown operation code \(hex16(code))."
        case .truncated(let offset):
            return "Malformed document: truncated field at offset \(offset)."
        case .unknownTag(let tag, let offset):
            return "Malformed document: unknown value tag \(hex8(tag)) at offset \(offset)."
        case .invalidUTF8(let offset):
            return "Malformed document: invalid UTF-8 in the string at offset \(offset)."
        case .lengthPastEnd(let length, let offset):
            return "Malformed document: length \(length) at offset \(offset) runs past the end of the body."
        case .countTooLarge(let count, let offset):
            return "Malformed document: count \(count) at offset \(offset) cannot fit in the rest of the body."
        case .duplicateKey(let key, let offset):
            return "Malformed document: duplicate member \(ProtocolError.quoted(key)) at offset \(offset)."
        case .nestingTooDeep(let offset):
            return "Malformed document: nesting deeper than \(WireFormat.maxNestingDepth) at offset \(offset)."
        case .trailingBytes(let offset):
            return "Malformed document: unexpected bytes after the document at offset \(offset)."
        case .keyTooLong(let bytes):
            return "Member name of \(bytes) bytes exceeds the maximum of \(WireFormat.maxKeyBytes)."
        }
    }

    public var description: String { message }

    /// Keys come from the peer; keep messages bounded.
    private static func quoted(_ key: String) -> String {
        let limit = 64
        if key.utf8.count <= limit { return "\"\(key)\"" }
        return "\"\(key.prefix(limit))…\""
    }
}

func hex8(_ value: UInt8) -> String {
    let text = String(value, radix: 16)
    return "0x" + (text.count < 2 ? "0" + text : text)
}

func hex16(_ value: UInt16) -> String {
    let text = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 4 - text.count)) + text
}
