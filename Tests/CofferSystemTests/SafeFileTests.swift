import CofferCore
import Glibc
import Testing

@testable import CofferSystem

@Suite("SafeFile: exclusive create, exact modes, no symlinks, bounded reads, atomic replace")
struct SafeFileTests {
    @Test(
        "createExclusive writes the contents with exactly the mode, under a permissive or a strict umask",
        arguments: [0o600, 0o640, 0o444])
    func createExact(mode: UInt32) throws {
        let dir = try TemporaryDirectory()
        for (index, mask) in [mode_t(0), 0o077, 0o022].enumerated() {
            let path = dir.child("key-\(index)")
            try withUmask(mask) { try SafeFile.createExclusive(path: path, mode: mode, contents: [1, 2, 3]) }
            #expect(permissions(path) == mode)
            #expect(try SafeFile.readAll(path: path, maxBytes: 16) == [1, 2, 3])
            #expect(try SafeFile.fileMode(path: path) == mode)
        }
    }

    @Test("createExclusive refuses an existing file and leaves it alone")
    func createRefusesExisting() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("key")
        writeFile(path, "old", mode: 0o600)
        #expect(throws: SystemError(call: "open(O_EXCL)", errno: EEXIST)) {
            try SafeFile.createExclusive(path: path, mode: 0o600, contents: [9])
        }
        #expect(readText(path) == "old")
    }

    @Test("createExclusive refuses a symlink, dangling or not, and never writes through it")
    func createRefusesSymlink() throws {
        let dir = try TemporaryDirectory()
        let target = dir.child("target")
        writeFile(target, "precious", mode: 0o644)
        let link = dir.child("key")
        symlink(target, link)
        #expect(throws: PathError.symlink(path: link)) {
            try SafeFile.createExclusive(path: link, mode: 0o600, contents: [9])
        }
        #expect(readText(target) == "precious")
        #expect(permissions(target) == 0o644)

        let dangling = dir.child("dangling")
        symlink(dir.child("created-through-link"), dangling)
        #expect(throws: PathError.symlink(path: dangling)) {
            try SafeFile.createExclusive(path: dangling, mode: 0o600, contents: [9])
        }
        #expect(try SafeFile.status(path: dir.child("created-through-link")) == nil)
    }

    @Test("atomicReplace swaps contents and mode, leaves no temporary file, replaces a symlink itself")
    func atomicReplace() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("state.json")
        try SafeFile.atomicReplace(path: path, mode: 0o600, contents: Array("one".utf8))
        #expect(readText(path) == "one")
        let firstInode = try SafeFile.status(path: path)?.inode
        try withUmask(0o077) { try SafeFile.atomicReplace(path: path, mode: 0o640, contents: Array("two".utf8)) }
        #expect(readText(path) == "two")
        #expect(permissions(path) == 0o640)
        #expect(try SafeFile.status(path: path)?.inode != firstInode)
        #expect(try directoryEntries(dir.path) == ["state.json"])

        let target = dir.child("target")
        writeFile(target, "precious")
        let link = dir.child("link")
        symlink(target, link)
        try SafeFile.atomicReplace(path: link, mode: 0o600, contents: Array("new".utf8))
        #expect(readText(target) == "precious")
        #expect(try SafeFile.isSymlink(path: link) == false)
        #expect(readText(link) == "new")
    }

    @Test("readAll refuses symlinks, oversize files, directories; reads exactly what is there")
    func readAll() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("data")
        writeFile(path, "0123456789")
        #expect(try SafeFile.readAll(path: path, maxBytes: 10) == Array("0123456789".utf8))
        #expect(throws: PathError.tooLarge(path: path, size: 10, limit: 9)) {
            try SafeFile.readAll(path: path, maxBytes: 9)
        }
        let link = dir.child("link")
        symlink(path, link)
        #expect(throws: PathError.symlink(path: link)) { try SafeFile.readAll(path: link, maxBytes: 100) }
        #expect(throws: PathError.notARegularFile(path: dir.path)) {
            try SafeFile.readAll(path: dir.path, maxBytes: 100)
        }
        let empty = dir.child("empty")
        writeFile(empty, "")
        #expect(try SafeFile.readAll(path: empty, maxBytes: 0) == [])
        #expect(throws: SystemError(call: "open", errno: ENOENT)) {
            try SafeFile.readAll(path: dir.child("missing"), maxBytes: 1)
        }
    }

    @Test("readExactly fills the caller's buffer and insists on the exact size; readSensitive redacts")
    func readExactly() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("key")
        try SafeFile.createExclusive(path: path, mode: 0o600, contents: Array(0..<32))
        var key = [UInt8](repeating: 0, count: 32)
        try key.withUnsafeMutableBytes { try SafeFile.readExactly(path: path, into: $0) }
        #expect(key == Array(0..<32))
        var short = [UInt8](repeating: 0, count: 31)
        #expect(throws: PathError.sizeMismatch(path: path, expected: 31, actual: 32)) {
            try short.withUnsafeMutableBytes { try SafeFile.readExactly(path: path, into: $0) }
        }
        let link = dir.child("link")
        symlink(path, link)
        #expect(throws: PathError.symlink(path: link)) {
            try key.withUnsafeMutableBytes { try SafeFile.readExactly(path: link, into: $0) }
        }
        let sensitive = try SafeFile.readSensitive(path: path, maxBytes: 64)
        #expect(sensitive.copyBytes() == Array(0..<32))
        #expect(sensitive.description == "<redacted, 32 bytes>")
        #expect(throws: PathError.tooLarge(path: path, size: 32, limit: 16)) {
            try SafeFile.readSensitive(path: path, maxBytes: 16)
        }
    }

    @Test("openForAppend appends, creates with the mode, refuses symlinks")
    func append() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("audit.log")
        let log = try SafeFile.openForAppend(path: path, mode: 0o600)
        try log.writeFully(Array("a\n".utf8))
        let again = try SafeFile.openForAppend(path: path, mode: 0o600)
        try again.writeFully(Array("b\n".utf8))
        #expect(readText(path) == "a\nb\n")
        let link = dir.child("link.log")
        symlink(path, link)
        #expect(throws: PathError.symlink(path: link)) { try SafeFile.openForAppend(path: link, mode: 0o600) }
    }

    @Test("ensurePrivateDirectory creates with the exact mode (parents too) and returns it opened")
    func privateDirectoryCreated() throws {
        let dir = try TemporaryDirectory()
        let path = dir.child("a/b/state")
        let opened = try withUmask(0) {
            try SafeFile.ensurePrivateDirectory(path: path, mode: 0o700, createParents: true)
        }
        #expect(permissions(path) == 0o700)
        #expect(permissions(dir.child("a")) == 0o700)
        #expect(try SafeFile.status(of: opened).kind == .directory)
        #expect(try opened.isCloseOnExec())
        #expect(throws: SystemError(call: "mkdir", errno: ENOENT)) {
            try SafeFile.ensurePrivateDirectory(path: dir.child("x/y"), mode: 0o700)
        }
        // An existing private directory with looser (not writable) bits is tightened to the exact mode.
        let loose = dir.child("loose")
        mkdir(loose, 0o755)
        chmod(loose, 0o755)
        try SafeFile.ensurePrivateDirectory(path: loose, mode: 0o750)
        #expect(permissions(loose) == 0o750)
    }

    @Test("ensurePrivateDirectory refuses a symlink, a group/world-writable directory, another owner, a file")
    func privateDirectoryRefusals() throws {
        let dir = try TemporaryDirectory()
        let real = dir.child("real")
        mkdir(real, 0o700)
        let link = dir.child("link")
        symlink(real, link)
        #expect(throws: PathError.symlink(path: link)) { try SafeFile.ensurePrivateDirectory(path: link, mode: 0o700) }

        let shared = dir.child("shared")
        mkdir(shared, 0o777)
        chmod(shared, 0o777)
        #expect(throws: PathError.notPrivate(path: shared, owner: 0, mode: 0o777)) {
            try SafeFile.ensurePrivateDirectory(path: shared, mode: 0o700)
        }
        #expect(permissions(shared) == 0o777)  // refused, not silently fixed
        let group = dir.child("group")
        mkdir(group, 0o770)
        chmod(group, 0o770)
        try SafeFile.ensurePrivateDirectory(path: group, mode: 0o770)  // asked for group write: fine

        let foreign = dir.child("foreign")
        mkdir(foreign, 0o700)
        chown(foreign, 65_534, 65_534)
        #expect(throws: PathError.notPrivate(path: foreign, owner: 65_534, mode: 0o700)) {
            try SafeFile.ensurePrivateDirectory(path: foreign, mode: 0o700)
        }
        let file = dir.child("file")
        writeFile(file, "x")
        #expect(throws: PathError.notADirectory(path: file)) {
            try SafeFile.ensurePrivateDirectory(path: file, mode: 0o700)
        }
    }

    @Test("status, isSymlink and fileMode describe the path itself")
    func inspection() throws {
        let dir = try TemporaryDirectory()
        let file = dir.child("file")
        writeFile(file, "12345", mode: 0o600)
        chmod(file, 0o640)
        let link = dir.child("link")
        symlink(file, link)
        let status = try #require(try SafeFile.status(path: file))
        #expect(status.kind == .regular)
        #expect(status.size == 5)
        #expect(status.mode == 0o640)
        #expect(status.linkCount == 1)
        #expect(try SafeFile.status(path: link)?.kind == .symlink)
        #expect(try SafeFile.isSymlink(path: link))
        #expect(try !SafeFile.isSymlink(path: file))
        #expect(try !SafeFile.isSymlink(path: dir.child("missing")))
        #expect(try SafeFile.fileMode(path: file) == 0o640)
        #expect(try SafeFile.fileMode(path: dir.child("missing")) == nil)
        #expect(try SafeFile.status(path: dir.path)?.kind == .directory)
    }

    @Test(
        "path splitting",
        arguments: [
            ("/run/coffer/api.sock", "/run/coffer", "api.sock"), ("/api.sock", "/", "api.sock"),
            ("api.sock", ".", "api.sock"), ("dir/sub/", "dir", "sub"),
        ])
    func split(path: String, directory: String, name: String) {
        let parts = SafeFile.split(path)
        #expect(parts.directory == directory)
        #expect(parts.name == name)
    }
}

func directoryEntries(_ path: String) throws -> [String] {
    guard let dir = opendir(path) else { throw SystemError(call: "opendir", errno: errno) }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}
