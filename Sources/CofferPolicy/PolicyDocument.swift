import CofferCore

/// A validated and compiled IAM policy document (identity or resource policy). Immutable; parse once, evaluate often.
public struct PolicyDocument: Sendable {
    public let kind: PolicyKind
    /// The effective version (a missing `Version` means 2008-10-17: no policy variables).
    public let version: PolicyVersion
    /// Whether the document had a `Version` element.
    public let hasExplicitVersion: Bool
    public let id: String?
    /// The statements, in document order.
    public let statements: [PolicyStatementSummary]
    /// The size IAM charges against its quotas (characters, whitespace not counted).
    public let quotaSize: Int

    let compiled: [CompiledStatement]
    let index: StatementIndex

    /// Partitions accepted in `Resource` ARNs: AWS's, Coffer's own, and `*`.
    public static let validPartitions: Set<String> = [
        "aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc", "coffer", "*",
    ]

    /// Parses, validates (with IAM's messages) and compiles `json` as a policy of `kind`.
    ///
    /// Check order follows IAM: characters and size, then "Syntax errors in policy." (structure), the version rule
    /// for managed policies, principals in identity policies, "legacy parsing" (Effect case, dates, ARN shape), SID
    /// rules, presence of actions and resources, resource ARN format, action vendor format, and finally the
    /// resource-policy principal rules.
    public static func parse(_ json: String, kind: PolicyKind) throws(PolicyValidationError) -> PolicyDocument {
        try parse(json, kind: kind, checkingEnvelope: true)
    }

    static func parse(
        _ json: String, kind: PolicyKind, checkingEnvelope: Bool
    ) throws(PolicyValidationError)
        -> PolicyDocument
    {
        if checkingEnvelope { try checkEnvelope(json, kind: kind) }
        var parser = PolicyParser(kind: kind)
        let raw = try parser.parse(json)
        return PolicyDocument(raw: raw, kind: kind, quotaSize: PolicyLimits.quotaSize(of: json))
    }

    /// Character set and size rules, checked before the JSON is read (they are request-shape checks in AWS).
    static func checkEnvelope(_ json: String, kind: PolicyKind) throws(PolicyValidationError) {
        switch kind {
        case .resource:
            let length = json.unicodeScalars.count
            if length == 0 || length > PolicyLimits.resourcePolicyLength {
                let constraint =
                    length == 0
                    ? "Member must have length greater than or equal to 1"
                    : "Member must have length less than or equal to \(PolicyLimits.resourcePolicyLength)"
                throw PolicyValidationError(
                    .constraintViolation,
                    ServiceError.constraint(at: "resourcePolicy", constraint).message
                )
            }
        case .managed, .inline:
            guard !json.isEmpty, PolicyLimits.hasOnlyAllowedCharacters(json) else {
                throw PolicyValidationError(
                    .constraintViolation,
                    ServiceError.constraint(
                        at: "policyDocument",
                        "Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+"
                    ).message
                )
            }
            let size = PolicyLimits.quotaSize(of: json)
            let quota = PolicyLimits.sizeQuota(for: kind)
            if size > quota {
                throw PolicyValidationError(.sizeQuotaExceeded, sizeExceededMessage(kind: kind, ownerName: nil))
            }
        }
    }

    /// IAM's LimitExceeded wording. For inline policies the daemon checks the aggregate of all of an owner's inline
    /// policies and can pass the owner's name.
    public static func sizeExceededMessage(kind: PolicyKind, ownerName: String?) -> String {
        switch kind {
        case .managed:
            return "Cannot exceed quota for PolicySize: \(PolicyLimits.managedPolicySize)"
        case .inline(let owner):
            let who = ownerName.map { " \($0)" } ?? ""
            return
                "Maximum policy size of \(PolicyLimits.sizeQuota(for: kind)) bytes exceeded for \(owner.rawValue)\(who)"
        case .resource:
            return "Member must have length less than or equal to \(PolicyLimits.resourcePolicyLength)"
        }
    }

