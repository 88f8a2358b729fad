import Testing

@testable import CofferVault

@Test func placeholderCofferVault() { #expect(Bool(true)) }
