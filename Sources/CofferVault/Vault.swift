import CofferCore
import CofferCrypto
import CofferProtocol
import CofferStore
import Synchronization

/// How to open a vault.
public struct VaultOptions: Sendable {
    /// Path of the SQLite database (created 0600 if missing).
    public var databasePath: String
    /// Used only when the vault is created: ARN partition and region, and the 12-digit account id (random if nil).
    public var partition: String = VaultIdentity.defaultPartition
    public var region: String = VaultIdentity.defaultRegion
    public var accountID: String?
    public var store = StoreOptions()
    public var clock: any Clock = SystemClock()
    /// Nil (the default): the IAM policy engine over the vault's stored policies (``AccessController``).
    public var authorizer: (any Authorizer)?
    public var access = AccessOptions()
    /// Where the master key comes from (docs/OPERATIONS.md). Ignored by ``Vault/open(_:masterKey:)``.
    public var keySource: KeySource = .provided
    /// Remove secrets past their recovery window when opening (off for restore: it must not change the backup).
    public var purgeOnOpen = true
    /// Argon2id parameters for a vault initialized with the passphrase source.
    public var passphraseParameters: PassphraseKDF.Parameters = .moderate()

    public init(databasePath: String) { self.databasePath = databasePath }
}

/// Why a vault could not be opened.
public enum VaultOpenError: Error, Sendable, CustomStringConvertible {
    /// The key does not match the key-check value recorded for its id.
    case wrongMasterKey(keyID: UInt32)
    /// The vault has no record of a master key with this id.
    case unknownMasterKey(keyID: UInt32)
    case invalidAccountID(String)
    /// An existing vault was opened without one of its master keys.
    case missingMasterKey(keyID: UInt32)

    public var description: String {
        switch self {
        case .missingMasterKey(let id): return "the key source does not hold the vault's master key \(id)"
        case .wrongMasterKey(let id): return "the master key does not match the vault (key id \(id))"
        case .unknownMasterKey(let id): return "the vault has no master key with id \(id)"
        case .invalidAccountID(let id): return "invalid account id \(id): must be 12 digits"
        }
    }
}

/// The service: AWS Secrets Manager's operations over the encrypted store, every request authorized.
///
/// Reads run on the calling thread with that thread's ``VaultReader`` (they never wait for the writer); writes go
/// to the store's single writer and are answered after they commit. No sockets here.
public final class Vault: Sendable {
    public let store: Store
    public let identity: VaultIdentity
    /// Random id of this vault, bound into every ciphertext's associated data.
    public let vaultID: String
    public let clock: any Clock
    let keys: Mutex<KeyRing?>
    let authorizerBox: Mutex<any Authorizer>
    /// The IAM engine, when it is the authorizer (IAM operations need it).
    public let accessController: AccessController?
    /// Guarded scratch for the writer thread's seals and opens (a one-off `sodium_malloc` costs ~40 µs).
    let writerScratch = WriterScratch()
    let keyConfiguration = Mutex<(source: KeySource, parameters: PassphraseKDF.Parameters)>((.provided, .interactive()))
    let rotation = Mutex(RotationProgress())
    let backups = Mutex([String: BackupSession]())
    let startedAt = Monotonic.milliseconds()

    init(
        store: Store, identity: VaultIdentity, vaultID: String, clock: any Clock, keyRing: KeyRing?,
        authorizer: any Authorizer, accessController: AccessController?
    ) {
        self.store = store
        self.identity = identity
        self.vaultID = vaultID
        self.clock = clock
        self.keys = Mutex(keyRing)
        self.authorizerBox = Mutex(authorizer)
        self.accessController = accessController
    }

    /// Opens the vault with an explicit key (tests and tools): the key source is `.provided`.
    public static func open(_ options: VaultOptions, masterKey: MasterKey) throws -> Vault {
        var options = options
        options.keySource = .provided
        return try open(options, keys: [masterKey])
    }

    /// Opens the vault at `options.databasePath` with keys from `options.keySource`: a key file (created with a new
    /// key on first use), a systemd credential, or nothing yet for the passphrase source (the vault starts sealed and
    /// an administrator unseals it).
    public static func open(_ options: VaultOptions) throws -> Vault {
        switch options.keySource {
        case .file(let path): return try open(options, keys: try KeyFile.loadOrCreate(path: path).0)
        case .systemdCredential(let path):
            return try open(options, keys: try KeyFile.load(path: path, requirePrivate: false))
        case .passphrase, .provided: return try open(options, keys: nil)
        }
    }

