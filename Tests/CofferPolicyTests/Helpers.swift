import CofferCore
import Testing

@testable import CofferPolicy

/// Shared names and builders for the policy tests.
enum Fixture {
    static let account = "123456789012"
    static let otherAccount = "210987654321"
    static let alice = "arn:coffer:iam::123456789012:user/alice"
    static let bob = "arn:coffer:iam::123456789012:user/bob"
    static let root = "arn:coffer:iam::123456789012:root"
    static let secretPrefix = "arn:coffer:secretsmanager:local:123456789012:secret:"
    static let dbSecret = "arn:coffer:secretsmanager:local:123456789012:secret:app/db-AbCdEf"
    static let getValue = "secretsmanager:GetSecretValue"

    /// Parses a document, failing the test (not crashing) when it is rejected.
    static func document(_ json: String, kind: PolicyKind = .managed) throws -> PolicyDocument {
        do {
            return try PolicyDocument.parse(json, kind: kind)
        } catch {
            Issue.record("policy rejected: \(error.message)\n\(json)")
            throw error
        }
    }

    /// An identity policy (2012-10-17) made of the given statement objects.
    static func identity(_ statements: String..., version: String? = "2012-10-17") throws -> PolicyDocument {
        let versionMember = version.map { #""Version":"\#($0)","# } ?? ""
        let json = "{\(versionMember)\"Statement\":[\(statements.joined(separator: ","))]}"
        return try document(json, kind: version == "2012-10-17" ? .managed : .inline(.role))
    }

    /// A resource policy made of the given statement objects.
    static func resource(_ statements: String...) throws -> PolicyDocument {
        try document(
            #"{"Version":"2012-10-17","Statement":["# + statements.joined(separator: ",") + "]}", kind: .resource)
    }

    static func context(
        action: String = getValue,
        resource: String = dbSecret,
        principal: String = alice,
        account: String = Fixture.account,
        keys: [String: ContextValue] = [:]
    ) -> RequestContext {
        RequestContext(
            action: action, resource: resource, principalARN: principal, principalAccount: account, keys: keys)
    }

    static func decide(
        _ identity: [PolicyDocument],
        resourcePolicy: PolicyDocument? = nil,
        _ context: RequestContext
    ) -> Decision {
        let sources = identity.enumerated().map { PolicySource(policyId: "p\($0.offset)", document: $0.element) }
        let set = PolicySet(identityPolicies: sources)
        return set.evaluate(context, resourcePolicy: resourcePolicy.map { PolicySource(policyId: "rp", document: $0) })
    }

    /// Whether an `Allow *` statement guarded by `condition` (a JSON object) allows a request with `keys`.
    static func conditionHolds(
        _ condition: String,
        keys: [String: ContextValue],
        version: String? = "2012-10-17"
    ) throws -> Bool {
        let policy = try identity(
            #"{"Effect":"Allow","Action":"*","Resource":"*","Condition":\#(condition)}"#, version: version)
        return decide([policy], context(keys: keys)).isAllowed
    }
}

extension ContextValue: CustomTestStringConvertible {
    public var testDescription: String {
        switch self {
        case .string(let value): return "\"\(value)\""
        case .strings(let list): return "\(list)"
        }
    }
}
