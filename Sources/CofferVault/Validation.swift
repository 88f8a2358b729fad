import CofferCore
import CofferProtocol

/// Model-constraint checks with AWS's "1 validation error detected" wording (botocore's service model limits).
enum Check {
    static func length(
        _ value: String, _ key: String, min: Int, max: Int, echo: Bool = true
    ) throws(ServiceError) {
        let count = value.unicodeScalars.count
        if count < min {
            throw constraintError(value, key, "Member must have length greater than or equal to \(min)", echo)
        }
        if count > max {
            throw constraintError(value, key, "Member must have length less than or equal to \(max)", echo)
        }
    }

    static func range(_ value: Int64, _ key: String, _ bounds: ClosedRange<Int>) throws(ServiceError) {
        if value < Int64(bounds.lowerBound) {
            throw ServiceError.constraint(
                String(value), at: Document.fieldPath(key),
                "Member must have value greater than or equal to \(bounds.lowerBound)")
        }
        if value > Int64(bounds.upperBound) {
            throw ServiceError.constraint(
                String(value), at: Document.fieldPath(key),
                "Member must have value less than or equal to \(bounds.upperBound)")
        }
    }

    static func oneOf(_ value: String, _ key: String, _ allowed: [String]) throws(ServiceError) {
        guard allowed.contains(value) else {
            throw ServiceError.constraint(
                value, at: Document.fieldPath(key),
                "Member must satisfy enum value set: [\(allowed.joined(separator: ", "))]")
        }
    }

    static func count<T>(_ list: [T], _ key: String, min: Int, max: Int) throws(ServiceError) {
        if list.count < min {
            throw ServiceError.constraint(
                at: Document.fieldPath(key), "Member must have length greater than or equal to \(min)")
        }
        if list.count > max {
            throw ServiceError.constraint(
                at: Document.fieldPath(key), "Member must have length less than or equal to \(max)")
        }
    }

    static func constraintError(_ value: String, _ key: String, _ text: String, _ echo: Bool) -> ServiceError {
        echo
            ? ServiceError.constraint(value, at: Document.fieldPath(key), text)
            : ServiceError.constraint(at: Document.fieldPath(key), text)
    }

    /// ClientRequestToken / VersionId: 32–64 characters, printable ASCII.
    static func versionID(_ value: String, _ key: String) throws(ServiceError) {
        try length(value, key, min: 32, max: 64)
        guard value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ServiceError(.invalidParameter, "\(key) must contain only printable ASCII characters.")
        }
    }

    static func stage(_ value: String, _ key: String) throws(ServiceError) {
        try length(value, key, min: 1, max: Limits.maxStageLength)
    }

    static func description(_ value: String) throws(ServiceError) {
        try length(value, "Description", min: 0, max: Limits.maxDescriptionLength)
    }
}

/// A secret value from a request: exactly one of SecretString / SecretBinary.
struct ValueInput: Sendable {
    var bytes: SensitiveBytes
    var isBinary: Bool

    /// Reads SecretString/SecretBinary; nil when neither is present.
    static func parse(_ request: Document) throws(ServiceError) -> ValueInput? {
        let string = try request.secret("SecretString", isString: true)
        let binary = try request.secret("SecretBinary", isString: false)
        if string != nil && binary != nil {
            throw ServiceError(
                .invalidParameter,
                "You can't specify both a binary secret value and a string secret value in the same secret.")
        }
        if let string {
            try checkSize(string, "SecretString")
            guard string.isValidUTF8 else {
                throw ServiceError(.serializationError, "SecretString is not valid UTF-8.")
            }
            return ValueInput(bytes: string, isBinary: false)
        }
        if let binary {
            try checkSize(binary, "SecretBinary")
            return ValueInput(bytes: binary, isBinary: true)
        }
        return nil
    }

    static func checkSize(_ bytes: SensitiveBytes, _ key: String) throws(ServiceError) {
        if bytes.count < 1 {
            throw ServiceError.constraint(
                at: Document.fieldPath(key), "Member must have length greater than or equal to 1")
        }
        if bytes.count > Limits.maxSecretValueBytes {
            throw ServiceError.constraint(
                at: Document.fieldPath(key),
                "Member must have length less than or equal to \(Limits.maxSecretValueBytes)")
        }
    }
}

/// Tags from a request (`[{Key, Value}]`), validated against AWS's tag rules.
enum TagInput {
    static func parse(_ documents: [Document], key listKey: String = "Tags") throws(ServiceError) -> [(String, String)]
    {
        var tags: [(String, String)] = []
        var seen = Set<String>()
        for tag in documents {
            try tag.checkOnly(["Key", "Value"])
            guard let key = try tag.string("Key") else {
                throw ServiceError(.invalidParameter, "You must provide a Key for each tag.")
            }
            let value = try tag.string("Value") ?? ""
            try Check.length(key, "\(listKey).member.key", min: 1, max: Limits.maxTagKeyLength)
            try Check.length(value, "\(listKey).member.value", min: 0, max: Limits.maxTagValueLength)
            if key.lowercased().hasPrefix("aws:") {
                throw ServiceError(.invalidParameter, "Tag keys beginning with aws: are reserved for AWS use.")
            }
            // Keys differing only in case are refused: policy condition keys (aws:ResourceTag/<key>) match tag keys
            // case-insensitively, so `team` and `Team` on one secret would make a condition ambiguous.
            guard seen.insert(key.lowercased()).inserted else {
                throw ServiceError(
                    .invalidParameter, "Duplicate tag key \(key) in the request (keys differ only in case).")
            }
            tags.append((key, value))
        }
        if tags.count > Limits.maxTagsPerSecret {
            throw ServiceError(
                .invalidParameter, "A secret can have at most \(Limits.maxTagsPerSecret) tags.")
        }
        return tags
    }
}
