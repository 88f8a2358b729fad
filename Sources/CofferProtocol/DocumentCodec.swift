import CofferCore

// The document encoding of docs/PROTOCOL.md, section 4.
//
// Decoder contract (section 4.3 and 5): every malformed input is a typed `ProtocolError` naming the rule and the
// offset; the decoder never traps, never reads outside its buffer (all reads go through `ByteReader`'s checked
// accessors), never reserves capacity for a count before checking that the count could fit in the bytes that remain,
// recurses at most `WireFormat.maxNestingDepth` deep, and copies secret members (section 4.2) from the input straight
// into `SensitiveBytes`, validating SecretString as UTF-8 in place.

extension Document {
    /// Decodes one document at the reader's position and leaves the reader after it. Bytes after the document are
    /// the caller's business; ``WireCodec/decodeDocument(from:)-(UnsafeRawBufferPointer)`` decodes a whole body and
    /// rejects trailing bytes.
    public static func decode(from reader: inout ByteReader) throws(ProtocolError) -> Document {
        try DocumentDecoding.document(&reader, depth: 1)
    }

    /// Appends this document's encoding (section 4) to `out`.
    public func write(to out: inout [UInt8]) throws(ProtocolError) {
        let size = try DocumentEncoding.size(of: self, depth: 1)
        DocumentEncoding.write(self, size: size, to: &out)
    }

    /// This document's encoding.
    public func encoded() throws(ProtocolError) -> [UInt8] {
        var out: [UInt8] = []
        try write(to: &out)
        return out
    }
}

/// Flat entry points for the codec: documents and frames to and from bytes.
public enum WireCodec {
    /// Decodes a whole frame body: exactly one document, nothing after it.
    public static func decodeDocument(from bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> Document {
        var reader = ByteReader(bytes)
        let document = try DocumentDecoding.document(&reader, depth: 1)
        guard reader.readableBytes == 0 else { throw .trailingBytes(offset: reader.readerIndex) }
        return document
    }

    /// Decodes a whole frame body held in an array.
    public static func decodeDocument(from bytes: [UInt8]) throws(ProtocolError) -> Document {
        var result: Result<Document, ProtocolError> = .failure(.truncated(offset: 0))
        bytes.withUnsafeBytes { raw in
            result = Result { () throws(ProtocolError) -> Document in try decodeDocument(from: raw) }
        }
        return try result.get()
    }

    /// The number of bytes ``encode(_:)-(Document)`` produces. Throws for what cannot be encoded: a key longer than
    /// ``WireFormat/maxKeyBytes`` or nesting deeper than ``WireFormat/maxNestingDepth``.
    public static func encodedSize(of document: Document) throws(ProtocolError) -> Int {
        try DocumentEncoding.size(of: document, depth: 1)
    }

    /// A document's encoding.
    public static func encode(_ document: Document) throws(ProtocolError) -> [UInt8] {
        try document.encoded()
    }

    /// Appends a document's encoding to `out`.
    public static func append(_ document: Document, to out: inout [UInt8]) throws(ProtocolError) {
        try document.write(to: &out)
    }
}

enum DocumentDecoding {
    /// Documents with more members than this detect duplicate keys with a set instead of a linear scan, so that a
    /// hostile document of 87,000 one-letter members costs O(n), not O(n²), comparisons.
    static let linearDuplicateScanLimit = 12

    static func document(_ r: inout ByteReader, depth: Int) throws(ProtocolError) -> Document {
        let countOffset = r.readerIndex
        guard let rawCount = r.readInteger(as: UInt32.self) else { throw .truncated(offset: countOffset) }
        let count = Int(rawCount)
        guard count <= r.readableBytes / WireFormat.minimumMemberSize else {
            throw .countTooLarge(count: rawCount, offset: countOffset)
        }
        var fields: [(String, Value)] = []
        fields.reserveCapacity(count)
        var seen = Set<String>()
        let useSet = count > linearDuplicateScanLimit
        if useSet { seen.reserveCapacity(count) }
        for _ in 0..<count {
            let memberOffset = r.readerIndex
            guard let keyLength = r.readInteger(as: UInt16.self) else { throw .truncated(offset: memberOffset) }
            guard let keyBytes = r.readBytes(length: Int(keyLength)) else {
                throw .lengthPastEnd(length: UInt32(keyLength), offset: memberOffset)
            }
            guard let key = makeString(keyBytes) else { throw .invalidUTF8(offset: memberOffset + 2) }
            if useSet {
                guard seen.insert(key).inserted else { throw .duplicateKey(key, offset: memberOffset) }
            } else {
                for field in fields where field.0 == key { throw .duplicateKey(key, offset: memberOffset) }
            }
            let value = try self.value(&r, key: keyBytes, depth: depth)
            fields.append((key, value))
        }
        return Document(fields)
    }

