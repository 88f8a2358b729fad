import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Synchronization
import Testing

@testable import CofferClient

/// Answers GetSecretValue with a value derived from the SecretId, Hello with a server name, and everything else with
/// ResourceNotFoundException, in order, until the client closes.
let echoScript: @Sendable (FakeConnection) -> Void = { connection in
    while let (header, request) = connection.next() {
        switch header.operation {
        case .getSecretValue?:
            let name = request["SecretId"]?.stringValue ?? "?"
            connection.respond(to: header, secretResponse(name: name, value: "value-of-\(name)"))
        case .hello?:
            connection.respond(to: header, Hello.response(server: "fake 1"))
        default:
            connection.fail(header, .secretNotFound)
        }
    }
}

@Suite struct BlockingConnectionTests {
    @Test func roundTripOfGetSecretValue() throws {
        let daemon = try FakeDaemon(script: echoScript)
        let connection = CofferConnection(socketPath: daemon.path)
        let secret = try connection.getSecretValue(secretId: "app/db")
        #expect(secret.name == "app/db")
        #expect(secret.value.utf8Text == "value-of-app/db")
        #expect(secret.versionStages == ["AWSCURRENT"])
    }

    @Test func errorRepliesAreTypedAndKeepTheConnection() throws {
        let daemon = try FakeDaemon(script: echoScript)
        let connection = CofferConnection(socketPath: daemon.path)
        #expect(
            throws: CofferClientError.service(
                name: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret.")
        ) {
            _ = try connection.call(.describeSecret, ["SecretId": "x"])
        }
        #expect(try connection.getSecretValue(secretId: "y").name == "y")
        #expect(daemon.connectionCount == 1)
    }

    @Test func handshakeIsOptional() throws {
        let seen = Mutex<[Operation]>([])
        let daemon = try FakeDaemon { connection in
            while let (header, request) = connection.next() {
                seen.withLock { $0.append(header.operation ?? .status) }
                if header.operation == .hello {
                    #expect(request["Client"]?.stringValue == "test/1")
                    connection.respond(to: header, Hello.response(server: "fake 1"))
                } else {
                    connection.respond(to: header, secretResponse(name: "n", value: "v"))
                }
            }
        }
        let plain = CofferConnection(socketPath: daemon.path)
        _ = try plain.getSecretValue(secretId: "n")
        #expect(plain.serverInfo == nil)
        let greeting = CofferConnection(
            socketPath: daemon.path, options: ConnectionOptions(handshake: true, clientName: "test/1"))
        _ = try greeting.getSecretValue(secretId: "n")
        #expect(greeting.serverInfo?.server == "fake 1")
        #expect(seen.withLock { $0 } == [.getSecretValue, .hello, .getSecretValue])
    }

    @Test func pipelinedCallsAreMatchedWhateverTheOrderOfReplies() throws {
        let mostInFlight = Mutex(0)
        // Reads requests in batches of 10 and answers each batch in reverse order.
        let daemon = try FakeDaemon { connection in
            var batch: [(FrameHeader, Document)] = []
            while let request = connection.next() {
                batch.append(request)
                guard batch.count == 10 else { continue }
                mostInFlight.withLock { $0 = max($0, batch.count) }
                for (header, document) in batch.reversed() {
                    let name = document["SecretId"]?.stringValue ?? "?"
                    connection.respond(to: header, secretResponse(name: name, value: "value-of-\(name)"))
                }
                batch.removeAll()
            }
        }
        let connection = CofferConnection(socketPath: daemon.path)
        let requests = (0..<150).map { index in
            (Operation.getSecretValue, SecretsManagerRequests.getSecretValue(secretId: "s\(index)"))
        }
        let results = try connection.callAll(requests)
        #expect(results.count == 150)
        for (index, result) in results.enumerated() {
            let document = try result.get()
            #expect(document["Name"]?.stringValue == "s\(index)")
        }
        #expect(mostInFlight.withLock { $0 } == 10)
        #expect(daemon.connectionCount == 1)
    }

    @Test func keptConnectionIsReopenedAfterTheDaemonClosedIt() throws {
        // Each connection answers one request, then the daemon closes it (as after an idle timeout or a restart).
        let daemon = try FakeDaemon { connection in
            guard let (header, request) = connection.next() else { return }
            let name = request["SecretId"]?.stringValue ?? "?"
            connection.respond(to: header, secretResponse(name: name, value: "v"))
        }
        let connection = CofferConnection(socketPath: daemon.path)
        #expect(try connection.getSecretValue(secretId: "a").name == "a")
        #expect(eventually { daemon.closedCount == 1 })
        #expect(try connection.getSecretValue(secretId: "b").name == "b")
        #expect(eventually { daemon.closedCount == 2 })
        // A write that is not idempotent is sent again too: the closed socket refused it (EPIPE), so it never left.
        _ = try connection.call(.deleteSecret, SecretsManagerRequests.deleteSecret(secretId: "c"))
        #expect(daemon.connectionCount == 3)
    }

