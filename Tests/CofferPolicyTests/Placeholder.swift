import Testing

@testable import CofferPolicy

@Test func placeholderCofferPolicy() { #expect(Bool(true)) }
