import CofferCore
import CofferCrypto
import CofferProtocol
import CofferSystem
import Glibc
import Testing

/// The admin socket, key sources, backup/restore and the audit log, through the real daemon.
@Suite(.serialized) struct AdminTests {
    func secretText(_ doc: Document) -> String? { doc["SecretString"]?.secretText }

    @Test func statusMetricsAndSocketMode() throws {
        let daemon = try Daemon()
        #expect(try SafeFile.fileMode(path: daemon.adminSocketPath) == 0o600)
        let c = try daemon.connect()
        _ = try c.call(.createSecret, ["Name": "s", "SecretString": "v"])
        _ = try c.call(.getSecretValue, ["SecretId": "s"])
        let admin = try daemon.connectAdmin()
        let status = try admin.call(.status, [:])
        #expect(status["Sealed"]?.boolValue == false)
        #expect(status["Secrets"]?.intValue == 1)
        #expect(status["KeySource"]?.stringValue == "file")
        #expect(status["KeyId"]?.intValue == 1)
        #expect((status["AuditRecords"]?.intValue ?? 0) >= 2)
        let metrics = try admin.call(.metrics, [:])["Text"]?.stringValue ?? ""
        #expect(metrics.contains("coffer_requests_total{operation=\"GetSecretValue\",result=\"ok\"} 1"))
        #expect(metrics.contains("coffer_sealed 0"))
        #expect(metrics.contains("coffer_request_duration_seconds_bucket{operation=\"GetSecretValue\",le=\"+Inf\"} 1"))
        // Secrets Manager operations are not served on the admin socket, nor admin ones on the client socket.
        #expect(throws: ServiceError.self) { try admin.call(.getSecretValue, ["SecretId": "s"]) }
        #expect(throws: ServiceError.self) { try c.call(.status, [:]) }
    }

    @Test func passphraseSourceStartsSealedAndUnsealsOverTheAdminSocket() throws {
        let daemon = try Daemon(start: false)
        daemon.extraArguments = [
            "--config",
            try daemon.writeConfig(#"{"masterKey": {"source": "passphrase", "passphraseStrength": "interactive"}}"#),
        ]
        try daemon.start()
        let c = try daemon.connect()
        do {
            _ = try c.call(.getSecretValue, ["SecretId": "x"])
            Issue.record("a sealed vault answered")
        } catch let error as ServiceError {
            #expect(error.code == .sealed)
        }
        let admin = try daemon.connectAdmin()
        #expect(try admin.call(.status, [:])["Sealed"]?.boolValue == true)
        #expect(throws: ServiceError.self) { try admin.call(.unseal, ["Passphrase": "pw-1"]) }  // needs Initialize
        _ = try admin.call(.unseal, ["Passphrase": "pw-1", "Initialize": true])
        _ = try c.call(.createSecret, ["Name": "p", "SecretString": "behind-a-passphrase"])
        _ = try admin.call(.seal, [:])
        #expect(throws: ServiceError.self) { try c.call(.getSecretValue, ["SecretId": "p"]) }
        do {
            _ = try admin.call(.unseal, ["Passphrase": "wrong"])
            Issue.record("a wrong passphrase unsealed")
        } catch let error as ServiceError {
            #expect(error.code == .accessDenied)
            #expect(!error.message.contains("wrong"))
        }
        try daemon.restart()
        let c2 = try daemon.connect()
        #expect(throws: ServiceError.self) { try c2.call(.getSecretValue, ["SecretId": "p"]) }
        _ = try daemon.connectAdmin().call(.unseal, ["Passphrase": "pw-1"])
        #expect(secretText(try c2.call(.getSecretValue, ["SecretId": "p"])) == "behind-a-passphrase")
        #expect(!daemon.log.contains("pw-1"))
        #expect(
            !(try String(
                decoding: SafeFile.readAll(path: daemon.stateDirectory + "/audit.log", maxBytes: 1 << 24),
                as: UTF8.self)).contains("pw-1"))
    }

