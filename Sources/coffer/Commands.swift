import ArgumentParser
import CofferClient
import CofferCore
import CofferProtocol

struct Coffer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coffer",
        abstract: "Store and fetch secrets in the local Coffer vault (AWS Secrets Manager's API on one machine).",
        discussion: """
            coffer talks to the cofferd daemon over a Unix socket: --socket, else $COFFER_SOCKET, else \
            \(CofferSocketPath.systemDefault). In a Coffer checkout, `make run` starts a development daemon \
            whose socket is ./.coffer/run/coffer.sock.

            Examples:
              printf %s 'hunter2' | coffer create app/db --tag env=prod
              coffer get app/db                 # the value, raw, no newline added
              DB_PASSWORD="$(coffer get app/db)" ./server
              coffer put app/db --file new.txt  # a new version, now AWSCURRENT
              coffer get app/db --version-stage AWSPREVIOUS
              coffer ls --filter name=app/
              coffer versions app/db
              coffer rm app/db                  # recoverable for 30 days
              coffer call ListSecrets '{"MaxResults": 5}'
              coffer run --env DB_PASSWORD=app/db -- ./server
              coffer render --file /run/app/db-password=app/db:0400
              coffer admin status               # administration: the admin socket (root)

            Exit status: 0 success; 252 usage error; 254 the daemon answered with an error (printed as \
            {"__type": ..., "Message": ...} on stderr, as the AWS CLI does); 255 the daemon could not be reached.

            Shell completion: coffer --generate-completion-script bash > /etc/bash_completion.d/coffer \
            (also zsh, fish).
            """,
        version: "0.1.0",
        subcommands: [
            Get.self, Put.self, Create.self, Describe.self, List.self, Versions.self, Remove.self, Restore.self,
            TagCommand.self, Untag.self, Password.self, Run.self, Render.self, Call.self, Admin.self,
        ]
    )

    @OptionGroup var global: GlobalOptions

    /// ArgumentParser's main with the AWS CLI's exit statuses: usage errors exit 252, not 64.
    static func runMain() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Self.exit()
        } catch {
            if exitCode(for: error) == .validationFailure {
                _ = CLIOutputStream.write(fullMessage(for: error) + "\n", to: 2)
                Self.exit(withError: ExitCode(CLIExit.usage))
            }
            Self.exit(withError: error)
        }
    }
}

// MARK: - get

struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a secret's value.",
        discussion: """
            Prints the value raw on stdout: a SecretString as its UTF-8 text, a SecretBinary as its bytes. No \
            newline is added, so the output is exactly what was stored. Without --version-id or \
            --version-stage, the version labelled AWSCURRENT.

            Examples:
              coffer get app/db-password
              export DB_PASSWORD="$(coffer get app/db-password)"
              coffer get app/tls-key > key.der
              coffer get app/db-password --version-stage AWSPREVIOUS
            """)

    @ParentCommand var root: Coffer

    @Argument(help: "The secret's name or ARN.") var name: String

    @Option(help: ArgumentHelp("A version by its id.", valueName: "id"))
    var versionId: String?

    @Option(help: ArgumentHelp("A version by its staging label (AWSCURRENT, AWSPREVIOUS, ...).", valueName: "label"))
    var versionStage: String?

    func run() throws {
        let status = GetRunner.run(
            FastGet(secretId: name, versionId: versionId, versionStage: versionStage, socket: root.global.socket))
        if status != CLIExit.success { throw ExitCode(status) }
    }
}

// MARK: - put

struct Put: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store a new value for an existing secret (PutSecretValue).",
        discussion: """
            The value comes from stdin (default), --file, or --value; stdin and files are stored byte for byte \
            (add --trim-newline to drop the newline echo adds). The new version gets AWSCURRENT and the \
            previous one AWSPREVIOUS, unless --version-stage says otherwise. Prints the response (ARN, Name, \
            VersionId, VersionStages).

            As with AWS, put fails with ResourceNotFoundException when the secret does not exist: creating \
            one is a separate decision (description, tags). --create creates it instead (CreateSecret with \
            this value).

            Examples:
              printf %s 'n3w-pa55' | coffer put app/db-password
              coffer put app/tls-key --binary --file key.der
              coffer password | coffer put app/api-token --create
            """)

    @ParentCommand var root: Coffer

    @Argument(help: "The secret's name or ARN.") var name: String

    @OptionGroup var source: ValueSource

    @Flag(help: "Create the secret if it does not exist.") var create = false

    @Option(
        name: .customLong("version-stage"),
        help: ArgumentHelp("A staging label for the new version (repeatable).", valueName: "label"))
    var versionStages: [String] = []

    func run() throws {
        let session = Session(root.global)
        guard let value = try source.read(allowNone: false) else { return }
        let connection = CofferConnection(socketPath: session.socketPath)
        let request = SecretsManagerRequests.putSecretValue(
            secretId: name, secretString: value.string, secretBinary: value.binary,
            versionStages: versionStages.isEmpty ? nil : versionStages)
        do {
            emit(CLIOutput.responseJSON(try connection.call(.putSecretValue, request)))
        } catch .service(let errorName, _) where create && errorName == ErrorCode.resourceNotFound.rawValue {
            let creation = SecretsManagerRequests.createSecret(
                name: name, secretString: value.string, secretBinary: value.binary)
            emit(CLIOutput.responseJSON(try session.call(.createSecret, creation, connection: connection)))
        } catch {
            throw session.report(error, socketPath: connection.socketPath)
        }
    }
}

