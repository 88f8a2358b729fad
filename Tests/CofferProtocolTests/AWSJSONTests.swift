import CofferCore
import Testing

@testable import CofferProtocol

@Suite struct AWSJSONRequestTests {
    @Test func mapsAWSShapedRequestJSON() throws {
        let doc = try AWSJSON.document(
            fromJSONText: """
                {"SecretId": "app/db", "MaxResults": 10, "IncludeDeprecated": true, "Negative": -3,
                 "Filters": [{"Key": "name", "Values": ["app/", "svc/"]}], "Nested": {"Inner": false}, "Empty": []}
                """)
        #expect(doc.keys == ["SecretId", "MaxResults", "IncludeDeprecated", "Negative", "Filters", "Nested", "Empty"])
        #expect(try doc.requiredString("SecretId") == "app/db")
        #expect(try doc.int("MaxResults") == 10)
        #expect(try doc.int("Negative") == -3)
        #expect(try doc.bool("IncludeDeprecated") == true)
        #expect(try doc.mapList("Filters")?.first?.stringList("Values") == ["app/", "svc/"])
        #expect(try doc.map("Nested")?.bool("Inner") == false)
        #expect(doc["Empty"]?.listValue?.isEmpty == true)
    }

    @Test func secretStringBecomesASecret() throws {
        let doc = try AWSJSON.document(fromJSONText: #"{"SecretId":"x","SecretString":"p\u00e4ss \"quoted\""}"#)
        #expect(secretBytes(doc["SecretString"])?.bytes == bytes("päss \"quoted\""))
        #expect(secretBytes(doc["SecretString"])?.isString == true)
    }

    static let base64Cases: [(String, [UInt8])] = [
        ("", []),
        ("AA==", [0]),
        ("AAE=", [0, 1]),
        ("AAEC/w==", [0, 1, 2, 255]),
        ("aHVudGVyMg==", bytes("hunter2")),
        ("+/+/", [0xFB, 0xFF, 0xBF]),
    ]

    @Test(arguments: base64Cases)
    func secretBinaryIsBase64(_ text: String, _ expected: [UInt8]) throws {
        let doc = try AWSJSON.document(fromJSONText: #"{"SecretBinary":"\#(text)"}"#)
        #expect(secretBytes(doc["SecretBinary"])?.bytes == expected)
        #expect(secretBytes(doc["SecretBinary"])?.isString == false)
        // And back, as the AWS CLI prints it.
        #expect(AWSJSON.json(from: doc)["SecretBinary"] == .string(text))
    }

    @Test(arguments: ["!!!!", "AAE", "A===", "AA=A", "aHVudGVyMg", "aHVudGVyMh==", "YQ== ", "-_8=", "AAEC/w="])
    func invalidBase64IsRejectedWithoutEchoingIt(_ text: String) {
        #expect {
            try AWSJSON.document(fromJSONText: #"{"SecretBinary":"\#(text)"}"#)
        } throws: { error in
            guard let error = error as? ServiceError else { return false }
            return error.code == .serializationError && error.message.contains("SecretBinary")
                && !error.message.contains(text)
        }
    }

    static let rejected: [(String, String)] = [
        (#"{"MaxResults": 1.5}"#, "MaxResults"),
        (#"{"MaxResults": 10.0}"#, "MaxResults"),
        (#"{"MaxResults": 1e3}"#, "MaxResults"),
        (#"{"MaxResults": 99999999999999999999}"#, "MaxResults"),
        (#"{"Filters": [{"Key": "name", "Values": [1.25]}]}"#, "Filters[0].Values[0]"),
        (#"{"SecretId": null}"#, "SecretId"),
        (#"{"SecretId": "a", "SecretId": "b"}"#, "SecretId"),
        (#"{"Nested": {"A": 1, "A": 2}}"#, "Nested.A"),
        (#"["SecretId"]"#, "array"),
        (#""SecretId""#, "string"),
        (#"{"SecretId": "a""#, "JSON"),
        ("", "JSON"),
    ]

    @Test(arguments: rejected)
    func rejectsWhatAWSRequestShapesCannotHold(_ json: String, _ mentioned: String) {
        #expect {
            try AWSJSON.document(fromJSONText: json)
        } throws: { error in
            guard let error = error as? ServiceError else { return false }
            return error.code == .serializationError && error.message.contains(mentioned)
        }
    }
}

@Suite struct AWSJSONResponseTests {
    static func getSecretValueResponse() throws -> Document {
        try #require(try Frame.decodeFromStart(Spec.example("get-secret-value-response"))).decodeDocument()
    }

    @Test func printsAsTheAWSCLIDoes() throws {
        let json = AWSJSON.json(from: try AWSJSONResponseTests.getSecretValueResponse())
        #expect(
            json.serialized()
                == #"{"ARN":"arn:coffer:secretsmanager:local:123456789012:secret:app/db-password-AbCdEf","#
                + #""Name":"app/db-password","VersionId":"4b2e7b9a-3c1d-4e8f-9a0b-1c2d3e4f5a6b","#
                + #""SecretString":"hunter2","VersionStages":["AWSCURRENT"],"#
                + #""CreatedDate":"2026-11-29T14:13:41.123000+00:00"}"#)
    }

    @Test func epochSecondsOption() throws {
        let json = AWSJSON.json(from: try AWSJSONResponseTests.getSecretValueResponse(), timestamps: .epochSeconds)
        #expect(json["CreatedDate"] == .number("1795961621.123"))
        let whole: Document = ["T": .timestamp(Timestamp(seconds: 1_700_000_000))]
        #expect(AWSJSON.json(from: whole, timestamps: .epochSeconds)["T"] == .number("1700000000"))
        #expect(AWSJSON.json(from: whole)["T"] == .string("2023-11-14T22:13:20.000000+00:00"))
    }

    @Test func valueTable() {
        let cases: [(Value, JSONValue)] = [
            (.bool(true), .bool(true)),
            (.bool(false), .bool(false)),
            (.int(-42), .number("-42")),
            (.int(.max), .number("9223372036854775807")),
            (.string(""), .string("")),
            (.string("é\n\"x\""), .string("é\n\"x\"")),
            (.bytes([]), .string("")),
            (.bytes([0xFF, 0x00]), .string("/wA=")),
            (.secret(SensitiveBytes(copying: [0xFF, 0x00]), isString: false), .string("/wA=")),
            (.secret(SensitiveBytes(copying: "s€cret".utf8), isString: true), .string("s€cret")),
            (.timestamp(Timestamp(milliseconds: -1)), .string("1969-12-31T23:59:59.999000+00:00")),
            (.list([]), .array([])),
            (.list([1, "a", [true]]), .array([.number("1"), .string("a"), .array([.bool(true)])])),
            (.map(Document()), .object([])),
            (.map(["b": 1, "a": 2]), .object([("b", .number("1")), ("a", .number("2"))])),
        ]
        for (value, expected) in cases {
            #expect(AWSJSON.json(from: value) == expected, "\(value)")
        }
    }

    @Test func requestJSONRoundTripsThroughTheWire() throws {
        let text =
            #"{"Name":"app/db","SecretBinary":"AAEC/w==","Tags":[{"Key":"env","Value":"prod"}],"#
            + #""ForceDeleteWithoutRecovery":false,"RecoveryWindowInDays":7}"#
        let doc = try AWSJSON.document(fromJSONText: text)
        let back = try WireCodec.decodeDocument(from: try WireCodec.encode(doc))
        #expect(AWSJSON.json(from: back).serialized() == text)
    }
}

@Suite struct UTF8ValidationTests {
    static let tricky: [[UInt8]] = [
        [], [0x00], [0x7F], [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC2, 0x80], [0xDF, 0xBF],
        [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xED, 0xA0, 0x80],
        [0xED, 0xBF, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80],
        [0xF4, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xE2, 0x82],
        [0xF0, 0x9F, 0x98], [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0xC3, 0xA9],
        [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0xC3], bytes("plain ASCII long enough for words"),
        bytes("é😀中文 mixed with ASCII runs of more than eight bytes"),
    ]

    @Test func agreesWithTheStandardLibrary() {
        func check(_ input: [UInt8]) {
            let ours = input.withUnsafeBytes { UTF8Validation.isValid($0) }
            let standard = String(validating: input, as: UTF8.self) != nil
            #expect(ours == standard, "\(Hex.encode(input))")
        }
        for input in UTF8ValidationTests.tricky { check(input) }
        var rng = SplitMix(state: 8)
        let alphabet: [UInt8] = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5,
            0xFF,
        ]
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...12, using: &rng)
            check((0..<count).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
        }
    }
}

@Suite struct HelloTests {
    @Test func negotiatesTheHighestCommonVersion() throws {
        #expect(try Hello.negotiate(Document()) == 1)
        #expect(try Hello.negotiate(["ProtocolVersions": [1]]) == 1)
        #expect(try Hello.negotiate(["ProtocolVersions": [3, 1, 2]]) == 1)
        #expect(try Hello.negotiate(["ProtocolVersions": [1, 2]], supported: [1, 2]) == 2)
        #expect(try Hello.negotiate(["Client": "x/1"]) == 1)
    }

    @Test func refusesWhatItCannotSpeak() {
        #expect { try Hello.negotiate(["ProtocolVersions": [2]]) } throws: { error in
            (error as? ServiceError)?.code == .unsupportedProtocolVersion
        }
        #expect { try Hello.negotiate(["ProtocolVersions": []]) } throws: { error in
            (error as? ServiceError)?.code == .unsupportedProtocolVersion
        }
        #expect { try Hello.negotiate(["ProtocolVersions": ["1"]]) } throws: { error in
            (error as? ServiceError)?.code == .serializationError
        }
        #expect { try Hello.negotiate(["ProtocolVersions": 1]) } throws: { error in
            (error as? ServiceError)?.code == .serializationError
        }
        #expect { try Hello.negotiate(["Client": 1]) } throws: { error in
            (error as? ServiceError)?.code == .serializationError
        }
    }

    @Test func errorReplyShapes() throws {
        let reply = ErrorReply(type: "SomeFutureException", message: "m")
        #expect(reply.code == nil)
        #expect(reply.serviceError.code == .internalServiceError)
        #expect(reply.serviceError.message.contains("SomeFutureException"))
        #expect(ErrorReply(document: ["Message": "no type"]) == nil)
        #expect(ErrorReply(document: ["__type": "ThrottlingException"])?.message == "")
        for code in ErrorCode.allCases {
            let frame = Frame.errorReply(
                to: FrameHeader(kind: .request, operation: .status, requestID: 77), ServiceError(code, "x"))
            #expect(frame.header == FrameHeader(kind: .error, operation: .status, requestID: 77))
            #expect(ErrorReply(document: try frame.decodeDocument())?.code == code)
        }
    }
}
