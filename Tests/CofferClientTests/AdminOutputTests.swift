import CofferCore
import CofferProtocol
import Testing

@testable import CofferClient

/// What `coffer admin` prints and the requests it builds from its options.
@Suite struct AdminOutputTests {
    static let status: Document = [
        "Sealed": false, "VaultId": "7cee97e6-3ed3-4fc6-9e63-fe4c988b6194", "AccountId": "123456789012",
        "Region": "local", "Partition": "coffer", "Secrets": 1_203, "Versions": 3_590, "KeySource": "file",
        "DatabaseBytes": 12_901_376, "KeyId": 2, "Rotation": .map(["Running": true, "Rewrapped": 1_024]),
        "Version": "0.1.0", "UptimeSeconds": 11_525, "Connections": 3, "Requests": 12_840, "AuditRecords": 12_841,
        "AuditHead": "3f2a", "AuditWriteFailures": 0, "SomethingNew": "shown too",
    ]

    @Test func statusIsAlignedHumanText() {
        let expected = """
            Sealed:          no
            Version:         0.1.0
            Uptime:          3h 12m 5s
            Vault:           7cee97e6-3ed3-4fc6-9e63-fe4c988b6194
            Account:         123456789012 (coffer, local)
            Secrets:         1203
            Versions:        3590
            Database:        12.3 MiB (12901376 bytes)
            Key source:      file
            Master key:      id 2
            Rotation:        running, 1024 of ~3590 data keys rewrapped (28%)
            Connections:     3
            Requests:        12840
            Audit records:   12841
            Audit head:      3f2a
            Audit failures:  0
            SomethingNew:    shown too

            """
        #expect(AdminOutput.statusText(Self.status) == expected)
    }

    @Test func aSealedStatusSaysSoAndHasNoKey() {
        let text = AdminOutput.statusText([
            "Sealed": true, "KeySource": "passphrase", "RotationError": "sealed\nmidway", "AuditWriteFailures": 2,
        ])
        #expect(text.contains("Sealed:          yes\n"))
        #expect(text.contains("Master key:      - (sealed)\n"))
        #expect(text.contains("Rotation error:  sealed midway\n"))
        #expect(text.contains("Audit failures:  2 (writes failed: see the log)\n"))
        #expect(!text.contains("Rotation:"))
    }

    static let sizeCases: [(Int64, String)] = [
        (0, "0 B"), (1_023, "1023 B"), (1_024, "1.0 KiB (1024 bytes)"), (1_536, "1.5 KiB (1536 bytes)"),
        (10_485_760, "10.0 MiB (10485760 bytes)"), (1 << 40, "1.0 TiB (1099511627776 bytes)"),
    ]

    @Test(arguments: sizeCases)
    func sizes(bytes: Int64, text: String) {
        #expect(AdminOutput.bytes(bytes) == text)
    }

    static let durationCases: [(Int64, String)] = [
        (0, "0s"), (59, "59s"), (60, "1m 0s"), (3_599, "59m 59s"), (3_600, "1h 0m 0s"), (90_061, "1d 1h 1m"),
        (-5, "0s"),
    ]

    @Test(arguments: durationCases)
    func durations(seconds: Int64, text: String) {
        #expect(AdminOutput.duration(seconds: seconds) == text)
    }

