import CofferCore
import Testing

@testable import CofferCrypto

private let vaultA = "6f1c2a8e-2b7d-4c11-9a55-0d3e4f5a6b7c"
private let vaultB = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
private let binding = SealBinding(vaultID: vaultA, secretID: 42, versionID: "v-0001-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")

private func seal(_ value: [UInt8], _ binding: SealBinding, _ key: MasterKey) throws -> SealedValue {
    try value.withUnsafeBytes { try Envelope.seal(plaintext: $0, binding: binding, masterKey: key) }
}

/// Opens and copies the plaintext out (tests only: production code reads it inside the closure).
private func open(
    _ sealed: SealedValue, _ binding: SealBinding, _ key: MasterKey, _ scratch: OpenScratch
)
    throws -> [UInt8]
{
    try Envelope.open(sealed, binding: binding, masterKey: key, scratch: scratch) { Array($0) }
}

/// Expects `.integrity` and that the body never ran (no plaintext, ours or anybody else's, was produced).
private func expectIntegrityFailure(
    _ sealed: SealedValue, _ binding: SealBinding, _ key: MasterKey, _ scratch: OpenScratch,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var bodyRan = false
    #expect(throws: CryptoError.integrity, sourceLocation: sourceLocation) {
        try Envelope.open(sealed, binding: binding, masterKey: key, scratch: scratch) { _ in bodyRan = true }
    }
    #expect(!bodyRan, sourceLocation: sourceLocation)
}

@Suite struct EnvelopeTests {
    let key: MasterKey
    let scratch: OpenScratch

    init() throws {
        key = try MasterKey.generate(id: 1)
        scratch = try OpenScratch()
    }

    @Test(arguments: [0, 1, 64, 1000, Limits.maxSecretValueBytes])
    func roundTrip(size: Int) throws {
        let value = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let sealed = try seal(value, binding, key)
        #expect(sealed.formatVersion == Envelope.formatVersion)
        #expect(sealed.masterKeyID == 1)
        #expect(sealed.dataKeyID.count == 16)
        #expect(sealed.wrappedKey.count == 72)
        #expect(sealed.valueNonce.count == 24)
        #expect(sealed.ciphertext.count == size + 16)
        #expect(sealed.plaintextCount == size)
        #expect(try open(sealed, binding, key, scratch) == value)
        // Without a long-lived scratch, and through a borrowed view.
        #expect(try Envelope.open(sealed, binding: binding, masterKey: key) { Array($0) } == value)
        let viaView = try sealed.withView { view in
            try Envelope.open(view, binding: binding, masterKey: key, scratch: scratch) { Array($0) }
        }
        #expect(viaView == value)
        // Sealing with a scratch gives the same result shape and opens the same way.
        let sealedWithScratch = try value.withUnsafeBytes {
            try Envelope.seal(plaintext: $0, binding: binding, masterKey: key, scratch: scratch)
        }
        #expect(try open(sealedWithScratch, binding, key, scratch) == value)
    }

    @Test func ciphertextDoesNotContainThePlaintext() throws {
        let value = Array("canary-canary-canary-canary".utf8)
        let sealed = try seal(value, binding, key)
        let stored = sealed.dataKeyID + sealed.wrappedKey + sealed.valueNonce + sealed.ciphertext
        #expect(!stored.indices.contains { stored[$0...].starts(with: value.prefix(8)) })
    }

    @Test func tooLargeToSeal() throws {
        let value = [UInt8](repeating: 1, count: Limits.maxSecretValueBytes + 1)
        #expect(throws: CryptoError.valueTooLarge) { _ = try seal(value, binding, key) }
    }

    @Test func tooLargeForTheScratch() throws {
        let small = try OpenScratch(capacity: 8)
        let sealed = try seal([UInt8](repeating: 2, count: 9), binding, key)
        #expect(throws: CryptoError.valueTooLarge) { _ = try open(sealed, binding, key, small) }
        let fits = try seal([UInt8](repeating: 2, count: 8), binding, key)
        #expect(try open(fits, binding, key, small) == [UInt8](repeating: 2, count: 8))
    }

