import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

@Suite struct DeletionTests {
    @Test func scheduledDeletionAndItsStateRules() throws {
        let h = try Harness()
        try h.create("d", "v", extra: ["Tags": .list([.map(["Key": "k", "Value": "v"])])])
        let deleted = try h.ok(.deleteSecret, ["SecretId": "d", "RecoveryWindowInDays": 7])
        guard case .timestamp(let when)? = deleted["DeletionDate"] else {
            Issue.record("no DeletionDate")
            return
        }
        #expect(when == h.clock.now().adding(days: 7))
        // Describe works and shows DeletedDate; values and mutations are refused.
        let described = try h.ok(.describeSecret, ["SecretId": "d"])
        #expect(described["DeletedDate"] != nil)
        let marked = "You can't perform this operation on the secret because it was marked for deletion."
        #expect(h.fails(.getSecretValue, ["SecretId": "d"], .invalidRequest) == marked)
        h.fails(.putSecretValue, ["SecretId": "d", "SecretString": "x"], .invalidRequest)
        h.fails(.updateSecret, ["SecretId": "d", "Description": "x"], .invalidRequest)
        h.fails(.tagResource, ["SecretId": "d", "Tags": .list([.map(["Key": "a", "Value": "b"])])], .invalidRequest)
        h.fails(.untagResource, ["SecretId": "d", "TagKeys": ["k"]], .invalidRequest)
        h.fails(
            .updateSecretVersionStage, ["SecretId": "d", "VersionStage": "X", "MoveToVersionId": .string(token(1))],
            .invalidRequest)
        let again = h.fails(.deleteSecret, ["SecretId": "d"], .invalidRequest)
        #expect(again == "You tried to perform the operation on a secret that's currently marked deleted.")
        let recreate = h.fails(.createSecret, ["Name": "d", "SecretString": "x"], .invalidRequest)
        #expect(
            recreate
                == "You can't create this secret because a secret with this name is already scheduled for deletion.")
        // ListSecrets hides it unless asked.
        #expect(try h.ok(.listSecrets, [:])["SecretList"]?.listValue?.count == 0)
        let planned = try h.ok(.listSecrets, ["IncludePlannedDeletion": true])["SecretList"]?.listValue ?? []
        #expect(planned.count == 1 && planned.first?.mapValue?["DeletedDate"] != nil)
        // BatchGet reports it under Errors.
        let batch = try h.ok(.batchGetSecretValue, ["SecretIdList": ["d"]])
        #expect(batch["SecretValues"]?.listValue?.isEmpty == true)
        #expect(batch["Errors"]?.listValue?.first?.mapValue?["ErrorCode"]?.stringValue == "InvalidRequestException")
        // Restore brings everything back unchanged.
        try h.ok(.restoreSecret, ["SecretId": "d"])
        #expect(try h.value("d") == "v")
        #expect(try h.ok(.describeSecret, ["SecretId": "d"])["DeletedDate"] == nil)
        try h.ok(.restoreSecret, ["SecretId": "d"])  // no-op on a live secret
    }

    @Test func windowEndsAndTheNameIsFree() throws {
        let h = try Harness()
        let (arn, _) = try h.create("w", "old")
        try h.ok(.deleteSecret, ["SecretId": "w"])  // default 30 days
        h.clock.advance(days: 29)
        h.fails(.getSecretValue, ["SecretId": "w"], .invalidRequest)
        h.clock.advance(days: 1)
        h.fails(.describeSecret, ["SecretId": "w"], .resourceNotFound)
        h.fails(.restoreSecret, ["SecretId": "w"], .resourceNotFound)
        let (newARN, _) = try h.create("w", "new")
        #expect(newARN != arn)
        #expect(try h.value("w") == "new")
        h.fails(.describeSecret, ["SecretId": .string(arn)], .resourceNotFound)
    }

    @Test func purgeRemovesExpiredRows() throws {
        let h = try Harness()
        try h.create("p1")
        try h.create("p2")
        try h.ok(.deleteSecret, ["SecretId": "p1", "RecoveryWindowInDays": 7])
        #expect(try h.vault.purgeExpired() == 0)
        h.clock.advance(days: 8)
        #expect(try h.vault.purgeExpired() == 1)
        #expect(try h.vault.store.writer.perform { try $0.counts().secrets } == 1)
    }

    @Test(arguments: [Int64(6), 31, 0, -1])
    func recoveryWindowOutOfRange(_ days: Int64) throws {
        let h = try Harness()
        try h.create("r")
        let message = h.fails(.deleteSecret, ["SecretId": "r", "RecoveryWindowInDays": .int(days)], .invalidParameter)
        #expect(message == "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
        // Checked before existence:
        h.fails(.deleteSecret, ["SecretId": "nope", "RecoveryWindowInDays": .int(days)], .invalidParameter)
    }

    @Test func forceDelete() throws {
        let h = try Harness()
        h.fails(
            .deleteSecret, ["SecretId": "f", "RecoveryWindowInDays": 7, "ForceDeleteWithoutRecovery": true],
            .invalidParameter)
        // Unknown secret: still success, with a Name and a DeletionDate.
        let unknown = try h.ok(.deleteSecret, ["SecretId": "ghost", "ForceDeleteWithoutRecovery": true])
        #expect(unknown["Name"]?.stringValue == "ghost")
        #expect(unknown["ARN"] != nil && unknown["DeletionDate"] != nil)
        try h.create("f")
        try h.ok(.deleteSecret, ["SecretId": "f"])
        try h.ok(.deleteSecret, ["SecretId": "f", "ForceDeleteWithoutRecovery": true])  // scheduled → gone at once
        h.fails(.describeSecret, ["SecretId": "f"], .resourceNotFound)
        try h.create("f")  // the name is free immediately
        h.fails(.deleteSecret, ["SecretId": "missing"], .resourceNotFound)
    }
}

