import ArgumentParser
import CofferClient
import CofferCore
import CofferProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// `coffer admin …`: the daemon's administration operations, on its admin socket.
struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Administer the daemon: status, seal/unseal, key rotation, backup, audit log, import.",
        discussion: """
            These commands use the daemon's admin socket: --admin-socket, else $COFFER_ADMIN_SOCKET, else \
            \(CofferSocketPath.systemAdminDefault). It is root's by default (mode 0600); the configuration's \
            adminSocketGroup opens it to a group, and every operation is still authorized (coffer:<Operation>). \
            docs/OPERATIONS.md describes each task.

            Examples:
              coffer admin status
              coffer admin unseal          # asks for the passphrase
              coffer admin rotate-master-key --wait
              coffer admin backup /backups/coffer-$(date +%F).db
              coffer admin audit tail -n 50
              coffer admin import secrets.jsonl

            Exit status: 0 success; 1 audit verify found the log altered; 252 usage error; 254 the daemon \
            answered with an error (or import lines failed); 255 the daemon could not be reached, or another \
            failure.
            """,
        subcommands: [
            AdminStatus.self, AdminSeal.self, AdminUnseal.self, AdminRotateMasterKey.self, AdminBackup.self,
            AdminAudit.self, AdminReload.self, AdminMetrics.self, AdminImport.self, AdminKey.self,
        ])

    @ParentCommand var root: Coffer

    var session: Session { Session(root.global) }
}

/// Prints `coffer: <message>` on stderr and returns the exit status to throw.
func failure(_ message: String, status: Int32 = CLIExit.failure) -> ExitCode {
    _ = CLIOutputStream.write("coffer: \(message)\n", to: 2)
    return ExitCode(status)
}

/// Sleeps `milliseconds`.
func pause(milliseconds: Int) {
    var delay = timespec(tv_sec: milliseconds / 1_000, tv_nsec: (milliseconds % 1_000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&delay, &remaining) != 0 && errno == EINTR { delay = remaining }
}

// MARK: - status / seal / unseal

struct AdminStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the daemon's state: sealed, key, rotation, counts, audit head.",
        discussion: """
            Aligned text by default (sizes and uptime for humans); --json prints the Status response as \
            AWS-shaped JSON, with every member (for scripts: jq .Sealed).
            """)

    @ParentCommand var admin: Admin

    @Flag(help: "Print the Status response as JSON.") var json = false

    func run() throws {
        let status = try admin.session.call(.status, [:])
        emit(json ? CLIOutput.responseJSON(status) : AdminOutput.statusText(status))
    }
}

struct AdminSeal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal",
        abstract: "Drop every key from the daemon's memory; requests fail until the vault is unsealed.",
        discussion: """
            With the file or systemd-credential key source, restarting the daemon unseals it again; with the \
            passphrase source, `coffer admin unseal` does.
            """)

    @ParentCommand var admin: Admin

    func run() throws {
        _ = try admin.session.call(.seal, [:])
        emit("Sealed: the daemon holds no key; requests fail with VaultSealedException until it is unsealed.\n")
    }
}

