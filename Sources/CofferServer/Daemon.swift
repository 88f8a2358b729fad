import CofferCore
import CofferCrypto
import CofferSystem
import CofferVault
import Glibc
import Synchronization

/// Where the daemon gets its master key (docs/OPERATIONS.md).
public enum DaemonKeySource: Sendable, Equatable {
    /// `<state>/master.key` or `keyFile`: created 0600 on first start.
    case file
    /// `$CREDENTIALS_DIRECTORY/<name>` (systemd `LoadCredentialEncrypted=`).
    case systemdCredential(name: String)
    /// Argon2id-wrapped in the vault; the daemon starts sealed.
    case passphrase
}

/// Everything `cofferd` needs to know, from its command line and config file.
public struct DaemonOptions: Sendable {
    /// Directory of the database, the key file, the audit log and the lock (created 0700).
    public var stateDirectory: String
    /// The client socket (mode 0666: every request is authorized by policy).
    public var socketPath: String
    /// The administration socket (mode 0600, root-only by default), or nil to run without one.
    public var adminSocketPath: String?
    /// Mode of the directory the sockets live in, when the daemon creates it.
    public var socketDirectoryMode: UInt32 = 0o755
    public var socketMode: UInt32 = 0o666
    public var keyFile: String?
    public var keySource: DaemonKeySource = .file
    /// Argon2id strength for a vault initialized under a passphrase: `moderate` (default) or `interactive`.
    public var passphraseStrength = "moderate"
    /// uid 0 outside a role may do everything (docs/POLICY.md); false puts root under policies too.
    public var rootIsAdministrator = true
    /// Mode of the admin socket (root-only by default) and an optional group that may connect to it.
    public var adminSocketMode: UInt32 = 0o600
    public var adminSocketGroup: String?
    public var logLevel: LogLevel = .info
    public var workers: Int?
    /// ARN partition/region/account used when the vault is created (ignored afterwards).
    public var partition = VaultIdentity.defaultPartition
    public var region = VaultIdentity.defaultRegion
    public var accountID: String?
    /// Connection limits (defaults from `Limits`; configurable for tests and unusual hosts).
    public var frameDeadlineMilliseconds = Limits.frameDeadlineMilliseconds
    public var idleTimeoutMilliseconds = Limits.idleTimeoutMilliseconds
    public var maxConnections = Limits.maxConnections
    public var maxConnectionsPerUID = Limits.maxConnectionsPerUID
    /// How often secrets past their recovery window are purged.
    public var purgeIntervalMilliseconds: Int64 = 3_600_000
    /// The configuration file, re-read on SIGHUP and `Reload`.
    public var configPath: String?
    /// The audit log (default `<state>/audit.log`): may live on its own file system.
    public var auditPath: String?
    /// The LoadCredential= provider's socket (nil: none, unless systemd passes one named `credentials`).
    public var credentialsSocketPath: String?
    /// Mode of the provider's socket when the daemon binds it (systemd runs as root: 0600 is enough).
    public var credentialsSocketMode: UInt32 = 0o600
    /// unit → credential id → secret name, for ids that are not the secret's name.
    public var credentialMap: [String: [String: String]] = [:]

    public init(stateDirectory: String, socketPath: String, adminSocketPath: String?) {
        self.stateDirectory = stateDirectory
        self.socketPath = socketPath
        self.adminSocketPath = adminSocketPath
    }

    public var databasePath: String { stateDirectory + "/vault.db" }
    public var keyFilePath: String { keyFile ?? stateDirectory + "/master.key" }

    /// The vault's key source for these options.
    func vaultKeySource(environment: (String) -> String?) throws -> KeySource {
        switch keySource {
        case .file: return .file(path: keyFilePath)
        case .passphrase: return .passphrase
        case .systemdCredential(let name):
            guard let directory = environment("CREDENTIALS_DIRECTORY") else {
                throw DaemonConfigFile.Failure(
                    description: "masterKey.source is systemd-credential but $CREDENTIALS_DIRECTORY is not set "
                        + "(add LoadCredentialEncrypted=\(name) to the unit)")
            }
            return .systemdCredential(path: directory + "/" + name)
        }
    }
}

/// The daemon's life: harden the process, open the vault, bind, serve, and stop cleanly on SIGTERM/SIGINT.
public final class Daemon {
    let options: DaemonOptions
    let logger: Logger

    public init(options: DaemonOptions) {
        self.options = options
        logger = Logger.standardError(label: "cofferd", minimum: options.logLevel)
    }

    /// Runs until SIGTERM or SIGINT. Returns the process exit status.
    public func run() -> Int32 {
        do {
            return try runThrowing()
        } catch {
            logger.error("fatal: \(error)")
            return 1
        }
    }

