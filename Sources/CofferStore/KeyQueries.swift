import CofferCore

/// A master key wrapped under a passphrase-derived key.
public struct KeyWrappingRow: Sendable, Equatable {
    public var keyID: UInt32
    public var salt: [UInt8]
    public var opsLimit: UInt64
    public var memLimit: Int
    public var wrapped: [UInt8]

    public init(keyID: UInt32, salt: [UInt8], opsLimit: UInt64, memLimit: Int, wrapped: [UInt8]) {
        self.keyID = keyID
        self.salt = salt
        self.opsLimit = opsLimit
        self.memLimit = memLimit
        self.wrapped = wrapped
    }
}

/// A version whose data key is still wrapped under an older master key (master-key rotation works through these).
public struct WrappedKeyRow: Sendable {
    public var secretID: Int64
    public var versionID: String
    public var masterKeyID: UInt32
    public var seal: StoredSeal
}

extension StoreQueries {
    public func keyWrappings() throws(SQLiteError) -> [KeyWrappingRow] {
        let s = try connection.prepare(
            "SELECT key_id, salt, ops_limit, mem_limit, wrapped FROM key_wrappings ORDER BY key_id")
        var out: [KeyWrappingRow] = []
        while try s.step() {
            out.append(
                KeyWrappingRow(
                    keyID: UInt32(truncatingIfNeeded: s.int64(0)), salt: s.blob(1),
                    opsLimit: UInt64(max(0, s.int64(2))), memLimit: Int(s.int64(3)), wrapped: s.blob(4)))
        }
        return out
    }

    /// Up to `limit` versions whose data key is not wrapped under `keyID`.
    public func versionsNotUnder(keyID: UInt32, limit: Int) throws(SQLiteError) -> [WrappedKeyRow] {
        let s = try connection.prepare(
            // Two index ranges, not `!=` (a full scan that would revisit every rewrapped row on each batch).
            "SELECT \(versionColumns) FROM versions WHERE master_key_id < ?1 OR master_key_id > ?1 LIMIT ?2")
        s.bind(0, Int64(keyID)).bind(1, Int64(limit))
        var out: [WrappedKeyRow] = []
        while try s.step() {
            let v = version(s)
            out.append(
                WrappedKeyRow(
                    secretID: v.secretID, versionID: v.versionID, masterKeyID: v.seal.masterKeyID,
                    seal: v.seal))
        }
        return out
    }

    /// Whether any version is sealed under another master key than `keyID` (an unfinished rotation). Two index
    /// range probes: O(log n), where counting per key scanned every version (~0.3 s at 1M, before READY).
    public func hasVersionsNotUnder(keyID: UInt32) throws(SQLiteError) -> Bool {
        let s = try connection.prepare(
            "SELECT EXISTS(SELECT 1 FROM versions WHERE master_key_id < ?1) "
                + "OR EXISTS(SELECT 1 FROM versions WHERE master_key_id > ?1)")
        s.bind(0, Int64(keyID))
        guard try s.step() else { return false }
        return s.int64(0) != 0
    }

    /// Versions per master key id (a scan of every version: for inspection, not for start-up).
    public func versionsPerMasterKey() throws(SQLiteError) -> [UInt32: Int] {
        let s = try connection.prepare("SELECT master_key_id, count(*) FROM versions GROUP BY master_key_id")
        var out: [UInt32: Int] = [:]
        while try s.step() { out[UInt32(truncatingIfNeeded: s.int64(0))] = Int(s.int64(1)) }
        return out
    }

    /// Every version with its sealed value (backup verification, restore checks).
    public func allVersions(after: (Int64, String)?, limit: Int) throws(SQLiteError) -> [VersionRow] {
        let s: SQLiteStatement
        if let after {
            s = try connection.prepare(
                "SELECT \(versionColumns) FROM versions WHERE (secret_id, version_id) > (?, ?) "
                    + "ORDER BY secret_id, version_id LIMIT ?")
            s.bind(0, after.0).bind(1, after.1).bind(2, Int64(limit))
        } else {
            s = try connection.prepare("SELECT \(versionColumns) FROM versions ORDER BY secret_id, version_id LIMIT ?")
            s.bind(0, Int64(limit))
        }
        var out: [VersionRow] = []
        while try s.step() { out.append(version(s)) }
        return out
    }
}

extension WriteContext {
    public func insertKeyWrapping(_ row: KeyWrappingRow, createdMs: Int64) throws(SQLiteError) {
        let s = try connection.prepare(
            """
            INSERT OR REPLACE INTO key_wrappings (key_id, salt, ops_limit, mem_limit, wrapped, created_ms)
            VALUES (?, ?, ?, ?, ?, ?)
            """)
        s.bind(0, Int64(row.keyID)).bind(1, blob: row.salt).bind(2, Int64(row.opsLimit)).bind(3, Int64(row.memLimit))
        s.bind(4, blob: row.wrapped).bind(5, createdMs)
        try s.run()
    }

    public func deleteKeyWrapping(keyID: UInt32) throws(SQLiteError) {
        let s = try connection.prepare("DELETE FROM key_wrappings WHERE key_id = ?")
        s.bind(0, Int64(keyID))
        try s.run()
    }

    public func retireMasterKey(keyID: UInt32, at ms: Int64) throws(SQLiteError) {
        let s = try connection.prepare("UPDATE master_keys SET retired_ms = ? WHERE key_id = ? AND retired_ms IS NULL")
        s.bind(0, ms).bind(1, Int64(keyID))
        try s.run()
    }
}
