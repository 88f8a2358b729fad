/// A context key's value. Single-valued keys are `.string`; multivalued keys (`aws:TagKeys`, group lists) are
/// `.strings`, which only set operators (`ForAnyValue:`/`ForAllValues:`) test. An empty `.strings` counts as absent.
/// The operator decides how the text is read (number, date, ARN, IP, base64, boolean).
public enum ContextValue: Sendable, Hashable {
    case string(String)
    case strings([String])
}

/// Everything a decision depends on. Key names are case-insensitive (stored lower-cased).
public struct RequestContext: Sendable {
    /// `service:Operation`, e.g. `secretsmanager:GetSecretValue` (case-insensitive).
    public var action: String
    /// The secret's ARN, or `*` for resource-less actions (ListSecrets, GetRandomPassword, BatchGetSecretValue).
    public var resource: String
    /// The most specific principal (role or user) ARN; compared with `Principal` entries in resource policies.
    public var principalARN: String
    /// The principal's 12-digit account id.
    public var principalAccount: String
    /// Lower-cased key name → value (`aws:username`, `secretsmanager:versionstage`, `aws:resourcetag/team`, …).
    public private(set) var keys: [String: ContextValue]

    public init(
        action: String,
        resource: String,
        principalARN: String,
        principalAccount: String,
        keys: [String: ContextValue] = [:]
    ) {
        self.action = action
        self.resource = resource
        self.principalARN = principalARN
        self.principalAccount = principalAccount
        var normalized: [String: ContextValue] = [:]
        normalized.reserveCapacity(keys.count)
        for (key, value) in keys { normalized[lowercasedFast(key)] = value }
        self.keys = normalized
    }

    /// Reads or sets a key, case-insensitively.
    public subscript(key: String) -> ContextValue? {
        get { keys[lowercasedFast(key)] }
        set { keys[lowercasedFast(key)] = newValue }
    }
}

/// A policy and the identifier the audit log and simulation output use for it.
public struct PolicySource: Sendable {
    /// E.g. `user/alice/inline/readers`, a managed policy ARN, or `resource-policy`.
    public var policyId: String
    public var document: PolicyDocument

    public init(policyId: String, document: PolicyDocument) {
        self.policyId = policyId
        self.document = document
    }
}

/// A statement that determined a decision (IAM simulation's `MatchedStatements`).
public struct MatchedStatement: Sendable, Hashable {
    public var policyId: String
    public var sid: String?
    public var effect: PolicyEffect
    /// Zero-based position of the statement in its document.
    public var statementIndex: Int
    /// Whether the statement is in the resource policy (else in an identity policy).
    public var inResourcePolicy: Bool

    public init(policyId: String, sid: String?, effect: PolicyEffect, statementIndex: Int, inResourcePolicy: Bool) {
        self.policyId = policyId
        self.sid = sid
        self.effect = effect
        self.statementIndex = statementIndex
        self.inResourcePolicy = inResourcePolicy
    }
}

/// The outcome of an authorization check and the statements that decided it.
///
/// `matchedStatements` holds every applicable `Deny` for `.explicitDeny`, every granting `Allow` for `.allowed`
/// (identity-policy Allows and resource-policy Allows that name the caller or `*`), and nothing for `.implicitDeny`.
/// Identity statements come first in policy and statement order, then the resource policy's.
public struct Decision: Sendable, Hashable {
    public enum Effect: Sendable, Hashable {
        case allowed
        case explicitDeny
        case implicitDeny
    }

    public var effect: Effect
    public var matchedStatements: [MatchedStatement]

    public init(effect: Effect, matchedStatements: [MatchedStatement]) {
        self.effect = effect
        self.matchedStatements = matchedStatements
    }

    public var isAllowed: Bool { effect == .allowed }
}

/// The identity policies of one principal, compiled and indexed. Build it once per principal (and again when its
/// policies change); evaluation is read-only and safe from any thread.
///
/// Evaluation is AWS's, for a single account: collect the applicable statements of the identity policies and of the
/// secret's resource policy (a statement applies when its action, resource, principal — resource policies only —
/// and every condition match); any applicable Deny → explicit deny; else any granting Allow → allowed; else
/// implicit deny. A resource-policy Allow whose principal matches the caller only at account level (bare account id
/// or `arn:…:iam::<acct>:root`) delegates to identity policies and grants nothing by itself.
public struct PolicySet: Sendable {
    let storage: Storage

