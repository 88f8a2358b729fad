import CofferCore
import CofferProtocol
import CofferSystem
import Glibc
import Testing

/// The real `coffer` binary against the real daemon over its real socket: every friendly command, `call` for every
/// Secrets Manager operation, input from stdin and files, binary values, error JSON and exit statuses.
@Suite(.serialized) struct CLITests {
    // MARK: Helpers

    /// Runs the CLI; requires success unless `status` says otherwise.
    @discardableResult
    func run(
        _ d: Daemon, _ arguments: [String], stdin: [UInt8] = [], status: Int32 = 0,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ProcessResult {
        let result = try d.cli(arguments, stdin: stdin)
        #expect(
            result.status == status, "coffer \(arguments.joined(separator: " ")): \(result.stderrText)",
            sourceLocation: sourceLocation)
        return result
    }

    /// The command's stdout parsed as JSON.
    func json(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        do {
            return try JSONValue.parse(result.stdoutText)
        } catch {
            Issue.record("not JSON: \(result.stdoutText)", sourceLocation: sourceLocation)
            throw error
        }
    }

    /// Requires an error reply printed as AWS does: `{"__type": name, "Message": ...}` on stderr, exit 254.
    func expectServiceError(
        _ result: ProcessResult, _ name: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status == 254, "\(result.stderrText)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
        let error = try? JSONValue.parse(result.stderrText)
        #expect(error?["__type"]?.stringValue == name, "\(result.stderrText)", sourceLocation: sourceLocation)
        #expect(error?["Message"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
        #expect(result.stderrText.hasPrefix(#"{"__type": ""#), sourceLocation: sourceLocation)
    }

    func temporaryFile(_ d: Daemon, _ name: String, _ bytes: [UInt8]) throws -> String {
        let path = d.root + "/" + name
        try SafeFile.atomicReplace(path: path, mode: 0o600, contents: bytes)
        return path
    }

    // MARK: get / put / create

    @Test func createGetPutAndEarlierVersions() throws {
        let d = try Daemon()
        let created = try json(
            try run(
                d, ["create", "app/db", "--description", "Orders DB", "--tag", "env=prod"], stdin: Array("v1".utf8)))
        #expect(created["Name"]?.stringValue == "app/db")
        #expect(created["ARN"]?.stringValue?.hasPrefix("arn:coffer:secretsmanager:") == true)
        #expect(created["VersionId"]?.stringValue?.count == 36)

        // The value exactly as stored: no newline added.
        #expect(try run(d, ["get", "app/db"]).stdout == Array("v1".utf8))

        // A new version from a file; the old one becomes AWSPREVIOUS.
        let file = try temporaryFile(d, "v2.txt", Array("v2\n".utf8))
        let put = try json(try run(d, ["put", "app/db", "--file", file]))
        #expect(put["VersionStages"]?.arrayValue?.compactMap(\.stringValue) == ["AWSCURRENT"])
        #expect(try run(d, ["get", "app/db"]).stdout == Array("v2\n".utf8))
        #expect(try run(d, ["get", "app/db", "--version-stage", "AWSPREVIOUS"]).stdout == Array("v1".utf8))
        let createdVersion = created["VersionId"]?.stringValue ?? ""
        #expect(try run(d, ["get", "app/db", "--version-id", createdVersion]).stdout == Array("v1".utf8))

        // --trim-newline drops the newline echo adds; --value takes the value from argv.
        try run(d, ["put", "app/db", "--trim-newline"], stdin: Array("v3\n".utf8))
        #expect(try run(d, ["get", "app/db"]).stdout == Array("v3".utf8))
        try run(d, ["put", "app/db", "--value", "v4", "--version-stage", "AWSCURRENT", "--version-stage", "blue"])
        #expect(try run(d, ["get", "app/db", "--version-stage", "blue"]).stdout == Array("v4".utf8))

        // Global options before the subcommand, and the socket from the environment.
        let global = try Subprocess.run([Daemon.coffer, "--socket", d.socketPath, "get", "app/db"])
        #expect(global.stdout == Array("v4".utf8))
        let after = try Subprocess.run([Daemon.coffer, "get", "app/db", "--socket", d.socketPath])
        #expect(after.stdout == Array("v4".utf8))
        let fromEnvironment = try Subprocess.run(
            [Daemon.coffer, "get", "app/db"], environment: ["COFFER_SOCKET": d.socketPath])
        #expect(fromEnvironment.status == 0)
        #expect(fromEnvironment.stdout == Array("v4".utf8))
    }

