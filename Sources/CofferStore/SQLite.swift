import CSQLite
import CofferCore

#if canImport(Glibc)
    import Glibc
#endif

/// A failed SQLite call: the primary result code, the extended code and SQLite's message.
///
/// SQLite's messages name tables and constraints, never bound values, so they are safe to log. They are not shown
/// to clients (the vault maps them to `InternalServiceError`).
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var extendedCode: Int32
    public var message: String
    public var context: String

    public var description: String { "SQLite error \(extendedCode) in \(context): \(message)" }

    /// `SQLITE_FULL`/`SQLITE_IOERR`: the storage failed. The connection must not be trusted to retry a commit.
    public var isStorageFailure: Bool { code == SQLITE_FULL || code == SQLITE_IOERR }
    public var isConstraintViolation: Bool { code == SQLITE_CONSTRAINT }
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
}

// SQLITE_TRANSIENT is a cast macro that Swift does not import.
// nonisolated(unsafe): an immutable sentinel function-pointer value, never written after initialization.
nonisolated(unsafe) private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection, owned by exactly one thread at a time (opened with `SQLITE_OPEN_NOMUTEX`).
///
/// Not `Sendable`: the writer thread and each reader thread create their own. Prepared statements are cached per
/// connection by a small integer key, so the hot path neither re-prepares nor hashes SQL text.
public final class SQLiteConnection {
    let handle: OpaquePointer
    private var cache: [SQLiteStatement?] = []
    public let path: String

    public init(path: String, readOnly: Bool) throws(SQLiteError) {
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_PRIVATECACHE
        flags |= readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            let extended = db.map { sqlite3_extended_errcode($0) } ?? rc
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc & 0xFF, extendedCode: extended, message: message, context: "open")
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        cache.removeAll()  // finalize statements before closing
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, _ context: String) -> SQLiteError {
        SQLiteError(
            code: rc & 0xFF,
            extendedCode: sqlite3_extended_errcode(handle),
            message: String(cString: sqlite3_errmsg(handle)),
            context: context
        )
    }

    /// Runs one or more statements without results (DDL, pragmas, BEGIN/COMMIT).
    public func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, "exec") }
    }

    /// Prepares an uncached statement (for rare or dynamic SQL).
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, 0, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, "prepare") }
        return SQLiteStatement(stmt, connection: self)
    }

    /// The cached statement for `key`, preparing `sql` the first time. The statement comes back reset with its
    /// bindings cleared.
    public func cached(_ key: Int, _ sql: @autoclosure () -> String) throws(SQLiteError) -> SQLiteStatement {
        if key < cache.count, let stmt = cache[key] {
            stmt.reset()
            return stmt
        }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql(), -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, "prepare") }
        let statement = SQLiteStatement(stmt, connection: self)
        if key >= cache.count { cache.append(contentsOf: repeatElement(nil, count: key - cache.count + 1)) }
        cache[key] = statement
        return statement
    }

    /// Runs a statement without results through the cache (transaction control on the writer's hot path:
    /// `sqlite3_exec` parses its text on every call, ~18,000 instructions each).
    func run(cached key: Int, _ sql: StaticString) throws(SQLiteError) {
        try cached(key, sql.description).run()
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Reads a single-integer pragma or query.
    public func scalarInt(_ sql: String) throws(SQLiteError) -> Int64? {
        let stmt = try prepare(sql)
        guard try stmt.step() else { return nil }
        return stmt.isNull(0) ? nil : stmt.int64(0)
    }

    public func scalarText(_ sql: String) throws(SQLiteError) -> String? {
        let stmt = try prepare(sql)
        guard try stmt.step() else { return nil }
        return stmt.text(0)
    }

    /// SQLite's library version, e.g. "3.40.1".
    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }
}

/// A prepared statement. Columns and parameters are 0-based here (SQLite binds are 1-based; converted inside).
public final class SQLiteStatement {
    let handle: OpaquePointer
    unowned let connection: SQLiteConnection

