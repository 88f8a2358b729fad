import CofferCore
import CofferCrypto
import CofferProtocol
import CofferStore
import CofferSystem
import Glibc
import Testing

/// T7, T10, T12, T13, T21, T22: tampering at rest, leaks, cores, planted symlinks, the bind window and pid reuse,
/// all against the real daemon (docs/RELIABILITY.md, "Security checks").
@Suite(.serialized, .enabled(if: Reliability.enabled))
struct SecurityTests {
    static let scripts =
        String(#filePath).split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/")
        + "/Reliability"

    // MARK: T7 — ciphertexts swapped, moved or flipped

    struct StoredVersion {
        var secret: String
        var versionID: String
        var value: [UInt8]
    }

    /// Twelve versions (six secrets, two versions each, strings and binaries). Every pair has its sealed values
    /// swapped (a round-robin schedule: eleven rounds of six disjoint pairs, one database and one daemon start per
    /// round); then only ciphertext and nonce, only the wrapped key, version ids within a secret and rows across
    /// secrets are swapped, and a bit is flipped in every sealed column of every version, and the master key id is
    /// changed. Every damaged version answers DecryptionFailure, every untouched one its own value, none ever
    /// another's.
    @Test func swappedMovedOrFlippedCiphertextsGiveIntegrityErrorsOnly() throws {
        let daemon = try Daemon()
        let client = try daemon.connect()
        var versions: [StoredVersion] = []
        for s in 0..<6 {
            let name = "swap/s\(s)"
            for v in 0..<2 {
                let value =
                    Array("SWAP-\(s)-\(v)-".utf8) + SecureRandom.bytes(count: 8 + 40 * s).map { ($0 & 0x3F) | 0x40 }
                let id = "swap-\(s)-\(v)-" + String(repeating: "0", count: 28)
                let member: Value =
                    s % 2 == 0
                    ? RequestCatalogue.binary(value) : .secret(SensitiveBytes(copying: value), isString: true)
                let key = s % 2 == 0 ? "SecretBinary" : "SecretString"
                if v == 0 {
                    _ = try client.call(
                        .createSecret, ["Name": .string(name), "ClientRequestToken": .string(id), key: member])
                } else {
                    _ = try client.call(
                        .putSecretValue, ["SecretId": .string(name), "ClientRequestToken": .string(id), key: member])
                }
                versions.append(StoredVersion(secret: name, versionID: id, value: value))
            }
        }
        #expect(daemon.stop() == 0)
        let database = daemon.stateDirectory + "/vault.db"
        let pristine = daemon.root + "/pristine.db"
        #expect(system("cp '\(database)' '\(pristine)'") == 0)

        var rounds: [(String, (SQLiteConnection) throws -> [Int: String])] = []
        let sealed = ["ciphertext", "value_nonce", "wrapped_key", "data_key_id"]
        let n = versions.count
        for round in 0..<(n - 1) {
            let order = [0] + (0..<(n - 1)).map { 1 + ($0 + round) % (n - 1) }
            let pairs = (0..<(n / 2)).map { (order[$0], order[n - 1 - $0]) }
            rounds.append(("swap all sealed columns, round \(round)", { db in try swap(db, pairs, sealed, versions) }))
        }
        let firstPairs = (0..<(n / 2)).map { ($0, n - 1 - $0) }
        rounds.append(
            ("swap ciphertext and nonce", { db in try swap(db, firstPairs, ["ciphertext", "value_nonce"], versions) }))
        rounds.append(
            ("swap wrapped keys", { db in try swap(db, firstPairs, ["wrapped_key", "data_key_id"], versions) }))
        rounds.append(
            (
                "swap version ids within each secret",
                { db in
                    try swap(db, (0..<(n / 2)).map { (2 * $0, 2 * $0 + 1) }, ["version_id"], versions)
                }
            ))
        rounds.append(
            (
                "swap rows between secrets",
                { db in
                    try swap(db, (0..<(n / 2)).map { (2 * $0, (2 * $0 + 3) % n) }, ["secret_id"], versions)
                }
            ))
        for column in sealed {
            rounds.append(("flip a bit in \(column)", { db in try flip(db, column, versions) }))
        }
        rounds.append(
            (
                "unknown master key id",
                { db in
                    try db.execute("UPDATE versions SET master_key_id = master_key_id + 1000")
                    return Dictionary(
                        uniqueKeysWithValues: versions.enumerated().map { ($0.offset, $0.element.secret) })
                }
            ))

        var damagedReads = 0
        for (name, damage) in rounds {
            for suffix in ["", "-wal", "-shm"] { unlink(database + suffix) }
            #expect(system("cp '\(pristine)' '\(database)'") == 0)
            let damaged: [Int: String]
            do {
                let db = try SQLiteConnection(path: database, readOnly: false)
                damaged = try damage(db)
            }
            try daemon.start()
            let reader = try daemon.connect()
            for (index, version) in versions.enumerated() {
                let secret = damaged[index] ?? version.secret
                let result = Result {
                    try reader.call(
                        .getSecretValue, ["SecretId": .string(secret), "VersionId": .string(version.versionID)])
                }
                switch result {
                case .success(let reply):
                    let value = reply["SecretBinary"]?.secretBytes ?? reply["SecretString"]?.secretBytes
                    #expect(value == version.value, "\(name): \(version.versionID) opened to another value")
                    #expect(damaged[index] == nil, "\(name): damaged \(version.versionID) opened")
                case .failure(let error as ServiceError):
                    #expect(damaged[index] != nil, "\(name): untouched \(version.versionID) failed: \(error)")
                    if damaged[index] != nil {
                        #expect(error.code == .decryptionFailure, "\(name): \(error)")
                        damagedReads += 1
                    }
                case .failure(let error):
                    Issue.record("\(name): \(error)")
                }
            }
            #expect(daemon.stop() == 0)
        }
        #expect(damagedReads >= 12 * 11)
        Figures.record("security.tamperRounds", "\(rounds.count)")
        Figures.record("security.tamperedReadsAllIntegrityErrors", "\(damagedReads)")
    }

    /// Swaps `columns` between the rows of each pair (rows are deleted and inserted again: `versions` has no rowid
    /// and its key may be among the swapped columns); returns the damaged indices, each with the secret to ask for
    /// it by (a row moved to another secret is asked for there).
    func swap(
        _ db: SQLiteConnection, _ pairs: [(Int, Int)], _ columns: [String], _ versions: [StoredVersion]
    ) throws
        -> [Int: String]
    {
        try db.execute("PRAGMA foreign_keys = OFF; CREATE TEMP TABLE original AS SELECT * FROM versions")
        let all = (try db.scalarText("SELECT group_concat(name, ',') FROM pragma_table_info('versions')") ?? "")
            .split(separator: ",").map(String.init)
        var damaged: [Int: String] = [:]
        for (a, b) in pairs {
            try db.execute(
                "DELETE FROM versions WHERE version_id IN ('\(versions[a].versionID)', '\(versions[b].versionID)')")
            for (target, source) in [(a, b), (b, a)] {
                let values = all.map { column in
                    columns.contains(column)
                        ? "(SELECT \(column) FROM original WHERE version_id = '\(versions[source].versionID)')" : column
                }
                try db.execute(
                    """
                    INSERT INTO versions (\(all.joined(separator: ", "))) SELECT \(values.joined(separator: ", ")) \
                    FROM original WHERE version_id = '\(versions[target].versionID)'
                    """)
                damaged[target] = columns.contains("secret_id") ? versions[source].secret : versions[target].secret
            }
        }
        return damaged
    }

    /// Flips one random bit of `column` in every version.
    func flip(_ db: SQLiteConnection, _ column: String, _ versions: [StoredVersion]) throws -> [Int: String] {
        for version in versions {
            guard
                let text = try db.scalarText(
                    "SELECT hex(\(column)) FROM versions WHERE version_id = '\(version.versionID)'")
            else { continue }
            var bytes = stride(from: 0, to: text.count, by: 2).compactMap { offset -> UInt8? in
                let start = text.index(text.startIndex, offsetBy: offset)
                return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16)
            }
            guard !bytes.isEmpty else { continue }
            let bit = Int.random(in: 0..<(bytes.count * 8))
            bytes[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            try db.execute("UPDATE versions SET \(column) = X'\(hex(bytes))' WHERE version_id = '\(version.versionID)'")
        }
        return Dictionary(uniqueKeysWithValues: versions.enumerated().map { ($0.offset, $0.element.secret) })
    }

    // MARK: T21 — canaries

    /// Random canary values go through successful and failing requests (client and admin sockets, raw frames and the
    /// CLI, as root and as a user without permission). None may appear — raw, hex or base64 — in the database files
    /// (after a crash, with the WAL, and after a clean stop), the daemon's log at debug level, the audit log, any
    /// error reply or the CLI's error output.
    @Test func canaryValuesNeverReachDiskLogsAuditOrErrors() throws {
        let canaries = (0..<4).map { _ in
            "CNRY" + String((0..<28).map { _ in "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".randomElement() ?? "Z" })
        }
        let user = try TestUser.named("canary")
        let daemon = try Daemon()
        let client = try daemon.connect()
        let admin = try daemon.connectAdmin()
        var errorTexts: [String] = []
        func expectError(_ operation: Operation, _ document: Document, on connection: RawConnection) {
            do {
                _ = try connection.call(operation, document)
                Issue.record("\(operation.name) succeeded")
            } catch let error as ServiceError {
                errorTexts.append(error.message)
            } catch {
                Issue.record("\(operation.name): \(error)")
            }
        }
        let secret = { (text: String) -> Value in RequestCatalogue.secret(text) }
        _ = try client.call(.createSecret, ["Name": "canary/one", "SecretString": secret(canaries[0])])
        _ = try client.call(
            .putSecretValue,
            ["SecretId": "canary/one", "SecretBinary": RequestCatalogue.binary(Array(canaries[1].utf8))])
        _ = try client.call(.getSecretValue, ["SecretId": "canary/one", "VersionStage": "AWSPREVIOUS"])
        _ = try client.call(.batchGetSecretValue, ["SecretIdList": ["canary/one"]])
        _ = try client.call(.updateSecret, ["SecretId": "canary/one", "SecretString": secret(canaries[2])])
        expectError(
            .putSecretValue,
            [
                "SecretId": "canary/one", "SecretString": secret(canaries[0]),
                "SecretBinary": RequestCatalogue.binary(Array(canaries[1].utf8)),
            ], on: client)
        expectError(.putSecretValue, ["SecretId": "canary/missing", "SecretString": secret(canaries[0])], on: client)
        expectError(.createSecret, ["Name": "canary bad name!", "SecretString": secret(canaries[1])], on: client)
        expectError(.createSecret, ["Name": "canary/one", "SecretString": secret(canaries[2])], on: client)
        expectError(
            .putSecretValue, ["SecretId": "canary/one", "SecretString": secret(canaries[0]), "Bogus": true], on: client)
        expectError(
            .putSecretValue,
            ["SecretId": "canary/one", "SecretString": secret(canaries[0] + String(repeating: "x", count: 70_000))],
            on: client)
        // Unseal of an unsealed vault succeeds without using the passphrase; an import of a name that exists answers
        // with per-secret errors: both replies are checked for the canaries too.
        errorTexts.append(try admin.call(.unseal, ["Passphrase": secret(canaries[3])]).description)
        _ = try admin.call(
            .importSecrets, ["Secrets": [.map(["Name": "canary/imported", "SecretString": secret(canaries[3])])]])
        let partial = try admin.call(
            .importSecrets, ["Secrets": [.map(["Name": "canary/imported", "SecretString": secret(canaries[2])])]])
        #expect(partial["Errors"]?.listValue?.count == 1, "\(partial)")
        errorTexts.append(partial.description)
        // Raw frames: a SecretString with the canary followed by invalid UTF-8, and one cut short.
        let bad = RawConnection.self
        let key = Array("SecretString".utf8)
        let body = BadInputCorpus.rawDocument([
            BadInputCorpus.rawMember(Array("SecretId".utf8), BadInputCorpus.rawString(Array("canary/one".utf8))),
            BadInputCorpus.rawMember(key, BadInputCorpus.rawString(Array(canaries[0].utf8) + [0xC3])),
        ])
        let raw = try bad.init(path: daemon.socketPath)
        try raw.send(BadInputCorpus.frame(body, operation: Operation.putSecretValue.rawValue))
        if let reply = try raw.readFrame() { errorTexts.append(String(decoding: reply.body, as: UTF8.self)) }
        let cut = try bad.init(path: daemon.socketPath)
        let whole = RequestCatalogue.frame(
            .putSecretValue, ["SecretId": "canary/one", "SecretString": secret(canaries[1])])
        try cut.send(Array(whole.dropLast(3)))
        try cut.fd.shutdown(.write)
        _ = try cut.readFrame()
        // The CLI: a user without permission, and usage errors.
        var cliErrors: [String] = []
        for arguments in [
            ["put", "canary/one", "--value", canaries[0]], ["create", "canary/other", "--value", canaries[1]],
        ] {
            let result = try Subprocess.run(
                user.setprivPrefix + [Daemon.coffer, "--socket", daemon.socketPath] + arguments)
            #expect(result.status == 254, "\(result.stderrText)")
            cliErrors.append(result.stderrText + result.stdoutText)
        }
        let usage = try Subprocess.run([Daemon.coffer, "--socket", daemon.socketPath, "put", "--value", canaries[2]])
        cliErrors.append(usage.stderrText + usage.stdoutText)

        func scan(_ label: String) throws {
            var files = [daemon.logPath]
            for name in ["vault.db", "vault.db-wal", "vault.db-shm", "audit.log"] {
                let path = daemon.stateDirectory + "/" + name
                if (try? SafeFile.status(path: path)) != nil { files.append(path) }
            }
            for path in files {
                let bytes = try SafeFile.readAll(path: path, maxBytes: 256 << 20)
                for canary in canaries {
                    for form in Self.forms(of: canary) {
                        #expect(
                            !contains(bytes, form),
                            "\(label): canary found in \(path) as \(String(decoding: form, as: UTF8.self))")
                    }
                }
            }
        }
        for text in errorTexts + cliErrors {
            for canary in canaries { #expect(!text.contains(canary), "an error shows a canary: \(text)") }
        }
        daemon.crash()
        try scan("after a crash")
        try daemon.start()
        #expect(
            try daemon.connect().call(.getSecretValue, ["SecretId": "canary/one"])["SecretString"]?.secretBytes
                == Array(canaries[2].utf8))
        #expect(daemon.stop() == 0)
        try scan("after a clean stop")
        Figures.record("security.canaryErrorsChecked", "\(errorTexts.count + cliErrors.count)")
    }

