import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

/// A caller who may not act on a secret learns nothing about whether it exists; lists show only what the caller may
/// describe; BatchGetSecretValue reports what it may not read under `Errors`.
@Suite struct AccessOracleTests {
    typealias H = AccessHarness

    /// Every secret-scoped operation, with a request naming `id`.
    static func requests(_ id: String) -> [(Operation, Document)] {
        let s = Value.string(id)
        let version = "00000000-0000-4000-8000-000000000000"
        return [
            (.getSecretValue, ["SecretId": s]),
            (.getSecretValue, ["SecretId": s, "VersionStage": "AWSPREVIOUS"]),
            (.getSecretValue, ["SecretId": s, "VersionId": .string(version)]),
            (.describeSecret, ["SecretId": s]),
            (.listSecretVersionIds, ["SecretId": s]),
            (.putSecretValue, ["SecretId": s, "SecretString": "x"]),
            (.updateSecret, ["SecretId": s, "Description": "d"]),
            (.updateSecretVersionStage, ["SecretId": s, "VersionStage": "X", "MoveToVersionId": .string(version)]),
            (.deleteSecret, ["SecretId": s]),
            (.deleteSecret, ["SecretId": s, "ForceDeleteWithoutRecovery": true]),
            (.deleteSecret, ["SecretId": s, "RecoveryWindowInDays": 7]),
            (.restoreSecret, ["SecretId": s]),
            (.tagResource, ["SecretId": s, "Tags": [.map(["Key": "k", "Value": "v"])]]),
            (.untagResource, ["SecretId": s, "TagKeys": ["k"]]),
            (.putResourcePolicy, ["SecretId": s, "ResourcePolicy": .string(policy(allow("secretsmanager:*")))]),
            (.getResourcePolicy, ["SecretId": s]),
            (.deleteResourcePolicy, ["SecretId": s]),
            (.validateResourcePolicy, ["SecretId": s, "ResourcePolicy": .string(policy(allow("secretsmanager:*")))]),
        ]
    }

