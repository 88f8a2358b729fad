import CofferCore

/// Statement cache keys (one per SQL text below).
enum Q: Int {
    case vault, insertVault
    case secretByName, secretByARN, secretByID
    case versionByID, versionByStage, stagesOfVersion, stagesOfSecret, versionSummaries, versionCount
    case tags
    case insertSecret, insertVersion, nextSeq, setStage, removeStage, deleteVersion
    case setDescription, setKmsKeyID, touchChanged, setSecretAccessed, setVersionAccessed
    case upsertTag, updateTagValue, deleteTag, tagsTouched, nextTagSeq
    case scheduleDeletion, restore, deleteSecret, dueForPurge, setResourcePolicy
    case countSecrets, countVersions, allSeals, updateSeal
    case setRotation, setLastRotated
    case masterKeys, insertMasterKey
    case secretAndStageByName, secretAndStageByARN
    case begin, commit, savepoint, release, rollbackToSavepoint
}

let secretColumns = """
    id, name, arn, description, kms_key_id, created_ms, last_changed_ms, last_accessed_ms, deleted_ms, deletion_ms,
    tags_touched, rotation_enabled, rotation_lambda_arn, rotation_rules, last_rotated_ms, resource_policy
    """

let versionColumns = """
    secret_id, version_id, seq, created_ms, last_accessed_ms, is_binary, format, master_key_id, data_key_id,
    wrapped_key, value_nonce, ciphertext
    """

extension Substring {
    var trimmedSQL: String { String(self.drop(while: { $0 == " " || $0 == "\n" })) }
}

/// Reads shared by reader connections and the writer's transaction.
public protocol StoreQueries {
    var connection: SQLiteConnection { get }
}

extension StoreQueries {
    func row(_ s: SQLiteStatement) -> SecretRow {
        SecretRow(
            id: s.int64(0), name: s.text(1), arn: s.text(2), description: s.optionalText(3),
            kmsKeyID: s.optionalText(4), createdMs: s.int64(5), lastChangedMs: s.int64(6),
            lastAccessedMs: s.optionalInt64(7), deletedMs: s.optionalInt64(8), deletionMs: s.optionalInt64(9),
            tagsTouched: s.int64(10) != 0, rotationEnabled: s.optionalInt64(11).map { $0 != 0 },
            rotationLambdaARN: s.optionalText(12), rotationRules: s.optionalText(13),
            lastRotatedMs: s.optionalInt64(14), resourcePolicy: s.optionalText(15)
        )
    }

    func version(_ s: SQLiteStatement) -> VersionRow {
        VersionRow(
            secretID: s.int64(0), versionID: s.text(1), seq: s.int64(2), createdMs: s.int64(3),
            lastAccessedMs: s.optionalInt64(4), isBinary: s.int64(5) != 0,
            seal: StoredSeal(
                format: Int(s.int64(6)), masterKeyID: UInt32(truncatingIfNeeded: s.int64(7)), dataKeyID: s.blob(8),
                wrappedKey: s.blob(9), valueNonce: s.blob(10), ciphertext: s.blob(11)
            )
        )
    }

    public func vault() throws(SQLiteError) -> VaultRow? {
        let s = try connection.cached(
            Q.vault.rawValue,
            "SELECT vault_id, partition, region, account_id, created_ms FROM vault WHERE singleton = 1")
        defer { s.reset() }
        guard try s.step() else { return nil }
        return VaultRow(
            vaultID: s.text(0), partition: s.text(1), region: s.text(2), accountID: s.text(3),
            createdMs: s.int64(4))
    }

    /// Master keys recorded for this vault: id → key-check value, with retirement time.
    public func masterKeys() throws(SQLiteError) -> [(keyID: UInt32, checkValue: [UInt8], retiredMs: Int64?)] {
        let s = try connection.cached(
            Q.masterKeys.rawValue, "SELECT key_id, check_value, retired_ms FROM master_keys ORDER BY key_id")
        defer { s.reset() }
        var out: [(UInt32, [UInt8], Int64?)] = []
        while try s.step() { out.append((UInt32(truncatingIfNeeded: s.int64(0)), s.blob(1), s.optionalInt64(2))) }
        return out
    }