    /// One reference for the whole set, so that evaluation closures capture a pointer rather than four arrays.
    final class Storage: Sendable {
        let policyIds: [String]
        let owners: [Int32]
        let statements: [CompiledStatement]
        let index: StatementIndex

        init(policyIds: [String], owners: [Int32], statements: [CompiledStatement]) {
            self.policyIds = policyIds
            self.owners = owners
            self.statements = statements
            self.index = StatementIndex(statements)
        }
    }

    var policyIds: [String] { storage.policyIds }
    var owners: [Int32] { storage.owners }
    var statements: [CompiledStatement] { storage.statements }
    var index: StatementIndex { storage.index }

    public init(identityPolicies: [PolicySource]) {
        var policyIds: [String] = []
        var owners: [Int32] = []
        var statements: [CompiledStatement] = []
        for (ordinal, source) in identityPolicies.enumerated() {
            policyIds.append(source.policyId)
            for statement in source.document.compiled {
                owners.append(Int32(ordinal))
                statements.append(statement)
            }
        }
        self.storage = Storage(policyIds: policyIds, owners: owners, statements: statements)
    }

    /// Number of identity-policy statements in the set.
    public var statementCount: Int { statements.count }

    /// Decides `context` against the identity policies and, when the secret has one, its resource policy (a document
    /// parsed as ``PolicyKind/resource``; statements without a principal never apply from that position).
    public func evaluate(_ context: RequestContext, resourcePolicy: PolicySource? = nil) -> Decision {
        withLowercasedBytes(context.action) { actionBytes in
            withBytes(context.resource) { resourceBytes in
                evaluate(context, actionBytes, resourceBytes, resourcePolicy)
            }
        }
    }

    private func evaluate(
        _ context: RequestContext,
        _ action: UnsafeBufferPointer<UInt8>,
        _ resource: UnsafeBufferPointer<UInt8>,
        _ resourcePolicy: PolicySource?
    ) -> Decision {
        let statements = storage.statements
        let keys = context.keys
        let split = ARNSplit(resource)
        let lookup = { (variable: PolicyVariable) -> String? in resolve(variable, in: keys) }

        var identityDenies: [Int32] = []
        var identityAllows: [Int32] = []
        index.forEachCandidate(action: action, resource: resource) { position in
            let statement = statements[Int(position)]
            guard statement.actions.matches(action), statement.resources.matches(resource, split: split, lookup),
                statement.conditions.allSatisfy({ $0.evaluate(keys, lookup) })
            else { return }
            if statement.effect == .deny {
                if !identityDenies.contains(position) { identityDenies.append(position) }
            } else if identityDenies.isEmpty, !identityAllows.contains(position) {
                identityAllows.append(position)
            }
        }

        var resourceDenies: [Int32] = []
        var resourceAllows: [Int32] = []
        if let resourcePolicy {
            let document = resourcePolicy.document
            let caller = CallerIdentity(arn: context.principalARN, account: context.principalAccount)
            document.index.forEachCandidate(action: action, resource: resource) { position in
                let statement = document.compiled[Int(position)]
                guard statement.actions.matches(action), statement.resources.matches(resource, split: split, lookup)
                else { return }
                let grants: Bool
                switch statement.principal {
                case .principal(let entries)?:
                    let match = caller.bestMatch(entries)
                    guard match != .none else { return }
                    grants = match == .exact
                case .notPrincipal(let entries)?:
                    guard !caller.isExempt(from: entries) else { return }
                    grants = false
                case nil:
                    return
                }
                guard statement.conditions.allSatisfy({ $0.evaluate(keys, lookup) }) else { return }
                if statement.effect == .deny {
                    if !resourceDenies.contains(position) { resourceDenies.append(position) }
                } else if grants, !resourceAllows.contains(position) {
                    resourceAllows.append(position)
                }
            }
        }

        if !identityDenies.isEmpty || !resourceDenies.isEmpty {
            return Decision(
                effect: .explicitDeny,
                matchedStatements: matched(identityDenies, resourceDenies, resourcePolicy)
            )
        }
        if !identityAllows.isEmpty || !resourceAllows.isEmpty {
            return Decision(
                effect: .allowed, matchedStatements: matched(identityAllows, resourceAllows, resourcePolicy))
        }
        return Decision(effect: .implicitDeny, matchedStatements: [])
    }

