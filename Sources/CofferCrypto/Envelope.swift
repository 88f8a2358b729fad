import CSodium
import CofferCore

/// Where a sealed value lives. It is bound into both associated data strings, so a ciphertext or wrapped key that
/// is moved to another vault, secret row or version fails to open.
public struct SealBinding: Sendable, Hashable {
    /// The vault's UUID text.
    public var vaultID: String
    /// The secret's row id.
    public var secretID: Int64
    /// The version's id (AWS VersionId).
    public var versionID: String

    public init(vaultID: String, secretID: Int64, versionID: String) {
        self.vaultID = vaultID
        self.secretID = secretID
        self.versionID = versionID
    }

    /// The UTF-8 bytes of the two text fields, without copying native strings.
    func withUTF8<R>(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUTF8Bytes(of: vaultID) { vault in
            try withUTF8Bytes(of: versionID) { version in try body(vault, version) }
        }
    }
}

/// A sealed secret value, as stored (every field is public data: integers and blobs).
///
/// - `wrappedKey`: nonce (24) ‖ encrypted data key (32) ‖ tag (16), under the master key.
/// - `ciphertext`: encrypted value ‖ tag (16), under the data key with `valueNonce`.
public struct SealedValue: Sendable, Hashable {
    public var formatVersion: UInt8
    public var masterKeyID: UInt32
    public var dataKeyID: [UInt8]
    public var wrappedKey: [UInt8]
    public var valueNonce: [UInt8]
    public var ciphertext: [UInt8]

    public init(
        formatVersion: UInt8, masterKeyID: UInt32, dataKeyID: [UInt8], wrappedKey: [UInt8], valueNonce: [UInt8],
        ciphertext: [UInt8]
    ) {
        self.formatVersion = formatVersion
        self.masterKeyID = masterKeyID
        self.dataKeyID = dataKeyID
        self.wrappedKey = wrappedKey
        self.valueNonce = valueNonce
        self.ciphertext = ciphertext
    }

    /// The plaintext length this value opens to (nil if the ciphertext is shorter than a tag).
    public var plaintextCount: Int? { ciphertext.count >= AEAD.tagBytes ? ciphertext.count - AEAD.tagBytes : nil }

    /// The same fields as borrowed buffers, for ``Envelope/open(_:binding:masterKey:scratch:_:)-(SealedValueView,_,_,_,_)``.
    public func withView<R>(_ body: (SealedValueView) throws -> R) rethrows -> R {
        try dataKeyID.withUnsafeBytes { dataKeyID in
            try wrappedKey.withUnsafeBytes { wrappedKey in
                try valueNonce.withUnsafeBytes { valueNonce in
                    try ciphertext.withUnsafeBytes { ciphertext in
                        try body(
                            SealedValueView(
                                formatVersion: formatVersion, masterKeyID: masterKeyID, dataKeyID: dataKeyID,
                                wrappedKey: wrappedKey, valueNonce: valueNonce, ciphertext: ciphertext))
                    }
                }
            }
        }
    }
}

/// A sealed value's fields borrowed from wherever they already are (for example SQLite column blobs), so the hot
/// path opens a value without copying it into arrays first. Valid only while those buffers are.
public struct SealedValueView {
    public var formatVersion: UInt8
    public var masterKeyID: UInt32
    public var dataKeyID: UnsafeRawBufferPointer
    public var wrappedKey: UnsafeRawBufferPointer
    public var valueNonce: UnsafeRawBufferPointer
    public var ciphertext: UnsafeRawBufferPointer

    public init(
        formatVersion: UInt8, masterKeyID: UInt32, dataKeyID: UnsafeRawBufferPointer,
        wrappedKey: UnsafeRawBufferPointer, valueNonce: UnsafeRawBufferPointer, ciphertext: UnsafeRawBufferPointer
    ) {
        self.formatVersion = formatVersion
        self.masterKeyID = masterKeyID
        self.dataKeyID = dataKeyID
        self.wrappedKey = wrappedKey
        self.valueNonce = valueNonce
        self.ciphertext = ciphertext
    }
}

/// Pre-allocated guarded memory for ``Envelope/open(_:binding:masterKey:scratch:_:)-(SealedValueView,_,_,_,_)``
/// (and optionally seal and rewrap): room for one data key and one plaintext of up to `capacity` bytes.
///
/// `sodium_malloc` costs several syscalls (mmap, mprotect, mlock), too much for every GetSecretValue, so each worker
/// thread owns one of these for its lifetime. It is not `Sendable`: one thread, one scratch. The bytes used by a call
/// are wiped before the call returns; the memory is `mlock`ed, excluded from core dumps, followed by a guard page,
/// and freed (wiped again) by `sodium_free` when the scratch is released. A 64 KiB scratch locks 72 KiB of memory.
public final class OpenScratch: CustomStringConvertible, CustomReflectable {
    /// Largest plaintext this scratch holds.
    public let capacity: Int
    // One allocation: the data key at the start, the plaintext after it, ending at the guard page.
    private let memory: GuardedMemory
    private var inUse = false