    /// The hot path of GetSecretValue in one statement: the secret (by name or ARN), the version holding `stage`, and
    /// that version's labels. Nil if no such secret; the version is nil if no version holds the label.
    public func secretWithStage(
        named name: String?, arn: String?, stage: String
    ) throws(SQLiteError)
        -> (SecretRow, VersionRow?, [String])?
    {
        let byName = name != nil
        let s = try connection.cached(
            byName ? Q.secretAndStageByName.rawValue : Q.secretAndStageByARN.rawValue,
            """
            SELECT \(secretColumns.split(separator: ",").map { "s." + $0.trimmedSQL }.joined(separator: ", ")),
                   v.secret_id, v.version_id, v.seq, v.created_ms, v.last_accessed_ms, v.is_binary, v.format,
                   v.master_key_id, v.data_key_id, v.wrapped_key, v.value_nonce, v.ciphertext,
                   (SELECT group_concat(l.stage, char(31)) FROM stages l
                     WHERE l.secret_id = v.secret_id AND l.version_id = v.version_id)
            FROM secrets s
            LEFT JOIN stages st ON st.secret_id = s.id AND st.stage = ?2
            LEFT JOIN versions v ON v.secret_id = st.secret_id AND v.version_id = st.version_id
            WHERE \(byName ? "s.name" : "s.arn") = ?1
            """)
        defer { s.reset() }
        s.bind(0, name ?? arn ?? "").bind(1, stage)
        guard try s.step() else { return nil }
        let secret = row(s)
        guard !s.isNull(17) else { return (secret, nil, []) }
        let v = VersionRow(
            secretID: s.int64(16), versionID: s.text(17), seq: s.int64(18), createdMs: s.int64(19),
            lastAccessedMs: s.optionalInt64(20), isBinary: s.int64(21) != 0,
            seal: StoredSeal(
                format: Int(s.int64(22)), masterKeyID: UInt32(truncatingIfNeeded: s.int64(23)),
                dataKeyID: s.blob(24), wrappedKey: s.blob(25), valueNonce: s.blob(26), ciphertext: s.blob(27)))
        let stages = s.isNull(28) ? [] : s.textList(28, separator: 0x1F).sorted()
        return (secret, v, stages)
    }

    public func secret(named name: String) throws(SQLiteError) -> SecretRow? {
        let s = try connection.cached(Q.secretByName.rawValue, "SELECT \(secretColumns) FROM secrets WHERE name = ?")
        defer { s.reset() }
        s.bind(0, name)
        return try s.step() ? row(s) : nil
    }

    public func secret(arn: String) throws(SQLiteError) -> SecretRow? {
        let s = try connection.cached(Q.secretByARN.rawValue, "SELECT \(secretColumns) FROM secrets WHERE arn = ?")
        defer { s.reset() }
        s.bind(0, arn)
        return try s.step() ? row(s) : nil
    }

    public func secret(id: Int64) throws(SQLiteError) -> SecretRow? {
        let s = try connection.cached(Q.secretByID.rawValue, "SELECT \(secretColumns) FROM secrets WHERE id = ?")
        defer { s.reset() }
        s.bind(0, id)
        return try s.step() ? row(s) : nil
    }

    public func version(secretID: Int64, versionID: String) throws(SQLiteError) -> VersionRow? {
        let s = try connection.cached(
            Q.versionByID.rawValue, "SELECT \(versionColumns) FROM versions WHERE secret_id = ? AND version_id = ?")
        defer { s.reset() }
        s.bind(0, secretID).bind(1, versionID)
        return try s.step() ? version(s) : nil
    }

    public func version(secretID: Int64, stage: String) throws(SQLiteError) -> VersionRow? {
        let s = try connection.cached(
            Q.versionByStage.rawValue,
            """
            SELECT v.secret_id, v.version_id, v.seq, v.created_ms, v.last_accessed_ms, v.is_binary, v.format,
                   v.master_key_id, v.data_key_id, v.wrapped_key, v.value_nonce, v.ciphertext
            FROM stages st JOIN versions v ON v.secret_id = st.secret_id AND v.version_id = st.version_id
            WHERE st.secret_id = ? AND st.stage = ?
            """)
        defer { s.reset() }
        s.bind(0, secretID).bind(1, stage)
        return try s.step() ? version(s) : nil
    }

