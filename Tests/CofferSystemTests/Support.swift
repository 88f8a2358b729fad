import Glibc
import Synchronization
import Testing

@testable import CofferSystem

/// A fresh directory under /tmp (mode 0755 so that a dropped-privilege child can reach sockets in it), removed with
/// everything in it when released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/coffer-system-test-XXXXXX".utf8CString)
        let created: String? = template.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, let made = mkdtemp(base) else { return nil }
            return String(cString: made)
        }
        guard let created else { throw SystemError(call: "mkdtemp", errno: errno) }
        path = created
        chmod(path, 0o755)
    }

    func child(_ name: String) -> String { "\(path)/\(name)" }

    deinit { removeTree(path) }
}

/// `rm -rf` without following symlinks.
func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if st.st_mode & S_IFMT == S_IFDIR {
        if let dir = opendir(path) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for name in names { removeTree("\(path)/\(name)") }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Serializes tests that change process-wide state (the umask), and restores it.
let processStateLock = Mutex(())

func withUmask<R>(_ mask: mode_t, _ body: () throws -> R) rethrows -> R {
    try processStateLock.withLock { _ in
        let previous = umask(mask)
        defer { umask(previous) }
        return try body()
    }
}

func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    precondition(fd >= 0, "test setup: cannot create \(path)")
    fchmod(fd, mode)  // another test may have changed the umask
    _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
    close(fd)
}

func readText(_ path: String) -> String? {
    guard let bytes = try? SafeFile.readAll(path: path, maxBytes: 1 << 20) else { return nil }
    return String(decoding: bytes, as: UTF8.self)
}

func permissions(_ path: String) -> UInt32? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return UInt32(st.st_mode & 0o7777)
}

/// Accepts one connection, waiting up to a second for it to arrive.
func acceptOne(_ listener: UnixListener) throws -> FileDescriptor? {
    for _ in 0..<1_000 {
        if let connection = try listener.accept() { return connection }
        usleep(1_000)
    }
    return nil
}

func selfExecutable() -> String? { ProcessFacts.readLink("/proc/self/exe") }

/// Ends an exit-test child process, removing its temporary directory first (`exit` runs no deinitializers).
func finish(_ code: Int32, removing directory: TemporaryDirectory?) -> Never {
    if let directory { removeTree(directory.path) }
    exit(code)
}

/// Polls `condition` every millisecond for up to two seconds.
///
/// Needed after closing a descriptor: a child that another test forks (or spawns) at that moment holds copies of
/// all our descriptors until it closes them or execs, so "peer sees EOF" or "connect is refused" can take a moment.
func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
    for _ in 0..<2_000 {
        if try condition() { return true }
        usleep(1_000)
    }
    return try condition()
}
