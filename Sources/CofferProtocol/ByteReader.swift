/// A cursor over bytes someone else owns, with swift-nio `ByteBuffer`'s grammar: `read*` consumes and returns nil
/// when too few bytes remain (consuming nothing), `get*` peeks without consuming.
///
/// Every access is bounds-checked against ``bytes`` before memory is touched, so hostile input cannot make it read
/// outside the buffer. It does not copy: ``readBytes(length:)`` returns a slice of the same memory, valid as long as
/// the buffer it was made from.
public struct ByteReader {
    /// The whole buffer; ``readerIndex`` moves through it.
    public let bytes: UnsafeRawBufferPointer
    /// The offset of the next byte to read.
    public private(set) var readerIndex: Int = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Bytes not yet read.
    public var readableBytes: Int { bytes.count - readerIndex }

    /// The big-endian integer at `index`, or nil if it would run past the end.
    public func getInteger<T: FixedWidthInteger>(at index: Int, as: T.Type = T.self) -> T? {
        guard index >= 0, index <= bytes.count - MemoryLayout<T>.size else { return nil }
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: index, as: T.self))
    }

    /// Reads a big-endian integer; nil (and nothing consumed) if too few bytes remain.
    public mutating func readInteger<T: FixedWidthInteger>(as: T.Type = T.self) -> T? {
        guard let value = getInteger(at: readerIndex, as: T.self) else { return nil }
        readerIndex += MemoryLayout<T>.size
        return value
    }

    /// The `length` bytes at `index`, without copying; nil if they would run past the end.
    public func getBytes(at index: Int, length: Int) -> UnsafeRawBufferPointer? {
        guard index >= 0, length >= 0, index <= bytes.count, length <= bytes.count - index else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[index..<(index + length)])
    }

    /// Reads `length` bytes without copying; nil (and nothing consumed) if too few remain.
    public mutating func readBytes(length: Int) -> UnsafeRawBufferPointer? {
        guard let slice = getBytes(at: readerIndex, length: length) else { return nil }
        readerIndex += length
        return slice
    }

    /// Skips `count` bytes; false (and nothing consumed) if too few remain.
    @discardableResult
    public mutating func moveReaderIndex(forwardBy count: Int) -> Bool {
        guard count >= 0, count <= readableBytes else { return false }
        readerIndex += count
        return true
    }
}

// `write*` appends, big-endian. Internal so that it cannot clash with another module's helpers on [UInt8].
extension Array where Element == UInt8 {
    mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { self.append(contentsOf: $0) }
    }

    mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        append(contentsOf: bytes)
    }
}
