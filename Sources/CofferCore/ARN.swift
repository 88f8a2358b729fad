/// An Amazon Resource Name split into its six parts: `arn:partition:service:region:account:resource`.
///
/// Coffer's own ARNs use the partition `coffer` (`arn:coffer:secretsmanager:local:123456789012:secret:app/db-AbCdEf`);
/// the partition and account are data, so AWS policies written with `arn:aws:` can be evaluated unchanged.
public struct ARN: Sendable, Hashable, CustomStringConvertible {
    public var partition: String
    public var service: String
    public var region: String
    public var account: String
    /// Everything after the fifth colon (may itself contain colons and slashes).
    public var resource: String

    public init(partition: String, service: String, region: String, account: String, resource: String) {
        self.partition = partition
        self.service = service
        self.region = region
        self.account = account
        self.resource = resource
    }

    /// Splits an ARN; nil unless it starts with `arn:` and has at least six colon-separated parts.
    public init?(parsing text: String) {
        guard text.hasPrefix("arn:") else { return nil }
        var parts: [Substring] = []
        var rest = Substring(text)
        for _ in 0..<5 {
            guard let colon = rest.firstIndex(of: ":") else { return nil }
            parts.append(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        }
        guard parts[0] == "arn" else { return nil }
        self.init(
            partition: String(parts[1]),
            service: String(parts[2]),
            region: String(parts[3]),
            account: String(parts[4]),
            resource: String(rest)
        )
    }

    public var description: String { "arn:\(partition):\(service):\(region):\(account):\(resource)" }
}

/// Where this vault lives in ARN space: partition, region and 12-digit account id (generated at vault creation).
public struct VaultIdentity: Sendable, Hashable {
    public let partition: String
    public let region: String
    public let accountID: String
    /// Prefix shared by every secret ARN of this vault, up to and including `secret:` (built once: it is on every
    /// request's path).
    public let secretARNPrefix: String

    public static let defaultPartition = "coffer"
    public static let defaultRegion = "local"

    public init(
        partition: String = VaultIdentity.defaultPartition, region: String = VaultIdentity.defaultRegion,
        accountID: String
    ) {
        self.partition = partition
        self.region = region
        self.accountID = accountID
        self.secretARNPrefix = "arn:\(partition):secretsmanager:\(region):\(accountID):secret:"
    }

    /// `arn:coffer:secretsmanager:local:<account>:secret:<name>-<suffix>`
    public func secretARN(name: String, suffix: String) -> String {
        "arn:\(partition):secretsmanager:\(region):\(accountID):secret:\(name)-\(suffix)"
    }

    /// `arn:coffer:iam::<account>:<kind>/<name>` for users, groups, roles and policies.
    public func iamARN(_ kind: String, _ name: String) -> String {
        "arn:\(partition):iam::\(accountID):\(kind)/\(name)"
    }

    /// `arn:coffer:iam::<account>:root`, the account principal.
    public var accountRootARN: String { "arn:\(partition):iam::\(accountID):root" }

    /// A fresh 12-digit account id (first digit non-zero, as AWS account ids print).
    public static func generateAccountID() -> String {
        var rng = SystemRandomNumberGenerator()
        var digits = String(Int.random(in: 1...9, using: &rng))
        for _ in 0..<11 { digits += String(Int.random(in: 0...9, using: &rng)) }
        return digits
    }

    public static func isValidAccountID(_ text: String) -> Bool {
        text.utf8.count == 12 && text.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
    }
}

/// Syntax rules for the identifiers of Secrets Manager (names, tokens, labels).
public enum Identifiers {
    /// AWS: "ASCII letters, numbers, and the following characters: /_+=.@-", 1–512 characters.
    public static func isValidSecretName(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard !utf8.isEmpty, utf8.count <= Limits.maxNameLength else { return false }
        return utf8.allSatisfy(isNameByte)
    }

    @inline(__always)
    static func isNameByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "/"), UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: "."),
            UInt8(ascii: "@"), UInt8(ascii: "-"):
            return true
        default: return false
        }
    }

    /// The six random alphanumerics AWS appends to a secret's ARN.
    public static func randomARNSuffix() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var rng = SystemRandomNumberGenerator()
        var out: [UInt8] = []
        for _ in 0..<6 { out.append(alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when `text` is `-` followed by six ASCII alphanumerics at its end, the shape AWS treats as an ARN suffix.
    public static func endsWithARNSuffix(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 7, bytes[bytes.count - 7] == UInt8(ascii: "-") else { return false }
        return bytes[(bytes.count - 6)...].allSatisfy { isAlphanumeric($0) }
    }

    @inline(__always)
    static func isAlphanumeric(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
    }

    /// A random RFC 4122 version-4 UUID in lower case (the SDKs' default ClientRequestToken).
    public static func randomUUID() -> String {
        // Two 64-bit draws (one getrandom each), not one per byte.
        var rng = SystemRandomNumberGenerator()
        let high = rng.next() as UInt64
        let low = rng.next() as UInt64
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            bytes[i] = UInt8(truncatingIfNeeded: high >> (8 * i))
            bytes[8 + i] = UInt8(truncatingIfNeeded: low >> (8 * i))
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
