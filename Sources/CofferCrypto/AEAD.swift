import CSodium

/// XChaCha20-Poly1305-IETF (libsodium's `crypto_aead_xchacha20poly1305_ietf_*`): 256-bit keys, 192-bit random
/// nonces (safe to pick at random for practically unlimited messages per key), 128-bit tags. Decryption verifies
/// the tag before producing any plaintext.
enum AEAD {
    // Literals so that the hot path reads constants; a test checks them against libsodium's function forms.
    static let keyBytes = 32
    static let nonceBytes = 24
    static let tagBytes = 16

    /// Whether the literals above are libsodium's sizes (checked by a test).
    static var sizesMatchLibsodium: Bool {
        keyBytes == crypto_aead_xchacha20poly1305_ietf_keybytes()
            && nonceBytes == crypto_aead_xchacha20poly1305_ietf_npubbytes()
            && tagBytes == crypto_aead_xchacha20poly1305_ietf_abytes()
            && PassphraseKDF.saltByteCount == crypto_pwhash_saltbytes()
            && Digest.sha256ByteCount == crypto_hash_sha256_bytes()
            && HMAC.sha256ByteCount == crypto_auth_hmacsha256_bytes()
    }

    /// Writes `message.count + tagBytes` bytes (ciphertext ‖ tag) to `output`.
    @inline(__always)
    static func encrypt(
        into output: UnsafeMutableRawPointer, message: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer,
        nonce: UnsafeRawPointer, key: UnsafeRawPointer
    ) {
        // The return value is always 0 in libsodium; misuse (a message beyond MESSAGEBYTES_MAX, impossible under
        // Limits) aborts inside the library.
        _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
            output.assumingMemoryBound(to: UInt8.self), nil,
            message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
            associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
            nil, nonce.assumingMemoryBound(to: UInt8.self), key.assumingMemoryBound(to: UInt8.self))
    }

    /// Verifies and decrypts `ciphertext` (ciphertext ‖ tag) into `output` (`ciphertext.count - tagBytes` bytes).
    /// Returns false, having written nothing readable, if the tag does not verify.
    @inline(__always)
    static func decrypt(
        into output: UnsafeMutableRawPointer, ciphertext: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer, nonce: UnsafeRawPointer, key: UnsafeRawPointer
    ) -> Bool {
        guard ciphertext.count >= tagBytes, let base = ciphertext.baseAddress else { return false }
        return crypto_aead_xchacha20poly1305_ietf_decrypt(
            output.assumingMemoryBound(to: UInt8.self), nil, nil,
            base.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
            associatedData.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(associatedData.count),
            nonce.assumingMemoryBound(to: UInt8.self), key.assumingMemoryBound(to: UInt8.self)) == 0
    }
}

/// Canonical, unambiguous associated data: every field is a 4-byte big-endian length followed by the field's bytes;
/// integers are fixed-width big-endian. Two different field lists can never encode to the same bytes, so no choice
/// of vault id, version id or label can make one binding's AD equal another's.
struct AssociatedDataWriter {
    private let buffer: UnsafeMutableRawBufferPointer
    private var offset = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    /// Bytes needed for fields of the given lengths.
    static func size(_ fieldLengths: Int...) -> Int { fieldLengths.reduce(0) { $0 + 4 + $1 } }

    var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[0..<offset]) }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        appendLength(bytes.count)
        UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<offset + bytes.count]).copyMemory(from: bytes)
        offset += bytes.count
    }

    mutating func append(_ label: StaticString) {
        label.withUTF8Buffer { append(UnsafeRawBufferPointer($0)) }
    }

    mutating func append(_ value: UInt8) { appendInteger(value) }
    mutating func append(_ value: UInt32) { appendInteger(value) }
    mutating func append(_ value: Int64) { appendInteger(UInt64(bitPattern: value)) }

    // Fields are bounded by the frame limit (256 KiB), far below 4 GiB, so the conversion cannot trap.
    private mutating func appendLength(_ length: Int) { appendRaw(UInt32(length)) }

    private mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        appendLength(MemoryLayout<T>.size)
        appendRaw(value)
    }

    private mutating func appendRaw<T: FixedWidthInteger>(_ value: T) {
        buffer.storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
    }
}

/// Runs `body` with a non-null pointer to `bytes` (libsodium declares some pointers `nonnull` even when the length
/// is 0; an empty buffer has no base address, so it gets a pointer to a dummy byte that is never read).
@inline(__always)
func withNonNullBase<R>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<UInt8>) -> R) -> R {
    if let base = bytes.baseAddress { return body(base.assumingMemoryBound(to: UInt8.self)) }
    let dummy: UInt8 = 0
    return withUnsafePointer(to: dummy) { body($0) }
}

/// A string's UTF-8 bytes: borrowed in place for native strings (no copy, no allocation), copied otherwise.
@inline(__always)
func withUTF8Bytes<R>(of string: String, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    if let result = try string.utf8.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
        return result
    }
    var copy = string
    return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
}