// MARK: - create

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a secret (CreateSecret).",
        discussion: """
            The value comes from --file, --value, or stdin when stdin is not a terminal. With no value (stdin \
            is a terminal or empty, or --no-value), the secret is created without one; give it one later with \
            coffer put. Prints the response (ARN, Name, and VersionId when a value was stored).

            Examples:
              printf %s 'hunter2' | coffer create app/db-password --tag env=prod
              coffer create app/db-password --description "Orders DB"
              coffer create app/tls-key --binary --file key.der
              coffer create app/later --no-value
            """)

    @ParentCommand var root: Coffer

    @Argument(help: "The new secret's name (letters, digits and /_+=.@-).") var name: String

    @Option(help: ArgumentHelp("A description.", valueName: "text")) var description: String?

    @Option(name: .customLong("tag"), help: ArgumentHelp("A tag (repeatable).", valueName: "key=value"))
    var tags: [String] = []

    @OptionGroup var source: ValueSource

    @Flag(help: "Create the secret without a value, without reading stdin.") var noValue = false

    func run() throws {
        let session = Session(root.global)
        let parsedTags: [Tag]
        do {
            parsedTags = try CLIRequests.tags(tags)
        } catch {
            throw usageFailure(error)
        }
        let value = noValue ? nil : try source.read(allowNone: true)
        let request = SecretsManagerRequests.createSecret(
            name: name, secretString: value?.string, secretBinary: value?.binary, description: description,
            tags: parsedTags)
        emit(CLIOutput.responseJSON(try session.call(.createSecret, request)))
    }
}

// MARK: - describe

struct Describe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a secret's metadata as JSON (DescribeSecret); never its value.",
        discussion: """
            Example:
              coffer describe app/db-password
            """)

    @ParentCommand var root: Coffer

    @Argument(help: "The secret's name or ARN.") var name: String

    func run() throws {
        let request = SecretsManagerRequests.describeSecret(secretId: name)
        emit(CLIOutput.responseJSON(try Session(root.global).call(.describeSecret, request)))
    }
}

// MARK: - ls

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List secrets (ListSecrets, every page).",
        discussion: """
            A table of name, last change (UTC) and description, or with --json the ListSecrets response with \
            every page merged. Filters match prefixes (name, tag-key, tag-value: case-sensitive; description \
            and all: words, case-insensitive); the values of one --filter are alternatives, several --filter \
            options must all match; a value starting with ! negates.

            Examples:
              coffer ls
              coffer ls --filter name=app/ --filter tag-key=env
              coffer ls --filter name=app/,db/ --json
              coffer ls --all                      # also secrets scheduled for deletion
            """,
        aliases: ["list"])

    @ParentCommand var root: Coffer

    @Flag(help: "Print the ListSecrets response as JSON.") var json = false

    @Option(name: .customLong("filter"), help: ArgumentHelp("A filter (repeatable).", valueName: "key=value[,value]"))
    var filters: [String] = []

    @Flag(help: "Include secrets scheduled for deletion (IncludePlannedDeletion).") var all = false

    @Option(help: ArgumentHelp("created-date, last-accessed-date, last-changed-date or name.", valueName: "key"))
    var sortBy: String?

    @Option(help: ArgumentHelp("asc or desc.", valueName: "order")) var sortOrder: String?

    func run() throws {
        let session = Session(root.global)
        let parsedFilters: [Filter]
        do {
            parsedFilters = try CLIRequests.filters(filters)
        } catch {
            throw usageFailure(error)
        }
        let connection = CofferConnection(socketPath: session.socketPath)
        var pages: [Document] = []
        var token: String?
        repeat {
            let page = try session.call(
                .listSecrets,
                SecretsManagerRequests.listSecrets(
                    includePlannedDeletion: all ? true : nil, maxResults: Limits.listMaxResults.upperBound,
                    nextToken: token, filters: parsedFilters, sortBy: sortBy, sortOrder: sortOrder),
                connection: connection)
            pages.append(page)
            token = page["NextToken"]?.stringValue
        } while token != nil
        let merged = CLIOutput.mergedList(pages, member: "SecretList")
        if json {
            emit(AWSJSON.json(from: merged).serialized(pretty: true) + "\n")
            return
        }
        do {
            emit(CLIOutput.secretsTable(try SecretListPage(document: merged).secrets, showDeletion: all))
        } catch {
            throw session.report(error, socketPath: session.socketPath)
        }
    }
}

