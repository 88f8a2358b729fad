import CofferCore

@testable import CofferPolicy

/// A deliberately naive IAM evaluator, written from the rules in docs/POLICY.md without looking at the compiled
/// engine: it walks the policy JSON for every request, matches globs with a dynamic-programming table over Unicode
/// scalars, has no index and no precompiled values. The differential test checks that the engine agrees with it.
/// (It reuses only CofferCore's JSON parser and base64 decoder.)
enum Reference {
    struct Policy {
        var id: String
        var json: JSONValue
    }

    struct Outcome: Equatable, CustomStringConvertible {
        var effect: Decision.Effect
        /// "policyId#statementIndex" of the deciding statements.
        var matched: Set<String>

        var description: String { "\(effect) \(matched.sorted())" }
    }

    static func decide(identity: [Policy], resourcePolicy: Policy?, _ request: RequestContext) -> Outcome {
        var denies: Set<String> = []
        var allows: Set<String> = []
        for policy in identity {
            let variables = policy.json["Version"]?.stringValue == "2012-10-17"
            for (index, statement) in statements(policy.json).enumerated() {
                guard applies(statement, request, variables: variables) else { continue }
                if statement["Effect"]?.stringValue == "Deny" {
                    denies.insert("\(policy.id)#\(index)")
                } else {
                    allows.insert("\(policy.id)#\(index)")
                }
            }
        }
        if let policy = resourcePolicy {
            let variables = policy.json["Version"]?.stringValue == "2012-10-17"
            for (index, statement) in statements(policy.json).enumerated() {
                guard applies(statement, request, variables: variables) else { continue }
                let isDeny = statement["Effect"]?.stringValue == "Deny"
                if let principal = statement["Principal"] {
                    let level = principalLevel(principal, request)
                    if level == 0 { continue }
                    if isDeny {
                        denies.insert("\(policy.id)#\(index)")
                    } else if level == 2 {
                        allows.insert("\(policy.id)#\(index)")
                    }
                } else if let notPrincipal = statement["NotPrincipal"] {
                    if !exempt(notPrincipal, request) && isDeny { denies.insert("\(policy.id)#\(index)") }
                }
            }
        }
        if !denies.isEmpty { return Outcome(effect: .explicitDeny, matched: denies) }
        if !allows.isEmpty { return Outcome(effect: .allowed, matched: allows) }
        return Outcome(effect: .implicitDeny, matched: [])
    }

    static func statements(_ json: JSONValue) -> [JSONValue] {
        switch json["Statement"] {
        case .array(let list)?: return list
        case .some(let single): return [single]
        case nil: return []
        }
    }

    static func strings(_ value: JSONValue?) -> [String] {
        switch value {
        case .string(let text)?: return [text]
        case .array(let list)?:
            return list.compactMap { element -> String? in
                switch element {
                case .string(let text): return text
                case .bool(let flag): return flag ? "true" : "false"
                case .number(let text): return text
                default: return nil
                }
            }
        case .bool(let flag)?: return [flag ? "true" : "false"]
        case .number(let text)?: return [text]
        default: return []
        }
    }

    static func applies(_ statement: JSONValue, _ request: RequestContext, variables: Bool) -> Bool {
        // Action / NotAction
        if let actions = statement["Action"] {
            guard strings(actions).contains(where: { actionMatches($0, request.action) }) else { return false }
        } else {
            guard !strings(statement["NotAction"]).contains(where: { actionMatches($0, request.action) }) else {
                return false
            }
        }
        // Resource / NotResource
        if let resources = statement["Resource"] {
            guard strings(resources).contains(where: { resourceMatches($0, request, variables: variables) }) else {
                return false
            }
        } else {
            guard
                !strings(statement["NotResource"]).contains(where: {
                    resourceMatches($0, request, variables: variables)
                })
            else { return false }
        }
        // Condition: every operator, every key.
        if case .object(let blocks)? = statement["Condition"] {
            for (name, block) in blocks {
                guard case .object(let entries) = block else { continue }
                for (key, values) in entries where !conditionHolds(name, key, strings(values), request, variables) {
                    return false
                }
            }
        }
        return true
    }

    // MARK: Globs

