import CofferCore
import CofferCrypto
import CofferStore
import CofferSystem
import Synchronization

/// Where the master key comes from (docs/OPERATIONS.md, "Master key").
public enum KeySource: Sendable, Equatable {
    /// A key file in the state directory (the embedded default), created 0600 on first start.
    case file(path: String)
    /// A systemd credential (`LoadCredentialEncrypted=`): `$CREDENTIALS_DIRECTORY/<name>`, same format as the key file.
    case systemdCredential(path: String)
    /// Wrapped under an Argon2id key derived from a passphrase; the daemon starts sealed until unsealed.
    case passphrase
    /// Given by the caller (tests and tools); rotation keeps new keys in memory only.
    case provided

    public var name: String {
        switch self {
        case .file: return "file"
        case .systemdCredential: return "systemd-credential"
        case .passphrase: return "passphrase"
        case .provided: return "provided"
        }
    }
}

/// An online master-key rotation's progress.
struct RotationProgress: Sendable {
    var running = false
    var targetKeyID: UInt32?
    var rewrapped = 0
    var remaining = 0
    var lastError: String?
}

extension Vault {
    public internal(set) var keySource: KeySource {
        get { keyConfiguration.withLock { $0.source } }
        set { keyConfiguration.withLock { $0.source = newValue } }
    }

    var passphraseParameters: PassphraseKDF.Parameters {
        get { keyConfiguration.withLock { $0.parameters } }
        set { keyConfiguration.withLock { $0.parameters = newValue } }
    }

    public var isSealed: Bool { keys.withLock { $0 == nil } }

    /// The current master key's id, if unsealed.
    public var currentKeyID: UInt32? { keys.withLock { $0?.current.keyID } }

    static let sealedError = ServiceError(.sealed, "The vault is sealed. An administrator must unseal it.")

    /// Drops every key from memory at once (guarded memory is wiped when the last reference goes).
    public func seal() { keys.withLock { $0 = nil } }

    /// Unseals: with the passphrase source, derives the wrapping key and unwraps the master keys (with `initialize`,
    /// a vault that has none yet gets a new key wrapped under this passphrase); with a key file or credential,
    /// reads the keys again from their source.
    public func unseal(passphrase: SensitiveBytes?, initialize: Bool = false) throws {
        if !isSealed { return }
        switch keySource {
        case .file(let path), .systemdCredential(let path):
            let loaded = try KeyFile.load(path: path, requirePrivate: keySource != .systemdCredential(path: path))
            try Vault.recordOrVerify(loaded, store: store, now: clock.now())
            keys.withLock { $0 = KeyRing(keys: loaded) }
        case .provided:
            throw ServiceError(.invalidRequest, "This vault's keys were provided in memory; it cannot be unsealed.")
        case .passphrase:
            guard let passphrase, passphrase.count > 0 else {
                throw ServiceError(.invalidParameter, "Unseal needs the passphrase.")
            }
            let wrappings = try store.writer.perform { try $0.keyWrappings() }
            if wrappings.isEmpty {
                guard initialize else {
                    throw ServiceError(
                        .invalidRequest,
                        "This vault has no master key yet. Unseal with Initialize=true to create one under this passphrase."
                    )
                }
                try initializePassphrase(passphrase)
                return
            }
            guard let first = wrappings.first else { return }
            let wrappingKey = try passphrase.withUnsafeBytes { bytes in
                try PassphraseKDF.derive(
                    passphrase: bytes, salt: first.salt, opsLimit: first.opsLimit, memLimit: first.memLimit)
            }
            var unwrapped: [MasterKey] = []
            for wrapping in wrappings {
                do {
                    unwrapped.append(
                        try PassphraseKDF.unwrapKey(
                            wrapping.wrapped, under: wrappingKey, keyID: wrapping.keyID, vaultID: vaultID))
                } catch {
                    throw ServiceError(.accessDenied, "Unseal failed: the passphrase does not unlock this vault.")
                }
            }
            try Vault.recordOrVerify(unwrapped, store: store, now: clock.now())
            keys.withLock { $0 = KeyRing(keys: unwrapped, wrappingKey: wrappingKey) }
        }
    }

