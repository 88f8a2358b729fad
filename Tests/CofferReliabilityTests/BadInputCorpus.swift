import CofferCore
import CofferProtocol

/// T15's bad-input corpus: byte strings a hostile client can send, generated systematically. What the daemon must
/// do with each follows from its first bytes (``BadInput/expectation``), so the generator only produces bytes.
struct BadInput {
    enum Socket { case client, admin }
    enum Expectation: Equatable {
        /// A reply (response or typed error) to the frame's request id; the connection stays usable.
        case reply(requestID: UInt32)
        /// A version the daemon does not speak: UnsupportedProtocolVersionException, then close.
        case versionErrorThenClose(requestID: UInt32)
        /// A length out of range: SerializationException on request id 0, then close.
        case connectionErrorThenClose
        /// An incomplete frame and the client's half-close: the daemon closes without a reply.
        case silentClose
    }

    var name: String
    var bytes: [UInt8]
    var socket: Socket = .client
    /// Shut down the sending side after the bytes (an incomplete frame would otherwise wait for the deadline).
    var halfClose: Bool { if case .silentClose = expectation { return true } else { return false } }

    var expectation: Expectation {
        guard bytes.count >= 4 else { return .silentClose }
        let length = bytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard length >= 8, length <= UInt32(WireFormat.maximumFrameLength) else { return .connectionErrorThenClose }
        guard bytes.count >= 4 + Int(length) else { return .silentClose }
        let id = bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return bytes[4] == WireFormat.protocolVersion ? .reply(requestID: id) : .versionErrorThenClose(requestID: id)
    }
}

/// Builds the corpus (at least 2,000 inputs; about 5,000 as generated).
enum BadInputCorpus {
    static let requestID: UInt32 = 7
    static let target = "bad/target"

    static func build() -> [BadInput] {
        lengthBoundaries() + truncations() + operationCodes() + kindsAndVersions() + badUTF8() + memberVariants()
            + oversized() + hostilePolicies() + encodingAbuse()
    }

    // MARK: Raw encoding (documents a valid encoder cannot produce)

