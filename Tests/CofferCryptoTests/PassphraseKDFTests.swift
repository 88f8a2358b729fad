import CofferCore
import Testing

@testable import CofferCrypto

private func derive(_ passphrase: String, _ parameters: PassphraseKDF.Parameters) throws -> SecureBytes {
    try Array(passphrase.utf8).withUnsafeBytes { try PassphraseKDF.derive(passphrase: $0, parameters: parameters) }
}

@Suite struct PassphraseKDFTests {
    let salt = [UInt8](repeating: 0x5A, count: 16)

    @Test func deterministicForTheSameSaltAndParameters() throws {
        let a = try derive("correct horse battery staple", .testing(salt: salt))
        let b = try derive("correct horse battery staple", .testing(salt: salt))
        #expect(a.count == 32)
        #expect(a.constantTimeEquals(b))
        #expect(a.description == "<redacted, 32 bytes>")
    }

    @Test func differsWithSaltPassphraseOrCost() throws {
        let base = try derive("passphrase", .testing(salt: salt))
        var otherSalt = salt
        otherSalt[15] ^= 1
        #expect(!base.constantTimeEquals(try derive("passphrase", .testing(salt: otherSalt))))
        #expect(!base.constantTimeEquals(try derive("passphrasE", .testing(salt: salt))))
        var costlier = PassphraseKDF.Parameters.testing(salt: salt)
        costlier.opsLimit += 1
        #expect(!base.constantTimeEquals(try derive("passphrase", costlier)))
        // Fresh salts are random.
        #expect(PassphraseKDF.newSalt() != PassphraseKDF.newSalt())
        #expect(PassphraseKDF.Parameters.testing().salt.count == 16)
    }

    @Test func emptyPassphraseIsAccepted() throws {
        let key = try [UInt8]().withUnsafeBytes {
            try PassphraseKDF.derive(passphrase: $0, parameters: .testing(salt: salt))
        }
        #expect(key.count == 32)
    }

    @Test func presets() {
        let interactive = PassphraseKDF.Parameters.interactive(salt: salt)
        #expect(interactive.opsLimit == 2 && interactive.memLimit == 64 << 20)
        let moderate = PassphraseKDF.Parameters.moderate(salt: salt)
        #expect(moderate.opsLimit == 3 && moderate.memLimit == 256 << 20)
        let testing = PassphraseKDF.Parameters.testing(salt: salt)
        #expect(testing.opsLimit == 1 && testing.memLimit == 8 << 10)
    }

    @Test func interactivePresetRuns() throws {
        let a = try derive("pass", .interactive(salt: salt))
        #expect(!a.constantTimeEquals(try derive("pass", .testing(salt: salt))))
    }

    @Test func invalidParameters() throws {
        let bad: [PassphraseKDF.Parameters] = [
            .init(salt: [UInt8](repeating: 0, count: 15), opsLimit: 1, memLimit: 8192),
            .init(salt: [UInt8](repeating: 0, count: 17), opsLimit: 1, memLimit: 8192),
            .init(salt: salt, opsLimit: 0, memLimit: 8192),
            .init(salt: salt, opsLimit: 1, memLimit: 8191),
            .init(salt: salt, opsLimit: 1, memLimit: -1),
        ]
        for parameters in bad {
            #expect(throws: CryptoError.invalidParameters) { _ = try derive("x", parameters) }
        }
    }

    @Test func wrapAndUnwrapAMasterKey() throws {
        let master = try MasterKey.generate(id: 9)
        let kek = try derive("unseal me", .testing(salt: salt))
        let wrapped = try PassphraseKDF.wrapKey(master, under: kek, vaultID: "vault-1")
        #expect(wrapped.count == PassphraseKDF.wrappedKeyByteCount)
        let unwrapped = try PassphraseKDF.unwrapKey(wrapped, under: kek, keyID: 9, vaultID: "vault-1")
        #expect(unwrapped.keyID == 9)
        #expect(unwrapped.bytes.constantTimeEquals(master.bytes))
        // Wrapping twice gives different blobs (fresh nonce).
        #expect(try PassphraseKDF.wrapKey(master, under: kek, vaultID: "vault-1") != wrapped)
    }

    @Test func unwrapRefusesEverythingElse() throws {
        let master = try MasterKey.generate(id: 9)
        let kek = try derive("unseal me", .testing(salt: salt))
        let wrongPassphrase = try derive("unseal mE", .testing(salt: salt))
        let wrapped = try PassphraseKDF.wrapKey(master, under: kek, vaultID: "vault-1")
        #expect(throws: CryptoError.integrity) {
            _ = try PassphraseKDF.unwrapKey(wrapped, under: wrongPassphrase, keyID: 9, vaultID: "vault-1")
        }
        #expect(throws: CryptoError.integrity) {
            _ = try PassphraseKDF.unwrapKey(wrapped, under: kek, keyID: 9, vaultID: "vault-2")
        }
        #expect(throws: CryptoError.integrity) {
            _ = try PassphraseKDF.unwrapKey(wrapped, under: kek, keyID: 10, vaultID: "vault-1")
        }
        #expect(throws: CryptoError.integrity) {
            _ = try PassphraseKDF.unwrapKey(wrapped, under: kek, keyID: 9, vaultID: "vault-1", purpose: .credential)
        }
        for index in wrapped.indices {
            var tampered = wrapped
            tampered[index] ^= 0x40
            #expect(throws: CryptoError.integrity) {
                _ = try PassphraseKDF.unwrapKey(tampered, under: kek, keyID: 9, vaultID: "vault-1")
            }
        }
        #expect(throws: CryptoError.integrity) {
            _ = try PassphraseKDF.unwrapKey(Array(wrapped.dropLast()), under: kek, keyID: 9, vaultID: "vault-1")
        }
        let shortKey = try SecureBytes(randomCount: 16)
        #expect(throws: CryptoError.invalidKeyLength(expected: 32, actual: 16)) {
            _ = try PassphraseKDF.wrapKey(master, under: shortKey, vaultID: "vault-1")
        }
        #expect(throws: CryptoError.invalidKeyLength(expected: 32, actual: 16)) {
            _ = try PassphraseKDF.unwrapKey(wrapped, under: shortKey, keyID: 9, vaultID: "vault-1")
        }
    }
}
