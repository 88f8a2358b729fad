import CofferCore
import CofferCrypto
import CofferProtocol
import CofferSystem
import Glibc
import Testing

/// `coffer admin …` through the real binary against the real daemon: status, seal/unseal, rotation, backup and
/// restore, the audit log, reload, metrics, import, and who may use the admin socket.
@Suite(.serialized) struct AdminCLITests {
    /// Runs the CLI; requires `status`.
    @discardableResult
    func run(
        _ d: Daemon, _ arguments: [String], stdin: [UInt8] = [], status: Int32 = 0,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ProcessResult {
        let result = try d.cli(arguments, stdin: stdin)
        #expect(
            result.status == status,
            "coffer \(arguments.joined(separator: " ")): \(result.status) \(result.stdoutText) \(result.stderrText)",
            sourceLocation: sourceLocation)
        return result
    }

    func json(_ result: ProcessResult) throws -> JSONValue { try JSONValue.parse(result.stdoutText) }

    /// A daemon whose master key is under a passphrase (the fast Argon2id parameters).
    func passphraseDaemon() throws -> Daemon {
        let d = try Daemon(start: false)
        d.extraArguments = [
            "--config",
            try d.writeConfig(#"{"masterKey": {"source": "passphrase", "passphraseStrength": "interactive"}}"#),
        ]
        try d.start()
        return d
    }

    func fileText(_ path: String) throws -> String {
        String(decoding: try SafeFile.readAll(path: path, maxBytes: 1 << 26), as: UTF8.self)
    }

    // MARK: status

    @Test func statusAsTextAndAsJSON() throws {
        let d = try Daemon()
        try run(d, ["create", "app/db"], stdin: Array("v".utf8))
        let text = try run(d, ["admin", "status"]).stdoutText
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "Sealed:          no")
        #expect(lines.contains("Secrets:         1"))
        #expect(lines.contains("Key source:      file"))
        #expect(lines.contains("Master key:      id 1"))
        #expect(lines.contains { $0.hasPrefix("Uptime:          ") && $0.hasSuffix("s") })
        #expect(lines.contains { $0.hasPrefix("Database:        ") && $0.contains("KiB") })
        // Every value starts in the same column.
        #expect(lines.allSatisfy { $0.count > 17 && $0.prefix(17).last == " " && $0.dropFirst(17).first != " " })

        let status = try json(try run(d, ["admin", "status", "--json"]))
        #expect(status["Sealed"]?.boolValue == false)
        #expect(status["Secrets"]?.int64Value == 1)
        #expect(status["KeyId"]?.int64Value == 1)
        #expect(status["KeySource"]?.stringValue == "file")
        #expect((status["AuditRecords"]?.int64Value ?? 0) >= 2)
        #expect(status["AuditHead"]?.stringValue?.count == 64)
    }

    // MARK: seal / unseal

    @Test func sealThenUnsealFromStdinOnAPassphraseVault() throws {
        let d = try passphraseDaemon()
        #expect(try run(d, ["admin", "status"]).stdoutText.hasPrefix("Sealed:          yes\n"))
        // A new vault needs --initialize; the CLI says so.
        let uninitialized = try run(d, ["admin", "unseal"], stdin: Array("pw-1\n".utf8), status: 254)
        #expect(uninitialized.stderrText.contains("InvalidRequestException"))
        #expect(uninitialized.stderrText.contains("coffer admin unseal --initialize"))
        let initialized = try run(d, ["admin", "unseal", "--initialize"], stdin: Array("pw-1\n".utf8))
        #expect(initialized.stdoutText == "Initialized and unsealed with master key id 1.\n")
        try run(d, ["create", "p"], stdin: Array("behind-a-passphrase".utf8))

        try run(d, ["admin", "seal"])
        let sealed = try run(d, ["get", "p"], status: 254)
        #expect(sealed.stderrText.contains("VaultSealedException"))
        #expect(try json(try run(d, ["admin", "status", "--json"]))["Sealed"]?.boolValue == true)

        let wrong = try run(
            d, ["admin", "unseal", "--passphrase-stdin"], stdin: Array("wrong-pass\n".utf8), status: 254)
        #expect(wrong.stderrText.contains("AccessDeniedException"))
        #expect(!wrong.stderrText.contains("wrong-pass"))
        try run(d, ["get", "p"], status: 254)

        // The trailing newline is not part of the passphrase (as for cofferd restore --passphrase-stdin).
        let unsealed = try run(d, ["admin", "unseal"], stdin: Array("pw-1\r\n".utf8))
        #expect(unsealed.stdoutText == "Unsealed with master key id 1.\n")
        #expect(try run(d, ["get", "p"]).stdout == Array("behind-a-passphrase".utf8))
        // Unsealing an unsealed vault asks for nothing and changes nothing.
        #expect(try run(d, ["admin", "unseal"]).stdoutText.contains("not sealed"))
        // An empty passphrase never reaches the daemon.
        try run(d, ["admin", "seal"])
        try run(d, ["admin", "unseal"], stdin: Array("\n".utf8), status: 252)

        #expect(!d.log.contains("pw-1"))
        #expect(!(try fileText(d.stateDirectory + "/audit.log")).contains("pw-1"))
        #expect(!(try fileText(d.stateDirectory + "/audit.log")).contains("wrong-pass"))
    }

