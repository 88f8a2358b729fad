import ArgumentParser
import CofferCore
import CofferCrypto
import CofferServer
import CofferSystem
import CofferVault
import Glibc

/// `cofferd`: argument parsing and wiring only; the daemon's life is `CofferServer.Daemon`.
@main
struct CofferDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cofferd",
        abstract: "Coffer, a local secrets vault: AWS Secrets Manager's API and IAM policies over a Unix socket.",
        version: CofferVersion.current,
        subcommands: [Serve.self, Restore.self],
        defaultSubcommand: Serve.self
    )
}

/// Reads environment variables without Foundation.
func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon in the foreground (the default).",
        discussion: """
            Logs to stderr with journald priority prefixes. Stops cleanly on SIGTERM or SIGINT; SIGHUP re-reads the
            configuration. Under systemd, the state directory defaults to $STATE_DIRECTORY and the sockets to
            $RUNTIME_DIRECTORY.

            Example (what `make run` does):
              cofferd --state-dir .coffer/state --socket .coffer/run/coffer.sock --admin-socket .coffer/run/admin.sock
            """
    )

    @Option(help: "Directory for the database, the key file, the audit log and the lock (created 0700).")
    var stateDir: String?

    @Option(help: "Path of the client socket (default /run/coffer/coffer.sock).")
    var socket: String?

    @Option(help: "Path of the administration socket (default /run/coffer/admin.sock).")
    var adminSocket: String?

    @Option(help: "Path of the LoadCredential= provider socket (default: none unless systemd passes one).")
    var credentialsSocket: String?

    @Option(help: "Master key file (default <state-dir>/master.key; created 0600 on first start).")
    var keyFile: String?

    @Option(help: "Master key source: file (default), passphrase (start sealed), or systemd-credential.")
    var keySource: String?

    @Option(help: "JSON configuration file (see docs/OPERATIONS.md); re-read on SIGHUP.")
    var config: String?

    @Option(help: "error, warning, notice, info or debug.")
    var logLevel: String?

    @Option(help: "Worker threads (default: one per CPU).")
    var workers: Int?

    func run() throws {
        if let failure = Hardening.disableCrashBacktracer() {
            Logger.standardError(label: "cofferd").warning("Swift's crash backtracer is still on (\(failure))")
        }
        let state =
            stateDir ?? environment("STATE_DIRECTORY")?.split(separator: ":").first.map(String.init)
            ?? "/var/lib/coffer"
        let runtime = environment("RUNTIME_DIRECTORY")?.split(separator: ":").first.map(String.init) ?? "/run/coffer"
        var options = DaemonOptions(
            stateDirectory: state, socketPath: socket ?? runtime + "/coffer.sock",
            adminSocketPath: adminSocket ?? runtime + "/admin.sock")
        options.keyFile = keyFile
        options.workers = workers
        options.credentialsSocketPath = credentialsSocket
        options.configPath = config
        if let config { try DaemonConfigFile.apply(path: config, to: &options) }
        if let keySource {
            switch keySource {
            case "file": options.keySource = .file
            case "passphrase": options.keySource = .passphrase
            case "systemd-credential": options.keySource = .systemdCredential(name: "coffer.master-key")
            default: throw ValidationError("--key-source is file, passphrase or systemd-credential")
            }
        }
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

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a backup into an empty state directory, offline, and verify it.",
        discussion: """
            The backup is the file `coffer admin backup FILE` wrote (an encrypted SQLite snapshot). Restore checks
            SQLite's integrity, checks the master key against the backup, and decrypts every stored value once. Then
            start cofferd on the new state directory. Keep the master key (or the passphrase) separately from backups:
            a backup is useless without it.

            Examples:
              cofferd restore --state-dir /var/lib/coffer-new --from coffer.backup --key-file /safe/master.key
              cofferd restore --state-dir /var/lib/coffer-new --from coffer.backup --passphrase-stdin < pass.txt
            """
    )

    @Option(help: "The new state directory (created 0700; must not hold a vault).")
    var stateDir: String

    @Option(help: "The backup file.")
    var from: String

    @Option(help: "The master key file for the backup; copied into the state directory as master.key.")
    var keyFile: String?

    @Flag(help: "Read the unseal passphrase from standard input (passphrase key source).")
    var passphraseStdin = false

    func run() throws {
        if let failure = Hardening.disableCrashBacktracer() {
            Logger.standardError(label: "cofferd").warning("Swift's crash backtracer is still on (\(failure))")
        }
        guard (keyFile == nil) != !passphraseStdin else {
            throw ValidationError("give exactly one of --key-file and --passphrase-stdin")
        }
        _ = try SafeFile.ensurePrivateDirectory(path: stateDir, mode: 0o700, createParents: true)
        var keys: [MasterKey]?
        var passphrase: SensitiveBytes?
        if let keyFile {
            let loaded = try KeyFile.load(path: keyFile)
            keys = loaded
            try KeyFile.write(loaded, to: stateDir + "/master.key", replace: false)
        } else {
            var input: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4_096)
            while true {
                let n = read(0, &buffer, buffer.count)
                if n <= 0 { break }
                input += buffer[0..<n]
            }
            while let last = input.last, last == 10 || last == 13 { input.removeLast() }
            passphrase = SensitiveBytes(copying: input)
            wipe(&input)
            wipe(&buffer)
        }
        let report = try Vault.restore(
            backup: from, into: stateDir + "/vault.db", keys: keys, passphrase: passphrase)
        print(
            "restored \(report.secrets) secrets and \(report.versions) versions into \(stateDir); "
                + "\(report.verifiedValues) values decrypted and verified")
    }
}
