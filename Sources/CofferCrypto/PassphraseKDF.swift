import CSodium

/// Argon2id (libsodium `crypto_pwhash`, `crypto_pwhash_ALG_ARGON2ID13`): turns an unseal passphrase into a 256-bit
/// wrapping key, which wraps the ``MasterKey`` (``wrapKey(_:under:vaultID:purpose:)``).
///
/// Argon2's cost is in libsodium's C code, so it is the same in debug and release builds: on the 2-core reference
/// box `.moderate` takes 0.55–0.85 s and `.interactive` about 0.1 s.
public enum PassphraseKDF {
    /// Stored next to the wrapped key (none of it is secret).
    public struct Parameters: Sendable, Hashable {
        public var salt: [UInt8]
        public var opsLimit: UInt64
        public var memLimit: Int

        public init(salt: [UInt8], opsLimit: UInt64, memLimit: Int) {
            self.salt = salt
            self.opsLimit = opsLimit
            self.memLimit = memLimit
        }

        /// libsodium INTERACTIVE (ops 2, 64 MiB).
        public static func interactive(salt: [UInt8] = newSalt()) -> Parameters {
            Parameters(
                salt: salt, opsLimit: UInt64(crypto_pwhash_opslimit_interactive()),
                memLimit: crypto_pwhash_memlimit_interactive())
        }

        /// libsodium MODERATE (ops 3, 256 MiB): the default for an unseal passphrase.
        public static func moderate(salt: [UInt8] = newSalt()) -> Parameters {
            Parameters(
                salt: salt, opsLimit: UInt64(crypto_pwhash_opslimit_moderate()),
                memLimit: crypto_pwhash_memlimit_moderate())
        }

        /// The cheapest parameters libsodium accepts (ops 1, 8 KiB). Tests only: no protection against guessing.
        public static func testing(salt: [UInt8] = newSalt()) -> Parameters {
            Parameters(
                salt: salt, opsLimit: UInt64(crypto_pwhash_opslimit_min()), memLimit: crypto_pwhash_memlimit_min())
        }
    }

    /// Salt length (16 bytes).
    public static let saltByteCount = 16
    /// Derived key length (32 bytes, an XChaCha20-Poly1305 key).
    public static let keyByteCount = AEAD.keyBytes

    /// A fresh random salt.
    public static func newSalt() -> [UInt8] { SecureRandom.bytes(count: saltByteCount) }

    /// Derives a 32-byte key in guarded memory. Throws ``CryptoError/invalidParameters`` for a salt that is not
    /// 16 bytes or limits outside libsodium's range, ``CryptoError/allocationFailed`` if Argon2's memory could not
    /// be allocated.
    public static func derive(
        passphrase: UnsafeRawBufferPointer, salt: [UInt8], opsLimit: UInt64, memLimit: Int
    ) throws(CryptoError) -> SecureBytes {
        try Sodium.initialize()
        guard salt.count == crypto_pwhash_saltbytes(),
            passphrase.count <= crypto_pwhash_passwd_max(),
            opsLimit >= UInt64(crypto_pwhash_opslimit_min()), opsLimit <= UInt64(crypto_pwhash_opslimit_max()),
            memLimit >= crypto_pwhash_memlimit_min(), memLimit <= crypto_pwhash_memlimit_max()
        else { throw .invalidParameters }
        let memory = try GuardedMemory(count: keyByteCount)
        let status = withNonNullBase(passphrase) { passphraseBase in
            passphraseBase.withMemoryRebound(to: CChar.self, capacity: max(passphrase.count, 1)) { passphraseChars in
                crypto_pwhash(
                    memory.bytes, UInt64(keyByteCount), passphraseChars, UInt64(passphrase.count), salt, opsLimit,
                    memLimit, crypto_pwhash_alg_argon2id13())
            }
        }
        // With the parameters checked above, the only failure left is Argon2's memory allocation.
        guard status == 0 else { throw .allocationFailed }
        return SecureBytes(sealing: memory)
    }

    public static func derive(
        passphrase: UnsafeRawBufferPointer, parameters: Parameters
    ) throws(CryptoError) -> SecureBytes {
        try derive(
            passphrase: passphrase, salt: parameters.salt, opsLimit: parameters.opsLimit,
            memLimit: parameters.memLimit)
    }

