import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

/// IAM's policy simulator on the admin socket, checked against AWS-documented examples with their `arn:aws:` ARNs
/// unchanged, and against the vault's own principals.
@Suite struct SimulationTests {
    typealias H = AccessHarness

    struct Outcome {
        var action: String
        var resource: String
        var decision: String
        var matched: [(id: String, type: String)]
    }

    func results(_ doc: Document) -> [Outcome] {
        (doc["EvaluationResults"]?.listValue ?? []).compactMap(\.mapValue).map { entry in
            Outcome(
                action: entry["EvalActionName"]?.stringValue ?? "",
                resource: entry["EvalResourceName"]?.stringValue ?? "",
                decision: entry["EvalDecision"]?.stringValue ?? "",
                matched: (entry["MatchedStatements"]?.listValue ?? []).compactMap(\.mapValue).map {
                    ($0["SourcePolicyId"]?.stringValue ?? "", $0["SourcePolicyType"]?.stringValue ?? "")
                })
        }
    }

    func simulate(_ h: H, _ request: Document, as caller: Caller = H.root) throws -> [Outcome] {
        results(try h.iamOK(.simulateCustomPolicy, request, as: caller))
    }

    func context(_ name: String, _ values: [String], _ type: String) -> Value {
        .map([
            "ContextKeyName": .string(name), "ContextKeyValues": .list(values.map { .string($0) }),
            "ContextKeyType": .string(type),
        ])
    }

    // AWS CLI reference, `aws iam simulate-custom-policy`, examples 1 and 2 (DynamoDB access after a date).
    static let dynamoAfterDate =
        #"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","#
        + #""Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}"#

    @Test(arguments: [("2019-04-25T11:00:00Z", "allowed"), ("2014-04-25T11:00:00Z", "implicitDeny")])
    func awsCLIExampleDateCondition(_ time: String, _ expected: String) throws {
        let h = try H()
        let out = try simulate(
            h,
            [
                "PolicyInputList": [.string(SimulationTests.dynamoAfterDate)],
                "ActionNames": ["dynamodb:CreateBackup"],
                "ContextEntries": [context("aws:CurrentTime", [time], "date")],
            ])
        #expect(out.count == 1)
        #expect(out.first?.action == "dynamodb:CreateBackup")
        #expect(out.first?.resource == "*")
        #expect(out.first?.decision == expected)
        #expect(out.first?.matched.map(\.id) == (expected == "allowed" ? ["PolicyInputList.1"] : []))
    }

