import CofferCore
import CofferProtocol
import CofferVault

/// What the admin socket needs from the daemon besides the vault.
public struct AdminContext: Sendable {
    public var audit: AuditLog?
    public var metrics: ServerMetrics
    /// Re-reads the configuration (SIGHUP does the same); returns a summary of what changed.
    public var reload: @Sendable () throws -> String
    /// Connections open now.
    public var connections: @Sendable () -> Int

    public init(
        audit: AuditLog?, metrics: ServerMetrics, reload: @escaping @Sendable () throws -> String,
        connections: @escaping @Sendable () -> Int
    ) {
        self.audit = audit
        self.metrics = metrics
        self.reload = reload
        self.connections = connections
    }
}

/// The administration socket: IAM (identity policies, roles, the simulator) and vault administration (status,
/// seal/unseal, master-key rotation, backup, import, audit, reload, metrics). Root-only by default (socket mode
/// 0600); every operation is still authorized (`iam:*`, `coffer:*`), so administration can be delegated to a group
/// given access to the socket. No operation takes a path the daemon would open, or code it would load.
public struct AdminService: RequestService {
    public let vault: Vault
    public let context: AdminContext
    public var name: String { "admin" }

    public init(vault: Vault, context: AdminContext) {
        self.vault = vault
        self.context = context
    }

    public func serves(_ operation: Operation) -> Bool { operation.service == .iam || operation.service == .admin }

    public func handle(
        _ operation: Operation, _ request: Document, caller: Caller, context worker: WorkerContext,
        reply: @escaping @Sendable (Result<Document, ServiceError>) -> Void
    ) {
        switch operation {
        case _ where operation.service == .iam:
            vault.handleIAM(operation, request, caller: caller, reply: reply)
        case .seal, .unseal, .rotateMasterKey, .importSecrets:
            vault.handleAdmin(operation, request, caller: caller, reply: reply)
        case .backup, .auditQuery, .auditVerify, .status:
            // Snapshots and log scans can take a while: off the worker thread, so other clients are not held up.
            let vault = self.vault
            let context = self.context
            do {
                _ = try OSThread(name: "coffer-admin") {
                    reply(AdminService.slow(operation, request, caller, vault, context))
                }
            } catch {
                reply(.failure(.internalFailure))
            }
        case .reload, .metrics:
            reply(AdminService.quick(operation, request, caller, vault, context))
        default:
            reply(.failure(ServiceError(.unknownOperation, "\(operation.name) is not served here.")))
        }
    }

    static func quick(
        _ operation: Operation, _ request: Document, _ caller: Caller, _ vault: Vault, _ context: AdminContext
    ) -> Result<Document, ServiceError> {
        Result {
            try request.checkOnly([])
            try vault.authorizeAdministration(caller, operation)
            switch operation {
            case .reload:
                do {
                    return ["Reloaded": true, "Changes": .string(try context.reload())]
                } catch let error as ServiceError {
                    throw error
                } catch {
                    // Configuration errors name keys and files, never secrets: say what is wrong.
                    throw ServiceError(.invalidRequest, "Reload failed, the running configuration is kept: \(error)")
                }
            default:
                return ["Text": .string(context.metrics.prometheusText(extra: vault.metricGauges))]
            }
        }.mapError { Vault.publicError($0) }
    }

    static func slow(
        _ operation: Operation, _ request: Document, _ caller: Caller, _ vault: Vault, _ context: AdminContext
    ) -> Result<Document, ServiceError> {
        if operation == .backup {
            let result = OneShot<Result<Document, ServiceError>>()
            vault.handleAdmin(operation, request, caller: caller) { result.fulfill($0) }
            return result.wait()
        }
        return Result {
            try vault.authorizeAdministration(caller, operation)
            switch operation {
            case .status:
                try request.checkOnly([])
                var doc = try vault.statusDocument()
                doc["Version"] = .string(CofferVersion.current)
                doc["UptimeSeconds"] = .int(vault.uptimeSeconds)
                doc["Connections"] = .int(Int64(context.connections()))
                doc["Requests"] = .int(Int64(context.metrics.requestCount))
                if let audit = context.audit {
                    let head = audit.head
                    doc["AuditRecords"] = .int(Int64(head.seq))
                    doc["AuditHead"] = .string(head.hash)
                    doc["AuditWriteFailures"] = .int(Int64(audit.writeFailures))
                }
                return doc
            case .auditVerify:
                try request.checkOnly([])
                guard let audit = context.audit else { throw ServiceError(.invalidRequest, "No audit log.") }
                audit.sync()
                let result = try AuditLog.verify(path: audit.path)
                var doc: Document = ["Valid": .bool(result.valid), "Records": .int(Int64(result.records))]
                if let line = result.firstBadLine { doc["FirstBadLine"] = .int(Int64(line)) }
                if let seq = result.firstBadSeq { doc["FirstBadSequence"] = .int(Int64(seq)) }
                if let reason = result.reason { doc["Reason"] = .string(reason) }
                doc["Head"] = .string(result.head)
                return doc
            default:  // auditQuery
                try request.checkOnly(["Principal", "Secret", "Decision", "Operation", "Since", "Until", "Limit"])
                guard let audit = context.audit else { throw ServiceError(.invalidRequest, "No audit log.") }
                var query = AuditLog.Query()
                query.principal = try request.string("Principal")
                query.secret = try request.string("Secret")
                query.decision = try request.string("Decision")
                query.operation = try request.string("Operation")
                query.since = try request.timestamp("Since")
                query.until = try request.timestamp("Until")
                query.limit = Int(try request.int("Limit") ?? 100)
                guard (1...10_000).contains(query.limit) else {
                    throw ServiceError.constraint(
                        String(query.limit), at: "limit", "Member must be between 1 and 10000")
                }
                return ["Records": .list(try AuditLog.query(path: audit.path, query).map { .string($0) })]
            }
        }.mapError { Vault.publicError($0) }
    }
}
