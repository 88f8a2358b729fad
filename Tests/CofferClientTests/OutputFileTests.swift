import CofferCore
import Glibc
import Testing

@testable import CofferClient

/// Files the CLI writes (backups, rendered secrets): atomic, exact mode from the start, no symlinks, no leftovers.
@Suite struct OutputFileTests {
    /// A fresh directory, removed afterwards.
    func withDirectory(_ body: (String) throws -> Void) throws {
        var template = Array("/tmp/coffer-out-XXXXXX".utf8CString)
        let directory = try #require(
            template.withUnsafeMutableBufferPointer { buffer -> String? in
                guard let base = buffer.baseAddress, let made = mkdtemp(base) else { return nil }
                return String(cString: made)
            })
        defer { _ = system("rm -rf '\(directory)'") }
        try body(directory)
    }

    func contents(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    func mode(_ path: String) -> UInt32? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return UInt32(st.st_mode & 0o7777)
    }

    func entries(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress.unsafelyUnwrapped)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    @Test func aCommittedFileHasItsModeAndContentsAndNothingElseIsLeft() throws {
        try withDirectory { directory in
            let old = umask(0o022)
            defer { umask(old) }
            let path = directory + "/backup.db"
            let file = try AtomicOutputFile(path: path, mode: 0o600, replace: false)
            // The temporary file has the final mode from the start, next to the target.
            #expect(mode(file.temporaryPath) == 0o600)
            #expect(file.temporaryPath.hasPrefix(directory + "/."))
            try ([1, 2, 3] as [UInt8]).withUnsafeBytes { try file.write($0) }
            try ([4] as [UInt8]).withUnsafeBytes { try file.write($0) }
            #expect(contents(path) == nil)
            try file.commit()
            #expect(contents(path) == [1, 2, 3, 4])
            #expect(mode(path) == 0o600)
            #expect(entries(directory) == ["backup.db"])
        }
    }

    @Test func anExistingFileIsKeptUnlessReplacing() throws {
        try withDirectory { directory in
            let path = directory + "/f"
            _ = try SecretFiles.write(
                SensitiveBytes(copying: [1]), to: FileInjection(path: path, secret: SecretSelector(secretId: "s")),
                uid: nil, gid: nil, replace: false)
            #expect(throws: OutputFileError.exists(path: path)) {
                try AtomicOutputFile(path: path, mode: 0o600, replace: false)
            }
            // A file that appears after the check is not overwritten either (link, not rename).
            let late = try AtomicOutputFile(path: directory + "/g", mode: 0o600, replace: false)
            try ([9] as [UInt8]).withUnsafeBytes { try late.write($0) }
            let fd = open(directory + "/g", O_WRONLY | O_CREAT | O_EXCL, 0o600)
            close(fd)
            #expect(throws: OutputFileError.exists(path: directory + "/g")) { try late.commit() }
            #expect(contents(directory + "/g") == [])
            // Replacing writes the new contents with the new mode.
            let written = try SecretFiles.write(
                SensitiveBytes(copying: [2, 2]),
                to: FileInjection(path: path, secret: SecretSelector(secretId: "s"), mode: 0o440), uid: nil, gid: nil,
                replace: true)
            #expect(contents(path) == [2, 2])
            #expect(mode(path) == 0o440)
            #expect(entries(directory) == ["f", "g"])
            SecretFiles.remove(written)
            #expect(entries(directory) == ["g"])
        }
    }

    @Test func symlinksAndDirectoriesAreRefused() throws {
        try withDirectory { directory in
            let target = directory + "/target"
            let fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            close(fd)
            #expect(symlink(target, directory + "/link") == 0)
            #expect(throws: OutputFileError.symlink(path: directory + "/link")) {
                try AtomicOutputFile(path: directory + "/link", mode: 0o400, replace: true)
            }
            #expect(throws: OutputFileError.notARegularFile(path: directory)) {
                try AtomicOutputFile(path: directory, mode: 0o400, replace: true)
            }
            #expect(throws: OutputFileError.missingDirectory(path: directory + "/none")) {
                try AtomicOutputFile(path: directory + "/none/file", mode: 0o400, replace: true)
            }
            // A file where a directory should be: ENOTDIR, reported as a missing directory too.
            #expect(throws: OutputFileError.missingDirectory(path: target)) {
                try AtomicOutputFile(path: target + "/file", mode: 0o400, replace: true)
            }
            #expect(throws: UsageError.self) {
                try SecretFiles.checkTargets(
                    [FileInjection(path: directory + "/link", secret: SecretSelector(secretId: "s"))], replace: true)
            }
            #expect(contents(target) == [])
            #expect(entries(directory) == ["link", "target"])
        }
    }

    @Test func anAbandonedFileLeavesNothingBehind() throws {
        try withDirectory { directory in
            do {
                let file = try AtomicOutputFile(path: directory + "/x", mode: 0o600, replace: false)
                try ([1] as [UInt8]).withUnsafeBytes { try file.write($0) }
                #expect(entries(directory).count == 1)
            }
            #expect(entries(directory) == [])
        }
    }

    @Test func aRemovedFileIsOnlyRemovedIfItIsStillTheOneWritten() throws {
        try withDirectory { directory in
            let path = directory + "/s"
            let written = try SecretFiles.write(
                SensitiveBytes(copying: [1]), to: FileInjection(path: path, secret: SecretSelector(secretId: "s")),
                uid: nil, gid: nil, replace: false)
            // The command replaced it with its own file (renamed over it): that one stays.
            let fd = open(path + ".new", O_WRONLY | O_CREAT | O_EXCL, 0o600)
            close(fd)
            #expect(rename(path + ".new", path) == 0)
            SecretFiles.remove(written)
            #expect(entries(directory) == ["s"])
        }
    }

    @Test func settingAnOwnerIsForRoot() throws {
        let files = [
            FileInjection(path: "/x", secret: SecretSelector(secretId: "s"), owner: .name("root"), group: .id(0))
        ]
        if geteuid() == 0 {
            let owners = try SecretFiles.owners(files)
            #expect(owners.count == 1)
            #expect(owners[0].uid == 0)
            #expect(owners[0].gid == 0)
            #expect(throws: UsageError.self) {
                try SecretFiles.owners([
                    FileInjection(path: "/x", secret: SecretSelector(secretId: "s"), owner: .name("no-such-user-xyz"))
                ])
            }
        } else {
            #expect(throws: UsageError.self) { try SecretFiles.owners(files) }
        }
        #expect(
            try SecretFiles.owners([FileInjection(path: "/x", secret: SecretSelector(secretId: "s"))])[0].uid == nil)
    }

    @Test func passphrasesLoseTheirLineEnds() {
        #expect(
            PassphraseInput.trimmingLineEnds(SensitiveBytes(copying: Array("pw\r\n\n".utf8))).copyBytes()
                == Array("pw".utf8))
        #expect(
            PassphraseInput.trimmingLineEnds(SensitiveBytes(copying: Array("p w ".utf8))).copyBytes()
                == Array("p w ".utf8))
        #expect(throws: PassphraseInput.Failure.empty) { try PassphraseInput.check(SensitiveBytes(copying: [])) }
        #expect(throws: PassphraseInput.Failure.self) { try PassphraseInput.check(SensitiveBytes(copying: [0xFF])) }
    }
}