    init(raw: RawPolicy, kind: PolicyKind, quotaSize: Int) {
        self.kind = kind
        self.version = raw.version ?? .v2008_10_17
        self.hasExplicitVersion = raw.version != nil
        self.id = raw.id
        self.quotaSize = quotaSize
        let variables = version.supportsVariables
        var compiled: [CompiledStatement] = []
        for (index, statement) in raw.statements.enumerated() {
            compiled.append(statement.compile(index: index, variables: variables))
        }
        self.compiled = compiled
        self.statements = compiled.map { PolicyStatementSummary(index: $0.index, sid: $0.sid, effect: $0.effect) }
        self.index = StatementIndex(compiled)
    }
}

/// What callers may see of a statement (for listings, audit and simulation output).
public struct PolicyStatementSummary: Sendable, Hashable {
    public let index: Int
    public let sid: String?
    public let effect: PolicyEffect
}

// MARK: - Raw (validated, not yet compiled) form

struct RawPolicy {
    var version: PolicyVersion?
    var id: String?
    var statements: [RawStatement]
}

struct RawStatement {
    var sid: String?
    var effect: PolicyEffect
    var actions: [String]
    var actionsNegated: Bool
    var resources: [String]
    var resourcesNegated: Bool
    var principal: PrincipalSpec?
    var conditions: [(ConditionOperator, String, [String])]

    func compile(index: Int, variables: Bool) -> CompiledStatement {
        CompiledStatement(
            index: index,
            sid: sid,
            effect: effect,
            actions: ActionMatcher(actions, negated: actionsNegated),
            resources: ResourceMatcher(resources, negated: resourcesNegated, variables: variables),
            principal: principal,
            conditions: conditions.map { Condition(op: $0.0, key: $0.1, rawValues: $0.2, variables: variables) }
        )
    }
}

// MARK: - Validation

struct PolicyParser {
    let kind: PolicyKind
    /// IAM keeps the *last* resource-format error it meets and reports it after the other checks.
    var resourceError: String?

    init(kind: PolicyKind) { self.kind = kind }

    static let topLevelKeys: Set<String> = ["Version", "Id", "Statement"]
    static let statementKeys: Set<String> = [
        "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition",
    ]
    static let principalTypes: Set<String> = ["AWS", "Service", "Federated", "CanonicalUser"]

    typealias Members = [(String, JSONValue)]

    mutating func parse(_ json: String) throws(PolicyValidationError) -> RawPolicy {
        // 1. Structure ("Syntax errors in policy.").
        let document: JSONValue
        do {
            document = try JSONValue.parse(json)
        } catch {
            throw .syntax
        }
        guard case .object(let top) = document, PolicyParser.uniqueKeys(top, allowed: PolicyParser.topLevelKeys)
        else { throw .syntax }
        var version: PolicyVersion?
        if let value = document["Version"] {
            guard case .string(let text) = value, let parsed = PolicyVersion(rawValue: text) else { throw .syntax }
            version = parsed
        }
        var id: String?
        if let value = document["Id"] {
            guard case .string(let text) = value else { throw .syntax }
            id = text
        }
        let statementObjects: [Members]
        switch document["Statement"] {
        case .object(let members)?: statementObjects = [members]
        case .array(let list)?:
            guard !list.isEmpty else { throw .syntax }
            var objects: [Members] = []
            for element in list {
                guard case .object(let members) = element else { throw .syntax }
                objects.append(members)
            }
            statementObjects = objects
        default: throw .syntax
        }
        for members in statementObjects { try PolicyParser.checkStatementSyntax(members) }
        let statements = statementObjects.map { JSONValue.object($0) }

        // 2. Version rule of managed policies.
        if kind == .managed && version != .v2012_10_17 { throw .versionRequired }

        // 2b. Identity policies name no principal.
        if kind.isIdentity, statements.contains(where: { $0["Principal"] != nil || $0["NotPrincipal"] != nil }) {
            throw .principalInIdentityPolicy
        }

        // 3. "Legacy parsing": exact Effect spelling, date literals, ARN shape.
        for statement in statements {
            guard case .string(let effect)? = statement["Effect"], PolicyEffect(rawValue: effect) != nil else {
                throw .legacyParsing
            }
            try PolicyParser.checkDateLiterals(statement)
        }
        try checkResourceFormats(statements, key: "Resource")
        try checkResourceFormats(statements, key: "NotResource")

        // 3b. SID characters, 4. SID uniqueness.
        var sids: Set<String> = []
        for statement in statements {
            guard case .string(let sid)? = statement["Sid"] else { continue }
            guard sid.utf8.allSatisfy(isASCIIAlphanumeric) else { throw .sidCharacters }
            if !sid.isEmpty {
                guard sids.insert(sid).inserted else { throw .duplicateSid }
            }
        }

        // 5, 6. Actions and resources present.
        for statement in statements where !PolicyParser.hasNonEmpty(statement, "Action", "NotAction") {
            throw .missingActions
        }
        for statement in statements where !PolicyParser.hasNonEmpty(statement, "Resource", "NotResource") {
            throw .missingResources
        }

        // 7. The deferred resource-format error.
        if let resourceError { throw .malformed(resourceError) }

        // 8. Action vendors.
        for key in ["Action", "NotAction"] {
            for statement in statements {
                for action in PolicyParser.strings(statement[key]) { try PolicyParser.checkActionVendor(action) }
            }
        }

        // 9. Resource-policy principals.
        var raws: [RawStatement] = []
        for statement in statements {
            let principal = try principalSpec(statement)
            raws.append(PolicyParser.rawStatement(statement, principal: principal))
        }
        return RawPolicy(version: version, id: id, statements: raws)
    }