    /// Labels on one version, in a stable order (AWSCURRENT, AWSPENDING, AWSPREVIOUS first, then custom labels).
    public func stages(secretID: Int64, versionID: String) throws(SQLiteError) -> [String] {
        let s = try connection.cached(
            Q.stagesOfVersion.rawValue,
            "SELECT stage FROM stages WHERE secret_id = ? AND version_id = ? ORDER BY stage")
        defer { s.reset() }
        s.bind(0, secretID).bind(1, versionID)
        var out: [String] = []
        while try s.step() { out.append(s.text(0)) }
        return out
    }

    /// Every label of the secret: stage → version id.
    public func stages(secretID: Int64) throws(SQLiteError) -> [(stage: String, versionID: String)] {
        let s = try connection.cached(
            Q.stagesOfSecret.rawValue, "SELECT stage, version_id FROM stages WHERE secret_id = ? ORDER BY stage")
        defer { s.reset() }
        s.bind(0, secretID)
        var out: [(String, String)] = []
        while try s.step() { out.append((s.text(0), s.text(1))) }
        return out
    }

    /// All versions of a secret, oldest first, with their labels.
    public func versionSummaries(secretID: Int64) throws(SQLiteError) -> [VersionSummary] {
        let s = try connection.cached(
            Q.versionSummaries.rawValue,
            """
            SELECT v.version_id, v.seq, v.created_ms, v.last_accessed_ms, group_concat(st.stage, char(31))
            FROM versions v LEFT JOIN stages st ON st.secret_id = v.secret_id AND st.version_id = v.version_id
            WHERE v.secret_id = ? GROUP BY v.version_id ORDER BY v.seq
            """)
        defer { s.reset() }
        s.bind(0, secretID)
        var out: [VersionSummary] = []
        while try s.step() {
            let stages = s.optionalText(4).map { $0.split(separator: "\u{1F}").map(String.init).sorted() } ?? []
            out.append(
                VersionSummary(
                    versionID: s.text(0), seq: s.int64(1), createdMs: s.int64(2),
                    lastAccessedMs: s.optionalInt64(3), stages: stages))
        }
        return out
    }

    public func versionCount(secretID: Int64) throws(SQLiteError) -> Int {
        let s = try connection.cached(Q.versionCount.rawValue, "SELECT count(*) FROM versions WHERE secret_id = ?")
        defer { s.reset() }
        s.bind(0, secretID)
        return try s.step() ? Int(s.int64(0)) : 0
    }

    /// Tags in insertion order.
    public func tags(secretID: Int64) throws(SQLiteError) -> [(key: String, value: String)] {
        let s = try connection.cached(Q.tags.rawValue, "SELECT key, value FROM tags WHERE secret_id = ? ORDER BY seq")
        defer { s.reset() }
        s.bind(0, secretID)
        var out: [(String, String)] = []
        while try s.step() { out.append((s.text(0), s.text(1))) }
        return out
    }

    /// One page of a scan over secrets in `sort` order, resuming after `cursor`.
    public func scanSecrets(
        sort: SecretSortKey, descending: Bool, after cursor: ScanCursor?, includeDeleted: Bool, limit: Int
    ) throws(SQLiteError) -> [SecretRow] {
        let column: String
        switch sort {
        case .createdDate: column = "created_ms"
        case .lastAccessedDate: column = "coalesce(last_accessed_ms, -1)"
        case .lastChangedDate: column = "last_changed_ms"
        case .name: column = "name"
        }
        let op = descending ? "<" : ">"
        let order = descending ? "DESC" : "ASC"
        var sql = "SELECT \(secretColumns) FROM secrets WHERE 1"
        if !includeDeleted { sql += " AND deleted_ms IS NULL" }
        if cursor != nil { sql += " AND (\(column) \(op) ?1 OR (\(column) = ?1 AND id \(op) ?2))" }
        sql += " ORDER BY \(column) \(order), id \(order) LIMIT ?3"
        // A handful of shapes (sort × order × visibility × cursor): each is cached under its own key.
        let sortIndex: Int
        switch sort {
        case .createdDate: sortIndex = 0
        case .lastAccessedDate: sortIndex = 1
        case .lastChangedDate: sortIndex = 2
        case .name: sortIndex = 3
        }
        let key = 100 + sortIndex * 8 + (descending ? 4 : 0) + (includeDeleted ? 2 : 0) + (cursor == nil ? 0 : 1)
        let s = try connection.cached(key, sql)
        defer { s.reset() }
        s.bind(2, Int64(max(1, limit)))
        if let cursor {
            switch cursor.sortValue {
            case .int(let v): s.bind(0, v)
            case .text(let t): s.bind(0, t)
            }
            s.bind(1, cursor.id)
        }
        var out: [SecretRow] = []
        while try s.step() { out.append(row(s)) }
        return out
    }

