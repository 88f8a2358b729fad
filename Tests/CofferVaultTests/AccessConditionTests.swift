import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

/// Condition keys as the vault fills them (docs/POLICY.md, "Condition keys"): resource tags, request tags, staging
/// labels (and the AWSCURRENT default), policy variables, time, deletion parameters and Coffer's peer keys.
@Suite struct AccessConditionTests {
    typealias H = AccessHarness

    static let tagKeys = ["secretsmanager:ResourceTag/team", "aws:ResourceTag/team"]

    @Test(arguments: tagKeys)
    func aResourceTagConditionFiltersSecrets(_ key: String) throws {
        let h = try H()
        try h.create("blue/db", "b", tags: [("team", "blue")])
        try h.create("red/db", "r", tags: [("team", "red")])
        try h.create("untagged", "u")
        try h.putGroupPolicy(
            "staff",
            policy(
                allow(
                    "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret",
                    when: #"{"StringEquals":{"\#(key)":"blue"}}"#)))
        #expect(try h.value("blue/db", as: H.daemon) == "b")
        h.denied(.getSecretValue, ["SecretId": "red/db"], as: H.daemon)
        h.denied(.getSecretValue, ["SecretId": "untagged"], as: H.daemon)
        // The tag is read at request time: retagging moves the secret in or out.
        try h.ok(.tagResource, ["SecretId": "red/db", "Tags": [.map(["Key": "team", "Value": "blue"])]])
        #expect(try h.value("red/db", as: H.daemon) == "r")
        try h.ok(.untagResource, ["SecretId": "blue/db", "TagKeys": ["team"]])
        h.denied(.getSecretValue, ["SecretId": "blue/db"], as: H.daemon)
    }

    @Test func tagValuesAreCaseSensitiveAndKeysAreNot() throws {
        let h = try H()
        try h.create("s", tags: [("team", "Blue")])
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringEquals":{"SecretsManager:ResourceTag/team":"blue"}}"#)))
        h.denied(.getSecretValue, ["SecretId": "s"], as: H.bin)
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringEqualsIgnoreCase":{"secretsmanager:resourcetag/team":"blue"}}"#)))
        #expect(try h.value("s", as: H.bin) == "v1")
    }

    @Test
    func aTagKeyThatDiffersOnlyInCaseCannotOverrideATag() throws {
        let h = try H()
        try h.create("payroll", "p", tags: [("team", "finance")])
        // staff reads what is tagged team=blue, may tag anything, but never the team key.
        try h.putGroupPolicy(
            "staff",
            policy(
                allow(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringEquals":{"secretsmanager:ResourceTag/team":"blue"}}"#),
                allow("secretsmanager:TagResource"),
                deny("secretsmanager:TagResource", when: #"{"ForAnyValue:StringEquals":{"aws:TagKeys":["team"]}}"#)))
        h.denied(.getSecretValue, ["SecretId": "payroll"], as: H.daemon)
        h.denied(
            .tagResource, ["SecretId": "payroll", "Tags": [.map(["Key": "team", "Value": "blue"])]], as: H.daemon)
        _ = h.call(
            .tagResource, ["SecretId": "payroll", "Tags": [.map(["Key": "Team", "Value": "blue"])]], as: H.daemon)
        h.denied(.getSecretValue, ["SecretId": "payroll"], as: H.daemon)
    }

    @Test func requestTagConditionsOnCreateSecretAndTagResource() throws {
        let h = try H()
        // Create or tag only with team=blue, and with no tag keys other than team and env.
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:CreateSecret", "secretsmanager:TagResource",
                    when: #"{"StringEquals":{"aws:RequestTag/team":"blue"},"#
                        + #""ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]}}"#)))
        func create(_ name: String, _ tags: [(String, String)]) -> Result<Document, ServiceError> {
            var request: Document = ["Name": .string(name), "SecretString": "x"]
            if !tags.isEmpty {
                request["Tags"] = .list(tags.map { .map(["Key": .string($0.0), "Value": .string($0.1)]) })
            }
            return h.call(.createSecret, request, as: H.bin)
        }
        #expect((try? create("a", [("team", "blue")]).get()) != nil)
        #expect((try? create("b", [("team", "blue"), ("env", "prod")]).get()) != nil)
        #expect(create("c", [("team", "red")]).failureCode == .accessDenied)
        #expect(create("d", [("team", "blue"), ("owner", "bin")]).failureCode == .accessDenied)
        #expect(create("e", []).failureCode == .accessDenied)  // aws:RequestTag/team absent: StringEquals is false
        #expect(create("f", [("env", "prod")]).failureCode == .accessDenied)
        try h.ok(.tagResource, ["SecretId": "a", "Tags": [.map(["Key": "team", "Value": "blue"])]], as: H.bin)
        h.denied(.tagResource, ["SecretId": "a", "Tags": [.map(["Key": "team", "Value": "red"])]], as: H.bin)
        h.denied(.tagResource, ["SecretId": "a", "Tags": [.map(["Key": "env", "Value": "dev"])]], as: H.bin)
    }

    @Test func forAllValuesOnTagKeysIsTrueWithoutTags() throws {
        // AWS's documented hole: ForAllValues over a missing/empty key is true, so this Allow alone lets a caller
        // create untagged secrets. Pair it with a presence check ("Null": {"aws:TagKeys": "false"}).
        let h = try H()
        let onlyTeam = #"{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}"#
        try h.putUserPolicy("bin", policy(allow("secretsmanager:CreateSecret", when: onlyTeam)))
        try h.ok(.createSecret, ["Name": "untagged", "SecretString": "x"], as: H.bin)
        try h.ok(
            .createSecret, ["Name": "tagged", "SecretString": "x", "Tags": [.map(["Key": "team", "Value": "t"])]],
            as: H.bin)
        h.denied(
            .createSecret, ["Name": "other", "SecretString": "x", "Tags": [.map(["Key": "x", "Value": "t"])]], as: H.bin
        )
        let closed = #"{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]},"Null":{"aws:TagKeys":"false"}}"#
        try h.putUserPolicy("bin", policy(allow("secretsmanager:CreateSecret", when: closed)))
        h.denied(.createSecret, ["Name": "untagged2", "SecretString": "x"], as: H.bin)
        try h.ok(
            .createSecret, ["Name": "tagged2", "SecretString": "x", "Tags": [.map(["Key": "team", "Value": "t"])]],
            as: H.bin)
    }

    @Test func untagResourceSeesTheRemovedKeys() throws {
        let h = try H()
        try h.create("s", tags: [("team", "blue"), ("owner", "bin")])
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:UntagResource",
                    when: #"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["team"]}}"#)))
        try h.ok(.untagResource, ["SecretId": "s", "TagKeys": ["owner"]], as: H.bin)
        h.denied(.untagResource, ["SecretId": "s", "TagKeys": ["team"]], as: H.bin)
    }

    /// A secret with AWSCURRENT = "two" and AWSPREVIOUS = "one"; returns the version ids (previous, current).
    func twoVersions(_ h: H) throws -> (String, String) {
        let first = try h.ok(.createSecret, ["Name": "db", "SecretString": "one"])["VersionId"]?.stringValue ?? ""
        let second = try h.ok(.putSecretValue, ["SecretId": "db", "SecretString": "two"])["VersionId"]?.stringValue
        return (first, second ?? "")
    }

    @Test func onlyTheCurrentVersionIsReadable() throws {
        let h = try H()
        let (previous, current) = try twoVersions(h)
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringEquals":{"secretsmanager:VersionStage":"AWSCURRENT"}}"#)))
        // docs/POLICY.md: a GetSecretValue naming neither VersionId nor VersionStage reads AWSCURRENT, and
        // secretsmanager:VersionStage says so.
        #expect(try h.value("db", as: H.bin) == "two")
        #expect(try h.value("db", as: H.bin, stage: "AWSCURRENT") == "two")
        h.denied(.getSecretValue, ["SecretId": "db", "VersionStage": "AWSPREVIOUS"], as: H.bin)
        // By VersionId alone the stage key is absent, so this StringEquals does not match: denied, even for the
        // current version's id.
        h.denied(.getSecretValue, ["SecretId": "db", "VersionId": .string(current)], as: H.bin)
        h.denied(.getSecretValue, ["SecretId": "db", "VersionId": .string(previous)], as: H.bin)
        // Naming both, the stage decides (and must belong to the version).
        try h.ok(
            .getSecretValue, ["SecretId": "db", "VersionId": .string(current), "VersionStage": "AWSCURRENT"],
            as: H.bin)
        // BatchGetSecretValue reads AWSCURRENT and is decided the same way.
        try h.putUserPolicy("bin", "batch", policy(allow("secretsmanager:BatchGetSecretValue")))
        let batch = try h.ok(.batchGetSecretValue, ["SecretIdList": ["db"]], as: H.bin)
        #expect(batch["SecretValues"]?.listValue?.count == 1)
        #expect(batch["Errors"]?.listValue?.isEmpty == true)
    }

    @Test func denyingThePreviousVersion() throws {
        let h = try H()
        let (previous, current) = try twoVersions(h)
        try h.putUserPolicy("bin", "all", policy(allow("secretsmanager:GetSecretValue")))
        // The robust form: deny every read that is not explicitly of AWSCURRENT. A negated operator is true when
        // the key is absent, so reads by VersionId alone are denied too.
        try h.putUserPolicy(
            "bin", "current-only",
            policy(
                deny(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringNotEquals":{"secretsmanager:VersionStage":"AWSCURRENT"}}"#)))
        #expect(try h.value("db", as: H.bin) == "two")
        h.denied(.getSecretValue, ["SecretId": "db", "VersionStage": "AWSPREVIOUS"], as: H.bin)
        h.denied(.getSecretValue, ["SecretId": "db", "VersionId": .string(previous)], as: H.bin)
        h.denied(.getSecretValue, ["SecretId": "db", "VersionId": .string(current)], as: H.bin)
        // The weaker form (Deny when VersionStage = AWSPREVIOUS) leaves reads by VersionId open.
        try h.putUserPolicy(
            "bin", "current-only",
            policy(
                deny(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringEquals":{"secretsmanager:VersionStage":"AWSPREVIOUS"}}"#)))
        h.denied(.getSecretValue, ["SecretId": "db", "VersionStage": "AWSPREVIOUS"], as: H.bin)
        #expect(
            try h.ok(.getSecretValue, ["SecretId": "db", "VersionId": .string(previous)], as: H.bin).secretText(
                "SecretString") == "one")
    }

    @Test func versionIdCondition() throws {
        let h = try H()
        let (previous, _) = try twoVersions(h)
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringEquals":{"secretsmanager:VersionId":"\#(previous)"}}"#)))
        try h.ok(.getSecretValue, ["SecretId": "db", "VersionId": .string(previous)], as: H.bin)
        h.denied(.getSecretValue, ["SecretId": "db"], as: H.bin)
    }

    @Test func updateSecretVersionStageSeesTheLabel() throws {
        let h = try H()
        let (previous, current) = try twoVersions(h)
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:UpdateSecretVersionStage",
                    when: #"{"StringNotEquals":{"secretsmanager:VersionStage":"AWSCURRENT"}}"#)))
        try h.ok(
            .updateSecretVersionStage,
            ["SecretId": "db", "VersionStage": "TEST", "MoveToVersionId": .string(previous)],
            as: H.bin)
        h.denied(
            .updateSecretVersionStage,
            [
                "SecretId": "db", "VersionStage": "AWSCURRENT", "MoveToVersionId": .string(previous),
                "RemoveFromVersionId": .string(current),
            ], as: H.bin)
    }

    @Test func usernameVariableGivesEachUserAHome() throws {
        let h = try H()
        try h.create("home/bin/token", "bin's")
        try h.create("home/sys/token", "sys's")
        let homes = policy(
            allow(
                "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:CreateSecret",
                on: [h.secretPrefix + "home/${aws:username}/*"]))
        try h.iamOK(.createPolicy, ["PolicyName": "homes", "PolicyDocument": .string(homes)])
        for user in ["bin", "sys"] {
            try h.iamOK(.attachUserPolicy, ["UserName": .string(user), "PolicyArn": .string(h.policyARN("homes"))])
        }
        #expect(try h.value("home/bin/token", as: H.bin) == "bin's")
        #expect(try h.value("home/sys/token", as: H.sys) == "sys's")
        h.denied(.getSecretValue, ["SecretId": "home/sys/token"], as: H.bin)
        h.denied(.getSecretValue, ["SecretId": "home/bin/token"], as: H.sys)
        try h.ok(.createSecret, ["Name": "home/bin/new", "SecretString": "x"], as: H.bin)
        h.denied(.createSecret, ["Name": "home/sys/new", "SecretString": "x"], as: H.bin)
        // A substituted value is literal: a name containing "*" would not widen the pattern (names cannot hold
        // "*" anyway); and a caller without a name resolves to uid-<n>, which owns no home here.
        let unnamed = Caller(uid: 4242, gid: 4242, pid: 9)
        h.denied(.getSecretValue, ["SecretId": "home/bin/token"], as: unnamed)
    }

    @Test func policyVariableInAConditionValue() throws {
        let h = try H()
        try h.create("owned", tags: [("owner", "bin")])
        try h.putGroupPolicy(
            "bin",  // bin's primary group
            policy(
                allow(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringEquals":{"secretsmanager:ResourceTag/owner":"${aws:username}"}}"#)))
        #expect(try h.value("owned", as: H.bin) == "v1")
        let sysInBinGroup = Caller(uid: 3, gid: 3, groups: [2], pid: 9, userName: "sys", groupNames: ["sys", "bin"])
        h.denied(.getSecretValue, ["SecretId": "owned"], as: sysInBinGroup)
    }

    @Test func peerGroupsAndPeerUidConditions() throws {
        let h = try H()
        try h.create("s")
        // In a group policy: only uid 1 among the members.
        try h.putGroupPolicy(
            "staff",
            policy(allow("secretsmanager:GetSecretValue", when: #"{"NumericEquals":{"coffer:PeerUid":"1"}}"#)))
        #expect(try h.value("s", as: H.daemon) == "v1")
        let sysInStaff = Caller(uid: 3, gid: 3, groups: [50], pid: 9, userName: "sys", groupNames: ["sys", "staff"])
        h.denied(.getSecretValue, ["SecretId": "s"], as: sysInStaff)
        // In a resource policy for everyone, narrowed by the connect-time groups (a multivalued key).
        try h.putResourcePolicy(
            "s",
            policy(
                #"{"Effect":"Allow","Principal":"*","Action":"secretsmanager:DescribeSecret","Resource":"*","#
                    + #""Condition":{"ForAnyValue:StringEquals":{"coffer:PeerGroups":["staff","adm"]}}}"#))
        try h.ok(.describeSecret, ["SecretId": "s"], as: sysInStaff)
        try h.ok(.describeSecret, ["SecretId": "s"], as: H.daemon)
        h.denied(.describeSecret, ["SecretId": "s"], as: H.bin)
        // coffer:PeerGids holds the numbers (primary first).
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:ListSecretVersionIds",
                    when: #"{"ForAnyValue:StringEquals":{"coffer:PeerGids":"2"}}"#)
            ))
        try h.ok(.listSecretVersionIds, ["SecretId": "s"], as: H.bin)
    }

    @Test func executableAndUnitConditions() throws {
        let h = try H()
        try h.create("s")
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringEquals":{"coffer:ExecutablePath":"/usr/bin/myapp"}}"#),
                allow(
                    "secretsmanager:DescribeSecret",
                    when: #"{"StringLike":{"coffer:SystemdUnit":"backup-*.service"}}"#)))
        let viaApp = Caller(
            uid: 2, gid: 2, pid: 9, userName: "bin", groupNames: ["bin"], executablePath: "/usr/bin/myapp")
        let viaShell = Caller(uid: 2, gid: 2, pid: 9, userName: "bin", groupNames: ["bin"], executablePath: "/bin/sh")
        #expect(try h.value("s", as: viaApp) == "v1")
        h.denied(.getSecretValue, ["SecretId": "s"], as: viaShell)
        h.denied(.getSecretValue, ["SecretId": "s"], as: H.bin)  // unknown executable: the key is absent
        // A unit without a role: the user's policies apply and coffer:SystemdUnit names the unit.
        try h.ok(.describeSecret, ["SecretId": "s"], as: H.inUnit(H.bin, "backup-daily.service"))
        h.denied(.describeSecret, ["SecretId": "s"], as: H.inUnit(H.bin, "web.service"))
        h.denied(.describeSecret, ["SecretId": "s"], as: H.bin)
    }

    @Test func currentTimeConditionFollowsTheClock() throws {
        let h = try H()  // the clock starts at 2025-11-29T07:06:40Z
        try h.create("s")
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:GetSecretValue",
                    when: #"{"DateLessThan":{"aws:CurrentTime":"2025-12-01T00:00:00Z"},"#
                        + #""NumericGreaterThan":{"aws:EpochTime":"1764400000"}}"#)))
        h.denied(.getSecretValue, ["SecretId": "s"], as: H.bin)  // EpochTime is not yet > 1764400000
        h.clock.advance(milliseconds: 1_000)
        #expect(try h.value("s", as: H.bin) == "v1")
        h.clock.advance(days: 2)
        h.denied(.getSecretValue, ["SecretId": "s"], as: H.bin)
    }

    @Test func deleteSecretParameters() throws {
        let h = try H()
        for name in ["a", "b", "c", "d"] { try h.create(name) }
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:DeleteSecret",
                    when: #"{"NumericGreaterThanEquals":{"secretsmanager:RecoveryWindowInDays":"14"}}"#),
                deny(
                    "secretsmanager:DeleteSecret",
                    when: #"{"Bool":{"secretsmanager:ForceDeleteWithoutRecovery":"true"}}"#)))
        try h.ok(.deleteSecret, ["SecretId": "a", "RecoveryWindowInDays": 30], as: H.bin)
        h.denied(.deleteSecret, ["SecretId": "b", "RecoveryWindowInDays": 7], as: H.bin)
        // Without RecoveryWindowInDays the key is absent (the 30-day default is not filled in): not allowed.
        h.denied(.deleteSecret, ["SecretId": "c"], as: H.bin)
        h.denied(.deleteSecret, ["SecretId": "d", "ForceDeleteWithoutRecovery": true], as: H.bin)
    }

    @Test func nameAndDescriptionConditions() throws {
        let h = try H()
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:CreateSecret",
                    when: #"{"StringLike":{"secretsmanager:Name":"bin-*"},"#
                        + #""StringEqualsIfExists":{"secretsmanager:Description":"ok"}}"#)))
        try h.ok(.createSecret, ["Name": "bin-1", "SecretString": "x"], as: H.bin)
        try h.ok(.createSecret, ["Name": "bin-2", "SecretString": "x", "Description": "ok"], as: H.bin)
        h.denied(.createSecret, ["Name": "bin-3", "SecretString": "x", "Description": "no"], as: H.bin)
        h.denied(.createSecret, ["Name": "other", "SecretString": "x"], as: H.bin)
    }

    @Test func blockPublicPolicyCondition() throws {
        let h = try H()
        try h.create("s")
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:PutResourcePolicy",
                    when: #"{"Bool":{"secretsmanager:BlockPublicPolicy":"true"}}"#)))
        let document = policy(
            #"{"Effect":"Allow","Principal":{"AWS":"arn:coffer:iam::123456789012:user/sys"},"#
                + #""Action":"secretsmanager:GetSecretValue","Resource":"*"}"#)
        h.denied(.putResourcePolicy, ["SecretId": "s", "ResourcePolicy": .string(document)], as: H.bin)
        try h.ok(
            .putResourcePolicy, ["SecretId": "s", "ResourcePolicy": .string(document), "BlockPublicPolicy": true],
            as: H.bin)
    }
}

extension Result where Failure == ServiceError {
    var failureCode: ErrorCode? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
}