    private func matched(
        _ identity: [Int32], _ resource: [Int32], _ resourcePolicy: PolicySource?
    )
        -> [MatchedStatement]
    {
        var out: [MatchedStatement] = []
        out.reserveCapacity(identity.count + resource.count)
        for position in identity.sorted() {
            let statement = statements[Int(position)]
            out.append(
                MatchedStatement(
                    policyId: policyIds[Int(owners[Int(position)])],
                    sid: statement.sid,
                    effect: statement.effect,
                    statementIndex: statement.index,
                    inResourcePolicy: false
                )
            )
        }
        if let resourcePolicy {
            for position in resource.sorted() {
                let statement = resourcePolicy.document.compiled[Int(position)]
                out.append(
                    MatchedStatement(
                        policyId: resourcePolicy.policyId,
                        sid: statement.sid,
                        effect: statement.effect,
                        statementIndex: statement.index,
                        inResourcePolicy: true
                    )
                )
            }
        }
        return out
    }
}

/// A policy variable's value: the key's single value, the default when the key is absent, nil (unresolved) when
/// absent without default or multivalued.
@inline(__always)
func resolve(_ variable: PolicyVariable, in keys: [String: ContextValue]) -> String? {
    switch keys[variable.key] {
    case .string(let value)?: return value
    case .strings(let list)? where list.isEmpty: return variable.defaultValue
    case .strings?: return nil
    case nil: return variable.defaultValue
    }
}

// MARK: - Index

/// Narrows a request to the statements that can apply to it, so that a decision over thousands of statements visits
/// only a handful.
///
/// Each statement is filed once: under the literal prefixes of its `Resource` patterns (everything before the first
/// wildcard or variable — every matching ARN starts with it), or under the literal prefixes of its `Action` entries,
/// whichever is more selective; statements with neither (`NotAction` + `NotResource`, `*` + `*`) go to a residual
/// list that every request visits. Candidates are then checked in full, so the index only has to be complete, not
/// exact.
struct StatementIndex: Sendable {
    let byResource: PrefixIndex
    let byAction: PrefixIndex
    let residual: [Int32]

    init(_ statements: [CompiledStatement]) {
        var resourceEntries: [([UInt8], Int32)] = []
        var actionEntries: [([UInt8], Int32)] = []
        var residual: [Int32] = []
        for (offset, statement) in statements.enumerated() {
            let position = Int32(offset)
            let resourcePrefixes = StatementIndex.resourcePrefixes(statement.resources)
            let actionPrefixes = StatementIndex.actionPrefixes(statement.actions)
            switch (resourcePrefixes, actionPrefixes) {
            case (let resources?, let actions?):
                let resourceLength = resources.map(\.count).min() ?? Int.max
                let actionLength = actions.map(\.count).min() ?? Int.max
                if resourceLength > actionLength {
                    resourceEntries += resources.map { ($0, position) }
                } else {
                    actionEntries += actions.map { ($0, position) }
                }
            case (let resources?, nil): resourceEntries += resources.map { ($0, position) }
            case (nil, let actions?): actionEntries += actions.map { ($0, position) }
            case (nil, nil): residual.append(position)
            }
        }
        byResource = PrefixIndex(resourceEntries)
        byAction = PrefixIndex(actionEntries)
        self.residual = residual
    }

