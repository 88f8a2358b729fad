import CofferCore

/// A condition operator name split into set qualifier, base operator and `IfExists`.
struct ConditionOperator: Sendable, Hashable {
    enum SetQualifier: Sendable, Hashable {
        case none
        case forAnyValue
        case forAllValues
    }

    enum Comparison: Sendable, Hashable {
        case equals
        case lessThan
        case lessThanEquals
        case greaterThan
        case greaterThanEquals
    }

    enum Base: Sendable, Hashable {
        case stringEquals
        case stringEqualsIgnoreCase
        case stringLike
        case numeric(Comparison)
        case date(Comparison)
        case bool
        case binaryEquals
        case ipAddress
        /// `ArnEquals` and `ArnLike` are the same test (both honour `*`/`?` per segment).
        case arnLike
        case null

        /// Whether policy variables are substituted in this family's values (string, ARN and Bool operators).
        var supportsVariables: Bool {
            switch self {
            case .stringEquals, .stringEqualsIgnoreCase, .stringLike, .bool, .arnLike: return true
            default: return false
            }
        }
    }

    let name: String
    let base: Base
    let negated: Bool
    let ifExists: Bool
    let set: SetQualifier

    /// Every base operator IAM knows, by name: the family and whether it is the negated form.
    static let baseOperators: [String: (Base, Bool)] = [
        "StringEquals": (.stringEquals, false),
        "StringNotEquals": (.stringEquals, true),
        "StringEqualsIgnoreCase": (.stringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase": (.stringEqualsIgnoreCase, true),
        "StringLike": (.stringLike, false),
        "StringNotLike": (.stringLike, true),
        "NumericEquals": (.numeric(.equals), false),
        "NumericNotEquals": (.numeric(.equals), true),
        "NumericLessThan": (.numeric(.lessThan), false),
        "NumericLessThanEquals": (.numeric(.lessThanEquals), false),
        "NumericGreaterThan": (.numeric(.greaterThan), false),
        "NumericGreaterThanEquals": (.numeric(.greaterThanEquals), false),
        "DateEquals": (.date(.equals), false),
        "DateNotEquals": (.date(.equals), true),
        "DateLessThan": (.date(.lessThan), false),
        "DateLessThanEquals": (.date(.lessThanEquals), false),
        "DateGreaterThan": (.date(.greaterThan), false),
        "DateGreaterThanEquals": (.date(.greaterThanEquals), false),
        "Bool": (.bool, false),
        "BinaryEquals": (.binaryEquals, false),
        "IpAddress": (.ipAddress, false),
        "NotIpAddress": (.ipAddress, true),
        "ArnEquals": (.arnLike, false),
        "ArnLike": (.arnLike, false),
        "ArnNotEquals": (.arnLike, true),
        "ArnNotLike": (.arnLike, true),
        "Null": (.null, false),
    ]

    /// The base name after removing one `ForAnyValue:`/`ForAllValues:` prefix and one `IfExists` suffix, the way IAM
    /// does it (so `ForAnyValue::StringEquals` leaves `:StringEquals`, which is unknown). Case-sensitive.
    static func strip(_ name: String) -> (SetQualifier, Substring, Bool) {
        var rest = Substring(name)
        var set = SetQualifier.none
        if rest.hasPrefix("ForAnyValue:") {
            set = .forAnyValue
            rest = rest.dropFirst("ForAnyValue:".count)
        } else if rest.hasPrefix("ForAllValues:") {
            set = .forAllValues
            rest = rest.dropFirst("ForAllValues:".count)
        }
        var ifExists = false
        if rest.hasSuffix("IfExists") {
            ifExists = true
            rest = rest.dropLast("IfExists".count)
        }
        return (set, rest, ifExists)
    }

    /// Nil for an operator IAM does not know.
    init?(_ name: String) {
        let (set, baseName, ifExists) = ConditionOperator.strip(name)
        guard let (base, negated) = ConditionOperator.baseOperators[String(baseName)] else { return nil }
        self.name = name
        self.base = base
        self.negated = negated
        self.ifExists = ifExists
        self.set = set
    }

    var isDateFamily: Bool {
        if case .date = base { return true }
        return false
    }
}

/// Compiled policy values of one condition key, typed by the operator family.
enum ConditionValues: Sendable {
    case text([TextValue])
    case textIgnoreCase([TextValue])
    case globs([GlobValue])
    case numbers([Double?])
    case dates([Instant?])
    case bools([TextValue])
    case binaries([[UInt8]?])
    case networks([IPNetwork?])
    case arns([ARNPattern])
    case nulls([Bool?])
}

/// One `operator: { key: values }` entry of a Condition block.
///
/// Truth table (AWS's): several values of one key OR together; a negated operator is NOT(any value matches), per
/// request value. A missing key (or an empty multivalued one) makes a positive operator false, a negated one true,
/// `…IfExists` true, `ForAllValues` true and `ForAnyValue` false; `Null` tests presence. A plain (non-set) operator
/// never matches a multivalued key. A request value the operator cannot interpret (a non-number for `Numeric…`, a
/// non-ARN for `Arn…`) makes that value fail for negated operators too. An unresolved policy variable makes that
/// policy value match nothing.
final class Condition: Sendable {
    let op: ConditionOperator
    /// Lower-cased context key.
    let key: String
    let values: ConditionValues
    /// The policy's values as written (for the public-access check and for display).
    let rawValues: [String]

