import CofferCore

#if canImport(Glibc)
    import Glibc
#endif

/// Turns a byte stream, fed in chunks of any size, into frames (docs/PROTOCOL.md, section 5).
///
/// ## Contract
/// - **Peek, then commit.** ``getFrameLength()`` peeks at the 4-byte length without consuming. The `read*` methods
///   return nil and consume nothing until `4 + length` bytes are buffered, then consume exactly one frame.
/// - **Reject before allocating.** A length below 8 or above ``WireFormat/maximumFrameLength`` throws
///   (``ProtocolError/frameTooShort(length:)``, ``ProtocolError/frameTooLarge(length:)``) as soon as the four
///   length bytes are buffered, before the decoder waits for or makes room for the body. Those errors are fatal:
///   the stream cannot be resynchronised, and every later call throws the same error again.
/// - **Frames, in order, whole.** The same stream fed one byte at a time or all at once yields the same frames.
///   Header fields are not judged here: a frame with an unknown version, kind or operation is still yielded
///   (``FrameHeader/validateRequest()`` judges it).
/// - **Bounded by its feeder.** The decoder buffers what it is given. Its owner bounds memory by not feeding it
///   (the daemon stops reading a connection with ``Limits/maxInFlightPerConnection`` requests in flight).
/// - **Wiped.** Frames may carry secrets. The bytes of a consumed frame are zeroed as it is consumed; storage is
///   zeroed before it is freed, moved or replaced; ``reset()`` zeroes everything.
///
/// The fast path for a daemon: read from the socket straight into the buffer with
/// ``writeWithUnsafeMutableBytes(minimumWritableBytes:_:)``, then ``readDecodedFrame()`` (or ``readFrame(_:)``),
/// which decodes the document from the buffer in place: the only copies of a request are the kernel's and the
/// decoded values.
public struct FrameDecoder: Sendable {
    /// A drained buffer larger than this is released, so that a connection that once sent a 256 KiB frame does not
    /// pin 256 KiB for the rest of its life (4,096 connections × 256 KiB would be 1 GiB).
    public static let retainedCapacityLimit = 64 * 1_024
    /// First allocation: holds any ordinary request, and a pipelined batch of them, in one read.
    public static let initialCapacity = 4_096

    private var storage: Storage
    private var readerIndex = 0
    private var writerIndex = 0

    public init() { storage = Storage(capacity: 0) }

    /// Bytes buffered and not yet consumed as frames.
    public var bufferedBytes: Int { writerIndex - readerIndex }

    /// Whether part of a frame is buffered (the daemon's frame deadline runs while this is true).
    public var hasPartialFrame: Bool { writerIndex > readerIndex }

    // MARK: Feeding

