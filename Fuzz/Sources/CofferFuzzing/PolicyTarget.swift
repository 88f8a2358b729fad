import CofferCore
import CofferPolicy

/// The policy parser (every kind) and the evaluator.
///
/// Input: the policy's JSON text, then optionally a NUL byte and a request: lines `action`, `resource`, then
/// `key=value` context keys (a value with `,` is a multivalued key). Each kind the text parses as is evaluated
/// against that request and a few fixed ones, with metamorphic checks that need no reference model:
/// - evaluation is deterministic;
/// - an explicit deny is never allowed, and adding a `Deny *` policy never leaves a request allowed;
/// - adding an `Allow *` policy allows everything the policy does not explicitly deny, and keeps its denials;
/// - a resource policy evaluates without identity policies and never crashes the public-access check.
enum PolicyTarget {
    static let account = "123456789012"
    static let denyAll = try? PolicyDocument.parse(
        #"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#, kind: .managed)
    static let allowAll = try? PolicyDocument.parse(
        #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, kind: .managed)

    static let fixedContexts: [RequestContext] = [
        RequestContext(
            action: "secretsmanager:GetSecretValue",
            resource: "arn:coffer:secretsmanager:local:123456789012:secret:app/db-AbCdEf",
            principalARN: "arn:coffer:iam::123456789012:user/alice", principalAccount: account,
            keys: [
                "aws:username": .string("alice"), "secretsmanager:VersionStage": .string("AWSCURRENT"),
                "aws:ResourceTag/team": .string("alice"), "coffer:ExecutablePath": .string("/usr/bin/app"),
            ]),
        RequestContext(
            action: "secretsmanager:CreateSecret", resource: "*",
            principalARN: "arn:coffer:iam::123456789012:role/services/app.service", principalAccount: account,
            keys: ["aws:TagKeys": .strings(["team", "env"]), "aws:RequestTag/team": .string("x")]),
        RequestContext(
            action: "iam:PutUserPolicy", resource: "arn:coffer:iam::123456789012:user/bob",
            principalARN: "arn:coffer:iam::123456789012:user/bob", principalAccount: account,
            keys: ["aws:CurrentTime": .string("2026-11-29T14:13:41Z"), "aws:EpochTime": .string("1795961621")]),
    ]

    static func run(_ input: UnsafeRawBufferPointer) -> [String] {
        let split = input.firstIndex(of: 0) ?? input.count
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: input[..<split]), as: UTF8.self)
        var contexts = fixedContexts
        if split < input.count {
            contexts.append(
                context(String(decoding: UnsafeRawBufferPointer(rebasing: input[(split + 1)...]), as: UTF8.self)))
        }
        var problems: [String] = []
        _ = PolicyDocument.validationFindings(text, accountID: account)
        for kind in [PolicyKind.managed, .inline(.user), .inline(.role), .resource] {
            guard let document = try? PolicyDocument.parse(text, kind: kind) else { continue }
            _ = document.referencedContextKeys
            _ = document.quotaSize
            if kind == .resource {
                _ = document.grantsPublicAccess(accountID: account)
                let source = PolicySource(policyId: "rp", document: document)
                for context in contexts {
                    let empty = PolicySet(identityPolicies: [])
                    let first = empty.evaluate(context, resourcePolicy: source)
                    if first != empty.evaluate(context, resourcePolicy: source) {
                        problems.append("resource-policy evaluation is not deterministic")
                    }
                    if first.effect == .explicitDeny && first.isAllowed { problems.append("an explicit deny allowed") }
                }
                continue
            }
            problems += checkIdentity(document, contexts)
        }
        return problems
    }

    static func checkIdentity(_ document: PolicyDocument, _ contexts: [RequestContext]) -> [String] {
        var problems: [String] = []
        let source = PolicySource(policyId: "p", document: document)
        let alone = PolicySet(identityPolicies: [source])
        for context in contexts {
            let decision = alone.evaluate(context)
            if decision != alone.evaluate(context) { problems.append("evaluation is not deterministic") }
            if decision.effect == .explicitDeny && decision.isAllowed { problems.append("an explicit deny allowed") }
            if let denyAll {
                let denied = PolicySet(identityPolicies: [source, PolicySource(policyId: "deny", document: denyAll)])
                if denied.evaluate(context).isAllowed {
                    problems.append("allowed despite a Deny * policy: \(context.action) on \(context.resource)")
                }
            }
            if let allowAll {
                let widened = PolicySet(identityPolicies: [source, PolicySource(policyId: "allow", document: allowAll)])
                let after = widened.evaluate(context).effect
                let expected: Decision.Effect = decision.effect == .explicitDeny ? .explicitDeny : .allowed
                if after != expected {
                    problems.append("with Allow * added: \(after), expected \(expected) (alone: \(decision.effect))")
                }
            }
        }
        return problems
    }

    /// `action\nresource\nkey=value\n…`; missing lines get defaults.
    static func context(_ text: String) -> RequestContext {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var keys: [String: ContextValue] = [:]
        for line in lines.dropFirst(2).prefix(32) {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let value = String(line[line.index(after: equals)...])
            keys[String(line[..<equals])] =
                value.contains(",") ? .strings(value.split(separator: ",").map(String.init)) : .string(value)
        }
        return RequestContext(
            action: lines.first ?? "secretsmanager:GetSecretValue",
            resource: lines.count > 1 ? lines[1] : "*",
            principalARN: "arn:coffer:iam::123456789012:user/alice", principalAccount: account, keys: keys)
    }
}
