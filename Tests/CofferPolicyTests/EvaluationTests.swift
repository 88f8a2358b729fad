import CofferCore
import Testing

@testable import CofferPolicy

private let allowGet = #"{"Sid":"Get","Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}"#
private let denyGet = #"{"Sid":"NoGet","Effect":"Deny","Action":"secretsmanager:GetSecretValue","Resource":"*"}"#

@Suite("Evaluation")
struct EvaluationTests {
    @Test("no policy: implicit deny")
    func implicitDeny() {
        let decision = Fixture.decide([], Fixture.context())
        #expect(decision.effect == .implicitDeny)
        #expect(decision.matchedStatements.isEmpty)
    }

    @Test("an identity Allow allows and is reported")
    func identityAllow() throws {
        let decision = Fixture.decide([try Fixture.identity(allowGet)], Fixture.context())
        #expect(decision.effect == .allowed)
        #expect(
            decision.matchedStatements == [
                MatchedStatement(policyId: "p0", sid: "Get", effect: .allow, statementIndex: 0, inResourcePolicy: false)
            ]
        )
    }

    @Test("explicit Deny wins over every Allow, wherever each is")
    func denyWins() throws {
        let allow = try Fixture.identity(allowGet)
        let deny = try Fixture.identity(denyGet)
        let both = try Fixture.identity(allowGet, denyGet)
        let resourceAllow = try Fixture.resource(
            #"{"Effect":"Allow","Principal":{"AWS":"\#(Fixture.alice)"},"Action":"secretsmanager:*","Resource":"*"}"#
        )
        let resourceDeny = try Fixture.resource(
            #"{"Sid":"RD","Effect":"Deny","Principal":"*","Action":"secretsmanager:GetSecretValue","Resource":"*"}"#
        )
        let context = Fixture.context()
        #expect(Fixture.decide([both], context).effect == .explicitDeny)
        #expect(Fixture.decide([allow, deny], context).effect == .explicitDeny)
        #expect(Fixture.decide([deny, allow], context).effect == .explicitDeny)
        #expect(Fixture.decide([deny], resourcePolicy: resourceAllow, context).effect == .explicitDeny)
        let byResource = Fixture.decide([allow], resourcePolicy: resourceDeny, context)
        #expect(byResource.effect == .explicitDeny)
        #expect(
            byResource.matchedStatements == [
                MatchedStatement(policyId: "rp", sid: "RD", effect: .deny, statementIndex: 0, inResourcePolicy: true)
            ]
        )
        let matched = Fixture.decide([both, deny], context).matchedStatements
        #expect(matched.map(\.policyId) == ["p0", "p1"])
        #expect(matched.allSatisfy { $0.effect == .deny })
    }

    @Test("a statement whose condition is false does not apply (never a Deny by failure)")
    func falseConditions() throws {
        let guardedDeny =
            #"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#
        let guardedAllow =
            #"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":"bob"}}}"#
        let secure = Fixture.context(keys: ["aws:SecureTransport": .string("true"), "aws:username": .string("alice")])
        #expect(Fixture.decide([try Fixture.identity(allowGet, guardedDeny)], secure).effect == .allowed)
        #expect(Fixture.decide([try Fixture.identity(guardedAllow)], secure).effect == .implicitDeny)
        let insecure = Fixture.context(keys: ["aws:SecureTransport": .string("false")])
        #expect(Fixture.decide([try Fixture.identity(allowGet, guardedDeny)], insecure).effect == .explicitDeny)
    }

    @Test("NotAction")
    func notAction() throws {
        let allowAllButIAM = try Fixture.identity(#"{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}"#)
        #expect(Fixture.decide([allowAllButIAM], Fixture.context()).isAllowed)
        #expect(!Fixture.decide([allowAllButIAM], Fixture.context(action: "iam:CreateUser")).isAllowed)
        let denyAllButDescribe = try Fixture.identity(
            #"{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}"#,
            #"{"Effect":"Deny","NotAction":["secretsmanager:Describe*","secretsmanager:List*"],"Resource":"*"}"#
        )
        #expect(Fixture.decide([denyAllButDescribe], Fixture.context()).effect == .explicitDeny)
        #expect(
            Fixture.decide([denyAllButDescribe], Fixture.context(action: "secretsmanager:DescribeSecret")).isAllowed)
        #expect(
            Fixture.decide([denyAllButDescribe], Fixture.context(action: "secretsmanager:ListSecrets", resource: "*"))
                .isAllowed)
    }

    @Test("NotResource")
    func notResource() throws {
        let policy = try Fixture.identity(
            #"{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}"#,
            #"{"Effect":"Deny","Action":"secretsmanager:*","NotResource":["\#(Fixture.dbSecret)","\#(Fixture.secretPrefix)shared/*"]}"#
        )
        #expect(Fixture.decide([policy], Fixture.context()).isAllowed)
        #expect(Fixture.decide([policy], Fixture.context(resource: Fixture.secretPrefix + "shared/x-AbCdEf")).isAllowed)
        #expect(
            Fixture.decide([policy], Fixture.context(resource: Fixture.secretPrefix + "other-AbCdEf")).effect
                == .explicitDeny)
        #expect(
            Fixture.decide([policy], Fixture.context(action: "secretsmanager:ListSecrets", resource: "*")).effect
                == .explicitDeny)
    }

    @Test(
        "Action: case-insensitive globs, whole-string, no trimming",
        arguments: [
            ("secretsmanager:GetSecretValue", true),
            ("SecretsManager:getsecretvalue", true),
            ("secretsmanager:Get*", true),
            ("secretsmanager:*Value", true),
            ("secretsmanager:?etSecretValue", true),
            ("*", true),
            ("*:GetSecretValue", true),
            ("secretsmanager:Get", false),
            ("secretsmanager:GetSecretValue ", false),
            ("secretsmanager:GetSecretValue,DescribeSecret", false),
            ("secretsmanager:Describe*", false),
            ("kms:GetSecretValue", false),
        ]
    )
    func actions(pattern: String, matches: Bool) throws {
        let policy = try Fixture.identity(#"{"Effect":"Allow","Action":"\#(pattern)","Resource":"*"}"#)
        #expect(Fixture.decide([policy], Fixture.context()).isAllowed == matches)
    }

    @Test(
        "Resource: case-sensitive ARN globs with IAM's segment rules",
        arguments: [
            ("*", Fixture.dbSecret, true),
            ("*", "*", true),
            (Fixture.dbSecret, Fixture.dbSecret, true),
            ("arn:coffer:secretsmanager:local:123456789012:secret:app/db-??????", Fixture.dbSecret, true),
            (
                "arn:coffer:secretsmanager:local:123456789012:secret:app/db-??????",
                Fixture.secretPrefix + "app/db-prod-AbCdEf", false
            ),
            (
                "arn:coffer:secretsmanager:local:123456789012:secret:app/db-*",
                Fixture.secretPrefix + "app/db-prod-AbCdEf", true
            ),
            ("arn:coffer:secretsmanager:local:123456789012:secret:app/db", Fixture.dbSecret, false),
            ("arn:coffer:secretsmanager:local:123456789012:secret:App/*", Fixture.dbSecret, false),
            ("arn:coffer:secretsmanager:local:123456789012:secret:*", Fixture.dbSecret, true),
            ("arn:coffer:secretsmanager:local:123456789012:*", Fixture.dbSecret, true),
            ("arn:coffer:secretsmanager:*:123456789012:secret:*", Fixture.dbSecret, true),
            ("arn:coffer:secretsmanager:*:*:*", Fixture.dbSecret, true),
            ("arn:*:secretsmanager:*:*:secret:app/*", Fixture.dbSecret, true),
            ("arn:coffer:secretsmanager:l?cal:1234*:secret:app/db-*", Fixture.dbSecret, true),
            ("arn:coffer:secretsmanager:local:999999999999:secret:*", Fixture.dbSecret, false),
            ("arn:coffer:secretsmanager:*", Fixture.dbSecret, true),  // a last `*` expands over colons
            ("arn:coffer:secretsmanager:lo*", Fixture.dbSecret, true),
            ("arn:coffer:secretsmanager:local:12*", Fixture.dbSecret, true),
            ("arn:coffer:secretsmanager", Fixture.dbSecret, false),
            ("arn:coffer:secretsmanager:local", Fixture.dbSecret, false),
            ("arn:coffer:secretsmanager:*:123456789012:secret:app/db-AbCdEf", Fixture.dbSecret, true),
            // a mid-ARN * stays in its segment
            ("arn:coffer:secretsmanager:l*:secret:app/db-AbCdEf", Fixture.dbSecret, false),
            ("arn:coffer:secretsmanager:local:123456789012:secret:*", "*", false),
            ("arn:coffer:secretsmanager:local:123456789012:secret:a:*", Fixture.secretPrefix + "a:b-AbCdEf", true),
            ("arn:coffer:iam::123456789012:user/*", Fixture.alice, true),
        ]
    )
    func resources(pattern: String, resource: String, matches: Bool) throws {
        let policy = try Fixture.identity(#"{"Effect":"Allow","Action":"*","Resource":"\#(pattern)"}"#)
        #expect(Fixture.decide([policy], Fixture.context(resource: resource)).isAllowed == matches)
    }

    @Test("resource patterns with policy variables")
    func resourceVariables() throws {
        let own = try Fixture.identity(
            #"{"Effect":"Allow","Action":"secretsmanager:*","Resource":"\#(Fixture.secretPrefix)${aws:username}/*"}"#,
            #"{"Effect":"Allow","Action":"secretsmanager:*","Resource":"\#(Fixture.secretPrefix)${aws:PrincipalTag/team, 'shared'}/*"}"#
        )
        let aliceSecret = Fixture.secretPrefix + "alice/key-AbCdEf"
        #expect(
            Fixture.decide([own], Fixture.context(resource: aliceSecret, keys: ["aws:username": .string("alice")]))
                .isAllowed)
        #expect(
            !Fixture.decide([own], Fixture.context(resource: aliceSecret, keys: ["aws:username": .string("bob")]))
                .isAllowed)
        #expect(!Fixture.decide([own], Fixture.context(resource: aliceSecret)).isAllowed)  // unresolved
        let shared = Fixture.secretPrefix + "shared/key-AbCdEf"
        #expect(Fixture.decide([own], Fixture.context(resource: shared)).isAllowed)  // default
        let teamSecret = Fixture.secretPrefix + "ops/key-AbCdEf"
        #expect(
            Fixture.decide(
                [own], Fixture.context(resource: teamSecret, keys: ["aws:principaltag/team": .string("ops")])
            ).isAllowed)
        // A substituted `*` is text, not a wildcard.
        let star = Fixture.context(
            resource: Fixture.secretPrefix + "x/key-AbCdEf", keys: ["aws:username": .string("*")])
        #expect(!Fixture.decide([own], star).isAllowed)
        // Under 2008-10-17 the variable is literal.
        let legacy = try Fixture.identity(
            #"{"Effect":"Allow","Action":"secretsmanager:*","Resource":"\#(Fixture.secretPrefix)${aws:username}/*"}"#,
            version: "2008-10-17"
        )
        #expect(
            !Fixture.decide([legacy], Fixture.context(resource: aliceSecret, keys: ["aws:username": .string("alice")]))
                .isAllowed)
        #expect(
            Fixture.decide([legacy], Fixture.context(resource: Fixture.secretPrefix + "${aws:username}/k-AbCdEf"))
                .isAllowed)
    }

    @Test("partition and account are data: arn:aws policies work for arn:aws requests")
    func partitions() throws {
        let aws = try Fixture.identity(
            #"{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:111122223333:secret:db-*"}"#
        )
        let awsSecret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"
        let awsUser = "arn:aws:iam::111122223333:user/alice"
        #expect(
            Fixture.decide([aws], Fixture.context(resource: awsSecret, principal: awsUser, account: "111122223333"))
                .isAllowed)
        #expect(!Fixture.decide([aws], Fixture.context()).isAllowed)
        let resourcePolicy = try Fixture.resource(
            #"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"secretsmanager:*","Resource":"*"}"#
        )
        #expect(
            Fixture.decide(
                [], resourcePolicy: resourcePolicy,
                Fixture.context(resource: awsSecret, principal: awsUser, account: "111122223333")
            )
            .isAllowed
        )
    }

    @Test(
        "resource-policy principals: named principals and * grant, account level delegates",
        arguments: [
            (#""*""#, Decision.Effect.allowed),
            (#"{"AWS":"*"}"#, .allowed),
            (#"{"AWS":"arn:coffer:iam::123456789012:user/alice"}"#, .allowed),
            (#"{"AWS":["arn:coffer:iam::123456789012:user/bob","arn:coffer:iam::123456789012:user/alice"]}"#, .allowed),
            (#"{"AWS":"arn:coffer:iam::123456789012:user/bob"}"#, .implicitDeny),
            (#"{"AWS":"123456789012"}"#, .implicitDeny),
            (#"{"AWS":"arn:coffer:iam::123456789012:root"}"#, .implicitDeny),
            (#"{"AWS":"arn:coffer:iam::210987654321:root"}"#, .implicitDeny),
            (#"{"Service":"lambda.amazonaws.com"}"#, .implicitDeny),
        ]
    )
    func resourcePrincipals(principal: String, alone: Decision.Effect) throws {
        let policy = try Fixture.resource(
            #"{"Sid":"R","Effect":"Allow","Principal":\#(principal),"Action":"secretsmanager:GetSecretValue","Resource":"*"}"#
        )
        let decision = Fixture.decide([], resourcePolicy: policy, Fixture.context())
        #expect(decision.effect == alone)
        #expect(decision.matchedStatements.map(\.inResourcePolicy) == (alone == .allowed ? [true] : []))
        // With an identity Allow, every case is allowed (same account: the union of both sides).
        let withIdentity = Fixture.decide([try Fixture.identity(allowGet)], resourcePolicy: policy, Fixture.context())
        #expect(withIdentity.isAllowed)
    }

    @Test("account-level Deny in a resource policy applies to every principal of the account")
    func accountDeny() throws {
        for principal in [#"{"AWS":"123456789012"}"#, #"{"AWS":"arn:coffer:iam::123456789012:root"}"#, #""*""#] {
            let policy = try Fixture.resource(
                #"{"Effect":"Deny","Principal":\#(principal),"Action":"secretsmanager:*","Resource":"*"}"#
            )
            #expect(
                Fixture.decide([try Fixture.identity(allowGet)], resourcePolicy: policy, Fixture.context()).effect
                    == .explicitDeny)
        }
        let otherPartition = try Fixture.resource(
            #"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"secretsmanager:*","Resource":"*"}"#
        )
        #expect(
            Fixture.decide([try Fixture.identity(allowGet)], resourcePolicy: otherPartition, Fixture.context())
                .isAllowed)
        let bobOnly = try Fixture.resource(
            #"{"Effect":"Deny","Principal":{"AWS":"\#(Fixture.bob)"},"Action":"secretsmanager:*","Resource":"*"}"#
        )
        #expect(Fixture.decide([try Fixture.identity(allowGet)], resourcePolicy: bobOnly, Fixture.context()).isAllowed)
    }

    @Test(
        "NotPrincipal exempts only principals listed together with their account",
        arguments: [
            (#"{"AWS":["arn:coffer:iam::123456789012:user/alice","arn:coffer:iam::123456789012:root"]}"#, false),
            (#"{"AWS":["arn:coffer:iam::123456789012:user/alice","123456789012"]}"#, false),
            (#"{"AWS":"arn:coffer:iam::123456789012:user/alice"}"#, true),  // account-level check still denies
            (#"{"AWS":"arn:coffer:iam::123456789012:root"}"#, true),  // the root does not exempt its users
            (#"{"AWS":["arn:coffer:iam::123456789012:user/bob","arn:coffer:iam::123456789012:root"]}"#, true),
            (#"{"AWS":"*"}"#, false),
            (#""*""#, false),
        ]
    )
    func notPrincipal(notPrincipal: String, aliceDenied: Bool) throws {
        let policy = try Fixture.resource(
            #"{"Effect":"Deny","NotPrincipal":\#(notPrincipal),"Action":"secretsmanager:*","Resource":"*"}"#
        )
        let decision = Fixture.decide([try Fixture.identity(allowGet)], resourcePolicy: policy, Fixture.context())
        #expect(decision.effect == (aliceDenied ? .explicitDeny : .allowed))
    }

    @Test("resource-policy statements with false conditions neither grant nor deny")
    func resourceConditions() throws {
        let policy = try Fixture.resource(
            #"{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}}"#,
            #"{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*","Condition":{"StringEquals":{"aws:username":"mallory"}}}"#
        )
        let inAccount = Fixture.context(keys: [
            "aws:PrincipalAccount": .string("123456789012"), "aws:username": .string("alice"),
        ])
        #expect(Fixture.decide([], resourcePolicy: policy, inAccount).isAllowed)
        #expect(Fixture.decide([], resourcePolicy: policy, Fixture.context()).effect == .implicitDeny)
        let mallory = Fixture.context(keys: [
            "aws:PrincipalAccount": .string("123456789012"), "aws:username": .string("mallory"),
        ])
        #expect(Fixture.decide([], resourcePolicy: policy, mallory).effect == .explicitDeny)
    }

    @Test("matched statements: every applicable Allow, in policy and statement order")
    func matchedStatements() throws {
        let first = try Fixture.identity(
            #"{"Sid":"A","Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}"#,
            #"{"Sid":"B","Effect":"Allow","Action":"kms:*","Resource":"*"}"#,
            #"{"Sid":"C","Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":["\#(Fixture.dbSecret)","\#(Fixture.secretPrefix)app/*"]}"#
        )
        let second = try Fixture.identity(
            #"{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:coffer:iam::*:*"}"#)
        let resourcePolicy = try Fixture.resource(
            #"{"Sid":"R1","Effect":"Allow","Principal":{"AWS":"\#(Fixture.alice)"},"Action":"secretsmanager:Get*","Resource":"*"}"#,
            #"{"Sid":"R2","Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"secretsmanager:Get*","Resource":"*"}"#
        )
        let decision = Fixture.decide([first, second], resourcePolicy: resourcePolicy, Fixture.context())
        #expect(decision.effect == .allowed)
        #expect(decision.matchedStatements.map(\.policyId) == ["p0", "p0", "p1", "rp"])
        #expect(decision.matchedStatements.map(\.sid) == ["A", "C", nil, "R1"])
        #expect(decision.matchedStatements.map(\.statementIndex) == [0, 2, 0, 0])
    }

    @Test("the index finds statements filed under actions, resources and the residual list")
    func indexCompleteness() throws {
        let policy = try Fixture.identity(
            #"{"Sid":"ByAction","Effect":"Allow","Action":"secretsmanager:ListSecrets","Resource":"*"}"#,
            #"{"Sid":"ByResource","Effect":"Allow","Action":"secretsmanager:*","Resource":"\#(Fixture.secretPrefix)app/db-??????"}"#,
            #"{"Sid":"Residual","Effect":"Allow","NotAction":"iam:*","NotResource":"\#(Fixture.secretPrefix)private/*"}"#,
            #"{"Sid":"Never","Effect":"Allow","Action":"secretsmanager:*","Resource":["arn:coffer:fdsasf","arn:coffer:secretsmanager"]}"#,
            #"{"Sid":"Variable","Effect":"Allow","Action":"secretsmanager:PutSecretValue","Resource":"\#(Fixture.secretPrefix)${aws:username}/*"}"#
        )
        func sids(_ context: RequestContext) -> [String?] {
            Fixture.decide([policy], context).matchedStatements.map(\.sid)
        }
        #expect(sids(Fixture.context(action: "secretsmanager:ListSecrets", resource: "*")) == ["ByAction", "Residual"])
        #expect(sids(Fixture.context()) == ["ByResource", "Residual"])
        #expect(sids(Fixture.context(resource: Fixture.secretPrefix + "private/x-AbCdEf")) == [])
        #expect(
            sids(
                Fixture.context(
                    action: "secretsmanager:putsecretvalue", resource: Fixture.secretPrefix + "bob/x-AbCdEf",
                    keys: ["aws:username": .string("bob")]))
                == ["Residual", "Variable"]
        )
    }

    @Test("the benchmark scenario decides as documented")
    func benchmarkScenario() {
        let set = PolicySet(identityPolicies: PolicyBenchmark.policies())
        #expect(set.statementCount == 1_005)
        let decision = set.evaluate(PolicyBenchmark.request())
        #expect(decision.effect == .allowed)
        #expect(decision.matchedStatements.map(\.sid) == ["S537"])
        var denied = PolicyBenchmark.request()
        denied.action = "secretsmanager:DeleteSecret"
        #expect(set.evaluate(denied).effect == .explicitDeny)
        #expect(PolicyBenchmark.run1000(iterations: 10) > 0)
    }

    @Test("context keys are case-insensitive")
    func contextKeys() {
        var context = Fixture.context(keys: ["AWS:UserName": .string("alice")])
        #expect(context["aws:username"] == .string("alice"))
        context["SecretsManager:VersionStage"] = .string("AWSCURRENT")
        #expect(context.keys["secretsmanager:versionstage"] == .string("AWSCURRENT"))
    }
}

@Suite("Document introspection")
struct IntrospectionTests {
    @Test("referenced context keys: condition keys and variable keys, lower-cased")
    func referencedKeys() throws {
        let policy = try Fixture.identity(
            #"{"Effect":"Allow","Action":"*","Resource":"\#(Fixture.secretPrefix)${aws:username}/*","Condition":{"StringLike":{"Coffer:ExecutablePath":"/usr/bin/${coffer:unit, 'x'}"},"NumericLessThan":{"k:n":"${not:a:variable}"}}}"#
        )
        #expect(policy.referencedContextKeys == ["aws:username", "coffer:executablepath", "coffer:unit", "k:n"])
        let legacy = try Fixture.identity(
            #"{"Effect":"Allow","Action":"*","Resource":"\#(Fixture.secretPrefix)${aws:username}/*"}"#,
            version: nil
        )
        #expect(legacy.referencedContextKeys.isEmpty)
    }
}