struct AdminUnseal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unseal",
        abstract: "Unseal a vault whose master key is under a passphrase.",
        discussion: """
            When stdin is a terminal, the passphrase is read from it without echo (twice with --initialize). \
            Otherwise — or with --passphrase-stdin — it is read from stdin to its end, trailing newlines \
            removed (as `cofferd restore --passphrase-stdin` reads it). The passphrase is never an argument, \
            and travels to the daemon as a secret member of the request. A wrong passphrase exits 254 \
            (AccessDeniedException) and the vault stays sealed.

            Examples:
              coffer admin unseal --initialize     # once, on a new vault: creates the master key
              coffer admin unseal
              coffer admin unseal --passphrase-stdin < /run/credentials/unseal.service/passphrase
            """)

    @ParentCommand var admin: Admin

    @Flag(help: "Create the vault's master key under this passphrase (once, on a new vault).")
    var initialize = false

    @Flag(help: "Read the passphrase from standard input even when it is a terminal (echo stays on).")
    var passphraseStdin = false

    func run() throws {
        let session = admin.session
        let connection = CofferConnection(socketPath: session.adminSocketPath)
        // Ask the daemon first: an unreachable daemon or an unsealed vault is reported before anything is typed. (A
        // delegate allowed coffer:Unseal but not coffer:Status is asked for the passphrase anyway.)
        do {
            let status = try connection.call(.status, [:])
            if status["Sealed"]?.boolValue == false {
                let key = status["KeyId"]?.intValue.map { " (master key id \($0))" } ?? ""
                emit("The vault is not sealed\(key); nothing to do.\n")
                return
            }
        } catch {
            if !error.isServiceError { throw session.report(error, socketPath: connection.socketPath) }
        }
        let passphrase = try readPassphrase()
        var request: Document = [SecretMembers.passphrase: .secret(passphrase, isString: true)]
        if initialize { request["Initialize"] = true }
        let response: Document
        do {
            response = try connection.call(.unseal, request)
        } catch {
            let status = session.report(error, socketPath: connection.socketPath)
            if case .service(_, let message) = error, !initialize, message.contains("Initialize") {
                _ = CLIOutputStream.write(
                    "coffer: this vault has no master key yet: create it with coffer admin unseal --initialize\n", to: 2
                )
            }
            throw status
        }
        let key = response["KeyId"]?.intValue.map { " with master key id \($0)" } ?? ""
        emit(initialize ? "Initialized and unsealed\(key).\n" : "Unsealed\(key).\n")
    }

    func readPassphrase() throws(ExitCode) -> SensitiveBytes {
        do throws(PassphraseInput.Failure) {
            guard !passphraseStdin, CLIInput.isTerminal(0) else { return try PassphraseInput.readFromStream() }
            let passphrase = try PassphraseInput.readFromTerminal(
                prompt: initialize ? "New passphrase for the Coffer vault: " : "Passphrase for the Coffer vault: ")
            if initialize {
                let again = try PassphraseInput.readFromTerminal(prompt: "The same passphrase again: ")
                guard passphrase.constantTimeEquals(again) else {
                    throw PassphraseInput.Failure.invalid(UsageError("The two passphrases differ; nothing was done."))
                }
            }
            return passphrase
        } catch {
            switch error {
            case .cancelled: throw failure("cancelled; the vault stays sealed.", status: 130)
            case .empty: throw usageFailure(UsageError("The passphrase is empty."))
            case .invalid(let error): throw usageFailure(error)
            }
        }
    }
}

// MARK: - rotate-master-key

struct AdminRotateMasterKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-master-key",
        abstract: "Create a new master key and rewrap every data key under it, online.",
        discussion: """
            The new key is current at once; the data keys are rewrapped in the background while reads and \
            writes go on, and the old key is retired when the last one is done. Without --wait the command \
            returns at once (coffer admin status shows the progress); with --wait it shows the progress and \
            returns when the rotation is finished (exit 254 if it failed). Interrupting --wait does not stop \
            the rotation.
            """)

    @ParentCommand var admin: Admin

    @Flag(help: "Wait until every data key is rewrapped, showing the progress.") var wait = false

    func run() throws {
        let session = admin.session
        let connection = CofferConnection(socketPath: session.adminSocketPath)
        let response = try session.call(.rotateMasterKey, [:], connection: connection)
        let keyID = response["KeyId"]?.intValue ?? 0
        guard wait else {
            emit(
                "Rotating to master key id \(keyID): data keys are being rewrapped in the background "
                    + "(coffer admin status shows the progress).\n")
            return
        }
        let terminal = CLIInput.isTerminal(2)
        var lastReport = Monotonic.milliseconds()
        var shown = false
        while true {
            let status = try session.call(.status, [:], connection: connection)
            if let error = status["RotationError"]?.stringValue {
                if shown, terminal { _ = CLIOutputStream.write("\n", to: 2) }
                throw failure("the rotation to master key id \(keyID) failed: \(error)", status: CLIExit.serviceError)
            }
            guard let rotation = status["Rotation"]?.mapValue else { break }
            let progress = AdminOutput.rotationProgress(
                rewrapped: rotation["Rewrapped"]?.intValue ?? 0, versions: status["Versions"]?.intValue)
            let now = Monotonic.milliseconds()
            if terminal {
                _ = CLIOutputStream.write("\r\u{1B}[KRotating to master key id \(keyID): \(progress)", to: 2)
                shown = true
            } else if now - lastReport >= 10_000 {
                _ = CLIOutputStream.write("Rotating to master key id \(keyID): \(progress)\n", to: 2)
                lastReport = now
            }
            pause(milliseconds: 200)
        }
        if shown { _ = CLIOutputStream.write("\r\u{1B}[K", to: 2) }
        emit("Rotated: master key id \(keyID) is current, every data key is under it and the old key is retired.\n")
    }
}