    @Test func unsealReadsThePassphraseFromATerminalWithoutEcho() throws {
        let d = try passphraseDaemon()
        try run(d, ["admin", "unseal", "--initialize"], stdin: Array("pw-tty\n".utf8))
        try run(d, ["create", "p", "--value", "v"])
        try run(d, ["admin", "seal"])

        // Typed with line editing: a wrong character erased with Backspace.
        let typed = try onTerminal(d, ["admin", "unseal"], typing: "pw-tx\u{7F}ty\r")
        #expect(typed.status == 0, "\(typed.output)")
        #expect(typed.output.contains("Passphrase for the Coffer vault: "))
        #expect(typed.output.contains("Unsealed with master key id 1."))
        #expect(!typed.output.contains("pw-t"))  // nothing typed was echoed
        #expect(typed.echoAfterwards)
        #expect(try run(d, ["get", "p"]).stdout == Array("v".utf8))

        // Ctrl-C at the prompt: cancelled, the terminal's echo is back, the vault stays sealed.
        try run(d, ["admin", "seal"])
        let cancelled = try onTerminal(d, ["admin", "unseal"], typing: "pw\u{03}")
        #expect(cancelled.status == 130)
        #expect(cancelled.output.contains("cancelled"))
        #expect(cancelled.echoAfterwards)
        try run(d, ["get", "p"], status: 254)
    }

    /// Runs the CLI with a pseudo-terminal as stdin, stdout and stderr; types `input` once the prompt is shown. (A
    /// small Python driver: Glibc's Swift module does not export posix_openpt.)
    func onTerminal(
        _ d: Daemon, _ arguments: [String], typing input: String
    ) throws -> (status: Int32, output: String, echoAfterwards: Bool) {
        let driver = """
            import json, os, select, subprocess, sys, termios, time
            master, slave = os.openpty()
            child = subprocess.Popen(sys.argv[2:], stdin=slave, stdout=slave, stderr=slave, close_fds=True)
            out = b""
            def drain(seconds):
                global out
                end = time.time() + seconds
                while time.time() < end:
                    ready, _, _ = select.select([master], [], [], 0.05)
                    if ready:
                        try:
                            out += os.read(master, 4096)
                        except OSError:
                            return
            for _ in range(100):
                if b"Passphrase" in out:
                    break
                drain(0.1)
            os.write(master, sys.argv[1].encode())
            for _ in range(100):
                drain(0.05)
                if child.poll() is not None:
                    break
            else:
                child.kill()
            drain(0.1)
            echo = bool(termios.tcgetattr(slave)[3] & termios.ECHO)
            print(json.dumps({"status": child.wait(), "output": out.decode(errors="replace"), "echo": echo}))
            """
        let result = try Subprocess.run(
            ["/usr/bin/python3", "-c", driver, input, Daemon.coffer, "--admin-socket", d.adminSocketPath] + arguments)
        #expect(result.status == 0, "\(result.stderrText)")
        let report = try JSONValue.parse(result.stdoutText)
        let status = Int32(report["status"]?.int64Value ?? -1)
        return (
            status < 0 ? 128 - status : status, report["output"]?.stringValue ?? "", report["echo"]?.boolValue == true
        )
    }