    public init(capacity: Int = Limits.maxSecretValueBytes) throws(CryptoError) {
        guard capacity >= 0 else { throw .allocationFailed }
        self.capacity = capacity
        memory = try GuardedMemory(count: AEAD.keyBytes + capacity)
        memory.wipe(memory.count)
    }

    var dataKey: UnsafeMutableRawPointer { memory.base }
    var plaintext: UnsafeMutableRawPointer { memory.base + AEAD.keyBytes }

    /// Marks the scratch busy for one operation. Using it again from inside an `open` body (re-entrancy) would
    /// overwrite the plaintext being read: that is a programming error, so it stops the process.
    @inline(__always)
    func acquire() {
        precondition(!inUse, "OpenScratch used re-entrantly")
        inUse = true
    }

    /// Wipes the data key and the first `plaintextCount` plaintext bytes and marks the scratch free.
    @inline(__always)
    func release(plaintextCount: Int) {
        sodium_memzero(memory.base, AEAD.keyBytes + plaintextCount)
        inUse = false
    }

    public var description: String { "OpenScratch(capacity: \(capacity))" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }
}

@available(*, unavailable, message: "an OpenScratch belongs to one thread")
extension OpenScratch: Sendable {}

/// Envelope encryption in the style of AWS Secrets Manager over KMS: every secret version gets a fresh 256-bit data
/// key (DEK); the value is encrypted under the DEK and the DEK is wrapped under the master key (KEK). Both use
/// XChaCha20-Poly1305-IETF with fresh random 24-byte nonces.
///
/// Associated data (see `AssociatedDataWriter` for the encoding; each item is one length-prefixed field):
/// - value:   "coffer/value", format version, vault id, secret id, version id, data key id
/// - wrapped: "coffer/dek",   format version, vault id, secret id, version id, data key id, master key id
///
/// So a ciphertext or wrapped key moved to another row, version or vault fails with ``CryptoError/integrity``, and
/// rotating the master key rewraps only the DEK (the value's AD does not name the master key).
public enum Envelope {
    /// The format this build writes and reads.
    public static let formatVersion: UInt8 = 1
    public static let dataKeyIDBytes = 16
    public static let nonceBytes = AEAD.nonceBytes
    public static let wrappedKeyBytes = AEAD.nonceBytes + AEAD.keyBytes + AEAD.tagBytes

    // MARK: Seal

    /// Seals `plaintext` (at most `Limits.maxSecretValueBytes`) for `binding` under a fresh data key wrapped by
    /// `masterKey`. The data key lives in guarded memory and is wiped before returning: the scratch's, if given
    /// (request paths should pass their thread's), otherwise a one-off `sodium_malloc`, which costs about 35 µs.
    public static func seal(
        plaintext: UnsafeRawBufferPointer, binding: SealBinding, masterKey: MasterKey, scratch: OpenScratch? = nil
    ) throws(CryptoError) -> SealedValue {
        guard plaintext.count <= Limits.maxSecretValueBytes else { throw .valueTooLarge }
        try Sodium.initialize()
        // Public randomness in one call: data key id, wrapping nonce, value nonce.
        var random = [UInt8](repeating: 0, count: dataKeyIDBytes + 2 * nonceBytes)
        randombytes_buf(&random, random.count)
        let dataKeyID = Array(random[0..<dataKeyIDBytes])
        let wrapNonce = Array(random[dataKeyIDBytes..<dataKeyIDBytes + nonceBytes])
        let valueNonce = Array(random[(dataKeyIDBytes + nonceBytes)...])
        var ciphertext: [UInt8] = []
        var wrappedKey: [UInt8] = []
        try withDataKeyBuffer(scratch) { dataKey in
            randombytes_buf(dataKey, AEAD.keyBytes)
            binding.withUTF8 { vault, version in
                let valueADSize = valueADSize(vault: vault, version: version)
                let keyADSize = keyADSize(vault: vault, version: version)
                withUnsafeTemporaryAllocation(byteCount: valueADSize + keyADSize, alignment: 8) { adSpace in
                    let valueAD = writeValueAD(
                        into: UnsafeMutableRawBufferPointer(rebasing: adSpace[0..<valueADSize]),
                        vault: vault, secretID: binding.secretID, version: version,
                        dataKeyID: dataKeyID, formatVersion: formatVersion)
                    let keyAD = writeKeyAD(
                        into: UnsafeMutableRawBufferPointer(rebasing: adSpace[valueADSize...]),
                        vault: vault, secretID: binding.secretID, version: version,
                        dataKeyID: dataKeyID, masterKeyID: masterKey.keyID, formatVersion: formatVersion)
                    ciphertext = [UInt8](unsafeUninitializedCapacity: plaintext.count + AEAD.tagBytes) {
                        output, initialized in
                        // Capacity is at least the tag length, so the base address exists.
                        guard let out = output.baseAddress else { return }
                        AEAD.encrypt(
                            into: out, message: plaintext, associatedData: valueAD, nonce: valueNonce, key: dataKey)
                        initialized = output.count
                    }
                    wrappedKey = wrap(
                        dataKey: dataKey, nonce: wrapNonce, associatedData: keyAD, masterKey: masterKey)
                }
            }
        }
        return SealedValue(
            formatVersion: formatVersion, masterKeyID: masterKey.keyID, dataKeyID: dataKeyID,
            wrappedKey: wrappedKey, valueNonce: valueNonce, ciphertext: ciphertext)
    }

