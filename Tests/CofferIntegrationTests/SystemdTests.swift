import CofferCore
import CofferProtocol
import Glibc
import Testing

@testable import CofferSystem

/// systemd's side of each protocol, played by the tests (CI has no systemd as PID 1): socket activation, sd_notify
/// with the watchdog, and the LoadCredential= provider.
@Suite(.serialized) struct SystemdTests {
    static let fixture: String = {
        let file = "\(#filePath)"
        return String(file[..<(file.lastIndex(of: "/") ?? file.endIndex)]) + "/Fixtures/loadcredential.py"
    }()
    static let python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"

    // MARK: Socket activation

    @Test func socketActivationByName() throws {
        let daemon = try Daemon(start: false)
        _ = try SafeFile.ensurePrivateDirectory(path: daemon.root + "/run", mode: 0o755)
        let credentials = daemon.root + "/run/credentials.sock"
        let pid = try Subprocess.start(
            [
                "/usr/bin/systemd-socket-activate", "-l", daemon.socketPath, "-l", daemon.adminSocketPath, "-l",
                credentials, "--fdname=api:admin:credentials", Daemon.cofferd, "--state-dir", daemon.stateDirectory,
                "--socket", daemon.root + "/unused/c.sock", "--admin-socket", daemon.root + "/unused/a.sock",
            ], logPath: daemon.logPath)
        defer {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        // The first connection starts the daemon; it adopts the passed sockets instead of binding its own.
        var hello: Document?
        for _ in 0..<500 {
            hello = try? daemon.hello()
            if hello != nil { break }
            usleep(20_000)
        }
        #expect(hello?["ProtocolVersion"]?.intValue == 1)
        #expect(try daemon.connectAdmin().call(.status, [:])["Sealed"]?.boolValue == false)
        #expect(try SafeFile.status(path: daemon.root + "/unused/c.sock") == nil)
        #expect(daemon.log.contains("using the api socket passed by systemd"))
        #expect(daemon.log.contains("using the credentials socket passed by systemd"))
    }

    // MARK: sd_notify

    func receiver(_ address: [UInt8]) throws -> FileDescriptor {
        let fd = try TestSupport.datagramReceiver(address: address)
        try fd.setNonBlocking(false)
        try fd.setReceiveTimeout(milliseconds: 3_000)
        return fd
    }

    func messages(_ fd: FileDescriptor, until predicate: (String) -> Bool) -> [String] {
        var seen: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        for _ in 0..<200 {
            let n = buffer.withUnsafeMutableBytes { recv(fd.rawValue, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            let text = String(decoding: buffer[0..<n], as: UTF8.self)
            seen.append(text)
            if predicate(text) { break }
        }
        return seen
    }

    @Test(arguments: ["path", "abstract"])
    func notifyReadyReloadStopping(_ kind: String) throws {
        let daemon = try Daemon(start: false)
        let name = kind == "path" ? daemon.root + "/notify.sock" : "coffer-test-notify-\(getpid())"
        let notify = try receiver(kind == "path" ? Array(name.utf8) : [0] + Array(name.utf8))
        daemon.environment = ["NOTIFY_SOCKET": kind == "path" ? name : "@" + name]
        try daemon.start()
        let ready = messages(notify) { $0.contains("READY=1") }
        #expect(ready.last?.contains("READY=1") == true)
        #expect(ready.last?.contains("STATUS=serving") == true)
        #expect(ready.last?.contains("MAINPID=\(daemon.pid)") == true)
        kill(daemon.pid, SIGHUP)
        let reload = messages(notify) { $0.contains("READY=1") }
        #expect(reload.first?.contains("RELOADING=1") == true)
        #expect(reload.last?.contains("READY=1") == true)
        kill(daemon.pid, SIGTERM)
        #expect(messages(notify) { $0.contains("STOPPING=1") }.last?.contains("STOPPING=1") == true)
        #expect(daemon.stop() == 0)
    }

    @Test func sealedStatusIsAnnounced() throws {
        let daemon = try Daemon(start: false)
        let path = daemon.root + "/notify.sock"
        let notify = try receiver(Array(path.utf8))
        daemon.environment = ["NOTIFY_SOCKET": path]
        daemon.extraArguments = ["--key-source", "passphrase"]
        try daemon.start()
        #expect(messages(notify) { $0.contains("READY=1") }.last?.contains("STATUS=sealed") == true)
        _ = try daemon.connectAdmin().call(.unseal, ["Passphrase": "x", "Initialize": true])
        #expect(messages(notify) { $0.contains("STATUS=serving") }.last?.contains("STATUS=serving") == true)
    }

    /// Every datagram received in the next `milliseconds`.
    func collect(_ fd: FileDescriptor, milliseconds: Int64) -> [String] {
        var seen: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let deadline = Monotonic.milliseconds() + milliseconds
        try? fd.setReceiveTimeout(milliseconds: 50)
        while Monotonic.milliseconds() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd.rawValue, $0.baseAddress, $0.count, 0) }
            if n > 0 { seen.append(String(decoding: buffer[0..<n], as: UTF8.self)) }
        }
        return seen
    }