    // MARK: rotation

    @Test func rotateAndWaitUntilEveryDataKeyIsRewrapped() throws {
        let d = try Daemon()
        let lines = (0..<600).map { #"{"Name": "r/\#($0)", "SecretString": "v\#($0)"}"# }.joined(separator: "\n")
        try run(d, ["admin", "import", "-"], stdin: Array(lines.utf8))
        let rotated = try run(d, ["admin", "rotate-master-key", "--wait"])
        #expect(rotated.stdoutText.contains("master key id 2 is current"))
        let status = try json(try run(d, ["admin", "status", "--json"]))
        #expect(status["KeyId"]?.int64Value == 2)
        #expect(status["Rotation"] == nil)
        #expect(status["RotationError"] == nil)
        #expect(try run(d, ["get", "r/599"]).stdout == Array("v599".utf8))
        // The key file holds only the new key once the rotation is done: a restart reads every value with it.
        try d.restart()
        #expect(try run(d, ["get", "r/0"]).stdout == Array("v0".utf8))
        // Without --wait it returns at once and says where to watch.
        #expect(try run(d, ["admin", "rotate-master-key"]).stdoutText.contains("id 3"))
    }

    // MARK: backup / restore

    @Test func backupToAFileThenRestoreIntoANewStateDirectory() throws {
        let d = try Daemon()
        for i in 0..<30 { try run(d, ["create", "b/\(i)", "--value", "value-\(i)"]) }
        try run(d, ["put", "b/1", "--value", "second"])
        let file = d.root + "/vault.backup"
        let backup = try run(d, ["admin", "backup", file])
        #expect(try SafeFile.fileMode(path: file) == 0o600)
        let bytes = try SafeFile.readAll(path: file, maxBytes: 1 << 30)
        let digest = Hex.encode(Digest.sha256(bytes))
        #expect(backup.stdoutText.contains("SHA-256: \(digest)"))
        #expect(backup.stdoutText.contains("(\(bytes.count) bytes)"))
        // No temporary file is left next to it.
        #expect(try SafeFile.status(path: d.root)?.kind == .directory)
        #expect(!(try Subprocess.run(["/bin/ls", "-a", d.root]).stdoutText.contains(".coffer-")))

        // An existing file is kept unless --force; a symlink is refused even with it.
        let again = try run(d, ["admin", "backup", file], status: 255)
        #expect(again.stderrText.contains("exists"))
        #expect(try SafeFile.readAll(path: file, maxBytes: 1 << 30) == bytes)
        try run(d, ["admin", "backup", file, "--force"])
        #expect(symlink(file, d.root + "/link.backup") == 0)
        let linked = try run(d, ["admin", "backup", d.root + "/link.backup", "--force"], status: 255)
        #expect(linked.stderrText.contains("symbolic link"))

        let restored = try Daemon(start: false)
        let result = try Subprocess.run([
            Daemon.cofferd, "restore", "--state-dir", restored.stateDirectory, "--from", file, "--key-file",
            d.stateDirectory + "/master.key",
        ])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(result.stdoutText.contains("restored 30 secrets and 31 versions"))
        try restored.start()
        for i in stride(from: 0, to: 30, by: 7) {
            #expect(try run(restored, ["get", "b/\(i)"]).stdout == Array("value-\(i)".utf8))
        }
        #expect(try run(restored, ["get", "b/1"]).stdout == Array("second".utf8))
        #expect(try run(restored, ["get", "b/1", "--version-stage", "AWSPREVIOUS"]).stdout == Array("value-1".utf8))
    }

    // MARK: audit

    @Test func auditVerifyTailAndQuery() throws {
        let d = try Daemon()
        try run(d, ["create", "app/db", "--value", "v"])
        try run(d, ["get", "app/db"])
        try run(d, ["get", "app/missing"], status: 254)

        let verify = try run(d, ["admin", "audit", "verify"])
        #expect(verify.stdoutText.hasPrefix("Valid:    yes\nRecords:  "))

        let tail = try run(d, ["admin", "audit", "tail", "-n", "3"]).stdoutText.split(separator: "\n")
        #expect(tail.count == 4)
        #expect(tail.first?.hasPrefix("TIME") == true)
        #expect(tail.first?.contains("PRINCIPAL") == true)
        #expect(tail.contains { $0.contains("GetSecretValue") && $0.contains("ResourceNotFoundException") })
        #expect(tail.contains { $0.contains("root") && $0.contains("app/db-") && $0.contains("allowed") })

        let raw = try run(d, ["admin", "audit", "tail", "-n", "2", "--json"]).stdoutText.split(separator: "\n")
        #expect(raw.count == 2)
        let sequences = try raw.map { try JSONValue.parse(String($0))["seq"]?.int64Value ?? -1 }
        #expect(sequences[0] + 1 == sequences[1])

        let query = try run(
            d, ["admin", "audit", "query", "--operation", "getsecretvalue", "--secret", "app/", "--json"])
        let records = try query.stdoutText.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0["operation"]?.stringValue == "GetSecretValue" })
        let none = try run(d, ["admin", "audit", "query", "--decision", "explicitDeny", "--since", "2026-01-01"])
        #expect(none.stdout.isEmpty)
        #expect(none.stderrText.contains("No matching audit records"))
        try run(d, ["admin", "audit", "query", "--decision", "denied"], status: 252)
        try run(d, ["admin", "audit", "query", "--since", "last week"], status: 252)
        try run(d, ["admin", "audit", "tail", "-n", "0"], status: 252)

