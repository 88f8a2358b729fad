import CofferCore
import Testing

@testable import CofferProtocol

/// A named document for round-trip tables.
struct Sample: CustomTestStringConvertible, Sendable {
    var name: String
    var document: Document
    var testDescription: String { name }
}

/// `depth` nested lists around `innermost`.
func nestedLists(_ depth: Int, innermost: Value = .list([])) -> Value {
    var value = innermost
    for _ in 0..<depth { value = .list([value]) }
    return value
}

@Suite struct DocumentRoundTripTests {
    static let samples: [Sample] = [
        Sample(name: "empty document", document: Document()),
        Sample(name: "false and true", document: ["f": false, "t": true]),
        Sample(
            name: "integers", document: ["zero": 0, "one": 1, "minusOne": -1, "min": .int(.min), "max": .int(.max)]),
        Sample(name: "empty string", document: ["s": ""]),
        Sample(name: "unicode string", document: ["s": "é – 😀 – 中文 – \u{10FFFF}"]),
        Sample(name: "string with NUL", document: ["s": .string("a\u{0}b")]),
        Sample(name: "empty key", document: ["": "value"]),
        Sample(
            name: "longest key", document: Document([(String(repeating: "k", count: WireFormat.maxKeyBytes), .int(7))])),
        Sample(name: "empty bytes", document: ["b": .bytes([])]),
        Sample(name: "all byte values", document: ["b": .bytes((0...255).map { UInt8($0) })]),
        Sample(
            name: "timestamps",
            document: [
                "epoch": .timestamp(Timestamp(milliseconds: 0)),
                "before": .timestamp(Timestamp(milliseconds: -1)),
                "now": .timestamp(Timestamp(milliseconds: 1_795_961_621_123)),
                "max": .timestamp(Timestamp(milliseconds: .max)),
            ]),
        Sample(name: "empty list", document: ["l": []]),
        Sample(name: "mixed list", document: ["l": [1, "two", true, .bytes([3]), .map(["four": 4])]]),
        Sample(name: "nested lists", document: ["l": [[], [[]], [[1], [2, 3]]]]),
        Sample(name: "empty nested document", document: ["d": .map(Document())]),
        Sample(
            name: "nested documents",
            document: ["a": .map(["b": .map(["c": .map(["d": "deep"])])]), "after": 1]),
        Sample(name: "deepest allowed nesting", document: ["l": nestedLists(WireFormat.maxNestingDepth - 2)]),
        Sample(
            name: "secret string",
            document: ["SecretString": .secret(SensitiveBytes(copying: "p@ss wörd".utf8), isString: true)]),
        Sample(
            name: "empty secret string",
            document: ["SecretString": .secret(SensitiveBytes(copying: []), isString: true)]),
        Sample(
            name: "secret binary, 64 KiB",
            document: [
                "SecretBinary": .secret(
                    SensitiveBytes(copying: (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31) }), isString: false)
            ]),
        Sample(
            name: "random password",
            document: ["RandomPassword": .secret(SensitiveBytes(copying: "x".utf8), isString: true)]),
        Sample(
            name: "secrets nested in a list of documents",
            document: [
                "SecretValues": [
                    .map(["Name": "a", "SecretString": .secret(SensitiveBytes(copying: "s".utf8), isString: true)]),
                    .map(["Name": "b", "SecretBinary": .secret(SensitiveBytes(copying: [0, 1]), isString: false)]),
                ]
            ]),
        Sample(
            name: "many members (set-based duplicate check)",
            document: Document((0..<500).map { ("k\($0)", .int(Int64($0))) })),
        Sample(name: "long list", document: ["l": .list((0..<10_000).map { _ in .bool(true) })]),
    ]

    @Test(arguments: samples)
    func roundTrips(_ sample: Sample) throws {
        let encoded = try WireCodec.encode(sample.document)
        #expect(encoded.count == (try WireCodec.encodedSize(of: sample.document)))
        let decoded = try WireCodec.decodeDocument(from: encoded)
        #expect(same(decoded, sample.document))
        #expect(try WireCodec.encode(decoded) == encoded)

        // The append path writes the same bytes after whatever is already there.
        var out: [UInt8] = [0xAA]
        try WireCodec.append(sample.document, to: &out)
        #expect(out == [0xAA] + encoded)

        // And in a frame.
        let header = FrameHeader(kind: .request, operation: .putSecretValue, requestID: 42)
        let frame = try WireCodec.encodeFrame(header: header, document: sample.document)
        #expect(frame.count == 12 + encoded.count)
        #expect(Array(frame[12...]) == encoded)
    }

    @Test func secretMembersDecodeAsSecretsOnlyUnderTheirNamesAndTags() throws {
        let doc: Document = [
            "SecretString": "a", "SecretBinary": .bytes([1]), "RandomPassword": "c", "Other": "d", "Bytes": .bytes([2]),
        ]
        let decoded = try WireCodec.decodeDocument(from: try WireCodec.encode(doc))
        #expect(secretBytes(decoded["SecretString"])?.isString == true)
        #expect(secretBytes(decoded["SecretBinary"])?.isString == false)
        #expect(secretBytes(decoded["RandomPassword"])?.bytes == bytes("c"))
        #expect(decoded["Other"]?.stringValue == "d")
        #expect(decoded["Bytes"]?.bytesValue == [2])

        // The wrong tag under a secret name stays what it is, and the typed accessor rejects it.
        let swapped: Document = ["SecretString": .bytes([1]), "SecretBinary": "text"]
        let back = try WireCodec.decodeDocument(from: try WireCodec.encode(swapped))
        #expect(back["SecretString"]?.bytesValue == [1])
        #expect(back["SecretBinary"]?.stringValue == "text")
        #expect(throws: ServiceError.self) { try back.secret("SecretString", isString: true) }
        #expect(throws: ServiceError.self) { try back.secret("SecretBinary", isString: false) }

        // A list element is never a secret, even inside a member named SecretString.
        let listed: Document = ["SecretString": ["x"]]
        let listedBack = try WireCodec.decodeDocument(from: try WireCodec.encode(listed))
        #expect(listedBack["SecretString"]?.listValue?.first?.stringValue == "x")
    }

    @Test func encodingIsTheDocumentedLayout() throws {
        // {"a": true, "n": 258, "s": "hi", "l": [false]} written out by hand from section 4.
        let doc: Document = ["a": true, "n": 258, "s": "hi", "l": [false]]
        let expected: [UInt8] =
            [0, 0, 0, 4]
            + [0, 1, 0x61, 0x02]
            + [0, 1, 0x6E, 0x03, 0, 0, 0, 0, 0, 0, 1, 2]
            + [0, 1, 0x73, 0x04, 0, 0, 0, 2, 0x68, 0x69]
            + [0, 1, 0x6C, 0x07, 0, 0, 0, 1, 0x01]
        #expect(try WireCodec.encode(doc) == expected)
        let stamped: Document = ["t": .timestamp(Timestamp(milliseconds: -2)), "b": .bytes([9])]
        #expect(
            try WireCodec.encode(stamped)
                == [0, 0, 0, 2, 0, 1, 0x74, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]
                + [0, 1, 0x62, 0x05, 0, 0, 0, 1, 9]
        )
        #expect(try WireCodec.encode(["d": .map(Document())]) == [0, 0, 0, 1, 0, 1, 0x64, 0x08, 0, 0, 0, 0])
    }

    @Test func encoderRefusesWhatADecoderWouldReject() {
        let longKey = String(repeating: "k", count: WireFormat.maxKeyBytes + 1)
        #expect(throws: ProtocolError.keyTooLong(bytes: WireFormat.maxKeyBytes + 1)) {
            try WireCodec.encode(Document([(longKey, .int(1))]))
        }
        #expect(throws: ProtocolError.nestingTooDeep(offset: 0)) {
            try WireCodec.encode(["l": nestedLists(WireFormat.maxNestingDepth - 1)])
        }
        #expect(throws: ProtocolError.nestingTooDeep(offset: 0)) {
            var value = Value.map(Document())
            for _ in 0..<WireFormat.maxNestingDepth { value = .map(["d": value]) }
            return try WireCodec.encode(["d": value])
        }
    }

    @Test func framesAtTheSizeLimit() throws {
        let header = FrameHeader(kind: .response, operation: .getSecretValue, requestID: 1)
        // Body = 4 (count) + 2 + 1 ("b") + 5 (tag, length) + n.
        let overhead = WireFormat.headerSize + 4 + 2 + 1 + 5
        let largest: Document = ["b": .bytes([UInt8](repeating: 7, count: WireFormat.maximumFrameLength - overhead))]
        let frame = try WireCodec.encodeFrame(header: header, document: largest)
        #expect(frame.count == WireFormat.lengthFieldSize + WireFormat.maximumFrameLength)
        var decoder = FrameDecoder()
        decoder.writeBytes(frame)
        let decoded = try #require(try decoder.readDecodedFrame())
        #expect(try decoded.document.get()["b"]?.bytesValue?.count == WireFormat.maximumFrameLength - overhead)

        let tooLarge: Document = [
            "b": .bytes([UInt8](repeating: 7, count: WireFormat.maximumFrameLength - overhead + 1))
        ]
        #expect(throws: ProtocolError.frameTooLarge(length: WireFormat.maximumFrameLength + 1)) {
            try WireCodec.encodeFrame(header: header, document: tooLarge)
        }
        #expect(throws: ProtocolError.frameTooLarge(length: WireFormat.maximumFrameLength + 1)) {
            try Frame(header: header, document: tooLarge).encoded()
        }
    }
}