    @Test func lostReplyOfANonIdempotentWriteIsNotSentTwice() throws {
        let deletes = Atomic(0)
        let daemon = try FakeDaemon { connection in
            guard let (header, _) = connection.next() else { return }
            connection.respond(to: header, secretResponse(name: "n", value: "v"))
            // The second request is read, then the connection drops without an answer.
            if let (second, _) = connection.next(), second.operation == .deleteSecret {
                deletes.add(1, ordering: .relaxed)
            }
        }
        let connection = CofferConnection(socketPath: daemon.path)
        _ = try connection.getSecretValue(secretId: "n")
        #expect(throws: CofferClientError.connectionClosed) {
            _ = try connection.call(.deleteSecret, SecretsManagerRequests.deleteSecret(secretId: "n"))
        }
        #expect(deletes.load(ordering: .relaxed) == 1)
        #expect(daemon.connectionCount == 1)
    }

    @Test func silentDaemonTimesOut() throws {
        let daemon = try FakeDaemon { connection in
            while connection.next() != nil {}  // reads, never answers
        }
        let connection = CofferConnection(socketPath: daemon.path, options: ConnectionOptions(timeoutMilliseconds: 150))
        let start = ContinuousClock.now
        #expect(throws: CofferClientError.timedOut(milliseconds: 150)) {
            _ = try connection.getSecretValue(secretId: "n")
        }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func missingSocketAndStaleSocketAreTypedErrors() throws {
        let directory = try TempDirectory.make()
        defer {
            _ = unlink(directory + "/stale.sock")
            _ = rmdir(directory)
        }
        #expect(throws: CofferClientError.socketNotFound(path: directory + "/none.sock")) {
            try CofferConnection(socketPath: directory + "/none.sock").connect()
        }
        // A socket file nobody listens on any more, as a crashed daemon leaves behind.
        let stale = directory + "/stale.sock"
        let listener = try UnixListener.bind(path: stale, mode: 0o600)
        listener.descriptor.close()
        #expect(throws: CofferClientError.connectionRefused(path: stale)) {
            try CofferConnection(socketPath: stale).connect()
        }
        #expect(throws: CofferClientError.invalidSocketPath(path: "/" + String(repeating: "x", count: 200))) {
            try CofferConnection(socketPath: "/" + String(repeating: "x", count: 200)).connect()
        }
    }

    @Test func garbageFromTheDaemonDropsTheConnection() throws {
        let daemon = try FakeDaemon { connection in
            guard let (header, _) = connection.next() else { return }
            // A request frame: a daemon never sends one.
            let frame = try? WireCodec.encodeFrame(
                header: FrameHeader(kind: .request, operationCode: header.operationCode, requestID: header.requestID),
                document: [:])
            connection.send(frame ?? [])
            while connection.next() != nil {}
        }
        let connection = CofferConnection(socketPath: daemon.path)
        #expect {
            _ = try connection.getSecretValue(secretId: "n")
        } throws: { error in
            if case .malformedReply = error as? CofferClientError { return true }
            return false
        }
        // The next call starts over on a new connection.
        #expect(throws: CofferClientError.self) { _ = try connection.getSecretValue(secretId: "n") }
        #expect(daemon.connectionCount == 2)
    }

    @Test func connectionLevelErrorReplySurfaces() throws {
        let daemon = try FakeDaemon { connection in
            guard connection.next() != nil else { return }
            let reply = Frame.errorReply(
                to: FrameHeader(kind: .request, operationCode: 0, requestID: 0),
                ServiceError(.serializationError, "Frame length 300000 exceeds the maximum of 262144."))
            connection.send((try? reply.encoded()) ?? [])
        }
        #expect(
            throws: CofferClientError.service(
                name: "SerializationException", message: "Frame length 300000 exceeds the maximum of 262144.")
        ) {
            _ = try CofferConnection(socketPath: daemon.path).getSecretValue(secretId: "n")
        }
    }

    @Test func requestBytesAreTheProtocolsExample() throws {
        // docs/PROTOCOL.md 12.3: the GetSecretValue request for app/db-password, here with request id 1.
        let received = Mutex<[UInt8]>([])
        let daemon = try FakeDaemon { connection in
            var buffer = [UInt8](repeating: 0, count: 46)
            let count = (try? buffer.withUnsafeMutableBytes { try connection.socket.readFully(into: $0) }) ?? 0
            received.withLock { $0 = Array(buffer[0..<count]) }
        }
        _ = try? CofferConnection(socketPath: daemon.path).getSecretValue(secretId: "app/db-password")
        let expected: [UInt8] =
            [0, 0, 0, 0x2a, 1, 1, 1, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 8] + Array("SecretId".utf8) + [4, 0, 0, 0, 0x0f]
            + Array("app/db-password".utf8)
        #expect(received.withLock { $0 } == expected)
    }
}
