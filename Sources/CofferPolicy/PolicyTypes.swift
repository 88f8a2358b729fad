import CofferCore

/// Which kind of policy a document is, which decides the rules it is validated against.
///
/// IAM identity policies (inline or managed) must not name a principal; resource policies (a secret's policy) must.
/// Managed policies additionally require `"Version": "2012-10-17"`.
public enum PolicyKind: Sendable, Hashable {
    /// An inline policy embedded in a user, group or role (`PutUserPolicy` …).
    case inline(InlineOwner)
    /// A customer managed policy (`CreatePolicy`, `CreatePolicyVersion`).
    case managed
    /// A secret's resource policy (`PutResourcePolicy`, `ValidateResourcePolicy`).
    case resource

    /// The kind of identity an inline policy is embedded in; IAM's size quota differs per kind.
    public enum InlineOwner: String, Sendable, Hashable {
        case user
        case group
        case role
    }

    /// Whether this is an IAM identity policy (inline or managed).
    public var isIdentity: Bool {
        if case .resource = self { return false }
        return true
    }
}

/// The policy language version. Policy variables exist only in 2012-10-17.
public enum PolicyVersion: String, Sendable, Hashable {
    case v2012_10_17 = "2012-10-17"
    case v2008_10_17 = "2008-10-17"

    /// Whether `${...}` is a policy variable (2012-10-17) or literal text (2008-10-17 and a missing Version).
    public var supportsVariables: Bool { self == .v2012_10_17 }
}

/// `Allow` or `Deny`.
public enum PolicyEffect: String, Sendable, Hashable {
    case allow = "Allow"
    case deny = "Deny"
}

/// IAM's document quotas, each with its reason. (Candidates for `CofferCore.Limits` once the daemon wires them.)
public enum PolicyLimits {
    /// Customer managed policy: 6,144 characters, whitespace not counted (IAM quotas page).
    public static let managedPolicySize = 6_144
    /// Aggregate of all inline policies of a user: 2,048 characters, whitespace not counted.
    public static let inlineUserPolicySize = 2_048
    /// Aggregate of all inline policies of a group: 5,120 characters, whitespace not counted.
    public static let inlineGroupPolicySize = 5_120
    /// Aggregate of all inline policies of a role: 10,240 characters, whitespace not counted.
    public static let inlineRolePolicySize = 10_240
    /// A secret's resource policy: 1–20,480 characters, whitespace counted (Secrets Manager `ResourcePolicy` shape).
    public static let resourcePolicyLength = Limits.maxResourcePolicyLength

    /// The quota that applies to `kind` (for inline kinds, the aggregate over all of the owner's inline policies).
    public static func sizeQuota(for kind: PolicyKind) -> Int {
        switch kind {
        case .managed: return managedPolicySize
        case .inline(.user): return inlineUserPolicySize
        case .inline(.group): return inlineGroupPolicySize
        case .inline(.role): return inlineRolePolicySize
        case .resource: return resourcePolicyLength
        }
    }

    /// The size IAM charges against its quotas: characters, not counting whitespace (space, tab, CR, LF).
    public static func quotaSize(of text: String) -> Int {
        var count = 0
        for scalar in text.unicodeScalars {
            switch scalar {
            case " ", "\t", "\n", "\r": continue
            default: count += 1
            }
        }
        return count
    }

    /// IAM's `PolicyDocument` parameter pattern: TAB, LF, CR and U+0020–U+00FF.
    public static func hasOnlyAllowedCharacters(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            let v = scalar.value
            return v == 0x09 || v == 0x0A || v == 0x0D || (v >= 0x20 && v <= 0xFF)
        }
    }
}

/// Why a policy document was rejected, with the message AWS gives for it.
///
/// `kind` decides the AWS error code: see ``serviceError(for:)``.
public struct PolicyValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// `MalformedPolicyDocument` (IAM) / `MalformedPolicyDocumentException` (Secrets Manager).
        case malformed
        /// IAM's `LimitExceeded`: the document is over its size quota.
        case sizeQuotaExceeded
        /// A request-shape violation (`ValidationError` / `ValidationException`): bad characters, too long.
        case constraintViolation
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    static func malformed(_ message: String) -> PolicyValidationError { .init(.malformed, message) }

    public var description: String { message }

    /// The wire error for this failure when the document was submitted as `policyKind`.
    public func serviceError(for policyKind: PolicyKind) -> ServiceError {
        switch (kind, policyKind.isIdentity) {
        case (.malformed, true): return ServiceError(.malformedPolicyDocumentIAM, message)
        case (.malformed, false): return ServiceError(.malformedPolicyDocument, message)
        case (.sizeQuotaExceeded, _): return ServiceError(.limitExceededIAM, message)
        case (.constraintViolation, _): return ServiceError(.validation, message)
        }
    }

    // IAM's messages (captured from real IAM CreatePolicy responses in moto's test suite), spelled once.
    static let syntax = malformed("Syntax errors in policy.")
    static let versionRequired = malformed("Policy document must be version 2012-10-17 or greater.")
    static let legacyParsing = malformed("The policy failed legacy parsing")
    static let duplicateSid = malformed("Statement IDs (SID) in a single policy must be unique.")
    static let sidCharacters = malformed(
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"
    )
    static let missingActions = malformed("Policy statement must contain actions.")
    static let missingResources = malformed("Policy statement must contain resources.")
    static let principalInIdentityPolicy = malformed("Policy document should not specify a principal.")
    static let missingPrincipal = malformed("Missing required field Principal")
    static let notPrincipalWithAllow = malformed("NotPrincipal can only be used with \"Effect\": \"Deny\".")
    static let vendorMissing = malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    static let vendorColons = malformed("Actions/Condition can contain only one colon.")
    static let vendorQualified = "Resource vendor must be fully qualified and cannot contain regexes."
}