    // MARK: Open

    /// Opens a sealed value: the plaintext exists only inside `body`, in the scratch's guarded memory, and is wiped
    /// as soon as `body` returns or throws. `body` must not let the buffer escape.
    ///
    /// Throws ``CryptoError/unsupportedFormat`` for an unknown format version, ``CryptoError/wrongKey(expectedKeyID:)``
    /// if the value names another master key (checked first, before any decryption), ``CryptoError/valueTooLarge`` if
    /// the plaintext would not fit in the scratch, and ``CryptoError/integrity`` for anything that does not
    /// authenticate (including malformed field lengths); or whatever `body` throws.
    public static func open<R>(
        _ sealed: SealedValueView, binding: SealBinding, masterKey: MasterKey, scratch: OpenScratch,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        let plaintextCount = try validate(sealed, masterKey: masterKey)
        guard plaintextCount <= scratch.capacity else { throw CryptoError.valueTooLarge }
        scratch.acquire()
        defer { scratch.release(plaintextCount: plaintextCount) }
        let dataKey = scratch.dataKey
        let plaintext = scratch.plaintext
        let opened = binding.withUTF8 { vault, version in
            let valueADSize = valueADSize(vault: vault, version: version)
            let keyADSize = keyADSize(vault: vault, version: version)
            return withUnsafeTemporaryAllocation(byteCount: valueADSize + keyADSize, alignment: 8) { adSpace in
                let keyAD = writeKeyAD(
                    into: UnsafeMutableRawBufferPointer(rebasing: adSpace[valueADSize...]),
                    vault: vault, secretID: binding.secretID, version: version,
                    dataKeyID: sealed.dataKeyID, masterKeyID: masterKey.keyID, formatVersion: sealed.formatVersion)
                guard unwrap(sealed.wrappedKey, into: dataKey, associatedData: keyAD, masterKey: masterKey) else {
                    return false
                }
                let valueAD = writeValueAD(
                    into: UnsafeMutableRawBufferPointer(rebasing: adSpace[0..<valueADSize]),
                    vault: vault, secretID: binding.secretID, version: version,
                    dataKeyID: sealed.dataKeyID, formatVersion: sealed.formatVersion)
                // validate() checked that the nonce has the right length, so the base address exists.
                guard let nonce = sealed.valueNonce.baseAddress else { return false }
                return AEAD.decrypt(
                    into: plaintext, ciphertext: sealed.ciphertext, associatedData: valueAD, nonce: nonce,
                    key: dataKey)
            }
        }
        guard opened else { throw CryptoError.integrity }
        return try body(UnsafeRawBufferPointer(start: plaintext, count: plaintextCount))
    }

    /// ``open(_:binding:masterKey:scratch:_:)-(SealedValueView,_,_,_,_)`` for a ``SealedValue``.
    public static func open<R>(
        _ sealed: SealedValue, binding: SealBinding, masterKey: MasterKey, scratch: OpenScratch,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        try sealed.withView { view in
            try open(view, binding: binding, masterKey: masterKey, scratch: scratch, body)
        }
    }

    /// Opens without a long-lived scratch: allocates guarded memory for this call only (several syscalls). For
    /// administrative and test paths; request handlers pass their thread's ``OpenScratch``.
    public static func open<R>(
        _ sealed: SealedValue, binding: SealBinding, masterKey: MasterKey,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        let scratch = try OpenScratch(capacity: min(sealed.plaintextCount ?? 0, Limits.maxSecretValueBytes))
        return try open(sealed, binding: binding, masterKey: masterKey, scratch: scratch, body)
    }

