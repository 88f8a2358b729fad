import CofferCore
import CofferPolicy
import CofferStore
import Synchronization

/// How the access controller treats root.
public struct AccessOptions: Sendable {
    /// uid 0 outside a role is the vault's administrator (every action allowed) — the default, like a fresh host
    /// where only root can do anything. Set false to govern root by policies like anyone else.
    public var rootIsAdministrator = true

    public init(rootIsAdministrator: Bool = true) { self.rootIsAdministrator = rootIsAdministrator }
}

/// Decides every request with the IAM policy engine (docs/POLICY.md).
///
/// Principals come from the kernel: a caller inside a systemd unit for which a role exists acts as that role;
/// otherwise as the user of its uid, with the policies of its groups; root outside a role is the administrator
/// unless configured otherwise. Identity policies are compiled once per principal and cached until IAM changes;
/// resource policies are compiled once per distinct text.
public final class AccessController: Authorizer {
    let identity: VaultIdentity
    private let optionsBox: Mutex<AccessOptions>
    let clock: any Clock
    private let snapshot: Mutex<IAMSnapshot>
    private let resourcePolicies = Mutex([String: ParsedResourcePolicy]())
    static let resourcePolicyCacheSize = 1_024

    public init(identity: VaultIdentity, options: AccessOptions, state: IAMState, clock: any Clock = SystemClock()) {
        self.identity = identity
        self.optionsBox = Mutex(options)
        self.clock = clock
        self.snapshot = Mutex(IAMSnapshot(state: state, identity: identity))
    }

    /// Replaces the IAM state (after a committed IAM change).
    public func update(_ state: IAMState) {
        let fresh = IAMSnapshot(state: state, identity: identity)
        snapshot.withLock { $0 = fresh }
    }

    var current: IAMSnapshot { snapshot.withLock { $0 } }

    /// The options in force (changed by a configuration reload).
    public var options: AccessOptions {
        get { optionsBox.withLock { $0 } }
        set { optionsBox.withLock { $0 = newValue } }
    }

    // MARK: Principals

    /// The principal a caller acts as, and the policies that apply to it.
    func principal(for caller: Caller, in snap: IAMSnapshot) -> Principal {
        // systemd asking on a unit's behalf (LoadCredential=): only that unit's role, never root's powers.
        if let unit = caller.actingForUnit {
            if let role = snap.roles[unit] { return .role(role) }
            return .missingRole(unit)
        }
        if !snap.roles.isEmpty, let unit = caller.systemdUnit, let role = snap.roles[unit] {
            return .role(role)
        }
        if caller.uid == 0 && options.rootIsAdministrator { return .administrator }
        // A uid without an account is `uid:<n>`: no login can contain ':' (it separates passwd fields), so it never
        // collides with a real user's policies.
        return .user(name: caller.userName ?? "uid:\(caller.uid)", groups: caller.groupNames)
    }

    public func authorize(_ request: AuthorizationRequest) -> AuthorizationResult {
        let snap = current
        let principal = principal(for: request.caller, in: snap)
        if case .administrator = principal {
            return AuthorizationResult(
                allowed: true, matchedStatements: ["root (administrator)"], decision: "allowed",
                principalARN: identity.iamARN("user", "root"))
        }
        if case .missingRole(let unit) = principal {
            return AuthorizationResult(
                allowed: false, matchedStatements: ["no role for \(unit)"], decision: "implicitDeny",
                principalARN: identity.iamARN("role", unit))
        }
        let compiled = snap.compiled(principal)
        let resourcePolicy = request.resourcePolicy.flatMap { parsedResourcePolicy($0) }
        let needsProcess = compiled.mentionsProcessKeys || (resourcePolicy?.mentionsProcessKeys ?? false)
        let context = self.context(for: request, principal: principal, needsProcess: needsProcess)
        let decision = compiled.set.evaluate(context, resourcePolicy: resourcePolicy?.source)
        return AuthorizationResult(decision, principalARN: context.principalARN)
    }

    /// Tags matter only to policies that mention them (a cheap, conservative text test done once per compilation).
    public func needsResourceTags(for caller: Caller, resourcePolicy: String?) -> Bool {
        let snap = current
        let principal = principal(for: caller, in: snap)
        if case .administrator = principal { return false }
        if case .missingRole = principal { return false }
        if let resourcePolicy, IAMSnapshot.mentionsTags(resourcePolicy) { return true }
        return snap.compiled(principal).mentionsTags
    }

