import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

@Suite struct StagingLabelTests {
    @Test func putMovesCurrentAndPrevious() throws {
        let h = try Harness()
        try h.create("s", "one", token: token(1))
        _ = try h.put("s", "two", token: token(2))
        #expect(try h.stages("s") == [token(1): ["AWSPREVIOUS"], token(2): ["AWSCURRENT"]])
        _ = try h.put("s", "three", token: token(3))
        // token(1) lost AWSPREVIOUS and is now deprecated: hidden from Describe.
        #expect(try h.stages("s") == [token(2): ["AWSPREVIOUS"], token(3): ["AWSCURRENT"]])
        #expect(try h.value("s", version: token(1)) == "one")  // still readable by id
    }

    @Test func putWithExplicitStagesLeavesCurrentAlone() throws {
        let h = try Harness()
        try h.create("p", "one", token: token(1))
        let put = try h.put("p", "pending", token: token(2), stages: ["AWSPENDING"])
        #expect(put.strings("VersionStages") == ["AWSPENDING"])
        #expect(try h.value("p") == "one")
        #expect(try h.stages("p") == [token(1): ["AWSCURRENT"], token(2): ["AWSPENDING"]])
        // A custom label moves from wherever it was.
        _ = try h.put("p", "x", token: token(3), stages: ["CUSTOM"])
        _ = try h.put("p", "y", token: token(4), stages: ["CUSTOM", "AWSSOMETHING"])
        #expect(try h.stages("p")[token(4)] == ["AWSSOMETHING", "CUSTOM"])
        #expect(try h.stages("p")[token(3)] == nil)
    }

    @Test func supersedingCurrentAndPendingLeavesOnlyPrevious() throws {
        let h = try Harness()
        try h.create("r", "one", token: token(1))
        try h.ok(
            .updateSecretVersionStage,
            ["SecretId": "r", "VersionStage": "AWSPENDING", "MoveToVersionId": .string(token(1))])
        #expect(try h.stages("r")[token(1)] == ["AWSCURRENT", "AWSPENDING"])
        _ = try h.put("r", "two", token: token(2))
        #expect(try h.stages("r") == [token(1): ["AWSPREVIOUS"], token(2): ["AWSCURRENT"]])
    }

