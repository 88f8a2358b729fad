import CofferCore
import CofferProtocol
import CofferSystem
import CofferVault
import Glibc
import Synchronization

/// Serves systemd's `LoadCredential=ID:/run/coffer/credentials.sock` (docs/SYSTEMD.md).
///
/// systemd's `(sd-mkdcreds)` helper binds the abstract address `\0<random hex>/unit/<unit>/<id>`, connects, shuts
/// down its write side and reads to EOF. The provider trusts none of that address by itself: the peer must be uid 0
/// (the system manager) and its cgroup — read through its pidfd, so a reused pid cannot be misattributed — must be
/// `<unit>`'s. Then `secretsmanager:GetSecretValue` is authorized for the unit's **role** (no role: denied; root's
/// administrator powers never apply here), the AWSCURRENT value is written and the connection closed.
///
/// A verified systemd request that is denied (or names a missing secret) is answered with more than systemd's
/// 1 MiB credential limit, so that systemd fails the unit with status 243/CREDENTIALS: closing without data would
/// make systemd 252 start the unit with an empty credential file (measured under a real systemd in nspawn). Peers
/// that are not systemd get the connection closed. Every outcome has an audit record and a log line saying why.
final class CredentialProvider: Sendable {
    let listener: UnixListener
    let vault: Vault
    let audit: AuditLog?
    let logger: Logger
    /// unit → credential id → secret name (config `credentialMap`).
    let map: [String: [String: String]]
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)
    /// systemd refuses credentials over 1 MiB (`CREDENTIAL_SIZE_MAX`); Coffer's values are far smaller anyway.
    static let maxCredentialBytes = 1 << 20
    /// How long a peer may take to shut down its side.
    static let readTimeoutMilliseconds = 2_000

    init(listener: UnixListener, vault: Vault, audit: AuditLog?, logger: Logger, map: [String: [String: String]]) {
        self.listener = listener
        self.vault = vault
        self.audit = audit
        self.logger = logger
        self.map = map
    }

    func start() throws {
        let started = try OSThread(name: "coffer-credentials") { [self] in run() }
        thread.withLock { $0 = started }
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        thread.withLock { $0 }?.join()
    }

    private func run() {
        let reader: VaultReader
        do {
            reader = try vault.makeReader()
        } catch {
            logger.error("credentials provider: cannot open a store reader: \(error)")
            return
        }
        var poller = pollfd(fd: listener.descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        while !stopping.load(ordering: .relaxed) {
            guard poll(&poller, 1, 250) > 0 else { continue }
            while let connection = try? listener.accept() {
                serve(connection, reader)
            }
        }
    }

    /// The address systemd binds: `<hex>/unit/<unit>/<id>` after the leading NUL.
    struct Request: Equatable {
        var unit: String
        var credential: String
    }

    static func parse(peerName bytes: [UInt8]) -> Request? {
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[1] == "unit", (1...16).contains(parts[0].count),
            parts[0].allSatisfy(\.isHexDigit), isUnitName(parts[2]), !parts[3].isEmpty, parts[3].utf8.count <= 255,
            parts[3] != ".", parts[3] != ".."
        else { return nil }
        return Request(unit: String(parts[2]), credential: String(parts[3]))
    }

    static func isUnitName(_ name: Substring) -> Bool {
        guard name.utf8.count <= 256, let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        let suffixes: Set<Substring> = ["service", "socket", "mount", "timer", "path", "scope", "target", "slice"]
        guard suffixes.contains(name[name.index(after: dot)...]) else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
                || c == UInt8(ascii: ":") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "@") || c == UInt8(ascii: "-") || c == UInt8(ascii: "\\")
        }
    }

    /// The secret a credential id names: the unit's map entry, else the id itself with each `~` standing for `/`
    /// (credential ids cannot contain `/`, secret names cannot contain `~`).
    func secretName(_ request: Request) -> String {
        if let mapped = map[request.unit]?[request.credential] { return mapped }
        return request.credential.split(separator: "~", omittingEmptySubsequences: false).joined(separator: "/")
    }

    private func serve(_ connection: FileDescriptor, _ reader: VaultReader) {
        defer { connection.close() }
        // Accepted sockets are non-blocking; this exchange is sequential and bounded by SO_RCVTIMEO/SO_SNDTIMEO.
        guard (try? connection.setNonBlocking(false)) != nil else { return }
        let peer: PeerCredentials
        do {
            peer = try PeerCredentials.read(from: connection)
        } catch {
            logger.warning("credentials: no peer credentials: \(error)")
            return
        }
        var caller = Caller(
            uid: peer.uid, gid: peer.gid, pid: peer.pid, process: PeerProcess(pid: peer.pid, pidfd: peer.pidfd))
        let refuse = { (reason: String, request: Request?) in
            self.logger.notice(
                "credentials: refused \(request.map { "\($0.credential) for \($0.unit)" } ?? "request") "
                    + "from pid \(peer.pid) uid \(peer.uid): \(reason)")
            self.record(caller, request: request, error: "AccessDeniedException")
        }
        guard let name = try? PeerCredentials.abstractPeerName(of: connection),
            let request = CredentialProvider.parse(peerName: name)
        else { return refuse("the peer did not bind systemd's unit/credential address", nil) }
        guard peer.uid == 0 else { return refuse("the peer is not the system manager (uid \(peer.uid))", request) }
        guard let facts = caller.process?.facts, facts.isPinned || peer.pidfd == nil, facts.systemdUnit == request.unit
        else { return refuse("the peer's cgroup is not \(request.unit)'s", request) }
        caller.actingForUnit = request.unit
        caller.userName = "root"
        // systemd shuts down its side first; wait (bounded) for EOF so the exchange is the one systemd expects.
        try? connection.setReceiveTimeout(milliseconds: CredentialProvider.readTimeoutMilliseconds)
        var scratch = [UInt8](repeating: 0, count: 256)
        if let extra = try? scratch.withUnsafeMutableBytes({ try connection.readFully(into: $0) }), extra > 0 {
            return refuse("the peer sent data (systemd sends none)", request)
        }
        let trace = AuditTrace()
        caller.trace = trace
        let result = vault.perform(
            .getSecretValue, ["SecretId": .string(secretName(request))], caller: caller, reader: reader)
        switch result {
        case .failure(let error):
            logger.notice(
                "credentials: \(request.credential) for \(request.unit) not served: \(error.code.rawValue); "
                    + "failing the unit's start")
            record(caller, request: request, error: error.code.rawValue, trace: trace)
            failTheUnit(connection)
        case .success(let document):
            guard case .secret(let value, _)? = document["SecretString"] ?? document["SecretBinary"],
                value.count <= CredentialProvider.maxCredentialBytes
            else {
                record(caller, request: request, error: "LimitExceededException", trace: trace)
                failTheUnit(connection)
                return
            }
            // Fail closed: the value leaves only after its audit record is written.
            guard record(caller, request: request, error: nil, trace: trace) else {
                logger.error("credentials: audit write failed; \(request.credential) not served")
                failTheUnit(connection)
                return
            }
            value.withUnsafeBytes { bytes in _ = try? connection.writeFully(bytes) }
            logger.info("credentials: served \(request.credential) to \(request.unit)")
        }
    }

    /// Sends systemd more than it accepts (`CREDENTIAL_SIZE_MAX` is 1 MiB): it reads, gets E2BIG, and fails the unit
    /// with 243/CREDENTIALS instead of starting it with an empty credential. Bounded by a send timeout.
    private func failTheUnit(_ connection: FileDescriptor) {
        try? connection.setSendTimeout(milliseconds: CredentialProvider.readTimeoutMilliseconds)
        let zeros = [UInt8](repeating: 0, count: 64 * 1_024)
        var left = CredentialProvider.maxCredentialBytes + 1
        while left > 0 {
            let n = min(left, zeros.count)
            guard
                (try? zeros.withUnsafeBytes({ try connection.writeFully(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }))
                    != nil
            else { return }
            left -= n
        }
    }

    @discardableResult
    private func record(_ caller: Caller, request: Request?, error: String?, trace: AuditTrace? = nil) -> Bool {
        guard let audit else { return true }
        var fields: [(String, String)] = []
        if let request { fields = [("unit", request.unit), ("credential", request.credential)] }
        return audit.write([
            AuditRecord(
                time: SystemClock().now(), socket: "credentials", connectionID: 0, requestID: 0,
                operation: "GetSecretValue", caller: caller, trace: trace, error: error, fields: fields)
        ])
    }
}
