import CofferCore
import CofferPolicy
import CofferProtocol
import CofferStore
import CofferSystem

/// IAM's policy simulator: `SimulateCustomPolicy` (policies given in the request) and `SimulatePrincipalPolicy`
/// (a stored user's, group's or role's policies, optionally plus more). Evaluation is the daemon's own, with the
/// partition and account taken from the ARNs given, so AWS examples with `arn:aws:` evaluate unchanged.
extension Vault {
    func simulate(_ op: Operation, _ r: Document, iam: IAMRequest, access: AccessController) throws -> Document {
        let custom = op == .simulateCustomPolicy
        var allowed: Set<String> = [
            "PolicyInputList", "PermissionsBoundaryPolicyInputList", "ActionNames", "ResourceArns", "ResourcePolicy",
            "ResourceOwner", "CallerArn", "ContextEntries", "ResourceHandlingOption", "MaxItems", "Marker",
        ]
        if !custom { allowed.insert("PolicySourceArn") }
        try r.checkOnly(allowed)
        if r["PermissionsBoundaryPolicyInputList"] != nil {
            throw ServiceError(.invalidInput, "Permissions boundaries are not supported by Coffer.")
        }
        let inputs = try r.stringList("PolicyInputList") ?? []
        if custom && inputs.isEmpty {
            throw ServiceError.constraint(at: "policyInputList", "Member must not be null")
        }
        guard let actions = try r.stringList("ActionNames"), !actions.isEmpty else {
            throw ServiceError.constraint(at: "actionNames", "Member must not be null")
        }
        let resources = try r.stringList("ResourceArns") ?? ["*"]
        var sources: [PolicySource] = []
        for (i, text) in inputs.enumerated() {
            sources.append(
                PolicySource(policyId: "PolicyInputList.\(i + 1)", document: try IAMRequest.parse(text, kind: .managed))
            )
        }
        var principalARN = try r.string("CallerArn")
        if custom {
            try iam.authorize(op, resource: "*")
        } else {
            let sourceARN = try r.requiredString("PolicySourceArn")
            try iam.authorize(op, resource: sourceARN)
            sources = try storedSources(sourceARN, iam: iam, access: access) + sources
            principalARN = principalARN ?? sourceARN
        }
        var resourcePolicy: PolicySource?
        if let text = try r.string("ResourcePolicy") {
            resourcePolicy = PolicySource(
                policyId: "ResourcePolicy", document: try IAMRequest.parse(text, kind: .resource))
        }
        let entries = try contextEntries(r)
        var results: [Value] = []
        for action in actions {
            for resource in resources {
                let principal =
                    principalARN ?? "arn:\(ARN(parsing: resource)?.partition ?? identity.partition):iam::"
                    + "\(ARN(parsing: resource).flatMap { $0.account.isEmpty ? nil : $0.account } ?? identity.accountID):user/simulated"
                let account = ARN(parsing: principal)?.account ?? identity.accountID
                var keys = entries
                keys["aws:principalarn"] = keys["aws:principalarn"] ?? .string(principal)
                if resource != "*" {
                    keys["secretsmanager:secretid"] = keys["secretsmanager:secretid"] ?? .string(resource)
                }
                let context = RequestContext(
                    action: action, resource: resource, principalARN: principal, principalAccount: account, keys: keys)
                let decision = access.simulate(sources, resourcePolicy: resourcePolicy, context: context)
                results.append(.map(Vault.evaluationResult(action, resource, decision)))
            }
        }
        return try iam.page(results, key: "EvaluationResults")
    }

    /// The stored policies of the user, group or role an ARN names.
    func storedSources(_ arn: String, iam: IAMRequest, access: AccessController) throws -> [PolicySource] {
        guard let parsed = ARN(parsing: arn), parsed.service == "iam" else {
            throw ServiceError(.invalidInput, "Invalid ARN: \(arn)")
        }
        let resource = parsed.resource
        let name = String(resource.split(separator: "/").last ?? "")
        let snapshot = access.current
        if resource.hasPrefix("user/") {
            try iam.requireEntity(.user, name)
            var groups: [String] = []
            if let gids = try Accounts.groups(ofUser: name) {
                groups = try gids.compactMap { try Accounts.groupName(gid: $0) }
            }
            return snapshot.compiled(.user(name: name, groups: groups)).sources
        }
        if resource.hasPrefix("group/") {
            try iam.requireEntity(.group, name)
            return snapshot.sources(kind: .group, name: name).map(\.0)
        }
        if resource.hasPrefix("role/") {
            try iam.requireEntity(.role, name)
            return snapshot.sources(kind: .role, name: name).map(\.0)
        }
        throw ServiceError(.invalidInput, "PolicySourceArn must name a user, group or role: \(arn)")
    }

    /// `ContextEntries`: `[{ContextKeyName, ContextKeyValues, ContextKeyType}]`; list types are multivalued.
    func contextEntries(_ r: Document) throws(ServiceError) -> [String: ContextValue] {
        var keys: [String: ContextValue] = [:]
        for entry in try r.mapList("ContextEntries") ?? [] {
            try entry.checkOnly(["ContextKeyName", "ContextKeyValues", "ContextKeyType"])
            let name = try entry.requiredString("ContextKeyName")
            let values = try entry.stringList("ContextKeyValues") ?? []
            let type = try entry.string("ContextKeyType") ?? "string"
            try Check.oneOf(
                type, "ContextKeyType",
                [
                    "string", "stringList", "numeric", "numericList", "boolean", "booleanList", "ip", "ipList",
                    "binary",
                    "binaryList", "date", "dateList",
                ])
            keys[name.lowercased()] = type.hasSuffix("List") ? .strings(values) : .string(values.first ?? "")
        }
        return keys
    }

    static func evaluationResult(_ action: String, _ resource: String, _ decision: Decision) -> Document {
        let name: String
        switch decision.effect {
        case .allowed: name = "allowed"
        case .explicitDeny: name = "explicitDeny"
        case .implicitDeny: name = "implicitDeny"
        }
        let matched: [Value] = decision.matchedStatements.map { statement in
            .map([
                "SourcePolicyId": .string(sourceID(statement.policyId)),
                "SourcePolicyType": .string(sourceType(statement.policyId, resource: statement.inResourcePolicy)),
            ])
        }
        return [
            "EvalActionName": .string(action), "EvalResourceName": .string(resource), "EvalDecision": .string(name),
            "MatchedStatements": .list(matched), "MissingContextValues": .list([]),
        ]
    }

    /// IAM names an inline policy by its name (`SourcePolicyType` says whose); the engine's id for it is
    /// `<kind>/<owner>/inline/<name>`, and names cannot contain `/`. Other ids are IAM's already.
    static func sourceID(_ policyId: String) -> String {
        let parts = policyId.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, ["user", "group", "role"].contains(parts[0]), parts[2] == "inline" else {
            return policyId
        }
        return String(parts[3])
    }

    static func sourceType(_ policyId: String, resource: Bool) -> String {
        if resource { return "resource" }
        if policyId.hasPrefix("PolicyInputList.") { return "IAM Policy" }
        if policyId.hasPrefix("user/") { return "user" }
        if policyId.hasPrefix("group/") { return "group" }
        if policyId.hasPrefix("role/") { return "role" }
        if policyId.hasPrefix("arn:") { return "user-managed" }
        return "none"
    }
}