// MARK: - backup

struct AdminBackup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent, still-encrypted snapshot of the vault to a file.",
        discussion: """
            The daemon takes the snapshot and streams it; this command writes the file — created 0600 next \
            to FILE, fsynced, then renamed to FILE — and checks its SHA-256 against the daemon's. An existing \
            FILE is kept unless --force; a symbolic link at FILE is refused. The backup holds no key: restore \
            it with `cofferd restore --from FILE` and the master key (or passphrase) kept elsewhere.

            Example:
              coffer admin backup /backups/coffer-$(date +%F).db
            """)

    @ParentCommand var admin: Admin

    @Argument(help: ArgumentHelp("Where to write the backup.", valueName: "file")) var file: String

    @Flag(help: "Replace FILE if it exists.") var force = false

    func run() throws {
        let session = admin.session
        let output: AtomicOutputFile
        do {
            output = try AtomicOutputFile(path: file, mode: 0o600, replace: force)
        } catch {
            throw failure("cannot write the backup: \(error)")
        }
        // SIGINT/SIGTERM/SIGHUP wait while a chunk is in flight, so that the temporary file is removed first.
        let signals = SignalDeferral([SIGINT, SIGTERM, SIGHUP])
        // The first call waits for the snapshot (VACUUM INTO the whole database): allow as long as the daemon keeps an
        // unfinished backup.
        let connection = CofferConnection(
            socketPath: session.adminSocketPath, options: ConnectionOptions(timeoutMilliseconds: 600_000))
        var hasher = SoftwareSHA256()
        var received: Int64 = 0
        var backupID: String?
        var expected: (size: Int64, sha256: String)?
        while true {
            var request: Document = [:]
            if let backupID {
                request["BackupId"] = .string(backupID)
                request["Offset"] = .int(received)
            }
            let reply: Document
            do {
                reply = try connection.call(.backup, request)
            } catch {
                output.abandon()
                throw session.report(error, socketPath: connection.socketPath)
            }
            guard let id = reply["BackupId"]?.stringValue, backupID == nil || backupID == id,
                let size = reply["Size"]?.intValue, let sha = reply["Sha256"]?.stringValue,
                reply["Offset"]?.intValue == received, case .bytes(let chunk)? = reply["Chunk"],
                received + Int64(chunk.count) <= size
            else {
                output.abandon()
                throw failure("the daemon's Backup reply does not continue the backup; nothing was written.")
            }
            backupID = id
            expected = (size, sha)
            hasher.update(chunk)
            do {
                try chunk.withUnsafeBytes { raw in Result { () throws(OutputFileError) in try output.write(raw) } }
                    .get()
            } catch {
                output.abandon()
                throw failure("cannot write the backup: \(error)")
            }
            received += Int64(chunk.count)
            if signals.pending {
                output.abandon()
                signals.release()
                throw failure("interrupted; no backup was written.", status: 130)
            }
            if reply["Done"]?.boolValue == true { break }
            guard !chunk.isEmpty else {
                output.abandon()
                throw failure("the daemon sent an empty chunk before the end; nothing was written.")
            }
        }
        let digest = Hex.encode(hasher.finalize())
        guard let expected, received == expected.size, digest == expected.sha256.lowercased() else {
            output.abandon()
            throw failure(
                "the backup's SHA-256 (\(digest), \(received) bytes) differs from the daemon's "
                    + "(\(expected?.sha256 ?? "-"), \(expected?.size ?? 0) bytes); nothing was written.")
        }
        do {
            try output.commit()
        } catch {
            throw failure("cannot write the backup: \(error)")
        }
        signals.release()
        emit("Backed up \(AdminOutput.bytes(received)) to \(file)\nSHA-256: \(digest)\n")
    }
}