        // A record edited in place (same length, so the daemon's appends go on): verify says where, and exits 1.
        let path = d.stateDirectory + "/audit.log"
        let bytes = try SafeFile.readAll(path: path, maxBytes: 1 << 26)
        let secondLine = try #require(bytes.firstIndex(of: 0x0A)) + 1
        let allowed = Array(#""allowed""#.utf8)
        let offset = try #require(
            (secondLine..<(bytes.count - allowed.count)).first { Array(bytes[$0..<($0 + allowed.count)]) == allowed })
        let fd = open(path, O_WRONLY | O_NOFOLLOW)
        #expect(fd >= 0)
        let edited = Array(#""ALLOWED""#.utf8)
        #expect(pwrite(fd, edited, edited.count, off_t(offset)) == edited.count)
        close(fd)
        let tampered = try run(d, ["admin", "audit", "verify"], status: 1)
        #expect(tampered.stdoutText.contains("Valid:           no"))
        #expect(tampered.stdoutText.contains("First bad line:  2"))
        #expect(try json(try run(d, ["admin", "audit", "verify", "--json"], status: 1))["Valid"]?.boolValue == false)
    }

    @Test func tailPagesThroughMoreRecordsThanOneReplyHolds() throws {
        let d = try Daemon()
        let c = try d.connect()
        _ = try c.call(.createSecret, ["Name": "t", "SecretString": "v"])
        for _ in 0..<1_200 { _ = try c.call(.getSecretValue, ["SecretId": "t"]) }
        // 1,000 records are more than one AuditQuery reply holds (256 KiB): the CLI pages.
        let lines = try run(d, ["admin", "audit", "tail", "-n", "1000", "--json"]).stdoutText.split(separator: "\n")
        #expect(lines.count == 1_000)
        let sequences = try lines.map { try JSONValue.parse(String($0))["seq"]?.int64Value ?? -1 }
        #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $0 + 1 == $1 })
        #expect((sequences.last ?? 0) >= 1_201)
    }

    // MARK: reload / metrics

