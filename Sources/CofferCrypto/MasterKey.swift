import CSodium

/// The vault's key-encryption key (KEK): 256 bits in guarded memory plus the id stored next to every value it
/// protects. It only ever wraps data keys (see ``Envelope``); values are never encrypted under it directly.
///
/// Reading and writing key files is the system module's job; this type takes and gives bytes.
public struct MasterKey: Sendable, CustomStringConvertible {
    /// Key length in bytes (XChaCha20-Poly1305 keys).
    public static let byteCount = AEAD.keyBytes

    /// Stored with each sealed value, so that a value sealed under another key is refused before decrypting.
    public let keyID: UInt32
    public let bytes: SecureBytes

    /// Wraps existing key bytes (for example loaded from a key file). Throws ``CryptoError/invalidKeyLength(expected:actual:)``
    /// unless `bytes` is exactly ``byteCount`` long.
    public init(id: UInt32, bytes: SecureBytes) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw .invalidKeyLength(expected: Self.byteCount, actual: bytes.count)
        }
        keyID = id
        self.bytes = bytes
    }

    /// A fresh random key from libsodium's CSPRNG.
    public static func generate(id: UInt32) throws(CryptoError) -> MasterKey {
        try MasterKey(id: id, bytes: SecureBytes(randomCount: byteCount))
    }

    /// A key-check value: keyed BLAKE2b-256 of a fixed label and the key id. Store it next to the wrapped key and
    /// compare after loading a key, to tell "wrong key" from "corrupt data" without trying a decryption (and because
    /// Poly1305 is not key-committing). It reveals nothing about the key (BLAKE2b is a PRF under its key).
    public func checkValue() -> [UInt8] {
        var input = Array("coffer/key-check".utf8)
        withUnsafeBytes(of: keyID.bigEndian) { input.append(contentsOf: $0) }
        return [UInt8](unsafeUninitializedCapacity: 32) { output, initialized in
            guard let out = output.baseAddress else { return }
            bytes.withUnsafeBytes { key in
                // Returns 0 for these fixed, valid lengths.
                _ = crypto_generichash(
                    out, 32, input, UInt64(input.count), key.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    key.count)
            }
            initialized = 32
        }
    }

    public var description: String { "MasterKey(id: \(keyID), <redacted>)" }
}