    /// Appends bytes received from the peer.
    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserveWritable(bytes.count)
        guard let base = storage.buffer.baseAddress else { return }  // unreachable after reserveWritable
        (base + writerIndex).copyMemory(from: source, byteCount: bytes.count)
        writerIndex += bytes.count
    }

    /// Appends bytes received from the peer.
    public mutating func writeBytes(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { writeBytes($0) }
    }

    /// Lets `body` write up to (at least) `minimumWritableBytes` bytes directly into the buffer, as `read(2)` does,
    /// and returns what it reported writing. Bytes past the reported count are ignored. A negative report counts as
    /// zero, so `body` can return `read(2)`'s -1 after recording errno.
    @discardableResult
    public mutating func writeWithUnsafeMutableBytes<E: Error>(
        minimumWritableBytes: Int,
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> Int
    ) throws(E) -> Int {
        reserveWritable(max(minimumWritableBytes, 1))
        let writable = UnsafeMutableRawBufferPointer(rebasing: storage.buffer[writerIndex...])
        let reported = try body(writable)
        let written = min(max(reported, 0), writable.count)
        writerIndex += written
        storage.highWater = max(storage.highWater, writerIndex)
        return written
    }

    // MARK: Reading

    /// The next frame's `length` field (header + body), peeked: nil if fewer than 4 bytes are buffered. Throws for a
    /// length out of range.
    public func getFrameLength() throws(ProtocolError) -> Int? {
        guard bufferedBytes >= WireFormat.lengthFieldSize else { return nil }
        let raw = UnsafeRawBufferPointer(storage.buffer).loadUnaligned(fromByteOffset: readerIndex, as: UInt32.self)
        return try FrameDecoder.checkedLength(UInt32(bigEndian: raw))
    }

    /// The next complete frame, copied out of the buffer; nil (nothing consumed) while it is incomplete.
    public mutating func readFrame() throws(ProtocolError) -> Frame? {
        try readFrame { header, body in Frame(header: header, body: Array(body)) }
    }

    /// The next complete frame handed to `body` in place (no copy); nil (nothing consumed, `body` not called) while
    /// it is incomplete. The body pointer is valid only inside `body`; the frame is consumed and wiped after it.
    public mutating func readFrame<R>(_ body: (FrameHeader, UnsafeRawBufferPointer) -> R) throws(ProtocolError) -> R? {
        guard let length = try getFrameLength(), bufferedBytes >= WireFormat.lengthFieldSize + length else {
            return nil
        }
        let start = readerIndex
        let end = start + WireFormat.lengthFieldSize + length
        var reader = ByteReader(
            UnsafeRawBufferPointer(rebasing: storage.buffer[(start + WireFormat.lengthFieldSize)..<end]))
        guard let header = FrameHeader.decode(from: &reader),
            let frameBody = reader.readBytes(length: reader.readableBytes)
        else { return nil }  // unreachable: length >= 8 was checked
        let result = body(header, frameBody)
        consume(upTo: end)
        return result
    }

    /// The next complete frame with its body decoded in place, the daemon's per-request path. The body is decoded
    /// only when the version is one this codec speaks; otherwise `document` is
    /// ``ProtocolError/unsupportedVersion(_:)``. Body errors land in `document`; framing errors are thrown.
    public mutating func readDecodedFrame() throws(ProtocolError) -> DecodedFrame? {
        try readFrame { header, body in
            guard header.version == WireFormat.protocolVersion else {
                return DecodedFrame(header: header, document: .failure(.unsupportedVersion(header.version)))
            }
            return DecodedFrame(
                header: header,
                document: Result { () throws(ProtocolError) -> Document in try WireCodec.decodeDocument(from: body) }
            )
        }
    }

    /// Zeroes and releases everything buffered (on close, or after a fatal framing error).
    public mutating func reset() {
        storage = Storage(capacity: 0)
        readerIndex = 0
        writerIndex = 0
    }

    // MARK: Internals

    /// For tests: the allocated size and contents of the buffer (consumed and unwritten bytes included).
    var rawStorageCapacity: Int { storage.buffer.count }
    var rawStorage: [UInt8] { Array(UnsafeRawBufferPointer(storage.buffer)) }

    static func checkedLength(_ raw: UInt32?) throws(ProtocolError) -> Int? {
        guard let raw else { return nil }
        guard raw >= UInt32(WireFormat.minimumFrameLength) else { throw .frameTooShort(length: raw) }
        guard raw <= UInt32(WireFormat.maximumFrameLength) else { throw .frameTooLarge(length: Int(raw)) }
        return Int(raw)
    }

    /// Consumes bytes up to `end`, zeroing them; a drained buffer starts over at offset 0 (and is released if big).
    private mutating func consume(upTo end: Int) {
        makeUnique()
        storage.zero(readerIndex..<end)
        readerIndex = end
        if readerIndex == writerIndex {
            readerIndex = 0
            writerIndex = 0
            if storage.buffer.count > FrameDecoder.retainedCapacityLimit { storage = Storage(capacity: 0) }
        }
    }

    /// Makes room for `count` more bytes after `writerIndex`: compacts if that suffices, otherwise grows.
    private mutating func reserveWritable(_ count: Int) {
        makeUnique()
        let capacity = storage.buffer.count
        if capacity - writerIndex >= count { return }
        let unread = writerIndex - readerIndex
        if unread + count <= capacity, let base = storage.buffer.baseAddress {
            // Compact: slide the unread bytes to the front and zero where they were.
            if unread > 0 { base.copyMemory(from: base + readerIndex, byteCount: unread) }
            storage.zero(unread..<writerIndex)
            readerIndex = 0
            writerIndex = unread
            return
        }
        var newCapacity = max(capacity, FrameDecoder.initialCapacity)
        while newCapacity < unread + count { newCapacity *= 2 }
        let grown = Storage(capacity: newCapacity)
        if unread > 0, let source = storage.buffer.baseAddress, let target = grown.buffer.baseAddress {
            target.copyMemory(from: source + readerIndex, byteCount: unread)
        }
        grown.highWater = unread
        storage = grown  // the old storage zeroes itself as it is released
        readerIndex = 0
        writerIndex = unread
    }

    /// Copy-on-write: a copied decoder gets its own bytes before either mutates them.
    private mutating func makeUnique() {
        guard !isKnownUniquelyReferenced(&storage) else { return }
        let copy = Storage(capacity: storage.buffer.count)
        if let source = storage.buffer.baseAddress, let target = copy.buffer.baseAddress, writerIndex > 0 {
            target.copyMemory(from: source, byteCount: writerIndex)
        }
        copy.highWater = writerIndex
        storage = copy
    }

    /// One heap allocation, zeroed before it is freed.
    // @unchecked: mutated only through FrameDecoder after makeUnique(), i.e. never while shared (Array's own CoW).
    private final class Storage: @unchecked Sendable {
        let buffer: UnsafeMutableRawBufferPointer
        /// The end of the bytes ever written (`writeWithUnsafeMutableBytes`'s body reports what it wrote): past it
        /// the buffer holds only the zeroes it was allocated with, so the wipe on release stops there (a 42-byte
        /// request does not cost a 4 KiB wipe).
        var highWater = 0

        init(capacity: Int) {
            if capacity > 0 {
                buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
                buffer.initializeMemory(as: UInt8.self, repeating: 0)  // only on growth; keeps every byte defined
            } else {
                buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
            }
        }

        func zero(_ range: Range<Int>) {
            guard let base = buffer.baseAddress, !range.isEmpty else { return }
            explicit_bzero(base + range.lowerBound, range.count)
        }

        deinit {
            zero(0..<min(highWater, buffer.count))
            buffer.deallocate()
        }
    }
}

/// A frame whose body was decoded in place by ``FrameDecoder/readDecodedFrame()``.
public struct DecodedFrame: Sendable {
    public var header: FrameHeader
    /// The body document, or why it could not be decoded (answer with ``ProtocolError/serviceError``).
    public var document: Result<Document, ProtocolError>

    public init(header: FrameHeader, document: Result<Document, ProtocolError>) {
        self.header = header
        self.document = document
    }
}
