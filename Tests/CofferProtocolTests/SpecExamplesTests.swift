import CofferCore
import Testing

@testable import CofferProtocol

/// The hex examples of docs/PROTOCOL.md, read from the repository at test time: each decodes to what the spec says
/// it is and re-encodes byte for byte.
@Suite struct SpecExamplesTests {
    static let token = "4b2e7b9a-3c1d-4e8f-9a0b-1c2d3e4f5a6b"
    static let arn = "arn:coffer:secretsmanager:local:123456789012:secret:app/db-password-AbCdEf"
    static let created = Timestamp(milliseconds: 1_795_961_621_123)

    /// Every example the spec must hold; ``check(_:_:_:)`` says what each decodes to.
    static let names: Set<String> = [
        "hello-request", "hello-response", "create-secret-request", "create-secret-response",
        "get-secret-value-request", "get-secret-value-response", "get-secret-value-binary-request",
        "get-secret-value-binary-response", "error-reply", "list-secrets-request", "list-secrets-response",
        "unknown-operation-request", "unknown-operation-reply", "unsupported-version-request",
        "unsupported-version-reply",
    ]

    /// What each example must decode to.
    static func check(_ name: String, _ header: FrameHeader, _ doc: Document) throws {
        switch name {
        case "hello-request":
            #expect(header == FrameHeader(kind: .request, operation: .hello, requestID: 1))
            #expect(throws: ServiceError.self) { try doc.stringList("ProtocolVersions") }  // integers, not strings
            #expect(doc["ProtocolVersions"]?.listValue?.compactMap(\.intValue) == [1])
            #expect(try doc.string("Client") == "coffer-python/0.1")
            #expect(try Hello.negotiate(doc) == 1)
            #expect(try WireCodec.encode(Hello.request(client: "coffer-python/0.1")) == WireCodec.encode(doc))
        case "hello-response":
            #expect(header == FrameHeader(kind: .response, operation: .hello, requestID: 1))
            #expect(try doc.int("ProtocolVersion") == 1)
            #expect(try doc.string("Server") == "cofferd 0.1.0")
            #expect(try WireCodec.encode(Hello.response(server: "cofferd 0.1.0")) == WireCodec.encode(doc))
        case "create-secret-request":
            #expect(header == FrameHeader(kind: .request, operation: .createSecret, requestID: 2))
            #expect(doc.keys == ["Name", "ClientRequestToken", "SecretString", "Tags"])
            #expect(try doc.requiredString("Name") == "app/db-password")
            #expect(try doc.string("ClientRequestToken") == token)
            #expect(secretBytes(doc["SecretString"])?.bytes == bytes("hunter2"))
            #expect(secretBytes(doc["SecretString"])?.isString == true)
            #expect(try doc.secret("SecretString", isString: true)?.copyBytes() == bytes("hunter2"))
            let tags = try doc.mapList("Tags") ?? []
            #expect(tags.count == 1)
            #expect(try tags.first?.string("Key") == "env")
            #expect(try tags.first?.string("Value") == "prod")
        case "create-secret-response":
            #expect(header == FrameHeader(kind: .response, operation: .createSecret, requestID: 2))
            #expect(try doc.string("ARN") == arn)
            #expect(try doc.string("Name") == "app/db-password")
            #expect(try doc.string("VersionId") == token)
        case "get-secret-value-request":
            #expect(header == FrameHeader(kind: .request, operation: .getSecretValue, requestID: 3))
            #expect(doc.keys == ["SecretId"])
            #expect(try doc.requiredString("SecretId") == "app/db-password")
        case "get-secret-value-response":
            #expect(header == FrameHeader(kind: .response, operation: .getSecretValue, requestID: 3))
            #expect(doc.keys == ["ARN", "Name", "VersionId", "SecretString", "VersionStages", "CreatedDate"])
            #expect(try doc.string("ARN") == arn)
            #expect(try doc.string("VersionId") == token)
            #expect(secretBytes(doc["SecretString"])?.bytes == bytes("hunter2"))
            #expect(secretBytes(doc["SecretString"])?.isString == true)
            #expect(try doc.stringList("VersionStages") == ["AWSCURRENT"])
            #expect(try doc.timestamp("CreatedDate") == created)
            #expect(try doc.timestamp("CreatedDate")?.iso8601 == "2026-11-29T14:13:41.123000+00:00")
        case "get-secret-value-binary-request":
            #expect(header == FrameHeader(kind: .request, operation: .getSecretValue, requestID: 4))
            #expect(try doc.requiredString("SecretId") == "app/tls-key")
            #expect(try doc.string("VersionStage") == "AWSPREVIOUS")
        case "get-secret-value-binary-response":
            #expect(header == FrameHeader(kind: .response, operation: .getSecretValue, requestID: 4))
            #expect(secretBytes(doc["SecretBinary"])?.bytes == [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF])
            #expect(secretBytes(doc["SecretBinary"])?.isString == false)
            #expect(doc["SecretString"] == nil)
            #expect(try doc.secret("SecretBinary", isString: false)?.count == 6)
            #expect(try doc.stringList("VersionStages") == ["AWSPREVIOUS"])
            #expect(try doc.timestamp("CreatedDate") == Timestamp(milliseconds: 1_795_961_600_000))
        case "error-reply":
            #expect(header == FrameHeader(kind: .error, operation: .getSecretValue, requestID: 5))
            let reply = ErrorReply(document: doc)
            #expect(reply?.code == .resourceNotFound)
            #expect(reply?.serviceError == ServiceError.secretNotFound)
            // The daemon's own error-reply path produces exactly these bytes.
            let request = FrameHeader(kind: .request, operation: .getSecretValue, requestID: 5)
            #expect(try Frame.errorReply(to: request, .secretNotFound).encoded() == Spec.example("error-reply"))
        case "list-secrets-request":
            #expect(header == FrameHeader(kind: .request, operation: .listSecrets, requestID: 6))
            let filters = try doc.mapList("Filters") ?? []
            #expect(try filters.map { try $0.requiredString("Key") } == ["name", "tag-key"])
            #expect(try filters.map { try $0.stringList("Values") ?? [] } == [["app/"], ["env", "team"]])
            #expect(try doc.int("MaxResults") == 10)
            #expect(try doc.bool("IncludePlannedDeletion") == false)
            #expect(try doc.string("SortOrder") == "asc")
        case "list-secrets-response":
            #expect(header == FrameHeader(kind: .response, operation: .listSecrets, requestID: 6))
            let entries = try doc.mapList("SecretList") ?? []
            #expect(entries.count == 1)
            let entry = entries.first ?? Document()
            #expect(try entry.string("Name") == "app/db-password")
            #expect(try entry.timestamp("LastChangedDate") == created)
            #expect(try entry.timestamp("CreatedDate") == created)
            let stages = try entry.map("SecretVersionsToStages")
            #expect(stages?.keys == [token])
            #expect(try stages?.stringList(token) == ["AWSCURRENT"])
            #expect(try entry.mapList("Tags")?.first?.string("Value") == "prod")
            #expect(entry["SecretString"] == nil)
        case "unknown-operation-request":
            #expect(header.operationCode == 0x01FF)
            #expect(header.operation == nil)
            #expect(doc.isEmpty)
            #expect(throws: ProtocolError.unknownOperation(0x01FF)) { try header.validateRequest() }
            #expect(ProtocolError.unknownOperation(0x01FF).closesConnection == false)
        case "unknown-operation-reply":
            #expect(header == FrameHeader(kind: .error, operationCode: 0x01FF, requestID: 7))
            let error = ProtocolError.unknownOperation(0x01FF).serviceError
            #expect(ErrorReply(document: doc)?.serviceError == error)
            let request = FrameHeader(kind: .request, operationCode: 0x01FF, requestID: 7)
            #expect(try Frame.errorReply(to: request, error).encoded() == Spec.example("unknown-operation-reply"))
        case "unsupported-version-request":
            #expect(header == FrameHeader(version: 2, kind: .request, operationCode: 0x0001, requestID: 8))
            #expect(throws: ProtocolError.unsupportedVersion(2)) { try header.validateRequest() }
            #expect(ProtocolError.unsupportedVersion(2).closesConnection)
            #expect(doc.isEmpty)
        case "unsupported-version-reply":
            #expect(header == FrameHeader(version: 1, kind: .error, operationCode: 0x0001, requestID: 8))
            let error = ProtocolError.unsupportedVersion(2).serviceError
            #expect(error.code == .unsupportedProtocolVersion)
            #expect(ErrorReply(document: doc)?.serviceError == error)
            let request = FrameHeader(version: 2, kind: .request, operationCode: 0x0001, requestID: 8)
            #expect(try Frame.errorReply(to: request, error).encoded() == Spec.example("unsupported-version-reply"))
        default:
            Issue.record("no expectation for example \(name)")
        }
    }