    @Test func everyFlippedBitFailsIntegrity() throws {
        let sealed = try seal(
            Array("sixty-four bytes of secret value, more or less, to be tampered!!".utf8), binding, key)
        let fields: [WritableKeyPath<SealedValue, [UInt8]>] = [\.ciphertext, \.wrappedKey, \.valueNonce, \.dataKeyID]
        var attempts = 0
        for field in fields {
            for index in sealed[keyPath: field].indices {
                for bit in 0..<8 {
                    var tampered = sealed
                    tampered[keyPath: field][index] ^= UInt8(1 << bit)
                    expectIntegrityFailure(tampered, binding, key, scratch)
                    attempts += 1
                }
            }
        }
        #expect(attempts == (80 + 72 + 24 + 16) * 8)
    }

    @Test func truncatedOrExtendedFieldsFailIntegrity() throws {
        let sealed = try seal([1, 2, 3], binding, key)
        let fields: [WritableKeyPath<SealedValue, [UInt8]>] = [\.ciphertext, \.wrappedKey, \.valueNonce, \.dataKeyID]
        for field in fields {
            var shorter = sealed
            shorter[keyPath: field].removeLast()
            expectIntegrityFailure(shorter, binding, key, scratch)
            var longer = sealed
            longer[keyPath: field].append(0)
            expectIntegrityFailure(longer, binding, key, scratch)
            var empty = sealed
            empty[keyPath: field] = []
            expectIntegrityFailure(empty, binding, key, scratch)
        }
    }

    @Test func unknownFormatVersion() throws {
        var sealed = try seal([1, 2, 3], binding, key)
        sealed.formatVersion = 2
        #expect(throws: CryptoError.unsupportedFormat) { _ = try open(sealed, binding, key, scratch) }
        sealed.formatVersion = 0
        #expect(throws: CryptoError.unsupportedFormat) { _ = try open(sealed, binding, key, scratch) }
    }

    @Test func wrongMasterKeyIDIsDetectedBeforeDecrypting() throws {
        let sealed = try seal([1, 2, 3], binding, key)
        let other = try MasterKey.generate(id: 2)
        #expect(throws: CryptoError.wrongKey(expectedKeyID: 1)) { _ = try open(sealed, binding, other, scratch) }
        // The same key bytes under another id are refused too: the id is checked and bound.
        let relabeled = try MasterKey(id: 2, bytes: key.bytes)
        #expect(throws: CryptoError.wrongKey(expectedKeyID: 1)) { _ = try open(sealed, binding, relabeled, scratch) }
        var lying = sealed
        lying.masterKeyID = 2
        expectIntegrityFailure(lying, binding, relabeled, scratch)
    }

    @Test func wrongMasterKeyWithTheSameIDFailsIntegrity() throws {
        let sealed = try seal([1, 2, 3], binding, key)
        let impostor = try MasterKey.generate(id: 1)
        expectIntegrityFailure(sealed, binding, impostor, scratch)
    }

    static let otherBindings: [(String, SealBinding)] = [
        ("vault", SealBinding(vaultID: vaultB, secretID: binding.secretID, versionID: binding.versionID)),
        ("secret", SealBinding(vaultID: binding.vaultID, secretID: 43, versionID: binding.versionID)),
        ("version", SealBinding(vaultID: binding.vaultID, secretID: binding.secretID, versionID: "v-0002-other")),
    ]

    @Test(arguments: otherBindings)
    func movedOrSwappedFieldsFailIntegrity(differs: String, other: SealBinding) throws {
        let mine = try seal(Array("mine".utf8), binding, key)
        let theirs = try seal(Array("theirs".utf8), other, key)
        #expect(try open(mine, binding, key, scratch) == Array("mine".utf8))
        #expect(try open(theirs, other, key, scratch) == Array("theirs".utf8))

        // A whole record moved to the other place.
        expectIntegrityFailure(mine, other, key, scratch)
        expectIntegrityFailure(theirs, binding, key, scratch)

        // Their wrapped key (with or without its data key id) in my record, and the reverse.
        for (record, place, donor) in [(mine, binding, theirs), (theirs, other, mine)] {
            var swappedKey = record
            swappedKey.wrappedKey = donor.wrappedKey
            expectIntegrityFailure(swappedKey, place, key, scratch)
            swappedKey.dataKeyID = donor.dataKeyID
            expectIntegrityFailure(swappedKey, place, key, scratch)

            // Their value (ciphertext and nonce) under my wrapped key.
            var swappedValue = record
            swappedValue.ciphertext = donor.ciphertext
            swappedValue.valueNonce = donor.valueNonce
            expectIntegrityFailure(swappedValue, place, key, scratch)

            // Only the data key id swapped.
            var swappedID = record
            swappedID.dataKeyID = donor.dataKeyID
            expectIntegrityFailure(swappedID, place, key, scratch)

            // Everything but the key material swapped: their record at my place.
            expectIntegrityFailure(donor, place, key, scratch)
        }
    }