    static func uniqueKeys(_ members: Members, allowed: Set<String>) -> Bool {
        var seen: Set<String> = []
        for (key, _) in members {
            guard allowed.contains(key), seen.insert(key).inserted else { return false }
        }
        return true
    }

    static func isStringOrStringList(_ value: JSONValue) -> Bool {
        switch value {
        case .string: return true
        case .array(let list): return list.allSatisfy { if case .string = $0 { return true } else { return false } }
        default: return false
        }
    }

    static func isScalar(_ value: JSONValue) -> Bool {
        switch value {
        case .string, .bool, .number: return true
        default: return false
        }
    }

    static func checkStatementSyntax(_ members: Members) throws(PolicyValidationError) {
        guard uniqueKeys(members, allowed: statementKeys) else { throw .syntax }
        let statement = JSONValue.object(members)
        func has(_ key: String) -> Bool { statement[key] != nil }
        guard !(has("Resource") && has("NotResource")), !(has("Action") && has("NotAction")),
            !(has("Principal") && has("NotPrincipal"))
        else { throw .syntax }
        guard case .string(let effect)? = statement["Effect"],
            effect.lowercased() == "allow" || effect.lowercased() == "deny"
        else { throw .syntax }
        for key in ["Action", "NotAction", "Resource", "NotResource"] {
            if let value = statement[key], !isStringOrStringList(value) { throw .syntax }
        }
        if let sid = statement["Sid"], sid.stringValue == nil { throw .syntax }
        for key in ["Principal", "NotPrincipal"] {
            if let value = statement[key] { try checkPrincipalSyntax(value) }
        }
        guard let condition = statement["Condition"] else { return }
        guard case .object(let blocks) = condition else { throw .syntax }
        var operatorNames: Set<String> = []
        for (name, block) in blocks {
            guard operatorNames.insert(name).inserted, case .object(let entries) = block else { throw .syntax }
            var keys: Set<String> = []
            for (key, value) in entries {
                guard keys.insert(lowercasedFast(key)).inserted else { throw .syntax }
                switch value {
                case .array(let list): guard list.allSatisfy(isScalar) else { throw .syntax }
                default: guard isScalar(value) else { throw .syntax }
                }
            }
            // An unknown operator is accepted only with an empty block.
            if ConditionOperator(name) == nil && !entries.isEmpty { throw .syntax }
        }
    }

    static func checkPrincipalSyntax(_ value: JSONValue) throws(PolicyValidationError) {
        switch value {
        case .string: return
        case .object(let members):
            guard !members.isEmpty, uniqueKeys(members, allowed: principalTypes) else { throw .syntax }
            for (_, entry) in members {
                guard isStringOrStringList(entry) else { throw .syntax }
                if case .array(let list) = entry, list.isEmpty { throw .syntax }
            }
        default: throw .syntax
        }
    }