    func runThrowing() throws -> Int32 {
        // Before any thread exists: signals go to the signalfd only, SIGPIPE is ignored, no core dumps, and the
        // socket-activation variables are read and removed (unsetenv is not thread-safe).
        let signals = try SignalFD(signals: [SIGTERM, SIGINT, SIGHUP])
        let activated = try SocketActivation.listenFDs()
        try Hardening.ignoreSIGPIPE()
        try Hardening.disableCoreDumps()
        Daemon.raiseDescriptorLimit()
        try Sodium.initialize()

        _ = try SafeFile.ensurePrivateDirectory(path: options.stateDirectory, mode: 0o700, createParents: true)
        let keySource = try options.vaultKeySource { name in getenv(name).map { String(cString: $0) } }
        if case .file(let path) = keySource, try SafeFile.status(path: path) == nil {
            logger.notice("creating a new master key file at \(path) (mode 0600)")
        }
        var vaultOptions = VaultOptions(databasePath: options.databasePath)
        vaultOptions.partition = options.partition
        vaultOptions.region = options.region
        vaultOptions.accountID = options.accountID
        vaultOptions.access = AccessOptions(rootIsAdministrator: options.rootIsAdministrator)
        vaultOptions.keySource = keySource
        vaultOptions.passphraseParameters = options.passphraseStrength == "interactive" ? .interactive() : .moderate()
        let vault = try Vault.open(vaultOptions)
        logger.info(
            "vault \(vault.vaultID) open at \(options.databasePath), account \(vault.identity.accountID), "
                + "key source \(keySource.name)")
        if vault.isSealed {
            logger.notice("the vault is sealed: unseal it with `coffer admin unseal` on the admin socket")
        } else {
            try vault.resumeRotationIfNeeded()
        }

        let audit = try AuditLog(
            path: options.auditPath ?? options.stateDirectory + "/audit.log",
            keyPath: options.stateDirectory + "/audit.key")
        if audit.truncatedAtOpen > 0 {
            logger.warning(
                "audit log \(audit.path): removed an incomplete last record (\(audit.truncatedAtOpen) bytes) left by "
                    + "a write cut short; its request was never answered")
        }
        let metrics = ServerMetrics()
        let limiterProbe = Mutex<(@Sendable () -> Int)?>(nil)
        let configPath = options.configPath
        let baseOptions = options
        let logger = self.logger
        let reload: @Sendable () throws -> String = {
            try Daemon.reload(configPath: configPath, base: baseOptions, vault: vault, logger: logger)
        }

        // systemd's sockets by FileDescriptorName= (api, admin, credentials); otherwise bind our own.
        func activatedListener(_ names: [String]) throws -> UnixListener? {
            guard let entry = activated.first(where: { names.contains($0.name) }) else { return nil }
            logger.info("using the \(entry.name) socket passed by systemd (fd \(entry.fd))")
            return try UnixListener.adopt(fd: entry.fd)
        }
        for entry in activated
        where ![
            "api", "coffer.socket", "admin", "coffer-admin.socket", "credentials",
            "coffer-credentials.socket",
        ].contains(entry.name) {
            logger.warning("ignoring a socket passed by systemd with an unknown name: \(entry.name)")
        }
        var listeners: [(UnixListener, any RequestService)] = []
        let client =
            try activatedListener(["api", "coffer.socket"]) ?? bindSocket(options.socketPath, mode: options.socketMode)
        listeners.append((client, SecretsManagerService(vault: vault)))
        var adminListener = try activatedListener(["admin", "coffer-admin.socket"])
        if adminListener == nil, let adminPath = options.adminSocketPath {
            var group: UInt32?
            if let name = options.adminSocketGroup {
                guard let gid = try Accounts.gid(named: name) else {
                    throw DaemonConfigFile.Failure(description: "adminSocketGroup: no group named \(name)")
                }
                group = gid
            }
            adminListener = try bindSocket(adminPath, mode: options.adminSocketMode, group: group)
        }
        if let admin = adminListener {
            let context = AdminContext(
                audit: audit, metrics: metrics, reload: reload,
                connections: { limiterProbe.withLock { $0 }?() ?? 0 })
            listeners.append((admin, AdminService(vault: vault, context: context)))
        }

        var credentials: CredentialProvider?
        var credentialListener = try activatedListener(["credentials", "coffer-credentials.socket"])
        if credentialListener == nil, let path = options.credentialsSocketPath {
            credentialListener = try bindSocket(path, mode: options.credentialsSocketMode)
        }
        if let listener = credentialListener {
            credentials = CredentialProvider(
                listener: listener, vault: vault, audit: audit, logger: logger, map: options.credentialMap)
        }

        var configuration = ServerConfiguration(workers: options.workers)
        configuration.serverName = "cofferd \(CofferVersion.current)"
        configuration.frameDeadlineMilliseconds = options.frameDeadlineMilliseconds
        configuration.idleTimeoutMilliseconds = options.idleTimeoutMilliseconds
        configuration.maxConnections = options.maxConnections
        configuration.maxConnectionsPerUID = options.maxConnectionsPerUID
        let server = try Server(
            vault: vault, listeners: listeners, configuration: configuration, metrics: metrics, logger: logger,
            audit: audit)
        limiterProbe.withLock { $0 = { server.openConnections } }
        try server.start()
        try credentials?.start()
        logger.notice(
            "listening on \(options.socketPath)"
                + (options.adminSocketPath.map { ", admin on \($0)" } ?? "") + " (\(configuration.workers) workers)")
        _ = try? SdNotify.send("READY=1\nSTATUS=\(vault.isSealed ? "sealed" : "serving")\nMAINPID=\(getpid())")

        let poll = try Epoll(maxEvents: 4)
        try poll.add(signals.descriptor.rawValue, events: .readable, userData: 1)
        var events: [Epoll.Event] = []
        var lastPurge = Monotonic.milliseconds()
        var wasSealed = vault.isSealed
        loop: while true {
            _ = try poll.wait(into: &events, timeoutMilliseconds: 1_000)
            while let delivery = try signals.next() {
                switch delivery.signal {
                case SIGTERM, SIGINT:
                    logger.notice("signal \(delivery.signal) from pid \(delivery.senderPID): shutting down")
                    break loop
                case SIGHUP:
                    _ = try? SdNotify.send("RELOADING=1")
                    do {
                        let summary = try reload()
                        logger.notice("SIGHUP: reloaded (\(summary))")
                    } catch {
                        logger.error("SIGHUP: reload failed, keeping the running configuration: \(error)")
                    }
                    _ = try? SdNotify.send("READY=1")
                default:
                    continue
                }
            }
            audit.sync()
            if vault.isSealed != wasSealed {
                wasSealed = vault.isSealed
                _ = try? SdNotify.send("STATUS=\(wasSealed ? "sealed" : "serving")")
                logger.notice(wasSealed ? "vault sealed" : "vault unsealed")
            }
            let now = Monotonic.milliseconds()
            if now - lastPurge >= options.purgeIntervalMilliseconds && !vault.isSealed {
                lastPurge = now
                if let removed = try? vault.purgeExpired(), removed > 0 {
                    logger.info("purged \(removed) secrets past their recovery window")
                }
            }
        }
        _ = try? SdNotify.send("STOPPING=1")
        credentials?.stop()
        server.stop()
        audit.sync()
        vault.close()
        for listener in listeners.map(\.0) + (credentialListener.map { [$0] } ?? []) {
            listener.removeSocketFile()
            listener.descriptor.close()
        }
        logger.notice("stopped")
        return 0
    }

