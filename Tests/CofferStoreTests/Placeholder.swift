import Testing

@testable import CofferStore

@Test func placeholderCofferStore() { #expect(Bool(true)) }
