import CCofferSys
import CofferCore
import Glibc

/// What `lstat`/`fstat` says about a file (the parts Coffer checks).
public struct FileStatus: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case regular, directory, symlink, socket, other
    }

    public var kind: Kind
    /// Permission bits only (`st_mode & 0o7777`).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int
    public var linkCount: UInt64
    public var device: UInt64
    public var inode: UInt64

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFSOCK: kind = .socket
        default: kind = .other
        }
        mode = UInt32(st.st_mode & 0o7777)
        uid = st.st_uid
        gid = st.st_gid
        size = Int(st.st_size)
        linkCount = UInt64(st.st_nlink)
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}

/// Files Coffer owns (state directory, key file, audit log): created exclusively with an exact mode, never through a
/// symbolic link, written fully and made durable (`fsync` of the file and of its directory).
public enum SafeFile {
    // MARK: Inspection

    /// `lstat`: the status of the path itself (a symlink is reported as one), or nil if nothing is there.
    public static func status(path: String) throws -> FileStatus? {
        var st = stat()
        do {
            _ = try withPath(path) { p in try retryingEINTR("lstat") { lstat(p, &st) } }
        } catch let error as SystemError where error.errno == ENOENT {
            return nil
        }
        return FileStatus(st)
    }

    /// `fstat` of an open descriptor.
    public static func status(of descriptor: FileDescriptor) throws -> FileStatus {
        var st = stat()
        let fd = descriptor.rawValue
        _ = try retryingEINTR("fstat") { fstat(fd, &st) }
        return FileStatus(st)
    }

    /// Whether `path` itself is a symbolic link (false if it does not exist).
    public static func isSymlink(path: String) throws -> Bool {
        try status(path: path)?.kind == .symlink
    }

    /// The permission bits of `path` itself (not following a symlink), or nil if it does not exist.
    public static func fileMode(path: String) throws -> UInt32? {
        try status(path: path)?.mode
    }

    // MARK: Directories