    /// Re-reads the configuration file and applies what can change while running: the log level and
    /// `rootIsAdministrator`; IAM state is re-read from the store as well. Socket paths, key source and limits need a
    /// restart.
    static func reload(configPath: String?, base: DaemonOptions, vault: Vault, logger: Logger) throws -> String {
        var options = base
        if let configPath { try DaemonConfigFile.apply(path: configPath, to: &options) }
        var changes: [String] = []
        if logger.minimum != options.logLevel {
            logger.minimum = options.logLevel
            changes.append("logLevel=\(options.logLevel)")
        }
        if let access = vault.accessController {
            if access.options.rootIsAdministrator != options.rootIsAdministrator {
                access.options = AccessOptions(rootIsAdministrator: options.rootIsAdministrator)
                changes.append("rootIsAdministrator=\(options.rootIsAdministrator)")
            }
            access.update(try vault.store.writer.perform { try $0.iamState() })
        }
        return changes.isEmpty ? "no changes" : changes.joined(separator: ", ")
    }

    /// Creates the socket's directory if needed (never through a symlink) and binds with the exact mode.
    func bindSocket(_ path: String, mode: UInt32, group: UInt32? = nil) throws -> UnixListener {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) }.flatMap { $0.isEmpty ? "/" : $0 } ?? "."
        if try SafeFile.status(path: directory) == nil {
            _ = try SafeFile.ensurePrivateDirectory(
                path: directory, mode: options.socketDirectoryMode, createParents: true)
        }
        return try UnixListener.bind(path: path, mode: mode, group: group)
    }

    /// Each connection holds a socket and a pidfd: raise the soft descriptor limit to the hard one.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