    @Test func verifyNamesTheFirstBadLine() {
        #expect(
            AdminOutput.verifyText(["Valid": true, "Records": 12, "Head": "ab"])
                == "Valid:    yes\nRecords:  12\nHead:     ab\n")
        let bad = AdminOutput.verifyText([
            "Valid": false, "Records": 12, "FirstBadLine": 7, "FirstBadSequence": 6, "Reason": "hash mismatch",
            "Head": "ab",
        ])
        #expect(bad.contains("Valid:           no\n"))
        #expect(bad.contains("First bad line:  7 (sequence 6)\n"))
        #expect(bad.contains("Reason:          hash mismatch\n"))
    }

    @Test func auditRecordsAsATable() {
        let records = [
            #"{"seq":1,"time":"2026-11-29T14:13:41.123000+00:00","socket":"client","operation":"GetSecretValue","principal":{"uid":1000,"gid":1000,"pid":9,"user":"alice","groups":[]},"resource":"arn:coffer:secretsmanager:local:123456789012:secret:app/db-AbCdEf","decision":"allowed","prev":"0","hash":"1"}"#,
            #"{"seq":2,"time":"2026-11-29T14:13:42.000000+00:00","socket":"client","operation":"GetSecretValue","principal":{"uid":1001,"gid":1001,"pid":9,"groups":[],"unit":"app.service"},"resource":"prod/x","decision":"implicitDeny","error":"AccessDeniedException","prev":"1","hash":"2"}"#,
            "not json",
        ]
        let expected = """
            TIME                  PRINCIPAL               OPERATION       RESOURCE       DECISION      ERROR
            2026-11-29T14:13:41Z  alice                   GetSecretValue  app/db-AbCdEf  allowed
            2026-11-29T14:13:42Z  uid:1001 (app.service)  GetSecretValue  prod/x         implicitDeny  AccessDeniedException
            (unreadable record)

            """
        #expect(AdminOutput.auditTable(records) == expected)
    }

    @Test func auditQueryOptionsBecomeTheRequest() throws {
        let request = try AdminOutput.auditQuery(
            principal: "alice", secret: "prod/db", decision: "implicitdeny", operation: "getsecretvalue",
            since: "2026-11-01", until: "2026-11-29T14:00:00Z", limit: 50)
        #expect(request["Principal"]?.stringValue == "alice")
        #expect(request["Secret"]?.stringValue == "prod/db")
        #expect(request["Decision"]?.stringValue == "implicitDeny")
        #expect(request["Operation"]?.stringValue == "GetSecretValue")
        #expect(request["Since"]?.timestampValue == Timestamp(parsing: "2026-11-01T00:00:00Z"))
        #expect(request["Until"]?.timestampValue?.iso8601Seconds == "2026-11-29T14:00:00Z")
        #expect(request["Limit"]?.intValue == 50)
        #expect(try AdminOutput.auditQuery().isEmpty)
    }

    @Test func badQueryOptionsAreUsageErrors() {
        let badQueries: [(String, () throws(UsageError) -> Document)] = [
            ("decision", { () throws(UsageError) in try AdminOutput.auditQuery(decision: "denied") }),
            ("operation", { () throws(UsageError) in try AdminOutput.auditQuery(operation: "GetSecret") }),
            ("since", { () throws(UsageError) in try AdminOutput.auditQuery(since: "yesterday") }),
            ("until", { () throws(UsageError) in try AdminOutput.auditQuery(until: "2026-13-01") }),
            ("limit 0", { () throws(UsageError) in try AdminOutput.auditQuery(limit: 0) }),
            ("limit", { () throws(UsageError) in try AdminOutput.auditQuery(limit: 10_001) }),
        ]
        for (name, build) in badQueries {
            #expect(throws: UsageError.self, "\(name)") { try build() }
        }
    }

    @Test func systemdCredsCommandForTheDefaultsAndForOtherPaths() throws {
        let text = try AdminOutput.systemdCredsCommand(
            credential: "coffer.master-key", keyFile: "/var/lib/coffer/master.key")
        #expect(
            text.contains(
                "\nsystemd-creds encrypt --name=coffer.master-key /var/lib/coffer/master.key "
                    + "/etc/credstore.encrypted/coffer.master-key\n"))
        #expect(text.contains("LoadCredentialEncrypted=coffer.master-key"))
        #expect(text.contains(#""masterKey": {"source": "systemd-credential"}"#))
        let other = try AdminOutput.systemdCredsCommand(credential: "vault.key", keyFile: "/srv/my keys/it's.key")
        #expect(
            other.contains(
                #"systemd-creds encrypt --name=vault.key '/srv/my keys/it'\''s.key' /etc/credstore.encrypted/vault.key"#
            ))
        #expect(other.contains(#""credential": "vault.key""#))
        #expect(throws: UsageError.self) { try AdminOutput.systemdCredsCommand(credential: "a/b", keyFile: "/k") }
        #expect(throws: UsageError.self) { try AdminOutput.systemdCredsCommand(credential: "", keyFile: "/k") }
    }

    @Test func shellQuoting() {
        #expect(AdminOutput.shellQuoted("/var/lib/coffer/master.key") == "/var/lib/coffer/master.key")
        #expect(AdminOutput.shellQuoted("") == "''")
        #expect(AdminOutput.shellQuoted("a b") == "'a b'")
        #expect(AdminOutput.shellQuoted("$(rm -rf /)") == "'$(rm -rf /)'")
        #expect(AdminOutput.shellQuoted("it's") == #"'it'\''s'"#)
    }

    @Test func adminConnectionErrorsNameTheAdminSocket() {
        let denied = CLIOutput.failure(
            .permissionDenied(path: "/run/coffer/admin.sock"), socketPath: "/x", role: .admin)
        #expect(denied.status == 255)
        #expect(denied.text.contains("admin socket at /run/coffer/admin.sock: permission denied"))
        #expect(denied.text.contains("adminSocketGroup"))
        let missing = CLIOutput.failure(.socketNotFound(path: "/a.sock"), socketPath: "/a.sock", role: .admin)
        #expect(missing.text.contains("COFFER_ADMIN_SOCKET"))
        let client = CLIOutput.failure(.permissionDenied(path: "/c.sock"), socketPath: "/c.sock")
        #expect(!client.text.contains("adminSocketGroup"))
    }
}
