import CofferCore
import CofferProtocol
import Testing

@testable import CofferClient

/// Request documents built by the library and by the CLI's friendly commands.
@Suite struct RequestTests {
    @Test func getSecretValueHasOnlyTheMembersGiven() {
        #expect(SecretsManagerRequests.getSecretValue(secretId: "a").keys == ["SecretId"])
        let full = SecretsManagerRequests.getSecretValue(secretId: "a", versionId: "v", versionStage: "AWSPREVIOUS")
        #expect(full.keys == ["SecretId", "VersionId", "VersionStage"])
        #expect(full["VersionStage"]?.stringValue == "AWSPREVIOUS")
    }

    @Test func writesGetAFreshIdempotencyToken() throws {
        let first = SecretsManagerRequests.createSecret(name: "n", secretString: SensitiveBytes(copying: "v".utf8))
        let second = SecretsManagerRequests.createSecret(name: "n", secretString: SensitiveBytes(copying: "v".utf8))
        let token = try #require(first["ClientRequestToken"]?.stringValue)
        #expect(Limits.clientRequestTokenLength.contains(token.count))
        #expect(token != second["ClientRequestToken"]?.stringValue)
        let given = SecretsManagerRequests.putSecretValue(
            secretId: "n", clientRequestToken: "t" + String(repeating: "0", count: 31))
        #expect(given["ClientRequestToken"]?.stringValue == "t" + String(repeating: "0", count: 31))
        #expect(SecretsManagerRequests.updateSecret(secretId: "n")["ClientRequestToken"] != nil)
        #expect(SecretsManagerRequests.rotateSecret(secretId: "n")["ClientRequestToken"] != nil)
    }

    @Test func secretValuesTravelAsSecretMembers() {
        let request = SecretsManagerRequests.putSecretValue(
            secretId: "n", secretBinary: SensitiveBytes(copying: [0, 1, 2]), versionStages: ["A", "B"])
        guard case .secret(let bytes, let isString)? = request["SecretBinary"] else {
            Issue.record("SecretBinary is not a secret member")
            return
        }
        #expect(bytes.copyBytes() == [0, 1, 2])
        #expect(!isString)
        #expect(request["SecretString"] == nil)
        #expect(request["VersionStages"]?.listValue?.compactMap(\.stringValue) == ["A", "B"])
    }

    @Test func createSecretWithTagsAndDescription() throws {
        let request = SecretsManagerRequests.createSecret(
            name: "app/db", description: "Orders", tags: [Tag(key: "env", value: "prod")])
        #expect(request.keys == ["Name", "ClientRequestToken", "Description", "Tags"])
        let tags = try #require(request["Tags"]?.listValue)
        #expect(tags.count == 1)
        #expect(tags.first?.mapValue?["Key"]?.stringValue == "env")
        #expect(tags.first?.mapValue?["Value"]?.stringValue == "prod")
    }