    // MARK: Rewrap

    /// Rewraps the data key from `old` to `new` master key (online master-key rotation). The value ciphertext,
    /// nonce and data key id are untouched; the wrapped key gets a fresh nonce and the new key id in its AD.
    /// The value itself is not decrypted, so a damaged ciphertext is only detected when it is opened.
    public static func rewrap(
        _ sealed: SealedValue, binding: SealBinding, from old: MasterKey, to new: MasterKey,
        scratch: OpenScratch? = nil
    ) throws(CryptoError) -> SealedValue {
        let check = sealed.withView { view in Result { () throws(CryptoError) in try validate(view, masterKey: old) } }
        _ = try check.get()
        var nonce = [UInt8](repeating: 0, count: nonceBytes)
        randombytes_buf(&nonce, nonce.count)
        var result = sealed
        let rewrapped = try withDataKeyBuffer(scratch) { dataKey in
            binding.withUTF8 { vault, version in
                let size = keyADSize(vault: vault, version: version)
                return withUnsafeTemporaryAllocation(byteCount: 2 * size, alignment: 8) { adSpace in
                    let oldAD = writeKeyAD(
                        into: UnsafeMutableRawBufferPointer(rebasing: adSpace[0..<size]),
                        vault: vault, secretID: binding.secretID, version: version,
                        dataKeyID: sealed.dataKeyID, masterKeyID: old.keyID, formatVersion: sealed.formatVersion)
                    let unwrapped = sealed.wrappedKey.withUnsafeBytes { wrapped in
                        unwrap(wrapped, into: dataKey, associatedData: oldAD, masterKey: old)
                    }
                    guard unwrapped else { return false }
                    let newAD = writeKeyAD(
                        into: UnsafeMutableRawBufferPointer(rebasing: adSpace[size...]),
                        vault: vault, secretID: binding.secretID, version: version,
                        dataKeyID: sealed.dataKeyID, masterKeyID: new.keyID, formatVersion: sealed.formatVersion)
                    result.wrappedKey = wrap(dataKey: dataKey, nonce: nonce, associatedData: newAD, masterKey: new)
                    return true
                }
            }
        }
        guard rewrapped else { throw .integrity }
        result.masterKeyID = new.keyID
        return result
    }

    // MARK: Internals

    /// Checks everything that can be checked without a key; returns the plaintext length.
    @inline(__always)
    private static func validate(_ sealed: SealedValueView, masterKey: MasterKey) throws(CryptoError) -> Int {
        try Sodium.initialize()
        guard sealed.formatVersion == formatVersion else { throw .unsupportedFormat }
        guard sealed.masterKeyID == masterKey.keyID else { throw .wrongKey(expectedKeyID: sealed.masterKeyID) }
        // A format-1 record with fields of the wrong size is corrupt: the same answer as a failed tag.
        guard sealed.dataKeyID.count == dataKeyIDBytes, sealed.wrappedKey.count == wrappedKeyBytes,
            sealed.valueNonce.count == nonceBytes, sealed.ciphertext.count >= AEAD.tagBytes
        else { throw .integrity }
        return sealed.ciphertext.count - AEAD.tagBytes
    }

    /// Runs `body` with 32 bytes of guarded memory for a data key, wiped afterwards.
    private static func withDataKeyBuffer<R>(
        _ scratch: OpenScratch?, _ body: (UnsafeMutableRawPointer) throws(CryptoError) -> R
    ) throws(CryptoError) -> R {
        if let scratch {
            scratch.acquire()
            defer { scratch.release(plaintextCount: 0) }
            return try body(scratch.dataKey)
        }
        let memory = try GuardedMemory(count: AEAD.keyBytes)
        defer { memory.wipe(AEAD.keyBytes) }
        return try body(memory.base)
    }