    @Test func updateSecretVersionStageRules() throws {
        let h = try Harness()
        try h.create("u", "one", token: token(1))
        _ = try h.put("u", "two", token: token(2))
        // Moving AWSCURRENT requires naming its holder.
        let message = h.fails(
            .updateSecretVersionStage,
            ["SecretId": "u", "VersionStage": "AWSCURRENT", "MoveToVersionId": .string(token(1))],
            .invalidParameter)
        #expect(
            message
                == "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version \(token(2)), so you must explicitly reference that version in RemoveFromVersionId."
        )
        h.fails(
            .updateSecretVersionStage,
            [
                "SecretId": "u", "VersionStage": "AWSCURRENT", "MoveToVersionId": .string(token(1)),
                "RemoveFromVersionId": .string(token(1)),
            ], .invalidParameter)
        // Rollback: AWSCURRENT back to token(1); token(2) becomes AWSPREVIOUS, token(1) loses it.
        let doc = try h.ok(
            .updateSecretVersionStage,
            [
                "SecretId": "u", "VersionStage": "AWSCURRENT", "MoveToVersionId": .string(token(1)),
                "RemoveFromVersionId": .string(token(2)),
            ])
        #expect(doc.keys == ["ARN", "Name"])
        #expect(try h.stages("u") == [token(1): ["AWSCURRENT"], token(2): ["AWSPREVIOUS"]])
        #expect(try h.value("u") == "one")  // GetSecretValue follows AWSCURRENT
        // Unknown versions.
        h.fails(
            .updateSecretVersionStage, ["SecretId": "u", "VersionStage": "X", "MoveToVersionId": .string(token(9))],
            .invalidParameter)
        // AWSCURRENT cannot be removed outright; other labels can, and removing the last label deprecates.
        h.fails(
            .updateSecretVersionStage,
            ["SecretId": "u", "VersionStage": "AWSCURRENT", "RemoveFromVersionId": .string(token(1))], .invalidParameter
        )
        try h.ok(
            .updateSecretVersionStage,
            ["SecretId": "u", "VersionStage": "AWSPREVIOUS", "RemoveFromVersionId": .string(token(2))])
        #expect(try h.stages("u") == [token(1): ["AWSCURRENT"]])
        let listed = try h.ok(.listSecretVersionIds, ["SecretId": "u", "IncludeDeprecated": true])
        let deprecated = listed["Versions"]?.listValue?.compactMap(\.mapValue).first {
            $0["VersionId"]?.stringValue == token(2)
        }
        #expect(deprecated != nil && deprecated?["VersionStages"] == nil)
        // A move onto a version that already holds the label is a no-op.
        try h.ok(
            .updateSecretVersionStage,
            ["SecretId": "u", "VersionStage": "AWSCURRENT", "MoveToVersionId": .string(token(1))])
        h.fails(.updateSecretVersionStage, ["SecretId": "u", "VersionStage": "AWSCURRENT"], .invalidParameter)
    }

    @Test func movingPendingKeepsItNextToCurrent() throws {
        let h = try Harness()
        try h.create("m", "one", token: token(1))
        _ = try h.put("m", "two", token: token(2), stages: ["AWSPENDING"])
        try h.ok(
            .updateSecretVersionStage,
            [
                "SecretId": "m", "VersionStage": "AWSCURRENT", "MoveToVersionId": .string(token(2)),
                "RemoveFromVersionId": .string(token(1)),
            ])
        // finishSecret: AWSPENDING stays with the new AWSCURRENT until removed; old current is AWSPREVIOUS.
        #expect(try h.stages("m") == [token(1): ["AWSPREVIOUS"], token(2): ["AWSCURRENT", "AWSPENDING"]])
    }

    @Test func idempotentPutAndTokenReuse() throws {
        let h = try Harness()
        try h.create("i", "one", token: token(1))
        let first = try h.put("i", "two", token: token(2))
        let again = try h.put("i", "two", token: token(2))
        #expect(first["VersionId"]?.stringValue == again["VersionId"]?.stringValue)
        #expect(again.strings("VersionStages") == ["AWSCURRENT"])
        #expect(try h.stages("i").count == 2)  // no third version
        let message = h.fails(
            .putSecretValue, ["SecretId": "i", "SecretString": "different", "ClientRequestToken": .string(token(2))],
            .resourceExists)
        #expect(message.hasPrefix("You can't use ClientRequestToken \(token(2)) because that value is already in use"))
        // Same data, new token: a new version (no content dedup).
        _ = try h.put("i", "two", token: token(3))
        #expect(try h.stages("i")[token(3)] == ["AWSCURRENT"])
        // Binary with the same bytes as a string version is different data.
        h.fails(
            .putSecretValue,
            ["SecretId": "i", "SecretBinary": .bytes(Array("two".utf8)), "ClientRequestToken": .string(token(3))],
            .resourceExists)
        h.fails(.putSecretValue, ["SecretId": "i", "SecretString": "x", "ClientRequestToken": "short"], .validation)
    }

    @Test func idempotentCreate() throws {
        let h = try Harness()
        let (arn, _) = try h.create("c", "value", token: token(1))
        let again = try h.ok(
            .createSecret, ["Name": "c", "SecretString": "value", "ClientRequestToken": .string(token(1))])
        #expect(again["ARN"]?.stringValue == arn)
        #expect(again["VersionId"]?.stringValue == token(1))
        h.fails(
            .createSecret, ["Name": "c", "SecretString": "other", "ClientRequestToken": .string(token(1))],
            .resourceExists)
        h.fails(
            .createSecret, ["Name": "c", "SecretString": "value", "ClientRequestToken": .string(token(2))],
            .resourceExists)
    }

    @Test func retentionPrunesOldDeprecatedVersionsBeyondAHundred() throws {
        let h = try Harness()
        try h.create("ret", "v0", token: token(0))
        for n in 1...104 { _ = try h.put("ret", "v\(n)", token: token(n)) }
        // Young deprecated versions are kept even beyond 100.
        var listed = try h.ok(.listSecretVersionIds, ["SecretId": "ret", "IncludeDeprecated": true, "MaxResults": 100])
        var total = listed["Versions"]?.listValue?.count ?? 0
        while let next = listed["NextToken"]?.stringValue {
            listed = try h.ok(
                .listSecretVersionIds, ["SecretId": "ret", "IncludeDeprecated": true, "NextToken": .string(next)])
            total += listed["Versions"]?.listValue?.count ?? 0
        }
        #expect(total == 105)
        // A day later, the next write prunes deprecated versions down to 100 (oldest first).
        h.clock.advance(days: 1, hours: 1)
        _ = try h.put("ret", "v105", token: token(105))
        listed = try h.ok(.listSecretVersionIds, ["SecretId": "ret", "IncludeDeprecated": true, "MaxResults": 100])
        total = listed["Versions"]?.listValue?.count ?? 0
        #expect(listed["NextToken"] == nil)
        #expect(total == 100)
        h.fails(.getSecretValue, ["SecretId": "ret", "VersionId": .string(token(0))], .resourceNotFound)
        #expect(try h.value("ret", version: token(6)) == "v6")
        #expect(try h.value("ret") == "v105")
        #expect(try h.value("ret", stage: "AWSPREVIOUS") == "v104")
    }

    @Test func listSecretVersionIdsPaginates() throws {
        let h = try Harness()
        try h.create("pg", "v0", token: token(0))
        for n in 1...9 { _ = try h.put("pg", "v\(n)", token: token(n), stages: ["L\(n)"]) }
        var seen: [String] = []
        var next: String?
        repeat {
            var request: Document = ["SecretId": "pg", "MaxResults": 3]
            if let next { request["NextToken"] = .string(next) }
            let page = try h.ok(.listSecretVersionIds, request)
            let ids = page["Versions"]?.listValue?.compactMap { $0.mapValue?["VersionId"]?.stringValue } ?? []
            #expect(ids.count <= 3)
            seen += ids
            next = page["NextToken"]?.stringValue
        } while next != nil
        #expect(seen == (0...9).reversed().map { token($0) })
        h.fails(.listSecretVersionIds, ["SecretId": "pg", "NextToken": "garbage"], .invalidNextToken)
        h.fails(.listSecretVersionIds, ["SecretId": "pg", "MaxResults": 0], .validation)
        h.fails(.listSecretVersionIds, ["SecretId": "pg", "MaxResults": 101], .validation)
    }
}