    /// One value. `key` is the raw key of the member holding it (nil for a list element), for the secret rule.
    static func value(_ r: inout ByteReader, key: UnsafeRawBufferPointer?, depth: Int) throws(ProtocolError) -> Value {
        let tagOffset = r.readerIndex
        guard let tag = r.readInteger(as: UInt8.self) else { throw .truncated(offset: tagOffset) }
        switch tag {
        case ValueTag.false:
            return .bool(false)
        case ValueTag.true:
            return .bool(true)
        case ValueTag.integer:
            guard let number = r.readInteger(as: Int64.self) else { throw .truncated(offset: tagOffset + 1) }
            return .int(number)
        case ValueTag.timestamp:
            guard let milliseconds = r.readInteger(as: Int64.self) else { throw .truncated(offset: tagOffset + 1) }
            return .timestamp(Timestamp(milliseconds: milliseconds))
        case ValueTag.string, ValueTag.bytes:
            let lengthOffset = r.readerIndex
            guard let length = r.readInteger(as: UInt32.self) else { throw .truncated(offset: lengthOffset) }
            guard let payload = r.readBytes(length: Int(length)) else {
                throw .lengthPastEnd(length: length, offset: lengthOffset)
            }
            let isString = tag == ValueTag.string
            if let key, SecretMembers.isSecret(key: key, tag: tag) {
                if isString, !UTF8Validation.isValid(payload) { throw .invalidUTF8(offset: lengthOffset + 4) }
                return .secret(
                    SensitiveBytes(count: payload.count) { $0.copyMemory(from: payload) }, isString: isString)
            }
            if isString {
                guard let text = makeString(payload) else { throw .invalidUTF8(offset: lengthOffset + 4) }
                return .string(text)
            }
            return .bytes(Array(payload))
        case ValueTag.list:
            guard depth < WireFormat.maxNestingDepth else { throw .nestingTooDeep(offset: tagOffset) }
            let countOffset = r.readerIndex
            guard let rawCount = r.readInteger(as: UInt32.self) else { throw .truncated(offset: countOffset) }
            let count = Int(rawCount)
            guard count <= r.readableBytes / WireFormat.minimumValueSize else {
                throw .countTooLarge(count: rawCount, offset: countOffset)
            }
            var elements: [Value] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try value(&r, key: nil, depth: depth + 1)) }
            return .list(elements)
        case ValueTag.document:
            guard depth < WireFormat.maxNestingDepth else { throw .nestingTooDeep(offset: tagOffset) }
            return .map(try document(&r, depth: depth + 1))
        default:
            throw .unknownTag(tag, offset: tagOffset)
        }
    }

    /// A String from bytes that must be valid UTF-8. (`String(validating:as:)` is generic over the encoding and,
    /// called from here, runs unspecialised, looking up generic metadata for every string: 3× slower than this.)
    @inline(__always)
    static func makeString(_ bytes: UnsafeRawBufferPointer) -> String? {
        if bytes.isEmpty { return "" }
        guard UTF8Validation.isValid(bytes) else { return nil }
        return bytes.withMemoryRebound(to: UInt8.self) { String(decoding: $0, as: UTF8.self) }
    }
}

enum DocumentEncoding {
    /// The encoded size of a document at `depth`, checking everything that could make it unencodable, so that the
    /// write pass that follows cannot fail and the output is reserved once (no reallocation copying secrets around).
    static func size(of document: Document, depth: Int) throws(ProtocolError) -> Int {
        var total = 4
        for (key, value) in document.fields {
            let keyBytes = key.utf8.count
            guard keyBytes <= WireFormat.maxKeyBytes else { throw .keyTooLong(bytes: keyBytes) }
            total += 2 + keyBytes + (try size(of: value, depth: depth))
        }
        return total
    }