    /// A new vault under the passphrase source: a random master key, wrapped and stored with its KDF parameters.
    func initializePassphrase(_ passphrase: SensitiveBytes) throws {
        let parameters = passphraseParameters
        let wrappingKey = try passphrase.withUnsafeBytes { bytes in
            try PassphraseKDF.derive(passphrase: bytes, parameters: parameters)
        }
        let key = try MasterKey.generate(id: 1)
        let wrapped = try PassphraseKDF.wrapKey(key, under: wrappingKey, vaultID: vaultID)
        let row = KeyWrappingRow(
            keyID: key.keyID, salt: parameters.salt, opsLimit: parameters.opsLimit, memLimit: parameters.memLimit,
            wrapped: wrapped)
        let now = clock.now().milliseconds
        let check = key.checkValue()
        try store.writer.perform { ctx in
            guard try ctx.masterKeys().isEmpty else {
                throw ServiceError(.invalidRequest, "This vault already has a master key.")
            }
            try ctx.insertKeyWrapping(row, createdMs: now)
            try ctx.insertMasterKey(keyID: row.keyID, checkValue: check, createdMs: now)
        }
        keys.withLock { $0 = KeyRing(keys: [key], wrappingKey: wrappingKey) }
    }

    // MARK: Rotation

    /// Starts an online master-key rotation: a new key is created and persisted next to the old ones (key file or
    /// passphrase wrappings), becomes current for new values at once, and every stored data key is rewrapped under
    /// it in bounded batches on a background thread while reads and writes go on. Returns the new key id. If the
    /// daemon stops midway, ``resumeRotationIfNeeded()`` finishes the job at the next start (both keys are still in
    /// the key source until the last batch has committed).
    @discardableResult
    public func rotateMasterKey() throws -> UInt32 {
        guard let ring = keys.withLock({ $0 }) else { throw Vault.sealedError }
        if rotation.withLock({ $0.running }) {
            throw ServiceError(.invalidRequest, "A master-key rotation is already running.")
        }
        let known = try store.writer.perform { try $0.masterKeys() }
        let newID = (known.map(\.keyID).max() ?? ring.current.keyID) + 1
        let newKey = try MasterKey.generate(id: newID)
        let all = ring.all + [newKey]
        let now = clock.now().milliseconds
        switch keySource {
        case .file(let path):
            try KeyFile.write(all, to: path, replace: true)
        case .passphrase:
            guard let wrappingKey = ring.wrappingKey,
                let template = try store.writer.perform({ try $0.keyWrappings() }).first
            else { throw ServiceError(.invalidRequest, "Unseal with the passphrase before rotating.") }
            let wrapped = try PassphraseKDF.wrapKey(newKey, under: wrappingKey, vaultID: vaultID)
            let row = KeyWrappingRow(
                keyID: newID, salt: template.salt, opsLimit: template.opsLimit, memLimit: template.memLimit,
                wrapped: wrapped)
            try store.writer.perform { try $0.insertKeyWrapping(row, createdMs: now) }
        case .systemdCredential:
            throw ServiceError(
                .invalidRequest,
                "The master key comes from a systemd credential, which the daemon cannot rewrite. Rotate with the key "
                    + "file or passphrase source, then create a new credential (docs/OPERATIONS.md).")
        case .provided:
            break
        }
        let check = newKey.checkValue()
        try store.writer.perform { try $0.insertMasterKey(keyID: newID, checkValue: check, createdMs: now) }
        keys.withLock { $0 = KeyRing(keys: all, wrappingKey: ring.wrappingKey) }
        try startRewrap()
        return newID
    }

