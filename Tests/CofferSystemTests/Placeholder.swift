import Testing

@testable import CofferSystem

@Test func placeholderCofferSystem() { #expect(Bool(true)) }