    public func counts() throws(SQLiteError) -> (secrets: Int, versions: Int) {
        let a = try connection.cached(Q.countSecrets.rawValue, "SELECT count(*) FROM secrets")
        defer { a.reset() }
        let secrets = try a.step() ? Int(a.int64(0)) : 0
        let b = try connection.cached(Q.countVersions.rawValue, "SELECT count(*) FROM versions")
        defer { b.reset() }
        let versions = try b.step() ? Int(b.int64(0)) : 0
        return (secrets, versions)
    }
}

/// A read-only connection owned by one thread.
public final class StoreReader: StoreQueries {
    public let connection: SQLiteConnection
    /// The writer's transaction count (see ``WriteGeneration``), for caches of what this reader read.
    public let generation: WriteGeneration

    init(connection: SQLiteConnection, generation: WriteGeneration) {
        self.connection = connection
        self.generation = generation
    }

    /// Runs `body` inside one read transaction, so that several queries see one consistent snapshot.
    public func snapshot<R>(_ body: () throws -> R) throws -> R {
        try connection.execute("BEGIN")
        defer { try? connection.execute("COMMIT") }
        return try body()
    }
}

/// The writer's view inside a transaction: every read of ``StoreQueries`` plus the writes.
public final class WriteContext: StoreQueries {
    public let connection: SQLiteConnection

    init(connection: SQLiteConnection) { self.connection = connection }

    public func insertVault(_ row: VaultRow) throws(SQLiteError) {
        let s = try connection.cached(
            Q.insertVault.rawValue,
            "INSERT INTO vault (singleton, vault_id, partition, region, account_id, created_ms) VALUES (1, ?, ?, ?, ?, ?)"
        )
        s.bind(0, row.vaultID).bind(1, row.partition).bind(2, row.region).bind(3, row.accountID).bind(4, row.createdMs)
        try s.run()
    }

    public func insertMasterKey(keyID: UInt32, checkValue: [UInt8], createdMs: Int64) throws(SQLiteError) {
        let s = try connection.cached(
            Q.insertMasterKey.rawValue, "INSERT INTO master_keys (key_id, check_value, created_ms) VALUES (?, ?, ?)")
        s.bind(0, Int64(keyID)).bind(1, blob: checkValue).bind(2, createdMs)
        try s.run()
    }

    /// Inserts a secret and returns its id.
    public func insertSecret(
        name: String, arn: String, description: String?, kmsKeyID: String?, createdMs: Int64
    ) throws(SQLiteError) -> Int64 {
        let s = try connection.cached(
            Q.insertSecret.rawValue,
            """
            INSERT INTO secrets (name, arn, description, kms_key_id, created_ms, last_changed_ms)
            VALUES (?, ?, ?, ?, ?, ?)
            """)
        s.bind(0, name).bind(1, arn).bind(2, description).bind(3, kmsKeyID).bind(4, createdMs).bind(5, createdMs)
        try s.run()
        return connection.lastInsertRowID
    }