/// Holds some signals back (blocked) during a critical section; ``pending`` says whether one arrived, and
/// ``release()`` (or the end of the process) lets it through.
final class SignalDeferral {
    private var previous = sigset_t()
    private var set = sigset_t()
    private var active = true

    init(_ signals: [Int32]) {
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, &previous)
    }

    deinit { release() }

    var pending: Bool {
        var waiting = sigset_t()
        sigpending(&waiting)
        var signal: Int32 = 1
        while signal < 32 {
            if sigismember(&set, signal) == 1, sigismember(&waiting, signal) == 1 { return true }
            signal += 1
        }
        return false
    }

    func release() {
        guard active else { return }
        active = false
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
}

// MARK: - audit

struct AdminAudit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify and read the audit log.",
        discussion: """
            Examples:
              coffer admin audit verify
              coffer admin audit tail -n 50
              coffer admin audit query --principal alice --since 2026-11-01
            """,
        subcommands: [AdminAuditVerify.self, AdminAuditTail.self, AdminAuditQuery.self])

    @ParentCommand var admin: Admin
}

struct AdminAuditVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the audit log's hash chain from its first record to its last.",
        discussion: """
            Exit status 0 when every record is intact and in order; 1 when one was altered, removed, inserted \
            or reordered (the first bad line and the reason are printed).
            """)

    @ParentCommand var audit: AdminAudit

    @Flag(help: "Print the AuditVerify response as JSON.") var json = false

    func run() throws {
        let result = try audit.admin.session.call(.auditVerify, [:])
        emit(json ? CLIOutput.responseJSON(result) : AdminOutput.verifyText(result))
        if result["Valid"]?.boolValue != true { throw ExitCode(1) }
    }
}

struct AdminAuditTail: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Show the newest audit records, oldest first.",
        discussion: """
            A table of time (UTC), principal, operation, resource (a secret's name with its ARN suffix), \
            decision and error; --json prints the records as the log holds them, one JSON object per line.
            """)

    @ParentCommand var audit: AdminAudit

    @Option(name: .short, help: ArgumentHelp("How many records (1-10000; default 20).", valueName: "n"))
    var n: Int = 20

    @Flag(help: "Print the records as JSON lines.") var json = false

    func run() throws {
        let request: Document
        do {
            request = try AdminOutput.auditQuery(limit: n)
        } catch {
            throw usageFailure(error)
        }
        try printRecords(request, limit: n, session: audit.admin.session, json: json)
    }
}

