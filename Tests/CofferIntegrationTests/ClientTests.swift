import CofferClient
import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Testing

/// The client library against the real daemon: the async API, pipelining on one connection, reconnecting across a
/// restart, the blocking connection and the cache.
@Suite(.serialized) struct ClientTests {
    func bytes(_ text: String) -> SensitiveBytes { SensitiveBytes(copying: text.utf8) }

    func text(_ value: SecretValue) -> String { value.value.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    /// `coffer_connections_accepted_total` from the daemon's metrics (admin socket).
    func connectionsAccepted(_ admin: RawConnection) throws -> Int {
        let metrics = try admin.call(.metrics, [:])["Text"]?.stringValue ?? ""
        for line in metrics.split(separator: "\n") where line.hasPrefix("coffer_connections_accepted_total") {
            if let value = line.split(separator: " ").last, let number = Int(value) { return number }
        }
        return -1
    }

    @Test func everyOperationThroughTheAsyncAPI() async throws {
        let d = try Daemon()
        let client = CofferClient(socketPath: d.socketPath)
        let created = try await client.createSecret(
            name: "app/db", secretString: bytes("one"), description: "Orders", tags: [Tag(key: "env", value: "prod")])
        #expect(created.name == "app/db")
        let first = try #require(created.versionId)
        #expect(text(try await client.getSecretValue(secretId: "app/db")) == "one")
        #expect(client.serverInfo?.server.hasPrefix("cofferd ") == true)

        let put = try await client.putSecretValue(secretId: "app/db", secretString: bytes("two"))
        #expect(put.versionStages == ["AWSCURRENT"])
        #expect(text(try await client.getSecretValue(secretId: "app/db", versionStage: "AWSPREVIOUS")) == "one")
        #expect(text(try await client.getSecretValue(secretId: "app/db", versionId: first)) == "one")

        _ = try await client.updateSecret(secretId: "app/db", description: "Orders DB")
        _ = try await client.updateSecretVersionStage(
            secretId: "app/db", versionStage: "AWSCURRENT", removeFromVersionId: put.versionId, moveToVersionId: first)
        #expect(text(try await client.getSecretValue(secretId: "app/db")) == "one")

        let described = try await client.describeSecret(secretId: "app/db")
        #expect(described.description == "Orders DB")
        #expect(described.tags == [Tag(key: "env", value: "prod")])
        #expect(described.versionIdsToStages?.count == 2)
        #expect(described.createdDate != nil)

        try await client.tagResource(secretId: "app/db", tags: [Tag(key: "team", value: "web")])
        try await client.untagResource(secretId: "app/db", tagKeys: ["env"])
        #expect(try await client.describeSecret(secretId: "app/db").tags == [Tag(key: "team", value: "web")])

        let binary = try await client.createSecret(name: "tls/key", secretBinary: SensitiveBytes(copying: [0, 1, 255]))
        let key = try await client.getSecretValue(secretId: binary.arn)
        #expect(key.isBinary)
        #expect(key.value.copyBytes() == [0, 1, 255])

        let listed = try await client.listAllSecrets(filters: [Filter(key: "name", values: ["app/"])])
        #expect(listed.map(\.name) == ["app/db"])
        let page = try await client.listSecrets(maxResults: 1)
        #expect(page.secrets.count == 1)
        #expect(page.nextToken != nil)
        let versions = try await client.listSecretVersionIds(secretId: "app/db", includeDeprecated: true)
        #expect(versions.versions.count == 2)

        let batch = try await client.batchGetSecretValue(secretIdList: ["app/db", "tls/key", "missing"])
        #expect(Set(batch.values.map(\.name)) == ["app/db", "tls/key"])
        #expect(batch.errors.map(\.errorCode) == ["ResourceNotFoundException"])

        let password = try await client.getRandomPassword(passwordLength: 30, excludePunctuation: true)
        #expect(password.count == 30)

        let policy =
            #"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "secretsmanager:DeleteSecret", "Resource": "*"}]}"#
        #expect(try await client.validateResourcePolicy(resourcePolicy: policy).validationErrors.isEmpty)
        _ = try await client.putResourcePolicy(secretId: "app/db", resourcePolicy: policy)
        #expect(try await client.getResourcePolicy(secretId: "app/db").resourcePolicy?.contains("Deny") == true)
        _ = try await client.deleteResourcePolicy(secretId: "app/db")
        #expect(try await client.getResourcePolicy(secretId: "app/db").resourcePolicy == nil)

        await #expect(throws: CofferClientError.self) { _ = try await client.rotateSecret(secretId: "app/db") }

        let deleted = try await client.deleteSecret(secretId: "tls/key", recoveryWindowInDays: 7)
        #expect(deleted.deletionDate != nil)
        do {
            _ = try await client.getSecretValue(secretId: "tls/key")
            Issue.record("read a secret scheduled for deletion")
        } catch {
            #expect(error.code == .invalidRequest)
        }
        _ = try await client.restoreSecret(secretId: "tls/key")
        #expect(try await client.getSecretValue(secretId: "tls/key").isBinary)

        do {
            _ = try await client.describeSecret(secretId: "missing")
            Issue.record("described a missing secret")
        } catch {
            #expect(error.code == .resourceNotFound)
            #expect(error.errorName == "ResourceNotFoundException")
            #expect(error.isServiceError)
        }
    }

    @Test func manyConcurrentCallsShareOneConnection() async throws {
        let d = try Daemon()
        let setup = try d.connect()
        for index in 0..<20 {
            _ = try setup.call(
                .createSecret, ["Name": .string("s\(index)"), "SecretString": .string("value-\(index)")])
        }
        let admin = try d.connectAdmin()
        let before = try connectionsAccepted(admin)
        let client = CofferClient(socketPath: d.socketPath)
        let mismatches = try await withThrowingTaskGroup(of: Bool.self) { group in
            for call in 0..<500 {
                group.addTask {
                    let index = call % 20
                    if call % 50 == 49 {  // some writes among the reads
                        _ = try await client.tagResource(secretId: "s\(index)", tags: [Tag(key: "n", value: "\(call)")])
                        return false
                    }
                    let secret = try await client.getSecretValue(secretId: "s\(index)")
                    return secret.name != "s\(index)" || self.text(secret) != "value-\(index)"
                }
            }
            var mismatches = 0
            for try await mismatch in group where mismatch { mismatches += 1 }
            return mismatches
        }
        #expect(mismatches == 0)
        // One connection for all 500 calls: the admin connection read `before`, the client opened exactly one more.
        #expect(try connectionsAccepted(admin) - before == 1)
    }

    @Test func reconnectsAfterTheDaemonRestarts() async throws {
        let d = try Daemon()
        let client = CofferClient(socketPath: d.socketPath)
        _ = try await client.createSecret(name: "r", secretString: bytes("v1"))
        #expect(text(try await client.getSecretValue(secretId: "r")) == "v1")
        try d.restart()
        // Reads and token-carrying writes go through on a new connection, transparently.
        #expect(text(try await client.getSecretValue(secretId: "r")) == "v1")
        _ = try await client.putSecretValue(secretId: "r", secretString: bytes("v2"))
        #expect(text(try await client.getSecretValue(secretId: "r")) == "v2")
        d.stop()
        await #expect(throws: CofferClientError.socketNotFound(path: d.socketPath)) {
            _ = try await client.getSecretValue(secretId: "r")
        }
        try d.start()
        #expect(text(try await client.getSecretValue(secretId: "r")) == "v2")
    }