    /// What a wrapping key is; named in the wrap's associated data so that a blob wrapped for one purpose cannot
    /// be presented as another.
    public enum WrapPurpose: String, Sendable, CaseIterable {
        /// Wrapping key derived from the unseal passphrase.
        case passphrase = "coffer/master-key/passphrase"
        /// Wrapping key from a systemd credential (`LoadCredentialEncrypted=`).
        case credential = "coffer/master-key/credential"
    }

    /// Length of a wrapped master key: nonce (24) ‖ ciphertext (32) ‖ tag (16).
    public static let wrappedKeyByteCount = AEAD.nonceBytes + AEAD.keyBytes + AEAD.tagBytes

    /// Wraps `key` under `wrappingKey` (32 bytes) with XChaCha20-Poly1305 and a fresh nonce. AD: purpose, format
    /// version, vault id, master key id (each length-prefixed).
    public static func wrapKey(
        _ key: MasterKey, under wrappingKey: SecureBytes, vaultID: String, purpose: WrapPurpose = .passphrase
    ) throws(CryptoError) -> [UInt8] {
        try Sodium.initialize()
        guard wrappingKey.count == keyByteCount else {
            throw .invalidKeyLength(expected: keyByteCount, actual: wrappingKey.count)
        }
        let nonce = SecureRandom.bytes(count: AEAD.nonceBytes)
        return withWrapAD(purpose: purpose, vaultID: vaultID, keyID: key.keyID) { ad in
            [UInt8](unsafeUninitializedCapacity: wrappedKeyByteCount) { output, initialized in
                guard let out = output.baseAddress else { return }
                out.initialize(from: nonce, count: AEAD.nonceBytes)
                wrappingKey.withUnsafeBytes { kek in
                    key.bytes.withUnsafeBytes { plain in
                        guard let kekBase = kek.baseAddress else { return }
                        AEAD.encrypt(
                            into: out + AEAD.nonceBytes, message: plain, associatedData: ad, nonce: nonce,
                            key: kekBase)
                        initialized = wrappedKeyByteCount
                    }
                }
            }
        }
    }

    /// Unwraps a master key. A wrong passphrase (wrong wrapping key), another vault id, key id or purpose, or any
    /// changed byte gives ``CryptoError/integrity``.
    public static func unwrapKey(
        _ wrapped: [UInt8], under wrappingKey: SecureBytes, keyID: UInt32, vaultID: String,
        purpose: WrapPurpose = .passphrase
    ) throws(CryptoError) -> MasterKey {
        try Sodium.initialize()
        guard wrappingKey.count == keyByteCount else {
            throw .invalidKeyLength(expected: keyByteCount, actual: wrappingKey.count)
        }
        guard wrapped.count == wrappedKeyByteCount else { throw .integrity }
        let memory = try GuardedMemory(count: AEAD.keyBytes)
        let opened = withWrapAD(purpose: purpose, vaultID: vaultID, keyID: keyID) { ad in
            wrapped.withUnsafeBytes { blob in
                wrappingKey.withUnsafeBytes { kek in
                    guard let nonce = blob.baseAddress, let kekBase = kek.baseAddress else { return false }
                    return AEAD.decrypt(
                        into: memory.base, ciphertext: UnsafeRawBufferPointer(rebasing: blob[AEAD.nonceBytes...]),
                        associatedData: ad, nonce: nonce, key: kekBase)
                }
            }
        }
        guard opened else { throw .integrity }
        return try MasterKey(id: keyID, bytes: SecureBytes(sealing: memory))
    }

    private static func withWrapAD<R>(
        purpose: WrapPurpose, vaultID: String, keyID: UInt32, _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        var label = purpose.rawValue
        var vault = vaultID
        return label.withUTF8 { label in
            vault.withUTF8 { vault in
                let size = AssociatedDataWriter.size(label.count, 1, vault.count, 4)
                return withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { space in
                    var writer = AssociatedDataWriter(space)
                    writer.append(UnsafeRawBufferPointer(label))
                    writer.append(Envelope.formatVersion)
                    writer.append(UnsafeRawBufferPointer(vault))
                    writer.append(keyID)
                    return body(writer.written)
                }
            }
        }
    }
}