    init(op: ConditionOperator, key: String, rawValues: [String], variables: Bool) {
        self.op = op
        self.key = lowercasedFast(key)
        self.rawValues = rawValues
        let vars = variables && op.base.supportsVariables
        func template(_ text: String, wildcards: Bool) -> Template {
            Template(parsing: text, variables: vars, wildcards: wildcards)
        }
        switch op.base {
        case .stringEquals:
            values = .text(rawValues.map { TextValue(template($0, wildcards: false)) })
        case .stringEqualsIgnoreCase:
            values = .textIgnoreCase(
                rawValues.map { TextValue(template($0, wildcards: false), transform: lowercasedFast) })
        case .stringLike:
            values = .globs(rawValues.map { GlobValue(template($0, wildcards: true)) })
        case .numeric:
            values = .numbers(rawValues.map(NumericValue.parse))
        case .date:
            values = .dates(rawValues.map(PolicyDate.parse))
        case .bool:
            values = .bools(rawValues.map { TextValue(template($0, wildcards: false), transform: lowercasedFast) })
        case .binaryEquals:
            values = .binaries(rawValues.map(Base64.decode))
        case .ipAddress:
            values = .networks(rawValues.map { IPNetwork($0) })
        case .arnLike:
            values = .arns(rawValues.map { ARNPattern($0, variables: vars, allowTruncation: false) })
        case .null:
            values = .nulls(
                rawValues.map { value in
                    switch lowercasedFast(value) {
                    case "true": return true
                    case "false": return false
                    default: return nil
                    }
                }
            )
        }
    }

    /// Whether the condition holds for the request.
    func evaluate(_ keys: [String: ContextValue], _ lookup: (PolicyVariable) -> String?) -> Bool {
        var present: ContextValue? = keys[key]
        if case .strings(let list) = present, list.isEmpty { present = nil }

        if case .nulls(let flags) = values {
            let absent = present == nil
            return flags.contains { $0 == absent }
        }
        switch op.set {
        case .forAnyValue:
            switch present {
            case nil: return false
            case .string(let value): return test(value, lookup)
            case .strings(let list): return list.contains { test($0, lookup) }
            }
        case .forAllValues:
            switch present {
            case nil: return true
            case .string(let value): return test(value, lookup)
            case .strings(let list): return list.allSatisfy { test($0, lookup) }
            }
        case .none:
            switch present {
            case nil: return op.ifExists || op.negated
            case .strings: return false
            case .string(let value): return test(value, lookup)
            }
        }
    }

    /// One request value against all policy values, with negation applied.
    @inline(__always)
    func test(_ value: String, _ lookup: (PolicyVariable) -> String?) -> Bool {
        guard let matched = anyValueMatches(value, lookup) else { return false }
        return op.negated ? !matched : matched
    }

    /// Whether any policy value matches `value`; nil when the request value is not of the operator's type.
    func anyValueMatches(_ value: String, _ lookup: (PolicyVariable) -> String?) -> Bool? {
        switch values {
        case .text(let list):
            return list.contains { entry in entry.resolve(lookup).map { bytesEqual($0, value) } ?? false }
        case .textIgnoreCase(let list):
            let lowered = lowercasedFast(value)
            return list.contains { entry in
                entry.resolve(lookup, transform: lowercasedFast).map { bytesEqual($0, lowered) } ?? false
            }
        case .globs(let list):
            return withBytes(value) { bytes in list.contains { $0.matches(bytes, lookup) } }
        case .numbers(let list):
            guard let number = NumericValue.parse(value) else { return nil }
            return list.contains { policy in policy.map { compare(number, $0) } ?? false }
        case .dates(let list):
            guard let instant = PolicyDate.parse(value) else { return nil }
            return list.contains { policy in policy.map { compare(instant, $0) } ?? false }
        case .bools(let list):
            let lowered = lowercasedFast(value)
            guard lowered == "true" || lowered == "false" else { return nil }
            return list.contains { entry in entry.resolve(lookup, transform: lowercasedFast) == lowered }
        case .binaries(let list):
            guard let bytes = Base64.decode(value) else { return nil }
            return list.contains { $0 == bytes }
        case .networks(let list):
            guard let address = IPNetwork(value, allowPrefix: false) else { return nil }
            return list.contains { $0?.contains(address) ?? false }
        case .arns(let list):
            return withBytes(value) { bytes in
                guard let split = ARNSplit(bytes) else { return nil }
                return list.contains { $0.matches(bytes, split: split, lookup) }
            }
        case .nulls:
            return nil
        }
    }

    /// `request <op> policy`.
    @inline(__always)
    func compare<T: Comparable>(_ request: T, _ policy: T) -> Bool {
        let comparison: ConditionOperator.Comparison
        switch op.base {
        case .numeric(let c), .date(let c): comparison = c
        default: return false
        }
        switch comparison {
        case .equals: return request == policy
        case .lessThan: return request < policy
        case .lessThanEquals: return request <= policy
        case .greaterThan: return request > policy
        case .greaterThanEquals: return request >= policy
        }
    }
}