    @Test func watchdogPingsOnlyWhileTheServerMakesProgress() throws {
        let daemon = try Daemon(start: false)
        let path = daemon.root + "/notify.sock"
        let notify = try receiver(Array(path.utf8))
        daemon.environment = ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"]
        try daemon.start()
        let pings = collect(notify, milliseconds: 2_200).filter { $0.contains("WATCHDOG=1") }
        #expect(pings.count >= 3)  // every ~0.5 s
        // Wedge the writer: another process holds the database's write lock, and a write waits behind it.
        let holder = try Subprocess.start(
            [
                SystemdTests.python, "-c",
                "import sqlite3,time; c=sqlite3.connect('\(daemon.stateDirectory)/vault.db', isolation_level=None); "
                    + "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(4)",
            ], logPath: daemon.root + "/holder.log")
        for _ in 0..<250 {
            let text = (try? SafeFile.readAll(path: daemon.root + "/holder.log", maxBytes: 4_096)) ?? []
            if String(decoding: text, as: UTF8.self).contains("locked") { break }
            usleep(20_000)
        }
        let c = try daemon.connect()
        try c.sendRequest(.createSecret, ["Name": "w", "SecretString": "v"])
        usleep(800_000)
        let whileStuck = collect(notify, milliseconds: 1_500).filter { $0.contains("WATCHDOG=1") }
        var status: Int32 = 0
        waitpid(holder, &status, 0)
        #expect(whileStuck.count <= 1, "pinged \(whileStuck.count) times while the writer was stuck")
        // Once the lock is gone the write completes and pings resume.
        #expect((try? c.readFrame()) != nil)
        let after = collect(notify, milliseconds: 1_500).filter { $0.contains("WATCHDOG=1") }
        #expect(after.count >= 2)
        #expect(daemon.log.contains("watchdog: a worker or the writer is not making progress"))
    }

    // MARK: LoadCredential= provider

    /// Runs the fixture as root inside `unit`'s cgroup (or as uid 65534 with `asNobody`).
    func fetch(
        _ daemon: Daemon, unit: String, claim: String? = nil, id: String, asNobody: Bool = false,
        bind: Bool = true
    ) throws -> String {
        let cgroup = "/sys/fs/cgroup/unified/system.slice/\(unit)"
        _ = system("mkdir -p '\(cgroup)'")
        let name = bind ? "\(String(UInt32.random(in: 1...UInt32.max), radix: 16))/unit/\(claim ?? unit)/\(id)" : "-"
        var command = "echo $$ > '\(cgroup)/cgroup.procs' && exec "
        if asNobody { command += "/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups -- " }
        command += "\(SystemdTests.python) '\(SystemdTests.fixture)' '\(daemon.root)/run/credentials.sock' '\(name)'"
        let result = try Subprocess.run(["/bin/sh", "-c", command])
        return result.stdoutText.trimmingNewlines
    }