    @Test func blockingConnectionPipelinesInOrder() throws {
        let d = try Daemon()
        let connection = CofferConnection(socketPath: d.socketPath)
        _ = try connection.call(.createSecret, SecretsManagerRequests.createSecret(name: "b", secretString: bytes("x")))
        let requests = (0..<200).map { index -> (Operation, Document) in
            index % 10 == 9
                ? (.describeSecret, SecretsManagerRequests.describeSecret(secretId: "missing-\(index)"))
                : (.getSecretValue, SecretsManagerRequests.getSecretValue(secretId: "b"))
        }
        let results = try connection.callAll(requests)
        #expect(results.count == 200)
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let document):
                #expect(index % 10 != 9)
                #expect(document["Name"]?.stringValue == "b")
            case .failure(let error):
                #expect(index % 10 == 9)
                #expect(error.code == .resourceNotFound)
            }
        }
        let secret = try connection.getSecretValue(secretId: "b")
        #expect(secret.value.copyBytes() == Array("x".utf8))
        // Across a restart the blocking connection reconnects too.
        try d.restart()
        #expect(try connection.getSecretValue(secretId: "b").name == "b")
        #expect(try connection.hello().server.hasPrefix("cofferd "))
    }

    @Test func cacheServesStaleWhileRefreshingAgainstTheDaemon() async throws {
        let d = try Daemon()
        let client = CofferClient(socketPath: d.socketPath)
        _ = try await client.createSecret(name: "c", secretString: bytes("v1"))
        let cache = SecretCache(
            client: client, configuration: SecretCache.Configuration(refreshInterval: .milliseconds(300), jitter: false)
        )
        #expect(text(try await cache.getSecretValue(secretId: "c")) == "v1")
        _ = try await client.putSecretValue(secretId: "c", secretString: bytes("v2"))
        #expect(text(try await cache.getSecretValue(secretId: "c")) == "v1")  // fresh: no request
        try await Task.sleep(for: .milliseconds(350))
        #expect(text(try await cache.getSecretValue(secretId: "c")) == "v1")  // stale, served while refreshing
        await cache.waitForRefreshes()
        #expect(text(try await cache.getSecretValue(secretId: "c")) == "v2")
        _ = try await client.putSecretValue(secretId: "c", secretString: bytes("v3"))
        #expect(text(try await cache.refreshNow(secretId: "c")) == "v3")
        #expect(text(try await cache.getSecretValue(secretId: "c", versionStage: "AWSPREVIOUS")) == "v2")
        await #expect(throws: CofferClientError.self) { _ = try await cache.getSecretValue(secretId: "missing") }
        #expect(await cache.count == 3)
    }
}
