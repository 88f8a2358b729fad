import CSodium

/// libsodium's process-wide initialization.
///
/// `sodium_init()` runs exactly once, the first time any CofferCrypto entry point (or ``initialize()``) is reached:
/// the result lives in a global `let`, which Swift initializes lazily under `swift_once`, so concurrent first calls
/// are safe and later calls cost one atomic load. The daemon calls ``initialize()`` at startup and refuses to start
/// if it throws; every throwing entry point checks it again.
public enum Sodium {
    /// Runs `sodium_init()` if it has not run yet. Throws ``CryptoError/initializationFailed`` if it failed (for
    /// example when no entropy source is available), now or on an earlier call.
    public static func initialize() throws(CryptoError) {
        guard sodiumInitStatus >= 0 else { throw .initializationFailed }
    }

    /// For the non-throwing entry points (hashes, random bytes): forces the one-time initialization. If it failed,
    /// the daemon has already refused to start (see ``initialize()``); libsodium's hashes do not depend on it, and
    /// its random generator aborts rather than return predictable bytes.
    @inline(__always)
    static func touch() { _ = sodiumInitStatus }

    /// The libsodium version string (for the daemon's startup log).
    public static var version: String { String(cString: sodium_version_string()) }
}

/// 0: initialized now, 1: already initialized (by another library in the process), -1: failed.
private let sodiumInitStatus: Int32 = sodium_init()

/// Failures of CofferCrypto operations. Descriptions name the failure only, never any bytes.
public enum CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Authentication failed: the ciphertext, wrapped key, nonce or data key id was tampered with, moved to another
    /// vault, secret or version, or the key is not the one it was sealed with. Never returns other plaintext.
    case integrity
    /// The sealed value names a master key other than the one given; detected before any decryption.
    case wrongKey(expectedKeyID: UInt32)
    /// The sealed value's format version is not one this build reads.
    case unsupportedFormat
    /// `sodium_malloc` (or Argon2's working memory) could not be allocated, typically because `RLIMIT_MEMLOCK` is
    /// exhausted: raise `LimitMEMLOCK=` in the unit.
    case allocationFailed
    /// The value is larger than ``CofferCore/Limits/maxSecretValueBytes`` (or than the scratch buffer).
    case valueTooLarge
    /// `sodium_init()` failed; nothing in this module can run.
    case initializationFailed
    /// A key has the wrong length (both numbers are lengths, not key material).
    case invalidKeyLength(expected: Int, actual: Int)
    /// Key-derivation parameters out of libsodium's accepted range (salt length, ops or memory limit, passphrase
    /// length).
    case invalidParameters

    public var description: String {
        switch self {
        case .integrity: "CryptoError.integrity: authentication failed (tampered, moved, or wrong key)"
        case .wrongKey(let id): "CryptoError.wrongKey: sealed under master key \(id)"
        case .unsupportedFormat: "CryptoError.unsupportedFormat"
        case .allocationFailed: "CryptoError.allocationFailed: guarded memory unavailable (check RLIMIT_MEMLOCK)"
        case .valueTooLarge: "CryptoError.valueTooLarge"
        case .initializationFailed: "CryptoError.initializationFailed: sodium_init() failed"
        case .invalidKeyLength(let expected, let actual):
            "CryptoError.invalidKeyLength: expected \(expected) bytes, got \(actual)"
        case .invalidParameters: "CryptoError.invalidParameters"
        }
    }
}