    /// Strings of a string-or-list element (empty when absent).
    static func strings(_ value: JSONValue?) -> [String] {
        switch value {
        case .string(let text)?: return [text]
        case .array(let list)?: return list.compactMap(\.stringValue)
        default: return []
        }
    }

    /// Condition values as text (JSON booleans and numbers keep their literal spelling).
    static func scalarText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let text): return text
        default: return nil
        }
    }

    static func conditionValues(_ value: JSONValue) -> [String] {
        if case .array(let list) = value { return list.compactMap(scalarText) }
        return scalarText(value).map { [$0] } ?? []
    }

    static func hasNonEmpty(_ statement: JSONValue, _ key: String, _ notKey: String) -> Bool {
        for name in [key, notKey] {
            switch statement[name] {
            case .array(let list)?: return !list.isEmpty
            case .some: return true
            case nil: continue
            }
        }
        return false
    }

    static func checkDateLiterals(_ statement: JSONValue) throws(PolicyValidationError) {
        guard case .object(let blocks)? = statement["Condition"] else { return }
        for (name, block) in blocks where ConditionOperator.strip(name).1.hasPrefix("Date") {
            guard case .object(let entries) = block else { continue }
            for (_, value) in entries {
                let list: [JSONValue]
                if case .array(let elements) = value { list = elements } else { list = [value] }
                for element in list {
                    if case .bool = element { throw .legacyParsing }
                    guard let text = scalarText(element), PolicyDate.parse(text) != nil else { throw .legacyParsing }
                }
            }
        }
    }

    mutating func checkResourceFormats(_ statements: [JSONValue], key: String) throws(PolicyValidationError) {
        for statement in statements {
            guard let value = statement[key] else { continue }
            var list = PolicyParser.strings(value)
            if case .array = value {
                // IAM walks a list in descending code-point order; the last failure is the one it reports.
                list.sort { $1.utf8.lexicographicallyPrecedes($0.utf8) }
            }
            for resource in list {
                if let error = PolicyParser.resourceFormatError(resource) { resourceError = error }
            }
            if resourceError == nil {
                for resource in list where resource != "*" {
                    let colons = resource.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: ":") ? 1 : 0) }
                    guard colons >= 5 || !resource.contains("::") else { throw .legacyParsing }
                    let fields = resource.split(separator: ":", omittingEmptySubsequences: false)
                    guard fields.count > 2, !fields[2].isEmpty else { throw .legacyParsing }
                }
            }
        }
    }

    /// IAM's ARN-shape check of one `Resource` entry; nil when acceptable.
    static func resourceFormatError(_ resource: String) -> String? {
        if resource == "*" { return nil }
        guard let firstColon = resource.firstIndex(of: ":") else {
            return "Resource \(resource) must be in ARN format or \"*\"."
        }
        let afterArn = resource[resource.index(after: firstColon)...]
        let (partition, hasServiceColon, afterPartition) = splitOnce(afterArn)
        guard PolicyDocument.validPartitions.contains(String(partition)) else {
            let remaining = afterPartition.split(separator: ":", omittingEmptySubsequences: false)
            let arn1 = !remaining[0].isEmpty || remaining.count > 1 ? String(remaining[0]) : "*"
            let arn2 = remaining.count > 1 ? String(remaining[1]) : "*"
            let arn3 = remaining.count > 2 ? String(remaining[2]) : "*"
            let arn4 = remaining.count > 3 ? remaining[3...].joined(separator: ":") : "*"
            return
                "Partition \"\(partition)\" is not valid for resource \"arn:\(partition):\(arn1):\(arn2):\(arn3):\(arn4)\"."
        }
        guard hasServiceColon else { return PolicyValidationError.vendorQualified }
        let (service, _, afterService) = splitOnce(afterPartition)
        if service == "iam" && !afterService.hasPrefix(":") {
            return "IAM resource \(resource) cannot contain region information."
        }
        // S3 bucket ARNs have no region; access points and jobs (region *and* account) are fine.
        if service == "s3" && !afterService.hasPrefix(":") && splitOnce(splitOnce(afterService).2).0.isEmpty {
            return "Resource \(resource) can not contain region information."
        }
        // IAM documents that the service segment takes no wildcard.
        if service.contains("*") || service.contains("?") { return PolicyValidationError.vendorQualified }
        let path = splitOnce(splitOnce(afterService).2).2
        if service == "iam" && path != "*" && !iamPathStarts.contains(where: { path.hasPrefix($0) }) {
            return "IAM resource path must either be \"*\" or start with \(iamPathStarts.joined(separator: ", "))."
        }
        return nil
    }

    static let iamPathStarts = [
        "user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/", "server-certificate/", "policy/",
        "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/",
    ]

    /// Python's `str.partition(":")`.
    static func splitOnce(_ text: Substring) -> (Substring, Bool, Substring) {
        guard let colon = text.firstIndex(of: ":") else { return (text, false, text[text.endIndex...]) }
        return (text[..<colon], true, text[text.index(after: colon)...])
    }

    static func checkActionVendor(_ action: String) throws(PolicyValidationError) {
        let parts = action.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 1 && action != "*" { throw .vendorMissing }
        if parts.count > 2 { throw .vendorColons }
        let vendor = parts[0]
        let validVendor = vendor.utf8.allSatisfy { byte in
            isASCIIAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        if vendor != "*" && !validVendor { throw .malformed("Vendor \(vendor) is not valid") }
    }

    func principalSpec(_ statement: JSONValue) throws(PolicyValidationError) -> PrincipalSpec? {
        guard kind == .resource else { return nil }
        let negated: Bool
        let value: JSONValue
        if let principal = statement["Principal"] {
            negated = false
            value = principal
        } else if let notPrincipal = statement["NotPrincipal"] {
            negated = true
            value = notPrincipal
        } else {
            throw .missingPrincipal
        }
        if negated, case .string("Allow")? = statement["Effect"] { throw .notPrincipalWithAllow }
        var entries: [PrincipalEntry] = []
        switch value {
        case .string(let text):
            guard text == "*" else { throw .malformed("Invalid principal in policy: \"\(text)\"") }
            entries = [.everyone]
        case .object(let members):
            for (type, list) in members {
                for text in PolicyParser.strings(list) {
                    if type == "AWS" {
                        guard PolicyParser.isValidAWSPrincipal(text) else {
                            throw .malformed("Invalid principal in policy: \"AWS\":\"\(text)\"")
                        }
                        entries.append(PrincipalEntry(awsValue: text))
                    } else {
                        guard !text.isEmpty else { throw .malformed("Invalid principal in policy: \"\(type)\":\"\"") }
                        entries.append(.other(type: type, value: text))
                    }
                }
            }
        default: throw .syntax
        }
        return negated ? .notPrincipal(entries) : .principal(entries)
    }

    /// `*`, a 12-digit account id, or an IAM/STS ARN without wildcards (IAM allows no partial wildcards here).
    static func isValidAWSPrincipal(_ text: String) -> Bool {
        if text == "*" || VaultIdentity.isValidAccountID(text) { return true }
        guard let arn = ParsedARN(text), arn.service == "iam" || arn.service == "sts", !arn.resource.isEmpty else {
            return false
        }
        return !text.contains("*") && !text.contains("?")
    }

    static func rawStatement(_ statement: JSONValue, principal: PrincipalSpec?) -> RawStatement {
        var conditions: [(ConditionOperator, String, [String])] = []
        if case .object(let blocks)? = statement["Condition"] {
            for (name, block) in blocks {
                guard let op = ConditionOperator(name), case .object(let entries) = block else { continue }
                for (key, value) in entries { conditions.append((op, key, conditionValues(value))) }
            }
        }
        let effect: PolicyEffect = statement["Effect"]?.stringValue == "Deny" ? .deny : .allow
        return RawStatement(
            sid: statement["Sid"]?.stringValue,
            effect: effect,
            actions: strings(statement["Action"] ?? statement["NotAction"]),
            actionsNegated: statement["Action"] == nil,
            resources: strings(statement["Resource"] ?? statement["NotResource"]),
            resourcesNegated: statement["Resource"] == nil,
            principal: principal,
            conditions: conditions
        )
    }
}

@inline(__always)
func isASCIIAlphanumeric(_ c: UInt8) -> Bool {
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}
