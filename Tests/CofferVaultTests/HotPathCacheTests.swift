import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

/// GetSecretValue's per-reader cache must never show a value older than the last acknowledged write.
@Suite struct HotPathCacheTests {
    @Test func aReadAfterAnAcknowledgedWriteSeesTheWrite() throws {
        let h = try Harness()
        try h.create("app/db", "one")
        #expect(try h.value("app/db") == "one")
        #expect(try h.value("app/db") == "one")
        #expect(h.reader.hot.count == 1)  // cached
        _ = try h.put("app/db", "two")
        #expect(try h.value("app/db") == "two")
        // Labels moved by another operation.
        let versions = try h.stages("app/db")
        let old = versions.first { $0.value == ["AWSPREVIOUS"] }?.key ?? ""
        let current = versions.first { $0.value == ["AWSCURRENT"] }?.key ?? ""
        try h.ok(
            .updateSecretVersionStage,
            [
                "SecretId": "app/db", "VersionStage": "AWSCURRENT", "MoveToVersionId": .string(old),
                "RemoveFromVersionId": .string(current),
            ])
        #expect(try h.value("app/db") == "one")
        // Deleted: gone at once; restored: back.
        try h.ok(.deleteSecret, ["SecretId": "app/db"])
        h.fails(.getSecretValue, ["SecretId": "app/db"], .invalidRequest)
        try h.ok(.restoreSecret, ["SecretId": "app/db"])
        #expect(try h.value("app/db") == "one")
    }

    @Test func absentSecretsAreCachedUntilOneIsCreated() throws {
        let h = try Harness()
        h.fails(.getSecretValue, ["SecretId": "later"], .resourceNotFound)
        h.fails(.getSecretValue, ["SecretId": "later"], .resourceNotFound)
        try h.create("later", "here")
        #expect(try h.value("later") == "here")
    }

    @Test func writesFromAnotherThreadInvalidateThisReadersCache() throws {
        let h = try Harness()
        try h.create("s", "v0")
        #expect(try h.value("s") == "v0")
        let other = try h.vault.makeReader()
        for i in 1...20 {
            // Written through another reader, as another worker would: acknowledged before the next read starts.
            let result = h.vault.perform(
                .putSecretValue, ["SecretId": "s", "SecretString": .string("v\(i)")], caller: .system, reader: other)
            #expect((try? result.get()) != nil)
            #expect(try h.value("s") == "v\(i)")
        }
    }

    @Test func theCacheIsBounded() {
        let cache = HotPathCache()
        for i in 0..<(HotPathCache.maxEntries * 3) {
            cache.store(.init(byName: true, identifier: "n\(i)", stage: "AWSCURRENT"), nil, generation: 1)
            #expect(cache.count <= HotPathCache.maxEntries)
        }
        // A new generation starts over; an old one is never served.
        cache.store(.init(byName: true, identifier: "x", stage: "AWSCURRENT"), nil, generation: 2)
        #expect(cache.count == 1)
        #expect(cache.lookup(.init(byName: true, identifier: "x", stage: "AWSCURRENT"), current: 3) == nil)
    }
}
