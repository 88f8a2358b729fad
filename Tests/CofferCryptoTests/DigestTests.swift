import CofferCore
import Testing

@testable import CofferCrypto

@Suite struct DigestTests {
    // FIPS 180-2 / NIST CSRC examples.
    static let sha256Vectors: [(String, String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ]

    @Test(arguments: sha256Vectors)
    func sha256(message: String, expected: String) {
        #expect(Hex.encode(Digest.sha256(Array(message.utf8))) == expected)
    }

    @Test func sha256OfAMillionAs() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        #expect(Hex.encode(Digest.sha256(message)) == expected)
        // Incrementally, in uneven pieces.
        var hasher = SHA256()
        var offset = 0
        var step = 1
        while offset < message.count {
            let end = min(offset + step, message.count)
            hasher.update(Array(message[offset..<end]))
            offset = end
            step = step * 7 % 1009 + 1
        }
        #expect(Hex.encode(hasher.finalize()) == expected)
    }

    @Test func incrementalMatchesOneShot() {
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
        for split in [0, 1, 63, 64, 65, 299, 300] {
            var hasher = SHA256()
            hasher.update(Array(message[..<split]))
            message[split...].withContiguousStorageIfAvailable { hasher.update(UnsafeRawBufferPointer($0)) }
            #expect(hasher.finalize() == Digest.sha256(message))
        }
    }

    // RFC 4231 test cases 1–7 (case 5 is truncated to 128 bits in the RFC).
    static let hmacVectors: [(key: [UInt8], data: [UInt8], expected: String)] = [
        (
            [UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        (
            Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        (
            [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        (
            Array(1...25), [UInt8](repeating: 0xcd, count: 50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        ),
        (
            [UInt8](repeating: 0x0c, count: 20), Array("Test With Truncation".utf8),
            "a3b6167473100ee06e0c796c2955552b"
        ),
        (
            [UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        (
            [UInt8](repeating: 0xaa, count: 131),
            Array(
                ("This is a test using a larger than block-size key and a larger than block-size data. "
                    + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
    ]

    @Test func hmacSHA256RFC4231() throws {
        for vector in Self.hmacVectors {
            let key = try SecureBytes(copying: vector.key)
            let tag = HMAC.sha256(key: key, message: vector.data)
            #expect(tag.count == 32)
            #expect(Hex.encode(tag).hasPrefix(vector.expected))
            if vector.expected.count == 64 {
                #expect(HMAC.isValidSHA256(tag, key: key, message: vector.data))
            }
        }
    }

    @Test func hmacVerification() throws {
        let key = try SecureBytes(randomCount: 32)
        let message = Array("audit record 17".utf8)
        let tag = HMAC.sha256(key: key, message: message)
        #expect(HMAC.isValidSHA256(tag, key: key, message: message))
        var bad = tag
        bad[31] ^= 1
        #expect(!HMAC.isValidSHA256(bad, key: key, message: message))
        #expect(!HMAC.isValidSHA256(Array(tag.prefix(16)), key: key, message: message))
        #expect(!HMAC.isValidSHA256(tag, key: key, message: Array("audit record 18".utf8)))
        let otherKey = try SecureBytes(randomCount: 32)
        #expect(!HMAC.isValidSHA256(tag, key: otherKey, message: message))
        // Empty key and empty message are legal HMAC inputs.
        let emptyKey = try SecureBytes(copying: [UInt8]())
        #expect(
            Hex.encode(HMAC.sha256(key: emptyKey, message: []))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }
}