    @Test func fieldBoundariesAreUnambiguous() throws {
        // Same concatenated text, different split between vault id and version id.
        let left = SealBinding(vaultID: "ab", secretID: 1, versionID: "c")
        let right = SealBinding(vaultID: "a", secretID: 1, versionID: "bc")
        let sealed = try seal([7], left, key)
        expectIntegrityFailure(sealed, right, key, scratch)
        #expect(
            Envelope.associatedData(for: left, dataKeyID: sealed.dataKeyID, masterKeyID: nil)
                != Envelope.associatedData(for: right, dataKeyID: sealed.dataKeyID, masterKeyID: nil))
    }

    @Test func associatedDataEncoding() {
        let place = SealBinding(vaultID: "v", secretID: 7, versionID: "x")
        let dataKeyID = [UInt8](repeating: 0x11, count: 16)
        let value = Envelope.associatedData(for: place, dataKeyID: dataKeyID, masterKeyID: nil)
        let expectedValue = Hex.decode(
            """
            0000000c 636f666665722f76616c7565  00000001 01  00000001 76  00000008 0000000000000007
            00000001 78  00000010 11111111111111111111111111111111
            """)
        #expect(value == expectedValue)
        let wrapped = Envelope.associatedData(for: place, dataKeyID: dataKeyID, masterKeyID: 0x0102_0304)
        let expectedWrapped = Hex.decode(
            """
            0000000a 636f666665722f64656b  00000001 01  00000001 76  00000008 0000000000000007
            00000001 78  00000010 11111111111111111111111111111111  00000004 01020304
            """)
        #expect(wrapped == expectedWrapped)
    }

    @Test func rewrapMovesToTheNewKeyOnly() throws {
        let value = Array("rotate me".utf8)
        let sealed = try seal(value, binding, key)
        let newKey = try MasterKey.generate(id: 2)
        let rewrapped = try Envelope.rewrap(sealed, binding: binding, from: key, to: newKey)
        #expect(rewrapped.masterKeyID == 2)
        #expect(rewrapped.ciphertext == sealed.ciphertext)
        #expect(rewrapped.valueNonce == sealed.valueNonce)
        #expect(rewrapped.dataKeyID == sealed.dataKeyID)
        #expect(rewrapped.wrappedKey != sealed.wrappedKey)
        #expect(rewrapped.wrappedKey.prefix(24) != sealed.wrappedKey.prefix(24))  // fresh nonce
        #expect(try open(rewrapped, binding, newKey, scratch) == value)
        #expect(throws: CryptoError.wrongKey(expectedKeyID: 2)) { _ = try open(rewrapped, binding, key, scratch) }
        // The old key's bytes labelled with the new id do not open it either.
        let oldBytesNewID = try MasterKey(id: 2, bytes: key.bytes)
        expectIntegrityFailure(rewrapped, binding, oldBytesNewID, scratch)
        // The original still opens with the old key (rotation keeps old rows readable until rewrapped).
        #expect(try open(sealed, binding, key, scratch) == value)
        // With a scratch, too.
        let again = try Envelope.rewrap(rewrapped, binding: binding, from: newKey, to: key, scratch: scratch)
        #expect(try open(again, binding, key, scratch) == value)
    }

    @Test func rewrapChecksKeyAndPlace() throws {
        let sealed = try seal([1], binding, key)
        let newKey = try MasterKey.generate(id: 2)
        let impostor = try MasterKey.generate(id: 1)
        #expect(throws: CryptoError.wrongKey(expectedKeyID: 1)) {
            _ = try Envelope.rewrap(sealed, binding: binding, from: newKey, to: newKey)
        }
        #expect(throws: CryptoError.integrity) {
            _ = try Envelope.rewrap(sealed, binding: binding, from: impostor, to: newKey)
        }
        let elsewhere = SealBinding(vaultID: vaultB, secretID: 42, versionID: binding.versionID)
        #expect(throws: CryptoError.integrity) {
            _ = try Envelope.rewrap(sealed, binding: elsewhere, from: key, to: newKey)
        }
        var tampered = sealed
        tampered.wrappedKey[30] ^= 1
        #expect(throws: CryptoError.integrity) {
            _ = try Envelope.rewrap(tampered, binding: binding, from: key, to: newKey)
        }
    }

    @Test func scratchIsWipedAfterEachUse() throws {
        let value = [UInt8](repeating: 0xA5, count: 100)
        let sealed = try seal(value, binding, key)
        func scratchBytes() -> [UInt8] {
            Array(UnsafeRawBufferPointer(start: scratch.dataKey, count: 32 + scratch.capacity))
        }
        var seenInside: [UInt8] = []
        try Envelope.open(sealed, binding: binding, masterKey: key, scratch: scratch) { plaintext in
            seenInside = Array(plaintext)
            #expect(scratchBytes().contains { $0 != 0 })  // the data key and value really are there
        }
        #expect(seenInside == value)
        #expect(scratchBytes().allSatisfy { $0 == 0 })

        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try Envelope.open(sealed, binding: binding, masterKey: key, scratch: scratch) { _ in throw Stop() }
        }
        #expect(scratchBytes().allSatisfy { $0 == 0 })

        var tampered = sealed
        tampered.ciphertext[0] ^= 1
        expectIntegrityFailure(tampered, binding, key, scratch)
        #expect(scratchBytes().allSatisfy { $0 == 0 })

        _ = try value.withUnsafeBytes {
            try Envelope.seal(plaintext: $0, binding: binding, masterKey: key, scratch: scratch)
        }
        #expect(scratchBytes().allSatisfy { $0 == 0 })
    }

    @Test func reentrantScratchUseStopsTheProcess() async {
        await #expect(processExitsWith: .failure) {
            let key = try MasterKey.generate(id: 1)
            let scratch = try OpenScratch(capacity: 16)
            let place = SealBinding(vaultID: "v", secretID: 1, versionID: "x")
            let sealed = try [UInt8]([1]).withUnsafeBytes {
                try Envelope.seal(plaintext: $0, binding: place, masterKey: key)
            }
            try Envelope.open(sealed, binding: place, masterKey: key, scratch: scratch) { _ in
                try Envelope.open(sealed, binding: place, masterKey: key, scratch: scratch) { _ in }
            }
        }
    }

    @Test func noDuplicateNoncesOrDataKeyIDsIn100kSeals() throws {
        let count = 100_000
        var nonces = Set<[UInt8]>(minimumCapacity: 2 * count)
        var dataKeyIDs = Set<[UInt8]>(minimumCapacity: count)
        var wrappedKeys = Set<[UInt8]>(minimumCapacity: count)
        let value: [UInt8] = [1, 2, 3, 4]
        try value.withUnsafeBytes { plaintext in
            for _ in 0..<count {
                let sealed = try Envelope.seal(plaintext: plaintext, binding: binding, masterKey: key, scratch: scratch)
                nonces.insert(sealed.valueNonce)
                nonces.insert(Array(sealed.wrappedKey.prefix(Envelope.nonceBytes)))
                dataKeyIDs.insert(sealed.dataKeyID)
                wrappedKeys.insert(sealed.wrappedKey)
            }
        }
        #expect(nonces.count == 2 * count)
        #expect(dataKeyIDs.count == count)
        #expect(wrappedKeys.count == count)
    }
}

@Suite struct EnvelopeConcurrencyTests {
    @Test func sharedKeyManyWorkersEachWithItsOwnScratch() async throws {
        let key = try MasterKey.generate(id: 5)  // Sendable: shared by every worker
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    try Sodium.initialize()
                    let scratch = try OpenScratch(capacity: 256)  // one per worker, never shared
                    var opened = 0
                    for index in 0..<200 {
                        let place = SealBinding(vaultID: "vault", secretID: Int64(worker), versionID: "v\(index)")
                        let value = [UInt8](repeating: UInt8(worker), count: index % 200)
                        let sealed = try value.withUnsafeBytes {
                            try Envelope.seal(plaintext: $0, binding: place, masterKey: key, scratch: scratch)
                        }
                        let same = try Envelope.open(sealed, binding: place, masterKey: key, scratch: scratch) {
                            Array($0) == value
                        }
                        if same { opened += 1 }
                    }
                    return opened
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(results == 8 * 200)
    }
}