    /// Opens with `keys` (nil: sealed). An existing vault must recognise every key (its key-check value) and get all
    /// of its live keys; a new vault records them.
    static func open(_ options: VaultOptions, keys: [MasterKey]?) throws -> Vault {
        let store = try Store(path: options.databasePath, options: options.store)
        let now = options.clock.now()
        if let accountID = options.accountID, !VaultIdentity.isValidAccountID(accountID) {
            throw VaultOpenError.invalidAccountID(accountID)
        }
        var row = try store.writer.perform { ctx in try ctx.vault() }
        if row == nil {
            let created = VaultRow(
                vaultID: Identifiers.randomUUID(), partition: options.partition, region: options.region,
                accountID: options.accountID ?? VaultIdentity.generateAccountID(), createdMs: now.milliseconds)
            try store.writer.perform { ctx in try ctx.insertVault(created) }
            row = created
        }
        guard let row else { throw StoreError.closed }
        var ring: KeyRing?
        if let keys, !keys.isEmpty {
            try Vault.recordOrVerify(keys, store: store, now: now)
            ring = KeyRing(keys: keys)
        }
        let identity = VaultIdentity(partition: row.partition, region: row.region, accountID: row.accountID)
        var controller: AccessController?
        if options.authorizer == nil {
            let state = try store.writer.perform { ctx in try ctx.iamState() }
            controller = AccessController(
                identity: identity, options: options.access, state: state, clock: options.clock)
        }
        guard let authorizer: any Authorizer = options.authorizer ?? controller else { throw StoreError.closed }
        let vault = Vault(
            store: store, identity: identity, vaultID: row.vaultID, clock: options.clock,
            keyRing: ring, authorizer: authorizer, accessController: controller)
        vault.keySource = options.keySource
        vault.passphraseParameters = options.passphraseParameters
        if options.purgeOnOpen && ring != nil { try vault.purgeExpired() }
        return vault
    }

    /// Checks `keys` against the vault's key-check values; records those of a vault that has none yet. Every live
    /// (unretired) key of the vault must be present, or values sealed under a missing one could not be read.
    static func recordOrVerify(_ keys: [MasterKey], store: Store, now: Timestamp) throws {
        let known = try store.writer.perform { ctx in try ctx.masterKeys() }
        if known.isEmpty {
            let checks = keys.map { ($0.keyID, $0.checkValue()) }
            try store.writer.perform { ctx in
                for (id, check) in checks {
                    try ctx.insertMasterKey(keyID: id, checkValue: check, createdMs: now.milliseconds)
                }
            }
            return
        }
        for key in keys {
            guard let record = known.first(where: { $0.keyID == key.keyID }) else {
                throw VaultOpenError.unknownMasterKey(keyID: key.keyID)
            }
            guard constantTimeEqual(record.checkValue, key.checkValue()) else {
                throw VaultOpenError.wrongMasterKey(keyID: key.keyID)
            }
        }
        for record in known where record.retiredMs == nil && !keys.contains(where: { $0.keyID == record.keyID }) {
            throw VaultOpenError.missingMasterKey(keyID: record.keyID)
        }
    }

    /// Drains pending writes and closes the store.
    public func close() { store.close() }

    /// Replaces the access controller (policies reloaded or changed).
    public func setAuthorizer(_ authorizer: any Authorizer) { authorizerBox.withLock { $0 = authorizer } }
    var authorizer: any Authorizer { authorizerBox.withLock { $0 } }

    /// A reader for the calling thread: a read-only SQLite connection and a guarded scratch for decryption.
    public func makeReader() throws -> VaultReader {
        VaultReader(store: try store.makeReader(), scratch: try OpenScratch())
    }

    // MARK: - Dispatch