    @Test func reloadSaysWhatChangedAndRefusesABadFile() throws {
        let d = try Daemon(start: false)
        let config = try d.writeConfig(#"{"rootIsAdministrator": true}"#)
        d.extraArguments = ["--config", config]
        try d.start()
        #expect(try run(d, ["admin", "reload"]).stdoutText == "Reloaded: no changes.\n")
        _ = try d.writeConfig(#"{"rootIsAdministrator": true, "logLevel": "warning"}"#)
        #expect(try run(d, ["admin", "reload"]).stdoutText.contains("logLevel="))
        _ = try d.writeConfig(#"{"noSuchKey": 1}"#)
        let refused = try run(d, ["admin", "reload"], status: 254)
        #expect(refused.stderrText.contains("noSuchKey"))
    }

    @Test func metricsCountRequests() throws {
        let d = try Daemon()
        try run(d, ["create", "m", "--value", "v"])
        try run(d, ["get", "m"])
        let metrics = try run(d, ["admin", "metrics"]).stdoutText
        #expect(metrics.contains("# TYPE coffer_requests_total counter\n"))
        #expect(metrics.contains("coffer_requests_total{operation=\"GetSecretValue\",result=\"ok\"} 1\n"))
        #expect(metrics.contains("coffer_sealed 0\n"))
        #expect(metrics.hasSuffix("\n"))
    }

    // MARK: import

    @Test func importReportsTheBadLinesAndImportsTheRest() throws {
        let d = try Daemon()
        try run(d, ["create", "taken", "--value", "x"])
        let lines = [
            #"{"Name": "imp/1", "SecretString": "one", "Description": "first", "Tags": [{"Key": "env", "Value": "prod"}]}"#,
            #"{"Name": "imp/2", "SecretBinary": "AAEC"}"#,
            #"{"Name": "imp/3", "SecretString": "three""#,  // not JSON
            "",
            #"{"Name": "taken", "SecretString": "again"}"#,  // exists
            #"{"Name": "bad name!", "SecretString": "x"}"#,  // invalid: fails its batch, which is split
            #"{"Name": "imp/4", "SecretString": "four"}"#,
        ]
        let file = d.root + "/secrets.jsonl"
        try SafeFile.createExclusive(path: file, mode: 0o600, contents: Array(lines.joined(separator: "\n").utf8))
        let result = try run(d, ["admin", "import", file], status: 254)
        #expect(result.stdoutText == "Imported 3 secrets.\n")
        #expect(result.stderrText.contains("3 lines not imported:"))
        #expect(result.stderrText.contains("line 3: SerializationException"))
        #expect(result.stderrText.contains("line 5 (taken): ResourceExistsException"))
        #expect(result.stderrText.contains("line 6 (bad name!): ValidationException"))
        #expect(!result.stderrText.contains("three"))
        #expect(try run(d, ["get", "imp/1"]).stdout == Array("one".utf8))
        #expect(try run(d, ["get", "imp/2"]).stdout == [0, 1, 2])
        #expect(try run(d, ["get", "imp/4"]).stdout == Array("four".utf8))
        #expect(try run(d, ["get", "taken"]).stdout == Array("x".utf8))
        let described = try json(try run(d, ["describe", "imp/1"]))
        #expect(described["Description"]?.stringValue == "first")
        #expect(described["Tags"]?.arrayValue?.count == 1)

        // From stdin, all good: exit 0.
        let piped = try run(d, ["admin", "import", "-"], stdin: Array(#"{"Name": "imp/5", "SecretString": "5"}"#.utf8))
        #expect(piped.stdoutText == "Imported 1 secret.\n")
        try run(d, ["admin", "import", d.root + "/missing.jsonl"], status: 252)
    }

    // MARK: key

    @Test func systemdCredsCommandIsPrintedNotRun() throws {
        let d = try Daemon()
        let printed = try run(
            d, ["admin", "key", "systemd-creds-command", "--key-file", d.stateDirectory + "/master.key"])
        #expect(
            printed.stdoutText.contains(
                "systemd-creds encrypt --name=coffer.master-key \(d.stateDirectory)/master.key "
                    + "/etc/credstore.encrypted/coffer.master-key\n"))
        #expect(printed.stdoutText.contains("LoadCredentialEncrypted=coffer.master-key"))
        #expect(try SafeFile.status(path: "/etc/credstore.encrypted/coffer.master-key") == nil)
        try run(d, ["admin", "key", "systemd-creds-command", "--credential", "../x"], status: 252)
    }

    // MARK: access

    @Test func aUserWhoIsNotRootCannotUseTheAdminSocket() throws {
        let d = try Daemon()
        let nobody = TestUser(name: "nobody", uid: 65_534, gid: 65_534)
        let denied = try d.cli(["admin", "status"], as: nobody)
        #expect(denied.status == 255, "\(denied.stderrText)")
        #expect(denied.stderrText.contains("admin socket at \(d.adminSocketPath): permission denied"))
        #expect(denied.stderrText.contains("root"))
        #expect(denied.stdout.isEmpty)
        // The client socket is open to them (and they are denied by policy there, not by the socket).
        let client = try d.cli(["get", "x"], as: nobody)
        #expect(client.status == 254)
    }
}
