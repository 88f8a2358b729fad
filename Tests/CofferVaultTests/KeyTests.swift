import CofferCore
import CofferCrypto
import CofferProtocol
import CofferStore
import CofferSystem
import Glibc
import Synchronization
import Testing

@testable import CofferVault

/// Key sources, sealing and master-key rotation, on real files.
@Suite struct KeyTests {
    func open(_ dir: TempDir, _ source: KeySource) throws -> Vault {
        var options = VaultOptions(databasePath: dir.path + "/vault.db")
        options.authorizer = AllowAllAuthorizer()
        options.keySource = source
        options.passphraseParameters = .testing()
        return try Vault.open(options)
    }

    func call(_ vault: Vault, _ op: Operation, _ doc: Document) throws -> Result<Document, ServiceError> {
        let reader = try vault.makeReader()
        return vault.perform(op, doc, caller: .system, reader: reader)
    }

    func value(_ vault: Vault, _ id: String) throws -> String? {
        guard case .success(let doc) = try call(vault, .getSecretValue, ["SecretId": .string(id)]) else { return nil }
        return doc.secretText("SecretString")
    }

    @Test func keyFileIsCreatedPrivateAndReused() throws {
        let dir = TempDir()
        let path = dir.path + "/master.key"
        let previous = umask(0)
        defer { umask(previous) }
        var vault = try open(dir, .file(path: path))
        #expect(try SafeFile.fileMode(path: path) == 0o600)
        _ = try call(vault, .createSecret, ["Name": "a", "SecretString": "alpha"]).get()
        vault.close()
        vault = try open(dir, .file(path: path))
        #expect(try value(vault, "a") == "alpha")
        vault.close()
        // Another key file is refused for this vault; a group-readable key file is refused.
        unlink(path)
        #expect(throws: (any Error).self) { try open(dir, .file(path: path)) }
    }

    @Test func widerKeyFileModeIsRefused() throws {
        let dir = TempDir()
        let path = dir.path + "/master.key"
        try KeyFile.write([try MasterKey.generate(id: 1)], to: path, replace: false)
        chmod(path, 0o640)
        #expect(throws: KeyFile.Failure.self) { try KeyFile.load(path: path) }
    }