// MARK: - versions

struct Versions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a secret's versions (ListSecretVersionIds, every page).",
        discussion: """
            A table of version id, staging labels, creation time and last access (a day), or with --json the \
            response with every page merged. Deprecated versions (no label left) only with \
            --include-deprecated.

            Examples:
              coffer versions app/db-password
              coffer versions app/db-password --include-deprecated --json
            """)

    @ParentCommand var root: Coffer

    @Argument(help: "The secret's name or ARN.") var name: String

    @Flag(help: "Also list versions without a staging label.") var includeDeprecated = false

    @Flag(help: "Print the ListSecretVersionIds response as JSON.") var json = false

    func run() throws {
        let session = Session(root.global)
        let connection = CofferConnection(socketPath: session.socketPath)
        var pages: [Document] = []
        var token: String?
        repeat {
            let page = try session.call(
                .listSecretVersionIds,
                SecretsManagerRequests.listSecretVersionIds(
                    secretId: name, maxResults: Limits.listMaxResults.upperBound, nextToken: token,
                    includeDeprecated: includeDeprecated ? true : nil),
                connection: connection)
            pages.append(page)
            token = page["NextToken"]?.stringValue
        } while token != nil
        var merged = CLIOutput.mergedList(pages, member: "Versions")
        if let first = pages.first {
            merged = Document(
                [("ARN", first["ARN"]), ("Name", first["Name"])].compactMap { key, value in
                    value.map { (key, $0) }
                } + merged.fields)
        }
        if json {
            emit(AWSJSON.json(from: merged).serialized(pretty: true) + "\n")
            return
        }
        do {
            emit(CLIOutput.versionsTable(try SecretVersionsPage(document: merged).versions))
        } catch {
            throw session.report(error, socketPath: session.socketPath)
        }
    }
}

// MARK: - rm / restore

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete a secret (DeleteSecret), recoverably unless --force.",
        discussion: """
            By default the secret is scheduled for deletion after a 30-day recovery window (7 to 30 with \
            --recovery-window-in-days) and can be brought back with coffer restore until then; its value cannot \
            be read meanwhile. --force deletes it at once, with no recovery. Prints the response (ARN, Name, \
            DeletionDate).

            Examples:
              coffer rm app/old-token
              coffer rm app/old-token --recovery-window-in-days 7
              coffer rm app/leaked-token --force
            """)

    @ParentCommand var root: Coffer

    @Argument(help: "The secret's name or ARN.") var name: String

    @Option(help: ArgumentHelp("Days before the deletion is final (7-30; default 30).", valueName: "days"))
    var recoveryWindowInDays: Int?

    @Flag(help: "Delete at once, without a recovery window.") var force = false

    func run() throws {
        let request: Document
        do {
            request = try CLIRequests.delete(name: name, recoveryWindowInDays: recoveryWindowInDays, force: force)
        } catch {
            throw usageFailure(error)
        }
        emit(CLIOutput.responseJSON(try Session(root.global).call(.deleteSecret, request)))
    }
}

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel a scheduled deletion (RestoreSecret).",
        discussion: """
            Example:
              coffer restore app/old-token
            """)

    @ParentCommand var root: Coffer

    @Argument(help: "The secret's name or ARN.") var name: String

    func run() throws {
        let request = SecretsManagerRequests.restoreSecret(secretId: name)
        emit(CLIOutput.responseJSON(try Session(root.global).call(.restoreSecret, request)))
    }
}

// MARK: - tag / untag

struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag",
        abstract: "Add tags to a secret or change their values (TagResource).",
        discussion: """
            Example:
              coffer tag app/db-password env=prod team=orders
            """)

    @ParentCommand var root: Coffer

    @Argument(help: "The secret's name or ARN.") var name: String

    @Argument(help: ArgumentHelp("Tags to set.", valueName: "key=value")) var tags: [String]

    func validate() throws {
        guard !tags.isEmpty else { throw ValidationError("Give at least one tag as KEY=VALUE.") }
    }

    func run() throws {
        let parsed: [Tag]
        do {
            parsed = try CLIRequests.tags(tags)
        } catch {
            throw usageFailure(error)
        }
        let request = SecretsManagerRequests.tagResource(secretId: name, tags: parsed)
        emit(CLIOutput.responseJSON(try Session(root.global).call(.tagResource, request)))
    }
}

