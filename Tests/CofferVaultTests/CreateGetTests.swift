import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

@Suite struct CreateAndGetTests {
    @Test func createWithStringValueThenGetByEveryIdentifier() throws {
        let h = try Harness()
        let (arn, version) = try h.create("app/db", "hunter2")
        #expect(arn.hasPrefix("arn:coffer:secretsmanager:local:123456789012:secret:app/db-"))
        #expect(arn.utf8.count == "arn:coffer:secretsmanager:local:123456789012:secret:app/db-".utf8.count + 6)
        #expect(version?.utf8.count == 36)
        for id in [arn, "app/db", "arn:coffer:secretsmanager:local:123456789012:secret:app/db"] {
            let doc = try h.ok(.getSecretValue, ["SecretId": .string(id)])
            #expect(doc.secretText("SecretString") == "hunter2")
            #expect(doc["ARN"]?.stringValue == arn)
            #expect(doc["Name"]?.stringValue == "app/db")
            #expect(doc["VersionId"]?.stringValue == version)
            #expect(doc.strings("VersionStages") == ["AWSCURRENT"])
            #expect(doc["CreatedDate"] != nil)
            #expect(doc["SecretBinary"] == nil)
        }
    }

    @Test func binaryValueRoundTrips() throws {
        let h = try Harness()
        let bytes: [UInt8] = [0, 1, 2, 255, 254, 0]
        try h.ok(.createSecret, ["Name": "bin", "SecretBinary": .bytes(bytes)])
        let doc = try h.ok(.getSecretValue, ["SecretId": "bin"])
        #expect(doc.secretBytes("SecretBinary") == bytes)
        #expect(doc["SecretString"] == nil)
    }

    @Test func createWithoutValueHasNoVersion() throws {
        let h = try Harness()
        let doc = try h.ok(.createSecret, ["Name": "empty", "Description": "nothing yet"])
        #expect(doc["VersionId"] == nil)
        let message = h.fails(.getSecretValue, ["SecretId": "empty"], .resourceNotFound)
        #expect(message == "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT")
        let described = try h.ok(.describeSecret, ["SecretId": "empty"])
        #expect(described["VersionIdsToStages"] == nil)
        #expect(described["Description"]?.stringValue == "nothing yet")
        #expect(described["Tags"] == nil)
        // The first PutSecretValue of an empty secret always gets AWSCURRENT, even with other labels.
        let put = try h.put("empty", "first", stages: ["AWSPENDING"])
        #expect(Set(put.strings("VersionStages")) == ["AWSPENDING", "AWSCURRENT"])
        #expect(try h.value("empty") == "first")
    }

    @Test(arguments: ["Inv Name", "a!b", "", String(repeating: "x", count: 513), "émoji", "tab\tname"])
    func invalidNamesAreValidationErrors(_ name: String) throws {
        let h = try Harness()
        h.fails(.createSecret, ["Name": .string(name), "SecretString": "x"], .validation)
    }

    @Test(arguments: [Operation.getSecretValue, .describeSecret, .listSecretVersionIds, .deleteSecret, .restoreSecret])
    func invalidSecretIdIsCheckedBeforeLookup(_ op: Operation) throws {
        let h = try Harness()
        let message = h.fails(op, ["SecretId": "Inv Name"], .validation)
        #expect(message.hasPrefix("Invalid name."))
        h.fails(op, ["SecretId": "valid-but-missing"], .resourceNotFound)
    }

    @Test func forcedDeleteStillChecksTheName() throws {
        let h = try Harness()
        h.fails(.deleteSecret, ["SecretId": "Inv Name", "ForceDeleteWithoutRecovery": true], .validation)
    }

    @Test func bothStringAndBinaryIsInvalidParameter() throws {
        let h = try Harness()
        h.fails(.createSecret, ["Name": "x", "SecretString": "a", "SecretBinary": .bytes([1])], .invalidParameter)
        try h.create("y")
        h.fails(
            .putSecretValue, ["SecretId": "y", "SecretString": "a", "SecretBinary": .bytes([1])], .invalidParameter)
        h.fails(.updateSecret, ["SecretId": "y", "SecretString": "a", "SecretBinary": .bytes([1])], .invalidParameter)
        h.fails(.putSecretValue, ["SecretId": "y"], .invalidParameter)
    }

    @Test func valueSizeLimits() throws {
        let h = try Harness()
        let max = String(repeating: "a", count: Limits.maxSecretValueBytes)
        try h.create("big", max)
        #expect(try h.value("big").utf8.count == Limits.maxSecretValueBytes)
        h.fails(.createSecret, ["Name": "too-big", "SecretString": .string(max + "a")], .validation)
        let message = h.fails(.createSecret, ["Name": "empty-string", "SecretString": ""], .validation)
        #expect(!message.contains("Value '"))  // a secret value is never echoed
    }

    @Test func existingNameIsResourceExists() throws {
        let h = try Harness()
        try h.create("dup")
        let message = h.fails(.createSecret, ["Name": "dup", "SecretString": "other"], .resourceExists)
        #expect(message == "The operation failed because the secret dup already exists.")
    }

