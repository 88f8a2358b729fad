import CofferCore
import CofferSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Why the CLI could not write a file (names the path and the failed call, never the contents).
package enum OutputFileError: Error, Equatable, CustomStringConvertible {
    /// The target exists and replacing it was not asked for.
    case exists(path: String)
    /// The target is a symbolic link: the CLI never writes through one nor replaces one.
    case symlink(path: String)
    /// The target exists and is not a regular file (a directory, a device...).
    case notARegularFile(path: String)
    /// The directory to write in does not exist.
    case missingDirectory(path: String)
    /// A system call failed.
    case system(call: String, path: String, errno: Int32)

    package var description: String {
        switch self {
        case .exists(let path): return "\(path) exists (add --force to replace it)."
        case .symlink(let path): return "\(path) is a symbolic link; refusing to write through or over it."
        case .notARegularFile(let path): return "\(path) exists and is not a regular file."
        case .missingDirectory(let path): return "the directory \(path) does not exist."
        case .system(let call, let path, let errno):
            return "\(call) \(path): \(SystemError.message(for: errno))."
        }
    }
}

/// A file written atomically, as backups and rendered secrets need: the contents go to a new temporary file in the
/// target's directory (created with `O_EXCL | O_NOFOLLOW` and the final mode from the first moment, so there is no
/// window in which it is more readable), are `fsync`ed, and the file is renamed over the target; then the directory
/// is `fsync`ed. A reader sees the old file or the whole new one; after a crash, one of the two. A target that is a
/// symbolic link is refused. If the writer is dropped before ``commit()`` the temporary file is removed.
package final class AtomicOutputFile {
    package let path: String
    package let temporaryPath: String
    private let replace: Bool
    private var descriptor: Int32
    /// The file's identity (`st_dev`, `st_ino`), known once committed.
    package private(set) var device: UInt64 = 0
    package private(set) var inode: UInt64 = 0
    /// Committed, or the temporary file removed.
    private var finished = false

    /// Creates the temporary file. `replace: false` refuses an existing target (checked again, atomically, when
    /// committing).
    package init(path: String, mode: UInt32, replace: Bool) throws(OutputFileError) {
        self.path = path
        self.replace = replace
        try AtomicOutputFile.checkTarget(path, replace: replace)
        let (directory, name) = AtomicOutputFile.split(path)
        let temporary = "\(directory)/.\(name).coffer-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        temporaryPath = temporary
        do {
            descriptor = try AtomicOutputFile.call("open", temporary) {
                open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(mode))
            }
        } catch .system(_, _, let code) where code == ENOENT || code == ENOTDIR {
            throw .missingDirectory(path: directory)
        } catch .system(_, _, let code) {
            throw .system(call: "create a file in", path: directory, errno: code)  // the directory is what matters
        }
        do {
            // The umask can only have removed bits: set exactly what was asked.
            let fd = descriptor
            _ = try AtomicOutputFile.call("fchmod", temporaryPath) { fchmod(fd, mode_t(mode)) }
        } catch {
            abandon()
            throw error
        }
    }

    deinit { abandon() }

    /// Appends bytes (partial writes and EINTR are retried).
    package func write(_ bytes: UnsafeRawBufferPointer) throws(OutputFileError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let fd = descriptor
            let n = try AtomicOutputFile.call("write", temporaryPath) {
                Glibc.write(fd, base + offset, bytes.count - offset)
            }
            offset += n
        }
    }

    /// Sets the owner and/or group (`fchown`; giving a file away needs root).
    package func changeOwner(uid: UInt32?, gid: UInt32?) throws(OutputFileError) {
        guard uid != nil || gid != nil else { return }
        let fd = descriptor
        _ = try AtomicOutputFile.call("fchown", temporaryPath) {
            fchown(fd, uid ?? UInt32.max, gid ?? UInt32.max)
        }
    }

    /// Makes the file durable and puts it in place. Without `replace`, a target that appeared meanwhile is not
    /// overwritten (`link` fails on an existing name, atomically).
    package func commit() throws(OutputFileError) {
        let fd = descriptor
        do {
            _ = try AtomicOutputFile.call("fsync", temporaryPath) { fsync(fd) }
            var st = stat()
            _ = try AtomicOutputFile.call("fstat", temporaryPath) { fstat(fd, &st) }
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            descriptor = -1
            _ = Glibc.close(fd)
            try AtomicOutputFile.checkTarget(path, replace: replace)
            if replace {
                _ = try AtomicOutputFile.call("rename", path) { rename(temporaryPath, path) }
            } else {
                try linkWithoutReplacing()
            }
        } catch {
            abandon()
            throw error
        }
        finished = true
        try AtomicOutputFile.syncDirectory(of: path)
    }

    /// Closes and removes the temporary file (nothing happens to the target).
    package func abandon() {
        if descriptor >= 0 {
            _ = Glibc.close(descriptor)
            descriptor = -1
        }
        if !finished {
            _ = unlink(temporaryPath)
            finished = true
        }
    }

    private func linkWithoutReplacing() throws(OutputFileError) {
        do {
            _ = try AtomicOutputFile.call("link", path) { link(temporaryPath, path) }
        } catch .system(_, _, let code) where code == EEXIST {
            throw .exists(path: path)
        } catch .system(_, _, let code) where code == EPERM || code == EOPNOTSUPP || code == EMLINK {
            // A file system without hard links (vfat): the target was checked just before; rename.
            _ = try AtomicOutputFile.call("rename", path) { rename(temporaryPath, path) }
            return
        }
        _ = unlink(temporaryPath)
    }

    // MARK: Helpers

    /// Refuses a symlink, a non-regular file, or (without `replace`) anything at `path`.
    package static func checkTarget(_ path: String, replace: Bool) throws(OutputFileError) {
        var st = stat()
        do {
            _ = try call("lstat", path) { lstat(path, &st) }
        } catch .system(_, _, let code) where code == ENOENT || code == ENOTDIR {
            return  // nothing there (or no directory: creating the file says so)
        }
        switch st.st_mode & S_IFMT {
        case S_IFLNK: throw .symlink(path: path)
        case S_IFREG: if !replace { throw .exists(path: path) }
        default: throw .notARegularFile(path: path)
        }
    }

    /// `fsync` of the directory holding `path` (a rename is durable only once its directory is).
    static func syncDirectory(of path: String) throws(OutputFileError) {
        let directory = split(path).directory
        let fd = try call("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { _ = Glibc.close(fd) }
        _ = try call("fsync", directory) { fsync(fd) }
    }

    /// `a/b/c` → (`a/b`, `c`); a bare name is in `.`, a top-level one in `/`.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = path[..<slash]
        return (directory.isEmpty ? "/" : String(directory), String(path[path.index(after: slash)...]))
    }

    /// The one place errno is read: right after a call that returns -1, retrying EINTR.
    static func call<T: FixedWidthInteger & SignedInteger>(
        _ name: String, _ path: String, _ body: () -> T
    ) throws(OutputFileError) -> T {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            if code == ELOOP { throw .symlink(path: path) }
            throw .system(call: name, path: path, errno: code)
        }
    }
}
