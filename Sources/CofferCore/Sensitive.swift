#if canImport(Glibc)
    import Glibc
#endif

/// Bytes that may be secret: a secret value in transit (a request's SecretString/SecretBinary, a reply's value).
///
/// Stored in a private heap allocation that is wiped with `explicit_bzero` when released. It never prints its
/// contents and is deliberately not `Codable`, `Equatable` or `Hashable` (compare with ``constantTimeEquals(_:)``).
/// Keys and decrypted values inside the daemon live in libsodium guarded memory instead (CofferCrypto's
/// `SecureBytes`); this type carries plaintext between the wire and that memory.
public final class SensitiveBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    // @unchecked: the storage is written only in init and read afterwards; instances are immutable once built.
    private let storage: UnsafeMutableRawBufferPointer

    public var count: Int { storage.count }

    /// Copies `bytes`; the caller should wipe its own copy if it was sensitive.
    public init<C: Collection>(copying bytes: C) where C.Element == UInt8 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        storage = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count])
        storage.copyBytes(from: bytes)
        baseAllocation = buffer
    }

    /// Allocates `count` bytes and lets `initialize` fill them (no intermediate copy).
    public init(count: Int, initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        baseAllocation = buffer
        storage = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
        do {
            try initialize(storage)
        } catch {
            SensitiveBytes.release(buffer)
            throw error
        }
    }

    private let baseAllocation: UnsafeMutableRawBufferPointer

    deinit { SensitiveBytes.release(baseAllocation) }

    private static func release(_ buffer: UnsafeMutableRawBufferPointer) {
        if let base = buffer.baseAddress { explicit_bzero(base, buffer.count) }
        buffer.deallocate()
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage))
    }

    /// Constant-time comparison (the time depends only on the lengths).
    public func constantTimeEquals(_ other: SensitiveBytes) -> Bool {
        guard count == other.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<count { difference |= storage[i] ^ other.storage[i] }
        return difference == 0
    }

    /// Whether the bytes are valid UTF-8 (SecretString travels as UTF-8 bytes, never as a Swift `String`).
    public var isValidUTF8: Bool {
        withUnsafeBytes { raw in
            var iterator = raw.makeIterator()
            var decoder = UTF8()
            while true {
                switch decoder.decode(&iterator) {
                case .scalarValue: continue
                case .emptyInput: return true
                case .error: return false
                }
            }
        }
    }

    /// A copy as an array, for the places (client library, CLI output) where the caller takes ownership.
    public func copyBytes() -> [UInt8] { withUnsafeBytes { Array($0) } }

    public var description: String { "<redacted, \(count) bytes>" }
    public var debugDescription: String { description }
}

/// Overwrites an array's bytes with zeros in a way the optimizer may not remove.
public func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { raw in
        if let base = raw.baseAddress { explicit_bzero(base, raw.count) }
    }
}