    @Test func partialARNAmbiguityFollowsAWS() throws {
        let h = try Harness()
        // A name ending in "-" + 6 characters: its partial ARN looks complete, so it does not resolve.
        let (arn, _) = try h.create("x-a1b2c3", "v")
        let prefix = "arn:coffer:secretsmanager:local:123456789012:secret:"
        h.fails(.getSecretValue, ["SecretId": .string(prefix + "x-a1b2c3")], .resourceNotFound)
        #expect(try h.value("x-a1b2c3") == "v")
        #expect(try h.value(arn) == "v")
        // Names ending "-a1b2" or "-a1b2c3-" are fine as partial ARNs.
        try h.create("y-a1b2", "w")
        #expect(try h.value(prefix + "y-a1b2") == "w")
        try h.create("z-a1b2c3-", "u")
        #expect(try h.value(prefix + "z-a1b2c3-") == "u")
    }

    @Test func arnsOfOtherAccountsOrRegionsDoNotResolve() throws {
        let h = try Harness()
        try h.create("app")
        for other in [
            "arn:coffer:secretsmanager:local:999999999999:secret:app",
            "arn:aws:secretsmanager:local:123456789012:secret:app",
            "arn:coffer:secretsmanager:us-east-1:123456789012:secret:app",
            "arn:coffer:ssm:local:123456789012:secret:app",
        ] {
            h.fails(.getSecretValue, ["SecretId": .string(other)], .resourceNotFound)
        }
    }

    @Test func recreatedSecretGetsANewARN() throws {
        let h = try Harness()
        let (first, _) = try h.create("again")
        try h.ok(.deleteSecret, ["SecretId": "again", "ForceDeleteWithoutRecovery": true])
        let (second, _) = try h.create("again")
        #expect(first != second)
        h.fails(.getSecretValue, ["SecretId": .string(first)], .resourceNotFound)
        #expect(try h.value(second) == "v1")
    }

    @Test func getByVersionIdAndStageCombinations() throws {
        let h = try Harness()
        let (_, v1) = try h.create("combo", "one", token: token(1))
        _ = try h.put("combo", "two", token: token(2))
        #expect(v1 == token(1))
        #expect(try h.value("combo", version: token(1)) == "one")
        #expect(try h.value("combo", stage: "AWSPREVIOUS") == "one")
        #expect(try h.value("combo", stage: "AWSCURRENT", version: token(2)) == "two")
        let mismatch = h.fails(
            .getSecretValue, ["SecretId": "combo", "VersionId": .string(token(1)), "VersionStage": "AWSCURRENT"],
            .invalidRequest)
        #expect(mismatch == "You provided a VersionStage that is not associated to the provided VersionId.")
        let missing = h.fails(
            .getSecretValue, ["SecretId": "combo", "VersionId": .string(token(9))], .resourceNotFound)
        #expect(missing == "Secrets Manager can't find the specified secret value for VersionId: \(token(9))")
        let noLabel = h.fails(.getSecretValue, ["SecretId": "combo", "VersionStage": "NOPE"], .resourceNotFound)
        #expect(noLabel == "Secrets Manager can't find the specified secret value for staging label: NOPE")
        h.fails(.getSecretValue, ["SecretId": "combo", "VersionId": "short"], .validation)
    }

    @Test func unknownAndMistypedParameters() throws {
        let h = try Harness()
        h.fails(.getSecretValue, ["SecretId": "a", "Bogus": 1], .validation)
        h.fails(.getSecretValue, ["SecretId": 5], .serializationError)
        h.fails(.getSecretValue, [:], .validation)
        h.fails(.createSecret, ["Name": "a", "Tags": "not-a-list"], .serializationError)
    }

    @Test func lastAccessedDateHasDayGranularity() throws {
        let h = try Harness()
        try h.create("acc")
        #expect(try h.ok(.describeSecret, ["SecretId": "acc"])["LastAccessedDate"] == nil)
        _ = try h.value("acc")
        h.vault.store.writer.flush()
        let first = try h.ok(.describeSecret, ["SecretId": "acc"])["LastAccessedDate"]
        guard case .timestamp(let day)? = first else {
            Issue.record("no LastAccessedDate after a read")
            return
        }
        #expect(day == h.clock.now().startOfDay)
    }

    @Test func updateSecretChangesOnlyWhatIsGiven() throws {
        let h = try Harness()
        try h.create("upd", "v1", extra: ["Description": "old", "Tags": .list([.map(["Key": "team", "Value": "a"])])])
        let descOnly = try h.ok(.updateSecret, ["SecretId": "upd", "Description": "new"])
        #expect(descOnly["VersionId"] == nil)
        #expect(try h.stages("upd").count == 1)
        let withValue = try h.ok(.updateSecret, ["SecretId": "upd", "SecretString": "v2"])
        #expect(withValue["VersionId"] != nil)
        #expect(try h.value("upd") == "v2")
        #expect(try h.value("upd", stage: "AWSPREVIOUS") == "v1")
        let described = try h.ok(.describeSecret, ["SecretId": "upd"])
        #expect(described["Description"]?.stringValue == "new")
        #expect(described["Tags"]?.listValue?.count == 1)
    }
}