    @Test func responseShape() throws {
        let h = try H()
        let doc = try h.iamOK(
            .simulateCustomPolicy,
            [
                "PolicyInputList": [.string(SimulationTests.dynamoAfterDate)],
                "ActionNames": ["dynamodb:CreateBackup"],
                "ContextEntries": [context("aws:CurrentTime", ["2019-04-25T11:00:00Z"], "date")],
            ])
        #expect(doc.keys.sorted() == ["EvaluationResults", "IsTruncated"])
        #expect(doc["IsTruncated"]?.boolValue == false)
        let entry = doc["EvaluationResults"]?.listValue?.first?.mapValue ?? [:]
        #expect(
            entry.keys.sorted() == [
                "EvalActionName", "EvalDecision", "EvalResourceName", "MatchedStatements", "MissingContextValues",
            ])
    }

    // Secrets Manager user guide, "Controlling access to secrets for principals": a resource policy granting the
    // user anaya every Secrets Manager action on the secret.
    static let anaya =
        #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","#
        + #""Principal":{"AWS":"arn:aws:iam::123456789012:user/anaya"},"Resource":"*"}]}"#
    static let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:MySecret-a1b2c3"
    static let unrelated = policy(allow("s3:ListAllMyBuckets"))

    @Test func awsResourcePolicyGrantingOneUser() throws {
        let h = try H()
        func run(_ caller: String) throws -> [Outcome] {
            try simulate(
                h,
                [
                    "PolicyInputList": [.string(SimulationTests.unrelated)],
                    "ResourcePolicy": .string(SimulationTests.anaya), "CallerArn": .string(caller),
                    "ActionNames": ["secretsmanager:GetSecretValue", "secretsmanager:DeleteSecret"],
                    "ResourceArns": [.string(SimulationTests.secret)],
                ])
        }
        let anaya = try run("arn:aws:iam::123456789012:user/anaya")
        #expect(anaya.map(\.decision) == ["allowed", "allowed"])
        #expect(anaya.map(\.resource) == [SimulationTests.secret, SimulationTests.secret])
        #expect(anaya.first?.matched.map(\.id) == ["ResourcePolicy"])
        #expect(anaya.first?.matched.map(\.type) == ["resource"])
        let mateo = try run("arn:aws:iam::123456789012:user/mateo")
        #expect(mateo.map(\.decision) == ["implicitDeny", "implicitDeny"])
    }

    // Secrets Manager user guide, "Resource-based policies": the account administrator delegates GetSecretValue of
    // prod/ServerA to identity policies, for the current version only.
    static let delegating =
        #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"#
        + #""Action":"secretsmanager:GetSecretValue","#
        + #""Resource":"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/ServerA-a1b2c3","#
        + #""Condition":{"ForAnyValue:StringEquals":{"secretsmanager:VersionStage":"AWSCURRENT"}}}]}"#

    @Test func awsAccountPrincipalDelegates() throws {
        let h = try H()
        let serverA = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/ServerA-a1b2c3"
        func run(_ identity: String, stage: String) throws -> String? {
            try simulate(
                h,
                [
                    "PolicyInputList": [.string(identity)], "ResourcePolicy": .string(SimulationTests.delegating),
                    "CallerArn": "arn:aws:iam::123456789012:user/dev", "ActionNames": ["secretsmanager:GetSecretValue"],
                    "ResourceArns": [.string(serverA)],
                    "ContextEntries": [context("secretsmanager:VersionStage", [stage], "stringList")],
                ]
            ).first?.decision
        }
        // The account principal grants nothing by itself...
        #expect(try run(SimulationTests.unrelated, stage: "AWSCURRENT") == "implicitDeny")
        // ...an identity policy does; the resource policy's Allow then also matches (and is listed).
        let readAll = policy(allow("secretsmanager:GetSecretValue"))
        #expect(try run(readAll, stage: "AWSCURRENT") == "allowed")
        #expect(try run(readAll, stage: "AWSPREVIOUS") == "allowed")
    }

    @Test func explicitDenyListsOnlyTheDenyStatements() throws {
        let h = try H()
        let allowAll =
            #"{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}]}"#
        let denyDelete =
            #"{"Version":"2012-10-17","Statement":[{"Sid":"NoDelete","Effect":"Deny","#
            + #""Action":"secretsmanager:DeleteSecret","Resource":"arn:aws:secretsmanager:*:*:secret:prod/*"}]}"#
        let out = try simulate(
            h,
            [
                "PolicyInputList": [.string(allowAll), .string(denyDelete)],
                "ActionNames": ["secretsmanager:DeleteSecret", "secretsmanager:GetSecretValue"],
                "ResourceArns": [
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:dev/db-AbCdEf",
                ],
            ])
        // Each action against each resource, actions outer.
        #expect(
            out.map(\.action) == Array(repeating: "secretsmanager:DeleteSecret", count: 2)
                + Array(repeating: "secretsmanager:GetSecretValue", count: 2))
        #expect(out.map(\.decision) == ["explicitDeny", "allowed", "allowed", "allowed"])
        #expect(out[0].matched.map(\.id) == ["PolicyInputList.2"])
        #expect(out[1].matched.map(\.id) == ["PolicyInputList.1"])
        #expect(out[0].matched.map(\.type) == ["IAM Policy"])
    }

    @Test func multivaluedContextEntries() throws {
        let h = try H()
        let tagged =
            policy(
                allow(
                    "secretsmanager:CreateSecret",
                    when:
                        #"{"ForAllValues:StringEquals":{"aws:TagKeys":["team","env"]},"Null":{"aws:TagKeys":"false"}}"#)
            )
        func run(_ keys: [String]?) throws -> String? {
            var request: Document = [
                "PolicyInputList": [.string(tagged)], "ActionNames": ["secretsmanager:CreateSecret"],
            ]
            if let keys { request["ContextEntries"] = [context("aws:TagKeys", keys, "stringList")] }
            return try simulate(h, request).first?.decision
        }
        #expect(try run(["team"]) == "allowed")
        #expect(try run(["team", "env"]) == "allowed")
        #expect(try run(["team", "owner"]) == "implicitDeny")
        #expect(try run(nil) == "implicitDeny")
    }

    @Test func pagination() throws {
        let h = try H()
        let request: Document = [
            "PolicyInputList": [.string(policy(allow("secretsmanager:*")))],
            "ActionNames": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "s3:GetObject"],
        ]
        let first = try h.iamOK(.simulateCustomPolicy, request.adding("MaxItems", 2))
        #expect(results(first).map(\.decision) == ["allowed", "allowed"])
        #expect(first["IsTruncated"]?.boolValue == true)
        let second = try h.iamOK(
            .simulateCustomPolicy, request.adding("MaxItems", 2).adding("Marker", first["Marker"] ?? ""))
        #expect(results(second).map(\.action) == ["s3:GetObject"])
        #expect(results(second).map(\.decision) == ["implicitDeny"])
        #expect(second["IsTruncated"]?.boolValue == false)
    }

    @Test func requestErrors() throws {
        let h = try H()
        let read = Value.string(policy(allow("secretsmanager:GetSecretValue")))
        // IAM's ValidationError for a missing required list.
        h.iamFails(.simulateCustomPolicy, ["ActionNames": ["secretsmanager:GetSecretValue"]], .validationIAM)
        h.iamFails(.simulateCustomPolicy, ["PolicyInputList": [read]], .validationIAM)
        h.iamFails(
            .simulateCustomPolicy,
            [
                "PolicyInputList": [read], "ActionNames": ["x:y"],
                "ContextEntries": [
                    context("aws:CurrentTime", ["now"], "time")
                ],
            ], .validationIAM)
        // Policies are validated as IAM managed policies.
        h.iamFails(
            .simulateCustomPolicy, ["PolicyInputList": ["{"], "ActionNames": ["x:y"]], .malformedPolicyDocumentIAM)
        h.iamFails(
            .simulateCustomPolicy,
            ["PolicyInputList": [read], "ActionNames": ["x:y"], "ResourcePolicy": .string(policy(allow("x:y")))],
            .malformedPolicyDocumentIAM)  // a resource policy needs a Principal; IAM's error name
        h.iamFails(
            .simulateCustomPolicy,
            ["PolicyInputList": [read], "ActionNames": ["x:y"], "PermissionsBoundaryPolicyInputList": [read]],
            .invalidInput)
        h.iamFails(
            .simulatePrincipalPolicy,
            ["PolicySourceArn": "arn:coffer:s3:::bucket", "ActionNames": ["secretsmanager:GetSecretValue"]],
            .invalidInput)
        h.iamFails(
            .simulatePrincipalPolicy,
            [
                "PolicySourceArn": "arn:coffer:iam::123456789012:user/cofft-nonexistent",
                "ActionNames": ["secretsmanager:GetSecretValue"],
            ], .noSuchEntity)
    }

    @Test func theSimulatorIsItselfAuthorized() throws {
        let h = try H()
        let read = Value.string(policy(allow("secretsmanager:GetSecretValue")))
        let custom: Document = ["PolicyInputList": [read], "ActionNames": ["secretsmanager:GetSecretValue"]]
        let principal: Document = [
            "PolicySourceArn": .string(h.userARN("sys")), "ActionNames": ["secretsmanager:GetSecretValue"],
        ]
        h.iamFails(.simulateCustomPolicy, custom, .accessDenied, as: H.bin)
        h.iamFails(.simulatePrincipalPolicy, principal, .accessDenied, as: H.bin)
        // SimulatePrincipalPolicy is authorized on the principal simulated.
        try h.putUserPolicy(
            "bin",
            policy(
                allow("iam:SimulateCustomPolicy"),
                allow("iam:SimulatePrincipalPolicy", on: ["arn:coffer:iam::123456789012:user/sys"])))
        try h.iamOK(.simulateCustomPolicy, custom, as: H.bin)
        try h.iamOK(.simulatePrincipalPolicy, principal, as: H.bin)
        h.iamFails(
            .simulatePrincipalPolicy, principal.adding("PolicySourceArn", .string(h.userARN("daemon"))),
            .accessDenied, as: H.bin)
    }

    // MARK: SimulatePrincipalPolicy

    func simulatePrincipal(_ h: H, _ arn: String, _ actions: [String], resource: String? = nil) throws -> [Outcome] {
        var request: Document = [
            "PolicySourceArn": .string(arn), "ActionNames": .list(actions.map { .string($0) }),
        ]
        if let resource { request["ResourceArns"] = [.string(resource)] }
        return results(try h.iamOK(.simulatePrincipalPolicy, request))
    }

    @Test func aStoredUserWithItsGroups() throws {
        let h = try H()
        // bin's groups in the group database: its primary group, bin.
        try h.putUserPolicy("bin", "Grant-Read", policy(allow("secretsmanager:GetSecretValue")))
        try h.putGroupPolicy("bin", "Grant-Describe", policy(allow("secretsmanager:DescribeSecret")))
        try h.putGroupPolicy("staff", "Grant-Put", policy(allow("secretsmanager:PutSecretValue")))  // not bin's
        try h.iamOK(
            .createPolicy,
            ["PolicyName": "Tagging", "PolicyDocument": .string(policy(allow("secretsmanager:TagResource")))])
        try h.iamOK(.attachUserPolicy, ["UserName": "bin", "PolicyArn": .string(h.policyARN("Tagging"))])
        let out = try simulatePrincipal(
            h, h.userARN("bin"),
            [
                "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue",
                "secretsmanager:TagResource",
            ], resource: h.secretPrefix + "app/db-AbCdEf")
        #expect(out.map(\.decision) == ["allowed", "allowed", "implicitDeny", "allowed"])
        #expect(out[0].matched.map(\.type) == ["user"])
        #expect(out[1].matched.map(\.type) == ["group"])
        #expect(out[3].matched.map(\.type) == ["user-managed"])
        #expect(out[3].matched.map(\.id) == [h.policyARN("Tagging")])
    }

    @Test func inlinePoliciesAreIdentifiedByName() throws {
        // AWS CLI reference, `aws iam simulate-principal-policy`, example 1: the user's inline policy is the
        // matched statement's SourcePolicyId.
        let h = try H()
        try h.putUserPolicy(
            "bin", "Grant-Access-To-CodeCommit-ListRepo",
            policy(allow("codecommit:ListRepositories")))
        let out = try simulatePrincipal(h, h.userARN("bin"), ["codecommit:ListRepositories"])
        #expect(out.first?.decision == "allowed")
        #expect(out.first?.resource == "*")
        #expect(out.first?.matched.map(\.id) == ["Grant-Access-To-CodeCommit-ListRepo"])
        #expect(out.first?.matched.map(\.type) == ["user"])
    }

    @Test func aRoleAndAGroup() throws {
        let h = try H()
        try h.createRole("myapp.service")
        try h.putRolePolicy(
            "myapp.service", policy(allow("secretsmanager:GetSecretValue", on: [h.secretPrefix + "app/*"])))
        let role = "arn:coffer:iam::123456789012:role/myapp.service"
        let out = try simulatePrincipal(
            h, role, ["secretsmanager:GetSecretValue"], resource: h.secretPrefix + "app/db-AbCdEf")
        #expect(out.first?.decision == "allowed")
        #expect(out.first?.matched.map(\.type) == ["role"])
        #expect(
            try simulatePrincipal(h, role, ["secretsmanager:GetSecretValue"], resource: h.secretPrefix + "other-AbCdEf")
                .first?.decision == "implicitDeny")
        try h.putGroupPolicy("staff", policy(deny("secretsmanager:*")))
        let group = try simulatePrincipal(h, "arn:coffer:iam::123456789012:group/staff", ["secretsmanager:ListSecrets"])
        #expect(group.first?.decision == "explicitDeny")
        #expect(group.first?.matched.map(\.type) == ["group"])
        h.iamFails(
            .simulatePrincipalPolicy,
            ["PolicySourceArn": "arn:coffer:iam::123456789012:role/none.service", "ActionNames": ["x:y"]],
            .noSuchEntity)
    }

    @Test func simulationHasNoAdministratorShortcut() throws {
        // Root with no policies: the live vault lets the administrator do everything, the simulator says what
        // root's policies alone would decide.
        let h = try H()
        #expect(
            try simulatePrincipal(h, h.userARN("root"), ["secretsmanager:GetSecretValue"]).first?.decision
                == "implicitDeny")
    }

    @Test func addedPolicyInputsJoinTheStoredOnes() throws {
        let h = try H()
        try h.putUserPolicy("bin", policy(allow("secretsmanager:GetSecretValue")))
        let out = results(
            try h.iamOK(
                .simulatePrincipalPolicy,
                [
                    "PolicySourceArn": .string(h.userARN("bin")),
                    "PolicyInputList": [.string(policy(deny("secretsmanager:GetSecretValue")))],
                    "ActionNames": ["secretsmanager:GetSecretValue"],
                ]))
        #expect(out.first?.decision == "explicitDeny")
        #expect(out.first?.matched.map(\.id) == ["PolicyInputList.1"])
    }
}