    @Test func loadCredentialProviderServesRolesAndRefusesSpoofs() throws {
        guard access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) == 0 else {
            Issue.record("no writable cgroup2 hierarchy at /sys/fs/cgroup/unified")
            return
        }
        let daemon = try Daemon(start: false)
        daemon.extraArguments = [
            "--config",
            try daemon.writeConfig(
                "{\"credentialsSocket\": \"\(daemon.root)/run/credentials.sock\", \"credentialsSocketMode\": \"0666\", "
                    + "\"credentialMap\": {\"cofft-app.service\": {\"db-password\": \"prod/app/db\"}}}"),
        ]
        try daemon.start()
        let c = try daemon.connect()
        _ = try c.call(.createSecret, ["Name": "prod/app/db", "SecretString": "s3cret-db"])
        _ = try c.call(.createSecret, ["Name": "prod/other", "SecretString": "not-yours"])
        let admin = try daemon.connectAdmin()
        _ = try admin.call(.createRole, ["RoleName": "cofft-app.service"])
        let policy =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:coffer:secretsmanager:*:*:secret:prod/app/*"}]}"#
        _ = try admin.call(
            .putRolePolicy,
            ["RoleName": "cofft-app.service", "PolicyName": "read-db", "PolicyDocument": .string(policy)])
        let expected = Hex.encode(Array("s3cret-db".utf8))
        // The role's secret, by mapped id and by the ~ spelling of its name.
        #expect(try fetch(daemon, unit: "cofft-app.service", id: "db-password") == expected)
        #expect(try fetch(daemon, unit: "cofft-app.service", id: "prod~app~db") == expected)
        // Not allowed by the role's policy; a unit without a role; a missing secret.
        // systemd asking, but denied or missing: more than systemd accepts, so it fails the unit (243/CREDENTIALS)
        // rather than start it with an empty credential.
        #expect(try fetch(daemon, unit: "cofft-app.service", id: "prod~other") == "OVERSIZE")
        #expect(try fetch(daemon, unit: "cofft-norole.service", id: "prod~app~db") == "OVERSIZE")
        #expect(try fetch(daemon, unit: "cofft-app.service", id: "prod~missing") == "OVERSIZE")
        // Spoofs (not systemd): claiming another unit than the cgroup's, a non-root peer, no systemd address: closed.
        #expect(try fetch(daemon, unit: "cofft-evil.service", claim: "cofft-app.service", id: "db-password") == "EMPTY")
        #expect(try fetch(daemon, unit: "cofft-app.service", id: "db-password", asNobody: true) == "EMPTY")
        #expect(try fetch(daemon, unit: "cofft-app.service", id: "db-password", bind: false) == "EMPTY")
        // Every attempt is audited with the reason.
        let records =
            (try admin.call(.auditQuery, ["Operation": "GetSecretValue", "Limit": 50])["Records"]?.listValue ?? [])
            .compactMap(\.stringValue).filter { $0.contains("\"socket\":\"credentials\"") }
        #expect(records.count == 8)
        #expect(records.filter { $0.contains("\"decision\":\"allowed\"") && !$0.contains("\"error\"") }.count == 2)
        #expect(daemon.log.contains("the peer's cgroup is not cofft-app.service's"))
        #expect(daemon.log.contains("the peer is not the system manager (uid 65534)"))
        #expect(!daemon.log.contains("s3cret-db"))
        // (This test opened the socket to everyone to reach the provider's own uid check; by default it is 0600.)
        #expect(try SafeFile.fileMode(path: daemon.root + "/run/credentials.sock") == 0o666)
    }

    @Test func aUnitRoleAppliesToOrdinaryClientsInThatUnit() throws {
        guard access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) == 0 else { return }
        let daemon = try Daemon()
        let c = try daemon.connect()
        _ = try c.call(.createSecret, ["Name": "unit/secret", "SecretString": "for-the-unit"])
        let admin = try daemon.connectAdmin()
        _ = try admin.call(.createRole, ["RoleName": "cofft-cli.service"])
        let deny =
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"secretsmanager:*","Resource":"*"}]}"#
        _ = try admin.call(
            .putRolePolicy, ["RoleName": "cofft-cli.service", "PolicyName": "none", "PolicyDocument": .string(deny)])
        // Root inside the unit acts as the role (not as the administrator): denied.
        let cgroup = "/sys/fs/cgroup/unified/system.slice/cofft-cli.service"
        _ = system("mkdir -p '\(cgroup)'")
        let inUnit = try Subprocess.run(
            [
                "/bin/sh", "-c", "echo $$ > '\(cgroup)/cgroup.procs' && exec '\(Daemon.coffer)' get unit/secret",
            ], environment: ["COFFER_SOCKET": daemon.socketPath])
        #expect(inUnit.status != 0)
        #expect(!inUnit.stdoutText.contains("for-the-unit"))
        // Outside the unit, root is the administrator.
        let outside = try Subprocess.run(
            [Daemon.coffer, "get", "unit/secret"], environment: ["COFFER_SOCKET": daemon.socketPath])
        #expect(outside.stdoutText == "for-the-unit")
    }
}

extension String {
    var trimmingNewlines: String {
        var text = self
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
