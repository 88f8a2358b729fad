import CofferCore
import CofferCrypto
import CofferSystem
import CofferVault
import Glibc

/// Everything `cofferd` needs to know, from its command line and config file.
public struct DaemonOptions: Sendable {
    /// Directory of the database, the key file and the lock (created 0700).
    public var stateDirectory: String
    /// The client socket (mode 0666: every request is authorized by policy).
    public var socketPath: String
    /// The administration socket (mode 0600, root-only by default), or nil to run without one.
    public var adminSocketPath: String?
    /// Mode of the directory the sockets live in, when the daemon creates it.
    public var socketDirectoryMode: UInt32 = 0o755
    public var socketMode: UInt32 = 0o666
    public var keyFile: String?
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

    public init(stateDirectory: String, socketPath: String, adminSocketPath: String?) {
        self.stateDirectory = stateDirectory
        self.socketPath = socketPath
        self.adminSocketPath = adminSocketPath
    }

    public var databasePath: String { stateDirectory + "/vault.db" }
    public var keyFilePath: String { keyFile ?? stateDirectory + "/master.key" }
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
        // Before any thread exists: signals go to the signalfd only, SIGPIPE is ignored, no core dumps.
        let signals = try SignalFD(signals: [SIGTERM, SIGINT, SIGHUP])
        try Hardening.ignoreSIGPIPE()
        try Hardening.disableCoreDumps()
        Daemon.raiseDescriptorLimit()
        try Sodium.initialize()

        _ = try SafeFile.ensurePrivateDirectory(path: options.stateDirectory, mode: 0o700, createParents: true)
        let (key, created) = try KeyFile.loadOrCreate(path: options.keyFilePath)
        if created { logger.notice("created a new master key file at \(options.keyFilePath) (mode 0600)") }

        var vaultOptions = VaultOptions(databasePath: options.databasePath)
        vaultOptions.partition = options.partition
        vaultOptions.region = options.region
        vaultOptions.accountID = options.accountID
        vaultOptions.access = AccessOptions(rootIsAdministrator: options.rootIsAdministrator)
        let vault = try Vault.open(vaultOptions, masterKey: key)
        logger.info("vault \(vault.vaultID) open at \(options.databasePath), account \(vault.identity.accountID)")

        var listeners: [(UnixListener, any RequestService)] = []
        let client = try bindSocket(options.socketPath, mode: options.socketMode)
        listeners.append((client, SecretsManagerService(vault: vault)))
        if let adminPath = options.adminSocketPath {
            var group: UInt32?
            if let name = options.adminSocketGroup {
                guard let gid = try Accounts.gid(named: name) else {
                    throw DaemonConfigFile.Failure(description: "adminSocketGroup: no group named \(name)")
                }
                group = gid
            }
            let admin = try bindSocket(adminPath, mode: options.adminSocketMode, group: group)
            listeners.append((admin, AdminService(vault: vault)))
        }

        var configuration = ServerConfiguration(workers: options.workers)
        configuration.serverName = "cofferd \(CofferVersion.current)"
        configuration.frameDeadlineMilliseconds = options.frameDeadlineMilliseconds
        configuration.idleTimeoutMilliseconds = options.idleTimeoutMilliseconds
        configuration.maxConnections = options.maxConnections
        configuration.maxConnectionsPerUID = options.maxConnectionsPerUID
        let server = try Server(vault: vault, listeners: listeners, configuration: configuration, logger: logger)
        try server.start()
        logger.notice(
            "listening on \(options.socketPath)"
                + (options.adminSocketPath.map { ", admin on \($0)" } ?? "") + " (\(configuration.workers) workers)")
        _ = try? SdNotify.send("READY=1\nSTATUS=serving\nMAINPID=\(getpid())")

        let poll = try Epoll(maxEvents: 4)
        try poll.add(signals.descriptor.rawValue, events: .readable, userData: 1)
        var events: [Epoll.Event] = []
        var lastPurge = Monotonic.milliseconds()
        loop: while true {
            _ = try poll.wait(into: &events, timeoutMilliseconds: 1_000)
            while let delivery = try signals.next() {
                switch delivery.signal {
                case SIGTERM, SIGINT:
                    logger.notice("signal \(delivery.signal) from pid \(delivery.senderPID): shutting down")
                    break loop
                case SIGHUP:
                    logger.notice("SIGHUP: reload (nothing to reload yet)")
                default:
                    continue
                }
            }
            let now = Monotonic.milliseconds()
            if now - lastPurge >= options.purgeIntervalMilliseconds {
                lastPurge = now
                if let removed = try? vault.purgeExpired(), removed > 0 {
                    logger.info("purged \(removed) secrets past their recovery window")
                }
            }
        }
        _ = try? SdNotify.send("STOPPING=1")
        server.stop()
        vault.close()
        for (listener, _) in listeners {
            listener.removeSocketFile()
            listener.descriptor.close()
        }
        logger.notice("stopped")
        return 0
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
