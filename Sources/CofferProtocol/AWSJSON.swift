import CofferCore

/// Documents to and from AWS-shaped JSON (docs/PROTOCOL.md, section 9): what `coffer call <Op> '<json>'` reads and
/// prints, matching the AWS CLI member for member.
///
/// - `SecretString` ↔ JSON string; `SecretBinary` (and any other bytes) ↔ standard base64 with padding.
/// - Timestamps print as AWS CLI v2 does (`2026-11-29T14:13:41.123000+00:00`), or as epoch seconds.
/// - JSON integers ↔ integers; a JSON number that is not an integer literal fitting int64 is rejected, as are
///   `null` and duplicate object keys (AWS request shapes have none of them).
public enum AWSJSON {
    /// How response timestamps print (the AWS CLI's `cli_timestamp_format`).
    public enum TimestampFormat: Sendable, Hashable {
        /// `2026-11-29T14:13:41.123000+00:00` (``Timestamp/iso8601``), the AWS CLI v2 default.
        case iso8601
        /// `1795961621.123`, seconds with a millisecond fraction, as AWS's JSON protocol sends dates.
        case epochSeconds
    }

    // MARK: JSON → document (requests)

    /// A request document from JSON text; the text must be one JSON object.
    public static func document(fromJSONText text: String) throws(ServiceError) -> Document {
        let json: JSONValue
        do {
            json = try JSONValue.parse(text)
        } catch {
            throw ServiceError(.serializationError, "Invalid JSON: \(error.description).")
        }
        return try document(from: json)
    }

    /// A request document from a parsed JSON object.
    public static func document(from json: JSONValue) throws(ServiceError) -> Document {
        guard case .object(let members) = json else {
            throw ServiceError(.serializationError, "Expected a JSON object, got \(typeName(json)).")
        }
        return try document(members, path: "")
    }

    private static func document(_ members: [(String, JSONValue)], path: String) throws(ServiceError) -> Document {
        var fields: [(String, Value)] = []
        fields.reserveCapacity(members.count)
        for (key, json) in members {
            let memberPath = path.isEmpty ? key : path + "." + key
            if fields.contains(where: { $0.0 == key }) {
                throw ServiceError(.serializationError, "Duplicate member \(memberPath) in JSON input.")
            }
            fields.append((key, try value(json, key: key, path: memberPath)))
        }
        return Document(fields)
    }

    private static func value(_ json: JSONValue, key: String?, path: String) throws(ServiceError) -> Value {
        switch json {
        case .null:
            throw ServiceError(
                .serializationError,
                "Invalid type for parameter \(path), value: null, valid types: a value (null is not accepted)."
            )
        case .bool(let flag):
            return .bool(flag)
        case .number(let text):
            guard let number = Int64(text) else {
                throw ServiceError(
                    .serializationError,
                    "Invalid type for parameter \(path), value: \(text), valid types: integer."
                )
            }
            return .int(number)
        case .string(let text):
            if key == SecretMembers.secretString || key == SecretMembers.passphrase {
                return .secret(SensitiveBytes(copying: text.utf8), isString: true)
            }
            if key == SecretMembers.secretBinary {
                // Base64 is the only spelling of bytes in JSON; the message must not echo the (secret) text.
                // Padded, as section 9 says and the AWS CLI requires; Base64.decode alone also takes unpadded text.
                guard text.utf8.count % 4 == 0, var raw = Base64.decode(text) else {
                    throw ServiceError(.serializationError, "Invalid base64 value for parameter \(path).")
                }
                defer { wipe(&raw) }
                return .secret(SensitiveBytes(copying: raw), isString: false)
            }
            return .string(text)
        case .array(let elements):
            var values: [Value] = []
            values.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                values.append(try value(element, key: nil, path: "\(path)[\(index)]"))
            }
            return .list(values)
        case .object(let members):
            return .map(try document(members, path: path))
        }
    }

    private static func typeName(_ json: JSONValue) -> String {
        switch json {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    // MARK: Document → JSON (responses)

    /// A response document as AWS-shaped JSON. Secret strings become JSON strings: this is for a caller that asked to
    /// see them (the CLI printing a GetSecretValue response).
    public static func json(from document: Document, timestamps: TimestampFormat = .iso8601) -> JSONValue {
        .object(document.fields.map { ($0.0, json(from: $0.1, timestamps: timestamps)) })
    }

    /// One value as JSON.
    public static func json(from value: Value, timestamps: TimestampFormat = .iso8601) -> JSONValue {
        switch value {
        case .bool(let flag): return .bool(flag)
        case .int(let number): return .number(number)
        case .string(let text): return .string(text)
        case .bytes(let bytes): return .string(Base64.encode(bytes))
        case .secret(let secret, let isString):
            return secret.withUnsafeBytes { raw in
                isString ? .string(String(decoding: raw, as: UTF8.self)) : .string(Base64.encode(raw))
            }
        case .timestamp(let time):
            switch timestamps {
            case .iso8601: return .string(time.iso8601)
            case .epochSeconds: return .number(time.epochSecondsText)
            }
        case .list(let elements): return .array(elements.map { json(from: $0, timestamps: timestamps) })
        case .map(let document): return json(from: document, timestamps: timestamps)
        }
    }
}
