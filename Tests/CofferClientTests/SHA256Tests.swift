import CofferCore
import Testing

@testable import CofferClient

/// The client's SHA-256 (backup verification) against FIPS 180-4's examples and NIST's CAVS short/long messages.
@Suite struct SHA256Tests {
    static let vectors: [(String, [UInt8], String)] = [
        ("empty", [], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "448 bits, two blocks after padding",
            Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "896 bits",
            Array(
                "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
                    .utf8),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
        // NIST CAVS SHA256ShortMsg: Len = 8, Msg = d3.
        ("one byte", [0xD3], "28969cdfa74a12c82f3bad960b0b000aca2ac329deea5c2328ebc6f2ba9802c1"),
        // 55 and 56 bytes: the padding fits in the block, or needs one more.
        (
            "55 bytes", [UInt8](repeating: 0x61, count: 55),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"
        ),
        (
            "56 bytes", [UInt8](repeating: 0x61, count: 56),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"
        ),
        (
            "64 bytes", [UInt8](repeating: 0x61, count: 64),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"
        ),
    ]

    @Test(arguments: vectors)
    func knownAnswers(name: String, message: [UInt8], digest: String) {
        #expect(Hex.encode(SoftwareSHA256.hash(message)) == digest, "\(name)")
    }

    @Test func oneMillionAs() {
        var hasher = SoftwareSHA256()
        let chunk = [UInt8](repeating: 0x61, count: 1_000)
        for _ in 0..<1_000 { hasher.update(chunk) }
        #expect(
            Hex.encode(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Updates of every size up to two blocks, at every offset, give the one-shot digest (the pending-bytes logic).
    @Test func incrementalUpdatesMatchOneShot() {
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let expected = SoftwareSHA256.hash(message)
        for step in 1...130 {
            var hasher = SoftwareSHA256()
            var offset = 0
            while offset < message.count {
                let end = min(offset + step, message.count)
                hasher.update(Array(message[offset..<end]))
                offset = end
            }
            #expect(hasher.finalize() == expected, "step \(step)")
        }
        #expect(SoftwareSHA256.hash(message) != SoftwareSHA256.hash(Array(message.dropLast())))
    }
}
