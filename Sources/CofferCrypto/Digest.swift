import CSodium

/// One-shot hashes (libsodium `crypto_hash_sha256`).
public enum Digest {
    public static let sha256ByteCount = 32

    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { sha256($0) }
    }

    public static let blake2b256ByteCount = 32

    /// Unkeyed BLAKE2b-256 (libsodium `crypto_generichash`) over `parts` in order, as one message. About ten times
    /// faster than SHA-256 here (libsodium's BLAKE2b is vectorised, its SHA-256 is portable C): the audit chain
    /// hashes every request's record with it.
    public static func blake2b256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.touch()
        return [UInt8](unsafeUninitializedCapacity: blake2b256ByteCount) { output, initialized in
            guard let out = output.baseAddress else { return }
            _ = crypto_generichash(
                out, blake2b256ByteCount, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count),
                nil, 0)
            initialized = blake2b256ByteCount
        }
    }

    /// ``blake2b256(_:)-(UnsafeRawBufferPointer)`` over `parts` joined, as one message.
    public static func blake2b256(_ parts: [UInt8]...) -> [UInt8] {
        Sodium.touch()
        // The one-shot form over the parts joined (the streaming state imports as an opaque, over-aligned type).
        let message = parts.count == 1 ? parts[0] : parts.flatMap { $0 }
        return message.withUnsafeBytes { blake2b256($0) }
    }
}

/// Incremental SHA-256 (for hash-chained audit records: feed fields one by one, then ``finalize()``).
public struct SHA256: Sendable {
    private var state = crypto_hash_sha256_state()

    public init() {
        Sodium.touch()
        crypto_hash_sha256_init(&state)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        crypto_hash_sha256_update(
            &state, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest. The state is consumed: a finished hasher cannot be updated again by mistake.
    public consuming func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Digest.sha256ByteCount) { output, initialized in
            guard let out = output.baseAddress else { return }
            crypto_hash_sha256_final(&state, out)
            initialized = Digest.sha256ByteCount
        }
    }
}

/// HMAC-SHA-256 (libsodium `crypto_auth_hmacsha256`). Keys of any length are accepted, as in RFC 2104 (longer
/// than 64 bytes: hashed first); Coffer's own keys are 32 random bytes.
public enum HMAC {
    public static let sha256ByteCount = 32

    public static func sha256(key: SecureBytes, message: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.touch()
        // The state holds key-derived pads: it lives on the stack and is wiped before returning.
        var state = crypto_auth_hmacsha256_state()
        defer { withUnsafeMutableBytes(of: &state) { sodium_memzero($0.baseAddress, $0.count) } }
        key.withUnsafeBytes { key in
            withNonNullBase(key) { _ = crypto_auth_hmacsha256_init(&state, $0, key.count) }
        }
        crypto_auth_hmacsha256_update(
            &state, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count))
        return [UInt8](unsafeUninitializedCapacity: sha256ByteCount) { output, initialized in
            guard let out = output.baseAddress else { return }
            crypto_auth_hmacsha256_final(&state, out)
            initialized = sha256ByteCount
        }
    }

    public static func sha256(key: SecureBytes, message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { sha256(key: key, message: $0) }
    }

    /// Whether `tag` is the HMAC of `message` under `key`, compared in constant time.
    public static func isValidSHA256(_ tag: [UInt8], key: SecureBytes, message: [UInt8]) -> Bool {
        let expected = sha256(key: key, message: message)
        guard tag.count == expected.count else { return false }
        return sodium_memcmp(tag, expected, expected.count) == 0
    }
}
