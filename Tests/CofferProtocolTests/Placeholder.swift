import Testing

@testable import CofferProtocol

@Test func placeholderCofferProtocol() { #expect(Bool(true)) }
