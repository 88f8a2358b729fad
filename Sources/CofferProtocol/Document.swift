import CofferCore

/// One value of a request or response document (see docs/PROTOCOL.md, "Values").
///
/// Documents mirror AWS's JSON shapes member for member, but travel in a binary encoding: secret values are raw
/// bytes (never base64 or JSON-escaped text) and are held as ``SensitiveBytes``, which wipes itself and never prints.
public enum Value: Sendable {
    case bool(Bool)
    case int(Int64)
    case string(String)
    /// Non-secret bytes.
    case bytes([UInt8])
    /// A secret value. `isString` records whether it travelled as a UTF-8 string (SecretString) or as bytes
    /// (SecretBinary).
    case secret(SensitiveBytes, isString: Bool)
    case timestamp(Timestamp)
    case list([Value])
    case map(Document)
}

extension Value: CustomStringConvertible {
    public var description: String {
        switch self {
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .string(let s): return "\"\(s)\""
        case .bytes(let b): return "<\(b.count) bytes>"
        case .secret(let s, _): return s.description
        case .timestamp(let t): return t.iso8601
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .map(let d): return d.description
        }
    }
}

/// An ordered map of AWS member names to values: the body of every request and response.
public struct Document: Sendable, CustomStringConvertible {
    public var fields: [(String, Value)]

    public init(_ fields: [(String, Value)] = []) { self.fields = fields }

    public subscript(key: String) -> Value? {
        get { fields.first(where: { $0.0 == key })?.1 }
        set {
            if let index = fields.firstIndex(where: { $0.0 == key }) {
                if let newValue { fields[index].1 = newValue } else { fields.remove(at: index) }
            } else if let newValue {
                fields.append((key, newValue))
            }
        }
    }

    public var isEmpty: Bool { fields.isEmpty }
    public var keys: [String] { fields.map(\.0) }

    public var description: String {
        "{" + fields.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
    }
}

extension Document: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, Value)...) { self.init(elements) }
}

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: Value...) { self = .list(elements) }
}

// MARK: - Typed access with AWS's validation errors

extension Value {
    /// AWS's name for the type, used in SerializationException messages.
    public var typeName: String {
        switch self {
        case .bool: return "boolean"
        case .int: return "integer"
        case .string: return "string"
        case .bytes: return "blob"
        case .secret(_, let isString): return isString ? "string" : "blob"
        case .timestamp: return "timestamp"
        case .list: return "list"
        case .map: return "structure"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var intValue: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    public var listValue: [Value]? {
        if case .list(let l) = self { return l }
        return nil
    }
    public var mapValue: Document? {
        if case .map(let d) = self { return d }
        return nil
    }
}

extension Document {
    static func typeError(_ key: String, expected: String, got: Value) -> ServiceError {
        ServiceError(
            .serializationError,
            "Invalid type for parameter \(key), value type: \(got.typeName), valid types: \(expected)"
        )
    }

    /// A required string member; missing → ValidationException as AWS words it.
    public func requiredString(_ key: String) throws(ServiceError) -> String {
        guard let value = self[key] else {
            throw ServiceError(
                .validation,
                "1 validation error detected: Value null at '\(Document.fieldPath(key))' failed to satisfy constraint: Member must not be null"
            )
        }
        guard case .string(let s) = value else { throw Document.typeError(key, expected: "string", got: value) }
        return s
    }

    public func string(_ key: String) throws(ServiceError) -> String? {
        guard let value = self[key] else { return nil }
        guard case .string(let s) = value else { throw Document.typeError(key, expected: "string", got: value) }
        return s
    }

    public func int(_ key: String) throws(ServiceError) -> Int64? {
        guard let value = self[key] else { return nil }
        guard case .int(let i) = value else { throw Document.typeError(key, expected: "integer", got: value) }
        return i
    }

    public func bool(_ key: String) throws(ServiceError) -> Bool? {
        guard let value = self[key] else { return nil }
        guard case .bool(let b) = value else { throw Document.typeError(key, expected: "boolean", got: value) }
        return b
    }

    public func stringList(_ key: String) throws(ServiceError) -> [String]? {
        guard let value = self[key] else { return nil }
        guard case .list(let elements) = value else { throw Document.typeError(key, expected: "list", got: value) }
        var out: [String] = []
        out.reserveCapacity(elements.count)
        for element in elements {
            guard case .string(let s) = element else {
                throw Document.typeError(key, expected: "string", got: element)
            }
            out.append(s)
        }
        return out
    }

    public func mapList(_ key: String) throws(ServiceError) -> [Document]? {
        guard let value = self[key] else { return nil }
        guard case .list(let elements) = value else { throw Document.typeError(key, expected: "list", got: value) }
        var out: [Document] = []
        for element in elements {
            guard case .map(let d) = element else { throw Document.typeError(key, expected: "structure", got: element) }
            out.append(d)
        }
        return out
    }

    public func map(_ key: String) throws(ServiceError) -> Document? {
        guard let value = self[key] else { return nil }
        guard case .map(let d) = value else { throw Document.typeError(key, expected: "structure", got: value) }
        return d
    }

    /// A secret member: SecretString must be a UTF-8 string, SecretBinary bytes.
    public func secret(_ key: String, isString: Bool) throws(ServiceError) -> SensitiveBytes? {
        guard let value = self[key] else { return nil }
        switch value {
        case .secret(let bytes, let s) where s == isString: return bytes
        case .string(let text) where isString: return SensitiveBytes(copying: text.utf8)
        case .bytes(let raw) where !isString: return SensitiveBytes(copying: raw)
        default: throw Document.typeError(key, expected: isString ? "string" : "blob", got: value)
        }
    }

    /// Rejects members the operation does not define, as the AWS CLI/SDK do before sending.
    public func checkOnly(_ allowed: Set<String>) throws(ServiceError) {
        for (key, _) in fields where !allowed.contains(key) {
            throw ServiceError(
                .validation,
                "Unknown parameter in input: \"\(key)\", must be one of: \(allowed.sorted().joined(separator: ", "))"
            )
        }
    }

    /// `SecretId` → `secretId`, the lower-camel path AWS uses in validation messages.
    public static func fieldPath(_ key: String) -> String {
        guard let first = key.first else { return key }
        return first.lowercased() + key.dropFirst()
    }
}

// MARK: - Timestamps and bytes

extension Value {
    public var timestampValue: Timestamp? {
        if case .timestamp(let t) = self { return t }
        return nil
    }
    public var bytesValue: [UInt8]? {
        if case .bytes(let b) = self { return b }
        return nil
    }
}

extension Document {
    public func timestamp(_ key: String) throws(ServiceError) -> Timestamp? {
        guard let value = self[key] else { return nil }
        guard case .timestamp(let t) = value else { throw Document.typeError(key, expected: "timestamp", got: value) }
        return t
    }
}