    enum Item: Equatable {
        case char(Unicode.Scalar)
        case star
        case question
        case variable(key: String, fallback: String?)
    }

    /// Dynamic programming over pattern suffixes: `next[j]` = pattern[i+1...] matches text[j...]; `row[j]` the same
    /// for pattern[i...]. Two rows instead of the full table; same recurrence.
    static func glob(_ pattern: [Item], _ text: [Unicode.Scalar]) -> Bool {
        var next = [Bool](repeating: false, count: text.count + 1)
        next[text.count] = true
        var row = next
        var i = pattern.count - 1
        while i >= 0 {
            let item = pattern[i]
            var j = text.count
            while j >= 0 {
                switch item {
                case .star: row[j] = next[j] || (j < text.count && row[j + 1])
                case .question: row[j] = j < text.count && next[j + 1]
                case .char(let c): row[j] = j < text.count && text[j] == c && next[j + 1]
                case .variable: row[j] = false
                }
                j -= 1
            }
            swap(&row, &next)
            i -= 1
        }
        return next[0]
    }

    /// Splits a policy string into items; `${...}` only with `variables`, wildcards only with `wildcards`.
    static func items(_ text: String, variables: Bool, wildcards: Bool) -> [Item] {
        let scalars = Array(text.unicodeScalars)
        var out: [Item] = []
        var i = 0
        while i < scalars.count {
            if variables, scalars[i] == "$", i + 1 < scalars.count, scalars[i + 1] == "{",
                let end = scalars[(i + 2)...].firstIndex(of: "}")
            {
                let inner = String(String.UnicodeScalarView(scalars[(i + 2)..<end]))
                if inner == "*" || inner == "?" || inner == "$" {
                    out.append(.char(inner.unicodeScalars.first ?? "$"))
                } else if let comma = inner.firstIndex(of: ",") {
                    let key = inner[..<comma].trimmingSpaces()
                    let rest = inner[inner.index(after: comma)...].trimmingSpaces()
                    if rest.count >= 2 && rest.first == "'" && rest.last == "'" {
                        out.append(.variable(key: key.lowercased(), fallback: String(rest.dropFirst().dropLast())))
                    } else {
                        out.append(.variable(key: inner.trimmingSpaces().lowercased(), fallback: nil))
                    }
                } else {
                    out.append(.variable(key: inner.trimmingSpaces().lowercased(), fallback: nil))
                }
                i = end + 1
                continue
            }
            if wildcards && scalars[i] == "*" {
                out.append(.star)
            } else if wildcards && scalars[i] == "?" {
                out.append(.question)
            } else {
                out.append(.char(scalars[i]))
            }
            i += 1
        }
        return out
    }

    /// Replaces variables with literal characters; nil when one cannot be resolved.
    static func substitute(_ items: [Item], _ request: RequestContext) -> [Item]? {
        var out: [Item] = []
        for item in items {
            guard case .variable(let key, let fallback) = item else {
                out.append(item)
                continue
            }
            let value: String?
            switch request.keys[key] {
            case .string(let text)?: value = text
            case .strings(let list)? where list.isEmpty: value = fallback
            case .strings?: value = nil
            case nil: value = fallback
            }
            guard let value else { return nil }
            out += value.unicodeScalars.map { Item.char($0) }
        }
        return out
    }

    // MARK: Elements

    static func actionMatches(_ pattern: String, _ action: String) -> Bool {
        glob(items(pattern.lowercased(), variables: false, wildcards: true), Array(action.lowercased().unicodeScalars))
    }

    static func requestParts(_ text: String) -> [String]? {
        guard text.hasPrefix("arn:") else { return nil }
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        return parts.count == 6 ? parts : nil
    }

    static func patternParts(_ items: [Item]) -> [[Item]] {
        var parts: [[Item]] = [[]]
        for item in items {
            if item == .char(":") && parts.count < 6 {
                parts.append([])
            } else {
                parts[parts.count - 1].append(item)
            }
        }
        return parts
    }