    @Test func rotationOverTheAdminSocketWhileServing() throws {
        let daemon = try Daemon()
        let c = try daemon.connect()
        for i in 0..<300 {
            _ = try c.call(.createSecret, ["Name": .string("r\(i)"), "SecretString": .string("v\(i)")])
        }
        let admin = try daemon.connectAdmin()
        let rotated = try admin.call(.rotateMasterKey, [:])
        #expect(rotated["KeyId"]?.intValue == 2)
        var failures = 0
        for round in 0..<5 {
            for i in stride(from: round, to: 300, by: 7) {
                do {
                    #expect(
                        secretText(try c.call(.getSecretValue, ["SecretId": .string("r\(i)")]))?.hasPrefix("v") == true)
                    _ = try c.call(
                        .putSecretValue, ["SecretId": .string("r\(i)"), "SecretString": .string("v\(i)-\(round)")])
                } catch {
                    failures += 1
                }
            }
        }
        #expect(failures == 0)
        for _ in 0..<500 {
            if try admin.call(.status, [:])["Rotation"] == nil { break }
            usleep(20_000)
        }
        #expect(try admin.call(.status, [:])["Rotation"] == nil)
        try daemon.restart()
        #expect(secretText(try daemon.connect().call(.getSecretValue, ["SecretId": "r299"]))?.hasPrefix("v299") == true)
        #expect(try daemon.connectAdmin().call(.status, [:])["KeyId"]?.intValue == 2)
    }

    @Test func backupStreamedThenRestoredOffline() throws {
        let daemon = try Daemon()
        let c = try daemon.connect()
        for i in 0..<40 {
            _ = try c.call(
                .createSecret,
                [
                    "Name": .string("b\(i)"), "SecretString": .string("value-\(i)"),
                    "Tags": .list([.map(["Key": "i", "Value": .string("\(i)")])]),
                ])
        }
        _ = try c.call(.putSecretValue, ["SecretId": "b1", "SecretString": "second", "VersionStages": ["STAGED"]])
        let admin = try daemon.connectAdmin()
        var bytes: [UInt8] = []
        var id: String?
        var sha = ""
        repeat {
            var request: Document = ["Offset": .int(Int64(bytes.count))]
            if let id { request["BackupId"] = .string(id) }
            let chunk = try admin.call(.backup, request)
            id = chunk["BackupId"]?.stringValue
            sha = chunk["Sha256"]?.stringValue ?? ""
            if case .bytes(let part)? = chunk["Chunk"] { bytes += part }
            if chunk["Done"]?.boolValue == true { break }
        } while true
        #expect(Hex.encode(Digest.sha256(bytes)) == sha)
        let backup = daemon.root + "/vault.backup"
        try SafeFile.createExclusive(path: backup, mode: 0o600, contents: bytes)

        let restored = try Daemon(start: false)
        let result = try Subprocess.run([
            Daemon.cofferd, "restore", "--state-dir", restored.stateDirectory, "--from", backup, "--key-file",
            daemon.stateDirectory + "/master.key",
        ])
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(result.stdoutText.contains("restored 40 secrets and 41 versions"))
        try restored.start()
        let r = try restored.connect()
        for i in stride(from: 0, to: 40, by: 9) {
            #expect(secretText(try r.call(.getSecretValue, ["SecretId": .string("b\(i)")])) == "value-\(i)")
        }
        #expect(secretText(try r.call(.getSecretValue, ["SecretId": "b1", "VersionStage": "STAGED"])) == "second")
        #expect(try r.call(.describeSecret, ["SecretId": "b7"])["Tags"]?.listValue?.count == 1)
        // Restoring over an existing vault is refused.
        let again = try Subprocess.run([
            Daemon.cofferd, "restore", "--state-dir", restored.stateDirectory, "--from", backup, "--key-file",
            daemon.stateDirectory + "/master.key",
        ])
        #expect(again.status != 0)
    }

    @Test func everyRequestIsAuditedAndTamperingIsFound() throws {
        let daemon = try Daemon()
        let c = try daemon.connect()
        let canary = "CANARY-7d1e-\(getpid())"
        _ = try c.call(
            .createSecret,
            [
                "Name": "a", "SecretString": .string(canary),
                "ClientRequestToken": .string(String(repeating: "t", count: 40)),
            ])
        _ = try c.call(.getSecretValue, ["SecretId": "a"])
        _ = try? c.call(.getSecretValue, ["SecretId": "missing"])
        try c.send([0, 0, 0, 8, 1, 1, 0x77, 0x77, 0, 0, 0, 9])  // unknown operation: still a request, still audited
        _ = try c.readFrame()
        let admin = try daemon.connectAdmin()
        let verify = try admin.call(.auditVerify, [:])
        #expect(verify["Valid"]?.boolValue == true)
        // Create, Get, Get (missing), the unknown operation, and the readiness probe's Hello.
        #expect(verify["Records"]?.intValue == 4)
        let records = (try admin.call(.auditQuery, ["Secret": "secret:a-"])["Records"]?.listValue ?? []).compactMap(
            \.stringValue)
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0.contains("\"decision\":\"allowed\"") })
        let log = String(
            decoding: try SafeFile.readAll(path: daemon.stateDirectory + "/audit.log", maxBytes: 1 << 24), as: UTF8.self
        )
        #expect(!log.contains(canary))
        // The request's token is recorded as a keyed hash (it becomes the public VersionId afterwards).
        let created = log.split(separator: "\n").first { $0.contains("\"operation\":\"CreateSecret\"") } ?? ""
        #expect(created.contains("\"clientRequestToken\":\"hmac-sha256:"))
        #expect(!created.contains(String(repeating: "t", count: 40)))
        #expect(log.contains("ResourceNotFoundException"))
        #expect(!daemon.log.contains(canary))
        // Edit one record: verify names it.
        var lines = log.split(separator: "\n").map(String.init)
        lines[1] = lines[1].replacing("\"decision\":\"allowed\"", with: "\"decision\":\"explicitDeny\"")
        daemon.stop()
        try SafeFile.atomicReplace(
            path: daemon.stateDirectory + "/audit.log", mode: 0o600,
            contents: Array((lines.joined(separator: "\n") + "\n").utf8))
        try daemon.start()
        let tampered = try daemon.connectAdmin().call(.auditVerify, [:])
        #expect(tampered["Valid"]?.boolValue == false)
        #expect(tampered["FirstBadLine"]?.intValue == 2)
    }

    @Test func unwritableAuditFailsClosed() throws {
        let daemon = try Daemon(start: false)
        let mount = daemon.root + "/auditfs"
        _ = try SafeFile.ensurePrivateDirectory(path: mount, mode: 0o700)
        guard system("mount -t tmpfs -o size=64k tmpfs '\(mount)' 2>/dev/null") == 0 else {
            Issue.record("cannot mount a tmpfs here (needs root)")
            return
        }
        defer { _ = system("umount -l '\(mount)'") }
        daemon.extraArguments = ["--config", try daemon.writeConfig("{\"auditLog\": \"\(mount)/audit.log\"}")]
        try daemon.start()
        defer { daemon.crash() }
        let c = try daemon.connect()
        let canary = "FAIL-CLOSED-CANARY-\(getpid())"
        _ = try c.call(.createSecret, ["Name": "f", "SecretString": .string(canary)])
        #expect(secretText(try c.call(.getSecretValue, ["SecretId": "f"])) == canary)
        // Fill the audit file system: once the audit file's last page is full, records cannot be written.
        _ = system("dd if=/dev/zero of='\(mount)/filler' bs=4k count=64 2>/dev/null")
        var refused = 0
        var servedAfterFull = 0
        for _ in 0..<60 {
            let id = try c.sendRequest(.getSecretValue, ["SecretId": "f"])
            guard let frame = try c.readFrame() else {
                Issue.record("closed")
                return
            }
            #expect(frame.header.requestID == id)
            if frame.header.kind == .error {
                refused += 1
                let body = try frame.decodeDocument()
                #expect(body["__type"]?.stringValue == "InternalServiceError")
                #expect(!String(decoding: frame.body, as: UTF8.self).contains(canary))
            } else if refused > 0 {
                servedAfterFull += 1
            }
        }
        #expect(refused > 50)  // at most the rest of one page was still writable
        #expect(servedAfterFull == 0)  // nothing is released once the log cannot take records
        // Space comes back: service resumes, and the chain is intact.
        unlink(mount + "/filler")
        #expect(secretText(try c.call(.getSecretValue, ["SecretId": "f"])) == canary)
        let verify = try daemon.connectAdmin().call(.auditVerify, [:])
        #expect(verify["Valid"]?.boolValue == true)
        let status = try daemon.connectAdmin().call(.status, [:])
        #expect((status["AuditWriteFailures"]?.intValue ?? 0) > 0)
    }

    @Test func sighupAndReloadReReadTheConfiguration() throws {
        let daemon = try Daemon(start: false)
        daemon.extraArguments = ["--config", try daemon.writeConfig(#"{"logLevel": "debug"}"#)]
        try daemon.start()
        _ = try daemon.writeConfig(#"{"logLevel": "warning", "rootIsAdministrator": true}"#)
        #expect(try daemon.connectAdmin().call(.reload, [:])["Changes"]?.stringValue == "logLevel=warning")
        _ = try daemon.writeConfig(#"{"logLevel": "debug"}"#)
        kill(daemon.pid, SIGHUP)
        for _ in 0..<100 where !daemon.log.contains("reloaded") { usleep(20_000) }
        #expect(daemon.log.contains("reloaded (logLevel=debug)"))
        // A broken configuration is refused and the running one kept.
        _ = try daemon.writeConfig(#"{"logLevel": "loud"}"#)
        #expect(throws: ServiceError.self) { try daemon.connectAdmin().call(.reload, [:]) }
        _ = try daemon.hello()
    }
}

extension String {
    func replacing(_ target: String, with replacement: String) -> String {
        let parts = self.split(separator: Substring(target), omittingEmptySubsequences: false)
        return parts.joined(separator: replacement)
    }
}
