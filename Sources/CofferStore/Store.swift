import CSQLite
import CofferCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Why the store could not be opened or used, beyond SQLite's own errors.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    case sqlite(SQLiteError)
    /// The database path is a symlink, has several hard links, is not a regular file, or belongs to another user.
    case unsafePath(String, reason: String)
    /// Another process holds the store's lock (a second daemon on the same state directory).
    case locked(String)
    case io(call: String, errno: Int32)
    /// The schema on disk is newer than this binary knows.
    case schemaTooNew(found: Int, known: Int)
    case closed

    public var description: String {
        switch self {
        case .sqlite(let e): return e.description
        case .unsafePath(let path, let reason): return "refusing database path \(path): \(reason)"
        case .locked(let path): return "the store at \(path) is in use by another process"
        case .io(let call, let errno): return "\(call) failed: \(String(cString: strerror(errno)))"
        case .schemaTooNew(let found, let known): return "schema version \(found) is newer than this binary (\(known))"
        case .closed: return "the store is closed"
        }
    }
}

/// Tuning applied to every connection. Defaults suit the daemon; tests may shrink them.
public struct StoreOptions: Sendable {
    /// Page cache per connection, in KiB (`PRAGMA cache_size=-N`). Bounds RSS: writer + readers × this.
    public var cacheKiB: Int = 8 * 1_024
    /// Memory-mapped I/O per connection, in bytes. Off by default: mapped pages count toward RSS at 1M secrets.
    public var mmapBytes: Int = 0
    /// Most write jobs committed together in one transaction (group commit).
    public var maxBatch: Int = 256

    public init() {}
}

/// The SQLite store: exactly one writer connection on its own thread, and reader connections created by (and
/// owned by) the threads that read.
///
/// SQLite 3.40.1 (Debian 12) has the WAL-reset bug that needs two connections writing or checkpointing at once, so
/// only the writer writes or checkpoints; readers are `query_only` with automatic checkpoints off.
/// Durability: WAL with `synchronous=FULL`; a write is acknowledged (its completion called) only after COMMIT returns.
public final class Store: Sendable {
    public let path: String
    public let options: StoreOptions
    public let writer: StoreWriter
    /// The flock'ed lock file, held from open to close (-1 once released).
    private let lockFD: Mutex<Int32>

    /// Opens (creating if needed) the database at `path`. The file is created 0600 before SQLite touches it, so the
    /// WAL and shared-memory files SQLite creates inherit 0600. Refuses symlinks, hard-linked files and files owned
    /// by another user.
    public init(path: String, options: StoreOptions = StoreOptions()) throws {
        self.path = path
        self.options = options
        let lock = try Store.acquireLock(path + ".lock")
        lockFD = Mutex(lock)
        do {
            try Store.prepareDatabaseFile(path)
            for suffix in ["-wal", "-shm"] { try Store.checkCompanionFile(path + suffix) }
            let connection = try Store.openWriterConnection(path: path, options: options)
            try Store.migrate(connection)
            writer = try StoreWriter(
                connection: connection, options: options,
                reopen: {
                    try Store.openWriterConnection(path: path, options: options)
                })
        } catch {
            Glibc.close(lock)
            throw error
        }
    }

    deinit { close() }

    /// Stops the writer after draining queued writes (their completions are called), checkpoints the WAL and
    /// releases the lock. Idempotent.
    public func close() {
        writer.shutdown()
        lockFD.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }

    /// A new read-only connection for the calling thread. Keep it for the thread's lifetime (statements are cached).
    public func makeReader() throws -> StoreReader {
        let connection = try SQLiteConnection(path: path, readOnly: true)
        try connection.execute(
            """
            PRAGMA query_only=1;
            PRAGMA cache_size=-\(options.cacheKiB);
            PRAGMA mmap_size=\(options.mmapBytes);
            PRAGMA busy_timeout=5000;
            """
        )
        return StoreReader(connection: connection, generation: writer.generation)
    }

    static func openWriterConnection(path: String, options: StoreOptions) throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.execute(
            """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            PRAGMA foreign_keys=ON;
            PRAGMA secure_delete=ON;
            PRAGMA busy_timeout=5000;
            PRAGMA cache_size=-\(options.cacheKiB);
            PRAGMA mmap_size=\(options.mmapBytes);
            """
        )
        // Verify the pragmas that durability depends on actually took effect.
        let mode = try connection.scalarText("PRAGMA journal_mode")
        let sync = try connection.scalarInt("PRAGMA synchronous")
        guard mode == "wal", sync == 2 else {
            throw StoreError.unsafePath(path, reason: "could not enable WAL with synchronous=FULL")
        }
        return connection
    }

    /// The schema version this binary knows.
    public static var schemaVersion: Int { Migrations.all.last?.version ?? 0 }

    static func migrate(_ connection: SQLiteConnection) throws {
        try connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)"
        )
        let current = Int(try connection.scalarInt("SELECT max(version) FROM schema_migrations") ?? 0)
        guard current <= schemaVersion else { throw StoreError.schemaTooNew(found: current, known: schemaVersion) }
        for migration in Migrations.all where migration.version > current {
            try connection.execute("BEGIN IMMEDIATE")
            do {
                try connection.execute(migration.sql)
                let stmt = try connection.prepare("INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)")
                stmt.bind(0, Int64(migration.version)).bind(1, SystemClock().now().milliseconds)
                try stmt.run()
                try connection.execute("COMMIT")
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }

    }

    // MARK: - File safety

    static func acquireLock(_ lockPath: String) throws -> Int32 {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let err = errno
            if err == ELOOP { throw StoreError.unsafePath(lockPath, reason: "is a symlink") }
            throw StoreError.io(call: "open(\(lockPath))", errno: err)
        }
        // A held lock is retried for up to half a second: a lock this process just released can still be held for a
        // moment by a child forked in between (its copy of the descriptor lives until its exec closes it).
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            if err == EINTR { continue }
            if err == EWOULDBLOCK && attempts < 50 {
                attempts += 1
                usleep(10_000)
                continue
            }
            Glibc.close(fd)
            if err == EWOULDBLOCK { throw StoreError.locked(lockPath) }
            throw StoreError.io(call: "flock", errno: err)
        }
        return fd
    }

    /// Creates the database file 0600 (exclusive, no symlink following) or checks an existing one.
    static func prepareDatabaseFile(_ path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let err = errno
            if err == ELOOP { throw StoreError.unsafePath(path, reason: "is a symlink") }
            throw StoreError.io(call: "open(\(path))", errno: err)
        }
        defer { Glibc.close(fd) }
        try checkOpenFile(fd, path)
    }

    static func checkCompanionFile(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // absent is fine; SQLite creates it with our mode
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw StoreError.unsafePath(path, reason: "is not a regular file")
        }
        let fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.io(call: "open(\(path))", errno: errno) }
        defer { Glibc.close(fd) }
        try checkOpenFile(fd, path)
    }

    static func checkOpenFile(_ fd: Int32, _ path: String) throws {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StoreError.io(call: "fstat", errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw StoreError.unsafePath(path, reason: "is not a regular file")
        }
        guard info.st_nlink == 1 else { throw StoreError.unsafePath(path, reason: "has \(info.st_nlink) hard links") }
        guard info.st_uid == geteuid() else {
            throw StoreError.unsafePath(path, reason: "is owned by uid \(info.st_uid)")
        }
        if info.st_mode & 0o077 != 0 {
            guard fchmod(fd, 0o600) == 0 else { throw StoreError.io(call: "fchmod", errno: errno) }
        }
    }
}