    static func resourceMatches(_ pattern: String, _ request: RequestContext, variables: Bool) -> Bool {
        if pattern == "*" { return true }
        guard let target = requestParts(request.resource) else { return false }
        let parts = patternParts(items(pattern, variables: variables, wildcards: true))
        if parts.count == 6 {
            return (0..<6).allSatisfy { partMatches(parts[$0], target[$0], request) }
        }
        guard parts.count >= 2, parts[parts.count - 1].last == .star else { return false }
        let last = parts.count - 1
        return (0..<last).allSatisfy { partMatches(parts[$0], target[$0], request) }
            && partMatches(parts[last], target[last...].joined(separator: ":"), request)
    }

    static func partMatches(_ pattern: [Item], _ text: String, _ request: RequestContext) -> Bool {
        guard let resolved = substitute(pattern, request) else { return false }
        return glob(resolved, Array(text.unicodeScalars))
    }

    /// 0: no match, 1: account level, 2: named or everyone.
    static func principalLevel(_ principal: JSONValue, _ request: RequestContext) -> Int {
        var best = 0
        for value in awsPrincipals(principal) {
            if value == "*" || value == request.principalARN { return 2 }
            if isAccountOf(value, request) { best = 1 }
        }
        return best
    }

    static func exempt(_ notPrincipal: JSONValue, _ request: RequestContext) -> Bool {
        let values = awsPrincipals(notPrincipal)
        if values.contains("*") { return true }
        return values.contains(request.principalARN) && values.contains { isAccountOf($0, request) }
    }

    static func awsPrincipals(_ principal: JSONValue) -> [String] {
        if case .string(let text) = principal { return [text] }
        return strings(principal["AWS"])
    }

    static func isAccountOf(_ value: String, _ request: RequestContext) -> Bool {
        if value == request.principalAccount { return true }
        guard let parts = requestParts(value), let caller = requestParts(request.principalARN) else { return false }
        return parts[2] == "iam" && parts[3].isEmpty && parts[5] == "root" && parts[4] == request.principalAccount
            && parts[1] == caller[1]
    }

    // MARK: Conditions

    static let negated: Set<String> = [
        "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals", "DateNotEquals",
        "NotIpAddress", "ArnNotEquals", "ArnNotLike",
    ]

    static func conditionHolds(
        _ name: String,
        _ key: String,
        _ values: [String],
        _ request: RequestContext,
        _ variables: Bool
    ) -> Bool {
        var base = name
        var set = ""
        for prefix in ["ForAnyValue:", "ForAllValues:"] where base.hasPrefix(prefix) {
            set = prefix
            base = String(base.dropFirst(prefix.count))
        }
        var ifExists = false
        if base.hasSuffix("IfExists") {
            ifExists = true
            base = String(base.dropLast("IfExists".count))
        }
        var present = request.keys[key.lowercased()]
        if case .strings(let list)? = present, list.isEmpty { present = nil }
        if base == "Null" {
            return values.contains {
                ($0.lowercased() == "true" && present == nil) || ($0.lowercased() == "false" && present != nil)
            }
        }
        let isNegated = negated.contains(base)
        func single(_ value: String) -> Bool {
            guard let matched = anyMatches(base, value, values, request, variables) else { return false }
            return isNegated ? !matched : matched
        }
        switch (set, present) {
        case ("ForAnyValue:", nil): return false
        case ("ForAllValues:", nil): return true
        case ("ForAnyValue:", .string(let value)?), ("ForAllValues:", .string(let value)?): return single(value)
        case ("ForAnyValue:", .strings(let list)?): return list.contains(where: single)
        case ("ForAllValues:", .strings(let list)?): return list.allSatisfy(single)
        case (_, nil): return ifExists || isNegated
        case (_, .strings?): return false
        case (_, .string(let value)?): return single(value)
        }
    }