    /// Evaluates with explicit policy sources (IAM's simulator): no administrator shortcut, no stored policies.
    func simulate(
        _ policies: [PolicySource], resourcePolicy: PolicySource?, context: RequestContext
    ) -> Decision {
        PolicySet(identityPolicies: policies).evaluate(context, resourcePolicy: resourcePolicy)
    }

    /// The request context: AWS's global keys, Secrets Manager's keys, and Coffer's peer keys.
    func context(for request: AuthorizationRequest, principal: Principal, needsProcess: Bool) -> RequestContext {
        let caller = request.caller
        let now = clock.now()
        var keys: [String: ContextValue] = [
            "aws:currenttime": .string(now.iso8601Seconds),
            "aws:epochtime": .string(String(now.seconds)),
            "aws:securetransport": .string("true"),
            "aws:principalaccount": .string(identity.accountID),
            "coffer:peeruid": .string(String(caller.uid)),
            "coffer:peergid": .string(String(caller.gid)),
            "coffer:peerpid": .string(String(caller.pid)),
            "coffer:peergroups": .strings(caller.groupNames),
            "coffer:peergids": .strings(([caller.gid] + caller.groups).map(String.init)),
        ]
        let principalARN: String
        switch principal {
        case .role(let role):
            principalARN = identity.iamARN("role", String(role.path.dropFirst()) + role.name)
            keys["aws:principaltype"] = .string("AssumedRole")
            keys["aws:userid"] = .string("\(role.roleID):\(role.name)")
            keys["aws:principalarn"] = .string(principalARN)
        case .user(let name, _):
            principalARN = identity.iamARN("user", name)
            keys["aws:username"] = .string(name)
            keys["aws:userid"] = .string("uid:\(caller.uid)")
            keys["aws:principaltype"] = .string("User")
            keys["aws:principalarn"] = .string(principalARN)
        case .administrator:
            principalARN = identity.iamARN("user", "root")
        case .missingRole(let unit):
            principalARN = identity.iamARN("role", unit)
        }
        if needsProcess {
            if let unit = caller.systemdUnit { keys["coffer:systemdunit"] = .string(unit) }
            if let exe = caller.executablePath { keys["coffer:executablepath"] = .string(exe) }
        }
        if request.resource != "*" {
            keys["secretsmanager:secretid"] = .string(request.resource)
        }
        for tag in request.resourceTags ?? [] {
            keys["aws:resourcetag/\(tag.key)"] = .string(tag.value)
            keys["secretsmanager:resourcetag/\(tag.key)"] = .string(tag.value)
        }
        for (key, values) in request.requestKeys {
            keys[key] = key == "aws:tagkeys" ? .strings(values) : .string(values.first ?? "")
        }
        return RequestContext(
            action: request.action, resource: request.resource, principalARN: principalARN,
            principalAccount: identity.accountID, keys: keys)
    }

    struct ParsedResourcePolicy: Sendable {
        var source: PolicySource
        var mentionsProcessKeys: Bool
    }

    /// Stored policies were validated when written; one that no longer parses grants nothing.
    func parsedResourcePolicy(_ text: String) -> ParsedResourcePolicy? {
        if let hit = resourcePolicies.withLock({ $0[text] }) { return hit }
        guard let document = try? PolicyDocument.parse(text, kind: .resource) else { return nil }
        let parsed = ParsedResourcePolicy(
            source: PolicySource(policyId: "resource-policy", document: document),
            mentionsProcessKeys: IAMSnapshot.mentionsProcessKeys(text))
        resourcePolicies.withLock { cache in
            if cache.count >= AccessController.resourcePolicyCacheSize { cache.removeAll(keepingCapacity: true) }
            cache[text] = parsed
        }
        return parsed
    }
}

/// Who a request is decided for.
enum Principal {
    case administrator
    case user(name: String, groups: [String])
    case role(RoleRow)
    /// A unit that has no role: nothing is allowed.
    case missingRole(String)

    var cacheKey: String {
        switch self {
        case .administrator: return "admin"
        case .user(let name, let groups): return "user:\(name)\n" + groups.joined(separator: "\n")
        case .role(let role): return "role:\(role.name)"
        case .missingRole(let unit): return "missing-role:\(unit)"
        }
    }
}

