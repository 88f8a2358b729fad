import CofferCore
import CofferCrypto
import CofferProtocol
import CofferStore
import CofferSystem
import Glibc
import Synchronization

/// The vault's part of the admin socket: status, seal/unseal, master-key rotation, backup and bulk import. Every
/// operation is authorized (`coffer:<Operation>` on `*`): root is the administrator by default, and the permission
/// can be delegated like any other.
extension Vault {
    public func handleAdmin(
        _ operation: Operation, _ request: Document, caller: Caller,
        reply: @escaping @Sendable (Result<Document, ServiceError>) -> Void
    ) {
        do {
            try authorizeGlobal(caller, operation.actionName)
            switch operation {
            case .status:
                try request.checkOnly([])
                reply(.success(try statusDocument()))
            case .seal:
                try request.checkOnly([])
                seal()
                reply(.success(["Sealed": true]))
            case .unseal:
                try request.checkOnly(["Passphrase", "Initialize"])
                let passphrase = try request.secret("Passphrase", isString: true)
                try unseal(passphrase: passphrase, initialize: try request.bool("Initialize") ?? false)
                try? resumeRotationIfNeeded()
                reply(.success(["Sealed": .bool(isSealed), "KeyId": .int(Int64(currentKeyID ?? 0))]))
            case .rotateMasterKey:
                try request.checkOnly([])
                let id = try rotateMasterKey()
                reply(.success(["KeyId": .int(Int64(id)), "Status": "rotating"]))
            case .backup:
                try request.checkOnly(["BackupId", "Offset"])
                reply(
                    .success(
                        try backupChunk(id: try request.string("BackupId"), offset: try request.int("Offset") ?? 0)))
            case .importSecrets:
                try request.checkOnly(["Secrets"])
                guard let secrets = try request.mapList("Secrets") else {
                    throw ServiceError.constraint(at: "secrets", "Member must not be null")
                }
                try importSecrets(secrets, caller: caller, reply: reply)
            default:
                throw ServiceError(.unknownOperation, "\(operation.name) is not a vault operation.")
            }
        } catch {
            reply(.failure(Vault.serviceError(error)))
        }
    }

    /// Authorizes an administration action (`coffer:<Operation>` on `*`).
    public func authorizeAdministration(_ caller: Caller, _ operation: Operation) throws(ServiceError) {
        try authorizeGlobal(caller, operation.actionName)
    }

    /// What a client may see of any failure (internal details stay in the daemon's log).
    public static func publicError(_ error: any Error) -> ServiceError { serviceError(error) }

    public var uptimeSeconds: Int64 { (Monotonic.milliseconds() - startedAt) / 1_000 }

    /// Vault gauges for the metrics endpoint.
    public var metricGauges: [(name: String, help: String, value: Double)] {
        let keys = keyStatus
        return [
            ("coffer_sealed", "1 while the vault is sealed.", isSealed ? 1 : 0),
            ("coffer_master_key_id", "Id of the current master key (0 when sealed).", Double(keys.current ?? 0)),
            ("coffer_rotation_running", "1 while a master-key rotation runs.", keys.rotating ? 1 : 0),
            ("coffer_writer_queue_depth", "Writes waiting for the single writer.", Double(store.writer.queueDepth)),
            ("coffer_database_bytes", "Size of the database and its WAL.", Double(databaseBytes)),
        ]
    }

    /// The vault's half of `Status` (the server adds uptime, connections and the audit head).
    public func statusDocument() throws -> Document {
        let counts = try store.writer.perform { try $0.counts() }
        let keys = keyStatus
        var doc: Document = [
            "Sealed": .bool(isSealed), "VaultId": .string(vaultID), "AccountId": .string(identity.accountID),
            "Region": .string(identity.region), "Partition": .string(identity.partition),
            "Secrets": .int(Int64(counts.secrets)), "Versions": .int(Int64(counts.versions)),
            "KeySource": .string(keys.source), "DatabaseBytes": .int(databaseBytes),
        ]
        if let id = keys.current { doc["KeyId"] = .int(Int64(id)) }
        if keys.rotating { doc["Rotation"] = .map(["Running": true, "Rewrapped": .int(Int64(keys.rewrapped))]) }
        if let error = keys.error { doc["RotationError"] = .string(error) }
        return doc
    }

