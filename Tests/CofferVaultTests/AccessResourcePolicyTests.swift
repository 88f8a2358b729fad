import CofferCore
import CofferProtocol
import Testing

@testable import CofferVault

/// A secret's resource policy: Put/Get/Delete/ValidateResourcePolicy and how it combines with identity policies.
@Suite struct AccessResourcePolicyTests {
    typealias H = AccessHarness

    static let binARN = "arn:coffer:iam::123456789012:user/bin"

    func readFor(_ principal: String, action: String = "secretsmanager:GetSecretValue") -> String {
        policy(#"{"Effect":"Allow","Principal":{"AWS":"\#(principal)"},"Action":"\#(action)","Resource":"*"}"#)
    }

    @Test func aResourcePolicyGrantsAnotherUserRead() throws {
        let h = try H()
        try h.create("shared/key", "k")
        h.denied(.getSecretValue, ["SecretId": "shared/key"], as: H.bin)
        try h.putResourcePolicy("shared/key", readFor(AccessResourcePolicyTests.binARN))
        #expect(try h.value("shared/key", as: H.bin) == "k")  // no identity policy needed
        // Only that action, that secret, that user.
        h.denied(.describeSecret, ["SecretId": "shared/key"], as: H.bin)
        h.denied(.putSecretValue, ["SecretId": "shared/key", "SecretString": "x"], as: H.bin)
        h.denied(.getSecretValue, ["SecretId": "shared/key"], as: H.sys)
        try h.create("other")
        h.denied(.getSecretValue, ["SecretId": "other"], as: H.bin)
        // Deleting the policy takes the grant away.
        try h.ok(.deleteResourcePolicy, ["SecretId": "shared/key"])
        h.denied(.getSecretValue, ["SecretId": "shared/key"], as: H.bin)
    }

    @Test func aResourcePolicyCanNameARole() throws {
        let h = try H()
        try h.create("s", "k")
        try h.createRole("myapp.service")
        try h.putResourcePolicy("s", readFor("arn:coffer:iam::123456789012:role/myapp.service"))
        #expect(try h.value("s", as: H.inUnit(H.bin, "myapp.service")) == "k")
        h.denied(.getSecretValue, ["SecretId": "s"], as: H.bin)
    }

    @Test(arguments: ["arn:coffer:iam::123456789012:root", "123456789012"])
    func anAccountPrincipalOnlyDelegatesToIdentityPolicies(_ account: String) throws {
        let h = try H()
        try h.create("s", "k")
        try h.putResourcePolicy("s", readFor(account))
        h.denied(.getSecretValue, ["SecretId": "s"], as: H.bin)  // the account principal grants nothing itself
        try h.putUserPolicy("bin", policy(allow("secretsmanager:GetSecretValue")))
        #expect(try h.value("s", as: H.bin) == "k")  // the identity policy does
    }

    @Test func everyonePrincipalGrantsEveryLocalCaller() throws {
        let h = try H()
        try h.create("public/motd", "hello")
        try h.putResourcePolicy("public/motd", readFor("*"))
        for caller in [H.daemon, H.bin, H.sys, Caller(uid: 4242, gid: 4242, pid: 9)] {
            #expect(try h.value("public/motd", as: caller) == "hello")
        }
    }

    @Test func resourcePolicyConditionsUsePrincipalKeys() throws {
        let h = try H()
        try h.create("s", "k")
        try h.createRole("myapp.service")
        try h.putUserPolicy("bin", policy(allow("secretsmanager:*")))
        try h.putRolePolicy("myapp.service", policy(allow("secretsmanager:*")))
        // Only the role may read, whatever the identity policies say (AWS's recommended form instead of
        // NotPrincipal).
        try h.putResourcePolicy(
            "s",
            policy(
                #"{"Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*","#
                    + #""Condition":{"ArnNotEquals":{"aws:PrincipalArn":"arn:coffer:iam::123456789012:role/myapp.service"}}}"#
            ))
        h.denied(.getSecretValue, ["SecretId": "s"], as: H.bin)
        try h.ok(.describeSecret, ["SecretId": "s"], as: H.bin)
        #expect(try h.value("s", as: H.inUnit(H.bin, "myapp.service")) == "k")
    }

    @Test func notPrincipalDenyExemptsTheListedUser() throws {
        let h = try H()
        try h.create("s", "k")
        try h.putUserPolicy("bin", policy(allow("secretsmanager:GetSecretValue")))
        try h.putUserPolicy("sys", policy(allow("secretsmanager:GetSecretValue")))
        try h.putResourcePolicy(
            "s",
            policy(
                #"{"Effect":"Deny","NotPrincipal":{"AWS":["arn:coffer:iam::123456789012:user/bin","#
                    + #""arn:coffer:iam::123456789012:root"]},"Action":"secretsmanager:*","Resource":"*"}"#))
        #expect(try h.value("s", as: H.bin) == "k")
        h.denied(.getSecretValue, ["SecretId": "s"], as: H.sys)
    }

    @Test func putResourcePolicyValidation() throws {
        let h = try H()
        try h.create("s")
        func put(_ document: String, block: Bool? = nil) -> Result<Document, ServiceError> {
            var request: Document = ["SecretId": "s", "ResourcePolicy": .string(document)]
            if let block { request["BlockPublicPolicy"] = .bool(block) }
            return h.call(.putResourcePolicy, request, as: H.root)
        }
        // Malformed: not JSON, no Principal, an unknown element, NotPrincipal with Allow.
        for bad in [
            "{not json",
            policy(allow("secretsmanager:GetSecretValue")),
            policy(#"{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*","Extra":1}"#),
            policy(#"{"Effect":"Allow","NotPrincipal":"*","Action":"secretsmanager:*","Resource":"*"}"#),
        ] {
            #expect(put(bad).failureCode == .malformedPolicyDocument, "\(bad)")
        }
        #expect(
            put(policy(allow("secretsmanager:GetSecretValue"))).failureMessage == "Missing required field Principal")
        // Public: everyone, or another account, with BlockPublicPolicy → PublicPolicyException.
        let everyone = readFor("*")
        let otherAccount = readFor("arn:coffer:iam::999999999999:user/mallory")
        #expect(put(everyone, block: true).failureCode == .publicPolicy)
        #expect(put(otherAccount, block: true).failureCode == .publicPolicy)
        #expect(
            put(everyone, block: true).failureMessage
                == "The BlockPublicPolicy parameter is set to true, and the resource policy that you attached grants "
                + "public access to the secret.")
        // Nothing was stored by the refused calls.
        #expect(try h.ok(.getResourcePolicy, ["SecretId": "s"])["ResourcePolicy"] == nil)
        // Not public: a named user of this account, or everyone confined to named principals by a condition.
        #expect((try? put(readFor(AccessResourcePolicyTests.binARN), block: true).get()) != nil)
        let confined = policy(
            #"{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*","#
                + #""Condition":{"StringEquals":{"aws:username":"bin"}}}"#)
        #expect((try? put(confined, block: true).get()) != nil)
        // Confining to the account is not enough here: every local caller is in the vault's account.
        let accountWide = policy(
            #"{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*","#
                + #""Condition":{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}}"#)
        #expect(put(accountWide, block: true).failureCode == .publicPolicy)
        // Without BlockPublicPolicy a public policy is stored.
        #expect((try? put(everyone).get()) != nil)
        #expect(try h.ok(.getResourcePolicy, ["SecretId": "s"])["ResourcePolicy"]?.stringValue == everyone)
        // Size limit: 20,480 characters.
        let padded = policy(
            #"{"Sid":"\#(String(repeating: "a", count: 20_500))","Effect":"Allow","Principal":"*","#
                + #""Action":"secretsmanager:*","Resource":"*"}"#)
        #expect(put(padded).failureCode == .validation)
    }

    @Test func getAndDeleteResourcePolicy() throws {
        let h = try H()
        let arn = try h.create("s")
        // No policy: ARN and Name, and no ResourcePolicy key at all.
        let none = try h.ok(.getResourcePolicy, ["SecretId": "s"])
        #expect(none.keys.sorted() == ["ARN", "Name"])
        #expect(none["ARN"]?.stringValue == arn)
        let document = readFor(AccessResourcePolicyTests.binARN)
        let put = try h.ok(.putResourcePolicy, ["SecretId": "s", "ResourcePolicy": .string(document)])
        #expect(put.keys.sorted() == ["ARN", "Name"])
        #expect(try h.ok(.getResourcePolicy, ["SecretId": "s"])["ResourcePolicy"]?.stringValue == document)
        // Delete is idempotent.
        #expect(try h.ok(.deleteResourcePolicy, ["SecretId": "s"]).keys.sorted() == ["ARN", "Name"])
        try h.ok(.deleteResourcePolicy, ["SecretId": "s"])
        #expect(try h.ok(.getResourcePolicy, ["SecretId": "s"])["ResourcePolicy"] == nil)
        // Missing secrets (for an authorized caller) are ResourceNotFound.
        h.fails(.getResourcePolicy, ["SecretId": "missing"], .resourceNotFound, as: H.root)
        h.fails(.deleteResourcePolicy, ["SecretId": "missing"], .resourceNotFound, as: H.root)
        h.fails(
            .putResourcePolicy, ["SecretId": "missing", "ResourcePolicy": .string(document)], .resourceNotFound,
            as: H.root)
    }

    @Test func resourcePolicyActionsAreAuthorized() throws {
        let h = try H()
        try h.create("s")
        let document = readFor(AccessResourcePolicyTests.binARN)
        h.denied(.putResourcePolicy, ["SecretId": "s", "ResourcePolicy": .string(document)], as: H.bin)
        h.denied(.getResourcePolicy, ["SecretId": "s"], as: H.bin)
        h.denied(.deleteResourcePolicy, ["SecretId": "s"], as: H.bin)
        h.denied(.validateResourcePolicy, ["SecretId": "s", "ResourcePolicy": .string(document)], as: H.bin)
        h.denied(.validateResourcePolicy, ["ResourcePolicy": .string(document)], as: H.bin)
        // A resource policy can delegate its own management (PutResourcePolicy is a secret-scoped action).
        try h.putResourcePolicy(
            "s", readFor(AccessResourcePolicyTests.binARN, action: "secretsmanager:*ResourcePolicy"))
        try h.ok(.getResourcePolicy, ["SecretId": "s"], as: H.bin)
        try h.ok(.validateResourcePolicy, ["SecretId": "s", "ResourcePolicy": .string(document)], as: H.bin)
        try h.ok(.putResourcePolicy, ["SecretId": "s", "ResourcePolicy": .string(document)], as: H.bin)
        // ...and the new policy no longer lets bin manage it.
        h.denied(.getResourcePolicy, ["SecretId": "s"], as: H.bin)
    }

    @Test func validateResourcePolicyFindings() throws {
        let h = try H()
        try h.create("s")
        func validate(_ document: String, secret: Bool = true) throws -> (Bool?, [(String, String)]) {
            var request: Document = ["ResourcePolicy": .string(document)]
            if secret { request["SecretId"] = "s" }
            let doc = try h.ok(.validateResourcePolicy, request)
            let errors = (doc["ValidationErrors"]?.listValue ?? []).compactMap(\.mapValue).map {
                ($0["CheckName"]?.stringValue ?? "", $0["ErrorMessage"]?.stringValue ?? "")
            }
            return (doc["PolicyValidationPassed"]?.boolValue, errors)
        }
        let good = try validate(readFor(AccessResourcePolicyTests.binARN))
        #expect(good.0 == true)
        #expect(good.1.isEmpty)
        let syntax = try validate(policy(allow("secretsmanager:GetSecretValue")), secret: false)
        #expect(syntax.0 == false)
        #expect(syntax.1.map(\.0) == ["SYNTAX_CHECKING"])
        #expect(syntax.1.first?.1 == "Missing required field Principal")
        let open = try validate(
            policy(
                #"{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*"}"#,
                #"{"Effect":"Allow","Principal":{"AWS":"999999999999"},"Action":"secretsmanager:*","Resource":"*"}"#,
                #"{"Effect":"Deny","Principal":"*","Action":"secretsmanager:DeleteSecret","Resource":"*"}"#))
        #expect(open.0 == false)
        #expect(open.1.map(\.0) == ["PUBLIC_ACCESS_CHECKING", "PUBLIC_ACCESS_CHECKING"])
        #expect(open.1.first?.1.hasPrefix("Statement \"Open\" grants public access") == true)
        #expect(open.1.last?.1.hasPrefix("Statement at index 1 grants public access") == true)
        // Validation stores nothing.
        #expect(try h.ok(.getResourcePolicy, ["SecretId": "s"])["ResourcePolicy"] == nil)
        // A missing secret is ResourceNotFound for an authorized caller.
        h.fails(
            .validateResourcePolicy,
            ["SecretId": "missing", "ResourcePolicy": .string(readFor(AccessResourcePolicyTests.binARN))],
            .resourceNotFound, as: H.root)
    }
}

extension Result where Failure == ServiceError {
    var failureMessage: String? {
        if case .failure(let error) = self { return error.message }
        return nil
    }
}