    @Test func specIsFoundAndEveryExampleHasAnExpectation() {
        #expect(!Spec.text.isEmpty, "docs/PROTOCOL.md not found at \(Spec.path)")
        let names = Spec.examples.map(\.name)
        #expect(names.count == Set(names).count, "duplicate example names")
        #expect(Set(names) == SpecExamplesTests.names)
        #expect(Spec.examples.allSatisfy { !$0.bytes.isEmpty })
    }

    @Test(arguments: Spec.examples)
    func decodesAndReencodesByteForByte(_ example: SpecExample) throws {
        var decoder = FrameDecoder()
        decoder.writeBytes(example.bytes)
        let frame = try #require(try decoder.readFrame())
        #expect(decoder.bufferedBytes == 0)
        let document = try frame.decodeDocument()

        try SpecExamplesTests.check(example.name, frame.header, document)

        #expect(try frame.encoded() == example.bytes)
        #expect(try WireCodec.encodeFrame(header: frame.header, document: document) == example.bytes)
        #expect(try Frame(header: frame.header, document: document).encoded() == example.bytes)
        #expect(try WireCodec.encodedSize(of: document) == example.bytes.count - 12)
    }

    @Test(arguments: Spec.examples)
    func decodesInPlaceTheSame(_ example: SpecExample) throws {
        var decoder = FrameDecoder()
        decoder.writeBytes(example.bytes)
        let decoded = try #require(try decoder.readDecodedFrame())
        let copied = try #require(try Frame.decodeFromStart(example.bytes))
        #expect(decoded.header == copied.header)
        if decoded.header.version == WireFormat.protocolVersion {
            let document = try decoded.document.get()
            #expect(same(document, try copied.decodeDocument()))
        } else {
            #expect(throws: ProtocolError.unsupportedVersion(decoded.header.version)) { try decoded.document.get() }
        }
    }

