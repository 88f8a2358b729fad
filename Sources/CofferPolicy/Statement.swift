/// `Action` or `NotAction`, compiled: lower-cased exact names and lower-cased globs, matched against the whole name.
struct ActionMatcher: Sendable {
    let negated: Bool
    let exact: [[UInt8]]
    let globs: [Glob]
    /// Lower-cased literal prefix of every entry (for the index); empty if some entry starts with a wildcard.
    let prefixes: [[UInt8]]

    init(_ entries: [String], negated: Bool) {
        self.negated = negated
        var exact: [[UInt8]] = []
        var globs: [Glob] = []
        var prefixes: [[UInt8]] = []
        for entry in entries {
            let lowered = lowercasedFast(entry)
            let glob = Glob(pattern: lowered)
            if glob.hasWildcards {
                globs.append(glob)
            } else {
                exact.append(Array(lowered.utf8))
            }
            prefixes.append(glob.literalPrefix)
        }
        self.exact = exact
        self.globs = globs
        self.prefixes = prefixes
    }

    /// `action` must already be lower-cased.
    @inline(__always)
    func matches(_ action: UnsafeBufferPointer<UInt8>) -> Bool {
        var hit = false
        for name in exact where bytesEqual(name, action) {
            hit = true
            break
        }
        if !hit {
            for glob in globs where glob.matches(action) {
                hit = true
                break
            }
        }
        return hit != negated
    }
}

/// `Resource` or `NotResource`, compiled.
struct ResourceMatcher: Sendable {
    let negated: Bool
    let patterns: [ARNPattern]

    init(_ entries: [String], negated: Bool, variables: Bool) {
        self.negated = negated
        self.patterns = entries.map { ARNPattern($0, variables: variables, allowTruncation: true) }
    }

    @inline(__always)
    func matches(
        _ resource: UnsafeBufferPointer<UInt8>, split: ARNSplit?, _ lookup: (PolicyVariable) -> String?
    )
        -> Bool
    {
        var hit = false
        for pattern in patterns where pattern.matches(resource, split: split, lookup) {
            hit = true
            break
        }
        return hit != negated
    }
}

/// One entry of a `Principal`/`NotPrincipal` element.
enum PrincipalEntry: Sendable, Hashable {
    /// `"*"` or `{"AWS": "*"}`: everyone.
    case everyone
    /// A bare 12-digit account id: every principal of that account.
    case account(String)
    /// `arn:<partition>:iam::<account>:root`: every principal of that account (in that partition).
    case accountRoot(arn: String, partition: String, account: String)
    /// A named principal (user, role, …): exact, case-sensitive ARN comparison.
    case arn(String)
    /// `Service`, `Federated` or `CanonicalUser` principals: kept for validation, they never match a local caller.
    case other(type: String, value: String)

    init(awsValue value: String) {
        if value == "*" {
            self = .everyone
        } else if value.utf8.count == 12, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            self = .account(value)
        } else if let arn = ParsedARN(value), arn.service == "iam", arn.region.isEmpty, arn.resource == "root" {
            self = .accountRoot(arn: value, partition: arn.partition, account: arn.account)
        } else {
            self = .arn(value)
        }
    }
}

/// How a request's principal relates to a Principal element.
enum PrincipalMatch: Comparable {
    case none
    /// Matched only through an account-level entry (account id or `…:root`).
    case account
    /// Matched by `*` or by its own ARN.
    case exact
}

/// The facts about the caller that principal matching needs, derived once per evaluation.
struct CallerIdentity {
    let arn: String
    let account: String
    let partition: Substring?

    init(arn: String, account: String) {
        self.arn = arn
        self.account = account
        self.partition = ParsedARN(arn).map { Substring($0.partition) }
    }

    func match(_ entry: PrincipalEntry) -> PrincipalMatch {
        switch entry {
        case .everyone: return .exact
        case .account(let id): return id == account ? .account : .none
        case .accountRoot(let text, let partition, let id):
            if bytesEqual(text, arn) { return .exact }
            return id == account && self.partition.map({ $0 == partition }) == true ? .account : .none
        case .arn(let text): return bytesEqual(text, arn) ? .exact : .none
        case .other: return .none
        }
    }

    func bestMatch(_ entries: [PrincipalEntry]) -> PrincipalMatch {
        var best = PrincipalMatch.none
        for entry in entries {
            best = max(best, match(entry))
            if best == .exact { break }
        }
        return best
    }

    /// NotPrincipal's exemption, AWS-style: the caller is exempt only when *every* identity AWS checks is listed —
    /// its own ARN and its account (AWS checks the account, then the user or role). Listing only the account root does
    /// not exempt the account's users; listing only a user leaves the account-level check denying. `*` exempts all.
    func isExempt(from entries: [PrincipalEntry]) -> Bool {
        var principalListed = false
        var accountListed = false
        for entry in entries {
            switch entry {
            case .everyone: return true
            case .account(let id): if id == account { accountListed = true }
            case .accountRoot(let text, let partition, let id):
                if id == account && self.partition.map({ $0 == partition }) == true { accountListed = true }
                if bytesEqual(text, arn) { principalListed = true }
            case .arn(let text): if bytesEqual(text, arn) { principalListed = true }
            case .other: break
            }
        }
        return principalListed && accountListed
    }
}

/// The `Principal`/`NotPrincipal` element of a resource-policy statement.
enum PrincipalSpec: Sendable {
    case principal([PrincipalEntry])
    case notPrincipal([PrincipalEntry])
}

/// A plain split of an ARN's text into its six parts (no wildcard handling).
struct ParsedARN {
    let partition: String
    let service: String
    let region: String
    let account: String
    let resource: String

    init?(_ text: String) {
        guard text.hasPrefix("arn:") else { return nil }
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        partition = String(parts[1])
        service = String(parts[2])
        region = String(parts[3])
        account = String(parts[4])
        resource = String(parts[5])
    }
}

/// One statement, compiled. A class so that the evaluator's loops pass one reference instead of copying fields.
final class CompiledStatement: Sendable {
    let index: Int
    let sid: String?
    let effect: PolicyEffect
    let actions: ActionMatcher
    let resources: ResourceMatcher
    /// Nil in identity policies.
    let principal: PrincipalSpec?
    let conditions: [Condition]

    init(
        index: Int,
        sid: String?,
        effect: PolicyEffect,
        actions: ActionMatcher,
        resources: ResourceMatcher,
        principal: PrincipalSpec?,
        conditions: [Condition]
    ) {
        self.index = index
        self.sid = sid
        self.effect = effect
        self.actions = actions
        self.resources = resources
        self.principal = principal
        self.conditions = conditions
    }
}