    /// Finishes an interrupted rotation (called at start-up once unsealed): rewraps data keys still under an older
    /// key, if any.
    public func resumeRotationIfNeeded() throws {
        guard let current = currentKeyID else { return }
        let unfinished = try store.writer.perform { try $0.hasVersionsNotUnder(keyID: current) }
        if unfinished || (keys.withLock { $0?.others.isEmpty } == false) {
            try startRewrap()
        }
    }

    func startRewrap() throws {
        let started = rotation.withLock { state -> Bool in
            guard !state.running else { return false }
            state = RotationProgress(running: true, targetKeyID: currentKeyID)
            return true
        }
        guard started else { return }
        _ = try OSThread(name: "coffer-rotate") { [self] in
            do {
                try rewrapAll()
            } catch {
                rotation.withLock {
                    $0.lastError = "\(error)"
                    $0.running = false
                }
            }
        }
    }

    /// Rewraps in batches of ``rewrapBatch`` (one short writer transaction each, so other writes interleave).
    static let rewrapBatch = 256

    func rewrapAll() throws {
        while true {
            guard let ring = keys.withLock({ $0 }) else { throw Vault.sealedError }
            let target = ring.current
            let done = try store.writer.perform { [self] ctx -> Int in
                let rows = try ctx.versionsNotUnder(keyID: target.keyID, limit: Vault.rewrapBatch)
                for row in rows {
                    guard let old = ring.key(id: row.masterKeyID) else { throw Vault.sealedError }
                    let sealed = SealedValue(
                        formatVersion: UInt8(truncatingIfNeeded: row.seal.format), masterKeyID: row.seal.masterKeyID,
                        dataKeyID: row.seal.dataKeyID, wrappedKey: row.seal.wrappedKey, valueNonce: row.seal.valueNonce,
                        ciphertext: row.seal.ciphertext)
                    let rewrapped = try Envelope.rewrap(
                        sealed, binding: binding(secretID: row.secretID, versionID: row.versionID), from: old,
                        to: target, scratch: writerScratch.scratch)
                    try ctx.updateWrappedKey(
                        secretID: row.secretID, versionID: row.versionID, masterKeyID: target.keyID,
                        wrappedKey: rewrapped.wrappedKey)
                }
                return rows.count
            }
            rotation.withLock { $0.rewrapped += done }
            if done < Vault.rewrapBatch { break }
        }
        try finishRotation()
    }

    /// Every data key is under the current key: retire the others and drop them from the key source.
    func finishRotation() throws {
        guard let ring = keys.withLock({ $0 }) else { throw Vault.sealedError }
        let retired = ring.others.map(\.keyID)
        let now = clock.now().milliseconds
        switch keySource {
        case .file(let path): try KeyFile.write([ring.current], to: path, replace: true)
        default: break
        }
        try store.writer.perform { ctx in
            for id in retired {
                try ctx.retireMasterKey(keyID: id, at: now)
                try ctx.deleteKeyWrapping(keyID: id)
            }
        }
        keys.withLock { $0 = KeyRing(keys: [ring.current], wrappingKey: ring.wrappingKey) }
        rotation.withLock {
            $0.running = false
            $0.remaining = 0
        }
    }

    /// Status of the keys for the admin socket.
    public var keyStatus: (current: UInt32?, source: String, rotating: Bool, rewrapped: Int, error: String?) {
        let progress = rotation.withLock { $0 }
        return (currentKeyID, keySource.name, progress.running, progress.rewrapped, progress.lastError)
    }

    /// Waits until a running rotation has finished (tests, shutdown).
    public func waitForRotation(timeoutMilliseconds: Int64 = 600_000) {
        let deadline = Monotonic.milliseconds() + timeoutMilliseconds
        while rotation.withLock({ $0.running }) && Monotonic.milliseconds() < deadline {
            var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            nanosleep(&pause, nil)
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