    /// The canary's bytes, its hex (both cases) and its base64 at every alignment (whole quanta only).
    static func forms(of canary: String) -> [[UInt8]] {
        let bytes = Array(canary.utf8)
        var forms = [bytes, Array(hex(bytes).utf8), Array(hex(bytes).uppercased().utf8)]
        for skip in 0..<3 {
            let tail = Array(bytes.dropFirst(skip))
            let whole = tail.count / 3 * 3
            forms.append(Array(Base64.encode(Array(tail.prefix(whole))).utf8))
        }
        return forms
    }

    // MARK: T22 — core dumps and /proc/<pid>/mem

    /// With `core_pattern=core` and an unlimited RLIMIT_CORE, SIGSEGV makes an ordinary process leave a core file
    /// (the control); the daemon leaves none (it is not dumpable and lowers RLIMIT_CORE to 0).
    @Test func aSegfaultedDaemonLeavesNoCoreFile() throws {
        let pattern =
            (ProcFS.read("/proc/sys/kernel/core_pattern") ?? "").split(separator: "\n").first.map(String.init) ?? ""
        if pattern != "core" {
            try SafeFile.atomicReplaceProc("/proc/sys/kernel/core_pattern", "core")
        }
        defer { if pattern != "core" { try? SafeFile.atomicReplaceProc("/proc/sys/kernel/core_pattern", pattern) } }
        let root = makeTemporaryDirectory("coffer-core")
        defer { _ = system("rm -rf '\(root)'") }
        let control = root + "/control"
        mkdir(control, 0o755)
        let sleeper = try Subprocess.start(
            ["/bin/sh", "-c", #"ulimit -c unlimited && cd "$0" && exec "$@""#, control, "/bin/sleep", "30"],
            logPath: root + "/control.log")
        usleep(200_000)
        kill(sleeper, SIGSEGV)
        var status: Int32 = 0
        waitpid(sleeper, &status, 0)
        #expect(status & 0x80 != 0, "the control did not dump core: the test cannot see cores here")
        #expect(Self.cores(in: control) > 0, "no core file from the control process")

        let daemon = try Daemon(start: false)
        let cores = daemon.root + "/cores"
        mkdir(cores, 0o755)
        daemon.coreDirectory = cores
        // Swift's crash backtracer would catch the signal, print, and (the fault being a sent signal) carry on; see
        // `theCrashReportShowsNoMemory` below.
        daemon.environment["SWIFT_BACKTRACE"] = "enable=no"
        try daemon.start()
        _ = try daemon.connect().call(
            .createSecret, ["Name": "core/secret", "SecretString": RequestCatalogue.secret("CORE-CANARY")])
        kill(daemon.pid, SIGSEGV)
        var daemonStatus: Int32 = 0
        waitpid(daemon.pid, &daemonStatus, 0)
        _ = daemon.reapedExternally()
        #expect(daemonStatus & 0x7f == SIGSEGV, "the daemon did not die of SIGSEGV: \(daemonStatus)")
        #expect(daemonStatus & 0x80 == 0, "the daemon dumped core")
        #expect(Self.cores(in: cores) == 0, "the daemon left a core file")
    }

    /// A process of the daemon's own (non-root) uid cannot open its `/proc/<pid>/mem`; it can open that of another
    /// process of the uid (the control).
    @Test func theDaemonsMemoryIsClosedToItsOwnUID() throws {
        let user = try TestUser.named("mem")
        let daemon = try Daemon(start: false)
        #expect(chown(daemon.root, user.uid, user.gid) == 0)
        daemon.launchPrefix = user.setprivPrefix
        try daemon.start()
        let sleeper = try Subprocess.start(
            user.setprivPrefix + ["/bin/sleep", "30"], logPath: daemon.root + "/sleep.log")
        defer {
            kill(sleeper, SIGKILL)
            var status: Int32 = 0
            waitpid(sleeper, &status, 0)
        }
        usleep(200_000)
        let probe = try Subprocess.run(
            user.setprivPrefix + [
                "/usr/bin/python3", Self.scripts + "/peer_probe.py", "mem", "\(daemon.pid)", "\(sleeper)",
            ])
        let result = try JSONValue.parse(probe.stdoutText)
        #expect(result["\(sleeper)"]?.stringValue == "opened", "control: \(probe.stdoutText) \(probe.stderrText)")
        #expect(result["\(daemon.pid)"]?.stringValue == "errno-13", "the daemon's memory: \(probe.stdoutText)")
    }

    /// Swift's runtime backtracer (on by default on Linux) catches a crash and prints, with the stack, every register
    /// and the 16 bytes of memory each points to, to the daemon's standard error (the journal): secret material held
    /// in a register or in memory a register points to would be logged (T21). The daemon must run with it off.
    @Test(
        .disabled(
            if: !Reliability.knownBugs,
            Comment(
                rawValue: "bug: cofferd runs with Swift's crash backtracer on (SWIFT_BACKTRACE unset): a crash logs "
                    + "registers and the memory they point to; set SWIFT_BACKTRACE=enable=no (systemd/coffer.service "
                    + "Environment=, or cofferd re-executing itself with it)")))
    func theCrashReportShowsNoMemory() throws {
        let daemon = try Daemon()
        _ = try daemon.connect().call(
            .createSecret, ["Name": "crash/secret", "SecretString": RequestCatalogue.secret("x")])
        kill(daemon.pid, SIGSEGV)
        usleep(2_000_000)
        let log = daemon.log
        #expect(!log.contains("Registers:"), "the crash report dumps registers and memory")
        #expect(!log.contains("Program crashed"), "the crash backtracer ran")
        if daemon.isRunning {
            Issue.record("the daemon survived SIGSEGV (the backtracer returned from the signal handler)")
        }
    }

    static func cores(in directory: String) -> Int {
        FuzzCorpusFiles.names(in: directory).filter { $0.hasPrefix("core") }.count
    }

    // MARK: T13 — planted symlinks

    /// Before the start, a symlink is planted where the daemon puts a directory or file; each points into a victim
    /// directory holding a file. The daemon refuses to start (or to use the path) and the victim is untouched.
    @Test(arguments: [
        "state", "state/vault.db", "state/vault.db-wal", "state/vault.db.lock", "state/master.key", "state/audit.log",
        "state/audit.key", "run", "run/coffer.sock", "run/admin.sock",
    ])
    func aPlantedSymlinkIsRefused(_ planted: String) throws {
        let daemon = try Daemon(start: false)
        let victim = daemon.root + "/victim"
        mkdir(victim, 0o755)
        let precious = victim + "/precious"
        try SafeFile.atomicReplace(path: precious, mode: 0o644, contents: Array("keep".utf8))
        // Directories the symlink lives in exist, as a real attacker would find them.
        let parent = planted.contains("/") ? String(planted.split(separator: "/")[0]) : nil
        if let parent { mkdir(daemon.root + "/" + parent, parent == "state" ? 0o700 : 0o755) }
        let target = planted == "state" || planted == "run" ? victim : precious
        #expect(symlink(target, daemon.root + "/" + planted) == 0)
        try daemon.start(waitForReady: false)
        var exited = false
        for _ in 0..<100 {
            var status: Int32 = 0
            if waitpid(daemon.pid, &status, WNOHANG) == daemon.pid {
                exited = true
                #expect(status != 0, "the daemon exited 0 with \(planted) planted")
                _ = daemon.reapedExternally()
                break
            }
            usleep(50_000)
        }
        if !exited {
            // Still running: it must at least not have used the path (the socket answers or not; the victim decides).
            Issue.record("the daemon started with a symlink planted at \(planted)")
            daemon.crash()
        }
        let contents = try SafeFile.readAll(path: precious, maxBytes: 1_024)
        #expect(contents == Array("keep".utf8), "\(planted): the victim file changed")
        #expect(try SafeFile.fileMode(path: precious) == 0o644, "\(planted): the victim's mode changed")
        #expect(FuzzCorpusFiles.names(in: victim) == ["precious"], "\(planted): files appeared in the victim directory")
        Figures.record("security.symlink.\(planted)", exited ? "refused" : "NOT REFUSED")
    }

    // MARK: T12 — the bind window

    /// uid 65534 connects to the admin socket (mode 0600) in a tight loop while the daemon restarts again and again:
    /// no connect ever succeeds (the socket is created owner-only before it is bound and listening).
    @Test func noOtherUserReachesTheAdminSocketAcrossRestarts() throws {
        let restarts = Reliability.knob("COFFER_BIND_RESTARTS", default: 20)
        let daemon = try Daemon()
        let stop = daemon.root + "/stop-connecting"
        let log = daemon.root + "/connect-loop.json"
        let loop = try Subprocess.start(
            [
                "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "/usr/bin/python3",
                Self.scripts + "/abuse_client.py", "connect-loop", daemon.adminSocketPath, "--stop-file", stop,
            ],
            logPath: log)
        for _ in 0..<restarts {
            #expect(daemon.stop() == 0)
            try daemon.start()
        }
        _ = creat(stop, 0o644)
        var status: Int32 = 0
        waitpid(loop, &status, 0)
        let text = String(decoding: try SafeFile.readAll(path: log, maxBytes: 1 << 20), as: UTF8.self)
        let result = try JSONValue.parse(String(text.split(separator: "\n").last ?? ""))
        #expect(result["connected"]?.int64Value == 0, "uid 65534 connected to the admin socket: \(text)")
        #expect((result["attempts"]?.int64Value ?? 0) > Int64(restarts), "\(text)")
        Figures.record("security.bindWindow.restarts", "\(restarts)")
        Figures.record("security.bindWindow.connectLoop", result.serialized())
    }

    // MARK: T10 — a reused pid

    /// A connection made by one executable, handed to another process, outlives its maker; a process running the
    /// executable a policy allows is then started with the dead maker's pid (`ns_last_pid`). Requests on the
    /// connection are denied: the daemon reads the executable through the maker's pidfd, which no longer names a
    /// live process. Controls: the allowed executable connecting itself is allowed; the other one is denied.
    @Test func aReusedPIDIsNotTakenForTheDeadPeersExecutable() throws {
        let trials = Reliability.knob("COFFER_PID_TRIALS", default: 3)
        let user = try TestUser.named("pid")
        let daemon = try Daemon()
        let python = "/usr/bin/python3.11"
        let other = daemon.root + "/bin/other-python"
        mkdir(daemon.root + "/bin", 0o755)
        #expect(system("cp \(python) '\(other)' && chmod 755 '\(other)'") == 0)
        let client = try daemon.connect()
        _ = try client.call(
            .createSecret, ["Name": "pid/secret", "SecretString": RequestCatalogue.secret("pid value")])
        let policy = """
            {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue",\
            "Resource":"*","Condition":{"StringEquals":{"coffer:ExecutablePath":"\(python)"}}}]}
            """
        _ = try daemon.connectAdmin().call(
            .putUserPolicy, ["UserName": .string(user.name), "PolicyName": "exe", "PolicyDocument": .string(policy)])
        let probe = Self.scripts + "/peer_probe.py"
        let env = ["PYTHONHOME": "/usr"]
        func outcome(_ text: String) -> String? {
            (try? JSONValue.parse(String(text.split(separator: "\n").last ?? "")))?["outcome"]?.stringValue
        }
        let allowed = try Subprocess.run(
            user.setprivPrefix + [python, probe, "direct", daemon.socketPath, "pid/secret"], environment: env)
        #expect(
            outcome(allowed.stdoutText) == "response",
            "control (allowed executable): \(allowed.stdoutText) \(allowed.stderrText)")
        let denied = try Subprocess.run(
            user.setprivPrefix + [other, probe, "direct", daemon.socketPath, "pid/secret"], environment: env)
        #expect(
            outcome(denied.stdoutText) == "AccessDeniedException",
            "control (other executable): \(denied.stdoutText) \(denied.stderrText)")