    /// Makes sure `path` is a directory private to this process's effective user and returns it opened.
    ///
    /// Creates it with `mode` if missing (and its missing parents too, with the same mode, if `createParents`), then
    /// opens it with `O_DIRECTORY | O_NOFOLLOW` (the last component must not be a symlink) and checks with `fstat` on
    /// that descriptor (so the check and the use are about the same inode): it must be owned by the effective uid and
    /// must not be writable by group or others beyond what `mode` grants, otherwise ``PathError/notPrivate``. Finally
    /// `fchmod` sets exactly `mode` (mkdir's mode was reduced by the umask). Components above the last are resolved
    /// normally: the caller chooses a trusted location such as `/run` or `/var/lib`.
    @discardableResult
    public static func ensurePrivateDirectory(
        path: String, mode: UInt32, createParents: Bool = false
    ) throws
        -> FileDescriptor
    {
        if createParents {
            var prefix = path.hasPrefix("/") ? "/" : ""
            let components = path.split(separator: "/", omittingEmptySubsequences: true)
            for component in components.dropLast() {
                prefix += component
                try makeDirectory(prefix, mode: mode)
                prefix += "/"
            }
        }
        try makeDirectory(path, mode: mode)
        let fd: Int32
        do {
            fd = try withPath(path) { p in
                try retryingEINTR("open(O_DIRECTORY)") {
                    open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
            }
        } catch let error as SystemError where error.errno == ELOOP {
            throw PathError.symlink(path: path)
        } catch let error as SystemError where error.errno == ENOTDIR {
            throw try status(path: path)?.kind == .symlink
                ? PathError.symlink(path: path) : PathError.notADirectory(path: path)
        }
        let directory = FileDescriptor(owning: fd)
        let st = try status(of: directory)
        let unwantedWrite = st.mode & 0o022 & ~mode
        guard st.uid == geteuid(), unwantedWrite == 0 else {
            throw PathError.notPrivate(path: path, owner: st.uid, mode: st.mode)
        }
        if st.mode != mode & 0o7777 {
            _ = try retryingEINTR("fchmod") { fchmod(fd, mode_t(mode)) }
        }
        return directory
    }

    private static func makeDirectory(_ path: String, mode: UInt32) throws {
        do {
            _ = try withPath(path) { p in try retryingEINTR("mkdir") { mkdir(p, mode_t(mode)) } }
        } catch let error as SystemError where error.errno == EEXIST {
            return
        }
    }

    /// `fsync` of the directory holding `path`, so that a created, renamed or removed entry is durable.
    public static func syncDirectory(containing path: String) throws {
        let directory = try openDirectory(parentOf(path))
        let fd = directory.rawValue
        _ = try retryingEINTR("fsync(directory)") { fsync(fd) }
    }

    // MARK: Writing

    /// Creates `path` (it must not exist; a symlink there is refused, not followed), with exactly `mode`, writes
    /// `contents` fully, and makes file and directory entry durable. On failure after creation the partial file is
    /// removed, so a half-written key file never stays behind.
    public static func createExclusive(path: String, mode: UInt32, contents: UnsafeRawBufferPointer) throws {
        let file = try openExclusive(path, mode: mode)
        do {
            try writeAndSync(file, contents)
            file.close()
            try syncDirectory(containing: path)
        } catch {
            file.close()
            _ = try? withPath(path, unlinkQuietly)
            throw error
        }
    }

    /// ``createExclusive(path:mode:contents:)-(_,_,UnsafeRawBufferPointer)`` for an array.
    public static func createExclusive(path: String, mode: UInt32, contents: [UInt8]) throws {
        try contents.withUnsafeBytes { try createExclusive(path: path, mode: mode, contents: $0) }
    }

    /// Replaces `path` atomically: writes a new file in the same directory (exclusive create, exact `mode`,
    /// `fsync`), `rename`s it over `path`, then `fsync`s the directory. Readers see the old or the new contents, never
    /// a mix; after a crash, one of the two. If `path` is a symlink, the link itself is replaced (its target is not
    /// touched).
    public static func atomicReplace(path: String, mode: UInt32, contents: UnsafeRawBufferPointer) throws {
        let (directory, name) = split(path)
        let temporary = "\(directory)/.\(name).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let file = try openExclusive(temporary, mode: mode)
        do {
            try writeAndSync(file, contents)
            file.close()
            _ = try withPath(temporary) { from in
                try withPath(path) { to in try retryingEINTR("rename") { rename(from, to) } }
            }
        } catch {
            file.close()
            _ = try? withPath(temporary, unlinkQuietly)
            throw error
        }
        try syncDirectory(containing: path)
    }

    /// ``atomicReplace(path:mode:contents:)-(_,_,UnsafeRawBufferPointer)`` for an array.
    public static func atomicReplace(path: String, mode: UInt32, contents: [UInt8]) throws {
        try contents.withUnsafeBytes { try atomicReplace(path: path, mode: mode, contents: $0) }
    }

    /// Opens `path` for appending (creating it exclusively-owned with `mode` if missing), never through a symlink.
    /// For append-only logs: every `write` lands at the end (`O_APPEND`).
    public static func openForAppend(path: String, mode: UInt32) throws -> FileDescriptor {
        let fd: Int32
        do {
            fd = try withPath(path) { p in
                try retryingEINTR("open(O_APPEND)") {
                    open(p, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
                }
            }
        } catch let error as SystemError where error.errno == ELOOP {
            throw PathError.symlink(path: path)
        }
        let file = FileDescriptor(owning: fd)
        guard try status(of: file).kind == .regular else { throw PathError.notARegularFile(path: path) }
        return file
    }

    private static func openExclusive(_ path: String, mode: UInt32) throws -> FileDescriptor {
        let fd: Int32
        do {
            fd = try withPath(path) { p in
                try retryingEINTR("open(O_EXCL)") {
                    open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
                }
            }
        } catch let error as SystemError where error.errno == EEXIST {
            // O_EXCL|O_CREAT fails with EEXIST on a symlink too (it is not followed); say which.
            if try isSymlink(path: path) { throw PathError.symlink(path: path) }
            throw error
        }
        // The umask can only have removed bits; set exactly what was asked.
        _ = try retryingEINTR("fchmod") { fchmod(fd, mode_t(mode)) }
        return FileDescriptor(owning: fd)
    }

    private static func writeAndSync(_ file: FileDescriptor, _ contents: UnsafeRawBufferPointer) throws {
        try file.writeFully(contents)
        let fd = file.rawValue
        _ = try retryingEINTR("fsync") { fsync(fd) }
    }

    // MARK: Reading

    /// Reads a whole regular file of at most `maxBytes`, refusing symlinks (`O_NOFOLLOW`). The size is checked with
    /// `fstat` before anything is allocated; a file that grows while being read is refused too. For files on disk:
    /// `/proc` files report size 0 and are refused as too large.
    public static func readAll(path: String, maxBytes: Int) throws -> [UInt8] {
        let file = try openForReading(path)
        let size = try checkedSize(file, path: path, maxBytes: maxBytes)
        var bytes = [UInt8](repeating: 0, count: size + 1)  // one extra byte detects growth
        let n = try bytes.withUnsafeMutableBytes { try file.readFully(into: $0) }
        guard n <= size else { throw PathError.tooLarge(path: path, size: n, limit: maxBytes) }
        bytes.removeLast(bytes.count - n)
        return bytes
    }

    /// Reads a whole regular file of at most `maxBytes` straight into wiped-on-release memory (no intermediate copy).
    public static func readSensitive(path: String, maxBytes: Int) throws -> SensitiveBytes {
        let file = try openForReading(path)
        let size = try checkedSize(file, path: path, maxBytes: maxBytes)
        return try SensitiveBytes(count: size) { buffer in
            try readExactly(file, path: path, into: buffer)
        }
    }

    /// Reads a regular file whose size must be exactly `buffer.count` into the caller's buffer (for example a key
    /// into guarded memory). Refuses symlinks; ``PathError/sizeMismatch`` if the size differs.
    public static func readExactly(path: String, into buffer: UnsafeMutableRawBufferPointer) throws {
        let file = try openForReading(path)
        let size = try status(of: file).size
        guard size == buffer.count else {
            throw PathError.sizeMismatch(path: path, expected: buffer.count, actual: size)
        }
        try readExactly(file, path: path, into: buffer)
    }

    private static func readExactly(
        _ file: FileDescriptor,
        path: String,
        into buffer: UnsafeMutableRawBufferPointer
    ) throws {
        let n = try file.readFully(into: buffer)
        guard n == buffer.count else { throw PathError.sizeMismatch(path: path, expected: buffer.count, actual: n) }
        // Nothing may follow (the file grew after fstat).
        var extra: UInt8 = 0
        let more = try withUnsafeMutableBytes(of: &extra) { try file.readFully(into: $0) }
        guard more == 0 else { throw PathError.sizeMismatch(path: path, expected: buffer.count, actual: n + more) }
    }

    /// Opens a regular file read-only, never through a symlink (for readers that stream, e.g. a log).
    public static func openForReading(path: String) throws -> FileDescriptor { try openForReading(path) }

    private static func openForReading(_ path: String) throws -> FileDescriptor {
        let fd: Int32
        do {
            fd = try withPath(path) { p in
                try retryingEINTR("open") { open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY) }
            }
        } catch let error as SystemError where error.errno == ELOOP {
            throw PathError.symlink(path: path)
        }
        let file = FileDescriptor(owning: fd)
        guard try status(of: file).kind == .regular else { throw PathError.notARegularFile(path: path) }
        return file
    }

    private static func checkedSize(_ file: FileDescriptor, path: String, maxBytes: Int) throws -> Int {
        let size = try status(of: file).size
        guard size <= maxBytes else { throw PathError.tooLarge(path: path, size: size, limit: maxBytes) }
        return size
    }

    // MARK: Helpers

    static func openDirectory(_ path: String) throws -> FileDescriptor {
        let fd = try withPath(path) { p in
            try retryingEINTR("open(O_DIRECTORY)") { open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        }
        return FileDescriptor(owning: fd)
    }

    /// Splits `a/b/c` into (`a/b`, `c`); a bare name lives in `.`, a top-level name in `/`.
    static func split(_ path: String) -> (directory: String, name: String) {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", String(trimmed)) }
        let directory = trimmed[..<slash]
        return (directory.isEmpty ? "/" : String(directory), String(trimmed[trimmed.index(after: slash)...]))
    }

    static func parentOf(_ path: String) -> String { split(path).directory }
}

/// `unlink`, ignoring failure (cleanup paths).
func unlinkQuietly(_ path: UnsafePointer<CChar>) -> Bool { unlink(path) == 0 }
