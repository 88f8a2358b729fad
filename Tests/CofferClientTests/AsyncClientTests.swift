import CofferCore
import CofferProtocol
import CofferSystem
import Synchronization
import Testing

@testable import CofferClient

@Suite struct AsyncClientTests {
    @Test func manyConcurrentCallsArePipelinedOnOneConnection() async throws {
        let mostInFlight = Mutex(0)
        // Answers Hello at once; collects GetSecretValue requests in batches of 50 and answers each batch backwards:
        // a batch can only fill if the client has 50 requests in flight on this one connection.
        let daemon = try FakeDaemon { connection in
            var batch: [(FrameHeader, Document)] = []
            while let (header, request) = connection.next() {
                if header.operation == .hello {
                    connection.respond(to: header, Hello.response(server: "fake 1"))
                    continue
                }
                batch.append((header, request))
                guard batch.count == 50 else { continue }
                mostInFlight.withLock { $0 = max($0, batch.count) }
                for (header, request) in batch.reversed() {
                    let name = request["SecretId"]?.stringValue ?? "?"
                    connection.respond(to: header, secretResponse(name: name, value: "value-of-\(name)"))
                }
                batch.removeAll()
            }
        }
        let client = CofferClient(socketPath: daemon.path)
        let names = try await withThrowingTaskGroup(of: (Int, SecretValue).self) { group in
            for index in 0..<200 {
                group.addTask { (index, try await client.getSecretValue(secretId: "s\(index)")) }
            }
            var names = [String](repeating: "", count: 200)
            for try await (index, secret) in group {
                #expect(secret.value.utf8Text == "value-of-s\(index)")
                names[index] = secret.name
            }
            return names
        }
        #expect(names == (0..<200).map { "s\($0)" })
        #expect(mostInFlight.withLock { $0 } == 50)
        #expect(daemon.connectionCount == 1)
        #expect(client.serverInfo?.server == "fake 1")
    }

    @Test func everyOperationHasATypedMethod() async throws {
        let seen = Mutex<[String]>([])
        let daemon = try FakeDaemon { connection in
            while let (header, request) = connection.next() {
                let operation = header.operation ?? .status
                seen.withLock { $0.append(operation.name) }
                let arn = "arn:coffer:secretsmanager:local:123456789012:secret:n-AbCdEf"
                switch operation {
                case .hello: connection.respond(to: header, Hello.response(server: "fake 1"))
                case .getSecretValue: connection.respond(to: header, secretResponse(name: "n", value: "v"))
                case .describeSecret: connection.respond(to: header, ["ARN": .string(arn), "Name": "n"])
                case .listSecrets:
                    connection.respond(to: header, ["SecretList": .list([.map(["ARN": .string(arn), "Name": "n"])])])
                case .listSecretVersionIds:
                    connection.respond(
                        to: header, ["ARN": .string(arn), "Name": "n", "Versions": .list([.map(["VersionId": "v"])])])
                case .deleteSecret:
                    connection.respond(
                        to: header,
                        ["ARN": .string(arn), "Name": "n", "DeletionDate": .timestamp(Timestamp(milliseconds: 1))])
                case .tagResource, .untagResource: connection.respond(to: header, [:])
                case .getRandomPassword:
                    let length = Int(request["PasswordLength"]?.intValue ?? 32)
                    connection.respond(to: header, ["RandomPassword": .string(String(repeating: "x", count: length))])
                case .batchGetSecretValue:
                    connection.respond(
                        to: header, ["SecretValues": .list([.map(secretResponse(name: "n", value: "v"))])])
                case .getResourcePolicy: connection.respond(to: header, ["ARN": .string(arn), "Name": "n"])
                case .validateResourcePolicy: connection.respond(to: header, ["PolicyValidationPassed": true])
                default: connection.respond(to: header, ["ARN": .string(arn), "Name": "n", "VersionId": "v"])
                }
            }
        }
        let client = CofferClient(socketPath: daemon.path, options: ConnectionOptions())
        let value = SensitiveBytes(copying: "v".utf8)
        #expect(try await client.createSecret(name: "n", secretString: value).versionId == "v")
        #expect(try await client.getSecretValue(secretId: "n").name == "n")
        #expect(try await client.putSecretValue(secretId: "n", secretString: value).name == "n")
        #expect(try await client.updateSecret(secretId: "n", description: "d").arn.hasSuffix("n-AbCdEf"))
        _ = try await client.updateSecretVersionStage(secretId: "n", versionStage: "S", moveToVersionId: "v")
        #expect(try await client.describeSecret(secretId: "n").name == "n")
        #expect(try await client.listSecrets().secrets.count == 1)
        #expect(try await client.listAllSecrets().map(\.name) == ["n"])
        #expect(try await client.listSecretVersionIds(secretId: "n").versions.map(\.versionId) == ["v"])
        #expect(try await client.deleteSecret(secretId: "n").deletionDate == Timestamp(milliseconds: 1))
        _ = try await client.restoreSecret(secretId: "n")
        try await client.tagResource(secretId: "n", tags: [Tag(key: "k", value: "v")])
        try await client.untagResource(secretId: "n", tagKeys: ["k"])
        #expect(try await client.getRandomPassword(passwordLength: 12).count == 12)
        #expect(try await client.batchGetSecretValue(secretIdList: ["n"]).values.count == 1)
        _ = try await client.putResourcePolicy(secretId: "n", resourcePolicy: "{}")
        #expect(try await client.getResourcePolicy(secretId: "n").resourcePolicy == nil)
        _ = try await client.deleteResourcePolicy(secretId: "n")
        #expect(try await client.validateResourcePolicy(resourcePolicy: "{}").policyValidationPassed)
        _ = try await client.rotateSecret(secretId: "n", rotationLambdaARN: "hook")
        _ = try await client.cancelRotateSecret(secretId: "n")
        #expect(try await client.hello().server == "fake 1")
        let secretsManager = Operation.allCases.filter { $0.service == .secretsManager }.map(\.name)
        #expect(Set(seen.withLock { $0 }).isSuperset(of: secretsManager))
    }

