import CofferCore
import CofferProtocol
import Testing

@testable import CofferClient

/// Request ids, the table of requests in flight, and what each frame from the daemon means.
@Suite struct ReplyRoutingTests {
    @Test func idsStartAtOneAndSkipIdsInFlight() {
        var table = PendingTable<String>()
        #expect(table.insert("a") == 1)
        #expect(table.insert("b") == 2)
        #expect(table.remove(1) == "a")
        #expect(table.insert("c") == 3)
        #expect(table.count == 2)
    }

    @Test func idsWrapPastTheMaximumToOneNeverZero() {
        var table = PendingTable<Int>(firstID: UInt32.max - 1)
        #expect(table.insert(0) == UInt32.max - 1)
        #expect(table.insert(0) == UInt32.max)
        #expect(table.insert(0) == 1)
        var fromZero = PendingTable<Int>(firstID: 0)
        #expect(fromZero.insert(0) == 1)
    }

    @Test func wrappingSkipsAnIdStillInFlight() {
        var table = PendingTable<Int>(firstID: UInt32.max)
        #expect(table.insert(10) == UInt32.max)
        // Id 1 is taken by a long-running request when the counter wraps to it.
        table[1] = 11
        #expect(table.insert(12) == 2)
        #expect(table.removeAll().sorted() == [10, 11, 12])
        #expect(table.isEmpty)
    }

    @Test func requestIDIsPatchedIntoTheHeader() throws {
        var frame = try RequestFrame.encode(.getSecretValue, ["SecretId": "x"])
        RequestFrame.setRequestID(0x0102_0304, in: &frame)
        var decoder = FrameDecoder()
        decoder.writeBytes(frame)
        let decoded = try #require(try decoder.readFrame())
        #expect(decoded.header.requestID == 0x0102_0304)
        #expect(decoded.header.operation == .getSecretValue)
        #expect(decoded.header.kind == .request)
    }

    @Test func oversizedRequestsAreRefusedBeforeSending() {
        let huge = SensitiveBytes(copying: [UInt8](repeating: 7, count: WireFormat.maximumFrameLength))
        #expect {
            _ = try RequestFrame.encode(
                .putSecretValue, ["SecretId": "x", "SecretBinary": .secret(huge, isString: false)])
        } throws: { error in
            guard case .requestNotEncodable(let message) = error as? CofferClientError else { return false }
            return message.contains("\(WireFormat.maximumFrameLength)")
        }
    }

    private func classify(_ header: FrameHeader, _ document: Document) throws -> IncomingFrame {
        let body = try document.encoded()
        return body.withUnsafeBytes { IncomingFrame.classify(header: header, body: $0) }
    }

    @Test func responsesAreMatchedByRequestID() throws {
        let header = FrameHeader(kind: .response, operation: .getSecretValue, requestID: 42)
        guard case .reply(42, .success(let document)) = try classify(header, ["Name": "n"]) else {
            Issue.record("not a successful reply to 42")
            return
        }
        #expect(document["Name"]?.stringValue == "n")
    }

    @Test func errorRepliesCarryTheAWSName() throws {
        let header = FrameHeader(kind: .error, operation: .getSecretValue, requestID: 5)
        let reply = ErrorReply(type: "ResourceNotFoundException", message: "Secrets Manager can't find it.")
        guard case .reply(5, .failure(let error)) = try classify(header, reply.document) else {
            Issue.record("not a failed reply to 5")
            return
        }
        #expect(error == .service(name: "ResourceNotFoundException", message: "Secrets Manager can't find it."))
        #expect(error.code == .resourceNotFound)
    }

    @Test func unknownErrorNamesAreKept() throws {
        let header = FrameHeader(kind: .error, operation: .getSecretValue, requestID: 6)
        guard
            case .reply(6, .failure(let error)) = try classify(
                header, ErrorReply(type: "NewException", message: "m").document)
        else {
            Issue.record("not a failed reply")
            return
        }
        #expect(error.errorName == "NewException")
        #expect(error.code == nil)
        #expect(error.isServiceError)
    }

    @Test func connectionLevelErrorReplyIsFatal() throws {
        let header = FrameHeader(kind: .error, operationCode: 0, requestID: 0)
        let reply = ErrorReply(type: "SerializationException", message: "Frame length 9 is too large.")
        guard case .fatal(let error) = try classify(header, reply.document) else {
            Issue.record("request id 0 must end the connection")
            return
        }
        #expect(error.code == .serializationError)
    }

    @Test func framesADaemonNeverSendsAreFatal() throws {
        let request = FrameHeader(kind: .request, operation: .getSecretValue, requestID: 1)
        guard case .fatal = try classify(request, [:]) else {
            Issue.record("a request frame from the daemon must end the connection")
            return
        }
        let reserved = FrameHeader(kind: FrameKind(rawValue: 9), operation: .getSecretValue, requestID: 1)
        guard case .fatal = try classify(reserved, [:]) else {
            Issue.record("a reserved kind must end the connection")
            return
        }
        let version2 = FrameHeader(version: 2, kind: .response, operationCode: 0x0102, requestID: 1)
        guard case .fatal = try classify(version2, [:]) else {
            Issue.record("a frame of another version must end the connection")
            return
        }
    }

    @Test func malformedBodyFailsOnlyItsRequest() {
        let header = FrameHeader(kind: .response, operation: .getSecretValue, requestID: 3)
        let garbage: [UInt8] = [0, 0, 0, 1, 0, 1, 0x41, 0x63]  // one member, reserved tag 0x63
        let outcome = garbage.withUnsafeBytes { IncomingFrame.classify(header: header, body: $0) }
        guard case .reply(3, .failure(.malformedReply)) = outcome else {
            Issue.record("expected a malformed reply for request 3")
            return
        }
    }

    @Test func whatMayBeSentAgainAfterALostReply() {
        #expect(RetryPolicy.isSafeToResend(.getSecretValue, [:]))
        #expect(RetryPolicy.isSafeToResend(.listSecrets, [:]))
        #expect(RetryPolicy.isSafeToResend(.putSecretValue, ["ClientRequestToken": "t"]))
        #expect(!RetryPolicy.isSafeToResend(.putSecretValue, [:]))
        #expect(!RetryPolicy.isSafeToResend(.deleteSecret, [:]))
        #expect(!RetryPolicy.isSafeToResend(.updateSecretVersionStage, [:]))
        #expect(RetryPolicy.isSafeToResend(.tagResource, [:]))
    }
}