/// IAM as of one committed state, with per-principal compiled policy sets built on first use.
final class IAMSnapshot: Sendable {
    let roles: [String: RoleRow]
    /// "kind:name" → inline policies (name, parsed document).
    let inline: [String: [(name: String, document: PolicyDocument, text: String)]]
    /// managed policy name → default version's parsed document.
    let managed: [String: (document: PolicyDocument, text: String, arn: String)]
    /// "kind:name" → attached managed policy names.
    let attachments: [String: [String]]
    private let cache = Mutex([String: CompiledPrincipal]())

    struct CompiledPrincipal: Sendable {
        var set: PolicySet
        var mentionsProcessKeys: Bool
        var mentionsTags: Bool
        var sources: [PolicySource]
    }

    init(state: IAMState, identity: VaultIdentity) {
        var roles: [String: RoleRow] = [:]
        for role in state.roles { roles[role.name] = role }
        self.roles = roles
        var inline: [String: [(String, PolicyDocument, String)]] = [:]
        for entry in state.inline {
            let kind: PolicyKind.InlineOwner
            switch entry.kind {
            case .user: kind = .user
            case .group: kind = .group
            case .role: kind = .role
            }
            guard let document = try? PolicyDocument.parse(entry.document, kind: .inline(kind)) else { continue }
            inline["\(entry.kind.rawValue):\(entry.principal)", default: []].append(
                (entry.policy, document, entry.document))
        }
        self.inline = inline
        var managed: [String: (PolicyDocument, String, String)] = [:]
        for policy in state.policies {
            guard
                let version = state.versions.first(where: {
                    $0.policyName == policy.name && $0.versionID == policy.defaultVersion
                }),
                let document = try? PolicyDocument.parse(version.document, kind: .managed)
            else { continue }
            let arn = identity.iamARN("policy", String(policy.path.dropFirst()) + policy.name)
            managed[policy.name] = (document, version.document, arn)
        }
        self.managed = managed
        var attachments: [String: [String]] = [:]
        for a in state.attachments { attachments["\(a.kind.rawValue):\(a.principal)", default: []].append(a.policy) }
        self.attachments = attachments
    }

    /// The policies of one principal entity (`user`/`group`/`role` and name), with their ids.
    func sources(kind: PrincipalKind, name: String) -> [(PolicySource, String)] {
        let key = "\(kind.rawValue):\(name)"
        var out: [(PolicySource, String)] = []
        for entry in inline[key] ?? [] {
            out.append(
                (
                    PolicySource(policyId: "\(kind.rawValue)/\(name)/inline/\(entry.name)", document: entry.document),
                    entry.text
                ))
        }
        for policyName in attachments[key] ?? [] {
            guard let policy = managed[policyName] else { continue }
            out.append((PolicySource(policyId: policy.arn, document: policy.document), policy.text))
        }
        return out
    }

    func compiled(_ principal: Principal) -> CompiledPrincipal {
        let key = principal.cacheKey
        if let hit = cache.withLock({ $0[key] }) { return hit }
        var all: [(PolicySource, String)] = []
        switch principal {
        case .administrator, .missingRole: break
        case .user(let name, let groups):
            all = sources(kind: .user, name: name)
            for group in groups { all += sources(kind: .group, name: group) }
        case .role(let role):
            all = sources(kind: .role, name: role.name)
        }
        let compiled = CompiledPrincipal(
            set: PolicySet(identityPolicies: all.map(\.0)),
            mentionsProcessKeys: all.contains { IAMSnapshot.mentionsProcessKeys($0.1) },
            mentionsTags: all.contains { IAMSnapshot.mentionsTags($0.1) }, sources: all.map(\.0))
        cache.withLock { table in
            if table.count >= 4_096 { table.removeAll(keepingCapacity: true) }
            table[key] = compiled
        }
        return compiled
    }

    /// Whether a policy text can test a secret's tags (`…:ResourceTag/…`).
    static func mentionsTags(_ text: String) -> Bool { text.lowercased().contains("resourcetag") }

    /// Whether a policy text uses the keys that need `/proc` (read only then).
    static func mentionsProcessKeys(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.contains("coffer:systemdunit") || lower.contains("coffer:executablepath")
    }
}

extension AuthorizationResult {
    init(_ decision: Decision, principalARN: String) {
        let matched = decision.matchedStatements.map { statement in
            "\(statement.policyId):\(statement.sid ?? "#\(statement.statementIndex)")"
        }
        let name: String
        switch decision.effect {
        case .allowed: name = "allowed"
        case .explicitDeny: name = "explicitDeny"
        case .implicitDeny: name = "implicitDeny"
        }
        self.init(allowed: decision.isAllowed, matchedStatements: matched, decision: name, principalARN: principalARN)
    }
}