    static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
    static func be16(_ value: Int) -> [UInt8] { [UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }

    /// A frame around a raw body: version, kind and operation as given.
    static func frame(
        _ body: [UInt8], operation: UInt16 = Operation.getSecretValue.rawValue, kind: UInt8 = 1, version: UInt8 = 1,
        id: UInt32 = requestID
    ) -> [UInt8] {
        be32(UInt32(8 + body.count)) + [version, kind] + be16(Int(operation)) + be32(id) + body
    }

    static func rawString(_ bytes: [UInt8], tag: UInt8 = 0x04) -> [UInt8] { [tag] + be32(UInt32(bytes.count)) + bytes }
    static func rawMember(_ key: [UInt8], _ value: [UInt8]) -> [UInt8] { be16(key.count) + key + value }
    static func rawDocument(_ members: [[UInt8]]) -> [UInt8] { be32(UInt32(members.count)) + members.flatMap { $0 } }
    static func encoded(_ value: Value) -> [UInt8] {
        // A value's encoding: the member's bytes without the document count and key.
        let body = (try? Document([("k", value)]).encoded()) ?? []
        return Array(body.dropFirst(4 + 2 + 1))
    }
    static func members(_ document: Document) -> [[UInt8]] {
        document.fields.map { rawMember(Array($0.0.utf8), encoded($0.1)) }
    }

    // MARK: Families

    /// Every length around the limits, with a body of zeros where the length is in range.
    static func lengthBoundaries() -> [BadInput] {
        var lengths: [UInt32] = Array(0...16) + [255, 256, 4_095, 4_096, 65_535, 65_536]
        let max = UInt32(WireFormat.maximumFrameLength)
        lengths += [max - 1, max, max + 1, max + 2, 1 << 20, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF]
        var inputs: [BadInput] = []
        for length in lengths {
            var bytes = be32(length)
            if length >= 8 && length <= max {
                bytes += [1, 1] + be16(Int(Operation.getSecretValue.rawValue)) + be32(requestID)
                bytes += [UInt8](repeating: 0, count: Int(length) - 8)
            }
            inputs.append(BadInput(name: "length \(length)", bytes: bytes))
            // The same length prefix alone, then a half-close.
            inputs.append(BadInput(name: "length \(length), prefix only", bytes: be32(length)))
        }
        // Partial length fields.
        for count in 1...3 {
            inputs.append(BadInput(name: "\(count) length bytes", bytes: [UInt8](repeating: 0, count: count)))
        }
        return inputs
    }

    /// Every truncation point of valid frames: cut with the original length (then a half-close), and cut with the
    /// length rewritten to match (a complete frame whose body ends early).
    static func truncations() -> [BadInput] {
        var inputs: [BadInput] = []
        let samples: [(Operation, Document)] = [
            (.getSecretValue, ["SecretId": "bad/target", "VersionStage": "AWSCURRENT"]),
            (
                .createSecret,
                [
                    "Name": "bad/trunc", "SecretString": RequestCatalogue.secret("CANARY-trunc"),
                    "Tags": [RequestCatalogue.tag("team", "x")],
                ]
            ),
            (
                .putSecretValue,
                [
                    "SecretId": "bad/target", "SecretBinary": RequestCatalogue.binary([1, 2, 3]),
                    "VersionStages": ["A", "B"],
                ]
            ),
            (.listSecrets, ["MaxResults": 5, "Filters": [.map(["Key": "name", "Values": ["bad"]])]]),
            (.tagResource, ["SecretId": "bad/target", "Tags": [RequestCatalogue.tag("k", "v")]]),
            (.hello, Hello.request(client: "bad-input")),
            (.getRandomPassword, ["PasswordLength": 12, "ExcludePunctuation": true]),
            (.describeSecret, ["SecretId": "arn:coffer:secretsmanager:local:123456789012:secret:bad/target"]),
        ]
        for (operation, document) in samples {
            let whole = RequestCatalogue.frame(operation, document, id: requestID)
            for cut in 1..<whole.count {
                inputs.append(BadInput(name: "\(operation.name) cut at \(cut)", bytes: Array(whole.prefix(cut))))
                if cut >= 12 {
                    let body = Array(whole[12..<cut])
                    inputs.append(
                        BadInput(
                            name: "\(operation.name) body cut at \(cut)",
                            bytes: frame(body, operation: operation.rawValue)))
                }
            }
        }
        return inputs
    }

    /// Every operation code of the four groups and beyond, with an empty document, on the client socket; the
    /// protocol, IAM and administration codes also on the admin socket (except Seal and RotateMasterKey, which
    /// would change the vault under the rest of the corpus).
    static func operationCodes() -> [BadInput] {
        var inputs: [BadInput] = []
        let empty = rawDocument([])
        var codes = Array(UInt16(0)...UInt16(0x03FF))
        codes += [0x0400, 0x0FFF, 0x1000, 0x7FFF, 0x8000, 0x8101, 0xFF01, 0xFFFE, 0xFFFF]
        for code in codes {
            inputs.append(BadInput(name: "operation \(code)", bytes: frame(empty, operation: code)))
            let adminOnly = code >= 0x0200 && code < 0x0400
            if (code < 0x0100 || adminOnly) && code != Operation.seal.rawValue
                && code != Operation.rotateMasterKey.rawValue
            {
                inputs.append(
                    BadInput(name: "admin operation \(code)", bytes: frame(empty, operation: code), socket: .admin))
            }
        }
        return inputs
    }

    static func kindsAndVersions() -> [BadInput] {
        let document: Document = ["SecretId": "bad/target"]
        let body = (try? document.encoded()) ?? []
        var inputs: [BadInput] = []
        for kind in 0...255 where kind != 1 {
            inputs.append(BadInput(name: "kind \(kind)", bytes: frame(body, kind: UInt8(kind))))
        }
        for version in 0...255 where version != 1 {
            inputs.append(BadInput(name: "version \(version)", bytes: frame(body, version: UInt8(version))))
        }
        return inputs
    }

    static let badSequences: [(String, [UInt8])] = [
        ("overlong NUL", [0xC0, 0x80]), ("overlong slash", [0xE0, 0x80, 0xAF]), ("surrogate", [0xED, 0xA0, 0x80]),
        ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]), ("truncated", [0x61, 0xE2, 0x82]), ("lone continuation", [0x80]),
        ("FF", [0xFF]), ("5-byte form", [0xF8, 0x88, 0x80, 0x80, 0x80]), ("C3 at end", [0x61, 0xC3]),
    ]

    /// Invalid UTF-8 in keys, strings, SecretString, nested tag keys and list elements.
    static func badUTF8() -> [BadInput] {
        var inputs: [BadInput] = []
        for (name, bad) in badSequences {
            let places: [(String, UInt16, [[UInt8]])] = [
                (
                    "key", Operation.getSecretValue.rawValue,
                    [rawMember(Array("Secret".utf8) + bad, rawString(Array("x".utf8)))]
                ),
                ("SecretId", Operation.getSecretValue.rawValue, [rawMember(Array("SecretId".utf8), rawString(bad))]),
                (
                    "SecretString", Operation.putSecretValue.rawValue,
                    [
                        rawMember(Array("SecretId".utf8), rawString(Array(target.utf8))),
                        rawMember(Array("SecretString".utf8), rawString(Array("CANARY-utf8".utf8) + bad)),
                    ]
                ),
                (
                    "Name", Operation.createSecret.rawValue,
                    [rawMember(Array("Name".utf8), rawString(Array("bad/".utf8) + bad))]
                ),
                (
                    "tag key", Operation.tagResource.rawValue,
                    [
                        rawMember(Array("SecretId".utf8), rawString(Array(target.utf8))),
                        rawMember(
                            Array("Tags".utf8),
                            [0x07] + be32(1) + [0x08]
                                + rawDocument([
                                    rawMember(Array("Key".utf8), rawString(bad)),
                                    rawMember(Array("Value".utf8), rawString(Array("v".utf8))),
                                ])),
                    ]
                ),
                (
                    "list element", Operation.putSecretValue.rawValue,
                    [
                        rawMember(Array("SecretId".utf8), rawString(Array(target.utf8))),
                        rawMember(Array("VersionStages".utf8), [0x07] + be32(1) + rawString(bad)),
                    ]
                ),
            ]
            for (place, operation, members) in places {
                inputs.append(
                    BadInput(
                        name: "bad UTF-8 (\(name)) in \(place)",
                        bytes: frame(rawDocument(members), operation: operation)))
            }
        }
        return inputs
    }

    /// For every Secrets Manager request of the catalogue: each member missing, duplicated, and replaced by every
    /// other value type; an unknown member added.
    static func memberVariants() -> [BadInput] {
        var inputs: [BadInput] = []
        let replacements: [(String, [UInt8])] = [
            ("false", [0x01]), ("integer", [0x03] + [UInt8](repeating: 0xFF, count: 8)),
            ("string", rawString(Array("?".utf8))),
            ("bytes", rawString([0, 1], tag: 0x05)), ("timestamp", [0x06] + [UInt8](repeating: 0x80, count: 8)),
            ("list", [0x07] + be32(0)), ("document", [0x08] + be32(0)),
        ]
        for (operation, document) in RequestCatalogue.secretsManager {
            let parts = members(document)
            let code = operation.rawValue
            for (index, key) in document.keys.enumerated() {
                var without = parts
                without.remove(at: index)
                inputs.append(
                    BadInput(
                        name: "\(operation.name) without \(key)", bytes: frame(rawDocument(without), operation: code)))
                inputs.append(
                    BadInput(
                        name: "\(operation.name) with \(key) twice",
                        bytes: frame(rawDocument(parts + [parts[index]]), operation: code)))
                for (typeName, value) in replacements {
                    var replaced = parts
                    replaced[index] = rawMember(Array(key.utf8), value)
                    inputs.append(
                        BadInput(
                            name: "\(operation.name) \(key) as \(typeName)",
                            bytes: frame(rawDocument(replaced), operation: code)))
                }
            }
            inputs.append(
                BadInput(
                    name: "\(operation.name) with an unknown member",
                    bytes: frame(rawDocument(parts + [rawMember(Array("Bogus".utf8), [0x02])]), operation: code)))
        }
        return inputs
    }

    /// Values over AWS's limits, and the largest frame the daemon accepts.
    static func oversized() -> [BadInput] {
        let big = RequestCatalogue.secret("CANARY-" + String(repeating: "x", count: 65_537))
        let cases: [(String, Operation, Document)] = [
            ("SecretString 65,544 bytes", .putSecretValue, ["SecretId": .string(target), "SecretString": big]),
            (
                "SecretBinary 65,537 bytes", .putSecretValue,
                [
                    "SecretId": .string(target),
                    "SecretBinary": RequestCatalogue.binary([UInt8](repeating: 7, count: 65_537)),
                ]
            ),
            ("Name 513 characters", .createSecret, ["Name": .string(String(repeating: "n", count: 513))]),
            ("SecretId 2,049 characters", .getSecretValue, ["SecretId": .string(String(repeating: "i", count: 2_049))]),
            (
                "Description 2,049 characters", .updateSecret,
                ["SecretId": .string(target), "Description": .string(String(repeating: "d", count: 2_049))]
            ),
            (
                "51 tags", .tagResource,
                ["SecretId": .string(target), "Tags": .list((0..<51).map { RequestCatalogue.tag("k\($0)", "v") })]
            ),
            (
                "tag key 129 characters", .tagResource,
                ["SecretId": .string(target), "Tags": [RequestCatalogue.tag(String(repeating: "k", count: 129), "v")]]
            ),
            (
                "21 version stages", .putSecretValue,
                [
                    "SecretId": .string(target), "SecretString": RequestCatalogue.secret("v"),
                    "VersionStages": .list((0..<21).map { .string("S\($0)") }),
                ]
            ),
            (
                "token 31 characters", .putSecretValue,
                ["SecretId": .string(target), "ClientRequestToken": .string(String(repeating: "t", count: 31))]
            ),
            (
                "token 65 characters", .putSecretValue,
                ["SecretId": .string(target), "ClientRequestToken": .string(String(repeating: "t", count: 65))]
            ),
            ("PasswordLength 4,097", .getRandomPassword, ["PasswordLength": 4_097]),
            ("PasswordLength -1", .getRandomPassword, ["PasswordLength": -1]),
            ("MaxResults 0", .listSecrets, ["MaxResults": 0]),
            ("MaxResults 2^63-1", .listSecrets, ["MaxResults": .int(Int64.max)]),
            ("RecoveryWindowInDays -9", .deleteSecret, ["SecretId": .string(target), "RecoveryWindowInDays": -9]),
            ("21 ids", .batchGetSecretValue, ["SecretIdList": .list((0..<21).map { .string("id\($0)") })]),
            (
                "11 filters", .listSecrets,
                ["Filters": .list((0..<11).map { _ in .map(["Key": "name", "Values": ["a"]]) })]
            ),
            (
                "resource policy 20,481 characters", .putResourcePolicy,
                ["SecretId": .string(target), "ResourcePolicy": .string(String(repeating: " ", count: 20_481))]
            ),
        ]
        var inputs = cases.map { BadInput(name: $0.0, bytes: RequestCatalogue.frame($0.1, $0.2, id: requestID)) }
        // The largest frame: a SecretString filling the body exactly.
        let prefix = members(["SecretId": .string(target)])
        let key = Array("SecretString".utf8)
        let fixed = 4 + prefix.flatMap { $0 }.count + 2 + key.count + 1 + 4
        let filler = [UInt8](repeating: UInt8(ascii: "z"), count: WireFormat.maximumFrameLength - 8 - fixed)
        let body = rawDocument(prefix + [rawMember(key, rawString(filler))])
        inputs.append(
            BadInput(
                name: "frame at the maximum length", bytes: frame(body, operation: Operation.putSecretValue.rawValue)))
        return inputs
    }

    /// Hostile JSON policies: as a secret's resource policy (client socket), as a user's inline policy and in the
    /// policy simulator (admin socket, which evaluates them).
    static func hostilePolicies() -> [BadInput] {
        let statement = #"{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*","Principal":"*"}"#
        let stars = "arn:coffer:secretsmanager:*" + String(repeating: "*a", count: 9_000) + "*b"
        var policies: [(String, String)] = [
            ("empty", ""), ("open brace", "{"), ("null", "null"), ("array", "[]"), ("object", "{}"),
            ("number", "1e999999"),
            ("deep arrays", String(repeating: "[", count: 10_000)),
            ("deep arrays at the limit", String(repeating: "[", count: 20_480)),
            ("deep objects", String(repeating: #"{"a":"#, count: 4_000) + "1" + String(repeating: "}", count: 4_000)),
            ("duplicate Version", #"{"Version":"2012-10-17","Version":"2008-10-17","Statement":[]}"#),
            ("lone surrogate escape", #"{"Version":"2012-10-17","Statement":[{"Sid":"\ud800","Effect":"Allow"}]}"#),
            ("NUL escape", #"{"Version":"2012-10-17\u0000","Statement":[]}"#),
            (
                "huge integer",
                #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericEquals":{"aws:EpochTime":123456789012345678901234567890}}}]}"#
            ),
            (
                "many statements",
                #"{"Version":"2012-10-17","Statement":["#
                    + Array(repeating: statement, count: 200).joined(separator: ",") + "]}"
            ),
            (
                "star explosion",
                #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":""#
                    + stars + #""}]}"#
            ),
            (
                "condition list",
                #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:username":["#
                    + (0..<1_500).map { "\"*\($0)*\"" }.joined(separator: ",") + "]}}}]}"
            ),
            (
                "template soup",
                #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"${${aws:username}}${${*}}${","Principal":"*"}]}"#
            ),
            ("unknown member", #"{"Version":"2012-10-17","Statement":[],"Exploit":true}"#),
            (
                "statement object",
                #"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"","Resource":"*","Principal":{"AWS":[]}}}"#
            ),
            ("trailing garbage", #"{"Version":"2012-10-17","Statement":[]}}}}"#),
            ("raw control characters", "{\"Version\":\"2012-10-17\u{01}\u{02}\",\"Statement\":[]}"),
        ]
        policies.append(("public", #"{"Version":"2012-10-17","Statement":["# + statement + "]}"))
        var inputs: [BadInput] = []
        for (name, text) in policies {
            inputs.append(
                BadInput(
                    name: "resource policy: \(name)",
                    bytes: RequestCatalogue.frame(
                        .putResourcePolicy,
                        ["SecretId": .string(target), "ResourcePolicy": .string(text), "BlockPublicPolicy": true],
                        id: requestID)))
            inputs.append(
                BadInput(
                    name: "validate: \(name)",
                    bytes: RequestCatalogue.frame(
                        .validateResourcePolicy, ["ResourcePolicy": .string(text)], id: requestID)))
            inputs.append(
                BadInput(
                    name: "user policy: \(name)",
                    bytes: RequestCatalogue.frame(
                        .putUserPolicy,
                        ["UserName": "nobody", "PolicyName": "hostile", "PolicyDocument": .string(text)],
                        id: requestID), socket: .admin))
            inputs.append(
                BadInput(
                    name: "simulator: \(name)",
                    bytes: RequestCatalogue.frame(
                        .simulateCustomPolicy,
                        [
                            "PolicyInputList": [.string(text)],
                            "ActionNames": ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"],
                            "ResourceArns": [
                                .string(
                                    "arn:coffer:secretsmanager:local:123456789012:secret:"
                                        + String(repeating: "a", count: 2_000))
                            ],
                            "ResourcePolicy": .string(text),
                        ], id: requestID), socket: .admin))
        }
        return inputs
    }

    /// Reserved tags, hostile counts and lengths, nesting at and past the limit, trailing bytes.
    static func encodingAbuse() -> [BadInput] {
        var inputs: [BadInput] = []
        let key = Array("SecretId".utf8)
        for tag in [0x00, 0x09, 0x0A, 0x7F, 0x80, 0xFF] as [UInt8] {
            inputs.append(BadInput(name: "reserved tag \(tag)", bytes: frame(rawDocument([rawMember(key, [tag])]))))
        }
        inputs.append(BadInput(name: "document count 2^32-1", bytes: frame(be32(0xFFFF_FFFF))))
        inputs.append(
            BadInput(name: "list count 2^32-1", bytes: frame(rawDocument([rawMember(key, [0x07] + be32(0xFFFF_FFFF))])))
        )
        inputs.append(
            BadInput(name: "map count 2^31", bytes: frame(rawDocument([rawMember(key, [0x08] + be32(0x8000_0000))]))))
        inputs.append(
            BadInput(
                name: "string length 2^32-1", bytes: frame(rawDocument([rawMember(key, [0x04] + be32(0xFFFF_FFFF))]))))
        inputs.append(BadInput(name: "key length past the end", bytes: frame(be32(1) + be16(65_535) + key)))
        inputs.append(BadInput(name: "trailing bytes", bytes: frame(rawDocument([]) + [0, 0, 0])))
        inputs.append(BadInput(name: "empty body", bytes: frame([])))
        for depth in [31, 32, 33, 64, 5_000] {
            let nested = [UInt8](repeating: 0, count: 0) + (0..<depth).flatMap { _ in [0x07] + be32(1) } + [0x02]
            inputs.append(BadInput(name: "nesting \(depth)", bytes: frame(rawDocument([rawMember(key, nested)]))))
        }
        return inputs
    }
}