    /// Handles one Secrets Manager request. Read-only operations run now, on the calling thread, and call `reply`
    /// before returning; writes are queued and `reply` runs on the writer thread after the commit.
    public func handle(
        _ operation: Operation, _ request: Document, caller: Caller, reader: VaultReader,
        reply: @escaping @Sendable (Result<Document, ServiceError>) -> Void
    ) {
        let now = clock.now()
        do {
            if isSealed && operation.service == .secretsManager { throw Vault.sealedError }
            switch operation {
            case .getSecretValue: reply(.success(try getSecretValue(request, caller, reader, now)))
            case .describeSecret: reply(.success(try describeSecret(request, caller, reader, now)))
            case .listSecrets: reply(.success(try listSecrets(request, caller, reader, now)))
            case .listSecretVersionIds: reply(.success(try listSecretVersionIds(request, caller, reader, now)))
            case .batchGetSecretValue: reply(.success(try batchGetSecretValue(request, caller, reader, now)))
            case .getRandomPassword: reply(.success(try getRandomPassword(request, caller)))
            case .getResourcePolicy: reply(.success(try getResourcePolicy(request, caller, reader, now)))
            case .validateResourcePolicy: reply(.success(try validateResourcePolicy(request, caller, reader, now)))
            case .createSecret: try submit(createSecret(request, caller), reply)
            case .putSecretValue: try submit(putSecretValue(request, caller), reply)
            case .updateSecret: try submit(updateSecret(request, caller), reply)
            case .updateSecretVersionStage: try submit(updateSecretVersionStage(request, caller), reply)
            case .deleteSecret: try submit(deleteSecret(request, caller), reply)
            case .restoreSecret: try submit(restoreSecret(request, caller), reply)
            case .tagResource: try submit(tagResource(request, caller), reply)
            case .untagResource: try submit(untagResource(request, caller), reply)
            case .putResourcePolicy: try submit(putResourcePolicy(request, caller), reply)
            case .deleteResourcePolicy: try submit(deleteResourcePolicy(request, caller), reply)
            case .rotateSecret, .cancelRotateSecret:
                reply(.success(try rotation(operation, request, caller, reader, now)))
            default:
                throw ServiceError(.unknownOperation, "\(operation.name) is not a Secrets Manager operation.")
            }
        } catch {
            reply(.failure(Vault.serviceError(error)))
        }
    }

    /// Synchronous form of ``handle(_:_:caller:reader:reply:)`` (tests, the CLI's embedded demo, admin tools).
    public func perform(
        _ operation: Operation, _ request: Document, caller: Caller, reader: VaultReader
    )
        -> Result<Document, ServiceError>
    {
        let result = OneShot<Result<Document, ServiceError>>()
        handle(operation, request, caller: caller, reader: reader) { result.fulfill($0) }
        return result.wait()
    }

    /// A write: runs on the writer with the time of execution, answered after commit.
    typealias WriteJob = @Sendable (WriteContext, Timestamp) throws -> Document

    func submit(_ job: @escaping WriteJob, _ reply: @escaping @Sendable (Result<Document, ServiceError>) -> Void) {
        let clock = self.clock
        store.writer.submit({ ctx in try job(ctx, clock.now()) }) { result in
            reply(result.mapError { Vault.serviceError($0) })
        }
    }

    /// Maps any internal failure to what a client may see. Only `ServiceError`s carry their own text; everything
    /// else becomes a generic error (details belong in the daemon's log, never in a reply).
    static func serviceError(_ error: any Error) -> ServiceError {
        if let error = error as? ServiceError { return error }
        if let error = error as? CryptoError {
            switch error {
            case .integrity, .wrongKey, .unsupportedFormat:
                return ServiceError(
                    .decryptionFailure,
                    "Secrets Manager can't decrypt the protected secret text using the provided KMS key.")
            default:
                return .internalFailure
            }
        }
        if let error = error as? StoreError, case .closed = error {
            return ServiceError(.internalServiceError, "The vault is shutting down.")
        }
        return .internalFailure
    }

    // MARK: - Keys

    func currentKey() throws(ServiceError) -> MasterKey {
        guard let key = keys.withLock({ $0?.current }) else { throw Vault.sealedError }
        return key
    }

    func key(id: UInt32) throws(ServiceError) -> MasterKey {
        guard let ring = keys.withLock({ $0 }) else { throw Vault.sealedError }
        guard let key = ring.key(id: id) else {
            throw ServiceError(
                .decryptionFailure,
                "Secrets Manager can't decrypt the protected secret text using the provided KMS key.")
        }
        return key
    }

    func binding(secretID: Int64, versionID: String) -> SealBinding {
        SealBinding(vaultID: vaultID, secretID: secretID, versionID: versionID)
    }

    func seal(_ value: ValueInput, secretID: Int64, versionID: String) throws -> StoredSeal {
        let key = try currentKey()
        let sealed = try value.bytes.withUnsafeBytes { plaintext in
            try Envelope.seal(
                plaintext: plaintext, binding: binding(secretID: secretID, versionID: versionID), masterKey: key,
                scratch: writerScratch.scratch)
        }
        return StoredSeal(
            format: Int(sealed.formatVersion), masterKeyID: sealed.masterKeyID, dataKeyID: sealed.dataKeyID,
            wrappedKey: sealed.wrappedKey, valueNonce: sealed.valueNonce, ciphertext: sealed.ciphertext)
    }