/// One malformed body and the exact error the decoder must report.
struct Malformed: CustomTestStringConvertible, Sendable {
    var name: String
    var body: [UInt8]
    var error: ProtocolError
    var testDescription: String { name }
}

@Suite struct MalformedDocumentTests {
    static let a: [UInt8] = [0, 1, 0x61]  // key "a"
    static let secretString = [0, 12] + bytes("SecretString")

    static let cases: [Malformed] = [
        Malformed(name: "empty body", body: [], error: .truncated(offset: 0)),
        Malformed(name: "count cut off", body: [0, 0, 0], error: .truncated(offset: 0)),
        Malformed(name: "count without members", body: [0, 0, 0, 1], error: .countTooLarge(count: 1, offset: 0)),
        Malformed(
            name: "count 2^32-1", body: [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 1], error: .countTooLarge(count: .max, offset: 0)
        ),
        Malformed(
            name: "key length past end", body: [0, 0, 0, 1, 0, 5, 0x61, 0x01],
            error: .lengthPastEnd(length: 5, offset: 4)),
        Malformed(
            name: "second key length cut off", body: [0, 0, 0, 2, 0, 0, 0x04, 0, 0, 0, 0, 0],
            error: .truncated(offset: 11)),
        Malformed(name: "value missing", body: [0, 0, 0, 1] + a, error: .truncated(offset: 7)),
        Malformed(name: "tag 0x00", body: [0, 0, 0, 1] + a + [0x00], error: .unknownTag(0x00, offset: 7)),
        Malformed(name: "tag 0x09", body: [0, 0, 0, 1] + a + [0x09], error: .unknownTag(0x09, offset: 7)),
        Malformed(name: "tag 0xFF", body: [0, 0, 0, 1] + a + [0xFF], error: .unknownTag(0xFF, offset: 7)),
        Malformed(name: "integer cut off", body: [0, 0, 0, 1] + a + [0x03, 0, 0, 0], error: .truncated(offset: 8)),
        Malformed(name: "timestamp cut off", body: [0, 0, 0, 1] + a + [0x06, 0], error: .truncated(offset: 8)),
        Malformed(name: "string length cut off", body: [0, 0, 0, 1] + a + [0x04, 0, 0], error: .truncated(offset: 8)),
        Malformed(
            name: "string past end", body: [0, 0, 0, 1] + a + [0x04, 0, 0, 0, 5, 0x78],
            error: .lengthPastEnd(length: 5, offset: 8)),
        Malformed(
            name: "string length 2^32-1", body: [0, 0, 0, 1] + a + [0x04, 0xFF, 0xFF, 0xFF, 0xFF],
            error: .lengthPastEnd(length: .max, offset: 8)),
        Malformed(
            name: "bytes past end", body: [0, 0, 0, 1] + a + [0x05, 0, 0, 1, 0],
            error: .lengthPastEnd(length: 256, offset: 8)),
        Malformed(
            name: "invalid UTF-8 in a string", body: [0, 0, 0, 1] + a + [0x04, 0, 0, 0, 1, 0xFF],
            error: .invalidUTF8(offset: 12)),
        Malformed(
            name: "overlong UTF-8 in a string", body: [0, 0, 0, 1] + a + [0x04, 0, 0, 0, 2, 0xC0, 0xAF],
            error: .invalidUTF8(offset: 12)),
        Malformed(
            name: "truncated UTF-8 sequence in a string", body: [0, 0, 0, 1] + a + [0x04, 0, 0, 0, 2, 0xE2, 0x82],
            error: .invalidUTF8(offset: 12)),
        Malformed(
            name: "invalid UTF-8 in a key", body: [0, 0, 0, 1, 0, 1, 0x80, 0x01], error: .invalidUTF8(offset: 6)),
        Malformed(
            name: "surrogate in a SecretString",
            body: [0, 0, 0, 1] + secretString + [0x04, 0, 0, 0, 5] + bytes("hi") + [0xED, 0xA0, 0x80],
            error: .invalidUTF8(offset: 23)),
        Malformed(
            name: "code point above U+10FFFF in a SecretString",
            body: [0, 0, 0, 1] + secretString + [0x04, 0, 0, 0, 4, 0xF4, 0x90, 0x80, 0x80],
            error: .invalidUTF8(offset: 23)),
        Malformed(
            name: "SecretString past end", body: [0, 0, 0, 1] + secretString + [0x04, 0, 0, 0, 9, 0x61],
            error: .lengthPastEnd(length: 9, offset: 19)),
        Malformed(
            name: "duplicate key", body: [0, 0, 0, 2] + a + [0x01] + a + [0x02],
            error: .duplicateKey("a", offset: 8)),
        Malformed(
            name: "duplicate key in a nested document",
            body: [0, 0, 0, 1] + a + [0x08, 0, 0, 0, 2] + a + [0x01] + a + [0x01],
            error: .duplicateKey("a", offset: 16)),
        Malformed(
            name: "duplicate key among many members",
            body: [0, 0, 0, 20] + (0..<19).flatMap { [0, 2, 0x6B, UInt8(0x41 + $0), 0x01] } + [0, 2, 0x6B, 0x41, 0x01],
            error: .duplicateKey("kA", offset: 99)),
        Malformed(
            name: "list count 2^32-1", body: [0, 0, 0, 1] + a + [0x07, 0xFF, 0xFF, 0xFF, 0xFF],
            error: .countTooLarge(count: .max, offset: 8)),
        Malformed(
            name: "list count one more than the bytes left", body: [0, 0, 0, 1] + a + [0x07, 0, 0, 0, 3, 0x01, 0x01],
            error: .countTooLarge(count: 3, offset: 8)),
        Malformed(
            name: "list element cut off", body: [0, 0, 0, 1] + a + [0x07, 0, 0, 0, 2, 0x01, 0x03],
            error: .truncated(offset: 14)),
        Malformed(
            name: "nested document count 2^32-1", body: [0, 0, 0, 1] + a + [0x08, 0xFF, 0xFF, 0xFF, 0xFF],
            error: .countTooLarge(count: .max, offset: 8)),
        Malformed(
            name: "nesting one level too deep",
            body: [0, 0, 0, 1] + a + [UInt8](repeating: 0, count: 0).nestedListBytes(WireFormat.maxNestingDepth),
            error: .nestingTooDeep(offset: 7 + 5 * (WireFormat.maxNestingDepth - 1))),
        Malformed(
            name: "nesting 10,000 deep (no stack overflow)",
            body: [0, 0, 0, 1] + a + [UInt8]().nestedListBytes(10_000),
            error: .nestingTooDeep(offset: 7 + 5 * (WireFormat.maxNestingDepth - 1))),
        Malformed(name: "trailing byte", body: [0, 0, 0, 0, 0], error: .trailingBytes(offset: 4)),
        Malformed(
            name: "trailing document", body: [0, 0, 0, 1] + a + [0x01] + [0, 0, 0, 0], error: .trailingBytes(offset: 8)),
    ]