    @Test(arguments: Spec.examples)
    func everyTruncationIsIncompleteNotAnError(_ example: SpecExample) throws {
        for cut in 0..<example.bytes.count {
            var decoder = FrameDecoder()
            decoder.writeBytes(Array(example.bytes[0..<cut]))
            #expect(try decoder.readFrame() == nil, "cut at \(cut)")
            #expect(decoder.bufferedBytes == cut)
        }
    }

    @Test(arguments: Spec.examples)
    func everyTruncatedBodyIsATypedError(_ example: SpecExample) throws {
        let body = Array(example.bytes[12...])
        for cut in 0..<body.count {
            let error = decodeError(Array(body[0..<cut]))
            switch error {
            case .truncated?, .lengthPastEnd?, .countTooLarge?: break
            default: Issue.record("\(example.name) body cut at \(cut): \(String(describing: error))")
            }
            #expect(error?.serviceError.code == .serializationError)
            #expect(error?.closesConnection == false)
        }
        // The same, framed: the frame is well delimited and its document is what fails.
        for cut in 0..<body.count where example.bytes[4] == WireFormat.protocolVersion {
            var frame = Array(example.bytes[4..<12]) + body[0..<cut]
            frame.insert(contentsOf: [0, 0, UInt8((frame.count >> 8) & 0xFF), UInt8(frame.count & 0xFF)], at: 0)
            var decoder = FrameDecoder()
            decoder.writeBytes(frame)
            let decoded = try #require(try decoder.readDecodedFrame())
            #expect(throws: ProtocolError.self) { try decoded.document.get() }
        }
    }

    @Test func secretsInExamplesNeverPrint() throws {
        let frame = try #require(try Frame.decodeFromStart(Spec.example("get-secret-value-response")))
        let document = try frame.decodeDocument()
        #expect(!document.description.contains("hunter2"))
        #expect(document.description.contains("<redacted, 7 bytes>"))
    }
}

extension Frame {
    static func decodeFromStart(_ bytes: [UInt8]) throws(ProtocolError) -> Frame? {
        var result: Result<Frame?, ProtocolError> = .success(nil)
        bytes.withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            result = Result { () throws(ProtocolError) -> Frame? in try Frame.decode(from: &reader) }
        }
        return try result.get()
    }
}
