import CofferCore
import Testing

@testable import CofferPolicy

/// SplitMix64: small, fast and seeded, so that a failure replays from the printed seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random policies and requests over a small vocabulary (so that matches are frequent) covering every element,
/// operator family, set operator, IfExists, variables, Not* elements and principal form.
struct PolicyGenerator {
    var rng: SeededGenerator

    mutating func pick<T>(_ options: [T]) -> T { options[Int.random(in: 0..<options.count, using: &rng)] }
    mutating func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &rng) < percent }
    mutating func some<T>(_ options: [T], max: Int) -> [T] {
        (0..<Int.random(in: 1...max, using: &rng)).map { _ in pick(options) }
    }

    static let account = "123456789012"
    static let prefix = "arn:coffer:secretsmanager:local:123456789012:secret:"

    static let actionPatterns = [
        "secretsmanager:GetSecretValue", "SecretsManager:getsecretvalue", "secretsmanager:Get*", "secretsmanager:*",
        "*", "secretsmanager:?escribeSecret", "*:Describe*", "secretsmanager:PutSecretValue", "iam:*",
        "secretsmanager:List*", "secretsmanager:GetSecretValue,DescribeSecret",
    ]
    static let resourcePatterns = [
        "*", prefix + "app/db-??????", prefix + "app/*", prefix + "app/db-*", "arn:coffer:secretsmanager:*",
        "arn:*:secretsmanager:*:123456789012:secret:*", prefix + "${aws:username}/*",
        prefix + "${aws:username, 'app'}/*", prefix + "a:*", "arn:coffer:secretsmanager:lo*",
        "arn:coffer:secretsmanager:local:*:secret:app/d?-*", prefix + "App/*", "arn:coffer:secretsmanager",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:*", prefix + "${k:s}-*", prefix + "app/db-AbCdEf",
        "arn:coffer:secretsmanager:l*:secret:*", prefix + "x${*}y/*",
    ]
    static let conditionFamilies: [([String], [String], [String])] = [
        (
            [
                "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
                "StringNotLike",
            ],
            ["aws:username", "k:s", "k:multi", "K:S"],
            [
                "alice", "Alice", "bob", "a*", "*", "${aws:username}", "${aws:username, 'alice'}", "${k:s}", "x${*}y",
                "?lice", "", "${k:multi}", "${nope}",
            ]
        ),
        (
            [
                "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan",
                "NumericGreaterThanEquals",
            ],
            ["k:n"],
            ["1", "10", "10.0", "-3", "2.5", "abc"]
        ),
        (
            [
                "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
                "DateGreaterThanEquals",
            ],
            ["k:d"],
            ["2020-01-01T00:00:00Z", "1700000000", "2030-06-01T12:00:00Z", "1577836800"]
        ),
        (["Bool"], ["k:b"], ["true", "false", "TRUE", "${k:s}"]),
        (["BinaryEquals"], ["k:bin"], ["QQ==", "Qg==", "QUI="]),
        (["IpAddress", "NotIpAddress"], ["k:ip"], ["10.0.0.0/8", "10.1.2.3", "192.168.0.0/16", "0.0.0.0/0"]),
        (
            ["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"],
            ["k:arn"],
            [
                "arn:coffer:iam::123456789012:user/*", "arn:coffer:iam::123456789012:user/${aws:username}",
                "arn:*:iam::*:*", "arn:coffer:iam::999999999999:user/alice", "arn:bad",
            ]
        ),
        (["Null"], ["k:s", "k:multi", "k:n", "aws:username"], ["true", "false"]),
    ]

    mutating func condition() -> String {
        var blocks: [String] = []
        var used: Set<String> = []
        for _ in 0..<Int.random(in: 1...2, using: &rng) {
            let (operators, keys, values) = pick(PolicyGenerator.conditionFamilies)
            var name = pick(operators)
            if chance(40) { name = pick(["ForAnyValue:", "ForAllValues:"]) + name }
            if chance(25) && !name.hasSuffix("Null") { name += "IfExists" }
            guard used.insert(name).inserted else { continue }
            var entries: [String] = []
            var usedKeys: Set<String> = []
            for _ in 0..<Int.random(in: 1...2, using: &rng) {
                let key = pick(keys)
                guard usedKeys.insert(key.lowercased()).inserted else { continue }
                let chosen = some(values, max: 2).map(json)
                let value = chosen.count == 1 && chance(50) ? chosen[0] : "[" + chosen.joined(separator: ",") + "]"
                entries.append("\(json(key)):\(value)")
            }
            blocks.append("\(json(name)):{\(entries.joined(separator: ","))}")
        }
        return "{" + blocks.joined(separator: ",") + "}"
    }

    mutating func statement(index: Int, resourcePolicy: Bool) -> String {
        var members: [String] = []
        if chance(50) { members.append(#""Sid":"S\#(index)""#) }
        let deny = chance(30)
        members.append(deny ? #""Effect":"Deny""# : #""Effect":"Allow""#)
        if resourcePolicy {
            let principals = [
                #""*""#, #"{"AWS":"*"}"#, #"{"AWS":"arn:coffer:iam::123456789012:user/alice"}"#,
                #"{"AWS":"123456789012"}"#, #"{"AWS":"arn:coffer:iam::123456789012:root"}"#,
                #"{"AWS":["arn:coffer:iam::123456789012:user/bob","arn:coffer:iam::123456789012:root"]}"#,
                #"{"AWS":"arn:aws:iam::123456789012:root"}"#, #"{"Service":"lambda.amazonaws.com"}"#,
            ]
            let key = deny && chance(40) ? "NotPrincipal" : "Principal"
            members.append("\"\(key)\":\(pick(principals))")
        }
        let actions = some(PolicyGenerator.actionPatterns, max: 2).map(json)
        members.append("\"\(chance(20) ? "NotAction" : "Action")\":" + list(actions))
        let resources = some(PolicyGenerator.resourcePatterns, max: 2).map(json)
        members.append("\"\(chance(20) ? "NotResource" : "Resource")\":" + list(resources))
        if chance(45) { members.append("\"Condition\":" + condition()) }
        return "{" + members.joined(separator: ",") + "}"
    }

    mutating func list(_ items: [String]) -> String {
        items.count == 1 && chance(50) ? items[0] : "[" + items.joined(separator: ",") + "]"
    }

    mutating func policy(resourcePolicy: Bool) -> String {
        let version =
            resourcePolicy
            ? #""Version":"2012-10-17","#
            : pick([#""Version":"2012-10-17","#, #""Version":"2012-10-17","#, #""Version":"2008-10-17","#, ""])
        let statements = (0..<Int.random(in: 1...5, using: &rng)).map {
            statement(index: $0, resourcePolicy: resourcePolicy)
        }
        return "{\(version)\"Statement\":[\(statements.joined(separator: ","))]}"
    }

    mutating func request() -> RequestContext {
        let principal = pick([
            "arn:coffer:iam::123456789012:user/alice", "arn:coffer:iam::123456789012:user/bob",
            "arn:coffer:iam::123456789012:root", "arn:aws:iam::123456789012:user/alice",
            "arn:coffer:iam::999999999999:user/alice",
        ])
        let account = principal.split(separator: ":", omittingEmptySubsequences: false)[4]
        var keys: [String: ContextValue] = [:]
        let single: [(String, [String])] = [
            ("aws:username", ["alice", "bob", "*", "Alice"]),
            ("k:s", ["alice", "x*y", "xy", "true", "", "app"]),
            ("k:n", ["1", "10", "2.5", "abc", "-3"]),
            ("k:d", ["2024-01-01T00:00:00Z", "1600000000", "2020-01-01T00:00:00Z", "garbage"]),
            ("k:b", ["true", "false", "False", "maybe"]),
            ("k:bin", ["QQ==", "Qg==", "!!"]),
            ("k:ip", ["10.1.2.3", "192.168.1.1", "8.8.8.8", "nope"]),
            (
                "k:arn",
                [principal, "arn:coffer:iam::123456789012:user/bob", "arn:bad", "arn:aws:iam::123456789012:user/alice"]
            ),
        ]
        for (key, values) in single where chance(60) {
            keys[key] = chance(15) ? .strings(some(values, max: 3)) : .string(pick(values))
        }
        if chance(70) {
            let all = ["alice", "bob", "a1"]
            keys["k:multi"] = .strings(all.filter { _ in chance(50) })
        }
        return RequestContext(
            action: pick([
                "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue",
                "secretsmanager:ListSecrets", "iam:GetUser", "SecretsManager:GETSECRETVALUE",
            ]),
            resource: pick([
                PolicyGenerator.prefix + "app/db-AbCdEf", PolicyGenerator.prefix + "app/db-prod-XyZ123",
                PolicyGenerator.prefix + "alice/key-Qwerty", PolicyGenerator.prefix + "a:b-c12345",
                PolicyGenerator.prefix + "x*y/z-AbCdEf", PolicyGenerator.prefix + "alice-AbCdEf",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf", "*",
                "arn:coffer:secretsmanager:local:999999999999:secret:app/db-AbCdEf",
            ]),
            principalARN: principal,
            principalAccount: String(account),
            keys: keys
        )
    }

    func json(_ text: String) -> String {
        var out = ""
        JSONValue.writeString(text, to: &out)
        return out
    }
}

@Suite("Differential: engine vs naive reference")
struct DifferentialTests {
    @Test("random policies and requests", arguments: [0x5EED_0001, 0x5EED_0002, 0x5EED_0003, 0x5EED_0004] as [UInt64])
    func differential(seed: UInt64) throws {
        var generator = PolicyGenerator(rng: SeededGenerator(state: seed))
        var disagreements = 0
        var counts: [Decision.Effect: Int] = [:]
        for scenario in 0..<1_000 {
            let identityTexts = (0..<Int.random(in: 0...3, using: &generator.rng)).map { _ in
                generator.policy(resourcePolicy: false)
            }
            let resourceText = generator.chance(60) ? generator.policy(resourcePolicy: true) : nil
            var sources: [PolicySource] = []
            var references: [Reference.Policy] = []
            for (index, text) in identityTexts.enumerated() {
                let document = try PolicyDocument.parse(text, kind: .inline(.role), checkingEnvelope: false)
                sources.append(PolicySource(policyId: "p\(index)", document: document))
                references.append(Reference.Policy(id: "p\(index)", json: try JSONValue.parse(text)))
            }
            var resource: PolicySource?
            var resourceReference: Reference.Policy?
            if let resourceText {
                resource = PolicySource(
                    policyId: "rp", document: try PolicyDocument.parse(resourceText, kind: .resource))
                resourceReference = Reference.Policy(id: "rp", json: try JSONValue.parse(resourceText))
            }
            let set = PolicySet(identityPolicies: sources)
            for _ in 0..<8 {
                let request = generator.request()
                let decision = set.evaluate(request, resourcePolicy: resource)
                let engine = Reference.Outcome(
                    effect: decision.effect,
                    matched: Set(decision.matchedStatements.map { "\($0.policyId)#\($0.statementIndex)" })
                )
                let expected = Reference.decide(identity: references, resourcePolicy: resourceReference, request)
                counts[decision.effect, default: 0] += 1
                if engine != expected {
                    disagreements += 1
                    if disagreements <= 3 {
                        Issue.record(
                            """
                            seed \(seed) scenario \(scenario): engine \(engine), reference \(expected)
                            request: \(request.action) \(request.resource) as \(request.principalARN) keys \(request.keys)
                            identity: \(identityTexts)
                            resource: \(resourceText ?? "none")
                            """
                        )
                    }
                }
            }
        }
        #expect(disagreements == 0)
        // The vocabulary must exercise every outcome, or agreement would mean little.
        #expect(counts[.allowed, default: 0] > 500)
        #expect(counts[.explicitDeny, default: 0] > 500)
        #expect(counts[.implicitDeny, default: 0] > 500)
    }
}
