import Testing

@testable import CofferCore

@Suite struct JSONTests {
    @Test(arguments: [
        "{}", "[]", "null", "true", "false", "0", "-0", "1.5e3", "\"a\\u00e9\\ud83d\\ude00\"",
        "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}",
    ])
    func parsesValid(_ text: String) throws {
        let value = try JSONValue.parse(text)
        let again = try JSONValue.parse(value.serialized())
        #expect(value == again)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "NaN", "\"\\x\"", "\"a", "[1] 2", "{'a':1}",
        "\"\u{01}\"", "\"\\ud800\"", "\"\\udc00\"", "tru", "nul", "{\"a\" 1}",
    ])
    func rejectsInvalid(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        let ok = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(throws: Never.self) { try JSONValue.parse(ok) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(bytes: [0x22, 0xFF, 0x22]) }
    }

    @Test func keepsOrderAndDuplicates() throws {
        let value = try JSONValue.parse("{\"b\":1,\"a\":2,\"b\":3}")
        #expect(value.objectValue?.map(\.0) == ["b", "a", "b"])
        #expect(value["b"] == .number("1"))
    }

    @Test func escapesOnSerialize() {
        #expect(JSONValue.string("a\"b\\c\n\u{01}").serialized() == "\"a\\\"b\\\\c\\n\\u0001\"")
    }
}

@Suite struct Base64Tests {
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(_ plain: String, _ encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test(arguments: ["Zg=", "Z", "Zm9v!", "Zh==", "Zg==="])
    func rejectsInvalid(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func allBytesRoundTrip() {
        let bytes = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        #expect(Hex.decode(Hex.encode(bytes)) == bytes)
    }
}

@Suite struct TimestampTests {
    @Test func formatsLikeTheAWSCLI() {
        #expect(Timestamp(milliseconds: 0).iso8601 == "1970-01-01T00:00:00.000000+00:00")
        #expect(Timestamp(milliseconds: 1_764_425_621_123).iso8601 == "2025-11-29T14:13:41.123000+00:00")
        #expect(Timestamp(milliseconds: 951_782_400_000).iso8601Seconds == "2000-02-29T00:00:00Z")
        #expect(Timestamp(milliseconds: -1).iso8601 == "1969-12-31T23:59:59.999000+00:00")
    }

    @Test(arguments: [
        ("2025-11-29T14:13:41Z", Int64(1_764_425_621_000)), ("2025-11-29T14:13:41.123Z", 1_764_425_621_123),
        ("2025-11-29T15:13:41+01:00", 1_764_425_621_000), ("2025-11-29", 1_764_374_400_000),
        ("1764425621", 1_764_425_621_000), ("2025-11-29T14:13Z", 1_764_425_580_000),
    ])
    func parses(_ text: String, _ ms: Int64) {
        #expect(Timestamp(parsing: text)?.milliseconds == ms)
    }

    @Test(arguments: ["2025-13-01", "2025-11-29T25:00:00Z", "yesterday", "2025-11-29T14:13:41", ""])
    func rejects(_ text: String) {
        #expect(Timestamp(parsing: text) == nil)
    }

    @Test func roundTripsOverManyDays() {
        for day in stride(from: Int64(-700_000), to: 2_900_000, by: 997) {
            let t = Timestamp(milliseconds: day * 86_400_000 + 12_345)
            #expect(Timestamp(parsing: t.iso8601Seconds)?.milliseconds == t.milliseconds - 345)
        }
    }
}

@Suite struct IdentifierTests {
    @Test func names() {
        #expect(Identifiers.isValidSecretName("app/db-password_1+=.@"))
        #expect(!Identifiers.isValidSecretName(""))
        #expect(!Identifiers.isValidSecretName("Inv Name"))
        #expect(!Identifiers.isValidSecretName("a!b"))
        #expect(Identifiers.isValidSecretName(String(repeating: "a", count: 512)))
        #expect(!Identifiers.isValidSecretName(String(repeating: "a", count: 513)))
    }

    @Test func arnSuffixShape() {
        #expect(Identifiers.endsWithARNSuffix("x-a1b2c3"))
        #expect(!Identifiers.endsWithARNSuffix("x-a1b2"))
        #expect(!Identifiers.endsWithARNSuffix("x-a1b2c3-"))
        #expect(Identifiers.randomARNSuffix().utf8.count == 6)
        // RFC 4122 version 4: 8-4-4-4-12 lower-case hex, version nibble 4, variant 10xx; distinct draws.
        var seen = Set<String>()
        for _ in 0..<200 {
            let uuid = Array(Identifiers.randomUUID().utf8)
            #expect(uuid.count == 36)
            #expect([8, 13, 18, 23].allSatisfy { uuid[$0] == UInt8(ascii: "-") })
            #expect(
                uuid.enumerated().allSatisfy { i, c in
                    [8, 13, 18, 23].contains(i) || (c >= 48 && c <= 57) || (c >= 97 && c <= 102)
                })
            #expect(uuid[14] == UInt8(ascii: "4"))
            #expect([UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b")].contains(uuid[19]))
            seen.insert(String(decoding: uuid, as: UTF8.self))
        }
        #expect(seen.count == 200)
    }

    @Test func arnParsing() {
        let arn = ARN(parsing: "arn:aws:secretsmanager:us-east-1:123456789012:secret:a:b/c-XyZ123")
        #expect(arn?.partition == "aws")
        #expect(arn?.resource == "secret:a:b/c-XyZ123")
        #expect(ARN(parsing: "arn:aws:iam::123456789012:user/alice")?.region == "")
        #expect(ARN(parsing: "arn:aws:s3") == nil)
        #expect(ARN(parsing: "nope:aws:a:b:c:d") == nil)
    }

    @Test func sensitiveBytesRedacts() {
        let s = SensitiveBytes(copying: Array("hunter2".utf8))
        #expect("\(s)" == "<redacted, 7 bytes>")
        #expect(s.constantTimeEquals(SensitiveBytes(copying: Array("hunter2".utf8))))
        #expect(!s.constantTimeEquals(SensitiveBytes(copying: Array("hunter3".utf8))))
        #expect(s.isValidUTF8)
        #expect(!SensitiveBytes(copying: [0xC3]).isValidUTF8)
    }
}