    /// Whether any policy value matches; nil when the request value does not have the operator's type.
    static func anyMatches(
        _ base: String,
        _ value: String,
        _ policyValues: [String],
        _ request: RequestContext,
        _ variables: Bool
    ) -> Bool? {
        func resolved(_ text: String, wildcards: Bool) -> [Item]? {
            substitute(items(text, variables: variables, wildcards: wildcards), request)
        }
        func text(_ items: [Item]) -> String {
            var out = String.UnicodeScalarView()
            for case .char(let c) in items { out.append(c) }
            return String(out)
        }
        switch base {
        case "StringEquals", "StringNotEquals":
            return policyValues.contains { p in
                resolved(p, wildcards: false).map { Array(text($0).utf8) == Array(value.utf8) } ?? false
            }
        case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
            return policyValues.contains { p in
                resolved(p, wildcards: false).map { text($0).lowercased() == value.lowercased() } ?? false
            }
        case "StringLike", "StringNotLike":
            return policyValues.contains { p in
                resolved(p, wildcards: true).map { glob($0, Array(value.unicodeScalars)) } ?? false
            }
        case "Bool":
            let lowered = value.lowercased()
            guard lowered == "true" || lowered == "false" else { return nil }
            return policyValues.contains { p in
                resolved(p, wildcards: false).map { text($0).lowercased() == lowered } ?? false
            }
        case "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan",
            "NumericGreaterThanEquals":
            guard let number = simpleNumber(value) else { return nil }
            return policyValues.contains { p in simpleNumber(p).map { compare(base, number, $0) } ?? false }
        case "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
            "DateGreaterThanEquals":
            guard let seconds = simpleDate(value) else { return nil }
            return policyValues.contains { p in
                simpleDate(p).map { compare(base, Double(seconds), Double($0)) } ?? false
            }
        case "BinaryEquals":
            guard let bytes = Base64.decode(value) else { return nil }
            return policyValues.contains { Base64.decode($0) == bytes }
        case "IpAddress", "NotIpAddress":
            guard let address = ipv4(value), !value.contains("/") else { return nil }
            return policyValues.contains { p in
                let pieces = p.split(separator: "/", maxSplits: 1).map(String.init)
                guard let network = ipv4(pieces[0]) else { return false }
                let bits = pieces.count == 2 ? Int(pieces[1]) ?? 99 : 32
                guard bits <= 32 else { return false }
                let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits)
                return network & mask == address & mask
            }
        case "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike":
            guard let target = requestParts(value) else { return nil }
            return policyValues.contains { p in
                let parts = patternParts(items(p, variables: variables, wildcards: true))
                return parts.count == 6 && (0..<6).allSatisfy { partMatches(parts[$0], target[$0], request) }
            }
        default:
            return nil
        }
    }

    static func compare(_ base: String, _ request: Double, _ policy: Double) -> Bool {
        if base.hasSuffix("LessThanEquals") { return request <= policy }
        if base.hasSuffix("LessThan") { return request < policy }
        if base.hasSuffix("GreaterThanEquals") { return request >= policy }
        if base.hasSuffix("GreaterThan") { return request > policy }
        return request == policy
    }

    /// Only the spellings the generator uses: optional minus, digits, optional fraction.
    static func simpleNumber(_ text: String) -> Double? {
        let body = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        let pieces = body.split(separator: ".", omittingEmptySubsequences: false)
        guard !body.isEmpty, pieces.count <= 2, pieces.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else {
            return nil
        }
        return Double(text)
    }

    /// Only `YYYY-MM-DDTHH:MM:SSZ` and epoch seconds (what the generator produces), as epoch seconds.
    static func simpleDate(_ text: String) -> Int64? {
        if text.allSatisfy(\.isNumber) { return Int64(text) }
        let scalars = Array(text.utf8)
        guard scalars.count == 20, scalars[19] == UInt8(ascii: "Z") else { return nil }
        func field(_ from: Int, _ length: Int) -> Int64? {
            Int64(String(decoding: scalars[from..<(from + length)], as: UTF8.self))
        }
        guard let year = field(0, 4), let month = field(5, 2), let day = field(8, 2), let hour = field(11, 2),
            let minute = field(14, 2), let second = field(17, 2)
        else { return nil }
        // Days from civil, written out independently of the engine's.
        var days: Int64 = 0
        for y in 1970..<year { days += (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365 }
        let monthDays: [Int64] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        for m in 1..<month {
            days += monthDays[Int(m - 1)]
            if m == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) { days += 1 }
        }
        days += day - 1
        return days * 86_400 + hour * 3_600 + minute * 60 + second
    }

    static func ipv4(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard !octet.isEmpty, octet.count <= 3, let byte = UInt8(octet) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        var slice = Substring(self)
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return String(slice)
    }
}