    public func insertVersion(
        secretID: Int64, versionID: String, createdMs: Int64, isBinary: Bool, seal: StoredSeal
    ) throws(SQLiteError) {
        let n = try connection.cached(
            Q.nextSeq.rawValue, "SELECT coalesce(max(seq), 0) + 1 FROM versions WHERE secret_id = ?")
        n.bind(0, secretID)
        let seq = try n.step() ? n.int64(0) : 1
        n.reset()
        let s = try connection.cached(
            Q.insertVersion.rawValue,
            "INSERT INTO versions (\(versionColumns)) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)")
        s.bind(0, secretID).bind(1, versionID).bind(2, seq).bind(3, createdMs).bind(4, Int64(isBinary ? 1 : 0))
        s.bind(5, Int64(seal.format)).bind(6, Int64(seal.masterKeyID)).bind(7, blob: seal.dataKeyID)
        s.bind(8, blob: seal.wrappedKey).bind(9, blob: seal.valueNonce).bind(10, blob: seal.ciphertext)
        try s.run()
    }

    /// Attaches `stage` to `versionID`, moving it from whichever version held it.
    public func setStage(secretID: Int64, stage: String, versionID: String) throws(SQLiteError) {
        let s = try connection.cached(
            Q.setStage.rawValue, "INSERT OR REPLACE INTO stages (secret_id, stage, version_id) VALUES (?, ?, ?)")
        s.bind(0, secretID).bind(1, stage).bind(2, versionID)
        try s.run()
    }

    public func removeStage(secretID: Int64, stage: String) throws(SQLiteError) {
        let s = try connection.cached(Q.removeStage.rawValue, "DELETE FROM stages WHERE secret_id = ? AND stage = ?")
        s.bind(0, secretID).bind(1, stage)
        try s.run()
    }

    public func deleteVersion(secretID: Int64, versionID: String) throws(SQLiteError) {
        let s = try connection.cached(
            Q.deleteVersion.rawValue, "DELETE FROM versions WHERE secret_id = ? AND version_id = ?")
        s.bind(0, secretID).bind(1, versionID)
        try s.run()
    }

    public func setDescription(secretID: Int64, _ description: String?) throws(SQLiteError) {
        let s = try connection.cached(Q.setDescription.rawValue, "UPDATE secrets SET description = ? WHERE id = ?")
        s.bind(0, description).bind(1, secretID)
        try s.run()
    }

    public func setKmsKeyID(secretID: Int64, _ kmsKeyID: String?) throws(SQLiteError) {
        let s = try connection.cached(Q.setKmsKeyID.rawValue, "UPDATE secrets SET kms_key_id = ? WHERE id = ?")
        s.bind(0, kmsKeyID).bind(1, secretID)
        try s.run()
    }

    public func touchChanged(secretID: Int64, at ms: Int64) throws(SQLiteError) {
        let s = try connection.cached(Q.touchChanged.rawValue, "UPDATE secrets SET last_changed_ms = ? WHERE id = ?")
        s.bind(0, ms).bind(1, secretID)
        try s.run()
    }

    /// Records an access (day granularity is the caller's business) on the secret and the version read.
    public func setAccessed(secretID: Int64, versionID: String?, at ms: Int64) throws(SQLiteError) {
        let s = try connection.cached(
            Q.setSecretAccessed.rawValue, "UPDATE secrets SET last_accessed_ms = ? WHERE id = ?")
        s.bind(0, ms).bind(1, secretID)
        try s.run()
        if let versionID {
            let v = try connection.cached(
                Q.setVersionAccessed.rawValue,
                "UPDATE versions SET last_accessed_ms = ? WHERE secret_id = ? AND version_id = ?")
            v.bind(0, ms).bind(1, secretID).bind(2, versionID)
            try v.run()
        }
    }

    /// Sets a tag's value, keeping its position if the key exists, appending otherwise. Marks tags as touched.
    public func setTag(secretID: Int64, key: String, value: String) throws(SQLiteError) {
        let u = try connection.cached(
            Q.updateTagValue.rawValue, "UPDATE tags SET value = ? WHERE secret_id = ? AND key = ?")
        u.bind(0, value).bind(1, secretID).bind(2, key)
        try u.run()
        if connection.changes == 0 {
            let n = try connection.cached(
                Q.nextTagSeq.rawValue, "SELECT coalesce(max(seq), 0) + 1 FROM tags WHERE secret_id = ?")
            n.bind(0, secretID)
            let seq = try n.step() ? n.int64(0) : 1
            n.reset()
            let s = try connection.cached(
                Q.upsertTag.rawValue, "INSERT INTO tags (secret_id, key, value, seq) VALUES (?, ?, ?, ?)")
            s.bind(0, secretID).bind(1, key).bind(2, value).bind(3, seq)
            try s.run()
        }
        try markTagsTouched(secretID: secretID)
    }

