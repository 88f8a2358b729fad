import CofferCore

/// What the vault asks the access controller for every request (docs/POLICY.md).
public struct AuthorizationRequest: Sendable {
    public var caller: Caller
    /// `secretsmanager:GetSecretValue`, `iam:PutUserPolicy`, …
    public var action: String
    /// The secret's ARN, or `*` for actions without a resource (ListSecrets, GetRandomPassword, …).
    public var resource: String
    /// The secret's tags (for `secretsmanager:ResourceTag/*` and `aws:ResourceTag/*`); nil when there is no secret.
    public var resourceTags: [(key: String, value: String)]?
    /// The secret's resource policy JSON, if one is attached.
    public var resourcePolicy: String?
    /// Request-specific condition keys (lower-cased names → values), e.g. `secretsmanager:versionstage`.
    public var requestKeys: [String: [String]]

    public init(
        caller: Caller, action: String, resource: String, resourceTags: [(key: String, value: String)]? = nil,
        resourcePolicy: String? = nil, requestKeys: [String: [String]] = [:]
    ) {
        self.caller = caller
        self.action = action
        self.resource = resource
        self.resourceTags = resourceTags
        self.resourcePolicy = resourcePolicy
        self.requestKeys = requestKeys
    }
}

/// The answer, with what the audit log needs to say why.
public struct AuthorizationResult: Sendable, Equatable {
    public var allowed: Bool
    /// Statement ids (or policy/statement references) that matched; for a deny, the deny statements.
    public var matchedStatements: [String]
    /// `allowed`, `explicitDeny` or `implicitDeny`, as IAM's simulator names them.
    public var decision: String
    /// The principal the request was decided for (for messages and the audit log).
    public var principalARN: String?

    public init(allowed: Bool, matchedStatements: [String] = [], decision: String, principalARN: String? = nil) {
        self.allowed = allowed
        self.matchedStatements = matchedStatements
        self.decision = decision
        self.principalARN = principalARN
    }

    public static let implicitDeny = AuthorizationResult(allowed: false, decision: "implicitDeny")
}

/// Decides requests. The daemon plugs in the IAM policy engine; the engine's own tests may use others.
public protocol Authorizer: Sendable {
    func authorize(_ request: AuthorizationRequest) -> AuthorizationResult
    /// Whether a decision for `caller` can depend on the secret's tags (if not, the vault does not read them).
    func needsResourceTags(for caller: Caller, resourcePolicy: String?) -> Bool
}

extension Authorizer {
    public func needsResourceTags(for caller: Caller, resourcePolicy: String?) -> Bool { true }
}

/// The safe default before any policy exists: uid 0 may do everything, nobody else anything.
public struct RootOnlyAuthorizer: Authorizer {
    public init() {}
    public func authorize(_ request: AuthorizationRequest) -> AuthorizationResult {
        request.caller.uid == 0
            ? AuthorizationResult(allowed: true, matchedStatements: ["root"], decision: "allowed") : .implicitDeny
    }
}

/// Allows everything: for engine tests that are not about access control.
public struct AllowAllAuthorizer: Authorizer {
    public init() {}
    public func authorize(_ request: AuthorizationRequest) -> AuthorizationResult {
        AuthorizationResult(allowed: true, decision: "allowed")
    }
}

extension ServiceError {
    /// AWS's wording. The resource is the caller's own identifier (never the stored ARN), so the answer is the same
    /// whether or not the secret exists (no existence oracle).
    static func accessDenied(_ request: AuthorizationRequest, _ result: AuthorizationResult? = nil) -> ServiceError {
        let who =
            result?.principalARN
            ?? (request.caller.userName.map { "user/\($0)" } ?? "uid/\(request.caller.uid)")
        // The same words for an implicit and an explicit deny: a Deny that names a secret's exact ARN, tags or
        // resource policy matches only when the secret exists, so naming the kind of deny would reveal existence.
        // The audit log records which it was.
        return ServiceError(
            .accessDenied,
            "User: \(who) is not authorized to perform: \(request.action) on resource: \(request.resource)")
    }
}