    @Test func listSecretsFiltersAndPaging() throws {
        let request = SecretsManagerRequests.listSecrets(
            includePlannedDeletion: true, maxResults: 100, nextToken: "t",
            filters: [Filter(key: "name", values: ["app/", "db/"])], sortBy: "name", sortOrder: "asc")
        #expect(
            request.keys == ["IncludePlannedDeletion", "MaxResults", "NextToken", "Filters", "SortBy", "SortOrder"])
        #expect(request["MaxResults"]?.intValue == 100)
        let filter = try #require(request["Filters"]?.listValue?.first?.mapValue)
        #expect(filter["Key"]?.stringValue == "name")
        #expect(filter["Values"]?.listValue?.compactMap(\.stringValue) == ["app/", "db/"])
        #expect(SecretsManagerRequests.listSecrets().isEmpty)
    }

    @Test func rotationRulesNest() throws {
        let request = SecretsManagerRequests.rotateSecret(
            secretId: "s", rotationLambdaARN: "hook", rotationRules: RotationRules(automaticallyAfterDays: 30),
            rotateImmediately: false)
        let rules = try #require(request["RotationRules"]?.mapValue)
        #expect(rules["AutomaticallyAfterDays"]?.intValue == 30)
        #expect(rules.keys == ["AutomaticallyAfterDays"])
        #expect(request["RotateImmediately"]?.boolValue == false)
    }

    // MARK: coffer call

    @Test func callParsesAWSShapedJSON() throws {
        let (operation, request) = try CLIRequests.call(
            operation: "getsecretvalue", json: #"{"SecretId": "app/db", "VersionStage": "AWSPREVIOUS"}"#)
        #expect(operation == .getSecretValue)
        #expect(request.keys == ["SecretId", "VersionStage"])
        #expect(request["SecretId"]?.stringValue == "app/db")
    }

    @Test func callDecodesSecretBinaryFromBase64AndAddsAToken() throws {
        let (operation, request) = try CLIRequests.call(
            operation: "CreateSecret", json: #"{"Name": "k", "SecretBinary": "AAECAw=="}"#)
        #expect(operation == .createSecret)
        guard case .secret(let bytes, false)? = request["SecretBinary"] else {
            Issue.record("SecretBinary was not decoded to secret bytes")
            return
        }
        #expect(bytes.copyBytes() == [0, 1, 2, 3])
        #expect(request["ClientRequestToken"]?.stringValue?.count == 36)
    }

    @Test func callKeepsAGivenToken() throws {
        let token = String(repeating: "a", count: 32)
        let (_, request) = try CLIRequests.call(
            operation: "PutSecretValue", json: #"{"SecretId": "k", "ClientRequestToken": "\#(token)"}"#)
        #expect(request["ClientRequestToken"]?.stringValue == token)
    }

    @Test func callWithoutJSONIsAnEmptyRequest() throws {
        #expect(try CLIRequests.call(operation: "ListSecrets", json: nil).1.isEmpty)
        #expect(try CLIRequests.call(operation: "Hello", json: " \n").1.isEmpty)
        #expect(try CLIRequests.call(operation: "Hello", json: nil).0 == .hello)
    }

    static let badCalls: [(String, String?, String)] = [
        ("NoSuchOperation", nil, "Unknown operation"),
        ("GetSecretValue", "{not json", "Invalid request JSON"),
        ("GetSecretValue", #"{"SecretId": null}"#, "null"),
        ("GetSecretValue", #"{"MaxResults": 1.5}"#, "integer"),
        ("GetSecretValue", #"["SecretId"]"#, "JSON object"),
        ("CreateSecret", #"{"Name": "k", "SecretBinary": "not base64!"}"#, "base64"),
        ("GetSecretValue", #"{"SecretId": "a", "SecretId": "b"}"#, "Duplicate"),
    ]

    @Test(arguments: badCalls)
    func callRejectsBadInputAsUsageErrors(operation: String, json: String?, expected: String) {
        #expect {
            _ = try CLIRequests.call(operation: operation, json: json)
        } throws: { error in
            (error as? UsageError)?.message.contains(expected) == true
        }
    }

    @Test func badBase64NeverEchoesTheValue() {
        do {
            _ = try CLIRequests.call(operation: "CreateSecret", json: #"{"Name": "k", "SecretBinary": "s3cr3t!!"}"#)
            Issue.record("accepted invalid base64")
        } catch {
            #expect(!error.message.contains("s3cr3t"))
        }
    }

    @Test func operationsRouteToTheirSocket() {
        #expect(SocketRole(for: .getSecretValue) == .client)
        #expect(SocketRole(for: .hello) == .client)
        #expect(SocketRole(for: .putUserPolicy) == .admin)
        #expect(SocketRole(for: .status) == .admin)
    }

    // MARK: Friendly commands

    @Test func tagsSplitAtTheFirstEquals() throws {
        #expect(
            try CLIRequests.tags(["env=prod", "empty=", "url=a=b"]) == [
                Tag(key: "env", value: "prod"), Tag(key: "empty", value: ""), Tag(key: "url", value: "a=b"),
            ])
        #expect(throws: UsageError.self) { try CLIRequests.tags(["novalue"]) }
        #expect(throws: UsageError.self) { try CLIRequests.tags(["=v"]) }
    }

    @Test func filtersSplitValuesAtCommas() throws {
        #expect(
            try CLIRequests.filters(["name=app/,db/", "tag-key=!env"]) == [
                Filter(key: "name", values: ["app/", "db/"]), Filter(key: "tag-key", values: ["!env"]),
            ])
        #expect(throws: UsageError.self) { try CLIRequests.filters(["app/"]) }
    }

    @Test func deleteOptions() throws {
        let scheduled = try CLIRequests.delete(name: "n", recoveryWindowInDays: 7, force: false)
        #expect(scheduled["RecoveryWindowInDays"]?.intValue == 7)
        #expect(scheduled["ForceDeleteWithoutRecovery"] == nil)
        let forced = try CLIRequests.delete(name: "n", recoveryWindowInDays: nil, force: true)
        #expect(forced["ForceDeleteWithoutRecovery"]?.boolValue == true)
        #expect(forced["RecoveryWindowInDays"] == nil)
        #expect(try CLIRequests.delete(name: "n", recoveryWindowInDays: nil, force: false).keys == ["SecretId"])
        #expect(throws: UsageError.self) { try CLIRequests.delete(name: "n", recoveryWindowInDays: 7, force: true) }
    }

    @Test func textValuesMustBeUTF8() throws {
        let text = try CLIRequests.secretMembers(SensitiveBytes(copying: "héllo".utf8), binary: false)
        #expect(text.string?.utf8Text == "héllo")
        #expect(text.binary == nil)
        let invalid = SensitiveBytes(copying: [0xFF, 0xFE])
        #expect(throws: UsageError.self) { try CLIRequests.secretMembers(invalid, binary: false) }
        let binary = try CLIRequests.secretMembers(invalid, binary: true)
        #expect(binary.binary?.copyBytes() == [0xFF, 0xFE])
        #expect(binary.string == nil)
    }

    @Test(arguments: [
        ("value\n", "value"), ("value\r\n", "value"), ("value", "value"), ("value\n\n", "value\n"), ("\n", ""),
        ("", ""),
    ])
    func trimNewlineRemovesOneLineEnd(input: String, expected: String) {
        #expect(CLIRequests.trimmingNewline(SensitiveBytes(copying: input.utf8)).utf8Text == expected)
    }
}