    @Test(arguments: cases)
    func isRejectedWithTheDocumentedError(_ example: Malformed) {
        let error = decodeError(example.body)
        #expect(error == example.error)
        #expect(error?.serviceError.code == .serializationError)
        #expect(error?.closesConnection == false)
    }

    @Test func theDeepestAllowedNestingDecodes() throws {
        let body = [0, 0, 0, 1] + MalformedDocumentTests.a + [UInt8]().nestedListBytes(WireFormat.maxNestingDepth - 1)
        let document = try WireCodec.decodeDocument(from: body)
        var depth = 1
        var value = document["a"]
        while case .list(let elements)? = value {
            depth += 1
            value = elements.first
        }
        #expect(depth == WireFormat.maxNestingDepth)
    }

    @Test func errorsNeverCarrySecretBytes() {
        // A SecretString that is "hunter2" followed by an invalid byte.
        let body = [0, 0, 0, 1] + MalformedDocumentTests.secretString + [0x04, 0, 0, 0, 8] + bytes("hunter2") + [0xFF]
        let error = decodeError(body)
        #expect(error == .invalidUTF8(offset: 23))
        #expect(!(error?.message.contains("hunter2") ?? true))
        #expect(!(error?.serviceError.description.contains("hunter2") ?? true))
        #expect(!"\(String(describing: error))".contains("hunter2"))
    }

