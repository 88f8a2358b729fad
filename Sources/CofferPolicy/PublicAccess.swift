/// One problem `ValidateResourcePolicy` reports (`ValidationErrorsEntry`).
public struct PolicyFinding: Sendable, Hashable {
    /// `SYNTAX_CHECKING` or `PUBLIC_ACCESS_CHECKING`.
    public var checkName: String
    public var errorMessage: String

    public init(checkName: String, errorMessage: String) {
        self.checkName = checkName
        self.errorMessage = errorMessage
    }

    public static let syntaxCheck = "SYNTAX_CHECKING"
    public static let publicAccessCheck = "PUBLIC_ACCESS_CHECKING"
}

extension PolicyDocument {
    /// Context keys whose fixed values confine a wildcard principal to particular principals of the host. On AWS,
    /// confining to the account is enough (S3 Block Public Access's "fixed value" keys); in Coffer every local caller
    /// is in the vault's account, so account keys (`aws:PrincipalAccount`, `aws:SourceAccount`) confine nothing and
    /// only keys naming principals count: a principal ARN without wildcards in its name, a user name or id, a uid,
    /// a systemd unit, a group.
    public static let principalRestrictingKeys: Set<String> = [
        "aws:principalarn", "aws:userid", "aws:username", "coffer:peeruid", "coffer:systemdunit", "coffer:peergroups",
        "coffer:peergids",
    ]

    /// Secrets Manager's BlockPublicPolicy test ("Zelkova" in AWS), as a syntactic rule Coffer can state exactly.
    ///
    /// A resource policy is public when some `Allow` statement
    /// - names a principal of another account (`Principal: {"AWS": "<other account or its ARN>"}`), or
    /// - names every principal (`"*"` / `{"AWS": "*"}`) and no condition of the statement confines the caller to
    ///   `accountID`. A confining condition is a positive, non-`IfExists`, non-`ForAllValues` `StringEquals`,
    ///   `StringEqualsIgnoreCase`, `StringLike`, `ArnEquals` or `ArnLike` test on one of ``principalRestrictingKeys``
    ///   whose every value is fixed inside the account: the account id itself for account keys, an ARN whose account
    ///   segment is literally `accountID` for ARN keys, a wildcard- and variable-free name for `aws:userid` and
    ///   `aws:username`.
    /// Deny statements never make a policy public, and `Service`/`Federated`/`CanonicalUser` principals, which never
    /// match a local caller, are not counted.
    public func grantsPublicAccess(accountID: String) -> Bool {
        !publicStatementIndices(accountID: accountID).isEmpty
    }

    /// The indices of the statements that make the policy public (see ``grantsPublicAccess(accountID:)``).
    public func publicStatementIndices(accountID: String) -> [Int] {
        compiled.filter { PolicyDocument.isPublic($0, accountID: accountID) }.map(\.index)
    }

    static func isPublic(_ statement: CompiledStatement, accountID: String) -> Bool {
        guard statement.effect == .allow, case .principal(let entries)? = statement.principal else { return false }
        var everyone = false
        for entry in entries {
            switch entry {
            case .everyone: everyone = true
            case .account(let id): if id != accountID { return true }
            case .accountRoot(_, _, let id): if id != accountID { return true }
            case .arn(let text): if ParsedARN(text)?.account != accountID { return true }
            case .other: continue
            }
        }
        guard everyone else { return false }
        return !statement.conditions.contains { confinesToAccount($0, accountID: accountID) }
    }

    static func confinesToAccount(_ condition: Condition, accountID: String) -> Bool {
        let op = condition.op
        guard !op.negated, !op.ifExists, op.set != .forAllValues,
            PolicyDocument.principalRestrictingKeys.contains(condition.key), !condition.rawValues.isEmpty
        else { return false }
        let isLike: Bool
        switch op.base {
        case .stringEquals, .stringEqualsIgnoreCase: isLike = false
        case .stringLike, .arnLike: isLike = true
        default: return false
        }
        return condition.rawValues.allSatisfy { value in
            if value.contains("${") { return false }  // a variable matches whoever asks
            switch condition.key {
            case "aws:principalarn":
                // The account fixed, and the principal's name too (`user/*` is every user of the host).
                guard valueAccountIsFixed(value, accountID: accountID), let arn = ParsedARN(value) else { return false }
                return !isLike || (!arn.resource.contains("*") && !arn.resource.contains("?"))
            default:
                return !isLike || (!value.contains("*") && !value.contains("?"))
            }
        }
    }

    /// Whether `value` is an ARN whose account segment is literally `accountID` (variables elsewhere are fine).
    static func valueAccountIsFixed(_ value: String, accountID: String) -> Bool {
        guard let arn = ParsedARN(value) else { return false }
        return arn.account == accountID
    }

    /// `ValidateResourcePolicy`'s checks: syntax (with IAM's messages) and public access. Empty when the policy
    /// passes.
    public static func validationFindings(_ json: String, accountID: String) -> [PolicyFinding] {
        let document: PolicyDocument
        do {
            document = try PolicyDocument.parse(json, kind: .resource)
        } catch {
            return [PolicyFinding(checkName: PolicyFinding.syntaxCheck, errorMessage: error.message)]
        }
        return document.publicStatementIndices(accountID: accountID).map { index in
            let statement = document.statements[index]
            let name = statement.sid.map { "\"\($0)\"" } ?? "at index \(index)"
            return PolicyFinding(
                checkName: PolicyFinding.publicAccessCheck,
                errorMessage: "Statement \(name) grants public access: it allows a principal outside account "
                    + "\(accountID) or every principal without a condition restricting it to the account."
            )
        }
    }
}

extension PolicyDocument {
    /// Every context key the document can read, lower-cased: condition keys and the keys of policy variables (in
    /// resource patterns and condition values). Lets a caller gather costly keys only when some policy reads them,
    /// and compute IAM simulation's `MissingContextValues`.
    public var referencedContextKeys: Set<String> {
        var keys: Set<String> = []
        func add(_ template: Template) {
            for case .variable(let variable) in template.tokens { keys.insert(variable.key) }
        }
        func add(_ pattern: ARNPattern) {
            if case .parts(let parts, _) = pattern.shape { parts.forEach { add($0.template) } }
        }
        for statement in compiled {
            statement.resources.patterns.forEach(add)
            for condition in statement.conditions {
                keys.insert(condition.key)
                switch condition.values {
                case .text(let list), .textIgnoreCase(let list), .bools(let list): list.forEach { add($0.template) }
                case .globs(let list): list.forEach { add($0.template) }
                case .arns(let list): list.forEach(add)
                case .numbers, .dates, .binaries, .networks, .nulls: break
                }
            }
        }
        return keys
    }
}