    @Test func errorRepliesAreTyped() async throws {
        let daemon = try FakeDaemon(script: echoScript)
        let client = CofferClient(socketPath: daemon.path)
        await #expect(
            throws: CofferClientError.service(
                name: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret.")
        ) {
            _ = try await client.describeSecret(secretId: "x")
        }
        #expect(try await client.getSecretValue(secretId: "y").name == "y")
    }

    @Test func cancellationEndsTheWaitAtOnce() async throws {
        let daemon = try FakeDaemon { connection in
            while connection.next() != nil {}  // never answers
        }
        let client = CofferClient(socketPath: daemon.path, options: ConnectionOptions(timeoutMilliseconds: 0))
        let task = Task { try await client.getSecretValue(secretId: "n") }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await #expect(throws: CofferClientError.cancelled) { _ = try await task.value }
    }

    @Test func silentDaemonTimesOut() async throws {
        let daemon = try FakeDaemon { connection in
            while connection.next() != nil {}
        }
        let client = CofferClient(
            socketPath: daemon.path, options: ConnectionOptions(timeoutMilliseconds: 100, handshake: false))
        let start = ContinuousClock.now
        await #expect(throws: CofferClientError.timedOut(milliseconds: 100)) {
            _ = try await client.getSecretValue(secretId: "n")
        }
        #expect(ContinuousClock.now - start >= .milliseconds(100))
    }

    @Test func reconnectsAfterTheDaemonRestarts() async throws {
        var daemon = try FakeDaemon(script: echoScript)
        let path = daemon.path
        let client = CofferClient(socketPath: path)
        #expect(try await client.getSecretValue(secretId: "before").name == "before")
        daemon.stop()
        // The old connection is gone; with no daemon, a call reports the missing socket.
        await #expect(throws: CofferClientError.socketNotFound(path: path)) {
            _ = try await client.getSecretValue(secretId: "between")
        }
        daemon = try FakeDaemon(at: path, script: echoScript)
        #expect(try await client.getSecretValue(secretId: "after").name == "after")
        #expect(daemon.connectionCount == 1)
    }

    @Test func inFlightCallsFailWhenTheConnectionDrops() async throws {
        let daemon = try FakeDaemon { connection in
            var count = 0
            while connection.next() != nil {
                count += 1
                if count == 3 { return }  // three requests read, none answered: the daemon goes away
            }
        }
        let client = CofferClient(socketPath: daemon.path, options: ConnectionOptions())
        let results = await withTaskGroup(of: Result<Document, CofferClientError>.self) { group in
            for index in 0..<3 {
                group.addTask {
                    do throws(CofferClientError) {
                        return .success(try await client.call(.deleteSecret, ["SecretId": .string("s\(index)")]))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var results: [Result<Document, CofferClientError>] = []
            for await result in group { results.append(result) }
            return results
        }
        #expect(results.count == 3)
        for result in results {
            guard case .failure(.connectionClosed) = result else {
                Issue.record("expected connectionClosed, got \(result)")
                continue
            }
        }
    }

    @Test func closeFailsNothingLaterAndReopens() async throws {
        let daemon = try FakeDaemon(script: echoScript)
        let client = CofferClient(socketPath: daemon.path)
        _ = try await client.getSecretValue(secretId: "a")
        client.close()
        _ = try await client.getSecretValue(secretId: "b")
        #expect(daemon.connectionCount == 2)
    }

    @Test func unreachableDaemon() async {
        let client = CofferClient(socketPath: "/nonexistent/coffer.sock")
        await #expect(throws: CofferClientError.socketNotFound(path: "/nonexistent/coffer.sock")) {
            _ = try await client.getSecretValue(secretId: "n")
        }
    }
}
