import Testing

@testable import CofferCrypto

@Test func placeholderCofferCrypto() { #expect(Bool(true)) }