    /// Opens a stored version; the plaintext exists only inside `body`.
    func open<R>(
        _ version: VersionRow, scratch: OpenScratch?, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws
        -> R
    {
        let seal = version.seal
        let key = try key(id: seal.masterKeyID)
        let sealed = SealedValue(
            formatVersion: UInt8(truncatingIfNeeded: seal.format), masterKeyID: seal.masterKeyID,
            dataKeyID: seal.dataKeyID, wrappedKey: seal.wrappedKey, valueNonce: seal.valueNonce,
            ciphertext: seal.ciphertext)
        let where_ = binding(secretID: version.secretID, versionID: version.versionID)
        if let scratch {
            return try Envelope.open(sealed, binding: where_, masterKey: key, scratch: scratch, body)
        }
        return try Envelope.open(sealed, binding: where_, masterKey: key, body)
    }

    // MARK: - Authorization

    /// Authorizes `action` on a resolved (or absent) secret. Denials look the same whether or not the secret exists.
    func authorize(
        _ caller: Caller, _ action: String, secret: SecretRow?, tags: [(key: String, value: String)]?,
        resourceLabel: @autoclosure () -> String, requestKeys: [String: [String]] = [:]
    ) throws(ServiceError) {
        let resource = secret?.arn ?? resourceLabel()
        let request = AuthorizationRequest(
            caller: caller, action: action, resource: resource, resourceTags: tags,
            resourcePolicy: secret?.resourcePolicy, requestKeys: requestKeys)
        let result = authorizer.authorize(request)
        caller.trace?.recordDecision(result, resource: resource)
        guard result.allowed else {
            var shown = request
            shown.resource = resourceLabel()
            throw ServiceError.accessDenied(shown, result)
        }
    }

    /// Authorizes a resource-less action (`*`).
    func authorizeGlobal(
        _ caller: Caller, _ action: String, requestKeys: [String: [String]] = [:]
    )
        throws(ServiceError)
    {
        let request = AuthorizationRequest(caller: caller, action: action, resource: "*", requestKeys: requestKeys)
        let result = authorizer.authorize(request)
        caller.trace?.recordDecision(result, resource: "*")
        guard result.allowed else { throw ServiceError.accessDenied(request, result) }
    }

    /// Whether the caller may perform `action` on `secret` (used to filter lists without failing the request).
    func isAllowed(
        _ caller: Caller, _ action: String, secret: SecretRow, tags: [(key: String, value: String)],
        requestKeys: [String: [String]] = [:]
    ) -> Bool {
        authorizer.authorize(
            AuthorizationRequest(
                caller: caller, action: action, resource: secret.arn, resourceTags: tags,
                resourcePolicy: secret.resourcePolicy, requestKeys: requestKeys)
        ).allowed
    }
}

/// The master keys in memory: the current one (new values are sealed under it) and older ones still referenced by
/// stored values during a rotation; with the passphrase source, also the passphrase-derived wrapping key (kept while
/// unsealed so that a rotation can wrap its new key).
struct KeyRing: Sendable {
    var current: MasterKey
    var others: [MasterKey] = []
    var wrappingKey: SecureBytes?

    /// The newest (highest id) key is current.
    init(keys: [MasterKey], wrappingKey: SecureBytes? = nil) {
        let sorted = keys.sorted { $0.keyID < $1.keyID }
        current = sorted[sorted.count - 1]
        others = Array(sorted.dropLast())
        self.wrappingKey = wrappingKey
    }

    var all: [MasterKey] { others + [current] }

    func key(id: UInt32) -> MasterKey? {
        if current.keyID == id { return current }
        return others.first(where: { $0.keyID == id })
    }
}

/// Per-thread read state: a read-only connection and guarded scratch memory for decryption. Not Sendable: each
/// serving thread makes its own with ``Vault/makeReader()``.
public final class VaultReader {
    let store: StoreReader
    let scratch: OpenScratch
    let hot = HotPathCache()

    init(store: StoreReader, scratch: OpenScratch) {
        self.store = store
        self.scratch = scratch
    }
}

func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<a.count { difference |= a[i] ^ b[i] }
    return difference == 0
}

/// The writer thread's `OpenScratch`, created on first use.
final class WriterScratch: @unchecked Sendable {
    // @unchecked: only the store's single writer thread calls `scratch` (seals and idempotency checks run inside
    // writer jobs), so the lazily created, non-Sendable scratch is never shared between threads.
    private var created: OpenScratch?

    var scratch: OpenScratch? {
        if let created { return created }
        created = try? OpenScratch()
        return created
    }
}