    /// Two vaults of the same account: one where `app/db` exists (tagged, with a resource policy), one where it
    /// does not. `setUp` gives both the same identity policies.
    static func pair(_ setUp: (H) throws -> Void) throws -> (existing: H, missing: H, arn: String) {
        let existing = try H()
        let missing = try H()
        let arn = try existing.create("app/db", tags: [("env", "prod")])
        try existing.ok(.putSecretValue, ["SecretId": "app/db", "SecretString": "v2"])
        try existing.putResourcePolicy(
            "app/db",
            policy(
                #"{"Effect":"Allow","Principal":{"AWS":"arn:coffer:iam::123456789012:user/sys"},"#
                    + #""Action":"secretsmanager:GetSecretValue","Resource":"*"}"#))
        try setUp(existing)
        try setUp(missing)
        return (existing, missing, arn)
    }

    /// Asserts that every secret-scoped request by `caller` is denied with byte-identical messages in both vaults,
    /// for the name, the partial ARN and the full ARN of the secret.
    func expectNoOracle(
        _ existing: H, _ missing: H, arn: String, as caller: Caller,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for id in ["app/db", existing.secretPrefix + "app/db", arn] {
            for (op, request) in AccessOracleTests.requests(id) {
                let a = existing.call(op, request, as: caller)
                let b = missing.call(op, request, as: caller)
                #expect(a.failureCode == .accessDenied, "\(op.name) \(id): \(a)", sourceLocation: sourceLocation)
                #expect(b.failureCode == .accessDenied, "\(op.name) \(id): \(b)", sourceLocation: sourceLocation)
                #expect(a.failureMessage == b.failureMessage, "\(op.name) \(id)", sourceLocation: sourceLocation)
                #expect(a.failureMessage?.contains(id) == true, sourceLocation: sourceLocation)
            }
        }
    }

    @Test func aCallerWithoutPoliciesCannotTellWhetherASecretExists() throws {
        let (existing, missing, arn) = try AccessOracleTests.pair { _ in }
        expectNoOracle(existing, missing, arn: arn, as: H.bin)
    }

    @Test func aCallerWithOtherPermissionsCannotTellEither() throws {
        // bin may do everything to other/*; nothing to app/*.
        let (existing, missing, arn) = try AccessOracleTests.pair { h in
            try h.putUserPolicy("bin", policy(allow("secretsmanager:*", on: [h.secretPrefix + "other/*"])))
        }
        expectNoOracle(existing, missing, arn: arn, as: H.bin)
    }

    @Test func aBroadDenyHidesExistenceToo() throws {
        let (existing, missing, arn) = try AccessOracleTests.pair { h in
            try h.putUserPolicy(
                "bin",
                policy(allow("secretsmanager:*"), deny("secretsmanager:*", on: [h.secretPrefix + "app/*"])))
        }
        expectNoOracle(existing, missing, arn: arn, as: H.bin)
    }

    @Test
    func aDenyThatMatchesOnlyExistingSecretsLeaksNothing() throws {
        // A Deny on the exact ARN pattern matches the existing secret but not the label of a missing one; a caller
        // with no permission at all must still get the same message in both cases.
        let (existing, missing, arn) = try AccessOracleTests.pair { h in
            try h.putUserPolicy("bin", policy(deny("secretsmanager:*", on: [h.secretPrefix + "app/db-??????"])))
        }
        expectNoOracle(existing, missing, arn: arn, as: H.bin)
        // The same through the secret's resource policy (a Deny for everyone but root).
        try existing.putResourcePolicy(
            "app/db",
            policy(#"{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*"}"#))
        expectNoOracle(existing, missing, arn: arn, as: H.sys)
    }

    @Test func anAllowedCallerSeesNotFound() throws {
        // The other side of the rule: with permission on the name, a missing secret is ResourceNotFound.
        let h = try H()
        try h.putUserPolicy("bin", policy(allow("secretsmanager:*", on: [h.secretPrefix + "app/*"])))
        h.fails(.getSecretValue, ["SecretId": "app/none"], .resourceNotFound, as: H.bin)
        h.fails(.describeSecret, ["SecretId": "app/none"], .resourceNotFound, as: H.bin)
    }

    @Test
    func rotationIsAuthorizedFirst() throws {
        let h = try H()
        try h.create("app/db")
        h.denied(.rotateSecret, ["SecretId": "app/db"], as: H.bin)
        h.denied(.cancelRotateSecret, ["SecretId": "app/db"], as: H.bin)
    }

    // MARK: ListSecrets

    func names(_ doc: Document) -> [String] {
        (doc["SecretList"]?.listValue ?? []).compactMap { $0.mapValue?["Name"]?.stringValue }
    }

    @Test func listSecretsShowsOnlyWhatTheCallerMayDescribe() throws {
        let h = try H()
        for name in ["team/a", "team/b", "other/c", "team/d", "other/e", "shared/f"] { try h.create(name) }
        try h.create("tagged/g", tags: [("team", "blue")])
        try h.putResourcePolicy(
            "shared/f",
            policy(
                #"{"Effect":"Allow","Principal":{"AWS":"arn:coffer:iam::123456789012:user/bin"},"#
                    + #""Action":"secretsmanager:DescribeSecret","Resource":"*"}"#))
        h.denied(.listSecrets, [:], as: H.bin)
        try h.putUserPolicy("bin", "list", policy(allow("secretsmanager:ListSecrets")))
        // ListSecrets alone: only what a resource policy lets bin describe.
        #expect(names(try h.ok(.listSecrets, [:], as: H.bin)) == ["shared/f"])
        try h.putUserPolicy(
            "bin", "describe",
            policy(
                allow("secretsmanager:DescribeSecret", on: [h.secretPrefix + "team/*"]),
                allow("secretsmanager:DescribeSecret", when: #"{"StringEquals":{"aws:ResourceTag/team":"blue"}}"#)))
        #expect(
            names(try h.ok(.listSecrets, [:], as: H.bin)) == ["team/a", "team/b", "team/d", "shared/f", "tagged/g"])
        // Pages hold only visible secrets, and are full until the last.
        var seen: [String] = []
        var token: String?
        repeat {
            var request: Document = ["MaxResults": 2]
            if let token { request["NextToken"] = .string(token) }
            let page = try h.ok(.listSecrets, request, as: H.bin)
            let got = names(page)
            token = page["NextToken"]?.stringValue
            #expect(got.count == (token == nil ? 1 : 2))
            seen += got
        } while token != nil
        #expect(seen == ["team/a", "team/b", "team/d", "shared/f", "tagged/g"])
        // An explicit Deny of DescribeSecret hides a secret the Allow covers.
        try h.putUserPolicy(
            "bin", "hide", policy(deny("secretsmanager:DescribeSecret", on: [h.secretPrefix + "team/b-??????"])))
        #expect(names(try h.ok(.listSecrets, [:], as: H.bin)) == ["team/a", "team/d", "shared/f", "tagged/g"])
        // Filters apply on top of the permission filter.
        let filtered = try h.ok(.listSecrets, ["Filters": [.map(["Key": "name", "Values": ["team/"]])]], as: H.bin)
        #expect(names(filtered) == ["team/a", "team/d"])
    }

    // MARK: BatchGetSecretValue

    @Test func batchGetReportsDeniedSecretsUnderErrors() throws {
        let h = try H()
        try h.create("team/a", "A")
        try h.create("other/b", "B")
        try h.putUserPolicy(
            "bin",
            policy(
                allow("secretsmanager:BatchGetSecretValue"),
                allow("secretsmanager:GetSecretValue", on: [h.secretPrefix + "team/*"])))
        let doc = try h.ok(
            .batchGetSecretValue, ["SecretIdList": ["team/a", "other/b", "team/missing", "other/missing"]], as: H.bin)
        let values = (doc["SecretValues"]?.listValue ?? []).compactMap(\.mapValue)
        #expect(values.map { $0["Name"]?.stringValue } == ["team/a"])
        #expect(values.first?.secretText("SecretString") == "A")
        let errors = (doc["Errors"]?.listValue ?? []).compactMap(\.mapValue)
        #expect(errors.map { $0["SecretId"]?.stringValue } == ["other/b", "team/missing", "other/missing"])
        #expect(
            errors.map { $0["ErrorCode"]?.stringValue }
                == ["AccessDeniedException", "ResourceNotFoundException", "AccessDeniedException"])
        // The denied existing and the denied missing secret read the same, up to the name.
        let denied = errors.filter { $0["ErrorCode"]?.stringValue == "AccessDeniedException" }.map {
            ($0["Message"]?.stringValue ?? "").replacing("other/b", with: "other/missing")
        }
        #expect(denied.count == 2 && denied[0] == denied[1])
        // Without BatchGetSecretValue itself, the whole call is denied.
        try h.iamOK(.deleteUserPolicy, ["UserName": "bin", "PolicyName": "p"])
        h.denied(.batchGetSecretValue, ["SecretIdList": ["team/a"]], as: H.bin)
    }

    @Test func batchGetWithFiltersReadsWhatTheCallerMayRead() throws {
        let h = try H()
        try h.create("team/a", "A")
        try h.create("team/b", "B")
        try h.putUserPolicy(
            "bin",
            policy(
                allow("secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets"),
                allow(
                    "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", on: [h.secretPrefix + "team/a-*"]),
                allow("secretsmanager:DescribeSecret", on: [h.secretPrefix + "team/b-*"])))
        let doc = try h.ok(.batchGetSecretValue, ["Filters": [.map(["Key": "name", "Values": ["team/"]])]], as: H.bin)
        let values = (doc["SecretValues"]?.listValue ?? []).compactMap(\.mapValue)
        #expect(values.map { $0["Name"]?.stringValue } == ["team/a"])
        let errors = (doc["Errors"]?.listValue ?? []).compactMap(\.mapValue)
        #expect(errors.map { $0["ErrorCode"]?.stringValue } == ["AccessDeniedException"])
    }

    @Test
    func batchGetWithFiltersDoesNotEnumerateHiddenSecrets() throws {
        let h = try H()
        try h.create("hidden/one")
        try h.create("hidden/two")
        try h.putUserPolicy("bin", policy(allow("secretsmanager:BatchGetSecretValue")))
        let result = h.call(
            .batchGetSecretValue, ["Filters": [.map(["Key": "name", "Values": ["hidden"]])]], as: H.bin)
        switch result {
        case .failure(let error):
            #expect(error.code == .accessDenied)  // AWS: filters need secretsmanager:ListSecrets
        case .success(let doc):
            #expect(doc["SecretValues"]?.listValue?.isEmpty == true)
            #expect(doc["Errors"]?.listValue?.isEmpty == true, "\(doc)")
        }
    }

    @Test
    func batchGetWithFiltersSeesTheCurrentStage() throws {
        let h = try H()
        try h.create("team/a", "A")
        try h.putUserPolicy(
            "bin",
            policy(
                allow(
                    "secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecrets", "secretsmanager:DescribeSecret"),
                allow(
                    "secretsmanager:GetSecretValue",
                    when: #"{"StringEquals":{"secretsmanager:VersionStage":"AWSCURRENT"}}"#)))
        #expect(try h.value("team/a", as: H.bin) == "A")
        let doc = try h.ok(.batchGetSecretValue, ["Filters": [.map(["Key": "name", "Values": ["team/"]])]], as: H.bin)
        #expect(doc["SecretValues"]?.listValue?.count == 1, "\(doc)")
    }
}