struct AdminAuditQuery: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Search the audit log; the newest matches, oldest first.",
        discussion: """
            Every filter given must match. --principal matches a user name, a uid, a principal ARN or a \
            systemd unit; --secret any part of the secret's ARN; --decision is allowed, explicitDeny, \
            implicitDeny, notEvaluated or rejected; times are UTC dates or date-times (2026-11-29, \
            2026-11-29T14:00:00Z) or epoch seconds.

            Examples:
              coffer admin audit query --principal alice --decision implicitDeny
              coffer admin audit query --secret prod/db --since 2026-11-01
              coffer admin audit query --operation Unseal --json
            """)

    @ParentCommand var audit: AdminAudit

    @Option(help: ArgumentHelp("A user name, uid, principal ARN or unit.", valueName: "who")) var principal: String?
    @Option(help: ArgumentHelp("Part of the secret's name or ARN.", valueName: "name")) var secret: String?
    @Option(help: ArgumentHelp("allowed, explicitDeny, implicitDeny, notEvaluated or rejected.", valueName: "decision"))
    var decision: String?
    @Option(help: ArgumentHelp("An operation's AWS name (GetSecretValue, Unseal...).", valueName: "name"))
    var operation: String?
    @Option(help: ArgumentHelp("Records at or after this time.", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Records at or before this time.", valueName: "time")) var until: String?
    @Option(help: ArgumentHelp("The most records to show (1-10000; default 100).", valueName: "n")) var limit: Int?

    @Flag(help: "Print the records as JSON lines.") var json = false

    func run() throws {
        let request: Document
        do {
            request = try AdminOutput.auditQuery(
                principal: principal, secret: secret, decision: decision, operation: operation, since: since,
                until: until, limit: limit)
        } catch {
            throw usageFailure(error)
        }
        try printRecords(request, limit: limit ?? 100, session: audit.admin.session, json: json)
    }
}

/// The newest `limit` records matching `query` (fetched in pages: a reply holds a few hundred), as a table or as the
/// JSON lines themselves, oldest first.
func printRecords(_ query: Document, limit: Int, session: Session, json: Bool) throws(ExitCode) {
    let connection = CofferConnection(socketPath: session.adminSocketPath)
    let outcome: AuditPaging.Outcome
    do {
        outcome = try AuditPaging.newest(limit, matching: query) { (request) throws(CofferClientError) in
            (try connection.call(.auditQuery, request)["Records"]?.listValue ?? []).compactMap(\.stringValue)
        }
    } catch {
        throw session.report(error, socketPath: connection.socketPath)
    }
    let records = outcome.records
    if !outcome.complete {
        _ = CLIOutputStream.write(
            "coffer: \(records.count) records shown; older ones could not be reached (more records share one moment "
                + "than a reply holds).\n", to: 2)
    }
    if json {
        emit(records.map { $0 + "\n" }.joined())
    } else if records.isEmpty {
        _ = CLIOutputStream.write("No matching audit records.\n", to: 2)
    } else {
        emit(AdminOutput.auditTable(records))
    }
}

// MARK: - reload / metrics

struct AdminReload: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Re-read the configuration file (as SIGHUP does) and say what changed.",
        discussion: """
            The log level, rootIsAdministrator and IAM state take effect at once; socket paths, the key \
            source and limits need a restart. An invalid file is refused (exit 254) and the running \
            configuration kept.
            """)

    @ParentCommand var admin: Admin

    func run() throws {
        let response = try admin.session.call(.reload, [:])
        emit("Reloaded: \(response["Changes"]?.stringValue ?? "done").\n")
    }
}

struct AdminMetrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print the daemon's metrics in Prometheus' text format.",
        discussion: """
            Example (a node-exporter textfile, from root's cron):
              cd /var/lib/node-exporter
              coffer admin metrics > coffer.prom.tmp && mv coffer.prom.tmp coffer.prom
            """)

    @ParentCommand var admin: Admin

    func run() throws {
        let text = try admin.session.call(.metrics, [:])["Text"]?.stringValue ?? ""
        emit(text.isEmpty || text.hasSuffix("\n") ? text : text + "\n")
    }
}

// MARK: - import

