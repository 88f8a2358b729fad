import ArgumentParser
import CofferClient
import CofferCore
import CofferProtocol

// MARK: - run

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command with secrets in its environment (and, optionally, in files).",
        discussion: """
            Each secret is fetched with your own identity (AWSCURRENT, or the staging label after @), then \
            the command replaces coffer (execve) with the variables added to the environment coffer was given; \
            its exit status is the command's. Secrets never appear in argv. A variable's name is \
            [A-Za-z_][A-Za-z0-9_]*; a value with a NUL byte cannot be a variable (use --file). The command is \
            looked up in $PATH when it has no /; 127 means not found, 126 not executable.

            --file PATH=SECRET[@STAGE][:MODE[:OWNER[:GROUP]]] writes a value to a new file (mode 0400 by \
            default; PATH must not exist; OWNER and GROUP only for root) before the command starts. coffer then \
            waits for the command instead of replacing itself, passes on the signals sent to it, removes the \
            files when the command ends, and exits as the command did (under systemd: KillMode=mixed). \
            PATH:SECRET[:MODE...] is accepted too when the spec has no = at all. SECRET is a name or an ARN; a \
            name containing @ needs an explicit label (user@example@AWSCURRENT).

            The environment of a process can be read by its own user and by root (/proc/PID/environ): prefer \
            --file, or coffer render, for a service that drops privileges or spawns children it does not trust.

            Examples:
              coffer run --env DB_PASSWORD=app/db -- ./server --port 8080
              coffer run --env OLD=api/token@AWSPREVIOUS -- ./check-rotation
              coffer run --file /run/app/tls.key=app/tls-key -- ./server
            """)

    @ParentCommand var root: Coffer

    @Option(
        name: .customLong("env"),
        help: ArgumentHelp("Set VAR to the secret's value (repeatable).", valueName: InjectionSpecs.environmentSyntax))
    var environment: [String] = []

    @Option(
        name: .customLong("file"),
        help: ArgumentHelp(
            "Write the secret to a new file for the command's lifetime (repeatable).",
            valueName: InjectionSpecs.fileSyntax))
    var files: [String] = []

    @Argument(
        parsing: .postTerminator,
        help: ArgumentHelp("The command and its arguments, after -- (its options are its own).", valueName: "command"))
    var command: [String] = []

    func run() throws {
        let arguments = command
        let session = Session(root.global)
        let parsed: (environment: [EnvironmentInjection], files: [FileInjection])
        let owners: [(uid: UInt32?, gid: UInt32?)]
        do throws(UsageError) {
            guard !arguments.isEmpty else { throw UsageError("Give the command to run after --.") }
            parsed = try InjectionSpecs.parse(environment: environment, files: files)
            try SecretFiles.checkTargets(parsed.files, replace: false)
            owners = try SecretFiles.owners(parsed.files)
        } catch {
            throw usageFailure(error)
        }
        var values = try fetch(
            parsed.environment.map { ($0.variable, $0.secret) } + parsed.files.map { ($0.path, $0.secret) },
            session: session)
        let childEnvironment: ChildEnvironment
        do {
            childEnvironment = try ChildEnvironment(
                injected: zip(parsed.environment, values).map { ($0.variable, $1) })
        } catch {
            throw usageFailure(error)
        }
        var fileValues = Array(values.dropFirst(parsed.environment.count))
        values.removeAll()  // the environment holds its own copies (wiped when released)

        guard !parsed.files.isEmpty else {
            let error = CommandRunner.exec(arguments, environment: childEnvironment)
            throw failure("\(error)", status: error.status)
        }
        var written: [SecretFiles.Written] = []
        for (index, file) in parsed.files.enumerated() {
            do {
                written.append(
                    try SecretFiles.write(
                        fileValues[index], to: file, uid: owners[index].uid, gid: owners[index].gid, replace: false))
            } catch {
                written.forEach(SecretFiles.remove)
                throw failure("cannot write \(file.path): \(error)")
            }
        }
        fileValues.removeAll()  // written: wiped now, not kept while the command runs
        let result = CommandRunner.spawnAndWait(arguments, environment: childEnvironment)
        written.forEach(SecretFiles.remove)
        switch result {
        case .success(let termination): CommandRunner.exit(like: termination)
        case .failure(let error): throw failure("\(error)", status: error.status)
        }
    }
}

// MARK: - render

struct Render: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write secrets to files, atomically, with a given mode and owner.",
        discussion: """
            Each --file PATH=SECRET[@STAGE][:MODE[:OWNER[:GROUP]]] is fetched with your identity (every \
            secret first: nothing is written unless all can be read), then written to a new file next to \
            PATH — created with the final mode (default 0400) and owner from the start, fsynced — and renamed \
            over PATH, so a reader sees the old file or the new one, never a part. A symbolic link at PATH is \
            refused. OWNER and GROUP are names or numbers; setting them needs root. Nothing is printed on \
            success. PATH:SECRET[:MODE...] is accepted too when the spec has no = at all.

            Examples:
              coffer render --file /run/app/db-password=app/db
              coffer render --file /etc/app/tls.key=app/tls-key:0440:root:app
              coffer render --file /run/app/token=app/token:0400:app:app   # as root
            """)

    @ParentCommand var root: Coffer

    @Option(
        name: .customLong("file"),
        help: ArgumentHelp("Write the secret to PATH (repeatable).", valueName: InjectionSpecs.fileSyntax))
    var files: [String] = []

    func run() throws {
        let session = Session(root.global)
        let parsed: [FileInjection]
        let owners: [(uid: UInt32?, gid: UInt32?)]
        do throws(UsageError) {
            guard !files.isEmpty else { throw UsageError("Give at least one --file \(InjectionSpecs.fileSyntax).") }
            parsed = try InjectionSpecs.parse(environment: [], files: files).files
            try SecretFiles.checkTargets(parsed, replace: true)
            owners = try SecretFiles.owners(parsed)
        } catch {
            throw usageFailure(error)
        }
        let values = try fetch(parsed.map { ($0.path, $0.secret) }, session: session)
        for (index, file) in parsed.enumerated() {
            do {
                _ = try SecretFiles.write(
                    values[index], to: file, uid: owners[index].uid, gid: owners[index].gid, replace: true)
            } catch {
                throw failure("cannot write \(file.path): \(error)")
            }
        }
    }
}

// MARK: - fetching

/// Fetches every secret on one connection (pipelined) with the caller's identity. Each failure is printed with
/// what it was for, then the error JSON; the exit status is the first failure's (254 an error reply, 255 no daemon).
func fetch(_ wanted: [(label: String, secret: SecretSelector)], session: Session) throws(ExitCode) -> [SensitiveBytes] {
    guard !wanted.isEmpty else { return [] }
    let connection = CofferConnection(socketPath: session.socketPath)
    let results: [Result<Document, CofferClientError>]
    do {
        results = try connection.callAll(
            wanted.map { _, secret in
                (
                    .getSecretValue,
                    SecretsManagerRequests.getSecretValue(secretId: secret.secretId, versionStage: secret.versionStage)
                )
            })
    } catch {
        throw session.report(error, socketPath: connection.socketPath)
    }
    connection.close()
    var values: [SensitiveBytes] = []
    var status: Int32?
    for ((label, secret), result) in zip(wanted, results) {
        do {
            values.append(try SecretValue(document: try result.get()).value)
        } catch {
            _ = CLIOutputStream.write("coffer: cannot fetch \(secret) for \(label):\n", to: 2)
            let reported = session.report(error, socketPath: connection.socketPath)
            status = status ?? reported.rawValue
        }
    }
    if let status { throw ExitCode(status) }
    return values
}
