import ArgumentParser
import CofferClient
import CofferCore
import CofferProtocol

/// `--socket` and `--admin-socket`, accepted before the subcommand (`coffer --socket PATH ls`).
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("socket"),
        help: ArgumentHelp(
            "The daemon's client socket (default: $COFFER_SOCKET, else \(CofferSocketPath.systemDefault)).",
            valueName: "path"))
    var socket: String?

    @Option(
        name: .customLong("admin-socket"),
        help: ArgumentHelp(
            "The daemon's admin socket, for IAM and administration operations (default: $COFFER_ADMIN_SOCKET, "
                + "else \(CofferSocketPath.systemAdminDefault)).",
            valueName: "path"))
    var adminSocket: String?
}

/// The sockets and connections of one command.
struct Session {
    let socketPath: String
    let adminSocketPath: String

    init(_ global: GlobalOptions) {
        socketPath = CofferSocketPath.client(explicit: global.socket)
        adminSocketPath = CofferSocketPath.admin(explicit: global.adminSocket)
    }

    func path(for role: SocketRole) -> String { role == .admin ? adminSocketPath : socketPath }

    /// One request on the socket its operation belongs to. A failure is printed (error JSON for the daemon's answer,
    /// a friendly sentence for transport problems) and becomes the exit status.
    func call(
        _ operation: Operation, _ request: Document, connection: CofferConnection? = nil
    ) throws(ExitCode)
        -> Document
    {
        let role = SocketRole(for: operation)
        let connection = connection ?? CofferConnection(socketPath: path(for: role))
        do {
            return try connection.call(operation, request)
        } catch {
            throw report(error, socketPath: connection.socketPath)
        }
    }

    func report(_ error: CofferClientError, socketPath: String) -> ExitCode {
        let role: SocketRole = socketPath == adminSocketPath && socketPath != self.socketPath ? .admin : .client
        let (text, status) = CLIOutput.failure(error, socketPath: socketPath, role: role)
        _ = CLIOutputStream.write(text, to: 2)
        return ExitCode(status)
    }
}

/// Prints `text` on stdout (nothing for an empty string).
func emit(_ text: String) {
    _ = CLIOutputStream.write(text, to: 1)
}

/// A usage problem found after parsing (bad input, conflicting options): printed, exit status 252.
func usageFailure(_ error: UsageError) -> ExitCode {
    _ = CLIOutputStream.write("coffer: \(error.message)\n", to: 2)
    return ExitCode(CLIExit.usage)
}

/// Where `put`/`create` take the value from.
struct ValueSource: ParsableArguments {
    @Option(help: ArgumentHelp("Read the value from this file (a regular file, not a symlink).", valueName: "path"))
    var file: String?

    @Option(
        help: ArgumentHelp(
            "The value itself. It then sits in your shell history and in the process list: prefer stdin or --file.",
            valueName: "value"))
    var value: String?

    @Flag(help: "Store the value as SecretBinary (raw bytes) instead of SecretString (UTF-8 text).")
    var binary = false

    @Flag(help: "Remove one trailing newline (\\n or \\r\\n), as left by echo or by typing the value.")
    var trimNewline = false

    /// The value, or nil when `allowNone` and stdin is a terminal or empty.
    func read(allowNone: Bool) throws(ExitCode) -> (string: SensitiveBytes?, binary: SensitiveBytes?)? {
        do throws(UsageError) {
            if file != nil, value != nil { throw UsageError("Give the value with --file or --value, not both.") }
            var bytes: SensitiveBytes
            if let file {
                bytes = try CLIInput.read(path: file)
            } else if let value {
                bytes = SensitiveBytes(copying: value.utf8)
            } else {
                let terminal = CLIInput.isTerminal(0)
                if terminal, allowNone { return nil }
                if terminal {
                    _ = CLIOutputStream.write(
                        "Type the value, then press Ctrl-D (twice if the line is not empty).\n", to: 2)
                }
                bytes = try CLIInput.read()
                if allowNone, bytes.count == 0 { return nil }
            }
            if trimNewline { bytes = CLIRequests.trimmingNewline(bytes) }
            return try CLIRequests.secretMembers(bytes, binary: binary)
        } catch {
            throw usageFailure(error)
        }
    }
}
