import CofferCore
import Glibc
import Testing

@testable import CofferCrypto

@Suite struct SecureBytesTests {
    @Test func initializeSucceeds() throws {
        try Sodium.initialize()
        try Sodium.initialize()  // idempotent
        #expect(!Sodium.version.isEmpty)
    }

    @Test func libsodiumSizesMatchTheLiterals() {
        #expect(AEAD.sizesMatchLibsodium)
    }

    @Test func descriptionsAreRedacted() throws {
        let secret = Array("hunter2-secret".utf8)
        let bytes = try SecureBytes(copying: secret)
        #expect(bytes.description == "<redacted, 14 bytes>")
        #expect(bytes.debugDescription == "<redacted, 14 bytes>")
        #expect("\(bytes)" == "<redacted, 14 bytes>")
        #expect(String(reflecting: bytes) == "<redacted, 14 bytes>")
        var dumped = ""
        dump(bytes, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect(!dumped.contains("104"))  // the first byte, 'h', as a decimal
        #expect(Mirror(reflecting: bytes).children.isEmpty)
    }

    @Test func holdsTheBytes() throws {
        let bytes = try SecureBytes(copying: [1, 2, 3, 4, 5])
        #expect(bytes.count == 5)
        #expect(bytes.withUnsafeBytes { Array($0) } == [1, 2, 3, 4, 5])
        let filled = try SecureBytes(count: 4) { buffer in
            for index in buffer.indices { buffer[index] = UInt8(index * 3) }
        }
        #expect(filled.withUnsafeBytes { Array($0) } == [0, 3, 6, 9])
        let empty = try SecureBytes(copying: [UInt8]())
        #expect(empty.count == 0)
        #expect(empty.withUnsafeBytes { $0.count } == 0)
    }

    @Test func randomBytesDiffer() throws {
        let a = try SecureBytes(randomCount: 32)
        let b = try SecureBytes(randomCount: 32)
        #expect(a.count == 32)
        #expect(!a.constantTimeEquals(b))
        #expect(a.withUnsafeBytes { raw in raw.contains { $0 != 0 } })
    }

    @Test func constantTimeCompare() throws {
        let a = try SecureBytes(copying: [9, 8, 7, 6])
        let same = try SecureBytes(copying: [9, 8, 7, 6])
        let lastDiffers = try SecureBytes(copying: [9, 8, 7, 5])
        let firstDiffers = try SecureBytes(copying: [0, 8, 7, 6])
        let shorter = try SecureBytes(copying: [9, 8, 7])
        #expect(a.constantTimeEquals(same))
        #expect(a.constantTimeEquals(a))
        #expect(!a.constantTimeEquals(lastDiffers))
        #expect(!a.constantTimeEquals(firstDiffers))
        #expect(!a.constantTimeEquals(shorter))
        #expect([UInt8]([9, 8, 7, 6]).withUnsafeBytes { a.constantTimeEquals($0) })
        #expect(![UInt8]([9, 8, 7, 7]).withUnsafeBytes { a.constantTimeEquals($0) })
        let emptyA = try SecureBytes(copying: [UInt8]())
        let emptyB = try SecureBytes(copying: [UInt8]())
        #expect(emptyA.constantTimeEquals(emptyB))
    }

    struct Boom: Error {}

    @Test func initializerErrorsPropagate() {
        #expect(throws: Boom.self) {
            _ = try SecureBytes(count: 8) { _ in throw Boom() }
        }
    }

    @Test func impossibleAllocationIsATypedError() {
        #expect(throws: CryptoError.allocationFailed) { _ = try SecureBytes(randomCount: Int.max / 2) }
        #expect(throws: CryptoError.allocationFailed) { _ = try SecureBytes(randomCount: -1) }
        #expect(throws: CryptoError.allocationFailed) { _ = try OpenScratch(capacity: -1) }
    }

    @Test func memoryIsReadOnlyAfterInit() async {
        // Any failure other than the faulting write exits 0, which fails the expectation. (A plain build dies of
        // SIGSEGV; under ASan its handler reports the fault and exits 1, so the expectation is "failure".)
        await #expect(processExitsWith: .failure) {
            guard let bytes = try? SecureBytes(copying: [1, 2, 3]) else { exit(0) }
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(mutating: raw.baseAddress)?.storeBytes(of: 0, as: UInt8.self)
            }
            exit(0)
        }
    }

    @Test func masterKeyValidatesLength() throws {
        #expect(throws: CryptoError.invalidKeyLength(expected: 32, actual: 31)) {
            _ = try MasterKey(id: 1, bytes: SecureBytes(randomCount: 31))
        }
        let key = try MasterKey(id: 7, bytes: SecureBytes(randomCount: 32))
        #expect(key.keyID == 7)
        #expect(key.bytes.count == 32)
        #expect(key.description == "MasterKey(id: 7, <redacted>)")
    }

    @Test func generatedMasterKeysDiffer() throws {
        let a = try MasterKey.generate(id: 1)
        let b = try MasterKey.generate(id: 1)
        #expect(a.bytes.count == MasterKey.byteCount)
        #expect(!a.bytes.constantTimeEquals(b.bytes))
    }

    @Test func keyCheckValue() throws {
        let a = try MasterKey.generate(id: 1)
        let sameBytesOtherID = try MasterKey(id: 2, bytes: a.bytes)
        let sameAgain = try MasterKey(id: 1, bytes: a.bytes)
        let other = try MasterKey.generate(id: 1)
        #expect(a.checkValue().count == 32)
        #expect(a.checkValue() == sameAgain.checkValue())
        #expect(a.checkValue() != sameBytesOtherID.checkValue())
        #expect(a.checkValue() != other.checkValue())
    }

    @Test func errorDescriptionsCarryNoBytes() {
        let all: [CryptoError] = [
            .integrity, .wrongKey(expectedKeyID: 3), .unsupportedFormat, .allocationFailed, .valueTooLarge,
            .initializationFailed, .invalidKeyLength(expected: 32, actual: 1), .invalidParameters,
        ]
        for error in all {
            #expect(error.description.hasPrefix("CryptoError."))
        }
        #expect(CryptoError.wrongKey(expectedKeyID: 3).description.contains("3"))
    }
}