    @Test func binaryValuesRoundTripByteForByte() throws {
        let d = try Daemon()
        let bytes = (0...255).map { UInt8($0) } + [0, 0, 0xFF]
        try run(d, ["create", "tls/key", "--binary"], stdin: bytes)
        #expect(try run(d, ["get", "tls/key"]).stdout == bytes)
        // `call` shows it as base64, as the AWS CLI does.
        let response = try json(try run(d, ["call", "GetSecretValue", #"{"SecretId": "tls/key"}"#]))
        #expect(response["SecretBinary"]?.stringValue == Base64.encode(bytes))
        #expect(response["SecretString"] == nil)
        // From a file, and through `call` with base64 input.
        let file = try temporaryFile(d, "key.der", [9, 8, 7, 0])
        try run(d, ["put", "tls/key", "--binary", "--file", file])
        #expect(try run(d, ["get", "tls/key"]).stdout == [9, 8, 7, 0])
        try run(d, ["call", "PutSecretValue", #"{"SecretId": "tls/key", "SecretBinary": "AAEC"}"#])
        #expect(try run(d, ["get", "tls/key"]).stdout == [0, 1, 2])
        // Bytes that are not UTF-8 cannot be a SecretString.
        let refused = try run(d, ["put", "tls/key"], stdin: [0xFF, 0xFE], status: 252)
        #expect(refused.stderrText.contains("--binary"))
    }

    @Test func unicodeTextIsStoredAsUTF8() throws {
        let d = try Daemon()
        let text = "pässwörd 🔑 \u{0}end"
        try run(d, ["create", "u", "--value", "x"])
        try run(d, ["put", "u"], stdin: Array(text.utf8))
        #expect(try run(d, ["get", "u"]).stdout == Array(text.utf8))
        let response = try json(try run(d, ["call", "GetSecretValue", #"{"SecretId": "u"}"#]))
        #expect(response["SecretString"]?.stringValue == text)
    }

    @Test func putNeedsAnExistingSecretUnlessCreateIsGiven() throws {
        let d = try Daemon()
        expectServiceError(try run(d, ["put", "nope", "--value", "x"], status: 254), "ResourceNotFoundException")
        let created = try json(try run(d, ["put", "nope", "--value", "x", "--create"]))
        #expect(created["Name"]?.stringValue == "nope")
        #expect(try run(d, ["get", "nope"]).stdout == Array("x".utf8))
        // --create on an existing secret is an ordinary put.
        let put = try json(try run(d, ["put", "nope", "--value", "y", "--create"]))
        #expect(put["VersionStages"] != nil)
        #expect(try run(d, ["get", "nope", "--version-stage", "AWSPREVIOUS"]).stdout == Array("x".utf8))
    }

    @Test func createWithoutAValue() throws {
        let d = try Daemon()
        let created = try json(try run(d, ["create", "later"]))  // empty stdin: no value
        #expect(created["VersionId"] == nil)
        expectServiceError(try run(d, ["get", "later"], status: 254), "ResourceNotFoundException")
        let explicit = try json(try run(d, ["create", "later2", "--no-value"], stdin: Array("ignored".utf8)))
        #expect(explicit["VersionId"] == nil)
        expectServiceError(try run(d, ["create", "later"], status: 254), "ResourceExistsException")
        let both = try run(d, ["create", "x", "--value", "a", "--file", "/dev/null"], status: 252)
        #expect(both.stderrText.contains("not both"))
    }

    @Test func oversizedValuesAreRefusedBeforeSending() throws {
        let d = try Daemon()
        try run(d, ["create", "big", "--value", "x"])
        let refused = try run(d, ["put", "big"], stdin: [UInt8](repeating: 65, count: 65_537), status: 252)
        #expect(refused.stderrText.contains("65536"))
        // Exactly the limit is fine.
        try run(d, ["put", "big"], stdin: [UInt8](repeating: 65, count: 65_536))
        #expect(try run(d, ["get", "big"]).stdout.count == 65_536)
    }

    // MARK: describe / ls / versions

    @Test func describePrintsAWSShapedJSON() throws {
        let d = try Daemon()
        try run(d, ["create", "app/db", "--value", "v", "--description", "Orders DB", "--tag", "env=prod"])
        let result = try run(d, ["describe", "app/db"])
        let description = try json(result)
        #expect(description["Description"]?.stringValue == "Orders DB")
        #expect(description["Tags"]?.arrayValue?.first?["Key"]?.stringValue == "env")
        #expect(description["VersionIdsToStages"]?.objectValue?.first?.1.arrayValue?.first?.stringValue == "AWSCURRENT")
        let created = description["CreatedDate"]?.stringValue ?? ""
        #expect(created.hasSuffix("000+00:00"))  // 2026-11-29T14:13:41.123000+00:00, as AWS CLI v2 prints
        #expect(created.count == "2026-11-29T14:13:41.123000+00:00".count)
        #expect(result.stdoutText.hasPrefix("{\n    \"ARN\": "))  // 4-space indentation
        #expect(!result.stdoutText.contains("SecretString"))
    }

    @Test func lsPaginatesFiltersAndPrintsATable() throws {
        let d = try Daemon()
        let c = try d.connect()
        for index in 0..<105 {
            _ = try c.call(.createSecret, ["Name": .string("bulk/\(index)"), "SecretString": "v"])
        }
        _ = try c.call(.createSecret, ["Name": "app/db", "SecretString": "v", "Description": "Orders\nDB"])
        _ = try c.call(
            .createSecret,
            ["Name": "app/cache", "SecretString": "v", "Tags": .list([.map(["Key": "team", "Value": "web"])])])

        let table = try run(d, ["ls"]).stdoutText.split(separator: "\n").map(String.init)
        #expect(table.first?.hasPrefix("NAME") == true)
        #expect(table.first?.contains("LAST CHANGED") == true)
        #expect(table.count == 1 + 107)  // every page
        let appLine = table.first { $0.hasPrefix("app/db ") } ?? ""
        #expect(appLine.hasSuffix("Orders DB"))  // the newline shown as a space
        // Columns line up: the date starts at the same offset on every line.
        let header = Array(table.first ?? "")
        let dateColumn = (0..<header.count).first { String(header[$0...]).hasPrefix("LAST CHANGED") } ?? 0
        #expect(dateColumn > 0)
        #expect(String(Array(appLine)[dateColumn...]).hasPrefix("20"))

        let listed = try json(try run(d, ["ls", "--json"]))
        #expect(listed["SecretList"]?.arrayValue?.count == 107)
        #expect(listed["NextToken"] == nil)

        let filtered = try json(try run(d, ["ls", "--json", "--filter", "name=app/"]))
        #expect(
            Set(filtered["SecretList"]?.arrayValue?.compactMap { $0["Name"]?.stringValue } ?? [])
                == ["app/db", "app/cache"])
        let both = try json(try run(d, ["ls", "--json", "--filter", "name=app/", "--filter", "tag-key=team"]))
        #expect(both["SecretList"]?.arrayValue?.compactMap { $0["Name"]?.stringValue } == ["app/cache"])
        let either = try json(try run(d, ["ls", "--json", "--filter", "name=app/db,bulk/7"]))
        #expect(either["SecretList"]?.arrayValue?.count == 1 + 11)  // app/db, bulk/7, bulk/70…79
        let sorted = try run(d, ["ls", "--filter", "name=app/", "--sort-by", "name", "--sort-order", "asc"])
        #expect(
            sorted.stdoutText.split(separator: "\n").dropFirst().map { $0.split(separator: " ").first } == [
                "app/cache", "app/db",
            ])
        try run(d, ["ls", "--filter", "nokey"], status: 252)
    }

    @Test func versionsTableAndJSON() throws {
        let d = try Daemon()
        try run(d, ["create", "s", "--value", "1"])
        try run(d, ["put", "s", "--value", "2"])
        try run(d, ["put", "s", "--value", "3"])
        let table = try run(d, ["versions", "s"]).stdoutText.split(separator: "\n").map(String.init)
        #expect(table.first?.hasPrefix("VERSION ID") == true)
        #expect(table.count == 3)  // header, AWSCURRENT, AWSPREVIOUS; the first version is deprecated
        #expect(table.contains { $0.contains("AWSCURRENT") })
        #expect(table.contains { $0.contains("AWSPREVIOUS") })
        let all = try run(d, ["versions", "s", "--include-deprecated"]).stdoutText
        #expect(all.contains("(deprecated)"))
        let listed = try json(try run(d, ["versions", "s", "--json", "--include-deprecated"]))
        #expect(listed["Name"]?.stringValue == "s")
        #expect(listed["Versions"]?.arrayValue?.count == 3)
        expectServiceError(try run(d, ["versions", "missing"], status: 254), "ResourceNotFoundException")
    }

    // MARK: rm / restore / tag / untag / password

    @Test func removeAndRestore() throws {
        let d = try Daemon()
        try run(d, ["create", "old", "--value", "v"])
        let removed = try json(try run(d, ["rm", "old", "--recovery-window-in-days", "7"]))
        #expect(removed["DeletionDate"]?.stringValue?.hasSuffix("+00:00") == true)
        expectServiceError(try run(d, ["get", "old"], status: 254), "InvalidRequestException")
        #expect(!(try run(d, ["ls"]).stdoutText.contains("old")))
        let withDeleted = try run(d, ["ls", "--all"]).stdoutText
        #expect(withDeleted.contains("DELETED ON"))
        #expect(withDeleted.contains("old"))
        let restored = try json(try run(d, ["restore", "old"]))
        #expect(restored["Name"]?.stringValue == "old")
        #expect(try run(d, ["get", "old"]).stdout == Array("v".utf8))
        try run(d, ["rm", "old", "--force"])
        expectServiceError(try run(d, ["describe", "old"], status: 254), "ResourceNotFoundException")
        let conflict = try run(d, ["rm", "old", "--force", "--recovery-window-in-days", "7"], status: 252)
        #expect(conflict.stderrText.contains("cannot be used together"))
        expectServiceError(
            try run(d, ["rm", "x", "--recovery-window-in-days", "3"], status: 254), "InvalidParameterException")
    }

    @Test func tagAndUntag() throws {
        let d = try Daemon()
        try run(d, ["create", "t", "--value", "v"])
        let tagged = try run(d, ["tag", "t", "env=prod", "team=web", "empty="])
        #expect(tagged.stdout.isEmpty)  // an empty response prints nothing
        let tags = try json(try run(d, ["describe", "t"]))["Tags"]?.arrayValue ?? []
        #expect(Set(tags.compactMap { $0["Key"]?.stringValue }) == ["env", "team", "empty"])
        try run(d, ["untag", "t", "team", "absent"])
        let after = try json(try run(d, ["describe", "t"]))["Tags"]?.arrayValue ?? []
        #expect(Set(after.compactMap { $0["Key"]?.stringValue }) == ["env", "empty"])
        try run(d, ["tag", "t", "novalue"], status: 252)
        try run(d, ["tag", "t"], status: 252)
        try run(d, ["untag", "t"], status: 252)
    }

    @Test func passwordPrintsOnlyThePasswordToAPipe() throws {
        let d = try Daemon()
        let password = try run(d, ["password", "--length", "24", "--exclude-punctuation"]).stdoutText
        #expect(password.count == 24)
        #expect(password.allSatisfy { $0.isLetter || $0.isNumber })
        let digits = try run(
            d, ["password", "--length", "10", "--exclude-lowercase", "--exclude-uppercase", "--exclude-punctuation"])
        #expect(digits.stdoutText.allSatisfy { $0.isNumber })
        let spaced = try run(d, ["password", "--length", "40", "--include-space", "--exclude-characters", "abc"])
        #expect(!spaced.stdoutText.contains("a"))
        expectServiceError(try run(d, ["password", "--length", "5000"], status: 254), "ValidationException")
        // Piped into put, the password becomes the value unchanged.
        try run(d, ["create", "p", "--value", "x"])
        try run(d, ["put", "p"], stdin: Array(password.utf8))
        #expect(try run(d, ["get", "p"]).stdoutText == password)
    }

    // MARK: call

    @Test func callServesEverySecretsManagerOperation() throws {
        let d = try Daemon()
        func call(_ operation: String, _ request: String, status: Int32 = 0) throws -> ProcessResult {
            try run(d, ["call", operation, request], status: status)
        }
        let created = try json(
            try call("CreateSecret", #"{"Name": "c", "SecretString": "one", "Tags": [{"Key": "k", "Value": "v"}]}"#))
        let firstVersion = created["VersionId"]?.stringValue ?? ""
        #expect(try json(try call("GetSecretValue", #"{"SecretId": "c"}"#))["SecretString"]?.stringValue == "one")
        let put = try json(try call("PutSecretValue", #"{"SecretId": "c", "SecretString": "two"}"#))
        let secondVersion = put["VersionId"]?.stringValue ?? ""
        #expect(
            try json(try call("UpdateSecret", #"{"SecretId": "c", "Description": "d"}"#))["Name"]?.stringValue == "c")
        _ = try call(
            "UpdateSecretVersionStage",
            #"{"SecretId": "c", "VersionStage": "AWSCURRENT", "MoveToVersionId": "\#(firstVersion)", "RemoveFromVersionId": "\#(secondVersion)"}"#
        )
        #expect(try run(d, ["get", "c"]).stdoutText == "one")
        #expect(try json(try call("DescribeSecret", #"{"SecretId": "c"}"#))["Description"]?.stringValue == "d")
        #expect(try json(try call("ListSecrets", #"{"MaxResults": 1}"#))["SecretList"]?.arrayValue?.count == 1)
        #expect(try json(try call("ListSecretVersionIds", #"{"SecretId": "c"}"#))["Versions"]?.arrayValue?.count == 2)
        #expect(try call("TagResource", #"{"SecretId": "c", "Tags": [{"Key": "a", "Value": "b"}]}"#).stdout.isEmpty)
        #expect(try call("UntagResource", #"{"SecretId": "c", "TagKeys": ["a"]}"#).stdout.isEmpty)
        let password = try json(try call("GetRandomPassword", #"{"PasswordLength": 20}"#))
        #expect(password["RandomPassword"]?.stringValue?.count == 20)
        let batch = try json(try call("BatchGetSecretValue", #"{"SecretIdList": ["c", "missing"]}"#))
        #expect(batch["SecretValues"]?.arrayValue?.first?["SecretString"]?.stringValue == "one")
        #expect(batch["Errors"]?.arrayValue?.first?["ErrorCode"]?.stringValue == "ResourceNotFoundException")
        let policy =
            #"{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Deny\", \"Principal\": {\"AWS\": \"arn:coffer:iam::123456789012:root\"}, \"Action\": \"secretsmanager:DeleteSecret\", \"Resource\": \"*\"}]}"#
        let validation = try json(try call("ValidateResourcePolicy", #"{"ResourcePolicy": "\#(policy)"}"#))
        #expect(validation["PolicyValidationPassed"] != nil)
        _ = try call("PutResourcePolicy", #"{"SecretId": "c", "ResourcePolicy": "\#(policy)"}"#)
        #expect(
            try json(try call("GetResourcePolicy", #"{"SecretId": "c"}"#))["ResourcePolicy"]?.stringValue?.contains(
                "Deny") == true)
        _ = try call("DeleteResourcePolicy", #"{"SecretId": "c"}"#)
        #expect(try json(try call("GetResourcePolicy", #"{"SecretId": "c"}"#))["ResourcePolicy"] == nil)
        // No rotation hook is configured here: AWS's answer for that.
        expectServiceError(try call("RotateSecret", #"{"SecretId": "c"}"#, status: 254), "InvalidRequestException")
        expectServiceError(
            try call("CancelRotateSecret", #"{"SecretId": "c"}"#, status: 254), "InvalidRequestException")
        let deleted = try json(try call("DeleteSecret", #"{"SecretId": "c", "RecoveryWindowInDays": 7}"#))
        #expect(deleted["DeletionDate"] != nil)
        #expect(try json(try call("RestoreSecret", #"{"SecretId": "c"}"#))["Name"]?.stringValue == "c")
        let hello = try json(try call("Hello", "{}"))
        #expect(hello["ProtocolVersion"]?.int64Value == 1)
    }

    @Test func callReadsJSONFromStdin() throws {
        let d = try Daemon()
        try run(d, ["call", "CreateSecret", "-"], stdin: Array(#"{"Name": "s", "SecretString": "from stdin"}"#.utf8))
        let response = try json(try run(d, ["call", "GetSecretValue"], stdin: Array(#"{"SecretId": "s"}"#.utf8)))
        #expect(response["SecretString"]?.stringValue == "from stdin")
        // The operation name is matched case-insensitively, as in `coffer call getsecretvalue`.
        #expect(try run(d, ["call", "getsecretvalue", #"{"SecretId": "s"}"#]).status == 0)
    }

    @Test func callErrorsAndExitStatuses() throws {
        let d = try Daemon()
        // The daemon's answer: AWS's error JSON on stderr, 254.
        let missing = try run(d, ["call", "GetSecretValue", #"{"SecretId": "nope"}"#], status: 254)
        expectServiceError(missing, "ResourceNotFoundException")
        #expect(
            missing.stderrText
                == #"{"__type": "ResourceNotFoundException", "Message": "Secrets Manager can't find the specified secret."}"#
                + "\n")
        expectServiceError(
            try run(d, ["call", "GetSecretValue", #"{"Bogus": 1}"#], status: 254), "ValidationException")
        // Usage errors: 252, nothing sent.
        #expect(try run(d, ["call", "NoSuchOperation", "{}"], status: 252).stderrText.contains("Unknown operation"))
        #expect(
            try run(d, ["call", "GetSecretValue", "{oops"], status: 252).stderrText.contains("Invalid request JSON"))
        try run(d, ["call", "GetSecretValue", #"{"SecretId": null}"#], status: 252)
        try run(d, ["get"], status: 252)
        try run(d, ["get", "a", "b"], status: 252)
        try run(d, ["frobnicate"], status: 252)
        try run(d, ["rm", "x", "--recovery-window-in-days", "seven"], status: 252)
    }

    @Test func unreachableDaemonExits255WithAHint() throws {
        let d = try Daemon()
        let path = d.root + "/run/none.sock"
        for arguments in [["get", "x"], ["ls"], ["call", "ListSecrets", "{}"], ["put", "x", "--value", "v"]] {
            let result = try Subprocess.run([Daemon.coffer, "--socket", path] + arguments)
            #expect(result.status == 255, "\(arguments)")
            #expect(result.stderrText.contains(path))
            #expect(result.stderrText.contains("make run"))
            #expect(result.stdout.isEmpty)
        }
        // A stopped daemon: its socket is gone.
        d.stop()
        let stopped = try Subprocess.run([Daemon.coffer, "--socket", d.socketPath, "get", "x"])
        #expect(stopped.status == 255)
        #expect(stopped.stderrText.contains(d.socketPath))
    }

    @Test func adminOperationsGoToTheAdminSocket() throws {
        let d = try Daemon()
        let status = try json(try run(d, ["call", "Status", "{}"]))  // COFFER_ADMIN_SOCKET from the harness
        #expect(status["Sealed"]?.boolValue == false)
        let wrongAdmin = d.root + "/run/other-admin.sock"
        let refused = try Subprocess.run([Daemon.coffer, "--admin-socket", wrongAdmin, "call", "Status", "{}"])
        #expect(refused.status == 255)
        #expect(refused.stderrText.contains(wrongAdmin))
        // A Secrets Manager operation still goes to the client socket when only the admin socket is wrong.
        try run(d, ["create", "s", "--value", "v"])
        let client = try Subprocess.run(
            [Daemon.coffer, "--socket", d.socketPath, "--admin-socket", wrongAdmin, "get", "s"])
        #expect(client.stdout == Array("v".utf8))
    }

    @Test func helpTeachesAndCompletionsGenerate() throws {
        let d = try Daemon()
        let help = try run(d, ["--help"])
        #expect(help.stdoutText.contains("Examples:"))
        #expect(help.stdoutText.contains("make run"))
        for command in [
            "get", "put", "create", "describe", "ls", "versions", "rm", "restore", "tag", "untag", "password", "call",
        ] {
            let page = try run(d, [command, "--help"])
            #expect(page.stdoutText.contains("USAGE: coffer \(command)"), "\(command)")
        }
        #expect(try run(d, ["put", "--help"]).stdoutText.contains("--create"))
        let bash = try run(d, ["--generate-completion-script", "bash"])
        #expect(bash.stdoutText.contains("_coffer"))
        #expect(bash.stdoutText.contains("versions"))
        let zsh = try run(d, ["--generate-completion-script", "zsh"])
        #expect(zsh.stdoutText.contains("#compdef coffer"))
        #expect(try run(d, ["--version"]).stdoutText.hasPrefix("0."))
    }
}
