import Testing

@testable import CofferCrypto

@Test func secureBytesDescriptionIsRedacted() throws {
    let bytes = try SecureBytes(copying: [0x41, 0x42, 0x43])
    #expect(bytes.description == "<redacted, 3 bytes>")
}