@Suite struct TagTests {
    @Test func tagMergeAndUntag() throws {
        let h = try Harness()
        try h.create("t")
        #expect(try h.ok(.describeSecret, ["SecretId": "t"])["Tags"] == nil)  // never tagged: absent
        try h.ok(
            .tagResource,
            ["SecretId": "t", "Tags": .list([.map(["Key": "a", "Value": "1"]), .map(["Key": "B", "Value": "2"])])])
        try h.ok(
            .tagResource,
            ["SecretId": "t", "Tags": .list([.map(["Key": "a", "Value": "9"]), .map(["Key": "c", "Value": "3"])])])
        func tags() throws -> [String] {
            (try h.ok(.describeSecret, ["SecretId": "t"])["Tags"]?.listValue ?? []).compactMap {
                guard let d = $0.mapValue else { return nil }
                return "\(d["Key"]?.stringValue ?? "")=\(d["Value"]?.stringValue ?? "")"
            }
        }
        #expect(try tags() == ["a=9", "B=2", "c=3"])  // merge overwrites and keeps order
        // Keys that differ only in case are refused (conditions match tag keys case-insensitively).
        h.fails(.tagResource, ["SecretId": "t", "Tags": .list([.map(["Key": "b", "Value": "x"])])], .invalidParameter)
        h.fails(
            .tagResource,
            ["SecretId": "t", "Tags": .list([.map(["Key": "x", "Value": "1"]), .map(["Key": "X", "Value": "2"])])],
            .invalidParameter)
        let untagged = try h.ok(.untagResource, ["SecretId": "t", "TagKeys": ["a", "missing"]])
        #expect(untagged.isEmpty)
        try h.ok(.untagResource, ["SecretId": "t", "TagKeys": ["B", "c"]])
        #expect(try h.ok(.describeSecret, ["SecretId": "t"])["Tags"]?.listValue?.isEmpty == true)  // [] after removal
    }

    @Test func tagLimits() throws {
        let h = try Harness()
        try h.create("lim")
        func tag(_ k: String, _ v: String = "v") -> Value { .map(["Key": .string(k), "Value": .string(v)]) }
        h.fails(
            .tagResource, ["SecretId": "lim", "Tags": .list([tag(String(repeating: "k", count: 129))])], .validation)
        h.fails(
            .tagResource, ["SecretId": "lim", "Tags": .list([tag("k", String(repeating: "v", count: 257))])],
            .validation)
        h.fails(.tagResource, ["SecretId": "lim", "Tags": .list([tag("")])], .validation)
        h.fails(.tagResource, ["SecretId": "lim", "Tags": .list([tag("aws:x")])], .invalidParameter)
        h.fails(.tagResource, ["SecretId": "lim", "Tags": .list([tag("a"), tag("a")])], .invalidParameter)
        try h.ok(.tagResource, ["SecretId": "lim", "Tags": .list((0..<50).map { tag("k\($0)") })])
        h.fails(.tagResource, ["SecretId": "lim", "Tags": .list([tag("one-more")])], .invalidParameter)
        try h.ok(.tagResource, ["SecretId": "lim", "Tags": .list([tag("k0", "overwrite")])])  // not a new key
        h.fails(.tagResource, ["SecretId": "nope", "Tags": .list([tag("a")])], .resourceNotFound)
    }
}

@Suite struct RandomPasswordTests {
    @Test func defaultsAndErrors() throws {
        let h = try Harness()
        let doc = try h.ok(.getRandomPassword, [:])
        let password = doc.secretText("RandomPassword") ?? ""
        #expect(password.utf8.count == 32)
        #expect(!password.contains(" "))
        let digitsOnly = try h.ok(
            .getRandomPassword,
            ["PasswordLength": 20, "ExcludeLowercase": true, "ExcludeUppercase": true, "ExcludePunctuation": true])
        #expect(digitsOnly.secretText("RandomPassword")?.allSatisfy(\.isNumber) == true)
        let short = h.fails(.getRandomPassword, ["PasswordLength": 3], .invalidParameter)
        #expect(short == "Password length is too short based on the required types.")
        h.fails(.getRandomPassword, ["PasswordLength": 4_097], .validation)
        h.fails(.getRandomPassword, ["PasswordLength": 0], .validation)
    }
}
