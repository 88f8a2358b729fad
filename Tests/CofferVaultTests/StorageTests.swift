import CofferCore
import CofferCrypto
import CofferProtocol
import CofferStore
import Glibc
import Testing

@testable import CofferVault

/// Storage-level guarantees, checked by reading the real SQLite files.
@Suite struct StorageSecurityTests {
    /// Every file of a directory, as raw bytes.
    func filesUnder(_ path: String) -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        guard let dir = opendir(path) else { return out }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != "." && name != ".." else { continue }
            let full = path + "/" + name
            guard let file = fopen(full, "rb") else { continue }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = fread(&buffer, 1, buffer.count, file)
                if n <= 0 { break }
                bytes += buffer[0..<n]
            }
            fclose(file)
            out.append((full, bytes))
        }
        return out
    }

    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count, let first = needle.first else { return false }
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == first && Array(haystack[i..<i + needle.count]) == needle { return true }
            i += 1
        }
        return false
    }

    @Test func canaryValuesNeverReachTheDisk() throws {
        let h = try Harness()
        let canaries = (0..<20).map { "CANARY-\($0)-7f3a9c1e-\(String(repeating: "Q", count: $0 * 10))" }
        for (i, canary) in canaries.enumerated() {
            try h.create("canary/\(i)", canary)
            _ = try h.put("canary/\(i)", canary + "-v2")
        }
        try h.ok(.createSecret, ["Name": "canary/bin", "SecretBinary": .bytes(Array("CANARY-BINARY-55aa".utf8))])
        h.vault.store.writer.flush()
        // Check while open (WAL present) and after a clean close.
        for phase in ["open", "closed"] {
            if phase == "closed" { h.vault.close() }
            let files = filesUnder(h.dir.path)
            #expect(files.contains { $0.0.hasSuffix("vault.db") })
            for (path, bytes) in files {
                for canary in canaries + ["CANARY-BINARY-55aa"] {
                    #expect(!contains(bytes, Array(canary.utf8)), "\(canary) found in \(path) (\(phase))")
                }
            }
            // The metadata is there (names are metadata, as in AWS): the search itself works.
            #expect(files.contains { contains($0.1, Array("canary/3".utf8)) })
        }
    }

    @Test func filesAreOwnerOnly() throws {
        let h = try Harness()
        try h.create("m", "v")
        h.vault.store.writer.flush()
        let previous = umask(0)  // a permissive umask must not widen anything
        defer { umask(previous) }
        try h.create("m2", "v")
        for suffix in ["", "-wal", "-shm", ".lock"] {
            var info = stat()
            guard stat(h.databasePath + suffix, &info) == 0 else { continue }
            #expect(info.st_mode & 0o777 == 0o600, "\(suffix) has mode \(String(info.st_mode & 0o777, radix: 8))")
        }
    }

    @Test func swappedCiphertextsGiveIntegrityErrorsNeverTheOtherValue() throws {
        let h = try Harness()
        try h.create("alpha", "ALPHA-VALUE", token: token(1))
        _ = try h.put("alpha", "ALPHA-V2", token: token(2))
        try h.create("beta", "BETA-VALUE", token: token(3))
        h.vault.close()  // checkpoints: the main file holds everything
        let columnSets = [
            ["ciphertext", "value_nonce", "wrapped_key", "data_key_id"],  // the whole sealed value moved
            ["ciphertext", "value_nonce"], ["wrapped_key"], ["ciphertext"],
        ]
        let pairs = [(token(1), token(3)), (token(1), token(2)), (token(3), token(2))]  // across secrets and versions
        var cases = 0
        for columns in columnSets {
            for (a, b) in pairs {
                let path = h.dir.path + "/case\(cases).db"
                cases += 1
                _ = system("cp '\(h.databasePath)' '\(path)'")
                do {
                    let db = try SQLiteConnection(path: path, readOnly: false)
                    let sets = columns.map { "\($0) = (SELECT \($0) FROM versions WHERE version_id = '\(b)')" }
                    try db.execute("UPDATE versions SET \(sets.joined(separator: ", ")) WHERE version_id = '\(a)'")
                }
                let copy = try Harness(existing: (path, h.key, h.clock, h.dir))
                let name = a == token(3) ? "beta" : "alpha"
                let result = copy.call(.getSecretValue, ["SecretId": .string(name), "VersionId": .string(a)])
                switch result {
                case .success(let doc):
                    Issue.record("swap of \(columns) \(a)<-\(b) opened: \(doc.secretText("SecretString") ?? "")")
                case .failure(let error):
                    #expect(error.code == .decryptionFailure)
                    #expect(!error.message.contains("VALUE"))
                }
                // The untouched source version still opens.
                let sourceName = b == token(3) ? "beta" : "alpha"
                let source = copy.call(.getSecretValue, ["SecretId": .string(sourceName), "VersionId": .string(b)])
                #expect((try? source.get()) != nil)
                copy.vault.close()
            }
        }
        #expect(cases == 12)
        // A zeroed ciphertext is detected too.
        let path = h.dir.path + "/zeroed.db"
        _ = system("cp '\(h.databasePath)' '\(path)'")
        do {
            let db = try SQLiteConnection(path: path, readOnly: false)
            try db.execute(
                "UPDATE versions SET ciphertext = zeroblob(length(ciphertext)) WHERE version_id = '\(token(3))'")
        }
        let copy = try Harness(existing: (path, h.key, h.clock, h.dir))
        if case .failure(let error) = copy.call(.getSecretValue, ["SecretId": "beta"]) {
            #expect(error.code == .decryptionFailure)
        } else {
            Issue.record("zeroed ciphertext opened")
        }
        copy.vault.close()
    }

    @Test func everyAcknowledgedWriteSurvivesARestart() throws {
        let h = try Harness()
        var expected: [String: String] = [:]
        for i in 0..<60 {
            let name = "persist/\(i % 12)"
            if expected[name] == nil { try h.create(name, "v\(i)") } else { _ = try h.put(name, "v\(i)") }
            expected[name] = "v\(i)"
        }
        try h.ok(.tagResource, ["SecretId": "persist/0", "Tags": .list([.map(["Key": "k", "Value": "v"])])])
        try h.reopen()
        for (name, value) in expected { #expect(try h.value(name) == value) }
        #expect(try h.ok(.describeSecret, ["SecretId": "persist/0"])["Tags"]?.listValue?.count == 1)
    }

    @Test func wrongMasterKeyIsRefusedAtOpen() throws {
        let h = try Harness()
        try h.create("k", "v")
        h.vault.close()
        var options = VaultOptions(databasePath: h.databasePath)
        options.authorizer = AllowAllAuthorizer()
        #expect(throws: VaultOpenError.self) { try Vault.open(options, masterKey: try MasterKey.generate(id: 1)) }
        #expect(throws: VaultOpenError.self) { try Vault.open(options, masterKey: try MasterKey.generate(id: 7)) }
    }

    @Test func symlinkedDatabaseIsRefused() throws {
        let dir = TempDir()
        let target = dir.path + "/real.db"
        let linkPath = dir.path + "/link.db"
        close(creat(target, 0o600))
        symlink(target, linkPath)
        #expect(throws: StoreError.self) { try Store(path: linkPath) }
        // A hard-linked database is refused too.
        let hard = dir.path + "/hard.db"
        link(target, hard)
        #expect(throws: StoreError.self) { try Store(path: target) }
    }

    @Test func secondOpenOfTheSameStoreIsRefused() throws {
        let h = try Harness()
        #expect(throws: StoreError.self) { try Store(path: h.databasePath) }
    }

    @Test func exactlyOneWriterConnection() throws {
        let h = try Harness()
        // Readers are query_only: a write through a reader connection fails.
        let reader = try h.vault.store.makeReader()
        #expect(throws: SQLiteError.self) { try reader.connection.execute("DELETE FROM secrets") }
        #expect(try reader.connection.scalarInt("PRAGMA query_only") == 1)
        let sync = try h.vault.store.writer.perform { try $0.connection.scalarInt("PRAGMA synchronous") }
        #expect(sync == 2)
        let mode = try h.vault.store.writer.perform { try $0.connection.scalarText("PRAGMA journal_mode") }
        #expect(mode == "wal")
    }
}
