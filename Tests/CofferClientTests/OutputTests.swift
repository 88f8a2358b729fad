import CofferCore
import CofferProtocol
import Testing

@testable import CofferClient

/// What the CLI prints: AWS CLI-shaped JSON, error lines, tables, exit statuses.
@Suite struct OutputTests {
    @Test func responsePrintsAsTheAWSCLIDoes() {
        let expected = """
            {
                "ARN": "arn:coffer:secretsmanager:local:123456789012:secret:app/db-password-AbCdEf",
                "Name": "app/db-password",
                "VersionId": "4b2e7b9a-3c1d-4e8f-9a0b-1c2d3e4f5a6b",
                "SecretString": "hunter2",
                "VersionStages": [
                    "AWSCURRENT"
                ],
                "CreatedDate": "2026-11-29T14:13:41.123000+00:00"
            }

            """
        #expect(CLIOutput.responseJSON(secretResponse(name: "app/db-password", value: "hunter2")) == expected)
    }

    @Test func binaryValuesPrintAsBase64() {
        let document: Document = [
            "SecretBinary": .secret(SensitiveBytes(copying: [0, 1, 0x7F, 0x80, 0xFE, 0xFF]), isString: false)
        ]
        #expect(CLIOutput.responseJSON(document) == "{\n    \"SecretBinary\": \"AAF/gP7/\"\n}\n")
    }

    @Test func emptyResponsesPrintNothing() {
        #expect(CLIOutput.responseJSON(Document()).isEmpty)
    }

    @Test func errorLineIsAWSShapedJSON() {
        #expect(
            CLIOutput.errorJSON(name: "ResourceNotFoundException", message: "Secrets Manager can't find \"x\".")
                == #"{"__type": "ResourceNotFoundException", "Message": "Secrets Manager can't find \"x\"."}"# + "\n")
    }

    @Test func serviceErrorsExit254WithJSON() {
        let (text, status) = CLIOutput.failure(
            .service(name: "AccessDeniedException", message: "No."), socketPath: "/s")
        #expect(status == 254)
        #expect(text == #"{"__type": "AccessDeniedException", "Message": "No."}"# + "\n")
    }

    @Test(arguments: [
        CofferClientError.socketNotFound(path: "/tmp/x.sock"), .connectionRefused(path: "/tmp/x.sock"),
    ])
    func unreachableDaemonExit255NamingTheSocketAndHowToStartIt(error: CofferClientError) {
        let (text, status) = CLIOutput.failure(error, socketPath: "/tmp/x.sock")
        #expect(status == 255)
        #expect(text.contains("/tmp/x.sock"))
        #expect(text.contains("make run"))
        #expect(text.contains("COFFER_SOCKET"))
    }

    @Test func otherTransportFailuresExit255() {
        #expect(CLIOutput.failure(.permissionDenied(path: "/p"), socketPath: "/p").status == 255)
        #expect(CLIOutput.failure(.connectionClosed, socketPath: "/p").text.contains("closed the connection"))
        #expect(CLIOutput.failure(.timedOut(milliseconds: 60_000), socketPath: "/p").text.contains("60 s"))
        #expect(CLIExit.status(for: .malformedReply("x")) == 255)
        #expect(CLIExit.usage == 252)
    }

    @Test func tableAlignsColumnsAndDoesNotPadTheLast() {
        let text = CLIOutput.table(
            header: ["NAME", "LAST CHANGED", "DESCRIPTION"],
            rows: [["app/db-password", "2026-11-29T14:13:41Z", "Orders"], ["x", "-", ""]])
        #expect(
            text == """
                NAME             LAST CHANGED          DESCRIPTION
                app/db-password  2026-11-29T14:13:41Z  Orders
                x                -

                """)
    }

    @Test func secretsTableFromListEntries() throws {
        let entry: Document = [
            "ARN": "arn:coffer:secretsmanager:local:123456789012:secret:b-AbCdEf", "Name": "b",
            "Description": "line one\nline two",
            "LastChangedDate": .timestamp(Timestamp(milliseconds: 1_795_961_621_123)),
            "DeletedDate": .timestamp(Timestamp(milliseconds: 1_795_961_700_000)),
        ]
        let secrets = try SecretListPage(document: ["SecretList": .list([.map(entry)])]).secrets
        #expect(
            CLIOutput.secretsTable(secrets, showDeletion: false) == """
                NAME  LAST CHANGED          DESCRIPTION
                b     2026-11-29T14:13:41Z  line one line two

                """)
        #expect(CLIOutput.secretsTable(secrets, showDeletion: true).contains("DELETED ON"))
        #expect(CLIOutput.secretsTable(secrets, showDeletion: true).contains("2026-11-29T14:15:00Z"))
    }

    @Test func versionsTable() throws {
        let page: Document = [
            "ARN": "a", "Name": "n",
            "Versions": .list([
                .map([
                    "VersionId": "v2", "VersionStages": ["AWSCURRENT", "AWSPENDING"],
                    "CreatedDate": .timestamp(Timestamp(milliseconds: 1_795_961_621_123)),
                    "LastAccessedDate": .timestamp(Timestamp(milliseconds: 1_795_910_400_000)),
                ]),
                .map(["VersionId": "v1", "CreatedDate": .timestamp(Timestamp(milliseconds: 1_795_961_000_000))]),
            ]),
        ]
        let versions = try SecretVersionsPage(document: page).versions
        #expect(
            CLIOutput.versionsTable(versions) == """
                VERSION ID  STAGES                 CREATED               LAST ACCESSED
                v2          AWSCURRENT,AWSPENDING  2026-11-29T14:13:41Z  2026-11-29
                v1          (deprecated)           2026-11-29T14:03:20Z

                """)
    }

    @Test func mergedPagesKeepOrder() {
        let pages: [Document] = [
            ["SecretList": .list([.map(["Name": "a"])]), "NextToken": "t"],
            ["SecretList": .list([.map(["Name": "b"]), .map(["Name": "c"])])],
        ]
        let merged = CLIOutput.mergedList(pages, member: "SecretList")
        #expect(merged.keys == ["SecretList"])
        #expect(merged["SecretList"]?.listValue?.compactMap { $0.mapValue?["Name"]?.stringValue } == ["a", "b", "c"])
    }
}