    @Test func hugeCountsAreRejectedBeforeAllocating() throws {
        // 50 million members or elements: reserving them unchecked would map gigabytes (and 2^32-1, in the table
        // above, would trap). The process's peak virtual size must not move by anything like that.
        let count: [UInt8] = [0x02, 0xFA, 0xF0, 0x80]
        let body: [UInt8] = count + [UInt8](repeating: 0, count: 16)
        let list: [UInt8] = [0, 0, 0, 1] + MalformedDocumentTests.a + [0x07] + count + [1, 1, 1]
        let before = try #require(peakVirtualMemoryKiB())
        #expect(decodeError(body) == .countTooLarge(count: 50_000_000, offset: 0))
        #expect(decodeError(list) == .countTooLarge(count: 50_000_000, offset: 8))
        let after = try #require(peakVirtualMemoryKiB())
        // Generous: other tests run concurrently; what this guards against is gigabytes.
        #expect(after - before < 512 * 1_024)
    }

    /// Every byte of every spec example flipped to every interesting value: the decoder either decodes or throws,
    /// never traps. (A miniature of the fuzz target.)
    @Test func mutatedSpecExamplesNeverTrap() {
        var decoded = 0
        var rejected = 0
        for example in Spec.examples {
            let body = Array(example.bytes[12...])
            for index in body.indices {
                for replacement: UInt8 in [0x00, 0x01, 0x07, 0x08, 0x7F, 0x80, 0xC0, 0xFF] {
                    var mutated = body
                    mutated[index] = replacement
                    if decodeError(mutated) == nil { decoded += 1 } else { rejected += 1 }
                }
            }
        }
        #expect(decoded > 0)
        #expect(rejected > 0)
    }
}

extension [UInt8] {
    /// `depth` list tags, each with one element, ending in an empty list.
    func nestedListBytes(_ depth: Int) -> [UInt8] {
        var out = self
        for level in 0..<depth { out += [0x07, 0, 0, 0, level == depth - 1 ? 0 : 1] }
        return out
    }
}

/// `VmPeak` from /proc/self/status: the largest virtual size this process has had, in KiB.
func peakVirtualMemoryKiB() -> Int? {
    guard let status = readFile("/proc/self/status") else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmPeak:") {
        return Int(line.dropFirst("VmPeak:".count).filter { $0.isNumber })
    }
    return nil
}