    public func removeTag(secretID: Int64, key: String) throws(SQLiteError) {
        let s = try connection.cached(Q.deleteTag.rawValue, "DELETE FROM tags WHERE secret_id = ? AND key = ?")
        s.bind(0, secretID).bind(1, key)
        try s.run()
        try markTagsTouched(secretID: secretID)
    }

    public func markTagsTouched(secretID: Int64) throws(SQLiteError) {
        let s = try connection.cached(Q.tagsTouched.rawValue, "UPDATE secrets SET tags_touched = 1 WHERE id = ?")
        s.bind(0, secretID)
        try s.run()
    }

    public func scheduleDeletion(secretID: Int64, deletedMs: Int64, deletionMs: Int64) throws(SQLiteError) {
        let s = try connection.cached(
            Q.scheduleDeletion.rawValue, "UPDATE secrets SET deleted_ms = ?, deletion_ms = ? WHERE id = ?")
        s.bind(0, deletedMs).bind(1, deletionMs).bind(2, secretID)
        try s.run()
    }

    public func restore(secretID: Int64) throws(SQLiteError) {
        let s = try connection.cached(
            Q.restore.rawValue, "UPDATE secrets SET deleted_ms = NULL, deletion_ms = NULL WHERE id = ?")
        s.bind(0, secretID)
        try s.run()
    }

    /// Removes the secret with its versions, labels and tags (cascade). `secure_delete` overwrites the freed pages.
    public func deleteSecret(secretID: Int64) throws(SQLiteError) {
        let s = try connection.cached(Q.deleteSecret.rawValue, "DELETE FROM secrets WHERE id = ?")
        s.bind(0, secretID)
        try s.run()
    }

    /// Ids of secrets whose recovery window ended at or before `ms`.
    public func secretsDueForPurge(at ms: Int64, limit: Int) throws(SQLiteError) -> [Int64] {
        let s = try connection.cached(
            Q.dueForPurge.rawValue, "SELECT id FROM secrets WHERE deletion_ms IS NOT NULL AND deletion_ms <= ? LIMIT ?")
        defer { s.reset() }
        s.bind(0, ms).bind(1, Int64(limit))
        var out: [Int64] = []
        while try s.step() { out.append(s.int64(0)) }
        return out
    }

    public func setResourcePolicy(secretID: Int64, _ policy: String?) throws(SQLiteError) {
        let s = try connection.cached(
            Q.setResourcePolicy.rawValue, "UPDATE secrets SET resource_policy = ? WHERE id = ?")
        s.bind(0, policy).bind(1, secretID)
        try s.run()
    }

    public func setRotation(secretID: Int64, enabled: Bool, lambdaARN: String?, rules: String?) throws(SQLiteError) {
        let s = try connection.cached(
            Q.setRotation.rawValue,
            "UPDATE secrets SET rotation_enabled = ?, rotation_lambda_arn = ?, rotation_rules = ? WHERE id = ?")
        s.bind(0, Int64(enabled ? 1 : 0)).bind(1, lambdaARN).bind(2, rules).bind(3, secretID)
        try s.run()
    }

    public func setLastRotated(secretID: Int64, at ms: Int64) throws(SQLiteError) {
        let s = try connection.cached(Q.setLastRotated.rawValue, "UPDATE secrets SET last_rotated_ms = ? WHERE id = ?")
        s.bind(0, ms).bind(1, secretID)
        try s.run()
    }

    /// Replaces a version's wrapped key (master-key rotation rewraps data keys; values are untouched).
    public func updateWrappedKey(
        secretID: Int64, versionID: String, masterKeyID: UInt32, wrappedKey: [UInt8]
    )
        throws(SQLiteError)
    {
        let s = try connection.cached(
            Q.updateSeal.rawValue,
            "UPDATE versions SET master_key_id = ?, wrapped_key = ? WHERE secret_id = ? AND version_id = ?")
        s.bind(0, Int64(masterKeyID)).bind(1, blob: wrappedKey).bind(2, secretID).bind(3, versionID)
        try s.run()
    }
}