struct AdminImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Create many secrets from a file of AWS CreateSecret requests, one JSON object per line.",
        discussion: """
            Each line is what `aws secretsmanager create-secret --cli-input-json` takes: Name, SecretString \
            or SecretBinary (base64), Description, Tags, KmsKeyId. Blank lines are skipped. Lines go to the \
            daemon in batches of \(SecretImport.batchEntries); each value is sealed under its own data key as \
            CreateSecret does. Lines that fail (bad JSON, an existing name, an invalid member) are reported \
            with their line number and AWS error name; the others are imported. Exit status 254 when any \
            line failed; a sealed vault or a denied import stops at once.

            Examples:
              coffer admin import secrets.jsonl
              jq -c '.[]' export.json | coffer admin import -
            """)

    @ParentCommand var admin: Admin

    @Argument(help: ArgumentHelp("The file, or - for standard input.", valueName: "file.jsonl")) var file: String

    func run() throws {
        let session = admin.session
        let fd: Int32
        do {
            fd = file == "-" ? 0 : try CLIInput.open(path: file)
        } catch {
            throw usageFailure(error)
        }
        defer { if fd != 0 { close(fd) } }
        let reader = LineReader(fd: fd, limit: SecretImport.maxLineBytes)
        let connection = CofferConnection(socketPath: session.adminSocketPath)
        var imported = 0
        var failures: [SecretImport.Failure] = []
        var batch: [SecretImport.Entry] = []
        var batchBytes = 0

        func send() throws(ExitCode) {
            defer {
                batch.removeAll()
                batchBytes = 0
            }
            do {
                let outcome = try SecretImport.importBatch(batch) { (entries) throws(CofferClientError) in
                    try connection.call(.importSecrets, SecretImport.request(entries))
                }
                imported += outcome.imported
                failures += outcome.failures
            } catch {
                report(imported: imported, failures: failures)
                throw session.report(error, socketPath: connection.socketPath)
            }
        }

        do {
            while let parsed = try reader.next({ line -> Result<SecretImport.Entry, SecretImport.Failure>? in
                switch line {
                case .text(let text): return SecretImport.entry(line: reader.lineNumber, text: text)
                case .tooLong:
                    return .failure(
                        SecretImport.Failure(
                            line: reader.lineNumber, name: nil, errorCode: ErrorCode.limitExceeded.rawValue,
                            message: "The line is longer than \(SecretImport.maxLineBytes) bytes."))
                }
            }) {
                switch parsed {
                case nil: continue
                case .failure(let failure)?: failures.append(failure)
                case .success(let entry)?:
                    if batch.count == SecretImport.batchEntries || batchBytes + entry.size > SecretImport.batchBytes {
                        try send()
                    }
                    batch.append(entry)
                    batchBytes += entry.size
                }
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            report(imported: imported, failures: failures)
            throw usageFailure(UsageError("\(error)"))
        }
        try send()
        report(imported: imported, failures: failures)
        if !failures.isEmpty { throw ExitCode(CLIExit.serviceError) }
    }

    func report(imported: Int, failures: [SecretImport.Failure]) {
        emit("Imported \(imported) secret\(imported == 1 ? "" : "s").\n")
        guard !failures.isEmpty else { return }
        let lines = failures.sorted { $0.line < $1.line }.map { "  \($0)\n" }.joined()
        _ = CLIOutputStream.write(
            "\(failures.count) line\(failures.count == 1 ? "" : "s") not imported:\n" + lines, to: 2)
    }
}

// MARK: - key

struct AdminKey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Help with the master key's storage.",
        subcommands: [AdminKeySystemdCreds.self])
}

struct AdminKeySystemdCreds: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "systemd-creds-command",
        abstract: "Print the systemd-creds command that turns the key file into an encrypted credential.",
        discussion: """
            Prints the `systemd-creds encrypt` line for the key file and the steps that follow (the drop-in \
            with LoadCredentialEncrypted=, the configuration, the check, removing the plain key). It runs \
            nothing and does not contact the daemon. docs/OPERATIONS.md, "A systemd credential for the key".
            """)

    @Option(help: ArgumentHelp("The credential's name (default coffer.master-key).", valueName: "name"))
    var credential = "coffer.master-key"

    @Option(help: ArgumentHelp("The key file (default /var/lib/coffer/master.key).", valueName: "path"))
    var keyFile = "/var/lib/coffer/master.key"

    func run() throws {
        do {
            emit(try AdminOutput.systemdCredsCommand(credential: credential, keyFile: keyFile))
        } catch {
            throw usageFailure(error)
        }
    }
}