    @Test func passphraseSourceStartsSealedAndUnseals() throws {
        let dir = TempDir()
        var vault = try open(dir, .passphrase)
        #expect(vault.isSealed)
        let sealed = try call(vault, .getSecretValue, ["SecretId": "x"])
        if case .failure(let error) = sealed { #expect(error.code == .sealed) } else { Issue.record("served sealed") }
        let pass = SensitiveBytes(copying: Array("correct horse battery staple".utf8))
        #expect(throws: ServiceError.self) { try vault.unseal(passphrase: pass) }  // no key yet: Initialize needed
        try vault.unseal(passphrase: pass, initialize: true)
        #expect(!vault.isSealed)
        _ = try call(vault, .createSecret, ["Name": "p", "SecretString": "under-passphrase"]).get()
        vault.seal()
        #expect(vault.isSealed)
        #expect(try value(vault, "p") == nil)
        #expect(throws: ServiceError.self) {
            try vault.unseal(passphrase: SensitiveBytes(copying: Array("wrong".utf8)))
        }
        #expect(vault.isSealed)
        try vault.unseal(passphrase: pass)
        #expect(try value(vault, "p") == "under-passphrase")
        vault.close()
        // A restart starts sealed again.
        vault = try open(dir, .passphrase)
        #expect(vault.isSealed)
        try vault.unseal(passphrase: pass)
        #expect(try value(vault, "p") == "under-passphrase")
        // Initialize cannot replace an existing key.
        vault.seal()
        #expect(throws: (any Error).self) {
            try vault.unseal(passphrase: SensitiveBytes(copying: Array("other".utf8)), initialize: true)
        }
        vault.close()
    }

    @Test func rotationUnderConcurrentReadsAndWrites() throws {
        let dir = TempDir()
        let path = dir.path + "/master.key"
        let vault = try open(dir, .file(path: path))
        for i in 0..<600 {
            _ = try call(vault, .createSecret, ["Name": .string("s\(i)"), "SecretString": .string("v\(i)")]).get()
        }
        #expect(vault.currentKeyID == 1)

        let failures = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let readers = try (0..<2).map { n in
            try OSThread(name: "reader\(n)") {
                guard let reader = try? vault.makeReader() else {
                    failures.add(1, ordering: .relaxed)
                    return
                }
                var i = n
                while !stop.load(ordering: .relaxed) {
                    let result = vault.perform(
                        .getSecretValue, ["SecretId": .string("s\(i % 600)")], caller: .system, reader: reader)
                    if case .failure(let error) = result {
                        Issue.record("GetSecretValue during rotation: \(error)")
                        failures.add(1, ordering: .relaxed)
                    }
                    if case .success(let doc) = result, doc.secretText("SecretString")?.hasPrefix("v") != true {
                        failures.add(1, ordering: .relaxed)
                    }
                    i += 7
                }
            }
        }
        let writer = try OSThread(name: "writer") {
            guard let reader = try? vault.makeReader() else { return }
            var i = 0
            while !stop.load(ordering: .relaxed) {
                let result = vault.perform(
                    .putSecretValue, ["SecretId": .string("s\(i % 600)"), "SecretString": .string("v-new-\(i)")],
                    caller: .system, reader: reader)
                if case .failure(let error) = result {
                    Issue.record("PutSecretValue during rotation: \(error)")
                    failures.add(1, ordering: .relaxed)
                }
                i += 1
            }
        }
        let newID = try vault.rotateMasterKey()
        #expect(newID == 2)
        #expect(try KeyFile.load(path: path).map(\.keyID) == [1, 2])  // both keys while rotating
        vault.waitForRotation()
        stop.store(true, ordering: .relaxed)
        for thread in readers + [writer] { thread.join() }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(vault.keyStatus.rotating == false)
        #expect(vault.keyStatus.error == nil)
        // Every data key is under key 2, the file holds only key 2, key 1 is retired.
        let perKey = try vault.store.writer.perform { try $0.versionsPerMasterKey() }
        #expect(Set(perKey.keys) == [2])
        #expect(try KeyFile.load(path: path).map(\.keyID) == [2])
        let keys = try vault.store.writer.perform { try $0.masterKeys() }
        #expect(keys.first { $0.keyID == 1 }?.retiredMs != nil)
        for i in stride(from: 0, to: 600, by: 37) { #expect(try value(vault, "s\(i)")?.hasPrefix("v") == true) }
        vault.close()
        // A restart with the rewritten key file reads everything.
        let again = try open(dir, .file(path: path))
        #expect(try value(again, "s5")?.hasPrefix("v") == true)
        again.close()
    }

    @Test func interruptedRotationResumesAtStart() throws {
        let dir = TempDir()
        let path = dir.path + "/master.key"
        var vault = try open(dir, .file(path: path))
        for i in 0..<300 {
            _ = try call(vault, .createSecret, ["Name": .string("r\(i)"), "SecretString": .string("v\(i)")]).get()
        }
        vault.close()
        // A crash right after the new key was persisted: the file holds both keys, no data key was rewrapped.
        let old = try KeyFile.load(path: path)
        let new = try MasterKey.generate(id: 2)
        try KeyFile.write(old + [new], to: path, replace: true)
        do {
            let store = try Store(path: dir.path + "/vault.db")
            let check = new.checkValue()
            try store.writer.perform { try $0.insertMasterKey(keyID: 2, checkValue: check, createdMs: 0) }
            store.close()
        }
        vault = try open(dir, .file(path: path))
        #expect(vault.currentKeyID == 2)
        #expect(try value(vault, "r7") == "v7")  // old-key values still read during the resume
        #expect(try vault.store.writer.perform { try $0.hasVersionsNotUnder(keyID: 2) })
        #expect(try !vault.store.writer.perform { try $0.hasVersionsNotUnder(keyID: 1) })  // all still under 1
        try vault.resumeRotationIfNeeded()
        vault.waitForRotation()
        #expect(try !vault.store.writer.perform { try $0.hasVersionsNotUnder(keyID: 2) })
        #expect(try vault.store.writer.perform { try $0.hasVersionsNotUnder(keyID: 3) })
        #expect(Set(try vault.store.writer.perform { try $0.versionsPerMasterKey() }.keys) == [2])
        #expect(try KeyFile.load(path: path).map(\.keyID) == [2])
        #expect(try value(vault, "r299") == "v299")
        vault.close()
    }

    @Test func passphraseRotation() throws {
        let dir = TempDir()
        let vault = try open(dir, .passphrase)
        let pass = SensitiveBytes(copying: Array("pp".utf8))
        try vault.unseal(passphrase: pass, initialize: true)
        _ = try call(vault, .createSecret, ["Name": "k", "SecretString": "kept"]).get()
        _ = try vault.rotateMasterKey()
        vault.waitForRotation()
        #expect(vault.currentKeyID == 2)
        let wrappings = try vault.store.writer.perform { try $0.keyWrappings() }
        #expect(wrappings.map(\.keyID) == [2])
        vault.seal()
        try vault.unseal(passphrase: pass)
        #expect(try value(vault, "k") == "kept")
        vault.close()
    }
}