struct Untag: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove tags from a secret by key (UntagResource); missing keys are ignored.",
        discussion: """
            Example:
              coffer untag app/db-password team
            """)

    @ParentCommand var root: Coffer

    @Argument(help: "The secret's name or ARN.") var name: String

    @Argument(help: ArgumentHelp("Tag keys to remove.", valueName: "key")) var keys: [String]

    func validate() throws {
        guard !keys.isEmpty else { throw ValidationError("Give at least one tag key.") }
    }

    func run() throws {
        let request = SecretsManagerRequests.untagResource(secretId: name, tagKeys: keys)
        emit(CLIOutput.responseJSON(try Session(root.global).call(.untagResource, request)))
    }
}

// MARK: - password

struct Password: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a random password (GetRandomPassword).",
        discussion: """
            32 characters by default, from letters, digits and punctuation, with at least one of each included \
            kind. A newline follows only when stdout is a terminal, so that a pipe gets the password alone.

            Examples:
              coffer password --length 24 --exclude-punctuation
              coffer password | coffer put app/api-token --create
            """)

    @ParentCommand var root: Coffer

    @Option(help: ArgumentHelp("Length (1-4096; default 32).", valueName: "n")) var length: Int?
    @Option(help: ArgumentHelp("Characters never to use.", valueName: "chars")) var excludeCharacters: String?
    @Flag(help: "No digits.") var excludeNumbers = false
    @Flag(help: "No punctuation.") var excludePunctuation = false
    @Flag(help: "No upper-case letters.") var excludeUppercase = false
    @Flag(help: "No lower-case letters.") var excludeLowercase = false
    @Flag(help: "Allow the space character.") var includeSpace = false
    @Flag(help: "Do not require at least one character of each included kind.") var noRequireEachIncludedType = false

    func run() throws {
        let request = SecretsManagerRequests.getRandomPassword(
            passwordLength: length, excludeCharacters: excludeCharacters,
            excludeNumbers: excludeNumbers ? true : nil, excludePunctuation: excludePunctuation ? true : nil,
            excludeUppercase: excludeUppercase ? true : nil, excludeLowercase: excludeLowercase ? true : nil,
            includeSpace: includeSpace ? true : nil, requireEachIncludedType: noRequireEachIncludedType ? false : nil)
        let response = try Session(root.global).call(.getRandomPassword, request)
        guard case .secret(let password, _)? = response[SecretMembers.randomPassword] else {
            _ = CLIOutputStream.write("coffer: the response has no RandomPassword.\n", to: 2)
            throw ExitCode(CLIExit.failure)
        }
        _ = password.withUnsafeBytes { CLIOutputStream.write($0, to: 1) }
        if CLIInput.isTerminal(1) { emit("\n") }
    }
}

// MARK: - call

struct Call: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send any operation with an AWS-shaped JSON request; print the AWS-shaped JSON response.",
        discussion: """
            The request uses AWS's member names (SecretId, SecretString, ...; SecretBinary in base64), as for \
            `aws secretsmanager <operation> --cli-input-json`. It comes from the argument, or from stdin when \
            the argument is - or missing (missing with stdin a terminal means {}). Create, Put, Update and \
            Rotate get a fresh ClientRequestToken unless the JSON has one. The response prints as the AWS CLI \
            prints it (4-space indentation, dates like 2026-11-29T14:13:41.123000+00:00; nothing for an empty \
            response). IAM and administration operations go to the admin socket.

            Examples:
              coffer call GetSecretValue '{"SecretId": "app/db-password"}'
              coffer call CreateSecret '{"Name": "app/key", "SecretBinary": "AAECAw=="}'
              coffer call ListSecrets < request.json
              coffer call Hello
            """)

    @ParentCommand var root: Coffer

    @Argument(help: ArgumentHelp("The operation's AWS name (GetSecretValue, ...).", valueName: "operation"))
    var operation: String

    @Argument(help: ArgumentHelp("The request as JSON, or - for stdin.", valueName: "json"))
    var json: String?

    func run() throws {
        let session = Session(root.global)
        let request: (Operation, Document)
        do throws(UsageError) {
            if json == "-" || (json == nil && !CLIInput.isTerminal(0)) {
                let bytes = try CLIInput.read(limit: Limits.maxFrameBytes * 4)
                request = try bytes.withUnsafeBytes { raw in
                    Result { () throws(UsageError) in try CLIRequests.call(operation: operation, jsonBytes: raw) }
                }.get()
            } else {
                request = try CLIRequests.call(operation: operation, json: json)
            }
        } catch {
            throw usageFailure(error)
        }
        emit(CLIOutput.responseJSON(try session.call(request.0, request.1)))
    }
}