    /// Prefixes of a positive `Resource` element; nil when some entry could match anything. Patterns that can never
    /// match contribute nothing (a statement made only of them is never a candidate, correctly).
    static func resourcePrefixes(_ resources: ResourceMatcher) -> [[UInt8]]? {
        guard !resources.negated else { return nil }
        var prefixes: [[UInt8]] = []
        for pattern in resources.patterns {
            switch pattern.shape {
            case .never: continue
            case .everything: return nil
            case .parts:
                guard !pattern.literalPrefix.isEmpty else { return nil }
                prefixes.append(pattern.literalPrefix)
            }
        }
        return prefixes
    }

    static func actionPrefixes(_ actions: ActionMatcher) -> [[UInt8]]? {
        guard !actions.negated, !actions.prefixes.contains(where: \.isEmpty) else { return nil }
        return actions.prefixes
    }

    @inline(__always)
    func forEachCandidate(
        action: UnsafeBufferPointer<UInt8>,
        resource: UnsafeBufferPointer<UInt8>,
        _ body: (Int32) -> Void
    ) {
        byResource.forEachMatch(resource, body)
        byAction.forEachMatch(action, body)
        for position in residual { body(position) }
    }
}

/// Finds the entries whose key is a prefix of a text, by hashing each prefix length that occurs among the keys
/// (FNV-1a over the text, computed incrementally in one pass) and probing an open-addressing table keyed by that
/// hash (no second hash function). A hash collision only adds a candidate.
struct PrefixIndex: Sendable {
    let lengths: [Int]
    /// Slot `i` holds `positions[starts[i] ..< starts[i] + counts[i]]` for hash `keys[i]`; `counts[i] == 0` is empty.
    let keys: [UInt64]
    let starts: [Int32]
    let counts: [Int32]
    let positions: [Int32]
    let mask: Int

    static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01b3

    init(_ entries: [([UInt8], Int32)]) {
        var groups: [UInt64: [Int32]] = [:]
        var lengths: Set<Int> = []
        for (key, position) in entries where !key.isEmpty {
            var hash = PrefixIndex.offsetBasis
            for byte in key { hash = (hash ^ UInt64(byte)) &* PrefixIndex.prime }
            let slot = PrefixIndex.mix(hash, key.count)
            if groups[slot, default: []].last != position { groups[slot, default: []].append(position) }
            lengths.insert(key.count)
        }
        var capacity = 8
        while capacity < groups.count * 2 { capacity *= 2 }
        var keys = [UInt64](repeating: 0, count: capacity)
        var starts = [Int32](repeating: 0, count: capacity)
        var counts = [Int32](repeating: 0, count: capacity)
        var positions: [Int32] = []
        for (key, list) in groups {
            var slot = Int(truncatingIfNeeded: key) & (capacity - 1)
            while counts[slot] != 0 { slot = (slot + 1) & (capacity - 1) }
            keys[slot] = key
            starts[slot] = Int32(positions.count)
            counts[slot] = Int32(list.count)
            positions += list
        }
        self.keys = keys
        self.starts = starts
        self.counts = counts
        self.positions = positions
        self.mask = capacity - 1
        self.lengths = lengths.sorted()
    }

    @inline(__always)
    static func mix(_ hash: UInt64, _ length: Int) -> UInt64 {
        let mixed = hash ^ (UInt64(truncatingIfNeeded: length) &* 0x9E37_79B9_7F4A_7C15)
        return mixed ^ (mixed >> 29)
    }

    @inline(__always)
    func forEachMatch(_ text: UnsafeBufferPointer<UInt8>, _ body: (Int32) -> Void) {
        guard let first = lengths.first, first <= text.count else { return }
        var hash = PrefixIndex.offsetBasis
        var next = 0
        var target = first
        var i = 0
        while i < text.count {
            hash = (hash ^ UInt64(text[i])) &* PrefixIndex.prime
            i += 1
            guard i == target else { continue }
            let key = PrefixIndex.mix(hash, i)
            var slot = Int(truncatingIfNeeded: key) & mask
            while counts[slot] != 0 {
                if keys[slot] == key {
                    let from = Int(starts[slot])
                    for k in from..<(from + Int(counts[slot])) { body(positions[k]) }
                    break
                }
                slot = (slot + 1) & mask
            }
            next += 1
            guard next < lengths.count else { return }
            target = lengths[next]
        }
    }
}