    static func size(of value: Value, depth: Int) throws(ProtocolError) -> Int {
        switch value {
        case .bool: return 1
        case .int, .timestamp: return 9
        case .string(let text): return try lengthPrefixed(text.utf8.count)
        case .bytes(let bytes): return try lengthPrefixed(bytes.count)
        case .secret(let secret, _): return try lengthPrefixed(secret.count)
        case .list(let elements):
            guard depth < WireFormat.maxNestingDepth else { throw .nestingTooDeep(offset: 0) }
            var total = 5
            for element in elements { total += try size(of: element, depth: depth + 1) }
            return total
        case .map(let document):
            guard depth < WireFormat.maxNestingDepth else { throw .nestingTooDeep(offset: 0) }
            return 1 + (try size(of: document, depth: depth + 1))
        }
    }

    private static func lengthPrefixed(_ count: Int) throws(ProtocolError) -> Int {
        guard count <= Int(UInt32.max) else { throw .frameTooLarge(length: count) }
        return 5 + count
    }

    /// Appends the encoding of `document`, whose size ``size(of:depth:)-(Document,_)`` computed (and validated).
    static func write(_ document: Document, size: Int, to out: inout [UInt8]) {
        appendUninitialized(count: size, to: &out) { writer in writer.write(document) }
    }

    /// Appends `count` bytes that `body` writes in place. A fresh array is built uninitialised and written once
    /// (`Array.append(contentsOf: repeatElement(0, …))` would append element by element); appended to a non-empty
    /// `out`, the temporary is wiped afterwards, since it may hold a secret value.
    static func appendUninitialized(count: Int, to out: inout [UInt8], _ body: (inout RawWriter) -> Void) {
        var bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var writer = RawWriter(UnsafeMutableRawBufferPointer(buffer))
            body(&writer)
            precondition(writer.index == count, "encoded size miscomputed")
            initialized = count
        }
        if out.isEmpty {
            out = bytes
        } else {
            out.append(contentsOf: bytes)
            wipe(&bytes)
        }
    }
}

/// Writes into memory sized beforehand by `DocumentEncoding.size`: plain stores instead of an `Array.append` per
/// field (3× faster on a GetSecretValue response). Every store is bounds-checked; a miss would be a bug in the size
/// computation, never something a peer controls.
struct RawWriter {
    let buffer: UnsafeMutableRawBufferPointer
    private(set) var index = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    @inline(__always)
    mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        precondition(MemoryLayout<T>.size <= buffer.count - index, "encoded size miscomputed")
        buffer.storeBytes(of: value.bigEndian, toByteOffset: index, as: T.self)
        index += MemoryLayout<T>.size
    }

    @inline(__always)
    mutating func writeByte(_ byte: UInt8) {
        precondition(index < buffer.count, "encoded size miscomputed")
        buffer[index] = byte
        index += 1
    }

    @inline(__always)
    mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        precondition(bytes.count <= buffer.count - index, "encoded size miscomputed")
        guard let base = buffer.baseAddress else { return }
        (base + index).copyMemory(from: source, byteCount: bytes.count)
        index += bytes.count
    }

    @inline(__always)
    mutating func writeUTF8(_ text: String) {
        var text = text  // withUTF8 is mutating; a native string is not copied
        text.withUTF8 { writeBytes(UnsafeRawBufferPointer($0)) }
    }

    mutating func write(_ document: Document) {
        writeInteger(UInt32(truncatingIfNeeded: document.fields.count))
        for (key, value) in document.fields {
            writeInteger(UInt16(truncatingIfNeeded: key.utf8.count))
            writeUTF8(key)
            write(value)
        }
    }

    mutating func write(_ value: Value) {
        switch value {
        case .bool(let flag):
            writeByte(flag ? ValueTag.true : ValueTag.false)
        case .int(let number):
            writeByte(ValueTag.integer)
            writeInteger(number)
        case .timestamp(let time):
            writeByte(ValueTag.timestamp)
            writeInteger(time.milliseconds)
        case .string(let text):
            writeByte(ValueTag.string)
            writeInteger(UInt32(truncatingIfNeeded: text.utf8.count))
            writeUTF8(text)
        case .bytes(let bytes):
            writeByte(ValueTag.bytes)
            writeInteger(UInt32(truncatingIfNeeded: bytes.count))
            bytes.withUnsafeBytes { writeBytes($0) }
        case .secret(let secret, let isString):
            writeByte(isString ? ValueTag.string : ValueTag.bytes)
            writeInteger(UInt32(truncatingIfNeeded: secret.count))
            secret.withUnsafeBytes { writeBytes($0) }
        case .list(let elements):
            writeByte(ValueTag.list)
            writeInteger(UInt32(truncatingIfNeeded: elements.count))
            for element in elements { write(element) }
        case .map(let document):
            writeByte(ValueTag.document)
            write(document)
        }
    }
}
