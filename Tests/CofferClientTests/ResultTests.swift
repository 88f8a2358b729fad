import CofferCore
import CofferProtocol
import Testing

@testable import CofferClient

/// Typed views of response documents.
@Suite struct ResultTests {
    @Test func secretValueFromAStringResponse() throws {
        let value = try SecretValue(document: secretResponse(name: "app/db", value: "hunter2"))
        #expect(value.name == "app/db")
        #expect(value.versionStages == ["AWSCURRENT"])
        #expect(value.createdDate == Timestamp(milliseconds: 1_795_961_621_123))
        #expect(!value.isBinary)
        #expect(value.secretString?.utf8Text == "hunter2")
        #expect(value.secretBinary == nil)
        #expect(value.stringValue() == "hunter2")
    }

    @Test func secretValueFromABinaryResponse() throws {
        var document = secretResponse(name: "k", value: "")
        document["SecretString"] = nil
        document["SecretBinary"] = .secret(SensitiveBytes(copying: [0, 0xFF]), isString: false)
        let value = try SecretValue(document: document)
        #expect(value.isBinary)
        #expect(value.value.copyBytes() == [0, 0xFF])
        #expect(value.stringValue() == nil)
    }

    @Test func descriptionsNeverShowTheValue() throws {
        let value = try SecretValue(document: secretResponse(name: "app/db", value: "hunter2"))
        #expect(!value.description.contains("hunter2"))
        #expect(!"\(value)".contains("hunter2"))
        #expect(value.description.contains("redacted"))
    }

    @Test func missingOrMistypedMembersAreMalformedReplies() {
        var noValue = secretResponse(name: "n", value: "v")
        noValue["SecretString"] = nil
        #expect(throws: CofferClientError.self) { try SecretValue(document: noValue) }
        var wrongType = secretResponse(name: "n", value: "v")
        wrongType["VersionStages"] = .string("AWSCURRENT")
        #expect {
            try SecretValue(document: wrongType)
        } throws: { error in
            if case .malformedReply = error as? CofferClientError { return true }
            return false
        }
        #expect(throws: CofferClientError.self) { try SecretReference(document: ["Name": "n"]) }
    }

    @Test func unknownMembersAreIgnored() throws {
        var document = secretResponse(name: "n", value: "v")
        document["SomethingNew"] = .int(1)
        #expect(try SecretValue(document: document).name == "n")
    }

    @Test func metadataOfAListEntry() throws {
        let entry: Document = [
            "ARN": "arn", "Name": "n", "Description": "d", "RotationEnabled": true,
            "RotationRules": .map(["AutomaticallyAfterDays": 30]),
            "Tags": .list([.map(["Key": "env", "Value": "prod"])]),
            "SecretVersionsToStages": .map(["v1": ["AWSCURRENT"], "v0": ["AWSPREVIOUS"]]),
            "CreatedDate": .timestamp(Timestamp(milliseconds: 5)),
        ]
        let metadata = try SecretMetadata(document: entry)
        #expect(metadata.description == "d")
        #expect(metadata.rotationEnabled == true)
        #expect(metadata.rotationRules == RotationRules(automaticallyAfterDays: 30))
        #expect(metadata.tags == [Tag(key: "env", value: "prod")])
        #expect(metadata.versionIdsToStages?.map(\.versionId) == ["v1", "v0"])
        #expect(metadata.versionIdsToStages?.first?.stages == ["AWSCURRENT"])
        #expect(metadata.createdDate == Timestamp(milliseconds: 5))
        #expect(metadata.deletedDate == nil)
    }

    @Test func batchResultsAndErrors() throws {
        let document: Document = [
            "SecretValues": .list([.map(secretResponse(name: "a", value: "1"))]),
            "Errors": .list([
                .map(["SecretId": "b", "ErrorCode": "ResourceNotFoundException", "Message": "not found"])
            ]),
        ]
        let batch = try BatchSecretValues(document: document)
        #expect(batch.values.map(\.name) == ["a"])
        #expect(batch.errors.first?.errorCode == "ResourceNotFoundException")
        #expect(batch.nextToken == nil)
    }

    @Test func helloAnswer() throws {
        let info = try ServerInfo(document: Hello.response(server: "cofferd 0.1.0"))
        #expect(info.protocolVersion == 1)
        #expect(info.server == "cofferd 0.1.0")
    }

    @Test func errorNamesForTheCLI() {
        #expect(CofferClientError.service(name: "X", message: "m").errorName == "X")
        #expect(CofferClientError.socketNotFound(path: "/p").isConnectFailure)
        #expect(!CofferClientError.connectionClosed.isConnectFailure)
        #expect(CofferClientError.timedOut(milliseconds: 5).message.contains("5 ms"))
    }
}
