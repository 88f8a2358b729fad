import Testing

import CofferClient

@Test func placeholderCofferIntegration() { #expect(Bool(true)) }