        var reused = 0
        for trial in 0..<trials {
            let exchange = daemon.root + "/exchange-\(trial)"  // the test user's own directory for the holder's socket
            mkdir(exchange, 0o755)
            #expect(chown(exchange, user.uid, user.gid) == 0)
            let holderSocket = exchange + "/holder.sock"
            let go = daemon.root + "/go-\(trial)"
            let holderLog = daemon.root + "/holder-\(trial).log"
            let holder = try Subprocess.start(
                user.setprivPrefix + [python, probe, "holder", holderSocket, go, "pid/secret"], logPath: holderLog,
                environment: env)
            for _ in 0..<500 where (try? SafeFile.status(path: holderSocket)) == nil { usleep(10_000) }
            let connector = try Subprocess.start(
                user.setprivPrefix + [other, probe, "connector", daemon.socketPath, holderSocket],
                logPath: daemon.root + "/connector.log", environment: env)
            var status: Int32 = 0
            waitpid(connector, &status, 0)  // reaped: its pid is free
            for _ in 0..<500 where !(ProcFS.read(holderLog) ?? "").contains("held") { usleep(10_000) }
            // Start the allowed executable under the dead connector's pid.
            var impostor: pid_t = 0
            for _ in 0..<200 {
                try SafeFile.atomicReplaceProc("/proc/sys/kernel/ns_last_pid", "\(connector - 1)")
                let spawned = try Subprocess.start(
                    user.setprivPrefix + [python, "-c", "import time; time.sleep(30)"], logPath: "/dev/null",
                    environment: env)
                if spawned == connector {
                    impostor = spawned
                    break
                }
                kill(spawned, SIGKILL)
                waitpid(spawned, &status, 0)
            }
            guard impostor != 0 else {
                Issue.record("trial \(trial): could not reuse pid \(connector)")
                kill(holder, SIGKILL)
                waitpid(holder, &status, 0)
                continue
            }
            reused += 1
            usleep(100_000)  // let the impostor exec python
            var link = [CChar](repeating: 0, count: 4_096)
            let n = readlink("/proc/\(impostor)/exe", &link, link.count - 1)
            let exe = n > 0 ? String(decoding: link[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
            #expect(exe == python, "the impostor runs \(exe)")
            _ = creat(go, 0o644)
            waitpid(holder, &status, 0)
            kill(impostor, SIGKILL)
            waitpid(impostor, &status, 0)
            let answer = outcome(ProcFS.read(holderLog) ?? "")
            #expect(
                answer == "AccessDeniedException",
                "trial \(trial): the connection of dead pid \(connector) got \(answer ?? "nothing")")
        }
        #expect(reused == trials)
        Figures.record("security.pidReuse.trials", "\(reused) reused pids, all denied")
    }
}

extension Daemon {
    /// Marks the daemon as reaped by the caller (who waited for it with waitpid).
    func reapedExternally() -> Bool {
        forgetPID()
        return true
    }
}

extension SafeFile {
    /// Writes a /proc/sys value (no temp file and rename there).
    static func atomicReplaceProc(_ path: String, _ value: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open(\(path))", errno: errno) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw SystemError(call: "write(\(path))", errno: errno)
        }
    }
}

/// Names in a directory (not following symlinks), sorted.
enum FuzzCorpusFiles {
    static func names(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count, let first = needle.first else { return false }
    var index = 0
    let last = haystack.count - needle.count
    while index <= last {
        if haystack[index] == first && haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
        index += 1
    }
    return false
}