    /// Size of the database and its WAL.
    var databaseBytes: Int64 {
        var total: Int64 = 0
        for suffix in ["", "-wal"] {
            if let status = try? SafeFile.status(path: store.path + suffix) { total += Int64(status.size) }
        }
        return total
    }

    // MARK: Backup

    /// Bytes per `Backup` reply (well under the frame limit).
    static let backupChunkBytes = 128 * 1_024
    /// An unfinished backup snapshot is deleted after this long.
    static let backupLifetimeMilliseconds: Int64 = 600_000

    /// One step of a backup. Without `BackupId`: takes a consistent snapshot (`VACUUM INTO` a new 0600 file in the
    /// state directory — still encrypted), and answers its id, size and SHA-256 with the first chunk. With
    /// `BackupId` and `Offset`: the next chunk. The daemon never writes where a client names: the administrator's
    /// CLI receives the bytes and writes its own file. The snapshot is removed after its last chunk.
    func backupChunk(id: String?, offset: Int64) throws -> Document {
        backups.withLock { sessions in
            let now = Monotonic.milliseconds()
            for (key, session) in sessions where now - session.created > Vault.backupLifetimeMilliseconds {
                unlink(session.path)
                sessions[key] = nil
            }
        }
        let session: BackupSession
        if let id {
            guard let existing = backups.withLock({ $0[id] }) else {
                throw ServiceError(.resourceNotFound, "No backup with id \(id) is in progress.")
            }
            session = existing
        } else {
            session = try takeSnapshot()
            backups.withLock { $0[session.id] = session }
        }
        guard offset >= 0, offset <= session.size else {
            throw ServiceError(.invalidParameter, "Offset \(offset) is outside the backup (\(session.size) bytes).")
        }
        let count = Int(min(Int64(Vault.backupChunkBytes), session.size - offset))
        var chunk = [UInt8](repeating: 0, count: count)
        let fd = Glibc.open(session.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw ServiceError.internalFailure }
        defer { Glibc.close(fd) }
        var read = 0
        while read < count {
            let n = chunk.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress.map { $0 + read }, count - read, off_t(offset) + off_t(read))
            }
            if n <= 0 { throw ServiceError.internalFailure }
            read += n
        }
        let done = offset + Int64(count) >= session.size
        if done {
            backups.withLock { sessions in
                if sessions.removeValue(forKey: session.id) != nil { unlink(session.path) }
            }
        }
        return [
            "BackupId": .string(session.id), "Size": .int(session.size), "Sha256": .string(session.sha256),
            "Offset": .int(offset), "Chunk": .bytes(chunk), "Done": .bool(done),
        ]
    }

    func takeSnapshot() throws -> BackupSession {
        let directory = String(store.path[..<(store.path.lastIndex(of: "/") ?? store.path.startIndex)])
        let id = Identifiers.randomUUID()
        let path = (directory.isEmpty ? "." : directory) + "/backup-\(id).db"
        try SafeFile.createExclusive(path: path, mode: 0o600, contents: [])
        do {
            let connection = try SQLiteConnection(path: store.path, readOnly: true)
            try connection.execute("VACUUM INTO '\(path.replacingSingleQuotes)'")
        } catch {
            unlink(path)
            throw error
        }
        let bytes = try SafeFile.readAll(path: path, maxBytes: 1 << 40)
        let size = Int64(bytes.count)
        let sha = Hex.encode(Digest.sha256(bytes))
        return BackupSession(id: id, path: path, size: size, sha256: sha, created: Monotonic.milliseconds())
    }

    // MARK: Import

    /// Bulk import of AWS-shaped entries (`Name`, `SecretString`|`SecretBinary`, `Description`, `Tags`,
    /// `KmsKeyId`) in one transaction: each value is sealed under its own data key as CreateSecret would.
    func importSecrets(
        _ entries: [Document], caller: Caller, reply: @escaping @Sendable (Result<Document, ServiceError>) -> Void
    ) throws {
        guard entries.count <= 10_000 else {
            throw ServiceError(.limitExceeded, "Import at most 10,000 secrets per request.")
        }
        var prepared: [WriteJob] = []
        for entry in entries {
            try entry.checkOnly(["Name", "SecretString", "SecretBinary", "Description", "Tags", "KmsKeyId"])
            prepared.append(try createSecret(entry, caller))
        }
        let jobs = prepared
        let names = entries.map { (try? $0.requiredString("Name")) ?? "" }
        let clock = self.clock
        store.writer.submit({ ctx -> Document in
            var imported = 0
            var errors: [Value] = []
            let now = clock.now()
            for (index, job) in jobs.enumerated() {
                do {
                    try ctx.connection.execute("SAVEPOINT import_one")
                    _ = try job(ctx, now)
                    try ctx.connection.execute("RELEASE import_one")
                    imported += 1
                } catch {
                    try? ctx.connection.execute("ROLLBACK TO import_one")
                    try? ctx.connection.execute("RELEASE import_one")
                    let failure = Vault.serviceError(error)
                    errors.append(
                        .map([
                            "Name": .string(names[index]), "ErrorCode": .string(failure.code.rawValue),
                            "Message": .string(failure.message),
                        ]))
                }
            }
            return ["Imported": .int(Int64(imported)), "Errors": .list(errors)]
        }) { result in reply(result.mapError { Vault.serviceError($0) }) }
    }

    // MARK: Restore (offline)

    public struct RestoreReport: Sendable {
        public var secrets: Int
        public var versions: Int
        public var verifiedValues: Int
    }

    /// Restores a backup into an empty state directory and verifies it: SQLite's integrity check, the master keys
    /// against the backup's key-check values, and every stored value decrypted once. On failure nothing is left in
    /// the directory.
    public static func restore(
        backup: String, into databasePath: String, keys: [MasterKey]?, passphrase: SensitiveBytes? = nil
    ) throws -> RestoreReport {
        guard try SafeFile.status(path: databasePath) == nil else {
            throw ServiceError(.invalidRequest, "\(databasePath) exists: restore only into an empty state directory.")
        }
        let bytes = try SafeFile.readAll(path: backup, maxBytes: 1 << 40)
        try SafeFile.createExclusive(path: databasePath, mode: 0o600, contents: bytes)
        do {
            let check = try SQLiteConnection(path: databasePath, readOnly: false)
            guard try check.scalarText("PRAGMA integrity_check") == "ok" else {
                throw ServiceError(.invalidRequest, "The backup failed SQLite's integrity check.")
            }
            var options = VaultOptions(databasePath: databasePath)
            options.authorizer = AllowAllAuthorizer()
            options.keySource = keys == nil ? .passphrase : .provided
            options.purgeOnOpen = false
            let vault = try Vault.open(options, keys: keys)
            defer { vault.close() }
            if keys == nil { try vault.unseal(passphrase: passphrase) }
            let counts = try vault.store.writer.perform { try $0.counts() }
            var verified = 0
            var after: (Int64, String)?
            while true {
                let cursor = after
                let batch = try vault.store.writer.perform { ctx in try ctx.allVersions(after: cursor, limit: 500) }
                for version in batch {
                    try vault.open(version, scratch: nil) { _ in () }
                    verified += 1
                }
                guard let last = batch.last, batch.count == 500 else { break }
                after = (last.secretID, last.versionID)
            }
            return RestoreReport(secrets: counts.secrets, versions: counts.versions, verifiedValues: verified)
        } catch {
            for suffix in ["", "-wal", "-shm", ".lock"] { unlink(databasePath + suffix) }
            throw error
        }
    }
}

struct BackupSession: Sendable {
    var id: String
    var path: String
    var size: Int64
    var sha256: String
    var created: Int64
}

extension String {
    var replacingSingleQuotes: String {
        split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''")
    }
}