    /// nonce ‖ AEAD(data key) under the master key.
    private static func wrap(
        dataKey: UnsafeRawPointer, nonce: [UInt8], associatedData: UnsafeRawBufferPointer, masterKey: MasterKey
    ) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: wrappedKeyBytes) { output, initialized in
            guard let out = output.baseAddress else { return }
            out.initialize(from: nonce, count: nonceBytes)
            masterKey.bytes.withUnsafeBytes { kek in
                guard let key = kek.baseAddress else { return }
                AEAD.encrypt(
                    into: out + nonceBytes, message: UnsafeRawBufferPointer(start: dataKey, count: AEAD.keyBytes),
                    associatedData: associatedData, nonce: nonce, key: key)
                initialized = wrappedKeyBytes
            }
        }
    }

    /// Verifies and decrypts a wrapped key (nonce ‖ ciphertext ‖ tag) into `dataKey`.
    @inline(__always)
    private static func unwrap(
        _ wrapped: UnsafeRawBufferPointer, into dataKey: UnsafeMutableRawPointer,
        associatedData: UnsafeRawBufferPointer, masterKey: MasterKey
    ) -> Bool {
        guard wrapped.count == wrappedKeyBytes, let base = wrapped.baseAddress else { return false }
        return masterKey.bytes.withUnsafeBytes { kek in
            guard let key = kek.baseAddress else { return false }
            return AEAD.decrypt(
                into: dataKey, ciphertext: UnsafeRawBufferPointer(rebasing: wrapped[nonceBytes...]),
                associatedData: associatedData, nonce: base, key: key)
        }
    }

    private static func valueADSize(vault: UnsafeRawBufferPointer, version: UnsafeRawBufferPointer) -> Int {
        AssociatedDataWriter.size(valueLabel.utf8CodeUnitCount, 1, vault.count, 8, version.count, dataKeyIDBytes)
    }

    private static func keyADSize(vault: UnsafeRawBufferPointer, version: UnsafeRawBufferPointer) -> Int {
        AssociatedDataWriter.size(keyLabel.utf8CodeUnitCount, 1, vault.count, 8, version.count, dataKeyIDBytes, 4)
    }

    /// The associated data for `binding` as bytes: the value's if `masterKeyID` is nil, else the wrapped key's.
    /// Not used on the hot path (which writes it on the stack); for tests and documentation.
    static func associatedData(
        for binding: SealBinding, dataKeyID: [UInt8], masterKeyID: UInt32?, formatVersion: UInt8 = formatVersion
    ) -> [UInt8] {
        binding.withUTF8 { vault, version in
            let size =
                masterKeyID == nil
                ? valueADSize(vault: vault, version: version) : keyADSize(vault: vault, version: version)
            return [UInt8](unsafeUninitializedCapacity: size) { output, initialized in
                let space = UnsafeMutableRawBufferPointer(output)
                let written =
                    if let masterKeyID {
                        writeKeyAD(
                            into: space, vault: vault, secretID: binding.secretID, version: version,
                            dataKeyID: dataKeyID, masterKeyID: masterKeyID, formatVersion: formatVersion)
                    } else {
                        writeValueAD(
                            into: space, vault: vault, secretID: binding.secretID, version: version,
                            dataKeyID: dataKeyID, formatVersion: formatVersion)
                    }
                initialized = written.count
            }
        }
    }

    private static let valueLabel: StaticString = "coffer/value"
    private static let keyLabel: StaticString = "coffer/dek"

    private static func writeValueAD<D: ADBytes>(
        into space: UnsafeMutableRawBufferPointer, vault: UnsafeRawBufferPointer, secretID: Int64,
        version: UnsafeRawBufferPointer, dataKeyID: D, formatVersion: UInt8
    ) -> UnsafeRawBufferPointer {
        var writer = AssociatedDataWriter(space)
        writer.append(valueLabel)
        writer.append(formatVersion)
        writer.append(vault)
        writer.append(secretID)
        writer.append(version)
        dataKeyID.withADBytes { writer.append($0) }
        return writer.written
    }

    private static func writeKeyAD<D: ADBytes>(
        into space: UnsafeMutableRawBufferPointer, vault: UnsafeRawBufferPointer, secretID: Int64,
        version: UnsafeRawBufferPointer, dataKeyID: D, masterKeyID: UInt32, formatVersion: UInt8
    ) -> UnsafeRawBufferPointer {
        var writer = AssociatedDataWriter(space)
        writer.append(keyLabel)
        writer.append(formatVersion)
        writer.append(vault)
        writer.append(secretID)
        writer.append(version)
        dataKeyID.withADBytes { writer.append($0) }
        writer.append(masterKeyID)
        return writer.written
    }
}

/// Byte fields that go into associated data from either an array or a borrowed buffer.
protocol ADBytes {
    func withADBytes(_ body: (UnsafeRawBufferPointer) -> Void)
}

extension Array: ADBytes where Element == UInt8 {
    func withADBytes(_ body: (UnsafeRawBufferPointer) -> Void) { withUnsafeBytes(body) }
}

extension UnsafeRawBufferPointer: ADBytes {
    func withADBytes(_ body: (UnsafeRawBufferPointer) -> Void) { body(self) }
}
