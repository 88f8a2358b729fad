import ArgumentParser
import CofferCore
import CofferServer
import Glibc

/// `cofferd`: argument parsing and wiring only; the daemon's life is `CofferServer.Daemon`.
@main
struct CofferDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cofferd",
        abstract: "Coffer, a local secrets vault: AWS Secrets Manager's API and IAM policies over a Unix socket.",
        discussion: """
            Runs in the foreground and logs to stderr (journald priority prefixes). Stops cleanly on SIGTERM or
            SIGINT. Under systemd, the state directory defaults to $STATE_DIRECTORY and the sockets to
            $RUNTIME_DIRECTORY.

            Example (what `make run` does):
              cofferd --state-dir .coffer/state --socket .coffer/run/coffer.sock --admin-socket .coffer/run/admin.sock
            """,
        version: CofferVersion.current
    )

    @Option(help: "Directory for the database, the key file and the lock (created 0700).")
    var stateDir: String?

    @Option(help: "Path of the client socket (default /run/coffer/coffer.sock).")
    var socket: String?

    @Option(help: "Path of the administration socket (default /run/coffer/admin.sock).")
    var adminSocket: String?

    @Option(help: "Master key file (default <state-dir>/master.key; created 0600 on first start).")
    var keyFile: String?

    @Option(help: "JSON configuration file (see docs/OPERATIONS.md).")
    var config: String?

    @Option(help: "error, warning, notice, info or debug.")
    var logLevel: String?

    @Option(help: "Worker threads (default: one per CPU).")
    var workers: Int?

    func run() throws {
        let environment = ProcessEnvironment()
        let state =
            stateDir ?? environment["STATE_DIRECTORY"]?.split(separator: ":").first.map(String.init)
            ?? "/var/lib/coffer"
        let runtime = environment["RUNTIME_DIRECTORY"]?.split(separator: ":").first.map(String.init) ?? "/run/coffer"
        var options = DaemonOptions(
            stateDirectory: state, socketPath: socket ?? runtime + "/coffer.sock",
            adminSocketPath: adminSocket ?? runtime + "/admin.sock")
        options.keyFile = keyFile
        options.workers = workers
        if let config { try DaemonConfigFile.apply(path: config, to: &options) }
        if let logLevel {
            guard let level = LogLevel(name: logLevel) else {
                throw ValidationError("unknown log level \(logLevel)")
            }
            options.logLevel = level
        }
        let status = Daemon(options: options).run()
        if status != 0 { throw ExitCode(status) }
    }
}

/// Reads environment variables without Foundation.
struct ProcessEnvironment {
    subscript(name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}