    init(_ handle: OpaquePointer, connection: SQLiteConnection) {
        self.handle = handle
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    @discardableResult
    public func bind(_ index: Int, _ value: Int64) -> SQLiteStatement {
        sqlite3_bind_int64(handle, Int32(index + 1), value)
        return self
    }

    @discardableResult
    public func bind(_ index: Int, _ value: Int64?) -> SQLiteStatement {
        if let value {
            sqlite3_bind_int64(handle, Int32(index + 1), value)
        } else {
            sqlite3_bind_null(handle, Int32(index + 1))
        }
        return self
    }

    @discardableResult
    public func bind(_ index: Int, _ value: String) -> SQLiteStatement {
        var copy = value
        copy.withUTF8 { utf8 in
            _ = sqlite3_bind_text(
                handle, Int32(index + 1), UnsafeRawPointer(utf8.baseAddress)?.assumingMemoryBound(to: CChar.self),
                Int32(utf8.count), sqliteTransient)
        }
        return self
    }

    @discardableResult
    public func bind(_ index: Int, _ value: String?) -> SQLiteStatement {
        if let value { return bind(index, value) }
        sqlite3_bind_null(handle, Int32(index + 1))
        return self
    }

    @discardableResult
    public func bind(_ index: Int, blob: [UInt8]) -> SQLiteStatement {
        blob.withUnsafeBytes { raw in
            // A zero-length blob must still be a blob, not NULL.
            _ = sqlite3_bind_blob(
                handle, Int32(index + 1), raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                Int32(raw.count), sqliteTransient)
        }
        return self
    }

    @discardableResult
    public func bindNull(_ index: Int) -> SQLiteStatement {
        sqlite3_bind_null(handle, Int32(index + 1))
        return self
    }

    /// Steps once: true when a row is available, false when done.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let err = connection.error(rc, "step")
            sqlite3_reset(handle)
            throw err
        }
    }

    /// Steps a statement that returns no rows.
    public func run() throws(SQLiteError) {
        _ = try step()
        sqlite3_reset(handle)
    }

    public func isNull(_ column: Int) -> Bool { sqlite3_column_type(handle, Int32(column)) == SQLITE_NULL }
    public func int64(_ column: Int) -> Int64 { sqlite3_column_int64(handle, Int32(column)) }
    public func optionalInt64(_ column: Int) -> Int64? { isNull(column) ? nil : int64(column) }

    public func text(_ column: Int) -> String {
        guard let ptr = sqlite3_column_text(handle, Int32(column)) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, Int32(column)))
        return String(decoding: UnsafeBufferPointer(start: ptr, count: count), as: UTF8.self)
    }

    public func optionalText(_ column: Int) -> String? { isNull(column) ? nil : text(column) }

    /// A text column holding a list joined by the byte `separator` (e.g. `group_concat(x, char(31))`), split in
    /// place without an intermediate `String`.
    public func textList(_ column: Int, separator: UInt8) -> [String] {
        guard let ptr = sqlite3_column_text(handle, Int32(column)) else { return [] }
        let bytes = UnsafeBufferPointer(start: ptr, count: Int(sqlite3_column_bytes(handle, Int32(column))))
        guard !bytes.isEmpty else { return [] }
        var out: [String] = []
        var start = 0
        for i in 0...bytes.count where i == bytes.count || bytes[i] == separator {
            out.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
            start = i + 1
        }
        return out
    }

    public func blob(_ column: Int) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, Int32(column)))
        guard count > 0, let ptr = sqlite3_column_blob(handle, Int32(column)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: ptr, count: count))
    }

    /// Calls `body` with the blob's bytes in place (valid only inside `body`).
    public func withBlob<R>(_ column: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let count = Int(sqlite3_column_bytes(handle, Int32(column)))
        guard count > 0, let ptr = sqlite3_column_blob(handle, Int32(column)) else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return try body(UnsafeRawBufferPointer(start: ptr, count: count))
    }
}
